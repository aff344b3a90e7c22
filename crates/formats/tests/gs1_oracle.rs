//! medchain's GS1 parser against `biip` (PyPI; pinned in `tests/gs1-oracle/requirements.txt`),
//! a GS1 parser that is not ours, on every string in biip's own test suite and on a few
//! thousand generated scans (element strings with and without symbology identifiers and
//! separators, human-readable forms, Digital Link URIs; valid ones and ones with bad check
//! digits, impossible dates, values too long, unknown AIs and stray characters). Every scan
//! biip accepts, we parse to the same element strings, GTIN, serial, lot, expiry and SSCC;
//! every scan it refuses, we refuse.
//!
//! Two differences are deliberate, and the test holds us to our side of them:
//! - biip reads the human-readable form by picking out each `(digits)text` and ignoring what
//!   lies between, so `(240)(x)ABC(17)270101` quietly loses data. We refuse a human-readable
//!   string we cannot read in full; the oracle marks the scans where biip skipped text, and
//!   for those we must refuse.
//! - biip reads the second half of a 12-digit harvest date (AI 7007, `YYMMDD[YYMMDD]`, a date
//!   range in the GS1 General Specifications) as a time of day. We read a range, so the
//!   generator gives 7007 single dates only; ranges are covered by the unit tests.

// The shared helper module also installs npm packages, which this test does not use.
#[allow(dead_code)]
#[path = "../../client/tests/it/venv.rs"]
mod venv;

use medchain_formats::{
    gs1::{Gtin, Scan, Sscc, check_digit},
    uri::percent_encode,
};
use medchain_types::time::Date;
use serde_json::{Value, json};
use std::path::Path;

/// A small deterministic generator (xorshift64*), so a failure can be reproduced.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

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
        let elements: Vec<(String, String)> = (0..count).map(|_| element(&mut rng)).collect();
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

#[test]
fn gs1_scans_parse_as_biip_parses_them() {
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let today = Date::of_ms(now);
    let (mut accepted, mut skipped, mut disagreements) = (0, 0, Vec::new());
    for theirs in verdicts {
        let scan = theirs["scan"].as_str().expect("scan");
        let mine = ours(scan, today);
        let agree = if theirs["skipped_text"] == json!(true) {
            skipped += 1;
            mine["ok"] == json!(false)
        } else if theirs["ok"] == json!(true) {
            accepted += 1;
            ["ok", "elements", "gtin", "serial", "lot", "expiry", "sscc"]
                .iter()
                .all(|k| mine[k] == theirs[k])
        } else {
            mine["ok"] == json!(false)
        };
        if !agree {
            disagreements.push(format!("{scan:?}\n  biip: {theirs}\n  ours: {mine}"));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} scans disagree:\n{}",
        disagreements.len(),
        verdicts.len(),
        disagreements.join("\n")
    );
    // Both kinds are well represented.
    assert!(
        accepted > 1000 && accepted < verdicts.len() - 1000,
        "{accepted} accepted"
    );
    assert!(
        skipped > 0 && skipped < 200,
        "{skipped} with text biip skipped"
    );
}
