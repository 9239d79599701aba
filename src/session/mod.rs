//! A 1:1 session: the Double Ratchet plus what identifies the conversation.

use core::fmt;

use rand_core::CryptoRng;

mod snapshot;

pub(crate) use snapshot::{SessionSnapshotV1, SessionSnapshotV2};

use crate::event::Event;
pub use crate::ids::SessionId;
use crate::keys::IdentityKey;
use crate::ratchet::{DecryptError, EncryptError};
use crate::ratchet::{
    DecryptReport, Incoming, RatchetConfig, RatchetState, ResponderStart, SessionAd, SessionVersion,
};
use crate::wire::{
    AnyPreKey, MAX_PLAINTEXT_LEN, MessageKind, PqRatchetMessage, PreKeyFields, PreKeyMessage,
    RatchetMessage, TYPE_PQ_RATCHET, message_kind,
};

/// Which side of the key agreement this session was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Built the session from the peer's prekey bundle.
    Initiator,
    /// Built the session from the peer's first (prekey) message.
    Responder,
}

/// The result of a successful decrypt.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct Decrypted {
    /// The message as the peer wrote it.
    pub plaintext: Vec<u8>,
    /// Security events raised by this decrypt (see [`Event`]).
    pub events: Vec<Event>,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext_len", &self.plaintext.len())
            .field("events", &self.events)
            .finish()
    }
}

pub(crate) fn report_events(report: DecryptReport, events: &mut Vec<Event>) {
    if report.evicted > 0 {
        events.push(Event::SkippedKeysEvicted {
            count: report.evicted,
        });
    }
    if report.expired > 0 {
        events.push(Event::SkippedKeysExpired {
            count: report.expired,
        });
    }
}

/// An end-to-end encrypted 1:1 session with one peer device.
///
/// Until the initiator has decrypted a reply, its messages are prekey messages that carry
/// what the responder needs to build the session. Every decrypt is transactional: on error
/// the session is unchanged and the next genuine message still decrypts.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    ratchet: RatchetState,
    ad: SessionAd,
    local_identity: IdentityKey,
    remote_identity: IdentityKey,
    session_id: SessionId,
    /// The initiator's base key: names this session attempt in prekey messages.
    pub(crate) base_key: [u8; 32],
    /// What only our side of the key agreement holds.
    side: Side,
}

/// The role-dependent part of a session (SPEC.md §7.1).
#[derive(Clone, PartialEq, Eq)]
enum Side {
    /// Built from the peer's bundle. `prekey_phase` holds the prekey fields every message
    /// repeats until the first decrypt succeeds (SPEC.md §7.3), then `None`.
    Initiator { prekey_phase: Option<PreKeyFields> },
    /// Built from the peer's first message. `prekey_digest` is SHA-256 of its prekey fields,
    /// so a later prekey message with any field altered is rejected (SPEC.md §7.4).
    Responder { prekey_digest: [u8; 32] },
}

impl Side {
    fn role(&self) -> Role {
        match self {
            Side::Initiator { .. } => Role::Initiator,
            Side::Responder { .. } => Role::Responder,
        }
    }
}

/// What names a session, given by name to its constructors.
pub(crate) struct SessionNames {
    pub(crate) local_identity: IdentityKey,
    pub(crate) remote_identity: IdentityKey,
    pub(crate) session_id: SessionId,
    /// The initiator's base key (`EK_A`).
    pub(crate) base_key: [u8; 32],
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.session_id)
            .field("role", &self.role())
            .field("remote_identity", &self.remote_identity)
            .field("received_reply", &self.ratchet.has_received())
            .finish_non_exhaustive()
    }
}

/// The associated data of a session: initiator identity, then responder identity.
fn session_ad(initiator: &IdentityKey, responder: &IdentityKey) -> SessionAd {
    let mut ad = [0u8; 64];
    let (a, b) = ad.split_at_mut(32);
    a.copy_from_slice(initiator.as_bytes());
    b.copy_from_slice(responder.as_bytes());
    ad
}

/// SHA-256 over the fields of a prekey message (everything before the ratchet message, the
/// type byte included, so a version-2 session's digest never matches a `0x02` message).
fn prekey_fields_digest(message: &AnyPreKey<'_>) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(message.fields_bytes()).into()
}

fn names_ad(names: &SessionNames, role: Role) -> SessionAd {
    match role {
        Role::Initiator => session_ad(&names.local_identity, &names.remote_identity),
        Role::Responder => session_ad(&names.remote_identity, &names.local_identity),
    }
}

impl Session {
    /// A session from its parts (a new initiator's, or a restored one's).
    fn from_parts(names: SessionNames, side: Side, ratchet: RatchetState) -> Self {
        let ad = names_ad(&names, side.role());
        let SessionNames {
            local_identity,
            remote_identity,
            session_id,
            base_key,
        } = names;
        Session {
            ratchet,
            ad,
            local_identity,
            remote_identity,
            session_id,
            base_key,
            side,
        }
    }

    /// The initiator's session right after the key agreement, in its prekey phase.
    pub(crate) fn new_initiator(
        names: SessionNames,
        ratchet: RatchetState,
        prekey_fields: PreKeyFields,
    ) -> Self {
        let side = Side::Initiator {
            prekey_phase: Some(prekey_fields),
        };
        Session::from_parts(names, side, ratchet)
    }

    /// The responder's session, built by decrypting the first message of `prekey`: there
    /// is no responder session that has not decrypted one.
    pub(crate) fn accept_first(
        names: SessionNames,
        start: ResponderStart,
        prekey: &AnyPreKey<'_>,
    ) -> Result<(Self, Vec<u8>, DecryptReport), DecryptError> {
        let ad = names_ad(&names, Role::Responder);
        let (ratchet, plaintext, report) = start.accept_incoming(&ad, &Incoming::from(prekey))?;
        let side = Side::Responder {
            prekey_digest: prekey_fields_digest(prekey),
        };
        Ok((Session::from_parts(names, side, ratchet), plaintext, report))
    }

    /// Encrypts a message for the peer and returns its wire bytes.
    ///
    /// # Errors
    /// [`EncryptError::PlaintextTooLarge`] above [`MAX_PLAINTEXT_LEN`];
    /// [`EncryptError::ChainExhausted`] after `u32::MAX` messages without a reply.
    /// The session is unchanged on error.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, EncryptError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(EncryptError::PlaintextTooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        let mut message = Vec::new();
        self.ratchet
            .encrypt(&self.ad, plaintext, rng, &mut message)?;
        match &self.side {
            Side::Initiator {
                prekey_phase: Some(fields),
            } => {
                let mut out = Vec::new();
                let pq = self.ratchet.version() == SessionVersion::V2;
                PreKeyMessage::encode(&mut out, fields, pq, &message);
                Ok(out)
            }
            Side::Initiator { prekey_phase: None } | Side::Responder { .. } => Ok(message),
        }
    }

    /// Decrypts a message from the peer (a ratchet message, or a prekey message of this same
    /// session while the initiator has not yet heard back).
    ///
    /// # Errors
    /// See [`DecryptError`]. The session is unchanged on every error.
    pub fn decrypt(&mut self, message: &[u8]) -> Result<Decrypted, DecryptError> {
        let incoming = match message_kind(message)? {
            MessageKind::Ratchet if message.get(1) == Some(&TYPE_PQ_RATCHET) => {
                Incoming::from(&PqRatchetMessage::decode(message)?)
            }
            MessageKind::Ratchet => Incoming::from(&RatchetMessage::decode(message)?),
            MessageKind::PreKey => {
                let prekey = AnyPreKey::decode(message)?;
                let Side::Responder { prekey_digest } = &self.side else {
                    return Err(DecryptError::OtherSession);
                };
                if prekey.base_key() != &self.base_key
                    || prekey.identity_key_bytes() != self.remote_identity.as_bytes()
                {
                    return Err(DecryptError::OtherSession);
                }
                if prekey_fields_digest(&prekey) != *prekey_digest {
                    return Err(DecryptError::Tampered);
                }
                Incoming::from(&prekey)
            }
        };
        let (plaintext, report) = self.ratchet.decrypt_incoming(&self.ad, &incoming)?;
        if let Side::Initiator { prekey_phase } = &mut self.side {
            // The peer answered: later messages are bare ratchet messages (SPEC.md §7.3).
            *prekey_phase = None;
        }
        let mut events = Vec::new();
        report_events(report, &mut events);
        Ok(Decrypted { plaintext, events })
    }

    /// The session's public id (both sides compute the same one).
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    /// The peer's identity key.
    pub fn remote_identity(&self) -> &IdentityKey {
        &self.remote_identity
    }

    /// Our identity key.
    pub fn local_identity(&self) -> &IdentityKey {
        &self.local_identity
    }

    /// The session version, fixed at creation (SPEC.md §5.9.7): [`SessionVersion::V2`]
    /// sessions carry the ML-KEM ratchet step and send types `0x04`/`0x05`.
    pub fn version(&self) -> SessionVersion {
        self.ratchet.version()
    }

    /// Which side of the key agreement we were.
    pub fn role(&self) -> Role {
        self.side.role()
    }

    /// Whether the peer has proven it holds the session (we decrypted a message from it).
    /// Until then an initiator's messages are prekey messages.
    pub fn has_received_message(&self) -> bool {
        self.ratchet.has_received()
    }

    /// Whether the peer has answered on this session: it decrypted a message of ours and
    /// replied. For the initiator, any decrypted message is a reply; the responder needs a
    /// message on a second receiving chain, which the initiator starts only after decrypting
    /// the responder's reply (its first messages are all on one chain). A session the peer
    /// answered on is one the peer held after we did (SPEC.md §12.1).
    pub(crate) fn peer_answered(&self) -> bool {
        let chains_needed = match self.role() {
            Role::Initiator => 1,
            Role::Responder => 2,
        };
        self.ratchet.receive_steps() >= chains_needed
    }

    /// The limits this session enforces.
    pub fn config(&self) -> &RatchetConfig {
        self.ratchet.config()
    }

    /// Changes the limits for future messages. Keys already stored above a lowered cap stay
    /// until the next decrypt that stores keys or steps the ratchet.
    pub fn set_config(&mut self, config: RatchetConfig) {
        self.ratchet.set_config(config);
    }

    /// Number of message keys stored for delayed messages.
    pub fn stored_skipped_keys(&self) -> usize {
        self.ratchet.stored_key_count()
    }

    /// A secret both ends of this session share, for short authentication strings
    /// (SPEC.md §15.4.1): HKDF of the session-constant tag key under its own label, so it
    /// reveals nothing about the tag key. It never leaves the crate.
    pub(crate) fn verification_key(&self) -> zeroize::Zeroizing<[u8; 32]> {
        crate::kdf::derive_verification_key(self.ratchet.tag_key(), &self.session_id)
    }
}

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::account::Account;
    use crate::time::Timestamp;

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    fn is_prekey(message: &[u8]) -> bool {
        matches!(message_kind(message), Ok(MessageKind::PreKey))
    }

    /// Each side's own fields (SPEC.md §7.1–§7.4): the initiator repeats its prekey fields
    /// until a decrypt succeeds, and a failed one keeps them; a prekey message is for a
    /// responder only, and an initiator refuses it as another session's, unchanged.
    #[test]
    fn each_side_keeps_its_own_fields_through_its_transitions() {
        let mut rng = ChaCha20Rng::seed_from_u64(17);
        let alice = Account::new(NOW, &mut rng);
        let mut bob = Account::new(NOW, &mut rng);
        let mut a = alice
            .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let first = a.encrypt(b"1", &mut rng).unwrap();
        assert!(is_prekey(&first));
        let mut b = bob.create_inbound_session(&first, NOW).unwrap().session;
        assert!(matches!(b.side, Side::Responder { .. }));
        assert_eq!((a.role(), b.role()), (Role::Initiator, Role::Responder));

        let before = a.clone();
        assert_eq!(a.decrypt(&first), Err(DecryptError::OtherSession));
        let mut reply = b.encrypt(b"2", &mut rng).unwrap();
        assert!(!is_prekey(&reply));
        if let Some(last) = reply.last_mut() {
            *last ^= 1;
        }
        assert_eq!(a.decrypt(&reply), Err(DecryptError::Tampered));
        assert!(a == before);
        assert!(is_prekey(&a.encrypt(b"3", &mut rng).unwrap()));

        if let Some(last) = reply.last_mut() {
            *last ^= 1;
        }
        assert_eq!(a.decrypt(&reply).unwrap().plaintext, b"2");
        assert!(matches!(a.side, Side::Initiator { prekey_phase: None }));
        assert!(!is_prekey(&a.encrypt(b"4", &mut rng).unwrap()));
    }
}
