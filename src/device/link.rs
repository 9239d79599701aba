//! Linking a new device to a user (SPEC.md §19.8, §19.11): the existing device, which holds
//! the user key, shows a QR code ([`LinkPayload`]); the new device scans it, opens a 1:1
//! session with the existing device and sends a link request carrying its counter-signed
//! entry; the two run the interactive short authentication string of §15.4 on that session
//! and the user compares it on both screens; the new device confirms, the existing device's
//! user approves, and the existing device publishes list version + 1 with the new device and
//! hands it over; the new device joins with it.
//!
//! Each side is a chain of states consumed by their steps. The existing device goes
//! [`LinkOffer`] → [`LinkSasStarted`] → [`LinkComparing`] → [`LinkConfirmed`] →
//! [`LinkApproved`]; the new device [`JoinRequested`] → [`JoinAwaitingReveal`] →
//! [`JoinComparing`] → [`JoinAwaitingList`] → joined. A step that fails hands its state back
//! unchanged with the error, so a forged, replayed or out-of-order message changes nothing;
//! dropping a state cancels the run, and no list changes before the existing device's
//! approval. Every step takes and returns the *plaintext* of a message on the 1:1 session
//! between the two devices: the app encrypts with [`Device::encrypt_for`] and decrypts with
//! [`Device::decrypt_from`] as for any message, and recognises link messages with
//! [`is_link_message`].
//!
//! ```
//! use hushwire::device::is_link_message;
//! use hushwire::verify::UserId;
//! use hushwire::{Device, Timestamp};
//! use rand_core::SeedableRng;
//! # fn main() -> Result<(), hushwire::Error> {
//! let mut rng = chacha20::ChaCha20Rng::seed_from_u64(5);
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let ana = UserId::try_from("ana")?;
//! let mut phone = Device::new(now, &mut rng);
//! phone.create_user(&ana, 1, now, &mut rng)?;
//! let mut laptop = Device::new(now, &mut rng);
//! phone.account_mut().generate_one_time_prekeys(1, 1, now, &mut rng)?;
//!
//! // The phone shows a QR code; the laptop scans it and fetches the phone's bundle.
//! let (offer, payload) = phone.offer_link(None, now, &mut rng)?;
//! let payload = hushwire::device::LinkPayload::decode(&payload.to_bytes())?;
//! let bundle = phone.account().published_prekeys().take_bundle();
//! let (joining, request) = laptop.request_link(&payload, &bundle, now, &mut rng)?;
//!
//! // Each message travels as the plaintext of a 1:1 message between the two devices.
//! let (p, l) = (*phone.identity_key(), *laptop.identity_key());
//! let wire = laptop.encrypt_for(&p, &request, &mut rng)?;
//! let request = phone.decrypt_from(&l, &wire, now)?.plaintext;
//! assert!(is_link_message(&request));
//! let (linking, start) = offer.receive_request(&phone, &l, &request, now, &mut rng).map_err(|(_, e)| e)?;
//! let wire = phone.encrypt_for(&l, &start, &mut rng)?;
//! let start = laptop.decrypt_from(&p, &wire, now)?.plaintext;
//! let (joining, accept) = joining.receive_start(&laptop, &p, &start, now, &mut rng).map_err(|(_, e)| e)?;
//! let wire = laptop.encrypt_for(&p, &accept, &mut rng)?;
//! let accept = phone.decrypt_from(&l, &wire, now)?.plaintext;
//! let (comparing, reveal) = linking.receive_accept(&phone, &l, &accept, now).map_err(|(_, e)| e)?;
//! let wire = phone.encrypt_for(&l, &reveal, &mut rng)?;
//! let reveal = laptop.decrypt_from(&p, &wire, now)?.plaintext;
//! let joining = joining.receive_reveal(&laptop, &p, &reveal, now).map_err(|(_, e)| e)?;
//!
//! // Both screens show the same emoji; the user taps "match" on the laptop, then the phone.
//! assert_eq!(comparing.sas(), joining.sas());
//! let (joining, confirm) = joining.confirm();
//! let wire = laptop.encrypt_for(&p, &confirm, &mut rng)?;
//! let confirm = phone.decrypt_from(&l, &wire, now)?.plaintext;
//! let confirmed = comparing.receive_confirm(&l, &confirm, now).map_err(|(_, e)| e)?;
//! let approved = confirmed.approve(&mut phone, now).map_err(|(_, e)| e)?;
//! // Publish `approved.list` to the relay; send the laptop its completion.
//! let wire = phone.encrypt_for(&l, &approved.message, &mut rng)?;
//! let done = laptop.decrypt_from(&p, &wire, now)?.plaintext;
//! joining.receive_list(&mut laptop, &p, &done, now).map_err(|(_, e)| e)?;
//! assert_eq!(laptop.own_device_list(), phone.own_device_list());
//! assert_eq!(approved.list.devices().len(), 2);
//! # Ok(())
//! # }
//! ```

use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::Zeroizing;

use super::Device;
use super::device_list::{
    DEVICE_ENTRY_LEN, DeviceEntry, DeviceList, DeviceListError, MAX_DEVICE_LIST_LEN, UserKey,
};
use super::users::DeviceListAccepted;
use crate::error::{DecodeError, ErrorKind};
use crate::ids::{MAX_USER_ID_LEN, UserId};
use crate::keys::IdentityKey;
use crate::labels::LABEL_LINK_CONFIRM;
use crate::time::Timestamp;
use crate::verify::{
    SAS_MESSAGE_LEN, SAS_RUN_ID_LEN, SasAwaitingAccept, SasAwaitingReveal, SasReady, SasRunId,
    ShortAuthString, VerifyError, accept_sas, start_sas,
};
use crate::wire::{
    Reader, TYPE_LINK_CONFIRM, TYPE_LINK_DONE, TYPE_LINK_PAYLOAD, TYPE_LINK_REQUEST,
    TYPE_SAS_ACCEPT, TYPE_SAS_REVEAL, TYPE_SAS_START, WIRE_VERSION, expect_header,
};
use crate::x3dh::HandshakeError;
use crate::x3dh::PreKeyBundle;

/// How long a link run may take, in seconds (10 minutes), from the existing device's offer:
/// the payload carries `expires_at`, and every step on either side refuses a message at or
/// after it ([`LinkError::Expired`]).
pub const LINK_TIMEOUT_SECS: u64 = 600;
/// Bytes of the link nonce, drawn by the existing device for one run.
pub const LINK_NONCE_LEN: usize = 32;
/// Largest encoded link payload (a 128-byte user id): 247 bytes.
pub const MAX_LINK_PAYLOAD_LEN: usize = 2 + 1 + MAX_USER_ID_LEN + 32 + 32 + 4 + 4 + 4 + 32 + 8;
/// Bytes of a link request: version, type, nonce, the new device's entry.
pub const LINK_REQUEST_LEN: usize = 2 + LINK_NONCE_LEN + DEVICE_ENTRY_LEN;
/// Bytes of a link confirmation: version, type, SAS run id, confirmation hash.
pub const LINK_CONFIRM_LEN: usize = 2 + SAS_RUN_ID_LEN + 32;
/// Largest link completion: version, type, SAS run id, the largest device list.
pub const MAX_LINK_DONE_LEN: usize = 2 + SAS_RUN_ID_LEN + MAX_DEVICE_LIST_LEN;

/// Why a link step refused its input. The state comes back unchanged with it.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// The bytes are not the link or SAS message this step reads: truncated, trailing bytes,
    /// unknown version or type, a field out of range.
    #[error("malformed link message: {0}")]
    Malformed(DecodeError),
    /// A well-formed link or SAS message of another step: out of order, or a replay of an
    /// earlier step.
    #[error("link message of type {found:#04x} where {expected:#04x} was expected")]
    OutOfOrder {
        /// The type byte this step reads.
        expected: u8,
        /// The type byte received.
        found: u8,
    },
    /// The run expired (at or after the payload's `expires_at`): start again.
    #[error("the link run expired at {expired_at:?}")]
    Expired {
        /// When the run expired.
        expired_at: Timestamp,
    },
    /// The request does not carry this run's link nonce: it was not made from this QR code
    /// (forged, or a replay of another run).
    #[error("the link request is not for this run")]
    WrongNonce,
    /// The message came from another device than the one this run is with.
    #[error("the link message is from another device")]
    WrongPeer,
    /// The new device's entry is not the one the payload asked for (another device id,
    /// incarnation, user or user key, not the sender's key) or its counter-signature does
    /// not verify.
    #[error("the new device's entry does not match the link payload")]
    EntryMismatch,
    /// The confirmation or completion names another SAS run.
    #[error("the link message is of another run")]
    OtherRun,
    /// The confirmation hash does not match this run (nonce, run id, short string).
    #[error("the link confirmation does not match this run")]
    BadConfirm,
    /// The list handed over is not the user's of the payload, or does not carry the new
    /// device as requested and the existing device.
    #[error("the device list handed over does not match the link")]
    ListMismatch,
    /// The bundle fetched for the existing device is another device's.
    #[error("the bundle is not the existing device's")]
    BundleMismatch,
    /// This device already belongs to a user.
    #[error("this device already belongs to a user")]
    AlreadyLinked,
    /// This device does not hold its user's key, so it cannot link devices.
    #[error("this device does not hold its user's key")]
    NoUserKey,
    /// No established session with the peer device.
    #[error("no established session with the other device")]
    NoSession,
    /// The short authentication string step failed; see [`VerifyError`].
    #[error("SAS step failed: {0}")]
    Sas(VerifyError),
    /// Signing, checking or joining the list failed; see [`DeviceListError`].
    #[error("device list: {0}")]
    List(DeviceListError),
    /// Opening the session with the existing device failed; see [`HandshakeError`].
    #[error("session: {0}")]
    Session(HandshakeError),
}

impl LinkError {
    /// A stable, language-neutral name of this error, `"link.<variant>"` in snake_case
    /// (SPEC.md §8.4).
    pub fn code(&self) -> &'static str {
        match self {
            LinkError::Malformed(_) => "link.malformed",
            LinkError::OutOfOrder { .. } => "link.out_of_order",
            LinkError::Expired { .. } => "link.expired",
            LinkError::WrongNonce => "link.wrong_nonce",
            LinkError::WrongPeer => "link.wrong_peer",
            LinkError::EntryMismatch => "link.entry_mismatch",
            LinkError::OtherRun => "link.other_run",
            LinkError::BadConfirm => "link.bad_confirm",
            LinkError::ListMismatch => "link.list_mismatch",
            LinkError::BundleMismatch => "link.bundle_mismatch",
            LinkError::AlreadyLinked => "link.already_linked",
            LinkError::NoUserKey => "link.no_user_key",
            LinkError::NoSession => "link.no_session",
            LinkError::Sas(_) => "link.sas",
            LinkError::List(_) => "link.list",
            LinkError::Session(_) => "link.session",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LinkError::Malformed(e) => e.kind(),
            LinkError::OutOfOrder { .. } | LinkError::OtherRun => ErrorKind::StateOutOfSync,
            LinkError::Expired { .. } => ErrorKind::Replay,
            LinkError::WrongNonce
            | LinkError::EntryMismatch
            | LinkError::BadConfirm
            | LinkError::ListMismatch
            | LinkError::BundleMismatch => ErrorKind::Tampered,
            LinkError::WrongPeer
            | LinkError::AlreadyLinked
            | LinkError::NoUserKey
            | LinkError::NoSession => ErrorKind::InvalidInput,
            LinkError::Sas(e) => e.kind(),
            LinkError::List(e) => e.kind(),
            LinkError::Session(e) => e.kind(),
        }
    }
}

/// Link and SAS message types, in run order: a step meeting another one reports
/// [`LinkError::OutOfOrder`].
const RUN_TYPES: [u8; 6] = [
    TYPE_LINK_REQUEST,
    TYPE_SAS_START,
    TYPE_SAS_ACCEPT,
    TYPE_SAS_REVEAL,
    TYPE_LINK_CONFIRM,
    TYPE_LINK_DONE,
];

/// Whether `plaintext` (of a 1:1 message) is a message of a link run — a link request,
/// confirmation or completion, or one of the SAS messages the run uses — to hand to the
/// pending link state rather than show. Looks at the version and type bytes only.
pub fn is_link_message(plaintext: &[u8]) -> bool {
    match plaintext {
        [version, kind, ..] => *version == WIRE_VERSION && RUN_TYPES.contains(kind),
        _ => false,
    }
}

/// A decode error, told apart as [`LinkError::OutOfOrder`] when it is another step's message.
fn decode_error(e: DecodeError) -> LinkError {
    match e {
        DecodeError::WrongType { expected, found } if RUN_TYPES.contains(&found) => {
            LinkError::OutOfOrder { expected, found }
        }
        e => LinkError::Malformed(e),
    }
}

fn sas_error(e: VerifyError) -> LinkError {
    match e {
        VerifyError::Malformed(d) => decode_error(d),
        VerifyError::SasOtherRun => LinkError::OtherRun,
        VerifyError::SasOtherSession | VerifyError::SessionNotEstablished => LinkError::NoSession,
        e => LinkError::Sas(e),
    }
}

fn check_expiry(expires_at: Timestamp, now: Timestamp) -> Result<(), LinkError> {
    if now >= expires_at {
        return Err(LinkError::Expired {
            expired_at: expires_at,
        });
    }
    Ok(())
}

/// What the existing device shows as a QR code (type `0x55`, SPEC.md §19.11.2): the user,
/// the user key, the existing device's identity key and id (the new device fetches that
/// device's prekey bundle to open a session with it), the device id and incarnation the new
/// device is to take, a fresh link nonce binding the run, and when the run expires.
///
/// The nonce is not printed by `Debug` and is zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkPayload {
    user_id: UserId,
    user_key: UserKey,
    existing_identity: IdentityKey,
    existing_device_id: u32,
    new_device_id: u32,
    new_incarnation: u32,
    nonce: Zeroizing<[u8; LINK_NONCE_LEN]>,
    expires_at: Timestamp,
}

impl fmt::Debug for LinkPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkPayload")
            .field("user_id", &self.user_id)
            .field("existing_identity", &self.existing_identity)
            .field("existing_device_id", &self.existing_device_id)
            .field("new_device_id", &self.new_device_id)
            .field("new_incarnation", &self.new_incarnation)
            .field("expires_at", &self.expires_at.as_unix_secs())
            .finish_non_exhaustive()
    }
}

impl LinkPayload {
    /// Encodes the payload (SPEC.md §19.11.2), for the QR code.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_LINK_PAYLOAD_LEN);
        out.extend_from_slice(&[WIRE_VERSION, TYPE_LINK_PAYLOAD, self.user_id.len_byte()]);
        out.extend_from_slice(self.user_id.as_bytes());
        out.extend_from_slice(self.user_key.as_bytes());
        out.extend_from_slice(self.existing_identity.as_bytes());
        out.extend_from_slice(&self.existing_device_id.to_be_bytes());
        out.extend_from_slice(&self.new_device_id.to_be_bytes());
        out.extend_from_slice(&self.new_incarnation.to_be_bytes());
        out.extend_from_slice(self.nonce.as_ref());
        out.extend_from_slice(&self.expires_at.as_unix_secs().to_be_bytes());
        out
    }

    /// Decodes a scanned payload strictly (SPEC.md §19.11.2).
    ///
    /// # Errors
    /// [`DecodeError`]: the header (version, type `0x55`, at most [`MAX_LINK_PAYLOAD_LEN`]
    /// bytes); `InvalidField` for an empty or too long user id (`"user_id"`), a user key or
    /// identity key that is not a valid identity key or an identity key equal to the user
    /// key (`"user_key"`, `"identity_key"`), a new device id equal to the existing one
    /// (`"new_device_id"`), an incarnation of 0 (`"new_incarnation"`); truncation or
    /// trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(&mut r, bytes.len(), TYPE_LINK_PAYLOAD, MAX_LINK_PAYLOAD_LEN)?;
        let user_id_len = usize::from(r.u8()?);
        let user_id = UserId::checked(r.take(user_id_len)?)
            .ok_or(DecodeError::InvalidField { field: "user_id" })?;
        let user_key = UserKey::from_bytes(r.array_ref::<32>()?)
            .map_err(|_| DecodeError::InvalidField { field: "user_key" })?;
        let existing_identity = IdentityKey::from_bytes(r.array_ref::<32>()?)
            .ok()
            .filter(|k| k != user_key.as_identity_key())
            .ok_or(DecodeError::InvalidField {
                field: "identity_key",
            })?;
        let existing_device_id = r.u32()?;
        let new_device_id = r.u32()?;
        if new_device_id == existing_device_id {
            return Err(DecodeError::InvalidField {
                field: "new_device_id",
            });
        }
        let new_incarnation = r.u32()?;
        if new_incarnation == 0 {
            return Err(DecodeError::InvalidField {
                field: "new_incarnation",
            });
        }
        let nonce = Zeroizing::new(r.array::<LINK_NONCE_LEN>()?);
        let expires_at = Timestamp::from_unix_secs(u64::from_be_bytes(r.array::<8>()?));
        r.finish()?;
        Ok(LinkPayload {
            user_id,
            user_key,
            existing_identity,
            existing_device_id,
            new_device_id,
            new_incarnation,
            nonce,
            expires_at,
        })
    }

    /// The user the new device joins.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// The user key the new device counter-signs under.
    pub fn user_key(&self) -> &UserKey {
        &self.user_key
    }

    /// The existing device's identity key: fetch its prekey bundle.
    pub fn existing_identity(&self) -> &IdentityKey {
        &self.existing_identity
    }

    /// The existing device's id within the user.
    pub fn existing_device_id(&self) -> u32 {
        self.existing_device_id
    }

    /// The device id the new device takes.
    pub fn new_device_id(&self) -> u32 {
        self.new_device_id
    }

    /// The incarnation the new device takes.
    pub fn new_incarnation(&self) -> u32 {
        self.new_incarnation
    }

    /// When the run expires.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
}

/// `version || type || nonce || entry` (SPEC.md §19.11.3).
fn encode_request(nonce: &[u8; LINK_NONCE_LEN], entry: DeviceEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(LINK_REQUEST_LEN);
    out.extend_from_slice(&[WIRE_VERSION, TYPE_LINK_REQUEST]);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&entry.to_bytes());
    out
}

fn decode_request(
    bytes: &[u8],
) -> Result<(Zeroizing<[u8; LINK_NONCE_LEN]>, DeviceEntry), DecodeError> {
    let mut r = Reader::new(bytes);
    expect_header(&mut r, bytes.len(), TYPE_LINK_REQUEST, LINK_REQUEST_LEN)?;
    let nonce = Zeroizing::new(r.array::<LINK_NONCE_LEN>()?);
    let entry = DeviceEntry::read(&mut r)?;
    r.finish()?;
    Ok((nonce, entry))
}

/// `SHA-256(LABEL_LINK_CONFIRM || nonce || run_id || sas)` (SPEC.md §19.11.4).
fn confirm_hash(
    nonce: &[u8; LINK_NONCE_LEN],
    run_id: &SasRunId,
    sas: &ShortAuthString,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL_LINK_CONFIRM);
    h.update(nonce);
    h.update(run_id.as_bytes());
    h.update(sas.as_bytes());
    h.finalize().into()
}

fn encode_confirm(run_id: &SasRunId, hash: &[u8; 32]) -> [u8; LINK_CONFIRM_LEN] {
    let mut out = [0u8; LINK_CONFIRM_LEN];
    let mut at = 0;
    let parts: [&[u8]; 3] = [&[WIRE_VERSION, TYPE_LINK_CONFIRM], run_id.as_bytes(), hash];
    for part in parts {
        if let Some(dst) = out.get_mut(at..at + part.len()) {
            dst.copy_from_slice(part);
        }
        at += part.len();
    }
    out
}

fn decode_confirm(bytes: &[u8]) -> Result<([u8; SAS_RUN_ID_LEN], [u8; 32]), DecodeError> {
    let mut r = Reader::new(bytes);
    expect_header(&mut r, bytes.len(), TYPE_LINK_CONFIRM, LINK_CONFIRM_LEN)?;
    let run_id = r.array()?;
    let hash = r.array()?;
    r.finish()?;
    Ok((run_id, hash))
}

fn encode_done(run_id: &SasRunId, list: &DeviceList) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + SAS_RUN_ID_LEN + list.as_bytes().len());
    out.extend_from_slice(&[WIRE_VERSION, TYPE_LINK_DONE]);
    out.extend_from_slice(run_id.as_bytes());
    out.extend_from_slice(list.as_bytes());
    out
}

/// The run id and the list bytes of a completion (the list is decoded by the caller).
fn decode_done(bytes: &[u8]) -> Result<([u8; SAS_RUN_ID_LEN], &[u8]), DecodeError> {
    let mut r = Reader::new(bytes);
    expect_header(&mut r, bytes.len(), TYPE_LINK_DONE, MAX_LINK_DONE_LEN)?;
    let run_id = r.array()?;
    Ok((run_id, r.rest()))
}

/// What both sides of a run know from the payload.
#[derive(Clone)]
struct Run {
    payload: LinkPayload,
}

impl Run {
    fn expiry(&self, now: Timestamp) -> Result<(), LinkError> {
        check_expiry(self.payload.expires_at, now)
    }
}

/// The smallest device id above every id the list carries or tombstones (at least 1).
fn next_device_id(list: &DeviceList) -> Result<u32, LinkError> {
    let highest = list
        .devices()
        .iter()
        .map(DeviceEntry::device_id)
        .chain(list.tombstones().iter().map(|t| t.device_id()))
        .max()
        .unwrap_or(0);
    highest
        .checked_add(1)
        .ok_or(LinkError::List(DeviceListError::Exhausted))
}

/// The incarnation a device taking `device_id` gets: one above any live or tombstoned
/// incarnation of that id, else 1.
fn next_incarnation(list: &DeviceList, device_id: u32) -> Result<u32, LinkError> {
    let highest = list
        .device(device_id)
        .map(DeviceEntry::incarnation)
        .into_iter()
        .chain(
            list.tombstones()
                .iter()
                .filter(|t| t.device_id() == device_id)
                .map(|t| t.incarnation()),
        )
        .max()
        .unwrap_or(0);
    highest
        .checked_add(1)
        .ok_or(LinkError::List(DeviceListError::Exhausted))
}

impl Device {
    /// Starts linking a new device to this device's user (this device must hold the user
    /// key): draws a link nonce and returns the offer waiting for the new device's request,
    /// with the payload to show as a QR code. `device_id` is the id the new device takes:
    /// `None` for the next free one (incarnation 1); a listed id for a reinstall (the next
    /// incarnation; approving tombstones the old one). Changes nothing on the device.
    ///
    /// Draws 32 bytes (the nonce) with one `fill_bytes` call.
    ///
    /// # Errors
    /// [`LinkError::NoUserKey`] unless this device holds its user's key;
    /// [`LinkError::List`] with [`DeviceListError::DeviceIdTaken`] for this device's own id,
    /// or [`DeviceListError::Exhausted`] when no id or incarnation is left. Nothing is drawn
    /// on error.
    pub fn offer_link<R: CryptoRng + ?Sized>(
        &self,
        device_id: Option<u32>,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(LinkOffer, LinkPayload), LinkError> {
        let own = self.users.own.as_ref().ok_or(LinkError::NoUserKey)?;
        if own.signing.is_none() {
            return Err(LinkError::NoUserKey);
        }
        let list = self
            .users
            .lists
            .get(&own.user_id)
            .ok_or(LinkError::NoUserKey)?;
        let new_device_id = match device_id {
            Some(id) if id == own.device_id => {
                return Err(LinkError::List(DeviceListError::DeviceIdTaken {
                    device_id: id,
                }));
            }
            Some(id) => id,
            None => next_device_id(list)?,
        };
        let new_incarnation = next_incarnation(list, new_device_id)?;
        let mut nonce = Zeroizing::new([0u8; LINK_NONCE_LEN]);
        rng.fill_bytes(nonce.as_mut());
        let payload = LinkPayload {
            user_id: own.user_id.clone(),
            user_key: *list.user_key(),
            existing_identity: *self.identity_key(),
            existing_device_id: own.device_id,
            new_device_id,
            new_incarnation,
            nonce,
            expires_at: now.plus_secs(LINK_TIMEOUT_SECS),
        };
        Ok((
            LinkOffer(Box::new(Run {
                payload: payload.clone(),
            })),
            payload,
        ))
    }

    /// Starts joining the user of a scanned `payload` as a new device: checks that `bundle`
    /// (fetched for [`LinkPayload::existing_identity`]) is the existing device's, opens a
    /// session with it ([`Device::start_session`]) and returns the state waiting for the
    /// SAS start with the link request to send on that session (SPEC.md §19.11.3): the
    /// payload's nonce and this device's entry, counter-signed for the payload's user, user
    /// key, device id and incarnation.
    ///
    /// Changes: those of [`Device::start_session`]; nothing else until the run completes.
    ///
    /// # Errors
    /// [`LinkError::Expired`] at or after the payload's `expires_at`;
    /// [`LinkError::AlreadyLinked`] if this device belongs to a user;
    /// [`LinkError::BundleMismatch`] if the bundle is another device's;
    /// [`LinkError::Session`] if the session cannot be opened. The device is unchanged on
    /// error.
    pub fn request_link<R: CryptoRng + ?Sized>(
        &mut self,
        payload: &LinkPayload,
        bundle: &PreKeyBundle,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(JoinRequested, Vec<u8>), LinkError> {
        check_expiry(payload.expires_at, now)?;
        if self.users.own.is_some() {
            return Err(LinkError::AlreadyLinked);
        }
        if bundle.identity_key != payload.existing_identity {
            return Err(LinkError::BundleMismatch);
        }
        // A peer evicted to make room needs nothing here (its next message leads to a reset).
        let _started = self
            .start_session(bundle, rng)
            .map_err(LinkError::Session)?;
        let entry = self.device_entry(
            &payload.user_id,
            &payload.user_key,
            payload.new_device_id,
            payload.new_incarnation,
        );
        let request = encode_request(&payload.nonce, entry);
        Ok((
            JoinRequested(Box::new(Run {
                payload: payload.clone(),
            })),
            request,
        ))
    }
}

/// The active session with `peer`, established (it has decrypted a message from the peer).
fn session<'a>(device: &'a Device, peer: &IdentityKey) -> Result<&'a crate::Session, LinkError> {
    device
        .active_session(peer)
        .filter(|s| s.has_received_message())
        .ok_or(LinkError::NoSession)
}

// ---------------------------------------------------------------------------------------
// The existing device.

/// The existing device's run, waiting for the new device's link request. Made by
/// [`Device::offer_link`]. Not `Clone`: a run is driven once; dropping it cancels it.
pub struct LinkOffer(Box<Run>);

impl fmt::Debug for LinkOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LinkOffer").field(&self.0.payload).finish()
    }
}

impl LinkOffer {
    /// The payload to show (again) as a QR code.
    pub fn payload(&self) -> &LinkPayload {
        &self.0.payload
    }

    /// Reads the new device's link request (the plaintext of its first message, from
    /// `from`), and starts the SAS on the session with it ([`start_sas`]): returns the state
    /// waiting for the SAS accept with the SAS start to send on that session.
    ///
    /// Checks, in order: the run has not expired; `request` is a link request; its nonce is
    /// this run's (constant time); its entry is for `from`, with the payload's device id and
    /// incarnation, and its counter-signature verifies under the payload's user and user
    /// key; the session with `from` is established.
    ///
    /// Draws as [`start_sas`] (16 bytes, then 32).
    ///
    /// # Errors
    /// The offer, unchanged, with [`LinkError::Expired`], [`LinkError::Malformed`],
    /// [`LinkError::OutOfOrder`], [`LinkError::WrongNonce`], [`LinkError::EntryMismatch`] or
    /// [`LinkError::NoSession`]. Nothing is drawn on error.
    #[allow(clippy::result_large_err)]
    pub fn receive_request<R: CryptoRng + ?Sized>(
        self,
        device: &Device,
        from: &IdentityKey,
        request: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(LinkSasStarted, [u8; SAS_MESSAGE_LEN]), (Self, LinkError)> {
        match self.check_request(device, from, request, now) {
            Ok((entry, s)) => match start_sas(s, now, rng) {
                Ok((sas, start)) => Ok((
                    LinkSasStarted(Box::new(Started {
                        run: *self.0,
                        peer: *from,
                        entry,
                        sas,
                    })),
                    start,
                )),
                Err(e) => Err((self, sas_error(e))),
            },
            Err(e) => Err((self, e)),
        }
    }

    fn check_request<'a>(
        &self,
        device: &'a Device,
        from: &IdentityKey,
        request: &[u8],
        now: Timestamp,
    ) -> Result<(DeviceEntry, &'a crate::Session), LinkError> {
        let p = &self.0.payload;
        self.0.expiry(now)?;
        let (nonce, entry) = decode_request(request).map_err(decode_error)?;
        if !bool::from(nonce.ct_eq(p.nonce.as_ref())) {
            return Err(LinkError::WrongNonce);
        }
        if entry.identity_key() != from
            || entry.device_id() != p.new_device_id
            || entry.incarnation() != p.new_incarnation
            || !entry.verify(&p.user_id, &p.user_key)
        {
            return Err(LinkError::EntryMismatch);
        }
        Ok((entry, session(device, from)?))
    }
}

struct Started {
    run: Run,
    peer: IdentityKey,
    entry: DeviceEntry,
    sas: SasAwaitingAccept,
}

/// The existing device's run, waiting for the new device's SAS accept. Made by
/// [`LinkOffer::receive_request`].
pub struct LinkSasStarted(Box<Started>);

impl fmt::Debug for LinkSasStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkSasStarted")
            .field("peer", &self.0.peer)
            .field("entry", &self.0.entry)
            .finish_non_exhaustive()
    }
}

impl LinkSasStarted {
    /// Reads the new device's SAS accept and returns the string to show, with the SAS reveal
    /// to send (SPEC.md §15.4).
    ///
    /// Checks, in order: the run has not expired; the message is from the run's peer and its
    /// session is established; then those of [`SasAwaitingAccept::receive_accept`].
    ///
    /// # Errors
    /// The state, unchanged, with [`LinkError::Expired`], [`LinkError::WrongPeer`],
    /// [`LinkError::NoSession`], [`LinkError::Malformed`], [`LinkError::OutOfOrder`],
    /// [`LinkError::OtherRun`] or [`LinkError::Sas`].
    #[allow(clippy::result_large_err)]
    pub fn receive_accept(
        self,
        device: &Device,
        from: &IdentityKey,
        accept: &[u8],
        now: Timestamp,
    ) -> Result<(LinkComparing, [u8; SAS_MESSAGE_LEN]), (Self, LinkError)> {
        let s = match self.check(device, from, now) {
            Ok(s) => s,
            Err(e) => return Err((self, e)),
        };
        let Started {
            run,
            peer,
            entry,
            sas,
        } = *self.0;
        match sas.receive_accept(s, accept, now) {
            Ok((ready, reveal)) => Ok((
                LinkComparing(Box::new(Comparing {
                    run,
                    peer,
                    entry,
                    ready,
                })),
                reveal,
            )),
            Err((sas, e)) => Err((
                LinkSasStarted(Box::new(Started {
                    run,
                    peer,
                    entry,
                    sas,
                })),
                sas_error(e),
            )),
        }
    }

    fn check<'a>(
        &self,
        device: &'a Device,
        from: &IdentityKey,
        now: Timestamp,
    ) -> Result<&'a crate::Session, LinkError> {
        self.0.run.expiry(now)?;
        if *from != self.0.peer {
            return Err(LinkError::WrongPeer);
        }
        session(device, from)
    }
}

struct Comparing {
    run: Run,
    peer: IdentityKey,
    entry: DeviceEntry,
    ready: SasReady,
}

/// The existing device's run, showing the string, waiting for the new device's
/// confirmation. Made by [`LinkSasStarted::receive_accept`]. If the user says the strings
/// differ, drop it: no list changes.
pub struct LinkComparing(Box<Comparing>);

impl fmt::Debug for LinkComparing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkComparing")
            .field("peer", &self.0.peer)
            .field("entry", &self.0.entry)
            .finish_non_exhaustive()
    }
}

impl LinkComparing {
    /// The string to show and compare with the new device's screen.
    pub fn sas(&self) -> &ShortAuthString {
        self.0.ready.sas()
    }

    /// The new device's identity key.
    pub fn peer(&self) -> &IdentityKey {
        &self.0.peer
    }

    /// Reads the new device's confirmation (its user saw the same string there).
    ///
    /// Checks, in order: the run has not expired; the message is from the run's peer; it is
    /// a link confirmation; it names this SAS run; its hash is this run's (constant time).
    ///
    /// # Errors
    /// The state, unchanged, with [`LinkError::Expired`], [`LinkError::WrongPeer`],
    /// [`LinkError::Malformed`], [`LinkError::OutOfOrder`], [`LinkError::OtherRun`] or
    /// [`LinkError::BadConfirm`].
    #[allow(clippy::result_large_err)]
    pub fn receive_confirm(
        self,
        from: &IdentityKey,
        confirm: &[u8],
        now: Timestamp,
    ) -> Result<LinkConfirmed, (Self, LinkError)> {
        match self.check_confirm(from, confirm, now) {
            Ok(()) => Ok(LinkConfirmed(self.0)),
            Err(e) => Err((self, e)),
        }
    }

    fn check_confirm(
        &self,
        from: &IdentityKey,
        confirm: &[u8],
        now: Timestamp,
    ) -> Result<(), LinkError> {
        let c = &self.0;
        c.run.expiry(now)?;
        if *from != c.peer {
            return Err(LinkError::WrongPeer);
        }
        let (run_id, hash) = decode_confirm(confirm).map_err(decode_error)?;
        if run_id != *c.ready.run_id().as_bytes() {
            return Err(LinkError::OtherRun);
        }
        let expected = confirm_hash(&c.run.payload.nonce, &c.ready.run_id(), c.ready.sas());
        if !bool::from(expected.ct_eq(&hash)) {
            return Err(LinkError::BadConfirm);
        }
        Ok(())
    }
}

/// The existing device's run after the new device confirmed: waiting for this device's user
/// to approve (the strings matched on both screens). Dropping it cancels: no list changes.
pub struct LinkConfirmed(Box<Comparing>);

impl fmt::Debug for LinkConfirmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkConfirmed")
            .field("peer", &self.0.peer)
            .field("entry", &self.0.entry)
            .finish_non_exhaustive()
    }
}

/// The end of the existing device's run: the list to publish, and the completion to send to
/// the new device on the session.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LinkApproved {
    /// List version + 1, carrying the new device: publish it (the relay stores it).
    pub list: DeviceList,
    /// The link completion (SPEC.md §19.11.5): send it to the new device.
    pub message: Vec<u8>,
    /// The new device's entry.
    pub entry: DeviceEntry,
}

impl LinkConfirmed {
    /// The string shown.
    pub fn sas(&self) -> &ShortAuthString {
        self.0.ready.sas()
    }

    /// The new device's identity key.
    pub fn peer(&self) -> &IdentityKey {
        &self.0.peer
    }

    /// The user approved: adds the new device ([`Device::add_own_device`]: list version + 1;
    /// a reinstall tombstones the old incarnation) and returns the list to publish with the
    /// completion to send. Lists the user-devices record in [`Device::changes`].
    ///
    /// # Errors
    /// The state, unchanged, with [`LinkError::Expired`] or [`LinkError::List`] (the errors
    /// of [`Device::add_own_device`], for example a device id taken meanwhile). The device is
    /// unchanged on error.
    #[allow(clippy::result_large_err)]
    pub fn approve(
        self,
        device: &mut Device,
        now: Timestamp,
    ) -> Result<LinkApproved, (Self, LinkError)> {
        if let Err(e) = self.0.run.expiry(now) {
            return Err((self, e));
        }
        match device.add_own_device(self.0.entry, now) {
            Ok(list) => Ok(LinkApproved {
                message: encode_done(&self.0.ready.run_id(), &list),
                list,
                entry: self.0.entry,
            }),
            Err(e) => Err((self, LinkError::List(e))),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The new device.

/// The new device's run, waiting for the existing device's SAS start. Made by
/// [`Device::request_link`]. Not `Clone`; dropping it cancels the run.
pub struct JoinRequested(Box<Run>);

impl fmt::Debug for JoinRequested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinRequested")
            .field(&self.0.payload)
            .finish()
    }
}

impl JoinRequested {
    /// The payload scanned.
    pub fn payload(&self) -> &LinkPayload {
        &self.0.payload
    }

    /// Reads the existing device's SAS start and answers it ([`accept_sas`]): returns the
    /// state waiting for the reveal, with the SAS accept to send.
    ///
    /// Checks, in order: the run has not expired; the message is from the existing device
    /// and its session is established; it is a SAS start.
    ///
    /// Draws as [`accept_sas`] (32 bytes).
    ///
    /// # Errors
    /// The state, unchanged, with [`LinkError::Expired`], [`LinkError::WrongPeer`],
    /// [`LinkError::NoSession`], [`LinkError::Malformed`] or [`LinkError::OutOfOrder`].
    #[allow(clippy::result_large_err)]
    pub fn receive_start<R: CryptoRng + ?Sized>(
        self,
        device: &Device,
        from: &IdentityKey,
        start: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(JoinAwaitingReveal, [u8; SAS_MESSAGE_LEN]), (Self, LinkError)> {
        let result = self
            .0
            .expiry(now)
            .and_then(|()| joiner_session(&self.0, device, from))
            .and_then(|s| accept_sas(s, start, now, rng).map_err(sas_error));
        match result {
            Ok((sas, accept)) => Ok((
                JoinAwaitingReveal(Box::new(Revealing { run: *self.0, sas })),
                accept,
            )),
            Err(e) => Err((self, e)),
        }
    }
}

/// The session with the payload's existing device, checking `from`.
fn joiner_session<'a>(
    run: &Run,
    device: &'a Device,
    from: &IdentityKey,
) -> Result<&'a crate::Session, LinkError> {
    if *from != run.payload.existing_identity {
        return Err(LinkError::WrongPeer);
    }
    session(device, from)
}

struct Revealing {
    run: Run,
    sas: SasAwaitingReveal,
}

/// The new device's run, waiting for the existing device's SAS reveal. Made by
/// [`JoinRequested::receive_start`].
pub struct JoinAwaitingReveal(Box<Revealing>);

impl fmt::Debug for JoinAwaitingReveal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinAwaitingReveal")
            .field(&self.0.run.payload)
            .finish()
    }
}

impl JoinAwaitingReveal {
    /// Reads the existing device's SAS reveal and returns the string to show.
    ///
    /// Checks, in order: the run has not expired; the message is from the existing device
    /// and its session is established; then those of
    /// [`SasAwaitingReveal::receive_reveal`] (the reveal opens the commitment).
    ///
    /// # Errors
    /// The state, unchanged, with [`LinkError::Expired`], [`LinkError::WrongPeer`],
    /// [`LinkError::NoSession`], [`LinkError::Malformed`], [`LinkError::OutOfOrder`],
    /// [`LinkError::OtherRun`] or [`LinkError::Sas`] (a commitment mismatch: warn the user).
    #[allow(clippy::result_large_err)]
    pub fn receive_reveal(
        self,
        device: &Device,
        from: &IdentityKey,
        reveal: &[u8],
        now: Timestamp,
    ) -> Result<JoinComparing, (Self, LinkError)> {
        let s = match self
            .0
            .run
            .expiry(now)
            .and_then(|()| joiner_session(&self.0.run, device, from))
        {
            Ok(s) => s,
            Err(e) => return Err((self, e)),
        };
        let Revealing { run, sas } = *self.0;
        match sas.receive_reveal(s, reveal, now) {
            Ok(ready) => Ok(JoinComparing(Box::new(Joining { run, ready }))),
            Err((sas, e)) => Err((
                JoinAwaitingReveal(Box::new(Revealing { run, sas })),
                sas_error(e),
            )),
        }
    }
}

struct Joining {
    run: Run,
    ready: SasReady,
}

/// The new device's run, showing the string. If the user says it matches the existing
/// device's screen, [`confirm`](Self::confirm); if not, drop it.
pub struct JoinComparing(Box<Joining>);

impl fmt::Debug for JoinComparing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinComparing")
            .field(&self.0.run.payload)
            .finish()
    }
}

impl JoinComparing {
    /// The string to show and compare with the existing device's screen.
    pub fn sas(&self) -> &ShortAuthString {
        self.0.ready.sas()
    }

    /// The user saw the same string on both screens: returns the state waiting for the list,
    /// with the confirmation to send (SPEC.md §19.11.4).
    pub fn confirm(self) -> (JoinAwaitingList, [u8; LINK_CONFIRM_LEN]) {
        let j = &self.0;
        let hash = confirm_hash(&j.run.payload.nonce, &j.ready.run_id(), j.ready.sas());
        let message = encode_confirm(&j.ready.run_id(), &hash);
        (JoinAwaitingList(self.0), message)
    }
}

/// The new device's run after its confirmation, waiting for the existing device's link
/// completion carrying the new list.
pub struct JoinAwaitingList(Box<Joining>);

impl fmt::Debug for JoinAwaitingList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinAwaitingList")
            .field(&self.0.run.payload)
            .finish()
    }
}

impl JoinAwaitingList {
    /// Reads the link completion and joins the user with the list it carries
    /// ([`Device::join_user`]). Lists the user-devices record in [`Device::changes`].
    ///
    /// Checks, in order: the run has not expired; the message is from the existing device;
    /// it is a link completion; it names this SAS run; the list decodes with every signature
    /// (§19.2.1); it is the payload's user under the payload's user key, and carries this
    /// device live with the payload's device id and incarnation and the existing device
    /// live with its id; then those of [`Device::join_user`].
    ///
    /// # Errors
    /// The state, unchanged, with [`LinkError::Expired`], [`LinkError::WrongPeer`],
    /// [`LinkError::Malformed`], [`LinkError::OutOfOrder`], [`LinkError::OtherRun`],
    /// [`LinkError::List`], [`LinkError::ListMismatch`] or [`LinkError::AlreadyLinked`].
    /// The device is unchanged on error.
    #[allow(clippy::result_large_err)]
    pub fn receive_list(
        self,
        device: &mut Device,
        from: &IdentityKey,
        done: &[u8],
        now: Timestamp,
    ) -> Result<DeviceListAccepted, (Self, LinkError)> {
        let list = match self.check_list(device, from, done, now) {
            Ok(list) => list,
            Err(e) => return Err((self, e)),
        };
        match device.join_user(list.as_bytes(), now) {
            Ok(accepted) => Ok(accepted),
            Err(e) => Err((self, LinkError::List(e))),
        }
    }

    fn check_list(
        &self,
        device: &Device,
        from: &IdentityKey,
        done: &[u8],
        now: Timestamp,
    ) -> Result<DeviceList, LinkError> {
        let j = &self.0;
        let p = &j.run.payload;
        j.run.expiry(now)?;
        if *from != p.existing_identity {
            return Err(LinkError::WrongPeer);
        }
        let (run_id, list) = decode_done(done).map_err(decode_error)?;
        if run_id != *j.ready.run_id().as_bytes() {
            return Err(LinkError::OtherRun);
        }
        let list = DeviceList::decode(list).map_err(LinkError::List)?;
        let carries = |id: u32, key: &IdentityKey, incarnation: Option<u32>| {
            list.device(id).is_some_and(|d| {
                d.identity_key() == key && incarnation.is_none_or(|i| d.incarnation() == i)
            })
        };
        if list.user_id() != &p.user_id
            || list.user_key() != &p.user_key
            || !carries(
                p.new_device_id,
                device.identity_key(),
                Some(p.new_incarnation),
            )
            || !carries(p.existing_device_id, &p.existing_identity, None)
        {
            return Err(LinkError::ListMismatch);
        }
        if device.users.own.is_some() {
            return Err(LinkError::AlreadyLinked);
        }
        Ok(list)
    }
}
