//! Multi-recipient sealing, splitting by the relay, and opening a split envelope
//! (SPEC.md §13.3).
//!
//! Multi-recipient message (type `0x31`):
//! `version(1) type(1) ephemeral(32) count(2) [recipient(32) wrapped(32) tag(16)]*count
//! ciphertext(padded+16)`.
//! Per-recipient envelope (type `0x32`), what the relay delivers:
//! `version(1) type(1) recipient(32) ephemeral(32) wrapped(32) tag(16) ciphertext`.

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
    ENVELOPE_PREFIX_LEN, MAX_MULTI_RECIPIENT_LEN, MAX_RECIPIENTS, MULTI_RECIPIENT_OVERHEAD,
    OpenError, RECIPIENT_HEADER_LEN, SealError,
};
use crate::aead::{open_into, seal_into};
use crate::error::DecodeError;
use crate::keys::{IdentityKey, IdentityKeyPair, dh_checked};
use crate::wire::{
    Reader, TYPE_MULTI_RECIPIENT, TYPE_RECIPIENT_ENVELOPE, WIRE_VERSION, expect_header,
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

/// Multi-recipient sealing of an already padded content.
pub(crate) fn seal<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    recipients: &[IdentityKey],
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

    let mut out = Vec::with_capacity(
        MULTI_RECIPIENT_OVERHEAD + RECIPIENT_HEADER_LEN * recipients.len() + padded.len(),
    );
    out.push(WIRE_VERSION);
    out.push(TYPE_MULTI_RECIPIENT);
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(&count.to_be_bytes());
    for (recipient, dh_static) in recipients.iter().zip(&static_dh) {
        let dh_ephemeral = recipient
            .dh_with(&ephemeral)
            .ok_or(SealError::NonContributory)?;
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
        out.extend_from_slice(recipient.as_bytes());
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(&tag);
    }
    out.extend_from_slice(&body);
    Ok(out)
}

/// A decoded multi-recipient message (type `0x31`), borrowing the input: what the relay
/// parses to deliver each recipient its envelope. It learns the recipients (which it needs
/// to route) and the padded size, nothing else.
#[derive(Clone)]
pub struct MultiRecipientMessage<'a> {
    ephemeral: [u8; 32],
    recipients: Vec<IdentityKey>,
    headers: &'a [u8],
    ciphertext: &'a [u8],
}

impl fmt::Debug for MultiRecipientMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiRecipientMessage")
            .field("recipients", &self.recipients.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl<'a> MultiRecipientMessage<'a> {
    /// Decodes strictly: version, type, size, a recipient count of 1 to [`MAX_RECIPIENTS`],
    /// valid and distinct recipient identity keys, and a ciphertext whose length is a padding
    /// bucket plus the tag.
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation: `InvalidField("recipient_count")`,
    /// `InvalidField("recipient")` (invalid or repeated key), `InvalidField("ciphertext_len")`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(
            &mut r,
            bytes.len(),
            TYPE_MULTI_RECIPIENT,
            MAX_MULTI_RECIPIENT_LEN,
        )?;
        let ephemeral = r.array::<32>()?;
        let count = usize::from(u16::from_be_bytes(r.array::<2>()?));
        if count == 0 || count > MAX_RECIPIENTS {
            return Err(DecodeError::InvalidField {
                field: "recipient_count",
            });
        }
        let headers = r.take(count * RECIPIENT_HEADER_LEN)?;
        let ciphertext = r.rest();
        check_ciphertext_len(ciphertext.len())?;
        let mut seen = BTreeSet::new();
        let mut recipients = Vec::with_capacity(count);
        for header in headers.chunks_exact(RECIPIENT_HEADER_LEN) {
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

    /// The envelope (type `0x32`) for the recipient at `index`.
    pub fn envelope(&self, index: usize) -> Option<Vec<u8>> {
        let start = index.checked_mul(RECIPIENT_HEADER_LEN)?;
        let header = self
            .headers
            .get(start..start.checked_add(RECIPIENT_HEADER_LEN)?)?;
        let (recipient, rest) = header.split_at_checked(32)?;
        let mut out = Vec::with_capacity(ENVELOPE_PREFIX_LEN + self.ciphertext.len());
        out.push(WIRE_VERSION);
        out.push(TYPE_RECIPIENT_ENVELOPE);
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

/// Opens a per-recipient envelope up to the sender check; the caller validates the
/// certificate.
pub(crate) fn open(
    recipient: &IdentityKeyPair,
    view: &EnvelopeView<'_>,
) -> Result<Content, OpenError> {
    let (wrapped, tag) = view
        .sender_part()
        .split_first_chunk::<32>()
        .ok_or(OpenError::Tampered)?;
    let ephemeral_point = XPublicKey::from(*view.ephemeral());
    let dh_ephemeral =
        dh_checked(recipient.dh_secret(), &ephemeral_point).ok_or(OpenError::NonContributory)?;
    let wrap = kdf::wrap_key(&dh_ephemeral, view.ephemeral(), view.recipient());
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
    let expected = kdf::auth_tag(
        &dh_static,
        view.ephemeral(),
        view.recipient(),
        wrapped,
        sender.as_bytes(),
        &body_digest,
    );
    if tag.len() != AUTH_TAG_LEN || !bool::from(expected.ct_eq(tag)) {
        return Err(OpenError::SenderNotAuthenticated);
    }
    Ok(content)
}
