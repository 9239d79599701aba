//! A customer and a support operator talk through an in-memory relay.
//!
//! The left column is everything the relay (and the prekey server) ever handles: message kind,
//! the first bytes in hex, and the length. The right column is what each person reads after
//! decrypting. Along the way the relay delivers two messages out of order, flips one bit of a
//! message (rejected with a typed error, the session unchanged), and replays a message
//! (rejected as a duplicate).
//!
//! ```text
//! cargo run --release --example demo            # seeded from the OS
//! cargo run --release --example demo -- --seed 7  # same keys and bytes every run
//! ```
//!
//! All I/O (clock, OS randomness, printing) lives here; the library only sees bytes.

use std::error::Error;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chacha20::ChaCha20Rng;
use hushwire::wire::{MessageKind, message_kind};
use hushwire::{Account, DecryptError, Event, PreKeyBundle, Session, Timestamp};
use rand_core::SeedableRng;

type DemoResult<T> = Result<T, Box<dyn Error>>;

const CUSTOMER: &str = "customer";
const SUPPORT: &str = "support";
/// Bytes of each message shown in hex: enough to see they look random, no more.
const HEX_PREFIX: usize = 8;
/// Width of the relay column, so the two sides line up.
const LEFT: usize = 56;

fn main() -> DemoResult<()> {
    let started = Instant::now();
    let (mut rng, seed_note) = rng_from_args()?;
    let now = Timestamp::from_unix_secs(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs());

    println!("hushwire demo: a customer and a support operator, end-to-end encrypted");
    println!(
        "wire v{} · X25519 + ML-KEM-768 prekeys signed by Ed25519 · header-encrypted Double Ratchet",
        hushwire::WIRE_VERSION
    );
    println!("rng: ChaCha20 {seed_note}");

    // ── Setup: the operator publishes prekeys, the server hands the customer one bundle. ──
    section("setup");
    let mut support_account = Account::new(now, &mut rng);
    support_account.generate_one_time_prekeys(20, 20, now, &mut rng)?;
    let mut server = support_account.published_prekeys();
    note(&format!(
        "support uploads identity key {}…, signed prekey #{},",
        short_hex(support_account.identity_key().as_bytes()),
        server.signed_prekey.id,
    ));
    note(&format!(
        "  {} one-time X25519 and {} one-time ML-KEM prekeys to the server",
        server.one_time_prekeys.len(),
        server.one_time_kem_prekeys.len(),
    ));

    let customer_account = Account::new(now, &mut rng);
    let bundle_bytes = server.take_bundle().to_bytes();
    row(
        &format!("server → {CUSTOMER}  bundle  {}", sample(&bundle_bytes)),
        "(public keys only: nothing secret leaves a device)",
    );
    let bundle = PreKeyBundle::from_bytes(&bundle_bytes)?;
    bundle.verify()?;
    let mut customer = customer_account.create_outbound_session(&bundle, &mut rng)?;
    note("customer checks both prekey signatures and starts a session on");
    note(&format!(
        "  signed prekey #{}, one-time prekey #{} and ML-KEM prekey #{}",
        bundle.signed_prekey.id,
        bundle.one_time_prekey.map_or(0, |k| k.id),
        bundle.kem_prekey.id,
    ));

    let mut relay = Relay::default();

    // ── Conversation ──
    section("conversation");
    row("relay sees (ciphertext only)", "who reads what");
    println!("{}┼{}", "─".repeat(LEFT + 1), "─".repeat(52));

    // 1. The first message carries the key agreement: the operator builds a session from it.
    let first = relay.send(
        &mut customer,
        CUSTOMER,
        SUPPORT,
        "Hi! Order #4471 still hasn't arrived.",
        &mut rng,
    )?;
    let inbound = support_account.create_inbound_session(&first.bytes, now)?;
    relay.show(&first, SUPPORT, &inbound.plaintext);
    events(&inbound.events);
    let mut support = inbound.session;

    // 2. Until the operator replies, the customer keeps sending prekey messages.
    let m = relay.send(
        &mut customer,
        CUSTOMER,
        SUPPORT,
        "It was due last Tuesday.",
        &mut rng,
    )?;
    relay.deliver(&m, &mut support, SUPPORT)?;
    aside("prekey messages start with the customer's public identity key, so the relay can");
    aside("link them; wrap messages in sealed envelopes (hushwire::sealed) to hide the sender");

    // 3. The first reply completes the handshake for the customer.
    let m = relay.send(
        &mut support,
        SUPPORT,
        CUSTOMER,
        "Sorry about that! Let me check.",
        &mut rng,
    )?;
    relay.deliver(&m, &mut customer, CUSTOMER)?;

    // 4. Out-of-order delivery: the relay holds back one message and delivers the next first.
    let delayed = relay.send(
        &mut support,
        SUPPORT,
        CUSTOMER,
        "It's sitting at your local depot.",
        &mut rng,
    )?;
    let overtaking = relay.send(
        &mut support,
        SUPPORT,
        CUSTOMER,
        "Courier delivers tomorrow by noon.",
        &mut rng,
    )?;
    aside(&format!(
        "the relay holds message {} back and delivers {} first",
        delayed.number, overtaking.number
    ));
    relay.deliver(&overtaking, &mut customer, CUSTOMER)?;
    aside(&format!(
        "customer keeps {} key for the missing message",
        customer.stored_skipped_keys()
    ));
    relay.deliver(&delayed, &mut customer, CUSTOMER)?;

    // 5. A tampered message: one flipped bit is rejected and changes nothing.
    let genuine = relay.send(
        &mut customer,
        CUSTOMER,
        SUPPORT,
        "Great, I'll be home. Thanks!",
        &mut rng,
    )?;
    let mut forged = genuine.clone();
    if let Some(byte) = forged.bytes.last_mut() {
        *byte ^= 0x01;
    }
    aside(&format!(
        "an attacker on the relay flips one bit (in the body's tag) of message {}",
        genuine.number
    ));
    relay.deliver_expecting_rejection(&forged, &mut support, SUPPORT)?;
    aside("the untouched original arrives afterwards");
    relay.deliver(&genuine, &mut support, SUPPORT)?;

    // 6. A replay: the relay re-sends a message the operator already read.
    aside(&format!(
        "the relay replays message {} a second time",
        genuine.number
    ));
    relay.deliver_expecting_rejection(&genuine, &mut support, SUPPORT)?;

    // 7. The conversation goes on, ratcheting with every change of direction.
    let m = relay.send(
        &mut support,
        SUPPORT,
        CUSTOMER,
        "Anything else I can help with?",
        &mut rng,
    )?;
    relay.deliver(&m, &mut customer, CUSTOMER)?;
    let m = relay.send(
        &mut customer,
        CUSTOMER,
        SUPPORT,
        "No, that's all. Have a nice day!",
        &mut rng,
    )?;
    relay.deliver(&m, &mut support, SUPPORT)?;

    // ── Summary ──
    section("summary");
    if customer.session_id() != support.session_id() {
        return Err("the two sides disagree on the session id".into());
    }
    note(&format!(
        "both sides hold session {}… ({:?} and {:?})",
        short_hex(customer.session_id().as_bytes()),
        customer.role(),
        support.role(),
    ));
    note(&format!(
        "relay carried {} messages, {} bytes; rejected {} (1 tampered, 1 replayed)",
        relay.sent,
        relay.traffic.iter().map(Vec::len).sum::<usize>(),
        relay.rejected,
    ));
    let leaked = relay.plaintext_visible_in_traffic();
    note(&format!(
        "plaintext found anywhere in relay traffic: {}",
        if leaked { "YES" } else { "none" }
    ));
    if leaked {
        return Err("plaintext visible to the relay".into());
    }
    note(&format!("done in {:.1?}", started.elapsed()));
    Ok(())
}

/// ChaCha20 seeded from the OS, or from `--seed N` for a reproducible run.
fn rng_from_args() -> DemoResult<(ChaCha20Rng, String)> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed)?;
            Ok((ChaCha20Rng::from_seed(seed), "seeded from the OS".into()))
        }
        (Some("--seed"), Some(n)) => {
            let n: u64 = n.parse()?;
            Ok((ChaCha20Rng::seed_from_u64(n), format!("seeded with {n}")))
        }
        _ => Err("usage: demo [--seed N]".into()),
    }
}

/// One message as the relay holds it.
#[derive(Clone)]
struct Envelope {
    number: usize,
    from: &'static str,
    to: &'static str,
    bytes: Vec<u8>,
}

/// The in-memory relay: it moves bytes, and remembers them so we can check what it saw.
#[derive(Default)]
struct Relay {
    sent: usize,
    rejected: usize,
    traffic: Vec<Vec<u8>>,
    plaintexts: Vec<Vec<u8>>,
}

impl Relay {
    /// `sender` encrypts `text`; the relay takes the bytes.
    fn send(
        &mut self,
        sender: &mut Session,
        from: &'static str,
        to: &'static str,
        text: &str,
        rng: &mut ChaCha20Rng,
    ) -> DemoResult<Envelope> {
        let bytes = sender.encrypt(text.as_bytes(), rng)?;
        self.sent += 1;
        self.traffic.push(bytes.clone());
        self.plaintexts.push(text.as_bytes().to_vec());
        Ok(Envelope {
            number: self.sent,
            from,
            to,
            bytes,
        })
    }

    /// Delivers `envelope` to `reader`, who must be able to read it.
    fn deliver(&mut self, envelope: &Envelope, reader: &mut Session, name: &str) -> DemoResult<()> {
        let read = reader.decrypt(&envelope.bytes)?;
        self.show(envelope, name, &read.plaintext);
        events(&read.events);
        Ok(())
    }

    /// Delivers `envelope` to `reader`, who must reject it and keep its session as it was.
    fn deliver_expecting_rejection(
        &mut self,
        envelope: &Envelope,
        reader: &mut Session,
        name: &str,
    ) -> DemoResult<()> {
        let before = reader.clone();
        match reader.decrypt(&envelope.bytes) {
            Ok(_) => Err(format!("{name} accepted message {}", envelope.number).into()),
            Err(error) => {
                self.rejected += 1;
                row(
                    &envelope_line(envelope),
                    &format!("{name} rejects it: {}", describe(&error)),
                );
                let unchanged = *reader == before;
                row(
                    "",
                    &format!(
                        "  ↳ kind {:?}; session unchanged: {unchanged}",
                        error.kind()
                    ),
                );
                if unchanged {
                    Ok(())
                } else {
                    Err("a rejected message changed the session".into())
                }
            }
        }
    }

    fn show(&self, envelope: &Envelope, reader: &str, plaintext: &[u8]) {
        row(
            &envelope_line(envelope),
            &format!("{reader} reads “{}”", String::from_utf8_lossy(plaintext)),
        );
    }

    /// Whether any plaintext (or any 8-byte piece of one) appears in the bytes relayed.
    fn plaintext_visible_in_traffic(&self) -> bool {
        self.plaintexts.iter().any(|text| {
            text.windows(8).any(|piece| {
                self.traffic
                    .iter()
                    .any(|message| message.windows(piece.len()).any(|w| w == piece))
            })
        })
    }
}

fn describe(error: &DecryptError) -> String {
    format!("DecryptError::{error:?}")
}

fn envelope_line(envelope: &Envelope) -> String {
    let kind = match message_kind(&envelope.bytes) {
        Ok(MessageKind::PreKey) => "PreKey",
        Ok(MessageKind::Ratchet) => "Ratchet",
        Ok(_) => "other",
        Err(_) => "invalid",
    };
    format!(
        "{:>2} {:>8} → {:<8} {kind:<7} {}",
        envelope.number,
        envelope.from,
        envelope.to,
        sample(&envelope.bytes)
    )
}

/// A short hex prefix and the length: all a relay needs to see of a message.
fn sample(bytes: &[u8]) -> String {
    format!("{}… {:>5} B", short_hex(bytes), bytes.len())
}

fn short_hex(bytes: &[u8]) -> String {
    hex::encode(bytes.get(..HEX_PREFIX).unwrap_or(bytes))
}

/// Security events, as an app would log them (ids and counts, never key material).
fn events(events: &[Event]) {
    if events.is_empty() {
        return;
    }
    let list: Vec<String> = events
        .iter()
        .map(|event| match event {
            Event::OneTimePreKeyConsumed { id } => format!("OneTimePreKeyConsumed #{id}"),
            Event::KemPreKeyConsumed { id } => format!("KemPreKeyConsumed #{id}"),
            other => format!("{other:?}"),
        })
        .collect();
    row("", &format!("  ↳ events: {}", list.join(", ")));
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
        "─".repeat(96_usize.saturating_sub(title.len()))
    );
}
