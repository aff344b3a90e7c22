//! The drug supply chain: serialized units (GTIN + serial, in a lot with an expiry date), the
//! containers they are packed in (cases and pallets, by SSCC), and the operations trading
//! partners perform on them.
//!
//! Each operation is one EPCIS 2.0 event (GS1 CBV 2.0 business step and disposition), so a
//! capture document maps to transactions one event each, and the chain's history maps back to
//! EPCIS documents:
//!
//! | operation      | EPCIS event                  | business step    | disposition   |
//! |----------------|------------------------------|------------------|---------------|
//! | `commission`   | ObjectEvent ADD              | commissioning    | active        |
//! | `pack`         | AggregationEvent ADD         | packing          | in_progress   |
//! | `unpack`       | AggregationEvent DELETE      | unpacking        | in_progress   |
//! | `ship`         | ObjectEvent OBSERVE          | shipping         | in_transit (returned for a return) |
//! | `receive`      | ObjectEvent OBSERVE          | receiving        | in_progress   |
//! | `dispense`     | ObjectEvent OBSERVE          | dispensing       | dispensed     |
//! | `decommission` | ObjectEvent DELETE           | decommissioning, destroying, sampling | inactive, destroyed, stolen |
//! | `recall`       | ObjectEvent OBSERVE (class level, the lot) | holding | recalled |
//! | `transform`    | TransformationEvent          | commissioning    | active        |
//! | `flag`         | ObjectEvent OBSERVE          | inspecting       | the flag's    |
//!
//! Object lists are compact: units grouped by GTIN, with serials listed or given as a numeric
//! range, and containers by SSCC.

use crate::{
    codec::{read_str, str_size, struct_codec, write_str},
    error::ParseError,
    gs1::{Gtin, Sscc},
    hash::Hash32,
    ids::{PartyId, TxHash},
    time::Date,
};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt, Write};
use serde::{Deserialize, Serialize};

/// Longest serial number or lot number, in characters (GS1 AIs 21 and 10: `X..20`).
pub const SERIAL_CHARS_MAX: usize = 20;
/// Most objects (units and containers) one operation names.
pub const OBJECTS_PER_OP_MAX: usize = 20_000;
/// Most GTIN groups in one object list.
pub const GTIN_GROUPS_MAX: usize = 256;
/// Longest URI (read point, business location, source, destination, business transaction).
pub const URI_BYTES_MAX: usize = 512;
/// Most business transactions, sources or destinations on one operation.
pub const REFERENCES_MAX: usize = 16;
/// Largest `extra` (the EPCIS fields medchain keeps but does not interpret), in bytes.
pub const EXTRA_BYTES_MAX: usize = 8 * 1024;
/// Largest reason text, in bytes.
pub const SUPPLY_REASON_BYTES_MAX: usize = 256;
/// Most history entries a unit or container keeps (after that, moves are refused).
pub const HISTORY_MAX: usize = 64;
/// Most objects ever packed in one container: an SSCC names one logistic unit, so it is not
/// refilled without end.
pub const CONTAINER_PACKINGS_MAX: usize = 2 * OBJECTS_PER_OP_MAX;
/// Largest reason an alert records, in bytes (longer ones are cut).
pub const ALERT_REASON_BYTES_MAX: usize = 512;
/// How far ahead of the block an event's time may be (clock skew), in milliseconds.
pub const EVENT_TIME_SKEW_MS: u64 = 5 * 60 * 1000;

/// Whether `c` is in GS1's AI encodable character set 82 (General Specifications 7.11,
/// figure 7.11-1), the characters serial and lot numbers may use.
pub fn is_cset82(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '"'
                | '%'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | '+'
                | ','
                | '-'
                | '.'
                | '/'
                | ':'
                | ';'
                | '<'
                | '='
                | '>'
                | '?'
                | '_'
        )
}

fn invalid(what: &'static str, reason: impl Into<String>) -> ParseError {
    ParseError::Invalid {
        what,
        reason: reason.into(),
    }
}

/// Checks a serial or lot number: 1 to 20 characters of GS1 character set 82.
pub fn check_gs1_text(what: &'static str, text: &str) -> Result<(), ParseError> {
    if text.is_empty() || text.chars().count() > SERIAL_CHARS_MAX || !text.chars().all(is_cset82) {
        return Err(invalid(
            what,
            format!(
                "1 to {SERIAL_CHARS_MAX} characters of GS1 character set 82 (letters, digits and !\"%&'()*+,-./:;<=>?_), found {text:?}"
            ),
        ));
    }
    Ok(())
}

/// Checks a URI-ish reference: non-empty, printable ASCII without spaces, with a scheme.
fn check_uri(what: &'static str, uri: &str) -> Result<(), ParseError> {
    let scheme_ok = uri
        .split_once(':')
        .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty());
    if uri.len() > URI_BYTES_MAX || !uri.bytes().all(|b| b.is_ascii_graphic()) || !scheme_ok {
        return Err(invalid(
            what,
            format!(
                "an absolute URI (scheme:rest) of at most {URI_BYTES_MAX} printable ASCII bytes, found {uri:?}"
            ),
        ));
    }
    Ok(())
}

/// Serial numbers of one GTIN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Serials {
    /// Serials as listed.
    List(Vec<String>),
    /// `count` numeric serials from `first`, each `prefix` then the number zero-padded to
    /// `width` digits: `{prefix: "A", first: 7, count: 3, width: 4}` is A0007, A0008, A0009.
    Range {
        prefix: String,
        first: u64,
        count: u32,
        width: u8,
    },
}

impl Serials {
    /// How many serials.
    pub fn len(&self) -> usize {
        match self {
            Serials::List(list) => list.len(),
            Serials::Range { count, .. } => *count as usize,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The serials, in order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = String> + Send + '_> {
        match self {
            Serials::List(list) => Box::new(list.iter().cloned()),
            Serials::Range {
                prefix,
                first,
                count,
                width,
            } => Box::new((0..u64::from(*count)).map(move |i| {
                format!("{prefix}{:0width$}", first + i, width = usize::from(*width))
            })),
        }
    }

    fn check(&self) -> Result<(), ParseError> {
        if self.is_empty() {
            return Err(invalid("serials", "a GTIN group lists at least one serial"));
        }
        match self {
            Serials::List(list) => {
                for serial in list {
                    check_gs1_text("serial", serial)?;
                }
                let mut sorted: Vec<&String> = list.iter().collect();
                sorted.sort();
                if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
                    return Err(invalid(
                        "serials",
                        format!("serial {:?} is listed twice", pair[0]),
                    ));
                }
            }
            Serials::Range {
                prefix,
                first,
                count,
                width,
            } => {
                let last = first
                    .checked_add(u64::from(*count).saturating_sub(1))
                    .ok_or_else(|| invalid("serials", "the range overflows"))?;
                let digits = last.to_string().len().max(usize::from(*width));
                if !prefix.chars().all(is_cset82)
                    || prefix.chars().count() + digits > SERIAL_CHARS_MAX
                {
                    return Err(invalid(
                        "serials",
                        format!(
                            "a range's serials (prefix {prefix:?} and {digits} digits) must be at most {SERIAL_CHARS_MAX} characters of GS1 character set 82"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Write for Serials {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Serials::List(list) => {
                0u8.write(buf);
                (list.len() as u32).write(buf);
                for serial in list {
                    write_str(serial, buf);
                }
            }
            Serials::Range {
                prefix,
                first,
                count,
                width,
            } => {
                1u8.write(buf);
                write_str(prefix, buf);
                first.write(buf);
                count.write(buf);
                width.write(buf);
            }
        }
    }
}

impl EncodeSize for Serials {
    fn encode_size(&self) -> usize {
        1 + match self {
            Serials::List(list) => 4 + list.iter().map(|s| str_size(s)).sum::<usize>(),
            Serials::Range { prefix, .. } => str_size(prefix) + 8 + 4 + 1,
        }
    }
}

impl Read for Serials {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => {
                let count = u32::read(buf)? as usize;
                if count > OBJECTS_PER_OP_MAX {
                    return Err(Error::Invalid("Serials", "too many serials"));
                }
                let mut list = Vec::with_capacity(count.min(1024));
                for _ in 0..count {
                    list.push(read_str(buf, SERIAL_CHARS_MAX * 4)?);
                }
                Serials::List(list)
            }
            1 => Serials::Range {
                prefix: read_str(buf, SERIAL_CHARS_MAX * 4)?,
                first: u64::read(buf)?,
                count: u32::read(buf)?,
                width: u8::read(buf)?,
            },
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

/// The serials of one GTIN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitGroup {
    pub gtin: Gtin,
    pub serials: Serials,
}

struct_codec!(UnitGroup {
    gtin: v,
    serials: v,
});

/// A list of objects: serialized units, grouped by GTIN, and containers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objects {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<UnitGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Sscc>,
}

struct_codec!(Objects {
    units: l(GTIN_GROUPS_MAX),
    containers: l(OBJECTS_PER_OP_MAX),
});

/// One object: a unit or a container.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    Unit { gtin: Gtin, serial: String },
    Container { sscc: Sscc },
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Object::Unit { gtin, serial } => write!(f, "unit (01){gtin}(21){serial}"),
            Object::Container { sscc } => write!(f, "container (00){sscc}"),
        }
    }
}

impl Write for Object {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Object::Unit { gtin, serial } => {
                0u8.write(buf);
                gtin.write(buf);
                write_str(serial, buf);
            }
            Object::Container { sscc } => {
                1u8.write(buf);
                sscc.write(buf);
            }
        }
    }
}

impl EncodeSize for Object {
    fn encode_size(&self) -> usize {
        1 + match self {
            Object::Unit { serial, .. } => 14 + str_size(serial),
            Object::Container { .. } => 18,
        }
    }
}

impl Read for Object {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => Object::Unit {
                gtin: Gtin::read(buf)?,
                serial: read_str(buf, SERIAL_CHARS_MAX * 4)?,
            },
            1 => Object::Container {
                sscc: Sscc::read(buf)?,
            },
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

impl Objects {
    /// Units only.
    pub fn units(units: Vec<UnitGroup>) -> Objects {
        Objects {
            units,
            containers: Vec::new(),
        }
    }

    /// How many objects.
    pub fn len(&self) -> usize {
        self.units.iter().map(|g| g.serials.len()).sum::<usize>() + self.containers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every object: the units, group by group, then the containers.
    pub fn iter(&self) -> impl Iterator<Item = Object> + '_ {
        unit_objects(&self.units).chain(
            self.containers
                .iter()
                .map(|sscc| Object::Container { sscc: *sscc }),
        )
    }

    /// Checks serials, sizes and duplicates.
    pub fn check(&self, what: &'static str) -> Result<(), ParseError> {
        check_objects(what, &self.units, &self.containers)
    }
}

/// The units of GTIN groups, group by group.
pub fn unit_objects(groups: &[UnitGroup]) -> impl Iterator<Item = Object> + Send + '_ {
    groups.iter().flat_map(|group| {
        group.serials.iter().map(move |serial| Object::Unit {
            gtin: group.gtin,
            serial,
        })
    })
}

/// Checks an object list given as its parts: serials, sizes and duplicates, and that it names
/// at least one object.
fn check_objects(
    what: &'static str,
    units: &[UnitGroup],
    containers: &[Sscc],
) -> Result<(), ParseError> {
    let count = units.iter().map(|g| g.serials.len()).sum::<usize>() + containers.len();
    if count == 0 {
        return Err(invalid(what, "names no objects"));
    }
    if count > OBJECTS_PER_OP_MAX {
        return Err(invalid(
            what,
            format!("at most {OBJECTS_PER_OP_MAX} objects per operation, found {count}"),
        ));
    }
    for group in units {
        group.serials.check()?;
    }
    let mut gtins: Vec<Gtin> = units.iter().map(|g| g.gtin).collect();
    gtins.sort();
    if gtins.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(invalid(
            what,
            "a GTIN has two groups; list its serials in one",
        ));
    }
    let mut ssccs = containers.to_vec();
    ssccs.sort();
    if let Some(pair) = ssccs.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(invalid(what, format!("SSCC {} is listed twice", pair[0])));
    }
    Ok(())
}

/// A business transaction an event belongs to (an EPCIS `bizTransaction`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The CBV type (such as `po`, `desadv`, `inv`), or empty.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The identifier, a URI.
    pub id: String,
}

struct_codec!(Reference {
    kind: s(64),
    id: s(URI_BYTES_MAX),
});

/// What every operation says about when and where it happened, as EPCIS does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMeta {
    /// When it happened (EPCIS `eventTime`), in milliseconds since the Unix epoch. Not after
    /// the block's time (plus a few minutes of clock skew).
    pub event_time_ms: u64,
    /// The local time zone offset where it happened, in minutes (EPCIS
    /// `eventTimeZoneOffset`), -14:00 to +14:00.
    #[serde(default)]
    pub tz_offset_minutes: i16,
    /// Where it was seen (EPCIS `readPoint`), a URI such as an SGLN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_point: Option<String>,
    /// Where the objects are afterwards (EPCIS `bizLocation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_location: Option<String>,
    /// Business transactions (purchase orders, despatch advices, invoices).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub biz_transactions: Vec<Reference>,
    /// Every other EPCIS field of the captured event (extensions, sensor data, certification
    /// information), as a JSON object, kept and served back unchanged but not interpreted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<String>,
}

struct_codec!(EventMeta {
    event_time_ms: v,
    tz_offset_minutes: v,
    read_point: os(URI_BYTES_MAX),
    biz_location: os(URI_BYTES_MAX),
    biz_transactions: l(REFERENCES_MAX),
    extra: os(EXTRA_BYTES_MAX),
});

impl EventMeta {
    /// An event now, with nothing else said.
    pub fn at(event_time_ms: u64) -> EventMeta {
        EventMeta {
            event_time_ms,
            tz_offset_minutes: 0,
            read_point: None,
            biz_location: None,
            biz_transactions: Vec::new(),
            extra: None,
        }
    }

    fn check(&self) -> Result<(), ParseError> {
        if !(-14 * 60..=14 * 60).contains(&self.tz_offset_minutes) {
            return Err(invalid(
                "tz_offset_minutes",
                format!("-840 to 840, found {}", self.tz_offset_minutes),
            ));
        }
        if let Some(uri) = &self.read_point {
            check_uri("read_point", uri)?;
        }
        if let Some(uri) = &self.biz_location {
            check_uri("biz_location", uri)?;
        }
        if self.biz_transactions.len() > REFERENCES_MAX {
            return Err(invalid(
                "biz_transactions",
                format!("at most {REFERENCES_MAX}"),
            ));
        }
        for reference in &self.biz_transactions {
            check_uri("biz_transactions", &reference.id)?;
            if reference.kind.len() > 64 || !reference.kind.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(
                    "biz_transactions",
                    format!("a type is a short code, found {:?}", reference.kind),
                ));
            }
        }
        if let Some(extra) = &self.extra {
            if extra.len() > EXTRA_BYTES_MAX {
                return Err(invalid(
                    "extra",
                    format!("at most {EXTRA_BYTES_MAX} bytes, found {}", extra.len()),
                ));
            }
            match serde_json::from_str::<serde_json::Value>(extra) {
                Ok(serde_json::Value::Object(_)) => {}
                _ => return Err(invalid("extra", "a JSON object")),
            }
        }
        Ok(())
    }
}

/// Why units leave the supply chain other than by dispensing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecommissionReason {
    /// Destroyed (CBV `destroying` / `destroyed`).
    Destroyed,
    /// Taken as a sample (CBV `sampling` / `inactive`).
    Sample,
    /// Stolen (CBV `decommissioning` / `stolen`).
    Stolen,
    /// Otherwise taken out of use (CBV `decommissioning` / `inactive`).
    Other,
}

/// A flag a manufacturer or regulator sets on objects under investigation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// Suspect: quarantined until cleared (DSCSA "suspect product").
    Suspect,
    /// Confirmed illegitimate (counterfeit, diverted, stolen, unfit): it may only be destroyed.
    Illegitimate,
    /// Investigated and cleared.
    Cleared,
}

/// A one-byte tag codec for a field-less enum, and its names (as in JSON).
macro_rules! small_enum_codec {
    ($ty:ident { $($tag:literal => $variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            /// The name, as in JSON.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name,)* }
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            /// From its name, as in JSON.
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($name => Ok($ty::$variant),)*
                    other => Err(format!(
                        "{other:?} is not one of: {}",
                        [$($name),*].join(", ")
                    )),
                }
            }
        }
        impl Write for $ty {
            fn write(&self, buf: &mut impl BufMut) {
                let tag: u8 = match self { $($ty::$variant => $tag,)* };
                tag.write(buf);
            }
        }
        impl commonware_codec::FixedSize for $ty {
            const SIZE: usize = 1;
        }
        impl Read for $ty {
            type Cfg = ();
            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
                match u8::read(buf)? {
                    $($tag => Ok($ty::$variant),)*
                    other => Err(Error::InvalidEnum(other)),
                }
            }
        }
    };
}

small_enum_codec!(DecommissionReason {
    0 => Destroyed = "destroyed",
    1 => Sample = "sample",
    2 => Stolen = "stolen",
    3 => Other = "other",
});
small_enum_codec!(FlagKind {
    0 => Suspect = "suspect",
    1 => Illegitimate = "illegitimate",
    2 => Cleared = "cleared",
});

/// Manufacturer commissions serialized units of one lot (GS1 ILMD: lot and expiry), perhaps
/// straight into a container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commission {
    pub meta: EventMeta,
    pub units: Vec<UnitGroup>,
    pub lot: String,
    pub expiry: Date,
    /// A container the new units are packed in at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<Sscc>,
}

struct_codec!(Commission {
    meta: v,
    units: l(GTIN_GROUPS_MAX),
    lot: s(SERIAL_CHARS_MAX * 4),
    expiry: v,
    into: v,
});

/// Packs units and containers into a container (made by the packer if new).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pack {
    pub meta: EventMeta,
    pub parent: Sscc,
    pub children: Objects,
}

struct_codec!(Pack {
    meta: v,
    parent: v,
    children: v,
});

/// Takes objects out of a container; with no children named, empties it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unpack {
    pub meta: EventMeta,
    pub parent: Sscc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Objects>,
}

struct_codec!(Unpack {
    meta: v,
    parent: v,
    children: v,
});

/// The custodian ships objects to another trading partner; custody stays with the sender
/// until the receiver receives them. A return ships objects back up the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ship {
    pub meta: EventMeta,
    pub objects: Objects,
    pub to: PartyId,
    #[serde(default)]
    pub is_return: bool,
}

struct_codec!(Ship {
    meta: v,
    objects: v,
    to: v,
    is_return: v,
});

/// The receiver takes custody of objects shipped to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receive {
    pub meta: EventMeta,
    pub objects: Objects,
}

struct_codec!(Receive {
    meta: v,
    objects: v,
});

/// A dispenser (pharmacy) dispenses units to a patient: they leave the supply chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispense {
    pub meta: EventMeta,
    pub units: Vec<UnitGroup>,
    /// The prescription dispensed against, as the pharmacy's record keeps it: a hash of the
    /// pharmacy's own prescription reference ([`prescription_ref`]), never the prescription,
    /// so nothing about the patient is on chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescription: Option<Hash32>,
}

struct_codec!(Dispense {
    meta: v,
    units: l(GTIN_GROUPS_MAX),
    prescription: v,
});

/// The on-chain reference for a pharmacy's prescription reference (an e-prescription id, the
/// pharmacy system's number): SHA-256 under a medchain domain tag, so the pharmacy can show
/// which dispensing answered which prescription while the chain holds only the hash.
pub fn prescription_ref(reference: &str) -> Hash32 {
    crate::hash::hash_parts(b"medchain/prescription/v1", &[reference.as_bytes()])
}

/// The custodian takes objects out of use: destroyed, sampled, stolen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decommission {
    pub meta: EventMeta,
    pub objects: Objects,
    pub reason: DecommissionReason,
}

struct_codec!(Decommission {
    meta: v,
    objects: v,
    reason: v,
});

/// The lot's manufacturer or a regulator recalls a lot, wherever its units are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recall {
    pub meta: EventMeta,
    pub gtin: Gtin,
    pub lot: String,
    pub reason: String,
}

struct_codec!(Recall {
    meta: v,
    gtin: v,
    lot: s(SERIAL_CHARS_MAX * 4),
    reason: s(SUPPLY_REASON_BYTES_MAX),
});

/// A manufacturer turns input units into new output units (a biologic from its cell bank, a
/// cell therapy from a patient's cells): the inputs are consumed, and the outputs, a new lot,
/// name them as their ancestry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transform {
    pub meta: EventMeta,
    pub inputs: Vec<UnitGroup>,
    pub outputs: Vec<UnitGroup>,
    pub lot: String,
    pub expiry: Date,
}

struct_codec!(Transform {
    meta: v,
    inputs: l(GTIN_GROUPS_MAX),
    outputs: l(GTIN_GROUPS_MAX),
    lot: s(SERIAL_CHARS_MAX * 4),
    expiry: v,
});

/// A manufacturer (of its own products) or a regulator flags objects as suspect or
/// illegitimate, or clears them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub meta: EventMeta,
    pub objects: Objects,
    pub flag: FlagKind,
    pub reason: String,
}

struct_codec!(Flag {
    meta: v,
    objects: v,
    flag: v,
    reason: s(SUPPLY_REASON_BYTES_MAX),
});

/// The supply-chain operations a transaction carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SupplyOp {
    Commission(Commission),
    Pack(Pack),
    Unpack(Unpack),
    Ship(Ship),
    Receive(Receive),
    Dispense(Dispense),
    Decommission(Decommission),
    Recall(Recall),
    Transform(Transform),
    Flag(Flag),
}

macro_rules! op_codec {
    ($($tag:literal => $variant:ident),* $(,)?) => {
        impl Write for SupplyOp {
            fn write(&self, buf: &mut impl BufMut) {
                match self {
                    $(SupplyOp::$variant(op) => {
                        ($tag as u8).write(buf);
                        op.write(buf);
                    })*
                }
            }
        }
        impl EncodeSize for SupplyOp {
            fn encode_size(&self) -> usize {
                1 + match self {
                    $(SupplyOp::$variant(op) => op.encode_size(),)*
                }
            }
        }
        impl Read for SupplyOp {
            type Cfg = ();
            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
                match u8::read(buf)? {
                    $($tag => Ok(SupplyOp::$variant($variant::read(buf)?)),)*
                    other => Err(Error::InvalidEnum(other)),
                }
            }
        }
    };
}

op_codec!(
    0 => Commission,
    1 => Pack,
    2 => Unpack,
    3 => Ship,
    4 => Receive,
    5 => Dispense,
    6 => Decommission,
    7 => Recall,
    8 => Transform,
    9 => Flag,
);

/// `$body` for whichever operation `$value` holds, bound as `$op`.
macro_rules! each_op {
    ($value:expr, $op:ident => $body:expr) => {
        match $value {
            SupplyOp::Commission($op) => $body,
            SupplyOp::Pack($op) => $body,
            SupplyOp::Unpack($op) => $body,
            SupplyOp::Ship($op) => $body,
            SupplyOp::Receive($op) => $body,
            SupplyOp::Dispense($op) => $body,
            SupplyOp::Decommission($op) => $body,
            SupplyOp::Recall($op) => $body,
            SupplyOp::Transform($op) => $body,
            SupplyOp::Flag($op) => $body,
        }
    };
}

impl SupplyOp {
    /// A short name for logs, metrics, errors and credential requirements, such as
    /// `supply_commission`.
    pub fn name(&self) -> &'static str {
        match self {
            SupplyOp::Commission(_) => "supply_commission",
            SupplyOp::Pack(_) => "supply_pack",
            SupplyOp::Unpack(_) => "supply_unpack",
            SupplyOp::Ship(_) => "supply_ship",
            SupplyOp::Receive(_) => "supply_receive",
            SupplyOp::Dispense(_) => "supply_dispense",
            SupplyOp::Decommission(_) => "supply_decommission",
            SupplyOp::Recall(_) => "supply_recall",
            SupplyOp::Transform(_) => "supply_transform",
            SupplyOp::Flag(_) => "supply_flag",
        }
    }

    /// The EPCIS data every operation carries.
    pub fn meta(&self) -> &EventMeta {
        each_op!(self, op => &op.meta)
    }

    /// The EPCIS data every operation carries, to change (capture keeps the fields it does not
    /// model in `extra`).
    pub fn meta_mut(&mut self) -> &mut EventMeta {
        each_op!(self, op => &mut op.meta)
    }

    /// Checks what needs no state.
    pub fn check_shape(&self) -> Result<(), ParseError> {
        self.meta().check()?;
        let nonempty = |what: &'static str, objects: &Objects| objects.check(what);
        let units = |what: &'static str, groups: &[UnitGroup]| check_objects(what, groups, &[]);
        match self {
            SupplyOp::Commission(op) => {
                units("units", &op.units)?;
                check_gs1_text("lot", &op.lot)?;
            }
            SupplyOp::Pack(op) => {
                nonempty("children", &op.children)?;
                if op.children.containers.contains(&op.parent) {
                    return Err(invalid("children", "a container cannot hold itself"));
                }
            }
            SupplyOp::Unpack(op) => {
                if let Some(children) = &op.children {
                    nonempty("children", children)?;
                }
            }
            SupplyOp::Ship(op) => nonempty("objects", &op.objects)?,
            SupplyOp::Receive(op) => nonempty("objects", &op.objects)?,
            SupplyOp::Dispense(op) => units("units", &op.units)?,
            SupplyOp::Decommission(op) => nonempty("objects", &op.objects)?,
            SupplyOp::Recall(op) => {
                check_gs1_text("lot", &op.lot)?;
                crate::tx::check_text("reason", &op.reason, SUPPLY_REASON_BYTES_MAX)?;
                if op.reason.trim().is_empty() {
                    return Err(invalid("reason", "a recall gives its reason"));
                }
            }
            SupplyOp::Transform(op) => {
                units("inputs", &op.inputs)?;
                units("outputs", &op.outputs)?;
                check_gs1_text("lot", &op.lot)?;
            }
            SupplyOp::Flag(op) => {
                nonempty("objects", &op.objects)?;
                crate::tx::check_text("reason", &op.reason, SUPPLY_REASON_BYTES_MAX)?;
                if op.reason.trim().is_empty() {
                    return Err(invalid(
                        "reason",
                        "a flag gives its reason (what was found, or why it is cleared)",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What a unit is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum UnitStatus {
    /// In the supply chain.
    Active,
    /// Dispensed to a patient.
    Dispensed,
    /// Taken out of use.
    Decommissioned { reason: DecommissionReason },
    /// Consumed by a transformation.
    Consumed,
}

impl Write for UnitStatus {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            UnitStatus::Active => 0u8.write(buf),
            UnitStatus::Dispensed => 1u8.write(buf),
            UnitStatus::Decommissioned { reason } => {
                2u8.write(buf);
                reason.write(buf);
            }
            UnitStatus::Consumed => 3u8.write(buf),
        }
    }
}

impl EncodeSize for UnitStatus {
    fn encode_size(&self) -> usize {
        match self {
            UnitStatus::Decommissioned { .. } => 2,
            _ => 1,
        }
    }
}

impl Read for UnitStatus {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => UnitStatus::Active,
            1 => UnitStatus::Dispensed,
            2 => UnitStatus::Decommissioned {
                reason: DecommissionReason::read(buf)?,
            },
            3 => UnitStatus::Consumed,
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

/// The kind of step in an object's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Commissioned,
    Packed,
    Unpacked,
    Shipped,
    Received,
    Dispensed,
    Decommissioned,
    Transformed,
    Flagged,
}

small_enum_codec!(Step {
    0 => Commissioned = "commissioned",
    1 => Packed = "packed",
    2 => Unpacked = "unpacked",
    3 => Shipped = "shipped",
    4 => Received = "received",
    5 => Dispensed = "dispensed",
    6 => Decommissioned = "decommissioned",
    7 => Transformed = "transformed",
    8 => Flagged = "flagged",
});

/// One step of an object's own history. Steps of a container it was in are in the
/// container's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub step: Step,
    /// Who did it.
    pub by: PartyId,
    /// The other party: the receiver of a shipment, the sender of a receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<PartyId>,
    /// The container packed into or taken out of (or commissioned straight into).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Sscc>,
    pub height: u64,
    pub time_ms: u64,
    pub tx: TxHash,
}

struct_codec!(HistoryEntry {
    step: v,
    by: v,
    party: v,
    container: v,
    height: v,
    time_ms: v,
    tx: v,
});

/// Where an object is and what happened to it: the part units and containers share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    /// Who holds it, when it is in no container (inside one, the outermost container's
    /// custodian holds it).
    pub custodian: PartyId,
    /// The container it is packed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Sscc>,
    /// The shipment it is travelling in, when shipped on its own (or as the outermost
    /// container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment: Option<Hash32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<FlagKind>,
    /// The last word on its flag: the alert or the party that flagged it, or who cleared it
    /// and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_note: Option<FlagNote>,
    pub history: Vec<HistoryEntry>,
}

struct_codec!(Tracking {
    custodian: v,
    parent: v,
    shipment: v,
    flag: v,
    flag_note: v,
    history: l(HISTORY_MAX),
});

/// Why an object is flagged, or was cleared: set by a suspect-product alert (which flags the
/// object suspect) and by every flag operation, so whoever checks the pack sees who decided
/// and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagNote {
    pub kind: FlagKind,
    /// The manufacturer or regulator that flagged or cleared it; none when an alert did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<PartyId>,
    /// The alert that flagged it (its position in the list of all alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<u64>,
    pub reason: String,
    pub height: u64,
    pub time_ms: u64,
    pub tx: TxHash,
}

struct_codec!(FlagNote {
    kind: v,
    by: v,
    alert: v,
    reason: s(ALERT_REASON_BYTES_MAX),
    height: v,
    time_ms: v,
    tx: v,
});

impl Tracking {
    /// A new object held by `custodian`, with its first history entry.
    pub fn new(custodian: PartyId, first: HistoryEntry) -> Tracking {
        Tracking {
            custodian,
            parent: None,
            shipment: None,
            flag: None,
            flag_note: None,
            history: vec![first],
        }
    }
}

/// A serialized unit, under `su/<gtin><serial>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub gtin: Gtin,
    pub serial: String,
    pub lot: String,
    pub status: UnitStatus,
    #[serde(flatten)]
    pub tracking: Tracking,
    /// The transformation that made it (its inputs are its ancestry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<TxHash>,
    /// The transformation that consumed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed_by: Option<TxHash>,
}

struct_codec!(Unit {
    gtin: v,
    serial: s(SERIAL_CHARS_MAX * 4),
    lot: s(SERIAL_CHARS_MAX * 4),
    status: v,
    tracking: v,
    made_by: v,
    consumed_by: v,
});

/// Whether a container is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerStatus {
    Active,
    Decommissioned,
}

small_enum_codec!(ContainerStatus {
    0 => Active = "active",
    1 => Decommissioned = "decommissioned",
});

/// Most lots one container holds units of.
pub const CONTAINER_LOTS_MAX: usize = 64;

/// A lot of a GTIN.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LotRef {
    pub gtin: Gtin,
    pub lot: String,
}

struct_codec!(LotRef {
    gtin: v,
    lot: s(SERIAL_CHARS_MAX * 4),
});

/// A case or pallet, under `sc/<sscc>`. Its contents are the objects whose `parent` is it;
/// the list `l/contents/<H(sscc)>` holds one item per packing into it (the `Objects` packed),
/// so it names every object ever packed in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub sscc: Sscc,
    /// Who first packed it.
    pub packed_by: PartyId,
    pub status: ContainerStatus,
    #[serde(flatten)]
    pub tracking: Tracking,
    /// How many objects it holds now.
    pub contents: u64,
    /// How many objects have ever been packed in it (counting a repacked one again).
    pub packed: u64,
    /// The lots of the units inside it, at any depth (sorted), so a recall or expiry stops
    /// it moving on without opening it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lots: Vec<LotRef>,
}

struct_codec!(Container {
    sscc: v,
    packed_by: v,
    status: v,
    tracking: v,
    contents: v,
    packed: v,
    lots: l(CONTAINER_LOTS_MAX),
});

/// Where a supply event is recorded: its transaction, the block holding it, and its event
/// time. The EPCIS query indexes (events by day of event time, and by lot) list these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    pub tx: TxHash,
    pub height: u64,
    pub event_time_ms: u64,
}

struct_codec!(EventRef {
    tx: v,
    height: v,
    event_time_ms: v,
});

/// A recall of a lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecallNotice {
    pub by: PartyId,
    pub reason: String,
    pub height: u64,
    pub time_ms: u64,
    pub tx: TxHash,
}

struct_codec!(RecallNotice {
    by: v,
    reason: s(SUPPLY_REASON_BYTES_MAX),
    height: v,
    time_ms: v,
    tx: v,
});

/// A lot of one GTIN, under `sl/<gtin>/<lot>`: its expiry and recall status apply to every
/// unit in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub gtin: Gtin,
    pub lot: String,
    pub manufacturer: PartyId,
    pub expiry: Date,
    /// Units commissioned in it.
    pub units: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<RecallNotice>,
}

struct_codec!(Lot {
    gtin: v,
    lot: s(SERIAL_CHARS_MAX * 4),
    manufacturer: v,
    expiry: v,
    units: v,
    recall: v,
});

/// One commissioning's units of a lot, an item of the lot's `lot-batches` list: the serials,
/// and where they start among the lot's units (in commissioning order), so a page of a lot's
/// units is found, and proven, from its own batch rather than from the lot's first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotBatch {
    /// The position of the first of these units in the lot.
    pub first: u64,
    pub serials: Serials,
}

struct_codec!(LotBatch {
    first: v,
    serials: v,
});

/// A GTIN's owner, under `sg/<gtin>`: the manufacturer that first commissioned it; no one
/// else may commission it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub gtin: Gtin,
    pub manufacturer: PartyId,
    pub units: u64,
}

struct_codec!(Product {
    gtin: v,
    manufacturer: v,
    units: v,
});

/// A shipment, under `ss/<id>`: objects on their way from one partner to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub id: Hash32,
    pub from: PartyId,
    pub to: PartyId,
    pub is_return: bool,
    /// Top-level objects shipped.
    pub objects: u64,
    /// Of those, received so far.
    pub received: u64,
    pub height: u64,
    pub time_ms: u64,
    pub tx: TxHash,
}

struct_codec!(Shipment {
    id: v,
    from: v,
    to: v,
    is_return: v,
    objects: v,
    received: v,
    height: v,
    time_ms: v,
    tx: v,
});

/// A transformation, under `sx/<tx>`: what went in, so the ancestry of its outputs can be
/// traced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transformation {
    pub tx: TxHash,
    pub by: PartyId,
    pub inputs: Vec<Object>,
    pub outputs: u64,
    pub lot: String,
    pub height: u64,
    pub time_ms: u64,
}

struct_codec!(Transformation {
    tx: v,
    by: v,
    inputs: l(OBJECTS_PER_OP_MAX),
    outputs: v,
    lot: s(SERIAL_CHARS_MAX * 4),
    height: v,
    time_ms: v,
});

/// What a suspect-product alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A serial was commissioned again, or a GTIN by someone other than its manufacturer.
    DuplicateCommission,
    /// An object was shipped, packed, dispensed or decommissioned by someone who does not
    /// hold it.
    NotCustodian,
    /// An object was received by a party it was not shipped to.
    WrongReceiver,
    /// A unit already dispensed, decommissioned or consumed was dispensed (or moved) again.
    AlreadyOut,
    /// A serial that was never commissioned turned up.
    UnknownSerial,
    /// A recalled unit was dispensed or moved on.
    Recalled,
    /// An expired unit was dispensed.
    Expired,
    /// A unit flagged suspect or illegitimate was dispensed or moved on.
    Flagged,
}

small_enum_codec!(AlertKind {
    0 => DuplicateCommission = "duplicate_commission",
    1 => NotCustodian = "not_custodian",
    2 => WrongReceiver = "wrong_receiver",
    3 => AlreadyOut = "already_out",
    4 => UnknownSerial = "unknown_serial",
    5 => Recalled = "recalled",
    6 => Expired = "expired",
    7 => Flagged = "flagged",
});

/// A suspect-product alert: a refused operation that points at counterfeiting or diversion.
/// Listed for the product's manufacturer (`l/alerts/<manufacturer>`) and for regulators
/// (`l/alerts/<ALERTS_ALL>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    /// Who attempted it.
    pub actor: PartyId,
    /// The operation attempted.
    pub op: String,
    /// The object it is about.
    pub object: Object,
    /// The product's manufacturer, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<PartyId>,
    pub reason: String,
    pub height: u64,
    pub time_ms: u64,
    pub tx: TxHash,
}

struct_codec!(Alert {
    kind: v,
    actor: v,
    op: s(32),
    object: v,
    manufacturer: v,
    reason: s(ALERT_REASON_BYTES_MAX),
    height: v,
    time_ms: v,
    tx: v,
});

/// The list owner under which every alert is listed, for regulators.
pub const ALERTS_ALL: [u8; 32] = *b"medchain/supply/alerts/all\0\0\0\0\0\0";

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};

    fn gtin() -> Gtin {
        Gtin::parse("09521111111115").expect("GTIN")
    }

    #[test]
    fn enum_names_are_their_json_names() {
        let json = |v: serde_json::Value| v.as_str().map(str::to_string);
        for v in [
            DecommissionReason::Destroyed,
            DecommissionReason::Sample,
            DecommissionReason::Stolen,
            DecommissionReason::Other,
        ] {
            assert_eq!(json(serde_json::json!(v)).as_deref(), Some(v.name()));
        }
        for v in [FlagKind::Suspect, FlagKind::Illegitimate, FlagKind::Cleared] {
            assert_eq!(json(serde_json::json!(v)).as_deref(), Some(v.name()));
        }
        for v in [
            Step::Commissioned,
            Step::Packed,
            Step::Unpacked,
            Step::Shipped,
            Step::Received,
            Step::Dispensed,
            Step::Decommissioned,
            Step::Transformed,
            Step::Flagged,
        ] {
            assert_eq!(json(serde_json::json!(v)).as_deref(), Some(v.name()));
        }
        for v in [
            AlertKind::DuplicateCommission,
            AlertKind::NotCustodian,
            AlertKind::WrongReceiver,
            AlertKind::AlreadyOut,
            AlertKind::UnknownSerial,
            AlertKind::Recalled,
            AlertKind::Expired,
            AlertKind::Flagged,
        ] {
            assert_eq!(json(serde_json::json!(v)).as_deref(), Some(v.name()));
        }
        for v in [ContainerStatus::Active, ContainerStatus::Decommissioned] {
            assert_eq!(json(serde_json::json!(v)).as_deref(), Some(v.name()));
        }
    }

    #[test]
    fn serial_ranges_expand_and_are_checked() {
        let range = Serials::Range {
            prefix: "A".into(),
            first: 7,
            count: 3,
            width: 4,
        };
        assert_eq!(
            range.iter().collect::<Vec<_>>(),
            ["A0007", "A0008", "A0009"]
        );
        assert!(range.check().is_ok());
        assert!(Serials::List(vec![]).check().is_err());
        let too_long = Serials::Range {
            prefix: "ABCDEFGHIJKLMNOP".into(),
            first: 0,
            count: 10,
            width: 6,
        };
        assert!(too_long.check().is_err());
        assert!(
            Serials::List(vec!["X1".into(), "X1".into()])
                .check()
                .is_err()
        );
        assert!(Serials::List(vec!["has space".into()]).check().is_err());
    }

    #[test]
    fn ops_round_trip_through_both_encodings_and_check_their_shape() {
        let op = SupplyOp::Commission(Commission {
            meta: EventMeta::at(1_800_000_000_000),
            units: vec![UnitGroup {
                gtin: gtin(),
                serials: Serials::List(vec!["S1".into(), "S2".into()]),
            }],
            lot: "L1".into(),
            expiry: Date::new(2028, 1, 31).expect("date"),
            into: Some(Sscc::parse("376130321109103420").expect("SSCC")),
        });
        op.check_shape().expect("well-formed");
        let decoded = SupplyOp::decode(op.encode()).expect("decodes");
        assert_eq!(decoded, op);
        let json = serde_json::to_string(&op).expect("json");
        assert!(json.contains("\"op\":\"commission\""), "{json}");
        assert_eq!(serde_json::from_str::<SupplyOp>(&json).expect("parses"), op);
        let empty = SupplyOp::Dispense(Dispense {
            meta: EventMeta::at(1),
            units: vec![],
            prescription: None,
        });
        assert!(empty.check_shape().is_err());
        let mut meta = EventMeta::at(1);
        meta.extra = Some("[1]".into());
        let bad_extra = SupplyOp::Recall(Recall {
            meta,
            gtin: gtin(),
            lot: "L1".into(),
            reason: "contamination".into(),
        });
        assert!(bad_extra.check_shape().is_err());
    }
}
