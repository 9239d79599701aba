//! Errors of the masking module: the receiver-side check ([`MaskCheckError`]) and secure
//! fields ([`SecureFieldError`]).

use thiserror::Error;

use super::detector::SensitiveKind;
use crate::error::{DecodeError, ErrorKind};
use crate::sealed::{ContentType, OpenError, SealError};

/// The error of [`super::Masker::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MaskCheckError {
    /// The text holds a match of a detector whose policy masks: unmasked sensitive data.
    #[error("unmasked {kind} at bytes {start}..{end}")]
    Unmasked {
        /// What was found.
        kind: SensitiveKind,
        /// Byte offset of its first byte.
        start: usize,
        /// Byte offset just past its last byte.
        end: usize,
    },
}

impl MaskCheckError {
    /// A stable, language-neutral name of this error, `"mask_check.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            MaskCheckError::Unmasked { .. } => "mask_check.unmasked",
        }
    }

    /// The broad class of this error ([`ErrorKind::InvalidInput`]: the text is refused).
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// Errors from sealing, opening and checking a secure field (SPEC.md §17.5). Nothing is
/// drawn from the RNG when sealing refuses its inputs, and nothing changes on any error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SecureFieldError {
    /// The value to seal is empty.
    #[error("the secure field value is empty")]
    EmptyValue,
    /// The value to seal is longer than [`super::MAX_SECURE_FIELD_VALUE_LEN`].
    #[error("secure field value of {len} bytes exceeds the maximum of {max}")]
    ValueTooLong {
        /// Length of the value.
        len: usize,
        /// The maximum allowed.
        max: usize,
    },
    /// [`super::Policy::FlagOnly`] was given: the operator's copy would show the value.
    #[error("a secure field needs a masking policy, not FlagOnly")]
    FlagOnlyPolicy,
    /// Sealing the value for the vault failed.
    #[error("sealing the secure field: {0}")]
    Seal(#[from] SealError),
    /// Opening the vault's envelope failed.
    #[error("opening the secure field envelope: {0}")]
    Open(#[from] OpenError),
    /// The envelope opened, but does not hold a secure field.
    #[error("the envelope holds content type {content_type:?}, not a secure field")]
    NotSecureField {
        /// The content type found.
        content_type: ContentType,
    },
    /// A secure field structure is not well formed.
    #[error("malformed secure field: {0}")]
    Malformed(#[from] DecodeError),
    /// The operator's copy does not belong to the value the vault holds (another
    /// reference, kind or policy, a commitment that does not open, or another masked form).
    #[error("the operator's copy does not match the vaulted value")]
    Mismatch,
}

impl SecureFieldError {
    /// A stable, language-neutral name of this error, `"secure_field.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            SecureFieldError::EmptyValue => "secure_field.empty_value",
            SecureFieldError::ValueTooLong { .. } => "secure_field.value_too_long",
            SecureFieldError::FlagOnlyPolicy => "secure_field.flag_only_policy",
            SecureFieldError::Seal(_) => "secure_field.seal",
            SecureFieldError::Open(_) => "secure_field.open",
            SecureFieldError::NotSecureField { .. } => "secure_field.not_secure_field",
            SecureFieldError::Malformed(_) => "secure_field.malformed",
            SecureFieldError::Mismatch => "secure_field.mismatch",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SecureFieldError::EmptyValue
            | SecureFieldError::FlagOnlyPolicy
            | SecureFieldError::NotSecureField { .. } => ErrorKind::InvalidInput,
            SecureFieldError::ValueTooLong { .. } => ErrorKind::LimitExceeded,
            SecureFieldError::Seal(e) => e.kind(),
            SecureFieldError::Open(e) => e.kind(),
            SecureFieldError::Malformed(e) => e.kind(),
            SecureFieldError::Mismatch => ErrorKind::Tampered,
        }
    }
}
