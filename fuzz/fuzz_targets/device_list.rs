//! Signed device lists (SPEC.md §19.2, type `0x54`) on arbitrary bytes, genuine lists with
//! edits and validly signed successors: only genuine lists decode, each re-encodes to its
//! input, and a list is accepted against a held one exactly when §19.4 allows it; a refused
//! list changes nothing.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_device_list(data));
