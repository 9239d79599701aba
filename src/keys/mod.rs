//! Key types: the device identity, prekeys, ML-KEM keys and the symmetric secrets of the ratchet.

mod envelope;
mod identity;
mod kem;
mod prekey;
pub(crate) mod secret;
mod snapshot;

pub use envelope::EnvelopeKeyPair;
pub(crate) use envelope::{EnvelopeKeyV1, verify_envelope_key};
pub use identity::{IdentityKey, IdentityKeyPair};
pub(crate) use identity::{is_small_order_encoding, y_is_canonical};
pub(crate) use kem::{
    KEM_CIPHERTEXT_LEN, KEM_PUBLIC_KEY_LEN, KemKeyPair, kem_encapsulate, kem_key_is_valid,
};
pub use prekey::KemPreKeyKind;
pub(crate) use prekey::{
    KemPreKey, OneTimePreKey, SignedPreKey, dh_checked, verify_kem_prekey, verify_signed_prekey,
};
pub(crate) use snapshot::{InvalidSnapshot, KemPreKeyV1, SignedPreKeyV1};
