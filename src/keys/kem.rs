//! ML-KEM-768 key pairs, stored as their 64-byte seed.

use core::fmt;

use ml_kem::array::Array;
use ml_kem::kem::{Decapsulate, Encapsulate, KeyExport};
use ml_kem::ml_kem_768::{Ciphertext, DecapsulationKey, EncapsulationKey};
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::secret::SharedSecret;
use crate::error::KeyError;

/// Length of an encoded ML-KEM-768 encapsulation key.
pub(crate) const KEM_PUBLIC_KEY_LEN: usize = 1184;
/// Length of an ML-KEM-768 ciphertext.
pub(crate) const KEM_CIPHERTEXT_LEN: usize = 1088;

/// An ML-KEM-768 key pair. The 64-byte seed is what is persisted; the expanded decapsulation
/// key is kept beside it so that a decapsulation does not redo the key generation (the
/// expansion costs as much as a decapsulation), and the public key is cached.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct KemKeyPair {
    seed: [u8; 64],
    /// Expanded from `seed`; ml-kem wipes it on drop itself.
    #[zeroize(skip)]
    expanded: Box<DecapsulationKey>,
    #[zeroize(skip)]
    public: Box<[u8; KEM_PUBLIC_KEY_LEN]>,
}

impl KemKeyPair {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 64]);
        rng.fill_bytes(seed.as_mut());
        Self::from_seed(&seed)
    }

    pub(crate) fn from_seed(seed: &[u8; 64]) -> Self {
        // ml-kem takes the seed by value and does not wipe that copy: a stack temporary we
        // cannot reach (SPEC.md §9.3, "Copies on the stack").
        let dk = DecapsulationKey::from_seed(Array::from(*seed));
        let encoded = dk.encapsulation_key().to_bytes();
        let mut public = Box::new([0u8; KEM_PUBLIC_KEY_LEN]);
        public.copy_from_slice(encoded.as_slice());
        KemKeyPair {
            seed: *seed,
            expanded: Box::new(dk),
            public,
        }
    }

    pub(crate) fn seed(&self) -> &[u8; 64] {
        &self.seed
    }

    pub(crate) fn public(&self) -> &[u8; KEM_PUBLIC_KEY_LEN] {
        &self.public
    }

    /// Decapsulates. ML-KEM never fails here: a forged ciphertext yields an unrelated secret
    /// (implicit rejection), which then fails authentication of the first message.
    pub(crate) fn decapsulate(&self, ciphertext: &[u8; KEM_CIPHERTEXT_LEN]) -> SharedSecret {
        let ct = Ciphertext::from(*ciphertext);
        let mut shared = self.expanded.decapsulate(&ct);
        let secret = SharedSecret::copy_from(shared.as_slice());
        // ml-kem's shared key is a plain array: wipe it here.
        shared.as_mut_slice().zeroize();
        secret
    }
}

impl fmt::Debug for KemKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KemKeyPair(..)")
    }
}

/// Encapsulates to an encoded ML-KEM-768 public key.
///
/// # Errors
/// [`KeyError::InvalidKemKey`] if the key fails the FIPS 203 input check.
pub(crate) fn kem_encapsulate<R: CryptoRng + ?Sized>(
    public: &[u8; KEM_PUBLIC_KEY_LEN],
    rng: &mut R,
) -> Result<([u8; KEM_CIPHERTEXT_LEN], SharedSecret), KeyError> {
    let key = Array::from(*public);
    let ek = EncapsulationKey::new(&key).map_err(|_| KeyError::InvalidKemKey)?;
    let (ct, mut shared) = ek.encapsulate_with_rng(rng);
    let mut ct_out = [0u8; KEM_CIPHERTEXT_LEN];
    ct_out.copy_from_slice(ct.as_slice());
    let secret = SharedSecret::copy_from(shared.as_slice());
    // ml-kem's shared key is a plain array: wipe it here.
    shared.as_mut_slice().zeroize();
    Ok((ct_out, secret))
}

/// Whether an encoded ML-KEM-768 public key passes the FIPS 203 input check, without
/// encapsulating (so that a caller can refuse a bad key before drawing any randomness).
pub(crate) fn kem_key_is_valid(public: &[u8; KEM_PUBLIC_KEY_LEN]) -> bool {
    EncapsulationKey::new(&Array::from(*public)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn encapsulate_then_decapsulate_agree() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let pair = KemKeyPair::generate(&mut rng);
        let (ct, ss) = kem_encapsulate(pair.public(), &mut rng).unwrap();
        assert_eq!(pair.decapsulate(&ct), ss);
    }

    #[test]
    fn tampered_ciphertext_gives_a_different_secret() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let pair = KemKeyPair::generate(&mut rng);
        let (mut ct, ss) = kem_encapsulate(pair.public(), &mut rng).unwrap();
        ct[10] ^= 1;
        assert_ne!(pair.decapsulate(&ct), ss);
    }

    #[test]
    fn out_of_range_public_key_is_rejected() {
        let bad = [0xffu8; KEM_PUBLIC_KEY_LEN];
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        assert!(matches!(
            kem_encapsulate(&bad, &mut rng),
            Err(KeyError::InvalidKemKey)
        ));
    }
}
