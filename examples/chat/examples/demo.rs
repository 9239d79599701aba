//! A customer, a bank's support operator and her supervisor talk through a real relay.
//!
//! The demo starts the example relay (`src/relay.rs`: TLS on a free loopback
//! port, SQLite in a temporary directory) inside this process and runs three peers against
//! it. The left column is what the relay stored, read back from its database (who receives,
//! the first bytes in hex, the length: sealed envelopes hide the sender and the message kind).
//! The right column is what each person reads after decrypting. Along the way:
//!
//! - the operator presents a certificate from her bank, and the customer's app, which pins
//!   the bank's root key, shows "verified as Acme Bank, Dana Smith, Card support";
//! - a message waits in the relay for a supervisor who is offline, the relay restarts, and
//!   the message is still delivered;
//! - a tampered envelope and a replayed one are rejected with typed errors, changing nothing.
//!
//! ```text
//! cargo run --release --example demo              # seeded from the OS
//! cargo run --release --example demo -- --seed 7  # same peer keys every run
//! ```
//!
//! All I/O (sockets, SQLite, clock, OS randomness, printing) lives in the examples; the library
//! only sees bytes.

use hushwire_examples as transport;

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chacha20::ChaCha20Rng;
use hushwire::certificate::ServerCertificate;
use hushwire::sealed;
use hushwire::verify::OperatorInfo;
use hushwire::{
    IdentityCertificate, IssuerKeyPair, OrganizationRoots, SafetyNumber, Timestamp, UserId,
    Validity,
};
use rand_core::SeedableRng;

use transport::chat::{Incoming, Peer};
use transport::client::RelayClient;
use transport::relay::{self, RelayConfig, RelayHandle};
use transport::unix_now;

type DemoResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const CUSTOMER: &str = "customer";
const OPERATOR: &str = "dana";
const SUPERVISOR: &str = "supervisor";
const ORGANIZATION: &str = "Acme Bank";
const ORG_ROOT_ID: u32 = 100;
/// Bytes of each envelope shown in hex: enough to see they look random, no more.
const HEX_PREFIX: usize = 8;
/// Bytes before an envelope's ciphertext that the demo skips: version, type, recipient key.
const ENVELOPE_HEADER: usize = 2 + 32;
/// Width of the relay column, so the two sides line up.
const LEFT: usize = 50;
const WAIT: Duration = Duration::from_secs(5);

fn main() {
    transport::run_main("demo", run());
}

/// A temporary directory for the relay's database, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> DemoResult<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("hushwire-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_relay(listen: SocketAddr, db: &Path) -> DemoResult<RelayHandle> {
    let mut config = RelayConfig::new(listen, db.to_path_buf());
    config.log = false;
    Ok(relay::start(config).await?)
}

/// A person in the demo: their device and its connection (none while offline).
struct Person {
    peer: Peer,
    client: Option<RelayClient>,
}

impl Person {
    fn client(&mut self) -> DemoResult<(&mut Peer, &mut RelayClient)> {
        match self.client.as_mut() {
            Some(client) => Ok((&mut self.peer, client)),
            None => Err(format!("{} is offline", self.peer.name).into()),
        }
    }
}

/// Everything the demo tracks: the relay, what was sent (to check the relay never held a
/// plaintext) and the rejection count.
struct Stage {
    relay: RelayHandle,
    stored: Vec<Vec<u8>>,
    plaintexts: Vec<String>,
    rng: ChaCha20Rng,
}

impl Stage {
    /// `from` sends `text` to `to`; prints the relay's row for it.
    async fn send(&mut self, from: &mut Person, to: &str, text: &str) -> DemoResult<u64> {
        let (peer, client) = from.client()?;
        let sent = peer
            .send_text(client, to, text, unix_now(), &mut self.rng)
            .await?;
        self.plaintexts.push(text.to_owned());
        self.show_stored(sent.relay_id, to, &format!("{} sends", from.peer.name))?;
        Ok(sent.relay_id)
    }

    /// Prints the relay's stored copy of envelope `id` (read back from SQLite).
    fn show_stored(&mut self, id: u64, to: &str, note: &str) -> DemoResult<()> {
        let stored = self.relay.stored(1_000)?;
        let envelope = stored
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| format!("the relay has no envelope #{id}"))?;
        self.stored.push(envelope.envelope.clone());
        row(&envelope_line(id, to, &envelope.envelope), note);
        Ok(())
    }

    /// `reader` takes the next delivery and prints what it reads.
    async fn receive(&mut self, reader: &mut Person) -> DemoResult<Incoming> {
        let (peer, client) = reader.client()?;
        let name = peer.name.clone();
        // An envelope read just before the relay restarted can come again if its
        // acknowledgement had not reached the relay's store: it is dropped as a duplicate.
        let incoming = loop {
            let delivery = client
                .next_delivery(WAIT)
                .await?
                .ok_or_else(|| format!("nothing arrived for {name}"))?;
            let incoming = peer.open(&delivery.envelope, unix_now());
            client.ack(delivery.id).await?;
            if !matches!(incoming, Incoming::Duplicate) {
                break incoming;
            }
            row(
                "",
                &format!("{name} drops a message read before (redelivered)"),
            );
        };
        match &incoming {
            Incoming::Text { from, text, .. } => {
                row("", &format!("{name} reads “{text}” (from {from})"));
            }
            Incoming::Business { from, result } => match result {
                Ok(identity) => row("", &format!("{name}'s app: {from} is ✔ {identity}")),
                Err(e) => row("", &format!("{name}'s app: {from} NOT verified: {e}")),
            },
            Incoming::Duplicate => row("", &format!("{name} drops a message read before")),
            Incoming::Rejected(reason) => row("", &format!("{name} rejects: {reason}")),
        }
        Ok(incoming)
    }
}

async fn run() -> DemoResult<()> {
    let started = Instant::now();
    let (mut rng, seed_note) = rng_from_args()?;
    let dir = TempDir::new()?;
    let db = dir.path().to_path_buf();

    println!("hushwire demo: a customer and a bank's support team, end-to-end encrypted");
    println!(
        "wire v{} · X25519 + ML-KEM-768 prekeys signed by Ed25519 · header-encrypted Double \
         Ratchet · sealed sender",
        hushwire::WIRE_VERSION
    );
    println!("peer keys: ChaCha20 {seed_note}");

    // ── Setup ──
    section("setup");
    let relay = start_relay(([127, 0, 0, 1], 0).into(), &db).await?;
    let addr = relay.addr();
    note(&format!(
        "relay (TLS, SQLite) listening on {addr}, data in {}",
        db.display()
    ));

    // The bank: an offline root key certifies an organization key, which certifies the
    // operator's device identity for a few days at a time.
    let t = unix_now();
    let org_root = IssuerKeyPair::generate(&mut rng);
    let org_key = IssuerKeyPair::generate(&mut rng);
    let org_key_cert = ServerCertificate::issue(
        &org_root,
        ORG_ROOT_ID,
        1,
        &org_key.public(),
        Validity::new(
            Timestamp::from_unix_secs(t.as_unix_secs().saturating_sub(3_600)),
            t.plus_secs(365 * 24 * 3_600),
        )?,
    );

    let mut people = Vec::new();
    for name in [CUSTOMER, OPERATOR, SUPERVISOR] {
        let mut peer = Peer::new(name, unix_now(), &mut rng)?;
        let link = peer.link(WAIT, false);
        let mut client = peer.connect(addr, &link, false, unix_now()).await?;
        client.receive().await?;
        let bundles = peer.register(&mut client, unix_now(), &mut rng).await?;
        note(&format!(
            "{name:<10} registers, uploads {bundles} prekey bundles (public keys only), gets a \
             sender certificate"
        ));
        people.push(Person {
            peer,
            client: Some(client),
        });
    }
    let [mut customer, mut dana, mut supervisor]: [Person; 3] =
        people.try_into().map_err(|_| "three people expected")?;

    let dana_certificate = IdentityCertificate::issue(
        &org_key,
        &org_key_cert,
        OperatorInfo {
            serial: 4_471,
            organization: ORGANIZATION.into(),
            operator_name: "Dana Smith".into(),
            role: "Card support".into(),
            identity_key: *dana.peer.account.identity_key(),
            validity: Validity::new(
                Timestamp::from_unix_secs(t.as_unix_secs().saturating_sub(3_600)),
                t.plus_secs(5 * 24 * 3_600),
            )?,
        },
    )?;
    note(&format!(
        "{ORGANIZATION} certifies Dana's device key (certificate #{}, valid 5 days); the",
        dana_certificate.serial()
    ));
    note(&format!(
        "  customer's app pins {ORGANIZATION}'s root key (id {ORG_ROOT_ID})"
    ));
    let mut roots = OrganizationRoots::new();
    roots.pin(ORG_ROOT_ID, org_root.public(), ORGANIZATION)?;
    customer.peer.org_roots = roots;

    let mut stage = Stage {
        relay,
        stored: Vec::new(),
        plaintexts: Vec::new(),
        rng,
    };

    // ── Conversation ──
    section("conversation");
    row(
        "relay stored: recipient, ciphertext, length",
        "who reads what",
    );
    println!("{}┼{}", "─".repeat(LEFT + 1), "─".repeat(56));

    // 1. The customer's first message carries the key agreement, inside a sealed envelope.
    stage
        .send(
            &mut customer,
            OPERATOR,
            "Hi! Order #4471 still hasn't arrived.",
        )
        .await?;
    stage.receive(&mut dana).await?;

    // 2. Dana presents her bank certificate; the customer's app checks it against the pin.
    let (peer, client) = dana.client()?;
    let sent = peer
        .send_identity_certificate(
            client,
            CUSTOMER,
            dana_certificate.as_bytes(),
            unix_now(),
            &mut stage.rng,
        )
        .await?;
    stage.show_stored(sent.relay_id, CUSTOMER, "dana sends her certificate")?;
    match stage.receive(&mut customer).await? {
        Incoming::Business { result: Ok(_), .. } => {}
        _ => return Err("the operator's certificate did not verify".into()),
    }

    // 3. Dana answers; the conversation ratchets with each change of direction.
    stage
        .send(&mut dana, CUSTOMER, "Sorry about that! Let me check.")
        .await?;
    stage.receive(&mut customer).await?;

    // 4. The supervisor is offline: Dana's message waits in the relay's database.
    if let Some(client) = supervisor.client.take() {
        client.close().await;
    }
    aside("the supervisor goes offline");
    stage
        .send(
            &mut dana,
            SUPERVISOR,
            "Order 4471: courier lost it. OK to refund $89?",
        )
        .await?;
    stage
        .send(
            &mut dana,
            CUSTOMER,
            "The courier lost it; I'm asking for a refund.",
        )
        .await?;
    stage.receive(&mut customer).await?;

    // 5. The relay restarts: its process stops, the queue stays in SQLite.
    for person in [&mut customer, &mut dana] {
        if let Some(client) = person.client.take() {
            client.close().await;
        }
    }
    let root_before = stage.relay.root();
    let old = stage.relay;
    old.shutdown().await;
    stage.relay = start_relay(addr, &db).await?;
    if stage.relay.root() != root_before {
        return Err("the relay's keys changed across the restart".into());
    }
    let queued = stage.relay.stored(100)?;
    aside(&format!(
        "the relay restarts: {} envelope still queued in its database:",
        queued.len()
    ));
    for e in &queued {
        let to = stage
            .relay
            .name_of(&e.recipient)
            .unwrap_or_else(|| "?".into());
        row(
            &envelope_line(e.id, &to, &e.envelope),
            "(waiting for its recipient)",
        );
    }
    for person in [&mut customer, &mut dana, &mut supervisor] {
        let link = person.peer.link(WAIT, false);
        let mut client = person.peer.connect(addr, &link, true, unix_now()).await?;
        client.receive().await?;
        person.client = Some(client);
    }
    aside("everyone reconnects; the supervisor gets the message queued while offline");
    stage.receive(&mut supervisor).await?;
    stage
        .send(&mut supervisor, OPERATOR, "Approved. Refund it.")
        .await?;
    stage.receive(&mut dana).await?;

    // 6. A tampered envelope: the relay flips one bit of a message for the customer.
    let id = stage
        .send(&mut dana, CUSTOMER, "Done: $89 refunded to your card.")
        .await?;
    let genuine = stage
        .relay
        .stored(100)?
        .into_iter()
        .find(|e| e.id == id)
        .map(|e| e.envelope)
        .ok_or("the relay lost an envelope")?;
    let (peer, client) = customer.client()?;
    let delivery = loop {
        let delivery = client
            .next_delivery(WAIT)
            .await?
            .ok_or("the refund message did not arrive")?;
        if delivery.envelope == genuine {
            break delivery;
        }
        // A message read before the restart, redelivered (see `Stage::receive`).
        match peer.open(&delivery.envelope, unix_now()) {
            Incoming::Duplicate => row("", "customer drops a message read before (redelivered)"),
            _ => return Err("an unexpected envelope arrived before the refund message".into()),
        }
        client.ack(delivery.id).await?;
    };
    let mut forged = genuine.clone();
    if let Some(byte) = forged.last_mut() {
        *byte ^= 0x01;
    }
    aside(&format!(
        "a compromised relay flips one bit of envelope #{id} before delivering it"
    ));
    let before = peer
        .account
        .to_encrypted(&state_key(), 0, &mut ChaCha20Rng::seed_from_u64(0));
    match sealed::open(
        peer.account.identity_key_pair(),
        &forged,
        &trust_of(peer)?,
        unix_now(),
    ) {
        Ok(_) => return Err("a tampered envelope was accepted".into()),
        Err(e) => row(
            "",
            &format!(
                "customer rejects it: OpenError::{e:?} (kind {:?})",
                e.kind()
            ),
        ),
    }
    let after = peer
        .account
        .to_encrypted(&state_key(), 0, &mut ChaCha20Rng::seed_from_u64(0));
    row(
        "",
        &format!("  ↳ customer's account unchanged: {}", before == after),
    );
    aside("the genuine envelope arrives");
    match peer.open(&delivery.envelope, unix_now()) {
        Incoming::Text { text, .. } => row("", &format!("customer reads “{text}”")),
        _ => return Err("the genuine refund message was not read".into()),
    }
    client.ack(delivery.id).await?;

    // 7. A replay: the same envelope again.
    aside(&format!("the relay replays envelope #{id}"));
    let opened = sealed::open(
        peer.account.identity_key_pair(),
        &genuine,
        &trust_of(peer)?,
        unix_now(),
    )?;
    match opened.decrypt_with_account(&mut peer.account, unix_now()) {
        Ok(_) => return Err("a replayed message was accepted".into()),
        Err(e) => row(
            "",
            &format!(
                "customer rejects it: {} (kind {:?})",
                describe(&e),
                e.kind()
            ),
        ),
    }

    stage
        .send(&mut customer, OPERATOR, "Great, thanks Dana!")
        .await?;
    stage.receive(&mut dana).await?;

    // ── Summary ──
    section("summary");
    let customer_id = UserId::new(CUSTOMER.as_bytes())?;
    let dana_id = UserId::new(OPERATOR.as_bytes())?;
    let on_customer = SafetyNumber::new(
        &customer_id,
        customer.peer.account.identity_key(),
        &dana_id,
        dana.peer.account.identity_key(),
    );
    let on_dana = SafetyNumber::new(
        &dana_id,
        dana.peer.account.identity_key(),
        &customer_id,
        customer.peer.account.identity_key(),
    );
    on_customer.verify_scanned(&on_dana.to_qr_payload())?;
    note(&format!("safety number on both phones: {on_customer}"));
    note("  (the customer's phone scanned Dana's QR code: it matches)");
    let total: usize = stage.stored.iter().map(Vec::len).sum();
    note(&format!(
        "relay stored {} envelopes, {total} bytes; 2 rejected (1 tampered, 1 replayed)",
        stage.stored.len()
    ));
    note(&format!(
        "relay queue now: {} envelopes (each deleted once its recipient acknowledged it)",
        stage.relay.queued()?
    ));
    let leaked = plaintext_visible(&stage.plaintexts, &stage.stored);
    note(&format!(
        "plaintext found anywhere in what the relay stored: {}",
        if leaked { "YES" } else { "none" }
    ));
    if leaked {
        return Err("plaintext visible to the relay".into());
    }
    for person in [customer, dana, supervisor] {
        if let Some(client) = person.client {
            client.close().await;
        }
    }
    stage.relay.shutdown().await;
    note(&format!("done in {:.1?}", started.elapsed()));
    Ok(())
}

fn state_key() -> hushwire::StorageKey {
    hushwire::StorageKey::from_bytes([7; 32])
}

/// The trust store a peer uses to open envelopes (its pinned relay root).
fn trust_of(peer: &Peer) -> DemoResult<hushwire::TrustStore> {
    let root = peer.relay_root.ok_or("not signed in")?;
    let mut trust = hushwire::TrustStore::new();
    trust.add_root(
        transport::relay::RELAY_ROOT_ID,
        hushwire::IssuerKey::from_bytes(&root)?,
    )?;
    Ok(trust)
}

fn describe(error: &hushwire::SealedSessionError) -> String {
    match error {
        hushwire::SealedSessionError::Peer(hushwire::PeerError::Decrypt(e)) => {
            format!("DecryptError::{e:?}")
        }
        other => format!("{other:?}"),
    }
}

/// ChaCha20 seeded from the OS, or from `--seed N` for reproducible peer keys.
fn rng_from_args() -> DemoResult<(ChaCha20Rng, String)> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| format!("OS randomness: {e}"))?;
            Ok((ChaCha20Rng::from_seed(seed), "seeded from the OS".into()))
        }
        (Some("--seed"), Some(n)) => {
            let n: u64 = n.parse()?;
            Ok((ChaCha20Rng::seed_from_u64(n), format!("seeded with {n}")))
        }
        _ => Err("usage: demo [--seed N]".into()),
    }
}

/// Whether any plaintext (or any 8-byte piece of one) appears in the bytes the relay stored.
fn plaintext_visible(plaintexts: &[String], stored: &[Vec<u8>]) -> bool {
    plaintexts.iter().any(|text| {
        text.as_bytes().windows(8).any(|piece| {
            stored
                .iter()
                .any(|envelope| envelope.windows(piece.len()).any(|w| w == piece))
        })
    })
}

fn envelope_line(id: u64, to: &str, envelope: &[u8]) -> String {
    format!("#{id:<2} → {to:<10} {}", sample(envelope))
}

/// The first bytes after the envelope's header (version, type, recipient key) and the length:
/// all the relay keeps besides the recipient.
fn sample(bytes: &[u8]) -> String {
    let body = bytes.get(ENVELOPE_HEADER..).unwrap_or(bytes);
    format!(
        "{}… {:>5} B",
        hex::encode(body.get(..HEX_PREFIX).unwrap_or(body)),
        bytes.len()
    )
}

fn row(left: &str, right: &str) {
    println!("{left:<LEFT$} │ {right}");
}

fn aside(text: &str) {
    println!("   ⋯ {text}");
}

fn note(text: &str) {
    println!("  {text}");
}

fn section(title: &str) {
    println!(
        "\n── {title} {}",
        "─".repeat(104_usize.saturating_sub(title.len()))
    );
}
