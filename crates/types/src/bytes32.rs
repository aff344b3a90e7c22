//! Fixed-size byte strings (hashes, ids, keys) with one hex text form everywhere: in JSON, in
//! the CLI, in logs and in state keys.

/// Declares a fixed-size byte newtype with hex text, serde and canonical codec support.
#[macro_export]
macro_rules! fixed_bytes {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Lower-case hex.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// Parses lower- or upper-case hex of exactly the right length.
            pub fn from_hex(text: &str) -> Result<Self, $crate::error::ParseError> {
                let text = text.strip_prefix("0x").unwrap_or(text);
                let mut out = [0u8; $len];
                hex::decode_to_slice(text, &mut out).map_err(|_| {
                    $crate::error::ParseError::Hex {
                        what: stringify!($name),
                        expected_bytes: $len,
                        found_chars: text.len(),
                    }
                })?;
                Ok(Self(out))
            }

            /// Builds the value from a slice of exactly the right length.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, $crate::error::ParseError> {
                let array: [u8; $len] = bytes.try_into().map_err(|_| {
                    $crate::error::ParseError::Length {
                        what: stringify!($name),
                        expected: $len,
                        found: bytes.len(),
                    }
                })?;
                Ok(Self(array))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self([0u8; $len])
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl core::str::FromStr for $name {
            type Err = $crate::error::ParseError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::from_hex(text)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }

        impl commonware_codec::Write for $name {
            fn write(&self, buf: &mut impl bytes::BufMut) {
                buf.put_slice(&self.0);
            }
        }

        impl commonware_codec::FixedSize for $name {
            const SIZE: usize = $len;
        }

        impl commonware_codec::Read for $name {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl commonware_codec::Buf,
                _: &(),
            ) -> Result<Self, commonware_codec::Error> {
                let array = <[u8; $len] as commonware_codec::ReadExt>::read(buf)?;
                Ok(Self(array))
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
    };
}
