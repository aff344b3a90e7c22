//! State keys. Each domain owns one prefix; nothing reaches into another domain's keys.
//!
//! | prefix | owner      | key                               | value            |
//! |--------|------------|-----------------------------------|------------------|
//! | `c/`   | chain      | `c/genesis`                       | genesis digest   |
//! | `c/`   | node       | `c/head`                          | height and time of the block the state belongs to |
//! | `p/`   | identity   | `p/<party id>`                    | [`Party`]        |
//! | `k/`   | identity   | `k/<public key>`                  | [`KeyRecord`](medchain_types::KeyRecord): every key a party ever held |
//! | `g/`   | governance | `g/config`                        | [`GovernanceConfig`] |
//! | `g/`   | governance | `g/proposal/<u64 big-endian>`     | [`Proposal`]     |
//! | `a/`   | attest     | `a/<party id>/<subject>`          | [`Attestation`]  |
//! | `t/`   | executor   | `t/<tx hash>`                     | [`Receipt`]      |
//! | `c?/`  | credentials| `ci/<issuer>`, `cr/<id>`, `ch/<subject>/<type>`, `cq/<action>` | see [`crate::credentials`] |
//! | `r/ rv/ ra/ gr/ bg/` | records | `r/<record>`, `rv/<record>/<version>`, `ra/<record>/<author>`, `gr/<grant>`, `bg/<id>` | see [`crate::records`] |
//! | `s?/`  | supply     | `sg/<gtin>`, `sl/<gtin><lot>`, `su/<gtin><serial>`, `sc/<sscc>`, `ss/<shipment>`, `sx/<tx>` | see [`crate::supply`] |
//! | `l/`   | lists      | `l/<list>/<owner>`, `l/<list>/<owner>/<seq>` | count; item (see [`crate::lists`]) |
//!
//! Keys are raw bytes (the ids inside are 32 raw bytes); [`describe`] renders one for humans
//! and [`parse`] reads that rendering back, so the CLI and HTTP API can name keys as text.
//!
//! [`Party`]: medchain_types::Party
//! [`GovernanceConfig`]: crate::governance::GovernanceConfig
//! [`Proposal`]: crate::governance::Proposal
//! [`Attestation`]: crate::attest::Attestation
//! [`Receipt`]: medchain_types::Receipt

use medchain_types::{Hash32, ParseError, PartyId, PublicKey, TxHash};

/// The genesis digest.
pub const GENESIS: &[u8] = b"c/genesis";
/// The height and time of the block a state belongs to (written by the node after each block).
pub const HEAD: &[u8] = b"c/head";
/// The governance configuration.
pub const GOVERNANCE_CONFIG: &[u8] = b"g/config";
/// The erasure retention period custodians may erase after (days, `u32`), when governance set
/// one.
pub const ERASURE_RETENTION: &[u8] = b"g/erasure-retention";

fn join(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut key = prefix.to_vec();
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// `p/<party id>`.
pub fn party(id: &PartyId) -> Vec<u8> {
    join(b"p/", &[&id.0])
}

/// `k/<public key>`.
pub fn signing_key(key: &PublicKey) -> Vec<u8> {
    join(b"k/", &[&key.0])
}

/// `g/proposal/<id>`.
pub fn proposal(id: u64) -> Vec<u8> {
    join(b"g/proposal/", &[&id.to_be_bytes()])
}

/// `a/<party>/<subject>`.
pub fn attestation(party: &PartyId, subject: &Hash32) -> Vec<u8> {
    join(b"a/", &[&party.0, b"/", &subject.0])
}

/// `t/<tx hash>`.
pub fn receipt(tx: &TxHash) -> Vec<u8> {
    join(b"t/", &[&tx.0])
}

/// Renders a key as text: the prefix, then ids as hex and numbers in decimal.
pub fn describe(key: &[u8]) -> String {
    let hex = hex_of;
    match key {
        [b'p', b'/', rest @ ..] if rest.len() == 32 => format!("party/{}", hex(rest)),
        [b'k', b'/', rest @ ..] if rest.len() == 32 => format!("key/{}", hex(rest)),
        [b't', b'/', rest @ ..] if rest.len() == 32 => format!("receipt/{}", hex(rest)),
        [b'c', b'r', b'/', rest @ ..] if rest.len() == 32 => format!("credential/{}", hex(rest)),
        [b'c', b'i', b'/', rest @ ..] if rest.len() == 32 => format!("accreditation/{}", hex(rest)),
        [b'c', b'q', b'/', rest @ ..]
            if rest.iter().all(|b| b.is_ascii_lowercase() || *b == b'_') =>
        {
            format!("requirement/{}", String::from_utf8_lossy(rest))
        }
        [b'a', b'/', rest @ ..] if rest.len() == 65 && rest[32] == b'/' => {
            format!("attestation/{}/{}", hex(&rest[..32]), hex(&rest[33..]))
        }
        [b'r', b'/', rest @ ..] if rest.len() == 32 => format!("record/{}", hex(rest)),
        [b'r', b'v', b'/', rest @ ..] if rest.len() == 37 && rest[32] == b'/' => {
            let mut version = [0u8; 4];
            version.copy_from_slice(&rest[33..]);
            format!(
                "record-version/{}/{}",
                hex(&rest[..32]),
                u32::from_be_bytes(version)
            )
        }
        [b'r', b'a', b'/', rest @ ..] if rest.len() == 65 && rest[32] == b'/' => {
            format!("record-author/{}/{}", hex(&rest[..32]), hex(&rest[33..]))
        }
        [b'g', b'r', b'/', rest @ ..] if rest.len() == 32 => format!("grant/{}", hex(rest)),
        [b'b', b'g', b'/', rest @ ..] if rest.len() == 32 => format!("break-glass/{}", hex(rest)),
        [b's', b'g', b'/', rest @ ..] if digits(rest, 14) => {
            format!("product/{}", String::from_utf8_lossy(rest))
        }
        [b's', b'l', b'/', rest @ ..] if rest.len() > 14 && digits(&rest[..14], 14) => format!(
            "lot/{}/{}",
            String::from_utf8_lossy(&rest[..14]),
            String::from_utf8_lossy(&rest[14..])
        ),
        [b's', b'u', b'/', rest @ ..] if rest.len() > 14 && digits(&rest[..14], 14) => format!(
            "unit/{}/{}",
            String::from_utf8_lossy(&rest[..14]),
            String::from_utf8_lossy(&rest[14..])
        ),
        [b's', b'c', b'/', rest @ ..] if digits(rest, 18) => {
            format!("container/{}", String::from_utf8_lossy(rest))
        }
        [b's', b's', b'/', rest @ ..] if rest.len() == 32 => format!("shipment/{}", hex(rest)),
        [b's', b'x', b'/', rest @ ..] if rest.len() == 32 => {
            format!("transformation/{}", hex(rest))
        }
        [b'l', b'/', rest @ ..] => {
            describe_list(rest).unwrap_or_else(|| format!("raw/{}", hex(key)))
        }
        _ if key == GENESIS => "genesis".into(),
        _ if key == HEAD => "head".into(),
        _ if key == GOVERNANCE_CONFIG => "governance".into(),
        _ if key == ERASURE_RETENTION => "erasure-retention".into(),
        _ if key == crate::credentials::ISSUED_TYPES => "credential-types".into(),
        _ if key.starts_with(b"g/proposal/") && key.len() == 19 => {
            let mut id = [0u8; 8];
            id.copy_from_slice(&key[11..]);
            format!("proposal/{}", u64::from_be_bytes(id))
        }
        _ => format!("raw/{}", hex(key)),
    }
}

/// `list/<name>/<owner>` or `list/<name>/<owner>/<seq>` for the part after `l/`.
fn describe_list(rest: &[u8]) -> Option<String> {
    let name = crate::lists::names::ALL
        .iter()
        .find(|name| rest.starts_with(name.as_bytes()) && rest.get(name.len()) == Some(&b'/'))?;
    let tail = &rest[name.len() + 1..];
    match tail.len() {
        32 => Some(format!("list/{name}/{}", hex_of(tail))),
        41 if tail[32] == b'/' => {
            let mut seq = [0u8; 8];
            seq.copy_from_slice(&tail[33..]);
            Some(format!(
                "list/{name}/{}/{}",
                hex_of(&tail[..32]),
                u64::from_be_bytes(seq)
            ))
        }
        _ => None,
    }
}

/// Whether `bytes` are `len` ASCII digits.
fn digits(bytes: &[u8], len: usize) -> bool {
    bytes.len() == len && bytes.iter().all(u8::is_ascii_digit)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses the text form of [`describe`].
pub fn parse(text: &str) -> Result<Vec<u8>, ParseError> {
    let invalid = |reason: String| ParseError::Invalid {
        what: "state key",
        reason,
    };
    let gtin = |text: &str| {
        medchain_types::gs1::Gtin::parse(text).map_err(|err| ParseError::Invalid {
            what: "state key",
            reason: err.to_string(),
        })
    };
    let (kind, rest) = text.split_once('/').unwrap_or((text, ""));
    Ok(match kind {
        "genesis" if rest.is_empty() => GENESIS.to_vec(),
        "head" if rest.is_empty() => HEAD.to_vec(),
        "governance" if rest.is_empty() => GOVERNANCE_CONFIG.to_vec(),
        "erasure-retention" if rest.is_empty() => ERASURE_RETENTION.to_vec(),
        "credential-types" if rest.is_empty() => crate::credentials::ISSUED_TYPES.to_vec(),
        "party" => party(&rest.parse()?),
        "key" => signing_key(&rest.parse()?),
        "receipt" => receipt(&rest.parse()?),
        "credential" => crate::credentials::credential_key(&rest.parse()?),
        "accreditation" => crate::credentials::accreditation_key(&rest.parse()?),
        "requirement" => crate::credentials::requirement_key(rest),
        "proposal" => proposal(
            rest.parse()
                .map_err(|_| invalid(format!("proposal id must be a number, found {rest:?}")))?,
        ),
        "attestation" => {
            let (party_hex, subject_hex) = rest
                .split_once('/')
                .ok_or_else(|| invalid("expected attestation/<party>/<subject>".into()))?;
            attestation(&party_hex.parse()?, &subject_hex.parse()?)
        }
        "record" => crate::records::record_key(&rest.parse()?),
        "record-version" => {
            let (id, version) = rest
                .split_once('/')
                .ok_or_else(|| invalid("expected record-version/<record>/<version>".into()))?;
            let version = version
                .parse()
                .map_err(|_| invalid(format!("version must be a number, found {version:?}")))?;
            crate::records::version_key(&id.parse()?, version)
        }
        "record-author" => {
            let (id, party) = rest
                .split_once('/')
                .ok_or_else(|| invalid("expected record-author/<record>/<party>".into()))?;
            crate::records::author_key(&id.parse()?, &party.parse()?)
        }
        "grant" => crate::records::grant_key(&rest.parse()?),
        "product" => crate::supply::product_key(&gtin(rest)?),
        "lot" | "unit" => {
            let (gtin_text, tail) = rest
                .split_once('/')
                .ok_or_else(|| invalid(format!("expected {kind}/<gtin>/<{kind} number>")))?;
            let gtin = gtin(gtin_text)?;
            medchain_types::supply::check_gs1_text(
                if kind == "lot" { "lot" } else { "serial" },
                tail,
            )?;
            if kind == "lot" {
                crate::supply::lot_key(&gtin, tail)
            } else {
                crate::supply::unit_key(&gtin, tail)
            }
        }
        "container" => crate::supply::container_key(
            &medchain_types::gs1::Sscc::parse(rest).map_err(|err| invalid(err.to_string()))?,
        ),
        "shipment" => crate::supply::shipment_key(&rest.parse()?),
        "transformation" => crate::supply::transformation_key(&rest.parse()?),
        "break-glass" => crate::records::break_glass_key(&rest.parse()?),
        "list" => {
            let mut parts = rest.split('/');
            let (Some(name), Some(owner)) = (parts.next(), parts.next()) else {
                return Err(invalid("expected list/<name>/<owner>[/<seq>]".into()));
            };
            let Some(name) = crate::lists::names::ALL.iter().find(|n| **n == name) else {
                return Err(invalid(format!(
                    "unknown list {name:?}; known: {}",
                    crate::lists::names::ALL.join(", ")
                )));
            };
            let owner: PartyId = owner.parse()?;
            match (parts.next(), parts.next()) {
                (None, _) => crate::lists::count_key(name, &owner.0),
                (Some(seq), None) => crate::lists::item_key(
                    name,
                    &owner.0,
                    seq.parse()
                        .map_err(|_| invalid(format!("seq must be a number, found {seq:?}")))?,
                ),
                _ => return Err(invalid("expected list/<name>/<owner>[/<seq>]".into())),
            }
        }
        "raw" => hex::decode(rest)
            .map_err(|_| invalid(format!("raw key must be hex, found {rest:?}")))?,
        _ => {
            return Err(invalid(format!(
                "unknown key kind {kind:?}; expected one of genesis, head, governance, erasure-retention, credential-types, party/<id>, key/<pk>, receipt/<tx>, proposal/<n>, attestation/<party>/<subject>, credential/<id>, accreditation/<issuer>, requirement/<action>, record/<id>, record-version/<id>/<n>, record-author/<id>/<party>, grant/<id>, break-glass/<id>, product/<gtin>, lot/<gtin>/<lot>, unit/<gtin>/<serial>, container/<sscc>, shipment/<id>, transformation/<tx>, list/<name>/<owner>[/<seq>], raw/<hex>"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_and_parse_round_trip() {
        let id = PartyId([3u8; 32]);
        for key in [
            party(&id),
            signing_key(&PublicKey([4u8; 32])),
            receipt(&TxHash([5u8; 32])),
            proposal(42),
            attestation(&id, &Hash32([6u8; 32])),
            crate::credentials::credential_key(&medchain_types::credential::CredentialId(
                [8u8; 32],
            )),
            crate::credentials::accreditation_key(&id),
            crate::credentials::requirement_key("register_practitioner"),
            crate::records::record_key(&medchain_types::records::RecordId([9u8; 32])),
            crate::records::version_key(&medchain_types::records::RecordId([9u8; 32]), 7),
            crate::records::author_key(&medchain_types::records::RecordId([9u8; 32]), &id),
            crate::records::grant_key(&medchain_types::records::GrantId([10u8; 32])),
            crate::records::break_glass_key(&medchain_types::records::BreakGlassId([11u8; 32])),
            crate::lists::count_key(crate::lists::names::ACCESS, &id.0),
            crate::lists::item_key(crate::lists::names::BREAK_GLASS, &id.0, 12),
            {
                let gtin = medchain_types::gs1::Gtin::parse("09521111111115").expect("GTIN");
                crate::supply::unit_key(&gtin, "A/1")
            },
            crate::supply::lot_key(
                &medchain_types::gs1::Gtin::parse("09521111111115").expect("GTIN"),
                "L-7",
            ),
            crate::supply::product_key(
                &medchain_types::gs1::Gtin::parse("09521111111115").expect("GTIN"),
            ),
            crate::supply::container_key(
                &medchain_types::gs1::Sscc::parse("376130321109103420").expect("SSCC"),
            ),
            crate::supply::shipment_key(&Hash32([12u8; 32])),
            crate::supply::transformation_key(&TxHash([13u8; 32])),
            crate::lists::item_key(crate::lists::names::ALERTS, &[14u8; 32], 3),
            GENESIS.to_vec(),
            HEAD.to_vec(),
            GOVERNANCE_CONFIG.to_vec(),
            ERASURE_RETENTION.to_vec(),
            b"zz".to_vec(),
        ] {
            assert_eq!(parse(&describe(&key)).expect("parses"), key);
        }
        assert!(parse("nonsense/1").is_err());
        assert!(parse("proposal/x").is_err());
    }
}
