//! Events: what a transaction did, appended to the authenticated event log.
//!
//! Every committed transaction emits one or more events. The log is append-only and its root is
//! committed in every block header, so any event can be proven to a light client; the patient's
//! access log and audit reports in later modules are read from it.

use crate::{
    codec::read_list,
    credential::{CredentialId, CredentialStatus},
    hash::Hash32,
    identity::{PartyKind, Roles},
    ids::{PartyId, TxHash},
    records::{BreakGlassId, GrantId, Purpose, RecordId},
    supply::{AlertKind, Object},
};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt, Write};
use serde::{Deserialize, Serialize};

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    PartyRegistered {
        party: PartyId,
        kind: PartyKind,
        organisation: Option<PartyId>,
    },
    KeysRotated {
        party: PartyId,
        key_version: u32,
    },
    ProposalOpened {
        proposal: u64,
        proposer: PartyId,
        action: String,
        expires_at_ms: u64,
    },
    ProposalApproved {
        proposal: u64,
        governor: PartyId,
        approvals: u32,
        threshold: u32,
    },
    ProposalExecuted {
        proposal: u64,
    },
    OrganisationAdded {
        party: PartyId,
    },
    RolesChanged {
        party: PartyId,
        roles: Roles,
    },
    ThresholdChanged {
        threshold: u32,
    },
    Attested {
        party: PartyId,
        subject: Hash32,
        digest: Hash32,
    },
    IssuerAccredited {
        issuer: PartyId,
        credential_types: u32,
        jurisdictions: u32,
    },
    CredentialIssued {
        credential: CredentialId,
        issuer: PartyId,
        subject: PartyId,
    },
    CredentialStatusChanged {
        credential: CredentialId,
        status: CredentialStatus,
    },
    CredentialRequirementSet {
        action: String,
        required: bool,
    },
    /// A well-formed, correctly signed transaction that the policy check refused: `party` did
    /// not hold the credential `action` requires. The attempt is on the record; nothing else of
    /// the transaction took effect.
    ActionDenied {
        /// Who signed the transaction.
        actor: PartyId,
        /// The gated action.
        action: String,
        /// The party whose credentials were checked (the actor, or the party acted on).
        party: PartyId,
        /// The stable refusal code, e.g. `credential_required`.
        code: String,
        /// The refusal in words: what was needed and what was found.
        reason: String,
    },
    /// A record version was anchored.
    RecordWritten {
        record: RecordId,
        version: u32,
        patient: PartyId,
        author: PartyId,
    },
    /// A patient granted access.
    AccessGranted {
        grant: GrantId,
        patient: PartyId,
        grantee: PartyId,
    },
    /// A patient revoked a grant.
    GrantRevoked {
        grant: GrantId,
        patient: PartyId,
    },
    /// A read was granted: entry `seq` of the patient's access log.
    RecordAccessed {
        record: RecordId,
        version: u32,
        patient: PartyId,
        reader: PartyId,
        purpose: Purpose,
        seq: u64,
    },
    /// A read was denied: entry `seq` of the patient's access log says why.
    RecordAccessDenied {
        record: RecordId,
        patient: PartyId,
        reader: PartyId,
        purpose: Purpose,
        code: String,
        seq: u64,
    },
    /// A practitioner declared an emergency; flagged for the patient's review.
    BreakGlassDeclared {
        id: BreakGlassId,
        patient: PartyId,
        practitioner: PartyId,
        until_ms: u64,
    },
    /// The patient reviewed a break-glass declaration.
    BreakGlassReviewed {
        id: BreakGlassId,
        patient: PartyId,
    },
    /// A record was erased: its ciphertext and keys are to be deleted by its custodians.
    RecordErased {
        record: RecordId,
        patient: PartyId,
        by: PartyId,
    },
    /// A legal hold was placed on, or lifted from, a record.
    LegalHoldSet {
        record: RecordId,
        hold: bool,
        reason: String,
    },
    /// A supply-chain operation took effect on `objects` objects. `subject` says what it was
    /// about: the lot (`<gtin>/<lot>`), the container (SSCC), or the shipment (hex id).
    SupplyStep {
        op: String,
        actor: PartyId,
        objects: u32,
        subject: String,
    },
    /// A refused supply-chain operation raised suspect-product alert `alert` (its position in
    /// the regulators' alert list).
    SuspectProduct {
        alert: u64,
        kind: AlertKind,
        actor: PartyId,
        object: Object,
        manufacturer: Option<PartyId>,
    },
}

impl Event {
    /// The event's type name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::PartyRegistered { .. } => "party_registered",
            Event::KeysRotated { .. } => "keys_rotated",
            Event::ProposalOpened { .. } => "proposal_opened",
            Event::ProposalApproved { .. } => "proposal_approved",
            Event::ProposalExecuted { .. } => "proposal_executed",
            Event::OrganisationAdded { .. } => "organisation_added",
            Event::RolesChanged { .. } => "roles_changed",
            Event::ThresholdChanged { .. } => "threshold_changed",
            Event::Attested { .. } => "attested",
            Event::IssuerAccredited { .. } => "issuer_accredited",
            Event::CredentialIssued { .. } => "credential_issued",
            Event::CredentialStatusChanged { .. } => "credential_status_changed",
            Event::CredentialRequirementSet { .. } => "credential_requirement_set",
            Event::ActionDenied { .. } => "action_denied",
            Event::RecordWritten { .. } => "record_written",
            Event::AccessGranted { .. } => "access_granted",
            Event::GrantRevoked { .. } => "grant_revoked",
            Event::RecordAccessed { .. } => "record_accessed",
            Event::RecordAccessDenied { .. } => "record_access_denied",
            Event::BreakGlassDeclared { .. } => "break_glass_declared",
            Event::BreakGlassReviewed { .. } => "break_glass_reviewed",
            Event::RecordErased { .. } => "record_erased",
            Event::LegalHoldSet { .. } => "legal_hold_set",
            Event::SupplyStep { .. } => "supply_step",
            Event::SuspectProduct { .. } => "suspect_product",
        }
    }
}

impl Write for Event {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Event::PartyRegistered {
                party,
                kind,
                organisation,
            } => {
                0u8.write(buf);
                party.write(buf);
                kind.write(buf);
                organisation.write(buf);
            }
            Event::KeysRotated { party, key_version } => {
                1u8.write(buf);
                party.write(buf);
                key_version.write(buf);
            }
            Event::ProposalOpened {
                proposal,
                proposer,
                action,
                expires_at_ms,
            } => {
                2u8.write(buf);
                proposal.write(buf);
                proposer.write(buf);
                crate::codec::write_str(action, buf);
                expires_at_ms.write(buf);
            }
            Event::ProposalApproved {
                proposal,
                governor,
                approvals,
                threshold,
            } => {
                3u8.write(buf);
                proposal.write(buf);
                governor.write(buf);
                approvals.write(buf);
                threshold.write(buf);
            }
            Event::ProposalExecuted { proposal } => {
                4u8.write(buf);
                proposal.write(buf);
            }
            Event::OrganisationAdded { party } => {
                5u8.write(buf);
                party.write(buf);
            }
            Event::RolesChanged { party, roles } => {
                6u8.write(buf);
                party.write(buf);
                roles.write(buf);
            }
            Event::ThresholdChanged { threshold } => {
                7u8.write(buf);
                threshold.write(buf);
            }
            Event::Attested {
                party,
                subject,
                digest,
            } => {
                8u8.write(buf);
                party.write(buf);
                subject.write(buf);
                digest.write(buf);
            }
            Event::IssuerAccredited {
                issuer,
                credential_types,
                jurisdictions,
            } => {
                9u8.write(buf);
                issuer.write(buf);
                credential_types.write(buf);
                jurisdictions.write(buf);
            }
            Event::CredentialIssued {
                credential,
                issuer,
                subject,
            } => {
                10u8.write(buf);
                credential.write(buf);
                issuer.write(buf);
                subject.write(buf);
            }
            Event::CredentialStatusChanged { credential, status } => {
                11u8.write(buf);
                credential.write(buf);
                status.write(buf);
            }
            Event::CredentialRequirementSet { action, required } => {
                12u8.write(buf);
                crate::codec::write_str(action, buf);
                required.write(buf);
            }
            Event::ActionDenied {
                actor,
                action,
                party,
                code,
                reason,
            } => {
                13u8.write(buf);
                actor.write(buf);
                crate::codec::write_str(action, buf);
                party.write(buf);
                crate::codec::write_str(code, buf);
                crate::codec::write_str(reason, buf);
            }
            Event::RecordWritten {
                record,
                version,
                patient,
                author,
            } => {
                14u8.write(buf);
                record.write(buf);
                version.write(buf);
                patient.write(buf);
                author.write(buf);
            }
            Event::AccessGranted {
                grant,
                patient,
                grantee,
            } => {
                15u8.write(buf);
                grant.write(buf);
                patient.write(buf);
                grantee.write(buf);
            }
            Event::GrantRevoked { grant, patient } => {
                16u8.write(buf);
                grant.write(buf);
                patient.write(buf);
            }
            Event::RecordAccessed {
                record,
                version,
                patient,
                reader,
                purpose,
                seq,
            } => {
                17u8.write(buf);
                record.write(buf);
                version.write(buf);
                patient.write(buf);
                reader.write(buf);
                purpose.write(buf);
                seq.write(buf);
            }
            Event::RecordAccessDenied {
                record,
                patient,
                reader,
                purpose,
                code,
                seq,
            } => {
                18u8.write(buf);
                record.write(buf);
                patient.write(buf);
                reader.write(buf);
                purpose.write(buf);
                crate::codec::write_str(code, buf);
                seq.write(buf);
            }
            Event::BreakGlassDeclared {
                id,
                patient,
                practitioner,
                until_ms,
            } => {
                19u8.write(buf);
                id.write(buf);
                patient.write(buf);
                practitioner.write(buf);
                until_ms.write(buf);
            }
            Event::BreakGlassReviewed { id, patient } => {
                20u8.write(buf);
                id.write(buf);
                patient.write(buf);
            }
            Event::RecordErased {
                record,
                patient,
                by,
            } => {
                21u8.write(buf);
                record.write(buf);
                patient.write(buf);
                by.write(buf);
            }
            Event::LegalHoldSet {
                record,
                hold,
                reason,
            } => {
                22u8.write(buf);
                record.write(buf);
                hold.write(buf);
                crate::codec::write_str(reason, buf);
            }
            Event::SupplyStep {
                op,
                actor,
                objects,
                subject,
            } => {
                23u8.write(buf);
                crate::codec::write_str(op, buf);
                actor.write(buf);
                objects.write(buf);
                crate::codec::write_str(subject, buf);
            }
            Event::SuspectProduct {
                alert,
                kind,
                actor,
                object,
                manufacturer,
            } => {
                24u8.write(buf);
                alert.write(buf);
                kind.write(buf);
                actor.write(buf);
                object.write(buf);
                manufacturer.write(buf);
            }
        }
    }
}

impl EncodeSize for Event {
    fn encode_size(&self) -> usize {
        1 + match self {
            Event::PartyRegistered {
                party,
                kind,
                organisation,
            } => party.encode_size() + kind.encode_size() + organisation.encode_size(),
            Event::KeysRotated { party, key_version } => {
                party.encode_size() + key_version.encode_size()
            }
            Event::ProposalOpened {
                proposal,
                proposer,
                action,
                expires_at_ms,
            } => {
                proposal.encode_size()
                    + proposer.encode_size()
                    + crate::codec::str_size(action)
                    + expires_at_ms.encode_size()
            }
            Event::ProposalApproved {
                proposal,
                governor,
                approvals,
                threshold,
            } => {
                proposal.encode_size()
                    + governor.encode_size()
                    + approvals.encode_size()
                    + threshold.encode_size()
            }
            Event::ProposalExecuted { proposal } => proposal.encode_size(),
            Event::OrganisationAdded { party } => party.encode_size(),
            Event::RolesChanged { party, roles } => party.encode_size() + roles.encode_size(),
            Event::ThresholdChanged { threshold } => threshold.encode_size(),
            Event::Attested {
                party,
                subject,
                digest,
            } => party.encode_size() + subject.encode_size() + digest.encode_size(),
            Event::IssuerAccredited { .. } => 32 + 4 + 4,
            Event::CredentialIssued { .. } => 32 * 3,
            Event::CredentialStatusChanged { .. } => 32 + 1,
            Event::CredentialRequirementSet { action, .. } => crate::codec::str_size(action) + 1,
            Event::ActionDenied {
                action,
                code,
                reason,
                ..
            } => {
                32 + crate::codec::str_size(action)
                    + 32
                    + crate::codec::str_size(code)
                    + crate::codec::str_size(reason)
            }
            Event::RecordWritten { .. } => 32 + 4 + 32 + 32,
            Event::AccessGranted { .. } => 32 * 3,
            Event::GrantRevoked { .. } => 32 * 2,
            Event::RecordAccessed { .. } => 32 + 4 + 32 + 32 + 1 + 8,
            Event::RecordAccessDenied { code, .. } => 32 * 3 + 1 + crate::codec::str_size(code) + 8,
            Event::BreakGlassDeclared { .. } => 32 * 3 + 8,
            Event::BreakGlassReviewed { .. } => 32 * 2,
            Event::RecordErased { .. } => 32 * 3,
            Event::LegalHoldSet { reason, .. } => 32 + 1 + crate::codec::str_size(reason),
            Event::SupplyStep { op, subject, .. } => {
                crate::codec::str_size(op) + 32 + 4 + crate::codec::str_size(subject)
            }
            Event::SuspectProduct {
                object,
                manufacturer,
                ..
            } => 8 + 1 + 32 + object.encode_size() + manufacturer.encode_size(),
        }
    }
}

impl Read for Event {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => Event::PartyRegistered {
                party: PartyId::read(buf)?,
                kind: PartyKind::read(buf)?,
                organisation: Option::<PartyId>::read(buf)?,
            },
            1 => Event::KeysRotated {
                party: PartyId::read(buf)?,
                key_version: u32::read(buf)?,
            },
            2 => Event::ProposalOpened {
                proposal: u64::read(buf)?,
                proposer: PartyId::read(buf)?,
                action: crate::codec::read_str(buf, 64)?,
                expires_at_ms: u64::read(buf)?,
            },
            3 => Event::ProposalApproved {
                proposal: u64::read(buf)?,
                governor: PartyId::read(buf)?,
                approvals: u32::read(buf)?,
                threshold: u32::read(buf)?,
            },
            4 => Event::ProposalExecuted {
                proposal: u64::read(buf)?,
            },
            5 => Event::OrganisationAdded {
                party: PartyId::read(buf)?,
            },
            6 => Event::RolesChanged {
                party: PartyId::read(buf)?,
                roles: Roles::read(buf)?,
            },
            7 => Event::ThresholdChanged {
                threshold: u32::read(buf)?,
            },
            8 => Event::Attested {
                party: PartyId::read(buf)?,
                subject: Hash32::read(buf)?,
                digest: Hash32::read(buf)?,
            },
            9 => Event::IssuerAccredited {
                issuer: PartyId::read(buf)?,
                credential_types: u32::read(buf)?,
                jurisdictions: u32::read(buf)?,
            },
            10 => Event::CredentialIssued {
                credential: CredentialId::read(buf)?,
                issuer: PartyId::read(buf)?,
                subject: PartyId::read(buf)?,
            },
            11 => Event::CredentialStatusChanged {
                credential: CredentialId::read(buf)?,
                status: CredentialStatus::read(buf)?,
            },
            12 => Event::CredentialRequirementSet {
                action: crate::codec::read_str(buf, crate::tx::ACTION_NAME_BYTES_MAX)?,
                required: bool::read(buf)?,
            },
            13 => Event::ActionDenied {
                actor: PartyId::read(buf)?,
                action: crate::codec::read_str(buf, crate::tx::ACTION_NAME_BYTES_MAX)?,
                party: PartyId::read(buf)?,
                code: crate::codec::read_str(buf, DENIAL_CODE_BYTES_MAX)?,
                reason: crate::codec::read_str(buf, DENIAL_REASON_BYTES_MAX)?,
            },
            14 => Event::RecordWritten {
                record: RecordId::read(buf)?,
                version: u32::read(buf)?,
                patient: PartyId::read(buf)?,
                author: PartyId::read(buf)?,
            },
            15 => Event::AccessGranted {
                grant: GrantId::read(buf)?,
                patient: PartyId::read(buf)?,
                grantee: PartyId::read(buf)?,
            },
            16 => Event::GrantRevoked {
                grant: GrantId::read(buf)?,
                patient: PartyId::read(buf)?,
            },
            17 => Event::RecordAccessed {
                record: RecordId::read(buf)?,
                version: u32::read(buf)?,
                patient: PartyId::read(buf)?,
                reader: PartyId::read(buf)?,
                purpose: Purpose::read(buf)?,
                seq: u64::read(buf)?,
            },
            18 => Event::RecordAccessDenied {
                record: RecordId::read(buf)?,
                patient: PartyId::read(buf)?,
                reader: PartyId::read(buf)?,
                purpose: Purpose::read(buf)?,
                code: crate::codec::read_str(buf, DENIAL_CODE_BYTES_MAX)?,
                seq: u64::read(buf)?,
            },
            19 => Event::BreakGlassDeclared {
                id: BreakGlassId::read(buf)?,
                patient: PartyId::read(buf)?,
                practitioner: PartyId::read(buf)?,
                until_ms: u64::read(buf)?,
            },
            20 => Event::BreakGlassReviewed {
                id: BreakGlassId::read(buf)?,
                patient: PartyId::read(buf)?,
            },
            21 => Event::RecordErased {
                record: RecordId::read(buf)?,
                patient: PartyId::read(buf)?,
                by: PartyId::read(buf)?,
            },
            22 => Event::LegalHoldSet {
                record: RecordId::read(buf)?,
                hold: bool::read(buf)?,
                reason: crate::codec::read_str(buf, crate::records::JUSTIFICATION_BYTES_MAX)?,
            },
            23 => Event::SupplyStep {
                op: crate::codec::read_str(buf, SUPPLY_OP_BYTES_MAX)?,
                actor: PartyId::read(buf)?,
                objects: u32::read(buf)?,
                subject: crate::codec::read_str(buf, SUPPLY_SUBJECT_BYTES_MAX)?,
            },
            24 => Event::SuspectProduct {
                alert: u64::read(buf)?,
                kind: AlertKind::read(buf)?,
                actor: PartyId::read(buf)?,
                object: Object::read(buf)?,
                manufacturer: Option::<PartyId>::read(buf)?,
            },
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

/// Longest operation name in an [`Event::SupplyStep`].
pub const SUPPLY_OP_BYTES_MAX: usize = 32;
/// Longest subject in an [`Event::SupplyStep`]; longer subjects are cut at a character
/// boundary before they are recorded.
pub const SUPPLY_SUBJECT_BYTES_MAX: usize = 128;

/// Longest refusal code in an [`Event::ActionDenied`].
pub const DENIAL_CODE_BYTES_MAX: usize = 64;
/// Longest refusal reason in an [`Event::ActionDenied`]; longer reasons are cut at a character
/// boundary before they are recorded.
pub const DENIAL_REASON_BYTES_MAX: usize = 512;

/// An event as stored in the log: where it came from, and what it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Height of the block.
    pub height: u64,
    /// Block time, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The transaction that emitted it.
    pub tx: TxHash,
    /// The event.
    pub event: Event,
}

impl Write for EventRecord {
    fn write(&self, buf: &mut impl BufMut) {
        self.height.write(buf);
        self.time_ms.write(buf);
        self.tx.write(buf);
        self.event.write(buf);
    }
}
impl EncodeSize for EventRecord {
    fn encode_size(&self) -> usize {
        self.height.encode_size()
            + self.time_ms.encode_size()
            + self.tx.encode_size()
            + self.event.encode_size()
    }
}
impl Read for EventRecord {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(EventRecord {
            height: u64::read(buf)?,
            time_ms: u64::read(buf)?,
            tx: TxHash::read(buf)?,
            event: Event::read(buf)?,
        })
    }
}

/// Where a committed transaction landed: stored in state under the transaction's hash, so
/// inclusion is provable like any other state entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub tx: TxHash,
    pub signer: PartyId,
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Location of the first event in the event log.
    pub first_event: u64,
    /// Number of events emitted.
    pub event_count: u32,
    /// Whether the transaction took effect or was refused by policy.
    #[serde(default)]
    pub outcome: Outcome,
}

/// What became of a committed transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It took effect.
    #[default]
    Applied,
    /// The policy check refused it: only its nonce was used, and its one event is an
    /// [`Event::ActionDenied`] saying why.
    Denied,
}

impl Write for Outcome {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Outcome::Applied => 0u8,
            Outcome::Denied => 1u8,
        }
        .write(buf);
    }
}
impl EncodeSize for Outcome {
    fn encode_size(&self) -> usize {
        1
    }
}
impl Read for Outcome {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(Outcome::Applied),
            1 => Ok(Outcome::Denied),
            other => Err(Error::InvalidEnum(other)),
        }
    }
}

impl Write for Receipt {
    fn write(&self, buf: &mut impl BufMut) {
        self.tx.write(buf);
        self.signer.write(buf);
        self.height.write(buf);
        self.index.write(buf);
        self.first_event.write(buf);
        self.event_count.write(buf);
        self.outcome.write(buf);
    }
}
impl EncodeSize for Receipt {
    fn encode_size(&self) -> usize {
        32 + 32 + 8 + 4 + 8 + 4 + 1
    }
}
impl Read for Receipt {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Receipt {
            tx: TxHash::read(buf)?,
            signer: PartyId::read(buf)?,
            height: u64::read(buf)?,
            index: u32::read(buf)?,
            first_event: u64::read(buf)?,
            event_count: u32::read(buf)?,
            outcome: Outcome::read(buf)?,
        })
    }
}

/// Decodes a list of events (used by tests and tools).
pub fn read_events(buf: &mut impl Buf, max: usize) -> Result<Vec<Event>, Error> {
    read_list(buf, max)
}
