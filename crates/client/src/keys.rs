//! Key files.
//!
//! A party key file holds the party's Ed25519 signing seed and X25519 encryption secret as hex,
//! with the public halves and the party id for reference. Files are written with mode 0600.
//! Keep them secret: they are the party.

use medchain_types::{
    ChainId, EncryptionKey, Keypair, PartyId, PublicKey, SignedTransaction, Transaction, TxBody,
    dev,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Errors reading or writing key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {path} is not valid: {reason}")]
    Invalid { path: String, reason: String },
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// 32 bytes from the operating system's CSPRNG.
pub fn random_seed() -> Result<[u8; 32], KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|err| KeyError::Random(err.to_string()))?;
    Ok(seed)
}

/// The X25519 public key of a secret.
pub fn encryption_public(secret: [u8; 32]) -> EncryptionKey {
    EncryptionKey::of_secret(secret)
}

/// A party's keys, and the id it has (or will have, once registered with these keys).
#[derive(Clone)]
pub struct PartyKeys {
    pub party_id: PartyId,
    pub signing: Keypair,
    pub encryption_secret: [u8; 32],
}

impl std::fmt::Debug for PartyKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartyKeys({})", self.party_id)
    }
}

#[derive(Serialize, Deserialize)]
struct PartyKeyFile {
    kind: String,
    party_id: PartyId,
    public_key: PublicKey,
    encryption_key: EncryptionKey,
    signing_seed: String,
    encryption_secret: String,
}

fn write_secret_file(path: &Path, text: &str) -> Result<(), KeyError> {
    use std::io::Write as _;
    let error = |source| KeyError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(error)?;
    file.write_all(text.as_bytes()).map_err(error)
}

fn parse_seed(path: &Path, what: &str, text: &str) -> Result<[u8; 32], KeyError> {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text, &mut seed).map_err(|_| KeyError::Invalid {
        path: path.display().to_string(),
        reason: format!("{what} must be 64 hex characters"),
    })?;
    Ok(seed)
}

impl PartyKeys {
    /// Fresh random keys.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self::from_seeds(random_seed()?, random_seed()?))
    }

    /// Keys from seeds. The party id is derived from the signing key, as registration does.
    pub fn from_seeds(signing_seed: [u8; 32], encryption_secret: [u8; 32]) -> Self {
        let signing = Keypair::from_seed(signing_seed);
        Self {
            party_id: PartyId::derive(&signing.public_key()),
            signing,
            encryption_secret,
        }
    }

    /// A demo party of the dev chain (public keys; anyone can sign as them).
    pub fn dev(name: &str) -> Self {
        Self {
            party_id: dev::party_id(name),
            signing: dev::keypair(name),
            encryption_secret: dev::encryption_secret(name),
        }
    }

    /// The public signing key.
    pub fn public_key(&self) -> PublicKey {
        self.signing.public_key()
    }

    /// The public encryption key.
    pub fn encryption_key(&self) -> EncryptionKey {
        encryption_public(self.encryption_secret)
    }

    /// Signs a transaction as this party.
    pub fn sign(&self, chain_id: &ChainId, nonce: u64, body: TxBody) -> SignedTransaction {
        Transaction {
            chain_id: chain_id.clone(),
            signer: self.party_id,
            public_key: self.public_key(),
            nonce,
            body,
        }
        .sign(&self.signing)
    }

    /// Writes the key file (mode 0600).
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let file = PartyKeyFile {
            kind: "medchain-party-key".into(),
            party_id: self.party_id,
            public_key: self.public_key(),
            encryption_key: self.encryption_key(),
            signing_seed: hex::encode(self.signing.seed()),
            encryption_secret: hex::encode(self.encryption_secret),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|err| KeyError::Invalid {
            path: path.display().to_string(),
            reason: err.to_string(),
        })?;
        write_secret_file(path, &text)
    }

    /// Reads a key file. A rotated party keeps its id: the file's `party_id` wins over the id
    /// its current key would derive.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let file: PartyKeyFile = serde_json::from_str(&text).map_err(|err| KeyError::Invalid {
            path: path.display().to_string(),
            reason: err.to_string(),
        })?;
        let signing_seed = parse_seed(path, "signing_seed", &file.signing_seed)?;
        let encryption_secret = parse_seed(path, "encryption_secret", &file.encryption_secret)?;
        let mut keys = Self::from_seeds(signing_seed, encryption_secret);
        if keys.public_key() != file.public_key {
            return Err(KeyError::Invalid {
                path: path.display().to_string(),
                reason: "public_key does not match signing_seed".into(),
            });
        }
        keys.party_id = file.party_id;
        Ok(keys)
    }
}

/// A validator's consensus key file.
#[derive(Serialize, Deserialize)]
pub struct ValidatorKeyFile {
    pub kind: String,
    pub public_key: PublicKey,
    pub seed: String,
}

/// Writes a validator key (mode 0600).
pub fn save_validator_key(path: &Path, seed: [u8; 32]) -> Result<PublicKey, KeyError> {
    let public_key = Keypair::from_seed(seed).public_key();
    let file = ValidatorKeyFile {
        kind: "medchain-validator-key".into(),
        public_key,
        seed: hex::encode(seed),
    };
    let text = serde_json::to_string_pretty(&file).map_err(|err| KeyError::Invalid {
        path: path.display().to_string(),
        reason: err.to_string(),
    })?;
    write_secret_file(path, &text)?;
    Ok(public_key)
}

/// Reads a validator key's seed.
pub fn load_validator_key(path: &Path) -> Result<[u8; 32], KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let file: ValidatorKeyFile = serde_json::from_str(&text).map_err(|err| KeyError::Invalid {
        path: path.display().to_string(),
        reason: err.to_string(),
    })?;
    let seed = parse_seed(path, "seed", &file.seed)?;
    if Keypair::from_seed(seed).public_key() != file.public_key {
        return Err(KeyError::Invalid {
            path: path.display().to_string(),
            reason: "public_key does not match seed".into(),
        });
    }
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_catch_tampering() {
        let dir = std::env::temp_dir().join(format!("medchain-keys-{}", std::process::id()));
        let path = dir.join("party.json");
        let keys = PartyKeys::generate().expect("random");
        keys.save(&path).expect("saves");
        let loaded = PartyKeys::load(&path).expect("loads");
        assert_eq!(loaded.party_id, keys.party_id);
        assert_eq!(loaded.public_key(), keys.public_key());
        let text = std::fs::read_to_string(&path).expect("reads");
        let other = PartyKeys::generate().expect("random");
        let tampered = text.replace(&keys.public_key().to_hex(), &other.public_key().to_hex());
        std::fs::write(&path, tampered).expect("writes");
        assert!(PartyKeys::load(&path).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The custodial keystore: an organisation's X25519 encryption secret, encrypted under a
/// passphrase, that its node keeps to re-wrap data keys for the organisation's own members
/// (organisation grants, authorship, break-glass). It is a labelled, opt-in mode: a
/// self-custody organisation runs its node without one.
///
/// Encryption: Argon2id (64 MiB, 3 passes, 1 lane) derives a 256-bit key from the passphrase
/// and a random salt; ChaCha20-Poly1305 seals the secret, with the format, the party id and
/// the KDF parameters as associated data.
pub mod keystore {
    use super::{KeyError, random_seed};
    use medchain_types::PartyId;
    use serde::{Deserialize, Serialize};
    use std::path::Path;

    /// The file format's name.
    pub const FORMAT: &str = "medchain-custodial-keystore-v1";
    /// Shortest passphrase accepted.
    pub const PASSPHRASE_CHARS_MIN: usize = 12;
    const MEMORY_KIB: u32 = 64 * 1024;
    const PASSES: u32 = 3;

    #[derive(Serialize, Deserialize)]
    struct File {
        format: String,
        label: String,
        custodial: bool,
        party_id: PartyId,
        kdf: String,
        memory_kib: u32,
        passes: u32,
        lanes: u32,
        salt: String,
        nonce: String,
        ciphertext: String,
    }

    fn invalid(path: &Path, reason: impl Into<String>) -> KeyError {
        KeyError::Invalid {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }

    fn derive(
        path: &Path,
        passphrase: &str,
        salt: &[u8],
        memory_kib: u32,
        passes: u32,
        lanes: u32,
    ) -> Result<[u8; 32], KeyError> {
        let params = argon2::Params::new(memory_kib, passes, lanes, Some(32))
            .map_err(|err| invalid(path, format!("bad KDF parameters: {err}")))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), salt, &mut key)
            .map_err(|err| invalid(path, format!("key derivation failed: {err}")))?;
        Ok(key)
    }

    fn aad(party: &PartyId, memory_kib: u32, passes: u32, lanes: u32) -> Vec<u8> {
        let mut out = FORMAT.as_bytes().to_vec();
        out.extend_from_slice(&party.0);
        out.extend_from_slice(&memory_kib.to_be_bytes());
        out.extend_from_slice(&passes.to_be_bytes());
        out.extend_from_slice(&lanes.to_be_bytes());
        out
    }

    /// Writes `secret` (the X25519 secret of `party`) to `path`, encrypted under `passphrase`.
    pub fn write(
        path: &Path,
        party: &PartyId,
        secret: &[u8; 32],
        passphrase: &str,
    ) -> Result<(), KeyError> {
        use chacha20poly1305::{
            ChaCha20Poly1305, KeyInit,
            aead::{Aead, Payload},
        };
        if passphrase.chars().count() < PASSPHRASE_CHARS_MIN {
            return Err(invalid(
                path,
                format!("the passphrase must have at least {PASSPHRASE_CHARS_MIN} characters"),
            ));
        }
        let salt = random_seed()?;
        let nonce_bytes = random_seed()?;
        let nonce = &nonce_bytes[..12];
        let key = derive(path, passphrase, &salt, MEMORY_KIB, PASSES, 1)?;
        let cipher = ChaCha20Poly1305::new(&key.into());
        let sealed = cipher
            .encrypt(
                nonce.try_into().map_err(|_| invalid(path, "nonce"))?,
                Payload {
                    msg: secret,
                    aad: &aad(party, MEMORY_KIB, PASSES, 1),
                },
            )
            .map_err(|_| invalid(path, "encryption failed"))?;
        let file = File {
            format: FORMAT.into(),
            label: "CUSTODIAL: the node holds this organisation's encryption key and uses it to re-wrap record keys for the organisation's own members".into(),
            custodial: true,
            party_id: *party,
            kdf: "argon2id".into(),
            memory_kib: MEMORY_KIB,
            passes: PASSES,
            lanes: 1,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(sealed),
        };
        let text =
            serde_json::to_string_pretty(&file).map_err(|err| invalid(path, err.to_string()))?;
        super::write_secret_file(path, &text)
    }

    /// Reads a keystore: the party it belongs to and its secret.
    pub fn read(path: &Path, passphrase: &str) -> Result<(PartyId, [u8; 32]), KeyError> {
        use chacha20poly1305::{
            ChaCha20Poly1305, KeyInit,
            aead::{Aead, Payload},
        };
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let file: File =
            serde_json::from_str(&text).map_err(|err| invalid(path, err.to_string()))?;
        if file.format != FORMAT || file.kdf != "argon2id" {
            return Err(invalid(path, format!("not a {FORMAT} file")));
        }
        if file.memory_kib < 8 * 1024
            || file.passes == 0
            || file.lanes == 0
            || file.memory_kib > 1024 * 1024
        {
            return Err(invalid(path, "KDF parameters out of range"));
        }
        let bytes = |field: &str, text: &str| {
            hex::decode(text).map_err(|_| invalid(path, format!("{field} is not hex")))
        };
        let salt = bytes("salt", &file.salt)?;
        let nonce = bytes("nonce", &file.nonce)?;
        let sealed = bytes("ciphertext", &file.ciphertext)?;
        if nonce.len() != 12 {
            return Err(invalid(path, "nonce is not 12 bytes"));
        }
        let key = derive(
            path,
            passphrase,
            &salt,
            file.memory_kib,
            file.passes,
            file.lanes,
        )?;
        let cipher = ChaCha20Poly1305::new(&key.into());
        let secret = cipher
            .decrypt(
                nonce
                    .as_slice()
                    .try_into()
                    .map_err(|_| invalid(path, "nonce"))?,
                Payload {
                    msg: &sealed,
                    aad: &aad(&file.party_id, file.memory_kib, file.passes, file.lanes),
                },
            )
            .map_err(|_| invalid(path, "wrong passphrase, or the file was altered"))?;
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| invalid(path, "the secret is not 32 bytes"))?;
        Ok((file.party_id, secret))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn keystores_open_only_with_their_passphrase_and_unaltered() {
            let dir =
                std::env::temp_dir().join(format!("medchain-keystore-{}", std::process::id()));
            let path = dir.join("org.keystore.json");
            let party = medchain_types::PartyId([7; 32]);
            super::write(&path, &party, &[9; 32], "correct horse battery").expect("writes");
            assert_eq!(
                super::read(&path, "correct horse battery").expect("opens"),
                (party, [9; 32])
            );
            assert!(super::read(&path, "wrong horse battery").is_err());
            let text = std::fs::read_to_string(&path).expect("reads");
            let altered = text.replace(&party.to_hex(), &medchain_types::PartyId([8; 32]).to_hex());
            std::fs::write(&path, altered).expect("writes");
            assert!(super::read(&path, "correct horse battery").is_err());
            assert!(super::write(&path, &party, &[9; 32], "short").is_err());
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
