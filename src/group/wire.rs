//! Wire formats of the group protocol (SPEC.md §14.6): group message, distribution
//! message, roster (welcome) and roster change. Decoding is strict and never panics.

use zeroize::Zeroizing;

use super::roster::{GroupId, GroupRole, Roster, RosterMember, RosterOp};
use super::sender_key::{OutboundSenderKey, signing_key_from_bytes};
use super::{MAX_GROUP_MEMBERS, MAX_GROUP_MESSAGE_LEN, kdf};
use crate::aead::{NONCE_LEN, TAG_LEN};
use crate::error::DecodeError;
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::wire::{
    Reader, TYPE_GROUP_DISTRIBUTION, TYPE_GROUP_DISTRIBUTION_V2, TYPE_GROUP_MESSAGE,
    TYPE_GROUP_ROSTER, TYPE_GROUP_ROSTER_CHANGE, WIRE_VERSION, expect_header, expect_version,
};

/// Length of an Ed25519 signature.
pub(crate) const SIGNATURE_LEN: usize = 64;
/// Bytes of a group message before its body: version, type, group id, epoch, sender,
/// sender-key id, chain index, nonce.
pub(crate) const MESSAGE_HEADER_LEN: usize = 2 + 32 + 8 + 32 + 4 + 4 + NONCE_LEN;
/// Length of a (version 2) distribution message: version, type, group id, epoch, sender,
/// sender-key id, sender-key epoch, chain index, chain key, signing key.
pub(crate) const DISTRIBUTION_LEN: usize = 2 + 32 + 8 + 32 + 4 + 8 + 4 + 32 + 32;
/// Bytes of a version-1 distribution message before its signature: the same fields.
pub(crate) const DISTRIBUTION_V1_SIGNED_LEN: usize = DISTRIBUTION_LEN;
/// Length of a version-1 distribution message (signed by the sender's identity key).
pub(crate) const DISTRIBUTION_V1_LEN: usize = DISTRIBUTION_V1_SIGNED_LEN + SIGNATURE_LEN;
/// Bytes of a roster change before its signature.
pub(crate) const ROSTER_CHANGE_SIGNED_LEN: usize = 2 + 32 + 8 + 32 + 1 + 32 + 1 + 32;
/// Length of a roster change.
pub(crate) const ROSTER_CHANGE_LEN: usize = ROSTER_CHANGE_SIGNED_LEN + SIGNATURE_LEN;
/// Fixed bytes of a roster body: group id, epoch, previous hash, rekey epoch, member count.
pub(crate) const ROSTER_BODY_FIXED_LEN: usize = 32 + 8 + 32 + 8 + 2;
/// Bytes per member in a roster body: identity key, role, added epoch.
pub(crate) const ROSTER_MEMBER_LEN: usize = 32 + 1 + 8;
/// Bytes of an encoded roster besides its members: version, type, fixed body, signer,
/// signature.
pub(crate) const ROSTER_FIXED_LEN: usize = 2 + ROSTER_BODY_FIXED_LEN + 32 + SIGNATURE_LEN;

/// Which group structure some bytes hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupWireKind {
    /// A group message (type 0x20).
    Message,
    /// A sender-key distribution message (type 0x24, or 0x21 from an older peer).
    Distribution,
    /// A signed roster, sent as a welcome (type 0x22).
    Roster,
    /// A signed roster change (type 0x23).
    RosterChange,
}

fn u64_field(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
    Ok(u64::from_be_bytes(r.array::<8>()?))
}

fn identity_field(r: &mut Reader<'_>, field: &'static str) -> Result<IdentityKey, DecodeError> {
    IdentityKey::from_bytes(&r.array::<32>()?).map_err(|_| DecodeError::InvalidField { field })
}

fn index_field(r: &mut Reader<'_>) -> Result<u32, DecodeError> {
    let index = r.u32()?;
    if index == u32::MAX {
        return Err(DecodeError::InvalidField {
            field: "chain_index",
        });
    }
    Ok(index)
}

/// Reads the kind and group id of any group structure, for routing it to its
/// [`super::GroupSession`] without decoding or checking the rest.
///
/// # Errors
/// [`DecodeError`] if the input is shorter than 34 bytes or names an unknown version, or a
/// type that is not a group structure.
pub fn peek(bytes: &[u8]) -> Result<(GroupWireKind, GroupId), DecodeError> {
    let mut r = Reader::new(bytes);
    expect_version(&mut r)?;
    let kind = match r.u8()? {
        TYPE_GROUP_MESSAGE => GroupWireKind::Message,
        TYPE_GROUP_DISTRIBUTION | TYPE_GROUP_DISTRIBUTION_V2 => GroupWireKind::Distribution,
        TYPE_GROUP_ROSTER => GroupWireKind::Roster,
        TYPE_GROUP_ROSTER_CHANGE => GroupWireKind::RosterChange,
        other => return Err(DecodeError::UnknownType(other)),
    };
    Ok((kind, GroupId::from_bytes(r.array::<32>()?)))
}

// ---------------------------------------------------------------------------------------
// Group message
// ---------------------------------------------------------------------------------------

/// A decoded group message, borrowing the input.
pub(crate) struct MessageWire<'a> {
    pub(crate) group_id: GroupId,
    pub(crate) epoch: u64,
    /// The sender's identity key as sent: looked up in the roster, whose keys are checked.
    pub(crate) sender: [u8; 32],
    pub(crate) key_id: u32,
    pub(crate) index: u32,
    pub(crate) nonce: [u8; NONCE_LEN],
    /// `bytes[0..94]`: the body's associated data.
    pub(crate) header: &'a [u8],
    /// Ciphertext and tag.
    pub(crate) body: &'a [u8],
    /// Everything before the signature.
    pub(crate) signed: &'a [u8],
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

pub(crate) fn decode_message(bytes: &[u8]) -> Result<MessageWire<'_>, DecodeError> {
    let mut r = Reader::new(bytes);
    expect_header(
        &mut r,
        bytes.len(),
        TYPE_GROUP_MESSAGE,
        MAX_GROUP_MESSAGE_LEN,
    )?;
    let group_id = GroupId::from_bytes(r.array::<32>()?);
    let epoch = u64_field(&mut r)?;
    let sender = r.array::<32>()?;
    let key_id = r.u32()?;
    let index = index_field(&mut r)?;
    let nonce = r.array::<NONCE_LEN>()?;
    let rest = r.rest();
    let min = TAG_LEN + SIGNATURE_LEN;
    if rest.len() < min {
        return Err(DecodeError::Truncated {
            needed: min - rest.len(),
        });
    }
    let body_len = rest.len() - SIGNATURE_LEN;
    let (body, signature) = rest
        .split_at_checked(body_len)
        .ok_or(DecodeError::Truncated {
            needed: SIGNATURE_LEN,
        })?;
    let signed_len = MESSAGE_HEADER_LEN + body_len;
    let (Some(header), Some(signed), Ok(signature)) = (
        bytes.get(..MESSAGE_HEADER_LEN),
        bytes.get(..signed_len),
        <[u8; SIGNATURE_LEN]>::try_from(signature),
    ) else {
        return Err(DecodeError::Truncated {
            needed: SIGNATURE_LEN,
        });
    };
    Ok(MessageWire {
        group_id,
        epoch,
        sender,
        key_id,
        index,
        nonce,
        header,
        body,
        signed,
        signature,
    })
}

/// The header of a group message (the body's associated data).
pub(crate) fn encode_message_header(
    group_id: &GroupId,
    epoch: u64,
    sender: &IdentityKey,
    key_id: u32,
    index: u32,
    nonce: &[u8; NONCE_LEN],
    out: &mut Vec<u8>,
) {
    out.push(WIRE_VERSION);
    out.push(TYPE_GROUP_MESSAGE);
    out.extend_from_slice(group_id.as_bytes());
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(sender.as_bytes());
    out.extend_from_slice(&key_id.to_be_bytes());
    out.extend_from_slice(&index.to_be_bytes());
    out.extend_from_slice(nonce);
}

// ---------------------------------------------------------------------------------------
// Distribution message
// ---------------------------------------------------------------------------------------

/// A decoded distribution message (either version). The chain key is copied into a
/// zeroizing buffer.
pub(crate) struct DistributionWire<'a> {
    pub(crate) group_id: GroupId,
    pub(crate) epoch: u64,
    /// The sender's identity key as sent: it must equal the identity the 1:1 channel
    /// authenticated (and is thereby checked as an identity key).
    pub(crate) sender: [u8; 32],
    pub(crate) key_id: u32,
    pub(crate) key_epoch: u64,
    pub(crate) index: u32,
    pub(crate) chain_key: Zeroizing<[u8; 32]>,
    /// The sender key's public signing key (checked as identity keys are, SPEC.md §2.3).
    pub(crate) signing: ed25519_dalek::VerifyingKey,
    /// Version 1 (`0x21`) only: the signed bytes and the sender's identity signature.
    pub(crate) legacy_signature: Option<(&'a [u8], [u8; SIGNATURE_LEN])>,
}

/// Decodes a distribution message: version 2 (`0x24`, what this build sends) or version 1
/// (`0x21`, signed by the sender's identity key, from older peers). Any other type is
/// reported against version 2.
pub(crate) fn decode_distribution(bytes: &[u8]) -> Result<DistributionWire<'_>, DecodeError> {
    let legacy = bytes.get(..2) == Some(&[WIRE_VERSION, TYPE_GROUP_DISTRIBUTION][..]);
    let mut r = Reader::new(bytes);
    if legacy {
        expect_header(
            &mut r,
            bytes.len(),
            TYPE_GROUP_DISTRIBUTION,
            DISTRIBUTION_V1_LEN,
        )?;
    } else {
        expect_header(
            &mut r,
            bytes.len(),
            TYPE_GROUP_DISTRIBUTION_V2,
            DISTRIBUTION_LEN,
        )?;
    }
    let group_id = GroupId::from_bytes(r.array::<32>()?);
    let epoch = u64_field(&mut r)?;
    let sender = r.array::<32>()?;
    let key_id = r.u32()?;
    let key_epoch = u64_field(&mut r)?;
    if key_epoch > epoch {
        return Err(DecodeError::InvalidField { field: "key_epoch" });
    }
    let index = index_field(&mut r)?;
    let chain_key = Zeroizing::new(r.array::<32>()?);
    let signing = signing_key_from_bytes(&r.array::<32>()?).ok_or(DecodeError::InvalidField {
        field: "signing_key",
    })?;
    let legacy_signature = if legacy {
        let signature = r.array::<SIGNATURE_LEN>()?;
        let signed = bytes
            .get(..DISTRIBUTION_V1_SIGNED_LEN)
            .ok_or(DecodeError::Truncated {
                needed: DISTRIBUTION_V1_LEN,
            })?;
        Some((signed, signature))
    } else {
        None
    };
    r.finish()?;
    Ok(DistributionWire {
        group_id,
        epoch,
        sender,
        key_id,
        key_epoch,
        index,
        chain_key,
        signing,
        legacy_signature,
    })
}

/// Encodes a version-2 distribution message for `key` at its current position, from
/// `sender`. It carries no signature: the 1:1 session that delivers it authenticates it.
pub(crate) fn encode_distribution(
    group_id: &GroupId,
    epoch: u64,
    sender: &IdentityKey,
    key: &OutboundSenderKey,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(DISTRIBUTION_LEN);
    out.push(WIRE_VERSION);
    out.push(TYPE_GROUP_DISTRIBUTION_V2);
    out.extend_from_slice(group_id.as_bytes());
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(sender.as_bytes());
    out.extend_from_slice(&key.key_id.to_be_bytes());
    out.extend_from_slice(&key.key_epoch.to_be_bytes());
    out.extend_from_slice(&key.index.to_be_bytes());
    out.extend_from_slice(key.chain_key.as_bytes());
    out.extend_from_slice(&key.signing_public());
    out
}

// ---------------------------------------------------------------------------------------
// Roster (welcome)
// ---------------------------------------------------------------------------------------

/// A decoded roster with its signer.
pub(crate) struct RosterWire<'a> {
    pub(crate) roster: Roster,
    pub(crate) signer: IdentityKey,
    pub(crate) signed: &'a [u8],
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

pub(crate) fn decode_roster(bytes: &[u8]) -> Result<RosterWire<'_>, DecodeError> {
    let max = ROSTER_FIXED_LEN + ROSTER_MEMBER_LEN * MAX_GROUP_MEMBERS;
    let mut r = Reader::new(bytes);
    expect_header(&mut r, bytes.len(), TYPE_GROUP_ROSTER, max)?;
    let group_id = GroupId::from_bytes(r.array::<32>()?);
    let epoch = u64_field(&mut r)?;
    let previous_hash = r.array::<32>()?;
    if epoch == 0 && previous_hash != [0u8; 32] {
        return Err(DecodeError::InvalidField {
            field: "previous_hash",
        });
    }
    let rekey_epoch = u64_field(&mut r)?;
    if rekey_epoch > epoch {
        return Err(DecodeError::InvalidField {
            field: "rekey_epoch",
        });
    }
    let count = usize::from(u16::from_be_bytes(r.array::<2>()?));
    if count == 0 || count > MAX_GROUP_MEMBERS {
        return Err(DecodeError::InvalidField {
            field: "member_count",
        });
    }
    let mut members: Vec<RosterMember> = Vec::with_capacity(count);
    for _ in 0..count {
        let identity = identity_field(&mut r, "member")?;
        let role =
            GroupRole::from_byte(r.u8()?).ok_or(DecodeError::InvalidField { field: "role" })?;
        let added_epoch = u64_field(&mut r)?;
        if added_epoch > epoch {
            return Err(DecodeError::InvalidField {
                field: "added_epoch",
            });
        }
        if members
            .last()
            .is_some_and(|last| last.identity.as_bytes() >= identity.as_bytes())
        {
            return Err(DecodeError::InvalidField { field: "members" });
        }
        members.push(RosterMember {
            identity,
            role,
            added_epoch,
        });
    }
    let signer = identity_field(&mut r, "signer")?;
    let signature = r.array::<SIGNATURE_LEN>()?;
    r.finish()?;
    let signed_len = bytes.len().saturating_sub(SIGNATURE_LEN);
    let signed = bytes.get(..signed_len).ok_or(DecodeError::Truncated {
        needed: SIGNATURE_LEN,
    })?;
    Ok(RosterWire {
        roster: Roster {
            group_id,
            epoch,
            previous_hash,
            rekey_epoch,
            members,
        },
        signer,
        signed,
        signature,
    })
}

/// Encodes and signs `roster` (a welcome) with `identity`.
pub(crate) fn encode_roster(roster: &Roster, identity: &IdentityKeyPair) -> Vec<u8> {
    let mut out = Vec::with_capacity(ROSTER_FIXED_LEN + ROSTER_MEMBER_LEN * roster.members.len());
    out.push(WIRE_VERSION);
    out.push(TYPE_GROUP_ROSTER);
    roster.encode_body(&mut out);
    out.extend_from_slice(identity.public().as_bytes());
    let signature = identity.sign(&kdf::signature_input(crate::labels::LABEL_SIG_ROSTER, &out));
    out.extend_from_slice(&signature);
    out
}

// ---------------------------------------------------------------------------------------
// Roster change
// ---------------------------------------------------------------------------------------

/// What a roster change does, before its target is resolved to an identity key.
#[derive(Clone, Copy)]
pub(crate) enum OpKind {
    Add(GroupRole),
    Remove,
    SetRole(GroupRole),
}

/// A decoded roster change. The target and signer are resolved against the roster by
/// [`ChangeWire::resolve`].
pub(crate) struct ChangeWire<'a> {
    pub(crate) group_id: GroupId,
    pub(crate) epoch: u64,
    pub(crate) previous_hash: [u8; 32],
    pub(crate) kind: OpKind,
    pub(crate) target: [u8; 32],
    pub(crate) signer: [u8; 32],
    pub(crate) signed: &'a [u8],
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

/// The roster's entry for `bytes` if it is a member (its key was checked when it entered),
/// else the bytes checked as an identity key.
fn resolve_key(
    roster: &Roster,
    bytes: &[u8; 32],
    field: &'static str,
) -> Result<IdentityKey, DecodeError> {
    match roster.member_by_bytes(bytes) {
        Some(m) => Ok(m.identity),
        None => IdentityKey::from_bytes(bytes).map_err(|_| DecodeError::InvalidField { field }),
    }
}

impl ChangeWire<'_> {
    /// The operation and the signer, with their keys resolved against `roster`.
    pub(crate) fn resolve(&self, roster: &Roster) -> Result<(RosterOp, IdentityKey), DecodeError> {
        let signer = resolve_key(roster, &self.signer, "signer")?;
        let member = resolve_key(roster, &self.target, "target")?;
        let op = match self.kind {
            OpKind::Add(role) => RosterOp::Add { member, role },
            OpKind::Remove => RosterOp::Remove { member },
            OpKind::SetRole(role) => RosterOp::SetRole { member, role },
        };
        Ok((op, signer))
    }
}

pub(crate) fn decode_change(bytes: &[u8]) -> Result<ChangeWire<'_>, DecodeError> {
    let mut r = Reader::new(bytes);
    expect_header(
        &mut r,
        bytes.len(),
        TYPE_GROUP_ROSTER_CHANGE,
        ROSTER_CHANGE_LEN,
    )?;
    let group_id = GroupId::from_bytes(r.array::<32>()?);
    let epoch = u64_field(&mut r)?;
    if epoch == 0 {
        return Err(DecodeError::InvalidField { field: "epoch" });
    }
    let previous_hash = r.array::<32>()?;
    let op = r.u8()?;
    let target = r.array::<32>()?;
    let role_byte = r.u8()?;
    let role =
        || GroupRole::from_byte(role_byte).ok_or(DecodeError::InvalidField { field: "role" });
    let kind = match op {
        1 => OpKind::Add(role()?),
        2 if role_byte == 0 => OpKind::Remove,
        2 => return Err(DecodeError::InvalidField { field: "role" }),
        3 => OpKind::SetRole(role()?),
        _ => return Err(DecodeError::InvalidField { field: "op" }),
    };
    let signer = r.array::<32>()?;
    let signature = r.array::<SIGNATURE_LEN>()?;
    r.finish()?;
    let signed = bytes
        .get(..ROSTER_CHANGE_SIGNED_LEN)
        .ok_or(DecodeError::Truncated {
            needed: ROSTER_CHANGE_LEN,
        })?;
    Ok(ChangeWire {
        group_id,
        epoch,
        previous_hash,
        kind,
        target,
        signer,
        signed,
        signature,
    })
}

/// Encodes and signs the change `op` from `previous` (creating epoch `previous.epoch + 1`).
pub(crate) fn encode_change(
    previous: &Roster,
    epoch: u64,
    op: &RosterOp,
    identity: &IdentityKeyPair,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(ROSTER_CHANGE_LEN);
    out.push(WIRE_VERSION);
    out.push(TYPE_GROUP_ROSTER_CHANGE);
    out.extend_from_slice(previous.group_id.as_bytes());
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&previous.hash());
    out.push(op.code());
    out.extend_from_slice(op.member().as_bytes());
    out.push(op.role_byte());
    out.extend_from_slice(identity.public().as_bytes());
    let signature = identity.sign(&kdf::signature_input(
        crate::labels::LABEL_SIG_ROSTER_CHANGE,
        &out,
    ));
    out.extend_from_slice(&signature);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TYPE_RATCHET;

    #[test]
    fn lengths_are_the_documented_figures() {
        assert_eq!(MESSAGE_HEADER_LEN, 94);
        assert_eq!(super::super::GROUP_MESSAGE_OVERHEAD, 174);
        assert_eq!(DISTRIBUTION_LEN, 154);
        assert_eq!(DISTRIBUTION_V1_LEN, 218);
        assert_eq!(ROSTER_CHANGE_LEN, 204);
        assert_eq!(ROSTER_FIXED_LEN, 180);
        assert_eq!(ROSTER_MEMBER_LEN, 41);
        assert_eq!(super::super::MAX_ROSTER_LEN, 41_180);
    }

    #[test]
    fn short_or_foreign_input_is_an_error_not_a_panic() {
        for len in 0..300 {
            let bytes = vec![WIRE_VERSION; len];
            assert!(decode_message(&bytes).is_err());
            assert!(decode_distribution(&bytes).is_err());
            assert!(decode_roster(&bytes).is_err());
            assert!(decode_change(&bytes).is_err());
        }
        assert_eq!(
            decode_message(&[1, TYPE_RATCHET]).err(),
            Some(DecodeError::WrongType {
                expected: TYPE_GROUP_MESSAGE,
                found: TYPE_RATCHET
            })
        );
        assert_eq!(
            decode_message(&[1, 0x7f]).err(),
            Some(DecodeError::UnknownType(0x7f))
        );
        assert_eq!(
            decode_change(&[2, TYPE_GROUP_ROSTER_CHANGE]).err(),
            Some(DecodeError::UnknownVersion(2))
        );
        assert_eq!(
            peek(&[1, TYPE_GROUP_ROSTER, 0]).err(),
            Some(DecodeError::Truncated { needed: 31 })
        );
    }
}
