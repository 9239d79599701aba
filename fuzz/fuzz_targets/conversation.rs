//! Structured (`arbitrary`): whole two-party conversations under random schedules of
//! sends, reorders, drops, duplicates, bit flips, splices and persistence, checking the invariants.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_conversation(data));
