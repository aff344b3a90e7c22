//! The canonical transaction decoder (HTTP binary submissions, gossip, blocks).
#![no_main]

use commonware_codec::Encode;
use libfuzzer_sys::fuzz_target;
use medchain_types::SignedTransaction;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = SignedTransaction::decode_canonical(data) {
        // Whatever decodes re-encodes to the same bytes: one encoding per transaction.
        assert_eq!(tx.encode().as_ref(), data);
        let _ = tx.verify_signature();
    }
});
