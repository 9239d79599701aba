//! Per-peer session records held by the [`Device`]: an active session plus a bounded number
//! of older ones, so a conversation survives a peer's reinstall or two sessions started at
//! once (SPEC.md §12).

use std::collections::{BTreeSet, VecDeque};

use rand_core::CryptoRng;
use thiserror::Error;

use super::Device;
use crate::error::ErrorKind;
use crate::event::Event;
use crate::keys::IdentityKey;
use crate::ratchet::{DecryptError, EncryptError, SessionVersion};
use crate::session::{Role, Session, SessionId};
use crate::time::Timestamp;
use crate::wire::{AnyPreKey, MessageKind, message_kind};
use crate::x3dh::HandshakeError;
use crate::x3dh::PreKeyBundle;

/// Most sessions kept per peer device: the active one and older ones still accepted.
pub const MAX_SESSIONS_PER_PEER: usize = 5;

/// Most peer devices a device holds sessions with. Every record costs memory and bytes in the
/// persisted device, and a stranger holding a last-resort prekey could otherwise grow it
/// without end. When a new peer needs a record and the device is full, the least recently
/// used unverified peer is evicted, one that never answered first ([`Event::PeerEvicted`]);
/// a peer whose identity the user verified never is (SPEC.md §12.1).
pub const MAX_PEERS: usize = 10_000;

/// Errors from the device-level session API ([`Device::encrypt_for`], [`Device::decrypt_from`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PeerError {
    /// There is no session with this peer: start one from its prekey bundle.
    #[error("no session with this peer; start one from its prekey bundle")]
    UnknownPeer,
    /// No session with this peer opens the message, and the peer has answered on one of
    /// them: the conversation is established, so the message is junk attributed to the peer
    /// (or of a session lost on both sides). Not a reason to reset
    /// ([`PeerError::reset_reason`]): resetting on it would let anyone who can inject traffic
    /// replace the real session.
    #[error("no session with this peer opens the message (forged, or of a session we lost)")]
    NoMatchingSession,
    /// No session with this peer opens the message, and the peer has answered on none of
    /// them: it may be sending on a session we lost (a restored older copy, or both sides'
    /// first messages crossed a crash). Leads into a reset, like [`PeerError::UnknownPeer`].
    #[error("no session with this peer opens the message, and the peer never answered on one")]
    NoAnsweredSession,
    /// A prekey message names another identity than the peer it was attributed to.
    #[error("the prekey message was sent by another identity than the expected peer")]
    SenderMismatch,
    /// The peer's identity key replaced a key the user had verified, and the change was not
    /// accepted yet ([`Device::accept_identity_change`], or verify the new key with
    /// [`Device::mark_verified`]). Nothing was encrypted.
    #[error("the peer's identity key changed since it was verified; accept or verify it first")]
    IdentityChanged,
    /// The device has a stored record of this peer that is not loaded (a cold start from
    /// records, SPEC.md §11.9): load it with [`Device::load_peer`] and retry the call.
    /// Nothing changed. Not a reason to reset.
    #[error("the peer's stored record is not loaded; load it and retry")]
    NotLoaded,
    /// The peer device was removed from its user's device list (SPEC.md §19.7): its sessions
    /// are decrypt-only until the removal window ends, and nothing is encrypted to it.
    #[error("the peer device was removed from its user's device list; nothing is encrypted to it")]
    DeviceRemoved,
    /// See [`EncryptError`].
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
    /// See [`DecryptError`].
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// See [`HandshakeError`].
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
}

impl PeerError {
    /// A stable, language-neutral name of this error, `"peer.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            PeerError::UnknownPeer => "peer.unknown_peer",
            PeerError::NoMatchingSession => "peer.no_matching_session",
            PeerError::NoAnsweredSession => "peer.no_answered_session",
            PeerError::SenderMismatch => "peer.sender_mismatch",
            PeerError::IdentityChanged => "peer.identity_changed",
            PeerError::NotLoaded => "peer.not_loaded",
            PeerError::DeviceRemoved => "peer.device_removed",
            PeerError::Encrypt(_) => "peer.encrypt",
            PeerError::Decrypt(_) => "peer.decrypt",
            PeerError::Handshake(_) => "peer.handshake",
        }
    }

    /// Whether this failure should be answered with a reset request (see
    /// [`Device::reset_request`]), and with which reason (SPEC.md §12.4). Only failures a
    /// genuine peer can cause lead into a reset: messages of a peer we hold no record of, or
    /// no answered session with (our state was lost), authenticated signs of state out of
    /// step (the session tag), a chain too far ahead, and prekey messages whose prekeys are
    /// gone. A ratchet message that no session of an established conversation opens
    /// ([`PeerError::NoMatchingSession`]) never does: it is indistinguishable from junk
    /// attributed to the peer. Duplicates and tampered messages never do either.
    pub fn reset_reason(&self) -> Option<super::ResetReason> {
        use super::ResetReason;
        match self {
            PeerError::UnknownPeer | PeerError::NoAnsweredSession => Some(ResetReason::NoSession),
            PeerError::Decrypt(DecryptError::StateBehind { .. }) => Some(ResetReason::StateBehind),
            PeerError::Decrypt(DecryptError::PeerStateForked) => Some(ResetReason::PeerForked),
            PeerError::Decrypt(DecryptError::TooFarAhead { .. }) => Some(ResetReason::TooFarBehind),
            // A session-starting message we can no longer accept (its prekeys are gone, or it
            // starts a session we have since dropped): ask the peer for a fresh one. A
            // replayed message can trigger this too, which the reset rate limit bounds.
            PeerError::Handshake(
                HandshakeError::UnknownSignedPreKey(_)
                | HandshakeError::UnknownOneTimePreKey(_)
                | HandshakeError::OneTimePreKeyReused(_)
                | HandshakeError::UnknownKemPreKey(_)
                | HandshakeError::KemPreKeyReused(_)
                | HandshakeError::ReplayedInitialMessage,
            ) => Some(ResetReason::NoSession),
            _ => None,
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PeerError::UnknownPeer
            | PeerError::NoMatchingSession
            | PeerError::NoAnsweredSession
            | PeerError::NotLoaded => ErrorKind::UnknownSession,
            PeerError::SenderMismatch => ErrorKind::Tampered,
            PeerError::IdentityChanged | PeerError::DeviceRemoved => ErrorKind::Untrusted,
            PeerError::Encrypt(e) => e.kind(),
            PeerError::Decrypt(e) => e.kind(),
            PeerError::Handshake(e) => e.kind(),
        }
    }
}

/// The sessions held for one peer device, active first.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct PeerRecord {
    pub(crate) sessions: VecDeque<Session>,
    /// When the device last used this record (a session started, a message encrypted or
    /// decrypted), on the device's logical clock [`Device::peer_clock`]: the least recently
    /// used peer is evicted first.
    pub(crate) last_used: u64,
}

impl PeerRecord {
    /// Puts a session in front (active), dropping the oldest beyond the limit.
    fn activate_new(&mut self, session: Session) {
        self.sessions.push_front(session);
        self.sessions.truncate(MAX_SESSIONS_PER_PEER);
    }

    /// Whether the peer has answered on a held session (SPEC.md §12.1).
    pub(crate) fn answered(&self) -> bool {
        self.sessions.iter().any(Session::peer_answered)
    }
}

/// The peer to evict to make room for a new one (SPEC.md §12.1): among the unverified peers,
/// one that never answered before one that did, then the least recently used, then the
/// smallest key. `None` when every peer is verified.
///
/// A peer whose record is not loaded (SPEC.md §11.9) counts as one that answered and was last
/// used at 0: it was not used since the device started, and a stranger's never-answered record
/// created since goes first.
fn eviction_candidate<'a>(
    peers: impl Iterator<Item = (&'a IdentityKey, &'a PeerRecord)>,
    unloaded: impl Iterator<Item = &'a IdentityKey>,
    verified: &BTreeSet<IdentityKey>,
) -> Option<IdentityKey> {
    peers
        .map(|(key, record)| (*key, record.answered(), record.last_used))
        .chain(unloaded.map(|key| (*key, true, 0)))
        .filter(|(key, _, _)| !verified.contains(key))
        .min_by_key(|(key, answered, last_used)| (*answered, *last_used, key.to_bytes()))
        .map(|(key, _, _)| key)
}

/// The result of [`Device::start_session`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct SessionStarted {
    /// The new session, now active for the peer.
    pub session_id: SessionId,
    /// Events: [`Event::PeerEvicted`] if a peer was evicted to make room.
    pub events: Vec<Event>,
}

/// The result of [`Device::decrypt_from`].
#[derive(Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct PeerDecrypted {
    /// The message as the peer wrote it.
    pub plaintext: Vec<u8>,
    /// The session that decrypted it.
    pub session_id: SessionId,
    /// Events: session created or promoted, prekeys consumed, skipped keys dropped.
    pub events: Vec<Event>,
}

impl core::fmt::Debug for PeerDecrypted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PeerDecrypted")
            .field("plaintext_len", &self.plaintext.len())
            .field("session_id", &self.session_id)
            .field("events", &self.events)
            .finish()
    }
}

impl Device {
    /// Starts a session with the owner of `bundle` and makes it the active session for that
    /// peer.
    ///
    /// If `bundle` names a new peer and the device holds [`MAX_PEERS`] already, the least
    /// recently used unverified peer is evicted, one that never answered first
    /// ([`Event::PeerEvicted`] in the outcome; persist the device).
    ///
    /// Changes ([`Device::take_changes`]): the peer's record; the account record if the
    /// peer is new; an evicted peer's record removed. Write them before sending the first
    /// message.
    ///
    /// # Errors
    /// [`HandshakeError`], including [`HandshakeError::TooManyPeers`] when the device is full
    /// and every peer it holds is verified, and [`HandshakeError::PeerNotLoaded`] for a peer
    /// whose stored record is not loaded. The device is unchanged on error.
    pub fn start_session<R: CryptoRng + ?Sized>(
        &mut self,
        bundle: &PreKeyBundle,
        rng: &mut R,
    ) -> Result<SessionStarted, HandshakeError> {
        let version = self.account.session_version();
        self.start_session_with_version(bundle, version, rng)
    }

    /// As [`Device::start_session`], with the session version chosen for this peer rather
    /// than the account's ([`crate::Account::set_session_version`], SPEC.md §5.9.7): an app
    /// that knows which peers read version 2 (their app version, their device list) starts
    /// [`SessionVersion::V2`] sessions with them only.
    ///
    /// # Errors
    /// As [`Device::start_session`]. The device is unchanged on error.
    pub fn start_session_with_version<R: CryptoRng + ?Sized>(
        &mut self,
        bundle: &PreKeyBundle,
        version: SessionVersion,
        rng: &mut R,
    ) -> Result<SessionStarted, HandshakeError> {
        if self.unloaded.contains(&bundle.identity_key) {
            return Err(HandshakeError::PeerNotLoaded);
        }
        let evict = self.room_for(&bundle.identity_key)?;
        let session = self
            .account
            .create_outbound_session_with_version(bundle, version, rng)?;
        if !self.peers.contains_key(&bundle.identity_key) {
            self.mark_account();
        }
        let session_id = session.session_id();
        let mut events = Vec::new();
        self.evict(evict, &mut events);
        self.peers
            .entry(bundle.identity_key)
            .or_default()
            .activate_new(session);
        self.touch(&bundle.identity_key);
        Ok(SessionStarted { session_id, events })
    }

    /// Encrypts for `peer` on its active session.
    ///
    /// Changes ([`Device::take_changes`]): the peer's record only. Write it before sending
    /// the message: sent from a record that is then lost, the next message would reuse its
    /// keys.
    ///
    /// # Errors
    /// [`PeerError::IdentityChanged`] if `peer` is the new key of a user whose key changed
    /// since verification and the change was not accepted (see [`Device::record_identity`]);
    /// [`PeerError::DeviceRemoved`] if `peer` was removed from its user's device list;
    /// [`PeerError::NotLoaded`] if its stored record is not loaded;
    /// [`PeerError::UnknownPeer`] without a session; [`PeerError::Encrypt`] as
    /// [`Session::encrypt`]. The device is unchanged on error.
    pub fn encrypt_for<R: CryptoRng + ?Sized>(
        &mut self,
        peer: &IdentityKey,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, PeerError> {
        if self.identities.is_blocked(peer) {
            return Err(PeerError::IdentityChanged);
        }
        if self.users.removed.contains_key(peer) {
            return Err(PeerError::DeviceRemoved);
        }
        if self.unloaded.contains(peer) {
            return Err(PeerError::NotLoaded);
        }
        let session = self
            .peers
            .get_mut(peer)
            .and_then(|r| r.sessions.front_mut())
            .ok_or(PeerError::UnknownPeer)?;
        let message = session.encrypt(plaintext, rng)?;
        self.touch(peer);
        Ok(message)
    }

    /// Decrypts a message from `peer` (as named by the transport or a sealed envelope): a
    /// prekey message of a new session creates that session; otherwise the active session is
    /// tried, then the older ones, and one that decrypts becomes active.
    ///
    /// Changes ([`Device::take_changes`]): the peer's record; the account record too when
    /// the message starts a session (prekeys consumed, a reset completed, a new peer); an
    /// evicted peer's record removed. Write them before acknowledging the message to the
    /// server: acknowledged and then lost, it could never be read again.
    ///
    /// # Errors
    /// [`PeerError`]; [`PeerError::NotLoaded`] if the peer's stored record is not loaded
    /// (load it and retry). The device, its account's prekeys and every session are
    /// unchanged on error.
    pub fn decrypt_from(
        &mut self,
        peer: &IdentityKey,
        message: &[u8],
        now: Timestamp,
    ) -> Result<PeerDecrypted, PeerError> {
        if self.unloaded.contains(peer) {
            return Err(PeerError::NotLoaded);
        }
        let is_ratchet = message_kind(message).map_err(DecryptError::from)? == MessageKind::Ratchet;
        if !is_ratchet {
            let prekey = AnyPreKey::decode(message).map_err(DecryptError::from)?;
            if prekey.identity_key_bytes() != peer.as_bytes() {
                return Err(PeerError::SenderMismatch);
            }
            let known = self.peers.get(peer).and_then(|r| {
                r.sessions
                    .iter()
                    .position(|s| s.role() == Role::Responder && s.base_key == *prekey.base_key())
            });
            if known.is_none() {
                let evict = self.room_for(peer)?;
                let inbound = self.account.create_inbound_session(message, now)?;
                let session_id = inbound.session.session_id();
                let mut events = inbound.events;
                events.push(Event::SessionEstablished { session_id });
                let answers_our_reset = self.note_new_session(peer, session_id, &mut events);
                self.evict(evict, &mut events);
                self.peer_clock = self.peer_clock.saturating_add(1);
                let last_used = self.peer_clock;
                self.mark_account();
                self.mark_peer(peer);
                let record = self.peers.entry(*peer).or_default();
                record.last_used = last_used;
                // Simultaneous initiation: our own active session is an unanswered outbound
                // one. Both sides see the same two sessions; both keep the one with the
                // smaller id active, so they converge without another message. Not when the
                // new session answers our reset request: then our session is the broken one
                // (a copy restored from before the peer's reply looks unanswered too).
                let simultaneous = !answers_our_reset
                    && record
                        .sessions
                        .front()
                        .is_some_and(|s| s.role() == Role::Initiator && !s.has_received_message());
                record.activate_new(inbound.session);
                if simultaneous && record.sessions.len() >= 2 {
                    let ours = record.sessions.get(1).map(Session::session_id);
                    if ours.is_some_and(|ours| ours < session_id) {
                        record.sessions.swap(0, 1);
                    }
                }
                return Ok(PeerDecrypted {
                    plaintext: inbound.plaintext,
                    session_id,
                    events,
                });
            }
        }
        let tick = self.peer_clock.saturating_add(1);
        let record = self.peers.get_mut(peer).ok_or(PeerError::UnknownPeer)?;
        let mut first_error: Option<DecryptError> = None;
        for index in 0..record.sessions.len() {
            let Some(session) = record.sessions.get_mut(index) else {
                break;
            };
            match session.decrypt(message) {
                Ok(out) => {
                    let session_id = session.session_id();
                    let mut events = out.events;
                    // Only a ratchet message promotes: it proves the peer has heard from us on
                    // that session and is using it. A late prekey message does not.
                    if index > 0
                        && is_ratchet
                        && let Some(promoted) = record.sessions.remove(index)
                    {
                        record.sessions.push_front(promoted);
                        events.push(Event::ActiveSessionChanged { session_id });
                    }
                    record.last_used = tick;
                    self.peer_clock = tick;
                    self.mark_peer(peer);
                    return Ok(PeerDecrypted {
                        plaintext: out.plaintext,
                        session_id,
                        events,
                    });
                }
                Err(DecryptError::Undecryptable | DecryptError::OtherSession) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(PeerError::Decrypt(e)),
            None if record.sessions.iter().any(Session::peer_answered) => {
                Err(PeerError::NoMatchingSession)
            }
            None => Err(PeerError::NoAnsweredSession),
        }
    }

    /// Whether `peer` can get a record: `Some(victim)` if another peer must be evicted first
    /// (the device is full), `None` if there is room or `peer` is held already.
    ///
    /// # Errors
    /// [`HandshakeError::TooManyPeers`] if the device is full of verified peers.
    fn room_for(&self, peer: &IdentityKey) -> Result<Option<IdentityKey>, HandshakeError> {
        let held = self.peers.len().saturating_add(self.unloaded.len());
        if held < MAX_PEERS || self.knows_peer(peer) {
            return Ok(None);
        }
        let verified = self.identities.verified_keys();
        eviction_candidate(self.peers.iter(), self.unloaded.iter(), &verified)
            .map(Some)
            .ok_or(HandshakeError::TooManyPeers { limit: MAX_PEERS })
    }

    /// Drops the record [`Device::room_for`] chose, once the new session is built. Its reset
    /// log stays: it still guards against replayed and too frequent reset requests.
    fn evict(&mut self, victim: Option<IdentityKey>, events: &mut Vec<Event>) {
        if let Some(peer) = victim
            && (self.peers.remove(&peer).is_some() || self.unloaded.remove(&peer))
        {
            self.mark_removed(&peer);
            events.push(Event::PeerEvicted { peer });
        }
    }

    /// Marks `peer`'s record as used now, and changed.
    fn touch(&mut self, peer: &IdentityKey) {
        self.peer_clock = self.peer_clock.saturating_add(1);
        if let Some(record) = self.peers.get_mut(peer) {
            record.last_used = self.peer_clock;
        }
        self.mark_peer(peer);
    }

    /// Ids of the sessions held for `peer`, active first.
    pub fn sessions_with(&self, peer: &IdentityKey) -> Vec<SessionId> {
        self.peers
            .get(peer)
            .map(|r| r.sessions.iter().map(Session::session_id).collect())
            .unwrap_or_default()
    }

    /// The active session with `peer`, for inspection.
    pub fn active_session(&self, peer: &IdentityKey) -> Option<&Session> {
        self.peers.get(peer).and_then(|r| r.sessions.front())
    }

    /// Forgets everything about `peer` in one call: all its sessions are dropped and their
    /// keys zeroized, and its reset bookkeeping is erased. Returns whether anything was held.
    /// Works on a peer that is not loaded too.
    ///
    /// Changes ([`Device::take_changes`]): the account record, and the peer's record removed
    /// (delete it: until then it still holds the keys).
    pub fn forget_peer(&mut self, peer: &IdentityKey) -> bool {
        let had_sessions = self.peers.remove(peer).is_some() || self.unloaded.remove(peer);
        let had_resets = self.resets.remove(peer).is_some();
        if had_sessions {
            self.mark_removed(peer);
        } else if had_resets {
            self.mark_account();
        }
        had_sessions || had_resets
    }

    /// The peers this device holds sessions with, loaded or not.
    pub fn peers(&self) -> Vec<IdentityKey> {
        let all: BTreeSet<IdentityKey> = self
            .peers
            .keys()
            .chain(self.unloaded.iter())
            .copied()
            .collect();
        all.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::keys::IdentityKeyPair;

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    /// A record with one outbound session that the peer answered on, or not.
    fn record(rng: &mut ChaCha20Rng, answered: bool, last_used: u64) -> (IdentityKey, PeerRecord) {
        let mut us = Device::new(NOW, rng);
        let mut peer = Device::new(NOW, rng);
        let _ = us
            .start_session(&peer.account().published_prekeys().take_bundle(), rng)
            .unwrap();
        let key = *peer.identity_key();
        if answered {
            let m = us.encrypt_for(&key, b"hello", rng).unwrap();
            let _ = peer.decrypt_from(us.identity_key(), &m, NOW).unwrap();
            let r = peer.encrypt_for(us.identity_key(), b"hi", rng).unwrap();
            let _ = us.decrypt_from(&key, &r, NOW).unwrap();
        }
        let mut record = us.peers.remove(&key).unwrap();
        assert_eq!(record.answered(), answered);
        record.last_used = last_used;
        (key, record)
    }

    #[test]
    fn eviction_order_never_answered_then_least_recently_used_never_verified() {
        let mut rng = ChaCha20Rng::seed_from_u64(61);
        let peers: Vec<(IdentityKey, PeerRecord)> = vec![
            record(&mut rng, true, 1),  // 0: answered, oldest
            record(&mut rng, false, 5), // 1: never answered, recent
            record(&mut rng, false, 3), // 2: never answered, older
            record(&mut rng, false, 0), // 3: never answered, oldest of all: verified
            record(&mut rng, true, 4),  // 4: answered, recent
        ];
        let verified: BTreeSet<IdentityKey> = [peers[3].0].into_iter().collect();
        let mut held: BTreeMap<IdentityKey, PeerRecord> = peers.iter().cloned().collect();
        let mut order = Vec::new();
        while let Some(victim) = eviction_candidate(held.iter(), [].iter(), &verified) {
            order.push(peers.iter().position(|(k, _)| *k == victim).unwrap());
            held.remove(&victim);
        }
        assert_eq!(order, [2, 1, 0, 4], "the verified peer 3 is never chosen");
        assert_eq!(held.len(), 1);
        // Equal standing: the smaller key goes first.
        let (a, b) = (
            *IdentityKeyPair::generate(&mut rng).public(),
            *IdentityKeyPair::generate(&mut rng).public(),
        );
        let same = PeerRecord::default();
        let tied: BTreeMap<IdentityKey, PeerRecord> =
            [(a, same.clone()), (b, same)].into_iter().collect();
        let smaller = if a.to_bytes() < b.to_bytes() { a } else { b };
        assert_eq!(
            eviction_candidate(tied.iter(), [].iter(), &BTreeSet::new()),
            Some(smaller)
        );
    }
}
