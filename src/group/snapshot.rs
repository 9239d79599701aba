//! Snapshots of a [`GroupSession`]: plain serde structs mirroring the live state, encoded
//! with postcard and encrypted as the other state blobs are (SPEC.md §11, §14.10; type tag
//! [`StateType::GroupSession`]). Live types never derive serde; secret fields are
//! `Zeroizing`.
//!
//! Version 2 is version 1 followed by one field, the grace window of removals
//! ([`OldEpochWindowV2`]). Both are read: a plaintext that ends after the version-1 fields is
//! a version-1 snapshot and is migrated; only version 2 is written.

use std::collections::BTreeMap;

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::roster::{GroupId, GroupRole, Roster, RosterMember};
use super::sender_key::{
    InboundChain, MemberKeys, OutboundSenderKey, SenderSigningKey, SigningPublic, SkippedKey,
    SkippedStore, signing_key_from_bytes, signing_key_from_stored_bytes,
};
use super::session::GroupSession;
use super::{
    MAX_GROUP_MEMBERS, MAX_GROUP_SKIPPED_KEYS, MAX_OLD_EPOCH_MESSAGES, MAX_SENDER_KEYS_PER_MEMBER,
};
use crate::keys::secret::{ChainKey, MessageKey};
use crate::persist::{
    Binding, BlobLabel, Expected, KeyChecks, Persist, RestoreError, StateType, StorageKey,
    decode_exact, within_limit,
};
use crate::time::Timestamp;

type Secret32 = Zeroizing<[u8; 32]>;

/// The group snapshot version this build writes (SPEC.md §14.10). It reads 1 and 2.
const GROUP_SNAPSHOT_VERSION: u16 = 2;

#[derive(Serialize, Deserialize)]
struct RosterMemberV1 {
    identity: [u8; 32],
    /// 1 = admin, 2 = member.
    role: u8,
    added_epoch: u64,
}

#[derive(Serialize, Deserialize)]
struct RosterV1 {
    group_id: [u8; 32],
    epoch: u64,
    previous_hash: [u8; 32],
    rekey_epoch: u64,
    /// Sorted by identity key bytes.
    members: Vec<RosterMemberV1>,
}

impl RosterV1 {
    fn from_live(r: &Roster) -> Self {
        RosterV1 {
            group_id: *r.group_id.as_bytes(),
            epoch: r.epoch,
            previous_hash: r.previous_hash,
            rekey_epoch: r.rekey_epoch,
            members: r
                .members
                .iter()
                .map(|m| RosterMemberV1 {
                    identity: m.identity.to_bytes(),
                    role: m.role.to_byte(),
                    added_epoch: m.added_epoch,
                })
                .collect(),
        }
    }

    fn to_live(&self, checks: KeyChecks) -> Result<Roster, RestoreError> {
        if self.rekey_epoch > self.epoch {
            return Err(RestoreError::Corrupt);
        }
        let mut members: Vec<RosterMember> = Vec::with_capacity(self.members.len());
        for m in &self.members {
            let key = checks.identity(&m.identity)?;
            if members
                .last()
                .is_some_and(|l| l.identity.as_bytes() >= key.as_bytes())
                || m.added_epoch > self.epoch
            {
                return Err(RestoreError::Corrupt);
            }
            members.push(RosterMember {
                identity: key,
                role: GroupRole::from_byte(m.role).ok_or(RestoreError::Corrupt)?,
                added_epoch: m.added_epoch,
            });
        }
        let roster = Roster {
            group_id: GroupId::from_bytes(self.group_id),
            epoch: self.epoch,
            previous_hash: self.previous_hash,
            rekey_epoch: self.rekey_epoch,
            members,
        };
        roster.check().map_err(|_| RestoreError::Corrupt)?;
        Ok(roster)
    }
}

#[derive(Serialize, Deserialize)]
struct OutboundV1 {
    key_id: u32,
    key_epoch: u64,
    chain_key: Secret32,
    index: u32,
    signing_seed: Secret32,
}

#[derive(Serialize, Deserialize)]
struct InboundChainV1 {
    key_id: u32,
    key_epoch: u64,
    signing_key: [u8; 32],
    chain_key: Secret32,
    next: u32,
    first: u32,
    expired_below: u32,
}

#[derive(Serialize, Deserialize)]
struct MemberKeysV1 {
    member: [u8; 32],
    /// Newest first.
    chains: Vec<InboundChainV1>,
    next_key_id: u32,
}

#[derive(Serialize, Deserialize)]
struct SkippedKeyV1 {
    sender: [u8; 32],
    key_id: u32,
    index: u32,
    key: Secret32,
}

/// Version 1 of the persisted [`GroupSession`] (and the first six fields of version 2).
#[derive(Serialize, Deserialize)]
pub(crate) struct GroupSessionSnapshotV1 {
    own: [u8; 32],
    roster: RosterV1,
    /// `None` once removed.
    outbound: Option<OutboundV1>,
    inbound: Vec<MemberKeysV1>,
    /// Oldest first.
    skipped: Vec<SkippedKeyV1>,
    last_change: Option<[u8; 32]>,
}

/// One member's count of messages accepted on keys from before the last removal.
#[derive(Serialize, Deserialize)]
struct OldEpochCountV2 {
    member: [u8; 32],
    accepted: u32,
}

/// The grace window of the last removal (SPEC.md §14.4.3 step 11).
#[derive(Serialize, Deserialize)]
struct OldEpochWindowV2 {
    /// When this session applied the last removal, in seconds since the Unix epoch.
    removal_applied_at: Option<u64>,
    /// Members with a count above zero, by increasing member bytes.
    accepted: Vec<OldEpochCountV2>,
}

/// Version 2 of the persisted [`GroupSession`]: version 1, then the grace window.
#[derive(Serialize, Deserialize)]
pub(crate) struct GroupSessionSnapshotV2 {
    base: GroupSessionSnapshotV1,
    old_epoch: OldEpochWindowV2,
}

impl GroupSessionSnapshotV2 {
    fn from_live(s: &GroupSession) -> Self {
        GroupSessionSnapshotV2 {
            base: GroupSessionSnapshotV1::from_live(s),
            old_epoch: OldEpochWindowV2 {
                removal_applied_at: s.removal_applied_at.map(Timestamp::as_unix_secs),
                accepted: s
                    .inbound
                    .iter()
                    .filter(|(_, keys)| keys.old_epoch_accepted > 0)
                    .map(|(member, keys)| OldEpochCountV2 {
                        member: *member,
                        accepted: keys.old_epoch_accepted,
                    })
                    .collect(),
            },
        }
    }

    /// The live session; `checks` says how its keys are parsed (SPEC.md §11.8).
    fn to_live(&self, checks: KeyChecks) -> Result<GroupSession, RestoreError> {
        self.base.check_limits()?;
        for c in &self.old_epoch.accepted {
            within_limit(
                "MAX_OLD_EPOCH_MESSAGES",
                usize::try_from(c.accepted).unwrap_or(usize::MAX),
                usize::try_from(MAX_OLD_EPOCH_MESSAGES).unwrap_or(usize::MAX),
            )?;
        }
        let mut session = self.base.restore(false, checks)?;
        let mut previous: Option<[u8; 32]> = None;
        for c in &self.old_epoch.accepted {
            if previous.is_some_and(|p| p >= c.member) {
                return Err(RestoreError::Corrupt);
            }
            previous = Some(c.member);
            let keys = session
                .inbound
                .get_mut(&c.member)
                .ok_or(RestoreError::Corrupt)?;
            keys.old_epoch_accepted = c.accepted;
        }
        session.removal_applied_at = self
            .old_epoch
            .removal_applied_at
            .map(Timestamp::from_unix_secs);
        Ok(session)
    }
}

impl GroupSessionSnapshotV1 {
    fn from_live(s: &GroupSession) -> Self {
        GroupSessionSnapshotV1 {
            own: s.own.to_bytes(),
            roster: RosterV1::from_live(&s.roster),
            outbound: s.outbound.as_ref().map(|o| OutboundV1 {
                key_id: o.key_id,
                key_epoch: o.key_epoch,
                chain_key: Zeroizing::new(*o.chain_key.as_bytes()),
                index: o.index,
                signing_seed: o.signing.seed(),
            }),
            inbound: s
                .inbound
                .iter()
                .map(|(member, keys)| MemberKeysV1 {
                    member: *member,
                    chains: keys
                        .chains
                        .iter()
                        .map(|c| InboundChainV1 {
                            key_id: c.key_id,
                            key_epoch: c.key_epoch,
                            signing_key: c.signing.to_bytes(),
                            chain_key: Zeroizing::new(*c.chain_key.as_bytes()),
                            next: c.next,
                            first: c.first,
                            expired_below: c.expired_below,
                        })
                        .collect(),
                    next_key_id: keys.next_key_id,
                })
                .collect(),
            skipped: s
                .skipped
                .iter()
                .map(|k| SkippedKeyV1 {
                    sender: k.sender,
                    key_id: k.key_id,
                    index: k.index,
                    key: Zeroizing::new(*k.key.as_bytes()),
                })
                .collect(),
            last_change: s.last_change,
        }
    }

    /// The live session of a version-1 snapshot: the grace window of its last removal is
    /// closed (the snapshot does not say when the removal was applied), and a sender key
    /// whose signing key breaks the rules this build applies on the wire is dropped with its
    /// stored keys, as if never received (older builds accepted such keys).
    /// Its keys get the full checks ([`KeyChecks::Full`]): the builds that wrote version 1
    /// checked less.
    fn migrate(&self) -> Result<GroupSession, RestoreError> {
        self.restore(true, KeyChecks::Full)
    }

    /// The documented limits (SPEC.md §14.10), checked before any content is: roster
    /// members, each member's chains, skipped keys.
    fn check_limits(&self) -> Result<(), RestoreError> {
        within_limit(
            "MAX_GROUP_MEMBERS",
            self.roster.members.len(),
            MAX_GROUP_MEMBERS,
        )?;
        for m in &self.inbound {
            within_limit(
                "MAX_SENDER_KEYS_PER_MEMBER",
                m.chains.len(),
                MAX_SENDER_KEYS_PER_MEMBER,
            )?;
        }
        within_limit(
            "MAX_GROUP_SKIPPED_KEYS",
            self.skipped.len(),
            MAX_GROUP_SKIPPED_KEYS,
        )
    }

    /// The fields common to both versions. `migrating` (version 1): drop chains whose
    /// signing key fails [`signing_key_from_bytes`] instead of refusing the snapshot.
    /// `checks`: how identity and signing keys are parsed (SPEC.md §11.8); with
    /// [`KeyChecks::Stored`] a signing key gets [`signing_key_from_stored_bytes`].
    fn restore(&self, migrating: bool, checks: KeyChecks) -> Result<GroupSession, RestoreError> {
        self.check_limits()?;
        let own = checks.identity(&self.own)?;
        let roster = self.roster.to_live(checks)?;
        let outbound = self.outbound.as_ref().map(|o| OutboundSenderKey {
            key_id: o.key_id,
            key_epoch: o.key_epoch,
            chain_key: ChainKey::from_bytes(*o.chain_key),
            index: o.index,
            signing: SenderSigningKey::stored(&o.signing_seed),
        });
        // A member holds a sender key; a removed session holds no key at all.
        if outbound.is_some() != roster.member(&own).is_some()
            || (outbound.is_none() && (!self.inbound.is_empty() || !self.skipped.is_empty()))
        {
            return Err(RestoreError::Corrupt);
        }
        let mut inbound = BTreeMap::new();
        // Chains dropped by the migration: (member, key id).
        let mut dropped: Vec<([u8; 32], u32)> = Vec::new();
        for m in &self.inbound {
            let member = checks.identity(&m.member)?;
            if member == own || roster.member(&member).is_none() {
                return Err(RestoreError::Corrupt);
            }
            let mut keys = MemberKeys {
                chains: Default::default(),
                next_key_id: m.next_key_id,
                old_epoch_accepted: 0,
            };
            for c in &m.chains {
                if c.first > c.next
                    || c.expired_below > c.next
                    || keys.chain(c.key_id).is_some()
                    || dropped.contains(&(m.member, c.key_id))
                {
                    return Err(RestoreError::Corrupt);
                }
                let signing = match checks {
                    KeyChecks::Full => {
                        signing_key_from_bytes(&c.signing_key).map(SigningPublic::decoded)
                    }
                    KeyChecks::Stored => signing_key_from_stored_bytes(&c.signing_key),
                };
                let Some(signing) = signing else {
                    if migrating {
                        dropped.push((m.member, c.key_id));
                        continue;
                    }
                    return Err(RestoreError::Corrupt);
                };
                keys.chains.push_back(InboundChain {
                    key_id: c.key_id,
                    key_epoch: c.key_epoch,
                    signing,
                    chain_key: ChainKey::from_bytes(*c.chain_key),
                    next: c.next,
                    first: c.first,
                    expired_below: c.expired_below,
                });
            }
            if inbound.insert(member.to_bytes(), keys).is_some() {
                return Err(RestoreError::Corrupt);
            }
        }
        let mut skipped = SkippedStore::with_capacity(self.skipped.len());
        for k in &self.skipped {
            if dropped.contains(&(k.sender, k.key_id)) {
                continue;
            }
            let known = inbound
                .get(&k.sender)
                .and_then(|keys: &MemberKeys| keys.chain(k.key_id))
                .is_some_and(|c| k.index < c.next);
            if !known {
                return Err(RestoreError::Corrupt);
            }
            skipped.push_back(SkippedKey {
                sender: k.sender,
                key_id: k.key_id,
                index: k.index,
                key: MessageKey::from_bytes(*k.key),
            });
        }
        Ok(GroupSession {
            own,
            roster,
            outbound,
            inbound,
            skipped,
            last_change: self.last_change,
            removal_applied_at: None,
        })
    }
}

/// A group session's version-2 snapshot, encoded with postcard: the payload of a backup
/// entry (SPEC.md §18.4.1).
pub(crate) fn encode_snapshot(s: &GroupSession) -> Zeroizing<Vec<u8>> {
    crate::persist::encode_wiping(&GroupSessionSnapshotV2::from_live(s))
}

/// Decodes [`encode_snapshot`], with every limit and invariant checked as on restore and
/// the full key checks (a backup entry is not authenticated by the storage key).
pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<GroupSession, RestoreError> {
    decode_exact::<GroupSessionSnapshotV2>(bytes)?.to_live(KeyChecks::Full)
}

impl Persist for GroupSession {
    type Snapshot = GroupSessionSnapshotV2;
    const STATE_TYPE: StateType = StateType::GroupSession;
    const SNAPSHOT_VERSION: u16 = GROUP_SNAPSHOT_VERSION;

    fn snapshot(&self) -> GroupSessionSnapshotV2 {
        GroupSessionSnapshotV2::from_live(self)
    }

    /// Format version 1 holds a version-1 snapshot (migrated, with the full key checks),
    /// format version 2 a version-2 one.
    fn restore(version: u16, snapshot: &[u8], checks: KeyChecks) -> Result<Self, RestoreError> {
        match version {
            1 => decode_exact::<GroupSessionSnapshotV1>(snapshot)?.migrate(),
            _ => decode_exact::<GroupSessionSnapshotV2>(snapshot)?.to_live(checks),
        }
    }

    /// Our identity and the group id (SPEC.md §11.7).
    fn binding(&self) -> Binding {
        Binding::group(&self.own, self.roster.group_id.as_bytes())
    }
}

impl GroupSession {
    /// Exports the group session as an encrypted blob (SPEC.md §11, type tag
    /// [`StateType::GroupSession`], group snapshot version 2, §14.10), bound to our identity
    /// and the group id; see
    /// [`crate::Account::to_encrypted`] for `generation`.
    pub fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        Persist::to_encrypted(self, key, generation, rng)
    }

    /// As [`GroupSession::to_encrypted`], and binds the app's `label` for the slot into the
    /// blob (SPEC.md §11.7).
    pub fn to_encrypted_labeled<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        label: &BlobLabel,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        Persist::to_encrypted_labeled(self, key, label, generation, rng)
    }

    /// Restores a group session exported with [`GroupSession::to_encrypted`] (by this build,
    /// or by an older one: version-1 snapshots are migrated, SPEC.md §14.10), rejecting blobs
    /// whose generation is below `min_generation` (pass 0 to accept any) and blobs of
    /// another object than `expected` (usually [`Expected::group`] with the group's id).
    ///
    /// # Errors
    /// [`RestoreError`], as for [`crate::Account::from_encrypted`];
    /// [`RestoreError::LimitExceeded`] when the content holds more than a documented limit
    /// (members, sender keys per member, stored skipped keys, grace-window counts);
    /// [`RestoreError::Corrupt`] when it breaks another invariant of the group state (unsorted
    /// roster, keys for non-members, invalid keys). Nothing changes on error.
    pub fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
        expected: &Expected,
    ) -> Result<GroupSession, RestoreError> {
        <GroupSession as Persist>::from_encrypted(bytes, key, min_generation, expected)
    }
}

/// Plain serde for apps that encrypt state themselves: the versioned snapshot, prefixed by
/// the group snapshot version (SPEC.md §14.10).
#[cfg(feature = "serde")]
mod plain_serde {
    use core::fmt;

    use serde::de::{Error as _, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{GroupSession, GroupSessionSnapshotV1, GroupSessionSnapshotV2};
    use crate::persist::Persist;

    impl Serialize for GroupSession {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            (Self::SNAPSHOT_VERSION, self.snapshot()).serialize(serializer)
        }
    }

    /// Reads `(version, snapshot)`: version 1 or 2, the snapshot of that version.
    struct VersionedSnapshot;

    impl<'de> Visitor<'de> for VersionedSnapshot {
        type Value = GroupSession;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a (version, group session snapshot) pair")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GroupSession, A::Error> {
            let version: u16 = seq
                .next_element()?
                .ok_or_else(|| A::Error::invalid_length(0, &self))?;
            let restored = match version {
                1 => seq
                    .next_element::<GroupSessionSnapshotV1>()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?
                    .migrate(),
                2 => seq
                    .next_element::<GroupSessionSnapshotV2>()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?
                    .to_live(crate::persist::KeyChecks::Full),
                _ => {
                    return Err(A::Error::custom("unknown hushwire state format version"));
                }
            };
            restored.map_err(A::Error::custom)
        }
    }

    impl<'de> Deserialize<'de> for GroupSession {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_tuple(2, VersionedSnapshot)
        }
    }
}

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::group::{AuthenticatedSender, GroupRole};
    use crate::keys::{IdentityKey, IdentityKeyPair};
    use crate::persist::seal_state;

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    fn auth(k: &IdentityKey) -> AuthenticatedSender {
        AuthenticatedSender::assume_authenticated(*k)
    }

    fn key() -> StorageKey {
        StorageKey::from_bytes([7; 32])
    }

    #[test]
    fn round_trip_mid_chain_with_skipped_keys_continues() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let a = IdentityKeyPair::generate(&mut rng);
        let b = IdentityKeyPair::generate(&mut rng);
        let created =
            GroupSession::create(&a, &[(*b.public(), GroupRole::Member)], &mut rng).unwrap();
        let mut ga = created.session;
        let mut gb = GroupSession::join(&b, &created.welcome.bytes, a.public(), &mut rng)
            .unwrap()
            .session;
        let _ = gb
            .receive_distribution(auth(a.public()), &created.distribution.bytes)
            .unwrap();
        let msgs: Vec<_> = (0..5)
            .map(|i| ga.encrypt(&[i], &mut rng).unwrap())
            .collect();
        assert_eq!(gb.decrypt(&msgs[3], NOW).unwrap().plaintext, [3]);
        assert_eq!(gb.stored_skipped_keys(), 3);

        let blob = gb.to_encrypted(&key(), 4, &mut rng);
        let mut restored =
            GroupSession::from_encrypted(&blob, &key(), 4, &Expected::any()).unwrap();
        assert!(restored == gb);
        assert_eq!(restored.decrypt(&msgs[1], NOW).unwrap().plaintext, [1]);
        assert_eq!(restored.decrypt(&msgs[4], NOW).unwrap().plaintext, [4]);
        assert!(matches!(
            restored.decrypt(&msgs[3], NOW),
            Err(crate::group::GroupError::Duplicate { index: 3 })
        ));

        let blob = ga.to_encrypted(&key(), 1, &mut rng);
        let mut ga2 = GroupSession::from_encrypted(&blob, &key(), 0, &Expected::any()).unwrap();
        assert!(ga2 == ga);
        let m = ga2.encrypt(b"after restore", &mut rng).unwrap();
        assert_eq!(
            restored.decrypt(&m, NOW).unwrap().plaintext,
            b"after restore"
        );

        assert_eq!(
            GroupSession::from_encrypted(&blob, &key(), 2, &Expected::any()),
            Err(RestoreError::RolledBack {
                found: 1,
                minimum: 2
            })
        );
        assert_eq!(
            GroupSession::from_encrypted(
                &blob,
                &StorageKey::from_bytes([8; 32]),
                0,
                &Expected::any()
            ),
            Err(RestoreError::Authentication)
        );
    }

    // -----------------------------------------------------------------------------------
    // Limits and key checks on restore
    // -----------------------------------------------------------------------------------

    /// Member B (index 1) of a group of `n`, holding the sender keys of A (0) and C (2),
    /// with stored skipped keys for A's chain.
    fn member_b(n: usize, seed: u64) -> (Vec<IdentityKeyPair>, GroupSession, GroupSession) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let ids: Vec<IdentityKeyPair> = (0..n)
            .map(|_| IdentityKeyPair::generate(&mut rng))
            .collect();
        let others: Vec<_> = ids
            .iter()
            .skip(1)
            .map(|k| (*k.public(), GroupRole::Member))
            .collect();
        let created = GroupSession::create(&ids[0], &others, &mut rng).unwrap();
        let mut ga = created.session;
        let mut gb = GroupSession::join(&ids[1], &created.welcome.bytes, ids[0].public(), &mut rng)
            .unwrap()
            .session;
        let jc =
            GroupSession::join(&ids[2], &created.welcome.bytes, ids[0].public(), &mut rng).unwrap();
        let _ = gb
            .receive_distribution(auth(ids[0].public()), &created.distribution.bytes)
            .unwrap();
        let _ = gb
            .receive_distribution(auth(ids[2].public()), &jc.distribution.bytes)
            .unwrap();
        let msgs: Vec<_> = (0..3u8)
            .map(|i| ga.encrypt(&[i], &mut rng).unwrap())
            .collect();
        let _ = gb.decrypt(&msgs[2], NOW).unwrap();
        assert_eq!(gb.stored_skipped_keys(), 2);
        (ids, ga, gb)
    }

    /// A blob of the format version that holds this snapshot version.
    trait Sealable {
        fn sealed(&self) -> Vec<u8>;
    }

    impl Sealable for GroupSessionSnapshotV2 {
        fn sealed(&self) -> Vec<u8> {
            let mut rng = ChaCha20Rng::seed_from_u64(99);
            // Built from the raw bytes: some tests store an invalid `own` on purpose.
            let binding = Binding {
                identity: self.base.own,
                peer: None,
                session_id: None,
                group_id: Some(self.base.roster.group_id),
            };
            let label = BlobLabel::default();
            seal_state(
                self,
                StateType::GroupSession,
                &binding,
                &label,
                0,
                &key(),
                &mut rng,
            )
        }
    }

    impl Sealable for GroupSessionSnapshotV1 {
        fn sealed(&self) -> Vec<u8> {
            crate::persist::seal_v1_for_tests(self, StateType::GroupSession, &key())
        }
    }

    fn seal<T: Sealable>(snapshot: &T) -> Vec<u8> {
        snapshot.sealed()
    }

    fn restore(blob: &[u8]) -> Result<GroupSession, RestoreError> {
        GroupSession::from_encrypted(blob, &key(), 0, &Expected::any())
    }

    fn limit(name: &'static str, max: usize) -> RestoreError {
        RestoreError::LimitExceeded {
            limit: name,
            max: u64::try_from(max).unwrap(),
        }
    }

    fn some_chain(v: &GroupSessionSnapshotV1) -> InboundChainV1 {
        let c = &v.inbound[0].chains[0];
        InboundChainV1 {
            key_id: c.key_id,
            key_epoch: c.key_epoch,
            signing_key: c.signing_key,
            chain_key: c.chain_key.clone(),
            next: c.next,
            first: c.first,
            expired_below: c.expired_below,
        }
    }

    #[test]
    fn restore_enforces_the_member_limit_at_and_past_its_edge() {
        use crate::group::MAX_GROUP_MEMBERS;
        let (_, _, gb) = member_b(3, 20);
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        let mut v = GroupSessionSnapshotV2::from_live(&gb);
        while v.base.roster.members.len() < MAX_GROUP_MEMBERS {
            v.base.roster.members.push(RosterMemberV1 {
                identity: IdentityKeyPair::generate(&mut rng).public().to_bytes(),
                role: 2,
                added_epoch: 0,
            });
        }
        v.base.roster.members.sort_by_key(|m| m.identity);
        let at = restore(&seal(&v)).unwrap();
        assert_eq!(at.roster().members().len(), MAX_GROUP_MEMBERS);
        v.base.roster.members.push(RosterMemberV1 {
            identity: [0xff; 32],
            role: 2,
            added_epoch: 0,
        });
        let err = restore(&seal(&v)).unwrap_err();
        assert_eq!(err, limit("MAX_GROUP_MEMBERS", MAX_GROUP_MEMBERS));
        assert_eq!(err.kind(), crate::ErrorKind::LimitExceeded);
        assert_eq!(
            err.to_string(),
            "restored state exceeds the limit `MAX_GROUP_MEMBERS` of 1000"
        );
        // The same in a version-1 snapshot.
        assert_eq!(
            restore(&seal(&v.base)).unwrap_err(),
            limit("MAX_GROUP_MEMBERS", MAX_GROUP_MEMBERS)
        );
        // Limits come before every other check (here: our own key is not a valid key).
        v.base.own = [0xff; 32];
        assert_eq!(
            restore(&seal(&v)).unwrap_err(),
            limit("MAX_GROUP_MEMBERS", MAX_GROUP_MEMBERS)
        );
        v.base.roster.members.pop();
        assert_eq!(restore(&seal(&v)).unwrap_err(), RestoreError::Corrupt);
    }

    #[test]
    fn restore_enforces_the_sender_key_limit_at_and_past_its_edge() {
        let (_, _, gb) = member_b(3, 22);
        let mut v = GroupSessionSnapshotV2::from_live(&gb);
        let mut second = some_chain(&v.base);
        second.key_id = 9;
        v.base.inbound[0].chains.push(second);
        let at = restore(&seal(&v)).unwrap();
        assert_eq!(at.inbound.values().map(|k| k.chains.len()).max(), Some(2));
        let mut third = some_chain(&v.base);
        third.key_id = 10;
        v.base.inbound[0].chains.push(third);
        let expected = limit("MAX_SENDER_KEYS_PER_MEMBER", MAX_SENDER_KEYS_PER_MEMBER);
        assert_eq!(restore(&seal(&v)).unwrap_err(), expected);
        assert_eq!(restore(&seal(&v.base)).unwrap_err(), expected);
    }

    #[test]
    fn restore_enforces_the_skipped_key_limit_at_and_past_its_edge() {
        let (ids, _, gb) = member_b(3, 23);
        let mut v = GroupSessionSnapshotV2::from_live(&gb);
        let a = ids[0].public().to_bytes();
        let chain = v.base.inbound.iter_mut().find(|m| m.member == a).unwrap();
        chain.chains[0].next = 5_000;
        let key_id = chain.chains[0].key_id;
        v.base.skipped = (0..MAX_GROUP_SKIPPED_KEYS)
            .map(|i| SkippedKeyV1 {
                sender: a,
                key_id,
                index: u32::try_from(i).unwrap(),
                key: Zeroizing::new([1; 32]),
            })
            .collect();
        let at = restore(&seal(&v)).unwrap();
        assert_eq!(at.stored_skipped_keys(), MAX_GROUP_SKIPPED_KEYS);
        v.base.skipped.push(SkippedKeyV1 {
            sender: a,
            key_id,
            index: 4_000,
            key: Zeroizing::new([1; 32]),
        });
        let expected = limit("MAX_GROUP_SKIPPED_KEYS", MAX_GROUP_SKIPPED_KEYS);
        assert_eq!(restore(&seal(&v)).unwrap_err(), expected);
        assert_eq!(restore(&seal(&v.base)).unwrap_err(), expected);
    }

    #[test]
    fn restore_enforces_the_old_epoch_count_at_and_past_its_edge() {
        let (ids, _, gb) = member_b(3, 24);
        let mut v = GroupSessionSnapshotV2::from_live(&gb);
        v.old_epoch.removal_applied_at = Some(NOW.as_unix_secs());
        v.old_epoch.accepted = vec![OldEpochCountV2 {
            member: ids[0].public().to_bytes(),
            accepted: MAX_OLD_EPOCH_MESSAGES,
        }];
        let at = restore(&seal(&v)).unwrap();
        assert_eq!(
            at.inbound[ids[0].public().as_bytes()].old_epoch_accepted,
            MAX_OLD_EPOCH_MESSAGES
        );
        assert_eq!(at.removal_applied_at, Some(NOW));
        v.old_epoch.accepted[0].accepted = MAX_OLD_EPOCH_MESSAGES + 1;
        assert_eq!(
            restore(&seal(&v)).unwrap_err(),
            limit(
                "MAX_OLD_EPOCH_MESSAGES",
                usize::try_from(MAX_OLD_EPOCH_MESSAGES).unwrap()
            )
        );
        // Counts only for members whose keys are held, in increasing order, each once.
        v.old_epoch.accepted = vec![OldEpochCountV2 {
            member: ids[2].public().to_bytes(),
            accepted: 1,
        }];
        assert!(restore(&seal(&v)).is_ok());
        v.old_epoch.accepted[0].member = ids[1].public().to_bytes();
        assert_eq!(restore(&seal(&v)).unwrap_err(), RestoreError::Corrupt);
        let (x, y) = (ids[0].public().to_bytes(), ids[2].public().to_bytes());
        let (lo, hi) = if x < y { (x, y) } else { (y, x) };
        v.old_epoch.accepted = [hi, lo]
            .map(|member| OldEpochCountV2 {
                member,
                accepted: 1,
            })
            .into();
        assert_eq!(restore(&seal(&v)).unwrap_err(), RestoreError::Corrupt);
    }

    /// `honest` plus the point of order 2: on the curve, not of small order, not torsion-free.
    fn mixed_order(honest: &[u8; 32]) -> [u8; 32] {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let mut t = [0xffu8; 32];
        t[0] = 0xec;
        t[31] = 0x7f;
        let torsion = CompressedEdwardsY(t).decompress().unwrap();
        let point = CompressedEdwardsY(*honest).decompress().unwrap();
        (point + torsion).compress().to_bytes()
    }

    #[test]
    fn signing_keys_are_restored_with_the_wire_checks() {
        let (ids, mut ga, gb) = member_b(3, 25);
        let a = ids[0].public().to_bytes();
        let mut v = GroupSessionSnapshotV2::from_live(&gb);
        let at = v.base.inbound.iter().position(|m| m.member == a).unwrap();
        let honest = v.base.inbound[at].chains[0].signing_key;
        v.base.inbound[at].chains[0].signing_key = mixed_order(&honest);
        assert!(
            VerifyingKeyProbe::accepts_loosely(&v.base.inbound[at].chains[0].signing_key),
            "the key is one an older build accepted"
        );
        // Version 2 is written only by builds that check keys on the wire, and a blob's keys
        // get the structural checks only (SPEC.md §11.8): such a key, which only the holder of
        // the storage key can put there, is restored (and verifies strictly under its own
        // encoding). Where the storage key does not authenticate the snapshot (a backup
        // entry) it is corrupt.
        assert!(restore(&seal(&v)).is_ok());
        let plain = postcard::to_allocvec(&v).unwrap();
        assert_eq!(decode_snapshot(&plain).err(), Some(RestoreError::Corrupt));
        #[cfg(feature = "serde")]
        {
            // Nor through the serde feature (SPEC.md §11.5): full checks.
            let versioned = postcard::to_allocvec(&(2u16, &v)).unwrap();
            assert!(postcard::from_bytes::<GroupSession>(&versioned).is_err());
            let honest = GroupSessionSnapshotV2::from_live(&gb);
            let versioned = postcard::to_allocvec(&(2u16, &honest)).unwrap();
            assert!(postcard::from_bytes::<GroupSession>(&versioned).unwrap() == gb);
        }
        // What fails a structural check is corrupt in a blob too: small order, and a
        // non-canonical encoding of an honest key's y (y + p, which fits when y < 19).
        let mut small = [0xffu8; 32];
        small[0] = 0xec;
        small[31] = 0x7f;
        let mut order_two = GroupSessionSnapshotV2::from_live(&gb);
        order_two.base.inbound[at].chains[0].signing_key = small;
        assert_eq!(
            restore(&seal(&order_two)).unwrap_err(),
            RestoreError::Corrupt
        );
        let mut non_canonical = GroupSessionSnapshotV2::from_live(&gb);
        non_canonical.base.inbound[at].chains[0].signing_key = non_canonical_of_identity();
        assert_eq!(
            restore(&seal(&non_canonical)).unwrap_err(),
            RestoreError::Corrupt
        );
        // Version 1 may hold such a key from an older build: the chain and its stored keys
        // are dropped, the rest is kept.
        let migrated = restore(&seal(&v.base)).unwrap();
        assert_eq!(
            migrated.held_sender_keys(ids[0].public()),
            Vec::<u32>::new()
        );
        assert_eq!(migrated.held_sender_keys(ids[2].public()), vec![0]);
        assert_eq!(migrated.stored_skipped_keys(), 0);
        let mut m = migrated.clone();
        let next = ga
            .encrypt(b"x", &mut ChaCha20Rng::seed_from_u64(1))
            .unwrap();
        assert_eq!(
            m.decrypt(&next, NOW).unwrap_err(),
            crate::group::GroupError::UnknownSenderKey { key_id: 0 }
        );
        // The sender's next key id stays required: its old key cannot be re-sent.
        assert_eq!(migrated.inbound[&a].next_key_id, 1);
    }

    /// `y = p + 1`, a non-canonical encoding of the identity point's `y = 1` that
    /// curve25519-dalek decompresses (to a small-order point, so the canonical-`y` check is
    /// what must refuse it first; [`crate::keys::y_is_canonical`] is tested on its own).
    fn non_canonical_of_identity() -> [u8; 32] {
        let mut b = [0xffu8; 32];
        b[0] = 0xee;
        b[31] = 0x7f;
        b
    }

    /// Bytes that pass the checks of a key restored from a blob (canonical `y`, not of small
    /// order) but do not decode: `from` with its first byte changed.
    fn undecodable(from: &[u8; 32]) -> [u8; 32] {
        (0u8..=255)
            .map(|first| {
                let mut b = *from;
                b[0] = first;
                b
            })
            .find(|b| {
                crate::keys::y_is_canonical(b)
                    && !crate::keys::is_small_order_encoding(b)
                    && ed25519_dalek::VerifyingKey::from_bytes(b).is_err()
            })
            .unwrap()
    }

    /// A signing key in a version 2 blob that passes the checks on restore but does not
    /// decode (only a blob made with the storage key holds one) is caught at first use: a
    /// message under it is refused as `BadSignature`, without a panic, and the session is
    /// unchanged.
    #[test]
    fn an_undecodable_stored_signing_key_fails_at_first_use() {
        let (ids, mut ga, gb) = member_b(3, 27);
        let a = ids[0].public().to_bytes();
        let mut v = GroupSessionSnapshotV2::from_live(&gb);
        let at = v.base.inbound.iter().position(|m| m.member == a).unwrap();
        let honest = v.base.inbound[at].chains[0].signing_key;
        v.base.inbound[at].chains[0].signing_key = undecodable(&honest);
        let mut restored = restore(&seal(&v)).unwrap();
        let before = restored.clone();
        let next = ga
            .encrypt(b"x", &mut ChaCha20Rng::seed_from_u64(2))
            .unwrap();
        assert_eq!(
            restored.decrypt(&next, NOW).unwrap_err(),
            crate::group::GroupError::BadSignature
        );
        assert!(restored == before);
        let mut honest = restore(&seal(&GroupSessionSnapshotV2::from_live(&gb))).unwrap();
        assert_eq!(honest.decrypt(&next, NOW).unwrap().plaintext, b"x");
    }

    /// What older builds checked of a signing key: a point, not of small order.
    struct VerifyingKeyProbe;

    impl VerifyingKeyProbe {
        fn accepts_loosely(bytes: &[u8; 32]) -> bool {
            ed25519_dalek::VerifyingKey::from_bytes(bytes).is_ok_and(|k| !k.is_weak())
        }
    }

    #[test]
    fn version_1_and_2_snapshots_restore_the_same_state() {
        let (_, _, gb) = member_b(3, 26);
        let v1 = seal(&GroupSessionSnapshotV1::from_live(&gb));
        let v2 = seal(&GroupSessionSnapshotV2::from_live(&gb));
        assert!(restore(&v1).unwrap() == gb);
        assert!(restore(&v2).unwrap() == gb);
        // A version-2 snapshot is version 1's, then the window (here: no removal, no count).
        let v1_len = postcard::to_allocvec(&GroupSessionSnapshotV1::from_live(&gb)).unwrap();
        let v2_len = postcard::to_allocvec(&GroupSessionSnapshotV2::from_live(&gb)).unwrap();
        assert_eq!(v2_len.len(), v1_len.len() + 2);
        // Anything else after the version-1 fields is not a snapshot.
        let junk = (GroupSessionSnapshotV1::from_live(&gb), 7u8, 7u8, 7u8);
        let blob = crate::persist::seal_v1_for_tests(&junk, StateType::GroupSession, &key());
        assert_eq!(restore(&blob).unwrap_err(), RestoreError::Corrupt);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn the_serde_path_reads_both_versions_and_enforces_the_limits() {
        let (_, _, gb) = member_b(3, 27);
        let written = postcard::to_allocvec(&gb).unwrap();
        assert_eq!(written.first(), Some(&2));
        assert!(postcard::from_bytes::<GroupSession>(&written).unwrap() == gb);
        let v1 = postcard::to_allocvec(&(1u16, GroupSessionSnapshotV1::from_live(&gb))).unwrap();
        assert!(postcard::from_bytes::<GroupSession>(&v1).unwrap() == gb);
        let v3 = postcard::to_allocvec(&(3u16, GroupSessionSnapshotV2::from_live(&gb))).unwrap();
        assert!(postcard::from_bytes::<GroupSession>(&v3).is_err());
        let mut v = GroupSessionSnapshotV2::from_live(&gb);
        let mut extra = some_chain(&v.base);
        extra.key_id = 9;
        v.base.inbound[0].chains.push(extra);
        let mut extra = some_chain(&v.base);
        extra.key_id = 10;
        v.base.inbound[0].chains.push(extra);
        let over = serde_json::to_string(&(2u16, &v)).unwrap();
        let err = serde_json::from_str::<GroupSession>(&over).unwrap_err();
        assert!(
            err.to_string()
                .contains("exceeds the limit `MAX_SENDER_KEYS_PER_MEMBER` of 2"),
            "{err}"
        );
    }
}
