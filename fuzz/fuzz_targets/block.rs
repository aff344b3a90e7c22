//! The block decoder (blocks from peers).
#![no_main]

use commonware_codec::{DecodeExt, Encode};
use libfuzzer_sys::fuzz_target;
use medchain_node::block::Block;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = Block::decode(data.to_vec()) {
        assert_eq!(block.encode().as_ref(), data);
    }
});
