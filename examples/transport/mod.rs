//! The example transport, shared by `examples/relay.rs`, `examples/peer.rs`,
//! `examples/demo.rs` and `tests/transport.rs` (each includes it with `#[path]`):
//!
//! - [`frame`]: the length-prefixed frame codec (std only; also used by the fuzz target
//!   `relay_frame`);
//! - [`relay`]: the store-and-forward relay (tokio, SQLite);
//! - [`client`]: the relay protocol's client side;
//! - [`chat`]: a chat peer on top of the client and hushwire.
//!
//! Everything that touches a socket, a clock or a file is here or in the example binaries;
//! hushwire itself does no I/O.

// Each program that includes this module uses a different part of it.
#![allow(dead_code)]

pub(crate) mod chat;
pub(crate) mod client;
pub(crate) mod frame;
pub(crate) mod relay;
