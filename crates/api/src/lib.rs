//! medchain's HTTP API.
//!
//! ```text
//! GET  /v1/status                      chain id, tip, validators, mempool size
//! POST /v1/transactions                submit (JSON or canonical binary); ?wait=true waits
//!                                      for commit or rejection
//! POST /v1/transactions/batch          up to 10,000 at once, per-transaction outcomes
//! GET  /v1/transactions/{hash}         status, receipt and events
//! GET  /v1/blocks/latest               the latest finalized block
//! GET  /v1/blocks/{height}             a block, its transactions and its certificate
//! GET  /v1/state/{key}?proof=true      a state entry with a proof against a finalized block
//! GET  /v1/parties/{id}?proof=true     a party (shorthand for state/party/{id})
//! POST /v1/blobs                       signed: upload sealed record content (custodians)
//! PUT  /v1/records/{id}/versions/{v}/keys/{party}
//!                                      signed: store a data key wrapped for a party
//! POST /v1/records/{id}/read           signed: an audited read; the body is the reader's
//!                                      access transaction
//! POST /v1/sessions, DELETE /v1/sessions/{id}
//!                                      open (signed with the party key) and end a
//!                                      request-signing session
//! /v1/custodial/...                    custodial accounts: the organisation opens them; users
//!                                      activate, sign in (password + TOTP), change password,
//!                                      recover; under a custodial session the node signs
//!                                      transactions and wrapped keys and unwraps data keys
//!                                      for its user (see `custodial`)
//! GET  /v1/records/{id}                a record and its versions, as anchored
//! GET  /v1/patients/{id}/{list}        a page of a patient's records, grants, access log
//!                                      or break-glass declarations
//! GET  /v1/openapi.json, /v1/docs      the OpenAPI document, and a page that renders it
//! GET  /healthz, /readyz, /metrics     liveness, readiness, Prometheus text
//! ```
//!
//! The server knows nothing of consensus or storage: it talks to a [`Backend`], which the node
//! implements. Every error is an RFC 9457 problem body naming the reason.

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "512"]

mod auth;
mod custodial;
mod epcis;
mod openapi;
mod records;
mod routes;
mod supply;

pub use openapi::openapi;
pub use routes::{Backend, router, router_with_authorities};
pub use supply::Holdings;

/// Largest request body, in bytes.
pub const BODY_BYTES_MAX: usize = 20 * 1024 * 1024;
