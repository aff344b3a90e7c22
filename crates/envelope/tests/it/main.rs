//! The primitives record encryption uses, checked against published vectors: RFC 9180's HPKE
//! test vectors for our suite, and Google's Wycheproof vectors for ChaCha20-Poly1305, X25519,
//! HKDF-SHA256 and Ed25519. The vectors are in `tests/vectors` (see its README for their source).

mod rfc9180;
mod wycheproof;

pub fn vectors(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    serde_json::from_str(&text).expect("vector files are JSON")
}

pub fn bytes(value: &serde_json::Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("a hex string")).expect("hex")
}
