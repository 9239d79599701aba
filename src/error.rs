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

impl ErrorKind {
    /// A stable, language-neutral name of this kind, in snake_case (SPEC.md §8.4): for example
    /// `"state_out_of_sync"`. It never changes once released.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Malformed => "malformed",
            ErrorKind::Tampered => "tampered",
            ErrorKind::UnknownSession => "unknown_session",
            ErrorKind::Replay => "replay",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::StateOutOfSync => "state_out_of_sync",
            ErrorKind::Untrusted => "untrusted",
        }
    }
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
    /// A stable, language-neutral name of this error, `"decode.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "decode.truncated",
            DecodeError::TrailingBytes { .. } => "decode.trailing_bytes",
            DecodeError::UnknownVersion(_) => "decode.unknown_version",
            DecodeError::UnknownType(_) => "decode.unknown_type",
            DecodeError::WrongType { .. } => "decode.wrong_type",
            DecodeError::TooLarge { .. } => "decode.too_large",
            DecodeError::InvalidField { .. } => "decode.invalid_field",
        }
    }

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
    /// A stable, language-neutral name of this error, `"key.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::InvalidIdentityKey => "key.invalid_identity_key",
            KeyError::InvalidKemKey => "key.invalid_kem_key",
            KeyError::InvalidSignature(_) => "key.invalid_signature",
        }
    }

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
    /// A stable, language-neutral name of this error, `"encrypt.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            EncryptError::PlaintextTooLarge { .. } => "encrypt.plaintext_too_large",
            EncryptError::ChainExhausted => "encrypt.chain_exhausted",
        }
    }

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
        }
    }

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
    /// The device has a stored record of this peer that is not loaded (a cold start from
    /// records, SPEC.md §11.9): load it (`Device::load_peer`) and retry. Nothing changed.
    #[error("the peer's stored record is not loaded; load it and retry")]
    PeerNotLoaded,
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
            HandshakeError::PeerNotLoaded => "handshake.peer_not_loaded",
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
            | HandshakeError::UnknownKemPreKey(_)
            | HandshakeError::PeerNotLoaded => ErrorKind::UnknownSession,
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
    /// Every prekey id of this kind is held by a live key: no id is free for a new one.
    /// Unreachable under the prekey caps (SPEC.md §3.1), kept so a wrapped counter can never
    /// replace a live key.
    #[error("no free `{name}` id is left")]
    IdsExhausted {
        /// Which prekeys: `"one-time prekeys"` or `"one-time ML-KEM prekeys"`.
        name: &'static str,
    },
}

impl ConfigError {
    /// A stable, language-neutral name of this error, `"config.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::OutOfRange { .. } => "config.out_of_range",
            ConfigError::IdsExhausted { .. } => "config.ids_exhausted",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ConfigError::OutOfRange { .. } => ErrorKind::InvalidInput,
            ConfigError::IdsExhausted { .. } => ErrorKind::LimitExceeded,
        }
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
    /// See [`crate::attachment::AttachmentError`].
    #[error(transparent)]
    Attachment(#[from] crate::attachment::AttachmentError),
    /// See [`crate::backup::BackupError`].
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
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
    /// The stable, language-neutral code of the error inside (SPEC.md §8.4): every code names
    /// its family, so `Error::from(e).code() == e.code()` for every error `e`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Decode(e) => e.code(),
            Error::Key(e) => e.code(),
            Error::Encrypt(e) => e.code(),
            Error::Decrypt(e) => e.code(),
            Error::Handshake(e) => e.code(),
            Error::Config(e) => e.code(),
            Error::Restore(e) => e.code(),
            Error::Peer(e) => e.code(),
            Error::Reset(e) => e.code(),
            Error::Certificate(e) => e.code(),
            Error::Seal(e) => e.code(),
            Error::Open(e) => e.code(),
            Error::SealedSession(e) => e.code(),
            Error::Group(e) => e.code(),
            Error::Roster(e) => e.code(),
            Error::Verify(e) => e.code(),
            Error::Attachment(e) => e.code(),
            Error::Backup(e) => e.code(),
            #[cfg(feature = "mask")]
            Error::MaskCheck(e) => e.code(),
            #[cfg(feature = "mask")]
            Error::SecureField(e) => e.code(),
        }
    }

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
            Error::Attachment(e) => e.kind(),
            Error::Backup(e) => e.kind(),
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
    /// The blob is authentic but holds another object than the caller expects (SPEC.md
    /// §11.7): another peer's session, another device's account, another group, or another
    /// slot's label. Its storage was swapped, or the app looked in the wrong slot.
    #[error("the blob holds another object than expected (its `{field}` differs)")]
    WrongObject {
        /// The first part that differs: `"label"`, `"identity"`, `"peer"`, `"session_id"` or
        /// `"group_id"`.
        field: &'static str,
    },
    /// The blob authenticated but holds more than a documented limit allows (SPEC.md §11.3):
    /// the library never writes such state.
    #[error("restored state exceeds the limit `{limit}` of {max}")]
    LimitExceeded {
        /// The limit, by the name of its constant (for example `"MAX_ONE_TIME_PREKEYS"`).
        limit: &'static str,
        /// Its value.
        max: u64,
    },
    /// The blob holds a device's peers, reset logs or recorded identities and was restored as
    /// a bare `Account`, which would drop them: restore it with `Device::from_encrypted`.
    #[error("the blob holds a device's sessions or identity book; restore it as a Device")]
    DeviceState,
}

impl RestoreError {
    /// A stable, language-neutral name of this error, `"restore.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            RestoreError::Truncated => "restore.truncated",
            RestoreError::NotStateBlob => "restore.not_state_blob",
            RestoreError::UnknownVersion(_) => "restore.unknown_version",
            RestoreError::WrongType { .. } => "restore.wrong_type",
            RestoreError::Authentication => "restore.authentication",
            RestoreError::Corrupt => "restore.corrupt",
            RestoreError::RolledBack { .. } => "restore.rolled_back",
            RestoreError::LimitExceeded { .. } => "restore.limit_exceeded",
            RestoreError::WrongObject { .. } => "restore.wrong_object",
            RestoreError::DeviceState => "restore.device_state",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RestoreError::Truncated
            | RestoreError::NotStateBlob
            | RestoreError::UnknownVersion(_)
            | RestoreError::WrongType { .. }
            | RestoreError::Corrupt => ErrorKind::Malformed,
            RestoreError::DeviceState => ErrorKind::InvalidInput,
            RestoreError::Authentication | RestoreError::WrongObject { .. } => ErrorKind::Tampered,
            RestoreError::RolledBack { .. } => ErrorKind::Replay,
            RestoreError::LimitExceeded { .. } => ErrorKind::LimitExceeded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attachment::AttachmentError;
    use crate::certificate::{CertificateError, CertificateKind};
    use crate::event::Event;
    use crate::group::{GroupError, GroupEvent, GroupRole, RosterError};
    use crate::keys::IdentityKeyPair;
    use crate::sealed::padding::PaddingError;
    use crate::sealed::{ContentType, OpenError, SealError};
    use crate::session::SessionId;
    use crate::time::Timestamp;
    use crate::verify::{UserId, VerifyError};
    use crate::{PeerError, ResetError, SealedSessionError};
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// Every code of the crate, in SPEC.md §8.4 order. A renamed code breaks bindings and
    /// vectors: change this list only for a new variant (and add it to SPEC.md §8.4).
    const CODES: &[&str] = &[
        "decode.truncated",
        "decode.trailing_bytes",
        "decode.unknown_version",
        "decode.unknown_type",
        "decode.wrong_type",
        "decode.too_large",
        "decode.invalid_field",
        "key.invalid_identity_key",
        "key.invalid_kem_key",
        "key.invalid_signature",
        "encrypt.plaintext_too_large",
        "encrypt.chain_exhausted",
        "decrypt.malformed",
        "decrypt.undecryptable",
        "decrypt.tampered",
        "decrypt.other_session",
        "decrypt.duplicate",
        "decrypt.key_expired",
        "decrypt.too_far_ahead",
        "decrypt.invalid_counter",
        "decrypt.non_contributory",
        "decrypt.state_behind",
        "decrypt.peer_state_forked",
        "decrypt.chain_forgotten",
        "handshake.malformed",
        "handshake.key",
        "handshake.non_contributory",
        "handshake.unknown_signed_prekey",
        "handshake.unknown_one_time_prekey",
        "handshake.one_time_prekey_reused",
        "handshake.unknown_kem_prekey",
        "handshake.kem_prekey_reused",
        "handshake.replayed_initial_message",
        "handshake.replay_records_full",
        "handshake.too_many_peers",
        "handshake.own_identity",
        "handshake.peer_not_loaded",
        "handshake.first_message",
        "config.out_of_range",
        "config.ids_exhausted",
        "restore.truncated",
        "restore.not_state_blob",
        "restore.unknown_version",
        "restore.wrong_type",
        "restore.authentication",
        "restore.corrupt",
        "restore.rolled_back",
        "restore.limit_exceeded",
        "restore.wrong_object",
        "restore.device_state",
        "peer.unknown_peer",
        "peer.no_matching_session",
        "peer.no_answered_session",
        "peer.sender_mismatch",
        "peer.identity_changed",
        "peer.not_loaded",
        "peer.encrypt",
        "peer.decrypt",
        "peer.handshake",
        "reset.malformed",
        "reset.bad_signature",
        "reset.not_for_us",
        "reset.stale",
        "reset.rate_limited",
        "reset.bundle_mismatch",
        "reset.handshake",
        "certificate.malformed",
        "certificate.unknown_root",
        "certificate.bad_signature",
        "certificate.expired",
        "certificate.not_yet_valid",
        "certificate.server_key_revoked",
        "certificate.certificate_revoked",
        "certificate.invalid_key",
        "certificate.invalid_validity",
        "certificate.user_id_length",
        "certificate.issuer_mismatch",
        "certificate.duplicate_root",
        "certificate.trust_store_full",
        "seal.message_too_large",
        "seal.certificate_mismatch",
        "seal.no_recipients",
        "seal.too_many_recipients",
        "seal.duplicate_recipient",
        "seal.non_contributory",
        "open.malformed",
        "open.not_for_us",
        "open.non_contributory",
        "open.tampered",
        "open.bad_padding",
        "open.malformed_content",
        "open.sender_not_authenticated",
        "open.self_send",
        "open.certificate",
        "padding.missing_marker",
        "padding.wrong_length",
        "sealed_session.not_session_content",
        "sealed_session.wrong_session",
        "sealed_session.sender_mismatch",
        "sealed_session.decrypt",
        "sealed_session.handshake",
        "sealed_session.peer",
        "group.malformed",
        "group.wrong_group",
        "group.removed",
        "group.own_message",
        "group.unknown_sender",
        "group.unknown_sender_key",
        "group.sender_mismatch",
        "group.bad_signature",
        "group.tampered",
        "group.invalid_epoch",
        "group.sender_key_retired",
        "group.stale_sender_key",
        "group.duplicate_distribution",
        "group.future_epoch",
        "group.old_epoch_refused",
        "group.duplicate",
        "group.key_evicted",
        "group.before_sender_key",
        "group.too_far_ahead",
        "group.plaintext_too_large",
        "group.chain_exhausted",
        "group.wrong_identity",
        "roster.malformed",
        "roster.wrong_group",
        "roster.bad_signature",
        "roster.not_admin",
        "roster.skipped_epoch",
        "roster.forked_epoch",
        "roster.stale_epoch",
        "roster.duplicate_change",
        "roster.too_many_members",
        "roster.already_member",
        "roster.not_a_member",
        "roster.last_admin",
        "roster.inviter_mismatch",
        "roster.not_in_roster",
        "roster.removed",
        "roster.epoch_exhausted",
        "roster.wrong_identity",
        "verify.malformed",
        "verify.safety_number_version",
        "verify.other_pair",
        "verify.swapped",
        "verify.user_id_length",
        "verify.session_not_established",
        "verify.sas_other_run",
        "verify.sas_other_session",
        "verify.sas_commitment_mismatch",
        "verify.sas_expired",
        "verify.unknown_user",
        "verify.identity_mismatch",
        "verify.own_identity",
        "verify.too_many_identities",
        "verify.text_length",
        "verify.invalid_text",
        "verify.issuer_mismatch",
        "verify.lifetime_too_long",
        "verify.forged",
        "verify.foreign_organization",
        "verify.organization_mismatch",
        "verify.expired",
        "verify.not_yet_valid",
        "verify.revoked",
        "verify.operator_key_mismatch",
        "verify.certificate",
        "attachment.malformed",
        "attachment.invalid_chunk_size",
        "attachment.too_large",
        "attachment.field_too_long",
        "attachment.invalid_text",
        "attachment.finished",
        "attachment.header_mismatch",
        "attachment.chunk_tampered",
        "attachment.chunk_reordered",
        "attachment.chunk_duplicated",
        "attachment.truncated",
        "attachment.missing_final_chunk",
        "attachment.trailing_data",
        "attachment.invalid_padding",
        "attachment.length_mismatch",
        "attachment.digest_mismatch",
        "attachment.chunk_out_of_range",
        "attachment.range_out_of_bounds",
        "attachment.ciphertext_length",
        "backup.malformed",
        "backup.recovery_key_format",
        "backup.recovery_key_mistyped",
        "backup.wrong_recovery_key",
        "backup.wrong_passphrase",
        "backup.not_passphrase_protected",
        "backup.kdf_params_out_of_range",
        "backup.bad_signature",
        "backup.unknown_signer",
        "backup.rolled_back",
        "backup.entry_missing",
        "backup.entry_unlisted",
        "backup.entry_out_of_order",
        "backup.wrapped_key_mismatch",
        "backup.entry_tampered",
        "backup.entry_content",
        "backup.manifest_forked",
        "backup.backup_full",
        "backup.payload_too_large",
        "backup.invalid_public_key",
        "mask_check.unmasked",
        "secure_field.empty_value",
        "secure_field.value_too_long",
        "secure_field.flag_only_policy",
        "secure_field.seal",
        "secure_field.open",
        "secure_field.not_secure_field",
        "secure_field.malformed",
        "secure_field.mismatch",
        "event.one_time_prekey_consumed",
        "event.kem_prekey_consumed",
        "event.last_resort_kem_prekey_used",
        "event.one_time_prekeys_low",
        "event.skipped_keys_evicted",
        "event.session_established",
        "event.active_session_changed",
        "event.session_reset",
        "event.prekey_rotation_due",
        "event.skipped_keys_expired",
        "event.identity_changed",
        "event.peer_evicted",
        "group_event.member_added",
        "group_event.member_removed",
        "group_event.role_changed",
        "group_event.removed_from_group",
        "group_event.sender_key_rotated",
        "group_event.sender_key_received",
        "group_event.skipped_keys_evicted",
        "group_event.old_epoch_message",
    ];

    /// The code of one value of every error variant and event of the crate, in SPEC.md §8.4
    /// order: each variant maps to its own code.
    fn every_code() -> Vec<&'static str> {
        let d = DecodeError::Truncated { needed: 1 };
        let decode = [
            d,
            DecodeError::TrailingBytes { count: 1 },
            DecodeError::UnknownVersion(2),
            DecodeError::UnknownType(0x7f),
            DecodeError::WrongType {
                expected: 1,
                found: 2,
            },
            DecodeError::TooLarge { len: 2, max: 1 },
            DecodeError::InvalidField { field: "f" },
        ];
        let key = [
            KeyError::InvalidIdentityKey,
            KeyError::InvalidKemKey,
            KeyError::InvalidSignature(SignedKeyKind::SignedPreKey),
        ];
        let encrypt = [
            EncryptError::PlaintextTooLarge { len: 2, max: 1 },
            EncryptError::ChainExhausted,
        ];
        let decrypt = [
            DecryptError::Malformed(d),
            DecryptError::Undecryptable,
            DecryptError::Tampered,
            DecryptError::OtherSession,
            DecryptError::Duplicate { counter: 0 },
            DecryptError::KeyExpired { counter: 0 },
            DecryptError::TooFarAhead { gap: 2, max: 1 },
            DecryptError::InvalidCounter,
            DecryptError::NonContributory,
            DecryptError::StateBehind {
                their_epoch: 2,
                our_epoch: 1,
            },
            DecryptError::PeerStateForked,
            DecryptError::ChainForgotten,
        ];
        let handshake = [
            HandshakeError::Malformed(d),
            HandshakeError::Key(KeyError::InvalidKemKey),
            HandshakeError::NonContributory,
            HandshakeError::UnknownSignedPreKey(1),
            HandshakeError::UnknownOneTimePreKey(1),
            HandshakeError::OneTimePreKeyReused(1),
            HandshakeError::UnknownKemPreKey(1),
            HandshakeError::KemPreKeyReused(1),
            HandshakeError::ReplayedInitialMessage,
            HandshakeError::ReplayRecordsFull,
            HandshakeError::TooManyPeers { limit: 1 },
            HandshakeError::OwnIdentity,
            HandshakeError::PeerNotLoaded,
            HandshakeError::FirstMessage(DecryptError::Tampered),
        ];
        let config = [
            ConfigError::OutOfRange {
                name: "n",
                value: 0,
                min: 1,
                max: 2,
            },
            ConfigError::IdsExhausted { name: "n" },
        ];
        let restore = [
            RestoreError::Truncated,
            RestoreError::NotStateBlob,
            RestoreError::UnknownVersion(2),
            RestoreError::WrongType {
                expected: 1,
                found: 2,
            },
            RestoreError::Authentication,
            RestoreError::Corrupt,
            RestoreError::RolledBack {
                found: 1,
                minimum: 2,
            },
            RestoreError::LimitExceeded {
                limit: "members",
                max: 1,
            },
            RestoreError::WrongObject { field: "peer" },
            RestoreError::DeviceState,
        ];
        let peer = [
            PeerError::UnknownPeer,
            PeerError::NoMatchingSession,
            PeerError::NoAnsweredSession,
            PeerError::SenderMismatch,
            PeerError::IdentityChanged,
            PeerError::NotLoaded,
            PeerError::Encrypt(EncryptError::ChainExhausted),
            PeerError::Decrypt(DecryptError::Tampered),
            PeerError::Handshake(HandshakeError::OwnIdentity),
        ];
        let reset = [
            ResetError::Malformed(d),
            ResetError::BadSignature,
            ResetError::NotForUs,
            ResetError::Stale,
            ResetError::RateLimited {
                retry_after_secs: 1,
            },
            ResetError::BundleMismatch,
            ResetError::Handshake(HandshakeError::OwnIdentity),
        ];
        let t = Timestamp::from_unix_secs(1);
        let k = CertificateKind::Sender;
        let certificate = [
            CertificateError::Malformed(d),
            CertificateError::UnknownRoot { root_id: 1 },
            CertificateError::BadSignature(k),
            CertificateError::Expired {
                kind: k,
                expires_at: t,
            },
            CertificateError::NotYetValid {
                kind: k,
                not_before: t,
            },
            CertificateError::ServerKeyRevoked { key_id: 1 },
            CertificateError::CertificateRevoked {
                kind: k,
                server_key_id: 1,
                serial: 1,
            },
            CertificateError::InvalidKey,
            CertificateError::InvalidValidity,
            CertificateError::UserIdLength { len: 0, max: 1 },
            CertificateError::IssuerMismatch,
            CertificateError::DuplicateRoot { root_id: 1 },
            CertificateError::TrustStoreFull { max: 1 },
        ];
        let seal = [
            SealError::MessageTooLarge { len: 2, max: 1 },
            SealError::CertificateMismatch,
            SealError::NoRecipients,
            SealError::TooManyRecipients { count: 2, max: 1 },
            SealError::DuplicateRecipient { index: 1 },
            SealError::NonContributory,
        ];
        let open = [
            OpenError::Malformed(d),
            OpenError::NotForUs,
            OpenError::NonContributory,
            OpenError::Tampered,
            OpenError::BadPadding(PaddingError::MissingMarker),
            OpenError::MalformedContent(d),
            OpenError::SenderNotAuthenticated,
            OpenError::SelfSend,
            OpenError::Certificate(CertificateError::InvalidKey),
        ];
        let padding = [
            PaddingError::MissingMarker,
            PaddingError::WrongLength {
                len: 1,
                expected: 2,
            },
        ];
        let sealed_session = [
            SealedSessionError::NotSessionContent {
                content_type: ContentType::GROUP,
            },
            SealedSessionError::WrongSession,
            SealedSessionError::SenderMismatch,
            SealedSessionError::Decrypt(DecryptError::Tampered),
            SealedSessionError::Handshake(HandshakeError::OwnIdentity),
            SealedSessionError::Peer(PeerError::UnknownPeer),
        ];
        let group = [
            GroupError::Malformed(d),
            GroupError::WrongGroup,
            GroupError::Removed,
            GroupError::OwnMessage,
            GroupError::UnknownSender,
            GroupError::UnknownSenderKey { key_id: 1 },
            GroupError::SenderMismatch,
            GroupError::BadSignature,
            GroupError::Tampered,
            GroupError::InvalidEpoch,
            GroupError::SenderKeyRetired { key_id: 1 },
            GroupError::StaleSenderKey { key_id: 1 },
            GroupError::DuplicateDistribution { key_id: 1 },
            GroupError::FutureEpoch {
                message_epoch: 2,
                our_epoch: 1,
            },
            GroupError::OldEpochRefused {
                key_id: 1,
                rekey_epoch: 2,
            },
            GroupError::Duplicate { index: 1 },
            GroupError::KeyEvicted { index: 1 },
            GroupError::BeforeSenderKey { index: 1, first: 2 },
            GroupError::TooFarAhead { gap: 2, max: 1 },
            GroupError::PlaintextTooLarge { len: 2, max: 1 },
            GroupError::ChainExhausted,
            GroupError::WrongIdentity,
        ];
        let roster = [
            RosterError::Malformed(d),
            RosterError::WrongGroup,
            RosterError::BadSignature,
            RosterError::NotAdmin { signer: [0; 32] },
            RosterError::SkippedEpoch {
                current: 1,
                found: 3,
            },
            RosterError::ForkedEpoch { epoch: 1 },
            RosterError::StaleEpoch {
                current: 2,
                found: 1,
            },
            RosterError::DuplicateChange { epoch: 1 },
            RosterError::TooManyMembers { max: 1 },
            RosterError::AlreadyMember { member: [0; 32] },
            RosterError::NotAMember { member: [0; 32] },
            RosterError::LastAdmin,
            RosterError::InviterMismatch,
            RosterError::NotInRoster,
            RosterError::Removed,
            RosterError::EpochExhausted,
            RosterError::WrongIdentity,
        ];
        let verify = [
            VerifyError::Malformed(d),
            VerifyError::SafetyNumberVersion { ours: 1, theirs: 2 },
            VerifyError::OtherPair,
            VerifyError::Swapped,
            VerifyError::UserIdLength { len: 0, max: 1 },
            VerifyError::SessionNotEstablished,
            VerifyError::SasOtherRun,
            VerifyError::SasOtherSession,
            VerifyError::SasCommitmentMismatch,
            VerifyError::SasExpired {
                expired_at: Timestamp::from_unix_secs(0),
            },
            VerifyError::UnknownUser,
            VerifyError::IdentityMismatch,
            VerifyError::OwnIdentity,
            VerifyError::TooManyIdentities { max: 1 },
            VerifyError::TextLength {
                field: "f",
                len: 0,
                max: 1,
            },
            VerifyError::InvalidText { field: "f" },
            VerifyError::IssuerMismatch,
            VerifyError::LifetimeTooLong {
                lifetime_secs: 2,
                max_secs: 1,
            },
            VerifyError::Forged,
            VerifyError::ForeignOrganization { root_id: 1 },
            VerifyError::OrganizationMismatch { root_id: 1 },
            VerifyError::Expired { expires_at: t },
            VerifyError::NotYetValid { not_before: t },
            VerifyError::Revoked,
            VerifyError::OperatorKeyMismatch,
            VerifyError::Certificate(CertificateError::InvalidKey),
        ];
        let id = SessionId::from_bytes([0; 32]);
        let member = *IdentityKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1)).public();
        let events = [
            Event::OneTimePreKeyConsumed { id: 1 },
            Event::KemPreKeyConsumed { id: 1 },
            Event::LastResortKemPreKeyUsed { id: 1 },
            Event::OneTimePreKeysLow {
                x25519_remaining: 0,
                kem_remaining: 0,
            },
            Event::SkippedKeysEvicted { count: 1 },
            Event::SessionEstablished { session_id: id },
            Event::ActiveSessionChanged { session_id: id },
            Event::SessionReset { session_id: id },
            Event::PreKeyRotationDue,
            Event::SkippedKeysExpired { count: 1 },
            Event::IdentityChanged {
                user_id: UserId::new(b"u").unwrap(),
                was_verified: true,
            },
            Event::PeerEvicted { peer: member },
        ];
        let group_events = [
            GroupEvent::MemberAdded {
                member,
                role: GroupRole::Member,
                by: member,
                epoch: 1,
            },
            GroupEvent::MemberRemoved {
                member,
                by: member,
                epoch: 1,
            },
            GroupEvent::RoleChanged {
                member,
                role: GroupRole::Admin,
                by: member,
                epoch: 1,
            },
            GroupEvent::RemovedFromGroup {
                by: member,
                epoch: 1,
            },
            GroupEvent::SenderKeyRotated { key_id: 1 },
            GroupEvent::SenderKeyReceived { member, key_id: 1 },
            GroupEvent::SkippedKeysEvicted { count: 1 },
            GroupEvent::OldEpochMessage {
                member,
                key_id: 1,
                message_epoch: 1,
                rekey_epoch: 2,
            },
        ];

        let mut errors: Vec<Error> = Vec::new();
        errors.extend(decode.map(Error::from));
        errors.extend(key.map(Error::from));
        errors.extend(encrypt.map(Error::from));
        errors.extend(decrypt.map(Error::from));
        errors.extend(handshake.map(Error::from));
        errors.extend(config.map(Error::from));
        errors.extend(restore.map(Error::from));
        errors.extend(peer.map(Error::from));
        errors.extend(reset.map(Error::from));
        errors.extend(certificate.map(Error::from));
        errors.extend(seal.map(Error::from));
        errors.extend(open.map(Error::from));
        let mut codes: Vec<&'static str> = errors.iter().map(Error::code).collect();
        // `PaddingError` has no umbrella variant: it reaches callers inside `OpenError`.
        codes.extend(padding.iter().map(PaddingError::code));
        let mut rest: Vec<Error> = Vec::new();
        rest.extend(sealed_session.map(Error::from));
        rest.extend(group.map(Error::from));
        rest.extend(roster.map(Error::from));
        rest.extend(verify.map(Error::from));
        let attachment = [
            AttachmentError::Malformed(DecodeError::Truncated { needed: 1 }),
            AttachmentError::InvalidChunkSize {
                log2: 1,
                min: 1,
                max: 1,
            },
            AttachmentError::TooLarge { len: 1, max: 1 },
            AttachmentError::FieldTooLong {
                field: "f",
                len: 1,
                max: 1,
            },
            AttachmentError::InvalidText { field: "f" },
            AttachmentError::Finished,
            AttachmentError::HeaderMismatch,
            AttachmentError::ChunkTampered { index: 1 },
            AttachmentError::ChunkReordered { index: 1, found: 1 },
            AttachmentError::ChunkDuplicated { index: 1, found: 1 },
            AttachmentError::Truncated {
                len: 1,
                expected: 1,
            },
            AttachmentError::MissingFinalChunk { chunks: 1 },
            AttachmentError::TrailingData {
                len: 1,
                expected: 1,
            },
            AttachmentError::InvalidPadding { index: 1 },
            AttachmentError::LengthMismatch {
                pointer: 1,
                stream: 1,
            },
            AttachmentError::DigestMismatch,
            AttachmentError::ChunkOutOfRange {
                index: 1,
                chunks: 1,
            },
            AttachmentError::RangeOutOfBounds {
                start: 1,
                end: 1,
                len: 1,
            },
            AttachmentError::CiphertextLength {
                len: 1,
                expected: 1,
            },
        ];
        rest.extend(attachment.map(Error::from));
        {
            use crate::backup::BackupError;
            let backup = [
                BackupError::Malformed(DecodeError::Truncated { needed: 1 }),
                BackupError::RecoveryKeyFormat,
                BackupError::RecoveryKeyMistyped,
                BackupError::WrongRecoveryKey,
                BackupError::WrongPassphrase,
                BackupError::NotPassphraseProtected,
                BackupError::KdfParamsOutOfRange {
                    name: "lanes",
                    value: 5,
                    min: 1,
                    max: 4,
                },
                BackupError::BadSignature,
                BackupError::UnknownSigner,
                BackupError::RolledBack {
                    found: 1,
                    minimum: 2,
                },
                BackupError::EntryMissing { seq: 1 },
                BackupError::EntryUnlisted { seq: 1 },
                BackupError::EntryOutOfOrder {
                    position: 1,
                    seq: 2,
                },
                BackupError::WrappedKeyMismatch,
                BackupError::EntryTampered { seq: 1 },
                BackupError::EntryContent(RestoreError::Corrupt),
                BackupError::ManifestForked,
                BackupError::BackupFull { max: 1 },
                BackupError::PayloadTooLarge { len: 2, max: 1 },
                BackupError::InvalidPublicKey,
            ];
            rest.extend(backup.map(Error::from));
        }
        #[cfg(feature = "mask")]
        {
            use crate::mask::{MaskCheckError, SecureFieldError, SensitiveKind};
            rest.push(Error::from(MaskCheckError::Unmasked {
                kind: SensitiveKind::CARD,
                start: 0,
                end: 1,
            }));
            let secure_field = [
                SecureFieldError::EmptyValue,
                SecureFieldError::ValueTooLong { len: 2, max: 1 },
                SecureFieldError::FlagOnlyPolicy,
                SecureFieldError::Seal(SealError::NoRecipients),
                SecureFieldError::Open(OpenError::Tampered),
                SecureFieldError::NotSecureField {
                    content_type: ContentType::SESSION,
                },
                SecureFieldError::Malformed(DecodeError::Truncated { needed: 1 }),
                SecureFieldError::Mismatch,
            ];
            rest.extend(secure_field.map(Error::from));
        }
        codes.extend(rest.iter().map(Error::code));
        codes.extend(events.iter().map(Event::code));
        codes.extend(group_events.iter().map(GroupEvent::code));

        // The umbrella's code is the inner error's, and so is its kind.
        for e in errors.iter().chain(&rest) {
            assert!(e.code().contains('.'), "{e:?}");
        }
        for e in decrypt {
            assert_eq!(Error::from(e).code(), e.code());
        }
        codes
    }

    #[test]
    fn codes_are_unique_and_match_the_fixed_list() {
        let codes = every_code();
        assert_eq!(codes, CODES);
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), codes.len(), "a code is used twice");
        for code in codes {
            let (family, variant) = code.split_once('.').unwrap();
            for part in [family, variant] {
                assert!(
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{code} is not dotted snake_case"
                );
            }
        }
    }

    #[test]
    fn spec_lists_every_code_and_kind() {
        let spec = include_str!("../SPEC.md");
        let start = spec.find("### 8.4 Codes").expect("SPEC.md has §8.4");
        let end = start + spec[start..].find("\n## ").expect("§8.4 ends");
        let section = &spec[start..end];
        let listed: Vec<&str> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .filter(|c| c.contains('.'))
            .collect();
        assert_eq!(listed, CODES, "SPEC.md §8.4 lists other codes");
        for kind in [
            ErrorKind::Malformed,
            ErrorKind::Tampered,
            ErrorKind::UnknownSession,
            ErrorKind::Replay,
            ErrorKind::LimitExceeded,
            ErrorKind::InvalidInput,
            ErrorKind::StateOutOfSync,
            ErrorKind::Untrusted,
        ] {
            let row = format!("| `{kind:?}` | `{}` |", kind.code());
            assert!(spec.contains(&row), "SPEC.md §8.1 lacks {row}");
        }
    }

    /// Every code string in the `code()` methods of the crate's source is in [`CODES`], once:
    /// a new variant's code, or a renamed one, fails here until the list (and SPEC.md §8.4)
    /// has it.
    #[test]
    fn every_code_in_the_source_is_listed() {
        // Every file under src/ (a file's `mod tests` block is skipped below).
        fn rust_files(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let mut sources = Vec::new();
        rust_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut sources,
        );
        let mut found = Vec::new();
        for source in &sources {
            // Only the library code: a test module's list is not a source of codes.
            let code = source.split("#[cfg(test)]\nmod tests {").next().unwrap();
            // Every text between two quotes that is a dotted snake_case word (whatever the
            // quotes' parity: nothing else in the source has that shape).
            let pieces: Vec<&str> = code.split('"').collect();
            for literal in pieces.iter().skip(1).take(pieces.len().saturating_sub(2)) {
                let dotted = literal.split_once('.').is_some_and(|(f, v)| {
                    !f.is_empty()
                        && !v.is_empty()
                        && !v.contains('.')
                        && literal
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
                });
                if dotted {
                    found.push(*literal);
                }
            }
        }
        let mut listed = CODES.to_vec();
        listed.sort_unstable();
        found.sort_unstable();
        assert_eq!(found, listed, "the codes in the source differ from CODES");
    }
}
