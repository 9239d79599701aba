//! The error of building a session, on either side of the key agreement.

use thiserror::Error;

use crate::error::{DecodeError, ErrorKind, KeyError};
use crate::ratchet::DecryptError;

/// Errors from building a session: either side of the key agreement.
///
/// On every one of these the [`crate::Account`] (responder) is left exactly as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The prekey bundle or prekey message is malformed.
    #[error("malformed handshake data: {0}")]
    Malformed(#[from] DecodeError),
    /// A key in the bundle or message is invalid, or a signature did not verify.
    #[error("invalid key material: {0}")]
    Key(#[from] KeyError),
    /// A Diffie-Hellman output was all zeros (a low-order public key was supplied).
    #[error("non-contributory Diffie-Hellman output (low-order public key)")]
    NonContributory,
    /// The message names a signed prekey this account never had or has already deleted.
    #[error("unknown signed prekey {0}")]
    UnknownSignedPreKey(u32),
    /// The message names a one-time prekey id this account never issued.
    #[error("unknown one-time prekey {0}")]
    UnknownOneTimePreKey(u32),
    /// The message names a one-time prekey that was already used by an earlier session.
    #[error("one-time prekey {0} was already used (replayed or duplicated prekey message)")]
    OneTimePreKeyReused(u32),
    /// The message names an ML-KEM prekey id this account never issued.
    #[error("unknown ML-KEM prekey {0}")]
    UnknownKemPreKey(u32),
    /// The message names a one-time ML-KEM prekey that was already used.
    #[error("one-time ML-KEM prekey {0} was already used (replayed prekey message)")]
    KemPreKeyReused(u32),
    /// The same initial message was already accepted on last-resort keys.
    #[error("initial message already seen on last-resort keys (replay)")]
    ReplayedInitialMessage,
    /// The replay records of last-resort keys are full: rotate prekeys
    /// ([`crate::Account::rotate_prekeys`]) before more sessions can start without one-time keys.
    #[error("replay records full: rotate prekeys before accepting more last-resort sessions")]
    ReplayRecordsFull,
    /// The account already holds sessions with [`crate::MAX_PEERS`] peer devices, every one
    /// of them verified (none can be evicted), and this handshake would add another: forget
    /// peers ([`crate::Account::forget_peer`]).
    #[error("the account holds sessions with {limit} verified peers already; forget some first")]
    TooManyPeers {
        /// The limit, [`crate::MAX_PEERS`].
        limit: usize,
    },
    /// The initiator named our own identity key as theirs.
    #[error("the initiator's identity key is our own")]
    OwnIdentity,
    /// The embedded first message did not decrypt with the agreed keys.
    #[error("first message failed: {0}")]
    FirstMessage(DecryptError),
}

impl HandshakeError {
    /// A stable, language-neutral name of this error, `"handshake.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            HandshakeError::Malformed(_) => "handshake.malformed",
            HandshakeError::Key(_) => "handshake.key",
            HandshakeError::NonContributory => "handshake.non_contributory",
            HandshakeError::UnknownSignedPreKey(_) => "handshake.unknown_signed_prekey",
            HandshakeError::UnknownOneTimePreKey(_) => "handshake.unknown_one_time_prekey",
            HandshakeError::OneTimePreKeyReused(_) => "handshake.one_time_prekey_reused",
            HandshakeError::UnknownKemPreKey(_) => "handshake.unknown_kem_prekey",
            HandshakeError::KemPreKeyReused(_) => "handshake.kem_prekey_reused",
            HandshakeError::ReplayedInitialMessage => "handshake.replayed_initial_message",
            HandshakeError::ReplayRecordsFull => "handshake.replay_records_full",
            HandshakeError::TooManyPeers { .. } => "handshake.too_many_peers",
            HandshakeError::OwnIdentity => "handshake.own_identity",
            HandshakeError::FirstMessage(_) => "handshake.first_message",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            HandshakeError::Malformed(e) => e.kind(),
            HandshakeError::Key(_)
            | HandshakeError::NonContributory
            | HandshakeError::OwnIdentity => ErrorKind::Tampered,
            HandshakeError::UnknownSignedPreKey(_)
            | HandshakeError::UnknownOneTimePreKey(_)
            | HandshakeError::UnknownKemPreKey(_) => ErrorKind::UnknownSession,
            HandshakeError::OneTimePreKeyReused(_)
            | HandshakeError::KemPreKeyReused(_)
            | HandshakeError::ReplayedInitialMessage => ErrorKind::Replay,
            HandshakeError::ReplayRecordsFull | HandshakeError::TooManyPeers { .. } => {
                ErrorKind::LimitExceeded
            }
            HandshakeError::FirstMessage(e) => e.kind(),
        }
    }
}
