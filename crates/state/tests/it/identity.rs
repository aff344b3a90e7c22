use crate::{Chain, demo};
use medchain_state::{TxError, keys};
use medchain_types::{
    EncryptionKey, Event, KeyRecord, KeyRetirement, Keypair, PartyId, PartyKind, PublicKey, Role,
    Roles, Transaction, TxBody,
};

fn key_record(chain: &Chain, key: &PublicKey) -> KeyRecord {
    use commonware_codec::DecodeExt;
    let bytes = chain
        .state
        .entries()
        .get(&keys::signing_key(key))
        .expect("every key a party held keeps its record");
    KeyRecord::decode(bytes.clone()).expect("decodes")
}

fn register(kind: PartyKind, key: &Keypair, label: &str, roles: &[Role]) -> TxBody {
    TxBody::RegisterParty {
        kind,
        signing_key: key.public_key(),
        encryption_key: EncryptionKey([9u8; 32]),
        label: label.into(),
        roles: Roles::new(roles.iter().copied()),
    }
}

#[test]
fn registrar_registers_a_practitioner_and_the_nonce_advances() {
    let mut chain = Chain::dev();
    let hospital = demo("hospital");
    let doctor = Keypair::from_seed([1u8; 32]);
    let tx = chain.tx(
        &hospital,
        register(PartyKind::Practitioner, &doctor, "Dr A", &[Role::Provider]),
    );
    let outcome = chain.one(tx).expect("registration succeeds");
    let id = PartyId::derive(&doctor.public_key());
    assert_eq!(
        outcome.events,
        vec![Event::PartyRegistered {
            party: id,
            kind: PartyKind::Practitioner,
            organisation: Some(medchain_types::dev::party_id("hospital")),
        }]
    );
    let party = chain.party(&id).expect("stored");
    assert_eq!(
        party.organisation,
        Some(medchain_types::dev::party_id("hospital"))
    );
    assert_eq!(chain.nonce(&medchain_types::dev::party_id("hospital")), 1);
}

#[test]
fn a_replayed_transaction_is_refused_and_changes_nothing() {
    let mut chain = Chain::dev();
    let hospital = demo("hospital");
    let tx = chain.tx(
        &hospital,
        register(PartyKind::Patient, &Keypair::from_seed([2u8; 32]), "", &[]),
    );
    chain.one(tx.clone()).expect("first time succeeds");
    let root = chain.state.root();
    let err = chain.one(tx).expect_err("replay is refused");
    assert!(
        matches!(
            err,
            TxError::NonceUsed {
                expected: 1,
                found: 0,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(chain.state.root(), root);
}

#[test]
fn nonce_gaps_unknown_signers_and_wrong_keys_are_refused() {
    let mut chain = Chain::dev();
    let hospital = demo("hospital");
    let mut tx = chain.tx(
        &hospital,
        TxBody::Attest {
            subject: Default::default(),
            digest: Default::default(),
        },
    );
    tx.transaction.nonce = 5;
    let tx = tx.transaction.sign(&hospital);
    assert!(matches!(
        chain.one(tx),
        Err(TxError::NonceGap {
            expected: 0,
            found: 5,
            ..
        })
    ));

    let stranger = Keypair::from_seed([3u8; 32]);
    let tx = chain.tx(
        &stranger,
        TxBody::Attest {
            subject: Default::default(),
            digest: Default::default(),
        },
    );
    assert!(matches!(chain.one(tx), Err(TxError::UnknownSigner(_))));

    // The hospital's id with the clinic's key.
    let tx = Transaction {
        chain_id: Chain::chain_id(),
        signer: medchain_types::dev::party_id("hospital"),
        public_key: demo("clinic").public_key(),
        nonce: 0,
        body: TxBody::Attest {
            subject: Default::default(),
            digest: Default::default(),
        },
    }
    .sign(&demo("clinic"));
    assert!(matches!(chain.one(tx), Err(TxError::WrongKey { .. })));
}

#[test]
fn only_registrars_register_and_never_organisations_or_governed_roles() {
    let mut chain = Chain::dev();
    let key = Keypair::from_seed([4u8; 32]);
    // The manufacturer is not a registrar.
    let tx = chain.tx(
        &demo("manufacturer"),
        register(PartyKind::Device, &key, "line 1", &[]),
    );
    assert!(matches!(
        chain.one(tx),
        Err(TxError::MissingRole {
            role: Role::Registrar,
            ..
        })
    ));
    // A patient is not an organisation.
    let tx = chain.tx(
        &demo("patient-1"),
        register(PartyKind::Device, &key, "x", &[]),
    );
    assert!(matches!(chain.one(tx), Err(TxError::WrongKind { .. })));
    let hospital = demo("hospital");
    let tx = chain.tx(
        &hospital,
        register(PartyKind::Organisation, &key, "Shadow org", &[]),
    );
    assert!(matches!(
        chain.one(tx),
        Err(TxError::Invalid { field: "kind", .. })
    ));
    let tx = chain.tx(
        &hospital,
        register(PartyKind::Practitioner, &key, "Dr B", &[Role::Governor]),
    );
    assert!(matches!(
        chain.one(tx),
        Err(TxError::Invalid { field: "roles", .. })
    ));
    // A role the hospital does not hold.
    let tx = chain.tx(
        &hospital,
        register(PartyKind::Practitioner, &key, "Dr B", &[Role::Dispenser]),
    );
    assert!(matches!(
        chain.one(tx),
        Err(TxError::MissingRole {
            role: Role::Dispenser,
            ..
        })
    ));
    // Patients carry no label.
    let tx = chain.tx(
        &hospital,
        register(PartyKind::Patient, &key, "Jane Doe", &[]),
    );
    assert!(matches!(
        chain.one(tx),
        Err(TxError::Invalid { field: "label", .. })
    ));
    assert!(chain.party(&PartyId::derive(&key.public_key())).is_none());
}

#[test]
fn keys_are_never_reused() {
    let mut chain = Chain::dev();
    let hospital = demo("hospital");
    // The clinic's key is taken.
    let tx = chain.tx(
        &hospital,
        register(PartyKind::Device, &demo("clinic"), "x", &[]),
    );
    assert!(matches!(chain.one(tx), Err(TxError::KeyInUse(_))));
}

#[test]
fn rotated_keys_take_over_and_the_old_key_is_refused() {
    let mut chain = Chain::dev();
    let old = demo("patient-1");
    let new = Keypair::from_seed([5u8; 32]);
    let id = medchain_types::dev::party_id("patient-1");
    let tx = chain.tx(
        &old,
        TxBody::RotateKeys {
            signing_key: new.public_key(),
            encryption_key: EncryptionKey([7u8; 32]),
        },
    );
    let outcome = chain.one(tx).expect("rotation succeeds");
    assert_eq!(
        outcome.events,
        vec![Event::KeysRotated {
            party: id,
            key_version: 1
        }]
    );
    let party = chain.party(&id).expect("exists");
    assert_eq!(party.signing_key, new.public_key());
    assert_eq!(party.key_version, 1);
    // The old key's record says when it was rotated out: what it signed before stands.
    let rotated_at = chain.time_ms;
    let retired = key_record(&chain, &old.public_key());
    assert_eq!(retired.party, id);
    assert_eq!(retired.retired, Some((rotated_at, KeyRetirement::Rotated)));
    assert_eq!(retired.trusted_at(rotated_at - 1), Ok(()));
    assert!(retired.trusted_at(rotated_at).is_err());
    let current = key_record(&chain, &new.public_key());
    assert_eq!(
        (current.key_version, current.active_from_ms, current.retired),
        (1, rotated_at, None)
    );
    assert!(current.trusted_at(rotated_at - 1).is_err());

    let attest = TxBody::Attest {
        subject: Default::default(),
        digest: Default::default(),
    };
    let stale = Transaction {
        chain_id: Chain::chain_id(),
        signer: id,
        public_key: old.public_key(),
        nonce: party.nonce,
        body: attest.clone(),
    }
    .sign(&old);
    assert!(matches!(
        chain.one(stale),
        Err(TxError::WrongKey { key_version: 1, .. })
    ));
    let fresh = chain.tx(&new, attest);
    chain.one(fresh).expect("the new key signs");
    // The old key cannot come back, not even for the same party.
    let back = chain.tx(
        &new,
        TxBody::RotateKeys {
            signing_key: old.public_key(),
            encryption_key: EncryptionKey([7u8; 32]),
        },
    );
    assert!(matches!(chain.one(back), Err(TxError::KeyInUse(_))));
}

#[test]
fn a_compromised_key_is_replaced_through_the_organisation_and_governance() {
    use medchain_types::GovernanceAction;
    let mut chain = Chain::dev();
    let patient = medchain_types::dev::party_id("patient-1");
    let stolen = demo("patient-1");
    let fresh = Keypair::from_seed([60; 32]);
    let recover = TxBody::Propose {
        action: GovernanceAction::RecoverKeys {
            party: patient,
            signing_key: fresh.public_key(),
            encryption_key: EncryptionKey([6; 32]),
        },
        ttl_ms: 60_000,
    };
    // The patient's own organisation (the hospital) proposes it; a party that is neither that
    // organisation nor a governor cannot.
    let tx = chain.tx(&demo("patient-2"), recover.clone());
    assert!(matches!(chain.one(tx), Err(TxError::WrongKind { .. })));
    let tx = chain.tx(&demo("hospital"), recover);
    chain.one(tx).expect("the hospital proposes");
    // Before approval, the old key still signs.
    let attest = TxBody::Attest {
        subject: Default::default(),
        digest: Default::default(),
    };
    let tx = chain.tx(&stolen, attest.clone());
    chain.one(tx).expect("still the current key");
    let tx = chain.tx(&demo("regulator"), TxBody::Approve { proposal: 0 });
    let outcome = chain.one(tx).expect("approved");
    assert!(
        outcome
            .events
            .contains(&Event::ProposalExecuted { proposal: 0 })
    );
    let party = chain.party(&patient).expect("exists");
    assert_eq!(party.signing_key, fresh.public_key());
    // A key replaced as compromised is trusted for nothing, whatever time a signature claims.
    let compromised = key_record(&chain, &stolen.public_key());
    assert_eq!(
        compromised.retired,
        Some((chain.time_ms, KeyRetirement::Recovered))
    );
    assert!(compromised.trusted_at(0).is_err());
    // Everything signed with the old key from now on is refused; the new key signs.
    let stale = Transaction {
        chain_id: Chain::chain_id(),
        signer: patient,
        public_key: stolen.public_key(),
        nonce: party.nonce,
        body: attest.clone(),
    }
    .sign(&stolen);
    assert!(matches!(chain.one(stale), Err(TxError::WrongKey { .. })));
    let tx = chain.tx(&fresh, attest);
    chain
        .one(tx)
        .expect("the recovered party signs with its new key");
}

/// A transaction that a proposer refuses on admission (as too costly) leaves the block as if it
/// had never run: no writes, no receipt, no event, and the signer's nonce unused, so the same
/// transaction can still commit later.
#[test]
fn a_transaction_refused_on_admission_leaves_no_trace() {
    use medchain_state::{BlockEnv, BlockExecutor};
    let mut chain = Chain::dev();
    let hospital = demo("hospital");
    let attest = |n: u8| TxBody::Attest {
        subject: medchain_types::Hash32([n; 32]),
        digest: Default::default(),
    };
    let first = chain.tx(&hospital, attest(1));
    let mut second = first.transaction.clone();
    second.nonce += 1;
    second.body = attest(2);
    let second = second.sign(&hospital);
    let verify = |tx: &medchain_types::SignedTransaction| {
        medchain_types::VerifiedTransaction::verify(tx.clone(), &Chain::chain_id()).expect("signed")
    };
    let env = BlockEnv {
        chain_id: Chain::chain_id(),
        height: chain.height + 1,
        time_ms: chain.time_ms + 1_000,
        event_base: chain.state.event_count(),
    };
    let output = futures::executor::block_on(async {
        let mut block = BlockExecutor::new(&chain.state, env);
        block.apply(&verify(&first)).await.expect("applied");
        let (writes, committed) = (block.write_count(), block.committed());
        let mut told = 0;
        let refused = block
            .apply_admitted(&verify(&second), |writes| {
                told = writes;
                Err(TxError::TooCostly {
                    took_ms: 900,
                    writes,
                    limit_ms: 800,
                })
            })
            .await;
        assert!(
            matches!(refused, Err(TxError::TooCostly { limit_ms: 800, .. })),
            "{refused:?}"
        );
        assert!(told > 0, "admission is told the transaction's writes");
        assert_eq!(
            (block.write_count(), block.committed()),
            (writes, committed)
        );
        block.finish()
    });
    assert_eq!(output.events.len(), 1, "only the first attestation's event");
    chain.height += 1;
    chain.time_ms += 1_000;
    chain.state.apply(&output);
    assert!(
        chain
            .state
            .entries()
            .get(&keys::receipt(&second.hash()))
            .is_none()
    );
    let hospital_id = first.transaction.signer;
    assert_eq!(chain.nonce(&hospital_id), first.transaction.nonce + 1);
    // Its nonce is still the next one: the same transaction commits in a later block.
    chain.one(second).expect("commits later");
    assert_eq!(chain.nonce(&hospital_id), first.transaction.nonce + 2);
}
