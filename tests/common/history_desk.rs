//! A support conversation for the history-handover tests (SPEC.md §20.8): the visitor, the
//! operator Dana and the supervisor Eli, over group sessions and a real 1:1 session Dana → Eli.

use chacha20::ChaCha20Rng;
use hushwire::group::{AuthenticatedSender, GroupRole, GroupSession, Outgoing};
use hushwire::history::{self, HistoryEntry, HistoryRange};
use hushwire::{Account, IdentityKey, Session, Timestamp};

use super::{NOW, NOW_SECS, rng};

fn by(k: &IdentityKey) -> AuthenticatedSender {
    AuthenticatedSender::assume_authenticated(*k)
}

/// The visitor, the operator Dana (creator, admin) and the supervisor Eli (added later), with
/// a 1:1 session Dana → Eli, and the transcript Dana's app keeps.
pub struct Desk {
    pub rng: ChaCha20Rng,
    pub visitor: Account,
    pub dana: Account,
    pub eli: Account,
    pub visitor_g: GroupSession,
    pub dana_g: GroupSession,
    pub eli_g: Option<GroupSession>,
    pub dana_to_eli: Session,
    pub eli_from_dana: Session,
    /// Group messages as the relay stored them, in order.
    pub stored: Vec<Vec<u8>>,
    /// Dana's transcript: one entry per message, index = position.
    pub transcript: Vec<HistoryEntry>,
}

impl Desk {
    pub fn new(seed: u64) -> Desk {
        let mut rng = rng(seed);
        let visitor = Account::new(NOW, &mut rng);
        let dana = Account::new(NOW, &mut rng);
        let mut eli = Account::new(NOW, &mut rng);
        eli.generate_one_time_prekeys(2, 2, NOW, &mut rng).unwrap();
        let created = GroupSession::create(
            dana.identity_key_pair(),
            &[(*visitor.identity_key(), GroupRole::Member)],
            &mut rng,
        )
        .unwrap();
        let mut dana_g = created.session;
        let joined = GroupSession::join(
            visitor.identity_key_pair(),
            &created.welcome.bytes,
            dana.identity_key(),
            &mut rng,
        )
        .unwrap();
        let mut visitor_g = joined.session;
        visitor_g
            .receive_distribution(by(dana.identity_key()), &created.distribution.bytes)
            .unwrap();
        dana_g
            .receive_distribution(by(visitor.identity_key()), &joined.distribution.bytes)
            .unwrap();
        // The 1:1 session Dana → Eli, established by a first message.
        let bundle = eli.published_prekeys().take_bundle();
        let mut dana_to_eli = dana.create_outbound_session(&bundle, &mut rng).unwrap();
        let first = dana_to_eli.encrypt(b"hi Eli", &mut rng).unwrap();
        let eli_from_dana = eli.create_inbound_session(&first, NOW).unwrap().session;
        Desk {
            rng,
            visitor,
            dana,
            eli,
            visitor_g,
            dana_g,
            eli_g: None,
            dana_to_eli,
            eli_from_dana,
            stored: Vec::new(),
            transcript: Vec::new(),
        }
    }

    pub fn visitor_key(&self) -> IdentityKey {
        *self.visitor.identity_key()
    }
    pub fn dana_key(&self) -> IdentityKey {
        *self.dana.identity_key()
    }
    pub fn eli_key(&self) -> IdentityKey {
        *self.eli.identity_key()
    }

    /// The visitor (even `i`) or Dana (odd `i`) sends message `i`, at one minute apart.
    pub fn chat(&mut self, n: u64) {
        for _ in 0..n {
            let i = u64::try_from(self.transcript.len()).unwrap();
            let body = format!("message {i}").into_bytes();
            let at = Timestamp::from_unix_secs(NOW_SECS + 60 * i);
            let (wire, sender) = if i % 2 == 0 {
                let w = self.visitor_g.encrypt(&body, &mut self.rng).unwrap();
                let read = self.dana_g.decrypt(&w, at).unwrap();
                assert_eq!(read.plaintext, body);
                (w, self.visitor_key())
            } else {
                let w = self.dana_g.encrypt(&body, &mut self.rng).unwrap();
                let _ = self.visitor_g.decrypt(&w, at).unwrap();
                (w, self.dana_key())
            };
            if let Some(eli_g) = self.eli_g.as_mut() {
                let _ = eli_g.decrypt(&wire, at).unwrap();
            }
            self.stored.push(wire);
            self.transcript
                .push(HistoryEntry::new(i, at, sender, &body));
        }
    }

    /// Dana adds Eli (an admin's signed change, as a dispatcher's would be) and every side
    /// applies it. Returns every byte string the change produced.
    pub fn add_eli(&mut self) -> Vec<Vec<u8>> {
        let mut produced = Vec::new();
        let keep = |o: &Option<Outgoing>, p: &mut Vec<Vec<u8>>| {
            if let Some(o) = o {
                p.push(o.bytes.to_vec());
            }
        };
        let update = self
            .dana_g
            .add_member(
                self.dana.identity_key_pair(),
                self.eli_key(),
                GroupRole::Member,
                &mut self.rng,
            )
            .unwrap();
        keep(&update.change, &mut produced);
        keep(&update.welcome, &mut produced);
        keep(&update.distribution, &mut produced);
        let applied = self
            .visitor_g
            .apply_roster_change(
                self.visitor.identity_key_pair(),
                &update.change.as_ref().unwrap().bytes,
                NOW,
                &mut self.rng,
            )
            .unwrap();
        keep(&applied.change, &mut produced);
        keep(&applied.welcome, &mut produced);
        keep(&applied.distribution, &mut produced);
        let joined = GroupSession::join(
            self.eli.identity_key_pair(),
            &update.welcome.as_ref().unwrap().bytes,
            self.dana.identity_key(),
            &mut self.rng,
        )
        .unwrap();
        produced.push(joined.distribution.bytes.to_vec());
        let mut eli_g = joined.session;
        eli_g
            .receive_distribution(
                by(&self.dana_key()),
                &update.distribution.as_ref().unwrap().bytes,
            )
            .unwrap();
        eli_g
            .receive_distribution(
                by(&self.visitor_key()),
                &applied.distribution.as_ref().unwrap().bytes,
            )
            .unwrap();
        self.dana_g
            .receive_distribution(by(&self.eli_key()), &joined.distribution.bytes)
            .unwrap();
        self.visitor_g
            .receive_distribution(by(&self.eli_key()), &joined.distribution.bytes)
            .unwrap();
        self.eli_g = Some(eli_g);
        produced
    }

    /// Dana exports `range` to Eli; the share goes over their 1:1 session. Returns what Eli
    /// decrypted (the share bytes), the object and the notice.
    pub fn export(&mut self, range: HistoryRange) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let export = history::export_history(
            &self.dana_g,
            &self.eli_key(),
            range,
            &self.transcript,
            &mut self.rng,
        )
        .unwrap();
        let wire = self
            .dana_to_eli
            .encrypt(&export.share, &mut self.rng)
            .unwrap();
        let read = self.eli_from_dana.decrypt(&wire).unwrap();
        (read.plaintext.to_vec(), export.object, export.notice)
    }
}
