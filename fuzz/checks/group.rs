//! `group_decrypt`: attacker bytes into a live group session (member B of a four-member group
//! with stored skipped keys, a removed member, a pending roster change and a pending
//! distribution): as a group message ([`GroupSession::decrypt`]), as a distribution message
//! from each other member ([`GroupSession::receive_distribution`]), as a roster change
//! ([`GroupSession::apply_roster_change`]) and as a welcome ([`GroupSession::join`]).
//!
//! Input: mode byte. Bit 0 clear: the rest goes through every operation. Bit 0 set: the next
//! byte picks a genuine input (see [`GroupFixture::inputs`]), the rest are edits, and the
//! result goes through the picked input's operation.
//!
//! Properties: only a genuine input that the fixture's session accepts is accepted (with the
//! genuine sender and plaintext), once; every failure leaves the session equal to what it was;
//! anything accepted is recognised by [`peek`] as its own kind in this group.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::IdentityKeyPair;
use hushwire::group::{GroupRole, GroupSession, GroupWireKind, Outgoing, peek};
use rand_core::SeedableRng;

use super::{SEED, mutate};

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
    /// Accepted by the fixture's session (or, for a welcome, by `join`).
    pub(crate) accepted: bool,
    /// For messages: the sender's index and plaintext.
    pub(crate) plaintext: Vec<u8>,
    pub(crate) sender: usize,
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
                .receive_distribution(ids[*from].public(), &out.bytes)
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
            accepted: false,
            plaintext: name.as_bytes().to_vec(),
            sender: from,
        }
    };

    // Epoch 0: B reads a0 and a2 (keeping a key for a1), not c0 or d0.
    let a0 = message(&mut sessions, "a0", A, rng);
    let a1 = message(&mut sessions, "a1", A, rng);
    let a2 = message(&mut sessions, "a2", A, rng);
    let c0 = message(&mut sessions, "c0", C, rng);
    let d0 = message(&mut sessions, "d0", D, rng);
    for m in [&a0, &a2] {
        let _ = sessions[B].decrypt(&m.bytes).expect("B reads");
    }

    // A removes D (epoch 1); B and C apply it. B gets A's fresh sender key, not C's.
    let removal = sessions[A]
        .remove_member(&ids[A], *ids[D].public(), rng)
        .expect("remove");
    let change1 = removal.change.expect("change").bytes.to_vec();
    let dist_a1 = removal.distribution.expect("distribution").bytes.to_vec();
    let ub = sessions[B]
        .apply_roster_change(&ids[B], &change1, rng)
        .expect("B applies");
    let dist_b1 = ub.distribution.expect("distribution").bytes.to_vec();
    let uc = sessions[C]
        .apply_roster_change(&ids[C], &change1, rng)
        .expect("C applies");
    let dist_c1 = uc.distribution.expect("distribution").bytes.to_vec();
    sessions[B]
        .receive_distribution(ids[A].public(), &dist_a1)
        .expect("B gets A's key");
    sessions[A]
        .receive_distribution(ids[B].public(), &dist_b1)
        .expect("A gets B's key");

    // Epoch 1 messages; D has not applied its removal and still sends at epoch 0.
    let a3 = message(&mut sessions, "a3", A, rng);
    let c1 = message(&mut sessions, "c1", C, rng);
    let d1 = message(&mut sessions, "d1-after-removal", D, rng);

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
        accepted: false,
        plaintext: Vec::new(),
        sender: usize::MAX,
    };
    inputs.extend([a0, a1, a2, c0, d0, a3, c1, d1]);
    inputs.push(other("change-remove-d", Op::Change, change1));
    inputs.push(other("change-add-e", Op::Change, change2));
    inputs.push(other("dist-a-epoch1", Op::Distribution(A), dist_a1));
    inputs.push(other("dist-c-epoch1", Op::Distribution(C), dist_c1));
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
    let accepted: Vec<bool> = fixture
        .inputs
        .iter()
        .map(|input| run(&fixture, input.op, &input.bytes, &mut rng).0.is_ok())
        .collect();
    for (input, ok) in fixture.inputs.iter_mut().zip(accepted) {
        input.accepted = ok;
    }
    fixture
}

/// What an accepted input yielded: (sender index, plaintext) for a message.
type Accepted = Option<(usize, Vec<u8>)>;

/// Runs `op` on a copy of the fixture's session; returns the outcome and the session after.
fn run(
    fixture: &GroupFixture,
    op: Op,
    bytes: &[u8],
    rng: &mut ChaCha20Rng,
) -> (Result<Accepted, String>, GroupSession) {
    let mut s = fixture.session.clone();
    let ids = &fixture.ids;
    let outcome = match op {
        Op::Message => s
            .decrypt(bytes)
            .map(|read| {
                let from = ids
                    .iter()
                    .position(|id| *id.public() == read.sender)
                    .expect("a known sender");
                Some((from, read.plaintext))
            })
            .map_err(|e| format!("{e:?}")),
        Op::Distribution(from) => s
            .receive_distribution(ids[from].public(), bytes)
            .map(|_| None)
            .map_err(|e| format!("{e:?}")),
        Op::Change => s
            .apply_roster_change(&ids[B], bytes, rng)
            .map(|_| None)
            .map_err(|e| format!("{e:?}")),
        Op::Welcome(who) => GroupSession::join(&ids[who], bytes, ids[A].public(), rng)
            .map(|_| None)
            .map_err(|e| format!("{e:?}")),
    };
    (outcome, s)
}

fn check_op(fixture: &GroupFixture, op: Op, bytes: &[u8]) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (outcome, after) = run(fixture, op, bytes, &mut rng);
    let genuine = fixture
        .inputs
        .iter()
        .find(|g| g.op == op && g.bytes == bytes);
    match outcome {
        Ok(read) => {
            let Some(original) = genuine else {
                panic!("forged or edited input accepted as {op:?}: {read:?}");
            };
            assert!(
                original.accepted,
                "{} accepted, but not by the fixture",
                original.name
            );
            if let Some((from, plaintext)) = read {
                assert_eq!(from, original.sender, "{}", original.name);
                assert_eq!(plaintext, original.plaintext, "{}", original.name);
            }
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
                    Op::Message => again.decrypt(bytes).is_err(),
                    Op::Distribution(from) => again
                        .receive_distribution(fixture.ids[from].public(), bytes)
                        .is_err(),
                    _ => again
                        .apply_roster_change(&fixture.ids[B], bytes, &mut rng)
                        .is_err(),
                };
                assert!(refused, "{} accepted twice", original.name);
                assert!(
                    again == after,
                    "refused repeat of {} changed the session",
                    original.name
                );
            }
        }
        Err(e) => {
            assert!(
                after == fixture.session,
                "failed {op:?} ({e}) changed the session"
            );
            if let Some(original) = genuine {
                assert!(!original.accepted, "genuine {} refused: {e}", original.name);
            }
        }
    }
}

pub(crate) fn check_group_decrypt(data: &[u8]) {
    let fixture = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
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
            check_op(fixture, op, rest);
        }
    } else {
        let Some((&pick, edits)) = rest.split_first() else {
            return;
        };
        let input = &fixture.inputs[usize::from(pick) % fixture.inputs.len()];
        check_op(fixture, input.op, &mutate(&input.bytes, edits));
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
        let last = u16::try_from(g.bytes.len() - 1).expect("short");
        let [hi, lo] = last.to_be_bytes();
        out.push((
            format!("mutate-{}-flips", g.name),
            vec![1, pick, 0, 0, 40, 0x01, 0, hi, lo, 0x80],
        ));
    }
    out
}
