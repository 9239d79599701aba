//! Sealed envelopes: the relay learns who receives, never who sends, what kind of message it
//! is, or how long it is (SPEC.md §13).
//!
//! The sender encrypts its message as usual (for a 1:1 conversation, the bytes of
//! [`crate::Session::encrypt`]), then [`seal`]s it for the recipient's identity key together
//! with authenticated [`Metadata`] (content type, sender timestamp, optional expiry for
//! disappearing messages) and its [`SenderCertificate`]. The content is padded to a size
//! bucket ([`padding`]) before encryption.
//!
//! - **Single recipient** ([`seal`], type `0x30`): an ephemeral-static X25519 agreement hides
//!   the sender's identity key; a static-static agreement, chained from the first one's
//!   transcript, authenticates it (the structure of Signal's sealed sender v1).
//! - **Many recipients** ([`seal_multi`], type `0x31`): the content is encrypted once under a
//!   key derived from a fresh random secret `M`; each recipient gets an 80-byte header holding
//!   `M` wrapped under `DH(e, recipient)` and a tag from `DH(sender, recipient)` (the
//!   structure of Signal's sealed sender v2). The ephemeral key is derived from `M`, so every
//!   recipient can check it got the same content as the others. The relay turns it into
//!   per-recipient envelopes (type `0x32`) with [`MultiRecipientMessage::split`].
//!
//! The recipient calls [`open`] with its identity key pair and [`TrustStore`]: it decrypts,
//! validates the certificate at `now`, checks that the certificate's identity key is the key
//! that authenticated the envelope, and returns an [`Opened`] value: the inner message and
//! who sent it. Opening never changes any state. This module knows nothing of sessions:
//! reading the inner session message (`Opened::decrypt` with a session,
//! `Device::decrypt_sealed`) is the device layer's (src/device/sealed.rs).
//!
//! **Hybrid envelopes** (types `0x33`–`0x35`, SPEC.md §13.8) keep the sender hidden from a
//! future quantum adversary too: the ephemeral agreement is X25519 *and* an ML-KEM-768
//! encapsulation to the recipient's published, signed [`EnvelopeKeyPublic`]. A sender
//! negotiates per recipient with [`Recipient::negotiate`] (hybrid when the recipient
//! published a key) and seals with [`seal_to`] or [`seal_multi_to`]; the recipient opens
//! with [`open_with`] and its [`RecipientKeys`] (`Account::recipient_keys`), which may
//! refuse classical envelopes altogether.
//!
//! The expiry of a disappearing message is reported ([`Metadata::expires_at`]); deleting the
//! message when it expires is the app's job.

mod content;
mod envelope;
mod envelope_key;
mod kdf;
mod multi;
pub mod padding;
#[cfg(test)]
mod tests;

use core::fmt;
use core::num::NonZeroU32;

use rand_core::CryptoRng;
use thiserror::Error;

pub use envelope_key::{ENVELOPE_KEY_LEN, EnvelopeKeyPublic};
pub use multi::MultiRecipientMessage;

use crate::aead::TAG_LEN;
use crate::certificate::{
    CertificateError, MAX_SENDER_CERTIFICATE_LEN, SenderCertificate, TrustStore,
};
use crate::error::{DecodeError, ErrorKind};
use crate::keys::{EnvelopeKeyPair, IdentityKey, IdentityKeyPair, KEM_CIPHERTEXT_LEN};
use crate::time::Timestamp;
use crate::wire::MAX_MESSAGE_LEN;

use padding::{PaddingError, padded_len};

/// The largest inner message a sealed envelope carries: any hushwire session message.
pub const MAX_SEALED_MESSAGE_LEN: usize = MAX_MESSAGE_LEN;
/// The largest unpadded content: metadata with an expiry, the largest sender certificate
/// and the largest inner message.
pub const MAX_CONTENT_LEN: usize = content::CONTENT_FIXED_LEN
    + content::EXPIRY_LEN
    + MAX_SENDER_CERTIFICATE_LEN
    + MAX_SEALED_MESSAGE_LEN;
/// The largest padded content.
pub const MAX_PADDED_LEN: usize = padded_len(MAX_CONTENT_LEN);
/// Bytes before the encrypted content of an envelope (both types `0x30` and `0x32`):
/// version, type, recipient identity key, ephemeral key, and 48 bytes of sender key material
/// (the encrypted sender identity key, or the wrapped key and the authentication tag).
pub const ENVELOPE_PREFIX_LEN: usize = 2 + 32 + 32 + 48;
/// Bytes an envelope adds to its padded content: [`ENVELOPE_PREFIX_LEN`] plus the AEAD tag.
pub const ENVELOPE_OVERHEAD: usize = ENVELOPE_PREFIX_LEN + TAG_LEN;
/// The largest envelope any decoder accepts.
pub const MAX_ENVELOPE_LEN: usize = ENVELOPE_OVERHEAD + MAX_PADDED_LEN;
/// Bytes each recipient adds to a multi-recipient message: identity key (32), wrapped key
/// (32) and authentication tag (16).
pub const RECIPIENT_HEADER_LEN: usize = 32 + 32 + kdf::AUTH_TAG_LEN;
/// Bytes a multi-recipient message adds to its padded content besides the recipient headers:
/// version, type, ephemeral key, recipient count (2) and the AEAD tag.
pub const MULTI_RECIPIENT_OVERHEAD: usize = 2 + 32 + 2 + TAG_LEN;
/// Most recipients of one multi-recipient message (a 1,000-member group with two devices
/// each, with room to spare). Larger audiences are sealed in several calls.
pub const MAX_RECIPIENTS: usize = 2_048;
/// The largest multi-recipient message any decoder accepts.
pub const MAX_MULTI_RECIPIENT_LEN: usize =
    MULTI_RECIPIENT_OVERHEAD + RECIPIENT_HEADER_LEN * MAX_RECIPIENTS + MAX_PADDED_LEN;
/// Bytes a hybrid envelope (types `0x33` and `0x35`) holds before its encrypted content:
/// [`ENVELOPE_PREFIX_LEN`] plus the envelope key id (4) and the ML-KEM-768 ciphertext (1,088).
pub const HYBRID_ENVELOPE_PREFIX_LEN: usize = ENVELOPE_PREFIX_LEN + 4 + KEM_CIPHERTEXT_LEN;
/// Bytes a hybrid envelope adds to its padded content: 1,222, which is 1,092 more than
/// [`ENVELOPE_OVERHEAD`].
pub const HYBRID_ENVELOPE_OVERHEAD: usize = HYBRID_ENVELOPE_PREFIX_LEN + TAG_LEN;
/// The largest hybrid envelope any decoder accepts.
pub const MAX_HYBRID_ENVELOPE_LEN: usize = HYBRID_ENVELOPE_OVERHEAD + MAX_PADDED_LEN;
/// Bytes each recipient adds to a hybrid multi-recipient message: 1,172, which is
/// [`RECIPIENT_HEADER_LEN`] plus the key id (4) and the ML-KEM-768 ciphertext (1,088).
pub const HYBRID_RECIPIENT_HEADER_LEN: usize = RECIPIENT_HEADER_LEN + 4 + KEM_CIPHERTEXT_LEN;
/// The largest hybrid multi-recipient message any decoder accepts.
pub const MAX_HYBRID_MULTI_RECIPIENT_LEN: usize =
    MULTI_RECIPIENT_OVERHEAD + HYBRID_RECIPIENT_HEADER_LEN * MAX_RECIPIENTS + MAX_PADDED_LEN;

/// What the sealed message is, authenticated and hidden from the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentType(u8);

impl ContentType {
    /// A 1:1 session message (ratchet or prekey message): read it with `Opened::decrypt`,
    /// `Opened::create_inbound_session` or `Device::decrypt_sealed`.
    pub const SESSION: ContentType = ContentType(0x01);
    /// A group message (defined by the group layer).
    pub const GROUP: ContentType = ContentType(0x02);

    /// The content type for `byte`. `0x00` is not a content type; `0x03..=0x7F` are reserved
    /// for hushwire, `0x80..=0xFF` are application-defined.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        if byte == 0 {
            None
        } else {
            Some(ContentType(byte))
        }
    }

    /// The byte on the wire.
    pub const fn to_byte(self) -> u8 {
        self.0
    }

    /// Whether the application defines this type (`0x80..=0xFF`).
    pub const fn is_application_defined(self) -> bool {
        self.0 >= 0x80
    }
}

/// The authenticated metadata of a sealed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Metadata {
    content_type: ContentType,
    sent_at: Timestamp,
    expires_after_secs: Option<NonZeroU32>,
}

impl Metadata {
    /// Metadata for a message of `content_type` sent at `sent_at` (the sender's clock).
    pub const fn new(content_type: ContentType, sent_at: Timestamp) -> Self {
        Metadata {
            content_type,
            sent_at,
            expires_after_secs: None,
        }
    }

    /// The same, for a disappearing message that expires `secs` seconds after `sent_at`.
    pub const fn with_expiry(self, secs: NonZeroU32) -> Self {
        Metadata {
            expires_after_secs: Some(secs),
            ..self
        }
    }

    /// What the message is.
    pub const fn content_type(&self) -> ContentType {
        self.content_type
    }

    /// When the sender says it sent the message (its own clock).
    pub const fn sent_at(&self) -> Timestamp {
        self.sent_at
    }

    /// The disappearing-message timer, if any.
    pub const fn expires_after_secs(&self) -> Option<NonZeroU32> {
        self.expires_after_secs
    }

    /// When the message expires (`sent_at` plus the timer, by the sender's clock). hushwire
    /// only reports it: deleting the message is the app's job.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_after_secs
            .map(|secs| self.sent_at.plus_secs(u64::from(secs.get())))
    }
}

/// Which kind of envelope a message came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvelopeKind {
    /// A single-recipient envelope (type `0x30`).
    Single,
    /// An envelope split from a multi-recipient message (type `0x32`).
    MultiRecipient,
}

/// An opened envelope: the validated sender, the metadata and the inner message.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct Opened {
    sender: SenderCertificate,
    metadata: Metadata,
    message: Vec<u8>,
    kind: EnvelopeKind,
    hybrid: bool,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("sender", &self.sender)
            .field("metadata", &self.metadata)
            .field("message_len", &self.message.len())
            .field("kind", &self.kind)
            .field("hybrid", &self.hybrid)
            .finish()
    }
}

impl Opened {
    /// The sender's certificate, validated: its user id, device id and identity key are the
    /// sender's, and the identity key authenticated the envelope.
    pub fn sender(&self) -> &SenderCertificate {
        &self.sender
    }

    /// The sender's identity key.
    pub fn sender_identity(&self) -> &IdentityKey {
        self.sender.identity_key()
    }

    /// The authenticated metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The inner message.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// The inner message, by value.
    pub fn into_message(self) -> Vec<u8> {
        self.message
    }

    /// Which kind of envelope it came in.
    pub fn kind(&self) -> EnvelopeKind {
        self.kind
    }

    /// Whether it came in a hybrid envelope (types `0x33`, `0x35`): its sender is hidden
    /// from a quantum adversary too.
    pub fn is_hybrid(&self) -> bool {
        self.hybrid
    }
}

/// Errors from sealing. Nothing is drawn from the RNG when the inputs are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SealError {
    /// The inner message is longer than [`MAX_SEALED_MESSAGE_LEN`].
    #[error("message of {len} bytes exceeds the maximum of {max}")]
    MessageTooLarge {
        /// Length of the message.
        len: usize,
        /// The maximum allowed.
        max: usize,
    },
    /// The sender certificate certifies another identity key than the sender's.
    #[error("the sender certificate is for another identity key")]
    CertificateMismatch,
    /// A multi-recipient seal was given no recipient.
    #[error("no recipients")]
    NoRecipients,
    /// A multi-recipient seal was given more than [`MAX_RECIPIENTS`] recipients.
    #[error("{count} recipients exceed the maximum of {max}")]
    TooManyRecipients {
        /// Number of recipients given.
        count: usize,
        /// The maximum allowed.
        max: usize,
    },
    /// A recipient appears twice in a multi-recipient seal.
    #[error("recipient {index} appears twice")]
    DuplicateRecipient {
        /// Position of the second occurrence.
        index: usize,
    },
    /// A Diffie-Hellman output was all zeros.
    #[error("non-contributory Diffie-Hellman output")]
    NonContributory,
    /// An envelope key's signature does not verify under its identity key, or its
    /// encapsulation key fails the FIPS 203 check. `index` is the recipient's position (0 for
    /// a single recipient).
    #[error(
        "the envelope key of recipient {index} is not validly signed or not a valid ML-KEM key"
    )]
    BadEnvelopeKey {
        /// Position of the recipient.
        index: usize,
    },
    /// The envelope key given for a recipient belongs to another identity key.
    #[error("the envelope key belongs to another identity")]
    EnvelopeKeyMismatch,
}

impl SealError {
    /// A stable, language-neutral name of this error, `"seal.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            SealError::MessageTooLarge { .. } => "seal.message_too_large",
            SealError::CertificateMismatch => "seal.certificate_mismatch",
            SealError::NoRecipients => "seal.no_recipients",
            SealError::TooManyRecipients { .. } => "seal.too_many_recipients",
            SealError::DuplicateRecipient { .. } => "seal.duplicate_recipient",
            SealError::NonContributory => "seal.non_contributory",
            SealError::BadEnvelopeKey { .. } => "seal.bad_envelope_key",
            SealError::EnvelopeKeyMismatch => "seal.envelope_key_mismatch",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SealError::MessageTooLarge { .. } | SealError::TooManyRecipients { .. } => {
                ErrorKind::LimitExceeded
            }
            SealError::CertificateMismatch
            | SealError::NoRecipients
            | SealError::DuplicateRecipient { .. }
            | SealError::EnvelopeKeyMismatch => ErrorKind::InvalidInput,
            SealError::NonContributory | SealError::BadEnvelopeKey { .. } => ErrorKind::Tampered,
        }
    }
}

/// Errors from opening an envelope. Opening changes no state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The envelope is not well formed (nothing cryptographic was attempted), or the
    /// encrypted sender identity key is not a valid key.
    #[error("malformed envelope: {0}")]
    Malformed(#[from] DecodeError),
    /// The envelope is addressed to another identity key.
    #[error("the envelope is addressed to another recipient")]
    NotForUs,
    /// A Diffie-Hellman output was all zeros (a low-order ephemeral key).
    #[error("non-contributory Diffie-Hellman output (low-order ephemeral key)")]
    NonContributory,
    /// Decryption failed: the envelope was altered, or not made for our key.
    #[error("envelope failed authentication (tampered)")]
    Tampered,
    /// The decrypted content is not correctly padded.
    #[error("bad padding: {0}")]
    BadPadding(PaddingError),
    /// The decrypted, unpadded content is not well formed.
    #[error("malformed content: {0}")]
    MalformedContent(DecodeError),
    /// The envelope is not authenticated by the identity key its certificate names: a
    /// certificate copied from another sender, or (multi-recipient) an altered tag.
    #[error("the envelope was not authenticated by the certificate's identity key")]
    SenderNotAuthenticated,
    /// The sender certificate failed validation (or is malformed).
    #[error("sender certificate: {0}")]
    Certificate(#[from] CertificateError),
    /// The envelope is authentic but was sealed by the recipient's own identity key: our own
    /// envelope echoed back (a relay reflecting it). Its content is not passed on.
    #[error("the envelope was sealed by our own identity (echoed back)")]
    SelfSend,
    /// A hybrid envelope names an envelope key this recipient does not hold (never issued,
    /// or retired past its grace window).
    #[error("unknown envelope key {key_id}")]
    UnknownEnvelopeKey {
        /// The key id the envelope names.
        key_id: u32,
    },
    /// A classical envelope (type `0x30` or `0x32`) reached a recipient that refuses them
    /// (`Account::set_refuse_classical_envelopes`): a sender that did not use the published
    /// envelope key, or a relay that withheld it.
    #[error("classical envelope refused: this recipient accepts hybrid envelopes only")]
    ClassicalRefused,
}

impl OpenError {
    /// A stable, language-neutral name of this error, `"open.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            OpenError::Malformed(_) => "open.malformed",
            OpenError::NotForUs => "open.not_for_us",
            OpenError::NonContributory => "open.non_contributory",
            OpenError::Tampered => "open.tampered",
            OpenError::BadPadding(_) => "open.bad_padding",
            OpenError::MalformedContent(_) => "open.malformed_content",
            OpenError::SenderNotAuthenticated => "open.sender_not_authenticated",
            OpenError::SelfSend => "open.self_send",
            OpenError::Certificate(_) => "open.certificate",
            OpenError::UnknownEnvelopeKey { .. } => "open.unknown_envelope_key",
            OpenError::ClassicalRefused => "open.classical_refused",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OpenError::Malformed(e) | OpenError::MalformedContent(e) => e.kind(),
            OpenError::BadPadding(e) => e.kind(),
            OpenError::NotForUs
            | OpenError::NonContributory
            | OpenError::Tampered
            | OpenError::SenderNotAuthenticated => ErrorKind::Tampered,
            OpenError::Certificate(e) => e.kind(),
            OpenError::SelfSend | OpenError::UnknownEnvelopeKey { .. } => ErrorKind::UnknownSession,
            OpenError::ClassicalRefused => ErrorKind::Untrusted,
        }
    }
}

/// Length of the unpadded content for this metadata, certificate and message length.
pub fn content_len(
    metadata: &Metadata,
    certificate: &SenderCertificate,
    message_len: usize,
) -> usize {
    content::content_len(metadata, certificate.as_bytes().len(), message_len)
}

/// Length of the envelope [`seal`] produces (and of each envelope split from a
/// multi-recipient message) for this metadata, certificate and message length:
/// [`ENVELOPE_OVERHEAD`] plus the padded content.
pub fn envelope_len(
    metadata: &Metadata,
    certificate: &SenderCertificate,
    message_len: usize,
) -> usize {
    ENVELOPE_OVERHEAD + padded_len(content_len(metadata, certificate, message_len))
}

/// Length of the message [`seal_multi`] produces for `recipients` recipients:
/// [`MULTI_RECIPIENT_OVERHEAD`] plus [`RECIPIENT_HEADER_LEN`] per recipient plus the padded
/// content.
pub fn multi_recipient_len(
    metadata: &Metadata,
    certificate: &SenderCertificate,
    message_len: usize,
    recipients: usize,
) -> usize {
    MULTI_RECIPIENT_OVERHEAD
        + RECIPIENT_HEADER_LEN.saturating_mul(recipients)
        + padded_len(content_len(metadata, certificate, message_len))
}

/// Length of the hybrid envelope [`seal_hybrid`] produces (and of each envelope split from
/// a hybrid multi-recipient message): [`HYBRID_ENVELOPE_OVERHEAD`] plus the padded content.
pub fn hybrid_envelope_len(
    metadata: &Metadata,
    certificate: &SenderCertificate,
    message_len: usize,
) -> usize {
    HYBRID_ENVELOPE_OVERHEAD + padded_len(content_len(metadata, certificate, message_len))
}

/// Length of the message [`seal_multi_hybrid`] produces for `recipients` recipients:
/// [`MULTI_RECIPIENT_OVERHEAD`] plus [`HYBRID_RECIPIENT_HEADER_LEN`] per recipient plus the
/// padded content.
pub fn hybrid_multi_recipient_len(
    metadata: &Metadata,
    certificate: &SenderCertificate,
    message_len: usize,
    recipients: usize,
) -> usize {
    MULTI_RECIPIENT_OVERHEAD
        + HYBRID_RECIPIENT_HEADER_LEN.saturating_mul(recipients)
        + padded_len(content_len(metadata, certificate, message_len))
}

/// Refuses a message that is too long or a certificate that is not the sender's.
fn check_sender(
    sender: &IdentityKeyPair,
    certificate: &SenderCertificate,
    message: &[u8],
) -> Result<(), SealError> {
    if message.len() > MAX_SEALED_MESSAGE_LEN {
        return Err(SealError::MessageTooLarge {
            len: message.len(),
            max: MAX_SEALED_MESSAGE_LEN,
        });
    }
    if certificate.identity_key() != sender.public() {
        return Err(SealError::CertificateMismatch);
    }
    Ok(())
}

/// Seals `message` for `recipient` (type `0x30`). Draws 32 bytes (the ephemeral secret).
///
/// The certificate is not validated here (the sender may not hold a trust store); the
/// recipient validates it when opening.
///
/// # Errors
/// [`SealError::MessageTooLarge`] above [`MAX_SEALED_MESSAGE_LEN`];
/// [`SealError::CertificateMismatch`] if `certificate` is not for `sender`'s identity key.
pub fn seal<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    certificate: &SenderCertificate,
    recipient: &IdentityKey,
    metadata: &Metadata,
    message: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    check_sender(sender, certificate, message)?;
    let padded = content::encode_padded(metadata, certificate, message);
    envelope::seal(sender, recipient, &padded, rng)
}

/// Seals `message` once for every identity key in `recipients` (type `0x31`), for the relay
/// to split with [`MultiRecipientMessage::split`]. Draws 32 bytes (the message secret `M`).
///
/// # Errors
/// [`SealError::NoRecipients`], [`SealError::TooManyRecipients`] above [`MAX_RECIPIENTS`],
/// [`SealError::DuplicateRecipient`], and the errors of [`seal`].
pub fn seal_multi<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    certificate: &SenderCertificate,
    recipients: &[IdentityKey],
    metadata: &Metadata,
    message: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    check_sender(sender, certificate, message)?;
    multi::check_recipients(recipients)?;
    let padded = content::encode_padded(metadata, certificate, message);
    multi::seal(sender, recipients, &padded, rng)
}

/// Seals `message` for the owner of `key` (hybrid, type `0x33`): the sender stays hidden
/// from a quantum adversary too. Draws 32 bytes for the ML-KEM encapsulation, then 32 (the
/// ephemeral secret).
///
/// # Errors
/// As [`seal`]; [`SealError::BadEnvelopeKey`] if `key`'s signature does not verify or its
/// encapsulation key fails the FIPS 203 check (nothing is drawn then).
pub fn seal_hybrid<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    certificate: &SenderCertificate,
    key: &EnvelopeKeyPublic,
    metadata: &Metadata,
    message: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    check_sender(sender, certificate, message)?;
    if !key.verify() {
        return Err(SealError::BadEnvelopeKey { index: 0 });
    }
    let padded = content::encode_padded(metadata, certificate, message);
    envelope::seal_hybrid(sender, key, &padded, rng)
}

/// Seals `message` once for the owners of every key in `keys` (hybrid, type `0x34`), for the
/// relay to split with [`MultiRecipientMessage::split`] into type-`0x35` envelopes. Draws
/// 32 bytes per recipient (the encapsulations, in order), then 32 (the message secret).
///
/// # Errors
/// As [`seal_multi`]; [`SealError::BadEnvelopeKey`] with the recipient's index. Nothing is
/// drawn when an input is refused.
pub fn seal_multi_hybrid<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    certificate: &SenderCertificate,
    keys: &[&EnvelopeKeyPublic],
    metadata: &Metadata,
    message: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    check_sender(sender, certificate, message)?;
    let recipients: Vec<IdentityKey> = keys.iter().map(|k| *k.identity_key()).collect();
    multi::check_recipients(&recipients)?;
    if let Some(index) = keys.iter().position(|k| !k.verify()) {
        return Err(SealError::BadEnvelopeKey { index });
    }
    let padded = content::encode_padded(metadata, certificate, message);
    multi::seal_hybrid(sender, keys, &padded, rng)
}

/// How to seal to one recipient: the outcome of the per-recipient negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recipient<'a> {
    /// The recipient published no envelope key: classical envelopes (`0x30`, `0x31`).
    Classical(&'a IdentityKey),
    /// The recipient published this envelope key: hybrid envelopes (`0x33`, `0x34`).
    Hybrid(&'a EnvelopeKeyPublic),
}

impl<'a> Recipient<'a> {
    /// Hybrid when the recipient published an envelope key, classical otherwise
    /// (SPEC.md §13.8.4). A sender never chooses classical for a recipient whose key it has.
    ///
    /// # Errors
    /// [`SealError::EnvelopeKeyMismatch`] if `envelope_key` belongs to another identity;
    /// [`SealError::BadEnvelopeKey`] if its signature does not verify.
    pub fn negotiate(
        identity: &'a IdentityKey,
        envelope_key: Option<&'a EnvelopeKeyPublic>,
    ) -> Result<Self, SealError> {
        match envelope_key {
            None => Ok(Recipient::Classical(identity)),
            Some(key) if key.identity_key() != identity => Err(SealError::EnvelopeKeyMismatch),
            Some(key) if !key.verify() => Err(SealError::BadEnvelopeKey { index: 0 }),
            Some(key) => Ok(Recipient::Hybrid(key)),
        }
    }

    /// The recipient's identity key.
    pub fn identity_key(&self) -> &'a IdentityKey {
        match self {
            Recipient::Classical(identity) => identity,
            Recipient::Hybrid(key) => key.identity_key(),
        }
    }
}

/// Seals `message` for `recipient` as negotiated: [`seal_hybrid`] or [`seal`].
///
/// # Errors
/// Those of [`seal_hybrid`] or [`seal`].
pub fn seal_to<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    certificate: &SenderCertificate,
    recipient: &Recipient<'_>,
    metadata: &Metadata,
    message: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    match recipient {
        Recipient::Classical(identity) => {
            seal(sender, certificate, identity, metadata, message, rng)
        }
        Recipient::Hybrid(key) => seal_hybrid(sender, certificate, key, metadata, message, rng),
    }
}

/// The messages [`seal_multi_to`] produces for the relay: one hybrid multi-recipient message
/// for the recipients with an envelope key, one classical for the others.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct MultiSealed {
    /// Type `0x34`, for the hybrid recipients (in their order), if any.
    pub hybrid: Option<Vec<u8>>,
    /// Type `0x31`, for the classical recipients (in their order), if any.
    pub classical: Option<Vec<u8>>,
}

/// Seals `message` for every recipient as negotiated. The hybrid and the classical
/// recipients get separate messages, each with its own content encryption: a classical
/// header in the same message would expose the shared content key (and so the sender) to a
/// quantum adversary, defeating the hybrid headers (SPEC.md §13.8.3). Draws as
/// [`seal_multi_hybrid`], then as [`seal_multi`].
///
/// # Errors
/// As [`seal_multi`] and [`seal_multi_hybrid`] (indices are positions in `recipients`;
/// duplicates are detected across both groups). Nothing is drawn when an input is refused.
pub fn seal_multi_to<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    certificate: &SenderCertificate,
    recipients: &[Recipient<'_>],
    metadata: &Metadata,
    message: &[u8],
    rng: &mut R,
) -> Result<MultiSealed, SealError> {
    check_sender(sender, certificate, message)?;
    let all: Vec<IdentityKey> = recipients.iter().map(|r| *r.identity_key()).collect();
    multi::check_recipients(&all)?;
    let mut hybrid = Vec::new();
    let mut classical = Vec::new();
    for (index, recipient) in recipients.iter().enumerate() {
        match recipient {
            Recipient::Hybrid(key) if !key.verify() => {
                return Err(SealError::BadEnvelopeKey { index });
            }
            Recipient::Hybrid(key) => hybrid.push(*key),
            Recipient::Classical(identity) => classical.push(**identity),
        }
    }
    let padded = content::encode_padded(metadata, certificate, message);
    let hybrid = if hybrid.is_empty() {
        None
    } else {
        Some(
            multi::seal_hybrid(sender, &hybrid, &padded, rng).map_err(|e| match e {
                // Report the position in `recipients`, not among the hybrid ones.
                SealError::BadEnvelopeKey { index } => SealError::BadEnvelopeKey {
                    index: recipients
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| matches!(r, Recipient::Hybrid(_)))
                        .nth(index)
                        .map_or(index, |(i, _)| i),
                },
                other => other,
            })?,
        )
    };
    let classical = if classical.is_empty() {
        None
    } else {
        Some(multi::seal(sender, &classical, &padded, rng)?)
    };
    Ok(MultiSealed { hybrid, classical })
}

/// What a recipient opens envelopes with: its identity key pair, the envelope keys it holds
/// (current and retired within their grace window), and whether it refuses classical
/// envelopes. Built by `Account::recipient_keys`; [`RecipientKeys::classical`] for an
/// identity alone.
#[derive(Clone, Debug)]
pub struct RecipientKeys<'a> {
    identity: &'a IdentityKeyPair,
    envelope_keys: Vec<&'a EnvelopeKeyPair>,
    refuse_classical: bool,
}

impl<'a> RecipientKeys<'a> {
    /// An identity without envelope keys: opens classical envelopes only (as [`open`]).
    pub fn classical(identity: &'a IdentityKeyPair) -> Self {
        RecipientKeys {
            identity,
            envelope_keys: Vec::new(),
            refuse_classical: false,
        }
    }

    pub(crate) fn new(
        identity: &'a IdentityKeyPair,
        envelope_keys: Vec<&'a EnvelopeKeyPair>,
        refuse_classical: bool,
    ) -> Self {
        RecipientKeys {
            identity,
            envelope_keys,
            refuse_classical,
        }
    }

    /// Whether classical envelopes are refused.
    pub fn refuses_classical(&self) -> bool {
        self.refuse_classical
    }
}

/// Opens an envelope (type `0x30`, or `0x32` split from a multi-recipient message) addressed
/// to `recipient`, and validates the sender certificate against `trust` at `now`. Hybrid
/// envelopes need the envelope keys: [`open_with`].
///
/// # Errors
/// See [`OpenError`]; checks run in the order of SPEC.md §13.2.4 and §13.3.4. Nothing changes
/// on error (nothing changes on success either: opening is a pure function).
pub fn open(
    recipient: &IdentityKeyPair,
    envelope: &[u8],
    trust: &TrustStore,
    now: Timestamp,
) -> Result<Opened, OpenError> {
    open_with(&RecipientKeys::classical(recipient), envelope, trust, now)
}

/// Opens an envelope of any type a recipient receives (`0x30`, `0x32`, and the hybrid `0x33`,
/// `0x35`) with `keys`, and validates the sender certificate against `trust` at `now`.
///
/// # Errors
/// See [`OpenError`]; checks run in the order of SPEC.md §13.2.4, §13.3.4 and §13.8.5:
/// [`OpenError::ClassicalRefused`] for a classical envelope when `keys` refuses them,
/// [`OpenError::UnknownEnvelopeKey`] for a hybrid envelope naming a key not held. Opening is
/// a pure function: nothing changes, on error or success.
pub fn open_with(
    keys: &RecipientKeys<'_>,
    envelope: &[u8],
    trust: &TrustStore,
    now: Timestamp,
) -> Result<Opened, OpenError> {
    let recipient = keys.identity;
    let view = envelope::EnvelopeView::decode(envelope)?;
    if view.recipient() != recipient.public().as_bytes() {
        return Err(OpenError::NotForUs);
    }
    let kem = match view.kem() {
        None if keys.refuse_classical => return Err(OpenError::ClassicalRefused),
        None => None,
        Some(part) => Some(
            keys.envelope_keys
                .iter()
                .find(|k| k.id == part.key_id)
                .map(|k| &k.pair)
                .ok_or(OpenError::UnknownEnvelopeKey {
                    key_id: part.key_id,
                })?,
        ),
    };
    let hybrid = kem.is_some();
    let (content, kind) = match view.kind() {
        EnvelopeKind::Single => (envelope::open(recipient, kem, &view)?, EnvelopeKind::Single),
        _ => (
            multi::open(recipient, kem, &view)?,
            EnvelopeKind::MultiRecipient,
        ),
    };
    content.certificate.validate(trust, now)?;
    if content.certificate.identity_key() == recipient.public() {
        return Err(OpenError::SelfSend);
    }
    Ok(Opened {
        sender: content.certificate,
        metadata: content.metadata,
        message: content.message,
        kind,
        hybrid,
    })
}

/// The recipient an envelope (type `0x30`, `0x32`, `0x33` or `0x35`) is addressed to, for
/// routing.
///
/// # Errors
/// [`DecodeError`] if the envelope is malformed or the recipient is not a valid identity key
/// (`InvalidField("recipient")`).
pub fn envelope_recipient(envelope: &[u8]) -> Result<IdentityKey, DecodeError> {
    let view = envelope::EnvelopeView::decode(envelope)?;
    IdentityKey::from_bytes(view.recipient())
        .map_err(|_| DecodeError::InvalidField { field: "recipient" })
}
