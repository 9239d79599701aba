//! Precision and recall of the masking detectors on the labelled corpus in
//! `tests/mask_corpus/` (format in its README). Targets (issue P13): recall 100 % on the card
//! and IBAN positives, precision at least 99 %. Print the table with
//! `cargo test --release --test vector_tests mask_corpus -- --nocapture`.

#![cfg(feature = "mask")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use hushwire::mask::{Masker, Policy, SensitiveKind};

const FILES: [&str; 5] = [
    "cards.txt",
    "ibans.txt",
    "emails.txt",
    "phones.txt",
    "negatives.txt",
];

const OPEN: char = '⟦';
const CLOSE: char = '⟧';

/// One case: the text the detectors see and its labelled spans.
struct Case {
    file: &'static str,
    line: usize,
    text: String,
    labels: Vec<(SensitiveKind, Range<usize>)>,
}

fn kind_of(label: &str) -> SensitiveKind {
    match label {
        "card" => SensitiveKind::CARD,
        "iban" => SensitiveKind::IBAN,
        "email" => SensitiveKind::EMAIL,
        "phone" => SensitiveKind::PHONE,
        other => panic!("unknown label {other:?}"),
    }
}

/// Removes the markers of a labelled line, recording where each labelled span ends up.
fn parse(file: &'static str, line: usize, raw: &str) -> Case {
    let raw = raw.replace("\\n", "\n");
    let mut text = String::new();
    let mut labels = Vec::new();
    let mut rest = raw.as_str();
    while let Some(open) = rest.find(OPEN) {
        text.push_str(&rest[..open]);
        let inner = &rest[open + OPEN.len_utf8()..];
        let close = inner
            .find(CLOSE)
            .unwrap_or_else(|| panic!("{file}:{line}: unclosed label"));
        let (label, value) = inner[..close]
            .split_once(':')
            .unwrap_or_else(|| panic!("{file}:{line}: label without kind"));
        let start = text.len();
        text.push_str(value);
        labels.push((kind_of(label), start..text.len()));
        rest = &inner[close + CLOSE.len_utf8()..];
    }
    text.push_str(rest);
    Case {
        file,
        line,
        text,
        labels,
    }
}

fn corpus() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mask_corpus");
    let mut cases = Vec::new();
    for file in FILES {
        let content = std::fs::read_to_string(dir.join(file)).unwrap();
        for (i, raw) in content.lines().enumerate() {
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            cases.push(parse(file, i + 1, raw));
        }
    }
    cases
}

/// Counts per kind. A reported span is a true positive if it overlaps a labelled span of its
/// kind (it masks something real), else a false positive; a labelled span is found if a
/// reported span of its kind covers all of it (none of it is left in clear), else it is a
/// false negative. `exact` counts labelled spans reported with exactly their boundaries.
#[derive(Default)]
struct Counts {
    reported: usize,
    true_positives: usize,
    labelled: usize,
    found: usize,
    exact: usize,
    /// False positives on the lines of `negatives.txt`.
    negatives_false_positives: usize,
    notes: Vec<String>,
}

impl Counts {
    fn false_positives(&self) -> usize {
        self.reported - self.true_positives
    }

    fn false_negatives(&self) -> usize {
        self.labelled - self.found
    }

    fn precision(&self) -> f64 {
        ratio(self.true_positives, self.reported)
    }

    fn recall(&self) -> f64 {
        ratio(self.found, self.labelled)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Runs every detector (phone included) over the corpus and counts, per kind.
fn evaluate() -> (BTreeMap<String, Counts>, usize) {
    let masker = Masker::builder().phone(Policy::KeepLast4).build();
    let cases = corpus();
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    for kind in ["card", "iban", "email", "phone"] {
        counts.insert(kind.into(), Counts::default());
    }
    let name = |k: SensitiveKind| match k {
        SensitiveKind::CARD => "card",
        SensitiveKind::IBAN => "iban",
        SensitiveKind::EMAIL => "email",
        SensitiveKind::PHONE => "phone",
        _ => unreachable!(),
    };
    for case in &cases {
        let found: Vec<(SensitiveKind, Range<usize>)> = masker
            .find(&case.text)
            .into_iter()
            .map(|f| (f.kind(), f.range()))
            .collect();
        let show = |r: &Range<usize>| format!("{:?} in {:?}", &case.text[r.clone()], case.text);
        for (kind, range) in &found {
            let c = counts.get_mut(name(*kind)).unwrap();
            c.reported += 1;
            if case
                .labels
                .iter()
                .any(|(k, l)| k == kind && overlaps(l, range))
            {
                c.true_positives += 1;
            } else {
                if case.file == "negatives.txt" {
                    c.negatives_false_positives += 1;
                }
                c.notes
                    .push(format!("  FP {}:{}: {}", case.file, case.line, show(range)));
            }
        }
        for (kind, label) in &case.labels {
            let c = counts.get_mut(name(*kind)).unwrap();
            c.labelled += 1;
            if found.contains(&(*kind, label.clone())) {
                c.exact += 1;
                c.found += 1;
            } else if let Some((_, r)) = found.iter().find(|(k, r)| k == kind && covers(r, label)) {
                c.found += 1;
                c.notes.push(format!(
                    "  found, wider than labelled {}:{}: {}",
                    case.file,
                    case.line,
                    show(r)
                ));
            } else {
                c.notes
                    .push(format!("  FN {}:{}: {}", case.file, case.line, show(label)));
            }
        }
    }
    (counts, cases.len())
}

#[test]
fn precision_and_recall_per_detector() {
    let (counts, cases) = evaluate();
    println!("mask corpus: {cases} cases (all detectors on, phone included)");
    println!(
        "{:<6} {:>9} {:>6} {:>6} {:>9} {:>5} {:>5} {:>10} {:>8} {:>13}",
        "kind",
        "labelled",
        "found",
        "exact",
        "reported",
        "FP",
        "FN",
        "precision",
        "recall",
        "FP negatives"
    );
    for (kind, c) in &counts {
        println!(
            "{:<6} {:>9} {:>6} {:>6} {:>9} {:>5} {:>5} {:>9.2}% {:>7.2}% {:>13}",
            kind,
            c.labelled,
            c.found,
            c.exact,
            c.reported,
            c.false_positives(),
            c.false_negatives(),
            100.0 * c.precision(),
            100.0 * c.recall(),
            c.negatives_false_positives
        );
    }
    for (kind, c) in &counts {
        if !c.notes.is_empty() {
            println!("{kind}:");
            for note in &c.notes {
                println!("{note}");
            }
        }
    }

    for kind in ["card", "iban"] {
        let c = &counts[kind];
        assert!(c.labelled > 150, "{kind}: corpus too small");
        assert_eq!(c.false_negatives(), 0, "{kind}: recall below 100 %");
        assert!(c.precision() >= 0.99, "{kind}: precision below 99 %");
        assert!(
            c.exact + 2 >= c.labelled,
            "{kind}: spans too often not exact"
        );
    }
    // E-mail and phone detection are heuristics; these floors only catch regressions.
    assert!(counts["email"].recall() >= 0.95 && counts["email"].precision() >= 0.95);
    assert!(counts["phone"].recall() >= 0.90 && counts["phone"].precision() >= 0.85);
}

/// The corpus is what it says: labelled cards pass the Luhn check and labelled IBANs the
/// mod-97 check (computed here, independently of the library), and every file has cases.
#[test]
fn labels_are_well_formed() {
    let cases = corpus();
    for file in FILES {
        assert!(cases.iter().any(|c| c.file == file), "{file} is empty");
    }
    for case in &cases {
        for (kind, range) in &case.labels {
            let value = &case.text[range.clone()];
            if *kind == SensitiveKind::CARD {
                let digits: Vec<u32> = value.chars().filter_map(|c| c.to_digit(10)).collect();
                let luhn: u32 = digits
                    .iter()
                    .rev()
                    .enumerate()
                    .map(|(i, d)| {
                        if i % 2 == 1 {
                            let x = d * 2;
                            if x > 9 { x - 9 } else { x }
                        } else {
                            *d
                        }
                    })
                    .sum();
                assert_eq!(luhn % 10, 0, "{}:{}: {value}", case.file, case.line);
            }
            if *kind == SensitiveKind::IBAN {
                let compact: String = value
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .map(|c| c.to_ascii_uppercase())
                    .collect();
                let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
                let remainder = rearranged.chars().fold(0u32, |r, c| {
                    let v = c.to_digit(36).unwrap();
                    if v < 10 {
                        (r * 10 + v) % 97
                    } else {
                        (r * 100 + v) % 97
                    }
                });
                assert_eq!(remainder, 1, "{}:{}: {value}", case.file, case.line);
            }
        }
    }
}
