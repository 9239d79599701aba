//! Group messaging with sender keys and an authenticated roster (SPEC.md §14).
//!
//! A group is a [`GroupSession`] per member. Its membership is a versioned [`Roster`]: an
//! epoch number, the members' identity keys, each with a role ([`GroupRole::Admin`] or
//! [`GroupRole::Member`]). A group starts from a *genesis roster* signed by its creator; every
//! later change (add, remove, change role) is one [`RosterOp`] signed by an admin's identity
//! key that names the next epoch and the hash of the roster it changes, so members agree on
//! one linear history. A member may also sign its own removal (leaving).
//!
//! Messages use *sender keys*. Each member has, per group, an outbound chain (a symmetric
//! HMAC ratchet: each message key is derived and then the chain key is replaced, so old keys
//! cannot be recomputed) and an Ed25519 signing key of its own. It hands both (the chain key
//! at its current position and the public signing key) to the others in a *distribution
//! message* that the app carries over the existing 1:1 sessions ([`crate::Session::encrypt`])
//! or sealed envelopes. The distribution message is not signed: the 1:1 session that delivers
//! it authenticates it ([`AuthenticatedSender`]), so no member can show an outsider a proof
//! that a given person owns a sender key, and hence wrote a given message (SPEC.md §14.11.3).
//! A group message is encrypted once for everyone and signed by the sender key (so members
//! cannot forge each other's messages), bound to the group id, the sender, the roster epoch,
//! the sender-key id and the chain position.
//!
//! - **Removal means rekey.** When a member is removed (or leaves), every remaining member's
//!   [`GroupSession::apply_roster_change`] rotates its sender key and returns the new
//!   distribution message addressed only to the remaining members. Receivers refuse a message
//!   stamped at or after the removal under a key from before it, and accept messages sent on
//!   such a key before the sender learnt of the removal only within a grace window
//!   ([`OLD_EPOCH_GRACE_SECS`], [`MAX_OLD_EPOCH_MESSAGES`]), each with a
//!   [`GroupEvent::OldEpochMessage`].
//! - **Joining gives only current keys.** Existing members send a new member their chain at
//!   its current position, from which earlier message keys cannot be derived.
//! - **Transactional.** A rejected message, distribution message or roster change leaves the
//!   session exactly as it was.
//!
//! The core does no I/O: outcomes list what to send to whom ([`Outgoing`]).
//!
//! ```
//! use hushwire::group::{GroupRole, GroupSession};
//! use hushwire::{Account, Timestamp};
//! use rand_core::SeedableRng;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let operator = Account::new(now, &mut rng);
//! let mut customer = Account::new(now, &mut rng);
//!
//! // The operator creates the group. The welcome and the distribution message go to the
//! // customer over their 1:1 session, which authenticates them.
//! let created = GroupSession::create(
//!     operator.identity_key_pair(),
//!     &[(*customer.identity_key(), GroupRole::Member)],
//!     &mut rng,
//! )?;
//! let mut op_group = created.session;
//! let bundle = customer.published_prekeys().take_bundle();
//! let mut to_customer = operator.create_outbound_session(&bundle, &mut rng)?;
//! let first = to_customer.encrypt(&created.welcome.bytes, &mut rng)?;
//! let inbound = customer.create_inbound_session(&first, now)?;
//! let mut to_operator = inbound.session;
//! let joined = GroupSession::join(
//!     customer.identity_key_pair(),
//!     &inbound.plaintext,
//!     operator.identity_key(),
//!     &mut rng,
//! )?;
//! let mut cust_group = joined.session;
//!
//! // Each sender key is accepted from the session that decrypted it.
//! let wire = to_customer.encrypt(&created.distribution.bytes, &mut rng)?;
//! let read = to_operator.decrypt(&wire)?;
//! let _events = cust_group.receive_distribution(&to_operator, &read.plaintext)?;
//! let wire = to_operator.encrypt(&joined.distribution.bytes, &mut rng)?;
//! let read = to_customer.decrypt(&wire)?;
//! let _events = op_group.receive_distribution(&to_customer, &read.plaintext)?;
//!
//! // Group messages are encrypted once and fanned out by the server.
//! let message = op_group.encrypt(b"how can I help?", &mut rng)?;
//! let read = cust_group.decrypt(&message, now)?;
//! assert_eq!(read.plaintext, b"how can I help?");
//! assert_eq!(read.sender, *operator.identity_key());
//! assert_eq!(cust_group.roster().members().len(), 2);
//! # Ok(())
//! # }
//! ```

mod channel;
mod error;
mod kdf;
mod roster;
mod sender_key;
mod session;
mod snapshot;
mod wire;

use core::fmt;

use zeroize::Zeroizing;

pub use channel::AuthenticatedSender;
pub use error::{GroupError, RosterError};
pub use roster::{GroupId, GroupRole, Roster, RosterMember, RosterOp};
pub use session::GroupSession;
pub(crate) use snapshot::{decode_snapshot, encode_snapshot};
pub use wire::{GroupWireKind, peek};

use crate::keys::IdentityKey;
use crate::wire::MAX_PLAINTEXT_LEN;

/// Most members a roster may hold. Past it, adding a member is refused
/// ([`RosterError::TooManyMembers`]) and a roster naming more does not decode.
pub const MAX_GROUP_MEMBERS: usize = 1_000;

/// How far ahead of a sender's chain one message may be: at most this many message keys are
/// derived and stored for the messages skipped over ([`GroupError::TooFarAhead`] past it).
pub const MAX_GROUP_JUMP: u32 = 2_000;

/// Most skipped message keys a group session stores, across all senders. When more are
/// skipped, the oldest stored keys are evicted first ([`GroupEvent::SkippedKeysEvicted`]);
/// their messages then fail with [`GroupError::KeyEvicted`].
pub const MAX_GROUP_SKIPPED_KEYS: usize = 2_000;

/// Sender keys kept per member: the newest one and the one before it, so that messages in
/// flight when a member rotated still decrypt. A third key evicts the oldest (and its stored
/// skipped keys); its messages then fail with [`GroupError::UnknownSenderKey`].
pub const MAX_SENDER_KEYS_PER_MEMBER: usize = 2;

/// Most messages per sender accepted on sender keys from before the last removal, after this
/// session applied it ([`GroupError::OldEpochRefused`] past it). Such a message was sent
/// before its sender learnt of the removal, so the removed member may read it; a server that
/// withholds the removal from a member would otherwise let the removed member read that
/// member indefinitely. Counted per sender from each removal.
pub const MAX_OLD_EPOCH_MESSAGES: u32 = 50;

/// How long, in seconds after this session applied the last removal, messages on sender keys
/// from before it are accepted ([`GroupError::OldEpochRefused`] later): one hour, for messages
/// in flight when the removal happened.
pub const OLD_EPOCH_GRACE_SECS: u64 = 3_600;

/// Bytes a group message adds to its plaintext: the 94-byte header, the 16-byte AEAD tag and
/// the 64-byte signature.
pub const GROUP_MESSAGE_OVERHEAD: usize = wire::MESSAGE_HEADER_LEN + 16 + 64;

/// The largest encoded group message: [`MAX_PLAINTEXT_LEN`] plus [`GROUP_MESSAGE_OVERHEAD`].
pub const MAX_GROUP_MESSAGE_LEN: usize = MAX_PLAINTEXT_LEN + GROUP_MESSAGE_OVERHEAD;

/// Length of a distribution message (version 2, type `0x24`: the one this build sends).
pub const DISTRIBUTION_LEN: usize = wire::DISTRIBUTION_LEN;

/// Length of a version-1 distribution message (type `0x21`, signed by the sender's identity
/// key), as older builds send it; still accepted.
pub const DISTRIBUTION_V1_LEN: usize = wire::DISTRIBUTION_V1_LEN;

/// Length of a roster change.
pub const ROSTER_CHANGE_LEN: usize = wire::ROSTER_CHANGE_LEN;

/// Length of an encoded roster (a welcome) with no member: add [`ROSTER_MEMBER_LEN`] per member.
pub const ROSTER_FIXED_LEN: usize = wire::ROSTER_FIXED_LEN;

/// Bytes one member takes in an encoded roster.
pub const ROSTER_MEMBER_LEN: usize = wire::ROSTER_MEMBER_LEN;

/// The largest encoded roster: [`MAX_GROUP_MEMBERS`] members.
pub const MAX_ROSTER_LEN: usize = ROSTER_FIXED_LEN + ROSTER_MEMBER_LEN * MAX_GROUP_MEMBERS;

/// Bytes for some members of the group. Send them to each recipient over its 1:1 session
/// ([`crate::Session::encrypt`]) or a sealed envelope, never in the clear: a distribution
/// message holds a chain key. The bytes are zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outgoing {
    /// Who must receive the bytes (never ourselves).
    pub recipients: Vec<IdentityKey>,
    /// What to send to each of them.
    pub bytes: Zeroizing<Vec<u8>>,
}

impl Outgoing {
    fn new(recipients: Vec<IdentityKey>, bytes: Vec<u8>) -> Self {
        Outgoing {
            recipients,
            bytes: Zeroizing::new(bytes),
        }
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("recipients", &self.recipients.len())
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Something about a group an app should log, act on or show. Events carry identities, ids
/// and counts, never key material.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupEvent {
    /// A member was added (show it: "the supervisor joined").
    MemberAdded {
        /// The new member.
        member: IdentityKey,
        /// Its role.
        role: GroupRole,
        /// The admin who added it.
        by: IdentityKey,
        /// The roster epoch the change created.
        epoch: u64,
    },
    /// A member was removed or left; every remaining member rotated its sender key.
    MemberRemoved {
        /// The member who is gone.
        member: IdentityKey,
        /// The admin who removed it, or the member itself if it left.
        by: IdentityKey,
        /// The roster epoch the change created.
        epoch: u64,
    },
    /// A member's role changed.
    RoleChanged {
        /// The member.
        member: IdentityKey,
        /// Its new role.
        role: GroupRole,
        /// The admin who changed it.
        by: IdentityKey,
        /// The roster epoch the change created.
        epoch: u64,
    },
    /// We were removed from the group (or left): every key of this session was erased and it
    /// reads and sends nothing more.
    RemovedFromGroup {
        /// The admin who removed us, or ourselves.
        by: IdentityKey,
        /// The roster epoch the change created.
        epoch: u64,
    },
    /// We started a new sender key; its distribution message is in the outcome.
    SenderKeyRotated {
        /// The new sender-key id.
        key_id: u32,
    },
    /// A member's sender key was accepted from its distribution message.
    SenderKeyReceived {
        /// The member.
        member: IdentityKey,
        /// The sender-key id.
        key_id: u32,
    },
    /// Stored keys for delayed messages were dropped at [`MAX_GROUP_SKIPPED_KEYS`] or with an
    /// evicted sender key: those messages, if they arrive, cannot be read.
    SkippedKeysEvicted {
        /// How many keys were dropped.
        count: u32,
    },
    /// A message was accepted on a sender key from before the last removal: its sender had
    /// not yet applied the removal, so the removed member may have read it too. Warn the user
    /// ("sent before X was removed"); if it keeps happening after the removal, the server may
    /// be withholding the removal from that sender. Accepted only within the grace window
    /// ([`OLD_EPOCH_GRACE_SECS`], [`MAX_OLD_EPOCH_MESSAGES`]).
    OldEpochMessage {
        /// The sender.
        member: IdentityKey,
        /// The retired sender-key id the message used.
        key_id: u32,
        /// The roster epoch the sender had (before `rekey_epoch`).
        message_epoch: u64,
        /// The epoch of the last removal.
        rekey_epoch: u64,
    },
}

impl GroupEvent {
    /// A stable, language-neutral name of this event, `"group_event.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            GroupEvent::MemberAdded { .. } => "group_event.member_added",
            GroupEvent::MemberRemoved { .. } => "group_event.member_removed",
            GroupEvent::RoleChanged { .. } => "group_event.role_changed",
            GroupEvent::RemovedFromGroup { .. } => "group_event.removed_from_group",
            GroupEvent::SenderKeyRotated { .. } => "group_event.sender_key_rotated",
            GroupEvent::SenderKeyReceived { .. } => "group_event.sender_key_received",
            GroupEvent::SkippedKeysEvicted { .. } => "group_event.skipped_keys_evicted",
            GroupEvent::OldEpochMessage { .. } => "group_event.old_epoch_message",
        }
    }
}

/// The result of [`GroupSession::create`].
#[must_use]
#[non_exhaustive]
pub struct GroupCreated {
    /// The creator's group session.
    pub session: GroupSession,
    /// The signed genesis roster, for every other member: each passes it to
    /// [`GroupSession::join`] with the creator as inviter.
    pub welcome: Outgoing,
    /// The creator's sender key, for every other member (after they joined).
    pub distribution: Outgoing,
}

impl fmt::Debug for GroupCreated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupCreated")
            .field("session", &self.session)
            .field("welcome", &self.welcome)
            .field("distribution", &self.distribution)
            .finish()
    }
}

/// The result of [`GroupSession::join`].
#[must_use]
#[non_exhaustive]
pub struct GroupJoined {
    /// The new member's group session.
    pub session: GroupSession,
    /// Its sender key, for every other member.
    pub distribution: Outgoing,
}

impl fmt::Debug for GroupJoined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupJoined")
            .field("session", &self.session)
            .field("distribution", &self.distribution)
            .finish()
    }
}

/// What a roster change (made here or received) asks the app to send, and what happened.
#[derive(Clone, PartialEq, Eq, Default)]
#[must_use]
#[non_exhaustive]
pub struct RosterUpdate {
    /// For a change made here: the signed change, for every member of the previous roster
    /// (the removed member included, so it learns it was removed; a new member gets
    /// `welcome` instead).
    pub change: Option<Outgoing>,
    /// For a member added here: the signed roster at the new epoch, for the new member.
    pub welcome: Option<Outgoing>,
    /// Our sender key: the current one for a new member, or a fresh one (after a removal) for
    /// every remaining member.
    pub distribution: Option<Outgoing>,
    /// What happened.
    pub events: Vec<GroupEvent>,
}

impl fmt::Debug for RosterUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RosterUpdate")
            .field("change", &self.change)
            .field("welcome", &self.welcome)
            .field("distribution", &self.distribution)
            .field("events", &self.events)
            .finish()
    }
}

/// The result of a successful [`GroupSession::decrypt`].
#[derive(Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct GroupDecrypted {
    /// Who sent it (authenticated by its sender key, which reached us first-hand over the 1:1
    /// session with this member).
    pub sender: IdentityKey,
    /// The roster epoch the sender had when it sent the message.
    pub epoch: u64,
    /// The message as the sender wrote it.
    pub plaintext: Vec<u8>,
    /// Events: [`GroupEvent::OldEpochMessage`], then [`GroupEvent::SkippedKeysEvicted`].
    pub events: Vec<GroupEvent>,
}

impl fmt::Debug for GroupDecrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupDecrypted")
            .field("sender", &self.sender)
            .field("epoch", &self.epoch)
            .field("plaintext_len", &self.plaintext.len())
            .field("events", &self.events)
            .finish()
    }
}
