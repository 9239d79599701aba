//! Attachment objects and pointers: only a genuine object decrypts, to its file; whatever is
//! released before a failure is a verified prefix; failed pushes change nothing; pointers
//! decode strictly and re-encode to the input.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_attachment(data));
