//! The supply chain's public queries beyond verify-pack, read from the ledger like every other
//! answer (pseudonymous party ids, GS1 keys, no personal data):
//!
//! ```text
//! GET /v1/supply/alerts?manufacturer=&from=&limit=&proof=     suspect-product alerts
//! GET /v1/supply/holdings?gtin=&lot=&custodian=&in_chain=&from=&limit=&proof=
//!                                                             where a lot's units are
//! GET /v1/supply/lineage?scan=&proof=                         a unit's ancestry
//! ```

use crate::routes::{Backend, HttpResult, ProblemResponse};
use axum::{
    Json,
    extract::{Query, State},
};
use medchain_types::{
    PartyId,
    api::{LineageResponse, LotHoldingsResponse, Problem, SupplyAlertsResponse},
    gs1::Gtin,
};

fn bad(code: &str, detail: String) -> ProblemResponse {
    ProblemResponse(Problem::new(400, code, detail))
}

fn party(name: &str, text: &str) -> Result<PartyId, ProblemResponse> {
    PartyId::from_hex(text).map_err(|err| {
        bad(
            "invalid_party_id",
            format!("{name} must be a party id (64 hex digits): {err}"),
        )
    })
}

#[derive(serde::Deserialize)]
pub(crate) struct AlertsQuery {
    manufacturer: Option<String>,
    #[serde(default)]
    from: u64,
    limit: Option<u64>,
    #[serde(default)]
    proof: bool,
}

/// `GET /v1/supply/alerts`: a manufacturer's alerts, or every alert (no `manufacturer`).
pub(crate) async fn alerts<B: Backend>(
    State(backend): State<B>,
    Query(query): Query<AlertsQuery>,
) -> HttpResult<Json<SupplyAlertsResponse>> {
    let manufacturer = query
        .manufacturer
        .as_deref()
        .map(|text| party("manufacturer", text))
        .transpose()?;
    Ok(Json(
        backend
            .supply_alerts(
                manufacturer,
                query.from,
                query.limit.unwrap_or(100),
                query.proof,
            )
            .await?,
    ))
}

#[derive(serde::Deserialize)]
pub(crate) struct HoldingsQuery {
    gtin: String,
    lot: String,
    custodian: Option<String>,
    #[serde(default)]
    in_chain: bool,
    #[serde(default)]
    from: u64,
    limit: Option<u64>,
    #[serde(default)]
    proof: bool,
}

/// What a holdings query asks: the pure query's own question.
pub use medchain_state::supply::query::HoldingsQuery as Holdings;

/// `GET /v1/supply/holdings`: where the units of a lot are.
pub(crate) async fn holdings<B: Backend>(
    State(backend): State<B>,
    Query(query): Query<HoldingsQuery>,
) -> HttpResult<Json<LotHoldingsResponse>> {
    let gtin = Gtin::parse(&query.gtin).map_err(|err| bad("invalid_gtin", err.to_string()))?;
    // The lot names a state key and is echoed in answers: the same rule as in operations.
    medchain_types::supply::check_gs1_text("lot", &query.lot)
        .map_err(|err| bad("invalid_lot", err.to_string()))?;
    let custodian = query
        .custodian
        .as_deref()
        .map(|text| party("custodian", text))
        .transpose()?;
    Ok(Json(
        backend
            .lot_holdings(Holdings {
                gtin,
                lot: query.lot,
                custodian,
                in_chain_only: query.in_chain,
                from: query.from,
                limit: query.limit.unwrap_or(1_000),
                proof: query.proof,
            })
            .await?,
    ))
}

#[derive(serde::Deserialize)]
pub(crate) struct LineageQuery {
    scan: String,
    #[serde(default)]
    proof: bool,
}

/// `GET /v1/supply/lineage`: a unit's ancestry.
pub(crate) async fn lineage<B: Backend>(
    State(backend): State<B>,
    Query(query): Query<LineageQuery>,
) -> HttpResult<Json<LineageResponse>> {
    Ok(Json(backend.lineage(query.scan, query.proof).await?))
}
