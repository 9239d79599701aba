//! Snapshots of the prekeys (SPEC.md §11.3), part of the account snapshot: plain serde
//! structs mirroring the live keys; secret fields are `Zeroizing`. This floor knows nothing
//! of blobs: a snapshot that is not valid state is an [`InvalidSnapshot`], which the restore
//! reports as corrupt.

use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::{KemKeyPair, KemPreKey, KemPreKeyKind, SignedPreKey};
use crate::time::Timestamp;

/// A prekey snapshot that is not valid state (a field of the wrong length, an unknown kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvalidSnapshot;

/// Version 1 of a persisted signed prekey (in the account snapshot).
#[derive(Serialize, Deserialize)]
pub(crate) struct SignedPreKeyV1 {
    id: u32,
    secret: Zeroizing<[u8; 32]>,
    signature: Vec<u8>,
    created_at: u64,
}

impl SignedPreKeyV1 {
    pub(crate) fn from_live(k: &SignedPreKey) -> Self {
        SignedPreKeyV1 {
            id: k.id,
            secret: Zeroizing::new(*k.secret.as_bytes()),
            signature: k.signature.to_vec(),
            created_at: k.created_at.as_unix_secs(),
        }
    }

    pub(crate) fn to_live(&self) -> Result<SignedPreKey, InvalidSnapshot> {
        let secret = StaticSecret::from(*self.secret);
        Ok(SignedPreKey {
            id: self.id,
            public: XPublicKey::from(&secret).to_bytes(),
            secret,
            signature: self
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| InvalidSnapshot)?,
            created_at: Timestamp::from_unix_secs(self.created_at),
        })
    }
}

/// Version 1 of a persisted ML-KEM prekey (in the account snapshot).
#[derive(Serialize, Deserialize)]
pub(crate) struct KemPreKeyV1 {
    id: u32,
    kind: u8,
    seed: Zeroizing<Vec<u8>>,
    signature: Vec<u8>,
    created_at: u64,
}

impl KemPreKeyV1 {
    pub(crate) fn from_live(k: &KemPreKey) -> Self {
        KemPreKeyV1 {
            id: k.id,
            kind: k.kind.to_byte(),
            seed: Zeroizing::new(k.pair.seed().to_vec()),
            signature: k.signature.to_vec(),
            created_at: k.created_at.as_unix_secs(),
        }
    }

    pub(crate) fn to_live(&self) -> Result<KemPreKey, InvalidSnapshot> {
        let seed: Zeroizing<[u8; 64]> = Zeroizing::new(
            self.seed
                .as_slice()
                .try_into()
                .map_err(|_| InvalidSnapshot)?,
        );
        Ok(KemPreKey {
            id: self.id,
            kind: KemPreKeyKind::from_byte(self.kind).ok_or(InvalidSnapshot)?,
            pair: KemKeyPair::from_seed(&seed),
            signature: self
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| InvalidSnapshot)?,
            created_at: Timestamp::from_unix_secs(self.created_at),
        })
    }
}
