//! The GS1 CBV 2.0 event hash id (`ni:///sha-256;<hex>?ver=CBV2.0`): a SHA-256 over a
//! canonical "pre-hash string" of the event, so the same event captured twice, in any EPCIS
//! syntax, has one id.
//!
//! The pre-hash string follows GS1's reference implementation, the `epcis-event-hash-generator`
//! package (version 1.9.3, PyPI), step for step, because an event hash is only useful if every
//! system computes the same one, and that package is what other systems run. Its steps:
//!
//! 1. The event becomes a tree of `(name, text, children)`: list members take the list's name,
//!    object members are sorted (except the pairs of a source, destination or business
//!    transaction, which keep their order), and `xxxList` members are renamed `xxx` under a
//!    `xxxList` node (the XML shape). Bare CBV words (`shipping`) become their web vocabulary
//!    URIs (`https://ref.gs1.org/cbv/BizStep-shipping`).
//! 2. The fields GS1 orders (event time, time zone, EPCs, quantities, action, business step,
//!    disposition, read point, business location, sensor data, ...) are written in that order
//!    as `name=value`, each list's values sorted; times in UTC with milliseconds, numbers in
//!    their shortest form, GS1 identifiers (EPC URNs or Digital Link URIs) in canonical Digital
//!    Link form.
//! 3. Everything left (ILMD, sources, destinations, business transactions, extensions) is
//!    written after, sorted, except `eventID`, `recordTime`, `type` and `errorDeclaration`.
//!
//! Known limits, where this differs from the reference:
//! - EPC URNs of CPI, ITIP and UPUI keys, and EPC pattern URNs, are hashed as given (the
//!   reference converts them too)
//!   (Digital Link URIs of every key are canonicalised, as the reference does).
//! - Bare words are expanded from the fields whose values are vocabulary terms (business step,
//!   disposition, persistent disposition, business-transaction, source and destination types,
//!   sensor report types and exceptions); the reference expands the whole document with a
//!   JSON-LD processor, which would also expand a term an extension's own context declares as
//!   GS1 vocabulary.
//! - Times are read as RFC 3339 (sub-millisecond digits rounding half to even, as the
//!   reference does); the reference's `dateutil` also reads other forms.

use regex::Regex;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::{cmp::Ordering, collections::BTreeMap, sync::LazyLock};

/// A node of the event tree: `(name, text, children)`, or a pair of nodes (one member of a
/// source, destination or business-transaction list).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    T(String, String, Vec<Node>),
    P(Box<Node>, Box<Node>),
}

impl Ord for Node {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Node::T(a, b, c), Node::T(x, y, z)) => (a, b, c).cmp(&(x, y, z)),
            (Node::P(a, b), Node::P(x, y)) => (a, b).cmp(&(x, y)),
            (Node::T(..), Node::P(..)) => Ordering::Less,
            (Node::P(..), Node::T(..)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Node {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Node {
    fn name(&self) -> Option<&str> {
        match self {
            Node::T(name, ..) => Some(name),
            Node::P(..) => None,
        }
    }
    fn children(&self) -> &[Node] {
        match self {
            Node::T(_, _, children) => children,
            Node::P(..) => &[],
        }
    }
}

/// The order GS1 writes an event's fields in; `None` for a leaf.
struct Order(&'static [(&'static str, Option<&'static Order>)]);

const EPC: Order = Order(&[("epc", None)]);
const QUANTITY_ELEMENT: Order = Order(&[("epcClass", None), ("quantity", None), ("uom", None)]);
const QUANTITIES: Order = Order(&[("quantityElement", Some(&QUANTITY_ELEMENT))]);
const PERSISTENT: Order = Order(&[("set", None), ("unset", None)]);
const ID: Order = Order(&[("id", None)]);
const SENSOR_METADATA: Order = Order(&[
    ("time", None),
    ("startTime", None),
    ("endTime", None),
    ("deviceID", None),
    ("deviceMetadata", None),
    ("rawData", None),
    ("dataProcessingMethod", None),
    ("bizRules", None),
]);
const SENSOR_REPORT: Order = Order(&[
    ("type", None),
    ("exception", None),
    ("deviceID", None),
    ("deviceMetadata", None),
    ("rawData", None),
    ("dataProcessingMethod", None),
    ("time", None),
    ("microorganism", None),
    ("chemicalSubstance", None),
    ("value", None),
    ("component", None),
    ("stringValue", None),
    ("booleanValue", None),
    ("hexBinaryValue", None),
    ("uriValue", None),
    ("minValue", None),
    ("maxValue", None),
    ("meanValue", None),
    ("sDev", None),
    ("percRank", None),
    ("percValue", None),
    ("uom", None),
    ("coordinateReferenceSystem", None),
]);
const SENSOR_ELEMENT: Order = Order(&[
    ("sensorMetadata", Some(&SENSOR_METADATA)),
    ("sensorReport", Some(&SENSOR_REPORT)),
]);
const SENSOR_ELEMENTS: Order = Order(&[("sensorElement", Some(&SENSOR_ELEMENT))]);
/// The event's own order. The reference lists the source, destination and business
/// transaction lists here too, but as pairs they never match a name, so they fall to the
/// unordered rest; they are left out here to the same effect.
const EVENT: Order = Order(&[
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", Some(&EPC)),
    ("inputEPCList", Some(&EPC)),
    ("childEPCs", Some(&EPC)),
    ("quantityList", Some(&QUANTITIES)),
    ("childQuantityList", Some(&QUANTITIES)),
    ("inputQuantityList", Some(&QUANTITIES)),
    ("outputEPCList", Some(&EPC)),
    ("outputQuantityList", Some(&QUANTITIES)),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", Some(&PERSISTENT)),
    ("readPoint", Some(&ID)),
    ("bizLocation", Some(&ID)),
    ("sensorElementList", Some(&SENSOR_ELEMENTS)),
]);

/// The prefixes of the document's `@context` (its inline term definitions), which extension
/// names and values are expanded with.
pub type Namespaces = BTreeMap<String, String>;

/// The namespaces an EPCIS document's `@context` defines inline.
pub fn namespaces(context: Option<&Value>) -> Namespaces {
    let mut out = Namespaces::new();
    if let Some(Value::Array(items)) = context {
        for item in items {
            match item {
                Value::String(s) => {
                    out.insert(s.clone(), format!("{{{s}}}"));
                }
                Value::Object(map) => {
                    for (key, value) in map {
                        out.insert(key.clone(), format!("{{{}}}", python_str(value)));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The event hash id of one EPCIS 2.0 JSON event, in a document whose `@context` defines
/// `namespaces`.
pub fn event_hash(event: &Value, namespaces: &Namespaces) -> String {
    let pre = pre_hash(event, namespaces);
    let digest = Sha256::digest(pre.as_bytes());
    format!("ni:///sha-256;{}?ver=CBV2.0", hex::encode(digest))
}

/// The pre-hash string of one event (public for tests and for explaining a mismatch).
pub fn pre_hash(event: &Value, namespaces: &Namespaces) -> String {
    let vocabulary = expanded_vocabulary(event);
    let event = replace_bare_words(event, &vocabulary);
    let tree = correct(to_tree(&event, namespaces));
    let Node::T(kind, _, mut children) = tree else {
        unreachable!("an event is an object")
    };
    let ordered = in_order(&mut children, &EVENT);
    let rest: Vec<Node> = children
        .into_iter()
        .filter(|child| {
            !matches!(
                child.name(),
                Some("recordTime" | "eventID" | "type" | "errorDeclaration")
            )
        })
        .collect();
    format!("eventType={kind}{ordered}{}", generic(&rest))
}

/// Python's `str()` of a JSON scalar, as the reference sees values.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => python_float(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn namespace_replace(text: &str, namespaces: &Namespaces, is_value: bool) -> String {
    if let Some((prefix, rest)) = text.split_once(':')
        && let Some(namespace) = namespaces.get(prefix)
    {
        return if is_value {
            format!("{}{rest}", namespace.replace(['{', '}'], ""))
        } else {
            format!("{namespace}{rest}")
        };
    }
    text.to_string()
}

/// The reference's JSON-to-tree step.
fn to_tree(value: &Value, namespaces: &Namespaces) -> Node {
    match value {
        Value::Array(items) => {
            let mut children: Vec<Node> =
                items.iter().map(|item| to_tree(item, namespaces)).collect();
            // The reference sorts a list's members unless it holds one of these words.
            if !items.iter().any(|item| {
                matches!(
                    item.as_str(),
                    Some("bizTransaction" | "source" | "destination")
                )
            }) {
                children.sort();
            }
            Node::T(String::new(), String::new(), children)
        }
        Value::Object(map) => {
            let name = map.get("type").map(python_str).unwrap_or_default();
            let text = map.get("#text").map(python_str).unwrap_or_default();
            let mut children = Vec::new();
            for (key, val) in map {
                if matches!(key.as_str(), "#text" | "rdfs:comment" | "comment") {
                    continue;
                }
                let child = to_tree(val, namespaces);
                let key = namespace_replace(key, namespaces, false);
                let Node::T(_, text, grand) = child else {
                    unreachable!()
                };
                if val.is_array() {
                    for element in grand {
                        if let Node::T(_, text, grand) = element {
                            children.push(Node::T(key.clone(), text, grand));
                        }
                    }
                } else {
                    children.push(Node::T(key, text, grand));
                }
            }
            if !["bizTransaction", "source", "destination"]
                .iter()
                .any(|k| map.contains_key(*k))
            {
                children.sort();
            }
            Node::T(name, text, children)
        }
        scalar => Node::T(
            String::new(),
            namespace_replace(&python_str(scalar), namespaces, true),
            Vec::new(),
        ),
    }
}

/// The reference's JSON/XML model correction: `xxxList` members under one `xxxList` node,
/// named `xxx` (pairs for sources, destinations and business transactions), `childEPCs` as
/// `epc`s, input and output EPCs as `epc`, quantities as `quantityElement`.
fn correct(node: Node) -> Node {
    let Node::T(name, text, children) = node else {
        return node;
    };
    let mut level: Vec<Node> = Vec::new();
    let mut lists: Vec<(String, Vec<Node>)> = Vec::new();
    let mut child_epcs = Vec::new();
    for child in children {
        match child {
            Node::T(n, t, c) if n.ends_with("List") => {
                let member = Node::T(n[..n.len() - 4].to_string(), t, c);
                match lists.iter_mut().find(|(list, _)| *list == n) {
                    Some((_, members)) => members.push(member),
                    None => lists.push((n, vec![member])),
                }
            }
            other => level.push(other),
        }
    }
    for (list, members) in lists {
        if matches!(
            list.as_str(),
            "sourceList" | "destinationList" | "bizTransactionList"
        ) {
            let pairs = members
                .into_iter()
                .map(|member| {
                    let grand = member.children().to_vec();
                    let first = grand.first().cloned().unwrap_or_else(empty);
                    let second = grand.get(1).cloned().unwrap_or_else(empty);
                    Node::P(Box::new(first), Box::new(second))
                })
                .collect();
            level.push(Node::T(list, String::new(), pairs));
        } else {
            level.push(Node::T(list, String::new(), members));
        }
    }
    level.retain(|child| {
        if let Node::T(n, t, _) = child
            && n == "childEPCs"
        {
            child_epcs.push(Node::T("epc".into(), t.clone(), Vec::new()));
            return false;
        }
        true
    });
    if !child_epcs.is_empty() {
        level.push(Node::T("childEPCs".into(), String::new(), child_epcs));
    }
    let level = level
        .into_iter()
        .map(|child| match child.name() {
            Some("sourceList" | "destinationList" | "bizTransactionList") => child,
            _ => correct(child),
        })
        .collect::<Vec<_>>();
    let has_children = !level.is_empty();
    let name = match name.as_str() {
        "inputEPC" | "outputEPC" => "epc".to_string(),
        "inputQuantity" | "outputQuantity" | "childQuantity" => "quantityElement".to_string(),
        "quantity" if has_children => "quantityElement".to_string(),
        _ => name,
    };
    Node::T(name, text, level)
}

fn empty() -> Node {
    Node::T(String::new(), String::new(), Vec::new())
}

/// Writes the children `order` names, in its order, removing what it writes; what is left
/// is written by [`generic`].
fn in_order(children: &mut Vec<Node>, order: &Order) -> String {
    let extensions = user_extensions(children);
    let mut pre = String::new();
    for (name, sub) in order.0 {
        let mut values = Vec::new();
        let mut i = 0;
        while i < children.len() {
            if children[i].name() != Some(name) {
                i += 1;
                continue;
            }
            let text = child_pre_hash(&mut children[i], *sub);
            if !text.is_empty() {
                values.push(text);
            }
            if children[i].children().is_empty() {
                children.remove(i);
            } else {
                i += 1;
            }
        }
        values.sort();
        pre.push_str(&values.concat());
    }
    if !extensions.is_empty() {
        pre.push_str(&generic(&extensions));
    }
    pre
}

/// Inside an ordered element (not at the event's top level), extension members (expanded
/// names `{namespace/}name`) are written after the ordered ones.
fn user_extensions(children: &mut Vec<Node>) -> Vec<Node> {
    if children.len() <= 1
        || children.iter().any(|c| {
            c.name()
                .is_some_and(|n| n.contains("eventTime") || n.contains("action"))
        })
    {
        return Vec::new();
    }
    let (extensions, rest): (Vec<Node>, Vec<Node>) = children.drain(..).partition(|c| {
        c.name()
            .is_some_and(|n| n.contains('{') && n.contains("/}"))
    });
    *children = rest;
    extensions
}

fn child_pre_hash(child: &mut Node, sub: Option<&Order>) -> String {
    let Node::T(name, text, grand) = child else {
        return String::new();
    };
    let grand_text = match sub {
        Some(order) => in_order(grand, order),
        None => String::new(),
    };
    let mut value = String::new();
    if !text.is_empty() {
        let trimmed = python_strip(text);
        let lower = name.to_lowercase();
        let canonical = if lower.contains("time") && !lower.contains("offset") {
            fix_time(trimmed)
        } else {
            canonize(trimmed)
        };
        if !canonical.is_empty() {
            value = format!("={canonical}");
        }
    }
    if value.is_empty() && grand_text.is_empty() {
        return String::new();
    }
    format!("{name}{value}{grand_text}")
}

/// The unordered rest: `name=value` and children, each level sorted (but the members of a
/// source, destination or business transaction pair).
fn generic(children: &[Node]) -> String {
    let mut values: Vec<String> = children
        .iter()
        .map(|child| match child {
            Node::P(a, b) => generic(&[(**a).clone(), (**b).clone()]),
            Node::T(name, text, grand) => {
                let trimmed = python_strip(text);
                let value = if trimmed.is_empty() {
                    String::new()
                } else {
                    format!("={}", canonize(trimmed))
                };
                format!("{name}{value}{}", generic(grand))
            }
        })
        .collect();
    let keep_order = children
        .iter()
        .any(|c| matches!(c.name(), Some("bizTransaction" | "source" | "destination")));
    if children.len() > 1 && !keep_order {
        values.sort();
    }
    values.concat()
}

fn python_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Times in UTC at millisecond precision, `Z`; text that is not a time stays as it is.
fn fix_time(text: &str) -> String {
    match super::parse_event_time(text) {
        Some(ms) => {
            let base = medchain_types::time::rfc3339(ms - ms % 1000);
            format!("{}.{:03}Z", base.trim_end_matches('Z'), ms % 1000)
        }
        None => text.to_string(),
    }
}

/// CBV URNs as web vocabulary, numbers in Python's shortest form, GS1 identifiers as canonical
/// Digital Link URIs.
fn canonize(text: &str) -> String {
    let text = text
        .replace(
            "urn:epcglobal:cbv:bizstep:",
            "https://ref.gs1.org/cbv/BizStep-",
        )
        .replace("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
        .replace("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-")
        .replace("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-")
        .replace("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-");
    let text = python_numeric(&text).unwrap_or(text);
    dl_normalise(&text).unwrap_or(text)
}

/// Python's `str(float(text))`, without a trailing `.0`; `None` when `text` is not a number.
fn python_numeric(text: &str) -> Option<String> {
    let trimmed = python_strip(text);
    let cleaned = if trimmed.contains('_') {
        let bytes = trimmed.as_bytes();
        let ok = bytes.iter().enumerate().all(|(i, b)| {
            *b != b'_'
                || (i > 0
                    && i + 1 < bytes.len()
                    && bytes[i - 1].is_ascii_digit()
                    && bytes[i + 1].is_ascii_digit())
        });
        if !ok {
            return None;
        }
        trimmed.replace('_', "")
    } else {
        trimmed.to_string()
    };
    let lower = cleaned.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    let word = matches!(unsigned, "inf" | "infinity" | "nan");
    if !word
        && !unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    let value: f64 = cleaned.parse().ok()?;
    if value.is_nan() || value.is_infinite() {
        // int() of these raises in the reference; the text stays as it is.
        return None;
    }
    if value.fract() == 0.0 {
        return Some(integer_digits(value));
    }
    Some(python_float(value))
}

/// The exact decimal digits of an integral float, as Python's `int()` prints them.
fn integer_digits(value: f64) -> String {
    if value.abs() < 1e38 {
        return format!("{}", value as i128);
    }
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let mut digits: Vec<u8> = mantissa.to_string().bytes().map(|b| b - b'0').collect();
    for _ in 0..exponent {
        let mut carry = 0;
        for d in digits.iter_mut().rev() {
            let v = *d * 2 + carry;
            *d = v % 10;
            carry = v / 10;
        }
        if carry > 0 {
            digits.insert(0, carry);
        }
    }
    let text: String = digits.into_iter().map(|d| (b'0' + d) as char).collect();
    if value < 0.0 {
        format!("-{text}")
    } else {
        text
    }
}

/// Python's `repr()` of a float: the shortest digits that round-trip, in positional form
/// for exponents from -4 to 15 and scientific (`1e-05`, `1.5e+16`) otherwise.
fn python_float(value: f64) -> String {
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{text}")
    } else {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{first}{fraction}e{esign}{:02}", exponent.abs())
    }
}

/// The vocabulary URIs bare words in the event expand to under the EPCIS 2.0 context: a
/// business step, a disposition, a business-transaction, source or destination type.
fn expanded_vocabulary(event: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |prefix: &str, value: Option<&Value>| {
        if let Some(Value::String(word)) = value {
            let uri = if word.contains(':') {
                word.clone()
            } else if prefix == "gs1" {
                format!("https://gs1.org/voc/{word}")
            } else {
                format!("https://ref.gs1.org/cbv/{prefix}-{word}")
            };
            let vocabulary = uri.starts_with("https://ref.gs1.org/cbv")
                || uri.starts_with("https://gs1.org/voc");
            if vocabulary && !out.contains(&uri) {
                out.push(uri);
            }
        }
    };
    if let Some(Value::Array(elements)) = event.get("sensorElementList") {
        for element in elements {
            let reports = match element.get("sensorReport") {
                Some(Value::Array(reports)) => reports.iter().collect(),
                Some(report) => vec![report],
                None => Vec::new(),
            };
            for report in reports {
                add("gs1", report.get("type"));
                add("gs1", report.get("exception"));
            }
        }
    }
    add("BizStep", event.get("bizStep"));
    add("Disp", event.get("disposition"));
    if let Some(Value::Object(persistent)) = event.get("persistentDisposition") {
        for key in ["set", "unset"] {
            match persistent.get(key) {
                Some(Value::Array(items)) => items.iter().for_each(|v| add("Disp", Some(v))),
                other => add("Disp", other),
            }
        }
    }
    for (list, prefix) in [
        ("bizTransactionList", "BTT"),
        ("sourceList", "SDT"),
        ("destinationList", "SDT"),
    ] {
        if let Some(Value::Array(items)) = event.get(list) {
            for item in items {
                add(prefix, item.get("type"));
            }
        }
    }
    out
}

/// The reference replaces every string value that exactly one expanded vocabulary URI ends
/// with (after a `-` or `/`) by that URI.
fn replace_bare_words(value: &Value, vocabulary: &[String]) -> Value {
    match value {
        Value::String(s) => {
            let matches: Vec<&String> = vocabulary
                .iter()
                .filter(|uri| uri.ends_with(&format!("-{s}")) || uri.ends_with(&format!("/{s}")))
                .collect();
            match matches.as_slice() {
                [one] => Value::String((*one).clone()),
                _ => value.clone(),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| replace_bare_words(v, vocabulary))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), replace_bare_words(v, vocabulary)))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

/// GS1's reference check digit, used for URN conversions.
fn check(payload: &str) -> u8 {
    medchain_types::gs1::check_digit(payload.as_bytes())
}

/// The reference's percent-encoding of URN values in Digital Link.
fn web_encode(text: &str) -> String {
    text.replace('!', "%21")
        .replace('(', "%28")
        .replace(')', "%29")
        .replace('*', "%2A")
        .replace('+', "%2B")
        .replace(',', "%2C")
        .replace(':', "%3A")
}

const URN_CHAR: &str = r"(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!')(*+,.0-9:;=A-Za-z_-])";
const DL_CHAR: &str = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]";

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid pattern")
}

static SGTIN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^urn:epc:id:sgtin:({})\.{URN_CHAR}{{1,20}}$",
        split_digits(13, false)
    ))
});
static SSCC: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"^urn:epc:id:sscc:({})$", split_digits(17, false))));
static SGLN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^urn:epc:id:sgln:({})\.{URN_CHAR}{{1,20}}$",
        split_digits(12, false)
    ))
});
static PGLN: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"^urn:epc:id:pgln:({})$", split_digits(12, false))));
static LGTIN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^urn:epc:class:lgtin:({})\.{URN_CHAR}{{1,20}}$",
        split_digits(13, false)
    ))
});
static GRAI: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^urn:epc:id:grai:({})\.{URN_CHAR}{{1,16}}$",
        split_digits(12, true)
    ))
});
static GIAI: LazyLock<Regex> = LazyLock::new(|| {
    let arms: Vec<String> = (6..=12)
        .map(|digits| format!(r"([\d]{{{digits}}}\.{URN_CHAR}{{1,{}}})", 30 - digits))
        .collect();
    re(&format!(r"^urn:epc:id:giai:({})$", arms.join("|")))
});
/// `(\d{6}\.\d{n-6})|...|(\d{12}\.\d{n-12})`: a company prefix and a reference of `n` digits in
/// all. With `dots_for_empty`, a twelve-digit prefix is followed by `..` (an empty reference).
fn split_digits(total: usize, dots_for_empty: bool) -> String {
    (6..=12)
        .map(|company| {
            let rest = total - company;
            if rest == 0 {
                if dots_for_empty {
                    format!(r"([\d]{{{company}}}\.\.)")
                } else {
                    format!(r"([\d]{{{company}}}\.)")
                }
            } else {
                format!(r"([\d]{{{company}}}\.[\d]{{{rest}}})")
            }
        })
        .collect::<Vec<_>>()
        .join("|")
}
static GDTI: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^urn:epc:id:gdti:({}){URN_CHAR}{{1,20}}$",
        split_digits(12, true)
    ))
});
static GSRN: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"^urn:epc:id:gsrn:({})$", split_digits(17, false))));
static GSRNP: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^urn:epc:id:gsrnp:({})$",
        split_digits(17, false)
    ))
});
static SGCN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^urn:epc:id:sgcn:({})\.[\d]{{1,12}}$",
        split_digits(12, false)
    ))
});
static GINC: LazyLock<Regex> = LazyLock::new(|| {
    let arms: Vec<String> = (6..=12)
        .map(|digits| format!(r"[\d]{{{digits}}}\.{URN_CHAR}{{1,{}}}", 30 - digits))
        .collect();
    re(&format!(r"^urn:epc:id:ginc:({})$", arms.join("|")))
});
static GSIN: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"^urn:epc:id:gsin:({})$", split_digits(16, false))));
static DL_ANY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^https?:(//((([^/?#]*)@)?([^/?#:]*)(:([^/?#]*))?))?((([^?#]*)(/(01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai)/)(\d{4}[^/]+)(/[^/]+/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?)|(/[A-Za-z_-]{10}$))",
    )
});
static DL_CANONICAL_HOST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^https://id.gs1.org/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/(\d{4}[^/]+)(/[^/]+/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?|^(/[A-Za-z_-]{10}$)",
    )
});
/// A GTIN of 14, 13, 12 or 8 digits right after `/01/`.
static GTIN_WIDTHS: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    [14, 13, 12, 8].map(|digits| re(&format!(r"^https://id.gs1.org/01/\d{{{digits}}}")))
});
static CPV: LazyLock<[Regex; 2]> = LazyLock::new(|| {
    [
        re(&format!(
            r"^https://id.gs1.org/8006/\d{{18}}/22/({DL_CHAR}{{0,20}})$"
        )),
        re(&format!(
            r"^https://id.gs1.org/01/\d{{14}}/22/({DL_CHAR}{{0,20}})$"
        )),
    ]
});
static CPV_SLASH: LazyLock<[Regex; 2]> = LazyLock::new(|| {
    [
        re(
            r"^https://id.gs1.org/8006/\d{18}/22/([\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$",
        ),
        re(
            r"^https://id.gs1.org/01/\d{14}/22/([\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$",
        ),
    ]
});
static LOT_AND_SERIAL: LazyLock<[Regex; 2]> = LazyLock::new(|| {
    [
        re(&format!(
            r"^https://id.gs1.org/8006/\d{{18}}/10/({DL_CHAR}{{0,20}})/21/({DL_CHAR}{{0,20}})$"
        )),
        re(&format!(
            r"^https://id.gs1.org/01/(\d{{14}})/10/({DL_CHAR}{{0,20}})/21/({DL_CHAR}{{0,20}})$"
        )),
    ]
});
static VALID: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^https://id.gs1.org/00/(\d{18})$".to_string(),
        format!(r"^https://id.gs1.org/01/(\d{{14}})/21/({DL_CHAR}{{0,20}})$"),
        format!(r"^https://id.gs1.org/01/(\d{{14}})/10/({DL_CHAR}{{0,20}})$"),
        r"^https://id.gs1.org/01/(\d{14})$".to_string(),
        format!(r"^https://id.gs1.org/01/(\d{{14}})/235/({DL_CHAR}{{0,28}})$"),
        format!(r"^https://id.gs1.org/253/(\d{{13}})({DL_CHAR}{{0,17}})$"),
        r"^https://id.gs1.org/255/(\d{13})(\d{0,12})$".to_string(),
        format!(r"^https://id.gs1.org/401/({DL_CHAR}{{0,30}})$"),
        r"^https://id.gs1.org/402/(\d{17})$".to_string(),
        r"^https://id.gs1.org/414/(\d{13})$".to_string(),
        format!(r"^https://id.gs1.org/414/(\d{{13}})/254/({DL_CHAR}{{0,20}})$"),
        r"^https://id.gs1.org/417/(\d{13})$".to_string(),
        format!(r"^https://id.gs1.org/8003/(\d{{14}})({DL_CHAR}{{0,16}})$"),
        format!(r"^https://id.gs1.org/8004/({DL_CHAR}{{0,30}})$"),
        format!(r"^https://id.gs1.org/8006/(\d{{18}})/21/({DL_CHAR}{{0,20}})$"),
        format!(r"^https://id.gs1.org/8006/(\d{{18}})/10/({DL_CHAR}{{0,20}})$"),
        r"^https://id.gs1.org/8006/(\d{18})$".to_string(),
        r"^https://id.gs1.org/8010/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})/8011/(\d{0,12})$"
            .to_string(),
        r"^https://id.gs1.org/8010/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})$".to_string(),
        r"^https://id.gs1.org/8017/(\d{18})$".to_string(),
        r"^https://id.gs1.org/8018/(\d{18})$".to_string(),
    ]
    .iter()
    .map(|p| re(p))
    .collect()
});

/// The reference's GS1 Digital Link normaliser: an EPC URN (SGTIN, SSCC, SGLN, PGLN, LGTIN,
/// GRAI, GIAI, GDTI, GSRN, GSRN-P, SGCN, GINC, GSIN)
/// or a Digital Link URI on any domain, as a canonical `https://id.gs1.org/...` URI with
/// only its finest identification level; `None` for anything else.
pub fn dl_normalise(uri: &str) -> Option<String> {
    let partition = uri.find('.')?;
    if SGTIN.is_match(uri) {
        let company = &uri[17..partition];
        let item = &uri[partition + 1..partition + 1 + (13 - company.len())];
        let raw = format!("{}{company}{}", &item[..1], &item[1..]);
        return Some(format!(
            "https://id.gs1.org/01/{raw}{}/21/{}",
            check(&raw),
            web_encode(uri.get(32..).unwrap_or_default())
        ));
    }
    if SSCC.is_match(uri) {
        let company = &uri[16..partition];
        let raw = format!(
            "{}{company}{}",
            &uri[partition + 1..partition + 2],
            &uri[partition + 2..]
        );
        return Some(format!("https://id.gs1.org/00/{raw}{}", check(&raw)));
    }
    if SGLN.is_match(uri) {
        let company = &uri[16..partition];
        let location = &uri[partition + 1..partition + 1 + (12 - company.len())];
        let raw = format!("{company}{location}");
        let extension = uri.get(30..).unwrap_or_default();
        return Some(if extension == "0" {
            format!("https://id.gs1.org/414/{raw}{}", check(&raw))
        } else {
            format!(
                "https://id.gs1.org/414/{raw}{}/254/{}",
                check(&raw),
                web_encode(extension)
            )
        });
    }
    if PGLN.is_match(uri) {
        let company = &uri[16..partition];
        let party = &uri[partition + 1..partition + 1 + (12 - company.len())];
        let raw = format!("{company}{party}");
        return Some(format!("https://id.gs1.org/417/{raw}{}", check(&raw)));
    }
    if LGTIN.is_match(uri) {
        let company = &uri[20..partition];
        let item = &uri[partition + 1..partition + 1 + (13 - company.len())];
        let raw = format!("{}{company}{}", &item[..1], &item[1..]);
        return Some(format!(
            "https://id.gs1.org/01/{raw}{}/10/{}",
            check(&raw),
            web_encode(uri.get(35..).unwrap_or_default())
        ));
    }
    if GRAI.is_match(uri) {
        let company = &uri[16..partition];
        let asset = uri.get(partition + 1..partition + 1 + (12 - company.len()))?;
        let raw = format!("0{company}{asset}");
        return Some(format!(
            "https://id.gs1.org/8003/{raw}{}{}",
            check(&raw),
            web_encode(uri.get(30..).unwrap_or_default())
        ));
    }
    if GIAI.is_match(uri) {
        let company = &uri[16..partition];
        return Some(format!(
            "https://id.gs1.org/8004/{company}{}",
            web_encode(&uri[partition + 1..])
        ));
    }
    let company = uri.get(16..partition).unwrap_or_default();
    let after = uri.get(partition + 1..).unwrap_or_default();
    if GDTI.is_match(uri) {
        let kind = after.get(..12 - company.len())?;
        let raw = format!("{company}{kind}");
        return Some(format!(
            "https://id.gs1.org/253/{raw}{}{}",
            check(&raw),
            web_encode(uri.get(30..).unwrap_or_default())
        ));
    }
    if GSRN.is_match(uri) {
        let raw = format!("{company}{after}");
        return Some(format!("https://id.gs1.org/8018/{raw}{}", check(&raw)));
    }
    if GSRNP.is_match(uri) {
        let raw = format!("{}{after}", &uri[17..partition]);
        return Some(format!("https://id.gs1.org/8017/{raw}{}", check(&raw)));
    }
    if SGCN.is_match(uri) {
        let coupon = after.get(..12 - company.len())?;
        let raw = format!("{company}{coupon}");
        return Some(format!(
            "https://id.gs1.org/255/{raw}{}{}",
            check(&raw),
            uri.get(30..).unwrap_or_default()
        ));
    }
    if GINC.is_match(uri) {
        return Some(format!(
            "https://id.gs1.org/401/{company}{}",
            web_encode(after)
        ));
    }
    if GSIN.is_match(uri) {
        let raw = format!("{company}{after}");
        return Some(format!("https://id.gs1.org/402/{raw}{}", check(&raw)));
    }
    if !DL_ANY.is_match(uri) {
        return None;
    }
    let mut uri = match uri.find('?') {
        Some(at) => uri[..at].to_string(),
        None => uri.to_string(),
    };
    for (alias, ai) in [
        ("/gtin/", "/01/"),
        ("/itip/", "/8006/"),
        ("/cpid/", "/8010/"),
        ("/gln/", "/414/"),
        ("/party/", "/417/"),
        ("/gsrnp/", "/8017/"),
        ("/gsrn/", "/8018/"),
        ("/gcn/", "/255/"),
        ("/sscc/", "/00/"),
        ("/gdti/", "/253/"),
        ("/ginc/", "/401/"),
        ("/gsin/", "/402/"),
        ("/grai/", "/8003/"),
        ("/giai/", "/8004/"),
        ("/cpv/", "/22/"),
        ("/lot/", "/10/"),
        ("/ser/", "/21/"),
    ] {
        uri = uri.replace(alias, ai);
    }
    if !DL_CANONICAL_HOST.is_match(&uri) {
        for key in [
            "/00/", "/01/", "/253/", "/255/", "/401/", "/402/", "/414/", "/417/", "/8003/",
            "/8004/", "/8006/", "/8010/", "/8017/", "/8018/",
        ] {
            if let Some(at) = uri.find(key) {
                uri = format!("https://id.gs1.org{}", &uri[at..]);
                break;
            }
        }
    }
    let [gtin14, gtin13, gtin12, gtin8] = &*GTIN_WIDTHS;
    if !gtin14.is_match(&uri) {
        if gtin13.is_match(&uri) {
            uri = uri.replacen("/01/", "/01/0", usize::MAX);
        } else if gtin12.is_match(&uri) {
            uri = uri.replacen("/01/", "/01/00", usize::MAX);
        } else if gtin8.is_match(&uri) {
            uri = uri.replacen("/01/", "/01/000000", usize::MAX);
        }
    }
    let after_cpv = uri
        .find("/22/")
        .map(|at| uri[at + 4..].to_string())
        .unwrap_or_else(|| uri[3..].to_string());
    if CPV.iter().any(|r| r.is_match(&uri)) {
        let at = uri.find("/22/").expect("matched /22/");
        let tail = match after_cpv.find('/') {
            Some(slash) => {
                after_cpv[slash..after_cpv.len().saturating_sub(1).max(slash)].to_string()
            }
            None => String::new(),
        };
        uri = format!("{}{tail}", &uri[..at]);
    }
    if CPV_SLASH.iter().any(|r| r.is_match(&uri)) {
        let at = uri.find("/22/").expect("matched /22/");
        let tail = match after_cpv.find('/') {
            Some(slash) => after_cpv[slash..].to_string(),
            None => after_cpv
                .chars()
                .last()
                .map(String::from)
                .unwrap_or_default(),
        };
        uri = format!("{}{tail}", &uri[..at]);
    }
    if LOT_AND_SERIAL.iter().any(|r| r.is_match(&uri)) {
        let at = uri.find("/10/").expect("matched /10/");
        let after = &uri[at + 4..];
        let tail = match after.find('/') {
            Some(slash) => after[slash..].to_string(),
            None => after.chars().last().map(String::from).unwrap_or_default(),
        };
        uri = format!("{}{tail}", &uri[..at]);
    }
    VALID.iter().any(|r| r.is_match(&uri)).then_some(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_numbers() {
        for (text, want) in [
            ("0123", Some("123")),
            ("1.50", Some("1.5")),
            ("0.00001", Some("1e-05")),
            ("12345678901234567890", Some("12345678901234567168")),
            ("1e22", Some("10000000000000000000000")),
            ("1.5e16", Some("15000000000000000")),
            ("123456789012345.6", Some("123456789012345.6")),
            ("1234567890123456.7", Some("1234567890123456.8")),
            ("-0", Some("0")),
            ("+7", Some("7")),
            ("1_000", Some("1000")),
            ("1__0", None),
            ("nan", None),
            ("abc", None),
            ("2026-11-20", None),
        ] {
            assert_eq!(python_numeric(text).as_deref(), want, "{text}");
        }
        assert_eq!(python_float(1.2345e20), "1.2345e+20");
        assert_eq!(python_float(0.5), "0.5");
    }

    #[test]
    fn identifiers_normalise_as_the_reference_does() {
        assert_eq!(
            dl_normalise("urn:epc:id:sgtin:4012345.011111.9876").as_deref(),
            Some("https://id.gs1.org/01/04012345111118/21/9876")
        );
        assert_eq!(
            dl_normalise("urn:epc:id:sgln:4012345.00001.0").as_deref(),
            Some("https://id.gs1.org/414/4012345000016")
        );
        assert_eq!(
            dl_normalise("https://example.org/shop/01/4012345111118/10/L1/21/9876?17=270101")
                .as_deref(),
            Some("https://id.gs1.org/01/04012345111118/21/9876")
        );
        assert_eq!(dl_normalise("urn:medchain:party:ab"), None);
        assert_eq!(
            fix_time("2026-11-20T10:00:00.1225+01:00"),
            "2026-11-20T09:00:00.122Z"
        );
        assert_eq!(
            fix_time("2026-11-20T10:00:00.1235Z"),
            "2026-11-20T10:00:00.124Z"
        );
    }
}
