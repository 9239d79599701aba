//! hushwire's example transport: what the relay (`src/bin/relay.rs`), the peer
//! (`src/bin/peer.rs`), the demo (`examples/demo.rs`) and `tests/transport.rs` share.
//!
//! - [`frame`]: the length-prefixed frame codec (std only; also used by the fuzz target
//!   `relay_frame`);
//! - [`relay`]: the store-and-forward relay (tokio; SQLite, or PostgreSQL for several nodes);
//! - [`client`]: the relay protocol's client side;
//! - [`chat`]: a chat peer on top of the client and hushwire (text, files, masked text and
//!   secure fields for a payment vault, groups, resets, and its key backup);
//! - [`body`]: what a 1:1 message carries (text, a file's pointer, a masked field);
//! - [`tls`]: TLS set-up, certificate pinning and the sign-in channel binding;
//! - [`websocket`]: a WebSocket endpoint in front of the relay, for the browser widget.
//!
//! Everything that touches a socket, a clock or a file is here or in the example binaries;
//! hushwire itself does no I/O.

pub mod body;
pub mod chat;
pub mod client;
pub mod frame;
pub mod relay;
pub mod tls;
pub mod websocket;

use std::fmt::Display;
use std::time::{SystemTime, UNIX_EPOCH};

use hushwire::Timestamp;

/// The wall clock as a hushwire [`Timestamp`]: hushwire never reads the clock itself, the
/// programs around it pass the time in.
pub fn unix_now() -> Timestamp {
    Timestamp::from_unix_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

/// The local wall-clock time of day, for logs (`14:03:07.250`).
pub fn local_time() -> String {
    chrono::Local::now().format("%H:%M:%S%.3f").to_string()
}

/// A unix time as local date and time (`2026-05-01 14:03`).
pub fn local_date_time(unix_secs: u64) -> String {
    use chrono::TimeZone as _;
    i64::try_from(unix_secs)
        .ok()
        .and_then(|secs| chrono::Local.timestamp_opt(secs, 0).single())
        .map_or_else(
            || format!("unix time {unix_secs}"),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
}

/// Runs an example program's async body on a two-thread tokio runtime; on an error, prints
/// `program: error` and exits with status 1.
pub fn run_main<E: Display>(program: &str, body: impl Future<Output = Result<(), E>>) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{program}: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(body) {
        eprintln!("{program}: {e}");
        std::process::exit(1);
    }
}
