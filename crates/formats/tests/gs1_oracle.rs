//! medchain's GS1 parser against two GS1 parsers that are not ours: `biip` (PyPI; pinned in
//! `tests/gs1-oracle/requirements.txt`) and BWIPP's GS1 processor as the npm package `bwip-js`
//! ships it (pinned in `tests/gs1-oracle-bwipp/package.json`), on every string in biip's own
//! test suite and on a few thousand generated scans (element strings with and without
//! symbology identifiers and separators, human-readable forms, Digital Link URIs; valid ones
//! and ones with bad check digits, impossible dates, values too long, unknown AIs, stray
//! characters, repeated AIs and AIs that break GS1's association rules).
//!
//! Where the two accept a scan, we parse it to the same element strings, GTIN, serial, lot,
//! expiry and SSCC; where both refuse it, we refuse it. Where they disagree, the GS1 standard
//! decides, and [`standard_decides`] names the clause: biip checks each AI on its own, so every
//! disagreement so far is a scan BWIPP refuses by a rule biip does not apply (an association
//! rule of the GS1 Barcode Syntax Dictionary, a Digital Link key qualifier in the query, a
//! check digit inside a GRAI, day 00 in a date that may not have it), and we refuse it too.
//! The test prints how many scans each clause decided.
//!
//! Our deliberate readings, which the oracles' scripts share and the test holds us to:
//! - biip reads the human-readable form by picking out each `(digits)text` and ignoring what
//!   lies between, so `(240)(x)ABC(17)270101` quietly loses data. We refuse a human-readable
//!   string we cannot read in full; the biip oracle marks the scans where biip skipped text,
//!   and for those we must refuse. Whitespace around each `(AI)` is layout, not data.
//! - biip reads the second half of a 12-digit harvest date (AI 7007, `YYMMDD[YYMMDD]`, a date
//!   range in the GS1 General Specifications) as a time of day. We read a range, so the
//!   generator gives 7007 single dates only; ranges are covered by the unit tests.
//! - Both oracles accept an http(s) URI with an empty host (`https:///...`), which RFC 9110
//!   calls invalid; we refuse it ([`both_accept_what_the_standard_refuses`]).

// The shared helper module also installs npm packages, which this test does not use.
#[allow(dead_code)]
#[path = "../../client/tests/it/venv.rs"]
mod venv;

#[allow(dead_code)]
#[path = "common/rng.rs"]
mod rng;

use medchain_formats::{
    gs1::{Gtin, Scan, Sscc, check_digit},
    uri::percent_encode,
};
use medchain_types::time::Date;
use rng::Rng;
use serde_json::{Value, json};
use std::path::Path;

/// GS1 AI encodable character set 82, and a few characters outside it.
const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn text(rng: &mut Rng, max: usize) -> String {
    let len = 1 + rng.below(max);
    let alphabet: Vec<char> = if rng.chance(70) {
        "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-".chars().collect()
    } else {
        CSET82.chars().chain([' ', '#', '~']).collect()
    };
    (0..len).map(|_| *rng.pick(&alphabet)).collect()
}

/// `digits` random digits after `prefix`, and a check digit (now and then a wrong one).
fn keyed(rng: &mut Rng, prefix: &str, digits: usize) -> String {
    let payload = format!("{prefix}{}", rng.digits(digits));
    let check = check_digit(payload.as_bytes());
    let check = if rng.chance(8) {
        (check + 1 + rng.below(9) as u8) % 10
    } else {
        check
    };
    format!("{payload}{check}")
}

fn yymmdd(rng: &mut Rng) -> String {
    let year = rng.below(100);
    let month = if rng.chance(5) { 13 } else { 1 + rng.below(12) };
    let day = if rng.chance(10) {
        0
    } else if rng.chance(5) {
        31
    } else {
        1 + rng.below(29)
    };
    format!("{year:02}{month:02}{day:02}")
}

/// One element string value for a randomly chosen AI.
fn element(rng: &mut Rng) -> (String, String) {
    let ai = *rng.pick(&[
        "01", "01", "01", "21", "21", "10", "10", "17", "17", "00", "02", "11", "15", "37", "3103",
        "414", "7003", "7007", "8008", "99", "4321", "22", "235", "240", "8003",
    ]);
    let value = match ai {
        "01" | "02" => match rng.below(4) {
            0 => keyed(rng, "000000", 6),
            1 => keyed(rng, "00", 11),
            _ => keyed(rng, "", 13),
        },
        "00" => keyed(rng, "", 17),
        "414" => keyed(rng, "", 12),
        "21" | "10" | "22" | "240" => {
            let max = if rng.chance(10) { 24 } else { 20 };
            text(rng, max)
        }
        "235" => text(rng, 28),
        "99" => text(rng, 30),
        "17" | "11" | "15" => yymmdd(rng),
        "7003" => format!("{}{:02}{:02}", yymmdd(rng), rng.below(26), rng.below(61)),
        "7007" => yymmdd(rng),
        "8008" => {
            let pairs = 1 + rng.below(3);
            format!("{}{}", yymmdd(rng), rng.digits(2 * pairs))
        }
        "37" => {
            let len = 1 + rng.below(9);
            rng.digits(len)
        }
        "3103" => {
            let len = if rng.chance(90) { 6 } else { 5 };
            rng.digits(len)
        }
        "4321" => rng.digits(1),
        "8003" => {
            let grai = keyed(rng, "0", 12);
            format!("{grai}{}", text(rng, 16))
        }
        _ => unreachable!(),
    };
    (ai.to_string(), value)
}

fn is_variable(ai: &str) -> bool {
    medchain_formats::gs1::ai::lookup(ai).is_some_and(|a| a.separator_required)
}

fn generated() -> Vec<String> {
    let mut rng = Rng(0x6d65_6463_6861_696e);
    let mut scans = Vec::new();
    for _ in 0..4000 {
        let count = 1 + rng.below(5);
        let mut elements: Vec<(String, String)> = (0..count).map(|_| element(&mut rng)).collect();
        // Most scans are of a trade item: a GTIN first, and the AIs that may go with it (the
        // rest try GS1's rules on whatever comes).
        if rng.chance(70) {
            elements.retain(|(ai, _)| {
                !["00", "01", "02", "37", "414", "8003", "235"].contains(&ai.as_str())
            });
            let mut seen = std::collections::HashSet::new();
            elements.retain(|(ai, _)| seen.insert(ai.clone()));
            elements.insert(0, ("01".into(), keyed(&mut rng, "", 13)));
        }
        let scan = match rng.below(10) {
            0..=4 => {
                let mut s = String::new();
                if rng.chance(40) {
                    let symbology = *rng.pick(&["]d2", "]C1", "]Q3", "]e0", "]d1", "]E0", "]Q1"]);
                    s.push_str(symbology);
                }
                for (i, (ai, value)) in elements.iter().enumerate() {
                    s.push_str(ai);
                    s.push_str(value);
                    let last = i + 1 == elements.len();
                    if (is_variable(ai) && !last && !rng.chance(5)) || rng.chance(3) {
                        s.push('\u{1d}');
                    }
                }
                s
            }
            5..=7 => elements
                .iter()
                .map(|(ai, value)| {
                    let space = if rng.chance(10) { " " } else { "" };
                    format!("({ai}){space}{value}")
                })
                .collect(),
            _ => {
                let mut s = String::from(*rng.pick(&[
                    "https://id.gs1.org",
                    "https://brand.example/p",
                    "http://example.org",
                ]));
                let gtin = keyed(&mut rng, "", 13);
                let gtin = if rng.chance(20) {
                    gtin[1..].to_string()
                } else {
                    gtin
                };
                s.push_str(&format!("/01/{gtin}"));
                let mut query = Vec::new();
                for (ai, value) in &elements {
                    if ["10", "21", "22"].contains(&ai.as_str()) && rng.chance(70) {
                        s.push_str(&format!("/{ai}/{}", percent_encode(value)));
                    } else if ai != "01" {
                        query.push(format!("{ai}={}", percent_encode(value)));
                    }
                }
                if rng.chance(20) {
                    query.push("utm_source=leaflet".into());
                }
                if !query.is_empty() {
                    s.push('?');
                    s.push_str(&query.join("&"));
                }
                s
            }
        };
        // Now and then a character is lost or doubled in transmission.
        let scan = if rng.chance(8) && scan.len() > 4 {
            let at = rng.below(scan.len() - 1);
            if scan.is_char_boundary(at) && scan.is_char_boundary(at + 1) {
                if rng.chance(50) {
                    format!("{}{}", &scan[..at], &scan[at + 1..])
                } else {
                    format!("{}{}", &scan[..at + 1], &scan[at..])
                }
            } else {
                scan
            }
        } else {
            scan
        };
        scans.push(scan);
    }
    scans
}

fn ours(scan: &str, today: Date) -> Value {
    match Scan::parse(scan, today) {
        Ok(s) => json!({
            "ok": true,
            "elements": s.elements.iter().map(|e| json!([
                e.ai.code, e.value, e.date.map(|d| d.date.to_string())
            ])).collect::<Vec<_>>(),
            "gtin": s.gtin().map(|g: Gtin| g.to_string()),
            "serial": s.serial(),
            "lot": s.lot(),
            "expiry": s.expiry().map(|d| d.to_string()),
            "sscc": s.sscc().map(|s: Sscc| s.to_string()),
        }),
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    }
}

/// BWIPP's verdicts on `scans` (`tests/gs1-oracle-bwipp/oracle.mjs`).
fn bwipp(scans: &[String]) -> Vec<Value> {
    let dir = venv::npm_package("gs1-oracle-bwipp");
    let input = dir.join("scans.json");
    std::fs::write(&input, serde_json::to_vec(scans).expect("JSON")).expect("write scans");
    let output = std::process::Command::new("node")
        .arg(dir.join("oracle.mjs"))
        .arg(&input)
        .output()
        .expect("node must be installed to run the GS1 oracle (Debian: apt-get install nodejs)");
    assert!(
        output.status.success(),
        "the BWIPP oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the BWIPP oracle prints JSON")
}

/// An oracle's elements as `[ai, value]` pairs, a repeat of the same value read once (as
/// medchain reads two carriers on one label).
fn pairs(elements: &Value) -> Vec<(String, String)> {
    dedup(elements)
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap_or_default().to_string(),
                e[1].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Where biip and BWIPP disagree, the GS1 standard decides. Each rule names the clause and
/// which of the two it agrees with; a disagreement no rule covers fails the test.
fn standard_decides(biip: &Value, bwipp: &Value) -> Option<(&'static str, bool)> {
    let error = bwipp["error"].as_str().unwrap_or_default();
    let biip_ok = biip["ok"] == json!(true);
    let bwipp_ok = bwipp["ok"] == json!(true);
    if biip_ok && !bwipp_ok {
        // biip checks each AI alone; BWIPP also checks them together, as GS1 requires.
        for (code, clause) in [
            (
                "GS1missingAIs",
                "GS1 General Specifications, mandatory associations of element strings (Syntax Dictionary req)",
            ),
            (
                "GS1exclusiveAIs",
                "GS1 General Specifications, invalid pairs of element strings (Syntax Dictionary ex)",
            ),
            (
                "GS1repeatedDifferingAIs",
                "GS1 General Specifications, element string associations: one AI, one value",
            ),
            (
                "GS1dlInvalidDataAttribute",
                "GS1 Digital Link URI Syntax: key qualifiers belong in the path, data attributes in the query",
            ),
            (
                "GS1dlBadPathInfo",
                "GS1 Digital Link URI Syntax: key qualifiers in their order (Syntax Dictionary dlpkey)",
            ),
            (
                "GS1dlDuplicateAI",
                "GS1 Digital Link URI Syntax: each AI once",
            ),
            (
                "GS1dlAttributeMustBeQualifier",
                "GS1 Digital Link URI Syntax: key qualifiers belong in the path, data attributes in the query",
            ),
            (
                "GS1badCSET82character",
                "GS1 General Specifications, figure 7.11-1: a space is not in AI encodable character set 82",
            ),
            (
                "GS1valueTooLong",
                "GS1 General Specifications, FNC1 as separator: a variable-length value runs to FNC1, within its length",
            ),
            (
                "GS1badChecksum",
                "GS1 General Specifications, standard check digit calculation (Syntax Dictionary csum)",
            ),
            (
                "GS1badDay",
                "GS1 Barcode Syntax Dictionary: day 00 only where a date is yymmd0, not yymmdd",
            ),
            (
                "GS1badHour",
                "GS1 Barcode Syntax Dictionary: a time of day (hh, hhmi)",
            ),
            (
                "GS1badMinute",
                "GS1 Barcode Syntax Dictionary: a time of day (mi)",
            ),
            (
                "GS1badSecond",
                "GS1 Barcode Syntax Dictionary: a time of day (ss)",
            ),
            (
                "GS1UnknownMediaType",
                "GS1 Barcode Syntax Dictionary: AIDC media type code list (mediatype)",
            ),
            (
                "GS1UnknownCountry",
                "GS1 Barcode Syntax Dictionary: ISO 3166 country codes (iso3166)",
            ),
            (
                "GS1valueTooShort",
                "GS1 General Specifications, the AI's format: a value of its length",
            ),
            (
                "GS1aiMissingOpenParen",
                "GS1 General Specifications: a GS1 message carries at least one element string",
            ),
            (
                "raw.unknownAI",
                "GS1 General Specifications, FNC1 as separator: one FNC1 ends a field; a second starts no AI",
            ),
        ] {
            if error.contains(code) {
                return Some((clause, false));
            }
        }
        if error.contains("GS1dlURIbadScheme") {
            return Some(("RFC 3986 3.1: a scheme is case-insensitive", true));
        }
    }
    None
}

/// Where biip and BWIPP both accept what the standard refuses: the clause, and the test that
/// finds such a scan.
fn both_accept_what_the_standard_refuses(scan: &str) -> Option<&'static str> {
    let lower = scan.trim().to_ascii_lowercase();
    (lower.starts_with("https:///") || lower.starts_with("http:///")).then_some(
        "RFC 9110 4.2.1: an http(s) URI with an empty host is invalid (GS1's Syntax Engine \
         agrees: 'URI must contain a domain and path info')",
    )
}

#[test]
fn gs1_scans_parse_as_biip_and_bwipp_parse_them() {
    let extra = generated();
    let sdist = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gs1-oracle-biip-sdist");
    let answer = venv::run_oracle("gs1-oracle", &json!(extra), &[&sdist]);
    let corpus = answer["corpus"].as_array().expect("corpus");
    assert!(
        corpus.len() > 500,
        "biip's test suite gave {} strings",
        corpus.len()
    );
    let verdicts = answer["verdicts"].as_array().expect("verdicts");
    assert_eq!(verdicts.len(), corpus.len() + extra.len());
    let scans: Vec<String> = verdicts
        .iter()
        .map(|v| v["scan"].as_str().expect("scan").to_string())
        .collect();
    let second = bwipp(&scans);
    assert_eq!(second.len(), scans.len());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let today = Date::of_ms(now);
    let (mut accepted, mut skipped, mut decided) = (0, 0, std::collections::BTreeMap::new());
    let mut disagreements = Vec::new();
    for ((theirs, bw), scan) in verdicts.iter().zip(&second).zip(&scans) {
        let mine = ours(scan, today);
        let same_as_biip = || {
            ["ok", "gtin", "serial", "lot", "expiry", "sscc"]
                .iter()
                .all(|k| mine[k] == theirs[k])
                && mine["elements"] == json!(dedup(&theirs["elements"]))
        };
        let both_ok = theirs["ok"] == json!(true) && bw["ok"] == json!(true);
        let agree = if let Some(clause) = both_accept_what_the_standard_refuses(scan) {
            *decided.entry(clause).or_insert(0) += 1;
            mine["ok"] == json!(false)
        } else if theirs["skipped_text"] == json!(true) {
            skipped += 1;
            mine["ok"] == json!(false)
        } else if both_ok {
            accepted += 1;
            same_as_biip() && pairs(&bw["elements"]) == pairs(&mine["elements"])
        } else if theirs["ok"] == bw["ok"] {
            mine["ok"] == json!(false)
        } else if let Some((clause, accept)) = standard_decides(theirs, bw) {
            *decided.entry(clause).or_insert(0) += 1;
            if accept {
                same_as_biip()
            } else {
                mine["ok"] == json!(false)
            }
        } else {
            false
        };
        if !agree {
            disagreements.push(format!(
                "{scan:?}\n  biip: {theirs}\n  bwipp: {bw}\n  ours: {mine}"
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} scans disagree:\n{}",
        disagreements.len(),
        verdicts.len(),
        disagreements.join("\n")
    );
    eprintln!("decided by the standard where biip and BWIPP differ: {decided:#?}");
    // Both kinds are well represented.
    assert!(
        accepted > 1000 && accepted < verdicts.len() - 1000,
        "{accepted} accepted by both"
    );
    assert!(
        skipped > 0 && skipped < 200,
        "{skipped} with text biip skipped"
    );
}

/// biip's `[ai, value, date]` elements, a repeat of the same value read once.
fn dedup(elements: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for e in elements.as_array().into_iter().flatten() {
        if !out.iter().any(|o| o[0] == e[0] && o[1] == e[1]) {
            out.push(e.clone());
        }
    }
    out
}
