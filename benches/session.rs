//! 1:1 session (Double Ratchet) benchmarks, each beside its floor: the raw primitive work the
//! design must do for the same operation, measured in the same run. Messages are always in
//! wire form (encoding and parsing count).
//!
//! - `encrypt`, `decrypt`, `round_trip` (same chain) at 32 B, 256 B, 4 KiB and 64 KiB;
//! - `ping_pong`: a ratchet turn on every message (two messages per iteration);
//! - `out_of_order`: N messages decrypted newest first, beside the same N in order;
//! - `aead`: one AEAD seal, RustCrypto (and ring in a `ring` build) (fixed cost at 256 B,
//!   throughput at 64 KiB); `aead_header_key`: a header open with a fresh against a prepared key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;

use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use common::fixtures::{SIZES, established, size_label};
use common::floor::{self, ChainFloor};

fn same_chain(c: &mut Criterion) {
    let chain = ChainFloor::new();
    for (name, seed) in [("encrypt", 1), ("decrypt", 2), ("round_trip", 3)] {
        let mut group = c.benchmark_group(name);
        for size in SIZES {
            let label = size_label(size);
            group.throughput(Throughput::Bytes(size as u64));
            let (mut rng, mut a, mut b) = established(seed);
            let plaintext = vec![0x42u8; size];
            let mut body = plaintext.clone();
            match name {
                "encrypt" => {
                    group.bench_function(BenchmarkId::new("hushwire", &label), |bench| {
                        bench.iter(|| a.encrypt(black_box(&plaintext), &mut rng).unwrap())
                    });
                    group.bench_function(BenchmarkId::new("floor", &label), |bench| {
                        bench.iter(|| chain.encrypt(&mut rng, black_box(&mut body)))
                    });
                }
                "decrypt" => {
                    let mut floor_rng = common::fixtures::rng(9);
                    group.bench_function(BenchmarkId::new("hushwire", &label), |bench| {
                        bench.iter_batched_ref(
                            || a.encrypt(&plaintext, &mut rng).unwrap(),
                            |m| b.decrypt(black_box(m)).unwrap(),
                            BatchSize::SmallInput,
                        )
                    });
                    group.bench_function(BenchmarkId::new("floor", &label), |bench| {
                        bench.iter_batched_ref(
                            || {
                                let mut body = plaintext.clone();
                                (chain.encrypt(&mut floor_rng, &mut body), body)
                            },
                            |(m, body)| chain.decrypt(m, black_box(body)),
                            BatchSize::SmallInput,
                        )
                    });
                }
                _ => {
                    group.bench_function(BenchmarkId::new("hushwire", &label), |bench| {
                        bench.iter(|| {
                            let m = a.encrypt(black_box(&plaintext), &mut rng).unwrap();
                            b.decrypt(&m).unwrap()
                        })
                    });
                    group.bench_function(BenchmarkId::new("floor", &label), |bench| {
                        bench.iter(|| chain.round_trip(&mut rng, black_box(&mut body)))
                    });
                }
            }
        }
        group.finish();
    }
}

/// The cost of one AEAD seal (256 B: mostly fixed cost; 64 KiB: throughput) with a fresh key,
/// as hushwire calls it: RustCrypto's `chacha20poly1305` in every build, ring's too in a
/// `ring` build (BENCHMARKS.md explains the difference). And a 40-byte header opened under
/// a key prepared once against a key prepared per call: what reusing a header key's setup
/// across messages would save.
fn aead_implementations(c: &mut Criterion) {
    let key = [7u8; 32];
    let nonce = [1u8; 12];
    let mut group = c.benchmark_group("aead");
    for size in [256usize, 65536] {
        let mut buf = vec![0u8; size];
        let label = size_label(size);
        group.throughput(Throughput::Bytes(size as u64));
        #[cfg(feature = "ring")]
        group.bench_function(BenchmarkId::new("ring", &label), |bench| {
            bench.iter(|| floor::seal(&key, &nonce, b"ad", black_box(&mut buf)))
        });
        group.bench_function(BenchmarkId::new("rustcrypto", &label), |bench| {
            bench.iter(|| {
                let cipher = ChaCha20Poly1305::new(&key.into());
                cipher
                    .encrypt_inout_detached(&nonce.into(), b"ad", (&mut buf[..]).into())
                    .unwrap()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("aead_header_key");
    let ad = [3u8; floor::HEADER_AD_LEN];
    let mut header = [7u8; floor::HEADER_LEN];
    let tag = floor::seal(&key, &nonce, &ad, &mut header);
    let prepared = floor::prepare(&key);
    group.bench_function(BenchmarkId::new(floor::AEAD_BACKEND, "fresh"), |bench| {
        bench.iter_batched_ref(
            || header,
            |h| floor::open(black_box(&key), &nonce, &ad, h, tag),
            BatchSize::SmallInput,
        )
    });
    group.bench_function(BenchmarkId::new(floor::AEAD_BACKEND, "prepared"), |bench| {
        bench.iter_batched_ref(
            || header,
            |h| floor::open_prepared(black_box(&prepared), &nonce, &ad, h, tag),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_pong");
    let (mut rng, mut a, mut b) = established(4);
    group.bench_function("hushwire", |bench| {
        bench.iter(|| {
            let m = a.encrypt(b"ping", &mut rng).unwrap();
            let _ = black_box(b.decrypt(&m).unwrap());
            let m = b.encrypt(b"pong", &mut rng).unwrap();
            black_box(a.decrypt(&m).unwrap())
        })
    });
    // Per message: the sender generates a ratchet key, does one X25519 DH and one root step,
    // then the same-chain work; the receiver tries the header under its current chain's
    // header key (it fails: a new chain), does one DH and one root step, then the same-chain
    // work. Two messages per iteration.
    let (their, their_public) = floor::x25519_keygen(&mut rng);
    let chain = ChainFloor::new();
    let root = [9u8; 32];
    let mut body = [0u8; 4];
    group.bench_function("floor", |bench| {
        bench.iter(|| {
            for _ in 0..2 {
                let (ours, ours_public) = floor::x25519_keygen(&mut rng);
                let dh = floor::dh(&ours, black_box(&their_public));
                black_box(floor::root_step(&root, &dh));
                let mut m = chain.encrypt(&mut rng, &mut body);

                floor::open_fails(
                    &[4u8; 32],
                    &m.nonce,
                    &[3u8; floor::HEADER_AD_LEN],
                    &mut m.header.clone(),
                    m.header_tag,
                );
                let dh = floor::dh(&their, black_box(&ours_public));
                black_box(floor::root_step(&root, &dh));
                chain.decrypt(&mut m, &mut body);
            }
        })
    });
    group.finish();
}

fn out_of_order(c: &mut Criterion) {
    let mut group = c.benchmark_group("out_of_order");
    group.sample_size(20);
    for count in [40usize, 100, 1000] {
        group.throughput(Throughput::Elements(count as u64));
        for (name, reversed) in [
            ("hushwire_newest_first", true),
            ("hushwire_in_order", false),
        ] {
            group.bench_function(BenchmarkId::new(name, count), |bench| {
                bench.iter_batched(
                    || {
                        let (mut rng, mut a, b) = established(5);
                        let msgs: Vec<Vec<u8>> = (0..count)
                            .map(|_| a.encrypt(&[0u8; 32], &mut rng).unwrap())
                            .collect();
                        (b, msgs)
                    },
                    |(mut b, msgs)| {
                        if reversed {
                            for m in msgs.iter().rev() {
                                let _ = black_box(b.decrypt(m).unwrap());
                            }
                        } else {
                            for m in msgs.iter() {
                                let _ = black_box(b.decrypt(m).unwrap());
                            }
                        }
                        (b, msgs)
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    aead_implementations,
    same_chain,
    ping_pong,
    out_of_order
);
criterion_main!(benches);
