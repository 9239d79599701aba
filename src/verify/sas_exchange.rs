//! Interactive SAS verification: a commit-then-reveal exchange inside a session (SPEC.md
//! §15.4).
//!
//! A short authentication string computed from the session alone can be ground by someone in
//! the middle: it picks key agreements on both sides until the two strings collide, a birthday
//! search of about 2^21 sessions per side for 42 bits. Here the string also depends on a fresh
//! nonce from each side, and the side that starts commits to its nonce before it sees the
//! other's. Whatever an attacker in the middle does, on each side the last input to the string
//! is a random value an honest party drew after the attacker had fixed its own: one run is one
//! guess, right with probability 2^-42 (emoji) or 2^-39 (numbers).
//!
//! The core does no I/O: each step takes the message bytes the app received (as the plaintext
//! of a message on the session being verified) and returns the next state and the bytes to
//! send on that session. Each state is consumed by its step, so a run cannot be driven twice.

use core::fmt;

use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::VerifyError;
use super::sas::{SAS_LEN, ShortAuthString};
use super::sas_messages::{
    SAS_COMMITMENT_LEN, SAS_MESSAGE_LEN, SAS_NONCE_LEN, SAS_RUN_ID_LEN, SasAccept, SasReveal,
    SasRunId, SasStart,
};
use crate::keys::IdentityKey;
use crate::labels::{LABEL_SAS_BYTES, LABEL_SAS_COMMITMENT};
use crate::session::{Role, Session, SessionId};
use crate::time::Timestamp;

/// How long a run may take, in seconds (10 minutes), counted from the call that created the
/// state on this side ([`start_sas`] or [`accept_sas`]). A message that arrives at or after
/// that time is refused with [`VerifyError::SasExpired`]: start a new run.
pub const SAS_RUN_TIMEOUT_SECS: u64 = 600;

/// Bytes of the binding: session id, initiator and responder identity keys, starter role,
/// run id.
const BINDING_LEN: usize = 32 + 32 + 32 + 1 + SAS_RUN_ID_LEN;

/// What a run is bound to: its session (id and both identities, initiator first), which side
/// started, and the run id. Both sides build the same bytes.
fn binding(
    session_id: &SessionId,
    initiator: &IdentityKey,
    responder: &IdentityKey,
    starter: Role,
    run_id: &SasRunId,
) -> [u8; BINDING_LEN] {
    let mut out = [0u8; BINDING_LEN];
    let parts: [&[u8]; 5] = [
        session_id.as_bytes(),
        initiator.as_bytes(),
        responder.as_bytes(),
        &[role_byte(starter)],
        run_id.as_bytes(),
    ];
    let mut at = 0;
    for part in parts {
        if let Some(dst) = out.get_mut(at..at + part.len()) {
            dst.copy_from_slice(part);
        }
        at += part.len();
    }
    out
}

/// `0x01` for the session's initiator, `0x02` for its responder (as the session tag, §5.6).
fn role_byte(role: Role) -> u8 {
    match role {
        Role::Initiator => 0x01,
        Role::Responder => 0x02,
    }
}

/// `SHA-256("hushwire/v1/verification/sas-commitment" || binding || starter_nonce)`.
pub(crate) fn commitment(
    binding: &[u8; BINDING_LEN],
    starter_nonce: &[u8; SAS_NONCE_LEN],
) -> [u8; SAS_COMMITMENT_LEN] {
    let mut h = Sha256::new();
    h.update(LABEL_SAS_COMMITMENT);
    h.update(binding);
    h.update(starter_nonce);
    h.finalize().into()
}

/// `HKDF-SHA256(salt = 32 zero bytes, IKM = verification key, info =
/// "hushwire/v1/verification/sas-bytes" || binding || commitment || starter_nonce ||
/// accepter_nonce, L = 6)`.
pub(crate) fn sas_bytes(
    verification_key: &[u8; 32],
    binding: &[u8; BINDING_LEN],
    commitment: &[u8; SAS_COMMITMENT_LEN],
    starter_nonce: &[u8; SAS_NONCE_LEN],
    accepter_nonce: &[u8; SAS_NONCE_LEN],
) -> [u8; SAS_LEN] {
    let hk = Hkdf::<Sha256>::new(Some(&[0u8; 32]), verification_key);
    let mut out = [0u8; SAS_LEN];
    // Cannot fail: 6 bytes is far below HKDF-SHA256's limit of 8160.
    let _ = hk.expand_multi_info(
        &[
            LABEL_SAS_BYTES,
            binding,
            commitment,
            starter_nonce,
            accepter_nonce,
        ],
        &mut out,
    );
    out
}

/// The public facts a run keeps about its session, checked again at every step.
#[derive(Clone, Copy, PartialEq, Eq)]
struct SessionBinding {
    session_id: SessionId,
    local_role: Role,
    remote_identity: IdentityKey,
}

impl SessionBinding {
    fn of(session: &Session) -> Self {
        SessionBinding {
            session_id: session.session_id(),
            local_role: session.role(),
            remote_identity: *session.remote_identity(),
        }
    }

    fn matches(&self, session: &Session) -> bool {
        *self == Self::of(session)
    }

    /// The binding bytes of run `run_id` on `session`, started by `starter`.
    fn bytes(session: &Session, starter: Role, run_id: &SasRunId) -> [u8; BINDING_LEN] {
        let (initiator, responder) = match session.role() {
            Role::Initiator => (session.local_identity(), session.remote_identity()),
            Role::Responder => (session.remote_identity(), session.local_identity()),
        };
        binding(&session.session_id(), initiator, responder, starter, run_id)
    }
}

fn other(role: Role) -> Role {
    match role {
        Role::Initiator => Role::Responder,
        Role::Responder => Role::Initiator,
    }
}

/// Checks shared by both receiving steps, in the order of SPEC.md §15.4.6: expiry, then the
/// session.
fn check_run(
    binding: &SessionBinding,
    expires_at: Timestamp,
    session: &Session,
    now: Timestamp,
) -> Result<(), VerifyError> {
    if now >= expires_at {
        return Err(VerifyError::SasExpired {
            expired_at: expires_at,
        });
    }
    if !binding.matches(session) {
        return Err(VerifyError::SasOtherSession);
    }
    Ok(())
}

/// Starts a verification run on `session` as the *starter*: draws a run id and a secret nonce,
/// and returns the state waiting for the peer's [`SasAccept`] with the start message to send
/// on `session`.
///
/// Draws 16 bytes (the run id), then 32 (the nonce), each with one `fill_bytes` call.
///
/// # Errors
/// [`VerifyError::SessionNotEstablished`] until `session` has decrypted a message from the
/// peer. Nothing is drawn and nothing changes on error.
///
/// # Example
/// ```
/// # use hushwire::{Account, Timestamp};
/// # use hushwire::verify::{accept_sas, start_sas};
/// # use rand_core::SeedableRng;
/// # fn main() -> Result<(), hushwire::Error> {
/// # let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
/// # let now = Timestamp::from_unix_secs(1_700_000_000);
/// # let alice = Account::new(now, &mut rng);
/// # let mut bob = Account::new(now, &mut rng);
/// # bob.generate_one_time_prekeys(1, 1, now, &mut rng)?;
/// # let mut on_alice = alice.create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)?;
/// # let first = on_alice.encrypt(b"hi", &mut rng)?;
/// # let mut on_bob = bob.create_inbound_session(&first, now)?.session;
/// # let reply = on_bob.encrypt(b"hello", &mut rng)?;
/// # on_alice.decrypt(&reply)?;
/// // Alice starts; each message goes to the peer as the plaintext of a session message.
/// let (alice_run, start) = start_sas(&on_alice, now, &mut rng)?;
/// let (bob_run, accept) = accept_sas(&on_bob, &start, now, &mut rng)?;
/// let (alice_ready, reveal) = alice_run.receive_accept(&on_alice, &accept, now).map_err(|(_, e)| e)?;
/// let bob_ready = bob_run.receive_reveal(&on_bob, &reveal, now).map_err(|(_, e)| e)?;
///
/// // Both show the same 7 emoji; the users compare them and, if equal, mark the key verified.
/// assert_eq!(alice_ready.sas().emoji(), bob_ready.sas().emoji());
/// assert_eq!(bob_ready.remote_identity(), alice.identity_key());
/// # Ok(())
/// # }
/// ```
pub fn start_sas<R: CryptoRng + ?Sized>(
    session: &Session,
    now: Timestamp,
    rng: &mut R,
) -> Result<(SasAwaitingAccept, [u8; SAS_MESSAGE_LEN]), VerifyError> {
    if !session.has_received_message() {
        return Err(VerifyError::SessionNotEstablished);
    }
    let mut run_id = [0u8; SAS_RUN_ID_LEN];
    rng.fill_bytes(&mut run_id);
    let run_id = SasRunId::from_bytes(run_id);
    let mut nonce = Zeroizing::new([0u8; SAS_NONCE_LEN]);
    rng.fill_bytes(nonce.as_mut());
    let commitment = commitment(
        &SessionBinding::bytes(session, session.role(), &run_id),
        &nonce,
    );
    let state = SasAwaitingAccept(Box::new(StarterState {
        session: SessionBinding::of(session),
        run_id,
        nonce,
        commitment,
        expires_at: now.plus_secs(SAS_RUN_TIMEOUT_SECS),
    }));
    Ok((state, SasStart::new(run_id, commitment).to_bytes()))
}

/// Answers the peer's start message as the *accepter*: draws a nonce and returns the state
/// waiting for the peer's [`SasReveal`] with the accept message to send on `session`.
///
/// The accept message carries the nonce in clear: the peer committed to its own nonce in
/// `start`, before it could see this one.
///
/// Draws 32 bytes (the nonce) with one `fill_bytes` call.
///
/// # Errors
/// [`VerifyError::SessionNotEstablished`] if `session` has not decrypted a message from the
/// peer; [`VerifyError::Malformed`] if `start` is not a start message. Nothing is drawn and
/// nothing changes on error.
pub fn accept_sas<R: CryptoRng + ?Sized>(
    session: &Session,
    start: &[u8],
    now: Timestamp,
    rng: &mut R,
) -> Result<(SasAwaitingReveal, [u8; SAS_MESSAGE_LEN]), VerifyError> {
    if !session.has_received_message() {
        return Err(VerifyError::SessionNotEstablished);
    }
    let start = SasStart::from_bytes(start)?;
    let mut nonce = [0u8; SAS_NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let run_id = start.run_id();
    let state = SasAwaitingReveal(Box::new(AccepterState {
        session: SessionBinding::of(session),
        run_id,
        commitment: *start.commitment(),
        nonce,
        expires_at: now.plus_secs(SAS_RUN_TIMEOUT_SECS),
    }));
    Ok((state, SasAccept::new(run_id, nonce).to_bytes()))
}

struct StarterState {
    session: SessionBinding,
    run_id: SasRunId,
    /// Secret until the reveal: whoever learns it before sending its own nonce can choose
    /// that nonce to steer the string.
    nonce: Zeroizing<[u8; SAS_NONCE_LEN]>,
    commitment: [u8; SAS_COMMITMENT_LEN],
    expires_at: Timestamp,
}

/// The starter's run, waiting for the peer's accept message. Made by [`start_sas`].
///
/// Holds the secret nonce (zeroized on drop, never printed). Not `Clone`: a run is driven
/// once. Dropping it cancels the run.
pub struct SasAwaitingAccept(Box<StarterState>);

impl SasAwaitingAccept {
    /// Reads the peer's accept message, computes the string, and returns it with the reveal
    /// message to send on `session` (the string is final: show it now).
    ///
    /// Checks, in order: the run has not expired, `session` is the run's session, `accept`
    /// is a well-formed accept message, it names this run.
    ///
    /// # Errors
    /// The state, unchanged, with [`VerifyError::SasExpired`] (at or after
    /// [`expires_at`](Self::expires_at): drop the state and start again),
    /// [`VerifyError::SasOtherSession`], [`VerifyError::Malformed`] or
    /// [`VerifyError::SasOtherRun`] (not this run's answer: keep waiting).
    pub fn receive_accept(
        self,
        session: &Session,
        accept: &[u8],
        now: Timestamp,
    ) -> Result<(SasReady, [u8; SAS_MESSAGE_LEN]), (Self, VerifyError)> {
        let s = &self.0;
        if let Err(e) = check_run(&s.session, s.expires_at, session, now) {
            return Err((self, e));
        }
        let accept = match SasAccept::from_bytes(accept) {
            Ok(a) => a,
            Err(e) => return Err((self, e.into())),
        };
        if accept.run_id() != s.run_id {
            return Err((self, VerifyError::SasOtherRun));
        }
        let binding = SessionBinding::bytes(session, session.role(), &s.run_id);
        let sas = sas_bytes(
            &session.verification_key(),
            &binding,
            &s.commitment,
            &s.nonce,
            accept.nonce(),
        );
        let reveal = SasReveal::new(s.run_id, *s.nonce).to_bytes();
        let ready = SasReady::new(sas, &s.session, s.run_id);
        Ok((ready, reveal))
    }

    /// The run's id.
    pub fn run_id(&self) -> SasRunId {
        self.0.run_id
    }

    /// When the run expires: messages received at or after it are refused.
    pub fn expires_at(&self) -> Timestamp {
        self.0.expires_at
    }
}

impl fmt::Debug for SasAwaitingAccept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasAwaitingAccept")
            .field("run_id", &self.0.run_id)
            .field("session_id", &self.0.session.session_id)
            .field("expires_at", &self.0.expires_at.as_unix_secs())
            .finish_non_exhaustive()
    }
}

struct AccepterState {
    session: SessionBinding,
    run_id: SasRunId,
    commitment: [u8; SAS_COMMITMENT_LEN],
    nonce: [u8; SAS_NONCE_LEN],
    expires_at: Timestamp,
}

/// The accepter's run, waiting for the peer's reveal message. Made by [`accept_sas`].
///
/// Not `Clone`: a run is driven once. Dropping it cancels the run. A successful step consumes
/// the state, so a second reveal for the same run has nothing to go to:
///
/// ```compile_fail,E0382
/// # use hushwire::{Session, Timestamp};
/// # use hushwire::verify::SasAwaitingReveal;
/// # fn read(run: SasAwaitingReveal, session: &Session, reveal: &[u8], now: Timestamp) {
/// let first = run.receive_reveal(session, reveal, now);
/// let second = run.receive_reveal(session, reveal, now); // `run` was moved by the first
/// # }
/// ```
pub struct SasAwaitingReveal(Box<AccepterState>);

impl SasAwaitingReveal {
    /// Reads the peer's reveal message, checks that it opens the commitment of the start
    /// message, and computes the string.
    ///
    /// Checks, in order: the run has not expired, `session` is the run's session, `reveal` is
    /// a well-formed reveal message, it names this run, its nonce opens the commitment.
    ///
    /// # Errors
    /// The state, unchanged, with [`VerifyError::SasExpired`], [`VerifyError::SasOtherSession`],
    /// [`VerifyError::Malformed`], [`VerifyError::SasOtherRun`], or
    /// [`VerifyError::SasCommitmentMismatch`]: the peer (or whoever holds the session's keys)
    /// revealed another nonce than the one it committed to. A genuine peer sends one reveal
    /// per run, so treat this as a failed verification and warn the user.
    pub fn receive_reveal(
        self,
        session: &Session,
        reveal: &[u8],
        now: Timestamp,
    ) -> Result<SasReady, (Self, VerifyError)> {
        let s = &self.0;
        if let Err(e) = check_run(&s.session, s.expires_at, session, now) {
            return Err((self, e));
        }
        let reveal = match SasReveal::from_bytes(reveal) {
            Ok(r) => r,
            Err(e) => return Err((self, e.into())),
        };
        if reveal.run_id() != s.run_id {
            return Err((self, VerifyError::SasOtherRun));
        }
        // The peer started: the starter role is the peer's.
        let binding = SessionBinding::bytes(session, other(session.role()), &s.run_id);
        let opened = commitment(&binding, reveal.nonce());
        if !bool::from(opened.ct_eq(&s.commitment)) {
            return Err((self, VerifyError::SasCommitmentMismatch));
        }
        let sas = sas_bytes(
            &session.verification_key(),
            &binding,
            &s.commitment,
            reveal.nonce(),
            &s.nonce,
        );
        Ok(SasReady::new(sas, &s.session, s.run_id))
    }

    /// The run's id.
    pub fn run_id(&self) -> SasRunId {
        self.0.run_id
    }

    /// When the run expires: messages received at or after it are refused.
    pub fn expires_at(&self) -> Timestamp {
        self.0.expires_at
    }
}

impl fmt::Debug for SasAwaitingReveal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasAwaitingReveal")
            .field("run_id", &self.0.run_id)
            .field("session_id", &self.0.session.session_id)
            .field("expires_at", &self.0.expires_at.as_unix_secs())
            .finish_non_exhaustive()
    }
}

/// A completed run: the string to show, and the key it verifies.
///
/// If the users compare the string (on a call, in person) and it is the same on both
/// screens, mark [`remote_identity`](Self::remote_identity) verified
/// ([`Account::mark_verified`](crate::Account::mark_verified)). If it differs, or a run fails
/// or never completes, warn the user: someone may be in the middle (SPEC.md §15.4.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SasReady {
    sas: ShortAuthString,
    session_id: SessionId,
    remote_identity: IdentityKey,
    run_id: SasRunId,
}

impl SasReady {
    fn new(bytes: [u8; SAS_LEN], session: &SessionBinding, run_id: SasRunId) -> Self {
        SasReady {
            sas: ShortAuthString::from_bytes(bytes),
            session_id: session.session_id,
            remote_identity: session.remote_identity,
            run_id,
        }
    }

    /// The string to compare: 7 emoji or three numbers.
    pub fn sas(&self) -> &ShortAuthString {
        &self.sas
    }

    /// The peer's identity key, which a matching string verifies.
    pub fn remote_identity(&self) -> &IdentityKey {
        &self.remote_identity
    }

    /// The session the run verified.
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    /// The run's id.
    pub fn run_id(&self) -> SasRunId {
        self.run_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kdf::derive_verification_key;
    use crate::keys::secret::SessionTagKey;

    fn hex32(v: &serde_json::Value) -> [u8; 32] {
        hex::decode(v.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    }

    /// The library's side of `tests/vectors/verify/sas.json` "derivations" (the integration
    /// test `tests/vector_tests/verify.rs` writes them from an independent reference).
    #[test]
    fn derivation_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/verify/sas.json");
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let derivations = file["derivations"].as_array().unwrap();
        assert!(!derivations.is_empty());
        for d in derivations {
            let session_id = SessionId::from_bytes(hex32(&d["session_id"]));
            let vk = derive_verification_key(
                &SessionTagKey::from_bytes(hex32(&d["tag_key"])),
                &session_id,
            );
            assert_eq!(*vk, hex32(&d["verification_key"]));
            let initiator = IdentityKey::from_bytes(&hex32(&d["initiator_identity"])).unwrap();
            let responder = IdentityKey::from_bytes(&hex32(&d["responder_identity"])).unwrap();
            let starter = match d["starter"].as_str().unwrap() {
                "initiator" => Role::Initiator,
                _ => Role::Responder,
            };
            let run_id = SasRunId::from_bytes(
                hex::decode(d["run_id"].as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap(),
            );
            let binding = binding(&session_id, &initiator, &responder, starter, &run_id);
            assert_eq!(hex::encode(binding), d["binding"].as_str().unwrap());
            let (sn, an) = (hex32(&d["starter_nonce"]), hex32(&d["accepter_nonce"]));
            let c = commitment(&binding, &sn);
            assert_eq!(c, hex32(&d["commitment"]));
            let msg = |v: &serde_json::Value| hex::decode(v.as_str().unwrap()).unwrap();
            assert_eq!(
                SasStart::new(run_id, c).to_bytes().to_vec(),
                msg(&d["start"])
            );
            assert_eq!(
                SasAccept::new(run_id, an).to_bytes().to_vec(),
                msg(&d["accept"])
            );
            assert_eq!(
                SasReveal::new(run_id, sn).to_bytes().to_vec(),
                msg(&d["reveal"])
            );
            let sas = sas_bytes(&vk, &binding, &c, &sn, &an);
            assert_eq!(hex::encode(sas), d["sas_bytes"].as_str().unwrap());
        }
    }

    #[test]
    fn derivation_is_as_specified() {
        let session_id = SessionId::from_bytes([8; 32]);
        let run_id = SasRunId::from_bytes([9; 16]);
        let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(3);
        let a = *crate::IdentityKeyPair::generate(&mut rng).public();
        let b = *crate::IdentityKeyPair::generate(&mut rng).public();
        let bind = binding(&session_id, &a, &b, Role::Responder, &run_id);
        assert_eq!(
            bind.to_vec(),
            [&[8u8; 32][..], a.as_bytes(), b.as_bytes(), &[2], &[9; 16]].concat()
        );
        let c = commitment(&bind, &[5; 32]);
        let expected: [u8; 32] =
            Sha256::digest([LABEL_SAS_COMMITMENT, &bind[..], &[5; 32]].concat()).into();
        assert_eq!(c, expected);
        let sas = sas_bytes(&[7; 32], &bind, &c, &[5; 32], &[6; 32]);
        let mut expected = [0u8; 6];
        Hkdf::<Sha256>::new(Some(&[0u8; 32]), &[7; 32])
            .expand(
                &[LABEL_SAS_BYTES, &bind[..], &c, &[5; 32], &[6; 32]].concat(),
                &mut expected,
            )
            .unwrap();
        assert_eq!(sas, expected);
        // Every input moves the string: the nonces in either order, the starter, the key.
        assert_ne!(sas, sas_bytes(&[7; 32], &bind, &c, &[6; 32], &[5; 32]));
        let other_starter = binding(&session_id, &a, &b, Role::Initiator, &run_id);
        assert_ne!(
            sas,
            sas_bytes(&[7; 32], &other_starter, &c, &[5; 32], &[6; 32])
        );
        assert_ne!(sas, sas_bytes(&[8; 32], &bind, &c, &[5; 32], &[6; 32]));
    }
}
