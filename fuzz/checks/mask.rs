//! `mask`: sensitive-data masking (SPEC.md §17) on any text, and the secure-field decoder.
//!
//! Input: two mode bytes, then the text (invalid UTF-8 is replaced, as `from_utf8_lossy`
//! does). Mode bits 0–11, three per detector (IBAN, card, e-mail, phone), pick its policy:
//! `value % 5` = off, keep last 4, keep first 6 and last 4, mask all, flag only. Bit 12 adds a
//! custom detector that reports arbitrary (often invalid) ranges taken from the text's bytes.
//! The text's bytes also go to `MaskedField::from_bytes`.
//!
//! Properties: no panic; spans are ordered, on character boundaries and exact in both texts
//! (the masked form is the policy applied to exactly the original span); bytes outside spans
//! are unchanged; the built-in detectors stay within `MAX_SCAN_STEPS_PER_BYTE` (linear time,
//! counted in steps, not wall time); `find` reports the spans `mask` masks; and without the
//! custom detector, masking is idempotent and the receiver-side check accepts its output.
//! A masked field that decodes re-encodes to exactly the input.

use std::ops::Range;

use hushwire::mask::{
    Detector, MAX_SCAN_STEPS_BASE, MAX_SCAN_STEPS_PER_BYTE, MaskedField, Masker, Policy,
    SensitiveKind,
};

/// Reports ranges made from the text's bytes: pairs of bytes as start and length.
struct Arbitrary;

impl Detector for Arbitrary {
    fn kind(&self) -> SensitiveKind {
        SensitiveKind::custom(0xF0).expect("custom range")
    }

    fn find(&self, text: &str, found: &mut Vec<Range<usize>>) {
        for pair in text.as_bytes().chunks_exact(2).take(16) {
            let start = usize::from(pair[0]);
            found.push(start..start + usize::from(pair[1] % 32));
        }
    }
}

fn policy(bits: u16) -> Option<Policy> {
    match bits % 5 {
        0 => None,
        1 => Some(Policy::KeepLast4),
        2 => Some(Policy::KeepFirst6Last4),
        3 => Some(Policy::MaskAll),
        _ => Some(Policy::FlagOnly),
    }
}

fn masker(mode: u16) -> Masker {
    let mut b = Masker::builder();
    let kinds = [
        SensitiveKind::IBAN,
        SensitiveKind::CARD,
        SensitiveKind::EMAIL,
        SensitiveKind::PHONE,
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        b = match (kind, policy((mode >> (3 * i)) & 0b111)) {
            (kind, None) => b.without(kind),
            (SensitiveKind::IBAN, Some(p)) => b.iban(p),
            (SensitiveKind::CARD, Some(p)) => b.card(p),
            (SensitiveKind::EMAIL, Some(p)) => b.email(p),
            (_, Some(p)) => b.phone(p),
        };
    }
    if mode & (1 << 12) != 0 {
        b = b.detector(Arbitrary, Policy::MaskAll);
    }
    b.build()
}

/// Every structural property of masking `text`; returns the masked text. Shared with
/// `tests/properties/mask.rs`.
pub(crate) fn check_structure(masker: &Masker, text: &str) -> String {
    let masked = masker.mask(text);
    let out = masked.text();
    let (mut prev_original, mut prev_masked) = (0, 0);
    for span in masked.spans() {
        let (o, m) = (span.original(), span.masked());
        assert!(prev_original <= o.start && o.start < o.end && o.end <= text.len());
        assert!(prev_masked <= m.start && m.start < m.end && m.end <= out.len());
        assert!(text.is_char_boundary(o.start) && text.is_char_boundary(o.end));
        assert!(out.is_char_boundary(m.start) && out.is_char_boundary(m.end));
        assert_eq!(text[prev_original..o.start], out[prev_masked..m.start]);
        assert_eq!(&out[m.clone()], span.policy().mask(&text[o.clone()]));
        assert_eq!(masked.masked_form(span), &out[m.clone()]);
        // Built-in matches hold no masking character and keep to their kind's characters
        // (a match cut by an earlier detector's may be a part of one, SPEC.md §17.4).
        let original = &text[o.clone()];
        if !span.kind().is_custom() {
            assert!(!original.contains('\u{2022}'), "{span:?}");
        }
        match span.kind() {
            SensitiveKind::CARD => assert!(
                original
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c.is_whitespace()),
                "{original:?}"
            ),
            // Letters and digits, in groups split by a space-class character in the printed
            // form (SPEC.md §17.2.2 step 3), which may be a no-break space.
            SensitiveKind::IBAN => assert!(
                original
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c.is_whitespace()),
                "{original:?}"
            ),
            SensitiveKind::EMAIL => assert!(original.matches('@').count() <= 1, "{original:?}"),
            SensitiveKind::PHONE => assert!(original.chars().any(|c| c.is_ascii_digit())),
            _ => {}
        }
        prev_original = o.end;
        prev_masked = m.end;
    }
    assert_eq!(text[prev_original..], out[prev_masked..]);
    let bound = MAX_SCAN_STEPS_PER_BYTE * text.len() as u64 + MAX_SCAN_STEPS_BASE;
    assert!(
        masked.scan_steps() <= bound,
        "{} steps for {} bytes",
        masked.scan_steps(),
        text.len()
    );
    let found: Vec<_> = masker
        .find(text)
        .into_iter()
        .map(|f| (f.kind(), f.range()))
        .collect();
    let spans: Vec<_> = masked
        .spans()
        .iter()
        .map(|s| (s.kind(), s.original()))
        .collect();
    assert_eq!(found, spans);
    masked.into_text()
}

pub(crate) fn check_mask(data: &[u8]) {
    let Some((mode, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let mode = u16::from_be_bytes(*mode);
    let text = String::from_utf8_lossy(rest);
    let masker = masker(mode);
    let masked = check_structure(&masker, &text);
    if mode & (1 << 12) == 0 {
        let again = check_structure(&masker, &masked);
        assert_eq!(again, masked, "masking is not idempotent on {text:?}");
        assert_eq!(masker.check(&masked), Ok(()), "{masked:?}");
    }

    if let Ok(field) = MaskedField::from_bytes(rest) {
        assert_eq!(field.to_bytes(), rest);
        assert_eq!(MaskedField::from_bytes(&field.to_bytes()), Ok(field));
    }
}

/// Seed inputs: texts with every kind of data, under several configurations.
pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let texts = [
        ("card", "card 4242 4242 4242 4242, exp 12/27 cvc 123"),
        (
            "cards",
            "4111-1111-1111-1111 / 378282246310005 / 3622 720627 1667",
        ),
        (
            "iban",
            "IBAN DE89 3704 0044 0532 0130 00 und gb82west12345698765432",
        ),
        ("email", "write to ana.lima+x@mail.example.co.uk."),
        (
            "phone",
            "+44 20 7946 0958 or (415) 555-2671 or 030 12345678",
        ),
        (
            "url",
            "https://shop.example/o/4242424242424242 +4242424242424242",
        ),
        ("masked", "•••• •••• •••• 4242 and ••••@example.com"),
        ("glued", "4242 4242 4242 4242-ana@example.com"),
        (
            "mixed",
            "Hola, mi tarjeta es 5555\u{a0}5555\u{a0}5555\u{a0}4444 y mi IBAN ES91 2100 0418 \
             4502 0005 1332, カード6011111111111117です",
        ),
    ];
    // Default; everything on; PCI display; flag only everywhere; with the custom detector.
    let modes: [(&str, u16); 5] = [
        ("default", 1 | (1 << 3) | (4 << 6)),
        ("all", 1 | (1 << 3) | (3 << 6) | (1 << 9)),
        ("pci", 2 | (2 << 3) | (3 << 6) | (3 << 9)),
        ("flag", 4 | (4 << 3) | (4 << 6) | (4 << 9)),
        ("custom", 1 | (1 << 3) | (3 << 6) | (1 << 9) | (1 << 12)),
    ];
    let mut out = Vec::new();
    for (text_name, text) in texts {
        for (mode_name, mode) in modes {
            let mut input = mode.to_be_bytes().to_vec();
            input.extend_from_slice(text.as_bytes());
            out.push((format!("{text_name}-{mode_name}"), input));
        }
    }
    // A genuine operator copy (type 0x70), as text.
    let mut field = vec![0, 0, 0x01, 0x70, 0x01, 0x01];
    field.extend_from_slice(&[0x11; 16]);
    field.extend_from_slice(&[0x22; 32]);
    let masked = "•••• •••• •••• 4242".as_bytes();
    field.extend_from_slice(&u16::try_from(masked.len()).expect("short").to_be_bytes());
    field.extend_from_slice(masked);
    out.push(("masked-field".into(), field));
    out
}
