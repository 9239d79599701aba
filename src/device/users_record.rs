//! The user-devices record of a [`Device`] (SPEC.md §19.9): the own user (with the user
//! signing key's seed on the device that holds it), the device lists held, the removed
//! devices and the removal window. A record of its own, so the account blob and the other
//! records keep their format: a device that never met a second device has no such record,
//! and every blob written before it restores as it did.

use std::collections::BTreeMap;

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use super::Device;
use super::device_list::{DeviceList, UserSigningKey};
use super::users::{MAX_HELD_DEVICE_LISTS, OwnUser, RemovedDevice, UserDevices};
use crate::ids::UserId;
use crate::keys::IdentityKey;
use crate::persist::{
    Binding, BlobLabel, Expected, RestoreError, Secret32, StateType, StorageKey, decode_exact,
    restore_state, seal_state, within_limit,
};
use crate::time::Timestamp;

/// Most removed devices held in their decrypt-only window: every device of every held list
/// could have been removed once.
pub const MAX_REMOVED_DEVICES: usize = 65_536;

/// This device's own user, version 1.
#[derive(Serialize, Deserialize)]
struct OwnUserV1 {
    user_id: Vec<u8>,
    device_id: u32,
    /// The user signing key's seed, on the device that holds it.
    user_key_seed: Option<Secret32>,
}

/// The user-devices record (type tag 7, SPEC.md §19.9), from state format version 2 on.
#[derive(Serialize, Deserialize)]
struct UserDevicesV1 {
    own: Option<OwnUserV1>,
    /// Each held list as encoded (§19.2.1), by increasing user id.
    lists: Vec<Vec<u8>>,
    /// Removed devices: identity key and when the removal was learned, by increasing key.
    removed: Vec<([u8; 32], u64)>,
    window_secs: u64,
}

impl Device {
    /// Exports the user-devices record (SPEC.md §19.9), bound to this device's identity key.
    /// Write it whenever [`Device::changes`] lists `user_devices`, in either persistence
    /// style: the account blob ([`Device::to_encrypted`]) does not hold it.
    pub fn user_devices_to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        let u = &self.users;
        let record = UserDevicesV1 {
            own: u.own.as_ref().map(|o| OwnUserV1 {
                user_id: o.user_id.as_bytes().to_vec(),
                device_id: o.device_id,
                user_key_seed: o.signing.as_ref().map(UserSigningKey::dangerous_to_seed),
            }),
            lists: u.lists.values().map(DeviceList::to_bytes).collect(),
            removed: u
                .removed
                .iter()
                .map(|(k, r)| (k.to_bytes(), r.removed_at.as_unix_secs()))
                .collect(),
            window_secs: u.window_secs,
        };
        seal_state(
            &record,
            StateType::UserDevices,
            &Binding::account(self.identity_key()),
            &BlobLabel::default(),
            generation,
            key,
            rng,
        )
    }

    /// Loads the user-devices record written by [`Device::user_devices_to_encrypted`],
    /// replacing what the device holds about users with several devices. Every list is
    /// decoded and its signatures checked again, and the limits of SPEC.md §19.9 enforced.
    ///
    /// # Errors
    /// [`RestoreError`] as for [`Device::from_encrypted`]; [`RestoreError::Corrupt`] for a
    /// list that does not decode, lists out of order or repeated, an own user whose list is
    /// not held or whose seed does not give the list's user key;
    /// [`RestoreError::LimitExceeded`] past [`MAX_HELD_DEVICE_LISTS`] or
    /// [`MAX_REMOVED_DEVICES`]. The device is unchanged on error.
    pub fn load_user_devices(
        &mut self,
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
    ) -> Result<(), RestoreError> {
        let own = *self.identity_key();
        let users = restore_state(
            bytes,
            StateType::UserDevices,
            key,
            min_generation,
            &Expected::identity(&own),
            user_devices_from,
            |_| Binding::account(&own),
        )?;
        self.users = users;
        Ok(())
    }
}

fn user_devices_from(version: u16, bytes: &[u8]) -> Result<UserDevices, RestoreError> {
    super::records::since_version_2(version)?;
    let record: UserDevicesV1 = decode_exact(bytes)?;
    within_limit(
        "MAX_HELD_DEVICE_LISTS",
        record.lists.len(),
        MAX_HELD_DEVICE_LISTS,
    )?;
    within_limit(
        "MAX_REMOVED_DEVICES",
        record.removed.len(),
        MAX_REMOVED_DEVICES,
    )?;
    let mut lists = BTreeMap::new();
    for bytes in &record.lists {
        let list = DeviceList::decode(bytes).map_err(|_| RestoreError::Corrupt)?;
        if lists
            .last_key_value()
            .is_some_and(|(k, _)| k >= list.user_id())
        {
            return Err(RestoreError::Corrupt);
        }
        lists.insert(list.user_id().clone(), list);
    }
    let mut removed = BTreeMap::new();
    for (bytes, at) in &record.removed {
        let key = IdentityKey::from_stored_bytes(bytes).map_err(|_| RestoreError::Corrupt)?;
        if removed.last_key_value().is_some_and(|(k, _)| k >= &key) {
            return Err(RestoreError::Corrupt);
        }
        removed.insert(
            key,
            RemovedDevice {
                removed_at: Timestamp::from_unix_secs(*at),
            },
        );
    }
    let own = match record.own {
        None => None,
        Some(o) => {
            let user_id = UserId::checked(&o.user_id).ok_or(RestoreError::Corrupt)?;
            let list = lists.get(&user_id).ok_or(RestoreError::Corrupt)?;
            let signing = o
                .user_key_seed
                .as_ref()
                .map(|seed| UserSigningKey::dangerous_from_seed(seed));
            if signing
                .as_ref()
                .is_some_and(|s| s.public() != list.user_key())
            {
                return Err(RestoreError::Corrupt);
            }
            Some(OwnUser {
                user_id,
                device_id: o.device_id,
                signing,
            })
        }
    };
    Ok(UserDevices {
        own,
        lists,
        removed,
        window_secs: record.window_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn blob(device: &Device, record: &UserDevicesV1) -> Vec<u8> {
        seal_state(
            record,
            StateType::UserDevices,
            &Binding::account(device.identity_key()),
            &BlobLabel::default(),
            1,
            &StorageKey::from_bytes([3; 32]),
            &mut chacha20::ChaCha20Rng::seed_from_u64(1),
        )
    }

    fn load(device: &mut Device, record: &UserDevicesV1) -> Result<(), RestoreError> {
        let bytes = blob(device, record);
        device.load_user_devices(&bytes, &StorageKey::from_bytes([3; 32]), 1)
    }

    fn limit(limit: &'static str, max: usize) -> RestoreError {
        RestoreError::LimitExceeded {
            limit,
            max: u64::try_from(max).unwrap(),
        }
    }

    fn empty() -> UserDevicesV1 {
        UserDevicesV1 {
            own: None,
            lists: Vec::new(),
            removed: Vec::new(),
            window_secs: 5,
        }
    }

    #[test]
    fn held_lists_at_and_past_the_limit() {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(2);
        let mut device = Device::new(Timestamp::from_unix_secs(0), &mut rng);
        // At the limit the count passes and the (empty) lists are what is refused.
        let mut record = empty();
        record.lists = vec![Vec::new(); MAX_HELD_DEVICE_LISTS];
        assert_eq!(load(&mut device, &record), Err(RestoreError::Corrupt));
        record.lists.push(Vec::new());
        assert_eq!(
            load(&mut device, &record),
            Err(limit("MAX_HELD_DEVICE_LISTS", MAX_HELD_DEVICE_LISTS))
        );
        assert_eq!(
            device.removed_device_window(),
            super::super::REMOVED_DEVICE_WINDOW_SECS
        );
    }

    #[test]
    fn removed_devices_at_and_past_the_limit() {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(3);
        let mut device = Device::new(Timestamp::from_unix_secs(0), &mut rng);
        let key = device.identity_key().to_bytes();
        let mut record = empty();
        // At the limit: the count passes; repeated keys are what is refused.
        record.removed = vec![(key, 0); MAX_REMOVED_DEVICES];
        assert_eq!(load(&mut device, &record), Err(RestoreError::Corrupt));
        record.removed.push((key, 0));
        assert_eq!(
            load(&mut device, &record),
            Err(limit("MAX_REMOVED_DEVICES", MAX_REMOVED_DEVICES))
        );
        record.removed = vec![(key, 7)];
        assert_eq!(load(&mut device, &record), Ok(()));
        assert!(device.is_device_removed(&IdentityKey::from_bytes(&key).unwrap()));
        assert_eq!(device.removed_device_window(), 5);
    }

    #[test]
    fn an_own_user_without_its_list_or_with_another_seed_is_corrupt() {
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(4);
        let mut device = Device::new(Timestamp::from_unix_secs(0), &mut rng);
        let id = UserId::checked(b"alice").unwrap();
        let list = device
            .clone()
            .create_user(&id, 1, Timestamp::from_unix_secs(0), &mut rng)
            .unwrap();
        let mut record = empty();
        record.own = Some(OwnUserV1 {
            user_id: b"alice".to_vec(),
            device_id: 1,
            user_key_seed: Some(Secret32::new([1; 32])),
        });
        assert_eq!(load(&mut device, &record), Err(RestoreError::Corrupt));
        record.lists = vec![list.to_bytes()];
        assert_eq!(load(&mut device, &record), Err(RestoreError::Corrupt));
        assert_eq!(device.user_key(), None);
    }
}
