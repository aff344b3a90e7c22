//! GS1 barcodes as a scanner reads them: element strings from GS1 DataMatrix, GS1-128, GS1 QR
//! and DataBar (with FNC1 sent as the GS character, 0x1D, and perhaps a symbology identifier
//! such as `]d2`), the human-readable form printed under a barcode (`(01)...(21)...`), and
//! GS1 Digital Link URIs (`https://id.gs1.org/01/.../21/...?17=...`).
//!
//! Parsing is table-driven over every GS1 application identifier ([`ai`]): each value must
//! match its AI's format; GTINs, SSCCs and GLNs must have the right check digit; dates must be
//! real dates (with GS1's two-digit-year window, and `DD = 00` for the last day of the month).
//! Anything malformed is refused with an error that names the AI and what was wrong.
//!
//! A scan means exactly one thing, or it is refused: a character GS1 does not allow in a value
//! is refused at its position (never dropped or read past); an AI given twice with different
//! values is refused; and the AIs together must keep every pairing and requirement rule of the
//! GS1 Barcode Syntax Dictionary ([`syntax`]), such as (21) needing (01), (03) or (8006), and
//! (01) never appearing with (02).

pub mod ai;
mod compressed;
pub mod date;
mod digital_link;
mod symbology;
pub mod syntax;

pub use ai::Ai;
pub use date::Gs1Date;
pub use medchain_types::gs1::{Gln, Gtin, KeyError, Sscc, check_digit};
pub use symbology::Symbology;

use medchain_types::time::Date;
use serde::Serialize;

/// The longest scan accepted: more than any GS1 DataMatrix or QR symbol holds, and room for
/// a long Digital Link URI.
pub const MAX_SCAN_BYTES: usize = 8192;

/// The group separator a scanner sends for FNC1.
pub const GS: char = '\u{1d}';

/// Why a scan is not a valid GS1 barcode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Gs1Error {
    #[error("the scan is empty")]
    Empty,
    #[error("the scan is {0} bytes long; the limit is {MAX_SCAN_BYTES}")]
    TooLong(usize),
    #[error("the scan has a character GS1 barcodes cannot carry at position {position}: {found:?}")]
    NotAscii { position: usize, found: char },
    #[error("'{0}' is not a symbology identifier (ISO/IEC 15424)")]
    UnknownSymbology(String),
    #[error(
        "the symbology identifier {0} does not carry GS1 element strings or a GS1 Digital Link"
    )]
    NotGs1Symbology(String),
    #[error("no GS1 application identifier starts at position {position} ('{near}')")]
    UnknownAi { position: usize, near: String },
    #[error("AI ({ai}) {title}: '{value}' does not match its format {format}")]
    Format {
        ai: String,
        title: String,
        value: String,
        format: String,
    },
    #[error("AI ({ai}) {title}: {source}")]
    Key {
        ai: String,
        title: String,
        source: KeyError,
    },
    #[error("AI ({ai}) {title}: {reason}")]
    Date {
        ai: String,
        title: String,
        reason: String,
    },
    #[error(
        "AI ({ai}) {title}: {found:?} at position {position} is not a character GS1 allows in \
         its value (format {format})"
    )]
    Character {
        ai: String,
        title: String,
        position: usize,
        found: char,
        format: String,
    },
    #[error(
        "AI ({ai}) {title}: '{value}' is {length} characters long; its format {format} allows \
         at most {max}"
    )]
    ValueTooLong {
        ai: String,
        title: String,
        value: String,
        length: usize,
        max: usize,
        format: String,
    },
    #[error("AI ({ai}) {title} is given twice, as '{first}' and as '{second}'")]
    Repeated {
        ai: String,
        title: String,
        first: String,
        second: String,
    },
    #[error(
        "AI ({ai}) {title} may not appear with ({other}) {other_title} (GS1 Barcode Syntax \
         Dictionary {release}: ex={rule} for ({ai}))",
        release = syntax::RELEASE
    )]
    Excluded {
        ai: String,
        title: String,
        other: String,
        other_title: String,
        rule: String,
    },
    #[error(
        "AI ({ai}) {title} needs {needs} with it (GS1 Barcode Syntax Dictionary {release}: \
         {rule} for ({ai}))",
        release = syntax::RELEASE
    )]
    Unmet {
        ai: String,
        title: String,
        needs: String,
        rule: String,
    },
    #[error(
        "AI ({ai}) {title}: {what} {reason} (GS1 Barcode Syntax Dictionary {release}: {linter})",
        release = syntax::RELEASE
    )]
    Lint {
        ai: String,
        title: String,
        /// The part of the value that fails, as `'0707132400102' in '07071324001022085952'`.
        what: String,
        linter: String,
        reason: String,
    },
    #[error("not a GS1 human-readable string: {0}")]
    Hri(String),
    #[error("not a GS1 Digital Link URI: {0}")]
    DigitalLink(String),
}

/// How a scan was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// AIs and values run together, variable-length values ended by FNC1 (GS).
    ElementString,
    /// The human-readable interpretation: `(01)09521234543213(21)ABC`.
    HumanReadable,
    /// A GS1 Digital Link URI.
    DigitalLink,
}

impl Form {
    /// The name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Form::ElementString => "element_string",
            Form::HumanReadable => "human_readable",
            Form::DigitalLink => "digital_link",
        }
    }
}

/// One application identifier and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub ai: &'static Ai,
    pub value: String,
    /// The date in the value, for date AIs.
    pub date: Option<Gs1Date>,
}

impl Element {
    /// Checks `value` against the AI's format, check digit and date rules.
    pub fn new(ai: &'static Ai, value: &str, current_year: i32) -> Result<Element, Gs1Error> {
        if !ai.matches(value) {
            return Err(Gs1Error::Format {
                ai: ai.code.clone(),
                title: ai.data_title.clone(),
                value: value.to_string(),
                format: ai.format.clone(),
            });
        }
        Element::checked(ai, value.to_string(), current_year)
    }

    /// Checks the check digit and date rules of a value that matched the AI's pattern.
    fn checked(ai: &'static Ai, value: String, current_year: i32) -> Result<Element, Gs1Error> {
        // Two patterns in the table (AIs 30 and 7004) allow an empty value, though their
        // formats (`N..8`, `N..4`) say at least one digit.
        if value.is_empty() {
            return Err(Gs1Error::Format {
                ai: ai.code.clone(),
                title: ai.data_title.clone(),
                value,
                format: ai.format.clone(),
            });
        }
        let key = match ai.code.as_str() {
            "00" => Sscc::parse(&value).err(),
            "01" | "02" | "03" => Gtin::parse(&value).err(),
            code if code.starts_with("41") => Gln::parse(&value).err(),
            _ => None,
        };
        if let Some(source) = key {
            return Err(Gs1Error::Key {
                ai: ai.code.clone(),
                title: ai.data_title.clone(),
                source,
            });
        }
        let date = if ai.is_date() {
            Some(
                date::parse(&ai.code, &value, current_year).map_err(|reason| Gs1Error::Date {
                    ai: ai.code.clone(),
                    title: ai.data_title.clone(),
                    reason,
                })?,
            )
        } else {
            None
        };
        if let Err(failure) = syntax::lint(&ai.code, &value) {
            let what = if failure.part == value {
                format!("'{value}'")
            } else {
                format!("'{}' in '{value}'", failure.part)
            };
            return Err(Gs1Error::Lint {
                ai: ai.code.clone(),
                title: ai.data_title.clone(),
                what,
                linter: failure.linter,
                reason: failure.reason,
            });
        }
        Ok(Element { ai, value, date })
    }
}

impl Element {
    /// Why `field`, the data after `ai` up to its end (`position` in the scan), is not a
    /// value of `ai`: the first character GS1 does not allow in it, or its length, or else
    /// its format.
    fn explain(ai: &'static Ai, field: &str, position: usize) -> Gs1Error {
        let max = ai.max_len();
        let within: String = field.chars().take(max).collect();
        if let Some((at, found)) = within.char_indices().find(|(_, c)| !ai.allows_char(*c)) {
            return Gs1Error::Character {
                ai: ai.code.clone(),
                title: ai.data_title.clone(),
                position: position + at,
                found,
                format: ai.format.clone(),
            };
        }
        if field.len() > max {
            return Gs1Error::ValueTooLong {
                ai: ai.code.clone(),
                title: ai.data_title.clone(),
                value: field.to_string(),
                length: field.chars().count(),
                max,
                format: ai.format.clone(),
            };
        }
        Gs1Error::Format {
            ai: ai.code.clone(),
            title: ai.data_title.clone(),
            value: field.to_string(),
            format: ai.format.clone(),
        }
    }
}

fn title_of(code: &str) -> String {
    ai::lookup(code)
        .map(|a| a.data_title.clone())
        .or_else(|| syntax::rules(code).map(|r| r.title.clone()))
        .unwrap_or_default()
}

/// The rules every scan keeps, whatever its form: one value per AI (a repeat with the same
/// value, as from two carriers on one label, is read once), and the Syntax Dictionary's
/// pairings and requirements.
fn finish(elements: Vec<Element>) -> Result<Vec<Element>, Gs1Error> {
    let mut unique: Vec<Element> = Vec::with_capacity(elements.len());
    for e in elements {
        match unique.iter().find(|u| u.ai.code == e.ai.code) {
            Some(first) if first.value == e.value => {}
            Some(first) => {
                return Err(Gs1Error::Repeated {
                    ai: e.ai.code.clone(),
                    title: e.ai.data_title.clone(),
                    first: first.value.clone(),
                    second: e.value,
                });
            }
            None => unique.push(e),
        }
    }
    let codes: Vec<&str> = unique.iter().map(|e| e.ai.code.as_str()).collect();
    syntax::check(&codes).map_err(|violation| match violation {
        syntax::Violation::Excluded { ai, other, rule } => Gs1Error::Excluded {
            title: title_of(&ai),
            other_title: title_of(&other),
            ai,
            other,
            rule,
        },
        syntax::Violation::Unmet { ai, rule } => Gs1Error::Unmet {
            title: title_of(&ai),
            needs: rule.describe(),
            rule: rule.attribute(),
            ai,
        },
    })?;
    Ok(unique)
}

impl Serialize for Element {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Element", 4)?;
        s.serialize_field("ai", &self.ai.code)?;
        s.serialize_field("title", &self.ai.data_title)?;
        s.serialize_field("value", &self.value)?;
        if let Some(date) = &self.date {
            s.serialize_field("date", date)?;
        } else {
            s.skip_field("date")?;
        }
        s.end()
    }
}

/// A parsed GS1 barcode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Scan {
    pub form: Form,
    /// The symbology identifier the scanner put in front, if any (such as `]d2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbology: Option<Symbology>,
    pub elements: Vec<Element>,
}

/// Python's `str.strip()` whitespace, which includes the separators 0x1C to 0x1F: a scanner's
/// trailing GS is not data.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

impl Scan {
    /// Parses what a scanner (or a person) gives: an element string, perhaps with a symbology
    /// identifier; a human-readable string; or a Digital Link URI. Two-digit years are read
    /// against `today`'s year.
    pub fn parse(input: &str, today: Date) -> Result<Scan, Gs1Error> {
        if input.len() > MAX_SCAN_BYTES {
            return Err(Gs1Error::TooLong(input.len()));
        }
        let text = input.trim_matches(is_space);
        if text.is_empty() {
            return Err(Gs1Error::Empty);
        }
        let (symbology, body) = match text.strip_prefix(']') {
            Some(_) => {
                let symbology = Symbology::parse(text)?;
                let body = text[symbology.as_str().len()..].trim_start_matches(is_space);
                if body.is_empty() {
                    return Err(Gs1Error::Empty);
                }
                (Some(symbology), body)
            }
            None => (None, text),
        };
        let year = today.year;
        let is_uri = digital_link::looks_like(body);
        match &symbology {
            Some(s) if is_uri && !s.may_carry_digital_link() => {
                return Err(Gs1Error::NotGs1Symbology(s.as_str().to_string()));
            }
            Some(s) if !is_uri && !s.carries_element_strings() => {
                return Err(Gs1Error::NotGs1Symbology(s.as_str().to_string()));
            }
            _ => {}
        }
        let (form, elements) = if is_uri {
            (Form::DigitalLink, digital_link::parse(body, year)?)
        } else if body.starts_with('(') {
            if symbology.is_some() {
                return Err(Gs1Error::Hri(
                    "a symbology identifier comes before element strings, not before the \
                     human-readable form"
                        .into(),
                ));
            }
            let offset = input.len() - input.trim_start_matches(is_space).len();
            (Form::HumanReadable, parse_hri(body, offset, year)?)
        } else {
            let offset =
                input.len() - input.trim_start_matches(is_space).len() + text.len() - body.len();
            (
                Form::ElementString,
                parse_element_string(body, offset, year)?,
            )
        };
        Ok(Scan {
            form,
            symbology,
            elements: finish(elements)?,
        })
    }

    /// The first element with this AI.
    pub fn get(&self, ai: &str) -> Option<&Element> {
        self.elements.iter().find(|e| e.ai.code == ai)
    }

    /// The trade item's GTIN (AI 01).
    pub fn gtin(&self) -> Option<Gtin> {
        self.get("01").and_then(|e| Gtin::parse(&e.value).ok())
    }

    /// The serial number (AI 21).
    pub fn serial(&self) -> Option<&str> {
        self.get("21").map(|e| e.value.as_str())
    }

    /// The batch or lot number (AI 10).
    pub fn lot(&self) -> Option<&str> {
        self.get("10").map(|e| e.value.as_str())
    }

    /// The expiry date (AI 17).
    pub fn expiry(&self) -> Option<Date> {
        self.get("17").and_then(|e| e.date).map(|d| d.date)
    }

    /// The logistic unit's SSCC (AI 00).
    pub fn sscc(&self) -> Option<Sscc> {
        self.get("00").and_then(|e| Sscc::parse(&e.value).ok())
    }

    /// The element string a GS1 DataMatrix holds: a GS after each variable-length value but
    /// the last.
    pub fn element_string(&self) -> String {
        element_string(&self.elements)
    }

    /// The human-readable form: `(01)09521234543213(21)ABC`.
    pub fn human_readable(&self) -> String {
        self.elements
            .iter()
            .map(|e| format!("({}){}", e.ai.code, e.value))
            .collect()
    }

    /// What a verify-pack answer says was scanned: the form, the GS1 keys and data read, and
    /// the canonical Digital Link (on `id.gs1.org`). The node and a client re-checking its
    /// answer derive it from the scan text alike.
    pub fn summary(&self) -> medchain_types::api::ScanSummary {
        medchain_types::api::ScanSummary {
            form: self.form.name().to_string(),
            gtin: self.gtin(),
            serial: self.serial().map(str::to_string),
            lot: self.lot().map(str::to_string),
            expiry: self.expiry(),
            sscc: self.sscc(),
            digital_link: self.digital_link("id.gs1.org").ok(),
        }
    }

    /// The Digital Link URI on `domain` (such as `id.gs1.org`): the primary key and its
    /// qualifiers in the path, every other AI in the query, in AI order.
    pub fn digital_link(&self, domain: &str) -> Result<String, Gs1Error> {
        digital_link::build(&self.elements, domain)
    }
}

/// The element string of `elements`: a GS after each variable-length value but the last.
pub fn element_string(elements: &[Element]) -> String {
    let mut out = String::new();
    for (i, e) in elements.iter().enumerate() {
        out.push_str(&e.ai.code);
        out.push_str(&e.value);
        if e.ai.separator_required && i + 1 < elements.len() {
            out.push(GS);
        }
    }
    out
}

fn check_ascii(text: &str, offset: usize) -> Result<(), Gs1Error> {
    match text.char_indices().find(|(_, c)| !c.is_ascii()) {
        Some((position, found)) => Err(Gs1Error::NotAscii {
            position: offset + position,
            found,
        }),
        None => Ok(()),
    }
}

/// Element strings run together: a predefined-length value is as long as its format says; any
/// other value runs to the next GS or the end, and all of it must be the AI's value. GS may also
/// appear after predefined-length values (GS1 General Specifications 7.8.6).
fn parse_element_string(
    body: &str,
    offset: usize,
    current_year: i32,
) -> Result<Vec<Element>, Gs1Error> {
    check_ascii(body, offset)?;
    let mut elements = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let position = offset + body.len() - rest.len();
        let Some(ai) = ai::at_start(rest) else {
            return Err(Gs1Error::UnknownAi {
                position,
                near: rest.chars().take(8).collect(),
            });
        };
        let field = rest.split(GS).next().unwrap_or(rest);
        let data = &field[ai.code.len()..];
        let value_at = position + ai.code.len();
        let value = match ai.take_value(field) {
            Some(value) if ai.separator_required && value.len() != data.len() => {
                return Err(Element::explain(ai, data, value_at));
            }
            Some(value) => value,
            None if ai.separator_required => return Err(Element::explain(ai, data, value_at)),
            // A predefined-length value is followed by the next AI, not a GS.
            None => {
                let own = &data[..data.len().min(ai.max_len())];
                return Err(Element::explain(ai, own, value_at));
            }
        };
        rest = &rest[ai.code.len() + value.len()..];
        elements.push(Element::checked(ai, value, current_year)?);
        // One GS ends a field; a second would start no AI.
        rest = rest.strip_prefix(GS).unwrap_or(rest);
    }
    Ok(elements)
}

/// `(AI)value(AI)value...`. Whitespace at either end of a value (as printed under a barcode,
/// `(01) 09521234543213 (21) ABC`) is layout; whitespace inside a value is refused, as it
/// cannot be encoded.
fn parse_hri(body: &str, offset: usize, current_year: i32) -> Result<Vec<Element>, Gs1Error> {
    check_ascii(body, offset)?;
    let mut elements = Vec::new();
    let mut rest = body.trim_start_matches(is_space);
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix('(') else {
            return Err(Gs1Error::Hri(format!(
                "expected '(' before an application identifier at '{}'",
                rest.chars().take(12).collect::<String>()
            )));
        };
        let Some((code, after)) = after.split_once(')') else {
            return Err(Gs1Error::Hri(format!("unclosed '(' at '({after}'")));
        };
        let code = code.trim_matches(is_space);
        let Some(ai) = code
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| ai::lookup(code))
            .flatten()
        else {
            return Err(Gs1Error::Hri(format!(
                "({code}) is not a GS1 application identifier"
            )));
        };
        let end = after.find('(').unwrap_or(after.len());
        let leading = after.len() - after.trim_start_matches(is_space).len();
        let value = after[..end].trim_matches(is_space);
        if value.is_empty() {
            return Err(Gs1Error::Hri(format!("({code}) has no value")));
        }
        let value_at = offset + body.len() - after.len() + leading;
        if !ai.matches(value) {
            return Err(Element::explain(ai, value, value_at));
        }
        elements.push(Element::new(ai, value, current_year)?);
        rest = &after[end..];
    }
    Ok(elements)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2026, 11, 23).expect("date")
    }

    fn scan(text: &str) -> Result<Scan, Gs1Error> {
        Scan::parse(text, today())
    }

    #[test]
    fn a_datamatrix_pack_scan_gives_gtin_serial_lot_and_expiry() {
        let s = scan("]d201095211111111152127A3B4C5\u{1d}10LOT-7\u{1d}17270531").expect("scan");
        assert_eq!(s.form, Form::ElementString);
        assert_eq!(s.symbology.as_ref().map(Symbology::as_str), Some("]d2"));
        assert_eq!(
            s.gtin().map(|g| g.to_string()).as_deref(),
            Some("09521111111115")
        );
        assert_eq!(s.serial(), Some("27A3B4C5"));
        assert_eq!(s.lot(), Some("LOT-7"));
        assert_eq!(s.expiry(), Date::new(2027, 5, 31));
        assert_eq!(
            s.human_readable(),
            "(01)09521111111115(21)27A3B4C5(10)LOT-7(17)270531"
        );
        assert_eq!(
            s.element_string(),
            "010952111111111521\
             27A3B4C5\u{1d}10LOT-7\u{1d}17270531"
        );
        let dl = s.digital_link("id.gs1.org").expect("digital link");
        assert_eq!(
            dl,
            "https://id.gs1.org/01/09521111111115/10/LOT-7/21/27A3B4C5?17=270531"
        );
        let back = scan(&dl).expect("digital link parses");
        assert_eq!(back.form, Form::DigitalLink);
        assert_eq!(back.gtin(), s.gtin());
        assert_eq!(back.serial(), s.serial());
        assert_eq!(back.lot(), s.lot());
        assert_eq!(back.expiry(), s.expiry());
        assert_eq!(serde_json::json!(s.form), serde_json::json!(s.form.name()));
        let hri = scan(&s.human_readable()).expect("hri parses");
        assert_eq!(hri.elements, s.elements);
    }

    #[test]
    fn fixed_length_values_need_no_separator_and_variable_ones_run_to_the_end() {
        let s = scan("01095211111111151727053110LOT9").expect("scan");
        assert_eq!(s.lot(), Some("LOT9"));
        assert_eq!(s.expiry(), Date::new(2027, 5, 31));
        // Without a GS the lot runs on and swallows what follows.
        let s = scan("0109521111111115 ").expect("trailing space trimmed");
        assert_eq!(s.elements.len(), 1);
        let s = scan("00376130321109103420").expect("SSCC");
        assert_eq!(
            s.sscc().map(|s| s.to_string()).as_deref(),
            Some("376130321109103420")
        );
    }

    #[test]
    fn malformed_scans_are_refused_with_the_reason() {
        let cases = [
            ("", "the scan is empty"),
            ("   \u{1d} ", "the scan is empty"),
            (
                "0109521111111112",
                "AI (01) GTIN: the GTIN 09521111111112 has check digit 2, but its digits give 5",
            ),
            (
                "01095211111111151727023010X",
                "AI (17) USE BY or EXPIRY: 270230 is not a date (year 2027, month 2, day 30)",
            ),
            (
                "0109521111111115231234",
                "no GS1 application identifier starts at position 16 ('231234')",
            ),
            (
                "01095211111",
                "AI (01) GTIN: '095211111' does not match its format N2+N14",
            ),
            (
                "]E00109521111111115",
                "the symbology identifier ]E0 does not carry GS1 element strings or a GS1 Digital Link",
            ),
            ("]X", "']X' is not a symbology identifier (ISO/IEC 15424)"),
            (
                "(01)09521111111115(21)",
                "not a GS1 human-readable string: (21) has no value",
            ),
            (
                "(1)09521111111115",
                "not a GS1 human-readable string: (1) is not a GS1 application identifier",
            ),
            (
                "0109521111111115211é",
                "the scan has a character GS1 barcodes cannot carry at position 19: 'é'",
            ),
            (
                "ftp://id.gs1.org/01/09521111111115",
                "no GS1 application identifier starts at position 0 ('ftp://id')",
            ),
            (
                "https://example.com/products/9521111111115",
                "not a GS1 Digital Link URI: no primary key (such as /01/ for a GTIN) in the path \
                 '/products/9521111111115', and its last segment '9521111111115' is not a \
                 compressed GS1 Digital Link: it ends inside a parameter's name (6 bits needed \
                 at bit 77, 1 left)",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                scan(input).expect_err(input).to_string(),
                message,
                "{input:?}"
            );
        }
        assert!(matches!(
            scan(&"0".repeat(MAX_SCAN_BYTES + 1)),
            Err(Gs1Error::TooLong(_))
        ));
    }

    #[test]
    fn digital_links_take_prefixes_short_gtins_and_query_attributes() {
        let s = scan("https://brand.example/a/b/01/9521111111115/10/L1/21/A%2FB?17=270500&x=1")
            .expect("scan");
        assert_eq!(
            s.gtin().map(|g| g.to_string()).as_deref(),
            Some("09521111111115")
        );
        assert_eq!(s.serial(), Some("A/B"));
        assert_eq!(s.expiry(), Date::new(2027, 5, 31));
        assert_eq!(s.lot(), Some("L1"));
        assert_eq!(
            s.digital_link("id.gs1.org").expect("uri"),
            "https://id.gs1.org/01/09521111111115/10/L1/21/A%2FB?17=270500"
        );
        for bad in [
            "https://id.gs1.org/01/09521111111115/21",
            "https://id.gs1.org/01/09521111111115/17/270531",
            "https://id.gs1.org/01/09521111111115/21/A/10/L",
            "https://id.gs1.org/01/09521111111112",
            "https://id.gs1.org/01/09521111111115?17=271332",
        ] {
            assert!(scan(bad).is_err(), "{bad}");
        }
    }

    fn refusal(text: &str) -> String {
        match scan(text) {
            Ok(s) => panic!("{text:?} was accepted as {:?}", s.elements),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_character_gs1_does_not_allow_in_a_serial_is_refused_at_its_position_in_every_form() {
        // A space, a '#' and a '~' inside the serial: never dropped, never read past.
        for (text, position, found) in [
            ("010952111111111521AB CD", 20, ' '),
            ("010952111111111521AB#CD\u{1d}10L1", 20, '#'),
            ("(01)09521111111115(21)AB CD", 24, ' '),
            ("(01) 09521111111115 (21) AB~CD", 27, '~'),
            ("]d2010952111111111521AB CD", 23, ' '),
        ] {
            assert_eq!(
                refusal(text),
                format!(
                    "AI (21) SERIAL: {found:?} at position {position} is not a character GS1 \
                     allows in its value (format N2+X..20)"
                ),
                "{text:?}"
            );
        }
        // The same in a Digital Link, raw or percent-encoded.
        assert_eq!(
            refusal("https://id.gs1.org/01/09521111111115/21/AB CD"),
            "not a GS1 Digital Link URI: ' ' at position 42 must be percent-encoded in a URI \
             (as %20; RFC 3986 2.1)"
        );
        assert_eq!(
            refusal("https://id.gs1.org/01/09521111111115/21/AB%20CD"),
            "AI (21) SERIAL: ' ' at position 42 is not a character GS1 allows in its value \
             (format N2+X..20)"
        );
        // A variable-length value runs to its GS: one too long is refused, not split.
        assert!(
            refusal(&format!("0109521111111115\u{1d}21{}", "A".repeat(21)))
                .contains("is 21 characters long; its format N2+X..20 allows at most 20")
        );
        // Layout around a human-readable value is not data.
        let s = scan(" (01) 09521111111115 (21) ABC ").expect("spaced HRI");
        assert_eq!(s.serial(), Some("ABC"));
    }

    #[test]
    fn a_repeated_ai_with_two_values_is_refused_in_every_form() {
        for text in [
            "010952111111111521A\u{1d}21B",
            "(01)09521111111115(21)A(21)B",
        ] {
            assert_eq!(
                refusal(text),
                "AI (21) SERIAL is given twice, as 'A' and as 'B'",
                "{text:?}"
            );
        }
        // The same value twice (two carriers on one label) is read once.
        let s = scan("(01)09521111111115(21)A(01)09521111111115").expect("same value twice");
        assert_eq!(s.elements.len(), 2);
        // In a Digital Link an AI is given once: path and query, or twice in the query.
        assert_eq!(
            refusal("https://id.gs1.org/01/09521111111115/21/A?17=270531&17=270601"),
            "AI (17) USE BY or EXPIRY is given twice, as '270531' and as '270601'"
        );
        assert!(
            refusal("https://id.gs1.org/01/09521111111115/10/L1?10=L2").contains("(10) BATCH/LOT")
        );
    }

    #[test]
    fn ais_that_break_a_syntax_dictionary_rule_are_refused_with_the_rule_named() {
        assert_eq!(
            refusal("(01)09521111111115(02)09521111111115(37)5"),
            "AI (01) GTIN may not appear with (37) COUNT (GS1 Barcode Syntax Dictionary \
             2026-01-27: ex=255,37 for (01))"
        );
        assert_eq!(
            refusal("(02)09521111111115(01)09521111111115"),
            "AI (02) CONTENT may not appear with (01) GTIN (GS1 Barcode Syntax Dictionary \
             2026-01-27: ex=01,03 for (02))"
        );
        assert_eq!(
            refusal("(37)5"),
            "AI (37) COUNT needs (00) with it (GS1 Barcode Syntax Dictionary 2026-01-27: \
             req=00 for (37))"
        );
        assert_eq!(
            refusal("21ABC"),
            "AI (21) SERIAL needs (01), or (03), or (8006) with it (GS1 Barcode Syntax \
             Dictionary 2026-01-27: req=01,03,8006 for (21))"
        );
        for lone in ["10LOT", "17270531"] {
            assert!(
                refusal(lone).contains("needs (01), or (02), or (03)"),
                "{lone}"
            );
        }
        // Every rule, not a chosen few: a net weight in two units, a serial with a TPX.
        assert!(refusal("(01)09521111111115(3103)001000(3102)010000").contains("ex=310n"));
        assert!(refusal("(01)09521111111115(21)A(235)B").contains("may not appear with"));
        // A logistic unit's content: (02) with its count.
        scan("(00)376130321109103420(02)09521111111115(37)12").expect("SSCC content");
    }

    #[test]
    fn digital_link_characters_escapes_scheme_and_host_follow_rfc_3986() {
        let upper = scan("HTTPS://ID.GS1.ORG/01/09521111111115/21/ABC?17=270531").expect("upper");
        assert_eq!(upper.form, Form::DigitalLink);
        assert_eq!(upper.serial(), Some("ABC"));
        scan("Http://Example.Com/01/09521111111115").expect("mixed case");
        assert_eq!(
            refusal("https://id.gs1.org/01/09521111111115/21/AB%2"),
            "not a GS1 Digital Link URI: '%' at position 42 does not start a percent-escape of \
             two hex digits ('%2')"
        );
        assert!(refusal("https://id.gs1.org/01/09521111111115/21/A%zzB").contains("'%zz'"));
        assert!(refusal("https://id.gs1.org/01/09521111111115/21/A%00").contains("'%00'"));
        for raw in ['"', '<', '>', '\\', '^', '`', '{', '|', '}'] {
            let text = format!("https://id.gs1.org/01/09521111111115/21/A{raw}B");
            assert!(refusal(&text).contains("must be percent-encoded"), "{text}");
        }
        assert!(refusal("https:///01/09521111111115").contains("no host"));
        assert!(refusal("https://id.gs1.org/01/09521111111115?99=").contains("has no value"));
        assert!(
            refusal("https://id.gs1.org/01/09521111111115?9999=1")
                .contains("is not a GS1 application identifier")
        );
    }

    #[test]
    fn a_gtin_in_a_digital_link_path_has_a_length_the_standard_allows() {
        for (gtin, full) in [
            ("09521111111115", "09521111111115"),
            ("9521111111115", "09521111111115"),
            ("614141000029", "00614141000029"),
            ("95211114", "00000095211114"),
        ] {
            let s = scan(&format!("https://id.gs1.org/01/{gtin}")).expect(gtin);
            assert_eq!(s.gtin().map(|g| g.to_string()).as_deref(), Some(full));
        }
        // Other lengths are refused, naming what was written, not a padded number.
        assert_eq!(
            refusal("https://id.gs1.org/01/521111111115"),
            "AI (01) GTIN: the GTIN 521111111115 has check digit 5, but its digits give 4"
        );
        assert_eq!(
            refusal("https://id.gs1.org/01/52111111115"),
            "AI (01) GTIN: a GTIN has 8, 12, 13 or 14 digits, not 11 ('52111111115')"
        );
        assert!(refusal("https://id.gs1.org/01/9521111111112").contains("GTIN 9521111111112"));
    }

    #[test]
    fn a_key_qualifier_only_in_the_query_is_refused() {
        assert_eq!(
            refusal("https://id.gs1.org/01/09521111111115?21=ABC"),
            "not a GS1 Digital Link URI: (21) SERIAL belongs in the path, after /01/: a key \
             qualifier is not a query attribute"
        );
        assert!(
            refusal("https://id.gs1.org/01/09521111111115/21/S?10=L")
                .contains("(10) BATCH/LOT belongs in the path, after /01/")
        );
        // Qualifiers out of their order, or of another key.
        assert!(refusal("https://id.gs1.org/01/09521111111115/21/S/10/L").contains("22, 10, 21"));
        assert!(refusal("https://id.gs1.org/00/376130321109103420/21/S").contains("none"));
    }

    #[test]
    fn old_short_names_are_read_or_refused_never_ignored() {
        let s = scan("https://example.com/gtin/09521111111115/lot/L1/ser/S1").expect("alphas");
        assert_eq!(s.serial(), Some("S1"));
        assert_eq!(s.lot(), Some("L1"));
        assert_eq!(
            refusal("https://example.com/01/09521111111115/21/S1?exp=270531"),
            "not a GS1 Digital Link URI: 'exp' is GS1 Digital Link 1.0's old name for (17); \
             write 17= instead"
        );
        // A parameter that is not GS1's is the resolver's own.
        let s = scan("https://example.com/01/09521111111115/21/S1?utm_source=leaflet&17=270531")
            .expect("own parameter");
        assert_eq!(s.expiry(), Date::new(2027, 5, 31));
    }
}
