//! The key-value view of state the state machine is written against.

use crate::error::StateError;
use std::future::Future;

/// Read access to committed (or speculative) state.
pub trait StateRead: Sync {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> impl Future<Output = Result<Option<Vec<u8>>, StateError>> + Send;
}
