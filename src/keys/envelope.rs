//! Envelope KEM keys: an ML-KEM-768 key pair a device publishes, signed by its identity key,
//! so that senders can seal envelopes whose sender stays hidden from a future quantum
//! adversary (SPEC.md §13.8). Rotated with the signed prekey; retired keys keep opening late
//! envelopes for the prekeys' grace window.

use core::fmt;

use rand_core::CryptoRng;

use super::identity::{IdentityKey, IdentityKeyPair};
use super::kem::{KEM_PUBLIC_KEY_LEN, KemKeyPair};
use crate::labels::LABEL_SIG_ENVELOPE_KEY;
use crate::time::Timestamp;

/// The bytes an identity key signs to vouch for an envelope KEM key:
/// `LABEL_SIG_ENVELOPE_KEY || u32be(id) || ek`.
pub(crate) fn envelope_key_message(id: u32, public: &[u8; KEM_PUBLIC_KEY_LEN]) -> Vec<u8> {
    let mut m = Vec::with_capacity(LABEL_SIG_ENVELOPE_KEY.len() + 4 + KEM_PUBLIC_KEY_LEN);
    m.extend_from_slice(LABEL_SIG_ENVELOPE_KEY);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(public);
    m
}

/// Checks an envelope KEM key's signature (strict Ed25519).
pub(crate) fn verify_envelope_key(
    identity: &IdentityKey,
    id: u32,
    public: &[u8; KEM_PUBLIC_KEY_LEN],
    signature: &[u8; 64],
) -> bool {
    identity.verify(&envelope_key_message(id, public), signature)
}

/// A device's envelope KEM key pair with its id and signature. The secret (a 64-byte ML-KEM
/// seed) is wiped on drop; `Debug` shows only the id.
#[derive(Clone)]
pub struct EnvelopeKeyPair {
    pub(crate) id: u32,
    pub(crate) pair: KemKeyPair,
    pub(crate) signature: [u8; 64],
    pub(crate) created_at: Timestamp,
}

impl EnvelopeKeyPair {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(
        id: u32,
        identity: &IdentityKeyPair,
        now: Timestamp,
        rng: &mut R,
    ) -> Self {
        let pair = KemKeyPair::generate(rng);
        let signature = identity.sign(&envelope_key_message(id, pair.public()));
        EnvelopeKeyPair {
            id,
            pair,
            signature,
            created_at: now,
        }
    }

    /// The key id senders name in their envelopes.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// When the key was generated.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
}

impl fmt::Debug for EnvelopeKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvelopeKeyPair")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Version 1 of a persisted envelope KEM key (in the account snapshot, format version 3).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct EnvelopeKeyV1 {
    id: u32,
    seed: zeroize::Zeroizing<Vec<u8>>,
    signature: Vec<u8>,
    created_at: u64,
}

impl EnvelopeKeyV1 {
    pub(crate) fn from_live(k: &EnvelopeKeyPair) -> Self {
        EnvelopeKeyV1 {
            id: k.id,
            seed: zeroize::Zeroizing::new(k.pair.seed().to_vec()),
            signature: k.signature.to_vec(),
            created_at: k.created_at.as_unix_secs(),
        }
    }

    /// The live key; [`super::InvalidSnapshot`] for a seed or signature of the wrong length.
    pub(crate) fn to_live(&self) -> Result<EnvelopeKeyPair, super::InvalidSnapshot> {
        let seed: zeroize::Zeroizing<[u8; 64]> = zeroize::Zeroizing::new(
            self.seed
                .as_slice()
                .try_into()
                .map_err(|_| super::InvalidSnapshot)?,
        );
        Ok(EnvelopeKeyPair {
            id: self.id,
            pair: KemKeyPair::from_seed(&seed),
            signature: self
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| super::InvalidSnapshot)?,
            created_at: Timestamp::from_unix_secs(self.created_at),
        })
    }
}
