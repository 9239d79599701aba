//! A support conversation (SPEC.md §20.3): a group (SPEC.md §14) whose membership is the
//! dispatcher-signed assignment roster. Only the visitor and the operator devices in the
//! roster hold sender keys; a removal (reassignment, removal, close) rotates every remaining
//! member's sender key, so a removed operator reads nothing sent after it.

use core::fmt;

use rand_core::CryptoRng;

use super::link::LinkStatement;
use super::operator::{VerifiedOperator, verify_operator_certificate};
use super::roster::{
    AssignmentOp, AssignmentRole, AssignmentRoster, decode_change, decode_welcome,
    verify_dispatcher_signature,
};
use super::{MAX_LINK_CLOCK_SKEW_SECS, MAX_LINK_STATEMENT_AGE_SECS, SupportError, VisitorIdentity};
use crate::account::Account;
use crate::group::{AuthenticatedSender, GroupEvent, GroupId, GroupSession, Outgoing};
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::labels::{LABEL_SIG_SUPPORT_CHANGE, LABEL_SIG_SUPPORT_ROSTER};
use crate::session::Session;
use crate::time::Timestamp;
use crate::verify::{OrganizationRoots, VerifyError};

/// How the operators' side sees the visitor.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // Few exist (one per conversation); boxing buys nothing.
#[non_exhaustive]
pub enum VisitorStatus {
    /// An anonymous visitor: never shown as a known person.
    Unverified,
    /// The visitor linked the ephemeral key to an account with a valid link statement.
    Verified {
        /// The user id the statement names.
        user_id: String,
        /// The account's identity key.
        account_key: IdentityKey,
    },
}

impl fmt::Display for VisitorStatus {
    /// `unverified visitor`, or `visitor verified as <user>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VisitorStatus::Unverified => f.write_str("unverified visitor"),
            VisitorStatus::Verified { user_id, .. } => {
                write!(f, "visitor verified as {user_id}")
            }
        }
    }
}

/// One device that can read the conversation now, as the widget lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConversationReader {
    /// The visitor.
    Visitor {
        /// The visitor's key.
        identity_key: IdentityKey,
        /// How operators see the visitor.
        status: VisitorStatus,
    },
    /// An operator device whose certificate verifies now.
    Operator {
        /// Its verified identity (`Acme Bank · Dana Smith · Card support`).
        operator: VerifiedOperator,
        /// Its role in the conversation.
        role: AssignmentRole,
    },
    /// An operator device in the roster whose certificate no longer verifies (expired or
    /// revoked since it was assigned): it still holds the keys; show it as a warning.
    NoLongerCertified {
        /// The device key.
        identity_key: IdentityKey,
        /// Its role in the conversation.
        role: AssignmentRole,
        /// Why its certificate does not verify now.
        reason: VerifyError,
    },
}

impl fmt::Display for ConversationReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConversationReader::Visitor { status, .. } => write!(f, "{status}"),
            ConversationReader::Operator { operator, role } => write!(f, "{operator} ({role})"),
            ConversationReader::NoLongerCertified { role, reason, .. } => {
                write!(f, "operator no longer certified ({role}): {reason}")
            }
        }
    }
}

/// Something about a support conversation to show or act on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupportEvent {
    /// An operator device was added (assigned, taking over, or as supervisor).
    OperatorAdded {
        /// Who, verified.
        operator: VerifiedOperator,
        /// Its role.
        role: AssignmentRole,
        /// The roster version the change created.
        version: u64,
    },
    /// An operator device was removed (reassigned away, removed or closed): it reads nothing
    /// sent after this.
    OperatorRemoved {
        /// The device key.
        identity_key: IdentityKey,
        /// The roster version the change created.
        version: u64,
    },
    /// The conversation was closed.
    Closed {
        /// The roster version the change created.
        version: u64,
    },
    /// We were removed from the conversation: every key of it was erased.
    RemovedFromConversation {
        /// The roster version the change created.
        version: u64,
    },
    /// Our sender key was rotated; its distribution message is in the update.
    SenderKeyRotated {
        /// The new sender-key id.
        key_id: u32,
    },
    /// The visitor proved control of an account: show "visitor verified as <user>".
    VisitorVerified {
        /// The user id.
        user_id: String,
        /// The account key.
        account_key: IdentityKey,
    },
}

impl SupportEvent {
    /// A stable, language-neutral name of this event, `"support_event.<variant>"`
    /// (SPEC.md §8.4).
    pub fn code(&self) -> &'static str {
        match self {
            SupportEvent::OperatorAdded { .. } => "support_event.operator_added",
            SupportEvent::OperatorRemoved { .. } => "support_event.operator_removed",
            SupportEvent::Closed { .. } => "support_event.closed",
            SupportEvent::RemovedFromConversation { .. } => {
                "support_event.removed_from_conversation"
            }
            SupportEvent::SenderKeyRotated { .. } => "support_event.sender_key_rotated",
            SupportEvent::VisitorVerified { .. } => "support_event.visitor_verified",
        }
    }
}

/// What applying a roster change asks the app to do, and what happened.
#[derive(Clone, PartialEq, Eq, Default)]
#[must_use]
#[non_exhaustive]
pub struct SupportUpdate {
    /// Our sender key: the current one for a newly added operator, or a fresh one (after a
    /// removal) for every remaining reader. Send it over each recipient's 1:1 session.
    pub distribution: Option<Outgoing>,
    /// Operator devices added by the change, verified: the visitor opens a 1:1 session to
    /// each ([`VisitorIdentity::connect_operator`]).
    pub added: Vec<VerifiedOperator>,
    /// What happened.
    pub events: Vec<SupportEvent>,
}

impl fmt::Debug for SupportUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupportUpdate")
            .field("distribution", &self.distribution)
            .field("added", &self.added)
            .field("events", &self.events)
            .finish()
    }
}

/// The result of [`SupportConversation::join`].
#[must_use]
#[non_exhaustive]
pub struct SupportJoined {
    /// The operator's conversation.
    pub conversation: SupportConversation,
    /// The operator's sender key, for every other reader.
    pub distribution: Outgoing,
}

impl fmt::Debug for SupportJoined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupportJoined")
            .field("conversation", &self.conversation)
            .field("distribution", &self.distribution)
            .finish()
    }
}

/// A decrypted conversation message.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct SupportMessage {
    /// The sending device.
    pub sender: IdentityKey,
    /// Whether the sender is the visitor.
    pub from_visitor: bool,
    /// The text as sent.
    pub plaintext: Vec<u8>,
    /// Group events (old-epoch message, evicted keys).
    pub events: Vec<GroupEvent>,
}

impl fmt::Debug for SupportMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupportMessage")
            .field("sender", &self.sender)
            .field("from_visitor", &self.from_visitor)
            .field("plaintext_len", &self.plaintext.len())
            .field("events", &self.events)
            .finish()
    }
}

/// One device's view of a support conversation: the assignment roster and the group session
/// that mirrors it. Every operation is transactional: on error nothing changes.
#[derive(Clone, PartialEq, Eq)]
pub struct SupportConversation {
    roster: AssignmentRoster,
    group: GroupSession,
    /// Set for the visitor's own conversation: it refuses to encrypt from then on.
    expires_at: Option<Timestamp>,
    visitor_status: VisitorStatus,
}

impl fmt::Debug for SupportConversation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupportConversation")
            .field("roster", &self.roster)
            .field("group", &self.group)
            .field("expires_at", &self.expires_at)
            .field("visitor_status", &self.visitor_status)
            .finish()
    }
}

impl SupportConversation {
    /// The visitor opens a conversation with the support team: a fresh random conversation
    /// id and the roster at version 0 (the visitor alone). Send the id and the visitor key
    /// to the tenant's dispatcher, which builds the same
    /// [`AssignmentRoster::genesis`] and assigns an operator.
    ///
    /// # Errors
    /// [`SupportError::VisitorExpired`]; [`SupportError::VisitorLinked`] once the identity
    /// was linked to an account (use [`SupportConversation::open_as_account`]).
    pub fn open<R: CryptoRng + ?Sized>(
        visitor: &VisitorIdentity,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Self, SupportError> {
        visitor.check_alive(now)?;
        if visitor.linked_account().is_some() {
            return Err(SupportError::VisitorLinked);
        }
        Self::open_with(visitor.identity_key_pair(), Some(visitor.expires_at()), rng)
    }

    /// A logged-in user opens a conversation with the account's identity (no TTL).
    ///
    /// # Errors
    /// [`SupportError::Roster`] only if the group layer refuses the genesis (it does not).
    pub fn open_as_account<R: CryptoRng + ?Sized>(
        account: &Account,
        rng: &mut R,
    ) -> Result<Self, SupportError> {
        Self::open_with(account.identity_key_pair(), None, rng)
    }

    fn open_with<R: CryptoRng + ?Sized>(
        identity: &IdentityKeyPair,
        expires_at: Option<Timestamp>,
        rng: &mut R,
    ) -> Result<Self, SupportError> {
        let mut id = [0u8; 32];
        rng.fill_bytes(&mut id);
        let roster = AssignmentRoster::genesis(GroupId::from_bytes(id), *identity.public());
        let joined = GroupSession::from_authorized_roster(identity, roster.group_roster(), rng)?;
        Ok(SupportConversation {
            roster,
            group: joined.session,
            expires_at,
            visitor_status: VisitorStatus::Unverified,
        })
    }

    /// An operator device joins from a welcome (a dispatcher-signed roster, type `0x25`).
    /// Checks, in order: decoding; the dispatcher certificate against `roots` at `now`; the
    /// dispatcher's signature; that `operator` is in the roster; every operator certificate
    /// in it at `now`. The visitor is shown as [`VisitorStatus::Unverified`].
    ///
    /// # Errors
    /// [`SupportError::Malformed`], [`SupportError::DispatcherNotCertified`],
    /// [`SupportError::BadSignature`], [`SupportError::Closed`],
    /// [`SupportError::NotInRoster`], [`SupportError::OperatorNotCertified`].
    pub fn join<R: CryptoRng + ?Sized>(
        operator: &IdentityKeyPair,
        welcome: &[u8],
        roots: &OrganizationRoots,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<SupportJoined, SupportError> {
        let w = decode_welcome(welcome)?;
        let root_id = w
            .dispatcher
            .verify(roots, now)
            .map_err(SupportError::DispatcherNotCertified)?;
        if !verify_dispatcher_signature(
            &w.dispatcher,
            LABEL_SIG_SUPPORT_ROSTER,
            w.signed,
            &w.signature,
        ) {
            return Err(SupportError::BadSignature);
        }
        if w.roster.is_closed() {
            return Err(SupportError::Closed);
        }
        if w.roster.operator(operator.public()).is_none() {
            return Err(SupportError::NotInRoster);
        }
        for o in w.roster.operators() {
            check_operator(o.certificate(), root_id, roots, now)?;
        }
        let joined = GroupSession::from_authorized_roster(operator, w.roster.group_roster(), rng)?;
        Ok(SupportJoined {
            conversation: SupportConversation {
                roster: w.roster,
                group: joined.session,
                expires_at: None,
                visitor_status: VisitorStatus::Unverified,
            },
            distribution: joined.distribution,
        })
    }

    /// The conversation id (the group id).
    pub fn id(&self) -> GroupId {
        self.roster.conversation_id()
    }

    /// The current assignment roster.
    pub fn roster(&self) -> &AssignmentRoster {
        &self.roster
    }

    /// The current roster version.
    pub fn version(&self) -> u64 {
        self.roster.version()
    }

    /// The visitor's key.
    pub fn visitor(&self) -> &IdentityKey {
        self.roster.visitor()
    }

    /// How the visitor is shown to operators.
    pub fn visitor_status(&self) -> &VisitorStatus {
        &self.visitor_status
    }

    /// Whether the conversation is closed.
    pub fn is_closed(&self) -> bool {
        self.roster.is_closed()
    }

    /// Whether we can still read and send (not removed, not closed).
    pub fn is_reader(&self) -> bool {
        self.group.is_member() && !self.roster.is_closed()
    }

    /// The group session underneath (read only: membership changes only through
    /// [`SupportConversation::apply_change`]).
    pub fn group(&self) -> &GroupSession {
        &self.group
    }

    /// Who can read the conversation now (SPEC.md §20.3): the visitor and every operator
    /// device of the roster, each certificate verified against `roots` at `now`.
    pub fn readers(&self, roots: &OrganizationRoots, now: Timestamp) -> Vec<ConversationReader> {
        let mut out = vec![ConversationReader::Visitor {
            identity_key: *self.roster.visitor(),
            status: self.visitor_status.clone(),
        }];
        for o in self.roster.operators() {
            out.push(
                match verify_operator_certificate(o.certificate(), o.identity_key(), roots, now) {
                    Ok(operator) => ConversationReader::Operator {
                        operator,
                        role: o.role(),
                    },
                    Err(e) => ConversationReader::NoLongerCertified {
                        identity_key: *o.identity_key(),
                        role: o.role(),
                        reason: match e {
                            SupportError::OperatorNotCertified(v) => v,
                            _ => VerifyError::Forged,
                        },
                    },
                },
            );
        }
        out
    }

    /// Applies a dispatcher-signed roster change (types `0x26`–`0x2A`). Checks, in order
    /// (SPEC.md §20.3): decoding; the conversation id; closed; the dispatcher certificate
    /// against `roots` at `now`; the dispatcher's signature; the version (next, not stale,
    /// not skipping) and the previous hash; the added operator's certificate (same
    /// organization root as the dispatcher) at `now`; the change's meaning. Then the group
    /// membership moves to the new roster: a removal rotates our sender key.
    ///
    /// # Errors
    /// [`SupportError::Malformed`], [`SupportError::WrongConversation`],
    /// [`SupportError::Closed`], [`SupportError::DispatcherNotCertified`],
    /// [`SupportError::BadSignature`], [`SupportError::StaleVersion`],
    /// [`SupportError::SkippedVersion`], [`SupportError::ForkedVersion`],
    /// [`SupportError::OperatorNotCertified`], [`SupportError::AlreadyAssigned`],
    /// [`SupportError::NotAssigned`], [`SupportError::TooManyOperators`],
    /// [`SupportError::NotInRoster`] (we were removed earlier). Nothing changes on error.
    pub fn apply_change<R: CryptoRng + ?Sized>(
        &mut self,
        change: &[u8],
        roots: &OrganizationRoots,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<SupportUpdate, SupportError> {
        let c = decode_change(change)?;
        if c.conversation_id != self.roster.conversation_id() {
            return Err(SupportError::WrongConversation);
        }
        if self.roster.is_closed() {
            return Err(SupportError::Closed);
        }
        if !self.group.is_member() {
            return Err(SupportError::NotInRoster);
        }
        let root_id = c
            .dispatcher
            .verify(roots, now)
            .map_err(SupportError::DispatcherNotCertified)?;
        if !verify_dispatcher_signature(
            &c.dispatcher,
            LABEL_SIG_SUPPORT_CHANGE,
            c.signed,
            &c.signature,
        ) {
            return Err(SupportError::BadSignature);
        }
        let current = self.roster.version();
        if c.version <= current {
            return Err(SupportError::StaleVersion {
                current,
                found: c.version,
            });
        }
        if current.checked_add(1) != Some(c.version) {
            return Err(SupportError::SkippedVersion {
                current,
                found: c.version,
            });
        }
        if c.previous_hash != self.roster.hash() {
            return Err(SupportError::ForkedVersion { version: c.version });
        }
        let added = match c.op.added() {
            Some(cert) => Some(check_operator(cert, root_id, roots, now)?),
            None => None,
        };
        let next = self.roster.apply(&c.op)?;
        let mut group = self.group.clone();
        let by = *c.dispatcher.dispatcher_key();
        let group_update = group.move_to_authorized(next.group_roster(), by, now, rng)?;

        let version = next.version();
        let mut update = SupportUpdate {
            distribution: group_update.distribution,
            ..SupportUpdate::default()
        };
        let removed: Vec<IdentityKey> = self
            .roster
            .operators()
            .iter()
            .map(|o| *o.identity_key())
            .filter(|k| next.operator(k).is_none())
            .collect();
        for identity_key in removed {
            update.events.push(SupportEvent::OperatorRemoved {
                identity_key,
                version,
            });
        }
        if let Some(operator) = added {
            let role = next
                .operator(operator.identity_key())
                .map_or(AssignmentRole::Assigned, |o| o.role());
            update.events.push(SupportEvent::OperatorAdded {
                operator: operator.clone(),
                role,
                version,
            });
            update.added.push(operator);
        }
        if matches!(c.op, AssignmentOp::Close) {
            update.events.push(SupportEvent::Closed { version });
        }
        for e in &group_update.events {
            match e {
                GroupEvent::RemovedFromGroup { .. } => {
                    update
                        .events
                        .push(SupportEvent::RemovedFromConversation { version });
                }
                GroupEvent::SenderKeyRotated { key_id } => {
                    update
                        .events
                        .push(SupportEvent::SenderKeyRotated { key_id: *key_id });
                }
                _ => {}
            }
        }
        self.roster = next;
        self.group = group;
        Ok(update)
    }

    /// Accepts a reader's sender key (a distribution message) from the 1:1 session it came
    /// on. Only readers in the roster are accepted (the group layer checks it).
    ///
    /// # Errors
    /// [`SupportError::Group`] ([`crate::GroupError::UnknownSender`] for a device not in
    /// the roster, ...). Nothing changes on error.
    pub fn receive_distribution(
        &mut self,
        from: impl Into<AuthenticatedSender>,
        bytes: &[u8],
    ) -> Result<Vec<GroupEvent>, SupportError> {
        Ok(self.group.receive_distribution(from, bytes)?)
    }

    /// Checks that `key` is this conversation's visitor: use it on the operator's side for
    /// the key of any 1:1 session or input that claims to be the visitor.
    ///
    /// # Errors
    /// [`SupportError::VisitorKeyChanged`]: an alarm (a substituted visitor).
    pub fn check_visitor(&self, key: &IdentityKey) -> Result<(), SupportError> {
        if key != self.roster.visitor() {
            return Err(SupportError::VisitorKeyChanged {
                expected: self.roster.visitor().to_bytes(),
                found: key.to_bytes(),
            });
        }
        Ok(())
    }

    /// [`SupportConversation::check_visitor`] on a 1:1 session's remote identity.
    ///
    /// # Errors
    /// [`SupportError::VisitorKeyChanged`].
    pub fn check_visitor_session(&self, session: &Session) -> Result<(), SupportError> {
        self.check_visitor(session.remote_identity())
    }

    /// Encrypts a message for every reader. On the visitor's side it refuses from the
    /// visitor identity's expiry on.
    ///
    /// # Errors
    /// [`SupportError::VisitorExpired`]; [`SupportError::Closed`];
    /// [`SupportError::Group`]. Nothing changes on error.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        plaintext: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Vec<u8>, SupportError> {
        if let Some(expired_at) = self.expires_at
            && now >= expired_at
        {
            return Err(SupportError::VisitorExpired { expired_at });
        }
        if self.roster.is_closed() {
            return Err(SupportError::Closed);
        }
        Ok(self.group.encrypt(plaintext, rng)?)
    }

    /// Decrypts a conversation message.
    ///
    /// # Errors
    /// [`SupportError::Group`]. Nothing changes on error.
    pub fn decrypt(
        &mut self,
        message: &[u8],
        now: Timestamp,
    ) -> Result<SupportMessage, SupportError> {
        let read = self.group.decrypt(message, now)?;
        Ok(SupportMessage {
            from_visitor: read.sender == *self.roster.visitor(),
            sender: read.sender,
            plaintext: read.plaintext,
            events: read.events,
        })
    }

    /// Applies a visitor's link statement (type `0x58`): checks, in order, decoding; the
    /// conversation id and visitor key; freshness ([`MAX_LINK_STATEMENT_AGE_SECS`],
    /// [`MAX_LINK_CLOCK_SKEW_SECS`]); the account signature and the visitor's
    /// counter-signature; that the visitor was not linked to another account. The visitor is
    /// then shown as `visitor verified as <user>`.
    ///
    /// # Errors
    /// [`SupportError::Malformed`], [`SupportError::Closed`], [`SupportError::LinkMismatch`]
    /// (another conversation), [`SupportError::VisitorKeyChanged`] (another visitor key),
    /// [`SupportError::LinkStale`], [`SupportError::LinkForged`],
    /// [`SupportError::AlreadyLinked`]. Nothing changes on error.
    pub fn apply_link(
        &mut self,
        statement: &[u8],
        now: Timestamp,
    ) -> Result<SupportEvent, SupportError> {
        let s = LinkStatement::from_bytes(statement)?;
        if self.roster.is_closed() {
            return Err(SupportError::Closed);
        }
        if s.conversation_id() != self.id() {
            return Err(SupportError::LinkMismatch);
        }
        self.check_visitor(s.visitor_key())?;
        let issued = s.issued_at().as_unix_secs();
        let now_secs = now.as_unix_secs();
        if issued > now_secs.saturating_add(MAX_LINK_CLOCK_SKEW_SECS)
            || now_secs.saturating_sub(issued) > MAX_LINK_STATEMENT_AGE_SECS
        {
            return Err(SupportError::LinkStale {
                issued_at: s.issued_at(),
            });
        }
        s.verify()?;
        if let VisitorStatus::Verified { account_key, .. } = &self.visitor_status
            && account_key != s.account_key()
        {
            return Err(SupportError::AlreadyLinked);
        }
        self.visitor_status = VisitorStatus::Verified {
            user_id: s.user_id().to_owned(),
            account_key: *s.account_key(),
        };
        Ok(SupportEvent::VisitorVerified {
            user_id: s.user_id().to_owned(),
            account_key: *s.account_key(),
        })
    }
}

/// Verifies an operator certificate for a roster: under `roots` at `now`, and under the same
/// organization root as the dispatcher.
fn check_operator(
    cert: &crate::verify::IdentityCertificate,
    root_id: u32,
    roots: &OrganizationRoots,
    now: Timestamp,
) -> Result<VerifiedOperator, SupportError> {
    let operator = verify_operator_certificate(cert, cert.identity_key(), roots, now)?;
    if operator.business_identity().root_id != root_id {
        return Err(SupportError::OperatorNotCertified(
            VerifyError::OrganizationMismatch {
                root_id: operator.business_identity().root_id,
            },
        ));
    }
    Ok(operator)
}
