use crate::{Chain, demo};
use commonware_codec::DecodeExt;
use medchain_state::{TxError, credentials, keys};
use medchain_types::{
    EncryptionKey, Event, GovernanceAction, Keypair, Outcome, PartyId, PartyKind, Role, Roles,
    TxBody,
    credential::{
        Credential, CredentialId, CredentialStatus, CredentialType, Jurisdiction, Standing,
        number_commitment,
    },
    dev::party_id,
    tx::CredentialRequirement,
};

pub(crate) fn physician() -> CredentialType {
    CredentialType::new("physician_licence").expect("valid")
}

pub(crate) fn code(text: &str) -> Jurisdiction {
    Jurisdiction::new(text).expect("valid")
}

/// Runs a governance action through proposal (hospital) and approval (clinic).
pub(crate) fn govern(chain: &mut Chain, action: GovernanceAction) {
    let tx = chain.tx(
        &demo("hospital"),
        TxBody::Propose {
            action,
            ttl_ms: 60_000,
        },
    );
    let opened = chain.one(tx).expect("proposal opens");
    let id = opened
        .events
        .iter()
        .find_map(|event| match event {
            Event::ProposalOpened { proposal, .. } => Some(*proposal),
            _ => None,
        })
        .expect("proposal id");
    let tx = chain.tx(&demo("clinic"), TxBody::Approve { proposal: id });
    let outcome = chain.one(tx).expect("approval carries it");
    assert!(
        outcome
            .events
            .contains(&Event::ProposalExecuted { proposal: id }),
        "{outcome:?}"
    );
}

pub(crate) fn accredit_board(chain: &mut Chain) {
    govern(
        chain,
        GovernanceAction::AccreditIssuer {
            issuer: party_id("licensing-board"),
            credential_types: vec![physician()],
            jurisdictions: vec![code("US")],
        },
    );
}

pub(crate) fn issue(
    chain: &mut Chain,
    subject: PartyId,
    jurisdiction: &str,
    valid_for_ms: u64,
) -> Result<CredentialId, TxError> {
    let now = chain.time_ms;
    let commitment = number_commitment(&[5; 32], &format!("A-{subject}"));
    let tx = chain.tx(
        &demo("licensing-board"),
        TxBody::IssueCredential {
            subject,
            credential_type: physician(),
            jurisdiction: code(jurisdiction),
            number_commitment: commitment,
            specialty: Some("cardiology".into()),
            valid_from_ms: now,
            valid_until_ms: now + valid_for_ms,
        },
    );
    let outcome = chain.one(tx)?;
    Ok(outcome
        .events
        .iter()
        .find_map(|event| match event {
            Event::CredentialIssued { credential, .. } => Some(*credential),
            _ => None,
        })
        .expect("issuance event"))
}

pub(crate) fn set_status(
    chain: &mut Chain,
    id: CredentialId,
    status: CredentialStatus,
) -> Result<(), TxError> {
    let tx = chain.tx(
        &demo("licensing-board"),
        TxBody::SetCredentialStatus {
            credential: id,
            status,
            reason: "board decision".into(),
        },
    );
    chain.one(tx).map(|_| ())
}

fn stored(chain: &Chain, id: &CredentialId) -> Credential {
    let bytes = chain
        .state
        .entries()
        .get(&credentials::credential_key(id))
        .expect("stored");
    Credential::decode(bytes.clone()).expect("decodes")
}

/// Registers a practitioner with `key` under the hospital. A refusal by the credential policy
/// is committed as denied: this checks that only the hospital's nonce and the receipt changed,
/// that the one event records the attempt, and returns its reason.
fn register_practitioner(chain: &mut Chain, key: &Keypair) -> Result<(), String> {
    let hospital = party_id("hospital");
    let practitioner = PartyId::derive(&key.public_key());
    let before = chain.state.entries().clone();
    let tx = chain.tx(
        &demo("hospital"),
        TxBody::RegisterParty {
            kind: PartyKind::Practitioner,
            signing_key: key.public_key(),
            encryption_key: EncryptionKey([3; 32]),
            label: "Dr Licensed".into(),
            roles: Roles::new([Role::Provider]),
        },
    );
    let hash = tx.hash();
    let outcome = chain
        .one(tx)
        .expect("a policy refusal is committed as denied, not dropped");
    match outcome.receipt.outcome {
        Outcome::Applied => {
            assert!(chain.party(&practitioner).is_some());
            Ok(())
        }
        Outcome::Denied => {
            let changed: Vec<Vec<u8>> = chain
                .state
                .entries()
                .iter()
                .filter(|(key, value)| before.get(*key) != Some(*value))
                .map(|(key, _)| key.clone())
                .collect();
            let mut expected = vec![keys::party(&hospital), keys::receipt(&hash)];
            expected.sort();
            assert_eq!(
                changed, expected,
                "a denial uses the nonce and nothing else"
            );
            assert_eq!(
                chain.party(&hospital).expect("exists").nonce,
                before_nonce(&before, &hospital) + 1
            );
            assert!(chain.party(&practitioner).is_none());
            match outcome.events.as_slice() {
                [
                    Event::ActionDenied {
                        actor,
                        action,
                        party,
                        code,
                        reason,
                    },
                ] => {
                    assert_eq!(*actor, hospital);
                    assert_eq!(action, "register_practitioner");
                    assert_eq!(*party, practitioner);
                    assert_eq!(code, "credential_required");
                    Err(reason.clone())
                }
                other => panic!("a denial emits exactly one action_denied event: {other:?}"),
            }
        }
    }
}

fn before_nonce(entries: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>, id: &PartyId) -> u64 {
    let bytes = entries.get(&keys::party(id)).expect("party exists");
    medchain_types::Party::decode(bytes.clone())
        .expect("decodes")
        .nonce
}

#[test]
fn issuers_issue_only_within_their_accreditation() {
    let mut chain = Chain::dev();
    let subject = PartyId::derive(&Keypair::from_seed([40; 32]).public_key());
    // Not accredited yet.
    assert!(matches!(
        issue(&mut chain, subject, "US-CA", 1_000_000),
        Err(TxError::NotAccredited { .. })
    ));
    accredit_board(&mut chain);
    let id = issue(&mut chain, subject, "US-CA", 1_000_000)
        .expect("within accreditation (US covers US-CA)");
    assert_eq!(
        stored(&chain, &id).standing_at(chain.time_ms),
        Standing::Valid
    );
    // Another jurisdiction, another type, another issuer.
    assert!(matches!(
        issue(&mut chain, subject, "GB-ENG", 1_000_000),
        Err(TxError::NotAccredited { .. })
    ));
    let tx = chain.tx(
        &demo("licensing-board"),
        TxBody::IssueCredential {
            subject,
            credential_type: CredentialType::new("nurse_licence").expect("valid"),
            jurisdiction: code("US"),
            number_commitment: number_commitment(&[1; 32], "N1"),
            specialty: None,
            valid_from_ms: chain.time_ms,
            valid_until_ms: chain.time_ms + 10,
        },
    );
    assert!(matches!(chain.one(tx), Err(TxError::NotAccredited { .. })));
    let tx = chain.tx(
        &demo("hospital"),
        TxBody::IssueCredential {
            subject,
            credential_type: physician(),
            jurisdiction: code("US"),
            number_commitment: number_commitment(&[1; 32], "H1"),
            specialty: None,
            valid_from_ms: chain.time_ms,
            valid_until_ms: chain.time_ms + 10,
        },
    );
    assert!(matches!(
        chain.one(tx),
        Err(TxError::MissingRole {
            role: Role::CredentialIssuer,
            ..
        })
    ));
    // The same credential cannot be issued twice.
    let tx = chain.tx(
        &demo("licensing-board"),
        TxBody::IssueCredential {
            subject,
            credential_type: physician(),
            jurisdiction: code("US-CA"),
            number_commitment: number_commitment(&[5; 32], &format!("A-{subject}")),
            specialty: Some("cardiology".into()),
            valid_from_ms: chain.time_ms,
            valid_until_ms: chain.time_ms + 1_000_000,
        },
    );
    assert!(matches!(chain.one(tx), Err(TxError::CredentialExists(_))));
}

#[test]
fn status_history_answers_for_any_time() {
    let mut chain = Chain::dev();
    accredit_board(&mut chain);
    let subject = PartyId::derive(&Keypair::from_seed([41; 32]).public_key());
    let id = issue(&mut chain, subject, "US", 10_000).expect("issued");
    let issued_at = chain.time_ms;
    set_status(&mut chain, id, CredentialStatus::Suspended).expect("suspends");
    let suspended_at = chain.time_ms;
    set_status(&mut chain, id, CredentialStatus::Active).expect("reinstates");
    let reinstated_at = chain.time_ms;
    set_status(&mut chain, id, CredentialStatus::Revoked).expect("revokes");
    let revoked_at = chain.time_ms;
    let credential = stored(&chain, &id);
    assert_eq!(credential.standing_at(issued_at - 1), Standing::NotIssued);
    assert_eq!(credential.standing_at(issued_at), Standing::Valid);
    assert_eq!(credential.standing_at(suspended_at), Standing::Suspended);
    assert_eq!(credential.standing_at(reinstated_at), Standing::Valid);
    assert_eq!(credential.standing_at(revoked_at), Standing::Revoked);
    // Revocation is final; only the issuer changes status.
    assert!(matches!(
        set_status(&mut chain, id, CredentialStatus::Active),
        Err(TxError::CredentialRevoked(_))
    ));
    let other = issue(
        &mut chain,
        PartyId::derive(&Keypair::from_seed([42; 32]).public_key()),
        "US",
        10_000,
    )
    .expect("issued");
    let tx = chain.tx(
        &demo("regulator"),
        TxBody::SetCredentialStatus {
            credential: other,
            status: CredentialStatus::Suspended,
            reason: "x".into(),
        },
    );
    assert!(matches!(chain.one(tx), Err(TxError::NotIssuer { .. })));
}

#[test]
fn registering_a_practitioner_is_gated_on_a_valid_licence() {
    let mut chain = Chain::dev();
    accredit_board(&mut chain);
    govern(
        &mut chain,
        GovernanceAction::SetCredentialRequirement {
            action: "register_practitioner".into(),
            requirement: Some(CredentialRequirement {
                credential_type: physician(),
                jurisdiction: Some(code("US")),
            }),
        },
    );
    // Unlicensed: refused, with the reason.
    let unlicensed = Keypair::from_seed([50; 32]);
    let err = register_practitioner(&mut chain, &unlicensed).expect_err("no licence");
    assert!(err.ends_with("best found: none"), "{err}");

    // Licensed: accepted.
    let licensed = Keypair::from_seed([51; 32]);
    issue(
        &mut chain,
        PartyId::derive(&licensed.public_key()),
        "US-NY",
        1_000_000,
    )
    .expect("issued");
    register_practitioner(&mut chain, &licensed).expect("a valid licence admits the practitioner");

    // Suspended, then reinstated.
    let second = Keypair::from_seed([52; 32]);
    let id = issue(
        &mut chain,
        PartyId::derive(&second.public_key()),
        "US",
        1_000_000,
    )
    .expect("issued");
    set_status(&mut chain, id, CredentialStatus::Suspended).expect("suspends");
    let err = register_practitioner(&mut chain, &second).expect_err("suspended");
    assert!(err.ends_with("best found: suspended"), "{err}");
    set_status(&mut chain, id, CredentialStatus::Active).expect("reinstates");
    register_practitioner(&mut chain, &second).expect("reinstated licence admits");

    // Revoked.
    let third = Keypair::from_seed([53; 32]);
    let id = issue(
        &mut chain,
        PartyId::derive(&third.public_key()),
        "US",
        1_000_000,
    )
    .expect("issued");
    set_status(&mut chain, id, CredentialStatus::Revoked).expect("revokes");
    let err = register_practitioner(&mut chain, &third).expect_err("revoked");
    assert!(err.ends_with("best found: revoked"), "{err}");

    // Expired by block time, with no transaction: each block advances one second.
    let fourth = Keypair::from_seed([54; 32]);
    issue(
        &mut chain,
        PartyId::derive(&fourth.public_key()),
        "US",
        1_500,
    )
    .expect("issued");
    chain.block(&[]);
    let err = register_practitioner(&mut chain, &fourth).expect_err("expired");
    assert!(err.ends_with("best found: expired"), "{err}");

    // A licence elsewhere does not satisfy a US requirement.
    let fifth = Keypair::from_seed([55; 32]);
    govern(
        &mut chain,
        GovernanceAction::AccreditIssuer {
            issuer: party_id("licensing-board"),
            credential_types: vec![physician()],
            jurisdictions: vec![code("US"), code("GB")],
        },
    );
    issue(
        &mut chain,
        PartyId::derive(&fifth.public_key()),
        "GB-ENG",
        1_000_000,
    )
    .expect("issued");
    let err = register_practitioner(&mut chain, &fifth).expect_err("wrong jurisdiction");
    assert!(err.ends_with("best found: none"), "{err}");
}

/// Regression (issue 17): a requirement for an action nothing checks (a typo) is refused when
/// proposed, naming the actions that can be gated, so no one believes an ungated action is
/// gated.
#[test]
fn a_requirement_for_an_action_nothing_checks_is_refused_when_proposed() {
    let mut chain = Chain::dev();
    let tx = chain.tx(
        &demo("hospital"),
        TxBody::Propose {
            action: GovernanceAction::SetCredentialRequirement {
                action: "register_practicioner".into(),
                requirement: Some(CredentialRequirement {
                    credential_type: physician(),
                    jurisdiction: None,
                }),
            },
            ttl_ms: 60_000,
        },
    );
    let err = chain.one(tx).expect_err("an unknown action");
    let text = err.to_string();
    assert!(
        matches!(
            err,
            TxError::Invalid {
                field: "action",
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("register_practicioner")
            && text.contains("register_practitioner")
            && text.contains("supply_dispense"),
        "{text}"
    );
    for action in medchain_state::credentials::GATED_ACTIONS {
        govern(
            &mut chain,
            GovernanceAction::SetCredentialRequirement {
                action: action.to_string(),
                requirement: None,
            },
        );
    }
}

/// Regression (issue 17): a requirement for a credential type no accredited issuer issues
/// (a typo, or a type whose issuer was never accredited) would close the action to everyone
/// while governance believes it is gated; it is refused when proposed, naming the types that
/// are issued, and again when executed if the accreditation was withdrawn meanwhile.
#[test]
fn a_requirement_for_a_credential_type_nobody_issues_is_refused_when_proposed_and_executed() {
    let mut chain = Chain::dev();
    let propose = |chain: &mut Chain, credential_type: &str| {
        let tx = chain.tx(
            &demo("hospital"),
            TxBody::Propose {
                action: GovernanceAction::SetCredentialRequirement {
                    action: "register_practitioner".into(),
                    requirement: Some(CredentialRequirement {
                        credential_type: CredentialType::new(credential_type).expect("valid"),
                        jurisdiction: None,
                    }),
                },
                ttl_ms: 60_000,
            },
        );
        chain.one(tx)
    };
    // Before any issuer is accredited, no type is issued.
    let err = propose(&mut chain, "physician_licence").expect_err("nobody issues it");
    assert!(
        err.to_string()
            .contains("none yet (accredit an issuer for it first)"),
        "{err}"
    );
    accredit_board(&mut chain);
    let err = propose(&mut chain, "physician_license").expect_err("a typo");
    let text = err.to_string();
    assert!(
        matches!(
            err,
            TxError::Invalid {
                field: "credential_type",
                ..
            }
        ) && text.contains("\"physician_license\"")
            && text.contains("the types accredited issuers issue are physician_licence"),
        "{text}"
    );
    // The right type is accepted; if the board's accreditation is withdrawn before the
    // proposal is approved, its execution is refused and nothing is gated.
    let opened = propose(&mut chain, "physician_licence").expect("proposal opens");
    let id = opened
        .events
        .iter()
        .find_map(|event| match event {
            Event::ProposalOpened { proposal, .. } => Some(*proposal),
            _ => None,
        })
        .expect("proposal id");
    govern(
        &mut chain,
        GovernanceAction::AccreditIssuer {
            issuer: party_id("licensing-board"),
            credential_types: vec![],
            jurisdictions: vec![],
        },
    );
    let tx = chain.tx(&demo("clinic"), TxBody::Approve { proposal: id });
    let err = chain.one(tx).expect_err("the type is no longer issued");
    assert_eq!(err.code(), "invalid_field", "{err}");
    assert!(
        chain
            .state
            .entries()
            .get(&medchain_state::credentials::requirement_key(
                "register_practitioner"
            ))
            .is_none()
    );
    // Two issuers of a type: withdrawing one leaves it issued.
    accredit_board(&mut chain);
    govern(
        &mut chain,
        GovernanceAction::AccreditIssuer {
            issuer: party_id("hospital"),
            credential_types: vec![
                physician(),
                CredentialType::new("nurse_licence").expect("valid"),
            ],
            jurisdictions: vec![code("US")],
        },
    );
    govern(
        &mut chain,
        GovernanceAction::AccreditIssuer {
            issuer: party_id("licensing-board"),
            credential_types: vec![],
            jurisdictions: vec![],
        },
    );
    propose(&mut chain, "physician_licence").expect("still issued by the hospital");
    propose(&mut chain, "nurse_licence").expect("issued by the hospital");
}
