//! Security events: what an app should log or show, returned alongside each result.
//!
//! hushwire has one mechanism for events: every operation that can raise one returns them in
//! its outcome (`events: Vec<Event>`). Nothing is buffered inside the library. Events carry
//! ids and counts, never key material.

use crate::ids::{SessionId, UserId};
use crate::keys::IdentityKey;

/// Something an app should log, act on, or show to the user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// A one-time X25519 prekey was used and deleted: the app should persist the account.
    OneTimePreKeyConsumed {
        /// Its id.
        id: u32,
    },
    /// A one-time ML-KEM prekey was used and deleted: the app should persist the account.
    KemPreKeyConsumed {
        /// Its id.
        id: u32,
    },
    /// A session was built on the last-resort ML-KEM prekey: one-time ML-KEM prekeys ran out
    /// on the server. Upload more.
    LastResortKemPreKeyUsed {
        /// Its id.
        id: u32,
    },
    /// Fewer than [`crate::ONE_TIME_PREKEYS_LOW`] unused one-time prekeys of a kind are left.
    OneTimePreKeysLow {
        /// Unused one-time X25519 prekeys left.
        x25519_remaining: u32,
        /// Unused one-time ML-KEM prekeys left.
        kem_remaining: u32,
    },
    /// Stored keys for delayed messages were dropped because the store was full: those
    /// messages, if they ever arrive, will fail with `KeyExpired`.
    SkippedKeysEvicted {
        /// How many keys were dropped.
        count: u32,
    },
    /// A new session with a peer was built from its prekey message. It is now active, except
    /// after simultaneous initiation, where the session with the smaller id stays active.
    SessionEstablished {
        /// The new session.
        session_id: SessionId,
    },
    /// An older session with a peer decrypted a message and became the active one.
    ActiveSessionChanged {
        /// The session now active.
        session_id: SessionId,
    },
    /// The conversation was re-secured by the reset protocol: a fresh session replaced one
    /// that could no longer decrypt. Show it to the user.
    SessionReset {
        /// The fresh session.
        session_id: SessionId,
    },
    /// The signed prekey or last-resort ML-KEM prekey is older than
    /// [`crate::PREKEY_ROTATION_SECS`]: call [`crate::Account::rotate_prekeys`] and publish.
    PreKeyRotationDue,
    /// Stored keys for delayed messages were dropped because their chain grew too old.
    SkippedKeysExpired {
        /// How many keys were dropped.
        count: u32,
    },
    /// The identity key recorded for a user ([`crate::Account::record_identity`]) is not the
    /// one recorded before: the user reinstalled, changed device, or someone is in the middle.
    /// Raised once per change. If the user had verified a key (`was_verified`),
    /// [`crate::Account::encrypt_for`] refuses the new key until the app calls
    /// [`crate::Account::accept_identity_change`] or the user verifies the new key. Show it to
    /// the user.
    IdentityChanged {
        /// The user whose key changed.
        user_id: UserId,
        /// Whether the user had verified a previous key (encryption to the new key is now
        /// refused).
        was_verified: bool,
    },
    /// The account was full ([`crate::MAX_PEERS`]) when a new peer needed a record, and this
    /// peer's record was evicted to make room: its sessions are dropped and their keys wiped.
    /// It was the least recently used unverified peer, one that never answered if any
    /// (SPEC.md §12.1). Persist the account. If the peer writes again, its messages give
    /// [`crate::PeerError::UnknownPeer`], which leads into a reset.
    PeerEvicted {
        /// The evicted peer's identity key.
        peer: IdentityKey,
    },
}

impl Event {
    /// A stable, language-neutral name of this event, `"event.<variant>"` in snake_case
    /// (SPEC.md §8.4), such as `event.session_established`. It never changes once released;
    /// bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            Event::OneTimePreKeyConsumed { .. } => "event.one_time_prekey_consumed",
            Event::KemPreKeyConsumed { .. } => "event.kem_prekey_consumed",
            Event::LastResortKemPreKeyUsed { .. } => "event.last_resort_kem_prekey_used",
            Event::OneTimePreKeysLow { .. } => "event.one_time_prekeys_low",
            Event::SkippedKeysEvicted { .. } => "event.skipped_keys_evicted",
            Event::SessionEstablished { .. } => "event.session_established",
            Event::ActiveSessionChanged { .. } => "event.active_session_changed",
            Event::SessionReset { .. } => "event.session_reset",
            Event::PreKeyRotationDue => "event.prekey_rotation_due",
            Event::SkippedKeysExpired { .. } => "event.skipped_keys_expired",
            Event::IdentityChanged { .. } => "event.identity_changed",
            Event::PeerEvicted { .. } => "event.peer_evicted",
        }
    }
}
