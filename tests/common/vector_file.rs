//! The committed test-vector files under `tests/vectors/`: each vector test builds its JSON
//! document from the library and an independent reference, then either compares it with the
//! committed file (the default) or rewrites the file (`HUSHWIRE_REGENERATE_VECTORS=1`, for an
//! intended wire or KDF change, reviewed in the diff).
//!
//! A module of `tests/common`, used by the vector tests.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use serde_json::Value;

/// Set to `1` to rewrite the vector files instead of checking them.
pub const REGENERATE_ENV: &str = "HUSHWIRE_REGENERATE_VECTORS";

/// Whether this run rewrites the vector files.
pub fn regenerating() -> bool {
    std::env::var_os(REGENERATE_ENV).is_some_and(|v| v == "1")
}

/// `tests/vectors/<subdir>` (`subdir` may be empty).
pub fn vectors_dir(subdir: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("vectors");
    if subdir.is_empty() {
        root
    } else {
        root.join(subdir)
    }
}

/// The `.json` files in `tests/vectors/<subdir>`, sorted: for the tests that every vector
/// file there is one a test checks.
pub fn json_file_names(subdir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(vectors_dir(subdir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// Pretty JSON with a final newline: the canonical form of a vector file.
pub fn canonical_text(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

/// Checks `tests/vectors/<subdir>/<name>.json` against `text` (or writes it when
/// regenerating); on a difference, panics naming the first JSON path that differs and both
/// values there.
pub fn check_vector_file(subdir: &str, name: &str, text: &str) {
    let dir = vectors_dir(subdir);
    let path = dir.join(format!("{name}.json"));
    if regenerating() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run with {REGENERATE_ENV}=1 to create it",
            path.display()
        )
    });
    if committed == text {
        return;
    }
    let parsed: Value = serde_json::from_str(&committed)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
    let fresh: Value = serde_json::from_str(text).unwrap();
    match first_difference("$", &parsed, &fresh) {
        Some((at, old, new)) => panic!(
            "{} differs from the regenerated vectors at {at}:\n  committed:   {old}\n  \
             regenerated: {new}\nIf the change is intended (a wire or KDF change), rerun with \
             {REGENERATE_ENV}=1 and review the diff.",
            path.display()
        ),
        None => panic!(
            "{} has the same content but not the canonical formatting; rerun with \
             {REGENERATE_ENV}=1",
            path.display()
        ),
    }
}

/// The path and values at the first place two JSON documents differ.
pub fn first_difference(path: &str, a: &Value, b: &Value) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = first_difference(&p, v, w) {
                            return Some(d);
                        }
                    }
                    None => return Some((p, "present".into(), "missing".into())),
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| (format!("{path}.{k}"), "missing".into(), "present".into()))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(&format!("{path}[{i}]"), v, w) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| {
                (
                    format!("{path} (length)"),
                    x.len().to_string(),
                    y.len().to_string(),
                )
            })
        }
        _ => (a != b).then(|| {
            let short = |v: &Value| {
                let s = v.to_string();
                match s.get(..200) {
                    Some(head) if s.len() > 200 => format!("{head}..."),
                    _ => s,
                }
            };
            (path.to_owned(), short(a), short(b))
        }),
    }
}
