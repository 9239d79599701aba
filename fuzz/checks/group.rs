//! `group_decrypt`: attacker bytes into a live group session (member B of a four-member group
//! with stored skipped keys, a removed member, a member that has not applied the removal, a
//! pending roster change and a pending distribution): as a group message
//! ([`GroupSession::decrypt`]), as a distribution message authenticated by the 1:1 channel as
//! coming from each other member ([`GroupSession::receive_distribution`]; version 2, and a
//! signed version 1 as older peers send), as a roster change
//! ([`GroupSession::apply_roster_change`]) and as a welcome ([`GroupSession::join`]).
//!
//! Input: mode byte. Bit 1 picks the clock: clear, within the grace window of the removal B
//! applied; set, one second past it ([`OLD_EPOCH_GRACE_SECS`]). Bit 0 clear: the rest goes
//! through every operation. Bit 0 set: the next byte picks a genuine input (see
//! [`GroupFixture::inputs`]), the rest are edits, and the result goes through the picked
//! input's operation.
//!
//! Properties: only a genuine input that the fixture's session accepts at that time is
//! accepted (with the genuine sender and plaintext, and an `OldEpochMessage` event exactly
//! for a message on a key from before the removal), once — except that a version-2
//! distribution message, which only the 1:1 channel authenticates, is accepted edited when it
//! names the member the channel authenticated (that member's own choice of key); every
//! failure leaves the session equal to what it was; anything accepted is recognised by
//! [`peek`] as its own kind in this group.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use ed25519_dalek::{Signer, SigningKey};
use hushwire::group::{
    AuthenticatedSender, DISTRIBUTION_LEN, GroupEvent, GroupRole, GroupSession, GroupWireKind,
    OLD_EPOCH_GRACE_SECS, Outgoing, peek,
};
use hushwire::{IdentityKeyPair, Timestamp};
use rand_core::SeedableRng;

use super::{NOW, SEED, mutate};

/// The two clocks of the check: within the grace window of B's removal, and just past it.
const CLOCKS: [Timestamp; 2] = [NOW, NOW.plus_secs(OLD_EPOCH_GRACE_SECS + 1)];

/// The channel authenticated the bytes as coming from `ids[from]`.
fn channel_from(ids: &[IdentityKeyPair], from: usize) -> AuthenticatedSender {
    AuthenticatedSender::assume_authenticated(*ids[from].public())
}

/// Which operation an input is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Message,
    /// A distribution message from member `usize` (index into the fixture's identities).
    Distribution(usize),
    Change,
    /// A welcome for identity `usize`, from A.
    Welcome(usize),
}

pub(crate) struct GroupInput {
    pub(crate) name: &'static str,
    pub(crate) op: Op,
    pub(crate) bytes: Vec<u8>,
    /// Accepted by the fixture's session (or, for a welcome, by `join`) at each of [`CLOCKS`].
    pub(crate) accepted: [bool; 2],
    /// For messages: the sender's index and plaintext, and whether it uses a sender key from
    /// before B's last removal.
    pub(crate) plaintext: Vec<u8>,
    pub(crate) sender: usize,
    pub(crate) old_epoch: bool,
}

/// Identities: 0 = A (admin, creator), 1 = B (the session under test), 2 = C, 3 = D (removed),
/// 4 = E (being added; not yet in B's roster).
pub(crate) struct GroupFixture {
    pub(crate) ids: Vec<IdentityKeyPair>,
    pub(crate) session: GroupSession,
    pub(crate) inputs: Vec<GroupInput>,
}

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;
const E: usize = 4;

pub(crate) fn fixture() -> &'static GroupFixture {
    static FIXTURE: OnceLock<GroupFixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn build() -> GroupFixture {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED ^ 0x6709);
    let rng = &mut rng;
    let ids: Vec<IdentityKeyPair> = (0..5).map(|_| IdentityKeyPair::generate(rng)).collect();
    let others: Vec<_> = [B, C, D]
        .iter()
        .map(|&i| (*ids[i].public(), GroupRole::Member))
        .collect();
    let created = GroupSession::create(&ids[A], &others, rng).expect("create");
    let genesis = created.welcome.bytes.to_vec();
    let mut g: Vec<Option<GroupSession>> = vec![Some(created.session), None, None, None];
    let mut dists: Vec<(usize, Outgoing)> = vec![(A, created.distribution)];
    for i in [B, C, D] {
        let joined = GroupSession::join(&ids[i], &genesis, ids[A].public(), rng).expect("join");
        g[i] = Some(joined.session);
        dists.push((i, joined.distribution));
    }
    let idx = |k: &hushwire::IdentityKey| ids.iter().position(|id| id.public() == k).expect("id");
    for (from, out) in &dists {
        for r in &out.recipients {
            g[idx(r)]
                .as_mut()
                .expect("member")
                .receive_distribution(channel_from(&ids, *from), &out.bytes)
                .expect("distribution");
        }
    }
    let mut sessions: Vec<GroupSession> = g.into_iter().map(|s| s.expect("member")).collect();
    let mut inputs = Vec::new();
    let message = |sessions: &mut Vec<GroupSession>,
                   name: &'static str,
                   from: usize,
                   rng: &mut ChaCha20Rng| {
        let bytes = sessions[from]
            .encrypt(name.as_bytes(), rng)
            .expect("encrypt");
        GroupInput {
            name,
            op: Op::Message,
            bytes,
            accepted: [false; 2],
            plaintext: name.as_bytes().to_vec(),
            sender: from,
            old_epoch: false,
        }
    };

    // Epoch 0: B reads a0 and a2 (keeping a key for a1), not c0 or d0.
    let a0 = message(&mut sessions, "a0", A, rng);
    let a1 = message(&mut sessions, "a1", A, rng);
    let a2 = message(&mut sessions, "a2", A, rng);
    let c0 = message(&mut sessions, "c0", C, rng);
    let d0 = message(&mut sessions, "d0", D, rng);
    for m in [&a0, &a2] {
        let _ = sessions[B].decrypt(&m.bytes, NOW).expect("B reads");
    }
    // C as it is before it learns of the removal below.
    let mut c_behind = sessions[C].clone();

    // A removes D (epoch 1); B and C apply it. B gets A's fresh sender key, not C's.
    let removal = sessions[A]
        .remove_member(&ids[A], *ids[D].public(), NOW, rng)
        .expect("remove");
    let change1 = removal.change.expect("change").bytes.to_vec();
    let dist_a1 = removal.distribution.expect("distribution").bytes.to_vec();
    let ub = sessions[B]
        .apply_roster_change(&ids[B], &change1, NOW, rng)
        .expect("B applies");
    let dist_b1 = ub.distribution.expect("distribution").bytes.to_vec();
    let uc = sessions[C]
        .apply_roster_change(&ids[C], &change1, NOW, rng)
        .expect("C applies");
    let dist_c1 = uc.distribution.expect("distribution").bytes.to_vec();
    sessions[B]
        .receive_distribution(channel_from(&ids, A), &dist_a1)
        .expect("B gets A's key");
    sessions[A]
        .receive_distribution(channel_from(&ids, B), &dist_b1)
        .expect("A gets B's key");

    // Epoch 1 messages; D has not applied its removal and still sends at epoch 0, and
    // neither has C's earlier state: its message is on a key from before the removal.
    let a3 = message(&mut sessions, "a3", A, rng);
    let c1 = message(&mut sessions, "c1", C, rng);
    let d1 = message(&mut sessions, "d1-after-removal", D, rng);
    let c_late = {
        let bytes = c_behind
            .encrypt(b"c-before-seeing-the-removal", rng)
            .expect("encrypt");
        GroupInput {
            name: "c-old-epoch",
            op: Op::Message,
            bytes,
            accepted: [false; 2],
            plaintext: b"c-before-seeing-the-removal".to_vec(),
            sender: C,
            old_epoch: true,
        }
    };
    // C's epoch-1 key as an older peer would send it: distribution version 1, signed by C's
    // identity key (SPEC.md §14.6.3).
    let dist_c1_v1 = {
        let mut b = dist_c1.clone();
        b[1] = 0x21;
        let signer = SigningKey::from_bytes(&ids[C].dangerous_to_seed());
        let signature =
            signer.sign(&[b"hushwire/v1/sig/group-distribution".as_slice(), &b].concat());
        b.extend_from_slice(&signature.to_bytes());
        b
    };

    // A adds E (epoch 2): B has not applied it yet.
    let addition = sessions[A]
        .add_member(&ids[A], *ids[E].public(), GroupRole::Member, rng)
        .expect("add");
    let change2 = addition.change.expect("change").bytes.to_vec();
    let welcome_e = addition.welcome.expect("welcome").bytes.to_vec();
    let dist_a_for_e = addition.distribution.map(|d| d.bytes.to_vec());

    let other = |name, op, bytes: Vec<u8>| GroupInput {
        name,
        op,
        bytes,
        accepted: [false; 2],
        plaintext: Vec::new(),
        sender: usize::MAX,
        old_epoch: false,
    };
    // Sent before the removal B applied: read after it, each comes with an event.
    let mut before_removal = [a0, a1, a2, c0, d0];
    for m in &mut before_removal {
        m.old_epoch = true;
    }
    inputs.extend(before_removal);
    inputs.extend([a3, c1, d1, c_late]);
    inputs.push(other("change-remove-d", Op::Change, change1));
    inputs.push(other("change-add-e", Op::Change, change2));
    inputs.push(other("dist-a-epoch1", Op::Distribution(A), dist_a1));
    inputs.push(other("dist-c-epoch1", Op::Distribution(C), dist_c1));
    inputs.push(other("dist-c-epoch1-v1", Op::Distribution(C), dist_c1_v1));
    inputs.push(other("dist-b-epoch1-as-c", Op::Distribution(C), dist_b1));
    if let Some(d) = dist_a_for_e {
        inputs.push(other("dist-a-for-e", Op::Distribution(A), d));
    }
    inputs.push(other("welcome-genesis-b", Op::Welcome(B), genesis.clone()));
    inputs.push(other("welcome-genesis-e", Op::Welcome(E), genesis));
    inputs.push(other("welcome-e-as-b", Op::Welcome(B), welcome_e.clone()));
    inputs.push(other("welcome-e", Op::Welcome(E), welcome_e));

    let session = sessions.swap_remove(B);
    let mut fixture = GroupFixture {
        ids,
        session,
        inputs,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let accepted: Vec<[bool; 2]> = fixture
        .inputs
        .iter()
        .map(|input| {
            CLOCKS.map(|now| {
                run(&fixture, input.op, &input.bytes, now, &mut rng)
                    .0
                    .is_ok()
            })
        })
        .collect();
    for (input, ok) in fixture.inputs.iter_mut().zip(accepted) {
        input.accepted = ok;
    }
    fixture
}

/// What an accepted input yielded: (sender index, plaintext, whether it came with an
/// `OldEpochMessage` event) for a message.
type Accepted = Option<(usize, Vec<u8>, bool)>;

/// Runs `op` on a copy of the fixture's session at `now`; returns the outcome and the session
/// after.
fn run(
    fixture: &GroupFixture,
    op: Op,
    bytes: &[u8],
    now: Timestamp,
    rng: &mut ChaCha20Rng,
) -> (Result<Accepted, String>, GroupSession) {
    let mut s = fixture.session.clone();
    let ids = &fixture.ids;
    let outcome = match op {
        Op::Message => s
            .decrypt(bytes, now)
            .map(|read| {
                let from = ids
                    .iter()
                    .position(|id| *id.public() == read.sender)
                    .expect("a known sender");
                let warned = read
                    .events
                    .iter()
                    .any(|e| matches!(e, GroupEvent::OldEpochMessage { member, .. } if *member == read.sender));
                Some((from, read.plaintext, warned))
            })
            .map_err(|e| format!("{e:?}")),
        Op::Distribution(sender) => s
            .receive_distribution(channel_from(ids, sender), bytes)
            .map(|_| None)
            .map_err(|e| format!("{e:?}")),
        Op::Change => s
            .apply_roster_change(&ids[B], bytes, now, rng)
            .map(|_| None)
            .map_err(|e| format!("{e:?}")),
        Op::Welcome(who) => GroupSession::join(&ids[who], bytes, ids[A].public(), rng)
            .map(|_| None)
            .map_err(|e| format!("{e:?}")),
    };
    (outcome, s)
}

fn check_op(fixture: &GroupFixture, op: Op, bytes: &[u8], clock: usize) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let now = CLOCKS[clock];
    let (outcome, after) = run(fixture, op, bytes, now, &mut rng);
    let genuine = fixture
        .inputs
        .iter()
        .find(|g| g.op == op && g.bytes == bytes);
    match outcome {
        Ok(read) => {
            let name = match genuine {
                Some(original) => {
                    assert!(
                        original.accepted[clock],
                        "{} accepted, but not by the fixture",
                        original.name
                    );
                    if let Some((from, plaintext, warned)) = read {
                        assert_eq!(from, original.sender, "{}", original.name);
                        assert_eq!(plaintext, original.plaintext, "{}", original.name);
                        assert_eq!(warned, original.old_epoch, "{}", original.name);
                    }
                    original.name
                }
                None => {
                    // A version-2 distribution message is authenticated by the 1:1 channel
                    // alone (SPEC.md §14.4.2): the member it authenticated may hand out any
                    // sender key as its own. It must name that member, and be the key now held.
                    // Anything else accepted must be genuine.
                    let Op::Distribution(sender) = op else {
                        panic!("forged or edited input accepted as {op:?}: {read:?}");
                    };
                    let from = fixture.ids[sender].public();
                    assert_eq!(
                        bytes.len(),
                        DISTRIBUTION_LEN,
                        "edited distribution accepted"
                    );
                    assert_eq!(bytes[1], 0x24, "edited version-1 distribution accepted");
                    assert_eq!(&bytes[42..74], from.as_bytes(), "not first-hand");
                    let key_id = u32::from_be_bytes(bytes[74..78].try_into().expect("4 bytes"));
                    assert!(after.held_sender_keys(from).contains(&key_id));
                    "an edited distribution message"
                }
            };
            let (kind, group) = peek(bytes).expect("accepted bytes peek");
            assert_eq!(group, fixture.session.group_id());
            assert_eq!(
                kind,
                match op {
                    Op::Message => GroupWireKind::Message,
                    Op::Distribution(_) => GroupWireKind::Distribution,
                    Op::Change => GroupWireKind::RosterChange,
                    Op::Welcome(_) => GroupWireKind::Roster,
                }
            );
            // The same input again is refused and changes nothing (a welcome is stateless).
            if !matches!(op, Op::Welcome(_)) {
                let mut again = after.clone();
                let refused = match op {
                    Op::Message => again.decrypt(bytes, now).is_err(),
                    Op::Distribution(sender) => again
                        .receive_distribution(channel_from(&fixture.ids, sender), bytes)
                        .is_err(),
                    _ => again
                        .apply_roster_change(&fixture.ids[B], bytes, now, &mut rng)
                        .is_err(),
                };
                assert!(refused, "{name} accepted twice");
                assert!(
                    again == after,
                    "refused repeat of {name} changed the session"
                );
            }
        }
        Err(e) => {
            assert!(
                after == fixture.session,
                "failed {op:?} ({e}) changed the session"
            );
            if let Some(original) = genuine {
                assert!(
                    !original.accepted[clock],
                    "genuine {} refused: {e}",
                    original.name
                );
            }
        }
    }
}

pub(crate) fn check_group_decrypt(data: &[u8]) {
    let fixture = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let clock = usize::from(mode >> 1 & 1);
    if mode & 1 == 0 {
        for op in [
            Op::Message,
            Op::Distribution(A),
            Op::Distribution(C),
            Op::Distribution(D),
            Op::Distribution(E),
            Op::Change,
            Op::Welcome(B),
            Op::Welcome(E),
        ] {
            check_op(fixture, op, rest, clock);
        }
    } else {
        let Some((&pick, edits)) = rest.split_first() else {
            return;
        };
        let input = &fixture.inputs[usize::from(pick) % fixture.inputs.len()];
        check_op(fixture, input.op, &mutate(&input.bytes, edits), clock);
    }
}

pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, g) in fixture().inputs.iter().enumerate() {
        let mut raw = vec![0u8];
        raw.extend_from_slice(&g.bytes);
        out.push((format!("raw-{}", g.name), raw));
        let pick = u8::try_from(i).expect("few inputs");
        out.push((format!("mutate-{}-none", g.name), vec![1, pick]));
        out.push((format!("late-{}-none", g.name), vec![3, pick]));
        let last = u16::try_from(g.bytes.len() - 1).expect("short");
        let [hi, lo] = last.to_be_bytes();
        out.push((
            format!("mutate-{}-flips", g.name),
            vec![1, pick, 0, 0, 40, 0x01, 0, hi, lo, 0x80],
        ));
    }
    out
}
