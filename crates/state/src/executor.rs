//! Executes a block's transactions, one at a time, over a speculative overlay of state.

use crate::{
    error::{StateError, TxError},
    keys,
    view::StateRead,
};
use commonware_codec::{Decode, Encode, Read};
use medchain_types::{
    ChainId, Event, EventRecord, Outcome, Party, PartyId, Receipt, TxBody, TxHash,
    VerifiedTransaction, event::DENIAL_REASON_BYTES_MAX, limits::EVENTS_PER_TRANSACTION_MAX,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// What the block supplies to execution: nothing else may influence it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEnv {
    pub chain_id: ChainId,
    pub height: u64,
    /// Block time, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Number of events already in the event log before this block.
    pub event_base: u64,
}

/// The result of a committed transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    pub receipt: Receipt,
    pub events: Vec<Event>,
    /// For a denied transaction, why: the refusal's code and words.
    pub denial: Option<(String, String)>,
}

/// Writes and events a block produced, in a deterministic order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockOutput {
    /// Key writes, sorted by key; `None` deletes.
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Events in emission order.
    pub events: Vec<EventRecord>,
}

/// Executes transactions against a base view, keeping their writes in memory.
pub struct BlockExecutor<'a, R: StateRead> {
    base: &'a R,
    /// Values read from the base. The base does not change during a block, and the same keys
    /// (a signer's party, a product, a lot, a licence) are read by transaction after
    /// transaction.
    read_cache: Mutex<HashMap<Vec<u8>, Option<Vec<u8>>>>,
    env: BlockEnv,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    events: Vec<EventRecord>,
    committed: u32,
}

impl<'a, R: StateRead> BlockExecutor<'a, R> {
    /// Starts a block over `base`.
    pub fn new(base: &'a R, env: BlockEnv) -> Self {
        Self {
            base,
            read_cache: Mutex::new(HashMap::new()),
            env,
            writes: BTreeMap::new(),
            events: Vec::new(),
            committed: 0,
        }
    }

    /// The block's environment.
    pub fn env(&self) -> &BlockEnv {
        &self.env
    }

    /// Number of transactions committed so far.
    pub fn committed(&self) -> u32 {
        self.committed
    }

    /// Reads through the block's writes to the base.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(value) = self.writes.get(key) {
            return Ok(value.clone());
        }
        if let Some(value) = self.cached(key) {
            return Ok(value);
        }
        let value = self.base.get(key).await?;
        self.cache().insert(key.to_vec(), value.clone());
        Ok(value)
    }

    /// Reads several keys through the block's writes, with one read of the base for those
    /// neither written nor read before.
    pub async fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        let mut reads = Overlaid::new(keys, |key| {
            self.writes.get(key).cloned().or_else(|| self.cached(key))
        });
        if let Some(wanted) = reads.wanted() {
            let read = self.base.get_many(&wanted).await?;
            reads.fill(read)?;
            let mut cache = self.cache();
            for (key, value) in reads.filled() {
                cache.insert(key.to_vec(), value.clone());
            }
        }
        Ok(reads.values)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Option<Vec<u8>>>> {
        self.read_cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The base's value of `key` if it was read before (`Some(None)`: read and absent).
    fn cached(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.cache().get(key).cloned()
    }

    /// Applies writes that are not a transaction's (genesis seeding).
    pub fn write_raw(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.writes.insert(key, value);
    }

    /// Appends an event that is not a transaction's (genesis seeding).
    pub fn push_raw_event(&mut self, tx: TxHash, event: Event) {
        self.events.push(EventRecord {
            height: self.env.height,
            time_ms: self.env.time_ms,
            tx,
            event,
        });
    }

    /// Checks a transaction against current state without applying it: signer, key, nonce.
    pub async fn check(&self, tx: &VerifiedTransaction) -> Result<Party, TxError> {
        let ctx = TxContext::new(self);
        check_signer(&ctx, tx).await
    }

    /// Executes one transaction. On success its writes and events join the block; on error
    /// nothing of it remains.
    ///
    /// A policy denial (see [`TxError::is_policy_denial`]) is the exception: the transaction
    /// is committed as [`Outcome::Denied`], using its nonce and recording the attempt (an
    /// [`Event::ActionDenied`], or for a refused read an access-log entry and an
    /// [`Event::RecordAccessDenied`]), and nothing else of it remains.
    pub async fn apply(&mut self, tx: &VerifiedTransaction) -> Result<TxOutcome, TxError> {
        self.apply_admitted(tx, |_| Ok(())).await
    }

    /// Applies `tx` like [`apply`](Self::apply), but `admit` has the last word: it is told how
    /// many state keys the transaction writes, and if it refuses, the block is left as if the
    /// transaction had never run. A proposer uses it to refuse a transaction too costly to
    /// execute within its time budget.
    pub async fn apply_admitted(
        &mut self,
        tx: &VerifiedTransaction,
        admit: impl FnOnce(usize) -> Result<(), TxError>,
    ) -> Result<TxOutcome, TxError> {
        let (writes, events, signer, outcome, denial) = {
            let mut ctx = TxContext::new(self);
            let mut signer = check_signer(&ctx, tx).await?;
            signer.nonce += 1;
            let signer_key = keys::party(&signer.id);
            let signer_value = signer.encode().to_vec();
            ctx.put(signer_key.clone(), signer_value.clone());
            let mut outcome = Outcome::Applied;
            let mut denial = None;
            if let Err(err) = dispatch(&mut ctx, tx, signer.id).await {
                if !err.is_policy_denial() {
                    return Err(err);
                }
                ctx.writes.clear();
                ctx.events.clear();
                ctx.put(signer_key, signer_value);
                record_denial(&mut ctx, signer.id, tx.hash(), &err).await?;
                outcome = Outcome::Denied;
                denial = Some((err.code().to_string(), err.to_string()));
            }
            if ctx.events.len() > EVENTS_PER_TRANSACTION_MAX {
                return Err(TxError::TooManyEvents {
                    found: ctx.events.len(),
                    max: EVENTS_PER_TRANSACTION_MAX,
                });
            }
            admit(ctx.writes.len())?;
            (ctx.writes, ctx.events, signer.id, outcome, denial)
        };
        let receipt = Receipt {
            tx: tx.hash(),
            signer,
            height: self.env.height,
            index: self.committed,
            first_event: self.env.event_base + self.events.len() as u64,
            event_count: events.len() as u32,
            outcome,
        };
        self.writes.extend(writes);
        self.writes
            .insert(keys::receipt(&tx.hash()), Some(receipt.encode().to_vec()));
        for event in &events {
            self.push_raw_event(tx.hash(), event.clone());
        }
        self.committed += 1;
        Ok(TxOutcome {
            receipt,
            events,
            denial,
        })
    }

    /// How many state keys the block writes so far.
    pub fn write_count(&self) -> usize {
        self.writes.len()
    }

    /// Ends the block.
    pub fn finish(self) -> BlockOutput {
        BlockOutput {
            writes: self.writes.into_iter().collect(),
            events: self.events,
        }
    }
}

/// A read of several keys through a layer of writes (or of reads made before): the layer's
/// answers, and the keys it has none for, to be read from the layer below all at once.
struct Overlaid<'k> {
    keys: &'k [&'k [u8]],
    values: Vec<Option<Vec<u8>>>,
    /// Positions in `keys` the layer had no answer for.
    missing: Vec<usize>,
}

impl<'k> Overlaid<'k> {
    /// `layer` answers `Some(value)` for a key it holds (`Some(None)`: deleted, or absent).
    fn new(keys: &'k [&'k [u8]], layer: impl Fn(&[u8]) -> Option<Option<Vec<u8>>>) -> Self {
        let mut values = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let answer = layer(key);
            if answer.is_none() {
                missing.push(i);
            }
            values.push(answer.flatten());
        }
        Self {
            keys,
            values,
            missing,
        }
    }

    /// The keys to read from below, if any.
    fn wanted(&self) -> Option<Vec<&'k [u8]>> {
        (!self.missing.is_empty()).then(|| self.missing.iter().map(|&i| self.keys[i]).collect())
    }

    /// Puts the layer below's answers, one per wanted key, in place.
    fn fill(&mut self, read: Vec<Option<Vec<u8>>>) -> Result<(), StateError> {
        if read.len() != self.missing.len() {
            return Err(StateError::Store(format!(
                "asked for {} keys, the store answered {}",
                self.missing.len(),
                read.len()
            )));
        }
        for (&i, value) in self.missing.iter().zip(read) {
            self.values[i] = value;
        }
        Ok(())
    }

    /// The keys read from below, with their values.
    fn filled(&self) -> impl Iterator<Item = (&'k [u8], &Option<Vec<u8>>)> + '_ {
        self.missing
            .iter()
            .map(|&i| (self.keys[i], &self.values[i]))
    }
}

/// Records a policy denial in a transaction's emptied context.
async fn record_denial<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    actor: PartyId,
    tx: TxHash,
    err: &TxError,
) -> Result<(), TxError> {
    match err {
        TxError::CredentialRequired { party, action, .. } => {
            ctx.emit(Event::ActionDenied {
                actor,
                action: action.to_string(),
                party: *party,
                code: err.code().to_string(),
                reason: truncate(err.to_string(), DENIAL_REASON_BYTES_MAX),
            });
            Ok(())
        }
        TxError::AccessDenied(_) => crate::records::log_denied(ctx, actor, tx, err).await,
        TxError::SuspectProduct(violation) => {
            crate::supply::record_alert(ctx, actor, tx, violation).await
        }
        _ => Err(err.clone()),
    }
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

async fn check_signer<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    tx: &VerifiedTransaction,
) -> Result<Party, TxError> {
    let transaction = tx.transaction();
    if transaction.chain_id != ctx.block.env.chain_id {
        return Err(TxError::Invalid {
            field: "chain_id",
            reason: format!(
                "transaction is for chain {}, this is {}",
                transaction.chain_id, ctx.block.env.chain_id
            ),
        });
    }
    let Some(party) = ctx
        .get_decoded::<Party>(&keys::party(&transaction.signer))
        .await?
    else {
        return Err(TxError::UnknownSigner(transaction.signer));
    };
    if party.signing_key != transaction.public_key {
        return Err(TxError::WrongKey {
            party: party.id,
            found: transaction.public_key,
            key_version: party.key_version,
        });
    }
    if transaction.nonce < party.nonce {
        return Err(TxError::NonceUsed {
            party: party.id,
            expected: party.nonce,
            found: transaction.nonce,
        });
    }
    if transaction.nonce > party.nonce {
        return Err(TxError::NonceGap {
            party: party.id,
            expected: party.nonce,
            found: transaction.nonce,
        });
    }
    // A nonce is used once, so a committed transaction can never come back; this guards the
    // invariant rather than enforcing a separate rule.
    if ctx.get(&keys::receipt(&tx.hash())).await?.is_some() {
        return Err(TxError::Duplicate(tx.hash()));
    }
    Ok(party)
}

async fn dispatch<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    tx: &VerifiedTransaction,
    signer: PartyId,
) -> Result<(), TxError> {
    match &tx.transaction().body {
        body @ (TxBody::RegisterParty { .. } | TxBody::RotateKeys { .. }) => {
            crate::identity::apply(ctx, signer, body).await
        }
        body @ (TxBody::Propose { .. } | TxBody::Approve { .. }) => {
            crate::governance::apply(ctx, signer, body).await
        }
        TxBody::Attest { subject, digest } => {
            crate::attest::apply(ctx, signer, *subject, *digest, tx.hash()).await
        }
        TxBody::IssueCredential {
            subject,
            credential_type,
            jurisdiction,
            number_commitment,
            specialty,
            valid_from_ms,
            valid_until_ms,
        } => {
            crate::credentials::issue(
                ctx,
                signer,
                crate::credentials::Issuance {
                    subject: *subject,
                    credential_type,
                    jurisdiction,
                    number_commitment: *number_commitment,
                    specialty: specialty.as_ref(),
                    valid_from_ms: *valid_from_ms,
                    valid_until_ms: *valid_until_ms,
                },
            )
            .await
        }
        TxBody::SetCredentialStatus {
            credential,
            status,
            reason,
        } => crate::credentials::set_status(ctx, signer, *credential, *status, reason).await,
        TxBody::Record(op) => crate::records::apply(ctx, signer, op, tx.hash()).await,
        TxBody::Supply(op) => crate::supply::apply(ctx, signer, op, tx.hash()).await,
    }
}

/// One transaction's view: reads see the transaction's own writes, then the block's, then the
/// base; writes and events stay here until the transaction succeeds.
pub struct TxContext<'b, 'a, R: StateRead> {
    block: &'b BlockExecutor<'a, R>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    events: Vec<Event>,
}

impl<'b, 'a, R: StateRead> TxContext<'b, 'a, R> {
    fn new(block: &'b BlockExecutor<'a, R>) -> Self {
        Self {
            block,
            writes: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    /// The block's environment.
    pub fn env(&self) -> &BlockEnv {
        &self.block.env
    }

    /// Reads a raw value.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.writes.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.block.get(key).await,
        }
    }

    /// Reads several raw values, in order, with one read of the store for those not written
    /// in this block.
    pub async fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        let mut reads = Overlaid::new(keys, |key| self.writes.get(key).cloned());
        if let Some(wanted) = reads.wanted() {
            reads.fill(self.block.get_many(&wanted).await?)?;
        }
        Ok(reads.values)
    }

    /// Reads and decodes a value.
    pub async fn get_decoded<T: Read<Cfg = ()>>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StateError> {
        let Some(bytes) = self.get(key).await? else {
            return Ok(None);
        };
        T::decode_cfg(bytes, &())
            .map(Some)
            .map_err(|err| StateError::Corrupt {
                key: keys::describe(key),
                reason: err.to_string(),
            })
    }

    /// Writes a value.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    /// Writes an encodable value.
    pub fn put_encoded(&mut self, key: Vec<u8>, value: &impl Encode) {
        self.put(key, value.encode().to_vec());
    }

    /// Deletes a key.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Emits an event.
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Reads a party that must exist.
    pub async fn party(&self, id: &PartyId) -> Result<Party, TxError> {
        self.get_decoded::<Party>(&keys::party(id))
            .await?
            .ok_or(TxError::UnknownParty(*id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryState;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A base that counts the keys it is asked for.
    struct Counting {
        inner: MemoryState,
        asked: AtomicUsize,
    }

    impl StateRead for Counting {
        async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
            self.asked.fetch_add(1, Ordering::Relaxed);
            self.inner.get(key).await
        }
    }

    fn env() -> BlockEnv {
        BlockEnv {
            chain_id: ChainId::new("medchain-test").expect("chain id"),
            height: 1,
            time_ms: 1,
            event_base: 0,
        }
    }

    #[test]
    fn reads_see_the_blocks_writes_and_ask_the_base_once_per_key() {
        let mut inner = MemoryState::new();
        inner.apply(&BlockOutput {
            writes: vec![
                (b"a".to_vec(), Some(b"base-a".to_vec())),
                (b"b".to_vec(), Some(b"base-b".to_vec())),
            ],
            events: Vec::new(),
        });
        let base = Counting {
            inner,
            asked: AtomicUsize::new(0),
        };
        let mut block = BlockExecutor::new(&base, env());
        block.write_raw(b"b".to_vec(), None);
        block.write_raw(b"c".to_vec(), Some(b"block-c".to_vec()));
        futures::executor::block_on(async {
            let keys: [&[u8]; 5] = [b"a", b"b", b"c", b"d", b"a"];
            let values = block.get_many(&keys).await.expect("read");
            assert_eq!(
                values,
                [
                    Some(b"base-a".to_vec()),
                    None,
                    Some(b"block-c".to_vec()),
                    None,
                    Some(b"base-a".to_vec()),
                ]
            );
            // Only what the block did not write went to the base ("a" twice in one read).
            assert_eq!(base.asked.load(Ordering::Relaxed), 3);
            // Read before: from the cache, absent or not.
            assert_eq!(
                block.get(b"a").await.expect("read"),
                Some(b"base-a".to_vec())
            );
            assert_eq!(block.get(b"d").await.expect("read"), None);
            assert_eq!(base.asked.load(Ordering::Relaxed), 3);
            // A write after a read wins over the cache.
            block.write_raw(b"a".to_vec(), Some(b"block-a".to_vec()));
            assert_eq!(
                block.get(b"a").await.expect("read"),
                Some(b"block-a".to_vec())
            );
            let tx = TxContext::new(&block);
            assert_eq!(
                tx.get_many(&[b"a", b"z"]).await.expect("read"),
                [Some(b"block-a".to_vec()), None]
            );
        });
    }
}
