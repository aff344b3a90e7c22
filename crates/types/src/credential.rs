//! Practitioner and organisation credentials: licences and registrations.
//!
//! A credential names its issuer (an accredited organisation), its subject (the holder), a type
//! and a jurisdiction, and a *salted commitment* to the licence number (the number itself stays
//! off chain: `SHA-256("medchain/licence-number/v1" || salt || number)`, computed by the client
//! that knows both). It is valid from `valid_from_ms` until `valid_until_ms` (block time), and
//! its issuer can suspend, reinstate and revoke it; revocation is final. Its status history is
//! kept, so its status at any past time can be answered.

use crate::{
    codec::{read_list, read_str, str_size, write_str},
    error::ParseError,
    hash::{Hash32, hash_parts},
    ids::PartyId,
};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt, Write};
use serde::{Deserialize, Serialize};

/// Largest credential type or jurisdiction code, in bytes.
pub const CODE_BYTES_MAX: usize = 48;
/// Largest reason attached to a status change, in bytes.
pub const REASON_BYTES_MAX: usize = 256;
/// Largest specialty, in bytes.
pub const SPECIALTY_BYTES_MAX: usize = 96;
/// Most status changes a credential records.
pub const STATUS_CHANGES_MAX: usize = 64;
/// Most types or jurisdictions in one accreditation.
pub const ACCREDITATION_ENTRIES_MAX: usize = 64;

macro_rules! code_type {
    ($(#[$meta:meta])* $name:ident, $what:expr, $valid:expr, $rule:expr) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps a code.
            pub fn new(text: impl Into<String>) -> Result<Self, ParseError> {
                let text = text.into();
                let valid: fn(char) -> bool = $valid;
                if text.is_empty() || text.len() > CODE_BYTES_MAX || !text.chars().all(valid) {
                    return Err(ParseError::Invalid {
                        what: $what,
                        reason: format!(
                            "{} (1 to {CODE_BYTES_MAX} bytes), found {text:?}",
                            $rule
                        ),
                    });
                }
                Ok(Self(text))
            }

            /// The text form.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl core::str::FromStr for $name {
            type Err = ParseError;
            fn from_str(text: &str) -> Result<Self, ParseError> {
                Self::new(text)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }

        impl Write for $name {
            fn write(&self, buf: &mut impl BufMut) {
                $crate::codec::write_str(&self.0, buf);
            }
        }

        impl EncodeSize for $name {
            fn encode_size(&self) -> usize {
                $crate::codec::str_size(&self.0)
            }
        }

        impl Read for $name {
            type Cfg = ();
            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
                let text = $crate::codec::read_str(buf, CODE_BYTES_MAX)?;
                Self::new(text).map_err(|_| Error::Invalid(stringify!($name), "invalid code"))
            }
        }
    };
}
pub(crate) use code_type;

code_type!(
    /// A credential type, e.g. `physician_licence`, `nurse_licence`, `pharmacist_licence`,
    /// `controlled_substance_registration`, `wholesale_distributor_licence`.
    CredentialType,
    "credential type",
    |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
    "lower-case letters, digits and '_'"
);

code_type!(
    /// A jurisdiction, as an ISO 3166 country or subdivision code, e.g. `US`, `US-CA`, `GB-ENG`.
    Jurisdiction,
    "jurisdiction",
    |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-',
    "upper-case letters, digits and '-'"
);

impl Jurisdiction {
    /// Whether a credential of this jurisdiction satisfies a requirement for `required`: the
    /// same code, or a subdivision of it (`US-CA` satisfies `US`).
    pub fn satisfies(&self, required: &Jurisdiction) -> bool {
        self.0 == required.0
            || (self.0.len() > required.0.len()
                && self.0.starts_with(required.0.as_str())
                && self.0.as_bytes()[required.0.len()] == b'-')
    }
}

crate::fixed_bytes!(
    /// A credential's id: the hash of its issuer, subject, type, jurisdiction and number
    /// commitment.
    CredentialId,
    32
);

impl CredentialId {
    /// Derives the id of a credential.
    pub fn derive(
        issuer: &PartyId,
        subject: &PartyId,
        credential_type: &CredentialType,
        jurisdiction: &Jurisdiction,
        number_commitment: &Hash32,
    ) -> Self {
        Self(
            hash_parts(
                b"medchain/credential-id/v1",
                &[
                    &issuer.0,
                    &subject.0,
                    credential_type.as_str().as_bytes(),
                    jurisdiction.as_str().as_bytes(),
                    &number_commitment.0,
                ],
            )
            .0,
        )
    }
}

/// The salted commitment to a licence number that goes on chain instead of the number.
pub fn number_commitment(salt: &[u8; 32], number: &str) -> Hash32 {
    hash_parts(b"medchain/licence-number/v1", &[salt, number.as_bytes()])
}

/// Where a credential stands, as set by its issuer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    Active,
    Suspended,
    Revoked,
}

impl CredentialStatus {
    fn tag(self) -> u8 {
        match self {
            CredentialStatus::Active => 0,
            CredentialStatus::Suspended => 1,
            CredentialStatus::Revoked => 2,
        }
    }

    /// The status's name.
    pub fn name(self) -> &'static str {
        match self {
            CredentialStatus::Active => "active",
            CredentialStatus::Suspended => "suspended",
            CredentialStatus::Revoked => "revoked",
        }
    }
}

impl Write for CredentialStatus {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
    }
}
impl commonware_codec::FixedSize for CredentialStatus {
    const SIZE: usize = 1;
}
impl Read for CredentialStatus {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(CredentialStatus::Active),
            1 => Ok(CredentialStatus::Suspended),
            2 => Ok(CredentialStatus::Revoked),
            other => Err(Error::InvalidEnum(other)),
        }
    }
}

/// One change of status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: CredentialStatus,
    /// Block time of the change.
    pub at_ms: u64,
    pub height: u64,
    pub reason: String,
}

impl Write for StatusChange {
    fn write(&self, buf: &mut impl BufMut) {
        self.status.write(buf);
        self.at_ms.write(buf);
        self.height.write(buf);
        write_str(&self.reason, buf);
    }
}
impl EncodeSize for StatusChange {
    fn encode_size(&self) -> usize {
        1 + 8 + 8 + str_size(&self.reason)
    }
}
impl Read for StatusChange {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(StatusChange {
            status: CredentialStatus::read(buf)?,
            at_ms: u64::read(buf)?,
            height: u64::read(buf)?,
            reason: read_str(buf, REASON_BYTES_MAX)?,
        })
    }
}

/// A credential as stored on chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub id: CredentialId,
    pub issuer: PartyId,
    pub subject: PartyId,
    pub credential_type: CredentialType,
    pub jurisdiction: Jurisdiction,
    pub number_commitment: Hash32,
    pub specialty: Option<String>,
    pub valid_from_ms: u64,
    pub valid_until_ms: u64,
    /// Status changes, oldest first; the first is the issuance (active).
    pub history: Vec<StatusChange>,
}

/// What a credential's standing is at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Active and within its validity window.
    Valid,
    /// Not issued yet at that time.
    NotIssued,
    /// Issued, but its validity starts later.
    NotYetValid,
    /// Its validity ended.
    Expired,
    Suspended,
    Revoked,
}

impl Standing {
    /// The standing's name.
    pub fn name(self) -> &'static str {
        match self {
            Standing::Valid => "valid",
            Standing::NotIssued => "not_issued",
            Standing::NotYetValid => "not_yet_valid",
            Standing::Expired => "expired",
            Standing::Suspended => "suspended",
            Standing::Revoked => "revoked",
        }
    }
}

impl Credential {
    /// The status its issuer had set at `time_ms`, if it was issued by then.
    pub fn status_at(&self, time_ms: u64) -> Option<CredentialStatus> {
        self.history
            .iter()
            .take_while(|change| change.at_ms <= time_ms)
            .last()
            .map(|change| change.status)
    }

    /// The current status set by the issuer.
    pub fn status(&self) -> CredentialStatus {
        self.history
            .last()
            .map_or(CredentialStatus::Active, |change| change.status)
    }

    /// Its standing at `time_ms`: revocation and suspension first, then the validity window.
    pub fn standing_at(&self, time_ms: u64) -> Standing {
        match self.status_at(time_ms) {
            None => Standing::NotIssued,
            Some(CredentialStatus::Revoked) => Standing::Revoked,
            Some(CredentialStatus::Suspended) => Standing::Suspended,
            Some(CredentialStatus::Active) if time_ms < self.valid_from_ms => Standing::NotYetValid,
            Some(CredentialStatus::Active) if time_ms >= self.valid_until_ms => Standing::Expired,
            Some(CredentialStatus::Active) => Standing::Valid,
        }
    }
}

impl Write for Credential {
    fn write(&self, buf: &mut impl BufMut) {
        self.id.write(buf);
        self.issuer.write(buf);
        self.subject.write(buf);
        self.credential_type.write(buf);
        self.jurisdiction.write(buf);
        self.number_commitment.write(buf);
        crate::codec::write_opt_str(self.specialty.as_deref(), buf);
        self.valid_from_ms.write(buf);
        self.valid_until_ms.write(buf);
        self.history.write(buf);
    }
}
impl EncodeSize for Credential {
    fn encode_size(&self) -> usize {
        32 + 32
            + 32
            + self.credential_type.encode_size()
            + self.jurisdiction.encode_size()
            + 32
            + crate::codec::opt_str_size(self.specialty.as_deref())
            + 8
            + 8
            + self.history.encode_size()
    }
}
impl Read for Credential {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Credential {
            id: CredentialId::read(buf)?,
            issuer: PartyId::read(buf)?,
            subject: PartyId::read(buf)?,
            credential_type: CredentialType::read(buf)?,
            jurisdiction: Jurisdiction::read(buf)?,
            number_commitment: Hash32::read(buf)?,
            specialty: crate::codec::read_opt_str(buf, SPECIALTY_BYTES_MAX)?,
            valid_from_ms: u64::read(buf)?,
            valid_until_ms: u64::read(buf)?,
            history: read_list(buf, STATUS_CHANGES_MAX)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};

    fn credential() -> Credential {
        let issuer = PartyId([1; 32]);
        let subject = PartyId([2; 32]);
        let credential_type = CredentialType::new("physician_licence").expect("valid");
        let jurisdiction = Jurisdiction::new("US-CA").expect("valid");
        let commitment = number_commitment(&[9; 32], "A123456");
        Credential {
            id: CredentialId::derive(
                &issuer,
                &subject,
                &credential_type,
                &jurisdiction,
                &commitment,
            ),
            issuer,
            subject,
            credential_type,
            jurisdiction,
            number_commitment: commitment,
            specialty: Some("cardiology".into()),
            valid_from_ms: 1_000,
            valid_until_ms: 10_000,
            history: vec![
                StatusChange {
                    status: CredentialStatus::Active,
                    at_ms: 500,
                    height: 1,
                    reason: "issued".into(),
                },
                StatusChange {
                    status: CredentialStatus::Suspended,
                    at_ms: 4_000,
                    height: 5,
                    reason: "audit".into(),
                },
                StatusChange {
                    status: CredentialStatus::Active,
                    at_ms: 6_000,
                    height: 7,
                    reason: "cleared".into(),
                },
                StatusChange {
                    status: CredentialStatus::Revoked,
                    at_ms: 8_000,
                    height: 9,
                    reason: "misconduct".into(),
                },
            ],
        }
    }

    #[test]
    fn standing_follows_history_and_window() {
        let c = credential();
        assert_eq!(c.standing_at(100), Standing::NotIssued);
        assert_eq!(c.standing_at(700), Standing::NotYetValid);
        assert_eq!(c.standing_at(2_000), Standing::Valid);
        assert_eq!(c.standing_at(4_000), Standing::Suspended);
        assert_eq!(c.standing_at(6_500), Standing::Valid);
        assert_eq!(c.standing_at(8_000), Standing::Revoked);
        let mut unrevoked = c.clone();
        unrevoked.history.pop();
        assert_eq!(unrevoked.standing_at(10_000), Standing::Expired);
    }

    #[test]
    fn codes_are_checked_and_credentials_round_trip() {
        assert!(CredentialType::new("Physician").is_err());
        assert!(Jurisdiction::new("us-ca").is_err());
        assert!(
            Jurisdiction::new("US-CA")
                .expect("valid")
                .satisfies(&Jurisdiction::new("US").expect("valid"))
        );
        assert!(
            !Jurisdiction::new("USA")
                .expect("valid")
                .satisfies(&Jurisdiction::new("US").expect("valid"))
        );
        let c = credential();
        assert_eq!(Credential::decode(c.encode()).expect("decodes"), c);
    }
}
