//! E-mail addresses (SPEC.md §17.2.3): a local part of common address characters, `@`, and a
//! domain of at least two labels ending in an alphabetic top-level label.
//!
//! Keyed on `@`: the local part is read backwards from it and the domain forwards, each at
//! most to the next `@` (which belongs to neither), so every byte is read at most twice.

use core::ops::Range;

use super::detector::{Detector, SensitiveKind};
use super::scan::{Steps, at, before, masked_after, masked_before};

/// Longest local part (RFC 5321 §4.5.3.1.1).
pub const EMAIL_MAX_LOCAL_LEN: usize = 64;
/// Longest domain (RFC 5321 §4.5.3.1.2 without the angle brackets).
pub const EMAIL_MAX_DOMAIN_LEN: usize = 253;
/// Longest domain label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// A character of the local part: ASCII letters and digits and `. _ % + -`.
fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// A character of the domain: ASCII letters and digits, `.` and `-`.
fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// Whether `domain` has at least two labels of 1–63 letters, digits and inner hyphens, and
/// a top-level label of 2–63 letters.
fn domain_ok(domain: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in domain.split(|&b| b == b'.') {
        let edges_ok = label.first() != Some(&b'-') && label.last() != Some(&b'-');
        if label.is_empty() || label.len() > MAX_LABEL_LEN || !edges_ok {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

/// Finds e-mail addresses, appending their byte ranges to `found`.
pub(crate) fn scan(text: &str, found: &mut Vec<Range<usize>>, steps: &mut Steps) {
    let bytes = text.as_bytes();
    let mut from = 0;
    // End of the last match: a local part never reaches back into it.
    let mut last_end = 0;
    while let Some(rest) = text.get(from..) {
        let Some(offset) = rest.find('@') else {
            steps.add(rest.len());
            break;
        };
        steps.add(offset + 1);
        let at_sign = from + offset;
        from = at_sign + 1;

        // Local part, backwards, at most one character past the limit.
        let mut start = at_sign;
        while start > last_end
            && at_sign - start <= EMAIL_MAX_LOCAL_LEN
            && at(bytes, start - 1).is_some_and(is_local)
        {
            start -= 1;
        }
        steps.add(at_sign - start);
        // Too long, or the second half of `a@b@c`.
        if at_sign - start > EMAIL_MAX_LOCAL_LEN || before(bytes, start) == Some(b'@') {
            continue;
        }
        // A local part cut short by a masking character would not have been cut there before
        // masking (SPEC.md §17.1): refuse it.
        if masked_before(bytes, start) {
            continue;
        }
        while start < at_sign && at(bytes, start) == Some(b'.') {
            start += 1;
        }
        let Some(local) = bytes.get(start..at_sign) else {
            continue;
        };
        if local.is_empty() || local.last() == Some(&b'.') || local.windows(2).any(|w| w == b"..") {
            continue;
        }

        // Domain, forwards, at most one character past the limit; a final `.` or `-` is
        // punctuation after the address.
        let mut end = from;
        while end - from <= EMAIL_MAX_DOMAIN_LEN && at(bytes, end).is_some_and(is_domain) {
            end += 1;
        }
        steps.add(end - from);
        if end - from > EMAIL_MAX_DOMAIN_LEN || masked_after(bytes, end) {
            continue;
        }
        while end > from && matches!(at(bytes, end - 1), Some(b'.' | b'-')) {
            end -= 1;
        }
        let Some(domain) = bytes.get(from..end) else {
            continue;
        };
        steps.add(domain.len());
        if !domain_ok(domain)
            || at(bytes, end) == Some(b'@')
            || masked_before(bytes, start)
            || masked_after(bytes, end)
        {
            continue;
        }
        found.push(start..end);
        last_end = end;
        from = end;
    }
}

/// Finds e-mail addresses ([`SensitiveKind::EMAIL`]); the rules are in SPEC.md §17.2.3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmailDetector;

impl Detector for EmailDetector {
    fn kind(&self) -> SensitiveKind {
        SensitiveKind::EMAIL
    }

    fn find(&self, text: &str, found: &mut Vec<Range<usize>>) {
        scan(text, found, &mut Steps::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(text: &str) -> Vec<&str> {
        let mut found = Vec::new();
        EmailDetector.find(text, &mut found);
        found.into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn addresses_in_text() {
        assert_eq!(
            emails("write to ana.lima+orders@mail.example.co.uk."),
            ["ana.lima+orders@mail.example.co.uk"]
        );
        assert_eq!(emails("(bob@example.com)"), ["bob@example.com"]);
        assert_eq!(emails("...carol@example.org"), ["carol@example.org"]);
        assert_eq!(
            emails("a@example.com,b@example.net"),
            ["a@example.com", "b@example.net"]
        );
        assert_eq!(emails("メールはtaro@example.jpです"), ["taro@example.jp"]);
        assert_eq!(
            emails("mailto:x_y@sub-domain.example.io"),
            ["x_y@sub-domain.example.io"]
        );
    }

    #[test]
    fn not_addresses() {
        for text in [
            "@mention",
            "foo@bar",
            "foo@localhost",
            "a@b.c",
            "john.@example.com",
            "jo..hn@example.com",
            "john@-example.com",
            "john@example.c0m",
            "john@example..com",
            "a@b.com@c.com",
            "\u{2022}\u{2022}@example.com",
            "x \u{2022} 4242@example.com",
            "user@example.com\u{2022}",
            "user@example.com.\u{2022}\u{2022}",
            "\u{2022}.user@example.com",
        ] {
            assert!(emails(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn limits() {
        let local = "a".repeat(EMAIL_MAX_LOCAL_LEN);
        let text = format!("{local}@example.com");
        assert_eq!(emails(&text), [text.as_str()]);
        let text = format!("a{local}@example.com");
        assert!(emails(&text).is_empty());

        // 253 bytes of domain: 3 labels of 63, one of 61 ("x…" ending in letters).
        let label = "d".repeat(MAX_LABEL_LEN);
        let domain = format!("{label}.{label}.{label}.{}", "c".repeat(61));
        assert_eq!(domain.len(), EMAIL_MAX_DOMAIN_LEN);
        let text = format!("a@{domain}");
        assert_eq!(emails(&text), [text.as_str()]);
        let text = format!("a@e{domain}");
        assert!(emails(&text).is_empty());
        let text = format!("a@{}.com", "l".repeat(MAX_LABEL_LEN + 1));
        assert!(emails(&text).is_empty());
    }
}
