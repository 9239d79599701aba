//! Throughput and latency of the example relay on its stores, for BENCHMARKS.md's scale
//! section: 1 node on SQLite, 1 node on PostgreSQL, 2 nodes on one PostgreSQL database (senders
//! on node A, their recipients on node B: every envelope crosses nodes), in one run on one
//! machine, in-process on loopback over TLS.
//!
//! ```text
//! HUSHWIRE_TEST_POSTGRES=postgres://USER@127.0.0.1:PORT/postgres \
//!     cargo run --release -p hushwire-examples --example relay_scale
//! ```
//!
//! `PAIRS` senders each hand `PER_SENDER` sealed envelopes to the relay, one at a time (each
//! waits for `Accepted`); their recipients, online, acknowledge each delivery. Throughput is
//! envelopes per second from the first send to the last delivery; latency is per envelope,
//! from just before its `Send` to its `Deliver` at the recipient (send, store, wake, push).
//! The envelope is one real sealed message sent again and again (the relay does not look
//! inside). The PostgreSQL server (a role that may create databases) gets a fresh database per
//! configuration; without `HUSHWIRE_TEST_POSTGRES` only SQLite runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chacha20::ChaCha20Rng;
use hushwire::Timestamp;
use hushwire_examples::chat::Peer;
use hushwire_examples::client::RelayClient;
use hushwire_examples::relay::store::StoreUrl;
use hushwire_examples::relay::{self, RelayConfig, RelayHandle};
use rand_core::SeedableRng;

const PAIRS: usize = 8;
const PER_SENDER: usize = 500;
const WAIT: Duration = Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn now() -> Timestamp {
    Timestamp::from_unix_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

fn main() {
    hushwire_examples::run_main("relay_scale", run());
}

async fn run() -> Result<(), BoxError> {
    let server = std::env::var("HUSHWIRE_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty());
    println!(
        "relay_scale: {PAIRS} senders x {PER_SENDER} envelopes each to {PAIRS} online recipients, \
         TLS on loopback, 2 tokio worker threads (relays and clients in one process)"
    );
    println!("| setup | envelopes | throughput | p50 latency | p99 latency |");
    println!("|---|---|---|---|---|");
    measure("1 node, SQLite", None, 1).await?;
    match server {
        Some(server) => {
            let db = fresh_database(&server).await?;
            measure("1 node, PostgreSQL", Some(StoreUrl::Postgres(db)), 1).await?;
            let db = fresh_database(&server).await?;
            measure("2 nodes, one PostgreSQL", Some(StoreUrl::Postgres(db)), 2).await?;
        }
        None => println!("(PostgreSQL skipped: HUSHWIRE_TEST_POSTGRES is not set)"),
    }
    Ok(())
}

/// A new database on `server`; its URL.
async fn fresh_database(server: &str) -> Result<String, BoxError> {
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let name = format!("hushwire_bench_{nanos}");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let (base, _) = server
        .rsplit_once('/')
        .ok_or("the server URL needs a /DATABASE")?;
    Ok(format!("{base}/{name}"))
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(dir: &TempDir, store: Option<StoreUrl>) -> RelayConfig {
    let mut config = RelayConfig::new(([127, 0, 0, 1], 0).into(), dir.0.clone());
    config.store = store;
    config.log = false;
    config.frames_per_sec = 100_000;
    config.burst = 100_000;
    config
}

async fn registered(
    name: &str,
    addr: std::net::SocketAddr,
    rng: &mut ChaCha20Rng,
) -> Result<(Peer, RelayClient), BoxError> {
    let mut peer = Peer::new(name, now(), rng)?;
    let link = peer.link(WAIT, false);
    let mut client = peer.connect(addr, &link, false, now()).await?;
    client.receive().await?;
    peer.register(&mut client, now(), rng).await?;
    Ok((peer, client))
}

async fn measure(label: &str, store: Option<StoreUrl>, nodes: usize) -> Result<(), BoxError> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
    let dir = TempDir(std::env::temp_dir().join(format!("hushwire-relay-scale-{nanos}")));
    let mut relays: Vec<RelayHandle> = Vec::new();
    for _ in 0..nodes {
        relays.push(relay::start(config(&dir, store.clone())).await?);
    }
    let send_node = relays.first().ok_or("no relay")?.addr();
    let receive_node = relays.last().ok_or("no relay")?.addr();
    let mut rng = ChaCha20Rng::seed_from_u64(23);
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for i in 0..PAIRS {
        let (mut s, mut sc) = registered(&format!("sender{i}"), send_node, &mut rng).await?;
        let (r, mut rc) = registered(&format!("receiver{i}"), receive_node, &mut rng).await?;
        let sent = s
            .send_text(
                &mut sc,
                &r.name,
                "a typical short chat message",
                now(),
                &mut rng,
            )
            .await?;
        let first = rc.next_delivery(WAIT).await?.ok_or("no first delivery")?;
        rc.ack(first.id).await?;
        senders.push((sc, sent.envelope));
        receivers.push(rc);
    }

    let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let start = Instant::now();
    let mut send_tasks = Vec::new();
    for (mut client, envelope) in senders {
        let sent_at = Arc::clone(&sent_at);
        send_tasks.push(tokio::spawn(async move {
            for _ in 0..PER_SENDER {
                let before = Instant::now();
                let id = client.send(envelope.clone()).await?;
                sent_at.lock().map_err(|_| "poisoned")?.insert(id, before);
            }
            Ok::<_, BoxError>(client)
        }));
    }
    let mut receive_tasks = Vec::new();
    for mut client in receivers {
        receive_tasks.push(tokio::spawn(async move {
            let mut delivered = Vec::with_capacity(PER_SENDER);
            while delivered.len() < PER_SENDER {
                let d = client
                    .next_delivery(WAIT)
                    .await?
                    .ok_or("delivery timed out")?;
                delivered.push((d.id, Instant::now()));
                client.ack(d.id).await?;
            }
            Ok::<_, BoxError>((client, delivered))
        }));
    }
    let mut clients = Vec::new();
    for task in send_tasks {
        clients.push(task.await??);
    }
    let mut delivered = Vec::new();
    for task in receive_tasks {
        let (client, times) = task.await??;
        clients.push(client);
        delivered.extend(times);
    }
    let elapsed = start.elapsed();
    let sent_at = std::mem::take(&mut *sent_at.lock().map_err(|_| "poisoned")?);
    let mut latencies: Vec<Duration> = delivered
        .iter()
        .filter_map(|(id, at)| Some(at.saturating_duration_since(*sent_at.get(id)?)))
        .collect();
    latencies.sort();
    let quantile = |q: f64| {
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(index).copied().unwrap_or_default()
    };
    let total = delivered.len();
    println!(
        "| {label} | {total} | {:.0} envelopes/s | {:.2} ms | {:.2} ms |",
        total as f64 / elapsed.as_secs_f64(),
        quantile(0.50).as_secs_f64() * 1e3,
        quantile(0.99).as_secs_f64() * 1e3,
    );
    for client in clients {
        client.close().await;
    }
    for relay in relays {
        relay.shutdown().await;
    }
    Ok(())
}
