//! medchain's RFC 9421 signatures checked against an implementation that is not ours: the
//! `http-message-signatures` package (PyPI; versions pinned in
//! `tests/httpsig-oracle/requirements.txt`), installed by this test into a virtual environment
//! in the target directory. Both directions: a request medchain signs verifies there, and a
//! request it signs verifies with medchain's verifier (and is refused once altered).

use medchain_types::{Keypair, PartyId, httpsig};
use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| crate::venv::python("httpsig-oracle"))
}

fn oracle(mode: &str, spec: &Value) -> Result<Value, String> {
    // One file per call: the tests run in parallel in one process.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("httpsig-{mode}-{}-{call}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(spec).expect("json")).expect("write");
    let output = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/httpsig-oracle/oracle.py"))
        .arg(mode)
        .arg(&file)
        .output()
        .expect("python runs");
    let _ = std::fs::remove_file(&file);
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).expect("the oracle prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn request<'a>(path: &'a str, query: Option<&'a str>) -> httpsig::Request<'a> {
    httpsig::Request {
        method: "POST",
        authority: "127.0.0.1:8080",
        path,
        query,
        headers: Vec::new(),
    }
}

/// A request `spec` describes, signed by the outside implementation: the request with its
/// signature fields, and the fields as the oracle printed them.
fn signed_by_oracle(spec: &Value, path: &'static str) -> (httpsig::Request<'static>, Value) {
    let headers = oracle("sign", spec).expect("the outside implementation signs");
    let mut request = request(path, None);
    for name in ["Signature-Input", "Signature", "Content-Digest"] {
        request.headers.push((
            name.to_ascii_lowercase(),
            headers[name].as_str().expect("a header").to_string(),
        ));
    }
    (request, headers)
}

#[test]
fn medchain_signed_requests_verify_with_an_outside_implementation() {
    let key = Keypair::from_seed([21; 32]);
    let party = PartyId::derive(&key.public_key());
    let body = br#"{"transaction":"synthetic"}"#;
    for (path, query) in [
        ("/v1/records/ab/read", None),
        ("/v1/blobs", Some("x=1&y=2")),
    ] {
        let fields = httpsig::sign(
            &key,
            &party,
            &request(path, query),
            body,
            1_795_000_000,
            "00112233445566778899aabb",
        );
        let url = match query {
            Some(query) => format!("http://127.0.0.1:8080{path}?{query}"),
            None => format!("http://127.0.0.1:8080{path}"),
        };
        let mut spec = json!({
            "method": "POST",
            "url": url,
            "headers": {
                "Signature-Input": fields.signature_input,
                "Signature": fields.signature,
                "Content-Digest": fields.content_digest.clone().expect("a body has a digest"),
            },
            "body_hex": hex::encode(body),
            "public_key_hex": key.public_key().to_hex(),
        });
        let verified = oracle("verify", &spec).expect("the outside implementation verifies it");
        assert_eq!(verified["verified"], true);
        // Altered: another path, another body.
        spec["url"] = json!("http://127.0.0.1:8080/v1/records/ac/read");
        assert!(oracle("verify", &spec).is_err(), "an altered path verified");
        spec["url"] = json!(url);
        spec["body_hex"] = json!(hex::encode(b"other"));
        assert!(oracle("verify", &spec).is_err(), "an altered body verified");
    }
}

#[test]
fn requests_signed_by_an_outside_implementation_verify_with_ours() {
    let key = Keypair::from_seed([22; 32]);
    let party = PartyId::derive(&key.public_key());
    let body = b"sealed record bytes";
    let created = 1_795_000_000u64;
    let spec = json!({
        "method": "POST",
        "url": "http://127.0.0.1:8080/v1/blobs",
        "body_hex": hex::encode(body),
        "seed_hex": hex::encode(key.seed()),
        "keyid": party.to_hex(),
        "created": created,
        "expires": created + 300,
        "nonce": "0123456789abcdef0123",
    });
    let (request, headers) = signed_by_oracle(&spec, "/v1/blobs");
    let policy = httpsig::Policy {
        now: created + 10,
        skew_secs: 30,
    };
    let key_of = |id: &httpsig::KeyId| {
        (*id == httpsig::KeyId::Party(party))
            .then(|| httpsig::VerifyingKey::Ed25519(key.public_key()))
    };
    let verified = httpsig::verify(&request, body, &policy, key_of).unwrap_or_else(|err| {
        panic!("our verifier refuses an outside signature ({err}): {headers}")
    });
    assert_eq!(verified.party, party);
    assert!(httpsig::verify(&request, b"altered", &policy, key_of).is_err());
}

const SESSION: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const SESSION_SECRET: [u8; 32] = [0x5a; 32];

#[test]
fn session_signed_requests_verify_with_an_outside_implementation() {
    let body = br#"{"transaction":"synthetic"}"#;
    let path = "/v1/records/ab/read";
    let fields = httpsig::sign_with(
        httpsig::Signer::Session {
            id: SESSION,
            secret: &SESSION_SECRET,
        },
        &request(path, None),
        body,
        1_795_000_000,
        "00112233445566778899aabb",
    );
    let mut spec = json!({
        "method": "POST",
        "url": format!("http://127.0.0.1:8080{path}"),
        "headers": {
            "Signature-Input": fields.signature_input,
            "Signature": fields.signature,
            "Content-Digest": fields.content_digest.clone().expect("a body has a digest"),
        },
        "body_hex": hex::encode(body),
        "alg": "hmac-sha256",
        "secret_hex": hex::encode(SESSION_SECRET),
    });
    let verified = oracle("verify", &spec).expect("the outside implementation verifies it");
    assert_eq!(verified["verified"], true);
    spec["secret_hex"] = json!(hex::encode([0x5b; 32]));
    assert!(oracle("verify", &spec).is_err(), "another secret verified");
    spec["secret_hex"] = json!(hex::encode(SESSION_SECRET));
    spec["body_hex"] = json!(hex::encode(b"other"));
    assert!(oracle("verify", &spec).is_err(), "an altered body verified");
}

#[test]
fn session_requests_signed_by_an_outside_implementation_verify_with_ours() {
    let party = PartyId::derive(&Keypair::from_seed([23; 32]).public_key());
    let body = b"{\"lifetime_secs\":900}";
    let created = 1_795_000_000u64;
    let spec = json!({
        "method": "POST",
        "url": "http://127.0.0.1:8080/v1/records/ab/read",
        "body_hex": hex::encode(body),
        "alg": "hmac-sha256",
        "secret_hex": hex::encode(SESSION_SECRET),
        "keyid": SESSION,
        "created": created,
        "expires": created + 300,
        "nonce": "0123456789abcdef0123",
    });
    let (request, headers) = signed_by_oracle(&spec, "/v1/records/ab/read");
    let policy = httpsig::Policy {
        now: created + 10,
        skew_secs: 30,
    };
    let key_of = |id: &httpsig::KeyId| {
        (*id == httpsig::KeyId::Session(SESSION.into())).then_some(httpsig::VerifyingKey::Session {
            party,
            secret: SESSION_SECRET,
        })
    };
    let verified = httpsig::verify(&request, body, &policy, key_of).unwrap_or_else(|err| {
        panic!("our verifier refuses an outside session signature ({err}): {headers}")
    });
    assert_eq!(verified.party, party);
    assert_eq!(verified.session.as_deref(), Some(SESSION));
    assert!(httpsig::verify(&request, b"altered", &policy, key_of).is_err());
}
