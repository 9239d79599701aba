//! What the example peers put inside a 1:1 message (the plaintext of a hushwire ratchet
//! message, itself inside a sealed envelope of content type `SESSION`).
//!
//! ```text
//! body = text                                UTF-8, not starting with U+0000
//!      | 0x00 0x01 blob_id(16) pointer(rest) a file: where it is on the relay, and its
//!                                            attachment pointer (SPEC.md §16.6, type 0x60)
//!      | 0x00 0x02 masked_field(rest)        the operator's copy of a secure field
//!                                            (SPEC.md §17.5.2, type 0x70)
//! ```
//!
//! The pointer carries the file's key, so it only ever travels inside the ratchet (forward
//! secrecy), never in the clear and never to the relay. The relay sees the blob id in the
//! download requests, not which message named it. Structures are decoded strictly by hushwire;
//! a body that is none of these is refused, not shown.

use hushwire::attachment::AttachmentPointer;
use hushwire::mask::MaskedField;
use zeroize::Zeroizing;

use crate::client::BlobId;
use crate::frame::BLOB_ID_LEN;

const STRUCTURE: u8 = 0x00;
const FILE: u8 = 0x01;
const MASKED_FIELD: u8 = 0x02;

/// A decoded message body.
pub enum Body {
    Text(String),
    File {
        blob: BlobId,
        pointer: AttachmentPointer,
    },
    MaskedField(MaskedField),
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Text that is not UTF-8.
    NotUtf8,
    /// An unknown structure kind.
    UnknownKind(u8),
    /// A file body too short for its blob id.
    Truncated,
    /// hushwire refused the pointer or the masked field.
    Pointer(hushwire::attachment::AttachmentError),
    MaskedField(hushwire::DecodeError),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::NotUtf8 => write!(f, "a text message that is not UTF-8"),
            BodyError::UnknownKind(k) => write!(f, "a message of unknown kind {k:#04x}"),
            BodyError::Truncated => write!(f, "a truncated file message"),
            BodyError::Pointer(e) => write!(f, "a file message with a bad pointer: {e}"),
            BodyError::MaskedField(e) => write!(f, "a bad secure field: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// A text body; `None` if the text starts with U+0000 (which would read as a structure).
pub fn text(text: &str) -> Option<Vec<u8>> {
    (!text.starts_with('\0')).then(|| text.as_bytes().to_vec())
}

/// A file body (it holds the file key: wiped on drop).
pub fn file(blob: &BlobId, pointer: &AttachmentPointer) -> Zeroizing<Vec<u8>> {
    let pointer = pointer.to_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(2 + BLOB_ID_LEN + pointer.len()));
    out.extend_from_slice(&[STRUCTURE, FILE]);
    out.extend_from_slice(blob);
    out.extend_from_slice(&pointer);
    out
}

/// A masked-field body.
pub fn masked_field(field: &MaskedField) -> Vec<u8> {
    let mut out = vec![STRUCTURE, MASKED_FIELD];
    out.extend_from_slice(&field.to_bytes());
    out
}

/// Reads a body.
///
/// # Errors
/// [`BodyError`] for anything that is not exactly one of the forms above.
pub fn decode(bytes: &[u8]) -> Result<Body, BodyError> {
    match bytes {
        [STRUCTURE, FILE, rest @ ..] => {
            let (blob, pointer) = rest
                .split_first_chunk::<BLOB_ID_LEN>()
                .ok_or(BodyError::Truncated)?;
            Ok(Body::File {
                blob: *blob,
                pointer: AttachmentPointer::from_bytes(pointer).map_err(BodyError::Pointer)?,
            })
        }
        [STRUCTURE, MASKED_FIELD, rest @ ..] => Ok(Body::MaskedField(
            MaskedField::from_bytes(rest).map_err(BodyError::MaskedField)?,
        )),
        [STRUCTURE, kind, ..] => Err(BodyError::UnknownKind(*kind)),
        [STRUCTURE] => Err(BodyError::Truncated),
        _ => String::from_utf8(bytes.to_vec())
            .map(Body::Text)
            .map_err(|_| BodyError::NotUtf8),
    }
}
