//! Deterministic multi-validator simulation of medchain.
//!
//! [`SimEngine`] runs real medchain validators (the production [`medchain_node::engine`]
//! wiring, our state machine, QMDB on the deterministic runtime's storage) over Commonware's
//! simulated network, inside glue's simulation harness: seeded, simulated time, scheduled
//! crashes, restarts and partitions. One validator may be replaced by a Byzantine mock that
//! sends conflicting votes. Validator 0 (when honest) also generates a stream of signed
//! transactions, so blocks carry real work.
//!
//! [`Agreement`] checks, after a run, that no two honest validators finalized different blocks
//! at any height; the harness's own tracker fails the run earlier if it sees two different
//! finalizations at one height or round.

use commonware_codec::DecodeExt as _;
use commonware_consensus::{
    simplex::mocks::conflicter::{self, Conflicter},
    types::Height,
};
use commonware_cryptography::{Digestible as _, Sha256, Signer as _, ed25519};
use commonware_glue::simulate::{
    engine::{EngineDefinition, InitContext},
    processed::ProcessedHeight,
    property::Property,
    reporter::MonitorReporter,
    tracker::ProgressTracker,
};
use commonware_runtime::{Clock as _, Handle, Quota, Spawner as _, Supervisor as _, deterministic};
use commonware_utils::NZU32;
use medchain_node::{
    app::BlockPolicy,
    engine::{self, Channels, EngineConfig, EngineHandles},
    mempool::MempoolLimits,
};
use medchain_types::{Genesis, Hash32, Transaction, TxBody, VerifiedTransaction, dev};
use std::{future::Future, pin::Pin, time::Duration};

/// The dev validator keys.
pub fn validator_key(index: usize) -> ed25519::PrivateKey {
    ed25519::PrivateKey::decode(dev::validator_seed(index).to_vec())
        .expect("32-byte seeds are valid ed25519 keys")
}

/// A dev genesis for `n` validators.
pub fn genesis(n: usize) -> Genesis {
    let validators = (0..n)
        .map(|index| {
            let key = validator_key(index).public_key();
            let public = medchain_types::PublicKey::from_slice(key.as_ref())
                .expect("ed25519 public keys are 32 bytes");
            (public, format!("127.0.0.1:{}", 30_000 + index))
        })
        .collect();
    dev::genesis(validators, 0)
}

/// A simulated validator set.
#[derive(Clone)]
pub struct SimEngine {
    genesis: Genesis,
    keys: Vec<ed25519::PrivateKey>,
    byzantine: Option<usize>,
    /// Transactions validator 0 submits per second of simulated time.
    load_per_second: u64,
}

impl SimEngine {
    /// `n` honest validators.
    pub fn new(n: usize) -> Self {
        Self {
            genesis: genesis(n),
            keys: (0..n).map(validator_key).collect(),
            byzantine: None,
            load_per_second: 50,
        }
    }

    /// Sets the load validator 0 generates (transactions per second; 0 for none).
    pub fn with_load(mut self, per_second: u64) -> Self {
        self.load_per_second = per_second;
        self
    }

    /// Replaces validator `index` with a Byzantine mock that sends conflicting votes.
    pub fn with_byzantine(mut self, index: usize) -> Self {
        self.byzantine = Some(index);
        self
    }
}

/// What the harness can inspect of a validator.
#[derive(Clone)]
pub enum NodeState {
    Honest(Box<EngineHandles<deterministic::Context>>),
    Byzantine,
}

impl ProcessedHeight for NodeState {
    async fn processed_height(&self) -> u64 {
        match self {
            NodeState::Honest(handles) => handles.view.tip().height,
            // A Byzantine mock never holds up a "height reached" exit condition.
            NodeState::Byzantine => u64::MAX,
        }
    }
}

impl EngineDefinition for SimEngine {
    type PublicKey = ed25519::PublicKey;
    type Engine = Handle<()>;
    type State = NodeState;

    fn participants(&self) -> Vec<ed25519::PublicKey> {
        let mut keys: Vec<_> = self.keys.iter().map(|key| key.public_key()).collect();
        keys.sort();
        keys
    }

    fn channels(&self) -> Vec<(u64, Quota)> {
        engine::channel::ALL
            .iter()
            .map(|channel| (*channel, Quota::per_second(NZU32!(10_000))))
            .collect()
    }

    fn max_message_size(&self) -> u32 {
        engine::max_message_size(self.keys.len() as u32)
    }

    async fn init(&self, ctx: InitContext<'_, ed25519::PublicKey>) -> (Handle<()>, NodeState) {
        let InitContext {
            context,
            public_key,
            oracle,
            channels,
            monitor,
            ..
        } = ctx;
        let key_index = self
            .keys
            .iter()
            .position(|key| &key.public_key() == public_key)
            .expect("participants come from our keys");
        let signer = self.keys[key_index].clone();
        if self.byzantine == Some(key_index) {
            let scheme =
                engine::signing_scheme(&self.genesis, signer).expect("the key is a validator");
            let votes = channels
                .into_iter()
                .next()
                .expect("the votes channel comes first");
            let handle = Conflicter::<_, _, Sha256>::new(context, conflicter::Config { scheme })
                .start(votes);
            return (handle, NodeState::Byzantine);
        }
        let config = EngineConfig {
            genesis: self.genesis.clone(),
            signer,
            partition_prefix: format!("validator-{key_index}"),
            mempool: MempoolLimits::default(),
            block_policy: BlockPolicy {
                transactions_max: 500,
                idle_wait: Duration::from_millis(50),
            },
            // Simulated validators hold little state; many run in one test process.
            page_cache_mib: 16,
        };
        let pk = public_key.clone();
        let load = self.load_per_second;
        let load_context = context.child("load");
        let (handle, handles) = engine::start(
            context,
            config,
            oracle.manager(),
            oracle.control(public_key.clone()),
            Channels::from_list(channels),
            move |mailbox| MonitorReporter::new(pk, monitor, mailbox),
        )
        .await;
        if key_index == 0 && load > 0 {
            let handles = handles.clone();
            let genesis = self.genesis.clone();
            load_context.spawn(move |context| generate_load(context, handles, genesis, load));
        }
        (handle, NodeState::Honest(Box::new(handles)))
    }

    fn start(engine: Handle<()>) -> Handle<()> {
        engine
    }
}

/// Submits attestations from the demo organisations at a steady rate, through the node's
/// mempool and gossip, as its API would.
async fn generate_load(
    context: deterministic::Context,
    handles: EngineHandles<deterministic::Context>,
    genesis: Genesis,
    per_second: u64,
) {
    let signers = ["hospital", "clinic", "pharmacy", "manufacturer"];
    let mut nonces = [0u64; 4];
    let interval = Duration::from_micros(1_000_000 / per_second.max(1));
    let mut counter = 0u64;
    loop {
        context.sleep(interval).await;
        let which = (counter % signers.len() as u64) as usize;
        counter += 1;
        let keypair = dev::keypair(signers[which]);
        let tx = Transaction {
            chain_id: genesis.chain_id.clone(),
            signer: dev::party_id(signers[which]),
            public_key: keypair.public_key(),
            nonce: nonces[which],
            body: TxBody::Attest {
                subject: Hash32([which as u8; 32]),
                digest: medchain_types::sha256(&counter.to_be_bytes()),
            },
        }
        .sign(&keypair);
        nonces[which] += 1;
        let verified = VerifiedTransaction::verify(tx.clone(), &genesis.chain_id)
            .expect("the load generator signs correctly");
        if handles.mempool.insert(verified).is_ok() {
            handles.gossip.publish(tx);
        }
    }
}

/// No two honest validators hold different finalized blocks at any height up to `height`, and
/// every honest validator's chain carries committed transactions.
#[derive(Clone)]
pub struct Agreement {
    pub height: u64,
}

impl Property<ed25519::PublicKey, NodeState> for Agreement {
    fn name(&self) -> &str {
        "agreement"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a NodeState],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let mut transactions = 0usize;
            for height in 1..=self.height {
                let mut seen = None;
                for state in states {
                    let NodeState::Honest(handles) = state else {
                        continue;
                    };
                    let Some(block) = handles.marshal.get_block(Height::new(height)).await else {
                        continue;
                    };
                    let digest = block.digest();
                    match seen {
                        None => {
                            seen = Some(digest);
                            transactions += block.inner().transactions.len();
                        }
                        Some(other) if other != digest => {
                            return Err(format!(
                                "two different blocks finalized at height {height}"
                            ));
                        }
                        Some(_) => {}
                    }
                }
            }
            if transactions == 0 {
                return Err("no transaction was committed".into());
            }
            Ok(())
        })
    }
}

/// Proofs served by every honest validator verify offline against the genesis alone, for a
/// present key and an absent one, and a tampered value is refused.
#[derive(Clone)]
pub struct ProofsVerify {
    pub genesis: Genesis,
}

impl ProofsVerify {
    /// For the genesis of `n` dev validators.
    pub fn new(n: usize) -> Self {
        Self {
            genesis: genesis(n),
        }
    }
}

impl Property<ed25519::PublicKey, NodeState> for ProofsVerify {
    fn name(&self) -> &str {
        "proofs_verify"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a NodeState],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            use medchain_node::{light, service::NodeService};
            for state in states {
                let NodeState::Honest(handles) = state else {
                    continue;
                };
                let service = NodeService::new(
                    (**handles).clone(),
                    self.genesis.clone(),
                    medchain_types::PublicKey::default(),
                )
                .await;
                let present = medchain_state::keys::party(&dev::party_id("hospital"));
                let answer = service
                    .state(present.clone(), true)
                    .await
                    .map_err(|problem| problem.detail)?;
                let verified = light::verify_state(&self.genesis, &answer, &present)
                    .map_err(|e| e.to_string())?;
                if verified.value.is_none() {
                    return Err("present key verified as absent".into());
                }
                let mut tampered = answer.clone();
                if let Some(value) = tampered.value.as_mut() {
                    // Flip the last hex digit of the value.
                    let last = value.pop().unwrap_or('0');
                    value.push(if last == '0' { '1' } else { '0' });
                }
                if light::verify_state(&self.genesis, &tampered, &present).is_ok() {
                    return Err("a tampered value verified".into());
                }
                let absent = medchain_state::keys::party(&medchain_types::PartyId([7; 32]));
                let answer = service
                    .state(absent.clone(), true)
                    .await
                    .map_err(|problem| problem.detail)?;
                let verified = light::verify_state(&self.genesis, &answer, &absent)
                    .map_err(|e| e.to_string())?;
                if light::verify_state(&self.genesis, &answer, &present).is_ok() {
                    return Err("a proof of one key verified as the proof of another".into());
                }
                if verified.value.is_some() {
                    return Err("absent key verified as present".into());
                }
            }
            Ok(())
        })
    }
}
