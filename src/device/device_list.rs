//! A user above devices (SPEC.md §19): a long-term user signing key that never encrypts, and
//! the signed device list that says which device identity keys belong to the user.
//!
//! The user key signs the whole list; each listed device counter-signs its own entry with its
//! identity key. Adding a device therefore needs both the user key and the new device's key:
//! neither a stolen device key nor the relay can add a device alone.
//!
//! Layout of a list (type `0x54`, SPEC.md §19.2.1):
//! `version(1) type(1) user_key(32) user_id_len(1) user_id list_version(8) timestamp(8)
//! device_count(1) [device_id(4) incarnation(4) identity_key(32) counter_signature(64)]*
//! tombstone_count(1) [device_id(4) incarnation(4) removed_at(8)]* signature(64)`.

use core::fmt;
use std::collections::BTreeSet;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::error::{DecodeError, ErrorKind};
use crate::ids::UserId;
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::labels::{LABEL_DEVICE_LIST_HASH, LABEL_SIG_DEVICE_ENTRY, LABEL_SIG_DEVICE_LIST};
use crate::time::Timestamp;
use crate::verify::VerifyError;
use crate::wire::{Reader, TYPE_DEVICE_LIST, WIRE_VERSION, expect_header};

/// Most devices one user's list carries. A fan-out costs one session message per device, and
/// the list travels with every change: 32 devices keep a list under 4 KiB.
pub const MAX_DEVICES_PER_USER: usize = 32;

/// Most tombstones one list carries. Older tombstones are dropped by the user's device when
/// it publishes (oldest removal first); a holder only compares against the list it holds.
pub const MAX_TOMBSTONES: usize = 64;

/// Length of one device entry on the wire: id, incarnation, identity key, counter-signature.
pub const DEVICE_ENTRY_LEN: usize = 4 + 4 + 32 + 64;

/// Length of one tombstone on the wire: id, incarnation, removal time.
pub const TOMBSTONE_LEN: usize = 4 + 4 + 8;

/// Length of the short device-list hash every fan-out carries (SPEC.md §19.2.4).
pub const DEVICE_LIST_HASH_LEN: usize = 8;

/// Largest encoded device list: every field at its maximum.
pub const MAX_DEVICE_LIST_LEN: usize = 2
    + 32
    + 1
    + crate::ids::MAX_USER_ID_LEN
    + 8
    + 8
    + 1
    + MAX_DEVICES_PER_USER * DEVICE_ENTRY_LEN
    + 1
    + MAX_TOMBSTONES * TOMBSTONE_LEN
    + 64;

/// Errors of building, decoding and accepting device lists. On every error nothing changes:
/// the list held, the identity book and every session stay as they were.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DeviceListError {
    /// The bytes are not a well-formed device list (or mismatch answer): truncated, trailing
    /// bytes, unknown version, another type, a field out of range or out of order.
    #[error("malformed device list: {0}")]
    Malformed(#[from] DecodeError),
    /// The user key's signature over the list does not verify: forged or altered.
    #[error("the device list's user signature does not verify")]
    BadSignature,
    /// A device's counter-signature of its own entry does not verify (missing or forged): the
    /// device did not agree to be listed.
    #[error("device {device_id}'s counter-signature does not verify")]
    BadCounterSignature {
        /// The entry's device id.
        device_id: u32,
    },
    /// More devices than [`MAX_DEVICES_PER_USER`], or none.
    #[error("{count} devices, allowed 1..={max}")]
    DeviceCount {
        /// Devices given.
        count: usize,
        /// The maximum, [`MAX_DEVICES_PER_USER`].
        max: usize,
    },
    /// More tombstones than [`MAX_TOMBSTONES`].
    #[error("{count} tombstones, the maximum is {max}")]
    TooManyTombstones {
        /// Tombstones given.
        count: usize,
        /// The maximum, [`MAX_TOMBSTONES`].
        max: usize,
    },
    /// Two entries share a device id or an identity key, a tombstone names a live
    /// incarnation, or an identity key is the user key.
    #[error("device {device_id} is listed twice or conflicts with a tombstone")]
    Duplicate {
        /// The device id concerned.
        device_id: u32,
    },
    /// The list is of another user than the one it was fetched for.
    #[error("the device list is of another user")]
    OtherUser,
    /// The list is signed by another user key than the one pinned for the user. The device
    /// layer turns this into an identity change ([`crate::Event::IdentityChanged`]).
    #[error("the device list is signed by another user key than the pinned one")]
    UserKeyChanged,
    /// The list's version is not above the version held: a replay of an older list, or the
    /// same one again.
    #[error("device list version {received} is not above the held version {held}")]
    NotNewer {
        /// The version held.
        held: u64,
        /// The version received.
        received: u64,
    },
    /// A device of the held list is neither in the new list nor tombstoned in it: devices
    /// leave only with a tombstone.
    #[error("device {device_id} was dropped without a tombstone")]
    DroppedWithoutTombstone {
        /// The device id dropped.
        device_id: u32,
    },
    /// A device the held list tombstoned is live again in the new list with the same
    /// incarnation: a reinstall takes a new incarnation.
    #[error("device {device_id} was tombstoned and is listed again")]
    Resurrected {
        /// The device id concerned.
        device_id: u32,
    },
    /// No device list is held for this user, or this device has no user key.
    #[error("no device list is held for this user")]
    NoList,
    /// The device named is not in the user's current list.
    #[error("device {device_id} is not in the current list")]
    UnknownDevice {
        /// The device id.
        device_id: u32,
    },
    /// The user's key changed since it was verified and the change was not accepted: nothing
    /// is encrypted to the user's devices until it is.
    #[error("the user's key changed since verification; accept or verify it first")]
    IdentityChanged,
    /// The device id is taken by a live device of the list.
    #[error("device id {device_id} is already listed")]
    DeviceIdTaken {
        /// The device id.
        device_id: u32,
    },
    /// The version or incarnation counter would overflow.
    #[error("the list version or an incarnation is exhausted")]
    Exhausted,
    /// Recording the list's user key in the identity book failed (the book is full); see
    /// [`VerifyError`].
    #[error(transparent)]
    Identity(VerifyError),
}

impl DeviceListError {
    /// A stable, language-neutral name of this error, `"device_list.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceListError::Malformed(_) => "device_list.malformed",
            DeviceListError::BadSignature => "device_list.bad_signature",
            DeviceListError::BadCounterSignature { .. } => "device_list.bad_counter_signature",
            DeviceListError::DeviceCount { .. } => "device_list.device_count",
            DeviceListError::TooManyTombstones { .. } => "device_list.too_many_tombstones",
            DeviceListError::Duplicate { .. } => "device_list.duplicate",
            DeviceListError::OtherUser => "device_list.other_user",
            DeviceListError::UserKeyChanged => "device_list.user_key_changed",
            DeviceListError::NotNewer { .. } => "device_list.not_newer",
            DeviceListError::DroppedWithoutTombstone { .. } => {
                "device_list.dropped_without_tombstone"
            }
            DeviceListError::Resurrected { .. } => "device_list.resurrected",
            DeviceListError::NoList => "device_list.no_list",
            DeviceListError::UnknownDevice { .. } => "device_list.unknown_device",
            DeviceListError::IdentityChanged => "device_list.identity_changed",
            DeviceListError::DeviceIdTaken { .. } => "device_list.device_id_taken",
            DeviceListError::Exhausted => "device_list.exhausted",
            DeviceListError::Identity(_) => "device_list.identity",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DeviceListError::Malformed(e) => e.kind(),
            DeviceListError::BadSignature
            | DeviceListError::BadCounterSignature { .. }
            | DeviceListError::DroppedWithoutTombstone { .. }
            | DeviceListError::Resurrected { .. } => ErrorKind::Tampered,
            DeviceListError::DeviceCount { .. }
            | DeviceListError::TooManyTombstones { .. }
            | DeviceListError::Exhausted => ErrorKind::LimitExceeded,
            DeviceListError::Duplicate { .. }
            | DeviceListError::OtherUser
            | DeviceListError::NoList
            | DeviceListError::UnknownDevice { .. }
            | DeviceListError::DeviceIdTaken { .. } => ErrorKind::InvalidInput,
            DeviceListError::UserKeyChanged | DeviceListError::IdentityChanged => {
                ErrorKind::Untrusted
            }
            DeviceListError::NotNewer { .. } => ErrorKind::Replay,
            DeviceListError::Identity(e) => e.kind(),
        }
    }
}

/// A user's public signing key (Ed25519, 32 bytes, checked as an identity key is, SPEC.md
/// §2.3). It signs device lists and is what the safety number names once the user has one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserKey(IdentityKey);

impl UserKey {
    /// Parses and checks an encoded user key.
    ///
    /// # Errors
    /// [`crate::KeyError::InvalidIdentityKey`] as [`IdentityKey::from_bytes`].
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, crate::KeyError> {
        IdentityKey::from_bytes(bytes).map(UserKey)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The key as the identity the safety number and the identity book name (SPEC.md §19.3):
    /// the same 32 bytes.
    pub fn as_identity_key(&self) -> &IdentityKey {
        &self.0
    }
}

impl fmt::Debug for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.as_bytes();
        write!(
            f,
            "UserKey({:02x}{:02x}{:02x}{:02x}…)",
            b[0], b[1], b[2], b[3]
        )
    }
}

/// A user's long-term signing key: it signs the user's device lists and nothing else, and
/// never encrypts. The secret zeroizes on drop and is never printed.
///
/// ```
/// use hushwire::device::{DeviceEntry, DeviceList, UserSigningKey};
/// use hushwire::verify::UserId;
/// use hushwire::{IdentityKeyPair, Timestamp};
/// use rand_core::SeedableRng;
/// # fn main() -> Result<(), hushwire::Error> {
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
/// let now = Timestamp::from_unix_secs(1_700_000_000);
/// let user = UserSigningKey::generate(&mut rng);
/// let alice = UserId::new(b"alice")?;
/// let phone = IdentityKeyPair::generate(&mut rng);
///
/// // The phone counter-signs its own entry; the user key signs the list.
/// let entry = DeviceEntry::sign(&phone, &alice, user.public(), 1, 1);
/// let list = DeviceList::sign(&user, &alice, 1, now, vec![entry], vec![])?;
/// let received = DeviceList::decode(&list.to_bytes())?;
/// assert_eq!(received.devices()[0].identity_key(), phone.public());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct UserSigningKey {
    // Only the Ed25519 half is used; the X25519 form of this key is never computed with.
    pair: IdentityKeyPair,
    public: UserKey,
}

impl UserSigningKey {
    /// Generates a fresh user key from the caller's CSPRNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_pair(IdentityKeyPair::generate(rng))
    }

    /// Rebuilds a user key from its 32-byte seed (the whole secret).
    pub fn dangerous_from_seed(seed: &[u8; 32]) -> Self {
        Self::from_pair(IdentityKeyPair::dangerous_from_seed(seed))
    }

    /// A copy of the 32-byte seed (the whole secret).
    pub fn dangerous_to_seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        self.pair.dangerous_to_seed()
    }

    fn from_pair(pair: IdentityKeyPair) -> Self {
        let public = UserKey(*pair.public());
        UserSigningKey { pair, public }
    }

    /// The public user key.
    pub fn public(&self) -> &UserKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.pair.sign(message)
    }
}

impl fmt::Debug for UserSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSigningKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// One live device of a list: its id, identity key, incarnation and its counter-signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DeviceEntry {
    device_id: u32,
    incarnation: u32,
    identity_key: IdentityKey,
    signature: [u8; 64],
}

impl fmt::Debug for DeviceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceEntry")
            .field("device_id", &self.device_id)
            .field("incarnation", &self.incarnation)
            .field("identity_key", &self.identity_key)
            .finish_non_exhaustive()
    }
}

/// What a device counter-signs (SPEC.md §19.2.3).
fn entry_message(
    user_id: &UserId,
    user_key: &UserKey,
    device_id: u32,
    incarnation: u32,
    identity_key: &IdentityKey,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(LABEL_SIG_DEVICE_ENTRY.len() + 32 + 1 + 128 + 8 + 32);
    m.extend_from_slice(LABEL_SIG_DEVICE_ENTRY);
    m.extend_from_slice(user_key.as_bytes());
    m.push(user_id.len_byte());
    m.extend_from_slice(user_id.as_bytes());
    m.extend_from_slice(&device_id.to_be_bytes());
    m.extend_from_slice(&incarnation.to_be_bytes());
    m.extend_from_slice(identity_key.as_bytes());
    m
}

impl DeviceEntry {
    /// The entry `device` counter-signs to be listed as `device_id` (incarnation
    /// `incarnation`) of `user_id` under `user_key`. The signature does not name a list
    /// version: the entry stays valid in every later list of the same user key.
    pub fn sign(
        device: &IdentityKeyPair,
        user_id: &UserId,
        user_key: &UserKey,
        device_id: u32,
        incarnation: u32,
    ) -> Self {
        let message = entry_message(user_id, user_key, device_id, incarnation, device.public());
        DeviceEntry {
            device_id,
            incarnation,
            identity_key: *device.public(),
            signature: device.sign(&message),
        }
    }

    /// The device's id within the user (chosen by the user's devices).
    pub fn device_id(&self) -> u32 {
        self.device_id
    }

    /// The incarnation: a reinstall on the same device id takes a higher one.
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// The device's identity key (its account's).
    pub fn identity_key(&self) -> &IdentityKey {
        &self.identity_key
    }

    /// The entry as listed (SPEC.md §19.2.1): `device_id(4) incarnation(4) identity_key(32)
    /// counter_signature(64)`.
    pub(crate) fn to_bytes(self) -> [u8; DEVICE_ENTRY_LEN] {
        let mut out = [0u8; DEVICE_ENTRY_LEN];
        let parts: [&[u8]; 4] = [
            &self.device_id.to_be_bytes(),
            &self.incarnation.to_be_bytes(),
            self.identity_key.as_bytes(),
            &self.signature,
        ];
        let mut at = 0;
        for part in parts {
            if let Some(dst) = out.get_mut(at..at + part.len()) {
                dst.copy_from_slice(part);
            }
            at += part.len();
        }
        out
    }

    /// Reads an entry as listed; checks the identity key (`InvalidField "identity_key"`),
    /// not the counter-signature ([`DeviceEntry::verify`]).
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let device_id = r.u32()?;
        let incarnation = r.u32()?;
        let identity_key = IdentityKey::from_bytes(r.array_ref::<32>()?).map_err(|_| {
            DecodeError::InvalidField {
                field: "identity_key",
            }
        })?;
        let signature = r.array::<64>()?;
        Ok(DeviceEntry {
            device_id,
            incarnation,
            identity_key,
            signature,
        })
    }

    /// Whether the counter-signature verifies for `user_id` under `user_key` (§19.2.3).
    pub(crate) fn verify(&self, user_id: &UserId, user_key: &UserKey) -> bool {
        let message = entry_message(
            user_id,
            user_key,
            self.device_id,
            self.incarnation,
            &self.identity_key,
        );
        self.identity_key.verify(&message, &self.signature)
    }
}

/// A removed device: its id, the incarnation removed and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tombstone {
    device_id: u32,
    incarnation: u32,
    removed_at: Timestamp,
}

impl Tombstone {
    /// A tombstone for `incarnation` of `device_id`, removed at `removed_at`.
    pub fn new(device_id: u32, incarnation: u32, removed_at: Timestamp) -> Self {
        Tombstone {
            device_id,
            incarnation,
            removed_at,
        }
    }

    /// The removed device's id.
    pub fn device_id(&self) -> u32 {
        self.device_id
    }

    /// The incarnation removed.
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// When the user's device removed it.
    pub fn removed_at(&self) -> Timestamp {
        self.removed_at
    }
}

/// The short hash of a device list every fan-out carries (SPEC.md §19.2.4): a peer that sees
/// another hash than the one of the list it holds fetches the sender's list again.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceListHash([u8; DEVICE_LIST_HASH_LEN]);

impl DeviceListHash {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; DEVICE_LIST_HASH_LEN] {
        &self.0
    }
}

impl fmt::Debug for DeviceListHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceListHash(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A user's signed device list, decoded and with every signature checked (SPEC.md §19.2).
/// Build one with [`DeviceList::sign`], read one with [`DeviceList::decode`]; whether a
/// holder accepts it in place of the one it holds is [`DeviceList::check_successor`].
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceList {
    user_id: UserId,
    user_key: UserKey,
    version: u64,
    timestamp: Timestamp,
    devices: Vec<DeviceEntry>,
    tombstones: Vec<Tombstone>,
    encoded: Vec<u8>,
}

impl fmt::Debug for DeviceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceList")
            .field("user_key", &self.user_key)
            .field("version", &self.version)
            .field("devices", &self.devices.len())
            .field("tombstones", &self.tombstones.len())
            .finish_non_exhaustive()
    }
}

/// The structural rules of SPEC.md §19.2.1: counts, order, no repeats, no tombstone for a
/// live incarnation, no device key equal to the user key.
fn check_structure(
    user_key: &UserKey,
    devices: &[DeviceEntry],
    tombstones: &[Tombstone],
) -> Result<(), DeviceListError> {
    if devices.is_empty() || devices.len() > MAX_DEVICES_PER_USER {
        return Err(DeviceListError::DeviceCount {
            count: devices.len(),
            max: MAX_DEVICES_PER_USER,
        });
    }
    if tombstones.len() > MAX_TOMBSTONES {
        return Err(DeviceListError::TooManyTombstones {
            count: tombstones.len(),
            max: MAX_TOMBSTONES,
        });
    }
    let mut keys = BTreeSet::new();
    let mut previous: Option<u32> = None;
    for entry in devices {
        if previous.is_some_and(|p| p >= entry.device_id)
            || !keys.insert(entry.identity_key)
            || entry.identity_key == *user_key.as_identity_key()
        {
            return Err(DeviceListError::Duplicate {
                device_id: entry.device_id,
            });
        }
        previous = Some(entry.device_id);
    }
    let mut previous: Option<(u32, u32)> = None;
    for t in tombstones {
        let at = (t.device_id, t.incarnation);
        let live = devices
            .iter()
            .any(|d| d.device_id == t.device_id && d.incarnation <= t.incarnation);
        if previous.is_some_and(|p| p >= at) || live {
            return Err(DeviceListError::Duplicate {
                device_id: t.device_id,
            });
        }
        previous = Some(at);
    }
    Ok(())
}

impl DeviceList {
    /// Signs a list with the user key. `devices` and `tombstones` may come in any order (they
    /// are sorted); every entry's counter-signature is checked first.
    ///
    /// # Errors
    /// [`DeviceListError::DeviceCount`], [`DeviceListError::TooManyTombstones`],
    /// [`DeviceListError::Duplicate`] on the structural rules (a tombstone must name an
    /// incarnation below the live one of its device id);
    /// [`DeviceListError::BadCounterSignature`] for an entry not signed for this user and
    /// user key; [`DeviceListError::Exhausted`] for version 0.
    pub fn sign(
        user: &UserSigningKey,
        user_id: &UserId,
        version: u64,
        timestamp: Timestamp,
        mut devices: Vec<DeviceEntry>,
        mut tombstones: Vec<Tombstone>,
    ) -> Result<Self, DeviceListError> {
        if version == 0 {
            return Err(DeviceListError::Exhausted);
        }
        devices.sort_by_key(|d| d.device_id);
        tombstones.sort_by_key(|t| (t.device_id, t.incarnation));
        check_structure(user.public(), &devices, &tombstones)?;
        for entry in &devices {
            if !entry.verify(user_id, user.public()) {
                return Err(DeviceListError::BadCounterSignature {
                    device_id: entry.device_id,
                });
            }
        }
        let mut encoded = Vec::with_capacity(
            64 + DEVICE_ENTRY_LEN * devices.len() + TOMBSTONE_LEN * tombstones.len() + 64,
        );
        encoded.push(WIRE_VERSION);
        encoded.push(TYPE_DEVICE_LIST);
        encoded.extend_from_slice(user.public().as_bytes());
        encoded.push(user_id.len_byte());
        encoded.extend_from_slice(user_id.as_bytes());
        encoded.extend_from_slice(&version.to_be_bytes());
        encoded.extend_from_slice(&timestamp.as_unix_secs().to_be_bytes());
        // Both counts are bounded by check_structure (32 and 64).
        encoded.push(u8::try_from(devices.len()).unwrap_or(u8::MAX));
        for d in &devices {
            encoded.extend_from_slice(&d.device_id.to_be_bytes());
            encoded.extend_from_slice(&d.incarnation.to_be_bytes());
            encoded.extend_from_slice(d.identity_key.as_bytes());
            encoded.extend_from_slice(&d.signature);
        }
        encoded.push(u8::try_from(tombstones.len()).unwrap_or(u8::MAX));
        for t in &tombstones {
            encoded.extend_from_slice(&t.device_id.to_be_bytes());
            encoded.extend_from_slice(&t.incarnation.to_be_bytes());
            encoded.extend_from_slice(&t.removed_at.as_unix_secs().to_be_bytes());
        }
        let signature = user.sign(&list_message(&encoded));
        encoded.extend_from_slice(&signature);
        Ok(DeviceList {
            user_id: user_id.clone(),
            user_key: *user.public(),
            version,
            timestamp,
            devices,
            tombstones,
            encoded,
        })
    }

    /// Decodes strictly and checks every signature: the user key's over the list and each
    /// device's over its entry.
    ///
    /// # Errors
    /// [`DeviceListError::Malformed`] on any deviation from the layout (including a user key
    /// or device key that is not a valid identity key, a version of 0, and an empty user id);
    /// the structural errors of [`DeviceList::sign`]; [`DeviceListError::BadSignature`];
    /// [`DeviceListError::BadCounterSignature`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DeviceListError> {
        let mut r = Reader::new(bytes);
        expect_header(&mut r, bytes.len(), TYPE_DEVICE_LIST, MAX_DEVICE_LIST_LEN)?;
        let user_key = UserKey(
            IdentityKey::from_bytes(r.array_ref::<32>()?)
                .map_err(|_| DecodeError::InvalidField { field: "user_key" })?,
        );
        let user_id_len = usize::from(r.u8()?);
        let user_id = UserId::checked(r.take(user_id_len)?)
            .ok_or(DecodeError::InvalidField { field: "user_id" })?;
        let version = u64::from_be_bytes(r.array::<8>()?);
        if version == 0 {
            return Err(DecodeError::InvalidField {
                field: "list_version",
            }
            .into());
        }
        let timestamp = Timestamp::from_unix_secs(u64::from_be_bytes(r.array::<8>()?));
        let device_count = usize::from(r.u8()?);
        if device_count == 0 || device_count > MAX_DEVICES_PER_USER {
            return Err(DeviceListError::DeviceCount {
                count: device_count,
                max: MAX_DEVICES_PER_USER,
            });
        }
        let mut devices = Vec::with_capacity(device_count);
        for _ in 0..device_count {
            let device_id = r.u32()?;
            let incarnation = r.u32()?;
            let identity_key = IdentityKey::from_bytes(r.array_ref::<32>()?).map_err(|_| {
                DecodeError::InvalidField {
                    field: "identity_key",
                }
            })?;
            let signature = r.array::<64>()?;
            devices.push(DeviceEntry {
                device_id,
                incarnation,
                identity_key,
                signature,
            });
        }
        let tombstone_count = usize::from(r.u8()?);
        if tombstone_count > MAX_TOMBSTONES {
            return Err(DeviceListError::TooManyTombstones {
                count: tombstone_count,
                max: MAX_TOMBSTONES,
            });
        }
        let mut tombstones = Vec::with_capacity(tombstone_count);
        for _ in 0..tombstone_count {
            let device_id = r.u32()?;
            let incarnation = r.u32()?;
            let removed_at = Timestamp::from_unix_secs(u64::from_be_bytes(r.array::<8>()?));
            tombstones.push(Tombstone {
                device_id,
                incarnation,
                removed_at,
            });
        }
        let signed_len = bytes.len().saturating_sub(r.rest_len());
        let signature = r.array::<64>()?;
        r.finish()?;
        check_structure(&user_key, &devices, &tombstones)?;
        let signed = bytes
            .get(..signed_len)
            .ok_or(DecodeError::Truncated { needed: 64 })?;
        if !user_key.0.verify(&list_message(signed), &signature) {
            return Err(DeviceListError::BadSignature);
        }
        for entry in &devices {
            if !entry.verify(&user_id, &user_key) {
                return Err(DeviceListError::BadCounterSignature {
                    device_id: entry.device_id,
                });
            }
        }
        Ok(DeviceList {
            user_id,
            user_key,
            version,
            timestamp,
            devices,
            tombstones,
            encoded: bytes.to_vec(),
        })
    }

    /// The encoded, signed list (what the relay stores and serves).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encoded.clone()
    }

    /// The encoded list, borrowed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }

    /// The user the list is of.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// The user key that signed it.
    pub fn user_key(&self) -> &UserKey {
        &self.user_key
    }

    /// The list's version: each list a user publishes has a higher one.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the user's device signed it (as that device's clock said; informational).
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The live devices, by increasing device id.
    pub fn devices(&self) -> &[DeviceEntry] {
        &self.devices
    }

    /// The tombstones, by increasing device id and incarnation.
    pub fn tombstones(&self) -> &[Tombstone] {
        &self.tombstones
    }

    /// The live entry with `identity_key`, if listed.
    pub fn device_with_key(&self, identity_key: &IdentityKey) -> Option<&DeviceEntry> {
        self.devices
            .iter()
            .find(|d| d.identity_key == *identity_key)
    }

    /// The live entry with `device_id`, if listed.
    pub fn device(&self, device_id: u32) -> Option<&DeviceEntry> {
        self.devices.iter().find(|d| d.device_id == device_id)
    }

    /// The short hash of this list (SPEC.md §19.2.4): the first [`DEVICE_LIST_HASH_LEN`]
    /// bytes of `SHA-256(LABEL_DEVICE_LIST_HASH || list)`.
    pub fn hash(&self) -> DeviceListHash {
        let digest = Sha256::new()
            .chain_update(LABEL_DEVICE_LIST_HASH)
            .chain_update(&self.encoded)
            .finalize();
        let mut out = [0u8; DEVICE_LIST_HASH_LEN];
        for (o, d) in out.iter_mut().zip(digest.iter()) {
            *o = *d;
        }
        DeviceListHash(out)
    }

    /// Whether a holder of `self` accepts `next` in its place (SPEC.md §19.4): the same user
    /// and user key, a higher version, every device of `self` either still listed with the
    /// same or a higher incarnation or tombstoned, and no device `self` tombstoned listed
    /// again with that incarnation. `next`'s signatures were checked when it was decoded.
    ///
    /// # Errors
    /// [`DeviceListError::OtherUser`], [`DeviceListError::UserKeyChanged`],
    /// [`DeviceListError::NotNewer`], [`DeviceListError::DroppedWithoutTombstone`],
    /// [`DeviceListError::Resurrected`].
    pub fn check_successor(&self, next: &DeviceList) -> Result<(), DeviceListError> {
        if next.user_id != self.user_id {
            return Err(DeviceListError::OtherUser);
        }
        if next.user_key != self.user_key {
            return Err(DeviceListError::UserKeyChanged);
        }
        if next.version <= self.version {
            return Err(DeviceListError::NotNewer {
                held: self.version,
                received: next.version,
            });
        }
        for held in &self.devices {
            let kept = next.devices.iter().any(|d| {
                d.device_id == held.device_id
                    && (d.incarnation > held.incarnation
                        || (d.incarnation == held.incarnation
                            && d.identity_key == held.identity_key))
            });
            let buried = next
                .tombstones
                .iter()
                .any(|t| t.device_id == held.device_id && t.incarnation >= held.incarnation);
            if !kept && !buried {
                return Err(DeviceListError::DroppedWithoutTombstone {
                    device_id: held.device_id,
                });
            }
        }
        for t in &self.tombstones {
            if next
                .devices
                .iter()
                .any(|d| d.device_id == t.device_id && d.incarnation <= t.incarnation)
            {
                return Err(DeviceListError::Resurrected {
                    device_id: t.device_id,
                });
            }
        }
        Ok(())
    }
}

/// What the user key signs: the label, then the encoded list up to its signature.
fn list_message(unsigned: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(LABEL_SIG_DEVICE_LIST.len() + unsigned.len());
    m.extend_from_slice(LABEL_SIG_DEVICE_LIST);
    m.extend_from_slice(unsigned);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn rng() -> chacha20::ChaCha20Rng {
        chacha20::ChaCha20Rng::seed_from_u64(11)
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_unix_secs(1_700_000_000 + secs)
    }

    struct Fixture {
        user: UserSigningKey,
        id: UserId,
        devices: Vec<IdentityKeyPair>,
    }

    fn fixture(n: usize) -> Fixture {
        let mut rng = rng();
        Fixture {
            user: UserSigningKey::generate(&mut rng),
            id: UserId::new(b"alice").unwrap(),
            devices: (0..n)
                .map(|_| IdentityKeyPair::generate(&mut rng))
                .collect(),
        }
    }

    impl Fixture {
        fn entry(&self, i: usize, incarnation: u32) -> DeviceEntry {
            DeviceEntry::sign(
                &self.devices[i],
                &self.id,
                self.user.public(),
                u32::try_from(i).unwrap() + 1,
                incarnation,
            )
        }

        fn list(&self, version: u64, live: &[usize], tombs: Vec<Tombstone>) -> DeviceList {
            let entries = live.iter().map(|&i| self.entry(i, 1)).collect();
            DeviceList::sign(&self.user, &self.id, version, at(version), entries, tombs).unwrap()
        }
    }

    #[test]
    fn round_trip_and_hash() {
        let f = fixture(3);
        let list = f.list(1, &[2, 0, 1], vec![Tombstone::new(9, 4, at(0))]);
        let decoded = DeviceList::decode(list.as_bytes()).unwrap();
        assert_eq!(decoded, list);
        assert_eq!(
            decoded
                .devices()
                .iter()
                .map(|d| d.device_id())
                .collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(decoded.hash(), list.hash());
        assert_ne!(f.list(2, &[0, 1, 2], vec![]).hash(), list.hash());
    }

    #[test]
    fn devices_at_and_past_the_limit() {
        let f = fixture(MAX_DEVICES_PER_USER + 1);
        let all: Vec<usize> = (0..MAX_DEVICES_PER_USER).collect();
        let list = f.list(1, &all, vec![]);
        assert!(list.as_bytes().len() <= MAX_DEVICE_LIST_LEN);
        assert_eq!(
            DeviceList::decode(list.as_bytes()).unwrap().devices().len(),
            32
        );
        let entries: Vec<_> = (0..=MAX_DEVICES_PER_USER).map(|i| f.entry(i, 1)).collect();
        assert_eq!(
            DeviceList::sign(&f.user, &f.id, 1, at(0), entries, vec![]),
            Err(DeviceListError::DeviceCount {
                count: 33,
                max: MAX_DEVICES_PER_USER
            })
        );
        // On the wire: a count byte of 33 is refused before anything else is read.
        let mut bytes = list.to_bytes();
        let count_at = 2 + 32 + 1 + 5 + 16;
        bytes[count_at] = 33;
        assert_eq!(
            DeviceList::decode(&bytes),
            Err(DeviceListError::DeviceCount { count: 33, max: 32 })
        );
        bytes[count_at] = 0;
        assert_eq!(
            DeviceList::decode(&bytes),
            Err(DeviceListError::DeviceCount { count: 0, max: 32 })
        );
    }

    #[test]
    fn tombstones_at_and_past_the_limit() {
        let f = fixture(1);
        let tombs = |n: u32| (0..n).map(|i| Tombstone::new(100 + i, 1, at(0))).collect();
        let list = f.list(1, &[0], tombs(64));
        assert_eq!(
            DeviceList::decode(list.as_bytes())
                .unwrap()
                .tombstones()
                .len(),
            64
        );
        assert_eq!(
            DeviceList::sign(&f.user, &f.id, 1, at(0), vec![f.entry(0, 1)], tombs(65)),
            Err(DeviceListError::TooManyTombstones { count: 65, max: 64 })
        );
        let mut bytes = list.to_bytes();
        let count_at = 2 + 32 + 1 + 5 + 16 + 1 + DEVICE_ENTRY_LEN;
        bytes[count_at] = 65;
        assert_eq!(
            DeviceList::decode(&bytes),
            Err(DeviceListError::TooManyTombstones { count: 65, max: 64 })
        );
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let f = fixture(2);
        let list = f.list(3, &[0, 1], vec![Tombstone::new(7, 1, at(0))]);
        let bytes = list.to_bytes();
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(DeviceList::decode(&b).is_err(), "bit {i}");
        }
        assert!(matches!(
            DeviceList::decode(&bytes[..bytes.len() - 1]),
            Err(DeviceListError::Malformed(DecodeError::Truncated { .. }))
        ));
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            DeviceList::decode(&long),
            Err(DeviceListError::Malformed(
                DecodeError::TrailingBytes { .. }
            ))
        ));
    }

    #[test]
    fn a_counter_signature_for_another_user_key_is_refused() {
        let f = fixture(2);
        let other = UserSigningKey::generate(&mut chacha20::ChaCha20Rng::seed_from_u64(99));
        let stolen = DeviceEntry::sign(&f.devices[1], &f.id, other.public(), 2, 1);
        assert_eq!(
            DeviceList::sign(
                &f.user,
                &f.id,
                1,
                at(0),
                vec![f.entry(0, 1), stolen],
                vec![]
            ),
            Err(DeviceListError::BadCounterSignature { device_id: 2 })
        );
        let other_user = UserId::new(b"mallory").unwrap();
        let wrong = DeviceEntry::sign(&f.devices[1], &other_user, f.user.public(), 2, 1);
        assert_eq!(
            DeviceList::sign(&f.user, &f.id, 1, at(0), vec![wrong], vec![]),
            Err(DeviceListError::BadCounterSignature { device_id: 2 })
        );
    }

    #[test]
    fn duplicates_and_live_tombstones_are_refused() {
        let f = fixture(2);
        let twice = vec![f.entry(0, 1), f.entry(0, 2)];
        assert_eq!(
            DeviceList::sign(&f.user, &f.id, 1, at(0), twice, vec![]),
            Err(DeviceListError::Duplicate { device_id: 1 })
        );
        let live = vec![Tombstone::new(1, 1, at(0))];
        assert_eq!(
            DeviceList::sign(&f.user, &f.id, 1, at(0), vec![f.entry(0, 1)], live),
            Err(DeviceListError::Duplicate { device_id: 1 })
        );
        // A tombstone of an older incarnation next to the live reinstall is fine.
        let reinstalled = vec![f.entry(0, 2)];
        let older = vec![Tombstone::new(1, 1, at(0))];
        assert!(DeviceList::sign(&f.user, &f.id, 1, at(0), reinstalled, older).is_ok());
    }

    #[test]
    fn successor_rules() {
        let f = fixture(3);
        let v1 = f.list(1, &[0, 1], vec![]);
        let v2 = f.list(2, &[0, 1, 2], vec![]);
        assert_eq!(v1.check_successor(&v2), Ok(()));
        assert_eq!(
            v2.check_successor(&v1),
            Err(DeviceListError::NotNewer {
                held: 2,
                received: 1
            })
        );
        assert_eq!(
            v2.check_successor(&v2),
            Err(DeviceListError::NotNewer {
                held: 2,
                received: 2
            })
        );
        let dropped = f.list(3, &[0, 2], vec![]);
        assert_eq!(
            v2.check_successor(&dropped),
            Err(DeviceListError::DroppedWithoutTombstone { device_id: 2 })
        );
        let removed = f.list(3, &[0, 2], vec![Tombstone::new(2, 1, at(3))]);
        assert_eq!(v2.check_successor(&removed), Ok(()));
        let back = f.list(4, &[0, 1, 2], vec![]);
        assert_eq!(
            removed.check_successor(&back),
            Err(DeviceListError::Resurrected { device_id: 2 })
        );
        let other = UserSigningKey::generate(&mut chacha20::ChaCha20Rng::seed_from_u64(99));
        let entry = DeviceEntry::sign(&f.devices[0], &f.id, other.public(), 1, 1);
        let foreign = DeviceList::sign(&other, &f.id, 9, at(0), vec![entry], vec![]).unwrap();
        assert_eq!(
            v1.check_successor(&foreign),
            Err(DeviceListError::UserKeyChanged)
        );
        let bob = UserId::new(b"bob").unwrap();
        let entry = DeviceEntry::sign(&f.devices[0], &bob, f.user.public(), 1, 1);
        let bobs = DeviceList::sign(&f.user, &bob, 9, at(0), vec![entry], vec![]).unwrap();
        assert_eq!(v1.check_successor(&bobs), Err(DeviceListError::OtherUser));
    }

    #[test]
    fn max_len_is_the_spec_value() {
        assert_eq!(MAX_DEVICE_LIST_LEN, 4_597);
        let spec = include_str!("../../SPEC.md");
        assert!(spec.contains("| `MAX_DEVICE_LIST_LEN` | 4,597 |"));
        assert!(spec.contains("| `MAX_DEVICES_PER_USER` | 32 |"));
        assert!(spec.contains("| `MAX_TOMBSTONES` | 64 |"));
    }

    #[test]
    fn debug_shows_no_secret() {
        let f = fixture(1);
        let shown = format!("{:?}", f.user);
        assert!(shown.starts_with("UserSigningKey { public: UserKey("));
        let seed = f.user.dangerous_to_seed();
        let hex: String = seed[..4].iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&hex));
    }
}
