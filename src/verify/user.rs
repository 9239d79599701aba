//! The app's stable identifier for a user: its checked constructor (the type is in
//! `src/ids.rs`, on the ground floor, so events can name it).

use super::VerifyError;
pub use crate::ids::{MAX_USER_ID_LEN, UserId};

impl UserId {
    /// Checks the length and copies the bytes.
    ///
    /// # Errors
    /// [`VerifyError::UserIdLength`] if `bytes` is empty or longer than [`MAX_USER_ID_LEN`].
    pub fn new(bytes: &[u8]) -> Result<Self, VerifyError> {
        UserId::checked(bytes).ok_or(VerifyError::UserIdLength {
            len: bytes.len(),
            max: MAX_USER_ID_LEN,
        })
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
