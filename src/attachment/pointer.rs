//! The attachment pointer: what the receiver needs to fetch, check and decrypt a file, sent
//! inside an ordinary encrypted message (SPEC.md §16.6).

use core::ops::Range;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::AttachmentError;
use super::header::{
    ATTACHMENT_FORMAT_VERSION, ATTACHMENT_KEY_LEN, ATTACHMENT_SALT_LEN, AttachmentKey, ChunkSize,
    FileSecrets, read_format_and_chunk_size,
};
use super::padding::{Layout, MAX_ATTACHMENT_LEN};
use crate::error::DecodeError;
use crate::wire::{Reader, TYPE_ATTACHMENT_POINTER, WIRE_VERSION, expect_header};

/// Longest content type, bytes (printable ASCII).
pub const MAX_CONTENT_TYPE_LEN: usize = 128;
/// Longest file name, bytes (UTF-8).
pub const MAX_FILE_NAME_LEN: usize = 255;
/// Largest inline thumbnail, bytes (32 KiB).
pub const MAX_THUMBNAIL_LEN: usize = 32 * 1024;
/// Bytes of a pointer with an empty content type, file name and thumbnail.
pub const POINTER_BASE_LEN: usize = 120;
/// Longest encoded pointer: far below `MAX_PLAINTEXT_LEN`, so it fits in any message.
pub const MAX_POINTER_LEN: usize =
    POINTER_BASE_LEN + MAX_CONTENT_TYPE_LEN + MAX_FILE_NAME_LEN + MAX_THUMBNAIL_LEN;

/// Everything the receiver of a file needs: the key, the object's SHA-256 and length (to
/// fetch and check it), the file's true length, the chunk size, and what the app shows (content
/// type, file name, an optional small thumbnail). Send it only inside an encrypted message:
/// it holds the key. Its `Debug` shows lengths and the content type, never the key or the
/// file name.
#[derive(Clone, PartialEq, Eq)]
pub struct AttachmentPointer {
    secrets: FileSecrets,
    ciphertext_sha256: [u8; 32],
    plaintext_len: u64,
    content_type: String,
    file_name: String,
    thumbnail: Vec<u8>,
}

impl AttachmentPointer {
    pub(crate) fn new(
        secrets: FileSecrets,
        ciphertext_sha256: [u8; 32],
        plaintext_len: u64,
    ) -> Self {
        AttachmentPointer {
            secrets,
            ciphertext_sha256,
            plaintext_len,
            content_type: String::new(),
            file_name: String::new(),
            thumbnail: Vec::new(),
        }
    }

    pub(crate) fn secrets(&self) -> &FileSecrets {
        &self.secrets
    }

    pub(crate) fn layout(&self) -> Layout {
        Layout::new(self.plaintext_len, self.secrets.chunk_size)
    }

    /// The file's true length.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// The stored object's length (header and padded chunks): what a relay stores and sees.
    pub fn ciphertext_len(&self) -> u64 {
        self.layout().object_len()
    }

    /// SHA-256 of the whole stored object: a storage key for deduplication, and a check of a
    /// downloaded object before decrypting ([`verify_digest`](Self::verify_digest)).
    pub fn ciphertext_sha256(&self) -> &[u8; 32] {
        &self.ciphertext_sha256
    }

    /// The chunk size.
    pub fn chunk_size(&self) -> ChunkSize {
        self.secrets.chunk_size
    }

    /// Number of chunks in the object.
    pub fn chunk_count(&self) -> u64 {
        self.layout().chunks
    }

    /// The object bytes of chunk `index` (for a range request).
    ///
    /// # Errors
    /// [`AttachmentError::ChunkOutOfRange`] if the file has no such chunk.
    pub fn chunk_range(&self, index: u64) -> Result<Range<u64>, AttachmentError> {
        let layout = self.layout();
        if index >= layout.chunks {
            return Err(AttachmentError::ChunkOutOfRange {
                index,
                chunks: layout.chunks,
            });
        }
        Ok(layout.object_span(index..index + 1))
    }

    /// The object bytes to fetch to read the file bytes `plaintext` (whole chunks; empty for
    /// an empty range).
    ///
    /// # Errors
    /// [`AttachmentError::RangeOutOfBounds`] unless `start <= end <= plaintext_len()`.
    pub fn ciphertext_range(&self, plaintext: Range<u64>) -> Result<Range<u64>, AttachmentError> {
        let layout = self.layout();
        Ok(layout.object_span(layout.chunks_for(plaintext)?))
    }

    /// The content type, e.g. `application/pdf` (empty if the sender gave none).
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The file name (empty if the sender gave none). Never a path: it holds no `/`, `\`,
    /// control or bidirectional-control character and is not `.` or `..`.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The inline thumbnail, if any (its format is the app's business).
    pub fn thumbnail(&self) -> Option<&[u8]> {
        (!self.thumbnail.is_empty()).then_some(self.thumbnail.as_slice())
    }

    /// Sets the content type: at most [`MAX_CONTENT_TYPE_LEN`] bytes of printable ASCII
    /// (`0x20`–`0x7E`), not starting or ending with a space.
    ///
    /// # Errors
    /// [`AttachmentError::FieldTooLong`], [`AttachmentError::InvalidText`]; the pointer is
    /// unchanged on error.
    pub fn set_content_type(&mut self, content_type: &str) -> Result<(), AttachmentError> {
        check_content_type(content_type.as_bytes())?;
        self.content_type = content_type.to_owned();
        Ok(())
    }

    /// Sets the file name: at most [`MAX_FILE_NAME_LEN`] bytes of UTF-8, under the rules of
    /// SPEC.md §16.6.2 (no path separators, control, invisible or bidirectional-control
    /// characters, no white space at either end, not `.` or `..`).
    ///
    /// # Errors
    /// [`AttachmentError::FieldTooLong`], [`AttachmentError::InvalidText`]; the pointer is
    /// unchanged on error.
    pub fn set_file_name(&mut self, file_name: &str) -> Result<(), AttachmentError> {
        check_file_name(file_name)?;
        self.file_name = file_name.to_owned();
        Ok(())
    }

    /// Sets the inline thumbnail (empty removes it), at most [`MAX_THUMBNAIL_LEN`] bytes.
    /// It travels inside the message that carries the pointer, encrypted with it.
    ///
    /// # Errors
    /// [`AttachmentError::FieldTooLong`]; the pointer is unchanged on error.
    pub fn set_thumbnail(&mut self, thumbnail: &[u8]) -> Result<(), AttachmentError> {
        if thumbnail.len() > MAX_THUMBNAIL_LEN {
            return Err(AttachmentError::FieldTooLong {
                field: "thumbnail",
                len: thumbnail.len(),
                max: MAX_THUMBNAIL_LEN,
            });
        }
        self.thumbnail = thumbnail.to_vec();
        Ok(())
    }

    /// Checks a downloaded object against the pointer's length and SHA-256, before
    /// decrypting it. (Decryption authenticates every chunk anyway; this catches a wrong or
    /// damaged object in one pass, and is what a store can check without the key.)
    ///
    /// # Errors
    /// [`AttachmentError::Truncated`] or [`AttachmentError::TrailingData`] for another
    /// length, [`AttachmentError::DigestMismatch`] for another hash.
    pub fn verify_digest(&self, object: &[u8]) -> Result<(), AttachmentError> {
        let expected = self.ciphertext_len();
        let len = u64::try_from(object.len()).unwrap_or(u64::MAX);
        if len < expected {
            return Err(AttachmentError::Truncated { len, expected });
        }
        if len > expected {
            return Err(AttachmentError::TrailingData { len, expected });
        }
        let digest: [u8; 32] = Sha256::digest(object).into();
        if bool::from(digest.ct_eq(&self.ciphertext_sha256)) {
            Ok(())
        } else {
            Err(AttachmentError::DigestMismatch)
        }
    }

    /// The encoding (SPEC.md §16.6.1). It holds the file key: zeroized on drop.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(
            POINTER_BASE_LEN
                + self.content_type.len()
                + self.file_name.len()
                + self.thumbnail.len(),
        ));
        out.extend_from_slice(&[
            WIRE_VERSION,
            TYPE_ATTACHMENT_POINTER,
            ATTACHMENT_FORMAT_VERSION,
            self.secrets.chunk_size.log2(),
        ]);
        out.extend_from_slice(self.secrets.key.as_bytes());
        out.extend_from_slice(&self.secrets.salt);
        out.extend_from_slice(&self.ciphertext_sha256);
        out.extend_from_slice(&self.plaintext_len.to_be_bytes());
        out.extend_from_slice(&self.ciphertext_len().to_be_bytes());
        // The setters and the decoder keep each length within its one- or two-byte field.
        out.push(u8::try_from(self.content_type.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.content_type.as_bytes());
        out.push(u8::try_from(self.file_name.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.file_name.as_bytes());
        out.extend_from_slice(
            &u16::try_from(self.thumbnail.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(&self.thumbnail);
        out
    }

    /// Decodes strictly: every field in range, every length consistent, nothing left over.
    ///
    /// # Errors
    /// [`AttachmentError::Malformed`] with the [`DecodeError`] of the first deviation from
    /// SPEC.md §16.6.1.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AttachmentError> {
        Ok(decode(bytes)?)
    }
}

fn decode(bytes: &[u8]) -> Result<AttachmentPointer, DecodeError> {
    let mut r = Reader::new(bytes);
    expect_header(
        &mut r,
        bytes.len(),
        TYPE_ATTACHMENT_POINTER,
        MAX_POINTER_LEN,
    )?;
    let chunk_size = read_format_and_chunk_size(&mut r)?;
    let key = Zeroizing::new(r.array::<ATTACHMENT_KEY_LEN>()?);
    let salt = r.array::<ATTACHMENT_SALT_LEN>()?;
    let ciphertext_sha256 = r.array::<32>()?;
    let plaintext_len = u64::from_be_bytes(r.array::<8>()?);
    if plaintext_len > MAX_ATTACHMENT_LEN {
        return Err(DecodeError::InvalidField {
            field: "plaintext_len",
        });
    }
    let ciphertext_len = u64::from_be_bytes(r.array::<8>()?);
    if ciphertext_len != Layout::new(plaintext_len, chunk_size).object_len() {
        return Err(DecodeError::InvalidField {
            field: "ciphertext_len",
        });
    }
    let content_type_len = usize::from(r.u8()?);
    if content_type_len > MAX_CONTENT_TYPE_LEN {
        return Err(DecodeError::InvalidField {
            field: "content_type_len",
        });
    }
    let content_type = r.take(content_type_len)?;
    check_content_type(content_type).map_err(|_| DecodeError::InvalidField {
        field: "content_type",
    })?;
    let file_name_len = usize::from(r.u8()?);
    let file_name = core::str::from_utf8(r.take(file_name_len)?)
        .map_err(|_| DecodeError::InvalidField { field: "file_name" })?;
    check_file_name(file_name).map_err(|_| DecodeError::InvalidField { field: "file_name" })?;
    let thumbnail_len = usize::from(u16::from_be_bytes(r.array::<2>()?));
    if thumbnail_len > MAX_THUMBNAIL_LEN {
        return Err(DecodeError::InvalidField {
            field: "thumbnail_len",
        });
    }
    let thumbnail = r.take(thumbnail_len)?.to_vec();
    r.finish()?;
    Ok(AttachmentPointer {
        secrets: FileSecrets {
            key: AttachmentKey::from_bytes(*key),
            salt,
            chunk_size,
        },
        ciphertext_sha256,
        plaintext_len,
        // Checked above: printable ASCII.
        content_type: String::from_utf8_lossy(content_type).into_owned(),
        file_name: file_name.to_owned(),
        thumbnail,
    })
}

impl TryFrom<&[u8]> for AttachmentPointer {
    type Error = AttachmentError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        Self::from_bytes(bytes)
    }
}

impl core::fmt::Debug for AttachmentPointer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AttachmentPointer")
            .field("chunk_size", &self.secrets.chunk_size.bytes())
            .field("plaintext_len", &self.plaintext_len)
            .field("ciphertext_len", &self.ciphertext_len())
            .field("content_type", &self.content_type)
            .field("file_name_len", &self.file_name.len())
            .field("thumbnail_len", &self.thumbnail.len())
            .finish_non_exhaustive()
    }
}

/// Printable ASCII, at most [`MAX_CONTENT_TYPE_LEN`] bytes, no space at either end.
fn check_content_type(bytes: &[u8]) -> Result<(), AttachmentError> {
    const FIELD: &str = "content_type";
    if bytes.len() > MAX_CONTENT_TYPE_LEN {
        return Err(AttachmentError::FieldTooLong {
            field: FIELD,
            len: bytes.len(),
            max: MAX_CONTENT_TYPE_LEN,
        });
    }
    let printable = bytes.iter().all(|b| (0x20..=0x7e).contains(b));
    let trimmed = bytes.first() != Some(&b' ') && bytes.last() != Some(&b' ');
    if printable && trimmed {
        Ok(())
    } else {
        Err(AttachmentError::InvalidText { field: FIELD })
    }
}

/// Characters a file name may not hold: path separators, and the invisible and
/// bidirectional controls that let a name display as another (`invoice\u{202E}fdp.exe`).
fn forbidden_in_file_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '/' | '\\'
                | '\u{061C}'
                | '\u{200B}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

fn check_file_name(name: &str) -> Result<(), AttachmentError> {
    const FIELD: &str = "file_name";
    if name.len() > MAX_FILE_NAME_LEN {
        return Err(AttachmentError::FieldTooLong {
            field: FIELD,
            len: name.len(),
            max: MAX_FILE_NAME_LEN,
        });
    }
    let edges_trimmed = name.trim() == name;
    if name == "." || name == ".." || !edges_trimmed || name.chars().any(forbidden_in_file_name) {
        return Err(AttachmentError::InvalidText { field: FIELD });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer() -> AttachmentPointer {
        AttachmentPointer::new(
            FileSecrets {
                key: AttachmentKey::from_bytes([0x11; 32]),
                salt: [0x22; 32],
                chunk_size: ChunkSize::DEFAULT,
            },
            [0x33; 32],
            1_000,
        )
    }

    #[test]
    fn round_trip_and_layout() {
        let mut p = pointer();
        p.set_content_type("application/pdf").unwrap();
        p.set_file_name("Rechnung März.pdf").unwrap();
        p.set_thumbnail(&[1, 2, 3]).unwrap();
        let bytes = p.to_bytes();
        assert_eq!(bytes.len(), POINTER_BASE_LEN + 15 + 18 + 3);
        assert_eq!(&bytes[..4], &[1, 0x60, 1, 16]);
        assert_eq!(&bytes[4..36], &[0x11; 32]);
        assert_eq!(&bytes[36..68], &[0x22; 32]);
        assert_eq!(&bytes[68..100], &[0x33; 32]);
        assert_eq!(bytes[100..108], 1_000u64.to_be_bytes());
        assert_eq!(bytes[108..116], p.ciphertext_len().to_be_bytes());
        assert_eq!(AttachmentPointer::from_bytes(&bytes), Ok(p.clone()));
        assert_eq!(AttachmentPointer::try_from(&bytes[..]), Ok(p));
        assert_eq!(MAX_POINTER_LEN, 33_271);
    }

    #[test]
    fn debug_shows_no_key_and_no_file_name() {
        let mut p = pointer();
        p.set_file_name("passport-scan.jpg").unwrap();
        p.set_content_type("image/jpeg").unwrap();
        assert_eq!(
            format!("{p:?}"),
            "AttachmentPointer { chunk_size: 65536, plaintext_len: 1000, ciphertext_len: 4150, \
             content_type: \"image/jpeg\", file_name_len: 17, thumbnail_len: 0, .. }"
        );
    }

    #[test]
    fn text_rules_at_their_edges() {
        let mut p = pointer();
        let long_type = "a".repeat(MAX_CONTENT_TYPE_LEN);
        p.set_content_type(&long_type).unwrap();
        assert_eq!(
            p.set_content_type(&"a".repeat(MAX_CONTENT_TYPE_LEN + 1)),
            Err(AttachmentError::FieldTooLong {
                field: "content_type",
                len: 129,
                max: 128
            })
        );
        assert_eq!(p.content_type(), long_type);
        for bad in [" text/plain", "text/plain ", "text/plain\n", "tëxt/plain"] {
            assert_eq!(
                p.set_content_type(bad),
                Err(AttachmentError::InvalidText {
                    field: "content_type"
                }),
                "{bad:?}"
            );
        }
        p.set_content_type("text/plain; charset=utf-8").unwrap();

        p.set_file_name(&"é".repeat(127)).unwrap();
        assert_eq!(
            p.set_file_name(&"é".repeat(128)),
            Err(AttachmentError::FieldTooLong {
                field: "file_name",
                len: 256,
                max: 255
            })
        );
        for bad in [
            ".",
            "..",
            "../etc/passwd",
            "a\\b",
            "invoice\u{202E}fdp.exe",
            "a\u{0}b",
            " x.pdf",
            "x.pdf\u{2029}",
            "zero\u{200B}width",
            "\u{FEFF}bom",
        ] {
            assert_eq!(
                p.set_file_name(bad),
                Err(AttachmentError::InvalidText { field: "file_name" }),
                "{bad:?}"
            );
        }
        p.set_file_name("...").unwrap();
        p.set_file_name("").unwrap();

        p.set_thumbnail(&vec![7; MAX_THUMBNAIL_LEN]).unwrap();
        assert_eq!(
            p.set_thumbnail(&vec![7; MAX_THUMBNAIL_LEN + 1]),
            Err(AttachmentError::FieldTooLong {
                field: "thumbnail",
                len: MAX_THUMBNAIL_LEN + 1,
                max: MAX_THUMBNAIL_LEN
            })
        );
        assert_eq!(p.thumbnail().map(<[u8]>::len), Some(MAX_THUMBNAIL_LEN));
        p.set_thumbnail(&[]).unwrap();
        assert_eq!(p.thumbnail(), None);
    }

    #[test]
    fn the_largest_pointer_decodes_and_one_more_byte_is_refused() {
        let mut p = pointer();
        p.set_content_type(&"a".repeat(MAX_CONTENT_TYPE_LEN))
            .unwrap();
        p.set_file_name(&"n".repeat(MAX_FILE_NAME_LEN)).unwrap();
        p.set_thumbnail(&vec![7; MAX_THUMBNAIL_LEN]).unwrap();
        let mut bytes = p.to_bytes().to_vec();
        assert_eq!(bytes.len(), MAX_POINTER_LEN);
        assert_eq!(AttachmentPointer::from_bytes(&bytes), Ok(p));
        bytes.push(0);
        assert_eq!(
            AttachmentPointer::from_bytes(&bytes),
            Err(AttachmentError::Malformed(DecodeError::TooLarge {
                len: MAX_POINTER_LEN + 1,
                max: MAX_POINTER_LEN
            }))
        );
    }

    #[test]
    fn the_longest_file_decodes_and_one_byte_more_is_refused() {
        let mut p = pointer();
        p.plaintext_len = MAX_ATTACHMENT_LEN;
        let bytes = p.to_bytes();
        assert_eq!(AttachmentPointer::from_bytes(&bytes), Ok(p.clone()));
        p.plaintext_len = MAX_ATTACHMENT_LEN + 1;
        assert_eq!(
            AttachmentPointer::from_bytes(&p.to_bytes()),
            Err(AttachmentError::Malformed(DecodeError::InvalidField {
                field: "plaintext_len"
            }))
        );
    }

    #[test]
    fn strict_decoding() {
        let good = pointer().to_bytes().to_vec();
        let field = |field| {
            Err(AttachmentError::Malformed(DecodeError::InvalidField {
                field,
            }))
        };
        let edit = |at: usize, value: u8| {
            let mut b = good.clone();
            b[at] = value;
            AttachmentPointer::from_bytes(&b)
        };
        assert_eq!(
            edit(0, 2),
            Err(AttachmentError::Malformed(DecodeError::UnknownVersion(2)))
        );
        assert_eq!(
            edit(1, 0x01),
            Err(AttachmentError::Malformed(DecodeError::WrongType {
                expected: 0x60,
                found: 0x01
            }))
        );
        assert_eq!(
            edit(1, 0x6F),
            Err(AttachmentError::Malformed(DecodeError::UnknownType(0x6F)))
        );
        assert_eq!(
            edit(2, 2),
            Err(AttachmentError::Malformed(DecodeError::UnknownVersion(2)))
        );
        assert_eq!(edit(3, 11), field("chunk_size_log2"));
        assert_eq!(edit(3, 23), field("chunk_size_log2"));
        // A 1,000-byte file is one 4,096-byte chunk at any chunk size: the length still
        // matches (the header, bound into the chunk, catches the change when decrypting).
        assert!(edit(3, 12).is_ok());
        assert_eq!(edit(100, 0x01), field("plaintext_len"));
        assert_eq!(edit(115, good[115] ^ 1), field("ciphertext_len"));
        assert_eq!(edit(116, 129), field("content_type_len"));
        let mut b = good.clone();
        b[116] = 1;
        b.insert(117, b'\n');
        assert_eq!(AttachmentPointer::from_bytes(&b), field("content_type"));
        let mut b = good.clone();
        b[117] = 2;
        b.splice(118..118, [0xc3, 0x28]);
        assert_eq!(AttachmentPointer::from_bytes(&b), field("file_name"));
        let mut b = good.clone();
        b[118] = 0x80;
        b[119] = 0x01;
        assert_eq!(AttachmentPointer::from_bytes(&b), field("thumbnail_len"));
        for cut in 0..good.len() {
            assert!(matches!(
                AttachmentPointer::from_bytes(&good[..cut]),
                Err(AttachmentError::Malformed(DecodeError::Truncated { .. }))
            ));
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(
            AttachmentPointer::from_bytes(&long),
            Err(AttachmentError::Malformed(DecodeError::TrailingBytes {
                count: 1
            }))
        );
    }
}
