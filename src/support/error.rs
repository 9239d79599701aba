//! The one error type of support conversations (SPEC.md §20.5).

use thiserror::Error;

use crate::error::{DecodeError, ErrorKind};
use crate::group::{GroupError, RosterError};
use crate::ratchet::EncryptError;
use crate::time::Timestamp;
use crate::verify::VerifyError;
use crate::x3dh::HandshakeError;

/// Why a support-conversation operation was refused (SPEC.md §20.5). Every operation that
/// returns it leaves all state exactly as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SupportError {
    /// The bytes are not a well-formed support structure.
    #[error("malformed support structure: {0}")]
    Malformed(#[from] DecodeError),
    /// The visitor identity's time to live is over: it encrypts nothing more. The widget
    /// creates a new visitor identity (and a new conversation).
    #[error("the visitor identity expired at {}: it no longer encrypts", .expired_at.as_unix_secs())]
    VisitorExpired {
        /// When the identity expired (its creation plus its TTL).
        expired_at: Timestamp,
    },
    /// The visitor identity was linked to an account: new conversations use the account.
    #[error("the visitor identity is linked to an account: open new conversations with it")]
    VisitorLinked,
    /// The key of this conversation's visitor changed: the input names another visitor key
    /// than the one the conversation started with. An alarm: a relay may be substituting
    /// the visitor.
    #[error("the visitor's key changed: possible substitution")]
    VisitorKeyChanged {
        /// The visitor key the conversation holds (its bytes).
        expected: [u8; 32],
        /// The key the input names (its bytes).
        found: [u8; 32],
    },
    /// An operator's identity certificate does not verify against the pinned organization
    /// root at this time (forged, expired, revoked, another organization, or not covering
    /// the operator's device key). No operator is trusted on first use.
    #[error("operator not certified by the organization: {0}")]
    OperatorNotCertified(VerifyError),
    /// The dispatcher certificate of a roster or roster change does not verify.
    #[error("dispatcher not certified by the organization: {0}")]
    DispatcherNotCertified(VerifyError),
    /// The dispatcher's signature over a roster or roster change does not verify (or the
    /// dispatcher key does not match its certificate when signing).
    #[error("bad dispatcher signature")]
    BadSignature,
    /// The structure is for another conversation.
    #[error("the structure is for another conversation")]
    WrongConversation,
    /// A roster change for a version at or below the current one.
    #[error("stale roster version {found} (current {current})")]
    StaleVersion {
        /// The current version.
        current: u64,
        /// The version the change names.
        found: u64,
    },
    /// A roster change that skips versions: an earlier change is missing.
    #[error("roster version {found} skips ahead of {current}")]
    SkippedVersion {
        /// The current version.
        current: u64,
        /// The version the change names.
        found: u64,
    },
    /// A roster change for the next version that names another previous roster: a fork.
    #[error("roster change for version {version} forks the roster history")]
    ForkedVersion {
        /// The version the change names.
        version: u64,
    },
    /// The roster version counter is exhausted.
    #[error("roster version exhausted")]
    VersionExhausted,
    /// The operator device is already in the roster (or is the visitor).
    #[error("operator already in the conversation")]
    AlreadyAssigned {
        /// The device key's bytes.
        operator: [u8; 32],
    },
    /// The operator device is not in the roster (with the role the change needs).
    #[error("operator not in the conversation")]
    NotAssigned {
        /// The device key's bytes.
        operator: [u8; 32],
    },
    /// More operator devices than [`super::MAX_CONVERSATION_OPERATORS`].
    #[error("more than {max} operator devices in one conversation")]
    TooManyOperators {
        /// The limit.
        max: usize,
    },
    /// The conversation is closed: no change, message or link is accepted.
    #[error("the conversation is closed")]
    Closed,
    /// We are not (or no longer) in the conversation's roster.
    #[error("not a reader of this conversation")]
    NotInRoster,
    /// A link statement's signature or counter-signature does not verify.
    #[error("forged link statement")]
    LinkForged,
    /// A link statement names another conversation or visitor key than this conversation's.
    #[error("the link statement is for another conversation or visitor")]
    LinkMismatch,
    /// A link statement is older than [`super::MAX_LINK_STATEMENT_AGE_SECS`] or dated more
    /// than [`super::MAX_LINK_CLOCK_SKEW_SECS`] ahead.
    #[error("the link statement is not fresh")]
    LinkStale {
        /// When the statement says it was made.
        issued_at: Timestamp,
    },
    /// The visitor was already verified as another account in this conversation.
    #[error("the visitor is already linked to another account")]
    AlreadyLinked,
    /// A text (user id, dispatcher name) is empty, too long or not displayable.
    #[error("invalid text in {field}")]
    InvalidText {
        /// Which field.
        field: &'static str,
    },
    /// A certificate's validity is longer than its kind allows.
    #[error("certificate lifetime of {lifetime_secs} s exceeds {max_secs} s")]
    LifetimeTooLong {
        /// The requested lifetime.
        lifetime_secs: u64,
        /// The limit.
        max_secs: u64,
    },
    /// From the group layer.
    #[error("group: {0}")]
    Group(#[from] GroupError),
    /// From the group roster layer.
    #[error("group roster: {0}")]
    Roster(#[from] RosterError),
    /// Starting a 1:1 session with an operator failed.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// Encrypting on a 1:1 session failed.
    #[error("encrypt: {0}")]
    Encrypt(#[from] EncryptError),
}

impl SupportError {
    /// A stable, language-neutral name of this error, `"support.<variant>"` in snake_case
    /// (SPEC.md §8.4); wrapped errors keep their own code.
    pub fn code(&self) -> &'static str {
        match self {
            SupportError::Malformed(_) => "support.malformed",
            SupportError::VisitorExpired { .. } => "support.visitor_expired",
            SupportError::VisitorLinked => "support.visitor_linked",
            SupportError::VisitorKeyChanged { .. } => "support.visitor_key_changed",
            SupportError::OperatorNotCertified(_) => "support.operator_not_certified",
            SupportError::DispatcherNotCertified(_) => "support.dispatcher_not_certified",
            SupportError::BadSignature => "support.bad_signature",
            SupportError::WrongConversation => "support.wrong_conversation",
            SupportError::StaleVersion { .. } => "support.stale_version",
            SupportError::SkippedVersion { .. } => "support.skipped_version",
            SupportError::ForkedVersion { .. } => "support.forked_version",
            SupportError::VersionExhausted => "support.version_exhausted",
            SupportError::AlreadyAssigned { .. } => "support.already_assigned",
            SupportError::NotAssigned { .. } => "support.not_assigned",
            SupportError::TooManyOperators { .. } => "support.too_many_operators",
            SupportError::Closed => "support.closed",
            SupportError::NotInRoster => "support.not_in_roster",
            SupportError::LinkForged => "support.link_forged",
            SupportError::LinkMismatch => "support.link_mismatch",
            SupportError::LinkStale { .. } => "support.link_stale",
            SupportError::AlreadyLinked => "support.already_linked",
            SupportError::InvalidText { .. } => "support.invalid_text",
            SupportError::LifetimeTooLong { .. } => "support.lifetime_too_long",
            SupportError::Group(e) => e.code(),
            SupportError::Roster(e) => e.code(),
            SupportError::Handshake(e) => e.code(),
            SupportError::Encrypt(e) => e.code(),
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SupportError::Malformed(e) => e.kind(),
            SupportError::BadSignature | SupportError::LinkForged => ErrorKind::Tampered,
            SupportError::VisitorKeyChanged { .. }
            | SupportError::OperatorNotCertified(_)
            | SupportError::DispatcherNotCertified(_)
            | SupportError::LinkStale { .. } => ErrorKind::Untrusted,
            SupportError::StaleVersion { .. }
            | SupportError::SkippedVersion { .. }
            | SupportError::ForkedVersion { .. }
            | SupportError::NotInRoster => ErrorKind::StateOutOfSync,
            SupportError::VersionExhausted | SupportError::TooManyOperators { .. } => {
                ErrorKind::LimitExceeded
            }
            SupportError::VisitorExpired { .. }
            | SupportError::VisitorLinked
            | SupportError::WrongConversation
            | SupportError::AlreadyAssigned { .. }
            | SupportError::NotAssigned { .. }
            | SupportError::Closed
            | SupportError::LinkMismatch
            | SupportError::AlreadyLinked
            | SupportError::InvalidText { .. }
            | SupportError::LifetimeTooLong { .. } => ErrorKind::InvalidInput,
            SupportError::Group(e) => e.kind(),
            SupportError::Roster(e) => e.kind(),
            SupportError::Handshake(e) => e.kind(),
            SupportError::Encrypt(e) => e.kind(),
        }
    }
}
