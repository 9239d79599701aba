//! The visitor upgrade (SPEC.md §20.4): a visitor who logs in mid-chat links the ephemeral
//! visitor key to her account with a statement signed by her account identity key and
//! counter-signed by the ephemeral key.

use core::fmt;

use crate::certificate::SIGNATURE_LEN;
use crate::error::DecodeError;
use crate::group::GroupId;
use crate::keys::{IdentityKey, IdentityKeyPair};
use crate::labels::{LABEL_SIG_LINK_ACCOUNT, LABEL_SIG_LINK_VISITOR};
use crate::time::Timestamp;
use crate::verify::{check_text, decode_text, encode_text};
use crate::wire::{Reader, TYPE_VISITOR_LINK, WIRE_VERSION, expect_header};

use super::SupportError;

/// Longest user id a link statement names, in UTF-8 bytes.
pub const MAX_LINK_USER_ID_LEN: usize = 64;

/// Length of a link statement with an empty user id: add the user id's length.
pub const LINK_STATEMENT_BASE_LEN: usize = 2 + 32 + 32 + 32 + 8 + 1 + 2 * SIGNATURE_LEN;

/// The longest link statement.
pub const MAX_LINK_STATEMENT_LEN: usize = LINK_STATEMENT_BASE_LEN + MAX_LINK_USER_ID_LEN;

/// A visitor's link statement (type `0x58`, SPEC.md §20.4):
/// `version(1) type(1)=0x58 conversation_id(32) visitor_key(32) account_key(32) issued_at(8)
/// user_id_len(1) user_id(n) account_signature(64) visitor_signature(64)`.
///
/// The account signature covers everything before it (under its label); the visitor's
/// counter-signature covers everything before it, the account signature included.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkStatement {
    bytes: Vec<u8>,
    conversation_id: GroupId,
    visitor_key: IdentityKey,
    account_key: IdentityKey,
    issued_at: Timestamp,
    user_id: String,
}

fn message(label: &[u8], signed: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(label.len() + signed.len());
    m.extend_from_slice(label);
    m.extend_from_slice(signed);
    m
}

impl LinkStatement {
    /// Signs a statement that the visitor key `visitor` of `conversation_id` belongs to the
    /// account `account` of user `user_id`, at `issued_at`.
    ///
    /// # Errors
    /// [`SupportError::InvalidText`] for a user id that is empty, longer than
    /// [`MAX_LINK_USER_ID_LEN`] or not displayable; [`SupportError::LinkMismatch`] if both
    /// keys are the same.
    pub fn sign(
        account: &IdentityKeyPair,
        visitor: &IdentityKeyPair,
        user_id: &str,
        conversation_id: GroupId,
        issued_at: Timestamp,
    ) -> Result<Self, SupportError> {
        check_text("user_id", user_id, MAX_LINK_USER_ID_LEN)
            .map_err(|_| SupportError::InvalidText { field: "user_id" })?;
        if account.public() == visitor.public() {
            return Err(SupportError::LinkMismatch);
        }
        let mut bytes = Vec::with_capacity(LINK_STATEMENT_BASE_LEN + user_id.len());
        bytes.push(WIRE_VERSION);
        bytes.push(TYPE_VISITOR_LINK);
        bytes.extend_from_slice(conversation_id.as_bytes());
        bytes.extend_from_slice(visitor.public().as_bytes());
        bytes.extend_from_slice(account.public().as_bytes());
        bytes.extend_from_slice(&issued_at.as_unix_secs().to_be_bytes());
        encode_text(&mut bytes, user_id);
        let account_signature = account.sign(&message(LABEL_SIG_LINK_ACCOUNT, &bytes));
        bytes.extend_from_slice(&account_signature);
        let visitor_signature = visitor.sign(&message(LABEL_SIG_LINK_VISITOR, &bytes));
        bytes.extend_from_slice(&visitor_signature);
        Ok(LinkStatement {
            bytes,
            conversation_id,
            visitor_key: *visitor.public(),
            account_key: *account.public(),
            issued_at,
            user_id: user_id.to_owned(),
        })
    }

    /// Decodes strictly; the signatures are checked by [`LinkStatement::verify`].
    ///
    /// # Errors
    /// [`DecodeError`] on any deviation from the layout (an invalid key, a user id of bad
    /// length or not displayable, the same key twice: `InvalidField("account_key")`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        expect_header(
            &mut r,
            bytes.len(),
            TYPE_VISITOR_LINK,
            MAX_LINK_STATEMENT_LEN,
        )?;
        let conversation_id = GroupId::from_bytes(r.array::<32>()?);
        let visitor_key =
            IdentityKey::from_bytes(&r.array::<32>()?).map_err(|_| DecodeError::InvalidField {
                field: "visitor_key",
            })?;
        let account_key =
            IdentityKey::from_bytes(&r.array::<32>()?).map_err(|_| DecodeError::InvalidField {
                field: "account_key",
            })?;
        if account_key == visitor_key {
            return Err(DecodeError::InvalidField {
                field: "account_key",
            });
        }
        let issued_at = Timestamp::from_unix_secs(u64::from_be_bytes(r.array::<8>()?));
        let user_id = decode_text(&mut r, "user_id_len", "user_id", MAX_LINK_USER_ID_LEN)?;
        let _account_signature = r.array::<SIGNATURE_LEN>()?;
        let _visitor_signature = r.array::<SIGNATURE_LEN>()?;
        r.finish()?;
        Ok(LinkStatement {
            bytes: bytes.to_vec(),
            conversation_id,
            visitor_key,
            account_key,
            issued_at,
            user_id,
        })
    }

    /// Checks both signatures: the account's, then the visitor's counter-signature.
    ///
    /// # Errors
    /// [`SupportError::LinkForged`] if either fails.
    pub fn verify(&self) -> Result<(), SupportError> {
        let len = self.bytes.len();
        let (Some(before_account), Some(account_sig), Some(before_visitor), Some(visitor_sig)) = (
            self.bytes.get(..len.saturating_sub(2 * SIGNATURE_LEN)),
            self.bytes
                .get(len.saturating_sub(2 * SIGNATURE_LEN)..len.saturating_sub(SIGNATURE_LEN))
                .and_then(|s| <&[u8; SIGNATURE_LEN]>::try_from(s).ok()),
            self.bytes.get(..len.saturating_sub(SIGNATURE_LEN)),
            self.bytes
                .get(len.saturating_sub(SIGNATURE_LEN)..)
                .and_then(|s| <&[u8; SIGNATURE_LEN]>::try_from(s).ok()),
        ) else {
            return Err(SupportError::LinkForged);
        };
        if !self.account_key.verify(
            &message(LABEL_SIG_LINK_ACCOUNT, before_account),
            account_sig,
        ) || !self.visitor_key.verify(
            &message(LABEL_SIG_LINK_VISITOR, before_visitor),
            visitor_sig,
        ) {
            return Err(SupportError::LinkForged);
        }
        Ok(())
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The conversation it was made in.
    pub fn conversation_id(&self) -> GroupId {
        self.conversation_id
    }

    /// The ephemeral visitor key.
    pub fn visitor_key(&self) -> &IdentityKey {
        &self.visitor_key
    }

    /// The account identity key.
    pub fn account_key(&self) -> &IdentityKey {
        &self.account_key
    }

    /// When it says it was made.
    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }

    /// The user id it claims.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl fmt::Debug for LinkStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkStatement")
            .field("conversation_id", &self.conversation_id)
            .field("visitor_key", &self.visitor_key)
            .field("account_key", &self.account_key)
            .field("issued_at", &self.issued_at)
            .field("user_id_len", &self.user_id.len())
            .finish()
    }
}
