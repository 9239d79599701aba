//! PostgreSQL for the transport tests, when there is one: `HUSHWIRE_TEST_POSTGRES` names a
//! server (`postgres://USER@HOST:PORT/DB`, a role that may create databases; `.ci/run`'s
//! `postgres` stage starts a throwaway cluster and sets it). Each test gets a database of its
//! own, `hushwire_test_*`, created here. Without the variable the PostgreSQL tests print a
//! notice and pass without running, so `cargo test` works on a machine without PostgreSQL.
//!
//! `HUSHWIRE_TEST_TRANSPORT_STORE=postgres` (with `HUSHWIRE_TEST_POSTGRES`) runs the in-process
//! transport tests on PostgreSQL instead of SQLite.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hushwire_examples::relay::store::StoreUrl;

/// The variable naming the server.
pub(crate) const SERVER_VAR: &str = "HUSHWIRE_TEST_POSTGRES";

/// The server's URL, or `None` after printing that `test` is skipped.
pub(crate) fn server(test: &str) -> Option<String> {
    match std::env::var(SERVER_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("{test}: skipped, {SERVER_VAR} is not set (no PostgreSQL server to use)");
            None
        }
    }
}

/// The store the in-process transport tests use for a relay with data directory `dir`: a
/// PostgreSQL database of its own when asked for (the same one again when the relay restarts
/// on `dir`), else `None` (SQLite in `dir`).
pub(crate) fn transport_store(dir: &Path) -> Option<StoreUrl> {
    if std::env::var("HUSHWIRE_TEST_TRANSPORT_STORE").as_deref() != Ok("postgres") {
        return None;
    }
    let server = std::env::var(SERVER_VAR)
        .unwrap_or_else(|_| panic!("HUSHWIRE_TEST_TRANSPORT_STORE=postgres needs {SERVER_VAR}"));
    let remembered = dir.join("postgres-store-url");
    let url = match std::fs::read_to_string(&remembered) {
        Ok(url) => url,
        Err(_) => {
            let url = fresh_database(&server);
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(&remembered, &url).unwrap();
            url
        }
    };
    Some(StoreUrl::Postgres(url))
}

/// Creates a new, empty database on `server`; returns its URL.
pub(crate) fn fresh_database(server: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "hushwire_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let server_owned = server.to_owned();
    let create = format!("CREATE DATABASE {name}");
    // Its own thread and runtime: callers are sync helpers, often inside a tokio runtime.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (client, connection) =
                tokio_postgres::connect(&server_owned, tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach {SERVER_VAR}: {e}"));
            tokio::spawn(connection);
            client.batch_execute(&create).await.unwrap();
        });
    })
    .join()
    .unwrap();
    let (scheme, rest) = server.split_once("://").unwrap();
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let host = authority.split_once('/').map_or(authority, |(h, _)| h);
    match query {
        Some(q) => format!("{scheme}://{host}/{name}?{q}"),
        None => format!("{scheme}://{host}/{name}"),
    }
}
