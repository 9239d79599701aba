//! Who a 1:1 channel says some bytes came from: the only thing that makes a sender key
//! trusted (SPEC.md §14.4.2). Distribution messages carry no signature, so that no member can
//! prove to an outsider who owns a sender key (SPEC.md §14.11.3).

use crate::keys::IdentityKey;
use crate::session::Session;

/// The identity a 1:1 channel authenticated some bytes as coming from.
///
/// [`super::GroupSession::receive_distribution`] takes one: a sender key is accepted only
/// from the member the channel that delivered it belongs to. Get one from the [`Session`] that
/// decrypted the bytes (`AuthenticatedSender::from(&session)`); the type has no conversion
/// from a bare [`IdentityKey`], so an identity read from a relay's routing data, an envelope's
/// unauthenticated fields or the distribution message itself cannot slip in by accident.
///
/// ```
/// # use hushwire::group::AuthenticatedSender;
/// # fn route(session: &hushwire::Session) -> AuthenticatedSender {
/// // `session` has just decrypted the distribution message.
/// AuthenticatedSender::from(session)
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuthenticatedSender(IdentityKey);

impl AuthenticatedSender {
    /// The peer of `session`: pass the session that decrypted the bytes (for a sealed
    /// envelope, the session [`crate::sealed::Opened::decrypt`] used; after
    /// [`crate::Account::decrypt_from`], [`crate::Account::active_session`] of the same peer).
    pub fn of_session(session: &Session) -> Self {
        AuthenticatedSender(*session.remote_identity())
    }

    /// Vouches that `peer` is authenticated as the sender of the bytes by a channel the app
    /// trusts as much as a hushwire session: typically the `peer` of a call to
    /// [`crate::Account::decrypt_from`] that has just succeeded on them.
    ///
    /// Never pass an identity that only the transport, the relay or the bytes themselves
    /// claim: whoever can make this call with another member's identity can make this
    /// session accept a sender key as that member's, and then forge that member's messages.
    pub fn assume_authenticated(peer: IdentityKey) -> Self {
        AuthenticatedSender(peer)
    }

    /// The authenticated identity.
    pub fn identity(&self) -> &IdentityKey {
        &self.0
    }
}

impl From<&Session> for AuthenticatedSender {
    fn from(session: &Session) -> Self {
        AuthenticatedSender::of_session(session)
    }
}
