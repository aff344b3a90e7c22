//! Proven answers: what a client shows when it trusts no node.
//!
//! A proof is only as good as the question it answers. A node (or anything on the path to it)
//! can send a perfectly valid proof of the wrong key, leave entries out of a list, replay a
//! genuine proof from before a credential was revoked, or change a field the proofs do not
//! cover. So a proven answer is never read off the node's answer. Instead:
//!
//! 1. Every state entry the answer carries is verified offline against the genesis validators
//!    ([`ProvenState::verify`]); all of them must be proven against one finalized block, and
//!    that block must be fresh enough ([`Freshness`]).
//! 2. The answer is recomputed by running the *same pure query the node runs*
//!    (`medchain_state::...::query` functions) over the proven entries. The query derives
//!    every key it reads from the question, so a proof of another key is never looked at; it
//!    reads a list's proven count and then every item up to it, so a dropped or reordered
//!    entry is a key it finds unproven ([`medchain_state::StateError::Unproven`]); and it
//!    computes the verdict, `valid` or the standing with the node's own rule.
//! 3. The node's answer must equal the recomputed one in every field ([`same_answer`]); a
//!    difference is refused, naming the field. What the caller gets and shows is the
//!    recomputed answer.
//!
//! ```text
//!  question ──► node ──► answer + entries ──► verify each entry (genesis, one height, fresh)
//!      │                                               │
//!      └──────────► pure query over proven entries ◄───┘
//!                              │
//!                   recomputed answer ══ node's answer ? ──► shown
//! ```

use crate::verify::{VerifyError, verify_finality, verify_under};
use medchain_state::{StateError, StateRead};
use medchain_types::{
    Genesis,
    api::{StateResponse, WithEntries},
};
use std::collections::HashMap;

/// Most state entries one answer may carry: the largest honest answers (a lineage of 1,000
/// units, a proven holdings page with its containers and shipments) carry a few thousand.
pub const ENTRIES_MAX: usize = 100_000;

/// Why an answer cannot be shown as proven.
#[derive(Debug, thiserror::Error)]
pub enum ProvenError {
    #[error("the proof of {key} does not verify: {source}")]
    Proof { key: String, source: VerifyError },
    #[error(
        "{key} is proven at height {other}, the answer's other entries at {first}: one answer rests on one block"
    )]
    Heights { key: String, first: u64, other: u64 },
    #[error("the answer carries two different proven values for {key}")]
    Conflicting { key: String },
    #[error("the answer carries no proven state entries")]
    Empty,
    #[error(
        "the answer carries {found} state entries, more than the {ENTRIES_MAX} any answer needs"
    )]
    TooMany { found: usize },
    #[error(
        "the answer is proven at height {height}, below height {floor}, which this client already saw finalized: a stale or replayed answer"
    )]
    Stale { height: u64, floor: u64 },
    #[error(
        "the answer is proven against a block {age_secs} s old, more than the {max_age_secs} s allowed: a stalled chain or a replayed answer (allow an older one with a longer freshness bound)"
    )]
    TooOld { age_secs: u64, max_age_secs: u64 },
    #[error("the proven entries do not answer the question: {0}")]
    Incomplete(StateError),
    #[error("the finality of block {height} does not verify: {source}")]
    Block { height: u64, source: VerifyError },
    #[error("the answer carries a transaction that cannot be read: {0}")]
    Transaction(String),
    #[error("the node's answer differs from what its proofs show, in `{field}`")]
    Differs { field: String },
    #[error(
        "the node answered, but the proven state says the question has no answer: {detail} ({code})"
    )]
    Unanswerable { code: &'static str, detail: String },
    #[error(transparent)]
    Node(#[from] crate::ClientError),
}

impl From<StateError> for ProvenError {
    fn from(err: StateError) -> Self {
        Self::Incomplete(err)
    }
}

impl From<medchain_state::QueryError> for ProvenError {
    fn from(err: medchain_state::QueryError) -> Self {
        match err {
            medchain_state::QueryError::State(err) => Self::Incomplete(err),
            medchain_state::QueryError::Refused { code, detail, .. } => {
                Self::Unanswerable { code, detail }
            }
        }
    }
}

/// How fresh a proven answer must be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Freshness {
    /// The lowest acceptable height: the highest finalized height the client already knows.
    /// A proof below it is a stale or replayed answer.
    pub floor: u64,
    /// At most this old, against `now_ms`: the proven block's time must be within it.
    pub max_age_ms: Option<u64>,
    /// The caller's clock, in milliseconds since the Unix epoch (for `max_age_ms`).
    pub now_ms: u64,
}

impl Freshness {
    /// No bound beyond `floor`.
    pub fn at_least(floor: u64) -> Self {
        Self {
            floor,
            ..Self::default()
        }
    }

    /// At least `floor`, and proven against a block at most `max_age_ms` older than the local
    /// clock.
    pub fn within(floor: u64, max_age_ms: u64) -> Self {
        Self {
            floor,
            max_age_ms: Some(max_age_ms),
            now_ms: now_ms(),
        }
    }

    fn check(&self, height: u64, time_ms: u64) -> Result<(), ProvenError> {
        if height < self.floor {
            return Err(ProvenError::Stale {
                height,
                floor: self.floor,
            });
        }
        if let Some(max_age_ms) = self.max_age_ms {
            let age_ms = self.now_ms.saturating_sub(time_ms);
            if age_ms > max_age_ms {
                return Err(ProvenError::TooOld {
                    age_secs: age_ms / 1000,
                    max_age_secs: max_age_ms / 1000,
                });
            }
        }
        Ok(())
    }
}

/// The local clock, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// State entries verified against one finalized block: a read view a pure query runs over. A
/// key the answer proves neither present nor absent is not in it, and reading it fails with
/// [`StateError::Unproven`].
#[derive(Clone, Debug)]
pub struct ProvenState {
    /// The height every entry is proven at.
    pub height: u64,
    /// That block's time.
    pub time_ms: u64,
    entries: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl ProvenState {
    /// Verifies every entry against `genesis` (each indexed by the key its proof is for, never
    /// by what the answer says it is), at one height, fresh as `freshness` asks.
    pub fn verify(
        genesis: &Genesis,
        answers: &[&StateResponse],
        freshness: &Freshness,
    ) -> Result<Self, ProvenError> {
        if answers.len() > ENTRIES_MAX {
            return Err(ProvenError::TooMany {
                found: answers.len(),
            });
        }
        let mut at: Option<(u64, u64)> = None;
        let mut entries = HashMap::with_capacity(answers.len());
        // The finality bundle already checked, and the header it proves: entries carrying the
        // same bundle are checked against that header without checking its certificate again.
        let mut checked: Option<(&medchain_types::api::Finality, medchain_types::Header)> = None;
        for answer in answers {
            let proof_error = |source| ProvenError::Proof {
                key: medchain_state::keys::describe(
                    &hex::decode(&answer.key_hex).unwrap_or_default(),
                ),
                source,
            };
            let finality = &answer
                .proof
                .as_ref()
                .ok_or_else(|| proof_error(VerifyError::NoProof))?
                .finality;
            let header = match &checked {
                Some((known, header)) if *known == finality => header.clone(),
                _ => {
                    let header = verify_finality(genesis, finality).map_err(proof_error)?;
                    checked = Some((finality, header.clone()));
                    header
                }
            };
            let verified = verify_under(&header, answer).map_err(proof_error)?;
            let key_text = medchain_state::keys::describe(&verified.key);
            let (first, _) = *at.get_or_insert((verified.height, verified.time_ms));
            if verified.height != first {
                return Err(ProvenError::Heights {
                    key: key_text,
                    first,
                    other: verified.height,
                });
            }
            match entries.entry(verified.key) {
                std::collections::hash_map::Entry::Occupied(slot) => {
                    if *slot.get() != verified.value {
                        return Err(ProvenError::Conflicting { key: key_text });
                    }
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(verified.value);
                }
            }
        }
        let (height, time_ms) = at.ok_or(ProvenError::Empty)?;
        freshness.check(height, time_ms)?;
        Ok(Self {
            height,
            time_ms,
            entries,
        })
    }

    /// The proven value under `key` (`Ok(None)`: proven absent).
    pub fn value(&self, key: &[u8]) -> Result<Option<&[u8]>, StateError> {
        match self.entries.get(key) {
            Some(value) => Ok(value.as_deref()),
            None => Err(StateError::Unproven {
                key: medchain_state::keys::describe(key),
            }),
        }
    }

    /// How many entries are proven.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is proven.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl StateRead for ProvenState {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.value(key).map(|value| value.map(<[u8]>::to_vec))
    }
}

/// What a client trusts, and what it remembers: the genesis (the validators whose quorum
/// makes a block final), a freshness bound, and the highest height it has seen proven, below
/// which it refuses any answer. Clone it to share the memory between requests (one verifier
/// for a whole session against any number of nodes).
#[derive(Clone, Debug)]
pub struct Verifier {
    genesis: std::sync::Arc<Genesis>,
    max_age_ms: Option<u64>,
    floor: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Verifier {
    /// A verifier of `genesis`'s chain with no age bound, remembering nothing yet.
    pub fn new(genesis: Genesis) -> Self {
        Self {
            genesis: std::sync::Arc::new(genesis),
            max_age_ms: None,
            floor: Default::default(),
        }
    }

    /// Refuse answers proven against a block older than `max_age_ms` by the local clock.
    pub fn with_max_age_ms(mut self, max_age_ms: u64) -> Self {
        self.max_age_ms = Some(max_age_ms);
        self
    }

    /// Refuse answers proven below `height` (a height the caller knows finalized, kept from
    /// an earlier session).
    pub fn with_floor(self, height: u64) -> Self {
        self.floor
            .fetch_max(height, std::sync::atomic::Ordering::Relaxed);
        self
    }

    /// The genesis it trusts.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The highest height seen proven.
    pub fn floor(&self) -> u64 {
        self.floor.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The freshness an answer must have now.
    pub fn freshness(&self) -> Freshness {
        Freshness {
            floor: self.floor(),
            max_age_ms: self.max_age_ms,
            now_ms: if self.max_age_ms.is_some() {
                now_ms()
            } else {
                0
            },
        }
    }

    /// Verifies an answer's entries ([`ProvenState::verify`]) and remembers their height.
    pub fn verify(&self, answers: &[&StateResponse]) -> Result<ProvenState, ProvenError> {
        let proven = ProvenState::verify(&self.genesis, answers, &self.freshness())?;
        self.floor
            .fetch_max(proven.height, std::sync::atomic::Ordering::Relaxed);
        Ok(proven)
    }

    /// Verifies one answer about `key` (the raw state key the caller derived) and remembers
    /// its height: the proven value, or `None` for a proven absence.
    pub fn verify_one(
        &self,
        answer: &StateResponse,
        key: &[u8],
    ) -> Result<(ProvenState, Option<Vec<u8>>), ProvenError> {
        let proven = self.verify(&[answer])?;
        let value = proven.value(key)?.map(<[u8]>::to_vec);
        Ok((proven, value))
    }
}

/// A proven answer: the answer recomputed from proven entries, and the block they rest on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proven<T> {
    pub answer: T,
    /// The height the answer is proven at.
    pub height: u64,
    /// That block's time.
    pub time_ms: u64,
    /// How many state entries the answer rests on.
    pub entries: usize,
}

/// Checks a served answer with proofs: verifies its entries ([`Verifier::verify`]), runs
/// `query` (the node's pure query for the same question) over them, and requires the node's
/// answer to equal the recomputed one in every field. Answers the recomputed answer, carrying
/// the proven entries.
pub async fn recompute<T, E, F>(
    verifier: &Verifier,
    mut served: T,
    query: F,
) -> Result<Proven<T>, ProvenError>
where
    T: WithEntries + serde::Serialize,
    ProvenError: From<E>,
    F: AsyncFnOnce(&ProvenState) -> Result<T, E>,
{
    let entries = std::mem::take(served.entries_mut());
    recompute_served(verifier, &served, entries, query).await
}

/// [`recompute`] for an answer whose served form is not `T` (kept as JSON, say): `served`
/// is the node's answer without its entries, `entries` what it rests on.
pub async fn recompute_served<S, T, E, F>(
    verifier: &Verifier,
    served: &S,
    entries: Vec<StateResponse>,
    query: F,
) -> Result<Proven<T>, ProvenError>
where
    S: serde::Serialize,
    T: WithEntries + serde::Serialize,
    ProvenError: From<E>,
    F: AsyncFnOnce(&ProvenState) -> Result<T, E>,
{
    let state = verifier.verify(&entries.iter().collect::<Vec<_>>())?;
    let mut answer = query(&state).await?;
    answer.entries_mut().clear();
    same_answer(served, &answer)?;
    *answer.entries_mut() = entries;
    Ok(Proven {
        answer,
        height: state.height,
        time_ms: state.time_ms,
        entries: state.len(),
    })
}

/// Fails unless the node's answer and the recomputed one are equal in every field (compared
/// as JSON, so the refusal can name the first field that differs).
pub fn same_answer<S: serde::Serialize, T: serde::Serialize>(
    served: &S,
    recomputed: &T,
) -> Result<(), ProvenError> {
    let served = serde_json::to_value(served).expect("an answer serializes");
    let recomputed = serde_json::to_value(recomputed).expect("an answer serializes");
    match first_difference(&served, &recomputed, String::new()) {
        None => Ok(()),
        Some(field) => Err(ProvenError::Differs { field }),
    }
}

/// The path of the first place two JSON values differ.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let here = || {
        Some(if path.is_empty() {
            "(the answer)".into()
        } else {
            path.clone()
        })
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (key, value) in x {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match y.get(key) {
                    Some(other) => {
                        if let Some(found) = first_difference(value, other, inner) {
                            return Some(found);
                        }
                    }
                    None => return Some(inner),
                }
            }
            y.keys().find(|key| !x.contains_key(*key)).map(|key| {
                if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                }
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return here();
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| first_difference(p, q, format!("{path}[{i}]")))
        }
        _ if a == b => None,
        _ => here(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_is_named_by_its_path() {
        let a = serde_json::json!({"valid": false, "credentials": [{"standing": "revoked"}]});
        let b = serde_json::json!({"valid": false, "credentials": [{"standing": "valid"}]});
        assert_eq!(
            first_difference(&a, &b, String::new()).as_deref(),
            Some("credentials[0].standing")
        );
        let c = serde_json::json!({"valid": true, "credentials": [{"standing": "revoked"}]});
        assert_eq!(
            first_difference(&a, &c, String::new()).as_deref(),
            Some("valid")
        );
        let d = serde_json::json!({"valid": false, "credentials": []});
        assert_eq!(
            first_difference(&a, &d, String::new()).as_deref(),
            Some("credentials")
        );
        let e =
            serde_json::json!({"valid": false, "credentials": [{"standing": "revoked"}], "x": 1});
        assert_eq!(
            first_difference(&a, &e, String::new()).as_deref(),
            Some("x")
        );
        assert_eq!(first_difference(&a, &a, String::new()), None);
    }

    #[test]
    fn freshness_refuses_a_proof_below_the_floor_or_too_old() {
        let fresh = Freshness {
            floor: 10,
            max_age_ms: Some(60_000),
            now_ms: 1_000_000,
        };
        assert!(fresh.check(10, 990_000).is_ok());
        assert!(matches!(
            fresh.check(9, 990_000),
            Err(ProvenError::Stale {
                height: 9,
                floor: 10
            })
        ));
        assert!(matches!(
            fresh.check(12, 900_000),
            Err(ProvenError::TooOld { .. })
        ));
        assert!(Freshness::at_least(0).check(0, 0).is_ok());
    }
}
