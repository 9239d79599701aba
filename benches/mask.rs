//! Sensitive-data masking (SPEC.md §17) beside what it is added to: masking a 200-byte chat
//! message (with and without a card number, default detectors and all four) next to the 1:1
//! encryption of the same message, and throughput on a 1 MiB support transcript.
//!
//! Target (issue P13): under 2 µs per 200-byte message, so masking costs less than encrypting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hushwire::mask::{Masker, Policy};

use common::fixtures::established;

/// Exactly 200 bytes of `text`, padded with spaces.
fn message(text: &str) -> String {
    assert!(text.len() <= 200, "{} bytes", text.len());
    format!("{text:<200}")
}

/// A 200-byte message with no sensitive data.
fn clean() -> String {
    message(
        "Hi, I ordered the blue sweater last week (order 12345) and it still hasn't arrived. \
         Could you check the tracking for me? I'm at home all day tomorrow, thanks!",
    )
}

/// A 200-byte message with a card number.
fn with_card() -> String {
    message(
        "Hi, the payment for order 12345 failed twice. Can you charge my other card instead: \
         4242 4242 4242 4242, exp 12/27? The billing address hasn't changed. Thanks!",
    )
}

/// About 1 MiB of support chat: mostly ordinary lines, some with a card, an IBAN, an
/// address or a phone number.
fn transcript() -> String {
    let lines = [
        "customer: Hi, my parcel with order 4471-2290 hasn't arrived yet, it's been 10 days.",
        "agent: Sorry to hear that! Let me check the tracking number for you.",
        "customer: Sure, take your time. I ordered it on 03.05.2024 at 14:35.",
        "agent: It left our warehouse on May 4th; the carrier shows a delay in Frankfurt.",
        "customer: can I pay the difference with 5555 5555 5555 4444 instead?",
        "agent: Of course. Please never send full card numbers in chat, by the way.",
        "customer: refund to DE89 3704 0044 0532 0130 00 please",
        "customer: you can also email me at ana.lima@example.com or call +44 20 7946 0958",
        "agent: Thanks, the refund of €49.90 is on its way (3-5 business days).",
        "customer: great, thank you so much for the quick help!",
    ];
    let mut out = String::with_capacity(1 << 20);
    let mut i = 0;
    while out.len() < 1 << 20 {
        out.push_str(lines[i % lines.len()]);
        out.push('\n');
        i += 1;
    }
    out
}

fn per_message(c: &mut Criterion) {
    let default = Masker::new();
    let all = Masker::builder()
        .email(Policy::MaskAll)
        .phone(Policy::KeepLast4)
        .build();
    let mut group = c.benchmark_group("mask_200B");
    group.throughput(Throughput::Bytes(200));
    for (name, text) in [("clean", clean()), ("card", with_card())] {
        assert_eq!(text.len(), 200);
        for (config, masker) in [("default", &default), ("all", &all)] {
            group.bench_function(BenchmarkId::new(config, name), |b| {
                b.iter(|| masker.mask(black_box(&text)))
            });
        }
        group.bench_function(BenchmarkId::new("check", name), |b| {
            b.iter(|| default.check(black_box(&text)))
        });
    }
    // What masking is added to: encrypting the same 200 bytes on an established session.
    let (mut rng, mut alice, _bob) = established(21);
    let text = with_card();
    group.bench_function(BenchmarkId::new("encrypt_1to1", "card"), |b| {
        b.iter(|| alice.encrypt(black_box(text.as_bytes()), &mut rng).unwrap())
    });
    group.finish();
}

fn throughput(c: &mut Criterion) {
    let text = transcript();
    let default = Masker::new();
    let all = Masker::builder()
        .email(Policy::MaskAll)
        .phone(Policy::KeepLast4)
        .build();
    let mut group = c.benchmark_group("mask_transcript");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(20);
    for (config, masker) in [("default", &default), ("all", &all)] {
        group.bench_function(BenchmarkId::new(config, "1MiB"), |b| {
            b.iter(|| masker.mask(black_box(&text)))
        });
    }
    group.finish();
}

criterion_group!(benches, per_message, throughput);
criterion_main!(benches);
