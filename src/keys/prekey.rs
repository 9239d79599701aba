//! Signed prekeys, one-time prekeys and ML-KEM prekeys held by an [`crate::Account`].

use core::fmt;

use rand_core::CryptoRng;
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};

use super::identity::{IdentityKey, IdentityKeyPair};
use super::kem::{KEM_PUBLIC_KEY_LEN, KemKeyPair};
use super::secret::SharedSecret;
use crate::labels::{LABEL_SIG_KEM_PREKEY, LABEL_SIG_SIGNED_PREKEY};
use crate::time::Timestamp;

/// Whether an ML-KEM prekey may be used once or many times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KemPreKeyKind {
    /// Deleted after the first session built on it.
    OneTime,
    /// Reused when one-time ML-KEM prekeys have run out; initial messages on it are replay-checked.
    LastResort,
}

impl KemPreKeyKind {
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            KemPreKeyKind::OneTime => 1,
            KemPreKeyKind::LastResort => 2,
        }
    }

    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(KemPreKeyKind::OneTime),
            2 => Some(KemPreKeyKind::LastResort),
            _ => None,
        }
    }
}

/// X25519 Diffie-Hellman that refuses a non-contributory (all-zero) result.
pub(crate) fn dh_checked(secret: &StaticSecret, public: &XPublicKey) -> Option<SharedSecret> {
    let shared = secret.diffie_hellman(public);
    if shared.was_contributory() {
        // Copied from the borrowed bytes: x25519-dalek wipes its value on drop.
        Some(SharedSecret::copy_from(shared.as_bytes()))
    } else {
        None
    }
}

/// The bytes an identity key signs to vouch for a signed prekey.
pub(crate) fn signed_prekey_message(id: u32, public: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(LABEL_SIG_SIGNED_PREKEY.len() + 36);
    m.extend_from_slice(LABEL_SIG_SIGNED_PREKEY);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(public);
    m
}

/// The bytes an identity key signs to vouch for an ML-KEM prekey.
pub(crate) fn kem_prekey_message(
    id: u32,
    kind: KemPreKeyKind,
    public: &[u8; KEM_PUBLIC_KEY_LEN],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(LABEL_SIG_KEM_PREKEY.len() + 5 + KEM_PUBLIC_KEY_LEN);
    m.extend_from_slice(LABEL_SIG_KEM_PREKEY);
    m.push(kind.to_byte());
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(public);
    m
}

/// A medium-term X25519 prekey, signed by the identity key.
#[derive(Clone)]
pub(crate) struct SignedPreKey {
    pub(crate) id: u32,
    pub(crate) secret: StaticSecret,
    pub(crate) public: [u8; 32],
    pub(crate) signature: [u8; 64],
    pub(crate) created_at: Timestamp,
}

impl SignedPreKey {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(
        id: u32,
        identity: &IdentityKeyPair,
        now: Timestamp,
        rng: &mut R,
    ) -> Self {
        let secret = StaticSecret::random_from_rng(rng);
        let public = XPublicKey::from(&secret).to_bytes();
        let signature = identity.sign(&signed_prekey_message(id, &public));
        SignedPreKey {
            id,
            secret,
            public,
            signature,
            created_at: now,
        }
    }
}

impl fmt::Debug for SignedPreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedPreKey")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A single-use X25519 prekey.
#[derive(Clone)]
pub(crate) struct OneTimePreKey {
    pub(crate) secret: StaticSecret,
    pub(crate) public: [u8; 32],
}

impl OneTimePreKey {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let secret = StaticSecret::random_from_rng(rng);
        let public = XPublicKey::from(&secret).to_bytes();
        OneTimePreKey { secret, public }
    }
}

impl fmt::Debug for OneTimePreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimePreKey(..)")
    }
}

/// An ML-KEM-768 prekey (one-time or last-resort), signed by the identity key.
#[derive(Clone)]
pub(crate) struct KemPreKey {
    pub(crate) id: u32,
    pub(crate) kind: KemPreKeyKind,
    pub(crate) pair: KemKeyPair,
    pub(crate) signature: [u8; 64],
    pub(crate) created_at: Timestamp,
}

impl KemPreKey {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(
        id: u32,
        kind: KemPreKeyKind,
        identity: &IdentityKeyPair,
        now: Timestamp,
        rng: &mut R,
    ) -> Self {
        let pair = KemKeyPair::generate(rng);
        let signature = identity.sign(&kem_prekey_message(id, kind, pair.public()));
        KemPreKey {
            id,
            kind,
            pair,
            signature,
            created_at: now,
        }
    }
}

impl fmt::Debug for KemPreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KemPreKey")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Checks a signed prekey's signature.
pub(crate) fn verify_signed_prekey(
    identity: &IdentityKey,
    id: u32,
    public: &[u8; 32],
    signature: &[u8; 64],
) -> bool {
    identity.verify(&signed_prekey_message(id, public), signature)
}

/// Checks an ML-KEM prekey's signature.
pub(crate) fn verify_kem_prekey(
    identity: &IdentityKey,
    id: u32,
    kind: KemPreKeyKind,
    public: &[u8; KEM_PUBLIC_KEY_LEN],
    signature: &[u8; 64],
) -> bool {
    identity.verify(&kem_prekey_message(id, kind, public), signature)
}
