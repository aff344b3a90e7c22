//! medchain's deterministic state machine.
//!
//! `apply(state, block) -> outcome` is a pure function: the block carries its height and time;
//! nothing here reads a clock, a disk, a socket or a random number generator. Every node that
//! applies the same blocks to the same state produces the same writes and events, and so the
//! same state root.
//!
//! # Shape
//!
//! ```text
//!            StateRead (async key-value reads; QMDB batches on a node, a map in tests)
//!                ^
//!                |
//!   BlockExecutor ---- writes: key -> value | deleted       (applied by the node to QMDB)
//!      |           \-- events: EventRecord, in order          (appended to the event log)
//!      |
//!      +-- per transaction: a TxContext overlay. The transaction's module reads and writes
//!          through it; on success its writes and events merge into the block, on failure
//!          they are dropped, so a failed transaction changes nothing.
//! ```
//!
//! Each domain module owns its transactions, its state keys (see [`keys`]) and its rules:
//! [`identity`] (parties, registration, key rotation), [`governance`] (proposals, approvals,
//! threshold), [`attest`] (time-stamped digests), [`credentials`] (issuers, licences, and the
//! policy check), [`records`] (record anchors, consent grants, audited reads, break-glass,
//! erasure) and [`supply`] (serialized units, lots, containers, custody, dispensing, recalls,
//! lineage, suspect-product alerts). [`lists`] keeps provable append-only lists (a patient's records, grants and
//! access log).
//!
//! Reads are `async` because a node's state lives in an authenticated database whose reads
//! may touch disk; this crate never awaits anything but those reads.

pub mod attest;
pub mod credentials;
pub mod error;
pub mod executor;
pub mod genesis;
pub mod governance;
pub mod identity;
pub mod keys;
pub mod lists;
pub mod memory;
pub mod records;
pub mod supply;
pub mod view;

pub use error::{AccessDenial, QueryError, StateError, TxError};
pub use executor::{BlockEnv, BlockExecutor, BlockOutput, TxOutcome};
pub use memory::MemoryState;
pub use view::StateRead;
