//! Append-only lists in state: a count and numbered items, each its own key, so a list can be
//! read page by page and every item proven on its own (state keys are hashed in the
//! authenticated store, so there are no prefix scans).
//!
//! Keys: `l/<list>/<owner>` holds the count (u64, big-endian); `l/<list>/<owner>/<seq>` (seq
//! as 8 big-endian bytes) holds item `seq`.

use crate::{
    error::{StateError, TxError},
    executor::TxContext,
    view::StateRead,
};

/// The lists modules keep, by name.
pub mod names {
    /// A patient's records: record ids.
    pub const RECORDS: &str = "records";
    /// A patient's grants: grant ids.
    pub const GRANTS: &str = "grants";
    /// Grants made to a party: grant ids.
    pub const GRANTED: &str = "granted";
    /// A patient's access log: encoded `AccessEntry`s.
    pub const ACCESS: &str = "access";
    /// Break-glass declarations about a patient: ids.
    pub const BREAK_GLASS: &str = "break-glass";
    /// Every packing into a container (owner: `supply::contents_owner`): the encoded
    /// `Objects` packed at once; the container holds those whose parent it still is.
    pub const CONTENTS: &str = "contents";
    /// A lot's commissioning batches (owner: `supply::lot_owner`): encoded `LotBatch`es.
    pub const LOT_BATCHES: &str = "lot-batches";
    /// Suspect-product alerts, per manufacturer and for regulators (owner
    /// `supply::ALERTS_ALL`): encoded `Alert`s.
    pub const ALERTS: &str = "alerts";
    /// Supply events by the UTC day of their event time (owner: `supply::day_owner`), for
    /// EPCIS time queries: encoded `EventRef`s.
    pub const EVENT_DAYS: &str = "supply-days";
    /// The events that name a lot (owner: `supply::lot_owner`): its commissionings,
    /// transformations into it and its recall, for EPCIS lot queries: encoded `EventRef`s.
    pub const LOT_EVENTS: &str = "lot-events";
    /// Every list name, for parsing keys.
    pub const ALL: &[&str] = &[
        RECORDS,
        GRANTS,
        GRANTED,
        ACCESS,
        BREAK_GLASS,
        CONTENTS,
        LOT_BATCHES,
        ALERTS,
        EVENT_DAYS,
        LOT_EVENTS,
    ];
}

/// `l/<list>/<owner>`.
pub fn count_key(list: &str, owner: &[u8; 32]) -> Vec<u8> {
    let mut key = b"l/".to_vec();
    key.extend_from_slice(list.as_bytes());
    key.push(b'/');
    key.extend_from_slice(owner);
    key
}

/// `l/<list>/<owner>/<seq>`.
pub fn item_key(list: &str, owner: &[u8; 32], seq: u64) -> Vec<u8> {
    let mut key = count_key(list, owner);
    key.push(b'/');
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The position of an item of `list` of `owner` from its key (the inverse of [`item_key`]).
pub fn item_seq(list: &str, owner: &[u8; 32], key: &[u8]) -> Option<u64> {
    let prefix = count_key(list, owner);
    let rest = key.strip_prefix(prefix.as_slice())?.strip_prefix(b"/")?;
    Some(u64::from_be_bytes(rest.try_into().ok()?))
}

/// Decodes a stored count.
pub fn decode_count(key: &[u8], bytes: &[u8]) -> Result<u64, StateError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| StateError::Corrupt {
        key: crate::keys::describe(key),
        reason: format!("a list count is 8 bytes, found {}", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(array))
}

/// Number of items in a list.
pub async fn len<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    list: &str,
    owner: &[u8; 32],
) -> Result<u64, TxError> {
    let key = count_key(list, owner);
    match ctx.get(&key).await? {
        Some(bytes) => Ok(decode_count(&key, &bytes)?),
        None => Ok(0),
    }
}

/// Appends an item; returns its position.
pub async fn push<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    list: &str,
    owner: &[u8; 32],
    item: Vec<u8>,
) -> Result<u64, TxError> {
    extend(ctx, list, owner, [item]).await
}

/// Appends items, reading and writing the count once; returns the first one's position.
pub async fn extend<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    list: &str,
    owner: &[u8; 32],
    items: impl IntoIterator<Item = Vec<u8>>,
) -> Result<u64, TxError> {
    let first = len(ctx, list, owner).await?;
    let mut seq = first;
    for item in items {
        ctx.put(item_key(list, owner, seq), item);
        seq += 1;
    }
    ctx.put(count_key(list, owner), seq.to_be_bytes().to_vec());
    Ok(first)
}

/// A page of a list as a pure query (what a node answers and a client recomputes from
/// proofs): its count, then items `from` to `from + limit` or the list's end, each read by
/// its own key. An item below the count that is missing is corrupt state.
pub async fn page<R: StateRead>(
    read: &R,
    list: &str,
    owner: &[u8; 32],
    from: u64,
    limit: u64,
) -> Result<(u64, Vec<Vec<u8>>), StateError> {
    let key = count_key(list, owner);
    let count = match read.get(&key).await? {
        Some(bytes) => decode_count(&key, &bytes)?,
        None => 0,
    };
    let mut items = Vec::new();
    for seq in from..count.min(from.saturating_add(limit)) {
        let key = item_key(list, owner, seq);
        let item = read.get(&key).await?.ok_or_else(|| StateError::Corrupt {
            key: crate::keys::describe(&key),
            reason: format!("the list counts {count} items, but item {seq} is missing"),
        })?;
        items.push(item);
    }
    Ok((count, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_items_position_reads_back_from_its_key() {
        let (owner, other) = ([7u8; 32], [8u8; 32]);
        let key = item_key(names::LOT_BATCHES, &owner, 513);
        assert_eq!(item_seq(names::LOT_BATCHES, &owner, &key), Some(513));
        assert_eq!(item_seq(names::LOT_BATCHES, &other, &key), None);
        assert_eq!(item_seq(names::CONTENTS, &owner, &key), None);
        assert_eq!(
            item_seq(
                names::LOT_BATCHES,
                &owner,
                &count_key(names::LOT_BATCHES, &owner)
            ),
            None
        );
    }
}
