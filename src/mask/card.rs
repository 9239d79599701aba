//! Payment card numbers (SPEC.md §17.2.1): 12 to 19 digits, contiguous or in the usual
//! groupings with spaces or dashes, an issuer prefix of a major network, and the Luhn check.
//!
//! One pass over the text: each run of digit groups is read once and cut into cards from its
//! start; a run that does not start with a card is skipped whole, so no substring of an order
//! id, a phone number or a long digit run is ever tried.

use core::ops::Range;

use zeroize::Zeroize;

use super::detector::{Detector, SensitiveKind};
use super::scan::{
    Steps, UrlTracker, at, before, digit_at, masked_after, masked_before, next_digit, space_len_at,
    word_at, word_before,
};

/// Fewest digits of a card number.
pub const CARD_MIN_DIGITS: usize = 12;
/// Most digits of a card number.
pub const CARD_MAX_DIGITS: usize = 19;
/// Most digit groups one card number is written in (`4-4-4-4-3`).
pub const CARD_MAX_GROUPS: usize = 5;

/// Bit `n` set: `n` digits allowed.
const fn lengths(lo: u32, hi: u32) -> u32 {
    (u32::MAX >> (31 - hi)) & !((1u32 << lo) - 1)
}

const L_VISA: u32 = (1 << 13) | (1 << 16) | (1 << 19);
const L_16: u32 = 1 << 16;
const L_15: u32 = 1 << 15;
const L_16_19: u32 = lengths(16, 19);
const L_14_19: u32 = lengths(14, 19);
const L_12_19: u32 = lengths(12, 19);

/// One issuer prefix range: `digits` leading digits between `lo` and `hi`, and the card
/// lengths allowed with it (bit `n` = `n` digits).
struct Prefix {
    digits: u32,
    lo: u32,
    hi: u32,
    lengths: u32,
}

const fn p(digits: u32, lo: u32, hi: u32, lengths: u32) -> Prefix {
    Prefix {
        digits,
        lo,
        hi,
        lengths,
    }
}

/// Issuer identification number ranges of the major networks (SPEC.md §17.2.1, table 17-1).
/// A number is accepted if any row matches.
const PREFIXES: &[Prefix] = &[
    // Visa
    p(1, 4, 4, L_VISA),
    // Mastercard
    p(2, 51, 55, L_16),
    p(4, 2221, 2720, L_16),
    // American Express
    p(2, 34, 34, L_15),
    p(2, 37, 37, L_15),
    // Discover
    p(4, 6011, 6011, L_16_19),
    p(3, 644, 649, L_16_19),
    p(2, 65, 65, L_16_19),
    // Diners Club International
    p(3, 300, 305, L_14_19),
    p(4, 3095, 3095, L_14_19),
    p(2, 36, 36, L_14_19),
    p(2, 38, 39, L_14_19),
    // JCB
    p(4, 3528, 3589, L_16_19),
    // UnionPay
    p(2, 62, 62, L_16_19),
    p(2, 81, 81, L_16_19),
    // Maestro
    p(2, 50, 50, L_12_19),
    p(2, 56, 58, L_12_19),
    p(1, 6, 6, L_12_19),
    // Mir
    p(4, 2200, 2204, L_16_19),
    // RuPay
    p(2, 60, 60, L_16),
    p(2, 65, 65, L_16),
    p(2, 81, 82, L_16),
    p(3, 508, 508, L_16),
    // Troy
    p(4, 9792, 9792, L_16),
];

/// Whether the digits (values 0–9) start with an issuer prefix allowed at their length.
fn issuer_prefix_ok(digits: &[u8]) -> bool {
    let len = digits.len();
    // The values of the first 1, 2, 3 and 4 digits.
    let mut heads = [u32::MAX; 4];
    let mut value = 0u32;
    for (head, d) in heads.iter_mut().zip(digits) {
        value = value * 10 + u32::from(*d);
        *head = value;
    }
    PREFIXES.iter().any(|row| {
        let head = heads
            .get(row.digits as usize - 1)
            .copied()
            .unwrap_or(u32::MAX);
        row.lo <= head && head <= row.hi && row.lengths & (1 << len) != 0
    })
}

/// The Luhn (mod 10) check over digit values 0–9.
pub(crate) fn luhn_ok(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether these group lengths are a card grouping: one group of 12–19 digits; groups of 4
/// with a last group of 1–4 (12–19 digits in all); or `4-6-5` and `4-6-4`.
fn grouping_ok(groups: &[Range<usize>]) -> bool {
    let total: usize = groups.iter().map(|g| g.len()).sum();
    if !(CARD_MIN_DIGITS..=CARD_MAX_DIGITS).contains(&total) {
        return false;
    }
    match groups {
        [_] => true,
        [a, b, c] if a.len() == 4 && b.len() == 6 && matches!(c.len(), 4 | 5) => true,
        [init @ .., last] => init.iter().all(|g| g.len() == 4) && (1..=4).contains(&last.len()),
        [] => false,
    }
}

/// Whether `groups` (byte ranges of digit groups in `bytes`) form a card number.
fn is_card(bytes: &[u8], groups: &[Range<usize>], steps: &mut Steps) -> bool {
    if !grouping_ok(groups) || !same_separators(bytes, groups) {
        return false;
    }
    let mut digits = [0u8; CARD_MAX_DIGITS];
    let mut n = 0;
    for g in groups {
        for &b in bytes.get(g.clone()).unwrap_or_default() {
            if let Some(slot) = digits.get_mut(n) {
                *slot = b - b'0';
                n += 1;
            }
        }
    }
    steps.add(n * 2);
    let digits_read = digits.get(..n).unwrap_or_default();
    let ok = issuer_prefix_ok(digits_read) && luhn_ok(digits_read);
    digits.zeroize();
    ok
}

/// The separator of a run: spaces (any space-class character) or dashes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Separator {
    Space,
    Dash,
}

/// The separator at `i` and its length, if one is there.
fn separator_at(bytes: &[u8], i: usize) -> Option<(Separator, usize)> {
    if at(bytes, i) == Some(b'-') {
        return Some((Separator::Dash, 1));
    }
    match space_len_at(bytes, i) {
        0 => None,
        len => Some((Separator::Space, len)),
    }
}

/// Reads the run of digit groups starting at `start` into `groups` (cleared first): groups of
/// ASCII digits joined by one separator each, of either kind (a card's own separators must be
/// of one kind: [`same_separators`]). Returns the end of the last group.
///
/// Where a run ends does not depend on where it starts, so masking part of a run (which
/// turns digits into U+2022 and moves where the next run starts) cannot make a new card
/// appear in the rest of it.
fn read_run(
    bytes: &[u8],
    start: usize,
    groups: &mut Vec<Range<usize>>,
    steps: &mut Steps,
) -> usize {
    groups.clear();
    let mut i = start;
    loop {
        let group_start = i;
        while digit_at(bytes, i) {
            i += 1;
        }
        steps.add(i - group_start + 1);
        groups.push(group_start..i);
        match separator_at(bytes, i) {
            Some((_, len)) if digit_at(bytes, i + len) => i += len,
            _ => return i,
        }
    }
}

/// Whether the separators between `groups` are all of one kind (all space-class, or all `-`).
fn same_separators(bytes: &[u8], groups: &[Range<usize>]) -> bool {
    let mut kinds = groups
        .iter()
        .take(groups.len().saturating_sub(1))
        .filter_map(|g| separator_at(bytes, g.end).map(|(kind, _)| kind));
    match kinds.next() {
        Some(first) => kinds.all(|k| k == first),
        None => true,
    }
}

/// Whether a run may start at `i` (its first digit): not after a word character, a `+`
/// (phone numbers), a `-` that follows a word character (hyphenated identifiers, UUIDs) or a
/// masked character, and not inside a URL.
fn run_start_ok(text: &str, i: usize, url: &mut UrlTracker, steps: &mut Steps) -> bool {
    let bytes = text.as_bytes();
    let prev = before(bytes, i);
    if word_before(bytes, i)
        || prev == Some(b'+')
        || (prev == Some(b'-') && word_before(bytes, i - 1))
    {
        return false;
    }
    !masked_before(bytes, i) && !url.in_url(text, i, steps)
}

/// Finds card numbers, appending their byte ranges to `found`.
pub(crate) fn scan(text: &str, found: &mut Vec<Range<usize>>, steps: &mut Steps) {
    let bytes = text.as_bytes();
    let mut url = UrlTracker::default();
    let mut groups: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while let Some(start) = next_digit(bytes, i, steps) {
        let start_ok = run_start_ok(text, start, &mut url, steps);
        let end = read_run(bytes, start, &mut groups, steps);
        i = end;
        // A run glued to a word or to masked text is rejected whole.
        if !start_ok || word_at(bytes, end) || masked_after(bytes, end) {
            continue;
        }
        // Cut cards from the start of the run, longest first; stop at the first group that
        // does not start one.
        let mut k = 0;
        'cards: while k < groups.len() {
            let most = CARD_MAX_GROUPS.min(groups.len() - k);
            for n in (1..=most).rev() {
                let Some(candidate) = groups.get(k..k + n) else {
                    break 'cards;
                };
                if is_card(bytes, candidate, steps) {
                    if let (Some(first), Some(last)) = (candidate.first(), candidate.last()) {
                        found.push(first.start..last.end);
                    }
                    k += n;
                    continue 'cards;
                }
            }
            break;
        }
    }
}

/// Finds payment card numbers ([`SensitiveKind::CARD`]); the rules are in SPEC.md §17.2.1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CardDetector;

impl Detector for CardDetector {
    fn kind(&self) -> SensitiveKind {
        SensitiveKind::CARD
    }

    fn find(&self, text: &str, found: &mut Vec<Range<usize>>) {
        scan(text, found, &mut Steps::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cards(text: &str) -> Vec<&str> {
        let mut found = Vec::new();
        CardDetector.find(text, &mut found);
        found.into_iter().map(|r| &text[r]).collect()
    }

    fn digits(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn length_masks() {
        assert_eq!(L_12_19.count_ones(), 8);
        assert_eq!(L_12_19 & (1 << 11), 0);
        assert_ne!(L_12_19 & (1 << 12), 0);
        assert_ne!(L_12_19 & (1 << 19), 0);
        assert_eq!(L_16_19.count_ones(), 4);
    }

    #[test]
    fn luhn_accepts_published_test_numbers_only() {
        for n in [
            "4242424242424242",
            "378282246310005",
            "6011111111111117",
            "79927398713",
        ] {
            assert!(luhn_ok(&digits(n)), "{n}");
        }
        for n in ["4242424242424241", "79927398710", "1234567812345678"] {
            assert!(!luhn_ok(&digits(n)), "{n}");
        }
    }

    #[test]
    fn issuer_prefixes_and_lengths() {
        // 4242..., 19 digits is a Visa length, 17 is not.
        assert!(issuer_prefix_ok(&digits("4242424242424242")));
        assert!(issuer_prefix_ok(&digits("4000000000000000000")));
        assert!(!issuer_prefix_ok(&digits("42424242424242424")));
        assert!(issuer_prefix_ok(&digits("2221000000000000")));
        assert!(issuer_prefix_ok(&digits("2720990000000000")));
        assert!(!issuer_prefix_ok(&digits("2721000000000000")));
        assert!(!issuer_prefix_ok(&digits("1234567812345670")));
        assert!(!issuer_prefix_ok(&digits("9000000000000000")));
        assert!(issuer_prefix_ok(&digits("9792000000000000")));
        assert!(issuer_prefix_ok(&digits("36227206271667")));
        assert!(issuer_prefix_ok(&digits("630400000000")));
    }

    #[test]
    fn groupings() {
        for text in [
            "4242424242424242",
            "4242 4242 4242 4242",
            "4242-4242-4242-4242",
            "4242\u{a0}4242\u{a0}4242\u{a0}4242",
            "4242 4242\u{202f}4242 4242",
            "3782 822463 10005",
            "3622 720627 1667",
            "6205 5000 0000 0000 004",
        ] {
            assert_eq!(cards(text), [text], "{text:?}");
        }
        for text in [
            "42424 24242 42424 2",
            "4242 4242 4242 42 42",
            "4242-4242 4242-4242",
            "424 242 424 242 4242",
            "4242  4242  4242  4242",
        ] {
            assert!(cards(text).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn limits_at_and_past_their_edges() {
        // CARD_MIN_DIGITS and CARD_MAX_DIGITS (Luhn-valid Maestro and Visa numbers).
        assert_eq!(cards("630400000000"), ["630400000000"]);
        assert!(cards("63040000000").is_empty());
        assert_eq!(cards("4000000000000000006"), ["4000000000000000006"]);
        assert!(cards("60000000000000000007").is_empty());
        // CARD_MAX_GROUPS: five groups make a card, six never do.
        assert_eq!(
            cards("4000 0000 0000 0000 006"),
            ["4000 0000 0000 0000 006"]
        );
        assert!(cards("6 0 0 0 0 0 0 0 0 0 0 0 4").is_empty());
        assert!(cards("6000 0000 0000 4").len() == 1);
        assert!(cards("600 0 000 000 000 4").is_empty());
    }

    #[test]
    fn cards_are_cut_from_the_start_of_a_run() {
        assert_eq!(
            cards("4242 4242 4242 4242 123 and"),
            ["4242 4242 4242 4242"]
        );
        assert_eq!(
            cards("4242424242424242 5555555555554444"),
            ["4242424242424242", "5555555555554444"]
        );
        // The run does not start with a card: nothing in it is tried.
        assert!(cards("1234 4242 4242 4242 4242").is_empty());
        // A run goes on across both kinds of separators (a card's own are of one kind), so
        // the 13-digit Visa after the dash is in the rest of the run, not a run of its own;
        // found by the fuzz target (masking the first card made it one).
        assert_eq!(
            cards("4242 4242 4242 4242-2 4242722444241"),
            ["4242 4242 4242 4242"]
        );
        assert!(cards("\u{2022}\u{2022}\u{2022}\u{2022} 4242-2 4242722444241").is_empty());
        assert!(cards("42424242424242424242").is_empty());
    }

    #[test]
    fn exclusions() {
        for text in [
            "+4242424242424242",
            "+1 4242 4242 4242 4242",
            "id4242424242424242",
            "4242424242424242x",
            "ref-4242424242424242",
            "https://shop.example/orders/4242424242424242",
            "see http://x/?a=1&n=4242 4242 4242 4242",
            "\u{2022}\u{2022}\u{2022}\u{2022} 4242 4242 4242 4242",
            "4242424242424242 \u{2022}",
            "4242424242424241",
        ] {
            assert!(cards(text).is_empty(), "{text:?}");
        }
        assert_eq!(
            cards("https://x.example/ 4242424242424242"),
            ["4242424242424242"]
        );
        assert_eq!(cards("(4242424242424242)."), ["4242424242424242"]);
        assert_eq!(
            cards("カード番号は4242424242424242です"),
            ["4242424242424242"]
        );
    }
}
