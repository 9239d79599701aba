//! The identity book: the verification state per user (SPEC.md §15.5). The device layer
//! owns one and offers its API (`Device::record_identity` and the rest).

use std::collections::{BTreeMap, BTreeSet};

use super::{UserId, VerifyError};
use crate::event::Event;
use crate::keys::IdentityKey;
use serde::{Deserialize, Serialize};

use crate::persist::{RestoreError, within_limit};
use crate::time::Timestamp;

/// Version 1 of one user's record in the persisted account (`AccountSnapshotV1.identities`,
/// SPEC.md §15.5.4), read and written by the identity book (src/verify/state.rs).
#[derive(Serialize, Deserialize)]
pub(crate) struct IdentityRecordV1 {
    pub(crate) user_id: Vec<u8>,
    pub(crate) current: [u8; 32],
    pub(crate) seen_at: u64,
    pub(crate) verified: Option<([u8; 32], u64)>,
}

impl IdentityRecordV1 {
    /// The user id's length limit (SPEC.md §11.3).
    pub(crate) fn check_limits(&self) -> Result<(), RestoreError> {
        within_limit(
            "MAX_USER_ID_LEN",
            self.user_id.len(),
            crate::ids::MAX_USER_ID_LEN,
        )
    }
}

/// Most users a device records identities for. Each record is at most about 200 bytes
/// persisted (user id, two keys, two times), so a full book adds at most about 13 MB to the
/// device; an app that talks to more users forgets old ones (`Device::forget_identity`).
pub const MAX_IDENTITY_RECORDS: usize = 65_536;

/// What the device knows about a user's identity key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
// Returned by value from a lookup, never stored in bulk: two keys inline are fine.
#[allow(clippy::large_enum_variant)]
pub enum VerificationState {
    /// The user's key is known but was never verified (trust on first use), or a change was
    /// accepted without verifying the new key.
    Unverified {
        /// The identity key recorded for the user.
        identity_key: IdentityKey,
    },
    /// The user verified this key (safety number, QR code or short authentication string)
    /// and it is still the key recorded for the user.
    Verified {
        /// The verified identity key.
        identity_key: IdentityKey,
        /// When it was verified.
        verified_at: Timestamp,
    },
    /// The key recorded for the user is no longer the one the user verified. Until the app
    /// accepts the change ([`crate::Device::accept_identity_change`]) or the user verifies the
    /// new key ([`crate::Device::mark_verified`]), [`crate::Device::encrypt_for`] refuses the
    /// new key.
    ChangedSinceVerification {
        /// The key the user verified.
        verified_key: IdentityKey,
        /// When it was verified.
        verified_at: Timestamp,
        /// The key now recorded for the user.
        current_key: IdentityKey,
        /// When the current key was first recorded.
        changed_at: Timestamp,
    },
}

/// One user's record: the key last recorded for them, and the key they verified, if any.
#[derive(Clone, PartialEq, Eq)]
struct IdentityRecord {
    current: IdentityKey,
    /// When `current` was first recorded.
    seen_at: Timestamp,
    verified: Option<(IdentityKey, Timestamp)>,
}

impl IdentityRecord {
    /// The key this record refuses encryption to: the current key, if it is not the verified one.
    fn blocked_key(&self) -> Option<&IdentityKey> {
        match &self.verified {
            Some((verified, _)) if *verified != self.current => Some(&self.current),
            _ => None,
        }
    }

    fn state(&self) -> VerificationState {
        match self.verified {
            None => VerificationState::Unverified {
                identity_key: self.current,
            },
            Some((key, at)) if key == self.current => VerificationState::Verified {
                identity_key: key,
                verified_at: at,
            },
            Some((key, at)) => VerificationState::ChangedSinceVerification {
                verified_key: key,
                verified_at: at,
                current_key: self.current,
                changed_at: self.seen_at,
            },
        }
    }
}

/// The verification state of every user the app told the device about.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct IdentityBook {
    users: BTreeMap<UserId, IdentityRecord>,
    /// Keys refused by `Device::encrypt_for`: the current keys of users whose key changed
    /// since verification. Always recomputable from `users`.
    blocked: BTreeSet<IdentityKey>,
}

impl IdentityBook {
    /// The key recorded for `user`, if any.
    pub(crate) fn current(&self, user: &UserId) -> Option<&IdentityKey> {
        self.users.get(user).map(|r| &r.current)
    }

    pub(crate) fn is_blocked(&self, key: &IdentityKey) -> bool {
        self.blocked.contains(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }

    /// The identity key recorded now for each user.
    pub(crate) fn current_keys(&self) -> impl Iterator<Item = IdentityKey> + '_ {
        self.users.values().map(|r| r.current)
    }

    /// Every identity key a user verified, whether or not it is still the user's current
    /// key: such peers are never evicted (SPEC.md §12.1).
    pub(crate) fn verified_keys(&self) -> BTreeSet<IdentityKey> {
        self.users
            .values()
            .filter_map(|r| r.verified.map(|(key, _)| key))
            .collect()
    }

    /// Replaces a user's record (or removes it with `None`) and keeps `blocked` in step.
    fn put(&mut self, user: &UserId, record: Option<IdentityRecord>) {
        let old_blocked = self.users.get(user).and_then(|r| r.blocked_key().copied());
        let new_blocked = record.as_ref().and_then(|r| r.blocked_key().copied());
        match record {
            Some(record) => {
                self.users.insert(user.clone(), record);
            }
            None => {
                self.users.remove(user);
            }
        }
        if let Some(key) = new_blocked {
            self.blocked.insert(key);
        }
        if let Some(key) = old_blocked
            && Some(key) != new_blocked
            && !self.users.values().any(|r| r.blocked_key() == Some(&key))
        {
            self.blocked.remove(&key);
        }
    }

    fn check_room(&self, user: &UserId) -> Result<(), VerifyError> {
        if !self.users.contains_key(user) && self.users.len() >= MAX_IDENTITY_RECORDS {
            return Err(VerifyError::TooManyIdentities {
                max: MAX_IDENTITY_RECORDS,
            });
        }
        Ok(())
    }

    pub(crate) fn to_snapshot(&self) -> Vec<IdentityRecordV1> {
        self.users
            .iter()
            .map(|(user, r)| IdentityRecordV1 {
                user_id: user.as_bytes().to_vec(),
                current: r.current.to_bytes(),
                seen_at: r.seen_at.as_unix_secs(),
                verified: r
                    .verified
                    .map(|(key, at)| (key.to_bytes(), at.as_unix_secs())),
            })
            .collect()
    }

    /// The book of `records`; `checks` says how their keys are parsed (SPEC.md §11.8).
    pub(crate) fn from_snapshot(
        records: &[IdentityRecordV1],
        checks: crate::persist::KeyChecks,
    ) -> Result<Self, RestoreError> {
        crate::persist::within_limit("MAX_IDENTITY_RECORDS", records.len(), MAX_IDENTITY_RECORDS)?;
        let key = |bytes: &[u8; 32]| checks.identity(bytes);
        let mut book = IdentityBook::default();
        for r in records {
            r.check_limits()?;
            if r.user_id.is_empty() {
                return Err(RestoreError::Corrupt);
            }
            let user = UserId::new(&r.user_id).map_err(|_| RestoreError::Corrupt)?;
            if book.users.contains_key(&user) {
                return Err(RestoreError::Corrupt);
            }
            let verified = match &r.verified {
                Some((k, at)) => Some((key(k)?, Timestamp::from_unix_secs(*at))),
                None => None,
            };
            let record = IdentityRecord {
                current: key(&r.current)?,
                seen_at: Timestamp::from_unix_secs(r.seen_at),
                verified,
            };
            book.put(&user, Some(record));
        }
        Ok(book)
    }
}

/// The operations behind the device's verification API (`Device::record_identity` and the
/// rest, src/device/verification.rs); `own` is the device's own identity key, never recorded.
impl IdentityBook {
    pub(crate) fn record(
        &mut self,
        own: &IdentityKey,
        user: &UserId,
        identity_key: &IdentityKey,
        now: Timestamp,
    ) -> Result<Vec<Event>, VerifyError> {
        if identity_key == own {
            return Err(VerifyError::OwnIdentity);
        }
        let Some(old) = self.users.get(user).cloned() else {
            self.check_room(user)?;
            self.put(
                user,
                Some(IdentityRecord {
                    current: *identity_key,
                    seen_at: now,
                    verified: None,
                }),
            );
            return Ok(Vec::new());
        };
        if old.current == *identity_key {
            return Ok(Vec::new());
        }
        let back_to_verified = old.verified.is_some_and(|(k, _)| k == *identity_key);
        let was_verified = old.verified.is_some();
        self.put(
            user,
            Some(IdentityRecord {
                current: *identity_key,
                seen_at: now,
                verified: old.verified,
            }),
        );
        if back_to_verified {
            return Ok(Vec::new());
        }
        Ok(vec![Event::IdentityChanged {
            user_id: user.clone(),
            was_verified,
        }])
    }

    /// Moves `user`'s record from `from` to `to`, keeping its verification when `from` was
    /// the verified key: a single-device user whose verified device key vouched for its new
    /// user key (SPEC.md §19.3). Does nothing unless `from` is the user's current key.
    pub(crate) fn carry_over(&mut self, user: &UserId, from: &IdentityKey, to: &IdentityKey) {
        let Some(old) = self.users.get(user).cloned() else {
            return;
        };
        if old.current != *from {
            return;
        }
        let verified = old
            .verified
            .map(|(key, at)| if key == *from { (*to, at) } else { (key, at) });
        self.put(
            user,
            Some(IdentityRecord {
                current: *to,
                seen_at: old.seen_at,
                verified,
            }),
        );
    }

    pub(crate) fn mark_verified(
        &mut self,
        own: &IdentityKey,
        user: &UserId,
        identity_key: &IdentityKey,
        now: Timestamp,
    ) -> Result<(), VerifyError> {
        if identity_key == own {
            return Err(VerifyError::OwnIdentity);
        }
        let seen_at = match self.users.get(user) {
            Some(r) if r.current != *identity_key => return Err(VerifyError::IdentityMismatch),
            Some(r) => r.seen_at,
            None => {
                self.check_room(user)?;
                now
            }
        };
        self.put(
            user,
            Some(IdentityRecord {
                current: *identity_key,
                seen_at,
                verified: Some((*identity_key, now)),
            }),
        );
        Ok(())
    }

    pub(crate) fn accept_change(
        &mut self,
        user: &UserId,
        identity_key: &IdentityKey,
    ) -> Result<(), VerifyError> {
        let record = self.users.get(user).ok_or(VerifyError::UnknownUser)?;
        if record.current != *identity_key {
            return Err(VerifyError::IdentityMismatch);
        }
        if record.blocked_key().is_none() {
            return Ok(());
        }
        let accepted = IdentityRecord {
            verified: None,
            ..record.clone()
        };
        self.put(user, Some(accepted));
        Ok(())
    }

    pub(crate) fn clear_verification(&mut self, user: &UserId) -> bool {
        match self.users.get(user) {
            Some(record) if record.verified.is_some() => {
                let cleared = IdentityRecord {
                    verified: None,
                    ..record.clone()
                };
                self.put(user, Some(cleared));
                true
            }
            _ => false,
        }
    }

    pub(crate) fn forget(&mut self, user: &UserId) -> bool {
        let held = self.users.contains_key(user);
        self.put(user, None);
        held
    }

    pub(crate) fn state(&self, user: &UserId) -> Option<VerificationState> {
        self.users.get(user).map(IdentityRecord::state)
    }

    pub(crate) fn users_with(&self, identity_key: &IdentityKey) -> Vec<UserId> {
        self.users
            .iter()
            .filter(|(_, r)| r.current == *identity_key)
            .map(|(user, _)| user.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentityKeyPair;
    use crate::verify::MAX_USER_ID_LEN;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_unix_secs(s)
    }

    #[test]
    fn records_at_and_past_the_limit() {
        let mut rng = ChaCha20Rng::seed_from_u64(810);
        let own = *IdentityKeyPair::generate(&mut rng).public();
        let mut book = IdentityBook::default();
        let key = *IdentityKeyPair::generate(&mut rng).public();
        for i in 0..MAX_IDENTITY_RECORDS as u32 {
            let user = UserId::new(&i.to_be_bytes()).unwrap();
            assert_eq!(book.record(&own, &user, &key, t(2)), Ok(vec![]));
        }
        assert_eq!(book.len(), MAX_IDENTITY_RECORDS);
        let extra = UserId::new(b"one too many").unwrap();
        let before = book.clone();
        assert_eq!(
            book.record(&own, &extra, &key, t(3)),
            Err(VerifyError::TooManyIdentities {
                max: MAX_IDENTITY_RECORDS
            })
        );
        assert_eq!(
            book.mark_verified(&own, &extra, &key, t(3)),
            Err(VerifyError::TooManyIdentities {
                max: MAX_IDENTITY_RECORDS
            })
        );
        assert!(book == before);
        // Users already held can still be updated and verified when full.
        let first = UserId::new(&0u32.to_be_bytes()).unwrap();
        book.mark_verified(&own, &first, &key, t(4)).unwrap();
        // A snapshot with one record more than a full book is refused before any key is
        // parsed (restoring a full book parses 65,536 keys, about 3 s: not done here; the
        // round trip is tested on small books).
        let mut snapshot = book.to_snapshot();
        assert_eq!(snapshot.len(), MAX_IDENTITY_RECORDS);
        snapshot.push(IdentityRecordV1 {
            user_id: b"one too many".to_vec(),
            current: key.to_bytes(),
            seen_at: 1,
            verified: None,
        });
        assert_eq!(
            IdentityBook::from_snapshot(&snapshot, crate::persist::KeyChecks::Full).err(),
            Some(RestoreError::LimitExceeded {
                limit: "MAX_IDENTITY_RECORDS",
                max: MAX_IDENTITY_RECORDS as u64
            })
        );
        assert!(book.forget(&first));
        book.record(&own, &extra, &key, t(5)).unwrap();
    }

    #[test]
    fn blocked_set_follows_every_record_that_blocks_a_key() {
        let mut rng = ChaCha20Rng::seed_from_u64(811);
        let own = *IdentityKeyPair::generate(&mut rng).public();
        let mut book = IdentityBook::default();
        let k1 = *IdentityKeyPair::generate(&mut rng).public();
        let k2 = *IdentityKeyPair::generate(&mut rng).public();
        let (a, b) = (UserId::new(b"a").unwrap(), UserId::new(b"b").unwrap());
        for user in [&a, &b] {
            book.mark_verified(&own, user, &k1, t(2)).unwrap();
            book.record(&own, user, &k2, t(3)).unwrap();
        }
        assert!(book.is_blocked(&k2));
        book.accept_change(&a, &k2).unwrap();
        assert!(book.is_blocked(&k2), "b still blocks k2");
        assert!(book.forget(&b));
        assert!(!book.is_blocked(&k2));
    }

    #[test]
    fn snapshot_rejects_invalid_records() {
        let good = |user: &[u8], current: [u8; 32]| IdentityRecordV1 {
            user_id: user.to_vec(),
            current,
            seen_at: 1,
            verified: None,
        };
        let mut rng = ChaCha20Rng::seed_from_u64(812);
        let key = IdentityKeyPair::generate(&mut rng).public().to_bytes();
        assert!(
            IdentityBook::from_snapshot(&[good(b"u", key)], crate::persist::KeyChecks::Full)
                .is_ok()
        );
        assert!(
            IdentityBook::from_snapshot(
                &[good(&[0; MAX_USER_ID_LEN], key)],
                crate::persist::KeyChecks::Full
            )
            .is_ok()
        );
        assert_eq!(
            IdentityBook::from_snapshot(
                &[good(&[0; MAX_USER_ID_LEN + 1], key)],
                crate::persist::KeyChecks::Full
            )
            .err(),
            Some(RestoreError::LimitExceeded {
                limit: "MAX_USER_ID_LEN",
                max: MAX_USER_ID_LEN as u64
            })
        );
        for bad in [
            vec![good(b"", key)],
            vec![good(b"u", key), good(b"u", key)],
            vec![good(b"u", [0; 32])],
            vec![IdentityRecordV1 {
                verified: Some(([0; 32], 1)),
                ..good(b"u", key)
            }],
        ] {
            assert!(matches!(
                IdentityBook::from_snapshot(&bad, crate::persist::KeyChecks::Full),
                Err(RestoreError::Corrupt)
            ));
        }
    }
}
