//! SHA-256 digests and the domain-separated hashing every commitment uses.

use sha2::{Digest as _, Sha256};

crate::fixed_bytes!(
    /// A SHA-256 digest.
    Hash32,
    32
);

impl Hash32 {
    /// The all-zero digest, used where "none" must still have a fixed width (the genesis parent).
    pub const ZERO: Hash32 = Hash32([0u8; 32]);
}

/// Hashes `parts` under `domain`. Each part is length-prefixed so that different splits of the
/// same bytes never collide.
pub fn hash_parts(domain: &[u8], parts: &[&[u8]]) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update((domain.len() as u32).to_be_bytes());
    hasher.update(domain);
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    Hash32(hasher.finalize().into())
}

/// Plain SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Hash32 {
    Hash32(Sha256::digest(bytes).into())
}

/// A binary Merkle root over `leaves` (already hashed), with distinct leaf and node domains and
/// the odd node promoted. An empty list has the root of the empty string under the leaf domain.
pub fn merkle_root(leaves: &[Hash32]) -> Hash32 {
    if leaves.is_empty() {
        return hash_parts(b"medchain/merkle/empty", &[]);
    }
    let mut level: Vec<Hash32> = leaves
        .iter()
        .map(|leaf| hash_parts(b"medchain/merkle/leaf", &[&leaf.0]))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => hash_parts(b"medchain/merkle/node", &[&left.0, &right.0]),
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_parts_separates_splits() {
        assert_ne!(
            hash_parts(b"d", &[b"ab", b"c"]),
            hash_parts(b"d", &[b"a", b"bc"])
        );
        assert_ne!(hash_parts(b"d1", &[b"a"]), hash_parts(b"d2", &[b"a"]));
    }

    #[test]
    fn merkle_root_depends_on_order_and_count() {
        let a = sha256(b"a");
        let b = sha256(b"b");
        let c = sha256(b"c");
        assert_ne!(merkle_root(&[a, b]), merkle_root(&[b, a]));
        assert_ne!(merkle_root(&[a, b]), merkle_root(&[a, b, c]));
        assert_ne!(merkle_root(&[a]), merkle_root(&[]));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = sha256(b"x");
        assert_eq!(Hash32::from_hex(&h.to_hex()), Ok(h));
        assert!(Hash32::from_hex("abc").is_err());
        assert!(Hash32::from_hex(&"zz".repeat(32)).is_err());
    }
}
