//! Replication of record content and wrapped keys between custodians, over the validators'
//! authenticated p2p network (its own channel).
//!
//! A custodian that received content or a wrapped key pushes it to the validators run by the
//! other custodians the record version names. Nothing is trusted because of who sent it: a
//! receiver stores content only if a finalized version naming its own organisation anchors
//! that exact hash, and a wrapped key only if the key holder's signature over it verifies and
//! the holder may share it. Messages that cannot be checked yet (the receiver's chain is a
//! block behind) wait briefly and are checked again.

use commonware_codec::{Decode, Encode, EncodeSize, Error, Read, ReadExt, Write};
use commonware_cryptography::ed25519;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::Spawner;
use futures::{StreamExt, channel::mpsc};
use medchain_types::{PartyId, Signature, limits::RECORD_CIPHERTEXT_BYTES_MAX, records::RecordId};

/// Most replicas queued in each direction.
pub const QUEUE_MAX: usize = 32;

/// Largest replication message on the wire.
pub const MESSAGE_BYTES_MAX: usize = RECORD_CIPHERTEXT_BYTES_MAX + 1_024;

/// What custodians send each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replica {
    /// Sealed content of a record version.
    Content {
        record: RecordId,
        version: u32,
        bytes: Vec<u8>,
    },
    /// A data key wrapped for `recipient`, signed by the party that shared it.
    Key {
        record: RecordId,
        version: u32,
        recipient: PartyId,
        uploader: PartyId,
        wrapped: [u8; 80],
        signature: Signature,
    },
    /// Asks for a version's content and keys (a custodian that missed a push).
    Request { record: RecordId, version: u32 },
}

impl Write for Replica {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        match self {
            Replica::Content {
                record,
                version,
                bytes,
            } => {
                0u8.write(buf);
                record.write(buf);
                version.write(buf);
                bytes.write(buf);
            }
            Replica::Key {
                record,
                version,
                recipient,
                uploader,
                wrapped,
                signature,
            } => {
                1u8.write(buf);
                record.write(buf);
                version.write(buf);
                recipient.write(buf);
                uploader.write(buf);
                buf.put_slice(wrapped);
                signature.write(buf);
            }
            Replica::Request { record, version } => {
                2u8.write(buf);
                record.write(buf);
                version.write(buf);
            }
        }
    }
}

impl EncodeSize for Replica {
    fn encode_size(&self) -> usize {
        1 + match self {
            Replica::Content { bytes, .. } => 32 + 4 + bytes.encode_size(),
            Replica::Key { .. } => 32 + 4 + 32 + 32 + 80 + 64,
            Replica::Request { .. } => 32 + 4,
        }
    }
}

impl Replica {
    /// Bytes of content it carries (what it costs to hold it).
    pub fn content_bytes(&self) -> usize {
        match self {
            Replica::Content { bytes, .. } => bytes.len(),
            _ => 0,
        }
    }
}

impl Read for Replica {
    type Cfg = ();
    fn read_cfg(buf: &mut impl commonware_codec::Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            0 => Replica::Content {
                record: RecordId::read(buf)?,
                version: u32::read(buf)?,
                bytes: medchain_types::codec::read_bytes(buf, RECORD_CIPHERTEXT_BYTES_MAX)?,
            },
            1 => {
                let record = RecordId::read(buf)?;
                let version = u32::read(buf)?;
                let recipient = PartyId::read(buf)?;
                let uploader = PartyId::read(buf)?;
                if buf.remaining() < 80 {
                    return Err(Error::EndOfBuffer);
                }
                let mut wrapped = [0u8; 80];
                buf.copy_to_slice(&mut wrapped);
                Replica::Key {
                    record,
                    version,
                    recipient,
                    uploader,
                    wrapped,
                    signature: Signature::read(buf)?,
                }
            }
            2 => Replica::Request {
                record: RecordId::read(buf)?,
                version: u32::read(buf)?,
            },
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

/// Sends replicas to chosen validators.
#[derive(Clone)]
pub struct ReplicaHandle {
    outbox: mpsc::Sender<(Vec<ed25519::PublicKey>, Replica)>,
}

impl std::fmt::Debug for ReplicaHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplicaHandle")
    }
}

impl ReplicaHandle {
    /// Queues a replica for `to` (best effort: a full queue drops it, and the receiver can
    /// still be served by the custodian that holds it).
    pub fn send(&self, to: Vec<ed25519::PublicKey>, replica: Replica) {
        if !to.is_empty() {
            let _ = self.outbox.clone().try_send((to, replica));
        }
    }
}

/// Replicas received, with their sender, for the custodian to check.
pub type Inbox = mpsc::Receiver<(ed25519::PublicKey, Replica)>;

/// Starts the send and receive tasks on the replication channel.
pub fn start<E, S, R>(context: E, (mut sender, mut receiver): (S, R)) -> (ReplicaHandle, Inbox)
where
    E: Spawner,
    S: Sender<PublicKey = ed25519::PublicKey> + 'static,
    R: Receiver<PublicKey = ed25519::PublicKey> + 'static,
{
    // Replicas carry up to 16 MiB of content each: the queues are short, so that what waits
    // in memory stays bounded (a full queue drops; the receiver asks again for what it lacks).
    let (outbox, mut queued) = mpsc::channel::<(Vec<ed25519::PublicKey>, Replica)>(QUEUE_MAX);
    let (mut delivered, inbox) = mpsc::channel(QUEUE_MAX);
    context.child("replica_out").spawn(move |_| async move {
        while let Some((to, replica)) = queued.next().await {
            let message = replica.encode();
            sender.send(Recipients::Some(to), message, false);
        }
    });
    context.child("replica_in").spawn(move |_| async move {
        while let Ok((from, message)) = receiver.recv().await {
            match Replica::decode_cfg(message, &()) {
                Ok(replica) => {
                    if delivered.try_send((from, replica)).is_err() {
                        tracing::warn!("replica inbox full; a replica was dropped");
                    }
                }
                Err(err) => tracing::warn!(?err, "undecodable replica"),
            }
        }
    });
    (ReplicaHandle { outbox }, inbox)
}
