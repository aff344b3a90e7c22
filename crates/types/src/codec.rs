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
