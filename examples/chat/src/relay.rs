//! A store-and-forward relay over TLS (tokio-rustls) with a SQLite store (rusqlite), or a
//! PostgreSQL store shared by several relay nodes (see [`store`]).
//!
//! What it does, and nothing more:
//! - serves TLS 1.3 with a self-signed certificate made at first start (see [`crate::tls`]);
//!   plain TCP only when started with `--insecure`;
//! - sends every new connection a fresh 32-byte nonce; the client proves it holds a device
//!   identity key by signing the nonce and the connection's TLS exporter value
//!   ([`hushwire::IdentityKeyPair::sign_relay_challenge`] over [`crate::tls::sign_in_challenge`]),
//!   so a signature is valid on its own connection only. Until then the only frame accepted
//!   is `Auth`, of at most [`MAX_SIGN_IN_FRAME_LEN`] bytes, within `sign_in_timeout`;
//! - registers a name per device (first come, first served, not case-sensitive; `Reregister`
//!   moves a name to a new device, which every peer then sees as a changed identity key),
//!   stores the prekeys the device publishes (each bundle's signatures checked against the
//!   device's key) and hands out each one-time prekey once, then the last-resort ML-KEM prekey;
//!   beside them it keeps the device's signed envelope KEM key (hushwire type `0x36`, for
//!   hybrid sealed envelopes) as opaque bytes of at most [`MAX_ENVELOPE_KEY_LEN`], and hands
//!   it to whoever asks (senders check its owner and signature);
//! - issues the device a short-lived sender certificate (for sealed envelopes), under a server
//!   key certified by the relay's root, which clients pin;
//! - queues sealed envelopes per recipient (it reads only the recipient from them), pushes them
//!   to the one connection of that device that asked to `Receive`, a bounded window at a time,
//!   and deletes each one when the recipient acknowledges it. The queue is in the store
//!   (SQLite, or PostgreSQL shared by several nodes), so it survives a restart;
//! - deletes everything it holds for a device and its name when the device asks (`Erase`,
//!   erasure on request), and says how much of each kind went;
//! - counts what an operator watches, served in the Prometheus text format on a listener of
//!   its own (see [`metrics`]).
//!
//! The relay's identity (root key, server key and certificate) is in `identity.key` and its TLS
//! certificate in `tls.crt`/`tls.key`, beside `relay.sqlite` in its data directory: starting it
//! from another folder changes nothing, and the start-up line says where they are.
//!
//! Robustness: a connection that has not signed in may send one small frame and has
//! `sign_in_timeout` to do it; at most `max_signing_in` such connections exist at once (the
//! oldest makes room for a new one) and `max_signing_in_per_address` per address, apart from
//! the `max_connections` signed-in ones, so idle sockets cannot lock honest clients out.
//! Signed-in connections read frame bodies as they arrive (no allocation ahead of the bytes),
//! have a token-bucket rate limit, and are closed when idle for `idle_timeout`, slower than
//! `frame_timeout` to finish a frame, or not reading within `write_timeout`. A refused or
//! closed connection is told why in a `Notice` frame. A malformed frame closes that connection
//! only. Every connection is its own task; the relay never waits on one connection to serve
//! another.
//!
//! Logs (to stderr, when enabled) name connections by number, address and registered name,
//! and frames by type and length: never key material, never envelope bytes.
//!
//! It also keeps a blob store for encrypted attachments (uploaded in parts, downloaded by id
//! and range, with a size limit, a per-device quota and expiry): see [`blobs`]; and one opaque
//! key backup per registered name, which only the name's current device reads or replaces:
//! see [`backups`].
//!
//! Example-grade shortcut: the relay's root key is generated at first start and only its
//! public half is kept (so the server key cannot be renewed without a new root).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chacha20::ChaCha20Rng;
use hushwire::certificate::SenderCertificateInfo;
use hushwire::device::DeviceList;
use hushwire::sealed::envelope_recipient;
use hushwire::{
    IdentityKey, IssuerKeyPair, PreKeyBundle, SenderCertificate, ServerCertificate, Timestamp,
    Validity,
};
use rand_core::SeedableRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant as Deadline, sleep, sleep_until, timeout, timeout_at};
use tokio_rustls::TlsAcceptor;

use crate::frame::{
    DIRECT_MARK, ErrorCode, Frame, FrameError, HEADER_LEN, MAX_DEVICE_LIST_LEN,
    MAX_ENVELOPE_KEY_LEN, MAX_FRAME_LEN, MAX_SIGN_IN_FRAME_LEN, body_len, valid_name,
};
use crate::tls::{self, Fingerprint, TLS_HANDSHAKE_RECORD};
use crate::{local_time, unix_now};

pub mod backups;
pub mod blobs;
pub mod metrics;
pub mod store;
use blobs::{BlobLimits, Uploads};
use metrics::Metrics;
use store::{Enqueued, Registration, Store, StoreUrl};

/// The root id under which clients pin this relay's root key.
pub const RELAY_ROOT_ID: u32 = 1;
const SERVER_KEY_ID: u32 = 1;
/// How long a sender certificate the relay issues is valid.
const SENDER_CERTIFICATE_SECS: u64 = 24 * 3600;
/// Most unused one-time prekeys (of each kind) stored per device.
pub(crate) const MAX_STORED_ONE_TIME: i64 = 1_000;
/// Most refusals (a TLS handshake and a `Notice`) under way at once; past it, a refused
/// connection is closed without a word.
pub const MAX_REFUSALS_IN_FLIGHT: usize = 32;
/// How long a TLS relay waits for a new connection's first byte (a TLS client sends its
/// hello at once) before telling it, in plain, that the relay speaks TLS only.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a refusal may take (handshake and notice).
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);
/// The SQLite file in the data directory.
pub const DB_FILE: &str = "relay.sqlite";
/// The relay's root and server keys, in the data directory.
pub const IDENTITY_FILE: &str = "identity.key";
/// The relay's TLS certificate (PEM), in the data directory: what peers pin.
pub const TLS_CERT_FILE: &str = "tls.crt";
/// The TLS private key (PEM), in the data directory.
pub const TLS_KEY_FILE: &str = "tls.key";
const IDENTITY_MAGIC: &[u8; 8] = b"HWRELAY1";

const _: () = assert!(MAX_FRAME_LEN > hushwire::sealed::MAX_ENVELOPE_LEN + 16);
const _: () = assert!(MAX_SIGN_IN_FRAME_LEN >= 1 + 32 + 64);
const _: () = assert!(MAX_ENVELOPE_KEY_LEN == hushwire::sealed::ENVELOPE_KEY_LEN);
const _: () = assert!(MAX_DEVICE_LIST_LEN == hushwire::device::MAX_DEVICE_LIST_LEN);
const _: () = assert!(MAX_FRAME_LEN > hushwire::sealed::MAX_HYBRID_ENVELOPE_LEN + 16);

/// Limits and paths; [`RelayConfig::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Where to listen (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The data directory: database, identity, TLS certificate (created if missing).
    pub data_dir: PathBuf,
    /// Serve TLS (the default); `false` is plain TCP (`--insecure`).
    pub tls: bool,
    /// Sustained frames per second a connection may send; above it the relay stops reading
    /// from that connection until the bucket refills.
    pub frames_per_sec: u32,
    /// Burst size of the token bucket.
    pub burst: u32,
    /// A signed-in connection that sends nothing for this long is closed (clients ping).
    pub idle_timeout: Duration,
    /// A new connection must complete TLS and sign in within this.
    pub sign_in_timeout: Duration,
    /// Once the first byte of a frame arrived, the whole frame must arrive within this.
    pub frame_timeout: Duration,
    /// A write to a client that does not read is abandoned (and the connection closed) after
    /// this.
    pub write_timeout: Duration,
    /// Most envelopes queued for one recipient.
    pub max_queue: u32,
    /// Most signed-in connections.
    pub max_connections: usize,
    /// Most connections still signing in (TLS handshake, challenge); when full, the oldest
    /// is closed to make room. Counted apart from `max_connections`: that is the reserve
    /// signed-in clients keep whatever idle sockets do.
    pub max_signing_in: usize,
    /// Most connections signing in from one IP address.
    pub max_signing_in_per_address: usize,
    /// Most connections (signing in or signed in) from one IP address.
    pub max_per_address: usize,
    /// Most envelopes delivered to a connection and not yet acknowledged.
    pub window: usize,
    /// Log connections and errors to stderr.
    pub log: bool,
    /// The blob store's limits (size, quota, expiry).
    pub blobs: BlobLimits,
    /// Where queues, prekeys, registrations, blobs and backups live: `None` is the SQLite
    /// file [`DB_FILE`] in `data_dir`.
    pub store: Option<StoreUrl>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address; `None`: no metrics.
    pub metrics: Option<SocketAddr>,
    /// On a shared store, how often this node looks for envelopes whose notification it
    /// missed ([`store::postgres::POLL_INTERVAL`]).
    pub poll_interval: Duration,
    /// Hand out the envelope KEM keys devices published (`FetchEnvelopeKey`). `false` answers
    /// every fetch with `NoEnvelopeKey` while still storing the keys: a relay withholding
    /// them to downgrade senders to classical envelopes, for testing a recipient that
    /// refuses those (SPEC.md §13.8.4). Never turn it off in production.
    pub serve_envelope_keys: bool,
}

impl RelayConfig {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        RelayConfig {
            listen,
            data_dir,
            tls: true,
            frames_per_sec: 500,
            burst: 1_000,
            idle_timeout: Duration::from_secs(120),
            sign_in_timeout: Duration::from_secs(5),
            frame_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_queue: 10_000,
            max_connections: 1_024,
            max_signing_in: 256,
            max_signing_in_per_address: 16,
            max_per_address: 128,
            window: 64,
            log: true,
            blobs: BlobLimits::default(),
            store: None,
            metrics: None,
            poll_interval: store::postgres::POLL_INTERVAL,
            serve_envelope_keys: true,
        }
    }
}

/// A relay failure at startup or in its store.
#[derive(Debug)]
pub enum RelayError {
    Io(std::io::Error),
    Bind(SocketAddr, std::io::Error),
    File(PathBuf, std::io::Error),
    Db(rusqlite::Error),
    Postgres(tokio_postgres::Error),
    /// A relay handle's inspection method called outside a multi-thread tokio runtime
    /// (PostgreSQL store).
    NoRuntime,
    Tls(tls::TlsSetupError),
    Random,
    Corrupt(&'static str),
    Poisoned,
}

impl fmt::Display for RelayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayError::Io(e) => write!(f, "network: {e}"),
            RelayError::Bind(addr, e) => write!(
                f,
                "cannot listen on {addr}: {e} (another relay running? pick another port with --listen)"
            ),
            RelayError::File(path, e) => write!(f, "{}: {e}", path.display()),
            RelayError::Db(e) => write!(f, "database: {e}"),
            RelayError::Postgres(e) => write!(f, "PostgreSQL: {e}"),
            RelayError::NoRuntime => {
                write!(f, "no multi-thread tokio runtime to reach the store from")
            }
            RelayError::Tls(e) => write!(f, "TLS certificate: {e}"),
            RelayError::Random => write!(f, "the OS random number generator failed"),
            RelayError::Corrupt(what) => write!(f, "invalid {what} in the data directory"),
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

impl From<tokio_postgres::Error> for RelayError {
    fn from(e: tokio_postgres::Error) -> Self {
        RelayError::Postgres(e)
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

/// What a peer pins, and where the relay keeps it.
#[derive(Clone, Debug)]
pub struct RelayIdentity {
    /// The root key sender certificates chain to.
    pub root: [u8; 32],
    /// SHA-256 of the TLS certificate (`None` with `--insecure`).
    pub tls_fingerprint: Option<Fingerprint>,
    /// The identity file.
    pub identity_file: PathBuf,
    /// The certificate file (TLS only).
    pub tls_cert_file: Option<PathBuf>,
    /// Whether the identity was made at this start (a new data directory).
    pub created: bool,
}

/// A running relay. Dropping it without [`RelayHandle::shutdown`] leaves the tasks running
/// until the runtime stops.
pub struct RelayHandle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    shared: Arc<Shared>,
    identity: RelayIdentity,
    metrics_addr: Option<SocketAddr>,
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

    /// The relay's identity: keys, certificate fingerprint and where they are kept.
    pub fn identity(&self) -> &RelayIdentity {
        &self.identity
    }

    /// Stops accepting, tells every connection to close, waits for them, and closes the
    /// database. Queued envelopes stay in the file.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.shared.log(format_args!("stopped"));
    }

    /// The address metrics are served on (`GET /metrics`), if they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Envelopes waiting in the queue, oldest first (at most `limit`). On a PostgreSQL store
    /// this blocks the calling worker thread (a multi-thread runtime is needed).
    pub fn stored(&self, limit: u32) -> Result<Vec<StoredEnvelope>, RelayError> {
        let store = &self.shared.store;
        store.block_on(store.stored(limit))
    }

    /// How many envelopes are queued (on a shared store: for every node).
    pub fn queued(&self) -> Result<u64, RelayError> {
        let store = &self.shared.store;
        store.block_on(store.queued_total())
    }

    /// The envelope KEM key `identity` published, as stored (whether or not the relay serves
    /// it). On a PostgreSQL store this blocks the calling worker thread.
    pub fn envelope_key_of(&self, identity: &[u8; 32]) -> Result<Option<Vec<u8>>, RelayError> {
        let store = &self.shared.store;
        store.block_on(store.envelope_key(identity))
    }

    /// The name `identity` registered, if any.
    pub fn name_of(&self, identity: &[u8; 32]) -> Option<String> {
        let store = &self.shared.store;
        store.block_on(store.name_of(identity)).ok().flatten()
    }
}

/// Starts a relay: binds, opens (or creates) its data directory, and serves in the
/// background. Binding comes first, so a busy port leaves no new files behind.
///
/// # Errors
/// [`RelayError`] if the address cannot be bound or the data directory cannot be used.
pub async fn start(config: RelayConfig) -> Result<RelayHandle, RelayError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| RelayError::Bind(config.listen, e))?;
    let addr = listener.local_addr()?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| RelayError::File(config.data_dir.clone(), e))?;
    let identity_file = config.data_dir.join(IDENTITY_FILE);
    let (keys, created) = relay_keys(&identity_file)?;
    let (acceptor, tls_fingerprint, tls_cert_file) = if config.tls {
        let cert = config.data_dir.join(TLS_CERT_FILE);
        let server = tls::server_identity(&cert, &config.data_dir.join(TLS_KEY_FILE))
            .map_err(RelayError::Tls)?;
        (
            Some(TlsAcceptor::from(server.config)),
            Some(server.fingerprint),
            Some(cert),
        )
    } else {
        (None, None, None)
    };
    let metrics_listener = match config.metrics {
        Some(at) => Some(
            TcpListener::bind(at)
                .await
                .map_err(|e| RelayError::Bind(at, e))?,
        ),
        None => None,
    };
    let metrics_addr = metrics_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let store = match &config.store {
        None => Store::Sqlite(store::sqlite::SqliteStore::open(
            &config.data_dir.join(DB_FILE),
        )?),
        Some(StoreUrl::Sqlite(path)) => Store::Sqlite(store::sqlite::SqliteStore::open(path)?),
        Some(StoreUrl::Postgres(url)) => {
            Store::Postgres(store::postgres::PgStore::open(url).await?)
        }
    };
    let identity = RelayIdentity {
        root: keys.root,
        tls_fingerprint,
        identity_file,
        tls_cert_file,
        created,
    };
    let shared = Arc::new(Shared {
        config,
        store,
        metrics: Metrics::default(),
        keys,
        acceptor,
        online: Mutex::new(HashMap::new()),
        admission: Mutex::new(Admission::default()),
        refusals: Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT)),
        next_conn: AtomicU64::new(1),
        next_serial: AtomicU64::new(unix_now().as_unix_secs().saturating_mul(1_000)),
    });
    shared.log(format_args!(
        "listening on {addr} ({}), data in {}{}",
        if shared.acceptor.is_some() {
            "TLS"
        } else {
            "plain TCP, --insecure"
        },
        shared.config.data_dir.display(),
        match &shared.config.store {
            Some(url) => format!(", store {url}"),
            None => String::new(),
        }
    ));
    let (shutdown, shutdown_rx) = watch::channel(false);
    tokio::spawn(blobs::sweeper(Arc::clone(&shared), shutdown_rx.clone()));
    if let Some(Some(StoreUrl::Postgres(url))) =
        shared.store.is_shared().then_some(&shared.config.store)
    {
        let (wake, wakes) = mpsc::unbounded_channel();
        let log = Arc::clone(&shared);
        tokio::spawn(store::postgres::PgStore::listen(
            url.clone(),
            wake.clone(),
            shutdown_rx.clone(),
            move |line| log.log(format_args!("{line}")),
        ));
        let every = shared.config.poll_interval;
        tokio::spawn(poll_shared_queue(wake, every, shutdown_rx.clone()));
        tokio::spawn(wake_receivers(Arc::clone(&shared), wakes));
    }
    if let Some(listener) = metrics_listener {
        tokio::spawn(metrics::serve(
            listener,
            Arc::clone(&shared),
            shutdown_rx.clone(),
        ));
        if let Some(at) = metrics_addr {
            shared.log(format_args!("metrics on http://{at}/metrics"));
        }
    }
    let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), shutdown_rx));
    Ok(RelayHandle {
        addr,
        shutdown,
        task,
        shared,
        identity,
        metrics_addr,
    })
}

/// On a shared store, wakes every receiving connection `every` (a `poll_interval`): the
/// fallback for a missed notification.
async fn poll_shared_queue(
    wake: mpsc::UnboundedSender<store::postgres::Wake>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = sleep(every) => {
                if wake.send(store::postgres::Wake::All).is_err() {
                    return;
                }
            }
        }
    }
}

/// Wakes the receiving connections the shared store's listener names.
async fn wake_receivers(
    shared: Arc<Shared>,
    mut wakes: mpsc::UnboundedReceiver<store::postgres::Wake>,
) {
    while let Some(wake) = wakes.recv().await {
        let online = shared.online();
        match wake {
            store::postgres::Wake::Device(device) => {
                if let Some(mailbox) = online.get(&device).and_then(|r| r.last()) {
                    mailbox.wake.notify_one();
                }
            }
            store::postgres::Wake::All => {
                for mailbox in online.values().filter_map(|r| r.last()) {
                    mailbox.wake.notify_one();
                }
            }
        }
    }
}

struct RelayKeys {
    root: [u8; 32],
    server: IssuerKeyPair,
    server_cert: ServerCertificate,
}

/// A connection of a device that asked to receive its deliveries: how to wake it, tell it
/// another connection took over, and tell it the deliveries came back to it.
struct Mailbox {
    conn: u64,
    wake: Arc<Notify>,
    moved: Arc<Notify>,
    resumed: Arc<Notify>,
}

/// Who is connected: connections signing in (oldest first, for eviction) and the counts the
/// limits apply to.
#[derive(Default)]
struct Admission {
    signing_in: BTreeMap<u64, (IpAddr, Arc<Notify>)>,
    per_address: HashMap<IpAddr, AddressCount>,
    signed_in: usize,
}

#[derive(Default, Clone, Copy)]
struct AddressCount {
    signing_in: usize,
    total: usize,
}

/// Where a connection stands in [`Admission`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    SigningIn,
    SignedIn,
    Released,
}

impl Admission {
    fn count(&mut self, ip: IpAddr) -> &mut AddressCount {
        self.per_address.entry(ip).or_default()
    }

    fn forget_if_empty(&mut self, ip: IpAddr) {
        if self.per_address.get(&ip).is_some_and(|c| c.total == 0) {
            self.per_address.remove(&ip);
        }
    }

    /// Admits a new connection as signing in, or says why not. When all signing-in slots are
    /// taken, the oldest is evicted (returned, to be told) to make room.
    fn admit(
        &mut self,
        config: &RelayConfig,
        id: u64,
        ip: IpAddr,
        evict: Arc<Notify>,
    ) -> Result<Option<Arc<Notify>>, ErrorCode> {
        let count = *self.count(ip);
        if count.signing_in >= config.max_signing_in_per_address
            || count.total >= config.max_per_address
        {
            self.forget_if_empty(ip);
            return Err(ErrorCode::TooManyFromAddress);
        }
        let mut evicted = None;
        if self.signing_in.len() >= config.max_signing_in.max(1)
            && let Some((_, (old_ip, notify))) = self.signing_in.pop_first()
        {
            let old = self.count(old_ip);
            old.signing_in = old.signing_in.saturating_sub(1);
            old.total = old.total.saturating_sub(1);
            self.forget_if_empty(old_ip);
            evicted = Some(notify);
        }
        self.signing_in.insert(id, (ip, evict));
        let count = self.count(ip);
        count.signing_in += 1;
        count.total += 1;
        Ok(evicted)
    }

    /// Moves a connection from signing in to signed in; `Err` if it was evicted meanwhile
    /// or the signed-in connections are at their limit (its slot is released either way).
    fn sign_in(&mut self, config: &RelayConfig, id: u64) -> Result<(), ErrorCode> {
        let Some((ip, _)) = self.signing_in.remove(&id) else {
            return Err(ErrorCode::Busy);
        };
        let count = self.count(ip);
        count.signing_in = count.signing_in.saturating_sub(1);
        if self.signed_in >= config.max_connections {
            let count = self.count(ip);
            count.total = count.total.saturating_sub(1);
            self.forget_if_empty(ip);
            return Err(ErrorCode::Busy);
        }
        self.signed_in += 1;
        Ok(())
    }

    fn release(&mut self, id: u64, ip: IpAddr, slot: Slot) {
        match slot {
            Slot::SigningIn => {
                // Not there if it was evicted (its counts went then).
                if self.signing_in.remove(&id).is_none() {
                    return;
                }
                let count = self.count(ip);
                count.signing_in = count.signing_in.saturating_sub(1);
            }
            Slot::SignedIn => self.signed_in = self.signed_in.saturating_sub(1),
            Slot::Released => return,
        }
        let count = self.count(ip);
        count.total = count.total.saturating_sub(1);
        self.forget_if_empty(ip);
    }
}

struct Shared {
    config: RelayConfig,
    store: Store,
    metrics: Metrics,
    keys: RelayKeys,
    acceptor: Option<TlsAcceptor>,
    /// Per device, the connections that asked to receive, latest last: the last one receives
    /// the deliveries; when it closes, the one before it gets them back.
    online: Mutex<HashMap<[u8; 32], Vec<Mailbox>>>,
    admission: Mutex<Admission>,
    refusals: Arc<Semaphore>,
    next_conn: AtomicU64,
    next_serial: AtomicU64,
}

impl Shared {
    fn log(&self, args: fmt::Arguments<'_>) {
        if self.config.log {
            eprintln!("[relay {}] {args}", local_time());
        }
    }

    fn online(&self) -> MutexGuard<'_, HashMap<[u8; 32], Vec<Mailbox>>> {
        // A poisoned map is still a valid map: keep serving.
        self.online
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn admission(&self) -> MutexGuard<'_, Admission> {
        self.admission
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn os_rng() -> Result<ChaCha20Rng, RelayError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|_| RelayError::Random)?;
    Ok(ChaCha20Rng::from_seed(seed))
}

/// Writes a file only its owner can read, through a temporary file and a rename.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    let mut file = open.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Loads the relay's keys from its identity file, or makes them at first start (`true`).
/// The file holds `magic(8) root(32) server_seed(32) server_certificate(rest)`.
fn relay_keys(path: &Path) -> Result<(RelayKeys, bool), RelayError> {
    if path.exists() {
        let bytes = std::fs::read(path).map_err(|e| RelayError::File(path.to_path_buf(), e))?;
        let corrupt = RelayError::Corrupt("identity file");
        let rest = bytes
            .strip_prefix(IDENTITY_MAGIC.as_slice())
            .ok_or(corrupt)?;
        let (root, rest) = rest
            .split_first_chunk::<32>()
            .ok_or(RelayError::Corrupt("identity file"))?;
        let (seed, cert) = rest
            .split_first_chunk::<32>()
            .ok_or(RelayError::Corrupt("identity file"))?;
        let server = IssuerKeyPair::dangerous_from_seed(seed);
        let server_cert = ServerCertificate::from_bytes(cert)
            .map_err(|_| RelayError::Corrupt("server certificate"))?;
        if server_cert.key() != &server.public() {
            return Err(RelayError::Corrupt("server certificate"));
        }
        let keys = RelayKeys {
            root: *root,
            server,
            server_cert,
        };
        return Ok((keys, false));
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
    let mut file = IDENTITY_MAGIC.to_vec();
    file.extend_from_slice(&keys.root);
    file.extend_from_slice(keys.server.dangerous_to_seed().as_slice());
    file.extend_from_slice(keys.server_cert.as_bytes());
    write_private(path, &file).map_err(|e| RelayError::File(path.to_path_buf(), e))?;
    Ok((keys, true))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
                    let evict = Arc::new(Notify::new());
                    let admitted = shared.admission().admit(&shared.config, id, peer.ip(), Arc::clone(&evict));
                    let _ = stream.set_nodelay(true);
                    match admitted {
                        Ok(evicted) => {
                            if let Some(evicted) = evicted {
                                evicted.notify_one();
                            }
                            tasks.spawn(connection(stream, peer, id, Arc::clone(&shared), evict, stop.clone()));
                        }
                        Err(code) => {
                            shared.metrics.rejected(code);
                            match Arc::clone(&shared.refusals).try_acquire_owned() {
                                Ok(permit) => {
                                    let shared = Arc::clone(&shared);
                                    tasks.spawn(async move {
                                        refuse_connection(stream, &shared, code).await;
                                        shared.log(format_args!("conn #{id} {peer}: refused: {code}"));
                                        drop(permit);
                                    });
                                }
                                Err(_) => shared.log(format_args!(
                                    "conn #{id} {peer}: refused without notice (too many refusals at once): {code}"
                                )),
                            }
                        }
                    }
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

/// A connection's byte stream: TLS or, with `--insecure`, plain TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Sets up the connection's stream before `deadline`: for TLS, checks the first byte is a
/// TLS record (a plain client is told `TlsRequired` in a plain frame) and completes the
/// handshake. Returns the stream and its channel binding (empty on plain TCP).
async fn establish(
    mut stream: TcpStream,
    shared: &Shared,
    deadline: Deadline,
) -> Result<(Box<dyn Stream>, Vec<u8>), Closed> {
    let Some(acceptor) = &shared.acceptor else {
        return Ok((Box::new(stream), Vec::new()));
    };
    // A TLS client speaks first, at once; a plain client waits for a challenge, so silence
    // for FIRST_BYTE_TIMEOUT means plain TCP (or an idle socket): either way, say so.
    let mut first = [0u8; 1];
    let first_byte_deadline = deadline.min(Deadline::now() + FIRST_BYTE_TIMEOUT);
    let peeked = timeout_at(first_byte_deadline, stream.peek(&mut first)).await;
    match peeked {
        Ok(Ok(1..)) if first == [TLS_HANDSHAKE_RECORD] => {}
        Ok(Ok(0)) => return Err(Closed::ByPeer),
        Ok(Err(e)) => return Err(Closed::Io(e)),
        _ => {
            let notice = Frame::Notice(ErrorCode::TlsRequired).encode_body();
            let mut bytes = u32::try_from(notice.len())
                .unwrap_or(0)
                .to_be_bytes()
                .to_vec();
            bytes.extend_from_slice(&notice);
            let _ = timeout(Duration::from_millis(200), stream.write_all(&bytes)).await;
            return Err(Closed::Refused(ErrorCode::TlsRequired));
        }
    }
    let tls = match timeout_at(deadline, acceptor.accept(stream)).await {
        Err(_) => return Err(Closed::SignInTimeout),
        Ok(Err(e)) => return Err(Closed::Tls(e)),
        Ok(Ok(tls)) => tls,
    };
    let binding =
        tls::channel_binding(tls.get_ref().1).map_err(|e| Closed::Tls(std::io::Error::other(e)))?;
    Ok((Box::new(tls), binding.to_vec()))
}

/// Tells a connection the relay will not serve it why, in a `Notice` (after the TLS
/// handshake, so the client can read it), within [`REFUSAL_TIMEOUT`].
async fn refuse_connection(stream: TcpStream, shared: &Shared, code: ErrorCode) {
    let deadline = Deadline::now() + REFUSAL_TIMEOUT;
    if let Ok((mut stream, _)) = establish(stream, shared, deadline).await
        && let Ok(bytes) = Frame::Notice(code).encode()
    {
        let _ = timeout_at(deadline, async {
            stream.write_all(&bytes).await?;
            stream.shutdown().await
        })
        .await;
    }
}

/// Why a connection ended.
enum Closed {
    ByPeer,
    Idle,
    SlowFrame,
    Truncated,
    Io(std::io::Error),
    Tls(std::io::Error),
    Malformed(FrameError),
    Refused(ErrorCode),
    SignInTimeout,
    Evicted,
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
            Closed::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            Closed::Malformed(e) => write!(f, "malformed frame: {e}"),
            Closed::Refused(code) => write!(f, "refused: {code}"),
            Closed::SignInTimeout => write!(f, "did not sign in within the deadline"),
            Closed::Evicted => write!(f, "closed to make room for a newer connection signing in"),
            Closed::SlowReader => write!(f, "client does not read (write timeout)"),
            Closed::Stopped => write!(f, "relay stopping"),
            Closed::Db(e) => write!(f, "{e}"),
        }
    }
}

impl Closed {
    /// The notice a client gets for this, if it can still read one.
    fn notice(&self) -> Option<ErrorCode> {
        match self {
            Closed::Idle => Some(ErrorCode::Idle),
            Closed::Malformed(_) => Some(ErrorCode::Invalid),
            Closed::SignInTimeout => Some(ErrorCode::SignInTimeout),
            Closed::Evicted => Some(ErrorCode::Busy),
            Closed::Stopped => Some(ErrorCode::ShuttingDown),
            Closed::Db(_) => Some(ErrorCode::Internal),
            _ => None,
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
    evict: Arc<Notify>,
    stop: watch::Receiver<bool>,
) {
    let deadline = Deadline::now() + shared.config.sign_in_timeout;
    let established = tokio::select! {
        established = establish(stream, &shared, deadline) => established,
        () = evict.notified() => Err(Closed::Evicted),
    };
    let (stream, binding) = match established {
        Ok(ok) => ok,
        Err(closed) => {
            shared.admission().release(id, peer.ip(), Slot::SigningIn);
            if shared.config.log && !matches!(closed, Closed::Evicted) {
                shared.log(format_args!("conn #{id} {peer}: {closed}"));
            }
            return;
        }
    };
    let (read, write) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel(4);
    let (signed_in_tx, signed_in_rx) = watch::channel(false);
    let reader = tokio::spawn(read_frames(read, tx, Arc::clone(&shared), signed_in_rx));
    let mut conn = Conn {
        id,
        shared: Arc::clone(&shared),
        writer: write,
        slot: Slot::SigningIn,
        signed_in: signed_in_tx,
        device: None,
        name: None,
        receiving: false,
        in_flight: HashSet::new(),
        last_delivered: 0,
        maybe_more: true,
        wake: Arc::new(Notify::new()),
        moved: Arc::new(Notify::new()),
        resumed: Arc::new(Notify::new()),
        uploads: Uploads::default(),
    };
    let closed = conn.run(rx, stop, &binding, deadline, &evict).await;
    reader.abort();
    if let Some(code) = closed.notice() {
        let _ = timeout(Duration::from_millis(200), conn.write(&Frame::Notice(code))).await;
    }
    if let Some(device) = conn.device {
        let mut online = shared.online();
        if let Some(receivers) = online.get_mut(&device) {
            let was_receiving = receivers.last().is_some_and(|m| m.conn == id);
            receivers.retain(|m| m.conn != id);
            match receivers.last() {
                None => {
                    online.remove(&device);
                }
                Some(next) if was_receiving => next.resumed.notify_one(),
                Some(_) => {}
            }
        }
    }
    if conn.slot == Slot::SignedIn {
        shared.metrics.signed_out();
    }
    shared.admission().release(id, peer.ip(), conn.slot);
    let _ = timeout(Duration::from_millis(200), conn.writer.shutdown()).await;
    // Idle sockets that never signed in are not worth a line each.
    if conn.device.is_some() || !matches!(closed, Closed::SignInTimeout | Closed::Evicted) {
        let who = conn.name.as_deref().unwrap_or("-");
        shared.log(format_args!("conn #{id} {peer} ({who}): {closed}"));
    }
}

/// Reads frames. Before sign-in: one frame of at most [`MAX_SIGN_IN_FRAME_LEN`], then waits
/// until the connection task accepted the sign-in. After: waits up to `idle_timeout` for a
/// frame to start and up to `frame_timeout` for the rest, reading the body as it arrives
/// (memory follows the bytes received, not the length announced); applies the rate limit;
/// stops at the first bad frame.
async fn read_frames(
    mut read: ReadHalf<Box<dyn Stream>>,
    tx: mpsc::Sender<Inbound>,
    shared: Arc<Shared>,
    mut signed_in: watch::Receiver<bool>,
) {
    let config = &shared.config;
    let mut bucket = TokenBucket::new(config.frames_per_sec, config.burst);
    loop {
        let authenticated = *signed_in.borrow();
        let max_len = if authenticated {
            MAX_FRAME_LEN
        } else {
            MAX_SIGN_IN_FRAME_LEN
        };
        let mut first = [0u8; 1];
        // Before sign-in the connection task's deadline applies instead.
        let idle = if authenticated {
            config.idle_timeout
        } else {
            Duration::from_secs(3_600)
        };
        let item = match timeout(idle, read.read(&mut first)).await {
            Err(_) => Err(Closed::Idle),
            // Between frames, a hang-up without TLS close_notify is still a hang-up.
            Ok(Ok(0)) => Err(Closed::ByPeer),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Closed::ByPeer),
            Ok(Err(e)) => Err(Closed::Io(e)),
            Ok(Ok(_)) => {
                let body = timeout(config.frame_timeout, async {
                    let mut rest = [0u8; HEADER_LEN - 1];
                    read.read_exact(&mut rest).await.map_err(eof_or_io)?;
                    let ([b0], [b1, b2, b3]) = (first, rest);
                    let len = body_len([b0, b1, b2, b3]).map_err(Closed::Malformed)?;
                    if len > max_len {
                        return Err(Closed::Malformed(FrameError::BadLength(
                            u32::try_from(len).unwrap_or(u32::MAX),
                        )));
                    }
                    let mut body = Vec::with_capacity(len.min(16 * 1024));
                    let wanted = u64::try_from(len).unwrap_or(0);
                    (&mut read)
                        .take(wanted)
                        .read_to_end(&mut body)
                        .await
                        .map_err(eof_or_io)?;
                    if body.len() < len {
                        return Err(Closed::Truncated);
                    }
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
        if !authenticated && signed_in.wait_for(|yes| *yes).await.is_err() {
            return;
        }
        if bucket.take().await {
            shared.metrics.rate_limited();
        }
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

    /// Takes one token, sleeping until there is one; whether it had to wait.
    async fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens < 1.0 {
            let wait = (1.0 - self.tokens) / self.rate;
            sleep(Duration::from_secs_f64(wait)).await;
            self.tokens = 1.0;
            self.last = Instant::now();
            self.tokens -= 1.0;
            return true;
        }
        self.tokens -= 1.0;
        false
    }
}

struct Conn {
    id: u64,
    shared: Arc<Shared>,
    writer: WriteHalf<Box<dyn Stream>>,
    slot: Slot,
    signed_in: watch::Sender<bool>,
    device: Option<[u8; 32]>,
    name: Option<String>,
    /// Whether this connection receives the device's deliveries (it sent `Receive` and no
    /// later connection of the device took over).
    receiving: bool,
    /// Envelopes delivered on this connection and not acknowledged yet.
    in_flight: HashSet<u64>,
    /// The highest envelope id delivered on this connection.
    last_delivered: u64,
    /// Whether the queue may hold envelopes not delivered on this connection yet (false after
    /// a batch came back short, true again when woken).
    maybe_more: bool,
    wake: Arc<Notify>,
    moved: Arc<Notify>,
    resumed: Arc<Notify>,
    /// Blob uploads under way on this connection.
    uploads: Uploads,
}

impl Conn {
    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<Inbound>,
        mut stop: watch::Receiver<bool>,
        binding: &[u8],
        deadline: Deadline,
        evict: &Notify,
    ) -> Closed {
        let mut nonce = [0u8; 32];
        if getrandom::fill(&mut nonce).is_err() {
            return Closed::Db(RelayError::Random);
        }
        if let Err(closed) = self.write(&Frame::Challenge { nonce }).await {
            return closed;
        }
        let challenge = tls::sign_in_challenge(&nonce, binding);
        let (wake, moved, resumed) = (
            Arc::clone(&self.wake),
            Arc::clone(&self.moved),
            Arc::clone(&self.resumed),
        );
        loop {
            let signing_in = self.device.is_none();
            let step = tokio::select! {
                _ = stop.changed() => return Closed::Stopped,
                () = sleep_until(deadline), if signing_in => return Closed::SignInTimeout,
                () = evict.notified(), if signing_in => return Closed::Evicted,
                () = moved.notified() => {
                    self.receiving = false;
                    self.maybe_more = false;
                    self.write(&Frame::Notice(ErrorCode::Replaced)).await
                }
                () = resumed.notified() => {
                    self.receiving = true;
                    self.maybe_more = true;
                    self.last_delivered = 0;
                    match self.write(&Frame::Notice(ErrorCode::Receiving)).await {
                        Ok(()) => self.deliver().await,
                        Err(closed) => Err(closed),
                    }
                }
                () = wake.notified() => {
                    self.maybe_more = true;
                    self.deliver().await
                }
                inbound = rx.recv() => match inbound {
                    None => return Closed::ByPeer,
                    Some(Err(closed)) => return closed,
                    Some(Ok(frame)) => self.handle(frame, &challenge).await,
                },
            };
            if let Err(closed) = step {
                return closed;
            }
        }
    }

    async fn write(&mut self, frame: &Frame) -> Result<(), Closed> {
        let bytes = frame.encode().map_err(Closed::Malformed)?;
        let write_timeout = self.shared.config.write_timeout;
        match timeout(write_timeout, async {
            self.writer.write_all(&bytes).await?;
            self.writer.flush().await
        })
        .await
        {
            Err(_) => Err(Closed::SlowReader),
            Ok(Err(e)) => Err(Closed::Io(e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Answers a request with an error; closes the connection if the code says so.
    async fn refuse(&mut self, code: ErrorCode) -> Result<(), Closed> {
        self.shared.metrics.rejected(code);
        self.write(&Frame::Error(code)).await?;
        if code.closes_connection() {
            Err(Closed::Refused(code))
        } else {
            Ok(())
        }
    }

    async fn handle(&mut self, frame: Frame, challenge: &[u8]) -> Result<(), Closed> {
        let Some(device) = self.device else {
            return match frame {
                Frame::Auth {
                    identity,
                    signature,
                } => self.authenticate(identity, &signature, challenge).await,
                _ => self.refuse(ErrorCode::BadRequest).await,
            };
        };
        let answer = match frame {
            Frame::Register(name) => self.register(device, name, false).await,
            Frame::Reregister(name) => self.register(device, name, true).await,
            Frame::PublishBundle(bytes) => {
                self.refresh_listed_name(device).await;
                self.publish(device, &bytes).await
            }
            Frame::FetchBundle(identity) => self.fetch_bundle(&identity).await,
            Frame::PublishEnvelopeKey(key) => {
                self.refresh_listed_name(device).await;
                self.publish_envelope_key(device, &key).await
            }
            Frame::FetchEnvelopeKey(identity) => self.fetch_envelope_key(&identity).await,
            Frame::Lookup(name) => self.lookup(&name).await,
            Frame::GetCertificate => {
                self.refresh_listed_name(device).await;
                self.certificate(device)
            }
            Frame::Send(envelope) => self.enqueue(envelope).await,
            Frame::PutDeviceList(list) => self.put_device_list(device, &list).await,
            Frame::GetDeviceList(name) => self.get_device_list(&name).await,
            Frame::SendDirect { to, message } => self.send_direct(device, to, &message).await,
            Frame::Receive => {
                self.start_receiving(device);
                self.write(&Frame::Ok).await?;
                return self.deliver().await;
            }
            Frame::Ack { id } => {
                self.ack(device, id).await.map_err(Closed::Db)?;
                return self.deliver().await;
            }
            Frame::Ping => Ok(Frame::Pong),
            Frame::BlobBegin { len } => self.blob_begin(device, len).await,
            Frame::BlobPut { id, offset, data } => self.blob_put(device, id, offset, &data).await,
            Frame::BlobEnd { id, sha256 } => self.blob_end(device, id, &sha256).await,
            Frame::BlobGet { id, offset, len } => self.blob_get(&id, offset, len).await,
            Frame::PutBackup(backup) => self.put_backup(device, &backup).await,
            Frame::GetBackup => self.get_backup(device).await,
            Frame::Erase => self.erase(device).await,
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

    /// Makes this connection the one that receives the device's deliveries; the one that did
    /// until now is told (and keeps serving requests).
    fn start_receiving(&mut self, device: [u8; 32]) {
        let mut online = self.shared.online();
        let receivers = online.entry(device).or_default();
        if let Some(before) = receivers.last().filter(|m| m.conn != self.id) {
            before.moved.notify_one();
            self.shared.log(format_args!(
                "conn #{}: receives now (instead of conn #{})",
                self.id, before.conn
            ));
        }
        receivers.retain(|m| m.conn != self.id);
        receivers.push(Mailbox {
            conn: self.id,
            wake: Arc::clone(&self.wake),
            moved: Arc::clone(&self.moved),
            resumed: Arc::clone(&self.resumed),
        });
        drop(online);
        self.receiving = true;
        self.maybe_more = true;
        self.last_delivered = 0;
    }

    async fn authenticate(
        &mut self,
        identity: [u8; 32],
        signature: &[u8; 64],
        challenge: &[u8],
    ) -> Result<(), Closed> {
        let ok = IdentityKey::from_bytes(&identity)
            .is_ok_and(|key| key.verify_relay_challenge(challenge, signature));
        if !ok {
            return self.refuse(ErrorCode::Unauthorized).await;
        }
        let admitted = self
            .shared
            .admission()
            .sign_in(&self.shared.config, self.id);
        if let Err(code) = admitted {
            // Its slot is gone either way.
            self.slot = Slot::Released;
            self.shared.metrics.rejected(code);
            self.write(&Frame::Notice(code)).await?;
            return Err(Closed::Refused(code));
        }
        self.slot = Slot::SignedIn;
        self.shared.metrics.signed_in();
        self.device = Some(identity);
        let _ = self.signed_in.send(true);
        self.name = self.shared.store.name_of(&identity).await.ok().flatten();
        self.refresh_listed_name(identity).await;
        let queued = self
            .shared
            .store
            .queued_for(&identity)
            .await
            .map_err(Closed::Db)?;
        self.shared.log(format_args!(
            "conn #{}: signed in ({}), {queued} queued",
            self.id,
            self.name.as_deref().unwrap_or("not registered")
        ));
        self.write(&Frame::Welcome {
            root_id: RELAY_ROOT_ID,
            root: self.shared.keys.root,
            queued: store::count32(queued),
        })
        .await
    }

    /// Registers `name` for this device. With `replace`, a name held by another device moves
    /// to this one (a reinstall): the old device's prekeys and queue go, and every peer that
    /// looks the name up sees a changed identity key (and must verify it again).
    async fn register(
        &mut self,
        device: [u8; 32],
        name: String,
        replace: bool,
    ) -> Result<Frame, ErrorCode> {
        let registered = self.shared.store.register(&device, &name, replace).await;
        let moved = match registered.map_err(|_| ErrorCode::Internal)? {
            Registration::Taken => return Err(ErrorCode::NameTaken),
            Registration::Done { moved } => moved,
        };
        self.shared.log(format_args!(
            "conn #{}: registered as {name}{}",
            self.id,
            if moved {
                " (moved from another device: peers will see a changed key)"
            } else {
                ""
            }
        ));
        self.name = Some(name);
        Ok(Frame::Ok)
    }

    async fn publish(&mut self, device: [u8; 32], bytes: &[u8]) -> Result<Frame, ErrorCode> {
        if self.name.is_none() {
            return Err(ErrorCode::Invalid);
        }
        let bundle = PreKeyBundle::from_bytes(bytes).map_err(|_| ErrorCode::Invalid)?;
        if bundle.identity_key.as_bytes() != &device || bundle.verify().is_err() {
            return Err(ErrorCode::Invalid);
        }
        match self.shared.store.publish(&device, &bundle).await {
            Ok(true) => Ok(Frame::Ok),
            Ok(false) => Err(ErrorCode::Full),
            Err(_) => Err(ErrorCode::Internal),
        }
    }

    async fn fetch_bundle(&mut self, identity: &[u8; 32]) -> Result<Frame, ErrorCode> {
        let identity_key = IdentityKey::from_bytes(identity).map_err(|_| ErrorCode::Invalid)?;
        let bundle = self.shared.store.take_bundle(identity_key).await;
        let bundle = bundle.map_err(|_| ErrorCode::Internal)?;
        let bundle = bundle.ok_or(ErrorCode::NoBundle)?;
        Ok(Frame::Bundle(bundle.to_bytes()))
    }

    /// Stores the device's envelope KEM key: opaque bytes, bounded by
    /// [`MAX_ENVELOPE_KEY_LEN`], from a registered device only (like its prekeys).
    async fn publish_envelope_key(
        &mut self,
        device: [u8; 32],
        key: &[u8],
    ) -> Result<Frame, ErrorCode> {
        if self.name.is_none() || key.len() > MAX_ENVELOPE_KEY_LEN {
            return Err(ErrorCode::Invalid);
        }
        let stored = self.shared.store.put_envelope_key(&device, key).await;
        stored.map_err(|_| ErrorCode::Internal)?;
        Ok(Frame::Ok)
    }

    async fn fetch_envelope_key(&mut self, identity: &[u8; 32]) -> Result<Frame, ErrorCode> {
        if !self.shared.config.serve_envelope_keys {
            return Err(ErrorCode::NoEnvelopeKey);
        }
        let key = self.shared.store.envelope_key(identity).await;
        let key = key.map_err(|_| ErrorCode::Internal)?;
        Ok(Frame::EnvelopeKey(key.ok_or(ErrorCode::NoEnvelopeKey)?))
    }

    async fn lookup(&mut self, name: &str) -> Result<Frame, ErrorCode> {
        let identity = self.shared.store.identity_of(name).await;
        let identity = identity.map_err(|_| ErrorCode::Internal)?;
        Ok(Frame::Identity(identity.ok_or(ErrorCode::UnknownName)?))
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

    async fn enqueue(&mut self, envelope: Vec<u8>) -> Result<Frame, ErrorCode> {
        let recipient = envelope_recipient(&envelope).map_err(|_| ErrorCode::Invalid)?;
        self.enqueue_for(recipient.to_bytes(), &envelope, false)
            .await
    }

    /// A device that registered no name but that a stored device list carries is a device
    /// of that list's user: it takes the user's name for certificates and prekeys. Looked up
    /// at sign-in and again while it has none (its list may be published meanwhile).
    async fn refresh_listed_name(&mut self, device: [u8; 32]) {
        if self.name.is_none() {
            self.name = self
                .shared
                .store
                .listed_user_of(&device)
                .await
                .ok()
                .flatten();
        }
    }

    /// Stores a user's signed device list (see [`crate::frame`]): it must decode with every
    /// signature, name a valid user name, carry the sending device, and either succeed the
    /// stored list or, for the first, carry the device that registered the name.
    async fn put_device_list(
        &mut self,
        device: [u8; 32],
        bytes: &[u8],
    ) -> Result<Frame, ErrorCode> {
        if bytes.len() > MAX_DEVICE_LIST_LEN {
            return Err(ErrorCode::Invalid);
        }
        let list = DeviceList::decode(bytes).map_err(|_| ErrorCode::Invalid)?;
        let name = std::str::from_utf8(list.user_id().as_bytes())
            .ok()
            .filter(|n| valid_name(n))
            .ok_or(ErrorCode::Invalid)?
            .to_owned();
        let carries = |key: &[u8; 32]| {
            list.devices()
                .iter()
                .any(|d| d.identity_key().as_bytes() == key)
        };
        if !carries(&device) {
            return Err(ErrorCode::Invalid);
        }
        let store = &self.shared.store;
        match store
            .device_list(&name)
            .await
            .map_err(|_| ErrorCode::Internal)?
        {
            Some(stored) => {
                let held = DeviceList::decode(&stored).map_err(|_| ErrorCode::Internal)?;
                held.check_successor(&list)
                    .map_err(|_| ErrorCode::StaleDeviceList)?;
            }
            None => {
                let owner = store
                    .identity_of(&name)
                    .await
                    .map_err(|_| ErrorCode::Internal)?;
                if !owner.is_some_and(|o| carries(&o)) {
                    return Err(ErrorCode::Invalid);
                }
            }
        }
        let devices: Vec<[u8; 32]> = list
            .devices()
            .iter()
            .map(|d| *d.identity_key().as_bytes())
            .collect();
        match store
            .put_device_list(&name, list.version(), bytes, &devices)
            .await
        {
            Ok(true) => {
                self.shared.log(format_args!(
                    "conn #{}: device list of {name} v{} ({} devices)",
                    self.id,
                    list.version(),
                    devices.len()
                ));
                Ok(Frame::Ok)
            }
            Ok(false) => Err(ErrorCode::StaleDeviceList),
            Err(_) => Err(ErrorCode::Internal),
        }
    }

    async fn get_device_list(&mut self, name: &str) -> Result<Frame, ErrorCode> {
        let list = self.shared.store.device_list(name).await;
        let list = list.map_err(|_| ErrorCode::Internal)?;
        Ok(Frame::DeviceList(list.ok_or(ErrorCode::NoDeviceList)?))
    }

    /// Queues `message` for `to`, registered or not, as `DIRECT_MARK from(32) message`.
    async fn send_direct(
        &mut self,
        device: [u8; 32],
        to: [u8; 32],
        message: &[u8],
    ) -> Result<Frame, ErrorCode> {
        let mut envelope = Vec::with_capacity(1 + 32 + message.len());
        envelope.push(DIRECT_MARK);
        envelope.extend_from_slice(&device);
        envelope.extend_from_slice(message);
        self.enqueue_for(to, &envelope, true).await
    }

    async fn enqueue_for(
        &mut self,
        recipient: [u8; 32],
        envelope: &[u8],
        any_recipient: bool,
    ) -> Result<Frame, ErrorCode> {
        let max_queue = self.shared.config.max_queue;
        let queued = self
            .shared
            .store
            .enqueue(&recipient, envelope, max_queue, any_recipient)
            .await;
        let id = match queued.map_err(|_| ErrorCode::Internal)? {
            Enqueued::UnknownRecipient => return Err(ErrorCode::UnknownRecipient),
            Enqueued::Full => return Err(ErrorCode::Full),
            Enqueued::Id(id) => id,
        };
        if let Some(mailbox) = self.shared.online().get(&recipient).and_then(|r| r.last()) {
            mailbox.wake.notify_one();
        }
        self.shared.metrics.accepted();
        Ok(Frame::Accepted { id })
    }

    /// Deletes an acknowledged envelope, if it is this device's (anyone else's stays).
    async fn ack(&mut self, device: [u8; 32], id: u64) -> Result<(), RelayError> {
        self.shared.store.ack(&device, id).await?;
        self.in_flight.remove(&id);
        Ok(())
    }

    /// Erasure on request: deletes everything the store holds for this device and its name,
    /// and ends its deliveries on this node; answers with what went.
    async fn erase(&mut self, device: [u8; 32]) -> Result<Frame, ErrorCode> {
        let erased = self.shared.store.erase(&device).await;
        let erased = erased.map_err(|_| ErrorCode::Internal)?;
        self.name = None;
        self.in_flight.clear();
        self.last_delivered = 0;
        self.shared.metrics.erased();
        self.shared.log(format_args!(
            "conn #{}: erased on request ({} items)",
            self.id,
            erased.total()
        ));
        Ok(Frame::Erased(erased))
    }

    /// Sends queued envelopes up to the window.
    async fn deliver(&mut self) -> Result<(), Closed> {
        let Some(device) = self.device.filter(|_| self.receiving) else {
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
            let in_flight: Vec<u64> = self.in_flight.iter().copied().collect();
            let batch = self
                .shared
                .store
                .next_batch(&device, self.last_delivered, &in_flight, want)
                .await
                .map_err(Closed::Db)?;
            if batch.len() < want {
                // Anything enqueued from now on wakes this connection.
                self.maybe_more = false;
            }
            for (id, envelope) in batch {
                self.in_flight.insert(id);
                self.last_delivered = self.last_delivered.max(id);
                self.write(&Frame::Deliver { id, envelope }).await?;
                self.shared.metrics.delivered();
            }
        }
        Ok(())
    }
}

pub(crate) fn unix_secs_i64() -> i64 {
    i64::try_from(unix_now().as_unix_secs()).unwrap_or(i64::MAX)
}
