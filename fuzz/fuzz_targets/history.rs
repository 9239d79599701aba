//! History handover (SPEC.md §20.8): the share (`0x2B`), notice (`0x2C`) and bundle (`0x61`)
//! decoders and the open of a share, on arbitrary bytes and on a genuine export with edits:
//! only the genuine share and object open, to exactly the shared entries; whatever decodes
//! re-encodes to its input.
//!
//! The check lives in `fuzz/checks/` (via `fuzz/checks.rs`), shared with `tests/attacks/fuzz_corpus.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check_history(data));
