//! The file key, the chunk size, the object header and the per-file stream cipher
//! (SPEC.md §16.2, §16.3).

use aead_stream::aead::KeyInit;
use aead_stream::aead::array::Array;
use aead_stream::{NewStream, StreamBE32};
use chacha20poly1305::XChaCha20Poly1305;
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::AttachmentError;
use crate::error::DecodeError;
use crate::labels::LABEL_ATTACHMENT_STREAM;
use crate::wire::Reader;

/// The first four bytes of every stored attachment object: `"HWAT"`.
pub const ATTACHMENT_MAGIC: [u8; 4] = *b"HWAT";
/// The attachment format this build writes and reads (header byte 4, pointer byte 2).
pub const ATTACHMENT_FORMAT_VERSION: u8 = 1;
/// Bytes of the per-file key carried in the pointer.
pub const ATTACHMENT_KEY_LEN: usize = 32;
/// Bytes of the per-file salt (in the header and the pointer).
pub const ATTACHMENT_SALT_LEN: usize = 32;
/// Bytes of the object header: magic (4), format (1), chunk size exponent (1), salt (32).
pub const ATTACHMENT_HEADER_LEN: usize = 4 + 1 + 1 + ATTACHMENT_SALT_LEN;
/// Smallest chunk size, as a power of two (4 KiB).
pub const MIN_CHUNK_SIZE_LOG2: u8 = 12;
/// Largest chunk size, as a power of two (4 MiB): an encryptor or decryptor holds at most
/// two chunks, so this bounds their memory.
pub const MAX_CHUNK_SIZE_LOG2: u8 = 22;
/// The default chunk size, as a power of two (64 KiB).
pub const DEFAULT_CHUNK_SIZE_LOG2: u8 = 16;

/// Bytes of the STREAM nonce prefix: the 24-byte XChaCha20 nonce less the 4-byte counter and
/// the last-chunk flag byte.
pub(crate) const NONCE_PREFIX_LEN: usize = 19;

/// The STREAM construction over XChaCha20-Poly1305 (`prefix(19) || u32be(counter) ||
/// last_flag(1)`), from RustCrypto's `aead-stream`.
pub(crate) type ChunkCipher = StreamBE32<XChaCha20Poly1305>;

/// The plaintext bytes per chunk (the final chunk may hold fewer): a power of two from
/// 2^[`MIN_CHUNK_SIZE_LOG2`] to 2^[`MAX_CHUNK_SIZE_LOG2`], 64 KiB by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkSize(u8);

impl ChunkSize {
    /// 64 KiB.
    pub const DEFAULT: ChunkSize = ChunkSize(DEFAULT_CHUNK_SIZE_LOG2);

    /// The chunk size `2^log2` bytes.
    ///
    /// # Errors
    /// [`AttachmentError::InvalidChunkSize`] unless `MIN_CHUNK_SIZE_LOG2 <= log2 <=
    /// MAX_CHUNK_SIZE_LOG2`.
    pub fn from_log2(log2: u8) -> Result<Self, AttachmentError> {
        if (MIN_CHUNK_SIZE_LOG2..=MAX_CHUNK_SIZE_LOG2).contains(&log2) {
            Ok(ChunkSize(log2))
        } else {
            Err(AttachmentError::InvalidChunkSize {
                log2,
                min: MIN_CHUNK_SIZE_LOG2,
                max: MAX_CHUNK_SIZE_LOG2,
            })
        }
    }

    /// The base-2 logarithm of the size (the header's byte 5).
    pub const fn log2(self) -> u8 {
        self.0
    }

    /// The size in bytes.
    pub const fn bytes(self) -> usize {
        1usize << self.0
    }

    /// The size in bytes, as a `u64`.
    pub(crate) const fn bytes_u64(self) -> u64 {
        1u64 << self.0
    }
}

impl Default for ChunkSize {
    fn default() -> Self {
        ChunkSize::DEFAULT
    }
}

/// The fresh random key of one file. Travels only inside the pointer.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct AttachmentKey([u8; ATTACHMENT_KEY_LEN]);

impl AttachmentKey {
    pub(crate) fn from_bytes(bytes: [u8; ATTACHMENT_KEY_LEN]) -> Self {
        AttachmentKey(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; ATTACHMENT_KEY_LEN] {
        &self.0
    }
}

impl PartialEq for AttachmentKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for AttachmentKey {}

impl core::fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AttachmentKey(..)")
    }
}

/// What names one encrypted file: its key, salt and chunk size.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct FileSecrets {
    pub(crate) key: AttachmentKey,
    pub(crate) salt: [u8; ATTACHMENT_SALT_LEN],
    pub(crate) chunk_size: ChunkSize,
}

impl FileSecrets {
    /// Draws the key, then the salt (SPEC.md §16.3: two 32-byte draws, in this order).
    pub(crate) fn generate<R: CryptoRng + ?Sized>(chunk_size: ChunkSize, rng: &mut R) -> Self {
        let mut key = Zeroizing::new([0u8; ATTACHMENT_KEY_LEN]);
        rng.fill_bytes(key.as_mut());
        let mut salt = [0u8; ATTACHMENT_SALT_LEN];
        rng.fill_bytes(&mut salt);
        FileSecrets {
            key: AttachmentKey::from_bytes(*key),
            salt,
            chunk_size,
        }
    }

    /// The object header: `"HWAT" || format || log2(chunk size) || salt`.
    pub(crate) fn header(&self) -> [u8; ATTACHMENT_HEADER_LEN] {
        let mut out = [0u8; ATTACHMENT_HEADER_LEN];
        let (magic, rest) = out.split_at_mut(4);
        magic.copy_from_slice(&ATTACHMENT_MAGIC);
        let (fixed, salt) = rest.split_at_mut(2);
        fixed.copy_from_slice(&[ATTACHMENT_FORMAT_VERSION, self.chunk_size.log2()]);
        salt.copy_from_slice(&self.salt);
        out
    }

    /// The per-file stream cipher: `HKDF(salt, key, LABEL_ATTACHMENT_STREAM, 51)` split into
    /// the XChaCha20-Poly1305 key (32) and the STREAM nonce prefix (19).
    pub(crate) fn cipher(&self) -> ChunkCipher {
        let hk = Hkdf::<Sha256>::new(Some(&self.salt), self.key.as_bytes());
        let mut okm = Zeroizing::new([0u8; 32 + NONCE_PREFIX_LEN]);
        // Cannot fail: 51 bytes is far below HKDF-SHA256's 8,160-byte limit.
        let _ = hk.expand(LABEL_ATTACHMENT_STREAM, okm.as_mut());
        let (key, prefix) = okm.split_at(32);
        let mut key_array = chacha20poly1305::Key::default();
        key_array.copy_from_slice(key);
        let aead = XChaCha20Poly1305::new(&key_array);
        key_array.as_mut_slice().zeroize();
        let mut nonce_prefix = Array::default();
        nonce_prefix.copy_from_slice(prefix);
        ChunkCipher::from_aead(aead, &nonce_prefix)
    }
}

/// Reads an object header strictly: magic, format, chunk size exponent, salt.
///
/// # Errors
/// [`DecodeError::Truncated`] if shorter than [`ATTACHMENT_HEADER_LEN`];
/// `InvalidField { field: "magic" }`; `UnknownVersion(format)`;
/// `InvalidField { field: "chunk_size_log2" }`.
pub(crate) fn parse_header(
    bytes: &[u8],
) -> Result<(ChunkSize, [u8; ATTACHMENT_SALT_LEN]), DecodeError> {
    let mut r = Reader::new(bytes);
    if r.array::<4>()? != ATTACHMENT_MAGIC {
        return Err(DecodeError::InvalidField { field: "magic" });
    }
    let chunk_size = read_format_and_chunk_size(&mut r)?;
    let salt = r.array::<ATTACHMENT_SALT_LEN>()?;
    Ok((chunk_size, salt))
}

/// Reads the format byte and the chunk size exponent, as the header and the pointer hold
/// them side by side.
///
/// # Errors
/// `UnknownVersion(format)`, `InvalidField { field: "chunk_size_log2" }`, `Truncated`.
pub(crate) fn read_format_and_chunk_size(r: &mut Reader<'_>) -> Result<ChunkSize, DecodeError> {
    let format = r.u8()?;
    if format != ATTACHMENT_FORMAT_VERSION {
        return Err(DecodeError::UnknownVersion(format));
    }
    ChunkSize::from_log2(r.u8()?).map_err(|_| DecodeError::InvalidField {
        field: "chunk_size_log2",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_limits() {
        assert_eq!(ChunkSize::default().bytes(), 65_536);
        assert_eq!(ChunkSize::from_log2(12).unwrap().bytes(), 4_096);
        assert_eq!(ChunkSize::from_log2(22).unwrap().bytes(), 4 << 20);
        for bad in [0, 11, 23, 255] {
            assert_eq!(
                ChunkSize::from_log2(bad),
                Err(AttachmentError::InvalidChunkSize {
                    log2: bad,
                    min: 12,
                    max: 22
                })
            );
        }
    }

    #[test]
    fn header_round_trip_and_strictness() {
        let secrets = FileSecrets {
            key: AttachmentKey::from_bytes([1; 32]),
            salt: [2; 32],
            chunk_size: ChunkSize::DEFAULT,
        };
        let header = secrets.header();
        assert_eq!(&header[..6], b"HWAT\x01\x10");
        assert_eq!(parse_header(&header), Ok((ChunkSize::DEFAULT, [2; 32])));
        assert_eq!(
            parse_header(&header[..37]),
            Err(DecodeError::Truncated { needed: 1 })
        );
        let mut bad = header;
        bad[0] = b'X';
        assert_eq!(
            parse_header(&bad),
            Err(DecodeError::InvalidField { field: "magic" })
        );
        let mut bad = header;
        bad[4] = 2;
        assert_eq!(parse_header(&bad), Err(DecodeError::UnknownVersion(2)));
        let mut bad = header;
        bad[5] = 23;
        assert_eq!(
            parse_header(&bad),
            Err(DecodeError::InvalidField {
                field: "chunk_size_log2"
            })
        );
    }

    #[test]
    fn label_is_the_spec_s() {
        assert_eq!(
            hex::encode(LABEL_ATTACHMENT_STREAM),
            "68757368776972652f76312f6174746163686d656e742f73747265616d"
        );
        assert_eq!(LABEL_ATTACHMENT_STREAM.len(), 29);
    }

    #[test]
    fn key_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", AttachmentKey::from_bytes([0xab; 32])),
            "AttachmentKey(..)"
        );
    }
}
