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
