//! The one error of history handover (SPEC.md §20.8.7).

use thiserror::Error;

use crate::attachment::AttachmentError;
use crate::error::{DecodeError, ErrorKind};

/// Why a history export, a history share or a history notice was refused. On every error
/// nothing changes: exporting builds nothing, opening and reading hold no state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// A history share or notice is not well formed (SPEC.md §20.8.3, §20.8.4).
    #[error("malformed history structure: {0}")]
    Malformed(DecodeError),
    /// The bundle opened under the share's key but its plaintext is not a history bundle
    /// (SPEC.md §20.8.2): the exporter built it wrongly.
    #[error("the history bundle does not decode: {0}")]
    BundleMalformed(DecodeError),
    /// The stored bundle object failed its check (length, digest, a chunk).
    #[error("the history bundle object was refused: {0}")]
    Attachment(AttachmentError),
    /// This device is not a current member of the conversation: it may neither export nor
    /// open history.
    #[error("not a current member of the conversation")]
    NotMember,
    /// The recipient of an export, or the one a notice names, is not a current member.
    #[error("the recipient is not a current member of the conversation")]
    RecipientNotMember {
        /// The recipient's identity key bytes.
        recipient: [u8; 32],
    },
    /// An export to one's own identity.
    #[error("history cannot be shared with oneself")]
    OwnIdentity,
    /// A range whose start is not below its end.
    #[error("invalid history range {start}..{end}")]
    InvalidRange {
        /// The start given.
        start: u64,
        /// The end given.
        end: u64,
    },
    /// The transcript passed to an export is not in strictly increasing index order.
    #[error("transcript entry at position {position} is not after the one before it")]
    TranscriptOutOfOrder {
        /// Position in the slice of the first entry out of order.
        position: usize,
    },
    /// No entry of the transcript lies in the range.
    #[error("no transcript entry lies in the range")]
    NothingInRange,
    /// More entries in the range than a bundle may hold.
    #[error("{count} entries in the range, at most {max} per bundle")]
    TooManyEntries {
        /// Entries in the range.
        count: u64,
        /// [`super::MAX_HISTORY_ENTRIES`].
        max: u64,
    },
    /// An entry's body is longer than a message may be.
    #[error("entry {index} has {len} bytes, at most {max}")]
    EntryTooLarge {
        /// The entry's index.
        index: u64,
        /// Its body length.
        len: u64,
        /// [`super::MAX_HISTORY_ENTRY_LEN`].
        max: u64,
    },
    /// The bundle would be, or a share names one, larger than allowed.
    #[error("history bundle of {len} bytes, at most {max}")]
    BundleTooLarge {
        /// The bundle plaintext's length.
        len: u64,
        /// [`super::MAX_HISTORY_BUNDLE_LEN`].
        max: u64,
    },
    /// The share names another recipient.
    #[error("the history share is for another member")]
    NotForUs,
    /// The share or notice names another conversation than the one it is opened in.
    #[error("the history share or notice names another conversation")]
    WrongConversation,
    /// The share's or notice's exporter is not who the channel that delivered it
    /// authenticated.
    #[error("the history share or notice was not sent by its exporter")]
    SenderMismatch,
    /// The exporter is not a current member of the conversation.
    #[error("the exporter is not a current member of the conversation")]
    ExporterNotMember {
        /// The exporter's identity key bytes.
        exporter: [u8; 32],
    },
    /// The bundle's header names another conversation, exporter, recipient, range or count
    /// than the share.
    #[error("the history bundle is not the one the share names")]
    BundleMismatch,
    /// A bundle entry lies outside the range the share names.
    #[error("bundle entry {index} lies outside the shared range")]
    EntryOutsideRange {
        /// The entry's index.
        index: u64,
    },
    /// The bundle's entries are not in strictly increasing index order.
    #[error("bundle entry at position {position} is not after the one before it")]
    EntriesOutOfOrder {
        /// Position of the entry in the bundle.
        position: u64,
    },
}

impl HistoryError {
    /// A stable, language-neutral name of this error, `"history.<variant>"` in snake_case
    /// (SPEC.md §8.4).
    pub fn code(&self) -> &'static str {
        match self {
            HistoryError::Malformed(_) => "history.malformed",
            HistoryError::BundleMalformed(_) => "history.bundle_malformed",
            HistoryError::Attachment(_) => "history.attachment",
            HistoryError::NotMember => "history.not_member",
            HistoryError::RecipientNotMember { .. } => "history.recipient_not_member",
            HistoryError::OwnIdentity => "history.own_identity",
            HistoryError::InvalidRange { .. } => "history.invalid_range",
            HistoryError::TranscriptOutOfOrder { .. } => "history.transcript_out_of_order",
            HistoryError::NothingInRange => "history.nothing_in_range",
            HistoryError::TooManyEntries { .. } => "history.too_many_entries",
            HistoryError::EntryTooLarge { .. } => "history.entry_too_large",
            HistoryError::BundleTooLarge { .. } => "history.bundle_too_large",
            HistoryError::NotForUs => "history.not_for_us",
            HistoryError::WrongConversation => "history.wrong_conversation",
            HistoryError::SenderMismatch => "history.sender_mismatch",
            HistoryError::ExporterNotMember { .. } => "history.exporter_not_member",
            HistoryError::BundleMismatch => "history.bundle_mismatch",
            HistoryError::EntryOutsideRange { .. } => "history.entry_outside_range",
            HistoryError::EntriesOutOfOrder { .. } => "history.entries_out_of_order",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            HistoryError::Malformed(e) => e.kind(),
            HistoryError::Attachment(e) => e.kind(),
            HistoryError::BundleMalformed(_)
            | HistoryError::SenderMismatch
            | HistoryError::BundleMismatch
            | HistoryError::EntryOutsideRange { .. }
            | HistoryError::EntriesOutOfOrder { .. } => ErrorKind::Tampered,
            HistoryError::RecipientNotMember { .. } | HistoryError::ExporterNotMember { .. } => {
                ErrorKind::Untrusted
            }
            HistoryError::TooManyEntries { .. }
            | HistoryError::EntryTooLarge { .. }
            | HistoryError::BundleTooLarge { .. } => ErrorKind::LimitExceeded,
            HistoryError::NotMember
            | HistoryError::OwnIdentity
            | HistoryError::InvalidRange { .. }
            | HistoryError::TranscriptOutOfOrder { .. }
            | HistoryError::NothingInRange
            | HistoryError::NotForUs
            | HistoryError::WrongConversation => ErrorKind::InvalidInput,
        }
    }
}

impl From<AttachmentError> for HistoryError {
    fn from(e: AttachmentError) -> Self {
        HistoryError::Attachment(e)
    }
}
