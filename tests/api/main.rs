//! Scenario and API tests: whole conversations, peers and accounts, prekeys, persistence and
//! recovery, groups, sealed envelopes, verification, attachments, backups and masking, as an
//! app uses them. One test binary; each file is a module sharing `tests/common`.

#[path = "../common/mod.rs"]
mod common;

mod attachment;
mod backup;
mod conversation;
mod devices;
mod fanout;
mod group;
mod history;
mod link;
mod mask;
mod peers;
mod persistence;
mod pq_sessions;
mod prekeys;
mod readme;
mod records;
mod recovery;
mod sas;
mod sealed;
mod sealed_hybrid;
mod support;
mod verify;
