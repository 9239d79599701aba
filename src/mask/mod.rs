//! Sensitive-data masking before encryption (SPEC.md §17), behind the default-on `mask`
//! feature.
//!
//! Customers paste card numbers, IBANs and passwords into support chats. A platform that
//! sees the text redacts it on its servers; under end-to-end encryption the server never
//! sees the text, so the only place left is the sender's device, before encryption. A
//! [`Masker`] finds sensitive data in a message and masks it there; the receiver can run the
//! same detectors on decrypted text ([`Masker::check`]) and refuse to store unmasked card
//! data, even from an old client.
//!
//! - **Detectors** ([`CardDetector`], [`IbanDetector`], [`EmailDetector`], [`PhoneDetector`]):
//!   hand-written scanners over the bytes of UTF-8 text, one pass with bounded look-around,
//!   linear in the length of the text (no regular expressions). Cards: 12–19 digits in the
//!   usual groupings, an issuer prefix of a major network and the Luhn check, never inside a
//!   URL, after a `+`, or cut out of a longer digit run. IBANs: a registry country code, the
//!   country's length and the mod-97 check. A vendor adds its own with the [`Detector`]
//!   trait.
//! - **Policies** ([`Policy`]): keep the last 4, keep the first 6 and last 4 (what PCI DSS
//!   allows to be displayed), mask all, or only flag. Letters and digits become `•`
//!   (U+2022); separators stay, so `4242 4242 4242 4242` becomes `•••• •••• •••• 4242`.
//! - **Output** ([`Masked`]): the masked text plus typed [`Span`]s (kind, byte range in the
//!   original and in the masked text), so a UI can highlight "this looks like a card
//!   number — send masked?". Masking is idempotent.
//! - **Secure fields** ([`SecureField`]): the raw value sealed to a payment vault's identity
//!   (a sealed envelope), while the operator's copy ([`MaskedField`]) carries only the masked
//!   form, a reference and a hiding commitment. The operator can take the payment without
//!   ever holding the number.
//!
//! Nothing here does I/O; only sealing a secure field needs randomness.
//!
//! ```
//! use hushwire::mask::{Masker, Policy, SensitiveKind};
//!
//! let masker = Masker::builder().phone(Policy::KeepLast4).build();
//! let masked = masker.mask(
//!     "Hallo, meine Karte ist 5555-5555-5555-4444, IBAN DE89 3704 0044 0532 0130 00, \
//!      Tel. +49 30 1234 5678",
//! );
//! assert_eq!(
//!     masked.text(),
//!     "Hallo, meine Karte ist ••••-••••-••••-4444, IBAN •••• •••• •••• •••• ••30 00, \
//!      Tel. +•• •• •••• 5678",
//! );
//! let kinds: Vec<_> = masked.spans().iter().map(|s| s.kind()).collect();
//! assert_eq!(kinds, [SensitiveKind::CARD, SensitiveKind::IBAN, SensitiveKind::PHONE]);
//! ```

mod card;
mod detector;
mod email;
mod error;
mod iban;
mod masker;
mod phone;
mod policy;
mod scan;
mod secure_field;

pub use card::{CARD_MAX_DIGITS, CARD_MAX_GROUPS, CARD_MIN_DIGITS, CardDetector};
pub use detector::{Detector, SensitiveKind};
pub use email::{EMAIL_MAX_DOMAIN_LEN, EMAIL_MAX_LOCAL_LEN, EmailDetector};
pub use error::{MaskCheckError, SecureFieldError};
pub use iban::{IBAN_MAX_LEN, IbanDetector};
pub use masker::{
    Finding, MAX_SCAN_STEPS_BASE, MAX_SCAN_STEPS_PER_BYTE, Masked, Masker, MaskerBuilder, Span,
};
pub use phone::{
    PHONE_MAX_DIGITS, PHONE_MIN_INTERNATIONAL_DIGITS, PHONE_MIN_NATIONAL_DIGITS, PhoneDetector,
};
pub use policy::{MASK_CHAR, Policy};
pub use secure_field::{
    MASKED_FIELD_FIXED_LEN, MAX_MASKED_FIELD_LEN, MAX_SECURE_FIELD_MASKED_LEN,
    MAX_SECURE_FIELD_VALUE_LEN, MAX_VAULTED_FIELD_LEN, MaskedField, SECURE_FIELD_CONTENT_TYPE,
    SECURE_FIELD_REFERENCE_LEN, SecureField, VAULTED_FIELD_FIXED_LEN, VaultedField,
};
