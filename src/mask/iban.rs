//! International Bank Account Numbers (SPEC.md §17.2.2): a country code from the IBAN
//! registry, two check digits, the country's exact length and the ISO 7064 mod-97 check,
//! written contiguously or in groups of four separated by spaces.

use core::ops::Range;

use super::detector::{Detector, SensitiveKind};
use super::scan::{
    Steps, at, digit_at, masked_after, masked_before, next_digit, space_len_at, word_at,
    word_before,
};

/// Longest IBAN of any country (Saint Lucia, 32; the standard allows 34).
pub const IBAN_MAX_LEN: usize = 34;

/// Country codes and IBAN lengths of the SWIFT IBAN registry (ISO 13616), release 99 of
/// December 2024; sorted by country code. SPEC.md §17.2.2, table 17-2.
const COUNTRIES: &[([u8; 2], u8)] = &[
    (*b"AD", 24),
    (*b"AE", 23),
    (*b"AL", 28),
    (*b"AT", 20),
    (*b"AZ", 28),
    (*b"BA", 20),
    (*b"BE", 16),
    (*b"BG", 22),
    (*b"BH", 22),
    (*b"BI", 27),
    (*b"BR", 29),
    (*b"BY", 28),
    (*b"CH", 21),
    (*b"CR", 22),
    (*b"CY", 28),
    (*b"CZ", 24),
    (*b"DE", 22),
    (*b"DJ", 27),
    (*b"DK", 18),
    (*b"DO", 28),
    (*b"EE", 20),
    (*b"EG", 29),
    (*b"ES", 24),
    (*b"FI", 18),
    (*b"FK", 18),
    (*b"FO", 18),
    (*b"FR", 27),
    (*b"GB", 22),
    (*b"GE", 22),
    (*b"GI", 23),
    (*b"GL", 18),
    (*b"GR", 27),
    (*b"GT", 28),
    (*b"HN", 28),
    (*b"HR", 21),
    (*b"HU", 28),
    (*b"IE", 22),
    (*b"IL", 23),
    (*b"IQ", 23),
    (*b"IS", 26),
    (*b"IT", 27),
    (*b"JO", 30),
    (*b"KW", 30),
    (*b"KZ", 20),
    (*b"LB", 28),
    (*b"LC", 32),
    (*b"LI", 21),
    (*b"LT", 20),
    (*b"LU", 20),
    (*b"LV", 21),
    (*b"LY", 25),
    (*b"MC", 27),
    (*b"MD", 24),
    (*b"ME", 22),
    (*b"MK", 19),
    (*b"MN", 20),
    (*b"MR", 27),
    (*b"MT", 31),
    (*b"MU", 30),
    (*b"NI", 28),
    (*b"NL", 18),
    (*b"NO", 15),
    (*b"OM", 23),
    (*b"PK", 24),
    (*b"PL", 28),
    (*b"PS", 29),
    (*b"PT", 25),
    (*b"QA", 29),
    (*b"RO", 24),
    (*b"RS", 22),
    (*b"RU", 33),
    (*b"SA", 24),
    (*b"SC", 31),
    (*b"SD", 18),
    (*b"SE", 24),
    (*b"SI", 19),
    (*b"SK", 24),
    (*b"SM", 27),
    (*b"SO", 23),
    (*b"ST", 25),
    (*b"SV", 28),
    (*b"TL", 23),
    (*b"TN", 24),
    (*b"TR", 26),
    (*b"UA", 29),
    (*b"VA", 22),
    (*b"VG", 24),
    (*b"XK", 20),
    (*b"YE", 30),
];

/// The IBAN length of a country (upper-case code), if it is in the registry.
fn country_len(code: [u8; 2]) -> Option<usize> {
    COUNTRIES
        .binary_search_by(|(c, _)| c.cmp(&code))
        .ok()
        .and_then(|i| COUNTRIES.get(i))
        .map(|(_, len)| usize::from(*len))
}

/// The ISO 7064 mod 97-10 check over upper-case ASCII letters and digits: the first four
/// characters moved to the end, letters read as 10–35; valid if the remainder is 1.
pub(crate) fn mod97_ok(chars: &[u8]) -> bool {
    let (head, tail) = chars.split_at(chars.len().min(4));
    let remainder = tail.iter().chain(head).fold(0u32, |r, &c| {
        if c.is_ascii_digit() {
            (r * 10 + u32::from(c - b'0')) % 97
        } else {
            (r * 100 + u32::from(c - b'A') + 10) % 97
        }
    });
    remainder == 1
}

/// Reads an IBAN starting at `start` (its country code): contiguous, or in groups of four
/// separated by one space-class character. Returns its end and its characters, upper-cased.
fn read_iban(
    bytes: &[u8],
    start: usize,
    len: usize,
    chars: &mut [u8; IBAN_MAX_LEN],
    steps: &mut Steps,
) -> Option<usize> {
    let mut n = 0;
    let mut i = start;
    let mut in_group = 0;
    // Whether the grouped form is used: decided at the fifth character.
    let mut grouped = None;
    while n < len {
        steps.add(1);
        let b = at(bytes, i)?;
        if b.is_ascii_alphanumeric() {
            if grouped == Some(true) && in_group == 4 {
                return None;
            }
            *chars.get_mut(n)? = b.to_ascii_uppercase();
            n += 1;
            in_group += 1;
            i += 1;
            if n == 4 && grouped.is_none() {
                grouped = Some(space_len_at(bytes, i) > 0);
            }
            continue;
        }
        let space = space_len_at(bytes, i);
        if grouped == Some(true) && in_group == 4 && space > 0 {
            in_group = 0;
            i += space;
            continue;
        }
        return None;
    }
    Some(i)
}

/// Finds IBANs, appending their byte ranges to `found`.
pub(crate) fn scan(text: &str, found: &mut Vec<Range<usize>>, steps: &mut Steps) {
    let bytes = text.as_bytes();
    let mut chars = [0u8; IBAN_MAX_LEN];
    let mut i = 0;
    // Keyed on the first check digit: two letters before it, a digit after it.
    while let Some(d) = next_digit(bytes, i, steps) {
        // Only the first digit of a run can be a check digit after two letters: the next
        // search starts after this run of digits.
        i = d + 1;
        while digit_at(bytes, i) {
            i += 1;
        }
        steps.add(i - d);
        let Some(start) = d.checked_sub(2) else {
            continue;
        };
        let (Some(c1), Some(c2)) = (at(bytes, start), at(bytes, start + 1)) else {
            continue;
        };
        if !c1.is_ascii_alphabetic() || !c2.is_ascii_alphabetic() || !digit_at(bytes, d + 1) {
            continue;
        }
        if word_before(bytes, start) || masked_before(bytes, start) {
            continue;
        }
        let code = [c1.to_ascii_uppercase(), c2.to_ascii_uppercase()];
        let Some(len) = country_len(code) else {
            continue;
        };
        let Some(end) = read_iban(bytes, start, len, &mut chars, steps) else {
            continue;
        };
        let iban = chars.get(..len).unwrap_or_default();
        steps.add(len);
        let check = iban
            .get(2..4)
            .map_or(0, |c| c.iter().fold(0, |v, d| v * 10 + (d - b'0')));
        if (2..=98).contains(&check)
            && !word_at(bytes, end)
            && !masked_after(bytes, end)
            && mod97_ok(iban)
        {
            found.push(start..end);
            i = end;
        }
    }
}

/// Finds IBANs ([`SensitiveKind::IBAN`]); the rules are in SPEC.md §17.2.2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IbanDetector;

impl Detector for IbanDetector {
    fn kind(&self) -> SensitiveKind {
        SensitiveKind::IBAN
    }

    fn find(&self, text: &str, found: &mut Vec<Range<usize>>) {
        scan(text, found, &mut Steps::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ibans(text: &str) -> Vec<&str> {
        let mut found = Vec::new();
        IbanDetector.find(text, &mut found);
        found.into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn registry_table_is_sorted_and_in_range() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(
            COUNTRIES
                .iter()
                .all(|(_, len)| (15..=IBAN_MAX_LEN).contains(&usize::from(*len)))
        );
        assert_eq!(country_len(*b"DE"), Some(22));
        assert_eq!(country_len(*b"LC"), Some(32));
        assert_eq!(country_len(*b"US"), None);
    }

    #[test]
    fn mod97() {
        assert!(mod97_ok(b"DE89370400440532013000"));
        assert!(mod97_ok(b"GB82WEST12345698765432"));
        assert!(!mod97_ok(b"DE88370400440532013000"));
        assert!(!mod97_ok(b"GB82WEST12345698765433"));
    }

    #[test]
    fn forms() {
        for text in [
            "DE89370400440532013000",
            "DE89 3704 0044 0532 0130 00",
            "de89 3704 0044 0532 0130 00",
            "GB82 WEST 1234 5698 7654 32",
            "FR14 2004 1010 0505 0001 3M02 606",
            "NO93 8601 1117 947",
            "DE89\u{a0}3704\u{a0}0044\u{a0}0532\u{a0}0130\u{a0}00",
        ] {
            assert_eq!(ibans(&format!("IBAN: {text}, merci")), [text], "{text:?}");
        }
        assert_eq!(
            ibans("DE89 3704 0044 0532 0130 00 is mine"),
            ["DE89 3704 0044 0532 0130 00"]
        );
    }

    #[test]
    fn rejections() {
        for text in [
            "DE88 3704 0044 0532 0130 00",
            "DE89 3704 0044 0532 0130 0012",
            "DE89370400440532013000X",
            "XDE89370400440532013000",
            "DE8937040044053201300",
            "DE89 37040044 0532 0130 00",
            "DE89-3704-0044-0532-0130-00",
            "US89370400440532013000",
            "\u{2022}\u{2022}89 3704 0044 0532 0130 00",
            "DE89 3704 0044 0532 0130 00\u{2022}",
        ] {
            assert!(ibans(text).is_empty(), "{text:?}");
        }
    }
}
