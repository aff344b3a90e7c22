//! Wycheproof vectors (Google's Project Wycheproof, version 0.9 JSON) for every primitive
//! record encryption and transaction signing use.

use crate::{bytes, vectors};
use serde_json::Value;

/// Each test of a Wycheproof file, with its group.
fn tests(file: &str) -> Vec<(Value, Value)> {
    let all = vectors(file);
    let mut out = Vec::new();
    for group in all["testGroups"].as_array().expect("groups") {
        for test in group["tests"].as_array().expect("tests") {
            out.push((group.clone(), test.clone()));
        }
    }
    assert_eq!(
        out.len() as u64,
        all["numberOfTests"].as_u64().expect("count"),
        "{file}"
    );
    out
}

fn result(test: &Value) -> &str {
    test["result"].as_str().expect("result")
}

#[test]
fn chacha20_poly1305() {
    use chacha20poly1305::{
        ChaCha20Poly1305, KeyInit,
        aead::{Aead, Payload},
    };
    let mut checked = 0;
    for (group, test) in tests("chacha20_poly1305_test.json") {
        let id = &test["tcId"];
        let (key, iv, aad, msg) = (
            bytes(&test["key"]),
            bytes(&test["iv"]),
            bytes(&test["aad"]),
            bytes(&test["msg"]),
        );
        let mut sealed = bytes(&test["ct"]);
        sealed.extend(bytes(&test["tag"]));
        // The AEAD takes only 256-bit keys and 96-bit nonces; other sizes are refused by type.
        if key.len() != 32 || iv.len() != 12 {
            assert_eq!(result(&test), "invalid", "test {id}");
            assert_ne!(group["ivSize"], 96, "test {id}");
            continue;
        }
        let cipher = ChaCha20Poly1305::new_from_slice(&key).expect("32-byte key");
        let nonce = chacha20poly1305::Nonce::try_from(iv.as_slice()).expect("12-byte nonce");
        let opened = cipher.decrypt(
            &nonce,
            Payload {
                msg: &sealed,
                aad: &aad,
            },
        );
        match result(&test) {
            "valid" => {
                assert_eq!(opened.as_deref(), Ok(msg.as_slice()), "test {id}");
                let encrypted = cipher
                    .encrypt(
                        &nonce,
                        Payload {
                            msg: &msg,
                            aad: &aad,
                        },
                    )
                    .expect("encrypts");
                assert_eq!(encrypted, sealed, "test {id}");
            }
            "invalid" => assert!(opened.is_err(), "test {id} opened"),
            other => panic!("test {id}: unexpected result {other}"),
        }
        checked += 1;
    }
    assert!(checked > 250, "{checked}");
}

#[test]
fn x25519_and_hpke_refuse_zero_shared_secrets() {
    use medchain_envelope::{Binding, DataKey, wrap};
    use medchain_types::{EncryptionKey, Hash32, PartyId};
    let mut checked = 0;
    let mut zero = 0;
    for (_, test) in tests("x25519_test.json") {
        let id = &test["tcId"];
        let public: [u8; 32] = bytes(&test["public"]).try_into().expect("32 bytes");
        let private: [u8; 32] = bytes(&test["private"]).try_into().expect("32 bytes");
        let shared = x25519_dalek::StaticSecret::from(private)
            .diffie_hellman(&x25519_dalek::PublicKey::from(public));
        assert_eq!(
            shared.as_bytes().to_vec(),
            bytes(&test["shared"]),
            "test {id}"
        );
        assert_ne!(
            result(&test),
            "invalid",
            "test {id}: X25519 has no invalid inputs here"
        );
        let flags = test["flags"].as_array().expect("flags");
        if flags.iter().any(|flag| flag == "ZeroSharedSecret") {
            // A peer key that forces an all-zero secret must not become a wrapped key.
            let binding = Binding {
                record: Hash32([1; 32]),
                version: 1,
            };
            let key = DataKey::from_bytes([2; 32]);
            assert!(
                wrap(&EncryptionKey(public), &PartyId([3; 32]), &key, &binding).is_err(),
                "test {id}: wrapped to a small-order key"
            );
            zero += 1;
        }
        checked += 1;
    }
    assert!(checked > 500 && zero > 0, "{checked} {zero}");
}

#[test]
fn hkdf_sha256() {
    let mut checked = 0;
    for (_, test) in tests("hkdf_sha256_test.json") {
        let id = &test["tcId"];
        let hkdf =
            hkdf::Hkdf::<sha2::Sha256>::new(Some(&bytes(&test["salt"])), &bytes(&test["ikm"]));
        let mut okm = vec![0u8; test["size"].as_u64().expect("size") as usize];
        let expanded = hkdf.expand(&bytes(&test["info"]), &mut okm);
        match result(&test) {
            "valid" => {
                assert!(expanded.is_ok(), "test {id}");
                assert_eq!(okm, bytes(&test["okm"]), "test {id}");
            }
            "invalid" => assert!(expanded.is_err(), "test {id}"),
            other => panic!("test {id}: unexpected result {other}"),
        }
        checked += 1;
    }
    assert!(checked > 80, "{checked}");
}

#[test]
fn ed25519_strict_verification() {
    let mut checked = 0;
    for (group, test) in tests("ed25519_test.json") {
        let id = &test["tcId"];
        let key: [u8; 32] = bytes(&group["publicKey"]["pk"])
            .try_into()
            .expect("32 bytes");
        let signature = bytes(&test["sig"]);
        let verified = medchain_types::Signature::from_slice(&signature).is_ok_and(|signature| {
            medchain_types::PublicKey(key).verify(b"", &bytes(&test["msg"]), &signature)
        });
        match result(&test) {
            "valid" => assert!(verified, "test {id} refused"),
            "invalid" => assert!(!verified, "test {id} accepted"),
            other => panic!("test {id}: unexpected result {other}"),
        }
        checked += 1;
    }
    assert!(checked > 140, "{checked}");
}
