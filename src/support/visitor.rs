//! Visitor identities (SPEC.md §20.0): a website visitor without an account gets an
//! ephemeral device identity with a time to live, created in the widget. Only its public
//! prekeys ever leave it. After the TTL it refuses to encrypt, saying why.

use core::fmt;

use rand_core::CryptoRng;

use super::link::LinkStatement;
use super::operator::{VerifiedOperator, verify_operator};
use super::{DEFAULT_VISITOR_TTL_SECS, MAX_VISITOR_TTL_SECS, MIN_VISITOR_TTL_SECS, SupportError};
use crate::account::{Account, InboundSession, PublishedPreKeys};
use crate::error::ConfigError;
use crate::group::GroupId;
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::session::Session;
use crate::time::Timestamp;
use crate::verify::OrganizationRoots;
use crate::x3dh::PreKeyBundle;

/// How long a visitor identity lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitorConfig {
    ttl_secs: u64,
}

impl Default for VisitorConfig {
    /// [`DEFAULT_VISITOR_TTL_SECS`] (24 hours).
    fn default() -> Self {
        VisitorConfig {
            ttl_secs: DEFAULT_VISITOR_TTL_SECS,
        }
    }
}

impl VisitorConfig {
    /// A time to live of `ttl_secs` seconds.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] (name `"visitor ttl"`) outside
    /// [`MIN_VISITOR_TTL_SECS`]`..=`[`MAX_VISITOR_TTL_SECS`].
    pub fn with_ttl_secs(ttl_secs: u64) -> Result<Self, ConfigError> {
        check_ttl(ttl_secs)?;
        Ok(VisitorConfig { ttl_secs })
    }

    /// The time to live, in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }
}

pub(crate) fn check_ttl(ttl_secs: u64) -> Result<(), ConfigError> {
    if !(MIN_VISITOR_TTL_SECS..=MAX_VISITOR_TTL_SECS).contains(&ttl_secs) {
        return Err(ConfigError::OutOfRange {
            name: "visitor ttl",
            value: ttl_secs,
            min: MIN_VISITOR_TTL_SECS,
            max: MAX_VISITOR_TTL_SECS,
        });
    }
    Ok(())
}

/// The account a visitor identity was linked to ([`VisitorIdentity::link_account`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedAccount {
    /// The user id the visitor logged in as.
    pub user_id: String,
    /// The account's identity key.
    pub account_key: IdentityKey,
}

/// An anonymous website visitor's ephemeral device identity (SPEC.md §20.0): an identity
/// key with its prekeys, a creation time and a time to live. Keep it in the browser
/// ([`VisitorIdentity::to_encrypted`], state type tag `0x08`); upload only
/// [`VisitorIdentity::published_prekeys`].
///
/// From [`VisitorIdentity::expires_at`] on it refuses every encryption with
/// [`SupportError::VisitorExpired`]: the widget then starts over with a new identity. Once
/// linked to an account it opens no new conversation ([`SupportError::VisitorLinked`]).
#[derive(Clone)]
pub struct VisitorIdentity {
    pub(crate) account: Account,
    pub(crate) created_at: Timestamp,
    pub(crate) ttl_secs: u64,
    pub(crate) linked: Option<LinkedAccount>,
}

impl fmt::Debug for VisitorIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VisitorIdentity")
            .field("identity", self.account.identity_key())
            .field("created_at", &self.created_at)
            .field("ttl_secs", &self.ttl_secs)
            .field("linked", &self.linked.is_some())
            .finish_non_exhaustive()
    }
}

impl VisitorIdentity {
    /// A fresh visitor identity created at `now` (a new identity key, a signed prekey and a
    /// last-resort ML-KEM prekey; no one-time prekeys: a visitor is reached by few).
    pub fn new<R: CryptoRng + ?Sized>(config: VisitorConfig, now: Timestamp, rng: &mut R) -> Self {
        VisitorIdentity {
            account: Account::new(now, rng),
            created_at: now,
            ttl_secs: config.ttl_secs,
            linked: None,
        }
    }

    /// The ephemeral identity key.
    pub fn identity_key(&self) -> &IdentityKey {
        self.account.identity_key()
    }

    /// The key pair (to sign link statements; it never leaves the widget).
    pub fn identity_key_pair(&self) -> &IdentityKeyPair {
        self.account.identity_key_pair()
    }

    /// When it was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// The time to live, in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// The first second it no longer encrypts: creation plus TTL.
    pub fn expires_at(&self) -> Timestamp {
        self.created_at.plus_secs(self.ttl_secs)
    }

    /// Whether it may still encrypt at `now`.
    ///
    /// # Errors
    /// [`SupportError::VisitorExpired`] from [`VisitorIdentity::expires_at`] on.
    pub fn check_alive(&self, now: Timestamp) -> Result<(), SupportError> {
        if now >= self.expires_at() {
            return Err(SupportError::VisitorExpired {
                expired_at: self.expires_at(),
            });
        }
        Ok(())
    }

    /// The public prekeys to upload (the only thing that leaves the widget).
    pub fn published_prekeys(&self) -> PublishedPreKeys {
        self.account.published_prekeys()
    }

    /// The account it was linked to, if any.
    pub fn linked_account(&self) -> Option<&LinkedAccount> {
        self.linked.as_ref()
    }

    /// Starts a 1:1 session with an operator device, accepted only if `certificate` (an
    /// identity certificate) covers `bundle`'s identity key under `roots` at `now`: no trust
    /// on first use, so a key the relay substituted is refused.
    ///
    /// # Errors
    /// [`SupportError::VisitorExpired`]; [`SupportError::OperatorNotCertified`];
    /// [`SupportError::Handshake`]. Nothing changes on error.
    pub fn connect_operator<R: CryptoRng + ?Sized>(
        &self,
        bundle: &PreKeyBundle,
        certificate: &[u8],
        roots: &OrganizationRoots,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(Session, VerifiedOperator), SupportError> {
        self.check_alive(now)?;
        let operator = verify_operator(certificate, &bundle.identity_key, roots, now)?;
        let session = self.account.create_outbound_session(bundle, rng)?;
        Ok((session, operator))
    }

    /// Accepts a 1:1 session an operator device started (its first message), only if
    /// `certificate` covers the sender's identity key under `roots` at `now`.
    ///
    /// # Errors
    /// [`SupportError::VisitorExpired`]; [`SupportError::Handshake`];
    /// [`SupportError::OperatorNotCertified`]. The identity is unchanged on error (no prekey
    /// is consumed).
    pub fn accept_operator_session(
        &mut self,
        first_message: &[u8],
        certificate: &[u8],
        roots: &OrganizationRoots,
        now: Timestamp,
    ) -> Result<(InboundSession, VerifiedOperator), SupportError> {
        self.check_alive(now)?;
        let mut trial = self.account.clone();
        let inbound = trial.create_inbound_session(first_message, now)?;
        let operator = verify_operator(certificate, inbound.session.remote_identity(), roots, now)?;
        self.account = trial;
        Ok((inbound, operator))
    }

    /// Encrypts on a 1:1 session of this visitor, refusing after the TTL.
    ///
    /// # Errors
    /// [`SupportError::VisitorExpired`] (the session is not touched);
    /// [`SupportError::Encrypt`].
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &self,
        session: &mut Session,
        plaintext: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Vec<u8>, SupportError> {
        self.check_alive(now)?;
        Ok(session.encrypt(plaintext, rng)?)
    }

    /// Links this visitor identity to the account `account` of `user_id` (the visitor logged
    /// in mid-chat): signs a [`LinkStatement`] for `conversation_id` with the account key and
    /// counter-signs it with the ephemeral key. Send its bytes in the conversation; from now
    /// on this identity opens no new conversation (use the account).
    ///
    /// # Errors
    /// [`SupportError::VisitorExpired`]; as [`LinkStatement::sign`]. Unchanged on error.
    pub fn link_account(
        &mut self,
        account: &IdentityKeyPair,
        user_id: &str,
        conversation_id: GroupId,
        now: Timestamp,
    ) -> Result<LinkStatement, SupportError> {
        self.check_alive(now)?;
        let statement = LinkStatement::sign(
            account,
            self.identity_key_pair(),
            user_id,
            conversation_id,
            now,
        )?;
        self.linked = Some(LinkedAccount {
            user_id: user_id.to_owned(),
            account_key: *account.public(),
        });
        Ok(statement)
    }
}
