//! `conversation` (structured, `arbitrary`): a whole two-party conversation, from Alice's
//! first prekey message to Bob's inbound session and on through the ratchet, driven by a
//! random schedule of sends, deliveries in any order, drops, duplicates, bit flips, splices
//! of two messages and persistence round trips.
//!
//! Invariants checked after every step:
//! - every untampered message that is delivered decrypts exactly once, to its plaintext, or
//!   fails only because its key was legitimately forgotten (`KeyExpired`, `ChainForgotten`);
//! - a duplicate, a flipped or a spliced message fails with a typed error and leaves the
//!   session (or, before Bob has a session, Bob's account) exactly as it was;
//! - a session restored from its encrypted blob equals the one exported;
//! - in a three-member group driven alongside, every group message reaches every other
//!   member exactly once in any order, and duplicates and flipped messages are refused with
//!   the member's session unchanged.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use chacha20::ChaCha20Rng;
use hushwire::group::{GroupRole, GroupSession};
use hushwire::{Account, DecryptError, IdentityKeyPair, Session, StorageKey};
use rand_core::SeedableRng;

use super::{NOW, SEED};

/// At most this many steps per input (longer schedules add little and slow the fuzzer down).
const MAX_STEPS: usize = 256;

#[derive(Arbitrary, Debug, Clone, Copy)]
pub(crate) enum Step {
    /// The sender writes a message of `len` bytes.
    Send { from_bob: bool, len: u8 },
    /// The relay delivers an in-flight message (any one: reordering).
    Deliver { to_bob: bool, pick: u8 },
    /// The relay delivers a message that was already delivered.
    Duplicate { to_bob: bool, pick: u8 },
    /// The relay loses an in-flight message.
    Drop { to_bob: bool, pick: u8 },
    /// The relay flips bits of a message (in flight or delivered) and delivers the result.
    Flip {
        to_bob: bool,
        pick: u8,
        pos: u16,
        mask: u8,
    },
    /// The relay joins the start of one message and the end of another.
    Splice {
        to_bob: bool,
        first: u8,
        second: u8,
        cut: u16,
    },
    /// The receiver persists its session and restores it.
    Persist { bob: bool },
    /// A member of the three-member group sends.
    GroupSend { from: u8, len: u8 },
    /// The server hands a member a group message it has not had yet (any order).
    GroupDeliver { to: u8, pick: u8 },
    /// The server hands a member a group message again.
    GroupDuplicate { to: u8, pick: u8 },
    /// The server flips bits of a group message and hands it to a member.
    GroupFlip {
        to: u8,
        pick: u8,
        pos: u16,
        mask: u8,
    },
}

#[derive(Debug)]
pub(crate) struct Schedule {
    pub(crate) seed: u64,
    pub(crate) steps: Vec<Step>,
}

struct Fixture {
    alice: Session,
    bob: Account,
    /// Three members of one group, every sender key delivered.
    group: Vec<GroupSession>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(SEED ^ 0xc0);
        let alice = Account::new(NOW, &mut rng);
        let mut bob = Account::new(NOW, &mut rng);
        bob.generate_one_time_prekeys(2, 2, NOW, &mut rng)
            .expect("prekeys");
        let bundle = bob.published_prekeys().take_bundle();
        let alice = alice
            .create_outbound_session(&bundle, &mut rng)
            .expect("outbound");
        let ids: Vec<IdentityKeyPair> = (0..3)
            .map(|_| IdentityKeyPair::generate(&mut rng))
            .collect();
        let created = GroupSession::create(
            &ids[0],
            &[
                (*ids[1].public(), GroupRole::Member),
                (*ids[2].public(), GroupRole::Member),
            ],
            &mut rng,
        )
        .expect("group");
        let mut group = vec![created.session];
        let mut dists = vec![created.distribution];
        for id in &ids[1..] {
            let joined = GroupSession::join(id, &created.welcome.bytes, ids[0].public(), &mut rng)
                .expect("join");
            group.push(joined.session);
            dists.push(joined.distribution);
        }
        for (from, d) in dists.iter().enumerate() {
            for r in &d.recipients {
                let to = ids.iter().position(|k| k.public() == r).expect("member");
                let _ = group[to]
                    .receive_distribution(
                        hushwire::group::AuthenticatedSender::assume_authenticated(
                            *ids[from].public(),
                        ),
                        &d.bytes,
                    )
                    .expect("distribution");
            }
        }
        Fixture { alice, bob, group }
    })
}

struct Message {
    bytes: Vec<u8>,
    plaintext: Vec<u8>,
    delivered: bool,
    lost: bool,
}

struct GroupMessage {
    from: usize,
    bytes: Vec<u8>,
    plaintext: Vec<u8>,
    delivered: [bool; 3],
}

struct Conversation {
    group: Vec<GroupSession>,
    group_messages: Vec<GroupMessage>,
    rng: ChaCha20Rng,
    alice: Session,
    bob_account: Account,
    bob: Option<Session>,
    /// Messages to Bob and to Alice, in sending order.
    to_bob: Vec<Message>,
    to_alice: Vec<Message>,
    sent: u32,
}

/// What a receiver did with some bytes.
enum Received {
    Read(Vec<u8>),
    Refused(String, Option<DecryptError>),
}

impl Conversation {
    fn queue(&mut self, to_bob: bool) -> &mut Vec<Message> {
        if to_bob {
            &mut self.to_bob
        } else {
            &mut self.to_alice
        }
    }

    /// Feeds `bytes` to the receiver; on a refusal, asserts its state is unchanged.
    fn receive(&mut self, to_bob: bool, bytes: &[u8]) -> Received {
        let session = if to_bob {
            match self.bob.as_mut() {
                Some(s) => s,
                None => {
                    let counts = self.bob_account.one_time_prekey_counts();
                    let published = self.bob_account.published_prekeys();
                    return match self.bob_account.create_inbound_session(bytes, NOW) {
                        Ok(inbound) => {
                            self.bob = Some(inbound.session);
                            Received::Read(inbound.plaintext)
                        }
                        Err(e) => {
                            assert_eq!(self.bob_account.one_time_prekey_counts(), counts);
                            assert!(self.bob_account.published_prekeys() == published);
                            Received::Refused(format!("{e:?}"), None)
                        }
                    };
                }
            }
        } else {
            &mut self.alice
        };
        let before = session.clone();
        match session.decrypt(bytes) {
            Ok(read) => Received::Read(read.plaintext),
            Err(e) => {
                assert!(
                    *session == before,
                    "refused message ({e:?}) changed the session"
                );
                Received::Refused(format!("{e:?}"), Some(e))
            }
        }
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Send { from_bob, len } => {
                self.sent += 1;
                let text = format!("#{} {}", self.sent, "x".repeat(usize::from(len)));
                let bytes = if from_bob {
                    let Some(bob) = self.bob.as_mut() else {
                        return;
                    };
                    bob.encrypt(text.as_bytes(), &mut self.rng)
                        .expect("encrypt")
                } else {
                    self.alice
                        .encrypt(text.as_bytes(), &mut self.rng)
                        .expect("encrypt")
                };
                self.queue(!from_bob).push(Message {
                    bytes,
                    plaintext: text.into_bytes(),
                    delivered: false,
                    lost: false,
                });
            }
            Step::Deliver { to_bob, pick } => {
                let in_flight: Vec<usize> = (0..self.queue(to_bob).len())
                    .filter(|&i| !self.queue(to_bob)[i].delivered && !self.queue(to_bob)[i].lost)
                    .collect();
                if in_flight.is_empty() {
                    return;
                }
                let i = in_flight[usize::from(pick) % in_flight.len()];
                self.deliver(to_bob, i);
            }
            Step::Duplicate { to_bob, pick } => {
                let delivered: Vec<usize> = (0..self.queue(to_bob).len())
                    .filter(|&i| self.queue(to_bob)[i].delivered)
                    .collect();
                if delivered.is_empty() {
                    return;
                }
                let i = delivered[usize::from(pick) % delivered.len()];
                let bytes = self.queue(to_bob)[i].bytes.clone();
                if let Received::Read(p) = self.receive(to_bob, &bytes) {
                    panic!("message {i} decrypted twice (as {p:?})");
                }
            }
            Step::Drop { to_bob, pick } => {
                let queue = self.queue(to_bob);
                if queue.is_empty() {
                    return;
                }
                let n = queue.len();
                let m = &mut queue[usize::from(pick) % n];
                if !m.delivered {
                    m.lost = true;
                }
            }
            Step::Flip {
                to_bob,
                pick,
                pos,
                mask,
            } => {
                let queue = self.queue(to_bob);
                if queue.is_empty() {
                    return;
                }
                let n = queue.len();
                let mut bytes = queue[usize::from(pick) % n].bytes.clone();
                let at = usize::from(pos) % bytes.len();
                bytes[at] ^= mask.max(1);
                self.tampered(to_bob, &bytes);
            }
            Step::Splice {
                to_bob,
                first,
                second,
                cut,
            } => {
                let queue = self.queue(to_bob);
                if queue.len() < 2 {
                    return;
                }
                let n = queue.len();
                let (a, b) = (usize::from(first) % n, usize::from(second) % n);
                if a == b {
                    return;
                }
                let (a, b) = (&queue[a].bytes, &queue[b].bytes);
                let cut = usize::from(cut) % a.len().min(b.len());
                let mut bytes = a[..cut].to_vec();
                bytes.extend_from_slice(&b[cut..]);
                self.tampered(to_bob, &bytes);
            }
            Step::Persist { bob } => {
                let key = StorageKey::from_bytes([0x5a; 32]);
                let session = if bob {
                    let Some(s) = self.bob.as_mut() else {
                        return;
                    };
                    s
                } else {
                    &mut self.alice
                };
                let blob = session.to_encrypted(&key, 1, &mut self.rng);
                let restored =
                    Session::from_encrypted(&blob, &key, 1, &hushwire::persist::Expected::any())
                        .expect("restore");
                assert!(restored == *session, "restored session differs");
                *session = restored;
            }
            Step::GroupSend { from, len } => {
                let from = usize::from(from) % 3;
                self.sent += 1;
                let text = format!("g{} {}", self.sent, "y".repeat(usize::from(len)));
                let bytes = self.group[from]
                    .encrypt(text.as_bytes(), &mut self.rng)
                    .expect("group encrypt");
                let mut delivered = [false; 3];
                delivered[from] = true;
                self.group_messages.push(GroupMessage {
                    from,
                    bytes,
                    plaintext: text.into_bytes(),
                    delivered,
                });
            }
            Step::GroupDeliver { to, pick } => {
                let to = usize::from(to) % 3;
                let waiting: Vec<usize> = (0..self.group_messages.len())
                    .filter(|&i| !self.group_messages[i].delivered[to])
                    .collect();
                if waiting.is_empty() {
                    return;
                }
                self.group_deliver(to, waiting[usize::from(pick) % waiting.len()]);
            }
            Step::GroupDuplicate { to, pick } => {
                let to = usize::from(to) % 3;
                let had: Vec<usize> = (0..self.group_messages.len())
                    .filter(|&i| {
                        self.group_messages[i].delivered[to] && self.group_messages[i].from != to
                    })
                    .collect();
                if had.is_empty() {
                    return;
                }
                let bytes = self.group_messages[had[usize::from(pick) % had.len()]]
                    .bytes
                    .clone();
                self.group_refuses(to, &bytes, "a duplicate");
            }
            Step::GroupFlip {
                to,
                pick,
                pos,
                mask,
            } => {
                let to = usize::from(to) % 3;
                if self.group_messages.is_empty() {
                    return;
                }
                let n = self.group_messages.len();
                let mut bytes = self.group_messages[usize::from(pick) % n].bytes.clone();
                let at = usize::from(pos) % bytes.len();
                bytes[at] ^= mask.max(1);
                self.group_refuses(to, &bytes, "a flipped message");
            }
        }
    }

    fn group_deliver(&mut self, to: usize, i: usize) {
        let m = &mut self.group_messages[i];
        match self.group[to].decrypt(&m.bytes, NOW) {
            Ok(read) => {
                assert_eq!(
                    read.plaintext, m.plaintext,
                    "group message {i} read as another"
                );
                assert_eq!(read.sender, *self.group[m.from].own_identity());
                m.delivered[to] = true;
            }
            Err(e) => panic!("genuine group message {i} refused by member {to}: {e:?}"),
        }
    }

    /// Bytes the member must refuse, leaving its session unchanged.
    fn group_refuses(&mut self, to: usize, bytes: &[u8], what: &str) {
        if self
            .group_messages
            .iter()
            .any(|m| m.bytes == bytes && !m.delivered[to])
        {
            return;
        }
        let before = self.group[to].clone();
        match self.group[to].decrypt(bytes, NOW) {
            Ok(read) => panic!("{what} accepted by member {to}: {:?}", read.plaintext),
            Err(e) => assert!(
                self.group[to] == before,
                "refused {what} ({e:?}) changed the session"
            ),
        }
    }

    fn deliver(&mut self, to_bob: bool, i: usize) {
        let bytes = self.queue(to_bob)[i].bytes.clone();
        match self.receive(to_bob, &bytes) {
            Received::Read(plaintext) => {
                let m = &mut self.queue(to_bob)[i];
                assert_eq!(plaintext, m.plaintext, "message {i} read as another");
                m.delivered = true;
            }
            Received::Refused(why, e) => {
                assert!(
                    matches!(
                        e,
                        Some(DecryptError::KeyExpired { .. } | DecryptError::ChainForgotten)
                    ),
                    "genuine message {i} to {} refused: {why}",
                    if to_bob { "Bob" } else { "Alice" }
                );
                self.queue(to_bob)[i].lost = true;
            }
        }
    }

    /// Delivers bytes that are not a genuine message: they must be refused.
    fn tampered(&mut self, to_bob: bool, bytes: &[u8]) {
        if self.queue(to_bob).iter().any(|m| m.bytes == bytes) {
            return;
        }
        if let Received::Read(p) = self.receive(to_bob, bytes) {
            panic!("tampered message accepted (read as {p:?})");
        }
    }
}

pub(crate) fn check_conversation(data: &[u8]) {
    // Steps are read one after another until the input runs out (`Vec`'s own `Arbitrary`
    // takes its length from the end of the input and makes short schedules).
    let mut u = Unstructured::new(data);
    let Ok(seed) = u64::arbitrary(&mut u) else {
        return;
    };
    let mut steps = Vec::new();
    while !u.is_empty() && steps.len() < MAX_STEPS {
        match Step::arbitrary(&mut u) {
            Ok(step) => steps.push(step),
            Err(_) => break,
        }
    }
    run(&Schedule { seed, steps });
}

pub(crate) fn run(schedule: &Schedule) {
    let fixture = fixture();
    let mut c = Conversation {
        rng: ChaCha20Rng::seed_from_u64(schedule.seed),
        alice: fixture.alice.clone(),
        bob_account: fixture.bob.clone(),
        bob: None,
        to_bob: Vec::new(),
        to_alice: Vec::new(),
        sent: 0,
        group: fixture.group.clone(),
        group_messages: Vec::new(),
    };
    for &step in schedule.steps.iter().take(MAX_STEPS) {
        c.step(step);
    }
    // The relay finally delivers everything still in flight, in order.
    for to_bob in [true, false] {
        for i in 0..c.queue(to_bob).len() {
            let m = &c.queue(to_bob)[i];
            if !m.delivered && !m.lost {
                c.deliver(to_bob, i);
            }
        }
    }
    for to in 0..3 {
        for i in 0..c.group_messages.len() {
            if !c.group_messages[i].delivered[to] {
                c.group_deliver(to, i);
            }
        }
    }
}

/// Seeds: a few hand-written schedules encoded as bytes `arbitrary` reads back, plus
/// fixed pseudo-random inputs.
pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    use rand_core::Rng;
    let mut out = Vec::new();
    let mut rng = ChaCha20Rng::seed_from_u64(SEED ^ 0xc1);
    for (i, len) in [64usize, 256, 1024, 4096].into_iter().enumerate() {
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        out.push((format!("random-{i}-{len}"), bytes));
    }
    out
}
