//! What a state blob holds, bound into it, and what the app expects on restore (SPEC.md §11.7).
//!
//! With one storage key for everything, any authentic blob of the right type would restore in
//! any slot: Carol's session where the app keeps Bob's. A version 2 blob therefore carries a
//! *binding*, authenticated with the state: the natural ids of the object (own identity; the
//! peer and session id of a session; the group id of a group session) and a label the app may
//! give the slot. On restore the app says what it expects ([`Expected`]), and a blob of another
//! object is refused with [`RestoreError::WrongObject`] before any state is returned.

use core::fmt;

use serde::{Deserialize, Serialize};

use super::RestoreError;
use crate::error::ConfigError;
use crate::ids::SessionId;
use crate::keys::IdentityKey;

/// Most bytes of a [`BlobLabel`].
pub const MAX_BLOB_LABEL_LEN: usize = 255;

/// The app's name for the slot a blob is stored in (for example `b"session/bob/phone"`), bound
/// into the blob by `to_encrypted_labeled` and checked on restore through
/// [`Expected::with_label`]. Not secret, but not shown by `Debug` (it may name a user).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct BlobLabel(Vec<u8>);

impl BlobLabel {
    /// A label of at most [`MAX_BLOB_LABEL_LEN`] bytes.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] (name `"blob label length"`) for a longer one.
    pub fn new(bytes: &[u8]) -> Result<Self, ConfigError> {
        if bytes.len() > MAX_BLOB_LABEL_LEN {
            return Err(ConfigError::OutOfRange {
                name: "blob label length",
                value: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
                min: 0,
                max: MAX_BLOB_LABEL_LEN as u64,
            });
        }
        Ok(BlobLabel(bytes.to_vec()))
    }

    /// The label's bytes (empty for an unlabeled blob).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for BlobLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobLabel")
            .field("len", &self.0.len())
            .finish()
    }
}

/// The natural ids of the object a blob holds (SPEC.md §11.7): own identity always; the peer
/// and session id for a session; the group id for a group session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Binding {
    pub(crate) identity: [u8; 32],
    pub(crate) peer: Option<[u8; 32]>,
    pub(crate) session_id: Option<[u8; 32]>,
    pub(crate) group_id: Option<[u8; 32]>,
}

impl Binding {
    /// An account: its identity key.
    pub(crate) fn account(identity: &IdentityKey) -> Self {
        Binding {
            identity: identity.to_bytes(),
            peer: None,
            session_id: None,
            group_id: None,
        }
    }

    /// A session: our identity, the peer's, and the session id.
    pub(crate) fn session(local: &IdentityKey, remote: &IdentityKey, id: &SessionId) -> Self {
        Binding {
            identity: local.to_bytes(),
            peer: Some(remote.to_bytes()),
            session_id: Some(*id.as_bytes()),
            group_id: None,
        }
    }

    /// One peer's record of a device (SPEC.md §11.9): our identity and the peer's.
    pub(crate) fn peer_record(local: &IdentityKey, peer: &IdentityKey) -> Self {
        Binding {
            identity: local.to_bytes(),
            peer: Some(peer.to_bytes()),
            session_id: None,
            group_id: None,
        }
    }

    /// A group session: our identity and the group id.
    pub(crate) fn group(own: &IdentityKey, group_id: &[u8; 32]) -> Self {
        Binding {
            identity: own.to_bytes(),
            peer: None,
            session_id: None,
            group_id: Some(*group_id),
        }
    }
}

/// The binding as stored at the start of a version 2 plaintext (SPEC.md §11.7).
#[derive(Serialize, Deserialize)]
pub(crate) struct BindingV2 {
    pub(crate) label: Vec<u8>,
    pub(crate) identity: [u8; 32],
    pub(crate) peer: Option<[u8; 32]>,
    pub(crate) session_id: Option<[u8; 32]>,
    pub(crate) group_id: Option<[u8; 32]>,
}

impl BindingV2 {
    pub(crate) fn new(binding: &Binding, label: &BlobLabel) -> Self {
        BindingV2 {
            label: label.0.clone(),
            identity: binding.identity,
            peer: binding.peer,
            session_id: binding.session_id,
            group_id: binding.group_id,
        }
    }

    /// # Errors
    /// [`RestoreError::LimitExceeded`] for a label past [`MAX_BLOB_LABEL_LEN`].
    pub(crate) fn to_live(&self) -> Result<(Binding, BlobLabel), RestoreError> {
        crate::persist::within_limit("MAX_BLOB_LABEL_LEN", self.label.len(), MAX_BLOB_LABEL_LEN)?;
        Ok((
            Binding {
                identity: self.identity,
                peer: self.peer,
                session_id: self.session_id,
                group_id: self.group_id,
            },
            BlobLabel(self.label.clone()),
        ))
    }
}

/// What the app expects a blob to hold, checked on restore before any state is returned
/// (SPEC.md §11.7). Every part left out matches anything; the label, left out, must be
/// empty (unlabeled blobs, and every version 1 blob).
///
/// ```
/// # use hushwire::persist::{BlobLabel, Expected};
/// # fn demo(bob: &hushwire::IdentityKey) -> Result<(), hushwire::ConfigError> {
/// // The common case: the session kept for Bob.
/// let for_bob = Expected::peer(bob);
/// // An app that names its slots.
/// let slot = BlobLabel::new(b"sessions/bob")?;
/// let for_bob_in_slot = Expected::peer(bob).with_label(&slot);
/// # let _ = (for_bob, for_bob_in_slot);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    label: BlobLabel,
    identity: Option<IdentityKey>,
    peer: Option<IdentityKey>,
    session_id: Option<SessionId>,
    group_id: Option<[u8; 32]>,
}

impl Expected {
    /// Any object of the blob's type, unlabeled.
    pub fn any() -> Self {
        Expected::default()
    }

    /// A session with `peer` (its remote identity key), unlabeled.
    pub fn peer(peer: &IdentityKey) -> Self {
        Expected::any().with_peer(peer)
    }

    /// State of the device with this identity key (an account, or a session or group
    /// session held by it), unlabeled.
    pub fn identity(identity: &IdentityKey) -> Self {
        Expected::any().with_identity(identity)
    }

    /// The group session of the group with these id bytes
    /// ([`crate::group::GroupId::as_bytes`]), unlabeled.
    pub fn group(group_id: &[u8; 32]) -> Self {
        Expected::any().with_group_id(group_id)
    }

    /// Also expects the blob to carry `label` (given at export with `to_encrypted_labeled`).
    #[must_use]
    pub fn with_label(mut self, label: &BlobLabel) -> Self {
        self.label = label.clone();
        self
    }

    /// Also expects this own identity key.
    #[must_use]
    pub fn with_identity(mut self, identity: &IdentityKey) -> Self {
        self.identity = Some(*identity);
        self
    }

    /// Also expects a session with this peer.
    #[must_use]
    pub fn with_peer(mut self, peer: &IdentityKey) -> Self {
        self.peer = Some(*peer);
        self
    }

    /// Also expects this session id.
    #[must_use]
    pub fn with_session_id(mut self, session_id: &SessionId) -> Self {
        self.session_id = Some(*session_id);
        self
    }

    /// Also expects the group with these id bytes.
    #[must_use]
    pub fn with_group_id(mut self, group_id: &[u8; 32]) -> Self {
        self.group_id = Some(*group_id);
        self
    }

    /// Compares with what a blob holds, in the order label, identity, peer, session id,
    /// group id (SPEC.md §11.7).
    ///
    /// # Errors
    /// [`RestoreError::WrongObject`] naming the first part that differs; a part the object
    /// does not have (a peer for an account) differs.
    pub(crate) fn check(&self, binding: &Binding, label: &BlobLabel) -> Result<(), RestoreError> {
        let wrong = |field| Err(RestoreError::WrongObject { field });
        if self.label != *label {
            return wrong("label");
        }
        if self
            .identity
            .is_some_and(|k| k.to_bytes() != binding.identity)
        {
            return wrong("identity");
        }
        if self
            .peer
            .is_some_and(|k| Some(k.to_bytes()) != binding.peer)
        {
            return wrong("peer");
        }
        if self
            .session_id
            .is_some_and(|s| Some(*s.as_bytes()) != binding.session_id)
        {
            return wrong("session_id");
        }
        if self.group_id.is_some_and(|g| Some(g) != binding.group_id) {
            return wrong("group_id");
        }
        Ok(())
    }
}
