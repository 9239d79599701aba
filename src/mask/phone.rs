//! Telephone numbers (SPEC.md §17.2.4), off by default: an international number (`+` and 8–15
//! digits) or a national number of 10–15 digits in a shape numbers are written in (an area
//! code in parentheses, a leading trunk `0`, or the North American `3-3-4`). Plain digit
//! strings and other groupings are left alone: they are as often order ids as numbers.

use core::ops::Range;

use super::detector::{Detector, SensitiveKind};
use super::policy::MASK_CHAR;
use super::scan::{
    Steps, UrlTracker, at, before, digit_at, digit_or_mask_at, digit_or_mask_before, find_byte,
    masked_after, masked_before, space_len_at, space_len_before, word_at, word_before,
};

/// Most digits of a telephone number (ITU-T E.164).
pub const PHONE_MAX_DIGITS: usize = 15;
/// Fewest digits of an international number (`+` and country code included).
pub const PHONE_MIN_INTERNATIONAL_DIGITS: usize = 8;
/// Fewest digits of a national number (no `+`).
pub const PHONE_MIN_NATIONAL_DIGITS: usize = 10;

/// What the last character read was.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Start,
    Digit,
    Open,
    Close,
    Separator,
}

/// A candidate read from its first character.
struct Candidate {
    /// End of the number: after its last digit or closing parenthesis.
    end: usize,
    /// Where reading stopped: the next search starts here.
    read_to: usize,
    digits: usize,
    plus: bool,
    separated: bool,
    balanced: bool,
    /// An area code in parentheses was read.
    parenthesised: bool,
    /// The first digit is `0`.
    leading_zero: bool,
    /// Digits in each of the first four groups (groups are split by separators and
    /// parentheses), and how many groups there are.
    groups: [usize; 4],
    group_count: usize,
}

impl Candidate {
    /// Counts a digit in the current group.
    fn digit(&mut self, new_group: bool) {
        if new_group {
            self.group_count += 1;
        }
        if let Some(g) = self
            .group_count
            .checked_sub(1)
            .and_then(|i| self.groups.get_mut(i))
        {
            *g += 1;
        }
        self.digits += 1;
    }

    /// Whether a number without `+` has one of the national shapes.
    fn national_shape(&self) -> bool {
        let nanp = self.group_count == 3 && self.groups == [3, 3, 4, 0];
        self.separated && (self.parenthesised || self.leading_zero || nanp)
    }
}

/// Length of a phone separator at `i`: a space-class character or `-`.
fn separator_len(bytes: &[u8], i: usize) -> usize {
    if at(bytes, i) == Some(b'-') {
        1
    } else {
        space_len_at(bytes, i)
    }
}

/// Length of a phone separator ending just before `i`.
fn separator_len_before(bytes: &[u8], i: usize) -> usize {
    if before(bytes, i) == Some(b'-') {
        1
    } else {
        space_len_before(bytes, i)
    }
}

fn read(bytes: &[u8], start: usize, steps: &mut Steps) -> Candidate {
    let mut c = Candidate {
        end: start,
        read_to: start,
        digits: 0,
        plus: false,
        separated: false,
        balanced: true,
        parenthesised: false,
        leading_zero: false,
        groups: [0; 4],
        group_count: 0,
    };
    let mut i = start;
    if at(bytes, i) == Some(b'+') {
        c.plus = true;
        i += 1;
    }
    let mut last = Last::Start;
    loop {
        steps.add(1);
        match at(bytes, i) {
            Some(b) if b.is_ascii_digit() => {
                if c.digits == 0 {
                    c.leading_zero = b == b'0';
                }
                c.digit(last != Last::Digit);
                i += 1;
                c.end = i;
                last = Last::Digit;
            }
            Some(b'(')
                if c.balanced
                    && matches!(last, Last::Start | Last::Separator)
                    && digit_at(bytes, i + 1) =>
            {
                c.balanced = false;
                c.separated = true;
                c.parenthesised = true;
                i += 1;
                last = Last::Open;
            }
            Some(b')') if !c.balanced && last == Last::Digit => {
                c.balanced = true;
                i += 1;
                c.end = i;
                last = Last::Close;
            }
            _ => {
                let sep = separator_len(bytes, i);
                let next_ok = digit_at(bytes, i + sep) || at(bytes, i + sep) == Some(b'(');
                if sep > 0 && matches!(last, Last::Digit | Last::Close) && next_ok {
                    c.separated = true;
                    i += sep;
                    last = Last::Separator;
                } else {
                    break;
                }
            }
        }
    }
    c.read_to = i.max(start + 1);
    c
}

/// Whether a number may start at `start` (its `+`, `(` or first digit).
fn start_ok(bytes: &[u8], start: usize) -> bool {
    let prev = before(bytes, start);
    if word_before(bytes, start) || prev == Some(b'+') {
        return false;
    }
    match prev {
        Some(b'-' | b'/' | b'.') if word_before(bytes, start - 1) => return false,
        Some(b',' | b':') if digit_or_mask_before(bytes, start - 1) => return false,
        _ => {}
    }
    !continues_number(bytes, start)
}

/// Whether the characters just before `start` join it to an earlier number: going back over
/// at most a `(`, then a separator, then a `)`, a digit (or U+2022, a masked one) comes next.
/// Reading a number never stops there, so only masked text leaves such a position to start
/// from; refusing it keeps masking idempotent.
fn continues_number(bytes: &[u8], start: usize) -> bool {
    let mut i = start;
    if before(bytes, i) == Some(b'(') {
        i -= 1;
    }
    let sep = separator_len_before(bytes, i);
    if sep == 0 {
        return false;
    }
    i -= sep;
    if before(bytes, i) == Some(b')') {
        i -= 1;
    }
    digit_or_mask_before(bytes, i)
}

/// Whether a number may end at `end`.
fn end_ok(bytes: &[u8], end: usize) -> bool {
    let continues = matches!(at(bytes, end), Some(b'-' | b'/' | b'.' | b',' | b':'))
        && digit_or_mask_at(bytes, end + 1);
    !word_at(bytes, end) && !continues
}

/// Whether U+2022 is one of the three characters from `i`: reading stopped at or just before
/// masked text, where it would have read further before masking.
fn masked_within(text: &str, i: usize) -> bool {
    text.get(i..)
        .is_some_and(|rest| rest.chars().take(3).any(|c| c == MASK_CHAR))
}

/// Finds telephone numbers, appending their byte ranges to `found`.
pub(crate) fn scan(text: &str, found: &mut Vec<Range<usize>>, steps: &mut Steps) {
    let bytes = text.as_bytes();
    let mut url = UrlTracker::default();
    let mut i = 0;
    while let Some(start) = find_byte(bytes, i, steps, |b| {
        b.wrapping_sub(b'0') < 10 || b == b'+' || b == b'('
    }) {
        if at(bytes, start) == Some(b'+') && !digit_at(bytes, start + 1) {
            i = start + 1;
            continue;
        }
        let c = read(bytes, start, steps);
        i = c.read_to;
        let count_ok = if c.plus {
            (PHONE_MIN_INTERNATIONAL_DIGITS..=PHONE_MAX_DIGITS).contains(&c.digits)
        } else {
            c.national_shape() && (PHONE_MIN_NATIONAL_DIGITS..=PHONE_MAX_DIGITS).contains(&c.digits)
        };
        if count_ok
            && c.balanced
            && !masked_within(text, c.read_to)
            && start_ok(bytes, start)
            && end_ok(bytes, c.end)
            && !masked_before(bytes, start)
            && !masked_after(bytes, c.end)
            && !url.in_url(text, start, steps)
        {
            found.push(start..c.end);
        }
    }
}

/// Finds telephone numbers ([`SensitiveKind::PHONE`]); the rules are in SPEC.md §17.2.4.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhoneDetector;

impl Detector for PhoneDetector {
    fn kind(&self) -> SensitiveKind {
        SensitiveKind::PHONE
    }

    fn find(&self, text: &str, found: &mut Vec<Range<usize>>) {
        scan(text, found, &mut Steps::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phones(text: &str) -> Vec<&str> {
        let mut found = Vec::new();
        PhoneDetector.find(text, &mut found);
        found.into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn numbers() {
        for text in [
            "+44 20 7946 0958",
            "+1 (415) 555-2671",
            "(415) 555-2671",
            "(415)555-2671",
            "415-555-2671",
            "+4930123456",
            "030 12345678",
            "01 23 45 67 89",
            "+81 3-1234-5678",
            "+7 495 123-45-67",
            "+33\u{a0}1\u{a0}23\u{a0}45\u{a0}67\u{a0}89",
        ] {
            assert_eq!(phones(&format!("call {text}, thanks")), [text], "{text:?}");
        }
        assert_eq!(phones("Tel:+44 20 7946 0958"), ["+44 20 7946 0958"]);
    }

    #[test]
    fn limits_at_and_past_their_edges() {
        // PHONE_MIN_INTERNATIONAL_DIGITS, PHONE_MIN_NATIONAL_DIGITS, PHONE_MAX_DIGITS.
        assert_eq!(phones("+1234 5678"), ["+1234 5678"]);
        assert!(phones("+123 4567").is_empty());
        assert_eq!(phones("0123 456789"), ["0123 456789"]);
        assert!(phones("0123 45678").is_empty());
        assert_eq!(phones("+12 345 678 901 2345"), ["+12 345 678 901 2345"]);
        assert!(phones("+12 345 678 901 23456").is_empty());
        assert_eq!(phones("0123 456 789 012 34"), ["0123 456 789 012 34"]);
        assert!(phones("0123 456 789 012 345").is_empty());
    }

    #[test]
    fn not_numbers() {
        for text in [
            "4155552671",
            "+1234567",
            "2024-05-01 12:30",
            "192.168.100.200",
            "1,234,567",
            "ORD-415-555-2671",
            "415-555-2671x",
            "+44 20 7946 0958 1234 5678",
            "(415 555-2671",
            "https://example.com/call/+44-20-7946-0958",
            "\u{2022}\u{2022} 415-555-2671",
            "3.14159 2653 58979",
            "7489 1234 5678",
            "978-3-16-148410-0",
            "2024-0042-1234",
            "4242-4242-42",
            "2024-556677",
            "415 555 2671 (\u{2022}\u{2022}",
            // The rest of a number whose start was masked.
            "(\u{2022}\u{2022}\u{2022}\u{2022}4242) 030 1234 5678",
            "\u{2022}\u{2022}42 (030) 1234 5678",
            "+44 20 7946 0958 1234 5678 4242",
        ] {
            assert!(phones(text).is_empty(), "{text:?}: {:?}", phones(text));
        }
    }
}
