//! The relay and peer binaries run as a person runs them (separate processes, loopback only),
//! and attacked the way an attacker starts: every loop bounded in count and time.
//!
//! - a flood of maximum-length frame headers before sign-in keeps the relay's memory under
//!   [`PRE_AUTH_FLOOD_GROWTH_BOUND`];
//! - 2,000 idle sockets that never sign in do not stop an honest client from signing in
//!   within a second;
//! - `verify` run beside an open `chat` is not lost;
//! - a chat survives a relay restart and delivers what was typed while the relay was down;
//! - the relay restarted from another working directory keeps its identity;
//! - lines typed for a peer that has not registered yet wait and go out when it does;
//! - a `recv` beside an open chat does not end it;
//! - a busy port creates no database;
//! - `send-file` then `recv` saves a byte-identical file (the relay holding only ciphertext);
//! - `send` masks a card number by default and says so, `--no-mask` sends it as typed (and
//!   the receiver warns), `--vault` seals it to the vault;
//! - `backup` shows the recovery key once and appends on later runs; `restore` in a new
//!   directory with that key brings the verified contact back and 1:1 messages flow again; a
//!   mistyped key is refused before anything changes;
//! - a peer state directory of an older build (hybrid envelopes off) turns them on at
//!   `register` and publishes its envelope key; `send` to and from it says `hybrid`;
//! - (PostgreSQL, `HUSHWIRE_TEST_POSTGRES`) two relay processes on one database, 200 clients
//!   spread over both, 5,000 messages from each node to the other, one node killed with
//!   SIGKILL mid-run and its clients moving to the other: none lost, none read twice (the
//!   redeliveries the library refuses as duplicates are counted).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/members.rs"]
mod members;
#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/support.rs"]
mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chacha20::ChaCha20Rng;
use hushwire::IdentityKeyPair;
use hushwire_examples::client::{Link, RelayClient};
use hushwire_examples::frame::MAX_FRAME_LEN;
use hushwire_examples::tls::{self, Pin};
use rand_core::SeedableRng;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;

/// How much the relay's resident memory may grow while 256 connections that never signed in
/// each announce a maximum-length frame (1 MiB) and send most of it. Before the sign-in cap
/// the relay allocated the announced length: about 256 MiB.
const PRE_AUTH_FLOOD_GROWTH_BOUND: u64 = 48 * 1024 * 1024;
/// Connections in the flood.
const FLOOD_CONNECTIONS: usize = 256;
/// Idle sockets in the lockout test.
const IDLE_SOCKETS: usize = 2_000;

fn relay_bin() -> &'static str {
    env!("CARGO_BIN_EXE_relay")
}

fn peer_bin() -> &'static str {
    env!("CARGO_BIN_EXE_peer")
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "hushwire-processes-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A relay process, killed on drop.
struct Relay {
    child: Child,
    addr: SocketAddr,
    output: Vec<String>,
}

impl Relay {
    /// Starts the relay binary in `cwd` with `args`, listening on `listen`; waits for its
    /// start-up lines.
    fn start(cwd: &Path, listen: SocketAddr, args: &[&str], envs: &[(&str, &Path)]) -> Relay {
        let log = std::fs::File::create(cwd.join(format!("relay-{}.log", listen.port()))).unwrap();
        let mut command = Command::new(relay_bin());
        command
            .current_dir(cwd)
            .arg("--listen")
            .arg(listen.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut output = Vec::new();
        let mut addr = None;
        for _ in 0..8 {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(rest) = line.strip_prefix("relay listening on ") {
                addr = rest.split_whitespace().next().and_then(|a| a.parse().ok());
            }
            let done = line.contains("peers pin these");
            output.push(line);
            if done {
                break;
            }
        }
        // Keep draining stdout so the relay never blocks on it.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = stdout.read_to_end(&mut sink);
        });
        let addr = addr.unwrap_or_else(|| panic!("relay did not start: {output:?}"));
        Relay {
            child,
            addr,
            output,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn identity_lines(&self) -> Vec<String> {
        self.output
            .iter()
            .filter(|l| l.contains("root key") || l.contains("SHA-256"))
            .cloned()
            .collect()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

/// Runs the peer binary to completion (at most 30 s); returns (success, stdout + stderr).
fn peer(cwd: &Path, args: &[&str]) -> (bool, String) {
    let mut child = Command::new(peer_bin())
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Runs the peer binary and asserts it succeeded.
fn peer_ok(cwd: &Path, args: &[&str]) -> String {
    let (ok, text) = peer(cwd, args);
    assert!(ok, "peer {args:?} failed:\n{text}");
    text
}

/// `init` and `register` for `name` (state directory `name` in `cwd`), options after the
/// subcommand as a person may type them.
fn new_peer(cwd: &Path, relay: SocketAddr, name: &str) {
    let relay = relay.to_string();
    peer_ok(cwd, &["init", name, "--state", name]);
    let out = peer_ok(cwd, &["register", "--state", name, "--relay", &relay]);
    assert!(out.contains("pinned the relay's TLS certificate"), "{out}");
}

/// An interactive `chat`: stdin to type into, every output line collected.
struct Chat {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Chat {
    fn start(cwd: &Path, relay: SocketAddr, state: &str, with: &str) -> Chat {
        let mut child = Command::new(peer_bin())
            .current_dir(cwd)
            .args([
                "--state",
                state,
                "--relay",
                &relay.to_string(),
                "chat",
                with,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let stdin = child.stdin.take();
        let chat = Chat {
            child,
            stdin,
            lines,
        };
        chat.wait_for("chatting with", Duration::from_secs(10));
        chat
    }

    fn type_line(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{text}").unwrap();
        stdin.flush().unwrap();
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits until a line contains `text`; panics with the output after `wait`.
    fn wait_for(&self, text: &str, wait: Duration) {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if self.lines.lock().unwrap().iter().any(|l| l.contains(text)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("chat never printed `{text}`:\n{}", self.output());
    }

    /// Ctrl-D, then waits for the process to end (at most 10 s).
    fn quit(mut self) -> String {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        self.output()
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The QR payload `state` shows for `with` (the hex line under the QR code).
fn payload(cwd: &Path, relay: SocketAddr, state: &str, with: &str) -> String {
    let out = peer_ok(
        cwd,
        &[
            "--state",
            state,
            "--relay",
            &relay.to_string(),
            "safety-number",
            with,
        ],
    );
    let mut lines = out.lines();
    lines.find(|l| l.starts_with("QR payload"));
    lines.next().unwrap().trim().to_owned()
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// A TCP connection from `source` (any address in 127.0.0.0/8 is this machine).
async fn connect_from(source: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    socket.connect(to).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_auth_flood_of_max_length_headers_keeps_relay_memory_bounded() {
    let dir = TempDir::new("flood");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let addr = relay.addr;
    let before = rss(relay.pid());
    let (config, _) = tls::client_config(Pin::FirstUse).unwrap();
    let connector = TlsConnector::from(config);
    let mut streams = Vec::new();
    let mut peak = before;
    let body = vec![0x87u8; MAX_FRAME_LEN - 1];
    for i in 0..FLOOD_CONNECTIONS {
        // 16 per source address: the per-address limit is not what stops them.
        let source = Ipv4Addr::new(127, 0, 1, u8::try_from(1 + i / 16).unwrap());
        let tcp = connect_from(source, addr).await.unwrap();
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let Ok(Ok(mut tls)) =
            tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp)).await
        else {
            continue;
        };
        let header = u32::try_from(MAX_FRAME_LEN).unwrap().to_be_bytes();
        let _ = tls.write_all(&header).await;
        // Most of the body, never all of it: a relay that allocated the announced length
        // would now hold it.
        let _ = tokio::time::timeout(Duration::from_millis(50), tls.write_all(&body)).await;
        streams.push(tls);
        if i % 32 == 31 {
            peak = peak.max(rss(relay.pid()));
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    peak = peak.max(rss(relay.pid()));
    let growth = peak.saturating_sub(before);
    println!(
        "pre-auth flood: {} connections, relay RSS {:.1} MiB before, {:.1} MiB at most during \
         (growth {:.1} MiB, bound {} MiB)",
        streams.len(),
        before as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        growth as f64 / 1048576.0,
        PRE_AUTH_FLOOD_GROWTH_BOUND / 1048576
    );
    assert!(
        growth < PRE_AUTH_FLOOD_GROWTH_BOUND,
        "relay memory grew by {growth} bytes"
    );
    drop(streams);
    relay.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_unauthenticated_sockets_do_not_lock_out_an_honest_client() {
    let dir = TempDir::new("lockout");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let addr = relay.addr;
    // 2,000 sockets that connect and say nothing, 16 from each of 125 addresses (so the
    // per-address limit does not refuse them: the relay's total limits are what is tested).
    let mut idle = Vec::with_capacity(IDLE_SOCKETS);
    for i in 0..IDLE_SOCKETS {
        let source = Ipv4Addr::new(127, 0, 2, u8::try_from(1 + i / 16).unwrap());
        if let Ok(stream) = connect_from(source, addr).await {
            idle.push(stream);
        }
    }
    assert!(
        idle.len() >= IDLE_SOCKETS * 9 / 10,
        "only {} sockets connected (is `ulimit -n` below 4,500?)",
        idle.len()
    );
    let rss_idle = rss(relay.pid());
    let identity = IdentityKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1));
    let started = Instant::now();
    let client = RelayClient::connect(
        addr,
        &identity,
        &Link::tls(Pin::FirstUse, Duration::from_secs(5)),
    )
    .await;
    let took = started.elapsed();
    println!(
        "{} idle sockets open: an honest client signed in after {took:.1?} (relay RSS {:.1} MiB)",
        idle.len(),
        rss_idle as f64 / 1048576.0
    );
    let client = client.unwrap();
    assert!(took < Duration::from_secs(1), "sign-in took {took:?}");
    client.close().await;
    drop(idle);
    relay.stop();
}

#[test]
fn verify_beside_an_open_chat_is_not_lost() {
    let dir = TempDir::new("verify");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let addr = relay.addr;
    let r = addr.to_string();
    new_peer(&dir.0, addr, "alice");
    new_peer(&dir.0, addr, "bob");
    peer_ok(
        &dir.0,
        &["send", "alice", "hi", "--state", "bob", "--relay", &r],
    );
    let chat = Chat::start(&dir.0, addr, "alice", "bob");
    chat.wait_for("[bob] hi", Duration::from_secs(10));
    // In another terminal, Alice verifies Bob while the chat stays open.
    let code = payload(&dir.0, addr, "bob", "alice");
    let out = peer_ok(
        &dir.0,
        &["verify", "bob", &code, "--state", "alice", "--relay", &r],
    );
    assert!(out.contains("verified"), "{out}");
    // The chat then reads (and saves) more messages.
    for i in 0..3 {
        peer_ok(
            &dir.0,
            &[
                "send",
                "alice",
                &format!("after {i}"),
                "--state",
                "bob",
                "--relay",
                &r,
            ],
        );
    }
    chat.wait_for("[bob] after 2", Duration::from_secs(10));
    chat.quit();
    let state = peer_ok(
        &dir.0,
        &["safety-number", "bob", "--state", "alice", "--relay", &r],
    );
    assert!(
        state.contains("state: verified"),
        "verification lost:\n{state}"
    );
    relay.stop();
}

#[test]
fn a_chat_survives_a_relay_restart_and_delivers_what_was_typed() {
    let dir = TempDir::new("restart");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let addr = relay.addr;
    let r = addr.to_string();
    new_peer(&dir.0, addr, "alice");
    new_peer(&dir.0, addr, "bob");
    let mut chat = Chat::start(&dir.0, addr, "bob", "alice");
    chat.type_line("before the restart");
    std::thread::sleep(Duration::from_millis(300));
    relay.stop();
    chat.wait_for("reconnecting", Duration::from_secs(10));
    chat.type_line("typed while the relay was down");
    std::thread::sleep(Duration::from_millis(300));
    let relay = Relay::start(&dir.0, addr, &["--data", "data", "--quiet"], &[]);
    chat.wait_for("reconnected", Duration::from_secs(15));
    chat.type_line("after the restart");
    let out = peer_ok(
        &dir.0,
        &["recv", "--wait", "3", "--state", "alice", "--relay", &r],
    );
    for line in [
        "before the restart",
        "typed while the relay was down",
        "after the restart",
    ] {
        assert!(
            out.contains(&format!("[bob] {line}")),
            "{line} missing:\n{out}"
        );
    }
    // And the other way: the chat still receives.
    peer_ok(
        &dir.0,
        &[
            "send",
            "bob",
            "welcome back",
            "--state",
            "alice",
            "--relay",
            &r,
        ],
    );
    chat.wait_for("[alice] welcome back", Duration::from_secs(10));
    let output = chat.quit();
    assert!(!output.contains("not sent"), "{output}");
    relay.stop();
}

#[test]
fn the_relay_restarted_from_another_directory_keeps_its_identity() {
    let dir = TempDir::new("identity");
    let (here, there) = (dir.join("here"), dir.join("there"));
    std::fs::create_dir_all(&here).unwrap();
    std::fs::create_dir_all(&there).unwrap();
    // No --data: the default data directory, under XDG_DATA_HOME, whatever the working
    // directory.
    let data_home = dir.join("xdg");
    let envs: [(&str, &Path); 1] = [("XDG_DATA_HOME", &data_home)];
    let relay = Relay::start(&here, free_loopback(), &["--quiet"], &envs);
    let addr = relay.addr;
    let first = relay.identity_lines();
    new_peer(&dir.0, addr, "alice");
    new_peer(&dir.0, addr, "bob");
    relay.stop();
    assert!(data_home.join("hushwire-relay/identity.key").exists());

    let relay = Relay::start(&there, addr, &["--quiet"], &envs);
    assert_eq!(relay.identity_lines(), first);
    let r = addr.to_string();
    peer_ok(
        &dir.0,
        &[
            "send",
            "bob",
            "same relay",
            "--state",
            "alice",
            "--relay",
            &r,
        ],
    );
    let out = peer_ok(&dir.0, &["recv", "--state", "bob", "--relay", &r]);
    assert!(out.contains("[alice] same relay"), "{out}");
    relay.stop();

    // A relay with a new identity (another data directory) is refused, with both keys shown
    // and the way to re-pin.
    let relay = Relay::start(&there, addr, &["--data", "other", "--quiet"], &[]);
    let (ok, out) = peer(
        &dir.0,
        &["send", "bob", "hello?", "--state", "alice", "--relay", &r],
    );
    assert!(!ok);
    assert!(
        out.contains("pinned:") && out.contains("presented:"),
        "{out}"
    );
    assert!(out.contains("repin-relay"), "{out}");
    let (ok, out) = peer(&dir.0, &["repin-relay", "--state", "alice", "--relay", &r]);
    assert!(!ok, "re-pinned without confirmation:\n{out}");
    let confirm = out
        .split("--confirm ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    let out = peer_ok(
        &dir.0,
        &[
            "repin-relay",
            "--confirm",
            &confirm,
            "--state",
            "alice",
            "--relay",
            &r,
        ],
    );
    assert!(out.contains("re-pinned"), "{out}");
    relay.stop();
}

#[test]
fn lines_for_a_peer_not_registered_yet_wait_and_go_out() {
    let dir = TempDir::new("queue");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let addr = relay.addr;
    let r = addr.to_string();
    new_peer(&dir.0, addr, "alice");
    let mut chat = Chat::start(&dir.0, addr, "alice", "carol");
    chat.type_line("are you there yet?");
    chat.wait_for("has not registered", Duration::from_secs(10));
    new_peer(&dir.0, addr, "carol");
    // The chat retries every few seconds.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut read = String::new();
    while Instant::now() < deadline && !read.contains("are you there yet?") {
        read = peer_ok(
            &dir.0,
            &["recv", "--wait", "1", "--state", "carol", "--relay", &r],
        );
    }
    assert!(read.contains("[alice] are you there yet?"), "{read}");
    chat.quit();
    relay.stop();
}

#[test]
fn recv_beside_an_open_chat_does_not_end_it() {
    let dir = TempDir::new("second");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let addr = relay.addr;
    let r = addr.to_string();
    new_peer(&dir.0, addr, "alice");
    new_peer(&dir.0, addr, "bob");
    let mut chat = Chat::start(&dir.0, addr, "alice", "bob");
    peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "alice", "--relay", &r],
    );
    chat.wait_for("receives the messages now", Duration::from_secs(5));
    chat.wait_for("messages arrive here again", Duration::from_secs(5));
    peer_ok(
        &dir.0,
        &[
            "send",
            "alice",
            "still here?",
            "--state",
            "bob",
            "--relay",
            &r,
        ],
    );
    chat.wait_for("[bob] still here?", Duration::from_secs(10));
    chat.type_line("yes");
    let out = peer_ok(
        &dir.0,
        &["recv", "--wait", "2", "--state", "bob", "--relay", &r],
    );
    assert!(out.contains("[alice] yes"), "{out}");
    chat.quit();
    relay.stop();
}

#[test]
fn a_busy_port_creates_no_database() {
    let dir = TempDir::new("busy");
    let relay = Relay::start(
        &dir.0,
        free_loopback(),
        &["--data", "first", "--quiet"],
        &[],
    );
    let output = Command::new(relay_bin())
        .current_dir(&dir.0)
        .args(["--listen", &relay.addr.to_string(), "--data", "second"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen"), "{stderr}");
    assert!(!dir.join("second").exists());
    relay.stop();
}

/// Bytes that do not repeat (a counter through SHA-256), so a misplaced chunk shows.
fn file_bytes(len: usize) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(&Sha256::digest(i.to_be_bytes()));
        i += 1;
    }
    out.truncate(len);
    out
}

#[test]
fn send_file_then_recv_saves_an_identical_file() {
    let dir = TempDir::new("file");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let addr = relay.addr;
    let r = addr.to_string();
    new_peer(&dir.0, addr, "alice");
    new_peer(&dir.0, addr, "bob");
    // Three 512 KiB upload parts and a bit, 21 chunks of 64 KiB: not a multiple of either.
    let contents = file_bytes(1_300_001);
    std::fs::write(dir.join("report.bin"), &contents).unwrap();
    let sent = peer_ok(
        &dir.0,
        &[
            "send-file",
            "bob",
            "report.bin",
            "--state",
            "alice",
            "--relay",
            &r,
        ],
    );
    assert!(
        sent.contains("sent `report.bin` (1300001 bytes) to `bob`"),
        "{sent}"
    );
    assert!(
        sent.contains("uploading report.bin"),
        "progress shown: {sent}"
    );
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "bob", "--relay", &r],
    );
    assert!(
        read.contains("[alice] sends a file: report.bin (1300001 bytes"),
        "{read}"
    );
    assert!(read.contains("every chunk verified"), "{read}");
    let saved = dir.join("bob").join("files").join("report.bin");
    assert_eq!(std::fs::read(&saved).unwrap(), contents, "byte-identical");
    // The same name again goes beside it, never over it.
    peer_ok(
        &dir.0,
        &[
            "send-file",
            "bob",
            "report.bin",
            "--state",
            "alice",
            "--relay",
            &r,
        ],
    );
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "bob", "--relay", &r],
    );
    assert!(read.contains("report (1).bin"), "{read}");
    assert_eq!(
        std::fs::read(dir.join("bob").join("files").join("report (1).bin")).unwrap(),
        contents
    );
    // The relay's database holds no 32-byte run of the file.
    relay.stop();
    let db = std::fs::read(dir.join("data").join("relay.sqlite")).unwrap();
    let wal = std::fs::read(dir.join("data").join("relay.sqlite-wal")).unwrap_or_default();
    for piece in contents.chunks(100_003).map(|c| &c[..32]) {
        assert!(!db.windows(32).any(|w| w == piece));
        assert!(!wal.windows(32).any(|w| w == piece));
    }
}

#[test]
fn send_masks_card_numbers_by_default_and_says_so() {
    let dir = TempDir::new("mask");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let addr = relay.addr;
    let r = addr.to_string();
    new_peer(&dir.0, addr, "alice");
    new_peer(&dir.0, addr, "bob");
    new_peer(&dir.0, addr, "vault");
    let card = "my card is 4242 4242 4242 4242 thanks";
    let sent = peer_ok(
        &dir.0,
        &["send", "bob", card, "--state", "alice", "--relay", &r],
    );
    assert!(
        sent.contains("masked a card number before encrypting: •••• •••• •••• 4242"),
        "{sent}"
    );
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "bob", "--relay", &r],
    );
    assert!(
        read.contains("[alice] my card is •••• •••• •••• 4242 thanks"),
        "{read}"
    );
    assert!(!read.contains("4242 4242"), "{read}");

    // --no-mask: sent as typed; the receiver's check warns.
    peer_ok(
        &dir.0,
        &[
            "send",
            "bob",
            card,
            "--no-mask",
            "--state",
            "alice",
            "--relay",
            &r,
        ],
    );
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "bob", "--relay", &r],
    );
    assert!(read.contains(card), "{read}");
    assert!(read.contains("sent an unmasked card number"), "{read}");

    // --vault: the vault reads the number, bob a secure field with the masked form.
    let sent = peer_ok(
        &dir.0,
        &[
            "send", "bob", card, "--vault", "vault", "--state", "alice", "--relay", &r,
        ],
    );
    assert!(
        sent.contains("sealed the card number to the vault `vault`"),
        "{sent}"
    );
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "bob", "--relay", &r],
    );
    assert!(
        read.contains("[alice] secure field: card number •••• •••• •••• 4242"),
        "{read}"
    );
    assert!(!read.contains("4242 4242"), "{read}");
    let vaulted = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "vault", "--relay", &r],
    );
    assert!(
        vaulted.contains("[alice] vault: card number 4242 4242 4242 4242"),
        "{vaulted}"
    );
    relay.stop();
}

/// The recovery key `backup` printed (the indented line after "your recovery key").
fn printed_recovery_key(out: &str) -> String {
    let mut lines = out.lines();
    lines.find(|l| l.starts_with("your recovery key"));
    lines
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("no recovery key shown: {out}"))
        .trim()
        .to_owned()
}

/// `key` with its first character replaced by another of the alphabet.
fn mistyped(key: &str) -> String {
    let first = key.chars().next().unwrap();
    let other = if first == 'A' { 'B' } else { 'A' };
    format!("{other}{}", &key[1..])
}

#[test]
fn backup_then_restore_on_a_new_device_and_talk_again() {
    let dir = TempDir::new("backup");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let addr = relay.addr;
    let r = addr.to_string();
    new_peer(&dir.0, addr, "alice");
    new_peer(&dir.0, addr, "bob");
    peer_ok(
        &dir.0,
        &["send", "bob", "hi bob", "--state", "alice", "--relay", &r],
    );
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "bob", "--relay", &r],
    );
    assert!(read.contains("[alice] hi bob"), "{read}");
    let bob_payload = payload(&dir.0, addr, "bob", "alice");
    peer_ok(
        &dir.0,
        &[
            "verify",
            "bob",
            &bob_payload,
            "--state",
            "alice",
            "--relay",
            &r,
        ],
    );

    // First run: the key is shown once, with the line that says to write it down.
    let first = peer_ok(&dir.0, &["backup", "--state", "alice", "--relay", &r]);
    eprintln!("{first}");
    assert!(first.contains("write this down"), "{first}");
    assert!(first.contains("backed up `alice`"), "{first}");
    let key = printed_recovery_key(&first);
    assert_eq!(key.len(), 65, "55 characters in 11 groups of 5: {key}");
    // Nothing in the state directory holds the key.
    for entry in std::fs::read_dir(dir.join("alice")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()));
    }
    // Later runs append without the key and never show it again.
    let second = peer_ok(&dir.0, &["backup", "--state", "alice", "--relay", &r]);
    eprintln!("{second}");
    assert!(second.contains("updated the backup of `alice`"), "{second}");
    assert!(!second.contains("recovery key"), "{second}");
    assert!(!second.contains(&key[..11]), "{second}");

    // A mistyped key is refused before anything changes: no state, the name stays alice's.
    let (ok, out) = peer(
        &dir.0,
        &[
            "restore",
            "alice",
            "--recovery-key",
            &mistyped(&key),
            "--state",
            "alice2",
            "--relay",
            &r,
        ],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("a character is mistyped"), "{out}");
    assert!(!dir.join("alice2").join("state").exists());
    let (ok, out) = peer(
        &dir.0,
        &[
            "restore",
            "alice",
            "--recovery-key",
            "not-a-key",
            "--state",
            "alice2",
            "--relay",
            &r,
        ],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("that is not a recovery key"), "{out}");
    // Without --recovery-key it is asked for on stdin (closed here: refused, nothing changed).
    let (ok, out) = peer(
        &dir.0,
        &["restore", "alice", "--state", "alice2", "--relay", &r],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("recovery key (55 characters"), "{out}");
    assert!(out.contains("no recovery key given"), "{out}");
    assert!(!dir.join("alice2").join("state").exists());
    peer_ok(
        &dir.0,
        &[
            "send",
            "alice",
            "still there?",
            "--state",
            "bob",
            "--relay",
            &r,
        ],
    );
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "alice", "--relay", &r],
    );
    assert!(read.contains("[bob] still there?"), "{read}");

    // The laptop is lost; a new directory restores with the key as written down.
    let restored = peer_ok(
        &dir.0,
        &[
            "restore",
            "alice",
            "--recovery-key",
            &key.to_lowercase(),
            "--state",
            "alice2",
            "--relay",
            &r,
        ],
    );
    eprintln!("{restored}");
    assert!(restored.contains("restored `alice`"), "{restored}");
    assert!(
        restored.contains("verified contacts restored: bob"),
        "{restored}"
    );
    assert!(
        restored.contains("1:1 sessions restart with: bob"),
        "{restored}"
    );

    // Bob's peer answers the reset; then messages flow both ways with the new device.
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "bob", "--relay", &r],
    );
    assert!(read.contains("`alice` lost its session with you"), "{read}");
    peer_ok(
        &dir.0,
        &[
            "send",
            "alice",
            "welcome back",
            "--state",
            "bob",
            "--relay",
            &r,
        ],
    );
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "alice2", "--relay", &r],
    );
    assert!(read.contains("[bob] welcome back"), "{read}");
    peer_ok(
        &dir.0,
        &["send", "bob", "thanks", "--state", "alice2", "--relay", &r],
    );
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "bob", "--relay", &r],
    );
    assert!(read.contains("[alice] thanks"), "{read}");
    // Bob is still verified on the new device.
    let shown = peer_ok(
        &dir.0,
        &["safety-number", "bob", "--state", "alice2", "--relay", &r],
    );
    assert!(shown.contains("verified ("), "{shown}");

    // The restored device backs up again under the same key, replacing the old backup.
    let again = peer_ok(&dir.0, &["backup", "--state", "alice2", "--relay", &r]);
    eprintln!("{again}");
    assert!(!again.contains("write this down"), "{again}");
    relay.stop();
}

/// Writes the state directory an older build left for `name`: the whole account blob in
/// `state` (no records), from an account that never turned hybrid envelopes on, not registered
/// (the layout `Device::load` in `src/bin/peer.rs` reads).
fn write_older_state(dir: &Path, name: &str) {
    use chacha20poly1305::aead::AeadInOut;
    use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
    use sha2::{Digest, Sha256};
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let now = hushwire::Timestamp::from_unix_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    let device = hushwire::Device::new(now, &mut rng);
    assert!(!device.account().hybrid_envelopes_enabled());
    let key = [0x42u8; 32];
    let generation = 1u64;
    let blob = device.to_encrypted(
        &hushwire::persist::StorageKey::from_bytes(key),
        generation,
        &mut rng,
    );
    let mut meta = vec![u8::try_from(name.len()).unwrap()];
    meta.extend_from_slice(name.as_bytes());
    meta.push(0);
    let cipher_key: [u8; 32] = Sha256::new()
        .chain_update(b"hushwire-example/peer/state-meta")
        .chain_update(key)
        .finalize()
        .into();
    let mut ad = b"HWPEER01".to_vec();
    ad.extend_from_slice(&generation.to_be_bytes());
    ad.extend_from_slice(&Sha256::digest(&blob));
    let nonce = [7u8; 12];
    let tag = ChaCha20Poly1305::new(&cipher_key.into())
        .encrypt_inout_detached(&Nonce::from(nonce), &ad, meta.as_mut_slice().into())
        .unwrap();
    meta.extend_from_slice(&tag);
    let mut state = b"HWPEER01".to_vec();
    state.extend_from_slice(&generation.to_be_bytes());
    state.extend_from_slice(&u16::try_from(meta.len()).unwrap().to_be_bytes());
    state.extend_from_slice(&nonce);
    state.extend_from_slice(&meta);
    state.extend_from_slice(&blob);
    let state_dir = dir.join(name);
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::write(state_dir.join("key"), key).unwrap();
    std::fs::write(state_dir.join("state"), state).unwrap();
}

/// A peer state directory of an older build (hybrid envelopes off) gets them at its next
/// sign-in and publishes its envelope key: senders then seal hybrid envelopes to it, and it
/// reads them. A new peer has them from `init`.
#[test]
fn an_older_peer_state_turns_hybrid_envelopes_on_and_receives_them() {
    let dir = TempDir::new("hybrid-upgrade");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let r = relay.addr.to_string();
    write_older_state(&dir.0, "alice");
    let registered = peer_ok(&dir.0, &["register", "--state", "alice", "--relay", &r]);
    assert!(registered.contains("the envelope key"), "{registered}");
    new_peer(&dir.0, relay.addr, "bob");
    let sent = peer_ok(
        &dir.0,
        &[
            "send",
            "alice",
            "post-quantum hello",
            "--state",
            "bob",
            "--relay",
            &r,
        ],
    );
    assert!(sent.contains("(hybrid sealed envelope of"), "{sent}");
    let read = peer_ok(
        &dir.0,
        &["recv", "--wait", "1", "--state", "alice", "--relay", &r],
    );
    assert!(read.contains("[bob] post-quantum hello"), "{read}");
    let sent = peer_ok(
        &dir.0,
        &["send", "bob", "and back", "--state", "alice", "--relay", &r],
    );
    assert!(sent.contains("(hybrid sealed envelope of"), "{sent}");
    relay.stop();
}

/// The state directory holds the device as records (SPEC.md §11.9): a message rewrites only the
/// record of the peer it was for, never the account record or the identity book, and every
/// record is readable by its owner only.
#[test]
fn a_message_rewrites_only_that_peers_record() {
    let dir = TempDir::new("records");
    let relay = Relay::start(&dir.0, free_loopback(), &["--data", "data", "--quiet"], &[]);
    let r = relay.addr.to_string();
    new_peer(&dir.0, relay.addr, "alice");
    new_peer(&dir.0, relay.addr, "bob");
    let send = |text: &str| {
        peer_ok(
            &dir.0,
            &["send", "bob", text, "--state", "alice", "--relay", &r],
        );
    };
    send("first");
    let alice = dir.join("alice");
    let peers: Vec<PathBuf> = std::fs::read_dir(alice.join("peers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(peers.len(), 1, "{peers:?}");
    let read = |name: &Path| std::fs::read(name).unwrap();
    let (state, book, record) = (
        read(&alice.join("state")),
        read(&alice.join("identity_book")),
        read(&peers[0]),
    );
    send("second");
    assert_eq!(read(&alice.join("state")), state);
    assert_eq!(read(&alice.join("identity_book")), book);
    assert_ne!(read(&peers[0]), record);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [
            alice.join("state"),
            alice.join("identity_book"),
            peers[0].clone(),
        ] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
    let out = peer_ok(&dir.0, &["recv", "--state", "bob", "--relay", &r]);
    assert!(
        out.contains("[alice] first") && out.contains("[alice] second"),
        "{out}"
    );
    relay.stop();
}

// ---------------------------------------------------------------------------------------------

/// Clients in the two-node test, half on each node.
const NODE_CLIENTS: usize = 200;
/// Messages each client sends (to the next client, on the other node).
const NODE_ROUNDS: usize = 25;

fn timestamp_now() -> hushwire::Timestamp {
    hushwire::Timestamp::from_unix_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

/// Signs `m` in on `addr` (its first relay pinned at registration) and asks for deliveries.
async fn sign_in_member(m: &mut members::Member, addr: SocketAddr) {
    let link = m.peer.link(Duration::from_secs(10), false);
    let mut client = m
        .peer
        .connect(addr, &link, true, timestamp_now())
        .await
        .unwrap();
    client.receive().await.unwrap();
    m.client = Some(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relay_processes_on_postgres_lose_nothing_when_one_is_killed() {
    use hushwire_examples::chat::Peer;
    let Some(server) = postgres::server("two_relay_processes_on_postgres") else {
        return;
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(180);
    let store = postgres::fresh_database(&server);
    let dir = TempDir::new("two-nodes");
    let args = [
        "--data",
        "data",
        "--store",
        store.as_str(),
        "--quiet",
        "--max-per-address",
        "1000",
    ];
    let a = Relay::start(&dir.0, free_loopback(), &args, &[]);
    // The second node shares the first's identity files (the same data directory).
    let mut b = Some(Relay::start(&dir.0, free_loopback(), &args, &[]));
    let nodes = [a.addr, b.as_ref().unwrap().addr];
    assert_eq!(
        a.identity_lines(),
        b.as_ref().unwrap().identity_lines(),
        "both nodes present one identity"
    );

    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    let mut members = Vec::new();
    for i in 0..NODE_CLIENTS {
        let mut peer = Peer::new(&format!("c{i:03}"), timestamp_now(), &mut rng).unwrap();
        let link = peer.link(Duration::from_secs(10), false);
        let mut client = peer
            .connect(nodes[i % 2], &link, false, timestamp_now())
            .await
            .unwrap();
        peer.register(&mut client, timestamp_now(), &mut rng)
            .await
            .unwrap();
        client.receive().await.unwrap();
        members.push(members::Member {
            peer,
            client: Some(client),
        });
    }
    let registered = started.elapsed();

    // text -> (reader, sender) each time it was read.
    let mut got: HashMap<String, Vec<(usize, String)>> = HashMap::new();
    // Texts the relay accepted (`Accepted` came back), and texts whose send failed when the
    // node died (the relay may or may not have stored them: each may be read once at most).
    let mut sent: Vec<(usize, usize, String)> = Vec::new();
    let mut unconfirmed: Vec<String> = Vec::new();
    let mut duplicates_refused = 0;
    let mut moved = 0;
    for round in 0..NODE_ROUNDS {
        for from in 0..NODE_CLIENTS {
            assert!(Instant::now() < deadline, "the two-node run took too long");
            if round == NODE_ROUNDS / 2 && from == NODE_CLIENTS / 2 {
                // Node B dies mid-run: deliveries it pushed and nobody acknowledged yet, and
                // requests under way, die with it.
                let mut node = b.take().unwrap();
                node.child.kill().unwrap();
                node.child.wait().unwrap();
            }
            let to = (from + 1) % NODE_CLIENTS;
            let to_name = members[to].peer.name.clone();
            for attempt in 0.. {
                assert!(attempt < 3, "c{from:03} cannot send");
                let text = format!("m{round}.{from}.{attempt}");
                let m = &mut members[from];
                if m.client.as_ref().is_none_or(|c| !c.is_open()) {
                    sign_in_member(m, nodes[0]).await;
                    moved += 1;
                }
                let client = m.client.as_mut().unwrap();
                match m
                    .peer
                    .send_text(client, &to_name, &text, timestamp_now(), &mut rng)
                    .await
                {
                    Ok(_) => {
                        sent.push((from, to, text));
                        break;
                    }
                    Err(_) => {
                        unconfirmed.push(text);
                        m.client = None;
                    }
                }
            }
        }
        for (i, m) in members.iter_mut().enumerate() {
            if m.client.as_ref().is_some_and(|c| !c.is_open()) {
                duplicates_refused += members::take_ready(m, i, &mut got).await;
                sign_in_member(m, nodes[0]).await;
                moved += 1;
            }
            duplicates_refused += members::take_ready(m, i, &mut got).await;
        }
    }
    assert_eq!(sent.len(), NODE_CLIENTS * NODE_ROUNDS);
    assert!(b.is_none(), "node B was killed");

    // Read what is left, then a little longer: a late second copy would show.
    let mut quiet_since = None;
    while Instant::now() < deadline {
        let read = sent.iter().filter(|(_, _, t)| got.contains_key(t)).count();
        if read == sent.len() {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(1) {
                break;
            }
        }
        for (i, m) in members.iter_mut().enumerate() {
            if m.client.as_ref().is_none_or(|c| !c.is_open()) {
                sign_in_member(m, nodes[0]).await;
                moved += 1;
            }
            duplicates_refused += members::take_ready(m, i, &mut got).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut lost = Vec::new();
    let mut read_twice = Vec::new();
    for (from, to, text) in &sent {
        match got.get(text).map(Vec::as_slice) {
            None => lost.push(text.clone()),
            Some([(reader, sender)]) => {
                assert_eq!(reader, to, "{text} read by the wrong client");
                assert_eq!(sender, &format!("c{from:03}"), "{text}: wrong sender");
            }
            Some(_) => read_twice.push(text.clone()),
        }
    }
    let unconfirmed_read = unconfirmed.iter().filter(|t| got.contains_key(*t)).count();
    for text in &unconfirmed {
        assert!(
            got.get(text).is_none_or(|r| r.len() == 1),
            "{text} read twice"
        );
    }
    assert_eq!(
        (lost.len(), read_twice.len()),
        (0, 0),
        "lost {lost:?}, read twice {read_twice:?}"
    );
    println!(
        "two nodes on PostgreSQL: {NODE_CLIENTS} clients (registered in {registered:.1?}), {} \
         messages, node B killed mid-run, {moved} sign-ins moved to node A, {} sends cut off \
         by the kill ({unconfirmed_read} of them stored and read once), {duplicates_refused} \
         redeliveries refused as duplicates; 0 lost, 0 read twice; {:.1?}",
        sent.len(),
        unconfirmed.len(),
        started.elapsed()
    );
    a.stop();
}
