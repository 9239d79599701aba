//! Version 1 snapshot of a [`GroupSession`]: plain serde structs mirroring the live state,
//! encoded with postcard and encrypted as the other state blobs are (SPEC.md §11; type tag
//! [`StateType::GroupSession`]). Live types never derive serde; secret fields are
//! `Zeroizing`.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::roster::{GroupId, GroupRole, Roster, RosterMember};
use super::sender_key::{
    InboundChain, MemberKeys, OutboundSenderKey, SkippedKey, SkippedStore, signing_key_from_bytes,
};
use super::session::GroupSession;
use super::{MAX_GROUP_MEMBERS, MAX_GROUP_SKIPPED_KEYS, MAX_SENDER_KEYS_PER_MEMBER};
use crate::error::RestoreError;
use crate::keys::IdentityKey;
use crate::keys::secret::{ChainKey, MessageKey};
use crate::persist::{
    Binding, BlobLabel, Expected, StateType, StorageKey, decode_exact, restore_state, seal_state,
};

type Secret32 = Zeroizing<[u8; 32]>;

fn identity(bytes: &[u8; 32]) -> Result<IdentityKey, RestoreError> {
    IdentityKey::from_bytes(bytes).map_err(|_| RestoreError::Corrupt)
}

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

    fn to_live(&self) -> Result<Roster, RestoreError> {
        if self.members.len() > MAX_GROUP_MEMBERS || self.rekey_epoch > self.epoch {
            return Err(RestoreError::Corrupt);
        }
        let mut members: Vec<RosterMember> = Vec::with_capacity(self.members.len());
        for m in &self.members {
            let key = identity(&m.identity)?;
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

/// Version 1 of the persisted [`GroupSession`].
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
                signing_seed: Zeroizing::new(o.signing.to_bytes()),
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

    fn to_live(&self) -> Result<GroupSession, RestoreError> {
        let own = identity(&self.own)?;
        let roster = self.roster.to_live()?;
        let outbound = self.outbound.as_ref().map(|o| OutboundSenderKey {
            key_id: o.key_id,
            key_epoch: o.key_epoch,
            chain_key: ChainKey::from_bytes(*o.chain_key),
            index: o.index,
            signing: SigningKey::from_bytes(&o.signing_seed),
        });
        // A member holds a sender key; a removed session holds no key at all.
        if outbound.is_some() != roster.member(&own).is_some()
            || (outbound.is_none() && (!self.inbound.is_empty() || !self.skipped.is_empty()))
        {
            return Err(RestoreError::Corrupt);
        }
        let mut inbound = BTreeMap::new();
        for m in &self.inbound {
            let member = identity(&m.member)?;
            if member == own
                || roster.member(&member).is_none()
                || m.chains.len() > MAX_SENDER_KEYS_PER_MEMBER
            {
                return Err(RestoreError::Corrupt);
            }
            let mut keys = MemberKeys {
                chains: Default::default(),
                next_key_id: m.next_key_id,
            };
            for c in &m.chains {
                if c.first > c.next || c.expired_below > c.next || keys.chain(c.key_id).is_some() {
                    return Err(RestoreError::Corrupt);
                }
                keys.chains.push_back(InboundChain {
                    key_id: c.key_id,
                    key_epoch: c.key_epoch,
                    signing: signing_key_from_bytes(&c.signing_key).ok_or(RestoreError::Corrupt)?,
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
        if self.skipped.len() > MAX_GROUP_SKIPPED_KEYS {
            return Err(RestoreError::Corrupt);
        }
        let mut skipped = SkippedStore::with_capacity(self.skipped.len());
        for k in &self.skipped {
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
        })
    }
}

/// The binding of a group session blob (SPEC.md §11.7): our identity and the group id.
fn group_binding(s: &GroupSession) -> Binding {
    Binding::group(&s.own, s.roster.group_id.as_bytes())
}

impl GroupSession {
    /// Exports the group session as an encrypted blob (SPEC.md §11, type tag
    /// [`StateType::GroupSession`]), bound to our identity and the group id; see
    /// [`crate::Account::to_encrypted`] for `generation`.
    pub fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        self.to_encrypted_labeled(key, &BlobLabel::default(), generation, rng)
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
        seal_state(
            &GroupSessionSnapshotV1::from_live(self),
            StateType::GroupSession,
            &group_binding(self),
            label,
            generation,
            key,
            rng,
        )
    }

    /// Restores a group session exported with [`GroupSession::to_encrypted`], rejecting
    /// blobs whose generation is below `min_generation` (pass 0 to accept any) and blobs of
    /// another object than `expected` (usually [`Expected::group`] with the group's id).
    ///
    /// # Errors
    /// [`RestoreError`], as for [`crate::Account::from_encrypted`]; [`RestoreError::Corrupt`]
    /// also when the content breaks an invariant of the group state (unsorted roster,
    /// limits exceeded, keys for non-members).
    pub fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
        expected: &Expected,
    ) -> Result<GroupSession, RestoreError> {
        // The snapshot is the same struct in format versions 1 and 2.
        restore_state(
            bytes,
            StateType::GroupSession,
            key,
            min_generation,
            expected,
            |_version, snapshot| decode_exact::<GroupSessionSnapshotV1>(snapshot)?.to_live(),
            group_binding,
        )
    }
}

/// Plain serde for apps that encrypt state themselves: the same versioned snapshot as the
/// encrypted blob, prefixed by the format version.
#[cfg(feature = "serde")]
mod plain_serde {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{GroupSession, GroupSessionSnapshotV1};
    use crate::persist::STATE_FORMAT_VERSION;

    impl Serialize for GroupSession {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            (
                STATE_FORMAT_VERSION,
                GroupSessionSnapshotV1::from_live(self),
            )
                .serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for GroupSession {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let (version, snapshot) = <(u16, GroupSessionSnapshotV1)>::deserialize(deserializer)?;
            // The snapshot is the same struct in format versions 1 and 2.
            if version == 0 || version > STATE_FORMAT_VERSION {
                return Err(D::Error::custom("unknown hushwire state format version"));
            }
            snapshot.to_live().map_err(D::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::group::GroupRole;
    use crate::keys::IdentityKeyPair;

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
            .receive_distribution(a.public(), &created.distribution.bytes)
            .unwrap();
        let msgs: Vec<_> = (0..5)
            .map(|i| ga.encrypt(&[i], &mut rng).unwrap())
            .collect();
        assert_eq!(gb.decrypt(&msgs[3]).unwrap().plaintext, [3]);
        assert_eq!(gb.stored_skipped_keys(), 3);

        let blob = gb.to_encrypted(&key(), 4, &mut rng);
        let mut restored =
            GroupSession::from_encrypted(&blob, &key(), 4, &Expected::any()).unwrap();
        assert!(restored == gb);
        assert_eq!(restored.decrypt(&msgs[1]).unwrap().plaintext, [1]);
        assert_eq!(restored.decrypt(&msgs[4]).unwrap().plaintext, [4]);
        assert!(matches!(
            restored.decrypt(&msgs[3]),
            Err(crate::group::GroupError::Duplicate { index: 3 })
        ));

        let blob = ga.to_encrypted(&key(), 1, &mut rng);
        let mut ga2 = GroupSession::from_encrypted(&blob, &key(), 0, &Expected::any()).unwrap();
        assert!(ga2 == ga);
        let m = ga2.encrypt(b"after restore", &mut rng).unwrap();
        assert_eq!(restored.decrypt(&m).unwrap().plaintext, b"after restore");

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
}
