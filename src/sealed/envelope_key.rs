//! The published envelope KEM key (type `0x36`, SPEC.md §13.8.1): what a device uploads
//! beside its prekey bundle, and what a sender fetches to seal hybrid envelopes to it.
//!
//! `version(1) type(1)=0x36 identity_key(32) key_id(4) encapsulation_key(1184) signature(64)`,
//! the signature by the identity key over `LABEL_SIG_ENVELOPE_KEY || key_id || encapsulation_key`.
//! It is its own item rather than a field of the bundle, so bundles keep their layout and
//! a relay stores and hands it out as one opaque blob per device.

use core::fmt;

use crate::error::DecodeError;
use crate::keys::{EnvelopeKeyPair, IdentityKey, KEM_PUBLIC_KEY_LEN, verify_envelope_key};
use crate::wire::{Reader, TYPE_ENVELOPE_KEY, WIRE_VERSION, expect_header};

/// Length of an encoded envelope KEM key (type `0x36`): 2 + 32 + 4 + 1,184 + 64.
pub const ENVELOPE_KEY_LEN: usize = 2 + 32 + 4 + KEM_PUBLIC_KEY_LEN + 64;

/// A device's published envelope KEM key: its identity key, the key id, the ML-KEM-768
/// encapsulation key and the identity key's signature over them.
///
/// Decoding checks the layout and the identity key; [`EnvelopeKeyPublic::verify`] checks the
/// signature, and sealing to it checks both the signature and the FIPS 203 key check.
///
/// ```
/// use hushwire::{Account, Timestamp};
/// use hushwire::sealed::EnvelopeKeyPublic;
/// use rand_core::SeedableRng;
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
/// let now = Timestamp::from_unix_secs(1_700_000_000);
/// let mut bob = Account::new(now, &mut rng);
/// bob.enable_hybrid_envelopes(now, &mut rng);
/// let published = bob.published_prekeys().envelope_key.expect("enabled");
/// let bytes = published.encode();
/// let fetched = EnvelopeKeyPublic::decode(&bytes).unwrap();
/// assert!(fetched.verify());
/// assert_eq!(fetched.identity_key(), bob.identity_key());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EnvelopeKeyPublic {
    identity_key: IdentityKey,
    key_id: u32,
    key: Box<[u8; KEM_PUBLIC_KEY_LEN]>,
    signature: [u8; 64],
}

impl fmt::Debug for EnvelopeKeyPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvelopeKeyPublic")
            .field("identity_key", &self.identity_key)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl EnvelopeKeyPublic {
    /// The published form of `pair`, owned by `identity_key`.
    pub(crate) fn from_pair(identity_key: IdentityKey, pair: &EnvelopeKeyPair) -> Self {
        EnvelopeKeyPublic {
            identity_key,
            key_id: pair.id,
            key: Box::new(*pair.pair.public()),
            signature: pair.signature,
        }
    }

    /// The owner's identity key.
    pub fn identity_key(&self) -> &IdentityKey {
        &self.identity_key
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The ML-KEM-768 encapsulation key.
    pub fn encapsulation_key(&self) -> &[u8; KEM_PUBLIC_KEY_LEN] {
        &self.key
    }

    /// Whether the identity key signed this key under its id (strict Ed25519).
    pub fn verify(&self) -> bool {
        verify_envelope_key(&self.identity_key, self.key_id, &self.key, &self.signature)
    }

    /// The encoding (type `0x36`), [`ENVELOPE_KEY_LEN`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENVELOPE_KEY_LEN);
        out.push(WIRE_VERSION);
        out.push(TYPE_ENVELOPE_KEY);
        out.extend_from_slice(self.identity_key.as_bytes());
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(self.key.as_slice());
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes strictly: version, type, exact length, a valid identity key (SPEC.md §2.3) and
    /// a non-zero key id. The signature is not checked here ([`EnvelopeKeyPublic::verify`]).
    ///
    /// # Errors
    /// [`DecodeError`]: `InvalidField("identity_key")`, `InvalidField("key_id")`, `Truncated`,
    /// `TrailingBytes`, and the header errors.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(&mut r, bytes.len(), TYPE_ENVELOPE_KEY, ENVELOPE_KEY_LEN)?;
        let identity = r.array::<32>()?;
        let key_id = u32::from_be_bytes(r.array::<4>()?);
        let key = Box::new(r.array::<KEM_PUBLIC_KEY_LEN>()?);
        let signature = r.array::<64>()?;
        r.finish()?;
        let identity_key =
            IdentityKey::from_bytes(&identity).map_err(|_| DecodeError::InvalidField {
                field: "identity_key",
            })?;
        if key_id == 0 {
            return Err(DecodeError::InvalidField { field: "key_id" });
        }
        Ok(EnvelopeKeyPublic {
            identity_key,
            key_id,
            key,
            signature,
        })
    }
}
