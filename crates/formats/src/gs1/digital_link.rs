//! GS1 Digital Link URIs (GS1 Digital Link Standard: URI Syntax 1.4): a primary key and its
//! qualifiers as path segments (`/01/{gtin}/10/{lot}/21/{serial}`), after any path prefix, and
//! other AIs as query parameters (`?17=270531`). Numeric AIs only, as the standard's canonical
//! form uses.

use super::{Element, Gs1Error, ai};
use crate::uri::{percent_decode, percent_encode};

/// A primary key AI, the width a short value is padded to, and the qualifier AIs that may
/// follow it in the path, in their order.
struct Primary {
    ai: &'static str,
    pad_to: Option<usize>,
    qualifiers: &'static [&'static str],
}

const PRIMARY: &[Primary] = &[
    Primary {
        ai: "01",
        pad_to: Some(14),
        qualifiers: &["22", "10", "21", "235"],
    },
    Primary {
        ai: "8006",
        pad_to: None,
        qualifiers: &["22", "10", "21"],
    },
    Primary {
        ai: "8013",
        pad_to: None,
        qualifiers: &[],
    },
    Primary {
        ai: "8010",
        pad_to: None,
        qualifiers: &["8011"],
    },
    Primary {
        ai: "414",
        pad_to: None,
        qualifiers: &["254", "7040"],
    },
    Primary {
        ai: "415",
        pad_to: None,
        qualifiers: &["8020"],
    },
    Primary {
        ai: "417",
        pad_to: None,
        qualifiers: &["7040"],
    },
    Primary {
        ai: "8017",
        pad_to: None,
        qualifiers: &["8019"],
    },
    Primary {
        ai: "8018",
        pad_to: None,
        qualifiers: &["8019"],
    },
    Primary {
        ai: "255",
        pad_to: None,
        qualifiers: &[],
    },
    Primary {
        ai: "00",
        pad_to: None,
        qualifiers: &[],
    },
    Primary {
        ai: "253",
        pad_to: None,
        qualifiers: &[],
    },
    Primary {
        ai: "401",
        pad_to: None,
        qualifiers: &[],
    },
    Primary {
        ai: "402",
        pad_to: None,
        qualifiers: &[],
    },
    Primary {
        ai: "8003",
        pad_to: None,
        qualifiers: &[],
    },
    Primary {
        ai: "8004",
        pad_to: None,
        qualifiers: &["7040"],
    },
];

fn primary(code: &str) -> Option<&'static Primary> {
    PRIMARY.iter().find(|p| p.ai == code)
}

fn error(message: impl Into<String>) -> Gs1Error {
    Gs1Error::DigitalLink(message.into())
}

/// The scheme, path and query of an absolute `http(s)` URI.
fn split(uri: &str) -> Result<(&str, &str), Gs1Error> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(error(format!("'{uri}' is not a URI")));
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(error(format!(
            "the scheme is '{scheme}', not 'https' or 'http'"
        )));
    }
    let rest = rest.split('#').next().unwrap_or(rest);
    let after_authority = match rest.strip_prefix("//") {
        Some(authority_and_path) => {
            let end = authority_and_path
                .find(['/', '?'])
                .unwrap_or(authority_and_path.len());
            &authority_and_path[end..]
        }
        None => rest,
    };
    Ok(after_authority
        .split_once('?')
        .unwrap_or((after_authority, "")))
}

/// Parses a Digital Link URI into its element strings: the primary key, its qualifiers, then
/// the AIs in the query (the last value of a repeated one; query parameters that are not AIs
/// are ignored, as the standard allows).
pub(super) fn parse(uri: &str, current_year: i32) -> Result<Vec<Element>, Gs1Error> {
    super::check_ascii(uri, 0)?;
    let (path, query) = split(uri)?;
    let segments: Vec<&str> = path.split('/').collect();
    let Some(start) = segments.iter().position(|s| primary(s).is_some()) else {
        return Err(error(format!(
            "no primary key (such as /01/ for a GTIN) in the path '{path}'"
        )));
    };
    let segments = &segments[start..];
    if !segments.len().is_multiple_of(2) {
        return Err(error(format!(
            "the path '/{}' has an AI without a value",
            segments.join("/")
        )));
    }
    let segments: Vec<String> = segments.iter().map(|s| percent_decode(s, false)).collect();
    let mut pairs = segments.chunks(2);
    let first = pairs.next().expect("at least one pair");
    let key = primary(&first[0]).expect("found above");
    let mut value = first[1].clone();
    if let Some(width) = key.pad_to
        && value.len() < width
    {
        value = format!("{value:0>width$}");
    }
    let lookup = |code: &str| ai::lookup(code).expect("the Digital Link AIs are in the table");
    let mut elements = vec![Element::new(lookup(key.ai), &value, current_year)?];
    let mut expected = key.qualifiers.iter();
    for pair in pairs {
        let code = pair[0].as_str();
        if key.qualifiers.is_empty() {
            return Err(error(format!(
                "({}) takes no qualifiers, but the path has /{code}/",
                key.ai
            )));
        }
        // Qualifiers come in their fixed order, each at most once.
        if !expected.any(|q| *q == code) {
            return Err(error(format!(
                "/{code}/ is not a qualifier of ({}) in its place; the qualifiers are {} in that order",
                key.ai,
                key.qualifiers.join(", ")
            )));
        }
        elements.push(Element::new(lookup(code), &pair[1], current_year)?);
    }
    let mut query_values: Vec<(String, String)> = Vec::new();
    for field in query.split('&') {
        let Some((name, value)) = field.split_once('=') else {
            continue;
        };
        let (name, value) = (percent_decode(name, true), percent_decode(value, true));
        if value.is_empty() {
            continue;
        }
        match query_values.iter_mut().find(|(n, _)| *n == name) {
            Some(existing) => existing.1 = value,
            None => query_values.push((name, value)),
        }
    }
    for (name, value) in query_values {
        if let Some(ai) = ai::lookup(&name) {
            elements.push(Element::new(ai, &value, current_year)?);
        }
    }
    Ok(elements)
}

/// The Digital Link URI of `elements` on `domain`.
pub(super) fn build(elements: &[Element], domain: &str) -> Result<String, Gs1Error> {
    let keys: Vec<&Primary> = PRIMARY
        .iter()
        .filter(|p| elements.iter().any(|e| e.ai.code == p.ai))
        .collect();
    let key = match keys.as_slice() {
        [key] => *key,
        [] => return Err(error("the element strings have no primary key")),
        _ => return Err(error("the element strings have more than one primary key")),
    };
    let find = |code: &str| elements.iter().find(|e| e.ai.code == code);
    let mut uri = format!("https://{domain}");
    let mut in_path = vec![key.ai];
    for code in std::iter::once(&key.ai).chain(key.qualifiers) {
        if let Some(e) = find(code) {
            uri.push_str(&format!("/{code}/{}", percent_encode(&e.value)));
            in_path.push(code);
        }
    }
    let mut rest: Vec<&Element> = elements
        .iter()
        .filter(|e| !in_path.contains(&e.ai.code.as_str()))
        .collect();
    rest.sort_by(|a, b| a.ai.code.cmp(&b.ai.code));
    let mut separator = '?';
    for e in rest {
        uri.push(separator);
        uri.push_str(&format!("{}={}", e.ai.code, percent_encode(&e.value)));
        separator = '&';
    }
    Ok(uri)
}
