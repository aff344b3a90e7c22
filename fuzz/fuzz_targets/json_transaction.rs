//! The JSON transaction form (HTTP JSON submissions).
#![no_main]

use libfuzzer_sys::fuzz_target;
use medchain_types::{ChainId, SignedTransaction};

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = serde_json::from_slice::<SignedTransaction>(data) {
        let chain = ChainId::new("fuzz").expect("valid");
        let _ = tx.check_stateless(&chain);
    }
});
