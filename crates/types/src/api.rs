//! The JSON bodies of the `/v1` HTTP API, shared by the server and the client SDK.

use crate::{
    block::Header,
    event::{Event, Receipt},
    hash::Hash32,
    ids::{BlockHash, ChainId, TxHash},
    keys::PublicKey,
};
use serde::{Deserialize, Serialize};

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub chain_id: ChainId,
    /// Digest of the genesis file the node runs.
    pub genesis_digest: Hash32,
    /// This node's consensus key.
    pub validator_key: PublicKey,
    /// The organisation that runs this node, as named in the genesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_party: Option<crate::ids::PartyId>,
    /// The latest finalized block.
    pub latest: LatestBlock,
    /// The validator set, as consensus keys.
    pub validators: Vec<PublicKey>,
    /// Transactions waiting in this node's mempool.
    pub mempool_size: usize,
}

/// A summary of the latest finalized block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestBlock {
    pub height: u64,
    pub hash: BlockHash,
    pub time_ms: u64,
    pub state_root: Hash32,
}

/// Where a transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    /// In the mempool of the node asked.
    Pending,
    /// In a finalized block, and it took effect.
    Committed,
    /// In a finalized block, but refused by the policy check (a credential it needs is missing,
    /// suspended, revoked or expired): its nonce is used and the refusal is recorded as an
    /// `action_denied` event; nothing else changed. `rejection` says why.
    Denied,
    /// Refused; it will never commit.
    Rejected,
    /// Not known to the node asked.
    Unknown,
}

/// Why a transaction was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRejection {
    pub code: String,
    pub reason: String,
}

/// `GET /v1/transactions/{hash}` and the body of a submission's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxStatusResponse {
    pub hash: TxHash,
    pub status: TxState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<TxRejection>,
}

/// `GET /v1/blocks/{height}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockResponse {
    pub height: u64,
    pub hash: BlockHash,
    pub header: Header,
    /// The consensus context (hex of its canonical encoding): round, leader, parent view.
    pub context: String,
    pub transactions: Vec<TxHash>,
    /// The finalization certificate of this block (hex), when this node holds one for this
    /// height; a block can also be final through a certified descendant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalization: Option<String>,
}

/// One transaction's outcome in `POST /v1/transactions/batch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    pub hash: TxHash,
    /// Why it was refused; absent when it was accepted into the mempool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// `POST /v1/transactions/batch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    pub accepted: usize,
    pub refused: usize,
    /// In submission order.
    pub results: Vec<BatchItem>,
}

/// A header with its consensus context, enough to recompute its block's digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextHeader {
    pub header: Header,
    /// Hex of the consensus context encoding.
    pub context: String,
}

/// What makes a header trustworthy offline: a finalization certificate for `certified`, and
/// the headers from `certified`'s parent down to the proven header, linked by parent hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finality {
    /// The certified block.
    pub certified: ContextHeader,
    /// Hex of the finalization certificate of `certified`.
    pub finalization: String,
    /// Headers below `certified`, newest first, ending with the proven header; empty when the
    /// proven header is itself certified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<ContextHeader>,
}

/// Whether a state proof shows a value or an absence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofKind {
    Value,
    Absence,
}

/// A proof of a state entry against a finalized block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateProof {
    pub kind: ProofKind,
    /// Hex of the database proof.
    pub proof: String,
    /// Height of the block whose state root the proof is against.
    pub height: u64,
    pub finality: Finality,
}

/// `GET /v1/state/{key}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateResponse {
    /// The key's text form (`party/<id>`, ...).
    pub key: String,
    /// Hex of the raw key.
    pub key_hex: String,
    /// Hex of the value, if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The value decoded for reading, when its type is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded: Option<serde_json::Value>,
    /// Height of the state read.
    pub height: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<StateProof>,
}

/// An RFC 9457 problem body, returned with every 4xx and 5xx.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable machine-readable code.
    pub code: String,
}

impl Problem {
    /// A problem with `status`, `code` and a human `detail`.
    pub fn new(status: u16, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://medchain.invalid/problems/{code}"),
            title: code.replace('_', " "),
            status,
            detail: detail.into(),
            code: code.into(),
        }
    }
}

/// One credential in a check answer, with its standing at the time asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedCredential {
    pub credential: crate::credential::Credential,
    pub standing: crate::credential::Standing,
    /// The credential's state entry, with a proof when asked.
    pub entry: StateResponse,
}

/// `GET /v1/credentials/check`: does a party hold a valid credential of a type (in a
/// jurisdiction) at a time?
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialCheckResponse {
    pub party: crate::ids::PartyId,
    pub credential_type: crate::credential::CredentialType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<crate::credential::Jurisdiction>,
    /// The time asked about, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub valid: bool,
    /// Every credential of the type the party holds (matching the jurisdiction if given).
    pub credentials: Vec<CheckedCredential>,
    /// The holder index entry (which credential ids the party holds of the type), with a
    /// proof when asked: it proves the list is complete.
    pub index: StateResponse,
}

/// `POST /v1/sessions`: what a party asks of a request-signing session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// How long the session lasts, in seconds (default 900, at most 3,600).
    #[serde(default)]
    pub lifetime_secs: Option<u64>,
}

/// `POST /v1/sessions`: a session opened on this node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    /// The session id: the `keyid` of requests signed under it (32 hex digits).
    pub session: String,
    pub party: crate::PartyId,
    /// When it ends (Unix seconds), unless ended earlier.
    pub expires_at: u64,
    /// The 32-byte secret, wrapped for the party's encryption key (HPKE, hex): the node never
    /// sends it in clear.
    pub wrapped_secret: String,
}

/// `POST /v1/blobs`: sealed content stored, pending its anchor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobUploadResponse {
    /// SHA-256 of the content: what the record version anchors.
    pub hash: crate::Hash32,
    pub bytes: u64,
}

/// `POST /v1/records/{id}/read`: a granted read, served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordReadResponse {
    pub record: crate::records::RecordId,
    pub version: u32,
    pub media_type: String,
    /// The sealed content, base64 (standard alphabet, padded).
    pub ciphertext: String,
    pub ciphertext_hash: crate::Hash32,
    /// The data key wrapped for the reader (hex of 80 bytes: HPKE enc || sealed key).
    pub wrapped_key: String,
    /// The reader's access-log entry and transaction.
    pub access_seq: u64,
    pub access_tx: TxHash,
}
