//! Answering a pure query from finalized state, with the state entries it read.
//!
//! The queries whose answers come with proofs (a credential check, a page of a patient's
//! lists, the supply answers) are pure functions over a [`StateRead`] in `medchain-state`.
//! The node runs them over a [`Recorder`], which reads each key once from finalized state,
//! with a proof when asked, and keeps every entry it read; a client runs the very same
//! function over the entries it verified (`medchain_client::proven`), so what it shows is
//! computed by the node's rule from proven state, never read off the node's answer.
//!
//! Every entry of one answer with proofs must be proven against one block: an answer whose
//! reads straddled a block is read again ([`consistently`]), a few times at most.

use crate::service::NodeService;
use commonware_runtime::{Clock, Spawner};
use commonware_storage::Context as StorageContext;
use medchain_state::{StateError, StateRead};
use medchain_types::api::{Problem, StateResponse};
use std::{collections::HashMap, sync::Mutex};

/// The code of an answer whose reads straddled a block (retried, then answered 503).
pub(crate) const STATE_MOVED: &str = "state_moved";

/// How many times an answer with proofs is read again when a block lands in the middle of it.
const CONSISTENT_ATTEMPTS: usize = 4;

/// Runs `read` until its answer was read at one height, a few times at most.
pub(crate) async fn consistently<T, F, Fut>(mut read: F) -> Result<T, Problem>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Problem>>,
{
    let mut attempt = 1;
    loop {
        match read().await {
            Err(problem) if problem.code == STATE_MOVED && attempt < CONSISTENT_ATTEMPTS => {
                attempt += 1;
            }
            answer => return answer,
        }
    }
}

#[derive(Default)]
struct Recorded {
    entries: Vec<StateResponse>,
    /// Where each key's entry is in `entries`.
    index: HashMap<Vec<u8>, usize>,
    /// The height the first proven entry was read at.
    height: Option<u64>,
    /// The first problem a read met: the query sees a [`StateError`], the caller this.
    problem: Option<Problem>,
}

/// Reads finalized state for one answer, each key once, keeping what it read.
pub struct Recorder<'s, E: Spawner + StorageContext + Clock> {
    service: &'s NodeService<E>,
    proof: bool,
    /// The height the answer is for (the tip's when it started): with proofs, every entry
    /// must be proven at it.
    pinned: Option<u64>,
    recorded: Mutex<Recorded>,
    /// The finality bundle of the height the entries are proven at, built once per answer.
    finality: Mutex<Option<(u64, medchain_types::api::Finality)>>,
}

impl<'s, E: Spawner + StorageContext + Clock> Recorder<'s, E> {
    /// A recorder reading with proofs when `proof` is set, at whatever height the first
    /// read is proven.
    pub fn new(service: &'s NodeService<E>, proof: bool) -> Self {
        Self {
            service,
            proof,
            pinned: None,
            recorded: Mutex::new(Recorded::default()),
            finality: Mutex::new(None),
        }
    }

    /// A recorder whose proven reads must all be at `height` (the height whose block time
    /// the query was given).
    pub fn at(service: &'s NodeService<E>, proof: bool, height: u64) -> Self {
        Self {
            pinned: Some(height),
            ..Self::new(service, proof)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Reads `key` (once per answer, keeping its entry), answering its value.
    async fn read(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>, Problem> {
        let value_of = |entry: &StateResponse| match &entry.value {
            None => Ok(None),
            Some(value) => hex::decode(value)
                .map(Some)
                .map_err(|err| crate::service::internal(format!("{}: {err}", entry.key))),
        };
        let seen = {
            let recorded = self.lock();
            recorded
                .index
                .get(&key)
                .map(|&at| value_of(&recorded.entries[at]))
        };
        if let Some(value) = seen {
            return value;
        }
        let entry = self
            .service
            .state_with(key.clone(), self.proof, Some(&self.finality))
            .await?;
        let value = value_of(&entry)?;
        let mut recorded = self.lock();
        if self.proof {
            let first = *recorded
                .height
                .get_or_insert(self.pinned.unwrap_or(entry.height));
            if entry.height != first {
                return Err(Problem::new(
                    503,
                    STATE_MOVED,
                    "a block was applied while the answer was being read; retry",
                ));
            }
        }
        let at = recorded.entries.len();
        recorded.index.insert(key, at);
        recorded.entries.push(entry);
        Ok(value)
    }

    /// The entries read, in the order first read.
    pub fn entries(&self) -> Vec<StateResponse> {
        std::mem::take(&mut self.lock().entries)
    }

    /// What a query's failure means for the caller: the problem a read met, if one did (a
    /// proof not ready, a block landing mid-answer), else the query's own error as internal.
    pub fn problem(&self, err: StateError) -> Problem {
        self.lock()
            .problem
            .take()
            .unwrap_or_else(|| crate::service::internal(err.to_string()))
    }
}

impl<E: Spawner + StorageContext + Clock> StateRead for Recorder<'_, E> {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.read(key.to_vec()).await.map_err(|problem| {
            let detail = problem.detail.clone();
            self.lock().problem.get_or_insert(problem);
            StateError::Store(detail)
        })
    }
}
