//! Signing and encryption keys.
//!
//! Parties sign with Ed25519. Signatures are verified *strictly* (RFC 8032 with the extra checks
//! of `ed25519-dalek`'s `verify_strict`: canonical encodings, no small-order keys or nonces), so
//! that a signature is either valid on every node or on none, and no signature is malleable.
//! Encryption keys are X25519 public keys, used by record encryption (HPKE) in later modules.

use crate::error::ParseError;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

crate::fixed_bytes!(
    /// An Ed25519 public key (compressed Edwards point).
    PublicKey,
    32
);
crate::fixed_bytes!(
    /// An Ed25519 signature.
    Signature,
    64
);
crate::fixed_bytes!(
    /// An X25519 public key a party receives encrypted data keys under.
    EncryptionKey,
    32
);

impl EncryptionKey {
    /// The X25519 public key of `secret`.
    pub fn of_secret(secret: [u8; 32]) -> Self {
        let secret = x25519_dalek::StaticSecret::from(secret);
        Self(x25519_dalek::PublicKey::from(&secret).to_bytes())
    }
}

impl PublicKey {
    /// Checks that the key is a canonical encoding of a point that is not of small order, so
    /// that it can be registered for a party.
    pub fn validate(&self) -> Result<(), ParseError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| ParseError::Invalid {
            what: "public key",
            reason: "not a valid Ed25519 point encoding".into(),
        })?;
        if key.is_weak() {
            return Err(ParseError::Invalid {
                what: "public key",
                reason: "small-order Ed25519 key".into(),
            });
        }
        Ok(())
    }

    /// Verifies `signature` over `domain || message` with strict RFC 8032 rules.
    pub fn verify(&self, domain: &[u8], message: &[u8], signature: &Signature) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        let mut payload = Vec::with_capacity(domain.len() + message.len());
        payload.extend_from_slice(domain);
        payload.extend_from_slice(message);
        key.verify_strict(&payload, &signature).is_ok()
    }
}

/// An Ed25519 signing key. Its `Debug` form never prints the secret.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl core::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Keypair(public: {})", self.public_key())
    }
}

impl Keypair {
    /// Builds a keypair from a 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The 32-byte secret seed. Handle with care: it is the key.
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// Signs `domain || message`.
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> Signature {
        let mut payload = Vec::with_capacity(domain.len() + message.len());
        payload.extend_from_slice(domain);
        payload.extend_from_slice(message);
        Signature(self.signing.sign(&payload).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_strictly() {
        let keypair = Keypair::from_seed([7u8; 32]);
        let public = keypair.public_key();
        public.validate().expect("generated keys are valid");
        let signature = keypair.sign(b"domain", b"message");
        assert!(public.verify(b"domain", b"message", &signature));
        assert!(!public.verify(b"domain2", b"message", &signature));
        assert!(!public.verify(b"domain", b"messagf", &signature));
        let mut tampered = signature;
        tampered.0[0] ^= 1;
        assert!(!public.verify(b"domain", b"message", &tampered));
    }

    #[test]
    fn small_order_keys_are_refused() {
        // The identity point encoding (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicKey(identity).validate().is_err());
    }

    #[test]
    fn non_canonical_s_is_refused() {
        // Adding the group order L to S gives a non-canonical signature that lax verifiers
        // accept; strict verification must refuse it.
        let keypair = Keypair::from_seed([9u8; 32]);
        let signature = keypair.sign(b"d", b"m");
        let order: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut malleated = signature;
        let mut carry = 0u16;
        for (byte, order_byte) in malleated.0[32..].iter_mut().zip(order) {
            let sum = u16::from(*byte) + u16::from(order_byte) + carry;
            *byte = sum as u8;
            carry = sum >> 8;
        }
        assert!(!keypair.public_key().verify(b"d", b"m", &malleated));
    }
}
