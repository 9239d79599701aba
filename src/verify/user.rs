//! The app's stable identifier for a user.

use core::fmt;

use super::VerifyError;

/// The longest user id, in bytes: the same limit as the user id of a sender certificate
/// ([`crate::certificate::MAX_USER_ID_LEN`]), so a certified user id always fits.
pub const MAX_USER_ID_LEN: usize = crate::certificate::MAX_USER_ID_LEN;

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
    /// Checks the length and copies the bytes.
    ///
    /// # Errors
    /// [`VerifyError::UserIdLength`] if `bytes` is empty or longer than [`MAX_USER_ID_LEN`].
    pub fn new(bytes: &[u8]) -> Result<Self, VerifyError> {
        if bytes.is_empty() || bytes.len() > MAX_USER_ID_LEN {
            return Err(VerifyError::UserIdLength {
                len: bytes.len(),
                max: MAX_USER_ID_LEN,
            });
        }
        Ok(UserId(bytes.to_vec()))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The length as the one byte that prefixes the id in every encoding (1..=128).
    pub(crate) fn len_byte(&self) -> u8 {
        // Cannot saturate: `new` bounds the length by MAX_USER_ID_LEN (< 256).
        u8::try_from(self.0.len()).unwrap_or(u8::MAX)
    }
}

impl TryFrom<&[u8]> for UserId {
    type Error = VerifyError;

    fn try_from(bytes: &[u8]) -> Result<Self, VerifyError> {
        UserId::new(bytes)
    }
}

impl TryFrom<&str> for UserId {
    type Error = VerifyError;

    fn try_from(text: &str) -> Result<Self, VerifyError> {
        UserId::new(text.as_bytes())
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId(len {})", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_at_and_past_the_edges() {
        assert_eq!(
            UserId::new(b""),
            Err(VerifyError::UserIdLength {
                len: 0,
                max: MAX_USER_ID_LEN
            })
        );
        assert_eq!(UserId::new(b"a").unwrap().len_byte(), 1);
        let max = vec![b'u'; MAX_USER_ID_LEN];
        assert_eq!(UserId::new(&max).unwrap().as_bytes(), &max[..]);
        assert_eq!(UserId::new(&max).unwrap().len_byte(), 128);
        assert_eq!(
            UserId::try_from(&vec![b'u'; MAX_USER_ID_LEN + 1][..]),
            Err(VerifyError::UserIdLength {
                len: MAX_USER_ID_LEN + 1,
                max: MAX_USER_ID_LEN
            })
        );
    }

    #[test]
    fn debug_hides_the_id() {
        let id = UserId::try_from("alice@example.com").unwrap();
        assert_eq!(format!("{id:?}"), "UserId(len 17)");
    }
}
