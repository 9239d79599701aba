//! Live-chat support conversations (SPEC.md §20): every new decoder (signed roster `0x25`,
//! roster changes `0x26`–`0x2A`, dispatcher certificate `0x43`, link statement `0x58`) and the
//! operations that take them, on arbitrary bytes and edited genuine structures: no panic, only
//! genuine structures are accepted, refusals change nothing.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_support(data));
