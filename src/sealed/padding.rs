//! Padding of sealed content to size buckets (SPEC.md §13.4).
//!
//! The content is followed by one `0x80` byte and then zero bytes up to the bucket size
//! (ISO/IEC 7816-4 padding), so every padded plaintext ends in `0x80 0x00*`. For a content of
//! `len` bytes the bucket is chosen for `n = len + 1` (content plus marker):
//!
//! - `n <= BLOCK_PADDING_LIMIT` (4,000): the next multiple of [`PADDING_BLOCK`] (160). Chat
//!   lines fall into at most 25 buckets, 160 bytes apart: the relay learns the length only to
//!   within 160 bytes, as with Signal's 160-byte message padding.
//! - `n > BLOCK_PADDING_LIMIT`: Padmé (Nikitin et al., "Reducing Metadata Leakage from
//!   Encrypted Files and Communication with PURBs", PETS 2019): with `E = floor(log2 n)` and
//!   `S = floor(log2 E) + 1`, round `n` up to a multiple of `2^(E - S)`. The bucket reveals
//!   O(log log n) bits of the length and costs at most 12 % in general, at most 6.25 % above
//!   4,000 bytes (3.125 % from 64 KiB on).
//!
//! The crossover is where Padmé's step first exceeds 160 bytes (from 4,096 on it is 256):
//! below, fixed blocks hide more; above, Padmé hides more and costs less than a fixed
//! percentage would. Unpadding is strict: a padded plaintext is accepted only if it is exactly
//! what [`pad`] produces for the content it holds.

use thiserror::Error;
use zeroize::Zeroizing;

use crate::error::ErrorKind;

/// The block size for short contents.
pub const PADDING_BLOCK: usize = 160;
/// Contents whose length plus one is at most this are padded to multiples of
/// [`PADDING_BLOCK`]; longer ones use Padmé. A multiple of [`PADDING_BLOCK`] (25 blocks).
pub const BLOCK_PADDING_LIMIT: usize = 25 * PADDING_BLOCK;
/// The byte that ends the content inside the padded plaintext.
pub const PADDING_MARKER: u8 = 0x80;

/// Why a padded plaintext was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PaddingError {
    /// The last non-zero byte is not the `0x80` marker (or there is none).
    #[error("padding marker missing")]
    MissingMarker,
    /// The padded length is not the bucket of the content it holds (too much or too little
    /// padding).
    #[error("{len} padded bytes, but the content's bucket is {expected}")]
    WrongLength {
        /// The padded length found.
        len: usize,
        /// The padded length the content requires.
        expected: usize,
    },
}

impl PaddingError {
    /// A stable, language-neutral name of this error, `"padding.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            PaddingError::MissingMarker => "padding.missing_marker",
            PaddingError::WrongLength { .. } => "padding.wrong_length",
        }
    }

    /// The broad class of this error (always [`ErrorKind::Malformed`]).
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Malformed
    }
}

/// The bucket for `n` bytes of content plus marker (`n >= 1`).
const fn bucket(n: usize) -> usize {
    if n <= BLOCK_PADDING_LIMIT {
        let blocks = n.div_ceil(PADDING_BLOCK);
        let blocks = if blocks == 0 { 1 } else { blocks };
        blocks.saturating_mul(PADDING_BLOCK)
    } else {
        padme(n)
    }
}

/// Padmé: round `n` (at least 2) up so that only the top `floor(log2 E) + 1` bits of the
/// `E + 1`-bit length may be non-zero.
const fn padme(n: usize) -> usize {
    let e = usize::BITS - 1 - n.leading_zeros();
    let s = u32::BITS - e.leading_zeros();
    let last_bits = e.saturating_sub(s);
    let mask = (1usize << last_bits) - 1;
    n.saturating_add(mask) & !mask
}

/// The padded length of a content of `len` bytes.
pub const fn padded_len(len: usize) -> usize {
    bucket(len.saturating_add(1))
}

/// Whether `len` is a length [`pad`] can produce.
pub const fn is_padded_len(len: usize) -> bool {
    len > 0 && bucket(len) == len
}

/// Pads `content` to its bucket: `content || 0x80 || 0x00*`.
pub fn pad(content: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(padded_len(content.len())));
    pad_into(content, &mut out);
    out
}

/// Appends `content || 0x80 || 0x00*` to `out`, padded to the bucket of `content`.
pub(crate) fn pad_into(content: &[u8], out: &mut Vec<u8>) {
    let target = padded_len(content.len());
    out.extend_from_slice(content);
    out.push(PADDING_MARKER);
    out.resize(out.len() + target.saturating_sub(content.len() + 1), 0);
}

/// Removes the padding, strictly.
///
/// # Errors
/// [`PaddingError::MissingMarker`] if the last non-zero byte is not `0x80`;
/// [`PaddingError::WrongLength`] if the input is not exactly as long as [`pad`] makes it for
/// the content it holds.
pub fn unpad(padded: &[u8]) -> Result<&[u8], PaddingError> {
    let marker = padded
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(PaddingError::MissingMarker)?;
    let (content, rest) = padded.split_at(marker);
    if rest.first() != Some(&PADDING_MARKER) {
        return Err(PaddingError::MissingMarker);
    }
    let expected = padded_len(content.len());
    if expected != padded.len() {
        return Err(PaddingError::WrongLength {
            len: padded.len(),
            expected,
        });
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn block_buckets() {
        assert_eq!(padded_len(0), 160);
        assert_eq!(padded_len(159), 160);
        assert_eq!(padded_len(160), 320);
        assert_eq!(padded_len(BLOCK_PADDING_LIMIT - 1), BLOCK_PADDING_LIMIT);
        // One past the block limit: Padmé, step 128 below 4,096.
        assert_eq!(padded_len(BLOCK_PADDING_LIMIT), 4_096);
        assert_eq!(padded_len(4_095), 4_096);
        assert_eq!(padded_len(4_096), 4_352);
        assert_eq!(padded_len(65_535), 65_536);
        assert_eq!(padded_len(65_536), 67_584);
        assert_eq!(padded_len(262_144), 270_336);
    }

    #[test]
    fn padme_matches_the_paper() {
        // Values from the PURBs paper's definition, computed by hand.
        assert_eq!(padme(4_001), 4_096);
        assert_eq!(padme(4_097), 4_352);
        assert_eq!(padme(1_000_000), 1_015_808);
        assert_eq!(padme(9), 10);
        assert_eq!(padme(2), 2);
    }

    #[test]
    fn overhead_is_bounded() {
        let mut n = BLOCK_PADDING_LIMIT;
        while n < 1 << 20 {
            let p = padded_len(n);
            assert!(p > n);
            assert!((p - n - 1) * 10_000 <= 625 * (n + 1), "{n} -> {p}");
            n += 97;
        }
    }

    #[test]
    fn strict_unpadding() {
        assert_eq!(unpad(&pad(b"hi")), Ok(&b"hi"[..]));
        assert_eq!(unpad(&pad(b"")), Ok(&b""[..]));
        assert_eq!(unpad(&[0u8; 160]), Err(PaddingError::MissingMarker));
        assert_eq!(unpad(&[]), Err(PaddingError::MissingMarker));
        let mut wrong_marker = pad(b"hi").to_vec();
        wrong_marker[2] = 0x81;
        assert_eq!(unpad(&wrong_marker), Err(PaddingError::MissingMarker));
        let mut too_long = pad(b"hi").to_vec();
        too_long.extend_from_slice(&[0u8; 160]);
        assert_eq!(
            unpad(&too_long),
            Err(PaddingError::WrongLength {
                len: 320,
                expected: 160
            })
        );
        let short = pad(b"hi");
        assert_eq!(
            unpad(&short[..100]),
            Err(PaddingError::WrongLength {
                len: 100,
                expected: 160
            })
        );
        // Content ending in 0x80 is fine: the marker is the last non-zero byte.
        assert_eq!(unpad(&pad(&[0x80, 0x80])), Ok(&[0x80u8, 0x80][..]));
        // Content ending in zeros is fine too.
        assert_eq!(unpad(&pad(&[1, 0, 0])), Ok(&[1u8, 0, 0][..]));
    }

    proptest! {
        #[test]
        fn buckets_are_monotone_idempotent_and_round_trip(len in 0usize..300_000) {
            let p = padded_len(len);
            prop_assert!(p > len);
            prop_assert!(is_padded_len(p));
            prop_assert!(padded_len(len + 1) >= p);
            prop_assert_eq!(bucket(p), p);
        }

        #[test]
        fn pad_unpad_round_trip(content in proptest::collection::vec(any::<u8>(), 0..5_000)) {
            let padded = pad(&content);
            prop_assert_eq!(padded.len(), padded_len(content.len()));
            prop_assert_eq!(unpad(&padded), Ok(&content[..]));
        }
    }
}
