//! Padding buckets and the chunk layout of a stored object (SPEC.md §16.4).
//!
//! The encrypted stream holds the file, then zero bytes, then the file's length as 8
//! big-endian bytes (the *trailer*), `padded_len(file length)` bytes in all. The padded length
//! is the content (file and trailer) rounded up so that at most its
//! [`PADDING_PRECISION_BITS`] highest bits are non-zero, and at least [`MIN_PADDED_LEN`]:
//! 32 buckets per doubling, each at most 1/32 (3.125 %) above the content it holds. A relay
//! sees the object's length, which depends only on the bucket and the chunk size.

use core::ops::Range;

use super::AttachmentError;
use super::header::{ATTACHMENT_HEADER_LEN, ChunkSize};

/// Bytes of the length trailer at the end of the padded stream.
pub const TRAILER_LEN: usize = 8;
/// The smallest padded stream (4 KiB): every file under 4,088 bytes looks the same.
pub const MIN_PADDED_LEN: u64 = 4_096;
/// Padded lengths have at most this many significant bits: the step between buckets is
/// `2^(floor(log2 n) - 5)`, at most 1/32 of the content.
pub const PADDING_PRECISION_BITS: u32 = 6;
/// The longest file (64 GiB).
pub const MAX_ATTACHMENT_LEN: u64 = 1 << 36;
/// Bytes of a Poly1305 tag, one per chunk.
pub const CHUNK_TAG_LEN: usize = 16;

const TRAILER_LEN_U64: u64 = TRAILER_LEN as u64;
const TAG_LEN_U64: u64 = CHUNK_TAG_LEN as u64;
const HEADER_LEN_U64: u64 = ATTACHMENT_HEADER_LEN as u64;

/// The length of the padded stream (file, zero padding, 8-byte trailer) for a file of
/// `plaintext_len` bytes (at most [`MAX_ATTACHMENT_LEN`]; longer lengths give no meaningful
/// bucket).
pub const fn padded_len(plaintext_len: u64) -> u64 {
    let content = plaintext_len.saturating_add(TRAILER_LEN_U64);
    let n = if content < MIN_PADDED_LEN {
        MIN_PADDED_LEN
    } else {
        content
    };
    // floor(log2 n) >= 12, so the shift below is at least 7.
    let e = u64::BITS - 1 - n.leading_zeros();
    let step_bits = e.saturating_sub(PADDING_PRECISION_BITS - 1);
    let mask = (1u64 << step_bits) - 1;
    n.saturating_add(mask) & !mask
}

/// The length of the stored object (header and chunks) for a file of `plaintext_len` bytes.
pub const fn ciphertext_len(plaintext_len: u64, chunk_size: ChunkSize) -> u64 {
    let padded = padded_len(plaintext_len);
    let chunks = padded.div_ceil(chunk_size.bytes_u64());
    HEADER_LEN_U64 + padded + chunks * TAG_LEN_U64
}

/// Where everything of one file sits: chunk count, chunk lengths and offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) plaintext_len: u64,
    pub(crate) padded_len: u64,
    pub(crate) chunk_size: u64,
    pub(crate) chunks: u64,
}

impl Layout {
    pub(crate) const fn new(plaintext_len: u64, chunk_size: ChunkSize) -> Self {
        let padded = padded_len(plaintext_len);
        let size = chunk_size.bytes_u64();
        Layout {
            plaintext_len,
            padded_len: padded,
            chunk_size: size,
            chunks: padded.div_ceil(size),
        }
    }

    /// Bytes of the stored object.
    pub(crate) const fn object_len(&self) -> u64 {
        HEADER_LEN_U64 + self.padded_len + self.chunks * TAG_LEN_U64
    }

    pub(crate) const fn is_last(&self, index: u64) -> bool {
        index + 1 == self.chunks
    }

    /// Where chunk `index` starts in the padded stream.
    pub(crate) const fn stream_offset(&self, index: u64) -> u64 {
        index.saturating_mul(self.chunk_size)
    }

    /// Plaintext bytes (stream bytes) of chunk `index` (`index < chunks`).
    pub(crate) const fn plain_len(&self, index: u64) -> u64 {
        if self.is_last(index) {
            self.padded_len - self.stream_offset(index)
        } else {
            self.chunk_size
        }
    }

    /// Bytes of chunk `index` in the object: its plaintext and tag.
    pub(crate) const fn sealed_len(&self, index: u64) -> u64 {
        self.plain_len(index) + TAG_LEN_U64
    }

    /// Where chunk `index` starts in the object.
    pub(crate) const fn object_offset(&self, index: u64) -> u64 {
        HEADER_LEN_U64 + index.saturating_mul(self.chunk_size + TAG_LEN_U64)
    }

    /// The chunks that hold the file bytes `range` (none for an empty range).
    ///
    /// # Errors
    /// [`AttachmentError::RangeOutOfBounds`] unless `start <= end <= plaintext_len`.
    pub(crate) fn chunks_for(&self, range: Range<u64>) -> Result<Range<u64>, AttachmentError> {
        if range.start > range.end || range.end > self.plaintext_len {
            return Err(AttachmentError::RangeOutOfBounds {
                start: range.start,
                end: range.end,
                len: self.plaintext_len,
            });
        }
        if range.is_empty() {
            return Ok(0..0);
        }
        Ok(range.start / self.chunk_size..(range.end - 1) / self.chunk_size + 1)
    }

    /// The object bytes of the chunks `chunks` (empty for no chunk).
    pub(crate) const fn object_span(&self, chunks: Range<u64>) -> Range<u64> {
        if chunks.start >= chunks.end {
            return 0..0;
        }
        let last = chunks.end - 1;
        self.object_offset(chunks.start)..self.object_offset(last) + self.sealed_len(last)
    }

    /// File bytes in chunk `index` (the rest is padding, and the trailer in the last).
    pub(crate) const fn data_len(&self, index: u64) -> u64 {
        let start = self.stream_offset(index);
        let end = start + self.plain_len(index);
        let data_end = if end < self.plaintext_len {
            end
        } else {
            self.plaintext_len
        };
        data_end.saturating_sub(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets() {
        // The minimum bucket holds files up to 4,088 bytes.
        assert_eq!(padded_len(0), 4_096);
        assert_eq!(padded_len(4_088), 4_096);
        // 4,097..8,191: steps of 128.
        assert_eq!(padded_len(4_089), 4_224);
        assert_eq!(padded_len(8_184), 8_192);
        assert_eq!(padded_len(8_185), 8_448);
        // 1 MiB file: content 1,048,584, step 32 KiB.
        assert_eq!(padded_len(1 << 20), (1 << 20) + (1 << 15));
        assert_eq!(padded_len((1 << 20) - 8), 1 << 20);
        assert_eq!(padded_len(MAX_ATTACHMENT_LEN), (1 << 36) + (1 << 31));
        let layout = Layout::new(MAX_ATTACHMENT_LEN, ChunkSize::from_log2(12).unwrap());
        assert!(layout.chunks < u64::from(u32::MAX));
    }

    #[test]
    fn object_lengths() {
        // An empty file: one 4,096-byte chunk, its tag, the header.
        assert_eq!(ciphertext_len(0, ChunkSize::DEFAULT), 38 + 4_096 + 16);
        let l = Layout::new(200_000, ChunkSize::DEFAULT);
        assert_eq!(l.padded_len, 200_704);
        assert_eq!(l.chunks, 4);
        assert_eq!(l.plain_len(3), 4_096);
        assert_eq!(l.data_len(3), 200_000 - 3 * 65_536);
        assert_eq!(l.object_offset(3), 38 + 3 * 65_552);
        assert_eq!(l.object_len(), l.object_offset(3) + l.sealed_len(3));
    }

    proptest! {
        #[test]
        fn bucket_properties(len in 0u64..=MAX_ATTACHMENT_LEN, log2 in 12u8..=22) {
            let p = padded_len(len);
            prop_assert!(p >= len + 8);
            prop_assert!(p >= MIN_PADDED_LEN);
            // At most 6 significant bits, so re-padding a bucket's content is a fixed point.
            prop_assert!(p >> (63 - p.leading_zeros()).saturating_sub(5) < 64);
            prop_assert!(padded_len(len + 1) >= p);
            // Overhead at most 1/32 of the content above the minimum bucket.
            if len + 8 > MIN_PADDED_LEN {
                prop_assert!((p - len - 8) * 32 <= len + 8);
            }
            // The final chunk always holds the whole trailer (at least 128 bytes long).
            let layout = Layout::new(len, ChunkSize::from_log2(log2).unwrap());
            prop_assert!(layout.plain_len(layout.chunks - 1) >= 128);
            prop_assert_eq!(layout.object_len(), ciphertext_len(len, ChunkSize::from_log2(log2).unwrap()));
            // Full chunks of data, then the rest of the file, then padding only.
            let full = len / layout.chunk_size;
            if full > 0 {
                prop_assert_eq!(layout.data_len(0), layout.chunk_size);
                prop_assert_eq!(layout.data_len(full - 1), layout.chunk_size);
            }
            prop_assert!(full < layout.chunks);
            prop_assert_eq!(layout.data_len(full), len - full * layout.chunk_size);
            if full + 1 < layout.chunks {
                prop_assert_eq!(layout.data_len(full + 1), 0);
            }
        }
    }
}
