//! The wire structures of fan-out (SPEC.md §19.5, §19.6): the key part each device's 1:1
//! session carries (type `0x90`), the per-device envelope the relay delivers (`0x91`), the
//! fan-out message the sender hands the relay (`0x92`), and the relay's mismatch answer
//! (`0x93`). Decoding is strict and never panics; no key is needed for any of them except the
//! key part, which only exists inside a session message.

use core::cmp::Ordering;
use core::fmt;
use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::device_list::{DEVICE_LIST_HASH_LEN, DeviceList};
use crate::aead::TAG_LEN;
use crate::error::DecodeError;
use crate::ids::{MAX_USER_ID_LEN, UserId};
use crate::sealed::padding::{is_padded_len, padded_len};
use crate::wire::{
    Reader, TYPE_FANOUT_ENVELOPE, TYPE_FANOUT_KEY, TYPE_FANOUT_MESSAGE, TYPE_FANOUT_MISMATCH,
    WIRE_VERSION, expect_header,
};

/// Most devices one fan-out goes to (and most entries in each set of a mismatch answer).
pub const MAX_FANOUT_DEVICES: usize = 1024;

/// Largest 1:1 session message carrying one device's key part (a prekey message of a new
/// session included).
pub const MAX_FANOUT_KEY_MESSAGE_LEN: usize = 4096;

/// Largest plaintext of one fan-out (as one 1:1 message, [`crate::MAX_PLAINTEXT_LEN`]).
pub const MAX_FANOUT_PLAINTEXT_LEN: usize = crate::wire::MAX_PLAINTEXT_LEN;

/// Largest shared body: the padded largest plaintext plus the AEAD tag.
pub const MAX_FANOUT_BODY_LEN: usize = padded_len(MAX_FANOUT_PLAINTEXT_LEN) + TAG_LEN;

/// Bytes of a key part (type `0x90`) whose sender belongs to no user.
pub const FANOUT_KEY_BASE_LEN: usize = 2 + 32 + 32 + 1;

/// Largest key part: a 128-byte user id and the list hash.
pub const MAX_FANOUT_KEY_LEN: usize = FANOUT_KEY_BASE_LEN + MAX_USER_ID_LEN + DEVICE_LIST_HASH_LEN;

/// Largest encoded device reference: `user_id_len(1) user_id(128) device_id(4)
/// incarnation(4)`.
pub const MAX_DEVICE_REF_LEN: usize = 1 + MAX_USER_ID_LEN + 4 + 4;

/// Bytes of a per-device envelope (type `0x91`) before its key message: version, type,
/// key length.
pub const FANOUT_ENVELOPE_PREFIX_LEN: usize = 4;

/// Largest per-device envelope (type `0x91`).
pub const MAX_FANOUT_ENVELOPE_LEN: usize =
    FANOUT_ENVELOPE_PREFIX_LEN + MAX_FANOUT_KEY_MESSAGE_LEN + MAX_FANOUT_BODY_LEN;

/// Largest fan-out message (type `0x92`).
pub const MAX_FANOUT_MESSAGE_LEN: usize = 4
    + MAX_FANOUT_DEVICES * (MAX_DEVICE_REF_LEN + 2 + MAX_FANOUT_KEY_MESSAGE_LEN)
    + MAX_FANOUT_BODY_LEN;

/// Largest mismatch answer (type `0x93`).
pub const MAX_MISMATCH_ANSWER_LEN: usize = 2 + 3 * (2 + MAX_FANOUT_DEVICES * MAX_DEVICE_REF_LEN);

/// One device in a fan-out's manifest or a mismatch answer: its user, its id within the
/// user, its incarnation. Ordered by user id (bytes, a shorter prefix first), then device id,
/// then incarnation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceRef {
    /// The device's user.
    pub user_id: UserId,
    /// Its id within the user.
    pub device_id: u32,
    /// Its incarnation.
    pub incarnation: u32,
}

impl DeviceRef {
    /// A reference to `device_id` at `incarnation` of `user_id`.
    pub fn new(user_id: UserId, device_id: u32, incarnation: u32) -> Self {
        DeviceRef {
            user_id,
            device_id,
            incarnation,
        }
    }

    /// The reference to a device the address names.
    pub fn of(address: &super::DeviceAddress) -> Self {
        DeviceRef::new(
            address.user_id.clone(),
            address.device_id,
            address.incarnation,
        )
    }

    /// Compares `(user_id, device_id)` only.
    fn cmp_device(&self, other: &DeviceRef) -> Ordering {
        (self.user_id.as_bytes(), self.device_id).cmp(&(other.user_id.as_bytes(), other.device_id))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.user_id.len_byte());
        out.extend_from_slice(self.user_id.as_bytes());
        out.extend_from_slice(&self.device_id.to_be_bytes());
        out.extend_from_slice(&self.incarnation.to_be_bytes());
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(r.u8()?);
        if len == 0 || len > MAX_USER_ID_LEN {
            return Err(DecodeError::InvalidField { field: "user_id" });
        }
        let user_id =
            UserId::checked(r.take(len)?).ok_or(DecodeError::InvalidField { field: "user_id" })?;
        let device_id = r.u32()?;
        let incarnation = r.u32()?;
        Ok(DeviceRef::new(user_id, device_id, incarnation))
    }
}

/// Checks the shared body's length: at least the tag, and a padding bucket plus the tag.
fn check_body_len(len: usize) -> Result<(), DecodeError> {
    if len < TAG_LEN {
        return Err(DecodeError::Truncated {
            needed: TAG_LEN - len,
        });
    }
    if !is_padded_len(len - TAG_LEN) {
        return Err(DecodeError::InvalidField { field: "body_len" });
    }
    Ok(())
}

fn key_len_u16(len: usize) -> u16 {
    // Every key message is at most MAX_FANOUT_KEY_MESSAGE_LEN (< 65,536), checked before.
    u16::try_from(len).unwrap_or(u16::MAX)
}

fn read_key_message<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], DecodeError> {
    let len = usize::from(u16::from_be_bytes(r.array::<2>()?));
    if len == 0 || len > MAX_FANOUT_KEY_MESSAGE_LEN {
        return Err(DecodeError::InvalidField { field: "key_len" });
    }
    r.take(len)
}

/// The key part (type `0x90`): what each device's 1:1 session message carries.
pub(crate) struct KeyPart {
    pub(crate) message_key: Zeroizing<[u8; 32]>,
    pub(crate) body_digest: [u8; 32],
    pub(crate) sender_user: Option<(UserId, [u8; DEVICE_LIST_HASH_LEN])>,
}

impl fmt::Debug for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPart")
            .field("sender_user", &self.sender_user.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl KeyPart {
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(MAX_FANOUT_KEY_LEN));
        out.push(WIRE_VERSION);
        out.push(TYPE_FANOUT_KEY);
        out.extend_from_slice(self.message_key.as_ref());
        out.extend_from_slice(&self.body_digest);
        match &self.sender_user {
            None => out.push(0),
            Some((user, hash)) => {
                out.push(user.len_byte());
                out.extend_from_slice(user.as_bytes());
                out.extend_from_slice(hash);
            }
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(&mut r, bytes.len(), TYPE_FANOUT_KEY, MAX_FANOUT_KEY_LEN)?;
        let message_key = Zeroizing::new(r.array::<32>()?);
        let body_digest = r.array::<32>()?;
        let len = usize::from(r.u8()?);
        if len > MAX_USER_ID_LEN {
            return Err(DecodeError::InvalidField { field: "user_id" });
        }
        let sender_user = if len == 0 {
            None
        } else {
            let user = UserId::checked(r.take(len)?)
                .ok_or(DecodeError::InvalidField { field: "user_id" })?;
            Some((user, r.array::<DEVICE_LIST_HASH_LEN>()?))
        };
        r.finish()?;
        Ok(KeyPart {
            message_key,
            body_digest,
            sender_user,
        })
    }
}

/// A decoded per-device envelope (type `0x91`), borrowing the input: one device's key
/// message and the shared body.
#[derive(Clone, Copy)]
pub struct FanOutEnvelope<'a> {
    key_message: &'a [u8],
    body: &'a [u8],
}

impl fmt::Debug for FanOutEnvelope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOutEnvelope")
            .field("key_message_len", &self.key_message.len())
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl<'a> FanOutEnvelope<'a> {
    /// Decodes strictly (SPEC.md §19.5.4): header (maximum [`MAX_FANOUT_ENVELOPE_LEN`]), key
    /// length 1 to [`MAX_FANOUT_KEY_MESSAGE_LEN`], the key message, then a body whose length
    /// is a padding bucket plus the tag.
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation: `InvalidField("key_len")`, `InvalidField("body_len")`,
    /// `Truncated`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(
            &mut r,
            bytes.len(),
            TYPE_FANOUT_ENVELOPE,
            MAX_FANOUT_ENVELOPE_LEN,
        )?;
        let key_message = read_key_message(&mut r)?;
        let body = r.rest();
        check_body_len(body.len())?;
        Ok(FanOutEnvelope { key_message, body })
    }

    /// The 1:1 session message carrying this device's key part.
    pub fn key_message(&self) -> &'a [u8] {
        self.key_message
    }

    /// The shared body (ciphertext and tag).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    pub(crate) fn encode(key_message: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(FANOUT_ENVELOPE_PREFIX_LEN + key_message.len() + body.len());
        out.push(WIRE_VERSION);
        out.push(TYPE_FANOUT_ENVELOPE);
        out.extend_from_slice(&key_len_u16(key_message.len()).to_be_bytes());
        out.extend_from_slice(key_message);
        out.extend_from_slice(body);
        out
    }
}

/// A decoded fan-out message (type `0x92`), borrowing the input: what the relay parses to
/// check the manifest against the device lists it stores and to deliver each device its
/// envelope (type `0x91`). It learns the devices (which it needs to route) and the body's
/// size bucket, nothing else.
#[derive(Clone)]
pub struct FanOutMessage<'a> {
    manifest: Vec<DeviceRef>,
    key_messages: Vec<&'a [u8]>,
    body: &'a [u8],
}

impl fmt::Debug for FanOutMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOutMessage")
            .field("devices", &self.manifest.len())
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl<'a> FanOutMessage<'a> {
    /// Decodes strictly (SPEC.md §19.5.5): header (maximum [`MAX_FANOUT_MESSAGE_LEN`]), a
    /// device count of 1 to [`MAX_FANOUT_DEVICES`], each entry (device reference, then key
    /// message) with the entries strictly ascending by `(user_id, device_id)`, then the body.
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation: `InvalidField("device_count")`,
    /// `InvalidField("user_id")`, `InvalidField("key_len")`, `InvalidField("order")`,
    /// `InvalidField("body_len")`, `Truncated`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(
            &mut r,
            bytes.len(),
            TYPE_FANOUT_MESSAGE,
            MAX_FANOUT_MESSAGE_LEN,
        )?;
        let count = usize::from(u16::from_be_bytes(r.array::<2>()?));
        if count == 0 || count > MAX_FANOUT_DEVICES {
            return Err(DecodeError::InvalidField {
                field: "device_count",
            });
        }
        let mut manifest: Vec<DeviceRef> = Vec::with_capacity(count);
        let mut key_messages = Vec::with_capacity(count);
        for _ in 0..count {
            let device = DeviceRef::decode(&mut r)?;
            let key_message = read_key_message(&mut r)?;
            if manifest
                .last()
                .is_some_and(|last| last.cmp_device(&device) != Ordering::Less)
            {
                return Err(DecodeError::InvalidField { field: "order" });
            }
            manifest.push(device);
            key_messages.push(key_message);
        }
        let body = r.rest();
        check_body_len(body.len())?;
        Ok(FanOutMessage {
            manifest,
            key_messages,
            body,
        })
    }

    /// The devices, in order: what the relay compares with the lists it stores
    /// ([`MismatchAnswer::between`]).
    pub fn manifest(&self) -> &[DeviceRef] {
        &self.manifest
    }

    /// The body's length (the padded size bucket plus the tag).
    pub fn body_len(&self) -> usize {
        self.body.len()
    }

    /// The envelope (type `0x91`) for the device at `index` of the manifest.
    pub fn envelope(&self, index: usize) -> Option<Vec<u8>> {
        let key_message = self.key_messages.get(index)?;
        Some(FanOutEnvelope::encode(key_message, self.body))
    }

    /// The envelope for `device`, if the manifest names it (same incarnation).
    pub fn envelope_for(&self, device: &DeviceRef) -> Option<Vec<u8>> {
        let index = self.manifest.iter().position(|d| d == device)?;
        self.envelope(index)
    }

    /// Every device with its envelope, in order.
    pub fn split(&self) -> Vec<(DeviceRef, Vec<u8>)> {
        self.manifest
            .iter()
            .enumerate()
            .filter_map(|(i, d)| self.envelope(i).map(|e| (d.clone(), e)))
            .collect()
    }

    /// Encodes entries (already sorted and checked) and a body.
    pub(crate) fn encode<'b>(
        entries: impl ExactSizeIterator<Item = (&'b DeviceRef, &'b [u8])>,
        body: &[u8],
    ) -> Vec<u8> {
        let count = u16::try_from(entries.len()).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(4 + body.len() + entries.len() * 256);
        out.push(WIRE_VERSION);
        out.push(TYPE_FANOUT_MESSAGE);
        out.extend_from_slice(&count.to_be_bytes());
        for (device, key_message) in entries {
            device.encode(&mut out);
            out.extend_from_slice(&key_len_u16(key_message.len()).to_be_bytes());
            out.extend_from_slice(key_message);
        }
        out.extend_from_slice(body);
        out
    }
}

/// The relay's answer to a fan-out whose manifest does not match the device lists it stores
/// (type `0x93`, SPEC.md §19.6): devices **missing** from the manifest, **extra** devices it
/// names that no list carries, and **stale** ones (a device id listed now with a higher
/// incarnation). A hint only: the sender drops extra and stale devices and adds a missing one
/// only if a device list it holds, signed by the user key, carries it
/// ([`crate::Device::apply_mismatch`]).
///
/// Each set is strictly ascending by `(user_id, device_id)` and at most
/// [`MAX_FANOUT_DEVICES`] long; a device id in `extra` is in neither `stale` nor, at the same
/// incarnation, `missing`; one in `stale` is in `missing` only at a higher incarnation; at
/// least one set is non-empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MismatchAnswer {
    missing: Vec<DeviceRef>,
    extra: Vec<DeviceRef>,
    stale: Vec<DeviceRef>,
}

impl MismatchAnswer {
    /// Builds an answer from three sets, sorting each.
    ///
    /// # Errors
    /// The [`DecodeError`] that decoding its encoding would give: `InvalidField` with
    /// `"missing_count"`, `"extra_count"` or `"stale_count"` past [`MAX_FANOUT_DEVICES`],
    /// `"order"` for a device id twice in one set, `"conflict"` for sets that contradict each
    /// other (SPEC.md §19.6.1), `"empty"` for three empty sets.
    pub fn new(
        mut missing: Vec<DeviceRef>,
        mut extra: Vec<DeviceRef>,
        mut stale: Vec<DeviceRef>,
    ) -> Result<Self, DecodeError> {
        for (set, field) in [
            (&mut missing, "missing_count"),
            (&mut extra, "extra_count"),
            (&mut stale, "stale_count"),
        ] {
            if set.len() > MAX_FANOUT_DEVICES {
                return Err(DecodeError::InvalidField { field });
            }
            set.sort();
            check_order(set)?;
        }
        let answer = MismatchAnswer {
            missing,
            extra,
            stale,
        };
        answer.check_sets()?;
        Ok(answer)
    }

    /// Decodes strictly (SPEC.md §19.6.1).
    ///
    /// # Errors
    /// [`DecodeError`]: the header checks (maximum [`MAX_MISMATCH_ANSWER_LEN`]),
    /// `InvalidField` with `"missing_count"`, `"extra_count"`, `"stale_count"`, `"user_id"`,
    /// `"order"`, `"conflict"`, `"empty"`; `Truncated`, `TrailingBytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(
            &mut r,
            bytes.len(),
            TYPE_FANOUT_MISMATCH,
            MAX_MISMATCH_ANSWER_LEN,
        )?;
        let mut sets: [Vec<DeviceRef>; 3] = Default::default();
        for (set, field) in sets
            .iter_mut()
            .zip(["missing_count", "extra_count", "stale_count"])
        {
            let count = usize::from(u16::from_be_bytes(r.array::<2>()?));
            if count > MAX_FANOUT_DEVICES {
                return Err(DecodeError::InvalidField { field });
            }
            for _ in 0..count {
                set.push(DeviceRef::decode(&mut r)?);
            }
            check_order(set)?;
        }
        r.finish()?;
        let [missing, extra, stale] = sets;
        let answer = MismatchAnswer {
            missing,
            extra,
            stale,
        };
        answer.check_sets()?;
        Ok(answer)
    }

    /// The encoding (type `0x93`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(WIRE_VERSION);
        out.push(TYPE_FANOUT_MISMATCH);
        for set in [&self.missing, &self.extra, &self.stale] {
            let count = u16::try_from(set.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            for device in set {
                device.encode(&mut out);
            }
        }
        out
    }

    /// Devices the lists carry and the manifest lacks.
    pub fn missing(&self) -> &[DeviceRef] {
        &self.missing
    }

    /// Devices of the manifest no list carries.
    pub fn extra(&self) -> &[DeviceRef] {
        &self.extra
    }

    /// Devices of the manifest whose device id is listed with a higher incarnation.
    pub fn stale(&self) -> &[DeviceRef] {
        &self.stale
    }

    /// What the relay answers (SPEC.md §19.6.2) to a fan-out with `manifest` sent by the
    /// device `sender` (its own user's other devices are expected too; the sender itself
    /// never), given the current list of each user concerned (`lists`: those of the manifest's
    /// users and of the sender's user; a user without a list has no devices). `None` when
    /// the manifest matches. Each set is cut at [`MAX_FANOUT_DEVICES`] entries.
    pub fn between(
        manifest: &[DeviceRef],
        lists: &[&DeviceList],
        sender: Option<&DeviceRef>,
    ) -> Option<MismatchAnswer> {
        let by_user: BTreeMap<&UserId, &DeviceList> =
            lists.iter().map(|l| (l.user_id(), *l)).collect();
        let mut missing = Vec::new();
        let mut extra = Vec::new();
        let mut stale = Vec::new();
        for entry in manifest {
            let listed = by_user
                .get(&entry.user_id)
                .and_then(|l| l.device(entry.device_id));
            match listed {
                Some(d) if d.incarnation() == entry.incarnation => {}
                Some(d) if d.incarnation() > entry.incarnation => stale.push(entry.clone()),
                _ => extra.push(entry.clone()),
            }
        }
        let mut users: Vec<&UserId> = manifest.iter().map(|d| &d.user_id).collect();
        if let Some(sender) = sender {
            users.push(&sender.user_id);
        }
        users.sort();
        users.dedup();
        for user in users {
            let Some(list) = by_user.get(user) else {
                continue;
            };
            for d in list.devices() {
                let is_sender =
                    sender.is_some_and(|s| &s.user_id == user && s.device_id == d.device_id());
                let wanted = DeviceRef::new(user.clone(), d.device_id(), d.incarnation());
                if !is_sender && !manifest.contains(&wanted) {
                    missing.push(wanted);
                }
            }
        }
        for set in [&mut missing, &mut extra, &mut stale] {
            set.sort();
            set.truncate(MAX_FANOUT_DEVICES);
        }
        if missing.is_empty() && extra.is_empty() && stale.is_empty() {
            return None;
        }
        // The sets built above always satisfy the checks of `new`.
        MismatchAnswer::new(missing, extra, stale).ok()
    }

    /// The cross-set rules of SPEC.md §19.6.1.
    fn check_sets(&self) -> Result<(), DecodeError> {
        if self.missing.is_empty() && self.extra.is_empty() && self.stale.is_empty() {
            return Err(DecodeError::InvalidField { field: "empty" });
        }
        let conflict = DecodeError::InvalidField { field: "conflict" };
        let find = |set: &[DeviceRef], d: &DeviceRef| {
            set.binary_search_by(|x| x.cmp_device(d))
                .ok()
                .and_then(|i| set.get(i).cloned())
        };
        for d in &self.extra {
            let missing_same =
                find(&self.missing, d).is_some_and(|m| m.incarnation == d.incarnation);
            if missing_same || find(&self.stale, d).is_some() {
                return Err(conflict);
            }
        }
        for d in &self.stale {
            if let Some(m) = find(&self.missing, d)
                && m.incarnation <= d.incarnation
            {
                return Err(conflict);
            }
        }
        Ok(())
    }
}

/// Each set strictly ascending by `(user_id, device_id)`.
fn check_order(set: &[DeviceRef]) -> Result<(), DecodeError> {
    if set
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.cmp_device(b) != Ordering::Less))
    {
        return Err(DecodeError::InvalidField { field: "order" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]

    use super::*;

    fn user(name: &str) -> UserId {
        UserId::checked(name.as_bytes()).unwrap()
    }

    #[test]
    fn limits_are_as_specified() {
        assert_eq!(MAX_FANOUT_BODY_LEN, padded_len(262_144) + 16);
        assert_eq!(MAX_FANOUT_KEY_LEN, 203);
        assert_eq!(MAX_DEVICE_REF_LEN, 137);
    }

    #[test]
    fn mismatch_round_trips_and_rejects_conflicts() {
        let a = DeviceRef::new(user("a"), 1, 1);
        let a2 = DeviceRef::new(user("a"), 1, 2);
        let b = DeviceRef::new(user("b"), 7, 3);
        let answer =
            MismatchAnswer::new(vec![a2.clone()], vec![b.clone()], vec![a.clone()]).unwrap();
        let bytes = answer.to_bytes();
        assert_eq!(MismatchAnswer::decode(&bytes).unwrap(), answer);
        assert_eq!(
            MismatchAnswer::new(vec![a.clone()], vec![], vec![a.clone()]),
            Err(DecodeError::InvalidField { field: "conflict" })
        );
        assert_eq!(
            MismatchAnswer::new(vec![a.clone()], vec![a.clone()], vec![]),
            Err(DecodeError::InvalidField { field: "conflict" })
        );
        assert_eq!(
            MismatchAnswer::new(vec![], vec![a.clone()], vec![a2.clone()]),
            Err(DecodeError::InvalidField { field: "conflict" })
        );
        // Extra at one incarnation, missing at another: the relay's list is older or newer.
        assert!(MismatchAnswer::new(vec![a.clone()], vec![a2.clone()], vec![]).is_ok());
        assert_eq!(
            MismatchAnswer::new(vec![a.clone(), a2.clone()], vec![], vec![]),
            Err(DecodeError::InvalidField { field: "order" })
        );
        assert_eq!(
            MismatchAnswer::new(vec![], vec![], vec![]),
            Err(DecodeError::InvalidField { field: "empty" })
        );
    }

    fn message(entries: &[DeviceRef], key_len: usize, body: &[u8]) -> Vec<u8> {
        let key = vec![1u8; key_len];
        FanOutMessage::encode(entries.iter().map(|d| (d, key.as_slice())), body)
    }

    #[test]
    fn limits_at_and_past_their_edge() {
        let body = vec![0u8; 160 + TAG_LEN];
        // Key message length: 4,096 decodes, 4,097 does not.
        let at = FanOutEnvelope::encode(&vec![1; MAX_FANOUT_KEY_MESSAGE_LEN], &body);
        assert!(FanOutEnvelope::decode(&at).is_ok());
        let mut past = vec![WIRE_VERSION, TYPE_FANOUT_ENVELOPE, 0x10, 0x01];
        past.extend_from_slice(&vec![1; MAX_FANOUT_KEY_MESSAGE_LEN + 1]);
        past.extend_from_slice(&body);
        assert_eq!(
            FanOutEnvelope::decode(&past).unwrap_err(),
            DecodeError::InvalidField { field: "key_len" }
        );
        // The largest envelope decodes; one byte more is too large.
        let largest = FanOutEnvelope::encode(
            &vec![1; MAX_FANOUT_KEY_MESSAGE_LEN],
            &vec![0; MAX_FANOUT_BODY_LEN],
        );
        assert_eq!(largest.len(), MAX_FANOUT_ENVELOPE_LEN);
        assert!(FanOutEnvelope::decode(&largest).is_ok());
        let mut larger = largest;
        larger.push(0);
        assert!(matches!(
            FanOutEnvelope::decode(&larger),
            Err(DecodeError::TooLarge { .. })
        ));
        // User ids of 128 bytes decode, 129 do not.
        let long = UserId::checked(&[b'u'; MAX_USER_ID_LEN]).unwrap();
        let ok = message(&[DeviceRef::new(long, 1, 1)], 10, &body);
        assert!(FanOutMessage::decode(&ok).is_ok());
        let mut bad = ok.clone();
        bad[4] = 129;
        assert_eq!(
            FanOutMessage::decode(&bad).unwrap_err(),
            DecodeError::InvalidField { field: "user_id" }
        );
        // 1,024 devices decode; a count of 1,025 does not.
        let devices: Vec<DeviceRef> = (0..MAX_FANOUT_DEVICES as u32)
            .map(|i| DeviceRef::new(user("a"), i, 1))
            .collect();
        let full = message(&devices, 1, &body);
        let decoded = FanOutMessage::decode(&full).unwrap();
        assert_eq!(decoded.manifest().len(), MAX_FANOUT_DEVICES);
        assert_eq!(decoded.split().len(), MAX_FANOUT_DEVICES);
        let mut over = full;
        over[2..4].copy_from_slice(&1025u16.to_be_bytes());
        assert_eq!(
            FanOutMessage::decode(&over).unwrap_err(),
            DecodeError::InvalidField {
                field: "device_count"
            }
        );
        // Answers: 1,024 references per set build and decode, 1,025 do not.
        let answer = MismatchAnswer::new(devices.clone(), vec![], vec![]).unwrap();
        assert_eq!(MismatchAnswer::decode(&answer.to_bytes()).unwrap(), answer);
        let mut more = devices;
        more.push(DeviceRef::new(user("b"), 1, 1));
        assert_eq!(
            MismatchAnswer::new(vec![], more, vec![]),
            Err(DecodeError::InvalidField {
                field: "extra_count"
            })
        );
        // The largest answer is exactly its maximum.
        let long = UserId::checked(&[b'u'; MAX_USER_ID_LEN]).unwrap();
        let set = |offset: u32| -> Vec<DeviceRef> {
            (0..MAX_FANOUT_DEVICES as u32)
                .map(|i| DeviceRef::new(long.clone(), offset + i, 1))
                .collect()
        };
        let largest = MismatchAnswer::new(set(0), set(2000), set(4000)).unwrap();
        assert_eq!(largest.to_bytes().len(), MAX_MISMATCH_ANSWER_LEN);
        assert!(MismatchAnswer::decode(&largest.to_bytes()).is_ok());
    }

    #[test]
    fn key_part_round_trips_and_is_strict() {
        let part = KeyPart {
            message_key: Zeroizing::new([7; 32]),
            body_digest: [8; 32],
            sender_user: Some((user("alice"), [9; 8])),
        };
        let bytes = part.encode();
        assert_eq!(bytes.len(), FANOUT_KEY_BASE_LEN + 5 + 8);
        let back = KeyPart::decode(&bytes).unwrap();
        assert_eq!(*back.message_key, [7; 32]);
        assert_eq!(back.sender_user, Some((user("alice"), [9; 8])));
        let mut trailing = bytes.to_vec();
        trailing.push(0);
        assert_eq!(
            KeyPart::decode(&trailing).unwrap_err(),
            DecodeError::TrailingBytes { count: 1 }
        );
        let none = KeyPart {
            message_key: Zeroizing::new([7; 32]),
            body_digest: [8; 32],
            sender_user: None,
        };
        assert_eq!(none.encode().len(), FANOUT_KEY_BASE_LEN);
        let long = KeyPart {
            message_key: Zeroizing::new([7; 32]),
            body_digest: [8; 32],
            sender_user: Some((UserId::checked(&[b'u'; MAX_USER_ID_LEN]).unwrap(), [0; 8])),
        };
        assert_eq!(long.encode().len(), MAX_FANOUT_KEY_LEN);
        let mut bad = none.encode().to_vec();
        bad[66] = 129;
        assert_eq!(
            KeyPart::decode(&bad).unwrap_err(),
            DecodeError::InvalidField { field: "user_id" }
        );
    }
}
