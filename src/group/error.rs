//! Errors of group messaging ([`GroupError`]) and of roster changes ([`RosterError`]).
//!
//! On every one of them the [`super::GroupSession`] is left exactly as it was.

use thiserror::Error;

use crate::error::{DecodeError, ErrorKind};

/// Errors from group messages and distribution messages: encrypting, decrypting, accepting
/// or rotating sender keys. The group session is unchanged on every one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupError {
    /// The bytes are not a well-formed group structure.
    #[error("malformed group message: {0}")]
    Malformed(#[from] DecodeError),
    /// The message belongs to another group.
    #[error("the message belongs to another group")]
    WrongGroup,
    /// We were removed from (or left) this group: the session reads and sends nothing more.
    #[error("this device is no longer a member of the group")]
    Removed,
    /// The message or distribution message is our own (a server echo).
    #[error("the message was sent by this device")]
    OwnMessage,
    /// The sender is not a member of the current roster (never was, or was removed).
    #[error("the sender is not a member of the group")]
    UnknownSender,
    /// We hold no sender key with this id for the sender: its distribution message has not
    /// arrived (or was refused), or the key was replaced twice since
    /// ([`super::MAX_SENDER_KEYS_PER_MEMBER`]).
    #[error("no sender key {key_id} held for this sender")]
    UnknownSenderKey {
        /// The sender-key id the message names.
        key_id: u32,
    },
    /// A distribution message arrived from another identity than the one it names (the one
    /// the 1:1 channel authenticated): sender keys are accepted first-hand only.
    #[error("the distribution message names another sender than the one it came from")]
    SenderMismatch,
    /// The signature does not verify (forged or tampered): a group message's under its
    /// sender key, or a version-1 distribution message's under the sender's identity key.
    #[error("bad signature (forged or tampered)")]
    BadSignature,
    /// The body failed authentication.
    #[error("message body failed authentication (tampered)")]
    Tampered,
    /// The message claims an epoch before its sender key existed.
    #[error("the message's epoch precedes its sender key")]
    InvalidEpoch,
    /// The message is stamped at or after the last removal but uses a sender key from before
    /// it, which the removed member knew: the sender failed to rotate.
    #[error("sender key {key_id} was retired by a removal and may not be used after it")]
    SenderKeyRetired {
        /// The sender-key id.
        key_id: u32,
    },
    /// The message uses a sender key from before the last removal (sent before its sender
    /// applied the removal, so the removed member may read it) and arrived after the grace
    /// window: more than [`super::OLD_EPOCH_GRACE_SECS`] after this session applied the
    /// removal, or after [`super::MAX_OLD_EPOCH_MESSAGES`] such messages from this sender. Its
    /// sender is behind the roster (or the server withholds the removal from it).
    #[error(
        "message on sender key {key_id}, from before the removal at epoch {rekey_epoch}, arrived after the grace window"
    )]
    OldEpochRefused {
        /// The sender-key id the message names.
        key_id: u32,
        /// The epoch of the last removal.
        rekey_epoch: u64,
    },
    /// A distribution message for a key older than one already accepted from this member, or
    /// from before the member (re)joined or the last removal: a replay of an old key.
    #[error("sender key {key_id} is older than what this session accepts (replayed?)")]
    StaleSenderKey {
        /// The sender-key id.
        key_id: u32,
    },
    /// This distribution message was already accepted.
    #[error("sender key {key_id} was already received")]
    DuplicateDistribution {
        /// The sender-key id.
        key_id: u32,
    },
    /// The sender was at a later roster epoch than we are: apply the pending roster changes
    /// first, then retry.
    #[error("message from roster epoch {message_epoch}, but this session is at {our_epoch}")]
    FutureEpoch {
        /// The epoch in the message.
        message_epoch: u64,
        /// Our roster epoch.
        our_epoch: u64,
    },
    /// The message was already decrypted (a replay or duplicate delivery).
    #[error("message {index} was already decrypted (replay or duplicate delivery)")]
    Duplicate {
        /// The message's chain position.
        index: u32,
    },
    /// The key for this delayed message was evicted at [`super::MAX_GROUP_SKIPPED_KEYS`].
    #[error("the key for delayed message {index} was evicted")]
    KeyEvicted {
        /// The message's chain position.
        index: u32,
    },
    /// The message precedes the chain position at which we received the sender key: it was
    /// sent before we joined (or before the key reached us).
    #[error("message {index} precedes position {first}, where this sender key reached us")]
    BeforeSenderKey {
        /// The message's chain position.
        index: u32,
        /// The first position we hold a key for.
        first: u32,
    },
    /// The message is further ahead in its chain than [`super::MAX_GROUP_JUMP`] allows.
    #[error("message is {gap} messages ahead of its chain; the limit is {max}")]
    TooFarAhead {
        /// How many message keys would have to be skipped.
        gap: u32,
        /// The limit.
        max: u32,
    },
    /// The plaintext is longer than [`crate::MAX_PLAINTEXT_LEN`].
    #[error("plaintext of {len} bytes exceeds the maximum of {max}")]
    PlaintextTooLarge {
        /// Length of the plaintext.
        len: usize,
        /// The maximum allowed.
        max: usize,
    },
    /// Our sending chain is at its last position: rotate the sender key.
    #[error("sending chain exhausted: rotate the sender key")]
    ChainExhausted,
    /// The identity key pair passed is not this session's.
    #[error("the identity key pair is not this group session's")]
    WrongIdentity,
}

impl GroupError {
    /// A stable, language-neutral name of this error, `"group.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            GroupError::Malformed(_) => "group.malformed",
            GroupError::WrongGroup => "group.wrong_group",
            GroupError::Removed => "group.removed",
            GroupError::OwnMessage => "group.own_message",
            GroupError::UnknownSender => "group.unknown_sender",
            GroupError::UnknownSenderKey { .. } => "group.unknown_sender_key",
            GroupError::SenderMismatch => "group.sender_mismatch",
            GroupError::BadSignature => "group.bad_signature",
            GroupError::Tampered => "group.tampered",
            GroupError::InvalidEpoch => "group.invalid_epoch",
            GroupError::SenderKeyRetired { .. } => "group.sender_key_retired",
            GroupError::StaleSenderKey { .. } => "group.stale_sender_key",
            GroupError::DuplicateDistribution { .. } => "group.duplicate_distribution",
            GroupError::FutureEpoch { .. } => "group.future_epoch",
            GroupError::OldEpochRefused { .. } => "group.old_epoch_refused",
            GroupError::Duplicate { .. } => "group.duplicate",
            GroupError::KeyEvicted { .. } => "group.key_evicted",
            GroupError::BeforeSenderKey { .. } => "group.before_sender_key",
            GroupError::TooFarAhead { .. } => "group.too_far_ahead",
            GroupError::PlaintextTooLarge { .. } => "group.plaintext_too_large",
            GroupError::ChainExhausted => "group.chain_exhausted",
            GroupError::WrongIdentity => "group.wrong_identity",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GroupError::Malformed(e) => e.kind(),
            GroupError::WrongGroup
            | GroupError::Removed
            | GroupError::OwnMessage
            | GroupError::UnknownSender
            | GroupError::UnknownSenderKey { .. }
            | GroupError::BeforeSenderKey { .. } => ErrorKind::UnknownSession,
            GroupError::SenderMismatch
            | GroupError::BadSignature
            | GroupError::Tampered
            | GroupError::InvalidEpoch
            | GroupError::SenderKeyRetired { .. } => ErrorKind::Tampered,
            GroupError::StaleSenderKey { .. }
            | GroupError::DuplicateDistribution { .. }
            | GroupError::Duplicate { .. } => ErrorKind::Replay,
            GroupError::FutureEpoch { .. } | GroupError::OldEpochRefused { .. } => {
                ErrorKind::StateOutOfSync
            }
            GroupError::KeyEvicted { .. }
            | GroupError::TooFarAhead { .. }
            | GroupError::PlaintextTooLarge { .. }
            | GroupError::ChainExhausted => ErrorKind::LimitExceeded,
            GroupError::WrongIdentity => ErrorKind::InvalidInput,
        }
    }
}

/// Errors from creating or joining a group and from roster changes (made here or received).
/// The group session is unchanged on every one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RosterError {
    /// The bytes are not a well-formed roster or roster change.
    #[error("malformed roster data: {0}")]
    Malformed(#[from] DecodeError),
    /// The change belongs to another group.
    #[error("the roster change belongs to another group")]
    WrongGroup,
    /// The signature does not verify under the signer's identity key (forged or tampered).
    #[error("bad roster signature (forged or tampered)")]
    BadSignature,
    /// The signer is not an admin of the roster it changes (or of the roster it signs). Only
    /// a member's own removal (leaving) may be signed by a non-admin.
    #[error("the roster data is signed by an identity that is not an admin")]
    NotAdmin {
        /// The signer's identity key (its 32 bytes, see [`crate::IdentityKey::from_bytes`]).
        signer: [u8; 32],
    },
    /// The change is for a later epoch than the next one: changes in between are missing.
    #[error(
        "roster change for epoch {found}, but this roster is at {current}: changes are missing"
    )]
    SkippedEpoch {
        /// Our roster epoch.
        current: u64,
        /// The epoch the change creates.
        found: u64,
    },
    /// The change chains to another history: it names the next epoch but another previous
    /// roster, or it is a different change for the epoch we are at (two admins changed the
    /// roster at once, or an admin equivocates).
    #[error("roster change for epoch {epoch} forks the roster history")]
    ForkedEpoch {
        /// The epoch the change creates.
        epoch: u64,
    },
    /// The change is for an epoch this roster has already passed (a replay).
    #[error("roster change for epoch {found}, but this roster is already at {current}")]
    StaleEpoch {
        /// Our roster epoch.
        current: u64,
        /// The epoch the change creates.
        found: u64,
    },
    /// This exact change was already applied.
    #[error("roster change for epoch {epoch} was already applied")]
    DuplicateChange {
        /// Its epoch.
        epoch: u64,
    },
    /// The roster would exceed [`super::MAX_GROUP_MEMBERS`].
    #[error("the roster would exceed {max} members")]
    TooManyMembers {
        /// The limit.
        max: usize,
    },
    /// The identity to add is already a member.
    #[error("the identity to add is already a member")]
    AlreadyMember {
        /// The identity key's 32 bytes.
        member: [u8; 32],
    },
    /// The identity to remove or change is not a member.
    #[error("the identity to remove or change is not a member")]
    NotAMember {
        /// The identity key's 32 bytes.
        member: [u8; 32],
    },
    /// The change would leave the group without an admin.
    #[error("the change would leave the group without an admin")]
    LastAdmin,
    /// The welcome roster was signed by someone else than the inviter it was expected from.
    #[error("the roster is not signed by the inviter")]
    InviterMismatch,
    /// The welcome roster does not list this device.
    #[error("this device is not in the roster")]
    NotInRoster,
    /// We were removed from (or left) this group.
    #[error("this device is no longer a member of the group")]
    Removed,
    /// The epoch counter is at its maximum.
    #[error("the roster epoch cannot advance further")]
    EpochExhausted,
    /// The identity key pair passed is not this session's.
    #[error("the identity key pair is not this group session's")]
    WrongIdentity,
}

impl RosterError {
    /// A stable, language-neutral name of this error, `"roster.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            RosterError::Malformed(_) => "roster.malformed",
            RosterError::WrongGroup => "roster.wrong_group",
            RosterError::BadSignature => "roster.bad_signature",
            RosterError::NotAdmin { .. } => "roster.not_admin",
            RosterError::SkippedEpoch { .. } => "roster.skipped_epoch",
            RosterError::ForkedEpoch { .. } => "roster.forked_epoch",
            RosterError::StaleEpoch { .. } => "roster.stale_epoch",
            RosterError::DuplicateChange { .. } => "roster.duplicate_change",
            RosterError::TooManyMembers { .. } => "roster.too_many_members",
            RosterError::AlreadyMember { .. } => "roster.already_member",
            RosterError::NotAMember { .. } => "roster.not_a_member",
            RosterError::LastAdmin => "roster.last_admin",
            RosterError::InviterMismatch => "roster.inviter_mismatch",
            RosterError::NotInRoster => "roster.not_in_roster",
            RosterError::Removed => "roster.removed",
            RosterError::EpochExhausted => "roster.epoch_exhausted",
            RosterError::WrongIdentity => "roster.wrong_identity",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RosterError::Malformed(e) => e.kind(),
            RosterError::WrongGroup | RosterError::Removed => ErrorKind::UnknownSession,
            RosterError::BadSignature
            | RosterError::NotAdmin { .. }
            | RosterError::InviterMismatch => ErrorKind::Tampered,
            RosterError::SkippedEpoch { .. } | RosterError::ForkedEpoch { .. } => {
                ErrorKind::StateOutOfSync
            }
            RosterError::StaleEpoch { .. } | RosterError::DuplicateChange { .. } => {
                ErrorKind::Replay
            }
            RosterError::TooManyMembers { .. } | RosterError::EpochExhausted => {
                ErrorKind::LimitExceeded
            }
            RosterError::AlreadyMember { .. }
            | RosterError::NotAMember { .. }
            | RosterError::LastAdmin
            | RosterError::NotInRoster
            | RosterError::WrongIdentity => ErrorKind::InvalidInput,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_the_documented_kind() {
        assert_eq!(GroupError::Duplicate { index: 1 }.kind(), ErrorKind::Replay);
        assert_eq!(GroupError::BadSignature.kind(), ErrorKind::Tampered);
        assert_eq!(GroupError::WrongGroup.kind(), ErrorKind::UnknownSession);
        assert_eq!(
            GroupError::TooFarAhead { gap: 3, max: 2 }.kind(),
            ErrorKind::LimitExceeded
        );
        assert_eq!(
            GroupError::Malformed(DecodeError::TooLarge { len: 2, max: 1 }).kind(),
            ErrorKind::LimitExceeded
        );
        assert_eq!(
            GroupError::OldEpochRefused {
                key_id: 0,
                rekey_epoch: 1
            }
            .kind(),
            ErrorKind::StateOutOfSync
        );
        assert_eq!(RosterError::LastAdmin.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            RosterError::SkippedEpoch {
                current: 1,
                found: 3
            }
            .kind(),
            ErrorKind::StateOutOfSync
        );
        assert_eq!(
            RosterError::DuplicateChange { epoch: 1 }.kind(),
            ErrorKind::Replay
        );
    }
}
