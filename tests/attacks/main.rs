//! Attacker input: one test per attack on sessions and accounts, the fuzz targets' corpora and
//! saved crashes replayed on stable Rust, and Wycheproof's hostile keys and signatures. One test
//! binary; each file is a module sharing `tests/common`.

#[path = "../common/mod.rs"]
mod common;

mod adversarial;
mod fanout;
mod fuzz_corpus;
mod history;
mod link;
mod pq_downgrade;
mod support;
mod wycheproof;
