//! Sensitive-data masking on any text under any configuration: exact spans, untouched bytes
//! outside them, idempotence, and a bounded number of scanner steps per byte; and the
//! secure-field decoder's strict round trip.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_mask(data));
