//! The prekey bundle: what a server hands to a stranger who wants to start a session.

use core::fmt;

use crate::error::{DecodeError, KeyError, SignedKeyKind};
use crate::keys::{
    IdentityKey, KEM_PUBLIC_KEY_LEN, KemPreKeyKind, verify_kem_prekey, verify_signed_prekey,
};
use crate::wire::{Reader, TYPE_BUNDLE, WIRE_VERSION, expect_header};

/// The public half of a signed X25519 prekey.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SignedPreKeyPublic {
    /// The prekey's id, unique within its account.
    pub id: u32,
    /// The X25519 public key.
    pub key: [u8; 32],
    /// Ed25519 signature by the identity key (SPEC.md §3.2).
    pub signature: [u8; 64],
}

/// The public half of a one-time X25519 prekey.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OneTimePreKeyPublic {
    /// The prekey's id, unique within its account.
    pub id: u32,
    /// The X25519 public key.
    pub key: [u8; 32],
}

/// The public half of a signed ML-KEM-768 prekey.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KemPreKeyPublic {
    /// The prekey's id, unique within its account (one id space for both kinds).
    pub id: u32,
    /// One-time or last-resort (covered by the signature).
    pub kind: KemPreKeyKind,
    /// The encoded ML-KEM-768 encapsulation key.
    pub key: Box<[u8; KEM_PUBLIC_KEY_LEN]>,
    /// Ed25519 signature by the identity key (SPEC.md §3.3).
    pub signature: [u8; 64],
}

/// Everything an initiator needs to start a session with a device.
///
/// Signatures are checked when a session is built on it, and by [`PreKeyBundle::verify`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PreKeyBundle {
    /// The responder's identity key.
    pub identity_key: IdentityKey,
    /// The responder's current signed prekey.
    pub signed_prekey: SignedPreKeyPublic,
    /// A one-time prekey, if the server had one left.
    pub one_time_prekey: Option<OneTimePreKeyPublic>,
    /// An ML-KEM prekey: one-time if the server had one left, else the last-resort key.
    pub kem_prekey: KemPreKeyPublic,
}

impl fmt::Debug for SignedPreKeyPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedPreKeyPublic")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for OneTimePreKeyPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneTimePreKeyPublic")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for KemPreKeyPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KemPreKeyPublic")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PreKeyBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreKeyBundle")
            .field("identity_key", &self.identity_key)
            .field("signed_prekey", &self.signed_prekey)
            .field("one_time_prekey", &self.one_time_prekey)
            .field("kem_prekey", &self.kem_prekey)
            .finish()
    }
}

/// Length of an encoded bundle without a one-time prekey.
pub const BUNDLE_LEN_WITHOUT_ONE_TIME: usize =
    2 + 32 + 4 + 32 + 64 + 1 + 4 + 1 + KEM_PUBLIC_KEY_LEN + 64;

impl PreKeyBundle {
    /// Checks both signatures against the bundle's identity key.
    ///
    /// # Errors
    /// [`KeyError::InvalidSignature`] naming the key whose signature failed.
    pub fn verify(&self) -> Result<(), KeyError> {
        if !verify_signed_prekey(
            &self.identity_key,
            self.signed_prekey.id,
            &self.signed_prekey.key,
            &self.signed_prekey.signature,
        ) {
            return Err(KeyError::InvalidSignature(SignedKeyKind::SignedPreKey));
        }
        if !verify_kem_prekey(
            &self.identity_key,
            self.kem_prekey.id,
            self.kem_prekey.kind,
            &self.kem_prekey.key,
            &self.kem_prekey.signature,
        ) {
            return Err(KeyError::InvalidSignature(SignedKeyKind::KemPreKey));
        }
        Ok(())
    }

    /// The wire encoding (SPEC.md §6.4).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BUNDLE_LEN_WITHOUT_ONE_TIME + 36);
        out.push(WIRE_VERSION);
        out.push(TYPE_BUNDLE);
        out.extend_from_slice(self.identity_key.as_bytes());
        out.extend_from_slice(&self.signed_prekey.id.to_be_bytes());
        out.extend_from_slice(&self.signed_prekey.key);
        out.extend_from_slice(&self.signed_prekey.signature);
        match &self.one_time_prekey {
            Some(otk) => {
                out.push(1);
                out.extend_from_slice(&otk.id.to_be_bytes());
                out.extend_from_slice(&otk.key);
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.kem_prekey.id.to_be_bytes());
        out.push(self.kem_prekey.kind.to_byte());
        out.extend_from_slice(self.kem_prekey.key.as_slice());
        out.extend_from_slice(&self.kem_prekey.signature);
        out
    }

    /// Decodes strictly. Signatures are not checked here (see [`PreKeyBundle::verify`]).
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout, including an identity key that is not
    /// a valid Ed25519 point (`InvalidField { field: "identity_key" }`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(
            &mut r,
            bytes.len(),
            TYPE_BUNDLE,
            BUNDLE_LEN_WITHOUT_ONE_TIME + 36,
        )?;
        let identity_key =
            IdentityKey::from_bytes(&r.array::<32>()?).map_err(|_| DecodeError::InvalidField {
                field: "identity_key",
            })?;
        let signed_prekey = SignedPreKeyPublic {
            id: r.u32()?,
            key: r.array::<32>()?,
            signature: r.array::<64>()?,
        };
        let one_time_prekey = if r.flag("one_time_flag")? {
            Some(OneTimePreKeyPublic {
                id: r.u32()?,
                key: r.array::<32>()?,
            })
        } else {
            None
        };
        let kem_id = r.u32()?;
        let kem_kind = KemPreKeyKind::from_byte(r.u8()?)
            .ok_or(DecodeError::InvalidField { field: "kem_kind" })?;
        let kem_key = Box::new(r.array::<KEM_PUBLIC_KEY_LEN>()?);
        let kem_signature = r.array::<64>()?;
        r.finish()?;
        Ok(PreKeyBundle {
            identity_key,
            signed_prekey,
            one_time_prekey,
            kem_prekey: KemPreKeyPublic {
                id: kem_id,
                kind: kem_kind,
                key: kem_key,
                signature: kem_signature,
            },
        })
    }
}
