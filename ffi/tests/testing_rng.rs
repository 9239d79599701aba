//! The `testing` feature's deterministic RNG (its own process: the seed is global).

#![allow(clippy::unwrap_used, clippy::undocumented_unsafe_blocks, missing_docs)]

use std::ptr::null_mut;

use hushwire_ffi::*;

fn identity_after_seed(seed: u64) -> [u8; 32] {
    hw_testing_seed_rng(seed);
    let mut account = null_mut();
    let mut key = [0u8; 32];
    unsafe {
        assert_eq!(
            hw_account_new(1, &mut account, null_mut()),
            hw_status::HW_OK
        );
        assert_eq!(
            hw_account_identity_key(account, &mut key, null_mut()),
            hw_status::HW_OK
        );
        hw_account_free(account);
    }
    key
}

#[test]
fn a_seed_makes_every_draw_repeatable() {
    assert_eq!(identity_after_seed(5), identity_after_seed(5));
    assert_ne!(identity_after_seed(5), identity_after_seed(6));
}
