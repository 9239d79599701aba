//! Backup restore (SPEC.md §18) on arbitrary bytes and on a genuine stored backup with edits:
//! no forgery restores, no wrap opens to another key.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_backup(data));
