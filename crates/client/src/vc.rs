//! W3C Verifiable Credentials (Data Model 2.0) for medchain credentials.
//!
//! [`export`] turns an on-chain credential into a VC signed by its issuer with a Data Integrity
//! proof, cryptosuite `eddsa-jcs-2022`: the document and the proof options are canonicalized
//! with JCS (RFC 8785), hashed with SHA-256 (options hash first), and the concatenation is
//! signed with the issuer's Ed25519 key, named as a `did:key`. The credential's status entry
//! points back at the chain.
//!
//! [`verify`] checks a VC offline: the proof, over every field. [`verify_on_chain`] then ties
//! it to the chain with proofs checked against the genesis alone: the credential on chain has
//! the VC's fields and is valid now, and the issuer's current key is the one that signed.

use medchain_types::{
    ChainId, KeyRecord, PartyId, PublicKey, Signature,
    api::StateResponse,
    credential::{Credential, CredentialId, Standing},
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// Why a VC was refused.
#[derive(Debug, thiserror::Error)]
pub enum VcError {
    #[error("malformed VC: {0}")]
    Malformed(String),
    #[error("the VC's proof does not verify: it was altered or not signed by its issuer key")]
    BadProof,
    #[error("the VC does not match the credential on chain: {0}")]
    Mismatch(String),
    #[error("the credential is {0} on chain")]
    NotValid(&'static str),
    #[error("the issuer's signing key is not trusted for this VC: {0}")]
    UntrustedKey(&'static str),
    #[error("chain proof: {0}")]
    Chain(String),
}

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Base58 (Bitcoin alphabet).
fn base58_encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    let mut digits: Vec<u8> = Vec::new();
    for byte in bytes {
        let mut carry = u32::from(*byte);
        for digit in digits.iter_mut() {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = "1".repeat(zeros);
    out.extend(digits.iter().rev().map(|d| ALPHABET[*d as usize] as char));
    out
}

fn base58_decode(text: &str) -> Option<Vec<u8>> {
    let zeros = text.bytes().take_while(|c| *c == b'1').count();
    let mut bytes: Vec<u8> = Vec::new();
    for c in text.bytes() {
        let mut carry = ALPHABET.iter().position(|a| *a == c)? as u32;
        for byte in bytes.iter_mut() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; zeros];
    out.extend(bytes.iter().rev());
    Some(out)
}

/// The `did:key` of an Ed25519 public key (multicodec 0xed01, base58btc multibase).
pub fn did_key(key: &PublicKey) -> String {
    let mut bytes = vec![0xed, 0x01];
    bytes.extend_from_slice(&key.0);
    format!("did:key:z{}", base58_encode(&bytes))
}

/// The Ed25519 key of a `did:key`.
pub fn parse_did_key(did: &str) -> Result<PublicKey, VcError> {
    let encoded = did
        .strip_prefix("did:key:z")
        .ok_or_else(|| VcError::Malformed(format!("not an Ed25519 did:key: {did}")))?;
    let bytes = base58_decode(encoded).ok_or_else(|| VcError::Malformed("bad base58".into()))?;
    match bytes.as_slice() {
        [0xed, 0x01, key @ ..] if key.len() == 32 => {
            PublicKey::from_slice(key).map_err(|err| VcError::Malformed(err.to_string()))
        }
        _ => Err(VcError::Malformed("not an Ed25519 did:key".into())),
    }
}

/// JCS (RFC 8785) for the values a medchain VC holds: objects with sorted keys, arrays, strings,
/// integers, booleans and null, with serde_json's string escaping (which matches JCS for them).
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| {
                a.0.encode_utf16()
                    .collect::<Vec<_>>()
                    .cmp(&b.0.encode_utf16().collect::<Vec<_>>())
            });
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(key, value)| {
                    format!("{}:{}", Value::String(key.clone()), canonical_json(value))
                })
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(canonical_json)
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

pub use medchain_types::time::{parse_rfc3339, rfc3339};

fn hash_data(document: &Value, proof_options: &Value) -> Vec<u8> {
    let mut data = Sha256::digest(canonical_json(proof_options).as_bytes()).to_vec();
    data.extend_from_slice(&Sha256::digest(canonical_json(document).as_bytes()));
    data
}

/// Exports `credential` as a VC signed by its issuer (`issuer` must hold the issuer's current
/// signing key).
pub fn export(
    credential: &Credential,
    chain_id: &ChainId,
    issuer: &crate::keys::PartyKeys,
    created_ms: u64,
) -> Result<Value, VcError> {
    if issuer.party_id != credential.issuer {
        return Err(VcError::Mismatch(format!(
            "the signing party {} is not the credential's issuer {}",
            issuer.party_id, credential.issuer
        )));
    }
    let did = did_key(&issuer.public_key());
    let mut subject = json!({
        "id": format!("urn:medchain:{chain_id}:party:{}", credential.subject),
        "credentialType": credential.credential_type.as_str(),
        "jurisdiction": credential.jurisdiction.as_str(),
        "licenceNumberCommitment": credential.number_commitment.to_hex(),
    });
    if let Some(specialty) = &credential.specialty {
        subject["specialty"] = Value::String(specialty.clone());
    }
    let document = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "MedchainCredential"],
        "id": format!("urn:medchain:{chain_id}:credential:{}", credential.id),
        "issuer": { "id": did, "medchainParty": credential.issuer.to_hex() },
        "validFrom": rfc3339(credential.valid_from_ms),
        "validUntil": rfc3339(credential.valid_until_ms),
        "credentialSubject": subject,
        "credentialStatus": {
            "id": format!("urn:medchain:{chain_id}:credential:{}#status", credential.id),
            "type": "MedchainCredentialStatus",
            "chain": chain_id.as_str(),
            "credential": credential.id.to_hex(),
        },
    });
    let mut options = json!({
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": rfc3339(created_ms),
        "verificationMethod": format!("{did}#{}", did.trim_start_matches("did:key:")),
        "proofPurpose": "assertionMethod",
        "@context": document["@context"].clone(),
    });
    let signature = issuer.signing.sign(b"", &hash_data(&document, &options));
    // The proof keeps its `@context`, as the eddsa-jcs-2022 "Create Proof" algorithm says.
    if let Value::Object(map) = &mut options {
        map.insert(
            "proofValue".into(),
            Value::String(format!("z{}", base58_encode(&signature.0))),
        );
    }
    let mut vc = document;
    vc["proof"] = options;
    Ok(vc)
}

/// What a verified VC says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedVc {
    pub credential: CredentialId,
    pub issuer_party: PartyId,
    pub issuer_key: PublicKey,
    /// When the proof says it was made (`proof.created`), in milliseconds since the epoch.
    pub created_ms: u64,
    pub document: Value,
}

fn field<'a>(value: &'a Value, path: &[&str]) -> Result<&'a str, VcError> {
    let mut current = value;
    for key in path {
        current = current
            .get(key)
            .ok_or_else(|| VcError::Malformed(format!("missing {}", path.join("."))))?;
    }
    current
        .as_str()
        .ok_or_else(|| VcError::Malformed(format!("{} is not a string", path.join("."))))
}

/// Checks a VC's proof offline.
pub fn verify(vc: &Value) -> Result<VerifiedVc, VcError> {
    let mut document = vc.clone();
    let proof = match &mut document {
        Value::Object(map) => map.remove("proof"),
        _ => None,
    }
    .ok_or_else(|| VcError::Malformed("no proof".into()))?;
    if field(&proof, &["type"])? != "DataIntegrityProof"
        || field(&proof, &["cryptosuite"])? != "eddsa-jcs-2022"
    {
        return Err(VcError::Malformed(
            "only DataIntegrityProof / eddsa-jcs-2022 is supported".into(),
        ));
    }
    let issuer_did = field(&document, &["issuer", "id"])?;
    let method = field(&proof, &["verificationMethod"])?;
    if method.split('#').next() != Some(issuer_did) {
        return Err(VcError::Malformed(
            "the verification method is not the issuer's key".into(),
        ));
    }
    let key = parse_did_key(issuer_did)?;
    let proof_value = field(&proof, &["proofValue"])?;
    let signature = proof_value
        .strip_prefix('z')
        .and_then(base58_decode)
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or_else(|| {
            VcError::Malformed("proofValue is not a base58btc Ed25519 signature".into())
        })?;
    // eddsa-jcs-2022 "Verify Proof": the proof options are the proof without its value; when
    // they carry an `@context`, the document's must begin with it, and is replaced by it.
    let mut options = proof.clone();
    if let Value::Object(map) = &mut options {
        map.remove("proofValue");
    }
    if let Some(context) = options.get("@context") {
        let listed = |value: &Value| match value {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        let document_context = document.get("@context").map(listed).unwrap_or_default();
        let proof_context = listed(context);
        if !document_context.starts_with(&proof_context) {
            return Err(VcError::Malformed(
                "the proof's @context is not a prefix of the document's".into(),
            ));
        }
        document["@context"] = context.clone();
    }
    if !key.verify(b"", &hash_data(&document, &options), &signature) {
        return Err(VcError::BadProof);
    }
    let credential = CredentialId::from_hex(field(&document, &["credentialStatus", "credential"])?)
        .map_err(|err| VcError::Malformed(err.to_string()))?;
    let issuer_party = PartyId::from_hex(field(&document, &["issuer", "medchainParty"])?)
        .map_err(|err| VcError::Malformed(err.to_string()))?;
    let created_ms = parse_rfc3339(field(&proof, &["created"])?)
        .ok_or_else(|| VcError::Malformed("proof.created is not an RFC 3339 date-time".into()))?;
    Ok(VerifiedVc {
        credential,
        issuer_party,
        issuer_key: key,
        created_ms,
        document,
    })
}

/// Ties a verified VC to the chain: `credential` and `issuer_key` are the state answers (with
/// proofs) for the credential (`credential/<id>`) and for the key that signed the VC
/// (`key/<public key>`), each checked by `verifier` against the keys derived from the VC
/// itself and for freshness. Validity is judged at the proven credential's block time, never
/// at a time a node reports.
///
/// The key must have been the issuer's when the proof says it was made, and must not have been
/// replaced since as compromised: a VC made before its issuer rotated keys stays good, one made
/// with a key after it was rotated out, or with a key governance recovered, is refused.
pub fn verify_on_chain(
    verifier: &crate::proven::Verifier,
    vc: &VerifiedVc,
    credential: &StateResponse,
    issuer_key: &StateResponse,
) -> Result<Credential, VcError> {
    use commonware_codec::DecodeExt as _;
    let genesis = verifier.genesis();
    let chain = |err: crate::proven::ProvenError| VcError::Chain(err.to_string());
    let (proven, value) = verifier
        .verify_one(
            credential,
            &medchain_state::credentials::credential_key(&vc.credential),
        )
        .map_err(chain)?;
    let now_ms = proven.time_ms;
    let bytes = value.ok_or_else(|| VcError::Chain("the credential is not on chain".into()))?;
    let on_chain = Credential::decode(bytes).map_err(|err| VcError::Chain(err.to_string()))?;
    let chain_id = genesis.chain_id.as_str();
    let expected = [
        (
            vec!["id"],
            format!("urn:medchain:{chain_id}:credential:{}", on_chain.id),
        ),
        (
            vec!["credentialSubject", "id"],
            format!("urn:medchain:{chain_id}:party:{}", on_chain.subject),
        ),
        (
            vec!["credentialSubject", "credentialType"],
            on_chain.credential_type.to_string(),
        ),
        (
            vec!["credentialSubject", "jurisdiction"],
            on_chain.jurisdiction.to_string(),
        ),
        (
            vec!["credentialSubject", "licenceNumberCommitment"],
            on_chain.number_commitment.to_hex(),
        ),
        (vec!["validFrom"], rfc3339(on_chain.valid_from_ms)),
        (vec!["validUntil"], rfc3339(on_chain.valid_until_ms)),
        (vec!["issuer", "medchainParty"], on_chain.issuer.to_hex()),
    ];
    for (path, value) in expected {
        if field(&vc.document, &path)? != value {
            return Err(VcError::Mismatch(format!("{} differs", path.join("."))));
        }
    }
    if vc.credential != on_chain.id {
        return Err(VcError::Mismatch(
            "credentialStatus.credential differs".into(),
        ));
    }
    let (_, key_value) = verifier
        .verify_one(
            issuer_key,
            &medchain_state::keys::signing_key(&vc.issuer_key),
        )
        .map_err(chain)?;
    let record = KeyRecord::decode(
        key_value.ok_or_else(|| VcError::Chain("the signing key was never registered".into()))?,
    )
    .map_err(|err| VcError::Chain(err.to_string()))?;
    if record.party != on_chain.issuer {
        return Err(VcError::Mismatch(
            "the signing key belongs to another party than the credential's issuer".into(),
        ));
    }
    record
        .trusted_at(vc.created_ms)
        .map_err(VcError::UntrustedKey)?;
    match on_chain.standing_at(now_ms) {
        Standing::Valid => Ok(on_chain),
        other => Err(VcError::NotValid(other.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PartyKeys;

    #[test]
    fn base58_and_did_key_round_trip() {
        for bytes in [vec![], vec![0, 0, 1], vec![255; 40], (0u8..64).collect()] {
            assert_eq!(base58_decode(&base58_encode(&bytes)), Some(bytes));
        }
        let key = PartyKeys::dev("hospital").public_key();
        assert!(did_key(&key).starts_with("did:key:z6Mk"));
        assert_eq!(parse_did_key(&did_key(&key)).expect("parses"), key);
    }
}
