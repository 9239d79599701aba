//! Fixed test vectors (`tests/vectors/`, SPEC.md §10.11) and the masking corpus: each module
//! regenerates its files in memory and fails on any difference (`HUSHWIRE_REGENERATE_VECTORS=1`
//! rewrites them instead). Attachment and backup vectors are checked beside their scenarios in
//! the `api` target. Not named `vectors`: `tests/vectors/` is the data folder.

#[path = "../common/mod.rs"]
mod common;

mod device_list;
mod fanout;
mod group;
mod history;
mod link;
mod mask;
mod mask_corpus;
mod pq_session;
mod reset;
mod sealed;
mod session;
mod support;
mod verify;
