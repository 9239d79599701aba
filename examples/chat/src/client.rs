//! The client side of the relay protocol: connect, prove the device identity, then requests
//! (one at a time) and a stream of deliveries. It moves bytes only; what they mean is up to
//! the caller (see `chat.rs`).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use hushwire::IdentityKeyPair;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::frame::{ErrorCode, Frame, FrameError, HEADER_LEN, body_len};

/// Why a relay operation failed, worded for the person at the keyboard.
#[derive(Debug)]
pub enum ClientError {
    /// The TCP connection could not be made.
    Connect(SocketAddr, std::io::Error),
    /// The relay did not answer in time.
    Timeout(&'static str),
    /// The connection broke.
    Io(std::io::Error),
    /// The relay closed the connection.
    Closed,
    /// The relay refused the request.
    Relay(ErrorCode),
    /// The relay sent something this client does not understand.
    Protocol(&'static str),
    /// A frame that could not be encoded or decoded.
    Frame(FrameError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect(addr, e) => write!(
                f,
                "cannot reach the relay at {addr} ({e}); is it running? \
                 start one with `cargo run --release --bin relay`"
            ),
            ClientError::Timeout(what) => write!(f, "the relay did not answer in time ({what})"),
            ClientError::Io(e) => write!(f, "connection to the relay failed: {e}"),
            ClientError::Closed => write!(f, "the relay closed the connection"),
            ClientError::Relay(code) => write!(f, "the relay refused: {code}"),
            ClientError::Protocol(what) => write!(f, "unexpected answer from the relay: {what}"),
            ClientError::Frame(e) => write!(f, "bad frame: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// What the relay said when the device signed in.
#[derive(Clone, Copy, Debug)]
pub struct Welcome {
    /// The root (id and key) the relay's sender certificates chain to.
    pub root_id: u32,
    pub root: [u8; 32],
    /// Envelopes waiting for this device.
    pub queued: u32,
}

/// An envelope the relay delivered; acknowledge it with [`RelayClient::ack`] once handled.
pub struct Delivery {
    pub id: u64,
    pub envelope: Vec<u8>,
}

/// A signed-in connection to a relay.
pub struct RelayClient {
    writer: OwnedWriteHalf,
    responses: mpsc::Receiver<Frame>,
    deliveries: mpsc::Receiver<Delivery>,
    reader: JoinHandle<()>,
    welcome: Welcome,
    wait: Duration,
}

impl Drop for RelayClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_frame(read: &mut OwnedReadHalf) -> Result<Frame, ClientError> {
    let mut header = [0u8; HEADER_LEN];
    read.read_exact(&mut header).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ClientError::Closed
        } else {
            ClientError::Io(e)
        }
    })?;
    let len = body_len(header).map_err(ClientError::Frame)?;
    let mut body = vec![0u8; len];
    read.read_exact(&mut body)
        .await
        .map_err(|_| ClientError::Closed)?;
    Frame::decode(&body).map_err(ClientError::Frame)
}

async fn write_frame(write: &mut OwnedWriteHalf, frame: &Frame) -> Result<(), ClientError> {
    let bytes = frame.encode().map_err(ClientError::Frame)?;
    write.write_all(&bytes).await.map_err(ClientError::Io)
}

impl RelayClient {
    /// Connects to `addr` and signs in as `identity`. `wait` bounds the connection and every
    /// request.
    ///
    /// # Errors
    /// [`ClientError::Connect`] if nothing listens there, [`ClientError::Relay`] with
    /// `Unauthorized` if the relay refuses the signature, and the other variants.
    pub async fn connect(
        addr: SocketAddr,
        identity: &IdentityKeyPair,
        wait: Duration,
    ) -> Result<RelayClient, ClientError> {
        let stream = match timeout(wait, TcpStream::connect(addr)).await {
            Err(_) => return Err(ClientError::Timeout("connect")),
            Ok(Err(e)) => return Err(ClientError::Connect(addr, e)),
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        let (mut read, mut writer) = stream.into_split();
        let challenge = timeout(wait, read_frame(&mut read))
            .await
            .map_err(|_| ClientError::Timeout("challenge"))??;
        let Frame::Challenge { nonce } = challenge else {
            return Err(match challenge {
                Frame::Error(code) => ClientError::Relay(code),
                _ => ClientError::Protocol("expected a challenge"),
            });
        };
        let auth = Frame::Auth {
            identity: identity.public().to_bytes(),
            signature: identity.sign_relay_challenge(&nonce),
        };
        write_frame(&mut writer, &auth).await?;
        let answer = timeout(wait, read_frame(&mut read))
            .await
            .map_err(|_| ClientError::Timeout("sign-in"))??;
        let welcome = match answer {
            Frame::Welcome {
                root_id,
                root,
                queued,
            } => Welcome {
                root_id,
                root,
                queued,
            },
            Frame::Error(code) => return Err(ClientError::Relay(code)),
            _ => return Err(ClientError::Protocol("expected a welcome")),
        };
        let (response_tx, responses) = mpsc::channel(8);
        let (delivery_tx, deliveries) = mpsc::channel(1_024);
        let reader = tokio::spawn(async move {
            while let Ok(frame) = read_frame(&mut read).await {
                let sent = match frame {
                    Frame::Deliver { id, envelope } => {
                        delivery_tx.send(Delivery { id, envelope }).await.is_ok()
                    }
                    other => response_tx.send(other).await.is_ok(),
                };
                if !sent {
                    return;
                }
            }
        });
        Ok(RelayClient {
            writer,
            responses,
            deliveries,
            reader,
            welcome,
            wait,
        })
    }

    pub fn welcome(&self) -> Welcome {
        self.welcome
    }

    /// Sends a request and waits for its answer.
    async fn request(&mut self, frame: Frame) -> Result<Frame, ClientError> {
        write_frame(&mut self.writer, &frame).await?;
        match timeout(self.wait, self.responses.recv()).await {
            Err(_) => Err(ClientError::Timeout("request")),
            Ok(None) => Err(ClientError::Closed),
            Ok(Some(Frame::Error(code))) => Err(ClientError::Relay(code)),
            Ok(Some(answer)) => Ok(answer),
        }
    }

    async fn expect_ok(&mut self, frame: Frame) -> Result<(), ClientError> {
        match self.request(frame).await? {
            Frame::Ok => Ok(()),
            _ => Err(ClientError::Protocol("expected ok")),
        }
    }

    /// Registers this device under `name`.
    pub async fn register(&mut self, name: &str) -> Result<(), ClientError> {
        self.expect_ok(Frame::Register(name.to_owned())).await
    }

    /// Publishes one prekey bundle (the relay keeps its parts).
    pub async fn publish_bundle(&mut self, bundle: Vec<u8>) -> Result<(), ClientError> {
        self.expect_ok(Frame::PublishBundle(bundle)).await
    }

    /// A prekey bundle of the device `identity` (its one-time prekeys are handed out once).
    pub async fn fetch_bundle(&mut self, identity: [u8; 32]) -> Result<Vec<u8>, ClientError> {
        match self.request(Frame::FetchBundle(identity)).await? {
            Frame::Bundle(bytes) => Ok(bytes),
            _ => Err(ClientError::Protocol("expected a bundle")),
        }
    }

    /// The identity key registered under `name`.
    pub async fn lookup(&mut self, name: &str) -> Result<[u8; 32], ClientError> {
        match self.request(Frame::Lookup(name.to_owned())).await? {
            Frame::Identity(key) => Ok(key),
            _ => Err(ClientError::Protocol("expected an identity")),
        }
    }

    /// A fresh sender certificate for this device.
    pub async fn certificate(&mut self) -> Result<Vec<u8>, ClientError> {
        match self.request(Frame::GetCertificate).await? {
            Frame::Certificate(bytes) => Ok(bytes),
            _ => Err(ClientError::Protocol("expected a certificate")),
        }
    }

    /// Hands a sealed envelope to the relay; returns the id the relay stored it under.
    pub async fn send(&mut self, envelope: Vec<u8>) -> Result<u64, ClientError> {
        match self.request(Frame::Send(envelope)).await? {
            Frame::Accepted { id } => Ok(id),
            _ => Err(ClientError::Protocol("expected an acceptance")),
        }
    }

    /// Round trip, to keep the connection from idling out.
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        match self.request(Frame::Ping).await? {
            Frame::Pong => Ok(()),
            _ => Err(ClientError::Protocol("expected a pong")),
        }
    }

    /// Tells the relay a delivery was handled: it deletes the envelope.
    pub async fn ack(&mut self, id: u64) -> Result<(), ClientError> {
        write_frame(&mut self.writer, &Frame::Ack { id }).await
    }

    /// The next delivery, waiting up to `wait`; `Ok(None)` if none came in that time.
    ///
    /// # Errors
    /// [`ClientError::Closed`] once the connection is gone and every delivery was taken.
    /// Cancel-safe (usable in `tokio::select!`).
    pub async fn next_delivery(&mut self, wait: Duration) -> Result<Option<Delivery>, ClientError> {
        match timeout(wait, self.deliveries.recv()).await {
            Err(_) => Ok(None),
            Ok(None) => Err(ClientError::Closed),
            Ok(Some(d)) => Ok(Some(d)),
        }
    }

    /// A delivery that already arrived, without waiting.
    pub fn try_delivery(&mut self) -> Result<Option<Delivery>, ClientError> {
        match self.deliveries.try_recv() {
            Ok(d) => Ok(Some(d)),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(ClientError::Closed),
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.writer.shutdown().await;
    }
}
