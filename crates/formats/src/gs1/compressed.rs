//! Compressed GS1 Digital Links (GS1 Digital Link Standard: compression): the AIs of a link
//! packed into bits and written as one path segment of URI-safe base64, such as
//! `https://id.gs1.org/ARFRq5sE2iDIWcn2LoQYZCjVeCRg`, or after an uncompressed GTIN
//! (`.../01/09521234543213/<segment>`).
//!
//! The bits are a sequence of entries, each starting with two hex nibbles:
//! - two decimal digits: the start of an AI, whose full length the prefix table gives; its
//!   value follows, each part as the value table says;
//! - a code of the optimisation table (such as `0B` for (01) then (10)): the values of those
//!   AIs follow, in that order, without their AIs;
//! - `F`: a parameter that is not GS1's (a 7-bit key length, the key in base64, an encoding,
//!   a 7-bit length and the value).
//!
//! Values: a fixed-length numeric part is one binary number of `ceil(L log2 10)` bits; a
//! variable one has a length first. An alphanumeric part has a 3-bit encoding (digits, lower
//! or upper hex, URI-safe base64, 7-bit ASCII), then its length if variable, then its
//! characters. Up to 8 bits of zero padding end the data.
//!
//! The three tables are GS1's own, from its reference implementation
//! (`data/gs1-digital-link-compression.json`; see `data/README.md`). A decoded link is then
//! read as any Digital Link is, so every rule applies to it.

use serde::Deserialize;
use std::{collections::HashMap, sync::OnceLock};

const TABLES_JSON: &str = include_str!("../../data/gs1-digital-link-compression.json");

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[derive(Deserialize)]
struct RawPart {
    #[serde(rename = "E")]
    encoding: String,
    #[serde(rename = "L")]
    fixed: Option<String>,
    #[serde(rename = "M")]
    max: Option<String>,
    // One entry (7040) writes its fixed length under "N".
    #[serde(rename = "N")]
    fixed_too: Option<String>,
}

#[derive(Deserialize)]
struct RawTables {
    #[serde(rename = "tableP")]
    prefix: HashMap<String, usize>,
    #[serde(rename = "tableF")]
    parts: HashMap<String, Vec<RawPart>>,
    #[serde(rename = "tableOpt")]
    optimisations: HashMap<String, Vec<String>>,
}

#[derive(Clone, Copy)]
struct Part {
    numeric: bool,
    fixed: Option<usize>,
    max: usize,
}

struct Tables {
    prefix: HashMap<String, usize>,
    parts: HashMap<String, Vec<Part>>,
    optimisations: HashMap<String, Vec<String>>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let raw: RawTables = serde_json::from_str(TABLES_JSON)
            .expect("the bundled Digital Link compression tables are valid JSON");
        let number = |s: &Option<String>| s.as_deref().and_then(|n| n.parse::<usize>().ok());
        let parts = raw
            .parts
            .into_iter()
            .map(|(ai, parts)| {
                let parts = parts
                    .iter()
                    .map(|p| {
                        let fixed = number(&p.fixed).or(number(&p.fixed_too));
                        Part {
                            numeric: p.encoding == "N",
                            fixed,
                            max: fixed.or(number(&p.max)).unwrap_or(0),
                        }
                    })
                    .collect();
                (ai, parts)
            })
            .collect();
        Tables {
            prefix: raw.prefix,
            parts,
            optimisations: raw.optimisations,
        }
    })
}

/// Whether `segment` could be a compressed Digital Link: URI-safe base64 only.
pub(super) fn looks_compressed(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|b| BASE64URL.contains(&b))
}

/// What a compressed segment holds: GS1 AIs and values, and parameters that are not GS1's, in
/// the order written.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Decompressed {
    pub ais: Vec<(String, String)>,
    pub other: Vec<(String, String)>,
}

struct Bits {
    bits: Vec<bool>,
    at: usize,
}

impl Bits {
    fn left(&self) -> usize {
        self.bits.len() - self.at
    }

    fn take(&mut self, n: usize, what: &str) -> Result<u128, String> {
        if n > self.left() {
            return Err(format!(
                "it ends inside {what} ({n} bits needed at bit {}, {} left)",
                self.at,
                self.left()
            ));
        }
        if n > 127 {
            return Err(format!("{what} is too long"));
        }
        let mut value = 0u128;
        for &bit in &self.bits[self.at..self.at + n] {
            value = (value << 1) | u128::from(bit);
        }
        self.at += n;
        Ok(value)
    }
}

/// `ceil(log2(max) + 0.01)`: the bits of a length of at most `max`, as GS1's toolkit counts
/// them.
fn length_bits(max: usize) -> usize {
    ((max as f64).log2() + 0.01).ceil() as usize
}

/// `ceil(n log2 10 + 0.01)`: the bits of an n-digit number.
fn value_bits(digits: usize) -> usize {
    (digits as f64 * 10f64.log2() + 0.01).ceil() as usize
}

fn digits(bits: &mut Bits, n: usize, what: &str) -> Result<String, String> {
    let value = bits.take(value_bits(n), what)?;
    let text = value.to_string();
    if text.len() > n {
        return Err(format!("{what} holds {value}, more than {n} digits"));
    }
    // Written as an n-digit number: its leading zeros are part of it.
    Ok(format!("{text:0>n$}"))
}

fn characters(bits: &mut Bits, encoding: u128, n: usize, what: &str) -> Result<String, String> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(n);
    match encoding {
        0 => return digits(bits, n, what),
        1 | 2 => {
            for _ in 0..n {
                let c = HEX[bits.take(4, what)? as usize] as char;
                out.push(if encoding == 1 {
                    c.to_ascii_lowercase()
                } else {
                    c
                });
            }
        }
        3 => {
            for _ in 0..n {
                out.push(BASE64URL[bits.take(6, what)? as usize] as char);
            }
        }
        4 => {
            for _ in 0..n {
                out.push(char::from(bits.take(7, what)? as u8));
            }
        }
        other => return Err(format!("{what} uses encoding {other}, which is reserved")),
    }
    Ok(out)
}

fn value(bits: &mut Bits, ai: &str) -> Result<String, String> {
    let Some(parts) = tables().parts.get(ai) else {
        return Err(format!("({ai}) cannot be compressed"));
    };
    let what = format!("the value of ({ai})");
    let mut out = String::new();
    for part in parts {
        match (part.numeric, part.fixed) {
            (true, Some(n)) => out.push_str(&digits(bits, n, &what)?),
            (true, None) => {
                let n = bits.take(length_bits(part.max), &what)? as usize;
                if n > part.max {
                    return Err(format!("{what} is {n} digits, more than {}", part.max));
                }
                if n == 0 {
                    bits.take(value_bits(0), &what)?;
                } else {
                    out.push_str(&digits(bits, n, &what)?);
                }
            }
            (false, fixed) => {
                let encoding = bits.take(3, &what)?;
                let n = match fixed {
                    Some(n) => n,
                    None => bits.take(length_bits(part.max), &what)? as usize,
                };
                if n > part.max {
                    return Err(format!("{what} is {n} characters, more than {}", part.max));
                }
                out.push_str(&characters(bits, encoding, n, &what)?);
            }
        }
    }
    Ok(out)
}

/// Decodes a compressed segment.
pub(super) fn decompress(segment: &str) -> Result<Decompressed, String> {
    let mut bits = Bits {
        bits: Vec::with_capacity(segment.len() * 6),
        at: 0,
    };
    for b in segment.bytes() {
        let Some(index) = BASE64URL.iter().position(|&c| c == b) else {
            return Err(format!("{:?} is not URI-safe base64", b as char));
        };
        for shift in (0..6).rev() {
            bits.bits.push((index >> shift) & 1 == 1);
        }
    }
    let tables = tables();
    let mut out = Decompressed::default();
    while bits.left() > 8 {
        let (h1, h2) = (bits.take(4, "an entry")?, bits.take(4, "an entry")?);
        let code = format!("{h1:X}{h2:X}");
        if h1 <= 9 && h2 <= 9 {
            let Some(&length) = tables.prefix.get(&code) else {
                return Err(format!("no GS1 application identifier starts with {code}"));
            };
            let mut ai = code;
            for _ in 2..length {
                let digit = bits.take(4, "an AI")?;
                if digit > 9 {
                    return Err(format!("the AI {ai}{digit:X}... is not all digits"));
                }
                ai.push(char::from(b'0' + digit as u8));
            }
            let value = value(&mut bits, &ai)?;
            out.ais.push((ai, value));
        } else if let Some(ais) = tables.optimisations.get(&code) {
            for ai in ais {
                let value = value(&mut bits, ai)?;
                out.ais.push((ai.clone(), value));
            }
        } else if h1 == 0xF {
            let length = ((h2 as usize) << 3) | bits.take(3, "a parameter's name")? as usize;
            let mut key = String::with_capacity(length);
            for _ in 0..length {
                key.push(BASE64URL[bits.take(6, "a parameter's name")? as usize] as char);
            }
            let what = format!("the value of the parameter '{key}'");
            let encoding = bits.take(3, &what)?;
            let n = bits.take(7, &what)? as usize;
            let value = characters(&mut bits, encoding, n, &what)?;
            out.other.push((key, value));
        } else {
            return Err(format!(
                "{code} is neither an AI nor one of GS1's compression codes"
            ));
        }
    }
    if bits.bits[bits.at..].iter().any(|&b| b) {
        return Err("it ends in bits that are not zero padding".into());
    }
    if out.ais.is_empty() {
        return Err("it holds no GS1 application identifier".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, v)| (a.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn gs1s_examples_decode() {
        // https://id.gs1.org/01/09521234543213/21/ABC123?17=270531&10=LOT7, compressed by
        // GS1's toolkit without optimisations, and with them (code 1A: 01, 10, 21, 17).
        let plain = decompress("ARFRq5sE2iDIWcn2LoQYZCjVeCRg").expect("plain");
        assert_eq!(
            plain.ais,
            pairs(&[
                ("01", "09521234543213"),
                ("10", "LOT7"),
                ("17", "270531"),
                ("21", "ABC123")
            ])
        );
        let optimised = decompress("GhFRq5sE2shZyfaNV4JGhBhg").expect("optimised");
        let mut sorted = optimised.ais.clone();
        sorted.sort();
        assert_eq!(sorted, plain.ais);
    }

    #[test]
    fn broken_segments_are_refused_with_the_reason() {
        let error = decompress("ARFRq5sE2iDIWcn2LoQ").expect_err("truncated");
        assert!(error.contains("it ends inside"), "{error}");
        assert!(decompress("_____").is_err());
        assert!(decompress("A").is_err());
        assert!(!looks_compressed("AB+C"));
        assert!(looks_compressed("ARFRq5sE2iDIWcn2LoQYZCjVeCRg"));
    }
}
