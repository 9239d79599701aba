//! The errors of attachment encryption, decryption and pointers (SPEC.md §16.7).

use thiserror::Error;

use crate::error::{DecodeError, ErrorKind};

/// Why an attachment could not be encrypted, decrypted or described.
///
/// On every error the encryptor, decryptor or pointer is left as it was before the call, and
/// an output buffer passed to the call holds exactly what it held before (any plaintext the
/// call had appended is zeroized and removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AttachmentError {
    /// A pointer or the object's header is not well formed.
    #[error("malformed attachment structure: {0}")]
    Malformed(#[from] DecodeError),
    /// A chunk size other than a power of two from 4 KiB to 4 MiB was asked for.
    #[error("chunk size 2^{log2} is outside 2^{min}..=2^{max}")]
    InvalidChunkSize {
        /// The base-2 logarithm asked for.
        log2: u8,
        /// [`super::MIN_CHUNK_SIZE_LOG2`].
        min: u8,
        /// [`super::MAX_CHUNK_SIZE_LOG2`].
        max: u8,
    },
    /// The file is longer than [`super::MAX_ATTACHMENT_LEN`].
    #[error("attachment of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Length of the file so far, with the refused input.
        len: u64,
        /// The maximum allowed.
        max: u64,
    },
    /// A pointer text or thumbnail is longer than its limit.
    #[error("pointer field `{field}` of {len} bytes exceeds the maximum of {max}")]
    FieldTooLong {
        /// `"content_type"`, `"file_name"` or `"thumbnail"`.
        field: &'static str,
        /// Its length.
        len: usize,
        /// Its limit.
        max: usize,
    },
    /// A content type or file name breaks its character rules (SPEC.md §16.6.2).
    #[error("pointer field `{field}` holds a character it may not hold")]
    InvalidText {
        /// `"content_type"` or `"file_name"`.
        field: &'static str,
    },
    /// The encryptor already wrote its final chunk, or `push` was called after `finish`.
    #[error("the encryptor has finished")]
    Finished,
    /// The object's header is well formed but not the one the pointer names (another salt,
    /// chunk size or format): this is another attachment, or the header was replaced.
    #[error("the object's header does not match its pointer")]
    HeaderMismatch,
    /// Chunk `index` failed authentication, and it is no other chunk of this file within
    /// [`super::REORDER_SEARCH_WINDOW`] positions: its bytes were altered, or it belongs to
    /// another file (also one encrypted under the same key with another salt).
    #[error("chunk {index} failed authentication (altered, or from another file)")]
    ChunkTampered {
        /// Position of the chunk in the file, from 0.
        index: u64,
    },
    /// At position `index` stands this file's chunk `found`, a later one: chunks were
    /// reordered, or the ones between were cut out.
    #[error("chunk {found} of this file stands at position {index}: chunks reordered or cut")]
    ChunkReordered {
        /// The position where it was found.
        index: u64,
        /// The chunk it is.
        found: u64,
    },
    /// At position `index` stands this file's chunk `found`, an earlier one that was already
    /// received: a chunk was duplicated.
    #[error("chunk {found} of this file is repeated at position {index}")]
    ChunkDuplicated {
        /// The position where it was found.
        index: u64,
        /// The chunk it repeats.
        found: u64,
    },
    /// The ciphertext ended before the final chunk began, or inside a chunk: it was cut.
    /// Nothing read so far may be used as the file.
    #[error("attachment ended after {len} of {expected} bytes, without a verified final chunk")]
    Truncated {
        /// Bytes of the stored object received.
        len: u64,
        /// Bytes the pointer names.
        expected: u64,
    },
    /// Every chunk but the final one arrived and verified, then the ciphertext ended.
    /// Nothing read so far may be used as the file.
    #[error("attachment ended without its final chunk ({chunks} chunks expected)")]
    MissingFinalChunk {
        /// Number of chunks the pointer names.
        chunks: u64,
    },
    /// More bytes than the pointer names were supplied.
    #[error("{len} bytes of ciphertext, but the attachment has {expected}")]
    TrailingData {
        /// Bytes received, with the refused input.
        len: u64,
        /// Bytes the pointer names.
        expected: u64,
    },
    /// An authentic chunk holds non-zero bytes where the padding must be zero (the sender's
    /// encoder is broken or hostile).
    #[error("chunk {index} holds non-zero padding")]
    InvalidPadding {
        /// The chunk.
        index: u64,
    },
    /// The authentic final chunk names another file length than the pointer: the pointer and
    /// the object do not belong together.
    #[error("the final chunk says {stream} bytes, the pointer {pointer}")]
    LengthMismatch {
        /// The length in the pointer.
        pointer: u64,
        /// The length in the final chunk.
        stream: u64,
    },
    /// The stored object's SHA-256 is not the pointer's.
    #[error("the object's SHA-256 does not match its pointer")]
    DigestMismatch,
    /// Random access to a chunk the file does not have.
    #[error("chunk {index} asked for, but the file has {chunks}")]
    ChunkOutOfRange {
        /// The chunk asked for.
        index: u64,
        /// Number of chunks.
        chunks: u64,
    },
    /// Random access to a byte range outside the file (or with `start > end`).
    #[error("range {start}..{end} is outside the file of {len} bytes")]
    RangeOutOfBounds {
        /// Start of the range.
        start: u64,
        /// End of the range.
        end: u64,
        /// Length of the file.
        len: u64,
    },
    /// Random access with ciphertext of another length than the chunks it must cover.
    #[error("{len} bytes of ciphertext given for chunks that take {expected}")]
    CiphertextLength {
        /// Bytes given.
        len: u64,
        /// Bytes of the chunks asked for.
        expected: u64,
    },
}

impl AttachmentError {
    /// A stable, language-neutral name of this error, `"attachment.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            AttachmentError::Malformed(_) => "attachment.malformed",
            AttachmentError::InvalidChunkSize { .. } => "attachment.invalid_chunk_size",
            AttachmentError::TooLarge { .. } => "attachment.too_large",
            AttachmentError::FieldTooLong { .. } => "attachment.field_too_long",
            AttachmentError::InvalidText { .. } => "attachment.invalid_text",
            AttachmentError::Finished => "attachment.finished",
            AttachmentError::HeaderMismatch => "attachment.header_mismatch",
            AttachmentError::ChunkTampered { .. } => "attachment.chunk_tampered",
            AttachmentError::ChunkReordered { .. } => "attachment.chunk_reordered",
            AttachmentError::ChunkDuplicated { .. } => "attachment.chunk_duplicated",
            AttachmentError::Truncated { .. } => "attachment.truncated",
            AttachmentError::MissingFinalChunk { .. } => "attachment.missing_final_chunk",
            AttachmentError::TrailingData { .. } => "attachment.trailing_data",
            AttachmentError::InvalidPadding { .. } => "attachment.invalid_padding",
            AttachmentError::LengthMismatch { .. } => "attachment.length_mismatch",
            AttachmentError::DigestMismatch => "attachment.digest_mismatch",
            AttachmentError::ChunkOutOfRange { .. } => "attachment.chunk_out_of_range",
            AttachmentError::RangeOutOfBounds { .. } => "attachment.range_out_of_bounds",
            AttachmentError::CiphertextLength { .. } => "attachment.ciphertext_length",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AttachmentError::Malformed(e) => e.kind(),
            AttachmentError::TooLarge { .. } => ErrorKind::LimitExceeded,
            AttachmentError::InvalidChunkSize { .. }
            | AttachmentError::FieldTooLong { .. }
            | AttachmentError::InvalidText { .. }
            | AttachmentError::Finished
            | AttachmentError::ChunkOutOfRange { .. }
            | AttachmentError::RangeOutOfBounds { .. }
            | AttachmentError::CiphertextLength { .. } => ErrorKind::InvalidInput,
            AttachmentError::HeaderMismatch
            | AttachmentError::ChunkTampered { .. }
            | AttachmentError::ChunkReordered { .. }
            | AttachmentError::ChunkDuplicated { .. }
            | AttachmentError::Truncated { .. }
            | AttachmentError::MissingFinalChunk { .. }
            | AttachmentError::TrailingData { .. }
            | AttachmentError::InvalidPadding { .. }
            | AttachmentError::LengthMismatch { .. }
            | AttachmentError::DigestMismatch => ErrorKind::Tampered,
        }
    }
}
