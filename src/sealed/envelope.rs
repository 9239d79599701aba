//! The envelope layout shared by types `0x30`, `0x32`, `0x33` and `0x35`, and
//! single-recipient sealing (SPEC.md §13.2, §13.8).
//!
//! `version(1) type(1) recipient(32) ephemeral(32) [key_id(4) kem_ciphertext(1088)]
//! sender_part(48) ciphertext(padded+16)`, where the bracketed KEM part is present in the
//! hybrid types (`0x33`, `0x35`) only, and `sender_part` is the encrypted sender identity key
//! (types `0x30`, `0x33`) or the wrapped message key and authentication tag (`0x32`, `0x35`).

use rand_core::CryptoRng;
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::EnvelopeKeyPublic;
use super::content::{self, Content};
use super::padding::{is_padded_len, unpad};
use super::{
    ENVELOPE_OVERHEAD, ENVELOPE_PREFIX_LEN, EnvelopeKind, HYBRID_ENVELOPE_PREFIX_LEN,
    MAX_ENVELOPE_LEN, MAX_HYBRID_ENVELOPE_LEN, OpenError, SealError, kdf,
};
use crate::aead::{NONCE_LEN, TAG_LEN, open_into, seal_into};
use crate::error::DecodeError;
use crate::keys::secret::SharedSecret;
use crate::keys::{
    IdentityKey, IdentityKeyPair, KEM_CIPHERTEXT_LEN, KemKeyPair, dh_checked, kem_encapsulate,
};
use crate::wire::{
    Reader, TYPE_HYBRID_ENVELOPE, TYPE_HYBRID_RECIPIENT_ENVELOPE, TYPE_RECIPIENT_ENVELOPE,
    TYPE_SEALED_ENVELOPE, WIRE_VERSION, expect_header_any,
};

/// Every AEAD key of a sealed envelope is used once, so the nonce is fixed at zero.
pub(crate) const ZERO_NONCE: [u8; NONCE_LEN] = [0u8; NONCE_LEN];
/// Length of `version || type || recipient || ephemeral`: the associated data of the
/// encrypted sender identity key.
pub(crate) const HEADER_LEN: usize = 2 + 32 + 32;
/// Length of the sender part (encrypted identity key, or wrapped key and tag).
pub(crate) const SENDER_PART_LEN: usize = 32 + TAG_LEN;

/// Length of the hybrid header, `version || type || recipient || ephemeral || key_id ||
/// kem_ciphertext`: the associated data of the encrypted sender identity key of type `0x33`.
pub(crate) const HYBRID_HEADER_LEN: usize = HEADER_LEN + 4 + KEM_CIPHERTEXT_LEN;

/// The KEM part of a hybrid envelope: which envelope key of the recipient it was
/// encapsulated to, and the ML-KEM-768 ciphertext.
pub(crate) struct KemPart<'a> {
    pub(crate) key_id: u32,
    pub(crate) ciphertext: &'a [u8; KEM_CIPHERTEXT_LEN],
}

/// A decoded envelope of type `0x30`, `0x32`, `0x33` or `0x35`, borrowing the input.
pub(crate) struct EnvelopeView<'a> {
    bytes: &'a [u8],
    kind: EnvelopeKind,
    recipient: [u8; 32],
    ephemeral: [u8; 32],
    kem: Option<KemPart<'a>>,
    sender_part: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> EnvelopeView<'a> {
    /// Decodes strictly: version, type, size (each type against its own maximum), fixed
    /// fields, and a ciphertext whose length is a padding bucket plus the tag.
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let found = expect_header_any(
            &mut r,
            bytes.len(),
            &[
                TYPE_SEALED_ENVELOPE,
                TYPE_RECIPIENT_ENVELOPE,
                TYPE_HYBRID_ENVELOPE,
                TYPE_HYBRID_RECIPIENT_ENVELOPE,
            ],
            MAX_HYBRID_ENVELOPE_LEN,
        )?;
        let hybrid = found == TYPE_HYBRID_ENVELOPE || found == TYPE_HYBRID_RECIPIENT_ENVELOPE;
        if !hybrid && bytes.len() > MAX_ENVELOPE_LEN {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_ENVELOPE_LEN,
            });
        }
        let kind = if found == TYPE_SEALED_ENVELOPE || found == TYPE_HYBRID_ENVELOPE {
            EnvelopeKind::Single
        } else {
            EnvelopeKind::MultiRecipient
        };
        let recipient = r.array::<32>()?;
        let ephemeral = r.array::<32>()?;
        let kem = if hybrid {
            let key_id = u32::from_be_bytes(r.array::<4>()?);
            let ciphertext = r.array_ref::<KEM_CIPHERTEXT_LEN>()?;
            Some(KemPart { key_id, ciphertext })
        } else {
            None
        };
        let sender_part = r.take(SENDER_PART_LEN)?;
        let ciphertext = r.rest();
        check_ciphertext_len(ciphertext.len())?;
        Ok(EnvelopeView {
            bytes,
            kind,
            recipient,
            ephemeral,
            kem,
            sender_part,
            ciphertext,
        })
    }

    pub(crate) fn kind(&self) -> EnvelopeKind {
        self.kind
    }

    /// The KEM part of a hybrid envelope (`None` for the classical types).
    pub(crate) fn kem(&self) -> Option<&KemPart<'a>> {
        self.kem.as_ref()
    }

    pub(crate) fn recipient(&self) -> &[u8; 32] {
        &self.recipient
    }

    pub(crate) fn ephemeral(&self) -> &[u8; 32] {
        &self.ephemeral
    }

    /// `version || type || recipient || ephemeral`, and `key_id || kem_ciphertext` in a
    /// hybrid envelope.
    pub(crate) fn header(&self) -> &'a [u8] {
        let len = if self.kem.is_some() {
            HYBRID_HEADER_LEN
        } else {
            HEADER_LEN
        };
        self.bytes.get(..len).unwrap_or_default()
    }

    /// Everything before the ciphertext.
    pub(crate) fn prefix(&self) -> &'a [u8] {
        let len = if self.kem.is_some() {
            HYBRID_ENVELOPE_PREFIX_LEN
        } else {
            ENVELOPE_PREFIX_LEN
        };
        self.bytes.get(..len).unwrap_or_default()
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

/// Single-recipient sealing of an already padded content (type `0x30`).
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
    seal_sender_and_content(
        sender,
        out,
        &keys,
        &dh_static,
        &ephemeral_public,
        recipient,
        padded,
    )
}

/// Single-recipient hybrid sealing of an already padded content (type `0x33`), to a
/// verified envelope key. Draws the ML-KEM encapsulation (32 bytes) first, then the
/// ephemeral secret (32 bytes).
pub(crate) fn seal_hybrid<R: CryptoRng + ?Sized>(
    sender: &IdentityKeyPair,
    key: &EnvelopeKeyPublic,
    padded: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    let recipient = key.identity_key();
    let recipient_dh = recipient.dh_public().ok_or(SealError::NonContributory)?;
    let dh_static =
        dh_checked(sender.dh_secret(), &recipient_dh).ok_or(SealError::NonContributory)?;
    let (kem_ciphertext, kem_secret) = kem_encapsulate(key.encapsulation_key(), rng)
        .map_err(|_| SealError::BadEnvelopeKey { index: 0 })?;

    let ephemeral = StaticSecret::random_from_rng(rng);
    let ephemeral_public = XPublicKey::from(&ephemeral).to_bytes();
    let dh_ephemeral = dh_checked(&ephemeral, &recipient_dh).ok_or(SealError::NonContributory)?;
    let keys = kdf::hybrid_keys(
        &dh_ephemeral,
        &kem_secret,
        &ephemeral_public,
        recipient.as_bytes(),
        key.key_id(),
        &kdf::key_digest(key.encapsulation_key()),
        &kem_ciphertext,
    );

    let mut out = Vec::with_capacity(HYBRID_ENVELOPE_PREFIX_LEN + TAG_LEN + padded.len());
    out.push(WIRE_VERSION);
    out.push(TYPE_HYBRID_ENVELOPE);
    out.extend_from_slice(recipient.as_bytes());
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(&key.key_id().to_be_bytes());
    out.extend_from_slice(&kem_ciphertext);
    seal_sender_and_content(
        sender,
        out,
        &keys,
        &dh_static,
        &ephemeral_public,
        recipient,
        padded,
    )
}

/// Appends the encrypted sender identity key (under the header `out` holds) and the
/// encrypted content: the static stage, the same for both single-recipient types.
fn seal_sender_and_content(
    sender: &IdentityKeyPair,
    mut out: Vec<u8>,
    keys: &kdf::EphemeralKeys,
    dh_static: &SharedSecret,
    ephemeral_public: &[u8; 32],
    recipient: &IdentityKey,
    padded: &[u8],
) -> Result<Vec<u8>, SealError> {
    let header_len = out.len();
    let header = out.clone();
    seal_into(
        &keys.static_key,
        &ZERO_NONCE,
        &header,
        sender.public().as_bytes(),
        &mut out,
    );
    let encrypted_static = out.get(header_len..).unwrap_or_default().to_vec();
    let content_key = kdf::content_key(
        &keys.chain_key,
        dh_static,
        ephemeral_public,
        recipient.as_bytes(),
        &encrypted_static,
    );
    let prefix = out.clone();
    seal_into(&content_key, &ZERO_NONCE, &prefix, padded, &mut out);
    Ok(out)
}

/// Single-recipient opening (types `0x30` and `0x33`) up to the sender check; the caller
/// validates the certificate. `kem` is the envelope key pair a hybrid envelope names (the
/// caller found it by id).
pub(crate) fn open(
    recipient: &IdentityKeyPair,
    kem: Option<&KemKeyPair>,
    view: &EnvelopeView<'_>,
) -> Result<Content, OpenError> {
    let ephemeral = XPublicKey::from(*view.ephemeral());
    let dh_ephemeral =
        dh_checked(recipient.dh_secret(), &ephemeral).ok_or(OpenError::NonContributory)?;
    let keys = match (view.kem(), kem) {
        (None, _) => kdf::ephemeral_keys(&dh_ephemeral, view.ephemeral(), view.recipient()),
        (Some(part), Some(pair)) => {
            let kem_secret = pair.decapsulate(part.ciphertext);
            kdf::hybrid_keys(
                &dh_ephemeral,
                &kem_secret,
                view.ephemeral(),
                view.recipient(),
                part.key_id,
                &kdf::key_digest(pair.public()),
                part.ciphertext,
            )
        }
        (Some(part), None) => {
            return Err(OpenError::UnknownEnvelopeKey {
                key_id: part.key_id,
            });
        }
    };

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
