//! Supply-chain queries: verifying a scanned pack (public, no account needed).

use crate::service::NodeService;
use commonware_codec::DecodeExt;
use commonware_runtime::{Clock, Spawner};
use commonware_storage::Context as StorageContext;
use medchain_formats::gs1::Scan;
use medchain_state::supply::{container_key, lot_key, shipment_key, unit_key};
use medchain_types::{
    Party, PartyId,
    api::{CustodyStep, PackVerdict, Problem, ScanSummary, StateResponse, VerifyPackResponse},
    gs1::Sscc,
    supply::{
        Container, ContainerStatus, FlagKind, HistoryEntry, Lot, Object, Shipment, Step, Unit,
        UnitStatus,
    },
    time::Date,
};

/// How many containers deep a custody chain is followed.
const DEPTH_MAX: usize = 8;
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
}

impl<E: Spawner + StorageContext + Clock> Reads<'_, E> {
    async fn read(&mut self, key: Vec<u8>) -> Result<StateResponse, Problem> {
        let key_hex = hex::encode(&key);
        if let Some(entry) = self.entries.iter().find(|e| e.key_hex == key_hex) {
            return Ok(entry.clone());
        }
        let entry = self.service.state(key, self.proof).await?;
        self.entries.push(entry.clone());
        Ok(entry)
    }

    async fn container(&mut self, sscc: &Sscc) -> Result<Option<Container>, Problem> {
        let entry = self.read(container_key(sscc)).await?;
        decode_entry(&entry, "container")
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
            if entry.step != Step::Packed || depth >= DEPTH_MAX {
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

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    /// `GET /v1/supply/verify`: the verdict on a scanned pack (GS1 element string,
    /// human-readable form or Digital Link), with where it is, its chain of custody and the
    /// state entries it rests on (with proofs when asked).
    pub async fn verify_pack(
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
        let mut reads = Reads {
            service: self,
            proof,
            entries: Vec::new(),
        };
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
        let (mut parent, mut custodian, mut shipment) =
            (tracking.parent, tracking.custodian, tracking.shipment);
        let mut depth = 0;
        while let Some(sscc) = parent {
            if depth >= DEPTH_MAX {
                break;
            }
            depth += 1;
            response.containers.push(sscc);
            let container = reads
                .container(&sscc)
                .await?
                .ok_or_else(|| corrupt("unit", format!("its container {sscc} is missing")))?;
            parent = container.tracking.parent;
            custodian = container.tracking.custodian;
            shipment = container.tracking.shipment;
        }
        response.custodian = Some(custodian);
        response.custodian_label = self.label(&custodian).await;
        if let Some(id) = shipment {
            let entry = reads.read(shipment_key(&id)).await?;
            if let Some(shipment) = decode_entry::<Shipment>(&entry, "shipment")? {
                response.in_transit_to = Some(shipment.to);
                findings.push(format!(
                    "it is in transit from {} to {}",
                    shipment.from, shipment.to
                ));
            }
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
