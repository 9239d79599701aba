//! The relay's metrics, in the Prometheus text format (version 0.0.4), on their own listener
//! (`--metrics ADDR`, loopback by default in the relay binary): `GET /metrics`.
//!
//! What an operator watches: signed-in connections, queue depth, envelopes accepted and
//! delivered, refusals by reason (the [`ErrorCode`] name), rate-limit hits, erasures. No
//! metric carries a user name, an identity key, an address or any content: the labels are
//! the fixed reason names, nothing a client chooses. Counters count since this node started;
//! the queue depth is read from the store at each scrape (on a shared store, every node's
//! queue together).
//!
//! The listener answers one request per connection (HTTP/1.0 style) within
//! [`SCRAPE_TIMEOUT`], reads at most [`MAX_SCRAPE_REQUEST`] bytes of it, and serves at most
//! [`MAX_SCRAPES_IN_FLIGHT`] at once.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::timeout;

use super::Shared;
use crate::frame::ErrorCode;

/// How long one scrape may take (reading the request, answering).
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes of a scrape request read.
pub const MAX_SCRAPE_REQUEST: usize = 4 * 1024;
/// Most scrapes served at once; more connections wait to be accepted.
pub const MAX_SCRAPES_IN_FLIGHT: usize = 8;

/// One counter per error code byte (0 unused).
const CODES: usize = 256;

/// Counters shared by a node's tasks.
pub(crate) struct Metrics {
    connections: AtomicU64,
    connections_total: AtomicU64,
    accepted: AtomicU64,
    delivered: AtomicU64,
    rate_limited: AtomicU64,
    erasures: AtomicU64,
    rejections: Vec<AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            connections: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            erasures: AtomicU64::new(0),
            rejections: (0..CODES).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub(crate) fn signed_in(&self) {
        bump(&self.connections);
        bump(&self.connections_total);
    }

    pub(crate) fn signed_out(&self) {
        let _ = self
            .connections
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    pub(crate) fn accepted(&self) {
        bump(&self.accepted);
    }

    pub(crate) fn delivered(&self) {
        bump(&self.delivered);
    }

    pub(crate) fn rate_limited(&self) {
        bump(&self.rate_limited);
    }

    pub(crate) fn erased(&self) {
        bump(&self.erasures);
    }

    pub(crate) fn rejected(&self, code: ErrorCode) {
        if let Some(counter) = self.rejections.get(usize::from(code.to_byte())) {
            bump(counter);
        }
    }

    /// The text exposition; `queue_depth` is `None` when the store did not answer.
    fn render(&self, queue_depth: Option<u64>) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        metric(
            "hushwire_relay_connections",
            "gauge",
            "Signed-in connections on this node.",
            get(&self.connections),
        );
        metric(
            "hushwire_relay_sign_ins_total",
            "counter",
            "Connections that signed in since this node started.",
            get(&self.connections_total),
        );
        metric(
            "hushwire_relay_envelopes_accepted_total",
            "counter",
            "Envelopes queued through this node.",
            get(&self.accepted),
        );
        metric(
            "hushwire_relay_deliveries_total",
            "counter",
            "Envelopes delivered by this node (redeliveries included).",
            get(&self.delivered),
        );
        metric(
            "hushwire_relay_rate_limited_total",
            "counter",
            "Times a connection's frames were held back by its rate limit.",
            get(&self.rate_limited),
        );
        metric(
            "hushwire_relay_erasures_total",
            "counter",
            "Erasure requests served.",
            get(&self.erasures),
        );
        if let Some(depth) = queue_depth {
            metric(
                "hushwire_relay_queue_depth",
                "gauge",
                "Envelopes waiting in the store (every node's, on a shared store).",
                depth,
            );
        }
        let _ = writeln!(
            out,
            "# HELP hushwire_relay_rejections_total Requests and connections refused, by reason."
        );
        let _ = writeln!(out, "# TYPE hushwire_relay_rejections_total counter");
        for byte in 1..=u8::MAX {
            let Some(code) = ErrorCode::from_byte(byte) else {
                continue;
            };
            let n = self.rejections.get(usize::from(byte)).map_or(0, get);
            let _ = writeln!(
                out,
                "hushwire_relay_rejections_total{{reason=\"{code:?}\"}} {n}"
            );
        }
        out
    }
}

/// Serves `GET /metrics` on `listener` until `stop`.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_SCRAPES_IN_FLIGHT));
    loop {
        let permit = tokio::select! {
            _ = stop.changed() => return,
            permit = Arc::clone(&slots).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { return };
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _ = timeout(SCRAPE_TIMEOUT, answer(stream, &shared)).await;
            drop(permit);
        });
    }
}

async fn answer(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 512];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_SCRAPE_REQUEST {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let (status, body) = if request.starts_with(b"GET /metrics ") || request == b"GET /metrics" {
        let depth = shared.store.queued_total().await.ok();
        ("200 OK", shared.metrics.render(depth))
    } else {
        ("404 Not Found", "try GET /metrics\n".to_owned())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
