//! Typed errors, one enum per operation, plus an umbrella [`Error`].
//!
//! Every error can be put in one of a few [`ErrorKind`]s so that an app can decide what to do
//! (drop the message, ask for a reset, show a warning) without matching every variant.

use thiserror::Error;

/// The broad class of a failure: what a caller usually needs to decide what to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not a well-formed hushwire structure (truncated, trailing bytes, unknown
    /// version or type, out-of-range field). Nothing cryptographic was attempted.
    Malformed,
    /// The bytes are well formed but failed authentication: forged, tampered with, or encrypted
    /// under keys this state does not have.
    Tampered,
    /// The message belongs to a session (or a prekey) this state does not know.
    UnknownSession,
    /// The message was already processed (a replay or a duplicate delivery).
    Replay,
    /// A configured or protocol limit was hit (message too large, counter jump too far, keys
    /// evicted or expired).
    LimitExceeded,
    /// A caller-supplied argument is invalid (for example an out-of-range configuration).
    InvalidInput,
    /// Our state or the peer's is out of step (restored from an older copy, or lost): the
    /// message is authentic but cannot be read. Reset the session.
    StateOutOfSync,
    /// The data is authentic as far as it can be checked, but the credential behind it is not
    /// trusted now: a certificate that expired, is not yet valid, was revoked, or chains to a
    /// trust root that is not pinned.
    Untrusted,
}

/// Which signed key failed its signature check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignedKeyKind {
    /// The X25519 signed prekey.
    SignedPreKey,
    /// An ML-KEM-768 prekey (one-time or last-resort).
    KemPreKey,
}

/// Errors from decoding bytes received from the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the structure was complete.
    #[error("truncated input: needed {needed} more bytes")]
    Truncated {
        /// How many more bytes the decoder needed at the point it stopped.
        needed: usize,
    },
    /// Bytes were left over after a complete structure.
    #[error("{count} unexpected trailing bytes after a complete structure")]
    TrailingBytes {
        /// Number of bytes left over.
        count: usize,
    },
    /// The version byte names a format this build does not understand.
    #[error("unknown format version {0}: the peer may run a newer hushwire")]
    UnknownVersion(u8),
    /// The type byte names no known structure.
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// The type byte names a structure other than the one the caller asked for.
    #[error("expected message type {expected:#04x}, found {found:#04x}")]
    WrongType {
        /// The type the caller asked to decode.
        expected: u8,
        /// The type found in the input.
        found: u8,
    },
    /// The input is longer than the named maximum for this structure.
    #[error("input of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Length of the input.
        len: usize,
        /// The maximum allowed.
        max: usize,
    },
    /// A field holds a value outside its allowed range (for example a flag byte other than 0 or 1).
    #[error("field `{field}` holds an invalid value")]
    InvalidField {
        /// Name of the field, as in SPEC.md.
        field: &'static str,
    },
}

impl DecodeError {
    /// The broad class of this error (always [`ErrorKind::Malformed`], except oversize input).
    pub fn kind(&self) -> ErrorKind {
        match self {
            DecodeError::TooLarge { .. } => ErrorKind::LimitExceeded,
            _ => ErrorKind::Malformed,
        }
    }
}

/// Errors from checking a public key received from someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a valid, strong Ed25519 identity key (not a curve point, or of small order).
    #[error("invalid or weak Ed25519 identity key")]
    InvalidIdentityKey,
    /// The bytes are not a valid ML-KEM-768 encapsulation key.
    #[error("invalid ML-KEM-768 encapsulation key")]
    InvalidKemKey,
    /// A signature over a prekey did not verify under the identity key.
    #[error("bad signature on the {0:?}")]
    InvalidSignature(SignedKeyKind),
}

impl KeyError {
    /// The broad class of this error (a key or signature that fails its check).
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Tampered
    }
}

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
}

impl EncryptError {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::LimitExceeded
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
}

impl DecryptError {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DecryptError::Malformed(e) => e.kind(),
            DecryptError::Undecryptable
            | DecryptError::Tampered
            | DecryptError::NonContributory => ErrorKind::Tampered,
            DecryptError::InvalidCounter => ErrorKind::Tampered,
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
    /// The account already holds sessions with [`crate::MAX_PEERS`] peer devices and this
    /// handshake would add another: forget idle peers ([`crate::Account::forget_peer`]).
    #[error("the account holds sessions with {limit} peers already; forget idle peers first")]
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

/// Errors from a caller-supplied configuration or argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A limit is outside its allowed range.
    #[error("`{name}` = {value} is outside the allowed range {min}..={max}")]
    OutOfRange {
        /// Name of the setting.
        name: &'static str,
        /// The value supplied.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
}

impl ConfigError {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// Any hushwire error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`DecodeError`].
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// See [`KeyError`].
    #[error(transparent)]
    Key(#[from] KeyError),
    /// See [`EncryptError`].
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
    /// See [`DecryptError`].
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// See [`HandshakeError`].
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// See [`ConfigError`].
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// See [`RestoreError`].
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// See [`crate::PeerError`].
    #[error(transparent)]
    Peer(#[from] crate::PeerError),
    /// See [`crate::ResetError`].
    #[error(transparent)]
    Reset(#[from] crate::ResetError),
    /// See [`crate::CertificateError`].
    #[error(transparent)]
    Certificate(#[from] crate::CertificateError),
    /// See [`crate::SealError`].
    #[error(transparent)]
    Seal(#[from] crate::SealError),
    /// See [`crate::OpenError`].
    #[error(transparent)]
    Open(#[from] crate::OpenError),
    /// See [`crate::SealedSessionError`].
    #[error(transparent)]
    SealedSession(#[from] crate::SealedSessionError),
    /// See [`crate::group::GroupError`].
    #[error(transparent)]
    Group(#[from] crate::group::GroupError),
    /// See [`crate::group::RosterError`].
    #[error(transparent)]
    Roster(#[from] crate::group::RosterError),
    /// See [`crate::verify::VerifyError`].
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    /// See [`crate::mask::MaskCheckError`].
    #[cfg(feature = "mask")]
    #[error(transparent)]
    MaskCheck(#[from] crate::mask::MaskCheckError),
    /// See [`crate::mask::SecureFieldError`].
    #[cfg(feature = "mask")]
    #[error(transparent)]
    SecureField(#[from] crate::mask::SecureFieldError),
}

impl Error {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Decode(e) => e.kind(),
            Error::Key(_) => ErrorKind::Tampered,
            Error::Encrypt(e) => e.kind(),
            Error::Decrypt(e) => e.kind(),
            Error::Handshake(e) => e.kind(),
            Error::Config(e) => e.kind(),
            Error::Restore(e) => e.kind(),
            Error::Peer(e) => e.kind(),
            Error::Reset(e) => e.kind(),
            Error::Certificate(e) => e.kind(),
            Error::Seal(e) => e.kind(),
            Error::Open(e) => e.kind(),
            Error::SealedSession(e) => e.kind(),
            Error::Group(e) => e.kind(),
            Error::Roster(e) => e.kind(),
            Error::Verify(e) => e.kind(),
            #[cfg(feature = "mask")]
            Error::MaskCheck(e) => e.kind(),
            #[cfg(feature = "mask")]
            Error::SecureField(e) => e.kind(),
        }
    }
}

/// Errors from restoring state exported with `to_encrypted`.
///
/// Restoring never changes anything: on error the caller still has whatever it had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The blob is shorter than its fixed header and tag.
    #[error("state blob truncated")]
    Truncated,
    /// The blob does not start with the hushwire state magic.
    #[error("not a hushwire state blob")]
    NotStateBlob,
    /// The blob's format version is newer than this build understands.
    #[error("unknown state format version {0}: written by a newer hushwire")]
    UnknownVersion(u16),
    /// The blob holds another kind of state than the one asked for.
    #[error("blob holds state type {found}, expected {expected}")]
    WrongType {
        /// The type tag asked for.
        expected: u8,
        /// The type tag found.
        found: u8,
    },
    /// Wrong storage key, or the blob was altered.
    #[error("state blob failed authentication (wrong storage key or tampered)")]
    Authentication,
    /// The blob authenticated but its content is not valid state of this version.
    #[error("state blob content is invalid for its version")]
    Corrupt,
    /// The blob is older than the generation the app says it last stored.
    #[error("state blob is generation {found}, older than the required {minimum} (rolled back)")]
    RolledBack {
        /// The generation in the blob.
        found: u64,
        /// The minimum the caller required.
        minimum: u64,
    },
}

impl RestoreError {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RestoreError::Truncated
            | RestoreError::NotStateBlob
            | RestoreError::UnknownVersion(_)
            | RestoreError::WrongType { .. }
            | RestoreError::Corrupt => ErrorKind::Malformed,
            RestoreError::Authentication => ErrorKind::Tampered,
            RestoreError::RolledBack { .. } => ErrorKind::Replay,
        }
    }
}
