//! Integration tests of the state machine: each rule, and properties of `apply`.

mod credentials;
mod governance;
mod identity;
mod properties;
mod records;
mod supply;

use futures::executor::block_on;
use medchain_state::{BlockEnv, BlockExecutor, MemoryState, TxError, TxOutcome, genesis, keys};
use medchain_types::{
    ChainId, Keypair, Party, PartyId, SignedTransaction, Transaction, TxBody, VerifiedTransaction,
    dev,
};

/// A chain in memory: state, height and time.
pub struct Chain {
    pub state: MemoryState,
    pub height: u64,
    pub time_ms: u64,
}

impl Chain {
    /// A chain with the dev genesis applied at height 1.
    pub fn dev() -> Self {
        let mut chain = Chain {
            state: MemoryState::new(),
            height: 0,
            time_ms: 1_700_000_000_000,
        };
        let genesis = dev::genesis(vec![(dev::keypair("v0").public_key(), "x:1".into())], 0);
        chain.height = 1;
        let env = chain.env();
        let mut executor = BlockExecutor::new(&chain.state, env);
        genesis::seed(&mut executor, &genesis);
        let output = executor.finish();
        chain.state.apply(&output);
        chain
    }

    pub fn chain_id() -> ChainId {
        ChainId::new(dev::DEV_CHAIN_ID).expect("valid")
    }

    fn env(&self) -> BlockEnv {
        BlockEnv {
            chain_id: Self::chain_id(),
            height: self.height,
            time_ms: self.time_ms,
            event_base: self.state.event_count(),
        }
    }

    /// Executes one block of transactions, returning each one's result.
    pub fn block(&mut self, txs: &[SignedTransaction]) -> Vec<Result<TxOutcome, TxError>> {
        self.height += 1;
        self.time_ms += 1_000;
        let env = self.env();
        let (results, output) = block_on(async {
            let mut executor = BlockExecutor::new(&self.state, env);
            let mut results = Vec::new();
            for tx in txs {
                let verified = VerifiedTransaction::verify(tx.clone(), &Self::chain_id())
                    .expect("tests sign their transactions correctly");
                results.push(executor.apply(&verified).await);
            }
            (results, executor.finish())
        });
        self.state.apply(&output);
        results
    }

    /// Executes a single transaction in its own block.
    pub fn one(&mut self, tx: SignedTransaction) -> Result<TxOutcome, TxError> {
        self.block(&[tx]).remove(0)
    }

    pub fn party(&self, id: &PartyId) -> Option<Party> {
        use commonware_codec::DecodeExt;
        self.state
            .entries()
            .get(&keys::party(id))
            .map(|bytes| Party::decode(bytes.clone()).expect("stored parties decode"))
    }

    pub fn nonce(&self, id: &PartyId) -> u64 {
        self.party(id).map_or(0, |party| party.nonce)
    }

    /// Signs `body` as the party whose key is `keypair`, with the party's next nonce.
    pub fn tx(&self, keypair: &Keypair, body: TxBody) -> SignedTransaction {
        let signer = self
            .state
            .entries()
            .get(&keys::signing_key(&keypair.public_key()))
            .map(|bytes| {
                use commonware_codec::DecodeExt;
                medchain_types::KeyRecord::decode(bytes.clone())
                    .expect("key records decode")
                    .party
            })
            .unwrap_or_else(|| PartyId::derive(&keypair.public_key()));
        let nonce = self.nonce(&signer);
        Transaction {
            chain_id: Self::chain_id(),
            signer,
            public_key: keypair.public_key(),
            nonce,
            body,
        }
        .sign(keypair)
    }
}

pub fn demo(name: &str) -> Keypair {
    dev::keypair(name)
}
