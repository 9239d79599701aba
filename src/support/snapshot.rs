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
