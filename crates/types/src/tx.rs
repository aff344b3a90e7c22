//! Transactions: what a party asks the chain to do, signed with its key.
//!
//! ```text
//! SignedTransaction
//! ├── transaction
//! │   ├── chain_id     bound to one chain: a signature is never valid on another
//! │   ├── signer       the party's id
//! │   ├── public_key   the key that signed (must be the signer's current key)
//! │   ├── nonce        the signer's next nonce: each nonce is used once, in order
//! │   └── body         what to do
//! └── signature        Ed25519 over TX_DOMAIN || encode(transaction)
//! ```
//!
//! The canonical encoding is `commonware-codec`; the hash of a signed transaction's encoding is
//! its id. The JSON form carries the same fields and is re-encoded canonically before the
//! signature is checked, so both forms name the same transaction.

use crate::{
    codec::{read_list, read_str, str_size, write_str},
    credential::{
        ACCREDITATION_ENTRIES_MAX, CredentialId, CredentialStatus, CredentialType, Jurisdiction,
        REASON_BYTES_MAX, SPECIALTY_BYTES_MAX,
    },
    error::ParseError,
    hash::{Hash32, hash_parts},
    identity::{PartyKind, Roles},
    ids::{ChainId, PartyId, TxHash},
    keys::{EncryptionKey, Keypair, PublicKey, Signature},
    limits::{LABEL_BYTES_MAX, PROPOSAL_TTL_MS_MAX, TRANSACTION_BYTES_MAX},
};
use bytes::BufMut;
use commonware_codec::{Buf, DecodeExt, Encode, EncodeSize, Error, Read, ReadExt, Write};
use serde::{Deserialize, Serialize};

/// Domain separation for transaction signatures.
pub const TX_DOMAIN: &[u8] = b"medchain/tx/v1\0";

/// An action that needs the approval of a threshold of governing organisations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GovernanceAction {
    /// Admit a new organisation to the consortium.
    AddOrganisation {
        label: String,
        signing_key: PublicKey,
        encryption_key: EncryptionKey,
        roles: Roles,
    },
    /// Replace the roles of an existing party.
    SetRoles { party: PartyId, roles: Roles },
    /// Change how many governor approvals a proposal needs.
    SetThreshold { threshold: u32 },
    /// Accredit (or, with empty lists, withdraw) an organisation as a credential issuer for
    /// the given types and jurisdictions (a jurisdiction covers its subdivisions).
    AccreditIssuer {
        issuer: PartyId,
        credential_types: Vec<CredentialType>,
        jurisdictions: Vec<Jurisdiction>,
    },
    /// Require (or, with `None`, stop requiring) a valid credential of a type, optionally in a
    /// jurisdiction, for a gated action (e.g. `register_practitioner`).
    SetCredentialRequirement {
        action: String,
        requirement: Option<CredentialRequirement>,
    },
    /// Replace the keys of a party whose key was lost or compromised. Proposed by the party's
    /// own organisation (which vouches for the person), carried by governors' approvals; from
    /// then on the old key signs nothing.
    RecoverKeys {
        party: PartyId,
        signing_key: PublicKey,
        encryption_key: EncryptionKey,
    },
    /// Let custodians erase records they hold once the latest version is `days` old (a
    /// retention period), unless a legal hold is in force; `None` (the default) lets only
    /// patients erase.
    SetErasureRetention { days: Option<u32> },
}

/// The longest erasure retention period governance may set, in days (100 years).
pub const ERASURE_RETENTION_DAYS_MAX: u32 = 36_500;

/// A credential a gated action requires of the party taking it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRequirement {
    pub credential_type: CredentialType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Jurisdiction>,
}

crate::codec::struct_codec!(CredentialRequirement {
    credential_type: v,
    jurisdiction: v,
});

/// Largest gated action name, in bytes.
pub const ACTION_NAME_BYTES_MAX: usize = 48;

impl GovernanceAction {
    /// A short name for events and errors.
    pub fn name(&self) -> &'static str {
        match self {
            GovernanceAction::AddOrganisation { .. } => "add_organisation",
            GovernanceAction::SetRoles { .. } => "set_roles",
            GovernanceAction::SetThreshold { .. } => "set_threshold",
            GovernanceAction::AccreditIssuer { .. } => "accredit_issuer",
            GovernanceAction::SetCredentialRequirement { .. } => "set_credential_requirement",
            GovernanceAction::RecoverKeys { .. } => "recover_keys",
            GovernanceAction::SetErasureRetention { .. } => "set_erasure_retention",
        }
    }
}

impl Write for GovernanceAction {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            GovernanceAction::AddOrganisation {
                label,
                signing_key,
                encryption_key,
                roles,
            } => {
                0u8.write(buf);
                write_str(label, buf);
                signing_key.write(buf);
                encryption_key.write(buf);
                roles.write(buf);
            }
            GovernanceAction::SetRoles { party, roles } => {
                1u8.write(buf);
                party.write(buf);
                roles.write(buf);
            }
            GovernanceAction::SetThreshold { threshold } => {
                2u8.write(buf);
                threshold.write(buf);
            }
            GovernanceAction::AccreditIssuer {
                issuer,
                credential_types,
                jurisdictions,
            } => {
                3u8.write(buf);
                issuer.write(buf);
                credential_types.write(buf);
                jurisdictions.write(buf);
            }
            GovernanceAction::SetCredentialRequirement {
                action,
                requirement,
            } => {
                4u8.write(buf);
                write_str(action, buf);
                requirement.write(buf);
            }
            GovernanceAction::RecoverKeys {
                party,
                signing_key,
                encryption_key,
            } => {
                5u8.write(buf);
                party.write(buf);
                signing_key.write(buf);
                encryption_key.write(buf);
            }
            GovernanceAction::SetErasureRetention { days } => {
                6u8.write(buf);
                days.write(buf);
            }
        }
    }
}
impl EncodeSize for GovernanceAction {
    fn encode_size(&self) -> usize {
        1 + match self {
            GovernanceAction::AddOrganisation {
                label,
                signing_key,
                encryption_key,
                roles,
            } => {
                str_size(label)
                    + signing_key.encode_size()
                    + encryption_key.encode_size()
                    + roles.encode_size()
            }
            GovernanceAction::SetRoles { party, roles } => {
                party.encode_size() + roles.encode_size()
            }
            GovernanceAction::SetThreshold { threshold } => threshold.encode_size(),
            GovernanceAction::AccreditIssuer {
                issuer,
                credential_types,
                jurisdictions,
            } => {
                issuer.encode_size() + credential_types.encode_size() + jurisdictions.encode_size()
            }
            GovernanceAction::SetCredentialRequirement {
                action,
                requirement,
            } => str_size(action) + requirement.encode_size(),
            GovernanceAction::RecoverKeys { .. } => 32 + 32 + 32,
            GovernanceAction::SetErasureRetention { days } => days.encode_size(),
        }
    }
}
impl Read for GovernanceAction {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(GovernanceAction::AddOrganisation {
                label: read_str(buf, LABEL_BYTES_MAX)?,
                signing_key: PublicKey::read(buf)?,
                encryption_key: EncryptionKey::read(buf)?,
                roles: Roles::read(buf)?,
            }),
            1 => Ok(GovernanceAction::SetRoles {
                party: PartyId::read(buf)?,
                roles: Roles::read(buf)?,
            }),
            2 => Ok(GovernanceAction::SetThreshold {
                threshold: u32::read(buf)?,
            }),
            3 => Ok(GovernanceAction::AccreditIssuer {
                issuer: PartyId::read(buf)?,
                credential_types: read_list(buf, ACCREDITATION_ENTRIES_MAX)?,
                jurisdictions: read_list(buf, ACCREDITATION_ENTRIES_MAX)?,
            }),
            4 => Ok(GovernanceAction::SetCredentialRequirement {
                action: read_str(buf, ACTION_NAME_BYTES_MAX)?,
                requirement: Option::<CredentialRequirement>::read(buf)?,
            }),
            5 => Ok(GovernanceAction::RecoverKeys {
                party: PartyId::read(buf)?,
                signing_key: PublicKey::read(buf)?,
                encryption_key: EncryptionKey::read(buf)?,
            }),
            6 => Ok(GovernanceAction::SetErasureRetention {
                days: Option::<u32>::read(buf)?,
            }),
            other => Err(Error::InvalidEnum(other)),
        }
    }
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TxBody {
    /// An organisation with the registrar role registers a practitioner, patient or device
    /// under itself.
    RegisterParty {
        kind: PartyKind,
        signing_key: PublicKey,
        encryption_key: EncryptionKey,
        label: String,
        roles: Roles,
    },
    /// A party replaces its own signing and encryption keys. Transactions signed with the old
    /// key are refused from the next block on.
    RotateKeys {
        signing_key: PublicKey,
        encryption_key: EncryptionKey,
    },
    /// A governor proposes a governance action; the proposal counts as its first approval.
    Propose {
        action: GovernanceAction,
        /// How long the proposal stays open, in milliseconds of block time.
        ttl_ms: u64,
    },
    /// A governor approves an open proposal; the action runs when approvals reach the
    /// threshold.
    Approve { proposal: u64 },
    /// A party time-stamps a digest under a subject (proof of existence): the chain records
    /// who attested what, and when.
    Attest { subject: Hash32, digest: Hash32 },
    /// An accredited issuer issues a credential to a party.
    IssueCredential {
        subject: PartyId,
        credential_type: CredentialType,
        jurisdiction: Jurisdiction,
        number_commitment: Hash32,
        specialty: Option<String>,
        valid_from_ms: u64,
        valid_until_ms: u64,
    },
    /// The issuer suspends (`suspended`), reinstates (`active`) or revokes (`revoked`, final)
    /// a credential, with a reason.
    SetCredentialStatus {
        credential: CredentialId,
        status: CredentialStatus,
        reason: String,
    },
    /// A records, consent or access operation (see [`crate::records`]).
    Record(crate::records::RecordOp),
    /// A supply-chain operation (see [`crate::supply`]).
    Supply(crate::supply::SupplyOp),
}

impl TxBody {
    /// A short name for logs, metrics and errors.
    pub fn name(&self) -> &'static str {
        match self {
            TxBody::RegisterParty { .. } => "register_party",
            TxBody::RotateKeys { .. } => "rotate_keys",
            TxBody::Propose { .. } => "propose",
            TxBody::Approve { .. } => "approve",
            TxBody::Attest { .. } => "attest",
            TxBody::IssueCredential { .. } => "issue_credential",
            TxBody::SetCredentialStatus { .. } => "set_credential_status",
            TxBody::Record(op) => op.name(),
            TxBody::Supply(op) => op.name(),
        }
    }
}

impl Write for TxBody {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            TxBody::RegisterParty {
                kind,
                signing_key,
                encryption_key,
                label,
                roles,
            } => {
                0u8.write(buf);
                kind.write(buf);
                signing_key.write(buf);
                encryption_key.write(buf);
                write_str(label, buf);
                roles.write(buf);
            }
            TxBody::RotateKeys {
                signing_key,
                encryption_key,
            } => {
                1u8.write(buf);
                signing_key.write(buf);
                encryption_key.write(buf);
            }
            TxBody::Propose { action, ttl_ms } => {
                2u8.write(buf);
                action.write(buf);
                ttl_ms.write(buf);
            }
            TxBody::Approve { proposal } => {
                3u8.write(buf);
                proposal.write(buf);
            }
            TxBody::Attest { subject, digest } => {
                4u8.write(buf);
                subject.write(buf);
                digest.write(buf);
            }
            TxBody::IssueCredential {
                subject,
                credential_type,
                jurisdiction,
                number_commitment,
                specialty,
                valid_from_ms,
                valid_until_ms,
            } => {
                5u8.write(buf);
                subject.write(buf);
                credential_type.write(buf);
                jurisdiction.write(buf);
                number_commitment.write(buf);
                crate::codec::write_opt_str(specialty.as_deref(), buf);
                valid_from_ms.write(buf);
                valid_until_ms.write(buf);
            }
            TxBody::SetCredentialStatus {
                credential,
                status,
                reason,
            } => {
                6u8.write(buf);
                credential.write(buf);
                status.write(buf);
                write_str(reason, buf);
            }
            TxBody::Record(op) => {
                7u8.write(buf);
                op.write(buf);
            }
            TxBody::Supply(op) => {
                8u8.write(buf);
                op.write(buf);
            }
        }
    }
}
impl EncodeSize for TxBody {
    fn encode_size(&self) -> usize {
        1 + match self {
            TxBody::RegisterParty {
                kind,
                signing_key,
                encryption_key,
                label,
                roles,
            } => {
                kind.encode_size()
                    + signing_key.encode_size()
                    + encryption_key.encode_size()
                    + str_size(label)
                    + roles.encode_size()
            }
            TxBody::RotateKeys {
                signing_key,
                encryption_key,
            } => signing_key.encode_size() + encryption_key.encode_size(),
            TxBody::Propose { action, ttl_ms } => action.encode_size() + ttl_ms.encode_size(),
            TxBody::Approve { proposal } => proposal.encode_size(),
            TxBody::Attest { subject, digest } => subject.encode_size() + digest.encode_size(),
            TxBody::IssueCredential {
                subject,
                credential_type,
                jurisdiction,
                number_commitment,
                specialty,
                valid_from_ms,
                valid_until_ms,
            } => {
                subject.encode_size()
                    + credential_type.encode_size()
                    + jurisdiction.encode_size()
                    + number_commitment.encode_size()
                    + crate::codec::opt_str_size(specialty.as_deref())
                    + valid_from_ms.encode_size()
                    + valid_until_ms.encode_size()
            }
            TxBody::SetCredentialStatus {
                credential,
                status,
                reason,
            } => credential.encode_size() + status.encode_size() + str_size(reason),
            TxBody::Record(op) => op.encode_size(),
            TxBody::Supply(op) => op.encode_size(),
        }
    }
}
impl Read for TxBody {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(TxBody::RegisterParty {
                kind: PartyKind::read(buf)?,
                signing_key: PublicKey::read(buf)?,
                encryption_key: EncryptionKey::read(buf)?,
                label: read_str(buf, LABEL_BYTES_MAX)?,
                roles: Roles::read(buf)?,
            }),
            1 => Ok(TxBody::RotateKeys {
                signing_key: PublicKey::read(buf)?,
                encryption_key: EncryptionKey::read(buf)?,
            }),
            2 => Ok(TxBody::Propose {
                action: GovernanceAction::read(buf)?,
                ttl_ms: u64::read(buf)?,
            }),
            3 => Ok(TxBody::Approve {
                proposal: u64::read(buf)?,
            }),
            4 => Ok(TxBody::Attest {
                subject: Hash32::read(buf)?,
                digest: Hash32::read(buf)?,
            }),
            5 => Ok(TxBody::IssueCredential {
                subject: PartyId::read(buf)?,
                credential_type: CredentialType::read(buf)?,
                jurisdiction: Jurisdiction::read(buf)?,
                number_commitment: Hash32::read(buf)?,
                specialty: crate::codec::read_opt_str(buf, SPECIALTY_BYTES_MAX)?,
                valid_from_ms: u64::read(buf)?,
                valid_until_ms: u64::read(buf)?,
            }),
            6 => Ok(TxBody::SetCredentialStatus {
                credential: CredentialId::read(buf)?,
                status: CredentialStatus::read(buf)?,
                reason: read_str(buf, REASON_BYTES_MAX)?,
            }),
            7 => Ok(TxBody::Record(crate::records::RecordOp::read(buf)?)),
            8 => Ok(TxBody::Supply(crate::supply::SupplyOp::read(buf)?)),
            other => Err(Error::InvalidEnum(other)),
        }
    }
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub chain_id: ChainId,
    pub signer: PartyId,
    pub public_key: PublicKey,
    pub nonce: u64,
    pub body: TxBody,
}

impl Write for Transaction {
    fn write(&self, buf: &mut impl BufMut) {
        self.chain_id.write(buf);
        self.signer.write(buf);
        self.public_key.write(buf);
        self.nonce.write(buf);
        self.body.write(buf);
    }
}
impl EncodeSize for Transaction {
    fn encode_size(&self) -> usize {
        self.chain_id.encode_size()
            + self.signer.encode_size()
            + self.public_key.encode_size()
            + self.nonce.encode_size()
            + self.body.encode_size()
    }
}
impl Read for Transaction {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Transaction {
            chain_id: ChainId::read(buf)?,
            signer: PartyId::read(buf)?,
            public_key: PublicKey::read(buf)?,
            nonce: u64::read(buf)?,
            body: TxBody::read(buf)?,
        })
    }
}

impl Transaction {
    /// Signs the transaction.
    pub fn sign(self, keypair: &Keypair) -> SignedTransaction {
        let signature = keypair.sign(TX_DOMAIN, &self.encode());
        SignedTransaction {
            transaction: self,
            signature,
        }
    }
}

/// A transaction with its signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    pub transaction: Transaction,
    pub signature: Signature,
}

crate::codec::struct_codec!(SignedTransaction {
    transaction: v,
    signature: v,
});

/// Why a transaction failed the checks that need no state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatelessError {
    #[error("transaction is {size} bytes; the limit is {TRANSACTION_BYTES_MAX}")]
    TooLarge { size: usize },
    #[error("transaction could not be decoded: {0}")]
    Malformed(String),
    #[error("transaction is for chain {found:?}, this is chain {expected:?}")]
    WrongChain { expected: String, found: String },
    #[error("signature does not verify under the transaction's public key")]
    BadSignature,
    #[error("invalid field: {0}")]
    InvalidField(#[from] ParseError),
}

impl SignedTransaction {
    /// The transaction's id: the hash of its canonical encoding.
    pub fn hash(&self) -> TxHash {
        TxHash(hash_parts(b"medchain/tx-hash/v1", &[&self.encode()]).0)
    }

    /// Decodes a canonical encoding, enforcing the size limit first.
    pub fn decode_canonical(bytes: &[u8]) -> Result<Self, StatelessError> {
        if bytes.len() > TRANSACTION_BYTES_MAX {
            return Err(StatelessError::TooLarge { size: bytes.len() });
        }
        SignedTransaction::decode(bytes.to_vec())
            .map_err(|err| StatelessError::Malformed(err.to_string()))
    }

    /// Checks everything that needs no state except the signature: size, chain id and field
    /// well-formedness.
    pub fn check_shape(&self, chain_id: &ChainId) -> Result<(), StatelessError> {
        let size = self.encode_size();
        if size > TRANSACTION_BYTES_MAX {
            return Err(StatelessError::TooLarge { size });
        }
        if &self.transaction.chain_id != chain_id {
            return Err(StatelessError::WrongChain {
                expected: chain_id.to_string(),
                found: self.transaction.chain_id.to_string(),
            });
        }
        match &self.transaction.body {
            TxBody::RegisterParty {
                signing_key, label, ..
            } => {
                signing_key.validate()?;
                check_label(label)?;
            }
            TxBody::RotateKeys { signing_key, .. } => signing_key.validate()?,
            TxBody::Propose { action, ttl_ms } => {
                if *ttl_ms == 0 || *ttl_ms > PROPOSAL_TTL_MS_MAX {
                    return Err(ParseError::Invalid {
                        what: "ttl_ms",
                        reason: format!("must be 1 to {PROPOSAL_TTL_MS_MAX}, found {ttl_ms}"),
                    }
                    .into());
                }
                match action {
                    GovernanceAction::AddOrganisation {
                        label, signing_key, ..
                    } => {
                        signing_key.validate()?;
                        check_label(label)?;
                    }
                    GovernanceAction::RecoverKeys { signing_key, .. } => signing_key.validate()?,
                    GovernanceAction::SetErasureRetention { days: Some(days) }
                        if *days == 0 || *days > ERASURE_RETENTION_DAYS_MAX =>
                    {
                        return Err(ParseError::Invalid {
                            what: "days",
                            reason: format!(
                                "a retention period is 1 to {ERASURE_RETENTION_DAYS_MAX} days, found {days}"
                            ),
                        }
                        .into());
                    }
                    GovernanceAction::SetCredentialRequirement { action, .. }
                        if action.is_empty()
                            || action.len() > ACTION_NAME_BYTES_MAX
                            || !action.chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
                    {
                        return Err(ParseError::Invalid {
                            what: "action",
                            reason: format!(
                                "1 to {ACTION_NAME_BYTES_MAX} lower-case letters and '_', found {action:?}"
                            ),
                        }
                        .into());
                    }
                    _ => {}
                }
            }
            TxBody::Approve { .. } | TxBody::Attest { .. } => {}
            TxBody::IssueCredential {
                specialty,
                valid_from_ms,
                valid_until_ms,
                ..
            } => {
                if valid_until_ms <= valid_from_ms {
                    return Err(ParseError::Invalid {
                        what: "valid_until_ms",
                        reason: format!(
                            "must be after valid_from_ms ({valid_from_ms}), found {valid_until_ms}"
                        ),
                    }
                    .into());
                }
                if let Some(specialty) = specialty {
                    check_text("specialty", specialty, SPECIALTY_BYTES_MAX)?;
                }
            }
            TxBody::SetCredentialStatus { reason, .. } => {
                check_text("reason", reason, REASON_BYTES_MAX)?;
            }
            TxBody::Record(op) => op.check_shape()?,
            TxBody::Supply(op) => op.check_shape()?,
        }
        Ok(())
    }

    /// Verifies the signature (strict Ed25519) over the canonical encoding.
    pub fn verify_signature(&self) -> Result<(), StatelessError> {
        let message = self.transaction.encode();
        if self
            .transaction
            .public_key
            .verify(TX_DOMAIN, &message, &self.signature)
        {
            Ok(())
        } else {
            Err(StatelessError::BadSignature)
        }
    }

    /// Every stateless check: shape, then signature.
    pub fn check_stateless(&self, chain_id: &ChainId) -> Result<(), StatelessError> {
        self.check_shape(chain_id)?;
        self.verify_signature()
    }
}

pub(crate) fn check_text(what: &'static str, text: &str, max: usize) -> Result<(), ParseError> {
    if text.len() > max {
        return Err(ParseError::Invalid {
            what,
            reason: format!("at most {max} bytes, found {}", text.len()),
        });
    }
    if text.chars().any(char::is_control) {
        return Err(ParseError::Invalid {
            what,
            reason: "control characters are not allowed".into(),
        });
    }
    Ok(())
}

fn check_label(label: &str) -> Result<(), ParseError> {
    if label.len() > LABEL_BYTES_MAX {
        return Err(ParseError::Invalid {
            what: "label",
            reason: format!("at most {LABEL_BYTES_MAX} bytes, found {}", label.len()),
        });
    }
    if label.chars().any(char::is_control) {
        return Err(ParseError::Invalid {
            what: "label",
            reason: "control characters are not allowed".into(),
        });
    }
    Ok(())
}

/// A transaction whose signature has been verified. The state machine only executes these,
/// so that a block's signatures can be checked in parallel before the sequential execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTransaction {
    signed: SignedTransaction,
    hash: TxHash,
    size: usize,
}

impl VerifiedTransaction {
    /// Runs every stateless check, including the signature.
    pub fn verify(
        signed: SignedTransaction,
        chain_id: &ChainId,
    ) -> Result<VerifiedTransaction, StatelessError> {
        signed.check_stateless(chain_id)?;
        Ok(Self::assume_verified(signed))
    }

    /// Wraps a transaction whose stateless checks passed earlier on this node (for example
    /// when it entered the mempool). The caller vouches for that.
    pub fn assume_verified(signed: SignedTransaction) -> VerifiedTransaction {
        let hash = signed.hash();
        let size = signed.encode_size();
        VerifiedTransaction { signed, hash, size }
    }

    /// The transaction's id.
    pub fn hash(&self) -> TxHash {
        self.hash
    }

    /// Its canonical size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The signed transaction.
    pub fn signed(&self) -> &SignedTransaction {
        &self.signed
    }

    /// The transaction.
    pub fn transaction(&self) -> &Transaction {
        &self.signed.transaction
    }

    /// Unwraps.
    pub fn into_signed(self) -> SignedTransaction {
        self.signed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn governance_actions_round_trip() {
        for action in [
            GovernanceAction::SetThreshold { threshold: 2 },
            GovernanceAction::SetErasureRetention { days: Some(3_650) },
            GovernanceAction::SetErasureRetention { days: None },
        ] {
            let bytes = action.encode();
            assert_eq!(bytes.len(), action.encode_size());
            assert_eq!(GovernanceAction::decode(bytes).expect("decodes"), action);
            let json = serde_json::to_string(&action).expect("json");
            assert_eq!(
                serde_json::from_str::<GovernanceAction>(&json).expect("parses"),
                action
            );
        }
    }
}
