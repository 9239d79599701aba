//! What the C ABI adds to a message, in instructions rather than seconds: N same-chain 256 B
//! round trips (one side encrypts, the other decrypts) through the Rust API or through the C
//! ABI, for `valgrind --tool=callgrind`, whose counts do not depend on what else the machine
//! is doing. Run each path with N and with 0 and subtract: the difference over N is the cost
//! of one round trip without the setup.
//!
//! ```text
//! cargo build --release -p hushwire-ffi --example overhead
//! for path in rust ffi; do for n in 0 2000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/overhead $path $n 2>&1 |
//!     grep 'Collected'
//! done; done
//! ```
//!
//! The criterion bench `ffi/benches/round_trip.rs` times the same two loops.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::ptr::null_mut;

use chacha20::ChaCha20Rng;
use hushwire::{Account, Timestamp};
use hushwire_ffi::*;
use rand_core::SeedableRng;

const NOW: u64 = 1_700_000_000;

fn rust(n: usize) {
    let now = Timestamp::from_unix_secs(NOW);
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let alice = Account::new(now, &mut rng);
    let mut bob = Account::new(now, &mut rng);
    bob.generate_one_time_prekeys(1, 1, now, &mut rng).unwrap();
    let mut a = alice
        .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
        .unwrap();
    let first = a.encrypt(b"hi", &mut rng).unwrap();
    let mut b = bob.create_inbound_session(&first, now).unwrap().session;
    let reply = b.encrypt(b"hello", &mut rng).unwrap();
    let _ = a.decrypt(&reply).unwrap();
    let plaintext = [0x42u8; 256];
    for _ in 0..n {
        let m = a.encrypt(black_box(&plaintext), &mut rng).unwrap();
        let _ = black_box(b.decrypt(&m).unwrap());
    }
}

fn ffi(n: usize) {
    // SAFETY: every pointer passed is a live handle or buffer made just before, as the
    // header's contract asks.
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
        hw_bytes_free(&mut bundle);
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
        hw_bytes_free(&mut first);
        hw_bytes_free(&mut plain);
        let mut reply = hw_bytes::EMPTY;
        hw_session_encrypt(b, b"hello".as_ptr(), 5, &mut reply, null_mut());
        let s = hw_session_decrypt(a, reply.data, reply.len, &mut plain, null_mut());
        assert_eq!(s, hw_status::HW_OK);
        hw_bytes_free(&mut reply);
        hw_bytes_free(&mut plain);

        let plaintext = [0x42u8; 256];
        for _ in 0..n {
            let mut m = hw_bytes::EMPTY;
            let s = hw_session_encrypt(a, black_box(plaintext.as_ptr()), 256, &mut m, null_mut());
            assert_eq!(s, hw_status::HW_OK);
            let mut out = hw_bytes::EMPTY;
            let s = hw_session_decrypt(b, m.data, m.len, &mut out, null_mut());
            assert_eq!(s, hw_status::HW_OK);
            hw_bytes_free(&mut m);
            hw_bytes_free(&mut out);
        }
        hw_session_free(a);
        hw_session_free(b);
        hw_account_free(alice);
        hw_account_free(bob);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: overhead rust|ffi N";
    let n: usize = args.get(2).expect(usage).parse().expect(usage);
    match args.get(1).map(String::as_str) {
        Some("rust") => rust(n),
        Some("ffi") => ffi(n),
        _ => panic!("{usage}"),
    }
}
