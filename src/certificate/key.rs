//! Ed25519 keys that issue certificates: trust roots and server (organization) keys.

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::CertificateError;
use crate::keys::{IdentityKey, IdentityKeyPair};

/// The public key of a certificate issuer: a trust root or a server (organization) key.
///
/// An Ed25519 public key, checked on parsing exactly like an identity key: the canonical
/// encoding of a point in the prime-order subgroup (SPEC.md §13.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IssuerKey(IdentityKey);

impl IssuerKey {
    /// Length of the encoded key.
    pub const LEN: usize = 32;

    /// Parses and checks an encoded issuer key.
    ///
    /// # Errors
    /// [`CertificateError::InvalidKey`] if the bytes are not a canonical Ed25519 point of the
    /// prime-order subgroup.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, CertificateError> {
        IdentityKey::from_bytes(bytes)
            .map(IssuerKey)
            .map_err(|_| CertificateError::InvalidKey)
    }

    /// The 32-byte Ed25519 encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The 32-byte Ed25519 encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Verifies a strict Ed25519 signature over `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.0.verify(message, signature)
    }
}

impl TryFrom<&[u8]> for IssuerKey {
    type Error = CertificateError;

    fn try_from(bytes: &[u8]) -> Result<Self, CertificateError> {
        let array: &[u8; 32] = bytes.try_into().map_err(|_| CertificateError::InvalidKey)?;
        IssuerKey::from_bytes(array)
    }
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuerKey(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// An issuer's key pair: a trust root or a server (organization) key. Held by the server
/// operator, never by clients. The secret half zeroizes on drop and is never printed.
#[derive(Clone)]
pub struct IssuerKeyPair(IdentityKeyPair);

impl IssuerKeyPair {
    /// Generates a fresh key pair from the caller's CSPRNG (one 32-byte draw: the seed).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        IssuerKeyPair(IdentityKeyPair::generate(rng))
    }

    /// Rebuilds a key pair from its 32-byte Ed25519 seed. The seed is the whole secret.
    pub fn dangerous_from_seed(seed: &[u8; 32]) -> Self {
        IssuerKeyPair(IdentityKeyPair::dangerous_from_seed(seed))
    }

    /// A copy of the 32-byte Ed25519 seed (the whole secret).
    pub fn dangerous_to_seed(&self) -> Zeroizing<[u8; 32]> {
        self.0.dangerous_to_seed()
    }

    /// The public key.
    pub fn public(&self) -> IssuerKey {
        IssuerKey(*self.0.public())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message)
    }
}

impl fmt::Debug for IssuerKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerKeyPair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn debug_shows_public_key_only() {
        let mut rng = ChaCha20Rng::seed_from_u64(40);
        let pair = IssuerKeyPair::generate(&mut rng);
        let seed_hex: String = pair
            .dangerous_to_seed()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let shown = format!("{pair:?}");
        assert!(!shown.contains(&seed_hex));
        let public_hex: String = pair
            .public()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            shown,
            format!("IssuerKeyPair {{ public: IssuerKey({public_hex}), .. }}")
        );
    }

    #[test]
    fn seed_round_trip_and_weak_keys_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(41);
        let pair = IssuerKeyPair::generate(&mut rng);
        let again = IssuerKeyPair::dangerous_from_seed(&pair.dangerous_to_seed());
        assert_eq!(again.public(), pair.public());
        assert_eq!(
            IssuerKey::from_bytes(pair.public().as_bytes()),
            Ok(pair.public())
        );
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        assert_eq!(
            IssuerKey::from_bytes(&identity_point),
            Err(CertificateError::InvalidKey)
        );
        assert_eq!(
            IssuerKey::try_from(&[0u8; 31][..]),
            Err(CertificateError::InvalidKey)
        );
    }
}
