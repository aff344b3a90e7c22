//! GS1 barcodes as a scanner reads them: element strings from GS1 DataMatrix, GS1-128, GS1 QR
//! and DataBar (with FNC1 sent as the GS character, 0x1D, and perhaps a symbology identifier
//! such as `]d2`), the human-readable form printed under a barcode (`(01)...(21)...`), and
//! GS1 Digital Link URIs (`https://id.gs1.org/01/.../21/...?17=...`).
//!
//! Parsing is table-driven over every GS1 application identifier ([`ai`]): each value must
//! match its AI's format; GTINs, SSCCs and GLNs must have the right check digit; dates must be
//! real dates (with GS1's two-digit-year window, and `DD = 00` for the last day of the month).
//! Anything malformed is refused with an error that names the AI and what was wrong.

pub mod ai;
pub mod date;
mod digital_link;
mod symbology;

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
        Ok(Element { ai, value, date })
    }
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
                let body = &text[symbology.as_str().len()..];
                (Some(symbology), body)
            }
            None => (None, text),
        };
        let year = today.year;
        let is_uri = body.starts_with("http");
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
            (Form::HumanReadable, parse_hri(body, year)?)
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
            elements,
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

/// Element strings run together: each AI's value is as long as its format allows, or ends at
/// a GS. GS may also appear between fixed-length values (GS1 General Specifications 7.8.6).
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
        let Some(value) = ai.take_value(field) else {
            return Err(Gs1Error::Format {
                ai: ai.code.clone(),
                title: ai.data_title.clone(),
                value: field[ai.code.len()..].to_string(),
                format: ai.format.clone(),
            });
        };
        rest = &rest[ai.code.len() + value.len()..];
        elements.push(Element::checked(ai, value, current_year)?);
        rest = rest.trim_start_matches(GS);
    }
    Ok(elements)
}

/// `(AI)value(AI)value...`; whitespace anywhere is ignored.
fn parse_hri(body: &str, current_year: i32) -> Result<Vec<Element>, Gs1Error> {
    let compact: String = body.chars().filter(|c| !is_space(*c)).collect();
    check_ascii(&compact, 0)?;
    let mut elements = Vec::new();
    let mut rest = compact.as_str();
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
        let value = &after[..end];
        if value.is_empty() {
            return Err(Gs1Error::Hri(format!("({code}) has no value")));
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
                "not a GS1 Digital Link URI: no primary key (such as /01/ for a GTIN) in the path '/products/9521111111115'",
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
        let s = scan("https://brand.example/a/b/01/9521111111115/21/A%2FB?17=270500&x=1&10=L1")
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
}
