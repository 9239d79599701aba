//! A WebSocket endpoint for the relay, so that a browser (the widget in `examples/widget/`,
//! on hushwire-wasm) can speak the relay protocol: each WebSocket connection is bridged to one
//! plain TCP connection to the relay, bytes for bytes. The browser sends relay frames (length
//! prefix included) as binary messages and reassembles the frames it receives from binary
//! messages cut anywhere. The relay itself is unchanged: it signs the browser in, limits and
//! queues exactly as for any other client.
//!
//! Example-grade, like the rest of this crate: plain `ws://`, meant for loopback, and only in
//! front of a relay started with `--insecure` (the sign-in then signs the relay's nonce alone,
//! with no TLS channel binding). A production deployment would serve `wss://` and bind the
//! sign-in to that TLS connection. Every bridged connection reaches the relay from this
//! process's address, so the relay's per-address sign-in limit counts them together.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::frame::{HEADER_LEN, MAX_FRAME_LEN};

/// Most WebSocket connections bridged at once; past it a new one is closed at once.
pub const MAX_WEBSOCKET_CONNECTIONS: usize = 256;
/// How long a new connection has to complete the WebSocket handshake.
pub const WEBSOCKET_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest WebSocket message accepted from a browser: one whole relay frame.
pub const MAX_WEBSOCKET_MESSAGE_LEN: usize = HEADER_LEN + MAX_FRAME_LEN;
/// Bytes read from the relay per message sent to the browser.
const READ_CHUNK: usize = 64 * 1024;

/// A running WebSocket endpoint.
pub struct WebSocketBridge {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl WebSocketBridge {
    /// The address it listens on (`ws://<addr>/`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and closes every bridged connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Listens for WebSocket connections on `listen` and bridges each to the relay at `relay`
/// (plain TCP).
///
/// # Errors
/// When `listen` cannot be bound.
pub async fn start(listen: SocketAddr, relay: SocketAddr) -> io::Result<WebSocketBridge> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, relay, stopped));
    Ok(WebSocketBridge { addr, stop, task })
}

async fn accept_loop(listener: TcpListener, relay: SocketAddr, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_WEBSOCKET_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // Past the cap the stream is dropped (closed) at once.
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else { continue };
                let stop = stop.clone();
                connections.spawn(async move {
                    let _ = bridge(stream, relay, stop).await;
                    drop(slot);
                });
            }
        }
    }
    connections.shutdown().await;
}

/// Bridges one WebSocket connection to one relay connection until either side closes.
async fn bridge(
    stream: TcpStream,
    relay: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_WEBSOCKET_MESSAGE_LEN))
        .max_frame_size(Some(MAX_WEBSOCKET_MESSAGE_LEN));
    let websocket = timeout(
        WEBSOCKET_HANDSHAKE_TIMEOUT,
        tokio_tungstenite::accept_async_with_config(stream, Some(config)),
    )
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "WebSocket handshake"))?
    .map_err(io::Error::other)?;
    let (mut to_browser, mut from_browser) = websocket.split();
    let (mut from_relay, mut to_relay) = TcpStream::connect(relay).await?.into_split();

    let upstream = async {
        while let Some(message) = from_browser.next().await {
            match message.map_err(io::Error::other)? {
                Message::Binary(bytes) => to_relay.write_all(&bytes).await?,
                // Pings are answered by tungstenite; text is not part of the protocol.
                Message::Ping(_) | Message::Pong(_) => {}
                Message::Text(_) | Message::Close(_) | Message::Frame(_) => break,
            }
        }
        to_relay.shutdown().await
    };
    let downstream = async {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = from_relay.read(&mut buf).await?;
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                break;
            };
            to_browser
                .send(Message::binary(chunk.to_vec()))
                .await
                .map_err(io::Error::other)?;
        }
        to_browser.close().await.map_err(io::Error::other)
    };
    tokio::select! {
        result = upstream => result,
        result = downstream => result,
        _ = stop.changed() => Ok(()),
    }
}
