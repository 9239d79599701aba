//! Every wire decoder on arbitrary bytes: no panic, strict type checks, and whatever
//! decodes re-encodes to exactly the input.
//!
//! The check lives in `fuzz/checks.rs`, shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_decode(data));
