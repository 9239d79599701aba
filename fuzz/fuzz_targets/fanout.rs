//! Fan-out (SPEC.md §19.5, §19.6): per-device envelopes (`0x91`) and fan-out messages
//! (`0x92`), raw or genuine with edits, decoded and read by a recipient; mismatch answers
//! (`0x93`) decoded and applied by the sender. Only genuine envelopes decrypt, an answer never
//! adds a device no held list carries, and every refusal changes nothing.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_fanout(data));
