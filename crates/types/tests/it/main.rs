//! Decoders of outside input never panic, and the canonical encoding round-trips.

use commonware_codec::Encode;
use medchain_types::{
    ChainId, EncryptionKey, GovernanceAction, Hash32, Keypair, PartyId, PartyKind, Role, Roles,
    SignedTransaction, Transaction, TxBody,
};
use proptest::prelude::*;

fn body() -> impl Strategy<Value = TxBody> {
    prop_oneof![
        (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(subject, digest)| TxBody::Attest {
            subject: Hash32(subject),
            digest: Hash32(digest)
        }),
        (any::<u64>()).prop_map(|proposal| TxBody::Approve { proposal }),
        (any::<[u8; 32]>(), "[a-zA-Z ]{0,40}", 0usize..4).prop_map(|(seed, label, role)| {
            TxBody::RegisterParty {
                kind: PartyKind::Practitioner,
                signing_key: Keypair::from_seed(seed).public_key(),
                encryption_key: EncryptionKey(seed),
                label,
                roles: Roles::new(Role::ALL.iter().copied().take(role)),
            }
        }),
        (any::<u32>(), any::<u64>()).prop_map(|(threshold, ttl_ms)| TxBody::Propose {
            action: GovernanceAction::SetThreshold { threshold },
            ttl_ms
        }),
    ]
}

proptest! {
    #[test]
    fn random_bytes_never_panic_the_transaction_decoder(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = SignedTransaction::decode_canonical(&bytes);
    }

    #[test]
    fn transactions_round_trip_and_any_bit_flip_breaks_the_signature(
        seed in any::<[u8; 32]>(),
        nonce in any::<u64>(),
        body in body(),
        flip in any::<prop::sample::Index>(),
    ) {
        let keypair = Keypair::from_seed(seed);
        let chain = ChainId::new("prop-chain").expect("valid");
        let tx = Transaction {
            chain_id: chain.clone(),
            signer: PartyId::derive(&keypair.public_key()),
            public_key: keypair.public_key(),
            nonce,
            body,
        }
        .sign(&keypair);
        let bytes = tx.encode().to_vec();
        let decoded = SignedTransaction::decode_canonical(&bytes).expect("round-trips");
        prop_assert_eq!(&decoded, &tx);
        prop_assert!(decoded.verify_signature().is_ok());
        let mut corrupted = bytes.clone();
        let at = flip.index(corrupted.len());
        corrupted[at] ^= 0x01;
        if let Ok(other) = SignedTransaction::decode_canonical(&corrupted) {
            prop_assert!(other.verify_signature().is_err() || other.encode().to_vec() == bytes);
        }
    }
}
