//! Custodial accounts: users of the node's organisation who have no keys of their own (a
//! patient on a portal, a practitioner on a ward terminal) sign in with a password and a TOTP
//! code, and the node signs and decrypts for them while they are signed in.
//!
//! This is an explicit, labelled mode. It exists only on a node that keeps its organisation's
//! custodial key (`custodial_keystore`), and every account file says what it is. A user who
//! keeps their own keys needs none of it.
//!
//! One JSON file per account, `<dir>/<username>.json`, mode 0600, written durably (temporary
//! file, sync, rename, directory sync). The user's Ed25519 signing seed and X25519 secret (and,
//! once active, the TOTP secret) are sealed with ChaCha20-Poly1305 under keys that need both:
//! - the user's secret, stretched with Argon2id (64 MiB, 3 passes, a random salt per seal), and
//! - the node's account key, derived from the organisation's custodial key,
//!
//! so a copied data directory alone does not open an account, even to a password guesser, and
//! neither does the custodial key without the user's password. An account has one seal per way
//! in: `activation` (the one-time code the organisation hands over, until the user activates),
//! then `password` and `recovery` (a one-time code that resets the password and the second
//! factor). The additional data binds each seal to its format, username, party and seal kind.
//!
//! Guessing is bounded before any work, and answered alike whoever is asked about:
//! - Each source address may begin [`ATTEMPTS_BURST`] attempts at once and
//!   [`ATTEMPTS_PER_SOURCE_PER_MINUTE`] a minute after that (sign-in, activation, password
//!   change, recovery), checked after the username and secrets are validated and bounded and
//!   before any Argon2id derivation: a few clients cannot take every derivation slot.
//! - After five consecutive failures for a username *from one source*, that source is locked
//!   out of that username for a minute, doubling with each further failure up to an hour. The
//!   same user from another source is not locked: an attacker cannot lock a user out.
//! - Capacity is kept for known users: a source a user signed in from within a day has a
//!   derivation slot (and a queue) of its own besides the shared ones, so a flood of attempts
//!   from other addresses fills the shared queue, not theirs.
//! - No attempt holds an account's lock while its Argon2id derivation runs: the seal is
//!   opened first, and the lock is taken only for the cheap rest (the TOTP step, the write),
//!   after checking the seal did not change meanwhile. Guesses at one username from many
//!   addresses cannot queue its user behind them.
//! - An unknown username is treated exactly as a known one: a derivation runs for it, its
//!   failures count and lock the same way, and the answers (401, then 429) and their timing
//!   are the same, so nobody can tell which usernames exist.
//! - Nothing is remembered about a request before its username is validated, and the failure
//!   and rate records are bounded ([`TRACKED_MAX`]; stale ones are dropped, and past the
//!   bound new sources are answered busy rather than remembered).
//!
//! A TOTP code is accepted once (RFC 6238 §5.2): the last accepted step is kept in the
//! account file.

use medchain_envelope::PartySecrets;
use medchain_types::{
    PartyId,
    api::{AccountEnrolled, AccountInvited, AccountSummary, Problem},
    identity::PartyKind,
    totp,
};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap},
    io::Write as _,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};
use zeroize::{Zeroize as _, Zeroizing};

/// The file format's name.
pub const FORMAT: &str = "medchain-custodial-account-v1";
/// What every account file says about itself.
pub const LABEL: &str = "CUSTODIAL ACCOUNT: this medchain node holds this user's signing and encryption keys, sealed under the user's password (or recovery code) and the node's custodial key, and signs and decrypts for the user while they are signed in. A self-custody user keeps their own keys instead.";
/// Shortest password accepted, in characters.
pub const PASSWORD_CHARS_MIN: usize = 12;
/// Longest password accepted, in bytes.
pub const PASSWORD_BYTES_MAX: usize = 256;
/// How long an activation code works, in seconds.
pub const ACTIVATION_SECS: u64 = 7 * 24 * 3_600;
/// How many times a sign-in opens a seal that changed while it was being opened (a password
/// change landing at the same moment) before answering busy.
const SEAL_CHANGED_RETRIES: usize = 3;
/// Consecutive failures before an account locks.
pub const FAILURES_BEFORE_LOCK: u32 = 5;
/// The first lock, in seconds; each further failure doubles it.
pub const LOCK_SECS_FIRST: u64 = 60;
/// The longest lock, in seconds.
pub const LOCK_SECS_MAX: u64 = 3_600;
/// Attempts one source may begin at once.
pub const ATTEMPTS_BURST: u64 = 10;
/// Attempts one source may begin per minute, after its burst.
pub const ATTEMPTS_PER_SOURCE_PER_MINUTE: u64 = 30;
/// Most failure records (username, source) and sources remembered at once.
pub const TRACKED_MAX: usize = 100_000;
/// Argon2id derivations run at once (each takes `memory_kib` of memory).
pub const DERIVATIONS_AT_ONCE: usize = 2;
/// Derivations waiting or running before more are refused as busy (about 18 s of work).
pub const DERIVATIONS_QUEUED_MAX: usize = 256;
/// Derivations kept for known sources (an address a user signed in from within
/// [`KNOWN_SOURCE_SECS`]): one runs at once besides the shared ones, and this many may wait,
/// so a flood of attempts from elsewhere cannot keep known users out.
pub const KNOWN_DERIVATIONS_QUEUED_MAX: usize = 32;
/// How long a source stays known after a successful sign-in from it.
pub const KNOWN_SOURCE_SECS: u64 = 24 * 3_600;

tokio::task_local! {
    /// Whether the derivations of the operation running are for a known source.
    static KNOWN_SOURCE: bool;
}

const DOMAIN: &[u8] = b"medchain/custodial-account-seal/v1";
const LOCKS_BEFORE_PRUNE: usize = 1_024;
const PAYLOAD_KEYS: usize = 64;
const PAYLOAD_ACTIVE: usize = 64 + totp::SECRET_BYTES;

/// Argon2id parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub passes: u32,
    pub lanes: u32,
}

impl KdfParams {
    /// What accounts are sealed with: 64 MiB, 3 passes, 1 lane.
    pub const STANDARD: Self = Self {
        memory_kib: 64 * 1024,
        passes: 3,
        lanes: 1,
    };

    fn check(&self) -> bool {
        (8 * 1024..=1024 * 1024).contains(&self.memory_kib)
            && (1..=16).contains(&self.passes)
            && (1..=8).contains(&self.lanes)
    }
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("the username {0} is taken on this node")]
    Taken(String),
    /// Deliberately one answer for an unknown user, a wrong secret and a wrong code.
    #[error(
        "the username, password, code or second factor is wrong (or the account is not activated)"
    )]
    WrongCredentials,
    #[error("too many failed attempts: the account is locked until {until} (Unix seconds)")]
    Locked { until: u64 },
    #[error(
        "the activation code expired at {0} (Unix seconds); ask the organisation for a new account"
    )]
    ActivationExpired(u64),
    #[error("too many sign-ins in progress on this node; retry shortly")]
    Busy,
    #[error("too many sign-in attempts from this address: retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("account store: {0}")]
    Store(String),
}

impl AccountError {
    /// The RFC 9457 problem it answers with.
    pub fn problem(&self) -> Problem {
        let (status, code) = match self {
            Self::Invalid { field, .. } => (400, format!("invalid_{field}")),
            Self::Taken(_) => (409, "username_taken".into()),
            Self::WrongCredentials => (401, "wrong_credentials".into()),
            Self::Locked { .. } => (429, "account_locked".into()),
            Self::ActivationExpired(_) => (410, "activation_expired".into()),
            Self::Busy => (503, "busy".into()),
            Self::RateLimited { .. } => (429, "rate_limited".into()),
            Self::Store(_) => (500, "account_store".into()),
        };
        Problem::new(status, &code, self.to_string())
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seal {
    salt: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct AccountFile {
    format: String,
    label: String,
    custodial: bool,
    username: String,
    party_id: PartyId,
    kind: PartyKind,
    organisation: PartyId,
    created_at: u64,
    activated_at: Option<u64>,
    activation_expires_at: Option<u64>,
    last_totp_step: Option<u64>,
    kdf: String,
    kdf_params: KdfParams,
    seals: BTreeMap<String, Seal>,
}

impl AccountFile {
    fn summary(&self) -> AccountSummary {
        AccountSummary {
            username: self.username.clone(),
            party_id: self.party_id,
            kind: self.kind,
            state: if self.activated_at.is_some() {
                "active"
            } else {
                "invited"
            }
            .into(),
            created_at: self.created_at,
            activated_at: self.activated_at,
        }
    }
}

#[derive(Default)]
struct Failures {
    count: u32,
    locked_until: u64,
    /// When the last failure was (Unix seconds).
    last: u64,
}

/// Where a request comes from: its peer address (`None`: not known, one shared source).
pub type Source = Option<std::net::IpAddr>;

/// A source's attempt allowance: a token bucket, in thousandths of an attempt.
struct Allowance {
    milli: u64,
    updated: u64,
}

/// How many attempts a source may begin: at once, and a minute after that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptLimits {
    pub burst: u64,
    pub per_minute: u64,
}

impl Default for AttemptLimits {
    fn default() -> Self {
        Self {
            burst: ATTEMPTS_BURST,
            per_minute: ATTEMPTS_PER_SOURCE_PER_MINUTE,
        }
    }
}

/// What the store remembers about attempts, bounded by [`TRACKED_MAX`] each.
#[derive(Default)]
struct Attempts {
    failures: HashMap<(String, Source), Failures>,
    sources: HashMap<Source, Allowance>,
    /// Sources a user signed in from, and when they last did.
    known: HashMap<Source, u64>,
}

impl Attempts {
    /// Spends one attempt of `source`'s allowance (`limits`: burst, and attempts a minute).
    fn spend(
        &mut self,
        source: Source,
        now: u64,
        limits: AttemptLimits,
    ) -> Result<(), AccountError> {
        let full = limits.burst * 1000;
        let per_sec = (limits.per_minute * 1000 / 60).max(1);
        if !self.sources.contains_key(&source) && self.sources.len() >= TRACKED_MAX {
            // A full allowance is what an unremembered source has: forget those.
            self.sources.retain(|_, allowance| {
                allowance.milli + now.saturating_sub(allowance.updated) * per_sec < full
            });
            if self.sources.len() >= TRACKED_MAX {
                return Err(AccountError::Busy);
            }
        }
        let allowance = self.sources.entry(source).or_insert(Allowance {
            milli: full,
            updated: now,
        });
        allowance.milli =
            (allowance.milli + now.saturating_sub(allowance.updated) * per_sec).min(full);
        allowance.updated = allowance.updated.max(now);
        if allowance.milli < 1000 {
            return Err(AccountError::RateLimited {
                retry_after_secs: (1000 - allowance.milli).div_ceil(per_sec),
            });
        }
        allowance.milli -= 1000;
        Ok(())
    }
}

/// The custodial accounts of one node.
pub struct AccountStore {
    dir: PathBuf,
    organisation: PartyId,
    issuer: String,
    master: Zeroizing<[u8; 32]>,
    params: KdfParams,
    derivations: Arc<tokio::sync::Semaphore>,
    /// Derivations waiting for or holding a permit.
    queued: Arc<std::sync::atomic::AtomicUsize>,
    /// The slot kept for known sources, and their derivations waiting for or holding one.
    known_derivations: Arc<tokio::sync::Semaphore>,
    known_queued: Arc<std::sync::atomic::AtomicUsize>,
    /// One lock per username, so each read-change-write of an account runs alone.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    attempts: Mutex<Attempts>,
    limits: AttemptLimits,
}

impl std::fmt::Debug for AccountStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountStore")
            .field("dir", &self.dir)
            .field("organisation", &self.organisation)
            .finish()
    }
}

fn store_error(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> AccountError {
    let context = format!("{what} {}", path.display());
    move |err| AccountError::Store(format!("{context}: {err}"))
}

/// `username` if it is 3 to 64 characters of `a-z 0-9 . _ - @`, not starting with a dot.
pub fn check_username(username: &str) -> Result<(), AccountError> {
    let ok = (3..=64).contains(&username.len())
        && !username.starts_with('.')
        && username.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'@')
        });
    if ok {
        Ok(())
    } else {
        Err(AccountError::Invalid {
            field: "username",
            reason: format!(
                "{username:?} is not 3 to 64 characters of a-z, 0-9, '.', '_', '-', '@' (not starting with '.')"
            ),
        })
    }
}

/// A secret offered to unseal an account (a password or a code): too long to be one is
/// refused before any derivation.
fn check_offered(field: &'static str, secret: &str) -> Result<(), AccountError> {
    if secret.len() > PASSWORD_BYTES_MAX {
        return Err(AccountError::Invalid {
            field,
            reason: format!("at most {PASSWORD_BYTES_MAX} bytes"),
        });
    }
    Ok(())
}

fn check_password(username: &str, password: &str) -> Result<(), AccountError> {
    let invalid = |reason: String| AccountError::Invalid {
        field: "password",
        reason,
    };
    if password.chars().count() < PASSWORD_CHARS_MIN {
        return Err(invalid(format!(
            "a password has at least {PASSWORD_CHARS_MIN} characters"
        )));
    }
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(invalid(format!(
            "a password has at most {PASSWORD_BYTES_MAX} bytes"
        )));
    }
    if password.to_lowercase().contains(username) {
        return Err(invalid("a password must not contain the username".into()));
    }
    Ok(())
}

/// A one-time code: 160 random bits in base32, in groups of four.
fn one_time_code() -> Result<String, AccountError> {
    let bytes = Zeroizing::new(random::<20>()?);
    let text = totp::base32_encode(&*bytes);
    Ok(text
        .as_bytes()
        .chunks(4)
        .map(|chunk| std::str::from_utf8(chunk).expect("base32 is ASCII"))
        .collect::<Vec<_>>()
        .join("-"))
}

/// A code as typed: case, spaces and dashes do not matter.
fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_uppercase)
        .collect()
}

fn random<const N: usize>() -> Result<[u8; N], AccountError> {
    medchain_envelope::random::<N>().map_err(|err| AccountError::Store(err.to_string()))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl AccountStore {
    /// Opens (creating) the accounts in `dir` of `organisation`, whose custodial X25519 secret
    /// keys them; `issuer` names the node in authenticator apps.
    pub fn open(
        dir: PathBuf,
        organisation: PartyId,
        organisation_secret: &[u8; 32],
        issuer: impl Into<String>,
        params: KdfParams,
    ) -> Result<Self, AccountError> {
        if !params.check() {
            return Err(AccountError::Invalid {
                field: "kdf",
                reason: format!("Argon2id parameters out of range: {params:?}"),
            });
        }
        std::fs::create_dir_all(&dir).map_err(store_error("cannot create", &dir))?;
        let master = Zeroizing::new(medchain_types::httpsig::hmac_sha256(
            organisation_secret,
            b"medchain/custodial-accounts/v1",
        ));
        Ok(Self {
            dir,
            organisation,
            issuer: issuer.into(),
            master,
            params,
            derivations: Arc::new(tokio::sync::Semaphore::new(DERIVATIONS_AT_ONCE)),
            queued: Arc::default(),
            known_derivations: Arc::new(tokio::sync::Semaphore::new(1)),
            known_queued: Arc::default(),
            locks: Mutex::default(),
            attempts: Mutex::default(),
            limits: AttemptLimits::default(),
        })
    }

    /// The organisation whose users these are.
    pub fn organisation(&self) -> PartyId {
        self.organisation
    }

    fn path(&self, username: &str) -> PathBuf {
        self.dir.join(format!("{username}.json"))
    }

    fn lock(&self, username: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Requests name usernames that may not exist: drop the locks nobody holds, so the map
        // stays as small as the work in flight.
        if locks.len() >= LOCKS_BEFORE_PRUNE {
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        locks.entry(username.to_string()).or_default().clone()
    }

    fn read(&self, username: &str) -> Result<Option<AccountFile>, AccountError> {
        let path = self.path(username);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(store_error("cannot read", &path)(err)),
        };
        let file: AccountFile = serde_json::from_str(&text).map_err(|err| {
            AccountError::Store(format!("{} is not valid: {err}", path.display()))
        })?;
        if file.format != FORMAT
            || file.kdf != "argon2id"
            || !file.kdf_params.check()
            || file.username != username
            || file.organisation != self.organisation
        {
            return Err(AccountError::Store(format!(
                "{} is not a {FORMAT} file of this organisation",
                path.display()
            )));
        }
        Ok(Some(file))
    }

    fn write(&self, file: &AccountFile) -> Result<(), AccountError> {
        let path = self.path(&file.username);
        let text = serde_json::to_string_pretty(file)
            .map_err(|err| AccountError::Store(err.to_string()))?;
        let temporary = self.dir.join(format!(
            ".{}.{}.tmp",
            file.username,
            hex::encode(random::<8>()?)
        ));
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            let mut out = options
                .open(&temporary)
                .map_err(store_error("cannot create", &temporary))?;
            out.write_all(text.as_bytes())
                .and_then(|()| out.sync_all())
                .map_err(store_error("cannot write", &temporary))?;
        }
        std::fs::rename(&temporary, &path).map_err(store_error("cannot write", &path))?;
        std::fs::File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(store_error("cannot sync", &self.dir))
    }

    /// Stretches `secret` with Argon2id and binds it to the node's account key.
    async fn seal_key(
        &self,
        kind: &str,
        secret: &str,
        salt: &[u8],
        params: KdfParams,
    ) -> Result<Zeroizing<[u8; 32]>, AccountError> {
        use std::sync::atomic::Ordering;
        let known = KNOWN_SOURCE.try_with(|known| *known).unwrap_or(false);
        let (queued, bound) = if known {
            (&self.known_queued, KNOWN_DERIVATIONS_QUEUED_MAX)
        } else {
            (&self.queued, DERIVATIONS_QUEUED_MAX)
        };
        // Each request waiting here holds memory and a connection: refuse beyond the bound.
        if queued.fetch_add(1, Ordering::AcqRel) >= bound {
            queued.fetch_sub(1, Ordering::AcqRel);
            return Err(AccountError::Busy);
        }
        struct Queued(Arc<std::sync::atomic::AtomicUsize>);
        impl Drop for Queued {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            }
        }
        let _queued = Queued(queued.clone());
        let closed = |_| AccountError::Store("the key derivation pool closed".into());
        // A known source takes its own slot or a shared one, whichever frees first.
        let _permit = if known {
            tokio::select! {
                permit = self.known_derivations.clone().acquire_owned() => permit.map_err(closed)?,
                permit = self.derivations.clone().acquire_owned() => permit.map_err(closed)?,
            }
        } else {
            self.derivations
                .clone()
                .acquire_owned()
                .await
                .map_err(closed)?
        };
        let secret = Zeroizing::new(secret.to_string());
        let salt = salt.to_vec();
        let stretched = tokio::task::spawn_blocking(move || {
            let argon = argon2::Argon2::new(
                argon2::Algorithm::Argon2id,
                argon2::Version::V0x13,
                argon2::Params::new(params.memory_kib, params.passes, params.lanes, Some(32))
                    .map_err(|err| AccountError::Store(format!("Argon2id: {err}")))?,
            );
            let mut out = Zeroizing::new([0u8; 32]);
            argon
                .hash_password_into(secret.as_bytes(), &salt, &mut *out)
                .map_err(|err| AccountError::Store(format!("Argon2id: {err}")))?;
            Ok::<_, AccountError>(out)
        })
        .await
        .map_err(|err| AccountError::Store(format!("key derivation task: {err}")))??;
        let mut input = Zeroizing::new(DOMAIN.to_vec());
        input.extend_from_slice(kind.as_bytes());
        input.push(0);
        input.extend_from_slice(&*stretched);
        Ok(Zeroizing::new(medchain_types::httpsig::hmac_sha256(
            &*self.master,
            &input,
        )))
    }

    fn aad(file: &AccountFile, kind: &str) -> Vec<u8> {
        let mut aad = FORMAT.as_bytes().to_vec();
        aad.push(0);
        aad.extend_from_slice(file.username.as_bytes());
        aad.push(0);
        aad.extend_from_slice(&file.party_id.0);
        aad.extend_from_slice(kind.as_bytes());
        aad
    }

    async fn seal(
        &self,
        file: &mut AccountFile,
        kind: &str,
        secret: &str,
        payload: &[u8],
    ) -> Result<(), AccountError> {
        use chacha20poly1305::{
            ChaCha20Poly1305, KeyInit as _,
            aead::{Aead as _, Payload},
        };
        let salt = random::<16>()?;
        let nonce = random::<12>()?;
        let key = self.seal_key(kind, secret, &salt, file.kdf_params).await?;
        let ciphertext = ChaCha20Poly1305::new(&(*key).into())
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: payload,
                    aad: &Self::aad(file, kind),
                },
            )
            .map_err(|_| AccountError::Store("sealing failed".into()))?;
        file.seals.insert(
            kind.into(),
            Seal {
                salt: hex::encode(salt),
                nonce: hex::encode(nonce),
                ciphertext: hex::encode(ciphertext),
            },
        );
        Ok(())
    }

    /// Opens the `kind` seal with `secret`; `None` if the secret is wrong (or the seal was
    /// altered).
    async fn unseal(
        &self,
        file: &AccountFile,
        kind: &str,
        secret: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, AccountError> {
        use chacha20poly1305::{
            ChaCha20Poly1305, KeyInit as _,
            aead::{Aead as _, Payload},
        };
        let Some(seal) = file.seals.get(kind) else {
            self.unseal_nothing(secret).await?;
            return Ok(None);
        };
        let corrupt = |what: &str| {
            AccountError::Store(format!("account {}: {what} is not valid", file.username))
        };
        let salt = hex::decode(&seal.salt).map_err(|_| corrupt("salt"))?;
        let nonce: [u8; 12] = hex::decode(&seal.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| corrupt("nonce"))?;
        let ciphertext = hex::decode(&seal.ciphertext).map_err(|_| corrupt("ciphertext"))?;
        let key = self.seal_key(kind, secret, &salt, file.kdf_params).await?;
        Ok(ChaCha20Poly1305::new(&(*key).into())
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: &ciphertext,
                    aad: &Self::aad(file, kind),
                },
            )
            .ok()
            .map(Zeroizing::new))
    }

    fn attempts(&self) -> std::sync::MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Before any work on an attempt at `username` from `source` (whose inputs are already
    /// validated): spends one of the source's allowance, and refuses a locked-out pair.
    fn admit_attempt(&self, username: &str, source: Source, now: u64) -> Result<(), AccountError> {
        let mut attempts = self.attempts();
        if let Some(f) = attempts.failures.get(&(username.to_string(), source))
            && f.locked_until > now
        {
            return Err(AccountError::Locked {
                until: f.locked_until,
            });
        }
        attempts.spend(source, now, self.limits)
    }

    /// Sets how many attempts a source may begin (burst and per minute, each at least 1).
    pub fn with_attempt_limits(mut self, limits: AttemptLimits) -> Self {
        self.limits = AttemptLimits {
            burst: limits.burst.max(1),
            per_minute: limits.per_minute.max(1),
        };
        self
    }

    /// Counts a failed attempt (for a username that exists or not, alike).
    fn failed(&self, username: &str, source: Source, now: u64) -> AccountError {
        let mut attempts = self.attempts();
        let key = (username.to_string(), source);
        if !attempts.failures.contains_key(&key) && attempts.failures.len() >= TRACKED_MAX {
            attempts
                .failures
                .retain(|_, f| f.locked_until > now || f.last + LOCK_SECS_MAX > now);
            if attempts.failures.len() >= TRACKED_MAX {
                // Remembering no more keeps memory bounded; the source's allowance still
                // bounds its guessing.
                return AccountError::WrongCredentials;
            }
        }
        let entry = attempts.failures.entry(key).or_default();
        entry.count += 1;
        entry.last = now;
        if entry.count >= FAILURES_BEFORE_LOCK {
            let doublings = (entry.count - FAILURES_BEFORE_LOCK).min(16);
            entry.locked_until = now + (LOCK_SECS_FIRST << doublings).min(LOCK_SECS_MAX);
        }
        AccountError::WrongCredentials
    }

    fn succeeded(&self, username: &str, source: Source, now: u64) {
        let mut attempts = self.attempts();
        attempts.failures.remove(&(username.to_string(), source));
        if !attempts.known.contains_key(&source) && attempts.known.len() >= TRACKED_MAX {
            attempts
                .known
                .retain(|_, since| *since + KNOWN_SOURCE_SECS > now);
            if attempts.known.len() >= TRACKED_MAX {
                return;
            }
        }
        attempts.known.insert(source, now);
    }

    /// Runs `operation`, its derivations in the capacity kept for known sources when a user
    /// signed in from `source` lately.
    async fn in_lane<T>(
        &self,
        source: Source,
        now: u64,
        operation: impl std::future::Future<Output = T>,
    ) -> T {
        KNOWN_SOURCE.scope(self.known(source, now), operation).await
    }

    /// Whether a user signed in from `source` within [`KNOWN_SOURCE_SECS`].
    fn known(&self, source: Source, now: u64) -> bool {
        self.attempts()
            .known
            .get(&source)
            .is_some_and(|since| since + KNOWN_SOURCE_SECS > now)
    }

    /// How many failure records, sources and username locks are remembered (for tests of
    /// the bounds).
    #[cfg(test)]
    fn tracked(&self) -> (usize, usize, usize) {
        let attempts = self.attempts();
        let locks = self.locks.lock().unwrap_or_else(|p| p.into_inner()).len();
        (attempts.failures.len(), attempts.sources.len(), locks)
    }

    /// Opens an account for a new user of the organisation: makes their keys and seals them
    /// under a one-time activation code, answered once.
    pub async fn invite(
        &self,
        username: &str,
        kind: PartyKind,
        now: u64,
    ) -> Result<AccountInvited, AccountError> {
        check_username(username)?;
        if kind == PartyKind::Organisation {
            return Err(AccountError::Invalid {
                field: "kind",
                reason: "custodial accounts are for patients, practitioners and devices".into(),
            });
        }
        let lock = self.lock(username);
        let _guard = lock.lock().await;
        if self.read(username)?.is_some() {
            return Err(AccountError::Taken(username.into()));
        }
        let keys = PartySecrets::generate().map_err(|err| AccountError::Store(err.to_string()))?;
        let code = one_time_code()?;
        let expires = now + ACTIVATION_SECS;
        let mut file = AccountFile {
            format: FORMAT.into(),
            label: LABEL.into(),
            custodial: true,
            username: username.into(),
            party_id: keys.party(),
            kind,
            organisation: self.organisation,
            created_at: now,
            activated_at: None,
            activation_expires_at: Some(expires),
            last_totp_step: None,
            kdf: "argon2id".into(),
            kdf_params: self.params,
            seals: BTreeMap::new(),
        };
        let mut payload = Zeroizing::new(Vec::with_capacity(PAYLOAD_KEYS));
        payload.extend_from_slice(keys.signing_seed());
        payload.extend_from_slice(keys.encryption_secret());
        self.seal(&mut file, "activation", &normalise_code(&code), &payload)
            .await?;
        self.write(&file)?;
        Ok(AccountInvited {
            username: username.into(),
            party_id: keys.party(),
            kind,
            signing_key: keys.keypair().public_key(),
            encryption_key: keys.encryption_key(),
            activation_code: code,
            activation_expires_at: expires,
        })
    }

    /// Seals `keys` and a fresh TOTP secret under `password` and a fresh recovery code.
    async fn enrol(
        &self,
        file: &mut AccountFile,
        keys: &[u8],
        password: &str,
    ) -> Result<AccountEnrolled, AccountError> {
        let totp_secret = Zeroizing::new(random::<{ totp::SECRET_BYTES }>()?);
        let recovery = Zeroizing::new(one_time_code()?);
        let mut payload = Zeroizing::new(Vec::with_capacity(PAYLOAD_ACTIVE));
        payload.extend_from_slice(&keys[..PAYLOAD_KEYS]);
        payload.extend_from_slice(&*totp_secret);
        file.seals.clear();
        self.seal(file, "password", password, &payload).await?;
        self.seal(file, "recovery", &normalise_code(&recovery), &payload)
            .await?;
        file.last_totp_step = None;
        Ok(AccountEnrolled {
            username: file.username.clone(),
            party_id: file.party_id,
            totp_uri: totp::otpauth_uri(&self.issuer, &file.username, &*totp_secret),
            totp_secret: totp::base32_encode(&*totp_secret),
            recovery_code: (*recovery).clone(),
        })
    }

    /// Activates an account with its one-time code and a password of the user's choosing:
    /// answers the TOTP secret to enrol and a recovery code, once.
    pub async fn activate(
        &self,
        username: &str,
        activation_code: &str,
        password: &str,
        now: u64,
    ) -> Result<AccountEnrolled, AccountError> {
        self.activate_from(None, username, activation_code, password, now)
            .await
    }

    /// [`Self::activate`] from `source`.
    pub async fn activate_from(
        &self,
        source: Source,
        username: &str,
        activation_code: &str,
        password: &str,
        now: u64,
    ) -> Result<AccountEnrolled, AccountError> {
        check_username(username)?;
        check_offered("activation_code", activation_code)?;
        check_password(username, password)?;
        self.admit_attempt(username, source, now)?;
        let lock = self.lock(username);
        let _guard = lock.lock().await;
        let Some(mut file) = self.read(username)? else {
            self.unseal_nothing(activation_code).await?;
            return Err(self.failed(username, source, now));
        };
        let Some(keys) = self
            .unseal(&file, "activation", &normalise_code(activation_code))
            .await?
        else {
            return Err(self.failed(username, source, now));
        };
        if let Some(expires) = file.activation_expires_at
            && expires <= now
        {
            return Err(AccountError::ActivationExpired(expires));
        }
        let enrolled = self.enrol(&mut file, &keys, password).await?;
        file.activated_at = Some(now);
        file.activation_expires_at = None;
        self.write(&file)?;
        self.succeeded(username, source, now);
        Ok(enrolled)
    }

    /// The work of an unseal, for an account or seal that does not exist, so timing does not
    /// tell which do.
    async fn unseal_nothing(&self, secret: &str) -> Result<(), AccountError> {
        self.seal_key("none", secret, &[0; 16], self.params)
            .await
            .map(drop)
    }

    /// Opens the `kind` seal of `username`'s account with `secret`, then takes the account's
    /// lock: answers the account as it is under the lock, the opened payload, and the lock.
    ///
    /// The Argon2id derivation runs *before* the lock is taken, so attempts on one username
    /// from many sources never queue its user's own attempt behind theirs; only the cheap
    /// rest (the TOTP step, the write) runs under it. If the seal changed while it was being
    /// opened (a password change or recovery landed), it is opened again from the new file.
    async fn open_locked(
        &self,
        source: Source,
        username: &str,
        kind: &str,
        secret: &str,
        now: u64,
    ) -> Result<
        (
            AccountFile,
            Zeroizing<Vec<u8>>,
            tokio::sync::OwnedMutexGuard<()>,
        ),
        AccountError,
    > {
        for _ in 0..SEAL_CHANGED_RETRIES {
            let Some(file) = self.read(username)? else {
                self.unseal_nothing(secret).await?;
                return Err(self.failed(username, source, now));
            };
            let payload = match self.unseal(&file, kind, secret).await? {
                Some(payload) if payload.len() == PAYLOAD_ACTIVE => payload,
                _ => return Err(self.failed(username, source, now)),
            };
            let guard = self.lock(username).lock_owned().await;
            match self.read(username)? {
                Some(current) if current.seals.get(kind) == file.seals.get(kind) => {
                    return Ok((current, payload, guard));
                }
                // Changed (or removed) while it was being opened: open the new one.
                _ => continue,
            }
        }
        Err(AccountError::Busy)
    }

    /// Checks the password and a TOTP code; answers the opened account, its payload and the
    /// account's lock, held. The caller has validated the username and admitted the attempt.
    async fn authenticate(
        &self,
        source: Source,
        username: &str,
        password: &str,
        code: &str,
        now: u64,
    ) -> Result<
        (
            AccountFile,
            Zeroizing<Vec<u8>>,
            tokio::sync::OwnedMutexGuard<()>,
        ),
        AccountError,
    > {
        let (mut file, payload, guard) = self
            .open_locked(source, username, "password", password, now)
            .await?;
        let step = match totp::verify(&payload[PAYLOAD_KEYS..], code, now, file.last_totp_step) {
            Ok(step) => step,
            Err(_) => return Err(self.failed(username, source, now)),
        };
        file.last_totp_step = Some(step);
        Ok((file, payload, guard))
    }

    /// Signs a user in with their password and a TOTP code: answers their keys, for the
    /// session to hold while it lasts.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        code: &str,
        now: u64,
    ) -> Result<PartySecrets, AccountError> {
        self.sign_in_from(None, username, password, code, now).await
    }

    /// [`Self::sign_in`] from `source` (a source a user signed in from lately runs its
    /// derivations in the capacity kept for known sources).
    pub async fn sign_in_from(
        &self,
        source: Source,
        username: &str,
        password: &str,
        code: &str,
        now: u64,
    ) -> Result<PartySecrets, AccountError> {
        self.in_lane(source, now, async {
            // Validated and bounded before anything about the request is remembered.
            check_username(username)?;
            check_offered("password", password)?;
            check_offered("totp", code)?;
            self.admit_attempt(username, source, now)?;
            let (file, payload, _guard) = self
                .authenticate(source, username, password, code, now)
                .await?;
            self.write(&file)?;
            self.succeeded(username, source, now);
            let mut seed = [0u8; 32];
            let mut secret = [0u8; 32];
            seed.copy_from_slice(&payload[..32]);
            secret.copy_from_slice(&payload[32..64]);
            let keys = PartySecrets::new(file.party_id, seed, secret);
            seed.zeroize();
            secret.zeroize();
            Ok(keys)
        })
        .await
    }

    /// Changes the password, proven with the current one and a TOTP code; answers the party.
    pub async fn change_password(
        &self,
        username: &str,
        password: &str,
        code: &str,
        new_password: &str,
        now: u64,
    ) -> Result<PartyId, AccountError> {
        self.change_password_from(None, username, password, code, new_password, now)
            .await
    }

    /// [`Self::change_password`] from `source` (a source a user signed in from lately runs its
    /// derivations in the capacity kept for known sources).
    pub async fn change_password_from(
        &self,
        source: Source,
        username: &str,
        password: &str,
        code: &str,
        new_password: &str,
        now: u64,
    ) -> Result<PartyId, AccountError> {
        self.in_lane(source, now, async {
            check_username(username)?;
            check_offered("password", password)?;
            check_offered("totp", code)?;
            check_password(username, new_password)?;
            self.admit_attempt(username, source, now)?;
            let (mut file, payload, _guard) = self
                .authenticate(source, username, password, code, now)
                .await?;
            self.seal(&mut file, "password", new_password, &payload)
                .await?;
            self.write(&file)?;
            self.succeeded(username, source, now);
            Ok(file.party_id)
        })
        .await
    }

    /// Resets the password and the second factor with the recovery code; answers a new TOTP
    /// secret and a new recovery code, once.
    pub async fn recover(
        &self,
        username: &str,
        recovery_code: &str,
        new_password: &str,
        now: u64,
    ) -> Result<AccountEnrolled, AccountError> {
        self.recover_from(None, username, recovery_code, new_password, now)
            .await
    }

    /// [`Self::recover`] from `source` (a source a user signed in from lately runs its
    /// derivations in the capacity kept for known sources).
    pub async fn recover_from(
        &self,
        source: Source,
        username: &str,
        recovery_code: &str,
        new_password: &str,
        now: u64,
    ) -> Result<AccountEnrolled, AccountError> {
        self.in_lane(source, now, async {
            check_username(username)?;
            check_offered("recovery_code", recovery_code)?;
            check_password(username, new_password)?;
            self.admit_attempt(username, source, now)?;
            let (mut file, keys, _guard) = self
                .open_locked(
                    source,
                    username,
                    "recovery",
                    &normalise_code(recovery_code),
                    now,
                )
                .await?;
            let enrolled = self.enrol(&mut file, &keys, new_password).await?;
            self.write(&file)?;
            self.succeeded(username, source, now);
            Ok(enrolled)
        })
        .await
    }

    /// Every account, without secrets, by username.
    pub fn list(&self) -> Result<Vec<AccountSummary>, AccountError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(store_error("cannot list", &self.dir))? {
            let entry = entry.map_err(store_error("cannot list", &self.dir))?;
            let name = entry.file_name();
            let Some(username) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if check_username(username).is_err() {
                continue;
            }
            if let Some(file) = self.read(username)? {
                out.push(file.summary());
            }
        }
        out.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(out)
    }

    /// The current Unix time, in seconds (what the API passes as `now`).
    pub fn now() -> u64 {
        now_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        memory_kib: 8 * 1024,
        passes: 1,
        lanes: 1,
    };

    fn store(dir: &Path) -> AccountStore {
        AccountStore::open(
            dir.to_path_buf(),
            PartyId([1; 32]),
            &[2; 32],
            "medchain test",
            FAST,
        )
        .expect("opens")
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "medchain-accounts-{name}-{}-{}",
            std::process::id(),
            now_secs()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn secret_of(enrolled: &AccountEnrolled) -> Vec<u8> {
        totp::base32_decode(&enrolled.totp_secret).expect("base32")
    }

    const NOW: u64 = 1_800_000_000;
    const PASSWORD: &str = "correct horse battery staple";

    #[tokio::test]
    async fn an_account_is_invited_activated_and_signed_into() {
        let dir = temp("life");
        let store = store(&dir);
        let invited = store
            .invite("alice", PartyKind::Patient, NOW)
            .await
            .expect("invites");
        assert_eq!(invited.party_id, PartyId::derive(&invited.signing_key));
        assert!(matches!(
            store.invite("alice", PartyKind::Patient, NOW).await,
            Err(AccountError::Taken(_))
        ));
        assert!(matches!(
            store.invite("Alice!", PartyKind::Patient, NOW).await,
            Err(AccountError::Invalid {
                field: "username",
                ..
            })
        ));
        assert!(
            store
                .sign_in("alice", PASSWORD, "000000", NOW)
                .await
                .is_err(),
            "an invited account has no password yet"
        );
        assert!(
            matches!(
                store
                    .sign_in("alice", &"x".repeat(PASSWORD_BYTES_MAX + 1), "000000", NOW)
                    .await,
                Err(AccountError::Invalid {
                    field: "password",
                    ..
                })
            ),
            "an over-long password is refused before any work"
        );
        assert!(matches!(
            store.activate("alice", "AAAA-BBBB", PASSWORD, NOW).await,
            Err(AccountError::WrongCredentials)
        ));
        assert!(matches!(
            store
                .activate("alice", &invited.activation_code, "short", NOW)
                .await,
            Err(AccountError::Invalid {
                field: "password",
                ..
            })
        ));
        // The code is accepted however it is typed.
        let typed = invited.activation_code.to_lowercase().replace('-', " ");
        let enrolled = store
            .activate("alice", &typed, PASSWORD, NOW)
            .await
            .expect("activates");
        assert!(enrolled.totp_uri.starts_with("otpauth://totp/"));
        assert!(
            store
                .activate("alice", &invited.activation_code, PASSWORD, NOW)
                .await
                .is_err(),
            "an activation code works once"
        );
        let secret = secret_of(&enrolled);
        let keys = store
            .sign_in("alice", PASSWORD, &totp::code(&secret, NOW), NOW)
            .await
            .expect("signs in");
        assert_eq!(keys.party(), invited.party_id);
        assert_eq!(keys.keypair().public_key(), invited.signing_key);
        assert_eq!(keys.encryption_key(), invited.encryption_key);
        assert!(
            matches!(
                store
                    .sign_in("alice", PASSWORD, &totp::code(&secret, NOW), NOW + 1)
                    .await,
                Err(AccountError::WrongCredentials)
            ),
            "a TOTP code is spent once used"
        );
        // A restart keeps everything, the spent step included.
        drop(store);
        let store = self::store(&dir);
        assert!(
            store
                .sign_in("alice", PASSWORD, &totp::code(&secret, NOW), NOW + 2)
                .await
                .is_err()
        );
        let later = NOW + totp::STEP_SECS;
        store
            .sign_in("alice", PASSWORD, &totp::code(&secret, later), later)
            .await
            .expect("the next code works");
        let listed = store.list().expect("lists");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].state, "active");
        assert_eq!(listed[0].activated_at, Some(NOW));
        // Nothing secret is stored in clear, and the file says what it is.
        let text = std::fs::read_to_string(dir.join("alice.json")).expect("reads");
        assert!(text.contains("CUSTODIAL ACCOUNT"));
        assert!(!text.contains(&hex::encode(keys.signing_seed())));
        assert!(!text.contains(&hex::encode(keys.encryption_secret())));
        assert!(!text.contains(&enrolled.totp_secret));
        assert!(!text.contains(PASSWORD));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Regression (issue 16): an unknown username is answered exactly as a known one (401,
    /// then 429 after five failures), so nobody can tell which exist; a lockout holds for the
    /// source that guessed, not for the user signing in from elsewhere.
    #[tokio::test]
    async fn unknown_and_known_users_answer_alike_and_guessing_locks_out_only_the_guesser() {
        let dir = temp("alike");
        let store = store(&dir).with_attempt_limits(AttemptLimits {
            burst: 100,
            per_minute: 100,
        });
        let invited = store
            .invite("erin", PartyKind::Patient, NOW)
            .await
            .expect("invites");
        let enrolled = store
            .activate("erin", &invited.activation_code, PASSWORD, NOW)
            .await
            .expect("activates");
        let secret = secret_of(&enrolled);
        let attacker: Source = Some("192.0.2.7".parse().expect("an address"));
        let user: Source = Some("198.51.100.3".parse().expect("an address"));
        let mut answers = Vec::new();
        for username in ["erin", "nobody-here"] {
            let mut codes = Vec::new();
            for _ in 0..=FAILURES_BEFORE_LOCK {
                let err = store
                    .sign_in_from(attacker, username, "a wrong guess 123", "123456", NOW)
                    .await
                    .expect_err("a wrong guess");
                codes.push(err.problem().code);
            }
            answers.push(codes);
        }
        assert_eq!(
            answers[0], answers[1],
            "known and unknown users answer alike"
        );
        assert_eq!(
            answers[0].last().map(String::as_str),
            Some("account_locked"),
            "{answers:?}"
        );
        // The guesser is locked out of erin; erin, from her own address, signs in.
        let keys = store
            .sign_in_from(user, "erin", PASSWORD, &totp::code(&secret, NOW), NOW)
            .await
            .expect("the user is not locked out by someone else's guesses");
        assert_eq!(keys.party(), enrolled.party_id);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Regression (issue 16): guesses at one username, from however many sources, never hold
    /// or wait for that account's lock while their Argon2id derivation runs, so they cannot
    /// queue the user's own sign-in behind theirs; the user's sign-in derives first and takes
    /// the lock only for its TOTP step and its write.
    #[tokio::test]
    async fn guesses_at_one_username_do_not_queue_its_user_behind_them() {
        let dir = temp("flood");
        let store = Arc::new(store(&dir).with_attempt_limits(AttemptLimits {
            burst: 100,
            per_minute: 100,
        }));
        let invited = store
            .invite("fay", PartyKind::Patient, NOW)
            .await
            .expect("invites");
        let enrolled = store
            .activate("fay", &invited.activation_code, PASSWORD, NOW)
            .await
            .expect("activates");
        let secret = secret_of(&enrolled);
        // Someone holds fay's lock (a write in progress, stretched out for the test).
        let held = store.lock("fay").lock_owned().await;
        let wait = std::time::Duration::from_secs(30);
        // Guesses from many sources are each answered without waiting for it.
        for i in 0..8u8 {
            let source: Source = Some(std::net::IpAddr::from([192, 0, 2, i]));
            let guess = store.sign_in_from(source, "fay", "a wrong guess 123", "123456", NOW);
            let answer = tokio::time::timeout(wait, guess)
                .await
                .expect("a wrong guess is answered without the account's lock");
            assert_eq!(
                answer.expect_err("wrong").problem().code,
                "wrong_credentials"
            );
        }
        let wrong_code = store.recover_from(None, "fay", "not-the-code", "Another pass 456", NOW);
        tokio::time::timeout(wait, wrong_code)
            .await
            .expect("a wrong recovery code is answered without the account's lock")
            .expect_err("wrong");
        // The user's own sign-in derives, then waits for the lock only for the rest.
        let user = {
            let store = store.clone();
            let code = totp::code(&secret, NOW);
            tokio::spawn(async move { store.sign_in("fay", PASSWORD, &code, NOW).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            !user.is_finished(),
            "the account's write waits for its lock"
        );
        drop(held);
        let keys = tokio::time::timeout(wait, user)
            .await
            .expect("signs in once the lock is free")
            .expect("the task runs")
            .expect("signs in");
        assert_eq!(keys.party(), enrolled.party_id);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Regression (issue 16): a source gets its burst of attempts, then waits; nothing about
    /// a request with a malformed (or huge) username is remembered.
    #[tokio::test]
    async fn attempts_are_limited_per_source_before_any_work_and_bad_usernames_are_not_stored() {
        let dir = temp("rate");
        let store = store(&dir);
        for _ in 0..1_000 {
            let huge = "a".repeat(100_000);
            assert!(matches!(
                store
                    .sign_in_from(None, &huge, "a wrong guess 123", "123456", NOW)
                    .await,
                Err(AccountError::Invalid {
                    field: "username",
                    ..
                })
            ));
        }
        assert_eq!(
            store.tracked(),
            (0, 0, 0),
            "nothing stored for invalid requests"
        );
        let source: Source = Some("203.0.113.9".parse().expect("an address"));
        for n in 0..ATTEMPTS_BURST {
            let username = format!("user{n}");
            assert!(matches!(
                store
                    .sign_in_from(source, &username, "a wrong guess 123", "123456", NOW)
                    .await,
                Err(AccountError::WrongCredentials)
            ));
        }
        let limited = store
            .sign_in_from(source, "user-next", "a wrong guess 123", "123456", NOW)
            .await;
        assert!(
            matches!(
                limited,
                Err(AccountError::RateLimited {
                    retry_after_secs: 2
                })
            ),
            "{limited:?}"
        );
        // Another source is not affected, and the limited one refills with time.
        let other: Source = Some("203.0.113.10".parse().expect("an address"));
        assert!(matches!(
            store
                .sign_in_from(other, "user-next", "a wrong guess 123", "123456", NOW)
                .await,
            Err(AccountError::WrongCredentials)
        ));
        assert!(matches!(
            store
                .sign_in_from(source, "user-next", "a wrong guess 123", "123456", NOW + 2)
                .await,
            Err(AccountError::WrongCredentials)
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Regression (issue 16): with every shared derivation slot taken (a flood of attempts
    /// from elsewhere), a user at an address they signed in from before still signs in, in
    /// the capacity kept for known sources; a new address waits for a shared slot.
    #[tokio::test]
    async fn known_sources_keep_capacity_when_the_shared_derivations_are_taken() {
        let dir = temp("known");
        let store = store(&dir);
        let invited = store
            .invite("finn", PartyKind::Patient, NOW)
            .await
            .expect("invites");
        let enrolled = store
            .activate("finn", &invited.activation_code, PASSWORD, NOW)
            .await
            .expect("activates");
        let secret = secret_of(&enrolled);
        let home: Source = Some("198.51.100.20".parse().expect("an address"));
        let elsewhere: Source = Some("198.51.100.21".parse().expect("an address"));
        let (t1, t2) = (NOW + 30, NOW + 60);
        store
            .sign_in_from(home, "finn", PASSWORD, &totp::code(&secret, t1), t1)
            .await
            .expect("signs in from home");
        let flood = store
            .derivations
            .clone()
            .acquire_many_owned(DERIVATIONS_AT_ONCE as u32)
            .await
            .expect("takes every shared slot");
        let waits = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            store.sign_in_from(elsewhere, "finn", PASSWORD, &totp::code(&secret, t2), t2),
        )
        .await;
        assert!(waits.is_err(), "a new address waits for a shared slot");
        let keys = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            store.sign_in_from(home, "finn", PASSWORD, &totp::code(&secret, t2), t2),
        )
        .await
        .expect("a known source is not held up by the flood")
        .expect("signs in");
        assert_eq!(keys.party(), enrolled.party_id);
        drop(flood);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn wrong_guesses_lock_the_account() {
        let dir = temp("lock");
        let store = store(&dir);
        let invited = store
            .invite("bob", PartyKind::Practitioner, NOW)
            .await
            .expect("invites");
        let enrolled = store
            .activate("bob", &invited.activation_code, PASSWORD, NOW)
            .await
            .expect("activates");
        let secret = secret_of(&enrolled);
        for _ in 0..FAILURES_BEFORE_LOCK {
            assert!(matches!(
                store
                    .sign_in("bob", "wrong password guess", "123456", NOW)
                    .await,
                Err(AccountError::WrongCredentials)
            ));
        }
        let locked = store
            .sign_in("bob", PASSWORD, &totp::code(&secret, NOW), NOW)
            .await;
        assert!(
            matches!(locked, Err(AccountError::Locked { until }) if until == NOW + LOCK_SECS_FIRST),
            "even the right password is refused while locked"
        );
        let after = NOW + LOCK_SECS_FIRST;
        assert!(
            store
                .sign_in("bob", PASSWORD, "000000", after)
                .await
                .is_err(),
            "a wrong TOTP code with the right password fails too"
        );
        assert!(matches!(
            store
                .sign_in("bob", PASSWORD, &totp::code(&secret, after), after)
                .await,
            Err(AccountError::Locked { until }) if until == after + 2 * LOCK_SECS_FIRST
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn passwords_change_and_recovery_resets_both_factors() {
        let dir = temp("recover");
        let store = store(&dir);
        let invited = store
            .invite("carol", PartyKind::Patient, NOW)
            .await
            .expect("invites");
        let enrolled = store
            .activate("carol", &invited.activation_code, PASSWORD, NOW)
            .await
            .expect("activates");
        let secret = secret_of(&enrolled);
        let new_password = "a different long passphrase";
        store
            .change_password(
                "carol",
                PASSWORD,
                &totp::code(&secret, NOW),
                new_password,
                NOW,
            )
            .await
            .expect("changes");
        let t1 = NOW + 30;
        assert!(
            store
                .sign_in("carol", PASSWORD, &totp::code(&secret, t1), t1)
                .await
                .is_err()
        );
        let t2 = NOW + 60;
        store
            .sign_in("carol", new_password, &totp::code(&secret, t2), t2)
            .await
            .expect("the new password works");
        let recovered = store
            .recover(
                "carol",
                &enrolled.recovery_code,
                "third long passphrase",
                t2,
            )
            .await
            .expect("recovers");
        assert_ne!(recovered.totp_secret, enrolled.totp_secret);
        assert_ne!(recovered.recovery_code, enrolled.recovery_code);
        assert!(
            store
                .recover(
                    "carol",
                    &enrolled.recovery_code,
                    "fourth long passphrase",
                    t2
                )
                .await
                .is_err(),
            "a recovery code works once"
        );
        let t3 = NOW + 90;
        let keys = store
            .sign_in(
                "carol",
                "third long passphrase",
                &totp::code(&secret_of(&recovered), t3),
                t3,
            )
            .await
            .expect("signs in after recovery");
        assert_eq!(keys.party(), invited.party_id, "the same keys");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn altered_files_and_other_nodes_do_not_open() {
        let dir = temp("alter");
        let store = store(&dir);
        let invited = store
            .invite("dave", PartyKind::Patient, NOW)
            .await
            .expect("invites");
        let enrolled = store
            .activate("dave", &invited.activation_code, PASSWORD, NOW)
            .await
            .expect("activates");
        let secret = secret_of(&enrolled);
        // The same file under another node's custodial key does not open.
        let other =
            AccountStore::open(dir.clone(), PartyId([1; 32]), &[3; 32], "x", FAST).expect("opens");
        assert!(
            other
                .sign_in("dave", PASSWORD, &totp::code(&secret, NOW), NOW)
                .await
                .is_err()
        );
        // Pointing the account at another party breaks its seals.
        let path = dir.join("dave.json");
        let text = std::fs::read_to_string(&path).expect("reads");
        let forged = text.replace(
            &invited.party_id.to_hex(),
            &PartyId::derive(&medchain_types::PublicKey([9; 32])).to_hex(),
        );
        std::fs::write(&path, forged).expect("writes");
        let t1 = NOW + 30;
        assert!(
            store
                .sign_in("dave", PASSWORD, &totp::code(&secret, t1), t1)
                .await
                .is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
