//! Errors of the state machine.

use medchain_types::{PartyId, PartyKind, Role};

/// The store behind the state view failed. This is not the transaction's fault: a node that
/// sees it must stop rather than continue on state it cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("state store failed: {0}")]
    Store(String),
    #[error("stored value under {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    /// A query run over proven entries (a client re-checking an answer) read a key the
    /// answer carries no proof of: the answer is incomplete, or rests on other keys.
    #[error("the answer carries no proof of {key}, which the question needs")]
    Unproven { key: String },
}

/// Why a query (an answer served with proofs, recomputed by a client) has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    State(#[from] StateError),
    /// The question cannot be answered: a limit out of range, an unknown lot. `status` is
    /// the HTTP status the node answers with, `code` its stable problem code.
    #[error("{detail}")]
    Refused {
        status: u16,
        code: &'static str,
        detail: String,
    },
}

impl QueryError {
    /// A refusal with its HTTP status and stable code.
    pub fn refused(status: u16, code: &'static str, detail: impl Into<String>) -> Self {
        Self::Refused {
            status,
            code,
            detail: detail.into(),
        }
    }
}

/// A refused read: what was asked, and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDenial {
    pub record: medchain_types::records::RecordId,
    pub patient: PartyId,
    pub version: u32,
    pub basis: medchain_types::records::AccessBasis,
    pub purpose: medchain_types::records::Purpose,
    pub custodian: PartyId,
    pub code: &'static str,
    pub reason: String,
}

/// Why a transaction was refused. Every variant names what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("unknown signer {0}")]
    UnknownSigner(PartyId),
    #[error(
        "public key {found} is not the current signing key of {party} (key version {key_version})"
    )]
    WrongKey {
        party: PartyId,
        found: medchain_types::PublicKey,
        key_version: u32,
    },
    #[error("nonce {found} was already used by {party}; the next nonce is {expected}")]
    NonceUsed {
        party: PartyId,
        expected: u64,
        found: u64,
    },
    #[error("nonce {found} is ahead of {party}'s next nonce {expected}")]
    NonceGap {
        party: PartyId,
        expected: u64,
        found: u64,
    },
    #[error("transaction {0} was already committed")]
    Duplicate(medchain_types::TxHash),
    #[error(
        "the transaction costs {took_ms} ms to run ({writes} state writes), over the {limit_ms} ms this chain allows for building a whole block (four fifths of its leader timeout); split it into smaller operations"
    )]
    TooCostly {
        took_ms: u64,
        writes: usize,
        limit_ms: u64,
    },
    #[error("{party} lacks the {role} role needed to {action}")]
    MissingRole {
        party: PartyId,
        role: Role,
        action: &'static str,
    },
    #[error("{party} is a {found:?}; only a {expected:?} may {action}")]
    WrongKind {
        party: PartyId,
        expected: PartyKind,
        found: PartyKind,
        action: &'static str,
    },
    #[error("key {0} is already registered to a party (keys are never reused)")]
    KeyInUse(medchain_types::PublicKey),
    #[error("party {0} already exists")]
    PartyExists(PartyId),
    #[error("unknown party {0}")]
    UnknownParty(PartyId),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("unknown proposal {0}")]
    UnknownProposal(u64),
    #[error("proposal {proposal} is {status}, not open")]
    ProposalClosed { proposal: u64, status: &'static str },
    #[error("proposal {proposal} expired at {expires_at_ms} ms; block time is {now_ms} ms")]
    ProposalExpired {
        proposal: u64,
        expires_at_ms: u64,
        now_ms: u64,
    },
    #[error("{party} already approved proposal {proposal}")]
    AlreadyApproved { proposal: u64, party: PartyId },
    #[error("transaction emits {found} events; the limit is {max}")]
    TooManyEvents { found: usize, max: usize },
    #[error("{issuer} is not accredited to issue {credential_type} credentials in {jurisdiction}")]
    NotAccredited {
        issuer: PartyId,
        credential_type: String,
        jurisdiction: String,
    },
    #[error("credential {0} already exists")]
    CredentialExists(medchain_types::credential::CredentialId),
    #[error("unknown credential {0}")]
    UnknownCredential(medchain_types::credential::CredentialId),
    #[error("{party} did not issue credential {credential}; only its issuer changes its status")]
    NotIssuer {
        credential: medchain_types::credential::CredentialId,
        party: PartyId,
    },
    #[error("credential {0} is revoked; revocation is final")]
    CredentialRevoked(medchain_types::credential::CredentialId),
    /// A rule of the records module (or another) refused it; `code` is stable.
    #[error("{reason}")]
    Refused { code: &'static str, reason: String },
    /// A read the access rules refused. It is committed as denied and entered in the patient's
    /// access log.
    #[error("access to record {} denied: {}", .0.record, .0.reason)]
    AccessDenied(Box<AccessDenial>),
    /// A supply-chain operation refused for a reason that points at counterfeiting or
    /// diversion. It is committed as denied, with a suspect-product alert.
    #[error("{}: {}", .0.kind.name(), .0.reason)]
    SuspectProduct(Box<crate::supply::Violation>),
    #[error(
        "{party} needs a valid {credential_type} credential (jurisdiction {jurisdiction}) to {action}; best found: {found}"
    )]
    CredentialRequired {
        party: PartyId,
        action: &'static str,
        credential_type: String,
        jurisdiction: String,
        found: &'static str,
    },
}

impl TxError {
    /// A transaction whose run (`took`, with the merkleization of its `writes` where that is
    /// counted) exceeds the time a block may take to build, `limit`.
    pub fn too_costly(
        took: std::time::Duration,
        writes: usize,
        limit: std::time::Duration,
    ) -> Self {
        TxError::TooCostly {
            took_ms: took.as_millis() as u64,
            writes,
            limit_ms: limit.as_millis() as u64,
        }
    }

    /// Whether this refusal is a policy denial: the transaction is well-formed and correctly
    /// signed by who it claims, in nonce order, but the credential policy check refused the
    /// action, or the access rules refused a read. Such a transaction is committed as denied,
    /// with an event (and, for a read, an access-log entry) recording the attempt, rather than
    /// dropped: an attempt by a suspended practitioner, or a read without consent, is itself
    /// something patients, auditors and regulators need to see.
    pub fn is_policy_denial(&self) -> bool {
        matches!(
            self,
            TxError::CredentialRequired { .. }
                | TxError::AccessDenied(_)
                | TxError::SuspectProduct(_)
        )
    }

    /// A stable machine-readable code for the error, used in HTTP problem bodies and receipts.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::State(_) => "state_unavailable",
            TxError::UnknownSigner(_) => "unknown_signer",
            TxError::WrongKey { .. } => "wrong_key",
            TxError::NonceUsed { .. } => "nonce_used",
            TxError::NonceGap { .. } => "nonce_gap",
            TxError::Duplicate(_) => "duplicate",
            TxError::TooCostly { .. } => "too_costly",
            TxError::MissingRole { .. } => "missing_role",
            TxError::WrongKind { .. } => "wrong_party_kind",
            TxError::KeyInUse(_) => "key_in_use",
            TxError::PartyExists(_) => "party_exists",
            TxError::UnknownParty(_) => "unknown_party",
            TxError::Invalid { .. } => "invalid_field",
            TxError::UnknownProposal(_) => "unknown_proposal",
            TxError::ProposalClosed { .. } => "proposal_closed",
            TxError::ProposalExpired { .. } => "proposal_expired",
            TxError::AlreadyApproved { .. } => "already_approved",
            TxError::TooManyEvents { .. } => "too_many_events",
            TxError::NotAccredited { .. } => "not_accredited",
            TxError::CredentialExists(_) => "credential_exists",
            TxError::UnknownCredential(_) => "unknown_credential",
            TxError::NotIssuer { .. } => "not_issuer",
            TxError::CredentialRevoked(_) => "credential_revoked",
            TxError::CredentialRequired { .. } => "credential_required",
            TxError::Refused { code, .. } => code,
            TxError::AccessDenied(denial) => denial.code,
            TxError::SuspectProduct(violation) => violation.kind.name(),
        }
    }
}
