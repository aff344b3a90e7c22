//! RFC 9180 test vectors (Appendix A, from the CFRG's published JSON) for the suite medchain
//! wraps keys with: base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305.

use crate::{bytes, vectors};
use hpke::{
    Deserializable, Kem as _, OpModeR, OpModeS, Serializable,
    aead::ChaCha20Poly1305,
    kdf::HkdfSha256,
    kem::X25519HkdfSha256,
    rand_core::{TryCryptoRng, TryRng},
};

/// Hands out the vector's ephemeral key material, so that encapsulation is reproducible.
struct Fixed(Vec<u8>);

impl TryRng for Fixed {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unreachable!("X25519 key generation asks for bytes")
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!("X25519 key generation asks for bytes")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        assert!(dst.len() <= self.0.len(), "asked for more than ikmE");
        let rest = self.0.split_off(dst.len());
        dst.copy_from_slice(&self.0);
        self.0 = rest;
        Ok(())
    }
}
impl TryCryptoRng for Fixed {}

#[test]
fn hpke_matches_the_rfc_9180_vectors_for_our_suite() {
    let all = vectors("rfc9180-base-x25519-sha256-chacha20poly1305.json");
    let suites = all.as_array().expect("a list");
    assert!(!suites.is_empty());
    let mut checked = 0;
    for vector in suites {
        assert_eq!(
            (
                &vector["mode"],
                &vector["kem_id"],
                &vector["kdf_id"],
                &vector["aead_id"]
            ),
            (&0.into(), &32.into(), &1.into(), &3.into())
        );
        let info = bytes(&vector["info"]);
        // Key derivation.
        let (sk_r, pk_r) = X25519HkdfSha256::derive_keypair(&bytes(&vector["ikmR"]));
        assert_eq!(sk_r.to_bytes().to_vec(), bytes(&vector["skRm"]));
        assert_eq!(pk_r.to_bytes().to_vec(), bytes(&vector["pkRm"]));
        let (_, pk_e) = X25519HkdfSha256::derive_keypair(&bytes(&vector["ikmE"]));
        assert_eq!(pk_e.to_bytes().to_vec(), bytes(&vector["pkEm"]));
        // The public key computed from the secret, as medchain does it.
        let secret: [u8; 32] = bytes(&vector["skRm"]).try_into().expect("32 bytes");
        assert_eq!(
            medchain_envelope::public_key(&secret)
                .expect("public")
                .0
                .to_vec(),
            bytes(&vector["pkRm"])
        );
        // Sender: encapsulation with the vector's ephemeral, then every sealed message in turn.
        let (enc, mut sender) =
            hpke::setup_sender_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
                &OpModeS::Base,
                &pk_r,
                &info,
                &mut Fixed(bytes(&vector["ikmE"])),
            )
            .expect("setup");
        assert_eq!(enc.to_bytes().to_vec(), bytes(&vector["enc"]));
        // Receiver: decapsulation with the vector's secret.
        let sk_r = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(&secret).expect("sk");
        let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&bytes(&vector["enc"]))
            .expect("enc");
        let mut receiver = hpke::setup_receiver::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk_r,
            &enc,
            &info,
        )
        .expect("setup");
        for encryption in vector["encryptions"].as_array().expect("list") {
            let (aad, pt, ct) = (
                bytes(&encryption["aad"]),
                bytes(&encryption["pt"]),
                bytes(&encryption["ct"]),
            );
            assert_eq!(sender.seal(&pt, &aad).expect("seals"), ct);
            assert_eq!(receiver.open(&ct, &aad).expect("opens"), pt);
            checked += 1;
        }
        for export in vector["exports"].as_array().expect("list") {
            let mut out = vec![0u8; export["L"].as_u64().expect("L") as usize];
            receiver
                .export(&bytes(&export["exporter_context"]), &mut out)
                .expect("exports");
            assert_eq!(out, bytes(&export["exported_value"]));
        }
    }
    assert!(checked >= 257, "only {checked} encryptions checked");
}
