//! Attestations: a party time-stamps a digest under a subject (proof of existence).
//!
//! The latest attestation per (party, subject) is kept in state, and every attestation is an
//! event, so the full history is in the event log.

use crate::{error::TxError, executor::TxContext, keys, view::StateRead};
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt, Write};
use medchain_types::{Event, Hash32, PartyId, TxHash};

/// The latest attestation of a subject by a party.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attestation {
    pub digest: Hash32,
    pub height: u64,
    pub time_ms: u64,
    pub tx: TxHash,
}

impl Write for Attestation {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.digest.write(buf);
        self.height.write(buf);
        self.time_ms.write(buf);
        self.tx.write(buf);
    }
}
impl EncodeSize for Attestation {
    fn encode_size(&self) -> usize {
        32 + 8 + 8 + 32
    }
}
impl Read for Attestation {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Attestation {
            digest: Hash32::read(buf)?,
            height: u64::read(buf)?,
            time_ms: u64::read(buf)?,
            tx: TxHash::read(buf)?,
        })
    }
}

pub(crate) async fn apply<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    subject: Hash32,
    digest: Hash32,
    tx: TxHash,
) -> Result<(), TxError> {
    let attestation = Attestation {
        digest,
        height: ctx.env().height,
        time_ms: ctx.env().time_ms,
        tx,
    };
    ctx.put_encoded(keys::attestation(&signer, &subject), &attestation);
    ctx.emit(Event::Attested {
        party: signer,
        subject,
        digest,
    });
    Ok(())
}
