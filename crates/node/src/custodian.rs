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
    /// Versions anchored here whose content has not arrived: asked for from the other
    /// custodians, with growing pauses, until it does or the record is erased. Kept on disk
    /// (beside the cursor) so that a restart does not forget them.
    pub missing: std::sync::Mutex<std::collections::HashMap<(RecordId, u32), Missing>>,
    /// Whether `missing` changed since it was last saved.
    missing_changed: std::sync::atomic::AtomicBool,
}

/// A version whose content this custodian waits for.
#[derive(Clone, Debug)]
pub struct Missing {
    pub hash: medchain_types::Hash32,
    pub peers: Vec<commonware_cryptography::ed25519::PublicKey>,
    pub asked: Option<std::time::Instant>,
    /// How many times it was asked for.
    pub attempts: u32,
}

/// The pause before asking again for content after `attempts` requests: 2 s, doubling, at
/// most 5 minutes.
pub fn retry_after(attempts: u32) -> Duration {
    Duration::from_secs(2u64.saturating_mul(1 << attempts.min(16)).min(300))
}

impl Custodian {
    /// A custodian for `operator` keeping its data in `store`.
    pub fn new(
        store: Arc<BlobStore>,
        operator: PartyId,
        organisation_secret: Option<[u8; 32]>,
        cursor_path: PathBuf,
    ) -> Self {
        Self {
            store,
            operator,
            organisation_secret,
            cursor_path,
            missing: Default::default(),
            missing_changed: Default::default(),
        }
    }

    fn missing_path(&self) -> PathBuf {
        self.cursor_path.with_file_name("custodian-missing")
    }

    /// The saved missing versions: `(record, version)` pairs.
    fn load_missing(&self) -> Vec<(RecordId, u32)> {
        let Ok(text) = std::fs::read_to_string(self.missing_path()) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| {
                let (record, version) = line.split_once(' ')?;
                Some((RecordId::from_hex(record).ok()?, version.parse().ok()?))
            })
            .collect()
    }

    /// Saves the missing versions if they changed (temp file, then rename).
    fn save_missing(&self) {
        if !self
            .missing_changed
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let text: String = self
            .missing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .map(|(record, version)| format!("{record} {version}\n"))
            .collect();
        let path = self.missing_path();
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .is_err()
        {
            tracing::warn!("cannot save the custodian's missing versions");
            self.missing_changed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn forget_record(&self, record: &RecordId) {
        let mut missing = self.missing.lock().unwrap_or_else(|p| p.into_inner());
        let before = missing.len();
        missing.retain(|(id, _), _| id != record);
        if missing.len() != before {
            self.missing_changed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn wait_for(
        &self,
        record: RecordId,
        version: u32,
        hash: medchain_types::Hash32,
        peers: Vec<commonware_cryptography::ed25519::PublicKey>,
    ) {
        if peers.is_empty() {
            return;
        }
        self.missing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((record, version))
            .or_insert_with(|| {
                self.missing_changed
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                Missing {
                    hash,
                    peers,
                    asked: None,
                    attempts: 0,
                }
            });
    }
}

impl std::fmt::Debug for Custodian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Custodian")
            .field("operator", &self.operator)
            .field("custodial_key", &self.organisation_secret.is_some())
            .finish()
    }
}

/// A stored key entry: who shared it, the wrapped key, and their signature over it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    pub uploader: PartyId,
    pub wrapped: [u8; 80],
    pub signature: medchain_types::Signature,
}

impl KeyEntry {
    /// Encoded size.
    pub const BYTES: usize = 32 + 80 + 64;

    fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::BYTES);
        out.extend_from_slice(&self.uploader.0);
        out.extend_from_slice(&self.wrapped);
        out.extend_from_slice(&self.signature.0);
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::BYTES {
            return None;
        }
        let mut wrapped = [0u8; 80];
        wrapped.copy_from_slice(&bytes[32..112]);
        Some(Self {
            uploader: PartyId::from_slice(&bytes[..32]).ok()?,
            wrapped,
            signature: medchain_types::Signature::from_slice(&bytes[112..]).ok()?,
        })
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

    /// `PUT /v1/records/{id}/versions/{v}/keys/{recipient}`: stores a wrapped data key (80
    /// bytes) with the sharer's signature over it (64 bytes), and passes it to the version's
    /// other custodians.
    pub async fn put_wrapped_key(
        &self,
        uploader: PartyId,
        record: RecordId,
        version: u32,
        recipient: PartyId,
        body: Vec<u8>,
    ) -> Result<(), Problem> {
        self.custodian()?;
        if body.len() != 80 + 64 {
            return Err(Problem::new(
                400,
                "malformed",
                format!(
                    "the body is the 80-byte wrapped key (HPKE enc || sealed key) and the sharer's 64-byte signature over it, found {} bytes",
                    body.len()
                ),
            ));
        }
        let mut wrapped = [0u8; 80];
        wrapped.copy_from_slice(&body[..80]);
        let signature = medchain_types::Signature::from_slice(&body[80..])
            .map_err(|err| Problem::new(400, "malformed", err.to_string()))?;
        let entry = KeyEntry {
            uploader,
            wrapped,
            signature,
        };
        let others = self.accept_key(record, version, recipient, entry).await?;
        let handles = &self.handles;
        handles.replica.send(
            others,
            crate::replica::Replica::Key {
                record,
                version,
                recipient,
                uploader,
                wrapped,
                signature,
            },
        );
        Ok(())
    }

    /// Checks and stores a key entry; returns the validators of the version's other
    /// custodians, to pass it on to.
    async fn accept_key(
        &self,
        record: RecordId,
        version: u32,
        recipient: PartyId,
        entry: KeyEntry,
    ) -> Result<Vec<commonware_cryptography::ed25519::PublicKey>, Problem> {
        let custodian = self.custodian()?;
        let (record_value, anchored) = self.record_version(&record, version).await?;
        if !anchored.custodians.contains(&custodian.operator) {
            return Err(Problem::new(
                409,
                "not_custodian",
                format!("version {version} of {record} is not kept here"),
            ));
        }
        if entry.uploader != record_value.patient
            && entry.uploader != record_value.organisation
            && entry.uploader != anchored.author
        {
            return Err(Problem::new(
                403,
                "not_key_holder",
                "only the patient, the record's organisation or the version's author share its key",
            ));
        }
        let sharer = self.party(&entry.uploader).await?.ok_or_else(|| {
            Problem::new(404, "unknown_party", format!("no party {}", entry.uploader))
        })?;
        let statement = medchain_types::records::wrapped_key_statement(
            &record,
            version,
            &recipient,
            &entry.wrapped,
        );
        if !sharer.signing_key.verify(
            medchain_types::records::WRAPPED_KEY_DOMAIN,
            &statement,
            &entry.signature,
        ) {
            return Err(Problem::new(
                403,
                "bad_key_signature",
                "the sharer's signature over the wrapped key does not verify",
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
        let bytes = entry.to_bytes();
        blocking(move || store.put_key(&record, version, &recipient, &bytes)).await?;
        Ok(self.peers_of(&anchored.custodians, custodian.operator))
    }

    /// The validators run by `custodians`, except this node's organisation.
    fn peers_of(
        &self,
        custodians: &[PartyId],
        operator: PartyId,
    ) -> Vec<commonware_cryptography::ed25519::PublicKey> {
        use commonware_codec::DecodeExt as _;
        self.genesis()
            .validators
            .iter()
            .filter(|validator| {
                validator
                    .operator
                    .is_some_and(|org| org != operator && custodians.contains(&org))
            })
            .filter_map(|validator| {
                commonware_cryptography::ed25519::PublicKey::decode(validator.public_key.0.to_vec())
                    .ok()
            })
            .collect()
    }

    /// Takes content another custodian sent, if a finalized version naming this custodian
    /// anchors it. `Ok(false)`: not anchored here yet (try again later).
    async fn accept_content(
        &self,
        record: RecordId,
        version: u32,
        bytes: Vec<u8>,
    ) -> Result<bool, Problem> {
        let custodian = self.custodian()?;
        let Some(anchored) = self
            .decoded::<RecordVersion>(&version_key(&record, version))
            .await?
        else {
            return Ok(false);
        };
        if !anchored.custodians.contains(&custodian.operator)
            || medchain_types::sha256(&bytes) != anchored.ciphertext_hash
        {
            return Err(Problem::new(
                403,
                "not_anchored_here",
                "the content is not what a version naming this custodian anchors",
            ));
        }
        let store = custodian.store.clone();
        let author = anchored.author;
        blocking(move || {
            let hash = store.put(author, &bytes, now_ms())?;
            store.anchor(&hash)
        })
        .await?;
        Ok(true)
    }

    /// Sends what this custodian holds of a version to a custodian that asked for it, if the
    /// chain names the asker's organisation as a custodian of it.
    async fn answer_request(
        &self,
        from: commonware_cryptography::ed25519::PublicKey,
        record: RecordId,
        version: u32,
    ) -> Result<(), Problem> {
        let custodian = self.custodian()?;
        let Some(anchored) = self
            .decoded::<RecordVersion>(&version_key(&record, version))
            .await?
        else {
            return Ok(());
        };
        if !self
            .peers_of(&anchored.custodians, custodian.operator)
            .contains(&from)
        {
            return Ok(());
        }
        let store = custodian.store.clone();
        let hash = anchored.ciphertext_hash;
        let (content, keys) =
            blocking(move || Ok((store.get(&hash)?, store.keys_of(&record, version)?))).await?;
        if let Some(bytes) = content {
            self.handles.replica.send(
                vec![from.clone()],
                crate::replica::Replica::Content {
                    record,
                    version,
                    bytes,
                },
            );
        }
        for (recipient, entry) in keys {
            if let Some(entry) = KeyEntry::from_bytes(&entry) {
                self.handles.replica.send(
                    vec![from.clone()],
                    crate::replica::Replica::Key {
                        record,
                        version,
                        recipient,
                        uploader: entry.uploader,
                        wrapped: entry.wrapped,
                        signature: entry.signature,
                    },
                );
            }
        }
        Ok(())
    }

    /// Handles a replica from another custodian (`from`); `Ok(false)` means retry later.
    pub async fn accept_replica(
        &self,
        from: commonware_cryptography::ed25519::PublicKey,
        replica: crate::replica::Replica,
    ) -> Result<bool, Problem> {
        match replica {
            crate::replica::Replica::Request { record, version } => {
                self.answer_request(from, record, version).await?;
                Ok(true)
            }
            crate::replica::Replica::Content {
                record,
                version,
                bytes,
            } => self.accept_content(record, version, bytes).await,
            crate::replica::Replica::Key {
                record,
                version,
                recipient,
                uploader,
                wrapped,
                signature,
            } => {
                let entry = KeyEntry {
                    uploader,
                    wrapped,
                    signature,
                };
                match self.accept_key(record, version, recipient, entry).await {
                    Ok(_) => Ok(true),
                    Err(problem)
                        if problem.code == "unknown_record"
                            || problem.code == "unknown_version" =>
                    {
                        Ok(false)
                    }
                    Err(problem) => Err(problem),
                }
            }
        }
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
        // A read that would be granted but that this custodian cannot serve yet (content or
        // key still on their way from another custodian) is refused before anything is
        // logged. A read that would be denied goes through, so that the denial is logged.
        let wanted = match &transaction.body {
            TxBody::Record(RecordOp::Access { version, .. }) => *version,
            _ => 0,
        };
        let verified = self.verify(tx.clone())?;
        let outcome = self.dry_run_verified(&verified).await?;
        let granted = matches!(outcome, Ok(medchain_types::Outcome::Applied));
        // A transaction the dry run refused outright is admitted the usual way, which answers
        // the refusal at once.
        let prechecked = outcome.is_ok();
        // What the pre-check found (the version, its anchor and the reader's key), served
        // after the commit if the committed read is for that same version.
        let mut prepared: Option<(u32, RecordVersion, Vec<u8>)> = None;
        if granted
            && let Some(current) = self.decoded::<Record>(&record_key(&record)).await?
            && current.erased.is_none()
        {
            let version = if wanted == 0 {
                current.latest.version
            } else {
                wanted
            };
            if let Some(anchored) = self
                .decoded::<RecordVersion>(&version_key(&record, version))
                .await?
                && anchored.custodians.contains(&custodian.operator)
            {
                if !custodian.store.contains(&anchored.ciphertext_hash) {
                    custodian.wait_for(
                        record,
                        version,
                        anchored.ciphertext_hash,
                        self.peers_of(&anchored.custodians, custodian.operator),
                    );
                    return Err(Problem::new(
                        503,
                        "content_not_here_yet",
                        format!(
                            "this custodian does not hold version {version} of {record} yet; retry shortly"
                        ),
                    ));
                }
                match self
                    .key_for(&custodian, &record, version, &reader, basis)
                    .await
                {
                    Ok(key) => prepared = Some((version, anchored, key)),
                    Err(problem) if problem.code == "no_key_for_reader" => {
                        self.handles.replica.send(
                            self.peers_of(&anchored.custodians, custodian.operator),
                            crate::replica::Replica::Request { record, version },
                        );
                        return Err(Problem::new(
                            409,
                            "no_key_for_reader",
                            format!(
                                "{}; asked the other custodians, retry shortly",
                                problem.detail
                            ),
                        ));
                    }
                    Err(problem) => return Err(problem),
                }
            }
        }
        // Wait for the block that holds it: one wake-up per read, not one per block per read.
        let mut in_block = self.handles.view.wait_for(verified.hash());
        let hash = self.admit_with(verified, !prechecked).await?;
        let mut finalized = self.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut notified = false;
        let status = loop {
            if !notified {
                // A rejected transaction is never in a block: look at its status every second.
                notified = tokio::time::timeout(Duration::from_secs(1), &mut in_block)
                    .await
                    .is_ok();
            }
            let status = self.tx_status(hash).await?;
            if !matches!(status.status, TxState::Pending | TxState::Unknown) {
                break status;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Problem::new(
                    504,
                    "not_yet_committed",
                    format!("access transaction {hash} is not in a block yet; retry the read"),
                ));
            }
            if notified {
                // In a block, but its state or events are not readable yet.
                let _ = tokio::time::timeout(Duration::from_millis(20), finalized.changed()).await;
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
        let (anchored, wrapped_key) = match prepared {
            Some((checked, anchored, key)) if checked == version => (anchored, key),
            _ => {
                let (_, anchored) = self.record_version(&record, version).await?;
                let key = self
                    .key_for(&custodian, &record, version, &reader, basis)
                    .await?;
                (anchored, key)
            }
        };
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
        if let Some(entry) = blocking(move || store.get_key(&r, version, &who)).await? {
            let entry = KeyEntry::from_bytes(&entry)
                .ok_or_else(|| internal("a stored key entry is corrupt"))?;
            return Ok(entry.wrapped.to_vec());
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
        let organisation_key = KeyEntry::from_bytes(&organisation_key)
            .ok_or_else(|| internal("a stored key entry is corrupt"))?
            .wrapped;
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
                            let peers = self.peers_of(&anchored.custodians, custodian.operator);
                            if held && !peers.is_empty() {
                                let store = custodian.store.clone();
                                if let Some(bytes) = blocking(move || store.get(&hash)).await? {
                                    self.handles.replica.send(
                                        peers,
                                        crate::replica::Replica::Content {
                                            record,
                                            version,
                                            bytes,
                                        },
                                    );
                                }
                            }
                            if !held {
                                custodian.wait_for(
                                    record,
                                    version,
                                    anchored.ciphertext_hash,
                                    self.peers_of(&anchored.custodians, custodian.operator),
                                );
                                tracing::debug!(
                                    %record,
                                    version,
                                    "anchored here; the content comes from another custodian"
                                );
                            }
                        }
                    }
                    Event::RecordErased { record, .. } => {
                        custodian.forget_record(&record);
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

/// Most replicas held while their anchor is not visible here yet.
const WAITING_MAX: usize = 4_096;
/// Most content bytes held that way.
const WAITING_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Follows finalized blocks for the custodian: applies their record events (see
/// [`NodeService::custodian_catch_up`]), keeps the cursor on disk, and sweeps expired pending
/// uploads. Returns when the node stops.
pub async fn run<E: Spawner + StorageContext + Clock>(service: NodeService<E>) {
    let Some(custodian) = service.custodian.clone() else {
        return;
    };
    let mut inbox = service
        .handles
        .replica_inbox
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let mut cursor = std::fs::read_to_string(&custodian.cursor_path)
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(0);
    // Versions still missing when the node stopped: ask for them again.
    for (record, version) in custodian.load_missing() {
        let erased = matches!(
            service.decoded::<Record>(&record_key(&record)).await,
            Ok(Some(stored)) if stored.erased.is_some()
        );
        if let (false, Ok(Some(anchored))) = (
            erased,
            service
                .decoded::<RecordVersion>(&version_key(&record, version))
                .await,
        ) && !custodian.store.contains(&anchored.ciphertext_hash)
        {
            custodian.wait_for(
                record,
                version,
                anchored.ciphertext_hash,
                service.peers_of(&anchored.custodians, custodian.operator),
            );
        }
    }
    let mut finalized = service.subscribe();
    let mut last_sweep = std::time::Instant::now();
    // Replicas that arrived before this node saw their anchor, with when they arrived.
    let mut waiting: Vec<(
        std::time::Instant,
        commonware_cryptography::ed25519::PublicKey,
        crate::replica::Replica,
    )> = Vec::new();
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
        let retry = std::mem::take(&mut waiting);
        for (arrived, from, replica) in retry {
            if arrived.elapsed() > Duration::from_secs(120) {
                tracing::warn!("a replica was never anchored here; dropped");
                continue;
            }
            match service.accept_replica(from.clone(), replica.clone()).await {
                Ok(true) => {}
                Ok(false) => waiting.push((arrived, from, replica)),
                Err(problem) => tracing::warn!(detail = %problem.detail, "replica refused"),
            }
        }
        // Ask the other custodians for content that has not arrived.
        {
            let mut missing = custodian.missing.lock().unwrap_or_else(|p| p.into_inner());
            let before = missing.len();
            missing.retain(|(record, version), wanted| {
                if custodian.store.contains(&wanted.hash) {
                    return false;
                }
                if wanted
                    .asked
                    .is_none_or(|asked| asked.elapsed() > retry_after(wanted.attempts))
                {
                    if wanted.attempts == 8 {
                        tracing::warn!(%record, version, "content still missing after 8 requests; asking every 5 minutes");
                    }
                    wanted.attempts = wanted.attempts.saturating_add(1);
                    wanted.asked = Some(std::time::Instant::now());
                    service.handles.replica.send(
                        wanted.peers.clone(),
                        crate::replica::Replica::Request {
                            record: *record,
                            version: *version,
                        },
                    );
                }
                true
            });
            if missing.len() != before {
                custodian
                    .missing_changed
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        custodian.save_missing();
        if last_sweep.elapsed() > Duration::from_secs(60) {
            last_sweep = std::time::Instant::now();
            let store = custodian.store.clone();
            let _ = tokio::task::spawn_blocking(move || store.sweep(now_ms())).await;
        }
        let next_replica = async {
            match inbox.as_mut() {
                Some(inbox) => futures::StreamExt::next(inbox).await,
                None => futures::future::pending().await,
            }
        };
        tokio::select! {
            changed = finalized.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            replica = next_replica => {
                if let Some((from, replica)) = replica {
                    match service.accept_replica(from.clone(), replica.clone()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            // Bounded by count and by bytes: a peer cannot make this node
                            // hold unanchored content without limit.
                            let held: usize =
                                waiting.iter().map(|(_, _, r)| r.content_bytes()).sum();
                            if waiting.len() < WAITING_MAX
                                && held + replica.content_bytes() <= WAITING_BYTES_MAX
                            {
                                waiting.push((std::time::Instant::now(), from, replica));
                            }
                        }
                        Err(problem) => tracing::warn!(detail = %problem.detail, "replica refused"),
                    }
                }
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

pub use medchain_state::records::PAGE_MAX;
/// Most access-log entries one accounting of disclosures covers.
pub const REPORT_ENTRIES_MAX: u64 = 20_000;

impl<E: Spawner + StorageContext + Clock> NodeService<E> {
    async fn list_page(
        &self,
        list: &str,
        owner: &PartyId,
        from: u64,
        limit: u64,
    ) -> Result<(u64, Vec<Vec<u8>>), Problem> {
        self.list_items(list, &owner.0, from, limit.min(PAGE_MAX))
            .await
    }

    /// `GET /v1/patients/{id}/disclosures?from=&to=`: the accounting of disclosures of
    /// `patient` for `[from_ms, to_ms)`, built from finalized public state. Block times only
    /// increase, and so do the access log's, so the period's first entry is found by binary
    /// search; a period holding more than [`REPORT_ENTRIES_MAX`] entries is refused.
    pub async fn disclosures(
        &self,
        patient: PartyId,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<medchain_types::disclosures::DisclosureReport, Problem> {
        use medchain_state::lists::{item_key, names};
        use medchain_types::{disclosures as report, records::AccessEntry};
        if to_ms <= from_ms {
            return Err(Problem::new(
                400,
                "invalid_period",
                "the period must end after it starts",
            ));
        }
        let as_of_height = self.tip().height;
        let (count, _) = self.list_page(names::ACCESS, &patient, 0, 0).await?;
        let entry = |seq: u64| async move {
            let bytes = self
                .read_raw(&item_key(names::ACCESS, &patient.0, seq))
                .await?
                .ok_or_else(|| internal(format!("access log item {seq} is missing")))?;
            AccessEntry::decode(bytes).map_err(|err| internal(err.to_string()))
        };
        let (mut low, mut high) = (0, count);
        while low < high {
            let middle = low + (high - low) / 2;
            if entry(middle).await?.time_ms < from_ms {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        let mut entries = Vec::new();
        for seq in low..count {
            let next = entry(seq).await?;
            if next.time_ms >= to_ms {
                break;
            }
            if entries.len() as u64 == REPORT_ENTRIES_MAX {
                return Err(Problem::new(
                    422,
                    "period_too_large",
                    format!(
                        "the period holds more than {REPORT_ENTRIES_MAX} access-log entries; ask for a shorter one"
                    ),
                ));
            }
            entries.push(next);
        }
        let period = report::Period {
            patient,
            chain_id: self.genesis().chain_id.to_string(),
            from_ms,
            to_ms,
            as_of_height,
        };
        let (parties, records) = report::lookups(&period, &entries);
        // Patients and devices have no label of their own: their organisation's, read once.
        let mut organisations: std::collections::HashMap<PartyId, Option<Party>> =
            std::collections::HashMap::new();
        let mut labels = std::collections::HashMap::new();
        for id in parties {
            let party = self.party(&id).await?;
            let organisation = match party.as_ref() {
                Some(p) if p.label.is_empty() => match p.organisation {
                    Some(org) => {
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            organisations.entry(org)
                        {
                            slot.insert(self.party(&org).await?);
                        }
                        organisations[&org].clone()
                    }
                    None => None,
                },
                _ => None,
            };
            labels.insert(id, report::label(party.as_ref(), organisation.as_ref()));
        }
        let mut types = std::collections::HashMap::new();
        for id in records {
            if let Some(record) = self.decoded::<Record>(&record_key(&id)).await? {
                types.insert(id, record.resource_type.to_string());
            }
        }
        Ok(report::build(&period, &entries, &labels, &types))
    }

    /// `GET /v1/patients/{id}/{records|grants|access-log|break-glass}`: a page of a patient's
    /// list ([`medchain_state::records::patient_page`]), with every state entry it rests on,
    /// proven at one height, when asked.
    pub async fn patient_list(
        &self,
        kind: &str,
        patient: PartyId,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<medchain_types::api::PatientListResponse, Problem> {
        use medchain_state::records::PatientList;
        let Some(which) = PatientList::from_path(kind) else {
            return Err(Problem::new(
                404,
                "not_found",
                format!("no patient list {kind:?}; records, grants, access-log or break-glass"),
            ));
        };
        crate::query::consistently(|| async move {
            let height = self.tip().height;
            let reads = crate::query::Recorder::at(self, proof, height);
            let mut answer =
                medchain_state::records::patient_page(&reads, which, &patient, from, limit, height)
                    .await
                    .map_err(|err| reads.problem(err))?;
            if proof {
                answer.entries = reads.entries();
            }
            Ok(answer)
        })
        .await
    }

    /// `GET /v1/records/{id}`: a record and every version, as anchored.
    pub async fn record_history(&self, id: RecordId) -> Result<serde_json::Value, Problem> {
        let record = self
            .decoded::<Record>(&record_key(&id))
            .await?
            .ok_or_else(|| Problem::new(404, "unknown_record", format!("no record {id}")))?;
        let mut versions = Vec::new();
        for version in 1..=record.latest.version {
            versions.push(
                self.decoded::<RecordVersion>(&version_key(&id, version))
                    .await?
                    .ok_or_else(|| internal(format!("version {version} of {id} is missing")))?,
            );
        }
        Ok(serde_json::json!({ "record": record, "versions": versions }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blobs::BlobLimits;

    #[test]
    fn requests_for_missing_content_back_off_to_five_minutes() {
        let pauses: Vec<u64> = (0..12).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(pauses, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300]);
        assert_eq!(retry_after(u32::MAX).as_secs(), 300);
    }

    #[test]
    fn missing_versions_survive_a_restart_and_an_erasure_forgets_them() {
        let root = std::env::temp_dir().join(format!("medchain-missing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("dir");
        let limits = BlobLimits {
            blob_bytes_max: 100,
            total_bytes_max: 1_000,
            uploader_bytes_max: 1_000,
            pending_ttl_ms: 1_000,
        };
        let open = || {
            Custodian::new(
                Arc::new(BlobStore::open(root.join("blobs"), limits.clone()).expect("opens")),
                PartyId([1; 32]),
                None,
                root.join("custodian-cursor"),
            )
        };
        let peer = {
            use commonware_codec::DecodeExt as _;
            use commonware_cryptography::Signer as _;
            commonware_cryptography::ed25519::PrivateKey::decode([7u8; 32].as_slice().to_vec())
                .expect("a seed")
                .public_key()
        };
        let custodian = open();
        custodian.wait_for(
            RecordId([2; 32]),
            1,
            medchain_types::Hash32([3; 32]),
            vec![peer.clone()],
        );
        custodian.wait_for(
            RecordId([2; 32]),
            2,
            medchain_types::Hash32([4; 32]),
            vec![peer.clone()],
        );
        custodian.wait_for(
            RecordId([5; 32]),
            1,
            medchain_types::Hash32([6; 32]),
            vec![peer],
        );
        custodian.save_missing();
        let mut loaded = open().load_missing();
        loaded.sort();
        assert_eq!(
            loaded,
            [
                (RecordId([2; 32]), 1),
                (RecordId([2; 32]), 2),
                (RecordId([5; 32]), 1)
            ]
        );
        custodian.forget_record(&RecordId([2; 32]));
        custodian.save_missing();
        assert_eq!(open().load_missing(), [(RecordId([5; 32]), 1)]);
        let _ = std::fs::remove_dir_all(&root);
    }
}
