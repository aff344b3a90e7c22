//! The key-value view of state the state machine is written against.

use crate::error::StateError;
use std::future::Future;

/// Read access to committed (or speculative) state.
pub trait StateRead: Sync {
    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> impl Future<Output = Result<Option<Vec<u8>>, StateError>> + Send;

    /// The values stored under `keys`, in order. A store that can look many keys up at once
    /// (one lock, one pass over its index) overrides this; by default it reads them one by one.
    fn get_many(
        &self,
        keys: &[&[u8]],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, StateError>> + Send {
        async move {
            let mut values = Vec::with_capacity(keys.len());
            for key in keys {
                values.push(self.get(key).await?);
            }
            Ok(values)
        }
    }
}
