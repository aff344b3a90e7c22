//! The custodian's off-chain store: sealed record content, addressed by its SHA-256, and the
//! data keys wrapped for each reader. Embedded, on disk under `<data dir>/blobs`, durable
//! (written to a temporary file, synced, renamed, directory synced), bounded (a size limit per
//! blob, a total quota and a quota per uploader), and it survives restarts.
//!
//! Content arrives before its anchor is on chain, so an upload is *pending* until a finalized
//! record version names its hash; pending content older than its time to live is swept. Erasure
//! overwrites and deletes a record's content and wrapped keys.
//!
//! Layout:
//! ```text
//! blobs/objects/<aa>/<sha256 hex>        sealed content
//! blobs/objects/<aa>/<sha256 hex>.meta   JSON: uploader, size, uploaded_ms, anchored
//! blobs/keys/<record hex>/<version>-<recipient hex>   80-byte wrapped key
//! blobs/tmp/                              partial writes (cleared at open)
//! ```

use medchain_types::{Hash32, PartyId, records::RecordId, sha256};
use serde::{Deserialize, Serialize};
use std::{
    collections::HashMap,
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    sync::Mutex,
};

/// Largest stored key entry (a wrapped key with who shared it and their signature).
pub const KEY_ENTRY_BYTES_MAX: usize = 256;

/// Bounds on what a custodian stores.
#[derive(Clone, Debug)]
pub struct BlobLimits {
    /// Largest single sealed content.
    pub blob_bytes_max: u64,
    /// Largest total of stored content.
    pub total_bytes_max: u64,
    /// Largest total one uploader may have stored.
    pub uploader_bytes_max: u64,
    /// How long content may wait for its anchor.
    pub pending_ttl_ms: u64,
}

impl Default for BlobLimits {
    fn default() -> Self {
        Self {
            blob_bytes_max: medchain_types::limits::RECORD_CIPHERTEXT_BYTES_MAX as u64,
            total_bytes_max: 64 * 1024 * 1024 * 1024,
            uploader_bytes_max: 8 * 1024 * 1024 * 1024,
            pending_ttl_ms: 60 * 60 * 1000,
        }
    }
}

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("content of {found} bytes is over the {max}-byte limit")]
    TooLarge { found: u64, max: u64 },
    #[error("the custodian's storage quota is used up ({used} of {max} bytes)")]
    StoreFull { used: u64, max: u64 },
    #[error("{uploader} has used its storage quota ({used} of {max} bytes)")]
    QuotaExceeded {
        uploader: PartyId,
        used: u64,
        max: u64,
    },
    #[error("stored content {0} is corrupt (its hash no longer matches)")]
    Corrupt(Hash32),
    #[error("blob store I/O failed at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
    move |source| BlobError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What the store knows of one content besides its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobMeta {
    pub uploader: PartyId,
    pub size: u64,
    pub uploaded_ms: u64,
    /// A finalized record version names it.
    pub anchored: bool,
}

#[derive(Default)]
struct Usage {
    total: u64,
    by_uploader: HashMap<PartyId, u64>,
    metas: HashMap<Hash32, BlobMeta>,
}

/// The store. Its methods do blocking file I/O: call them off the async executor.
pub struct BlobStore {
    root: PathBuf,
    limits: BlobLimits,
    usage: Mutex<Usage>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("root", &self.root)
            .finish()
    }
}

fn sync_dir(path: &Path) -> Result<(), BlobError> {
    fs::File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(io(path))
}

/// Writes `bytes` to `path` durably: a temporary file in `tmp`, synced, renamed into place, and
/// the directory synced.
fn write_durable(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), BlobError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(parent))?;
    let temporary = tmp.join(unique_name());
    {
        let mut file = fs::File::create(&temporary).map_err(io(&temporary))?;
        file.write_all(bytes).map_err(io(&temporary))?;
        file.sync_all().map_err(io(&temporary))?;
    }
    fs::rename(&temporary, path).map_err(io(path))?;
    sync_dir(parent)
}

/// A name no other temporary file of this process has: the time and a counter.
fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{now}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Overwrites a file with zeros, syncs, and deletes it; a missing file is fine.
fn shred(path: &Path) -> Result<(), BlobError> {
    let size = match fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io(path)(err)),
    };
    {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io(path))?;
        let zeros = vec![0u8; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n]).map_err(io(path))?;
            left -= n as u64;
        }
        file.sync_all().map_err(io(path))?;
    }
    fs::remove_file(path).map_err(io(path))
}

impl BlobStore {
    /// Opens (or creates) the store under `root`, clearing partial writes and rebuilding the
    /// usage counters from what is on disk.
    pub fn open(root: impl Into<PathBuf>, limits: BlobLimits) -> Result<Self, BlobError> {
        let root = root.into();
        for dir in ["objects", "keys", "tmp"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(io(&path))?;
        }
        let tmp = root.join("tmp");
        for entry in fs::read_dir(&tmp).map_err(io(&tmp))? {
            let entry = entry.map_err(io(&tmp))?;
            fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
        }
        let mut usage = Usage::default();
        let objects = root.join("objects");
        for shard in fs::read_dir(&objects).map_err(io(&objects))? {
            let shard = shard.map_err(io(&objects))?.path();
            for entry in fs::read_dir(&shard).map_err(io(&shard))? {
                let path = entry.map_err(io(&shard))?.path();
                if path.extension().is_some_and(|ext| ext == "meta") {
                    continue;
                }
                let Some(hash) = path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .and_then(|name| Hash32::from_hex(name).ok())
                else {
                    continue;
                };
                let meta_path = path.with_extension("meta");
                let meta: BlobMeta = match fs::read(&meta_path) {
                    Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| BlobError::Io {
                        path: meta_path.clone(),
                        source: std::io::Error::other(err),
                    })?,
                    // Content whose metadata never landed was not acknowledged: drop it.
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        fs::remove_file(&path).map_err(io(&path))?;
                        continue;
                    }
                    Err(err) => return Err(io(&meta_path)(err)),
                };
                usage.total += meta.size;
                *usage.by_uploader.entry(meta.uploader).or_default() += meta.size;
                usage.metas.insert(hash, meta);
            }
        }
        Ok(Self {
            root,
            limits,
            usage: Mutex::new(usage),
        })
    }

    fn object_path(&self, hash: &Hash32) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join("objects").join(&hex[..2]).join(hex)
    }

    fn key_path(&self, record: &RecordId, version: u32, recipient: &PartyId) -> PathBuf {
        self.root
            .join("keys")
            .join(record.to_hex())
            .join(format!("{version}-{}", recipient.to_hex()))
    }

    /// The limits in force.
    pub fn limits(&self) -> &BlobLimits {
        &self.limits
    }

    /// Stores content uploaded by `uploader` (pending until anchored); returns its hash. Storing
    /// content already held is a no-op.
    pub fn put(&self, uploader: PartyId, bytes: &[u8], now_ms: u64) -> Result<Hash32, BlobError> {
        let size = bytes.len() as u64;
        if size > self.limits.blob_bytes_max {
            return Err(BlobError::TooLarge {
                found: size,
                max: self.limits.blob_bytes_max,
            });
        }
        let hash = sha256(bytes);
        let mut usage = self.usage.lock().expect("blob usage lock");
        if usage.metas.contains_key(&hash) {
            return Ok(hash);
        }
        if usage.total + size > self.limits.total_bytes_max {
            return Err(BlobError::StoreFull {
                used: usage.total,
                max: self.limits.total_bytes_max,
            });
        }
        let used = usage.by_uploader.get(&uploader).copied().unwrap_or(0);
        if used + size > self.limits.uploader_bytes_max {
            return Err(BlobError::QuotaExceeded {
                uploader,
                used,
                max: self.limits.uploader_bytes_max,
            });
        }
        let path = self.object_path(&hash);
        let tmp = self.root.join("tmp");
        write_durable(&tmp, &path, bytes)?;
        let meta = BlobMeta {
            uploader,
            size,
            uploaded_ms: now_ms,
            anchored: false,
        };
        let meta_bytes = serde_json::to_vec(&meta).expect("metadata serializes");
        write_durable(&tmp, &path.with_extension("meta"), &meta_bytes)?;
        usage.total += size;
        *usage.by_uploader.entry(uploader).or_default() += size;
        usage.metas.insert(hash, meta);
        Ok(hash)
    }

    /// Whether content is held.
    pub fn contains(&self, hash: &Hash32) -> bool {
        self.usage
            .lock()
            .expect("blob usage lock")
            .metas
            .contains_key(hash)
    }

    /// What is known of held content.
    pub fn meta(&self, hash: &Hash32) -> Option<BlobMeta> {
        self.usage
            .lock()
            .expect("blob usage lock")
            .metas
            .get(hash)
            .cloned()
    }

    /// Reads content, checking it still hashes to its name.
    pub fn get(&self, hash: &Hash32) -> Result<Option<Vec<u8>>, BlobError> {
        if !self.contains(hash) {
            return Ok(None);
        }
        let path = self.object_path(hash);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io(&path)(err)),
        };
        if sha256(&bytes) != *hash {
            return Err(BlobError::Corrupt(*hash));
        }
        Ok(Some(bytes))
    }

    /// Marks content as named by a finalized anchor, so it is never swept.
    pub fn anchor(&self, hash: &Hash32) -> Result<bool, BlobError> {
        let mut usage = self.usage.lock().expect("blob usage lock");
        let Some(meta) = usage.metas.get_mut(hash) else {
            return Ok(false);
        };
        if meta.anchored {
            return Ok(true);
        }
        meta.anchored = true;
        let bytes = serde_json::to_vec(meta).expect("metadata serializes");
        let path = self.object_path(hash).with_extension("meta");
        write_durable(&self.root.join("tmp"), &path, &bytes)?;
        Ok(true)
    }

    /// Overwrites and deletes content.
    pub fn delete(&self, hash: &Hash32) -> Result<(), BlobError> {
        let mut usage = self.usage.lock().expect("blob usage lock");
        let path = self.object_path(hash);
        shred(&path)?;
        shred(&path.with_extension("meta"))?;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
        if let Some(meta) = usage.metas.remove(hash) {
            usage.total -= meta.size;
            if let Some(used) = usage.by_uploader.get_mut(&meta.uploader) {
                *used -= meta.size;
            }
        }
        Ok(())
    }

    /// Deletes pending content older than its time to live; returns how many were swept.
    pub fn sweep(&self, now_ms: u64) -> Result<usize, BlobError> {
        let expired: Vec<Hash32> = {
            let usage = self.usage.lock().expect("blob usage lock");
            usage
                .metas
                .iter()
                .filter(|(_, meta)| {
                    !meta.anchored
                        && now_ms.saturating_sub(meta.uploaded_ms) > self.limits.pending_ttl_ms
                })
                .map(|(hash, _)| *hash)
                .collect()
        };
        for hash in &expired {
            self.delete(hash)?;
        }
        Ok(expired.len())
    }

    /// Bytes stored in all, and by `uploader`.
    pub fn usage(&self, uploader: &PartyId) -> (u64, u64) {
        let usage = self.usage.lock().expect("blob usage lock");
        (
            usage.total,
            usage.by_uploader.get(uploader).copied().unwrap_or(0),
        )
    }

    /// Stores the entry holding a record version's data key wrapped for `recipient`.
    pub fn put_key(
        &self,
        record: &RecordId,
        version: u32,
        recipient: &PartyId,
        wrapped: &[u8],
    ) -> Result<(), BlobError> {
        if wrapped.len() > KEY_ENTRY_BYTES_MAX {
            return Err(BlobError::TooLarge {
                found: wrapped.len() as u64,
                max: KEY_ENTRY_BYTES_MAX as u64,
            });
        }
        write_durable(
            &self.root.join("tmp"),
            &self.key_path(record, version, recipient),
            wrapped,
        )
    }

    /// The data key of a record version wrapped for `recipient`, if held.
    pub fn get_key(
        &self,
        record: &RecordId,
        version: u32,
        recipient: &PartyId,
    ) -> Result<Option<Vec<u8>>, BlobError> {
        let path = self.key_path(record, version, recipient);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(io(&path)(err)),
        }
    }

    /// Every key entry held for a record version, by recipient.
    pub fn keys_of(
        &self,
        record: &RecordId,
        version: u32,
    ) -> Result<Vec<(PartyId, Vec<u8>)>, BlobError> {
        let dir = self.root.join("keys").join(record.to_hex());
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(io(&dir)(err)),
        };
        let prefix = format!("{version}-");
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(io(&dir))?.path();
            let Some(recipient) = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.strip_prefix(&prefix))
                .and_then(|hex| PartyId::from_hex(hex).ok())
            else {
                continue;
            };
            out.push((recipient, fs::read(&path).map_err(io(&path))?));
        }
        Ok(out)
    }

    /// Overwrites and deletes every wrapped key of a record.
    pub fn delete_keys(&self, record: &RecordId) -> Result<usize, BlobError> {
        let dir = self.root.join("keys").join(record.to_hex());
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(err) => return Err(io(&dir)(err)),
        };
        let mut deleted = 0;
        for entry in entries {
            shred(&entry.map_err(io(&dir))?.path())?;
            deleted += 1;
        }
        fs::remove_dir(&dir).map_err(io(&dir))?;
        sync_dir(&self.root.join("keys"))?;
        Ok(deleted)
    }

    /// Every file under the store, for tests that scan it.
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(entries) = fs::read_dir(dir) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        walk(&path, out);
                    } else {
                        out.push(path);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("medchain-blobs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn content_survives_reopening_and_quotas_hold() {
        let root = dir("reopen");
        let limits = BlobLimits {
            blob_bytes_max: 100,
            total_bytes_max: 250,
            uploader_bytes_max: 150,
            pending_ttl_ms: 1_000,
        };
        let alice = PartyId([1; 32]);
        let bob = PartyId([2; 32]);
        let store = BlobStore::open(&root, limits.clone()).expect("opens");
        let a = store.put(alice, &[1; 100], 0).expect("stored");
        assert_eq!(store.put(alice, &[1; 100], 0).expect("idempotent"), a);
        assert!(matches!(
            store.put(alice, &[2; 101], 0),
            Err(BlobError::TooLarge { .. })
        ));
        assert!(matches!(
            store.put(alice, &[3; 60], 0),
            Err(BlobError::QuotaExceeded { .. })
        ));
        let b = store.put(bob, &[4; 100], 0).expect("stored");
        assert!(matches!(
            store.put(bob, &[5; 60], 0),
            Err(BlobError::StoreFull { .. })
        ));
        store.anchor(&a).expect("anchored");
        let record = RecordId([9; 32]);
        store.put_key(&record, 1, &alice, &[7; 80]).expect("key");
        drop(store);

        // Reopened: content, metadata, usage and keys are all there.
        let store = BlobStore::open(&root, limits).expect("reopens");
        assert_eq!(store.get(&a).expect("reads"), Some(vec![1; 100]));
        assert_eq!(store.usage(&alice), (200, 100));
        assert_eq!(
            store.get_key(&record, 1, &alice).expect("reads"),
            Some(vec![7; 80])
        );
        // Pending content expires; anchored content stays.
        assert_eq!(store.sweep(2_000).expect("sweeps"), 1);
        assert_eq!(store.get(&b).expect("reads"), None);
        assert!(store.get(&a).expect("reads").is_some());
        // A corrupted file is noticed.
        let path = store.object_path(&a);
        fs::write(&path, [0u8; 100]).expect("corrupt it");
        assert!(matches!(store.get(&a), Err(BlobError::Corrupt(_))));
        // Deletion leaves nothing behind.
        store.delete(&a).expect("deleted");
        assert_eq!(store.delete_keys(&record).expect("deleted"), 1);
        assert_eq!(store.files(), Vec::<PathBuf>::new());
        assert_eq!(store.usage(&alice), (0, 0));
        let _ = fs::remove_dir_all(&root);
    }
}
