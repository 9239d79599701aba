//! Encrypted state import (accounts, sessions, group sessions) on arbitrary bytes, edited
//! blobs and validly sealed arbitrary snapshots: no forgery restores, restores are fixed points.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_restore(data));
