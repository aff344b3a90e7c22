//! Transaction gossip between validators.
//!
//! Transactions accepted by a node's API are batched (up to [`BATCH_TRANSACTIONS_MAX`] or
//! [`BATCH_BYTES_MAX`], or whatever arrived within [`FLUSH_INTERVAL`]) and sent to every
//! validator on the mempool channel. A receiver checks each transaction statelessly (strict
//! signatures, in parallel) and adds it to its pool; the validator set is a full mesh, so
//! nothing is relayed further. A peer sending an undecodable batch or a badly signed
//! transaction is blocked.

use crate::mempool::Mempool;
use commonware_codec::{Decode, Encode, RangeCfg};
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Spawner};
use futures::{StreamExt, channel::mpsc};
use medchain_types::{ChainId, SignedTransaction, VerifiedTransaction};
use rayon::prelude::*;
use std::time::Duration;

/// Most transactions per gossip message.
pub const BATCH_TRANSACTIONS_MAX: usize = 2_048;
/// Most bytes per gossip message.
pub const BATCH_BYTES_MAX: usize = 1024 * 1024;
/// Longest a transaction waits before it is sent.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(10);
/// Largest gossip message on the wire (the batch plus its length prefix and slack).
pub const MESSAGE_BYTES_MAX: usize =
    BATCH_BYTES_MAX + medchain_types::limits::TRANSACTION_BYTES_MAX + 64;

/// Queues transactions for gossip.
#[derive(Clone)]
pub struct GossipHandle {
    sender: mpsc::Sender<SignedTransaction>,
}

impl GossipHandle {
    /// Queues a transaction; if the queue is full the transaction still sits in the local
    /// pool and reaches the chain when this node leads.
    pub fn publish(&self, tx: SignedTransaction) {
        let _ = self.sender.clone().try_send(tx);
    }
}

/// Starts the gossip sender and receiver tasks.
pub fn start<E, S, R, B>(
    context: E,
    chain_id: ChainId,
    mempool: Mempool,
    (sender, receiver): (S, R),
    blocker: B,
) -> GossipHandle
where
    E: Spawner + Clock,
    S: Sender + 'static,
    R: Receiver<PublicKey = S::PublicKey>,
    B: Blocker<PublicKey = S::PublicKey> + 'static,
{
    let (queue, outbox) = mpsc::channel(65_536);
    context
        .child("gossip_out")
        .spawn(move |context| send_loop(context, outbox, sender));
    context
        .child("gossip_in")
        .spawn(move |_| receive_loop(chain_id, mempool, receiver, blocker));
    GossipHandle { sender: queue }
}

async fn send_loop<E: Clock, S: Sender>(
    context: E,
    mut outbox: mpsc::Receiver<SignedTransaction>,
    mut sender: S,
) {
    let mut batch: Vec<SignedTransaction> = Vec::new();
    let mut bytes = 0usize;
    loop {
        let next = if batch.is_empty() {
            outbox.next().await
        } else {
            let timeout = context.sleep(FLUSH_INTERVAL);
            futures::pin_mut!(timeout);
            match futures::future::select(outbox.next(), timeout).await {
                futures::future::Either::Left((next, _)) => next,
                futures::future::Either::Right(_) => {
                    flush(&mut sender, &mut batch, &mut bytes);
                    continue;
                }
            }
        };
        let Some(tx) = next else {
            flush(&mut sender, &mut batch, &mut bytes);
            return;
        };
        let size = tx.encode().len();
        if bytes + size > BATCH_BYTES_MAX {
            flush(&mut sender, &mut batch, &mut bytes);
        }
        bytes += size;
        batch.push(tx);
        if batch.len() >= BATCH_TRANSACTIONS_MAX {
            flush(&mut sender, &mut batch, &mut bytes);
        }
    }
}

fn flush<S: Sender>(sender: &mut S, batch: &mut Vec<SignedTransaction>, bytes: &mut usize) {
    if batch.is_empty() {
        return;
    }
    let message = std::mem::take(batch).encode();
    *bytes = 0;
    sender.send(Recipients::All, message, false);
}

async fn receive_loop<R: Receiver, B: Blocker<PublicKey = R::PublicKey>>(
    chain_id: ChainId,
    mempool: Mempool,
    mut receiver: R,
    mut blocker: B,
) {
    while let Ok((peer, message)) = receiver.recv().await {
        let cfg = (RangeCfg::new(0..=BATCH_TRANSACTIONS_MAX), ());
        let batch = match Vec::<SignedTransaction>::decode_cfg(message, &cfg) {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(?peer, %err, "undecodable gossip; blocking peer");
                blocker.block(peer);
                continue;
            }
        };
        let checked: Vec<Result<VerifiedTransaction, _>> = batch
            .into_par_iter()
            .map(|tx| VerifiedTransaction::verify(tx, &chain_id))
            .collect();
        let mut bad = false;
        for result in checked {
            match result {
                // Already pending or the pool is full: both are fine for gossip.
                Ok(tx) => {
                    let _ = mempool.insert(tx);
                }
                Err(_) => bad = true,
            }
        }
        if bad {
            tracing::warn!(?peer, "peer gossiped an invalid transaction; blocking peer");
            blocker.block(peer);
        }
    }
}
