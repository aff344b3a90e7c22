//! medchain's node: Commonware consensus (simplex), marshal, authenticated p2p and QMDB-backed
//! state, wrapped around the pure state machine of `medchain-state`.
//!
//! Everything Commonware lives here (and in `medchain-testing`), behind our own types, so an
//! upgrade of the pinned release touches one crate.

pub mod accounts;
pub mod app;
pub mod blobs;
pub mod block;
pub mod custodian;
pub mod db;
pub mod engine;
pub mod epcis;
pub mod gossip;
pub mod light;
pub mod mempool;
pub mod query;
pub mod replica;
pub mod service;
pub mod supply;
