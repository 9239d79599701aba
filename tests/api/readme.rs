//! The README's two usage examples (Account + Session, then Device) are the crate-level
//! doctests of `src/lib.rs` (which `cargo test` compiles and runs): this test fails if they
//! drift apart.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

/// Every fenced code block in `lines`, as (info string, body lines).
fn fenced_blocks<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(&'a str, Vec<&'a str>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(&str, Vec<&str>)> = None;
    for line in lines {
        let fence = line.trim_start().strip_prefix("```");
        match (open.take(), fence) {
            (None, Some(info)) => open = Some((info.trim(), Vec::new())),
            (None, None) => {}
            (Some(block), Some(_)) => blocks.push(block),
            (Some((info, mut body)), None) => {
                body.push(line);
                open = Some((info, body));
            }
        }
    }
    blocks
}

#[test]
fn readme_usage_matches_crate_doctest() {
    let lib = include_str!("../../src/lib.rs");
    let readme = include_str!("../../README.md");

    // Crate docs: strip `//!`, take the first Rust block, drop the hidden `# ` lines.
    let doc_lines = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l));
    let doctests: Vec<Vec<&str>> = fenced_blocks(doc_lines)
        .into_iter()
        .filter(|(info, _)| info.is_empty() || *info == "rust")
        .map(|(_, body)| {
            body.into_iter()
                .filter(|l| l.trim() != "#" && !l.trim_start().starts_with("# "))
                .collect()
        })
        .collect();
    assert_eq!(
        doctests.len(),
        2,
        "src/lib.rs shows both layers: Account, then Device"
    );
    let usage: Vec<Vec<&str>> = fenced_blocks(readme.lines())
        .into_iter()
        .filter(|(info, _)| *info == "rust")
        .map(|(_, body)| body)
        .take(doctests.len())
        .collect();

    for (usage, doctest) in usage.iter().zip(&doctests) {
        assert_eq!(
            usage.join("\n"),
            doctest.join("\n"),
            "README.md's usage examples differ from the doctests in src/lib.rs: copy them over"
        );
    }
}
