//! The device's view of users with several devices (SPEC.md §19.3, §19.4, §19.7): this
//! device's own user (its user key, if it holds it, and its own list), the device lists it
//! holds for other users, and the devices removed from those lists whose sessions stay
//! decrypt-only for a window.
//!
//! The identity book records a multi-device user under its **user key**: the safety number,
//! the QR payload and the verification state are those of the user key, so adding or removing
//! a device changes none of them. A list signed by another user key than the one recorded is
//! an identity change ([`Event::IdentityChanged`]), and while it is not accepted nothing is
//! encrypted to the user's devices.

use std::collections::BTreeMap;

use rand_core::CryptoRng;

use super::Device;
use super::device_list::{
    DeviceEntry, DeviceList, DeviceListError, DeviceListHash, Tombstone, UserKey, UserSigningKey,
};
use crate::event::Event;
use crate::keys::IdentityKey;
use crate::time::Timestamp;
use crate::verify::{SafetyNumber, UserId, VerificationState};

/// How long a removed device's sessions stay decrypt-only by default: 7 days, so messages it
/// sent just before its removal still read. Change it with
/// [`Device::set_removed_device_window`].
pub const REMOVED_DEVICE_WINDOW_SECS: u64 = 7 * 24 * 60 * 60;

/// Most users (own user included) whose device list a device holds: one per contact, like
/// the identity book ([`crate::verify::MAX_IDENTITY_RECORDS`]).
pub const MAX_HELD_DEVICE_LISTS: usize = crate::verify::MAX_IDENTITY_RECORDS;

/// This device's own user: its id, this device's id within it, and the user key if this
/// device holds it (the device that created the user does; others only read the list).
#[derive(Clone)]
pub(crate) struct OwnUser {
    pub(crate) user_id: UserId,
    pub(crate) device_id: u32,
    pub(crate) signing: Option<UserSigningKey>,
}

/// A device removed from a held list: decrypt-only until `removed_at + window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RemovedDevice {
    /// When this device learned of the removal (its own clock).
    pub(crate) removed_at: Timestamp,
}

/// Everything multi-device a [`Device`] holds.
#[derive(Clone)]
pub(crate) struct UserDevices {
    pub(crate) own: Option<OwnUser>,
    /// The current list of each user (own user included), by user id.
    pub(crate) lists: BTreeMap<UserId, DeviceList>,
    /// Devices removed from a held list whose sessions are still decrypt-only.
    pub(crate) removed: BTreeMap<IdentityKey, RemovedDevice>,
    pub(crate) window_secs: u64,
}

impl Default for UserDevices {
    fn default() -> Self {
        UserDevices {
            own: None,
            lists: BTreeMap::new(),
            removed: BTreeMap::new(),
            window_secs: REMOVED_DEVICE_WINDOW_SECS,
        }
    }
}

/// What accepting a device list changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceListAccepted {
    /// Events to show: [`Event::IdentityChanged`] when the list is signed by another user key
    /// than the one recorded.
    pub events: Vec<Event>,
    /// Devices listed now that the previous list did not carry.
    pub added: Vec<DeviceEntry>,
    /// Devices the previous list carried that are gone: their sessions are decrypt-only for
    /// the removal window, then erased by [`Device::expire_removed_devices`].
    pub removed: Vec<DeviceEntry>,
}

/// One device a message goes to: its user, its id and incarnation in the user's list, and
/// its identity key (which its 1:1 session is with).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeviceAddress {
    /// The device's user.
    pub user_id: UserId,
    /// Its id within the user.
    pub device_id: u32,
    /// Its incarnation.
    pub incarnation: u32,
    /// Its identity key.
    pub identity_key: IdentityKey,
}

impl DeviceAddress {
    pub(crate) fn of(user_id: &UserId, entry: &DeviceEntry) -> Self {
        DeviceAddress {
            user_id: user_id.clone(),
            device_id: entry.device_id(),
            incarnation: entry.incarnation(),
            identity_key: *entry.identity_key(),
        }
    }
}

/// The devices of `old` that `new` no longer carries live (same id, incarnation and key).
fn gone(old: &DeviceList, new: &DeviceList) -> Vec<DeviceEntry> {
    old.devices()
        .iter()
        .filter(|d| new.device_with_key(d.identity_key()).is_none())
        .copied()
        .collect()
}

impl Device {
    /// Makes this device the first device of a new user: generates the user signing key,
    /// lists this device as `device_id` (incarnation 1) and returns list version 1 to
    /// publish. The user key stays on this device, which publishes every later list.
    ///
    /// Lists the user-devices record in [`Device::changes`]: write it before publishing.
    ///
    /// # Errors
    /// [`DeviceListError::DeviceIdTaken`] with this device's id if the device already
    /// belongs to a user. The device is unchanged on error.
    pub fn create_user<R: CryptoRng + ?Sized>(
        &mut self,
        user_id: &UserId,
        device_id: u32,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<DeviceList, DeviceListError> {
        if self.users.own.is_some() {
            return Err(DeviceListError::DeviceIdTaken { device_id });
        }
        let signing = UserSigningKey::generate(rng);
        let entry = self.device_entry(user_id, signing.public(), device_id, 1);
        let list = DeviceList::sign(&signing, user_id, 1, now, vec![entry], Vec::new())?;
        self.users.own = Some(OwnUser {
            user_id: user_id.clone(),
            device_id,
            signing: Some(signing),
        });
        self.users.lists.insert(user_id.clone(), list.clone());
        self.mark_user_devices();
        Ok(list)
    }

    /// This device's counter-signature of its own entry in `user_id`'s list under
    /// `user_key`: what a new device hands the device that holds the user key when it is
    /// linked (SPEC.md §19.8). Changes nothing.
    pub fn device_entry(
        &self,
        user_id: &UserId,
        user_key: &UserKey,
        device_id: u32,
        incarnation: u32,
    ) -> DeviceEntry {
        DeviceEntry::sign(
            self.account.identity_key_pair(),
            user_id,
            user_key,
            device_id,
            incarnation,
        )
    }

    /// Adds a device to this device's own user (this device must hold the user key) and
    /// returns the next list to publish. `entry` is the new device's counter-signature
    /// ([`Device::device_entry`]). An entry for a listed device id with a higher
    /// incarnation is a reinstall: the old incarnation gets a tombstone and its sessions
    /// become decrypt-only. Lists the user-devices record in [`Device::changes`].
    ///
    /// # Errors
    /// [`DeviceListError::NoList`] unless this device holds its user's key;
    /// [`DeviceListError::DeviceIdTaken`] for a listed device id at the same or a higher
    /// incarnation; the errors of [`DeviceList::sign`] (a bad counter-signature, more than
    /// [`super::MAX_DEVICES_PER_USER`] devices). The device is unchanged on error.
    pub fn add_own_device(
        &mut self,
        entry: DeviceEntry,
        now: Timestamp,
    ) -> Result<DeviceList, DeviceListError> {
        let current = self.own_list_for_signing()?;
        let mut devices: Vec<DeviceEntry> = current.devices().to_vec();
        let mut tombstones: Vec<Tombstone> = current.tombstones().to_vec();
        if let Some(listed) = current.device(entry.device_id()) {
            if listed.incarnation() >= entry.incarnation() {
                return Err(DeviceListError::DeviceIdTaken {
                    device_id: entry.device_id(),
                });
            }
            devices.retain(|d| d.device_id() != entry.device_id());
            tombstones.push(Tombstone::new(
                listed.device_id(),
                listed.incarnation(),
                now,
            ));
        }
        devices.push(entry);
        self.publish_own(devices, tombstones, now)
    }

    /// Removes a device of this device's own user (this device must hold the user key):
    /// the next list carries a tombstone for it. Its sessions here become decrypt-only for
    /// the removal window. Lists the user-devices record in [`Device::changes`].
    ///
    /// # Errors
    /// [`DeviceListError::NoList`] unless this device holds its user's key;
    /// [`DeviceListError::UnknownDevice`] if `device_id` is not listed, or is this device;
    /// [`DeviceListError::TooManyTombstones`] never (the oldest tombstones are dropped). The
    /// device is unchanged on error.
    pub fn remove_own_device(
        &mut self,
        device_id: u32,
        now: Timestamp,
    ) -> Result<DeviceList, DeviceListError> {
        let current = self.own_list_for_signing()?;
        let own_id = self.users.own.as_ref().map(|o| o.device_id);
        let listed = current
            .device(device_id)
            .filter(|_| own_id != Some(device_id))
            .ok_or(DeviceListError::UnknownDevice { device_id })?;
        let mut devices: Vec<DeviceEntry> = current.devices().to_vec();
        devices.retain(|d| d.device_id() != device_id);
        let mut tombstones: Vec<Tombstone> = current.tombstones().to_vec();
        tombstones.push(Tombstone::new(device_id, listed.incarnation(), now));
        self.publish_own(devices, tombstones, now)
    }

    /// The own list, when this device holds the user key to sign its successor.
    fn own_list_for_signing(&self) -> Result<DeviceList, DeviceListError> {
        let own = self.users.own.as_ref().ok_or(DeviceListError::NoList)?;
        if own.signing.is_none() {
            return Err(DeviceListError::NoList);
        }
        self.users
            .lists
            .get(&own.user_id)
            .cloned()
            .ok_or(DeviceListError::NoList)
    }

    /// Signs the own user's next list and holds it.
    fn publish_own(
        &mut self,
        devices: Vec<DeviceEntry>,
        mut tombstones: Vec<Tombstone>,
        now: Timestamp,
    ) -> Result<DeviceList, DeviceListError> {
        let own = self.users.own.as_ref().ok_or(DeviceListError::NoList)?;
        let signing = own.signing.as_ref().ok_or(DeviceListError::NoList)?;
        let current = self
            .users
            .lists
            .get(&own.user_id)
            .ok_or(DeviceListError::NoList)?;
        let version = current
            .version()
            .checked_add(1)
            .ok_or(DeviceListError::Exhausted)?;
        // Keep the newest tombstones within the limit.
        tombstones.sort_by_key(|t| core::cmp::Reverse(t.removed_at()));
        tombstones.truncate(super::MAX_TOMBSTONES);
        let next = DeviceList::sign(signing, &own.user_id, version, now, devices, tombstones)?;
        current.check_successor(&next)?;
        let removed = gone(current, &next);
        let user_id = own.user_id.clone();
        self.start_removal_windows(&removed, now);
        self.users.lists.insert(user_id, next.clone());
        self.mark_user_devices();
        Ok(next)
    }

    fn start_removal_windows(&mut self, removed: &[DeviceEntry], now: Timestamp) {
        for d in removed {
            self.users
                .removed
                .insert(*d.identity_key(), RemovedDevice { removed_at: now });
        }
    }

    /// Accepts a device list fetched for `user` (another user, or this device's own user,
    /// SPEC.md §19.4). For another user:
    ///
    /// - no key recorded for the user: the list's user key is recorded (trust on first use),
    ///   and the list held;
    /// - the recorded key is the list's user key: the list must be a valid successor of the
    ///   one held ([`DeviceList::check_successor`]);
    /// - the recorded key is a device identity key (the user was single-device) that the
    ///   list carries, counter-signed: the user key takes its place in the identity book,
    ///   keeping its verification (the verified device vouches for the user key);
    /// - any other key: an identity change, exactly as [`Device::record_identity`] with the
    ///   list's user key ([`Event::IdentityChanged`]; blocking if the user had verified).
    ///
    /// For this device's own user the list must be signed by the own user key and be a
    /// valid successor; a device that joined a user ([`Device::join_user`]) follows its user
    /// this way. Devices the previous list carried and this one does not become
    /// decrypt-only for the removal window. Lists the user-devices record (and the identity
    /// book, when it changed) in [`Device::changes`].
    ///
    /// # Errors
    /// The errors of [`DeviceList::decode`]; [`DeviceListError::OtherUser`] for another
    /// user's list; those of [`DeviceList::check_successor`]
    /// ([`DeviceListError::NotNewer`] for a replayed older list,
    /// [`DeviceListError::DroppedWithoutTombstone`]); [`DeviceListError::UserKeyChanged`]
    /// for the own user; [`DeviceListError::DeviceCount`] if the device holds
    /// [`MAX_HELD_DEVICE_LISTS`] lists already; [`DeviceListError::Identity`] if the
    /// identity book is full. The device is unchanged on every error.
    pub fn accept_device_list(
        &mut self,
        user: &UserId,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<DeviceListAccepted, DeviceListError> {
        let list = DeviceList::decode(bytes)?;
        if list.user_id() != user {
            return Err(DeviceListError::OtherUser);
        }
        let held = self.users.lists.get(user);
        if self.users.own.as_ref().is_some_and(|o| &o.user_id == user) {
            let held = held.ok_or(DeviceListError::NoList)?;
            held.check_successor(&list)?;
            return Ok(self.hold(user, list, Vec::new(), now));
        }
        if held.is_none() && self.users.lists.len() >= MAX_HELD_DEVICE_LISTS {
            return Err(DeviceListError::DeviceCount {
                count: self.users.lists.len(),
                max: MAX_HELD_DEVICE_LISTS,
            });
        }
        let user_key = *list.user_key().as_identity_key();
        let recorded = self.identities.current(user).copied();
        let events = match recorded {
            Some(key) if key == user_key => {
                if let Some(held) = held
                    && held.user_key() == list.user_key()
                {
                    held.check_successor(&list)?;
                }
                Vec::new()
            }
            Some(key) if list.device_with_key(&key).is_some() => {
                // A single-device user who created a user key: its verified device vouches.
                self.identities.carry_over(user, &key, &user_key);
                self.mark_identity_book();
                Vec::new()
            }
            _ => {
                let own = *self.account.identity_key();
                let events = self
                    .identities
                    .record(&own, user, &user_key, now)
                    .map_err(DeviceListError::Identity)?;
                self.mark_identity_book();
                events
            }
        };
        Ok(self.hold(user, list, events, now))
    }

    /// Holds `list` as `user`'s current list (checks done) and starts the removal windows.
    fn hold(
        &mut self,
        user: &UserId,
        list: DeviceList,
        events: Vec<Event>,
        now: Timestamp,
    ) -> DeviceListAccepted {
        let (added, removed) = match self.users.lists.get(user) {
            Some(old) => (gone(&list, old), gone(old, &list)),
            None => (list.devices().to_vec(), Vec::new()),
        };
        self.start_removal_windows(&removed, now);
        for d in &added {
            self.users.removed.remove(d.identity_key());
        }
        self.users.lists.insert(user.clone(), list);
        self.mark_user_devices();
        DeviceListAccepted {
            events,
            added,
            removed,
        }
    }

    /// Joins this device to a user whose list (published by the device holding the user
    /// key, after linking, SPEC.md §19.8) carries this device. Later lists of the user come
    /// in through [`Device::accept_device_list`]. Lists the user-devices record in
    /// [`Device::changes`].
    ///
    /// # Errors
    /// The errors of [`DeviceList::decode`]; [`DeviceListError::UnknownDevice`] (device id
    /// 0) if the list does not carry this device; [`DeviceListError::DeviceIdTaken`] if the
    /// device already belongs to a user. The device is unchanged on error.
    pub fn join_user(
        &mut self,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<DeviceListAccepted, DeviceListError> {
        let list = DeviceList::decode(bytes)?;
        let entry = *list
            .device_with_key(self.identity_key())
            .ok_or(DeviceListError::UnknownDevice { device_id: 0 })?;
        if let Some(own) = &self.users.own {
            return Err(DeviceListError::DeviceIdTaken {
                device_id: own.device_id,
            });
        }
        let user = list.user_id().clone();
        self.users.own = Some(OwnUser {
            user_id: user.clone(),
            device_id: entry.device_id(),
            signing: None,
        });
        self.users.lists.remove(&user);
        Ok(self.hold(&user, list, Vec::new(), now))
    }

    /// This device's own user id, if it belongs to a user.
    pub fn own_user_id(&self) -> Option<&UserId> {
        self.users.own.as_ref().map(|o| &o.user_id)
    }

    /// The user key of this device's own user, if it belongs to one.
    pub fn user_key(&self) -> Option<&UserKey> {
        let own = self.users.own.as_ref()?;
        self.users.lists.get(&own.user_id).map(DeviceList::user_key)
    }

    /// Whether this device holds its user's signing key (and so publishes its lists).
    pub fn holds_user_key(&self) -> bool {
        self.users.own.as_ref().is_some_and(|o| o.signing.is_some())
    }

    /// The current list of this device's own user.
    pub fn own_device_list(&self) -> Option<&DeviceList> {
        let own = self.users.own.as_ref()?;
        self.users.lists.get(&own.user_id)
    }

    /// The short hash of this device's own current list, which every fan-out carries.
    pub fn own_device_list_hash(&self) -> Option<DeviceListHash> {
        self.own_device_list().map(DeviceList::hash)
    }

    /// The current list held for `user` (own user included).
    pub fn device_list(&self, user: &UserId) -> Option<&DeviceList> {
        self.users.lists.get(user)
    }

    /// The devices of `user` this device encrypts to: every device of the user's current
    /// list, provided the user's key is not blocked by an unaccepted identity change. For
    /// this device's own user, its other devices (the sync copies).
    ///
    /// # Errors
    /// [`DeviceListError::NoList`] if no list is held for `user`;
    /// [`DeviceListError::IdentityChanged`] if the user's key changed since it was verified
    /// and the change was not accepted.
    pub fn devices_of(&self, user: &UserId) -> Result<Vec<DeviceAddress>, DeviceListError> {
        let list = self.users.lists.get(user).ok_or(DeviceListError::NoList)?;
        let own_user = self.users.own.as_ref().is_some_and(|o| &o.user_id == user);
        if !own_user
            && self
                .identities
                .is_blocked(list.user_key().as_identity_key())
        {
            return Err(DeviceListError::IdentityChanged);
        }
        if !own_user && self.identities.current(user) != Some(list.user_key().as_identity_key()) {
            return Err(DeviceListError::IdentityChanged);
        }
        let own_key = self.identity_key();
        Ok(list
            .devices()
            .iter()
            .filter(|d| d.identity_key() != own_key)
            .map(|d| DeviceAddress::of(user, d))
            .collect())
    }

    /// Whether `identity_key` is a device of `user` the user verified: the user's key is
    /// verified and the user's current list carries the device (SPEC.md §19.3).
    pub fn is_device_verified(&self, user: &UserId, identity_key: &IdentityKey) -> bool {
        let Some(list) = self.users.lists.get(user) else {
            return false;
        };
        let verified = matches!(
            self.identities.state(user),
            Some(VerificationState::Verified { identity_key: k, .. })
                if k == *list.user_key().as_identity_key()
        );
        verified && list.device_with_key(identity_key).is_some()
    }

    /// The safety number between this device's user and `peer` (SPEC.md §19.3): each side
    /// is named by its user key when it has one, else by its device identity key, so apps
    /// that never add a second device see the same number as before. `None` if nothing is
    /// recorded for `peer`.
    pub fn safety_number(&self, own_id: &UserId, peer: &UserId) -> Option<SafetyNumber> {
        let peer_key = self.identities.current(peer)?;
        let own_key = self
            .user_key()
            .map_or(self.identity_key(), UserKey::as_identity_key);
        Some(SafetyNumber::new(own_id, own_key, peer, peer_key))
    }

    /// Whether `identity_key` is a device removed from a held list whose sessions are still
    /// decrypt-only: [`Device::encrypt_for`] refuses it.
    pub fn is_device_removed(&self, identity_key: &IdentityKey) -> bool {
        self.users.removed.contains_key(identity_key)
    }

    /// Sets how long a removed device's sessions stay decrypt-only (default
    /// [`REMOVED_DEVICE_WINDOW_SECS`]). Lists the user-devices record in
    /// [`Device::changes`].
    pub fn set_removed_device_window(&mut self, secs: u64) {
        self.users.window_secs = secs;
        self.mark_user_devices();
    }

    /// The removal window in seconds.
    pub fn removed_device_window(&self) -> u64 {
        self.users.window_secs
    }

    /// Erases the sessions of removed devices whose window ended at or before `now`
    /// ([`Device::forget_peer`]); returns their identity keys. Call it now and then (at
    /// start-up, daily). Lists the changed records in [`Device::changes`].
    pub fn expire_removed_devices(&mut self, now: Timestamp) -> Vec<IdentityKey> {
        let window = self.users.window_secs;
        let expired: Vec<IdentityKey> = self
            .users
            .removed
            .iter()
            .filter(|(_, r)| r.removed_at.plus_secs(window) <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in &expired {
            self.users.removed.remove(key);
            self.forget_peer(key);
        }
        if !expired.is_empty() {
            self.mark_user_devices();
        }
        expired
    }
}
