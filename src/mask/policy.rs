//! What is done with a match: the masking [`Policy`] and the masked form it gives
//! (SPEC.md §17.3).

/// The masking character, U+2022 BULLET.
pub const MASK_CHAR: char = '\u{2022}';

/// What the [`super::Masker`] does with the matches of one detector.
///
/// Masking replaces *significant* characters (letters and digits: Rust's
/// [`char::is_alphanumeric`]) by [`MASK_CHAR`] and keeps every other character, so the
/// grouping the sender typed stays visible: `4242 4242 4242 4242` becomes
/// `•••• •••• •••• 4242`. When a match has no more significant characters than the policy
/// would keep, all of them are masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Policy {
    /// Keep the last 4 significant characters, mask the rest (the usual receipt form).
    KeepLast4,
    /// Keep the first 6 and the last 4 significant characters: the most of a card number
    /// PCI DSS allows to be displayed.
    KeepFirst6Last4,
    /// Mask every significant character.
    MaskAll,
    /// Leave the text as it is and only report the span (for example to ask the user
    /// "this looks like a card number — send it masked?").
    FlagOnly,
}

impl Policy {
    /// The byte of this policy in a secure field (SPEC.md §17.5); `FlagOnly` has none.
    pub(crate) const fn to_byte(self) -> Option<u8> {
        match self {
            Policy::KeepLast4 => Some(0x01),
            Policy::KeepFirst6Last4 => Some(0x02),
            Policy::MaskAll => Some(0x03),
            Policy::FlagOnly => None,
        }
    }

    /// The masking policy for a byte read from a secure field.
    pub(crate) const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(Policy::KeepLast4),
            0x02 => Some(Policy::KeepFirst6Last4),
            0x03 => Some(Policy::MaskAll),
            _ => None,
        }
    }

    /// How many significant characters are kept at the start and at the end.
    const fn kept(self) -> (usize, usize) {
        match self {
            Policy::KeepLast4 => (0, 4),
            Policy::KeepFirst6Last4 => (6, 4),
            Policy::MaskAll => (0, 0),
            Policy::FlagOnly => (usize::MAX, 0),
        }
    }

    /// Appends the masked form of `original` under this policy to `out`.
    pub(crate) fn render_into(self, original: &str, out: &mut String) {
        if self == Policy::FlagOnly {
            out.push_str(original);
            return;
        }
        let ascii = original.is_ascii();
        let significant = if ascii {
            original.bytes().filter(u8::is_ascii_alphanumeric).count()
        } else {
            original.chars().filter(|c| c.is_alphanumeric()).count()
        };
        let (first, last) = match self.kept() {
            (first, last) if first.saturating_add(last) < significant => (first, last),
            _ => (0, 0),
        };
        let masked = first..significant - last;
        let mut index = 0;
        if ascii {
            // Every character is one byte: the common case, without decoding.
            out.reserve(original.len() * 3);
            for b in original.bytes() {
                if b.is_ascii_alphanumeric() {
                    if masked.contains(&index) {
                        out.push(MASK_CHAR);
                    } else {
                        out.push(char::from(b));
                    }
                    index += 1;
                } else {
                    out.push(char::from(b));
                }
            }
            return;
        }
        for c in original.chars() {
            if c.is_alphanumeric() {
                out.push(if masked.contains(&index) {
                    MASK_CHAR
                } else {
                    c
                });
                index += 1;
            } else {
                out.push(c);
            }
        }
    }

    /// The masked form of `original` under this policy.
    ///
    /// ```
    /// use hushwire::mask::Policy;
    ///
    /// assert_eq!(Policy::KeepLast4.mask("4242 4242 4242 4242"), "•••• •••• •••• 4242");
    /// assert_eq!(Policy::KeepFirst6Last4.mask("4242-4242-4242-4242"), "4242-42••-••••-4242");
    /// assert_eq!(Policy::MaskAll.mask("ana@example.com"), "•••@•••••••.•••");
    /// assert_eq!(Policy::FlagOnly.mask("DE89 3704"), "DE89 3704");
    /// ```
    pub fn mask(self, original: &str) -> String {
        let mut out = String::with_capacity(original.len() * 3);
        self.render_into(original, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_kept_and_digits_masked() {
        assert_eq!(
            Policy::KeepLast4.mask("3782 822463 10005"),
            "•••• •••••• •0005"
        );
        assert_eq!(
            Policy::KeepFirst6Last4.mask("4242424242424242"),
            "424242••••••4242"
        );
        assert_eq!(Policy::MaskAll.mask("4242\u{a0}4242"), "••••\u{a0}••••");
    }

    #[test]
    fn short_values_are_masked_whole() {
        // Keeping 4 of 4, or 10 of 10, would reveal everything.
        assert_eq!(Policy::KeepLast4.mask("ab-cd"), "••-••");
        assert_eq!(Policy::KeepLast4.mask("abcde"), "•bcde");
        assert_eq!(Policy::KeepFirst6Last4.mask("0123456789"), "••••••••••");
        assert_eq!(Policy::KeepFirst6Last4.mask("0123456789a"), "012345•789a");
        assert_eq!(Policy::KeepLast4.mask(""), "");
    }

    #[test]
    fn non_ascii_letters_are_significant() {
        assert_eq!(Policy::MaskAll.mask("Zoë-٣"), "•••-•");
        assert_eq!(Policy::KeepLast4.mask("日本語12345"), "••••2345");
    }

    #[test]
    fn masked_forms_are_fixed_points() {
        for policy in [Policy::KeepLast4, Policy::KeepFirst6Last4, Policy::MaskAll] {
            for original in ["4242 4242 4242 4242", "GB82WEST12345698765432", "a.b@c.de"] {
                let once = policy.mask(original);
                // Masking the masked form with MaskAll only masks what was kept.
                assert_eq!(Policy::MaskAll.mask(&once), Policy::MaskAll.mask(original));
            }
        }
    }

    #[test]
    fn wire_bytes_round_trip() {
        for policy in [Policy::KeepLast4, Policy::KeepFirst6Last4, Policy::MaskAll] {
            assert_eq!(Policy::from_byte(policy.to_byte().unwrap()), Some(policy));
        }
        assert_eq!(Policy::FlagOnly.to_byte(), None);
        assert_eq!(Policy::from_byte(0), None);
        assert_eq!(Policy::from_byte(4), None);
    }
}
