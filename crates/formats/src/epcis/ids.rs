//! EPCIS identifiers of medchain's objects: serialized units (SGTIN), containers (SSCC) and
//! lots (LGTIN, a class), in the canonical GS1 Digital Link form EPCIS 2.0 prefers and, read
//! only, in the EPC URN form (`urn:epc:id:sgtin:...`) older systems send. Parties are
//! `urn:medchain:party:<id>`.

use crate::gs1::Scan;
use medchain_types::{
    PartyId,
    gs1::{Gtin, Sscc, check_digit},
    supply::{Object, check_gs1_text},
    time::Date,
};

/// The Digital Link domain of canonical identifiers.
pub const DL_DOMAIN: &str = "https://id.gs1.org";
/// The URN prefix of a medchain party.
pub const PARTY_URN: &str = "urn:medchain:party:";

/// Characters a serial or lot keeps percent-encoded in a canonical Digital Link URI: the
/// characters GS1 Digital Link (table 7-1) and URI syntax require encoded, of the 82 a GS1
/// value may use.
fn must_encode(c: char) -> bool {
    matches!(
        c,
        '!' | '"' | '%' | '&' | '(' | ')' | '*' | '+' | ',' | '/' | ':' | '<' | '>' | '?'
    )
}

/// A serial or lot as a Digital Link path segment.
pub fn dl_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if must_encode(c) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The canonical Digital Link URI of an object.
pub fn object_uri(object: &Object) -> String {
    match object {
        Object::Unit { gtin, serial } => unit_uri(gtin, serial),
        Object::Container { sscc } => container_uri(sscc),
    }
}

/// `https://id.gs1.org/01/<gtin>/21/<serial>`.
pub fn unit_uri(gtin: &Gtin, serial: &str) -> String {
    format!("{DL_DOMAIN}/01/{gtin}/21/{}", dl_encode(serial))
}

/// `https://id.gs1.org/00/<sscc>`.
pub fn container_uri(sscc: &Sscc) -> String {
    format!("{DL_DOMAIN}/00/{sscc}")
}

/// `https://id.gs1.org/01/<gtin>/10/<lot>`: a lot as an EPC class.
pub fn lot_uri(gtin: &Gtin, lot: &str) -> String {
    format!("{DL_DOMAIN}/01/{gtin}/10/{}", dl_encode(lot))
}

/// `urn:medchain:party:<id>`.
pub fn party_uri(party: &PartyId) -> String {
    format!("{PARTY_URN}{party}")
}

/// The party a `urn:medchain:party:<id>` names.
pub fn parse_party(uri: &str) -> Option<PartyId> {
    uri.strip_prefix(PARTY_URN)
        .and_then(|hex| PartyId::from_hex(hex).ok())
}

/// Decodes the `%XX` escapes of an EPC URN component (EPC Tag Data Standard 6.4.3); `None`
/// for a malformed escape.
fn urn_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The GTIN-14 of an EPC URN's company prefix and item reference (its first digit the
/// indicator), which together hold 13 digits.
fn gtin_of(company: &str, item: &str) -> Option<Gtin> {
    if !(6..=12).contains(&company.len())
        || company.len() + item.len() != 13
        || !company
            .bytes()
            .chain(item.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let payload = format!("{}{company}{}", &item[..1], &item[1..]);
    let check = check_digit(payload.as_bytes());
    Gtin::parse(&format!("{payload}{check}")).ok()
}

/// Splits `<company>.<reference>.<rest>` of an EPC URN.
fn three_parts(body: &str) -> Option<(&str, &str, &str)> {
    let (company, rest) = body.split_once('.')?;
    let (reference, last) = rest.split_once('.')?;
    Some((company, reference, last))
}

/// Why an identifier was not understood.
fn not_an(what: &str, uri: &str) -> String {
    format!("{uri:?} is not {what}")
}

/// Reads an instance identifier: a unit (SGTIN) or a container (SSCC), as a Digital Link URI
/// (any domain and path prefix) or an EPC URN.
pub fn parse_object(uri: &str) -> Result<Object, String> {
    const WHAT: &str = "a unit or container identifier (a GS1 Digital Link URI with AI 01 and 21, or 00; or urn:epc:id:sgtin / urn:epc:id:sscc)";
    if let Some(body) = uri.strip_prefix("urn:epc:id:sgtin:") {
        let (company, item, serial) = three_parts(body).ok_or_else(|| not_an(WHAT, uri))?;
        let gtin = gtin_of(company, item).ok_or_else(|| not_an(WHAT, uri))?;
        let serial = urn_decode(serial).ok_or_else(|| not_an(WHAT, uri))?;
        check_gs1_text("serial", &serial).map_err(|err| format!("{uri:?}: {err}"))?;
        return Ok(Object::Unit { gtin, serial });
    }
    if let Some(body) = uri.strip_prefix("urn:epc:id:sscc:") {
        let (company, reference) = body.split_once('.').ok_or_else(|| not_an(WHAT, uri))?;
        if !(6..=12).contains(&company.len())
            || company.len() + reference.len() != 17
            || reference.is_empty()
        {
            return Err(not_an(WHAT, uri));
        }
        let payload = format!("{}{company}{}", &reference[..1], &reference[1..]);
        if !payload.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_an(WHAT, uri));
        }
        let check = check_digit(payload.as_bytes());
        let sscc = Sscc::parse(&format!("{payload}{check}")).map_err(|err| err.to_string())?;
        return Ok(Object::Container { sscc });
    }
    if uri.starts_with("http") {
        let scan = dl_scan(uri)?;
        if let Some(sscc) = scan.sscc() {
            return Ok(Object::Container { sscc });
        }
        if let (Some(gtin), Some(serial)) = (scan.gtin(), scan.serial()) {
            return Ok(Object::Unit {
                gtin,
                serial: serial.to_string(),
            });
        }
    }
    Err(not_an(WHAT, uri))
}

/// Reads a lot (an EPC class): `https://id.gs1.org/01/<gtin>/10/<lot>` or
/// `urn:epc:class:lgtin:<company>.<item>.<lot>`.
pub fn parse_lot(uri: &str) -> Result<(Gtin, String), String> {
    const WHAT: &str =
        "a lot (a GS1 Digital Link URI with AI 01 and 10 and no serial, or urn:epc:class:lgtin)";
    if let Some(body) = uri.strip_prefix("urn:epc:class:lgtin:") {
        let (company, item, lot) = three_parts(body).ok_or_else(|| not_an(WHAT, uri))?;
        let gtin = gtin_of(company, item).ok_or_else(|| not_an(WHAT, uri))?;
        let lot = urn_decode(lot).ok_or_else(|| not_an(WHAT, uri))?;
        check_gs1_text("lot", &lot).map_err(|err| format!("{uri:?}: {err}"))?;
        return Ok((gtin, lot));
    }
    if uri.starts_with("http") {
        let scan = dl_scan(uri)?;
        if let (Some(gtin), Some(lot), None) = (scan.gtin(), scan.lot(), scan.serial()) {
            return Ok((gtin, lot.to_string()));
        }
    }
    Err(not_an(WHAT, uri))
}

fn dl_scan(uri: &str) -> Result<Scan, String> {
    // Dates do not occur in identifiers; the year only reads two-digit years.
    Scan::parse(uri, Date::from_days(20_000)).map_err(|err| format!("{uri:?}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_and_digital_links_name_the_same_objects() {
        let unit = parse_object("urn:epc:id:sgtin:0614141.107346.2017").expect("test data");
        assert_eq!(
            object_uri(&unit),
            "https://id.gs1.org/01/10614141073464/21/2017"
        );
        assert_eq!(parse_object(&object_uri(&unit)).expect("test data"), unit);
        assert_eq!(
            parse_object("https://example.com/path/01/10614141073464/21/2017?17=270101")
                .expect("test data"),
            unit
        );
        let pallet = parse_object("urn:epc:id:sscc:0614141.1234567890").expect("test data");
        assert_eq!(
            object_uri(&pallet),
            "https://id.gs1.org/00/106141412345678908"
        );
        assert_eq!(
            parse_object(&object_uri(&pallet)).expect("test data"),
            pallet
        );
        let odd = Object::Unit {
            gtin: Gtin::parse("09521234543213").expect("test data"),
            serial: "A/B:1'(x)".into(),
        };
        assert_eq!(
            object_uri(&odd),
            "https://id.gs1.org/01/09521234543213/21/A%2FB%3A1'%28x%29"
        );
        assert_eq!(parse_object(&object_uri(&odd)).expect("test data"), odd);
        assert_eq!(
            parse_object("urn:epc:id:sgtin:9521234.054321.A%2FB").expect("test data"),
            Object::Unit {
                gtin: Gtin::parse("09521234543213").expect("test data"),
                serial: "A/B".into()
            }
        );
    }

    #[test]
    fn lots_read_in_both_forms() {
        let gtin = Gtin::parse("10614141073464").expect("test data");
        assert_eq!(
            parse_lot("urn:epc:class:lgtin:0614141.107346.L-7").expect("test data"),
            (gtin, "L-7".to_string())
        );
        assert_eq!(
            parse_lot(&lot_uri(&gtin, "L-7")).expect("test data"),
            (gtin, "L-7".into())
        );
    }

    #[test]
    fn bad_identifiers_are_named() {
        for bad in [
            "urn:epc:id:sgtin:0614141.10734.2017",
            "urn:epc:id:sgtin:0614141107346",
            "urn:epc:id:sscc:0614141.123",
            "https://id.gs1.org/01/10614141073465/21/1",
            "https://id.gs1.org/01/10614141073464",
            "urn:uuid:1",
        ] {
            let err = parse_object(bad).expect_err("refused");
            assert!(
                err.contains("0614141") || err.contains("GTIN") || err.contains(bad),
                "{err}"
            );
        }
        assert!(parse_lot("https://id.gs1.org/01/10614141073464/10/L/21/1").is_err());
        let party = PartyId::from_hex(&"ab".repeat(32)).expect("test data");
        assert_eq!(parse_party(&party_uri(&party)), Some(party));
        assert_eq!(parse_party("urn:medchain:party:zz"), None);
    }
}
