//! Fan-out: one message to every device of a set of users and to this device's own other
//! devices (SPEC.md §19.5, §19.6).
//!
//! The payload is padded (§13.4) and encrypted **once** under a fresh 32-byte message key
//! `M`; each device gets, through its own 1:1 session, a small key part carrying `M`, the
//! SHA-256 digest of the shared body, and the sender's user id and current device-list hash.
//! As in the multi-recipient sealed envelope (§13.3), the digest stops a co-recipient, who
//! learns `M`, from handing the others another body: the key part is authenticated by the
//! sender's session, and the body must hash to the digest it names.
//!
//! Nothing is encrypted to a device outside the current list held for its user (own user
//! included), to a removed device, or to a user whose key change is not accepted; devices
//! without a session are reported ([`FanOutSkip`]) so the app can fetch their bundles.
//! The relay's mismatch answer ([`MismatchAnswer`]) is a hint: [`Device::apply_mismatch`]
//! drops extra and stale devices and adds a missing one only if a held, signed list carries
//! it, wrapping `M` for the added devices only.

use core::fmt;
use std::collections::BTreeSet;

use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::Zeroizing;

use super::fanout_wire::{
    DeviceRef, FanOutEnvelope, FanOutMessage, KeyPart, MAX_FANOUT_DEVICES,
    MAX_FANOUT_PLAINTEXT_LEN, MismatchAnswer,
};
use super::users::DeviceAddress;
use super::{Device, DeviceListError, PeerError};
use crate::aead::{open_into, seal_into};
use crate::error::{DecodeError, ErrorKind};
use crate::event::Event;
use crate::ids::UserId;
use crate::keys::IdentityKey;
use crate::labels::LABEL_FANOUT_BODY;
use crate::sealed::padding::{pad, unpad};
use crate::session::SessionId;
use crate::time::Timestamp;
use crate::wire::{MessageKind, TYPE_FANOUT_ENVELOPE, WIRE_VERSION, message_kind};

/// The AEAD nonce of the body: its key is used once.
const BODY_NONCE: [u8; 12] = [0u8; 12];

/// The body's associated data: `version || 0x91`.
const BODY_AD: [u8; 2] = [WIRE_VERSION, TYPE_FANOUT_ENVELOPE];

/// `body_key = HKDF(salt = 0x00*32, ikm = M, info = LABEL_FANOUT_BODY, L = 32)`.
fn body_key(message_key: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(&[0u8; 32]), message_key);
    let mut out = Zeroizing::new([0u8; 32]);
    // Cannot fail: 32 bytes is one hash length.
    let _ = hk.expand(LABEL_FANOUT_BODY, out.as_mut());
    out
}

/// Errors of fan-out ([`Device::fan_out`], [`Device::apply_mismatch`],
/// [`Device::refresh_fan_out`], [`Device::decrypt_fan_out`]). On every error nothing
/// changes: the device, its sessions and the [`FanOut`] stay as they were.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FanOutError {
    /// The envelope (or answer) is not well formed.
    #[error("malformed fan-out structure: {0}")]
    Malformed(#[from] DecodeError),
    /// The plaintext is longer than [`MAX_FANOUT_PLAINTEXT_LEN`].
    #[error("plaintext of {len} bytes exceeds the maximum of {max}")]
    PlaintextTooLarge {
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The fan-out would go to more than [`MAX_FANOUT_DEVICES`] devices.
    #[error("{count} devices exceed the fan-out maximum of {max}")]
    TooManyDevices {
        /// Devices it would go to.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// No user named, and this device has no other device of its own.
    #[error("a fan-out needs at least one user or another device of one's own")]
    NoRecipients,
    /// The key message does not decrypt on any session with the sender (see [`PeerError`]).
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The key message decrypted, but its key part is malformed, the body does not hash to
    /// the digest it names, or the body does not open: altered or swapped on the way.
    #[error("the fan-out body does not match its key part")]
    Tampered,
    /// The mismatch answer names, as extra or stale, a device the fan-out's manifest lacks.
    #[error(
        "the mismatch answer names device {device_id} as extra or stale, which the manifest lacks"
    )]
    NotInManifest {
        /// The device id.
        device_id: u32,
    },
    /// The mismatch answer names as missing a device of a user the fan-out is not for.
    #[error("the mismatch answer names device {device_id} of a user the fan-out is not for")]
    NotRecipient {
        /// The device id.
        device_id: u32,
    },
    /// The mismatch answer names as missing a device that no list held here carries (at that
    /// incarnation): the relay hints, it never adds. Fetch the user's list, accept it
    /// ([`Device::accept_device_list`]) and apply the answer again.
    #[error("no device list held vouches for device {device_id}")]
    Unvouched {
        /// The device id.
        device_id: u32,
    },
    /// The mismatch answer names as missing a device id the manifest keeps.
    #[error("the mismatch answer names device {device_id} as missing, which the manifest has")]
    AlreadyIncluded {
        /// The device id.
        device_id: u32,
    },
    /// A user's devices cannot be written to (see [`DeviceListError`]; an unaccepted
    /// identity change).
    #[error(transparent)]
    DeviceList(#[from] DeviceListError),
}

impl FanOutError {
    /// A stable, language-neutral name of this error, `"fanout.<variant>"` in snake_case
    /// (SPEC.md §8.4).
    pub fn code(&self) -> &'static str {
        match self {
            FanOutError::Malformed(_) => "fanout.malformed",
            FanOutError::PlaintextTooLarge { .. } => "fanout.plaintext_too_large",
            FanOutError::TooManyDevices { .. } => "fanout.too_many_devices",
            FanOutError::NoRecipients => "fanout.no_recipients",
            FanOutError::Peer(_) => "fanout.peer",
            FanOutError::Tampered => "fanout.tampered",
            FanOutError::NotInManifest { .. } => "fanout.not_in_manifest",
            FanOutError::NotRecipient { .. } => "fanout.not_recipient",
            FanOutError::Unvouched { .. } => "fanout.unvouched",
            FanOutError::AlreadyIncluded { .. } => "fanout.already_included",
            FanOutError::DeviceList(_) => "fanout.device_list",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FanOutError::Malformed(_) => ErrorKind::Malformed,
            FanOutError::PlaintextTooLarge { .. } | FanOutError::TooManyDevices { .. } => {
                ErrorKind::LimitExceeded
            }
            FanOutError::NoRecipients => ErrorKind::InvalidInput,
            FanOutError::Peer(e) => e.kind(),
            FanOutError::Tampered => ErrorKind::Tampered,
            FanOutError::NotInManifest { .. }
            | FanOutError::NotRecipient { .. }
            | FanOutError::AlreadyIncluded { .. } => ErrorKind::InvalidInput,
            FanOutError::Unvouched { .. } => ErrorKind::Untrusted,
            FanOutError::DeviceList(e) => e.kind(),
        }
    }
}

/// A device or user a fan-out did not reach, and why: the app fixes the cause and calls
/// [`Device::refresh_fan_out`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
// A report, a few per fan-out: boxing the device address would only cost an allocation.
#[allow(clippy::large_enum_variant)]
pub enum FanOutSkip {
    /// Nothing was encrypted to this user's devices: [`DeviceListError::NoList`] (fetch and
    /// accept its list) or [`DeviceListError::IdentityChanged`] (its key changed since it was
    /// verified; accept or verify it).
    User {
        /// The user.
        user_id: UserId,
        /// Why.
        reason: DeviceListError,
    },
    /// Nothing was encrypted to this listed device: [`PeerError::UnknownPeer`] (no session:
    /// fetch its bundle and [`Device::start_session`]), [`PeerError::NotLoaded`] (load its
    /// record), [`PeerError::DeviceRemoved`], [`PeerError::IdentityChanged`], or
    /// [`PeerError::Encrypt`].
    Device {
        /// The device.
        device: DeviceAddress,
        /// Why.
        reason: PeerError,
    },
}

/// One device's part of a fan-out: the device and the 1:1 session message carrying its key
/// part.
#[derive(Clone, PartialEq, Eq)]
pub struct FanOutPart {
    /// The device.
    pub device: DeviceAddress,
    /// Its key message (a ratchet or prekey message of its 1:1 session).
    pub key_message: Vec<u8>,
}

impl fmt::Debug for FanOutPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOutPart")
            .field("device", &DeviceRef::of(&self.device))
            .field("key_message_len", &self.key_message.len())
            .finish()
    }
}

/// A prepared fan-out ([`Device::fan_out`]): the shared body, one key message per device
/// reached, the devices skipped, and — to wrap the key for devices added later
/// ([`Device::apply_mismatch`], [`Device::refresh_fan_out`]) without encrypting the body
/// again — the message key. Keep it until the relay accepts the message, then drop it (the
/// key is zeroized).
///
/// ```
/// use hushwire::{Device, Timestamp, UserId};
/// use rand_core::SeedableRng;
/// # fn main() -> Result<(), hushwire::Error> {
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
/// let now = Timestamp::from_unix_secs(1_700_000_000);
/// // Bob is a user with one device; Alice holds his list and a session with it.
/// let mut alice = Device::new(now, &mut rng);
/// let mut bob = Device::new(now, &mut rng);
/// bob.account_mut().generate_one_time_prekeys(1, 1, now, &mut rng)?;
/// let bob_id = UserId::new(b"bob")?;
/// let list = bob.create_user(&bob_id, 1, now, &mut rng)?;
/// alice.accept_device_list(&bob_id, list.as_bytes(), now)?;
/// let _ = alice.start_session(&bob.account().published_prekeys().take_bundle(), &mut rng)?;
///
/// let fan_out = alice.fan_out(&[bob_id.clone()], b"hello, all of you", &mut rng)?;
/// let upload = fan_out.to_bytes().expect("one device reached");
/// // The relay checks the manifest against the lists it stores, then splits.
/// let message = hushwire::FanOutMessage::decode(&upload)?;
/// let (device, envelope) = message.split().remove(0);
/// assert_eq!(device.device_id, 1);
/// let read = bob.decrypt_fan_out(alice.identity_key(), &envelope, now)?;
/// assert_eq!(read.plaintext, b"hello, all of you");
/// # Ok(())
/// # }
/// ```
pub struct FanOut {
    message_key: Zeroizing<[u8; 32]>,
    body_digest: [u8; 32],
    body: Vec<u8>,
    users: Vec<UserId>,
    parts: Vec<FanOutPart>,
    skipped: Vec<FanOutSkip>,
}

impl fmt::Debug for FanOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOut")
            .field("users", &self.users.len())
            .field("parts", &self.parts)
            .field("skipped", &self.skipped)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl FanOut {
    /// The devices reached, in order `(user_id, device_id)`: what the relay checks against
    /// the lists it stores.
    pub fn manifest(&self) -> Vec<DeviceRef> {
        self.parts
            .iter()
            .map(|p| DeviceRef::of(&p.device))
            .collect()
    }

    /// Each device reached with its key message, in manifest order.
    pub fn parts(&self) -> &[FanOutPart] {
        &self.parts
    }

    /// The devices and users not reached, and why.
    pub fn skipped(&self) -> &[FanOutSkip] {
        &self.skipped
    }

    /// The users this fan-out is for (the own user included when it has one).
    pub fn users(&self) -> &[UserId] {
        &self.users
    }

    /// The shared body (encrypted once).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The fan-out message for the relay (type `0x92`, SPEC.md §19.5.5): the manifest with
    /// each key message, then the body once. `None` if no device was reached.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        if self.parts.is_empty() {
            return None;
        }
        let refs = self.manifest();
        Some(FanOutMessage::encode(
            refs.iter()
                .zip(self.parts.iter().map(|p| p.key_message.as_slice())),
            &self.body,
        ))
    }

    /// The envelope (type `0x91`) for one device reached, as the relay delivers it.
    pub fn envelope_for(&self, device: &DeviceRef) -> Option<Vec<u8>> {
        self.parts
            .iter()
            .find(|p| &DeviceRef::of(&p.device) == device)
            .map(|p| FanOutEnvelope::encode(&p.key_message, &self.body))
    }

    /// Every device reached with its envelope (type `0x91`).
    pub fn envelopes(&self) -> Vec<(DeviceAddress, Vec<u8>)> {
        self.parts
            .iter()
            .map(|p| {
                (
                    p.device.clone(),
                    FanOutEnvelope::encode(&p.key_message, &self.body),
                )
            })
            .collect()
    }

    fn has_device(&self, device: &DeviceRef) -> bool {
        self.parts.iter().any(|p| {
            p.device.user_id == device.user_id
                && p.device.device_id == device.device_id
                && p.device.incarnation == device.incarnation
        })
    }

    fn insert_part(&mut self, part: FanOutPart) {
        let key = (part.device.user_id.as_bytes(), part.device.device_id);
        let at = self
            .parts
            .partition_point(|p| (p.device.user_id.as_bytes(), p.device.device_id) < key);
        self.parts.insert(at, part);
    }
}

/// What [`Device::apply_mismatch`] or [`Device::refresh_fan_out`] changed in a [`FanOut`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct FanOutUpdate {
    /// Devices whose key message was added (their sessions advanced; write their records).
    pub added: Vec<DeviceRef>,
    /// Devices whose key message was dropped.
    pub dropped: Vec<DeviceRef>,
    /// The devices and users still not reached (as [`FanOut::skipped`] now is).
    pub skipped: Vec<FanOutSkip>,
}

/// A fan-out message read by [`Device::decrypt_fan_out`].
#[derive(Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct FanOutDecrypted {
    /// The message.
    pub plaintext: Vec<u8>,
    /// The sending device's identity key (as the transport named it; its session decrypted
    /// the key message).
    pub sender: IdentityKey,
    /// The sending device as the list held for its user carries it: `None` if no list held
    /// for the user it names carries the sender's key (unknown yet, or removed).
    pub sender_device: Option<DeviceAddress>,
    /// The user the sender names itself a device of (`None`: it belongs to no user).
    pub sender_user: Option<UserId>,
    /// The sender's device-list hash differs from the hash of the list held for its user
    /// (or none is held): fetch that user's list and accept it
    /// ([`Device::accept_device_list`]).
    pub list_changed: bool,
    /// The session that decrypted the key message.
    pub session_id: SessionId,
    /// Events of the session (as [`Device::decrypt_from`]).
    pub events: Vec<Event>,
}

impl fmt::Debug for FanOutDecrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOutDecrypted")
            .field("plaintext_len", &self.plaintext.len())
            .field("sender", &self.sender)
            .field(
                "sender_device",
                &self.sender_device.as_ref().map(DeviceRef::of),
            )
            .field("list_changed", &self.list_changed)
            .field("session_id", &self.session_id)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// What a decrypted key part and body give.
struct Opened {
    plaintext: Vec<u8>,
    sender_user: Option<(UserId, [u8; super::DEVICE_LIST_HASH_LEN])>,
}

/// Opens the body with the key part, checking the digest first.
fn open_body(key_part: &[u8], body: &[u8], digest: &[u8; 32]) -> Result<Opened, FanOutError> {
    let part = KeyPart::decode(key_part).map_err(|_| FanOutError::Tampered)?;
    if !bool::from(part.body_digest.ct_eq(digest)) {
        return Err(FanOutError::Tampered);
    }
    let key = body_key(&part.message_key);
    let mut padded = Zeroizing::new(Vec::with_capacity(body.len()));
    if !open_into(&key, &BODY_NONCE, &BODY_AD, body, &mut padded) {
        return Err(FanOutError::Tampered);
    }
    let plaintext = unpad(&padded).map_err(|_| FanOutError::Tampered)?.to_vec();
    Ok(Opened {
        plaintext,
        sender_user: part.sender_user,
    })
}

impl Device {
    /// Prepares `plaintext` for every device of `users` and for this device's own other
    /// devices (sync copies), SPEC.md §19.5: the body is encrypted once, and its key wrapped
    /// per device through that device's 1:1 session. Only devices of the current list held
    /// for each user are considered; users and devices that cannot be written to are in
    /// [`FanOut::skipped`] with their reason, never encrypted to.
    ///
    /// Changes ([`Device::take_changes`]): the record of every device reached. Write them
    /// before sending.
    ///
    /// # Errors
    /// [`FanOutError::PlaintextTooLarge`]; [`FanOutError::NoRecipients`] if `users` is empty
    /// and this device has no own user; [`FanOutError::TooManyDevices`] past
    /// [`MAX_FANOUT_DEVICES`]. The device is unchanged on error.
    pub fn fan_out<R: CryptoRng + ?Sized>(
        &mut self,
        users: &[UserId],
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<FanOut, FanOutError> {
        if plaintext.len() > MAX_FANOUT_PLAINTEXT_LEN {
            return Err(FanOutError::PlaintextTooLarge {
                len: plaintext.len(),
                max: MAX_FANOUT_PLAINTEXT_LEN,
            });
        }
        let mut all: BTreeSet<UserId> = users.iter().cloned().collect();
        if let Some(own) = self.own_user_id() {
            all.insert(own.clone());
        }
        if all.is_empty() {
            return Err(FanOutError::NoRecipients);
        }
        let users: Vec<UserId> = all.into_iter().collect();
        let (targets, skipped) = self.fan_out_targets(&users);
        if targets.len() > MAX_FANOUT_DEVICES {
            return Err(FanOutError::TooManyDevices {
                count: targets.len(),
                max: MAX_FANOUT_DEVICES,
            });
        }
        let mut message_key = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(message_key.as_mut());
        let key = body_key(&message_key);
        let padded = pad(plaintext);
        let mut body = Vec::with_capacity(padded.len() + crate::aead::TAG_LEN);
        seal_into(&key, &BODY_NONCE, &BODY_AD, &padded, &mut body);
        let body_digest: [u8; 32] = Sha256::digest(&body).into();
        let mut fan_out = FanOut {
            message_key,
            body_digest,
            body,
            users,
            parts: Vec::with_capacity(targets.len()),
            skipped,
        };
        let _ = self.wrap_for(&mut fan_out, targets, rng);
        Ok(fan_out)
    }

    /// Applies the relay's mismatch answer to `fan_out` (SPEC.md §19.6.3): extra and stale
    /// devices are dropped, and each missing device is added — its key wrapped through its
    /// session, the body untouched — only if the list held for its user carries it at that
    /// incarnation. A missing device without a session is reported in
    /// [`FanOutUpdate::skipped`].
    ///
    /// Changes ([`Device::take_changes`]): the records of the devices added.
    ///
    /// # Errors
    /// Checked in this order, before anything changes: [`FanOutError::NotInManifest`] for an
    /// extra or stale device the manifest lacks; for each missing device,
    /// [`FanOutError::NotRecipient`] (a user the fan-out is not for),
    /// [`FanOutError::DeviceList`] (the user's list is not held, or its key change is not
    /// accepted), [`FanOutError::Unvouched`] (the held list does not carry it, or it is this
    /// device), [`FanOutError::AlreadyIncluded`]. The device and `fan_out` are unchanged on
    /// error.
    pub fn apply_mismatch<R: CryptoRng + ?Sized>(
        &mut self,
        fan_out: &mut FanOut,
        answer: &MismatchAnswer,
        rng: &mut R,
    ) -> Result<FanOutUpdate, FanOutError> {
        for device in answer.extra().iter().chain(answer.stale()) {
            if !fan_out.has_device(device) {
                return Err(FanOutError::NotInManifest {
                    device_id: device.device_id,
                });
            }
        }
        let dropped: Vec<DeviceRef> = answer
            .extra()
            .iter()
            .chain(answer.stale())
            .cloned()
            .collect();
        let own_key = *self.identity_key();
        let mut added = Vec::with_capacity(answer.missing().len());
        for device in answer.missing() {
            let device_id = device.device_id;
            if !fan_out.users.contains(&device.user_id) {
                return Err(FanOutError::NotRecipient { device_id });
            }
            let listed = self.devices_of(&device.user_id)?;
            let address = listed
                .into_iter()
                .find(|d| d.device_id == device_id && d.incarnation == device.incarnation)
                .filter(|d| d.identity_key != own_key)
                .ok_or(FanOutError::Unvouched { device_id })?;
            let kept = fan_out.parts.iter().any(|p| {
                p.device.user_id == device.user_id
                    && p.device.device_id == device_id
                    && !dropped.contains(&DeviceRef::of(&p.device))
            });
            if kept {
                return Err(FanOutError::AlreadyIncluded { device_id });
            }
            added.push(address);
        }
        let count = fan_out.parts.len() - dropped.len() + added.len();
        if count > MAX_FANOUT_DEVICES {
            return Err(FanOutError::TooManyDevices {
                count,
                max: MAX_FANOUT_DEVICES,
            });
        }
        fan_out
            .parts
            .retain(|p| !dropped.contains(&DeviceRef::of(&p.device)));
        fan_out.skipped.retain(|s| match s {
            FanOutSkip::Device { device, .. } => {
                !added.iter().any(|a| a.identity_key == device.identity_key)
            }
            FanOutSkip::User { .. } => true,
        });
        let added = self.wrap_for(fan_out, added, rng);
        Ok(FanOutUpdate {
            added,
            dropped,
            skipped: fan_out.skipped.clone(),
        })
    }

    /// Brings `fan_out` up to date with the lists and sessions held now: key messages of
    /// devices no longer in their user's current list are dropped, and listed devices not yet
    /// reached are tried again (after the app accepted a new list, started a session from a
    /// fetched bundle, or loaded a record). The body is not encrypted again.
    ///
    /// Changes ([`Device::take_changes`]): the records of the devices added.
    ///
    /// # Errors
    /// [`FanOutError::TooManyDevices`] past [`MAX_FANOUT_DEVICES`]. The device and `fan_out`
    /// are unchanged on error.
    pub fn refresh_fan_out<R: CryptoRng + ?Sized>(
        &mut self,
        fan_out: &mut FanOut,
        rng: &mut R,
    ) -> Result<FanOutUpdate, FanOutError> {
        let (targets, skipped) = self.fan_out_targets(&fan_out.users);
        let current: BTreeSet<DeviceRef> = targets.iter().map(DeviceRef::of).collect();
        if current.len() > MAX_FANOUT_DEVICES {
            return Err(FanOutError::TooManyDevices {
                count: current.len(),
                max: MAX_FANOUT_DEVICES,
            });
        }
        let mut dropped = Vec::new();
        fan_out.parts.retain(|p| {
            let keep = current.contains(&DeviceRef::of(&p.device))
                && targets
                    .iter()
                    .any(|t| t.identity_key == p.device.identity_key);
            if !keep {
                dropped.push(DeviceRef::of(&p.device));
            }
            keep
        });
        let new: Vec<DeviceAddress> = targets
            .into_iter()
            .filter(|t| !fan_out.has_device(&DeviceRef::of(t)))
            .collect();
        fan_out.skipped = skipped;
        let added = self.wrap_for(fan_out, new, rng);
        Ok(FanOutUpdate {
            added,
            dropped,
            skipped: fan_out.skipped.clone(),
        })
    }

    /// Reads a fan-out envelope (type `0x91`) from the device `sender` (as the transport
    /// names it), SPEC.md §19.5.6: the key message is decrypted on the sender's session, the
    /// body checked against the digest it names and opened. Reports whether the sender's
    /// device list changed ([`FanOutDecrypted::list_changed`]).
    ///
    /// Changes ([`Device::take_changes`]): as [`Device::decrypt_from`].
    ///
    /// # Errors
    /// [`FanOutError::Malformed`] for a malformed envelope; [`FanOutError::Peer`] if no
    /// session with `sender` decrypts the key message; [`FanOutError::Tampered`] if the body
    /// does not match it. The device and every session are unchanged on error.
    pub fn decrypt_fan_out(
        &mut self,
        sender: &IdentityKey,
        envelope: &[u8],
        now: Timestamp,
    ) -> Result<FanOutDecrypted, FanOutError> {
        let envelope = FanOutEnvelope::decode(envelope)?;
        let digest: [u8; 32] = Sha256::digest(envelope.body()).into();
        let body = envelope.body();
        let (decrypted, opened) =
            self.decrypt_from_checked(sender, envelope.key_message(), now, |key_part| {
                open_body(key_part, body, &digest)
            })?;
        let (sender_user, sender_device, list_changed) = match opened.sender_user {
            None => (None, None, false),
            Some((user, hash)) => {
                let held = self.users.lists.get(&user);
                let device = held
                    .and_then(|l| l.device_with_key(sender))
                    .map(|e| DeviceAddress::of(&user, e));
                let changed = held.is_none_or(|l| !bool::from(l.hash().as_bytes().ct_eq(&hash)));
                (Some(user), device, changed)
            }
        };
        Ok(FanOutDecrypted {
            plaintext: opened.plaintext,
            sender: *sender,
            sender_device,
            sender_user,
            list_changed,
            session_id: decrypted.session_id,
            events: decrypted.events,
        })
    }

    /// The devices a fan-out to `users` goes to (current lists only, this device left out),
    /// and the users skipped.
    fn fan_out_targets(&self, users: &[UserId]) -> (Vec<DeviceAddress>, Vec<FanOutSkip>) {
        let mut targets = Vec::new();
        let mut skipped = Vec::new();
        for user in users {
            match self.devices_of(user) {
                Ok(devices) => targets.extend(devices),
                Err(reason) => skipped.push(FanOutSkip::User {
                    user_id: user.clone(),
                    reason,
                }),
            }
        }
        (targets, skipped)
    }

    /// Wraps the fan-out's key for each of `targets` (devices of current lists), adding a
    /// part or a skip for each. Returns the devices reached.
    fn wrap_for<R: CryptoRng + ?Sized>(
        &mut self,
        fan_out: &mut FanOut,
        targets: Vec<DeviceAddress>,
        rng: &mut R,
    ) -> Vec<DeviceRef> {
        let sender_user = self
            .own_device_list()
            .map(|l| (l.user_id().clone(), *l.hash().as_bytes()));
        let key_part = KeyPart {
            message_key: Zeroizing::new(*fan_out.message_key),
            body_digest: fan_out.body_digest,
            sender_user,
        }
        .encode();
        let mut added = Vec::with_capacity(targets.len());
        for device in targets {
            match self.encrypt_for(&device.identity_key, &key_part, rng) {
                Ok(key_message) => {
                    added.push(DeviceRef::of(&device));
                    fan_out.insert_part(FanOutPart {
                        device,
                        key_message,
                    });
                }
                Err(reason) => fan_out.skipped.push(FanOutSkip::Device { device, reason }),
            }
        }
        added
    }

    /// [`Device::decrypt_from`], then `check` on the plaintext; if the check fails, the
    /// device is put back as it was before the call.
    fn decrypt_from_checked<T>(
        &mut self,
        peer: &IdentityKey,
        message: &[u8],
        now: Timestamp,
        check: impl FnOnce(&[u8]) -> Result<T, FanOutError>,
    ) -> Result<(super::PeerDecrypted, T), FanOutError> {
        let starts_session = matches!(message_kind(message), Ok(MessageKind::PreKey));
        let held = self.peers.len().saturating_add(self.unloaded.len());
        let may_evict = starts_session && held >= super::MAX_PEERS && !self.knows_peer(peer);
        // What a decrypt may change: the whole device when it may evict another peer (rare),
        // else the account (a new session consumes prekeys), this peer's record and reset
        // log, the clock and the change list.
        let whole = may_evict.then(|| self.clone());
        let account = starts_session.then(|| self.account.clone());
        let record = self.peers.get(peer).cloned();
        let reset_log = self.resets.get(peer).cloned();
        let clock = self.peer_clock;
        let changes = self.changes.clone();
        let decrypted = self.decrypt_from(peer, message, now)?;
        match check(&decrypted.plaintext) {
            Ok(value) => Ok((decrypted, value)),
            Err(e) => {
                if let Some(whole) = whole {
                    *self = whole;
                    return Err(e);
                }
                if let Some(account) = account {
                    self.account = account;
                }
                match record {
                    Some(record) => {
                        self.peers.insert(*peer, record);
                    }
                    None => {
                        self.peers.remove(peer);
                    }
                }
                match reset_log {
                    Some(log) => {
                        self.resets.insert(*peer, log);
                    }
                    None => {
                        self.resets.remove(peer);
                    }
                }
                self.peer_clock = clock;
                self.changes = changes;
                Err(e)
            }
        }
    }
}
