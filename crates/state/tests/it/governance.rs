use crate::{Chain, demo};
use medchain_state::TxError;
use medchain_types::{
    EncryptionKey, Event, GovernanceAction, Keypair, PartyId, PartyKind, Role, Roles, TxBody,
    dev::party_id,
};

fn add_org(key: &Keypair) -> GovernanceAction {
    GovernanceAction::AddOrganisation {
        label: "Lakeside Lab".into(),
        signing_key: key.public_key(),
        encryption_key: EncryptionKey([1u8; 32]),
        roles: Roles::new([Role::Provider, Role::Registrar]),
    }
}

fn propose(action: GovernanceAction) -> TxBody {
    TxBody::Propose {
        action,
        ttl_ms: 60_000,
    }
}

#[test]
fn an_organisation_is_admitted_when_approvals_reach_the_threshold() {
    let mut chain = Chain::dev();
    let lab = Keypair::from_seed([11u8; 32]);
    let lab_id = PartyId::derive(&lab.public_key());
    let tx = chain.tx(&demo("hospital"), propose(add_org(&lab)));
    let outcome = chain.one(tx).expect("proposal opens");
    assert!(matches!(
        outcome.events[0],
        Event::ProposalOpened { proposal: 0, .. }
    ));
    assert!(
        chain.party(&lab_id).is_none(),
        "one approval of two is not enough"
    );

    // The same governor cannot approve twice.
    let tx = chain.tx(&demo("hospital"), TxBody::Approve { proposal: 0 });
    assert!(matches!(
        chain.one(tx),
        Err(TxError::AlreadyApproved { .. })
    ));

    let tx = chain.tx(&demo("clinic"), TxBody::Approve { proposal: 0 });
    let outcome = chain.one(tx).expect("second approval carries it");
    assert!(
        outcome
            .events
            .contains(&Event::OrganisationAdded { party: lab_id })
    );
    assert!(
        outcome
            .events
            .contains(&Event::ProposalExecuted { proposal: 0 })
    );
    let lab_party = chain.party(&lab_id).expect("admitted");
    assert_eq!(lab_party.kind, PartyKind::Organisation);

    // Executed proposals are closed.
    let tx = chain.tx(&demo("pharmacy"), TxBody::Approve { proposal: 0 });
    assert!(matches!(chain.one(tx), Err(TxError::ProposalClosed { .. })));

    // The new organisation can act at once.
    let tx = chain.tx(
        &lab,
        TxBody::Attest {
            subject: Default::default(),
            digest: Default::default(),
        },
    );
    chain.one(tx).expect("the admitted organisation signs");
}

#[test]
fn only_governors_propose_and_approve() {
    let mut chain = Chain::dev();
    let tx = chain.tx(
        &demo("patient-1"),
        propose(add_org(&Keypair::from_seed([12u8; 32]))),
    );
    assert!(matches!(chain.one(tx), Err(TxError::WrongKind { .. })));
    let tx = chain.tx(
        &demo("hospital"),
        propose(add_org(&Keypair::from_seed([12u8; 32]))),
    );
    chain.one(tx).expect("opens");
    let tx = chain.tx(&demo("patient-2"), TxBody::Approve { proposal: 0 });
    assert!(matches!(chain.one(tx), Err(TxError::WrongKind { .. })));
    let tx = chain.tx(&demo("clinic"), TxBody::Approve { proposal: 7 });
    assert!(matches!(chain.one(tx), Err(TxError::UnknownProposal(7))));
}

#[test]
fn expired_proposals_cannot_be_approved() {
    let mut chain = Chain::dev();
    let tx = chain.tx(
        &demo("hospital"),
        TxBody::Propose {
            action: add_org(&Keypair::from_seed([13u8; 32])),
            ttl_ms: 500,
        },
    );
    chain.one(tx).expect("opens");
    // Each block advances time by one second.
    let tx = chain.tx(&demo("clinic"), TxBody::Approve { proposal: 0 });
    assert!(matches!(
        chain.one(tx),
        Err(TxError::ProposalExpired { .. })
    ));
}

#[test]
fn thresholds_stay_within_the_number_of_governors() {
    let mut chain = Chain::dev();
    let tx = chain.tx(
        &demo("hospital"),
        propose(GovernanceAction::SetThreshold { threshold: 7 }),
    );
    assert!(matches!(
        chain.one(tx),
        Err(TxError::Invalid {
            field: "threshold",
            ..
        })
    ));
    let tx = chain.tx(
        &demo("hospital"),
        propose(GovernanceAction::SetThreshold { threshold: 1 }),
    );
    chain.one(tx).expect("opens");
    let tx = chain.tx(&demo("regulator"), TxBody::Approve { proposal: 0 });
    let outcome = chain.one(tx).expect("carries");
    assert!(
        outcome
            .events
            .contains(&Event::ThresholdChanged { threshold: 1 })
    );
    // With threshold 1 a single proposal executes at once.
    let tx = chain.tx(
        &demo("hospital"),
        propose(GovernanceAction::SetRoles {
            party: party_id("pharmacy"),
            roles: Roles::new([Role::Dispenser]),
        }),
    );
    let outcome = chain.one(tx).expect("executes");
    assert!(
        outcome
            .events
            .contains(&Event::ProposalExecuted { proposal: 1 })
    );
    let pharmacy = chain.party(&party_id("pharmacy")).expect("exists");
    assert!(!pharmacy.roles.contains(Role::Governor));
    // The pharmacy is no longer a governor.
    let tx = chain.tx(
        &demo("pharmacy"),
        propose(GovernanceAction::SetThreshold { threshold: 1 }),
    );
    assert!(matches!(
        chain.one(tx),
        Err(TxError::MissingRole {
            role: Role::Governor,
            ..
        })
    ));
}
