//! Symbology identifiers (ISO/IEC 15424): the `]` and two or more characters a scanner may put
//! before the data to say which kind of barcode it read.

use super::Gs1Error;
use serde::{Serialize, Serializer};

/// ISO/IEC 15424 code characters (table 1), and `J` for DotCode (AIM ISS DotCode), which GS1
/// uses with modifier 1 for GS1 DotCode.
const CODE_CHARACTERS: &str = "ABCDEFGHIJKLMNOPQRSTUXYZcdeopsz";

/// A symbology identifier such as `]d2` (GS1 DataMatrix) or `]Q1` (QR Code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbology(String);

impl Symbology {
    /// The identifier at the start of `text` (which starts with `]`).
    pub fn parse(text: &str) -> Result<Symbology, Gs1Error> {
        let unknown = || Gs1Error::UnknownSymbology(text.chars().take(4).collect());
        let mut chars = text.chars();
        if chars.next() != Some(']') {
            return Err(unknown());
        }
        let code = chars.next().filter(|c| CODE_CHARACTERS.contains(*c));
        let Some(code) = code else {
            return Err(unknown());
        };
        // System expansion (`]Y`) gives its modifier's length in its first digit.
        let modifiers = if code == 'Y' {
            let digit = chars.clone().next().and_then(|c| c.to_digit(10));
            let Some(digit) = digit else {
                return Err(unknown());
            };
            digit as usize + 1
        } else {
            1
        };
        let modifier: String = chars.take(modifiers).collect();
        if modifier.chars().count() != modifiers || !modifier.is_ascii() {
            return Err(unknown());
        }
        Ok(Symbology(format!("]{code}{modifier}")))
    }

    /// The identifier, such as `]d2`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the symbology carries GS1 element strings: GS1-128 (`]C1`), GS1 DataBar
    /// (`]e0`), GS1 DataMatrix (`]d2`), GS1 QR Code (`]Q3`), GS1 DotCode (`]J1`) (GS1 General
    /// Specifications, figure 5.1.2-2).
    pub fn carries_element_strings(&self) -> bool {
        matches!(self.as_str(), "]C1" | "]e0" | "]d2" | "]Q3" | "]J1")
    }

    /// Whether the symbology may carry a GS1 Digital Link URI: DataMatrix and QR Code, in their
    /// plain (`]d1`, `]Q1`) or GS1 (`]d2`, `]Q3`) modes.
    pub fn may_carry_digital_link(&self) -> bool {
        matches!(self.as_str(), "]d1" | "]d2" | "]Q1" | "]Q3")
    }
}

impl Serialize for Symbology {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_read_and_classified() {
        let parsed = |t: &str| Symbology::parse(t).map(|s| s.as_str().to_string());
        assert_eq!(parsed("]d2010952").as_deref(), Ok("]d2"));
        assert_eq!(parsed("]Y123xyz").as_deref(), Ok("]Y12"));
        assert!(parsed("]J").is_err());
        assert_eq!(parsed("]J1").as_deref(), Ok("]J1"));
        assert!(parsed("]W0").is_err());
        assert!(parsed("d2").is_err());
        let s = Symbology::parse("]C1").expect("GS1-128");
        assert!(s.carries_element_strings() && !s.may_carry_digital_link());
        let s = Symbology::parse("]Q1").expect("QR");
        assert!(!s.carries_element_strings() && s.may_carry_digital_link());
    }
}
