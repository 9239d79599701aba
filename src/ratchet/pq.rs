//! The post-quantum ratchet step of version-2 sessions (SPEC.md §5.9): which ML-KEM material
//! a sending chain carries, and the initiator's schedule of keys.
//!
//! The initiator attaches encapsulation keys, the responder answers each with a ciphertext on
//! its next chain, so there is never a race between two keys in flight, and a key is
//! acknowledged by the peer's very next chain.

use subtle::ConstantTimeEq;

use super::RatchetConfig;
use crate::keys::{KEM_CIPHERTEXT_LEN, KemKeyPair};

/// The version of a session: 1 is the Double Ratchet of SPEC.md §5.1–§5.8, 2 adds the ML-KEM
/// step of §5.9 (a post-quantum ratchet). Fixed when the session is created: the initiator
/// chooses it ([`crate::Account::set_session_version`]), the responder follows the prekey
/// message, and a version-2 session never continues without the ML-KEM step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SessionVersion {
    /// The Double Ratchet with X25519 steps only (SPEC.md §5.1–§5.8); wire types `0x01`,
    /// `0x02`. Every hushwire build reads it; the default.
    #[default]
    V1,
    /// Version 1 with an ML-KEM-768 step in the ratchet (SPEC.md §5.9); wire types `0x04`,
    /// `0x05`. Choose it for peers known to run a build that reads it.
    V2,
}

impl SessionVersion {
    /// The version number: 1 or 2.
    pub fn number(self) -> u8 {
        match self {
            SessionVersion::V1 => 1,
            SessionVersion::V2 => 2,
        }
    }

    /// The version of a number, `None` for any other than 1 and 2.
    pub fn from_number(number: u8) -> Option<Self> {
        match number {
            1 => Some(SessionVersion::V1),
            2 => Some(SessionVersion::V2),
            _ => None,
        }
    }
}

/// `kem_kind` of a version-2 header: no KEM part.
pub(super) const KEM_NONE: u8 = 0x00;
/// `kem_kind`: the KEM part is an encapsulation key (initiator's chains).
pub(super) const KEM_KEY: u8 = 0x01;
/// `kem_kind`: the KEM part is a ciphertext padded to the key's length (responder's chains).
pub(super) const KEM_CIPHERTEXT: u8 = 0x02;

/// What every message of one of our sending chains carries besides the version-1 header.
#[derive(Clone)]
pub(super) enum Attachment {
    None,
    /// The initiator's key pair for this chain; the decapsulation key is wiped when the
    /// responder's answer has been decrypted (the pair drops with the chain's key pair).
    Key(Box<KemKeyPair>),
    /// The responder's ciphertext answering the key of the chain it replies to.
    Ciphertext(Box<[u8; KEM_CIPHERTEXT_LEN]>),
}

impl Attachment {
    pub(super) fn kind(&self) -> u8 {
        match self {
            Attachment::None => KEM_NONE,
            Attachment::Key(_) => KEM_KEY,
            Attachment::Ciphertext(_) => KEM_CIPHERTEXT,
        }
    }
}

/// Equal attachments carry the same key pair (compared by seed, in constant time) or the
/// same ciphertext.
impl PartialEq for Attachment {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Attachment::None, Attachment::None) => true,
            (Attachment::Key(a), Attachment::Key(b)) => bool::from(a.seed().ct_eq(b.seed())),
            (Attachment::Ciphertext(a), Attachment::Ciphertext(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Attachment {}

/// The initiator's schedule of KEM keys (SPEC.md §5.9.4): kept by both roles of a version-2
/// state, used by the initiator only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct PqSchedule {
    /// Our sending chains started since the last one that carried a key.
    pub(super) chains_without_key: u32,
    /// Messages sent and received since our last key-carrying chain started.
    pub(super) messages_since_key: u32,
}

impl PqSchedule {
    /// Whether the next sending chain carries a fresh key.
    pub(super) fn key_due(&self, config: &RatchetConfig) -> bool {
        self.chains_without_key.saturating_add(1) >= config.kem_interval()
            || self.messages_since_key >= config.kem_message_bound()
    }

    /// A sending chain started, with a key or without.
    pub(super) fn chain_started(&mut self, with_key: bool) {
        if with_key {
            *self = PqSchedule::default();
        } else {
            self.chains_without_key = self.chains_without_key.saturating_add(1);
        }
    }

    /// A message was sent or received.
    pub(super) fn message(&mut self) {
        self.messages_since_key = self.messages_since_key.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use proptest::prelude::*;
    use rand_core::SeedableRng;
    use x25519_dalek::StaticSecret;

    use super::super::{
        DecryptError, EncryptError, Incoming, RatchetKeyPair, RatchetState, ResponderStart,
        Sending, SessionAd, broken_dh,
    };
    use super::*;
    use crate::keys::secret::{HeaderKey, RootKey, SessionTagKey};
    use crate::wire::{
        KEM_PART_LEN, MAX_PLAINTEXT_LEN, MAX_PQ_MESSAGE_LEN, PQ_RATCHET_MESSAGE_OVERHEAD,
        PqRatchetMessage, RATCHET_MESSAGE_OVERHEAD, RatchetMessage, TYPE_PQ_RATCHET,
    };
    use crate::{DecodeError, RatchetConfig};

    const AD: SessionAd = [7u8; 64];

    /// Alice (initiator) and Bob's start, as the key agreement leaves them.
    fn start(
        version: SessionVersion,
        config: RatchetConfig,
        rng: &mut ChaCha20Rng,
    ) -> (RatchetState, ResponderStart) {
        crate::ratchet::tests::start_pair(version, config, rng)
    }

    fn send(state: &mut RatchetState, plaintext: &[u8], rng: &mut ChaCha20Rng) -> Vec<u8> {
        let mut out = Vec::new();
        state.encrypt(&AD, plaintext, rng, &mut out).unwrap();
        out
    }

    /// Decodes either version by its type byte and decrypts.
    fn open(state: &mut RatchetState, message: &[u8]) -> Result<Vec<u8>, DecryptError> {
        if message.get(1) == Some(&TYPE_PQ_RATCHET) {
            let m = PqRatchetMessage::decode(message)?;
            state.decrypt_incoming(&AD, &Incoming::from(&m))
        } else {
            let m = RatchetMessage::decode(message)?;
            state.decrypt_incoming(&AD, &Incoming::from(&m))
        }
        .map(|(plaintext, _)| plaintext)
    }

    fn accept(bob: ResponderStart, message: &[u8]) -> (RatchetState, Vec<u8>) {
        let m = PqRatchetMessage::decode(message).unwrap();
        let (state, plaintext, _) = bob.accept_incoming(&AD, &Incoming::from(&m)).unwrap();
        (state, plaintext)
    }

    fn kem_kind_of(state: &RatchetState) -> u8 {
        match &state.sending {
            Sending::Active { kem, .. } => kem.kind(),
            Sending::StepDue { .. } => KEM_NONE,
        }
    }

    /// Ping-pong with K = 1 (SPEC.md §5.9.4, §5.9.6): every message of the initiator carries
    /// a key and every message of the responder a ciphertext, each exactly KEM_PART_LEN bytes
    /// more than a version-2 message without one; both sides agree on every root key, and
    /// the initiator's decapsulation key is gone once its answer is decrypted.
    #[test]
    fn ping_pong_carries_a_kem_part_on_every_message_and_both_sides_agree() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let (mut alice, bob) = start(SessionVersion::V2, RatchetConfig::default(), &mut rng);
        let first = send(&mut alice, b"hello", &mut rng);
        assert_eq!(first.len(), 5 + PQ_RATCHET_MESSAGE_OVERHEAD + KEM_PART_LEN);
        assert_eq!(PQ_RATCHET_MESSAGE_OVERHEAD, RATCHET_MESSAGE_OVERHEAD + 1);
        let (mut bob, plaintext) = accept(bob, &first);
        assert_eq!(plaintext, b"hello");
        assert!(matches!(
            bob.sending,
            Sending::StepDue {
                their_key: Some(_),
                ..
            }
        ));
        for round in 0..4u8 {
            let reply = send(&mut bob, &[round; 3], &mut rng);
            assert_eq!(reply.len(), 3 + PQ_RATCHET_MESSAGE_OVERHEAD + KEM_PART_LEN);
            assert_eq!(kem_kind_of(&bob), KEM_CIPHERTEXT);
            assert_eq!(open(&mut alice, &reply).unwrap(), [round; 3]);
            assert!(
                alice.root == bob.root,
                "round {round}: the ciphertext's step agrees"
            );
            assert!(
                matches!(alice.sending, Sending::StepDue { .. }),
                "key pair dropped"
            );
            let next = send(&mut alice, &[round; 2], &mut rng);
            assert_eq!(kem_kind_of(&alice), KEM_KEY);
            assert_eq!(next.len(), 2 + PQ_RATCHET_MESSAGE_OVERHEAD + KEM_PART_LEN);
            assert_eq!(open(&mut bob, &next).unwrap(), [round; 2]);
            assert!(alice.root == bob.root);
        }
    }

    /// K and the message bound decide which of the initiator's chains carry a key; the
    /// responder answers exactly those, and the others cost one byte over version 1.
    #[test]
    fn the_schedule_follows_k_and_the_message_bound() {
        for (k, bound, expected) in [
            (2, 1_000, [KEM_KEY, KEM_NONE, KEM_KEY, KEM_NONE, KEM_KEY]),
            (3, 1_000, [KEM_KEY, KEM_NONE, KEM_NONE, KEM_KEY, KEM_NONE]),
            // Two messages per round trip: the bound of 3 is reached on every second chain.
            (16, 3, [KEM_KEY, KEM_NONE, KEM_KEY, KEM_NONE, KEM_KEY]),
        ] {
            let config = RatchetConfig::default().with_pq_schedule(k, bound).unwrap();
            let mut rng = ChaCha20Rng::seed_from_u64(2);
            let (mut alice, bob) = start(SessionVersion::V2, config, &mut rng);
            let mut message = send(&mut alice, b"a", &mut rng);
            let (mut bob, _) = accept(bob, &message);
            for (turn, kind) in expected.into_iter().enumerate() {
                assert_eq!(
                    kem_kind_of(&alice),
                    kind,
                    "K = {k}, bound {bound}, turn {turn}"
                );
                let extra = if kind == KEM_KEY { KEM_PART_LEN } else { 0 };
                assert_eq!(message.len(), 1 + PQ_RATCHET_MESSAGE_OVERHEAD + extra);
                if turn > 0 {
                    open(&mut bob, &message).unwrap();
                }
                let reply = send(&mut bob, b"b", &mut rng);
                let answer = if kind == KEM_KEY {
                    KEM_CIPHERTEXT
                } else {
                    KEM_NONE
                };
                assert_eq!(kem_kind_of(&bob), answer);
                open(&mut alice, &reply).unwrap();
                assert!(alice.root == bob.root);
                message = send(&mut alice, b"a", &mut rng);
            }
        }
    }

    /// A session never continues without the PQ step, and a message omitting a part that is
    /// due, or carrying one that is not, is a typed error that changes nothing.
    #[test]
    fn downgrades_and_wrong_kem_parts_are_rejected_and_change_nothing() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let config = RatchetConfig::default().with_pq_schedule(2, 1_000).unwrap();
        let (mut alice, bob) = start(SessionVersion::V2, config, &mut rng);
        let first = send(&mut alice, b"1", &mut rng);
        let (mut bob, _) = accept(bob, &first);

        // A version-1 message of the same keys (a downgraded peer) on a version-2 session.
        let (mut old_alice, _) = start(SessionVersion::V1, config, &mut rng);
        let v1_message = send(&mut old_alice, b"x", &mut rng);
        let before = bob.clone();
        assert_eq!(
            open(&mut bob, &v1_message),
            Err(DecryptError::SessionVersionMismatch {
                session: 2,
                message: 1
            })
        );
        assert!(bob == before);
        assert_eq!(
            open(&mut old_alice, &first),
            Err(DecryptError::SessionVersionMismatch {
                session: 1,
                message: 2
            })
        );

        // The responder's answer to a key, stripped of its ciphertext.
        let mut stripped = bob.clone();
        if let Sending::StepDue { their_key, .. } = &mut stripped.sending {
            *their_key = None;
        }
        let missing = send(&mut stripped, b"2", &mut rng);
        let before = alice.clone();
        assert_eq!(
            open(&mut alice, &missing),
            Err(DecryptError::KemPartMissing)
        );
        assert!(alice == before);

        // A tampered KEM part on the real answer.
        let reply = send(&mut bob, b"2", &mut rng);
        let mut tampered = reply.clone();
        if let Some(byte) = tampered.get_mut(100) {
            *byte ^= 1;
        }
        assert_eq!(open(&mut alice, &tampered), Err(DecryptError::Tampered));
        assert!(alice == before);
        open(&mut alice, &reply).unwrap();

        // Alice's next chain carries no key (K = 2): a ciphertext answering it is unexpected.
        let next = send(&mut alice, b"3", &mut rng);
        assert_eq!(kem_kind_of(&alice), KEM_NONE);
        open(&mut bob, &next).unwrap();
        let mut forged = bob.clone();
        if let Sending::StepDue { their_key, .. } = &mut forged.sending {
            let pair = KemKeyPair::generate(&mut rng);
            *their_key = Some(Box::new(*pair.public()));
        }
        let unexpected = send(&mut forged, b"4", &mut rng);
        let before = alice.clone();
        assert_eq!(
            open(&mut alice, &unexpected),
            Err(DecryptError::KemPartUnexpected)
        );
        assert!(alice == before);

        // A key from the responder is never valid, not even on the current chain.
        let mut reversed = alice.clone();
        if let Sending::Active { kem, .. } = &mut reversed.sending {
            *kem = Attachment::Ciphertext(Box::new([0; KEM_CIPHERTEXT_LEN]));
        }
        let wrong_kind = send(&mut reversed, b"5", &mut rng);
        let before = bob.clone();
        assert_eq!(
            open(&mut bob, &wrong_kind),
            Err(DecryptError::KemPartUnexpected)
        );
        assert!(bob == before);

        // An invalid key from the peer: the answering encrypt fails, the state unchanged.
        let mut bad_key = bob.clone();
        if let Sending::StepDue { their_key, .. } = &mut bad_key.sending {
            *their_key = Some(Box::new([0xff; crate::keys::KEM_PUBLIC_KEY_LEN]));
        }
        let before = bad_key.clone();
        let mut out = Vec::new();
        assert_eq!(
            bad_key.encrypt(&AD, b"6", &mut rng, &mut out),
            Err(EncryptError::InvalidKemKey)
        );
        assert!(bad_key == before && out.is_empty());
    }

    /// The version-2 decoder's limits at and past their edges (SPEC.md §5.9.3).
    #[test]
    fn pq_message_decoder_limits_at_and_past_their_edges() {
        let prefix = PQ_RATCHET_MESSAGE_OVERHEAD - 16;
        let message = |rest: usize| {
            let mut m = vec![1u8, TYPE_PQ_RATCHET];
            m.resize(prefix + rest, 0);
            m
        };
        assert!(PqRatchetMessage::decode(&message(16)).is_ok());
        assert_eq!(
            PqRatchetMessage::decode(&message(15)),
            Err(DecodeError::Truncated { needed: 1 })
        );
        let most = KEM_PART_LEN + MAX_PLAINTEXT_LEN + 16;
        assert!(PqRatchetMessage::decode(&message(most)).is_ok());
        assert_eq!(
            PqRatchetMessage::decode(&message(most + 1)),
            Err(DecodeError::TooLarge {
                len: prefix + most + 1,
                max: PQ_RATCHET_MESSAGE_OVERHEAD + KEM_PART_LEN + MAX_PLAINTEXT_LEN
            })
        );
        assert!(prefix + most <= MAX_PQ_MESSAGE_LEN);
        let huge = message(MAX_PQ_MESSAGE_LEN + 1 - prefix);
        assert_eq!(
            PqRatchetMessage::decode(&huge),
            Err(DecodeError::TooLarge {
                len: MAX_PQ_MESSAGE_LEN + 1,
                max: MAX_PQ_MESSAGE_LEN
            })
        );
        assert_eq!(
            PqRatchetMessage::decode(&[1, 0x01, 0]),
            Err(DecodeError::WrongType {
                expected: TYPE_PQ_RATCHET,
                found: 0x01
            })
        );
    }

    /// Replays the conversation from `(alice, bob)` for `turns` turns (Alice's turns even,
    /// Bob's odd) and returns the root key after each, checked equal on both sides. The
    /// conversation's RNG is `seed`; ML-KEM randomness is `kem_seed` through the hook.
    fn continue_from(
        mut alice: RatchetState,
        mut bob: RatchetState,
        seed: u64,
        kem_seed: u64,
        turns: usize,
    ) -> Vec<[u8; 32]> {
        broken_dh::separate_kem_entropy(Some(kem_seed));
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut roots = Vec::new();
        for turn in 0..turns {
            let (from, to) = if turn % 2 == 0 {
                (&mut alice, &mut bob)
            } else {
                (&mut bob, &mut alice)
            };
            let message = send(from, b"m", &mut rng);
            open(to, &message).unwrap();
            assert!(alice.root == bob.root);
            roots.push(*alice.root.as_bytes());
        }
        broken_dh::separate_kem_entropy(None);
        roots
    }

    /// The broken-DH harness (SPEC.md §5.9.8). The adversary holds both states at the
    /// compromise and, having broken X25519, every X25519 secret drawn after it (its replay
    /// uses the victims' RNG); it lacks only the victims' ML-KEM randomness. Its prediction of
    /// a root key is right iff the replay with its own ML-KEM randomness finds the same key.
    /// Version 1 stays predictable for ever; version 2 stays predictable until the first KEM
    /// exchange started after the compromise completes (Alice's key, then Bob's ciphertext:
    /// the second turn), and unpredictable after it.
    #[test]
    fn after_a_compromise_keys_heal_after_one_kem_exchange_and_never_without_it() {
        for version in [SessionVersion::V1, SessionVersion::V2] {
            let mut rng = ChaCha20Rng::seed_from_u64(4);
            let (mut alice, bob) = start(version, RatchetConfig::default(), &mut rng);
            let first = send(&mut alice, b"1", &mut rng);
            let (mut bob, _) = if version == SessionVersion::V2 {
                accept(bob, &first)
            } else {
                let m = RatchetMessage::decode(&first).unwrap();
                let (s, p, _) = bob.accept(&AD, &m).unwrap();
                (s, p)
            };
            let reply = send(&mut bob, b"2", &mut rng);
            open(&mut alice, &reply).unwrap();
            // The compromise: both states, while Alice holds no decapsulation key.
            assert!(matches!(alice.sending, Sending::StepDue { .. }));
            let (real_alice, real_bob) = (alice.clone(), bob.clone());

            let real = continue_from(real_alice, real_bob, 5, 100, 6);
            let predicted = continue_from(alice, bob, 5, 200, 6);
            match version {
                SessionVersion::V1 => assert_eq!(real, predicted, "v1 never heals"),
                SessionVersion::V2 => {
                    assert_eq!(real[0], predicted[0], "Alice's key alone heals nothing");
                    for turn in 1..6 {
                        assert_ne!(real[turn], predicted[turn], "turn {turn}");
                    }
                }
            }
        }
    }

    /// Replays `schedule` (runs of `(from_alice, messages)`) from `(alice, bob)` and returns
    /// the root key after each delivered message, checked equal on both sides after each run.
    fn run_schedule(
        mut alice: RatchetState,
        mut bob: RatchetState,
        kem_seed: u64,
        schedule: &[(bool, usize)],
    ) -> Vec<[u8; 32]> {
        broken_dh::separate_kem_entropy(Some(kem_seed));
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let mut roots = Vec::new();
        for &(from_alice, count) in schedule {
            for _ in 0..count {
                let (from, to) = if from_alice {
                    (&mut alice, &mut bob)
                } else {
                    (&mut bob, &mut alice)
                };
                let message = send(from, b"m", &mut rng);
                open(to, &message).unwrap();
                // The receiver's root: the sender's once the receiver has caught up.
                roots.push(*to.root.as_bytes());
            }
        }
        broken_dh::separate_kem_entropy(None);
        roots
    }

    /// Messages to heal (SPEC.md §9.1): after a full-state compromise with X25519 broken
    /// (the harness above), the number of messages delivered until the first root key the
    /// adversary cannot predict, for ping-pong and for 1:20 one-sided traffic in each
    /// direction, K = 1. Printed for the figures of SPEC.md §5.9.6 and §9; asserted exactly.
    #[test]
    fn messages_to_heal_for_ping_pong_and_one_sided_traffic() {
        let ping_pong: Vec<(bool, usize)> = (0..10).map(|i| (i % 2 == 0, 1)).collect();
        let alice_heavy: Vec<(bool, usize)> = (0..6)
            .map(|i| (i % 2 == 0, if i % 2 == 0 { 20 } else { 1 }))
            .collect();
        let bob_heavy: Vec<(bool, usize)> = (0..6)
            .map(|i| (i % 2 == 0, if i % 2 == 0 { 1 } else { 20 }))
            .collect();
        let mut figures = Vec::new();
        for (name, schedule, expected) in [
            ("ping-pong", &ping_pong, 2usize),
            ("1:20, initiator sends 20", &alice_heavy, 21),
            ("1:20, responder sends 20", &bob_heavy, 2),
        ] {
            let mut rng = ChaCha20Rng::seed_from_u64(4);
            let (mut alice, bob) = start(SessionVersion::V2, RatchetConfig::default(), &mut rng);
            let first = send(&mut alice, b"1", &mut rng);
            let (mut bob, _) = accept(bob, &first);
            let reply = send(&mut bob, b"2", &mut rng);
            open(&mut alice, &reply).unwrap();
            let real = run_schedule(alice.clone(), bob.clone(), 100, schedule);
            let predicted = run_schedule(alice, bob, 200, schedule);
            let healed = real
                .iter()
                .zip(&predicted)
                .position(|(r, p)| r != p)
                .map(|i| i + 1)
                .expect("heals");
            // Once healed, never predictable again.
            assert!(
                real.iter()
                    .zip(&predicted)
                    .skip(healed)
                    .all(|(r, p)| r != p)
            );
            figures.push(format!("{name}: healed after {healed} messages"));
            assert_eq!(healed, expected, "{name}");
        }
        println!("messages to heal (K = 1): {}", figures.join("; "));
    }

    /// One step of a random schedule.
    #[derive(Clone, Debug)]
    enum Step {
        Send { from_alice: bool },
        Deliver { to_bob: bool, pick: usize },
        Drop { to_bob: bool, pick: usize },
        Replay { to_bob: bool, pick: usize },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => any::<bool>().prop_map(|from_alice| Step::Send { from_alice }),
            4 => (any::<bool>(), any::<usize>())
                .prop_map(|(to_bob, pick)| Step::Deliver { to_bob, pick }),
            1 => (any::<bool>(), any::<usize>())
                .prop_map(|(to_bob, pick)| Step::Drop { to_bob, pick }),
            1 => (any::<bool>(), any::<usize>())
                .prop_map(|(to_bob, pick)| Step::Replay { to_bob, pick }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Over random schedules with loss, reordering and duplicates, with any K: every
        /// message delivered for the first time decrypts to what was sent, every repeat is
        /// rejected without changing the state, and once both have spoken again both sides
        /// hold the same root key.
        #[test]
        fn both_sides_always_derive_the_same_keys(
            seed in any::<u64>(),
            k in 1u32..=3,
            steps in proptest::collection::vec(step(), 1..60),
        ) {
            let config = RatchetConfig::new(1_000, 2_000, 100, 100)
                .unwrap()
                .with_pq_schedule(k, 1_000)
                .unwrap();
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let (mut alice, mut bob_start) = start(SessionVersion::V2, config, &mut rng);
            let mut bob: Option<RatchetState> = None;
            let mut to_bob: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut to_alice: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let (mut seen_bob, mut seen_alice): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (vec![], vec![]);
            let mut counter = 0u32;
            for step in steps {
                match step {
                    Step::Send { from_alice: true } => {
                        counter += 1;
                        let pt = counter.to_be_bytes().to_vec();
                        to_bob.push((send(&mut alice, &pt, &mut rng), pt));
                    }
                    Step::Send { from_alice: false } => {
                        if let Some(bob) = bob.as_mut() {
                            counter += 1;
                            let pt = counter.to_be_bytes().to_vec();
                            to_alice.push((send(bob, &pt, &mut rng), pt));
                        }
                    }
                    Step::Deliver { to_bob: true, pick } if !to_bob.is_empty() => {
                        let (message, pt) = to_bob.remove(pick % to_bob.len());
                        match bob.as_mut() {
                            Some(bob) => prop_assert_eq!(open(bob, &message).unwrap(), pt),
                            None => {
                                let start = core::mem::replace(
                                    &mut bob_start,
                                    ResponderStart::new(
                                        RootKey::from_bytes([0; 32]),
                                        RatchetKeyPair::from_secret(StaticSecret::from([1; 32])),
                                        HeaderKey::from_bytes([0; 32]),
                                        HeaderKey::from_bytes([0; 32]),
                                        SessionTagKey::from_bytes([0; 32]),
                                        config,
                                        SessionVersion::V2,
                                    ),
                                );
                                let (state, got) = accept(start, &message);
                                prop_assert_eq!(got, pt);
                                bob = Some(state);
                            }
                        }
                        seen_bob.push(message);
                    }
                    Step::Deliver { to_bob: false, pick } if !to_alice.is_empty() => {
                        let (message, pt) = to_alice.remove(pick % to_alice.len());
                        prop_assert_eq!(open(&mut alice, &message).unwrap(), pt);
                        seen_alice.push(message);
                    }
                    Step::Drop { to_bob: true, pick } if !to_bob.is_empty() => {
                        to_bob.remove(pick % to_bob.len());
                    }
                    Step::Drop { to_bob: false, pick } if !to_alice.is_empty() => {
                        to_alice.remove(pick % to_alice.len());
                    }
                    Step::Replay { to_bob: true, pick } if !seen_bob.is_empty() => {
                        if let Some(bob) = bob.as_mut() {
                            let before = bob.clone();
                            let message = seen_bob[pick % seen_bob.len()].clone();
                            prop_assert!(open(bob, &message).is_err());
                            prop_assert!(*bob == before);
                        }
                    }
                    Step::Replay { to_bob: false, pick } if !seen_alice.is_empty() => {
                        let before = alice.clone();
                        let message = seen_alice[pick % seen_alice.len()].clone();
                        prop_assert!(open(&mut alice, &message).is_err());
                        prop_assert!(alice == before);
                    }
                    _ => {}
                }
            }
            // Both speak again: within two deliveries the side behind catches up with the
            // other's last root step, and both hold the same root key.
            let Some(mut bob) = bob else { return Ok(()) };
            let mut agreed = false;
            for round in 0..4 {
                let (from, to) = if round % 2 == 0 {
                    (&mut alice, &mut bob)
                } else {
                    (&mut bob, &mut alice)
                };
                let message = send(from, b"sync", &mut rng);
                prop_assert_eq!(open(to, &message).unwrap(), b"sync");
                if alice.root == bob.root {
                    agreed = true;
                    break;
                }
            }
            prop_assert!(agreed, "the roots never met");
        }
    }

    /// Both sides of a version-2 session with K = 1 after one exchange, and a genuine unread
    /// message to each (Bob's carries a ciphertext, Alice's a key): the fixture of
    /// [`arbitrary_and_edited_pq_messages_never_panic_and_change_nothing_when_refused`].
    struct Pending {
        alice: RatchetState,
        bob: RatchetState,
        to_alice: (Vec<u8>, Vec<u8>),
        to_bob: (Vec<u8>, Vec<u8>),
    }

    fn pending() -> &'static Pending {
        static PENDING: std::sync::OnceLock<Pending> = std::sync::OnceLock::new();
        PENDING.get_or_init(|| {
            let mut rng = ChaCha20Rng::seed_from_u64(0x504b);
            let config = RatchetConfig::default().with_pq_schedule(1, 1_000).unwrap();
            let (mut alice, bob) = start(SessionVersion::V2, config, &mut rng);
            let first = send(&mut alice, b"first", &mut rng);
            let (mut bob, _) = accept(bob, &first);
            let to_alice = send(&mut bob, b"to alice", &mut rng);
            let to_bob = send(&mut alice, b"to bob", &mut rng);
            assert_eq!(kem_kind_of(&bob), KEM_CIPHERTEXT);
            assert_eq!(kem_kind_of(&alice), KEM_KEY);
            Pending {
                alice,
                bob,
                to_alice: (to_alice, b"to alice".to_vec()),
                to_bob: (to_bob, b"to bob".to_vec()),
            }
        })
    }

    /// Edits of a message: operation (flip, truncate, insert, remove), position, value.
    type Edits = Vec<(u8, u16, u8)>;

    /// To Bob or to Alice; then raw bytes behind a version-2 header, or the genuine message
    /// with edits.
    fn pq_input() -> impl Strategy<Value = (bool, Option<Edits>, Vec<u8>)> {
        (
            any::<bool>(),
            proptest::option::of(proptest::collection::vec(
                (0u8..4, any::<u16>(), any::<u8>()),
                0..6,
            )),
            proptest::collection::vec(any::<u8>(), 0..3_000),
        )
    }

    fn edit(message: &[u8], edits: &[(u8, u16, u8)]) -> Vec<u8> {
        let mut out = message.to_vec();
        for &(op, pos, value) in edits {
            let pos = usize::from(pos);
            match op {
                0 if !out.is_empty() => {
                    let i = pos % out.len();
                    out[i] ^= value.max(1);
                }
                1 => out.truncate(pos % (out.len() + 1)),
                2 => out.insert(pos % (out.len() + 1), value),
                3 if !out.is_empty() => {
                    out.remove(pos % out.len());
                }
                _ => {}
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// The version-2 decoder and the header-driven split of its body (SPEC.md §5.9.3) on
        /// arbitrary bytes and on genuine messages with edits: no panic; only the genuine
        /// message decrypts, to its plaintext; every refusal leaves the state as it was.
        #[test]
        fn arbitrary_and_edited_pq_messages_never_panic_and_change_nothing_when_refused(
            (to_bob, edits, raw) in pq_input(),
        ) {
            let p = pending();
            let (mut state, (genuine, plaintext)) = if to_bob {
                (p.bob.clone(), &p.to_bob)
            } else {
                (p.alice.clone(), &p.to_alice)
            };
            let message = match &edits {
                Some(edits) => edit(genuine, edits),
                None => [&[1u8, TYPE_PQ_RATCHET][..], &raw].concat(),
            };
            let _ = PqRatchetMessage::decode(&message);
            let before = state.clone();
            match open(&mut state, &message) {
                Ok(got) => {
                    prop_assert_eq!(&message, genuine);
                    prop_assert_eq!(&got, plaintext);
                }
                Err(_) => {
                    prop_assert!(message != *genuine);
                    prop_assert!(state == before);
                }
            }
        }
    }
}
