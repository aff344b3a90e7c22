//! End-to-end encryption of record content, done by the writer's and readers' clients; a node
//! stores ciphertext it cannot read.
//!
//! Sealing one version of a record:
//! 1. A fresh 256-bit [`DataKey`] encrypts the content with ChaCha20-Poly1305 ([`seal`]). The
//!    key seals this one content only; the nonce is random anyway. The additional data binds the
//!    ciphertext to its record, version and media type, so it cannot be passed off as another.
//! 2. The data key is wrapped for each recipient with HPKE ([`wrap`]; RFC 9180 base mode,
//!    DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305). The HPKE `info` binds the
//!    record and version, and the additional data the recipient's party id.
//! 3. A salted commitment to the plaintext ([`commitment`]) goes on chain. Deleting the
//!    ciphertext, the wrapped keys and the salt (crypto-shredding) erases the content while the
//!    commitment, and every proof over it, stays.

use hpke::{
    Deserializable, Kem as _, OpModeR, OpModeS, Serializable,
    aead::ChaCha20Poly1305 as HpkeChaCha,
    kdf::HkdfSha256,
    kem::X25519HkdfSha256,
    rand_core::{TryCryptoRng, TryRng},
};
use medchain_types::{EncryptionKey, Hash32, PartyId, limits::RECORD_CIPHERTEXT_BYTES_MAX};
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The HPKE suite keys are wrapped with.
pub const SUITE: &str =
    "HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305";

/// The first bytes of sealed content: the format and its version.
pub const CONTENT_MAGIC: &[u8; 4] = b"mce1";
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
/// Bytes sealed content adds to its plaintext.
pub const CONTENT_OVERHEAD: usize = CONTENT_MAGIC.len() + NONCE_BYTES + TAG_BYTES;
/// Largest plaintext that seals within [`RECORD_CIPHERTEXT_BYTES_MAX`].
pub const PLAINTEXT_BYTES_MAX: usize = RECORD_CIPHERTEXT_BYTES_MAX - CONTENT_OVERHEAD;

/// Why sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("content of {found} bytes is over the {max}-byte limit")]
    TooLarge { found: usize, max: usize },
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("{0}")]
    MediaType(String),
    #[error("the content does not open: wrong key, or it was altered or moved to another record")]
    Content,
    #[error("the wrapped key does not open: not for this recipient, or altered")]
    Unwrap,
    #[error("HPKE failed to wrap the key: {0}")]
    Wrap(String),
}

/// Randomness for HPKE's ephemeral keys: 32 bytes from the operating system, seeded once (so
/// that an OS failure is an error, not a panic), expanded with SHA-256 in counter mode.
struct SeededRng {
    seed: [u8; 32],
    counter: u64,
}

impl SeededRng {
    fn new() -> Result<Self, EnvelopeError> {
        Ok(Self {
            seed: random()?,
            counter: 0,
        })
    }
}

impl Drop for SeededRng {
    fn drop(&mut self) {
        self.seed.zeroize();
    }
}

impl TryRng for SeededRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(32) {
            let block = Sha256::new()
                .chain_update(b"medchain/envelope-rng/v1")
                .chain_update(self.seed)
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            self.counter += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}
impl TryCryptoRng for SeededRng {}

/// `N` bytes from the operating system's random source.
pub fn random<const N: usize>() -> Result<[u8; N], EnvelopeError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| EnvelopeError::Random(err.to_string()))?;
    Ok(bytes)
}

/// A party's secret keys, held in memory (by a client, or by a node for a custodial account
/// while its user is signed in), and wiped when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PartySecrets {
    #[zeroize(skip)]
    party: PartyId,
    signing_seed: [u8; 32],
    encryption_secret: [u8; 32],
}

impl PartySecrets {
    /// The secrets of `party`.
    pub fn new(party: PartyId, signing_seed: [u8; 32], encryption_secret: [u8; 32]) -> Self {
        Self {
            party,
            signing_seed,
            encryption_secret,
        }
    }

    /// Fresh random keys; the party id is derived from the signing key, as registration does.
    pub fn generate() -> Result<Self, EnvelopeError> {
        let signing_seed = random::<32>()?;
        let party =
            PartyId::derive(&medchain_types::keys::Keypair::from_seed(signing_seed).public_key());
        Ok(Self::new(party, signing_seed, random::<32>()?))
    }

    pub fn party(&self) -> PartyId {
        self.party
    }

    pub fn signing_seed(&self) -> &[u8; 32] {
        &self.signing_seed
    }

    pub fn encryption_secret(&self) -> &[u8; 32] {
        &self.encryption_secret
    }

    /// The signing key pair.
    pub fn keypair(&self) -> medchain_types::keys::Keypair {
        medchain_types::keys::Keypair::from_seed(self.signing_seed)
    }

    /// The public encryption key.
    pub fn encryption_key(&self) -> EncryptionKey {
        EncryptionKey::of_secret(self.encryption_secret)
    }

    /// Unwraps a data key wrapped for this party.
    pub fn unwrap(
        &self,
        wrapped: &WrappedKey,
        binding: &Binding,
    ) -> Result<DataKey, EnvelopeError> {
        unwrap(&self.encryption_secret, &self.party, wrapped, binding)
    }
}

impl std::fmt::Debug for PartySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartySecrets({})", self.party)
    }
}

/// A content-encryption key. It never leaves a client unwrapped, and is wiped when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, EnvelopeError> {
        Ok(Self(random()?))
    }

    /// A key from its bytes (an unwrapped key, or a test's).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// What a sealed content and its wrapped keys belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The record's id.
    pub record: Hash32,
    /// The record version (from 1).
    pub version: u32,
}

impl Binding {
    fn info(&self) -> Vec<u8> {
        let mut info = b"medchain/record-key/v1".to_vec();
        info.extend_from_slice(&self.record.0);
        info.extend_from_slice(&self.version.to_be_bytes());
        info
    }

    fn content_aad(&self, media_type: &str) -> Vec<u8> {
        let mut aad = b"medchain/content/v1".to_vec();
        aad.extend_from_slice(&self.record.0);
        aad.extend_from_slice(&self.version.to_be_bytes());
        aad.extend_from_slice(media_type.as_bytes());
        aad
    }
}

fn check_media_type(media_type: &str) -> Result<(), EnvelopeError> {
    medchain_types::records::check_media_type(media_type)
        .map_err(|err| EnvelopeError::MediaType(err.to_string()))
}

/// Encrypts `plaintext` under `key` for `binding`: `mce1 || nonce || ciphertext || tag`.
pub fn seal(
    key: &DataKey,
    binding: &Binding,
    media_type: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    use chacha20poly1305::{
        ChaCha20Poly1305, KeyInit,
        aead::{Aead, Payload},
    };
    check_media_type(media_type)?;
    if plaintext.len() > PLAINTEXT_BYTES_MAX {
        return Err(EnvelopeError::TooLarge {
            found: plaintext.len(),
            max: PLAINTEXT_BYTES_MAX,
        });
    }
    let nonce: [u8; NONCE_BYTES] = random()?;
    let cipher = ChaCha20Poly1305::new(&key.0.into());
    let aad = binding.content_aad(media_type);
    let sealed = cipher
        .encrypt(
            &nonce.into(),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| EnvelopeError::Content)?;
    let mut out = Vec::with_capacity(CONTENT_OVERHEAD + plaintext.len());
    out.extend_from_slice(CONTENT_MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts what [`seal`] produced; fails if anything about it, or its binding, changed.
pub fn open(
    key: &DataKey,
    binding: &Binding,
    media_type: &str,
    sealed: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    use chacha20poly1305::{
        ChaCha20Poly1305, KeyInit,
        aead::{Aead, Payload},
    };
    if sealed.len() > RECORD_CIPHERTEXT_BYTES_MAX {
        return Err(EnvelopeError::TooLarge {
            found: sealed.len(),
            max: RECORD_CIPHERTEXT_BYTES_MAX,
        });
    }
    if sealed.len() < CONTENT_OVERHEAD || &sealed[..4] != CONTENT_MAGIC {
        return Err(EnvelopeError::Invalid {
            field: "content",
            reason: "not sealed medchain content (mce1)",
        });
    }
    let nonce: [u8; NONCE_BYTES] = sealed[4..4 + NONCE_BYTES]
        .try_into()
        .map_err(|_| EnvelopeError::Content)?;
    let cipher = ChaCha20Poly1305::new(&key.0.into());
    let aad = binding.content_aad(media_type);
    cipher
        .decrypt(
            &nonce.into(),
            Payload {
                msg: &sealed[4 + NONCE_BYTES..],
                aad: &aad,
            },
        )
        .map_err(|_| EnvelopeError::Content)
}

/// A data key wrapped for one recipient: the HPKE encapsulated key and the sealed data key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    /// HPKE's encapsulated (ephemeral X25519) key.
    pub enc: [u8; 32],
    /// The data key sealed under HPKE's context: 32 bytes and a 16-byte tag.
    pub sealed: [u8; 48],
}

impl WrappedKey {
    /// Encoded size.
    pub const BYTES: usize = 80;

    /// `enc || sealed`.
    pub fn to_bytes(&self) -> [u8; Self::BYTES] {
        let mut out = [0u8; Self::BYTES];
        out[..32].copy_from_slice(&self.enc);
        out[32..].copy_from_slice(&self.sealed);
        out
    }

    /// Parses `enc || sealed`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() != Self::BYTES {
            return Err(EnvelopeError::Invalid {
                field: "wrapped_key",
                reason: "must be 80 bytes (enc || sealed key)",
            });
        }
        let mut enc = [0u8; 32];
        let mut sealed = [0u8; 48];
        enc.copy_from_slice(&bytes[..32]);
        sealed.copy_from_slice(&bytes[32..]);
        Ok(Self { enc, sealed })
    }
}

/// Wraps `key` for the party `recipient` whose encryption key is `recipient_key`.
pub fn wrap(
    recipient_key: &EncryptionKey,
    recipient: &PartyId,
    key: &DataKey,
    binding: &Binding,
) -> Result<WrappedKey, EnvelopeError> {
    wrap_secret(recipient_key, recipient, &key.0, &binding.info())
}

/// Unwraps a data key with the recipient's X25519 secret.
pub fn unwrap(
    secret: &[u8; 32],
    recipient: &PartyId,
    wrapped: &WrappedKey,
    binding: &Binding,
) -> Result<DataKey, EnvelopeError> {
    unwrap_secret(secret, recipient, wrapped, &binding.info()).map(DataKey)
}

fn session_info(session: &str) -> Vec<u8> {
    let mut info = b"medchain/session-secret/v1".to_vec();
    info.extend_from_slice(session.as_bytes());
    info
}

/// Wraps a request-signing session's secret for the party it was issued to, bound to the
/// session id: only the party can use the session, even if the answer is observed.
pub fn wrap_session_secret(
    recipient_key: &EncryptionKey,
    recipient: &PartyId,
    secret: &[u8; 32],
    session: &str,
) -> Result<WrappedKey, EnvelopeError> {
    wrap_secret(recipient_key, recipient, secret, &session_info(session))
}

/// Unwraps a session secret with the party's X25519 secret.
pub fn unwrap_session_secret(
    encryption_secret: &[u8; 32],
    recipient: &PartyId,
    wrapped: &WrappedKey,
    session: &str,
) -> Result<[u8; 32], EnvelopeError> {
    unwrap_secret(
        encryption_secret,
        recipient,
        wrapped,
        &session_info(session),
    )
}

/// HPKE base mode: seals 32 secret bytes for `recipient` under `info`, with the recipient's
/// party id as associated data.
fn wrap_secret(
    recipient_key: &EncryptionKey,
    recipient: &PartyId,
    secret: &[u8; 32],
    info: &[u8],
) -> Result<WrappedKey, EnvelopeError> {
    let public =
        <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&recipient_key.0).map_err(|_| {
            EnvelopeError::Invalid {
                field: "encryption_key",
                reason: "not an X25519 public key",
            }
        })?;
    let (enc, sealed) =
        hpke::single_shot_seal_with_rng::<HpkeChaCha, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &public,
            info,
            secret,
            &recipient.0,
            &mut SeededRng::new()?,
        )
        .map_err(|err| EnvelopeError::Wrap(err.to_string()))?;
    let mut wrapped = WrappedKey {
        enc: [0; 32],
        sealed: [0; 48],
    };
    wrapped.enc.copy_from_slice(&enc.to_bytes());
    if sealed.len() != 48 {
        return Err(EnvelopeError::Wrap(format!(
            "sealed key is {} bytes, not 48",
            sealed.len()
        )));
    }
    wrapped.sealed.copy_from_slice(&sealed);
    Ok(wrapped)
}

fn unwrap_secret(
    encryption_secret: &[u8; 32],
    recipient: &PartyId,
    wrapped: &WrappedKey,
    info: &[u8],
) -> Result<[u8; 32], EnvelopeError> {
    let private = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(encryption_secret)
        .map_err(|_| EnvelopeError::Invalid {
            field: "encryption_secret",
            reason: "not an X25519 secret key",
        })?;
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&wrapped.enc)
        .map_err(|_| EnvelopeError::Unwrap)?;
    let mut opened = hpke::single_shot_open::<HpkeChaCha, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &private,
        &enc,
        info,
        &wrapped.sealed,
        &recipient.0,
    )
    .map_err(|_| EnvelopeError::Unwrap)?;
    let secret: [u8; 32] = opened
        .as_slice()
        .try_into()
        .map_err(|_| EnvelopeError::Unwrap)?;
    opened.zeroize();
    Ok(secret)
}

/// The X25519 public key of a secret, as HPKE computes it.
pub fn public_key(secret: &[u8; 32]) -> Result<EncryptionKey, EnvelopeError> {
    let private =
        <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(secret).map_err(|_| {
            EnvelopeError::Invalid {
                field: "encryption_secret",
                reason: "not an X25519 secret key",
            }
        })?;
    let public = X25519HkdfSha256::sk_to_pk(&private);
    let mut key = [0u8; 32];
    key.copy_from_slice(&public.to_bytes());
    Ok(EncryptionKey(key))
}

/// A fresh salt for a content commitment.
pub fn salt() -> Result<[u8; 32], EnvelopeError> {
    random()
}

/// The salted commitment to a record's plaintext that goes on chain: without the salt, which
/// stays off chain with the content, it reveals nothing, and once both are erased it cannot be
/// tied to any content.
pub fn commitment(salt: &[u8; 32], plaintext: &[u8]) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update(b"medchain/content-commitment/v1");
    hasher.update(salt);
    hasher.update(plaintext);
    Hash32(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> Binding {
        Binding {
            record: Hash32([7; 32]),
            version: 1,
        }
    }

    #[test]
    fn content_round_trips_and_any_change_is_refused() {
        let key = DataKey::generate().expect("random");
        let plaintext = br#"{"resourceType":"Observation","status":"final"}"#;
        let sealed = seal(&key, &binding(), "application/fhir+json", plaintext).expect("seals");
        assert_eq!(sealed.len(), plaintext.len() + CONTENT_OVERHEAD);
        assert_eq!(
            open(&key, &binding(), "application/fhir+json", &sealed).expect("opens"),
            plaintext
        );
        for index in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[index] ^= 1;
            assert!(open(&key, &binding(), "application/fhir+json", &altered).is_err());
        }
        let moved = Binding {
            version: 2,
            ..binding()
        };
        assert_eq!(
            open(&key, &moved, "application/fhir+json", &sealed),
            Err(EnvelopeError::Content)
        );
        assert_eq!(
            open(&key, &binding(), "text/plain", &sealed),
            Err(EnvelopeError::Content)
        );
        let other = DataKey::generate().expect("random");
        assert_eq!(
            open(&other, &binding(), "application/fhir+json", &sealed),
            Err(EnvelopeError::Content)
        );
        assert!(seal(&key, &binding(), "no-slash", b"x").is_err());
        assert!(matches!(
            open(&key, &binding(), "text/plain", b"short"),
            Err(EnvelopeError::Invalid { .. })
        ));
    }

    #[test]
    fn wrapped_keys_open_only_for_their_recipient_and_binding() {
        let secret = [9u8; 32];
        let recipient = PartyId([1; 32]);
        let public = public_key(&secret).expect("public");
        let key = DataKey::generate().expect("random");
        let wrapped = wrap(&public, &recipient, &key, &binding()).expect("wraps");
        let again = wrap(&public, &recipient, &key, &binding()).expect("wraps");
        assert_ne!(wrapped, again, "each wrap uses a fresh ephemeral key");
        assert_eq!(
            unwrap(&secret, &recipient, &wrapped, &binding()).expect("unwraps"),
            key
        );
        assert_eq!(
            WrappedKey::from_bytes(&wrapped.to_bytes()).expect("parses"),
            wrapped
        );
        assert_eq!(
            unwrap(&[8u8; 32], &recipient, &wrapped, &binding()),
            Err(EnvelopeError::Unwrap)
        );
        assert_eq!(
            unwrap(&secret, &PartyId([2; 32]), &wrapped, &binding()),
            Err(EnvelopeError::Unwrap)
        );
        let other = Binding {
            record: Hash32([8; 32]),
            version: 1,
        };
        assert_eq!(
            unwrap(&secret, &recipient, &wrapped, &other),
            Err(EnvelopeError::Unwrap)
        );
        let mut altered = wrapped;
        altered.sealed[0] ^= 1;
        assert_eq!(
            unwrap(&secret, &recipient, &altered, &binding()),
            Err(EnvelopeError::Unwrap)
        );
    }

    #[test]
    fn session_secrets_open_only_for_their_party_and_session() {
        let secret = [9u8; 32];
        let party = PartyId([1; 32]);
        let public = public_key(&secret).expect("public");
        let session_secret = random::<32>().expect("random");
        let session = "00112233445566778899aabbccddeeff";
        let wrapped =
            wrap_session_secret(&public, &party, &session_secret, session).expect("wraps");
        assert_eq!(
            unwrap_session_secret(&secret, &party, &wrapped, session).expect("unwraps"),
            session_secret
        );
        assert_eq!(
            unwrap_session_secret(
                &secret,
                &party,
                &wrapped,
                "ffeeddccbbaa99887766554433221100"
            ),
            Err(EnvelopeError::Unwrap)
        );
        assert_eq!(
            unwrap_session_secret(&secret, &PartyId([2; 32]), &wrapped, session),
            Err(EnvelopeError::Unwrap)
        );
        // A wrapped session secret is not a record key, whatever binding is tried.
        assert_eq!(
            unwrap(&secret, &party, &wrapped, &binding()),
            Err(EnvelopeError::Unwrap)
        );
    }

    #[test]
    fn commitments_depend_on_salt_and_content() {
        let a = commitment(&[1; 32], b"content");
        assert_eq!(a, commitment(&[1; 32], b"content"));
        assert_ne!(a, commitment(&[2; 32], b"content"));
        assert_ne!(a, commitment(&[1; 32], b"contenu"));
    }
}
