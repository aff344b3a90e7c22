//! The node's services for the API: submission, status, blocks, transactions and state with
//! proofs. Every error is a [`Problem`] naming what was wrong.

use crate::{
    app::Tip,
    block::Block,
    db::{Databases, StateAbsenceProof, StateValueProof, state_key},
    engine::EngineHandles,
    mempool::{MempoolError, PoolStatus},
};
use commonware_codec::{DecodeExt, Encode};
use commonware_consensus::types::Height;
use commonware_cryptography::Digestible;
use commonware_runtime::{Clock, Spawner};
use commonware_storage::{Context as StorageContext, mmr::Location};
use medchain_state::{
    BlockEnv, BlockExecutor, StateError, StateRead, TxError,
    attest::Attestation,
    governance::{GovernanceConfig, Proposal},
    keys,
};
use medchain_types::{
    Event, EventRecord, Genesis, Outcome, Party, PublicKey, Receipt, SignedTransaction, TxHash,
    VerifiedTransaction,
    api::{
        BlockResponse, ContextHeader, Finality, LatestBlock, Problem, ProofKind, StateProof,
        StateResponse, StatusResponse, TxRejection, TxState, TxStatusResponse,
    },
};
use std::sync::Arc;

/// Reads finalized state through a held read guard of the state database.
pub(crate) struct GuardView<'a, DB>(pub(crate) &'a DB);

impl<E: Spawner + StorageContext + Clock> StateRead for GuardView<'_, crate::db::StateDb<E>> {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.0
            .get(&state_key(key))
            .await
            .map(|value| value.map(|blob| blob.0))
            .map_err(|err| StateError::Store(format!("{err:?}")))
    }
}

/// Failed signatures after which the rest of a batch is refused unchecked.
pub const BATCH_BAD_SIGNATURES_MAX: usize = 16;

/// The HTTP status for a transaction the state machine refuses.
pub fn tx_error_status(err: &TxError) -> u16 {
    match err {
        TxError::State(_) => 500,
        TxError::UnknownSigner(_)
        | TxError::WrongKey { .. }
        | TxError::MissingRole { .. }
        | TxError::WrongKind { .. }
        | TxError::NotAccredited { .. }
        | TxError::NotIssuer { .. }
        | TxError::CredentialRequired { .. } => 403,
        TxError::NonceUsed { .. }
        | TxError::Duplicate(_)
        | TxError::KeyInUse(_)
        | TxError::PartyExists(_)
        | TxError::ProposalClosed { .. }
        | TxError::ProposalExpired { .. }
        | TxError::AlreadyApproved { .. }
        | TxError::CredentialExists(_)
        | TxError::CredentialRevoked(_) => 409,
        TxError::UnknownParty(_) | TxError::UnknownProposal(_) | TxError::UnknownCredential(_) => {
            404
        }
        TxError::NonceGap { .. }
        | TxError::Invalid { .. }
        | TxError::TooManyEvents { .. }
        | TxError::TooCostly { .. } => 422,
        TxError::AccessDenied(_) | TxError::SuspectProduct(_) => 403,
        TxError::Refused { code, .. } => match *code {
            "unknown_record"
            | "unknown_grant"
            | "unknown_break_glass"
            | "unknown_lot"
            | "unknown_container" => 404,
            "not_patient"
            | "no_write_consent"
            | "no_organisation"
            | "not_configured"
            | "missing_role"
            | "not_manufacturer"
            | "not_trading_partner" => 403,
            _ => 409,
        },
    }
}

/// How far ahead of its next nonce a party may queue transactions.
pub const NONCE_WINDOW: u64 = 4_096;
/// How many heights above a proven block the node searches for a certificate.
const CERTIFICATE_SEARCH_MAX: u64 = 256;

/// The services of one running node.
pub struct NodeService<E: Spawner + StorageContext + Clock> {
    pub(crate) handles: EngineHandles<E>,
    pub(crate) databases: Databases<E>,
    genesis: Arc<Genesis>,
    /// The genesis digest, computed once: every status answer carries it.
    genesis_digest: medchain_types::Hash32,
    validator_key: PublicKey,
    pub(crate) custodian: Option<Arc<crate::custodian::Custodian>>,
}

impl<E: Spawner + StorageContext + Clock> Clone for NodeService<E> {
    fn clone(&self) -> Self {
        Self {
            handles: self.handles.clone(),
            databases: self.databases.clone(),
            genesis: self.genesis.clone(),
            genesis_digest: self.genesis_digest,
            validator_key: self.validator_key,
            custodian: self.custodian.clone(),
        }
    }
}

pub(crate) fn internal(detail: impl Into<String>) -> Problem {
    Problem::new(500, "internal", detail)
}

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    /// Waits for the databases to open, and loads the latest finalized block into the view.
    pub async fn new(
        handles: EngineHandles<E>,
        genesis: Genesis,
        validator_key: PublicKey,
    ) -> Self {
        let databases = handles.stateful.subscribe_databases().await;
        if let Some(processed) = handles.marshal.get_processed().await
            && let Some(block) = handles.marshal.get_block(processed.height()).await
        {
            handles.view.observe(block.inner());
        }
        Self {
            handles,
            databases,
            genesis_digest: genesis.digest(),
            genesis: Arc::new(genesis),
            validator_key,
            custodian: None,
        }
    }

    /// Makes this node a custodian: it stores sealed content and wrapped keys for the records
    /// that name its operator, and serves them for granted reads.
    pub fn with_custodian(mut self, custodian: crate::custodian::Custodian) -> Self {
        self.custodian = Some(Arc::new(custodian));
        self
    }

    /// The genesis the node runs.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The latest finalized block.
    pub fn tip(&self) -> Tip {
        self.handles.view.tip()
    }

    /// Subscribes to finalized heights.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.handles.view.subscribe()
    }

    pub(crate) async fn read_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Problem> {
        let state = self.databases.0.read().await;
        state
            .get(&state_key(key))
            .await
            .map(|value| value.map(|blob| blob.0))
            .map_err(|err| internal(format!("state read failed: {err:?}")))
    }

    /// A provable list's length, and its items from `from`, at most `limit` of them.
    pub(crate) async fn list_items(
        &self,
        list: &str,
        owner: &[u8; 32],
        from: u64,
        limit: u64,
    ) -> Result<(u64, Vec<Vec<u8>>), Problem> {
        let count = match self
            .read_raw(&medchain_state::lists::count_key(list, owner))
            .await?
        {
            Some(bytes) => u64::from_be_bytes(
                bytes
                    .try_into()
                    .map_err(|_| internal("a list count is corrupt"))?,
            ),
            None => 0,
        };
        let mut items = Vec::new();
        for seq in from..count.min(from.saturating_add(limit)) {
            let item = self
                .read_raw(&medchain_state::lists::item_key(list, owner, seq))
                .await?
                .ok_or_else(|| internal(format!("list {list} item {seq} is missing")))?;
            items.push(item);
        }
        Ok((count, items))
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> StatusResponse {
        let tip = self.tip();
        StatusResponse {
            chain_id: self.genesis.chain_id.clone(),
            genesis_digest: self.genesis_digest,
            validator_key: self.validator_key,
            node_party: self
                .genesis
                .validators
                .iter()
                .find(|validator| validator.public_key == self.validator_key)
                .and_then(|validator| validator.operator),
            latest: LatestBlock {
                height: tip.height,
                hash: tip.hash,
                time_ms: tip.header.time_ms,
                state_root: tip.header.state_root,
            },
            validators: self
                .genesis
                .validators
                .iter()
                .map(|validator| validator.public_key)
                .collect(),
            mempool_size: self.handles.mempool.len(),
        }
    }

    /// Checks and queues a transaction.
    pub async fn submit(&self, tx: SignedTransaction) -> Result<TxHash, Problem> {
        let verified = self.verify(tx)?;
        self.admit(verified).await
    }

    /// Checks and queues many transactions; signatures are verified in parallel, then each
    /// transaction is checked against state and queued in order.
    ///
    /// Anyone may send a batch, so its signature work is bounded before it is done: once
    /// [`BATCH_BAD_SIGNATURES_MAX`] of its signatures have failed, the rest of the batch is
    /// refused unchecked (`batch_abandoned`). An honest client sends no bad signature; a
    /// forged batch of 10,000 costs a few dozen checks, not 10,000.
    pub async fn submit_many(&self, txs: Vec<SignedTransaction>) -> Vec<Result<TxHash, Problem>> {
        use rayon::prelude::*;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let bad = AtomicUsize::new(0);
        let verified: Vec<Result<VerifiedTransaction, Problem>> = txs
            .into_par_iter()
            .map(|tx| {
                if bad.load(Ordering::Relaxed) >= BATCH_BAD_SIGNATURES_MAX {
                    return Err(Problem::new(
                        400,
                        "batch_abandoned",
                        format!(
                            "not checked: {BATCH_BAD_SIGNATURES_MAX} signatures of this batch already failed"
                        ),
                    ));
                }
                let checked = self.verify(tx);
                if matches!(&checked, Err(problem) if problem.code == "bad_signature") {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
                checked
            })
            .collect();
        let mut results = Vec::with_capacity(verified.len());
        for tx in verified {
            results.push(match tx {
                Ok(tx) => self.admit(tx).await,
                Err(problem) => Err(problem),
            });
        }
        results
    }

    pub(crate) fn verify(&self, tx: SignedTransaction) -> Result<VerifiedTransaction, Problem> {
        VerifiedTransaction::verify(tx, &self.genesis.chain_id).map_err(|err| {
            let code = match err {
                medchain_types::StatelessError::TooLarge { .. } => "too_large",
                medchain_types::StatelessError::Malformed(_) => "malformed",
                medchain_types::StatelessError::WrongChain { .. } => "wrong_chain",
                medchain_types::StatelessError::BadSignature => "bad_signature",
                medchain_types::StatelessError::InvalidField(_) => "invalid_field",
            };
            let status = if code == "too_large" { 413 } else { 400 };
            Problem::new(status, code, err.to_string())
        })
    }

    /// The stateful checks and admission to the mempool of a verified transaction.
    pub(crate) async fn admit(&self, verified: VerifiedTransaction) -> Result<TxHash, Problem> {
        self.admit_with(verified, true).await
    }

    /// [`Self::admit`]; `dry_run` false skips running the transaction against finalized state,
    /// for a caller that just did (the custodian's read path).
    pub(crate) async fn admit_with(
        &self,
        verified: VerifiedTransaction,
        dry_run: bool,
    ) -> Result<TxHash, Problem> {
        let mut hashes = self
            .admit_all(vec![verified], dry_run)
            .await
            .map_err(|(_, problem)| problem)?;
        Ok(hashes.remove(0))
    }

    /// Admits transactions all together or none of them (an EPCIS capture): each passes the
    /// admission checks, then the pool takes them at once, so nothing submitted meanwhile
    /// (another capture, a transaction of the same account) can take a nonce between them.
    /// On refusal, answers the position of the first that could not go in and why.
    pub(crate) async fn admit_all(
        &self,
        verified: Vec<VerifiedTransaction>,
        dry_run: bool,
    ) -> Result<Vec<TxHash>, (usize, Problem)> {
        for (i, tx) in verified.iter().enumerate() {
            self.check_admission(tx, dry_run)
                .await
                .map_err(|problem| (i, problem))?;
        }
        let signed: Vec<SignedTransaction> = verified.iter().map(|v| v.signed().clone()).collect();
        let hashes = verified.iter().map(VerifiedTransaction::hash).collect();
        self.handles
            .mempool
            .insert_all(verified)
            .map_err(|(i, err)| (i, mempool_problem(err)))?;
        for tx in signed {
            self.handles.gossip.publish(tx);
        }
        Ok(hashes)
    }

    /// Why the chain would not take `verified` now, from state as of the tip.
    async fn check_admission(
        &self,
        verified: &VerifiedTransaction,
        dry_run: bool,
    ) -> Result<(), Problem> {
        let hash = verified.hash();
        let transaction = verified.transaction();
        if self.read_raw(&keys::receipt(&hash)).await?.is_some() {
            return Err(Problem::new(
                409,
                "duplicate",
                format!("transaction {hash} was already committed"),
            ));
        }
        let Some(bytes) = self.read_raw(&keys::party(&transaction.signer)).await? else {
            return Err(Problem::new(
                403,
                "unknown_signer",
                format!("unknown signer {}", transaction.signer),
            ));
        };
        let party = Party::decode(bytes)
            .map_err(|err| internal(format!("stored party is corrupt: {err}")))?;
        if party.signing_key != transaction.public_key {
            return Err(Problem::new(
                403,
                "wrong_key",
                format!(
                    "public key {} is not the current signing key of {} (key version {})",
                    transaction.public_key, party.id, party.key_version
                ),
            ));
        }
        if transaction.nonce < party.nonce {
            return Err(Problem::new(
                409,
                "nonce_used",
                format!(
                    "nonce {} was already used by {}; the next nonce is {}",
                    transaction.nonce, party.id, party.nonce
                ),
            ));
        }
        if transaction.nonce > party.nonce + NONCE_WINDOW {
            return Err(Problem::new(
                400,
                "nonce_too_far",
                format!(
                    "nonce {} is more than {NONCE_WINDOW} ahead of {}'s next nonce {}",
                    transaction.nonce, party.id, party.nonce
                ),
            ));
        }
        if dry_run && transaction.nonce == party.nonce {
            // The transaction is next in line: run it against finalized state now, so that a
            // refusal (a missing role, a reused key, a closed proposal, ...) is answered at
            // once rather than discovered in a block. Nothing is written.
            if let Err(err) = self.dry_run_verified(verified).await? {
                return Err(Problem::new(
                    tx_error_status(&err),
                    err.code(),
                    err.to_string(),
                ));
            }
        }
        Ok(())
    }

    /// Runs a verified transaction against finalized state without keeping anything: its
    /// outcome if it were in the next block, or why it would be refused.
    pub(crate) async fn dry_run_verified(
        &self,
        verified: &VerifiedTransaction,
    ) -> Result<Result<medchain_types::Outcome, TxError>, Problem> {
        let tip = self.tip();
        let env = BlockEnv {
            chain_id: self.genesis.chain_id.clone(),
            height: tip.height + 1,
            time_ms: tip.header.time_ms + 1,
            event_base: 0,
        };
        let state = self.databases.0.read().await;
        let view = GuardView(&*state);
        let mut executor = BlockExecutor::new(&view, env);
        // One that takes longer to execute alone than a block may take to build would be
        // refused by every proposer (after costing each a slow view): refused here at once.
        let limit = std::time::Duration::from_millis(self.genesis.consensus.proposal_limit_ms());
        let began = std::time::Instant::now();
        Ok(executor
            .apply_admitted(verified, |writes| {
                let took = began.elapsed();
                if took > limit {
                    return Err(TxError::too_costly(took, writes, limit));
                }
                Ok(())
            })
            .await
            .map(|outcome| outcome.receipt.outcome))
    }

    /// `GET /v1/transactions/{hash}`.
    pub async fn tx_status(&self, hash: TxHash) -> Result<TxStatusResponse, Problem> {
        // The pool is read first: a block finalizing between the two reads moves the
        // transaction from the pool to state, and reading state second still finds it.
        let pool = self.handles.mempool.status(&hash);
        if let Some(bytes) = self.read_raw(&keys::receipt(&hash)).await? {
            let receipt = Receipt::decode(bytes)
                .map_err(|err| internal(format!("stored receipt is corrupt: {err}")))?;
            let mut events = Vec::with_capacity(receipt.event_count as usize);
            let log = self.databases.1.read().await;
            let end = receipt.first_event + u64::from(receipt.event_count);
            if end > *log.bounds().end {
                // The state and the event log are applied one after the other: the receipt is
                // visible a moment before its events. Until both are, it is not committed here.
                return Ok(TxStatusResponse {
                    hash,
                    status: TxState::Pending,
                    receipt: None,
                    events: Vec::new(),
                    rejection: None,
                });
            }
            for location in receipt.first_event..end {
                let blob = log
                    .get(Location::new(location))
                    .await
                    .map_err(|err| internal(format!("event log read failed: {err:?}")))?
                    .ok_or_else(|| internal(format!("event {location} is missing from the log")))?;
                let record = EventRecord::decode(blob.0)
                    .map_err(|err| internal(format!("stored event is corrupt: {err}")))?;
                events.push(record.event);
            }
            let (status, rejection) = match receipt.outcome {
                Outcome::Applied => (TxState::Committed, None),
                Outcome::Denied => (TxState::Denied, self.denial_of(&events).await?),
            };
            return Ok(TxStatusResponse {
                hash,
                status,
                receipt: Some(receipt),
                events,
                rejection,
            });
        }
        let (status, rejection) = match pool {
            PoolStatus::Pending => (TxState::Pending, None),
            PoolStatus::Rejected { code, reason } => {
                (TxState::Rejected, Some(TxRejection { code, reason }))
            }
            PoolStatus::Unknown => (TxState::Unknown, None),
        };
        Ok(TxStatusResponse {
            hash,
            status,
            receipt: None,
            events: Vec::new(),
            rejection,
        })
    }

    /// The rule that refused a denied transaction, from the record it left: a policy denial
    /// says it in its event; a refused supply operation, in the alert it raised; a refused
    /// read, in the patient's access-log entry.
    async fn denial_of(&self, events: &[Event]) -> Result<Option<TxRejection>, Problem> {
        use medchain_state::lists::{item_key, names};
        for event in events {
            match event {
                Event::ActionDenied { code, reason, .. } => {
                    return Ok(Some(TxRejection {
                        code: code.clone(),
                        reason: reason.clone(),
                    }));
                }
                Event::SuspectProduct { alert, kind, .. } => {
                    let key = item_key(names::ALERTS, &medchain_types::supply::ALERTS_ALL, *alert);
                    let reason = match self.read_raw(&key).await? {
                        Some(bytes) => {
                            medchain_types::supply::Alert::decode(bytes)
                                .map_err(|err| internal(format!("stored alert is corrupt: {err}")))?
                                .reason
                        }
                        None => String::new(),
                    };
                    return Ok(Some(TxRejection {
                        code: kind.name().to_string(),
                        reason: format!("{reason} (suspect-product alert {alert})"),
                    }));
                }
                Event::RecordAccessDenied {
                    patient, code, seq, ..
                } => {
                    let key = item_key(names::ACCESS, &patient.0, *seq);
                    let reason = match self.read_raw(&key).await? {
                        Some(bytes) => match medchain_types::records::AccessEntry::decode(bytes)
                            .map_err(|err| {
                                internal(format!("stored access entry is corrupt: {err}"))
                            })?
                            .outcome
                        {
                            medchain_types::records::AccessOutcome::Denied { reason, .. } => reason,
                            _ => String::new(),
                        },
                        None => String::new(),
                    };
                    return Ok(Some(TxRejection {
                        code: code.clone(),
                        reason: format!("{reason} (entry {seq} of the patient's access log)"),
                    }));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    pub(crate) async fn block_at(&self, height: u64) -> Option<Block> {
        self.handles
            .marshal
            .get_block(Height::new(height))
            .await
            .map(|block| block.inner().clone())
    }

    /// `GET /v1/blocks/{height}`.
    pub async fn block(&self, height: u64) -> Result<BlockResponse, Problem> {
        let Some(block) = self.block_at(height).await else {
            return Err(Problem::new(
                404,
                "block_not_found",
                format!(
                    "no finalized block at height {height} (latest is {})",
                    self.tip().height
                ),
            ));
        };
        let finalization = self
            .handles
            .marshal
            .get_finalization(Height::new(height))
            .await
            .map(|certificate| hex::encode(certificate.encode()));
        Ok(BlockResponse {
            height,
            hash: block.hash(),
            header: block.header.clone(),
            context: hex::encode(block.context.encode()),
            transactions: block.tx_hashes(),
            finalization,
        })
    }

    /// A certificate for `height`, or for the nearest certified height above it with the
    /// headers linking down.
    pub(crate) async fn finality(&self, height: u64) -> Result<Finality, Problem> {
        let mut links = Vec::new();
        let tip = self.tip().height;
        for candidate in height..=tip.min(height + CERTIFICATE_SEARCH_MAX) {
            let block = self
                .block_at(candidate)
                .await
                .ok_or_else(|| internal(format!("finalized block {candidate} is missing")))?;
            let header = ContextHeader {
                header: block.header.clone(),
                context: hex::encode(block.context.encode()),
            };
            if let Some(certificate) = self
                .handles
                .marshal
                .get_finalization(Height::new(candidate))
                .await
            {
                debug_assert_eq!(certificate.proposal.payload, block.digest());
                links.reverse();
                return Ok(Finality {
                    certified: header,
                    finalization: hex::encode(certificate.encode()),
                    links,
                });
            }
            links.push(header);
        }
        Err(Problem::new(
            503,
            "no_certificate_yet",
            format!("no finalization certificate covers height {height} yet; retry shortly"),
        ))
    }

    /// The finality bundle of `height`, from `cache` when it holds that height's (and kept
    /// there otherwise).
    async fn finality_cached(
        &self,
        height: u64,
        cache: Option<&std::sync::Mutex<Option<(u64, Finality)>>>,
    ) -> Result<Finality, Problem> {
        let lock = |cache: &std::sync::Mutex<Option<(u64, Finality)>>| {
            cache
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .clone()
        };
        if let Some((at, finality)) = cache.and_then(lock)
            && at == height
        {
            return Ok(finality);
        }
        let built = self.finality(height).await?;
        if let Some(cache) = cache {
            *cache.lock().unwrap_or_else(|poison| poison.into_inner()) =
                Some((height, built.clone()));
        }
        Ok(built)
    }

    /// `GET /v1/state/{key}`: the value under `key`, with a proof against a finalized block
    /// when asked.
    pub async fn state(&self, key: Vec<u8>, with_proof: bool) -> Result<StateResponse, Problem> {
        self.state_with(key, with_proof, None).await
    }

    /// [`Self::state`], taking the finality bundle of a height from `finality` when it holds
    /// it (and keeping it there): an answer proving a thousand entries at one height builds
    /// its certificate and links once, not a thousand times.
    pub(crate) async fn state_with(
        &self,
        key: Vec<u8>,
        with_proof: bool,
        finality: Option<&std::sync::Mutex<Option<(u64, Finality)>>>,
    ) -> Result<StateResponse, Problem> {
        let database_key = state_key(&key);
        let (root, value, proof) = {
            let state = self.databases.0.read().await;
            let root = state.root();
            let value = state
                .get(&database_key)
                .await
                .map_err(|err| internal(format!("state read failed: {err:?}")))?
                .map(|blob| blob.0);
            let proof = if !with_proof {
                None
            } else if value.is_some() {
                let proof: StateValueProof = state
                    .key_value_proof(database_key)
                    .await
                    .map_err(|err| internal(format!("proof failed: {err:?}")))?;
                Some((ProofKind::Value, hex::encode(proof.encode())))
            } else {
                let proof: StateAbsenceProof = state
                    .exclusion_proof(&database_key)
                    .await
                    .map_err(|err| internal(format!("proof failed: {err:?}")))?;
                Some((ProofKind::Absence, hex::encode(proof.encode())))
            };
            (root, value, proof)
        };
        let root = medchain_types::Hash32(root.0);
        // The live state belongs to the last applied block, which is normally the tip; right
        // after startup, or between applying a block and recording it, the root may not be
        // known yet: a plain read reports the tip, a proof waits for the next block.
        let height = match self.handles.view.height_of_root(&root) {
            Some(height) => height,
            None if proof.is_none() => self.tip().height,
            None => {
                return Err(Problem::new(
                    503,
                    "state_settling",
                    "the state is between blocks; retry shortly",
                ));
            }
        };
        let proof = match proof {
            None => None,
            Some((kind, proof)) => Some(StateProof {
                kind,
                proof,
                height,
                finality: self.finality_cached(height, finality).await?,
            }),
        };
        Ok(StateResponse {
            key: keys::describe(&key),
            key_hex: hex::encode(&key),
            decoded: value.as_ref().and_then(|bytes| decode_value(&key, bytes)),
            value: value.map(hex::encode),
            height,
            proof,
        })
    }

    /// Transactions and blocks finalized since start, and transactions the mempool rejected.
    pub fn counters(&self) -> (u64, u64, u64) {
        let (committed, blocks) = self.handles.view.counters();
        (committed, blocks, self.handles.mempool.rejected_total())
    }
}

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    /// `GET /v1/credentials/check`: the credentials `party` holds of `credential_type`
    /// (within `jurisdiction` if given), each with its standing at `at_ms` (default: the tip's
    /// time), and whether any is valid then ([`medchain_state::credentials::check`]); with
    /// every state entry the answer rests on, proven at one height, when asked.
    pub async fn credential_check(
        &self,
        party: medchain_types::PartyId,
        credential_type: medchain_types::credential::CredentialType,
        jurisdiction: Option<medchain_types::credential::Jurisdiction>,
        at_ms: Option<u64>,
        with_proof: bool,
    ) -> Result<medchain_types::api::CredentialCheckResponse, Problem> {
        crate::query::consistently(|| async {
            let tip = self.tip();
            let at_ms = at_ms.unwrap_or(tip.header.time_ms);
            let reads = crate::query::Recorder::at(self, with_proof, tip.height);
            let mut answer = medchain_state::credentials::check(
                &reads,
                &party,
                &credential_type,
                jurisdiction.as_ref(),
                at_ms,
                tip.height,
            )
            .await
            .map_err(|err| reads.problem(err))?;
            if with_proof {
                answer.entries = reads.entries();
            }
            Ok(answer)
        })
        .await
    }
}

/// The JSON of a value stored in the canonical encoding of `T`.
fn json_of<T: commonware_codec::Read<Cfg = ()> + serde::Serialize>(
    bytes: &[u8],
) -> Option<serde_json::Value> {
    T::decode(bytes.to_vec())
        .ok()
        .and_then(|v| serde_json::to_value(v).ok())
}

/// A list's count, or one of its items: an id, an access-log entry, a suspect-product alert,
/// the objects of a packing into a container, or the serials of a lot's commissioning.
fn decode_list_value(text: &str, bytes: &[u8]) -> Option<serde_json::Value> {
    use medchain_state::lists::names;
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        ["list", _, _] => <[u8; 8]>::try_from(bytes)
            .ok()
            .map(|count| serde_json::json!({ "count": u64::from_be_bytes(count) })),
        ["list", name, _, _] if *name == names::ACCESS => {
            json_of::<medchain_types::records::AccessEntry>(bytes)
        }
        ["list", name, _, _] if *name == names::ALERTS => {
            json_of::<medchain_types::supply::Alert>(bytes)
        }
        ["list", name, _, _] if *name == names::CONTENTS => {
            json_of::<medchain_types::supply::Objects>(bytes)
        }
        ["list", name, _, _] if *name == names::LOT_BATCHES => {
            json_of::<medchain_types::supply::LotBatch>(bytes)
        }
        ["list", name, _, _] if *name == names::EVENT_DAYS || *name == names::LOT_EVENTS => {
            json_of::<medchain_types::supply::EventRef>(bytes)
        }
        ["list", _, _, _] => {
            (bytes.len() == 32).then(|| serde_json::Value::String(hex::encode(bytes)))
        }
        _ => None,
    }
}

/// Renders a stored value as JSON when the key's type is known.
pub fn decode_value(key: &[u8], bytes: &[u8]) -> Option<serde_json::Value> {
    let text = keys::describe(key);
    let kind = text.split('/').next().unwrap_or_default();
    match kind {
        "party" => json_of::<Party>(bytes),
        "receipt" => json_of::<Receipt>(bytes),
        "proposal" => json_of::<Proposal>(bytes),
        "governance" => json_of::<GovernanceConfig>(bytes),
        "attestation" => json_of::<Attestation>(bytes),
        "credential" => json_of::<medchain_types::credential::Credential>(bytes),
        "accreditation" => json_of::<medchain_state::credentials::Accreditation>(bytes),
        "requirement" => json_of::<medchain_types::tx::CredentialRequirement>(bytes),
        "credential-types" => json_of::<medchain_state::credentials::IssuedTypes>(bytes),
        "key" => json_of::<medchain_types::KeyRecord>(bytes),
        "record" => json_of::<medchain_types::records::Record>(bytes),
        "record-version" => json_of::<medchain_types::records::RecordVersion>(bytes),
        "grant" => json_of::<medchain_types::records::Grant>(bytes),
        "break-glass" => json_of::<medchain_types::records::BreakGlass>(bytes),
        "product" => json_of::<medchain_types::supply::Product>(bytes),
        "lot" => json_of::<medchain_types::supply::Lot>(bytes),
        "unit" => json_of::<medchain_types::supply::Unit>(bytes),
        "container" => json_of::<medchain_types::supply::Container>(bytes),
        "shipment" => json_of::<medchain_types::supply::Shipment>(bytes),
        "transformation" => json_of::<medchain_types::supply::Transformation>(bytes),
        "list" => decode_list_value(&text, bytes),
        "genesis" => medchain_types::Hash32::from_slice(bytes)
            .ok()
            .map(|digest| serde_json::Value::String(digest.to_hex())),
        _ => None,
    }
}

/// The answer for a transaction the pool would not take.
fn mempool_problem(err: MempoolError) -> Problem {
    match err {
        MempoolError::AlreadyPending(_) => Problem::new(409, "already_pending", err.to_string()),
        MempoolError::NonceTaken { .. } => Problem::new(409, "nonce_pending", err.to_string()),
        MempoolError::AlreadyCommitted(_) => Problem::new(409, "duplicate", err.to_string()),
        MempoolError::Full { .. } => Problem::new(503, "mempool_full", err.to_string()),
    }
}
