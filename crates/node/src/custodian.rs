//! The custodian: a node that keeps sealed record content and wrapped keys for the records
//! naming its operator organisation, and releases them only for a read the chain granted.
//!
//! - Uploads: sealed content (`POST /v1/blobs`, by any registered party, held pending until a
//!   finalized record version names it) and wrapped keys (`PUT .../keys/{recipient}`, by the
//!   record's patient, its organisation or the version's author, once the version is
//!   anchored).
//! - Reads: the reader sends its signed access transaction; the custodian submits it, waits for
//!   its block, and serves content and the reader's wrapped key only if the read was granted.
//!   A reader of the operator organisation reading through the organisation (an organisation
//!   grant, authorship or break-glass) gets the organisation's key re-wrapped for them, when
//!   the node holds the organisation's key (custodial mode).
//! - Finalized events drive the store: a version naming this custodian anchors its content; an
//!   erasure overwrites and deletes the record's content and keys.

use crate::{
    blobs::{BlobError, BlobStore},
    service::{NodeService, internal},
};
use commonware_codec::DecodeExt;
use commonware_runtime::{Clock, Spawner};
use commonware_storage::{Context as StorageContext, mmr::Location};
use medchain_state::records::{record_key, version_key};
use medchain_types::{
    Event, EventRecord, Party, PartyId, SignedTransaction, TxBody,
    api::{BlobUploadResponse, Problem, RecordReadResponse, TxState},
    records::{AccessBasis, Record, RecordId, RecordOp, RecordVersion},
};
use std::{path::PathBuf, sync::Arc, time::Duration};

/// A node's custodian role.
pub struct Custodian {
    pub store: Arc<BlobStore>,
    /// The organisation this node keeps content for.
    pub operator: PartyId,
    /// The operator organisation's X25519 secret, when the node keeps it for the organisation
    /// (custodial mode), to re-wrap data keys for the organisation's own practitioners.
    pub organisation_secret: Option<[u8; 32]>,
    /// Where the event cursor is kept.
    pub cursor_path: PathBuf,
}

impl std::fmt::Debug for Custodian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Custodian")
            .field("operator", &self.operator)
            .field("custodial_key", &self.organisation_secret.is_some())
            .finish()
    }
}

fn store_problem(err: BlobError) -> Problem {
    match err {
        BlobError::TooLarge { .. } => Problem::new(413, "too_large", err.to_string()),
        BlobError::StoreFull { .. } => Problem::new(507, "store_full", err.to_string()),
        BlobError::QuotaExceeded { .. } => Problem::new(429, "quota_exceeded", err.to_string()),
        BlobError::Corrupt(_) | BlobError::Io { .. } => internal(err.to_string()),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| internal(format!("blob store task failed: {err}")))?
        .map_err(store_problem)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    fn custodian(&self) -> Result<Arc<Custodian>, Problem> {
        self.custodian.clone().ok_or_else(|| {
            Problem::new(
                404,
                "not_a_custodian",
                "this node keeps no record content; ask a custodian the record names",
            )
        })
    }

    async fn decoded<T: commonware_codec::Read<Cfg = ()>>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, Problem> {
        match self.read_raw(key).await? {
            Some(bytes) => T::decode(bytes)
                .map(Some)
                .map_err(|err| internal(format!("stored value is corrupt: {err}"))),
            None => Ok(None),
        }
    }

    /// The current signing key of a party, from finalized state.
    pub async fn party(&self, id: &PartyId) -> Result<Option<Party>, Problem> {
        self.decoded::<Party>(&medchain_state::keys::party(id))
            .await
    }

    /// `POST /v1/blobs`: stores sealed content from `uploader`, pending its anchor.
    pub async fn upload_blob(
        &self,
        uploader: PartyId,
        bytes: Vec<u8>,
    ) -> Result<BlobUploadResponse, Problem> {
        let custodian = self.custodian()?;
        let size = bytes.len() as u64;
        let store = custodian.store.clone();
        let hash = blocking(move || store.put(uploader, &bytes, now_ms())).await?;
        Ok(BlobUploadResponse { hash, bytes: size })
    }

    async fn record_version(
        &self,
        record: &RecordId,
        version: u32,
    ) -> Result<(Record, RecordVersion), Problem> {
        let record_value = self
            .decoded::<Record>(&record_key(record))
            .await?
            .ok_or_else(|| {
                Problem::new(
                    404,
                    "unknown_record",
                    format!("no record {record} on chain"),
                )
            })?;
        if record_value.erased.is_some() {
            return Err(Problem::new(
                410,
                "record_erased",
                format!("record {record} was erased"),
            ));
        }
        let anchored = if version == record_value.latest.version {
            record_value.latest.clone()
        } else {
            self.decoded::<RecordVersion>(&version_key(record, version))
                .await?
                .ok_or_else(|| {
                    Problem::new(
                        404,
                        "unknown_version",
                        format!("record {record} has no version {version}"),
                    )
                })?
        };
        Ok((record_value, anchored))
    }

    /// `PUT /v1/records/{id}/versions/{v}/keys/{recipient}`: stores a wrapped data key.
    pub async fn put_wrapped_key(
        &self,
        uploader: PartyId,
        record: RecordId,
        version: u32,
        recipient: PartyId,
        wrapped: Vec<u8>,
    ) -> Result<(), Problem> {
        let custodian = self.custodian()?;
        if wrapped.len() != medchain_envelope_bytes() {
            return Err(Problem::new(
                400,
                "malformed",
                format!(
                    "a wrapped key is {} bytes (HPKE enc || sealed key), found {}",
                    medchain_envelope_bytes(),
                    wrapped.len()
                ),
            ));
        }
        let (record_value, anchored) = self.record_version(&record, version).await?;
        if !anchored.custodians.contains(&custodian.operator) {
            return Err(Problem::new(
                409,
                "not_custodian",
                format!("version {version} of {record} is not kept here"),
            ));
        }
        if uploader != record_value.patient
            && uploader != record_value.organisation
            && uploader != anchored.author
        {
            return Err(Problem::new(
                403,
                "not_key_holder",
                "only the patient, the record's organisation or the version's author share its key",
            ));
        }
        if self.party(&recipient).await?.is_none() {
            return Err(Problem::new(
                404,
                "unknown_party",
                format!("no party {recipient}"),
            ));
        }
        let store = custodian.store.clone();
        blocking(move || store.put_key(&record, version, &recipient, &wrapped)).await
    }

    /// `POST /v1/records/{id}/read`: submits the reader's access transaction, waits for its
    /// block, and serves the content and the reader's key if the chain granted the read.
    pub async fn read_record(
        &self,
        reader: PartyId,
        record: RecordId,
        tx: SignedTransaction,
    ) -> Result<RecordReadResponse, Problem> {
        let custodian = self.custodian()?;
        let transaction = &tx.transaction;
        if transaction.signer != reader {
            return Err(Problem::new(
                403,
                "signer_mismatch",
                "the access transaction must be signed by the party signing the request",
            ));
        }
        let TxBody::Record(RecordOp::Access {
            record: asked,
            basis,
            custodian: named,
            ..
        }) = &transaction.body
        else {
            return Err(Problem::new(
                422,
                "not_an_access",
                "the body must be a signed record access transaction",
            ));
        };
        if *asked != record || *named != custodian.operator {
            return Err(Problem::new(
                422,
                "wrong_access",
                format!(
                    "the access transaction must name record {record} and this custodian ({})",
                    custodian.operator
                ),
            ));
        }
        let basis = *basis;
        let hash = self.submit(tx).await?;
        let mut finalized = self.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            let status = self.tx_status(hash).await?;
            if !matches!(status.status, TxState::Pending | TxState::Unknown) {
                break status;
            }
            if tokio::time::timeout_at(
                deadline,
                tokio::time::timeout(Duration::from_millis(100), finalized.changed()),
            )
            .await
            .is_err()
            {
                return Err(Problem::new(
                    504,
                    "not_yet_committed",
                    format!("access transaction {hash} is not in a block yet; retry the read"),
                ));
            }
        };
        let (version, seq) = match status.status {
            TxState::Committed => status
                .events
                .iter()
                .find_map(|event| match event {
                    Event::RecordAccessed { version, seq, .. } => Some((*version, *seq)),
                    _ => None,
                })
                .ok_or_else(|| internal("a granted read has no access event"))?,
            TxState::Denied => {
                let rejection =
                    status
                        .rejection
                        .unwrap_or_else(|| medchain_types::api::TxRejection {
                            code: "access_denied".into(),
                            reason: "the read was denied".into(),
                        });
                let seq = status.events.iter().find_map(|event| match event {
                    Event::RecordAccessDenied { seq, code, .. } => Some((*seq, code.clone())),
                    _ => None,
                });
                let (code, detail) = match seq {
                    Some((seq, code)) => (
                        code,
                        format!("read denied and logged as access entry {seq}"),
                    ),
                    None => (rejection.code, rejection.reason),
                };
                return Err(Problem::new(
                    403,
                    "access_denied",
                    format!("{code}: {detail}"),
                ));
            }
            _ => {
                let rejection = status.rejection.map(|r| r.reason).unwrap_or_default();
                return Err(Problem::new(
                    422,
                    "rejected",
                    format!("the access transaction was rejected: {rejection}"),
                ));
            }
        };
        let (_, anchored) = self.record_version(&record, version).await?;
        let store = custodian.store.clone();
        let content_hash = anchored.ciphertext_hash;
        let ciphertext = blocking(move || store.get(&content_hash))
            .await?
            .ok_or_else(|| {
                Problem::new(
                    503,
                    "content_not_here_yet",
                    format!("this custodian does not hold version {version} of {record} yet"),
                )
            })?;
        let wrapped_key = self
            .key_for(&custodian, &record, version, &reader, basis)
            .await?;
        use base64::Engine as _;
        Ok(RecordReadResponse {
            record,
            version,
            media_type: anchored.media_type,
            ciphertext: base64::engine::general_purpose::STANDARD.encode(&ciphertext),
            ciphertext_hash: anchored.ciphertext_hash,
            wrapped_key: hex::encode(wrapped_key),
            access_seq: seq,
            access_tx: hash,
        })
    }

    /// The reader's wrapped key: shared with them directly, or re-wrapped from the operator
    /// organisation's key for one of its own members reading through the organisation.
    async fn key_for(
        &self,
        custodian: &Custodian,
        record: &RecordId,
        version: u32,
        reader: &PartyId,
        basis: AccessBasis,
    ) -> Result<Vec<u8>, Problem> {
        let store = custodian.store.clone();
        let (r, who) = (*record, *reader);
        if let Some(key) = blocking(move || store.get_key(&r, version, &who)).await? {
            return Ok(key);
        }
        let no_key = || {
            Problem::new(
                409,
                "no_key_for_reader",
                format!(
                    "no data key of version {version} is wrapped for {reader}; the patient shares it when granting"
                ),
            )
        };
        let reader_party = self.party(reader).await?.ok_or_else(no_key)?;
        let through_organisation = matches!(
            basis,
            AccessBasis::Grant(_) | AccessBasis::Author | AccessBasis::BreakGlass(_)
        ) && reader_party.organisation == Some(custodian.operator);
        let Some(secret) = custodian
            .organisation_secret
            .filter(|_| through_organisation)
        else {
            return Err(no_key());
        };
        let store = custodian.store.clone();
        let (r, operator) = (*record, custodian.operator);
        let organisation_key = blocking(move || store.get_key(&r, version, &operator))
            .await?
            .ok_or_else(no_key)?;
        let binding = medchain_envelope::Binding {
            record: medchain_types::Hash32(record.0),
            version,
        };
        let wrapped = medchain_envelope::WrappedKey::from_bytes(&organisation_key)
            .map_err(|err| internal(err.to_string()))?;
        let data_key = medchain_envelope::unwrap(&secret, &custodian.operator, &wrapped, &binding)
            .map_err(|err| internal(format!("the organisation's key does not open: {err}")))?;
        let rewrapped =
            medchain_envelope::wrap(&reader_party.encryption_key, reader, &data_key, &binding)
                .map_err(|err| internal(err.to_string()))?;
        Ok(rewrapped.to_bytes().to_vec())
    }

    /// Applies finalized events from `cursor` on: anchors content that versions naming this
    /// custodian refer to, and erases erased records. Returns the next cursor.
    pub async fn custodian_catch_up(&self, cursor: u64) -> Result<u64, Problem> {
        let custodian = self.custodian()?;
        let (start, end) = {
            let log = self.databases.1.read().await;
            let bounds = log.bounds();
            (*bounds.start, *bounds.end)
        };
        let mut location = cursor.max(start);
        while location < end {
            let upto = (location + 1_024).min(end);
            let locations: Vec<_> = (location..upto).map(Location::new).collect();
            let values = {
                let log = self.databases.1.read().await;
                log.get_many(&locations)
                    .await
                    .map_err(|err| internal(format!("event log read failed: {err:?}")))?
            };
            for blob in values.into_iter().flatten() {
                let record = EventRecord::decode(blob.0)
                    .map_err(|err| internal(format!("stored event is corrupt: {err}")))?;
                match record.event {
                    Event::RecordWritten {
                        record, version, ..
                    } => {
                        let Some(anchored) = self
                            .decoded::<RecordVersion>(&version_key(&record, version))
                            .await?
                        else {
                            continue;
                        };
                        if anchored.custodians.contains(&custodian.operator) {
                            let store = custodian.store.clone();
                            let hash = anchored.ciphertext_hash;
                            let held = blocking(move || store.anchor(&hash)).await?;
                            if !held {
                                tracing::warn!(
                                    %record,
                                    version,
                                    "a version naming this custodian was anchored, but its content was not uploaded here"
                                );
                            }
                        }
                    }
                    Event::RecordErased { record, .. } => {
                        let latest = self
                            .decoded::<Record>(&record_key(&record))
                            .await?
                            .map_or(0, |r| r.latest.version);
                        let mut hashes = Vec::new();
                        for version in 1..=latest {
                            if let Some(anchored) = self
                                .decoded::<RecordVersion>(&version_key(&record, version))
                                .await?
                            {
                                hashes.push(anchored.ciphertext_hash);
                            }
                        }
                        let store = custodian.store.clone();
                        blocking(move || {
                            for hash in &hashes {
                                store.delete(hash)?;
                            }
                            store.delete_keys(&record).map(|_| ())
                        })
                        .await?;
                        tracing::info!(%record, "erased: content and wrapped keys deleted");
                    }
                    _ => {}
                }
            }
            location = upto;
        }
        Ok(end)
    }
}

fn medchain_envelope_bytes() -> usize {
    medchain_envelope::WrappedKey::BYTES
}

/// Follows finalized blocks for the custodian: applies their record events (see
/// [`NodeService::custodian_catch_up`]), keeps the cursor on disk, and sweeps expired pending
/// uploads. Returns when the node stops.
pub async fn run<E: Spawner + StorageContext + Clock>(service: NodeService<E>) {
    let Some(custodian) = service.custodian.clone() else {
        return;
    };
    let mut cursor = std::fs::read_to_string(&custodian.cursor_path)
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let mut finalized = service.subscribe();
    let mut last_sweep = std::time::Instant::now();
    loop {
        match service.custodian_catch_up(cursor).await {
            Ok(next) if next != cursor => {
                cursor = next;
                let path = custodian.cursor_path.clone();
                let text = cursor.to_string();
                let written = tokio::task::spawn_blocking(move || {
                    let tmp = path.with_extension("tmp");
                    std::fs::write(&tmp, text)?;
                    std::fs::rename(&tmp, &path)
                })
                .await;
                if !matches!(written, Ok(Ok(()))) {
                    tracing::warn!("cannot save the custodian's event cursor");
                }
            }
            Ok(_) => {}
            Err(problem) => tracing::warn!(detail = %problem.detail, "custodian catch-up failed"),
        }
        if last_sweep.elapsed() > Duration::from_secs(60) {
            last_sweep = std::time::Instant::now();
            let store = custodian.store.clone();
            let _ = tokio::task::spawn_blocking(move || store.sweep(now_ms())).await;
        }
        if tokio::time::timeout(Duration::from_secs(5), finalized.changed())
            .await
            .is_ok_and(|changed| changed.is_err())
        {
            return;
        }
    }
}
