//! Replays every fuzz corpus file and every saved crash through the fuzz targets' own checks
//! (`fuzz/checks.rs`), so `cargo test` catches regressions on stable Rust, without libFuzzer.
//!
//! - `fuzz/corpus/<target>/*`: the seed corpora (plus anything a fuzz run added).
//! - `fuzz/regressions/<target>/*`: crashing inputs kept after a fix, if any.
//!
//! Regenerate the seed corpora from the fixtures' genuine messages with
//! `HUSHWIRE_WRITE_CORPUS=1 cargo test --release --test attacks fuzz_corpus -- --ignored write_corpus`
//! after a change to the wire format or the key schedule. Stale files stay valid inputs; the
//! edit-mode seeds (`*-mutate-*`) always start from the fixtures' current messages.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../fuzz/checks.rs"]
mod checks;

use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files directly in `dir`, sorted; none if it does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `target`'s check on every file of `kind` (`corpus` or `regressions`) and fails with
/// the name and hex of each input that panics.
fn replay(kind: &str, target: &str) -> usize {
    let files = files_in(&fuzz_dir().join(kind).join(target));
    let mut failures = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("readable corpus file");
        if let Err(panic) = catch_unwind(|| checks::check(target, &data)) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!(
                "{}: {why}\n  input ({} bytes): {}",
                path.display(),
                data.len(),
                hex::encode(&data)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {kind} inputs of `{target}` fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    files.len()
}

#[test]
fn corpus_decode() {
    assert!(
        replay("corpus", "decode") > 0,
        "fuzz/corpus/decode is empty"
    );
}

#[test]
fn corpus_session_decrypt() {
    assert!(replay("corpus", "session_decrypt") > 0);
}

#[test]
fn corpus_inbound_session() {
    assert!(replay("corpus", "inbound_session") > 0);
}

#[test]
fn corpus_unseal() {
    assert!(replay("corpus", "unseal") > 0);
}

#[test]
fn corpus_group_decrypt() {
    assert!(replay("corpus", "group_decrypt") > 0);
}

#[test]
fn corpus_restore() {
    assert!(replay("corpus", "restore") > 0);
}

#[test]
fn corpus_certificate() {
    assert!(replay("corpus", "certificate") > 0);
}

#[test]
fn corpus_conversation() {
    assert!(replay("corpus", "conversation") > 0);
}

#[test]
fn corpus_attachment() {
    assert!(replay("corpus", "attachment") > 0);
}

#[test]
fn corpus_mask() {
    assert!(replay("corpus", "mask") > 0);
}

#[test]
fn corpus_backup() {
    assert!(replay("corpus", "backup") > 0);
}

#[test]
fn corpus_device_list() {
    assert!(replay("corpus", "device_list") > 0);
}

#[test]
fn corpus_fanout() {
    assert!(replay("corpus", "fanout") > 0);
}

/// Every target in `fuzz/Cargo.toml` is replayed here or by the test named below (a new target
/// cannot be forgotten).
#[test]
fn every_fuzz_target_is_replayed() {
    // The example relay's frame parser: `examples/chat/tests/transport.rs` replays its corpus.
    const REPLAYED_ELSEWHERE: [&str; 1] = ["relay_frame"];
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for line in manifest.lines() {
        if let Some(name) = line.strip_prefix("name = \"") {
            let name = name.trim_end_matches('"');
            if name == "hushwire-fuzz" {
                continue;
            }
            assert!(
                checks::TARGETS.contains(&name) || REPLAYED_ELSEWHERE.contains(&name),
                "fuzz target {name} is not in checks::TARGETS"
            );
        }
    }
}

#[test]
fn regressions() {
    for target in checks::TARGETS {
        replay("regressions", target);
    }
}

/// The seed corpora are genuine: every unmutated genuine message passes its check (a genuine
/// unread message must decrypt), independent of what is on disk.
#[test]
fn seed_inputs_pass() {
    for target in checks::TARGETS {
        for (name, data) in checks::seed_corpus(target) {
            if catch_unwind(|| checks::check(target, &data)).is_err() {
                panic!("seed input {target}/{name} fails its own check");
            }
        }
    }
}

/// Writes the seed corpora to `fuzz/corpus/<target>/` (only with `HUSHWIRE_WRITE_CORPUS=1`).
#[test]
#[ignore = "writes files; run with HUSHWIRE_WRITE_CORPUS=1 -- --ignored"]
fn write_corpus() {
    if std::env::var_os("HUSHWIRE_WRITE_CORPUS").is_none_or(|v| v != "1") {
        eprintln!("set HUSHWIRE_WRITE_CORPUS=1 to write fuzz/corpus/");
        return;
    }
    for target in checks::TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let inputs = checks::seed_corpus(target);
        for (name, data) in &inputs {
            std::fs::write(dir.join(name), data).unwrap();
        }
        eprintln!("wrote {} inputs to {}", inputs.len(), dir.display());
    }
}
