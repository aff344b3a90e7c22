//! The authenticated databases behind state and the event log.
//!
//! ```text
//! state:  QMDB current, ordered, variable values     key  = SHA-256(state key)
//!                                                    value = Blob(encoded value)
//!         proves a key's current value, and (ordered) its absence
//! events: QMDB keyless, variable values              value = Blob(encoded EventRecord)
//!         append-only; proves the event at any location against any block's root
//! ```
//!
//! Keys are hashed because the index looks keys up by a short prefix and all our keys share
//! a few prefixes (`p/`, `t/`, ...); hashed keys spread evenly. A light client hashes the key
//! itself before it checks a proof.
//!
//! State sync from peers is not wired: glue's state-sync resolver cannot serve a
//! variable-value `current` database in this release (its operations need a decode
//! config). A new or wiped validator instead rebuilds its databases by replaying every
//! finalized block, which marshal backfills from peers; nothing is pruned, so every block
//! stays available to replay.

use commonware_codec::{Buf, EncodeSize, Error as CodecError, RangeCfg, Read, Write};
use commonware_cryptography::{Hasher as _, Sha256, sha256::Digest};
use commonware_glue::stateful::db::{AttachableResolver, Shared};
use commonware_parallel::Sequential;
use commonware_runtime::{BufMut, buffer::paged::CacheRef};
use commonware_storage::{
    journal::contiguous::variable::Config as VariableLogConfig,
    mmr::{self, full::Config as MerkleConfig},
    qmdb::{
        current, keyless,
        sync::{Request, Source, source},
    },
    translator::EightCap,
};
use commonware_utils::{NZU64, NZUsize};
use medchain_types::limits::STATE_VALUE_BYTES_MAX;
use std::{convert::Infallible, future::Future, marker::PhantomData, num::NonZeroUsize};

/// The Merkle family both databases use.
pub type Family = mmr::Family;
/// Bytes per bitmap chunk of the `current` database (the smallest legal value).
pub const CHUNK: usize = 32;

/// A stored value or event. Its decoder is bounded, so a corrupt or hostile peer cannot make a
/// node allocate more than the limit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Blob(pub Vec<u8>);

impl Write for Blob {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf)
    }
}
impl EncodeSize for Blob {
    fn encode_size(&self) -> usize {
        self.0.encode_size()
    }
}
impl Read for Blob {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let cfg: (RangeCfg<usize>, ()) = ((..=STATE_VALUE_BYTES_MAX).into(), ());
        Ok(Self(Vec::<u8>::read_cfg(buf, &cfg)?))
    }
}

/// The database key of a state key.
pub fn state_key(raw: &[u8]) -> Digest {
    Sha256::hash(&[raw])
}

/// The state database.
pub type StateDb<E> =
    current::ordered::variable::Db<Family, E, Digest, Blob, Sha256, EightCap, CHUNK, Sequential>;
/// The event log.
pub type EventsDb<E> = keyless::variable::Db<Family, E, Blob, Sha256, Sequential>;
/// Both, as the database set `Stateful` manages.
pub type Databases<E> = (Shared<StateDb<E>>, Shared<EventsDb<E>>);

/// A state database operation.
pub type StateOp =
    commonware_storage::qmdb::any::ordered::variable::Operation<Family, Digest, Blob>;
/// An event log operation.
pub type EventOp = keyless::variable::Operation<Family, Blob>;

/// Proof that a key has a value.
pub type StateValueProof =
    current::ordered::proof::constant::KeyValueProof<Family, Digest, Digest, CHUNK>;
/// Proof that a key has no value.
pub type StateAbsenceProof = current::ordered::proof::constant::ExclusionProof<
    Family,
    Digest,
    commonware_storage::qmdb::any::value::VariableEncoding<Blob>,
    Digest,
    CHUNK,
>;
/// Proof of an event log operation.
pub type EventProof = mmr::Proof<Digest>;

type StateConfig = current::VariableConfig<EightCap, ((), ()), Sequential>;
type EventsConfig = keyless::variable::Config<(), Sequential>;

/// I/O buffer size for journals.
const IO_BUFFER: NonZeroUsize = NZUsize!(1 << 20);

fn merkle_config(prefix: &str, db: &str, page_cache: &CacheRef) -> MerkleConfig<Sequential> {
    MerkleConfig {
        journal_partition: format!("{prefix}-{db}-mmr-journal"),
        metadata_partition: format!("{prefix}-{db}-mmr-metadata"),
        items_per_blob: NZU64!(100_000),
        write_buffer: IO_BUFFER,
        replay_buffer: IO_BUFFER,
        strategy: Sequential,
        page_cache: page_cache.clone(),
    }
}

/// Configurations of both databases under one partition prefix.
pub fn configs(prefix: &str, page_cache: &CacheRef) -> (StateConfig, EventsConfig) {
    let state = StateConfig {
        merkle_config: merkle_config(prefix, "state", page_cache),
        journal_config: VariableLogConfig {
            partition: format!("{prefix}-state-log"),
            items_per_section: NZU64!(4_096),
            compression: None,
            codec_config: ((), ()),
            page_cache: page_cache.clone(),
            write_buffer: IO_BUFFER,
            replay_buffer: IO_BUFFER,
        },
        grafted_metadata_partition: format!("{prefix}-state-grafted"),
        translator: EightCap,
        init_cache: Some(NZUsize!(1 << 16)),
        init_buffer: NZUsize!(1 << 21),
        init_concurrency: (),
    };
    let events = EventsConfig {
        merkle: merkle_config(prefix, "events", page_cache),
        log: VariableLogConfig {
            partition: format!("{prefix}-events-log"),
            items_per_section: NZU64!(4_096),
            compression: None,
            codec_config: (),
            page_cache: page_cache.clone(),
            write_buffer: IO_BUFFER,
            replay_buffer: IO_BUFFER,
        },
    };
    (state, events)
}

/// A state-sync resolver that never fetches and never serves (see the module docs).
pub struct NoStateSync<Op>(PhantomData<fn() -> Op>);

impl<Op> Clone for NoStateSync<Op> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}

impl<Op> Default for NoStateSync<Op> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<Op: Send + Sync + 'static> Source for NoStateSync<Op> {
    type Family = Family;
    type Digest = Digest;
    type Op = Op;
    type Error = Infallible;

    fn serve(
        &self,
        _request: Request<Family>,
    ) -> impl Future<Output = source::Result<Self>> + Send {
        std::future::pending()
    }
}

impl<DB: Send + Sync + 'static, Op: Send + Sync + 'static> AttachableResolver<DB>
    for NoStateSync<Op>
{
    async fn attach_database(&self, _database: Shared<DB>) {}
}

/// The resolvers passed to `Stateful`.
pub type Resolvers = (NoStateSync<StateOp>, NoStateSync<EventOp>);
