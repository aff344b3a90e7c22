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

/// An answer to an EPCIS SimpleEventQuery (`GET /epcis/events`); with `proof=true`, served
/// whole as JSON, with everything a client needs to build the same document itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpcisEventsAnswer {
    /// The EPCISQueryDocument.
    pub document: serde_json::Value,
    /// Where the next page starts, if there is one (`nextPageToken`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// The height the answer was read at.
    pub height: u64,
    /// Every state entry the answer read (the indexes selecting its transactions, their
    /// receipts), proven at `height`.
    #[serde(default)]
    pub entries: Vec<StateResponse>,
    /// Hex of each transaction read, in chain order.
    #[serde(default)]
    pub transactions: Vec<String>,
    /// The finality of each block those transactions are in, proving its time (the events'
    /// record time).
    #[serde(default)]
    pub blocks: Vec<Finality>,
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

/// An answer that can come with the state entries it rests on, proven: a client verifies
/// them and recomputes the answer from them.
pub trait WithEntries {
    fn entries_mut(&mut self) -> &mut Vec<StateResponse>;
}

macro_rules! with_entries {
    ($($answer:ty),* $(,)?) => {
        $(impl WithEntries for $answer {
            fn entries_mut(&mut self) -> &mut Vec<StateResponse> {
                &mut self.entries
            }
        })*
    };
}

with_entries!(
    CredentialCheckResponse,
    VerifyPackResponse,
    SupplyAlertsResponse,
    LotHoldingsResponse,
    LineageResponse,
);

/// One credential in a check answer, with its standing at the time asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedCredential {
    pub credential: crate::credential::Credential,
    pub standing: crate::credential::Standing,
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
    /// The height of the state read.
    pub height: u64,
    /// With proofs asked for: every state entry the answer rests on (the holder index, then
    /// each credential it lists), proven at `height`. A client recomputes the answer from
    /// them (`medchain_client::proven`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<StateResponse>,
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

/// `Debug` that shows the named fields and hides the rest (passwords, codes, secrets).
macro_rules! redacted_debug {
    ($name:ident { $($field:ident),* }) => {
        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}

redacted_debug!(AccountInvited {
    username,
    party_id,
    kind
});
redacted_debug!(AccountActivate { username });
redacted_debug!(AccountEnrolled { username, party_id });
redacted_debug!(SignIn {
    username,
    lifetime_secs
});
redacted_debug!(CustodialSessionResponse {
    session,
    party,
    expires_at
});
redacted_debug!(PasswordChange { username });
redacted_debug!(AccountRecover { username });

/// `POST /v1/custodial/accounts`: an organisation opens a custodial account for one of its
/// users; the node makes and keeps the user's keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountInvite {
    /// 3 to 64 characters of `a-z 0-9 . _ - @`; unique on this node.
    pub username: String,
    /// patient, practitioner or device.
    pub kind: crate::identity::PartyKind,
}

/// `POST /v1/custodial/accounts`: the account, waiting for its user to activate it. The
/// organisation registers `party_id` on chain with these public keys, and hands the activation
/// code to the user (it is shown once).
#[derive(Clone, Serialize, Deserialize)]
pub struct AccountInvited {
    pub username: String,
    pub party_id: crate::PartyId,
    pub kind: crate::identity::PartyKind,
    pub signing_key: crate::PublicKey,
    pub encryption_key: crate::EncryptionKey,
    pub activation_code: String,
    /// The code works until then (Unix seconds).
    pub activation_expires_at: u64,
}

/// `POST /v1/custodial/activate`: the user proves the activation code and chooses a password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountActivate {
    pub username: String,
    pub activation_code: String,
    pub password: String,
}

/// `POST /v1/custodial/activate` and `/recover`: the second factor to enrol, and the recovery
/// code; both are shown once.
#[derive(Clone, Serialize, Deserialize)]
pub struct AccountEnrolled {
    pub username: String,
    pub party_id: crate::PartyId,
    /// The `otpauth://totp/...` URI for an authenticator app (HMAC-SHA1, 6 digits, 30 s).
    pub totp_uri: String,
    /// The same secret, base32, for typing in.
    pub totp_secret: String,
    /// Resets the password and the second factor if both are lost; a new one replaces it
    /// each time it is used.
    pub recovery_code: String,
}

/// `POST /v1/custodial/sign-in`: password and a current TOTP code.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
    pub totp: String,
    /// How long the session lasts, in seconds (default 900, at most 3,600).
    #[serde(default)]
    pub lifetime_secs: Option<u64>,
}

/// `POST /v1/custodial/sign-in`: a session in which the node signs and unwraps for the user.
#[derive(Clone, Serialize, Deserialize)]
pub struct CustodialSessionResponse {
    /// The session id: the `keyid` of requests signed under it.
    pub session: String,
    pub party: crate::PartyId,
    pub expires_at: u64,
    /// The session's HMAC-SHA256 secret (hex). A custodial user has no key to wrap it for,
    /// so it travels in the response body: serve the API over TLS.
    pub secret: String,
}

/// `POST /v1/custodial/password`: a new password, proven with the old one and a TOTP code.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub username: String,
    pub password: String,
    pub totp: String,
    pub new_password: String,
}

/// `POST /v1/custodial/recover`: a new password and second factor, proven with the recovery
/// code.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecover {
    pub username: String,
    pub recovery_code: String,
    pub new_password: String,
}

/// `GET /v1/custodial/accounts`: one account of this node, without secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub username: String,
    pub party_id: crate::PartyId,
    pub kind: crate::identity::PartyKind,
    /// `invited` (waiting for activation) or `active`.
    pub state: String,
    pub created_at: u64,
    pub activated_at: Option<u64>,
}

/// `POST /v1/custodial/transactions`: a transaction body for the node to sign as the session's
/// custodial user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodialSign {
    pub nonce: u64,
    pub body: crate::TxBody,
}

/// `POST /v1/custodial/wrapped-key-signatures`: the user's signature over a data key wrapped
/// for a recipient (what a custodian checks before storing it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodialWrappedKeySign {
    pub record: crate::records::RecordId,
    pub version: u32,
    pub recipient: crate::PartyId,
    /// The wrapped key, hex.
    pub wrapped: String,
}

/// `POST /v1/custodial/unwrap`: a data key wrapped for the session's user, to unwrap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodialUnwrap {
    pub record: crate::records::RecordId,
    pub version: u32,
    /// The wrapped key, hex.
    pub wrapped: String,
}

/// Answers of the custodial signing endpoints: hex bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodialBytes {
    pub hex: String,
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

/// What a GS1 scan said, as `GET /v1/supply/verify` read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSummary {
    /// `element_string`, `human_readable` or `digital_link`.
    pub form: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtin: Option<crate::gs1::Gtin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<crate::time::Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sscc: Option<crate::gs1::Sscc>,
    /// The canonical GS1 Digital Link URI of what was scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digital_link: Option<String>,
}

/// The verdict on a scanned pack (or case or pallet), most serious first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackVerdict {
    /// No such serial (or SSCC) was ever commissioned (or packed): likely counterfeit.
    UnknownSerial,
    /// Confirmed illegitimate by its manufacturer or a regulator.
    Illegitimate,
    /// Under investigation (a suspect-product alert or flag).
    Suspect,
    /// The lot or expiry printed on the pack differs from the record: likely counterfeit.
    Mismatch,
    /// Taken out of use (destroyed, sample, stolen).
    Decommissioned,
    /// Consumed by a transformation.
    Consumed,
    /// Its lot is recalled.
    Recalled,
    /// Already dispensed to a patient.
    Dispensed,
    /// Past its expiry date.
    Expired,
    /// Genuine and in the supply chain.
    Genuine,
}

/// One step of an object's chain of custody.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyStep {
    /// The object that moved: the pack, or a container it was in at the time.
    pub object: crate::supply::Object,
    #[serde(flatten)]
    pub entry: crate::supply::HistoryEntry,
}

/// `GET /v1/supply/verify`: what anyone scanning a pack learns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyPackResponse {
    pub scan: ScanSummary,
    pub verdict: PackVerdict,
    /// Every finding, in words (the verdict is the most serious).
    pub findings: Vec<String>,
    /// Height and block time the answer is for.
    pub height: u64,
    pub time_ms: u64,
    /// Who holds it now, and their name on chain: for a packed object, its outermost
    /// container's custodian, which `unit` and `container` below name too (a packed object's
    /// own stored custodian is who held it when it was packed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custodian: Option<crate::ids::PartyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custodian_label: Option<String>,
    /// Where it is heading, while in transit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_transit_to: Option<crate::ids::PartyId>,
    /// The containers it is in, innermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<crate::gs1::Sscc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<crate::supply::Unit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<crate::supply::Container>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<crate::supply::Lot>,
    /// The chain of custody: its own steps and those of the containers it travelled in, in
    /// order.
    pub custody: Vec<CustodyStep>,
    /// The name on chain of each party the answer names (custodian, destination,
    /// manufacturer, everyone in the chain of custody) that has one.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<crate::ids::PartyId, String>,
    /// The state entries the answer rests on (the unit or container, its lot, every container
    /// in its custody chain, the shipment), each with a proof when asked.
    pub entries: Vec<StateResponse>,
}

/// `POST /epcis/capture` accepted (202): the capture job, and each event's hash id and
/// transaction, in the document's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EpcisCaptureAccepted {
    #[serde(rename = "captureID")]
    pub capture_id: String,
    #[serde(rename = "eventIDs")]
    pub event_ids: Vec<String>,
    pub transactions: Vec<TxHash>,
}

/// One event of a capture job, and where its transaction is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpcisCaptureEvent {
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub transaction: TxHash,
    pub status: TxState,
}

/// An event a capture job failed to record (RFC 9457 problem, as EPCIS 2.0 reports capture
/// errors).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpcisCaptureError {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: TxState,
    pub detail: String,
    pub instance: TxHash,
}

/// `GET /epcis/capture/{captureID}`: a capture job. `success` is absent while it is running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EpcisCaptureJob {
    #[serde(rename = "captureID")]
    pub capture_id: String,
    pub created_at: String,
    pub running: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    pub capture_error_behaviour: String,
    pub errors: Vec<EpcisCaptureError>,
    pub events: Vec<EpcisCaptureEvent>,
}

/// `GET /v1/supply/alerts`: suspect-product alerts, a page of a manufacturer's list or of
/// everyone's (what regulators watch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplyAlertsResponse {
    /// Whose list: a manufacturer's, or `None` for every alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<crate::ids::PartyId>,
    /// How many alerts the list holds.
    pub count: u64,
    /// The position of the first alert shown.
    pub from: u64,
    pub alerts: Vec<crate::supply::Alert>,
    /// The list entries the alerts are read from, each with a proof when asked.
    pub entries: Vec<StateResponse>,
}

/// A unit of a lot and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldUnit {
    pub serial: String,
    pub status: crate::supply::UnitStatus,
    /// Who holds it (for a packed unit, its outermost container's holder).
    pub custodian: crate::ids::PartyId,
    /// Where it is heading, while in transit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_transit_to: Option<crate::ids::PartyId>,
    /// The containers it is in, innermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<crate::gs1::Sscc>,
}

/// `GET /v1/supply/holdings`: where the units of a lot are (what a recall needs: each
/// custodian finds what it holds, down to the case it is in), a page at a time in the
/// order they were commissioned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotHoldingsResponse {
    pub lot: crate::supply::Lot,
    /// Only the units this party holds or is being sent, when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custodian: Option<crate::ids::PartyId>,
    /// Only units still in the supply chain (not dispensed, decommissioned or consumed).
    pub in_chain_only: bool,
    pub height: u64,
    /// The position (among the lot's units) of the first unit looked at, and of the first
    /// of the next page.
    pub from: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
    pub units: Vec<HeldUnit>,
    /// The state entries the answer rests on, each with a proof when asked.
    pub entries: Vec<StateResponse>,
}

/// A unit in a product's ancestry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageNode {
    pub gtin: crate::gs1::Gtin,
    pub serial: String,
    pub lot: String,
    /// 0 for the unit asked about, 1 for its inputs, 2 for theirs, ...
    pub generation: u32,
    /// The transformation that made it from its inputs (none for a commissioned unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<crate::supply::Transformation>,
}

/// `GET /v1/supply/lineage`: a unit's ancestry through transformations, generation by
/// generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageResponse {
    pub height: u64,
    pub ancestry: Vec<LineageNode>,
    /// Whether the ancestry goes on beyond what one answer shows.
    pub truncated: bool,
    /// The state entries the answer rests on, each with a proof when asked.
    pub entries: Vec<StateResponse>,
}

/// One item of a patient's list: what `list/<name>/<patient>/<seq>` names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PatientItem {
    /// An access-log entry.
    Access(crate::records::AccessEntry),
    /// A record (the list holds its id; the item is the record it names).
    Record(crate::records::Record),
    /// A grant.
    Grant(crate::records::Grant),
    /// A break-glass declaration.
    BreakGlass(crate::records::BreakGlass),
}

/// One numbered item of a patient's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientListItem {
    pub seq: u64,
    /// The item's state key, in text form.
    pub key: String,
    pub item: PatientItem,
}

/// `GET /v1/patients/{id}/{records|grants|access-log|break-glass}`: a page of a patient's
/// list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientListResponse {
    pub patient: crate::ids::PartyId,
    /// `records`, `grants`, `access-log` or `break-glass`.
    pub list: String,
    /// How many items the list holds.
    pub count: u64,
    pub from: u64,
    pub items: Vec<PatientListItem>,
    /// The height of the state read.
    pub height: u64,
    /// With proofs asked for: the list's count, each item of the page and what it names,
    /// proven at `height`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<StateResponse>,
}

with_entries!(PatientListResponse);
