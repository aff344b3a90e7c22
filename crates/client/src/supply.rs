//! The supply chain from a client: verify-pack, alerts, lot holdings, lineage and EPCIS, and
//! answers with proofs checked against the chain.
//!
//! A checked answer is recomputed ([`crate::proven`]): its entries are verified at one fresh
//! finalized height, the node's own query (`medchain_state::supply::query`) runs over them
//! from the question asked (the scan, the lot, the page), and the node's answer must match
//! the recomputed one in every field. What the caller gets is the recomputed answer.

use crate::proven::{Proven, ProvenError, Verifier, recompute};
use medchain_formats::gs1::Scan;
use medchain_state::{QueryError, supply::query};
use medchain_types::{
    PartyId,
    api::{LineageResponse, LotHoldingsResponse, SupplyAlertsResponse, VerifyPackResponse},
    time::Date,
};

pub use medchain_state::supply::query::HoldingsQuery;

/// The scan parsed as the node parses it, as of the proven block's day.
fn parse_scan(scan: &str, time_ms: u64) -> Result<Scan, QueryError> {
    Scan::parse(scan, Date::of_ms(time_ms))
        .map_err(|err| QueryError::refused(422, "invalid_scan", err.to_string()))
}

/// Checks a verify-pack answer served with proofs for `scan`: recomputes the verdict, the
/// pack's whereabouts and its chain of custody from the proven entries
/// ([`query::verify_pack`]). An "unknown serial" answer must prove the serial absent.
pub async fn check_verify_pack(
    verifier: &Verifier,
    scan: &str,
    served: VerifyPackResponse,
) -> Result<Proven<VerifyPackResponse>, ProvenError> {
    recompute(verifier, served, async |state| {
        let summary = parse_scan(scan, state.time_ms)?.summary();
        query::verify_pack(state, summary, state.height, state.time_ms).await
    })
    .await
}

/// `GET /v1/supply/verify` with proofs, checked ([`check_verify_pack`]).
pub async fn verify_pack_proven(
    client: &crate::Client,
    verifier: &Verifier,
    scan: &str,
) -> Result<Proven<VerifyPackResponse>, ProvenError> {
    let served = client.verify_pack(scan, true).await?;
    check_verify_pack(verifier, scan, served).await
}

/// Checks a page of alerts served with proofs for (`manufacturer`, `from`, `limit`): the
/// list's count is proven, and every alert of the page is the proven item at its position.
pub async fn check_alerts(
    verifier: &Verifier,
    manufacturer: Option<&PartyId>,
    from: u64,
    limit: u64,
    served: SupplyAlertsResponse,
) -> Result<Proven<SupplyAlertsResponse>, ProvenError> {
    recompute(verifier, served, async |state| {
        query::alerts(state, manufacturer.copied(), from, limit).await
    })
    .await
}

/// `GET /v1/supply/alerts` with proofs, checked ([`check_alerts`]).
pub async fn alerts_proven(
    client: &crate::Client,
    verifier: &Verifier,
    manufacturer: Option<&PartyId>,
    from: u64,
    limit: u64,
) -> Result<Proven<SupplyAlertsResponse>, ProvenError> {
    let served = client
        .supply_alerts(manufacturer, from, limit, true)
        .await?;
    check_alerts(verifier, manufacturer, from, limit, served).await
}

/// Checks a holdings page served with proofs for `asked` (its `proof` is taken as set): the
/// lot, its commissioning batches from the one holding `from`, every unit of the page's
/// range with its containers and shipment are proven, so a unit left out, a wrong holder or
/// case, or a page that stops early is refused.
pub async fn check_holdings(
    verifier: &Verifier,
    asked: &HoldingsQuery,
    served: LotHoldingsResponse,
) -> Result<Proven<LotHoldingsResponse>, ProvenError> {
    let asked = HoldingsQuery {
        proof: true,
        ..asked.clone()
    };
    recompute(verifier, served, async |state| {
        query::holdings(state, &asked, state.height).await
    })
    .await
}

/// `GET /v1/supply/holdings` with proofs, checked ([`check_holdings`]).
pub async fn holdings_proven(
    client: &crate::Client,
    verifier: &Verifier,
    asked: &HoldingsQuery,
) -> Result<Proven<LotHoldingsResponse>, ProvenError> {
    let served = client
        .lot_holdings(
            &asked.gtin,
            &asked.lot,
            asked.custodian.as_ref(),
            asked.in_chain_only,
            asked.from,
            asked.limit,
            true,
        )
        .await?;
    check_holdings(verifier, asked, served).await
}

/// Checks a lineage answer served with proofs for `scan`: the ancestry is recomputed from
/// the proven units and transformations, generation by generation.
pub async fn check_lineage(
    verifier: &Verifier,
    scan: &str,
    served: LineageResponse,
) -> Result<Proven<LineageResponse>, ProvenError> {
    recompute(verifier, served, async |state| {
        let parsed = parse_scan(scan, state.time_ms)?;
        let (Some(gtin), Some(serial)) = (parsed.gtin(), parsed.serial()) else {
            return Err(QueryError::refused(
                422,
                "not_serialized",
                "lineage is traced from a serialized unit",
            ));
        };
        query::lineage(state, gtin, serial, state.height).await
    })
    .await
}

/// `GET /v1/supply/lineage` with proofs, checked ([`check_lineage`]).
pub async fn lineage_proven(
    client: &crate::Client,
    verifier: &Verifier,
    scan: &str,
) -> Result<Proven<LineageResponse>, ProvenError> {
    let served = client.lineage(scan, true).await?;
    check_lineage(verifier, scan, served).await
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

    /// [`Self::epcis_events`] with proofs (`proof=true`): the document with every state entry,
    /// transaction and block finality it rests on. Check it with [`check_epcis_events`] (or
    /// use [`epcis_events_proven`]).
    pub async fn epcis_events_with_proof(
        &self,
        params: &[(&str, &str)],
    ) -> Result<medchain_types::api::EpcisEventsAnswer, crate::ClientError> {
        let query =
            medchain_formats::uri::encode_query(params.iter().copied().chain([("proof", "true")]));
        self.get_settled(&format!("/epcis/events?{query}")).await
    }
}

/// The blocks an EPCIS answer with proofs carries, verified: each block's time from its
/// finality, each transaction indexed by the hash of its own encoding.
struct ProvenBlocks {
    times: std::collections::HashMap<u64, u64>,
    transactions:
        std::collections::HashMap<medchain_types::TxHash, medchain_types::SignedTransaction>,
}

impl medchain_node::epcis::Blocks for ProvenBlocks {
    async fn transactions(
        &self,
        height: u64,
        wanted: &[medchain_types::TxHash],
    ) -> Result<(u64, Vec<medchain_types::SignedTransaction>), QueryError> {
        let unproven =
            |key: String| QueryError::State(medchain_state::StateError::Unproven { key });
        let time = *self
            .times
            .get(&height)
            .ok_or_else(|| unproven(format!("the time of block {height}")))?;
        let found = wanted
            .iter()
            .map(|tx| {
                self.transactions
                    .get(tx)
                    .cloned()
                    .ok_or_else(|| unproven(format!("transaction {tx} of block {height}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((time, found))
    }
}

/// Checks an EPCIS answer served with proofs for the SimpleEventQuery `params`: verifies its
/// state entries at one fresh height and each block's finality, then builds the page again
/// ([`medchain_node::epcis::events_page`]) from the question and what it verified: the
/// transactions the proven indexes select (each one's proven receipt placing it in its
/// block), their events, the blocks' times as record times. A transaction left out, an event
/// changed, dropped or added, or another page's token is refused. Answers the document built
/// here.
pub async fn check_epcis_events(
    verifier: &Verifier,
    params: &[(String, String)],
    served: medchain_types::api::EpcisEventsAnswer,
) -> Result<Proven<medchain_types::api::EpcisEventsAnswer>, ProvenError> {
    let query = medchain_formats::epcis::query::EventQuery::parse(params)
        .map_err(|err| QueryError::refused(400, "query_parameter", err.0))?;
    let medchain_types::api::EpcisEventsAnswer {
        document,
        next_page_token,
        height: served_height,
        entries,
        transactions,
        blocks,
    } = served;
    if transactions.len() + blocks.len() > crate::proven::ENTRIES_MAX {
        return Err(ProvenError::TooMany {
            found: transactions.len() + blocks.len(),
        });
    }
    let state = verifier.verify(&entries.iter().collect::<Vec<_>>())?;
    let mut times = std::collections::HashMap::new();
    for finality in &blocks {
        let height = finality
            .links
            .last()
            .unwrap_or(&finality.certified)
            .header
            .height;
        let header = crate::verify::verify_finality(verifier.genesis(), finality)
            .map_err(|source| ProvenError::Block { height, source })?;
        times.insert(header.height, header.time_ms);
    }
    let mut by_hash = std::collections::HashMap::new();
    for text in &transactions {
        let bytes = hex::decode(text).map_err(|err| ProvenError::Transaction(err.to_string()))?;
        let signed = medchain_types::SignedTransaction::decode_canonical(&bytes)
            .map_err(|err| ProvenError::Transaction(err.to_string()))?;
        by_hash.insert(signed.hash(), signed);
    }
    let proven_blocks = ProvenBlocks {
        times,
        transactions: by_hash,
    };
    let (rebuilt, next) = medchain_node::epcis::events_page(
        &state,
        &proven_blocks,
        &query,
        state.time_ms,
        medchain_state::supply::query::EVENTS_PROVEN_CANDIDATES_MAX,
    )
    .await?;
    crate::proven::same_answer(
        &(&document, &next_page_token, served_height),
        &(&rebuilt, &next, state.height),
    )?;
    Ok(Proven {
        answer: medchain_types::api::EpcisEventsAnswer {
            document: rebuilt,
            next_page_token: next,
            height: state.height,
            entries,
            transactions,
            blocks,
        },
        height: state.height,
        time_ms: state.time_ms,
        entries: state.len(),
    })
}

/// `GET /epcis/events` with proofs, checked ([`check_epcis_events`]).
pub async fn epcis_events_proven(
    client: &crate::Client,
    verifier: &Verifier,
    params: &[(&str, &str)],
) -> Result<Proven<medchain_types::api::EpcisEventsAnswer>, ProvenError> {
    let served = client.epcis_events_with_proof(params).await?;
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    check_epcis_events(verifier, &owned, served).await
}
