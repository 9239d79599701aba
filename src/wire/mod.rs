//! The wire format: version byte, type byte, fixed-size fields (SPEC.md §6).
//!
//! Decoding is strict and never panics: truncated input, trailing bytes, unknown versions or
//! types and oversize input each give their own [`DecodeError`].

mod reader;
mod types;

pub(crate) use reader::Reader;
pub(crate) use types::*;

use crate::aead::{NONCE_LEN, TAG_LEN};
use crate::error::DecodeError;
use crate::keys::KEM_CIPHERTEXT_LEN;

/// The wire format version this build writes and reads.
pub const WIRE_VERSION: u8 = 1;

/// The largest plaintext one message may carry (256 KiB). Larger payloads belong in
/// attachments.
pub const MAX_PLAINTEXT_LEN: usize = 256 * 1024;

/// The largest encoded message any decoder accepts: the largest plaintext plus the largest
/// fixed overhead (a prekey message), rounded up.
pub const MAX_MESSAGE_LEN: usize = MAX_PLAINTEXT_LEN + 2048;

/// Length of the decrypted header: ratchet key (32), previous chain length (4), counter (4).
pub(crate) const HEADER_PLAINTEXT_LEN: usize = 40;
/// Length of the encrypted header including its tag.
pub(crate) const ENCRYPTED_HEADER_LEN: usize = HEADER_PLAINTEXT_LEN + TAG_LEN;
/// Bytes of the session tag: masked sender epoch (4) and truncated MAC (8).
pub(crate) const SESSION_TAG_LEN: usize = crate::kdf::SESSION_TAG_LEN;
/// Bytes before the body of a ratchet message: version, type, header nonce, encrypted header,
/// session tag.
pub(crate) const RATCHET_PREFIX_LEN: usize = 2 + NONCE_LEN + ENCRYPTED_HEADER_LEN + SESSION_TAG_LEN;
/// Total bytes a ratchet message adds to its plaintext.
pub const RATCHET_MESSAGE_OVERHEAD: usize = RATCHET_PREFIX_LEN + TAG_LEN;

/// What kind of hushwire session message some bytes hold. Both session versions map to the
/// same two kinds: a version-2 ratchet message (type `0x04`) is a [`MessageKind::Ratchet`], a
/// version-2 prekey message (type `0x05`) a [`MessageKind::PreKey`] (SPEC.md §6.1, §5.9.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// A message on an established session.
    Ratchet,
    /// A session-starting message: carries what the responder needs to build the session.
    PreKey,
}

/// Reads the version and type bytes without decoding the rest, and checks the size limit of
/// the type found: [`MAX_MESSAGE_LEN`] for version-1 types (`0x01`, `0x02`),
/// [`MAX_PQ_MESSAGE_LEN`] for version-2 types (`0x04`, `0x05`).
///
/// # Errors
/// [`DecodeError`] if the input is empty, too large, or names an unknown version or type.
pub fn message_kind(bytes: &[u8]) -> Result<MessageKind, DecodeError> {
    let mut r = Reader::new(bytes);
    expect_version(&mut r)?;
    let (kind, max) = match r.u8()? {
        TYPE_RATCHET => (MessageKind::Ratchet, MAX_MESSAGE_LEN),
        TYPE_PREKEY => (MessageKind::PreKey, MAX_MESSAGE_LEN),
        TYPE_PQ_RATCHET => (MessageKind::Ratchet, MAX_PQ_MESSAGE_LEN),
        TYPE_PQ_PREKEY => (MessageKind::PreKey, MAX_PQ_MESSAGE_LEN),
        other => return Err(DecodeError::UnknownType(other)),
    };
    if bytes.len() > max {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    Ok(kind)
}

/// Checks the version byte: the first check of every decoder, so that a newer peer's
/// structure is reported as an unknown version whatever follows.
pub(crate) fn expect_version(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    let version = r.u8()?;
    if version != WIRE_VERSION {
        return Err(DecodeError::UnknownVersion(version));
    }
    Ok(())
}

/// The one header check of every hushwire structure (SPEC.md §1.4.1): the version byte, the
/// type byte (one of `accepted`, the first named in a `WrongType`), then the total length
/// against `max`, in that order (so a newer peer's message is reported as an unknown version,
/// not as oversize). Returns the type byte found.
pub(crate) fn expect_header_any(
    r: &mut Reader<'_>,
    total_len: usize,
    accepted: &[u8],
    max: usize,
) -> Result<u8, DecodeError> {
    expect_version(r)?;
    let found = r.u8()?;
    if !accepted.contains(&found) {
        let expected = accepted.first().copied().unwrap_or_default();
        return Err(type_mismatch(expected, found));
    }
    if total_len > max {
        return Err(DecodeError::TooLarge {
            len: total_len,
            max,
        });
    }
    Ok(found)
}

/// [`expect_header_any`] for a structure of one type.
pub(crate) fn expect_header(
    r: &mut Reader<'_>,
    total_len: usize,
    expected: u8,
    max: usize,
) -> Result<(), DecodeError> {
    expect_header_any(r, total_len, &[expected], max).map(|_| ())
}

/// A decoded message on an established session, borrowing the input.
///
/// Layout (SPEC.md §6.2): `version(1) type(1)=0x01 header_nonce(12) encrypted_header(56)
/// session_tag(12) body(n+16)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatchetMessage<'a> {
    bytes: &'a [u8],
    header_nonce: [u8; NONCE_LEN],
    encrypted_header: &'a [u8; ENCRYPTED_HEADER_LEN],
    session_tag: &'a [u8; SESSION_TAG_LEN],
    body: &'a [u8],
}

impl<'a> RatchetMessage<'a> {
    /// Decodes strictly.
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(&mut r, bytes.len(), TYPE_RATCHET, MAX_MESSAGE_LEN)?;
        let header_nonce = r.array::<NONCE_LEN>()?;
        let encrypted_header = r.array_ref::<ENCRYPTED_HEADER_LEN>()?;
        let session_tag = r.array_ref::<SESSION_TAG_LEN>()?;
        let body = r.rest();
        if body.len() < TAG_LEN {
            return Err(DecodeError::Truncated {
                needed: TAG_LEN - body.len(),
            });
        }
        if body.len() > MAX_PLAINTEXT_LEN + TAG_LEN {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: RATCHET_MESSAGE_OVERHEAD + MAX_PLAINTEXT_LEN,
            });
        }
        Ok(RatchetMessage {
            bytes,
            header_nonce,
            encrypted_header,
            session_tag,
            body,
        })
    }

    /// The encoded bytes (decoding borrows them, so this is exactly the input).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub(crate) fn header_nonce(&self) -> &[u8; NONCE_LEN] {
        &self.header_nonce
    }

    pub(crate) fn encrypted_header(&self) -> &'a [u8; ENCRYPTED_HEADER_LEN] {
        self.encrypted_header
    }

    pub(crate) fn session_tag(&self) -> &'a [u8; SESSION_TAG_LEN] {
        self.session_tag
    }

    pub(crate) fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Length of the plaintext this message carries.
    pub fn plaintext_len(&self) -> usize {
        self.body.len().saturating_sub(TAG_LEN)
    }
}

/// Length of a version-2 header: the version-1 header and the `kem_kind` byte (SPEC.md §5.9.3).
pub(crate) const PQ_HEADER_PLAINTEXT_LEN: usize = HEADER_PLAINTEXT_LEN + 1;
/// Length of a version-2 encrypted header including its tag.
pub(crate) const PQ_ENCRYPTED_HEADER_LEN: usize = PQ_HEADER_PLAINTEXT_LEN + TAG_LEN;
/// Bytes before the KEM part or body of a version-2 ratchet message.
pub(crate) const PQ_RATCHET_PREFIX_LEN: usize =
    2 + NONCE_LEN + PQ_ENCRYPTED_HEADER_LEN + SESSION_TAG_LEN;
/// Plaintext of a KEM part: an ML-KEM-768 encapsulation key, or a ciphertext padded to the
/// same length, so the two cannot be told apart by size.
pub(crate) const KEM_PART_PLAINTEXT_LEN: usize = crate::keys::KEM_PUBLIC_KEY_LEN;
/// Bytes of the sealed KEM part a version-2 message carries when its chain has one.
pub const KEM_PART_LEN: usize = KEM_PART_PLAINTEXT_LEN + TAG_LEN;
/// Bytes a version-2 ratchet message adds to its plaintext when it carries no KEM part (one
/// more than version 1: the `kem_kind` byte); [`KEM_PART_LEN`] more when it carries one.
pub const PQ_RATCHET_MESSAGE_OVERHEAD: usize = PQ_RATCHET_PREFIX_LEN + TAG_LEN;
/// The size limit of the version-2 session message decoders (checked after version and type).
pub const MAX_PQ_MESSAGE_LEN: usize = MAX_PLAINTEXT_LEN + 4096;

/// A decoded version-2 ratchet message (type `0x04`), borrowing the input. Whether the rest
/// starts with a KEM part is known only once the header is decrypted.
///
/// Layout (SPEC.md §5.9.3): `version(1) type(1)=0x04 header_nonce(12) encrypted_header(57)
/// session_tag(12) [kem_part(1200)] body(n+16)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PqRatchetMessage<'a> {
    bytes: &'a [u8],
    header_nonce: [u8; NONCE_LEN],
    encrypted_header: &'a [u8; PQ_ENCRYPTED_HEADER_LEN],
    session_tag: &'a [u8; SESSION_TAG_LEN],
    rest: &'a [u8],
}

impl<'a> PqRatchetMessage<'a> {
    /// Decodes strictly (the split of the rest into KEM part and body is the ratchet's).
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(&mut r, bytes.len(), TYPE_PQ_RATCHET, MAX_PQ_MESSAGE_LEN)?;
        let header_nonce = r.array::<NONCE_LEN>()?;
        let encrypted_header = r.array_ref::<PQ_ENCRYPTED_HEADER_LEN>()?;
        let session_tag = r.array_ref::<SESSION_TAG_LEN>()?;
        let rest = r.rest();
        if rest.len() < TAG_LEN {
            return Err(DecodeError::Truncated {
                needed: TAG_LEN - rest.len(),
            });
        }
        if rest.len() > KEM_PART_LEN + MAX_PLAINTEXT_LEN + TAG_LEN {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: PQ_RATCHET_MESSAGE_OVERHEAD + KEM_PART_LEN + MAX_PLAINTEXT_LEN,
            });
        }
        Ok(PqRatchetMessage {
            bytes,
            header_nonce,
            encrypted_header,
            session_tag,
            rest,
        })
    }

    /// The encoded bytes (exactly the input).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub(crate) fn header_nonce(&self) -> &[u8; NONCE_LEN] {
        &self.header_nonce
    }

    pub(crate) fn encrypted_header(&self) -> &'a [u8; PQ_ENCRYPTED_HEADER_LEN] {
        self.encrypted_header
    }

    pub(crate) fn session_tag(&self) -> &'a [u8; SESSION_TAG_LEN] {
        self.session_tag
    }

    /// The KEM part (if the header announces one) and the body.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// A decoded session-starting message, borrowing the input.
///
/// Layout (SPEC.md §6.3): `version(1) type(1)=0x02 identity_key(32) base_key(32)
/// signed_prekey_id(4) one_time_flag(1) [one_time_prekey_id(4)] kem_prekey_id(4)
/// kem_ciphertext(1088) ratchet_message(rest)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreKeyMessage<'a> {
    bytes: &'a [u8],
    identity_key: [u8; 32],
    base_key: [u8; 32],
    signed_prekey_id: u32,
    one_time_prekey_id: Option<u32>,
    kem_prekey_id: u32,
    kem_ciphertext: &'a [u8],
    message: RatchetMessage<'a>,
}

impl<'a> PreKeyMessage<'a> {
    /// Decodes strictly, including the embedded ratchet message.
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(&mut r, bytes.len(), TYPE_PREKEY, MAX_MESSAGE_LEN)?;
        let head = PreKeyHead::read(&mut r)?;
        let message = RatchetMessage::decode(r.rest())?;
        Ok(PreKeyMessage {
            bytes,
            identity_key: head.identity_key,
            base_key: head.base_key,
            signed_prekey_id: head.signed_prekey_id,
            one_time_prekey_id: head.one_time_prekey_id,
            kem_prekey_id: head.kem_prekey_id,
            kem_ciphertext: head.kem_ciphertext,
            message,
        })
    }

    /// Encodes the fields around an already-encoded ratchet message: type `0x02` around a
    /// version-1 message, `0x05` around a version-2 one (`pq`, SPEC.md §5.9.7).
    pub(crate) fn encode(
        out: &mut Vec<u8>,
        fields: &PreKeyFields,
        pq: bool,
        ratchet_message: &[u8],
    ) {
        out.reserve(2 + 32 + 32 + 4 + 5 + 4 + KEM_CIPHERTEXT_LEN + ratchet_message.len());
        out.push(WIRE_VERSION);
        out.push(if pq { TYPE_PQ_PREKEY } else { TYPE_PREKEY });
        out.extend_from_slice(&fields.identity_key);
        out.extend_from_slice(&fields.base_key);
        out.extend_from_slice(&fields.signed_prekey_id.to_be_bytes());
        match fields.one_time_prekey_id {
            Some(id) => {
                out.push(1);
                out.extend_from_slice(&id.to_be_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&fields.kem_prekey_id.to_be_bytes());
        out.extend_from_slice(fields.kem_ciphertext.as_slice());
        out.extend_from_slice(ratchet_message);
    }

    /// The encoded bytes (exactly the input).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The initiator's identity key as sent (not yet checked: see [`crate::IdentityKey::from_bytes`]).
    pub fn identity_key_bytes(&self) -> &[u8; 32] {
        &self.identity_key
    }

    /// The initiator's ephemeral base key: with the identity key, it names the session attempt.
    pub fn base_key(&self) -> &[u8; 32] {
        &self.base_key
    }

    /// Id of the responder's signed prekey used.
    pub fn signed_prekey_id(&self) -> u32 {
        self.signed_prekey_id
    }

    /// Id of the responder's one-time X25519 prekey used, if any.
    pub fn one_time_prekey_id(&self) -> Option<u32> {
        self.one_time_prekey_id
    }

    /// Id of the responder's ML-KEM prekey used.
    pub fn kem_prekey_id(&self) -> u32 {
        self.kem_prekey_id
    }

    /// The embedded ratchet message.
    pub fn message(&self) -> &RatchetMessage<'a> {
        &self.message
    }
}

/// The prekey fields after the version and type bytes (SPEC.md §6.3), common to both
/// session versions.
struct PreKeyHead<'a> {
    identity_key: [u8; 32],
    base_key: [u8; 32],
    signed_prekey_id: u32,
    one_time_prekey_id: Option<u32>,
    kem_prekey_id: u32,
    kem_ciphertext: &'a [u8],
}

impl<'a> PreKeyHead<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let identity_key = r.array::<32>()?;
        let base_key = r.array::<32>()?;
        let signed_prekey_id = r.u32()?;
        let one_time_prekey_id = if r.flag("one_time_flag")? {
            Some(r.u32()?)
        } else {
            None
        };
        let kem_prekey_id = r.u32()?;
        let kem_ciphertext = r.take(KEM_CIPHERTEXT_LEN)?;
        Ok(PreKeyHead {
            identity_key,
            base_key,
            signed_prekey_id,
            one_time_prekey_id,
            kem_prekey_id,
            kem_ciphertext,
        })
    }
}

/// A decoded version-2 session-starting message (type `0x05`), borrowing the input.
///
/// Layout (SPEC.md §5.9.7): the prekey fields of §6.3 with type byte `0x05`, then a complete
/// version-2 ratchet message (type `0x04`). Its size limit is [`MAX_PQ_MESSAGE_LEN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PqPreKeyMessage<'a> {
    bytes: &'a [u8],
    identity_key: [u8; 32],
    base_key: [u8; 32],
    signed_prekey_id: u32,
    one_time_prekey_id: Option<u32>,
    kem_prekey_id: u32,
    kem_ciphertext: &'a [u8],
    message: PqRatchetMessage<'a>,
}

impl<'a> PqPreKeyMessage<'a> {
    /// Decodes strictly, including the embedded version-2 ratchet message.
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout; an embedded message of another
    /// type (a version-1 `0x01`) is `WrongType { expected: 0x04, found }`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(&mut r, bytes.len(), TYPE_PQ_PREKEY, MAX_PQ_MESSAGE_LEN)?;
        let head = PreKeyHead::read(&mut r)?;
        let message = PqRatchetMessage::decode(r.rest())?;
        Ok(PqPreKeyMessage {
            bytes,
            identity_key: head.identity_key,
            base_key: head.base_key,
            signed_prekey_id: head.signed_prekey_id,
            one_time_prekey_id: head.one_time_prekey_id,
            kem_prekey_id: head.kem_prekey_id,
            kem_ciphertext: head.kem_ciphertext,
            message,
        })
    }

    /// The encoded bytes (exactly the input).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The initiator's identity key as sent (not yet checked).
    pub fn identity_key_bytes(&self) -> &[u8; 32] {
        &self.identity_key
    }

    /// The initiator's ephemeral base key.
    pub fn base_key(&self) -> &[u8; 32] {
        &self.base_key
    }

    /// Id of the responder's signed prekey used.
    pub fn signed_prekey_id(&self) -> u32 {
        self.signed_prekey_id
    }

    /// Id of the responder's one-time X25519 prekey used, if any.
    pub fn one_time_prekey_id(&self) -> Option<u32> {
        self.one_time_prekey_id
    }

    /// Id of the responder's ML-KEM prekey used.
    pub fn kem_prekey_id(&self) -> u32 {
        self.kem_prekey_id
    }

    /// The embedded version-2 ratchet message.
    pub fn message(&self) -> &PqRatchetMessage<'a> {
        &self.message
    }
}

/// A prekey message of either session version (types `0x02` and `0x05`), as the account and
/// the session read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnyPreKey<'a> {
    /// Type `0x02`, embedding a `0x01` message.
    V1(PreKeyMessage<'a>),
    /// Type `0x05`, embedding a `0x04` message.
    V2(PqPreKeyMessage<'a>),
}

impl<'a> AnyPreKey<'a> {
    /// Decodes by the type byte: `0x05` as a version-2 prekey message, anything else as a
    /// version-1 one (whose decoder names any other type).
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if bytes.get(1) == Some(&TYPE_PQ_PREKEY) {
            PqPreKeyMessage::decode(bytes).map(AnyPreKey::V2)
        } else {
            PreKeyMessage::decode(bytes).map(AnyPreKey::V1)
        }
    }

    pub(crate) fn identity_key_bytes(&self) -> &[u8; 32] {
        match self {
            AnyPreKey::V1(m) => m.identity_key_bytes(),
            AnyPreKey::V2(m) => m.identity_key_bytes(),
        }
    }

    pub(crate) fn base_key(&self) -> &[u8; 32] {
        match self {
            AnyPreKey::V1(m) => m.base_key(),
            AnyPreKey::V2(m) => m.base_key(),
        }
    }

    pub(crate) fn signed_prekey_id(&self) -> u32 {
        match self {
            AnyPreKey::V1(m) => m.signed_prekey_id(),
            AnyPreKey::V2(m) => m.signed_prekey_id(),
        }
    }

    pub(crate) fn one_time_prekey_id(&self) -> Option<u32> {
        match self {
            AnyPreKey::V1(m) => m.one_time_prekey_id(),
            AnyPreKey::V2(m) => m.one_time_prekey_id(),
        }
    }

    pub(crate) fn kem_prekey_id(&self) -> u32 {
        match self {
            AnyPreKey::V1(m) => m.kem_prekey_id(),
            AnyPreKey::V2(m) => m.kem_prekey_id(),
        }
    }

    pub(crate) fn kem_ciphertext(&self) -> &'a [u8] {
        match self {
            AnyPreKey::V1(m) => m.kem_ciphertext,
            AnyPreKey::V2(m) => m.kem_ciphertext,
        }
    }

    /// Everything before the embedded ratchet message, the version and type bytes included
    /// (so the prekey digest of SPEC.md §7.4 covers the session version).
    pub(crate) fn fields_bytes(&self) -> &'a [u8] {
        let (bytes, embedded) = match self {
            AnyPreKey::V1(m) => (m.bytes, m.message.as_bytes().len()),
            AnyPreKey::V2(m) => (m.bytes, m.message.as_bytes().len()),
        };
        let end = bytes.len().saturating_sub(embedded);
        bytes.get(..end).unwrap_or_default()
    }
}

/// What an initiator repeats in every prekey message until it hears back.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PreKeyFields {
    pub(crate) identity_key: [u8; 32],
    pub(crate) base_key: [u8; 32],
    pub(crate) signed_prekey_id: u32,
    pub(crate) one_time_prekey_id: Option<u32>,
    pub(crate) kem_prekey_id: u32,
    pub(crate) kem_ciphertext: Box<[u8; KEM_CIPHERTEXT_LEN]>,
}

impl core::fmt::Debug for PreKeyFields {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PreKeyFields")
            .field("signed_prekey_id", &self.signed_prekey_id)
            .field("one_time_prekey_id", &self.one_time_prekey_id)
            .field("kem_prekey_id", &self.kem_prekey_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_errors_name_version_then_type_then_size() {
        let mut r = Reader::new(&[2, 0x40]);
        assert_eq!(
            expect_header_any(&mut r, 2, &[0x40], 1),
            Err(DecodeError::UnknownVersion(2))
        );
        let mut r = Reader::new(&[1, 0x41]);
        assert_eq!(
            expect_header_any(&mut r, 2, &[0x40], 100),
            Err(DecodeError::WrongType {
                expected: 0x40,
                found: 0x41
            })
        );
        let mut r = Reader::new(&[1, 0x7e]);
        assert_eq!(
            expect_header_any(&mut r, 2, &[0x40], 100),
            Err(DecodeError::UnknownType(0x7e))
        );
        let mut r = Reader::new(&[1, 0x40]);
        assert_eq!(
            expect_header_any(&mut r, 200, &[0x40], 100),
            Err(DecodeError::TooLarge { len: 200, max: 100 })
        );
        let mut r = Reader::new(&[]);
        assert_eq!(
            expect_header_any(&mut r, 0, &[0x40], 100),
            Err(DecodeError::Truncated { needed: 1 })
        );
    }

    /// Every structure of another family is named as such, whichever decoder meets it.
    #[test]
    fn each_known_type_is_a_wrong_type_for_every_other_decoder() {
        for &found in KNOWN_TYPES {
            let mut bytes = vec![WIRE_VERSION, found];
            bytes.resize(200, 0);
            if found != TYPE_RATCHET {
                assert_eq!(
                    RatchetMessage::decode(&bytes).err(),
                    Some(DecodeError::WrongType {
                        expected: TYPE_RATCHET,
                        found
                    })
                );
            }
            if found != TYPE_PREKEY {
                assert_eq!(
                    PreKeyMessage::decode(&bytes).err(),
                    Some(DecodeError::WrongType {
                        expected: TYPE_PREKEY,
                        found
                    })
                );
            }
        }
        let mut unknown = vec![WIRE_VERSION, 0x7f];
        unknown.resize(200, 0);
        assert_eq!(
            RatchetMessage::decode(&unknown).err(),
            Some(DecodeError::UnknownType(0x7f))
        );
        let mut sorted = KNOWN_TYPES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            KNOWN_TYPES.len(),
            "a type byte is listed twice"
        );
    }
}
