//! The custodian endpoints: uploads of sealed content and wrapped keys, and audited reads
//! (all signed, see [`crate::auth`]), and the public views of records and patients' lists.

use crate::{
    auth::{Auth, authenticate},
    routes::{Backend, HttpResult, ProblemResponse},
};
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use medchain_types::{
    PartyId, SignedTransaction,
    api::{BlobUploadResponse, Problem, RecordReadResponse},
    records::RecordId,
};
use std::sync::Arc;

fn parse_record(id: &str) -> Result<RecordId, ProblemResponse> {
    RecordId::from_hex(id)
        .map_err(|err| ProblemResponse(Problem::new(400, "invalid_record_id", err.to_string())))
}

/// `POST /v1/blobs`: signed; the body is sealed content.
pub(crate) async fn upload_blob<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    let uploader = authenticate(&backend, &auth, &method, &uri, &headers, &body)
        .await?
        .party
        .id;
    if body.is_empty() {
        return Err(ProblemResponse(Problem::new(
            400,
            "empty_body",
            "the body is the sealed content",
        )));
    }
    let answer: BlobUploadResponse = backend.upload_blob(uploader, body.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `PUT /v1/records/{id}/versions/{version}/keys/{recipient}`: signed; the body is the
/// 80-byte wrapped key.
pub(crate) async fn put_key<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    Path((id, version, recipient)): Path<(String, u32, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let uploader = authenticate(&backend, &auth, &method, &uri, &headers, &body)
        .await?
        .party
        .id;
    let record = parse_record(&id)?;
    let recipient = PartyId::from_hex(&recipient)
        .map_err(|err| ProblemResponse(Problem::new(400, "invalid_party_id", err.to_string())))?;
    backend
        .put_wrapped_key(uploader, record, version, recipient, body.to_vec())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/records/{id}/read`: signed; the body is the reader's signed access transaction
/// (JSON). Answers the content and the reader's wrapped key if the chain granted the read.
pub(crate) async fn read<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Json<RecordReadResponse>> {
    let reader = authenticate(&backend, &auth, &method, &uri, &headers, &body)
        .await?
        .party
        .id;
    let record = parse_record(&id)?;
    let tx: SignedTransaction = serde_json::from_slice(&body).map_err(|err| {
        ProblemResponse(Problem::new(
            400,
            "malformed",
            format!("the body must be a signed access transaction (JSON): {err}"),
        ))
    })?;
    Ok(Json(backend.read_record(reader, record, tx).await?))
}

#[derive(serde::Deserialize)]
pub(crate) struct Page {
    #[serde(default)]
    from: u64,
    limit: Option<u64>,
    /// With every state entry the page rests on, proven at one height.
    #[serde(default)]
    proof: bool,
}

/// `GET /v1/patients/{id}/{records|grants|access-log|break-glass}?from=&limit=`: public, like
/// the state it pages through (pseudonymous ids, hashes and policies; never content).
pub(crate) async fn patient_list<B: Backend>(
    State(backend): State<B>,
    Path((id, list)): Path<(String, String)>,
    axum::extract::Query(page): axum::extract::Query<Page>,
) -> HttpResult<Json<medchain_types::api::PatientListResponse>> {
    let patient = PartyId::from_hex(&id)
        .map_err(|err| ProblemResponse(Problem::new(400, "invalid_party_id", err.to_string())))?;
    Ok(Json(
        backend
            .patient_list(
                list,
                patient,
                page.from,
                page.limit.unwrap_or(100),
                page.proof,
            )
            .await?,
    ))
}

#[derive(serde::Deserialize)]
pub(crate) struct Period {
    from: String,
    to: String,
    format: Option<String>,
}

fn instant(name: &str, text: &str) -> Result<u64, ProblemResponse> {
    medchain_types::time::parse_date(text)
        .or_else(|| medchain_types::time::parse_rfc3339(text))
        .ok_or_else(|| {
            ProblemResponse(Problem::new(
                400,
                "invalid_period",
                format!("{name} must be a date (2026-01-31) or an RFC 3339 time (2026-01-31T08:00:00Z), not {text:?}"),
            ))
        })
}

/// `GET /v1/patients/{id}/disclosures?from=&to=&format=json|html`: the accounting of
/// disclosures for `[from, to)`; public, like the access log it is built from.
pub(crate) async fn disclosures<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    axum::extract::Query(period): axum::extract::Query<Period>,
) -> HttpResult<Response> {
    let patient = PartyId::from_hex(&id)
        .map_err(|err| ProblemResponse(Problem::new(400, "invalid_party_id", err.to_string())))?;
    let (from_ms, to_ms) = (instant("from", &period.from)?, instant("to", &period.to)?);
    let html = match period.format.as_deref() {
        None | Some("json") => false,
        Some("html") => true,
        Some(other) => {
            return Err(ProblemResponse(Problem::new(
                400,
                "invalid_format",
                format!("format is json or html, not {other:?}"),
            )));
        }
    };
    let report = backend.disclosures(patient, from_ms, to_ms).await?;
    Ok(if html {
        axum::response::Html(report.to_html()).into_response()
    } else {
        Json(report).into_response()
    })
}

/// `GET /v1/records/{id}`: a record and every version, as anchored.
pub(crate) async fn history<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
) -> HttpResult<Json<serde_json::Value>> {
    Ok(Json(backend.record_history(parse_record(&id)?).await?))
}
