//! Shared test helpers: a seeded RNG, a fixed clock, an Alice/Bob session pair, and an
//! in-memory network that can deliver, drop, reorder, duplicate and tamper with messages.
//!
//! Like `examples/`, the network only moves bytes: it feeds them to a [`Session`] and hands
//! back what came out, plus whether the receiving session changed.

// Each test file uses a different subset of these helpers, and `pub` here means "for the
// test files", which `unreachable_pub` cannot know.
#![allow(dead_code, unreachable_pub)]
// Test code (and the reference implementation of the vectors): a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::{Account, DecryptError, Decrypted, PreKeyBundle, Session, Timestamp};
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};
use rand_core::SeedableRng;

pub mod history_desk;
/// The reference implementation of certificates and sealed envelopes that the sealed, reset and
/// adversarial tests check the library against (kept beside the vectors it writes).
#[path = "../vectors/sealed/reference.rs"]
pub mod sealed_reference;
pub mod support;
pub mod vector_file;
pub mod vector_json;

/// The fixed "current time" of every test. Tests that need time to pass use `plus_secs`.
pub const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

/// [`NOW`] in seconds since the Unix epoch, for the vector files that pass raw seconds.
pub const NOW_SECS: u64 = 1_700_000_000;

/// proptest's configuration with `cases` cases, its failures persisted beside the test's
/// source file (`<file>.proptest-regressions`). proptest's default, on finding each target
/// folder's `main.rs`, would put every target's regressions in one `tests/proptest-regressions/`
/// where same-named modules of two targets (`api/group.rs`, `properties/group.rs`) collide.
pub fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// A deterministic CSPRNG: the same seed gives the same keys, nonces and messages.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Alice's and Bob's accounts; Bob holds a few one-time prekeys of each kind.
#[derive(Clone)]
pub struct Accounts {
    pub alice: Account,
    pub bob: Account,
}

impl Accounts {
    pub fn new(rng: &mut ChaCha20Rng) -> Self {
        let alice = Account::new(NOW, rng);
        let mut bob = Account::new(NOW, rng);
        bob.generate_one_time_prekeys(5, 5, NOW, rng)
            .expect("5 one-time prekeys are within the limits");
        Accounts { alice, bob }
    }
}

/// Two established sessions. Bob has decrypted Alice's first message (`b"hello"`); Alice has
/// not heard back yet, so her messages are still prekey messages.
pub struct Pair {
    pub rng: ChaCha20Rng,
    pub alice: Session,
    pub bob: Session,
}

/// Builds a session pair on `accounts` (consuming one of Bob's one-time prekeys).
pub fn establish(accounts: &mut Accounts, rng: ChaCha20Rng) -> Pair {
    let bundle = accounts.bob.published_prekeys().take_bundle();
    establish_from(accounts, &bundle, rng)
}

/// Builds a session pair on `accounts` from a given bundle of Bob's.
pub fn establish_from(
    accounts: &mut Accounts,
    bundle: &PreKeyBundle,
    mut rng: ChaCha20Rng,
) -> Pair {
    let mut alice = accounts
        .alice
        .create_outbound_session(bundle, &mut rng)
        .expect("genuine bundle");
    let first = alice.encrypt(b"hello", &mut rng).expect("short plaintext");
    let inbound = accounts
        .bob
        .create_inbound_session(&first, NOW)
        .expect("genuine first message");
    assert_eq!(inbound.plaintext, b"hello");
    Pair {
        rng,
        alice,
        bob: inbound.session,
    }
}

/// Fresh accounts and a session pair between them, all from one seed.
pub fn pair(seed: u64) -> Pair {
    let mut rng = rng(seed);
    let mut accounts = Accounts::new(&mut rng);
    establish(&mut accounts, rng)
}

/// Which way a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    AliceToBob,
    BobToAlice,
}

impl Dir {
    /// The way back.
    pub fn reverse(self) -> Dir {
        match self {
            Dir::AliceToBob => Dir::BobToAlice,
            Dir::BobToAlice => Dir::AliceToBob,
        }
    }

    fn index(self) -> usize {
        match self {
            Dir::AliceToBob => 0,
            Dir::BobToAlice => 1,
        }
    }
}

/// Bytes on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Which send produced the bytes; duplicates and tampered copies keep it.
    pub id: usize,
    pub bytes: Vec<u8>,
    /// `(byte, bit)` the network flipped, if it tampered with this copy.
    pub flipped: Option<(usize, u8)>,
}

/// Per-direction queues of messages in flight. Indexes wrap around the queue length, so a
/// random schedule never names a missing message; every operation on an empty queue is a
/// no-op that returns `None`.
#[derive(Default)]
pub struct Network {
    queues: [Vec<Packet>; 2],
    sent: usize,
}

impl Network {
    /// Puts new bytes on the wire and returns their id.
    pub fn send(&mut self, dir: Dir, bytes: Vec<u8>) -> usize {
        let id = self.sent;
        self.sent += 1;
        self.queue(dir).push(Packet {
            id,
            bytes,
            flipped: None,
        });
        id
    }

    /// Messages waiting to be delivered in this direction.
    pub fn in_flight(&self, dir: Dir) -> usize {
        self.queues[dir.index()].len()
    }

    fn queue(&mut self, dir: Dir) -> &mut Vec<Packet> {
        &mut self.queues[dir.index()]
    }

    fn wrap(&self, dir: Dir, index: usize) -> Option<usize> {
        let len = self.in_flight(dir);
        (len > 0).then(|| index % len)
    }

    /// The i-th message in flight (wrapping), left in place.
    pub fn peek(&self, dir: Dir, index: usize) -> Option<&Packet> {
        let i = self.wrap(dir, index)?;
        self.queues[dir.index()].get(i)
    }

    /// Removes a message from the wire: to deliver it, or to lose it.
    pub fn take(&mut self, dir: Dir, index: usize) -> Option<Packet> {
        let i = self.wrap(dir, index)?;
        Some(self.queue(dir).remove(i))
    }

    /// Puts a second copy of a message at the back of the queue.
    pub fn duplicate(&mut self, dir: Dir, index: usize) -> Option<usize> {
        let i = self.wrap(dir, index)?;
        let copy = self.queue(dir)[i].clone();
        self.queue(dir).push(copy.clone());
        Some(copy.id)
    }

    /// Inserts, just before a message, a copy of it with one bit flipped (the original stays
    /// in flight). `byte` wraps around the message length; `bit` is taken modulo 8.
    pub fn tamper(&mut self, dir: Dir, index: usize, byte: usize, bit: u8) -> Option<usize> {
        let i = self.wrap(dir, index)?;
        let mut copy = self.queue(dir)[i].clone();
        let byte = byte % copy.bytes.len();
        let bit = bit % 8;
        copy.bytes[byte] ^= 1 << bit;
        copy.flipped = Some((byte, bit));
        self.queue(dir).insert(i, copy);
        Some(i)
    }

    /// Reverses the delivery order of everything in flight in this direction.
    pub fn reverse(&mut self, dir: Dir) {
        self.queue(dir).reverse();
    }
}

/// What happened when the network delivered one message.
pub struct Delivery {
    pub packet: Packet,
    pub result: Result<Decrypted, DecryptError>,
    /// Whether the receiving session differs from its state before the call.
    pub changed: bool,
}

/// Two parties talking over a [`Network`].
pub struct Sim {
    pub pair: Pair,
    pub net: Network,
}

impl Sim {
    pub fn new(pair: Pair) -> Self {
        Sim {
            pair,
            net: Network::default(),
        }
    }

    pub fn sender(&mut self, dir: Dir) -> &mut Session {
        match dir {
            Dir::AliceToBob => &mut self.pair.alice,
            Dir::BobToAlice => &mut self.pair.bob,
        }
    }

    pub fn receiver(&mut self, dir: Dir) -> &mut Session {
        match dir {
            Dir::AliceToBob => &mut self.pair.bob,
            Dir::BobToAlice => &mut self.pair.alice,
        }
    }

    /// Encrypts `plaintext` at the sender and puts it on the wire; returns the message id.
    pub fn send(&mut self, dir: Dir, plaintext: &[u8]) -> usize {
        let Pair { rng, alice, bob } = &mut self.pair;
        let sender = match dir {
            Dir::AliceToBob => alice,
            Dir::BobToAlice => bob,
        };
        let bytes = sender.encrypt(plaintext, rng).expect("encrypt");
        self.net.send(dir, bytes)
    }

    /// Takes a message off the wire and feeds it to the receiver.
    pub fn deliver(&mut self, dir: Dir, index: usize) -> Option<Delivery> {
        let packet = self.net.take(dir, index)?;
        Some(self.feed(dir, packet))
    }

    /// Feeds a packet to the receiver as if the network had delivered it.
    pub fn feed(&mut self, dir: Dir, packet: Packet) -> Delivery {
        let receiver = self.receiver(dir);
        let before = receiver.clone();
        let result = receiver.decrypt(&packet.bytes);
        let changed = *receiver != before;
        Delivery {
            packet,
            result,
            changed,
        }
    }
}
