//! medchain's shared vocabulary: ids, keys, transactions, events, genesis, the canonical codec
//! and the limits every outside input is held to.
//!
//! This crate is pure: no I/O, no clocks, no randomness. Everything here has one canonical
//! binary encoding (`commonware-codec`, big-endian integers, length-prefixed byte strings,
//! one-byte enum tags) and one JSON form (hex for bytes, snake_case names).

pub mod api;
pub mod block;
pub mod bytes32;
pub mod codec;
pub mod credential;
pub mod dev;
pub mod disclosures;
pub mod error;
pub mod event;
pub mod genesis;
pub mod gs1;
pub mod hash;
pub mod httpsig;
pub mod identity;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod records;
pub mod supply;
pub mod time;
pub mod totp;
pub mod tx;

pub use block::{Header, OpRange, block_digest};
pub use error::ParseError;
pub use event::{Event, EventRecord, Outcome, Receipt};
pub use genesis::{ConsensusTiming, Genesis, GenesisParty, GenesisValidator};
pub use hash::{Hash32, hash_parts, sha256};
pub use identity::{KeyRecord, KeyRetirement, Party, PartyKind, Role, Roles};
pub use ids::{BlockHash, ChainId, PartyId, TxHash};
pub use keys::{EncryptionKey, Keypair, PublicKey, Signature};
pub use tx::{
    GovernanceAction, SignedTransaction, StatelessError, Transaction, TxBody, VerifiedTransaction,
};
