//! The C ABI's per-call overhead: the 256 B same-chain round trip (one side encrypts, the
//! other decrypts, no ratchet turn) through `hw_session_encrypt`/`hw_session_decrypt` (with
//! their OS-seeded RNG, locking, output buffers and `hw_bytes_free`'s wiping) beside the same
//! round trip on the Rust API, in the same run. Target: at most 1.1× the Rust API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::undocumented_unsafe_blocks,
    missing_docs
)]
// Every unsafe call below passes handles and buffers the library just returned, or a live
// Rust slice with its length.

use std::hint::black_box;
use std::ptr::null_mut;

use chacha20::ChaCha20Rng;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hushwire::{Account, Session, Timestamp};
use hushwire_ffi::*;
use rand_core::SeedableRng;

const NOW: u64 = 1_700_000_000;
const SIZE: usize = 256;

/// Two established sessions on the Rust API (the first message and a reply already
/// exchanged, so later messages are plain ratchet messages).
fn rust_pair(rng: &mut ChaCha20Rng) -> (Session, Session) {
    let now = Timestamp::from_unix_secs(NOW);
    let alice = Account::new(now, rng);
    let mut bob = Account::new(now, rng);
    bob.generate_one_time_prekeys(1, 1, now, rng).unwrap();
    let mut a = alice
        .create_outbound_session(&bob.published_prekeys().take_bundle(), rng)
        .unwrap();
    let first = a.encrypt(b"hi", rng).unwrap();
    let mut b = bob.create_inbound_session(&first, now).unwrap().session;
    let reply = b.encrypt(b"hello", rng).unwrap();
    let _ = a.decrypt(&reply).unwrap();
    (a, b)
}

fn take(mut b: hw_bytes) {
    unsafe { hw_bytes_free(&mut b) };
}

/// The same through the C ABI.
fn ffi_pair() -> (
    *mut hw_account,
    *mut hw_account,
    *mut hw_session,
    *mut hw_session,
) {
    unsafe {
        let (mut alice, mut bob, mut a, mut b) = (null_mut(), null_mut(), null_mut(), null_mut());
        assert_eq!(
            hw_account_new(NOW, &mut alice, null_mut()),
            hw_status::HW_OK
        );
        assert_eq!(hw_account_new(NOW, &mut bob, null_mut()), hw_status::HW_OK);
        hw_account_generate_one_time_prekeys(bob, 1, 1, NOW, null_mut());
        let mut bundle = hw_bytes::EMPTY;
        hw_account_prekey_bundle(bob, &mut bundle, null_mut());
        let s =
            hw_account_create_outbound_session(alice, bundle.data, bundle.len, &mut a, null_mut());
        assert_eq!(s, hw_status::HW_OK);
        take(bundle);
        let mut first = hw_bytes::EMPTY;
        hw_session_encrypt(a, b"hi".as_ptr(), 2, &mut first, null_mut());
        let mut plain = hw_bytes::EMPTY;
        let s = hw_account_create_inbound_session(
            bob,
            first.data,
            first.len,
            NOW,
            &mut b,
            &mut plain,
            null_mut(),
        );
        assert_eq!(s, hw_status::HW_OK);
        take(first);
        take(plain);
        let mut reply = hw_bytes::EMPTY;
        hw_session_encrypt(b, b"hello".as_ptr(), 5, &mut reply, null_mut());
        let mut plain = hw_bytes::EMPTY;
        let s = hw_session_decrypt(a, reply.data, reply.len, &mut plain, null_mut());
        assert_eq!(s, hw_status::HW_OK);
        take(reply);
        take(plain);
        (alice, bob, a, b)
    }
}

fn round_trip(c: &mut Criterion) {
    let plaintext = vec![0x42u8; SIZE];
    let mut group = c.benchmark_group("ffi_round_trip");
    group.throughput(Throughput::Bytes(SIZE as u64));

    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (mut a, mut b) = rust_pair(&mut rng);
    group.bench_function(BenchmarkId::new("rust_api", "256B"), |bench| {
        bench.iter(|| {
            let m = a.encrypt(black_box(&plaintext), &mut rng).unwrap();
            b.decrypt(&m).unwrap()
        })
    });

    let (alice, bob, fa, fb) = ffi_pair();
    group.bench_function(BenchmarkId::new("c_abi", "256B"), |bench| {
        bench.iter(|| unsafe {
            let mut m = hw_bytes::EMPTY;
            let s = hw_session_encrypt(fa, black_box(plaintext.as_ptr()), SIZE, &mut m, null_mut());
            debug_assert_eq!(s, hw_status::HW_OK);
            let mut out = hw_bytes::EMPTY;
            let s = hw_session_decrypt(fb, m.data, m.len, &mut out, null_mut());
            debug_assert_eq!(s, hw_status::HW_OK);
            hw_bytes_free(&mut m);
            hw_bytes_free(&mut out);
        })
    });
    // What the C ABI adds per drawing call: 32 bytes from the OS, a ChaCha20 RNG keyed with
    // them, and a first draw.
    group.bench_function(BenchmarkId::new("os_seeded_rng", "32B"), |bench| {
        bench.iter(|| {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).unwrap();
            let mut rng = ChaCha20Rng::from_seed(seed);
            let mut out = [0u8; 32];
            rand_core::Rng::fill_bytes(&mut rng, &mut out);
            black_box(out)
        })
    });
    group.finish();
    unsafe {
        hw_session_free(fa);
        hw_session_free(fb);
        hw_account_free(alice);
        hw_account_free(bob);
    }
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
