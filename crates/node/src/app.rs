//! The application `Stateful` drives: builds blocks from the mempool and executes blocks on
//! speculative QMDB batches through the pure state machine.
//!
//! ```text
//! propose(parent)  select txs -> execute on parent's batches -> header(roots) -> block
//! process(block)   limits, tx root, time, signatures (parallel, cached) -> execute
//!                  -> compare state root (Stateful compares the sync targets)
//! capture(block)   remember state root -> height, for proofs of the live state
//! finalized(block) evict its txs from the mempool, advance the chain tip, wake waiters
//! ```

use crate::{
    block::{Block, BlockContext},
    db::{Blob, Databases, state_key},
    mempool::Mempool,
};
use commonware_codec::Encode;
use commonware_consensus::{Heightable, marshal::ancestry::Ancestry};
use commonware_cryptography::{Digestible, sha256};
use commonware_glue::stateful::{
    Application, Finality, Input, Proposed,
    db::{DatabaseSet, Merkleized as _, Unmerkleized as _},
};
use commonware_runtime::{Clock, Spawner};
use commonware_storage::{Context as StorageContext, qmdb::sync::Target};
use commonware_utils::non_empty_range;
use futures::StreamExt as _;
use medchain_state::{BlockEnv, BlockExecutor, StateError, StateRead, TxError, genesis, keys};
use medchain_types::{
    BlockHash, ChainId, Genesis, Hash32, Header, OpRange, SignedTransaction, TxHash,
    VerifiedTransaction,
    limits::{BLOCK_BYTES_MAX, BLOCK_TIME_STEP_MS_MAX, BLOCK_TRANSACTIONS_MAX, BLOCK_WRITES_MAX},
};
use rayon::prelude::*;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, UNIX_EPOCH},
};

type Unmerkleized<E> = <Databases<E> as DatabaseSet<E>>::Unmerkleized;
type Merkleized<E> = <Databases<E> as DatabaseSet<E>>::Merkleized;
type Readers<E> = <Databases<E> as DatabaseSet<E>>::Readers;
type SyncTargets<E> = <Databases<E> as DatabaseSet<E>>::SyncTargets;

/// The signing scheme of consensus.
pub type Scheme = commonware_consensus::simplex::scheme::ed25519::Scheme;

/// How blocks are built.
#[derive(Clone, Copy, Debug)]
pub struct BlockPolicy {
    /// Most transactions per block (at most the protocol limit).
    pub transactions_max: usize,
    /// How long a leader with an empty mempool waits for transactions before it proposes an
    /// empty block on an empty parent (after a block with transactions it proposes at once, so
    /// that block is finalized without delay). A proposer waits at most two fifths of the
    /// leader timeout.
    pub idle_wait: Duration,
}

impl Default for BlockPolicy {
    fn default() -> Self {
        Self {
            transactions_max: 5_000,
            idle_wait: Duration::from_millis(400),
        }
    }
}

/// The latest finalized block, as the node's services see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tip {
    pub height: u64,
    pub hash: BlockHash,
    pub header: Header,
}

/// State shared between the application and the node's query services.
pub struct ChainView {
    tip: RwLock<Tip>,
    /// Canonical state root -> height, for recent blocks (proofs are served against the live
    /// state, whose root names the block it belongs to).
    roots: Mutex<BTreeMap<u64, Hash32>>,
    finalized: tokio::sync::watch::Sender<u64>,
    /// Transactions in blocks finalized since this node started.
    committed: std::sync::atomic::AtomicU64,
    /// Blocks finalized since this node started.
    blocks: std::sync::atomic::AtomicU64,
    /// Callers waiting for a transaction to be in a finalized block.
    waiters: Mutex<std::collections::HashMap<TxHash, Vec<tokio::sync::oneshot::Sender<()>>>>,
}

/// How many recent state roots to remember.
const ROOTS_REMEMBERED: usize = 4_096;

impl ChainView {
    /// Resolves once a finalized block holds `hash` (committed or denied). A transaction
    /// rejected instead never resolves it: callers also time out and look at its status.
    pub fn wait_for(&self, hash: TxHash) -> tokio::sync::oneshot::Receiver<()> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(hash)
            .or_default()
            .push(sender);
        receiver
    }

    fn notify(&self, transactions: &[SignedTransaction]) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if waiters.is_empty() {
            return;
        }
        for tx in transactions {
            if let Some(senders) = waiters.remove(&tx.hash()) {
                for sender in senders {
                    let _ = sender.send(());
                }
            }
        }
        // Waiters whose receivers are gone (timed out) are dropped.
        waiters.retain(|_, senders| {
            senders.retain(|sender| !sender.is_closed());
            !senders.is_empty()
        });
    }

    fn new(genesis: &Block) -> Self {
        let (finalized, _) = tokio::sync::watch::channel(0);
        Self {
            tip: RwLock::new(Tip {
                height: 0,
                hash: genesis.hash(),
                header: genesis.header.clone(),
            }),
            roots: Mutex::new(BTreeMap::new()),
            waiters: Mutex::new(std::collections::HashMap::new()),
            finalized,
            committed: std::sync::atomic::AtomicU64::new(0),
            blocks: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Transactions and blocks finalized since this node started.
    pub fn counters(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.committed.load(Relaxed), self.blocks.load(Relaxed))
    }

    /// The latest finalized block.
    pub fn tip(&self) -> Tip {
        self.tip
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The height whose state root is `root`, if recent.
    pub fn height_of_root(&self, root: &Hash32) -> Option<u64> {
        let roots = self.roots.lock().unwrap_or_else(|p| p.into_inner());
        roots
            .iter()
            .rev()
            .find(|(_, r)| *r == root)
            .map(|(height, _)| *height)
    }

    /// Records a finalized block (at startup, the last one applied before a restart).
    pub fn observe(&self, block: &Block) {
        {
            let mut tip = self.tip.write().unwrap_or_else(|p| p.into_inner());
            if block.header.height >= tip.height {
                *tip = Tip {
                    height: block.header.height,
                    hash: block.hash(),
                    header: block.header.clone(),
                };
            }
        }
        let mut roots = self.roots.lock().unwrap_or_else(|p| p.into_inner());
        roots.insert(block.header.height, block.header.state_root);
        while roots.len() > ROOTS_REMEMBERED {
            roots.pop_first();
        }
    }

    /// Subscribes to finalized heights.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.finalized.subscribe()
    }
}

/// A block this node built or verified and that may not be finalized yet.
struct RecentBlock {
    height: u64,
    parent: BlockHash,
    transactions: Vec<TxHash>,
}

/// The medchain application.
#[derive(Clone)]
pub struct App {
    genesis: Arc<Genesis>,
    genesis_block: Block,
    chain_id: ChainId,
    mempool: Mempool,
    policy: BlockPolicy,
    view: Arc<ChainView>,
    /// Recent unfinalized blocks by hash; never read by execution.
    recent: Arc<Mutex<std::collections::HashMap<BlockHash, RecentBlock>>>,
    /// Recent cost of merkleizing one state write, in nanoseconds, which a proposer counts
    /// against its time budget before it merkleizes (it grows with the state).
    merkle_ns_per_write: Arc<std::sync::atomic::AtomicU64>,
}

impl App {
    /// Creates the application for `genesis`.
    pub fn new(
        genesis: Genesis,
        genesis_block: Block,
        mempool: Mempool,
        policy: BlockPolicy,
    ) -> Self {
        let view = Arc::new(ChainView::new(&genesis_block));
        Self {
            chain_id: genesis.chain_id.clone(),
            genesis: Arc::new(genesis),
            genesis_block,
            mempool,
            policy,
            view,
            recent: Arc::new(Mutex::new(std::collections::HashMap::new())),
            merkle_ns_per_write: Arc::new(std::sync::atomic::AtomicU64::new(
                MERKLE_NS_PER_WRITE_INITIAL,
            )),
        }
    }

    /// How long a proposer spends executing transactions and merkleizing their writes before
    /// it closes the block: half the chain's leader timeout, since the block must still be sent
    /// and checked by the others. Merkleization comes after execution, so the proposer counts
    /// its expected cost (learnt from recent blocks) as it goes.
    fn proposal_budget(&self) -> Duration {
        Duration::from_millis(self.genesis.consensus.proposal_budget_ms())
    }

    /// The longest a proposer lets a block's building run, past its budget, for the
    /// transaction it was running when the budget ran out.
    fn proposal_limit(&self) -> Duration {
        Duration::from_millis(self.genesis.consensus.proposal_limit_ms())
    }

    /// The time merkleizing `writes` state writes is expected to take.
    fn merkle_estimate(&self, writes: usize) -> Duration {
        let per_write = self
            .merkle_ns_per_write
            .load(std::sync::atomic::Ordering::Relaxed);
        Duration::from_nanos(per_write.saturating_mul(writes as u64))
    }

    /// Folds a block's measured merkleization into the estimate (blocks with few writes are
    /// mostly fixed cost and say little).
    fn learn_merkle_cost(&self, writes: usize, took: Duration) {
        if writes < 1_000 {
            return;
        }
        let measured = (took.as_nanos() / writes as u128) as u64;
        let estimate = &self.merkle_ns_per_write;
        let old = estimate.load(std::sync::atomic::Ordering::Relaxed);
        estimate.store(
            (old * 3 + measured) / 4,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    fn remember(&self, block: &Block) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.insert(
            block.hash(),
            RecentBlock {
                height: block.header.height,
                parent: block.header.parent,
                transactions: block.tx_hashes(),
            },
        );
    }

    /// The view shared with query services.
    pub fn view(&self) -> Arc<ChainView> {
        self.view.clone()
    }
}

/// The genesis block of a chain: the empty databases' commitments at the genesis time.
pub fn genesis_block<E: Spawner + StorageContext + Clock>(genesis: &Genesis) -> Block {
    let (state, events) = <Databases<E> as DatabaseSet<E>>::initial_sync_targets();
    Block::genesis(Header {
        height: 0,
        parent: BlockHash::default(),
        time_ms: genesis.genesis_time_ms,
        tx_root: Block::tx_root(&[]),
        tx_count: 0,
        // No proof is ever served against the genesis block's state, which is empty; the
        // first block seeds the genesis parties.
        state_root: Hash32::ZERO,
        state_ops_root: Hash32(state.root.0),
        state_ops: OpRange {
            start: *state.range.start(),
            end: *state.range.end(),
        },
        events_root: Hash32(events.root.0),
        events: OpRange {
            start: *events.range.start(),
            end: *events.range.end(),
        },
    })
}

/// The height and time of the block a state belongs to, stored under `c/head` by every block,
/// so a block can be checked against its parent without reading the parent block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub height: u64,
    pub time_ms: u64,
}

impl commonware_codec::Write for ChainHead {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.height.write(buf);
        self.time_ms.write(buf);
    }
}

impl commonware_codec::FixedSize for ChainHead {
    const SIZE: usize = 16;
}

impl commonware_codec::Read for ChainHead {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        _: &(),
    ) -> Result<Self, commonware_codec::Error> {
        use commonware_codec::ReadExt as _;
        Ok(Self {
            height: u64::read(buf)?,
            time_ms: u64::read(buf)?,
        })
    }
}

/// Reads the head of the state in a batch; the empty genesis state has height 0 and the
/// genesis time.
async fn read_head<E: Spawner + StorageContext + Clock>(
    state: &<Unmerkleized<E> as TupleFirst>::First,
    genesis_time_ms: u64,
) -> Result<ChainHead, StateError> {
    use commonware_codec::DecodeExt as _;
    let view = BatchView::<E> { state };
    match view.get(keys::HEAD).await? {
        None => Ok(ChainHead {
            height: 0,
            time_ms: genesis_time_ms,
        }),
        Some(bytes) => ChainHead::decode(bytes).map_err(|err| StateError::Corrupt {
            key: "c/head".into(),
            reason: err.to_string(),
        }),
    }
}

/// Reads state through the state batch.
struct BatchView<'a, E: Spawner + StorageContext + Clock> {
    state: &'a <Unmerkleized<E> as TupleFirst>::First,
}

/// Names the first element of the unmerkleized tuple.
trait TupleFirst {
    type First;
}
impl<A, B> TupleFirst for (A, B) {
    type First = A;
}

impl<E: Spawner + StorageContext + Clock> StateRead for BatchView<'_, E> {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.state
            .get(&state_key(key))
            .await
            .map(|value| value.map(|blob| blob.0))
            .map_err(|err| StateError::Store(err.to_string()))
    }

    async fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        let hashed: Vec<_> = keys.iter().map(|key| state_key(key)).collect();
        let refs: Vec<_> = hashed.iter().collect();
        self.state
            .get_many(&refs)
            .await
            .map(|values| {
                values
                    .into_iter()
                    .map(|value| value.map(|blob| blob.0))
                    .collect()
            })
            .map_err(|err| StateError::Store(err.to_string()))
    }
}

/// The merkleization cost assumed per write before any block has been measured.
const MERKLE_NS_PER_WRITE_INITIAL: u64 = 5_000;

/// How execution treats a transaction that fails.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Building a block: drop it (and say why).
    Propose,
    /// Checking a block: the block is invalid.
    Verify,
}

/// The outcome of executing a block's transactions.
struct Executed<E: Spawner + StorageContext + Clock> {
    merkleized: Merkleized<E>,
    included: Vec<SignedTransaction>,
    refused: Vec<(TxHash, TxError)>,
    /// Transactions whose receipt is already in the parent's state.
    already_committed: Vec<TxHash>,
    /// State writes, and how long running the transactions and merkleizing took (for logs).
    writes: usize,
    execution: Duration,
    merkleization: Duration,
}

impl App {
    async fn execute<E: Spawner + StorageContext + Clock>(
        &self,
        batches: Unmerkleized<E>,
        height: u64,
        time_ms: u64,
        transactions: Vec<VerifiedTransaction>,
        mode: Mode,
        deadline: Option<(&E, std::time::SystemTime)>,
    ) -> Result<Option<Executed<E>>, StateError> {
        let (mut state, mut events) = batches;
        let event_base = *events.size();
        let env = BlockEnv {
            chain_id: self.chain_id.clone(),
            height,
            time_ms,
            event_base,
        };
        let mut included = Vec::with_capacity(transactions.len());
        let mut refused = Vec::new();
        let mut already_committed = Vec::new();
        let started = std::time::Instant::now();
        let output = {
            let view = BatchView::<E> { state: &state };
            let mut executor = BlockExecutor::new(&view, env);
            if height == 1 {
                genesis::seed(&mut executor, &self.genesis);
            }
            for (processed, tx) in transactions.into_iter().enumerate() {
                // A proposal that has run for its time budget leaves the rest for the next
                // block: a block must be built, sent and checked within the leader timeout,
                // or every view times out proposing the same work again.
                if let Some((clock, until)) = deadline
                    && processed > 0
                    && clock.current() + self.merkle_estimate(executor.write_count()) >= until
                {
                    break;
                }
                if executor.write_count() >= BLOCK_WRITES_MAX {
                    if mode == Mode::Verify {
                        tracing::warn!(height, "block goes on past its write budget");
                        return Ok(None);
                    }
                    // The rest waits in the pool for the next block.
                    break;
                }
                // Past its limit a block could not be built, sent and checked within the leader
                // timeout. A transaction that alone runs past it is refused (every leader would
                // otherwise propose it again, view after view); one that would carry the block
                // past it waits for the next block.
                let deferred = std::sync::atomic::AtomicBool::new(false);
                let applied = match mode {
                    Mode::Propose => {
                        let began = std::time::Instant::now();
                        let prior_writes = executor.write_count();
                        let limit = self.proposal_limit();
                        executor
                            .apply_admitted(&tx, |writes| {
                                let took = began.elapsed() + self.merkle_estimate(writes);
                                let block =
                                    started.elapsed() + self.merkle_estimate(prior_writes + writes);
                                if took <= limit && (block <= limit || processed == 0) {
                                    return Ok(());
                                }
                                deferred.store(took <= limit, std::sync::atomic::Ordering::Relaxed);
                                Err(TxError::too_costly(took, writes, limit))
                            })
                            .await
                    }
                    Mode::Verify => executor.apply(&tx).await,
                };
                match applied {
                    Ok(_) => included.push(tx.into_signed()),
                    // Left in the pool for the next block.
                    Err(_) if deferred.load(std::sync::atomic::Ordering::Relaxed) => break,
                    Err(TxError::State(err)) => return Err(err),
                    Err(err) if mode == Mode::Verify => {
                        tracing::warn!(height, tx = %tx.hash(), %err, "block carries a failing transaction");
                        return Ok(None);
                    }
                    Err(err @ (TxError::NonceUsed { .. } | TxError::Duplicate(_))) => {
                        // Already committed in an ancestor (its receipt is in this state):
                        // not a rejection, the pool just has not caught up yet.
                        if executor.get(&keys::receipt(&tx.hash())).await?.is_some() {
                            already_committed.push(tx.hash());
                        } else {
                            refused.push((tx.hash(), err));
                        }
                    }
                    Err(err) => refused.push((tx.hash(), err)),
                }
            }
            executor.finish()
        };
        let writes = output.writes.len();
        for (key, value) in output.writes {
            state = state.write(state_key(&key), value.map(Blob));
        }
        let head = ChainHead { height, time_ms };
        state = state.write(state_key(keys::HEAD), Some(Blob(head.encode().to_vec())));
        for record in output.events {
            events = events.append(Blob(record.encode().to_vec()));
        }
        let execution = started.elapsed();
        let state = state
            .merkleize()
            .await
            .map_err(|err| StateError::Store(format!("{err:?}")))?;
        let events = events
            .merkleize()
            .await
            .map_err(|err| StateError::Store(format!("{err:?}")))?;
        let merkleization = started.elapsed() - execution;
        self.learn_merkle_cost(writes, merkleization);
        Ok(Some(Executed {
            merkleized: (state, events),
            included,
            refused,
            already_committed,
            writes,
            execution,
            merkleization,
        }))
    }

    /// Verifies signatures in parallel, skipping transactions this node verified on entry to
    /// its mempool.
    fn verify_signatures(
        &self,
        transactions: &[SignedTransaction],
    ) -> Option<Vec<VerifiedTransaction>> {
        transactions
            .par_iter()
            .map(|tx| {
                let verified = VerifiedTransaction::assume_verified(tx.clone());
                if self.mempool.contains(&verified.hash()) {
                    return Some(verified);
                }
                match tx.check_stateless(&self.chain_id) {
                    Ok(()) => Some(verified),
                    Err(err) => {
                        tracing::warn!(tx = %verified.hash(), %err, "block carries an invalid transaction");
                        None
                    }
                }
            })
            .collect()
    }
}

/// The commitments a header carries for merkleized batches.
fn commitments<E: Spawner + StorageContext + Clock>(
    merkleized: &Merkleized<E>,
) -> (Hash32, Hash32, OpRange, Hash32, OpRange) {
    let (state, events) = merkleized;
    let state_root = Hash32(state.root().0);
    let state_ops_root = Hash32(state.ops_root().0);
    let state_ops = OpRange {
        start: *state.sync_boundary(),
        end: *state.bounds().tip.size,
    };
    let bounds = events.bounds();
    let events_root = Hash32(events.root().0);
    let event_ops = OpRange {
        start: *bounds.inactivity_floor,
        end: *bounds.tip.size,
    };
    (
        state_root,
        state_ops_root,
        state_ops,
        events_root,
        event_ops,
    )
}

fn target(root: &Hash32, range: &OpRange) -> Target<crate::db::Family, sha256::Digest> {
    use commonware_storage::mmr::Location;
    Target::new(
        sha256::Digest(root.0),
        non_empty_range!(Location::new(range.start), Location::new(range.end)),
    )
}

fn now_ms(clock: &impl Clock) -> u64 {
    clock
        .current()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

impl<E: Spawner + StorageContext + Clock> Application<E> for App {
    type SigningScheme = Scheme;
    type Context = BlockContext;
    type Block = Block;
    type Databases = Databases<E>;
    type Captured = ();
    type Provider = Mempool;
    type Input = ();

    fn sync_targets(block: &Block) -> SyncTargets<E> {
        let header = &block.header;
        // A block whose header ranges are empty cannot be built by an honest proposer;
        // `target` would panic on them, so such headers are refused in `process` first.
        (
            target(&header.state_ops_root, &header.state_ops),
            target(&header.events_root, &header.events),
        )
    }

    async fn genesis(&mut self) -> Block {
        self.genesis_block.clone()
    }

    async fn propose(
        &mut self,
        context: (E, BlockContext),
        mut ancestry: impl Ancestry<Block>,
        batches: Unmerkleized<E>,
        input: Input<(), Mempool>,
    ) -> Option<Proposed<Self, E>> {
        let (runtime, consensus_context) = context;
        let parent = ancestry.next().await?;
        let parent_header = parent.inner().header.clone();
        let mempool = input.provider;
        // Wait briefly for work rather than spinning out empty blocks, but not right after a
        // block with transactions: `Stateful` finalizes nothing while a proposal is being
        // built, so waiting here would hold that block's commit back by the whole wait.
        if mempool.is_empty() && parent_header.tx_count == 0 {
            // The wait counts against the leader timeout: on a chain with a short one, less.
            let sleep = runtime.sleep(self.policy.idle_wait.min(self.proposal_budget() * 4 / 5));
            futures::pin_mut!(sleep);
            let arrival = mempool.arrival();
            futures::pin_mut!(arrival);
            futures::future::select(sleep, arrival).await;
        }
        // Transactions in ancestors that are not finalized yet are still in the mempool; leave
        // them out rather than execute them again only to see their nonces used. The
        // ancestors are found in the recent blocks this node built or verified (reading them
        // through the ancestry could wait on peers).
        let finalized_height = self.view.tip().height;
        let mut in_ancestors = std::collections::HashSet::new();
        {
            let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            let mut cursor = crate::block::from_digest(&parent.digest());
            while let Some(ancestor) = recent.get(&cursor) {
                if ancestor.height <= finalized_height {
                    break;
                }
                in_ancestors.extend(ancestor.transactions.iter().copied());
                cursor = ancestor.parent;
            }
        }
        let candidates = mempool.select(
            self.policy.transactions_max.min(BLOCK_TRANSACTIONS_MAX),
            BLOCK_BYTES_MAX,
            &in_ancestors,
        );
        let height = parent_header.height + 1;
        let time_ms = now_ms(&runtime).max(parent_header.time_ms + 1);
        let executed = match self
            .execute::<E>(
                batches,
                height,
                time_ms,
                candidates,
                Mode::Propose,
                Some((&runtime, runtime.current() + self.proposal_budget())),
            )
            .await
        {
            Ok(Some(executed)) => executed,
            Ok(None) => unreachable!("proposals drop failing transactions"),
            Err(err) => {
                tracing::error!(%err, height, "state unavailable while proposing");
                return None;
            }
        };
        // When the parent is finalized, a used nonce is final too; on an unfinalized parent
        // the nonce may belong to an ancestor that could still be abandoned, so the
        // transaction stays for finalization to settle. A nonce gap may close later.
        // Decided from the tip seen before selection: a parent that became final during this
        // proposal had its transactions evicted by then.
        let parent_final = parent_header.height <= finalized_height;
        if parent_final {
            for hash in &executed.already_committed {
                mempool.forget(hash);
            }
        }
        for (hash, err) in &executed.refused {
            match err {
                TxError::NonceGap { .. } => {}
                TxError::NonceUsed { .. } | TxError::Duplicate(_) if !parent_final => {}
                other => mempool.reject(hash, other.code(), other.to_string()),
            }
        }
        let (state_root, state_ops_root, state_ops, events_root, events) =
            commitments::<E>(&executed.merkleized);
        let (writes, execution, merkleization) =
            (executed.writes, executed.execution, executed.merkleization);
        let header = Header {
            height,
            parent: crate::block::from_digest(&parent.digest()),
            time_ms,
            tx_root: Block::tx_root(&executed.included),
            tx_count: executed.included.len() as u32,
            state_root,
            state_ops_root,
            state_ops,
            events_root,
            events,
        };
        let block = Block {
            context: consensus_context,
            header,
            transactions: Arc::new(executed.included),
        };
        self.remember(&block);
        tracing::debug!(
            height,
            txs = block.transactions.len(),
            writes,
            execution_ms = execution.as_millis() as u64,
            merkleization_ms = merkleization.as_millis() as u64,
            "proposed"
        );
        Some(Proposed {
            block,
            merkleized: executed.merkleized,
        })
    }

    async fn process(
        &mut self,
        context: (E, BlockContext),
        ancestry: impl Ancestry<Block>,
        batches: Unmerkleized<E>,
        finality: Finality,
    ) -> Option<Merkleized<E>> {
        let (runtime, _) = context;
        // Only the block itself is read from the ancestry: reading further may wait on peers,
        // and `Stateful` handles nothing else while this runs. The parent's height and time
        // come from its state (the `c/head` entry every block writes); `Stateful` has already
        // checked that the block extends its parent.
        let block = ancestry.peek()?.inner().clone();
        let header = &block.header;
        let parent_head = match read_head(&batches.0, self.genesis.genesis_time_ms).await {
            Ok(head) => head,
            Err(err) => panic!(
                "state store failed while processing block {}: {err}",
                header.height
            ),
        };
        if header.height != parent_head.height + 1 || block.height().get() != header.height {
            tracing::warn!(height = header.height, "block does not extend its parent");
            return None;
        }
        if header.state_ops.start >= header.state_ops.end
            || header.events.start >= header.events.end
        {
            tracing::warn!(
                height = header.height,
                "block commits to an empty operation range"
            );
            return None;
        }
        if header.tx_count as usize != block.transactions.len()
            || Block::tx_root(&block.transactions) != header.tx_root
        {
            tracing::warn!(height = header.height, "transaction root does not match");
            return None;
        }
        if header.time_ms <= parent_head.time_ms
            || header.time_ms > parent_head.time_ms + BLOCK_TIME_STEP_MS_MAX
        {
            tracing::warn!(height = header.height, "block time out of bounds");
            return None;
        }
        let transactions = if finality == Finality::Finalized {
            block
                .transactions
                .iter()
                .cloned()
                .map(VerifiedTransaction::assume_verified)
                .collect()
        } else {
            // A block from the future waits for the local clock (bounded by the step rule
            // above), so a proposer cannot push the chain's clock ahead of honest nodes.
            let ahead = header.time_ms.saturating_sub(now_ms(&runtime));
            if ahead > 2_000 {
                runtime.sleep(Duration::from_millis(ahead - 2_000)).await;
            }
            self.verify_signatures(&block.transactions)?
        };
        let executed = match self
            .execute::<E>(
                batches,
                header.height,
                header.time_ms,
                transactions,
                Mode::Verify,
                None,
            )
            .await
        {
            Ok(Some(executed)) => executed,
            Ok(None) => return None,
            // A storage failure is not the block's fault: rejecting would reject a valid
            // block and all its descendants for good. Stop instead.
            Err(err) => panic!(
                "state store failed while processing block {}: {err}",
                header.height
            ),
        };
        let (state_root, ..) = commitments::<E>(&executed.merkleized);
        if state_root != header.state_root {
            tracing::warn!(height = header.height, "state root does not match");
            return None;
        }
        self.remember(&block);
        tracing::debug!(
            height = header.height,
            txs = block.transactions.len(),
            writes = executed.writes,
            execution_ms = executed.execution.as_millis() as u64,
            merkleization_ms = executed.merkleization.as_millis() as u64,
            "verified"
        );
        Some(executed.merkleized)
    }

    async fn capture(
        &mut self,
        _context: (E, BlockContext),
        block: &Block,
        _batches: &Merkleized<E>,
        _readers: Readers<E>,
    ) {
        let mut roots = self.view.roots.lock().unwrap_or_else(|p| p.into_inner());
        roots.insert(block.header.height, block.header.state_root);
        while roots.len() > ROOTS_REMEMBERED {
            roots.pop_first();
        }
    }

    async fn finalized(
        &mut self,
        _context: (E, BlockContext),
        block: &Block,
        _captured: (),
        _readers: Readers<E>,
    ) {
        self.mempool.finalized(&block.transactions);
        {
            let mut tip = self.view.tip.write().unwrap_or_else(|p| p.into_inner());
            if block.header.height >= tip.height {
                *tip = Tip {
                    height: block.header.height,
                    hash: block.hash(),
                    header: block.header.clone(),
                };
            }
        }
        self.view.finalized.send_replace(block.header.height);
        self.view.notify(&block.transactions);
        self.view.committed.fetch_add(
            block.transactions.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        self.view
            .blocks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        {
            let height = block.header.height;
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.retain(|_, ancestor| ancestor.height > height);
        }
        tracing::debug!(
            height = block.header.height,
            txs = block.transactions.len(),
            "finalized"
        );
    }
}
