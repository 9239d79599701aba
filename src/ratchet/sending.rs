//! Our sending side (SPEC.md §5.4, §5.6) as the two states it can be in once a session
//! exists. The third state of the specification, the responder before its first message
//! (no peer ratchet key, nothing to send to), is its own type,
//! [`ResponderStart`](super::ResponderStart), so a session can never be in it.
//!
//! Secrets wipe themselves on drop: the key pair's `StaticSecret` and the chain's keys.

use crate::keys::KEM_PUBLIC_KEY_LEN;
use crate::keys::secret::{ChainKey, HeaderKey};

use super::RatchetKeyPair;
use super::pq::Attachment;

/// One of our sending chains.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct SendChain {
    pub(super) header_key: HeaderKey,
    pub(super) chain_key: ChainKey,
    pub(super) next: u32,
    /// Length of our previous sending chain (PN in the header).
    pub(super) previous_len: u32,
}

/// The sending side of a session's ratchet.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Sending {
    /// We send on `chain`, derived from `ours` and the peer's ratchet key `theirs` (DHs,
    /// DHr and `send` all present).
    Active {
        ours: RatchetKeyPair,
        theirs: [u8; 32],
        chain: SendChain,
        /// What every message of `chain` carries in a version-2 session (SPEC.md §5.9).
        kem: Attachment,
    },
    /// The peer moved to the ratchet key `theirs`; our next encrypt makes a fresh key pair
    /// and a new chain (DHs absent, §5.6 step 2). `last` is the chain we sent on before, if
    /// any: its length is the new chain's PN. It is kept whole because state blobs store it
    /// (SPEC.md §11.3).
    StepDue {
        theirs: [u8; 32],
        last: Option<SendChain>,
        /// Version 2, responder: the ML-KEM key of the peer's chain, to be answered by the
        /// next sending step (SPEC.md §5.9.4).
        their_key: Option<Box<[u8; KEM_PUBLIC_KEY_LEN]>>,
    },
}

impl Sending {
    /// The peer's current ratchet key (DHr).
    pub(super) fn theirs(&self) -> &[u8; 32] {
        match self {
            Sending::Active { theirs, .. } | Sending::StepDue { theirs, .. } => theirs,
        }
    }

    /// Our current ratchet key pair (DHs), absent while a sending step is due.
    pub(super) fn ours(&self) -> Option<&RatchetKeyPair> {
        match self {
            Sending::Active { ours, .. } => Some(ours),
            Sending::StepDue { .. } => None,
        }
    }

    /// The chain we send on, or last sent on while a step is due.
    pub(super) fn chain(&self) -> Option<&SendChain> {
        match self {
            Sending::Active { chain, .. } => Some(chain),
            Sending::StepDue { last, .. } => last.as_ref(),
        }
    }

    /// The peer's new ratchet key arrived (§5.7 N.9.3): our key pair is dropped and a
    /// sending step becomes due. The old state is dropped where it lies, so its secrets are
    /// wiped in place (moving them out would leave their bytes behind in the variant's
    /// storage).
    pub(super) fn owe_step(
        &mut self,
        theirs: [u8; 32],
        their_key: Option<Box<[u8; KEM_PUBLIC_KEY_LEN]>>,
    ) {
        let last = self.chain().cloned();
        *self = Sending::StepDue {
            theirs,
            last,
            their_key,
        };
    }
}
