//! Server, sender and identity certificates, issuer keys, safety-number QR payloads and SAS
//! messages: strict round-trip decoding, only genuine certificates verify, and only genuine
//! messages complete a SAS run.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_certificate(data));
