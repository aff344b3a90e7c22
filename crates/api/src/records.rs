//! Signed requests (RFC 9421) and the custodian endpoints: uploads of sealed content and
//! wrapped keys, and audited reads.

use crate::routes::{Backend, HttpResult, ProblemResponse};
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use medchain_types::{
    PartyId, SignedTransaction,
    api::{BlobUploadResponse, Problem, RecordReadResponse},
    httpsig,
    records::RecordId,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// How far ahead of the server's clock a signature's `created` may be.
pub const CLOCK_SKEW_SECS: u64 = 30;
/// Most nonces remembered at once (each for at most five minutes).
pub const NONCES_MAX: usize = 2_000_000;

/// Nonces of signatures still within their lifetime, so that none is accepted twice.
#[derive(Debug, Default)]
pub struct ReplayCache {
    seen: Mutex<Nonces>,
}

#[derive(Debug, Default)]
struct Nonces {
    expiries: HashMap<(PartyId, String), u64>,
    /// When expired nonces were last dropped (Unix seconds).
    pruned: u64,
}

impl ReplayCache {
    /// Records a nonce; refuses one already seen (a replay), or any when the cache is full.
    fn admit(&self, party: PartyId, nonce: String, expires: u64, now: u64) -> Result<(), Problem> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Dropping expired nonces walks the whole map: at most once a second, not per request.
        if seen.expiries.len() >= NONCES_MAX / 2 && seen.pruned < now {
            seen.expiries.retain(|_, expiry| *expiry > now);
            seen.pruned = now;
        }
        if seen.expiries.len() >= NONCES_MAX {
            return Err(Problem::new(
                503,
                "busy",
                "too many signed requests in flight; retry shortly",
            ));
        }
        if seen.expiries.insert((party, nonce), expires).is_some() {
            return Err(Problem::new(
                401,
                "replayed",
                "this signature's nonce was already used",
            ));
        }
        Ok(())
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks a request's RFC 9421 signature against the signer's current key on chain, and its
/// nonce against replays. Returns the signer.
pub(crate) async fn authenticate<B: Backend>(
    backend: &B,
    replay: &ReplayCache,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<PartyId, ProblemResponse> {
    let unauthorized =
        |code: &str, detail: String| ProblemResponse(Problem::new(401, code, detail));
    let authority = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or_default()
        .to_string();
    let request = httpsig::Request {
        method: method.as_str(),
        authority: &authority,
        path: uri.path(),
        query: uri.query(),
        headers: headers
            .iter()
            .filter_map(|(name, value)| {
                value
                    .to_str()
                    .ok()
                    .map(|value| (name.as_str().to_string(), value.to_string()))
            })
            .collect(),
    };
    let input = headers
        .get("signature-input")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            unauthorized(
                "unsigned",
                "this endpoint needs an RFC 9421 signature (Signature-Input and Signature, label medchain)"
                    .into(),
            )
        })?;
    let params = httpsig::parse_input(input, httpsig::LABEL)
        .map_err(|err| unauthorized("bad_signature", err.to_string()))?;
    let party = params
        .keyid
        .as_deref()
        .and_then(|keyid| PartyId::from_hex(keyid).ok())
        .ok_or_else(|| {
            unauthorized(
                "bad_signature",
                "keyid must be the signer's party id (hex)".into(),
            )
        })?;
    let key = backend
        .signing_key(party)
        .await?
        .ok_or_else(|| unauthorized("unknown_signer", format!("no party {party} on chain")))?;
    let now = unix_now();
    let policy = httpsig::Policy {
        now,
        skew_secs: CLOCK_SKEW_SECS,
    };
    let verified = httpsig::verify(&request, body, &policy, |p| (*p == party).then_some(key))
        .map_err(|err| {
            let code = match err {
                httpsig::HttpSigError::Stale(_) => "stale_signature",
                httpsig::HttpSigError::Missing(_) => "unsigned",
                httpsig::HttpSigError::DigestMismatch => "digest_mismatch",
                _ => "bad_signature",
            };
            unauthorized(code, err.to_string())
        })?;
    replay.admit(verified.party, verified.nonce, verified.expires, now)?;
    Ok(verified.party)
}

fn parse_record(id: &str) -> Result<RecordId, ProblemResponse> {
    RecordId::from_hex(id)
        .map_err(|err| ProblemResponse(Problem::new(400, "invalid_record_id", err.to_string())))
}

/// `POST /v1/blobs`: signed; the body is sealed content.
pub(crate) async fn upload_blob<B: Backend>(
    State(backend): State<B>,
    Extension(replay): Extension<Arc<ReplayCache>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    let uploader = authenticate(&backend, &replay, &method, &uri, &headers, &body).await?;
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
    Extension(replay): Extension<Arc<ReplayCache>>,
    Path((id, version, recipient)): Path<(String, u32, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let uploader = authenticate(&backend, &replay, &method, &uri, &headers, &body).await?;
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
    Extension(replay): Extension<Arc<ReplayCache>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Json<RecordReadResponse>> {
    let reader = authenticate(&backend, &replay, &method, &uri, &headers, &body).await?;
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
}

/// `GET /v1/patients/{id}/{records|grants|access-log|break-glass}?from=&limit=`: public, like
/// the state it pages through (pseudonymous ids, hashes and policies; never content).
pub(crate) async fn patient_list<B: Backend>(
    State(backend): State<B>,
    Path((id, list)): Path<(String, String)>,
    axum::extract::Query(page): axum::extract::Query<Page>,
) -> HttpResult<Json<serde_json::Value>> {
    let patient = PartyId::from_hex(&id)
        .map_err(|err| ProblemResponse(Problem::new(400, "invalid_party_id", err.to_string())))?;
    Ok(Json(
        backend
            .patient_list(list, patient, page.from, page.limit.unwrap_or(100))
            .await?,
    ))
}

/// `GET /v1/records/{id}`: a record and every version, as anchored.
pub(crate) async fn history<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
) -> HttpResult<Json<serde_json::Value>> {
    Ok(Json(backend.record_history(parse_record(&id)?).await?))
}
