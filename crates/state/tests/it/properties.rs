//! Properties of `apply`: determinism, and that refused transactions change nothing.

use crate::{Chain, demo};
use medchain_types::{
    EncryptionKey, GovernanceAction, Hash32, Keypair, PartyKind, Role, Roles, SignedTransaction,
    Transaction, TxBody,
};
use proptest::prelude::*;

const ACTORS: &[&str] = &[
    "hospital",
    "clinic",
    "pharmacy",
    "patient-1",
    "patient-2",
    "regulator",
];

/// A step of a random scenario: who acts, what it does, and how its nonce is skewed.
#[derive(Clone, Debug)]
struct Step {
    actor: usize,
    action: u8,
    seed: u8,
    nonce_skew: i8,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..ACTORS.len(),
        0u8..6,
        any::<u8>(),
        prop_oneof![4 => Just(0i8), 1 => -1i8..=2],
    )
        .prop_map(|(actor, action, seed, nonce_skew)| Step {
            actor,
            action,
            seed,
            nonce_skew,
        })
}

fn body(step: &Step) -> TxBody {
    let key = Keypair::from_seed([step.seed; 32]);
    match step.action {
        0 => TxBody::RegisterParty {
            kind: PartyKind::Practitioner,
            signing_key: key.public_key(),
            encryption_key: EncryptionKey([step.seed; 32]),
            label: format!("practitioner {}", step.seed),
            roles: Roles::new([Role::Provider]),
        },
        1 => TxBody::RotateKeys {
            signing_key: key.public_key(),
            encryption_key: EncryptionKey([step.seed; 32]),
        },
        2 => TxBody::Propose {
            action: GovernanceAction::AddOrganisation {
                label: format!("org {}", step.seed),
                signing_key: key.public_key(),
                encryption_key: EncryptionKey([0u8; 32]),
                roles: Roles::new([Role::Provider]),
            },
            ttl_ms: 10_000,
        },
        3 => TxBody::Approve {
            proposal: u64::from(step.seed % 4),
        },
        4 => TxBody::Propose {
            action: GovernanceAction::SetThreshold {
                threshold: u32::from(step.seed % 8),
            },
            ttl_ms: 10_000,
        },
        _ => TxBody::Attest {
            subject: Hash32([step.seed; 32]),
            digest: Hash32([1; 32]),
        },
    }
}

/// Builds a signed transaction for the step against the chain's current nonces. Actors whose
/// keys were rotated keep signing with the demo key and are refused, which the test wants.
fn build(chain: &Chain, step: &Step) -> SignedTransaction {
    let keypair = demo(ACTORS[step.actor]);
    let tx = chain.tx(&keypair, body(step));
    let nonce = tx
        .transaction
        .nonce
        .saturating_add_signed(i64::from(step.nonce_skew));
    Transaction {
        nonce,
        ..tx.transaction
    }
    .sign(&keypair)
}

fn run(blocks: &[Vec<Step>]) -> (Vec<Hash32>, Vec<Vec<bool>>) {
    let mut chain = Chain::dev();
    let mut roots = Vec::new();
    let mut results = Vec::new();
    for steps in blocks {
        // Transactions of one block are built against the state before the block, so later
        // transactions of the same actor in the block meet a nonce already used.
        let txs: Vec<SignedTransaction> = steps.iter().map(|step| build(&chain, step)).collect();
        results.push(chain.block(&txs).iter().map(Result::is_ok).collect());
        roots.push(chain.state.root());
    }
    (roots, results)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The same blocks give the same roots and the same outcomes, on any node.
    #[test]
    fn same_blocks_same_roots(blocks in prop::collection::vec(prop::collection::vec(step(), 0..6), 1..8)) {
        let first = run(&blocks);
        let second = run(&blocks);
        prop_assert_eq!(first, second);
    }

    /// A refused transaction leaves the state exactly as it was.
    #[test]
    fn refused_transactions_change_nothing(prefix in prop::collection::vec(step(), 0..10), probe in step()) {
        let mut chain = Chain::dev();
        for step in &prefix {
            let tx = build(&chain, step);
            let _ = chain.one(tx);
        }
        let tx = build(&chain, &probe);
        // Apply the probe on a copy; if it was refused, the copy's root equals the original's
        // (the block height and time live in the block, not in state).
        let before = chain.state.clone();
        let result = chain.one(tx);
        if result.is_err() {
            prop_assert_eq!(chain.state.root(), before.root());
        } else {
            prop_assert_ne!(chain.state.root(), before.root());
        }
    }
}
