//! The device's identity book: which identity key each of the app's users has, and whether the
//! user verified it (SPEC.md §15.5). Sessions are keyed by identity key; this is the link to
//! the app's users, and what makes [`Device::encrypt_for`] refuse a changed key.

use super::Device;
use crate::event::Event;
use crate::keys::IdentityKey;
use crate::time::Timestamp;
use crate::verify::{UserId, VerificationState, VerifyError};

impl Device {
    /// Tells the device which identity key `user` has now, as the app learned it (from its
    /// directory, a prekey bundle it fetched for the user, or a message that authenticated as
    /// that key).
    ///
    /// - A user seen for the first time is recorded as unverified (trust on first use).
    /// - The same key again changes nothing.
    /// - Another key than before raises [`Event::IdentityChanged`] once. If the user had
    ///   verified the previous key, the state becomes
    ///   [`VerificationState::ChangedSinceVerification`] and [`Device::encrypt_for`] refuses
    ///   the new key until the app calls [`Device::accept_identity_change`] or
    ///   [`Device::mark_verified`]. Otherwise the new key simply replaces the old one.
    /// - The key the user verified, coming back after a change, restores the verified state
    ///   without an event.
    ///
    /// Persist the device afterwards.
    ///
    /// # Errors
    /// [`VerifyError::OwnIdentity`] for this device's own key;
    /// [`VerifyError::TooManyIdentities`] for a new user past [`crate::verify::MAX_IDENTITY_RECORDS`]. The
    /// device is unchanged on error.
    pub fn record_identity(
        &mut self,
        user: &UserId,
        identity_key: &IdentityKey,
        now: Timestamp,
    ) -> Result<Vec<Event>, VerifyError> {
        let own = *self.account.identity_key();
        self.identities.record(&own, user, identity_key, now)
    }

    /// Marks `identity_key` as verified for `user`, after the users compared the safety number
    /// (or scanned its QR code, or compared a short authentication string). Records the user
    /// if it is new. Verifying the new key of a user whose key changed ends the refusal.
    ///
    /// # Errors
    /// [`VerifyError::IdentityMismatch`] if another key is recorded for the user (record the
    /// new key first: the comparison must be of the key the device will encrypt to);
    /// [`VerifyError::OwnIdentity`]; [`VerifyError::TooManyIdentities`] for a new user past
    /// [`MAX_IDENTITY_RECORDS`]. The device is unchanged on error.
    pub fn mark_verified(
        &mut self,
        user: &UserId,
        identity_key: &IdentityKey,
        now: Timestamp,
    ) -> Result<(), VerifyError> {
        let own = *self.account.identity_key();
        self.identities.mark_verified(&own, user, identity_key, now)
    }

    /// Accepts the new key of a user whose key changed since verification, without verifying
    /// it: the user becomes [`VerificationState::Unverified`] with that key, and
    /// [`Device::encrypt_for`] encrypts to it again. Does nothing if the key did not change.
    ///
    /// `identity_key` must be the key the user was shown, so a further change in between is
    /// not accepted by accident.
    ///
    /// # Errors
    /// [`VerifyError::UnknownUser`] if nothing is recorded for `user`;
    /// [`VerifyError::IdentityMismatch`] if `identity_key` is not the key now recorded. The
    /// device is unchanged on error.
    pub fn accept_identity_change(
        &mut self,
        user: &UserId,
        identity_key: &IdentityKey,
    ) -> Result<(), VerifyError> {
        self.identities.accept_change(user, identity_key)
    }

    /// Drops the user's verification (the state becomes unverified with the current key).
    /// Returns whether the user was verified or changed since verification.
    pub fn clear_verification(&mut self, user: &UserId) -> bool {
        self.identities.clear_verification(user)
    }

    /// Forgets everything recorded about `user`'s identity. Returns whether anything was held.
    /// Sessions are not touched (see [`Device::forget_peer`]).
    pub fn forget_identity(&mut self, user: &UserId) -> bool {
        self.identities.forget(user)
    }

    /// The verification state of `user`, or `None` if nothing is recorded for it.
    pub fn verification_state(&self, user: &UserId) -> Option<VerificationState> {
        self.identities.state(user)
    }

    /// Whether [`Device::encrypt_for`] refuses `identity_key`: it is the new key of a user
    /// whose key changed since verification, not yet accepted.
    pub fn is_identity_blocked(&self, identity_key: &IdentityKey) -> bool {
        self.identities.is_blocked(identity_key)
    }

    /// The users whose recorded key is `identity_key`.
    pub fn users_with_identity(&self, identity_key: &IdentityKey) -> Vec<UserId> {
        self.identities.users_with(identity_key)
    }

    /// Number of users with a recorded identity.
    pub fn identity_record_count(&self) -> usize {
        self.identities.len()
    }
}
