//! Arbitrary and mutated genuine prekey messages into an account: only genuine ones
//! start a session, and a failure leaves the account's prekeys unchanged.
//!
//! The check lives in `fuzz/checks.rs`, shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_inbound_session(data));
