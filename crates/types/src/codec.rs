//! Helpers for the canonical binary codec (`commonware-codec`): strings, bounded lists and
//! one-byte enum tags. Every decoder takes its bound from [`crate::limits`].

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, RangeCfg, Read, Write};

/// Writes a UTF-8 string as a length-prefixed byte string.
pub fn write_str(text: &str, buf: &mut impl BufMut) {
    text.as_bytes().to_vec().write(buf);
}

/// The encoded size of [`write_str`]'s output.
pub fn str_size(text: &str) -> usize {
    commonware_codec::varint::UInt(text.len() as u32).encode_size() + text.len()
}

/// Reads a length-prefixed UTF-8 string of at most `max_bytes`.
pub fn read_str(buf: &mut impl Buf, max_bytes: usize) -> Result<String, Error> {
    let bytes = Vec::<u8>::read_cfg(buf, &(RangeCfg::new(0..=max_bytes), ()))?;
    String::from_utf8(bytes).map_err(|_| Error::Invalid("string", "not UTF-8"))
}

/// Reads a list of at most `max_items` items whose own config is `()`.
pub fn read_list<T: Read<Cfg = ()>>(buf: &mut impl Buf, max_items: usize) -> Result<Vec<T>, Error> {
    Vec::<T>::read_cfg(buf, &(RangeCfg::new(0..=max_items), ()))
}

/// Reads a length-prefixed byte string of at most `max_bytes`.
pub fn read_bytes(buf: &mut impl Buf, max_bytes: usize) -> Result<Vec<u8>, Error> {
    Vec::<u8>::read_cfg(buf, &(RangeCfg::new(0..=max_bytes), ()))
}

/// Writes an optional string: a one-byte tag (0 none, 1 some), then the string.
pub fn write_opt_str(text: Option<&str>, buf: &mut impl BufMut) {
    match text {
        Some(text) => {
            1u8.write(buf);
            write_str(text, buf);
        }
        None => 0u8.write(buf),
    }
}

/// The encoded size of [`write_opt_str`]'s output.
pub fn opt_str_size(text: Option<&str>) -> usize {
    1 + text.map_or(0, str_size)
}

/// Reads an optional string of at most `max_bytes`.
pub fn read_opt_str(buf: &mut impl Buf, max_bytes: usize) -> Result<Option<String>, Error> {
    match <u8 as commonware_codec::ReadExt>::read(buf)? {
        0 => Ok(None),
        1 => Ok(Some(read_str(buf, max_bytes)?)),
        other => Err(Error::InvalidEnum(other)),
    }
}

/// Implements `Write`, `EncodeSize` and `Read` for a struct, field by field in declaration
/// order. Each field names its encoding: `v` (the field's own codec, config `()`), `s(max)` (a
/// string of at most `max` bytes), `os(max)` (an optional string), `l(max)` (a list of at most
/// `max` items with config `()`).
macro_rules! struct_codec {
    ($ty:ident { $($field:ident : $kind:ident $(($max:expr))?),* $(,)? }) => {
        impl commonware_codec::Write for $ty {
            fn write(&self, buf: &mut impl bytes::BufMut) {
                $( $crate::codec::field_write!($kind, &self.$field, buf); )*
            }
        }
        impl commonware_codec::EncodeSize for $ty {
            fn encode_size(&self) -> usize {
                0 $( + $crate::codec::field_size!($kind, &self.$field) )*
            }
        }
        impl commonware_codec::Read for $ty {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl commonware_codec::Buf,
                _: &(),
            ) -> Result<Self, commonware_codec::Error> {
                Ok(Self {
                    $( $field: $crate::codec::field_read!($kind $(($max))?, buf), )*
                })
            }
        }
    };
}
pub(crate) use struct_codec;

macro_rules! field_write {
    (v, $value:expr, $buf:ident) => {
        commonware_codec::Write::write($value, $buf)
    };
    (s, $value:expr, $buf:ident) => {
        $crate::codec::write_str($value, $buf)
    };
    (os, $value:expr, $buf:ident) => {
        $crate::codec::write_opt_str(($value).as_deref(), $buf)
    };
    (l, $value:expr, $buf:ident) => {
        commonware_codec::Write::write($value, $buf)
    };
}
pub(crate) use field_write;

macro_rules! field_size {
    (v, $value:expr) => {
        commonware_codec::EncodeSize::encode_size($value)
    };
    (s, $value:expr) => {
        $crate::codec::str_size($value)
    };
    (os, $value:expr) => {
        $crate::codec::opt_str_size(($value).as_deref())
    };
    (l, $value:expr) => {
        commonware_codec::EncodeSize::encode_size($value)
    };
}
pub(crate) use field_size;

macro_rules! field_read {
    (v, $buf:ident) => {
        commonware_codec::ReadExt::read($buf)?
    };
    (s($max:expr), $buf:ident) => {
        $crate::codec::read_str($buf, $max)?
    };
    (os($max:expr), $buf:ident) => {
        $crate::codec::read_opt_str($buf, $max)?
    };
    (l($max:expr), $buf:ident) => {
        $crate::codec::read_list($buf, $max)?
    };
}
pub(crate) use field_read;
