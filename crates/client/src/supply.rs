//! The supply chain from a client: checking a verify-pack answer against the chain.

use crate::verify::{VerifyError, verify_state};
use commonware_codec::{DecodeExt, Encode};
use medchain_types::{
    Genesis,
    api::{PackVerdict, VerifyPackResponse},
};

/// Why a verify-pack answer cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum PackProofError {
    #[error("the proof of {key} does not verify: {source}")]
    Proof { key: String, source: VerifyError },
    #[error("{key} differs from its proven value")]
    Differs { key: String },
    #[error("the answer's {what} is not the proven one")]
    Mismatch { what: &'static str },
    #[error("the answer says {verdict:?}, but {reason}")]
    Verdict {
        verdict: PackVerdict,
        reason: &'static str,
    },
}

/// Checks every state entry of a verify-pack answer (asked for with proofs) against the
/// genesis validators, and that the unit, lot and container the answer shows are the proven
/// ones; an "unknown serial" answer must prove the serial absent.
pub fn verify_pack_proofs(
    genesis: &Genesis,
    answer: &VerifyPackResponse,
) -> Result<(), PackProofError> {
    let mut proven = Vec::new();
    for entry in &answer.entries {
        let verified = verify_state(genesis, entry).map_err(|source| PackProofError::Proof {
            key: entry.key.clone(),
            source,
        })?;
        if verified.value.as_ref().map(hex::encode) != entry.value {
            return Err(PackProofError::Differs {
                key: entry.key.clone(),
            });
        }
        proven.push(verified);
    }
    let find = |encoded: Vec<u8>| proven.iter().any(|v| v.value.as_ref() == Some(&encoded));
    if let Some(unit) = &answer.unit
        && !find(unit.encode().to_vec())
    {
        return Err(PackProofError::Mismatch { what: "unit" });
    }
    if let Some(lot) = &answer.lot
        && !find(lot.encode().to_vec())
    {
        return Err(PackProofError::Mismatch { what: "lot" });
    }
    if let Some(container) = &answer.container
        && !find(container.encode().to_vec())
    {
        return Err(PackProofError::Mismatch { what: "container" });
    }
    if answer.verdict == PackVerdict::UnknownSerial
        && (answer.unit.is_some()
            || answer.container.is_some()
            || !proven.iter().any(|v| v.value.is_none()))
    {
        return Err(PackProofError::Verdict {
            verdict: answer.verdict,
            reason: "no absence is proven",
        });
    }
    // The custody steps shown are the proven objects' own.
    for step in &answer.custody {
        let key = medchain_state::supply::object_key(&step.object);
        let history = proven
            .iter()
            .find(|v| v.key == key)
            .and_then(|v| v.value.clone())
            .and_then(|value| match &step.object {
                medchain_types::supply::Object::Unit { .. } => {
                    medchain_types::supply::Unit::decode(value.clone())
                        .map(|u| u.tracking.history)
                        .ok()
                }
                medchain_types::supply::Object::Container { .. } => {
                    medchain_types::supply::Container::decode(value.clone())
                        .map(|c| c.tracking.history)
                        .ok()
                }
            });
        if !history.is_some_and(|h| h.contains(&step.entry)) {
            return Err(PackProofError::Mismatch {
                what: "chain of custody",
            });
        }
    }
    Ok(())
}

/// An EPCIS 2.0 capture document as signed supply transactions of `keys`' party, one per
/// event in order from `first_nonce`, with each event's CBV 2.0 hash id: what
/// `POST /epcis/capture` does for a custodial account, for a party that signs itself. Submit
/// them with [`crate::Client::submit_batch`].
pub fn capture_transactions(
    document: &serde_json::Value,
    chain_id: &medchain_types::ChainId,
    keys: &crate::keys::PartyKeys,
    first_nonce: u64,
) -> Result<Vec<(medchain_types::SignedTransaction, String)>, medchain_formats::epcis::EpcisError> {
    Ok(medchain_formats::epcis::capture(document)?
        .into_iter()
        .enumerate()
        .map(|(i, captured)| {
            let tx = keys.sign(
                chain_id,
                first_nonce + i as u64,
                medchain_types::TxBody::Supply(captured.op),
            );
            (tx, captured.event_id)
        })
        .collect())
}

/// `POST /epcis/capture` for a custodial account: the node signs one transaction per event
/// with the account's key, runs them all against current state, and submits them only if
/// every one would apply. Follow the job with [`crate::Client::epcis_capture_job`].
pub async fn capture_custodial(
    custodial: &crate::custodial::Custodial,
    document: &serde_json::Value,
) -> Result<medchain_types::api::EpcisCaptureAccepted, crate::ClientError> {
    custodial
        .node()
        .signed_as(
            crate::http::RequestSigner::Session(custodial.session()),
            reqwest::Method::POST,
            "/epcis/capture",
            "application/ld+json",
            serde_json::to_vec(document).expect("a JSON value serializes"),
        )
        .await
}

impl crate::Client {
    /// `GET /epcis/capture/{captureID}`: a capture job on this node.
    pub async fn epcis_capture_job(
        &self,
        capture_id: &str,
    ) -> Result<medchain_types::api::EpcisCaptureJob, crate::ClientError> {
        self.get(&format!(
            "/epcis/capture/{}",
            medchain_formats::uri::percent_encode(capture_id)
        ))
        .await
    }

    /// `GET /epcis/events`: an EPCIS SimpleEventQuery (`MATCH_anyEPC`, `MATCH_anyEPCClass`,
    /// `GE_eventTime`, `LT_eventTime`, `eventType`, `perPage`, ...), answered with an
    /// EPCISQueryDocument.
    pub async fn epcis_events(
        &self,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, crate::ClientError> {
        let query = medchain_formats::uri::encode_query(params.iter().copied());
        self.get(&format!("/epcis/events?{query}")).await
    }
}
