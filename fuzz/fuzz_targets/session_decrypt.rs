//! Arbitrary and mutated genuine messages into a live session: only genuine unread
//! messages decrypt, and a failed decrypt leaves the session unchanged.
//!
//! The check lives in `fuzz/checks.rs`, shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_session_decrypt(data));
