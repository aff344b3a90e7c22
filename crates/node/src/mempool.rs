//! The mempool: verified transactions waiting for a block.
//!
//! - Every transaction here passed the stateless checks (size, chain id, strict signature)
//!   and, when it arrived, the stateful ones (known signer, current key, nonce not yet used).
//! - One transaction per (signer, nonce); a duplicate hash is refused as already pending.
//! - Bounded by count and bytes; a full pool refuses new transactions with a clear error
//!   rather than evicting ones it already accepted.
//! - Proposals take each signer's transactions in nonce order, signers in order of arrival.
//! - When a block is finalized its transactions leave the pool, and so do other pending
//!   transactions whose nonce the block used up (they are recorded as rejected with the
//!   reason), so the pool never holds a transaction that can no longer commit.
//! - The pool remembers why recent transactions were rejected, for `tx status`.

use medchain_types::{PartyId, SignedTransaction, TxHash, VerifiedTransaction};
use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
};

/// Bounds of the pool.
#[derive(Clone, Copy, Debug)]
pub struct MempoolLimits {
    pub transactions_max: usize,
    pub bytes_max: usize,
    /// How many rejection reasons to remember.
    pub rejected_remembered: usize,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        Self {
            transactions_max: 200_000,
            bytes_max: 256 * 1024 * 1024,
            rejected_remembered: 100_000,
        }
    }
}

/// Why the pool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("transaction {0} is already pending")]
    AlreadyPending(TxHash),
    #[error("transaction {0} was committed recently")]
    AlreadyCommitted(TxHash),
    #[error("signer {signer} already has a pending transaction with nonce {nonce}")]
    NonceTaken { signer: PartyId, nonce: u64 },
    #[error(
        "mempool is full ({transactions} transactions, {bytes} bytes; limits {transactions_max} and {bytes_max})"
    )]
    Full {
        transactions: usize,
        bytes: usize,
        transactions_max: usize,
        bytes_max: usize,
    },
}

/// What the pool knows of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolStatus {
    Pending,
    Rejected { code: String, reason: String },
    Unknown,
}

struct Entry {
    tx: VerifiedTransaction,
    signer: PartyId,
    nonce: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<TxHash, Entry>,
    by_signer: HashMap<PartyId, BTreeMap<u64, TxHash>>,
    /// Signers with pending transactions, in order of first arrival. May hold signers whose
    /// queue has since emptied; they are skipped and dropped lazily.
    signer_order: VecDeque<PartyId>,
    bytes: usize,
    rejected: HashMap<TxHash, (String, String)>,
    rejected_order: VecDeque<TxHash>,
    rejected_total: u64,
    /// Transactions finalized recently, so a late gossip copy is not pooled again.
    committed: std::collections::HashSet<TxHash>,
    committed_order: VecDeque<TxHash>,
}

/// A shared handle to the pool.
#[derive(Clone)]
pub struct Mempool {
    inner: Arc<Mutex<Inner>>,
    limits: MempoolLimits,
    arrivals: Arc<tokio::sync::Notify>,
}

impl Mempool {
    /// An empty pool.
    pub fn new(limits: MempoolLimits) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner::default())),
            limits,
            arrivals: Arc::new(tokio::sync::Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the pool consistent enough to keep serving:
        // every mutation below completes before it can panic.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a verified transaction.
    pub fn insert(&self, tx: VerifiedTransaction) -> Result<(), MempoolError> {
        self.insert_all(vec![tx]).map_err(|(_, err)| err)
    }

    /// Adds verified transactions all together or none of them: every one is checked (against
    /// the pool and against the others) before any goes in. On refusal, answers the position
    /// of the first that could not go in and why.
    pub fn insert_all(&self, txs: Vec<VerifiedTransaction>) -> Result<(), (usize, MempoolError)> {
        {
            let mut inner = self.lock();
            let (mut hashes, mut nonces) = (HashSet::new(), HashSet::new());
            let (mut count, mut bytes) = (inner.entries.len(), inner.bytes);
            for (i, tx) in txs.iter().enumerate() {
                let hash = tx.hash();
                let signer = tx.transaction().signer;
                let nonce = tx.transaction().nonce;
                if inner.entries.contains_key(&hash) || !hashes.insert(hash) {
                    return Err((i, MempoolError::AlreadyPending(hash)));
                }
                if inner.committed.contains(&hash) {
                    return Err((i, MempoolError::AlreadyCommitted(hash)));
                }
                if inner
                    .by_signer
                    .get(&signer)
                    .is_some_and(|queue| queue.contains_key(&nonce))
                    || !nonces.insert((signer, nonce))
                {
                    return Err((i, MempoolError::NonceTaken { signer, nonce }));
                }
                count += 1;
                bytes += tx.size();
                if count > self.limits.transactions_max || bytes > self.limits.bytes_max {
                    return Err((
                        i,
                        MempoolError::Full {
                            transactions: inner.entries.len(),
                            bytes: inner.bytes,
                            transactions_max: self.limits.transactions_max,
                            bytes_max: self.limits.bytes_max,
                        },
                    ));
                }
            }
            for tx in txs {
                let hash = tx.hash();
                let signer = tx.transaction().signer;
                let nonce = tx.transaction().nonce;
                let queue = inner.by_signer.entry(signer).or_default();
                let first = queue.is_empty();
                queue.insert(nonce, hash);
                if first {
                    inner.signer_order.push_back(signer);
                }
                inner.bytes += tx.size();
                inner.rejected.remove(&hash);
                inner.entries.insert(hash, Entry { tx, signer, nonce });
            }
        }
        self.arrivals.notify_waiters();
        Ok(())
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `hash` is pending (and so was verified on this node).
    pub fn contains(&self, hash: &TxHash) -> bool {
        self.lock().entries.contains_key(hash)
    }

    /// The pending nonces of a signer, highest first (for the next-nonce hint).
    pub fn highest_nonce(&self, signer: &PartyId) -> Option<u64> {
        self.lock()
            .by_signer
            .get(signer)
            .and_then(|queue| queue.keys().next_back().copied())
    }

    /// Waits until a transaction arrives (or the caller's own timeout fires).
    pub async fn arrival(&self) {
        self.arrivals.notified().await;
    }

    /// Picks transactions for a block: each signer's in nonce order, signers in arrival order,
    /// within the count and byte bounds. Transactions in `exclude` (already in an unfinalized
    /// ancestor) are skipped.
    pub fn select(
        &self,
        transactions_max: usize,
        bytes_max: usize,
        exclude: &std::collections::HashSet<TxHash>,
    ) -> Vec<VerifiedTransaction> {
        let mut inner = self.lock();
        let mut selected = Vec::new();
        let mut bytes = 0usize;
        let inner = &mut *inner;
        inner
            .signer_order
            .retain(|signer| inner.by_signer.get(signer).is_some_and(|q| !q.is_empty()));
        'signers: for signer in &inner.signer_order {
            let Some(queue) = inner.by_signer.get(signer) else {
                continue;
            };
            for hash in queue.values() {
                if exclude.contains(hash) {
                    continue;
                }
                let entry = &inner.entries[hash];
                if selected.len() >= transactions_max || bytes + entry.tx.size() > bytes_max {
                    break 'signers;
                }
                bytes += entry.tx.size();
                selected.push(entry.tx.clone());
            }
        }
        selected
    }

    fn remove_locked(inner: &mut Inner, hash: &TxHash) -> Option<Entry> {
        let entry = inner.entries.remove(hash)?;
        inner.bytes -= entry.tx.size();
        if let Some(queue) = inner.by_signer.get_mut(&entry.signer) {
            queue.remove(&entry.nonce);
            if queue.is_empty() {
                inner.by_signer.remove(&entry.signer);
            }
        }
        Some(entry)
    }

    /// Transactions rejected since start.
    pub fn rejected_total(&self) -> u64 {
        self.lock().rejected_total
    }

    fn remember_rejection(&self, inner: &mut Inner, hash: TxHash, code: &str, reason: String) {
        inner.rejected_total += 1;
        if inner.rejected.insert(hash, (code.into(), reason)).is_none() {
            inner.rejected_order.push_back(hash);
        }
        while inner.rejected_order.len() > self.limits.rejected_remembered {
            if let Some(old) = inner.rejected_order.pop_front() {
                inner.rejected.remove(&old);
            }
        }
    }

    /// Drops a transaction that is already committed (no rejection is recorded).
    pub fn forget(&self, hash: &TxHash) {
        let mut inner = self.lock();
        Self::remove_locked(&mut inner, hash);
    }

    /// Drops a transaction that can never commit, remembering why.
    pub fn reject(&self, hash: &TxHash, code: &str, reason: String) {
        let mut inner = self.lock();
        Self::remove_locked(&mut inner, hash);
        self.remember_rejection(&mut inner, *hash, code, reason);
    }

    /// Records a rejection of a transaction that never entered the pool.
    pub fn record_rejection(&self, hash: TxHash, code: &str, reason: String) {
        let mut inner = self.lock();
        self.remember_rejection(&mut inner, hash, code, reason);
    }

    /// Removes a finalized block's transactions, and any pending transaction whose nonce the
    /// block used.
    pub fn finalized(&self, transactions: &[SignedTransaction]) {
        let mut inner = self.lock();
        let mut used: HashMap<PartyId, (u64, TxHash)> = HashMap::new();
        for tx in transactions {
            let hash = tx.hash();
            Self::remove_locked(&mut inner, &hash);
            inner.rejected.remove(&hash);
            if inner.committed.insert(hash) {
                inner.committed_order.push_back(hash);
            }
            while inner.committed_order.len() > self.limits.rejected_remembered {
                if let Some(old) = inner.committed_order.pop_front() {
                    inner.committed.remove(&old);
                }
            }
            let entry = used
                .entry(tx.transaction.signer)
                .or_insert((tx.transaction.nonce, hash));
            if tx.transaction.nonce >= entry.0 {
                *entry = (tx.transaction.nonce, hash);
            }
        }
        for (signer, (nonce, winner)) in used {
            let stale: Vec<(u64, TxHash)> = inner
                .by_signer
                .get(&signer)
                .map(|queue| queue.range(..=nonce).map(|(n, h)| (*n, *h)).collect())
                .unwrap_or_default();
            for (stale_nonce, hash) in stale {
                Self::remove_locked(&mut inner, &hash);
                self.remember_rejection(
                    &mut inner,
                    hash,
                    "nonce_used",
                    format!(
                        "nonce {stale_nonce} of {signer} was used by committed transaction {winner} (or an earlier one)"
                    ),
                );
            }
        }
    }

    /// What the pool knows of `hash`.
    pub fn status(&self, hash: &TxHash) -> PoolStatus {
        let inner = self.lock();
        if inner.entries.contains_key(hash) {
            PoolStatus::Pending
        } else if let Some((code, reason)) = inner.rejected.get(hash) {
            PoolStatus::Rejected {
                code: code.clone(),
                reason: reason.clone(),
            }
        } else {
            PoolStatus::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medchain_types::{ChainId, Hash32, Keypair, Transaction, TxBody};

    fn tx(seed: u8, nonce: u64) -> VerifiedTransaction {
        tx_saying(seed, nonce, nonce as u8)
    }

    /// Another transaction of the same signer and nonce for each `what`.
    fn tx_saying(seed: u8, nonce: u64, what: u8) -> VerifiedTransaction {
        let keypair = Keypair::from_seed([seed; 32]);
        let signed = Transaction {
            chain_id: ChainId::new("t").expect("valid"),
            signer: PartyId::derive(&keypair.public_key()),
            public_key: keypair.public_key(),
            nonce,
            body: TxBody::Attest {
                subject: Hash32::ZERO,
                digest: Hash32([what; 32]),
            },
        }
        .sign(&keypair);
        VerifiedTransaction::assume_verified(signed)
    }

    #[test]
    fn a_batch_goes_in_whole_or_not_at_all() {
        let pool = Mempool::new(MempoolLimits::default());
        pool.insert(tx_saying(1, 2, 99)).expect("inserts");
        // The third of the batch wants a nonce already pending: none of it goes in.
        let refused = pool.insert_all(vec![tx(1, 0), tx(1, 1), tx(1, 2), tx(1, 3)]);
        assert!(matches!(
            refused,
            Err((2, MempoolError::NonceTaken { nonce: 2, .. }))
        ));
        assert_eq!(pool.len(), 1);
        assert!(!pool.contains(&tx(1, 0).hash()));
        // Nor does a batch naming one nonce twice.
        let twice = pool.insert_all(vec![tx(3, 0), tx(3, 0)]);
        assert!(matches!(twice, Err((1, MempoolError::AlreadyPending(_)))));
        assert_eq!(pool.len(), 1);
        // A batch that fits goes in whole, in nonce order for its signer.
        pool.insert_all(vec![tx(1, 0), tx(1, 1), tx(1, 3)])
            .expect("inserts");
        assert_eq!(pool.len(), 4);
        assert_eq!(pool.highest_nonce(&tx(1, 0).transaction().signer), Some(3));
        // A batch past the pool's bound is refused whole.
        let small = Mempool::new(MempoolLimits {
            transactions_max: 2,
            ..MempoolLimits::default()
        });
        let full = small.insert_all(vec![tx(4, 0), tx(4, 1), tx(4, 2)]);
        assert!(matches!(full, Err((2, MempoolError::Full { .. }))));
        assert!(small.is_empty());
    }

    #[test]
    fn dedups_and_orders_by_nonce_within_signer() {
        let pool = Mempool::new(MempoolLimits::default());
        pool.insert(tx(1, 1)).expect("inserts");
        pool.insert(tx(2, 0)).expect("inserts");
        pool.insert(tx(1, 0)).expect("inserts");
        assert!(matches!(
            pool.insert(tx(1, 0)),
            Err(MempoolError::AlreadyPending(_))
        ));
        let order: Vec<(u8, u64)> = pool
            .select(10, usize::MAX, &Default::default())
            .iter()
            .map(|t| (t.transaction().public_key.0[0], t.transaction().nonce))
            .collect();
        let first = tx(1, 0).transaction().public_key.0[0];
        let second = tx(2, 0).transaction().public_key.0[0];
        assert_eq!(order, vec![(first, 0), (first, 1), (second, 0)]);
    }

    #[test]
    fn is_bounded_and_says_so() {
        let pool = Mempool::new(MempoolLimits {
            transactions_max: 2,
            ..MempoolLimits::default()
        });
        pool.insert(tx(1, 0)).expect("inserts");
        pool.insert(tx(1, 1)).expect("inserts");
        let err = pool.insert(tx(1, 2)).expect_err("full");
        assert!(err.to_string().contains("mempool is full"), "{err}");
    }

    #[test]
    fn finalization_evicts_included_and_superseded_transactions() {
        let pool = Mempool::new(MempoolLimits::default());
        let included = tx(1, 0);
        let competing_nonce = tx(3, 0);
        pool.insert(tx(1, 1)).expect("inserts");
        pool.insert(included.clone()).expect("inserts");
        pool.insert(competing_nonce.clone()).expect("inserts");
        // Another node's transaction for signer 3 with nonce 0 commits first.
        let mut winner = competing_nonce.signed().clone();
        winner.transaction.body = TxBody::Attest {
            subject: Hash32([9; 32]),
            digest: Hash32::ZERO,
        };
        pool.finalized(&[included.signed().clone(), winner]);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.status(&included.hash()), PoolStatus::Unknown);
        assert!(matches!(
            pool.status(&competing_nonce.hash()),
            PoolStatus::Rejected { .. }
        ));
    }
}
