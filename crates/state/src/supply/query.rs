//! Supply-chain queries as pure functions over a [`StateRead`]: verifying a scanned pack,
//! suspect-product alerts, where the units of a lot are (for a recall), and a unit's lineage.
//!
//! The node runs each over finalized state (recording every entry it reads, with a proof when
//! asked); a client runs the same function over the entries it verified, so the verdict, the
//! custody, a page's completeness and everything else it shows come from proven state by the
//! node's own rule. Each function derives every key it reads from the question: a proof of any
//! other key is never looked at. The answers' `entries` are left empty for the caller.

use crate::{
    error::{QueryError, StateError},
    keys,
    lists::{self, names},
    supply::{
        NESTING_MAX, container_key, lot_key, lot_owner, shipment_key, transformation_key, unit_key,
    },
    view::StateRead,
};
use commonware_codec::DecodeExt as _;
use medchain_types::{
    Hash32, Party, PartyId,
    api::{
        CustodyStep, HeldUnit, LineageNode, LineageResponse, LotHoldingsResponse, PackVerdict,
        ScanSummary, SupplyAlertsResponse, VerifyPackResponse,
    },
    gs1::{Gtin, Sscc},
    supply::{
        ALERTS_ALL, Alert, Container, ContainerStatus, FlagKind, HistoryEntry, Lot, LotBatch,
        Object, Shipment, Step, Tracking, Transformation, Unit, UnitStatus,
    },
    time::Date,
};

/// Most steps one chain of custody shows (an object and each container keep at most
/// `HISTORY_MAX` entries each; this bounds the answer whatever the nesting).
pub const STEPS_MAX: usize = 1024;
/// Most alerts one page shows.
pub const ALERTS_PAGE_MAX: u64 = 1_000;
/// Most units of a lot one holdings page looks at, and with proofs.
pub const HOLDINGS_PAGE_MAX: u64 = 10_000;
pub const HOLDINGS_PROVEN_PAGE_MAX: u64 = 1_000;
/// Most units one lineage answer shows.
pub const LINEAGE_MAX: usize = 1_000;

fn corrupt(key: &[u8], reason: impl Into<String>) -> StateError {
    StateError::Corrupt {
        key: keys::describe(key),
        reason: reason.into(),
    }
}

async fn decoded<R: StateRead, T: commonware_codec::Read<Cfg = ()>>(
    read: &R,
    key: &[u8],
) -> Result<Option<T>, StateError> {
    match read.get(key).await? {
        None => Ok(None),
        Some(bytes) => T::decode(bytes)
            .map(Some)
            .map_err(|err| corrupt(key, err.to_string())),
    }
}

/// Where an object is: the containers it is in (innermost first), who holds the outermost,
/// and the shipment it is travelling in.
struct Whereabouts {
    containers: Vec<Sscc>,
    custodian: PartyId,
    shipment: Option<Hash32>,
}

/// Where an object with this tracking is: the outermost container holds it.
async fn whereabouts<R: StateRead>(
    read: &R,
    tracking: &Tracking,
) -> Result<Whereabouts, StateError> {
    let mut place = Whereabouts {
        containers: Vec::new(),
        custodian: tracking.custodian,
        shipment: tracking.shipment,
    };
    let mut parent = tracking.parent;
    while let Some(sscc) = parent {
        if place.containers.len() >= NESTING_MAX {
            break;
        }
        place.containers.push(sscc);
        let key = container_key(&sscc);
        let container = decoded::<R, Container>(read, &key)
            .await?
            .ok_or_else(|| corrupt(&key, "a container an object is in is missing"))?;
        parent = container.tracking.parent;
        place.custodian = container.tracking.custodian;
        place.shipment = container.tracking.shipment;
    }
    Ok(place)
}

/// Where a shipment is heading.
async fn destination<R: StateRead>(
    read: &R,
    shipment: Option<Hash32>,
) -> Result<Option<Shipment>, StateError> {
    match shipment {
        Some(id) => decoded(read, &shipment_key(&id)).await,
        None => Ok(None),
    }
}

/// The steps of `object` between heights `from` and `to`, and those of every container it
/// was packed in meanwhile, recursively.
async fn custody<R: StateRead>(
    read: &R,
    object: Object,
    history: Vec<HistoryEntry>,
    from: u64,
    to: u64,
    depth: usize,
    steps: &mut Vec<CustodyStep>,
) -> Result<(), StateError> {
    for (i, entry) in history.iter().enumerate() {
        if entry.height < from || entry.height > to || steps.len() >= STEPS_MAX {
            continue;
        }
        // A container reached by two paths (a pack moved between two cases on one pallet)
        // shows its steps once.
        if steps
            .iter()
            .any(|s| s.object == object && s.entry == *entry)
        {
            continue;
        }
        steps.push(CustodyStep {
            object: object.clone(),
            entry: entry.clone(),
        });
        // Packed into a container, or commissioned straight into one.
        let into = matches!(entry.step, Step::Packed | Step::Commissioned);
        if !into || depth >= NESTING_MAX {
            continue;
        }
        let Some(sscc) = entry.container else {
            continue;
        };
        let until = history[i + 1..]
            .iter()
            .find(|later| later.step == Step::Unpacked && later.container == Some(sscc))
            .map_or(to, |later| later.height);
        if let Some(container) =
            Box::pin(decoded::<R, Container>(read, &container_key(&sscc))).await?
        {
            // The container's steps while it held the object.
            Box::pin(custody(
                read,
                Object::Container { sscc },
                container.tracking.history,
                entry.height,
                until,
                depth + 1,
                steps,
            ))
            .await?;
        }
    }
    Ok(())
}

/// A party's name on chain, if it has one.
async fn label<R: StateRead>(read: &R, party: &PartyId) -> Result<Option<String>, StateError> {
    Ok(decoded::<R, Party>(read, &keys::party(party))
        .await?
        .map(|p| p.label)
        .filter(|label| !label.is_empty()))
}

/// `GET /v1/supply/verify`: the verdict on what `scan` summarises, as of the block at
/// `height` and `time_ms`, with where it is and its chain of custody.
pub async fn verify_pack<R: StateRead>(
    read: &R,
    scan: ScanSummary,
    height: u64,
    time_ms: u64,
) -> Result<VerifyPackResponse, QueryError> {
    let today = Date::of_ms(time_ms);
    let mut findings = Vec::new();
    let mut verdicts = Vec::new();
    let mut response = VerifyPackResponse {
        scan: scan.clone(),
        verdict: PackVerdict::Genuine,
        findings: Vec::new(),
        height,
        time_ms,
        custodian: None,
        custodian_label: None,
        in_transit_to: None,
        containers: Vec::new(),
        unit: None,
        container: None,
        lot: None,
        custody: Vec::new(),
        labels: Default::default(),
        entries: Vec::new(),
    };
    // The answer for a serial or SSCC that was never on chain: its absence is the proof.
    let unknown = |mut response: VerifyPackResponse, finding: String| {
        response.verdict = PackVerdict::UnknownSerial;
        response.findings = vec![finding];
        response
    };
    let (object, tracking);
    match (scan.gtin, scan.serial.as_deref(), scan.sscc) {
        (Some(gtin), Some(serial), _) => {
            let Some(unit) = decoded::<R, Unit>(read, &unit_key(&gtin, serial)).await? else {
                return Ok(unknown(
                    response,
                    format!("no pack with GTIN {gtin} and serial {serial} was ever commissioned"),
                ));
            };
            let key = lot_key(&gtin, &unit.lot);
            let lot = decoded::<R, Lot>(read, &key)
                .await?
                .ok_or_else(|| corrupt(&key, "a commissioned unit's lot is missing"))?;
            if let Some(printed) = &scan.lot
                && *printed != unit.lot
            {
                verdicts.push(PackVerdict::Mismatch);
                findings.push(format!(
                    "the pack says lot {printed}, but serial {serial} was commissioned in lot {}",
                    unit.lot
                ));
            }
            if let Some(printed) = scan.expiry
                && printed != lot.expiry
            {
                verdicts.push(PackVerdict::Mismatch);
                findings.push(format!(
                    "the pack says it expires on {printed}, but lot {} expires on {}",
                    unit.lot, lot.expiry
                ));
            }
            match unit.status {
                UnitStatus::Active => {}
                UnitStatus::Dispensed => {
                    verdicts.push(PackVerdict::Dispensed);
                    findings.push("it was already dispensed to a patient".into());
                }
                UnitStatus::Consumed => {
                    verdicts.push(PackVerdict::Consumed);
                    findings.push("it was consumed by a transformation".into());
                }
                UnitStatus::Decommissioned { reason } => {
                    verdicts.push(PackVerdict::Decommissioned);
                    findings.push(format!("it was decommissioned ({})", reason.name()));
                }
            }
            if let Some(recall) = &lot.recall {
                verdicts.push(PackVerdict::Recalled);
                findings.push(format!("lot {} is recalled: {}", lot.lot, recall.reason));
            }
            if lot.expiry < today {
                verdicts.push(PackVerdict::Expired);
                findings.push(format!("it expired on {}", lot.expiry));
            }
            object = Object::Unit {
                gtin,
                serial: serial.to_string(),
            };
            tracking = unit.tracking.clone();
            response.unit = Some(unit);
            response.lot = Some(lot);
        }
        (_, _, Some(sscc)) => {
            let Some(container) = decoded::<R, Container>(read, &container_key(&sscc)).await?
            else {
                return Ok(unknown(
                    response,
                    format!("no case or pallet with SSCC {sscc} was ever packed"),
                ));
            };
            if container.status == ContainerStatus::Decommissioned {
                verdicts.push(PackVerdict::Decommissioned);
                findings.push("it was decommissioned".into());
            }
            object = Object::Container { sscc };
            tracking = container.tracking.clone();
            response.container = Some(container);
        }
        _ => {
            return Err(QueryError::refused(
                422,
                "not_serialized",
                "the scan names no serialized pack: a pack is identified by its GTIN (AI 01) and serial number (AI 21), a case or pallet by its SSCC (AI 00)",
            ));
        }
    }
    // Who decided its flag, and why, in words.
    let said = match &tracking.flag_note {
        None => String::new(),
        Some(note) => {
            let who = match (note.alert, note.by) {
                (Some(alert), _) => format!("suspect-product alert {alert}"),
                (None, Some(party)) => label(read, &party)
                    .await?
                    .map_or_else(|| party.to_string(), |name| format!("{name} ({party})")),
                (None, None) => "the chain".to_string(),
            };
            let at = medchain_types::time::rfc3339(note.time_ms);
            format!(" by {who} at {at}: {}", note.reason)
        }
    };
    match tracking.flag {
        Some(FlagKind::Illegitimate) => {
            verdicts.push(PackVerdict::Illegitimate);
            findings.push(format!("it is confirmed illegitimate{said}"));
        }
        Some(FlagKind::Suspect) => {
            verdicts.push(PackVerdict::Suspect);
            findings.push(match said.is_empty() {
                true => {
                    "it is flagged suspect: a suspect-product alert or an investigation names it"
                        .into()
                }
                false => format!("it is flagged suspect{said}"),
            });
        }
        _ => {
            if tracking
                .flag_note
                .as_ref()
                .is_some_and(|note| note.kind == FlagKind::Cleared)
            {
                findings.push(format!("an earlier flag on it was cleared{said}"));
            }
        }
    }
    // Where it is: the outermost container holds it, and the answer names one custodian.
    let place = whereabouts(read, &tracking).await?;
    if let Some(unit) = &mut response.unit {
        unit.tracking.custodian = place.custodian;
    }
    if let Some(container) = &mut response.container {
        container.tracking.custodian = place.custodian;
    }
    response.containers = place.containers;
    response.custodian = Some(place.custodian);
    response.custodian_label = label(read, &place.custodian).await?;
    if let Some(shipment) = destination(read, place.shipment).await? {
        response.in_transit_to = Some(shipment.to);
        findings.push(format!(
            "it is in transit from {} to {}",
            shipment.from, shipment.to
        ));
    }
    let mut steps = Vec::new();
    custody(read, object, tracking.history, 0, u64::MAX, 0, &mut steps).await?;
    steps.sort_by_key(|s| (s.entry.height, s.entry.time_ms));
    response.custody = steps;
    // The name on chain of every party the answer names, so a person reads names, not ids.
    let mut named: Vec<PartyId> = response
        .custody
        .iter()
        .flat_map(|s| [Some(s.entry.by), s.entry.party])
        .flatten()
        .collect();
    named.extend(response.custodian);
    named.extend(response.in_transit_to);
    if let Some(lot) = &response.lot {
        named.push(lot.manufacturer);
        named.extend(lot.recall.as_ref().map(|recall| recall.by));
    }
    named.sort();
    named.dedup();
    for party in named {
        if let Some(name) = label(read, &party).await? {
            response.labels.insert(party, name);
        }
    }
    verdicts.sort_by_key(|v| *v as u8);
    response.verdict = verdicts.first().copied().unwrap_or(PackVerdict::Genuine);
    if response.verdict == PackVerdict::Genuine {
        findings.insert(
            0,
            "genuine: commissioned by its manufacturer and in the supply chain".into(),
        );
    }
    response.findings = findings;
    Ok(response)
}

/// `GET /v1/supply/alerts`: a page of suspect-product alerts, of one manufacturer's products
/// or of all (`None`). The list's length is read with its items: a shorter page must show
/// that the list ends there.
pub async fn alerts<R: StateRead>(
    read: &R,
    manufacturer: Option<PartyId>,
    from: u64,
    limit: u64,
) -> Result<SupplyAlertsResponse, QueryError> {
    if limit == 0 || limit > ALERTS_PAGE_MAX {
        return Err(QueryError::refused(
            400,
            "invalid_limit",
            format!("limit is 1 to {ALERTS_PAGE_MAX}, not {limit}"),
        ));
    }
    let owner = manufacturer.map_or(ALERTS_ALL, |party| party.0);
    let (count, items) = lists::page(read, names::ALERTS, &owner, from, limit).await?;
    let mut alerts = Vec::with_capacity(items.len());
    for (offset, bytes) in items.into_iter().enumerate() {
        let key = lists::item_key(names::ALERTS, &owner, from + offset as u64);
        alerts.push(Alert::decode(bytes).map_err(|err| corrupt(&key, err.to_string()))?);
    }
    Ok(SupplyAlertsResponse {
        manufacturer,
        count,
        from,
        alerts,
        entries: Vec::new(),
    })
}

/// A lot's batch `seq`.
async fn lot_batch<R: StateRead>(
    read: &R,
    owner: &[u8; 32],
    seq: u64,
) -> Result<LotBatch, StateError> {
    let key = lists::item_key(names::LOT_BATCHES, owner, seq);
    decoded::<R, LotBatch>(read, &key)
        .await?
        .ok_or_else(|| corrupt(&key, "a lot batch below the list's count is missing"))
}

/// The batch holding the lot's unit at `position` (there is one: `position` is below the
/// lot's count), by bisection over the batches' first positions.
async fn first_batch<R: StateRead>(
    read: &R,
    owner: &[u8; 32],
    batches: u64,
    position: u64,
) -> Result<u64, StateError> {
    let (mut low, mut high) = (0, batches);
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if lot_batch(read, owner, middle).await?.first <= position {
            low = middle;
        } else {
            high = middle;
        }
    }
    Ok(low)
}

/// What a holdings page asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldingsQuery {
    pub gtin: Gtin,
    pub lot: String,
    /// Only the units this party holds or is being sent.
    pub custodian: Option<PartyId>,
    /// Only the units still in the supply chain.
    pub in_chain_only: bool,
    pub from: u64,
    pub limit: u64,
    /// With proofs: a smaller page.
    pub proof: bool,
}

/// `GET /v1/supply/holdings`: where the units of a lot are, `limit` of them from position
/// `from` in commissioning order, filtered as asked, as of the block at `height`.
pub async fn holdings<R: StateRead>(
    read: &R,
    query: &HoldingsQuery,
    height: u64,
) -> Result<LotHoldingsResponse, QueryError> {
    let HoldingsQuery {
        gtin,
        lot: lot_number,
        custodian,
        in_chain_only,
        from,
        limit,
        proof,
    } = query;
    let (from, limit) = (*from, *limit);
    let max = if *proof {
        HOLDINGS_PROVEN_PAGE_MAX
    } else {
        HOLDINGS_PAGE_MAX
    };
    if limit == 0 || limit > max {
        return Err(QueryError::refused(
            400,
            "invalid_limit",
            format!(
                "limit is 1 to {max}{}, not {limit}",
                if *proof { " with proofs" } else { "" }
            ),
        ));
    }
    let Some(lot) = decoded::<R, Lot>(read, &lot_key(gtin, lot_number)).await? else {
        return Err(QueryError::refused(
            404,
            "unknown_lot",
            format!("no unit of GTIN {gtin} was ever commissioned in lot {lot_number:?}"),
        ));
    };
    let owner = lot_owner(gtin, lot_number);
    let (batches, _) = lists::page(read, names::LOT_BATCHES, &owner, 0, 0).await?;
    let end = from.saturating_add(limit).min(lot.units);
    // The position in the lot of the next serial.
    let (mut position, mut units) = (from, Vec::new());
    let mut seq = if from < end {
        first_batch(read, &owner, batches, from).await?
    } else {
        batches
    };
    while seq < batches && position < end {
        let batch = lot_batch(read, &owner, seq).await?;
        let batch_key = lists::item_key(names::LOT_BATCHES, &owner, seq);
        seq += 1;
        let skip = position
            .checked_sub(batch.first)
            .ok_or_else(|| corrupt(&batch_key, format!("it starts past {position}")))?;
        for serial in batch.serials.iter().skip(skip as usize) {
            if position >= end {
                break;
            }
            position += 1;
            let key = unit_key(gtin, &serial);
            let unit = decoded::<R, Unit>(read, &key)
                .await?
                .ok_or_else(|| corrupt(&key, "a unit its lot lists is missing"))?;
            if *in_chain_only && unit.status != UnitStatus::Active {
                continue;
            }
            let place = whereabouts(read, &unit.tracking).await?;
            let in_transit_to = destination(read, place.shipment).await?.map(|s| s.to);
            if custodian
                .is_some_and(|party| party != place.custodian && Some(party) != in_transit_to)
            {
                continue;
            }
            units.push(HeldUnit {
                serial,
                status: unit.status,
                custodian: place.custodian,
                in_transit_to,
                containers: place.containers,
            });
        }
    }
    if position < end {
        return Err(corrupt(
            &lot_key(gtin, lot_number),
            format!("its batches hold {position} units, the lot {}", lot.units),
        )
        .into());
    }
    let next = (position < lot.units).then_some(position);
    Ok(LotHoldingsResponse {
        lot,
        custodian: *custodian,
        in_chain_only: *in_chain_only,
        height,
        from,
        next,
        units,
        entries: Vec::new(),
    })
}

/// `GET /v1/supply/lineage`: the ancestry of the unit `gtin`/`serial` through the
/// transformations that made it, generation by generation, as of the block at `height`.
pub async fn lineage<R: StateRead>(
    read: &R,
    gtin: Gtin,
    serial: &str,
    height: u64,
) -> Result<LineageResponse, QueryError> {
    let mut ancestry = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut queue = std::collections::VecDeque::from([(gtin, serial.to_string(), 0u32)]);
    let mut truncated = false;
    while let Some((gtin, serial, generation)) = queue.pop_front() {
        if !seen.insert((gtin, serial.clone())) {
            continue;
        }
        if ancestry.len() >= LINEAGE_MAX {
            truncated = true;
            break;
        }
        let key = unit_key(&gtin, &serial);
        let Some(unit) = decoded::<R, Unit>(read, &key).await? else {
            if generation == 0 {
                return Err(QueryError::refused(
                    404,
                    "unknown_serial",
                    format!("no pack with GTIN {gtin} and serial {serial} was ever commissioned"),
                ));
            }
            return Err(corrupt(&key, "a transformation's input is missing").into());
        };
        let made_by = match unit.made_by {
            Some(tx) => {
                let key = transformation_key(&tx);
                Some(
                    decoded::<R, Transformation>(read, &key)
                        .await?
                        .ok_or_else(|| corrupt(&key, "a unit's transformation is missing"))?,
                )
            }
            None => None,
        };
        for input in made_by.iter().flat_map(|t| &t.inputs) {
            // A transformation names up to 20,000 inputs: queue no more than one answer shows.
            if ancestry.len() + 1 + queue.len() >= LINEAGE_MAX {
                truncated = true;
                break;
            }
            if let Object::Unit { gtin, serial } = input {
                queue.push_back((*gtin, serial.clone(), generation + 1));
            }
        }
        ancestry.push(LineageNode {
            gtin,
            serial,
            lot: unit.lot,
            generation,
            made_by,
        });
    }
    Ok(LineageResponse {
        height,
        ancestry,
        truncated,
        entries: Vec::new(),
    })
}

/// Most transactions one EPCIS query looks at before its filters, and with proofs (each one
/// an index entry proven, so an answer stays a size a client can check).
pub const EVENTS_CANDIDATES_MAX: usize = 100_000;
pub const EVENTS_PROVEN_CANDIDATES_MAX: usize = 10_000;

/// What an EPCIS query selects from: the objects whose own histories it reads, the lots whose
/// event lists it reads, and, for a query by event time, the half-open range whose day lists
/// it reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventSelection {
    pub objects: Vec<Object>,
    pub lots: Vec<(Gtin, String)>,
    pub time_range: Option<(u64, u64)>,
}

fn too_many(budget: usize) -> QueryError {
    QueryError::refused(
        413,
        "query_too_large",
        format!(
            "the query selects more than the {budget} events one query reads; narrow it (an EPC, a lot, a shorter time range)"
        ),
    )
}

/// The event references of a whole list, counted against `budget` before any item is read.
async fn event_refs<R: StateRead>(
    read: &R,
    list: &str,
    owner: &[u8; 32],
    budget: &mut usize,
    max: usize,
) -> Result<Vec<medchain_types::supply::EventRef>, QueryError> {
    let (count, _) = lists::page(read, list, owner, 0, 0).await?;
    if count > *budget as u64 {
        return Err(too_many(max));
    }
    *budget -= count as usize;
    let (_, items) = lists::page(read, list, owner, 0, count).await?;
    let key = lists::count_key(list, owner);
    items
        .into_iter()
        .map(|bytes| {
            medchain_types::supply::EventRef::decode(bytes::Bytes::from(bytes))
                .map_err(|err| corrupt(&key, format!("an event reference: {err}")).into())
        })
        .collect()
}

/// The supply transactions an EPCIS query selects, per block: those in each object's own
/// history, in each lot's event list, and in the event-day lists of the time range (those
/// whose event time is in it), at most `max` looked at. Every key read is derived from the
/// selection, and each list is read whole from its proven count.
pub async fn event_candidates<R: StateRead>(
    read: &R,
    selection: &EventSelection,
    max: usize,
) -> Result<
    std::collections::BTreeMap<u64, std::collections::BTreeSet<medchain_types::TxHash>>,
    QueryError,
> {
    let mut budget = max;
    let mut candidates: std::collections::BTreeMap<u64, std::collections::BTreeSet<_>> =
        Default::default();
    for object in &selection.objects {
        let key = crate::supply::object_key(object);
        let tracking = match object {
            Object::Unit { .. } => decoded::<_, Unit>(read, &key).await?.map(|u| u.tracking),
            Object::Container { .. } => decoded::<_, Container>(read, &key)
                .await?
                .map(|c| c.tracking),
        };
        let history = tracking.map(|t| t.history).unwrap_or_default();
        if history.len() > budget {
            return Err(too_many(max));
        }
        budget -= history.len();
        for entry in history {
            candidates.entry(entry.height).or_default().insert(entry.tx);
        }
    }
    for (gtin, lot) in &selection.lots {
        let owner = lot_owner(gtin, lot);
        for r in event_refs(read, names::LOT_EVENTS, &owner, &mut budget, max).await? {
            candidates.entry(r.height).or_default().insert(r.tx);
        }
    }
    if let Some((from, to)) = selection.time_range {
        let (first, last) = (
            crate::supply::event_day(from),
            crate::supply::event_day(to.saturating_sub(1)),
        );
        for day in first..=last {
            let owner = crate::supply::day_owner(day);
            for r in event_refs(read, names::EVENT_DAYS, &owner, &mut budget, max).await? {
                if r.event_time_ms >= from && r.event_time_ms < to {
                    candidates.entry(r.height).or_default().insert(r.tx);
                }
            }
        }
    }
    Ok(candidates)
}

/// The transactions `txs` of block `height` in their block order, from their receipts: each
/// must have been applied in that block, as the index that named it says.
pub async fn in_block_order<R: StateRead>(
    read: &R,
    height: u64,
    txs: &std::collections::BTreeSet<medchain_types::TxHash>,
) -> Result<Vec<(u32, medchain_types::TxHash)>, QueryError> {
    let mut ordered = Vec::with_capacity(txs.len());
    for tx in txs {
        let key = keys::receipt(tx);
        let receipt = decoded::<_, medchain_types::event::Receipt>(read, &key)
            .await?
            .ok_or_else(|| corrupt(&key, format!("indexed at height {height}, but no receipt")))?;
        if receipt.height != height || receipt.outcome != medchain_types::Outcome::Applied {
            return Err(corrupt(
                &key,
                format!(
                    "indexed as applied at height {height}, but its receipt says height {} ({:?})",
                    receipt.height, receipt.outcome
                ),
            )
            .into());
        }
        ordered.push((receipt.index, *tx));
    }
    ordered.sort();
    Ok(ordered)
}
