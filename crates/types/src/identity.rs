//! Parties, their kinds and roles.

use crate::{
    codec::{read_list, read_str, str_size, write_str},
    ids::PartyId,
    keys::{EncryptionKey, PublicKey},
    limits::{LABEL_BYTES_MAX, ROLES_MAX},
};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, FixedSize, Read, ReadExt, Write};
use serde::{Deserialize, Serialize};

/// What a party is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    /// A hospital, clinic, pharmacy, manufacturer, licensing board, regulator, ...: admitted by
    /// governance.
    Organisation,
    /// A person who practises under an organisation.
    Practitioner,
    /// A patient, known on chain only by a pseudonymous id.
    Patient,
    /// A device or system acting for an organisation.
    Device,
}

impl PartyKind {
    fn tag(self) -> u8 {
        match self {
            PartyKind::Organisation => 0,
            PartyKind::Practitioner => 1,
            PartyKind::Patient => 2,
            PartyKind::Device => 3,
        }
    }
}

impl Write for PartyKind {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
    }
}
impl FixedSize for PartyKind {
    const SIZE: usize = 1;
}
impl Read for PartyKind {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        match u8::read(buf)? {
            0 => Ok(PartyKind::Organisation),
            1 => Ok(PartyKind::Practitioner),
            2 => Ok(PartyKind::Patient),
            3 => Ok(PartyKind::Device),
            other => Err(Error::InvalidEnum(other)),
        }
    }
}

macro_rules! roles {
    ($($(#[$meta:meta])* $variant:ident = $tag:expr, $name:expr;)*) => {
        /// A capability a party holds. Modules check roles before they act.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Role {
            $($(#[$meta])* $variant,)*
        }

        impl Role {
            /// Every role, in tag order.
            pub const ALL: &'static [Role] = &[$(Role::$variant,)*];

            /// The role's stable one-byte tag.
            pub fn tag(self) -> u8 {
                match self { $(Role::$variant => $tag,)* }
            }

            /// The role from its tag.
            pub fn from_tag(tag: u8) -> Option<Role> {
                match tag { $($tag => Some(Role::$variant),)* _ => None }
            }

            /// The role's name, as in JSON and on the command line.
            pub fn name(self) -> &'static str {
                match self { $(Role::$variant => $name,)* }
            }

            /// The role from its name.
            pub fn from_name(name: &str) -> Option<Role> {
                match name { $($name => Some(Role::$variant),)* _ => None }
            }
        }
    };
}

roles! {
    /// Votes on governance proposals.
    Governor = 0, "governor";
    /// Registers practitioners, patients and devices under itself.
    Registrar = 1, "registrar";
    /// Provides care (hospital, clinic).
    Provider = 2, "provider";
    /// Dispenses medicines.
    Dispenser = 3, "dispenser";
    /// Manufactures medicines.
    Manufacturer = 4, "manufacturer";
    /// Wholesales or distributes medicines.
    Distributor = 5, "distributor";
    /// Issues practitioner credentials (a licensing board).
    CredentialIssuer = 6, "credential_issuer";
    /// Regulates (reads audit trails, recalls).
    Regulator = 7, "regulator";
    /// Sponsors clinical trials.
    TrialSponsor = 8, "trial_sponsor";
    /// Holds encrypted record content for others.
    Custodian = 9, "custodian";
    /// Runs a consensus validator.
    Validator = 10, "validator";
}

impl core::fmt::Display for Role {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Role {
    type Err = crate::error::ParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::from_name(text).ok_or_else(|| crate::error::ParseError::Invalid {
            what: "role",
            reason: format!(
                "unknown role {text:?}; known roles: {}",
                Role::ALL
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

impl Write for Role {
    fn write(&self, buf: &mut impl BufMut) {
        self.tag().write(buf);
    }
}
impl FixedSize for Role {
    const SIZE: usize = 1;
}
impl Read for Role {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let tag = u8::read(buf)?;
        Role::from_tag(tag).ok_or(Error::InvalidEnum(tag))
    }
}

/// A set of roles, kept sorted and free of duplicates so that it has one encoding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Roles(Vec<Role>);

impl Roles {
    /// Builds a role set (sorted, deduplicated).
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        let mut roles: Vec<Role> = roles.into_iter().collect();
        roles.sort();
        roles.dedup();
        Self(roles)
    }

    /// Whether the set holds `role`.
    pub fn contains(&self, role: Role) -> bool {
        self.0.binary_search(&role).is_ok()
    }

    /// The roles, sorted.
    pub fn as_slice(&self) -> &[Role] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let roles = Vec::<Role>::deserialize(deserializer)?;
        if roles.len() > ROLES_MAX {
            return Err(serde::de::Error::custom(format!(
                "at most {ROLES_MAX} roles, found {}",
                roles.len()
            )));
        }
        Ok(Roles::new(roles))
    }
}

impl Write for Roles {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl EncodeSize for Roles {
    fn encode_size(&self) -> usize {
        self.0.encode_size()
    }
}
impl Read for Roles {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let roles: Vec<Role> = read_list(buf, ROLES_MAX)?;
        if roles.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(Error::Invalid("Roles", "roles must be sorted and unique"));
        }
        Ok(Roles(roles))
    }
}

/// The state of a party, as stored on chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Permanent id.
    pub id: PartyId,
    /// What it is.
    pub kind: PartyKind,
    /// Current Ed25519 signing key.
    pub signing_key: PublicKey,
    /// Current X25519 encryption key.
    pub encryption_key: EncryptionKey,
    /// How many times the keys have been rotated.
    pub key_version: u32,
    /// A public name for organisations and practitioners; always empty for patients, whose
    /// identity never goes on chain.
    pub label: String,
    /// The organisation a practitioner, patient or device was registered by.
    pub organisation: Option<PartyId>,
    /// What it may do.
    pub roles: Roles,
    /// The next nonce its transactions must carry.
    pub nonce: u64,
    /// Height of the block that registered it (0 for genesis parties).
    pub registered_at: u64,
}

impl Write for Party {
    fn write(&self, buf: &mut impl BufMut) {
        self.id.write(buf);
        self.kind.write(buf);
        self.signing_key.write(buf);
        self.encryption_key.write(buf);
        self.key_version.write(buf);
        write_str(&self.label, buf);
        self.organisation.write(buf);
        self.roles.write(buf);
        self.nonce.write(buf);
        self.registered_at.write(buf);
    }
}
impl EncodeSize for Party {
    fn encode_size(&self) -> usize {
        self.id.encode_size()
            + self.kind.encode_size()
            + self.signing_key.encode_size()
            + self.encryption_key.encode_size()
            + self.key_version.encode_size()
            + str_size(&self.label)
            + self.organisation.encode_size()
            + self.roles.encode_size()
            + self.nonce.encode_size()
            + self.registered_at.encode_size()
    }
}
impl Read for Party {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Party {
            id: PartyId::read(buf)?,
            kind: PartyKind::read(buf)?,
            signing_key: PublicKey::read(buf)?,
            encryption_key: EncryptionKey::read(buf)?,
            key_version: u32::read(buf)?,
            label: read_str(buf, LABEL_BYTES_MAX)?,
            organisation: Option::<PartyId>::read(buf)?,
            roles: Roles::read(buf)?,
            nonce: u64::read(buf)?,
            registered_at: u64::read(buf)?,
        })
    }
}
