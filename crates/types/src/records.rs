//! Patient records, consent grants, audited access, break-glass and erasure: the on-chain half.
//!
//! Record content never comes here. A record version on chain is an anchor: who wrote it, for
//! which (pseudonymous) patient, what kind of resource it is, the SHA-256 of its ciphertext, a
//! salted commitment to its plaintext, and which custodians hold the ciphertext. Grants say who
//! may read or write which of a patient's records, for what purpose and until when. Every read
//! is a transaction signed by the reader, checked against the grants by the state machine, and
//! entered in the patient's access log, granted or denied; custodians release ciphertext only
//! for a committed, granted read.

use crate::{
    codec::{read_list, struct_codec},
    credential::{CODE_BYTES_MAX, code_type},
    error::ParseError,
    hash::{Hash32, hash_parts},
    ids::{PartyId, TxHash},
    limits::MEDIA_TYPE_BYTES_MAX,
    tx::CredentialRequirement,
};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt, Write};
use serde::{Deserialize, Serialize};

/// Most custodians one record version names.
pub const CUSTODIANS_MAX: usize = 8;
/// Most entries in a grant's scope.
pub const SCOPE_ENTRIES_MAX: usize = 64;
/// Longest break-glass justification or erasure reason, in bytes. It must not contain clinical
/// detail: it is public on chain.
pub const JUSTIFICATION_BYTES_MAX: usize = 512;
/// Longest break-glass access, in milliseconds (24 hours).
pub const BREAK_GLASS_MS_MAX: u64 = 24 * 60 * 60 * 1000;
/// Longest denial reason kept in an access-log entry, in bytes.
pub const ACCESS_REASON_BYTES_MAX: usize = 512;

crate::fixed_bytes!(
    /// A record's id: `SHA-256("medchain/record-id/v1" || author organisation || patient ||
    /// salt)`, so no one can take another writer's id first.
    RecordId,
    32
);
crate::fixed_bytes!(
    /// A consent grant's id: `SHA-256("medchain/grant-id/v1" || patient || salt)`.
    GrantId,
    32
);
crate::fixed_bytes!(
    /// A break-glass declaration's id: `SHA-256("medchain/break-glass-id/v1" || practitioner ||
    /// patient || salt)`.
    BreakGlassId,
    32
);

impl RecordId {
    /// The id of a record created by `organisation` for `patient` with `salt`.
    pub fn derive(organisation: &PartyId, patient: &PartyId, salt: &Hash32) -> Self {
        Self(
            hash_parts(
                b"medchain/record-id/v1",
                &[&organisation.0, &patient.0, &salt.0],
            )
            .0,
        )
    }
}

impl GrantId {
    /// The id of a grant made by `patient` with `salt`.
    pub fn derive(patient: &PartyId, salt: &Hash32) -> Self {
        Self(hash_parts(b"medchain/grant-id/v1", &[&patient.0, &salt.0]).0)
    }
}

impl BreakGlassId {
    /// The id of a declaration by `practitioner` about `patient` with `salt`.
    pub fn derive(practitioner: &PartyId, patient: &PartyId, salt: &Hash32) -> Self {
        Self(
            hash_parts(
                b"medchain/break-glass-id/v1",
                &[&practitioner.0, &patient.0, &salt.0],
            )
            .0,
        )
    }
}

/// The domain a key holder signs a shared (wrapped) data key under.
pub const WRAPPED_KEY_DOMAIN: &[u8] = b"medchain/wrapped-key/v1";

/// What a key holder signs when sharing a record version's data key wrapped for `recipient`:
/// custodians keep and pass on only keys whose holder's signature verifies.
pub fn wrapped_key_statement(
    record: &RecordId,
    version: u32,
    recipient: &PartyId,
    wrapped: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + 4 + 32 + wrapped.len());
    out.extend_from_slice(&record.0);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&recipient.0);
    out.extend_from_slice(wrapped);
    out
}

code_type!(
    /// A record's kind: a FHIR R4 resource type (`Observation`, `MedicationRequest`,
    /// `DocumentReference`, ...) or another document kind.
    ResourceType,
    "resource type",
    |c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.',
    "letters, digits, '-', '_' or '.'"
);
code_type!(
    /// A record category a grant can name: `laboratory`, `imaging`, `mental-health`,
    /// `sexual-health`, `substance-use`, ...
    Category,
    "record category",
    |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_',
    "lower-case letters, digits, '-' or '_'"
);

/// Why a party reads or shares a record: the HL7 v3 PurposeOfUse codes medchain supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// `TREAT`: treatment.
    Treatment,
    /// `ETREAT`: emergency treatment (break-glass reads use it).
    EmergencyTreatment,
    /// `HPAYMT`: payment.
    Payment,
    /// `HOPERAT`: healthcare operations.
    Operations,
    /// `HRESCH`: research.
    Research,
    /// `PUBHLTH`: public health.
    PublicHealth,
    /// `PATRQT`: at the patient's request.
    PatientRequest,
    /// `HLEGAL`: legal.
    Legal,
}

impl Purpose {
    /// Every purpose, in tag order.
    pub const ALL: [Purpose; 8] = [
        Purpose::Treatment,
        Purpose::EmergencyTreatment,
        Purpose::Payment,
        Purpose::Operations,
        Purpose::Research,
        Purpose::PublicHealth,
        Purpose::PatientRequest,
        Purpose::Legal,
    ];

    /// The HL7 v3 ActReason code.
    pub fn hl7_code(self) -> &'static str {
        match self {
            Purpose::Treatment => "TREAT",
            Purpose::EmergencyTreatment => "ETREAT",
            Purpose::Payment => "HPAYMT",
            Purpose::Operations => "HOPERAT",
            Purpose::Research => "HRESCH",
            Purpose::PublicHealth => "PUBHLTH",
            Purpose::PatientRequest => "PATRQT",
            Purpose::Legal => "HLEGAL",
        }
    }

    /// The snake_case name, as in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Treatment => "treatment",
            Purpose::EmergencyTreatment => "emergency_treatment",
            Purpose::Payment => "payment",
            Purpose::Operations => "operations",
            Purpose::Research => "research",
            Purpose::PublicHealth => "public_health",
            Purpose::PatientRequest => "patient_request",
            Purpose::Legal => "legal",
        }
    }

    fn tag(self) -> u8 {
        Purpose::ALL
            .iter()
            .position(|p| *p == self)
            .map_or(0, |i| i as u8)
    }
}

impl core::fmt::Display for Purpose {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Purpose {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Self, ParseError> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.name() == text || p.hl7_code().eq_ignore_ascii_case(text))
            .ok_or_else(|| ParseError::Invalid {
                what: "purpose of use",
                reason: format!(
                    "unknown purpose {text:?}; known: {}",
                    Purpose::ALL.map(Purpose::name).join(", ")
                ),
            })
    }
}

impl Write for Purpose {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
    }
}
impl EncodeSize for Purpose {
    fn encode_size(&self) -> usize {
        1
    }
}
impl Read for Purpose {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let tag = u8::read(buf)?;
        Purpose::ALL
            .get(tag as usize)
            .copied()
            .ok_or(Error::InvalidEnum(tag))
    }
}

/// Which of a patient's records a grant covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "values", rename_all = "snake_case")]
pub enum Scope {
    /// Every record of the patient, present and future.
    All,
    /// Records of these resource types.
    ResourceTypes(Vec<ResourceType>),
    /// Records in these categories.
    Categories(Vec<Category>),
    /// These records.
    Records(Vec<RecordId>),
}

impl Scope {
    /// Whether the scope covers a record of this type and category.
    pub fn covers(
        &self,
        record: &RecordId,
        resource_type: &ResourceType,
        category: Option<&Category>,
    ) -> bool {
        match self {
            Scope::All => true,
            Scope::ResourceTypes(types) => types.contains(resource_type),
            Scope::Categories(categories) => category.is_some_and(|c| categories.contains(c)),
            Scope::Records(records) => records.contains(record),
        }
    }

    /// Number of entries it lists.
    pub fn len(&self) -> usize {
        match self {
            Scope::All => 0,
            Scope::ResourceTypes(v) => v.len(),
            Scope::Categories(v) => v.len(),
            Scope::Records(v) => v.len(),
        }
    }

    /// Whether it lists nothing (true of `All`, which needs no list).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Write for Scope {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Scope::All => 0u8.write(buf),
            Scope::ResourceTypes(v) => {
                1u8.write(buf);
                v.write(buf);
            }
            Scope::Categories(v) => {
                2u8.write(buf);
                v.write(buf);
            }
            Scope::Records(v) => {
                3u8.write(buf);
                v.write(buf);
            }
        }
    }
}
impl EncodeSize for Scope {
    fn encode_size(&self) -> usize {
        1 + match self {
            Scope::All => 0,
            Scope::ResourceTypes(v) => v.encode_size(),
            Scope::Categories(v) => v.encode_size(),
            Scope::Records(v) => v.encode_size(),
        }
    }
}
impl Read for Scope {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => Scope::All,
            1 => Scope::ResourceTypes(read_list(buf, SCOPE_ENTRIES_MAX)?),
            2 => Scope::Categories(read_list(buf, SCOPE_ENTRIES_MAX)?),
            3 => Scope::Records(read_list(buf, SCOPE_ENTRIES_MAX)?),
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

/// On what ground a party reads a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum AccessBasis {
    /// The patient reads their own record.
    Patient,
    /// The reader wrote a version of the record.
    Author,
    /// A consent grant from the patient.
    Grant(GrantId),
    /// A break-glass declaration.
    BreakGlass(BreakGlassId),
    /// The patient opens their own record to share its key with the grantee of one of their
    /// grants (what `consent grant` does for each record the grant covers): logged as the
    /// sharing it is, not as a read the patient made.
    Sharing(GrantId),
}

impl Write for AccessBasis {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            AccessBasis::Patient => 0u8.write(buf),
            AccessBasis::Author => 1u8.write(buf),
            AccessBasis::Grant(id) => {
                2u8.write(buf);
                id.write(buf);
            }
            AccessBasis::BreakGlass(id) => {
                3u8.write(buf);
                id.write(buf);
            }
            AccessBasis::Sharing(id) => {
                4u8.write(buf);
                id.write(buf);
            }
        }
    }
}
impl EncodeSize for AccessBasis {
    fn encode_size(&self) -> usize {
        match self {
            AccessBasis::Patient | AccessBasis::Author => 1,
            AccessBasis::Grant(_) | AccessBasis::BreakGlass(_) | AccessBasis::Sharing(_) => 33,
        }
    }
}
impl Read for AccessBasis {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => AccessBasis::Patient,
            1 => AccessBasis::Author,
            2 => AccessBasis::Grant(GrantId::read(buf)?),
            3 => AccessBasis::BreakGlass(BreakGlassId::read(buf)?),
            4 => AccessBasis::Sharing(GrantId::read(buf)?),
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

/// One version of a record, as anchored on chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordVersion {
    /// From 1.
    pub version: u32,
    /// Who wrote it (a practitioner, an organisation, or the patient).
    pub author: PartyId,
    /// The media type of the plaintext (`application/fhir+json`, `application/pdf`, ...).
    pub media_type: String,
    /// SHA-256 of the sealed content the custodians hold.
    pub ciphertext_hash: Hash32,
    /// Size of the sealed content.
    pub ciphertext_bytes: u32,
    /// Salted commitment to the plaintext (see `medchain_envelope::commitment`).
    pub content_commitment: Hash32,
    /// Organisations holding the sealed content and wrapped keys.
    pub custodians: Vec<PartyId>,
    /// Block time it was anchored.
    pub written_ms: u64,
    /// Block height it was anchored.
    pub height: u64,
}

struct_codec!(RecordVersion {
    version: v,
    author: v,
    media_type: s(MEDIA_TYPE_BYTES_MAX),
    ciphertext_hash: v,
    ciphertext_bytes: v,
    content_commitment: v,
    custodians: l(CUSTODIANS_MAX),
    written_ms: v,
    height: v,
});

/// How a record came to be erased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// Who erased it (the patient, or governance for a custodian).
    pub by: PartyId,
    /// Block time.
    pub at_ms: u64,
    /// Why (no clinical detail).
    pub reason: String,
}

struct_codec!(Erasure {
    by: v,
    at_ms: v,
    reason: s(JUSTIFICATION_BYTES_MAX),
});

/// A record: its identity and its latest version; earlier versions are kept under their own
/// keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: RecordId,
    /// The patient's (pseudonymous) party id.
    pub patient: PartyId,
    /// The organisation that created it.
    pub organisation: PartyId,
    pub resource_type: ResourceType,
    pub category: Option<Category>,
    /// The latest version.
    pub latest: RecordVersion,
    /// Set once erased; erasure is final.
    pub erased: Option<Erasure>,
    /// While set (by a regulator), the record cannot be erased.
    pub legal_hold: bool,
}

struct_codec!(Record {
    id: v,
    patient: v,
    organisation: v,
    resource_type: v,
    category: v,
    latest: v,
    erased: v,
    legal_hold: v,
});

/// A patient's consent: who may do what with which records, why, and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: GrantId,
    pub patient: PartyId,
    /// A party, or an organisation (then its practitioners act under it too).
    pub grantee: PartyId,
    pub scope: Scope,
    pub read: bool,
    pub write: bool,
    pub purpose: Purpose,
    pub valid_from_ms: u64,
    pub valid_until_ms: u64,
    /// The grantee (the reading practitioner, for an organisation grant) must hold this
    /// credential at the time of each access.
    pub condition: Option<CredentialRequirement>,
    /// Block time it was made.
    pub granted_ms: u64,
    /// Block time it was revoked, if it was.
    pub revoked_ms: Option<u64>,
}

struct_codec!(Grant {
    id: v,
    patient: v,
    grantee: v,
    scope: v,
    read: v,
    write: v,
    purpose: v,
    valid_from_ms: v,
    valid_until_ms: v,
    condition: v,
    granted_ms: v,
    revoked_ms: v,
});

impl Grant {
    /// Whether the grant is in force at `now_ms` (not yet expired, already valid, not revoked).
    pub fn in_force(&self, now_ms: u64) -> Result<(), &'static str> {
        if self.revoked_ms.is_some_and(|at| at <= now_ms) {
            return Err("the grant was revoked");
        }
        if now_ms < self.valid_from_ms {
            return Err("the grant is not valid yet");
        }
        if now_ms >= self.valid_until_ms {
            return Err("the grant has expired");
        }
        Ok(())
    }
}

/// An emergency declaration: a licensed practitioner reads a patient's records without a grant,
/// for a limited time, and the patient is told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlass {
    pub id: BreakGlassId,
    pub practitioner: PartyId,
    /// The practitioner's organisation, whose key opens the records.
    pub organisation: PartyId,
    pub patient: PartyId,
    /// Why (no clinical detail: it is public on chain).
    pub justification: String,
    pub from_ms: u64,
    pub until_ms: u64,
    /// Set when the patient has reviewed it.
    pub reviewed_ms: Option<u64>,
}

struct_codec!(BreakGlass {
    id: v,
    practitioner: v,
    organisation: v,
    patient: v,
    justification: s(JUSTIFICATION_BYTES_MAX),
    from_ms: v,
    until_ms: v,
    reviewed_ms: v,
});

/// What became of an access attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AccessOutcome {
    Granted,
    Denied { code: String, reason: String },
}

impl Write for AccessOutcome {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            AccessOutcome::Granted => 0u8.write(buf),
            AccessOutcome::Denied { code, reason } => {
                1u8.write(buf);
                crate::codec::write_str(code, buf);
                crate::codec::write_str(reason, buf);
            }
        }
    }
}
impl EncodeSize for AccessOutcome {
    fn encode_size(&self) -> usize {
        1 + match self {
            AccessOutcome::Granted => 0,
            AccessOutcome::Denied { code, reason } => {
                crate::codec::str_size(code) + crate::codec::str_size(reason)
            }
        }
    }
}
impl Read for AccessOutcome {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => AccessOutcome::Granted,
            1 => AccessOutcome::Denied {
                code: crate::codec::read_str(buf, CODE_BYTES_MAX)?,
                reason: crate::codec::read_str(buf, ACCESS_REASON_BYTES_MAX)?,
            },
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

/// One line of a patient's access log, stored in state so that each is provable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// Position in the patient's log, from 0.
    pub seq: u64,
    pub record: RecordId,
    /// The version read (0 when the attempt was denied before a version was chosen).
    pub version: u32,
    pub reader: PartyId,
    pub basis: AccessBasis,
    pub purpose: Purpose,
    /// The custodian asked to serve it.
    pub custodian: PartyId,
    pub time_ms: u64,
    pub height: u64,
    /// The reader's signed access transaction.
    pub tx: TxHash,
    pub outcome: AccessOutcome,
}

struct_codec!(AccessEntry {
    seq: v,
    record: v,
    version: v,
    reader: v,
    basis: v,
    purpose: v,
    custodian: v,
    time_ms: v,
    height: v,
    tx: v,
    outcome: v,
});

/// The record operations a transaction carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RecordOp {
    /// Anchors a new record (version 1, with `salt`) or a new version of one.
    Put {
        record: RecordId,
        /// Set when creating: the record id must be derived from it.
        salt: Option<Hash32>,
        patient: PartyId,
        resource_type: ResourceType,
        category: Option<Category>,
        /// The version being written: 1 for a new record, else the latest plus one.
        version: u32,
        media_type: String,
        ciphertext_hash: Hash32,
        ciphertext_bytes: u32,
        content_commitment: Hash32,
        custodians: Vec<PartyId>,
        /// The grant a non-author writes under, if any.
        grant: Option<GrantId>,
    },
    /// The patient grants access.
    Grant {
        salt: Hash32,
        grantee: PartyId,
        scope: Scope,
        read: bool,
        write: bool,
        purpose: Purpose,
        valid_from_ms: u64,
        valid_until_ms: u64,
        condition: Option<CredentialRequirement>,
    },
    /// The patient revokes a grant, at once.
    Revoke { grant: GrantId },
    /// A reader asks to read a record (version 0: the latest) through a custodian. Granted or
    /// denied, the attempt enters the patient's access log.
    Access {
        record: RecordId,
        version: u32,
        basis: AccessBasis,
        purpose: Purpose,
        custodian: PartyId,
    },
    /// A licensed practitioner declares an emergency.
    BreakGlass {
        salt: Hash32,
        patient: PartyId,
        justification: String,
        duration_ms: u64,
    },
    /// The patient marks a break-glass declaration reviewed.
    ReviewBreakGlass { id: BreakGlassId },
    /// The patient erases a record (every version): custodians delete its ciphertext and keys.
    Erase { record: RecordId, reason: String },
    /// A regulator places or lifts a legal hold, which blocks erasure.
    LegalHold {
        record: RecordId,
        hold: bool,
        reason: String,
    },
}

impl RecordOp {
    /// A short name for logs, metrics and errors.
    pub fn name(&self) -> &'static str {
        match self {
            RecordOp::Put { .. } => "put_record",
            RecordOp::Grant { .. } => "grant_access",
            RecordOp::Revoke { .. } => "revoke_grant",
            RecordOp::Access { .. } => "access_record",
            RecordOp::BreakGlass { .. } => "break_glass",
            RecordOp::ReviewBreakGlass { .. } => "review_break_glass",
            RecordOp::Erase { .. } => "erase_record",
            RecordOp::LegalHold { .. } => "legal_hold",
        }
    }
}

/// Checks a media type: `type/subtype` (parameters allowed) in printable ASCII.
pub fn check_media_type(media_type: &str) -> Result<(), ParseError> {
    let shape_ok = media_type.split_once('/').is_some_and(|(kind, sub)| {
        !kind.is_empty()
            && !sub.is_empty()
            && media_type
                .bytes()
                .all(|b| (b.is_ascii_graphic() || b == b' ') && b != b'"' && b != b'\\')
    });
    if media_type.len() > MEDIA_TYPE_BYTES_MAX || !shape_ok {
        return Err(ParseError::Invalid {
            what: "media_type",
            reason: format!(
                "type/subtype in printable ASCII, at most {MEDIA_TYPE_BYTES_MAX} bytes, found {media_type:?}"
            ),
        });
    }
    Ok(())
}

fn invalid(what: &'static str, reason: impl Into<String>) -> ParseError {
    ParseError::Invalid {
        what,
        reason: reason.into(),
    }
}

impl RecordOp {
    /// Checks what needs no state: versions, salts, sizes, windows and texts.
    pub fn check_shape(&self) -> Result<(), ParseError> {
        use crate::tx::check_text;
        match self {
            RecordOp::Put {
                salt,
                version,
                media_type,
                ciphertext_bytes,
                custodians,
                ..
            } => {
                if *version == 0 {
                    return Err(invalid("version", "versions start at 1"));
                }
                if salt.is_some() != (*version == 1) {
                    return Err(invalid(
                        "salt",
                        "a salt is given when creating a record (version 1), and only then",
                    ));
                }
                check_media_type(media_type)?;
                if *ciphertext_bytes == 0
                    || *ciphertext_bytes as usize > crate::limits::RECORD_CIPHERTEXT_BYTES_MAX
                {
                    return Err(invalid(
                        "ciphertext_bytes",
                        format!(
                            "1 to {} bytes, found {ciphertext_bytes}",
                            crate::limits::RECORD_CIPHERTEXT_BYTES_MAX
                        ),
                    ));
                }
                if custodians.is_empty() {
                    return Err(invalid(
                        "custodians",
                        "at least one custodian holds the content",
                    ));
                }
                let mut sorted = custodians.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() != custodians.len() {
                    return Err(invalid("custodians", "a custodian is named twice"));
                }
            }
            RecordOp::Grant {
                scope,
                read,
                write,
                valid_from_ms,
                valid_until_ms,
                ..
            } => {
                if !read && !write {
                    return Err(invalid("grant", "grants read, write or both"));
                }
                if valid_until_ms <= valid_from_ms {
                    return Err(invalid(
                        "valid_until_ms",
                        format!(
                            "must be after valid_from_ms ({valid_from_ms}), found {valid_until_ms}"
                        ),
                    ));
                }
                if *scope != Scope::All && scope.is_empty() {
                    return Err(invalid("scope", "lists at least one entry (or is `all`)"));
                }
            }
            RecordOp::BreakGlass {
                justification,
                duration_ms,
                ..
            } => {
                if justification.trim().is_empty() {
                    return Err(invalid(
                        "justification",
                        "a break-glass needs a justification",
                    ));
                }
                check_text("justification", justification, JUSTIFICATION_BYTES_MAX)?;
                if *duration_ms == 0 || *duration_ms > BREAK_GLASS_MS_MAX {
                    return Err(invalid(
                        "duration_ms",
                        format!("1 to {BREAK_GLASS_MS_MAX} ms (24 hours), found {duration_ms}"),
                    ));
                }
            }
            RecordOp::Erase { reason, .. } | RecordOp::LegalHold { reason, .. } => {
                check_text("reason", reason, JUSTIFICATION_BYTES_MAX)?;
            }
            RecordOp::Revoke { .. }
            | RecordOp::Access { .. }
            | RecordOp::ReviewBreakGlass { .. } => {}
        }
        Ok(())
    }
}

impl Write for RecordOp {
    fn write(&self, buf: &mut impl BufMut) {
        use crate::codec::write_str;
        match self {
            RecordOp::Put {
                record,
                salt,
                patient,
                resource_type,
                category,
                version,
                media_type,
                ciphertext_hash,
                ciphertext_bytes,
                content_commitment,
                custodians,
                grant,
            } => {
                0u8.write(buf);
                record.write(buf);
                salt.write(buf);
                patient.write(buf);
                resource_type.write(buf);
                category.write(buf);
                version.write(buf);
                write_str(media_type, buf);
                ciphertext_hash.write(buf);
                ciphertext_bytes.write(buf);
                content_commitment.write(buf);
                custodians.write(buf);
                grant.write(buf);
            }
            RecordOp::Grant {
                salt,
                grantee,
                scope,
                read,
                write,
                purpose,
                valid_from_ms,
                valid_until_ms,
                condition,
            } => {
                1u8.write(buf);
                salt.write(buf);
                grantee.write(buf);
                scope.write(buf);
                read.write(buf);
                write.write(buf);
                purpose.write(buf);
                valid_from_ms.write(buf);
                valid_until_ms.write(buf);
                condition.write(buf);
            }
            RecordOp::Revoke { grant } => {
                2u8.write(buf);
                grant.write(buf);
            }
            RecordOp::Access {
                record,
                version,
                basis,
                purpose,
                custodian,
            } => {
                3u8.write(buf);
                record.write(buf);
                version.write(buf);
                basis.write(buf);
                purpose.write(buf);
                custodian.write(buf);
            }
            RecordOp::BreakGlass {
                salt,
                patient,
                justification,
                duration_ms,
            } => {
                4u8.write(buf);
                salt.write(buf);
                patient.write(buf);
                write_str(justification, buf);
                duration_ms.write(buf);
            }
            RecordOp::ReviewBreakGlass { id } => {
                5u8.write(buf);
                id.write(buf);
            }
            RecordOp::Erase { record, reason } => {
                6u8.write(buf);
                record.write(buf);
                write_str(reason, buf);
            }
            RecordOp::LegalHold {
                record,
                hold,
                reason,
            } => {
                7u8.write(buf);
                record.write(buf);
                hold.write(buf);
                write_str(reason, buf);
            }
        }
    }
}

impl EncodeSize for RecordOp {
    fn encode_size(&self) -> usize {
        use crate::codec::str_size;
        1 + match self {
            RecordOp::Put {
                salt,
                resource_type,
                category,
                media_type,
                custodians,
                grant,
                ..
            } => {
                32 + salt.encode_size()
                    + 32
                    + resource_type.encode_size()
                    + category.encode_size()
                    + 4
                    + str_size(media_type)
                    + 32
                    + 4
                    + 32
                    + custodians.encode_size()
                    + grant.encode_size()
            }
            RecordOp::Grant {
                scope, condition, ..
            } => 32 + 32 + scope.encode_size() + 2 + 1 + 16 + condition.encode_size(),
            RecordOp::Revoke { .. } => 32,
            RecordOp::Access { basis, .. } => 32 + 4 + basis.encode_size() + 1 + 32,
            RecordOp::BreakGlass { justification, .. } => 32 + 32 + str_size(justification) + 8,
            RecordOp::ReviewBreakGlass { .. } => 32,
            RecordOp::Erase { reason, .. } => 32 + str_size(reason),
            RecordOp::LegalHold { reason, .. } => 32 + 1 + str_size(reason),
        }
    }
}

impl Read for RecordOp {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        use crate::codec::read_str;
        Ok(match u8::read(buf)? {
            0 => RecordOp::Put {
                record: RecordId::read(buf)?,
                salt: Option::<Hash32>::read(buf)?,
                patient: PartyId::read(buf)?,
                resource_type: ResourceType::read(buf)?,
                category: Option::<Category>::read(buf)?,
                version: u32::read(buf)?,
                media_type: read_str(buf, MEDIA_TYPE_BYTES_MAX)?,
                ciphertext_hash: Hash32::read(buf)?,
                ciphertext_bytes: u32::read(buf)?,
                content_commitment: Hash32::read(buf)?,
                custodians: read_list(buf, CUSTODIANS_MAX)?,
                grant: Option::<GrantId>::read(buf)?,
            },
            1 => RecordOp::Grant {
                salt: Hash32::read(buf)?,
                grantee: PartyId::read(buf)?,
                scope: Scope::read(buf)?,
                read: bool::read(buf)?,
                write: bool::read(buf)?,
                purpose: Purpose::read(buf)?,
                valid_from_ms: u64::read(buf)?,
                valid_until_ms: u64::read(buf)?,
                condition: Option::<CredentialRequirement>::read(buf)?,
            },
            2 => RecordOp::Revoke {
                grant: GrantId::read(buf)?,
            },
            3 => RecordOp::Access {
                record: RecordId::read(buf)?,
                version: u32::read(buf)?,
                basis: AccessBasis::read(buf)?,
                purpose: Purpose::read(buf)?,
                custodian: PartyId::read(buf)?,
            },
            4 => RecordOp::BreakGlass {
                salt: Hash32::read(buf)?,
                patient: PartyId::read(buf)?,
                justification: read_str(buf, JUSTIFICATION_BYTES_MAX)?,
                duration_ms: u64::read(buf)?,
            },
            5 => RecordOp::ReviewBreakGlass {
                id: BreakGlassId::read(buf)?,
            },
            6 => RecordOp::Erase {
                record: RecordId::read(buf)?,
                reason: read_str(buf, JUSTIFICATION_BYTES_MAX)?,
            },
            7 => RecordOp::LegalHold {
                record: RecordId::read(buf)?,
                hold: bool::read(buf)?,
                reason: read_str(buf, JUSTIFICATION_BYTES_MAX)?,
            },
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};

    fn round_trip<T: Encode + DecodeExt<()> + PartialEq + core::fmt::Debug>(value: T) {
        let bytes = value.encode();
        assert_eq!(bytes.len(), value.encode_size());
        assert_eq!(T::decode(bytes).expect("decodes"), value);
    }

    #[test]
    fn record_types_round_trip() {
        let version = RecordVersion {
            version: 2,
            author: PartyId([1; 32]),
            media_type: "application/fhir+json".into(),
            ciphertext_hash: Hash32([2; 32]),
            ciphertext_bytes: 4096,
            content_commitment: Hash32([3; 32]),
            custodians: vec![PartyId([4; 32]), PartyId([5; 32])],
            written_ms: 10,
            height: 3,
        };
        round_trip(version.clone());
        round_trip(Record {
            id: RecordId([6; 32]),
            patient: PartyId([7; 32]),
            organisation: PartyId([8; 32]),
            resource_type: ResourceType::new("Observation").expect("valid"),
            category: Some(Category::new("laboratory").expect("valid")),
            latest: version,
            erased: Some(Erasure {
                by: PartyId([7; 32]),
                at_ms: 11,
                reason: "patient request".into(),
            }),
            legal_hold: false,
        });
        for scope in [
            Scope::All,
            Scope::ResourceTypes(vec![ResourceType::new("Observation").expect("valid")]),
            Scope::Categories(vec![Category::new("imaging").expect("valid")]),
            Scope::Records(vec![RecordId([9; 32])]),
        ] {
            round_trip(RecordOp::Grant {
                salt: Hash32([1; 32]),
                grantee: PartyId([2; 32]),
                scope,
                read: true,
                write: false,
                purpose: Purpose::Research,
                valid_from_ms: 1,
                valid_until_ms: 2,
                condition: None,
            });
        }
        for basis in [
            AccessBasis::Patient,
            AccessBasis::Author,
            AccessBasis::Grant(GrantId([1; 32])),
            AccessBasis::BreakGlass(BreakGlassId([2; 32])),
        ] {
            round_trip(AccessEntry {
                seq: 4,
                record: RecordId([1; 32]),
                version: 1,
                reader: PartyId([2; 32]),
                basis,
                purpose: Purpose::Treatment,
                custodian: PartyId([3; 32]),
                time_ms: 5,
                height: 6,
                tx: TxHash([7; 32]),
                outcome: AccessOutcome::Denied {
                    code: "grant_revoked".into(),
                    reason: "the grant was revoked".into(),
                },
            });
        }
        round_trip(BreakGlass {
            id: BreakGlassId([1; 32]),
            practitioner: PartyId([2; 32]),
            organisation: PartyId([3; 32]),
            patient: PartyId([4; 32]),
            justification: "unconscious in the emergency department".into(),
            from_ms: 1,
            until_ms: 2,
            reviewed_ms: None,
        });
        round_trip(Grant {
            id: GrantId([1; 32]),
            patient: PartyId([2; 32]),
            grantee: PartyId([3; 32]),
            scope: Scope::Categories(vec![Category::new("imaging").expect("valid")]),
            read: true,
            write: false,
            purpose: Purpose::Treatment,
            valid_from_ms: 1,
            valid_until_ms: 2,
            condition: Some(CredentialRequirement {
                credential_type: crate::credential::CredentialType::new("physician_licence")
                    .expect("valid"),
                jurisdiction: None,
            }),
            granted_ms: 1,
            revoked_ms: Some(2),
        });
        for purpose in Purpose::ALL {
            round_trip(purpose);
            assert_eq!(purpose.name().parse::<Purpose>().expect("parses"), purpose);
            assert_eq!(
                purpose.hl7_code().parse::<Purpose>().expect("parses"),
                purpose
            );
        }
    }

    #[test]
    fn shapes_are_checked_before_state() {
        let put = |salt: Option<Hash32>, version: u32, custodians: Vec<PartyId>, bytes: u32| {
            RecordOp::Put {
                record: RecordId([1; 32]),
                salt,
                patient: PartyId([2; 32]),
                resource_type: ResourceType::new("Observation").expect("valid"),
                category: None,
                version,
                media_type: "application/fhir+json".into(),
                ciphertext_hash: Hash32([3; 32]),
                ciphertext_bytes: bytes,
                content_commitment: Hash32([4; 32]),
                custodians,
                grant: None,
            }
        };
        let one = vec![PartyId([5; 32])];
        assert!(
            put(Some(Hash32([0; 32])), 1, one.clone(), 10)
                .check_shape()
                .is_ok()
        );
        assert!(put(None, 2, one.clone(), 10).check_shape().is_ok());
        for bad in [
            put(None, 1, one.clone(), 10),
            put(Some(Hash32([0; 32])), 2, one.clone(), 10),
            put(None, 0, one.clone(), 10),
            put(None, 2, vec![], 10),
            put(None, 2, vec![PartyId([5; 32]), PartyId([5; 32])], 10),
            put(None, 2, one.clone(), 0),
            put(None, 2, one.clone(), 16 * 1024 * 1024 + 1),
        ] {
            assert!(bad.check_shape().is_err(), "{bad:?}");
        }
        let grant =
            |read: bool, write: bool, from: u64, until: u64, scope: Scope| RecordOp::Grant {
                salt: Hash32([0; 32]),
                grantee: PartyId([1; 32]),
                scope,
                read,
                write,
                purpose: Purpose::Treatment,
                valid_from_ms: from,
                valid_until_ms: until,
                condition: None,
            };
        assert!(grant(true, false, 1, 2, Scope::All).check_shape().is_ok());
        assert!(grant(false, false, 1, 2, Scope::All).check_shape().is_err());
        assert!(grant(true, false, 2, 2, Scope::All).check_shape().is_err());
        assert!(
            grant(true, false, 1, 2, Scope::Records(vec![]))
                .check_shape()
                .is_err()
        );
        let glass = |justification: &str, duration_ms: u64| RecordOp::BreakGlass {
            salt: Hash32([0; 32]),
            patient: PartyId([1; 32]),
            justification: justification.into(),
            duration_ms,
        };
        assert!(glass("unresponsive", 3_600_000).check_shape().is_ok());
        assert!(
            glass("unresponsive", BREAK_GLASS_MS_MAX + 1)
                .check_shape()
                .is_err()
        );
        assert!(glass("unresponsive", 0).check_shape().is_err());
        assert!(glass("  ", 1_000).check_shape().is_err());
        assert!(glass("a\u{7}b", 1_000).check_shape().is_err());
        assert!(check_media_type("application/fhir+json; fhirVersion=4.0").is_ok());
        for bad in ["", "json", "/x", "x/", "text/\"plain\"", "t\u{e9}xt/plain"] {
            assert!(check_media_type(bad).is_err(), "{bad:?}");
        }
    }
}
