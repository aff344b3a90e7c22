//! The GS1 application identifier (AI) table: every AI GS1 defines, with its data title, its
//! format and the pattern its value must match. Read once from `data/gs1-application-identifiers.json`
//! (see `data/README.md` for where it comes from).

use regex::Regex;
use serde::Deserialize;
use std::{collections::HashMap, sync::OnceLock};

/// One GS1 application identifier.
pub struct Ai {
    /// The AI's digits, such as `01` or `7003`.
    pub code: String,
    /// What the AI means, such as "Global Trade Item Number (GTIN)".
    pub description: String,
    /// The label printed next to the data, such as `GTIN` or `USE BY or EXPIRY`.
    pub data_title: String,
    /// Whether the value is variable-length, so that a FNC1 (GS) must end it unless it is last.
    pub separator_required: bool,
    /// GS1's format string, such as `N2+N14` or `N2+X..20`.
    pub format: String,
    pattern: String,
    prefix_regex: OnceLock<Regex>,
}

#[derive(Deserialize)]
struct Entry {
    ai: String,
    description: String,
    data_title: String,
    separator_required: bool,
    format: String,
    pattern: String,
}

struct Table {
    entries: Vec<Ai>,
    by_code: HashMap<String, usize>,
}

const TABLE_JSON: &str = include_str!("../../data/gs1-application-identifiers.json");

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let entries: Vec<Entry> =
            serde_json::from_str(TABLE_JSON).expect("the bundled GS1 AI table is valid JSON");
        let entries: Vec<Ai> = entries
            .into_iter()
            .map(|e| Ai {
                code: e.ai,
                description: e.description,
                data_title: e.data_title,
                separator_required: e.separator_required,
                format: e.format,
                pattern: e.pattern,
                prefix_regex: OnceLock::new(),
            })
            .collect();
        let by_code = entries
            .iter()
            .enumerate()
            .map(|(i, ai)| (ai.code.clone(), i))
            .collect();
        Table { entries, by_code }
    })
}

/// Every AI in the table, in GS1's order.
pub fn all() -> &'static [Ai] {
    &table().entries
}

/// The AI with exactly these digits.
pub fn lookup(code: &str) -> Option<&'static Ai> {
    let table = table();
    table.by_code.get(code).map(|&i| &table.entries[i])
}

/// The AI that `text` starts with. AIs are prefix-free (no AI begins another), two to four
/// digits long, so at most one matches.
pub fn at_start(text: &str) -> Option<&'static Ai> {
    (2..=4).filter_map(|len| text.get(..len)).find_map(lookup)
}

/// GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1).
pub fn is_cset82(c: char) -> bool {
    matches!(c, '!' | '"' | '%'..='?' | 'A'..='Z' | '_' | 'a'..='z')
}

impl std::fmt::Debug for Ai {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}) {}", self.code, self.data_title)
    }
}

impl PartialEq for Ai {
    fn eq(&self, other: &Ai) -> bool {
        self.code == other.code
    }
}

impl Eq for Ai {}

impl Ai {
    /// The AI's value in `text` (which starts with the AI's digits): as many characters as the
    /// pattern takes, greedily, as a scanner's data is read when no separator ends a field.
    /// `None` if the data after the AI does not match the AI's format.
    pub(crate) fn take_value(&self, text: &str) -> Option<String> {
        let regex = self.prefix_regex.get_or_init(|| {
            let pattern = self.pattern.strip_suffix('$').unwrap_or(&self.pattern);
            // ASCII only: `\d` is 0 to 9, not every script's digits.
            Regex::new(&format!("(?-u){pattern}")).expect("the bundled GS1 AI patterns compile")
        });
        let captures = regex.captures(text)?;
        Some(
            captures
                .iter()
                .skip(1)
                .flatten()
                .map(|m| m.as_str())
                .collect(),
        )
    }

    /// Whether `value` is, in full, a value this AI allows: exactly what a scanner reads
    /// after the AI (so the few patterns that allow percent-escapes cannot let a value run
    /// past its length).
    pub fn matches(&self, value: &str) -> bool {
        self.take_value(&format!("{}{value}", self.code)).as_deref() == Some(value)
    }

    /// The regular expression (GS1 Barcode Syntax Dictionary rules) the AI and its value
    /// match together.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The longest value the AI's format allows (`X..20` is 20, `N6[+N6]` is 12).
    pub fn max_len(&self) -> usize {
        self.format
            .split('+')
            .skip(1)
            .map(|component| {
                let digits: String = component
                    .chars()
                    .rev()
                    .skip_while(|c| !c.is_ascii_digit())
                    .take_while(char::is_ascii_digit)
                    .collect();
                let digits: String = digits.chars().rev().collect();
                digits.parse::<usize>().unwrap_or(1)
            })
            .sum()
    }

    /// Whether `c` may appear anywhere in the AI's value: a digit for an all-numeric format;
    /// otherwise a character of GS1's AI encodable character set 82 (and `#` for CSET 39, `=`
    /// for the base64url values of CSET 64).
    pub fn allows_char(&self, c: char) -> bool {
        let components = self.format.split('+').skip(1);
        let numeric = components
            .clone()
            .all(|part| !part.contains(['X', 'Y', 'Z']));
        if numeric {
            // `[-]` (AIs 4330 to 4333) is the one non-digit a numeric format allows.
            return c.is_ascii_digit() || (c == '-' && self.format.contains("[-]"));
        }
        is_cset82(c)
            || (c == '#' && self.format.contains('Y'))
            || (c == '=' && self.format.contains('Z'))
    }

    /// Whether the AI's value is a date (YYMMDD, perhaps with a time or a second date).
    pub fn is_date(&self) -> bool {
        matches!(
            self.code.as_str(),
            "11" | "12"
                | "13"
                | "15"
                | "16"
                | "17"
                | "4324"
                | "4325"
                | "4326"
                | "7003"
                | "7006"
                | "7007"
                | "7011"
                | "8008"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_complete_prefix_free_and_its_patterns_compile() {
        let all = all();
        assert_eq!(all.len(), 541);
        for ai in all {
            assert!((2..=4).contains(&ai.code.len()), "{}", ai.code);
            assert!(ai.code.bytes().all(|b| b.is_ascii_digit()));
            for other in all {
                assert!(
                    other.code == ai.code || !other.code.starts_with(&ai.code),
                    "{} begins {}",
                    ai.code,
                    other.code
                );
            }
            // Compiles the AI's pattern: a pattern that does not compile panics.
            let _ = ai.matches("1");
        }
        assert_eq!(
            at_start("0109521234543213").map(|a| a.code.as_str()),
            Some("01")
        );
        assert_eq!(
            at_start("7003260101").map(|a| a.code.as_str()),
            Some("7003")
        );
        assert!(at_start("9").is_none());
        assert!(at_start("").is_none());
        let expiry = lookup("17").expect("AI 17");
        assert_eq!(expiry.data_title, "USE BY or EXPIRY");
        assert!(expiry.matches("261231"));
        assert!(!expiry.matches("261331"));
        assert!(!expiry.matches("2612311"));
        let lot = lookup("10").expect("AI 10");
        assert!(lot.separator_required);
        assert_eq!(lot.take_value("10AB-12\u{1d}").as_deref(), Some("AB-12"));
        assert_eq!(lot.take_value("10").as_deref(), None);
        let count = lookup("37").expect("AI 37");
        assert!(count.matches("12"));
        assert_eq!(lot.max_len(), 20);
        assert_eq!(expiry.max_len(), 6);
        assert_eq!(lookup("7007").expect("7007").max_len(), 12);
        assert_eq!(lookup("4330").expect("4330").max_len(), 7);
        assert!(lot.allows_char('/') && !lot.allows_char(' ') && !lot.allows_char('#'));
        assert!(!expiry.allows_char('A'));
        assert!(lookup("8010").expect("8010").allows_char('#'));
        assert!(
            !count.matches("1\u{663}"),
            "an Arabic-Indic digit is not a GS1 digit"
        );
    }
}
