//! EPCIS 2.0 over the chain: the query interface (`GET /epcis/events`), serving supply events
//! as EPCIS documents from the chain's own indexes, and capture (`POST /epcis/capture`),
//! turning a capture document into signed supply transactions, all checked together against
//! state before any is submitted.
//!
//! A query is answered by [`events_page`], a pure rule over state and blocks: the
//! transactions it selects come from state (an object's history, a lot's event list, the
//! event-day lists; `medchain_state::supply::query::event_candidates`), ordered as their
//! blocks hold them (by their receipts), and each is served as the EPCIS event(s) its
//! operation is, with its event hash id and its block's time as its record time
//! (`medchain_formats::epcis::query::Pager`). With proofs, the answer carries every state
//! entry read, each served transaction and the finality of each block they are in: a client
//! runs [`events_page`] again over what it verified (`medchain_client::supply`), so the
//! document it shows is the one it built.

use crate::{
    query::{Recorder, consistently},
    service::NodeService,
};
use commonware_runtime::{Clock, Spawner};
use commonware_storage::Context as StorageContext;
use medchain_formats::epcis::{
    self,
    query::{EventQuery, Pager},
};
use medchain_state::{
    QueryError, StateError, StateRead,
    executor::{BlockEnv, BlockExecutor},
    supply::query::{
        EVENTS_CANDIDATES_MAX, EVENTS_PROVEN_CANDIDATES_MAX, EventSelection, event_candidates,
        in_block_order,
    },
};
use medchain_types::{
    Outcome, PartyId, SignedTransaction, TxBody, TxHash,
    api::{EpcisEventsAnswer, Finality, Problem},
    keys::Keypair,
    supply::EVENT_TIME_SKEW_MS,
    tx::Transaction,
};
use serde_json::Value;
use std::{future::Future, sync::Mutex};

pub use medchain_formats::epcis::query::{PER_PAGE_DEFAULT, PER_PAGE_MAX, QUERY_DAYS_MAX};

/// A capture accepted: its transactions, in the order of the document's events.
pub struct CaptureAccepted {
    pub event_ids: Vec<String>,
    pub transactions: Vec<TxHash>,
}

/// The blocks an EPCIS answer reads its transactions from: the node's own, or, for a client,
/// those an answer with proofs carries, verified.
pub trait Blocks: Sync {
    /// The time of block `height`, and the transactions `wanted` of it, in that order. One
    /// the block does not hold is an error.
    fn transactions(
        &self,
        height: u64,
        wanted: &[TxHash],
    ) -> impl Future<Output = Result<(u64, Vec<SignedTransaction>), QueryError>> + Send;
}

/// A page of the answer to `query` from state `read` and `blocks`, as of a block whose time is
/// `now_ms` (the document's creation time; a query by event time with no end reads up to it
/// and the skew an event time may have), looking at `max` transactions at most: the
/// EPCISQueryDocument and the next page's token.
pub async fn events_page<R: StateRead, B: Blocks>(
    read: &R,
    blocks: &B,
    query: &EventQuery,
    now_ms: u64,
    max: usize,
) -> Result<(Value, Option<String>), QueryError> {
    let time_range = query
        .time_range(now_ms + EVENT_TIME_SKEW_MS + 1)
        .map_err(|err| QueryError::refused(400, "query_parameter", err.0))?;
    let selection = EventSelection {
        objects: query.objects().cloned().collect(),
        lots: query.classes.clone(),
        time_range,
    };
    let candidates = event_candidates(read, &selection, max).await?;
    let mut pager = Pager::new(query);
    'blocks: for (height, txs) in candidates {
        if query.after.is_some_and(|after| height < after.height) {
            continue;
        }
        let ordered: Vec<(u32, TxHash)> = in_block_order(read, height, &txs)
            .await?
            .into_iter()
            .filter(|(index, _)| !pager.before_start(height, *index))
            .collect();
        if ordered.is_empty() {
            continue;
        }
        let wanted: Vec<TxHash> = ordered.iter().map(|(_, tx)| *tx).collect();
        let (time_ms, found) = blocks.transactions(height, &wanted).await?;
        for ((index, _), signed) in ordered.iter().zip(&found) {
            let TxBody::Supply(op) = &signed.transaction.body else {
                return Err(StateError::Corrupt {
                    key: format!("block {height}"),
                    reason: format!(
                        "transaction {index} is indexed as a supply event but is not one"
                    ),
                }
                .into());
            };
            if !pager.feed(height, *index, time_ms, op) {
                break 'blocks;
            }
        }
    }
    Ok(pager.finish(now_ms))
}

/// The node's blocks, keeping what an answer with proofs carries: each transaction served and
/// the finality of each block read.
struct NodeBlocks<'s, E: Spawner + StorageContext + Clock> {
    service: &'s NodeService<E>,
    proof: bool,
    served: Mutex<(Vec<String>, Vec<Finality>)>,
    /// The problem a block read met, answered as it is (a certificate not there yet, say).
    problem: Mutex<Option<Problem>>,
}

impl<E: Spawner + StorageContext + Clock> Blocks for NodeBlocks<'_, E> {
    async fn transactions(
        &self,
        height: u64,
        wanted: &[TxHash],
    ) -> Result<(u64, Vec<SignedTransaction>), QueryError> {
        let missing = |what: String| QueryError::State(StateError::Store(what));
        let block = self
            .service
            .block_at(height)
            .await
            .ok_or_else(|| missing(format!("finalized block {height} is missing")))?;
        let hashes = block.tx_hashes();
        let found = wanted
            .iter()
            .map(|tx| {
                hashes
                    .iter()
                    .position(|h| h == tx)
                    .map(|at| block.transactions[at].clone())
                    .ok_or_else(|| missing(format!("block {height} does not hold {tx}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.proof {
            let finality = self.service.finality(height).await.map_err(|problem| {
                let err = missing(problem.detail.clone());
                *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = Some(problem);
                err
            })?;
            let mut served = self.served.lock().unwrap_or_else(|p| p.into_inner());
            served.0.extend(
                found
                    .iter()
                    .map(|signed| hex::encode(commonware_codec::Encode::encode(signed))),
            );
            served.1.push(finality);
        }
        Ok((block.header.time_ms, found))
    }
}

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    /// `GET /epcis/events`: a SimpleEventQuery, answered with an EPCISQueryDocument ([`events_page`]);
    /// with proofs, every state entry, transaction and block finality it rests on.
    pub async fn epcis_query(
        &self,
        params: &[(String, String)],
        proof: bool,
    ) -> Result<EpcisEventsAnswer, Problem> {
        let query =
            EventQuery::parse(params).map_err(|err| Problem::new(400, "query_parameter", err.0))?;
        let max = if proof {
            EVENTS_PROVEN_CANDIDATES_MAX
        } else {
            EVENTS_CANDIDATES_MAX
        };
        consistently(|| async {
            let tip = self.tip();
            let reads = Recorder::at(self, proof, tip.height);
            let blocks = NodeBlocks {
                service: self,
                proof,
                served: Mutex::default(),
                problem: Mutex::default(),
            };
            let (document, next_page_token) =
                events_page(&reads, &blocks, &query, tip.header.time_ms, max)
                    .await
                    .map_err(|err| {
                        let met = blocks
                            .problem
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .take();
                        met.unwrap_or_else(|| crate::supply::problem(&reads, err))
                    })?;
            let (transactions, blocks) = blocks
                .served
                .into_inner()
                .unwrap_or_else(|p| p.into_inner());
            Ok(EpcisEventsAnswer {
                document,
                next_page_token,
                height: tip.height,
                entries: reads.entries(),
                transactions,
                blocks,
            })
        })
        .await
    }

    /// `POST /epcis/capture` for a custodial account: turns the document into supply
    /// transactions signed with the account's key, runs them in order against current state,
    /// and submits them only if every one would apply.
    pub async fn epcis_capture(
        &self,
        signer: PartyId,
        keypair: &Keypair,
        document: &Value,
    ) -> Result<CaptureAccepted, Problem> {
        let captured = epcis::capture(document)
            .map_err(|err| Problem::new(400, "epcis_validation", err.to_string()))?;
        let party = self.party(&signer).await?.ok_or_else(|| {
            Problem::new(403, "unknown_signer", format!("unknown signer {signer}"))
        })?;
        if let Some(nonce) = self.handles.mempool.highest_nonce(&signer) {
            // The capture is checked against state as the next transactions of the account;
            // with some still pending, it could not be, and all-or-nothing would not hold.
            return Err(Problem::new(
                409,
                "capture_pending",
                format!(
                    "{signer} has transactions pending (up to nonce {nonce}); capture again once they commit, so the whole capture can be checked before any of it is submitted"
                ),
            ));
        }
        let chain_id = self.genesis().chain_id.clone();
        let mut verified = Vec::with_capacity(captured.len());
        for (i, c) in captured.iter().enumerate() {
            let tx = Transaction {
                chain_id: chain_id.clone(),
                signer,
                public_key: keypair.public_key(),
                nonce: party.nonce + i as u64,
                body: TxBody::Supply(c.op.clone()),
            }
            .sign(keypair);
            verified.push(self.verify(tx).map_err(|problem| {
                Problem::new(
                    problem.status,
                    &problem.code,
                    format!("event {i}: {}", problem.detail),
                )
            })?);
        }
        // Run the whole capture against state, in order, before any of it is submitted.
        let tip = self.tip();
        let env = BlockEnv {
            chain_id: chain_id.clone(),
            height: tip.height + 1,
            time_ms: tip.header.time_ms + 1,
            event_base: 0,
        };
        // The state guard is released before admitting: admission reads state again, and a
        // second read queued behind a block's waiting write would never be granted.
        {
            let state = self.databases.0.read().await;
            let view = crate::service::GuardView(&*state);
            let mut executor = BlockExecutor::new(&view, env);
            for (i, v) in verified.iter().enumerate() {
                let refusal = match executor.apply(v).await {
                    Ok(outcome) if outcome.receipt.outcome == Outcome::Applied => continue,
                    Ok(outcome) => outcome
                        .denial
                        .unwrap_or_else(|| ("denied".into(), "denied by policy".into())),
                    Err(err) => (err.code().to_string(), err.to_string()),
                };
                return Err(Problem::new(
                    409,
                    "epcis_capture_refused",
                    format!(
                        "event {i} ({}) would be refused ({}: {}); nothing of the capture was submitted",
                        captured[i].op.name(),
                        refusal.0,
                        refusal.1
                    ),
                ));
            }
        }
        // Checked above, together (so not run again); admitted together, or not at all.
        let transactions = self
            .admit_all(verified, false)
            .await
            .map_err(|(i, problem)| {
                Problem::new(
                    problem.status,
                    &problem.code,
                    format!(
                        "event {i}: {}; nothing of the capture was submitted",
                        problem.detail
                    ),
                )
            })?;
        Ok(CaptureAccepted {
            event_ids: captured.into_iter().map(|c| c.event_id).collect(),
            transactions,
        })
    }
}
