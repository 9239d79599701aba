//! Byte-level helpers shared by the built-in detectors (SPEC.md §17.2): character classes,
//! the boundary rules, the URL-token tracker and the step counter.
//!
//! Every helper reads through `get`, so a position past either end is simply "no such
//! character": nothing here can panic on any input.

/// U+2022 BULLET, the masking character, in UTF-8.
pub(crate) const BULLET: [u8; 3] = [0xE2, 0x80, 0xA2];

/// Counts the bytes the built-in detectors examine, to check that scanning is linear.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Steps(pub(crate) u64);

impl Steps {
    /// Adds `n` examined bytes.
    #[inline]
    pub(crate) fn add(&mut self, n: usize) {
        self.0 = self.0.saturating_add(n as u64);
    }
}

/// The byte at `i`, if any.
#[inline]
pub(crate) fn at(bytes: &[u8], i: usize) -> Option<u8> {
    bytes.get(i).copied()
}

/// The byte just before `i`, if any.
#[inline]
pub(crate) fn before(bytes: &[u8], i: usize) -> Option<u8> {
    i.checked_sub(1).and_then(|j| at(bytes, j))
}

/// Whether `i` holds an ASCII digit.
#[inline]
pub(crate) fn digit_at(bytes: &[u8], i: usize) -> bool {
    at(bytes, i).is_some_and(|b| b.is_ascii_digit())
}

/// A word character: ASCII letter, digit or `_`.
#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether a word character starts at `i`: an ASCII word character, or U+2022. Masking turns
/// letters and digits into U+2022, so counting it as a word character keeps every boundary
/// decision the same before and after masking (SPEC.md §17.1).
#[inline]
pub(crate) fn word_at(bytes: &[u8], i: usize) -> bool {
    at(bytes, i).is_some_and(is_word) || bullet_at(bytes, i)
}

/// Whether a word character (ASCII word character or U+2022) ends just before `i`.
#[inline]
pub(crate) fn word_before(bytes: &[u8], i: usize) -> bool {
    before(bytes, i).is_some_and(is_word) || bullet_before(bytes, i)
}

/// Whether a digit or U+2022 (a masked digit) starts at `i`.
#[inline]
pub(crate) fn digit_or_mask_at(bytes: &[u8], i: usize) -> bool {
    digit_at(bytes, i) || bullet_at(bytes, i)
}

/// Whether a digit or U+2022 (a masked digit) ends just before `i`.
#[inline]
pub(crate) fn digit_or_mask_before(bytes: &[u8], i: usize) -> bool {
    before(bytes, i).is_some_and(|b| b.is_ascii_digit()) || bullet_before(bytes, i)
}

/// Length of the space-class gap character at `i` (U+0020, U+00A0, U+2007 or U+202F), or 0.
#[inline]
pub(crate) fn space_len_at(bytes: &[u8], i: usize) -> usize {
    match at(bytes, i) {
        Some(0x20) => 1,
        Some(0xC2) if at(bytes, i + 1) == Some(0xA0) => 2,
        Some(0xE2)
            if at(bytes, i + 1) == Some(0x80) && matches!(at(bytes, i + 2), Some(0x87 | 0xAF)) =>
        {
            3
        }
        _ => 0,
    }
}

/// Length of the space-class gap character ending just before `i`, or 0.
#[inline]
pub(crate) fn space_len_before(bytes: &[u8], i: usize) -> usize {
    if before(bytes, i) == Some(0x20) {
        return 1;
    }
    if let Some(j) = i.checked_sub(2)
        && space_len_at(bytes, j) == 2
    {
        return 2;
    }
    if let Some(j) = i.checked_sub(3)
        && space_len_at(bytes, j) == 3
    {
        return 3;
    }
    0
}

/// Length of a separator (a space-class character or `-`) at `i`, or 0.
#[inline]
fn separator_len_at(bytes: &[u8], i: usize) -> usize {
    if at(bytes, i) == Some(b'-') {
        1
    } else {
        space_len_at(bytes, i)
    }
}

/// Length of a separator (a space-class character or `-`) ending just before `i`, or 0.
#[inline]
fn separator_len_before(bytes: &[u8], i: usize) -> usize {
    if before(bytes, i) == Some(b'-') {
        1
    } else {
        space_len_before(bytes, i)
    }
}

/// Whether U+2022 ends just before `i`.
#[inline]
fn bullet_before(bytes: &[u8], i: usize) -> bool {
    i.checked_sub(3)
        .and_then(|j| bytes.get(j..i))
        .is_some_and(|b| b == BULLET)
}

/// Whether U+2022 starts at `i`.
#[inline]
fn bullet_at(bytes: &[u8], i: usize) -> bool {
    bytes
        .get(i..i.saturating_add(3))
        .is_some_and(|b| b == BULLET)
}

/// The masked-neighbour rule before a match starting at `i`: U+2022 right before it, or
/// right before the one separator before it. A match there would be the kept part of an
/// earlier mask joined to the text after it, so masked text stays as it is when masked again.
#[inline]
pub(crate) fn masked_before(bytes: &[u8], i: usize) -> bool {
    bullet_before(bytes, i) || {
        let sep = separator_len_before(bytes, i);
        sep > 0 && bullet_before(bytes, i - sep)
    }
}

/// The masked-neighbour rule after a match ending at `end` (exclusive).
#[inline]
pub(crate) fn masked_after(bytes: &[u8], end: usize) -> bool {
    bullet_at(bytes, end) || {
        let sep = separator_len_at(bytes, end);
        sep > 0 && bullet_at(bytes, end + sep)
    }
}

/// Length of the whitespace character at `i` that ends a URL token (ASCII whitespace or a
/// space-class character), or 0.
#[inline]
fn token_break_len(bytes: &[u8], i: usize) -> usize {
    match at(bytes, i) {
        Some(b'\t' | b'\n' | 0x0B | 0x0C | b'\r') => 1,
        _ => space_len_at(bytes, i),
    }
}

/// Tells whether a position lies in a URL token: a run of non-whitespace characters that
/// contains `://` before that position (SPEC.md §17.1). Equivalently: the last `://` that ends
/// at or before the position is followed by no whitespace up to it. Positions asked about
/// must not decrease; every byte is looked at a bounded number of times in total.
#[derive(Debug, Default)]
pub(crate) struct UrlTracker {
    /// Where the search for the next `:` resumes.
    search_from: usize,
    /// A `://` was seen and no whitespace after it up to `checked_to`.
    open: bool,
    /// Bytes before this, after the last `://`, were checked for whitespace.
    checked_to: usize,
}

impl UrlTracker {
    /// Whether position `pos` (a character boundary) is inside a URL token.
    pub(crate) fn in_url(&mut self, text: &str, pos: usize, steps: &mut Steps) -> bool {
        let bytes = text.as_bytes();
        while self.search_from < pos {
            let Some(colon) = text.get(self.search_from..pos).and_then(|h| h.find(':')) else {
                steps.add(pos - self.search_from);
                self.search_from = pos;
                break;
            };
            let colon = self.search_from + colon;
            steps.add(colon + 1 - self.search_from);
            // A `://` that runs past `pos` is looked at again by a later call.
            if colon + 3 > pos {
                self.search_from = colon;
                break;
            }
            if at(bytes, colon + 1) == Some(b'/') && at(bytes, colon + 2) == Some(b'/') {
                self.open = true;
                self.checked_to = colon + 3;
            }
            self.search_from = colon + 1;
        }
        while self.open && self.checked_to < pos {
            steps.add(1);
            if token_break_len(bytes, self.checked_to) > 0 {
                self.open = false;
            }
            self.checked_to += 1;
        }
        self.open
    }
}

/// Bytes looked at together when searching: a block with no match is skipped with one
/// comparison per byte and no branch, which the compiler turns into vector instructions.
const BLOCK: usize = 16;

/// The position of the first byte at or after `from` for which `hit` holds, counting the
/// bytes passed over.
#[inline]
pub(crate) fn find_byte(
    bytes: &[u8],
    from: usize,
    steps: &mut Steps,
    hit: impl Fn(u8) -> bool,
) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let mut offset = 0;
    let mut blocks = rest.chunks_exact(BLOCK);
    for block in &mut blocks {
        if block.iter().fold(false, |any, &b| any | hit(b)) {
            break;
        }
        offset += BLOCK;
    }
    let found = rest
        .get(offset..)
        .and_then(|tail| tail.iter().position(|&b| hit(b)))
        .map(|p| offset + p);
    steps.add(found.map_or(rest.len(), |p| p + 1));
    found.map(|p| from + p)
}

/// The position of the next ASCII digit at or after `from`, counting the bytes skipped.
#[inline]
pub(crate) fn next_digit(bytes: &[u8], from: usize, steps: &mut Steps) -> Option<usize> {
    find_byte(bytes, from, steps, |b| b.wrapping_sub(b'0') < 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_class_characters_are_recognised_both_ways() {
        for s in [" ", "\u{a0}", "\u{2007}", "\u{202f}"] {
            let text = format!("1{s}2");
            let b = text.as_bytes();
            assert_eq!(space_len_at(b, 1), s.len(), "{s:?}");
            assert_eq!(space_len_before(b, 1 + s.len()), s.len(), "{s:?}");
        }
        assert_eq!(space_len_at(b"1\t2", 1), 0);
        assert_eq!(space_len_at("\u{2008}".as_bytes(), 0), 0);
        assert_eq!(space_len_before(b"", 0), 0);
    }

    #[test]
    fn masked_neighbours_are_seen_directly_and_across_one_separator() {
        let text = "\u{2022}4 \u{2022} 4\u{2022}-4";
        let b = text.as_bytes();
        assert!(masked_before(b, 3));
        assert!(masked_after(b, 4));
        assert!(masked_before(b, 9));
        assert!(!masked_before(b, 0));
        assert!(!masked_after(b, b.len()));
        assert!(!masked_before(b"a 4", 2));
    }

    #[test]
    fn url_tokens_end_at_whitespace() {
        let text = "see https://x.example/4242 and 4242 ftp://y/1\u{a0}2";
        let mut url = UrlTracker::default();
        let mut steps = Steps::default();
        assert!(!url.in_url(text, 4, &mut steps));
        assert!(!url.in_url(text, 9, &mut steps));
        assert!(url.in_url(text, 22, &mut steps));
        assert!(!url.in_url(text, 31, &mut steps));
        assert!(url.in_url(text, 44, &mut steps));
        assert!(!url.in_url(text, 47, &mut steps));
    }

    #[test]
    fn find_byte_crosses_blocks() {
        let mut steps = Steps::default();
        let text = format!("{}7{}8", "a".repeat(40), "b".repeat(3));
        assert_eq!(next_digit(text.as_bytes(), 0, &mut steps), Some(40));
        assert_eq!(next_digit(text.as_bytes(), 41, &mut steps), Some(44));
        assert_eq!(next_digit(text.as_bytes(), 45, &mut steps), None);
        assert_eq!(next_digit(text.as_bytes(), 99, &mut steps), None);
        assert_eq!(steps.0, 41 + 4);
    }
}
