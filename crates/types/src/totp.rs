//! Time-based one-time passwords (RFC 6238) as authenticator apps use them: HMAC-SHA1, six
//! digits, 30-second steps, with the secret shared as base32 (RFC 4648) in an `otpauth://` URI.
//!
//! The second factor of custodial accounts: a node checks a code against the current step and
//! one step either side (clock drift), and never accepts a step at or before the last one it
//! accepted, so a code seen once is spent.

use hmac::{KeyInit as _, Mac as _};

/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps either side of now that a code may come from.
pub const DRIFT_STEPS: u64 = 1;
/// Bytes of a generated secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

/// The step that `unix_secs` falls in.
pub fn step(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// The HOTP value (RFC 4226 §5.3) of `secret` at `counter`, with `digits` digits (6 to 9).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The six-digit code for `secret` at `unix_secs`, zero-padded.
pub fn code(secret: &[u8], unix_secs: u64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step(unix_secs), DIGITS),
        width = DIGITS as usize
    )
}

/// Why a code was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("a code is {DIGITS} digits")]
    Malformed,
    #[error("the code is wrong or out of date")]
    Wrong,
    #[error("the code was already used; wait for the next one")]
    Spent,
}

/// Checks `code` against `secret` at `unix_secs`, allowing [`DRIFT_STEPS`] either side and
/// refusing any step at or before `last_step` (the last one accepted). Answers the step it
/// matched, which the caller remembers as the new `last_step`.
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_secs: u64,
    last_step: Option<u64>,
) -> Result<u64, TotpError> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::Malformed);
    }
    let given: u32 = code.parse().map_err(|_| TotpError::Malformed)?;
    let now = step(unix_secs);
    let mut matched = None;
    // Every candidate is computed, so timing does not tell which step matched.
    for candidate in now.saturating_sub(DRIFT_STEPS)..=now + DRIFT_STEPS {
        let value = hotp(secret, candidate, DIGITS);
        if value == given {
            matched = Some(candidate);
        }
    }
    let matched = matched.ok_or(TotpError::Wrong)?;
    if last_step.is_some_and(|last| matched <= last) {
        return Err(TotpError::Spent);
    }
    Ok(matched)
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 (RFC 4648 §6) without padding, as `otpauth://` URIs carry secrets.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32, ignoring case, spaces, dashes and `=` padding; `None` for anything else.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for c in text.bytes() {
        if matches!(c, b' ' | b'-' | b'=') {
            continue;
        }
        let value = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

/// The `otpauth://totp/...` URI an authenticator app scans to enrol `secret` for `account`.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    fn escape(text: &str) -> String {
        let mut out = String::new();
        for byte in text.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
                out.push(byte as char);
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out
    }
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        escape(issuer),
        escape(account),
        base32_encode(secret),
        escape(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, the SHA-1 rows (8 digits, seed "12345678901234567890").
    #[test]
    fn rfc_6238_vectors() {
        let seed = b"12345678901234567890";
        for (time, expected) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(seed, step(time), 8), expected, "T = {time}");
        }
        assert_eq!(code(seed, 59), "287082");
        assert_eq!(code(seed, 1111111109), "081804", "leading zeros kept");
    }

    /// RFC 4226 Appendix D.
    #[test]
    fn rfc_4226_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, value) in expected.iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", counter as u64, 6), *value);
        }
    }

    #[test]
    fn codes_are_accepted_once_within_the_drift() {
        let secret = [7u8; SECRET_BYTES];
        let now = 1_700_000_000;
        let current = code(&secret, now);
        assert_eq!(verify(&secret, &current, now, None), Ok(step(now)));
        assert_eq!(
            verify(&secret, &current, now, Some(step(now))),
            Err(TotpError::Spent)
        );
        let previous = code(&secret, now - STEP_SECS);
        assert_eq!(verify(&secret, &previous, now, None), Ok(step(now) - 1));
        let old = code(&secret, now - 3 * STEP_SECS);
        assert_eq!(verify(&secret, &old, now, None), Err(TotpError::Wrong));
        assert_eq!(
            verify(&secret, "12345", now, None),
            Err(TotpError::Malformed)
        );
        assert_eq!(
            verify(&secret, "12a456", now, None),
            Err(TotpError::Malformed)
        );
    }

    /// RFC 4648 §10 test vectors, and round trips.
    #[test]
    fn base32_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(
            base32_decode("mzxw-6ytb oi======").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(base32_decode("MZXW1"), None, "1 is not base32");
        let secret: Vec<u8> = (0..20).collect();
        assert_eq!(base32_decode(&base32_encode(&secret)), Some(secret));
    }

    #[test]
    fn otpauth_uris_escape_the_label() {
        let uri = otpauth_uri("medchain (St Mary)", "alice@st-mary", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/medchain%20%28St%20Mary%29:alice@st-mary?secret=MZXW6YTBOI&issuer=medchain%20%28St%20Mary%29&algorithm=SHA1&digits=6&period=30"
        );
    }
}
