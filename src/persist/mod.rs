//! Encrypted, versioned export and import of every stateful type (SPEC.md §11).
//!
//! The core does no I/O: it turns state into an encrypted blob and back; the app decides
//! where the bytes live. A blob names its type, format version and a caller-chosen
//! generation number in its authenticated header, so a session blob cannot be loaded as an
//! account and an older copy cannot pass for the latest without the app noticing. Inside the
//! ciphertext it is bound to the object it holds ([`Expected`], SPEC.md §11.7), so another
//! peer's session cannot pass for the one the app keeps for this peer.

mod binding;
mod error;
#[cfg(feature = "serde")]
mod versioned;

pub(crate) use binding::{Binding, BindingV2};
pub use binding::{BlobLabel, Expected, MAX_BLOB_LABEL_LEN};
pub use error::RestoreError;
#[cfg(feature = "serde")]
pub(crate) use versioned::versioned;

use core::fmt;

use hkdf::Hkdf;
use rand_core::CryptoRng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::aead::{NONCE_LEN, TAG_LEN, open_into, seal_into};
use crate::keys::IdentityKey;
use crate::labels::LABEL_STATE_KEY;

/// How a restore checks the public keys it reads (SPEC.md §11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyChecks {
    /// Every check of a key arriving from outside (SPEC.md §2.3, §14.6.3): version 1
    /// snapshots (written by builds with weaker key checks, and migrated), backup archives
    /// and the plain `serde` path (neither authenticated by the storage key).
    Full,
    /// The structural checks only, for a version 2 blob that the storage key authenticated:
    /// its keys passed the full checks when this device first accepted them.
    Stored,
}

impl KeyChecks {
    /// The checks for a blob of format `version`: [`KeyChecks::Stored`] from version 2 on.
    pub(crate) fn for_blob_version(version: u16) -> Self {
        if version >= 2 {
            KeyChecks::Stored
        } else {
            KeyChecks::Full
        }
    }

    /// Parses an identity key of the snapshot: `Corrupt` if it fails these checks.
    pub(crate) fn identity(self, bytes: &[u8; 32]) -> Result<IdentityKey, RestoreError> {
        match self {
            KeyChecks::Full => IdentityKey::from_bytes(bytes),
            KeyChecks::Stored => IdentityKey::from_stored_bytes(bytes),
        }
        .map_err(|_| RestoreError::Corrupt)
    }
}

/// The first four bytes of every state blob.
pub const STATE_MAGIC: [u8; 4] = *b"HWST";
/// The state format version this build writes. It reads every version up to this one: 1 (no
/// binding) and 2 (SPEC.md §11.3, §11.7).
pub const STATE_FORMAT_VERSION: u16 = 4;
/// Bytes of the authenticated blob header: magic, version, type, generation.
pub const STATE_HEADER_LEN: usize = 4 + 2 + 1 + 8;
/// Total bytes a blob adds to its encoded state: header, nonce and tag.
pub const STATE_OVERHEAD: usize = STATE_HEADER_LEN + NONCE_LEN + TAG_LEN;

/// What kind of state a blob holds (its type tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateType {
    /// An [`crate::Account`].
    Account,
    /// A [`crate::Session`].
    Session,
    /// A [`crate::group::GroupSession`].
    GroupSession,
    /// A [`crate::Device`]'s account record: the account without sessions, its reset logs and
    /// the peers it holds a record of (SPEC.md §11.9).
    AccountRecord,
    /// A [`crate::Device`]'s identity book (SPEC.md §11.9).
    IdentityBook,
    /// One peer's record of a [`crate::Device`]: its sessions (SPEC.md §11.9).
    PeerRecord,
    /// A [`crate::Device`]'s user-devices record: its own user, the device lists it holds
    /// and the removed devices (SPEC.md §19.9).
    UserDevices,
    /// A [`crate::support::VisitorIdentity`]: a website visitor's ephemeral identity
    /// (SPEC.md §20.6).
    Visitor,
}

impl StateType {
    /// The tag byte in the blob header.
    pub fn tag(self) -> u8 {
        match self {
            StateType::Account => 1,
            StateType::Session => 2,
            StateType::GroupSession => 3,
            StateType::AccountRecord => 4,
            StateType::IdentityBook => 5,
            StateType::PeerRecord => 6,
            StateType::UserDevices => 7,
            StateType::Visitor => 8,
        }
    }
}

/// The 32-byte key an app supplies to encrypt hushwire state at rest. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct StorageKey([u8; 32]);

impl StorageKey {
    /// Wraps 32 bytes from the app's keystore.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        StorageKey(bytes)
    }

    fn blob_key(&self) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(None, &self.0);
        let mut out = Zeroizing::new([0u8; 32]);
        // Cannot fail: 32 bytes is far below HKDF's output limit.
        let _ = hk.expand(LABEL_STATE_KEY, out.as_mut());
        out
    }
}

impl fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StorageKey(..)")
    }
}

/// The unauthenticated header of a blob, readable without the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobInfo {
    /// Format version.
    pub version: u16,
    /// Type tag (see [`StateType::tag`]).
    pub type_tag: u8,
    /// The generation the exporter gave it.
    pub generation: u64,
}

/// Reads a blob's header without decrypting it (for routing and rollback bookkeeping).
///
/// # Errors
/// [`RestoreError::Truncated`] or [`RestoreError::NotStateBlob`].
pub fn peek_blob(bytes: &[u8]) -> Result<BlobInfo, RestoreError> {
    let header = bytes
        .get(..STATE_HEADER_LEN)
        .ok_or(RestoreError::Truncated)?;
    let (magic, rest) = header.split_at(4);
    if magic != STATE_MAGIC {
        return Err(RestoreError::NotStateBlob);
    }
    let (version, rest) = rest.split_at(2);
    let (type_tag, generation) = rest.split_at(1);
    Ok(BlobInfo {
        version: u16::from_be_bytes(version.try_into().map_err(|_| RestoreError::Truncated)?),
        type_tag: type_tag.first().copied().ok_or(RestoreError::Truncated)?,
        generation: u64::from_be_bytes(generation.try_into().map_err(|_| RestoreError::Truncated)?),
    })
}

/// A growable buffer that wipes every buffer it outgrows, so no copy of the encoded secrets
/// is left behind in freed memory.
struct ZeroizingBuf(Vec<u8>);

impl ZeroizingBuf {
    fn take(mut self) -> Vec<u8> {
        core::mem::take(&mut self.0)
    }
}

impl Extend<u8> for ZeroizingBuf {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, iter: I) {
        for byte in iter {
            if self.0.len() == self.0.capacity() {
                let mut bigger = Vec::with_capacity(self.0.capacity().saturating_mul(2).max(64));
                bigger.extend_from_slice(&self.0);
                self.0.zeroize();
                self.0 = bigger;
            }
            self.0.push(byte);
        }
    }
}

impl Drop for ZeroizingBuf {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Encodes `value` with postcard into a buffer that wipes every buffer it outgrows.
pub(crate) fn encode_wiping<T: Serialize>(value: &T) -> Zeroizing<Vec<u8>> {
    // Serializing plain structs of integers and byte vectors cannot fail.
    postcard::to_extend(value, ZeroizingBuf(Vec::with_capacity(1024)))
        .map(|b| Zeroizing::new(b.take()))
        .unwrap_or_default()
}

/// Encodes the binding of the object and its `snapshot` with postcard (SPEC.md §11.3, §11.7)
/// and encrypts them into a blob of the current format version.
pub(crate) fn seal_state<T: Serialize, R: CryptoRng + ?Sized>(
    snapshot: &T,
    state_type: StateType,
    binding: &Binding,
    label: &BlobLabel,
    generation: u64,
    key: &StorageKey,
    rng: &mut R,
) -> Vec<u8> {
    let plaintext = (BindingV2::new(binding, label), snapshot);
    // Serializing plain structs of integers and byte vectors cannot fail.
    let plain = postcard::to_extend(&plaintext, ZeroizingBuf(Vec::with_capacity(1024)))
        .map(|b| Zeroizing::new(b.take()))
        .unwrap_or_default();
    seal_plaintext(
        &plain,
        state_type,
        STATE_FORMAT_VERSION,
        generation,
        key,
        rng,
    )
}

/// Encrypts a plaintext into a blob with the given header.
fn seal_plaintext<R: CryptoRng + ?Sized>(
    plain: &[u8],
    state_type: StateType,
    version: u16,
    generation: u64,
    key: &StorageKey,
    rng: &mut R,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(STATE_OVERHEAD + plain.len());
    out.extend_from_slice(&STATE_MAGIC);
    out.extend_from_slice(&version.to_be_bytes());
    out.push(state_type.tag());
    out.extend_from_slice(&generation.to_be_bytes());
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    let ad: [u8; STATE_HEADER_LEN] = out
        .get(..STATE_HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .unwrap_or([0u8; STATE_HEADER_LEN]);
    seal_into(&key.blob_key(), &nonce, &ad, plain, &mut out);
    out
}

/// Seals a hand-made plaintext as a current-version blob, generation 1 (tests of invalid
/// content).
#[cfg(test)]
pub(crate) fn seal_plaintext_for_tests(
    plain: &[u8],
    state_type: StateType,
    key: &StorageKey,
) -> Vec<u8> {
    let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1);
    seal_plaintext(plain, state_type, STATE_FORMAT_VERSION, 1, key, &mut rng)
}

/// Seals a snapshot as a format-version-1 blob (no binding), generation 1: what builds before
/// format version 2 wrote (tests of migration).
#[cfg(test)]
pub(crate) fn seal_v1_for_tests<T: Serialize>(
    snapshot: &T,
    state_type: StateType,
    key: &StorageKey,
) -> Vec<u8> {
    let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1);
    let plain = postcard::to_allocvec(snapshot).unwrap_or_default();
    seal_plaintext(&plain, state_type, 1, 1, key, &mut rng)
}

/// Checks a blob's header, decrypts it and checks its generation (SPEC.md §11.1 steps 1–7).
/// Returns the plaintext and the format version.
pub(crate) fn open_state(
    bytes: &[u8],
    state_type: StateType,
    key: &StorageKey,
    min_generation: u64,
) -> Result<(Zeroizing<Vec<u8>>, u16), RestoreError> {
    let info = peek_blob(bytes)?;
    if info.version == 0 || info.version > STATE_FORMAT_VERSION {
        return Err(RestoreError::UnknownVersion(info.version));
    }
    if info.type_tag != state_type.tag() {
        return Err(RestoreError::WrongType {
            expected: state_type.tag(),
            found: info.type_tag,
        });
    }
    let (ad, rest) = bytes.split_at(STATE_HEADER_LEN);
    let nonce: [u8; NONCE_LEN] = rest
        .get(..NONCE_LEN)
        .and_then(|n| n.try_into().ok())
        .ok_or(RestoreError::Truncated)?;
    let sealed = rest.get(NONCE_LEN..).ok_or(RestoreError::Truncated)?;
    if sealed.len() < TAG_LEN {
        return Err(RestoreError::Truncated);
    }
    let mut plain = Zeroizing::new(Vec::new());
    if !open_into(&key.blob_key(), &nonce, ad, sealed, &mut plain) {
        return Err(RestoreError::Authentication);
    }
    if info.generation < min_generation {
        return Err(RestoreError::RolledBack {
            found: info.generation,
            minimum: min_generation,
        });
    }
    Ok((plain, info.version))
}

/// Decodes exactly one `T` from `bytes`: [`RestoreError::Corrupt`] if it does not decode or
/// bytes are left after it.
pub(crate) fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RestoreError> {
    let (value, rest) = postcard::take_from_bytes::<T>(bytes).map_err(|_| RestoreError::Corrupt)?;
    if !rest.is_empty() {
        return Err(RestoreError::Corrupt);
    }
    Ok(value)
}

/// A type kept as an encrypted state blob (SPEC.md §11): it says how to snapshot itself, how
/// to restore from a snapshot of any format version, and what the blob is bound to; the blob
/// format (header, binding, encryption, generation check) is written once, in the provided
/// methods. Each implementation lives beside its type, in that module's `snapshot.rs`.
///
/// Crate-private: its hooks name the crate-private snapshot and binding types. The public
/// `to_encrypted`/`to_encrypted_labeled`/`from_encrypted` of each type forward to it.
pub(crate) trait Persist: Sized {
    /// The snapshot this build writes (the newest version); serde, never the live struct.
    type Snapshot: Serialize;
    /// The type tag in the blob header.
    const STATE_TYPE: StateType;
    /// The snapshot version in front of the plain `serde` form of the type.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    const SNAPSHOT_VERSION: u16;

    /// The current-version snapshot of `self`.
    fn snapshot(&self) -> Self::Snapshot;

    /// Decodes the snapshot bytes of a blob of format `version` (migrating older versions),
    /// enforces every documented limit and invariant, and parses keys with `checks`.
    ///
    /// # Errors
    /// [`RestoreError::Corrupt`] or [`RestoreError::LimitExceeded`].
    fn restore(version: u16, snapshot: &[u8], checks: KeyChecks) -> Result<Self, RestoreError>;

    /// The natural ids this object's blob is bound to (SPEC.md §11.7).
    fn binding(&self) -> Binding;

    /// An unlabeled blob of the current format version.
    fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        self.to_encrypted_labeled(key, &BlobLabel::default(), generation, rng)
    }

    /// A blob of the current format version bound to [`Persist::binding`] and `label`.
    fn to_encrypted_labeled<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        label: &BlobLabel,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        seal_state(
            &self.snapshot(),
            Self::STATE_TYPE,
            &self.binding(),
            label,
            generation,
            key,
            rng,
        )
    }

    /// Restores a blob of [`Persist::STATE_TYPE`], checked against `expected`.
    ///
    /// # Errors
    /// [`RestoreError`], one variant per cause. Nothing changes on error.
    fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
        expected: &Expected,
    ) -> Result<Self, RestoreError> {
        restore_state(
            bytes,
            Self::STATE_TYPE,
            key,
            min_generation,
            expected,
            |version, snapshot| {
                Self::restore(version, snapshot, KeyChecks::for_blob_version(version))
            },
            Self::binding,
        )
    }
}

/// A 32-byte secret field of a snapshot, wiped on drop.
pub(crate) type Secret32 = Zeroizing<[u8; 32]>;

/// Copies a 32-byte secret into a snapshot field.
pub(crate) fn secret(bytes: &[u8; 32]) -> Secret32 {
    Zeroizing::new(*bytes)
}

/// Refuses `count` items where the limit named `limit` allows at most `max` (SPEC.md §11.3).
pub(crate) fn within_limit(
    limit: &'static str,
    count: usize,
    max: usize,
) -> Result<(), RestoreError> {
    if count > max {
        return Err(RestoreError::LimitExceeded {
            limit,
            max: u64::try_from(max).unwrap_or(u64::MAX),
        });
    }
    Ok(())
}

/// Restores a blob of `state_type` (SPEC.md §11.1, §11.7): opens it, then for version 2
/// decodes the binding and checks it against `expected` before decoding the snapshot with
/// `decode(version, snapshot_bytes)` (which checks limits and validates), and finally checks
/// that the binding names the restored object (`binding_of`). A version 1 blob has no
/// binding: the object's own ids, with an empty label, are checked against `expected`.
pub(crate) fn restore_state<L>(
    bytes: &[u8],
    state_type: StateType,
    key: &StorageKey,
    min_generation: u64,
    expected: &Expected,
    decode: impl FnOnce(u16, &[u8]) -> Result<L, RestoreError>,
    binding_of: impl FnOnce(&L) -> Binding,
) -> Result<L, RestoreError> {
    let (plain, version) = open_state(bytes, state_type, key, min_generation)?;
    if version == 1 {
        let live = decode(version, &plain)?;
        expected.check(&binding_of(&live), &BlobLabel::default())?;
        return Ok(live);
    }
    let (stored, snapshot) =
        postcard::take_from_bytes::<BindingV2>(&plain).map_err(|_| RestoreError::Corrupt)?;
    let (binding, label) = stored.to_live()?;
    expected.check(&binding, &label)?;
    let live = decode(version, snapshot)?;
    if binding_of(&live) != binding {
        return Err(RestoreError::Corrupt);
    }
    Ok(live)
}
