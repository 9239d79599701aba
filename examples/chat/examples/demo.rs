//! A customer, a bank's support operator and her supervisor talk through a real relay.
//!
//! The demo starts the example relay (`src/relay.rs`: TLS on a free loopback
//! port, SQLite in a temporary directory) inside this process and runs three peers against
//! it. The left column is what the relay stored, read back from its database (who receives,
//! the envelope's kind, the first bytes in hex, the length: sealed envelopes hide the sender
//! and the message kind). Every peer turns hybrid sealed envelopes on and publishes its
//! envelope KEM key, so the relay sees `hybrid` envelopes (X25519 + ML-KEM-768, 1,092 bytes
//! more than `classical` ones): the sender stays hidden from a future quantum adversary too.
//! The right column is what each person reads after decrypting. Along the way:
//!
//! - the operator presents a certificate from her bank, and the customer's app, which pins
//!   the bank's root key, shows "verified as Acme Bank, Dana Smith, Card support";
//! - a message waits in the relay for a supervisor who is offline, the relay restarts, and
//!   the message is still delivered;
//! - a tampered envelope and a replayed one are rejected with typed errors, changing nothing;
//! - the customer types a card number: their app masks it before encrypting, so Dana reads
//!   `•••• •••• •••• 4242`, while the number itself goes sealed to the bank's payment vault
//!   (a separate identity), which checks Dana's copy against it; the relay sees ciphertext;
//! - Dana sends an invoice PDF: encrypted on her device, uploaded to the relay's blob store,
//!   its key sent end-to-end. The relay's blob is ciphertext; one flipped bit in a chunk makes
//!   the customer's app refuse the file.
//! - Dana and the supervisor share a group, "card-support" (sender keys, each group message
//!   sealed to each member). The supervisor backs up his keys to the relay under a recovery
//!   key, loses his laptop, and restores on a new one: Dana's next group message decrypts at
//!   once, his 1:1 session with Dana restarts through a reset request, and Dana is still
//!   verified on his screen.
//!
//! ```text
//! cargo run --release --example demo              # seeded from the OS
//! cargo run --release --example demo -- --seed 7  # same peer keys every run
//! ```
//!
//! All I/O (sockets, SQLite, clock, OS randomness, printing) lives in the examples; the library
//! only sees bytes.

use hushwire_examples as transport;

#[path = "demo/multi_device.rs"]
mod multi_device;
#[path = "demo/widget_story.rs"]
mod widget_story;

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chacha20::ChaCha20Rng;
use hushwire::attachment::AttachmentError;
use hushwire::backup::{self, BackupOptions, BackupWriter, RecoveryKey};
use hushwire::certificate::ServerCertificate;
use hushwire::mask::Masker;
use hushwire::sealed;
use hushwire::verify::OperatorInfo;
use hushwire::{
    IdentityCertificate, IssuerKeyPair, OrganizationRoots, SafetyNumber, Timestamp, UserId,
    Validity, VerificationState,
};
use rand_core::SeedableRng;

use transport::chat::{Incoming, Peer, kind_name};
use transport::client::RelayClient;
use transport::relay::{self, RelayConfig, RelayHandle};
use transport::unix_now;

type DemoResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const CUSTOMER: &str = "customer";
const OPERATOR: &str = "dana";
const SUPERVISOR: &str = "supervisor";
/// The bank's payment vault: a separate identity that receives card numbers sealed to it.
const VAULT: &str = "vault";
/// The support team's group: Dana and the supervisor.
const GROUP: &str = "card-support";
/// What the customer types: the published test card number of the card networks.
const CARD_MESSAGE: &str = "Please charge the re-delivery fee to my card 4242 4242 4242 4242.";
/// The invoice Dana sends: about the size of a one-page PDF invoice.
const INVOICE_LEN: usize = 180_000;
const INVOICE_NAME: &str = "invoice-4471.pdf";
/// The chunk of the invoice's object the compromised relay flips a bit in.
const TAMPERED_CHUNK: u64 = 1;
const ORGANIZATION: &str = "Acme Bank";
const ORG_ROOT_ID: u32 = 100;
/// Bytes of each envelope shown in hex: enough to see they look random, no more.
const HEX_PREFIX: usize = 5;
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

    /// `from` sends `text` to the group: encrypted once, sealed to each member.
    async fn send_group(&mut self, from: &mut Person, text: &str) -> DemoResult<()> {
        let (peer, client) = from.client()?;
        let sent = peer
            .send_group_text(client, GROUP, text, unix_now(), &mut self.rng)
            .await?;
        let name = peer.name.clone();
        self.plaintexts.push(text.to_owned());
        for s in sent {
            let to = self.relay.name_of(&s.to.to_bytes()).unwrap_or_default();
            self.show_stored(s.relay_id, &to, &format!("{name} sends to {GROUP}"))?;
        }
        Ok(())
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
            Incoming::File { from, pointer, .. } => row(
                "",
                &format!(
                    "{name}'s app: {from} sends {} ({} B, {})",
                    pointer.file_name(),
                    pointer.plaintext_len(),
                    pointer.content_type()
                ),
            ),
            Incoming::MaskedField { from, field, .. } => row(
                "",
                &format!(
                    "{name}'s app: secure field from {from}: {} {}",
                    kind_name(field.kind()),
                    field.masked()
                ),
            ),
            Incoming::Vaulted { from, result } => match result {
                Ok(value) => row(
                    "",
                    &format!(
                        "{name} reads the {} {} (from {from})",
                        kind_name(value.kind()),
                        value.dangerous_value()
                    ),
                ),
                Err(e) => row("", &format!("{name} rejects a secure field: {e}")),
            },
            Incoming::GroupJoined { group, from, .. } => {
                row(
                    "",
                    &format!("{name} joins the group {group} (invited by {from})"),
                );
            }
            Incoming::GroupKey { group, from } => {
                row("", &format!("{name} gets {from}'s sender key for {group}"));
            }
            Incoming::GroupText {
                group, from, text, ..
            } => row(
                "",
                &format!("{name} reads in {group}: “{text}” (from {from})"),
            ),
            Incoming::ResetRequested { from, .. } => row(
                "",
                &format!("{name}'s app: {from} lost its session and asks for a fresh one"),
            ),
            Incoming::Link { .. } => row("", &format!("{name} gets a device-link message")),
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
    for name in [CUSTOMER, OPERATOR, SUPERVISOR, VAULT] {
        let mut peer = Peer::new(name, unix_now(), &mut rng)?;
        let link = peer.link(WAIT, false);
        let mut client = peer.connect(addr, &link, false, unix_now()).await?;
        client.receive().await?;
        let bundles = peer.register(&mut client, unix_now(), &mut rng).await?;
        note(&format!(
            "{name:<10} registers, uploads {bundles} prekey bundles and an envelope KEM key \
             (public keys only), gets a sender certificate"
        ));
        people.push(Person {
            peer,
            client: Some(client),
        });
    }
    let [mut customer, mut dana, mut supervisor, mut vault]: [Person; 4] =
        people.try_into().map_err(|_| "four identities expected")?;

    let dana_certificate = IdentityCertificate::issue(
        &org_key,
        &org_key_cert,
        OperatorInfo {
            serial: 4_471,
            organization: ORGANIZATION.into(),
            operator_name: "Dana Smith".into(),
            role: "Card support".into(),
            identity_key: *dana.peer.device.identity_key(),
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
        "relay stored: recipient, kind, ciphertext, length",
        "who reads what",
    );
    println!("{}┼{}", "─".repeat(LEFT + 1), "─".repeat(56));
    aside(
        "hybrid = X25519 + ML-KEM-768 sealed envelope (+1,092 B): sealed to the recipient's \
         published envelope key",
    );

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
    for person in [&mut customer, &mut dana, &mut vault] {
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
    for person in [&mut customer, &mut dana, &mut supervisor, &mut vault] {
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
    team_group(&mut stage, &mut dana, &mut supervisor).await?;

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
        .device
        .to_encrypted(&state_key(), 0, &mut ChaCha20Rng::seed_from_u64(0));
    match sealed::open(
        peer.device.account().identity_key_pair(),
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
        .device
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
    let opened = peer
        .device
        .open_sealed(&genuine, &trust_of(peer)?, unix_now())?;
    match peer.device.decrypt_sealed(&opened, unix_now()) {
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

    // 8. The customer types a card number: masked on their device before encryption, the
    //    number itself sealed to the bank's vault.
    card_number(&mut stage, &mut customer, &mut dana, &mut vault).await?;

    // 9. Dana sends the invoice as an encrypted file through the relay's blob store.
    let invoice_blob = invoice(&mut stage, &mut dana, &mut customer).await?;

    stage
        .send(&mut customer, OPERATOR, "Great, thanks Dana!")
        .await?;
    stage.receive(&mut dana).await?;
    multi_device::chapter(&mut stage, &mut customer, &mut dana, addr).await?;

    // 10. The supervisor backs up, loses his laptop, and restores from the relay's copy.
    let restore_time = backup_and_restore(&mut stage, &mut dana, &mut supervisor, addr).await?;

    // ── Summary ──
    section("summary");
    let customer_id = UserId::new(CUSTOMER.as_bytes())?;
    let dana_id = UserId::new(OPERATOR.as_bytes())?;
    let on_customer = SafetyNumber::new(
        &customer_id,
        customer.peer.device.identity_key(),
        &dana_id,
        dana.peer.device.identity_key(),
    );
    let on_dana = SafetyNumber::new(
        &dana_id,
        dana.peer.device.identity_key(),
        &customer_id,
        customer.peer.device.identity_key(),
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
    let blob = stage.relay.blob(&invoice_blob)?.unwrap_or_default();
    note(&format!(
        "relay blob store: {} blob(s); the invoice is {} bytes of ciphertext, expires in 7 days",
        stage.relay.blob_count()?,
        blob.len()
    ));
    widget_story::run(&mut stage.rng, unix_now())?;
    for person in [customer, dana, supervisor, vault] {
        if let Some(client) = person.client {
            client.close().await;
        }
    }
    stage.relay.shutdown().await;
    note(&format!(
        "done in {:.1?} (the supervisor's restore: {restore_time:.1?})",
        started.elapsed()
    ));
    Ok(())
}

/// Dana creates the team's group with the supervisor; each hands the other its sender key
/// over their 1:1 session; one group message each way. The supervisor, who met Dana at the
/// office, marks her verified.
async fn team_group(
    stage: &mut Stage,
    dana: &mut Person,
    supervisor: &mut Person,
) -> DemoResult<()> {
    let dana_key = *dana.peer.device.identity_key();
    supervisor.peer.device.mark_verified(
        &UserId::new(OPERATOR.as_bytes())?,
        &dana_key,
        unix_now(),
    )?;
    aside("the supervisor compared safety numbers with Dana at the office: Dana ✔ verified");
    aside(&format!(
        "Dana creates the group {GROUP} with the supervisor"
    ));
    let (peer, client) = dana.client()?;
    let sent = peer
        .create_group(client, GROUP, &[SUPERVISOR], unix_now(), &mut stage.rng)
        .await?;
    for (s, what) in sent
        .iter()
        .zip(["the invitation (signed roster)", "Dana's sender key"])
    {
        stage.show_stored(s.relay_id, SUPERVISOR, what)?;
    }
    stage.receive(supervisor).await?;
    stage.receive(supervisor).await?;
    let (peer, client) = supervisor.client()?;
    let keys = peer
        .send_group_keys(client, unix_now(), &mut stage.rng)
        .await?;
    let [key] = keys.as_slice() else {
        return Err("the supervisor should owe Dana one sender key".into());
    };
    stage.show_stored(key.relay_id, OPERATOR, "the supervisor's sender key")?;
    stage.receive(dana).await?;
    stage
        .send_group(dana, "Team: order 4471 refunded, courier claim filed.")
        .await?;
    match stage.receive(supervisor).await? {
        Incoming::GroupText { .. } => {}
        _ => return Err("the supervisor did not read the group message".into()),
    }
    stage.send_group(supervisor, "Noted, thanks.").await?;
    match stage.receive(dana).await? {
        Incoming::GroupText { .. } => Ok(()),
        _ => Err("Dana did not read the supervisor's group message".into()),
    }
}

/// The supervisor backs up to the relay, loses his laptop and restores on a new one. Returns
/// how long the restore took (take the name over, download, check and open the backup).
async fn backup_and_restore(
    stage: &mut Stage,
    dana: &mut Person,
    supervisor: &mut Person,
    addr: SocketAddr,
) -> DemoResult<Duration> {
    section("key backup and restore");
    // Once: the recovery key, shown to the supervisor to write down, and the backup writer
    // his app keeps (it appends without the recovery key and reads nothing).
    let key = RecoveryKey::generate(&mut stage.rng);
    let (mut writer, _manifest) = BackupWriter::create(&key, None, unix_now(), &mut stage.rng);
    let appended = supervisor.peer.append_backup(
        &mut writer,
        &BackupOptions::default(),
        unix_now(),
        &mut stage.rng,
    )?;
    let stored = backup::encode_backup(None, &appended.manifest, &appended.entries)?;
    let (_, client) = supervisor.client()?;
    client.put_backup(stored.clone()).await?;
    let on_relay = stage
        .relay
        .backup_of(SUPERVISOR)?
        .ok_or("the relay holds no backup")?;
    row("relay stored: name, ciphertext, length", "who sees what");
    println!("{}┼{}", "─".repeat(LEFT + 1), "─".repeat(56));
    row(
        &format!(
            "backup of {SUPERVISOR:<10} {}… {:>5} B",
            hex::encode(
                on_relay
                    .get(on_relay.len().saturating_sub(HEX_PREFIX)..)
                    .unwrap_or_default()
            ),
            on_relay.len()
        ),
        &format!(
            "supervisor's app backs up {} entries: contacts, {GROUP}",
            appended.entries.len()
        ),
    );
    row(
        "",
        "  (never 1:1 sessions; the identity key only if he opts in)",
    );
    let shown = key.to_display();
    row("", "supervisor's app, once: “write down your recovery key”");
    row("", &format!("  {}", shown.as_str()));
    let backed_up_texts = stage.plaintexts.clone();
    if plaintext_visible(&backed_up_texts, std::slice::from_ref(&on_relay)) {
        return Err("plaintext visible in the backup".into());
    }

    let old_key = *supervisor.peer.device.identity_key();
    aside("the supervisor's laptop is lost: his device state is gone");
    if let Some(client) = supervisor.client.take() {
        client.close().await;
    }

    // A new laptop: a new device takes the name over, downloads the backup, and opens it
    // with the recovery key he typed.
    let started = Instant::now();
    let mut fresh = Peer::new(SUPERVISOR, unix_now(), &mut stage.rng)?;
    let link = fresh.link(WAIT, false);
    let mut client = fresh.connect(addr, &link, false, unix_now()).await?;
    fresh.register_name(&mut client, true).await?;
    let downloaded = client.get_backup().await?;
    let typed = RecoveryKey::from_display(&shown)?;
    let restored = backup::restore(&typed, &downloaded, 0)?;
    let report = fresh.apply_backup(restored, unix_now(), &mut stage.rng)?;
    fresh
        .publish_prekeys(&mut client, unix_now(), &mut stage.rng)
        .await?;
    fresh.refresh_certificate(&mut client, unix_now()).await?;
    client.receive().await?;
    let restore_time = started.elapsed();
    *supervisor = Person {
        peer: fresh,
        client: Some(client),
    };
    row(
        &format!("name {SUPERVISOR:<10} → the new laptop's key"),
        &format!(
            "new laptop: takes the name over, downloads {} B, restores ({restore_time:.1?})",
            downloaded.len()
        ),
    );
    row(
        "",
        &format!(
            "  ↳ groups back: {}; 1:1 sessions to restart: {}",
            report.groups.join(", "),
            report
                .restart
                .iter()
                .map(|p| p.name.clone().unwrap_or_else(|| "?".into()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let dana_user = UserId::new(OPERATOR.as_bytes())?;
    let verified = matches!(
        supervisor.peer.device.verification_state(&dana_user),
        Some(VerificationState::Verified { .. })
    );
    row(
        "",
        &format!(
            "  ↳ Dana on the new laptop: {}",
            if verified {
                "✔ verified (from the backup)"
            } else {
                "NOT verified"
            }
        ),
    );
    if !verified {
        return Err("Dana's verification was not restored".into());
    }

    // Dana's next group message decrypts at once on the new laptop.
    stage
        .send_group(dana, "Welcome back! Order 4472 needs a look too.")
        .await?;
    match stage.receive(supervisor).await? {
        Incoming::GroupText { .. } => {}
        _ => return Err("the restored laptop did not read Dana's group message".into()),
    }
    row(
        "",
        "  ↳ at once, with the restored sender key: no new key exchange",
    );

    // The 1:1 session restarts: the new laptop asks Dana for a fresh one.
    for restart in &report.restart {
        let (peer, client) = supervisor.client()?;
        let sent = peer
            .request_reset(client, &restart.identity, unix_now(), &mut stage.rng)
            .await?;
        let to = restart.name.clone().unwrap_or_default();
        stage.show_stored(sent.relay_id, &to, "supervisor asks for a fresh session")?;
    }
    let (identity, request) = match stage.receive(dana).await? {
        Incoming::ResetRequested {
            identity, request, ..
        } => (identity, request),
        _ => return Err("Dana did not get the reset request".into()),
    };
    let (peer, client) = dana.client()?;
    peer.answer_reset(client, &identity, &request, unix_now(), &mut stage.rng)
        .await?;
    row("", "Dana's app starts a fresh session with the new laptop");
    stage
        .send(dana, SUPERVISOR, "Your new laptop works: session reset.")
        .await?;
    match stage.receive(supervisor).await? {
        Incoming::Text { .. } => {}
        _ => return Err("the restored laptop did not read Dana's 1:1 message".into()),
    }
    stage
        .send(supervisor, OPERATOR, "Great, I'm back on the 4472 case.")
        .await?;
    match stage.receive(dana).await? {
        Incoming::Text { .. } => {}
        _ => return Err("Dana did not read the restored laptop's 1:1 message".into()),
    }
    row("", "  ↳ the 1:1 session with Dana restarted cleanly");
    let new_key = *supervisor.peer.device.identity_key();
    if dana.peer.known_identity(SUPERVISOR) != Some(new_key) || new_key == old_key {
        return Err("Dana's app did not record the new laptop's key".into());
    }
    row(
        "",
        &format!(
            "  ↳ Dana's app: the supervisor's key changed ({}… → {}…): compare safety numbers",
            hex::encode(old_key.to_bytes().get(..4).unwrap_or_default()),
            hex::encode(new_key.to_bytes().get(..4).unwrap_or_default())
        ),
    );
    Ok(restore_time)
}

/// The customer types a card number; Dana reads it masked, the vault reads it, the relay
/// stores ciphertext.
async fn card_number(
    stage: &mut Stage,
    customer: &mut Person,
    dana: &mut Person,
    vault: &mut Person,
) -> DemoResult<()> {
    aside(&format!("the customer types: “{CARD_MESSAGE}”"));
    let (peer, client) = customer.client()?;
    let done = peer
        .send_masked(
            client,
            OPERATOR,
            CARD_MESSAGE,
            &Masker::new(),
            Some(VAULT),
            &mut stage.rng,
        )
        .await?;
    stage.plaintexts.push(CARD_MESSAGE.to_owned());
    for span in done.masked.spans() {
        row(
            "",
            &format!(
                "customer's app masks the {} before encrypting: {}",
                kind_name(span.kind()),
                done.masked.masked_form(span)
            ),
        );
    }
    for (_, relay_id) in &done.vaulted {
        stage.show_stored(
            *relay_id,
            VAULT,
            "the number, sealed to the vault (SecureField: classical)",
        )?;
    }
    stage.show_stored(done.sent.relay_id, OPERATOR, "the masked text")?;
    for sent in &done.fields_sent {
        stage.show_stored(sent.relay_id, OPERATOR, "the masked copy and a reference")?;
    }
    stage.receive(dana).await?;
    let copy = match stage.receive(dana).await? {
        Incoming::MaskedField { field, .. } => field,
        _ => return Err("Dana did not get the secure field".into()),
    };
    let vaulted = match stage.receive(vault).await? {
        Incoming::Vaulted { result, .. } => result?,
        _ => return Err("the vault did not get the card number".into()),
    };
    vaulted.verify(&copy)?;
    row(
        "",
        "Dana hands her copy (reference) to the vault: it matches",
    );
    row(
        "",
        "  ↳ the vault charges the card; Dana never held the number",
    );
    Ok(())
}

/// Dana sends an invoice as an encrypted file; a compromised relay flips a bit in one chunk
/// and the customer's app refuses it; with the relay's copy intact, the file arrives whole.
/// Returns the blob id.
async fn invoice(
    stage: &mut Stage,
    dana: &mut Person,
    customer: &mut Person,
) -> DemoResult<transport::client::BlobId> {
    let invoice = invoice_pdf();
    let (peer, client) = dana.client()?;
    let started = Instant::now();
    let sent = peer
        .send_file(
            client,
            CUSTOMER,
            &mut invoice.as_slice(),
            u64::try_from(invoice.len())?,
            INVOICE_NAME,
            &mut |_, _| {},
            &mut stage.rng,
        )
        .await?;
    let stored = stage
        .relay
        .blob(&sent.blob)?
        .ok_or("the relay has no blob for the invoice")?;
    aside(&format!(
        "Dana sends {INVOICE_NAME} ({} B): encrypted on her device in 64 KiB chunks, uploaded in \
         {:.0?}",
        invoice.len(),
        started.elapsed()
    ));
    row(
        &format!(
            "blob {}…  {}… {:>6} B",
            hex::encode(sent.blob.get(..4).unwrap_or_default()),
            hex::encode(
                stored
                    .get(hushwire::attachment::ATTACHMENT_HEADER_LEN..)
                    .and_then(|b| b.get(..HEX_PREFIX))
                    .unwrap_or_default()
            ),
            stored.len()
        ),
        "the relay's blob: ciphertext, padded to its size bucket",
    );
    stage.show_stored(sent.sent.relay_id, CUSTOMER, "the file's key and pointer")?;
    let readable = [b"%PDF".as_slice(), b"INVOICE", b"Total due"]
        .iter()
        .any(|needle| stored.windows(needle.len()).any(|w| w == *needle));
    row(
        "",
        &format!(
            "  ↳ plaintext in the relay's blob: {}",
            if readable { "YES" } else { "none" }
        ),
    );
    if readable {
        return Err("the relay can read the invoice".into());
    }
    let (blob, pointer) = match stage.receive(customer).await? {
        Incoming::File { blob, pointer, .. } => (blob, pointer),
        _ => return Err("the invoice did not arrive".into()),
    };

    // The relay flips one bit in a chunk of the stored object.
    let at = pointer.chunk_range(TAMPERED_CHUNK)?.start + 100;
    if !stage.relay.dangerous_flip_blob_bit(&blob, at)? {
        return Err("the blob is shorter than the demo expects".into());
    }
    aside(&format!(
        "a compromised relay flips one bit in chunk {TAMPERED_CHUNK} of the blob"
    ));
    let (peer, client) = customer.client()?;
    let mut file = Vec::new();
    match peer
        .fetch_file(client, blob, &pointer, &mut file, &mut |_, _| {})
        .await
    {
        Ok(_) => return Err("a tampered file was accepted".into()),
        Err(e) => match e.downcast_ref::<AttachmentError>() {
            Some(e) => row(
                "",
                &format!(
                    "customer's app refuses the file: AttachmentError::{e:?} (kind {:?})",
                    e.kind()
                ),
            ),
            None => return Err(e),
        },
    }
    row(
        "",
        &if file.is_empty() {
            "  ↳ no byte of the file released (a range is all or nothing)".to_owned()
        } else {
            format!(
                "  ↳ {} B released from verified chunks before it; the app deletes them",
                file.len()
            )
        },
    );
    stage.relay.dangerous_flip_blob_bit(&blob, at)?;
    aside("the relay's copy is intact again; the customer's app fetches it once more");
    let mut file = Vec::new();
    let started = Instant::now();
    peer.fetch_file(client, blob, &pointer, &mut file, &mut |_, _| {})
        .await?;
    if file != invoice {
        return Err("the invoice arrived changed".into());
    }
    row(
        "",
        &format!(
            "customer saves {}: {} B, every chunk verified, identical ({:.0?})",
            pointer.file_name(),
            file.len(),
            started.elapsed()
        ),
    );
    Ok(sent.blob)
}

/// A PDF-shaped invoice of [`INVOICE_LEN`] bytes.
fn invoice_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    let mut line = 0u32;
    while pdf.len() < INVOICE_LEN {
        line += 1;
        pdf.extend_from_slice(
            format!(
                "BT /F1 10 Tf 72 {} Td (INVOICE 4471 line {line}: courier re-delivery, Total due \
                 EUR 12.00) Tj ET\n",
                800 - line % 700
            )
            .as_bytes(),
        );
    }
    pdf.truncate(INVOICE_LEN);
    pdf
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
    let kind = transport::chat::envelope_kind(envelope);
    format!("#{id:<2} → {to:<10} {kind:<9} {}", sample(envelope))
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
