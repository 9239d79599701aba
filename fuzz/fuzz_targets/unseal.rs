//! Sealed envelopes (single, split and multi-recipient, classical and hybrid) and published
//! envelope keys into open and the recipient's session:
//! only genuine envelopes open, and a failed decrypt leaves the session unchanged.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_unseal(data));
