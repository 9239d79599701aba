//! The long-term device identity: one Ed25519 key, with its X25519 form for Diffie-Hellman.

use core::fmt;
use core::hash::{Hash, Hasher};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::error::KeyError;
use crate::labels::LABEL_SIG_RELAY_CHALLENGE;

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
pub struct IdentityKey(Repr);

/// An identity key as parsed ([`IdentityKey::from_bytes`]: decoded at once) or as restored
/// from a state blob ([`IdentityKey::from_stored_bytes`]: its bytes, decoded when used, which
/// is rare: signatures under a peer's identity key and key agreements with it come with keys
/// from outside). One or the other, so that the key stays as small as it was before restores
/// kept the bytes only.
#[derive(Clone, Copy)]
enum Repr {
    Parsed(Decoded),
    Stored([u8; 32]),
}

/// An identity key's curve point and its X25519 form.
#[derive(Clone, Copy)]
struct Decoded {
    verifying: VerifyingKey,
    dh: [u8; 32],
}

impl Decoded {
    fn new(verifying: VerifyingKey) -> Self {
        Decoded {
            verifying,
            dh: verifying.to_montgomery().to_bytes(),
        }
    }
}

/// The `y` coordinates (canonical, little-endian) of the eight points of small order:
/// `0` (order 4), `1` (the identity), `p - 1` (order 2), and the two of order 8. Each is the
/// `y` of one point or of a point and its negation, so an encoding is of a small-order point
/// exactly when its `y` is one of these (the sign bit does not matter).
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
];

/// Whether an encoding names a point of small order (for a canonical `y`, without decoding).
pub(crate) fn is_small_order_encoding(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    if let Some(last) = y.last_mut() {
        *last &= 0x7f;
    }
    SMALL_ORDER_Y.contains(&y)
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
        Ok(IdentityKey(Repr::Parsed(Decoded::new(verifying))))
    }

    /// Takes an identity key read from a state blob that the storage key authenticated
    /// (SPEC.md §11.8), with only the checks that need no curve arithmetic: `y` is canonical
    /// (§2.3 check 2, a comparison of the bytes with `p`) and is not the `y` of a point of
    /// small order (check 3, a comparison with five constants). Decoding the point (check 1)
    /// waits until the key is used, and the subgroup check (check 4) is not repeated: the key
    /// passed all four when it was first accepted, and only the holder of the storage key can
    /// write the blob. Bytes that do not decode are caught when used: no signature verifies
    /// under them and no key agreement with them is made. Every key arriving from outside goes
    /// through [`IdentityKey::from_bytes`].
    ///
    /// # Errors
    /// [`KeyError::InvalidIdentityKey`] if a check fails.
    pub(crate) fn from_stored_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        if !y_is_canonical(bytes) || is_small_order_encoding(bytes) {
            return Err(KeyError::InvalidIdentityKey);
        }
        Ok(IdentityKey(Repr::Stored(*bytes)))
    }

    /// The decoded key: as parsed, or decoded now for a restored key (`None` if its bytes do
    /// not decode, which only a blob made with the storage key, never by the library, holds).
    fn decoded(&self) -> Option<Decoded> {
        match &self.0 {
            Repr::Parsed(d) => Some(*d),
            Repr::Stored(bytes) => VerifyingKey::from_bytes(bytes).ok().map(Decoded::new),
        }
    }

    /// The 32-byte Ed25519 encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        *self.as_bytes()
    }

    /// The 32-byte Ed25519 encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        match &self.0 {
            Repr::Parsed(d) => d.verifying.as_bytes(),
            Repr::Stored(bytes) => bytes,
        }
    }

    /// The X25519 public key used for Diffie-Hellman: `None` only for a restored key whose
    /// bytes do not decode (see [`IdentityKey::from_stored_bytes`]).
    pub(crate) fn dh_public(&self) -> Option<XPublicKey> {
        self.decoded().map(|d| XPublicKey::from(d.dh))
    }

    /// The checked Diffie-Hellman of `secret` with this key's X25519 form
    /// ([`crate::keys::dh_checked`]): `None` if it is not contributory, or if this is a
    /// restored key whose bytes do not decode.
    pub(crate) fn dh_with(
        &self,
        secret: &StaticSecret,
    ) -> Option<crate::keys::secret::SharedSecret> {
        crate::keys::dh_checked(secret, &self.dh_public()?)
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
        let verifying = match &self.0 {
            Repr::Parsed(d) => Some(d.verifying),
            Repr::Stored(bytes) => VerifyingKey::from_bytes(bytes).ok(),
        };
        verifying.is_some_and(|v| v.verify_strict(message, &sig).is_ok())
    }
}

/// Whether the `y` of an Ed25519 encoding (its low 255 bits, little-endian) is below
/// `p = 2^255 - 19`. With the small-order check this is the canonical-encoding check of
/// SPEC.md §2.3 without re-compressing the point: a point that decompresses from `y < p`
/// re-compresses to the same bytes unless `x = 0` with the sign bit set, and the two points
/// with `x = 0` are of small order.
pub(crate) fn y_is_canonical(bytes: &[u8; 32]) -> bool {
    // y >= p exactly when bits 8..255 are all ones and the low byte is at least 0xed.
    let (first, rest) = bytes.split_at(1);
    let (middle, last) = rest.split_at(30);
    let all_ones = middle.iter().all(|&b| b == 0xff) && last.iter().all(|&b| b & 0x7f == 0x7f);
    !(all_ones && first.iter().all(|&b| b >= 0xed))
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
        let public = IdentityKey(Repr::Parsed(Decoded::new(verifying)));
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
        assert_eq!(
            from_secret.to_bytes(),
            pair.public().dh_public().unwrap().to_bytes()
        );
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

    /// What the full checks accept, minus the subgroup check: the specification of
    /// [`IdentityKey::from_stored_bytes`].
    fn structurally_valid(bytes: &[u8; 32]) -> bool {
        VerifyingKey::from_bytes(bytes)
            .is_ok_and(|k| !k.is_weak() && k.to_edwards().compress().to_bytes() == *bytes)
    }

    /// Encodings at the edges: every `y` below 19 and its non-canonical twin `y + p`, `p - 1`,
    /// both sign bits, the small-order points, and honest and mixed-order keys.
    fn edge_encodings() -> Vec<[u8; 32]> {
        let mut out = Vec::new();
        for y in 0u8..19 {
            let mut canonical = [0u8; 32];
            canonical[0] = y;
            let mut plus_p = [0xffu8; 32];
            plus_p[31] = 0x7f;
            plus_p[0] = 0xed + y;
            out.extend([canonical, plus_p]);
        }
        let mut p_minus_one = [0xffu8; 32];
        p_minus_one[0] = 0xec;
        p_minus_one[31] = 0x7f;
        out.push(p_minus_one);
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        for _ in 0..8 {
            let honest = IdentityKeyPair::generate(&mut rng).public().to_bytes();
            let torsion = curve25519_dalek::edwards::CompressedEdwardsY(p_minus_one)
                .decompress()
                .unwrap();
            let point = curve25519_dalek::edwards::CompressedEdwardsY(honest)
                .decompress()
                .unwrap();
            out.extend([honest, (point + torsion).compress().to_bytes()]);
            // About half of all y have no x: a flipped byte gives both kinds.
            let mut flipped = honest;
            flipped[3] ^= 0x5a;
            out.push(flipped);
        }
        let with_sign: Vec<[u8; 32]> = out
            .iter()
            .map(|b| {
                let mut b = *b;
                b[31] ^= 0x80;
                b
            })
            .collect();
        out.extend(with_sign);
        out
    }

    #[test]
    fn y_is_canonical_is_y_below_p() {
        for bytes in edge_encodings() {
            let mut y = bytes;
            y[31] &= 0x7f;
            // Little-endian comparison with p = 2^255 - 19.
            let mut p = [0xffu8; 32];
            p[0] = 0xed;
            p[31] = 0x7f;
            let below = y.iter().rev().lt(p.iter().rev());
            assert_eq!(y_is_canonical(&bytes), below, "{bytes:02x?}");
        }
    }

    /// The five `y` constants are exactly the `y` of the eight small-order points.
    #[test]
    fn small_order_y_constants_are_the_eight_torsion_points() {
        let mut ys: Vec<[u8; 32]> = curve25519_dalek::constants::EIGHT_TORSION
            .iter()
            .map(|t| {
                let mut y = t.compress().to_bytes();
                y[31] &= 0x7f;
                y
            })
            .collect();
        ys.sort();
        ys.dedup();
        let mut constants = SMALL_ORDER_Y.to_vec();
        constants.sort();
        assert_eq!(ys, constants);
        for t in curve25519_dalek::constants::EIGHT_TORSION {
            let mut bytes = t.compress().to_bytes();
            assert!(is_small_order_encoding(&bytes));
            bytes[31] ^= 0x80;
            assert!(is_small_order_encoding(&bytes));
        }
    }

    /// The stored-key constructor runs §2.3's checks but the subgroup check, with decoding
    /// put off until use: on keys that decode it accepts what the full checks accept, and
    /// beyond that only mixed-order points; keys that do not decode fail at first use, without
    /// a panic.
    #[test]
    fn stored_identity_keys_get_every_check_but_the_subgroup_check() {
        let (mut mixed, mut undecodable) = (0, 0);
        let message = b"m";
        let signature = [0u8; 64];
        for bytes in edge_encodings() {
            let stored = IdentityKey::from_stored_bytes(&bytes);
            let decodes = VerifyingKey::from_bytes(&bytes).is_ok();
            assert_eq!(
                stored.is_ok() && decodes,
                structurally_valid(&bytes),
                "{bytes:02x?}"
            );
            match (IdentityKey::from_bytes(&bytes), stored) {
                (Ok(full), Ok(stored)) => {
                    assert_eq!(stored, full);
                    assert_eq!(
                        stored.dh_public().map(|k| k.to_bytes()),
                        full.dh_public().map(|k| k.to_bytes())
                    );
                }
                (Ok(_), Err(_)) => panic!("the stored checks refuse a valid key"),
                (Err(_), Ok(stored)) if decodes => {
                    mixed += 1;
                    let point = VerifyingKey::from_bytes(&bytes).unwrap().to_edwards();
                    assert!(!point.is_torsion_free());
                    assert!(stored.dh_public().is_some());
                }
                (Err(_), Ok(stored)) => {
                    undecodable += 1;
                    assert!(stored.dh_public().is_none());
                    assert!(!stored.verify(message, &signature));
                }
                (Err(_), Err(_)) => {}
            }
        }
        // At least each honest key plus a point of order 2, with both signs (most other
        // decodable encodings are of mixed order too).
        assert!(mixed >= 16, "{mixed}");
        assert!(undecodable > 0, "the edge encodings include y without x");
    }

    /// Restored keys hold their bytes in place of the decoded key, not beside it: the key
    /// (and `Event`, which holds one) does not grow by another 32 bytes.
    #[test]
    fn an_identity_key_is_the_decoded_key_and_a_tag() {
        assert_eq!(
            core::mem::size_of::<IdentityKey>(),
            core::mem::size_of::<VerifyingKey>() + 32 + 8
        );
    }

    /// A restored key verifies and agrees exactly as the parsed one.
    #[test]
    fn a_stored_key_works_as_the_parsed_key() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let pair = IdentityKeyPair::generate(&mut rng);
        let stored = IdentityKey::from_stored_bytes(pair.public().as_bytes()).unwrap();
        let sig = pair.sign_relay_challenge(b"c");
        assert!(stored.verify_relay_challenge(b"c", &sig));
        assert!(!stored.verify_relay_challenge(b"d", &sig));
        assert_eq!(
            stored.dh_public().unwrap().to_bytes(),
            XPublicKey::from(pair.dh_secret()).to_bytes()
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
