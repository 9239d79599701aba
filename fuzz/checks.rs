//! The checks behind the fuzz targets, shared with `tests/attacks/fuzz_corpus.rs` so that `cargo test`
//! replays the corpora and saved crashes on stable Rust without libFuzzer.
//!
//! Included with `#[path]` by `fuzz/fuzz_targets/*.rs` and by `tests/attacks/fuzz_corpus.rs`; it is
//! not part of hushwire's API. Every check panics on a violated property, which is what the
//! fuzzer reports as a crash.
//!
//! Input formats (first byte = mode):
//! - `decode`: the raw bytes, fed to every wire decoder (and, at 32 bytes, to the identity
//!   key decoder).
//! - `session_decrypt`: bit 1 of the mode picks the session (0 = Bob, the responder;
//!   1 = Alice, the initiator). Bit 0 clear: the rest is the message. Bit 0 set: the next
//!   byte picks one of the fixture's genuine messages to that session and the rest is a list
//!   of 4-byte edits applied to it (see [`mutate`]).
//! - `inbound_session`: bit 0 clear: the rest is the message; set: the next byte picks a
//!   genuine prekey message and the rest are edits.
//! - `unseal`, `group_decrypt`, `restore`, `certificate`, `conversation`, `attachment`, `mask`,
//!   `backup`, `device_list`, `fanout`:
//!   see the modules in `checks/` (the same mode-byte scheme; `conversation` reads a schedule
//!   with `arbitrary`; `mask` reads two mode bytes and a text).

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::wire::{MessageKind, PreKeyMessage, RatchetMessage, message_kind};
use hushwire::{
    Account, DecodeError, Device, IdentityKey, MAX_MESSAGE_LEN, PreKeyBundle,
    RATCHET_MESSAGE_OVERHEAD, RESET_REQUEST_LEN, ResetReason, ResetRequest, Session, Timestamp,
};
use rand_core::SeedableRng;

#[path = "checks/attachment.rs"]
mod attachment;
#[path = "checks/backup.rs"]
mod backup;
#[path = "checks/certificate.rs"]
mod certificate;
#[path = "checks/conversation.rs"]
mod conversation;
#[path = "checks/device_list.rs"]
mod device_list;
#[path = "checks/fanout.rs"]
mod fanout;
#[path = "checks/group.rs"]
mod group;
#[path = "checks/mask.rs"]
mod mask;
#[path = "checks/restore.rs"]
mod restore;
#[path = "checks/unseal.rs"]
mod unseal;

pub(crate) use attachment::check_attachment;
pub(crate) use backup::check_backup;
pub(crate) use certificate::check_certificate;
pub(crate) use conversation::check_conversation;
pub(crate) use device_list::check_device_list;
pub(crate) use fanout::check_fanout;
pub(crate) use group::check_group_decrypt;
pub(crate) use mask::check_mask;
pub(crate) use restore::check_restore;
pub(crate) use unseal::check_unseal;

/// The fuzz targets, by name (as in `fuzz/Cargo.toml` and `fuzz/corpus/<target>/`).
pub(crate) const TARGETS: [&str; 13] = [
    "decode",
    "session_decrypt",
    "inbound_session",
    "unseal",
    "group_decrypt",
    "restore",
    "certificate",
    "conversation",
    "attachment",
    "mask",
    "backup",
    "device_list",
    "fanout",
];

/// Runs the check of fuzz target `target` on `data`.
pub(crate) fn check(target: &str, data: &[u8]) {
    match target {
        "decode" => check_decode(data),
        "session_decrypt" => check_session_decrypt(data),
        "inbound_session" => check_inbound_session(data),
        "unseal" => check_unseal(data),
        "group_decrypt" => check_group_decrypt(data),
        "restore" => check_restore(data),
        "certificate" => check_certificate(data),
        "conversation" => check_conversation(data),
        "attachment" => check_attachment(data),
        "mask" => check_mask(data),
        "backup" => check_backup(data),
        "device_list" => check_device_list(data),
        "fanout" => check_fanout(data),
        other => panic!("unknown fuzz target {other}"),
    }
}

/// The clock every fixture and every check uses.
pub(crate) const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);
/// The seed every fixture is built from ("hushwire").
const SEED: u64 = 0x6875_7368_7769_7265;
/// ML-KEM-768 ciphertext length (FIPS 203), a fixed field of the prekey message.
const KEM_CIPHERTEXT_LEN: usize = 1088;

// ─── decode ─────────────────────────────────────────────────────────────────────────────────

/// Every decoder on the same bytes: none panics, each accepts only its own type, and whatever
/// decodes re-encodes to exactly the input with its fields at their SPEC.md offsets.
pub(crate) fn check_decode(data: &[u8]) {
    let kind = message_kind(data);
    if let Ok(kind) = kind {
        assert!(data.len() >= 2 && data.len() <= MAX_MESSAGE_LEN);
        assert_eq!(data[0], hushwire::WIRE_VERSION);
        assert_eq!(
            kind,
            if data[1] == 0x01 {
                MessageKind::Ratchet
            } else {
                MessageKind::PreKey
            }
        );
    }

    match RatchetMessage::decode(data) {
        Ok(m) => {
            assert_eq!(kind, Ok(MessageKind::Ratchet));
            assert_eq!(m.as_bytes(), data);
            assert_eq!(data.len(), RATCHET_MESSAGE_OVERHEAD + m.plaintext_len());
            assert_eq!(RatchetMessage::decode(m.as_bytes()), Ok(m));
        }
        // After a valid version and type byte, the only way to fail is the length.
        Err(e) if kind == Ok(MessageKind::Ratchet) => assert!(
            matches!(
                e,
                DecodeError::Truncated { .. } | DecodeError::TooLarge { .. }
            ),
            "{e:?}"
        ),
        Err(_) => {}
    }

    if let Ok(m) = PreKeyMessage::decode(data) {
        assert_eq!(kind, Ok(MessageKind::PreKey));
        assert_eq!(m.as_bytes(), data);
        let inner = m.message().as_bytes();
        assert!(data.ends_with(inner));
        assert_eq!(RatchetMessage::decode(inner), Ok(*m.message()));
        assert_eq!(PreKeyMessage::decode(m.as_bytes()), Ok(m));
        // SPEC.md §6.3: version, type, identity key, base key, signed prekey id, flag,
        // [one-time prekey id], ML-KEM prekey id, ML-KEM ciphertext, ratchet message.
        assert_eq!(&data[2..34], m.identity_key_bytes());
        assert_eq!(&data[34..66], m.base_key());
        assert_eq!(data[66..70], m.signed_prekey_id().to_be_bytes());
        let mut at = 71;
        match m.one_time_prekey_id() {
            Some(id) => {
                assert_eq!(data[70], 1);
                assert_eq!(data[71..75], id.to_be_bytes());
                at += 4;
            }
            None => assert_eq!(data[70], 0),
        }
        assert_eq!(data[at..at + 4], m.kem_prekey_id().to_be_bytes());
        assert_eq!(data.len(), at + 4 + KEM_CIPHERTEXT_LEN + inner.len());
    }

    if let Ok(bundle) = PreKeyBundle::from_bytes(data) {
        assert!(kind.is_err(), "a bundle is not a message");
        assert_eq!(bundle.to_bytes(), data);
        assert_eq!(PreKeyBundle::from_bytes(&bundle.to_bytes()), Ok(bundle));
    }

    if let Ok(request) = ResetRequest::from_bytes(data) {
        assert!(kind.is_err(), "a reset request is not a message");
        assert!(PreKeyBundle::from_bytes(data).is_err());
        assert_eq!(data.len(), RESET_REQUEST_LEN);
        assert_eq!(request.to_bytes(), data);
        assert_eq!(ResetRequest::from_bytes(&request.to_bytes()), Ok(request));
    }

    // Identity keys are canonical: one encoding per key.
    if let Ok(key) = IdentityKey::try_from(data) {
        assert_eq!(key.as_bytes().as_slice(), data);
        assert_eq!(IdentityKey::from_bytes(key.as_bytes()), Ok(key));
    }
}

// ─── fixtures ───────────────────────────────────────────────────────────────────────────────

/// A message produced by a real session, with what it says.
pub(crate) struct Genuine {
    pub(crate) name: &'static str,
    pub(crate) bytes: Vec<u8>,
    pub(crate) plaintext: Vec<u8>,
    /// Not yet delivered in the fixture: decrypts from the fixture's state. Otherwise it was
    /// delivered and must be rejected as a duplicate.
    pub(crate) pending: bool,
}

fn genuine(
    name: &'static str,
    session: &mut Session,
    text: &str,
    pending: bool,
    rng: &mut ChaCha20Rng,
) -> Genuine {
    Genuine {
        name,
        bytes: session.encrypt(text.as_bytes(), rng).expect("encrypt"),
        plaintext: text.as_bytes().to_vec(),
        pending,
    }
}

/// Two established sessions with stored skipped keys on both sides, and the genuine
/// messages each has read or not yet read.
pub(crate) struct SessionFixture {
    /// The initiator.
    pub(crate) alice: Session,
    /// The responder.
    pub(crate) bob: Session,
    pub(crate) to_alice: Vec<Genuine>,
    pub(crate) to_bob: Vec<Genuine>,
    pub(crate) bundle: Vec<u8>,
    /// A reset request from Alice to Bob.
    pub(crate) reset_request: Vec<u8>,
    /// Alice's and Bob's identity keys.
    pub(crate) identity_keys: [[u8; 32]; 2],
}

/// Built once per process from a fixed seed.
pub(crate) fn session_fixture() -> &'static SessionFixture {
    static FIXTURE: OnceLock<SessionFixture> = OnceLock::new();
    FIXTURE.get_or_init(build_session_fixture)
}

fn build_session_fixture() -> SessionFixture {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let rng = &mut rng;
    let mut alice_account = Device::new(NOW, rng);
    let mut bob_account = Device::new(NOW, rng);
    bob_account
        .account_mut()
        .generate_one_time_prekeys(2, 2, NOW, rng)
        .expect("prekeys");
    let bundle = bob_account.account().published_prekeys().take_bundle();
    let mut alice = alice_account
        .account()
        .create_outbound_session(&bundle, rng)
        .expect("outbound");

    // Two prekey messages; Bob builds his session from the first only.
    let m1 = genuine("prekey-m1", &mut alice, "m1: hello Bob", false, rng);
    let m2 = genuine(
        "prekey-m2",
        &mut alice,
        "m2: delayed prekey message",
        true,
        rng,
    );
    let mut bob = bob_account
        .account_mut()
        .create_inbound_session(&m1.bytes, NOW)
        .expect("inbound")
        .session;

    // Bob's first chain: Alice reads r1 and r3, so she keeps a key for r2.
    let r1 = genuine("ratchet-r1", &mut bob, "r1: hi Alice", false, rng);
    let r2 = genuine("ratchet-r2", &mut bob, "r2: delayed reply", true, rng);
    let r3 = genuine("ratchet-r3", &mut bob, "r3: overtaking reply", false, rng);
    for m in [&r1, &r3] {
        let read = alice.decrypt(&m.bytes).expect("alice reads");
        assert_eq!(read.plaintext, m.plaintext);
    }

    // Alice's second chain: Bob reads m4 only, so he keeps keys for m2 (old chain) and m3.
    let m3 = genuine("ratchet-m3", &mut alice, "m3: delayed", true, rng);
    let m4 = genuine("ratchet-m4", &mut alice, "m4: overtaking", false, rng);
    let read = bob.decrypt(&m4.bytes).expect("bob reads");
    assert_eq!(read.plaintext, m4.plaintext);

    // Bob's second chain, after his ratchet step: pending for Alice.
    let r4 = genuine("ratchet-r4", &mut bob, "r4: new chain", true, rng);

    let reset_request = alice_account
        .reset_request(
            bob_account.identity_key(),
            ResetReason::NoSession,
            NOW,
            NOW,
            rng,
        )
        .expect("reset request");

    SessionFixture {
        alice,
        bob,
        to_alice: vec![r1, r2, r3, r4],
        to_bob: vec![m1, m2, m3, m4],
        bundle: bundle.to_bytes(),
        reset_request,
        identity_keys: [
            *alice_account.identity_key().as_bytes(),
            *bob_account.identity_key().as_bytes(),
        ],
    }
}

/// A responder account that has handed out bundles (some before a prekey rotation, one with
/// no one-time X25519 prekey left) and not yet seen the prekey messages built on them.
pub(crate) struct InboundFixture {
    pub(crate) account: Account,
    /// `account`'s prekeys, computed once (every failed call must leave them so).
    pub(crate) published: hushwire::PublishedPreKeys,
    /// Every genuine prekey message, each of which starts a session on `account`.
    pub(crate) messages: Vec<Genuine>,
    pub(crate) bundles: Vec<Vec<u8>>,
}

/// Built once per process from a fixed seed.
pub(crate) fn inbound_fixture() -> &'static InboundFixture {
    static FIXTURE: OnceLock<InboundFixture> = OnceLock::new();
    FIXTURE.get_or_init(build_inbound_fixture)
}

fn build_inbound_fixture() -> InboundFixture {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED ^ 1);
    let rng = &mut rng;
    let mut bob = Account::new(NOW, rng);
    bob.generate_one_time_prekeys(3, 2, NOW, rng)
        .expect("prekeys");
    let mut server = bob.published_prekeys();
    let mut bundles = Vec::new();
    let mut take = |server: &mut hushwire::PublishedPreKeys| {
        let bundle = server.take_bundle();
        bundles.push(bundle.to_bytes());
        bundle
    };

    // Before the rotation: one-time X25519 and one-time ML-KEM prekeys.
    let b1 = take(&mut server);
    let b2 = take(&mut server);
    // The account rotates its signed and last-resort prekeys and re-uploads them.
    bob.rotate_prekeys(NOW, rng);
    let fresh = bob.published_prekeys();
    server.signed_prekey = fresh.signed_prekey;
    server.last_resort_kem_prekey = fresh.last_resort_kem_prekey;
    // One-time X25519 prekey, last-resort ML-KEM prekey.
    let b3 = take(&mut server);
    // Nothing one-time left: only reusable prekeys (replay-protected by record).
    server.one_time_prekeys.clear();
    let b4 = take(&mut server);

    let mut messages = Vec::new();
    for (i, bundle) in [b1, b2, b3, b4].iter().enumerate() {
        let initiator = Account::new(NOW, rng);
        let mut session = initiator
            .create_outbound_session(bundle, rng)
            .expect("outbound");
        const NAMES: [[&str; 2]; 4] = [
            ["p1-first", "p1-second"],
            ["p2-first", "p2-second"],
            ["p3-first", "p3-second"],
            ["p4-first", "p4-second"],
        ];
        for name in NAMES[i] {
            messages.push(genuine(name, &mut session, name, true, rng));
        }
    }
    InboundFixture {
        published: bob.published_prekeys(),
        account: bob,
        messages,
        bundles,
    }
}

// ─── mutation ───────────────────────────────────────────────────────────────────────────────

/// Applies `edits` to a copy of `original`, 4 bytes per edit: `[op, pos_hi, pos_lo, value]`.
/// `op % 4`: 0 XORs the byte at `pos` with `value`, 1 truncates to `pos`, 2 inserts `value`
/// at `pos`, 3 removes the byte at `pos` (`pos` taken modulo the current length).
pub(crate) fn mutate(original: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut out = original.to_vec();
    for edit in edits.chunks_exact(4) {
        let pos = usize::from(u16::from_be_bytes([edit[1], edit[2]]));
        let value = edit[3];
        match edit[0] % 4 {
            0 if !out.is_empty() => {
                let i = pos % out.len();
                out[i] ^= value;
            }
            1 => out.truncate(pos % (out.len() + 1)),
            2 => {
                let i = pos % (out.len() + 1);
                out.insert(i, value);
            }
            3 if !out.is_empty() => {
                out.remove(pos % out.len());
            }
            _ => {}
        }
    }
    out
}

/// The input a check works on, from the bytes after the mode byte. Bit 0 of `mode` clear:
/// `rest` itself. Set: `rest[0]` picks one of `originals` (modulo their number) and the
/// remaining bytes are edits applied to a copy of it (see [`mutate`]); `None` if there is no
/// byte to pick with.
pub(crate) fn raw_or_edited<T>(
    mode: u8,
    rest: &[u8],
    originals: &[T],
    bytes: impl Fn(&T) -> &[u8],
) -> Option<Vec<u8>> {
    if mode & 1 == 0 {
        return Some(rest.to_vec());
    }
    let (&pick, edits) = rest.split_first()?;
    let original = originals.get(usize::from(pick).checked_rem(originals.len())?)?;
    Some(mutate(bytes(original), edits))
}

/// Whether `message` is, byte for byte, a genuine message or the ratchet message embedded in
/// a genuine prekey message.
fn genuine_encoding<'a>(message: &[u8], genuine: &'a [Genuine]) -> Option<&'a Genuine> {
    genuine.iter().find(|g| {
        g.bytes == message
            || PreKeyMessage::decode(&g.bytes).is_ok_and(|p| p.message().as_bytes() == message)
    })
}

// ─── session_decrypt ────────────────────────────────────────────────────────────────────────

/// Arbitrary or mutated genuine bytes into an established session: only a genuine, unread
/// message decrypts (to its own plaintext, once); every failure leaves the session equal to
/// what it was.
pub(crate) fn check_session_decrypt(data: &[u8]) {
    let fixture = session_fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (session, genuine) = if mode & 2 == 0 {
        (&fixture.bob, &fixture.to_bob)
    } else {
        (&fixture.alice, &fixture.to_alice)
    };
    let Some(message) = raw_or_edited(mode, rest, genuine, |g| &g.bytes) else {
        return;
    };

    let mut live = session.clone();
    match live.decrypt(&message) {
        Ok(read) => {
            // Only the holder of the keys can write a message that decrypts: it must be one the
            // fixture's peer wrote and this session has not read yet. (Its bytes may differ
            // from today's encoding: a corpus file written by an older build under the same
            // keys is still genuine.)
            let Some(original) = genuine.iter().find(|g| g.plaintext == read.plaintext) else {
                panic!("forged message accepted, read as {:?}", read.plaintext);
            };
            assert!(original.pending, "{} decrypted twice", original.name);
            if mode & 1 == 1 {
                assert!(
                    genuine_encoding(&message, genuine).is_some(),
                    "an edited copy of {} decrypts",
                    original.name
                );
            }
            // Delivering it again is a duplicate and changes nothing.
            let after = live.clone();
            assert!(
                live.decrypt(&message).is_err(),
                "{} replayed",
                original.name
            );
            assert!(
                live == after,
                "rejected replay of {} changed the session",
                original.name
            );
        }
        Err(e) => {
            assert!(
                live == *session,
                "failed decrypt ({e:?}) changed the session"
            );
            if let Some(original) = genuine_encoding(&message, genuine) {
                assert!(!original.pending, "genuine {} failed: {e:?}", original.name);
            }
        }
    }
}

// ─── inbound_session ────────────────────────────────────────────────────────────────────────

/// Arbitrary or mutated genuine prekey messages into an account: only a genuine prekey message
/// starts a session (with its own plaintext and sender), and every failure leaves the
/// account's prekeys as they were.
pub(crate) fn check_inbound_session(data: &[u8]) {
    let fixture = inbound_fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some(message) = raw_or_edited(mode, rest, &fixture.messages, |g| &g.bytes) else {
        return;
    };

    let mut account = fixture.account.clone();
    let counts = account.one_time_prekey_counts();
    let published = &fixture.published;
    match account.create_inbound_session(&message, NOW) {
        Ok(inbound) => {
            // Only a genuine initiator can start a session: the message must be one of the
            // fixture's (or an older build's encoding of it), for the same session attempt.
            let messages = &fixture.messages;
            let Some(original) = messages.iter().find(|g| g.plaintext == inbound.plaintext) else {
                panic!(
                    "forged prekey message accepted, read as {:?}",
                    inbound.plaintext
                );
            };
            if mode & 1 == 1 {
                assert!(
                    messages.iter().any(|g| g.bytes == message),
                    "an edited copy of {} is accepted",
                    original.name
                );
            }
            let sent = PreKeyMessage::decode(&message).expect("accepted, so it decodes");
            let genuine = PreKeyMessage::decode(&original.bytes).expect("genuine");
            assert_eq!(sent.base_key(), genuine.base_key(), "{}", original.name);
            assert_eq!(sent.identity_key_bytes(), genuine.identity_key_bytes());
            assert_eq!(
                inbound.session.remote_identity().as_bytes(),
                sent.identity_key_bytes()
            );
            // The same message again is a replay and changes nothing.
            let counts = account.one_time_prekey_counts();
            let published = account.published_prekeys();
            assert!(
                account.create_inbound_session(&message, NOW).is_err(),
                "{} accepted twice",
                original.name
            );
            assert_eq!(account.one_time_prekey_counts(), counts);
            assert_eq!(account.published_prekeys(), published);
        }
        Err(e) => {
            assert_eq!(account.one_time_prekey_counts(), counts, "{e:?}");
            assert!(account.published_prekeys() == *published, "{e:?}");
            if let Some(original) = fixture.messages.iter().find(|g| g.bytes == message) {
                panic!("genuine {} rejected: {e:?}", original.name);
            }
        }
    }
}

// ─── seed corpora ───────────────────────────────────────────────────────────────────────────

/// The seed inputs of `target`, named, built from the fixtures' genuine messages.
pub(crate) fn seed_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let sessions = session_fixture();
    let inbound = inbound_fixture();
    let mut out = Vec::new();
    match target {
        "decode" => {
            for g in sessions.to_bob.iter().chain(&sessions.to_alice) {
                out.push((format!("session-{}", g.name), g.bytes.clone()));
            }
            for g in &inbound.messages {
                out.push((format!("inbound-{}", g.name), g.bytes.clone()));
            }
            out.push(("bundle-session".into(), sessions.bundle.clone()));
            out.push(("reset-request".into(), sessions.reset_request.clone()));
            out.push(("identity-alice".into(), sessions.identity_keys[0].to_vec()));
            out.push(("identity-bob".into(), sessions.identity_keys[1].to_vec()));
            for (i, b) in inbound.bundles.iter().enumerate() {
                out.push((format!("bundle-{}", i + 1), b.clone()));
            }
        }
        "session_decrypt" => {
            for (side, mode, genuine) in [
                ("bob", 0u8, &sessions.to_bob),
                ("alice", 2u8, &sessions.to_alice),
            ] {
                for (i, g) in genuine.iter().enumerate() {
                    let mut raw = vec![mode];
                    raw.extend_from_slice(&g.bytes);
                    out.push((format!("{side}-raw-{}", g.name), raw));
                    let pick = u8::try_from(i).expect("few messages");
                    out.push((
                        format!("{side}-mutate-{}-none", g.name),
                        vec![mode | 1, pick],
                    ));
                    // One flipped bit in the encrypted header, one in the body's tag.
                    let last = u16::try_from(g.bytes.len() - 1).expect("short message");
                    let [hi, lo] = last.to_be_bytes();
                    out.push((
                        format!("{side}-mutate-{}-flips", g.name),
                        vec![mode | 1, pick, 0, 0, 40, 0x01, 0, hi, lo, 0x80],
                    ));
                }
            }
        }
        "inbound_session" => {
            for (i, g) in inbound.messages.iter().enumerate() {
                let mut raw = vec![0u8];
                raw.extend_from_slice(&g.bytes);
                out.push((format!("raw-{}", g.name), raw));
                let pick = u8::try_from(i).expect("few messages");
                out.push((format!("mutate-{}-none", g.name), vec![1, pick]));
                // One flipped bit in the ML-KEM ciphertext.
                out.push((
                    format!("mutate-{}-flip", g.name),
                    vec![1, pick, 0, 0x01, 0x00, 0x01],
                ));
            }
        }
        "unseal" => out = unseal::seeds(),
        "group_decrypt" => out = group::seeds(),
        "restore" => out = restore::seeds(),
        "certificate" => out = certificate::seeds(),
        "conversation" => out = conversation::seeds(),
        "attachment" => out = attachment::seeds(),
        "mask" => out = mask::seeds(),
        "backup" => out = backup::seeds(),
        "device_list" => out = device_list::seeds(),
        "fanout" => out = fanout::seeds(),
        other => panic!("unknown fuzz target {other}"),
    }
    out
}
