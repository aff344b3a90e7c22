//! Identifiers.

use crate::{error::ParseError, hash::hash_parts, keys::PublicKey, limits::CHAIN_ID_BYTES_MAX};

crate::fixed_bytes!(
    /// A party's permanent id: the hash of the signing key it was registered with. Keys rotate;
    /// the id does not.
    PartyId,
    32
);
crate::fixed_bytes!(
    /// The hash of a signed transaction's canonical encoding.
    TxHash,
    32
);
crate::fixed_bytes!(
    /// The digest of a block, as finalized by consensus.
    BlockHash,
    32
);

impl PartyId {
    /// Derives the id of a party registered with `signing_key`.
    pub fn derive(signing_key: &PublicKey) -> Self {
        Self(hash_parts(b"medchain/party-id/v1", &[&signing_key.0]).0)
    }
}

/// The chain a transaction is bound to: 1 to 64 bytes of `[a-z0-9-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ChainId(String);

impl ChainId {
    /// Checks and wraps a chain id.
    pub fn new(text: impl Into<String>) -> Result<Self, ParseError> {
        let text = text.into();
        if text.is_empty() || text.len() > CHAIN_ID_BYTES_MAX {
            return Err(ParseError::Invalid {
                what: "chain id",
                reason: format!(
                    "length must be 1 to {CHAIN_ID_BYTES_MAX} bytes, found {}",
                    text.len()
                ),
            });
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(ParseError::Invalid {
                what: "chain id",
                reason: format!("only a-z, 0-9 and '-' are allowed, found {bad:?}"),
            });
        }
        Ok(Self(text))
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for ChainId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ChainId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ChainId::new(text).map_err(serde::de::Error::custom)
    }
}

impl commonware_codec::Write for ChainId {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        crate::codec::write_str(&self.0, buf);
    }
}

impl commonware_codec::EncodeSize for ChainId {
    fn encode_size(&self) -> usize {
        crate::codec::str_size(&self.0)
    }
}

impl commonware_codec::Read for ChainId {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        _: &(),
    ) -> Result<Self, commonware_codec::Error> {
        let text = crate::codec::read_str(buf, CHAIN_ID_BYTES_MAX)?;
        ChainId::new(text).map_err(|_| commonware_codec::Error::Invalid("ChainId", "bad chain id"))
    }
}
