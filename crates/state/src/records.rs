//! Records, consent and audited access.
//!
//! Rules:
//! - **Writing.** A record is created for a registered patient by its organisation (a
//!   practitioner writes under their organisation), or by the patient. Who may write to a
//!   patient's records: the patient; the organisation the patient is registered with and its
//!   practitioners, with the provider role; anyone else only under an in-force grant from the
//!   patient that allows writing and covers the record. A new version names the next version
//!   number (so two concurrent writers cannot both succeed) and keeps the record's type and
//!   category. Every custodian named must be an organisation with the custodian role. Writing is
//!   gated by the credential policy as `write_record`.
//! - **Consent.** Only the patient grants and revokes. A grant names a grantee (a party, or an
//!   organisation whose practitioners then act under it), a scope, read and/or write, one
//!   purpose of use, a validity window and optionally a credential the reader must hold when
//!   reading. Revocation takes effect from its block on.
//! - **Reading.** A read is a transaction signed by the reader, naming the record (version 0
//!   for the latest), the basis (patient, author, a grant or a break-glass declaration), the
//!   purpose and the custodian asked to serve it. It is granted only if the basis holds at this
//!   block's time, for the version read: authorship opens only the versions the reader wrote
//!   (version 0, the latest, only if they wrote it), never earlier versions by others; a grant
//!   and a break-glass declaration cover every version of the records in their scope. Granted
//!   or denied, it enters the patient's access log (a provable list) with
//!   an event. A denied read is committed as a denied transaction. A custodian serves
//!   ciphertext only for a committed, granted read naming it.
//! - **Break-glass.** A practitioner holding what governance requires for `break_glass` (which
//!   must be configured) declares an emergency for a patient with a justification, for at most
//!   24 hours; reads under it need the emergency-treatment purpose and the credential still
//!   valid at read time. Declarations are listed for the patient, who marks them reviewed.
//! - **Erasure.** The patient erases a record: it is marked erased (final), custodians delete
//!   its ciphertext and wrapped keys, and every later read is denied. Anchors and proofs stay.
//!   A custodian organisation of the latest version may erase it too, once governance has set
//!   a retention period (`set_erasure_retention`) and the version is that old. A regulator's
//!   legal hold blocks erasure, by anyone, until lifted.
//!
//! Keys: `r/<record>` the record (latest version), `rv/<record>/<version>` each version,
//! `ra/<record>/<party>` that a party authored some version (an index; the read rule looks at
//! the version's own author), `gr/<grant>` grants, `bg/<id>` break-glass
//! declarations, and the lists `records`, `grants`, `granted`, `access` and `break-glass` (see
//! [`crate::lists`]).

use crate::{
    credentials,
    error::{AccessDenial, StateError, TxError},
    executor::{TxContext, truncate},
    identity::require_role,
    lists::{self, names},
    view::StateRead,
};
use commonware_codec::Encode;
use medchain_types::{
    Event, Party, PartyId, PartyKind, Role, TxHash,
    records::{
        ACCESS_REASON_BYTES_MAX, AccessBasis, AccessEntry, AccessOutcome, BreakGlass, BreakGlassId,
        Erasure, Grant, GrantId, Purpose, Record, RecordId, RecordOp, RecordVersion,
    },
};

/// The gated action of writing a record version.
pub const WRITE_RECORD: &str = "write_record";
/// The gated action of declaring (and reading under) a break-glass emergency.
pub const BREAK_GLASS: &str = "break_glass";

/// `r/<record>`.
pub fn record_key(id: &RecordId) -> Vec<u8> {
    [b"r/".as_slice(), &id.0].concat()
}

/// `rv/<record>/<version>`.
pub fn version_key(id: &RecordId, version: u32) -> Vec<u8> {
    [b"rv/".as_slice(), &id.0, b"/", &version.to_be_bytes()].concat()
}

/// `ra/<record>/<party>`.
pub fn author_key(id: &RecordId, party: &PartyId) -> Vec<u8> {
    [b"ra/".as_slice(), &id.0, b"/", &party.0].concat()
}

/// `gr/<grant>`.
pub fn grant_key(id: &GrantId) -> Vec<u8> {
    [b"gr/".as_slice(), &id.0].concat()
}

/// `bg/<id>`.
pub fn break_glass_key(id: &BreakGlassId) -> Vec<u8> {
    [b"bg/".as_slice(), &id.0].concat()
}

fn refused(code: &'static str, reason: impl Into<String>) -> TxError {
    TxError::Refused {
        code,
        reason: reason.into(),
    }
}

pub(crate) async fn apply<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    op: &RecordOp,
    tx: TxHash,
) -> Result<(), TxError> {
    match op {
        RecordOp::Put { .. } => put(ctx, signer, op).await,
        RecordOp::Grant { .. } => grant(ctx, signer, op).await,
        RecordOp::Revoke { grant } => revoke(ctx, signer, grant).await,
        RecordOp::Access {
            record,
            version,
            basis,
            purpose,
            custodian,
        } => {
            access(
                ctx,
                signer,
                Read {
                    record: *record,
                    version: *version,
                    basis: *basis,
                    purpose: *purpose,
                    custodian: *custodian,
                },
                tx,
            )
            .await
        }
        RecordOp::BreakGlass {
            salt,
            patient,
            justification,
            duration_ms,
        } => break_glass(ctx, signer, salt, *patient, justification, *duration_ms).await,
        RecordOp::ReviewBreakGlass { id } => review(ctx, signer, id).await,
        RecordOp::Erase { record, reason } => erase(ctx, signer, record, reason).await,
        RecordOp::LegalHold {
            record,
            hold,
            reason,
        } => legal_hold(ctx, signer, record, *hold, reason).await,
    }
}

async fn patient<R: StateRead>(ctx: &TxContext<'_, '_, R>, id: &PartyId) -> Result<Party, TxError> {
    let party = ctx.party(id).await?;
    if party.kind != PartyKind::Patient {
        return Err(TxError::WrongKind {
            party: *id,
            expected: PartyKind::Patient,
            found: party.kind,
            action: "have records",
        });
    }
    Ok(party)
}

/// The organisation a party acts for: itself if it is one, else the one it was registered by.
fn organisation_of(party: &Party) -> Option<PartyId> {
    if party.kind == PartyKind::Organisation {
        Some(party.id)
    } else {
        party.organisation
    }
}

/// Whether `grant` names `party` (directly, or through the organisation a practitioner works
/// for).
fn grantee_matches(grant: &Grant, party: &Party) -> bool {
    grant.grantee == party.id
        || (party.kind == PartyKind::Practitioner && party.organisation == Some(grant.grantee))
}

async fn put<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    op: &RecordOp,
) -> Result<(), TxError> {
    let RecordOp::Put {
        record: id,
        salt,
        patient: patient_id,
        resource_type,
        category,
        version,
        media_type,
        ciphertext_hash,
        ciphertext_bytes,
        content_commitment,
        custodians,
        grant,
    } = op
    else {
        unreachable!("put is called for puts");
    };
    let author = ctx.party(&signer).await?;
    let patient = patient(ctx, patient_id).await?;
    let now = ctx.env().time_ms;
    let existing = ctx.get_decoded::<Record>(&record_key(id)).await?;
    let organisation = match (&existing, salt) {
        (None, Some(salt)) => {
            let organisation = if author.id == patient.id {
                patient.organisation.unwrap_or(patient.id)
            } else {
                organisation_of(&author).ok_or_else(|| {
                    refused(
                        "no_organisation",
                        format!("{signer} writes records only under an organisation"),
                    )
                })?
            };
            if RecordId::derive(&organisation, &patient.id, salt) != *id {
                return Err(TxError::Invalid {
                    field: "record",
                    reason: format!(
                        "a new record's id is derived from its organisation {organisation}, patient and salt"
                    ),
                });
            }
            organisation
        }
        (None, None) => {
            return Err(refused(
                "unknown_record",
                format!("record {id} does not exist; create it as version 1 with a salt"),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(refused(
                "record_exists",
                format!("record {id} already exists"),
            ));
        }
        (Some(record), None) => {
            if record.erased.is_some() {
                return Err(refused("record_erased", format!("record {id} was erased")));
            }
            if record.patient != patient.id
                || record.resource_type != *resource_type
                || record.category != *category
            {
                return Err(TxError::Invalid {
                    field: "record",
                    reason: "a new version keeps the record's patient, resource type and category"
                        .into(),
                });
            }
            if *version != record.latest.version + 1 {
                return Err(refused(
                    "wrong_version",
                    format!(
                        "record {id} is at version {}; the next is {}, found {version}",
                        record.latest.version,
                        record.latest.version + 1
                    ),
                ));
            }
            record.organisation
        }
    };
    if existing.is_none() && *version != 1 {
        return Err(refused("wrong_version", "a new record starts at version 1"));
    }

    // Who may write.
    let own_provider = author.roles.contains(Role::Provider)
        && patient.organisation.is_some()
        && organisation_of(&author) == patient.organisation;
    if author.id != patient.id && !own_provider {
        let Some(grant_id) = grant else {
            return Err(refused(
                "no_write_consent",
                format!(
                    "{signer} is neither the patient nor a provider of the patient's organisation, and names no grant"
                ),
            ));
        };
        let grant = ctx
            .get_decoded::<Grant>(&grant_key(grant_id))
            .await?
            .ok_or_else(|| refused("unknown_grant", format!("unknown grant {grant_id}")))?;
        let problem = if grant.patient != patient.id {
            Some("the grant is another patient's")
        } else if !grantee_matches(&grant, &author) {
            Some("the grant is not to the writer or the writer's organisation")
        } else if !grant.write {
            Some("the grant does not allow writing")
        } else if !grant.scope.covers(id, resource_type, category.as_ref()) {
            Some("the record is outside the grant's scope")
        } else {
            grant.in_force(now).err()
        };
        if let Some(problem) = problem {
            return Err(refused(
                "no_write_consent",
                format!("grant {grant_id}: {problem}"),
            ));
        }
        if let Some(condition) = &grant.condition {
            credentials::satisfies(ctx, WRITE_RECORD, &author.id, condition).await?;
        }
    }
    if author.kind == PartyKind::Practitioner {
        credentials::require(ctx, WRITE_RECORD, &author.id).await?;
    }
    for custodian in custodians {
        let party = ctx.party(custodian).await?;
        if party.kind != PartyKind::Organisation || !party.roles.contains(Role::Custodian) {
            return Err(refused(
                "not_a_custodian",
                format!("{custodian} is not an organisation with the custodian role"),
            ));
        }
    }

    let anchored = RecordVersion {
        version: *version,
        author: signer,
        media_type: media_type.clone(),
        ciphertext_hash: *ciphertext_hash,
        ciphertext_bytes: *ciphertext_bytes,
        content_commitment: *content_commitment,
        custodians: custodians.clone(),
        written_ms: now,
        height: ctx.env().height,
    };
    let record = match existing {
        Some(mut record) => {
            record.latest = anchored.clone();
            record
        }
        None => {
            lists::push(ctx, names::RECORDS, &patient.id.0, id.0.to_vec()).await?;
            Record {
                id: *id,
                patient: patient.id,
                organisation,
                resource_type: resource_type.clone(),
                category: category.clone(),
                latest: anchored.clone(),
                erased: None,
                legal_hold: false,
            }
        }
    };
    ctx.put_encoded(version_key(id, *version), &anchored);
    ctx.put_encoded(record_key(id), &record);
    ctx.put(author_key(id, &signer), Vec::new());
    ctx.emit(Event::RecordWritten {
        record: *id,
        version: *version,
        patient: patient.id,
        author: signer,
    });
    Ok(())
}

async fn grant<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    op: &RecordOp,
) -> Result<(), TxError> {
    let RecordOp::Grant {
        salt,
        grantee,
        scope,
        read,
        write,
        purpose,
        valid_from_ms,
        valid_until_ms,
        condition,
    } = op
    else {
        unreachable!("grant is called for grants");
    };
    patient(ctx, &signer).await?;
    ctx.party(grantee).await?;
    if *grantee == signer {
        return Err(TxError::Invalid {
            field: "grantee",
            reason: "a patient needs no grant to their own records".into(),
        });
    }
    let now = ctx.env().time_ms;
    if *valid_until_ms <= now {
        return Err(TxError::Invalid {
            field: "valid_until_ms",
            reason: format!("the grant would already be over (block time {now})"),
        });
    }
    let id = GrantId::derive(&signer, salt);
    if ctx.get(&grant_key(&id)).await?.is_some() {
        return Err(refused(
            "grant_exists",
            format!("grant {id} already exists"),
        ));
    }
    let grant = Grant {
        id,
        patient: signer,
        grantee: *grantee,
        scope: scope.clone(),
        read: *read,
        write: *write,
        purpose: *purpose,
        valid_from_ms: *valid_from_ms,
        valid_until_ms: *valid_until_ms,
        condition: condition.clone(),
        granted_ms: now,
        revoked_ms: None,
    };
    ctx.put_encoded(grant_key(&id), &grant);
    lists::push(ctx, names::GRANTS, &signer.0, id.0.to_vec()).await?;
    lists::push(ctx, names::GRANTED, &grantee.0, id.0.to_vec()).await?;
    ctx.emit(Event::AccessGranted {
        grant: id,
        patient: signer,
        grantee: *grantee,
    });
    Ok(())
}

async fn revoke<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    id: &GrantId,
) -> Result<(), TxError> {
    let mut grant = ctx
        .get_decoded::<Grant>(&grant_key(id))
        .await?
        .ok_or_else(|| refused("unknown_grant", format!("unknown grant {id}")))?;
    if grant.patient != signer {
        return Err(refused(
            "not_patient",
            format!("only the patient who made grant {id} revokes it"),
        ));
    }
    if grant.revoked_ms.is_some() {
        return Err(refused(
            "grant_revoked",
            format!("grant {id} is already revoked"),
        ));
    }
    grant.revoked_ms = Some(ctx.env().time_ms);
    ctx.put_encoded(grant_key(id), &grant);
    ctx.emit(Event::GrantRevoked {
        grant: *id,
        patient: signer,
    });
    Ok(())
}

/// What a reader asks for.
#[derive(Clone, Copy)]
struct Read {
    record: RecordId,
    version: u32,
    basis: AccessBasis,
    purpose: Purpose,
    custodian: PartyId,
}

async fn access<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    read: Read,
    tx: TxHash,
) -> Result<(), TxError> {
    let record = ctx
        .get_decoded::<Record>(&record_key(&read.record))
        .await?
        .ok_or_else(|| refused("unknown_record", format!("unknown record {}", read.record)))?;
    let reader = ctx.party(&signer).await?;
    let version = match authorize(ctx, &reader, &record, &read).await? {
        Ok(version) => version,
        Err((code, reason)) => {
            return Err(TxError::AccessDenied(Box::new(AccessDenial {
                record: read.record,
                patient: record.patient,
                version: read.version,
                basis: read.basis,
                purpose: read.purpose,
                custodian: read.custodian,
                code,
                reason,
            })));
        }
    };
    let now = ctx.env().time_ms;
    let entry = AccessEntry {
        seq: lists::len(ctx, names::ACCESS, &record.patient.0).await?,
        record: read.record,
        version,
        reader: signer,
        basis: read.basis,
        purpose: read.purpose,
        custodian: read.custodian,
        time_ms: now,
        height: ctx.env().height,
        tx,
        outcome: AccessOutcome::Granted,
    };
    let seq = lists::push(
        ctx,
        names::ACCESS,
        &record.patient.0,
        entry.encode().to_vec(),
    )
    .await?;
    ctx.emit(Event::RecordAccessed {
        record: read.record,
        version,
        patient: record.patient,
        reader: signer,
        purpose: read.purpose,
        seq,
    });
    Ok(())
}

/// A refused read: a stable code and the reason.
type Denial = (&'static str, String);

/// Turns a credential refusal into a denial; a store failure stays a failure.
fn credential_denial(err: TxError) -> Result<Denial, TxError> {
    match err {
        TxError::CredentialRequired { .. } | TxError::Refused { .. } => {
            Ok(("credential_required", err.to_string()))
        }
        other => Err(other),
    }
}

/// Decides a read: the version to serve, or a denial. Store failures are errors, not denials.
async fn authorize<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    reader: &Party,
    record: &Record,
    read: &Read,
) -> Result<Result<u32, Denial>, TxError> {
    macro_rules! deny {
        ($code:expr, $reason:expr) => {
            return Ok(Err(($code, $reason.into())))
        };
    }
    let now = ctx.env().time_ms;
    if let Some(erasure) = &record.erased {
        deny!(
            "record_erased",
            format!("the record was erased at {} ms", erasure.at_ms)
        );
    }
    let version = if read.version == 0 {
        record.latest.version
    } else if read.version <= record.latest.version {
        read.version
    } else {
        deny!(
            "unknown_version",
            format!(
                "the record has {} versions, not {}",
                record.latest.version, read.version
            )
        );
    };
    let anchored = if version == record.latest.version {
        record.latest.clone()
    } else {
        match ctx
            .get_decoded::<RecordVersion>(&version_key(&record.id, version))
            .await?
        {
            Some(anchored) => anchored,
            None => deny!("unknown_version", format!("version {version} is missing")),
        }
    };
    if !anchored.custodians.contains(&read.custodian) {
        deny!(
            "not_custodian",
            format!("{} does not hold version {version}", read.custodian)
        );
    }
    match read.basis {
        AccessBasis::Patient => {
            if reader.id != record.patient {
                deny!("not_patient", "only the patient reads as the patient");
            }
        }
        AccessBasis::Sharing(id) => {
            if reader.id != record.patient {
                deny!(
                    "not_patient",
                    "only the patient opens a record to share its key"
                );
            }
            let Some(grant) = ctx.get_decoded::<Grant>(&grant_key(&id)).await? else {
                deny!("unknown_grant", format!("no grant {id}"));
            };
            if grant.patient != record.patient {
                deny!("wrong_grant", "the grant is another patient's");
            }
            if !grant.read {
                deny!("grant_not_read", "the grant does not allow reading");
            }
            if let Err(problem) = grant.in_force(now) {
                deny!("grant_not_in_force", problem);
            }
            if !grant
                .scope
                .covers(&record.id, &record.resource_type, record.category.as_ref())
            {
                deny!("out_of_scope", "the record is outside the grant's scope");
            }
        }
        AccessBasis::Author => {
            // Authorship opens the versions one wrote, and only those: writing a new version
            // (which an organisation's provider may do without any grant) must not open the
            // versions others wrote before it.
            if anchored.author != reader.id {
                deny!(
                    "not_author",
                    format!(
                        "the reader did not write version {version}; authorship opens only the versions one wrote"
                    )
                );
            }
        }
        AccessBasis::Grant(id) => {
            let Some(grant) = ctx.get_decoded::<Grant>(&grant_key(&id)).await? else {
                deny!("unknown_grant", format!("no grant {id}"));
            };
            if grant.patient != record.patient {
                deny!("wrong_grant", "the grant is another patient's");
            }
            if !grantee_matches(&grant, reader) {
                deny!(
                    "not_grantee",
                    "the grant is not to the reader or the reader's organisation"
                );
            }
            if !grant.read {
                deny!("grant_not_read", "the grant does not allow reading");
            }
            if let Err(problem) = grant.in_force(now) {
                let code = if grant.revoked_ms.is_some() {
                    "grant_revoked"
                } else {
                    "grant_not_in_force"
                };
                deny!(code, problem);
            }
            if !grant
                .scope
                .covers(&record.id, &record.resource_type, record.category.as_ref())
            {
                deny!("out_of_scope", "the record is outside the grant's scope");
            }
            if grant.purpose != read.purpose {
                deny!(
                    "wrong_purpose",
                    format!(
                        "the grant is for {}, the read is for {}",
                        grant.purpose, read.purpose
                    )
                );
            }
            if let Some(condition) = &grant.condition
                && let Err(err) =
                    credentials::satisfies(ctx, "read_record", &reader.id, condition).await
            {
                return Ok(Err(credential_denial(err)?));
            }
        }
        AccessBasis::BreakGlass(id) => {
            let Some(declaration) = ctx.get_decoded::<BreakGlass>(&break_glass_key(&id)).await?
            else {
                deny!("unknown_break_glass", format!("no break-glass {id}"));
            };
            if declaration.practitioner != reader.id || declaration.patient != record.patient {
                deny!(
                    "wrong_break_glass",
                    "the declaration is another practitioner's or about another patient"
                );
            }
            if now >= declaration.until_ms {
                deny!("break_glass_expired", "the emergency access has ended");
            }
            if read.purpose != Purpose::EmergencyTreatment {
                deny!(
                    "wrong_purpose",
                    "break-glass reads are for emergency treatment"
                );
            }
            if let Err(err) = credentials::require_configured(ctx, BREAK_GLASS, &reader.id).await {
                return Ok(Err(credential_denial(err)?));
            }
        }
    }
    Ok(Ok(version))
}

/// Enters a denied read in the patient's access log (called with the transaction's writes
/// cleared, so only this and the nonce remain).
pub(crate) async fn log_denied<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    reader: PartyId,
    tx: TxHash,
    err: &TxError,
) -> Result<(), TxError> {
    let TxError::AccessDenied(denial) = err else {
        return Err(err.clone());
    };
    let AccessDenial {
        record,
        patient,
        version,
        basis,
        purpose,
        custodian,
        code,
        reason,
    } = denial.as_ref();
    let entry = AccessEntry {
        seq: lists::len(ctx, names::ACCESS, &patient.0).await?,
        record: *record,
        version: *version,
        reader,
        basis: *basis,
        purpose: *purpose,
        custodian: *custodian,
        time_ms: ctx.env().time_ms,
        height: ctx.env().height,
        tx,
        outcome: AccessOutcome::Denied {
            code: (*code).to_string(),
            reason: truncate(reason.clone(), ACCESS_REASON_BYTES_MAX),
        },
    };
    let seq = lists::push(ctx, names::ACCESS, &patient.0, entry.encode().to_vec()).await?;
    ctx.emit(Event::RecordAccessDenied {
        record: *record,
        patient: *patient,
        reader,
        purpose: *purpose,
        code: (*code).to_string(),
        seq,
    });
    Ok(())
}

async fn break_glass<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    salt: &medchain_types::Hash32,
    patient_id: PartyId,
    justification: &str,
    duration_ms: u64,
) -> Result<(), TxError> {
    let practitioner = ctx.party(&signer).await?;
    if practitioner.kind != PartyKind::Practitioner {
        return Err(TxError::WrongKind {
            party: signer,
            expected: PartyKind::Practitioner,
            found: practitioner.kind,
            action: "declare a break-glass emergency",
        });
    }
    let organisation = practitioner.organisation.ok_or_else(|| {
        refused(
            "no_organisation",
            "a break-glass practitioner works under an organisation",
        )
    })?;
    patient(ctx, &patient_id).await?;
    credentials::require_configured(ctx, BREAK_GLASS, &signer).await?;
    let id = BreakGlassId::derive(&signer, &patient_id, salt);
    if ctx.get(&break_glass_key(&id)).await?.is_some() {
        return Err(refused(
            "break_glass_exists",
            format!("break-glass {id} exists"),
        ));
    }
    let now = ctx.env().time_ms;
    let declaration = BreakGlass {
        id,
        practitioner: signer,
        organisation,
        patient: patient_id,
        justification: justification.to_string(),
        from_ms: now,
        until_ms: now.saturating_add(duration_ms),
        reviewed_ms: None,
    };
    ctx.put_encoded(break_glass_key(&id), &declaration);
    lists::push(ctx, names::BREAK_GLASS, &patient_id.0, id.0.to_vec()).await?;
    ctx.emit(Event::BreakGlassDeclared {
        id,
        patient: patient_id,
        practitioner: signer,
        until_ms: declaration.until_ms,
    });
    Ok(())
}

async fn review<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    id: &BreakGlassId,
) -> Result<(), TxError> {
    let mut declaration = ctx
        .get_decoded::<BreakGlass>(&break_glass_key(id))
        .await?
        .ok_or_else(|| refused("unknown_break_glass", format!("unknown break-glass {id}")))?;
    if declaration.patient != signer {
        return Err(refused(
            "not_patient",
            "only the patient reviews a break-glass declaration about them",
        ));
    }
    if declaration.reviewed_ms.is_some() {
        return Err(refused(
            "already_reviewed",
            format!("break-glass {id} was reviewed"),
        ));
    }
    declaration.reviewed_ms = Some(ctx.env().time_ms);
    ctx.put_encoded(break_glass_key(id), &declaration);
    ctx.emit(Event::BreakGlassReviewed {
        id: *id,
        patient: signer,
    });
    Ok(())
}

async fn erase<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    id: &RecordId,
    reason: &str,
) -> Result<(), TxError> {
    let mut record = ctx
        .get_decoded::<Record>(&record_key(id))
        .await?
        .ok_or_else(|| refused("unknown_record", format!("unknown record {id}")))?;
    if record.erased.is_some() {
        return Err(refused(
            "record_erased",
            format!("record {id} is already erased"),
        ));
    }
    if record.patient != signer {
        custodian_may_erase(ctx, signer, &record).await?;
    }
    if record.legal_hold {
        return Err(refused(
            "legal_hold",
            format!(
                "record {id} is under a legal hold; it cannot be erased until the hold is lifted"
            ),
        ));
    }
    record.erased = Some(Erasure {
        by: signer,
        at_ms: ctx.env().time_ms,
        reason: reason.to_string(),
    });
    ctx.put_encoded(record_key(id), &record);
    ctx.emit(Event::RecordErased {
        record: *id,
        patient: record.patient,
        by: signer,
    });
    Ok(())
}

/// The custodian erasure rule: an organisation that holds the record's latest version may erase
/// it once governance has set a retention period and the version is at least that old. (A
/// legal hold, checked by the caller, blocks this as it blocks the patient.)
async fn custodian_may_erase<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    signer: PartyId,
    record: &Record,
) -> Result<(), TxError> {
    let id = record.id;
    if !record.latest.custodians.contains(&signer) {
        return Err(refused(
            "not_patient",
            format!(
                "only the patient, or a custodian of its latest version under the retention rule, erases record {id}"
            ),
        ));
    }
    let Some(days) = ctx
        .get(crate::keys::ERASURE_RETENTION)
        .await?
        .and_then(|bytes| <[u8; 4]>::try_from(bytes.as_slice()).ok())
        .map(u32::from_be_bytes)
    else {
        return Err(refused(
            "custodian_erasure_off",
            "governance has set no retention period, so only the patient erases",
        ));
    };
    let retention_ms = u64::from(days) * 86_400_000;
    let due_ms = record.latest.written_ms.saturating_add(retention_ms);
    if ctx.env().time_ms < due_ms {
        return Err(refused(
            "retention_not_elapsed",
            format!(
                "record {id} must be kept {days} days after its latest version (written at {} ms); a custodian may erase it from {due_ms} ms",
                record.latest.written_ms
            ),
        ));
    }
    Ok(())
}

async fn legal_hold<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    id: &RecordId,
    hold: bool,
    reason: &str,
) -> Result<(), TxError> {
    let regulator = ctx.party(&signer).await?;
    require_role(&regulator, Role::Regulator, "place a legal hold")?;
    let mut record = ctx
        .get_decoded::<Record>(&record_key(id))
        .await?
        .ok_or_else(|| refused("unknown_record", format!("unknown record {id}")))?;
    if record.erased.is_some() {
        return Err(refused("record_erased", format!("record {id} was erased")));
    }
    if record.legal_hold == hold {
        return Err(refused(
            "legal_hold_unchanged",
            format!(
                "record {id} is already {}",
                if hold { "held" } else { "not held" }
            ),
        ));
    }
    record.legal_hold = hold;
    ctx.put_encoded(record_key(id), &record);
    ctx.emit(Event::LegalHoldSet {
        record: *id,
        hold,
        reason: reason.to_string(),
    });
    Ok(())
}

/// Longest page of a patient's lists.
pub const PAGE_MAX: u64 = 1_000;

/// A patient's public lists, as `GET /v1/patients/{id}/{list}` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatientList {
    Records,
    Grants,
    AccessLog,
    BreakGlass,
}

impl PatientList {
    /// Every list, in the order the API documents them.
    pub const ALL: [PatientList; 4] = [
        PatientList::Records,
        PatientList::Grants,
        PatientList::AccessLog,
        PatientList::BreakGlass,
    ];

    /// The list a path word names (`records`, `grants`, `access-log`, `break-glass`).
    pub fn from_path(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|list| list.path() == word)
    }

    /// Its path word.
    pub fn path(self) -> &'static str {
        match self {
            PatientList::Records => "records",
            PatientList::Grants => "grants",
            PatientList::AccessLog => "access-log",
            PatientList::BreakGlass => "break-glass",
        }
    }

    /// The provable list in state that holds it.
    pub fn list(self) -> &'static str {
        match self {
            PatientList::Records => names::RECORDS,
            PatientList::Grants => names::GRANTS,
            PatientList::AccessLog => names::ACCESS,
            PatientList::BreakGlass => names::BREAK_GLASS,
        }
    }
}

/// A page of a patient's list as a pure query (the node answers it; a client recomputes it
/// from proofs): the list's count, then up to `limit` (at most [`PAGE_MAX`]) items from
/// `from`, each with what it names (a record, grant or break-glass declaration is read by the
/// id the list holds). The answer's `entries` are left for the caller.
pub async fn patient_page<R: StateRead>(
    read: &R,
    which: PatientList,
    patient: &PartyId,
    from: u64,
    limit: u64,
    height: u64,
) -> Result<medchain_types::api::PatientListResponse, StateError> {
    use medchain_types::api::{PatientItem, PatientListItem, PatientListResponse};
    let list = which.list();
    let (count, items) = lists::page(read, list, &patient.0, from, limit.min(PAGE_MAX)).await?;
    let corrupt = |key: &[u8], reason: String| StateError::Corrupt {
        key: crate::keys::describe(key),
        reason,
    };
    let mut out = Vec::with_capacity(items.len());
    for (offset, bytes) in items.into_iter().enumerate() {
        let seq = from + offset as u64;
        let item_key = lists::item_key(list, &patient.0, seq);
        let named = async |key: Vec<u8>| {
            let value = read.get(&key).await?.ok_or_else(|| {
                corrupt(
                    &item_key,
                    format!("it names {}, which is missing", crate::keys::describe(&key)),
                )
            })?;
            Ok::<_, StateError>((key, value))
        };
        let item = match which {
            PatientList::AccessLog => {
                PatientItem::Access(decode_as::<AccessEntry>(&item_key, bytes)?)
            }
            PatientList::Records => {
                let id = RecordId::from_slice(&bytes)
                    .map_err(|err| corrupt(&item_key, err.to_string()))?;
                let (key, value) = named(record_key(&id)).await?;
                PatientItem::Record(decode_as::<Record>(&key, value)?)
            }
            PatientList::Grants => {
                let id = GrantId::from_slice(&bytes)
                    .map_err(|err| corrupt(&item_key, err.to_string()))?;
                let (key, value) = named(grant_key(&id)).await?;
                PatientItem::Grant(decode_as::<Grant>(&key, value)?)
            }
            PatientList::BreakGlass => {
                let id = BreakGlassId::from_slice(&bytes)
                    .map_err(|err| corrupt(&item_key, err.to_string()))?;
                let (key, value) = named(break_glass_key(&id)).await?;
                PatientItem::BreakGlass(decode_as::<BreakGlass>(&key, value)?)
            }
        };
        out.push(PatientListItem {
            seq,
            key: crate::keys::describe(&lists::item_key(list, &patient.0, seq)),
            item,
        });
    }
    Ok(PatientListResponse {
        patient: *patient,
        list: which.path().to_string(),
        count,
        from,
        items: out,
        height,
        entries: Vec::new(),
    })
}

/// Decodes a stored value, naming its key when it is corrupt.
fn decode_as<T: commonware_codec::Read<Cfg = ()>>(
    key: &[u8],
    bytes: Vec<u8>,
) -> Result<T, StateError> {
    use commonware_codec::DecodeExt as _;
    T::decode(bytes).map_err(|err| StateError::Corrupt {
        key: crate::keys::describe(key),
        reason: err.to_string(),
    })
}
