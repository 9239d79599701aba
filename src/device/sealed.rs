//! Reading the session message inside a sealed envelope (SPEC.md §13). `sealed/` opens
//! envelopes and knows nothing of sessions; this layer is the first that knows both, so the
//! glue lives here: with a [`Session`] the app keeps ([`Opened::decrypt`]), with an
//! [`Account`] ([`Opened::create_inbound_session`]), or with the device's own sessions
//! ([`Device::decrypt_sealed`]).

use rand_core::CryptoRng;
use thiserror::Error;

use super::{Device, PeerDecrypted, PeerError};
use crate::account::{Account, InboundSession};
use crate::certificate::SenderCertificate;
use crate::certificate::TrustStore;
use crate::error::ErrorKind;
use crate::keys::IdentityKey;
use crate::ratchet::DecryptError;
use crate::sealed::{
    ContentType, EnvelopeKeyPublic, Metadata, OpenError, Opened, Recipient, SealError,
};
use crate::session::{Decrypted, Session};
use crate::time::Timestamp;
use crate::wire::PreKeyMessage;
use crate::x3dh::HandshakeError;

/// Errors from reading the inner session message of an opened envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SealedSessionError {
    /// The content type is not [`ContentType::SESSION`].
    #[error("content type {content_type:?} is not a session message")]
    NotSessionContent {
        /// The content type found.
        content_type: ContentType,
    },
    /// The session given is not with the envelope's sender.
    #[error("the session is not with the envelope's sender")]
    WrongSession,
    /// The inner prekey message names another identity key than the envelope's sender.
    #[error("the inner prekey message is from another identity than the envelope's sender")]
    SenderMismatch,
    /// See [`DecryptError`].
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// See [`HandshakeError`].
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// See [`PeerError`].
    #[error(transparent)]
    Peer(#[from] PeerError),
}

impl SealedSessionError {
    /// A stable, language-neutral name of this error, `"sealed_session.<variant>"` in snake_case
    /// (SPEC.md §8.4). It never changes once released; bindings and the test vectors use it.
    pub fn code(&self) -> &'static str {
        match self {
            SealedSessionError::NotSessionContent { .. } => "sealed_session.not_session_content",
            SealedSessionError::WrongSession => "sealed_session.wrong_session",
            SealedSessionError::SenderMismatch => "sealed_session.sender_mismatch",
            SealedSessionError::Decrypt(_) => "sealed_session.decrypt",
            SealedSessionError::Handshake(_) => "sealed_session.handshake",
            SealedSessionError::Peer(_) => "sealed_session.peer",
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SealedSessionError::NotSessionContent { .. } | SealedSessionError::WrongSession => {
                ErrorKind::InvalidInput
            }
            SealedSessionError::SenderMismatch => ErrorKind::Tampered,
            SealedSessionError::Decrypt(e) => e.kind(),
            SealedSessionError::Handshake(e) => e.kind(),
            SealedSessionError::Peer(e) => e.kind(),
        }
    }
}

/// The inner message, if the content type says it is a session message.
fn session_message(opened: &Opened) -> Result<&[u8], SealedSessionError> {
    let content_type = opened.metadata().content_type();
    if content_type == ContentType::SESSION {
        Ok(opened.message())
    } else {
        Err(SealedSessionError::NotSessionContent { content_type })
    }
}

impl Opened {
    /// Decrypts the inner session message with the session with the sender.
    ///
    /// # Errors
    /// [`SealedSessionError::NotSessionContent`] unless the content type is
    /// [`ContentType::SESSION`]; [`SealedSessionError::WrongSession`] if `session` is not
    /// with the sender's identity key; [`SealedSessionError::Decrypt`] as
    /// [`Session::decrypt`]. The session is unchanged on every error.
    pub fn decrypt(&self, session: &mut Session) -> Result<Decrypted, SealedSessionError> {
        let message = session_message(self)?;
        if session.remote_identity() != self.sender_identity() {
            return Err(SealedSessionError::WrongSession);
        }
        Ok(session.decrypt(message)?)
    }

    /// Builds the session a sealed prekey message starts (see
    /// [`Account::create_inbound_session`]).
    ///
    /// # Errors
    /// [`SealedSessionError::NotSessionContent`] unless the content type is
    /// [`ContentType::SESSION`]; [`SealedSessionError::SenderMismatch`] if the prekey message
    /// names another identity key than the envelope's sender;
    /// [`SealedSessionError::Handshake`] as [`Account::create_inbound_session`]. The account
    /// is unchanged on every error.
    pub fn create_inbound_session(
        &self,
        account: &mut Account,
        now: Timestamp,
    ) -> Result<InboundSession, SealedSessionError> {
        let message = session_message(self)?;
        let prekey = PreKeyMessage::decode(message).map_err(HandshakeError::from)?;
        if prekey.identity_key_bytes() != self.sender_identity().as_bytes() {
            return Err(SealedSessionError::SenderMismatch);
        }
        Ok(account.create_inbound_session(message, now)?)
    }
}

impl Device {
    /// Opens an envelope addressed to this device, classical or hybrid
    /// ([`crate::sealed::open_with`] with [`Account::recipient_keys`]: its identity key pair,
    /// its envelope keys within their grace window, and its refusal of classical envelopes if
    /// set). Nothing changes, on success or error.
    ///
    /// # Errors
    /// [`OpenError`], as [`crate::sealed::open_with`].
    pub fn open_sealed(
        &self,
        envelope: &[u8],
        trust: &TrustStore,
        now: Timestamp,
    ) -> Result<Opened, OpenError> {
        crate::sealed::open_with(&self.account.recipient_keys(now), envelope, trust, now)
    }

    /// Seals `message` for `recipient` as negotiated (SPEC.md §13.8.4): hybrid when the
    /// recipient published an envelope key (`envelope_key`, fetched from the server with its
    /// bundle), classical otherwise. A shortcut for [`crate::sealed::seal_to`] with this
    /// device's identity. Nothing changes.
    ///
    /// # Errors
    /// [`SealError`], as [`Recipient::negotiate`] and [`crate::sealed::seal_to`].
    #[allow(clippy::too_many_arguments)]
    pub fn seal_for<R: CryptoRng + ?Sized>(
        &self,
        certificate: &SenderCertificate,
        recipient: &IdentityKey,
        envelope_key: Option<&EnvelopeKeyPublic>,
        metadata: &Metadata,
        message: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, SealError> {
        let to = Recipient::negotiate(recipient, envelope_key)?;
        crate::sealed::seal_to(
            self.account.identity_key_pair(),
            certificate,
            &to,
            metadata,
            message,
            rng,
        )
    }

    /// Decrypts the inner session message with the sessions this device holds for the
    /// envelope's sender, creating one from a prekey message (see [`Device::decrypt_from`]).
    /// Changes and the records to write before acknowledging: as [`Device::decrypt_from`].
    ///
    /// # Errors
    /// [`SealedSessionError::NotSessionContent`] unless the content type is
    /// [`ContentType::SESSION`]; [`SealedSessionError::Peer`] as [`Device::decrypt_from`]
    /// (which refuses a prekey message from another identity than the sender). The device
    /// is unchanged on every error.
    pub fn decrypt_sealed(
        &mut self,
        opened: &Opened,
        now: Timestamp,
    ) -> Result<PeerDecrypted, SealedSessionError> {
        let message = session_message(opened)?;
        Ok(self.decrypt_from(opened.sender_identity(), message, now)?)
    }
}
