//! Interactive SAS verification (SPEC.md §15.4): honest runs agree, an attacker in the middle
//! who follows the protocol on both sides gets two different strings and can search only after
//! the string it had to match is fixed, and every message that is not the run's genuine next
//! message is refused with the state handed back unchanged.
//!
//! Every SAS message travels here as the plaintext of a real session message, as in an app.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::convert::Infallible;

use chacha20::ChaCha20Rng;
use hushwire::verify::{
    SAS_MESSAGE_LEN, SAS_RUN_TIMEOUT_SECS, SasAwaitingAccept, SasAwaitingReveal, SasMessage,
    SasReady, accept_sas, start_sas,
};
use hushwire::{
    Account, DecodeError, ErrorKind, IdentityCertificate, PreKeyBundle, SafetyNumber, Session,
    StorageKey, UserId, VerifyError,
};
use rand_core::{SeedableRng, TryCryptoRng, TryRng};

use crate::common::NOW;

// ---------------------------------------------------------------------------------------------
// Setup

struct Device {
    account: Account,
}

fn device(rng: &mut ChaCha20Rng) -> Device {
    let mut account = Account::new(NOW, rng);
    account.generate_one_time_prekeys(4, 4, NOW, rng).unwrap();
    Device { account }
}

/// A session from `from` to `to`, after one message each way: (on `from`, on `to`).
fn connect(from: &Device, to: &mut Device, rng: &mut ChaCha20Rng) -> (Session, Session) {
    let bundle = to.account.published_prekeys().take_bundle();
    let mut a = from.account.create_outbound_session(&bundle, rng).unwrap();
    let first = a.encrypt(b"hello", rng).unwrap();
    let mut b = to
        .account
        .create_inbound_session(&first, NOW)
        .unwrap()
        .session;
    let reply = b.encrypt(b"hi", rng).unwrap();
    assert_eq!(a.decrypt(&reply).unwrap().plaintext, b"hi");
    (a, b)
}

/// Alice and Bob with one established session: (rng, alice's side, bob's side).
fn alice_and_bob(seed: u64) -> (ChaCha20Rng, Session, Session) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = device(&mut rng);
    let mut bob = device(&mut rng);
    let (a, b) = connect(&alice, &mut bob, &mut rng);
    (rng, a, b)
}

/// Sends `bytes` as an ordinary session message and returns what the peer decrypts.
fn send(from: &mut Session, to: &mut Session, bytes: &[u8], rng: &mut ChaCha20Rng) -> Vec<u8> {
    let message = from.encrypt(bytes, rng).unwrap();
    to.decrypt(&message).unwrap().plaintext
}

/// One complete run, `starter` starting, every message sent through the session:
/// (starter's result, accepter's result).
fn run(
    starter: &mut Session,
    accepter: &mut Session,
    rng: &mut ChaCha20Rng,
) -> (SasReady, SasReady) {
    let (waiting, start) = start_sas(starter, NOW, rng).unwrap();
    let start = send(starter, accepter, &start, rng);
    let (answering, accept) = accept_sas(accepter, &start, NOW, rng).unwrap();
    let accept = send(accepter, starter, &accept, rng);
    let (starter_ready, reveal) = waiting.receive_accept(starter, &accept, NOW).unwrap();
    let reveal = send(starter, accepter, &reveal, rng);
    let accepter_ready = answering.receive_reveal(accepter, &reveal, NOW).unwrap();
    (starter_ready, accepter_ready)
}

/// The genuine messages of a run that has started and been accepted, but not yet read.
struct Pending {
    starter: SasAwaitingAccept,
    accepter: SasAwaitingReveal,
    start: [u8; SAS_MESSAGE_LEN],
    accept: [u8; SAS_MESSAGE_LEN],
}

fn pending(starter: &Session, accepter: &Session, rng: &mut ChaCha20Rng) -> Pending {
    let (s, start) = start_sas(starter, NOW, rng).unwrap();
    let (a, accept) = accept_sas(accepter, &start, NOW, rng).unwrap();
    Pending {
        starter: s,
        accepter: a,
        start,
        accept,
    }
}

/// A `CryptoRng` that hands out chosen bytes: the attacker choosing its own "random" values.
struct Chosen(Vec<u8>);

impl TryRng for Chosen {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        unreachable!("the SAS run draws with fill_bytes only")
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        unreachable!("the SAS run draws with fill_bytes only")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let rest = self.0.split_off(dst.len());
        dst.copy_from_slice(&self.0);
        self.0 = rest;
        Ok(())
    }
}

impl TryCryptoRng for Chosen {}

fn is_refused<S>(result: Result<S, (impl Sized, VerifyError)>) -> Option<VerifyError> {
    result.err().map(|(_, e)| e)
}

// ---------------------------------------------------------------------------------------------
// Honest runs

#[test]
fn an_honest_run_shows_the_same_string_on_both_ends() {
    let (mut rng, mut a, mut b) = alice_and_bob(1);
    for alice_starts in [true, false] {
        let (on_alice, on_bob) = if alice_starts {
            run(&mut a, &mut b, &mut rng)
        } else {
            let (bob_side, alice_side) = run(&mut b, &mut a, &mut rng);
            (alice_side, bob_side)
        };
        assert_eq!(on_alice.sas(), on_bob.sas());
        assert_eq!(on_alice.sas().emoji(), on_bob.sas().emoji());
        assert_eq!(on_alice.sas().decimal(), on_bob.sas().decimal());
        assert_eq!(on_alice.sas().to_string(), on_bob.sas().to_string());
        assert_eq!(on_alice.sas().emoji_names().split(", ").count(), 7);
        assert!(
            on_alice
                .sas()
                .decimal()
                .iter()
                .all(|n| (1000..=9191).contains(n))
        );
        // Each side learns which key a match verifies: the other's.
        assert_eq!(on_alice.remote_identity(), a.remote_identity());
        assert_eq!(on_bob.remote_identity(), b.remote_identity());
        assert_eq!(on_alice.session_id(), a.session_id());
        assert_eq!(on_alice.session_id(), on_bob.session_id());
        assert_eq!(on_alice.run_id(), on_bob.run_id());
    }
}

/// The property the non-interactive string lacked: the string is not a function of the
/// session. (`ShortAuthString::from_session` returned the same string for every call on a
/// session, which is what let an attacker grind sessions offline.)
#[test]
fn every_run_gives_a_fresh_string() {
    let (mut rng, mut a, mut b) = alice_and_bob(2);
    let (first, _) = run(&mut a, &mut b, &mut rng);
    let (second, second_on_bob) = run(&mut a, &mut b, &mut rng);
    assert_eq!(second.sas(), second_on_bob.sas());
    assert_ne!(first.sas(), second.sas());
    assert_ne!(first.run_id(), second.run_id());
}

#[test]
fn a_run_survives_restoring_the_session_between_steps() {
    let (mut rng, a, b) = alice_and_bob(3);
    let p = pending(&a, &b, &mut rng);
    let key = StorageKey::from_bytes([3; 32]);
    let a2 = Session::from_encrypted(
        &a.to_encrypted(&key, 1, &mut rng),
        &key,
        1,
        &hushwire::persist::Expected::any(),
    )
    .unwrap();
    let b2 = Session::from_encrypted(
        &b.to_encrypted(&key, 1, &mut rng),
        &key,
        1,
        &hushwire::persist::Expected::any(),
    )
    .unwrap();
    let (on_alice, reveal) = p.starter.receive_accept(&a2, &p.accept, NOW).unwrap();
    let on_bob = p.accepter.receive_reveal(&b2, &reveal, NOW).unwrap();
    assert_eq!(on_alice.sas(), on_bob.sas());
}

#[test]
fn a_run_needs_a_session_both_ends_hold() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let alice = device(&mut rng);
    let mut bob = device(&mut rng);
    let bundle = bob.account.published_prekeys().take_bundle();
    let mut a = alice
        .account
        .create_outbound_session(&bundle, &mut rng)
        .unwrap();
    // Before the first reply the initiator cannot know the peer holds the session.
    assert_eq!(
        start_sas(&a, NOW, &mut rng).err(),
        Some(VerifyError::SessionNotEstablished)
    );
    let first = a.encrypt(b"hello", &mut rng).unwrap();
    let b = bob
        .account
        .create_inbound_session(&first, NOW)
        .unwrap()
        .session;
    let (_, start) = start_sas(&b, NOW, &mut rng).unwrap();
    assert_eq!(
        accept_sas(&a, &start, NOW, &mut rng).err(),
        Some(VerifyError::SessionNotEstablished)
    );
    assert_eq!(
        VerifyError::SessionNotEstablished.kind(),
        ErrorKind::InvalidInput
    );
}

// ---------------------------------------------------------------------------------------------
// Someone in the middle

/// Mallory holds a session with Alice (Alice thinks it is Bob's) and one with Bob (Bob thinks
/// it is Alice's): (rng, alice↔mallory on alice, on mallory, mallory↔bob on mallory, on bob).
fn intercepted(seed: u64) -> (ChaCha20Rng, Session, Session, Session, Session) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = device(&mut rng);
    let mut bob = device(&mut rng);
    let mut mallory = device(&mut rng);
    let (alice_side, mallory_to_alice) = connect(&alice, &mut mallory, &mut rng);
    let (mallory_to_bob, bob_side) = connect(&mallory, &mut bob, &mut rng);
    (rng, alice_side, mallory_to_alice, mallory_to_bob, bob_side)
}

#[test]
fn someone_in_the_middle_following_the_protocol_gets_two_strings() {
    let (mut rng, mut alice, mut m_alice, mut m_bob, mut bob) = intercepted(10);

    // Mallory's best order: finish Bob's side first (as starter, so it also sees Bob's nonce
    // before it reveals), so it knows the string Bob will show.
    let (on_mallory_bob_side, on_bob) = run(&mut m_bob, &mut bob, &mut rng);
    assert_eq!(on_mallory_bob_side.sas(), on_bob.sas());
    let target = *on_bob.sas();

    // Alice starts. Mallory must answer before it learns Alice's nonce: all it has is her
    // commitment.
    let (alice_run, start) = start_sas(&alice, NOW, &mut rng).unwrap();
    let start = send(&mut alice, &mut m_alice, &start, &mut rng);
    let (mallory_run, accept) =
        accept_sas(&m_alice, &start, NOW, &mut Chosen(vec![0x42; 32])).unwrap();
    let accept = send(&mut m_alice, &mut alice, &accept, &mut rng);
    let (on_alice, reveal) = alice_run.receive_accept(&alice, &accept, NOW).unwrap();
    let reveal = send(&mut alice, &mut m_alice, &reveal, &mut rng);
    let on_mallory_alice_side = mallory_run.receive_reveal(&m_alice, &reveal, NOW).unwrap();
    assert_eq!(on_mallory_alice_side.sas(), on_alice.sas());
    // The two users see different strings.
    assert_ne!(on_alice.sas(), &target);

    // Now that Alice's nonce is revealed, Mallory can search offline for a nonce of its own
    // that would have matched (here on the first emoji) ...
    let found = (0u16..4096)
        .map(|i| {
            let mut nonce = vec![0u8; 32];
            nonce[..2].copy_from_slice(&i.to_be_bytes());
            nonce
        })
        .find(|nonce| {
            let (trial, _) = accept_sas(&m_alice, &start, NOW, &mut Chosen(nonce.clone())).unwrap();
            let ready = trial.receive_reveal(&m_alice, &reveal, NOW).unwrap();
            ready.sas().emoji()[0] == target.emoji()[0]
        })
        .expect("a 6-bit match among 4096 tries");
    // ... but too late: Alice's string is fixed (her run is consumed, so no second accept can
    // reach it), and a new run draws a new nonce behind a new commitment.
    let (alice_again, start2) = start_sas(&alice, NOW, &mut rng).unwrap();
    let (_, accept2) = accept_sas(&m_alice, &start2, NOW, &mut Chosen(found.clone())).unwrap();
    let (again, _) = alice_again.receive_accept(&alice, &accept2, NOW).unwrap();
    let (trial, _) = accept_sas(&m_alice, &start, NOW, &mut Chosen(found)).unwrap();
    let would_have_been = trial.receive_reveal(&m_alice, &reveal, NOW).unwrap();
    assert_ne!(again.sas(), would_have_been.sas());
    assert_ne!(again.sas(), &target);
}

#[test]
fn relaying_the_messages_between_the_two_sessions_fails() {
    let (mut rng, mut alice, mut m_alice, mut m_bob, mut bob) = intercepted(11);
    // Mallory forwards every SAS message unchanged from one session to the other.
    let (alice_run, start) = start_sas(&alice, NOW, &mut rng).unwrap();
    let start = send(&mut alice, &mut m_alice, &start, &mut rng);
    let start = send(&mut m_bob, &mut bob, &start, &mut rng);
    let (bob_run, accept) = accept_sas(&bob, &start, NOW, &mut rng).unwrap();
    let accept = send(&mut bob, &mut m_bob, &accept, &mut rng);
    let accept = send(&mut m_alice, &mut alice, &accept, &mut rng);
    let (_on_alice, reveal) = alice_run.receive_accept(&alice, &accept, NOW).unwrap();
    let reveal = send(&mut alice, &mut m_alice, &reveal, &mut rng);
    let reveal = send(&mut m_bob, &mut bob, &reveal, &mut rng);
    // The commitment names Alice's session, not Bob's.
    let (_, error) = bob_run.receive_reveal(&bob, &reveal, NOW).unwrap_err();
    assert_eq!(error, VerifyError::SasCommitmentMismatch);
    assert_eq!(error.kind(), ErrorKind::Tampered);
}

// ---------------------------------------------------------------------------------------------
// Refusals: the state comes back unchanged and the genuine message still completes the run

#[test]
fn a_reveal_that_does_not_open_the_commitment_is_refused() {
    let (mut rng, a, b) = alice_and_bob(20);
    let p = pending(&a, &b, &mut rng);
    let (on_alice, reveal) = p.starter.receive_accept(&a, &p.accept, NOW).unwrap();
    let mut state = p.accepter;
    let before = format!("{state:?}");
    let (run_id, expires_at) = (state.run_id(), state.expires_at());
    // Any other nonce for this run: one bit changed, all zeros, the accepter's own.
    let mut flipped = reveal;
    flipped[SAS_MESSAGE_LEN - 1] ^= 0x01;
    let mut zeros = reveal;
    zeros[18..].fill(0);
    let mut echoed = reveal;
    echoed[18..].copy_from_slice(&p.accept[18..]);
    for bad in [flipped, zeros, echoed] {
        let (back, error) = state.receive_reveal(&b, &bad, NOW).unwrap_err();
        assert_eq!(error, VerifyError::SasCommitmentMismatch);
        assert_eq!(format!("{back:?}"), before);
        assert_eq!((back.run_id(), back.expires_at()), (run_id, expires_at));
        state = back;
    }
    let on_bob = state.receive_reveal(&b, &reveal, NOW).unwrap();
    assert_eq!(on_bob.sas(), on_alice.sas());
}

/// A starter that sends a start message whose commitment it cannot open (here: 32 bytes
/// that commit to nothing) never gets a string out of the accepter, whatever it reveals.
#[test]
fn a_reveal_without_a_matching_commitment_never_completes() {
    let (mut rng, a, b) = alice_and_bob(21);
    let mut start = [0u8; SAS_MESSAGE_LEN];
    start[..2].copy_from_slice(&[0x01, 0x51]);
    start[2..18].copy_from_slice(&[0x77; 16]);
    start[18..].copy_from_slice(&[0x99; 32]);
    let (mut state, accept) = accept_sas(&b, &start, NOW, &mut rng).unwrap();
    assert_eq!(&accept[2..18], &[0x77; 16]);
    for fill in [0x00u8, 0x99, 0xff] {
        let mut reveal = [fill; SAS_MESSAGE_LEN];
        reveal[..2].copy_from_slice(&[0x01, 0x53]);
        reveal[2..18].copy_from_slice(&[0x77; 16]);
        let (back, error) = state.receive_reveal(&b, &reveal, NOW).unwrap_err();
        assert_eq!(error, VerifyError::SasCommitmentMismatch);
        state = back;
    }
    let _ = a;
}

#[test]
fn messages_of_another_run_or_session_are_refused() {
    let (mut rng, a, b) = alice_and_bob(22);
    // A complete earlier run, whose messages an attacker can replay.
    let old = pending(&a, &b, &mut rng);
    let (_, old_reveal) = old.starter.receive_accept(&a, &old.accept, NOW).unwrap();
    old.accepter.receive_reveal(&b, &old_reveal, NOW).unwrap();

    let p = pending(&a, &b, &mut rng);
    // The old accept to the new starter, the old reveal to the new accepter.
    let (starter, e) = p.starter.receive_accept(&a, &old.accept, NOW).unwrap_err();
    assert_eq!(e, VerifyError::SasOtherRun);
    assert_eq!(e.kind(), ErrorKind::UnknownSession);
    let (accepter, e) = p.accepter.receive_reveal(&b, &old_reveal, NOW).unwrap_err();
    assert_eq!(e, VerifyError::SasOtherRun);
    // The old start replayed: Bob answers it (he cannot tell), but that answer names the old
    // run, which Alice no longer runs.
    let (_, replayed_accept) = accept_sas(&b, &old.start, NOW, &mut rng).unwrap();
    let (starter, e) = starter
        .receive_accept(&a, &replayed_accept, NOW)
        .unwrap_err();
    assert_eq!(e, VerifyError::SasOtherRun);

    // Another session (Alice's session with Carol), or the peer's own side of this one.
    let mut carol = device(&mut rng);
    let alice_again = Device {
        account: Account::new(NOW, &mut rng),
    };
    let (other, _) = connect(&alice_again, &mut carol, &mut rng);
    let (starter, e) = starter.receive_accept(&other, &p.accept, NOW).unwrap_err();
    assert_eq!(e, VerifyError::SasOtherSession);
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let (starter, e) = starter.receive_accept(&b, &p.accept, NOW).unwrap_err();
    assert_eq!(e, VerifyError::SasOtherSession);

    // The genuine messages still complete the run.
    let (on_alice, reveal) = starter.receive_accept(&a, &p.accept, NOW).unwrap();
    let (accepter, e) = accepter.receive_reveal(&a, &reveal, NOW).unwrap_err();
    assert_eq!(e, VerifyError::SasOtherSession);
    let on_bob = accepter.receive_reveal(&b, &reveal, NOW).unwrap();
    assert_eq!(on_alice.sas(), on_bob.sas());
}

#[test]
fn a_run_expires_after_the_timeout() {
    let (mut rng, a, b) = alice_and_bob(23);
    let p = pending(&a, &b, &mut rng);
    let deadline = NOW.plus_secs(SAS_RUN_TIMEOUT_SECS);
    assert_eq!(SAS_RUN_TIMEOUT_SECS, 600);
    assert_eq!(p.starter.expires_at(), deadline);
    assert_eq!(p.accepter.expires_at(), deadline);
    let expired = VerifyError::SasExpired {
        expired_at: deadline,
    };
    assert_eq!(expired.kind(), ErrorKind::LimitExceeded);

    // At the deadline and after it: refused, even with the genuine message.
    let (starter, e) = p
        .starter
        .receive_accept(&a, &p.accept, deadline)
        .unwrap_err();
    assert_eq!(e, expired);
    let (starter, e) = starter
        .receive_accept(&a, &p.accept, deadline.plus_secs(1_000_000))
        .unwrap_err();
    assert_eq!(e, expired);
    // One second before: accepted.
    let just_in_time = NOW.plus_secs(SAS_RUN_TIMEOUT_SECS - 1);
    let (on_alice, reveal) = starter.receive_accept(&a, &p.accept, just_in_time).unwrap();
    let (accepter, e) = p
        .accepter
        .receive_reveal(&b, &reveal, deadline)
        .unwrap_err();
    assert_eq!(e, expired);
    let on_bob = accepter.receive_reveal(&b, &reveal, just_in_time).unwrap();
    assert_eq!(on_alice.sas(), on_bob.sas());

    // The clock runs from the call that made the state on each side.
    let later = NOW.plus_secs(500);
    let (s, start) = start_sas(&a, NOW, &mut rng).unwrap();
    let (r, accept) = accept_sas(&b, &start, later, &mut rng).unwrap();
    assert_eq!(r.expires_at(), later.plus_secs(SAS_RUN_TIMEOUT_SECS));
    assert_eq!(
        is_refused(s.receive_accept(&a, &accept, later.plus_secs(100))),
        Some(VerifyError::SasExpired {
            expired_at: NOW.plus_secs(SAS_RUN_TIMEOUT_SECS)
        })
    );
}

#[test]
fn malformed_messages_are_refused_with_the_state_unchanged() {
    let (mut rng, a, b) = alice_and_bob(24);
    let p = pending(&a, &b, &mut rng);
    let malformed = |e: DecodeError| VerifyError::Malformed(e);
    let with = |bytes: &[u8], at: usize, v: u8| {
        let mut out = bytes.to_vec();
        out[at] = v;
        out
    };
    let cases: Vec<(Vec<u8>, VerifyError)> = vec![
        (vec![], malformed(DecodeError::Truncated { needed: 1 })),
        (
            p.accept[..SAS_MESSAGE_LEN - 1].to_vec(),
            malformed(DecodeError::Truncated { needed: 1 }),
        ),
        (
            [&p.accept[..], &[0]].concat(),
            malformed(DecodeError::TooLarge {
                len: SAS_MESSAGE_LEN + 1,
                max: SAS_MESSAGE_LEN,
            }),
        ),
        (
            with(&p.accept, 0, 2),
            malformed(DecodeError::UnknownVersion(2)),
        ),
        (
            with(&p.accept, 1, 0x5f),
            malformed(DecodeError::UnknownType(0x5f)),
        ),
        (
            p.start.to_vec(),
            malformed(DecodeError::WrongType {
                expected: 0x52,
                found: 0x51,
            }),
        ),
    ];
    let mut starter = p.starter;
    for (bytes, expected) in cases {
        let (back, e) = starter.receive_accept(&a, &bytes, NOW).unwrap_err();
        assert_eq!(e, expected, "{}", hex::encode(&bytes));
        starter = back;
    }
    let (on_alice, reveal) = starter.receive_accept(&a, &p.accept, NOW).unwrap();
    let mut accepter = p.accepter;
    for (bytes, expected) in [
        (
            p.accept.to_vec(),
            malformed(DecodeError::WrongType {
                expected: 0x53,
                found: 0x52,
            }),
        ),
        (
            reveal[..20].to_vec(),
            malformed(DecodeError::Truncated { needed: 30 }),
        ),
    ] {
        let (back, e) = accepter.receive_reveal(&b, &bytes, NOW).unwrap_err();
        assert_eq!(e, expected);
        accepter = back;
    }
    assert_eq!(
        accepter.receive_reveal(&b, &reveal, NOW).unwrap().sas(),
        on_alice.sas()
    );
    assert_eq!(
        accept_sas(&b, &reveal, NOW, &mut rng).err(),
        Some(malformed(DecodeError::WrongType {
            expected: 0x51,
            found: 0x53
        }))
    );
}

/// Every decoder reports the SAS types as known types of another structure, and the SAS
/// decoders report the other structures the same way (SPEC.md §1.4.1).
#[test]
fn sas_types_are_known_to_every_decoder() {
    let (mut rng, a, _) = alice_and_bob(25);
    let (_, start) = start_sas(&a, NOW, &mut rng).unwrap();
    let wrong = |expected: u8| DecodeError::WrongType {
        expected,
        found: 0x51,
    };
    assert_eq!(PreKeyBundle::from_bytes(&start).err(), Some(wrong(0x10)));
    assert_eq!(
        IdentityCertificate::from_bytes(&start).err(),
        Some(wrong(0x42))
    );
    let (alice, bob) = (UserId::new(b"a").unwrap(), UserId::new(b"b").unwrap());
    let sn = SafetyNumber::new(&alice, a.local_identity(), &bob, a.remote_identity());
    assert_eq!(
        sn.verify_scanned(&start),
        Err(VerifyError::Malformed(wrong(0x50)))
    );
    assert_eq!(
        SasMessage::from_bytes(&sn.to_qr_payload()),
        Err(DecodeError::WrongType {
            expected: 0x51,
            found: 0x50
        })
    );
    assert!(matches!(
        SasMessage::from_bytes(&start),
        Ok(SasMessage::Start(s)) if s.to_bytes() == start
    ));
}

#[test]
fn debug_shows_the_run_but_not_the_nonce() {
    let (mut rng, a, b) = alice_and_bob(26);
    let p = pending(&a, &b, &mut rng);
    let shown = format!("{:?}", p.starter);
    let expires = NOW.plus_secs(SAS_RUN_TIMEOUT_SECS).as_unix_secs();
    assert!(
        shown.starts_with("SasAwaitingAccept { run_id: SasRunId("),
        "{shown}"
    );
    assert!(
        shown.ends_with(&format!("expires_at: {expires}, .. }}")),
        "{shown}"
    );
    let (ready, reveal) = p.starter.receive_accept(&a, &p.accept, NOW).unwrap();
    // The nonce the starter kept until now is nowhere in its Debug output.
    let nonce = hex::encode(&reveal[18..]);
    assert!(!shown.contains(&nonce[..16]));
    let shown = format!("{:?}", p.accepter);
    assert!(
        shown.starts_with("SasAwaitingReveal { run_id: SasRunId("),
        "{shown}"
    );
    let [x, y, z] = ready.sas().decimal();
    assert!(
        format!("{ready:?}").contains(&format!("ShortAuthString {{ decimal: [{x}, {y}, {z}] }}"))
    );
}

// ---------------------------------------------------------------------------------------------
// Properties: an edited message never advances a run to a matching string

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn sessions() -> &'static (Session, Session) {
        static SESSIONS: std::sync::OnceLock<(Session, Session)> = std::sync::OnceLock::new();
        SESSIONS.get_or_init(|| {
            let (_, a, b) = alice_and_bob(30);
            (a, b)
        })
    }

    /// An edit of a message: bytes changed (position, non-zero XOR), then a new length.
    fn edit(bytes: &[u8], flips: &[(usize, u8)], len: usize) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for (at, x) in flips {
            let at = at % out.len();
            out[at] ^= x;
        }
        out.resize(len, 0xa5);
        out
    }

    fn edits() -> impl Strategy<Value = (Vec<(usize, u8)>, usize)> {
        (
            proptest::collection::vec((0usize..SAS_MESSAGE_LEN, 1u8..=255), 0..4),
            prop_oneof![Just(SAS_MESSAGE_LEN), 0usize..SAS_MESSAGE_LEN + 8],
        )
    }

    proptest! {
        #![proptest_config(crate::common::proptest_config(256))]

        #[test]
        fn an_edited_start_never_completes_a_run(seed in any::<u64>(), (flips, len) in edits()) {
            let (a, b) = sessions();
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let (starter, start) = start_sas(a, NOW, &mut rng).unwrap();
            let edited = edit(&start, &flips, len);
            prop_assume!(edited != start);
            let Ok((accepter, accept)) = accept_sas(b, &edited, NOW, &mut rng) else {
                return Ok(());
            };
            // Bob answered a start Alice never sent: the run cannot end in a string on Bob's
            // side.
            match starter.receive_accept(a, &accept, NOW) {
                Err((_, e)) => prop_assert_eq!(e, VerifyError::SasOtherRun),
                Ok((_, reveal)) => {
                    let (_, e) = accepter.receive_reveal(b, &reveal, NOW).unwrap_err();
                    prop_assert_eq!(e, VerifyError::SasCommitmentMismatch);
                }
            }
        }

        #[test]
        fn an_edited_accept_never_gives_matching_strings(
            seed in any::<u64>(),
            (flips, len) in edits(),
        ) {
            let (a, b) = sessions();
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let p = pending(a, b, &mut rng);
            let edited = edit(&p.accept, &flips, len);
            prop_assume!(edited != p.accept);
            match p.starter.receive_accept(a, &edited, NOW) {
                Err((starter, _)) => {
                    // Refused: the genuine accept still completes the run.
                    let (on_alice, reveal) = starter.receive_accept(a, &p.accept, NOW).unwrap();
                    let on_bob = p.accepter.receive_reveal(b, &reveal, NOW).unwrap();
                    prop_assert_eq!(on_alice.sas(), on_bob.sas());
                }
                Ok((on_alice, reveal)) => {
                    // Only the nonce was changed (it is not authenticated beyond the session):
                    // the two strings differ, which the users see.
                    prop_assert_eq!(&edited[..18], &p.accept[..18]);
                    let on_bob = p.accepter.receive_reveal(b, &reveal, NOW).unwrap();
                    prop_assert_ne!(on_alice.sas(), on_bob.sas());
                }
            }
        }

        #[test]
        fn an_edited_reveal_is_always_refused(seed in any::<u64>(), (flips, len) in edits()) {
            let (a, b) = sessions();
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let p = pending(a, b, &mut rng);
            let (on_alice, reveal) = p.starter.receive_accept(a, &p.accept, NOW).unwrap();
            let edited = edit(&reveal, &flips, len);
            prop_assume!(edited != reveal);
            let (accepter, e) = p.accepter.receive_reveal(b, &edited, NOW).unwrap_err();
            prop_assert!(matches!(
                e,
                VerifyError::Malformed(_) | VerifyError::SasOtherRun | VerifyError::SasCommitmentMismatch
            ));
            let on_bob = accepter.receive_reveal(b, &reveal, NOW).unwrap();
            prop_assert_eq!(on_alice.sas(), on_bob.sas());
        }

        #[test]
        fn random_bytes_never_advance_a_run(
            seed in any::<u64>(),
            bytes in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let (a, b) = sessions();
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let p = pending(a, b, &mut rng);
            prop_assert!(p.starter.receive_accept(a, &bytes, NOW).is_err());
            prop_assert!(p.accepter.receive_reveal(b, &bytes, NOW).is_err());
            let _ = SasMessage::from_bytes(&bytes);
        }
    }
}
