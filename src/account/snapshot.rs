//! The account's snapshots (versions 1 and 2, SPEC.md §11.3): plain serde structs mirroring
//! the live state, encoded with postcard, and `impl Persist for Account`. The format also
//! carries the device layer's sections (peers, reset logs, the identity book's records, whose
//! struct lives in verify), which a bare account writes empty. Live types never derive serde;
//! only these do, so no secret field is serialized by accident. Secret fields are `Zeroizing`.

use std::collections::{BTreeMap, VecDeque};

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};

use super::{Account, EnvelopeKeys, Rotating};
use crate::keys::{
    EnvelopeKeyV1, IdentityKeyPair, KemPreKeyKind, KemPreKeyV1, OneTimePreKey, SignedPreKeyV1,
};
use crate::persist::{
    Binding, BlobLabel, Expected, KeyChecks, Persist, RestoreError, STATE_FORMAT_VERSION, Secret32,
    StateType, StorageKey, decode_exact, secret, within_limit,
};
use crate::ratchet::{ConfigV1, RatchetConfig, SessionVersion, pq_config_to_live};
use crate::session::{SessionSnapshotV1, SessionSnapshotV2};
use crate::time::Timestamp;
use crate::verify::IdentityRecordV1;

/// Version 1 of the persisted [`Account`].
#[derive(Serialize, Deserialize)]
pub(crate) struct AccountSnapshotV1 {
    identity_seed: Secret32,
    signed_prekey: SignedPreKeyV1,
    retired_signed_prekeys: Vec<(SignedPreKeyV1, u64)>,
    last_resort_kem: KemPreKeyV1,
    retired_last_resort_kem: Vec<(KemPreKeyV1, u64)>,
    one_time: Vec<(u32, Secret32)>,
    one_time_kem: Vec<KemPreKeyV1>,
    next_signed_id: u32,
    next_one_time_id: u32,
    next_kem_id: u32,
    replay_records: Vec<(u32, [u8; 32])>,
    config: ConfigV1,
    /// Per peer identity key: its sessions, active first.
    pub(crate) peers: Vec<([u8; 32], Vec<SessionSnapshotV1>)>,
    /// Per peer identity key: reset bookkeeping.
    resets: Vec<([u8; 32], ResetLogV1)>,
    /// Per user id, by increasing id: the recorded identity key and its verification
    /// (SPEC.md §15.5.4).
    identities: Vec<IdentityRecordV1>,
}

/// One peer's reset bookkeeping (SPEC.md §12.4), read and written by the device layer.
#[derive(Serialize, Deserialize)]
pub(crate) struct ResetLogV1 {
    pub(crate) last_requested: Option<u64>,
    pub(crate) last_answered: Option<u64>,
    pub(crate) newest_answered_request: Option<u64>,
    pub(crate) awaiting_new_session: bool,
}

/// Version 2 of the persisted [`Account`] (format version 2, frozen): version 1 with, per
/// peer, when it was last used (for eviction, SPEC.md §12.1).
///
/// One struct holds both layers, so the blob is the one it always was: the account's fields
/// first, then the device's sections (`peers`, `resets`, `identities`), which an account
/// alone writes empty and the device layer (src/device/persist.rs) fills and reads.
#[derive(Serialize, Deserialize)]
pub(crate) struct AccountSnapshotV2 {
    identity_seed: Secret32,
    signed_prekey: SignedPreKeyV1,
    retired_signed_prekeys: Vec<(SignedPreKeyV1, u64)>,
    last_resort_kem: KemPreKeyV1,
    retired_last_resort_kem: Vec<(KemPreKeyV1, u64)>,
    one_time: Vec<(u32, Secret32)>,
    one_time_kem: Vec<KemPreKeyV1>,
    next_signed_id: u32,
    next_one_time_id: u32,
    next_kem_id: u32,
    replay_records: Vec<(u32, [u8; 32])>,
    config: ConfigV1,
    /// By increasing identity key bytes.
    pub(crate) peers: Vec<PeerRecordV2>,
    /// Per peer identity key: reset bookkeeping.
    pub(crate) resets: Vec<([u8; 32], ResetLogV1)>,
    /// Per user id, by increasing id: the recorded identity key and its verification
    /// (SPEC.md §15.5.4).
    pub(crate) identities: Vec<IdentityRecordV1>,
}

/// Version 3 of the persisted [`Account`] (format version 3): version 2 followed by the
/// envelope KEM keys of hybrid sealed envelopes (SPEC.md §13.8.2).
///
/// One struct holds both layers, so the blob is the one it always was: the account's fields
/// first, then the device's sections (`peers`, `resets`, `identities`), which an account
/// alone writes empty and the device layer (src/device/persist.rs) fills and reads.
#[derive(Serialize, Deserialize)]
pub(crate) struct AccountSnapshotV3 {
    identity_seed: Secret32,
    signed_prekey: SignedPreKeyV1,
    retired_signed_prekeys: Vec<(SignedPreKeyV1, u64)>,
    last_resort_kem: KemPreKeyV1,
    retired_last_resort_kem: Vec<(KemPreKeyV1, u64)>,
    one_time: Vec<(u32, Secret32)>,
    one_time_kem: Vec<KemPreKeyV1>,
    next_signed_id: u32,
    next_one_time_id: u32,
    next_kem_id: u32,
    replay_records: Vec<(u32, [u8; 32])>,
    config: ConfigV1,
    /// By increasing identity key bytes.
    pub(crate) peers: Vec<PeerRecordV2>,
    /// Per peer identity key: reset bookkeeping.
    pub(crate) resets: Vec<([u8; 32], ResetLogV1)>,
    /// Per user id, by increasing id: the recorded identity key and its verification
    /// (SPEC.md §15.5.4).
    pub(crate) identities: Vec<IdentityRecordV1>,
    /// The envelope KEM keys, if hybrid sealed envelopes are enabled.
    envelope_keys: Option<EnvelopeKeysV1>,
}

/// The envelope KEM keys of an account (SPEC.md §11.3, §13.8.2).
#[derive(Serialize, Deserialize)]
pub(crate) struct EnvelopeKeysV1 {
    current: EnvelopeKeyV1,
    /// Retired keys with `retired_at`, oldest first.
    retired: Vec<(EnvelopeKeyV1, u64)>,
    next_id: u32,
    refuse_classical: bool,
}

/// One peer's record (SPEC.md §12.1).
#[derive(Serialize, Deserialize)]
pub(crate) struct PeerRecordV2 {
    pub(crate) identity: [u8; 32],
    /// The device's logical clock when the record was last used.
    pub(crate) last_used: u64,
    /// Active first.
    pub(crate) sessions: Vec<SessionSnapshotV1>,
}

/// Version 1 had no recency: every peer migrates as last used at 0, so until they are used
/// again ties are broken by key bytes.
impl From<AccountSnapshotV1> for AccountSnapshotV2 {
    fn from(v1: AccountSnapshotV1) -> Self {
        AccountSnapshotV2 {
            identity_seed: v1.identity_seed,
            signed_prekey: v1.signed_prekey,
            retired_signed_prekeys: v1.retired_signed_prekeys,
            last_resort_kem: v1.last_resort_kem,
            retired_last_resort_kem: v1.retired_last_resort_kem,
            one_time: v1.one_time,
            one_time_kem: v1.one_time_kem,
            next_signed_id: v1.next_signed_id,
            next_one_time_id: v1.next_one_time_id,
            next_kem_id: v1.next_kem_id,
            replay_records: v1.replay_records,
            config: v1.config,
            peers: v1
                .peers
                .into_iter()
                .map(|(identity, sessions)| PeerRecordV2 {
                    identity,
                    last_used: 0,
                    sessions,
                })
                .collect(),
            resets: v1.resets,
            identities: v1.identities,
        }
    }
}

/// Format version 2 had no envelope keys: hybrid envelopes are off after the migration.
impl From<AccountSnapshotV2> for AccountSnapshotV3 {
    fn from(v2: AccountSnapshotV2) -> Self {
        AccountSnapshotV3 {
            identity_seed: v2.identity_seed,
            signed_prekey: v2.signed_prekey,
            retired_signed_prekeys: v2.retired_signed_prekeys,
            last_resort_kem: v2.last_resort_kem,
            retired_last_resort_kem: v2.retired_last_resort_kem,
            one_time: v2.one_time,
            one_time_kem: v2.one_time_kem,
            next_signed_id: v2.next_signed_id,
            next_one_time_id: v2.next_one_time_id,
            next_kem_id: v2.next_kem_id,
            replay_records: v2.replay_records,
            config: v2.config,
            peers: v2.peers,
            resets: v2.resets,
            identities: v2.identities,
            envelope_keys: None,
        }
    }
}

/// Version 4 of the persisted [`Account`] (format version 4): version 3 whose peers hold
/// session snapshots of version 2 (which can hold version-2 sessions, SPEC.md §5.9.7), followed
/// by the account's session defaults (the version of the sessions it starts, the ML-KEM
/// schedule of its configuration).
#[derive(Serialize, Deserialize)]
pub(crate) struct AccountSnapshotV4 {
    identity_seed: Secret32,
    signed_prekey: SignedPreKeyV1,
    retired_signed_prekeys: Vec<(SignedPreKeyV1, u64)>,
    last_resort_kem: KemPreKeyV1,
    retired_last_resort_kem: Vec<(KemPreKeyV1, u64)>,
    one_time: Vec<(u32, Secret32)>,
    one_time_kem: Vec<KemPreKeyV1>,
    next_signed_id: u32,
    next_one_time_id: u32,
    next_kem_id: u32,
    replay_records: Vec<(u32, [u8; 32])>,
    config: ConfigV1,
    /// By increasing identity key bytes.
    pub(crate) peers: Vec<PeerRecordV3>,
    /// Per peer identity key: reset bookkeeping.
    pub(crate) resets: Vec<([u8; 32], ResetLogV1)>,
    /// Per user id, by increasing id: the recorded identity key and its verification
    /// (SPEC.md §15.5.4).
    pub(crate) identities: Vec<IdentityRecordV1>,
    /// The envelope KEM keys, if hybrid sealed envelopes are enabled.
    envelope_keys: Option<EnvelopeKeysV1>,
    /// The version and ML-KEM schedule of the sessions the account starts.
    session_defaults: SessionDefaultsV1,
}

/// What an account gives the sessions it starts, beyond [`ConfigV1`] (SPEC.md §5.9.6, §5.9.7).
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionDefaultsV1 {
    /// 1 or 2 ([`SessionVersion::number`]).
    version: u8,
    kem_interval: u32,
    kem_message_bound: u32,
}

impl SessionDefaultsV1 {
    fn from_account(a: &Account) -> Self {
        SessionDefaultsV1 {
            version: a.session_version.number(),
            kem_interval: a.config.kem_interval(),
            kem_message_bound: a.config.kem_message_bound(),
        }
    }
}

/// One peer's record of format version 4: sessions of snapshot version 2.
#[derive(Serialize, Deserialize)]
pub(crate) struct PeerRecordV3 {
    pub(crate) identity: [u8; 32],
    /// The device's logical clock when the record was last used.
    pub(crate) last_used: u64,
    /// Active first.
    pub(crate) sessions: Vec<SessionSnapshotV2>,
}

impl From<PeerRecordV2> for PeerRecordV3 {
    fn from(v2: PeerRecordV2) -> Self {
        PeerRecordV3 {
            identity: v2.identity,
            last_used: v2.last_used,
            sessions: v2.sessions.into_iter().map(Into::into).collect(),
        }
    }
}

/// Format version 3 had version-1 sessions only and no session defaults: the account starts
/// version-1 sessions with the default ML-KEM schedule after the migration.
impl From<AccountSnapshotV3> for AccountSnapshotV4 {
    fn from(v3: AccountSnapshotV3) -> Self {
        let defaults = RatchetConfig::default();
        AccountSnapshotV4 {
            identity_seed: v3.identity_seed,
            signed_prekey: v3.signed_prekey,
            retired_signed_prekeys: v3.retired_signed_prekeys,
            last_resort_kem: v3.last_resort_kem,
            retired_last_resort_kem: v3.retired_last_resort_kem,
            one_time: v3.one_time,
            one_time_kem: v3.one_time_kem,
            next_signed_id: v3.next_signed_id,
            next_one_time_id: v3.next_one_time_id,
            next_kem_id: v3.next_kem_id,
            replay_records: v3.replay_records,
            config: v3.config,
            peers: v3.peers.into_iter().map(Into::into).collect(),
            resets: v3.resets,
            identities: v3.identities,
            envelope_keys: v3.envelope_keys,
            session_defaults: SessionDefaultsV1 {
                version: SessionVersion::V1.number(),
                kem_interval: defaults.kem_interval(),
                kem_message_bound: defaults.kem_message_bound(),
            },
        }
    }
}

impl AccountSnapshotV4 {
    /// The account's part; the device's sections are empty (an account alone holds none).
    pub(crate) fn from_account(a: &Account) -> Self {
        AccountSnapshotV4 {
            identity_seed: a.identity.dangerous_to_seed(),
            signed_prekey: SignedPreKeyV1::from_live(&a.signed_prekey.current),
            retired_signed_prekeys: a
                .signed_prekey
                .retired
                .iter()
                .map(|(k, t)| (SignedPreKeyV1::from_live(k), t.as_unix_secs()))
                .collect(),
            last_resort_kem: KemPreKeyV1::from_live(&a.last_resort_kem.current),
            retired_last_resort_kem: a
                .last_resort_kem
                .retired
                .iter()
                .map(|(k, t)| (KemPreKeyV1::from_live(k), t.as_unix_secs()))
                .collect(),
            one_time: a
                .one_time
                .iter()
                .map(|(id, k)| (*id, secret(k.secret.as_bytes())))
                .collect(),
            one_time_kem: a
                .one_time_kem
                .values()
                .map(KemPreKeyV1::from_live)
                .collect(),
            next_signed_id: a.next_signed_id,
            next_one_time_id: a.next_one_time_id,
            next_kem_id: a.next_kem_id,
            replay_records: a.replay_records.iter().copied().collect(),
            config: ConfigV1::from_live(&a.config),
            peers: Vec::new(),
            resets: Vec::new(),
            identities: Vec::new(),
            envelope_keys: a.envelope_keys.as_ref().map(|e| EnvelopeKeysV1 {
                current: EnvelopeKeyV1::from_live(&e.keys.current),
                retired: e
                    .keys
                    .retired
                    .iter()
                    .map(|(k, t)| (EnvelopeKeyV1::from_live(k), t.as_unix_secs()))
                    .collect(),
                next_id: e.next_id,
                refuse_classical: e.refuse_classical,
            }),
            session_defaults: SessionDefaultsV1::from_account(a),
        }
    }

    /// Whether the device's sections hold anything: such a blob restores only as a device.
    pub(crate) fn has_device_state(&self) -> bool {
        !(self.peers.is_empty() && self.resets.is_empty() && self.identities.is_empty())
    }

    /// Every count limit of the snapshot, checked before anything is parsed (SPEC.md §11.3).
    /// `device_limits` checks the device's sections (peers, sessions per peer, reset logs,
    /// identity records), whose limits the device layer owns.
    pub(crate) fn check_limits(
        &self,
        device_limits: impl FnOnce(&Self) -> Result<(), RestoreError>,
    ) -> Result<(), RestoreError> {
        use crate::account::{
            MAX_ONE_TIME_KEM_PREKEYS, MAX_ONE_TIME_PREKEYS, MAX_REPLAY_RECORDS, MAX_RETIRED_PREKEYS,
        };
        let as_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        within_limit(
            "MAX_ONE_TIME_PREKEYS",
            self.one_time.len(),
            as_usize(MAX_ONE_TIME_PREKEYS),
        )?;
        within_limit(
            "MAX_ONE_TIME_KEM_PREKEYS",
            self.one_time_kem.len(),
            as_usize(MAX_ONE_TIME_KEM_PREKEYS),
        )?;
        within_limit(
            "MAX_RETIRED_PREKEYS",
            self.retired_signed_prekeys.len(),
            MAX_RETIRED_PREKEYS,
        )?;
        within_limit(
            "MAX_RETIRED_PREKEYS",
            self.retired_last_resort_kem.len(),
            MAX_RETIRED_PREKEYS,
        )?;
        if let Some(envelope) = &self.envelope_keys {
            within_limit(
                "MAX_RETIRED_PREKEYS",
                envelope.retired.len(),
                MAX_RETIRED_PREKEYS,
            )?;
        }
        // Records are kept per signed prekey, for the current and each retired one.
        within_limit(
            "MAX_REPLAY_RECORDS * (1 + MAX_RETIRED_PREKEYS)",
            self.replay_records.len(),
            MAX_REPLAY_RECORDS * (1 + MAX_RETIRED_PREKEYS),
        )?;
        let mut per_key: BTreeMap<u32, usize> = BTreeMap::new();
        for (id, _) in &self.replay_records {
            let count = per_key.entry(*id).or_default();
            *count += 1;
            within_limit("MAX_REPLAY_RECORDS", *count, MAX_REPLAY_RECORDS)?;
        }
        device_limits(self)?;
        self.config.check_limits()?;
        pq_config_to_live(
            self.config.to_live()?,
            self.session_defaults.kem_interval,
            self.session_defaults.kem_message_bound,
        )?;
        for peer in &self.peers {
            for session in &peer.sessions {
                session.check_limits()?;
            }
        }
        Ok(())
    }

    /// The live account, after [`AccountSnapshotV4::check_limits`]; `checks` says how
    /// identity keys are parsed (SPEC.md §11.8). `device` parses the device's peers and reset
    /// logs, at the point of the account's checks where they always were.
    pub(crate) fn account_to_live<D>(
        &self,
        checks: KeyChecks,
        device: impl FnOnce(&Self, KeyChecks) -> Result<D, RestoreError>,
    ) -> Result<(Account, D), RestoreError> {
        let mut one_time = BTreeMap::new();
        for (id, s) in &self.one_time {
            let secret = StaticSecret::from(**s);
            let public = XPublicKey::from(&secret).to_bytes();
            if one_time
                .insert(*id, OneTimePreKey { secret, public })
                .is_some()
            {
                return Err(RestoreError::Corrupt);
            }
        }
        let mut one_time_kem = BTreeMap::new();
        for k in &self.one_time_kem {
            let live = k.to_live()?;
            if live.kind != KemPreKeyKind::OneTime || one_time_kem.insert(live.id, live).is_some() {
                return Err(RestoreError::Corrupt);
            }
        }
        let last_resort = self.last_resort_kem.to_live()?;
        if last_resort.kind != KemPreKeyKind::LastResort {
            return Err(RestoreError::Corrupt);
        }
        let envelope_keys = match &self.envelope_keys {
            None => None,
            Some(e) => Some(EnvelopeKeys {
                keys: Rotating {
                    current: e.current.to_live()?,
                    retired: e
                        .retired
                        .iter()
                        .map(|(k, t)| Ok((k.to_live()?, Timestamp::from_unix_secs(*t))))
                        .collect::<Result<_, RestoreError>>()?,
                },
                next_id: e.next_id,
                refuse_classical: e.refuse_classical,
            }),
        };
        let device = device(self, checks)?;
        let account = Account {
            identity: IdentityKeyPair::dangerous_from_seed(&self.identity_seed),
            signed_prekey: Rotating {
                current: self.signed_prekey.to_live()?,
                retired: self
                    .retired_signed_prekeys
                    .iter()
                    .map(|(k, t)| Ok((k.to_live()?, Timestamp::from_unix_secs(*t))))
                    .collect::<Result<_, RestoreError>>()?,
            },
            last_resort_kem: Rotating {
                current: last_resort,
                retired: self
                    .retired_last_resort_kem
                    .iter()
                    .map(|(k, t)| Ok((k.to_live()?, Timestamp::from_unix_secs(*t))))
                    .collect::<Result<_, RestoreError>>()?,
            },
            one_time,
            one_time_kem,
            next_signed_id: self.next_signed_id,
            next_one_time_id: self.next_one_time_id,
            next_kem_id: self.next_kem_id,
            replay_records: self.replay_records.iter().copied().collect::<VecDeque<_>>(),
            config: pq_config_to_live(
                self.config.to_live()?,
                self.session_defaults.kem_interval,
                self.session_defaults.kem_message_bound,
            )?,
            envelope_keys,
            session_version: SessionVersion::from_number(self.session_defaults.version)
                .ok_or(RestoreError::Corrupt)?,
        };
        Ok((account, device))
    }
}

/// authenticated), migrated to the current version.
pub(crate) fn account_snapshot_from_version(
    version: u16,
    bytes: &[u8],
) -> Result<AccountSnapshotV4, RestoreError> {
    Ok(match version {
        1 => AccountSnapshotV3::from(AccountSnapshotV2::from(decode_exact::<AccountSnapshotV1>(
            bytes,
        )?))
        .into(),
        2 => AccountSnapshotV3::from(decode_exact::<AccountSnapshotV2>(bytes)?).into(),
        3 => decode_exact::<AccountSnapshotV3>(bytes)?.into(),
        _ => decode_exact::<AccountSnapshotV4>(bytes)?,
    })
}

/// The live account of a snapshot that holds no device state.
///
/// # Errors
/// [`RestoreError::DeviceState`] if it holds peers, reset logs or recorded identities (restore
/// it as a `Device`, which owns them, so nothing is dropped); then as for any restore.
pub(crate) fn account_from_snapshot(
    snapshot: &AccountSnapshotV4,
    checks: KeyChecks,
) -> Result<Account, RestoreError> {
    if snapshot.has_device_state() {
        return Err(RestoreError::DeviceState);
    }
    snapshot.check_limits(|_| Ok(()))?;
    Ok(snapshot.account_to_live(checks, |_, _| Ok(()))?.0)
}

impl Persist for Account {
    type Snapshot = AccountSnapshotV4;
    const STATE_TYPE: StateType = StateType::Account;
    const SNAPSHOT_VERSION: u16 = STATE_FORMAT_VERSION;

    /// The account's part; the device's sections are empty.
    fn snapshot(&self) -> AccountSnapshotV4 {
        AccountSnapshotV4::from_account(self)
    }

    /// Decodes the snapshot of format `version`, migrated; one that holds device state is
    /// [`RestoreError::DeviceState`].
    fn restore(version: u16, snapshot: &[u8], checks: KeyChecks) -> Result<Self, RestoreError> {
        account_from_snapshot(&account_snapshot_from_version(version, snapshot)?, checks)
    }

    /// The account's identity key.
    fn binding(&self) -> Binding {
        Binding::account(self.identity_key())
    }
}

impl Account {
    /// Exports the account as an encrypted blob (SPEC.md §11), bound to this account's
    /// identity key. It is the blob a [`crate::Device`] writes, with no peers, reset logs or
    /// recorded identities: it restores as an account or as a device. `generation` is the
    /// app's monotonic counter for this object: store the latest one outside the blob and pass
    /// it to [`Account::from_encrypted`] to detect a rolled-back copy.
    pub fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        Persist::to_encrypted(self, key, generation, rng)
    }

    /// As [`Account::to_encrypted`], and binds the app's `label` for the slot into the blob
    /// (SPEC.md §11.7): restoring then needs [`Expected::with_label`].
    pub fn to_encrypted_labeled<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        label: &BlobLabel,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        Persist::to_encrypted_labeled(self, key, label, generation, rng)
    }

    /// Restores an account exported with [`Account::to_encrypted`], rejecting blobs whose
    /// generation is below `min_generation` (pass 0 to accept any) and blobs of another object
    /// than `expected` (usually [`Expected::any`], or [`Expected::identity`] when the app
    /// keeps the account's identity key elsewhere; add the slot's label if it gave one).
    ///
    /// # Errors
    /// [`RestoreError`]: each cause (truncated, foreign, future version, other type, wrong key
    /// or tampered, rolled back, another object, a limit exceeded, invalid content) has its own
    /// variant. A blob that holds a device's peers, reset logs or recorded identities is
    /// [`RestoreError::DeviceState`]: restore it with `Device::from_encrypted`, so nothing is
    /// dropped. Nothing changes on error.
    pub fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
        expected: &Expected,
    ) -> Result<Account, RestoreError> {
        <Account as Persist>::from_encrypted(bytes, key, min_generation, expected)
    }
}

#[cfg(feature = "serde")]
mod plain_serde {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{AccountSnapshotV1, AccountSnapshotV2, AccountSnapshotV3, AccountSnapshotV4};
    use crate::account::Account;
    use crate::persist::{KeyChecks, Persist, versioned};

    impl Serialize for Account {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            (Self::SNAPSHOT_VERSION, self.snapshot()).serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for Account {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let snapshot = versioned::<
                D,
                AccountSnapshotV1,
                AccountSnapshotV2,
                AccountSnapshotV3,
                AccountSnapshotV4,
            >(deserializer)?;
            super::account_from_snapshot(&snapshot, KeyChecks::Full).map_err(D::Error::custom)
        }
    }

    #[cfg(test)]
    mod tests {
        use chacha20::ChaCha20Rng;
        use rand_core::SeedableRng;

        use crate::persist::STATE_FORMAT_VERSION;
        use crate::{Account, Session, Timestamp};

        #[test]
        fn plain_serde_round_trips_account_and_session() {
            let now = Timestamp::from_unix_secs(1);
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            let alice = Account::new(now, &mut rng);
            let mut bob = Account::new(now, &mut rng);
            let mut s = alice
                .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
                .unwrap();
            let m = s.encrypt(b"x", &mut rng).unwrap();
            let _ = bob.create_inbound_session(&m, now).unwrap();
            let json = serde_json::to_string(&s).unwrap();
            let back: Session = serde_json::from_str(&json).unwrap();
            assert_eq!(back, s);
            let json = serde_json::to_string(&bob).unwrap();
            let back: Account = serde_json::from_str(&json).unwrap();
            assert_eq!(back.published_prekeys(), bob.published_prekeys());
        }

        /// Version 1 values (the frozen fixtures' snapshots) still deserialize, migrated;
        /// an unknown version is refused.
        #[test]
        fn plain_serde_reads_version_1() {
            use super::super::{AccountSnapshotV1, decode_exact};
            use crate::persist::open_state;
            use crate::persist::{Expected, StateType, StorageKey};
            use crate::session::SessionSnapshotV1;
            let key = StorageKey::from_bytes([0x5a; 32]);
            let blob = include_bytes!("../../tests/fixtures/state_v1/account.bin");
            let (plain, version) = open_state(blob, StateType::Account, &key, 0).unwrap();
            assert_eq!(version, 1);
            let v1: AccountSnapshotV1 = decode_exact(&plain).unwrap();
            let json = serde_json::to_string(&(1u16, v1)).unwrap();
            let account: Account = serde_json::from_str(&json).unwrap();
            let from_blob = Account::from_encrypted(blob, &key, 0, &Expected::any()).unwrap();
            assert_eq!(account.published_prekeys(), from_blob.published_prekeys());

            let blob = include_bytes!("../../tests/fixtures/state_v1/session_bob.bin");
            let (plain, _) = open_state(blob, StateType::Session, &key, 0).unwrap();
            let v1: SessionSnapshotV1 = decode_exact(&plain).unwrap();
            let json = serde_json::to_string(&(1u16, &v1)).unwrap();
            let session: Session = serde_json::from_str(&json).unwrap();
            let from_blob = Session::from_encrypted(blob, &key, 0, &Expected::any()).unwrap();
            assert_eq!(session, from_blob);
            // Version 2 (the session snapshot did not change) reads; a future version does not.
            let json = serde_json::to_string(&(2u16, &v1)).unwrap();
            assert_eq!(serde_json::from_str::<Session>(&json).unwrap(), from_blob);
            let json = serde_json::to_string(&(STATE_FORMAT_VERSION + 1, &v1)).unwrap();
            let err = serde_json::from_str::<Session>(&json).unwrap_err();
            assert!(
                err.to_string()
                    .contains("unknown hushwire state format version"),
                "{err}"
            );
        }

        /// The serde path runs the same limit checks as the blob path.
        #[test]
        fn plain_serde_enforces_the_limits() {
            let now = Timestamp::from_unix_secs(1);
            let mut rng = ChaCha20Rng::seed_from_u64(2);
            let alice = Account::new(now, &mut rng);
            let mut bob = Account::new(now, &mut rng);
            bob.generate_one_time_prekeys(2, 0, now, &mut rng).unwrap();
            let mut s = alice
                .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
                .unwrap();
            let m = s.encrypt(b"x", &mut rng).unwrap();
            let session = bob.create_inbound_session(&m, now).unwrap().session;
            let mut snapshot = serde_json::to_value(&session).unwrap();
            assert_eq!(snapshot[0], STATE_FORMAT_VERSION);
            let cap = crate::HARD_MAX_SKIPPED_KEYS;
            let keys: Vec<(u32, [u8; 32])> = (0..=cap).map(|n| (n, [7; 32])).collect();
            snapshot[1]["ratchet"]["receiving"]["stored"]["keys"] =
                serde_json::to_value(keys).unwrap();
            let err = serde_json::from_value::<Session>(snapshot).unwrap_err();
            assert!(
                err.to_string()
                    .contains("exceeds the limit `HARD_MAX_SKIPPED_KEYS` of 100000"),
                "{err}"
            );
            let mut account = serde_json::to_value(&bob).unwrap();
            let one_time = &mut account[1]["one_time"];
            let entry = one_time[0].clone();
            for _ in 0..=crate::MAX_ONE_TIME_PREKEYS {
                one_time.as_array_mut().unwrap().push(entry.clone());
            }
            let err = serde_json::from_value::<Account>(account).unwrap_err();
            assert!(err.to_string().contains("MAX_ONE_TIME_PREKEYS"), "{err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::account::{
        MAX_ONE_TIME_KEM_PREKEYS, MAX_ONE_TIME_PREKEYS, MAX_REPLAY_RECORDS, MAX_RETIRED_PREKEYS,
    };

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    fn limit(limit: &'static str, max: usize) -> RestoreError {
        RestoreError::LimitExceeded {
            limit,
            max: max as u64,
        }
    }

    fn account_error(snapshot: &AccountSnapshotV4) -> Option<RestoreError> {
        account_from_snapshot(snapshot, KeyChecks::Stored).err()
    }

    #[test]
    fn account_prekey_counts_at_and_past_their_limits() {
        let mut rng = ChaCha20Rng::seed_from_u64(301);
        let mut account = Account::new(NOW, &mut rng);
        account
            .generate_one_time_prekeys(
                MAX_ONE_TIME_PREKEYS,
                MAX_ONE_TIME_KEM_PREKEYS,
                NOW,
                &mut rng,
            )
            .unwrap();
        for _ in 0..=MAX_RETIRED_PREKEYS {
            account.rotate_prekeys(NOW, &mut rng);
        }
        let full = AccountSnapshotV4::from_account(&account);
        assert_eq!(full.retired_signed_prekeys.len(), MAX_RETIRED_PREKEYS);
        assert_eq!(account_error(&full), None, "at every limit");

        let mut more = AccountSnapshotV4::from_account(&account);
        more.one_time.push((u32::MAX, secret(&[1; 32])));
        assert_eq!(
            account_error(&more),
            Some(limit("MAX_ONE_TIME_PREKEYS", MAX_ONE_TIME_PREKEYS as usize))
        );
        let mut more = AccountSnapshotV4::from_account(&account);
        more.one_time_kem
            .push(KemPreKeyV1::from_live(&account.last_resort_kem.current));
        assert_eq!(
            account_error(&more),
            Some(limit(
                "MAX_ONE_TIME_KEM_PREKEYS",
                MAX_ONE_TIME_KEM_PREKEYS as usize
            ))
        );
        let mut more = AccountSnapshotV4::from_account(&account);
        more.retired_signed_prekeys
            .push((SignedPreKeyV1::from_live(&account.signed_prekey.current), 0));
        assert_eq!(
            account_error(&more),
            Some(limit("MAX_RETIRED_PREKEYS", MAX_RETIRED_PREKEYS))
        );
        let mut more = AccountSnapshotV4::from_account(&account);
        more.retired_last_resort_kem
            .push((KemPreKeyV1::from_live(&account.last_resort_kem.current), 0));
        assert_eq!(
            account_error(&more),
            Some(limit("MAX_RETIRED_PREKEYS", MAX_RETIRED_PREKEYS))
        );
    }

    /// The retired envelope KEM keys count against `MAX_RETIRED_PREKEYS` on restore, at and
    /// one past the limit; a seed of the wrong length is corrupt.
    #[test]
    fn retired_envelope_keys_at_and_past_their_limit() {
        let mut rng = ChaCha20Rng::seed_from_u64(305);
        let mut account = Account::new(NOW, &mut rng);
        assert!(account.enable_hybrid_envelopes(NOW, &mut rng));
        for _ in 0..=MAX_RETIRED_PREKEYS {
            account.rotate_prekeys(NOW, &mut rng);
        }
        let full = AccountSnapshotV4::from_account(&account);
        let envelope = full.envelope_keys.as_ref().unwrap();
        assert_eq!(envelope.retired.len(), MAX_RETIRED_PREKEYS);
        assert_eq!(account_error(&full), None, "at the limit");
        let restored = account_from_snapshot(&full, KeyChecks::Stored).unwrap();
        assert_eq!(restored.envelope_key(), account.envelope_key());

        let mut more = AccountSnapshotV4::from_account(&account);
        let extra = EnvelopeKeyV1::from_live(&account.envelope_keys.as_ref().unwrap().keys.current);
        more.envelope_keys
            .as_mut()
            .unwrap()
            .retired
            .push((extra, 0));
        assert_eq!(
            account_error(&more),
            Some(limit("MAX_RETIRED_PREKEYS", MAX_RETIRED_PREKEYS))
        );

        // A seed of the wrong length: through postcard, since the field is private.
        let mut bad = AccountSnapshotV4::from_account(&account);
        let mut current =
            postcard::to_allocvec(&bad.envelope_keys.as_ref().unwrap().current).unwrap();
        // id (1 byte varint), then the seed's length 64 (1 byte): make it 63 and drop a byte.
        assert_eq!(current[1], 64);
        current[1] = 63;
        current.remove(2);
        bad.envelope_keys.as_mut().unwrap().current = postcard::from_bytes(&current).unwrap();
        assert_eq!(account_error(&bad), Some(RestoreError::Corrupt));
    }

    /// A format-2 snapshot migrates with hybrid envelopes off, and the account can turn them
    /// on and write format 3.
    #[test]
    fn a_version_2_snapshot_migrates_with_hybrid_envelopes_off() {
        let mut rng = ChaCha20Rng::seed_from_u64(306);
        let account = Account::new(NOW, &mut rng);
        let v3 = AccountSnapshotV4::from_account(&account);
        let bytes = postcard::to_allocvec(&v3).unwrap();
        // Without peers, the format-3 encoding is the format-4 one without its last field,
        // and the format-2 one is the format-3 one without its last (`None`: one byte).
        let defaults = postcard::to_allocvec(&v3.session_defaults).unwrap();
        assert_eq!(defaults, [1, 1, 0xe8, 0x07]);
        let bytes = &bytes[..bytes.len() - defaults.len()];
        assert_eq!(bytes.last(), Some(&0));
        let v2 = &bytes[..bytes.len() - 1];
        let migrated = account_snapshot_from_version(2, v2).unwrap();
        let mut restored = account_from_snapshot(&migrated, KeyChecks::Stored).unwrap();
        assert!(!restored.hybrid_envelopes_enabled());
        assert_eq!(restored.published_prekeys(), account.published_prekeys());
        assert!(account_snapshot_from_version(3, v2).is_err());
        assert!(account_snapshot_from_version(3, bytes).is_ok());
        assert!(account_snapshot_from_version(4, bytes).is_err());
        assert!(restored.enable_hybrid_envelopes(NOW, &mut rng));
        let again = AccountSnapshotV4::from_account(&restored);
        assert!(again.envelope_keys.is_some());
    }

    #[test]
    fn replay_records_at_and_past_their_limits() {
        let mut rng = ChaCha20Rng::seed_from_u64(302);
        let account = Account::new(NOW, &mut rng);
        let record = |id: u32, n: usize| {
            let mut base = [0u8; 32];
            base[..8].copy_from_slice(&(n as u64).to_be_bytes());
            (id, base)
        };
        // Per signed prekey: exactly MAX_REPLAY_RECORDS, for the current and every retired id.
        let mut snapshot = AccountSnapshotV4::from_account(&account);
        for id in 1..=(1 + MAX_RETIRED_PREKEYS as u32) {
            snapshot
                .replay_records
                .extend((0..MAX_REPLAY_RECORDS).map(|n| record(id, n)));
        }
        assert_eq!(account_error(&snapshot), None);
        let mut one_more_key = AccountSnapshotV4::from_account(&account);
        one_more_key.replay_records = snapshot.replay_records.clone();
        one_more_key.replay_records.push(record(99, 0));
        assert_eq!(
            account_error(&one_more_key),
            Some(limit(
                "MAX_REPLAY_RECORDS * (1 + MAX_RETIRED_PREKEYS)",
                MAX_REPLAY_RECORDS * (1 + MAX_RETIRED_PREKEYS)
            ))
        );
        let mut one_more = AccountSnapshotV4::from_account(&account);
        one_more
            .replay_records
            .extend((0..=MAX_REPLAY_RECORDS).map(|n| record(1, n)));
        assert_eq!(
            account_error(&one_more),
            Some(limit("MAX_REPLAY_RECORDS", MAX_REPLAY_RECORDS))
        );
    }
}

#[cfg(test)]
mod binding_tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::persist::{BindingV2, seal_state};
    use crate::session::Session;

    fn session_binding(s: &Session) -> Binding {
        Persist::binding(s)
    }

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    /// A binding that names another object than the content (a blob made with the storage
    /// key, never by the library) is refused as `Corrupt`, even when the app expects what the
    /// binding names.
    #[test]
    fn a_binding_that_does_not_name_the_content_is_corrupt() {
        let mut rng = ChaCha20Rng::seed_from_u64(311);
        let alice = Account::new(NOW, &mut rng);
        let (bob, carol) = (Account::new(NOW, &mut rng), Account::new(NOW, &mut rng));
        let with_carol = alice
            .create_outbound_session(&carol.published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let with_bob = alice
            .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let key = StorageKey::from_bytes([4; 32]);
        let lying = seal_state(
            &SessionSnapshotV1::from_live(&with_carol),
            StateType::Session,
            &session_binding(&with_bob),
            &BlobLabel::default(),
            1,
            &key,
            &mut rng,
        );
        for expected in [Expected::any(), Expected::peer(bob.identity_key())] {
            assert_eq!(
                Session::from_encrypted(&lying, &key, 0, &expected),
                Err(RestoreError::Corrupt)
            );
        }
        // An account blob bound to another identity.
        let lying = seal_state(
            &AccountSnapshotV4::from_account(&bob),
            StateType::Account,
            &Binding::account(carol.identity_key()),
            &BlobLabel::default(),
            1,
            &key,
            &mut rng,
        );
        assert_eq!(
            Account::from_encrypted(&lying, &key, 0, &Expected::any()).err(),
            Some(RestoreError::Corrupt)
        );
        // A label past its limit.
        let long = BindingV2 {
            label: vec![b'x'; crate::persist::MAX_BLOB_LABEL_LEN + 1],
            ..BindingV2::new(&Binding::account(bob.identity_key()), &BlobLabel::default())
        };
        let plain = postcard::to_allocvec(&(long, AccountSnapshotV4::from_account(&bob))).unwrap();
        let blob = crate::persist::seal_plaintext_for_tests(&plain, StateType::Account, &key);
        assert_eq!(
            Account::from_encrypted(&blob, &key, 0, &Expected::any()).err(),
            Some(RestoreError::LimitExceeded {
                limit: "MAX_BLOB_LABEL_LEN",
                max: crate::persist::MAX_BLOB_LABEL_LEN as u64
            })
        );
    }
}
