//! Credentials: accredited issuers, licences, their status over time, and the policy check
//! every module calls to gate an action on a valid credential.
//!
//! Rules:
//! - Governance accredits an organisation as an issuer for credential types and jurisdictions
//!   (a jurisdiction covers its subdivisions: `US` covers `US-CA`).
//! - An accredited issuer issues a credential within its accreditation. The subject need not be
//!   registered yet: a board licenses a practitioner's key before an organisation onboards it.
//! - Only the issuer changes a credential's status: suspend, reinstate, revoke. Revocation is
//!   final. Expiry needs no transaction: it follows from the block time.
//! - Governance sets which gated actions require which credential; [`require`] is the one check
//!   modules call. A requirement names an action something checks ([`GATED_ACTIONS`]) and a
//!   credential type some accredited issuer issues ([`ISSUED_TYPES`]), or it is refused when
//!   proposed and again when executed: a typo would otherwise leave an action ungated, or
//!   closed to everyone, while everyone believes it is gated.
//!
//! Keys: `ci/<issuer>` accreditation, `cr/<id>` credential, `ch/<subject>/<type>` the ids a
//! subject holds of a type, `cq/<action>` the requirement of an action, [`ISSUED_TYPES`] the
//! credential types accredited issuers issue, with how many issue each.

use crate::{error::TxError, executor::TxContext, identity::require_role, view::StateRead};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt as _, Write};
use medchain_types::{
    Event, Hash32, PartyId, PartyKind, Role,
    codec::read_list,
    credential::{
        ACCREDITATION_ENTRIES_MAX, Credential, CredentialId, CredentialStatus, CredentialType,
        Jurisdiction, STATUS_CHANGES_MAX, Standing, StatusChange,
    },
    tx::CredentialRequirement,
};
use serde::{Deserialize, Serialize};

/// Most credentials of one type a subject can hold (one per jurisdiction and number, in
/// practice a handful).
pub const HELD_PER_TYPE_MAX: usize = 32;

/// What an issuer is accredited for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accreditation {
    pub credential_types: Vec<CredentialType>,
    pub jurisdictions: Vec<Jurisdiction>,
}

impl Accreditation {
    /// Whether it covers issuing `credential_type` in `jurisdiction`.
    pub fn covers(&self, credential_type: &CredentialType, jurisdiction: &Jurisdiction) -> bool {
        self.credential_types.contains(credential_type)
            && self
                .jurisdictions
                .iter()
                .any(|accredited| jurisdiction.satisfies(accredited))
    }
}

impl Write for Accreditation {
    fn write(&self, buf: &mut impl BufMut) {
        self.credential_types.write(buf);
        self.jurisdictions.write(buf);
    }
}
impl EncodeSize for Accreditation {
    fn encode_size(&self) -> usize {
        self.credential_types.encode_size() + self.jurisdictions.encode_size()
    }
}
impl Read for Accreditation {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Accreditation {
            credential_types: read_list(buf, ACCREDITATION_ENTRIES_MAX)?,
            jurisdictions: read_list(buf, ACCREDITATION_ENTRIES_MAX)?,
        })
    }
}

/// `ci/<issuer>`.
pub fn accreditation_key(issuer: &PartyId) -> Vec<u8> {
    [b"ci/".as_slice(), &issuer.0].concat()
}

/// `cr/<id>`.
pub fn credential_key(id: &CredentialId) -> Vec<u8> {
    [b"cr/".as_slice(), &id.0].concat()
}

/// `ch/<subject>/<sha256(type)>`.
pub fn held_key(subject: &PartyId, credential_type: &CredentialType) -> Vec<u8> {
    let type_hash = medchain_types::sha256(credential_type.as_str().as_bytes());
    [b"ch/".as_slice(), &subject.0, b"/", &type_hash.0].concat()
}

/// Decodes a holder index entry (the credential ids a subject holds of one type).
pub fn decode_held(bytes: Vec<u8>) -> Result<Vec<CredentialId>, crate::error::StateError> {
    commonware_codec::Decode::decode_cfg(
        bytes,
        &(commonware_codec::RangeCfg::new(0..=HELD_PER_TYPE_MAX), ()),
    )
    .map_err(|err| crate::error::StateError::Corrupt {
        key: "ch/<subject>/<type>".into(),
        reason: err.to_string(),
    })
}

/// `cq/<action>`.
pub fn requirement_key(action: &str) -> Vec<u8> {
    [b"cq/".as_slice(), action.as_bytes()].concat()
}

/// The credential types accredited issuers issue, each with how many issuers are accredited
/// for it (sorted by type; a type no issuer is accredited for any more is dropped).
pub const ISSUED_TYPES: &[u8] = b"g/credential-types";

/// Most credential types the chain's accredited issuers may issue between them.
pub const ISSUED_TYPES_MAX: usize = 1024;

/// The value under [`ISSUED_TYPES`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedTypes {
    pub types: Vec<IssuedType>,
}

/// A credential type and how many accredited issuers issue it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedType {
    pub credential_type: CredentialType,
    pub issuers: u32,
}

impl Write for IssuedTypes {
    fn write(&self, buf: &mut impl BufMut) {
        (self.types.len() as u32).write(buf);
        for entry in &self.types {
            entry.credential_type.write(buf);
            entry.issuers.write(buf);
        }
    }
}
impl EncodeSize for IssuedTypes {
    fn encode_size(&self) -> usize {
        4 + self
            .types
            .iter()
            .map(|entry| entry.credential_type.encode_size() + 4)
            .sum::<usize>()
    }
}
impl Read for IssuedTypes {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let count = u32::read(buf)? as usize;
        if count > ISSUED_TYPES_MAX {
            return Err(Error::InvalidLength(count));
        }
        let mut types = Vec::with_capacity(count);
        for _ in 0..count {
            types.push(IssuedType {
                credential_type: CredentialType::read(buf)?,
                issuers: u32::read(buf)?,
            });
        }
        Ok(IssuedTypes { types })
    }
}

impl IssuedTypes {
    fn names(&self) -> String {
        match self.types.is_empty() {
            true => "none yet (accredit an issuer for it first)".into(),
            false => self
                .types
                .iter()
                .map(|entry| entry.credential_type.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Counts `issuer`'s types in (`by` = 1) or out (`by` = -1).
    fn count(&mut self, types: &[CredentialType], by: i64) {
        for credential_type in types {
            match self
                .types
                .binary_search_by(|entry| entry.credential_type.cmp(credential_type))
            {
                Ok(at) => {
                    let issuers = i64::from(self.types[at].issuers) + by;
                    match issuers > 0 {
                        true => self.types[at].issuers = issuers as u32,
                        false => {
                            self.types.remove(at);
                        }
                    }
                }
                Err(at) if by > 0 => self.types.insert(
                    at,
                    IssuedType {
                        credential_type: credential_type.clone(),
                        issuers: by as u32,
                    },
                ),
                Err(_) => {}
            }
        }
    }
}

/// The credential types accredited issuers issue.
pub async fn issued_types<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
) -> Result<IssuedTypes, TxError> {
    Ok(ctx
        .get_decoded::<IssuedTypes>(ISSUED_TYPES)
        .await?
        .unwrap_or_default())
}

/// Refuses a requirement for a credential type no accredited issuer issues (nobody could ever
/// satisfy it), naming the types that are issued.
pub(crate) async fn check_issued<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    requirement: &CredentialRequirement,
) -> Result<(), TxError> {
    let issued = issued_types(ctx).await?;
    if issued
        .types
        .iter()
        .any(|entry| entry.credential_type == requirement.credential_type)
    {
        return Ok(());
    }
    Err(TxError::Invalid {
        field: "credential_type",
        reason: format!(
            "no accredited issuer issues credential type {:?}, so nobody could satisfy the requirement; the types accredited issuers issue are {}",
            requirement.credential_type.as_str(),
            issued.names()
        ),
    })
}

/// Accredits (or withdraws) an issuer; called by governance.
pub(crate) async fn accredit<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    issuer: PartyId,
    credential_types: &[CredentialType],
    jurisdictions: &[Jurisdiction],
) -> Result<(), TxError> {
    let party = ctx.party(&issuer).await?;
    if party.kind != PartyKind::Organisation {
        return Err(TxError::WrongKind {
            party: issuer,
            expected: PartyKind::Organisation,
            found: party.kind,
            action: "issue credentials",
        });
    }
    let key = accreditation_key(&issuer);
    let mut issued = issued_types(ctx).await?;
    if let Some(before) = ctx.get_decoded::<Accreditation>(&key).await? {
        issued.count(&before.credential_types, -1);
    }
    if credential_types.is_empty() || jurisdictions.is_empty() {
        ctx.delete(key);
    } else {
        let mut types = credential_types.to_vec();
        types.sort();
        types.dedup();
        issued.count(&types, 1);
        if issued.types.len() > ISSUED_TYPES_MAX {
            return Err(TxError::Refused {
                code: "too_many_credential_types",
                reason: format!(
                    "accredited issuers would issue more than {ISSUED_TYPES_MAX} credential types between them"
                ),
            });
        }
        let mut places = jurisdictions.to_vec();
        places.sort();
        places.dedup();
        ctx.put_encoded(
            key,
            &Accreditation {
                credential_types: types,
                jurisdictions: places,
            },
        );
    }
    ctx.put_encoded(ISSUED_TYPES.to_vec(), &issued);
    ctx.emit(Event::IssuerAccredited {
        issuer,
        credential_types: credential_types.len() as u32,
        jurisdictions: jurisdictions.len() as u32,
    });
    Ok(())
}

/// Sets (or clears) the credential an action requires; called by governance.
pub(crate) fn set_requirement<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    action: &str,
    requirement: Option<&CredentialRequirement>,
) {
    let key = requirement_key(action);
    match requirement {
        Some(requirement) => ctx.put_encoded(key, requirement),
        None => ctx.delete(key),
    }
    ctx.emit(Event::CredentialRequirementSet {
        action: action.to_owned(),
        required: requirement.is_some(),
    });
}

/// The fields of an issuance.
pub(crate) struct Issuance<'a> {
    pub subject: PartyId,
    pub credential_type: &'a CredentialType,
    pub jurisdiction: &'a Jurisdiction,
    pub number_commitment: Hash32,
    pub specialty: Option<&'a String>,
    pub valid_from_ms: u64,
    pub valid_until_ms: u64,
}

pub(crate) async fn issue<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    issuer: PartyId,
    issuance: Issuance<'_>,
) -> Result<(), TxError> {
    let issuer_party = ctx.party(&issuer).await?;
    require_role(&issuer_party, Role::CredentialIssuer, "issue credentials")?;
    let accreditation = ctx
        .get_decoded::<Accreditation>(&accreditation_key(&issuer))
        .await?;
    if !accreditation.as_ref().is_some_and(|accreditation| {
        accreditation.covers(issuance.credential_type, issuance.jurisdiction)
    }) {
        return Err(TxError::NotAccredited {
            issuer,
            credential_type: issuance.credential_type.to_string(),
            jurisdiction: issuance.jurisdiction.to_string(),
        });
    }
    if issuance.valid_until_ms <= issuance.valid_from_ms {
        return Err(TxError::Invalid {
            field: "valid_until_ms",
            reason: "the validity window is empty".into(),
        });
    }
    let id = CredentialId::derive(
        &issuer,
        &issuance.subject,
        issuance.credential_type,
        issuance.jurisdiction,
        &issuance.number_commitment,
    );
    if ctx.get(&credential_key(&id)).await?.is_some() {
        return Err(TxError::CredentialExists(id));
    }
    let held_key = held_key(&issuance.subject, issuance.credential_type);
    let mut held: Vec<CredentialId> = match ctx.get(&held_key).await? {
        Some(bytes) => decode_held(bytes)?,
        None => Vec::new(),
    };
    if held.len() >= HELD_PER_TYPE_MAX {
        return Err(TxError::Invalid {
            field: "subject",
            reason: format!(
                "{} already holds {HELD_PER_TYPE_MAX} credentials of type {}",
                issuance.subject, issuance.credential_type
            ),
        });
    }
    held.push(id);
    let now = ctx.env().time_ms;
    let credential = Credential {
        id,
        issuer,
        subject: issuance.subject,
        credential_type: issuance.credential_type.clone(),
        jurisdiction: issuance.jurisdiction.clone(),
        number_commitment: issuance.number_commitment,
        specialty: issuance.specialty.cloned(),
        valid_from_ms: issuance.valid_from_ms,
        valid_until_ms: issuance.valid_until_ms,
        history: vec![StatusChange {
            status: CredentialStatus::Active,
            at_ms: now,
            height: ctx.env().height,
            reason: "issued".into(),
        }],
    };
    ctx.put_encoded(credential_key(&id), &credential);
    ctx.put_encoded(held_key, &held);
    ctx.emit(Event::CredentialIssued {
        credential: id,
        issuer,
        subject: issuance.subject,
    });
    Ok(())
}

pub(crate) async fn set_status<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    id: CredentialId,
    status: CredentialStatus,
    reason: &str,
) -> Result<(), TxError> {
    let Some(mut credential) = ctx.get_decoded::<Credential>(&credential_key(&id)).await? else {
        return Err(TxError::UnknownCredential(id));
    };
    if credential.issuer != signer {
        return Err(TxError::NotIssuer {
            credential: id,
            party: signer,
        });
    }
    let current = credential.status();
    if current == CredentialStatus::Revoked {
        return Err(TxError::CredentialRevoked(id));
    }
    if current == status {
        return Err(TxError::Invalid {
            field: "status",
            reason: format!("credential {id} is already {}", status.name()),
        });
    }
    if credential.history.len() >= STATUS_CHANGES_MAX {
        return Err(TxError::Invalid {
            field: "status",
            reason: format!(
                "credential {id} has reached {STATUS_CHANGES_MAX} status changes; issue a new one"
            ),
        });
    }
    credential.history.push(StatusChange {
        status,
        at_ms: ctx.env().time_ms,
        height: ctx.env().height,
        reason: reason.to_owned(),
    });
    ctx.put_encoded(credential_key(&id), &credential);
    ctx.emit(Event::CredentialStatusChanged {
        credential: id,
        status,
    });
    Ok(())
}

/// The credentials `subject` holds of `credential_type`.
pub async fn held<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    subject: &PartyId,
    credential_type: &CredentialType,
) -> Result<Vec<Credential>, TxError> {
    let Some(bytes) = ctx.get(&held_key(subject, credential_type)).await? else {
        return Ok(Vec::new());
    };
    let ids = decode_held(bytes)?;
    let mut credentials = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(credential) = ctx.get_decoded::<Credential>(&credential_key(&id)).await? {
            credentials.push(credential);
        }
    }
    Ok(credentials)
}

/// Every action governance can gate with a credential requirement: a requirement for any
/// other name would gate nothing, so it is refused when proposed.
pub const GATED_ACTIONS: &[&str] = &[
    crate::identity::REGISTER_PRACTITIONER,
    crate::records::WRITE_RECORD,
    crate::records::BREAK_GLASS,
    "supply_commission",
    "supply_pack",
    "supply_unpack",
    "supply_ship",
    "supply_receive",
    "supply_dispense",
    "supply_decommission",
    "supply_recall",
    "supply_transform",
    "supply_flag",
];

/// Refuses a requirement for an action nothing checks, naming the ones that are.
pub(crate) fn check_gated(action: &str) -> Result<(), TxError> {
    if GATED_ACTIONS.contains(&action) {
        return Ok(());
    }
    Err(TxError::Invalid {
        field: "action",
        reason: format!(
            "no operation checks a requirement for {action:?}; the actions that can be gated are {}",
            GATED_ACTIONS.join(", ")
        ),
    })
}

/// The policy check: fails unless `party` holds a credential that is valid at this block's time
/// and satisfies what governance requires for `action`. Actions with no requirement pass.
pub async fn require<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    action: &'static str,
    party: &PartyId,
) -> Result<(), TxError> {
    debug_assert!(
        GATED_ACTIONS.contains(&action),
        "{action} is checked but not in GATED_ACTIONS"
    );
    match requirement_of(ctx, action).await? {
        Some(requirement) => satisfies(ctx, action, party, &requirement).await,
        None => Ok(()),
    }
}

/// Like [`require`], but an action governance has not configured is refused: for actions that
/// must never run ungated (break-glass).
pub async fn require_configured<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    action: &'static str,
    party: &PartyId,
) -> Result<(), TxError> {
    let Some(requirement) = requirement_of(ctx, action).await? else {
        return Err(TxError::Refused {
            code: "not_configured",
            reason: format!(
                "{action} is disabled until governance sets the credential it requires"
            ),
        });
    };
    satisfies(ctx, action, party, &requirement).await
}

async fn requirement_of<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    action: &str,
) -> Result<Option<CredentialRequirement>, TxError> {
    Ok(ctx
        .get_decoded::<CredentialRequirement>(&requirement_key(action))
        .await?)
}

/// Whether `party` holds a credential meeting `requirement` that is valid at this block's
/// time; the refusal names what was needed and the best standing found.
pub async fn satisfies<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    action: &'static str,
    party: &PartyId,
    requirement: &CredentialRequirement,
) -> Result<(), TxError> {
    let now = ctx.env().time_ms;
    let mut best: Option<Standing> = None;
    for credential in held(ctx, party, &requirement.credential_type).await? {
        if let Some(required) = &requirement.jurisdiction
            && !credential.jurisdiction.satisfies(required)
        {
            continue;
        }
        let standing = credential.standing_at(now);
        if standing == Standing::Valid {
            return Ok(());
        }
        best.get_or_insert(standing);
    }
    Err(TxError::CredentialRequired {
        party: *party,
        action,
        credential_type: requirement.credential_type.to_string(),
        jurisdiction: requirement
            .jurisdiction
            .as_ref()
            .map_or_else(|| "any".to_string(), |j| j.to_string()),
        found: best.map_or("none", Standing::name),
    })
}

/// The credential check `GET /v1/credentials/check` answers, as a pure query: the node runs it
/// over finalized state, a client over the entries it verified, so both reach the verdict by
/// this one rule. Every credential of the type `subject` holds (in `jurisdiction`, when one
/// is asked), each with its standing at `at_ms`, and whether any is valid then; the answer's
/// `entries` are left for the caller (the node fills them with what it read). It reads the
/// holder index `ch/<subject>/<type>` (absent: no credential) and each credential it lists;
/// an indexed credential that is missing is corrupt state.
pub async fn check<R: StateRead>(
    read: &R,
    subject: &PartyId,
    credential_type: &CredentialType,
    jurisdiction: Option<&Jurisdiction>,
    at_ms: u64,
    height: u64,
) -> Result<medchain_types::api::CredentialCheckResponse, crate::error::StateError> {
    let index = held_key(subject, credential_type);
    let ids = match read.get(&index).await? {
        None => Vec::new(),
        Some(bytes) => decode_held(bytes)?,
    };
    let mut credentials = Vec::with_capacity(ids.len());
    for id in ids {
        let key = credential_key(&id);
        let bytes = read
            .get(&key)
            .await?
            .ok_or_else(|| crate::error::StateError::Corrupt {
                key: crate::keys::describe(&index),
                reason: format!("it lists credential {id}, which is missing"),
            })?;
        let credential = {
            use commonware_codec::DecodeExt as _;
            Credential::decode(bytes)
        }
        .map_err(|err| crate::error::StateError::Corrupt {
            key: crate::keys::describe(&key),
            reason: err.to_string(),
        })?;
        if jurisdiction.is_some_and(|required| !credential.jurisdiction.satisfies(required)) {
            continue;
        }
        credentials.push(medchain_types::api::CheckedCredential {
            standing: credential.standing_at(at_ms),
            credential,
        });
    }
    Ok(medchain_types::api::CredentialCheckResponse {
        party: *subject,
        credential_type: credential_type.clone(),
        jurisdiction: jurisdiction.cloned(),
        at_ms,
        valid: credentials.iter().any(|c| c.standing == Standing::Valid),
        credentials,
        height,
        entries: Vec::new(),
    })
}
