//! Server, sender and identity certificates, issuer keys and safety-number QR payloads:
//! strict round-trip decoding, and only genuine certificates verify.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_certificate(data));
