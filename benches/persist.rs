//! State export and import of an established session (encrypted blobs), each beside its
//! floor: deriving the blob key (HKDF) and the AEAD over the encoded state. A restore repeats
//! no curve arithmetic on the keys in an authenticated blob (SPEC.md §11.8), so the import
//! floor has none either. Then the import of a group receiver: Bob's group session in a
//! two-member group, holding Alice's sender key, beside the same floor.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hushwire::group::GroupSession;
use hushwire::persist::Expected;
use hushwire::persist::STATE_OVERHEAD;
use hushwire::{Session, StorageKey};

use common::fixtures::{GroupPair, established};
use common::floor;

fn persist(c: &mut Criterion) {
    let (mut rng, a, _b) = established(10);
    let key = StorageKey::from_bytes([9u8; 32]);
    let blob = a.to_encrypted(&key, 1, &mut rng);
    let mut plain = vec![0u8; blob.len() - STATE_OVERHEAD];
    let header = [0u8; 15];

    let mut group = c.benchmark_group("session_export");
    group.bench_function("hushwire", |bench| {
        bench.iter(|| black_box(&a).to_encrypted(&key, 1, &mut rng))
    });
    group.bench_function("floor", |bench| {
        bench.iter(|| {
            let k = floor::hkdf::<32>(&[0u8; 32], &[9u8; 32], &[b"hushwire/v1/state-key"]);
            let nonce = floor::random::<12>(&mut rng);
            floor::seal(&k, &nonce, &header, &mut plain)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("session_import");
    group.bench_function("hushwire", |bench| {
        let expected = hushwire::persist::Expected::any();
        bench.iter(|| Session::from_encrypted(black_box(&blob), &key, 0, &expected).unwrap())
    });
    group.bench_function("floor", |bench| {
        bench.iter(|| {
            let k = floor::hkdf::<32>(&[0u8; 32], &[9u8; 32], &[b"hushwire/v1/state-key"]);
            let tag: floor::Tag = [0u8; 16];
            floor::open_fails(&k, &[0u8; 12], &header, &mut plain, tag);
        })
    });
    group.finish();

    let GroupPair { bob, .. } = GroupPair::new(&mut rng);
    let blob = bob.to_encrypted(&key, 1, &mut rng);
    let mut plain = vec![0u8; blob.len() - STATE_OVERHEAD];
    let mut group = c.benchmark_group("group_import");
    group.bench_function("hushwire", |bench| {
        let expected = Expected::any();
        bench.iter(|| GroupSession::from_encrypted(black_box(&blob), &key, 0, &expected).unwrap())
    });
    group.bench_function("floor", |bench| {
        bench.iter(|| {
            let k = floor::hkdf::<32>(&[0u8; 32], &[9u8; 32], &[b"hushwire/v1/state-key"]);
            let tag: floor::Tag = [0u8; 16];
            floor::open_fails(&k, &[0u8; 12], &header, &mut plain, tag);
        })
    });
    group.finish();
}

criterion_group!(benches, persist);
criterion_main!(benches);
