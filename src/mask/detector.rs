//! What a detector is: the [`Detector`] trait vendors implement for their own kinds of
//! sensitive data, and [`SensitiveKind`], the kind a match is reported as.

use core::fmt;
use core::ops::Range;

/// The kind of sensitive data a span holds. A byte on the wire of a secure field
/// (SPEC.md §17.5): `0x01`–`0x04` are the built-in kinds, `0x80`–`0xFF` are for a vendor's own
/// detectors ([`SensitiveKind::custom`]), the rest is reserved.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SensitiveKind(u8);

impl SensitiveKind {
    /// A payment card number (PAN).
    pub const CARD: SensitiveKind = SensitiveKind(0x01);
    /// An International Bank Account Number.
    pub const IBAN: SensitiveKind = SensitiveKind(0x02);
    /// An e-mail address.
    pub const EMAIL: SensitiveKind = SensitiveKind(0x03);
    /// A telephone number.
    pub const PHONE: SensitiveKind = SensitiveKind(0x04);

    /// A vendor-defined kind (national ids, policy numbers, ...): `code` in `0x80..=0xFF`,
    /// else `None`.
    pub const fn custom(code: u8) -> Option<Self> {
        if code >= 0x80 {
            Some(SensitiveKind(code))
        } else {
            None
        }
    }

    /// The kind for a byte read from the wire: a built-in or custom kind, else `None`.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01..=0x04 | 0x80..=0xFF => Some(SensitiveKind(byte)),
            _ => None,
        }
    }

    /// The byte on the wire.
    pub const fn to_byte(self) -> u8 {
        self.0
    }

    /// Whether a vendor defines this kind (`0x80..=0xFF`).
    pub const fn is_custom(self) -> bool {
        self.0 >= 0x80
    }
}

impl fmt::Debug for SensitiveKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SensitiveKind::CARD => f.write_str("Card"),
            SensitiveKind::IBAN => f.write_str("Iban"),
            SensitiveKind::EMAIL => f.write_str("Email"),
            SensitiveKind::PHONE => f.write_str("Phone"),
            SensitiveKind(code) => write!(f, "Custom({code:#04x})"),
        }
    }
}

impl fmt::Display for SensitiveKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SensitiveKind::CARD => f.write_str("card number"),
            SensitiveKind::IBAN => f.write_str("IBAN"),
            SensitiveKind::EMAIL => f.write_str("e-mail address"),
            SensitiveKind::PHONE => f.write_str("phone number"),
            SensitiveKind(code) => write!(f, "custom data {code:#04x}"),
        }
    }
}

/// Finds one kind of sensitive data in text.
///
/// Implement it for what the built-in detectors do not know (national ids, policy numbers,
/// customer numbers) and add it with [`super::MaskerBuilder::detector`].
///
/// A detector must run in time linear in the length of the text (no backtracking regular
/// expressions: the text comes from anyone who can type into the chat). The [`super::Masker`]
/// drops any range that is empty, out of bounds, not on character boundaries, or that starts
/// before the end of the previous one, so a faulty detector cannot make masking panic.
///
/// A detector should not match text that its own masked form turns into (characters that
/// are U+2022 or next to one), so that masking twice gives the same text.
///
/// ```
/// use core::ops::Range;
/// use hushwire::mask::{Detector, Masker, Policy, SensitiveKind};
///
/// /// Policy numbers of an insurer: `POL-` and eight digits.
/// struct PolicyNumber;
///
/// impl Detector for PolicyNumber {
///     fn kind(&self) -> SensitiveKind {
///         SensitiveKind::custom(0x80).unwrap_or(SensitiveKind::CARD)
///     }
///
///     fn find(&self, text: &str, found: &mut Vec<Range<usize>>) {
///         let bytes = text.as_bytes();
///         let mut from = 0;
///         while let Some(at) = text.get(from..).and_then(|rest| rest.find("POL-")) {
///             let start = from + at + 4;
///             let digits = bytes.get(start..).unwrap_or_default();
///             let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
///             if n == 8 {
///                 found.push(start..start + 8);
///             }
///             from = start + n;
///         }
///     }
/// }
///
/// let masker = Masker::builder().detector(PolicyNumber, Policy::KeepLast4).build();
/// let masked = masker.mask("my policy is POL-12345678");
/// assert_eq!(masked.text(), "my policy is POL-••••5678");
/// ```
pub trait Detector: Send + Sync {
    /// The kind every match of this detector is reported as.
    fn kind(&self) -> SensitiveKind;

    /// Appends the byte ranges of the matches in `text` to `found`, in increasing order and
    /// not overlapping.
    fn find(&self, text: &str, found: &mut Vec<Range<usize>>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_byte() {
        for byte in 0..=u8::MAX {
            match SensitiveKind::from_byte(byte) {
                Some(kind) => {
                    assert_eq!(kind.to_byte(), byte);
                    assert_eq!(kind.is_custom(), byte >= 0x80);
                    assert_eq!(SensitiveKind::custom(byte).is_some(), byte >= 0x80);
                }
                None => assert!(byte == 0 || (0x05..0x80).contains(&byte)),
            }
        }
        assert_eq!(format!("{:?}", SensitiveKind::CARD), "Card");
        assert_eq!(
            format!("{:?}", SensitiveKind::custom(0x81).unwrap()),
            "Custom(0x81)"
        );
        assert_eq!(SensitiveKind::IBAN.to_string(), "IBAN");
    }
}
