//! The sealed content: authenticated metadata, the sender certificate and the inner message,
//! encoded and then padded (SPEC.md §13.2).
//!
//! `content_type(1) sent_at(8) expiry_flag(1) [expires_after_secs(4)]
//! certificate_len(2) sender_certificate(certificate_len) message(rest)`

use core::num::NonZeroU32;

use zeroize::Zeroizing;

use super::padding::{pad_into, padded_len};
use super::{ContentType, MAX_SEALED_MESSAGE_LEN, Metadata, OpenError};
use crate::certificate::{MAX_SENDER_CERTIFICATE_LEN, SenderCertificate};
use crate::error::DecodeError;
use crate::time::Timestamp;
use crate::wire::Reader;

/// Bytes of the content besides the certificate and the message, without an expiry.
pub(crate) const CONTENT_FIXED_LEN: usize = 1 + 8 + 1 + 2;
/// Extra bytes when the content carries an expiry.
pub(crate) const EXPIRY_LEN: usize = 4;

/// Length of the unpadded content.
pub(crate) fn content_len(
    metadata: &Metadata,
    certificate_len: usize,
    message_len: usize,
) -> usize {
    let expiry = if metadata.expires_after_secs().is_some() {
        EXPIRY_LEN
    } else {
        0
    };
    CONTENT_FIXED_LEN + expiry + certificate_len + message_len
}

/// Encodes and pads the content.
pub(crate) fn encode_padded(
    metadata: &Metadata,
    certificate: &SenderCertificate,
    message: &[u8],
) -> Zeroizing<Vec<u8>> {
    let cert = certificate.as_bytes();
    let len = content_len(metadata, cert.len(), message.len());
    let mut content = Zeroizing::new(Vec::with_capacity(len));
    content.push(metadata.content_type().to_byte());
    content.extend_from_slice(&metadata.sent_at().as_unix_secs().to_be_bytes());
    match metadata.expires_after_secs() {
        Some(secs) => {
            content.push(1);
            content.extend_from_slice(&secs.get().to_be_bytes());
        }
        None => content.push(0),
    }
    // Cannot truncate: a sender certificate is at most MAX_SENDER_CERTIFICATE_LEN bytes.
    content.extend_from_slice(&u16::try_from(cert.len()).unwrap_or(u16::MAX).to_be_bytes());
    content.extend_from_slice(cert);
    content.extend_from_slice(message);
    let mut padded = Zeroizing::new(Vec::with_capacity(padded_len(content.len())));
    pad_into(&content, &mut padded);
    padded
}

/// A decoded content.
pub(crate) struct Content {
    pub(crate) metadata: Metadata,
    pub(crate) certificate: SenderCertificate,
    pub(crate) message: Vec<u8>,
}

/// Decodes an unpadded content strictly.
pub(crate) fn decode(content: &[u8]) -> Result<Content, OpenError> {
    let malformed = OpenError::MalformedContent;
    let mut r = Reader::new(content);
    let content_type = ContentType::from_byte(r.u8().map_err(malformed)?).ok_or(
        OpenError::MalformedContent(DecodeError::InvalidField {
            field: "content_type",
        }),
    )?;
    let sent_at = Timestamp::from_unix_secs(u64::from_be_bytes(r.array::<8>().map_err(malformed)?));
    let expiry = if r.flag("expiry_flag").map_err(malformed)? {
        let secs = r.u32().map_err(malformed)?;
        Some(NonZeroU32::new(secs).ok_or(OpenError::MalformedContent(
            DecodeError::InvalidField {
                field: "expires_after_secs",
            },
        ))?)
    } else {
        None
    };
    let cert_len = usize::from(u16::from_be_bytes(r.array::<2>().map_err(malformed)?));
    if cert_len > MAX_SENDER_CERTIFICATE_LEN {
        return Err(OpenError::MalformedContent(DecodeError::InvalidField {
            field: "certificate_len",
        }));
    }
    let certificate = SenderCertificate::from_bytes(r.take(cert_len).map_err(malformed)?)
        .map_err(|e| OpenError::Certificate(e.into()))?;
    let message = r.rest();
    if message.len() > MAX_SEALED_MESSAGE_LEN {
        return Err(OpenError::MalformedContent(DecodeError::TooLarge {
            len: message.len(),
            max: MAX_SEALED_MESSAGE_LEN,
        }));
    }
    let mut metadata = Metadata::new(content_type, sent_at);
    if let Some(secs) = expiry {
        metadata = metadata.with_expiry(secs);
    }
    Ok(Content {
        metadata,
        certificate,
        message: message.to_vec(),
    })
}
