//! The client side of the relay protocol: connect, prove the device identity, then requests
//! (one at a time) and a stream of deliveries. It moves bytes only; what they mean is up to
//! the caller (see `chat.rs`).

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hushwire::IdentityKeyPair;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use crate::frame::{ErasedCounts, ErrorCode, Frame, FrameError, HEADER_LEN, body_len};
use crate::relay::Stream;
use crate::tls::{self, Fingerprint, Pin};

mod blobs;
pub use blobs::BlobId;

/// How a client reaches the relay.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    /// Bounds the connection, the sign-in and every request.
    pub wait: Duration,
    /// TLS with this pin, or `None` for plain TCP (`--insecure`, both ends).
    pub tls: Option<Pin>,
}

impl Link {
    /// TLS, accepting the certificate `pin` allows.
    pub fn tls(pin: Pin, wait: Duration) -> Link {
        Link {
            wait,
            tls: Some(pin),
        }
    }

    /// Plain TCP.
    pub fn insecure(wait: Duration) -> Link {
        Link { wait, tls: None }
    }
}

/// Why a relay operation failed, worded for the person at the keyboard.
#[derive(Debug)]
pub enum ClientError {
    /// The TCP connection could not be made.
    Connect(SocketAddr, std::io::Error),
    /// The relay did not answer in time.
    Timeout(&'static str),
    /// The connection broke.
    Io(std::io::Error),
    /// The TLS handshake failed (not a TLS relay, or a protocol error).
    Tls(std::io::Error),
    /// The relay presented another certificate than the pinned one.
    CertificateChanged {
        pinned: Fingerprint,
        presented: Fingerprint,
    },
    /// The relay closed the connection, with its reason if it gave one.
    Closed(Option<ErrorCode>),
    /// The relay refused the request.
    Relay(ErrorCode),
    /// The relay sent something this client does not understand.
    Protocol(&'static str),
    /// A frame that could not be encoded or decoded.
    Frame(FrameError),
}

impl ClientError {
    /// Whether the connection is gone (as opposed to one request refused): a chat reconnects.
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            ClientError::Connect(..)
                | ClientError::Timeout(_)
                | ClientError::Io(_)
                | ClientError::Tls(_)
                | ClientError::Closed(_)
                | ClientError::Relay(ErrorCode::Busy | ErrorCode::ShuttingDown)
        )
    }
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
            ClientError::Tls(e) => write!(
                f,
                "TLS with the relay failed ({e}); a relay started with --insecure needs \
                 --insecure here too"
            ),
            ClientError::CertificateChanged { pinned, presented } => write!(
                f,
                "the relay presents another TLS certificate than the one pinned at registration\n  \
                 pinned:    {}\n  presented: {}",
                tls::show_fingerprint(pinned),
                tls::show_fingerprint(presented)
            ),
            ClientError::Closed(None) => write!(f, "the relay closed the connection"),
            ClientError::Closed(Some(code)) => {
                write!(f, "the relay closed the connection: {code}")
            }
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
    /// SHA-256 of the relay's TLS certificate (`None` on plain TCP).
    pub tls_fingerprint: Option<Fingerprint>,
}

/// An envelope the relay delivered; acknowledge it with [`RelayClient::ack`] once handled.
pub struct Delivery {
    pub id: u64,
    pub envelope: Vec<u8>,
}

/// What happened on a connection (see [`RelayClient::next_event`]).
pub enum Event {
    Delivery(Delivery),
    /// The relay said something unprompted: a closing reason, or deliveries moved.
    Notice(ErrorCode),
    /// The connection is gone.
    Lost(ClientError),
}

type Reader = ReadHalf<Box<dyn Stream>>;
type Writer = WriteHalf<Box<dyn Stream>>;

/// A signed-in connection to a relay.
pub struct RelayClient {
    writer: Writer,
    responses: mpsc::Receiver<Frame>,
    deliveries: mpsc::Receiver<Delivery>,
    notices: mpsc::Receiver<ErrorCode>,
    /// The last notice the relay sent before closing (why it closed).
    closing: Arc<Mutex<Option<ErrorCode>>>,
    reader: JoinHandle<()>,
    welcome: Welcome,
    wait: Duration,
}

impl Drop for RelayClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_frame(read: &mut Reader) -> Result<Frame, ClientError> {
    let mut header = [0u8; HEADER_LEN];
    read.read_exact(&mut header).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ClientError::Closed(None)
        } else {
            ClientError::Io(e)
        }
    })?;
    let len = body_len(header).map_err(ClientError::Frame)?;
    let mut body = Vec::with_capacity(len.min(16 * 1024));
    read.take(u64::try_from(len).unwrap_or(0))
        .read_to_end(&mut body)
        .await
        .map_err(|_| ClientError::Closed(None))?;
    if body.len() < len {
        return Err(ClientError::Closed(None));
    }
    Frame::decode(&body).map_err(ClientError::Frame)
}

async fn write_frame(write: &mut Writer, frame: &Frame) -> Result<(), ClientError> {
    let bytes = frame.encode().map_err(ClientError::Frame)?;
    write.write_all(&bytes).await.map_err(ClientError::Io)?;
    write.flush().await.map_err(ClientError::Io)
}

/// Opens the byte stream: TCP, then TLS unless the link is plain. Returns the stream, the
/// channel binding and the certificate fingerprint.
async fn open(
    addr: SocketAddr,
    link: &Link,
) -> Result<(Box<dyn Stream>, Vec<u8>, Option<Fingerprint>), ClientError> {
    let stream = match timeout(link.wait, TcpStream::connect(addr)).await {
        Err(_) => return Err(ClientError::Timeout("connect")),
        Ok(Err(e)) => return Err(ClientError::Connect(addr, e)),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let Some(pin) = link.tls else {
        return Ok((Box::new(stream), Vec::new(), None));
    };
    let (config, presented) =
        tls::client_config(pin).map_err(|e| ClientError::Tls(std::io::Error::other(e)))?;
    // The certificate is pinned, not checked against a name: any name will do.
    let name = ServerName::IpAddress(addr.ip().into());
    let handshake = timeout(link.wait, TlsConnector::from(config).connect(name, stream)).await;
    let presented = presented.lock().ok().and_then(|p| *p);
    let stream = match handshake {
        Err(_) => return Err(ClientError::Timeout("TLS handshake")),
        Ok(Err(e)) => {
            return Err(match (pin, presented) {
                (Pin::Pinned(pinned), Some(presented)) if pinned != presented => {
                    ClientError::CertificateChanged { pinned, presented }
                }
                _ => ClientError::Tls(e),
            });
        }
        Ok(Ok(stream)) => stream,
    };
    let binding = tls::channel_binding(stream.get_ref().1)
        .map_err(|e| ClientError::Tls(std::io::Error::other(e)))?;
    Ok((Box::new(stream), binding.to_vec(), presented))
}

impl RelayClient {
    /// Connects to `addr` and signs in as `identity`, signing the relay's nonce together with
    /// the TLS channel binding.
    ///
    /// # Errors
    /// [`ClientError::Connect`] if nothing listens there, [`ClientError::CertificateChanged`]
    /// if the pin does not match, [`ClientError::Relay`] with `Unauthorized` if the relay
    /// refuses the signature, and the other variants.
    pub async fn connect(
        addr: SocketAddr,
        identity: &IdentityKeyPair,
        link: &Link,
    ) -> Result<RelayClient, ClientError> {
        let (stream, binding, tls_fingerprint) = open(addr, link).await?;
        let wait = link.wait;
        let (mut read, mut writer) = tokio::io::split(stream);
        let challenge = timeout(wait, read_frame(&mut read))
            .await
            .map_err(|_| ClientError::Timeout("challenge"))?
            .map_err(|e| match (e, link.tls) {
                // A TLS relay answers a plain client with a notice; a plain relay's challenge
                // is not TLS.
                (ClientError::Closed(None), None) => ClientError::Closed(None),
                (e, _) => e,
            })?;
        let nonce = match challenge {
            Frame::Challenge { nonce } => nonce,
            Frame::Error(code) | Frame::Notice(code) => {
                return Err(ClientError::Closed(Some(code)));
            }
            _ => return Err(ClientError::Protocol("expected a challenge")),
        };
        let auth = Frame::Auth {
            identity: identity.public().to_bytes(),
            signature: identity.sign_relay_challenge(&tls::sign_in_challenge(&nonce, &binding)),
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
                tls_fingerprint,
            },
            Frame::Error(code) => return Err(ClientError::Relay(code)),
            Frame::Notice(code) => return Err(ClientError::Closed(Some(code))),
            _ => return Err(ClientError::Protocol("expected a welcome")),
        };
        let (response_tx, responses) = mpsc::channel(8);
        let (delivery_tx, deliveries) = mpsc::channel(1_024);
        let (notice_tx, notices) = mpsc::channel(8);
        let closing = Arc::new(Mutex::new(None));
        let closing_slot = Arc::clone(&closing);
        let reader = tokio::spawn(async move {
            while let Ok(frame) = read_frame(&mut read).await {
                let sent = match frame {
                    Frame::Deliver { id, envelope } => {
                        delivery_tx.send(Delivery { id, envelope }).await.is_ok()
                    }
                    Frame::Notice(code) => {
                        if code.closes_connection()
                            && let Ok(mut slot) = closing_slot.lock()
                        {
                            *slot = Some(code);
                        }
                        // Nobody may be listening for notices: never block on them.
                        let _ = notice_tx.try_send(code);
                        true
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
            notices,
            closing,
            reader,
            welcome,
            wait,
        })
    }

    /// Why the relay closed the connection, if it said.
    fn closed(&self) -> ClientError {
        ClientError::Closed(self.closing.lock().ok().and_then(|c| *c))
    }

    pub fn welcome(&self) -> Welcome {
        self.welcome
    }

    /// Sends a request and waits for its answer.
    async fn request(&mut self, frame: Frame) -> Result<Frame, ClientError> {
        if let Err(e) = write_frame(&mut self.writer, &frame).await {
            return Err(if self.reader.is_finished() {
                self.closed()
            } else {
                e
            });
        }
        match timeout(self.wait, self.responses.recv()).await {
            Err(_) => Err(ClientError::Timeout("request")),
            Ok(None) => Err(self.closed()),
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

    /// Registers this device under `name`, taking it from the device that held it (a
    /// reinstall): peers see a changed identity key.
    pub async fn reregister(&mut self, name: &str) -> Result<(), ClientError> {
        self.expect_ok(Frame::Reregister(name.to_owned())).await
    }

    /// Asks for this device's deliveries on this connection (another connection of the device
    /// that received them is told, and keeps working for requests).
    pub async fn receive(&mut self) -> Result<(), ClientError> {
        self.expect_ok(Frame::Receive).await
    }

    /// The next delivery or notice, whichever comes first (cancel-safe).
    pub async fn next_event(&mut self) -> Event {
        tokio::select! {
            delivery = self.deliveries.recv() => match delivery {
                Some(d) => Event::Delivery(d),
                None => Event::Lost(self.closed()),
            },
            Some(code) = self.notices.recv() => Event::Notice(code),
            else => Event::Lost(self.closed()),
        }
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

    /// Publishes this device's envelope KEM key (hushwire's encoded `0x36` item), replacing
    /// the one the relay stores.
    pub async fn publish_envelope_key(&mut self, key: Vec<u8>) -> Result<(), ClientError> {
        self.expect_ok(Frame::PublishEnvelopeKey(key)).await
    }

    /// The envelope KEM key the device `identity` published, as the relay stores it (check
    /// its owner and signature before sealing to it); `None` if it published none.
    pub async fn fetch_envelope_key(
        &mut self,
        identity: [u8; 32],
    ) -> Result<Option<Vec<u8>>, ClientError> {
        match self.request(Frame::FetchEnvelopeKey(identity)).await {
            Ok(Frame::EnvelopeKey(bytes)) => Ok(Some(bytes)),
            Ok(_) => Err(ClientError::Protocol("expected an envelope key")),
            Err(ClientError::Relay(ErrorCode::NoEnvelopeKey)) => Ok(None),
            Err(e) => Err(e),
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

    /// Stores `backup` on the relay as the backup of this device's name, replacing the one
    /// stored (the relay refuses one above [`crate::frame::MAX_STORED_BACKUP_LEN`] with
    /// [`ErrorCode::BackupTooLarge`](crate::frame::ErrorCode::BackupTooLarge)).
    pub async fn put_backup(&mut self, backup: Vec<u8>) -> Result<(), ClientError> {
        self.expect_ok(Frame::PutBackup(backup)).await
    }

    /// The backup the relay stores for this device's name
    /// ([`ErrorCode::NoBackup`](crate::frame::ErrorCode::NoBackup) if none).
    pub async fn get_backup(&mut self) -> Result<Vec<u8>, ClientError> {
        match self.request(Frame::GetBackup).await? {
            Frame::Backup(bytes) => Ok(bytes),
            _ => Err(ClientError::Protocol("expected a backup")),
        }
    }

    /// Erasure on request: the relay deletes everything it holds for this device and its
    /// name (queue, prekeys, registration, blobs, backup) and says how many of each went.
    /// The device is unregistered afterwards.
    pub async fn erase(&mut self) -> Result<ErasedCounts, ClientError> {
        match self.request(Frame::Erase).await? {
            Frame::Erased(counts) => Ok(counts),
            _ => Err(ClientError::Protocol("expected erasure counts")),
        }
    }

    /// Hands a sealed envelope to the relay; returns the id the relay stored it under.
    pub async fn send(&mut self, envelope: Vec<u8>) -> Result<u64, ClientError> {
        match self.request(Frame::Send(envelope)).await? {
            Frame::Accepted { id } => Ok(id),
            _ => Err(ClientError::Protocol("expected an acceptance")),
        }
    }

    /// Publishes a user's signed device list (hushwire's `0x54`): the relay stores it if it
    /// carries this device and succeeds the stored one
    /// ([`ErrorCode::StaleDeviceList`](crate::frame::ErrorCode::StaleDeviceList) otherwise).
    pub async fn put_device_list(&mut self, list: Vec<u8>) -> Result<(), ClientError> {
        self.expect_ok(Frame::PutDeviceList(list)).await
    }

    /// The device list the relay stores for `name`, `None` if none (check it with
    /// `Device::accept_device_list` before trusting it).
    pub async fn get_device_list(&mut self, name: &str) -> Result<Option<Vec<u8>>, ClientError> {
        match self.request(Frame::GetDeviceList(name.to_owned())).await {
            Ok(Frame::DeviceList(bytes)) => Ok(Some(bytes)),
            Ok(_) => Err(ClientError::Protocol("expected a device list")),
            Err(ClientError::Relay(ErrorCode::NoDeviceList)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Queues `message` for the device `to`, registered or not (the linking run): it is
    /// delivered as [`crate::frame::DIRECT_MARK`] `from(32) message`.
    pub async fn send_direct(
        &mut self,
        to: [u8; 32],
        message: Vec<u8>,
    ) -> Result<u64, ClientError> {
        match self.request(Frame::SendDirect { to, message }).await? {
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

    /// Whether the connection is still open (the relay has not closed it).
    pub fn is_open(&self) -> bool {
        !self.reader.is_finished()
    }

    /// The next delivery, waiting up to `wait`; `Ok(None)` if none came in that time.
    ///
    /// # Errors
    /// [`ClientError::Closed`] once the connection is gone and every delivery was taken.
    /// Cancel-safe (usable in `tokio::select!`).
    pub async fn next_delivery(&mut self, wait: Duration) -> Result<Option<Delivery>, ClientError> {
        match timeout(wait, self.deliveries.recv()).await {
            Err(_) => Ok(None),
            Ok(None) => Err(self.closed()),
            Ok(Some(d)) => Ok(Some(d)),
        }
    }

    /// A delivery that already arrived, without waiting.
    pub fn try_delivery(&mut self) -> Result<Option<Delivery>, ClientError> {
        match self.deliveries.try_recv() {
            Ok(d) => Ok(Some(d)),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(self.closed()),
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.writer.shutdown().await;
    }
}
