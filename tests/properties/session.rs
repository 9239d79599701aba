//! Property tests: random delivery schedules between two parties, checked message by message
//! against a model of the ratchet's limits, and the wire codecs on arbitrary and valid bytes.
//!
//! The schedule model (SPEC.md §5.7, §5.8) predicts, from the `RatchetConfig` alone, the
//! exact result of every delivery: the plaintext and events of a success, or the precise
//! error (`Duplicate`, `KeyExpired`, `TooFarAhead`, `ChainForgotten`, or the error a tampered
//! copy must get), and the number of stored skipped keys after it. Nothing is "one of several
//! acceptable answers" except a cleared one-time-prekey flag, whose outcome depends on random
//! ciphertext bytes.
//!
//! Cases: 1,000 schedules of up to 80 operations, 300 more (fixed seed) to show every outcome
//! is reached, 1,000 per codec property, and one exhaustive bit-flip test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::VecDeque;
use std::sync::OnceLock;

use crate::common::{Accounts, Delivery, Dir, NOW, Pair, Sim, establish, rng};
use hushwire::wire::{MessageKind, PreKeyMessage, RatchetMessage, message_kind};
use hushwire::{
    Account, BUNDLE_LEN_WITHOUT_ONE_TIME, DecodeError, DecryptError, Event, HARD_MAX_JUMP,
    HARD_MAX_RECEIVING_CHAINS, HARD_MAX_SKIPPED_KEY_MAX_AGE, HARD_MAX_SKIPPED_KEYS,
    IdentityKeyPair, KemPreKeyKind, KemPreKeyPublic, OneTimePreKeyPublic, PreKeyBundle,
    RATCHET_MESSAGE_OVERHEAD, RatchetConfig, Session, SignedPreKeyPublic,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// Schedules have at most this many operations.
const MAX_OPS: usize = 80;
/// Cases of the schedule property.
const SCHEDULE_CASES: u32 = 1_000;
/// Cases of each codec property.
const CODEC_CASES: u32 = 1_000;
/// Schedules the coverage test runs (fixed seed).
const COVERAGE_SCHEDULES: usize = 300;

/// Accounts are made once: ML-KEM key generation is the slow part of setup. Each case
/// clones them, so every case can spend Bob's one-time prekeys again.
fn accounts() -> &'static Accounts {
    static ACCOUNTS: OnceLock<Accounts> = OnceLock::new();
    ACCOUNTS.get_or_init(|| Accounts::new(&mut rng(0x5eed)))
}

fn new_pair(seed: u64) -> Pair {
    establish(&mut accounts().clone(), rng(seed))
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

/// What a header says, in model terms: the sender's chain number (its DH ratchet epoch),
/// the message's counter in that chain, and the length of the sender's previous chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    epoch: u32,
    counter: u32,
    previous_len: u32,
}

/// A sender: it starts a new chain on its first send after it received a new chain.
#[derive(Clone, Debug)]
struct SenderModel {
    epoch: Option<u32>,
    next: u32,
    /// Length of the chain before this one: every header of this chain carries it.
    previous_len: u32,
    must_step: bool,
}

impl SenderModel {
    fn send(&mut self) -> Header {
        if self.must_step || self.epoch.is_none() {
            self.previous_len = if self.epoch.is_some() { self.next } else { 0 };
            self.epoch = Some(self.epoch.map_or(0, |e| e + 1));
            self.next = 0;
            self.must_step = false;
        }
        let header = Header {
            epoch: self.epoch.unwrap(),
            counter: self.next,
            previous_len: self.previous_len,
        };
        self.next += 1;
        header
    }
}

/// One receiving chain.
#[derive(Clone, Debug)]
struct ChainModel {
    epoch: u32,
    /// Current chain: the next counter expected. Past chain: its announced length.
    next: u32,
    /// Counters whose keys are stored, oldest first.
    stored: VecDeque<u32>,
    /// A missing key below this was evicted or expired, not used.
    expired_below: u32,
    /// Receiving step at which the chain was current (past chains only).
    step: u64,
}

impl ChainModel {
    fn missing(&self, counter: u32) -> DecryptError {
        if counter < self.expired_below {
            DecryptError::KeyExpired { counter }
        } else {
            DecryptError::Duplicate { counter }
        }
    }

    fn take_stored(&mut self, counter: u32) -> Result<(), DecryptError> {
        match self.stored.iter().position(|&c| c == counter) {
            Some(pos) => {
                self.stored.remove(pos);
                Ok(())
            }
            None => Err(self.missing(counter)),
        }
    }

    /// Notes keys skipped from `from` to `to`; at most `cap` are kept. Returns how many were
    /// dropped at once.
    fn skip(&mut self, from: u32, to: u32, cap: usize) -> u32 {
        let mut kept: VecDeque<u32> = (from..to).collect();
        let mut dropped = 0;
        while kept.len() > cap {
            kept.pop_front();
            dropped += 1;
        }
        if dropped > 0 {
            self.expired_below = self.expired_below.max(kept.front().copied().unwrap_or(to));
        }
        self.stored.extend(kept);
        dropped
    }
}

/// What a successful delivery reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Report {
    new_chain: bool,
    evicted: u32,
    expired: u32,
}

impl Report {
    fn events(&self) -> Vec<Event> {
        let mut events = Vec::new();
        if self.evicted > 0 {
            events.push(Event::SkippedKeysEvicted {
                count: self.evicted,
            });
        }
        if self.expired > 0 {
            events.push(Event::SkippedKeysExpired {
                count: self.expired,
            });
        }
        events
    }
}

/// A receiver, as the `RatchetConfig` documents it: a jump limit per chain, a cap on stored
/// keys (oldest evicted first), expiry after `skipped_key_max_age` receiving steps, and at
/// most `max_receiving_chains` past chains remembered at all.
#[derive(Clone, Debug)]
struct ReceiverModel {
    current: Option<ChainModel>,
    /// Newest first.
    past: VecDeque<ChainModel>,
    steps: u64,
    config: RatchetConfig,
}

impl ReceiverModel {
    fn stored(&self) -> usize {
        self.current
            .iter()
            .chain(&self.past)
            .map(|c| c.stored.len())
            .sum()
    }

    /// The result of receiving `h`; the model changes only on success.
    fn receive(&mut self, h: Header) -> Result<Report, DecryptError> {
        let max_jump = self.config.max_jump();
        let too_far = |gap: u32| DecryptError::TooFarAhead {
            gap: u64::from(gap),
            max: max_jump,
        };
        let cap = self.config.max_skipped_keys() as usize;

        if let Some(current) = self.current.as_mut()
            && current.epoch == h.epoch
        {
            if h.counter < current.next {
                current.take_stored(h.counter)?;
                return Ok(Report::default());
            }
            let gap = h.counter - current.next;
            if gap > max_jump {
                return Err(too_far(gap));
            }
            let from = current.next;
            let mut evicted = current.skip(from, h.counter, cap);
            current.next = h.counter + 1;
            evicted += self.enforce_cap();
            return Ok(Report {
                new_chain: false,
                evicted,
                expired: 0,
            });
        }

        let next_epoch = self.current.as_ref().map_or(0, |c| c.epoch + 1);
        if h.epoch == next_epoch {
            if let Some(current) = self.current.as_ref() {
                assert!(h.previous_len >= current.next, "honest peers never do this");
                let gap = h.previous_len - current.next;
                if gap > max_jump {
                    return Err(too_far(gap));
                }
            }
            if h.counter > max_jump {
                return Err(too_far(h.counter));
            }
            let mut report = Report {
                new_chain: true,
                ..Report::default()
            };
            if let Some(mut old) = self.current.take() {
                let from = old.next;
                report.evicted += old.skip(from, h.previous_len, cap);
                old.next = h.previous_len;
                old.step = self.steps;
                self.past.push_front(old);
            }
            let mut chain = ChainModel {
                epoch: h.epoch,
                next: h.counter + 1,
                stored: VecDeque::new(),
                expired_below: 0,
                step: 0,
            };
            report.evicted += chain.skip(0, h.counter, cap);
            self.current = Some(chain);
            self.steps += 1;
            report.expired = self.expire_old_chains();
            report.evicted += self.enforce_cap();
            return Ok(report);
        }

        for chain in self.past.iter_mut() {
            if chain.epoch == h.epoch {
                assert!(h.counter < chain.next, "honest peers never do this");
                chain.take_stored(h.counter)?;
                return Ok(Report::default());
            }
        }
        // The chain is forgotten: its header key is gone, but its session tag still names
        // this session and an epoch this state has passed (SPEC.md §5.7 T.2).
        Err(DecryptError::ChainForgotten)
    }

    fn expire_old_chains(&mut self) -> u32 {
        let max_age = u64::from(self.config.skipped_key_max_age());
        let mut expired = 0;
        for chain in self.past.iter_mut() {
            if self.steps - chain.step > max_age {
                expired += chain.stored.len() as u32;
                chain.stored.clear();
                chain.expired_below = chain.expired_below.max(chain.next);
            }
        }
        while self.past.len() > self.config.max_receiving_chains() as usize {
            expired += self.past.pop_back().unwrap().stored.len() as u32;
        }
        expired
    }

    fn enforce_cap(&mut self) -> u32 {
        let cap = self.config.max_skipped_keys() as usize;
        let mut total = self.stored();
        let mut evicted = 0;
        for chain in self.past.iter_mut().rev().chain(self.current.as_mut()) {
            while total > cap {
                let Some(counter) = chain.stored.pop_front() else {
                    break;
                };
                chain.expired_below = chain.expired_below.max(counter + 1);
                total -= 1;
                evicted += 1;
            }
        }
        evicted
    }
}

/// One party in the model.
#[derive(Clone, Debug)]
struct PartyModel {
    sender: SenderModel,
    receiver: ReceiverModel,
}

/// Both parties right after `establish`: Bob has read Alice's message 0 on her chain 0.
fn model_after_handshake(config: RatchetConfig) -> (PartyModel, PartyModel) {
    let alice = PartyModel {
        sender: SenderModel {
            epoch: Some(0),
            next: 1,
            previous_len: 0,
            must_step: false,
        },
        receiver: ReceiverModel {
            current: None,
            past: VecDeque::new(),
            steps: 0,
            config,
        },
    };
    let bob = PartyModel {
        sender: SenderModel {
            epoch: None,
            next: 0,
            previous_len: 0,
            must_step: true,
        },
        receiver: ReceiverModel {
            current: Some(ChainModel {
                epoch: 0,
                next: 1,
                stored: VecDeque::new(),
                expired_below: 0,
                step: 0,
            }),
            past: VecDeque::new(),
            steps: 1,
            config,
        },
    };
    (alice, bob)
}

// ---------------------------------------------------------------------------------------
// Tampering: which error a copy with one flipped bit must get
// ---------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum TamperExpect {
    Exactly(DecryptError),
    /// Clearing the one-time-prekey flag shifts the layout; what the shifted bytes decode
    /// to depends on the ML-KEM ciphertext.
    MalformedOrTampered,
}

/// Ratchet message layout (SPEC.md §6.2): the header nonce and encrypted header end at
/// `HEADER_END`; the session tag follows, up to the end of the prefix.
const HEADER_END: usize = 70;
const PREFIX_LEN: usize = RATCHET_MESSAGE_OVERHEAD - 16;
/// Type bytes with a meaning (SPEC.md §6): ratchet, prekey, reset request, bundle.
/// Every type byte of SPEC.md §1.4.1: another known type is `WrongType`, anything else
/// `UnknownType`.
/// (Those a one-bit flip of `0x01` or `0x02` can reach are what matters here: `0x81` is the
/// backup public key, SPEC.md §18.3.)
const KNOWN_TYPES: [u8; 18] = [
    0x01, 0x02, 0x03, 0x05, 0x10, 0x20, 0x21, 0x22, 0x23, 0x24, 0x30, 0x31, 0x32, 0x40, 0x41, 0x42,
    0x50, 0x81,
];

/// `genuine` is what the untouched message would get now.
fn tamper_expectation(
    original: &[u8],
    byte: usize,
    bit: u8,
    genuine: Result<(), DecryptError>,
) -> TamperExpect {
    use DecryptError as E;
    use TamperExpect::Exactly;
    let flipped = original[byte] ^ (1 << bit);
    let (inner, prekey) = match PreKeyMessage::decode(original) {
        Ok(p) => (original.len() - p.message().as_bytes().len(), true),
        Err(_) => (0, false),
    };
    match byte {
        0 => Exactly(E::Malformed(DecodeError::UnknownVersion(flipped))),
        // A version-1 type turned into a version-2 one (0x04 ratchet, 0x05 prekey) is read
        // with that type's layout, which the rest of the message does not fit.
        1 if matches!(flipped, 0x04 | 0x05) => TamperExpect::MalformedOrTampered,
        1 => Exactly(E::Malformed(DecodeError::UnknownType(flipped))),
        // identity_key, base_key: names a different session attempt.
        2..66 if prekey => Exactly(E::OtherSession),
        70 if prekey && flipped > 1 => Exactly(E::Malformed(DecodeError::InvalidField {
            field: "one_time_flag",
        })),
        70 if prekey => TamperExpect::MalformedOrTampered,
        // Every other prekey field is pinned by the session's digest of them.
        _ if byte < inner => Exactly(E::Tampered),
        _ => match byte - inner {
            0 => Exactly(E::Malformed(DecodeError::UnknownVersion(flipped))),
            // `message_kind` knows two types; the embedded message's decoder knows them all.
            1 if prekey && KNOWN_TYPES.contains(&flipped) => {
                Exactly(E::Malformed(DecodeError::WrongType {
                    expected: 0x01,
                    found: flipped,
                }))
            }
            1 => Exactly(E::Malformed(DecodeError::UnknownType(flipped))),
            // Header nonce or encrypted header: no header key opens it, and the session tag,
            // whose MAC covers both, fails too.
            2..HEADER_END => Exactly(E::Undecryptable),
            // Session tag: it only matters when no header key opens the message; otherwise
            // the body's associated data covers it.
            HEADER_END..PREFIX_LEN => Exactly(match genuine {
                Err(E::ChainForgotten | E::StateBehind { .. }) => E::Undecryptable,
                Err(e) => e,
                Ok(()) => E::Tampered,
            }),
            // Body: the header checks come first, then the body fails.
            _ => Exactly(genuine.err().unwrap_or(E::Tampered)),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Pos {
    FromStart(usize),
    FromEnd(usize),
}

impl Pos {
    fn resolve(self, len: usize) -> usize {
        match self {
            Pos::FromStart(i) => i % len,
            Pos::FromEnd(i) => len - 1 - i % len,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Send(Dir),
    /// Deliver the i-th message in flight, counting from the oldest or the newest (wrapping).
    Deliver(Dir, Pos),
    Duplicate(Dir, usize),
    Drop(Dir, usize),
    /// Deliver a copy of the i-th message in flight with one bit flipped.
    Tamper(Dir, usize, Pos, u8),
    /// Deliver everything in flight, last sent first.
    DeliverAllReversed(Dir),
    /// A quick round trip that overtakes everything in flight: send and deliver at once,
    /// then the same the other way. Moves both ratchets on while older messages wait.
    RoundTrip(Dir),
}

fn dir() -> impl Strategy<Value = Dir> {
    prop_oneof![Just(Dir::AliceToBob), Just(Dir::BobToAlice)]
}

fn pos() -> impl Strategy<Value = Pos> {
    prop_oneof![
        (0usize..80).prop_map(Pos::FromStart),
        (0usize..120).prop_map(Pos::FromEnd),
        any::<usize>().prop_map(Pos::FromStart),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let index = 0usize..12;
    prop_oneof![
        6 => dir().prop_map(Op::Send),
        5 => (dir(), index.clone(), any::<bool>()).prop_map(|(d, i, newest)| {
            Op::Deliver(d, if newest { Pos::FromEnd(i) } else { Pos::FromStart(i) })
        }),
        1 => (dir(), index.clone()).prop_map(|(d, i)| Op::Duplicate(d, i)),
        1 => (dir(), index.clone()).prop_map(|(d, i)| Op::Drop(d, i)),
        1 => (dir(), index, pos(), 0u8..8).prop_map(|(d, i, p, b)| Op::Tamper(d, i, p, b)),
        1 => dir().prop_map(Op::DeliverAllReversed),
        2 => dir().prop_map(Op::RoundTrip),
    ]
}

fn generous() -> RatchetConfig {
    RatchetConfig::new(
        HARD_MAX_JUMP,
        HARD_MAX_SKIPPED_KEYS,
        HARD_MAX_RECEIVING_CHAINS,
        HARD_MAX_SKIPPED_KEY_MAX_AGE,
    )
    .unwrap()
}

/// Generous limits (nothing is ever lost), the defaults, tight storage limits, and tight
/// limits including the jump limit.
fn config() -> impl Strategy<Value = RatchetConfig> {
    prop_oneof![
        1 => Just(generous()),
        1 => Just(RatchetConfig::default()),
        // A jump limit above the most messages a schedule can send (two per operation).
        2 => (1u32..=6, 1u32..=4, 1u32..=4).prop_map(|(keys, chains, age)| {
            RatchetConfig::new(3 * MAX_OPS as u32, keys, chains, age).unwrap()
        }),
        1 => (1u32..=4, 1u32..=6, 1u32..=4, 1u32..=4).prop_map(|(jump, keys, chains, age)| {
            RatchetConfig::new(jump, keys, chains, age).unwrap()
        }),
    ]
}

#[derive(Clone, Debug)]
struct Schedule {
    seed: u64,
    config: RatchetConfig,
    ops: Vec<Op>,
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (
        any::<u64>(),
        config(),
        proptest::collection::vec(op(), 0..=MAX_OPS),
    )
        .prop_map(|(seed, config, ops)| Schedule { seed, config, ops })
}

/// How often each kind of outcome happened (for the coverage test).
#[derive(Default, Debug)]
struct Stats {
    decrypted: usize,
    duplicate: usize,
    key_expired: usize,
    too_far_ahead: usize,
    forgotten: usize,
    tampered: usize,
    evicted_events: usize,
    expired_events: usize,
    out_of_order: usize,
}

struct Sent {
    dir: Dir,
    header: Header,
    plaintext: Vec<u8>,
    decrypted: u32,
}

fn plaintext(id: usize) -> Vec<u8> {
    let mut p = (id as u64).to_be_bytes().to_vec();
    p.extend(std::iter::repeat_n(id as u8, id * 7 % 50));
    p
}

struct Runner {
    sim: Sim,
    alice: PartyModel,
    bob: PartyModel,
    sent: Vec<Sent>,
    /// Nothing can be lost: every first delivery of a message must decrypt.
    lossless: bool,
    stats: Stats,
}

impl Runner {
    fn new(s: &Schedule) -> Self {
        let mut pair = new_pair(s.seed);
        pair.alice.set_config(s.config);
        pair.bob.set_config(s.config);
        let (alice, bob) = model_after_handshake(s.config);
        Runner {
            sim: Sim::new(pair),
            alice,
            bob,
            sent: Vec::new(),
            lossless: s.config == generous(),
            stats: Stats::default(),
        }
    }

    fn parties(&mut self, dir: Dir) -> (&mut PartyModel, &mut PartyModel) {
        match dir {
            Dir::AliceToBob => (&mut self.alice, &mut self.bob),
            Dir::BobToAlice => (&mut self.bob, &mut self.alice),
        }
    }

    fn send(&mut self, dir: Dir) -> usize {
        let text = plaintext(self.sent.len());
        let (sender, _) = self.parties(dir);
        // The initiator sends prekey messages until it has decrypted a reply.
        let expected_kind = if dir == Dir::AliceToBob && sender.receiver.current.is_none() {
            MessageKind::PreKey
        } else {
            MessageKind::Ratchet
        };
        let header = sender.sender.send();
        let id = self.sim.send(dir, &text);
        assert_eq!(id, self.sent.len());
        let last = self.sim.net.in_flight(dir) - 1;
        let bytes = &self.sim.net.peek(dir, last).unwrap().bytes;
        assert_eq!(message_kind(bytes), Ok(expected_kind));
        self.sent.push(Sent {
            dir,
            header,
            plaintext: text,
            decrypted: 0,
        });
        id
    }

    fn check(&mut self, dir: Dir, d: Delivery) {
        let id = d.packet.id;
        let sent = &self.sent[id];
        assert_eq!(sent.dir, dir);
        let (header, plaintext, decrypted) = (sent.header, sent.plaintext.clone(), sent.decrypted);
        let (_, receiver) = self.parties(dir);
        let mut peek = receiver.receiver.clone();
        let genuine = peek.receive(header);
        match d.packet.flipped {
            Some((byte, bit)) => {
                let original = {
                    let mut b = d.packet.bytes.clone();
                    b[byte] ^= 1 << bit;
                    b
                };
                let expect = tamper_expectation(&original, byte, bit, genuine.map(|_| ()));
                let err = d.result.expect_err("a tampered copy was accepted");
                match expect {
                    TamperExpect::Exactly(e) => assert_eq!(err, e, "flip at {byte}.{bit}"),
                    TamperExpect::MalformedOrTampered => assert!(
                        matches!(err, DecryptError::Malformed(_) | DecryptError::Tampered),
                        "{err:?}"
                    ),
                }
                assert!(!d.changed, "a rejected tampered copy changed the session");
                self.stats.tampered += 1;
            }
            None => {
                let already = decrypted > 0;
                match (&d.result, genuine) {
                    (Ok(out), Ok(report)) => {
                        assert!(!already, "message {id} decrypted twice");
                        assert_eq!(out.plaintext, plaintext);
                        assert_eq!(out.events, report.events());
                        assert!(d.changed);
                        receiver.receiver = peek;
                        if report.new_chain {
                            receiver.sender.must_step = true;
                        }
                        self.sent[id].decrypted += 1;
                        self.stats.decrypted += 1;
                        self.stats.evicted_events += usize::from(report.evicted > 0);
                        self.stats.expired_events += usize::from(report.expired > 0);
                        if header.counter + 1 < self.parties(dir).1.receiver.current_next() {
                            self.stats.out_of_order += 1;
                        }
                    }
                    (Err(err), Err(expected)) => {
                        assert_eq!(*err, expected, "message {id} {header:?}");
                        assert!(!d.changed, "a rejected message changed the session");
                        assert!(already || !self.lossless, "lossless config lost {id}");
                        if already {
                            // A message decrypted once is never accepted again.
                            assert!(matches!(
                                err,
                                DecryptError::Duplicate { .. }
                                    | DecryptError::KeyExpired { .. }
                                    | DecryptError::ChainForgotten
                            ));
                        }
                        match err {
                            DecryptError::Duplicate { .. } => self.stats.duplicate += 1,
                            DecryptError::KeyExpired { .. } => self.stats.key_expired += 1,
                            DecryptError::TooFarAhead { .. } => self.stats.too_far_ahead += 1,
                            DecryptError::ChainForgotten => self.stats.forgotten += 1,
                            _ => {}
                        }
                    }
                    (result, expected) => {
                        panic!("message {id} {header:?}: got {result:?}, model says {expected:?}")
                    }
                }
            }
        }
        let (_, receiver) = self.parties(dir);
        let stored = receiver.receiver.stored();
        let cap = receiver.receiver.config.max_skipped_keys() as usize;
        assert_eq!(self.sim.receiver(dir).stored_skipped_keys(), stored);
        assert!(stored <= cap);
    }

    fn deliver(&mut self, dir: Dir, index: usize) {
        if let Some(d) = self.sim.deliver(dir, index) {
            self.check(dir, d);
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Send(dir) => {
                self.send(dir);
            }
            Op::Deliver(dir, pos) => {
                let in_flight = self.sim.net.in_flight(dir);
                if in_flight > 0 {
                    self.deliver(dir, pos.resolve(in_flight));
                }
            }
            Op::Duplicate(dir, i) => {
                self.sim.net.duplicate(dir, i);
            }
            Op::Drop(dir, i) => {
                self.sim.net.take(dir, i);
            }
            Op::Tamper(dir, i, pos, bit) => {
                let Some(len) = self.sim.net.peek(dir, i).map(|p| p.bytes.len()) else {
                    return;
                };
                let at = self.sim.net.tamper(dir, i, pos.resolve(len), bit).unwrap();
                self.deliver(dir, at);
            }
            Op::RoundTrip(dir) => {
                for dir in [dir, dir.reverse()] {
                    self.send(dir);
                    let newest = self.sim.net.in_flight(dir) - 1;
                    self.deliver(dir, newest);
                }
            }
            Op::DeliverAllReversed(dir) => {
                self.sim.net.reverse(dir);
                while self.sim.net.in_flight(dir) > 0 {
                    self.deliver(dir, 0);
                }
            }
        }
    }

    /// Runs the schedule, drains the network, then checks both sides still talk.
    fn run(mut self, ops: &[Op]) -> Stats {
        for &op in ops {
            self.apply(op);
        }
        for dir in [Dir::AliceToBob, Dir::BobToAlice] {
            while self.sim.net.in_flight(dir) > 0 {
                self.deliver(dir, 0);
            }
        }
        // Under a jump limit no schedule can exceed, nothing can wedge the session.
        let sends = self.sent.len() + 6;
        let must_work = self.alice.receiver.config.max_jump() as usize >= sends;
        for dir in [
            Dir::AliceToBob,
            Dir::BobToAlice,
            Dir::AliceToBob,
            Dir::BobToAlice,
            Dir::AliceToBob,
            Dir::BobToAlice,
        ] {
            let id = self.send(dir);
            let d = self.sim.deliver(dir, 0).unwrap();
            assert_eq!(d.packet.id, id);
            assert!(
                !must_work || d.result.is_ok(),
                "{dir:?} failed after the schedule"
            );
            self.check(dir, d);
        }
        for s in &self.sent {
            assert!(s.decrypted <= 1);
        }
        self.stats
    }
}

impl ReceiverModel {
    fn current_next(&self) -> u32 {
        self.current.as_ref().map_or(0, |c| c.next)
    }
}

fn run_schedule(s: &Schedule) -> Stats {
    Runner::new(s).run(&s.ops)
}

proptest! {
    #![proptest_config(crate::common::proptest_config(SCHEDULE_CASES))]

    /// Any schedule of sends, deliveries, duplicates, drops, tampering and reversals: every
    /// delivery gets exactly the result the model derives from the config, every rejection
    /// leaves the session unchanged, and both sides can still talk afterwards.
    #[test]
    fn any_schedule_decrypts_each_message_at_most_once_and_exactly_as_modelled(
        s in schedule()
    ) {
        run_schedule(&s);
    }
}

/// The schedule generator actually reaches every outcome the property claims to check.
#[test]
fn schedules_reach_every_outcome() {
    let mut runner = TestRunner::deterministic();
    let strategy = schedule();
    let mut total = Stats::default();
    for _ in 0..COVERAGE_SCHEDULES {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        let st = run_schedule(&s);
        total.decrypted += st.decrypted;
        total.duplicate += st.duplicate;
        total.key_expired += st.key_expired;
        total.too_far_ahead += st.too_far_ahead;
        total.forgotten += st.forgotten;
        total.tampered += st.tampered;
        total.evicted_events += st.evicted_events;
        total.expired_events += st.expired_events;
        total.out_of_order += st.out_of_order;
    }
    let Stats {
        decrypted,
        duplicate,
        key_expired,
        too_far_ahead,
        forgotten,
        tampered,
        evicted_events,
        expired_events,
        out_of_order,
    } = total;
    for (name, count) in [
        ("decrypted", decrypted),
        ("duplicate", duplicate),
        ("key_expired", key_expired),
        ("too_far_ahead", too_far_ahead),
        ("forgotten", forgotten),
        ("tampered", tampered),
        ("evicted_events", evicted_events),
        ("expired_events", expired_events),
        ("out_of_order", out_of_order),
    ] {
        assert!(count > 0, "no schedule produced {name}: {total:?}");
    }
}

/// Flips every bit of a message, one at a time, and checks each copy gets exactly the error
/// `tamper_expectation` derives, with the session unchanged: a prekey message and a ratchet
/// message that are new, one already decrypted (`Duplicate`), and one whose chain is
/// forgotten (`ChainForgotten`).
#[test]
fn every_bit_flip_gets_its_predicted_error() {
    fn check_all_flips(receiver: &Session, original: &[u8]) {
        let genuine = receiver.clone().decrypt(original).map(|_| ());
        for byte in 0..original.len() {
            for bit in 0..8 {
                let mut bad = original.to_vec();
                bad[byte] ^= 1 << bit;
                let mut session = receiver.clone();
                let err = session.decrypt(&bad).unwrap_err();
                match tamper_expectation(original, byte, bit, genuine) {
                    TamperExpect::Exactly(e) => assert_eq!(err, e, "flip at {byte}.{bit}"),
                    TamperExpect::MalformedOrTampered => assert!(
                        matches!(err, DecryptError::Malformed(_) | DecryptError::Tampered),
                        "flip at {byte}.{bit}: {err:?}"
                    ),
                }
                assert!(
                    session == *receiver,
                    "flip at {byte}.{bit} changed the session"
                );
            }
        }
    }
    let mut p = new_pair(3);
    p.bob
        .set_config(RatchetConfig::new(100, 100, 1, 1).unwrap());
    let prekey = p.alice.encrypt(b"a prekey message", &mut p.rng).unwrap();
    check_all_flips(&p.bob, &prekey);
    assert!(p.bob.decrypt(&prekey).is_ok());
    check_all_flips(&p.bob, &prekey);

    let step = |p: &mut Pair| {
        let reply = p.bob.encrypt(b"reply", &mut p.rng).unwrap();
        p.alice.decrypt(&reply).unwrap().plaintext
    };
    step(&mut p);
    let ratchet = p.alice.encrypt(b"a ratchet message", &mut p.rng).unwrap();
    check_all_flips(&p.bob, &ratchet);
    assert!(p.bob.decrypt(&ratchet).is_ok());
    check_all_flips(&p.bob, &ratchet);
    // Two more receiving steps forget the chain (one past chain is kept).
    for _ in 0..2 {
        step(&mut p);
        let m = p.alice.encrypt(b"next", &mut p.rng).unwrap();
        assert!(p.bob.decrypt(&m).is_ok());
    }
    assert_eq!(
        p.bob.clone().decrypt(&ratchet).map(|d| d.plaintext),
        Err(DecryptError::ChainForgotten)
    );
    check_all_flips(&p.bob, &ratchet);
}

// ---------------------------------------------------------------------------------------
// Codecs
// ---------------------------------------------------------------------------------------

/// A session pair, made once, whose sides are cloned per case.
fn shared_pair() -> &'static (Session, Session, Vec<u8>) {
    static PAIR: OnceLock<(Session, Session, Vec<u8>)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let mut p = new_pair(77);
        // Keep Alice in the prekey phase: one prekey message and one reply in hand.
        let prekey = p.alice.encrypt(b"prekey", &mut p.rng).unwrap();
        (p.alice, p.bob, prekey)
    })
}

fn ratchet_layout() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), RATCHET_MESSAGE_OVERHEAD - 2..400).prop_map(|rest| {
        let mut b = vec![1, 0x01];
        b.extend(rest);
        b
    })
}

#[derive(Clone, Debug)]
struct PreKeyFields {
    identity: [u8; 32],
    base: [u8; 32],
    signed_id: u32,
    one_time_id: Option<u32>,
    kem_id: u32,
    kem_ciphertext: Vec<u8>,
}

fn prekey_fields() -> impl Strategy<Value = PreKeyFields> {
    (
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u32>(),
        any::<Option<u32>>(),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 1088),
    )
        .prop_map(
            |(identity, base, signed_id, one_time_id, kem_id, kem_ciphertext)| PreKeyFields {
                identity,
                base,
                signed_id,
                one_time_id,
                kem_id,
                kem_ciphertext,
            },
        )
}

fn encode_prekey(f: &PreKeyFields, ratchet: &[u8]) -> Vec<u8> {
    let mut b = vec![1, 0x02];
    b.extend_from_slice(&f.identity);
    b.extend_from_slice(&f.base);
    b.extend_from_slice(&f.signed_id.to_be_bytes());
    match f.one_time_id {
        Some(id) => {
            b.push(1);
            b.extend_from_slice(&id.to_be_bytes());
        }
        None => b.push(0),
    }
    b.extend_from_slice(&f.kem_id.to_be_bytes());
    b.extend_from_slice(&f.kem_ciphertext);
    b.extend_from_slice(ratchet);
    b
}

fn array<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    proptest::collection::vec(any::<u8>(), N).prop_map(|v| v.try_into().unwrap())
}

fn bundle() -> impl Strategy<Value = PreKeyBundle> {
    (
        array::<32>(),
        any::<u32>(),
        array::<32>(),
        array::<64>(),
        proptest::option::of((any::<u32>(), array::<32>())),
        any::<u32>(),
        any::<bool>(),
        array::<1184>(),
        array::<64>(),
    )
        .prop_map(
            |(seed, spk_id, spk, spk_sig, otk, kem_id, last_resort, kem, kem_sig)| PreKeyBundle {
                identity_key: *IdentityKeyPair::dangerous_from_seed(&seed).public(),
                signed_prekey: SignedPreKeyPublic {
                    id: spk_id,
                    key: spk,
                    signature: spk_sig,
                },
                one_time_prekey: otk.map(|(id, key)| OneTimePreKeyPublic { id, key }),
                kem_prekey: KemPreKeyPublic {
                    id: kem_id,
                    kind: if last_resort {
                        KemPreKeyKind::LastResort
                    } else {
                        KemPreKeyKind::OneTime
                    },
                    key: Box::new(kem),
                    signature: kem_sig,
                },
            },
        )
}

/// Bytes that mostly get past the version and type bytes, so decoders go deep.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let tail = proptest::collection::vec(any::<u8>(), 0..1600);
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        (
            prop_oneof![Just(0x01u8), Just(0x02), Just(0x10), any::<u8>()],
            tail
        )
            .prop_map(|(kind, tail)| {
                let mut b = vec![1, kind];
                b.extend(tail);
                b
            }),
    ]
}

#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Delete(usize),
    Set(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Edit::Flip(i, b)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Edit::Insert(i, v)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Edit::Set(i, v)),
    ]
}

fn apply_edits(bytes: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for e in edits {
        let len = b.len();
        match *e {
            Edit::Flip(i, bit) if len > 0 => b[i % len] ^= 1 << bit,
            Edit::Truncate(i) => b.truncate(i % (len + 1)),
            Edit::Insert(i, v) => b.insert(i % (len + 1), v),
            Edit::Delete(i) if len > 0 => {
                b.remove(i % len);
            }
            Edit::Set(i, v) if len > 0 => b[i % len] = v,
            _ => {}
        }
    }
    b
}

/// Every decoder and every entry point that takes attacker bytes: no panic, a typed error,
/// nothing changed.
fn feed_everywhere(bytes: &[u8], bob: &Session, account: &Account) {
    let _ = message_kind(bytes);
    let _ = RatchetMessage::decode(bytes);
    let _ = PreKeyMessage::decode(bytes);
    let _ = PreKeyBundle::from_bytes(bytes);

    let mut session = bob.clone();
    assert!(session.decrypt(bytes).is_err());
    assert!(session == *bob, "a rejected message changed the session");

    let mut acct = account.clone();
    assert!(acct.create_inbound_session(bytes, NOW).is_err());
    assert_eq!(
        acct.one_time_prekey_counts(),
        account.one_time_prekey_counts()
    );
    assert_eq!(acct.published_prekeys(), account.published_prekeys());
}

proptest! {
    #![proptest_config(crate::common::proptest_config(CODEC_CASES))]

    /// Arbitrary bytes never panic any decoder, and never change a session or an account.
    #[test]
    fn arbitrary_bytes_are_rejected_without_panic_or_state_change(bytes in hostile_bytes()) {
        let (_, bob, _) = shared_pair();
        feed_everywhere(&bytes, bob, &accounts().bob);
    }

    /// Any edit of a genuine message is rejected and changes nothing; the genuine message
    /// still decrypts afterwards. Covers ratchet messages, prekey messages on the session
    /// they started, and prekey messages offered to the account as a new session.
    #[test]
    fn edited_genuine_messages_are_rejected_and_the_original_still_works(
        edits in proptest::collection::vec(edit(), 1..4),
        reply in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let (alice, bob, prekey) = shared_pair();
        let (mut sender, receiver) = if reply {
            (bob.clone(), alice.clone())
        } else {
            (alice.clone(), bob.clone())
        };
        let genuine = sender.encrypt(b"genuine message", &mut rng(seed)).unwrap();
        let edited = apply_edits(&genuine, &edits);
        if edited != genuine {
            let mut session = receiver.clone();
            let err = session.decrypt(&edited).unwrap_err();
            prop_assert!(session == receiver, "{:?} changed the session", err);
            prop_assert_eq!(session.decrypt(&genuine).unwrap().plaintext, b"genuine message");
        }

        // The same edits on the session-starting message, offered to Bob's account.
        let edited_first = apply_edits(prekey, &edits);
        if edited_first != *prekey {
            let mut account = accounts().bob.clone();
            let counts = account.one_time_prekey_counts();
            prop_assert!(account.create_inbound_session(&edited_first, NOW).is_err());
            prop_assert_eq!(account.one_time_prekey_counts(), counts);
            prop_assert_eq!(
                account.create_inbound_session(prekey, NOW).unwrap().plaintext,
                b"prekey"
            );
        }
    }

    /// Every ratchet-message layout decodes, and decoding borrows exactly the input.
    #[test]
    fn ratchet_message_layouts_round_trip(bytes in ratchet_layout()) {
        let m = RatchetMessage::decode(&bytes).unwrap();
        prop_assert_eq!(m.as_bytes(), &bytes[..]);
        prop_assert_eq!(m.plaintext_len(), bytes.len() - RATCHET_MESSAGE_OVERHEAD);
        prop_assert_eq!(message_kind(&bytes), Ok(MessageKind::Ratchet));
        prop_assert_eq!(
            PreKeyMessage::decode(&bytes),
            Err(DecodeError::WrongType { expected: 0x02, found: 0x01 })
        );
    }

    /// Every prekey-message layout decodes to its fields and round-trips.
    #[test]
    fn prekey_message_layouts_round_trip(f in prekey_fields(), ratchet in ratchet_layout()) {
        let bytes = encode_prekey(&f, &ratchet);
        let m = PreKeyMessage::decode(&bytes).unwrap();
        prop_assert_eq!(m.as_bytes(), &bytes[..]);
        prop_assert_eq!(m.identity_key_bytes(), &f.identity);
        prop_assert_eq!(m.base_key(), &f.base);
        prop_assert_eq!(m.signed_prekey_id(), f.signed_id);
        prop_assert_eq!(m.one_time_prekey_id(), f.one_time_id);
        prop_assert_eq!(m.kem_prekey_id(), f.kem_id);
        prop_assert_eq!(m.message().as_bytes(), &ratchet[..]);
        prop_assert_eq!(message_kind(&bytes), Ok(MessageKind::PreKey));
    }

    /// Genuine messages of any length decode and round-trip.
    #[test]
    fn genuine_messages_round_trip(
        len in 0usize..2000,
        reply in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let (alice, bob, _) = shared_pair();
        let mut sender = if reply { bob.clone() } else { alice.clone() };
        let text = vec![0xa5; len];
        let bytes = sender.encrypt(&text, &mut rng(seed)).unwrap();
        if reply {
            let m = RatchetMessage::decode(&bytes).unwrap();
            prop_assert_eq!(m.as_bytes(), &bytes[..]);
            prop_assert_eq!(m.plaintext_len(), len);
        } else {
            let m = PreKeyMessage::decode(&bytes).unwrap();
            prop_assert_eq!(m.as_bytes(), &bytes[..]);
            prop_assert_eq!(m.message().plaintext_len(), len);
            let inner = RatchetMessage::decode(m.message().as_bytes()).unwrap();
            prop_assert_eq!(inner, *m.message());
        }
    }

    /// Bundles round-trip through their encoding in both directions.
    #[test]
    fn bundles_round_trip(b in bundle()) {
        let bytes = b.to_bytes();
        let extra = if b.one_time_prekey.is_some() { 36 } else { 0 };
        prop_assert_eq!(bytes.len(), BUNDLE_LEN_WITHOUT_ONE_TIME + extra);
        let decoded = PreKeyBundle::from_bytes(&bytes).unwrap();
        prop_assert_eq!(&decoded, &b);
        prop_assert_eq!(decoded.to_bytes(), bytes);
    }
}

/// Genuine bundles published by an account round-trip too.
#[test]
fn published_bundles_round_trip() {
    let mut published = accounts().bob.published_prekeys();
    // One-time keys first, then the last-resort fallback without one-time keys.
    for _ in 0..(published.one_time_prekeys.len() + 1) {
        let b = published.take_bundle();
        b.verify().unwrap();
        let bytes = b.to_bytes();
        assert_eq!(PreKeyBundle::from_bytes(&bytes).unwrap(), b);
        assert_eq!(PreKeyBundle::from_bytes(&bytes).unwrap().to_bytes(), bytes);
    }
}
