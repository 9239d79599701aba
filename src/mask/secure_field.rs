//! Secure fields (SPEC.md §17.5): the raw value goes to a payment vault in a sealed envelope,
//! the operator gets only its masked form and a reference, so an operator can take a payment
//! without ever holding the card number.
//!
//! The customer's device calls [`SecureField::seal`] with the value (for example the text of
//! a card [`super::Span`]) and the vault's identity key. It gets two things:
//!
//! - the operator's copy, a [`MaskedField`] (type `0x70`): kind, policy, a random 16-byte
//!   reference, a commitment to the value and the masked form. It goes to the operator inside
//!   an ordinary end-to-end encrypted message;
//! - a sealed envelope (type `0x30`, content type [`SECURE_FIELD_CONTENT_TYPE`]) for the
//!   vault, holding the value, the same reference and the secret blinding of the commitment.
//!
//! The vault opens its envelope with [`VaultedField::open`] and, when the operator asks it to
//! charge "reference R", checks the operator's copy with [`VaultedField::verify`]: same
//! reference, kind and policy, a commitment that opens to the vaulted value, and the masked
//! form the operator was shown. The commitment is hiding (SHA-256 over a 32-byte random
//! blinding only the vault receives), so the masked form and commitment together do not let
//! the operator search the few million card numbers that end in the same four digits.
//!
//! This is the only file of the masking module that uses the sealed-envelope layer.

use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::detector::SensitiveKind;
use super::error::SecureFieldError;
use super::policy::Policy;
use crate::certificate::{SenderCertificate, TrustStore};
use crate::error::DecodeError;
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::labels::LABEL_SECURE_FIELD_COMMITMENT;
use crate::sealed::{self, ContentType, Metadata};
use crate::time::Timestamp;
use crate::wire::{
    Reader, TYPE_SECURE_FIELD_MASKED, TYPE_SECURE_FIELD_VALUE, WIRE_VERSION, expect_header,
};

/// Longest value a secure field carries, in bytes of UTF-8.
pub const MAX_SECURE_FIELD_VALUE_LEN: usize = 256;
/// Longest masked form: each character of the value becomes at most 3 bytes (U+2022).
pub const MAX_SECURE_FIELD_MASKED_LEN: usize = 3 * MAX_SECURE_FIELD_VALUE_LEN;
/// Bytes of a secure field reference.
pub const SECURE_FIELD_REFERENCE_LEN: usize = 16;
/// Bytes of a masked field before its masked form: version, type, kind, policy, reference
/// (16), commitment (32) and the masked form's length (2).
pub const MASKED_FIELD_FIXED_LEN: usize = 4 + SECURE_FIELD_REFERENCE_LEN + 32 + 2;
/// The largest masked field (type `0x70`) any decoder accepts.
pub const MAX_MASKED_FIELD_LEN: usize = MASKED_FIELD_FIXED_LEN + MAX_SECURE_FIELD_MASKED_LEN;
/// Bytes of a vaulted value before the value: version, type, kind, policy, reference (16),
/// blinding (32) and the value's length (2).
pub const VAULTED_FIELD_FIXED_LEN: usize = 4 + SECURE_FIELD_REFERENCE_LEN + 32 + 2;
/// The largest vaulted value (type `0x71`) any decoder accepts.
pub const MAX_VAULTED_FIELD_LEN: usize = VAULTED_FIELD_FIXED_LEN + MAX_SECURE_FIELD_VALUE_LEN;

/// The sealed-envelope content type of a vaulted value (`0x03`, in the range SPEC.md §13.2.1
/// reserves for hushwire).
pub const SECURE_FIELD_CONTENT_TYPE: ContentType = match ContentType::from_byte(0x03) {
    Some(t) => t,
    None => ContentType::SESSION,
};

/// `SHA256(label || kind || policy || reference || blinding || u16be(len) || value)`.
fn commitment(
    kind: SensitiveKind,
    policy_byte: u8,
    reference: &[u8; SECURE_FIELD_REFERENCE_LEN],
    blinding: &[u8; 32],
    value: &[u8],
) -> [u8; 32] {
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    Sha256::new()
        .chain_update(LABEL_SECURE_FIELD_COMMITMENT)
        .chain_update([kind.to_byte(), policy_byte])
        .chain_update(reference)
        .chain_update(blinding)
        .chain_update(len.to_be_bytes())
        .chain_update(value)
        .finalize()
        .into()
}

/// The shared layout of both secure-field structures (SPEC.md §17.5.2, §17.5.3):
/// `version(1) type(1) kind(1) policy(1) reference(16) secret(32) text_len(2) text`, where
/// the 32 bytes are the commitment (`0x70`) or the blinding (`0x71`) and the text is the
/// masked form or the value.
struct Layout {
    ty: u8,
    max_text: usize,
    len_field: &'static str,
    text_field: &'static str,
}

const MASKED_LAYOUT: Layout = Layout {
    ty: TYPE_SECURE_FIELD_MASKED,
    max_text: MAX_SECURE_FIELD_MASKED_LEN,
    len_field: "masked_len",
    text_field: "masked",
};

const VAULTED_LAYOUT: Layout = Layout {
    ty: TYPE_SECURE_FIELD_VALUE,
    max_text: MAX_SECURE_FIELD_VALUE_LEN,
    len_field: "value_len",
    text_field: "value",
};

/// The fields of a decoded structure, borrowing its text.
struct Fields<'a> {
    kind: SensitiveKind,
    policy: Policy,
    reference: [u8; SECURE_FIELD_REFERENCE_LEN],
    /// The commitment (not secret) or the blinding (secret): wiped either way.
    secret: Zeroizing<[u8; 32]>,
    text: &'a str,
}

impl Layout {
    /// Appends the encoding to `out` (the text is at most `max_text` bytes, checked by the
    /// callers).
    fn encode(
        &self,
        kind: SensitiveKind,
        policy: Policy,
        reference: &[u8; SECURE_FIELD_REFERENCE_LEN],
        secret: &[u8; 32],
        text: &str,
        out: &mut Vec<u8>,
    ) {
        let policy = policy.to_byte().unwrap_or_default();
        out.extend_from_slice(&[WIRE_VERSION, self.ty, kind.to_byte(), policy]);
        out.extend_from_slice(reference);
        out.extend_from_slice(secret);
        let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }

    /// Decodes strictly: version, type, length limit, then the fields in order.
    fn decode<'a>(&self, bytes: &'a [u8]) -> Result<Fields<'a>, DecodeError> {
        let mut r = Reader::new(bytes);
        let max = 4 + SECURE_FIELD_REFERENCE_LEN + 32 + 2 + self.max_text;
        expect_header(&mut r, bytes.len(), self.ty, max)?;
        let kind =
            SensitiveKind::from_byte(r.u8()?).ok_or(DecodeError::InvalidField { field: "kind" })?;
        let policy =
            Policy::from_byte(r.u8()?).ok_or(DecodeError::InvalidField { field: "policy" })?;
        let reference = r.array::<SECURE_FIELD_REFERENCE_LEN>()?;
        let secret = Zeroizing::new(r.array::<32>()?);
        let len = usize::from(u16::from_be_bytes(r.array::<2>()?));
        if len == 0 || len > self.max_text {
            return Err(DecodeError::InvalidField {
                field: self.len_field,
            });
        }
        let text = core::str::from_utf8(r.take(len)?).map_err(|_| DecodeError::InvalidField {
            field: self.text_field,
        })?;
        r.finish()?;
        Ok(Fields {
            kind,
            policy,
            reference,
            secret,
            text,
        })
    }
}

/// The operator's copy of a secure field (type `0x70`): what was there, how it was masked,
/// the reference to give the vault, and the commitment the vault checks.
///
/// Layout (SPEC.md §17.5.2): `version(1) type(1)=0x70 kind(1) policy(1) reference(16)
/// commitment(32) masked_len(2) masked(masked_len)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MaskedField {
    kind: SensitiveKind,
    policy: Policy,
    reference: [u8; SECURE_FIELD_REFERENCE_LEN],
    commitment: [u8; 32],
    masked: String,
}

impl MaskedField {
    /// What the value is.
    pub fn kind(&self) -> SensitiveKind {
        self.kind
    }

    /// How it was masked.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The reference under which the vault holds the value.
    pub fn reference(&self) -> &[u8; SECURE_FIELD_REFERENCE_LEN] {
        &self.reference
    }

    /// The commitment to the value (hiding: it reveals nothing about the value).
    pub fn commitment(&self) -> &[u8; 32] {
        &self.commitment
    }

    /// The masked form to show the operator, for example `•••• •••• •••• 4242`.
    pub fn masked(&self) -> &str {
        &self.masked
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MASKED_FIELD_FIXED_LEN + self.masked.len());
        MASKED_LAYOUT.encode(
            self.kind,
            self.policy,
            &self.reference,
            &self.commitment,
            &self.masked,
            &mut out,
        );
        out
    }

    /// Decodes strictly.
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout: `UnknownVersion`, `WrongType` or
    /// `UnknownType`, `TooLarge` above [`MAX_MASKED_FIELD_LEN`], `Truncated`,
    /// `InvalidField` (`kind`, `policy`, `masked_len` outside
    /// `1..=`[`MAX_SECURE_FIELD_MASKED_LEN`], `masked` not UTF-8) and `TrailingBytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let fields = MASKED_LAYOUT.decode(bytes)?;
        Ok(MaskedField {
            kind: fields.kind,
            policy: fields.policy,
            reference: fields.reference,
            commitment: *fields.secret,
            masked: fields.text.to_owned(),
        })
    }
}

impl TryFrom<&[u8]> for MaskedField {
    type Error = DecodeError;

    fn try_from(bytes: &[u8]) -> Result<Self, DecodeError> {
        MaskedField::from_bytes(bytes)
    }
}

/// A sealed secure field: the operator's copy and the envelope for the vault.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct SecureField {
    masked: MaskedField,
    envelope: Vec<u8>,
}

impl fmt::Debug for SecureField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureField")
            .field("masked", &self.masked)
            .field("envelope_len", &self.envelope.len())
            .finish()
    }
}

impl SecureField {
    /// Seals `value` for the vault's identity key `vault` and makes the operator's copy.
    ///
    /// Draws 16 bytes (the reference), 32 bytes (the blinding), then the 32 bytes of
    /// [`sealed::seal`]. The envelope's metadata is [`SECURE_FIELD_CONTENT_TYPE`] sent at
    /// `now`. The copy of the value that is encrypted is wiped when this returns.
    ///
    /// ```
    /// use hushwire::certificate::SenderCertificateInfo;
    /// use hushwire::mask::{Masker, SecureField, VaultedField};
    /// use hushwire::{IdentityKeyPair, IssuerKeyPair, SenderCertificate, ServerCertificate};
    /// use hushwire::{Timestamp, TrustStore, Validity};
    /// use rand_core::SeedableRng;
    /// # fn main() -> Result<(), hushwire::Error> {
    /// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(7);
    /// let now = Timestamp::from_unix_secs(1_700_000_000);
    /// # let validity = Validity::new(Timestamp::from_unix_secs(0), now.plus_secs(3600)).unwrap();
    /// # let root = IssuerKeyPair::generate(&mut rng);
    /// # let server = IssuerKeyPair::generate(&mut rng);
    /// # let server_cert = ServerCertificate::issue(&root, 1, 1, &server.public(), validity);
    /// # let mut trust = TrustStore::new();
    /// # trust.add_root(1, root.public())?;
    /// let customer = IdentityKeyPair::generate(&mut rng);
    /// let vault = IdentityKeyPair::generate(&mut rng);
    /// // The customer's sender certificate, issued by the chat server (see `certificate`).
    /// # let info = SenderCertificateInfo { serial: 1, user_id: b"customer".to_vec(),
    /// #     device_id: 1, identity_key: *customer.public(), validity };
    /// let certificate: SenderCertificate = // ...
    /// #   SenderCertificate::issue(&server, &server_cert, info)?;
    ///
    /// // On the customer's device: find the card, seal it for the vault.
    /// let text = "card 4242 4242 4242 4242 please";
    /// let masked = Masker::new().mask(text);
    /// let span = &masked.spans()[0];
    /// let field = SecureField::seal(
    ///     &customer, &certificate, vault.public(),
    ///     span.kind(), span.policy(), &text[span.original()], now, &mut rng,
    /// )?;
    /// // The operator receives `masked.text()` and `field.masked_field().to_bytes()`.
    /// assert_eq!(field.masked_field().masked(), "•••• •••• •••• 4242");
    ///
    /// // In the vault: open the envelope, check the copy the operator hands in.
    /// let vaulted = VaultedField::open(&vault, field.envelope(), &trust, now)?;
    /// vaulted.verify(field.masked_field())?;
    /// assert_eq!(vaulted.dangerous_value(), "4242 4242 4242 4242");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`SecureFieldError::EmptyValue`], [`SecureFieldError::ValueTooLong`] above
    /// [`MAX_SECURE_FIELD_VALUE_LEN`] and [`SecureFieldError::FlagOnlyPolicy`], before any
    /// randomness is drawn; [`SecureFieldError::Seal`] as [`sealed::seal`] (a certificate
    /// that is not the sender's).
    #[allow(clippy::too_many_arguments)]
    pub fn seal<R: CryptoRng + ?Sized>(
        sender: &IdentityKeyPair,
        certificate: &SenderCertificate,
        vault: &IdentityKey,
        kind: SensitiveKind,
        policy: Policy,
        value: &str,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<SecureField, SecureFieldError> {
        if value.is_empty() {
            return Err(SecureFieldError::EmptyValue);
        }
        if value.len() > MAX_SECURE_FIELD_VALUE_LEN {
            return Err(SecureFieldError::ValueTooLong {
                len: value.len(),
                max: MAX_SECURE_FIELD_VALUE_LEN,
            });
        }
        let Some(policy_byte) = policy.to_byte() else {
            return Err(SecureFieldError::FlagOnlyPolicy);
        };
        if certificate.identity_key() != sender.public() {
            return Err(SecureFieldError::Seal(
                sealed::SealError::CertificateMismatch,
            ));
        }
        let mut reference = [0u8; SECURE_FIELD_REFERENCE_LEN];
        rng.fill_bytes(&mut reference);
        let mut blinding = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut *blinding);

        let mut content = Zeroizing::new(Vec::with_capacity(VAULTED_FIELD_FIXED_LEN + value.len()));
        VAULTED_LAYOUT.encode(kind, policy, &reference, &blinding, value, &mut content);

        let metadata = Metadata::new(SECURE_FIELD_CONTENT_TYPE, now);
        let envelope = sealed::seal(sender, certificate, vault, &metadata, &content, rng)?;
        Ok(SecureField {
            masked: MaskedField {
                kind,
                policy,
                reference,
                commitment: commitment(kind, policy_byte, &reference, &blinding, value.as_bytes()),
                masked: policy.mask(value),
            },
            envelope,
        })
    }

    /// The operator's copy.
    pub fn masked_field(&self) -> &MaskedField {
        &self.masked
    }

    /// The sealed envelope for the vault (type `0x30`).
    pub fn envelope(&self) -> &[u8] {
        &self.envelope
    }

    /// Both parts, by value.
    pub fn into_parts(self) -> (MaskedField, Vec<u8>) {
        (self.masked, self.envelope)
    }
}

/// A secure field as the vault holds it: who sent it, the raw value, and what the
/// operator's copy must match.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultedField {
    sender: SenderCertificate,
    kind: SensitiveKind,
    policy: Policy,
    reference: [u8; SECURE_FIELD_REFERENCE_LEN],
    blinding: Zeroizing<[u8; 32]>,
    value: Zeroizing<String>,
}

impl fmt::Debug for VaultedField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultedField")
            .field("sender", &self.sender)
            .field("kind", &self.kind)
            .field("policy", &self.policy)
            .field("reference", &self.reference)
            .field("value_len", &self.value.len())
            .finish_non_exhaustive()
    }
}

impl VaultedField {
    /// Opens a secure-field envelope addressed to `vault` and validates the sender's
    /// certificate against `trust` at `now` (see [`sealed::open`]).
    ///
    /// # Errors
    /// [`SecureFieldError::Open`] as [`sealed::open`]; [`SecureFieldError::NotSecureField`]
    /// for another content type; [`SecureFieldError::Malformed`] if the content is not a
    /// vaulted value (type `0x71`, SPEC.md §17.5.3). Opening changes no state.
    pub fn open(
        vault: &IdentityKeyPair,
        envelope: &[u8],
        trust: &TrustStore,
        now: Timestamp,
    ) -> Result<VaultedField, SecureFieldError> {
        let opened = sealed::open(vault, envelope, trust, now)?;
        let content_type = opened.metadata().content_type();
        if content_type != SECURE_FIELD_CONTENT_TYPE {
            return Err(SecureFieldError::NotSecureField { content_type });
        }
        let sender = opened.sender().clone();
        let content = Zeroizing::new(opened.into_message());
        let fields = VAULTED_LAYOUT.decode(&content)?;
        Ok(VaultedField {
            sender,
            kind: fields.kind,
            policy: fields.policy,
            reference: fields.reference,
            blinding: fields.secret,
            value: Zeroizing::new(fields.text.to_owned()),
        })
    }

    /// The sender's validated certificate (the customer's device).
    pub fn sender(&self) -> &SenderCertificate {
        &self.sender
    }

    /// What the value is.
    pub fn kind(&self) -> SensitiveKind {
        self.kind
    }

    /// The policy the operator's copy was masked with.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The reference the operator's copy names.
    pub fn reference(&self) -> &[u8; SECURE_FIELD_REFERENCE_LEN] {
        &self.reference
    }

    /// The raw value (a card number, an IBAN, ...). Handle it as the secret it is.
    pub fn dangerous_value(&self) -> &str {
        &self.value
    }

    /// Checks that `copy` is the operator's copy of this value: same reference, kind and
    /// policy, a commitment that opens to this value, and the masked form of this value.
    ///
    /// # Errors
    /// [`SecureFieldError::Mismatch`] if any of these differs. Nothing changes either way.
    pub fn verify(&self, copy: &MaskedField) -> Result<(), SecureFieldError> {
        let policy_byte = self.policy.to_byte().unwrap_or_default();
        let expected = commitment(
            self.kind,
            policy_byte,
            &self.reference,
            &self.blinding,
            self.value.as_bytes(),
        );
        let same = self.reference.ct_eq(&copy.reference) & expected.ct_eq(&copy.commitment);
        if bool::from(same)
            && copy.kind == self.kind
            && copy.policy == self.policy
            && copy.masked == self.policy.mask(&self.value)
        {
            Ok(())
        } else {
            Err(SecureFieldError::Mismatch)
        }
    }
}
