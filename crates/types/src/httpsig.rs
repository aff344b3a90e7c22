//! HTTP Message Signatures (RFC 9421) with Ed25519 or session HMAC-SHA256, and
//! `Content-Digest` (RFC 9530).
//!
//! This module builds and parses the pieces: the signature base from a request's components,
//! the `Signature-Input` and `Signature` fields, and the content digest. What a medchain
//! server requires of a signature (the components it must cover, the time window, the nonce)
//! is [`Policy`]; it is enforced by [`verify`].
//!
//! medchain's requests are signed under the label `medchain`, covering `@method`,
//! `@authority`, `@path`, `@query` and, when there is a body, `content-digest`, with the
//! parameters `created`, `expires` (at most five minutes later), `nonce`, `keyid` and `alg`:
//! - `alg="ed25519"`: `keyid` is the signer's party id (hex), and the signature verifies with
//!   the party's current key on chain;
//! - `alg="hmac-sha256"` (RFC 9421 section 3.3.3): `keyid` is a session id (32 hex digits) that
//!   the node issued to the party after an Ed25519-signed request, and the signature is an
//!   HMAC-SHA256 under the session's 32-byte secret. A session saves the Ed25519 signing and
//!   verification of every request; it is only as good as the node that issued it, which is
//!   the node it authenticates the party to.

use crate::{
    ids::PartyId,
    keys::{Keypair, PublicKey, Signature},
};
use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

/// The label medchain signs under.
pub const LABEL: &str = "medchain";
/// The components a medchain request signature covers (plus `content-digest` with a body).
pub const COMPONENTS: &[&str] = &["@method", "@authority", "@path", "@query"];
/// How long a signature is valid, in seconds.
pub const LIFETIME_SECS: u64 = 300;
/// `alg` of a party's Ed25519 signature.
pub const ALG_ED25519: &str = "ed25519";
/// `alg` of a session's HMAC-SHA256 signature.
pub const ALG_SESSION: &str = "hmac-sha256";
/// Hex digits of a session id (16 random bytes).
pub const SESSION_ID_HEX: usize = 32;

/// Who a signature says signed it, from its `keyid` and `alg`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyId {
    /// A party, signing with its Ed25519 key.
    Party(PartyId),
    /// A session a node issued (lower-case hex), signing with HMAC-SHA256.
    Session(String),
}

/// The key a signature is checked with.
#[derive(Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// The party's current Ed25519 key.
    Ed25519(PublicKey),
    /// The session's party and secret.
    Session { party: PartyId, secret: [u8; 32] },
}

impl core::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Ed25519(key) => write!(f, "Ed25519({key})"),
            Self::Session { party, .. } => write!(f, "Session({party})"),
        }
    }
}

/// How a client signs: with its party key, or with a session's secret.
#[derive(Clone, Copy)]
pub enum Signer<'a> {
    Party {
        keypair: &'a Keypair,
        party: &'a PartyId,
    },
    Session {
        id: &'a str,
        secret: &'a [u8; 32],
    },
}

/// HMAC-SHA256 of a signature base (RFC 9421 section 3.3.3).
pub fn hmac_sha256(secret: &[u8], base: &[u8]) -> [u8; 32] {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(base);
    mac.finalize().into_bytes().into()
}

fn hmac_matches(secret: &[u8], base: &[u8], tag: &[u8]) -> bool {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(base);
    mac.verify_slice(tag).is_ok()
}

/// Who signed, by the signature's parameters: `alg="hmac-sha256"` names a session, anything
/// else (`alg="ed25519"` or no `alg`) a party.
pub fn key_id(params: &Params) -> Result<KeyId, HttpSigError> {
    let keyid = params
        .keyid
        .as_deref()
        .ok_or_else(|| malformed("Signature-Input", "keyid is required"))?;
    match params.alg.as_deref() {
        Some(ALG_SESSION) => {
            if keyid.len() == SESSION_ID_HEX
                && keyid
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                Ok(KeyId::Session(keyid.to_string()))
            } else {
                Err(malformed(
                    "Signature-Input",
                    "with alg=\"hmac-sha256\", keyid must be a session id (32 lower-case hex digits)",
                ))
            }
        }
        None | Some(ALG_ED25519) => PartyId::from_hex(keyid).map(KeyId::Party).map_err(|_| {
            malformed(
                "Signature-Input",
                "keyid must be the signer's party id (hex)",
            )
        }),
        Some(other) => Err(malformed(
            "Signature-Input",
            format!("alg must be ed25519 or hmac-sha256, not {other:?}"),
        )),
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSigError {
    #[error("the request is not signed: no {0} field")]
    Missing(&'static str),
    #[error("malformed {field}: {reason}")]
    Malformed { field: &'static str, reason: String },
    #[error("the signature does not cover {0}")]
    NotCovered(String),
    #[error("the signature is stale or not yet valid: {0}")]
    Stale(String),
    #[error("the nonce was already used")]
    Replayed,
    #[error("the body does not match its Content-Digest")]
    DigestMismatch,
    #[error("the signature does not verify with the signer's current key")]
    BadSignature,
}

fn malformed(field: &'static str, reason: impl Into<String>) -> HttpSigError {
    HttpSigError::Malformed {
        field,
        reason: reason.into(),
    }
}

/// The parts of a request a signature can cover.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// Host and port as the client addressed them (`127.0.0.1:8080`, `example.com`).
    pub authority: &'a str,
    /// The path as sent (`/v1/records/abc`).
    pub path: &'a str,
    /// The query string without its `?`, if there is one.
    pub query: Option<&'a str>,
    /// Header fields by lower-case name (for covered fields such as `content-digest`).
    pub headers: Vec<(String, String)>,
}

impl Request<'_> {
    fn component(&self, name: &str) -> Result<String, HttpSigError> {
        Ok(match name {
            "@method" => self.method.to_ascii_uppercase(),
            "@authority" => self.authority.to_ascii_lowercase(),
            "@path" => {
                if self.path.is_empty() {
                    "/".into()
                } else {
                    self.path.to_string()
                }
            }
            "@query" => format!("?{}", self.query.unwrap_or("")),
            "@target-uri" | "@scheme" | "@request-target" | "@status" | "@query-param" => {
                return Err(HttpSigError::NotCovered(format!(
                    "{name} (not supported by medchain)"
                )));
            }
            field => {
                let values: Vec<&str> = self
                    .headers
                    .iter()
                    .filter(|(key, _)| key.eq_ignore_ascii_case(field))
                    .map(|(_, value)| value.trim())
                    .collect();
                if values.is_empty() {
                    return Err(HttpSigError::NotCovered(format!(
                        "{field} (absent from the request)"
                    )));
                }
                values.join(", ")
            }
        })
    }
}

/// `sha-256=:<base64>:` of a body (RFC 9530).
pub fn content_digest(body: &[u8]) -> String {
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
    )
}

/// The parameters of one signature, as parsed from `Signature-Input`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Covered components, in order.
    pub components: Vec<String>,
    pub created: Option<u64>,
    pub expires: Option<u64>,
    pub nonce: Option<String>,
    pub keyid: Option<String>,
    pub alg: Option<String>,
    /// The inner list exactly as serialized, which the signature base repeats.
    pub serialized: String,
}

impl Params {
    /// Serializes the inner list in the canonical form of RFC 8941.
    pub fn serialize(
        components: &[&str],
        created: Option<u64>,
        expires: Option<u64>,
        nonce: Option<&str>,
        keyid: Option<&str>,
        alg: Option<&str>,
    ) -> String {
        let mut out = format!(
            "({})",
            components
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(" ")
        );
        if let Some(created) = created {
            out.push_str(&format!(";created={created}"));
        }
        if let Some(expires) = expires {
            out.push_str(&format!(";expires={expires}"));
        }
        if let Some(nonce) = nonce {
            out.push_str(&format!(";nonce=\"{nonce}\""));
        }
        if let Some(keyid) = keyid {
            out.push_str(&format!(";keyid=\"{keyid}\""));
        }
        if let Some(alg) = alg {
            out.push_str(&format!(";alg=\"{alg}\""));
        }
        out
    }
}

/// The signature base (RFC 9421 section 2.5) of `request` for `params`.
pub fn signature_base(request: &Request<'_>, params: &Params) -> Result<String, HttpSigError> {
    let mut base = String::new();
    for component in &params.components {
        if params.components.iter().filter(|c| *c == component).count() > 1 {
            return Err(malformed(
                "Signature-Input",
                format!("{component} is covered twice"),
            ));
        }
        base.push_str(&format!(
            "\"{component}\": {}\n",
            request.component(component)?
        ));
    }
    base.push_str(&format!("\"@signature-params\": {}", params.serialized));
    Ok(base)
}

/// Splits a dictionary field (`label=value, label2=value2`) into members, respecting quotes
/// and parentheses.
fn dictionary_members(field: &str) -> Vec<(&str, &str)> {
    let mut members = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    let bytes = field.as_bytes();
    for (i, byte) in bytes.iter().enumerate() {
        match byte {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b',' if !quoted && depth == 0 => {
                members.push(&field[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    members.push(&field[start..]);
    members
        .into_iter()
        .filter_map(|member| {
            let member = member.trim();
            member
                .split_once('=')
                .map(|(key, value)| (key.trim(), value.trim()))
        })
        .collect()
}

fn member<'a>(
    field_name: &'static str,
    field: &'a str,
    label: &str,
) -> Result<&'a str, HttpSigError> {
    dictionary_members(field)
        .into_iter()
        .find(|(key, _)| *key == label)
        .map(|(_, value)| value)
        .ok_or_else(|| malformed(field_name, format!("no member labelled {label:?}")))
}

fn sf_string(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') || !inner.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    Some(inner.to_string())
}

/// Parses the `Signature-Input` member under `label`.
pub fn parse_input(field: &str, label: &str) -> Result<Params, HttpSigError> {
    const NAME: &str = "Signature-Input";
    let value = member(NAME, field, label)?;
    let close = value
        .find(')')
        .ok_or_else(|| malformed(NAME, "expected an inner list"))?;
    let list = value
        .strip_prefix('(')
        .ok_or_else(|| malformed(NAME, "expected an inner list"))?;
    let components: Vec<String> = list[..close - 1]
        .split_whitespace()
        .map(|item| sf_string(item).ok_or_else(|| malformed(NAME, format!("bad component {item}"))))
        .collect::<Result<_, _>>()?;
    let mut params = Params {
        components,
        created: None,
        expires: None,
        nonce: None,
        keyid: None,
        alg: None,
        serialized: value.to_string(),
    };
    for param in value[close + 1..].split(';').filter(|p| !p.is_empty()) {
        let (key, raw) = param
            .split_once('=')
            .ok_or_else(|| malformed(NAME, format!("bad parameter {param}")))?;
        let number = || {
            raw.parse::<u64>()
                .map_err(|_| malformed(NAME, format!("{key} must be an integer")))
        };
        let string =
            || sf_string(raw).ok_or_else(|| malformed(NAME, format!("{key} must be a string")));
        match key {
            "created" => params.created = Some(number()?),
            "expires" => params.expires = Some(number()?),
            "nonce" => params.nonce = Some(string()?),
            "keyid" => params.keyid = Some(string()?),
            "alg" => params.alg = Some(string()?),
            "tag" => {}
            other => return Err(malformed(NAME, format!("unknown parameter {other}"))),
        }
    }
    Ok(params)
}

/// Parses the `Signature` member under `label`: a byte sequence.
pub fn parse_signature_bytes(field: &str, label: &str) -> Result<Vec<u8>, HttpSigError> {
    const NAME: &str = "Signature";
    let value = member(NAME, field, label)?;
    let encoded = value
        .strip_prefix(':')
        .and_then(|v| v.strip_suffix(':'))
        .ok_or_else(|| malformed(NAME, "expected a byte sequence :...:"))?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| malformed(NAME, "not base64"))
}

/// Parses the `Signature` member under `label`: an Ed25519 signature as a byte sequence.
pub fn parse_signature(field: &str, label: &str) -> Result<Signature, HttpSigError> {
    let bytes = parse_signature_bytes(field, label)?;
    Signature::from_slice(&bytes)
        .map_err(|_| malformed("Signature", "not a 64-byte Ed25519 signature"))
}

/// The header fields a signed request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedFields {
    pub signature_input: String,
    pub signature: String,
    /// `Content-Digest`, when the request has a body.
    pub content_digest: Option<String>,
}

/// Signs a request with a party's Ed25519 key; see [`sign_with`].
pub fn sign(
    keypair: &Keypair,
    party: &PartyId,
    request: &Request<'_>,
    body: &[u8],
    created: u64,
    nonce: &str,
) -> SignedFields {
    sign_with(
        Signer::Party { keypair, party },
        request,
        body,
        created,
        nonce,
    )
}

/// Signs a request the way medchain clients do. `request.headers` need not hold the
/// content digest: it is computed from `body` and covered when `body` is not empty.
pub fn sign_with(
    signer: Signer<'_>,
    request: &Request<'_>,
    body: &[u8],
    created: u64,
    nonce: &str,
) -> SignedFields {
    let mut components: Vec<&str> = COMPONENTS.to_vec();
    let mut request = request.clone();
    let content_digest = (!body.is_empty()).then(|| content_digest(body));
    if let Some(digest) = &content_digest {
        components.push("content-digest");
        request
            .headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-digest"));
        request
            .headers
            .push(("content-digest".into(), digest.clone()));
    }
    let (keyid, alg) = match signer {
        Signer::Party { party, .. } => (party.to_hex(), ALG_ED25519),
        Signer::Session { id, .. } => (id.to_string(), ALG_SESSION),
    };
    let serialized = Params::serialize(
        &components,
        Some(created),
        Some(created + LIFETIME_SECS),
        Some(nonce),
        Some(&keyid),
        Some(alg),
    );
    let params = Params {
        components: components.iter().map(|c| c.to_string()).collect(),
        created: Some(created),
        expires: Some(created + LIFETIME_SECS),
        nonce: Some(nonce.into()),
        keyid: Some(keyid),
        alg: Some(alg.into()),
        serialized: serialized.clone(),
    };
    let base = signature_base(&request, &params).expect("medchain's own components are present");
    let signature = match signer {
        Signer::Party { keypair, .. } => keypair.sign(b"", base.as_bytes()).0.to_vec(),
        Signer::Session { secret, .. } => hmac_sha256(secret, base.as_bytes()).to_vec(),
    };
    SignedFields {
        signature_input: format!("{LABEL}={serialized}"),
        signature: format!(
            "{LABEL}=:{}:",
            base64::engine::general_purpose::STANDARD.encode(signature)
        ),
        content_digest,
    }
}

/// What a server requires of a request signature.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The server's clock, in Unix seconds.
    pub now: u64,
    /// How far in the future `created` may be (clock skew).
    pub skew_secs: u64,
}

/// A verified signature's signer and nonce (for the caller's replay check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub party: PartyId,
    /// The session it was signed under, if it was.
    pub session: Option<String>,
    pub nonce: String,
    pub expires: u64,
}

/// Parses and checks a medchain request signature: the label, the covered components
/// (including `content-digest`, checked against `body`, when there is a body), the time window,
/// and the signature with `key_of(keyid)`: the party's current Ed25519 key, or the session's
/// party and secret.
pub fn verify(
    request: &Request<'_>,
    body: &[u8],
    policy: &Policy,
    key_of: impl FnOnce(&KeyId) -> Option<VerifyingKey>,
) -> Result<Verified, HttpSigError> {
    let header = |name: &'static str| {
        request
            .headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .ok_or(HttpSigError::Missing(name))
    };
    let params = parse_input(header("signature-input")?, LABEL)?;
    let signature = parse_signature_bytes(header("signature")?, LABEL)?;
    let mut required: Vec<&str> = COMPONENTS.to_vec();
    if !body.is_empty() {
        required.push("content-digest");
        if header("content-digest")? != content_digest(body) {
            return Err(HttpSigError::DigestMismatch);
        }
    }
    for component in required {
        if !params.components.iter().any(|c| c == component) {
            return Err(HttpSigError::NotCovered(component.into()));
        }
    }
    let key_id = key_id(&params)?;
    let created = params
        .created
        .ok_or_else(|| malformed("Signature-Input", "created is required"))?;
    let expires = params
        .expires
        .ok_or_else(|| malformed("Signature-Input", "expires is required"))?;
    if created > policy.now + policy.skew_secs {
        return Err(HttpSigError::Stale(format!(
            "created {created} is in the future (server time {})",
            policy.now
        )));
    }
    if expires <= policy.now {
        return Err(HttpSigError::Stale(format!(
            "expired at {expires} (server time {})",
            policy.now
        )));
    }
    if expires <= created || expires - created > LIFETIME_SECS {
        return Err(HttpSigError::Stale(format!(
            "a signature lives at most {LIFETIME_SECS} s"
        )));
    }
    let nonce = params
        .nonce
        .clone()
        .filter(|nonce| (16..=64).contains(&nonce.len()))
        .ok_or_else(|| {
            malformed(
                "Signature-Input",
                "a nonce of 16 to 64 characters is required",
            )
        })?;
    let base = signature_base(request, &params)?;
    let (party, session) = match (key_of(&key_id).ok_or(HttpSigError::BadSignature)?, &key_id) {
        (VerifyingKey::Ed25519(key), KeyId::Party(party)) => {
            let signature = Signature::from_slice(&signature)
                .map_err(|_| malformed("Signature", "not a 64-byte Ed25519 signature"))?;
            if !key.verify(b"", base.as_bytes(), &signature) {
                return Err(HttpSigError::BadSignature);
            }
            (*party, None)
        }
        (VerifyingKey::Session { party, secret }, KeyId::Session(id)) => {
            if !hmac_matches(&secret, base.as_bytes(), &signature) {
                return Err(HttpSigError::BadSignature);
            }
            (party, Some(id.clone()))
        }
        _ => return Err(HttpSigError::BadSignature),
    };
    Ok(Verified {
        party,
        session,
        nonce,
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9421 appendix B.1.4's `test-key-ed25519` (the 32-byte seed and public key inside
    /// its PKCS#8 and SPKI forms).
    fn rfc_key() -> Keypair {
        let seed = hex::decode("9f8362f87a484a954e6e740c5b4c0e84229139a20aa8ab56ff66586f6a7d29c5")
            .expect("hex");
        Keypair::from_seed(seed.try_into().expect("32 bytes"))
    }

    fn rfc_request() -> Request<'static> {
        Request {
            method: "POST",
            authority: "example.com",
            path: "/foo",
            query: Some("param=Value&Pet=dog"),
            headers: vec![
                ("date".into(), "Tue, 20 Apr 2021 02:07:55 GMT".into()),
                ("content-type".into(), "application/json".into()),
                ("content-length".into(), "18".into()),
            ],
        }
    }

    /// RFC 9421 appendix B.2.6: the signature base and the Ed25519 signature, byte for byte.
    #[test]
    fn reproduces_rfc_9421_b_2_6() {
        let key = rfc_key();
        assert_eq!(
            key.public_key().to_hex(),
            "26b40b8f93fff3d897112f7ebc582b232dbd72517d082fe83cfb30ddce43d1bb"
        );
        let field = "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";
        let params = parse_input(field, "sig-b26").expect("parses");
        assert_eq!(params.created, Some(1618884473));
        assert_eq!(params.keyid.as_deref(), Some("test-key-ed25519"));
        let base = signature_base(&rfc_request(), &params).expect("base");
        assert_eq!(
            base,
            "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\"@method\": POST\n\"@path\": /foo\n\"@authority\": example.com\n\"content-type\": application/json\n\"content-length\": 18\n\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
        );
        let signature = key.sign(b"", base.as_bytes());
        let expected = parse_signature(
            "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
            "sig-b26",
        )
        .expect("parses");
        assert_eq!(signature, expected);
        assert!(key.public_key().verify(b"", base.as_bytes(), &expected));
    }

    /// RFC 9421 appendix B.2.5: HMAC-SHA256 with appendix B.1.5's `test-shared-secret`.
    #[test]
    fn reproduces_rfc_9421_b_2_5() {
        let secret = base64::engine::general_purpose::STANDARD
            .decode("uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==")
            .expect("base64");
        let field = "sig-b25=(\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\"";
        let params = parse_input(field, "sig-b25").expect("parses");
        let base = signature_base(&rfc_request(), &params).expect("base");
        assert_eq!(
            base,
            "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\"@authority\": example.com\n\"content-type\": application/json\n\"@signature-params\": (\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\""
        );
        let expected = parse_signature_bytes(
            "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:",
            "sig-b25",
        )
        .expect("parses");
        assert_eq!(hmac_sha256(&secret, base.as_bytes()).to_vec(), expected);
        assert!(hmac_matches(&secret, base.as_bytes(), &expected));
        assert!(!hmac_matches(&secret[1..], base.as_bytes(), &expected));
    }

    #[test]
    fn session_signatures_verify_and_every_change_is_refused() {
        let party = PartyId::derive(&Keypair::from_seed([3; 32]).public_key());
        let (id, secret) = ("0123456789abcdef0123456789abcdef", [7u8; 32]);
        let body = b"{\"tx\":1}";
        let request = Request {
            method: "POST",
            authority: "127.0.0.1:8080",
            path: "/v1/records/ab/read",
            query: None,
            headers: vec![],
        };
        let fields = sign_with(
            Signer::Session {
                id,
                secret: &secret,
            },
            &request,
            body,
            1_000,
            "0123456789abcdef0123",
        );
        assert!(fields.signature_input.contains(";alg=\"hmac-sha256\""));
        let mut request = request;
        request
            .headers
            .push(("signature-input".into(), fields.signature_input));
        request.headers.push(("signature".into(), fields.signature));
        request.headers.push((
            "content-digest".into(),
            fields.content_digest.expect("body"),
        ));
        let policy = Policy {
            now: 1_010,
            skew_secs: 30,
        };
        let key_of = |k: &KeyId| {
            (*k == KeyId::Session(id.into())).then_some(VerifyingKey::Session { party, secret })
        };
        let verified = verify(&request, body, &policy, key_of).expect("verifies");
        assert_eq!(verified.party, party);
        assert_eq!(verified.session.as_deref(), Some(id));
        let mut altered = request.clone();
        altered.path = "/v1/records/ac/read";
        assert_eq!(
            verify(&altered, body, &policy, key_of),
            Err(HttpSigError::BadSignature)
        );
        let wrong_secret = |_: &KeyId| {
            Some(VerifyingKey::Session {
                party,
                secret: [8; 32],
            })
        };
        assert_eq!(
            verify(&request, body, &policy, wrong_secret),
            Err(HttpSigError::BadSignature)
        );
        // A session id cannot be answered with a party key, nor the other way round.
        let party_key = |_: &KeyId| {
            Some(VerifyingKey::Ed25519(
                Keypair::from_seed([3; 32]).public_key(),
            ))
        };
        assert_eq!(
            verify(&request, body, &policy, party_key),
            Err(HttpSigError::BadSignature)
        );
        let (signed_by_party, _, _) = signed(body, 1_000);
        assert_eq!(
            verify(&signed_by_party, body, &policy, wrong_secret),
            Err(HttpSigError::BadSignature)
        );
    }

    #[test]
    fn key_ids_name_a_party_or_a_well_formed_session() {
        let params = |keyid: &str, alg: Option<&str>| Params {
            components: vec![],
            created: None,
            expires: None,
            nonce: None,
            keyid: Some(keyid.into()),
            alg: alg.map(Into::into),
            serialized: String::new(),
        };
        let party = PartyId::derive(&Keypair::from_seed([3; 32]).public_key());
        assert_eq!(
            key_id(&params(&party.to_hex(), None)),
            Ok(KeyId::Party(party))
        );
        assert_eq!(
            key_id(&params(&party.to_hex(), Some("ed25519"))),
            Ok(KeyId::Party(party))
        );
        let session = "00112233445566778899aabbccddeeff";
        assert_eq!(
            key_id(&params(session, Some("hmac-sha256"))),
            Ok(KeyId::Session(session.into()))
        );
        for (keyid, alg) in [
            (session, None),
            ("00112233445566778899AABBCCDDEEFF", Some("hmac-sha256")),
            ("0011", Some("hmac-sha256")),
            (&party.to_hex(), Some("hmac-sha256")),
            (&party.to_hex(), Some("rsa-pss-sha512")),
        ] {
            assert!(
                matches!(
                    key_id(&params(keyid, alg)),
                    Err(HttpSigError::Malformed { .. })
                ),
                "{keyid} {alg:?}"
            );
        }
    }

    /// RFC 9530's example digest of `{"hello": "world"}`.
    #[test]
    fn content_digest_matches_rfc_9530() {
        assert_eq!(
            content_digest(b"{\"hello\": \"world\"}"),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
    }

    fn signed(body: &[u8], created: u64) -> (Request<'static>, Keypair, PartyId) {
        let key = Keypair::from_seed([3; 32]);
        let party = PartyId::derive(&key.public_key());
        let request = Request {
            method: "POST",
            authority: "127.0.0.1:8080",
            path: "/v1/records/ab",
            query: None,
            headers: vec![],
        };
        let fields = sign(
            &key,
            &party,
            &request,
            body,
            created,
            "0123456789abcdef0123",
        );
        let mut request = request;
        request
            .headers
            .push(("signature-input".into(), fields.signature_input));
        request.headers.push(("signature".into(), fields.signature));
        if let Some(digest) = fields.content_digest {
            request.headers.push(("content-digest".into(), digest));
        }
        (request, key, party)
    }

    #[test]
    fn medchain_signatures_verify_and_every_change_is_refused() {
        let body = b"sealed bytes";
        let (request, key, party) = signed(body, 1_000);
        let policy = Policy {
            now: 1_010,
            skew_secs: 30,
        };
        let key_of = |id: &KeyId| {
            (*id == KeyId::Party(party)).then(|| VerifyingKey::Ed25519(key.public_key()))
        };
        let verified = verify(&request, body, &policy, key_of).expect("verifies");
        assert_eq!(verified.party, party);
        assert_eq!(verified.session, None);
        // Another body, method, path, query or authority; another key; too late or too early.
        assert_eq!(
            verify(&request, b"other", &policy, key_of),
            Err(HttpSigError::DigestMismatch)
        );
        for change in 0..4 {
            let mut altered = request.clone();
            match change {
                0 => altered.method = "PUT",
                1 => altered.path = "/v1/records/ac",
                2 => altered.query = Some("x=1"),
                _ => altered.authority = "127.0.0.1:8081",
            }
            assert_eq!(
                verify(&altered, body, &policy, key_of),
                Err(HttpSigError::BadSignature),
                "change {change}"
            );
        }
        let other = Keypair::from_seed([4; 32]).public_key();
        assert_eq!(
            verify(&request, body, &policy, |_| Some(VerifyingKey::Ed25519(
                other
            ))),
            Err(HttpSigError::BadSignature)
        );
        let late = Policy {
            now: 1_300,
            skew_secs: 30,
        };
        assert!(matches!(
            verify(&request, body, &late, key_of),
            Err(HttpSigError::Stale(_))
        ));
        let early = Policy {
            now: 900,
            skew_secs: 30,
        };
        assert!(matches!(
            verify(&request, body, &early, key_of),
            Err(HttpSigError::Stale(_))
        ));
        // Unsigned.
        let mut unsigned = request.clone();
        unsigned.headers.clear();
        assert_eq!(
            verify(&unsigned, b"", &policy, key_of),
            Err(HttpSigError::Missing("signature-input"))
        );
        // A GET without a body needs no digest.
        let (get, _, _) = signed(b"", 1_000);
        verify(&get, b"", &policy, key_of).expect("verifies");
    }
}
