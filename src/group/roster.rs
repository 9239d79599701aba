//! The authenticated roster: who is in a group, with which role, at which epoch
//! (SPEC.md §14.5).

use core::fmt;

use super::MAX_GROUP_MEMBERS;
use super::error::RosterError;
use super::kdf::roster_hash;
use crate::keys::IdentityKey;

/// A group's public, unique name: 32 random bytes chosen by its creator.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId([u8; 32]);

impl GroupId {
    /// Wraps 32 bytes (for example a group id stored by the app).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        GroupId(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId(")?;
        for b in self.0.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// A member's role in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupRole {
    /// May sign roster changes.
    Admin,
    /// May read and send, and leave.
    Member,
}

impl GroupRole {
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            GroupRole::Admin => 1,
            GroupRole::Member => 2,
        }
    }

    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(GroupRole::Admin),
            2 => Some(GroupRole::Member),
            _ => None,
        }
    }
}

/// One entry of a roster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RosterMember {
    pub(crate) identity: IdentityKey,
    pub(crate) role: GroupRole,
    pub(crate) added_epoch: u64,
}

impl RosterMember {
    /// The member's identity key.
    pub fn identity(&self) -> &IdentityKey {
        &self.identity
    }

    /// The member's role.
    pub fn role(&self) -> GroupRole {
        self.role
    }

    /// The epoch at which the member was added (0 for the genesis members).
    pub fn added_epoch(&self) -> u64 {
        self.added_epoch
    }
}

/// One change to a roster. Each change creates the next epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RosterOp {
    /// Add a member (signed by an admin).
    Add {
        /// The new member's identity key.
        member: IdentityKey,
        /// Its role.
        role: GroupRole,
    },
    /// Remove a member (signed by an admin, or by the member itself to leave). Every
    /// remaining member then rotates its sender key.
    Remove {
        /// The member to remove.
        member: IdentityKey,
    },
    /// Change a member's role (signed by an admin).
    SetRole {
        /// The member.
        member: IdentityKey,
        /// Its new role.
        role: GroupRole,
    },
}

impl RosterOp {
    /// The op byte on the wire.
    pub(crate) fn code(&self) -> u8 {
        match self {
            RosterOp::Add { .. } => 1,
            RosterOp::Remove { .. } => 2,
            RosterOp::SetRole { .. } => 3,
        }
    }

    /// The identity the change is about.
    pub fn member(&self) -> &IdentityKey {
        match self {
            RosterOp::Add { member, .. }
            | RosterOp::Remove { member }
            | RosterOp::SetRole { member, .. } => member,
        }
    }

    /// The role byte on the wire (0 for a removal).
    pub(crate) fn role_byte(&self) -> u8 {
        match self {
            RosterOp::Add { role, .. } | RosterOp::SetRole { role, .. } => role.to_byte(),
            RosterOp::Remove { .. } => 0,
        }
    }
}

/// A group's membership at one epoch. Every member holds the same roster at the same epoch:
/// each epoch names the hash of the one before, so histories cannot silently diverge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roster {
    pub(crate) group_id: GroupId,
    pub(crate) epoch: u64,
    /// Hash of the roster at `epoch - 1` (zeros at genesis).
    pub(crate) previous_hash: [u8; 32],
    /// The epoch of the last removal (0 if none): sender keys from before it are retired.
    pub(crate) rekey_epoch: u64,
    /// Sorted by identity key bytes, no duplicates, at most [`MAX_GROUP_MEMBERS`].
    pub(crate) members: Vec<RosterMember>,
}

impl Roster {
    /// The group's id.
    pub fn group_id(&self) -> GroupId {
        self.group_id
    }

    /// The epoch: 0 for the genesis roster, one more for each change.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The hash of the roster at the previous epoch (zeros at genesis).
    pub fn previous_hash(&self) -> &[u8; 32] {
        &self.previous_hash
    }

    /// The epoch of the last removal (0 if nobody was ever removed).
    pub fn rekey_epoch(&self) -> u64 {
        self.rekey_epoch
    }

    /// Every member, sorted by identity key bytes: who can read what is sent now.
    pub fn members(&self) -> &[RosterMember] {
        &self.members
    }

    /// The entry of `identity`, if it is a member.
    pub fn member(&self, identity: &IdentityKey) -> Option<&RosterMember> {
        self.position(identity)
            .ok()
            .and_then(|i| self.members.get(i))
    }

    /// Whether `identity` is an admin.
    pub fn is_admin(&self, identity: &IdentityKey) -> bool {
        self.member(identity)
            .is_some_and(|m| m.role == GroupRole::Admin)
    }

    /// This roster's hash (SPEC.md §14.2.4): the next epoch's change names it.
    pub fn hash(&self) -> [u8; 32] {
        roster_hash(&self.body_bytes())
    }

    fn position(&self, identity: &IdentityKey) -> Result<usize, usize> {
        self.position_of_bytes(identity.as_bytes())
    }

    fn position_of_bytes(&self, bytes: &[u8; 32]) -> Result<usize, usize> {
        self.members
            .binary_search_by(|m| m.identity.as_bytes().cmp(bytes))
    }

    /// The entry whose identity key encodes as `bytes`, if any.
    pub(crate) fn member_by_bytes(&self, bytes: &[u8; 32]) -> Option<&RosterMember> {
        self.position_of_bytes(bytes)
            .ok()
            .and_then(|i| self.members.get(i))
    }

    /// The roster body: what the roster hash and the roster signature cover (after the
    /// version and type bytes).
    pub(crate) fn body_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            super::wire::ROSTER_BODY_FIXED_LEN
                + super::wire::ROSTER_MEMBER_LEN * self.members.len(),
        );
        self.encode_body(&mut out);
        out
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.group_id.as_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.previous_hash);
        out.extend_from_slice(&self.rekey_epoch.to_be_bytes());
        let count = u16::try_from(self.members.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for m in &self.members {
            out.extend_from_slice(m.identity.as_bytes());
            out.push(m.role.to_byte());
            out.extend_from_slice(&m.added_epoch.to_be_bytes());
        }
    }

    /// Checks what every roster must satisfy beyond its encoding: at least one admin, at most
    /// [`MAX_GROUP_MEMBERS`] members, sorted without duplicates, consistent epochs.
    pub(crate) fn check(&self) -> Result<(), RosterError> {
        if self.members.len() > MAX_GROUP_MEMBERS {
            return Err(RosterError::TooManyMembers {
                max: MAX_GROUP_MEMBERS,
            });
        }
        if !self.members.iter().any(|m| m.role == GroupRole::Admin) {
            return Err(RosterError::LastAdmin);
        }
        Ok(())
    }

    /// Whether `signer` may sign `op` on this roster: an admin may sign anything; a member may
    /// sign its own removal.
    pub(crate) fn may_sign(&self, op: &RosterOp, signer: &IdentityKey) -> bool {
        self.is_admin(signer)
            || matches!(op, RosterOp::Remove { member } if member == signer && self.member(signer).is_some())
    }

    /// The roster at the next epoch after `op`, signed by `signer`. Checks permission and
    /// validity; `self` is not changed.
    pub(crate) fn apply(&self, op: &RosterOp, signer: &IdentityKey) -> Result<Roster, RosterError> {
        if !self.may_sign(op, signer) {
            return Err(RosterError::NotAdmin {
                signer: signer.to_bytes(),
            });
        }
        let epoch = self
            .epoch
            .checked_add(1)
            .ok_or(RosterError::EpochExhausted)?;
        let mut members = self.members.clone();
        let mut rekey_epoch = self.rekey_epoch;
        match *op {
            RosterOp::Add { member, role } => match self.position(&member) {
                Ok(_) => {
                    return Err(RosterError::AlreadyMember {
                        member: member.to_bytes(),
                    });
                }
                Err(at) => {
                    if members.len() >= MAX_GROUP_MEMBERS {
                        return Err(RosterError::TooManyMembers {
                            max: MAX_GROUP_MEMBERS,
                        });
                    }
                    members.insert(
                        at,
                        RosterMember {
                            identity: member,
                            role,
                            added_epoch: epoch,
                        },
                    );
                }
            },
            RosterOp::Remove { member } => {
                let at = self
                    .position(&member)
                    .map_err(|_| RosterError::NotAMember {
                        member: member.to_bytes(),
                    })?;
                members.remove(at);
                rekey_epoch = epoch;
            }
            RosterOp::SetRole { member, role } => {
                let at = self
                    .position(&member)
                    .map_err(|_| RosterError::NotAMember {
                        member: member.to_bytes(),
                    })?;
                if let Some(entry) = members.get_mut(at) {
                    entry.role = role;
                }
            }
        }
        let next = Roster {
            group_id: self.group_id,
            epoch,
            previous_hash: self.hash(),
            rekey_epoch,
            members,
        };
        next.check()?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentityKeyPair;
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn keys(n: usize) -> Vec<IdentityKey> {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        (0..n)
            .map(|_| *IdentityKeyPair::generate(&mut rng).public())
            .collect()
    }

    fn roster(admin: IdentityKey) -> Roster {
        Roster {
            group_id: GroupId([1; 32]),
            epoch: 0,
            previous_hash: [0; 32],
            rekey_epoch: 0,
            members: vec![RosterMember {
                identity: admin,
                role: GroupRole::Admin,
                added_epoch: 0,
            }],
        }
    }

    #[test]
    fn changes_chain_by_hash_and_keep_members_sorted() {
        let k = keys(4);
        let r0 = roster(k[0]);
        let r1 = r0
            .apply(
                &RosterOp::Add {
                    member: k[1],
                    role: GroupRole::Member,
                },
                &k[0],
            )
            .unwrap();
        let r2 = r1
            .apply(
                &RosterOp::Add {
                    member: k[2],
                    role: GroupRole::Member,
                },
                &k[0],
            )
            .unwrap();
        assert_eq!(r2.epoch, 2);
        assert_eq!(r2.previous_hash, r1.hash());
        assert_eq!(r1.previous_hash, r0.hash());
        assert!(r2.members.windows(2).all(|w| w[0].identity < w[1].identity));
        assert_eq!(r2.member(&k[2]).unwrap().added_epoch, 2);
        // A non-admin may leave but not remove others.
        assert_eq!(
            r2.apply(&RosterOp::Remove { member: k[2] }, &k[1]),
            Err(RosterError::NotAdmin {
                signer: k[1].to_bytes()
            })
        );
        let r3 = r2.apply(&RosterOp::Remove { member: k[1] }, &k[1]).unwrap();
        assert_eq!(r3.rekey_epoch, 3);
        assert!(r3.member(&k[1]).is_none());
        // The last admin can neither leave nor be demoted.
        assert_eq!(
            r3.apply(&RosterOp::Remove { member: k[0] }, &k[0]),
            Err(RosterError::LastAdmin)
        );
        assert_eq!(
            r3.apply(
                &RosterOp::SetRole {
                    member: k[0],
                    role: GroupRole::Member
                },
                &k[0]
            ),
            Err(RosterError::LastAdmin)
        );
        assert_eq!(
            r3.apply(&RosterOp::Remove { member: k[3] }, &k[0]),
            Err(RosterError::NotAMember {
                member: k[3].to_bytes()
            })
        );
        assert_eq!(
            r3.apply(
                &RosterOp::Add {
                    member: k[2],
                    role: GroupRole::Admin
                },
                &k[0]
            ),
            Err(RosterError::AlreadyMember {
                member: k[2].to_bytes()
            })
        );
    }

    #[test]
    fn epoch_cannot_overflow() {
        let k = keys(2);
        let mut r = roster(k[0]);
        r.epoch = u64::MAX;
        assert_eq!(
            r.apply(
                &RosterOp::Add {
                    member: k[1],
                    role: GroupRole::Member
                },
                &k[0]
            ),
            Err(RosterError::EpochExhausted)
        );
    }
}
