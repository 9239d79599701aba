//! The account's verification state per user (SPEC.md §15.5).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{MAX_USER_ID_LEN, UserId, VerifyError};
use crate::account::Account;
use crate::event::Event;
use crate::keys::IdentityKey;
use crate::persist::RestoreError;
use crate::time::Timestamp;

/// Most users an account records identities for. Each record is at most about 200 bytes
/// persisted (user id, two keys, two times), so a full book adds at most about 13 MB to the
/// account; an app that talks to more users forgets old ones
/// ([`Account::forget_identity`]).
pub const MAX_IDENTITY_RECORDS: usize = 65_536;

/// What the account knows about a user's identity key.
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
    /// accepts the change ([`Account::accept_identity_change`]) or the user verifies the new
    /// key ([`Account::mark_verified`]), [`Account::encrypt_for`] refuses the new key.
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

/// The verification state of every user the app told the account about.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct IdentityBook {
    users: BTreeMap<UserId, IdentityRecord>,
    /// Keys refused by [`Account::encrypt_for`]: the current keys of users whose key changed
    /// since verification. Always recomputable from `users`.
    blocked: BTreeSet<IdentityKey>,
}

impl IdentityBook {
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

/// Version 1 of one user's record in the persisted account (`AccountSnapshotV1.identities`,
/// SPEC.md §15.5.4).
#[derive(Serialize, Deserialize)]
pub(crate) struct IdentityRecordV1 {
    user_id: Vec<u8>,
    current: [u8; 32],
    seen_at: u64,
    verified: Option<([u8; 32], u64)>,
}

impl IdentityRecordV1 {
    /// The user id's length limit (SPEC.md §11.3).
    pub(crate) fn check_limits(&self) -> Result<(), RestoreError> {
        crate::persist::within_limit("MAX_USER_ID_LEN", self.user_id.len(), MAX_USER_ID_LEN)
    }
}

impl Account {
    /// Tells the account which identity key `user` has now, as the app learned it (from its
    /// directory, a prekey bundle it fetched for the user, or a message that authenticated as
    /// that key). Sessions are keyed by identity key; this is the link to the app's users.
    ///
    /// - A user seen for the first time is recorded as unverified (trust on first use).
    /// - The same key again changes nothing.
    /// - Another key than before raises [`Event::IdentityChanged`] once. If the user had
    ///   verified the previous key, the state becomes
    ///   [`VerificationState::ChangedSinceVerification`] and [`Account::encrypt_for`] refuses
    ///   the new key until the app calls [`Account::accept_identity_change`] or
    ///   [`Account::mark_verified`]. Otherwise the new key simply replaces the old one.
    /// - The key the user verified, coming back after a change, restores the verified state
    ///   without an event.
    ///
    /// Persist the account afterwards.
    ///
    /// # Errors
    /// [`VerifyError::OwnIdentity`] for this account's own key;
    /// [`VerifyError::TooManyIdentities`] for a new user past [`MAX_IDENTITY_RECORDS`]. The
    /// account is unchanged on error.
    pub fn record_identity(
        &mut self,
        user: &UserId,
        identity_key: &IdentityKey,
        now: Timestamp,
    ) -> Result<Vec<Event>, VerifyError> {
        if identity_key == self.identity_key() {
            return Err(VerifyError::OwnIdentity);
        }
        let Some(old) = self.identities.users.get(user).cloned() else {
            self.identities.check_room(user)?;
            self.identities.put(
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
        self.identities.put(
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

    /// Marks `identity_key` as verified for `user`, after the users compared the safety number
    /// (or scanned its QR code, or compared a short authentication string). Records the user
    /// if it is new. Verifying the new key of a user whose key changed ends the refusal.
    ///
    /// # Errors
    /// [`VerifyError::IdentityMismatch`] if another key is recorded for the user (record the
    /// new key first: the comparison must be of the key the account will encrypt to);
    /// [`VerifyError::OwnIdentity`]; [`VerifyError::TooManyIdentities`] for a new user past
    /// [`MAX_IDENTITY_RECORDS`]. The account is unchanged on error.
    pub fn mark_verified(
        &mut self,
        user: &UserId,
        identity_key: &IdentityKey,
        now: Timestamp,
    ) -> Result<(), VerifyError> {
        if identity_key == self.identity_key() {
            return Err(VerifyError::OwnIdentity);
        }
        let seen_at = match self.identities.users.get(user) {
            Some(r) if r.current != *identity_key => return Err(VerifyError::IdentityMismatch),
            Some(r) => r.seen_at,
            None => {
                self.identities.check_room(user)?;
                now
            }
        };
        self.identities.put(
            user,
            Some(IdentityRecord {
                current: *identity_key,
                seen_at,
                verified: Some((*identity_key, now)),
            }),
        );
        Ok(())
    }

    /// Accepts the new key of a user whose key changed since verification, without verifying
    /// it: the user becomes [`VerificationState::Unverified`] with that key, and
    /// [`Account::encrypt_for`] encrypts to it again. Does nothing if the key did not change.
    ///
    /// `identity_key` must be the key the user was shown, so a further change in between is
    /// not accepted by accident.
    ///
    /// # Errors
    /// [`VerifyError::UnknownUser`] if nothing is recorded for `user`;
    /// [`VerifyError::IdentityMismatch`] if `identity_key` is not the key now recorded. The
    /// account is unchanged on error.
    pub fn accept_identity_change(
        &mut self,
        user: &UserId,
        identity_key: &IdentityKey,
    ) -> Result<(), VerifyError> {
        let record = self
            .identities
            .users
            .get(user)
            .ok_or(VerifyError::UnknownUser)?;
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
        self.identities.put(user, Some(accepted));
        Ok(())
    }

    /// Drops the user's verification (the state becomes unverified with the current key).
    /// Returns whether the user was verified or changed since verification.
    pub fn clear_verification(&mut self, user: &UserId) -> bool {
        match self.identities.users.get(user) {
            Some(record) if record.verified.is_some() => {
                let cleared = IdentityRecord {
                    verified: None,
                    ..record.clone()
                };
                self.identities.put(user, Some(cleared));
                true
            }
            _ => false,
        }
    }

    /// Forgets everything recorded about `user`'s identity. Returns whether anything was held.
    /// Sessions are not touched (see [`Account::forget_peer`]).
    pub fn forget_identity(&mut self, user: &UserId) -> bool {
        let held = self.identities.users.contains_key(user);
        self.identities.put(user, None);
        held
    }

    /// The verification state of `user`, or `None` if nothing is recorded for it.
    pub fn verification_state(&self, user: &UserId) -> Option<VerificationState> {
        self.identities.users.get(user).map(IdentityRecord::state)
    }

    /// Whether [`Account::encrypt_for`] refuses `identity_key`: it is the new key of a user
    /// whose key changed since verification, not yet accepted.
    pub fn is_identity_blocked(&self, identity_key: &IdentityKey) -> bool {
        self.identities.is_blocked(identity_key)
    }

    /// The users whose recorded key is `identity_key`.
    pub fn users_with_identity(&self, identity_key: &IdentityKey) -> Vec<UserId> {
        self.identities
            .users
            .iter()
            .filter(|(_, r)| r.current == *identity_key)
            .map(|(user, _)| user.clone())
            .collect()
    }

    /// Number of users with a recorded identity.
    pub fn identity_record_count(&self) -> usize {
        self.identities.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentityKeyPair;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_unix_secs(s)
    }

    #[test]
    fn records_at_and_past_the_limit() {
        let mut rng = ChaCha20Rng::seed_from_u64(810);
        let mut account = Account::new(t(1), &mut rng);
        let key = *IdentityKeyPair::generate(&mut rng).public();
        for i in 0..MAX_IDENTITY_RECORDS as u32 {
            let user = UserId::new(&i.to_be_bytes()).unwrap();
            assert_eq!(account.record_identity(&user, &key, t(2)), Ok(vec![]));
        }
        assert_eq!(account.identity_record_count(), MAX_IDENTITY_RECORDS);
        let extra = UserId::new(b"one too many").unwrap();
        let before = account.identities.clone();
        assert_eq!(
            account.record_identity(&extra, &key, t(3)),
            Err(VerifyError::TooManyIdentities {
                max: MAX_IDENTITY_RECORDS
            })
        );
        assert_eq!(
            account.mark_verified(&extra, &key, t(3)),
            Err(VerifyError::TooManyIdentities {
                max: MAX_IDENTITY_RECORDS
            })
        );
        assert!(account.identities == before);
        // Users already held can still be updated and verified when full.
        let first = UserId::new(&0u32.to_be_bytes()).unwrap();
        account.mark_verified(&first, &key, t(4)).unwrap();
        // A snapshot with one record more than a full book is refused before any key is
        // parsed (restoring a full book parses 65,536 keys, about 3 s: not done here; the
        // round trip is tested on small books).
        let mut snapshot = account.identities.to_snapshot();
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
        assert!(account.forget_identity(&first));
        account.record_identity(&extra, &key, t(5)).unwrap();
    }

    #[test]
    fn blocked_set_follows_every_record_that_blocks_a_key() {
        let mut rng = ChaCha20Rng::seed_from_u64(811);
        let mut account = Account::new(t(1), &mut rng);
        let k1 = *IdentityKeyPair::generate(&mut rng).public();
        let k2 = *IdentityKeyPair::generate(&mut rng).public();
        let (a, b) = (UserId::new(b"a").unwrap(), UserId::new(b"b").unwrap());
        for user in [&a, &b] {
            account.mark_verified(user, &k1, t(2)).unwrap();
            account.record_identity(user, &k2, t(3)).unwrap();
        }
        assert!(account.is_identity_blocked(&k2));
        account.accept_identity_change(&a, &k2).unwrap();
        assert!(account.is_identity_blocked(&k2), "b still blocks k2");
        assert!(account.forget_identity(&b));
        assert!(!account.is_identity_blocked(&k2));
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
