//! The long-term device identity: one Ed25519 key, with its X25519 form for Diffie-Hellman.

use core::fmt;
use core::hash::{Hash, Hasher};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::error::KeyError;

/// Signature context of a relay authentication challenge: see
/// [`IdentityKeyPair::sign_relay_challenge`]. No other hushwire signature label is a prefix of
/// it or has it as a prefix, so such a signature is never valid as any other signature.
const LABEL_SIG_RELAY_CHALLENGE: &[u8] = b"hushwire/v1/sig/relay-challenge";

/// What the identity key signs for a relay challenge: the label, then the challenge.
fn relay_challenge_message(challenge: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(LABEL_SIG_RELAY_CHALLENGE.len() + challenge.len());
    m.extend_from_slice(LABEL_SIG_RELAY_CHALLENGE);
    m.extend_from_slice(challenge);
    m
}

/// A device's public identity key (Ed25519, 32 bytes).
///
/// The X25519 key used in key agreement is derived from it with the birational map from
/// Edwards to Montgomery form, so a user verifies one key. Comparable, hashable, and
/// serializable (with the `serde` feature) as its 32 bytes.
#[derive(Clone, Copy)]
pub struct IdentityKey {
    verifying: VerifyingKey,
    dh: [u8; 32],
}

impl IdentityKey {
    /// Length of the encoded key.
    pub const LEN: usize = 32;

    /// Parses and checks an encoded identity key.
    ///
    /// # Errors
    /// [`KeyError::InvalidIdentityKey`] if the bytes are not the canonical encoding of an
    /// Ed25519 point in the prime-order subgroup (a small-order key would make every
    /// Diffie-Hellman output predictable; a torsion component would give one key several
    /// encodings).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let verifying =
            VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidIdentityKey)?;
        let point = verifying.to_edwards();
        // Reject small-order points, points with a small-order component, and non-canonical
        // encodings (which would give one key several byte strings).
        if verifying.is_weak() || !point.is_torsion_free() || point.compress().to_bytes() != *bytes
        {
            return Err(KeyError::InvalidIdentityKey);
        }
        let dh = verifying.to_montgomery().to_bytes();
        Ok(IdentityKey { verifying, dh })
    }

    /// The 32-byte Ed25519 encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.verifying.to_bytes()
    }

    /// The 32-byte Ed25519 encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.verifying.as_bytes()
    }

    /// The X25519 public key used for Diffie-Hellman.
    pub(crate) fn dh_public(&self) -> XPublicKey {
        XPublicKey::from(self.dh)
    }

    /// Checks a signature made by [`IdentityKeyPair::sign_relay_challenge`] over `challenge`
    /// (strict Ed25519 verification, under the relay-challenge label only). A relay calls this
    /// to check that a client holds this identity key before it lets the client publish
    /// prekeys or fetch the messages queued for this device.
    pub fn verify_relay_challenge(&self, challenge: &[u8], signature: &[u8; 64]) -> bool {
        self.verify(&relay_challenge_message(challenge), signature)
    }

    /// Verifies an Ed25519 signature (strict: rejects malleable and small-order forms).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = Signature::from_bytes(signature);
        self.verifying.verify_strict(message, &sig).is_ok()
    }
}

impl PartialEq for IdentityKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for IdentityKey {}

impl PartialOrd for IdentityKey {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdentityKey {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for IdentityKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl TryFrom<&[u8]> for IdentityKey {
    type Error = KeyError;

    fn try_from(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: &[u8; 32] = bytes.try_into().map_err(|_| KeyError::InvalidIdentityKey)?;
        IdentityKey::from_bytes(array)
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for IdentityKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The same form both ways: a fixed 32-byte array.
        serde::Serialize::serialize(self.as_bytes(), serializer)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for IdentityKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes: [u8; 32] = serde::Deserialize::deserialize(deserializer)?;
        IdentityKey::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// A device's identity key pair. The secret half zeroizes on drop and is never printed.
#[derive(Clone)]
pub struct IdentityKeyPair {
    signing: SigningKey,
    dh: StaticSecret,
    public: IdentityKey,
}

impl IdentityKeyPair {
    /// Generates a fresh identity from the caller's CSPRNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self::from_seed(&seed)
    }

    /// Rebuilds an identity from its 32-byte Ed25519 seed.
    ///
    /// The seed is the whole secret: anyone holding it is this device.
    pub fn dangerous_from_seed(seed: &[u8; 32]) -> Self {
        Self::from_seed(seed)
    }

    /// A copy of the 32-byte Ed25519 seed (the whole secret).
    pub fn dangerous_to_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    fn from_seed(seed: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let dh = StaticSecret::from(*Zeroizing::new(signing.to_scalar_bytes()));
        let verifying = signing.verifying_key();
        let public = IdentityKey {
            verifying,
            dh: verifying.to_montgomery().to_bytes(),
        };
        IdentityKeyPair {
            signing,
            dh,
            public,
        }
    }

    /// The public identity key.
    pub fn public(&self) -> &IdentityKey {
        &self.public
    }

    /// Signs a relay's authentication challenge, to prove to the relay that this device
    /// holds the identity key (the relay checks it with
    /// [`IdentityKey::verify_relay_challenge`]).
    ///
    /// The Ed25519 signature covers `"hushwire/v1/sig/relay-challenge" || challenge`. The
    /// label separates it from every other signature the identity key makes (prekeys, group
    /// key distributions and rosters): whatever bytes a relay sends as a challenge, the
    /// signature is never valid as one of those. The relay should choose a fresh random challenge (at least
    /// 16 bytes) for every connection, so that a signature cannot be replayed on another one;
    /// including its own name or key in the challenge also stops another relay from
    /// forwarding it.
    pub fn sign_relay_challenge(&self, challenge: &[u8]) -> [u8; 64] {
        self.sign(&relay_challenge_message(challenge))
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    pub(crate) fn dh_secret(&self) -> &StaticSecret {
        &self.dh
    }
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn x25519_form_matches_birational_map_of_public_key() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let pair = IdentityKeyPair::generate(&mut rng);
        let from_secret = XPublicKey::from(pair.dh_secret());
        assert_eq!(from_secret.to_bytes(), pair.public().dh_public().to_bytes());
    }

    #[test]
    fn small_order_and_identity_points_are_rejected() {
        // The Edwards identity point (0, 1) encodes as 0x01 followed by zeros.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            IdentityKey::from_bytes(&identity),
            Err(KeyError::InvalidIdentityKey)
        );
        // A point of order 2: (0, -1).
        let mut order_two = [0xffu8; 32];
        order_two[0] = 0xec;
        order_two[31] = 0x7f;
        assert_eq!(
            IdentityKey::from_bytes(&order_two),
            Err(KeyError::InvalidIdentityKey)
        );
    }

    #[test]
    fn relay_challenge_signatures_are_bound_to_key_challenge_and_label() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let pair = IdentityKeyPair::generate(&mut rng);
        let other = IdentityKeyPair::generate(&mut rng);
        let challenge = [7u8; 32];
        let sig = pair.sign_relay_challenge(&challenge);
        assert!(pair.public().verify_relay_challenge(&challenge, &sig));
        assert!(!other.public().verify_relay_challenge(&challenge, &sig));
        assert!(!pair.public().verify_relay_challenge(&[8u8; 32], &sig));
        // Not a plain signature over the challenge, nor valid under any other label.
        assert!(!pair.public().verify(&challenge, &sig));
        assert_eq!(sig, pair.sign(&relay_challenge_message(&challenge)));
        let others: &[&[u8]] = &[
            b"hushwire/v1/sig/signed-prekey",
            b"hushwire/v1/sig/kem-prekey",
            b"hushwire/v1/sig/server-certificate",
            b"hushwire/v1/sig/sender-certificate",
            b"hushwire/v1/sig/identity-certificate",
            b"hushwire/v1/sig/reset-request",
            b"hushwire/v1/sig/group-message",
            b"hushwire/v1/sig/group-distribution",
            b"hushwire/v1/sig/group-roster-snapshot",
            b"hushwire/v1/sig/group-roster-change",
        ];
        for label in others {
            assert!(!label.starts_with(LABEL_SIG_RELAY_CHALLENGE));
            assert!(!LABEL_SIG_RELAY_CHALLENGE.starts_with(label));
        }
    }

    #[test]
    fn debug_shows_public_key_only() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let pair = IdentityKeyPair::generate(&mut rng);
        let seed_hex: String = pair
            .dangerous_to_seed()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let shown = format!("{pair:?}");
        assert!(!shown.contains(&seed_hex));
        assert!(shown.contains("IdentityKeyPair"));
    }
}
