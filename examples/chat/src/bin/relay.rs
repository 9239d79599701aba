//! A store-and-forward relay for hushwire peers: TLS, with a SQLite store.
//!
//! ```text
//! cargo run --release --bin relay                          # 127.0.0.1:7070, data in ~/.local/share/hushwire-relay
//! cargo run --release --bin relay -- --listen 0.0.0.0:7070 --data /var/lib/hushwire-relay
//! cargo run --release --bin relay -- --store postgres://relay@db.internal/relay --metrics 127.0.0.1:9070
//! ```
//!
//! It stores each device's prekeys and hands out one-time prekeys once each, queues sealed
//! envelopes for devices that are offline, and deletes each one when its recipient
//! acknowledges it. The queue survives a restart, and so does the relay's identity (its keys
//! and TLS certificate, in the data directory, wherever the relay is started from). See
//! `src/relay.rs` for what it checks and limits, and `src/bin/peer.rs` for a client. Stop it
//! with Ctrl-C.
//!
//! Several relay nodes serve the same users when they share one PostgreSQL database
//! (`--store postgres://...`) and one data directory's identity files (copied to each node):
//! see the README's "Running more than one relay" and `src/relay/store.rs`.

use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use hushwire_examples::relay::store::StoreUrl;
use hushwire_examples::relay::{self, DB_FILE, RelayConfig};
use hushwire_examples::tls::show_fingerprint;

/// A store-and-forward relay for hushwire peers (TLS, SQLite).
#[derive(Parser, Debug)]
#[command(name = "relay", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// Data directory: the database, the relay's identity key and its TLS certificate
    /// (created if missing). Default: $XDG_DATA_HOME/hushwire-relay, else
    /// ~/.local/share/hushwire-relay.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Plain TCP instead of TLS (peers need --insecure too): anyone on the path then sees who
    /// signs in and who receives what, when.
    #[arg(long)]
    insecure: bool,
    /// Do not log connections.
    #[arg(long)]
    quiet: bool,
    /// Also accept WebSocket connections (plain ws://) here, for the browser widget
    /// (examples/widget); needs --insecure. See src/websocket.rs.
    #[arg(long, value_name = "ADDR", requires = "insecure")]
    websocket: Option<SocketAddr>,
    /// Where queues, prekeys, registrations, blobs and backups live: sqlite:PATH (default:
    /// relay.sqlite in the data directory) or postgres://USER@HOST:PORT/DB, shared by every
    /// relay node (the database must exist; the relay creates its tables). A password is
    /// better kept in ~/.pgpass or PGPASSWORD than in the URL.
    #[arg(long, value_name = "URL")]
    store: Option<StoreUrl>,
    /// Serve Prometheus metrics at http://ADDR/metrics (keep it on loopback or a private
    /// network: it has no authentication).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9070")]
    metrics: Option<SocketAddr>,
    /// Most connections from one IP address (behind a load balancer that does not pass the
    /// client's address on, every client has the balancer's).
    #[arg(long, value_name = "N", default_value_t = 128)]
    max_per_address: usize,
}

fn default_data_dir() -> Result<PathBuf, String> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|home| PathBuf::from(home).join(".local/share"))
            .ok_or("no HOME or XDG_DATA_HOME: pass --data DIR")?,
    };
    Ok(base.join("hushwire-relay"))
}

fn main() {
    let args = Args::parse();
    hushwire_examples::run_main("relay", run(args));
}

async fn run(args: Args) -> Result<(), Box<dyn Error + Send + Sync>> {
    let data = match args.data {
        Some(dir) => std::path::absolute(&dir)?,
        None => default_data_dir()?,
    };
    let mut config = RelayConfig::new(args.listen, data.clone());
    config.tls = !args.insecure;
    config.log = !args.quiet;
    config.store = args.store.clone();
    config.metrics = args.metrics;
    config.max_per_address = args.max_per_address;
    let handle = relay::start(config).await?;
    let identity = handle.identity();
    println!(
        "relay listening on {} ({}); Ctrl-C to stop",
        handle.addr(),
        if args.insecure {
            "plain TCP: --insecure"
        } else {
            "TLS"
        }
    );
    match &args.store {
        Some(store) => println!("  store:       {store}"),
        None => println!("  data:        {}", data.join(DB_FILE).display()),
    }
    if let Some(at) = handle.metrics_addr() {
        println!("  metrics:     http://{at}/metrics");
    }
    println!(
        "  identity:    {}{}",
        identity.identity_file.display(),
        if identity.created { " (new)" } else { "" }
    );
    println!("  root key:    {}", hex::encode(identity.root));
    if let (Some(fingerprint), Some(file)) = (identity.tls_fingerprint, &identity.tls_cert_file) {
        println!("  certificate: {}", file.display());
        println!("  SHA-256:     {}", show_fingerprint(&fingerprint));
        println!("  (peers pin these when they register: they should see the same)");
    }
    let bridge = match args.websocket {
        Some(listen) => {
            let bridge = hushwire_examples::websocket::start(listen, handle.addr()).await?;
            println!("  websocket:   ws://{}/", bridge.addr());
            Some(bridge)
        }
        None => None,
    };
    tokio::signal::ctrl_c().await?;
    if let Some(bridge) = bridge {
        bridge.shutdown().await;
    }
    handle.shutdown().await;
    Ok(())
}
