//! The error of restoring an encrypted state blob.

use thiserror::Error;

use crate::error::ErrorKind;

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

/// A prekey snapshot that is not valid state is a corrupt blob.
impl From<crate::keys::InvalidSnapshot> for RestoreError {
    fn from(_: crate::keys::InvalidSnapshot) -> Self {
        RestoreError::Corrupt
    }
}
