//! A device at rest (SPEC.md §11): the account blob, with its peers, reset logs and identity
//! book in the sections an account alone leaves empty. Same type tag, format version and
//! binding as an account blob, so every account blob ever written restores as a device.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_core::CryptoRng;

use super::peers::{MAX_PEERS, MAX_SESSIONS_PER_PEER};
use super::records::{Changes, peer_snapshot};
use super::reset::MAX_RESET_LOGS;
use super::{Device, PeerRecord, ResetLog};
use crate::account::{AccountSnapshotV4, ResetLogV1, account_snapshot_from_version};
use crate::keys::IdentityKey;
use crate::persist::RestoreError;
use crate::persist::{
    Binding, BlobLabel, Expected, KeyChecks, StateType, StorageKey, restore_state, seal_state,
    within_limit,
};
use crate::time::Timestamp;
use crate::verify::IdentityRecordV1;
use crate::verify::{IdentityBook, MAX_IDENTITY_RECORDS};

/// The device's peers with the clock their records were last used on, and its reset logs.
type Sections = (
    BTreeMap<IdentityKey, PeerRecord>,
    u64,
    BTreeMap<IdentityKey, ResetLog>,
);

impl Device {
    /// The snapshot: the account's, with the device's sections filled. Only the loaded
    /// peers are in it.
    pub(super) fn snapshot(&self) -> AccountSnapshotV4 {
        let mut snapshot = AccountSnapshotV4::from_account(&self.account);
        snapshot.peers = self
            .peers
            .iter()
            .map(|(id, record)| peer_snapshot(id, record))
            .collect();
        snapshot.resets = self.resets_snapshot();
        snapshot.identities = self.identities.to_snapshot();
        snapshot
    }

    /// The reset logs, by increasing identity key bytes.
    pub(super) fn resets_snapshot(&self) -> Vec<([u8; 32], ResetLogV1)> {
        self.resets
            .iter()
            .map(|(id, log)| {
                (
                    id.to_bytes(),
                    ResetLogV1 {
                        last_requested: log.last_requested.map(Timestamp::as_unix_secs),
                        last_answered: log.last_answered.map(Timestamp::as_unix_secs),
                        newest_answered_request: log
                            .newest_answered_request
                            .map(Timestamp::as_unix_secs),
                        awaiting_new_session: log.awaiting_new_session,
                    },
                )
            })
            .collect()
    }

    /// The live device; `checks` says how identity keys are parsed (SPEC.md §11.8). Limits
    /// and parsing run in the order of SPEC.md §11.3.
    pub(crate) fn from_snapshot(
        snapshot: &AccountSnapshotV4,
        checks: KeyChecks,
    ) -> Result<Device, RestoreError> {
        snapshot.check_limits(device_limits)?;
        let (account, (peers, peer_clock, resets)) =
            snapshot.account_to_live(checks, device_sections)?;
        Ok(Device {
            account,
            peers,
            unloaded: BTreeSet::new(),
            peer_clock,
            resets,
            identities: IdentityBook::from_snapshot(&snapshot.identities, checks)?,
            changes: Changes::default(),
            users: super::users::UserDevices::default(),
        })
    }

    /// Exports the device as an encrypted blob (SPEC.md §11), bound to its identity key: the
    /// account blob, holding the peers' sessions, reset logs and identity book too. Only the
    /// loaded peers are in it: after a cold start from records ([`Device::from_records`]),
    /// load every peer first, or keep writing records ([`Device::take_changes`]).
    /// `generation` is the app's monotonic counter for this object: store the latest one
    /// outside the blob and pass it to [`Device::from_encrypted`] to detect a rolled-back
    /// copy.
    pub fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        self.to_encrypted_labeled(key, &BlobLabel::default(), generation, rng)
    }

    /// As [`Device::to_encrypted`], and binds the app's `label` for the slot into the blob
    /// (SPEC.md §11.7): restoring then needs [`Expected::with_label`].
    pub fn to_encrypted_labeled<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        label: &BlobLabel,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        seal_state(
            &self.snapshot(),
            StateType::Account,
            &Binding::account(self.identity_key()),
            label,
            generation,
            key,
            rng,
        )
    }

    /// Restores a device exported with [`Device::to_encrypted`] or an account exported with
    /// [`crate::Account::to_encrypted`] (the same blob), rejecting blobs whose generation is
    /// below `min_generation` (pass 0 to accept any) and blobs of another object than
    /// `expected` (usually [`Expected::any`], or [`Expected::identity`] when the app keeps the
    /// identity key elsewhere; add the slot's label if it gave one).
    ///
    /// # Errors
    /// [`RestoreError`]: each cause (truncated, foreign, future version, other type, wrong key
    /// or tampered, rolled back, another object, a limit exceeded, invalid content) has its own
    /// variant. Nothing changes on error.
    pub fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
        expected: &Expected,
    ) -> Result<Device, RestoreError> {
        restore_state(
            bytes,
            StateType::Account,
            key,
            min_generation,
            expected,
            |version, bytes| {
                Device::from_snapshot(
                    &account_snapshot_from_version(version, bytes)?,
                    KeyChecks::for_blob_version(version),
                )
            },
            |d: &Device| Binding::account(d.identity_key()),
        )
    }
}

/// The counts of the device's sections and the length of each user id (SPEC.md §11.3).
pub(super) fn device_limits(snapshot: &AccountSnapshotV4) -> Result<(), RestoreError> {
    within_limit("MAX_PEERS", snapshot.peers.len(), MAX_PEERS)?;
    for peer in &snapshot.peers {
        within_limit(
            "MAX_SESSIONS_PER_PEER",
            peer.sessions.len(),
            MAX_SESSIONS_PER_PEER,
        )?;
    }
    within_limit("MAX_RESET_LOGS", snapshot.resets.len(), MAX_RESET_LOGS)?;
    within_limit(
        "MAX_IDENTITY_RECORDS",
        snapshot.identities.len(),
        MAX_IDENTITY_RECORDS,
    )?;
    snapshot
        .identities
        .iter()
        .try_for_each(IdentityRecordV1::check_limits)
}

/// The device's peers and reset logs: every record names a valid identity once, a peer holds
/// at least one session, and each of its sessions is with that peer.
pub(super) fn device_sections(
    snapshot: &AccountSnapshotV4,
    checks: KeyChecks,
) -> Result<Sections, RestoreError> {
    let mut peers = BTreeMap::new();
    let mut peer_clock = 0;
    for peer in &snapshot.peers {
        let identity = checks.identity(&peer.identity)?;
        if peer.sessions.is_empty() {
            return Err(RestoreError::Corrupt);
        }
        let mut record = PeerRecord {
            sessions: VecDeque::new(),
            last_used: peer.last_used,
        };
        peer_clock = peer_clock.max(peer.last_used);
        for s in &peer.sessions {
            let session = s.to_live(checks)?;
            if session.remote_identity() != &identity {
                return Err(RestoreError::Corrupt);
            }
            record.sessions.push_back(session);
        }
        if peers.insert(identity, record).is_some() {
            return Err(RestoreError::Corrupt);
        }
    }
    let mut resets = BTreeMap::new();
    for (id, log) in &snapshot.resets {
        let identity = checks.identity(id)?;
        let live = ResetLog {
            last_requested: log.last_requested.map(Timestamp::from_unix_secs),
            last_answered: log.last_answered.map(Timestamp::from_unix_secs),
            newest_answered_request: log.newest_answered_request.map(Timestamp::from_unix_secs),
            awaiting_new_session: log.awaiting_new_session,
        };
        if resets.insert(identity, live).is_some() {
            return Err(RestoreError::Corrupt);
        }
    }
    Ok((peers, peer_clock, resets))
}

/// Plain serde for apps that encrypt state themselves: the same `(version, snapshot)` value
/// as an [`crate::Account`]'s, with the device's sections filled.
#[cfg(feature = "serde")]
mod plain_serde {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Device;
    use crate::account::{
        AccountSnapshotV1, AccountSnapshotV2, AccountSnapshotV3, AccountSnapshotV4,
    };
    use crate::persist::{KeyChecks, STATE_FORMAT_VERSION, versioned};

    impl Serialize for Device {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            (STATE_FORMAT_VERSION, self.snapshot()).serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for Device {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let snapshot = versioned::<
                D,
                AccountSnapshotV1,
                AccountSnapshotV2,
                AccountSnapshotV3,
                AccountSnapshotV4,
            >(deserializer)?;
            Device::from_snapshot(&snapshot, KeyChecks::Full).map_err(D::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::Account;
    use crate::account::PeerRecordV3;
    use crate::session::Session;
    use crate::session::SessionSnapshotV2;

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    fn limit(limit: &'static str, max: usize) -> RestoreError {
        RestoreError::LimitExceeded {
            limit,
            max: max as u64,
        }
    }

    fn device_error(snapshot: &AccountSnapshotV4) -> Option<RestoreError> {
        Device::from_snapshot(snapshot, KeyChecks::Stored).err()
    }

    /// Bob with one session with Alice that has stored skipped keys.
    fn bob_with_session(rng: &mut ChaCha20Rng) -> (Device, Session) {
        let alice = Account::new(NOW, rng);
        let mut bob = Device::new(NOW, rng);
        bob.account_mut()
            .generate_one_time_prekeys(1, 1, NOW, rng)
            .unwrap();
        let mut s = alice
            .create_outbound_session(&bob.account().published_prekeys().take_bundle(), rng)
            .unwrap();
        let first = s.encrypt(b"1", rng).unwrap();
        let _ = bob.decrypt_from(alice.identity_key(), &first, NOW).unwrap();
        let session = bob.active_session(alice.identity_key()).unwrap().clone();
        (bob, session)
    }

    /// At the limit is `reset::tests`' device; past it is refused before any key is read.
    #[test]
    fn reset_logs_past_their_limit() {
        let mut rng = ChaCha20Rng::seed_from_u64(303);
        let device = Device::new(NOW, &mut rng);
        let mut snapshot = device.snapshot();
        let log = || ResetLogV1 {
            last_requested: None,
            last_answered: Some(NOW.as_unix_secs()),
            newest_answered_request: Some(NOW.as_unix_secs()),
            awaiting_new_session: false,
        };
        snapshot.resets = (0..=MAX_RESET_LOGS)
            .map(|n| {
                let mut id = [0u8; 32];
                id[..8].copy_from_slice(&(n as u64).to_be_bytes());
                (id, log())
            })
            .collect();
        assert_eq!(
            device_error(&snapshot),
            Some(limit("MAX_RESET_LOGS", MAX_RESET_LOGS))
        );
    }

    #[test]
    fn peers_and_sessions_per_peer_past_their_limits() {
        let mut rng = ChaCha20Rng::seed_from_u64(303);
        let (bob, session) = bob_with_session(&mut rng);
        let peer = session.remote_identity().to_bytes();
        let mut snapshot = bob.snapshot();
        snapshot.peers = vec![PeerRecordV3 {
            identity: peer,
            last_used: 1,
            sessions: (0..MAX_SESSIONS_PER_PEER)
                .map(|_| SessionSnapshotV2::from_live(&session))
                .collect(),
        }];
        assert_eq!(device_error(&snapshot), None);
        snapshot
            .peers
            .iter_mut()
            .for_each(|p| p.sessions.push(SessionSnapshotV2::from_live(&session)));
        assert_eq!(
            device_error(&snapshot),
            Some(limit("MAX_SESSIONS_PER_PEER", MAX_SESSIONS_PER_PEER))
        );
        // Refused on the count alone, before any record is parsed (the round trip of exactly
        // MAX_PEERS peers is in tests/api/peers.rs).
        let mut snapshot = bob.snapshot();
        snapshot.peers = (0..=MAX_PEERS)
            .map(|_| PeerRecordV3 {
                identity: [0; 32],
                last_used: 0,
                sessions: Vec::new(),
            })
            .collect();
        assert_eq!(device_error(&snapshot), Some(limit("MAX_PEERS", MAX_PEERS)));
    }

    /// A device without peers, reset logs or identities writes the account's blob, byte for
    /// byte; one with them restores only as a device.
    #[test]
    fn the_device_blob_is_the_account_blob() {
        let mut rng = ChaCha20Rng::seed_from_u64(307);
        let (mut bob, _) = bob_with_session(&mut rng);
        let key = StorageKey::from_bytes([9; 32]);
        let bare = Device::from_account(bob.account().clone());
        let seeded = |seed| ChaCha20Rng::seed_from_u64(seed);
        assert_eq!(
            bare.to_encrypted(&key, 3, &mut seeded(1)),
            bob.account().to_encrypted(&key, 3, &mut seeded(1))
        );
        let blob = bob.to_encrypted(&key, 3, &mut rng);
        assert_eq!(
            Account::from_encrypted(&blob, &key, 0, &Expected::any()).err(),
            Some(RestoreError::DeviceState)
        );
        let back = Device::from_encrypted(&blob, &key, 0, &Expected::any()).unwrap();
        assert_eq!(back.peers(), bob.peers());
        // An account blob restores as a device with no peers.
        let blob = bob.account().to_encrypted(&key, 3, &mut rng);
        let back = Device::from_encrypted(&blob, &key, 0, &Expected::any()).unwrap();
        assert!(back.peers().is_empty());
        // Only the identity book held is device state too.
        assert!(bob.forget_peer(&bob.peers()[0]));
        let user = crate::verify::UserId::new(b"carol").unwrap();
        let carol = *crate::keys::IdentityKeyPair::generate(&mut rng).public();
        bob.record_identity(&user, &carol, NOW).unwrap();
        let blob = bob.to_encrypted(&key, 3, &mut rng);
        assert_eq!(
            Account::from_encrypted(&blob, &key, 0, &Expected::any()).err(),
            Some(RestoreError::DeviceState)
        );
    }
}

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use crate::{Account, Device, Timestamp};

    /// The plain serde value of a device round-trips its peers; a bare account refuses it
    /// rather than drop them, and reads the value of a device without any.
    #[test]
    fn plain_serde_round_trips_a_device() {
        let now = Timestamp::from_unix_secs(1);
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut alice = Device::new(now, &mut rng);
        let bob = Device::new(now, &mut rng);
        let bundle = bob.account().published_prekeys().take_bundle();
        let _ = alice.start_session(&bundle, &mut rng).unwrap();
        let json = serde_json::to_string(&alice).unwrap();
        let back: Device = serde_json::from_str(&json).unwrap();
        assert_eq!(back.peers(), alice.peers());
        let err = serde_json::from_str::<Account>(&json).unwrap_err();
        assert!(err.to_string().contains("restore it as a Device"), "{err}");
        let json = serde_json::to_string(&bob).unwrap();
        let account: Account = serde_json::from_str(&json).unwrap();
        assert_eq!(account.identity_key(), bob.identity_key());
    }
}
