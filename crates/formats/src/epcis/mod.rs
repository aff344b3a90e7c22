//! EPCIS 2.0 (JSON / JSON-LD) for the supply chain: capture documents become supply
//! operations, and operations become EPCIS events again, each with its GS1 CBV 2.0 event hash
//! id.
//!
//! An operation is one EPCIS event (see `medchain_types::supply` for the table). Captured
//! events keep every field: what the operation models (time, EPCs, action, business step,
//! disposition, read point, business location, business transactions, ILMD lot and expiry)
//! is rebuilt from the operation, and everything else, or anything said differently from how
//! medchain says it, is kept in the operation's `extra` and laid over the rebuilt event (a
//! `null` there removes a field the captured event did not have). So an event served back is
//! the event captured, up to the form of its EPCs (canonical GS1 Digital Link) and the order of
//! its EPC lists, and it has the same event hash id; capture checks that it does.

pub mod hash;
pub mod ids;
pub mod query;

use medchain_types::{
    PartyId,
    gs1::Sscc,
    hash::Hash32,
    supply::{
        Commission, Decommission, DecommissionReason, Dispense, EventMeta, Flag, FlagKind, Object,
        Objects, Pack, Recall, Receive, Reference, Serials, Ship, SupplyOp, Transform, UnitGroup,
        Unpack, unit_objects,
    },
    time::{Date, rfc3339},
};
use serde_json::{Map, Value, json};

/// The EPCIS 2.0 JSON-LD context.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/// The namespace of medchain's own EPCIS fields (`medchain:reason`, `medchain:flag`).
pub const MEDCHAIN_NAMESPACE: &str = "urn:medchain:epcis:";
/// Most events one capture document holds.
pub const CAPTURE_EVENTS_MAX: usize = 1_000;

/// What was wrong with a capture document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EpcisError {
    #[error("the capture document: {0}")]
    Document(String),
    #[error("event {index} ({kind}): {reason}")]
    Event {
        index: usize,
        kind: String,
        reason: String,
    },
}

/// One captured event: the operation it becomes and its event hash id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    pub op: SupplyOp,
    pub event_id: String,
}

/// An EPCIS field name of medchain's namespace.
fn medchain(field: &str) -> String {
    format!("medchain:{field}")
}

/// `+HH:MM` of an offset in minutes.
pub fn tz_offset(minutes: i16) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let minutes = minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

fn parse_tz_offset(text: &str) -> Option<i16> {
    let bytes = text.as_bytes();
    if bytes.len() != 6 || !matches!(bytes[0], b'+' | b'-') || bytes[3] != b':' {
        return None;
    }
    let hours: i16 = text.get(1..3)?.parse().ok()?;
    let minutes: i16 = text.get(4..6)?.parse().ok()?;
    if hours > 14 || minutes > 59 || !text[1..3].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let total = hours * 60 + minutes;
    Some(if bytes[0] == b'-' { -total } else { total })
}

/// An event time in milliseconds: RFC 3339 with any offset; sub-millisecond digits round to
/// the nearest millisecond (half to even), as the event hash does.
pub fn parse_event_time(text: &str) -> Option<u64> {
    let fraction_at = text.find('.').filter(|at| *at == 19);
    let Some(at) = fraction_at else {
        return medchain_types::time::parse_rfc3339(text);
    };
    let digits = text[at + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits <= 3 {
        return medchain_types::time::parse_rfc3339(text);
    }
    let micros: u64 = format!("{:0<6}", &text[at + 1..at + 1 + digits.min(6)])
        .parse()
        .ok()?;
    let (millis, rest) = (micros / 1000, micros % 1000);
    let rounded = if rest > 500 || (rest == 500 && millis % 2 == 1) {
        millis + 1
    } else {
        millis
    };
    let whole = format!("{}{}", &text[..at], &text[at + 1 + digits..]);
    Some(medchain_types::time::parse_rfc3339(&whole)? + rounded)
}

/// A CBV vocabulary word (`shipping`) from any of its forms: bare, the web vocabulary URI
/// (`https://ref.gs1.org/cbv/BizStep-shipping`) or the old URN
/// (`urn:epcglobal:cbv:bizstep:shipping`).
fn cbv_word<'a>(value: &'a str, web: &str, urn: &str) -> &'a str {
    value
        .strip_prefix(web)
        .or_else(|| value.strip_prefix(urn))
        .unwrap_or(value)
}

fn biz_step(event: &Map<String, Value>) -> Option<&str> {
    event.get("bizStep").and_then(Value::as_str).map(|v| {
        cbv_word(
            v,
            "https://ref.gs1.org/cbv/BizStep-",
            "urn:epcglobal:cbv:bizstep:",
        )
    })
}

fn disposition(event: &Map<String, Value>) -> Option<&str> {
    event.get("disposition").and_then(Value::as_str).map(|v| {
        cbv_word(
            v,
            "https://ref.gs1.org/cbv/Disp-",
            "urn:epcglobal:cbv:disp:",
        )
    })
}

fn uris(objects: impl Iterator<Item = Object>) -> Value {
    Value::Array(
        objects
            .map(|object| Value::String(ids::object_uri(&object)))
            .collect(),
    )
}

fn ilmd(lot: &str, expiry: Date) -> Value {
    json!({
        "cbvmda:lotNumber": lot,
        "cbvmda:itemExpirationDate": expiry.to_string(),
    })
}

/// The start of every event: type, time, time zone.
fn head(kind: &str, meta: &EventMeta) -> Map<String, Value> {
    let mut event = Map::new();
    event.insert("type".into(), kind.into());
    event.insert("eventTime".into(), rfc3339(meta.event_time_ms).into());
    event.insert(
        "eventTimeZoneOffset".into(),
        tz_offset(meta.tz_offset_minutes).into(),
    );
    event
}

/// Action, business step, disposition, then where and why.
fn tail(
    event: &mut Map<String, Value>,
    action: Option<&str>,
    step: &str,
    disposition: &str,
    meta: &EventMeta,
) {
    if let Some(action) = action {
        event.insert("action".into(), action.into());
    }
    event.insert("bizStep".into(), step.into());
    event.insert("disposition".into(), disposition.into());
    if let Some(uri) = &meta.read_point {
        event.insert("readPoint".into(), json!({ "id": uri }));
    }
    if let Some(uri) = &meta.biz_location {
        event.insert("bizLocation".into(), json!({ "id": uri }));
    }
    if !meta.biz_transactions.is_empty() {
        let list = meta
            .biz_transactions
            .iter()
            .map(|r| {
                let mut item = Map::new();
                if !r.kind.is_empty() {
                    item.insert("type".into(), r.kind.clone().into());
                }
                item.insert("bizTransaction".into(), r.id.clone().into());
                Value::Object(item)
            })
            .collect();
        event.insert("bizTransactionList".into(), Value::Array(list));
    }
}

fn object_event(
    meta: &EventMeta,
    objects: Value,
    action: &str,
    step: &str,
    disposition: &str,
) -> Map<String, Value> {
    let mut event = head("ObjectEvent", meta);
    event.insert("epcList".into(), objects);
    tail(&mut event, Some(action), step, disposition, meta);
    event
}

fn aggregation_event(
    meta: &EventMeta,
    parent: &Sscc,
    children: Option<&Objects>,
    action: &str,
    step: &str,
) -> Map<String, Value> {
    let mut event = head("AggregationEvent", meta);
    event.insert("parentID".into(), ids::container_uri(parent).into());
    if let Some(children) = children {
        event.insert("childEPCs".into(), uris(children.iter()));
    }
    tail(&mut event, Some(action), step, "in_progress", meta);
    event
}

fn decommission_words(reason: DecommissionReason) -> (&'static str, &'static str) {
    match reason {
        DecommissionReason::Destroyed => ("destroying", "destroyed"),
        DecommissionReason::Sample => ("sampling", "inactive"),
        DecommissionReason::Stolen => ("decommissioning", "stolen"),
        DecommissionReason::Other => ("decommissioning", "inactive"),
    }
}

fn flag_disposition(flag: FlagKind) -> &'static str {
    match flag {
        FlagKind::Suspect | FlagKind::Illegitimate => "non_sellable_other",
        FlagKind::Cleared => "sellable_accessible",
    }
}

/// The event an operation says, before its `extra` is laid over.
fn base_event(op: &SupplyOp) -> Map<String, Value> {
    match op {
        SupplyOp::Commission(c) => {
            let mut event = object_event(
                &c.meta,
                uris(unit_objects(&c.units)),
                "ADD",
                "commissioning",
                "active",
            );
            event.insert("ilmd".into(), ilmd(&c.lot, c.expiry));
            event
        }
        SupplyOp::Pack(p) => {
            aggregation_event(&p.meta, &p.parent, Some(&p.children), "ADD", "packing")
        }
        SupplyOp::Unpack(u) => aggregation_event(
            &u.meta,
            &u.parent,
            u.children.as_ref(),
            "DELETE",
            "unpacking",
        ),
        SupplyOp::Ship(s) => {
            let disposition = if s.is_return {
                "returned"
            } else {
                "in_transit"
            };
            let mut event = object_event(
                &s.meta,
                uris(s.objects.iter()),
                "OBSERVE",
                "shipping",
                disposition,
            );
            event.insert(
                "destinationList".into(),
                json!([{ "type": "owning_party", "destination": ids::party_uri(&s.to) }]),
            );
            event
        }
        SupplyOp::Receive(r) => object_event(
            &r.meta,
            uris(r.objects.iter()),
            "OBSERVE",
            "receiving",
            "in_progress",
        ),
        SupplyOp::Dispense(d) => {
            let mut event = object_event(
                &d.meta,
                uris(unit_objects(&d.units)),
                "OBSERVE",
                "dispensing",
                "dispensed",
            );
            if let Some(prescription) = &d.prescription {
                event.insert(medchain("prescription"), prescription.to_hex().into());
            }
            event
        }
        SupplyOp::Decommission(d) => {
            let (step, disposition) = decommission_words(d.reason);
            object_event(&d.meta, uris(d.objects.iter()), "DELETE", step, disposition)
        }
        SupplyOp::Recall(r) => {
            let mut event = head("ObjectEvent", &r.meta);
            event.insert("epcList".into(), json!([]));
            event.insert(
                "quantityList".into(),
                json!([{ "epcClass": ids::lot_uri(&r.gtin, &r.lot) }]),
            );
            tail(&mut event, Some("OBSERVE"), "holding", "recalled", &r.meta);
            event.insert(medchain("reason"), r.reason.clone().into());
            event
        }
        SupplyOp::Transform(t) => {
            let mut event = head("TransformationEvent", &t.meta);
            event.insert("inputEPCList".into(), uris(unit_objects(&t.inputs)));
            event.insert("outputEPCList".into(), uris(unit_objects(&t.outputs)));
            tail(&mut event, None, "commissioning", "active", &t.meta);
            event.insert("ilmd".into(), ilmd(&t.lot, t.expiry));
            event
        }
        SupplyOp::Flag(f) => {
            let mut event = object_event(
                &f.meta,
                uris(f.objects.iter()),
                "OBSERVE",
                "inspecting",
                flag_disposition(f.flag),
            );
            event.insert(medchain("flag"), f.flag.name().into());
            if !f.reason.is_empty() {
                event.insert(medchain("reason"), f.reason.clone().into());
            }
            event
        }
    }
}

/// The `extra` of an operation, parsed.
fn extra_of(meta: &EventMeta) -> Map<String, Value> {
    meta.extra
        .as_deref()
        .and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok())
        .unwrap_or_default()
}

/// The namespaces (inline `@context` definitions) a stored event needs, which it keeps under
/// `@context` in its `extra`.
pub fn event_context(op: &SupplyOp) -> Map<String, Value> {
    match extra_of(op.meta()).get("@context") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    }
}

/// The EPCIS events of an operation, as captured (or as medchain says them, for operations
/// not captured through EPCIS), without `eventID` and `recordTime`. A commissioning straight
/// into a container is two: the ObjectEvent and the AggregationEvent packing the units.
pub fn op_events(op: &SupplyOp) -> Vec<Map<String, Value>> {
    let mut event = base_event(op);
    for (key, value) in extra_of(op.meta()) {
        if key == "@context" {
            continue;
        }
        if value.is_null() {
            event.shift_remove(&key);
        } else {
            event.insert(key, value);
        }
    }
    let mut events = vec![event];
    if let SupplyOp::Commission(c) = op
        && let Some(parent) = &c.into
    {
        let children = Objects::units(c.units.clone());
        let mut meta = c.meta.clone();
        meta.extra = None;
        events.push(aggregation_event(
            &meta,
            parent,
            Some(&children),
            "ADD",
            "packing",
        ));
    }
    events
}

/// The `@context` of documents medchain serves: EPCIS 2.0, medchain's namespace, and any
/// namespaces the events' extensions use.
pub fn context(extra: &Map<String, Value>) -> Value {
    let mut inline = Map::new();
    inline.insert("medchain".into(), MEDCHAIN_NAMESPACE.into());
    for (key, value) in extra {
        inline.entry(key.clone()).or_insert_with(|| value.clone());
    }
    json!([EPCIS_CONTEXT, inline])
}

/// Finishes an event for serving: its hash id (against the document's namespaces) first, and
/// its record time (the block's).
pub fn finish_event(
    event: Map<String, Value>,
    namespaces: &hash::Namespaces,
    record_time_ms: u64,
) -> Map<String, Value> {
    let event = Value::Object(event);
    let id = hash::event_hash(&event, namespaces);
    let Value::Object(mut event) = event else {
        unreachable!("built as an object")
    };
    let mut out = Map::new();
    out.insert(
        "type".into(),
        event.shift_remove("type").unwrap_or(Value::Null),
    );
    out.insert("eventID".into(), id.into());
    out.insert("recordTime".into(), rfc3339(record_time_ms).into());
    out.extend(event);
    out
}

/// An EPCISDocument holding `events`.
pub fn document(context: Value, events: Vec<Value>, creation_ms: u64) -> Value {
    json!({
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": rfc3339(creation_ms),
        "epcisBody": { "eventList": events },
    })
}

/// An EPCISQueryDocument answering a SimpleEventQuery with `events`.
pub fn query_document(context: Value, events: Vec<Value>, creation_ms: u64) -> Value {
    json!({
        "@context": context,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": rfc3339(creation_ms),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": { "eventList": events },
            }
        },
    })
}

/// Reads a capture document (an EPCISDocument, JSON or JSON-LD) into operations, one per
/// event, in order. Every event is checked; the first fault is named with the event's index.
pub fn capture(document: &Value) -> Result<Vec<Captured>, EpcisError> {
    let doc = |reason: &str| EpcisError::Document(reason.to_string());
    let Value::Object(root) = document else {
        return Err(doc("it must be a JSON object (an EPCISDocument)"));
    };
    match root.get("type").and_then(Value::as_str) {
        Some("EPCISDocument") => {}
        Some(other) => {
            return Err(EpcisError::Document(format!(
                "its type is {other:?}; capture takes an EPCISDocument"
            )));
        }
        None => return Err(doc("it has no \"type\": \"EPCISDocument\"")),
    }
    if let Some(version) = root.get("schemaVersion")
        && version.as_str() != Some("2.0")
    {
        return Err(EpcisError::Document(format!(
            "schemaVersion is {version}; medchain captures EPCIS 2.0"
        )));
    }
    let body = root
        .get("epcisBody")
        .and_then(Value::as_object)
        .ok_or_else(|| doc("it has no epcisBody object"))?;
    let events: Vec<&Value> = match (body.get("eventList"), body.get("event")) {
        (Some(Value::Array(list)), _) => list.iter().collect(),
        (None, Some(event)) => vec![event],
        _ => return Err(doc("epcisBody has no eventList array")),
    };
    if events.is_empty() {
        return Err(doc("its eventList is empty"));
    }
    if events.len() > CAPTURE_EVENTS_MAX {
        return Err(EpcisError::Document(format!(
            "it holds {} events; one capture takes at most {CAPTURE_EVENTS_MAX}",
            events.len()
        )));
    }
    let namespaces = hash::namespaces(root.get("@context"));
    let inline: Map<String, Value> = match root.get("@context") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())))
            .collect(),
        _ => Map::new(),
    };
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let kind = event
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("no type")
                .to_string();
            capture_event(event, &namespaces, &inline).map_err(|reason| EpcisError::Event {
                index,
                kind,
                reason,
            })
        })
        .collect()
}

fn capture_event(
    event: &Value,
    namespaces: &hash::Namespaces,
    inline: &Map<String, Value>,
) -> Result<Captured, String> {
    let Value::Object(fields) = event else {
        return Err("an event is a JSON object".into());
    };
    let mut op = op_of(fields)?;
    let base = base_event(&op);
    let mut extra = Map::new();
    for (key, value) in fields {
        if matches!(key.as_str(), "eventID" | "recordTime") {
            continue;
        }
        if base.get(key).is_some_and(|said| same(key, value, said)) {
            continue;
        }
        extra.insert(key.clone(), value.clone());
    }
    for key in base.keys() {
        if !fields.contains_key(key) {
            extra.insert(key.clone(), Value::Null);
        }
    }
    let kept = Value::Object(extra);
    let used: Map<String, Value> = inline
        .iter()
        .filter(|(prefix, _)| *prefix != "medchain" && mentions_prefix(&kept, prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let Value::Object(mut extra) = kept else {
        unreachable!("built as an object")
    };
    if !used.is_empty() {
        extra.insert("@context".into(), Value::Object(used));
    }
    if !extra.is_empty() {
        let text = serde_json::to_string(&extra).expect("JSON");
        op.meta_mut().extra = Some(text);
    }
    op.check_shape().map_err(|err| err.to_string())?;
    let captured_id = hash::event_hash(event, namespaces);
    let served = op_events(&op).swap_remove(0);
    let served_id = hash::event_hash(&Value::Object(served), namespaces);
    if served_id != captured_id {
        return Err(format!(
            "medchain would serve this event with a different event hash ({served_id}, not {captured_id}): \
             one of its identifiers or times does not keep its meaning in canonical form"
        ));
    }
    if let Some(Value::String(given)) = fields.get("eventID")
        && given.starts_with("ni:///")
        && given != &captured_id
    {
        return Err(format!(
            "its eventID {given} is not its CBV 2.0 event hash, {captured_id}"
        ));
    }
    Ok(Captured {
        op,
        event_id: captured_id,
    })
}

/// Whether any key (at any depth) or string value uses `prefix:`.
fn mentions_prefix(value: &Value, prefix: &str) -> bool {
    let with_colon = format!("{prefix}:");
    match value {
        Value::String(s) => s.starts_with(&with_colon),
        Value::Array(items) => items.iter().any(|v| mentions_prefix(v, prefix)),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.starts_with(&with_colon) || mentions_prefix(v, prefix)),
        _ => false,
    }
}

/// Whether a captured field says what medchain's rebuilt field says: EPC lists as sets of
/// objects (in any form), the parent as an object, times as instants, everything else as
/// written (key order included, which the event hash keeps for source, destination and
/// business-transaction pairs).
fn same<'a>(key: &str, captured: &'a Value, said: &'a Value) -> bool {
    match key {
        "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => {
            match (object_set(captured), object_set(said)) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            }
        }
        "parentID" => match (captured.as_str(), said.as_str()) {
            (Some(a), Some(b)) => ids::parse_object(a).ok() == ids::parse_object(b).ok(),
            _ => false,
        },
        "bizStep" | "disposition" => match (captured.as_str(), said.as_str()) {
            (Some(a), Some(b)) => {
                let word = |v: &'a str| {
                    let v = cbv_word(
                        v,
                        "https://ref.gs1.org/cbv/BizStep-",
                        "urn:epcglobal:cbv:bizstep:",
                    );
                    cbv_word(
                        v,
                        "https://ref.gs1.org/cbv/Disp-",
                        "urn:epcglobal:cbv:disp:",
                    )
                };
                word(a) == word(b)
            }
            _ => false,
        },
        "eventTime" => match (captured.as_str(), said.as_str()) {
            (Some(a), Some(b)) => {
                parse_event_time(a).is_some() && parse_event_time(a) == parse_event_time(b)
            }
            _ => false,
        },
        _ => serde_json::to_string(captured).ok() == serde_json::to_string(said).ok(),
    }
}

fn object_set(value: &Value) -> Option<std::collections::BTreeSet<Object>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().and_then(|s| ids::parse_object(s).ok()))
        .collect()
}

fn text<'a>(event: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    match event.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("{key} must be a string, found {other}")),
        None => Err(format!("it has no {key}")),
    }
}

/// The event's time, place and business transactions.
fn meta_of(event: &Map<String, Value>) -> Result<EventMeta, String> {
    let time = text(event, "eventTime")?;
    let event_time_ms = parse_event_time(time).ok_or_else(|| {
        format!("eventTime {time:?} is not an RFC 3339 date-time (such as 2026-11-20T09:30:00.000+01:00) after 1970")
    })?;
    let offset = text(event, "eventTimeZoneOffset")?;
    let tz_offset_minutes = parse_tz_offset(offset).ok_or_else(|| {
        format!(
            "eventTimeZoneOffset {offset:?} is not an offset from -14:00 to +14:00 (such as +01:00)"
        )
    })?;
    let id_of = |key: &str| match event.get(key) {
        Some(Value::Object(map)) if map.len() == 1 => {
            map.get("id").and_then(Value::as_str).map(str::to_string)
        }
        _ => None,
    };
    let biz_transactions = match event.get("bizTransactionList") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let map = item.as_object()?;
                let id = map.get("bizTransaction")?.as_str()?.to_string();
                let kind = match map.get("type") {
                    Some(Value::String(kind)) => kind.clone(),
                    None => String::new(),
                    Some(_) => return None,
                };
                (map.len() == 1 + usize::from(!kind.is_empty())).then_some(Reference { kind, id })
            })
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(EventMeta {
        event_time_ms,
        tz_offset_minutes,
        read_point: id_of("readPoint"),
        biz_location: id_of("bizLocation"),
        biz_transactions,
        extra: None,
    })
}

fn objects_of(event: &Map<String, Value>, key: &str) -> Result<Vec<Object>, String> {
    let Some(value) = event.get(key) else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(format!("{key} must be an array of identifiers"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let uri = item
                .as_str()
                .ok_or_else(|| format!("{key}[{i}] must be a string"))?;
            ids::parse_object(uri).map_err(|err| format!("{key}[{i}]: {err}"))
        })
        .collect()
}

/// Units grouped by GTIN (in order of first appearance) and containers.
fn group(objects: Vec<Object>) -> Objects {
    let mut units: Vec<UnitGroup> = Vec::new();
    let mut containers = Vec::new();
    for object in objects {
        match object {
            Object::Unit { gtin, serial } => match units.iter_mut().find(|g| g.gtin == gtin) {
                Some(UnitGroup {
                    serials: Serials::List(list),
                    ..
                }) => list.push(serial),
                _ => units.push(UnitGroup {
                    gtin,
                    serials: Serials::List(vec![serial]),
                }),
            },
            Object::Container { sscc } => containers.push(sscc),
        }
    }
    Objects { units, containers }
}

fn units_only(objects: Objects, key: &str, what: &str) -> Result<Vec<UnitGroup>, String> {
    if let Some(sscc) = objects.containers.first() {
        return Err(format!(
            "{key} names container {sscc}; {what} takes serialized units only"
        ));
    }
    Ok(objects.units)
}

/// ILMD lot and expiry.
fn lot_and_expiry(event: &Map<String, Value>) -> Result<(String, Date), String> {
    let ilmd = event
        .get("ilmd")
        .and_then(Value::as_object)
        .ok_or("it has no ilmd with cbvmda:lotNumber and cbvmda:itemExpirationDate")?;
    let lot = ilmd
        .get("cbvmda:lotNumber")
        .and_then(Value::as_str)
        .ok_or("its ilmd has no cbvmda:lotNumber string")?;
    let expiry = ilmd
        .get("cbvmda:itemExpirationDate")
        .and_then(Value::as_str)
        .ok_or("its ilmd has no cbvmda:itemExpirationDate (YYYY-MM-DD)")?;
    let expiry = Date::parse(expiry).ok_or_else(|| {
        format!("cbvmda:itemExpirationDate {expiry:?} is not a date (YYYY-MM-DD)")
    })?;
    Ok((lot.to_string(), expiry))
}

fn party_in(event: &Map<String, Value>, list: &str, member: &str) -> Option<PartyId> {
    event.get(list)?.as_array()?.iter().find_map(|item| {
        let kind = item.get("type")?.as_str()?;
        let kind = cbv_word(
            kind,
            "https://ref.gs1.org/cbv/SDT-",
            "urn:epcglobal:cbv:sdt:",
        );
        if !matches!(kind, "owning_party" | "possessing_party") {
            return None;
        }
        ids::parse_party(item.get(member)?.as_str()?)
    })
}

/// The supply operation an EPCIS event is.
fn op_of(event: &Map<String, Value>) -> Result<SupplyOp, String> {
    let kind = text(event, "type")?;
    let meta = meta_of(event)?;
    let step = biz_step(event);
    let disposition = disposition(event);
    let action = event.get("action").and_then(Value::as_str);
    let steps = "commissioning (ADD), shipping, receiving, dispensing, decommissioning, destroying or sampling (DELETE), holding with disposition recalled, or inspecting with medchain:flag";
    Ok(match kind {
        "ObjectEvent" => {
            let objects = objects_of(event, "epcList")?;
            let action = action.ok_or("it has no action")?;
            match (action, step) {
                ("ADD", Some("commissioning")) => {
                    let (lot, expiry) = lot_and_expiry(event)?;
                    SupplyOp::Commission(Commission {
                        meta,
                        units: units_only(group(objects), "epcList", "commissioning")?,
                        lot,
                        expiry,
                        into: None,
                    })
                }
                ("OBSERVE", Some("shipping")) => {
                    let to = party_in(event, "destinationList", "destination").ok_or(
                        "a shipping event names its receiver in destinationList as {\"type\": \"owning_party\", \"destination\": \"urn:medchain:party:<id>\"}",
                    )?;
                    SupplyOp::Ship(Ship {
                        meta,
                        objects: group(objects),
                        to,
                        is_return: disposition == Some("returned"),
                    })
                }
                ("OBSERVE", Some("receiving")) => SupplyOp::Receive(Receive {
                    meta,
                    objects: group(objects),
                }),
                ("OBSERVE" | "DELETE", Some("dispensing")) => SupplyOp::Dispense(Dispense {
                    meta,
                    units: units_only(group(objects), "epcList", "dispensing")?,
                    prescription: match event.get(&medchain("prescription")) {
                        None => None,
                        Some(value) => Some(
                            value
                                .as_str()
                                .and_then(|hex| hex.parse::<Hash32>().ok())
                                .ok_or("medchain:prescription is the prescription reference's SHA-256, 64 hex digits")?,
                        ),
                    },
                }),
                ("DELETE", Some(step @ ("decommissioning" | "destroying" | "sampling"))) => {
                    let reason = match (step, disposition) {
                        ("destroying", _) => DecommissionReason::Destroyed,
                        ("sampling", _) => DecommissionReason::Sample,
                        (_, Some("stolen")) => DecommissionReason::Stolen,
                        _ => DecommissionReason::Other,
                    };
                    SupplyOp::Decommission(Decommission {
                        meta,
                        objects: group(objects),
                        reason,
                    })
                }
                ("OBSERVE", Some("holding")) if disposition == Some("recalled") => {
                    if !objects.is_empty() {
                        return Err("a recall names its lot in quantityList (epcClass), not units in epcList".into());
                    }
                    let classes = event
                        .get("quantityList")
                        .and_then(Value::as_array)
                        .ok_or("a recall names its lot in quantityList as {\"epcClass\": \"https://id.gs1.org/01/<gtin>/10/<lot>\"}")?;
                    let [only] = classes.as_slice() else {
                        return Err("a recall names exactly one lot in quantityList".into());
                    };
                    let class = only
                        .get("epcClass")
                        .and_then(Value::as_str)
                        .ok_or("quantityList[0] has no epcClass")?;
                    let (gtin, lot) = ids::parse_lot(class)?;
                    let reason = event
                        .get(&medchain("reason"))
                        .and_then(Value::as_str)
                        .ok_or("a recall gives its reason as medchain:reason")?;
                    SupplyOp::Recall(Recall {
                        meta,
                        gtin,
                        lot,
                        reason: reason.to_string(),
                    })
                }
                ("OBSERVE", Some("inspecting")) => {
                    let flag = match event.get(&medchain("flag")).and_then(Value::as_str) {
                        Some("suspect") => FlagKind::Suspect,
                        Some("illegitimate") => FlagKind::Illegitimate,
                        Some("cleared") => FlagKind::Cleared,
                        _ => return Err("an inspecting event says its finding as medchain:flag: suspect, illegitimate or cleared".into()),
                    };
                    let reason = event
                        .get(&medchain("reason"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    SupplyOp::Flag(Flag {
                        meta,
                        objects: group(objects),
                        flag,
                        reason: reason.to_string(),
                    })
                }
                (action, step) => {
                    return Err(format!(
                        "an ObjectEvent {action} with bizStep {} is not a step medchain records; it records {steps}",
                        step.map_or("(none)".to_string(), |s| format!("{s:?}"))
                    ));
                }
            }
        }
        "AggregationEvent" => {
            let parent = text(event, "parentID")?;
            let parent =
                match ids::parse_object(parent).map_err(|err| format!("parentID: {err}"))? {
                    Object::Container { sscc } => sscc,
                    unit => {
                        return Err(format!(
                            "parentID is {unit}; a parent is a container (SSCC)"
                        ));
                    }
                };
            let children = objects_of(event, "childEPCs")?;
            match action {
                Some("ADD") => SupplyOp::Pack(Pack {
                    meta,
                    parent,
                    children: group(children),
                }),
                Some("DELETE") => SupplyOp::Unpack(Unpack {
                    meta,
                    parent,
                    children: (!children.is_empty()).then(|| group(children)),
                }),
                other => {
                    return Err(format!(
                        "an AggregationEvent's action is ADD (packing) or DELETE (unpacking), found {other:?}"
                    ));
                }
            }
        }
        "TransformationEvent" => {
            let inputs = units_only(
                group(objects_of(event, "inputEPCList")?),
                "inputEPCList",
                "a transformation",
            )?;
            let outputs = units_only(
                group(objects_of(event, "outputEPCList")?),
                "outputEPCList",
                "a transformation",
            )?;
            let (lot, expiry) = lot_and_expiry(event)?;
            SupplyOp::Transform(Transform {
                meta,
                inputs,
                outputs,
                lot,
                expiry,
            })
        }
        other => {
            return Err(format!(
                "medchain records ObjectEvent, AggregationEvent and TransformationEvent, not {other}"
            ));
        }
    })
}
