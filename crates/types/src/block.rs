//! Block headers: what each block commits to.
//!
//! ```text
//! Header
//! ├── height, parent, time_ms        the chain
//! ├── tx_root, tx_count              Merkle root of the block's transaction hashes
//! ├── state_root                     canonical root of the authenticated state after the block
//! ├── state_ops_root, state_ops      the state database's operation log (what a syncing node
//! │                                  checks the data it fetches against)
//! └── events_root, events            root and span of the append-only event log after the block
//! ```
//!
//! A block's digest is `SHA-256(consensus context || encode(header))`; the consensus context
//! (round, leader, parent view) is carried next to the header in proofs, so a light client can
//! recompute the digest that 2f+1 validators signed in the finalization certificate.

use crate::{hash::Hash32, ids::BlockHash};
use bytes::BufMut;
use commonware_codec::{Buf, Error, FixedSize, Read, ReadExt, Write};
use serde::{Deserialize, Serialize};

/// A half-open range of database operation locations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRange {
    pub start: u64,
    pub end: u64,
}

/// A block header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub height: u64,
    pub parent: BlockHash,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub tx_root: Hash32,
    pub tx_count: u32,
    pub state_root: Hash32,
    pub state_ops_root: Hash32,
    pub state_ops: OpRange,
    pub events_root: Hash32,
    pub events: OpRange,
}

impl Header {
    /// The first event location this block appended; with `events.end - 1` (the block's commit
    /// operation) it bounds the block's events given its parent's header.
    pub fn event_span(&self, parent: &Header) -> OpRange {
        OpRange {
            start: parent.events.end,
            end: self.events.end.saturating_sub(1),
        }
    }
}

impl Write for Header {
    fn write(&self, buf: &mut impl BufMut) {
        self.height.write(buf);
        self.parent.write(buf);
        self.time_ms.write(buf);
        self.tx_root.write(buf);
        self.tx_count.write(buf);
        self.state_root.write(buf);
        self.state_ops_root.write(buf);
        self.state_ops.start.write(buf);
        self.state_ops.end.write(buf);
        self.events_root.write(buf);
        self.events.start.write(buf);
        self.events.end.write(buf);
    }
}

impl FixedSize for Header {
    const SIZE: usize = 8 + 32 + 8 + 32 + 4 + 32 + 32 + 16 + 32 + 16;
}

impl Read for Header {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Header {
            height: u64::read(buf)?,
            parent: BlockHash::read(buf)?,
            time_ms: u64::read(buf)?,
            tx_root: Hash32::read(buf)?,
            tx_count: u32::read(buf)?,
            state_root: Hash32::read(buf)?,
            state_ops_root: Hash32::read(buf)?,
            state_ops: OpRange {
                start: u64::read(buf)?,
                end: u64::read(buf)?,
            },
            events_root: Hash32::read(buf)?,
            events: OpRange {
                start: u64::read(buf)?,
                end: u64::read(buf)?,
            },
        })
    }
}

/// The digest consensus signs for a block with this context encoding and header.
pub fn block_digest(context: &[u8], header: &Header) -> BlockHash {
    use commonware_codec::Encode;
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(context);
    hasher.update(header.encode());
    BlockHash(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};

    #[test]
    fn header_round_trips_at_its_fixed_size() {
        let header = Header {
            height: 7,
            time_ms: 9,
            tx_count: 3,
            events: OpRange { start: 1, end: 5 },
            ..Header::default()
        };
        let bytes = header.encode();
        assert_eq!(bytes.len(), Header::SIZE);
        assert_eq!(Header::decode(bytes).expect("decodes"), header);
    }
}
