//! GS1 Digital Link URIs (GS1 Digital Link Standard: URI Syntax 1.4): a primary key and its
//! qualifiers as path segments (`/01/{gtin}/10/{lot}/21/{serial}`), after any path prefix, and
//! other AIs as query parameters (`?17=270531`). Which AIs are keys, their qualifiers and
//! which AIs may be query attributes come from the GS1 Barcode Syntax Dictionary ([`syntax`]).

use super::{Ai, Element, Gs1Error, Gtin, ai, compressed, syntax};
use crate::uri::percent_encode;

/// GS1's older short names for keys and key qualifiers in the path ("convenience alphas",
/// GS1 Digital Link Standard 1.0; still decoded by GS1's Syntax Engine), such as
/// `/gtin/09521234543213/ser/ABC`. They are read as their AIs.
const CONVENIENCE_ALPHAS: &[(&str, &str)] = &[
    ("cpid", "8010"),
    ("cpsn", "8011"),
    ("cpv", "22"),
    ("gcn", "255"),
    ("gdti", "253"),
    ("giai", "8004"),
    ("ginc", "401"),
    ("gln", "414"),
    ("glnx", "254"),
    ("gmn", "8013"),
    ("grai", "8003"),
    ("gsin", "402"),
    ("gsrn", "8018"),
    ("gsrnp", "8017"),
    ("gtin", "01"),
    ("itip", "8006"),
    ("lot", "10"),
    ("party", "417"),
    ("payto", "415"),
    ("refno", "8020"),
    ("ser", "21"),
    ("srin", "8019"),
    ("sscc", "00"),
];

/// Short names GS1 Digital Link 1.0 gave data attributes in the query string (as GS1's
/// Digital Link toolkit lists them). medchain reads
/// the query by AI number only; one of these is refused with its number, never ignored.
const OLD_ATTRIBUTE_NAMES: &[(&str, &str)] = &[("exp", "17"), ("expdt", "7003")];

/// The characters a URI may carry unencoded (RFC 3986 2.2 and 2.3, and `%` for escapes).
fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

fn error(message: impl Into<String>) -> Gs1Error {
    Gs1Error::DigitalLink(message.into())
}

/// Whether `text` is meant as a URI: it starts with `http://` or `https://`, in any case
/// (RFC 3986 3.1).
pub(super) fn looks_like(text: &str) -> bool {
    let lower = |n: usize| text.get(..n).map(str::to_ascii_lowercase);
    lower(7).as_deref() == Some("http://") || lower(8).as_deref() == Some("https://")
}

fn ai_of_segment(segment: &str) -> Option<&'static Ai> {
    let code = CONVENIENCE_ALPHAS
        .iter()
        .find(|(alpha, _)| *alpha == segment)
        .map_or(segment, |(_, code)| *code);
    if code.bytes().all(|b| b.is_ascii_digit()) {
        ai::lookup(code)
    } else {
        None
    }
}

fn is_primary_key(ai: &Ai) -> bool {
    syntax::rules(&ai.code).is_some_and(|r| r.dl_key.is_some())
}

/// A percent-decoded value, and where each of its characters was written in the URI.
struct Decoded {
    value: String,
    at: Vec<usize>,
}

impl Decoded {
    /// An error about the value, its position (if any) where the user wrote it.
    fn locate(&self, error: Gs1Error) -> Gs1Error {
        match error {
            Gs1Error::Character {
                ai,
                title,
                position,
                found,
                format,
            } => Gs1Error::Character {
                position: self.at.get(position).copied().unwrap_or(position),
                ai,
                title,
                found,
                format,
            },
            other => other,
        }
    }
}

/// Percent-decodes one path segment or query value (`position` is where it starts in the
/// URI). A `%` must start an escape of two hex digits, and the decoded value must be ASCII
/// without NUL.
fn decode(text: &str, position: usize, plus_is_space: bool) -> Result<Decoded, Gs1Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .filter(|h| h.len() == 2 && h.bytes().all(|b| b.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    return Err(error(format!(
                        "'%' at position {} does not start a percent-escape of two hex digits \
                         ('{}')",
                        position + i,
                        &text[i..text.len().min(i + 3)]
                    )));
                };
                let byte = u8::from_str_radix(hex, 16).expect("hex digits");
                if byte == 0 || !byte.is_ascii() {
                    return Err(error(format!(
                        "'%{hex}' at position {} decodes to a byte GS1 data cannot carry",
                        position + i
                    )));
                }
                out.push(byte);
                at.push(position + i);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                at.push(position + i);
                i += 1;
            }
            b => {
                out.push(b);
                at.push(position + i);
                i += 1;
            }
        }
    }
    Ok(Decoded {
        value: String::from_utf8(out).expect("ASCII"),
        at,
    })
}

/// Parses a Digital Link URI into its element strings: the primary key, its qualifiers, then
/// the AIs in the query, as GS1 Digital Link Standard: URI Syntax (1.4, section 4) and GS1's
/// Syntax Engine read one:
/// - every character is one a URI may carry, and every `%` starts an escape;
/// - the scheme is `http` or `https` and the host is not empty (both in any case);
/// - the path ends in `/AI/value` pairs that start at a primary key (any path before it is the
///   resolver's), with the key's qualifiers in the order the Syntax Dictionary gives;
/// - a GTIN in the path is 14 digits, or 8, 12 or 13 padded with zeros to 14;
/// - a query parameter named by digits is an AI that may be a data attribute, with a value; a
///   key qualifier given there, which belongs in the path, is refused; other parameters are
///   not GS1's and are skipped;
/// - no AI is given twice.
pub(super) fn parse(uri: &str, current_year: i32) -> Result<Vec<Element>, Gs1Error> {
    super::check_ascii(uri, 0)?;
    if let Some(at) = uri.bytes().position(|b| !is_uri_char(b)) {
        let c = uri.as_bytes()[at] as char;
        return Err(error(format!(
            "{c:?} at position {at} must be percent-encoded in a URI (as %{:02X}; RFC 3986 2.1)",
            c as u32
        )));
    }
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(error(format!("'{uri}' is not a URI")));
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(error(format!(
            "the scheme is '{scheme}', not 'https' or 'http'"
        )));
    }
    let base = scheme.len() + 3;
    let rest = rest.split('#').next().unwrap_or(rest);
    let host_end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..host_end];
    if host.is_empty() {
        return Err(error("the URI has no host"));
    }
    if let Some(bad) = host.chars().find(|c| "_~?#@!$&'()*+,;=%".contains(*c)) {
        return Err(error(format!(
            "the host '{host}' has {bad:?}, which a host name cannot"
        )));
    }
    let after_host = &rest[host_end..];
    let (path, query) = after_host.split_once('?').unwrap_or((after_host, ""));
    let path_at = base + host_end;
    // The path's segments, each with where it starts in the URI.
    let mut segments: Vec<(&str, usize)> = Vec::new();
    let mut at = path_at;
    for segment in path.split('/').skip(1) {
        at += 1;
        segments.push((segment, at));
        at += segment.len();
    }
    // From the end, `/AI/value` pairs back to the primary key (GS1's Syntax Engine reads the
    // path the same way, so a resolver's own path may come first).
    let mut start = None;
    let mut i = segments.len();
    while i >= 2 {
        i -= 2;
        let Some(ai) = ai_of_segment(segments[i].0) else {
            break;
        };
        if is_primary_key(ai) {
            start = Some(i);
            break;
        }
    }
    let Some(start) = start else {
        if let Some((segment, expanded)) =
            expand_compressed(&rest[..host_end], path, &segments, query)?
        {
            return parse(&expanded, current_year).map_err(|e| match e {
                Gs1Error::DigitalLink(message) => error(format!(
                    "{message} (in the compressed Digital Link '{segment}', read as {expanded})"
                )),
                other => other,
            });
        }
        if segments
            .iter()
            .any(|(s, _)| ai_of_segment(s).is_some_and(is_primary_key))
        {
            return Err(error(format!(
                "the path '{path}' does not end in /AI/value pairs from its primary key: an AI \
                 has no value"
            )));
        }
        return Err(error(format!(
            "no primary key (such as /01/ for a GTIN) in the path '{path}'"
        )));
    };
    let mut elements = Vec::new();
    let mut in_path: Vec<&'static str> = Vec::new();
    for pair in segments[start..].chunks(2) {
        let [(name, _), (raw, value_at)] = pair else {
            unreachable!("pairs from the end");
        };
        let ai = ai_of_segment(name).expect("read above");
        if raw.is_empty() {
            return Err(error(format!("/{name}/ has an empty value")));
        }
        let value = decode(raw, *value_at, false)?;
        let element = path_value(ai, &value.value, current_year).map_err(|e| value.locate(e))?;
        elements.push(element);
        in_path.push(ai.code.as_str());
    }
    if !syntax::is_dl_path(&in_path) {
        let key = syntax::rules(in_path[0]).and_then(|r| r.dl_key.as_ref());
        let allowed = key
            .map(|alternatives| {
                alternatives
                    .iter()
                    .map(|a| a.join(", "))
                    .collect::<Vec<_>>()
                    .join("; or ")
            })
            .unwrap_or_default();
        return Err(error(format!(
            "the path's AIs ({}) are not a key and qualifiers GS1 allows: after ({}) come {} \
             (in that order, each optional)",
            in_path.join(", "),
            in_path[0],
            if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed
            }
        )));
    }
    let query_at = path_at + path.len() + 1;
    let mut field_at = query_at;
    for field in query.split('&') {
        let here = field_at;
        field_at += field.len() + 1;
        if field.is_empty() {
            continue;
        }
        let (name, raw) = field.split_once('=').unwrap_or((field, ""));
        let name = decode(name, here, true)?.value;
        if !name.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
            if let Some((_, code)) = OLD_ATTRIBUTE_NAMES.iter().find(|(n, _)| *n == name) {
                return Err(error(format!(
                    "'{name}' is GS1 Digital Link 1.0's old name for ({code}); write {code}= \
                     instead"
                )));
            }
            // Not GS1's: a resolver's or a brand's own parameter.
            continue;
        }
        let Some(ai) = ai::lookup(&name) else {
            return Err(error(format!(
                "the query parameter {name} is not a GS1 application identifier"
            )));
        };
        if raw.is_empty() {
            return Err(error(format!("the query parameter {name} has no value")));
        }
        let value_at = here + field.len() - raw.len();
        let decoded = decode(raw, value_at, true)?;
        let value = decoded.value.clone();
        let place = (1..=in_path.len()).find(|&at| {
            let mut trial = in_path.clone();
            trial.insert(at, ai.code.as_str());
            syntax::is_dl_path(&trial)
        });
        if let Some(at) = place {
            return Err(error(format!(
                "({}) {} belongs in the path, after /{}/: a key qualifier is not a query \
                 attribute",
                ai.code,
                ai.data_title,
                in_path[at - 1]
            )));
        }
        if !syntax::rules(&ai.code).is_some_and(|r| r.dl_attribute) {
            return Err(error(format!(
                "({}) {} cannot be a Digital Link query attribute",
                ai.code, ai.data_title
            )));
        }
        if let Some(first) = elements.iter().find(|e: &&Element| e.ai.code == ai.code) {
            return Err(Gs1Error::Repeated {
                ai: ai.code.clone(),
                title: ai.data_title.clone(),
                first: first.value.clone(),
                second: value,
            });
        }
        if !ai.matches(&value) {
            return Err(decoded.locate(Element::explain(ai, &value, 0)));
        }
        elements.push(Element::new(ai, &value, current_year)?);
    }
    Ok(elements)
}

/// A compressed Digital Link, written out: `Some((segment, uri))` if the path ends in a
/// segment that is not an AI, which is then decoded; the uncompressed URI has the same host,
/// the path before the segment, the primary key and qualifiers in the path, every other AI and
/// each parameter (decoded or in the query) in the query.
fn expand_compressed<'a>(
    host: &str,
    path: &str,
    segments: &[(&'a str, usize)],
    query: &str,
) -> Result<Option<(&'a str, String)>, Gs1Error> {
    let Some(&(last, _)) = segments.last() else {
        return Ok(None);
    };
    if !compressed::looks_compressed(last) {
        return Ok(None);
    }
    // `.../01/<gtin>/<segment>`: the GTIN left uncompressed.
    let n = segments.len();
    let (stem, mut ais) = match segments.get(n.wrapping_sub(3)..n - 1) {
        Some([(key, _), (value, _)]) if ai_of_segment(key).is_some_and(is_primary_key) => (
            &segments[..n - 3],
            vec![(
                ai_of_segment(key).expect("above").code.clone(),
                decode(value, 0, false)?.value,
            )],
        ),
        _ => (&segments[..n - 1], Vec::new()),
    };
    let decoded = compressed::decompress(last).map_err(|reason| {
        error(format!(
            "no primary key (such as /01/ for a GTIN) in the path '{path}', and its last \
             segment '{last}' is not a compressed GS1 Digital Link: {reason}"
        ))
    })?;
    ais.extend(decoded.ais);
    let pairs: Vec<(&str, &str)> = ais.iter().map(|(a, v)| (a.as_str(), v.as_str())).collect();
    let (in_path, rest) = arrange(&pairs).map_err(|keys| {
        error(format!(
            "the compressed Digital Link '{last}' holds {keys} primary keys, not one"
        ))
    })?;
    let mut uri = format!("https://{host}");
    for (segment, _) in stem {
        uri.push('/');
        uri.push_str(segment);
    }
    for (ai, value) in in_path {
        uri.push_str(&format!("/{ai}/{}", percent_encode(value)));
    }
    let mut params: Vec<String> = rest
        .iter()
        .map(|(ai, value)| format!("{ai}={}", percent_encode(value)))
        .collect();
    params.extend(
        decoded
            .other
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))),
    );
    params.extend(
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(str::to_string),
    );
    if !params.is_empty() {
        uri.push('?');
        uri.push_str(&params.join("&"));
    }
    Ok(Some((last, uri)))
}

/// A value in the path. A GTIN may be written as GTIN-8, -12 or -13, and is read padded with
/// zeros to 14 digits; its errors name what was written.
fn path_value(ai: &'static Ai, value: &str, current_year: i32) -> Result<Element, Gs1Error> {
    if ai.code == "01" {
        let gtin = Gtin::parse(value).map_err(|source| Gs1Error::Key {
            ai: ai.code.clone(),
            title: ai.data_title.clone(),
            source,
        })?;
        return Element::new(ai, gtin.as_str(), current_year);
    }
    if !ai.matches(value) {
        return Err(Element::explain(ai, value, 0));
    }
    Element::new(ai, value, current_year)
}

/// The Digital Link URI of `elements` on `domain`.
pub(super) fn build(elements: &[Element], domain: &str) -> Result<String, Gs1Error> {
    let pairs: Vec<(&str, &str)> = elements
        .iter()
        .map(|e| (e.ai.code.as_str(), e.value.as_str()))
        .collect();
    let (in_path, rest) = arrange(&pairs).map_err(|keys| match keys {
        0 => error("the element strings have no primary key"),
        _ => error("the element strings have more than one primary key"),
    })?;
    let mut uri = format!("https://{domain}");
    for (ai, value) in &in_path {
        uri.push_str(&format!("/{ai}/{}", percent_encode(value)));
    }
    let mut separator = '?';
    for (ai, value) in rest {
        if !syntax::rules(ai).is_some_and(|r| r.dl_attribute) {
            return Err(error(format!(
                "({ai}) {} has no place in a Digital Link with ({})",
                super::title_of(ai),
                in_path[0].0
            )));
        }
        uri.push(separator);
        uri.push_str(&format!("{ai}={}", percent_encode(value)));
        separator = '&';
    }
    Ok(uri)
}

/// An AI and its value.
type Pair<'a> = (&'a str, &'a str);

/// The canonical layout of a Digital Link's AIs: the one primary key, then its qualifiers
/// present, in the order of the `dlpkey` alternative that carries the most of them (the
/// path); every other AI, in AI order (the query). `Err` holds how many primary keys there
/// are when that is not one.
fn arrange<'a>(pairs: &[Pair<'a>]) -> Result<(Vec<Pair<'a>>, Vec<Pair<'a>>), usize> {
    let keys: Vec<&(&str, &str)> = pairs
        .iter()
        .filter(|(ai, _)| ai::lookup(ai).is_some_and(is_primary_key))
        .collect();
    let &[&key] = keys.as_slice() else {
        return Err(keys.len());
    };
    let find = |code: &str| pairs.iter().find(|(ai, _)| *ai == code).copied();
    let alternatives = syntax::rules(key.0)
        .and_then(|r| r.dl_key.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let qualifiers = alternatives
        .iter()
        .max_by_key(|a| a.iter().filter(|q| find(q).is_some()).count());
    let mut path = vec![key];
    path.extend(qualifiers.into_iter().flatten().filter_map(|q| find(q)));
    let mut rest: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(ai, _)| !path.iter().any(|(p, _)| p == ai))
        .copied()
        .collect();
    rest.sort_by(|a, b| a.0.cmp(b.0));
    Ok((path, rest))
}
