//! Group messages, distributions, roster changes and welcomes into a live group session:
//! only genuine inputs are accepted, once, and every failure leaves the session unchanged.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_group_decrypt(data));
