//! A store-and-forward relay over TCP (tokio) with a SQLite store (rusqlite).
//!
//! What it does, and nothing more:
//! - sends every new connection a fresh 32-byte challenge; the client proves it holds a device
//!   identity key by signing it ([`hushwire::IdentityKeyPair::sign_relay_challenge`]). Until
//!   then the only frame accepted is `Auth`;
//! - registers a name per device (first come, first served), stores the prekeys the device
//!   publishes (each bundle's signatures checked against the device's key) and hands out each
//!   one-time prekey once, then the last-resort ML-KEM prekey;
//! - issues the device a short-lived sender certificate (for sealed envelopes), under a server
//!   key certified by the relay's root, which clients pin;
//! - queues sealed envelopes per recipient (it reads only the recipient from them), pushes them
//!   to the recipient when it is online, a bounded window at a time, and deletes each one when
//!   the recipient acknowledges it. The queue is in SQLite, so it survives a restart.
//!
//! Robustness: frames have a maximum size; each connection has a token-bucket rate limit; a
//! connection that sends nothing for `idle_timeout`, takes longer than `frame_timeout` to send
//! a frame it started, or does not read what it is sent within `write_timeout` is closed; a
//! malformed frame closes that connection only. Every connection is its own task, and the
//! relay never waits on one connection to serve another.
//!
//! Logs (to stderr, when enabled) name connections by number, address and registered name,
//! and frames by type and length: never key material, never envelope bytes.
//!
//! Example-grade shortcuts: the relay's root key is generated at first start and only its
//! public half is kept (so the server key cannot be renewed without a new root); a real
//! deployment would also run TLS, so that the challenge signature is bound to the channel.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chacha20::ChaCha20Rng;
use hushwire::certificate::SenderCertificateInfo;
use hushwire::sealed::envelope_recipient;
use hushwire::{
    IdentityKey, IssuerKeyPair, KemPreKeyKind, KemPreKeyPublic, OneTimePreKeyPublic, PreKeyBundle,
    SenderCertificate, ServerCertificate, SignedPreKeyPublic, Timestamp, Validity,
};
use rand_core::SeedableRng;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{sleep, timeout};

use crate::frame::{ErrorCode, Frame, FrameError, HEADER_LEN, MAX_FRAME_LEN, body_len};
use crate::unix_now;

/// The root id under which clients pin this relay's root key.
pub const RELAY_ROOT_ID: u32 = 1;
const SERVER_KEY_ID: u32 = 1;
/// How long a sender certificate the relay issues is valid.
const SENDER_CERTIFICATE_SECS: u64 = 24 * 3600;
/// Most unused one-time prekeys (of each kind) stored per device.
const MAX_STORED_ONE_TIME: i64 = 1_000;

const _: () = assert!(MAX_FRAME_LEN > hushwire::sealed::MAX_ENVELOPE_LEN + 16);

/// Limits and paths; [`RelayConfig::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Where to listen (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The SQLite file (created if missing).
    pub db_path: PathBuf,
    /// Sustained frames per second a connection may send; above it the relay stops reading
    /// from that connection until the bucket refills.
    pub frames_per_sec: u32,
    /// Burst size of the token bucket.
    pub burst: u32,
    /// A connection that sends nothing for this long is closed (clients ping to stay on).
    pub idle_timeout: Duration,
    /// Once the first byte of a frame arrived, the whole frame must arrive within this.
    pub frame_timeout: Duration,
    /// A write to a client that does not read is abandoned (and the connection closed) after
    /// this.
    pub write_timeout: Duration,
    /// Most envelopes queued for one recipient.
    pub max_queue: u32,
    /// Most simultaneous connections.
    pub max_connections: usize,
    /// Most envelopes delivered to a connection and not yet acknowledged.
    pub window: usize,
    /// Log connections and errors to stderr.
    pub log: bool,
}

impl RelayConfig {
    pub fn new(listen: SocketAddr, db_path: PathBuf) -> Self {
        RelayConfig {
            listen,
            db_path,
            frames_per_sec: 500,
            burst: 1_000,
            idle_timeout: Duration::from_secs(120),
            frame_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_queue: 10_000,
            max_connections: 1_024,
            window: 64,
            log: true,
        }
    }
}

/// A relay failure at startup or in its store.
#[derive(Debug)]
pub enum RelayError {
    Io(std::io::Error),
    Db(rusqlite::Error),
    Random,
    Corrupt(&'static str),
    Poisoned,
}

impl fmt::Display for RelayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayError::Io(e) => write!(f, "network: {e}"),
            RelayError::Db(e) => write!(f, "database: {e}"),
            RelayError::Random => write!(f, "the OS random number generator failed"),
            RelayError::Corrupt(what) => write!(f, "database holds an invalid {what}"),
            RelayError::Poisoned => write!(f, "database lock poisoned by a crashed task"),
        }
    }
}

impl std::error::Error for RelayError {}

impl From<rusqlite::Error> for RelayError {
    fn from(e: rusqlite::Error) -> Self {
        RelayError::Db(e)
    }
}

impl From<std::io::Error> for RelayError {
    fn from(e: std::io::Error) -> Self {
        RelayError::Io(e)
    }
}

/// One envelope as stored, for inspection (the demo prints these).
pub struct StoredEnvelope {
    pub id: u64,
    pub recipient: [u8; 32],
    pub envelope: Vec<u8>,
}

/// A running relay. Dropping it without [`RelayHandle::shutdown`] leaves the tasks running
/// until the runtime stops.
pub struct RelayHandle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl RelayHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The root key clients pin (id [`RELAY_ROOT_ID`]).
    pub fn root(&self) -> [u8; 32] {
        self.shared.keys.root
    }

    /// Stops accepting, tells every connection to close, waits for them, and closes the
    /// database. Queued envelopes stay in the file.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.shared.log(format_args!("stopped"));
    }

    /// Envelopes waiting in the queue, oldest first (at most `limit`).
    pub fn stored(&self, limit: u32) -> Result<Vec<StoredEnvelope>, RelayError> {
        let db = self.shared.db()?;
        let mut stmt =
            db.prepare_cached("SELECT id, recipient, envelope FROM queue ORDER BY id LIMIT ?1")?;
        let rows = stmt.query_map(params![limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, recipient, envelope) = row?;
            out.push(StoredEnvelope {
                id: u64::try_from(id).map_err(|_| RelayError::Corrupt("envelope id"))?,
                recipient: recipient
                    .try_into()
                    .map_err(|_| RelayError::Corrupt("recipient"))?,
                envelope,
            });
        }
        Ok(out)
    }

    /// How many envelopes are queued.
    pub fn queued(&self) -> Result<u64, RelayError> {
        let n: i64 = self
            .shared
            .db()?
            .query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The name `identity` registered, if any.
    pub fn name_of(&self, identity: &[u8; 32]) -> Option<String> {
        let db = self.shared.db().ok()?;
        db.query_row(
            "SELECT name FROM devices WHERE identity = ?1",
            params![identity.as_slice()],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten()
    }
}

/// Starts a relay: opens (or creates) the database, binds, and serves in the background.
///
/// # Errors
/// [`RelayError`] if the database cannot be opened or the address cannot be bound.
pub async fn start(config: RelayConfig) -> Result<RelayHandle, RelayError> {
    let db = open_db(&config)?;
    let keys = relay_keys(&db)?;
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        config,
        db: Mutex::new(db),
        keys,
        online: Mutex::new(HashMap::new()),
        next_conn: AtomicU64::new(1),
        next_serial: AtomicU64::new(unix_now().as_unix_secs().saturating_mul(1_000)),
    });
    shared.log(format_args!(
        "listening on {addr}, store {}",
        shared.config.db_path.display()
    ));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), shutdown_rx));
    Ok(RelayHandle {
        addr,
        shutdown,
        task,
        shared,
    })
}

struct RelayKeys {
    root: [u8; 32],
    server: IssuerKeyPair,
    server_cert: ServerCertificate,
}

/// A connected, authenticated device: how to wake its connection and how to close it.
struct Mailbox {
    conn: u64,
    wake: Arc<Notify>,
    kick: Arc<Notify>,
}

struct Shared {
    config: RelayConfig,
    db: Mutex<Connection>,
    keys: RelayKeys,
    online: Mutex<HashMap<[u8; 32], Mailbox>>,
    next_conn: AtomicU64,
    next_serial: AtomicU64,
}

impl Shared {
    fn log(&self, args: fmt::Arguments<'_>) {
        if self.config.log {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            eprintln!(
                "[relay {}.{:03}] {args}",
                t.as_secs() % 100_000,
                t.subsec_millis()
            );
        }
    }

    /// The database. Each use is a few short statements (WAL mode, no fsync per commit), so
    /// tasks hold the lock briefly and never across an `.await`.
    fn db(&self) -> Result<MutexGuard<'_, Connection>, RelayError> {
        self.db.lock().map_err(|_| RelayError::Poisoned)
    }

    fn online(&self) -> MutexGuard<'_, HashMap<[u8; 32], Mailbox>> {
        // A poisoned map is still a valid map: keep serving.
        self.online
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn os_rng() -> Result<ChaCha20Rng, RelayError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|_| RelayError::Random)?;
    Ok(ChaCha20Rng::from_seed(seed))
}

fn open_db(config: &RelayConfig) -> Result<Connection, RelayError> {
    let db = Connection::open(&config.db_path)?;
    db.busy_timeout(Duration::from_secs(5))?;
    // WAL with synchronous=NORMAL: a commit survives a crash of the relay process (not of the
    // OS), and costs no fsync.
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "NORMAL")?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS relay_keys (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             root BLOB NOT NULL,
             server_seed BLOB NOT NULL,
             server_cert BLOB NOT NULL);
         CREATE TABLE IF NOT EXISTS devices (
             identity BLOB PRIMARY KEY,
             name TEXT NOT NULL UNIQUE,
             registered_at INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS signed_prekeys (
             identity BLOB PRIMARY KEY,
             id INTEGER NOT NULL,
             key BLOB NOT NULL,
             signature BLOB NOT NULL);
         CREATE TABLE IF NOT EXISTS last_resort_kem_prekeys (
             identity BLOB PRIMARY KEY,
             id INTEGER NOT NULL,
             key BLOB NOT NULL,
             signature BLOB NOT NULL);
         -- One-time keys stay (without their key) once handed out, so that publishing the same
         -- key again cannot make the relay hand it out a second time.
         CREATE TABLE IF NOT EXISTS one_time_prekeys (
             identity BLOB NOT NULL,
             id INTEGER NOT NULL,
             key BLOB,
             PRIMARY KEY (identity, id));
         CREATE TABLE IF NOT EXISTS one_time_kem_prekeys (
             identity BLOB NOT NULL,
             id INTEGER NOT NULL,
             key BLOB,
             signature BLOB,
             PRIMARY KEY (identity, id));
         CREATE TABLE IF NOT EXISTS queue (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             recipient BLOB NOT NULL,
             envelope BLOB NOT NULL,
             received_at INTEGER NOT NULL);
         CREATE INDEX IF NOT EXISTS queue_by_recipient ON queue (recipient, id);",
    )?;
    Ok(db)
}

/// Loads the relay's keys, or makes them at first start.
fn relay_keys(db: &Connection) -> Result<RelayKeys, RelayError> {
    let row: Option<(Vec<u8>, Vec<u8>, Vec<u8>)> = db
        .query_row(
            "SELECT root, server_seed, server_cert FROM relay_keys WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((root, seed, cert)) = row {
        let root: [u8; 32] = root
            .try_into()
            .map_err(|_| RelayError::Corrupt("root key"))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| RelayError::Corrupt("server key"))?;
        let server = IssuerKeyPair::dangerous_from_seed(&seed);
        let server_cert = ServerCertificate::from_bytes(&cert)
            .map_err(|_| RelayError::Corrupt("server certificate"))?;
        if server_cert.key() != &server.public() {
            return Err(RelayError::Corrupt("server certificate"));
        }
        return Ok(RelayKeys {
            root,
            server,
            server_cert,
        });
    }
    let mut rng = os_rng()?;
    let root = IssuerKeyPair::generate(&mut rng);
    let server = IssuerKeyPair::generate(&mut rng);
    let now = unix_now().as_unix_secs();
    let validity = Validity::new(
        Timestamp::from_unix_secs(now.saturating_sub(24 * 3600)),
        Timestamp::from_unix_secs(now.saturating_add(10 * 365 * 24 * 3600)),
    )
    .map_err(|_| RelayError::Corrupt("validity"))?;
    let server_cert = ServerCertificate::issue(
        &root,
        RELAY_ROOT_ID,
        SERVER_KEY_ID,
        &server.public(),
        validity,
    );
    let keys = RelayKeys {
        root: root.public().to_bytes(),
        server,
        server_cert,
    };
    // The root's secret half is dropped here: it signed the one server certificate needed.
    db.execute(
        "INSERT INTO relay_keys (id, root, server_seed, server_cert) VALUES (1, ?1, ?2, ?3)",
        params![
            keys.root.as_slice(),
            keys.server.dangerous_to_seed().as_slice(),
            keys.server_cert.as_bytes()
        ],
    )?;
    Ok(keys)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
                    if tasks.len() >= shared.config.max_connections {
                        shared.log(format_args!("conn #{id} {peer}: refused, too many connections"));
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    tasks.spawn(connection(stream, peer, id, Arc::clone(&shared), stop.clone()));
                }
                Err(e) => {
                    shared.log(format_args!("accept failed: {e}"));
                    sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    // Every connection sees the stop signal and closes within its write timeout.
    while tasks.join_next().await.is_some() {}
}

/// Why a connection ended.
enum Closed {
    ByPeer,
    Idle,
    SlowFrame,
    Truncated,
    Io(std::io::Error),
    Malformed(FrameError),
    Refused(ErrorCode),
    SlowReader,
    Stopped,
    Db(RelayError),
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::ByPeer => write!(f, "closed by the client"),
            Closed::Idle => write!(f, "idle timeout"),
            Closed::SlowFrame => write!(f, "frame not completed in time (slow client)"),
            Closed::Truncated => write!(f, "hung up in the middle of a frame (truncated)"),
            Closed::Io(e) => write!(f, "network error: {e}"),
            Closed::Malformed(e) => write!(f, "malformed frame: {e}"),
            Closed::Refused(code) => write!(f, "refused: {code}"),
            Closed::SlowReader => write!(f, "client does not read (write timeout)"),
            Closed::Stopped => write!(f, "relay stopping"),
            Closed::Db(e) => write!(f, "{e}"),
        }
    }
}

/// What the reader task hands to the connection task.
type Inbound = Result<Frame, Closed>;

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    shared.log(format_args!("conn #{id} {peer}: connected"));
    let (read, write) = stream.into_split();
    let (tx, rx) = mpsc::channel(4);
    let reader = tokio::spawn(read_frames(read, tx, shared.config.clone()));
    let mut conn = Conn {
        id,
        shared: Arc::clone(&shared),
        writer: write,
        device: None,
        name: None,
        in_flight: HashSet::new(),
        last_delivered: 0,
        maybe_more: true,
        wake: Arc::new(Notify::new()),
        kick: Arc::new(Notify::new()),
    };
    let closed = conn.run(rx, stop).await;
    reader.abort();
    if let Some(device) = conn.device {
        let mut online = shared.online();
        if online.get(&device).is_some_and(|m| m.conn == id) {
            online.remove(&device);
        }
    }
    let _ = conn.writer.shutdown().await;
    let who = conn.name.as_deref().unwrap_or("-");
    shared.log(format_args!("conn #{id} {peer} ({who}): {closed}"));
}

/// Reads frames: waits up to `idle_timeout` for a frame to start, then up to `frame_timeout`
/// for the rest of it; applies the rate limit; stops at the first bad frame.
async fn read_frames(mut read: OwnedReadHalf, tx: mpsc::Sender<Inbound>, config: RelayConfig) {
    let mut bucket = TokenBucket::new(config.frames_per_sec, config.burst);
    loop {
        let mut first = [0u8; 1];
        let item = match timeout(config.idle_timeout, read.read(&mut first)).await {
            Err(_) => Err(Closed::Idle),
            Ok(Ok(0)) => Err(Closed::ByPeer),
            Ok(Err(e)) => Err(Closed::Io(e)),
            Ok(Ok(_)) => {
                let body = timeout(config.frame_timeout, async {
                    let mut rest = [0u8; HEADER_LEN - 1];
                    read.read_exact(&mut rest).await.map_err(eof_or_io)?;
                    let ([b0], [b1, b2, b3]) = (first, rest);
                    let len = body_len([b0, b1, b2, b3]).map_err(Closed::Malformed)?;
                    let mut body = vec![0u8; len];
                    read.read_exact(&mut body).await.map_err(eof_or_io)?;
                    Ok::<_, Closed>(body)
                })
                .await;
                match body {
                    Err(_) => Err(Closed::SlowFrame),
                    Ok(Err(e)) => Err(e),
                    Ok(Ok(body)) => Frame::decode(&body).map_err(Closed::Malformed),
                }
            }
        };
        let last = item.is_err();
        if tx.send(item).await.is_err() || last {
            return;
        }
        bucket.take().await;
    }
}

fn eof_or_io(e: std::io::Error) -> Closed {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        Closed::Truncated
    } else {
        Closed::Io(e)
    }
}

/// A token bucket: `rate` frames per second on average, `burst` at once.
struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: u32, burst: u32) -> Self {
        TokenBucket {
            tokens: f64::from(burst.max(1)),
            rate: f64::from(rate.max(1)),
            burst: f64::from(burst.max(1)),
            last: Instant::now(),
        }
    }

    /// Takes one token, sleeping until there is one.
    async fn take(&mut self) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens < 1.0 {
            let wait = (1.0 - self.tokens) / self.rate;
            sleep(Duration::from_secs_f64(wait)).await;
            self.tokens = 1.0;
            self.last = Instant::now();
        }
        self.tokens -= 1.0;
    }
}

struct Conn {
    id: u64,
    shared: Arc<Shared>,
    writer: OwnedWriteHalf,
    device: Option<[u8; 32]>,
    name: Option<String>,
    /// Envelopes delivered on this connection and not acknowledged yet.
    in_flight: HashSet<u64>,
    /// The highest envelope id delivered on this connection.
    last_delivered: u64,
    /// Whether the queue may hold envelopes not delivered on this connection yet (false after
    /// a batch came back short, true again when woken).
    maybe_more: bool,
    wake: Arc<Notify>,
    kick: Arc<Notify>,
}

impl Conn {
    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<Inbound>,
        mut stop: watch::Receiver<bool>,
    ) -> Closed {
        let mut nonce = [0u8; 32];
        if getrandom::fill(&mut nonce).is_err() {
            return Closed::Db(RelayError::Random);
        }
        if let Err(closed) = self.write(&Frame::Challenge { nonce }).await {
            return closed;
        }
        let (wake, kick) = (Arc::clone(&self.wake), Arc::clone(&self.kick));
        loop {
            let step = tokio::select! {
                _ = stop.changed() => {
                    let _ = timeout(Duration::from_millis(200), self.write(&Frame::Error(ErrorCode::ShuttingDown))).await;
                    return Closed::Stopped;
                }
                () = kick.notified() => {
                    let _ = self.write(&Frame::Error(ErrorCode::Replaced)).await;
                    return Closed::Refused(ErrorCode::Replaced);
                }
                () = wake.notified() => {
                    self.maybe_more = true;
                    self.deliver().await
                }
                inbound = rx.recv() => match inbound {
                    None => return Closed::ByPeer,
                    Some(Err(closed)) => {
                        if matches!(closed, Closed::Malformed(_)) {
                            let _ = timeout(Duration::from_millis(200), self.write(&Frame::Error(ErrorCode::Invalid))).await;
                        }
                        return closed;
                    }
                    Some(Ok(frame)) => self.handle(frame, &nonce).await,
                },
            };
            if let Err(closed) = step {
                return closed;
            }
        }
    }

    async fn write(&mut self, frame: &Frame) -> Result<(), Closed> {
        let bytes = frame.encode().map_err(Closed::Malformed)?;
        match timeout(
            self.shared.config.write_timeout,
            self.writer.write_all(&bytes),
        )
        .await
        {
            Err(_) => Err(Closed::SlowReader),
            Ok(Err(e)) => Err(Closed::Io(e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Answers a request with an error; closes the connection if the code says so.
    async fn refuse(&mut self, code: ErrorCode) -> Result<(), Closed> {
        self.write(&Frame::Error(code)).await?;
        if code.closes_connection() {
            Err(Closed::Refused(code))
        } else {
            Ok(())
        }
    }

    async fn handle(&mut self, frame: Frame, nonce: &[u8; 32]) -> Result<(), Closed> {
        let Some(device) = self.device else {
            return match frame {
                Frame::Auth {
                    identity,
                    signature,
                } => self.authenticate(identity, &signature, nonce).await,
                _ => self.refuse(ErrorCode::BadRequest).await,
            };
        };
        let answer = match frame {
            Frame::Register(name) => self.register(device, name),
            Frame::PublishBundle(bytes) => self.publish(device, &bytes),
            Frame::FetchBundle(identity) => self.fetch_bundle(&identity),
            Frame::Lookup(name) => self.lookup(&name),
            Frame::GetCertificate => self.certificate(device),
            Frame::Send(envelope) => self.enqueue(envelope),
            Frame::Ack { id } => {
                self.ack(device, id).map_err(Closed::Db)?;
                return self.deliver().await;
            }
            Frame::Ping => Ok(Frame::Pong),
            // Auth again, or a relay-to-client frame.
            _ => Err(ErrorCode::BadRequest),
        };
        match answer {
            Ok(frame) => self.write(&frame).await,
            Err(ErrorCode::Internal) => {
                self.shared
                    .log(format_args!("conn #{}: database error", self.id));
                self.refuse(ErrorCode::Internal).await
            }
            Err(code) => self.refuse(code).await,
        }
    }

    async fn authenticate(
        &mut self,
        identity: [u8; 32],
        signature: &[u8; 64],
        nonce: &[u8; 32],
    ) -> Result<(), Closed> {
        let ok = IdentityKey::from_bytes(&identity)
            .is_ok_and(|key| key.verify_relay_challenge(nonce, signature));
        if !ok {
            return self.refuse(ErrorCode::Unauthorized).await;
        }
        self.device = Some(identity);
        self.name = self.shared.db().ok().and_then(|db| {
            db.query_row(
                "SELECT name FROM devices WHERE identity = ?1",
                params![identity.as_slice()],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten()
        });
        let replaced = self.shared.online().insert(
            identity,
            Mailbox {
                conn: self.id,
                wake: Arc::clone(&self.wake),
                kick: Arc::clone(&self.kick),
            },
        );
        if let Some(old) = replaced {
            old.kick.notify_one();
        }
        let queued = self.queued(&identity).map_err(Closed::Db)?;
        self.shared.log(format_args!(
            "conn #{}: authenticated ({}), {queued} queued",
            self.id,
            self.name.as_deref().unwrap_or("not registered")
        ));
        self.write(&Frame::Welcome {
            root_id: RELAY_ROOT_ID,
            root: self.shared.keys.root,
            queued,
        })
        .await?;
        self.deliver().await
    }

    fn queued(&self, identity: &[u8; 32]) -> Result<u32, RelayError> {
        let n: i64 = self.shared.db()?.query_row(
            "SELECT COUNT(*) FROM queue WHERE recipient = ?1",
            params![identity.as_slice()],
            |r| r.get(0),
        )?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn register(&mut self, device: [u8; 32], name: String) -> Result<Frame, ErrorCode> {
        let db = self.shared.db().map_err(|_| ErrorCode::Internal)?;
        let owner: Option<Vec<u8>> = db
            .query_row(
                "SELECT identity FROM devices WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|_| ErrorCode::Internal)?;
        match owner {
            Some(owner) if owner != device => return Err(ErrorCode::NameTaken),
            Some(_) => {}
            None => {
                db.execute(
                    "INSERT INTO devices (identity, name, registered_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (identity) DO UPDATE SET name = excluded.name",
                    params![device.as_slice(), name, unix_secs_i64()],
                )
                .map_err(|_| ErrorCode::Internal)?;
                drop(db);
                self.shared
                    .log(format_args!("conn #{}: registered as {name}", self.id));
            }
        }
        self.name = Some(name);
        Ok(Frame::Ok)
    }

    fn publish(&self, device: [u8; 32], bytes: &[u8]) -> Result<Frame, ErrorCode> {
        if self.name.is_none() {
            return Err(ErrorCode::Invalid);
        }
        let bundle = PreKeyBundle::from_bytes(bytes).map_err(|_| ErrorCode::Invalid)?;
        if bundle.identity_key.as_bytes() != &device || bundle.verify().is_err() {
            return Err(ErrorCode::Invalid);
        }
        let mut db = self.shared.db().map_err(|_| ErrorCode::Internal)?;
        let tx = db.transaction().map_err(|_| ErrorCode::Internal)?;
        let result = store_bundle(&tx, &device, &bundle);
        match result {
            Ok(true) => {
                tx.commit().map_err(|_| ErrorCode::Internal)?;
                Ok(Frame::Ok)
            }
            Ok(false) => Err(ErrorCode::Full),
            Err(_) => Err(ErrorCode::Internal),
        }
    }

    fn fetch_bundle(&self, identity: &[u8; 32]) -> Result<Frame, ErrorCode> {
        let identity_key = IdentityKey::from_bytes(identity).map_err(|_| ErrorCode::Invalid)?;
        let mut db = self.shared.db().map_err(|_| ErrorCode::Internal)?;
        let tx = db.transaction().map_err(|_| ErrorCode::Internal)?;
        let bundle = take_bundle(&tx, identity_key).map_err(|_| ErrorCode::Internal)?;
        let Some(bundle) = bundle else {
            return Err(ErrorCode::NoBundle);
        };
        tx.commit().map_err(|_| ErrorCode::Internal)?;
        Ok(Frame::Bundle(bundle.to_bytes()))
    }

    fn lookup(&self, name: &str) -> Result<Frame, ErrorCode> {
        let db = self.shared.db().map_err(|_| ErrorCode::Internal)?;
        let identity: Option<Vec<u8>> = db
            .query_row(
                "SELECT identity FROM devices WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|_| ErrorCode::Internal)?;
        let identity = identity.ok_or(ErrorCode::UnknownName)?;
        Ok(Frame::Identity(
            identity.try_into().map_err(|_| ErrorCode::Internal)?,
        ))
    }

    fn certificate(&self, device: [u8; 32]) -> Result<Frame, ErrorCode> {
        let name = self.name.clone().ok_or(ErrorCode::Invalid)?;
        let identity_key = IdentityKey::from_bytes(&device).map_err(|_| ErrorCode::Invalid)?;
        let now = unix_now().as_unix_secs();
        let validity = Validity::new(
            Timestamp::from_unix_secs(now.saturating_sub(3600)),
            Timestamp::from_unix_secs(now.saturating_add(SENDER_CERTIFICATE_SECS)),
        )
        .map_err(|_| ErrorCode::Internal)?;
        let keys = &self.shared.keys;
        let certificate = SenderCertificate::issue(
            &keys.server,
            &keys.server_cert,
            SenderCertificateInfo {
                serial: self.shared.next_serial.fetch_add(1, Ordering::Relaxed),
                user_id: name.into_bytes(),
                device_id: 1,
                identity_key,
                validity,
            },
        )
        .map_err(|_| ErrorCode::Internal)?;
        Ok(Frame::Certificate(certificate.to_bytes()))
    }

    fn enqueue(&self, envelope: Vec<u8>) -> Result<Frame, ErrorCode> {
        let recipient = envelope_recipient(&envelope).map_err(|_| ErrorCode::Invalid)?;
        let recipient = recipient.to_bytes();
        let id = {
            let db = self.shared.db().map_err(|_| ErrorCode::Internal)?;
            let known: Option<i64> = db
                .prepare_cached("SELECT 1 FROM devices WHERE identity = ?1")
                .and_then(|mut st| {
                    st.query_row(params![recipient.as_slice()], |r| r.get(0))
                        .optional()
                })
                .map_err(|_| ErrorCode::Internal)?;
            if known.is_none() {
                return Err(ErrorCode::UnknownRecipient);
            }
            let queued: i64 = db
                .prepare_cached("SELECT COUNT(*) FROM queue WHERE recipient = ?1")
                .and_then(|mut st| st.query_row(params![recipient.as_slice()], |r| r.get(0)))
                .map_err(|_| ErrorCode::Internal)?;
            if queued >= i64::from(self.shared.config.max_queue) {
                return Err(ErrorCode::Full);
            }
            db.prepare_cached(
                "INSERT INTO queue (recipient, envelope, received_at) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut st| st.execute(params![recipient.as_slice(), envelope, unix_secs_i64()]))
            .map_err(|_| ErrorCode::Internal)?;
            u64::try_from(db.last_insert_rowid()).map_err(|_| ErrorCode::Internal)?
        };
        if let Some(mailbox) = self.shared.online().get(&recipient) {
            mailbox.wake.notify_one();
        }
        Ok(Frame::Accepted { id })
    }

    /// Deletes an acknowledged envelope, if it is this device's (anyone else's stays).
    fn ack(&mut self, device: [u8; 32], id: u64) -> Result<(), RelayError> {
        let Ok(row) = i64::try_from(id) else {
            return Ok(());
        };
        self.shared
            .db()?
            .prepare_cached("DELETE FROM queue WHERE id = ?1 AND recipient = ?2")?
            .execute(params![row, device.as_slice()])?;
        self.in_flight.remove(&id);
        Ok(())
    }

    /// Sends queued envelopes up to the window.
    async fn deliver(&mut self) -> Result<(), Closed> {
        let Some(device) = self.device else {
            return Ok(());
        };
        while self.maybe_more {
            let room = self
                .shared
                .config
                .window
                .saturating_sub(self.in_flight.len());
            if room == 0 {
                return Ok(());
            }
            let want = room.min(16);
            let batch = self.next_batch(&device, want).map_err(Closed::Db)?;
            if batch.len() < want {
                // Anything enqueued from now on wakes this connection.
                self.maybe_more = false;
            }
            for (id, envelope) in batch {
                self.in_flight.insert(id);
                self.last_delivered = self.last_delivered.max(id);
                self.write(&Frame::Deliver { id, envelope }).await?;
            }
        }
        Ok(())
    }

    fn next_batch(&self, device: &[u8; 32], n: usize) -> Result<Vec<(u64, Vec<u8>)>, RelayError> {
        let db = self.shared.db()?;
        let mut stmt = db.prepare_cached(
            "SELECT id, envelope FROM queue WHERE recipient = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let after = i64::try_from(self.last_delivered).unwrap_or(i64::MAX);
        let limit = i64::try_from(n).unwrap_or(16);
        let rows = stmt.query_map(params![device.as_slice(), after, limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, envelope) = row?;
            out.push((
                u64::try_from(id).map_err(|_| RelayError::Corrupt("envelope id"))?,
                envelope,
            ));
        }
        Ok(out)
    }
}

fn unix_secs_i64() -> i64 {
    i64::try_from(unix_now().as_unix_secs()).unwrap_or(i64::MAX)
}

/// Stores the parts of a published bundle. Returns `Ok(false)` if the device already has the
/// maximum of unused one-time prekeys.
fn store_bundle(
    tx: &rusqlite::Transaction<'_>,
    device: &[u8; 32],
    bundle: &PreKeyBundle,
) -> rusqlite::Result<bool> {
    let spk = &bundle.signed_prekey;
    tx.execute(
        "INSERT INTO signed_prekeys (identity, id, key, signature) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (identity) DO UPDATE SET id = excluded.id, key = excluded.key,
             signature = excluded.signature",
        params![
            device.as_slice(),
            spk.id,
            spk.key.as_slice(),
            spk.signature.as_slice()
        ],
    )?;
    let kem = &bundle.kem_prekey;
    match kem.kind {
        KemPreKeyKind::LastResort => {
            tx.execute(
                "INSERT INTO last_resort_kem_prekeys (identity, id, key, signature)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (identity) DO UPDATE SET id = excluded.id, key = excluded.key,
                     signature = excluded.signature",
                params![
                    device.as_slice(),
                    kem.id,
                    kem.key.as_slice(),
                    kem.signature.as_slice()
                ],
            )?;
        }
        _ => {
            let unused: i64 = tx.query_row(
                "SELECT COUNT(*) FROM one_time_kem_prekeys WHERE identity = ?1 AND key IS NOT NULL",
                params![device.as_slice()],
                |r| r.get(0),
            )?;
            if unused >= MAX_STORED_ONE_TIME {
                return Ok(false);
            }
            tx.execute(
                "INSERT OR IGNORE INTO one_time_kem_prekeys (identity, id, key, signature)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    device.as_slice(),
                    kem.id,
                    kem.key.as_slice(),
                    kem.signature.as_slice()
                ],
            )?;
        }
    }
    if let Some(otk) = &bundle.one_time_prekey {
        let unused: i64 = tx.query_row(
            "SELECT COUNT(*) FROM one_time_prekeys WHERE identity = ?1 AND key IS NOT NULL",
            params![device.as_slice()],
            |r| r.get(0),
        )?;
        if unused >= MAX_STORED_ONE_TIME {
            return Ok(false);
        }
        tx.execute(
            "INSERT OR IGNORE INTO one_time_prekeys (identity, id, key) VALUES (?1, ?2, ?3)",
            params![device.as_slice(), otk.id, otk.key.as_slice()],
        )?;
    }
    Ok(true)
}

/// Assembles a bundle for `identity`, handing out (and forgetting) one one-time prekey of each
/// kind if any is left. `None` if the device published no signed prekey or ML-KEM prekey.
fn take_bundle(
    tx: &rusqlite::Transaction<'_>,
    identity_key: IdentityKey,
) -> rusqlite::Result<Option<PreKeyBundle>> {
    let device = identity_key.to_bytes();
    let signed: Option<(u32, Vec<u8>, Vec<u8>)> = tx
        .query_row(
            "SELECT id, key, signature FROM signed_prekeys WHERE identity = ?1",
            params![device.as_slice()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((spk_id, spk_key, spk_sig)) = signed else {
        return Ok(None);
    };
    let (Ok(spk_key), Ok(spk_sig)) = (spk_key.try_into(), spk_sig.try_into()) else {
        return Ok(None);
    };
    let otk: Option<(u32, Vec<u8>)> = tx
        .query_row(
            "SELECT id, key FROM one_time_prekeys WHERE identity = ?1 AND key IS NOT NULL
             ORDER BY id LIMIT 1",
            params![device.as_slice()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let one_time_prekey = match otk {
        Some((id, key)) => {
            tx.execute(
                "UPDATE one_time_prekeys SET key = NULL WHERE identity = ?1 AND id = ?2",
                params![device.as_slice(), id],
            )?;
            key.try_into()
                .ok()
                .map(|key| OneTimePreKeyPublic { id, key })
        }
        None => None,
    };
    let one_time_kem: Option<(u32, Vec<u8>, Vec<u8>)> = tx
        .query_row(
            "SELECT id, key, signature FROM one_time_kem_prekeys
             WHERE identity = ?1 AND key IS NOT NULL ORDER BY id LIMIT 1",
            params![device.as_slice()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (kem_id, kind, kem_key, kem_sig) = match one_time_kem {
        Some((id, key, sig)) => {
            tx.execute(
                "UPDATE one_time_kem_prekeys SET key = NULL, signature = NULL
                 WHERE identity = ?1 AND id = ?2",
                params![device.as_slice(), id],
            )?;
            (id, KemPreKeyKind::OneTime, key, sig)
        }
        None => {
            let last: Option<(u32, Vec<u8>, Vec<u8>)> = tx
                .query_row(
                    "SELECT id, key, signature FROM last_resort_kem_prekeys WHERE identity = ?1",
                    params![device.as_slice()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((id, key, sig)) = last else {
                return Ok(None);
            };
            (id, KemPreKeyKind::LastResort, key, sig)
        }
    };
    let (Ok(kem_key), Ok(kem_sig)) = (kem_key.into_boxed_slice().try_into(), kem_sig.try_into())
    else {
        return Ok(None);
    };
    Ok(Some(PreKeyBundle {
        identity_key,
        signed_prekey: SignedPreKeyPublic {
            id: spk_id,
            key: spk_key,
            signature: spk_sig,
        },
        one_time_prekey,
        kem_prekey: KemPreKeyPublic {
            id: kem_id,
            kind,
            key: kem_key,
            signature: kem_sig,
        },
    }))
}
