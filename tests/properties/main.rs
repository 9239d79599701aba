//! Property tests (proptest): the 1:1 session and wire codecs, groups, masking and recovery.
//! Each module's regressions are kept next to it (`<module>.proptest-regressions`).

#[path = "../common/mod.rs"]
mod common;

mod fanout;
mod group;
mod mask;
mod recovery;
mod session;
