//! medchain's VCs checked against an implementation of the W3C specifications that is not ours:
//! Digital Bazaar's `eddsa-jcs-2022` cryptosuite, Data Integrity and VC libraries (npm, versions
//! pinned in `tests/vc-oracle/package-lock.json`), run with the machine's Node.js.
//!
//! Both directions are checked: VCs we export verify there, and are refused there after any
//! field is changed; a VC that library signs verifies with our verifier. The same tampering is
//! first checked against our own verifier.

use medchain_client::{keys::PartyKeys, vc};
use medchain_types::{
    ChainId, Hash32, PartyId,
    credential::{
        Credential, CredentialId, CredentialStatus, CredentialType, Jurisdiction, StatusChange,
    },
};
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

/// The oracle's folder, its npm packages installed.
fn oracle() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| crate::venv::npm_package("vc-oracle"))
}

fn node(args: &[&str]) -> String {
    let output = Command::new("node")
        .args(args)
        .current_dir(oracle())
        .output()
        .expect("node must be installed to run the VC interoperability test");
    assert!(
        output.status.success(),
        "node {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Verifies each VC with the outside implementation: `Ok(())` or its error.
fn outside_verify(vcs: &[Value]) -> Vec<Result<(), String>> {
    let file = oracle().join(format!("vcs-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(vcs).expect("json")).expect("write");
    let out = node(&["verify.mjs", file.to_str().expect("utf-8 path")]);
    let results: Vec<Value> = serde_json::from_str(&out).expect("the oracle prints JSON");
    assert_eq!(results.len(), vcs.len());
    results
        .into_iter()
        .map(|result| {
            if result["verified"] == Value::Bool(true) {
                Ok(())
            } else {
                Err(result["error"].to_string())
            }
        })
        .collect()
}

fn sample() -> (Credential, PartyKeys) {
    let board = PartyKeys::dev("licensing-board");
    let subject = PartyId([4; 32]);
    let credential_type = CredentialType::new("physician_licence").expect("valid");
    let jurisdiction = Jurisdiction::new("US-CA").expect("valid");
    let commitment = Hash32([8; 32]);
    let credential = Credential {
        id: CredentialId::derive(
            &board.party_id,
            &subject,
            &credential_type,
            &jurisdiction,
            &commitment,
        ),
        issuer: board.party_id,
        subject,
        credential_type,
        jurisdiction,
        number_commitment: commitment,
        specialty: Some("cardiology".into()),
        valid_from_ms: 1_795_000_000_000,
        valid_until_ms: 1_826_000_000_000,
        history: vec![StatusChange {
            status: CredentialStatus::Active,
            at_ms: 1_795_000_000_000,
            height: 1,
            reason: "issued".into(),
        }],
    };
    (credential, board)
}

/// Every leaf of a JSON value, as a path of keys and indices.
fn leaves(value: &Value, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let mut next = path.clone();
                next.push(key.clone());
                leaves(child, next, out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let mut next = path.clone();
                next.push(index.to_string());
                leaves(child, next, out);
            }
        }
        _ => out.push(path),
    }
}

fn tamper(vc: &Value, path: &[String]) -> Value {
    let mut tampered = vc.clone();
    let mut target = &mut tampered;
    for key in path {
        target = match target {
            Value::Array(items) => &mut items[key.parse::<usize>().expect("index")],
            other => &mut other[key.as_str()],
        };
    }
    *target = match target {
        Value::String(text) => Value::String(format!("{text}x")),
        _ => Value::String("x".into()),
    };
    tampered
}

#[test]
fn exported_vcs_verify_and_any_tampering_is_caught() {
    let (credential, board) = sample();
    let chain = ChainId::new("medchain-dev").expect("valid");
    let exported = vc::export(&credential, &chain, &board, 1_795_000_000_000).expect("exports");
    let verified = vc::verify(&exported).expect("verifies");
    assert_eq!(verified.credential, credential.id);
    assert_eq!(verified.issuer_key, board.public_key());
    let mut paths = Vec::new();
    leaves(&exported, Vec::new(), &mut paths);
    assert!(paths.len() > 15);
    for path in paths {
        assert!(
            vc::verify(&tamper(&exported, &path)).is_err(),
            "tampering with {path:?} went unnoticed"
        );
    }
}

#[test]
fn exported_vcs_verify_with_an_outside_implementation_and_tampering_fails_there_too() {
    let (credential, board) = sample();
    let chain = ChainId::new("medchain-dev").expect("valid");
    let exported = vc::export(&credential, &chain, &board, 1_795_000_100_000).expect("exports");

    let mut paths = Vec::new();
    leaves(&exported, Vec::new(), &mut paths);
    // The untouched VC first, then one copy per field with that field changed (the proof's own
    // fields included).
    let mut vcs = vec![exported.clone()];
    vcs.extend(paths.iter().map(|path| tamper(&exported, path)));
    let results = outside_verify(&vcs);
    assert_eq!(
        results[0],
        Ok(()),
        "the outside implementation refuses our VC: {}",
        serde_json::to_string_pretty(&exported).expect("json")
    );
    for (path, result) in paths.iter().zip(&results[1..]) {
        assert!(
            result.is_err(),
            "the outside implementation accepted a VC tampered at {path:?}"
        );
    }
}

#[test]
fn a_vc_signed_by_an_outside_implementation_verifies_with_ours() {
    let (credential, board) = sample();
    let chain = ChainId::new("medchain-dev").expect("valid");
    let exported = vc::export(&credential, &chain, &board, 1_795_000_100_000).expect("exports");
    let mut unsigned = exported.clone();
    unsigned
        .as_object_mut()
        .expect("object")
        .remove("proof")
        .expect("proof");
    let file = oracle().join(format!("unsigned-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&unsigned).expect("json")).expect("write");
    let seed = hex::encode(board.signing.seed());
    let out = node(&[
        "sign.mjs",
        file.to_str().expect("utf-8 path"),
        &seed,
        "2026-11-18T11:08:20Z",
    ]);
    let signed: Value = serde_json::from_str(&out).expect("the oracle prints JSON");
    let verified = vc::verify(&signed).unwrap_or_else(|err| {
        panic!(
            "our verifier refuses an outside eddsa-jcs-2022 proof ({err}): {}",
            serde_json::to_string_pretty(&signed).expect("json")
        )
    });
    assert_eq!(verified.credential, credential.id);
    assert_eq!(verified.issuer_key, board.public_key());
    // Ed25519 is deterministic, so the same document, options and key give our exact proof.
    assert_eq!(signed, exported, "both implementations produce the same VC");
}
