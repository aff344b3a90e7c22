//! GS1 identification keys with a check digit: GTIN (trade items), SSCC (logistic units such as
//! cases and pallets) and GLN (locations and parties). Parsing whole barcodes is
//! `medchain-formats`' job; these are the keys the chain stores.
//!
//! Canonical encoding: the full-length ASCII digits, no length prefix; a decoder checks the
//! digits and the check digit.

use bytes::BufMut;
use commonware_codec::{Buf, Error, FixedSize, Read, Write};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The GS1 standard check digit of `payload` (ASCII digits): weights 3 and 1 alternating from
/// the right, the digit that brings the sum to a multiple of ten (GS1 General Specifications
/// 7.9.1).
pub fn check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Why a key is not a valid GS1 key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a {kind} has {expected} digits, not {found} ('{value}')")]
    Length {
        kind: &'static str,
        expected: &'static str,
        found: usize,
        value: String,
    },
    #[error("a {kind} is digits only ('{value}')")]
    NotDigits { kind: &'static str, value: String },
    #[error("the {kind} {value} has check digit {found}, but its digits give {expected}")]
    CheckDigit {
        kind: &'static str,
        value: String,
        expected: u8,
        found: u8,
    },
}

fn checked(kind: &'static str, value: &str) -> Result<(), KeyError> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KeyError::NotDigits {
            kind,
            value: value.to_string(),
        });
    }
    let (payload, check) = value.as_bytes().split_at(value.len() - 1);
    let expected = check_digit(payload);
    let found = check[0] - b'0';
    if expected != found {
        return Err(KeyError::CheckDigit {
            kind,
            value: value.to_string(),
            expected,
            found,
        });
    }
    Ok(())
}

macro_rules! key {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $len:literal, $lengths:literal, [$($accepted:literal),+]) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Parses the key, checking its check digit. Shorter forms are accepted and padded
            /// with leading zeros to the full length.
            pub fn parse(value: &str) -> Result<$name, KeyError> {
                if ![$($accepted),+].contains(&value.len()) {
                    return Err(KeyError::Length {
                        kind: $kind,
                        expected: $lengths,
                        found: value.len(),
                        value: value.to_string(),
                    });
                }
                checked($kind, value)?;
                let mut digits = [b'0'; $len];
                digits[$len - value.len()..].copy_from_slice(value.as_bytes());
                Ok($name(digits))
            }

            /// The key's digits, full length.
            pub fn as_str(&self) -> &str {
                std::str::from_utf8(&self.0).expect("ASCII digits")
            }

            /// The key's digits as bytes.
            pub fn digits(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.as_str())
            }
        }

        impl Write for $name {
            fn write(&self, buf: &mut impl BufMut) {
                buf.put_slice(&self.0);
            }
        }

        impl FixedSize for $name {
            const SIZE: usize = $len;
        }

        impl Read for $name {
            type Cfg = ();
            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
                if buf.remaining() < $len {
                    return Err(Error::EndOfBuffer);
                }
                let mut digits = [0u8; $len];
                buf.copy_to_slice(&mut digits);
                let text = std::str::from_utf8(&digits)
                    .map_err(|_| Error::Invalid(stringify!($name), "not digits"))?;
                $name::parse(text).map_err(|_| Error::Invalid(stringify!($name), "bad digits or check digit"))
            }
        }

        impl std::str::FromStr for $name {
            type Err = KeyError;
            fn from_str(value: &str) -> Result<$name, KeyError> {
                $name::parse(value)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = String::deserialize(deserializer)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

key!(
    /// A Global Trade Item Number, held as a GTIN-14 (GTIN-8, -12 and -13 padded with zeros).
    Gtin, "GTIN", 14, "8, 12, 13 or 14", [8, 12, 13, 14]
);
key!(
    /// A Serial Shipping Container Code: the 18-digit identity of a logistic unit.
    Sscc, "SSCC", 18, "18", [18]
);
key!(
    /// A Global Location Number: the 13-digit identity of a party or a location.
    Gln, "GLN", 13, "13", [13]
);

impl Gtin {
    /// The GTIN from its 13-digit payload (indicator digit, company prefix, item reference),
    /// with the check digit computed.
    pub fn from_payload(payload: &str) -> Result<Gtin, KeyError> {
        if payload.len() != 13 || !payload.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KeyError::Length {
                kind: "GTIN payload",
                expected: "13",
                found: payload.len(),
                value: payload.to_string(),
            });
        }
        let mut digits = [0u8; 14];
        digits[..13].copy_from_slice(payload.as_bytes());
        digits[13] = b'0' + check_digit(payload.as_bytes());
        Ok(Gtin(digits))
    }
}

impl Sscc {
    /// The SSCC from its 17-digit payload (extension digit, company prefix, serial reference),
    /// with the check digit computed.
    pub fn from_payload(payload: &str) -> Result<Sscc, KeyError> {
        if payload.len() != 17 || !payload.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KeyError::Length {
                kind: "SSCC payload",
                expected: "17",
                found: payload.len(),
                value: payload.to_string(),
            });
        }
        let mut digits = [0u8; 18];
        digits[..17].copy_from_slice(payload.as_bytes());
        digits[17] = b'0' + check_digit(payload.as_bytes());
        Ok(Sscc(digits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_follow_the_gs1_examples() {
        // GS1 General Specifications 7.9.1: GTIN-13 629104150021 -> 3.
        assert_eq!(check_digit(b"629104150021"), 3);
        assert_eq!(check_digit(b"0952123454321"), 3);
        assert_eq!(check_digit(b"37613032110910342"), 0);
        assert_eq!(check_digit(b""), 0);
    }

    #[test]
    fn keys_encode_as_their_digits_and_decode_checked() {
        use commonware_codec::{DecodeExt, Encode};
        let gtin = Gtin::parse("09521111111115").expect("GTIN");
        let bytes = gtin.encode();
        assert_eq!(&bytes[..], b"09521111111115");
        assert_eq!(Gtin::decode(bytes).ok(), Some(gtin));
        assert!(Gtin::decode(bytes::Bytes::from_static(b"09521111111116")).is_err());
        assert!(Sscc::decode(bytes::Bytes::from_static(b"37613032110910342")).is_err());
    }

    #[test]
    fn keys_parse_pad_and_refuse_bad_check_digits() {
        let gtin = Gtin::parse("6291041500213").expect("GTIN-13");
        assert_eq!(gtin.as_str(), "06291041500213");
        assert_eq!(
            Gtin::parse("96385074").expect("GTIN-8").as_str(),
            "00000096385074"
        );
        assert_eq!(Gtin::from_payload("0629104150021"), Ok(gtin));
        assert_eq!(
            Gtin::parse("6291041500214")
                .expect_err("bad check digit")
                .to_string(),
            "the GTIN 6291041500214 has check digit 4, but its digits give 3"
        );
        assert!(matches!(Gtin::parse("123"), Err(KeyError::Length { .. })));
        assert!(matches!(
            Gtin::parse("62910415002a3"),
            Err(KeyError::NotDigits { .. })
        ));
        let sscc = Sscc::parse("376130321109103420").expect("SSCC");
        assert_eq!(Sscc::from_payload("37613032110910342"), Ok(sscc));
        assert!(Sscc::parse("376130321109103421").is_err());
        assert!(Gln::parse("0614141000036").is_ok());
        assert!(Gln::parse("0614141000037").is_err());
        let json = serde_json::to_string(&gtin).expect("json");
        assert_eq!(json, "\"06291041500213\"");
        assert_eq!(serde_json::from_str::<Gtin>(&json).expect("parse"), gtin);
        assert!(serde_json::from_str::<Gtin>("\"06291041500214\"").is_err());
    }
}
