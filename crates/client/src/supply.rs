//! The supply chain from a client: verify-pack, alerts, lot holdings, lineage and EPCIS, and
//! checking their answers' proofs against the chain.

use crate::verify::{VerifyError, verify_state};
use commonware_codec::{DecodeExt, Encode};
use medchain_types::{
    Genesis,
    api::{PackVerdict, VerifyPackResponse},
};

/// Why a verify-pack answer cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum PackProofError {
    #[error("the proof of {key} does not verify: {source}")]
    Proof { key: String, source: VerifyError },
    #[error("{key} differs from its proven value")]
    Differs { key: String },
    #[error("the answer's {what} is not the proven one")]
    Mismatch { what: &'static str },
    #[error(
        "{key} is proven at height {other}, the answer's other entries at {first}: one answer rests on one block"
    )]
    Heights { key: String, first: u64, other: u64 },
    #[error("the answer says {verdict:?}, but {reason}")]
    Verdict {
        verdict: PackVerdict,
        reason: &'static str,
    },
}

/// Checks every entry's proof against the genesis validators and that its value is the
/// proven one (for the `entries` of any supply answer asked for with proofs).
pub fn verify_entries(
    genesis: &Genesis,
    entries: &[medchain_types::api::StateResponse],
) -> Result<(), PackProofError> {
    proven_entries(genesis, entries).map(|_| ())
}

/// The height every entry of an answer is proven at (`None` for an answer without entries).
/// A caller that knows a later finalized height can tell a stale answer by it.
pub fn proven_height(entries: &[medchain_types::api::StateResponse]) -> Option<u64> {
    entries
        .first()
        .and_then(|entry| entry.proof.as_ref())
        .map(|p| p.height)
}

/// [`verify_entries`], answering the proven entries, which must all be proven at one height:
/// entries of different blocks could be put together into a state that never was.
fn proven_entries(
    genesis: &Genesis,
    entries: &[medchain_types::api::StateResponse],
) -> Result<Vec<crate::verify::VerifiedState>, PackProofError> {
    let mut first = None;
    entries
        .iter()
        .map(|entry| {
            let verified =
                verify_state(genesis, entry).map_err(|source| PackProofError::Proof {
                    key: entry.key.clone(),
                    source,
                })?;
            let first = *first.get_or_insert(verified.height);
            if verified.height != first {
                return Err(PackProofError::Heights {
                    key: entry.key.clone(),
                    first,
                    other: verified.height,
                });
            }
            if verified.value.as_ref().map(hex::encode) != entry.value {
                return Err(PackProofError::Differs {
                    key: entry.key.clone(),
                });
            }
            Ok(verified)
        })
        .collect()
}

/// Whether `value` is proven under `key`.
fn proven_as(proven: &[crate::verify::VerifiedState], key: &[u8], value: &[u8]) -> bool {
    proven
        .iter()
        .any(|v| v.key == key && v.value.as_deref() == Some(value))
}

/// The proven value under `key`, decoded.
fn proven_decoded<T: commonware_codec::Read<Cfg = ()>>(
    proven: &[crate::verify::VerifiedState],
    key: &[u8],
) -> Option<T> {
    proven
        .iter()
        .find(|v| v.key == key)
        .and_then(|v| v.value.clone())
        .and_then(|value| T::decode(value).ok())
}

/// A proven list's length.
fn proven_count(
    proven: &[crate::verify::VerifiedState],
    list: &str,
    owner: &[u8; 32],
) -> Option<u64> {
    let key = medchain_state::lists::count_key(list, owner);
    let entry = proven.iter().find(|v| v.key == key)?;
    match &entry.value {
        None => Some(0),
        Some(bytes) => Some(u64::from_be_bytes(bytes.as_slice().try_into().ok()?)),
    }
}

/// Checks an alerts answer asked for with proofs and `limit`: the list's length is proven,
/// and the alerts are the proven items from `from`, as many as the page holds.
pub fn verify_alerts_proofs(
    genesis: &Genesis,
    answer: &medchain_types::api::SupplyAlertsResponse,
    limit: u64,
) -> Result<(), PackProofError> {
    let proven = proven_entries(genesis, &answer.entries)?;
    let owner = answer
        .manufacturer
        .map_or(medchain_types::supply::ALERTS_ALL, |party| party.0);
    let names = medchain_state::lists::names::ALERTS;
    if proven_count(&proven, names, &owner) != Some(answer.count) {
        return Err(PackProofError::Mismatch {
            what: "alert count",
        });
    }
    if answer.alerts.len() as u64 != limit.min(answer.count.saturating_sub(answer.from)) {
        return Err(PackProofError::Mismatch {
            what: "number of alerts",
        });
    }
    for (i, alert) in answer.alerts.iter().enumerate() {
        let key = medchain_state::lists::item_key(names, &owner, answer.from + i as u64);
        if !proven_as(&proven, &key, &alert.encode()) {
            return Err(PackProofError::Mismatch { what: "alert" });
        }
    }
    Ok(())
}

/// Checks a lineage answer asked for with proofs about the unit `gtin`/`serial`: it starts at
/// that unit; every unit shown, and the transformation that made it, are proven; and unless
/// the answer says it is truncated, every input of every transformation shown is in it.
pub fn verify_lineage_proofs(
    genesis: &Genesis,
    answer: &medchain_types::api::LineageResponse,
    gtin: &medchain_types::gs1::Gtin,
    serial: &str,
) -> Result<(), PackProofError> {
    use medchain_types::supply::Object;
    let proven = proven_entries(genesis, &answer.entries)?;
    match answer.ancestry.first() {
        Some(root) if root.gtin == *gtin && root.serial == serial && root.generation == 0 => {}
        _ => return Err(PackProofError::Mismatch { what: "unit" }),
    }
    for node in &answer.ancestry {
        let key = medchain_state::supply::unit_key(&node.gtin, &node.serial);
        let unit = proven_decoded::<medchain_types::supply::Unit>(&proven, &key)
            .ok_or(PackProofError::Mismatch { what: "unit" })?;
        if unit.lot != node.lot || unit.made_by != node.made_by.as_ref().map(|t| t.tx) {
            return Err(PackProofError::Mismatch { what: "unit" });
        }
        let Some(made_by) = &node.made_by else {
            continue;
        };
        if !proven_as(
            &proven,
            &medchain_state::supply::transformation_key(&made_by.tx),
            &made_by.encode(),
        ) {
            return Err(PackProofError::Mismatch {
                what: "transformation",
            });
        }
        for input in &made_by.inputs {
            let Object::Unit { gtin, serial } = input else {
                continue;
            };
            let shown = answer.ancestry.iter().any(|other| {
                other.gtin == *gtin
                    && other.serial == *serial
                    && other.generation <= node.generation + 1
            });
            if !shown && !answer.truncated {
                return Err(PackProofError::Mismatch { what: "ancestry" });
            }
        }
    }
    Ok(())
}

/// Checks a holdings answer asked for with proofs about lot `lot` of `gtin`:
/// - the lot is the proven one;
/// - each unit shown is a proven unit of that lot, with its proven status, and with the holder,
///   destination and containers its proven containers and shipment give;
/// - every unit of the page's range (from `from` to `next`, or to the lot's end) is shown or
///   proven not to match the filters asked (`custodian`, `in_chain_only`).
pub fn verify_holdings_proofs(
    genesis: &Genesis,
    answer: &medchain_types::api::LotHoldingsResponse,
    gtin: &medchain_types::gs1::Gtin,
    lot: &str,
) -> Result<(), PackProofError> {
    use medchain_types::supply::{Container, LotBatch, Object, Shipment, Unit, UnitStatus};
    let proven = proven_entries(genesis, &answer.entries)?;
    let the_lot = &answer.lot;
    if the_lot.gtin != *gtin
        || the_lot.lot != lot
        || !proven_as(
            &proven,
            &medchain_state::supply::lot_key(gtin, lot),
            &the_lot.encode(),
        )
    {
        return Err(PackProofError::Mismatch { what: "lot" });
    }
    // The serials of the page's range, from the proven commissioning batches: the one that
    // holds the page's first position, then each next one.
    use medchain_state::lists::{item_key, item_seq, names::LOT_BATCHES};
    let owner = medchain_state::supply::lot_owner(gtin, lot);
    let end = answer.next.unwrap_or(the_lot.units).min(the_lot.units);
    let mut range = Vec::new();
    if answer.from < end {
        let mut seq = proven
            .iter()
            .find_map(|v| {
                let seq = item_seq(LOT_BATCHES, &owner, &v.key)?;
                let batch = LotBatch::decode(v.value.clone()?).ok()?;
                let holds = batch.first <= answer.from
                    && answer.from - batch.first < batch.serials.len() as u64;
                holds.then_some(seq)
            })
            .ok_or(PackProofError::Mismatch {
                what: "lot batches",
            })?;
        let mut position = answer.from;
        while position < end {
            let batch = proven_decoded::<LotBatch>(&proven, &item_key(LOT_BATCHES, &owner, seq))
                .ok_or(PackProofError::Mismatch {
                    what: "lot batches",
                })?;
            // Each batch starts where the one before ended (the first, at or before `from`).
            let Some(skip) = position
                .checked_sub(batch.first)
                .filter(|&skip| range.is_empty() || skip == 0)
            else {
                return Err(PackProofError::Mismatch {
                    what: "lot batches",
                });
            };
            for serial in batch.serials.iter().skip(skip as usize) {
                if position >= end {
                    break;
                }
                range.push(serial);
                position += 1;
            }
            seq += 1;
        }
    }
    let mut shown = answer.units.iter().peekable();
    for serial in range {
        let unit =
            proven_decoded::<Unit>(&proven, &medchain_state::supply::unit_key(gtin, &serial))
                .ok_or(PackProofError::Mismatch { what: "unit" })?;
        if unit.lot != lot {
            return Err(PackProofError::Mismatch { what: "unit" });
        }
        // Where it is, from the proven containers and shipment.
        let (mut containers, mut custodian, mut shipment) =
            (Vec::new(), unit.tracking.custodian, unit.tracking.shipment);
        let mut parent = unit.tracking.parent;
        while let Some(sscc) = parent {
            if containers.len() >= medchain_state::supply::NESTING_MAX {
                break;
            }
            containers.push(sscc);
            let container = proven_decoded::<Container>(
                &proven,
                &medchain_state::supply::object_key(&Object::Container { sscc }),
            )
            .ok_or(PackProofError::Mismatch { what: "container" })?;
            parent = container.tracking.parent;
            custodian = container.tracking.custodian;
            shipment = container.tracking.shipment;
        }
        let in_transit_to = match shipment {
            Some(id) => Some(
                proven_decoded::<Shipment>(&proven, &medchain_state::supply::shipment_key(&id))
                    .ok_or(PackProofError::Mismatch { what: "shipment" })?
                    .to,
            ),
            None => None,
        };
        let matches = (!answer.in_chain_only || unit.status == UnitStatus::Active)
            && answer
                .custodian
                .is_none_or(|party| party == custodian || Some(party) == in_transit_to);
        if !matches {
            continue;
        }
        let held = shown.next().ok_or(PackProofError::Mismatch {
            what: "units left out",
        })?;
        if held.serial != serial
            || held.status != unit.status
            || held.custodian != custodian
            || held.in_transit_to != in_transit_to
            || held.containers != containers
        {
            return Err(PackProofError::Mismatch { what: "unit" });
        }
    }
    if shown.next().is_some() {
        return Err(PackProofError::Mismatch {
            what: "units beyond the page",
        });
    }
    Ok(())
}

/// Checks every state entry of a verify-pack answer (asked for with proofs) against the
/// genesis validators, and that the unit, lot and container the answer shows are the proven
/// ones; an "unknown serial" answer must prove the serial absent.
pub fn verify_pack_proofs(
    genesis: &Genesis,
    answer: &VerifyPackResponse,
) -> Result<(), PackProofError> {
    let proven = proven_entries(genesis, &answer.entries)?;
    let find = |encoded: Vec<u8>| proven.iter().any(|v| v.value.as_ref() == Some(&encoded));
    if let Some(unit) = &answer.unit
        && !find(unit.encode().to_vec())
    {
        return Err(PackProofError::Mismatch { what: "unit" });
    }
    if let Some(lot) = &answer.lot
        && !find(lot.encode().to_vec())
    {
        return Err(PackProofError::Mismatch { what: "lot" });
    }
    if let Some(container) = &answer.container
        && !find(container.encode().to_vec())
    {
        return Err(PackProofError::Mismatch { what: "container" });
    }
    if answer.verdict == PackVerdict::UnknownSerial
        && (answer.unit.is_some()
            || answer.container.is_some()
            || !proven.iter().any(|v| v.value.is_none()))
    {
        return Err(PackProofError::Verdict {
            verdict: answer.verdict,
            reason: "no absence is proven",
        });
    }
    // The custody steps shown are the proven objects' own.
    for step in &answer.custody {
        let key = medchain_state::supply::object_key(&step.object);
        let history = match &step.object {
            medchain_types::supply::Object::Unit { .. } => {
                proven_decoded::<medchain_types::supply::Unit>(&proven, &key)
                    .map(|u| u.tracking.history)
            }
            medchain_types::supply::Object::Container { .. } => {
                proven_decoded::<medchain_types::supply::Container>(&proven, &key)
                    .map(|c| c.tracking.history)
            }
        };
        if !history.is_some_and(|h| h.contains(&step.entry)) {
            return Err(PackProofError::Mismatch {
                what: "chain of custody",
            });
        }
    }
    Ok(())
}

/// An EPCIS 2.0 capture document as signed supply transactions of `keys`' party, one per
/// event in order from `first_nonce`, with each event's CBV 2.0 hash id: what
/// `POST /epcis/capture` does for a custodial account, for a party that signs itself. Submit
/// them with [`crate::Client::submit_batch`].
pub fn capture_transactions(
    document: &serde_json::Value,
    chain_id: &medchain_types::ChainId,
    keys: &crate::keys::PartyKeys,
    first_nonce: u64,
) -> Result<Vec<(medchain_types::SignedTransaction, String)>, medchain_formats::epcis::EpcisError> {
    Ok(medchain_formats::epcis::capture(document)?
        .into_iter()
        .enumerate()
        .map(|(i, captured)| {
            let tx = keys.sign(
                chain_id,
                first_nonce + i as u64,
                medchain_types::TxBody::Supply(captured.op),
            );
            (tx, captured.event_id)
        })
        .collect())
}

/// `POST /epcis/capture` for a custodial account: the node signs one transaction per event
/// with the account's key, runs them all against current state, and submits them only if
/// every one would apply. Follow the job with [`crate::Client::epcis_capture_job`].
pub async fn capture_custodial(
    custodial: &crate::custodial::Custodial,
    document: &serde_json::Value,
) -> Result<medchain_types::api::EpcisCaptureAccepted, crate::ClientError> {
    custodial
        .node()
        .signed_as(
            crate::http::RequestSigner::Session(custodial.session()),
            reqwest::Method::POST,
            "/epcis/capture",
            "application/ld+json",
            serde_json::to_vec(document).expect("a JSON value serializes"),
        )
        .await
}

impl crate::Client {
    /// `GET /v1/supply/alerts`: a page of suspect-product alerts, a manufacturer's or (with
    /// `None`) everyone's.
    pub async fn supply_alerts(
        &self,
        manufacturer: Option<&medchain_types::PartyId>,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<medchain_types::api::SupplyAlertsResponse, crate::ClientError> {
        let (from, limit, proof) = (from.to_string(), limit.to_string(), proof.to_string());
        let manufacturer = manufacturer.map(|party| party.to_string());
        let mut params = vec![
            ("from", from.as_str()),
            ("limit", &limit),
            ("proof", &proof),
        ];
        if let Some(party) = &manufacturer {
            params.push(("manufacturer", party));
        }
        self.get_settled(&format!(
            "/v1/supply/alerts?{}",
            medchain_formats::uri::encode_query(params)
        ))
        .await
    }

    /// `GET /v1/supply/holdings`: where the units of a lot are, `limit` from position `from`;
    /// only a custodian's, and only those still in the chain, when asked.
    #[allow(clippy::too_many_arguments)]
    pub async fn lot_holdings(
        &self,
        gtin: &medchain_types::gs1::Gtin,
        lot: &str,
        custodian: Option<&medchain_types::PartyId>,
        in_chain_only: bool,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<medchain_types::api::LotHoldingsResponse, crate::ClientError> {
        let (gtin, from, limit) = (gtin.to_string(), from.to_string(), limit.to_string());
        let (in_chain, proof) = (in_chain_only.to_string(), proof.to_string());
        let custodian = custodian.map(|party| party.to_string());
        let mut params = vec![
            ("gtin", gtin.as_str()),
            ("lot", lot),
            ("in_chain", &in_chain),
            ("from", &from),
            ("limit", &limit),
            ("proof", &proof),
        ];
        if let Some(party) = &custodian {
            params.push(("custodian", party));
        }
        self.get_settled(&format!(
            "/v1/supply/holdings?{}",
            medchain_formats::uri::encode_query(params)
        ))
        .await
    }

    /// `GET /v1/supply/lineage`: a scanned unit's ancestry through transformations.
    pub async fn lineage(
        &self,
        scan: &str,
        proof: bool,
    ) -> Result<medchain_types::api::LineageResponse, crate::ClientError> {
        let proof = proof.to_string();
        self.get_settled(&format!(
            "/v1/supply/lineage?{}",
            medchain_formats::uri::encode_query([("scan", scan), ("proof", &proof)])
        ))
        .await
    }

    /// `GET /epcis/capture/{captureID}`: a capture job on this node.
    pub async fn epcis_capture_job(
        &self,
        capture_id: &str,
    ) -> Result<medchain_types::api::EpcisCaptureJob, crate::ClientError> {
        self.get(&format!(
            "/epcis/capture/{}",
            medchain_formats::uri::percent_encode(capture_id)
        ))
        .await
    }

    /// `GET /epcis/events`: an EPCIS SimpleEventQuery (`MATCH_anyEPC`, `MATCH_anyEPCClass`,
    /// `GE_eventTime`, `LT_eventTime`, `eventType`, `perPage`, ...), answered with an
    /// EPCISQueryDocument.
    pub async fn epcis_events(
        &self,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, crate::ClientError> {
        Ok(self.epcis_events_page(params).await?.0)
    }

    /// [`Self::epcis_events`], with the token of the next page if there is one (pass it as
    /// `nextPageToken` to fetch that page).
    pub async fn epcis_events_page(
        &self,
        params: &[(&str, &str)],
    ) -> Result<(serde_json::Value, Option<String>), crate::ClientError> {
        let query = medchain_formats::uri::encode_query(params.iter().copied());
        self.get_paged(&format!("/epcis/events?{query}")).await
    }
}
