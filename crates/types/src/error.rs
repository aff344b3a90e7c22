//! Errors from parsing text and checking values at the edge.

/// A value given as text or bytes could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{what}: expected {expected_bytes} bytes as hex ({} hex characters), found {found_chars} characters or non-hex text", expected_bytes * 2)]
    Hex {
        what: &'static str,
        expected_bytes: usize,
        found_chars: usize,
    },
    #[error("{what}: expected {expected} bytes, found {found}")]
    Length {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("{what}: {reason}")]
    Invalid { what: &'static str, reason: String },
}
