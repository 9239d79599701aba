//! Group messaging scenarios: a support chat carried over real 1:1 sessions, removal and
//! joining (forward and backward secrecy of the roster), forged roster changes, replayed,
//! tampered and wrong-group messages (each rejected with the session unchanged), every limit
//! at and past its edge, persistence and `Debug`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use ed25519_dalek::{Signer, SigningKey};
use hushwire::group::{
    AuthenticatedSender, DISTRIBUTION_LEN, DISTRIBUTION_V1_LEN, GROUP_MESSAGE_OVERHEAD, GroupError,
    GroupEvent, GroupId, GroupRole, GroupSession, GroupWireKind, MAX_GROUP_JUMP, MAX_GROUP_MEMBERS,
    MAX_GROUP_MESSAGE_LEN, MAX_GROUP_SKIPPED_KEYS, MAX_OLD_EPOCH_MESSAGES, MAX_ROSTER_LEN,
    MAX_SENDER_KEYS_PER_MEMBER, OLD_EPOCH_GRACE_SECS, Outgoing, ROSTER_CHANGE_LEN, RosterError,
    RosterOp, RosterUpdate, peek,
};
use hushwire::persist::StateType;
use hushwire::{
    Account, DecodeError, Device, Error, ErrorKind, IdentityKey, IdentityKeyPair,
    MAX_PLAINTEXT_LEN, RestoreError, StorageKey, Timestamp,
};

use crate::common::NOW;

/// The sender of a distribution message these tests carry by hand (standing for the 1:1
/// session that would authenticate it).
fn auth(k: &IdentityKey) -> AuthenticatedSender {
    AuthenticatedSender::assume_authenticated(*k)
}

use crate::common::rng;

// ---------------------------------------------------------------------------------------
// A group of members driven directly (distribution messages carried by hand).
// ---------------------------------------------------------------------------------------

struct Member {
    id: IdentityKeyPair,
    g: GroupSession,
}

struct Sim {
    rng: ChaCha20Rng,
    /// Current and former members (a removed member keeps its last state).
    members: Vec<Member>,
}

impl Sim {
    /// A group of `n`: member 0 is the creator (admin), the others members.
    fn new(n: usize, seed: u64) -> Sim {
        let mut rng = rng(seed);
        let ids: Vec<IdentityKeyPair> = (0..n)
            .map(|_| IdentityKeyPair::generate(&mut rng))
            .collect();
        let others: Vec<(IdentityKey, GroupRole)> = ids[1..]
            .iter()
            .map(|k| (*k.public(), GroupRole::Member))
            .collect();
        let created = GroupSession::create(&ids[0], &others, &mut rng).unwrap();
        let mut members = vec![];
        let mut dists = vec![(0usize, created.distribution)];
        let mut ids = ids.into_iter();
        members.push(Member {
            id: ids.next().unwrap(),
            g: created.session,
        });
        for id in ids {
            let joined = GroupSession::join(
                &id,
                &created.welcome.bytes,
                members[0].id.public(),
                &mut rng,
            )
            .unwrap();
            dists.push((members.len(), joined.distribution));
            members.push(Member {
                id,
                g: joined.session,
            });
        }
        let mut sim = Sim { rng, members };
        for (from, out) in dists {
            sim.deliver(from, &out);
        }
        sim
    }

    fn key(&self, i: usize) -> IdentityKey {
        *self.members[i].id.public()
    }

    fn idx(&self, k: &IdentityKey) -> usize {
        self.members
            .iter()
            .position(|m| m.id.public() == k)
            .unwrap()
    }

    /// Hands a distribution message from member `from` to each of its recipients.
    fn deliver(&mut self, from: usize, out: &Outgoing) {
        let sender = self.key(from);
        for r in out.recipients.clone() {
            let i = self.idx(&r);
            let events = self.members[i]
                .g
                .receive_distribution(auth(&sender), &out.bytes)
                .unwrap();
            assert!(events.contains(&GroupEvent::SenderKeyReceived {
                member: sender,
                key_id: u32::from_be_bytes(out.bytes[74..78].try_into().unwrap()),
            }));
        }
    }

    /// Runs a roster change made by `admin` through the whole group: every recipient applies
    /// it, a new member joins from the welcome, and every distribution message is delivered.
    fn change(&mut self, admin: usize, op: RosterOp) -> RosterUpdate {
        let Sim { rng, members } = self;
        let m = &mut members[admin];
        let update = m.g.change_roster(&m.id, op, NOW, rng).unwrap();
        self.propagate(admin, &update);
        update
    }

    fn propagate(&mut self, author: usize, update: &RosterUpdate) {
        let mut dists = vec![];
        if let Some(d) = &update.distribution {
            dists.push((author, d.clone()));
        }
        let change = update.change.as_ref().unwrap();
        for r in &change.recipients {
            let i = self.idx(r);
            let Sim { rng, members } = self;
            let m = &mut members[i];
            let u =
                m.g.apply_roster_change(&m.id, &change.bytes, NOW, rng)
                    .unwrap();
            if let Some(d) = u.distribution {
                dists.push((i, d));
            }
        }
        if let Some(w) = &update.welcome {
            let i = self.idx(&w.recipients[0]);
            let inviter = self.key(author);
            let Sim { rng, members } = self;
            let m = &mut members[i];
            let joined = GroupSession::join(&m.id, &w.bytes, &inviter, rng).unwrap();
            m.g = joined.session;
            dists.push((i, joined.distribution));
        }
        for (from, d) in dists {
            self.deliver(from, &d);
        }
    }

    /// Adds a fresh identity (as a member) via `admin`; returns its index.
    fn add(&mut self, admin: usize) -> usize {
        let id = IdentityKeyPair::generate(&mut self.rng);
        let key = *id.public();
        // A placeholder state until the welcome arrives: a one-member group of its own.
        let placeholder = GroupSession::create(&id, &[], &mut self.rng)
            .unwrap()
            .session;
        self.members.push(Member { id, g: placeholder });
        let _ = self.change(
            admin,
            RosterOp::Add {
                member: key,
                role: GroupRole::Member,
            },
        );
        self.members.len() - 1
    }

    fn send(&mut self, from: usize, text: &[u8]) -> Vec<u8> {
        let Sim { rng, members } = self;
        members[from].g.encrypt(text, rng).unwrap()
    }

    /// Every current member except `from` reads `msg` as `text`.
    fn all_read(&mut self, from: usize, msg: &[u8], text: &[u8]) {
        let sender = self.key(from);
        let current: Vec<IdentityKey> = self.members[from]
            .g
            .roster()
            .members()
            .iter()
            .map(|m| *m.identity())
            .collect();
        for k in current {
            if k == sender {
                continue;
            }
            let i = self.idx(&k);
            let read = self.members[i].g.decrypt(msg, NOW).unwrap();
            assert_eq!(read.plaintext, text);
            assert_eq!(read.sender, sender);
        }
    }
}

/// Feeds `input` to a clone of `g` through `f`, checks it fails with `expected` and that
/// `g` is unchanged.
fn rejects<T: std::fmt::Debug, E: PartialEq + std::fmt::Debug>(
    g: &mut GroupSession,
    expected: E,
    f: impl FnOnce(&mut GroupSession) -> Result<T, E>,
) {
    let before = g.clone();
    let got = f(g);
    assert_eq!(got.unwrap_err(), expected);
    assert!(*g == before, "state changed on a rejected input");
}

// ---------------------------------------------------------------------------------------
// An independent encoder for forged roster changes (SPEC.md §14.6.5).
// ---------------------------------------------------------------------------------------

fn sign_as(pair: &IdentityKeyPair, label: &[u8], signed: &[u8]) -> [u8; 64] {
    let sk = SigningKey::from_bytes(&pair.dangerous_to_seed());
    sk.sign(&[label, signed].concat()).to_bytes()
}

#[allow(clippy::too_many_arguments)]
fn forge_change(
    group: &GroupId,
    epoch: u64,
    previous_hash: &[u8; 32],
    op: u8,
    target: &IdentityKey,
    role: u8,
    signer: &IdentityKeyPair,
) -> Vec<u8> {
    let mut out = vec![0x01, 0x23];
    out.extend_from_slice(group.as_bytes());
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(previous_hash);
    out.push(op);
    out.extend_from_slice(target.as_bytes());
    out.push(role);
    out.extend_from_slice(signer.public().as_bytes());
    let sig = sign_as(signer, b"hushwire/v1/sig/group-roster-change", &out);
    out.extend_from_slice(&sig);
    assert_eq!(out.len(), ROSTER_CHANGE_LEN);
    out
}

// ---------------------------------------------------------------------------------------
// The support chat, over real accounts and 1:1 sessions.
// ---------------------------------------------------------------------------------------

struct Net {
    rng: ChaCha20Rng,
    accounts: Vec<Device>,
}

impl Net {
    /// Carries `bytes` from account `from` to account `to` over their 1:1 session (started
    /// on first use), returning what `to` decrypted.
    fn carry(&mut self, from: usize, to: usize, bytes: &[u8]) -> Vec<u8> {
        let to_key = *self.accounts[to].identity_key();
        let from_key = *self.accounts[from].identity_key();
        if self.accounts[from].sessions_with(&to_key).is_empty() {
            let bundle = self.accounts[to]
                .account()
                .published_prekeys()
                .take_bundle();
            let _ = self.accounts[from]
                .start_session(&bundle, &mut self.rng)
                .unwrap();
        }
        let wire = self.accounts[from]
            .encrypt_for(&to_key, bytes, &mut self.rng)
            .unwrap();
        self.accounts[to]
            .decrypt_from(&from_key, &wire, NOW)
            .unwrap()
            .plaintext
    }

    /// Who account `to`'s sessions authenticate `from`'s bytes as coming from: the session
    /// with `from` that `decrypt_from` used (the active one after a success).
    fn channel(&self, to: usize, from: usize) -> AuthenticatedSender {
        let from_key = self.accounts[from].identity_key();
        AuthenticatedSender::from(self.accounts[to].active_session(from_key).unwrap())
    }

    fn index_of(&self, k: &IdentityKey) -> usize {
        self.accounts
            .iter()
            .position(|a| a.identity_key() == k)
            .unwrap()
    }
}

#[test]
fn support_chat_customer_operator_supervisor_joins_then_leaves() {
    const OPERATOR: usize = 0;
    const CUSTOMER: usize = 1;
    const SUPERVISOR: usize = 2;
    let mut rng = rng(1);
    let mut accounts = vec![];
    for _ in 0..3 {
        let mut a = Device::new(NOW, &mut rng);
        a.account_mut()
            .generate_one_time_prekeys(5, 5, NOW, &mut rng)
            .unwrap();
        accounts.push(a);
    }
    let mut net = Net { rng, accounts };
    let id = |net: &Net, i: usize| net.accounts[i].account().identity_key_pair().clone();
    let key = |net: &Net, i: usize| *net.accounts[i].identity_key();

    // The operator opens the conversation with the customer.
    let created = GroupSession::create(
        &id(&net, OPERATOR),
        &[(key(&net, CUSTOMER), GroupRole::Member)],
        &mut net.rng,
    )
    .unwrap();
    let mut operator = created.session;
    assert_eq!(created.welcome.recipients, vec![key(&net, CUSTOMER)]);
    let welcome = net.carry(OPERATOR, CUSTOMER, &created.welcome.bytes);
    let op_dist = net.carry(OPERATOR, CUSTOMER, &created.distribution.bytes);
    let joined = GroupSession::join(
        &id(&net, CUSTOMER),
        &welcome,
        &key(&net, OPERATOR),
        &mut net.rng,
    )
    .unwrap();
    let mut customer = joined.session;
    let _ = customer
        .receive_distribution(net.channel(CUSTOMER, OPERATOR), &op_dist)
        .unwrap();
    let cust_dist = net.carry(CUSTOMER, OPERATOR, &joined.distribution.bytes);
    let _ = operator
        .receive_distribution(net.channel(OPERATOR, CUSTOMER), &cust_dist)
        .unwrap();

    let m1 = customer
        .encrypt(b"my order never arrived", &mut net.rng)
        .unwrap();
    assert_eq!(
        operator.decrypt(&m1, NOW).unwrap().plaintext,
        b"my order never arrived"
    );
    let m2 = operator.encrypt(b"let me check", &mut net.rng).unwrap();
    assert_eq!(
        customer.decrypt(&m2, NOW).unwrap().plaintext,
        b"let me check"
    );

    // Sent before the supervisor is added: the supervisor will not read it.
    let before_join = operator
        .encrypt(b"before the supervisor", &mut net.rng)
        .unwrap();
    assert_eq!(
        customer.decrypt(&before_join, NOW).unwrap().plaintext,
        b"before the supervisor"
    );

    // The supervisor joins; the customer sees it in the roster and in the events.
    let sup_key = key(&net, SUPERVISOR);
    let update = operator
        .add_member(&id(&net, OPERATOR), sup_key, GroupRole::Admin, &mut net.rng)
        .unwrap();
    assert!(update.events.contains(&GroupEvent::MemberAdded {
        member: sup_key,
        role: GroupRole::Admin,
        by: key(&net, OPERATOR),
        epoch: 1,
    }));
    let change = update.change.unwrap();
    assert_eq!(change.recipients, vec![key(&net, CUSTOMER)]);
    let change_bytes = net.carry(OPERATOR, CUSTOMER, &change.bytes);
    let cust_update = customer
        .apply_roster_change(&id(&net, CUSTOMER), &change_bytes, NOW, &mut net.rng)
        .unwrap();
    assert!(matches!(
        cust_update.events[..],
        [GroupEvent::MemberAdded { member, role: GroupRole::Admin, .. }] if member == sup_key
    ));
    let listed: Vec<(IdentityKey, GroupRole)> = customer
        .roster()
        .members()
        .iter()
        .map(|m| (*m.identity(), m.role()))
        .collect();
    assert_eq!(listed.len(), 3);
    assert!(listed.contains(&(sup_key, GroupRole::Admin)));
    assert_eq!(customer.roster(), operator.roster());

    let welcome = net.carry(OPERATOR, SUPERVISOR, &update.welcome.unwrap().bytes);
    let joined = GroupSession::join(
        &id(&net, SUPERVISOR),
        &welcome,
        &key(&net, OPERATOR),
        &mut net.rng,
    )
    .unwrap();
    let mut supervisor = joined.session;
    assert_eq!(supervisor.roster(), operator.roster());
    // The operator's and the customer's current sender keys, for the supervisor only.
    for (from, d) in [
        (OPERATOR, update.distribution.unwrap()),
        (CUSTOMER, cust_update.distribution.unwrap()),
    ] {
        assert_eq!(d.recipients, vec![sup_key]);
        let bytes = net.carry(from, SUPERVISOR, &d.bytes);
        let _ = supervisor
            .receive_distribution(net.channel(SUPERVISOR, from), &bytes)
            .unwrap();
    }
    // The supervisor's sender key, for the operator and the customer.
    let mut sup_recipients = joined.distribution.recipients.clone();
    sup_recipients.sort();
    let mut expected = vec![key(&net, OPERATOR), key(&net, CUSTOMER)];
    expected.sort();
    assert_eq!(sup_recipients, expected);
    for r in &joined.distribution.recipients {
        let to = net.index_of(r);
        let bytes = net.carry(SUPERVISOR, to, &joined.distribution.bytes);
        let g = if to == OPERATOR {
            &mut operator
        } else {
            &mut customer
        };
        let _ = g
            .receive_distribution(net.channel(to, SUPERVISOR), &bytes)
            .unwrap();
    }
    assert!(matches!(
        supervisor.decrypt(&before_join, NOW),
        Err(GroupError::BeforeSenderKey { index: 1, first: 2 })
    ));
    assert!(matches!(
        supervisor.decrypt(&m1, NOW),
        Err(GroupError::BeforeSenderKey { index: 0, first: 1 })
    ));

    // Three-way conversation.
    let m3 = supervisor
        .encrypt(b"supervisor here, refund approved", &mut net.rng)
        .unwrap();
    for g in [&mut operator, &mut customer] {
        let read = g.decrypt(&m3, NOW).unwrap();
        assert_eq!(read.plaintext, b"supervisor here, refund approved");
        assert_eq!(read.sender, sup_key);
        assert_eq!(read.epoch, 1);
    }
    let m4 = customer.encrypt(b"thank you!", &mut net.rng).unwrap();
    assert_eq!(operator.decrypt(&m4, NOW).unwrap().plaintext, b"thank you!");
    assert_eq!(
        supervisor.decrypt(&m4, NOW).unwrap().plaintext,
        b"thank you!"
    );

    // The supervisor leaves. Its state from before leaving is kept to show it can read
    // nothing that follows.
    let sup_before_leaving = supervisor.clone();
    let left = supervisor
        .leave(&id(&net, SUPERVISOR), &mut net.rng)
        .unwrap();
    assert!(!supervisor.is_member());
    assert!(left.distribution.is_none());
    let leave_change = left.change.unwrap();
    let mut dists = vec![];
    for r in &leave_change.recipients {
        let to = net.index_of(r);
        let bytes = net.carry(SUPERVISOR, to, &leave_change.bytes);
        let g = if to == OPERATOR {
            &mut operator
        } else {
            &mut customer
        };
        let u = g
            .apply_roster_change(&id(&net, to), &bytes, NOW, &mut net.rng)
            .unwrap();
        assert!(u.events.contains(&GroupEvent::MemberRemoved {
            member: sup_key,
            by: sup_key,
            epoch: 2
        }));
        let d = u.distribution.unwrap();
        // The fresh key goes to the remaining member only.
        assert_eq!(d.recipients.len(), 1);
        assert_ne!(d.recipients[0], sup_key);
        dists.push((to, d));
    }
    for (from, d) in dists {
        let to = net.index_of(&d.recipients[0]);
        let bytes = net.carry(from, to, &d.bytes);
        let g = if to == OPERATOR {
            &mut operator
        } else {
            &mut customer
        };
        let _ = g
            .receive_distribution(net.channel(to, from), &bytes)
            .unwrap();
    }
    assert_eq!(customer.roster().members().len(), 2);
    assert!(customer.roster().member(&sup_key).is_none());
    assert_eq!(customer.roster().rekey_epoch(), 2);

    let m5 = operator
        .encrypt(b"anything else I can do?", &mut net.rng)
        .unwrap();
    assert_eq!(
        customer.decrypt(&m5, NOW).unwrap().plaintext,
        b"anything else I can do?"
    );
    let m6 = customer.encrypt(b"no, all good", &mut net.rng).unwrap();
    assert_eq!(
        operator.decrypt(&m6, NOW).unwrap().plaintext,
        b"no, all good"
    );
    for m in [&m5, &m6] {
        let mut stale = sup_before_leaving.clone();
        // It never got the rotated keys (and is behind the roster epoch).
        assert!(matches!(
            stale.decrypt(m, NOW),
            Err(GroupError::FutureEpoch {
                message_epoch: 2,
                our_epoch: 1
            })
        ));
        assert_eq!(supervisor.decrypt(m, NOW).unwrap_err(), GroupError::Removed);
    }
    // Even a stale state that somehow reached epoch 2 lacks the new keys: see
    // `removed_member_cannot_decrypt_later_messages`.

    // What the departed supervisor still sends is refused.
    let mut stale = sup_before_leaving;
    let late = stale.encrypt(b"still here?", &mut net.rng).unwrap();
    assert_eq!(
        customer.decrypt(&late, NOW).unwrap_err(),
        GroupError::UnknownSender
    );
}

// ---------------------------------------------------------------------------------------
// Removal and joining
// ---------------------------------------------------------------------------------------

#[test]
fn removed_member_cannot_decrypt_later_messages() {
    let mut sim = Sim::new(5, 2);
    let victim = 3;
    let victim_key = sim.key(victim);
    let m0 = sim.send(1, b"before the removal");
    sim.all_read(1, &m0, b"before the removal");
    let stale = sim.members[victim].g.clone();

    let update = sim.change(0, RosterOp::Remove { member: victim_key });
    // The admin's fresh key goes to the remaining members only.
    let d = update.distribution.unwrap();
    assert_eq!(d.recipients.len(), 3);
    assert!(!d.recipients.contains(&victim_key));
    assert!(!sim.members[victim].g.is_member());

    for sender in [0, 1, 2, 4] {
        // Everyone remaining rotated: its key id moved on, and the removed member's stale
        // state holds only the old one.
        let new_id = sim.members[sender].g.sender_key_id().unwrap();
        assert_eq!(new_id, 1);
        assert_eq!(stale.held_sender_keys(&sim.key(sender)), vec![0]);
        let m = sim.send(sender, b"after the removal");
        sim.all_read(sender, &m, b"after the removal");
        assert_eq!(
            sim.members[victim].g.decrypt(&m, NOW).unwrap_err(),
            GroupError::Removed
        );
        let mut s = stale.clone();
        assert!(s.decrypt(&m, NOW).is_err());
        assert_eq!(
            u32::from_be_bytes(m[74..78].try_into().unwrap()),
            new_id,
            "sent under the fresh key"
        );
    }
    // What the removed member sends is refused by everyone.
    let mut s = stale;
    let mut r = rng(77);
    let late = s.encrypt(b"I am still here", &mut r).unwrap();
    for i in [0, 1, 2, 4] {
        let g = &mut sim.members[i].g;
        rejects(g, GroupError::UnknownSender, |g| g.decrypt(&late, NOW));
    }
}

#[test]
fn new_member_cannot_read_earlier_messages() {
    let mut sim = Sim::new(4, 3);
    let mut early = vec![];
    for s in 0..4 {
        for _ in 0..3 {
            let m = sim.send(s, b"history");
            sim.all_read(s, &m, b"history");
            early.push(m);
        }
    }
    let newbie = sim.add(0);
    assert_eq!(sim.members[newbie].g.epoch(), 1);
    for m in &early {
        let g = &mut sim.members[newbie].g;
        let index = u32::from_be_bytes(m[78..82].try_into().unwrap());
        rejects(g, GroupError::BeforeSenderKey { index, first: 3 }, |g| {
            g.decrypt(m, NOW)
        });
    }
    // What is sent from now on, it reads; and the others read what it sends.
    for s in 0..5 {
        let m = sim.send(s, b"welcome aboard");
        sim.all_read(s, &m, b"welcome aboard");
    }
}

#[test]
fn messages_in_flight_across_a_removal_still_decrypt() {
    let mut sim = Sim::new(4, 4);
    let in_flight = sim.send(1, b"sent before the removal");
    let _ = sim.change(0, RosterOp::Remove { member: sim.key(3) });
    // Member 2 still holds member 1's previous key, and the message predates the removal.
    let read = sim.members[2].g.decrypt(&in_flight, NOW).unwrap();
    assert_eq!(read.epoch, 0);
    assert_eq!(sim.held_keys(2, 1), vec![1, 0]);
}

impl Sim {
    fn rotate(&mut self, i: usize) -> Outgoing {
        let Sim { rng, members } = self;
        let m = &mut members[i];
        m.g.rotate_sender_key(&m.id, rng).unwrap()
    }

    fn held_keys(&self, at: usize, of: usize) -> Vec<u32> {
        self.members[at].g.held_sender_keys(&self.key(of))
    }
}

#[test]
fn message_from_a_later_epoch_waits_for_the_roster_change() {
    let mut sim = Sim::new(3, 5);
    let newcomer = IdentityKeyPair::generate(&mut sim.rng);
    let Sim { rng, members } = &mut sim;
    let m0 = &mut members[0];
    let update =
        m0.g.add_member(&m0.id, *newcomer.public(), GroupRole::Member, rng)
            .unwrap();
    let change = update.change.unwrap();
    let m = members[0].g.encrypt(b"epoch 1", rng).unwrap();
    rejects(
        &mut members[1].g,
        GroupError::FutureEpoch {
            message_epoch: 1,
            our_epoch: 0,
        },
        |g| g.decrypt(&m, NOW),
    );
    let m1 = &mut members[1];
    let _ =
        m1.g.apply_roster_change(&m1.id, &change.bytes, NOW, rng)
            .unwrap();
    assert_eq!(members[1].g.decrypt(&m, NOW).unwrap().plaintext, b"epoch 1");
}

#[test]
fn roles_decide_who_may_change_the_roster() {
    let mut sim = Sim::new(4, 6);
    let (k0, k1, k2) = (sim.key(0), sim.key(1), sim.key(2));
    // A member may not change the roster...
    let mut r = rng(5);
    {
        let m = &mut sim.members[1];
        let id = m.id.clone();
        rejects(
            &mut m.g,
            RosterError::NotAdmin {
                signer: k1.to_bytes(),
            },
            |g| g.remove_member(&id, k2, NOW, &mut r),
        );
    }
    // ...until promoted.
    let _ = sim.change(
        0,
        RosterOp::SetRole {
            member: k1,
            role: GroupRole::Admin,
        },
    );
    assert!(sim.members[2].g.roster().is_admin(&k1));
    let _ = sim.change(
        1,
        RosterOp::SetRole {
            member: k0,
            role: GroupRole::Member,
        },
    );
    {
        let m = &mut sim.members[0];
        let id = m.id.clone();
        rejects(
            &mut m.g,
            RosterError::NotAdmin {
                signer: k0.to_bytes(),
            },
            |g| g.remove_member(&id, k2, NOW, &mut r),
        );
        // The last admin can neither leave nor step down.
    }
    {
        let m = &mut sim.members[1];
        let id = m.id.clone();
        rejects(&mut m.g, RosterError::LastAdmin, |g| g.leave(&id, &mut r));
        rejects(&mut m.g, RosterError::LastAdmin, |g| {
            g.set_role(&id, k1, GroupRole::Member, &mut r)
        });
        rejects(
            &mut m.g,
            RosterError::NotAMember {
                member: sim_key_absent().to_bytes(),
            },
            |g| g.remove_member(&id, sim_key_absent(), NOW, &mut r),
        );
        rejects(
            &mut m.g,
            RosterError::AlreadyMember {
                member: k2.to_bytes(),
            },
            |g| g.add_member(&id, k2, GroupRole::Member, &mut r),
        );
    }
    // Anyone may leave.
    let Sim { rng, members } = &mut sim;
    let m = &mut members[2];
    let left = m.g.leave(&m.id, rng).unwrap();
    assert_eq!(
        left.events,
        vec![GroupEvent::RemovedFromGroup { by: k2, epoch: 3 }]
    );
    sim.propagate(2, &left);
    assert_eq!(sim.members[0].g.roster().members().len(), 3);
    assert_eq!(sim.members[0].g.roster().epoch(), 3);
}

fn sim_key_absent() -> IdentityKey {
    *IdentityKeyPair::dangerous_from_seed(&[0x42; 32]).public()
}

// ---------------------------------------------------------------------------------------
// Forged roster data
// ---------------------------------------------------------------------------------------

#[test]
fn forged_roster_changes_are_rejected_without_state_change() {
    let mut sim = Sim::new(4, 7);
    let gid = sim.members[0].g.group_id();
    let outsider = IdentityKeyPair::generate(&mut sim.rng);
    let newcomer = *IdentityKeyPair::generate(&mut sim.rng).public();
    let admin = sim.members[0].id.clone();
    let member1 = sim.members[1].id.clone();
    let target = 2;
    let mut r = rng(8);
    let hash0 = sim.members[target].g.roster().hash();
    let id2 = sim.members[target].id.clone();
    let g = &mut sim.members[target].g;

    // Not signed by a current admin.
    let add_by_member = forge_change(&gid, 1, &hash0, 1, &newcomer, 2, &member1);
    rejects(
        g,
        RosterError::NotAdmin {
            signer: member1.public().to_bytes(),
        },
        |g| g.apply_roster_change(&id2, &add_by_member, NOW, &mut r),
    );
    let add_by_outsider = forge_change(&gid, 1, &hash0, 1, &newcomer, 2, &outsider);
    rejects(
        g,
        RosterError::NotAdmin {
            signer: outsider.public().to_bytes(),
        },
        |g| g.apply_roster_change(&id2, &add_by_outsider, NOW, &mut r),
    );
    let remove_other_by_member = forge_change(&gid, 1, &hash0, 2, id2.public(), 0, &member1);
    rejects(
        g,
        RosterError::NotAdmin {
            signer: member1.public().to_bytes(),
        },
        |g| g.apply_roster_change(&id2, &remove_other_by_member, NOW, &mut r),
    );
    // Skips an epoch.
    let skipping = forge_change(&gid, 2, &hash0, 1, &newcomer, 2, &admin);
    rejects(
        g,
        RosterError::SkippedEpoch {
            current: 0,
            found: 2,
        },
        |g| g.apply_roster_change(&id2, &skipping, NOW, &mut r),
    );
    // Forks: the next epoch, but chained to another roster.
    let forked = forge_change(&gid, 1, &[0xab; 32], 1, &newcomer, 2, &admin);
    rejects(g, RosterError::ForkedEpoch { epoch: 1 }, |g| {
        g.apply_roster_change(&id2, &forked, NOW, &mut r)
    });
    // Bad signatures: a flipped signature bit, and a flipped signed field.
    let genuine = forge_change(&gid, 1, &hash0, 1, &newcomer, 2, &admin);
    let mut bad_sig = genuine.clone();
    bad_sig[ROSTER_CHANGE_LEN - 1] ^= 0x01;
    rejects(g, RosterError::BadSignature, |g| {
        g.apply_roster_change(&id2, &bad_sig, NOW, &mut r)
    });
    let mut bad_field = genuine.clone();
    bad_field[40] ^= 0x01; // inside the epoch
    rejects(g, RosterError::BadSignature, |g| {
        g.apply_roster_change(&id2, &bad_field, NOW, &mut r)
    });
    let mut bad_role = genuine.clone();
    bad_role[107] = 7;
    rejects(
        g,
        RosterError::Malformed(DecodeError::InvalidField { field: "role" }),
        |g| g.apply_roster_change(&id2, &bad_role, NOW, &mut r),
    );
    rejects(
        g,
        RosterError::Malformed(DecodeError::Truncated { needed: 1 }),
        |g| g.apply_roster_change(&id2, &genuine[..ROSTER_CHANGE_LEN - 1], NOW, &mut r),
    );
    let mut long = genuine.clone();
    long.push(0);
    rejects(
        g,
        RosterError::Malformed(DecodeError::TooLarge {
            len: ROSTER_CHANGE_LEN + 1,
            max: ROSTER_CHANGE_LEN,
        }),
        |g| g.apply_roster_change(&id2, &long, NOW, &mut r),
    );
    // Another group.
    let other = forge_change(
        &GroupId::from_bytes([9; 32]),
        1,
        &hash0,
        1,
        &newcomer,
        2,
        &admin,
    );
    rejects(g, RosterError::WrongGroup, |g| {
        g.apply_roster_change(&id2, &other, NOW, &mut r)
    });
    // Not our identity.
    rejects(g, RosterError::WrongIdentity, |g| {
        g.apply_roster_change(&member1, &genuine, NOW, &mut r)
    });

    // The genuine change (our independent encoding of it) applies...
    let u = g.apply_roster_change(&id2, &genuine, NOW, &mut r).unwrap();
    assert_eq!(u.distribution.unwrap().recipients, vec![newcomer]);
    // ...once: a replay is a duplicate; a different change for the same epoch is a fork;
    // a change for an epoch already passed is stale.
    rejects(g, RosterError::DuplicateChange { epoch: 1 }, |g| {
        g.apply_roster_change(&id2, &genuine, NOW, &mut r)
    });
    let competing = forge_change(&gid, 1, &hash0, 2, member1.public(), 0, &admin);
    rejects(g, RosterError::ForkedEpoch { epoch: 1 }, |g| {
        g.apply_roster_change(&id2, &competing, NOW, &mut r)
    });
    let hash1 = g.roster().hash();
    let second = forge_change(&gid, 2, &hash1, 3, member1.public(), 1, &admin);
    let _ = g.apply_roster_change(&id2, &second, NOW, &mut r).unwrap();
    rejects(
        g,
        RosterError::StaleEpoch {
            current: 2,
            found: 1,
        },
        |g| g.apply_roster_change(&id2, &competing, NOW, &mut r),
    );
    assert!(g.roster().is_admin(member1.public()));
}

#[test]
fn forged_welcomes_are_rejected() {
    let mut r = rng(9);
    let admin = IdentityKeyPair::generate(&mut r);
    let member = IdentityKeyPair::generate(&mut r);
    let stranger = IdentityKeyPair::generate(&mut r);
    let created =
        GroupSession::create(&admin, &[(*member.public(), GroupRole::Member)], &mut r).unwrap();
    let welcome = created.welcome.bytes.to_vec();
    // From another inviter than the one who signed it.
    assert_eq!(
        GroupSession::join(&member, &welcome, stranger.public(), &mut r).unwrap_err(),
        RosterError::InviterMismatch
    );
    // Not listing us.
    assert_eq!(
        GroupSession::join(&stranger, &welcome, admin.public(), &mut r).unwrap_err(),
        RosterError::NotInRoster
    );
    // A flipped bit anywhere in the signed part or the signature.
    for i in 2..welcome.len() {
        let mut bad = welcome.clone();
        bad[i] ^= 0x04;
        let err = GroupSession::join(&member, &bad, admin.public(), &mut r).unwrap_err();
        assert!(
            matches!(err, RosterError::BadSignature | RosterError::Malformed(_)),
            "byte {i}: {err:?}"
        );
    }
    // Re-signed by a member who is not an admin in it.
    let mut resigned = welcome[..welcome.len() - 96].to_vec();
    resigned.extend_from_slice(member.public().as_bytes());
    let sig = sign_as(&member, b"hushwire/v1/sig/group-roster-snapshot", &resigned);
    resigned.extend_from_slice(&sig);
    assert_eq!(
        GroupSession::join(&member, &resigned, member.public(), &mut r).unwrap_err(),
        RosterError::NotAdmin {
            signer: member.public().to_bytes()
        }
    );
}

// ---------------------------------------------------------------------------------------
// Replayed, tampered and wrong-group messages
// ---------------------------------------------------------------------------------------

#[test]
fn replayed_tampered_and_wrong_group_messages_are_rejected_without_state_change() {
    let mut sim = Sim::new(3, 10);
    let m0 = sim.send(0, b"zero");
    let m1 = sim.send(0, b"one");
    let m2 = sim.send(0, b"two");
    let g = &mut sim.members[1].g;
    assert_eq!(g.decrypt(&m2, NOW).unwrap().plaintext, b"two");
    assert_eq!(g.decrypt(&m0, NOW).unwrap().plaintext, b"zero");
    for (m, index) in [(&m0, 0), (&m2, 2)] {
        rejects(g, GroupError::Duplicate { index }, |g| g.decrypt(m, NOW));
        assert_eq!(
            Error::from(GroupError::Duplicate { index }).kind(),
            ErrorKind::Replay
        );
    }

    // Every single-bit flip of an undelivered message is rejected and changes nothing;
    // afterwards the genuine message still decrypts.
    for i in 0..m1.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = m1.clone();
            bad[i] ^= bit;
            let before = g.clone();
            let err = g.decrypt(&bad, NOW).unwrap_err();
            assert!(*g == before, "byte {i}: state changed");
            let expected_kind = match i {
                0 | 1 => matches!(err, GroupError::Malformed(_)),
                2..=33 => err == GroupError::WrongGroup,
                34..=41 => matches!(
                    err,
                    GroupError::FutureEpoch { .. } | GroupError::BadSignature
                ),
                42..=73 => matches!(
                    err,
                    GroupError::Malformed(DecodeError::InvalidField { field: "sender" })
                        | GroupError::UnknownSender
                ),
                74..=77 => matches!(err, GroupError::UnknownSenderKey { .. }),
                _ => err == GroupError::BadSignature,
            };
            assert!(expected_kind, "byte {i} bit {bit:#x}: {err:?}");
        }
    }
    assert_eq!(g.decrypt(&m1, NOW).unwrap().plaintext, b"one");

    // A message of another group with the same members.
    let mut other = Sim::new(3, 11);
    let foreign = other.send(0, b"elsewhere");
    rejects(&mut sim.members[1].g, GroupError::WrongGroup, |g| {
        g.decrypt(&foreign, NOW)
    });
    // Our own message (a server echo).
    let own = sim.send(1, b"mine");
    rejects(&mut sim.members[1].g, GroupError::OwnMessage, |g| {
        g.decrypt(&own, NOW)
    });
}

#[test]
fn replayed_tampered_and_misattributed_distributions_are_rejected() {
    let mut sim = Sim::new(3, 12);
    let (k0, k1) = (sim.key(0), sim.key(1));
    let first = sim.rotate(0);
    let second = sim.rotate(0);
    assert_eq!(second.bytes.len(), DISTRIBUTION_LEN);
    let own = sim.rotate(1);
    let third = sim.rotate(0);
    let g = &mut sim.members[1].g;
    let _ = g.receive_distribution(auth(&k0), &second.bytes).unwrap();
    rejects(g, GroupError::DuplicateDistribution { key_id: 2 }, |g| {
        g.receive_distribution(auth(&k0), &second.bytes)
    });
    // An older key arriving late (or replayed) is refused.
    rejects(g, GroupError::StaleSenderKey { key_id: 1 }, |g| {
        g.receive_distribution(auth(&k0), &first.bytes)
    });
    // Only first-hand.
    rejects(g, GroupError::SenderMismatch, |g| {
        g.receive_distribution(auth(&sim_key_absent()), &second.bytes)
    });
    rejects(g, GroupError::OwnMessage, |g| {
        g.receive_distribution(auth(&k1), &own.bytes)
    });
    // The fields a distribution message's receiver checks itself. The others (key id,
    // position, chain key, a valid signing key) are authenticated by the 1:1 session that
    // carries the message, not by the message: it has no signature to check.
    for i in 2..DISTRIBUTION_LEN {
        let mut bad = third.bytes.to_vec();
        bad[i] ^= 0x10;
        let before = g.clone();
        let got = g.clone().receive_distribution(auth(&k0), &bad);
        let expected = match i {
            2..34 => Some(GroupError::WrongGroup),
            // The epoch moves past ours (0 here).
            34..42 => Some(GroupError::FutureEpoch {
                message_epoch: u64::from_be_bytes(bad[34..42].try_into().unwrap()),
                our_epoch: 0,
            }),
            42..74 => Some(GroupError::SenderMismatch),
            78..86 => Some(GroupError::Malformed(DecodeError::InvalidField {
                field: "key_epoch",
            })),
            _ => None,
        };
        match (expected, got) {
            (Some(e), got) => {
                assert_eq!(got, Err(e), "byte {i}");
                rejects(g, e, |g| g.receive_distribution(auth(&k0), &bad));
            }
            (None, Err(e)) => {
                assert!((122..154).contains(&i), "byte {i}: {e:?}");
                assert_eq!(
                    e,
                    GroupError::Malformed(DecodeError::InvalidField {
                        field: "signing_key"
                    })
                );
            }
            (None, Ok(_)) => {}
        }
        assert!(*g == before);
    }
    let mut other = Sim::new(3, 13);
    let foreign = other.rotate(0);
    let from = other.key(0);
    rejects(g, GroupError::WrongGroup, |g| {
        g.receive_distribution(auth(&from), &foreign.bytes)
    });
}

// ---------------------------------------------------------------------------------------
// Limits at and past their edges
// ---------------------------------------------------------------------------------------

#[test]
fn jump_and_skipped_key_limits_at_and_past_their_edges() {
    let mut sim = Sim::new(3, 14);
    let jump = usize::try_from(MAX_GROUP_JUMP).unwrap();
    let msgs: Vec<Vec<u8>> = (0..=jump + 1)
        .map(|i| sim.send(0, &u32::try_from(i).unwrap().to_be_bytes()))
        .collect();
    let g = &mut sim.members[1].g;
    // Past the edge: MAX_GROUP_JUMP + 1 keys to skip.
    rejects(
        g,
        GroupError::TooFarAhead {
            gap: MAX_GROUP_JUMP + 1,
            max: MAX_GROUP_JUMP,
        },
        |g| g.decrypt(&msgs[jump + 1], NOW),
    );
    // At the edge: exactly MAX_GROUP_JUMP skipped, which fills the store exactly.
    let read = g.decrypt(&msgs[jump], NOW).unwrap();
    assert!(read.events.is_empty());
    assert_eq!(g.stored_skipped_keys(), MAX_GROUP_SKIPPED_KEYS);
    assert_eq!(g.decrypt(&msgs[jump + 1], NOW).unwrap().events, vec![]);

    // One more skipped key (from another sender) evicts the oldest stored one.
    let a = sim.send(2, b"a");
    let b = sim.send(2, b"b");
    let g = &mut sim.members[1].g;
    let read = g.decrypt(&b, NOW).unwrap();
    assert_eq!(
        read.events,
        vec![GroupEvent::SkippedKeysEvicted { count: 1 }]
    );
    assert_eq!(g.stored_skipped_keys(), MAX_GROUP_SKIPPED_KEYS);
    rejects(g, GroupError::KeyEvicted { index: 0 }, |g| {
        g.decrypt(&msgs[0], NOW)
    });
    assert_eq!(
        Error::from(GroupError::KeyEvicted { index: 0 }).kind(),
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        g.decrypt(&msgs[1], NOW).unwrap().plaintext,
        1u32.to_be_bytes()
    );
    assert_eq!(g.decrypt(&a, NOW).unwrap().plaintext, b"a");
    rejects(g, GroupError::Duplicate { index: 1 }, |g| {
        g.decrypt(&msgs[1], NOW)
    });
}

#[test]
fn sender_keys_per_member_at_and_past_the_limit() {
    assert_eq!(MAX_SENDER_KEYS_PER_MEMBER, 2);
    let mut sim = Sim::new(2, 15);
    let on_k0 = sim.send(0, b"k0");
    let skipped_k0 = sim.send(0, b"k0 late");
    let _ = sim.members[1].g.decrypt(&skipped_k0, NOW).unwrap(); // stores the key of `on_k0`
    assert_eq!(sim.members[1].g.stored_skipped_keys(), 1);
    let d1 = sim.rotate(0);
    sim.deliver(0, &d1);
    let on_k1 = sim.send(0, b"k1");
    // At the limit: two keys held, both usable.
    assert_eq!(sim.held_keys(1, 0), vec![1, 0]);
    let d2 = sim.rotate(0);
    let k0 = sim.key(0);
    let events = sim.members[1]
        .g
        .receive_distribution(auth(&k0), &d2.bytes)
        .unwrap();
    // Past it: the oldest key goes, with its stored key.
    assert_eq!(
        events,
        vec![
            GroupEvent::SenderKeyReceived {
                member: k0,
                key_id: 2
            },
            GroupEvent::SkippedKeysEvicted { count: 1 }
        ]
    );
    assert_eq!(sim.held_keys(1, 0), vec![2, 1]);
    let on_k2 = sim.send(0, b"k2");
    let g = &mut sim.members[1].g;
    rejects(g, GroupError::UnknownSenderKey { key_id: 0 }, |g| {
        g.decrypt(&on_k0, NOW)
    });
    assert_eq!(g.decrypt(&on_k1, NOW).unwrap().plaintext, b"k1");
    assert_eq!(g.decrypt(&on_k2, NOW).unwrap().plaintext, b"k2");
}

#[test]
fn member_count_at_and_past_the_limit() {
    let mut r = rng(16);
    let admin = IdentityKeyPair::generate(&mut r);
    let joiner = IdentityKeyPair::generate(&mut r);
    let mut others: Vec<(IdentityKey, GroupRole)> = vec![(*joiner.public(), GroupRole::Member)];
    while others.len() < MAX_GROUP_MEMBERS {
        others.push((
            *IdentityKeyPair::generate(&mut r).public(),
            GroupRole::Member,
        ));
    }
    // Past the edge: the admin plus MAX_GROUP_MEMBERS others.
    assert_eq!(
        GroupSession::create(&admin, &others, &mut r).unwrap_err(),
        RosterError::TooManyMembers {
            max: MAX_GROUP_MEMBERS
        }
    );
    // At the edge.
    let created = GroupSession::create(&admin, &others[..MAX_GROUP_MEMBERS - 1], &mut r).unwrap();
    let mut g = created.session;
    assert_eq!(g.roster().members().len(), MAX_GROUP_MEMBERS);
    assert_eq!(created.welcome.bytes.len(), MAX_ROSTER_LEN);
    assert_eq!(created.welcome.recipients.len(), MAX_GROUP_MEMBERS - 1);
    let joined =
        GroupSession::join(&joiner, &created.welcome.bytes, admin.public(), &mut r).unwrap();
    assert_eq!(joined.distribution.recipients.len(), MAX_GROUP_MEMBERS - 1);
    let last = others[MAX_GROUP_MEMBERS - 1].0;
    rejects(
        &mut g,
        RosterError::TooManyMembers {
            max: MAX_GROUP_MEMBERS,
        },
        |g| g.add_member(&admin, last, GroupRole::Member, &mut r),
    );
    let _ = g.remove_member(&admin, others[1].0, NOW, &mut r).unwrap();
    let u = g
        .add_member(&admin, last, GroupRole::Member, &mut r)
        .unwrap();
    assert_eq!(u.welcome.unwrap().bytes.len(), MAX_ROSTER_LEN);
    // A roster naming more members than the limit does not decode.
    let mut too_big = created.welcome.bytes.to_vec();
    too_big[82..84].copy_from_slice(&u16::try_from(MAX_GROUP_MEMBERS + 1).unwrap().to_be_bytes());
    assert_eq!(
        GroupSession::join(&joiner, &too_big, admin.public(), &mut r).unwrap_err(),
        RosterError::Malformed(DecodeError::InvalidField {
            field: "member_count"
        })
    );
    too_big.extend_from_slice(&[0u8; 41]);
    assert_eq!(
        GroupSession::join(&joiner, &too_big, admin.public(), &mut r).unwrap_err(),
        RosterError::Malformed(DecodeError::TooLarge {
            len: MAX_ROSTER_LEN + 41,
            max: MAX_ROSTER_LEN
        })
    );
}

#[test]
fn plaintext_and_message_length_at_and_past_the_limit() {
    let mut sim = Sim::new(2, 17);
    let big = vec![0x5a; MAX_PLAINTEXT_LEN];
    let m = sim.send(0, &big);
    assert_eq!(m.len(), MAX_GROUP_MESSAGE_LEN);
    assert_eq!(m.len(), MAX_PLAINTEXT_LEN + GROUP_MESSAGE_OVERHEAD);
    assert_eq!(sim.members[1].g.decrypt(&m, NOW).unwrap().plaintext, big);
    let too_big = vec![0x5a; MAX_PLAINTEXT_LEN + 1];
    let Sim { rng, members } = &mut sim;
    rejects(
        &mut members[0].g,
        GroupError::PlaintextTooLarge {
            len: MAX_PLAINTEXT_LEN + 1,
            max: MAX_PLAINTEXT_LEN,
        },
        |g| g.encrypt(&too_big, rng),
    );
    let mut long = m.clone();
    long.push(0);
    rejects(
        &mut members[1].g,
        GroupError::Malformed(DecodeError::TooLarge {
            len: MAX_GROUP_MESSAGE_LEN + 1,
            max: MAX_GROUP_MESSAGE_LEN,
        }),
        |g| g.decrypt(&long, NOW),
    );
    let empty = members[0].g.encrypt(b"", rng).unwrap();
    assert_eq!(empty.len(), GROUP_MESSAGE_OVERHEAD);
    assert_eq!(members[1].g.decrypt(&empty, NOW).unwrap().plaintext, b"");
    rejects(
        &mut members[1].g,
        GroupError::Malformed(DecodeError::Truncated { needed: 1 }),
        |g| g.decrypt(&empty[..GROUP_MESSAGE_OVERHEAD - 1], NOW),
    );
}

// ---------------------------------------------------------------------------------------
// Echoes, routing, persistence, Debug
// ---------------------------------------------------------------------------------------

#[test]
fn own_change_echoed_back_is_a_duplicate() {
    let mut sim = Sim::new(3, 18);
    let u = sim.change(0, RosterOp::Remove { member: sim.key(2) });
    let change = u.change.unwrap();
    let Sim { rng, members } = &mut sim;
    let id = members[0].id.clone();
    rejects(
        &mut members[0].g,
        RosterError::DuplicateChange { epoch: 1 },
        |g| g.apply_roster_change(&id, &change.bytes, NOW, rng),
    );
    // The removed member got the change too and knows it is out.
    let id2 = members[2].id.clone();
    rejects(&mut members[2].g, RosterError::Removed, |g| {
        g.apply_roster_change(&id2, &change.bytes, NOW, rng)
    });
}

#[test]
fn peek_routes_every_group_structure() {
    let mut sim = Sim::new(2, 19);
    let gid = sim.members[0].g.group_id();
    let m = sim.send(0, b"x");
    let d = sim.rotate(0);
    let newcomer = *IdentityKeyPair::generate(&mut sim.rng).public();
    let Sim { rng, members } = &mut sim;
    let m0 = &mut members[0];
    let u =
        m0.g.add_member(&m0.id, newcomer, GroupRole::Member, rng)
            .unwrap();
    assert_eq!(peek(&m), Ok((GroupWireKind::Message, gid)));
    assert_eq!(peek(&d.bytes), Ok((GroupWireKind::Distribution, gid)));
    assert_eq!(
        peek(&u.welcome.unwrap().bytes),
        Ok((GroupWireKind::Roster, gid))
    );
    assert_eq!(
        peek(&u.change.unwrap().bytes),
        Ok((GroupWireKind::RosterChange, gid))
    );
    assert_eq!(peek(&[1, 0x01]), Err(DecodeError::UnknownType(0x01)));
    assert_eq!(peek(&[9, 0x20]), Err(DecodeError::UnknownVersion(9)));
}

#[test]
fn persistence_round_trips_and_rejects_bad_blobs() {
    let key = StorageKey::from_bytes([0x33; 32]);
    let mut sim = Sim::new(3, 20);
    let msgs: Vec<Vec<u8>> = (0..4u8).map(|i| sim.send(0, &[i])).collect();
    let _ = sim.members[1].g.decrypt(&msgs[3], NOW).unwrap();
    let _ = sim.change(0, RosterOp::Remove { member: sim.key(2) });
    let Sim { rng, members } = &mut sim;
    let blob = members[1].g.to_encrypted(&key, 5, rng);
    let mut restored =
        GroupSession::from_encrypted(&blob, &key, 5, &hushwire::persist::Expected::any()).unwrap();
    assert!(restored == members[1].g);
    assert_eq!(restored.roster(), members[1].g.roster());
    // Mid-chain with skipped keys stored: the conversation continues.
    assert_eq!(restored.stored_skipped_keys(), 3);
    assert_eq!(restored.decrypt(&msgs[1], NOW).unwrap().plaintext, [1]);
    let next = members[0].g.encrypt(b"after reload", rng).unwrap();
    assert_eq!(
        restored.decrypt(&next, NOW).unwrap().plaintext,
        b"after reload"
    );
    // A removed member's (keyless) state round-trips too.
    let removed_blob = members[2].g.to_encrypted(&key, 1, rng);
    let removed =
        GroupSession::from_encrypted(&removed_blob, &key, 0, &hushwire::persist::Expected::any())
            .unwrap();
    assert!(!removed.is_member());
    assert!(removed == members[2].g);

    let err = |bytes: &[u8]| {
        GroupSession::from_encrypted(bytes, &key, 0, &hushwire::persist::Expected::any())
            .unwrap_err()
    };
    assert_eq!(
        GroupSession::from_encrypted(
            &blob,
            &StorageKey::from_bytes([0x34; 32]),
            0,
            &hushwire::persist::Expected::any()
        )
        .unwrap_err(),
        RestoreError::Authentication
    );
    assert_eq!(err(&blob[..20]), RestoreError::Truncated);
    let mut flipped = blob.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(err(&flipped), RestoreError::Authentication);
    let mut future = blob.clone();
    future[4..6].copy_from_slice(&99u16.to_be_bytes());
    assert_eq!(err(&future), RestoreError::UnknownVersion(99));
    let account = Account::new(NOW, rng).to_encrypted(&key, 0, rng);
    assert_eq!(
        err(&account),
        RestoreError::WrongType {
            expected: StateType::GroupSession.tag(),
            found: StateType::Account.tag()
        }
    );
    assert_eq!(
        GroupSession::from_encrypted(&blob, &key, 6, &hushwire::persist::Expected::any())
            .unwrap_err(),
        RestoreError::RolledBack {
            found: 5,
            minimum: 6
        }
    );
}

#[test]
fn debug_output_contains_no_key_bytes() {
    let mut r = rng(21);
    let a = IdentityKeyPair::generate(&mut r);
    let b = IdentityKeyPair::generate(&mut r);
    let created = GroupSession::create(&a, &[(*b.public(), GroupRole::Member)], &mut r).unwrap();
    let chain_key = hex::encode(&created.distribution.bytes[90..122]);
    let seed = hex::encode(*a.dangerous_to_seed());
    let joined = GroupSession::join(&b, &created.welcome.bytes, a.public(), &mut r).unwrap();
    let mut gb = joined.session;
    let _ = gb
        .receive_distribution(auth(a.public()), &created.distribution.bytes)
        .unwrap();
    let shown = [
        format!("{created:?}"),
        format!("{gb:?}"),
        format!("{:?}", joined.distribution),
        format!("{gb:#?}"),
    ];
    for s in &shown {
        assert!(!s.contains(&chain_key), "{s}");
        assert!(!s.contains(&seed), "{s}");
        assert!(!s.contains(&chain_key[..16]), "{s}");
    }
    assert!(shown[1].starts_with("GroupSession { group_id: GroupId("));
}

// ---------------------------------------------------------------------------------------
// Deniability: distribution messages are authenticated by the 1:1 channel, not signed
// ---------------------------------------------------------------------------------------

const LABEL_SIG_DISTRIBUTION: &[u8] = b"hushwire/v1/sig/group-distribution";

/// A version-1 distribution message as older builds sent it (SPEC.md §14.6.3): the version-2
/// fields under type `0x21`, signed by `signer`'s identity key.
fn legacy_distribution(v2: &[u8], signer: &IdentityKeyPair) -> Vec<u8> {
    let mut b = v2.to_vec();
    b[1] = 0x21;
    let sig = sign_as(signer, LABEL_SIG_DISTRIBUTION, &b);
    b.extend_from_slice(&sig);
    assert_eq!(b.len(), DISTRIBUTION_V1_LEN);
    b
}

#[test]
fn nothing_a_member_holds_proves_who_owns_a_sender_key() {
    let mut sim = Sim::new(3, 30);
    let d = sim.rotate(0);
    sim.deliver(0, &d);
    let m = sim.send(0, b"I wrote this");
    let read = sim.members[1].g.decrypt(&m, NOW).unwrap();
    assert_eq!(read.sender, sim.key(0));

    // The distribution message is the fields alone (type 0x24): no signature an outsider
    // could check against the sender's identity key.
    assert_eq!(d.bytes.len(), DISTRIBUTION_LEN);
    assert_eq!(&d.bytes[..2], &[0x01, 0x24]);
    let identity = ed25519_dalek::VerifyingKey::from_bytes(sim.key(0).as_bytes()).unwrap();
    let (signed, tail) = d.bytes.split_at(d.bytes.len() - 64);
    let signature = ed25519_dalek::Signature::from_bytes(tail.try_into().unwrap());
    assert!(
        identity
            .verify_strict(&[LABEL_SIG_DISTRIBUTION, signed].concat(), &signature)
            .is_err(),
        "the distribution message is an identity signature over the sender key"
    );
    // The message's one signature is by the sender key, which the identity key never signs.
    let (body, sig) = m.split_at(m.len() - 64);
    let signature = ed25519_dalek::Signature::from_bytes(sig.try_into().unwrap());
    let label = b"hushwire/v1/sig/group-message";
    let sender_key =
        ed25519_dalek::VerifyingKey::from_bytes(&d.bytes[122..154].try_into().unwrap()).unwrap();
    assert!(
        sender_key
            .verify_strict(&[&label[..], body].concat(), &signature)
            .is_ok()
    );
    assert!(
        identity
            .verify_strict(&[&label[..], body].concat(), &signature)
            .is_err()
    );

    // And any member can write the same evidence in anyone's name: member 1 makes a
    // distribution message "from member 0" for a sender key of its own and a message under
    // it, indistinguishable in form from genuine ones. The library takes such a key only from
    // the channel that authenticates member 0.
    let fake_key = SigningKey::from_bytes(&[0x77; 32]);
    let mut fake = d.bytes.to_vec();
    fake[90..122].copy_from_slice(&[0x55; 32]);
    fake[122..154].copy_from_slice(&fake_key.verifying_key().to_bytes());
    let member1 = sim.key(1);
    rejects(&mut sim.members[2].g, GroupError::SenderMismatch, |g| {
        g.receive_distribution(auth(&member1), &fake)
    });
}

#[test]
fn distribution_is_accepted_from_the_session_that_decrypted_it() {
    let mut rng = rng(31);
    let now = NOW;
    let operator = Account::new(now, &mut rng);
    let mut customer = Account::new(now, &mut rng);
    let created = GroupSession::create(
        operator.identity_key_pair(),
        &[(*customer.identity_key(), GroupRole::Member)],
        &mut rng,
    )
    .unwrap();
    let bundle = customer.published_prekeys().take_bundle();
    let mut to_customer = operator.create_outbound_session(&bundle, &mut rng).unwrap();
    let first = to_customer
        .encrypt(&created.welcome.bytes, &mut rng)
        .unwrap();
    let inbound = customer.create_inbound_session(&first, now).unwrap();
    let mut from_operator = inbound.session;
    let joined = GroupSession::join(
        customer.identity_key_pair(),
        &inbound.plaintext,
        operator.identity_key(),
        &mut rng,
    )
    .unwrap();
    let mut g = joined.session;
    let wire = to_customer
        .encrypt(&created.distribution.bytes, &mut rng)
        .unwrap();
    let plaintext = from_operator.decrypt(&wire).unwrap().plaintext;
    let sender = AuthenticatedSender::from(&from_operator);
    assert_eq!(sender.identity(), operator.identity_key());
    assert_eq!(
        g.receive_distribution(&from_operator, &plaintext).unwrap(),
        vec![GroupEvent::SenderKeyReceived {
            member: *operator.identity_key(),
            key_id: 0
        }]
    );
    let mut op_group = created.session;
    let m = op_group.encrypt(b"over the session", &mut rng).unwrap();
    assert_eq!(g.decrypt(&m, now).unwrap().plaintext, b"over the session");
}

#[test]
fn legacy_signed_distributions_from_older_peers_are_accepted() {
    let mut sim = Sim::new(3, 32);
    let k0 = sim.key(0);
    let d = sim.rotate(0);
    let legacy = legacy_distribution(&d.bytes, &sim.members[0].id.clone());
    assert_eq!(peek(&legacy).unwrap().0, GroupWireKind::Distribution);
    let forged_by_1 = legacy_distribution(&d.bytes, &sim.members[1].id.clone());
    let mut flipped = legacy.clone();
    flipped[100] ^= 0x01; // inside the chain key, under the signature
    let mut long = legacy.clone();
    long.push(0);
    let g = &mut sim.members[2].g;
    rejects(g, GroupError::BadSignature, |g| {
        g.receive_distribution(auth(&k0), &forged_by_1)
    });
    rejects(g, GroupError::BadSignature, |g| {
        g.receive_distribution(auth(&k0), &flipped)
    });
    rejects(
        g,
        GroupError::Malformed(DecodeError::TooLarge {
            len: DISTRIBUTION_V1_LEN + 1,
            max: DISTRIBUTION_V1_LEN,
        }),
        |g| g.receive_distribution(auth(&k0), &long),
    );
    rejects(
        g,
        GroupError::Malformed(DecodeError::Truncated { needed: 1 }),
        |g| g.receive_distribution(auth(&k0), &legacy[..DISTRIBUTION_V1_LEN - 1]),
    );
    // Only first-hand, as version 2.
    let k1 = sim.key(1);
    let g = &mut sim.members[2].g;
    rejects(g, GroupError::SenderMismatch, |g| {
        g.receive_distribution(auth(&k1), &legacy)
    });
    assert_eq!(
        g.receive_distribution(auth(&k0), &legacy).unwrap(),
        vec![GroupEvent::SenderKeyReceived {
            member: k0,
            key_id: 1
        }]
    );
    // The same key in either version is one key.
    rejects(g, GroupError::DuplicateDistribution { key_id: 1 }, |g| {
        g.receive_distribution(auth(&k0), &d.bytes)
    });
    let m = sim.send(0, b"on the key from the legacy message");
    assert_eq!(
        sim.members[2].g.decrypt(&m, NOW).unwrap().plaintext,
        b"on the key from the legacy message"
    );
}

/// A point of order 2, `(0, -1)`: adding it to a key gives a mixed-order point.
fn order_two_point() -> curve25519_dalek::EdwardsPoint {
    let mut t = [0xffu8; 32];
    t[0] = 0xec;
    t[31] = 0x7f;
    curve25519_dalek::edwards::CompressedEdwardsY(t)
        .decompress()
        .unwrap()
}

/// The signing keys SPEC.md §2.3 refuses: mixed order, small order, non-canonical, not a point.
fn refused_signing_keys(honest: &[u8; 32]) -> Vec<(&'static str, [u8; 32])> {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    let point = CompressedEdwardsY(*honest).decompress().unwrap();
    let mixed = (point + order_two_point()).compress().to_bytes();
    let small = order_two_point().compress().to_bytes();
    // y + p for the smallest y >= 2 that is a curve point: the encoding of (x, y) with y >= p.
    let non_canonical = (2u8..19)
        .map(|y| {
            let mut b = [0xffu8; 32];
            b[0] = 0xed + y;
            b[31] = 0x7f;
            b
        })
        .find(|b| CompressedEdwardsY(*b).decompress().is_some())
        .unwrap();
    let not_a_point = (2u8..40)
        .map(|y| {
            let mut b = [0u8; 32];
            b[0] = y;
            b
        })
        .find(|b| CompressedEdwardsY(*b).decompress().is_none())
        .unwrap();
    vec![
        ("mixed order", mixed),
        ("small order", small),
        ("non-canonical", non_canonical),
        ("not a point", not_a_point),
    ]
}

#[test]
fn signing_keys_are_checked_as_identity_keys_are() {
    let mut sim = Sim::new(3, 33);
    let k0 = sim.key(0);
    let d = sim.rotate(0);
    let admin = sim.members[0].id.clone();
    let honest: [u8; 32] = d.bytes[122..154].try_into().unwrap();
    let g = &mut sim.members[1].g;
    for (what, key) in refused_signing_keys(&honest) {
        let mut v2 = d.bytes.to_vec();
        v2[122..154].copy_from_slice(&key);
        let expected = GroupError::Malformed(DecodeError::InvalidField {
            field: "signing_key",
        });
        assert_eq!(
            g.clone().receive_distribution(auth(&k0), &v2),
            Err(expected),
            "{what}"
        );
        rejects(g, expected, |g| g.receive_distribution(auth(&k0), &v2));
        // A version-1 message signed by the genuine sender: the same check.
        let v1 = legacy_distribution(&v2, &admin);
        rejects(g, expected, |g| g.receive_distribution(auth(&k0), &v1));
    }
    assert!(g.receive_distribution(auth(&k0), &d.bytes).is_ok());
}

// ---------------------------------------------------------------------------------------
// Removals withheld from a member: the grace window of old-epoch messages
// ---------------------------------------------------------------------------------------

/// What [`Sim::remove_withholding`] kept from the members it withheld the removal from.
struct Withheld {
    /// The removed member's state from just before its removal.
    removed: GroupSession,
    /// The roster change.
    change: Vec<u8>,
    /// Every fresh distribution message (sender, message).
    distributions: Vec<(usize, Outgoing)>,
}

impl Sim {
    /// `admin` removes `victim` at `now`; every other member applies the removal at `now`
    /// except those in `withheld` (the server keeps it from them), and the fresh sender keys
    /// reach those who applied it.
    fn remove_withholding(
        &mut self,
        admin: usize,
        victim: usize,
        withheld: &[usize],
        now: Timestamp,
    ) -> Withheld {
        let removed = self.members[victim].g.clone();
        let member = self.key(victim);
        let Sim { rng, members } = self;
        let m = &mut members[admin];
        let update = m.g.remove_member(&m.id, member, now, rng).unwrap();
        let out = update.change.unwrap();
        let change = out.bytes.to_vec();
        let mut distributions = vec![(admin, update.distribution.unwrap())];
        for r in &out.recipients {
            let i = self.idx(r);
            if withheld.contains(&i) || i == victim {
                continue;
            }
            let Sim { rng, members } = self;
            let m = &mut members[i];
            let u = m.g.apply_roster_change(&m.id, &change, now, rng).unwrap();
            distributions.push((i, u.distribution.unwrap()));
        }
        for (from, d) in &distributions {
            self.deliver_except(*from, d, withheld);
        }
        Withheld {
            removed,
            change,
            distributions,
        }
    }

    /// Hands a distribution message to each recipient not in `except`.
    fn deliver_except(&mut self, from: usize, d: &Outgoing, except: &[usize]) {
        let sender = self.key(from);
        for r in &d.recipients {
            let i = self.idx(r);
            if !except.contains(&i) {
                let _ = self.members[i]
                    .g
                    .receive_distribution(auth(&sender), &d.bytes)
                    .unwrap();
            }
        }
    }

    /// Member `i` finally gets a withheld removal: it applies it at `now` and every fresh
    /// key is exchanged with it.
    fn catch_up(&mut self, i: usize, w: &Withheld, now: Timestamp) {
        let Sim { rng, members } = self;
        let m = &mut members[i];
        let u = m.g.apply_roster_change(&m.id, &w.change, now, rng).unwrap();
        let own = u.distribution.unwrap();
        let others: Vec<usize> = (0..self.members.len()).filter(|&j| j != i).collect();
        self.deliver_except(i, &own, &[]);
        for (from, d) in &w.distributions {
            self.deliver_except(*from, d, &others);
        }
    }
}

fn old_epoch_refused(key_id: u32, rekey_epoch: u64) -> GroupError {
    GroupError::OldEpochRefused {
        key_id,
        rekey_epoch,
    }
}

#[test]
fn a_withheld_removal_lets_old_epoch_messages_through_only_up_to_the_count() {
    assert_eq!(MAX_OLD_EPOCH_MESSAGES, 50);
    let mut sim = Sim::new(4, 34);
    let k2 = sim.key(2);
    // The server withholds the removal of member 3 from member 2.
    let mut w = sim.remove_withholding(0, 3, &[2], NOW);
    assert_eq!(sim.members[1].g.roster().rekey_epoch(), 1);
    let warned = GroupEvent::OldEpochMessage {
        member: k2,
        key_id: 0,
        message_epoch: 0,
        rekey_epoch: 1,
    };
    // Member 2 goes on at epoch 0 on its old key. The first two arrive out of order: one is
    // read through a stored key; each counts.
    let early = sim.send(2, b"0");
    let later = sim.send(2, b"1");
    for m in [&later, &early] {
        let read = sim.members[1].g.decrypt(m, NOW).unwrap();
        assert_eq!(read.events, vec![warned.clone()]);
    }
    for i in 2..MAX_OLD_EPOCH_MESSAGES {
        let m = sim.send(2, i.to_string().as_bytes());
        let read = sim.members[1].g.decrypt(&m, NOW.plus_secs(60)).unwrap();
        assert_eq!(read.plaintext, i.to_string().as_bytes());
        assert_eq!(read.events, vec![warned.clone()]);
        // What the removed member can read too: why the window is bounded.
        assert_eq!(
            w.removed.decrypt(&m, NOW).unwrap().plaintext,
            i.to_string().as_bytes()
        );
    }
    // Past the count: refused, and nothing changes.
    let over = sim.send(2, b"one too many");
    let refused = old_epoch_refused(0, 1);
    rejects(&mut sim.members[1].g, refused, |g| g.decrypt(&over, NOW));
    assert_eq!(Error::from(refused).kind(), ErrorKind::StateOutOfSync);
    // A duplicate after the window closed is refused the same way.
    rejects(&mut sim.members[1].g, refused, |g| g.decrypt(&early, NOW));
    // Counted per receiver: member 0 has read none of them yet.
    let read = sim.members[0].g.decrypt(&over, NOW).unwrap();
    assert_eq!(read.events, vec![warned]);

    // Once member 2 gets the removal it rotates: its new messages read without a warning,
    // and the removed member reads nothing more.
    sim.catch_up(2, &w, NOW.plus_secs(120));
    let m = sim.send(2, b"caught up");
    for i in [0, 1] {
        let read = sim.members[i].g.decrypt(&m, NOW.plus_secs(120)).unwrap();
        assert_eq!(read.plaintext, b"caught up");
        assert!(read.events.is_empty());
    }
    assert!(w.removed.decrypt(&m, NOW).is_err());
}

#[test]
fn a_withheld_removal_lets_old_epoch_messages_through_only_within_the_time() {
    assert_eq!(OLD_EPOCH_GRACE_SECS, 3_600);
    let mut sim = Sim::new(4, 35);
    let applied = NOW.plus_secs(1_000);
    let _ = sim.remove_withholding(0, 3, &[2], applied);
    let msgs: Vec<Vec<u8>> = (0..3u8).map(|i| sim.send(2, &[i])).collect();
    let g = &mut sim.members[1].g;
    // At the edge of the window, and with a clock that went back: read.
    let edge = applied.plus_secs(OLD_EPOCH_GRACE_SECS);
    assert_eq!(g.decrypt(&msgs[0], edge).unwrap().plaintext, [0]);
    assert_eq!(g.decrypt(&msgs[1], NOW).unwrap().plaintext, [1]);
    // One second past it: refused, nothing changes.
    rejects(g, old_epoch_refused(0, 1), |g| {
        g.decrypt(&msgs[2], edge.plus_secs(1))
    });
    // Messages on current keys are not affected.
    let fresh = sim.send(0, b"current key");
    assert_eq!(
        sim.members[1]
            .g
            .decrypt(&fresh, applied.plus_secs(10 * OLD_EPOCH_GRACE_SECS))
            .unwrap()
            .events,
        vec![]
    );
}

#[test]
fn each_removal_opens_its_own_window() {
    let mut sim = Sim::new(5, 36);
    let _ = sim.remove_withholding(0, 4, &[2], NOW);
    let first = sim.send(2, b"first");
    let late = sim.send(2, b"late");
    let g = &mut sim.members[1].g;
    assert!(g.decrypt(&first, NOW).is_ok());
    let after = NOW.plus_secs(OLD_EPOCH_GRACE_SECS + 1);
    rejects(g, old_epoch_refused(0, 1), |g| g.decrypt(&late, after));
    // A second removal (still withheld from member 2) starts a new window from when it is
    // applied, with the counts back at zero.
    let _ = sim.remove_withholding(0, 3, &[2], after);
    let g = &mut sim.members[1].g;
    let read = g.decrypt(&late, after).unwrap();
    assert_eq!(
        read.events,
        vec![GroupEvent::OldEpochMessage {
            member: sim.key(2),
            key_id: 0,
            message_epoch: 0,
            rekey_epoch: 2,
        }]
    );
}

#[test]
fn the_grace_window_survives_persistence() {
    let key = StorageKey::from_bytes([0x44; 32]);
    let mut sim = Sim::new(4, 37);
    let _ = sim.remove_withholding(0, 3, &[2], NOW);
    let msgs: Vec<Vec<u8>> = (0..=MAX_OLD_EPOCH_MESSAGES)
        .map(|i| sim.send(2, &i.to_be_bytes()))
        .collect();
    let last = msgs.len() - 1;
    let g = &mut sim.members[1].g;
    for m in &msgs[..last - 1] {
        assert!(g.decrypt(m, NOW).is_ok());
    }
    let mut r = rng(38);
    let blob = g.to_encrypted(&key, 1, &mut r);
    let mut restored =
        GroupSession::from_encrypted(&blob, &key, 0, &hushwire::persist::Expected::any()).unwrap();
    assert!(restored == *g);
    // The count was kept: one more is read, then the limit holds.
    assert!(restored.decrypt(&msgs[last - 1], NOW).is_ok());
    rejects(&mut restored, old_epoch_refused(0, 1), |g| {
        g.decrypt(&msgs[last], NOW)
    });
    // So was the time.
    let mut restored =
        GroupSession::from_encrypted(&blob, &key, 0, &hushwire::persist::Expected::any()).unwrap();
    rejects(&mut restored, old_epoch_refused(0, 1), |g| {
        g.decrypt(&msgs[last - 1], NOW.plus_secs(OLD_EPOCH_GRACE_SECS + 1))
    });
}

/// Group state written by the code before the grace window existed (commit 22cfcd7, group
/// snapshot version 1), the storage key `0x5A * 32`, generation 3: member B of a group in
/// which A removed D while the removal was withheld from C. Frozen: the SHA-256 of each file
/// is pinned here.
const GROUP_V1_FIXTURES: [(&str, &str); 3] = [
    (
        "removal_pending_member.bin",
        "9df01d4b7e2028d988c660a73971656fae1f284987152dc25e612df3f01b1db7",
    ),
    (
        "removal_pending_new_key.bin",
        "5925e2b5c9ea0fd19f1b0a8362db3526d6c271f2317f507f28c8d5ddbb7b7acd",
    ),
    (
        "removal_pending_old_epoch.bin",
        "bc3378c78b8286521d79f8d089d88c9113e593a98bd3d05e424ca86e9b732838",
    ),
];

fn group_v1_fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/group_v1")
        .join(name);
    std::fs::read(path).unwrap()
}

#[test]
fn version_1_group_state_restores_with_the_grace_window_closed() {
    use sha2::{Digest, Sha256};
    for (name, pinned) in GROUP_V1_FIXTURES {
        assert_eq!(
            hex::encode(Sha256::digest(group_v1_fixture(name))),
            pinned,
            "fixture {name} changed: published state must never be rewritten"
        );
    }
    let key = StorageKey::from_bytes([0x5a; 32]);
    let blob = group_v1_fixture("removal_pending_member.bin");
    let mut member =
        GroupSession::from_encrypted(&blob, &key, 3, &hushwire::persist::Expected::any()).unwrap();
    assert_eq!(member.epoch(), 1);
    assert_eq!(member.roster().rekey_epoch(), 1);
    // A message on the admin's fresh key reads as before.
    let fresh = group_v1_fixture("removal_pending_new_key.bin");
    assert_eq!(
        member.clone().decrypt(&fresh, NOW).unwrap().plaintext,
        b"after the removal"
    );
    // The snapshot does not say when the removal was applied, so a message on a key from
    // before it is refused (the writing build read it), nothing changing.
    let old = group_v1_fixture("removal_pending_old_epoch.bin");
    rejects(&mut member, old_epoch_refused(0, 1), |g| {
        g.decrypt(&old, NOW)
    });
    // Written again, it is a version-2 snapshot that restores to the same state.
    let mut r = rng(39);
    let again = member.to_encrypted(&key, 4, &mut r);
    assert!(
        GroupSession::from_encrypted(&again, &key, 4, &hushwire::persist::Expected::any()).unwrap()
            == member
    );
    assert!(again.len() > blob.len());
}

#[test]
fn a_member_removed_and_added_again_starts_afresh() {
    let mut sim = Sim::new(3, 40);
    let k2 = sim.key(2);
    let before = sim.send(2, b"first membership");
    sim.all_read(2, &before, b"first membership");
    let _ = sim.change(0, RosterOp::Remove { member: k2 });
    // Its keys and its next key id are gone: a second membership starts again at key 0.
    assert!(sim.members[1].g.held_sender_keys(&k2).is_empty());
    let _ = sim.change(
        0,
        RosterOp::Add {
            member: k2,
            role: GroupRole::Member,
        },
    );
    assert_eq!(sim.members[2].g.sender_key_id(), Some(0));
    assert_eq!(sim.members[1].g.held_sender_keys(&k2), vec![0]);
    let again = sim.send(2, b"second membership");
    sim.all_read(2, &again, b"second membership");
    // What it sent in its first membership names key 0 too, but not this key 0: its
    // signature does not verify under the new signing key.
    rejects(&mut sim.members[1].g, GroupError::BadSignature, |g| {
        g.decrypt(&before, NOW)
    });
}
