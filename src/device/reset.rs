//! The reset protocol: when a device cannot decrypt a peer's messages (lost or restored state,
//! a chain too far ahead), it sends a small signed reset request; the peer answers by starting
//! a fresh session. Both directions are rate-limited (SPEC.md §12.4).

use core::fmt;

use rand_core::CryptoRng;
use thiserror::Error;

use super::Device;
use crate::error::{DecodeError, ErrorKind};
use crate::event::Event;
use crate::labels::LABEL_RESET_MAC;
use crate::x3dh::HandshakeError;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::session::SessionId;
use crate::time::Timestamp;
use crate::wire::{Reader, TYPE_RESET_REQUEST, WIRE_VERSION, expect_header};
use crate::x3dh::PreKeyBundle;

/// Least time between two reset requests sent to, or answered for, the same peer: 60 s.
/// An attacker replaying or forging requests cannot force more handshakes than this.
pub const RESET_MIN_INTERVAL_SECS: u64 = 60;
/// A reset request older than this (by its own timestamp) is refused: 24 hours.
pub const RESET_MAX_AGE_SECS: u64 = 24 * 3600;
/// Encoded length of a reset request.
pub const RESET_REQUEST_LEN: usize = 2 + 32 + 32 + 8 + 8 + 1 + 16 + 32;
/// How far in the future (by our clock) a reset request's timestamp may be: 5 minutes.
pub const RESET_MAX_FUTURE_SKEW_SECS: u64 = 300;

/// Most reset logs a device keeps: twice [`super::MAX_PEERS`], so the peers held never fill
/// it. Requests from throwaway identities cannot grow the device without bound: when full, a
/// log is made room for only by forgetting one that no longer guards anything (SPEC.md §12.4).
pub const MAX_RESET_LOGS: usize = 2 * super::peers::MAX_PEERS;

/// Why a device asks for a reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResetReason {
    /// We hold no session with the peer (state lost, or never had one), or its prekey message
    /// can no longer be accepted.
    NoSession,
    /// Our state is behind the peer's (restored from an older copy).
    StateBehind,
    /// The peer's state forked (it was restored from an older copy).
    PeerForked,
    /// A chain jumped further ahead than the configured limit (long offline period).
    TooFarBehind,
}

impl ResetReason {
    fn to_byte(self) -> u8 {
        match self {
            ResetReason::NoSession => 1,
            ResetReason::StateBehind => 2,
            ResetReason::PeerForked => 3,
            ResetReason::TooFarBehind => 4,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(ResetReason::NoSession),
            2 => Some(ResetReason::StateBehind),
            3 => Some(ResetReason::PeerForked),
            4 => Some(ResetReason::TooFarBehind),
            _ => None,
        }
    }
}

/// Errors of the reset protocol. The device is unchanged on every one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResetError {
    /// The request is not well formed.
    #[error("malformed reset request: {0}")]
    Malformed(#[from] DecodeError),
    /// The request's MAC does not verify: forged, tampered, or not from the named requester.
    #[error("reset request authentication failed (forged or tampered)")]
    BadSignature,
    /// The request is addressed to another device.
    #[error("reset request is addressed to another device")]
    NotForUs,
    /// The request is older than [`RESET_MAX_AGE_SECS`], more than
    /// [`RESET_MAX_FUTURE_SKEW_SECS`] in the future, or not newer than one already answered
    /// (a replay).
    #[error("reset request is stale or replayed")]
    Stale,
    /// A reset with this peer happened less than [`RESET_MIN_INTERVAL_SECS`] ago, or the
    /// device keeps [`MAX_RESET_LOGS`] reset logs and none can be forgotten yet.
    #[error("reset rate limit: retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a reset with this peer is allowed again.
        retry_after_secs: u64,
    },
    /// The prekey bundle given to answer the request belongs to another identity.
    #[error("the prekey bundle is not the requester's")]
    BundleMismatch,
    /// Starting the fresh session failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
}

impl ResetError {
    /// A stable, language-neutral name of this error, `"reset.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            ResetError::Malformed(_) => "reset.malformed",
            ResetError::BadSignature => "reset.bad_signature",
            ResetError::NotForUs => "reset.not_for_us",
            ResetError::Stale => "reset.stale",
            ResetError::RateLimited { .. } => "reset.rate_limited",
            ResetError::BundleMismatch => "reset.bundle_mismatch",
            ResetError::Handshake(_) => "reset.handshake",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ResetError::Malformed(e) => e.kind(),
            ResetError::BadSignature | ResetError::NotForUs | ResetError::BundleMismatch => {
                ErrorKind::Tampered
            }
            ResetError::Stale => ErrorKind::Replay,
            ResetError::RateLimited { .. } => ErrorKind::LimitExceeded,
            ResetError::Handshake(e) => e.kind(),
        }
    }
}

/// An authenticated request to start a fresh session (SPEC.md §12.4).
#[derive(Clone, PartialEq, Eq)]
pub struct ResetRequest {
    requester: IdentityKey,
    target: IdentityKey,
    created_at: Timestamp,
    since: Timestamp,
    reason: ResetReason,
    nonce: [u8; 16],
    mac: [u8; 32],
}

impl fmt::Debug for ResetRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetRequest")
            .field("requester", &self.requester)
            .field("target", &self.target)
            .field("created_at", &self.created_at)
            .field("since", &self.since)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl ResetRequest {
    fn signed_part(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RESET_REQUEST_LEN);
        out.push(WIRE_VERSION);
        out.push(TYPE_RESET_REQUEST);
        out.extend_from_slice(self.requester.as_bytes());
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(&self.created_at.as_unix_secs().to_be_bytes());
        out.extend_from_slice(&self.since.as_unix_secs().to_be_bytes());
        out.push(self.reason.to_byte());
        out.extend_from_slice(&self.nonce);
        out
    }

    /// HMAC-SHA256 over the request under the pair's reset key (SPEC.md §12.4).
    fn compute_mac(&self, ours: &IdentityKeyPair, theirs: &IdentityKey) -> Option<[u8; 32]> {
        let shared = theirs.dh_with(ours.dh_secret())?;
        let hk = Hkdf::<Sha256>::new(None, shared.as_bytes());
        let mut key = Zeroizing::new([0u8; 32]);
        // Cannot fail: 32 bytes is far below HKDF's output limit.
        let _ = hk.expand(LABEL_RESET_MAC, key.as_mut());
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_ref()).ok()?;
        mac.update(&self.signed_part());
        Some(mac.finalize().into_bytes().into())
    }

    /// The wire encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.signed_part();
        out.extend_from_slice(&self.mac);
        out
    }

    /// Decodes strictly (the MAC is checked by [`Device::answer_reset`]).
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(&mut r, bytes.len(), TYPE_RESET_REQUEST, RESET_REQUEST_LEN)?;
        let requester = IdentityKey::from_bytes(&r.array::<32>()?)
            .map_err(|_| DecodeError::InvalidField { field: "requester" })?;
        let target = IdentityKey::from_bytes(&r.array::<32>()?)
            .map_err(|_| DecodeError::InvalidField { field: "target" })?;
        let created_at = Timestamp::from_unix_secs(u64::from_be_bytes(r.array::<8>()?));
        let since = Timestamp::from_unix_secs(u64::from_be_bytes(r.array::<8>()?));
        let reason =
            ResetReason::from_byte(r.u8()?).ok_or(DecodeError::InvalidField { field: "reason" })?;
        let nonce = r.array::<16>()?;
        let mac = r.array::<32>()?;
        r.finish()?;
        Ok(ResetRequest {
            requester,
            target,
            created_at,
            since,
            reason,
            nonce,
            mac,
        })
    }

    /// Who asks for the reset.
    pub fn requester(&self) -> &IdentityKey {
        &self.requester
    }

    /// Why.
    pub fn reason(&self) -> ResetReason {
        self.reason
    }

    /// The last time the requester read a message from us: re-send what came after, if the
    /// app keeps it.
    pub fn since(&self) -> Timestamp {
        self.since
    }
}

/// Reset bookkeeping per peer, for the rate limit and replay checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResetLog {
    pub(crate) last_requested: Option<Timestamp>,
    pub(crate) last_answered: Option<Timestamp>,
    /// The `created_at` of the newest request answered: older ones are replays.
    pub(crate) newest_answered_request: Option<Timestamp>,
    /// We sent a request and have not yet seen a fresh session from the peer.
    pub(crate) awaiting_new_session: bool,
}

impl ResetLog {
    /// When this log stops guarding anything: no rate limit runs, and every request it has
    /// answered (or an older one) would be refused as too old anyway.
    fn spent_at(&self) -> u64 {
        let after = |t: Option<Timestamp>, secs: u64| {
            t.map_or(0, |t| t.as_unix_secs().saturating_add(secs))
        };
        after(self.last_requested, RESET_MIN_INTERVAL_SECS)
            .max(after(self.last_answered, RESET_MIN_INTERVAL_SECS))
            .max(after(
                self.newest_answered_request,
                RESET_MAX_AGE_SECS.saturating_add(1),
            ))
    }
}

fn retry_after(last: Option<Timestamp>, now: Timestamp) -> Option<u64> {
    let next = last?.plus_secs(RESET_MIN_INTERVAL_SECS);
    (now < next).then(|| next.as_unix_secs() - now.as_unix_secs())
}

/// The outcome of answering a reset request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct ResetAnswered {
    /// The fresh session, now active: send the next message (and any re-sends) on it.
    pub session_id: SessionId,
    /// Re-send what was sent after this time, if the app keeps it.
    pub resend_since: Timestamp,
    /// Events: [`Event::SessionReset`], then [`Event::PeerEvicted`] if a peer was evicted to
    /// make room for the requester (SPEC.md §12.1).
    pub events: Vec<Event>,
}

impl Device {
    /// Builds an authenticated reset request for `peer`, to send back (sealed, like any message)
    /// when its messages cannot be decrypted. `since` is the last time a message from the
    /// peer was read.
    ///
    /// # Errors
    /// [`ResetError::RateLimited`] within [`RESET_MIN_INTERVAL_SECS`] of the previous request
    /// to this peer; nothing changes then.
    pub fn reset_request<R: CryptoRng + ?Sized>(
        &mut self,
        peer: &IdentityKey,
        reason: ResetReason,
        since: Timestamp,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Vec<u8>, ResetError> {
        let log = self.resets.get(peer).copied().unwrap_or_default();
        if let Some(retry_after_secs) = retry_after(log.last_requested, now) {
            return Err(ResetError::RateLimited { retry_after_secs });
        }
        let spent = self.reset_log_room(peer, now)?;
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let mut request = ResetRequest {
            requester: *self.account.identity_key(),
            target: *peer,
            created_at: now,
            since,
            reason,
            nonce,
            mac: [0u8; 32],
        };
        request.mac = request
            .compute_mac(self.account.identity_key_pair(), peer)
            .ok_or(ResetError::BadSignature)?;
        if let Some(spent) = spent {
            self.resets.remove(&spent);
        }
        let entry = self.resets.entry(*peer).or_default();
        entry.last_requested = Some(now);
        entry.awaiting_new_session = true;
        Ok(request.to_bytes())
    }

    /// Answers a reset request: checks it, then starts a fresh session with the requester from
    /// `bundle` (fetched from the server as for any new session) and makes it active.
    ///
    /// # Errors
    /// [`ResetError`]; the device is unchanged on every error.
    pub fn answer_reset<R: CryptoRng + ?Sized>(
        &mut self,
        request: &[u8],
        bundle: &PreKeyBundle,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<ResetAnswered, ResetError> {
        let request = ResetRequest::from_bytes(request)?;
        if request.target != *self.account.identity_key() {
            return Err(ResetError::NotForUs);
        }
        let expected = request
            .compute_mac(self.account.identity_key_pair(), &request.requester)
            .ok_or(ResetError::BadSignature)?;
        if !bool::from(expected.ct_eq(&request.mac)) {
            return Err(ResetError::BadSignature);
        }
        if request.created_at.plus_secs(RESET_MAX_AGE_SECS) < now
            || request.created_at > now.plus_secs(RESET_MAX_FUTURE_SKEW_SECS)
        {
            return Err(ResetError::Stale);
        }
        let log = self
            .resets
            .get(&request.requester)
            .copied()
            .unwrap_or_default();
        if log
            .newest_answered_request
            .is_some_and(|t| request.created_at <= t)
        {
            return Err(ResetError::Stale);
        }
        if let Some(retry_after_secs) = retry_after(log.last_answered, now) {
            return Err(ResetError::RateLimited { retry_after_secs });
        }
        if bundle.identity_key != request.requester {
            return Err(ResetError::BundleMismatch);
        }
        let spent = self.reset_log_room(&request.requester, now)?;
        let started = self.start_session(bundle, rng)?;
        let session_id = started.session_id;
        if let Some(spent) = spent {
            self.resets.remove(&spent);
        }
        let entry = self.resets.entry(request.requester).or_default();
        entry.last_answered = Some(now);
        entry.newest_answered_request = Some(request.created_at);
        let mut events = vec![Event::SessionReset { session_id }];
        events.extend(started.events);
        Ok(ResetAnswered {
            session_id,
            resend_since: request.since,
            events,
        })
    }

    /// Whether `peer` can get a reset log: `Ok(None)` if it has one or there is room,
    /// `Ok(Some(spent))` if the spent log of another peer must be forgotten first (the first,
    /// by key order, of a peer not held whose log no longer guards anything).
    ///
    /// # Errors
    /// [`ResetError::RateLimited`] when [`MAX_RESET_LOGS`] logs are kept and none is spent,
    /// with the time until the first one is.
    fn reset_log_room(
        &self,
        peer: &IdentityKey,
        now: Timestamp,
    ) -> Result<Option<IdentityKey>, ResetError> {
        if self.resets.len() < MAX_RESET_LOGS || self.resets.contains_key(peer) {
            return Ok(None);
        }
        let now = now.as_unix_secs();
        let mut first_spent_at = u64::MAX;
        for (key, log) in &self.resets {
            if self.peers.contains_key(key) {
                continue;
            }
            let spent_at = log.spent_at();
            if spent_at <= now {
                return Ok(Some(*key));
            }
            first_spent_at = first_spent_at.min(spent_at);
        }
        let retry_after_secs = if first_spent_at == u64::MAX {
            RESET_MIN_INTERVAL_SECS
        } else {
            first_spent_at - now
        };
        Err(ResetError::RateLimited { retry_after_secs })
    }

    /// Called when a new inbound session from `peer` is established: completes a reset we
    /// asked for, if any. Returns true when the new session is the answer to our request and
    /// our sessions are the broken ones: we asked, and have not since answered a request of the
    /// peer's with a fresh session of our own. Such a session becomes active whatever the
    /// simultaneous-initiation rule would say (SPEC.md §12.1, §12.4).
    pub(crate) fn note_new_session(
        &mut self,
        peer: &IdentityKey,
        session_id: SessionId,
        events: &mut Vec<Event>,
    ) -> bool {
        let Some(log) = self.resets.get_mut(peer) else {
            return false;
        };
        if !log.awaiting_new_session {
            return false;
        }
        log.awaiting_new_session = false;
        events.push(Event::SessionReset { session_id });
        // Both asked and both answered: each holds its own answer in front, and the
        // simultaneous-initiation rule makes them converge.
        let answered_since = log
            .last_answered
            .zip(log.last_requested)
            .is_some_and(|(answered, requested)| answered >= requested);
        !answered_since
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::persist::{Expected, StorageKey};

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    /// Bob keeping `count` reset logs of strangers, each answered at `NOW` (spent only after
    /// `NOW + RESET_MAX_AGE_SECS`).
    fn bob_with_logs(count: usize, rng: &mut ChaCha20Rng) -> Device {
        let mut bob = Device::new(NOW, rng);
        bob.account_mut()
            .generate_one_time_prekeys(4, 4, NOW, rng)
            .unwrap();
        let log = ResetLog {
            last_answered: Some(NOW),
            newest_answered_request: Some(NOW),
            ..ResetLog::default()
        };
        while bob.resets.len() < count {
            let stranger = IdentityKeyPair::generate(rng);
            bob.resets.insert(*stranger.public(), log);
        }
        bob
    }

    fn request_to(bob: &Device, now: Timestamp, rng: &mut ChaCha20Rng) -> (Device, Vec<u8>) {
        let mut requester = Device::new(NOW, rng);
        requester
            .account_mut()
            .generate_one_time_prekeys(1, 1, NOW, rng)
            .unwrap();
        let request = requester
            .reset_request(bob.identity_key(), ResetReason::NoSession, now, now, rng)
            .unwrap();
        (requester, request)
    }

    #[test]
    fn reset_logs_at_their_limit_forget_only_spent_logs() {
        let mut rng = ChaCha20Rng::seed_from_u64(401);
        let mut bob = bob_with_logs(MAX_RESET_LOGS - 1, &mut rng);

        // One short of the limit: a new requester gets a log.
        let (alice, request) = request_to(&bob, NOW, &mut rng);
        let bundle = alice.account().published_prekeys().take_bundle();
        let _ = bob.answer_reset(&request, &bundle, NOW, &mut rng).unwrap();
        assert_eq!(bob.resets.len(), MAX_RESET_LOGS);

        // At the limit, while no stranger's log is spent: refused, nothing changes.
        let later = NOW.plus_secs(RESET_MAX_AGE_SECS);
        let (carol, request) = request_to(&bob, later, &mut rng);
        let bundle = carol.account().published_prekeys().take_bundle();
        let logs = bob.resets.clone();
        assert_eq!(
            bob.answer_reset(&request, &bundle, later, &mut rng).err(),
            Some(ResetError::RateLimited {
                retry_after_secs: 1
            })
        );
        assert_eq!(bob.resets, logs);
        assert!(bob.sessions_with(carol.identity_key()).is_empty());
        // Bob cannot ask a new peer for a reset either.
        assert_eq!(
            bob.reset_request(
                carol.identity_key(),
                ResetReason::NoSession,
                later,
                later,
                &mut rng
            )
            .err(),
            Some(ResetError::RateLimited {
                retry_after_secs: 1
            })
        );
        assert_eq!(bob.resets, logs);

        // One second later the strangers' logs are spent: the first by key order is forgotten.
        let spent = NOW.plus_secs(RESET_MAX_AGE_SECS + 1);
        let (carol, request) = request_to(&bob, spent, &mut rng);
        let bundle = carol.account().published_prekeys().take_bundle();
        let _ = bob
            .answer_reset(&request, &bundle, spent, &mut rng)
            .unwrap();
        assert_eq!(bob.resets.len(), MAX_RESET_LOGS);
        let forgotten = logs.keys().find(|k| *k != alice.identity_key()).unwrap();
        assert!(!bob.resets.contains_key(forgotten));
        assert!(bob.resets.contains_key(alice.identity_key()));
        assert!(bob.resets.contains_key(carol.identity_key()));

        // A device at the limit restores.
        let key = StorageKey::from_bytes([7; 32]);
        let blob = bob.to_encrypted(&key, 0, &mut rng);
        let restored = Device::from_encrypted(&blob, &key, 0, &Expected::any()).unwrap();
        assert_eq!(restored.resets, bob.resets);
    }

    #[test]
    fn a_held_peers_log_is_never_forgotten_to_make_room() {
        let mut rng = ChaCha20Rng::seed_from_u64(402);
        let mut bob = bob_with_logs(MAX_RESET_LOGS - 1, &mut rng);
        let (alice, request) = request_to(&bob, NOW, &mut rng);
        let bundle = alice.account().published_prekeys().take_bundle();
        let _ = bob.answer_reset(&request, &bundle, NOW, &mut rng).unwrap();
        // Every stranger's log is now younger than Alice's and not yet spent; Alice's is
        // spent but she is held, so there is no room.
        let young = ResetLog {
            last_answered: Some(NOW.plus_secs(RESET_MAX_AGE_SECS)),
            newest_answered_request: Some(NOW.plus_secs(RESET_MAX_AGE_SECS)),
            ..ResetLog::default()
        };
        let alice_key = *alice.identity_key();
        for (key, log) in &mut bob.resets {
            if *key != alice_key {
                *log = young;
            }
        }
        let spent = NOW.plus_secs(RESET_MAX_AGE_SECS + 1);
        let (carol, request) = request_to(&bob, spent, &mut rng);
        let bundle = carol.account().published_prekeys().take_bundle();
        assert_eq!(
            bob.answer_reset(&request, &bundle, spent, &mut rng).err(),
            Some(ResetError::RateLimited {
                retry_after_secs: RESET_MAX_AGE_SECS
            })
        );
        assert!(bob.resets.contains_key(&alice_key));
    }
}
