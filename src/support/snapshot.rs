//! Persistence of a [`VisitorIdentity`] (SPEC.md §20.6): state type tag `0x08`, the blob
//! format of SPEC.md §11, bound to the visitor's identity key.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::link::MAX_LINK_USER_ID_LEN;
use super::visitor::{LinkedAccount, VisitorIdentity, check_ttl};
use crate::account::Account;
use crate::persist::{
    Binding, BlobLabel, Expected, KeyChecks, Persist, RestoreError, STATE_FORMAT_VERSION,
    StateType, StorageKey, decode_exact, encode_wiping,
};
use crate::time::Timestamp;
use crate::verify::check_text;

/// The visitor snapshot, version 1 (SPEC.md §20.6).
#[derive(Serialize, Deserialize)]
pub(crate) struct VisitorSnapshotV1 {
    /// Seconds since the Unix epoch at creation.
    created_at: u64,
    /// The time to live.
    ttl_secs: u64,
    /// The linked account: user id and account key.
    linked: Option<(String, [u8; 32])>,
    /// The state format version the account part was written with.
    account_format: u16,
    /// The account part: an account snapshot of that format (no device state).
    account: Zeroizing<Vec<u8>>,
}

impl Persist for VisitorIdentity {
    type Snapshot = VisitorSnapshotV1;
    const STATE_TYPE: StateType = StateType::Visitor;
    const SNAPSHOT_VERSION: u16 = 1;

    fn snapshot(&self) -> VisitorSnapshotV1 {
        VisitorSnapshotV1 {
            created_at: self.created_at.as_unix_secs(),
            ttl_secs: self.ttl_secs,
            linked: self
                .linked
                .as_ref()
                .map(|l| (l.user_id.clone(), l.account_key.to_bytes())),
            account_format: STATE_FORMAT_VERSION,
            account: encode_wiping(&self.account.snapshot()),
        }
    }

    fn restore(_version: u16, snapshot: &[u8], checks: KeyChecks) -> Result<Self, RestoreError> {
        let s: VisitorSnapshotV1 = decode_exact(snapshot)?;
        check_ttl(s.ttl_secs).map_err(|_| RestoreError::LimitExceeded {
            limit: "visitor ttl",
            max: super::MAX_VISITOR_TTL_SECS,
        })?;
        if s.created_at.checked_add(s.ttl_secs).is_none() {
            return Err(RestoreError::Corrupt);
        }
        if s.account_format == 0 || s.account_format > STATE_FORMAT_VERSION {
            return Err(RestoreError::Corrupt);
        }
        let linked = match s.linked {
            None => None,
            Some((user_id, key)) => {
                check_text("user_id", &user_id, MAX_LINK_USER_ID_LEN)
                    .map_err(|_| RestoreError::Corrupt)?;
                Some(LinkedAccount {
                    user_id,
                    account_key: checks.identity(&key)?,
                })
            }
        };
        let account = <Account as Persist>::restore(s.account_format, &s.account, checks)?;
        Ok(VisitorIdentity {
            account,
            created_at: Timestamp::from_unix_secs(s.created_at),
            ttl_secs: s.ttl_secs,
            linked,
        })
    }

    fn binding(&self) -> Binding {
        Binding::account(self.identity_key())
    }
}

impl VisitorIdentity {
    /// Exports the visitor identity as an encrypted blob (state type tag `0x08`, SPEC.md
    /// §20.6), bound to its identity key: small enough for browser storage.
    pub fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        Persist::to_encrypted(self, key, generation, rng)
    }

    /// As [`VisitorIdentity::to_encrypted`], with the app's slot label bound in.
    pub fn to_encrypted_labeled<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        label: &BlobLabel,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        Persist::to_encrypted_labeled(self, key, label, generation, rng)
    }

    /// Restores a visitor identity. An expired one restores (so the widget can say why it
    /// starts over) and then refuses to encrypt.
    ///
    /// # Errors
    /// [`RestoreError`], one variant per cause; a TTL outside the limits is
    /// [`RestoreError::LimitExceeded`] (`"visitor ttl"`). Nothing changes on error.
    pub fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
        expected: &Expected,
    ) -> Result<Self, RestoreError> {
        <VisitorIdentity as Persist>::from_encrypted(bytes, key, min_generation, expected)
    }
}

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::persist::seal_state;
    use crate::support::{MAX_VISITOR_TTL_SECS, MIN_VISITOR_TTL_SECS, VisitorConfig};

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    fn blob_with_ttl(v: &VisitorIdentity, ttl_secs: u64, key: &StorageKey) -> Vec<u8> {
        let mut snapshot = v.snapshot();
        snapshot.ttl_secs = ttl_secs;
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        seal_state(
            &snapshot,
            StateType::Visitor,
            &v.binding(),
            &BlobLabel::default(),
            1,
            key,
            &mut rng,
        )
    }

    #[test]
    fn restore_enforces_the_ttl_limits_at_and_past_their_edges() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let v = VisitorIdentity::new(VisitorConfig::default(), NOW, &mut rng);
        let key = StorageKey::from_bytes([3; 32]);
        let expected = Expected::identity(v.identity_key());
        for ok in [MIN_VISITOR_TTL_SECS, MAX_VISITOR_TTL_SECS] {
            let back =
                VisitorIdentity::from_encrypted(&blob_with_ttl(&v, ok, &key), &key, 0, &expected)
                    .unwrap();
            assert_eq!(back.ttl_secs(), ok);
        }
        for bad in [0, MIN_VISITOR_TTL_SECS - 1, MAX_VISITOR_TTL_SECS + 1] {
            assert_eq!(
                VisitorIdentity::from_encrypted(&blob_with_ttl(&v, bad, &key), &key, 0, &expected)
                    .map(|_| ()),
                Err(RestoreError::LimitExceeded {
                    limit: "visitor ttl",
                    max: MAX_VISITOR_TTL_SECS
                })
            );
        }
        // An expired identity restores, then refuses to encrypt.
        let back =
            VisitorIdentity::from_encrypted(&v.to_encrypted(&key, 1, &mut rng), &key, 1, &expected)
                .unwrap();
        assert!(back.check_alive(back.expires_at()).is_err());
        // Another type's blob is refused.
        let account = v.account.to_encrypted(&key, 1, &mut rng);
        assert!(matches!(
            VisitorIdentity::from_encrypted(&account, &key, 0, &expected),
            Err(RestoreError::WrongType {
                expected: 8,
                found: 1
            })
        ));
    }
}
