//! The [`Masker`]: runs the configured detectors over a text, resolves overlaps, and writes
//! the masked text with typed [`Span`]s (SPEC.md §17.3, §17.4).

use core::fmt;
use core::ops::Range;

use super::detector::{Detector, SensitiveKind};
use super::error::MaskCheckError;
use super::policy::Policy;
use super::scan::Steps;
use super::{card, email, iban, phone};

/// The most bytes the built-in detectors together examine per byte of text, plus
/// [`MAX_SCAN_STEPS_BASE`]: the bound [`Masked::scan_steps`] stays under on any input (the
/// fuzz target checks it), which makes masking linear in the length of the text.
pub const MAX_SCAN_STEPS_PER_BYTE: u64 = 32;
/// The constant part of the step bound (see [`MAX_SCAN_STEPS_PER_BYTE`]).
pub const MAX_SCAN_STEPS_BASE: u64 = 64;

/// Where a detector's matches come from.
enum Source {
    Card,
    Iban,
    Email,
    Phone,
    Custom(Box<dyn Detector>),
}

impl Source {
    fn kind(&self) -> SensitiveKind {
        match self {
            Source::Card => SensitiveKind::CARD,
            Source::Iban => SensitiveKind::IBAN,
            Source::Email => SensitiveKind::EMAIL,
            Source::Phone => SensitiveKind::PHONE,
            Source::Custom(d) => d.kind(),
        }
    }

    fn find(&self, text: &str, found: &mut Vec<Range<usize>>, steps: &mut Steps) {
        match self {
            Source::Card => card::scan(text, found, steps),
            Source::Iban => iban::scan(text, found, steps),
            Source::Email => email::scan(text, found, steps),
            Source::Phone => phone::scan(text, found, steps),
            Source::Custom(d) => d.find(text, found),
        }
    }
}

/// One configured detector.
struct Entry {
    source: Source,
    policy: Policy,
}

/// Finds sensitive data in text and masks it before the text is encrypted (or checks text
/// after it was decrypted). Built with [`Masker::builder`]; [`Masker::new`] is the default
/// configuration:
///
/// | Detector | Default |
/// |---|---|
/// | IBANs | [`Policy::KeepLast4`] |
/// | card numbers | [`Policy::KeepLast4`] |
/// | e-mail addresses | [`Policy::FlagOnly`] (support often needs the address; the UI can ask) |
/// | phone numbers | off |
///
/// Detectors run in that order, then the vendor's own in the order they were added. Where
/// matches overlap, the earlier detector's match is kept whole and the later one is cut to
/// its parts outside it (IBANs come first: their check is stronger than the Luhn check of a
/// card number that might lie among their digits). Masking does no I/O, needs no
/// randomness, and takes time linear in the length of the text.
///
/// ```
/// use hushwire::mask::{Masker, Policy, SensitiveKind};
///
/// let masker = Masker::new();
/// let masked = masker.mask("my card is 4242 4242 4242 4242, exp 12/27");
/// assert_eq!(masked.text(), "my card is •••• •••• •••• 4242, exp 12/27");
///
/// let span = &masked.spans()[0];
/// assert_eq!(span.kind(), SensitiveKind::CARD);
/// assert_eq!(span.original(), 11..30);
/// assert_eq!(masked.masked_form(span), "•••• •••• •••• 4242");
///
/// // PCI DSS allows the first six and last four digits to be displayed.
/// let masker = Masker::builder().card(Policy::KeepFirst6Last4).build();
/// assert_eq!(masker.mask("4242424242424242").text(), "424242••••••4242");
/// ```
pub struct Masker {
    entries: Vec<Entry>,
}

impl Default for Masker {
    fn default() -> Self {
        Masker::new()
    }
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| (e.source.kind(), e.policy)))
            .finish()
    }
}

/// Configures a [`Masker`].
#[must_use]
pub struct MaskerBuilder {
    card: Option<Policy>,
    iban: Option<Policy>,
    email: Option<Policy>,
    phone: Option<Policy>,
    custom: Vec<(Box<dyn Detector>, Policy)>,
}

impl Default for MaskerBuilder {
    fn default() -> Self {
        MaskerBuilder {
            card: Some(Policy::KeepLast4),
            iban: Some(Policy::KeepLast4),
            email: Some(Policy::FlagOnly),
            phone: None,
            custom: Vec::new(),
        }
    }
}

impl fmt::Debug for MaskerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskerBuilder")
            .field("card", &self.card)
            .field("iban", &self.iban)
            .field("email", &self.email)
            .field("phone", &self.phone)
            .field("custom", &self.custom.len())
            .finish()
    }
}

impl MaskerBuilder {
    /// Finds card numbers with `policy`.
    pub fn card(mut self, policy: Policy) -> Self {
        self.card = Some(policy);
        self
    }

    /// Finds IBANs with `policy`.
    pub fn iban(mut self, policy: Policy) -> Self {
        self.iban = Some(policy);
        self
    }

    /// Finds e-mail addresses with `policy`.
    pub fn email(mut self, policy: Policy) -> Self {
        self.email = Some(policy);
        self
    }

    /// Finds phone numbers with `policy` (off unless this is called).
    pub fn phone(mut self, policy: Policy) -> Self {
        self.phone = Some(policy);
        self
    }

    /// Turns a built-in detector off (a custom kind is ignored: leave its detector out).
    pub fn without(mut self, kind: SensitiveKind) -> Self {
        match kind {
            SensitiveKind::CARD => self.card = None,
            SensitiveKind::IBAN => self.iban = None,
            SensitiveKind::EMAIL => self.email = None,
            SensitiveKind::PHONE => self.phone = None,
            _ => {}
        }
        self
    }

    /// Adds a vendor's detector with `policy`, after the built-in ones and the custom ones
    /// added before.
    pub fn detector(mut self, detector: impl Detector + 'static, policy: Policy) -> Self {
        self.custom.push((Box::new(detector), policy));
        self
    }

    /// The masker.
    pub fn build(self) -> Masker {
        let builtin = [
            (Source::Iban, self.iban),
            (Source::Card, self.card),
            (Source::Email, self.email),
            (Source::Phone, self.phone),
        ];
        let mut entries: Vec<Entry> = builtin
            .into_iter()
            .filter_map(|(source, policy)| policy.map(|policy| Entry { source, policy }))
            .collect();
        entries.extend(self.custom.into_iter().map(|(d, policy)| Entry {
            source: Source::Custom(d),
            policy,
        }));
        Masker { entries }
    }
}

/// A match found in a text: its kind, its byte range in that text, and the policy that
/// applies to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Finding {
    kind: SensitiveKind,
    policy: Policy,
    range: Range<usize>,
}

impl Finding {
    /// What was found.
    pub fn kind(&self) -> SensitiveKind {
        self.kind
    }

    /// The policy of the detector that found it.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Its byte range in the text.
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }
}

/// A masked (or flagged) span: its kind and policy, its byte range in the original text and
/// its byte range in the masked text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    kind: SensitiveKind,
    policy: Policy,
    original: Range<usize>,
    masked: Range<usize>,
}

impl Span {
    /// What was found.
    pub fn kind(&self) -> SensitiveKind {
        self.kind
    }

    /// The policy applied (with [`Policy::FlagOnly`] the text is unchanged).
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Whether the span was masked (its policy is not [`Policy::FlagOnly`]).
    pub fn is_masked(&self) -> bool {
        self.policy != Policy::FlagOnly
    }

    /// Its byte range in the original text.
    pub fn original(&self) -> Range<usize> {
        self.original.clone()
    }

    /// Its byte range in the masked text ([`Masked::text`]).
    pub fn masked(&self) -> Range<usize> {
        self.masked.clone()
    }
}

/// The result of [`Masker::mask`]: the masked text and its spans, in order and not
/// overlapping. Text outside the spans is copied byte for byte.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct Masked {
    text: String,
    spans: Vec<Span>,
    steps: u64,
}

impl fmt::Debug for Masked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The text is a user's message: only its length is shown.
        f.debug_struct("Masked")
            .field("text_len", &self.text.len())
            .field("spans", &self.spans)
            .finish()
    }
}

impl Masked {
    /// The masked text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The masked text, by value.
    pub fn into_text(self) -> String {
        self.text
    }

    /// The spans found, in order.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Whether anything was masked (flag-only spans leave the text as it was).
    pub fn changed(&self) -> bool {
        self.spans.iter().any(Span::is_masked)
    }

    /// The masked form of `span` (one of [`Masked::spans`]), as it appears in the text.
    pub fn masked_form(&self, span: &Span) -> &str {
        self.text.get(span.masked()).unwrap_or_default()
    }

    /// How many bytes the built-in detectors examined: at most
    /// [`MAX_SCAN_STEPS_PER_BYTE`] × the text length + [`MAX_SCAN_STEPS_BASE`]. Exposed so
    /// that tests and the fuzz target can check that scanning stays linear.
    pub fn scan_steps(&self) -> u64 {
        self.steps
    }
}

/// Keeps the ranges a detector may report: non-empty, in bounds, on character boundaries,
/// each starting at or after the end of the one before.
fn keep_valid(text: &str, found: &mut Vec<Range<usize>>) {
    let mut prev_end = 0;
    found.retain(|r| {
        let ok = r.start < r.end
            && r.start >= prev_end
            && r.end <= text.len()
            && text.is_char_boundary(r.start)
            && text.is_char_boundary(r.end);
        if ok {
            prev_end = r.end;
        }
        ok
    });
}

/// The part of `range` left after cutting: non-significant characters are removed from the
/// ends that were cut (`cut_start`, `cut_end`). `None` if no significant character is left.
fn trim_cut(
    text: &str,
    mut range: Range<usize>,
    cut_start: bool,
    cut_end: bool,
) -> Option<Range<usize>> {
    let piece = text.get(range.clone())?;
    if cut_start {
        let skipped: usize = piece
            .chars()
            .take_while(|c| !c.is_alphanumeric())
            .map(char::len_utf8)
            .sum();
        range.start += skipped;
    }
    if cut_end {
        let piece = text.get(range.clone())?;
        let skipped: usize = piece
            .chars()
            .rev()
            .take_while(|c| !c.is_alphanumeric())
            .map(char::len_utf8)
            .sum();
        range.end -= skipped;
    }
    (range.start < range.end).then_some(range)
}

/// Adds the matches of entry `entry` to the accepted ones. A match that overlaps accepted
/// matches is cut: its parts outside them are kept, trimmed at the cut ends (SPEC.md §17.4),
/// so that nothing a detector found is left in clear. Both lists are sorted and
/// non-overlapping; the result is too.
fn merge(
    text: &str,
    accepted: &mut Vec<(Range<usize>, usize)>,
    found: &[Range<usize>],
    entry: usize,
    scratch: &mut Vec<(Range<usize>, usize)>,
) {
    scratch.clear();
    let mut old = accepted.drain(..).peekable();
    let mut last_end = 0;
    for b in found {
        let mut cursor = b.start.max(last_end);
        while let Some((a, _)) = old.peek() {
            if a.start >= b.end {
                break;
            }
            if a.start > cursor
                && let Some(piece) = trim_cut(text, cursor..a.start, cursor > b.start, true)
            {
                scratch.push((piece, entry));
            }
            cursor = cursor.max(a.end);
            last_end = a.end;
            scratch.extend(old.next());
        }
        if cursor < b.end
            && let Some(piece) = trim_cut(text, cursor..b.end, cursor > b.start, false)
        {
            last_end = piece.end;
            scratch.push((piece, entry));
        }
    }
    scratch.extend(old);
    core::mem::swap(accepted, scratch);
}

impl Masker {
    /// The default configuration (see the table above).
    pub fn new() -> Self {
        MaskerBuilder::default().build()
    }

    /// A builder starting from the default configuration.
    pub fn builder() -> MaskerBuilder {
        MaskerBuilder::default()
    }

    /// The matches of every detector, overlaps resolved, with the index of their entry.
    fn detect(&self, text: &str, steps: &mut Steps) -> Vec<(Range<usize>, usize)> {
        let mut accepted = Vec::new();
        let mut scratch = Vec::new();
        let mut found = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            found.clear();
            entry.source.find(text, &mut found, steps);
            keep_valid(text, &mut found);
            if accepted.is_empty() {
                accepted.extend(found.iter().map(|r| (r.clone(), index)));
            } else if !found.is_empty() {
                merge(text, &mut accepted, &found, index, &mut scratch);
            }
        }
        accepted
    }

    /// Masks `text`: every match of a detector whose policy is not [`Policy::FlagOnly`] is
    /// replaced by its masked form, and every match is reported as a [`Span`].
    ///
    /// Masking the result again gives the same text.
    pub fn mask(&self, text: &str) -> Masked {
        let mut steps = Steps::default();
        let accepted = self.detect(text, &mut steps);
        if accepted.is_empty() {
            return Masked {
                text: text.to_owned(),
                spans: Vec::new(),
                steps: steps.0,
            };
        }
        // A masked character is at most 3 bytes longer than the byte it replaces.
        let grown: usize = accepted.iter().map(|(r, _)| r.len() * 2).sum();
        let mut out = String::with_capacity(text.len() + grown);
        let mut spans = Vec::with_capacity(accepted.len());
        let mut pos = 0;
        for (range, index) in accepted {
            let Some(entry) = self.entries.get(index) else {
                continue;
            };
            out.push_str(text.get(pos..range.start).unwrap_or_default());
            let masked_start = out.len();
            entry
                .policy
                .render_into(text.get(range.clone()).unwrap_or_default(), &mut out);
            spans.push(Span {
                kind: entry.source.kind(),
                policy: entry.policy,
                masked: masked_start..out.len(),
                original: range.clone(),
            });
            pos = range.end;
        }
        out.push_str(text.get(pos..).unwrap_or_default());
        Masked {
            text: out,
            spans,
            steps: steps.0,
        }
    }

    /// The matches in `text`, without masking it: for a UI that asks before sending, or a
    /// receiver that checks decrypted text.
    pub fn find(&self, text: &str) -> Vec<Finding> {
        self.detect(text, &mut Steps::default())
            .into_iter()
            .filter_map(|(range, index)| {
                let entry = self.entries.get(index)?;
                Some(Finding {
                    kind: entry.source.kind(),
                    policy: entry.policy,
                    range,
                })
            })
            .collect()
    }

    /// Checks that `text` holds nothing this masker would mask: for a receiver that refuses
    /// to display or store unmasked card data, even from an old client that did not mask.
    /// Matches of [`Policy::FlagOnly`] detectors are allowed.
    ///
    /// ```
    /// use hushwire::mask::{MaskCheckError, Masker, SensitiveKind};
    ///
    /// let masker = Masker::new();
    /// assert_eq!(masker.check("card ending •••• 4242"), Ok(()));
    /// assert_eq!(
    ///     masker.check("card 4242424242424242"),
    ///     Err(MaskCheckError::Unmasked { kind: SensitiveKind::CARD, start: 5, end: 21 })
    /// );
    /// ```
    ///
    /// # Errors
    /// [`MaskCheckError::Unmasked`] with the kind and byte range of the first such match.
    /// Nothing is changed either way.
    pub fn check(&self, text: &str) -> Result<(), MaskCheckError> {
        match self
            .find(text)
            .into_iter()
            .find(|f| f.policy != Policy::FlagOnly)
        {
            Some(f) => Err(MaskCheckError::Unmasked {
                kind: f.kind,
                start: f.range.start,
                end: f.range.end,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reports whatever ranges it was built with, valid or not.
    struct Fixed(Vec<Range<usize>>);

    impl Detector for Fixed {
        fn kind(&self) -> SensitiveKind {
            SensitiveKind::custom(0x90).unwrap()
        }

        fn find(&self, _text: &str, found: &mut Vec<Range<usize>>) {
            found.extend(self.0.iter().cloned());
        }
    }

    #[test]
    fn faulty_custom_ranges_are_dropped() {
        let text = "aé bc de fg";
        let masker = Masker::builder()
            .detector(
                Fixed(vec![2..3, 0..0, 4..6, 5..7, 7..100, 10..12, 11..12]),
                Policy::MaskAll,
            )
            .build();
        let masked = masker.mask(text);
        let originals: Vec<_> = masked.spans().iter().map(Span::original).collect();
        // 2..3 splits 'é'; 0..0 is empty; 5..7 overlaps 4..6; 7..100 is out of bounds;
        // 11..12 overlaps 10..12.
        assert_eq!(originals, [4..6, 10..12]);
        assert_eq!(masked.text(), "aé •• de ••");
    }

    #[test]
    fn earlier_detectors_win_overlaps() {
        // The card is also a run of digits the custom detector claims, and the custom
        // detector's second range does not overlap anything.
        let text = "4242424242424242 xy";
        let masker = Masker::builder()
            .detector(Fixed(vec![0..4, 17..19]), Policy::MaskAll)
            .build();
        let masked = masker.mask(text);
        let kinds: Vec<_> = masked.spans().iter().map(Span::kind).collect();
        assert_eq!(
            kinds,
            [SensitiveKind::CARD, SensitiveKind::custom(0x90).unwrap()]
        );
        assert_eq!(masked.text(), "••••••••••••4242 ••");
    }

    #[test]
    fn merge_cuts_overlapping_matches() {
        //          0         1         2         3         4
        //          0123456789012345678901234567890123456789012
        let text = "ab 1234 xy-zz 5678 qq.rr 9999 tt uu vv w ok";
        let mut accepted = vec![(3..7, 0), (14..18, 0), (25..29, 0)];
        let mut scratch = Vec::new();
        merge(
            text,
            &mut accepted,
            &[0..2, 5..13, 13..24, 27..33, 40..42],
            1,
            &mut scratch,
        );
        // 5..13 loses 5..7 and keeps "xy-zz" (8..13, the space trimmed); 13..24 loses 14..18
        // and keeps "qq.rr" (19..24); 27..33 keeps "tt " (its own end is not trimmed).
        assert_eq!(
            accepted,
            [
                (0..2, 1),
                (3..7, 0),
                (8..13, 1),
                (14..18, 0),
                (19..24, 1),
                (25..29, 0),
                (30..33, 1),
                (40..42, 1)
            ]
        );
        assert_eq!(trim_cut(text, 29..30, true, true), None);
    }

    #[test]
    fn glued_matches_are_cut_not_dropped() {
        let masker = Masker::builder().email(Policy::MaskAll).build();
        let text = "4242 4242 4242 4242-ana@example.com";
        let masked = masker.mask(text);
        assert_eq!(masked.text(), "•••• •••• •••• 4242-•••@•••••••.•••");
        let spans: Vec<_> = masked
            .spans()
            .iter()
            .map(|s| (s.kind(), s.original()))
            .collect();
        assert_eq!(
            spans,
            [(SensitiveKind::CARD, 0..19), (SensitiveKind::EMAIL, 20..35)]
        );
        assert_eq!(masker.mask(masked.text()).text(), masked.text());
    }

    #[test]
    fn spans_map_both_texts() {
        let text = "IBAN DE89 3704 0044 0532 0130 00 / card 4111-1111-1111-1111.";
        let masked = Masker::new().mask(text);
        assert_eq!(
            masked.text(),
            "IBAN •••• •••• •••• •••• ••30 00 / card ••••-••••-••••-1111."
        );
        for span in masked.spans() {
            assert_eq!(
                masked.masked_form(span),
                span.policy().mask(&text[span.original()])
            );
        }
        assert!(masked.changed());
        assert_eq!(Masker::new().mask(masked.text()).text(), masked.text());
    }

    #[test]
    fn default_configuration_and_debug() {
        let masker = Masker::new();
        assert_eq!(
            format!("{masker:?}"),
            "[(Iban, KeepLast4), (Card, KeepLast4), (Email, FlagOnly)]"
        );
        let masked = masker.mask("ping me at ana@example.com or +44 20 7946 0958");
        assert_eq!(
            masked.text(),
            "ping me at ana@example.com or +44 20 7946 0958"
        );
        assert!(!masked.changed());
        assert_eq!(masked.spans().len(), 1);
        assert_eq!(
            format!("{masked:?}"),
            "Masked { text_len: 46, spans: [Span { kind: Email, policy: FlagOnly, \
             original: 11..26, masked: 11..26 }] }"
        );
        let masker = Masker::builder()
            .phone(Policy::KeepLast4)
            .without(SensitiveKind::EMAIL)
            .build();
        assert_eq!(
            masker
                .mask("ping me at ana@example.com or +44 20 7946 0958")
                .text(),
            "ping me at ana@example.com or +•• •• •••• 0958"
        );
    }

    #[test]
    fn check_allows_flag_only_matches() {
        let masker = Masker::new();
        assert_eq!(masker.check("write to ana@example.com"), Ok(()));
        assert_eq!(
            masker.check("x GB82 WEST 1234 5698 7654 32"),
            Err(MaskCheckError::Unmasked {
                kind: SensitiveKind::IBAN,
                start: 2,
                end: 29
            })
        );
        let found = masker.find("ana@example.com 4242424242424242");
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].kind(), SensitiveKind::CARD);
        assert_eq!(found[1].range(), 16..32);
        assert_eq!(found[1].policy(), Policy::KeepLast4);
    }
}
