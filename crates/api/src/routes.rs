//! Routes and handlers.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use medchain_types::{
    PartyId, SignedTransaction, TxHash,
    api::{
        BatchItem, BatchResponse, BlockResponse, Problem, StateResponse, StatusResponse, TxState,
        TxStatusResponse,
    },
};
use serde::Deserialize;
use std::{future::Future, time::Duration};

/// What the API needs from a node.
pub trait Backend: Clone + Send + Sync + 'static {
    fn status(&self) -> StatusResponse;
    fn submit(&self, tx: SignedTransaction)
    -> impl Future<Output = Result<TxHash, Problem>> + Send;
    fn submit_many(
        &self,
        txs: Vec<SignedTransaction>,
    ) -> impl Future<Output = Vec<Result<TxHash, Problem>>> + Send;
    fn tx_status(
        &self,
        hash: TxHash,
    ) -> impl Future<Output = Result<TxStatusResponse, Problem>> + Send;
    fn block(&self, height: u64) -> impl Future<Output = Result<BlockResponse, Problem>> + Send;
    fn state(
        &self,
        key: Vec<u8>,
        proof: bool,
    ) -> impl Future<Output = Result<StateResponse, Problem>> + Send;
    fn credential_check(
        &self,
        party: PartyId,
        credential_type: medchain_types::credential::CredentialType,
        jurisdiction: Option<medchain_types::credential::Jurisdiction>,
        at_ms: Option<u64>,
        proof: bool,
    ) -> impl Future<Output = Result<medchain_types::api::CredentialCheckResponse, Problem>> + Send;
    /// The verdict on a scanned pack, case or pallet (public).
    fn verify_pack(
        &self,
        scan: String,
        proof: bool,
    ) -> impl Future<Output = Result<medchain_types::api::VerifyPackResponse, Problem>> + Send;
    /// A page of suspect-product alerts: a manufacturer's, or everyone's.
    fn supply_alerts(
        &self,
        manufacturer: Option<PartyId>,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> impl Future<Output = Result<medchain_types::api::SupplyAlertsResponse, Problem>> + Send;
    /// Where the units of a lot are.
    fn lot_holdings(
        &self,
        query: crate::supply::Holdings,
    ) -> impl Future<Output = Result<medchain_types::api::LotHoldingsResponse, Problem>> + Send;
    /// A unit's ancestry through transformations.
    fn lineage(
        &self,
        scan: String,
        proof: bool,
    ) -> impl Future<Output = Result<medchain_types::api::LineageResponse, Problem>> + Send;
    /// An EPCIS SimpleEventQuery: the EPCISQueryDocument and the next page's token, with
    /// what it rests on when `proof` is set.
    fn epcis_query(
        &self,
        params: Vec<(String, String)>,
        proof: bool,
    ) -> impl Future<Output = Result<medchain_types::api::EpcisEventsAnswer, Problem>> + Send;
    /// An EPCIS capture for a custodial account: each event's hash id and transaction.
    fn epcis_capture(
        &self,
        signer: PartyId,
        keypair: medchain_types::keys::Keypair,
        document: serde_json::Value,
    ) -> impl Future<Output = Result<(Vec<String>, Vec<medchain_types::TxHash>), Problem>> + Send;
    /// Prometheus text exposition of the node's metrics.
    fn metrics(&self) -> String;
    /// Whether the node is ready to serve (its databases are open and it follows the chain).
    fn ready(&self) -> bool;
    /// Finalized heights, as they happen.
    fn finalized(&self) -> tokio::sync::watch::Receiver<u64>;
    /// A party as in finalized state (its current keys).
    fn party(
        &self,
        party: PartyId,
    ) -> impl Future<Output = Result<Option<medchain_types::identity::Party>, Problem>> + Send;
    /// Stores sealed content (custodians only).
    fn upload_blob(
        &self,
        uploader: PartyId,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<medchain_types::api::BlobUploadResponse, Problem>> + Send;
    /// Stores a wrapped data key (custodians only).
    fn put_wrapped_key(
        &self,
        uploader: PartyId,
        record: medchain_types::records::RecordId,
        version: u32,
        recipient: PartyId,
        wrapped: Vec<u8>,
    ) -> impl Future<Output = Result<(), Problem>> + Send;
    /// A page of a patient's records, grants, access log or break-glass declarations.
    fn patient_list(
        &self,
        kind: String,
        patient: PartyId,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> impl Future<Output = Result<medchain_types::api::PatientListResponse, Problem>> + Send;
    /// The accounting of disclosures of a patient for `[from_ms, to_ms)`.
    fn disclosures(
        &self,
        patient: PartyId,
        from_ms: u64,
        to_ms: u64,
    ) -> impl Future<Output = Result<medchain_types::disclosures::DisclosureReport, Problem>> + Send;
    /// A record and its versions.
    fn record_history(
        &self,
        record: medchain_types::records::RecordId,
    ) -> impl Future<Output = Result<serde_json::Value, Problem>> + Send;
    /// The organisation whose custodial accounts this node keeps, if it keeps any.
    fn custodial_organisation(&self) -> Option<PartyId>;
    /// Opens a custodial account (keys made and sealed by the node) for a user.
    fn account_invite(
        &self,
        invite: medchain_types::api::AccountInvite,
    ) -> impl Future<Output = Result<medchain_types::api::AccountInvited, Problem>> + Send;
    /// Activates an invited account.
    fn account_activate(
        &self,
        activate: medchain_types::api::AccountActivate,
        source: Option<std::net::IpAddr>,
    ) -> impl Future<Output = Result<medchain_types::api::AccountEnrolled, Problem>> + Send;
    /// Checks a password and TOTP code; answers the account's keys. `source` is the peer
    /// address, which attempts are limited and locked out by.
    fn account_sign_in(
        &self,
        username: String,
        password: String,
        totp: String,
        source: Option<std::net::IpAddr>,
    ) -> impl Future<Output = Result<medchain_envelope::PartySecrets, Problem>> + Send;
    /// Changes an account's password; answers its party.
    fn account_change_password(
        &self,
        change: medchain_types::api::PasswordChange,
        source: Option<std::net::IpAddr>,
    ) -> impl Future<Output = Result<PartyId, Problem>> + Send;
    /// Resets an account's password and second factor with its recovery code.
    fn account_recover(
        &self,
        recover: medchain_types::api::AccountRecover,
        source: Option<std::net::IpAddr>,
    ) -> impl Future<Output = Result<medchain_types::api::AccountEnrolled, Problem>> + Send;
    /// The node's custodial accounts, without secrets.
    fn accounts(
        &self,
    ) -> impl Future<Output = Result<Vec<medchain_types::api::AccountSummary>, Problem>> + Send;
    /// Runs an audited read (custodians only).
    fn read_record(
        &self,
        reader: PartyId,
        record: medchain_types::records::RecordId,
        tx: SignedTransaction,
    ) -> impl Future<Output = Result<medchain_types::api::RecordReadResponse, Problem>> + Send;
}

/// A problem as an HTTP response.
pub(crate) struct ProblemResponse(pub(crate) Problem);

impl IntoResponse for ProblemResponse {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            serde_json::to_vec(&self.0).unwrap_or_default(),
        )
            .into_response()
    }
}

impl From<Problem> for ProblemResponse {
    fn from(problem: Problem) -> Self {
        Self(problem)
    }
}

pub(crate) type HttpResult<T> = Result<T, ProblemResponse>;

fn bad_request(code: &str, detail: impl Into<String>) -> ProblemResponse {
    ProblemResponse(Problem::new(400, code, detail))
}

/// Builds the router.
pub fn router<B: Backend>(backend: B) -> Router {
    router_for(backend, crate::auth::Auth::default())
}

/// [`router`] for a node reached by `authorities` (`host:port`): a signed request must be
/// signed for one of them.
pub fn router_with_authorities<B: Backend>(backend: B, authorities: Vec<String>) -> Router {
    router_for(backend, crate::auth::Auth::for_authorities(authorities))
}

fn router_for<B: Backend>(backend: B, auth: crate::auth::Auth) -> Router {
    Router::new()
        .route("/v1/status", get(status::<B>))
        .route("/v1/transactions", post(submit::<B>))
        .route("/v1/transactions/batch", post(submit_batch::<B>))
        .route("/v1/transactions/{hash}", get(tx_status::<B>))
        .route("/v1/blocks/latest", get(latest_block::<B>))
        .route("/v1/blocks/{height}", get(block::<B>))
        .route("/v1/state/{*key}", get(state::<B>))
        .route("/v1/parties/{id}", get(party::<B>))
        .route("/v1/credentials/check", get(credential_check::<B>))
        .route("/v1/supply/verify", get(verify_pack::<B>))
        .route("/v1/supply/alerts", get(crate::supply::alerts::<B>))
        .route("/v1/supply/holdings", get(crate::supply::holdings::<B>))
        .route("/v1/supply/lineage", get(crate::supply::lineage::<B>))
        .route("/v1/credentials/{id}", get(credential::<B>))
        .route("/v1/blobs", post(crate::records::upload_blob::<B>))
        .route(
            "/v1/records/{id}/versions/{version}/keys/{recipient}",
            axum::routing::put(crate::records::put_key::<B>),
        )
        .route("/v1/records/{id}/read", post(crate::records::read::<B>))
        .route("/v1/sessions", post(crate::auth::open_session::<B>))
        .route(
            "/v1/sessions/{id}",
            axum::routing::delete(crate::auth::end_session::<B>),
        )
        .route(
            "/v1/custodial/accounts",
            get(crate::custodial::list::<B>).post(crate::custodial::invite::<B>),
        )
        .route(
            "/v1/custodial/activate",
            post(crate::custodial::activate::<B>),
        )
        .route(
            "/v1/custodial/sign-in",
            post(crate::custodial::sign_in::<B>),
        )
        .route(
            "/v1/custodial/password",
            post(crate::custodial::change_password::<B>),
        )
        .route(
            "/v1/custodial/recover",
            post(crate::custodial::recover::<B>),
        )
        .route(
            "/v1/custodial/transactions",
            post(crate::custodial::sign_transaction::<B>),
        )
        .route(
            "/v1/custodial/wrapped-key-signatures",
            post(crate::custodial::sign_wrapped_key::<B>),
        )
        .route("/v1/custodial/unwrap", post(crate::custodial::unwrap::<B>))
        .route("/v1/records/{id}", get(crate::records::history::<B>))
        .route(
            "/v1/patients/{id}/disclosures",
            get(crate::records::disclosures::<B>),
        )
        .route(
            "/v1/patients/{id}/{list}",
            get(crate::records::patient_list::<B>),
        )
        .route("/epcis/events", get(crate::epcis::events::<B>))
        .route("/epcis/capture", post(crate::epcis::capture::<B>))
        .route(
            "/epcis/capture/{captureID}",
            get(crate::epcis::capture_job::<B>),
        )
        .route("/v1/openapi.json", get(openapi_document))
        .route("/v1/docs", get(docs))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<B>))
        .route("/metrics", get(metrics::<B>))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(crate::BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn(errors_are_problems))
        .layer(axum::middleware::from_fn(refuse_oversized))
        .layer(axum::Extension(std::sync::Arc::new(auth)))
        .layer(axum::Extension(std::sync::Arc::new(
            crate::epcis::CaptureJobs::default(),
        )))
        .with_state(backend)
}

/// Most bytes of a framework rejection's text a problem repeats as its detail.
const REJECTION_TEXT_MAX: usize = 1024;

/// Every error is an RFC 9457 problem: an answer of 400 or more whose body is not JSON (the
/// framework's own rejections of a path, query or body it cannot parse, which it writes as
/// `text/plain`; a method the route does not take) becomes `application/problem+json`, with
/// the framework's words as the detail and a code naming the status. JSON answers (problems,
/// and the transaction statuses some refusals carry) pass as they are.
async fn errors_are_problems(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let media = value.split(';').next().unwrap_or_default().trim();
            media == "application/json" || media.ends_with("+json")
        });
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, REJECTION_TEXT_MAX * 4).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let mut detail: String = text.chars().take(REJECTION_TEXT_MAX).collect();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        _ if status.is_server_error() => "internal",
        _ => "request_refused",
    };
    if detail.is_empty() {
        detail = match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                let allowed = parts
                    .headers
                    .get(header::ALLOW)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                format!("this endpoint takes {allowed}; see /v1/openapi.json")
            }
            _ => status
                .canonical_reason()
                .unwrap_or("the request was refused")
                .to_string(),
        };
    }
    let mut problem = ProblemResponse(Problem::new(status.as_u16(), code, detail)).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

/// Refuses a request whose announced length is over the body limit before reading any of it.
async fn refuse_oversized(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(length) = announced
        && length > crate::BODY_BYTES_MAX as u64
    {
        let mut response = ProblemResponse(Problem::new(
            413,
            "too_large",
            format!(
                "the request body is {length} bytes; the limit is {} bytes",
                crate::BODY_BYTES_MAX
            ),
        ))
        .into_response();
        // The unread body makes the connection unusable for another request.
        response.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return response;
    }
    next.run(request).await
}

async fn not_found() -> ProblemResponse {
    ProblemResponse(Problem::new(
        404,
        "not_found",
        "no such endpoint; see /v1/openapi.json",
    ))
}

async fn status<B: Backend>(State(backend): State<B>) -> Json<StatusResponse> {
    Json(backend.status())
}

#[derive(Deserialize)]
struct SubmitQuery {
    /// Wait for the transaction to commit or be rejected.
    #[serde(default)]
    wait: bool,
    /// How long to wait, in milliseconds (default 10 000, at most 60 000).
    wait_ms: Option<u64>,
}

/// A request body that could not be read, as a problem.
fn body_problem(rejection: BytesRejection) -> ProblemResponse {
    let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        "too_large"
    } else {
        "bad_body"
    };
    ProblemResponse(Problem::new(
        rejection.status().as_u16(),
        code,
        format!(
            "{rejection} (the request body limit is {} bytes)",
            crate::BODY_BYTES_MAX
        ),
    ))
}

/// The request's content type (JSON when absent).
fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/json")
}

async fn submit<B: Backend>(
    State(backend): State<B>,
    Query(query): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> HttpResult<Response> {
    let body = body.map_err(body_problem)?;
    let content_type = content_type(&headers);
    let tx = if content_type.starts_with("application/octet-stream") {
        SignedTransaction::decode_canonical(&body).map_err(|err| match err {
            medchain_types::StatelessError::TooLarge { .. } => {
                ProblemResponse(Problem::new(413, "too_large", err.to_string()))
            }
            _ => bad_request("malformed", err.to_string()),
        })?
    } else if content_type.starts_with("application/json") {
        if body.len() > medchain_types::limits::TRANSACTION_BYTES_MAX * 4 {
            return Err(ProblemResponse(Problem::new(
                413,
                "too_large",
                format!(
                    "a JSON transaction is at most {} bytes",
                    medchain_types::limits::TRANSACTION_BYTES_MAX * 4
                ),
            )));
        }
        serde_json::from_slice::<SignedTransaction>(&body)
            .map_err(|err| bad_request("malformed", format!("invalid transaction JSON: {err}")))?
    } else {
        return Err(ProblemResponse(Problem::new(
            415,
            "unsupported_media_type",
            format!("send application/json or application/octet-stream, not {content_type}"),
        )));
    };
    let mut finalized = backend.finalized();
    let hash = backend.submit(tx).await?;
    let mut answer = backend.tx_status(hash).await?;
    if query.wait {
        let wait = Duration::from_millis(query.wait_ms.unwrap_or(10_000).min(60_000));
        let deadline = tokio::time::Instant::now() + wait;
        // Right after an accepted submission, "unknown" can only be the moment between the
        // pool letting go of the transaction and its block's state becoming readable here, so
        // it is waited out like "pending".
        while matches!(answer.status, TxState::Pending | TxState::Unknown) {
            let changed = tokio::time::timeout_at(
                deadline,
                tokio::time::timeout(Duration::from_millis(100), finalized.changed()),
            )
            .await;
            if changed.is_err() {
                break;
            }
            answer = backend.tx_status(hash).await?;
        }
    }
    let code = match answer.status {
        TxState::Committed => StatusCode::OK,
        TxState::Denied => StatusCode::FORBIDDEN,
        TxState::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::ACCEPTED,
    };
    Ok((code, Json(answer)).into_response())
}

/// Most transactions in one batch submission.
pub const BATCH_TRANSACTIONS_MAX: usize = 10_000;

/// Parses a JSON array of signed transactions, refusing it (413) as soon as it holds more
/// than [`BATCH_TRANSACTIONS_MAX`].
fn bounded_json_batch(body: &[u8]) -> Result<Vec<SignedTransaction>, ProblemResponse> {
    struct Bounded;
    impl<'de> serde::de::Visitor<'de> for Bounded {
        type Value = Vec<SignedTransaction>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(
                f,
                "an array of at most {BATCH_TRANSACTIONS_MAX} signed transactions"
            )
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut txs = Vec::new();
            while let Some(tx) = seq.next_element()? {
                if txs.len() == BATCH_TRANSACTIONS_MAX {
                    return Err(serde::de::Error::custom(TOO_MANY));
                }
                txs.push(tx);
            }
            Ok(txs)
        }
    }
    const TOO_MANY: &str = "too many transactions";
    let mut parser = serde_json::Deserializer::from_slice(body);
    let parsed = serde::Deserializer::deserialize_seq(&mut parser, Bounded)
        .and_then(|txs| parser.end().map(|()| txs));
    parsed.map_err(|err| {
        if err.to_string().starts_with(TOO_MANY) {
            ProblemResponse(Problem::new(
                413,
                "too_large",
                format!("a batch holds at most {BATCH_TRANSACTIONS_MAX} transactions"),
            ))
        } else {
            bad_request(
                "malformed",
                format!("invalid transaction batch JSON: {err}"),
            )
        }
    })
}

async fn submit_batch<B: Backend>(
    State(backend): State<B>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> HttpResult<Json<BatchResponse>> {
    let body = body.map_err(body_problem)?;
    let content_type = content_type(&headers);
    let txs: Vec<SignedTransaction> = if content_type.starts_with("application/octet-stream") {
        use commonware_codec::{Decode as _, RangeCfg};
        Vec::<SignedTransaction>::decode_cfg(body, &(RangeCfg::new(0..=BATCH_TRANSACTIONS_MAX), ()))
            .map_err(|err| {
                bad_request(
                    "malformed",
                    format!("invalid transaction batch (at most {BATCH_TRANSACTIONS_MAX}): {err}"),
                )
            })?
    } else if content_type.starts_with("application/json") {
        // The count is bounded while parsing: a batch over it stops being parsed at its
        // first transaction too many, rather than after the whole body.
        bounded_json_batch(&body)?
    } else {
        return Err(ProblemResponse(Problem::new(
            415,
            "unsupported_media_type",
            format!("send application/json or application/octet-stream, not {content_type}"),
        )));
    };
    if let Some(big) = txs.iter().find(|tx| {
        commonware_codec::EncodeSize::encode_size(*tx)
            > medchain_types::limits::TRANSACTION_BYTES_MAX
    }) {
        return Err(ProblemResponse(Problem::new(
            413,
            "too_large",
            format!(
                "transaction {} is over the {}-byte limit",
                big.hash(),
                medchain_types::limits::TRANSACTION_BYTES_MAX
            ),
        )));
    }
    let hashes: Vec<TxHash> = txs.iter().map(SignedTransaction::hash).collect();
    let outcomes = backend.submit_many(txs).await;
    let results: Vec<BatchItem> = hashes
        .into_iter()
        .zip(outcomes)
        .map(|(hash, outcome)| BatchItem {
            hash,
            problem: outcome.err(),
        })
        .collect();
    let refused = results.iter().filter(|item| item.problem.is_some()).count();
    Ok(Json(BatchResponse {
        accepted: results.len() - refused,
        refused,
        results,
    }))
}

async fn tx_status<B: Backend>(
    State(backend): State<B>,
    Path(hash): Path<String>,
) -> HttpResult<Json<TxStatusResponse>> {
    let hash =
        TxHash::from_hex(&hash).map_err(|err| bad_request("invalid_hash", err.to_string()))?;
    Ok(Json(backend.tx_status(hash).await?))
}

async fn latest_block<B: Backend>(State(backend): State<B>) -> HttpResult<Json<BlockResponse>> {
    let height = backend.status().latest.height;
    Ok(Json(backend.block(height).await?))
}

async fn block<B: Backend>(
    State(backend): State<B>,
    Path(height): Path<String>,
) -> HttpResult<Json<BlockResponse>> {
    let height: u64 = height.parse().map_err(|_| {
        bad_request(
            "invalid_height",
            format!("height must be a number, found {height:?}"),
        )
    })?;
    Ok(Json(backend.block(height).await?))
}

#[derive(Deserialize)]
struct ProofQuery {
    #[serde(default)]
    proof: bool,
}

async fn state<B: Backend>(
    State(backend): State<B>,
    Path(key): Path<String>,
    Query(query): Query<ProofQuery>,
) -> HttpResult<Json<StateResponse>> {
    let raw = medchain_state::keys::parse(&key)
        .map_err(|err| bad_request("invalid_key", err.to_string()))?;
    if raw.len() > medchain_types::limits::STATE_KEY_BYTES_MAX {
        return Err(bad_request("invalid_key", "key too long"));
    }
    Ok(Json(backend.state(raw, query.proof).await?))
}

async fn party<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    Query(query): Query<ProofQuery>,
) -> HttpResult<Json<StateResponse>> {
    let id =
        PartyId::from_hex(&id).map_err(|err| bad_request("invalid_party_id", err.to_string()))?;
    let answer = backend
        .state(medchain_state::keys::party(&id), query.proof)
        .await?;
    if answer.value.is_none() && !query.proof {
        return Err(ProblemResponse(Problem::new(
            404,
            "unknown_party",
            format!("no party {id}"),
        )));
    }
    Ok(Json(answer))
}

#[derive(Deserialize)]
struct CheckQuery {
    party: String,
    #[serde(rename = "type")]
    credential_type: String,
    jurisdiction: Option<String>,
    at_ms: Option<u64>,
    #[serde(default)]
    proof: bool,
}

async fn credential_check<B: Backend>(
    State(backend): State<B>,
    Query(query): Query<CheckQuery>,
) -> HttpResult<Json<medchain_types::api::CredentialCheckResponse>> {
    let party = PartyId::from_hex(&query.party)
        .map_err(|err| bad_request("invalid_party_id", err.to_string()))?;
    let credential_type = medchain_types::credential::CredentialType::new(query.credential_type)
        .map_err(|err| bad_request("invalid_credential_type", err.to_string()))?;
    let jurisdiction = query
        .jurisdiction
        .map(medchain_types::credential::Jurisdiction::new)
        .transpose()
        .map_err(|err| bad_request("invalid_jurisdiction", err.to_string()))?;
    Ok(Json(
        backend
            .credential_check(
                party,
                credential_type,
                jurisdiction,
                query.at_ms,
                query.proof,
            )
            .await?,
    ))
}

#[derive(Deserialize)]
struct VerifyQuery {
    scan: String,
    #[serde(default)]
    proof: bool,
}

/// `GET /v1/supply/verify?scan=...`: anyone checks a pack; no account needed.
async fn verify_pack<B: Backend>(
    State(backend): State<B>,
    Query(query): Query<VerifyQuery>,
) -> HttpResult<Json<medchain_types::api::VerifyPackResponse>> {
    Ok(Json(backend.verify_pack(query.scan, query.proof).await?))
}

async fn credential<B: Backend>(
    State(backend): State<B>,
    Path(id): Path<String>,
    Query(query): Query<ProofQuery>,
) -> HttpResult<Json<StateResponse>> {
    let id = medchain_types::credential::CredentialId::from_hex(&id)
        .map_err(|err| bad_request("invalid_credential_id", err.to_string()))?;
    let answer = backend
        .state(
            medchain_state::credentials::credential_key(&id),
            query.proof,
        )
        .await?;
    if answer.value.is_none() && !query.proof {
        return Err(ProblemResponse(Problem::new(
            404,
            "unknown_credential",
            format!("no credential {id}"),
        )));
    }
    Ok(Json(answer))
}

async fn openapi_document() -> impl IntoResponse {
    Json(crate::openapi())
}

async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz<B: Backend>(State(backend): State<B>) -> Response {
    if backend.ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        ProblemResponse(Problem::new(503, "not_ready", "the node is starting")).into_response()
    }
}

async fn metrics<B: Backend>(State(backend): State<B>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        backend.metrics(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 16, low): a JSON batch over the count is refused as too large once
    /// its first transaction too many is read, and one within it parses.
    #[test]
    fn a_json_batch_is_bounded_while_it_is_parsed() {
        let keypair = medchain_types::dev::keypair("hospital");
        let tx = medchain_types::Transaction {
            chain_id: medchain_types::ChainId::new("medchain-test").expect("a chain id"),
            signer: medchain_types::dev::party_id("hospital"),
            public_key: keypair.public_key(),
            nonce: 0,
            body: medchain_types::TxBody::Attest {
                subject: medchain_types::Hash32::ZERO,
                digest: medchain_types::Hash32::ZERO,
            },
        }
        .sign(&keypair);
        let one = serde_json::to_string(&tx).expect("json");
        let batch = |n: usize| format!("[{}]", vec![one.as_str(); n].join(","));
        assert_eq!(
            bounded_json_batch(batch(3).as_bytes())
                .map(|txs| txs.len())
                .ok(),
            Some(3)
        );
        // Over the count, with a tail that is not even JSON: refused for its size, so the
        // parser stopped before the tail.
        let over = format!(
            "{},{} garbage",
            &batch(BATCH_TRANSACTIONS_MAX)[..batch(BATCH_TRANSACTIONS_MAX).len() - 1],
            one
        );
        let refused = bounded_json_batch(over.as_bytes()).expect_err("too many");
        assert_eq!(
            (refused.0.status, refused.0.code.as_str()),
            (413, "too_large")
        );
        let refused = bounded_json_batch(b"[1, 2]").expect_err("not transactions");
        assert_eq!(refused.0.code, "malformed");
        let refused = bounded_json_batch(format!("{} trailing", batch(1)).as_bytes())
            .expect_err("trailing bytes");
        assert_eq!(refused.0.code, "malformed");
    }
}
