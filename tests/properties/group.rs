//! Property tests of group messaging: 50-member groups under random schedules of sends,
//! voluntary rotations, joins, removals, leaves, reordered and duplicated deliveries,
//! tampered and wrong-group messages and forged roster changes.
//!
//! A model predicts the outcome of every delivery from who was a member when the message was
//! sent, who is a member now, how many times the sender rotated since, and for a message sent
//! before the last removal, the time since that removal and how many such messages the
//! receiver already took from that sender: the exact plaintext, or the exact error
//! (`Removed`, `UnknownSender`, `UnknownSenderKey`, `OldEpochRefused`, `Duplicate`), or "any
//! error" for a member who joined after the message was sent. Invariants:
//! - members read exactly what was sent while they were members (each message once), except
//!   messages sent before a removal and delivered after the grace window closed;
//! - every message sent before a removal and read after it comes with its
//!   `OldEpochMessage` event, and none other does;
//! - nobody else reads anything: removed members (their live state, and a copy frozen just
//!   before the removal, as a member who ignores it would keep) and members who joined later;
//! - no tampered, replayed or wrong-group message is accepted, and a rejection changes nothing;
//! - forged roster changes (non-admin signer, skipped epoch, forked epoch, bad signature,
//!   stale epoch, someone else's "leave") are rejected with their own error, changing nothing.
//!
//! Distribution messages and roster changes are carried directly (the 1:1 transport is
//! tested in `tests/api/group.rs`); members are identity keys plus group state.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use ed25519_dalek::{Signer, SigningKey};
use std::collections::BTreeMap;

use hushwire::group::{
    AuthenticatedSender, GroupError, GroupEvent, GroupRole, GroupSession, MAX_OLD_EPOCH_MESSAGES,
    OLD_EPOCH_GRACE_SECS, Outgoing, RosterError, RosterOp,
};
use hushwire::{IdentityKey, IdentityKeyPair, Timestamp};
use proptest::prelude::*;
use rand_core::{Rng, SeedableRng};

use crate::common::NOW;

/// The sender of a distribution message carried by hand (standing for the 1:1 session that
/// would authenticate it).
fn auth(k: &IdentityKey) -> AuthenticatedSender {
    AuthenticatedSender::assume_authenticated(*k)
}

/// Members at the start of every case (the admin included).
const GROUP_SIZE: usize = 50;
/// Operations per schedule.
const MAX_OPS: usize = 40;
/// Cases of the schedule property (each costs roughly 50-300 ms: a removal makes 49
/// members rotate and 49 * 48 distribution messages be verified).
const CASES: u32 = 24;
/// Messages of the past a new member is shown (it must read none of them).
const HISTORY_SHOWN_TO_JOINER: usize = 40;

// ---------------------------------------------------------------------------------------
// The world: every identity, its live state, and what was sent.
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
struct Msg {
    sender: usize,
    bytes: Vec<u8>,
    text: Vec<u8>,
    key_id: u32,
    index: u32,
    /// The sender's roster epoch.
    epoch: u64,
    /// Removals made before it was sent.
    removals_before: usize,
    /// Members when it was sent, the sender excepted.
    recipients: BTreeSet<usize>,
}

struct World {
    rng: ChaCha20Rng,
    ids: Vec<IdentityKeyPair>,
    /// Live state per identity (a placeholder before joining is never used).
    states: Vec<GroupSession>,
    member: Vec<bool>,
    /// Copies of removed members' states taken just before their removal.
    frozen: Vec<GroupSession>,
    msgs: Vec<Msg>,
    /// (message, recipient) not yet delivered.
    pending: Vec<(usize, usize)>,
    /// (message, recipient) delivered and read.
    delivered: BTreeSet<(usize, usize)>,
    /// Messages of another group (same admin, other members).
    foreign: Vec<Vec<u8>>,
    /// The clock every call gets.
    now: Timestamp,
    /// Removals (and leaves) so far, and when the last was applied (by every member at once).
    removals: usize,
    removal_at: Timestamp,
    /// Per (receiver, sender): messages from before the last removal read since it.
    old_epoch_read: BTreeMap<(usize, usize), u32>,
    /// (message, recipient) refused because the grace window had closed.
    refused_late: BTreeSet<(usize, usize)>,
}

fn key_of(ids: &[IdentityKeyPair], k: &IdentityKey) -> usize {
    ids.iter().position(|i| i.public() == k).unwrap()
}

fn base_world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0x6704);
        let ids: Vec<IdentityKeyPair> = (0..GROUP_SIZE)
            .map(|_| IdentityKeyPair::generate(&mut rng))
            .collect();
        let others: Vec<_> = ids[1..]
            .iter()
            .map(|k| (*k.public(), GroupRole::Member))
            .collect();
        let created = GroupSession::create(&ids[0], &others, &mut rng).unwrap();
        let mut states = vec![created.session];
        let mut dists = vec![(0, created.distribution)];
        for (i, id) in ids.iter().enumerate().skip(1) {
            let joined =
                GroupSession::join(id, &created.welcome.bytes, ids[0].public(), &mut rng).unwrap();
            states.push(joined.session);
            dists.push((i, joined.distribution));
        }
        let mut w = World {
            rng,
            member: vec![true; GROUP_SIZE],
            ids,
            states,
            frozen: vec![],
            msgs: vec![],
            pending: vec![],
            delivered: BTreeSet::new(),
            foreign: vec![],
            now: NOW,
            removals: 0,
            removal_at: NOW,
            old_epoch_read: BTreeMap::new(),
            refused_late: BTreeSet::new(),
        };
        for (from, d) in dists {
            w.distribute(from, &d);
        }
        // Another group: the same admin and two of the same members.
        let created = GroupSession::create(
            &w.ids[0],
            &[(*w.ids[1].public(), GroupRole::Member)],
            &mut w.rng,
        )
        .unwrap();
        let mut other = created.session;
        w.foreign = (0..4)
            .map(|i| other.encrypt(&[i], &mut w.rng).unwrap())
            .collect();
        w.foreign.push(created.distribution.bytes.to_vec());
        w
    })
}

impl World {
    /// A copy of this world drawing from a new random stream.
    fn fork(&self, seed: u64) -> World {
        World {
            rng: ChaCha20Rng::seed_from_u64(seed),
            ids: self.ids.clone(),
            states: self.states.clone(),
            member: self.member.clone(),
            frozen: self.frozen.clone(),
            msgs: self.msgs.clone(),
            pending: self.pending.clone(),
            delivered: self.delivered.clone(),
            foreign: self.foreign.clone(),
            now: self.now,
            removals: self.removals,
            removal_at: self.removal_at,
            old_epoch_read: self.old_epoch_read.clone(),
            refused_late: self.refused_late.clone(),
        }
    }

    fn current_members(&self) -> Vec<usize> {
        (0..self.ids.len()).filter(|&i| self.member[i]).collect()
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> Option<T> {
        if from.is_empty() {
            return None;
        }
        let n = usize::try_from(self.rng.next_u64() % from.len() as u64).unwrap();
        Some(from[n])
    }

    /// Hands a distribution message to each recipient; every one accepts it.
    fn distribute(&mut self, from: usize, d: &Outgoing) {
        let sender = *self.ids[from].public();
        for r in &d.recipients {
            let i = key_of(&self.ids, r);
            assert!(self.member[i], "distribution addressed to a non-member");
            self.states[i]
                .receive_distribution(auth(&sender), &d.bytes)
                .unwrap();
        }
    }

    fn send(&mut self, sender: usize) {
        let n = self.msgs.len();
        let text = format!("message {n} from {sender}").into_bytes();
        let bytes = self.states[sender].encrypt(&text, &mut self.rng).unwrap();
        let key_id = u32::from_be_bytes(bytes[74..78].try_into().unwrap());
        let index = u32::from_be_bytes(bytes[78..82].try_into().unwrap());
        let epoch = self.states[sender].epoch();
        let recipients: BTreeSet<usize> = self
            .current_members()
            .into_iter()
            .filter(|&r| r != sender)
            .collect();
        for &r in &recipients {
            self.pending.push((n, r));
        }
        // Nobody outside the group reads it: not a removed member's live state, nor the copy
        // it had before its removal.
        for f in &mut self.frozen {
            assert!(
                f.decrypt(&bytes, self.now).is_err(),
                "a removed member read message {n}"
            );
        }
        for i in 0..self.ids.len() {
            if !self.member[i] {
                assert_eq!(
                    self.states[i].decrypt(&bytes, self.now),
                    Err(GroupError::Removed)
                );
            }
        }
        self.msgs.push(Msg {
            sender,
            bytes,
            text,
            key_id,
            index,
            epoch,
            removals_before: self.removals,
            recipients,
        });
    }

    /// Whether message `m` was sent on a key from before the last removal.
    fn old_epoch(&self, m: usize) -> bool {
        self.msgs[m].removals_before < self.removals
    }

    /// What delivering message `m` to `r` must give now.
    fn expected(&self, m: usize, r: usize) -> Option<Result<Vec<u8>, GroupError>> {
        let msg = &self.msgs[m];
        if !self.member[r] {
            return Some(Err(GroupError::Removed));
        }
        if !msg.recipients.contains(&r) {
            return None; // joined later: any error, never a read
        }
        if !self.member[msg.sender] {
            return Some(Err(GroupError::UnknownSender));
        }
        let current = self.states[msg.sender].sender_key_id().unwrap();
        if current >= msg.key_id + 2 {
            return Some(Err(GroupError::UnknownSenderKey { key_id: msg.key_id }));
        }
        if self.old_epoch(m) {
            let read = self
                .old_epoch_read
                .get(&(r, msg.sender))
                .copied()
                .unwrap_or(0);
            let late = self.now.as_unix_secs() - self.removal_at.as_unix_secs();
            if late > OLD_EPOCH_GRACE_SECS || read >= MAX_OLD_EPOCH_MESSAGES {
                return Some(Err(GroupError::OldEpochRefused {
                    key_id: msg.key_id,
                    rekey_epoch: self.states[r].roster().rekey_epoch(),
                }));
            }
        }
        if self.delivered.contains(&(m, r)) {
            return Some(Err(GroupError::Duplicate { index: msg.index }));
        }
        Some(Ok(msg.text.clone()))
    }

    fn deliver(&mut self, m: usize, r: usize) {
        let expected = self.expected(m, r);
        let before = self.states[r].clone();
        let got = self.states[r].decrypt(&self.msgs[m].bytes, self.now);
        match (expected, got) {
            (Some(Ok(text)), Ok(read)) => {
                let msg = &self.msgs[m];
                assert_eq!(read.plaintext, text);
                assert_eq!(read.sender, *self.ids[msg.sender].public());
                let warned = read.events.first()
                    == Some(&GroupEvent::OldEpochMessage {
                        member: read.sender,
                        key_id: msg.key_id,
                        message_epoch: msg.epoch,
                        rekey_epoch: self.states[r].roster().rekey_epoch(),
                    });
                assert_eq!(warned, self.old_epoch(m), "message {m} to {r}: {read:?}");
                if warned {
                    *self.old_epoch_read.entry((r, msg.sender)).or_default() += 1;
                }
                assert!(self.delivered.insert((m, r)));
            }
            (Some(Err(e)), Err(got)) => {
                assert_eq!(got, e, "message {m} to {r}");
                assert!(self.states[r] == before, "a rejection changed the state");
                if matches!(e, GroupError::OldEpochRefused { .. }) {
                    self.refused_late.insert((m, r));
                }
            }
            (None, Err(_)) => assert!(self.states[r] == before),
            (expected, got) => panic!("message {m} to {r}: expected {expected:?}, got {got:?}"),
        }
    }

    fn deliver_some(&mut self, count: usize) {
        for _ in 0..count {
            if self.pending.is_empty() {
                return;
            }
            let n = usize::try_from(self.rng.next_u64() % self.pending.len() as u64).unwrap();
            let (m, r) = self.pending.swap_remove(n);
            self.deliver(m, r);
        }
    }

    fn replay_some(&mut self) {
        let done: Vec<(usize, usize)> = self.delivered.iter().copied().collect();
        if let Some((m, r)) = self.pick(&done) {
            self.deliver(m, r);
        }
    }

    /// Runs a roster change made by `author` through every member.
    fn roster_change(&mut self, author: usize, op: RosterOp) {
        let removed = match op {
            RosterOp::Remove { member } => Some(key_of(&self.ids, &member)),
            _ => None,
        };
        if let Some(v) = removed {
            let copy = self.states[v].clone();
            self.frozen.push(copy);
        }
        let update = self.states[author]
            .change_roster(&self.ids[author], op, self.now, &mut self.rng)
            .unwrap();
        if removed.is_some() {
            self.removals += 1;
            self.removal_at = self.now;
            self.old_epoch_read.clear();
        }
        let mut dists = vec![];
        if let Some(d) = update.distribution {
            dists.push((author, d));
        }
        let change = update.change.unwrap();
        for r in &change.recipients {
            let i = key_of(&self.ids, r);
            let u = self.states[i]
                .apply_roster_change(&self.ids[i], &change.bytes, self.now, &mut self.rng)
                .unwrap();
            if let Some(d) = u.distribution {
                dists.push((i, d));
            }
        }
        if let Some(v) = removed {
            self.member[v] = false;
            assert!(!self.states[v].is_member());
        }
        if let Some(w) = update.welcome {
            let i = key_of(&self.ids, &w.recipients[0]);
            let inviter = *self.ids[author].public();
            let joined =
                GroupSession::join(&self.ids[i], &w.bytes, &inviter, &mut self.rng).unwrap();
            self.states[i] = joined.session;
            self.member[i] = true;
            dists.push((i, joined.distribution));
        }
        for (from, d) in dists {
            // After a removal, fresh keys go to the remaining members only.
            if let Some(v) = removed {
                assert!(!d.recipients.contains(self.ids[v].public()));
            }
            self.distribute(from, &d);
        }
        // Every member holds the same roster.
        let roster = self.states[0].roster().clone();
        for i in self.current_members() {
            assert_eq!(self.states[i].roster(), &roster);
        }
        assert_eq!(roster.members().len(), self.current_members().len());
    }

    fn join(&mut self) {
        let id = IdentityKeyPair::generate(&mut self.rng);
        let key = *id.public();
        let placeholder = GroupSession::create(&id, &[], &mut self.rng)
            .unwrap()
            .session;
        self.ids.push(id);
        self.states.push(placeholder);
        self.member.push(false);
        let i = self.ids.len() - 1;
        self.roster_change(
            0,
            RosterOp::Add {
                member: key,
                role: GroupRole::Member,
            },
        );
        assert!(self.member[i]);
        // It reads nothing sent before it joined.
        let start = self.msgs.len().saturating_sub(HISTORY_SHOWN_TO_JOINER);
        for m in start..self.msgs.len() {
            let before = self.states[i].clone();
            assert!(
                self.states[i]
                    .decrypt(&self.msgs[m].bytes, self.now)
                    .is_err()
            );
            assert!(self.states[i] == before);
        }
    }

    fn non_admin_members(&self) -> Vec<usize> {
        self.current_members()
            .into_iter()
            .filter(|&i| i != 0)
            .collect()
    }

    fn remove(&mut self) {
        if let Some(v) = self.pick(&self.non_admin_members()) {
            let member = *self.ids[v].public();
            self.roster_change(0, RosterOp::Remove { member });
        }
    }

    fn leave(&mut self) {
        if let Some(v) = self.pick(&self.non_admin_members()) {
            let member = *self.ids[v].public();
            self.roster_change(v, RosterOp::Remove { member });
        }
    }

    fn rotate(&mut self, who: usize) {
        let d = self.states[who]
            .rotate_sender_key(&self.ids[who], &mut self.rng)
            .unwrap();
        self.distribute(who, &d);
    }

    fn tamper(&mut self, pos: usize, bit: u8) {
        let all: Vec<usize> = (0..self.msgs.len()).collect();
        let (Some(m), Some(r)) = (self.pick(&all), self.pick(&self.current_members())) else {
            return;
        };
        let mut bad = self.msgs[m].bytes.clone();
        let at = pos % bad.len();
        bad[at] ^= 1 << (bit % 8);
        let before = self.states[r].clone();
        assert!(
            self.states[r].decrypt(&bad, self.now).is_err(),
            "tampered message accepted"
        );
        assert!(self.states[r] == before);
    }

    fn wrong_group(&mut self) {
        let foreign = self.foreign.clone();
        let Some(r) = self.pick(&self.current_members()) else {
            return;
        };
        for bytes in &foreign[..foreign.len() - 1] {
            let before = self.states[r].clone();
            assert_eq!(
                self.states[r].decrypt(bytes, self.now),
                Err(GroupError::WrongGroup)
            );
            assert!(self.states[r] == before);
        }
        let from = *self.ids[0].public();
        let before = self.states[r].clone();
        if r != 0 {
            assert_eq!(
                self.states[r].receive_distribution(auth(&from), &foreign[foreign.len() - 1]),
                Err(GroupError::WrongGroup)
            );
        }
        assert!(self.states[r] == before);
    }

    fn forge(&mut self, kind: u8) {
        let Some(target) = self.pick(&self.current_members()) else {
            return;
        };
        let state = &self.states[target];
        let roster = state.roster();
        let gid = roster.group_id();
        let epoch = roster.epoch();
        let hash = roster.hash();
        let fresh = *IdentityKeyPair::generate(&mut self.rng).public();
        let admin = self.ids[0].clone();
        let non_admins = self.non_admin_members();
        let (change, expected) = match kind % 6 {
            0 => {
                let Some(s) = self.pick(&non_admins) else {
                    return;
                };
                let signer = self.ids[s].clone();
                (
                    forge_change(gid.as_bytes(), epoch + 1, &hash, 1, &fresh, 2, &signer),
                    RosterError::NotAdmin {
                        signer: signer.public().to_bytes(),
                    },
                )
            }
            1 => (
                forge_change(gid.as_bytes(), epoch + 2, &hash, 1, &fresh, 2, &admin),
                RosterError::SkippedEpoch {
                    current: epoch,
                    found: epoch + 2,
                },
            ),
            2 => {
                let mut other = hash;
                other[0] ^= 1;
                (
                    forge_change(gid.as_bytes(), epoch + 1, &other, 1, &fresh, 2, &admin),
                    RosterError::ForkedEpoch { epoch: epoch + 1 },
                )
            }
            3 => {
                let mut c = forge_change(gid.as_bytes(), epoch + 1, &hash, 1, &fresh, 2, &admin);
                let n = c.len();
                c[n - 1 - usize::from(kind) % 64] ^= 0x20;
                (c, RosterError::BadSignature)
            }
            4 if epoch >= 2 => (
                forge_change(gid.as_bytes(), epoch - 1, &hash, 1, &fresh, 2, &admin),
                RosterError::StaleEpoch {
                    current: epoch,
                    found: epoch - 1,
                },
            ),
            _ => {
                // A member signing someone else's removal as if it were a "leave".
                if non_admins.len() < 2 {
                    return;
                }
                let s = non_admins[0];
                let victim = *self.ids[non_admins[1]].public();
                let signer = self.ids[s].clone();
                (
                    forge_change(gid.as_bytes(), epoch + 1, &hash, 2, &victim, 0, &signer),
                    RosterError::NotAdmin {
                        signer: signer.public().to_bytes(),
                    },
                )
            }
        };
        let before = self.states[target].clone();
        let got = self.states[target].apply_roster_change(
            &self.ids[target],
            &change,
            self.now,
            &mut self.rng,
        );
        assert_eq!(got.unwrap_err(), expected);
        assert!(self.states[target] == before);
    }

    /// Delivers everything still pending and checks that every member read exactly the
    /// messages sent while it was a member (from senders still present, on keys still held,
    /// within the grace window of a removal made after them).
    fn finish(&mut self) {
        while !self.pending.is_empty() {
            self.deliver_some(self.pending.len());
        }
        for (m, msg) in self.msgs.iter().enumerate() {
            for r in 0..self.ids.len() {
                let should_read = self.member[r]
                    && msg.recipients.contains(&r)
                    && self.member[msg.sender]
                    && self.states[msg.sender].sender_key_id().unwrap() < msg.key_id + 2
                    && !self.refused_late.contains(&(m, r));
                let read = self.delivered.contains(&(m, r));
                if read {
                    assert!(
                        msg.recipients.contains(&r),
                        "message {m} read by non-recipient {r}"
                    );
                }
                if should_read {
                    assert!(read, "member {r} did not read message {m}");
                }
            }
        }
    }
}

fn forge_change(
    group: &[u8; 32],
    epoch: u64,
    previous_hash: &[u8; 32],
    op: u8,
    target: &IdentityKey,
    role: u8,
    signer: &IdentityKeyPair,
) -> Vec<u8> {
    let mut out = vec![0x01, 0x23];
    out.extend_from_slice(group);
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(previous_hash);
    out.push(op);
    out.extend_from_slice(target.as_bytes());
    out.push(role);
    out.extend_from_slice(signer.public().as_bytes());
    let sk = SigningKey::from_bytes(&signer.dangerous_to_seed());
    let sig = sk.sign(&[b"hushwire/v1/sig/group-roster-change".as_slice(), &out].concat());
    out.extend_from_slice(&sig.to_bytes());
    out
}

// ---------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Send(u8),
    Deliver(u8),
    Replay,
    Rotate(u8),
    Join,
    Remove,
    Leave,
    Tamper(u16, u8),
    WrongGroup,
    Forge(u8),
    /// The clock moves on by this many minutes.
    Wait(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<u8>().prop_map(Op::Send),
        6 => (1u8..120).prop_map(Op::Deliver),
        2 => Just(Op::Replay),
        1 => any::<u8>().prop_map(Op::Rotate),
        2 => Just(Op::Join),
        2 => Just(Op::Remove),
        1 => Just(Op::Leave),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(p, b)| Op::Tamper(p, b)),
        1 => Just(Op::WrongGroup),
        2 => any::<u8>().prop_map(Op::Forge),
        2 => any::<u8>().prop_map(Op::Wait),
    ]
}

fn run(seed: u64, ops: &[Op]) {
    let mut w = base_world().fork(seed);
    for op in ops {
        match *op {
            Op::Send(s) => {
                let members = w.current_members();
                let sender = members[usize::from(s) % members.len()];
                w.send(sender);
            }
            Op::Deliver(n) => w.deliver_some(usize::from(n)),
            Op::Replay => w.replay_some(),
            Op::Rotate(s) => {
                let members = w.current_members();
                let who = members[usize::from(s) % members.len()];
                w.rotate(who);
            }
            Op::Join => w.join(),
            Op::Remove => w.remove(),
            Op::Leave => w.leave(),
            Op::Tamper(p, b) => w.tamper(usize::from(p), b),
            Op::WrongGroup => w.wrong_group(),
            Op::Forge(k) => w.forge(k),
            Op::Wait(minutes) => w.now = w.now.plus_secs(u64::from(minutes) * 60),
        }
    }
    w.finish();
}

proptest! {
    #![proptest_config(crate::common::proptest_config(CASES))]

    #[test]
    fn fifty_member_schedules_keep_every_invariant(
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 1..MAX_OPS),
    ) {
        run(seed, &ops);
    }
}

/// A fixed, busy schedule: every kind of operation, several removals and joins, and
/// messages left in flight across them.
#[test]
fn fixed_busy_schedule() {
    let mut ops = vec![];
    for round in 0..4u8 {
        ops.extend([
            Op::Send(round),
            Op::Send(round + 7),
            Op::Deliver(30),
            Op::Rotate(round + 3),
            Op::Send(round + 3),
            Op::Join,
            Op::Send(round + 11),
            Op::Remove,
            Op::Replay,
            Op::Tamper(u16::from(round) * 37, round),
            Op::Forge(round),
            Op::Forge(round + 4),
            Op::Leave,
            Op::Send(round + 3),
            Op::Rotate(round + 3),
            Op::Rotate(round + 3),
            Op::WrongGroup,
            Op::Deliver(20),
            Op::Wait(40 * round),
            Op::Deliver(40),
        ]);
    }
    run(7, &ops);
}
