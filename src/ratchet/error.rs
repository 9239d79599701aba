//! The errors of a session's encrypt and decrypt (the ratchet produces almost all of them).

use thiserror::Error;

use crate::error::{DecodeError, ErrorKind};

/// Errors from encrypting a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The plaintext is longer than [`crate::MAX_PLAINTEXT_LEN`].
    #[error("plaintext of {len} bytes exceeds the maximum of {max}")]
    PlaintextTooLarge {
        /// Length of the plaintext.
        len: usize,
        /// The maximum allowed.
        max: usize,
    },
    /// The sending chain has sent `u32::MAX` messages; wait for the peer's reply to ratchet.
    #[error("sending chain exhausted: the peer must reply before more messages can be sent")]
    ChainExhausted,
    /// A version-2 session's peer sent an ML-KEM key that fails the FIPS 203 check, so the
    /// ciphertext it asks for cannot be made (SPEC.md §5.9.5). Only a broken or malicious peer
    /// does this; reset the session.
    #[error("the peer's ML-KEM ratchet key is invalid; reset the session")]
    InvalidKemKey,
}

impl EncryptError {
    /// A stable, language-neutral name of this error, `"encrypt.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            EncryptError::PlaintextTooLarge { .. } => "encrypt.plaintext_too_large",
            EncryptError::ChainExhausted => "encrypt.chain_exhausted",
            EncryptError::InvalidKemKey => "encrypt.invalid_kem_key",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EncryptError::PlaintextTooLarge { .. } | EncryptError::ChainExhausted => {
                ErrorKind::LimitExceeded
            }
            EncryptError::InvalidKemKey => ErrorKind::Tampered,
        }
    }
}

/// Errors from decrypting a message on an established session.
///
/// On every one of these the session is left exactly as it was before the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The bytes are not a well-formed message.
    #[error("malformed message: {0}")]
    Malformed(#[from] DecodeError),
    /// No header key of this session authenticates the header: the message was tampered with,
    /// or it belongs to another session.
    #[error("no key of this session opens the message header (tampered, or for another session)")]
    Undecryptable,
    /// The header authenticated but the body did not: the message was tampered with.
    #[error("message body failed authentication (tampered)")]
    Tampered,
    /// A prekey message that starts a different session than this one (different base key).
    #[error("prekey message starts a different session; create an inbound session for it")]
    OtherSession,
    /// The message was already decrypted on this session.
    #[error("message {counter} was already decrypted (replay or duplicate delivery)")]
    Duplicate {
        /// The message's position in its chain.
        counter: u32,
    },
    /// The key for this old message is no longer held: it was evicted at the skipped-key limit
    /// or expired after too many ratchet steps.
    #[error("the key for delayed message {counter} was evicted or expired")]
    KeyExpired {
        /// The message's position in its chain.
        counter: u32,
    },
    /// The message is further ahead in its chain than the configured jump limit allows.
    #[error("message is {gap} messages ahead of the chain; the limit is {max}")]
    TooFarAhead {
        /// How many message keys would have to be skipped.
        gap: u64,
        /// The configured limit.
        max: u32,
    },
    /// The header names a counter that cannot belong to the chain it was found in.
    #[error("header counter is inconsistent with its chain")]
    InvalidCounter,
    /// A Diffie-Hellman output was all zeros (the peer sent a low-order key).
    #[error("non-contributory Diffie-Hellman output (low-order ratchet key)")]
    NonContributory,
    /// The message is genuinely from this session (its session tag verifies) but from a
    /// ratchet step this state never reached: this state was restored from an older copy or
    /// lost messages. Start a reset.
    #[error(
        "message is from sender epoch {their_epoch} but this state only reached {our_epoch}: state is behind (restored from an older copy?); reset the session"
    )]
    StateBehind {
        /// The sender's epoch (sending chains started) from the session tag.
        their_epoch: u32,
        /// How many of the peer's chains this state has received.
        our_epoch: u64,
    },
    /// The peer sent on a chain we know but with another ratchet key: the peer's state was
    /// restored from an older copy and forked. Start a reset.
    #[error("the peer's state forked (restored from an older copy?); reset the session")]
    PeerStateForked,
    /// The message is genuinely from this session but from a chain older than the chains
    /// this state still remembers.
    #[error("message is from a chain older than this session remembers")]
    ChainForgotten,
    /// A version-2 message starts a chain that must carry an ML-KEM ciphertext (it answers
    /// a chain of ours that carried a key) and carries none: a downgrade attempt or a broken
    /// peer (SPEC.md §5.9.5).
    #[error("the message omits the post-quantum ratchet step that is due")]
    KemPartMissing,
    /// A version-2 message carries KEM material its sender's role or chain never sends (SPEC.md
    /// §5.9.5).
    #[error("the message carries a post-quantum ratchet part that is not due")]
    KemPartUnexpected,
    /// The message is of another session version than the session (a version-1 message on a
    /// version-2 session, or the reverse): a session never continues without the
    /// post-quantum step once it started with it (SPEC.md §5.9.5).
    #[error("message of session version {message} on a session of version {session}")]
    SessionVersionMismatch {
        /// The session's version (1 or 2).
        session: u8,
        /// The message's version.
        message: u8,
    },
}

impl DecryptError {
    /// A stable, language-neutral name of this error, `"decrypt.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            DecryptError::Malformed(_) => "decrypt.malformed",
            DecryptError::Undecryptable => "decrypt.undecryptable",
            DecryptError::Tampered => "decrypt.tampered",
            DecryptError::OtherSession => "decrypt.other_session",
            DecryptError::Duplicate { .. } => "decrypt.duplicate",
            DecryptError::KeyExpired { .. } => "decrypt.key_expired",
            DecryptError::TooFarAhead { .. } => "decrypt.too_far_ahead",
            DecryptError::InvalidCounter => "decrypt.invalid_counter",
            DecryptError::NonContributory => "decrypt.non_contributory",
            DecryptError::StateBehind { .. } => "decrypt.state_behind",
            DecryptError::PeerStateForked => "decrypt.peer_state_forked",
            DecryptError::ChainForgotten => "decrypt.chain_forgotten",
            DecryptError::KemPartMissing => "decrypt.kem_part_missing",
            DecryptError::KemPartUnexpected => "decrypt.kem_part_unexpected",
            DecryptError::SessionVersionMismatch { .. } => "decrypt.session_version_mismatch",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DecryptError::Malformed(e) => e.kind(),
            DecryptError::Undecryptable
            | DecryptError::Tampered
            | DecryptError::NonContributory => ErrorKind::Tampered,
            DecryptError::InvalidCounter
            | DecryptError::KemPartMissing
            | DecryptError::KemPartUnexpected
            | DecryptError::SessionVersionMismatch { .. } => ErrorKind::Tampered,
            DecryptError::OtherSession => ErrorKind::UnknownSession,
            DecryptError::Duplicate { .. } => ErrorKind::Replay,
            DecryptError::KeyExpired { .. }
            | DecryptError::TooFarAhead { .. }
            | DecryptError::ChainForgotten => ErrorKind::LimitExceeded,
            DecryptError::StateBehind { .. } | DecryptError::PeerStateForked => {
                ErrorKind::StateOutOfSync
            }
        }
    }
}
