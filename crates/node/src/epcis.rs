//! EPCIS 2.0 over the chain: the query interface (`GET /epcis/events`), serving supply events
//! as EPCIS documents from the chain's own indexes, and capture (`POST /epcis/capture`),
//! turning a capture document into signed supply transactions, all checked together against
//! state before any is submitted.
//!
//! Queries select events from state: an object's history (EPC queries), a lot's event list
//! (class queries), the event-day lists (time queries). Each selected transaction is read from
//! its block and served as the EPCIS event(s) its operation is, with its event hash id and the
//! block's time as its record time.

use crate::service::{NodeService, internal};
use commonware_codec::DecodeExt;
use commonware_runtime::{Clock, Spawner};
use commonware_storage::Context as StorageContext;
use medchain_formats::epcis::{self, hash, ids};
use medchain_state::{
    executor::{BlockEnv, BlockExecutor},
    lists::names,
    supply::{day_owner, event_day, lot_owner, object_key},
};
use medchain_types::{
    Outcome, PartyId, TxBody, TxHash,
    api::Problem,
    keys::Keypair,
    supply::{Container, EVENT_TIME_SKEW_MS, EventRef, Object, SupplyOp, Unit},
    time::parse_rfc3339,
    tx::Transaction,
};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

type JsonObject = Map<String, Value>;

/// Events one answer holds when the query does not say.
pub const PER_PAGE_DEFAULT: usize = 100;
/// Most events one answer holds.
pub const PER_PAGE_MAX: usize = 1_000;
/// Most days one event-time query reads.
pub const QUERY_DAYS_MAX: i64 = 366;
/// Most identifiers (EPCs and lots) one query names.
pub const QUERY_VALUES_MAX: usize = 64;
/// Most transactions one query looks at (before its filters), so no query reads without end.
pub const CANDIDATES_MAX: usize = 100_000;

/// One page of a query's answer: an EPCISQueryDocument, and the token of the next page.
pub struct EpcisPage {
    pub document: Value,
    pub next_page_token: Option<String>,
}

/// A capture accepted: its transactions, in the order of the document's events.
pub struct CaptureAccepted {
    pub event_ids: Vec<String>,
    pub transactions: Vec<TxHash>,
}

fn too_large() -> Problem {
    Problem::new(
        413,
        "query_too_large",
        format!(
            "the query selects more than the {CANDIDATES_MAX} events one query reads; narrow it (an EPC, a lot, a shorter time range)"
        ),
    )
}

fn bad(detail: impl Into<String>) -> Problem {
    Problem::new(400, "query_parameter", detail)
}

/// A parsed SimpleEventQuery.
#[derive(Default)]
struct Query {
    any_epc: Vec<Object>,
    epc: Vec<Object>,
    classes: Vec<(medchain_types::gs1::Gtin, String)>,
    event_types: Vec<String>,
    biz_steps: Vec<String>,
    ge_event_time: Option<u64>,
    lt_event_time: Option<u64>,
    ge_record_time: Option<u64>,
    lt_record_time: Option<u64>,
    per_page: usize,
    offset: usize,
}

fn time_param(name: &str, value: &str) -> Result<u64, Problem> {
    parse_rfc3339(value).ok_or_else(|| {
        bad(format!(
            "{name} must be an RFC 3339 date-time (such as 2026-11-20T00:00:00Z), found {value:?}"
        ))
    })
}

fn parse_query(params: &[(String, String)]) -> Result<Query, Problem> {
    let mut query = Query {
        per_page: PER_PAGE_DEFAULT,
        ..Query::default()
    };
    for (name, value) in params {
        let values = || value.split('|').filter(|v| !v.is_empty());
        let objects = || -> Result<Vec<Object>, Problem> {
            values()
                .map(|v| ids::parse_object(v).map_err(|err| bad(format!("{name}: {err}"))))
                .collect()
        };
        match name.as_str() {
            "MATCH_anyEPC" => query.any_epc.extend(objects()?),
            "MATCH_epc" => query.epc.extend(objects()?),
            "MATCH_anyEPCClass" | "MATCH_epcClass" => {
                for v in values() {
                    query
                        .classes
                        .push(ids::parse_lot(v).map_err(|err| bad(format!("{name}: {err}")))?);
                }
            }
            "eventType" => query.event_types.extend(values().map(str::to_string)),
            "EQ_bizStep" => query.biz_steps.extend(values().map(|v| {
                v.trim_start_matches("https://ref.gs1.org/cbv/BizStep-")
                    .trim_start_matches("urn:epcglobal:cbv:bizstep:")
                    .to_string()
            })),
            "GE_eventTime" => query.ge_event_time = Some(time_param(name, value)?),
            "LT_eventTime" => query.lt_event_time = Some(time_param(name, value)?),
            "GE_recordTime" => query.ge_record_time = Some(time_param(name, value)?),
            "LT_recordTime" => query.lt_record_time = Some(time_param(name, value)?),
            "perPage" => {
                query.per_page = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=PER_PAGE_MAX).contains(n))
                    .ok_or_else(|| {
                        bad(format!("perPage is 1 to {PER_PAGE_MAX}, found {value:?}"))
                    })?;
            }
            "nextPageToken" => {
                query.offset = value.parse().map_err(|_| {
                    bad(format!("nextPageToken {value:?} is not one this node gave"))
                })?;
            }
            other => {
                return Err(bad(format!(
                    "{other} is not a query parameter medchain answers; it answers MATCH_anyEPC, MATCH_epc, MATCH_anyEPCClass, MATCH_epcClass, eventType, EQ_bizStep, GE_eventTime, LT_eventTime, GE_recordTime, LT_recordTime, perPage and nextPageToken"
                )));
            }
        }
    }
    let named = query.any_epc.len() + query.epc.len() + query.classes.len();
    if named > QUERY_VALUES_MAX {
        return Err(bad(format!(
            "one query names at most {QUERY_VALUES_MAX} EPCs and lots, found {named}"
        )));
    }
    for event_type in &query.event_types {
        if !matches!(
            event_type.as_str(),
            "ObjectEvent"
                | "AggregationEvent"
                | "TransformationEvent"
                | "TransactionEvent"
                | "AssociationEvent"
        ) {
            return Err(bad(format!(
                "eventType {event_type:?} is not an EPCIS event type"
            )));
        }
    }
    Ok(query)
}

/// Whether an EPC field of `event` names one of `objects`.
fn names_any(event: &Map<String, Value>, fields: &[&str], objects: &[Object]) -> bool {
    fields.iter().any(|field| {
        let values: Vec<&Value> = match event.get(*field) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(value @ Value::String(_)) => vec![value],
            _ => Vec::new(),
        };
        values.iter().any(|v| {
            v.as_str()
                .and_then(|uri| ids::parse_object(uri).ok())
                .is_some_and(|object| objects.contains(&object))
        })
    })
}

/// Whether an event names one of `classes` (lots) in a quantity list, or is the event of `op`
/// that commissions or makes units of one (its ILMD names the lot): that event creates
/// instances of the class, so it answers a class query too.
fn names_class(
    event: &Map<String, Value>,
    op: &SupplyOp,
    classes: &[(medchain_types::gs1::Gtin, String)],
) -> bool {
    let in_lists = [
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
    ]
    .iter()
    .filter_map(|list| event.get(*list).and_then(Value::as_array))
    .flatten()
    .filter_map(|q| q.get("epcClass").and_then(Value::as_str))
    .filter_map(|uri| ids::parse_lot(uri).ok())
    .any(|class| classes.contains(&class));
    let (groups, lot) = match op {
        SupplyOp::Commission(c) => (&c.units, &c.lot),
        SupplyOp::Transform(t) => (&t.outputs, &t.lot),
        _ => return in_lists,
    };
    in_lists
        || (event.contains_key("ilmd")
            && groups
                .iter()
                .any(|g| classes.iter().any(|(gtin, l)| *gtin == g.gtin && l == lot)))
}

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    /// The event references a list holds, counted against the query's `budget` of candidates
    /// before any is read.
    async fn list_refs(
        &self,
        list: &str,
        owner: &[u8; 32],
        budget: &mut usize,
    ) -> Result<Vec<EventRef>, Problem> {
        let (count, _) = self.list_items(list, owner, 0, 0).await?;
        if count > *budget as u64 {
            return Err(too_large());
        }
        *budget -= count as usize;
        let (_, items) = self.list_items(list, owner, 0, count).await?;
        items
            .into_iter()
            .map(|bytes| {
                EventRef::decode(bytes)
                    .map_err(|err| internal(format!("stored event reference is corrupt: {err}")))
            })
            .collect()
    }

    /// The transactions that named `object` directly (its own history).
    async fn object_refs(&self, object: &Object) -> Result<Vec<(u64, TxHash)>, Problem> {
        let Some(bytes) = self.read_raw(&object_key(object)).await? else {
            return Ok(Vec::new());
        };
        let tracking = match object {
            Object::Unit { .. } => Unit::decode(bytes.clone()).map(|u| u.tracking),
            Object::Container { .. } => Container::decode(bytes).map(|c| c.tracking),
        }
        .map_err(|err| internal(format!("stored object is corrupt: {err}")))?;
        Ok(tracking
            .history
            .iter()
            .map(|entry| (entry.height, entry.tx))
            .collect())
    }

    /// `GET /epcis/events`: a SimpleEventQuery, answered with an EPCISQueryDocument.
    pub async fn epcis_query(&self, params: &[(String, String)]) -> Result<EpcisPage, Problem> {
        let query = parse_query(params)?;
        let mut budget = CANDIDATES_MAX;
        // Per block, the transactions selected; served in chain order.
        let mut candidates: BTreeMap<u64, HashSet<TxHash>> = BTreeMap::new();
        let mut add = |height: u64, tx: TxHash| {
            candidates.entry(height).or_default().insert(tx);
        };
        for object in query.any_epc.iter().chain(&query.epc) {
            for (height, tx) in self.object_refs(object).await? {
                add(height, tx);
            }
        }
        for (gtin, lot) in &query.classes {
            for r in self
                .list_refs(names::LOT_EVENTS, &lot_owner(gtin, lot), &mut budget)
                .await?
            {
                add(r.height, r.tx);
            }
        }
        let selected_by_key =
            !query.any_epc.is_empty() || !query.epc.is_empty() || !query.classes.is_empty();
        if !selected_by_key {
            let (Some(from), to) = (query.ge_event_time, query.lt_event_time) else {
                return Err(bad(
                    "name what to find: MATCH_anyEPC or MATCH_epc (units, containers), MATCH_anyEPCClass (a lot), or a GE_eventTime (with LT_eventTime) range",
                ));
            };
            let to = to.unwrap_or_else(|| self.tip().header.time_ms + EVENT_TIME_SKEW_MS + 1);
            let (first, last) = (event_day(from), event_day(to.saturating_sub(1)));
            if last - first + 1 > QUERY_DAYS_MAX {
                return Err(bad(format!(
                    "an event-time query spans at most {QUERY_DAYS_MAX} days; narrow GE_eventTime .. LT_eventTime"
                )));
            }
            for day in first..=last {
                for r in self
                    .list_refs(names::EVENT_DAYS, &day_owner(day), &mut budget)
                    .await?
                {
                    if r.event_time_ms >= from && r.event_time_ms < to {
                        add(r.height, r.tx);
                    }
                }
            }
        }
        // Each candidate's events, in chain order, filtered; a page from `offset`.
        // Each matched event, its record time, and the namespaces it needs.
        let mut matched: Vec<(JsonObject, u64, JsonObject)> = Vec::new();
        let mut seen = 0usize;
        let mut more = false;
        'blocks: for (height, txs) in candidates {
            let block = self
                .block_at(height)
                .await
                .ok_or_else(|| internal(format!("finalized block {height} is missing")))?;
            for signed in block
                .transactions
                .iter()
                .filter(|t| txs.contains(&t.hash()))
            {
                let TxBody::Supply(op) = &signed.transaction.body else {
                    continue;
                };
                let context = epcis::event_context(op);
                for event in epcis::op_events(op) {
                    let time = event
                        .get("eventTime")
                        .and_then(Value::as_str)
                        .and_then(epcis::parse_event_time)
                        .unwrap_or(0);
                    let record = block.header.time_ms;
                    let kind = event
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let step = event
                        .get("bizStep")
                        .and_then(Value::as_str)
                        .map(|s| s.trim_start_matches("https://ref.gs1.org/cbv/BizStep-"))
                        .unwrap_or_default();
                    let keep = query.ge_event_time.is_none_or(|t| time >= t)
                        && query.lt_event_time.is_none_or(|t| time < t)
                        && query.ge_record_time.is_none_or(|t| record >= t)
                        && query.lt_record_time.is_none_or(|t| record < t)
                        && (query.event_types.is_empty()
                            || query.event_types.iter().any(|t| t == kind))
                        && (query.biz_steps.is_empty()
                            || query.biz_steps.iter().any(|s| s == step))
                        && (query.any_epc.is_empty()
                            || names_any(
                                &event,
                                &[
                                    "epcList",
                                    "childEPCs",
                                    "parentID",
                                    "inputEPCList",
                                    "outputEPCList",
                                ],
                                &query.any_epc,
                            ))
                        && (query.epc.is_empty()
                            || names_any(&event, &["epcList", "childEPCs"], &query.epc))
                        && (query.classes.is_empty() || names_class(&event, op, &query.classes));
                    if !keep {
                        continue;
                    }
                    if seen < query.offset {
                        seen += 1;
                        continue;
                    }
                    if matched.len() == query.per_page {
                        more = true;
                        break 'blocks;
                    }
                    seen += 1;
                    matched.push((event, record, context.clone()));
                }
            }
        }
        let mut inline = Map::new();
        for (_, _, context) in &matched {
            for (k, v) in context {
                inline.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let context = epcis::context(&inline);
        let namespaces = hash::namespaces(Some(&context));
        let events = matched
            .into_iter()
            .map(|(event, record, _)| {
                Value::Object(epcis::finish_event(event, &namespaces, record))
            })
            .collect();
        let now = self.tip().header.time_ms;
        Ok(EpcisPage {
            document: epcis::query_document(context, events, now),
            next_page_token: more.then(|| seen.to_string()),
        })
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
