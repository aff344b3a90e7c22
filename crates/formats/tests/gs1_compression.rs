//! Compressed GS1 Digital Links, decoded by medchain, against two outside encoders: GS1's own
//! toolkit (vectors it compressed with its optimisation codes, in
//! `gs1-compression-vectors.json`), and `gs1-compression` (PyPI, pinned in
//! `tests/gs1-compression-oracle/requirements.txt`), run here on a few hundred generated links.
//! Each compressed link must read as the same elements as the link it was made from.

#[allow(dead_code)]
#[path = "../../client/tests/it/venv.rs"]
mod venv;

#[allow(dead_code)]
#[path = "common/rng.rs"]
mod rng;

use medchain_formats::{
    gs1::{Scan, check_digit},
    uri::percent_encode,
};
use medchain_types::time::Date;
use rng::Rng;
use serde_json::{Value, json};

fn today() -> Date {
    Date::new(2026, 12, 3).expect("date")
}

/// The elements of a scan, as sorted `(ai, value)` pairs.
fn elements(text: &str) -> Result<Vec<(String, String)>, String> {
    let scan = Scan::parse(text, today()).map_err(|e| format!("{text}: {e}"))?;
    let mut pairs: Vec<(String, String)> = scan
        .elements
        .iter()
        .map(|e| (e.ai.code.clone(), e.value.clone()))
        .collect();
    pairs.sort();
    Ok(pairs)
}

fn assert_same(uri: &str, compressed: &str) {
    let expected = elements(uri).expect("the uncompressed link parses");
    let found = elements(compressed).unwrap_or_else(|e| panic!("{compressed} ({uri}): {e}"));
    assert_eq!(found, expected, "{compressed} should read as {uri}");
}

#[test]
fn links_compressed_by_gs1s_toolkit_read_as_their_originals() {
    let file: Value =
        serde_json::from_str(include_str!("gs1-compression-vectors.json")).expect("vectors");
    let vectors = file["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 20);
    for v in vectors {
        assert_same(
            v["uri"].as_str().expect("uri"),
            v["compressed"].as_str().expect("compressed"),
        );
    }
}

fn generated() -> Vec<String> {
    let alphabets = [
        "0123456789",
        "0123456789abcdef",
        "0123456789ABCDEF",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-./",
    ];
    let mut rng = Rng(0x636f_6d70_7265_7373);
    let mut uris = Vec::new();
    for _ in 0..300 {
        let payload = rng.digits(13);
        let gtin = format!("{payload}{}", check_digit(payload.as_bytes()));
        let host = if rng.below(2) == 0 {
            "https://id.gs1.org"
        } else {
            "https://brand.example"
        };
        let mut uri = format!("{host}/01/{gtin}");
        let alphabet = alphabets[rng.below(alphabets.len())];
        if rng.below(3) > 0 {
            uri.push_str(&format!("/10/{}", percent_encode(&rng.text(20, alphabet))));
        }
        if rng.below(4) > 0 {
            let alphabet = alphabets[rng.below(alphabets.len())];
            uri.push_str(&format!("/21/{}", percent_encode(&rng.text(20, alphabet))));
        }
        let mut query = Vec::new();
        if rng.below(2) == 0 {
            query.push(format!(
                "17={:02}{:02}{:02}",
                rng.below(100),
                1 + rng.below(12),
                1 + rng.below(28)
            ));
        }
        if rng.below(4) == 0 {
            query.push(format!("3103={}", rng.digits(6)));
        }
        if rng.below(5) == 0 {
            let n = 1 + rng.below(8);
            query.push(format!("30={}", rng.digits(n)));
        }
        if rng.below(5) == 0 {
            query.push(format!(
                "99={}",
                percent_encode(&rng.text(30, alphabets[3]))
            ));
        }
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&query.join("&"));
        }
        uris.push(uri);
    }
    uris
}

#[test]
fn links_compressed_by_gs1_compression_read_as_their_originals() {
    let uris = generated();
    let answer = venv::run_oracle("gs1-compression-oracle", &json!(uris), &[]);
    let answers = answer.as_array().expect("answers");
    assert_eq!(answers.len(), uris.len());
    let mut checked = 0;
    for a in answers {
        let uri = a["uri"].as_str().expect("uri");
        match a["compressed"].as_str() {
            Some(compressed) => {
                assert_same(uri, compressed);
                checked += 1;
            }
            None => panic!("gs1-compression could not compress {uri}: {}", a["error"]),
        }
    }
    assert_eq!(checked, uris.len());
}

#[test]
fn a_compressed_link_keeps_every_rule_and_says_what_it_read() {
    // A partly compressed link: the GTIN in the path, the rest compressed (by GS1's toolkit,
    // gs1ElementStringsToCompressedGS1DigitalLink with uncompressedPrimary).
    assert_same(
        "https://id.gs1.org/01/09521234543213/10/LOT7/21/ABC123?17=270531",
        "https://id.gs1.org/01/09521234543213/EGQs5PsXQgwyFGq8Ej",
    );
    // Decoded links keep every rule: GS1's example with its serial changed to one that
    // breaks no format still needs its GTIN's check digit.
    let err = Scan::parse(
        "https://id.gs1.org/01/09521234543214/EGQs5PsXQgwyFGq8Ej",
        today(),
    )
    .expect_err("bad check digit");
    assert!(err.to_string().contains("check digit"), "{err}");
    // Truncated: refused, naming the segment.
    let err = Scan::parse("https://id.gs1.org/ARFRq5sE2iDIWcn2LoQ", today()).expect_err("cut");
    assert!(
        err.to_string()
            .contains("'ARFRq5sE2iDIWcn2LoQ' is not a compressed GS1 Digital Link"),
        "{err}"
    );
    // A path that is neither AIs nor compressed says both.
    let err =
        Scan::parse("https://example.com/products/9521111111115", today()).expect_err("no key");
    assert!(err.to_string().contains("no primary key"), "{err}");
}
