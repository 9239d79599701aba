//! A store-and-forward relay for hushwire peers, on TCP with a SQLite store.
//!
//! ```text
//! cargo run --release --bin relay                                       # 127.0.0.1:7070, ./hushwire-relay.sqlite
//! cargo run --release --bin relay -- --listen 0.0.0.0:7070 --db /var/lib/relay.sqlite
//! ```
//!
//! It stores each device's prekeys and hands out one-time prekeys once each, queues sealed
//! envelopes for devices that are offline, and deletes each one when its recipient
//! acknowledges it. The queue survives a restart. See `src/relay.rs` for what
//! it checks and limits, and `src/bin/peer.rs` for a client. Stop it with Ctrl-C.

use hushwire_examples as transport;

use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;

use transport::relay::{self, RelayConfig};

const USAGE: &str = "usage: relay [--listen ADDR] [--db FILE] [--quiet]
  --listen ADDR   address to listen on (default 127.0.0.1:7070)
  --db FILE       SQLite file holding prekeys and queued envelopes
                  (default ./hushwire-relay.sqlite; created if missing)
  --quiet         do not log connections";

fn main() {
    if let Err(e) = run() {
        eprintln!("relay: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 7070).into();
    let mut db = PathBuf::from("hushwire-relay.sqlite");
    let mut log = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let value = args.next().ok_or(USAGE)?;
                listen = value
                    .parse()
                    .map_err(|_| format!("`{value}` is not an address like 127.0.0.1:7070"))?;
            }
            "--db" => db = args.next().ok_or(USAGE)?.into(),
            "--quiet" => log = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}").into()),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut config = RelayConfig::new(listen, db.clone());
        config.log = log;
        let handle = relay::start(config)
            .await
            .map_err(|e| format!("cannot start the relay ({}): {e}", db.display()))?;
        println!(
            "relay listening on {} (store: {}); Ctrl-C to stop",
            handle.addr(),
            db.display()
        );
        tokio::signal::ctrl_c().await?;
        handle.shutdown().await;
        Ok::<(), Box<dyn Error>>(())
    })
}
