//! The persisted [`Session`] (SPEC.md §11.3, state type [`StateType::Session`]): a plain serde
//! snapshot mirroring the live session, the same struct in blob format versions 1 and 2.
//! Live types never derive serde; secret fields are `Zeroizing`.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use super::{Role, Session, SessionId, SessionNames, Side};
use crate::keys::KEM_CIPHERTEXT_LEN;
use crate::persist::{
    Binding, BlobLabel, Expected, KeyChecks, Persist, RestoreError, STATE_FORMAT_VERSION,
    StateType, StorageKey, decode_exact,
};
use crate::ratchet::{PqRatchetV1, RatchetConfig, RatchetV1, pq_config_to_live};
use crate::wire::PreKeyFields;

#[derive(Serialize, Deserialize)]
pub(crate) struct PreKeyFieldsV1 {
    identity_key: [u8; 32],
    base_key: [u8; 32],
    signed_prekey_id: u32,
    one_time_prekey_id: Option<u32>,
    kem_prekey_id: u32,
    kem_ciphertext: Vec<u8>,
}

/// Version 1 of the persisted [`Session`].
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionSnapshotV1 {
    local_identity: [u8; 32],
    remote_identity: [u8; 32],
    session_id: [u8; 32],
    /// 1 = initiator, 2 = responder.
    role: u8,
    base_key: [u8; 32],
    prekey_digest: Option<[u8; 32]>,
    pending_prekey: Option<PreKeyFieldsV1>,
    ratchet: RatchetV1,
}

impl SessionSnapshotV1 {
    pub(crate) fn from_live(s: &Session) -> Self {
        SessionSnapshotV1 {
            local_identity: s.local_identity.to_bytes(),
            remote_identity: s.remote_identity.to_bytes(),
            session_id: *s.session_id.as_bytes(),
            role: match s.role() {
                Role::Initiator => 1,
                Role::Responder => 2,
            },
            base_key: s.base_key,
            prekey_digest: match &s.side {
                Side::Initiator { .. } => None,
                Side::Responder { prekey_digest } => Some(*prekey_digest),
            },
            pending_prekey: match &s.side {
                Side::Initiator { prekey_phase } => prekey_phase.as_ref(),
                Side::Responder { .. } => None,
            }
            .map(|f| PreKeyFieldsV1 {
                identity_key: f.identity_key,
                base_key: f.base_key,
                signed_prekey_id: f.signed_prekey_id,
                one_time_prekey_id: f.one_time_prekey_id,
                kem_prekey_id: f.kem_prekey_id,
                kem_ciphertext: f.kem_ciphertext.to_vec(),
            }),
            ratchet: RatchetV1::from_live(&s.ratchet),
        }
    }

    /// The hard caps of its ratchet (SPEC.md §5.5), checked before anything is parsed.
    pub(crate) fn check_limits(&self) -> Result<(), RestoreError> {
        self.ratchet.check_limits()
    }

    /// The live version-1 session; `checks` says how its identity keys are parsed (SPEC.md
    /// §11.8).
    #[cfg(test)]
    pub(crate) fn to_live(&self, checks: KeyChecks) -> Result<Session, RestoreError> {
        self.to_live_with(checks, None, None)
    }

    /// The live session of either version: `config` replaces the version-1 configuration
    /// (it adds the ML-KEM schedule), `pq` is the version-2 ratchet part.
    fn to_live_with(
        &self,
        checks: KeyChecks,
        config: Option<RatchetConfig>,
        pq: Option<&PqRatchetV1>,
    ) -> Result<Session, RestoreError> {
        self.ratchet.check_limits()?;
        let prekey_phase = match &self.pending_prekey {
            Some(f) => {
                let ct: [u8; KEM_CIPHERTEXT_LEN] = f
                    .kem_ciphertext
                    .as_slice()
                    .try_into()
                    .map_err(|_| RestoreError::Corrupt)?;
                Some(PreKeyFields {
                    identity_key: f.identity_key,
                    base_key: f.base_key,
                    signed_prekey_id: f.signed_prekey_id,
                    one_time_prekey_id: f.one_time_prekey_id,
                    kem_prekey_id: f.kem_prekey_id,
                    kem_ciphertext: Box::new(ct),
                })
            }
            None => None,
        };
        // Each role's own fields (SPEC.md §7.1): a responder always has its prekey digest and
        // never prekey fields to repeat; an initiator never has a digest.
        let side = match (self.role, self.prekey_digest, prekey_phase) {
            (1, None, prekey_phase) => Side::Initiator { prekey_phase },
            (2, Some(prekey_digest), None) => Side::Responder { prekey_digest },
            _ => return Err(RestoreError::Corrupt),
        };
        let ratchet = match config {
            Some(config) => self.ratchet.to_live_with(config, pq)?,
            None => self.ratchet.to_live()?,
        };
        let names = SessionNames {
            local_identity: checks.identity(&self.local_identity)?,
            remote_identity: checks.identity(&self.remote_identity)?,
            session_id: SessionId::from_bytes(self.session_id),
            base_key: self.base_key,
        };
        Ok(Session::from_parts(names, side, ratchet))
    }
}

/// Version 2 of the persisted [`Session`] (state format version 4, SPEC.md §5.9.7, §11.3):
/// version 1, then the configuration's ML-KEM schedule, then the version-2 ratchet part
/// (`None` for a version-1 session).
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionSnapshotV2 {
    pub(crate) base: SessionSnapshotV1,
    kem_interval: u32,
    kem_message_bound: u32,
    pub(crate) pq: Option<PqRatchetV1>,
}

/// A version-1 snapshot is a version-1 session with the default ML-KEM schedule.
impl From<SessionSnapshotV1> for SessionSnapshotV2 {
    fn from(base: SessionSnapshotV1) -> Self {
        let defaults = RatchetConfig::default();
        SessionSnapshotV2 {
            base,
            kem_interval: defaults.kem_interval(),
            kem_message_bound: defaults.kem_message_bound(),
            pq: None,
        }
    }
}

impl SessionSnapshotV2 {
    pub(crate) fn from_live(s: &Session) -> Self {
        let config = s.ratchet.config();
        SessionSnapshotV2 {
            base: SessionSnapshotV1::from_live(s),
            kem_interval: config.kem_interval(),
            kem_message_bound: config.kem_message_bound(),
            pq: PqRatchetV1::from_live(&s.ratchet),
        }
    }

    /// The hard caps of its ratchet (SPEC.md §5.5) and of the ML-KEM schedule (§5.9.6).
    pub(crate) fn check_limits(&self) -> Result<(), RestoreError> {
        self.base.check_limits()?;
        self.config().map(|_| ())
    }

    fn config(&self) -> Result<RatchetConfig, RestoreError> {
        // The version-1 configuration's own limits are checked first.
        self.base.ratchet.check_limits()?;
        pq_config_to_live(
            self.base.ratchet.config_to_live()?,
            self.kem_interval,
            self.kem_message_bound,
        )
    }

    /// The live session of either version.
    pub(crate) fn to_live(&self, checks: KeyChecks) -> Result<Session, RestoreError> {
        let config = self.config()?;
        self.base
            .to_live_with(checks, Some(config), self.pq.as_ref())
    }
}

impl Persist for Session {
    type Snapshot = SessionSnapshotV2;
    const STATE_TYPE: StateType = StateType::Session;
    const SNAPSHOT_VERSION: u16 = STATE_FORMAT_VERSION;

    fn snapshot(&self) -> SessionSnapshotV2 {
        SessionSnapshotV2::from_live(self)
    }

    /// Format versions 1 to 3 hold `SessionSnapshotV1` (version-1 sessions only), version 4
    /// `SessionSnapshotV2`.
    fn restore(version: u16, snapshot: &[u8], checks: KeyChecks) -> Result<Self, RestoreError> {
        session_snapshot_from_version(version, snapshot)?.to_live(checks)
    }

    /// Our identity, the peer's and the session id.
    fn binding(&self) -> Binding {
        Binding::session(
            &self.local_identity,
            &self.remote_identity,
            &self.session_id,
        )
    }
}

/// The session snapshot of a blob of format `version`, migrated to the current one.
pub(crate) fn session_snapshot_from_version(
    version: u16,
    bytes: &[u8],
) -> Result<SessionSnapshotV2, RestoreError> {
    if version < 4 {
        Ok(decode_exact::<SessionSnapshotV1>(bytes)?.into())
    } else {
        decode_exact::<SessionSnapshotV2>(bytes)
    }
}

impl Session {
    /// Exports the session as an encrypted blob (SPEC.md §11), bound to our identity, the
    /// peer's and the session id; see [`Account::to_encrypted`] for `generation`.
    pub fn to_encrypted<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        Persist::to_encrypted(self, key, generation, rng)
    }

    /// As [`Session::to_encrypted`], and binds the app's `label` for the slot into the blob
    /// (SPEC.md §11.7): restoring then needs [`Expected::with_label`].
    pub fn to_encrypted_labeled<R: CryptoRng + ?Sized>(
        &self,
        key: &StorageKey,
        label: &BlobLabel,
        generation: u64,
        rng: &mut R,
    ) -> Vec<u8> {
        Persist::to_encrypted_labeled(self, key, label, generation, rng)
    }

    /// Restores a session exported with [`Session::to_encrypted`]. Pass what the slot is for,
    /// usually [`Expected::peer`]: Carol's session is then refused in the slot kept for Bob.
    ///
    /// ```
    /// # use hushwire::{Account, Session, StorageKey, Timestamp};
    /// # use hushwire::persist::Expected;
    /// # use rand_core::SeedableRng;
    /// # let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
    /// # let now = Timestamp::from_unix_secs(1);
    /// # let alice = Account::new(now, &mut rng);
    /// # let (bob, carol) = (Account::new(now, &mut rng), Account::new(now, &mut rng));
    /// let with_carol =
    ///     alice.create_outbound_session(&carol.published_prekeys().take_bundle(), &mut rng)?;
    /// let key = StorageKey::from_bytes([7; 32]);
    /// let blob = with_carol.to_encrypted(&key, 1, &mut rng);
    /// // The app restores the slot it keeps for Bob, but the storage holds Carol's blob.
    /// let refused = Session::from_encrypted(&blob, &key, 1, &Expected::peer(bob.identity_key()));
    /// assert_eq!(refused, Err(hushwire::RestoreError::WrongObject { field: "peer" }));
    /// let back = Session::from_encrypted(&blob, &key, 1, &Expected::peer(carol.identity_key()))?;
    /// assert_eq!(back, with_carol);
    /// # Ok::<(), hushwire::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`RestoreError`], as for [`Account::from_encrypted`]. Nothing changes on error.
    pub fn from_encrypted(
        bytes: &[u8],
        key: &StorageKey,
        min_generation: u64,
        expected: &Expected,
    ) -> Result<Session, RestoreError> {
        <Session as Persist>::from_encrypted(bytes, key, min_generation, expected)
    }
}

/// Plain serde for apps that encrypt state themselves: the same versioned snapshot as the
/// encrypted blob, prefixed by the format version. Secret fields appear only here.
#[cfg(feature = "serde")]
mod plain_serde {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{SessionSnapshotV1, SessionSnapshotV2};
    use crate::persist::{KeyChecks, Persist, versioned};
    use crate::session::Session;

    impl Serialize for Session {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            (Self::SNAPSHOT_VERSION, self.snapshot()).serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for Session {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            // The session snapshot is the same struct in versions 1 to 3.
            versioned::<
                D,
                SessionSnapshotV1,
                SessionSnapshotV1,
                SessionSnapshotV1,
                SessionSnapshotV2,
            >(deserializer)?
            .to_live(KeyChecks::Full)
            .map_err(D::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;
    use crate::persist::{seal_state, secret};
    use crate::ratchet::{
        HARD_MAX_RECEIVING_CHAINS, HARD_MAX_SKIPPED_KEYS, PastChainV1, StoredKeysV1,
    };
    use crate::{Account, Timestamp};

    const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

    fn limit(limit: &'static str, max: usize) -> RestoreError {
        RestoreError::LimitExceeded {
            limit,
            max: max as u64,
        }
    }

    fn session_binding(s: &Session) -> Binding {
        Persist::binding(s)
    }

    /// Bob with one session with Alice that has stored skipped keys.
    fn bob_with_session(rng: &mut ChaCha20Rng) -> (Account, Session) {
        let alice = Account::new(NOW, rng);
        let mut bob = Account::new(NOW, rng);
        bob.generate_one_time_prekeys(1, 1, NOW, rng).unwrap();
        let mut s = alice
            .create_outbound_session(&bob.published_prekeys().take_bundle(), rng)
            .unwrap();
        let first = s.encrypt(b"1", rng).unwrap();
        let session = bob.create_inbound_session(&first, NOW).unwrap().session;
        (bob, session)
    }

    fn stored(count: usize) -> StoredKeysV1 {
        StoredKeysV1 {
            keys: (0..count).map(|n| (n as u32, secret(&[7; 32]))).collect(),
            expired_below: 0,
        }
    }

    #[test]
    fn session_hard_caps_at_and_past_their_edges() {
        let mut rng = ChaCha20Rng::seed_from_u64(304);
        let (_, session) = bob_with_session(&mut rng);
        let hard_keys = HARD_MAX_SKIPPED_KEYS as usize;
        let with_keys = |current: usize, past: usize| {
            let mut s = SessionSnapshotV1::from_live(&session);
            s.ratchet.receiving.as_mut().unwrap().stored = stored(current);
            let template = PastChainV1 {
                header_key: secret(&[1; 32]),
                ratchet_key: [2; 32],
                end: u32::MAX,
                step: 0,
                stored: stored(past),
            };
            s.ratchet.past = vec![template];
            s
        };
        // The total over the current and past chains counts.
        assert!(
            with_keys(hard_keys - 10, 10)
                .to_live(KeyChecks::Stored)
                .is_ok()
        );
        assert_eq!(
            with_keys(hard_keys - 10, 11)
                .to_live(KeyChecks::Stored)
                .err(),
            Some(limit("HARD_MAX_SKIPPED_KEYS", hard_keys))
        );
        // 10^6 keys, far past the cap.
        assert_eq!(
            with_keys(1_000_000, 0).to_live(KeyChecks::Stored).err(),
            Some(limit("HARD_MAX_SKIPPED_KEYS", hard_keys))
        );

        let with_chains = |n: usize| {
            let mut s = SessionSnapshotV1::from_live(&session);
            s.ratchet.past = (0..n)
                .map(|i| PastChainV1 {
                    header_key: secret(&[1; 32]),
                    ratchet_key: [i as u8; 32],
                    end: 1,
                    step: 0,
                    stored: stored(0),
                })
                .collect();
            s
        };
        let hard_chains = HARD_MAX_RECEIVING_CHAINS as usize;
        assert!(with_chains(hard_chains).to_live(KeyChecks::Stored).is_ok());
        assert_eq!(
            with_chains(hard_chains + 1)
                .to_live(KeyChecks::Stored)
                .err(),
            Some(limit("HARD_MAX_RECEIVING_CHAINS", hard_chains))
        );
    }

    /// Bytes that pass the checks of a key restored from a blob (canonical `y`, not of small
    /// order) but do not decode: `from` with its first byte changed.
    fn undecodable(from: &[u8; 32]) -> [u8; 32] {
        (0u8..=255)
            .map(|first| {
                let mut b = *from;
                b[0] = first;
                b
            })
            .find(|b| {
                crate::keys::y_is_canonical(b)
                    && !crate::keys::is_small_order_encoding(b)
                    && ed25519_dalek::VerifyingKey::from_bytes(b).is_err()
            })
            .unwrap()
    }

    /// `honest` plus the point of order 2: passes every check of §2.3 but the subgroup check.
    fn mixed_order(honest: &[u8; 32]) -> [u8; 32] {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let mut t = [0xffu8; 32];
        t[0] = 0xec;
        t[31] = 0x7f;
        let torsion = CompressedEdwardsY(t).decompress().unwrap();
        let point = CompressedEdwardsY(*honest).decompress().unwrap();
        (point + torsion).compress().to_bytes()
    }

    /// What a restore checks of the identity keys in a blob (SPEC.md §11.8): in version 2 the
    /// checks that need no curve arithmetic (a small-order or non-canonical key is corrupt);
    /// a key that passes them but does not decode restores and fails at first use, without a
    /// panic. Version 1 blobs keep every check of §2.3.
    #[test]
    fn identity_keys_in_a_blob_get_the_checks_of_their_version() {
        let mut rng = ChaCha20Rng::seed_from_u64(306);
        let (_, session) = bob_with_session(&mut rng);
        let key = StorageKey::from_bytes([5; 32]);
        let snapshot_with = |remote: [u8; 32]| {
            let mut snapshot = SessionSnapshotV1::from_live(&session);
            snapshot.remote_identity = remote;
            snapshot
        };
        let v2 = |remote: [u8; 32]| {
            let binding = crate::persist::BindingV2 {
                peer: Some(remote),
                ..crate::persist::BindingV2::new(&session_binding(&session), &BlobLabel::default())
            };
            let snapshot = SessionSnapshotV2::from(snapshot_with(remote));
            let plain = postcard::to_allocvec(&(binding, snapshot)).unwrap();
            let blob = crate::persist::seal_plaintext_for_tests(&plain, StateType::Session, &key);
            Session::from_encrypted(&blob, &key, 0, &Expected::any())
        };
        let v1 = |remote: [u8; 32]| {
            let blob =
                crate::persist::seal_v1_for_tests(&snapshot_with(remote), StateType::Session, &key);
            Session::from_encrypted(&blob, &key, 0, &Expected::any())
        };
        let honest = session.remote_identity().to_bytes();
        assert_eq!(v2(honest).unwrap(), session);
        assert_eq!(v1(honest).unwrap(), session);

        let mut order_two = [0xffu8; 32];
        order_two[0] = 0xec;
        order_two[31] = 0x7f;
        let mut not_canonical = [0xffu8; 32];
        not_canonical[0] = 0xef;
        not_canonical[31] = 0x7f;
        for bad in [order_two, not_canonical, [0; 32]] {
            assert_eq!(v2(bad).err(), Some(RestoreError::Corrupt));
            assert_eq!(v1(bad).err(), Some(RestoreError::Corrupt));
        }

        // Passes the checks of a version 2 blob, not the subgroup check: only the holder of
        // the storage key can put it there.
        let mixed = mixed_order(&honest);
        assert_eq!(v2(mixed).unwrap().remote_identity().to_bytes(), mixed);
        assert_eq!(v1(mixed).err(), Some(RestoreError::Corrupt));

        let odd = undecodable(&honest);
        let restored = v2(odd).unwrap();
        assert_eq!(restored.remote_identity().to_bytes(), odd);
        assert!(restored.remote_identity().dh_public().is_none());
        assert!(
            !restored
                .remote_identity()
                .verify_relay_challenge(b"c", &[0; 64])
        );
        assert_eq!(v1(odd).err(), Some(RestoreError::Corrupt));
    }

    /// The sending side's states and each role's fields map onto the same snapshot fields as
    /// before they were types (so blobs are unchanged), and the combinations no live session
    /// can be in restore as corrupt.
    #[test]
    fn sending_states_and_role_fields_round_trip_and_impossible_ones_are_corrupt() {
        let mut rng = ChaCha20Rng::seed_from_u64(309);
        let alice = Account::new(NOW, &mut rng);
        let mut bob = Account::new(NOW, &mut rng);
        let mut a = alice
            .create_outbound_session(&bob.published_prekeys().take_bundle(), &mut rng)
            .unwrap();
        let first = a.encrypt(b"1", &mut rng).unwrap();
        let mut b = bob.create_inbound_session(&first, NOW).unwrap().session;
        let a_start = a.clone();
        let restore = |s: &SessionSnapshotV1| s.to_live(KeyChecks::Stored);
        let fields = |s: &SessionSnapshotV1| {
            let r = &s.ratchet;
            (
                s.role,
                s.prekey_digest.is_some(),
                s.pending_prekey.is_some(),
                r.our_ratchet.is_some(),
                r.their_ratchet.is_some(),
                r.sending.as_ref().map(|c| (c.next, c.previous_len)),
            )
        };

        // Initiator in its prekey phase, sending active; responder owing its first step.
        let a_active = SessionSnapshotV1::from_live(&a);
        assert_eq!(
            fields(&a_active),
            (1, false, true, true, true, Some((1, 0)))
        );
        let b_due = SessionSnapshotV1::from_live(&b);
        assert_eq!(fields(&b_due), (2, true, false, false, true, None));
        // Initiator answered (no prekey fields), owing a step after a chain of 1.
        let reply = b.encrypt(b"2", &mut rng).unwrap();
        let _ = a.decrypt(&reply).unwrap();
        let a_due = SessionSnapshotV1::from_live(&a);
        assert_eq!(fields(&a_due), (1, false, false, false, true, Some((1, 0))));
        let b_active = SessionSnapshotV1::from_live(&b);
        assert_eq!(
            fields(&b_active),
            (2, true, false, true, true, Some((1, 0)))
        );
        for (snapshot, live) in [(&a_due, &a), (&b_active, &b)] {
            assert_eq!(&restore(snapshot).unwrap(), live);
        }
        assert!(restore(&a_active).is_ok() && restore(&b_due).is_ok());

        let corrupt = |edit: &dyn Fn(&mut SessionSnapshotV1)| {
            let mut s = SessionSnapshotV1::from_live(&b);
            edit(&mut s);
            restore(&s).err()
        };
        let cases: [&dyn Fn(&mut SessionSnapshotV1); 6] = [
            // No peer ratchet key: a responder before its first message, never stored.
            &|s| s.ratchet.their_ratchet = None,
            // A key pair without a chain to send on.
            &|s| s.ratchet.sending = None,
            // A responder without its digest, or with prekey fields to repeat.
            &|s| s.prekey_digest = None,
            &|s| s.pending_prekey = SessionSnapshotV1::from_live(&a_start).pending_prekey,
            // An initiator with a digest; an unknown role.
            &|s| s.role = 1,
            &|s| s.role = 3,
        ];
        for case in cases {
            assert_eq!(corrupt(case), Some(RestoreError::Corrupt));
        }
    }

    /// End to end: a validly sealed blob past a limit is refused by `from_encrypted`.
    #[test]
    fn a_sealed_blob_past_a_limit_is_refused_with_its_limit() {
        let mut rng = ChaCha20Rng::seed_from_u64(305);
        let (_, session) = bob_with_session(&mut rng);
        let key = StorageKey::from_bytes([3; 32]);
        let mut snapshot = SessionSnapshotV1::from_live(&session);
        snapshot.ratchet.receiving.as_mut().unwrap().stored =
            stored(HARD_MAX_SKIPPED_KEYS as usize + 1);
        let blob = seal_state(
            &SessionSnapshotV2::from(snapshot),
            StateType::Session,
            &session_binding(&session),
            &BlobLabel::default(),
            1,
            &key,
            &mut rng,
        );
        let err = Session::from_encrypted(&blob, &key, 0, &Expected::any()).unwrap_err();
        assert_eq!(
            err,
            limit("HARD_MAX_SKIPPED_KEYS", HARD_MAX_SKIPPED_KEYS as usize)
        );
        assert_eq!(err.kind(), crate::ErrorKind::LimitExceeded);
    }

    /// A version-2 pair after Alice's first message: Alice holds a key pair, Bob a pending
    /// key (SPEC.md §5.9.7).
    fn v2_pair(rng: &mut ChaCha20Rng) -> (Session, Session) {
        let alice = Account::new(NOW, rng);
        let mut bob = Account::new(NOW, rng);
        let mut a = alice
            .create_outbound_session_with_version(
                &bob.published_prekeys().take_bundle(),
                crate::SessionVersion::V2,
                rng,
            )
            .unwrap();
        let first = a.encrypt(b"1", rng).unwrap();
        let b = bob.create_inbound_session(&first, NOW).unwrap().session;
        (a, b)
    }

    /// The version-2 snapshot's schedule limits at and past their edges, and every invalid
    /// version-2 part `Corrupt` (SPEC.md §5.9.7, "State").
    #[test]
    fn v2_session_limits_and_parts_are_checked_on_restore() {
        use crate::ratchet::{AttachmentV1, HARD_MAX_KEM_INTERVAL, HARD_MAX_KEM_MESSAGE_BOUND};
        let mut rng = ChaCha20Rng::seed_from_u64(305);
        let (a, b) = v2_pair(&mut rng);
        assert!(
            SessionSnapshotV2::from_live(&a)
                .to_live(KeyChecks::Stored)
                .unwrap()
                == a
        );
        assert!(
            SessionSnapshotV2::from_live(&b)
                .to_live(KeyChecks::Stored)
                .unwrap()
                == b
        );
        let edit = |s: &Session, f: &dyn Fn(&mut SessionSnapshotV2)| {
            let mut snapshot = SessionSnapshotV2::from_live(s);
            f(&mut snapshot);
            snapshot.to_live(KeyChecks::Stored).err()
        };
        assert_eq!(edit(&a, &|s| s.kem_interval = HARD_MAX_KEM_INTERVAL), None);
        assert_eq!(
            edit(&a, &|s| s.kem_interval = HARD_MAX_KEM_INTERVAL + 1),
            Some(limit(
                "HARD_MAX_KEM_INTERVAL",
                HARD_MAX_KEM_INTERVAL as usize
            ))
        );
        assert_eq!(
            edit(&a, &|s| s.kem_message_bound = HARD_MAX_KEM_MESSAGE_BOUND),
            None
        );
        assert_eq!(
            edit(&a, &|s| s.kem_message_bound =
                HARD_MAX_KEM_MESSAGE_BOUND + 1),
            Some(limit(
                "HARD_MAX_KEM_MESSAGE_BOUND",
                HARD_MAX_KEM_MESSAGE_BOUND as usize
            ))
        );
        assert_eq!(
            edit(&a, &|s| s.kem_message_bound = u32::MAX),
            Some(limit(
                "HARD_MAX_KEM_MESSAGE_BOUND",
                HARD_MAX_KEM_MESSAGE_BOUND as usize
            ))
        );
        for zero in [
            &(|s: &mut SessionSnapshotV2| s.kem_interval = 0) as &dyn Fn(&mut SessionSnapshotV2),
            &|s| s.kem_message_bound = 0,
        ] {
            assert_eq!(edit(&a, zero), Some(RestoreError::Corrupt));
        }
        let corrupt = Some(RestoreError::Corrupt);
        // Wrong lengths.
        assert_eq!(
            edit(&a, &|s| {
                if let Some(pq) = s.pq.as_mut() {
                    pq.attachment = AttachmentV1::Key(zeroize::Zeroizing::new(vec![1; 63]));
                }
            }),
            corrupt
        );
        assert_eq!(
            edit(&b, &|s| {
                if let Some(pq) = s.pq.as_mut() {
                    pq.their_key = Some(vec![1; 1183]);
                }
            }),
            corrupt
        );
        // Parts of the wrong role or state.
        assert_eq!(
            edit(&a, &|s| {
                if let Some(pq) = s.pq.as_mut() {
                    pq.attachment = AttachmentV1::Ciphertext(vec![0; 1088]);
                }
            }),
            corrupt
        );
        assert_eq!(
            edit(&a, &|s| {
                if let Some(pq) = s.pq.as_mut() {
                    pq.their_key = Some(vec![0; 1184]);
                }
            }),
            corrupt
        );
        assert_eq!(
            edit(&b, &|s| {
                if let Some(pq) = s.pq.as_mut() {
                    pq.attachment = AttachmentV1::Ciphertext(vec![0; 1088]);
                }
            }),
            corrupt,
            "an attachment while a step is due"
        );
        // A version-1 snapshot of a version-2 session would be a different session: the
        // version-2 part is what makes it version 2.
        assert_eq!(
            SessionSnapshotV1::from_live(&a)
                .to_live(KeyChecks::Stored)
                .unwrap()
                .version(),
            crate::SessionVersion::V1
        );
    }
}
