//! A live-chat tenant and a whole support conversation over simulated 1:1 sessions, shared by
//! the api, attacks and vector tests of `hushwire::support` (SPEC.md §20).

use std::collections::BTreeMap;

use chacha20::ChaCha20Rng;
use hushwire::group::Outgoing;
use hushwire::support::{
    AssignmentOp, AssignmentRoster, Dispatched, Dispatcher, DispatcherCertificate, DispatcherInfo,
    SupportConversation, SupportError, SupportMessage, VisitorConfig, VisitorIdentity,
};
use hushwire::verify::{IdentityCertificate, OperatorInfo, OrganizationRoots};
use hushwire::{
    Account, IdentityKey, IdentityKeyPair, IssuerKeyPair, ServerCertificate, Session, Timestamp,
    Validity,
};

use super::{NOW, rng};

/// One day, in seconds.
pub const DAY: u64 = 24 * 3600;

/// The tenant: Acme Bank's root (pinned by the widget under root id 1), its organization key
/// and certificate, and its dispatcher.
pub struct Tenant {
    pub root: IssuerKeyPair,
    pub org_key: IssuerKeyPair,
    pub org_cert: ServerCertificate,
    pub roots: OrganizationRoots,
    pub dispatcher_key: IdentityKeyPair,
    pub dispatcher: Dispatcher,
}

/// A certificate validity from a day before [`NOW`] to six days after it.
pub fn week() -> Validity {
    Validity::new(
        Timestamp::from_unix_secs(NOW.as_unix_secs() - DAY),
        NOW.plus_secs(6 * DAY),
    )
    .unwrap()
}

impl Tenant {
    pub fn new(rng: &mut ChaCha20Rng) -> Tenant {
        let root = IssuerKeyPair::generate(rng);
        let org_key = IssuerKeyPair::generate(rng);
        let org_cert = ServerCertificate::issue(
            &root,
            1,
            1,
            &org_key.public(),
            Validity::new(Timestamp::from_unix_secs(0), NOW.plus_secs(365 * DAY)).unwrap(),
        );
        let mut roots = OrganizationRoots::new();
        roots.pin(1, root.public(), "Acme Bank").unwrap();
        let dispatcher_key = IdentityKeyPair::generate(rng);
        let cert = Self::dispatcher_certificate(&org_key, &org_cert, &dispatcher_key, 1, week());
        let dispatcher = Dispatcher::new(dispatcher_key.clone(), cert).unwrap();
        Tenant {
            root,
            org_key,
            org_cert,
            roots,
            dispatcher_key,
            dispatcher,
        }
    }

    pub fn dispatcher_certificate(
        org_key: &IssuerKeyPair,
        org_cert: &ServerCertificate,
        key: &IdentityKeyPair,
        serial: u64,
        validity: Validity,
    ) -> DispatcherCertificate {
        DispatcherCertificate::issue(
            org_key,
            org_cert,
            DispatcherInfo {
                serial,
                organization: "Acme Bank".into(),
                name: "Card desk".into(),
                dispatcher_key: *key.public(),
                validity,
            },
        )
        .unwrap()
    }

    pub fn certify(
        &self,
        key: &IdentityKey,
        name: &str,
        role: &str,
        serial: u64,
        validity: Validity,
    ) -> IdentityCertificate {
        IdentityCertificate::issue(
            &self.org_key,
            &self.org_cert,
            OperatorInfo {
                serial,
                organization: "Acme Bank".into(),
                operator_name: name.into(),
                role: role.into(),
                identity_key: *key,
                validity,
            },
        )
        .unwrap()
    }

    pub fn operator(&self, name: &str, role: &str, serial: u64, rng: &mut ChaCha20Rng) -> Operator {
        let account = Account::new(NOW, rng);
        let cert = self.certify(account.identity_key(), name, role, serial, week());
        Operator {
            name: name.to_owned(),
            account,
            cert,
        }
    }
}

/// An operator device: its account and identity certificate.
pub struct Operator {
    pub name: String,
    pub account: Account,
    pub cert: IdentityCertificate,
}

/// Party 0 is the visitor; party `i + 1` is `operators[i]`: Dana (0), Eli (1), Sam the
/// supervisor (2).
pub const VISITOR: usize = 0;
pub const DANA: usize = 1;
pub const ELI: usize = 2;
pub const SAM: usize = 3;

/// A whole support conversation: the tenant, the visitor, three operators, every party's
/// conversation (once it has one) and the 1:1 sessions between them.
pub struct Scene {
    pub rng: ChaCha20Rng,
    pub now: Timestamp,
    pub tenant: Tenant,
    pub visitor: VisitorIdentity,
    pub operators: Vec<Operator>,
    pub convs: Vec<Option<SupportConversation>>,
    /// The dispatcher's copy of the roster.
    pub roster: AssignmentRoster,
    pub sessions: BTreeMap<(usize, usize), Session>,
    /// Distribution messages delivered, for the figures.
    pub distributions_sent: usize,
}

impl Scene {
    pub fn new(seed: u64) -> Scene {
        let mut rng = rng(seed);
        let tenant = Tenant::new(&mut rng);
        let operators = vec![
            tenant.operator("Dana Smith", "Card support", 11, &mut rng),
            tenant.operator("Eli Jones", "Card support", 12, &mut rng),
            tenant.operator("Sam Lee", "Supervisor", 13, &mut rng),
        ];
        let visitor = VisitorIdentity::new(VisitorConfig::default(), NOW, &mut rng);
        let conv = SupportConversation::open(&visitor, NOW, &mut rng).unwrap();
        let roster = AssignmentRoster::genesis(conv.id(), *visitor.identity_key());
        Scene {
            rng,
            now: NOW,
            tenant,
            visitor,
            operators,
            convs: vec![Some(conv), None, None, None],
            roster,
            sessions: BTreeMap::new(),
            distributions_sent: 0,
        }
    }

    pub fn key(&self, party: usize) -> IdentityKey {
        if party == VISITOR {
            *self.visitor.identity_key()
        } else {
            *self.operators[party - 1].account.identity_key()
        }
    }

    pub fn party_of(&self, key: &IdentityKey) -> usize {
        (0..=self.operators.len())
            .find(|p| self.key(*p) == *key)
            .expect("a known party")
    }

    pub fn cert(&self, party: usize) -> IdentityCertificate {
        self.operators[party - 1].cert.clone()
    }

    pub fn conv(&mut self, party: usize) -> &mut SupportConversation {
        self.convs[party]
            .as_mut()
            .expect("the party has the conversation")
    }

    /// Signs `op` on the dispatcher's roster (not delivered).
    pub fn dispatch(&mut self, op: AssignmentOp) -> Dispatched {
        self.tenant
            .dispatcher
            .sign_change(&self.roster, op, &mut self.rng)
            .unwrap()
    }

    /// Signs and delivers `op`: every reader applies the change, an added operator joins from
    /// the welcome, and every distribution message goes over the 1:1 sessions.
    pub fn change(&mut self, op: AssignmentOp) {
        let _ = self.change_kept(op);
    }

    /// [`Scene::change`], returning what the dispatcher signed.
    pub fn change_kept(&mut self, op: AssignmentOp) -> Dispatched {
        let d = self.dispatch(op);
        self.deliver(&d);
        d
    }

    /// Delivers a signed change (see [`Scene::change`]).
    pub fn deliver(&mut self, d: &Dispatched) {
        let readers: Vec<usize> = (0..self.convs.len())
            .filter(|p| self.convs[*p].as_ref().is_some_and(|c| c.is_reader()))
            .collect();
        let (roots, now) = (self.tenant.roots.clone(), self.now);
        let mut outgoing = Vec::new();
        for p in readers {
            let update = self.convs[p]
                .as_mut()
                .unwrap()
                .apply_change(&d.change, &roots, now, &mut self.rng)
                .unwrap();
            if let Some(dist) = update.distribution {
                outgoing.push((p, dist));
            }
        }
        if let (Some(added), Some(welcome)) = (d.added, d.welcome.as_ref()) {
            let p = self.party_of(&added);
            let key = self.operators[p - 1].account.identity_key_pair().clone();
            let joined =
                SupportConversation::join(&key, welcome, &roots, now, &mut self.rng).unwrap();
            self.convs[p] = Some(joined.conversation);
            outgoing.push((p, joined.distribution));
        }
        self.roster = d.roster.clone();
        for (from, out) in outgoing {
            self.distribute(from, &out);
        }
    }

    /// The session of `a` to `b`, established on first use (the visitor, or the lower
    /// operator, starts it).
    fn ensure_session(&mut self, a: usize, b: usize) {
        if self.sessions.contains_key(&(a, b)) {
            return;
        }
        let (init, resp) = if a == VISITOR || (b != VISITOR && a < b) {
            (a, b)
        } else {
            (b, a)
        };
        let bundle = self.operators[resp - 1]
            .account
            .published_prekeys()
            .take_bundle();
        let mut out = if init == VISITOR {
            let (s, operator) = self
                .visitor
                .connect_operator(
                    &bundle,
                    self.operators[resp - 1].cert.as_bytes(),
                    &self.tenant.roots,
                    self.now,
                    &mut self.rng,
                )
                .unwrap();
            assert_eq!(*operator.identity_key(), bundle.identity_key);
            s
        } else {
            self.operators[init - 1]
                .account
                .create_outbound_session(&bundle, &mut self.rng)
                .unwrap()
        };
        let first = out.encrypt(b"hello", &mut self.rng).unwrap();
        let inbound = self.operators[resp - 1]
            .account
            .create_inbound_session(&first, self.now)
            .unwrap();
        self.sessions.insert((init, resp), out);
        self.sessions.insert((resp, init), inbound.session);
    }

    /// Sends `bytes` from `a` to `b` over their 1:1 session; returns what `b` read.
    pub fn send_1to1(&mut self, a: usize, b: usize, bytes: &[u8]) -> Vec<u8> {
        self.ensure_session(a, b);
        let wire = if a == VISITOR {
            let s = self.sessions.get_mut(&(a, b)).unwrap();
            self.visitor
                .encrypt(s, bytes, self.now, &mut self.rng)
                .unwrap()
        } else {
            self.sessions
                .get_mut(&(a, b))
                .unwrap()
                .encrypt(bytes, &mut self.rng)
                .unwrap()
        };
        self.sessions
            .get_mut(&(b, a))
            .unwrap()
            .decrypt(&wire)
            .unwrap()
            .plaintext
    }

    /// Delivers a distribution message of `from` to each recipient over the 1:1 sessions.
    pub fn distribute(&mut self, from: usize, out: &Outgoing) {
        for r in out.recipients.clone() {
            let to = self.party_of(&r);
            let plain = self.send_1to1(from, to, &out.bytes);
            let session = self.sessions.get(&(to, from)).unwrap().clone();
            let _ = self
                .conv(to)
                .receive_distribution(&session, &plain)
                .unwrap();
            self.distributions_sent += 1;
        }
    }

    /// `from` sends `text` in the conversation.
    pub fn say(&mut self, from: usize, text: &[u8]) -> Vec<u8> {
        self.convs[from]
            .as_mut()
            .unwrap()
            .encrypt(text, self.now, &mut self.rng)
            .unwrap()
    }

    /// `at` reads a conversation message.
    pub fn read(&mut self, at: usize, message: &[u8]) -> Result<SupportMessage, SupportError> {
        let now = self.now;
        self.conv(at).decrypt(message, now)
    }

    /// The readers the visitor's widget lists, as displayed.
    pub fn readers(&mut self) -> Vec<String> {
        let (roots, now) = (self.tenant.roots.clone(), self.now);
        self.conv(VISITOR)
            .readers(&roots, now)
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}
