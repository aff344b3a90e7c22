//! GS1's rules for which application identifiers may appear together, and how a Digital Link
//! carries them, read from GS1's own machine-readable table: the GS1 Barcode Syntax Dictionary
//! (`data/gs1-syntax-dictionary.txt`, release [`RELEASE`]; see `data/README.md`).
//!
//! For every AI the dictionary gives:
//! - `req=A,B+C,...`: the AI needs one of the listed groups present with it (here A alone, or
//!   B with C). An AI with several `req` attributes needs each of them.
//! - `ex=A,B`: the AI may not appear with any of the listed AIs.
//! - `dlpkey[=Q1,Q2|Q3]`: the AI is a Digital Link primary key, and the key qualifiers that may
//!   follow it in the path, in order (alternatives separated by `|`).
//! - the flag `?`: the AI may be a Digital Link data attribute (in the query string).
//!
//! An AI in a rule may be a template such as `310n` or `35nn`, where `n` stands for any digit.
//! As the dictionary says, an AI is never excluded by, nor satisfies a requirement with, itself.
//! The rules are applied as GS1's reference implementation, the GS1 Barcode Syntax Engine,
//! applies them (`validateAImutex`, `validateAIrequisites` and `validateAIrepeats` in its
//! `ai.c`).

use std::{collections::HashMap, sync::OnceLock};

/// The release of the GS1 Barcode Syntax Dictionary bundled here.
pub const RELEASE: &str = "2026-01-27";

const DICTIONARY: &str = include_str!("../../data/gs1-syntax-dictionary.txt");

/// An AI, or a template such as `310n` that stands for ten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template(String);

impl Template {
    /// Whether `code` is an AI this template stands for.
    pub fn matches(&self, code: &str) -> bool {
        code.len() == self.0.len()
            && self
                .0
                .bytes()
                .zip(code.bytes())
                .all(|(t, c)| t == c || (t == b'n' && c.is_ascii_digit()))
    }

    /// As the dictionary writes it, such as `01` or `35nn`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One `req` attribute: the AI needs one of these groups, each present in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub groups: Vec<Vec<Template>>,
}

impl Requirement {
    /// Whether `codes` (the other AIs present) satisfy it.
    fn satisfied_by(&self, codes: &[&str]) -> bool {
        self.groups
            .iter()
            .any(|group| group.iter().all(|t| codes.iter().any(|c| t.matches(c))))
    }

    /// The attribute as the dictionary writes it: `req=01+21,03+21`.
    pub fn attribute(&self) -> String {
        format!("req={}", self.alternatives("+", ","))
    }

    /// In words: `(01) with (21), or (03) with (21)`.
    pub fn describe(&self) -> String {
        self.alternatives(" with ", ", or ")
    }

    fn alternatives(&self, and: &str, or: &str) -> String {
        self.groups
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|t| {
                        if and == "+" {
                            t.0.clone()
                        } else {
                            format!("({})", t.0)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(and)
            })
            .collect::<Vec<_>>()
            .join(or)
    }
}

/// The dictionary's rules for one AI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// The `*` flag: a predefined length, so no FNC1 separator follows the value.
    pub predefined_length: bool,
    /// The `?` flag: the AI may be a Digital Link data attribute.
    pub dl_attribute: bool,
    pub requires: Vec<Requirement>,
    pub excludes: Vec<Template>,
    /// For a Digital Link primary key, the alternative sequences of key qualifiers.
    pub dl_key: Option<Vec<Vec<String>>>,
    /// The dictionary's title for the AI, such as `SERIAL`.
    pub title: String,
    /// The parts the value is made of, in order, each with its checks.
    pub components: Vec<Component>,
}

/// One part of an AI's value: `N13,csum` is thirteen digits with a check digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub numeric: bool,
    pub min: usize,
    pub max: usize,
    pub optional: bool,
    /// The names of GS1's reference checks ("linters") the part must pass.
    pub linters: Vec<String>,
}

/// The linters medchain applies. The others the dictionary names need tables it does not
/// carry (country and currency codes, package and media types, IBAN, coupon layouts, GS1
/// Company Prefix positions, check characters of GMN and CPID) and are not applied.
pub const LINTERS: &[&str] = &[
    "csum",
    "zero",
    "nonzero",
    "yesno",
    "nozeroprefix",
    "hh",
    "mi",
    "ss",
    "hhmi",
    "yymmd0",
    "yymmdd",
    "yyyymmdd",
    "pieceoftotal",
    "iso5218",
    "winding",
    "hyphen",
    "hasnondigit",
    "posinseqslash",
    "pcenc",
    "latitude",
    "longitude",
];

struct Dictionary {
    rules: HashMap<String, Rules>,
}

fn dictionary() -> &'static Dictionary {
    static DICTIONARY_RULES: OnceLock<Dictionary> = OnceLock::new();
    DICTIONARY_RULES.get_or_init(|| {
        let mut rules = HashMap::new();
        for (number, line) in DICTIONARY.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (codes, entry) = parse_line(line)
                .unwrap_or_else(|e| panic!("gs1-syntax-dictionary.txt line {}: {e}", number + 1));
            for code in codes {
                rules.insert(code, entry.clone());
            }
        }
        Dictionary { rules }
    })
}

/// The AIs an entry covers (`3100-3105` is six) and its rules.
fn parse_line(line: &str) -> Result<(Vec<String>, Rules), String> {
    let (fields, title) = line.split_once('#').unwrap_or((line, ""));
    let mut tokens = fields.split_whitespace();
    let ais = tokens.next().ok_or("no AI")?;
    let codes = match ais.split_once('-') {
        None => vec![ais.to_string()],
        Some((first, last)) => {
            let (a, b): (u32, u32) = (
                first.parse().map_err(|_| format!("AI range {ais}"))?,
                last.parse().map_err(|_| format!("AI range {ais}"))?,
            );
            if first.len() != last.len() || a >= b {
                return Err(format!("AI range {ais}"));
            }
            (a..=b)
                .map(|n| format!("{n:0width$}", width = first.len()))
                .collect()
        }
    };
    let mut rules = Rules {
        title: title.trim().to_string(),
        ..Rules::default()
    };
    for token in tokens {
        if token.bytes().all(|b| b.is_ascii_punctuation()) && !token.starts_with('[') {
            rules.predefined_length = token.contains('*');
            rules.dl_attribute = token.contains('?');
        } else if token.starts_with(['N', 'X', 'Y', 'Z', '[']) {
            rules.components.push(component(token)?);
        } else if let Some(list) = token.strip_prefix("req=") {
            let groups = list
                .split(',')
                .map(|group| group.split('+').map(template).collect())
                .collect::<Result<_, _>>()?;
            rules.requires.push(Requirement { groups });
        } else if let Some(list) = token.strip_prefix("ex=") {
            rules.excludes.extend(
                list.split(',')
                    .map(template)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        } else if token == "dlpkey" {
            rules.dl_key = Some(vec![Vec::new()]);
        } else if let Some(list) = token.strip_prefix("dlpkey=") {
            rules.dl_key = Some(
                list.split('|')
                    .map(|seq| seq.split(',').map(str::to_string).collect())
                    .collect(),
            );
        }
    }
    Ok((codes, rules))
}

/// `N13,csum`, `X..20`, `[N6],yymmdd`.
fn component(token: &str) -> Result<Component, String> {
    let (spec, linters) = token.split_once(',').unwrap_or((token, ""));
    let (spec, optional) = match spec.strip_prefix('[') {
        Some(inner) => (
            inner
                .strip_suffix(']')
                .ok_or(format!("component {token}"))?,
            true,
        ),
        None => (spec, false),
    };
    let numeric = spec.starts_with('N');
    let length = &spec[1..];
    let (min, max) = match length.strip_prefix("..") {
        Some(max) => (1, max.parse().map_err(|_| format!("component {token}"))?),
        None => {
            let n = length.parse().map_err(|_| format!("component {token}"))?;
            (n, n)
        }
    };
    Ok(Component {
        numeric,
        min,
        max,
        optional,
        linters: linters
            .split(',')
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// A value that fails one of GS1's checks of a part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintFailure {
    pub linter: String,
    /// The part that failed, and where it starts in the value.
    pub part: String,
    pub offset: usize,
    pub reason: String,
}

/// Applies the dictionary's checks (those in [`LINTERS`]) to each part of `value`, a value of
/// `code` that already matches the AI's format.
pub fn lint(code: &str, value: &str) -> Result<(), LintFailure> {
    let Some(rules) = rules(code) else {
        return Ok(());
    };
    let mut offset = 0;
    for c in &rules.components {
        if offset >= value.len() {
            break;
        }
        let end = (offset + c.max).min(value.len());
        let part = &value[offset..end];
        for linter in &c.linters {
            if let Err(reason) = apply(linter, part) {
                return Err(LintFailure {
                    linter: linter.clone(),
                    part: part.to_string(),
                    offset,
                    reason,
                });
            }
        }
        offset = end;
    }
    Ok(())
}

fn digits_value(part: &str) -> Option<u64> {
    part.parse().ok()
}

fn apply(linter: &str, part: &str) -> Result<(), String> {
    let two = |at: usize| part.get(at..at + 2).and_then(digits_value);
    let date = |year: i32, month: Option<u64>, day: Option<u64>, day_zero: bool| {
        let (Some(month), Some(day)) = (month, day) else {
            return Err("is not a date".to_string());
        };
        if !(1..=12).contains(&month) {
            return Err(format!("has month {month:02}"));
        }
        if day == 0 && day_zero {
            return Ok(());
        }
        match medchain_types::time::Date::new(year, month as u8, day as u8) {
            Some(_) => Ok(()),
            None => Err(format!(
                "has day {day:02}, which month {month:02} does not have"
            )),
        }
    };
    match linter {
        "csum" => {
            let (payload, check) = part.split_at(part.len().saturating_sub(1));
            let expected = medchain_types::gs1::check_digit(payload.as_bytes());
            match check.bytes().next().map(|b| b - b'0') {
                Some(found) if found == expected => Ok(()),
                Some(found) => Err(format!(
                    "has check digit {found}, but its digits give {expected}"
                )),
                None => Err("has no check digit".into()),
            }
        }
        "zero" => (part == "0").then_some(()).ok_or("must be 0".into()),
        "nonzero" => (!part.bytes().all(|b| b == b'0'))
            .then_some(())
            .ok_or("must not be zero".into()),
        "yesno" => matches!(part, "0" | "1")
            .then_some(())
            .ok_or("must be 0 (no) or 1 (yes)".into()),
        "nozeroprefix" => (part == "0" || !part.starts_with('0'))
            .then_some(())
            .ok_or("must not start with 0".into()),
        "hh" => (two(0).is_some_and(|h| h < 24))
            .then_some(())
            .ok_or("is not an hour (00 to 23)".into()),
        "mi" | "ss" => (two(0).is_some_and(|m| m < 60))
            .then_some(())
            .ok_or("is not a minute or second (00 to 59)".into()),
        "hhmi" => (two(0).is_some_and(|h| h < 24) && two(2).is_some_and(|m| m < 60))
            .then_some(())
            .ok_or("is not a time of day (HHMI)".into()),
        // The year's century does not change which days a month has but for 29 February;
        // 2000 and 2100 differ, so the year is read as GS1's window reads it around 2026.
        "yymmd0" | "yymmdd" => {
            let yy = two(0).unwrap_or(0) as i32;
            let year = if yy >= 76 { 1900 + yy } else { 2000 + yy };
            date(year, two(2), two(4), linter == "yymmd0")
        }
        "yyyymmdd" => {
            let year = part.get(..4).and_then(digits_value).unwrap_or(0) as i32;
            date(year, two(4), two(6), false)
        }
        "pieceoftotal" => {
            let half = part.len() / 2;
            let (piece, total) = (digits_value(&part[..half]), digits_value(&part[half..]));
            match (piece, total) {
                (Some(p), Some(t)) if p >= 1 && p <= t => Ok(()),
                _ => Err("is not a piece number from 1 to the total".into()),
            }
        }
        "iso5218" => matches!(part, "0" | "1" | "2" | "9")
            .then_some(())
            .ok_or("is not a sex code of ISO/IEC 5218 (0, 1, 2 or 9)".into()),
        "winding" => matches!(part, "0" | "1" | "9")
            .then_some(())
            .ok_or("is not a winding direction (0, 1 or 9)".into()),
        "hyphen" => part
            .bytes()
            .all(|b| b == b'-')
            .then_some(())
            .ok_or("must be a hyphen".into()),
        "hasnondigit" => part
            .bytes()
            .any(|b| !b.is_ascii_digit())
            .then_some(())
            .ok_or("must have a character that is not a digit".into()),
        "posinseqslash" => {
            let (p, t) = part.split_once('/').unwrap_or((part, ""));
            match (digits_value(p), digits_value(t)) {
                (Some(p), Some(t)) if p >= 1 && p <= t && !p.to_string().is_empty() => Ok(()),
                _ => Err("is not a position in a sequence (n/total)".into()),
            }
        }
        "pcenc" => {
            let bytes = part.as_bytes();
            let bad = bytes.iter().enumerate().any(|(i, &b)| {
                b == b'%'
                    && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                        && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            });
            (!bad)
                .then_some(())
                .ok_or("has a '%' that does not start a percent-escape".into())
        }
        "latitude" => (digits_value(part).is_some_and(|v| v <= 1_800_000_000))
            .then_some(())
            .ok_or("is not a latitude (0 to 1800000000)".into()),
        "longitude" => (digits_value(part).is_some_and(|v| v <= 3_600_000_000))
            .then_some(())
            .ok_or("is not a longitude (0 to 3600000000)".into()),
        _ => Ok(()),
    }
}

fn template(text: &str) -> Result<Template, String> {
    let valid = (2..=4).contains(&text.len())
        && text.as_bytes()[0].is_ascii_digit()
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'n');
    if valid {
        Ok(Template(text.to_string()))
    } else {
        Err(format!("'{text}' is not an AI or AI template"))
    }
}

/// The dictionary's rules for an AI, if it lists the AI.
pub fn rules(code: &str) -> Option<&'static Rules> {
    dictionary().rules.get(code)
}

/// Every AI the dictionary lists.
pub fn codes() -> impl Iterator<Item = &'static str> {
    dictionary().rules.keys().map(String::as_str)
}

/// A pairing the dictionary forbids, or a requirement it makes that the AIs do not meet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// `ai` may not appear with `other` (the dictionary's `ex` rule for `ai`, as written:
    /// `01,03`).
    Excluded {
        ai: String,
        other: String,
        rule: String,
    },
    /// `ai` needs one of the rule's groups with it.
    Unmet { ai: String, rule: Requirement },
}

/// Checks every `ex` and `req` rule of every AI in `codes` (the AIs of one scan, each once),
/// in the order GS1's Syntax Engine checks them: exclusions first, then requirements.
pub fn check(codes: &[&str]) -> Result<(), Violation> {
    for &ai in codes {
        let Some(rules) = rules(ai) else { continue };
        for rule in &rules.excludes {
            if let Some(other) = codes.iter().find(|&&c| c != ai && rule.matches(c)) {
                return Err(Violation::Excluded {
                    ai: ai.to_string(),
                    other: other.to_string(),
                    rule: rules
                        .excludes
                        .iter()
                        .map(Template::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                });
            }
        }
    }
    for &ai in codes {
        let Some(rules) = rules(ai) else { continue };
        let others: Vec<&str> = codes.iter().copied().filter(|&c| c != ai).collect();
        for rule in &rules.requires {
            if !rule.satisfied_by(&others) {
                return Err(Violation::Unmet {
                    ai: ai.to_string(),
                    rule: rule.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Whether `path` (a primary key and the qualifiers after it, in order) is a sequence the
/// key's `dlpkey` rule allows: the qualifiers are an in-order selection from one alternative.
pub fn is_dl_path(path: &[&str]) -> bool {
    let Some((key, qualifiers)) = path.split_first() else {
        return false;
    };
    let Some(alternatives) = rules(key).and_then(|r| r.dl_key.as_ref()) else {
        return false;
    };
    alternatives.iter().any(|alternative| {
        let mut rest = alternative.iter();
        qualifiers.iter().all(|q| rest.any(|a| a == q))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_reads_whole_and_covers_the_ai_table() {
        assert_eq!(
            rules("3103").map(|r| r.title.as_str()),
            Some("NET WEIGHT (kg)")
        );
        assert_eq!(rules("95").map(|r| r.title.as_str()), Some("INTERNAL"));
        let gtin = rules("01").expect("01");
        assert!(gtin.predefined_length && gtin.dl_attribute);
        assert_eq!(
            gtin.dl_key,
            Some(vec![
                vec!["22".to_string(), "10".into(), "21".into()],
                vec!["235".to_string()]
            ])
        );
        let serial = rules("21").expect("21");
        assert!(!serial.dl_attribute && serial.dl_key.is_none());
        assert_eq!(serial.requires[0].attribute(), "req=01,03,8006");
        assert_eq!(serial.requires[0].describe(), "(01), or (03), or (8006)");
        // Every AI our parser knows has the dictionary's rules.
        let missing: Vec<&str> = super::super::ai::all()
            .iter()
            .map(|a| a.code.as_str())
            .filter(|c| rules(c).is_none())
            .collect();
        assert!(missing.is_empty(), "not in the dictionary: {missing:?}");
        assert_eq!(codes().count(), super::super::ai::all().len());
    }

    #[test]
    fn pairings_and_requirements_follow_the_dictionary() {
        assert_eq!(check(&["01", "21", "10", "17"]), Ok(()));
        assert!(matches!(
            check(&["01", "02"]),
            Err(Violation::Excluded { ai, other, .. }) if ai == "02" && other == "01"
        ));
        assert!(matches!(
            check(&["02"]),
            Err(Violation::Unmet { ai, rule }) if ai == "02" && rule.attribute() == "req=37"
        ));
        assert!(matches!(
            check(&["21"]),
            Err(Violation::Unmet { ai, .. }) if ai == "21"
        ));
        // Templates: two net weights in different units exclude each other, not themselves.
        assert_eq!(check(&["01", "3103"]), Ok(()));
        assert!(check(&["01", "3103", "3102"]).is_err());
        // A group needs all its members: (250) needs (01) with (21).
        assert!(check(&["01", "250"]).is_err());
        assert_eq!(check(&["01", "21", "250"]), Ok(()));
    }

    #[test]
    fn digital_link_paths_follow_the_key_qualifier_rules() {
        assert!(is_dl_path(&["01"]));
        assert!(is_dl_path(&["01", "10", "21"]));
        assert!(is_dl_path(&["01", "22", "21"]));
        assert!(is_dl_path(&["01", "235"]));
        assert!(!is_dl_path(&["01", "21", "10"]));
        assert!(!is_dl_path(&["01", "10", "235"]));
        assert!(!is_dl_path(&["00", "21"]));
        assert!(!is_dl_path(&["21"]));
    }
}
