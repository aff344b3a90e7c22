//! medchain's TOTP (RFC 6238, as custodial accounts use it) against `pyotp` (PyPI; pinned in
//! `tests/totp-oracle/requirements.txt`): our `otpauth://` URIs parse there and give our
//! codes, and secrets and URIs made there give the same codes here.

use medchain_types::totp;
use serde_json::{Value, json};

#[test]
fn totp_codes_and_uris_agree_with_pyotp() {
    let times: Vec<u64> = vec![
        0,
        59,
        1_111_111_109,
        1_234_567_890,
        1_700_000_000,
        1_800_000_029,
        1_800_000_030,
        4_000_000_000,
    ];
    let secrets: Vec<Vec<u8>> = (0..8u8)
        .map(|i| {
            (0..totp::SECRET_BYTES as u8)
                .map(|b| b.wrapping_mul(37).wrapping_add(i * 11))
                .collect()
        })
        .collect();
    let uris: Vec<Value> = secrets
        .iter()
        .enumerate()
        .map(|(i, secret)| {
            json!({
                "uri": totp::otpauth_uri("medchain (test node)", &format!("user.{i}@ward-3"), secret),
                "times": times,
            })
        })
        .collect();
    let spec = json!({ "uris": uris, "generate": 8, "times": times });
    let answer = crate::venv::run_oracle("totp-oracle", &spec, &[]);
    for (secret, codes) in secrets
        .iter()
        .zip(answer["codes"].as_array().expect("codes"))
    {
        let ours: Vec<String> = times.iter().map(|t| totp::code(secret, *t)).collect();
        let theirs: Vec<String> = serde_json::from_value(codes.clone()).expect("strings");
        assert_eq!(ours, theirs);
    }
    let generated = answer["generated"].as_array().expect("generated");
    assert_eq!(generated.len(), 8);
    for item in generated {
        let uri = item["uri"].as_str().expect("uri");
        let encoded = uri
            .split(['?', '&'])
            .find_map(|part| part.strip_prefix("secret="))
            .expect("the URI carries the secret");
        assert_eq!(encoded, item["secret"].as_str().expect("secret"));
        let secret = totp::base32_decode(encoded).expect("base32");
        for (time, code) in times.iter().zip(item["codes"].as_array().expect("codes")) {
            let code = code.as_str().expect("string");
            assert_eq!(totp::code(&secret, *time), code);
            assert_eq!(
                totp::verify(&secret, code, *time, None),
                Ok(totp::step(*time))
            );
        }
    }
}
