//! An in-memory state, for tests and tools. Its root is a Merkle root over the sorted entries,
//! so two memory states with the same entries have the same root.

use crate::{error::StateError, executor::BlockOutput, view::StateRead};
use medchain_types::{EventRecord, Hash32, hash::merkle_root, hash_parts};
use std::collections::BTreeMap;

/// A state held in a sorted map, with an event list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryState {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    events: Vec<EventRecord>,
}

impl MemoryState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a block's output.
    pub fn apply(&mut self, output: &BlockOutput) {
        for (key, value) in &output.writes {
            match value {
                Some(value) => {
                    self.entries.insert(key.clone(), value.clone());
                }
                None => {
                    self.entries.remove(key);
                }
            }
        }
        self.events.extend(output.events.iter().cloned());
    }

    /// Number of events so far.
    pub fn event_count(&self) -> u64 {
        self.events.len() as u64
    }

    /// The events so far.
    pub fn events(&self) -> &[EventRecord] {
        &self.events
    }

    /// The entries.
    pub fn entries(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.entries
    }

    /// A root over the entries and the events.
    pub fn root(&self) -> Hash32 {
        let leaves: Vec<Hash32> = self
            .entries
            .iter()
            .map(|(key, value)| hash_parts(b"medchain/memory/entry", &[key, value]))
            .collect();
        let events: Vec<Hash32> = self
            .events
            .iter()
            .map(|event| {
                hash_parts(
                    b"medchain/memory/event",
                    &[&commonware_codec::Encode::encode(event)],
                )
            })
            .collect();
        hash_parts(
            b"medchain/memory/root",
            &[&merkle_root(&leaves).0, &merkle_root(&events).0],
        )
    }
}

impl StateRead for MemoryState {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.entries.get(key).cloned())
    }
}
