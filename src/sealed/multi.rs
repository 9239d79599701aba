//! Multi-recipient sealing, splitting by the relay, and opening a split envelope
//! (SPEC.md §13.3).
//!
//! Multi-recipient message (type `0x31`):
//! `version(1) type(1) ephemeral(32) count(2) [recipient(32) wrapped(32) tag(16)]*count
//! ciphertext(padded+16)`.
//! Per-recipient envelope (type `0x32`), what the relay delivers:
//! `version(1) type(1) recipient(32) ephemeral(32) wrapped(32) tag(16) ciphertext`.
//!
//! The hybrid forms (types `0x34` and `0x35`, SPEC.md §13.8.3) add `key_id(4)
//! kem_ciphertext(1088)` after each recipient key (and after the ephemeral key in the
//! per-recipient envelope); the body is encrypted exactly as in the classical form.

use core::fmt;
use std::collections::BTreeSet;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x25519_dalek::PublicKey as XPublicKey;
use zeroize::Zeroizing;

use super::content::Content;
use super::envelope::{EnvelopeView, ZERO_NONCE, check_ciphertext_len, decode_content};
use super::kdf::{self, AUTH_TAG_LEN};
use super::{
    ENVELOPE_PREFIX_LEN, EnvelopeKeyPublic, HYBRID_RECIPIENT_HEADER_LEN,
    MAX_HYBRID_MULTI_RECIPIENT_LEN, MAX_MULTI_RECIPIENT_LEN, MAX_RECIPIENTS,
    MULTI_RECIPIENT_OVERHEAD, OpenError, RECIPIENT_HEADER_LEN, SealError,
};
use crate::aead::{open_into, seal_into};
use crate::error::DecodeError;
use crate::keys::secret::SharedSecret;
use crate::keys::{
    IdentityKey, IdentityKeyPair, KEM_CIPHERTEXT_LEN, KemKeyPair, dh_checked, kem_encapsulate,
    kem_key_is_valid,
};
use crate::wire::{
    Reader, TYPE_HYBRID_MULTI_RECIPIENT, TYPE_HYBRID_RECIPIENT_ENVELOPE, TYPE_MULTI_RECIPIENT,
    TYPE_RECIPIENT_ENVELOPE, WIRE_VERSION, expect_header_any,
};

/// The body's associated data: `version || ephemeral`.
fn body_ad(ephemeral: &[u8; 32]) -> [u8; 33] {
    let mut ad = [0u8; 33];
    let (version, rest) = ad.split_at_mut(1);
    version.copy_from_slice(&[WIRE_VERSION]);
    rest.copy_from_slice(ephemeral);
    ad
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

/// Refuses an empty, oversize or repeating recipient list.
pub(crate) fn check_recipients(recipients: &[IdentityKey]) -> Result<(), SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(SealError::TooManyRecipients {
            count: recipients.len(),
            max: MAX_RECIPIENTS,
        });
    }
    let mut seen = BTreeSet::new();
    for (index, recipient) in recipients.iter().enumerate() {
        if !seen.insert(recipient.as_bytes()) {
            return Err(SealError::DuplicateRecipient { index });
        }
    }
    Ok(())
}

/// One recipient's KEM part in a hybrid message: key id, ciphertext and shared secret, and
/// the digest of the encapsulation key.
struct Encapsulated {
    key_id: u32,
    key_digest: [u8; 32],
    ciphertext: [u8; KEM_CIPHERTEXT_LEN],
    secret: SharedSecret,
}

/// Multi-recipient sealing of an already padded content (type `0x31`).
pub(crate) fn seal<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    recipients: &[IdentityKey],
    padded: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    seal_any(sender, recipients, None, padded, rng)
}

/// Hybrid multi-recipient sealing of an already padded content (type `0x34`) to verified
/// envelope keys. Draws one ML-KEM encapsulation per recipient (32 bytes each, in order),
/// then the message secret `M`.
pub(crate) fn seal_hybrid<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    keys: &[&EnvelopeKeyPublic],
    padded: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    let recipients: Vec<IdentityKey> = keys.iter().map(|k| *k.identity_key()).collect();
    check_recipients(&recipients)?;
    // Every key is checked before the first draw: nothing is drawn for a refused input.
    if let Some(index) = keys
        .iter()
        .position(|k| !kem_key_is_valid(k.encapsulation_key()))
    {
        return Err(SealError::BadEnvelopeKey { index });
    }
    let mut encapsulated = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        let (ciphertext, secret) = kem_encapsulate(key.encapsulation_key(), rng)
            .map_err(|_| SealError::BadEnvelopeKey { index })?;
        encapsulated.push(Encapsulated {
            key_id: key.key_id(),
            key_digest: kdf::key_digest(key.encapsulation_key()),
            ciphertext,
            secret,
        });
    }
    seal_any(sender, &recipients, Some(&encapsulated), padded, rng)
}

/// Both forms: `kem` holds each recipient's KEM part for the hybrid form.
fn seal_any<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    recipients: &[IdentityKey],
    kem: Option<&[Encapsulated]>,
    padded: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    check_recipients(recipients)?;
    // Fails only past MAX_RECIPIENTS, refused above.
    let count = u16::try_from(recipients.len()).map_err(|_| SealError::TooManyRecipients {
        count: recipients.len(),
        max: MAX_RECIPIENTS,
    })?;
    let static_dh = recipients
        .iter()
        .map(|r| {
            r.dh_with(sender.dh_secret())
                .ok_or(SealError::NonContributory)
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut message_key = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(message_key.as_mut());
    let (ephemeral, body_key) = kdf::multi_keys(&message_key);
    let ephemeral_public = XPublicKey::from(&ephemeral).to_bytes();

    let mut body = Vec::with_capacity(padded.len() + crate::aead::TAG_LEN);
    seal_into(
        &body_key,
        &ZERO_NONCE,
        &body_ad(&ephemeral_public),
        padded,
        &mut body,
    );
    let body_digest: [u8; 32] = Sha256::digest(&body).into();

    let (message_type, header_len) = match kem {
        Some(_) => (TYPE_HYBRID_MULTI_RECIPIENT, HYBRID_RECIPIENT_HEADER_LEN),
        None => (TYPE_MULTI_RECIPIENT, RECIPIENT_HEADER_LEN),
    };
    let mut out =
        Vec::with_capacity(MULTI_RECIPIENT_OVERHEAD + header_len * recipients.len() + padded.len());
    out.push(WIRE_VERSION);
    out.push(message_type);
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(&count.to_be_bytes());
    for (i, (recipient, dh_static)) in recipients.iter().zip(&static_dh).enumerate() {
        let dh_ephemeral = recipient
            .dh_with(&ephemeral)
            .ok_or(SealError::NonContributory)?;
        let part = kem.and_then(|k| k.get(i));
        let (wrapped, tag) = match part {
            None => {
                let wrap = kdf::wrap_key(&dh_ephemeral, &ephemeral_public, recipient.as_bytes());
                let wrapped = xor32(&message_key, &wrap);
                let tag = kdf::auth_tag(
                    dh_static,
                    &ephemeral_public,
                    recipient.as_bytes(),
                    &wrapped,
                    sender.public().as_bytes(),
                    &body_digest,
                );
                (wrapped, tag)
            }
            Some(part) => {
                let wrap = kdf::hybrid_wrap_key(
                    &dh_ephemeral,
                    &part.secret,
                    &ephemeral_public,
                    recipient.as_bytes(),
                    part.key_id,
                    &part.key_digest,
                    &part.ciphertext,
                );
                let wrapped = xor32(&message_key, &wrap);
                let tag = kdf::hybrid_auth_tag(
                    dh_static,
                    &ephemeral_public,
                    recipient.as_bytes(),
                    part.key_id,
                    &part.ciphertext,
                    &wrapped,
                    sender.public().as_bytes(),
                    &body_digest,
                );
                (wrapped, tag)
            }
        };
        out.extend_from_slice(recipient.as_bytes());
        if let Some(part) = part {
            out.extend_from_slice(&part.key_id.to_be_bytes());
            out.extend_from_slice(&part.ciphertext);
        }
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(&tag);
    }
    out.extend_from_slice(&body);
    Ok(out)
}

/// A decoded multi-recipient message (type `0x31`, or the hybrid `0x34`), borrowing the
/// input: what the relay parses to deliver each recipient its envelope. It learns the
/// recipients (which it needs to route), the padded size and whether the message is hybrid,
/// nothing else.
#[derive(Clone)]
pub struct MultiRecipientMessage<'a> {
    hybrid: bool,
    ephemeral: [u8; 32],
    recipients: Vec<IdentityKey>,
    headers: &'a [u8],
    ciphertext: &'a [u8],
}

impl fmt::Debug for MultiRecipientMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiRecipientMessage")
            .field("hybrid", &self.hybrid)
            .field("recipients", &self.recipients.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl<'a> MultiRecipientMessage<'a> {
    /// Decodes strictly: version, type (`0x31` or `0x34`), size (each type against its own
    /// maximum), a recipient count of 1 to [`MAX_RECIPIENTS`], valid and distinct recipient
    /// identity keys, and a ciphertext whose length is a padding bucket plus the tag.
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation: `InvalidField("recipient_count")`,
    /// `InvalidField("recipient")` (invalid or repeated key), `InvalidField("ciphertext_len")`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let found = expect_header_any(
            &mut r,
            bytes.len(),
            &[TYPE_MULTI_RECIPIENT, TYPE_HYBRID_MULTI_RECIPIENT],
            MAX_HYBRID_MULTI_RECIPIENT_LEN,
        )?;
        let hybrid = found == TYPE_HYBRID_MULTI_RECIPIENT;
        if !hybrid && bytes.len() > MAX_MULTI_RECIPIENT_LEN {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_MULTI_RECIPIENT_LEN,
            });
        }
        let header_len = if hybrid {
            HYBRID_RECIPIENT_HEADER_LEN
        } else {
            RECIPIENT_HEADER_LEN
        };
        let ephemeral = r.array::<32>()?;
        let count = usize::from(u16::from_be_bytes(r.array::<2>()?));
        if count == 0 || count > MAX_RECIPIENTS {
            return Err(DecodeError::InvalidField {
                field: "recipient_count",
            });
        }
        let headers = r.take(count * header_len)?;
        let ciphertext = r.rest();
        check_ciphertext_len(ciphertext.len())?;
        let mut seen = BTreeSet::new();
        let mut recipients = Vec::with_capacity(count);
        for header in headers.chunks_exact(header_len) {
            let key: [u8; 32] = header
                .get(..32)
                .and_then(|k| k.try_into().ok())
                .ok_or(DecodeError::InvalidField { field: "recipient" })?;
            if !seen.insert(key) {
                return Err(DecodeError::InvalidField { field: "recipient" });
            }
            recipients.push(
                IdentityKey::from_bytes(&key)
                    .map_err(|_| DecodeError::InvalidField { field: "recipient" })?,
            );
        }
        Ok(MultiRecipientMessage {
            hybrid,
            ephemeral,
            recipients,
            headers,
            ciphertext,
        })
    }

    /// The recipients, in the order the sender listed them.
    pub fn recipients(&self) -> &[IdentityKey] {
        &self.recipients
    }

    /// Whether the message is hybrid (type `0x34`): its envelopes are then of type `0x35`.
    pub fn is_hybrid(&self) -> bool {
        self.hybrid
    }

    /// The envelope (type `0x32`, or `0x35` for a hybrid message) for the recipient at
    /// `index`.
    pub fn envelope(&self, index: usize) -> Option<Vec<u8>> {
        let (header_len, envelope_type) = if self.hybrid {
            (HYBRID_RECIPIENT_HEADER_LEN, TYPE_HYBRID_RECIPIENT_ENVELOPE)
        } else {
            (RECIPIENT_HEADER_LEN, TYPE_RECIPIENT_ENVELOPE)
        };
        let start = index.checked_mul(header_len)?;
        let header = self.headers.get(start..start.checked_add(header_len)?)?;
        let (recipient, rest) = header.split_at_checked(32)?;
        let mut out = Vec::with_capacity(ENVELOPE_PREFIX_LEN + header_len + self.ciphertext.len());
        out.push(WIRE_VERSION);
        out.push(envelope_type);
        out.extend_from_slice(recipient);
        out.extend_from_slice(&self.ephemeral);
        out.extend_from_slice(rest);
        out.extend_from_slice(self.ciphertext);
        Some(out)
    }

    /// The envelope for `recipient`, if it is one of the recipients.
    pub fn envelope_for(&self, recipient: &IdentityKey) -> Option<Vec<u8>> {
        let index = self.recipients.iter().position(|r| r == recipient)?;
        self.envelope(index)
    }

    /// Every recipient with its envelope, in order.
    pub fn split(&self) -> Vec<(IdentityKey, Vec<u8>)> {
        self.recipients
            .iter()
            .enumerate()
            .filter_map(|(i, r)| self.envelope(i).map(|e| (*r, e)))
            .collect()
    }
}

/// Opens a per-recipient envelope (type `0x32` or `0x35`) up to the sender check; the caller
/// validates the certificate. `kem` is the envelope key pair a hybrid envelope names.
pub(crate) fn open(
    recipient: &IdentityKeyPair,
    kem: Option<&KemKeyPair>,
    view: &EnvelopeView<'_>,
) -> Result<Content, OpenError> {
    let (wrapped, tag) = view
        .sender_part()
        .split_first_chunk::<32>()
        .ok_or(OpenError::Tampered)?;
    let ephemeral_point = XPublicKey::from(*view.ephemeral());
    let dh_ephemeral =
        dh_checked(recipient.dh_secret(), &ephemeral_point).ok_or(OpenError::NonContributory)?;
    let wrap = match (view.kem(), kem) {
        (None, _) => kdf::wrap_key(&dh_ephemeral, view.ephemeral(), view.recipient()),
        (Some(part), Some(pair)) => kdf::hybrid_wrap_key(
            &dh_ephemeral,
            &pair.decapsulate(part.ciphertext),
            view.ephemeral(),
            view.recipient(),
            part.key_id,
            &kdf::key_digest(pair.public()),
            part.ciphertext,
        ),
        (Some(part), None) => {
            return Err(OpenError::UnknownEnvelopeKey {
                key_id: part.key_id,
            });
        }
    };
    let message_key = Zeroizing::new(xor32(wrapped, &wrap));
    let (ephemeral, body_key) = kdf::multi_keys(&message_key);
    let derived = XPublicKey::from(&ephemeral);
    if !bool::from(derived.as_bytes().ct_eq(view.ephemeral())) {
        return Err(OpenError::Tampered);
    }
    let mut padded = Zeroizing::new(Vec::with_capacity(view.ciphertext().len()));
    if !open_into(
        &body_key,
        &ZERO_NONCE,
        &body_ad(view.ephemeral()),
        view.ciphertext(),
        &mut padded,
    ) {
        return Err(OpenError::Tampered);
    }
    let content = decode_content(&padded)?;
    let sender = content.certificate.identity_key();
    let dh_static = sender
        .dh_with(recipient.dh_secret())
        .ok_or(OpenError::NonContributory)?;
    let body_digest: [u8; 32] = Sha256::digest(view.ciphertext()).into();
    let expected = match view.kem() {
        None => kdf::auth_tag(
            &dh_static,
            view.ephemeral(),
            view.recipient(),
            wrapped,
            sender.as_bytes(),
            &body_digest,
        ),
        Some(part) => kdf::hybrid_auth_tag(
            &dh_static,
            view.ephemeral(),
            view.recipient(),
            part.key_id,
            part.ciphertext,
            wrapped,
            sender.as_bytes(),
            &body_digest,
        ),
    };
    if tag.len() != AUTH_TAG_LEN || !bool::from(expected.ct_eq(tag)) {
        return Err(OpenError::SenderNotAuthenticated);
    }
    Ok(content)
}
