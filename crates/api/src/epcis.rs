//! The EPCIS 2.0 REST interface (GS1 EPCIS 2.0, section 12) over the supply chain.
//!
//! ```text
//! GET  /epcis/events               SimpleEventQuery as query parameters (MATCH_anyEPC,
//!                                  MATCH_epc, MATCH_anyEPCClass, eventType, EQ_bizStep,
//!                                  GE_/LT_eventTime, GE_/LT_recordTime, perPage,
//!                                  nextPageToken): an EPCISQueryDocument; public. With
//!                                  proof=true: JSON holding the document, its next page's
//!                                  token and every state entry, transaction and block
//!                                  finality it rests on, for a client to rebuild it
//! POST /epcis/capture              session-signed by a custodial account: an EPCISDocument,
//!                                  signed as the account's transactions and submitted
//!                                  together if every one would apply; 202 and a Location
//! GET  /epcis/capture/{captureID}  the capture job: running, success, errors
//! ```
//!
//! Parties that keep their own keys capture through the SDK
//! (`medchain_client::supply::capture_transactions`), which turns the same document into the
//! same transactions and signs them locally.

use crate::{
    auth::{Auth, unix_now},
    routes::{Backend, HttpResult, ProblemResponse},
};
use axum::{
    Extension,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use medchain_types::{
    TxHash,
    api::{
        EpcisCaptureAccepted, EpcisCaptureError, EpcisCaptureEvent, EpcisCaptureJob, Problem,
        TxState,
    },
};
use serde_json::{Value, json};
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

/// Capture jobs a node remembers (the most recent).
pub const CAPTURE_JOBS_MAX: usize = 4_096;

/// A capture job: the transactions of its events.
#[derive(Clone, Debug)]
struct Job {
    id: String,
    created_ms: u64,
    event_ids: Vec<String>,
    transactions: Vec<TxHash>,
}

/// The capture jobs of a node, newest last.
#[derive(Debug, Default)]
pub struct CaptureJobs(Mutex<VecDeque<Job>>);

fn versions(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert("GS1-EPCIS-Version", HeaderValue::from_static("2.0"));
    headers.insert("GS1-CBV-Version", HeaderValue::from_static("2.0"));
}

fn ld_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/ld+json")],
        body.to_string(),
    )
        .into_response();
    versions(&mut response);
    response
}

/// `GET /epcis/events`.
pub(crate) async fn events<B: Backend>(
    State(backend): State<B>,
    RawQuery(raw): RawQuery,
) -> HttpResult<Response> {
    let mut params = medchain_formats::uri::decode_query(raw.as_deref().unwrap_or_default());
    // `proof` is medchain's, not EPCIS's: the answer is then served whole, as JSON, with what
    // it rests on.
    let mut proof = false;
    let mut refused = None;
    params.retain(|(name, value)| {
        if name != "proof" {
            return true;
        }
        match value.as_str() {
            "true" => proof = true,
            "false" => {}
            other => refused = Some(other.to_string()),
        }
        false
    });
    if let Some(value) = refused {
        return Err(ProblemResponse(Problem::new(
            400,
            "query_parameter",
            format!("proof is true or false, found {value:?}"),
        )));
    }
    let answer = backend.epcis_query(params.clone(), proof).await?;
    if proof {
        let mut response = axum::Json(answer).into_response();
        versions(&mut response);
        return Ok(response);
    }
    let mut response = ld_json(StatusCode::OK, &answer.document);
    if let Some(token) = answer.next_page_token {
        let query = medchain_formats::uri::encode_query(
            params
                .iter()
                .filter(|(name, _)| name != "nextPageToken")
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .chain([("nextPageToken", token.as_str())]),
        );
        let link = format!("</epcis/events?{query}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// `POST /epcis/capture`.
pub(crate) async fn capture<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    Extension(jobs): Extension<Arc<CaptureJobs>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    let keys = crate::custodial::session_keys(&backend, &auth, &method, &uri, &headers, &body)
        .await
        .map_err(|refusal| match refusal.0.code.as_str() {
            // Signed, but not as a custodial account: say how else to capture. A request
            // that fails authentication keeps its own answer.
            "not_custodial" => ProblemResponse(Problem::new(
                403,
                "not_custodial",
                "POST /epcis/capture signs for a custodial account: sign the request under a session opened with POST /v1/custodial/sign-in. A party with its own key captures with the SDK (medchain_client::supply::capture_transactions), which signs locally",
            )),
            _ => refusal,
        })?;
    if let Some(behaviour) = headers.get("GS1-Capture-Error-Behaviour")
        && behaviour.as_bytes() != b"rollback"
    {
        return Err(ProblemResponse(Problem::new(
            501,
            "capture_error_behaviour",
            "medchain captures all or nothing (GS1-Capture-Error-Behaviour: rollback): every event is checked against state before any is submitted",
        )));
    }
    let document: Value = serde_json::from_slice(&body).map_err(|err| {
        ProblemResponse(Problem::new(
            400,
            "malformed",
            format!("the body must be an EPCIS 2.0 JSON document: {err}"),
        ))
    })?;
    let (event_ids, transactions) = backend
        .epcis_capture(keys.party(), keys.keypair(), document)
        .await?;
    let id = medchain_types::hash::hash_parts(
        b"medchain/epcis/capture",
        &transactions
            .iter()
            .map(|t| t.0.as_slice())
            .collect::<Vec<_>>(),
    )
    .to_hex()[..32]
        .to_string();
    let job = Job {
        id: id.clone(),
        created_ms: unix_now() * 1000,
        event_ids: event_ids.clone(),
        transactions: transactions.clone(),
    };
    {
        let mut jobs = jobs.0.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.len() >= CAPTURE_JOBS_MAX {
            jobs.pop_front();
        }
        jobs.push_back(job);
    }
    let accepted = EpcisCaptureAccepted {
        capture_id: id.clone(),
        event_ids,
        transactions,
    };
    let mut response = ld_json(StatusCode::ACCEPTED, &json!(accepted));
    if let Ok(location) = HeaderValue::from_str(&format!("/epcis/capture/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /epcis/capture/{captureID}`.
pub(crate) async fn capture_job<B: Backend>(
    State(backend): State<B>,
    Extension(jobs): Extension<Arc<CaptureJobs>>,
    Path(id): Path<String>,
) -> HttpResult<Response> {
    let job = {
        let jobs = jobs.0.lock().unwrap_or_else(|p| p.into_inner());
        jobs.iter().find(|job| job.id == id).cloned()
    };
    let Some(job) = job else {
        return Err(ProblemResponse(Problem::new(
            404,
            "capture_not_found",
            format!("this node has no capture job {id} (it remembers its last {CAPTURE_JOBS_MAX})"),
        )));
    };
    let mut running = false;
    let mut errors = Vec::new();
    let mut events = Vec::new();
    for (i, (tx, event_id)) in job.transactions.iter().zip(&job.event_ids).enumerate() {
        let status = backend.tx_status(*tx).await?;
        match status.status {
            TxState::Pending => running = true,
            TxState::Committed => {}
            _ => errors.push(EpcisCaptureError {
                kind: "epcisException:ValidationException".into(),
                title: format!("event {i} was not recorded"),
                status: status.status,
                detail: status
                    .rejection
                    .map(|r| format!("{}: {}", r.code, r.reason))
                    .unwrap_or_default(),
                instance: *tx,
            }),
        }
        events.push(EpcisCaptureEvent {
            event_id: event_id.clone(),
            transaction: *tx,
            status: status.status,
        });
    }
    let body = EpcisCaptureJob {
        capture_id: job.id,
        created_at: medchain_types::time::rfc3339(job.created_ms),
        running,
        success: (!running).then_some(errors.is_empty()),
        capture_error_behaviour: "rollback".into(),
        errors,
        events,
    };
    Ok(ld_json(StatusCode::OK, &json!(body)))
}
