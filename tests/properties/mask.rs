//! Properties of masking (SPEC.md §17.4), on texts built from fragments that look like
//! sensitive data, separators, masked text and arbitrary Unicode, under random
//! configurations: the output is valid UTF-8, spans are ordered and exact in both texts,
//! bytes outside spans are untouched, masking is idempotent, the receiver-side check accepts
//! masked output, and the detectors stay within their step bound.

#![cfg(feature = "mask")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use hushwire::mask::{MAX_SCAN_STEPS_PER_BYTE, Masker, Policy, SensitiveKind};
use proptest::prelude::*;

/// The fuzz target's checks (`fuzz/checks/mask.rs`): one definition of the properties.
#[path = "../../fuzz/checks/mask.rs"]
#[allow(dead_code)]
mod mask_checks;

use mask_checks::check_structure;

/// Fragments that exercise the detectors' edges.
const FRAGMENTS: &[&str] = &[
    "4242424242424242",
    "4242 4242 4242 4242",
    "4242-4242-4242-4242",
    "4242\u{a0}4242\u{a0}4242\u{a0}4242",
    "3782 822463 10005",
    "36227206271667",
    "6205500000000000004",
    "4222 2222 2222 2",
    "5555555555554444",
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "gb82 west 1234 5698 7654 32",
    "NO93 8601 1117 947",
    "ana.lima@example.com",
    "x@y.co",
    "+44 20 7946 0958",
    "(415) 555-2671",
    "415-555-2671",
    "030 12345678",
    "https://",
    "://",
    "www.",
    "\u{2022}",
    "\u{2022}\u{2022}\u{2022}\u{2022} ",
    " ",
    "-",
    "\u{a0}",
    "\u{202f}",
    "+",
    "(",
    ")",
    "@",
    ".",
    "_",
    "\n",
    "4",
    "42",
    "4242",
    "0",
    "a",
    "DE",
    "é",
    "日本",
    "🙂",
    "12:30",
    "order",
];

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
        1 => "[0-9 \\-+()@.a-zA-Z\u{2022}\u{a0}]{1,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat())
}

fn policy() -> impl Strategy<Value = Option<Policy>> {
    prop_oneof![
        Just(None),
        Just(Some(Policy::KeepLast4)),
        Just(Some(Policy::KeepFirst6Last4)),
        Just(Some(Policy::MaskAll)),
        Just(Some(Policy::FlagOnly)),
    ]
}

fn masker() -> impl Strategy<Value = Masker> {
    (policy(), policy(), policy(), policy()).prop_map(|(card, iban, email, phone)| {
        let mut b = Masker::builder();
        for (kind, p) in [
            (SensitiveKind::CARD, card),
            (SensitiveKind::IBAN, iban),
            (SensitiveKind::EMAIL, email),
            (SensitiveKind::PHONE, phone),
        ] {
            b = match (kind, p) {
                (k, None) => b.without(k),
                (SensitiveKind::CARD, Some(p)) => b.card(p),
                (SensitiveKind::IBAN, Some(p)) => b.iban(p),
                (SensitiveKind::EMAIL, Some(p)) => b.email(p),
                (_, Some(p)) => b.phone(p),
            };
        }
        b.build()
    })
}

proptest! {
    #![proptest_config(crate::common::proptest_config(2_000))]

    #[test]
    fn masking_is_exact_idempotent_and_bounded(masker in masker(), text in text()) {
        // Exact spans in both texts, untouched bytes outside them, the step bound, and
        // `find` agreeing with `mask`.
        let masked = check_structure(&masker, &text);
        let again = check_structure(&masker, &masked);
        prop_assert_eq!(again, masked.clone());
        // Everything left is flag-only: the receiver-side check accepts the masked text.
        prop_assert_eq!(masker.check(&masked), Ok(()));
    }

    #[test]
    fn planted_cards_and_ibans_are_always_found(
        before in "[a-zA-Z ,.:!?éü日]{0,12}",
        after in "[a-zA-Z ,.:!?éü日]{0,12}",
        pick in 0usize..6,
    ) {
        // A card or IBAN surrounded by ordinary words is found exactly, whatever the words
        // (they may be glued to it only by non-word characters).
        let value = ["4242 4242 4242 4242", "378282246310005", "5555-5555-5555-4444",
            "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "6011 1111 1111 1117"][pick];
        let text = format!("{before} {value} {after}");
        let masked = Masker::new().mask(&text);
        let start = before.len() + 1;
        prop_assert!(masked.spans().iter().any(|s| s.original() == (start..start + value.len())));
        prop_assert!(!masked.text().contains(value));
    }
}

#[test]
fn adversarial_inputs_stay_within_the_step_bound() {
    let masker = Masker::builder()
        .phone(Policy::KeepLast4)
        .email(Policy::MaskAll)
        .build();
    let mut worst = 0.0f64;
    for pattern in [
        "LC55 ",
        "lc55\u{a0}",
        "DE89 ",
        "4 ",
        "4242 ",
        "4242424242424242 ",
        "a@",
        "a.a@a.a ",
        "(1",
        "+1 ",
        "https://4 ",
        "\u{2022}4 ",
        "@bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    ] {
        let text = pattern.repeat(64 * 1024 / pattern.len() + 1);
        check_structure(&masker, &text);
        let steps = masker.mask(&text).scan_steps();
        worst = worst.max(steps as f64 / text.len() as f64);
    }
    println!("worst case: {worst:.2} steps per byte (bound {MAX_SCAN_STEPS_PER_BYTE})");
}
