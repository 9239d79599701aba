//! Leaf errors every layer needs: malformed bytes ([`DecodeError`]), bad keys ([`KeyError`]),
//! out-of-range arguments ([`ConfigError`]), and the [`ErrorKind`] every error maps to.
//!
//! Each operation's own error lives beside its operation (`ratchet/error.rs`,
//! `x3dh/error.rs`, `persist/error.rs`, ...); the umbrella [`crate::Error`] is at the top, in
//! `umbrella.rs`. Every error can be put in one of a few [`ErrorKind`]s so that an app can
//! decide what to do (drop the message, ask for a reset, show a warning) without matching
//! every variant.

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
