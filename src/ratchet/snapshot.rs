//! Snapshots of the ratchet and its configuration (SPEC.md §5, §11.3): plain serde structs
//! mirroring the live state, part of the session and account snapshots. Live types never
//! derive serde; secret fields are `Zeroizing`.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use x25519_dalek::StaticSecret;

use super::pq::{Attachment, PqSchedule};
use super::receiving::{CurrentChain, PastChain, StoredKeys};
use super::{RatchetConfig, RatchetKeyPair, RatchetState, SendChain, Sending};
use crate::kdf::SenderRole;
use crate::keys::secret::{ChainKey, HeaderKey, MessageKey, RootKey, SessionTagKey};
use crate::keys::{KEM_CIPHERTEXT_LEN, KEM_PUBLIC_KEY_LEN, KemKeyPair};
use crate::persist::{RestoreError, Secret32, secret, within_limit};
use zeroize::Zeroizing;

/// Version 1 of a persisted [`RatchetConfig`] (in session and account snapshots).
#[derive(Serialize, Deserialize)]
pub(crate) struct ConfigV1 {
    max_jump: u32,
    max_skipped_keys: u32,
    max_receiving_chains: u32,
    skipped_key_max_age: u32,
}

impl ConfigV1 {
    pub(crate) fn from_live(c: &RatchetConfig) -> Self {
        ConfigV1 {
            max_jump: c.max_jump(),
            max_skipped_keys: c.max_skipped_keys(),
            max_receiving_chains: c.max_receiving_chains(),
            skipped_key_max_age: c.skipped_key_max_age(),
        }
    }

    /// A value above its `HARD_MAX_*` ceiling was never written (SPEC.md §11.3). Should a
    /// later version lower a ceiling, it clamps older blobs' values in its migration instead
    /// (§11.4).
    pub(crate) fn check_limits(&self) -> Result<(), RestoreError> {
        use super::{
            HARD_MAX_JUMP, HARD_MAX_RECEIVING_CHAINS, HARD_MAX_SKIPPED_KEY_MAX_AGE,
            HARD_MAX_SKIPPED_KEYS,
        };
        for (limit, value, max) in [
            ("HARD_MAX_JUMP", self.max_jump, HARD_MAX_JUMP),
            (
                "HARD_MAX_SKIPPED_KEYS",
                self.max_skipped_keys,
                HARD_MAX_SKIPPED_KEYS,
            ),
            (
                "HARD_MAX_RECEIVING_CHAINS",
                self.max_receiving_chains,
                HARD_MAX_RECEIVING_CHAINS,
            ),
            (
                "HARD_MAX_SKIPPED_KEY_MAX_AGE",
                self.skipped_key_max_age,
                HARD_MAX_SKIPPED_KEY_MAX_AGE,
            ),
        ] {
            if value > max {
                return Err(RestoreError::LimitExceeded {
                    limit,
                    max: u64::from(max),
                });
            }
        }
        Ok(())
    }

    /// Zero is never valid (limits are checked before, [`ConfigV1::check_limits`]).
    pub(crate) fn to_live(&self) -> Result<RatchetConfig, RestoreError> {
        self.check_limits()?;
        RatchetConfig::new(
            self.max_jump,
            self.max_skipped_keys,
            self.max_receiving_chains,
            self.skipped_key_max_age,
        )
        .map_err(|_| RestoreError::Corrupt)
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct StoredKeysV1 {
    pub(crate) keys: Vec<(u32, Secret32)>,
    pub(crate) expired_below: u32,
}

impl StoredKeysV1 {
    fn from_live(s: &StoredKeys) -> Self {
        StoredKeysV1 {
            keys: s
                .keys
                .iter()
                .map(|(n, k)| (*n, secret(k.as_bytes())))
                .collect(),
            expired_below: s.expired_below,
        }
    }

    fn to_live(&self) -> Result<StoredKeys, RestoreError> {
        let mut keys = VecDeque::with_capacity(self.keys.len());
        let mut last: Option<u32> = None;
        for (n, k) in &self.keys {
            if last.is_some_and(|l| l >= *n) {
                return Err(RestoreError::Corrupt);
            }
            last = Some(*n);
            keys.push_back((*n, MessageKey::from_bytes(**k)));
        }
        Ok(StoredKeys {
            keys,
            expired_below: self.expired_below,
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct SendChainV1 {
    header_key: Secret32,
    chain_key: Secret32,
    pub(crate) next: u32,
    pub(crate) previous_len: u32,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CurrentChainV1 {
    header_key: Secret32,
    ratchet_key: [u8; 32],
    chain_key: Secret32,
    next: u32,
    pub(crate) stored: StoredKeysV1,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct PastChainV1 {
    pub(crate) header_key: Secret32,
    pub(crate) ratchet_key: [u8; 32],
    pub(crate) end: u32,
    pub(crate) step: u64,
    pub(crate) stored: StoredKeysV1,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct RatchetV1 {
    root: Secret32,
    pub(crate) our_ratchet: Option<Secret32>,
    pub(crate) their_ratchet: Option<[u8; 32]>,
    pub(crate) sending: Option<SendChainV1>,
    next_send_header: Secret32,
    pub(crate) receiving: Option<CurrentChainV1>,
    next_receive_header: Secret32,
    pub(crate) past: Vec<PastChainV1>,
    receive_steps: u64,
    send_steps: u32,
    tag_key: Secret32,
    /// 1 = initiator, 2 = responder (the role this state tags its messages with).
    role: u8,
    config: ConfigV1,
}

impl RatchetV1 {
    pub(crate) fn from_live(r: &RatchetState) -> Self {
        RatchetV1 {
            root: secret(r.root.as_bytes()),
            our_ratchet: r.sending.ours().map(|k| secret(k.secret.as_bytes())),
            their_ratchet: Some(*r.sending.theirs()),
            sending: r.sending.chain().map(|s| SendChainV1 {
                header_key: secret(s.header_key.as_bytes()),
                chain_key: secret(s.chain_key.as_bytes()),
                next: s.next,
                previous_len: s.previous_len,
            }),
            next_send_header: secret(r.next_send_header.as_bytes()),
            receiving: r.receiving.as_ref().map(|c| CurrentChainV1 {
                header_key: secret(c.header_key.as_bytes()),
                ratchet_key: c.ratchet_key,
                chain_key: secret(c.chain_key.as_bytes()),
                next: c.next,
                stored: StoredKeysV1::from_live(&c.stored),
            }),
            next_receive_header: secret(r.next_receive_header.as_bytes()),
            past: r
                .past
                .iter()
                .map(|p| PastChainV1 {
                    header_key: secret(p.header_key.as_bytes()),
                    ratchet_key: p.ratchet_key,
                    end: p.end,
                    step: p.step,
                    stored: StoredKeysV1::from_live(&p.stored),
                })
                .collect(),
            receive_steps: r.receive_steps,
            send_steps: r.send_steps,
            tag_key: secret(r.tag_key.as_bytes()),
            role: match r.role {
                SenderRole::Initiator => 1,
                SenderRole::Responder => 2,
            },
            config: ConfigV1::from_live(&r.config),
        }
    }

    /// The version-1 configuration, its limits checked.
    pub(crate) fn config_to_live(&self) -> Result<RatchetConfig, RestoreError> {
        self.config.to_live()
    }

    /// The hard caps of the ratchet (SPEC.md §5.5): a session never holds more past chains
    /// or stored keys, whatever its configuration (a lowered configured cap may leave more
    /// than the configured number until the next decrypt, never more than the hard cap).
    pub(crate) fn check_limits(&self) -> Result<(), RestoreError> {
        use super::{HARD_MAX_RECEIVING_CHAINS, HARD_MAX_SKIPPED_KEYS};
        self.config.check_limits()?;
        let as_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        within_limit(
            "HARD_MAX_RECEIVING_CHAINS",
            self.past.len(),
            as_usize(HARD_MAX_RECEIVING_CHAINS),
        )?;
        let stored = self
            .past
            .iter()
            .map(|p| p.stored.keys.len())
            .chain(self.receiving.iter().map(|c| c.stored.keys.len()))
            .fold(0usize, usize::saturating_add);
        within_limit(
            "HARD_MAX_SKIPPED_KEYS",
            stored,
            as_usize(HARD_MAX_SKIPPED_KEYS),
        )
    }

    /// The live version-1 state.
    pub(crate) fn to_live(&self) -> Result<RatchetState, RestoreError> {
        self.to_live_with(self.config.to_live()?, None)
    }

    /// The live state of either version: `pq` is the version-2 part (SPEC.md §5.9.7), and
    /// `config` the configuration with its ML-KEM schedule.
    pub(crate) fn to_live_with(
        &self,
        config: RatchetConfig,
        pq: Option<&PqRatchetV1>,
    ) -> Result<RatchetState, RestoreError> {
        self.check_limits()?;
        let mut past = VecDeque::with_capacity(self.past.len());
        for p in &self.past {
            past.push_back(PastChain {
                header_key: HeaderKey::from_bytes(*p.header_key),
                ratchet_key: p.ratchet_key,
                end: p.end,
                step: p.step,
                stored: p.stored.to_live()?,
            });
        }
        let chain = self.sending.as_ref().map(|s| SendChain {
            header_key: HeaderKey::from_bytes(*s.header_key),
            chain_key: ChainKey::from_bytes(*s.chain_key),
            next: s.next,
            previous_len: s.previous_len,
        });
        // The sending side's states (SPEC.md §5.4): a responder before its first message is
        // never stored, and no state holds a key pair without a chain to send on.
        let role = match self.role {
            1 => SenderRole::Initiator,
            2 => SenderRole::Responder,
            _ => return Err(RestoreError::Corrupt),
        };
        let (kem, their_key, schedule) = match pq {
            None => (Attachment::None, None, None),
            Some(pq) => {
                let (kem, their_key) = pq.parts(role)?;
                let schedule = PqSchedule {
                    chains_without_key: pq.chains_without_key,
                    messages_since_key: pq.messages_since_key,
                };
                (kem, their_key, Some(schedule))
            }
        };
        let sending = match (&self.our_ratchet, self.their_ratchet, chain) {
            (Some(ours), Some(theirs), Some(chain)) if their_key.is_none() => Sending::Active {
                ours: RatchetKeyPair::from_stored_secret(StaticSecret::from(**ours)),
                theirs,
                chain,
                kem,
            },
            // A pending peer key exists only while a step is due; an attachment only with
            // the chain that carries it.
            (None, Some(theirs), last) if matches!(kem, Attachment::None) => Sending::StepDue {
                theirs,
                last,
                their_key,
            },
            _ => return Err(RestoreError::Corrupt),
        };
        Ok(RatchetState {
            root: RootKey::from_bytes(*self.root),
            sending,
            next_send_header: HeaderKey::from_bytes(*self.next_send_header),
            receiving: match &self.receiving {
                Some(c) => Some(CurrentChain {
                    header_key: HeaderKey::from_bytes(*c.header_key),
                    ratchet_key: c.ratchet_key,
                    chain_key: ChainKey::from_bytes(*c.chain_key),
                    next: c.next,
                    stored: c.stored.to_live()?,
                }),
                None => None,
            },
            next_receive_header: HeaderKey::from_bytes(*self.next_receive_header),
            past,
            receive_steps: self.receive_steps,
            send_steps: self.send_steps,
            tag_key: SessionTagKey::from_bytes(*self.tag_key),
            role,
            config,
            pq: schedule,
        })
    }
}

/// The ML-KEM schedule of a persisted configuration (session snapshot version 2, SPEC.md
/// §5.9.7 and §11.3): `kem_interval` and `kem_message_bound`.
pub(crate) fn pq_config_to_live(
    base: RatchetConfig,
    kem_interval: u32,
    kem_message_bound: u32,
) -> Result<RatchetConfig, RestoreError> {
    use super::{HARD_MAX_KEM_INTERVAL, HARD_MAX_KEM_MESSAGE_BOUND};
    within_limit(
        "HARD_MAX_KEM_INTERVAL",
        usize::try_from(kem_interval).unwrap_or(usize::MAX),
        HARD_MAX_KEM_INTERVAL as usize,
    )?;
    within_limit(
        "HARD_MAX_KEM_MESSAGE_BOUND",
        usize::try_from(kem_message_bound).unwrap_or(usize::MAX),
        HARD_MAX_KEM_MESSAGE_BOUND as usize,
    )?;
    base.with_pq_schedule(kem_interval, kem_message_bound)
        .map_err(|_| RestoreError::Corrupt)
}

/// What the current sending chain of a version-2 state carries (SPEC.md §5.9.7).
#[derive(Serialize, Deserialize)]
pub(crate) enum AttachmentV1 {
    /// Nothing (also while a sending step is due).
    None,
    /// The initiator's ML-KEM-768 key pair, as its 64-byte seed.
    Key(Zeroizing<Vec<u8>>),
    /// The responder's 1088-byte ciphertext.
    Ciphertext(Vec<u8>),
}

/// The version-2 part of a persisted ratchet (SPEC.md §5.9.7, §11.3).
#[derive(Serialize, Deserialize)]
pub(crate) struct PqRatchetV1 {
    pub(crate) chains_without_key: u32,
    pub(crate) messages_since_key: u32,
    pub(crate) attachment: AttachmentV1,
    /// The responder's pending peer key (1184 bytes), while a sending step is due.
    pub(crate) their_key: Option<Vec<u8>>,
}

type LiveParts = (Attachment, Option<Box<[u8; KEM_PUBLIC_KEY_LEN]>>);

impl PqRatchetV1 {
    /// The version-2 part of `r`, `None` for a version-1 state.
    pub(crate) fn from_live(r: &RatchetState) -> Option<Self> {
        let schedule = r.pq?;
        let (attachment, their_key) = match &r.sending {
            Sending::Active { kem, .. } => (
                match kem {
                    Attachment::None => AttachmentV1::None,
                    Attachment::Key(pair) => {
                        AttachmentV1::Key(Zeroizing::new(pair.seed().to_vec()))
                    }
                    Attachment::Ciphertext(ct) => AttachmentV1::Ciphertext(ct.to_vec()),
                },
                None,
            ),
            Sending::StepDue { their_key, .. } => {
                (AttachmentV1::None, their_key.as_ref().map(|k| k.to_vec()))
            }
        };
        Some(PqRatchetV1 {
            chains_without_key: schedule.chains_without_key,
            messages_since_key: schedule.messages_since_key,
            attachment,
            their_key,
        })
    }

    /// The live attachment and pending key, checked against the role: keys come from the
    /// initiator, ciphertexts and pending keys belong to the responder (SPEC.md §5.9.1);
    /// every length is exact. Anything else is `Corrupt`.
    fn parts(&self, role: SenderRole) -> Result<LiveParts, RestoreError> {
        let attachment = match (&self.attachment, role) {
            (AttachmentV1::None, _) => Attachment::None,
            (AttachmentV1::Key(seed), SenderRole::Initiator) => {
                let seed: Zeroizing<[u8; 64]> = Zeroizing::new(
                    seed.as_slice()
                        .try_into()
                        .map_err(|_| RestoreError::Corrupt)?,
                );
                Attachment::Key(Box::new(KemKeyPair::from_seed(&seed)))
            }
            (AttachmentV1::Ciphertext(ct), SenderRole::Responder) => {
                let ct: [u8; KEM_CIPHERTEXT_LEN] = ct
                    .as_slice()
                    .try_into()
                    .map_err(|_| RestoreError::Corrupt)?;
                Attachment::Ciphertext(Box::new(ct))
            }
            _ => return Err(RestoreError::Corrupt),
        };
        let their_key = match (&self.their_key, role) {
            (None, _) => None,
            (Some(key), SenderRole::Responder) => {
                let key: [u8; KEM_PUBLIC_KEY_LEN] = key
                    .as_slice()
                    .try_into()
                    .map_err(|_| RestoreError::Corrupt)?;
                Some(Box::new(key))
            }
            (Some(_), SenderRole::Initiator) => return Err(RestoreError::Corrupt),
        };
        Ok((attachment, their_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratchet::{
        HARD_MAX_JUMP, HARD_MAX_RECEIVING_CHAINS, HARD_MAX_SKIPPED_KEY_MAX_AGE,
        HARD_MAX_SKIPPED_KEYS,
    };

    fn limit(limit: &'static str, max: usize) -> RestoreError {
        RestoreError::LimitExceeded {
            limit,
            max: max as u64,
        }
    }

    #[test]
    fn configurations_at_and_past_their_ceilings() {
        let ceilings = [
            HARD_MAX_JUMP,
            HARD_MAX_SKIPPED_KEYS,
            HARD_MAX_RECEIVING_CHAINS,
            HARD_MAX_SKIPPED_KEY_MAX_AGE,
        ];
        let config = |v: [u32; 4]| ConfigV1 {
            max_jump: v[0],
            max_skipped_keys: v[1],
            max_receiving_chains: v[2],
            skipped_key_max_age: v[3],
        };
        assert!(config(ceilings).to_live().is_ok());
        let names = [
            "HARD_MAX_JUMP",
            "HARD_MAX_SKIPPED_KEYS",
            "HARD_MAX_RECEIVING_CHAINS",
            "HARD_MAX_SKIPPED_KEY_MAX_AGE",
        ];
        for i in 0..4 {
            let mut past = ceilings;
            past[i] += 1;
            assert_eq!(
                config(past).to_live().err(),
                Some(limit(names[i], ceilings[i] as usize))
            );
            let mut zero = ceilings;
            zero[i] = 0;
            assert_eq!(config(zero).to_live().err(), Some(RestoreError::Corrupt));
        }
    }
}
