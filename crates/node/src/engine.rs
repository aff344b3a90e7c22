//! Wires one validator: simplex consensus, marshal (ordered delivery and backfill of finalized
//! blocks), buffered broadcast of proposals, `Stateful` (our [`App`] over QMDB) and transaction
//! gossip. Generic over the runtime and the network, so the same code runs in production
//! (tokio + authenticated `lookup` p2p) and in deterministic simulation (deterministic runtime +
//! simulated p2p).
//!
//! Every actor runs on a child of the context passed in, and the simplex engine on that context
//! itself: aborting the returned handle stops the whole validator.

use crate::{
    app::{App, BlockPolicy, ChainView, Scheme, genesis_block},
    block::Block,
    db::{self, Databases, NoStateSync},
    gossip::{self, GossipHandle},
    mempool::{Mempool, MempoolLimits},
};
use commonware_broadcast::buffered;
use commonware_consensus::{
    Reporter,
    marshal::{
        self,
        core::Actor as MarshalActor,
        resolver::p2p as marshal_resolver,
        standard::{Deferred, Standard},
    },
    simplex::{
        self,
        config::{ForwardPolicy, SkipPolicy},
        elector::RoundRobin,
    },
    types::{Epoch, FixedEpocher, ViewDelta},
};
use commonware_cryptography::{Digestible, Sha256, certificate::ConstantProvider, ed25519, sha256};
use commonware_glue::stateful::{
    Config as StatefulConfig, Mailbox as StatefulMailbox, Stateful, SyncPlan, db::SyncEngineConfig,
};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage, buffer::paged::CacheRef};
use commonware_storage::{archive::prunable, translator::EightCap};
use commonware_utils::{NZDuration, NZU16, NZU64, NZUsize};
use medchain_types::{ConsensusTiming, Genesis};
use std::{num::NonZeroUsize, sync::Arc, time::Duration};

/// The marshal mailbox type.
pub type Marshal = marshal::core::Mailbox<Scheme, Standard<Block>>;

/// The p2p channels a validator uses, in registration order.
pub mod channel {
    pub const VOTES: u64 = 0;
    pub const CERTIFICATES: u64 = 1;
    pub const RESOLVER: u64 = 2;
    pub const BACKFILL: u64 = 3;
    pub const BROADCAST: u64 = 4;
    pub const MEMPOOL: u64 = 5;
    /// Record content and wrapped keys between custodians.
    pub const REPLICA: u64 = 6;
    /// Every channel, in order.
    pub const ALL: [u64; 7] = [
        VOTES,
        CERTIFICATES,
        RESOLVER,
        BACKFILL,
        BROADCAST,
        MEMPOOL,
        REPLICA,
    ];
}

/// One (sender, receiver) pair per channel.
pub struct Channels<S, R> {
    pub votes: (S, R),
    pub certificates: (S, R),
    pub resolver: (S, R),
    pub backfill: (S, R),
    pub broadcast: (S, R),
    pub mempool: (S, R),
    pub replica: (S, R),
}

impl<S, R> Channels<S, R> {
    /// Takes the channels from a list in [`channel::ALL`] order.
    pub fn from_list(list: Vec<(S, R)>) -> Self {
        let mut list = list.into_iter();
        let mut next = || list.next().expect("one pair per channel in channel::ALL");
        Self {
            votes: next(),
            certificates: next(),
            resolver: next(),
            backfill: next(),
            broadcast: next(),
            mempool: next(),
            replica: next(),
        }
    }
}

/// Consensus timing, derived from the chain's [`ConsensusTiming`].
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub leader_timeout: Duration,
    pub certification_timeout: Duration,
    pub timeout_retry: Duration,
    pub skip_timeout: Duration,
    pub fetch_timeout: Duration,
}

impl Timing {
    /// The timeouts of a chain (the defaults: a 1 s leader timeout, 2 s to certify, nullify
    /// votes resent every 500 ms, 5 s before an inactive leader's views are skipped).
    pub fn of(chain: &ConsensusTiming) -> Self {
        let leader_timeout = Duration::from_millis(chain.leader_timeout_ms);
        let certification_timeout = Duration::from_millis(chain.certification_timeout_ms);
        Self {
            leader_timeout,
            certification_timeout,
            timeout_retry: leader_timeout / 2,
            skip_timeout: (certification_timeout * 5 / 2).max(Duration::from_secs(5)),
            fetch_timeout: leader_timeout.max(Duration::from_secs(1)),
        }
    }
}

/// Everything a validator needs besides its network.
pub struct EngineConfig {
    pub genesis: Genesis,
    pub signer: ed25519::PrivateKey,
    /// Prefix of every storage partition (one validator per data directory uses a constant).
    pub partition_prefix: String,
    pub mempool: MempoolLimits,
    pub block_policy: BlockPolicy,
    /// Memory for the storage page cache, in MiB (see [`DEFAULT_PAGE_CACHE_MIB`]).
    pub page_cache_mib: usize,
}

/// The storage page size. Part of the on-disk format: journals are written in pages of it.
pub const PAGE_BYTES: u16 = 16_384;

/// Default memory for the page cache that journals and merkle trees read through. Inserting a
/// key into the ordered state database rewrites the key before it, which lies anywhere in the
/// log; once the log outgrows the cache each insert reads a page from the file (a system
/// call and a 16 KiB copy). Validators with large state should give it more (BENCHMARKS.md
/// shows the effect); the whole cache is allocated at start.
pub const DEFAULT_PAGE_CACHE_MIB: usize = 256;

/// The most page cache a node takes (1 TiB): a larger value is a typo, not a machine.
pub const PAGE_CACHE_MIB_MAX: usize = 1 << 20;

/// What the rest of the node uses of a running validator.
pub struct EngineHandles<E: Spawner + commonware_storage::Context + Clock> {
    pub marshal: Marshal,
    pub mempool: Mempool,
    pub gossip: GossipHandle,
    pub view: Arc<ChainView>,
    pub stateful: StatefulMailbox<E, App>,
    pub scheme: Scheme,
    /// Sends record content and keys to other custodians.
    pub replica: crate::replica::ReplicaHandle,
    /// Replicas received from other custodians (taken once, by the custodian).
    pub replica_inbox: std::sync::Arc<std::sync::Mutex<Option<crate::replica::Inbox>>>,
}

impl<E: Spawner + commonware_storage::Context + Clock> Clone for EngineHandles<E> {
    fn clone(&self) -> Self {
        Self {
            marshal: self.marshal.clone(),
            mempool: self.mempool.clone(),
            gossip: self.gossip.clone(),
            view: self.view.clone(),
            stateful: self.stateful.clone(),
            scheme: self.scheme.clone(),
            replica: self.replica.clone(),
            replica_inbox: self.replica_inbox.clone(),
        }
    }
}

/// The consensus namespace for a chain.
pub fn consensus_namespace(genesis: &Genesis) -> Vec<u8> {
    let mut namespace = b"medchain/consensus/".to_vec();
    namespace.extend_from_slice(genesis.chain_id.as_str().as_bytes());
    namespace
}

/// The p2p namespace for a chain: nodes of different genesis files never connect.
pub fn p2p_namespace(genesis: &Genesis) -> Vec<u8> {
    let mut namespace = b"medchain/p2p/".to_vec();
    namespace.extend_from_slice(&genesis.digest().0);
    namespace
}

/// The validator set of a genesis file, as consensus keys.
pub fn validator_keys(genesis: &Genesis) -> Vec<ed25519::PublicKey> {
    use commonware_codec::DecodeExt;
    genesis
        .validators
        .iter()
        .map(|validator| {
            ed25519::PublicKey::decode(validator.public_key.0.to_vec())
                .expect("genesis validation checked the validator keys")
        })
        .collect()
}

/// The consensus scheme for a validator.
pub fn signing_scheme(genesis: &Genesis, signer: ed25519::PrivateKey) -> Option<Scheme> {
    let set = commonware_utils::ordered::Set::try_from(validator_keys(genesis))
        .expect("genesis validation rejects duplicate validators");
    Scheme::signer(&consensus_namespace(genesis), set, signer)
}

/// Largest p2p message any channel carries.
pub fn max_message_size(validators: u32) -> u32 {
    commonware_p2p::max_message_size(&[
        simplex::max_payload_size::<Scheme, sha256::Digest>(validators),
        marshal::max_payload_size::<Standard<Block>, Scheme>(validators, &()),
        gossip::MESSAGE_BYTES_MAX,
        crate::replica::MESSAGE_BYTES_MAX,
    ])
}

const IO_BUFFER: NonZeroUsize = NZUsize!(1 << 20);

fn archive_config<C>(
    prefix: &str,
    name: &str,
    page_cache: CacheRef,
    codec_config: C,
) -> prunable::Config<EightCap, C> {
    prunable::Config {
        translator: EightCap,
        metadata_partition: format!("{prefix}-{name}-metadata"),
        key_partition: format!("{prefix}-{name}-key"),
        key_page_cache: page_cache,
        value_partition: format!("{prefix}-{name}-value"),
        compression: None,
        codec_config,
        items_per_section: NZU64!(4_096),
        key_write_buffer: IO_BUFFER,
        value_write_buffer: IO_BUFFER,
        replay_buffer: IO_BUFFER,
    }
}

/// Builds and starts a validator. `wrap` may wrap the marshal reporter (the simulation
/// harness observes finalizations through it).
pub async fn start<E, S, R, P, B, W, Rep>(
    context: E,
    config: EngineConfig,
    peers: P,
    blocker: B,
    channels: Channels<S, R>,
    wrap: W,
) -> (Handle<()>, EngineHandles<E>)
where
    E: Clock + rand_core::CryptoRng + Spawner + Storage + Metrics + commonware_storage::Context,
    S: Sender<PublicKey = ed25519::PublicKey> + 'static,
    R: Receiver<PublicKey = ed25519::PublicKey>,
    P: Provider<PublicKey = ed25519::PublicKey> + Clone + 'static,
    B: Blocker<PublicKey = ed25519::PublicKey> + Clone + 'static,
    W: FnOnce(StatefulMailbox<E, App>) -> Rep,
    Rep: Reporter<Activity = marshal::Update<Block>> + 'static,
{
    use commonware_cryptography::Signer as _;
    let EngineConfig {
        genesis,
        signer,
        partition_prefix: prefix,
        mempool: mempool_limits,
        block_policy,
        page_cache_mib,
    } = config;
    let timing = Timing::of(&genesis.consensus);
    let me = signer.public_key();
    let scheme = signing_scheme(&genesis, signer)
        .expect("this validator's key is in the genesis validator set");
    let page_cache = CacheRef::new(
        NZU16!(PAGE_BYTES),
        NonZeroUsize::new(
            page_cache_mib.clamp(1, PAGE_CACHE_MIB_MAX) * (1 << 20) / usize::from(PAGE_BYTES),
        )
        .expect("at least one page"),
    );

    let resolver = marshal_resolver::init(
        context.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: me.clone(),
            peer_provider: peers.clone(),
            blocker: blocker.clone(),
            mailbox_size: NZUsize!(1_024),
            fetch_timeout: NZDuration!(timing.fetch_timeout),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );

    let (broadcast_engine, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: me.clone(),
            mailbox_size: NZUsize!(1_024),
            deque_size: 10,
            priority: false,
            codec_config: (),
            peer_provider: peers.clone(),
            strategy: Sequential,
        },
    );
    broadcast_engine.start(channels.broadcast);

    let finalizations = prunable::Archive::init(
        context.child("finalizations_by_height"),
        archive_config(
            &prefix,
            "finalizations",
            page_cache.clone(),
            genesis.validators.len(),
        ),
    )
    .await
    .expect("finalizations archive opens");
    let blocks = prunable::Archive::init(
        context.child("finalized_blocks"),
        archive_config(&prefix, "blocks", page_cache.clone(), ()),
    )
    .await
    .expect("blocks archive opens");

    let genesis_block = genesis_block::<E>(&genesis);
    let genesis_digest = genesis_block.digest();
    let plan = SyncPlan::init(context.child("sync_plan"), prefix.clone()).await;
    // State sync from peers is not used (see `db`): a node replays finalized blocks instead.
    assert!(!plan.should_sync(false), "no state sync was requested");

    let provider: ConstantProvider<Scheme, Epoch> = ConstantProvider::new(scheme.clone());
    let (marshal_actor, marshal, floor) = MarshalActor::<_, Standard<Block>, _, _, _, _, _>::init(
        context.child("marshal"),
        finalizations,
        blocks,
        marshal::Config {
            provider,
            epocher: FixedEpocher::new(NZU64!(u64::MAX)),
            start: plan.marshal_start(commonware_cryptography::Digested::precomputed(
                genesis_block.clone(),
                genesis_digest,
            )),
            partition_prefix: prefix.clone(),
            mailbox_size: NZUsize!(1_024),
            view_retention: ViewDelta::new(256),
            prunable_items_per_section: NZU64!(4_096),
            page_cache: page_cache.clone(),
            replay_buffer: IO_BUFFER,
            key_write_buffer: IO_BUFFER,
            value_write_buffer: IO_BUFFER,
            block_codec_config: (),
            max_repair: NZUsize!(32),
            max_pending_acks: NZUsize!(1),
            strategy: Sequential,
        },
    )
    .await;

    let mempool = Mempool::new(mempool_limits);
    let gossip = gossip::start(
        context.child("gossip"),
        genesis.chain_id.clone(),
        mempool.clone(),
        channels.mempool,
        blocker.clone(),
    );

    let (replica, replica_inbox) =
        crate::replica::start(context.child("replica"), channels.replica);

    let application = App::new(
        genesis.clone(),
        genesis_block,
        mempool.clone(),
        block_policy,
    );
    let view = application.view();
    let (stateful_actor, stateful) = Stateful::new(
        context.child("stateful"),
        StatefulConfig {
            application,
            db_config: db::configs(&prefix, &page_cache),
            provider: mempool.clone(),
            marshal: (marshal.clone(), floor),
            mailbox_size: NZUsize!(1_024),
            plan,
            resolvers: (NoStateSync::default(), NoStateSync::default()),
            sync_config: SyncEngineConfig {
                fetch_batch_size: NZU64!(16),
                apply_batch_size: NZU64!(256),
                max_outstanding_requests: NZUsize!(8),
            },
            prune_config: None,
            strategy: Sequential,
        },
    );

    let deferred = Deferred::new(
        context.child("deferred"),
        stateful.clone(),
        marshal.clone(),
        FixedEpocher::new(NZU64!(u64::MAX)),
    );
    marshal_actor.start(wrap(stateful.clone()), buffer, resolver);
    stateful_actor.start();
    // After a restart, the tip is the last block applied before it, until new blocks arrive.
    if let Some(processed) = marshal.get_processed().await
        && let Some(block) = marshal.get_block(processed.height()).await
    {
        view.observe(block.inner());
    }

    let engine = simplex::Engine::new(
        context,
        simplex::Config {
            scheme: scheme.clone(),
            elector: RoundRobin::<Sha256>::default(),
            blocker,
            automaton: deferred.clone(),
            relay: deferred.clone(),
            reporter: deferred,
            strategy: Sequential,
            partition: format!("{prefix}-simplex"),
            mailbox_size: NZUsize!(1_024),
            epoch: Epoch::zero(),
            floor: simplex::config::Floor::Genesis(genesis_digest),
            replay_buffer: IO_BUFFER,
            write_buffer: IO_BUFFER,
            page_cache,
            leader_timeout: timing.leader_timeout,
            certification_timeout: timing.certification_timeout,
            timeout_retry: timing.timeout_retry,
            view_retention: ViewDelta::new(256),
            skip: SkipPolicy::Enabled {
                timeout: timing.skip_timeout,
                budget: simplex::SkipBudget::Participants,
            },
            fetch_timeout: NZDuration!(timing.fetch_timeout),
            fetch_retry_delay: Duration::from_millis(100),
            forward: ForwardPolicy::Disabled,
            track_historical_votes: false,
        },
    );
    let handle = engine.start(channels.votes, channels.certificates, channels.resolver);
    let _: Option<Databases<E>> = None;
    (
        handle,
        EngineHandles {
            marshal,
            mempool,
            gossip,
            view,
            stateful,
            scheme,
            replica,
            replica_inbox: std::sync::Arc::new(std::sync::Mutex::new(Some(replica_inbox))),
        },
    )
}
