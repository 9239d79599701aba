//! A command-line chat peer for the example relay.
//!
//! ```text
//! cargo run --release --bin peer -- --state alice init alice
//! cargo run --release --bin peer -- --state alice register
//! cargo run --release --bin peer -- --state alice send bob "hi Bob"
//! cargo run --release --bin peer -- --state alice send-file bob invoice.pdf
//! cargo run --release --bin peer -- --state alice recv                 # saves files too
//! cargo run --release --bin peer -- --state alice chat bob
//! cargo run --release --bin peer -- --state alice safety-number bob
//! cargo run --release --bin peer -- --state alice verify bob <payload hex from Bob's screen>
//! cargo run --release --bin peer -- --state alice repin-relay          # after a relay change
//! cargo run --release --bin peer -- --state alice backup               # key backup to the relay
//! cargo run --release --bin peer -- --state alice2 restore alice       # on a new device
//! cargo run --release --bin peer -- --state alice link-device          # shows a QR code
//! cargo run --release --bin peer -- --state laptop init alice          # the new device…
//! cargo run --release --bin peer -- --state laptop link-device --join <hex under the QR code>
//! cargo run --release --bin peer -- --state alice devices
//! cargo run --release --bin peer -- --state alice remove-device 2
//! ```
//!
//! `link-device` makes a second device of yours (a laptop) a device of the same user
//! (hushwire SPEC.md §19.11): the device you have shows a QR code and the hex line under it;
//! on the new device (`init` with any name, no `register`), `link-device --join <hex>` opens a
//! session with the first device through the relay; both print the same seven emoji (and
//! numbers): answer `y` on both if they match. The first device then publishes the signed
//! device list carrying the laptop, and from then on everyone who writes to you encrypts to
//! both devices (one envelope each). `devices` shows the list, `remove-device ID` removes a
//! device (on the device that created the user: version + 1 with a tombstone).
//!
//! The state directory holds `key` (32 random bytes: keep it apart from backups of the state)
//! and the device as hushwire's records (SPEC.md §11.9), each encrypted under that key:
//! `state` (the account record, plus the peer's name and the relay root key and TLS
//! certificate it pinned at registration, encrypted and bound to the account record),
//! `identity_book`, and `peers/<identity key in hex>`, one per contact. After every command
//! that changes the device, only the records it reports as changed (`Device::take_changes`)
//! are written, each through a temporary file and a rename (mode 0600 on Unix), before
//! anything is sent or acknowledged to the relay, so a restart resumes the conversation. A
//! state directory of an older build (one `state` file holding the whole account blob) is read
//! and rewritten as records. Commands take `state.lock` while they read and write
//! the state, and `chat` re-reads the state under it for every message, so a `verify` run
//! beside an open chat is never overwritten.
//!
//! What is typed is masked before it is encrypted (card numbers and IBANs keep their last four
//! characters; `--no-mask` turns it off), and the peer says what it masked. With `--vault
//! NAME`, each masked value is sealed to that identity (a payment vault) and the recipient gets
//! the masked form and a reference. Files go to the relay's blob store encrypted (hushwire
//! attachments); `recv` and `chat` fetch, verify and save them in `--files DIR`.
//!
//! `backup` keeps an encrypted key backup (hushwire's `backup`, SPEC.md §18) on the relay: the
//! first run makes a recovery key and shows it once; every run appends the identity book
//! (who is verified) and uploads the whole backup. The state directory keeps the backup
//! writer in `backup` (encrypted under `key`), never the recovery key. `restore NAME` on a
//! new device takes the name over, downloads the backup, opens it with the recovery key and
//! asks every contact for a fresh 1:1 session (1:1 sessions are never backed up).
//!
//! Sealed envelopes are hybrid (X25519 + ML-KEM-768, hushwire SPEC.md §13.8) to every contact
//! that published an envelope KEM key, classical to the others. `init` turns hybrid envelopes
//! on, and `register` publishes the key with the prekeys (and again at each prekey rotation).
//! A state directory made by an older build gets them turned on, and its key published, at
//! the next command that signs in (`register`, `send`, `recv`, `chat`, ...).

use std::collections::VecDeque;
use std::error::Error;
use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use clap::{Parser, Subcommand};
use hushwire::attachment::AttachmentPointer;
use hushwire::backup::{
    self, BackupOptions, BackupPublicKey, BackupWriter, RECOVERY_KEY_DISPLAY_LEN, RecoveryKey,
};
use hushwire::mask::{MaskCheckError, Masker};
use hushwire::{BackupError, Event, IdentityKey, SafetyNumber, StorageKey, UserId};
use hushwire_examples::chat::{
    Incoming, LinkSas, Peer, RelayChanged, UnknownPeer, envelope_kind, kind_name,
};
use hushwire_examples::client::BlobId;
use hushwire_examples::client::{ClientError, Event as LinkEvent, RelayClient};
use hushwire_examples::frame::{ErrorCode, MAX_STORED_BACKUP_LEN, valid_name};
use hushwire_examples::tls::{Pin, parse_fingerprint, show_fingerprint};
use hushwire_examples::{local_date_time, local_time, unix_now};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use rand_core::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::{Instant, sleep, sleep_until};

/// `println!` that ignores a closed stdout (`peer … | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

type CliResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// A command-line chat peer for the example relay (end-to-end encrypted with hushwire).
#[derive(Parser, Debug)]
#[command(name = "peer", version)]
struct Cli {
    /// State directory of this identity.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "hushwire-peer"
    )]
    state: PathBuf,
    /// Relay address.
    #[arg(long, global = true, value_name = "ADDR", default_value = DEFAULT_RELAY)]
    relay: String,
    /// Plain TCP to a relay started with --insecure (no TLS: anyone on the path sees who
    /// signs in and who receives what, when).
    #[arg(long, global = true)]
    insecure: bool,
    /// Send text as typed: do not mask card numbers and IBANs before encrypting.
    #[arg(long, global = true)]
    no_mask: bool,
    /// Seal each masked value to this identity (a payment vault); the recipient gets the
    /// masked form and a reference.
    #[arg(long, global = true, value_name = "NAME")]
    vault: Option<String>,
    /// Where received files are saved (default: `files` in the state directory).
    #[arg(long, global = true, value_name = "DIR")]
    files: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create an identity named NAME in the state directory.
    Init {
        /// 1 to 64 ASCII letters, digits or . - _ @ (not case-sensitive).
        name: String,
    },
    /// Register the name with the relay, upload prekeys, and pin the relay's TLS certificate
    /// and root key.
    Register {
        /// Take the name from the device that registered it (a reinstall, a new device): every
        /// peer sees a changed identity key and must verify it again.
        #[arg(long)]
        replace: bool,
    },
    /// Send one message to PEER.
    Send {
        peer: String,
        #[arg(required = true, num_args = 1..)]
        message: Vec<String>,
    },
    /// Send the file at PATH to PEER: encrypted on this device, uploaded to the relay's blob
    /// store, the key sent to PEER end-to-end.
    SendFile { peer: String, path: PathBuf },
    /// Print the messages waiting (and any arriving within --wait seconds); save files.
    Recv {
        #[arg(long, default_value_t = 2, value_name = "SECS")]
        wait: u64,
    },
    /// Chat with PEER: type lines to send, see messages arrive (Ctrl-D quits).
    Chat { peer: String },
    /// Show the safety number with PEER, and its QR code.
    SafetyNumber { peer: String },
    /// Check the payload shown under PEER's QR code; mark PEER verified.
    Verify {
        peer: String,
        /// The hex line printed under the QR code on PEER's screen.
        payload: String,
    },
    /// After the relay was replaced on purpose (new data directory): show the pinned and the
    /// presented keys; with --confirm, pin the new ones and register again.
    RepinRelay {
        /// The new TLS certificate's SHA-256 as shown (with --insecure: the new root key).
        #[arg(long, value_name = "FINGERPRINT")]
        confirm: Option<String>,
    },
    /// Back up this device's keys to the relay, encrypted under a recovery key: the first
    /// run shows the key once (write it down); later runs append without it. Backs up who you
    /// verified (and groups); never 1:1 sessions.
    Backup {
        /// Back up the identity key too: a restored device keeps it, and peers see no change.
        #[arg(long)]
        include_identity: bool,
    },
    /// Link another device of yours: run it on the device you have (it shows a QR code and
    /// waits), then on the new device (after `init`) with --join and the hex line under that
    /// QR code. Both show a short string: answer `y` on both if it is the same.
    LinkDevice {
        /// On the new device: the hex line under the existing device's QR code.
        #[arg(long, value_name = "HEX")]
        join: Option<String>,
        /// How long to wait for the other device, in seconds (the run expires after 600).
        #[arg(long, default_value_t = 600, value_name = "SECS")]
        wait: u64,
        /// Take "the strings match" as answered (scripts and tests only: it skips the very
        /// check that keeps someone in the middle out).
        #[arg(long)]
        yes: bool,
    },
    /// List the devices of your user (the signed list the relay stores, checked here).
    Devices,
    /// Remove device ID from your user (on the device that created the user).
    RemoveDevice { id: u32 },
    /// In a new (empty) state directory: take NAME over on the relay, download its backup,
    /// open it with the recovery key, and restart 1:1 sessions with every contact.
    Restore {
        name: String,
        /// The recovery key as written down (asked for on stdin if not given).
        #[arg(long, value_name = "KEY")]
        recovery_key: Option<String>,
    },
}

const DEFAULT_RELAY: &str = "127.0.0.1:7070";
/// How long to wait for the relay to connect or answer.
const WAIT: Duration = Duration::from_secs(5);
/// Transfers of at least this many bytes show their progress.
const PROGRESS_MIN: u64 = 1024 * 1024;
/// How long a command waits for another one to release the state directory.
const LOCK_WAIT: Duration = Duration::from_secs(15);
/// Longest pause between two reconnection attempts of `chat`.
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// How often `chat` retries lines queued for a peer that has not registered yet.
const QUEUE_RETRY: Duration = Duration::from_secs(3);
const STATE_MAGIC: &[u8; 8] = b"HWPEER01";
/// In the state directory: the identity book's record, and the directory of the peer records
/// (one file per peer).
const BOOK_FILE: &str = "identity_book";
/// In the state directory: the user-devices record (this device's user, device lists held),
/// written once the device belongs to a user or holds another user's list.
const USER_DEVICES_FILE: &str = "user_devices";
const PEERS_DIR: &str = "peers";
const META_KEY_LABEL: &[u8] = b"hushwire-example/peer/state-meta";
const BACKUP_MAGIC: &[u8; 8] = b"HWBACKW1";
const BACKUP_KEY_LABEL: &[u8] = b"hushwire-example/peer/backup-writer";
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 12;

/// The options a printed hint repeats (relay address, --insecure), set once in `main`.
static HINT_OPTIONS: OnceLock<String> = OnceLock::new();

/// The full command a person types to run `rest` on the state directory `dir`.
fn peer_command(dir: &Path, rest: &str) -> String {
    format!(
        "cargo run --release --bin peer -- --state {}{} {rest}",
        dir.display(),
        HINT_OPTIONS.get().map_or("", String::as_str)
    )
}

fn main() {
    let cli = Cli::parse();
    let mut hint = String::new();
    if cli.relay != DEFAULT_RELAY {
        hint.push_str(&format!(" --relay {}", cli.relay));
    }
    if cli.insecure {
        hint.push_str(" --insecure");
    }
    let _ = HINT_OPTIONS.set(hint);
    hushwire_examples::run_main("peer", run(cli));
}

fn os_rng() -> CliResult<ChaCha20Rng> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| format!("the OS random number generator failed: {e}"))?;
    Ok(ChaCha20Rng::from_seed(seed))
}

struct Options {
    state: PathBuf,
    relay: String,
    insecure: bool,
    /// `None` with `--no-mask`.
    masker: Option<Masker>,
    vault: Option<String>,
    files: PathBuf,
}

impl Options {
    fn relay(&self) -> CliResult<SocketAddr> {
        self.relay
            .to_socket_addrs()
            .map_err(|e| format!("bad relay address `{}`: {e}", self.relay))?
            .next()
            .ok_or_else(|| format!("the relay address `{}` resolves to nothing", self.relay).into())
    }
}

/// A peer name as the relay knows it: names are not case-sensitive, and stored lower-case.
fn peer_name(name: &str) -> CliResult<String> {
    let lower = name.to_ascii_lowercase();
    if !valid_name(&lower) {
        return Err(format!(
            "`{name}` is not a valid name: 1 to 64 ASCII letters, digits or . - _ @"
        )
        .into());
    }
    if lower != name {
        eprintln!("(names are not case-sensitive: `{name}` is `{lower}`)");
    }
    Ok(lower)
}

async fn run(cli: Cli) -> CliResult<()> {
    let vault = cli.vault.as_deref().map(peer_name).transpose()?;
    if cli.no_mask && vault.is_some() {
        return Err("--vault seals what masking finds: it cannot go with --no-mask".into());
    }
    let options = Options {
        files: cli.files.unwrap_or_else(|| cli.state.join("files")),
        state: cli.state,
        relay: cli.relay,
        insecure: cli.insecure,
        masker: (!cli.no_mask).then(Masker::new),
        vault,
    };
    match cli.command {
        Command::Init { name } => init(&options, &peer_name(&name)?).await,
        Command::Register { replace } => register(&options, replace).await,
        Command::Send { peer, message } => {
            send(&options, &peer_name(&peer)?, &message.join(" ")).await
        }
        Command::SendFile { peer, path } => send_file(&options, &peer_name(&peer)?, &path).await,
        Command::Recv { wait } => recv(&options, Duration::from_secs(wait.min(3_600))).await,
        Command::Chat { peer } => chat(&options, &peer_name(&peer)?).await,
        Command::SafetyNumber { peer } => safety_number(&options, &peer_name(&peer)?).await,
        Command::Verify { peer, payload } => verify(&options, &peer_name(&peer)?, &payload).await,
        Command::RepinRelay { confirm } => repin_relay(&options, confirm.as_deref()).await,
        Command::Backup { include_identity } => backup_command(&options, include_identity).await,
        Command::Restore { name, recovery_key } => {
            restore_command(&options, &peer_name(&name)?, recovery_key).await
        }
        Command::LinkDevice { join, wait, yes } => {
            let wait = Duration::from_secs(wait.min(600));
            match join {
                Some(payload) => join_device(&options, &payload, wait, yes).await,
                None => link_device(&options, wait, yes).await,
            }
        }
        Command::Devices => devices_command(&options).await,
        Command::RemoveDevice { id } => remove_device_command(&options, id).await,
    }
}

// ── The state directory's lock ───────────────────────────────────────────────────────────────

/// One writer at a time in a state directory: an advisory lock on `state.lock`, which also
/// says who holds it (for the person whose command waits).
struct StateLock {
    _file: File,
}

fn lock_path(dir: &Path) -> PathBuf {
    dir.join("state.lock")
}

/// Takes the state directory's lock, waiting up to [`LOCK_WAIT`] (and saying for whom).
async fn lock_state(dir: &Path, command: &str) -> CliResult<StateLock> {
    let path = lock_path(dir);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let start = Instant::now();
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = File::open(&path).and_then(|mut f| f.read_to_string(&mut holder));
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    "another command"
                } else {
                    holder
                };
                if start.elapsed() >= LOCK_WAIT {
                    return Err(format!(
                        "{} is in use by {holder}; try again when it is done",
                        dir.display()
                    )
                    .into());
                }
                if !told && start.elapsed() >= Duration::from_millis(500) {
                    eprintln!("(waiting for {holder} to finish with {})", dir.display());
                    told = true;
                }
                sleep(Duration::from_millis(20)).await;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", path.display()).into());
            }
        }
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "`{command}` (process {})", std::process::id());
    Ok(StateLock { _file: file })
}

// ── State on disk ────────────────────────────────────────────────────────────────────────────

/// The peer and where it is stored.
struct Device {
    dir: PathBuf,
    key: [u8; 32],
    generation: u64,
    peer: Peer,
    /// Write every record at the next save, not only the changed ones: a new state directory,
    /// or one of an older build (a single account blob) being rewritten as records.
    write_all: bool,
    /// The metadata last written with the account record (rewritten when it changes).
    written_meta: Vec<u8>,
}

fn key_path(dir: &Path) -> PathBuf {
    dir.join("key")
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("state")
}

fn meta_cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    labeled_cipher(key, META_KEY_LABEL)
}

fn labeled_cipher(key: &[u8; 32], label: &[u8]) -> ChaCha20Poly1305 {
    let mut h = Sha256::new();
    h.update(label);
    h.update(key);
    let derived: [u8; 32] = h.finalize().into();
    ChaCha20Poly1305::new(&derived.into())
}

fn book_path(dir: &Path) -> PathBuf {
    dir.join(BOOK_FILE)
}

fn peer_path(dir: &Path, peer: &IdentityKey) -> PathBuf {
    dir.join(PEERS_DIR).join(hex::encode(peer.as_bytes()))
}

/// Writes a file only its owner can read, atomically: a temporary file, flushed, then renamed
/// over the old one, so a crash leaves the old or the new record, never half of one.
fn write_atomic(path: &Path, bytes: &[u8]) -> CliResult<()> {
    let tmp = path.with_extension("tmp");
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    open.open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot save {}: {e}", path.display()).into())
}

/// The associated data of the metadata: the header and the account blob it goes with.
fn meta_ad(generation: u64, account_blob: &[u8]) -> Vec<u8> {
    let mut ad = STATE_MAGIC.to_vec();
    ad.extend_from_slice(&generation.to_be_bytes());
    ad.extend_from_slice(&Sha256::digest(account_blob));
    ad
}

impl Device {
    /// The metadata: the name and the relay pins.
    fn meta(&self) -> CliResult<Vec<u8>> {
        let mut meta = Vec::new();
        let name = self.peer.name.as_bytes();
        meta.push(u8::try_from(name.len()).map_err(|_| "name too long")?);
        meta.extend_from_slice(name);
        match (self.peer.relay_root, self.peer.relay_cert) {
            (Some(root), Some(cert)) => {
                meta.push(2);
                meta.extend_from_slice(&root);
                meta.extend_from_slice(&cert);
            }
            (Some(root), None) => {
                meta.push(1);
                meta.extend_from_slice(&root);
            }
            (None, _) => meta.push(0),
        }
        Ok(meta)
    }

    /// Writes the records the device reports as changed (all of them after `init`, `restore`
    /// or reading an older state directory), each atomically; deletes the records of removed
    /// peers. The account record goes in `state`: `magic(8) generation(8) meta_len(2)
    /// nonce(12) meta(meta_len) account_record`, rewritten also when the metadata changed.
    fn save(&mut self) -> CliResult<()> {
        let mut rng = os_rng()?;
        let key = StorageKey::from_bytes(self.key);
        let mut changes = self.peer.device.take_changes();
        let write_all = std::mem::take(&mut self.write_all);
        if write_all {
            changes.account = true;
            changes.identity_book = true;
            changes.peers.extend(self.peer.device.peers());
        }
        let meta = self.meta()?;
        if changes.is_empty() && meta == self.written_meta {
            return Ok(());
        }
        self.generation += 1;
        let generation = self.generation;
        if !changes.peers.is_empty() {
            let dir = self.dir.join(PEERS_DIR);
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        for peer in &changes.peers {
            if let Some(blob) = self
                .peer
                .device
                .peer_record_to_encrypted(peer, &key, generation, &mut rng)
            {
                write_atomic(&peer_path(&self.dir, peer), &blob)?;
            }
        }
        if changes.identity_book {
            let blob = self
                .peer
                .device
                .identity_book_to_encrypted(&key, generation, &mut rng);
            write_atomic(&book_path(&self.dir), &blob)?;
        }
        if changes.user_devices {
            let blob = self
                .peer
                .device
                .user_devices_to_encrypted(&key, generation, &mut rng);
            write_atomic(&self.dir.join(USER_DEVICES_FILE), &blob)?;
        }
        if changes.account || meta != self.written_meta {
            let blob = self
                .peer
                .device
                .account_record_to_encrypted(&key, generation, &mut rng);
            let mut sealed = meta.clone();
            let mut nonce = [0u8; NONCE_LEN];
            rng.fill_bytes(&mut nonce);
            let tag = meta_cipher(&self.key)
                .encrypt_inout_detached(
                    &Nonce::from(nonce),
                    &meta_ad(generation, &blob),
                    sealed.as_mut_slice().into(),
                )
                .map_err(|_| "cannot encrypt the state")?;
            sealed.extend_from_slice(&tag);
            let mut out = STATE_MAGIC.to_vec();
            out.extend_from_slice(&generation.to_be_bytes());
            out.extend_from_slice(
                &u16::try_from(sealed.len())
                    .map_err(|_| "state too large")?
                    .to_be_bytes(),
            );
            out.extend_from_slice(&nonce);
            out.extend_from_slice(&sealed);
            out.extend_from_slice(&blob);
            write_atomic(&state_path(&self.dir), &out)?;
            self.written_meta = meta;
        }
        // Deleted last: the account record no longer lists them.
        for peer in &changes.removed_peers {
            let path = peer_path(&self.dir, peer);
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(format!("cannot delete {}: {e}", path.display()).into());
            }
        }
        Ok(())
    }

    fn load(dir: &Path) -> CliResult<Device> {
        let key_file = key_path(dir);
        let path = state_path(dir);
        if !path.exists() {
            return Err(format!(
                "no identity in {}: create one with `{}`",
                dir.display(),
                peer_command(dir, "init NAME")
            )
            .into());
        }
        let key: [u8; 32] = std::fs::read(&key_file)
            .map_err(|e| format!("cannot read the key file {}: {e}", key_file.display()))?
            .try_into()
            .map_err(|_| format!("the key file {} is not 32 bytes", key_file.display()))?;
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let corrupted = |why: &str| {
            format!(
                "the state file {} is corrupted or belongs to another key file ({why}); restore \
                 it from a backup, or start over with `init` in a new directory",
                path.display()
            )
        };
        let (magic, rest) = bytes
            .split_at_checked(8)
            .ok_or_else(|| corrupted("truncated"))?;
        if magic != STATE_MAGIC {
            return Err(corrupted("not a peer state file").into());
        }
        let (generation, rest) = rest
            .split_at_checked(8)
            .ok_or_else(|| corrupted("truncated"))?;
        let generation =
            u64::from_be_bytes(generation.try_into().map_err(|_| corrupted("header"))?);
        let (meta_len, rest) = rest
            .split_at_checked(2)
            .ok_or_else(|| corrupted("truncated"))?;
        let meta_len = usize::from(u16::from_be_bytes(
            meta_len.try_into().map_err(|_| corrupted("header"))?,
        ));
        let (nonce, rest) = rest
            .split_at_checked(NONCE_LEN)
            .ok_or_else(|| corrupted("truncated"))?;
        let (meta, blob) = rest
            .split_at_checked(meta_len)
            .ok_or_else(|| corrupted("truncated"))?;
        let (meta, tag) = meta
            .split_at_checked(
                meta_len
                    .checked_sub(TAG_LEN)
                    .ok_or_else(|| corrupted("header"))?,
            )
            .ok_or_else(|| corrupted("truncated"))?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| corrupted("header"))?;
        let tag = Tag::try_from(tag).map_err(|_| corrupted("header"))?;
        let mut meta = meta.to_vec();
        meta_cipher(&key)
            .decrypt_inout_detached(
                &Nonce::from(nonce),
                &meta_ad(generation, blob),
                meta.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| corrupted("authentication failed"))?;
        // The account record carries its own generation; it must be this file's. A state
        // directory of an older build holds the whole account blob here instead.
        let storage_key = StorageKey::from_bytes(key);
        let any = hushwire::persist::Expected::any();
        let older_build = hushwire::persist::peek_blob(blob)
            .is_ok_and(|info| info.type_tag == hushwire::persist::StateType::Account.tag());
        let account = if older_build {
            hushwire::Device::from_encrypted(blob, &storage_key, generation, &any)
                .map_err(|e| corrupted(&e.to_string()))?
        } else {
            let book_file = book_path(dir);
            let book = std::fs::read(&book_file)
                .map_err(|e| format!("cannot read {}: {e}", book_file.display()))?;
            let mut device =
                hushwire::Device::from_records(blob, generation, &book, 0, &storage_key, &any)
                    .map_err(|e| corrupted(&e.to_string()))?;
            // A command-line peer has few contacts: it loads them all. An app with many
            // loads a record when a call about that peer fails with `NotLoaded`.
            for peer in device.unloaded_peers() {
                let path = peer_path(dir, &peer);
                let record = std::fs::read(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                device
                    .load_peer(
                        &record,
                        &storage_key,
                        0,
                        &hushwire::persist::Expected::peer(&peer),
                    )
                    .map_err(|e| corrupted(&format!("{}: {e}", path.display())))?;
            }
            let users = dir.join(USER_DEVICES_FILE);
            if users.exists() {
                let record = std::fs::read(&users)
                    .map_err(|e| format!("cannot read {}: {e}", users.display()))?;
                device
                    .load_user_devices(&record, &storage_key, 0)
                    .map_err(|e| corrupted(&format!("{}: {e}", users.display())))?;
            }
            device
        };
        let (&name_len, meta) = meta.split_first().ok_or_else(|| corrupted("metadata"))?;
        let (name, meta) = meta
            .split_at_checked(usize::from(name_len))
            .ok_or_else(|| corrupted("metadata"))?;
        let name = std::str::from_utf8(name).map_err(|_| corrupted("metadata"))?;
        let pin = |bytes: &[u8]| <[u8; 32]>::try_from(bytes).map_err(|_| corrupted("metadata"));
        let (relay_root, relay_cert) = match meta {
            [0] => (None, None),
            [1, root @ ..] => (Some(pin(root)?), None),
            [2, pins @ ..] if pins.len() == 64 => {
                let (root, cert) = pins.split_at(32);
                (Some(pin(root)?), Some(pin(cert)?))
            }
            _ => return Err(corrupted("metadata").into()),
        };
        let mut device = Device {
            dir: dir.to_path_buf(),
            key,
            generation,
            peer: Peer::from_parts(name, account, relay_root, relay_cert),
            write_all: older_build,
            written_meta: Vec::new(),
        };
        device.written_meta = device.meta()?;
        Ok(device)
    }

    /// Reads the state again (under the lock, before changing it): what another command
    /// saved meanwhile is kept. The connection-related parts (trust, certificate) stay.
    fn reload(&mut self) -> CliResult<()> {
        let fresh = Device::load(&self.dir)?;
        self.generation = fresh.generation;
        self.peer.device = fresh.peer.device;
        self.peer.relay_root = fresh.peer.relay_root;
        self.peer.relay_cert = fresh.peer.relay_cert;
        self.write_all = fresh.write_all;
        self.written_meta = fresh.written_meta;
        Ok(())
    }

    fn require_registered(&self) -> CliResult<()> {
        if self.peer.relay_root.is_none() {
            return Err(format!(
                "`{}` is not registered yet: run `{}` first",
                self.peer.name,
                peer_command(&self.dir, "register")
            )
            .into());
        }
        Ok(())
    }

    async fn connect(&mut self, options: &Options) -> CliResult<RelayClient> {
        self.require_registered()?;
        let link = self.peer.link(WAIT, options.insecure);
        let mut client = self
            .peer
            .connect(options.relay()?, &link, true, unix_now())
            .await
            .map_err(|e| explain_relay_change(e, &self.dir))?;
        if self.enable_hybrid_envelopes()? {
            let mut rng = os_rng()?;
            self.peer
                .publish_prekeys(&mut client, unix_now(), &mut rng)
                .await?;
            self.save()?;
            out!("hybrid sealed envelopes turned on: envelope key published");
        }
        Ok(client)
    }

    /// Turns hybrid envelopes on for a state directory of an older build (new ones have them
    /// from `init`); `true` if it did, and the key is to be published and the state saved.
    fn enable_hybrid_envelopes(&mut self) -> CliResult<bool> {
        // Checked on the shared account: `account_mut` marks the account record changed.
        if self.peer.device.account().hybrid_envelopes_enabled() {
            return Ok(false);
        }
        let mut rng = os_rng()?;
        Ok(self
            .peer
            .device
            .account_mut()
            .enable_hybrid_envelopes(unix_now(), &mut rng))
    }
}

/// Adds what to do to a refusal of a changed relay.
fn explain_relay_change(
    e: Box<dyn Error + Send + Sync>,
    dir: &Path,
) -> Box<dyn Error + Send + Sync> {
    let changed = e.downcast_ref::<RelayChanged>().is_some()
        || matches!(
            e.downcast_ref::<ClientError>(),
            Some(ClientError::CertificateChanged { .. })
        );
    if !changed {
        return e;
    }
    format!(
        "{e}\nrefusing: this is another relay, or someone in between. If the relay was replaced \
         on purpose (a new data directory), compare the new keys with what the relay printed \
         and re-pin with:\n  {}",
        peer_command(dir, "repin-relay")
    )
    .into()
}

// ── Commands ─────────────────────────────────────────────────────────────────────────────────

async fn init(options: &Options, name: &str) -> CliResult<()> {
    let dir = &options.state;
    if state_path(dir).exists() {
        return Err(format!(
            "{} already holds an identity; use another --state directory",
            dir.display()
        )
        .into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _lock = lock_state(dir, "init").await?;
    let mut rng = os_rng()?;
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    write_key_file(&key_path(dir), &key)?;
    let mut device = Device {
        dir: dir.clone(),
        key,
        generation: 0,
        peer: Peer::new(name, unix_now(), &mut rng)?,
        write_all: true,
        written_meta: Vec::new(),
    };
    device.save()?;
    out!(
        "created identity `{name}` in {} (identity key {}…)",
        dir.display(),
        short(device.peer.device.identity_key())
    );
    out!(
        "next: start a relay (`cargo run --release --bin relay`) and run `{}`",
        peer_command(dir, "register")
    );
    Ok(())
}

async fn register(options: &Options, replace: bool) -> CliResult<()> {
    let _lock = lock_state(&options.state, "register").await?;
    let mut device = Device::load(&options.state)?;
    let addr = options.relay()?;
    let mut rng = os_rng()?;
    let first = device.peer.relay_root.is_none();
    let link = device.peer.link(WAIT, options.insecure);
    let mut client = device
        .peer
        .connect(addr, &link, false, unix_now())
        .await
        .map_err(|e| explain_relay_change(e, &device.dir))?;
    let now = unix_now();
    device
        .peer
        .register_name(&mut client, replace)
        .await
        .map_err(|e| {
            if !replace && e.to_string().contains("already registered") {
                format!(
                    "{e}\nIf that name is yours on another device or an earlier install, take it \
                     over with `{}`: everyone who talks to `{}` then sees a new identity key \
                     and must compare safety numbers again.",
                    peer_command(&device.dir, "register --replace"),
                    device.peer.name
                )
                .into()
            } else {
                e
            }
        })?;
    device.enable_hybrid_envelopes()?;
    let bundles = device
        .peer
        .publish_prekeys(&mut client, now, &mut rng)
        .await?;
    device.peer.refresh_certificate(&mut client, now).await?;
    device.save()?;
    out!(
        "registered `{}` with the relay at {addr}{}; uploaded {bundles} prekey bundles and \
         the envelope key (hybrid sealed envelopes)",
        device.peer.name,
        if replace {
            " (taken over: peers see a new identity key)"
        } else {
            ""
        }
    );
    if first {
        match device.peer.relay_cert {
            Some(cert) => out!(
                "pinned the relay's TLS certificate {}\n  (it should match the SHA-256 the relay printed)",
                show_fingerprint(&cert)
            ),
            None => out!("no TLS (--insecure): pinned only the relay's root key"),
        }
    }
    out!("next: `{}`", peer_command(&device.dir, "chat PEER"));
    Ok(())
}

async fn send(options: &Options, to: &str, text: &str) -> CliResult<()> {
    let _lock = lock_state(&options.state, "send").await?;
    let mut device = Device::load(&options.state)?;
    let mut client = device.connect(options).await?;
    let mut rng = os_rng()?;
    let result = send_line(&mut device, &mut client, options, to, text, &mut rng).await;
    // The session may have advanced (or a new contact been recorded) even if the relay
    // refused: save either way.
    device.save()?;
    let sent = result?;
    out!(
        "sent to `{to}` ({} sealed envelope of {} bytes, relay id #{})",
        envelope_kind(&sent.envelope),
        sent.envelope.len(),
        sent.relay_id
    );
    Ok(())
}

/// Sends one line of text: masked unless `--no-mask` (saying what was masked), with masked
/// values sealed to `--vault`.
async fn send_line(
    device: &mut Device,
    client: &mut RelayClient,
    options: &Options,
    to: &str,
    text: &str,
    rng: &mut ChaCha20Rng,
) -> CliResult<hushwire_examples::chat::Sent> {
    let Some(masker) = &options.masker else {
        return device
            .peer
            .send_text(client, to, text, unix_now(), rng)
            .await;
    };
    let done = device
        .peer
        .send_masked(client, to, text, masker, options.vault.as_deref(), rng)
        .await?;
    for span in done.masked.spans() {
        if span.is_masked() {
            out!(
                "  masked a {} before encrypting: {}",
                kind_name(span.kind()),
                done.masked.masked_form(span)
            );
        } else {
            out!(
                "  (sent as typed: looks like an {}: {})",
                kind_name(span.kind()),
                done.masked.masked_form(span)
            );
        }
    }
    for (field, relay_id) in &done.vaulted {
        out!(
            "  sealed the {} to the vault `{}` (reference {}…, relay id #{relay_id}); `{to}` gets \
             only the masked form",
            kind_name(field.kind()),
            options.vault.as_deref().unwrap_or("?"),
            hex::encode(field.reference().get(..4).unwrap_or_default())
        );
    }
    Ok(done.sent)
}

/// Prints transfer progress on stderr for objects of at least [`PROGRESS_MIN`] bytes.
fn progress_printer(what: &str, name: &str) -> impl FnMut(u64, u64) + use<> {
    let label = format!("{what} {name}");
    let mut last_percent = u64::MAX;
    move |done, total| {
        if total < PROGRESS_MIN {
            return;
        }
        let percent = done.saturating_mul(100) / total.max(1);
        if percent == last_percent {
            return;
        }
        last_percent = percent;
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r  {label}: {:.1} / {:.1} MiB ({percent} %)",
            mib(done),
            mib(total)
        );
        if done >= total {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}

/// MiB per second, for what the commands print.
fn rate(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-6);
    format!("{:.1} MiB/s", bytes as f64 / (1024.0 * 1024.0) / secs)
}

async fn send_file(options: &Options, to: &str, path: &Path) -> CliResult<()> {
    let _lock = lock_state(&options.state, "send-file").await?;
    let mut device = Device::load(&options.state)?;
    let mut file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".into());
    let mut client = device.connect(options).await?;
    let mut rng = os_rng()?;
    let mut progress = progress_printer("uploading", &name);
    let started = Instant::now();
    let result = device
        .peer
        .send_file(
            &mut client,
            to,
            &mut file,
            len,
            &name,
            &mut progress,
            &mut rng,
        )
        .await;
    device.save()?;
    let sent = result?;
    let elapsed = started.elapsed();
    out!(
        "sent `{name}` ({len} bytes) to `{to}`: encrypted on this device, {} bytes uploaded to \
         the relay (blob {}…) in {elapsed:.2?} ({}); its key went to `{to}` end-to-end \
         (relay id #{})",
        sent.object_len,
        hex::encode(sent.blob.get(..4).unwrap_or_default()),
        rate(sent.object_len, elapsed),
        sent.sent.relay_id
    );
    Ok(())
}

/// Where a received file named `name` is saved in `dir`: the name as sent (hushwire refuses
/// path separators and invisible or bidirectional controls in it), with ` (1)`, ` (2)`, ...
/// added before the extension rather than overwriting a file.
fn save_path(dir: &Path, name: &str) -> CliResult<PathBuf> {
    let single = Path::new(name).file_name().and_then(|n| n.to_str()) == Some(name);
    let name = if single && !name.starts_with('.') {
        name
    } else {
        "attachment"
    };
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    for n in 0..1_000u32 {
        let candidate = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        if !candidate.exists() {
            return Ok(candidate);
        }
    }
    Err(format!("too many files named `{name}` in {}", dir.display()).into())
}

/// Downloads, verifies and saves a received file; returns where it went. A file that fails
/// verification is deleted (only verified chunks were ever written).
async fn save_file(
    device: &Device,
    client: &mut RelayClient,
    dir: &Path,
    blob: BlobId,
    pointer: &AttachmentPointer,
) -> CliResult<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let target = save_path(dir, pointer.file_name())?;
    let partial = dir.join(format!(".{}.part", hex::encode(blob)));
    let mut file = std::io::BufWriter::new(
        File::create(&partial).map_err(|e| format!("cannot create {}: {e}", partial.display()))?,
    );
    let mut progress = progress_printer("downloading", pointer.file_name());
    let started = Instant::now();
    let fetched = device
        .peer
        .fetch_file(client, blob, pointer, &mut file, &mut progress)
        .await;
    drop(file);
    match fetched {
        Ok(_) => {
            std::fs::rename(&partial, &target)
                .map_err(|e| format!("cannot save {}: {e}", target.display()))?;
            out!(
                "  saved {} ({} bytes, every chunk verified; {} from the relay in {:.2?}, {})",
                target.display(),
                pointer.plaintext_len(),
                pointer.ciphertext_len(),
                started.elapsed(),
                rate(pointer.ciphertext_len(), started.elapsed())
            );
            Ok(target)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Handles one delivery: read, print, save, then acknowledge (so a crash before saving
/// means the relay delivers it again). The caller holds the state lock.
async fn handle_delivery(
    device: &mut Device,
    client: &mut RelayClient,
    files: &Path,
    id: u64,
    envelope: &[u8],
) -> CliResult<()> {
    let incoming = device.peer.open(envelope, unix_now());
    handle_incoming(device, client, files, incoming).await?;
    client.ack(id).await?;
    Ok(())
}

/// Prints (and saves files of) one opened delivery, then saves the state.
async fn handle_incoming(
    device: &mut Device,
    client: &mut RelayClient,
    files: &Path,
    incoming: Incoming,
) -> CliResult<()> {
    let events = match incoming {
        Incoming::Text {
            from, text, events, ..
        } => {
            out!("[{}] [{from}] {text}", local_time());
            // The receiver-side check: a card number from a client that does not mask.
            if let Err(MaskCheckError::Unmasked { kind, .. }) = Masker::new().check(&text) {
                out!(
                    "  ! `{from}` sent an unmasked {} (an old client, or --no-mask): do not \
                     store this message in a transcript",
                    kind_name(kind)
                );
            }
            events
        }
        Incoming::File {
            from,
            blob,
            pointer,
            events,
            ..
        } => {
            out!(
                "[{}] [{from}] sends a file: {} ({} bytes, {})",
                local_time(),
                if pointer.file_name().is_empty() {
                    "(no name)"
                } else {
                    pointer.file_name()
                },
                pointer.plaintext_len(),
                if pointer.content_type().is_empty() {
                    "no type given"
                } else {
                    pointer.content_type()
                }
            );
            if let Err(e) = save_file(device, client, files, blob, &pointer).await {
                out!("  ! file not saved: {e}");
            }
            events
        }
        Incoming::MaskedField {
            from,
            field,
            events,
            ..
        } => {
            out!(
                "[{}] [{from}] secure field: {} {} (reference {}…; the value went to the vault)",
                local_time(),
                kind_name(field.kind()),
                field.masked(),
                hex::encode(field.reference().get(..4).unwrap_or_default())
            );
            events
        }
        Incoming::Vaulted { from, result } => {
            match result {
                Ok(value) => out!(
                    "[{}] [{from}] vault: {} {} (reference {}…)",
                    local_time(),
                    kind_name(value.kind()),
                    value.dangerous_value(),
                    hex::encode(value.reference().get(..4).unwrap_or_default())
                ),
                Err(e) => out!("  ! a secure field from `{from}` fails: {e}"),
            }
            Vec::new()
        }
        Incoming::Business { from, result } => {
            match result {
                Ok(identity) => out!("  {from} is {identity}"),
                Err(e) => {
                    out!("  ! {from} presented an organization certificate that fails: {e}")
                }
            }
            Vec::new()
        }
        Incoming::ResetRequested {
            from,
            identity,
            request,
        } => {
            let mut rng = os_rng()?;
            match device
                .peer
                .answer_reset(client, &identity, &request, unix_now(), &mut rng)
                .await
            {
                Ok(events) => {
                    out!(
                        "[{}] `{from}` lost its session with you (restored from a backup?): \
                         started a fresh one",
                        local_time()
                    );
                    events
                }
                Err(e) => {
                    out!("  ! a reset request from `{from}` was refused: {e}");
                    Vec::new()
                }
            }
        }
        // This command-line peer keeps no groups (the demo does): it says what arrived.
        Incoming::GroupJoined { group, from, .. } => {
            out!(
                "[{}] [{from}] invites you to the group `{group}` (groups are not kept by this peer)",
                local_time()
            );
            Vec::new()
        }
        Incoming::GroupKey { group, from } => {
            out!("  ({from}'s key for the group `{group}`)");
            Vec::new()
        }
        Incoming::GroupText {
            group, from, text, ..
        } => {
            out!("[{}] [{group}] [{from}] {text}", local_time());
            Vec::new()
        }
        Incoming::Link { identity, .. } => {
            out!(
                "  (a device-link message from {}…: it is read by a running `link-device`)",
                short(&identity)
            );
            Vec::new()
        }
        Incoming::Duplicate => Vec::new(),
        Incoming::Rejected(reason) => {
            eprintln!("  ! dropped a message: {reason}");
            Vec::new()
        }
    };
    for event in events {
        if let Event::IdentityChanged {
            user_id,
            was_verified,
        } = event
        {
            out!(
                "  ! {}'s identity key changed{}: compare safety numbers again",
                String::from_utf8_lossy(user_id.as_bytes()),
                if was_verified {
                    " since you verified it (sending is blocked until you do)"
                } else {
                    ""
                }
            );
        }
    }
    device.save()?;
    Ok(())
}

/// Tops up and republishes prekeys if this device is running low. The caller holds the lock.
async fn refill_prekeys(device: &mut Device, client: &mut RelayClient) -> CliResult<()> {
    let (x25519, kem) = device.peer.device.account().one_time_prekey_counts();
    let t = unix_now();
    if x25519 < 5 || kem < 5 || device.peer.device.account().prekeys_due_for_rotation(t) {
        let mut rng = os_rng()?;
        device.peer.publish_prekeys(client, t, &mut rng).await?;
        device.save()?;
    }
    Ok(())
}

async fn recv(options: &Options, wait: Duration) -> CliResult<()> {
    let _lock = lock_state(&options.state, "recv").await?;
    let mut device = Device::load(&options.state)?;
    let mut client = device.connect(options).await?;
    client.receive().await?;
    let queued = client.welcome().queued;
    let mut count = 0u32;
    // Bounded: what was queued, plus whatever arrives while we wait.
    for _ in 0..100_000 {
        let Some(delivery) = client.next_delivery(wait).await? else {
            break;
        };
        handle_delivery(
            &mut device,
            &mut client,
            &options.files,
            delivery.id,
            &delivery.envelope,
        )
        .await?;
        count += 1;
    }
    client.ping().await?;
    refill_prekeys(&mut device, &mut client).await?;
    if count == 0 {
        out!("no messages (relay had {queued} queued)");
    }
    Ok(())
}

/// Sends the first queued line. `Ok(true)`: sent (or dropped with a message, e.g. a refused
/// key); `Ok(false)`: keep it queued (the peer has not registered yet). `Err`: the connection
/// is gone (the line stays queued).
async fn send_queued(
    device: &mut Device,
    client: &mut RelayClient,
    options: &Options,
    to: &str,
    text: &str,
    told_unknown: &mut bool,
) -> Result<bool, ClientError> {
    let mut rng = match os_rng() {
        Ok(rng) => rng,
        Err(e) => {
            eprintln!("  ! not sent: {e}");
            return Ok(true);
        }
    };
    let Ok(_lock) = lock_state(&device.dir, "chat").await else {
        eprintln!("  ! the state directory is busy: kept in the queue");
        return Ok(false);
    };
    if let Err(e) = device.reload() {
        eprintln!("  ! not sent: {e}");
        return Ok(true);
    }
    let result = send_line(device, client, options, to, text, &mut rng).await;
    if let Err(e) = device.save() {
        eprintln!("  ! {e}");
    }
    match result {
        Ok(_) => {
            *told_unknown = false;
            Ok(true)
        }
        Err(e) if e.downcast_ref::<UnknownPeer>().is_some() => {
            if !*told_unknown {
                out!(
                    "  (`{to}` has not registered with the relay yet: what you type waits here \
                     and goes out when they do)"
                );
                *told_unknown = true;
            }
            Ok(false)
        }
        Err(e) => match e.downcast::<ClientError>() {
            Ok(e) if e.is_disconnect() => Err(*e),
            Ok(e) => {
                eprintln!("  ! not sent: {e}");
                Ok(true)
            }
            Err(e) => {
                eprintln!("  ! not sent: {e}");
                Ok(true)
            }
        },
    }
}

/// Connects for `chat`: signs in, fetches a certificate, asks for deliveries.
async fn chat_connect(device: &mut Device, options: &Options) -> CliResult<RelayClient> {
    let _lock = lock_state(&device.dir, "chat").await?;
    device.reload()?;
    let mut client = device.connect(options).await?;
    client.receive().await?;
    Ok(client)
}

async fn chat(options: &Options, to: &str) -> CliResult<()> {
    let mut device = {
        let _lock = lock_state(&options.state, "chat").await?;
        Device::load(&options.state)?
    };
    device.require_registered()?;
    out!(
        "chatting with `{to}` as `{}` (type a line and press Enter; Ctrl-D to quit)",
        device.peer.name
    );
    out!(
        "compare safety numbers with `{}`",
        peer_command(&device.dir, &format!("safety-number {to}"))
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut keepalive = tokio::time::interval(Duration::from_secs(30));
    let mut client: Option<RelayClient> = None;
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut told_unknown = false;
    let mut backoff = Duration::from_millis(250);
    let mut reconnect_at = Instant::now();
    let mut ever_connected = false;
    // Whether "reconnecting…" was said since the connection was lost (said once, not per try).
    let mut announced = false;
    let mut stdin_open = true;
    while stdin_open || !queue.is_empty() && client.is_some() {
        // Send what is queued while connected (new lines, and lines for a peer that had not
        // registered, retried every few seconds).
        if let Some(c) = client.as_mut() {
            while let Some(text) = queue.front().cloned() {
                match send_queued(&mut device, c, options, to, &text, &mut told_unknown).await {
                    Ok(true) => {
                        queue.pop_front();
                    }
                    Ok(false) => break,
                    Err(e) => {
                        out!("  ! {e}; reconnecting…");
                        announced = true;
                        client = None;
                        reconnect_at = Instant::now() + backoff;
                        break;
                    }
                }
            }
            if !stdin_open {
                break;
            }
        }
        let retry_queue = !queue.is_empty() && client.is_some();
        tokio::select! {
            line = lines.next_line(), if stdin_open => {
                match line.map_err(|e| format!("reading the terminal: {e}"))? {
                    None => stdin_open = false,
                    Some(line) => {
                        let text = line.trim();
                        if !text.is_empty() {
                            queue.push_back(text.to_owned());
                            if client.is_none() {
                                out!("  (not connected: sent when the relay is back)");
                            }
                        }
                    }
                }
            }
            event = async {
                match client.as_mut() {
                    Some(c) => c.next_event().await,
                    None => std::future::pending().await,
                }
            } => match event {
                LinkEvent::Delivery(d) => {
                    let Some(c) = client.as_mut() else { continue };
                    let handled = async {
                        let _lock = lock_state(&device.dir, "chat").await?;
                        device.reload()?;
                        handle_delivery(&mut device, c, &options.files, d.id, &d.envelope).await?;
                        refill_prekeys(&mut device, c).await
                    }
                    .await;
                    if let Err(e) = handled {
                        out!("  ! {e}");
                    }
                }
                LinkEvent::Notice(ErrorCode::Replaced) => out!(
                    "  ! another session of `{}` (a second chat or recv) receives the messages now; \
                     this one still sends, and gets them back when that one ends",
                    device.peer.name
                ),
                LinkEvent::Notice(ErrorCode::Receiving) => out!("  (messages arrive here again)"),
                // A closing notice: the connection ends next, with this reason.
                LinkEvent::Notice(_) => {}
                LinkEvent::Lost(e) => {
                    out!("  ! {e}; reconnecting…");
                    announced = true;
                    client = None;
                    backoff = Duration::from_millis(250);
                    reconnect_at = Instant::now() + backoff;
                }
            },
            () = sleep_until(reconnect_at), if client.is_none() => {
                match chat_connect(&mut device, options).await {
                    Ok(c) => {
                        if ever_connected {
                            out!("  (reconnected)");
                        }
                        ever_connected = true;
                        announced = false;
                        backoff = Duration::from_millis(250);
                        told_unknown = false;
                        client = Some(c);
                    }
                    Err(e) => {
                        let transient = e
                            .downcast_ref::<ClientError>()
                            .is_some_and(ClientError::is_disconnect);
                        if !transient {
                            return Err(e);
                        }
                        if !announced {
                            out!("  ! {e}; reconnecting…");
                            announced = true;
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        reconnect_at = Instant::now() + backoff;
                    }
                }
            }
            _ = keepalive.tick(), if client.is_some() => {
                if let Some(c) = client.as_mut()
                    && let Err(e) = c.ping().await
                {
                    out!("  ! {e}; reconnecting…");
                    announced = true;
                    client = None;
                    reconnect_at = Instant::now() + backoff;
                }
            }
            () = sleep(QUEUE_RETRY), if retry_queue => {}
        }
    }
    if !queue.is_empty() {
        out!("  ! {} line(s) not sent", queue.len());
    }
    if let Some(c) = client {
        c.close().await;
    }
    Ok(())
}

/// The identity key of `name`: the one on record, else the relay's (recorded now). The
/// caller holds the lock.
async fn identity_of(device: &mut Device, options: &Options, name: &str) -> CliResult<IdentityKey> {
    if let Some(key) = device.peer.known_identity(name) {
        return Ok(key);
    }
    let mut client = device.connect(options).await?;
    let (key, _) = device.peer.resolve(&mut client, name, unix_now()).await?;
    device.save()?;
    Ok(key)
}

fn write_key_file(path: &Path, key: &[u8; 32]) -> CliResult<()> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    let mut file = open
        .open(path)
        .map_err(|e| format!("cannot create the key file {}: {e}", path.display()))?;
    file.write_all(key)
        .map_err(|e| format!("cannot write the key file {}: {e}", path.display()))?;
    Ok(())
}

fn safety(device: &Device, name: &str, key: &IdentityKey) -> CliResult<SafetyNumber> {
    Ok(SafetyNumber::new(
        &UserId::new(device.peer.name.as_bytes())?,
        device.peer.device.identity_key(),
        &UserId::new(name.as_bytes())?,
        key,
    ))
}

async fn safety_number(options: &Options, name: &str) -> CliResult<()> {
    let _lock = lock_state(&options.state, "safety-number").await?;
    let mut device = Device::load(&options.state)?;
    let key = identity_of(&mut device, options, name).await?;
    let number = safety(&device, name, &key)?;
    let groups = number.groups();
    out!("safety number of `{}` and `{name}`:", device.peer.name);
    for line in groups.chunks(4) {
        out!("    {}", line.join(" "));
    }
    let payload = number.to_qr_payload();
    let code = QrCode::new(payload).map_err(|e| format!("cannot draw the QR code: {e}"))?;
    let picture = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    out!("{picture}");
    out!(
        "QR payload (for `verify {} <hex>` on the other side):",
        device.peer.name
    );
    out!("    {}", hex::encode(payload));
    let state = UserId::new(name.as_bytes())
        .ok()
        .and_then(|u| device.peer.device.verification_state(&u));
    out!("state: {}", describe_state(state.as_ref()));
    Ok(())
}

fn describe_state(state: Option<&hushwire::VerificationState>) -> String {
    use hushwire::VerificationState as S;
    match state {
        None => "not on record".into(),
        Some(S::Unverified { .. }) => "not verified yet".into(),
        Some(S::Verified { verified_at, .. }) => {
            format!("verified ({})", local_date_time(verified_at.as_unix_secs()))
        }
        Some(S::ChangedSinceVerification { .. }) => {
            "KEY CHANGED since you verified it: sending is blocked until you verify again".into()
        }
        Some(_) => "unknown".into(),
    }
}

async fn verify(options: &Options, name: &str, payload_hex: &str) -> CliResult<()> {
    let _lock = lock_state(&options.state, "verify").await?;
    let mut device = Device::load(&options.state)?;
    let key = identity_of(&mut device, options, name).await?;
    let payload = hex::decode(payload_hex.trim())
        .map_err(|_| "the payload must be the hex string printed under the other side's QR code")?;
    let number = safety(&device, name, &key)?;
    number
        .verify_scanned(&payload)
        .map_err(|e| format!("NOT verified: {e}"))?;
    let user = UserId::new(name.as_bytes())?;
    device.peer.device.mark_verified(&user, &key, unix_now())?;
    device.save()?;
    out!("`{name}` verified: the codes match");
    Ok(())
}

/// Shows the pinned and the presented relay keys; with `confirm` matching what the relay
/// presents, pins the new keys and registers again there.
async fn repin_relay(options: &Options, confirm: Option<&str>) -> CliResult<()> {
    let _lock = lock_state(&options.state, "repin-relay").await?;
    let mut device = Device::load(&options.state)?;
    let addr = options.relay()?;
    let confirmed = match confirm {
        Some(text) => Some(parse_fingerprint(text).ok_or(
            "--confirm takes the 64 hex digits shown as the new certificate (or, with \
             --insecure, the new root key)",
        )?),
        None => None,
    };
    // See what the relay presents, accepting any certificate for now (nothing is sent but a
    // sign-in).
    let pin = match confirmed {
        Some(fp) if !options.insecure => Pin::Pinned(fp),
        _ => Pin::FirstUse,
    };
    let link = if options.insecure {
        hushwire_examples::client::Link::insecure(WAIT)
    } else {
        hushwire_examples::client::Link::tls(pin, WAIT)
    };
    let client = RelayClient::connect(
        addr,
        device.peer.device.account().identity_key_pair(),
        &link,
    )
    .await?;
    let welcome = client.welcome();
    client.close().await;
    let show_root = |r: Option<[u8; 32]>| r.map_or_else(|| "-".into(), hex::encode);
    let show_cert = |c: Option<[u8; 32]>| c.map_or_else(|| "-".into(), |c| show_fingerprint(&c));
    out!("relay at {addr}:");
    out!(
        "  pinned:    root key {}\n             TLS certificate {}",
        show_root(device.peer.relay_root),
        show_cert(device.peer.relay_cert)
    );
    out!(
        "  presented: root key {}\n             TLS certificate {}",
        show_root(Some(welcome.root)),
        show_cert(welcome.tls_fingerprint)
    );
    if device.peer.relay_root == Some(welcome.root)
        && (welcome.tls_fingerprint.is_none() || device.peer.relay_cert == welcome.tls_fingerprint)
    {
        out!("nothing to do: the relay presents the keys pinned");
        return Ok(());
    }
    let new_id = welcome.tls_fingerprint.unwrap_or(welcome.root);
    if confirmed != Some(new_id) {
        out!(
            "Check the new keys against what the relay printed at start. If they match and the \
             change is expected, pin them with:\n  {}",
            peer_command(
                &device.dir,
                &format!("repin-relay --confirm {}", hex::encode(new_id))
            )
        );
        return Err("relay not re-pinned".into());
    }
    device.peer.relay_root = None;
    device.peer.relay_cert = None;
    let link = device.peer.link(WAIT, options.insecure);
    let link = match link.tls {
        Some(_) => hushwire_examples::client::Link::tls(Pin::Pinned(new_id), WAIT),
        None => link,
    };
    let mut client = device.peer.connect(addr, &link, false, unix_now()).await?;
    let mut rng = os_rng()?;
    let now = unix_now();
    device.peer.register_name(&mut client, false).await?;
    device
        .peer
        .publish_prekeys(&mut client, now, &mut rng)
        .await?;
    device.peer.refresh_certificate(&mut client, now).await?;
    device.save()?;
    out!(
        "re-pinned the relay at {addr} and registered `{}` there",
        device.peer.name
    );
    Ok(())
}

fn short(key: &IdentityKey) -> String {
    hex::encode(key.as_bytes().get(..6).unwrap_or_default())
}

// ── Several devices ──────────────────────────────────────────────────────────────────────────

/// Shows the string and asks whether the other screen shows the same.
fn same_on_both_screens(sas: &LinkSas, yes: bool) -> bool {
    out!("compare with the other screen:");
    out!("    {}", sas.emoji);
    out!("    {}", sas.decimal);
    if yes {
        out!("same on both screens? y (--yes)");
        return true;
    }
    print!("same on both screens? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// On the device you have: shows the link payload as a QR code and links the device that
/// scans it.
async fn link_device(options: &Options, wait: Duration, yes: bool) -> CliResult<()> {
    let _lock = lock_state(&options.state, "link-device").await?;
    let mut device = Device::load(&options.state)?;
    let mut client = device.connect(options).await?;
    let mut rng = os_rng()?;
    let (offer, payload) = device
        .peer
        .offer_link(&mut client, unix_now(), &mut rng)
        .await?;
    // The user (and list version 1) may be new: stored before anything else happens.
    device.save()?;
    let bytes = payload.to_bytes();
    let code = QrCode::new(&bytes).map_err(|e| format!("cannot draw the QR code: {e}"))?;
    let picture = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    out!("{picture}");
    out!("on the new device (after `init`), scan this or run:");
    out!(
        "    {}",
        peer_command(
            Path::new("NEW_DEVICE_DIR"),
            &format!("link-device --join {}", hex::encode(&bytes))
        )
    );
    out!(
        "waiting for it (device {} of `{}`, up to {}s)…",
        payload.new_device_id(),
        device.peer.name,
        wait.as_secs()
    );
    let linked = device
        .peer
        .link_new_device(
            &mut client,
            offer,
            |sas| same_on_both_screens(sas, yes),
            wait,
            &mut rng,
        )
        .await;
    device.save()?;
    let linked = linked?;
    for incoming in linked.other_deliveries {
        handle_incoming(&mut device, &mut client, &options.files, incoming).await?;
    }
    device.save()?;
    out!(
        "linked {}… as device {}: `{}` now has {} devices (list version {}, published to the relay)",
        short(&linked.other),
        payload.new_device_id(),
        device.peer.name,
        linked.devices,
        linked.list_version
    );
    Ok(())
}

/// On the new device: joins the user of the payload shown by the existing device.
async fn join_device(options: &Options, payload: &str, wait: Duration, yes: bool) -> CliResult<()> {
    let _lock = lock_state(&options.state, "link-device --join").await?;
    let mut device = Device::load(&options.state)?;
    if device.peer.device.own_user_id().is_some() {
        return Err(format!("`{}` is already a device of a user", device.peer.name).into());
    }
    let bytes = hex::decode(payload.trim()).map_err(|_| "the payload is not hex")?;
    let payload = hushwire::device::LinkPayload::decode(&bytes)
        .map_err(|e| format!("not a link payload: {e}"))?;
    let link = device.peer.link(WAIT, options.insecure);
    let mut client = device
        .peer
        .connect(options.relay()?, &link, false, unix_now())
        .await
        .map_err(|e| explain_relay_change(e, &device.dir))?;
    let mut rng = os_rng()?;
    out!(
        "linking to `{}` (device {}…)…",
        String::from_utf8_lossy(payload.user_id().as_bytes()),
        short(payload.existing_identity())
    );
    let linked = device
        .peer
        .join_user(
            &mut client,
            &payload,
            |sas| same_on_both_screens(sas, yes),
            wait,
            &mut rng,
        )
        .await;
    device.save()?;
    let linked = linked?;
    out!(
        "this device is now device {} of `{}` ({} devices, list version {}); messages to `{}` reach it too",
        payload.new_device_id(),
        device.peer.name,
        linked.devices,
        linked.list_version,
        device.peer.name
    );
    Ok(())
}

/// Lists the devices of this device's user, after fetching and checking the relay's list.
async fn devices_command(options: &Options) -> CliResult<()> {
    let _lock = lock_state(&options.state, "devices").await?;
    let mut device = Device::load(&options.state)?;
    let mut client = device.connect(options).await?;
    let Some(user) = device.peer.device.own_user_id().cloned() else {
        out!(
            "`{}` is a single device (no device list yet): `link-device` adds one",
            device.peer.name
        );
        return Ok(());
    };
    let name = String::from_utf8_lossy(user.as_bytes()).into_owned();
    if let Some(bytes) = client.get_device_list(&name).await? {
        match device
            .peer
            .device
            .accept_device_list(&user, &bytes, unix_now())
        {
            Ok(accepted) => {
                for d in accepted.removed {
                    out!("  device {} was removed", d.device_id());
                }
            }
            Err(hushwire::device::DeviceListError::NotNewer { .. }) => {}
            Err(e) => eprintln!("  ! the relay's list was refused: {e}"),
        }
    }
    device.save()?;
    let list = device
        .peer
        .device
        .own_device_list()
        .ok_or("no list held")?
        .clone();
    out!(
        "`{name}`: list version {}, {} device(s){}",
        list.version(),
        list.devices().len(),
        if device.peer.device.holds_user_key() {
            " (this device holds the user key)"
        } else {
            ""
        }
    );
    for d in list.devices() {
        out!(
            "  device {} (incarnation {}) {}…{}",
            d.device_id(),
            d.incarnation(),
            short(d.identity_key()),
            if d.identity_key() == device.peer.device.identity_key() {
                "  ← this device"
            } else {
                ""
            }
        );
    }
    for t in list.tombstones() {
        out!(
            "  device {} (incarnation {}) removed",
            t.device_id(),
            t.incarnation()
        );
    }
    Ok(())
}

/// Removes a device of this device's user and publishes the new list.
async fn remove_device_command(options: &Options, id: u32) -> CliResult<()> {
    let _lock = lock_state(&options.state, "remove-device").await?;
    let mut device = Device::load(&options.state)?;
    let mut client = device.connect(options).await?;
    let version = device.peer.remove_device(&mut client, id, unix_now()).await;
    device.save()?;
    let version = version?;
    out!(
        "removed device {id}: list version {version} published; nothing is encrypted to it any more (its last messages stay readable for 7 days)"
    );
    Ok(())
}

// ── Key backup ───────────────────────────────────────────────────────────────────────────────

fn backup_path(dir: &Path) -> PathBuf {
    dir.join("backup")
}

/// The backup writer this device keeps, and the sealed entries of the backup so far (the
/// relay's copy is their encoding with the latest manifest).
struct BackupState {
    writer: BackupWriter,
    entries: Vec<Vec<u8>>,
}

fn put_u32_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> CliResult<()> {
    out.extend_from_slice(
        &u32::try_from(bytes.len())
            .map_err(|_| "backup too large")?
            .to_be_bytes(),
    );
    out.extend_from_slice(bytes);
    Ok(())
}

fn take_bytes<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(n)?;
    *rest = tail;
    Some(head)
}

fn take_u32_bytes<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(take_bytes(rest, 4)?.try_into().ok()?);
    take_bytes(rest, usize::try_from(len).ok()?)
}

impl BackupState {
    /// Writes `magic(8) nonce(12) sealed(public key, device seed, manifest, entries)` under a
    /// key derived from the state key, through a temporary file and a rename.
    fn save(&self, dir: &Path, key: &[u8; 32]) -> CliResult<()> {
        let mut plain = zeroize::Zeroizing::new(Vec::new());
        put_u32_bytes(&mut plain, &self.writer.public_key().to_bytes())?;
        plain.extend_from_slice(self.writer.dangerous_device_seed().as_ref());
        put_u32_bytes(&mut plain, self.writer.manifest())?;
        plain.extend_from_slice(
            &u32::try_from(self.entries.len())
                .map_err(|_| "too many backup entries")?
                .to_be_bytes(),
        );
        for entry in &self.entries {
            put_u32_bytes(&mut plain, entry)?;
        }
        let mut nonce = [0u8; NONCE_LEN];
        os_rng()?.fill_bytes(&mut nonce);
        let mut sealed = plain.to_vec();
        let tag = labeled_cipher(key, BACKUP_KEY_LABEL)
            .encrypt_inout_detached(
                &Nonce::from(nonce),
                BACKUP_MAGIC,
                sealed.as_mut_slice().into(),
            )
            .map_err(|_| "cannot encrypt the backup writer")?;
        let mut out = BACKUP_MAGIC.to_vec();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out.extend_from_slice(&tag);
        let path = backup_path(dir);
        let tmp = dir.join("backup.tmp");
        std::fs::write(&tmp, &out)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
        Ok(())
    }

    /// The saved writer, or `None` if this device has not started a backup.
    fn load(dir: &Path, key: &[u8; 32]) -> CliResult<Option<BackupState>> {
        let path = backup_path(dir);
        if !path.exists() {
            return Ok(None);
        }
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let corrupted = || {
            format!(
                "the backup writer {} is corrupted or belongs to another key file; move it \
                 away to start a new backup (with a new recovery key)",
                path.display()
            )
        };
        let mut rest = bytes.as_slice();
        let magic = take_bytes(&mut rest, BACKUP_MAGIC.len()).ok_or_else(corrupted)?;
        if magic != BACKUP_MAGIC {
            return Err(corrupted().into());
        }
        let nonce: [u8; NONCE_LEN] = take_bytes(&mut rest, NONCE_LEN)
            .and_then(|n| n.try_into().ok())
            .ok_or_else(corrupted)?;
        let (sealed, tag) = rest
            .split_at_checked(rest.len().checked_sub(TAG_LEN).ok_or_else(corrupted)?)
            .ok_or_else(corrupted)?;
        let tag = Tag::try_from(tag).map_err(|_| corrupted())?;
        let mut plain = zeroize::Zeroizing::new(sealed.to_vec());
        labeled_cipher(key, BACKUP_KEY_LABEL)
            .decrypt_inout_detached(
                &Nonce::from(nonce),
                BACKUP_MAGIC,
                plain.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| corrupted())?;
        let mut rest = plain.as_slice();
        let public = BackupPublicKey::from_bytes(take_u32_bytes(&mut rest).ok_or_else(corrupted)?)
            .map_err(|_| corrupted())?;
        let seed: [u8; 32] = take_bytes(&mut rest, 32)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(corrupted)?;
        let seed = zeroize::Zeroizing::new(seed);
        let manifest = take_u32_bytes(&mut rest).ok_or_else(corrupted)?;
        let writer = BackupWriter::resume(public, &seed, manifest)
            .map_err(|e| format!("{}: {e}", corrupted()))?;
        let count = u32::from_be_bytes(
            take_bytes(&mut rest, 4)
                .and_then(|c| c.try_into().ok())
                .ok_or_else(corrupted)?,
        );
        let mut entries = Vec::new();
        for _ in 0..count {
            entries.push(take_u32_bytes(&mut rest).ok_or_else(corrupted)?.to_vec());
        }
        if !rest.is_empty() || entries.len() != writer.entry_count() {
            return Err(corrupted().into());
        }
        Ok(Some(BackupState { writer, entries }))
    }
}

async fn backup_command(options: &Options, include_identity: bool) -> CliResult<()> {
    let _lock = lock_state(&options.state, "backup").await?;
    let mut device = Device::load(&options.state)?;
    let mut client = device.connect(options).await?;
    let mut rng = os_rng()?;
    let now = unix_now();
    let mut state = match BackupState::load(&device.dir, &device.key)? {
        Some(state) => state,
        None => {
            let key = RecoveryKey::generate(&mut rng);
            let (writer, _manifest) = BackupWriter::create(&key, None, now, &mut rng);
            out!("your recovery key (shown this once; this device does not keep it):");
            out!("");
            out!("    {}", key.to_display().as_str());
            out!("");
            out!(
                "write this down and keep it somewhere safe: it is the only way to restore your \
                 contacts and groups on a new device (`restore {}`)",
                device.peer.name
            );
            BackupState {
                writer,
                entries: Vec::new(),
            }
        }
    };
    let before: usize = state.entries.iter().map(Vec::len).sum();
    let first = state.entries.is_empty();
    let backup_options = if include_identity {
        BackupOptions::with_identity_key()
    } else {
        BackupOptions::default()
    };
    let mut next = BackupState {
        writer: state.writer.clone(),
        entries: state.entries.clone(),
    };
    let appended = device
        .peer
        .append_backup(&mut next.writer, &backup_options, now, &mut rng)?;
    next.entries.extend(appended.entries.iter().cloned());
    let stored = backup::encode_backup(None, &appended.manifest, &next.entries)?;
    if stored.len() > MAX_STORED_BACKUP_LEN {
        return Err(format!(
            "the backup would be {} bytes, more than the relay keeps ({MAX_STORED_BACKUP_LEN}); \
             start a new one: move {} away and run `backup` again (a new recovery key)",
            stored.len(),
            backup_path(&device.dir).display()
        )
        .into());
    }
    // Saved before the upload: a failed upload is retried by the next run, which appends and
    // uploads the whole backup again.
    next.save(&device.dir, &device.key)?;
    state = next;
    client
        .put_backup(stored.clone())
        .await
        .map_err(|e| format!("the backup was not stored on the relay: {e}"))?;
    let added = state
        .entries
        .iter()
        .map(Vec::len)
        .sum::<usize>()
        .saturating_sub(before);
    let plural = |n: usize| if n == 1 { "entry" } else { "entries" };
    out!(
        "{} `{}`: appended {} {} ({added} bytes{}); the relay now keeps {} bytes \
         ({} {}, manifest #{})",
        if first {
            "backed up"
        } else {
            "updated the backup of"
        },
        device.peer.name,
        appended.entries.len(),
        plural(appended.entries.len()),
        if include_identity {
            ", with the identity key"
        } else {
            ""
        },
        stored.len(),
        state.entries.len(),
        plural(state.entries.len()),
        state.writer.counter()
    );
    out!("1:1 sessions are never backed up: a restored device starts fresh ones");
    Ok(())
}

/// Reads the recovery key from `--recovery-key` or, if not given, from stdin.
async fn read_recovery_key(given: Option<String>) -> CliResult<RecoveryKey> {
    let text = match given {
        Some(text) => zeroize::Zeroizing::new(text),
        None => {
            eprint!("recovery key ({RECOVERY_KEY_DISPLAY_LEN} characters, groups of 5): ");
            let mut lines = BufReader::new(tokio::io::stdin()).lines();
            zeroize::Zeroizing::new(
                lines
                    .next_line()
                    .await
                    .map_err(|e| format!("cannot read the recovery key: {e}"))?
                    .ok_or("no recovery key given (stdin closed)")?,
            )
        }
    };
    RecoveryKey::from_display(text.trim()).map_err(|e| {
        match e {
            BackupError::RecoveryKeyMistyped => {
                "the recovery key's checksum fails: a character is mistyped; compare it with \
                 what you wrote down (nothing was changed)"
                    .to_owned()
            }
            BackupError::RecoveryKeyFormat => format!(
                "that is not a recovery key: expected {RECOVERY_KEY_DISPLAY_LEN} characters \
                 (letters and digits in groups of 5; nothing was changed)"
            ),
            other => format!("recovery key refused: {other}"),
        }
        .into()
    })
}

async fn restore_command(options: &Options, name: &str, key: Option<String>) -> CliResult<()> {
    let dir = &options.state;
    if state_path(dir).exists() {
        return Err(format!(
            "{} already holds an identity; restore into a new --state directory",
            dir.display()
        )
        .into());
    }
    // The key is checked before anything changes, here or on the relay.
    let key = read_recovery_key(key).await?;
    let mut rng = os_rng()?;
    let addr = options.relay()?;
    let mut peer = Peer::new(name, unix_now(), &mut rng)?;
    let link = peer.link(WAIT, options.insecure);
    let mut client = peer.connect(addr, &link, false, unix_now()).await?;
    peer.register_name(&mut client, true).await?;
    let downloaded = client.get_backup().await.map_err(|e| match e {
        ClientError::Relay(ErrorCode::NoBackup) => {
            format!("the relay holds no backup for `{name}` (was `backup` ever run?)").into()
        }
        other => Box::<dyn Error + Send + Sync>::from(other),
    })?;
    let restored = backup::restore(&key, &downloaded, 0).map_err(|e| match e {
        BackupError::WrongRecoveryKey => format!(
            "this is not the recovery key of `{name}`'s backup (it was made under another \
             one); run `restore` again with the right key"
        ),
        other => format!("the backup on the relay cannot be restored: {other}"),
    })?;
    let report = peer.apply_backup(restored, unix_now(), &mut rng)?;
    if report.identity_restored {
        // The backed-up identity signs in and takes the name (from this run's first key).
        client.close().await;
        let link = peer.link(WAIT, options.insecure);
        client = peer.connect(addr, &link, false, unix_now()).await?;
        peer.register_name(&mut client, true).await?;
    }
    let bundles = peer
        .publish_prekeys(&mut client, unix_now(), &mut rng)
        .await?;
    peer.refresh_certificate(&mut client, unix_now()).await?;

    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _lock = lock_state(dir, "restore").await?;
    let mut state_key = [0u8; 32];
    rng.fill_bytes(&mut state_key);
    write_key_file(&key_path(dir), &state_key)?;
    let mut device = Device {
        dir: dir.clone(),
        key: state_key,
        generation: 0,
        peer,
        write_all: true,
        written_meta: Vec::new(),
    };
    // Later `backup` runs go on under the same recovery key, in a new backup that replaces
    // this one on the relay.
    let (writer, _manifest) = BackupWriter::create(&key, None, unix_now(), &mut rng);
    BackupState {
        writer,
        entries: Vec::new(),
    }
    .save(dir, &state_key)?;
    let mut restarted = Vec::new();
    let mut failed = Vec::new();
    for contact in &report.restart {
        let shown = contact
            .name
            .clone()
            .unwrap_or_else(|| format!("{}…", short(&contact.identity)));
        match device
            .peer
            .request_reset(&mut client, &contact.identity, unix_now(), &mut rng)
            .await
        {
            Ok(_) => restarted.push(shown),
            Err(e) => failed.push(format!("{shown} ({e})")),
        }
    }
    device.save()?;
    out!(
        "restored `{name}` from the relay's backup ({} bytes, manifest #{}, written {}) into {}",
        downloaded.len(),
        report.counter,
        local_date_time(report.written_at.as_unix_secs()),
        dir.display()
    );
    out!(
        "  identity: {}; uploaded {bundles} prekey bundles",
        if report.identity_restored {
            "restored from the backup (peers see no change)".to_owned()
        } else {
            format!(
                "a new device key {}… (peers see a changed key and should compare safety \
                 numbers again)",
                short(device.peer.device.identity_key())
            )
        }
    );
    let names = |verified: bool| {
        let list: Vec<String> = report
            .restart
            .iter()
            .filter(|c| c.verified == verified)
            .map(|c| {
                c.name
                    .clone()
                    .unwrap_or_else(|| format!("{}…", short(&c.identity)))
            })
            .collect();
        if list.is_empty() {
            "none".to_owned()
        } else {
            list.join(", ")
        }
    };
    out!("  verified contacts restored: {}", names(true));
    out!("  other contacts restored: {}", names(false));
    if !report.groups.is_empty() {
        out!("  groups restored: {}", report.groups.join(", "));
    }
    out!(
        "  1:1 sessions restart with: {} (asked each for a fresh session; old messages are \
         not in the backup)",
        if restarted.is_empty() {
            "nobody".to_owned()
        } else {
            restarted.join(", ")
        }
    );
    for f in failed {
        out!("  ! could not ask {f}");
    }
    out!(
        "your recovery key stays the same; run `{}` to back up this device",
        peer_command(dir, "backup")
    );
    Ok(())
}
