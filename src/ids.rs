//! The ids other layers name: a session's ([`SessionId`]) and a user's ([`UserId`]).
//!
//! They sit on the ground floor so that events, verification, persistence and the device
//! layer can all name them without importing the modules that compute or check them.

use core::fmt;

/// A public, unique name for a session, computed identically by both sides from the key
/// agreement. It is not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 32]);

impl SessionId {
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        SessionId(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(")?;
        for b in self.0.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// The longest user id, in bytes: the same limit as the user id of a sender certificate
/// ([`crate::certificate::MAX_USER_ID_LEN`]), so a certified user id always fits.
pub const MAX_USER_ID_LEN: usize = 128;

/// A stable identifier the app gives a user: an account number, a UUID, an e-mail address, as
/// 1 to [`MAX_USER_ID_LEN`] opaque bytes.
///
/// It goes into the safety number (so a code names who, not only which key) and keys the
/// account's verification state. hushwire holds one identity key per user id: an app whose
/// users have several devices, each with its own identity key, gives each device its own user
/// id (for example the user's id followed by the device id).
///
/// `Debug` shows only the length: user ids are often personal data.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(Vec<u8>);

impl UserId {
    /// The id, if `bytes` has 1 to [`MAX_USER_ID_LEN`] bytes. The public constructor,
    /// `UserId::new`, is in `verify/user.rs` with its error.
    pub(crate) fn checked(bytes: &[u8]) -> Option<Self> {
        (!bytes.is_empty() && bytes.len() <= MAX_USER_ID_LEN).then(|| UserId(bytes.to_vec()))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The length as the one byte that prefixes the id in every encoding (1..=128).
    pub(crate) fn len_byte(&self) -> u8 {
        // Cannot saturate: `checked` bounds the length by MAX_USER_ID_LEN (< 256).
        u8::try_from(self.0.len()).unwrap_or(u8::MAX)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId(len {})", self.0.len())
    }
}
