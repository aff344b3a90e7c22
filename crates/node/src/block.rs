//! The block consensus orders: the consensus context, our [`Header`] and the transactions.
//!
//! The digest consensus signs is `SHA-256(encode(context) || encode(header))`
//! ([`medchain_types::block_digest`]); the header commits to the transactions through
//! `tx_root`, so a light client needs only the context and header to tie a finalization
//! certificate to a state root.

use bytes::BufMut;
use commonware_codec::MaxEncodeSize;
use commonware_codec::{
    Buf, Encode, EncodeSize, Error as CodecError, FixedSize, Read, ReadExt, Write,
};
use commonware_consensus::{
    Block as ConsensusBlock, BoundedBlock, CertifiableBlock, Heightable,
    simplex::types::Context,
    types::{Epoch, Height, Round, View},
};
use commonware_cryptography::{Digestible, ed25519, sha256};
use medchain_types::{
    BlockHash, Hash32, Header, SignedTransaction, TxHash, block_digest,
    hash::merkle_root,
    limits::{BLOCK_BYTES_MAX, BLOCK_TRANSACTIONS_MAX, TRANSACTION_BYTES_MAX},
};
use std::sync::Arc;

/// The consensus context of a block.
pub type BlockContext = Context<sha256::Digest, ed25519::PublicKey>;

/// A block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub context: BlockContext,
    pub header: Header,
    pub transactions: Arc<Vec<SignedTransaction>>,
}

impl Block {
    /// The genesis block: height 0, no transactions, the empty databases' commitments.
    pub fn genesis(header: Header) -> Self {
        Self {
            context: Context {
                round: Round::new(Epoch::zero(), View::zero()),
                leader: genesis_leader(),
                parent: (View::zero(), sha256::Digest([0u8; 32])),
            },
            header,
            transactions: Arc::new(Vec::new()),
        }
    }

    /// The block's hash in our types.
    pub fn hash(&self) -> BlockHash {
        block_digest(&self.context.encode(), &self.header)
    }

    /// The Merkle root of transaction hashes.
    pub fn tx_root(transactions: &[SignedTransaction]) -> Hash32 {
        let hashes: Vec<Hash32> = transactions.iter().map(|tx| Hash32(tx.hash().0)).collect();
        merkle_root(&hashes)
    }

    /// Hashes of the block's transactions.
    pub fn tx_hashes(&self) -> Vec<TxHash> {
        self.transactions
            .iter()
            .map(SignedTransaction::hash)
            .collect()
    }
}

/// The genesis block names no real leader; this fixed key (from an all-zero seed) stands in.
fn genesis_leader() -> ed25519::PublicKey {
    use commonware_codec::DecodeExt as _;
    use commonware_cryptography::Signer as _;
    ed25519::PrivateKey::decode([0u8; 32].as_slice().to_vec())
        .expect("32 zero bytes are a valid ed25519 seed")
        .public_key()
}

/// Converts our block hash to the consensus digest type.
pub fn to_digest(hash: BlockHash) -> sha256::Digest {
    sha256::Digest(hash.0)
}

/// Converts a consensus digest to our block hash type.
pub fn from_digest(digest: &sha256::Digest) -> BlockHash {
    BlockHash(digest.0)
}

impl Write for Block {
    fn write(&self, buf: &mut impl BufMut) {
        self.context.write(buf);
        self.header.write(buf);
        (self.transactions.len() as u32).write(buf);
        for tx in self.transactions.iter() {
            tx.write(buf);
        }
    }
}

impl EncodeSize for Block {
    fn encode_size(&self) -> usize {
        self.context.encode_size()
            + Header::SIZE
            + 4
            + self
                .transactions
                .iter()
                .map(EncodeSize::encode_size)
                .sum::<usize>()
    }
}

impl Read for Block {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let context = BlockContext::read(buf)?;
        let header = Header::read(buf)?;
        let count = u32::read(buf)? as usize;
        if count > BLOCK_TRANSACTIONS_MAX {
            return Err(CodecError::InvalidLength(count));
        }
        if count != header.tx_count as usize {
            return Err(CodecError::Invalid(
                "Block",
                "transaction count differs from header",
            ));
        }
        let mut transactions = Vec::with_capacity(count);
        let mut bytes = 0usize;
        for _ in 0..count {
            let before = buf.remaining();
            let tx = SignedTransaction::read(buf)?;
            let size = before - buf.remaining();
            if size > TRANSACTION_BYTES_MAX {
                return Err(CodecError::Invalid(
                    "Block",
                    "transaction over the size limit",
                ));
            }
            bytes += size;
            if bytes > BLOCK_BYTES_MAX {
                return Err(CodecError::Invalid(
                    "Block",
                    "transactions over the block byte limit",
                ));
            }
            transactions.push(tx);
        }
        Ok(Block {
            context,
            header,
            transactions: Arc::new(transactions),
        })
    }
}

impl Digestible for Block {
    type Digest = sha256::Digest;

    fn digest(&self) -> sha256::Digest {
        to_digest(self.hash())
    }
}

impl Heightable for Block {
    fn height(&self) -> Height {
        Height::new(self.header.height)
    }
}

impl ConsensusBlock for Block {
    fn parent(&self) -> sha256::Digest {
        to_digest(self.header.parent)
    }
}

impl CertifiableBlock for Block {
    type Context = BlockContext;

    fn context(&self) -> Self::Context {
        self.context.clone()
    }
}

impl BoundedBlock for Block {
    fn max_encode_size(_: &()) -> usize {
        BlockContext::MAX_ENCODE_SIZE + Header::SIZE + 4 + BLOCK_BYTES_MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::DecodeExt;
    use medchain_types::{Transaction, TxBody, dev};

    #[test]
    fn block_round_trips_and_digest_covers_header() {
        let keypair = dev::keypair("hospital");
        let tx = Transaction {
            chain_id: medchain_types::ChainId::new("t").expect("valid"),
            signer: dev::party_id("hospital"),
            public_key: keypair.public_key(),
            nonce: 0,
            body: TxBody::Attest {
                subject: Hash32::ZERO,
                digest: Hash32::ZERO,
            },
        }
        .sign(&keypair);
        let mut block = Block::genesis(Header::default());
        block.header.tx_count = 1;
        block.header.tx_root = Block::tx_root(std::slice::from_ref(&tx));
        block.transactions = Arc::new(vec![tx]);
        let decoded = Block::decode(block.encode()).expect("decodes");
        assert_eq!(decoded, block);
        let mut other = block.clone();
        other.header.time_ms += 1;
        assert_ne!(other.digest(), block.digest());
    }

    #[test]
    fn a_block_whose_count_disagrees_with_its_header_is_refused() {
        let mut block = Block::genesis(Header::default());
        block.header.tx_count = 2;
        assert!(Block::decode(block.encode()).is_err());
    }
}
