//! A command-line chat peer for the example relay.
//!
//! ```text
//! cargo run --release --bin peer -- --state alice init alice
//! cargo run --release --bin peer -- --state alice register
//! cargo run --release --bin peer -- --state alice send bob "hi Bob"
//! cargo run --release --bin peer -- --state alice recv
//! cargo run --release --bin peer -- --state alice chat bob
//! cargo run --release --bin peer -- --state alice safety-number bob
//! cargo run --release --bin peer -- --state alice verify bob <payload hex from Bob's screen>
//! ```
//!
//! The state directory holds `key` (32 random bytes: keep it apart from backups of the state)
//! and `state`: the account encrypted with hushwire's state blobs (`Account::to_encrypted`,
//! SPEC.md §11) under that key, plus the peer's name and the relay root it pinned at
//! registration, encrypted and bound to the account blob. Every command that changes the
//! account saves it before it acknowledges anything to the relay, so a restart resumes the
//! conversation. The relay address comes from `--relay` (default 127.0.0.1:7070).

use hushwire_examples as transport;

use std::error::Error;
use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chacha20::ChaCha20Rng;
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use hushwire::{Account, Event, IdentityKey, SafetyNumber, StorageKey, UserId};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use rand_core::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};

use transport::chat::{Incoming, Peer};
use transport::client::RelayClient;
use transport::frame::valid_name;
use transport::unix_now;

/// `println!` that ignores a closed stdout (`peer … | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

type CliResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const USAGE: &str = "usage: peer [--state DIR] [--relay ADDR] COMMAND
commands:
  init NAME               create an identity named NAME in DIR
  register                register NAME with the relay and upload prekeys
  send PEER MESSAGE...    send one message to PEER
  recv [--wait SECS]      print the messages waiting (and any arriving within SECS, default 2)
  chat PEER               interactive: type lines to PEER, see messages arrive (Ctrl-D quits)
  safety-number PEER      show the safety number with PEER, and its QR code
  verify PEER HEX         check the payload shown under PEER's QR code; mark PEER verified
options:
  --state DIR             state directory (default ./hushwire-peer)
  --relay ADDR            relay address (default 127.0.0.1:7070)";

/// How long to wait for the relay to connect or answer.
const WAIT: Duration = Duration::from_secs(5);
const STATE_MAGIC: &[u8; 8] = b"HWPEER01";
const META_KEY_LABEL: &[u8] = b"hushwire-example/peer/state-meta";
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 12;

fn main() {
    transport::run_main("peer", run());
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

async fn run() -> CliResult<()> {
    let mut options = Options {
        state: PathBuf::from("hushwire-peer"),
        relay: "127.0.0.1:7070".into(),
    };
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    loop {
        match args.first().map(String::as_str) {
            Some("--state") if args.len() >= 2 => {
                options.state = args.remove(1).into();
                args.remove(0);
            }
            Some("--relay") if args.len() >= 2 => {
                options.relay = args.remove(1);
                args.remove(0);
            }
            Some("-h" | "--help") => {
                out!("{USAGE}");
                return Ok(());
            }
            _ => break,
        }
    }
    let Some((command, rest)) = args.split_first() else {
        return Err(USAGE.into());
    };
    match (command.as_str(), rest) {
        ("init", [name]) => init(&options, name),
        ("register", []) => register(&options).await,
        ("send", [to, words @ ..]) if !words.is_empty() => {
            send(&options, to, &words.join(" ")).await
        }
        ("recv", []) => recv(&options, Duration::from_secs(2)).await,
        ("recv", [flag, secs]) if flag == "--wait" => {
            let secs: u64 = secs
                .parse()
                .map_err(|_| format!("`{secs}` is not a number of seconds"))?;
            recv(&options, Duration::from_secs(secs.min(3_600))).await
        }
        ("chat", [to]) => chat(&options, to).await,
        ("safety-number", [to]) => safety_number(&options, to).await,
        ("verify", [to, payload]) => verify(&options, to, payload).await,
        _ => Err(format!("unknown command or wrong arguments\n{USAGE}").into()),
    }
}

// ── State on disk ────────────────────────────────────────────────────────────────────────────

/// The peer and where it is stored.
struct Device {
    dir: PathBuf,
    key: [u8; 32],
    generation: u64,
    peer: Peer,
}

fn key_path(dir: &Path) -> PathBuf {
    dir.join("key")
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("state")
}

fn meta_cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    let mut h = Sha256::new();
    h.update(META_KEY_LABEL);
    h.update(key);
    let derived: [u8; 32] = h.finalize().into();
    ChaCha20Poly1305::new(&derived.into())
}

/// The associated data of the metadata: the header and the account blob it goes with.
fn meta_ad(generation: u64, account_blob: &[u8]) -> Vec<u8> {
    let mut ad = STATE_MAGIC.to_vec();
    ad.extend_from_slice(&generation.to_be_bytes());
    ad.extend_from_slice(&Sha256::digest(account_blob));
    ad
}

impl Device {
    /// Writes the state: `magic(8) generation(8) meta_len(2) nonce(12) meta(meta_len)
    /// account_blob`, through a temporary file and a rename, so a crash leaves the old or the
    /// new state, never half of one.
    fn save(&mut self) -> CliResult<()> {
        let mut rng = os_rng()?;
        self.generation += 1;
        let blob = self.peer.account.to_encrypted(
            &StorageKey::from_bytes(self.key),
            self.generation,
            &mut rng,
        );
        let mut meta = Vec::new();
        let name = self.peer.name.as_bytes();
        meta.push(u8::try_from(name.len()).map_err(|_| "name too long")?);
        meta.extend_from_slice(name);
        match self.peer.relay_root {
            Some(root) => {
                meta.push(1);
                meta.extend_from_slice(&root);
            }
            None => meta.push(0),
        }
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let tag = meta_cipher(&self.key)
            .encrypt_inout_detached(
                &Nonce::from(nonce),
                &meta_ad(self.generation, &blob),
                meta.as_mut_slice().into(),
            )
            .map_err(|_| "cannot encrypt the state")?;
        meta.extend_from_slice(&tag);
        let mut out = STATE_MAGIC.to_vec();
        out.extend_from_slice(&self.generation.to_be_bytes());
        out.extend_from_slice(
            &u16::try_from(meta.len())
                .map_err(|_| "state too large")?
                .to_be_bytes(),
        );
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&meta);
        out.extend_from_slice(&blob);
        let path = state_path(&self.dir);
        let tmp = self.dir.join("state.tmp");
        std::fs::write(&tmp, &out)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
        Ok(())
    }

    fn load(dir: &Path) -> CliResult<Device> {
        let key_file = key_path(dir);
        let path = state_path(dir);
        if !path.exists() {
            return Err(format!(
                "no identity in {}: create one with `peer --state {} init NAME`",
                dir.display(),
                dir.display()
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
        // The account blob carries its own generation; it must be this file's.
        let account = Account::from_encrypted(blob, &StorageKey::from_bytes(key), generation)
            .map_err(|e| corrupted(&e.to_string()))?;
        let (&name_len, meta) = meta.split_first().ok_or_else(|| corrupted("metadata"))?;
        let (name, meta) = meta
            .split_at_checked(usize::from(name_len))
            .ok_or_else(|| corrupted("metadata"))?;
        let name = std::str::from_utf8(name).map_err(|_| corrupted("metadata"))?;
        let relay_root = match meta {
            [0] => None,
            [1, root @ ..] => Some(<[u8; 32]>::try_from(root).map_err(|_| corrupted("metadata"))?),
            _ => return Err(corrupted("metadata").into()),
        };
        Ok(Device {
            dir: dir.to_path_buf(),
            key,
            generation,
            peer: Peer::from_parts(name, account, relay_root),
        })
    }

    async fn connect(&mut self, options: &Options) -> CliResult<RelayClient> {
        if self.peer.relay_root.is_none() {
            return Err(format!(
                "`{}` is not registered yet: run `peer --state {} register` first",
                self.peer.name,
                self.dir.display()
            )
            .into());
        }
        self.peer
            .connect(options.relay()?, WAIT, true, unix_now())
            .await
    }
}

// ── Commands ─────────────────────────────────────────────────────────────────────────────────

fn init(options: &Options, name: &str) -> CliResult<()> {
    if !valid_name(name) {
        return Err(format!(
            "`{name}` is not a valid name: 1 to 64 ASCII letters, digits or . - _ @"
        )
        .into());
    }
    let dir = &options.state;
    if state_path(dir).exists() {
        return Err(format!(
            "{} already holds an identity; use another --state directory",
            dir.display()
        )
        .into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut rng = os_rng()?;
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    write_key_file(&key_path(dir), &key)?;
    let mut device = Device {
        dir: dir.clone(),
        key,
        generation: 0,
        peer: Peer::new(name, unix_now(), &mut rng)?,
    };
    device.save()?;
    out!(
        "created identity `{name}` in {} (identity key {}…)",
        dir.display(),
        short(device.peer.account.identity_key())
    );
    out!(
        "next: start a relay and run `peer --state {} register`",
        dir.display()
    );
    Ok(())
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

async fn register(options: &Options) -> CliResult<()> {
    let mut device = Device::load(&options.state)?;
    let addr = options.relay()?;
    let mut rng = os_rng()?;
    let mut client = device.peer.connect(addr, WAIT, false, unix_now()).await?;
    let bundles = device
        .peer
        .register(&mut client, unix_now(), &mut rng)
        .await?;
    device.save()?;
    out!(
        "registered `{}` with the relay at {addr}; uploaded {bundles} prekey bundles",
        device.peer.name
    );
    Ok(())
}

async fn send(options: &Options, to: &str, text: &str) -> CliResult<()> {
    let mut device = Device::load(&options.state)?;
    let mut client = device.connect(options).await?;
    let mut rng = os_rng()?;
    let result = device
        .peer
        .send_text(&mut client, to, text, unix_now(), &mut rng)
        .await;
    // The session may have advanced (or a new contact been recorded) even if the relay
    // refused: save either way.
    device.save()?;
    let sent = result?;
    out!(
        "sent to `{to}` (sealed envelope of {} bytes, relay id #{})",
        sent.envelope.len(),
        sent.relay_id
    );
    Ok(())
}

/// Handles one delivery: read, print, save, then acknowledge (so a crash before saving
/// means the relay delivers it again).
async fn handle_delivery(
    device: &mut Device,
    client: &mut RelayClient,
    id: u64,
    envelope: &[u8],
) -> CliResult<()> {
    match device.peer.open(envelope, unix_now()) {
        Incoming::Text {
            from, text, events, ..
        } => {
            out!("[{from}] {text}");
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
                            " since you verified it"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        Incoming::Business { from, result } => match result {
            Ok(identity) => out!("  {from} is {identity}"),
            Err(e) => out!("  ! {from} presented an organization certificate that fails: {e}"),
        },
        Incoming::Duplicate => {}
        Incoming::Rejected(reason) => eprintln!("  ! dropped a message: {reason}"),
    }
    device.save()?;
    client.ack(id).await?;
    Ok(())
}

/// Tops up and republishes prekeys if this device is running low.
async fn refill_prekeys(device: &mut Device, client: &mut RelayClient) -> CliResult<()> {
    let (x25519, kem) = device.peer.account.one_time_prekey_counts();
    let t = unix_now();
    if x25519 < 5 || kem < 5 || device.peer.account.prekeys_due_for_rotation(t) {
        let mut rng = os_rng()?;
        device.peer.publish_prekeys(client, t, &mut rng).await?;
        device.save()?;
    }
    Ok(())
}

async fn recv(options: &Options, wait: Duration) -> CliResult<()> {
    let mut device = Device::load(&options.state)?;
    let mut client = device.connect(options).await?;
    let queued = client.welcome().queued;
    let mut count = 0u32;
    // Bounded: what was queued, plus whatever arrives while we wait.
    for _ in 0..100_000 {
        let Some(delivery) = client.next_delivery(wait).await? else {
            break;
        };
        handle_delivery(&mut device, &mut client, delivery.id, &delivery.envelope).await?;
        count += 1;
    }
    client.ping().await?;
    refill_prekeys(&mut device, &mut client).await?;
    if count == 0 {
        out!("no messages (relay had {queued} queued)");
    }
    Ok(())
}

async fn chat(options: &Options, to: &str) -> CliResult<()> {
    let mut device = Device::load(&options.state)?;
    let mut client = device.connect(options).await?;
    let mut rng = os_rng()?;
    if let Err(e) = device.peer.resolve(&mut client, to, unix_now()).await {
        out!("note: {e}; lines you type fail until `{to}` registers");
    }
    device.save()?;
    out!(
        "chatting with `{to}` as `{}` (type a line and press Enter; Ctrl-D to quit)",
        device.peer.name
    );
    out!(
        "compare safety numbers with `peer --state {} safety-number {to}`",
        device.dir.display()
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut keepalive = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line.map_err(|e| format!("reading the terminal: {e}"))? else {
                    break;
                };
                let text = line.trim();
                if text.is_empty() {
                    continue;
                }
                let result = device.peer.send_text(&mut client, to, text, unix_now(), &mut rng).await;
                device.save()?;
                if let Err(e) = result {
                    eprintln!("  ! not sent: {e}");
                }
            }
            delivery = client.next_delivery(Duration::from_secs(3_600)) => {
                if let Some(delivery) = delivery? {
                    handle_delivery(&mut device, &mut client, delivery.id, &delivery.envelope).await?;
                    refill_prekeys(&mut device, &mut client).await?;
                }
            }
            _ = keepalive.tick() => client.ping().await?,
        }
    }
    client.close().await;
    Ok(())
}

/// The identity key of `name`: the one on record, else the relay's (recorded now).
async fn identity_of(device: &mut Device, options: &Options, name: &str) -> CliResult<IdentityKey> {
    if let Some(key) = device.peer.known_identity(name) {
        return Ok(key);
    }
    let mut client = device.connect(options).await?;
    let (key, _) = device.peer.resolve(&mut client, name, unix_now()).await?;
    device.save()?;
    Ok(key)
}

fn safety(device: &Device, name: &str, key: &IdentityKey) -> CliResult<SafetyNumber> {
    Ok(SafetyNumber::new(
        &UserId::new(device.peer.name.as_bytes())?,
        device.peer.account.identity_key(),
        &UserId::new(name.as_bytes())?,
        key,
    ))
}

async fn safety_number(options: &Options, name: &str) -> CliResult<()> {
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
        .and_then(|u| device.peer.account.verification_state(&u));
    out!("state: {}", describe_state(state.as_ref()));
    Ok(())
}

fn describe_state(state: Option<&hushwire::VerificationState>) -> String {
    use hushwire::VerificationState as S;
    match state {
        None => "not on record".into(),
        Some(S::Unverified { .. }) => "not verified yet".into(),
        Some(S::Verified { verified_at, .. }) => {
            format!("verified (at unix time {})", verified_at.as_unix_secs())
        }
        Some(S::ChangedSinceVerification { .. }) => {
            "KEY CHANGED since you verified it: sending is blocked until you verify again".into()
        }
        Some(_) => "unknown".into(),
    }
}

async fn verify(options: &Options, name: &str, payload_hex: &str) -> CliResult<()> {
    let mut device = Device::load(&options.state)?;
    let key = identity_of(&mut device, options, name).await?;
    let payload = hex::decode(payload_hex.trim())
        .map_err(|_| "the payload must be the hex string printed under the other side's QR code")?;
    let number = safety(&device, name, &key)?;
    number
        .verify_scanned(&payload)
        .map_err(|e| format!("NOT verified: {e}"))?;
    let user = UserId::new(name.as_bytes())?;
    device.peer.account.mark_verified(&user, &key, unix_now())?;
    device.save()?;
    out!("`{name}` verified: the codes match");
    Ok(())
}

fn short(key: &IdentityKey) -> String {
    hex::encode(key.as_bytes().get(..6).unwrap_or_default())
}
