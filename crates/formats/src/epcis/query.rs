//! The EPCIS SimpleEventQuery as a pure rule: its parameters parsed, and a page of its answer
//! built from the supply transactions it selects, fed in chain order.
//!
//! What a query selects (the transactions naming an object, a lot, or an event day) is read
//! from state by the caller; this module decides which of their events match and makes the
//! EPCISQueryDocument. The node and a client checking a proven answer run the same [`Pager`]
//! over the same transactions, so the client shows a document it built itself.

use super::{context, event_context, finish_event, hash, ids, op_events, parse_event_time};
use medchain_types::{
    gs1::Gtin,
    supply::{Object, SupplyOp},
    time::parse_rfc3339,
};
use serde_json::{Map, Value};

type JsonObject = Map<String, Value>;

/// Events one answer holds when the query does not say.
pub const PER_PAGE_DEFAULT: usize = 100;
/// Most events one answer holds.
pub const PER_PAGE_MAX: usize = 1_000;
/// Most days one event-time query reads.
pub const QUERY_DAYS_MAX: i64 = 366;
/// Most identifiers (EPCs and lots) one query names.
pub const QUERY_VALUES_MAX: usize = 64;

/// The EPCIS event types.
const EVENT_TYPES: [&str; 5] = [
    "ObjectEvent",
    "AggregationEvent",
    "TransformationEvent",
    "TransactionEvent",
    "AssociationEvent",
];

/// A query parameter that is not one medchain answers, or a value it cannot read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryParamError(pub String);

fn bad(detail: impl Into<String>) -> QueryParamError {
    QueryParamError(detail.into())
}

/// Where a page starts: the event `event` (counted within its transaction's events) of the
/// transaction at position `index` of block `height`. Pages are cut in chain order, so a
/// cursor names the same place in every honest node's answer and in a client's recomputation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub height: u64,
    pub index: u32,
    pub event: u32,
}

impl Cursor {
    /// Its `nextPageToken` form, `height-index-event`.
    pub fn token(&self) -> String {
        format!("{}-{}-{}", self.height, self.index, self.event)
    }

    /// Reads a `nextPageToken`.
    pub fn parse(token: &str) -> Result<Self, QueryParamError> {
        let refused = || {
            bad(format!(
                "nextPageToken {token:?} is not one this node gave (they read height-index-event)"
            ))
        };
        let mut parts = token.split('-');
        let (Some(height), Some(index), Some(event), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused());
        };
        Ok(Self {
            height: height.parse().map_err(|_| refused())?,
            index: index.parse().map_err(|_| refused())?,
            event: event.parse().map_err(|_| refused())?,
        })
    }
}

/// A parsed SimpleEventQuery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Events naming one of these in any EPC field.
    pub any_epc: Vec<Object>,
    /// Events naming one of these in `epcList` or `childEPCs`.
    pub epc: Vec<Object>,
    /// Events of one of these lots.
    pub classes: Vec<(Gtin, String)>,
    pub event_types: Vec<String>,
    pub biz_steps: Vec<String>,
    pub ge_event_time: Option<u64>,
    pub lt_event_time: Option<u64>,
    pub ge_record_time: Option<u64>,
    pub lt_record_time: Option<u64>,
    pub per_page: usize,
    /// Where the page starts (`nextPageToken`); the first page when absent.
    pub after: Option<Cursor>,
}

fn time_param(name: &str, value: &str) -> Result<u64, QueryParamError> {
    parse_rfc3339(value).ok_or_else(|| {
        bad(format!(
            "{name} must be an RFC 3339 date-time (such as 2026-11-20T00:00:00Z), found {value:?}"
        ))
    })
}

impl EventQuery {
    /// Parses a SimpleEventQuery's parameters; an unknown parameter is named.
    pub fn parse(params: &[(String, String)]) -> Result<Self, QueryParamError> {
        let mut query = Self {
            per_page: PER_PAGE_DEFAULT,
            ..Self::default()
        };
        for (name, value) in params {
            let values = || value.split('|').filter(|v| !v.is_empty());
            let objects = || -> Result<Vec<Object>, QueryParamError> {
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
                "nextPageToken" => query.after = Some(Cursor::parse(value)?),
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
        if let Some(kind) = query
            .event_types
            .iter()
            .find(|kind| !EVENT_TYPES.contains(&kind.as_str()))
        {
            return Err(bad(format!(
                "eventType {kind:?} is not an EPCIS event type"
            )));
        }
        if !query.selects_by_key() && query.ge_event_time.is_none() {
            return Err(bad(
                "name what to find: MATCH_anyEPC or MATCH_epc (units, containers), MATCH_anyEPCClass (a lot), or a GE_eventTime (with LT_eventTime) range",
            ));
        }
        Ok(query)
    }

    /// Whether the query names objects or lots (else it selects by event time).
    pub fn selects_by_key(&self) -> bool {
        !self.any_epc.is_empty() || !self.epc.is_empty() || !self.classes.is_empty()
    }

    /// The objects whose own histories the query selects from.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.any_epc.iter().chain(&self.epc)
    }

    /// For a query selecting by event time, the half-open range `[from, to)` it reads, given
    /// the latest time an event could have (`to` when the query gives none); the days it
    /// spans are bounded by [`QUERY_DAYS_MAX`].
    pub fn time_range(&self, latest_ms: u64) -> Result<Option<(u64, u64)>, QueryParamError> {
        if self.selects_by_key() {
            return Ok(None);
        }
        let from = self.ge_event_time.unwrap_or(0);
        let to = self.lt_event_time.unwrap_or(latest_ms);
        let day = |ms: u64| (ms / medchain_types::time::DAY_MS) as i64;
        if day(to.saturating_sub(1)) - day(from) + 1 > QUERY_DAYS_MAX {
            return Err(bad(format!(
                "an event-time query spans at most {QUERY_DAYS_MAX} days; narrow GE_eventTime .. LT_eventTime"
            )));
        }
        Ok(Some((from, to)))
    }

    /// Whether `event` of `op`, recorded at `record_ms`, answers the query.
    fn keeps(&self, event: &JsonObject, op: &SupplyOp, record_ms: u64) -> bool {
        let time = event
            .get("eventTime")
            .and_then(Value::as_str)
            .and_then(parse_event_time)
            .unwrap_or(0);
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let step = event
            .get("bizStep")
            .and_then(Value::as_str)
            .map(|s| s.trim_start_matches("https://ref.gs1.org/cbv/BizStep-"))
            .unwrap_or_default();
        self.ge_event_time.is_none_or(|t| time >= t)
            && self.lt_event_time.is_none_or(|t| time < t)
            && self.ge_record_time.is_none_or(|t| record_ms >= t)
            && self.lt_record_time.is_none_or(|t| record_ms < t)
            && (self.event_types.is_empty() || self.event_types.iter().any(|t| t == kind))
            && (self.biz_steps.is_empty() || self.biz_steps.iter().any(|s| s == step))
            && (self.any_epc.is_empty()
                || names_any(
                    event,
                    &[
                        "epcList",
                        "childEPCs",
                        "parentID",
                        "inputEPCList",
                        "outputEPCList",
                    ],
                    &self.any_epc,
                ))
            && (self.epc.is_empty() || names_any(event, &["epcList", "childEPCs"], &self.epc))
            && (self.classes.is_empty() || names_class(event, op, &self.classes))
    }
}

/// Whether an EPC field of `event` names one of `objects`.
fn names_any(event: &JsonObject, fields: &[&str], objects: &[Object]) -> bool {
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
fn names_class(event: &JsonObject, op: &SupplyOp, classes: &[(Gtin, String)]) -> bool {
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

/// A page of a query's answer, built from the selected transactions fed in chain order.
pub struct Pager<'q> {
    query: &'q EventQuery,
    /// Each matched event, its record time, and the namespaces it needs.
    matched: Vec<(JsonObject, u64, JsonObject)>,
    next: Option<Cursor>,
}

impl<'q> Pager<'q> {
    pub fn new(query: &'q EventQuery) -> Self {
        Self {
            query,
            matched: Vec::new(),
            next: None,
        }
    }

    /// Whether the transaction at position `index` of block `height` is wholly before the
    /// page's start, so the caller need not read it.
    pub fn before_start(&self, height: u64, index: u32) -> bool {
        self.query
            .after
            .is_some_and(|after| (height, index) < (after.height, after.index))
    }

    /// Feeds the supply operation at position `index` of block `height`, recorded at
    /// `record_ms`. Answers whether the page wants further transactions: once it is full and
    /// one more event matches, that event is where the next page starts, and it wants none.
    pub fn feed(&mut self, height: u64, index: u32, record_ms: u64, op: &SupplyOp) -> bool {
        if self.next.is_some() {
            return false;
        }
        let context = event_context(op);
        for (n, event) in op_events(op).into_iter().enumerate() {
            let here = Cursor {
                height,
                index,
                event: n as u32,
            };
            if self.query.after.is_some_and(|after| here < after)
                || !self.query.keeps(&event, op, record_ms)
            {
                continue;
            }
            if self.matched.len() == self.query.per_page {
                self.next = Some(here);
                return false;
            }
            self.matched.push((event, record_ms, context.clone()));
        }
        true
    }

    /// The EPCISQueryDocument of the page, created at `now_ms`, and the next page's token.
    pub fn finish(self, now_ms: u64) -> (Value, Option<String>) {
        let mut inline = Map::new();
        for (_, _, context) in &self.matched {
            for (k, v) in context {
                inline.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let context = context(&inline);
        let namespaces = hash::namespaces(Some(&context));
        let events = self
            .matched
            .into_iter()
            .map(|(event, record, _)| Value::Object(finish_event(event, &namespaces, record)))
            .collect();
        (
            super::query_document(context, events, now_ms),
            self.next.map(|cursor| cursor.token()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_page_token_reads_back_and_a_foreign_one_is_refused() {
        let cursor = Cursor {
            height: 12,
            index: 3,
            event: 1,
        };
        assert_eq!(Cursor::parse(&cursor.token()), Ok(cursor));
        for token in ["2", "1-2", "1-2-3-4", "a-b-c", ""] {
            assert!(Cursor::parse(token).is_err(), "{token}");
        }
    }

    #[test]
    fn a_query_must_name_what_to_find() {
        let err = EventQuery::parse(&params(&[("eventType", "ObjectEvent")])).expect_err("refused");
        assert!(err.0.contains("name what to find"), "{err}");
        let err = EventQuery::parse(&params(&[("eventType", "Nonsense")])).expect_err("refused");
        assert!(err.0.contains("Nonsense"), "{err}");
        let query = EventQuery::parse(&params(&[("GE_eventTime", "2026-11-20T00:00:00Z")]))
            .expect("a time query");
        assert!(!query.selects_by_key());
        let year = 400 * 86_400_000;
        let from = query.ge_event_time.expect("parsed");
        assert!(query.time_range(from + year).is_err());
        assert_eq!(
            query.time_range(from + 86_400_000).expect("a day"),
            Some((from, from + 86_400_000))
        );
    }
}
