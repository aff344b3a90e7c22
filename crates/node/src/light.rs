//! The light verifier: checks a state proof offline, with nothing but the genesis file.
//!
//! 1. The genesis names the validators; their keys make the certificate verifier.
//! 2. The finalization certificate must carry a quorum of valid validator signatures over the
//!    digest of the certified block, which the verifier recomputes from the context and
//!    header it was given.
//! 3. Each linked header must be the parent of the one above it (parent hash = digest of
//!    context and header), down to the proven header.
//! 4. The database proof must verify against the proven header's state root, for the
//!    SHA-256 of the raw key and the claimed value (or its absence).
//!
//! A proof is only as good as the question it answers. [`verify_state`] takes the key the
//! caller derived from its own question and refuses a proof of any other key, however valid:
//! a node that answers "is credential X valid?" with a genuine proof of credential Y is caught
//! here, not by each caller remembering to compare. [`verify_any_state`] is for the one caller
//! that has no question of its own (checking a saved answer file, whose proven key it then
//! shows).

use crate::{
    app::Scheme,
    db::{Blob, StateAbsenceProof, StateValueProof, state_key},
    engine::{consensus_namespace, validator_keys},
};
use commonware_codec::Decode as _;
use commonware_consensus::{simplex::types::Finalization, types::Epoch};
use commonware_cryptography::{Sha256, certificate::Verifier as _, sha256};
use commonware_parallel::Sequential;
use commonware_storage::{
    merkle::mmr::MAX_PROOF_DIGESTS_PER_ELEMENT, qmdb::any::value::VariableEncoding,
};
use medchain_types::{
    Genesis, Hash32, Header,
    api::{ContextHeader, Finality, ProofKind, StateResponse},
    block_digest,
};

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    #[error(
        "the finalization certificate is for block {found}, not the certified header's block {expected}"
    )]
    WrongBlock { expected: String, found: String },
    #[error("the finalization certificate is not signed by a quorum of the genesis validators")]
    BadCertificate,
    #[error("header at height {height} is not the parent of the header above it")]
    BrokenLink { height: u64 },
    #[error("the proof claims height {claimed} but its headers end at height {found}")]
    WrongHeight { claimed: u64, found: u64 },
    #[error("the state proof does not verify against the state root {root} of height {height}")]
    BadProof { root: Hash32, height: u64 },
    #[error("the response carries no proof")]
    NoProof,
    #[error("the proof is of {found}, not of {expected}, the key the question asks about")]
    WrongKey { expected: String, found: String },
    #[error("header at height {height} has no parent height: the links are malformed")]
    NoParent { height: u64 },
    #[error("the answer's `{field}` is not what its proof shows")]
    Unproven { field: &'static str },
}

fn hex_bytes(what: &'static str, text: &str) -> Result<Vec<u8>, VerifyError> {
    hex::decode(text).map_err(|err| VerifyError::Malformed {
        what,
        reason: err.to_string(),
    })
}

fn digest_of(header: &ContextHeader) -> Result<Hash32, VerifyError> {
    let context = hex_bytes("context", &header.context)?;
    Ok(Hash32(block_digest(&context, &header.header).0))
}

/// Checks a finality bundle against the genesis validators and returns the proven header.
pub fn verify_finality(genesis: &Genesis, finality: &Finality) -> Result<Header, VerifyError> {
    let set = commonware_utils::ordered::Set::try_from(validator_keys(genesis)).map_err(|_| {
        VerifyError::Malformed {
            what: "genesis",
            reason: "duplicate validator keys".into(),
        }
    })?;
    let verifier = Scheme::verifier(&consensus_namespace(genesis), set);
    let bytes = hex_bytes("finalization", &finality.finalization)?;
    let certificate = Finalization::<Scheme, sha256::Digest>::decode_cfg(
        bytes,
        &verifier.certificate_codec_config(),
    )
    .map_err(|err| VerifyError::Malformed {
        what: "finalization",
        reason: err.to_string(),
    })?;
    let certified = digest_of(&finality.certified)?;
    if certificate.proposal.payload.0 != certified.0 {
        return Err(VerifyError::WrongBlock {
            expected: certified.to_hex(),
            found: hex::encode(certificate.proposal.payload.0),
        });
    }
    if certificate.proposal.round.epoch() != Epoch::zero() {
        return Err(VerifyError::BadCertificate);
    }
    let mut rng = commonware_utils::sys_rng();
    if !certificate.verify(&mut rng, &verifier, &Sequential) {
        return Err(VerifyError::BadCertificate);
    }
    let mut child = finality.certified.header.clone();
    for link in &finality.links {
        let digest = digest_of(link)?;
        // A link must sit exactly one height below its child; a height of u64::MAX has no
        // child, so its "+ 1" is refused rather than wrapped.
        let above = link
            .header
            .height
            .checked_add(1)
            .ok_or(VerifyError::NoParent {
                height: link.header.height,
            })?;
        if child.parent.0 != digest.0 || above != child.height {
            return Err(VerifyError::BrokenLink {
                height: link.header.height,
            });
        }
        child = link.header.clone();
    }
    Ok(child)
}

/// What a verified state proof shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedState {
    pub height: u64,
    /// The proven block's time (milliseconds since the Unix epoch), from its header.
    pub time_ms: u64,
    pub state_root: Hash32,
    pub key: Vec<u8>,
    /// The value, or `None` for a proven absence.
    pub value: Option<Vec<u8>>,
    /// The value rendered as JSON, when its key's kind is known (what the answer's `decoded`
    /// must be).
    pub decoded: Option<serde_json::Value>,
}

/// Verifies a state answer (as served by `GET /v1/state/{key}?proof=true`) offline, and that
/// it proves `key`: the raw state key the caller derived from its question (for example
/// `medchain_state::credentials::credential_key(&id)`), never one taken from the answer.
pub fn verify_state(
    genesis: &Genesis,
    response: &StateResponse,
    key: &[u8],
) -> Result<VerifiedState, VerifyError> {
    let verified = verify_any_state(genesis, response)?;
    if verified.key != key {
        return Err(VerifyError::WrongKey {
            expected: medchain_state::keys::describe(key),
            found: medchain_state::keys::describe(&verified.key),
        });
    }
    Ok(verified)
}

/// Verifies a state answer offline whatever key it is for, answering which key it proves.
/// Only for a caller with no question of its own (checking a saved answer file): anything
/// that asked about a key uses [`verify_state`].
pub fn verify_any_state(
    genesis: &Genesis,
    response: &StateResponse,
) -> Result<VerifiedState, VerifyError> {
    let proof = response.proof.as_ref().ok_or(VerifyError::NoProof)?;
    let header = verify_finality(genesis, &proof.finality)?;
    verify_under(&header, response)
}

/// Verifies a state answer's database proof against `header`, a header the caller has
/// already proven final with [`verify_finality`] (for the answer's own `finality`): the many
/// entries of one answer, proven at one height, share a certificate checked once.
pub fn verify_under(
    header: &Header,
    response: &StateResponse,
) -> Result<VerifiedState, VerifyError> {
    let proof = response.proof.as_ref().ok_or(VerifyError::NoProof)?;
    if header.height != proof.height {
        return Err(VerifyError::WrongHeight {
            claimed: proof.height,
            found: header.height,
        });
    }
    let key = hex_bytes("key", &response.key_hex)?;
    let root = sha256::Digest(header.state_root.0);
    let proof_bytes = hex_bytes("proof", &proof.proof)?;
    let database_key = state_key(&key);
    let verified = match (proof.kind, &response.value) {
        (ProofKind::Value, Some(value)) => {
            let value = hex_bytes("value", value)?;
            let decoded =
                StateValueProof::decode_cfg(proof_bytes, &(MAX_PROOF_DIGESTS_PER_ELEMENT, ()))
                    .map_err(|err| VerifyError::Malformed {
                        what: "value proof",
                        reason: err.to_string(),
                    })?;
            let ok = decoded.verify::<Sha256, VariableEncoding<Blob>>(
                database_key,
                Blob(value.clone()),
                &root,
            );
            ok.then_some(Some(value))
        }
        (ProofKind::Absence, None) => {
            let decoded = StateAbsenceProof::decode_cfg(
                proof_bytes,
                &(MAX_PROOF_DIGESTS_PER_ELEMENT, ((), ()), ()),
            )
            .map_err(|err| VerifyError::Malformed {
                what: "absence proof",
                reason: err.to_string(),
            })?;
            decoded
                .verify::<Sha256>(&database_key, &root)
                .then_some(None)
        }
        _ => {
            return Err(VerifyError::Malformed {
                what: "state response",
                reason: "a value proof needs a value and an absence proof none".into(),
            });
        }
    };
    let Some(value) = verified else {
        return Err(VerifyError::BadProof {
            root: header.state_root,
            height: header.height,
        });
    };
    // The answer carries nothing the proof does not: its key's text, its height and its
    // decoded view must be what the proven key and value are.
    let unproven = |field: &'static str| Err(VerifyError::Unproven { field });
    if response.key != medchain_state::keys::describe(&key) {
        return unproven("key");
    }
    if response.height != header.height {
        return unproven("height");
    }
    let decoded = value
        .as_deref()
        .and_then(|bytes| crate::service::decode_value(&key, bytes));
    if response.decoded != decoded {
        return unproven("decoded");
    }
    Ok(VerifiedState {
        height: header.height,
        time_ms: header.time_ms,
        state_root: header.state_root,
        key,
        value,
        decoded,
    })
}
