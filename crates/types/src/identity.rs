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

/// Why a signing key stopped signing for its party.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRetirement {
    /// The party rotated to a new key; what the old key signed while it was current stands.
    Rotated,
    /// Governance replaced it as compromised: nothing it signed is trusted any more, since a
    /// holder of the key can claim any signing time.
    Recovered,
}

/// What the chain knows of a signing key, stored under `key/<public key>`: every key a party
/// ever held stays here, so a signature made with an earlier key can still be judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The party the key signs for.
    pub party: PartyId,
    /// The party's key version this key was.
    pub key_version: u32,
    /// Block time from which it signed for the party.
    pub active_from_ms: u64,
    /// When and why it stopped, if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<(u64, KeyRetirement)>,
}

impl KeyRecord {
    /// Whether a signature this key made, claiming to be from `signed_at_ms`, can be trusted:
    /// the key was current then and has not been replaced as compromised.
    pub fn trusted_at(&self, signed_at_ms: u64) -> Result<(), &'static str> {
        if signed_at_ms < self.active_from_ms {
            return Err("signed before the key belonged to its party");
        }
        match self.retired {
            None => Ok(()),
            Some((_, KeyRetirement::Recovered)) => {
                Err("the key was replaced as compromised; nothing it signed is trusted")
            }
            Some((at_ms, KeyRetirement::Rotated)) if signed_at_ms >= at_ms => {
                Err("signed after the key was rotated out")
            }
            Some(_) => Ok(()),
        }
    }
}

impl Write for KeyRecord {
    fn write(&self, buf: &mut impl BufMut) {
        self.party.write(buf);
        self.key_version.write(buf);
        self.active_from_ms.write(buf);
        match self.retired {
            None => 0u8.write(buf),
            Some((at_ms, KeyRetirement::Rotated)) => {
                1u8.write(buf);
                at_ms.write(buf);
            }
            Some((at_ms, KeyRetirement::Recovered)) => {
                2u8.write(buf);
                at_ms.write(buf);
            }
        }
    }
}
impl EncodeSize for KeyRecord {
    fn encode_size(&self) -> usize {
        32 + 4 + 8 + 1 + if self.retired.is_some() { 8 } else { 0 }
    }
}
impl Read for KeyRecord {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        let party = PartyId::read(buf)?;
        let key_version = u32::read(buf)?;
        let active_from_ms = u64::read(buf)?;
        let retired = match u8::read(buf)? {
            0 => None,
            1 => Some((u64::read(buf)?, KeyRetirement::Rotated)),
            2 => Some((u64::read(buf)?, KeyRetirement::Recovered)),
            other => return Err(Error::InvalidEnum(other)),
        };
        Ok(Self {
            party,
            key_version,
            active_from_ms,
            retired,
        })
    }
}
