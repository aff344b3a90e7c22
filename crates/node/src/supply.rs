//! Supply-chain queries, public like the ledger they read: verifying a scanned pack,
//! suspect-product alerts, where the units of a lot are (for a recall), and a unit's lineage.

use crate::service::NodeService;
use commonware_codec::DecodeExt;
use commonware_runtime::{Clock, Spawner};
use commonware_storage::Context as StorageContext;
use medchain_formats::gs1::Scan;
use medchain_state::{
    lists::{self, names},
    supply::{
        NESTING_MAX, container_key, lot_key, lot_owner, shipment_key, transformation_key, unit_key,
    },
};
use medchain_types::{
    Hash32, Party, PartyId,
    api::{
        CustodyStep, HeldUnit, LineageNode, LineageResponse, LotHoldingsResponse, PackVerdict,
        Problem, ScanSummary, StateResponse, SupplyAlertsResponse, VerifyPackResponse,
    },
    gs1::{Gtin, Sscc},
    supply::{
        ALERTS_ALL, Alert, Container, ContainerStatus, FlagKind, HistoryEntry, Lot, LotBatch,
        Object, Shipment, Step, Tracking, Transformation, Unit, UnitStatus,
    },
    time::Date,
};
use std::collections::HashMap;

/// Most steps one chain of custody shows (an object and each container keep at most
/// `HISTORY_MAX` entries each; this bounds the answer whatever the nesting).
const STEPS_MAX: usize = 1024;

fn corrupt(what: &str, err: impl std::fmt::Display) -> Problem {
    Problem::new(500, "internal", format!("stored {what} is corrupt: {err}"))
}

fn decode_entry<T: commonware_codec::Read<Cfg = ()>>(
    entry: &StateResponse,
    what: &str,
) -> Result<Option<T>, Problem> {
    match &entry.value {
        None => Ok(None),
        Some(hex_value) => {
            let bytes = hex::decode(hex_value).map_err(|err| corrupt(what, err))?;
            T::decode(bytes).map(Some).map_err(|err| corrupt(what, err))
        }
    }
}

/// The answer for a serial or SSCC that was never on chain: its absence is the proof.
fn unknown(
    mut response: VerifyPackResponse,
    entries: Vec<StateResponse>,
    finding: String,
) -> VerifyPackResponse {
    response.verdict = PackVerdict::UnknownSerial;
    response.findings = vec![finding];
    response.entries = entries;
    response
}

/// The states read for one answer, each once.
struct Reads<'s, E: Spawner + StorageContext + Clock> {
    service: &'s NodeService<E>,
    proof: bool,
    entries: Vec<StateResponse>,
    /// Where each key's entry is in `entries`.
    index: HashMap<Vec<u8>, usize>,
    /// The height the first proven entry was read at: every entry of one answer is proven
    /// against the same block, or the answer could mix states a block apart.
    height: Option<u64>,
}

/// Where an object is: the containers it is in (innermost first), who holds the outermost,
/// and the shipment it is travelling in.
struct Whereabouts {
    containers: Vec<Sscc>,
    custodian: PartyId,
    shipment: Option<Hash32>,
}

impl<'s, E: Spawner + StorageContext + Clock> Reads<'s, E> {
    fn new(service: &'s NodeService<E>, proof: bool) -> Self {
        Self {
            service,
            proof,
            entries: Vec::new(),
            index: HashMap::new(),
            height: None,
        }
    }

    async fn read(&mut self, key: Vec<u8>) -> Result<StateResponse, Problem> {
        if let Some(&at) = self.index.get(&key) {
            return Ok(self.entries[at].clone());
        }
        let entry = self.service.state(key.clone(), self.proof).await?;
        if self.proof && *self.height.get_or_insert(entry.height) != entry.height {
            return Err(Problem::new(
                503,
                STATE_MOVED,
                "a block was applied while the answer was being read; retry",
            ));
        }
        self.index.insert(key, self.entries.len());
        self.entries.push(entry.clone());
        Ok(entry)
    }

    async fn decoded<T: commonware_codec::Read<Cfg = ()>>(
        &mut self,
        key: Vec<u8>,
        what: &str,
    ) -> Result<Option<T>, Problem> {
        let entry = self.read(key).await?;
        decode_entry(&entry, what)
    }

    async fn container(&mut self, sscc: &Sscc) -> Result<Option<Container>, Problem> {
        self.decoded(container_key(sscc), "container").await
    }

    /// Where an object with this tracking is: the outermost container holds it.
    async fn whereabouts(&mut self, tracking: &Tracking) -> Result<Whereabouts, Problem> {
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
            let container = self
                .container(&sscc)
                .await?
                .ok_or_else(|| corrupt("object", format!("its container {sscc} is missing")))?;
            parent = container.tracking.parent;
            place.custodian = container.tracking.custodian;
            place.shipment = container.tracking.shipment;
        }
        Ok(place)
    }

    /// Where a shipment is heading.
    async fn destination(&mut self, shipment: Option<Hash32>) -> Result<Option<Shipment>, Problem> {
        match shipment {
            Some(id) => self.decoded(shipment_key(&id), "shipment").await,
            None => Ok(None),
        }
    }

    /// The steps of `object` between heights `from` and `to`, and those of every container
    /// it was packed in meanwhile, recursively.
    async fn custody(
        &mut self,
        object: Object,
        history: Vec<HistoryEntry>,
        from: u64,
        to: u64,
        depth: usize,
        steps: &mut Vec<CustodyStep>,
    ) -> Result<(), Problem> {
        for (i, entry) in history.iter().enumerate() {
            if entry.height < from || entry.height > to || steps.len() >= STEPS_MAX {
                continue;
            }
            // A container reached by two paths (a pack moved between two cases on one
            // pallet) shows its steps once.
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
            if let Some(container) = Box::pin(self.container(&sscc)).await? {
                // The container's steps while it held the object.
                Box::pin(self.custody(
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
}

/// The code of an answer whose reads straddled a block (retried here, then answered 503).
const STATE_MOVED: &str = "state_moved";

/// How many times an answer with proofs is read again when a block lands in the middle of it.
const CONSISTENT_ATTEMPTS: usize = 4;

/// Runs `read` until its answer was read at one height, a few times at most.
async fn consistently<T, F, Fut>(mut read: F) -> Result<T, Problem>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Problem>>,
{
    let mut attempt = 1;
    loop {
        match read().await {
            Err(problem) if problem.code == STATE_MOVED && attempt < CONSISTENT_ATTEMPTS => {
                attempt += 1;
            }
            answer => return answer,
        }
    }
}

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    /// `GET /v1/supply/verify`: see [`Self::verify_pack_once`]; the state entries are proven
    /// (when asked) at one height.
    pub async fn verify_pack(
        &self,
        scan: &str,
        proof: bool,
    ) -> Result<VerifyPackResponse, Problem> {
        consistently(|| self.verify_pack_once(scan, proof)).await
    }

    /// `GET /v1/supply/alerts`: see [`Self::supply_alerts_once`].
    pub async fn supply_alerts(
        &self,
        manufacturer: Option<PartyId>,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<SupplyAlertsResponse, Problem> {
        consistently(|| self.supply_alerts_once(manufacturer, from, limit, proof)).await
    }

    /// `GET /v1/supply/holdings`: see [`Self::lot_holdings_once`].
    #[allow(clippy::too_many_arguments)]
    pub async fn lot_holdings(
        &self,
        gtin: Gtin,
        lot_number: &str,
        custodian: Option<PartyId>,
        in_chain_only: bool,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<LotHoldingsResponse, Problem> {
        consistently(|| {
            self.lot_holdings_once(
                gtin,
                lot_number,
                custodian,
                in_chain_only,
                from,
                limit,
                proof,
            )
        })
        .await
    }

    /// `GET /v1/supply/lineage`: see [`Self::lineage_once`].
    pub async fn lineage(&self, scan: &str, proof: bool) -> Result<LineageResponse, Problem> {
        consistently(|| self.lineage_once(scan, proof)).await
    }
}

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    /// `GET /v1/supply/verify`: the verdict on a scanned pack (GS1 element string,
    /// human-readable form or Digital Link), with where it is, its chain of custody and the
    /// state entries it rests on (with proofs when asked).
    async fn verify_pack_once(
        &self,
        scan: &str,
        proof: bool,
    ) -> Result<VerifyPackResponse, Problem> {
        let tip = self.tip();
        let today = Date::of_ms(tip.header.time_ms);
        let parsed = Scan::parse(scan, today)
            .map_err(|err| Problem::new(422, "invalid_scan", err.to_string()))?;
        let summary = ScanSummary {
            form: parsed.form.name().to_string(),
            gtin: parsed.gtin(),
            serial: parsed.serial().map(str::to_string),
            lot: parsed.lot().map(str::to_string),
            expiry: parsed.expiry(),
            sscc: parsed.sscc(),
            digital_link: parsed.digital_link("id.gs1.org").ok(),
        };
        let mut reads = Reads::new(self, proof);
        let mut findings = Vec::new();
        let mut verdicts = Vec::new();
        let mut response = VerifyPackResponse {
            scan: summary.clone(),
            verdict: PackVerdict::Genuine,
            findings: Vec::new(),
            height: tip.height,
            time_ms: tip.header.time_ms,
            custodian: None,
            custodian_label: None,
            in_transit_to: None,
            containers: Vec::new(),
            unit: None,
            container: None,
            lot: None,
            custody: Vec::new(),
            entries: Vec::new(),
        };
        let (object, tracking);
        match (summary.gtin, summary.serial.as_deref(), summary.sscc) {
            (Some(gtin), Some(serial), _) => {
                let entry = reads.read(unit_key(&gtin, serial)).await?;
                let Some(unit) = decode_entry::<Unit>(&entry, "unit")? else {
                    return Ok(unknown(
                        response,
                        reads.entries,
                        format!(
                            "no pack with GTIN {gtin} and serial {serial} was ever commissioned"
                        ),
                    ));
                };
                let lot_entry = reads.read(lot_key(&gtin, &unit.lot)).await?;
                let lot = decode_entry::<Lot>(&lot_entry, "lot")?
                    .ok_or_else(|| corrupt("unit", "its lot is missing"))?;
                if let Some(printed) = &summary.lot
                    && *printed != unit.lot
                {
                    verdicts.push(PackVerdict::Mismatch);
                    findings.push(format!(
                        "the pack says lot {printed}, but serial {serial} was commissioned in lot {}",
                        unit.lot
                    ));
                }
                if let Some(printed) = summary.expiry
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
                let Some(container) = reads.container(&sscc).await? else {
                    return Ok(unknown(
                        response,
                        reads.entries,
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
                return Err(Problem::new(
                    422,
                    "not_serialized",
                    "the scan names no serialized pack: a pack is identified by its GTIN (AI 01) and serial number (AI 21), a case or pallet by its SSCC (AI 00)",
                ));
            }
        }
        match tracking.flag {
            Some(FlagKind::Illegitimate) => {
                verdicts.push(PackVerdict::Illegitimate);
                findings.push("it is confirmed illegitimate".into());
            }
            Some(FlagKind::Suspect) => {
                verdicts.push(PackVerdict::Suspect);
                findings.push(
                    "it is flagged suspect: a suspect-product alert or an investigation names it"
                        .into(),
                );
            }
            _ => {}
        }
        // Where it is: the outermost container holds it.
        let place = reads.whereabouts(&tracking).await?;
        response.containers = place.containers;
        response.custodian = Some(place.custodian);
        response.custodian_label = self.label(&place.custodian).await;
        if let Some(shipment) = reads.destination(place.shipment).await? {
            response.in_transit_to = Some(shipment.to);
            findings.push(format!(
                "it is in transit from {} to {}",
                shipment.from, shipment.to
            ));
        }
        let mut steps = Vec::new();
        reads
            .custody(object, tracking.history, 0, u64::MAX, 0, &mut steps)
            .await?;
        steps.sort_by(|a, b| {
            (a.entry.height, a.entry.time_ms).cmp(&(b.entry.height, b.entry.time_ms))
        });
        response.custody = steps;
        verdicts.sort_by_key(|v| *v as u8);
        response.verdict = verdicts.first().copied().unwrap_or(PackVerdict::Genuine);
        if response.verdict == PackVerdict::Genuine {
            findings.insert(
                0,
                "genuine: commissioned by its manufacturer and in the supply chain".into(),
            );
        }
        response.findings = findings;
        response.entries = reads.entries;
        Ok(response)
    }

    /// A party's name on chain.
    async fn label(&self, party: &PartyId) -> Option<String> {
        let bytes = self
            .read_raw(&medchain_state::keys::party(party))
            .await
            .ok()??;
        Party::decode(bytes)
            .ok()
            .map(|p| p.label)
            .filter(|label| !label.is_empty())
    }
}

/// A lot's batch `seq`.
async fn lot_batch<E: Spawner + StorageContext + Clock>(
    reads: &mut Reads<'_, E>,
    owner: &[u8; 32],
    seq: u64,
) -> Result<LotBatch, Problem> {
    reads
        .decoded::<LotBatch>(lists::item_key(names::LOT_BATCHES, owner, seq), "lot batch")
        .await?
        .ok_or_else(|| corrupt("lot batch list", format!("item {seq} is missing")))
}

/// The batch holding the lot's unit at `position` (there is one: `position` is below the
/// lot's count), by bisection over the batches' first positions.
async fn first_batch<E: Spawner + StorageContext + Clock>(
    reads: &mut Reads<'_, E>,
    owner: &[u8; 32],
    batches: u64,
    position: u64,
) -> Result<u64, Problem> {
    let (mut low, mut high) = (0, batches);
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if lot_batch(reads, owner, middle).await?.first <= position {
            low = middle;
        } else {
            high = middle;
        }
    }
    Ok(low)
}

/// Most alerts one page shows.
pub const ALERTS_PAGE_MAX: u64 = 1_000;
/// Most units of a lot one holdings page looks at, and with proofs.
pub const HOLDINGS_PAGE_MAX: u64 = 10_000;
pub const HOLDINGS_PROVEN_PAGE_MAX: u64 = 1_000;
/// Most units one lineage answer shows.
pub const LINEAGE_MAX: usize = 1_000;

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    /// `GET /v1/supply/alerts`: a page of suspect-product alerts, of one manufacturer's
    /// products or of all (`None`).
    async fn supply_alerts_once(
        &self,
        manufacturer: Option<PartyId>,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<SupplyAlertsResponse, Problem> {
        if limit == 0 || limit > ALERTS_PAGE_MAX {
            return Err(Problem::new(
                400,
                "invalid_limit",
                format!("limit is 1 to {ALERTS_PAGE_MAX}, not {limit}"),
            ));
        }
        let owner = manufacturer.map_or(ALERTS_ALL, |party| party.0);
        let mut reads = Reads::new(self, proof);
        // The list's length is read (and proven) with its items: a shorter page must show
        // that the list ends there.
        let count_entry = reads.read(lists::count_key(names::ALERTS, &owner)).await?;
        let count = match &count_entry.value {
            None => 0,
            Some(hex_value) => hex::decode(hex_value)
                .ok()
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| corrupt("alert list", "its count is not 8 bytes"))?,
        };
        let mut alerts = Vec::new();
        for seq in from..count.min(from.saturating_add(limit)) {
            let alert = reads
                .decoded::<Alert>(lists::item_key(names::ALERTS, &owner, seq), "alert")
                .await?
                .ok_or_else(|| corrupt("alert list", format!("item {seq} is missing")))?;
            alerts.push(alert);
        }
        Ok(SupplyAlertsResponse {
            manufacturer,
            count,
            from,
            alerts,
            entries: reads.entries,
        })
    }

    /// `GET /v1/supply/holdings`: where the units of a lot are, `limit` of them from
    /// position `from` in commissioning order; only those `custodian` holds or is being sent,
    /// and only those still in the supply chain, when asked. State entries come with the
    /// answer only when proofs are asked for.
    #[allow(clippy::too_many_arguments)]
    async fn lot_holdings_once(
        &self,
        gtin: Gtin,
        lot_number: &str,
        custodian: Option<PartyId>,
        in_chain_only: bool,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<LotHoldingsResponse, Problem> {
        let max = if proof {
            HOLDINGS_PROVEN_PAGE_MAX
        } else {
            HOLDINGS_PAGE_MAX
        };
        if limit == 0 || limit > max {
            return Err(Problem::new(
                400,
                "invalid_limit",
                format!(
                    "limit is 1 to {max}{}, not {limit}",
                    if proof { " with proofs" } else { "" }
                ),
            ));
        }
        let height = self.tip().height;
        let mut reads = Reads::new(self, proof);
        let Some(lot) = reads
            .decoded::<Lot>(lot_key(&gtin, lot_number), "lot")
            .await?
        else {
            return Err(Problem::new(
                404,
                "unknown_lot",
                format!("no unit of GTIN {gtin} was ever commissioned in lot {lot_number:?}"),
            ));
        };
        let owner = lot_owner(&gtin, lot_number);
        let batches = self.list_count(names::LOT_BATCHES, &owner).await?;
        let end = from.saturating_add(limit).min(lot.units);
        // The position in the lot of the next serial.
        let (mut position, mut units) = (from, Vec::new());
        let mut seq = if from < end {
            first_batch(&mut reads, &owner, batches, from).await?
        } else {
            batches
        };
        while seq < batches && position < end {
            let batch = lot_batch(&mut reads, &owner, seq).await?;
            seq += 1;
            let skip = position.checked_sub(batch.first).ok_or_else(|| {
                corrupt(
                    "lot batch list",
                    format!("item {} starts past {position}", seq - 1),
                )
            })?;
            for serial in batch.serials.iter().skip(skip as usize) {
                if position >= end {
                    break;
                }
                position += 1;
                let unit = reads
                    .decoded::<Unit>(unit_key(&gtin, &serial), "unit")
                    .await?
                    .ok_or_else(|| corrupt("lot", format!("its unit {serial} is missing")))?;
                if in_chain_only && unit.status != UnitStatus::Active {
                    continue;
                }
                let place = reads.whereabouts(&unit.tracking).await?;
                let in_transit_to = reads.destination(place.shipment).await?.map(|s| s.to);
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
                "lot batch list",
                format!("its batches hold {position} units, the lot {}", lot.units),
            ));
        }
        let next = (position < lot.units).then_some(position);
        Ok(LotHoldingsResponse {
            lot,
            custodian,
            in_chain_only,
            height,
            from,
            next,
            units,
            entries: if proof { reads.entries } else { Vec::new() },
        })
    }

    /// `GET /v1/supply/lineage`: the ancestry of a scanned unit through the
    /// transformations that made it, generation by generation.
    async fn lineage_once(&self, scan: &str, proof: bool) -> Result<LineageResponse, Problem> {
        let tip = self.tip();
        let parsed = Scan::parse(scan, Date::of_ms(tip.header.time_ms))
            .map_err(|err| Problem::new(422, "invalid_scan", err.to_string()))?;
        let (Some(gtin), Some(serial)) = (parsed.gtin(), parsed.serial()) else {
            return Err(Problem::new(
                422,
                "not_serialized",
                "lineage is traced from a serialized unit: its GTIN (AI 01) and serial number (AI 21)",
            ));
        };
        let mut reads = Reads::new(self, proof);
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
            let Some(unit) = reads
                .decoded::<Unit>(unit_key(&gtin, &serial), "unit")
                .await?
            else {
                if generation == 0 {
                    return Err(Problem::new(
                        404,
                        "unknown_serial",
                        format!(
                            "no pack with GTIN {gtin} and serial {serial} was ever commissioned"
                        ),
                    ));
                }
                return Err(corrupt(
                    "transformation",
                    format!("its input {gtin}/{serial} is missing"),
                ));
            };
            let made_by = match unit.made_by {
                Some(tx) => Some(
                    reads
                        .decoded::<Transformation>(transformation_key(&tx), "transformation")
                        .await?
                        .ok_or_else(|| {
                            corrupt("unit", format!("its transformation {tx} is missing"))
                        })?,
                ),
                None => None,
            };
            for input in made_by.iter().flat_map(|t| &t.inputs) {
                // A transformation names up to 20,000 inputs: queue no more than one answer
                // shows.
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
            height: tip.height,
            ancestry,
            truncated,
            entries: reads.entries,
        })
    }

    async fn list_count(&self, list: &str, owner: &[u8; 32]) -> Result<u64, Problem> {
        Ok(self.list_items(list, owner, 0, 0).await?.0)
    }
}
