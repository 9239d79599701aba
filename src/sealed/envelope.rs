//! The envelope layout shared by types `0x30` and `0x32`, and single-recipient sealing
//! (SPEC.md §13.2).
//!
//! `version(1) type(1) recipient(32) ephemeral(32) sender_part(48) ciphertext(padded+16)`,
//! where `sender_part` is the encrypted sender identity key (type `0x30`) or the wrapped
//! message key and authentication tag (type `0x32`).

use rand_core::CryptoRng;
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::content::{self, Content};
use super::padding::{is_padded_len, unpad};
use super::{
    ENVELOPE_OVERHEAD, ENVELOPE_PREFIX_LEN, EnvelopeKind, MAX_ENVELOPE_LEN, OpenError, SealError,
    kdf,
};
use crate::aead::{NONCE_LEN, TAG_LEN, open_into, seal_into};
use crate::error::DecodeError;
use crate::keys::{IdentityKey, IdentityKeyPair, dh_checked};
use crate::wire::{
    Reader, TYPE_RECIPIENT_ENVELOPE, TYPE_SEALED_ENVELOPE, WIRE_VERSION, expect_header_any,
};

/// Every AEAD key of a sealed envelope is used once, so the nonce is fixed at zero.
pub(crate) const ZERO_NONCE: [u8; NONCE_LEN] = [0u8; NONCE_LEN];
/// Length of `version || type || recipient || ephemeral`: the associated data of the
/// encrypted sender identity key.
pub(crate) const HEADER_LEN: usize = 2 + 32 + 32;
/// Length of the sender part (encrypted identity key, or wrapped key and tag).
pub(crate) const SENDER_PART_LEN: usize = 32 + TAG_LEN;

/// A decoded envelope of type `0x30` or `0x32`, borrowing the input.
pub(crate) struct EnvelopeView<'a> {
    bytes: &'a [u8],
    kind: EnvelopeKind,
    recipient: [u8; 32],
    ephemeral: [u8; 32],
    sender_part: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> EnvelopeView<'a> {
    /// Decodes strictly: version, type, size, fixed fields, and a ciphertext whose length is
    /// a padding bucket plus the tag.
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let found = expect_header_any(
            &mut r,
            bytes.len(),
            &[TYPE_SEALED_ENVELOPE, TYPE_RECIPIENT_ENVELOPE],
            MAX_ENVELOPE_LEN,
        )?;
        let kind = if found == TYPE_SEALED_ENVELOPE {
            EnvelopeKind::Single
        } else {
            EnvelopeKind::MultiRecipient
        };
        let recipient = r.array::<32>()?;
        let ephemeral = r.array::<32>()?;
        let sender_part = r.take(SENDER_PART_LEN)?;
        let ciphertext = r.rest();
        check_ciphertext_len(ciphertext.len())?;
        Ok(EnvelopeView {
            bytes,
            kind,
            recipient,
            ephemeral,
            sender_part,
            ciphertext,
        })
    }

    pub(crate) fn kind(&self) -> EnvelopeKind {
        self.kind
    }

    pub(crate) fn recipient(&self) -> &[u8; 32] {
        &self.recipient
    }

    pub(crate) fn ephemeral(&self) -> &[u8; 32] {
        &self.ephemeral
    }

    /// `version || type || recipient || ephemeral`.
    pub(crate) fn header(&self) -> &'a [u8] {
        self.bytes.get(..HEADER_LEN).unwrap_or_default()
    }

    /// Everything before the ciphertext.
    pub(crate) fn prefix(&self) -> &'a [u8] {
        self.bytes.get(..ENVELOPE_PREFIX_LEN).unwrap_or_default()
    }

    pub(crate) fn sender_part(&self) -> &'a [u8] {
        self.sender_part
    }

    pub(crate) fn ciphertext(&self) -> &'a [u8] {
        self.ciphertext
    }
}

/// A ciphertext must hold a padded content (a bucket length) and the tag.
pub(crate) fn check_ciphertext_len(len: usize) -> Result<(), DecodeError> {
    let Some(padded) = len.checked_sub(TAG_LEN) else {
        return Err(DecodeError::Truncated {
            needed: TAG_LEN - len,
        });
    };
    if is_padded_len(padded) {
        Ok(())
    } else {
        Err(DecodeError::InvalidField {
            field: "ciphertext_len",
        })
    }
}

/// Unpads and decodes a decrypted content.
pub(crate) fn decode_content(padded: &[u8]) -> Result<Content, OpenError> {
    let content = unpad(padded).map_err(OpenError::BadPadding)?;
    content::decode(content)
}

/// Single-recipient sealing of an already padded content.
pub(crate) fn seal<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    recipient: &IdentityKey,
    padded: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    let recipient_dh = recipient.dh_public().ok_or(SealError::NonContributory)?;
    let dh_static =
        dh_checked(sender.dh_secret(), &recipient_dh).ok_or(SealError::NonContributory)?;

    let ephemeral = StaticSecret::random_from_rng(rng);
    let ephemeral_public = XPublicKey::from(&ephemeral).to_bytes();
    let dh_ephemeral = dh_checked(&ephemeral, &recipient_dh).ok_or(SealError::NonContributory)?;
    let keys = kdf::ephemeral_keys(&dh_ephemeral, &ephemeral_public, recipient.as_bytes());

    let mut out = Vec::with_capacity(ENVELOPE_OVERHEAD + padded.len());
    out.push(WIRE_VERSION);
    out.push(TYPE_SEALED_ENVELOPE);
    out.extend_from_slice(recipient.as_bytes());
    out.extend_from_slice(&ephemeral_public);
    let header = out.clone();
    seal_into(
        &keys.static_key,
        &ZERO_NONCE,
        &header,
        sender.public().as_bytes(),
        &mut out,
    );
    let encrypted_static = out.get(HEADER_LEN..).unwrap_or_default().to_vec();
    let content_key = kdf::content_key(
        &keys.chain_key,
        &dh_static,
        &ephemeral_public,
        recipient.as_bytes(),
        &encrypted_static,
    );
    let prefix = out.clone();
    seal_into(&content_key, &ZERO_NONCE, &prefix, padded, &mut out);
    Ok(out)
}

/// Single-recipient opening up to the sender check; the caller validates the certificate.
pub(crate) fn open(
    recipient: &IdentityKeyPair,
    view: &EnvelopeView<'_>,
) -> Result<Content, OpenError> {
    let ephemeral = XPublicKey::from(*view.ephemeral());
    let dh_ephemeral =
        dh_checked(recipient.dh_secret(), &ephemeral).ok_or(OpenError::NonContributory)?;
    let keys = kdf::ephemeral_keys(&dh_ephemeral, view.ephemeral(), view.recipient());

    let mut sender_bytes = Zeroizing::new(Vec::with_capacity(32));
    if !open_into(
        &keys.static_key,
        &ZERO_NONCE,
        view.header(),
        view.sender_part(),
        &mut sender_bytes,
    ) {
        return Err(OpenError::Tampered);
    }
    let sender_array: [u8; 32] = sender_bytes
        .as_slice()
        .try_into()
        .map_err(|_| OpenError::Tampered)?;
    let sender = IdentityKey::from_bytes(&sender_array).map_err(|_| {
        OpenError::Malformed(DecodeError::InvalidField {
            field: "sender_identity",
        })
    })?;
    let dh_static = sender
        .dh_with(recipient.dh_secret())
        .ok_or(OpenError::NonContributory)?;
    let content_key = kdf::content_key(
        &keys.chain_key,
        &dh_static,
        view.ephemeral(),
        view.recipient(),
        view.sender_part(),
    );
    let mut padded = Zeroizing::new(Vec::with_capacity(view.ciphertext().len()));
    if !open_into(
        &content_key,
        &ZERO_NONCE,
        view.prefix(),
        view.ciphertext(),
        &mut padded,
    ) {
        return Err(OpenError::Tampered);
    }
    let content = decode_content(&padded)?;
    if content.certificate.identity_key() != &sender {
        return Err(OpenError::SenderNotAuthenticated);
    }
    Ok(content)
}
