//! Records, consent and audited access: the rules of `medchain_state::records`, and the access
//! matrix (who reads what, and what the patient's access log says about it).

use crate::{
    Chain,
    credentials::{accredit_board, code, govern, issue, physician, set_status},
    demo,
};
use commonware_codec::DecodeExt;
use medchain_state::{
    TxError, TxOutcome,
    lists::{self, names},
    records::{self as rules},
};
use medchain_types::{
    EncryptionKey, Event, GovernanceAction, Hash32, Keypair, Outcome, PartyId, PartyKind, Role,
    Roles, TxBody,
    credential::CredentialStatus,
    dev::party_id,
    records::{
        AccessBasis, AccessEntry, AccessOutcome, BreakGlassId, Category, GrantId, Purpose, Record,
        RecordId, RecordOp, ResourceType, Scope,
    },
    tx::CredentialRequirement,
};

fn register_practitioner(chain: &mut Chain, organisation: &str, seed: u8) -> Keypair {
    let key = Keypair::from_seed([seed; 32]);
    let tx = chain.tx(
        &demo(organisation),
        TxBody::RegisterParty {
            kind: PartyKind::Practitioner,
            signing_key: key.public_key(),
            encryption_key: EncryptionKey([seed; 32]),
            label: format!("Dr {seed}"),
            roles: Roles::new([Role::Provider]),
        },
    );
    chain.one(tx).expect("registered");
    key
}

fn id_of(key: &Keypair) -> PartyId {
    PartyId::derive(&key.public_key())
}

fn observation() -> ResourceType {
    ResourceType::new("Observation").expect("valid")
}

fn put_op(record: RecordId, salt: Option<Hash32>, patient: &str, version: u32) -> RecordOp {
    RecordOp::Put {
        record,
        salt,
        patient: party_id(patient),
        resource_type: observation(),
        category: Some(Category::new("laboratory").expect("valid")),
        version,
        media_type: "application/fhir+json".into(),
        ciphertext_hash: Hash32([version as u8; 32]),
        ciphertext_bytes: 4096,
        content_commitment: Hash32([0xc0 + version as u8; 32]),
        custodians: vec![party_id("hospital")],
        grant: None,
    }
}

fn record_op(chain: &mut Chain, signer: &Keypair, op: RecordOp) -> Result<TxOutcome, TxError> {
    let tx = chain.tx(signer, TxBody::Record(op));
    chain.one(tx)
}

/// Creates a hospital record for patient-1, written by `author` (a hospital practitioner).
fn create_record(chain: &mut Chain, author: &Keypair, salt: u8) -> RecordId {
    let salt = Hash32([salt; 32]);
    let id = RecordId::derive(&party_id("hospital"), &party_id("patient-1"), &salt);
    record_op(chain, author, put_op(id, Some(salt), "patient-1", 1)).expect("created");
    id
}

fn read(
    chain: &mut Chain,
    reader: &Keypair,
    record: RecordId,
    basis: AccessBasis,
    purpose: Purpose,
) -> Result<TxOutcome, TxError> {
    record_op(
        chain,
        reader,
        RecordOp::Access {
            record,
            version: 0,
            basis,
            purpose,
            custodian: party_id("hospital"),
        },
    )
}

fn grant(
    chain: &mut Chain,
    patient: &str,
    salt: u8,
    grantee: PartyId,
    purpose: Purpose,
    valid_for_ms: u64,
    condition: Option<CredentialRequirement>,
) -> GrantId {
    let now = chain.time_ms;
    let outcome = record_op(
        chain,
        &demo(patient),
        RecordOp::Grant {
            salt: Hash32([salt; 32]),
            grantee,
            scope: Scope::ResourceTypes(vec![observation()]),
            read: true,
            write: false,
            purpose,
            valid_from_ms: now,
            valid_until_ms: now + valid_for_ms,
            condition,
        },
    )
    .expect("granted");
    let id = GrantId::derive(&party_id(patient), &Hash32([salt; 32]));
    assert!(outcome.events.contains(&Event::AccessGranted {
        grant: id,
        patient: party_id(patient),
        grantee
    }));
    id
}

fn access_log(chain: &Chain, patient: &str) -> Vec<AccessEntry> {
    let owner = party_id(patient).0;
    let entries = chain.state.entries();
    let count = entries
        .get(&lists::count_key(names::ACCESS, &owner))
        .map_or(0, |bytes| {
            u64::from_be_bytes(bytes.as_slice().try_into().expect("8 bytes"))
        });
    (0..count)
        .map(|seq| {
            let bytes = entries
                .get(&lists::item_key(names::ACCESS, &owner, seq))
                .expect("every entry up to the count exists");
            AccessEntry::decode(bytes.clone()).expect("decodes")
        })
        .collect()
}

fn stored(chain: &Chain, id: &RecordId) -> Record {
    Record::decode(
        chain
            .state
            .entries()
            .get(&rules::record_key(id))
            .expect("stored")
            .clone(),
    )
    .expect("decodes")
}

#[test]
fn providers_write_versions_and_the_history_is_kept() {
    let mut chain = Chain::dev();
    let dr = register_practitioner(&mut chain, "hospital", 70);
    let id = create_record(&mut chain, &dr, 1);
    // The hospital itself writes version 2; version 1 stays under its own key.
    let outcome = record_op(
        &mut chain,
        &demo("hospital"),
        put_op(id, None, "patient-1", 2),
    )
    .expect("v2");
    assert_eq!(
        outcome.events,
        vec![Event::RecordWritten {
            record: id,
            version: 2,
            patient: party_id("patient-1"),
            author: party_id("hospital"),
        }]
    );
    let record = stored(&chain, &id);
    assert_eq!(record.latest.version, 2);
    assert_eq!(record.organisation, party_id("hospital"));
    assert!(
        chain
            .state
            .entries()
            .contains_key(&rules::version_key(&id, 1))
    );
    // A stale or skipped version is refused, as is changing the record's type.
    for version in [2, 4] {
        let err = record_op(&mut chain, &dr, put_op(id, None, "patient-1", version))
            .expect_err("wrong version");
        assert_eq!(err.code(), "wrong_version", "{err}");
    }
    let mut retyped = put_op(id, None, "patient-1", 3);
    if let RecordOp::Put { resource_type, .. } = &mut retyped {
        *resource_type = ResourceType::new("Condition").expect("valid");
    }
    assert!(matches!(
        record_op(&mut chain, &dr, retyped),
        Err(TxError::Invalid { .. })
    ));
    // A record id not derived from the organisation, patient and salt is refused.
    let forged = RecordId([9; 32]);
    assert!(matches!(
        record_op(
            &mut chain,
            &dr,
            put_op(forged, Some(Hash32([2; 32])), "patient-1", 1)
        ),
        Err(TxError::Invalid {
            field: "record",
            ..
        })
    ));
    // Another organisation's practitioner, without a grant, may not write.
    let outsider = register_practitioner(&mut chain, "clinic", 71);
    let err =
        record_op(&mut chain, &outsider, put_op(id, None, "patient-1", 3)).expect_err("no consent");
    assert_eq!(err.code(), "no_write_consent", "{err}");
    // Custodians must be custodian organisations.
    let mut op = put_op(id, None, "patient-1", 3);
    if let RecordOp::Put { custodians, .. } = &mut op {
        *custodians = vec![party_id("pharmacy")];
    }
    let err = record_op(&mut chain, &dr, op).expect_err("pharmacy is no custodian");
    assert_eq!(err.code(), "not_a_custodian", "{err}");
    // The patient may add to their own record.
    record_op(
        &mut chain,
        &demo("patient-1"),
        put_op(id, None, "patient-1", 3),
    )
    .expect("the patient writes");
}

/// The access matrix: every kind of reader, the outcome, and the patient's access log.
#[test]
fn the_access_matrix_decides_and_logs_every_read() {
    let mut chain = Chain::dev();
    let author = register_practitioner(&mut chain, "hospital", 80);
    let id = create_record(&mut chain, &author, 1);
    let grantee = register_practitioner(&mut chain, "clinic", 81);
    let expired = register_practitioner(&mut chain, "clinic", 82);
    let revoked = register_practitioner(&mut chain, "clinic", 83);
    let other_org = register_practitioner(&mut chain, "clinic", 84);
    let active = grant(
        &mut chain,
        "patient-1",
        1,
        id_of(&grantee),
        Purpose::Treatment,
        3_600_000,
        None,
    );
    let short = grant(
        &mut chain,
        "patient-1",
        2,
        id_of(&expired),
        Purpose::Treatment,
        1_500,
        None,
    );
    let withdrawn = grant(
        &mut chain,
        "patient-1",
        3,
        id_of(&revoked),
        Purpose::Treatment,
        3_600_000,
        None,
    );
    record_op(
        &mut chain,
        &demo("patient-1"),
        RecordOp::Revoke { grant: withdrawn },
    )
    .expect("revoked");
    // A grant of patient-2's does not open patient-1's record.
    let foreign = grant(
        &mut chain,
        "patient-2",
        4,
        id_of(&other_org),
        Purpose::Treatment,
        3_600_000,
        None,
    );

    struct Case {
        who: &'static str,
        reader: Keypair,
        basis: AccessBasis,
        purpose: Purpose,
        /// `None`: granted; `Some(code)`: denied with that code.
        denied: Option<&'static str>,
    }
    let cases = vec![
        Case {
            who: "patient",
            reader: demo("patient-1"),
            basis: AccessBasis::Patient,
            purpose: Purpose::PatientRequest,
            denied: None,
        },
        Case {
            who: "author",
            reader: author.clone(),
            basis: AccessBasis::Author,
            purpose: Purpose::Treatment,
            denied: None,
        },
        Case {
            who: "grantee",
            reader: grantee.clone(),
            basis: AccessBasis::Grant(active),
            purpose: Purpose::Treatment,
            denied: None,
        },
        Case {
            who: "grantee, other purpose",
            reader: grantee.clone(),
            basis: AccessBasis::Grant(active),
            purpose: Purpose::Research,
            denied: Some("wrong_purpose"),
        },
        Case {
            who: "expired grantee",
            reader: expired.clone(),
            basis: AccessBasis::Grant(short),
            purpose: Purpose::Treatment,
            denied: Some("grant_not_in_force"),
        },
        Case {
            who: "revoked grantee",
            reader: revoked.clone(),
            basis: AccessBasis::Grant(withdrawn),
            purpose: Purpose::Treatment,
            denied: Some("grant_revoked"),
        },
        Case {
            who: "someone else's grant",
            reader: other_org.clone(),
            basis: AccessBasis::Grant(active),
            purpose: Purpose::Treatment,
            denied: Some("not_grantee"),
        },
        Case {
            who: "another patient's grant",
            reader: other_org.clone(),
            basis: AccessBasis::Grant(foreign),
            purpose: Purpose::Treatment,
            denied: Some("wrong_grant"),
        },
        Case {
            who: "other patient",
            reader: demo("patient-2"),
            basis: AccessBasis::Patient,
            purpose: Purpose::PatientRequest,
            denied: Some("not_patient"),
        },
        Case {
            who: "other organisation",
            reader: demo("clinic"),
            basis: AccessBasis::Author,
            purpose: Purpose::Treatment,
            denied: Some("not_author"),
        },
        Case {
            who: "regulator",
            reader: demo("regulator"),
            basis: AccessBasis::Patient,
            purpose: Purpose::Legal,
            denied: Some("not_patient"),
        },
        // Sharing a key under a grant (what `consent grant` does): the patient, under their
        // own grant in force that covers the record; nobody else, and no other grant.
        Case {
            who: "patient sharing",
            reader: demo("patient-1"),
            basis: AccessBasis::Sharing(active),
            purpose: Purpose::Treatment,
            denied: None,
        },
        Case {
            who: "grantee posing as sharing",
            reader: grantee.clone(),
            basis: AccessBasis::Sharing(active),
            purpose: Purpose::Treatment,
            denied: Some("not_patient"),
        },
        Case {
            who: "sharing under another patient's grant",
            reader: demo("patient-1"),
            basis: AccessBasis::Sharing(foreign),
            purpose: Purpose::Treatment,
            denied: Some("wrong_grant"),
        },
        Case {
            who: "sharing under a revoked grant",
            reader: demo("patient-1"),
            basis: AccessBasis::Sharing(withdrawn),
            purpose: Purpose::Treatment,
            denied: Some("grant_not_in_force"),
        },
    ];
    for (seq, case) in cases.iter().enumerate() {
        let outcome = read(&mut chain, &case.reader, id, case.basis, case.purpose)
            .unwrap_or_else(|err| panic!("{}: a read attempt always commits: {err}", case.who));
        let log = access_log(&chain, "patient-1");
        assert_eq!(log.len(), seq + 1, "{}: every attempt is logged", case.who);
        let entry = log.last().expect("an entry");
        assert_eq!(entry.seq, seq as u64);
        assert_eq!(entry.reader, id_of(&case.reader), "{}", case.who);
        assert_eq!(
            (entry.record, entry.basis, entry.purpose),
            (id, case.basis, case.purpose)
        );
        match case.denied {
            None => {
                assert_eq!(outcome.receipt.outcome, Outcome::Applied, "{}", case.who);
                assert_eq!(entry.outcome, AccessOutcome::Granted, "{}", case.who);
                assert_eq!(entry.version, 1);
                assert!(matches!(
                    outcome.events.as_slice(),
                    [Event::RecordAccessed { seq: s, .. }] if *s == seq as u64
                ));
            }
            Some(code) => {
                assert_eq!(outcome.receipt.outcome, Outcome::Denied, "{}", case.who);
                assert!(
                    matches!(&entry.outcome, AccessOutcome::Denied { code: c, .. } if c == code),
                    "{}: {:?}",
                    case.who,
                    entry.outcome
                );
                assert!(
                    matches!(
                        outcome.events.as_slice(),
                        [Event::RecordAccessDenied { code: c, seq: s, .. }] if c == code && *s == seq as u64
                    ),
                    "{}: {:?}",
                    case.who,
                    outcome.events
                );
            }
        }
    }
    // A record that does not exist is refused outright: there is no patient to log it for.
    let err = read(
        &mut chain,
        &grantee,
        RecordId([1; 32]),
        AccessBasis::Grant(active),
        Purpose::Treatment,
    )
    .expect_err("unknown record");
    assert_eq!(err.code(), "unknown_record");
    // Asking a party that holds no copy is denied and logged.
    let outcome = record_op(
        &mut chain,
        &grantee,
        RecordOp::Access {
            record: id,
            version: 0,
            basis: AccessBasis::Grant(active),
            purpose: Purpose::Treatment,
            custodian: party_id("clinic"),
        },
    )
    .expect("commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    assert!(matches!(
        &access_log(&chain, "patient-1").last().expect("entry").outcome,
        AccessOutcome::Denied { code, .. } if code == "not_custodian"
    ));
}

#[test]
fn organisation_grants_and_credential_conditions() {
    let mut chain = Chain::dev();
    accredit_board(&mut chain);
    let author = register_practitioner(&mut chain, "hospital", 90);
    let id = create_record(&mut chain, &author, 1);
    let licensed = register_practitioner(&mut chain, "clinic", 91);
    let unlicensed = register_practitioner(&mut chain, "clinic", 92);
    let licence = issue(&mut chain, id_of(&licensed), "US", 3_600_000).expect("issued");
    // To the clinic, for its practitioners holding a US physician licence.
    let to_clinic = grant(
        &mut chain,
        "patient-1",
        1,
        party_id("clinic"),
        Purpose::Treatment,
        3_600_000,
        Some(CredentialRequirement {
            credential_type: physician(),
            jurisdiction: Some(code("US")),
        }),
    );
    let basis = AccessBasis::Grant(to_clinic);
    let outcome = read(&mut chain, &licensed, id, basis, Purpose::Treatment).expect("commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Applied);
    let outcome = read(&mut chain, &unlicensed, id, basis, Purpose::Treatment).expect("commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    set_status(&mut chain, licence, CredentialStatus::Suspended).expect("suspended");
    let outcome = read(&mut chain, &licensed, id, basis, Purpose::Treatment).expect("commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    let log = access_log(&chain, "patient-1");
    let codes: Vec<&str> = log
        .iter()
        .map(|entry| match &entry.outcome {
            AccessOutcome::Granted => "granted",
            AccessOutcome::Denied { code, .. } => code.as_str(),
        })
        .collect();
    assert_eq!(
        codes,
        ["granted", "credential_required", "credential_required"]
    );
    // A hospital practitioner is not covered by a grant to the clinic.
    let outcome = read(&mut chain, &author, id, basis, Purpose::Treatment).expect("commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
}

#[test]
fn break_glass_needs_a_configured_licence_is_time_boxed_and_flagged() {
    let mut chain = Chain::dev();
    accredit_board(&mut chain);
    let author = register_practitioner(&mut chain, "hospital", 100);
    let id = create_record(&mut chain, &author, 1);
    let er = register_practitioner(&mut chain, "hospital", 101);
    let declare = |chain: &mut Chain, who: &Keypair, salt: u8, duration_ms: u64| {
        record_op(
            chain,
            who,
            RecordOp::BreakGlass {
                salt: Hash32([salt; 32]),
                patient: party_id("patient-1"),
                justification: "patient unresponsive in the emergency department".into(),
                duration_ms,
            },
        )
    };
    // Until governance names the credential it needs, break-glass is off.
    let err = declare(&mut chain, &er, 1, 3_000).expect_err("not configured");
    assert_eq!(err.code(), "not_configured", "{err}");
    govern(
        &mut chain,
        GovernanceAction::SetCredentialRequirement {
            action: rules::BREAK_GLASS.into(),
            requirement: Some(CredentialRequirement {
                credential_type: physician(),
                jurisdiction: None,
            }),
        },
    );
    // Without a licence the declaration is denied, and the attempt recorded.
    let outcome = declare(&mut chain, &er, 1, 3_000).expect("a denial commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    assert!(matches!(
        outcome.events.as_slice(),
        [Event::ActionDenied { action, .. }] if action == "break_glass"
    ));
    let licence = issue(&mut chain, id_of(&er), "US", 3_600_000).expect("issued");
    let outcome = declare(&mut chain, &er, 2, 3_000).expect("declared");
    let bg = BreakGlassId::derive(&id_of(&er), &party_id("patient-1"), &Hash32([2; 32]));
    assert!(matches!(
        outcome.events.as_slice(),
        [Event::BreakGlassDeclared { id, .. }] if *id == bg
    ));
    let basis = AccessBasis::BreakGlass(bg);
    let outcome = read(&mut chain, &er, id, basis, Purpose::Treatment).expect("commits");
    assert_eq!(
        outcome.receipt.outcome,
        Outcome::Denied,
        "emergency purpose only"
    );
    let outcome = read(&mut chain, &er, id, basis, Purpose::EmergencyTreatment).expect("commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Applied);
    // Someone else cannot use it.
    let outcome =
        read(&mut chain, &author, id, basis, Purpose::EmergencyTreatment).expect("commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    // A suspended licence ends it at once; so does time (each block is one second).
    set_status(&mut chain, licence, CredentialStatus::Suspended).expect("suspended");
    let outcome = read(&mut chain, &er, id, basis, Purpose::EmergencyTreatment).expect("commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    set_status(&mut chain, licence, CredentialStatus::Active).expect("reinstated");
    chain.block(&[]);
    let outcome = read(&mut chain, &er, id, basis, Purpose::EmergencyTreatment).expect("commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    assert!(matches!(
        &access_log(&chain, "patient-1").last().expect("entry").outcome,
        AccessOutcome::Denied { code, .. } if code == "break_glass_expired"
    ));
    // The patient reviews it, once; nobody else can.
    let review = RecordOp::ReviewBreakGlass { id: bg };
    assert_eq!(
        record_op(&mut chain, &er, review.clone())
            .expect_err("not the patient")
            .code(),
        "not_patient"
    );
    let outcome = record_op(&mut chain, &demo("patient-1"), review.clone()).expect("reviewed");
    assert!(outcome.events.contains(&Event::BreakGlassReviewed {
        id: bg,
        patient: party_id("patient-1")
    }));
    assert_eq!(
        record_op(&mut chain, &demo("patient-1"), review)
            .expect_err("once")
            .code(),
        "already_reviewed"
    );
}

#[test]
fn erasure_is_final_and_a_legal_hold_blocks_it() {
    let mut chain = Chain::dev();
    let author = register_practitioner(&mut chain, "hospital", 110);
    let id = create_record(&mut chain, &author, 1);
    let erase = RecordOp::Erase {
        record: id,
        reason: "patient request".into(),
    };
    let hold = |hold: bool| RecordOp::LegalHold {
        record: id,
        hold,
        reason: "litigation hold, case 12".into(),
    };
    // Only the patient erases; only a regulator holds.
    assert_eq!(
        record_op(&mut chain, &author, erase.clone())
            .expect_err("not the patient")
            .code(),
        "not_patient"
    );
    assert!(matches!(
        record_op(&mut chain, &demo("hospital"), hold(true)),
        Err(TxError::MissingRole { .. })
    ));
    record_op(&mut chain, &demo("regulator"), hold(true)).expect("held");
    assert_eq!(
        record_op(&mut chain, &demo("patient-1"), erase.clone())
            .expect_err("held")
            .code(),
        "legal_hold"
    );
    record_op(&mut chain, &demo("regulator"), hold(false)).expect("released");
    let outcome = record_op(&mut chain, &demo("patient-1"), erase.clone()).expect("erased");
    assert!(outcome.events.contains(&Event::RecordErased {
        record: id,
        patient: party_id("patient-1"),
        by: party_id("patient-1"),
    }));
    let record = stored(&chain, &id);
    assert!(record.erased.is_some());
    // The anchor stays (its proofs stay valid); every read is now denied; nothing more is
    // written to it.
    assert_eq!(record.latest.ciphertext_hash, Hash32([1; 32]));
    let outcome = read(
        &mut chain,
        &demo("patient-1"),
        id,
        AccessBasis::Patient,
        Purpose::PatientRequest,
    )
    .expect("commits");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    assert_eq!(
        record_op(&mut chain, &author, put_op(id, None, "patient-1", 2))
            .expect_err("erased")
            .code(),
        "record_erased"
    );
    assert_eq!(
        record_op(&mut chain, &demo("patient-1"), erase)
            .expect_err("final")
            .code(),
        "record_erased"
    );
}

#[test]
fn custodians_erase_under_the_retention_rule_unless_held() {
    let mut chain = Chain::dev();
    let author = register_practitioner(&mut chain, "hospital", 120);
    let id = create_record(&mut chain, &author, 1);
    let erase = RecordOp::Erase {
        record: id,
        reason: "retention period over".into(),
    };
    let code_of = |result: Result<TxOutcome, TxError>| result.expect_err("refused").code();
    // Off until governance sets a retention period.
    assert_eq!(
        code_of(record_op(&mut chain, &demo("hospital"), erase.clone())),
        "custodian_erasure_off"
    );
    // The retention period must be 1 to 36,500 days.
    let zero = chain.tx(
        &demo("hospital"),
        TxBody::Propose {
            action: GovernanceAction::SetErasureRetention { days: Some(0) },
            ttl_ms: 60_000,
        },
    );
    assert!(zero.check_stateless(&Chain::chain_id()).is_err());
    govern(
        &mut chain,
        GovernanceAction::SetErasureRetention { days: Some(30) },
    );
    // Not a custodian of the record: the clinic, and the author (a practitioner, not the
    // organisation).
    for outsider in [demo("clinic"), author.clone()] {
        assert_eq!(
            code_of(record_op(&mut chain, &outsider, erase.clone())),
            "not_patient"
        );
    }
    let err = record_op(&mut chain, &demo("hospital"), erase.clone()).expect_err("too early");
    assert_eq!(err.code(), "retention_not_elapsed", "{err}");
    chain.time_ms += 30 * 86_400_000;
    // A legal hold blocks the custodian as it blocks the patient.
    let hold = |hold: bool| RecordOp::LegalHold {
        record: id,
        hold,
        reason: "litigation hold, case 12".into(),
    };
    record_op(&mut chain, &demo("regulator"), hold(true)).expect("held");
    assert_eq!(
        code_of(record_op(&mut chain, &demo("hospital"), erase.clone())),
        "legal_hold"
    );
    record_op(&mut chain, &demo("regulator"), hold(false)).expect("released");
    let outcome = record_op(&mut chain, &demo("hospital"), erase.clone()).expect("erased");
    assert!(outcome.events.contains(&Event::RecordErased {
        record: id,
        patient: party_id("patient-1"),
        by: party_id("hospital"),
    }));
    let erased = stored(&chain, &id).erased.expect("erased");
    assert_eq!(erased.by, party_id("hospital"));
    assert_eq!(erased.reason, "retention period over");
    // Governance turns the rule off again: a newer record stays the patient's to erase.
    govern(
        &mut chain,
        GovernanceAction::SetErasureRetention { days: None },
    );
    let newer = create_record(&mut chain, &author, 2);
    chain.time_ms += 31 * 86_400_000;
    assert_eq!(
        code_of(record_op(
            &mut chain,
            &demo("hospital"),
            RecordOp::Erase {
                record: newer,
                reason: "retention period over".into(),
            }
        )),
        "custodian_erasure_off"
    );
}

/// Who may do what, operation by operation: the outcome, and what the chain records of it
/// (an event for what succeeds; nothing, not even a used nonce, for what is refused).
#[test]
fn the_operation_matrix_over_every_role() {
    let mut chain = Chain::dev();
    let author = register_practitioner(&mut chain, "hospital", 120);
    let id = create_record(&mut chain, &author, 1);
    let writer = register_practitioner(&mut chain, "clinic", 121);
    let expired = register_practitioner(&mut chain, "clinic", 122);
    let revoked = register_practitioner(&mut chain, "clinic", 123);
    let other_org = register_practitioner(&mut chain, "clinic", 124);
    let write_grant = |chain: &mut Chain, salt: u8, grantee: PartyId, valid_for_ms: u64| {
        let now = chain.time_ms;
        record_op(
            chain,
            &demo("patient-1"),
            RecordOp::Grant {
                salt: Hash32([salt; 32]),
                grantee,
                scope: Scope::ResourceTypes(vec![observation()]),
                read: true,
                write: true,
                purpose: Purpose::Treatment,
                valid_from_ms: now,
                valid_until_ms: now + valid_for_ms,
                condition: None,
            },
        )
        .expect("granted");
        GrantId::derive(&party_id("patient-1"), &Hash32([salt; 32]))
    };
    let g_writer = write_grant(&mut chain, 1, id_of(&writer), 3_600_000);
    let g_expired = write_grant(&mut chain, 2, id_of(&expired), 1_500);
    let g_revoked = write_grant(&mut chain, 3, id_of(&revoked), 3_600_000);
    record_op(
        &mut chain,
        &demo("patient-1"),
        RecordOp::Revoke { grant: g_revoked },
    )
    .expect("revoked");
    chain.block(&[]);

    struct Who {
        name: &'static str,
        key: Keypair,
        grant: Option<GrantId>,
    }
    let roles = [
        Who {
            name: "patient",
            key: demo("patient-1"),
            grant: None,
        },
        Who {
            name: "author",
            key: author.clone(),
            grant: None,
        },
        Who {
            name: "grantee",
            key: writer.clone(),
            grant: Some(g_writer),
        },
        Who {
            name: "expired grantee",
            key: expired.clone(),
            grant: Some(g_expired),
        },
        Who {
            name: "revoked grantee",
            key: revoked.clone(),
            grant: Some(g_revoked),
        },
        Who {
            name: "other patient",
            key: demo("patient-2"),
            grant: None,
        },
        Who {
            name: "other organisation",
            key: other_org.clone(),
            grant: None,
        },
        Who {
            name: "regulator",
            key: demo("regulator"),
            grant: None,
        },
    ];
    // Each operation: who may do it.
    let may_write = ["patient", "author", "grantee"];
    // A grant is always of the signer's own records: any patient may make one, no one else.
    let may_grant = ["patient", "other patient"];
    // Revoking patient-1's grant, and erasing patient-1's record: patient-1 only.
    let may_revoke_or_erase = ["patient"];
    let may_hold = ["regulator"];
    let mut version = 1;
    for who in &roles {
        let signer = id_of(&who.key);
        let before = chain.state.entries().clone();
        // Write a new version.
        let mut op = put_op(id, None, "patient-1", version + 1);
        if let RecordOp::Put { grant, .. } = &mut op {
            *grant = who.grant;
        }
        let outcome = record_op(&mut chain, &who.key, op);
        if may_write.contains(&who.name) {
            let outcome = outcome.unwrap_or_else(|err| panic!("{} writes: {err}", who.name));
            version += 1;
            assert!(outcome.events.contains(&Event::RecordWritten {
                record: id,
                version,
                patient: party_id("patient-1"),
                author: signer,
            }));
        } else {
            assert!(outcome.is_err(), "{} wrote", who.name);
            assert_eq!(
                chain.state.entries(),
                &before,
                "{}: a refused write leaves nothing",
                who.name
            );
        }
        // Grant and revoke.
        let before = chain.state.entries().clone();
        let now = chain.time_ms;
        let outcome = record_op(
            &mut chain,
            &who.key,
            RecordOp::Grant {
                salt: Hash32([0x40; 32]),
                grantee: party_id("clinic"),
                scope: Scope::All,
                read: true,
                write: false,
                purpose: Purpose::Research,
                valid_from_ms: now,
                valid_until_ms: now + 60_000,
                condition: None,
            },
        );
        if may_grant.contains(&who.name) {
            let outcome = outcome.unwrap_or_else(|err| panic!("{} grants: {err}", who.name));
            assert!(matches!(
                outcome.events.as_slice(),
                [Event::AccessGranted { .. }]
            ));
            let grant = GrantId::derive(&signer, &Hash32([0x40; 32]));
            let outcome = record_op(&mut chain, &who.key, RecordOp::Revoke { grant })
                .expect("the patient revokes");
            assert!(matches!(
                outcome.events.as_slice(),
                [Event::GrantRevoked { .. }]
            ));
        } else {
            assert!(outcome.is_err(), "{} granted", who.name);
            assert_eq!(chain.state.entries(), &before);
            assert!(
                record_op(&mut chain, &who.key, RecordOp::Revoke { grant: g_writer }).is_err(),
                "{} revoked the patient's grant",
                who.name
            );
        }
        // Legal hold.
        let before = chain.state.entries().clone();
        let hold = RecordOp::LegalHold {
            record: id,
            hold: true,
            reason: "court order 7".into(),
        };
        match record_op(&mut chain, &who.key, hold) {
            Ok(outcome) => {
                assert!(may_hold.contains(&who.name), "{} held", who.name);
                assert!(matches!(
                    outcome.events.as_slice(),
                    [Event::LegalHoldSet { hold: true, .. }]
                ));
                record_op(
                    &mut chain,
                    &who.key,
                    RecordOp::LegalHold {
                        record: id,
                        hold: false,
                        reason: "order lifted".into(),
                    },
                )
                .expect("lifted");
            }
            Err(_) => {
                assert!(!may_hold.contains(&who.name), "{} could not hold", who.name);
                assert_eq!(chain.state.entries(), &before);
            }
        }
    }
    // Erasure, last: only the patient.
    for who in roles.iter().rev() {
        let before = chain.state.entries().clone();
        let outcome = record_op(
            &mut chain,
            &who.key,
            RecordOp::Erase {
                record: id,
                reason: "request".into(),
            },
        );
        if may_revoke_or_erase.contains(&who.name) {
            let outcome = outcome.expect("the patient erases");
            assert!(matches!(
                outcome.events.as_slice(),
                [Event::RecordErased { .. }]
            ));
        } else {
            assert!(outcome.is_err(), "{} erased", who.name);
            assert_eq!(chain.state.entries(), &before);
        }
    }
}

/// Regression (issue 16, "reading without a grant by writing first"): a provider of the
/// patient's organisation who may not read a record writes a new version of it, which the
/// organisation's write right allows. Authorship then opens the version they wrote, and not
/// the version someone else wrote before; the refused read is in the patient's access log.
#[test]
fn writing_a_version_does_not_open_the_versions_others_wrote() {
    let mut chain = Chain::dev();
    let author = register_practitioner(&mut chain, "hospital", 90);
    let id = create_record(&mut chain, &author, 9);
    let colleague = register_practitioner(&mut chain, "hospital", 91);
    let read_version = |chain: &mut Chain, reader: &Keypair, version: u32| {
        record_op(
            chain,
            reader,
            RecordOp::Access {
                record: id,
                version,
                basis: AccessBasis::Author,
                purpose: Purpose::Treatment,
                custodian: party_id("hospital"),
            },
        )
    };
    let outcome = read_version(&mut chain, &colleague, 1).expect("committed as denied");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied, "{outcome:?}");
    // The colleague writes version 2: their organisation's write right allows it.
    record_op(&mut chain, &colleague, put_op(id, None, "patient-1", 2)).expect("writes v2");
    // Version 1 stays closed to them, asked by number.
    let outcome = read_version(&mut chain, &colleague, 1).expect("committed as denied");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied, "{outcome:?}");
    let log = access_log(&chain, "patient-1");
    let last = log.last().expect("logged");
    assert_eq!(
        (last.reader, last.version),
        (id_of(&colleague), 1),
        "{last:?}"
    );
    assert!(
        matches!(&last.outcome, AccessOutcome::Denied { code, .. } if code == "not_author"),
        "{last:?}"
    );
    // Their own version opens, by number and as the latest.
    for version in [2, 0] {
        let outcome = read_version(&mut chain, &colleague, version).expect("granted");
        assert_eq!(outcome.receipt.outcome, Outcome::Applied, "{outcome:?}");
    }
    // The first author reads version 1, but not the colleague's version 2 (nor the latest).
    let outcome = read_version(&mut chain, &author, 1).expect("granted");
    assert_eq!(outcome.receipt.outcome, Outcome::Applied, "{outcome:?}");
    for version in [2, 0] {
        let outcome = read_version(&mut chain, &author, version).expect("committed as denied");
        assert_eq!(outcome.receipt.outcome, Outcome::Denied, "{outcome:?}");
    }
    // A denied read is logged with the version asked for (0: the latest).
    let log = access_log(&chain, "patient-1");
    let last = log.last().expect("logged");
    assert_eq!((last.reader, last.version), (id_of(&author), 0), "{last:?}");
}
