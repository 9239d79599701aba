//! What the example peers put inside a 1:1 message (the plaintext of a hushwire ratchet
//! message, itself inside a sealed envelope of content type `SESSION`).
//!
//! ```text
//! body = text                                UTF-8, not starting with U+0000
//!      | 0x00 0x01 blob_id(16) pointer(rest) a file: where it is on the relay, and its
//!                                            attachment pointer (SPEC.md §16.6, type 0x60)
//!      | 0x00 0x02 masked_field(rest)        the operator's copy of a secure field
//!                                            (SPEC.md §17.5.2, type 0x70)
//!      | 0x00 0x03 names welcome(rest)       an invitation to a group: its name and its
//!                                            members' names, then the signed genesis
//!                                            roster (SPEC.md §14)
//!      | 0x00 0x04 distribution(rest)        a member's sender key for a group (SPEC.md
//!                                            §14; it holds a chain key: wiped on drop)
//! names = len(1) group_name count(1) (len(1) member_name){count}
//! ```
//!
//! Group and member names follow the relay's name rules ([`valid_name`]); an invitation
//! names at most [`MAX_GROUP_NAMES`] members.
//!
//! The pointer carries the file's key, so it only ever travels inside the ratchet (forward
//! secrecy), never in the clear and never to the relay. The relay sees the blob id in the
//! download requests, not which message named it. Structures are decoded strictly by hushwire;
//! a body that is none of these is refused, not shown.

use hushwire::attachment::AttachmentPointer;
use hushwire::mask::MaskedField;
use zeroize::Zeroizing;

use crate::client::BlobId;
use crate::frame::{BLOB_ID_LEN, valid_name};

const STRUCTURE: u8 = 0x00;
const FILE: u8 = 0x01;
const MASKED_FIELD: u8 = 0x02;
const GROUP_INVITE: u8 = 0x03;
const GROUP_KEY: u8 = 0x04;

/// Most member names an invitation (and a group's backed-up record) carries, the inviter
/// included: a support team's group, with room.
pub const MAX_GROUP_NAMES: usize = 64;

/// A group's name and its members' names, as an invitation and the backup carry them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupNames {
    pub group: String,
    pub members: Vec<String>,
}

/// A decoded message body.
pub enum Body {
    Text(String),
    File {
        blob: BlobId,
        pointer: AttachmentPointer,
    },
    MaskedField(MaskedField),
    GroupInvite {
        names: GroupNames,
        welcome: Vec<u8>,
    },
    GroupKey(Zeroizing<Vec<u8>>),
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Text that is not UTF-8.
    NotUtf8,
    /// An unknown structure kind.
    UnknownKind(u8),
    /// A file body too short for its blob id.
    Truncated,
    /// hushwire refused the pointer or the masked field.
    Pointer(hushwire::attachment::AttachmentError),
    MaskedField(hushwire::DecodeError),
    /// A group name or member name that breaks the name rules, or more than
    /// [`MAX_GROUP_NAMES`] members.
    GroupNames,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::NotUtf8 => write!(f, "a text message that is not UTF-8"),
            BodyError::UnknownKind(k) => write!(f, "a message of unknown kind {k:#04x}"),
            BodyError::Truncated => write!(f, "a truncated file message"),
            BodyError::Pointer(e) => write!(f, "a file message with a bad pointer: {e}"),
            BodyError::MaskedField(e) => write!(f, "a bad secure field: {e}"),
            BodyError::GroupNames => write!(
                f,
                "a group invitation with a bad group or member name, or more than \
                 {MAX_GROUP_NAMES} members"
            ),
        }
    }
}

impl std::error::Error for BodyError {}

/// A text body; `None` if the text starts with U+0000 (which would read as a structure).
pub fn text(text: &str) -> Option<Vec<u8>> {
    (!text.starts_with('\0')).then(|| text.as_bytes().to_vec())
}

/// A file body (it holds the file key: wiped on drop).
pub fn file(blob: &BlobId, pointer: &AttachmentPointer) -> Zeroizing<Vec<u8>> {
    let pointer = pointer.to_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(2 + BLOB_ID_LEN + pointer.len()));
    out.extend_from_slice(&[STRUCTURE, FILE]);
    out.extend_from_slice(blob);
    out.extend_from_slice(&pointer);
    out
}

/// A masked-field body.
pub fn masked_field(field: &MaskedField) -> Vec<u8> {
    let mut out = vec![STRUCTURE, MASKED_FIELD];
    out.extend_from_slice(&field.to_bytes());
    out
}

/// Encodes a group's names (`names` above).
///
/// # Errors
/// [`BodyError::GroupNames`] for a name that breaks the rules or too many members.
pub fn encode_group_names(names: &GroupNames) -> Result<Vec<u8>, BodyError> {
    if !valid_name(&names.group)
        || names.members.len() > MAX_GROUP_NAMES
        || !names.members.iter().all(|m| valid_name(m))
    {
        return Err(BodyError::GroupNames);
    }
    let mut out = Vec::new();
    // Lengths fit in a byte: names are at most MAX_NAME_LEN (64) bytes, members at most 64.
    let byte = |n: usize| u8::try_from(n).map_err(|_| BodyError::GroupNames);
    out.push(byte(names.group.len())?);
    out.extend_from_slice(names.group.as_bytes());
    out.push(byte(names.members.len())?);
    for member in &names.members {
        out.push(byte(member.len())?);
        out.extend_from_slice(member.as_bytes());
    }
    Ok(out)
}

fn take_name(bytes: &[u8]) -> Result<(String, &[u8]), BodyError> {
    let (&len, rest) = bytes.split_first().ok_or(BodyError::Truncated)?;
    let (name, rest) = rest
        .split_at_checked(usize::from(len))
        .ok_or(BodyError::Truncated)?;
    match std::str::from_utf8(name) {
        Ok(name) if valid_name(name) => Ok((name.to_owned(), rest)),
        _ => Err(BodyError::GroupNames),
    }
}

/// Decodes a group's names from the front of `bytes`; returns them and what follows.
///
/// # Errors
/// [`BodyError::Truncated`]; [`BodyError::GroupNames`] for a bad name or more than
/// [`MAX_GROUP_NAMES`] members.
pub fn decode_group_names(bytes: &[u8]) -> Result<(GroupNames, &[u8]), BodyError> {
    let (group, rest) = take_name(bytes)?;
    let (&count, mut rest) = rest.split_first().ok_or(BodyError::Truncated)?;
    if usize::from(count) > MAX_GROUP_NAMES {
        return Err(BodyError::GroupNames);
    }
    let mut members = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let (member, after) = take_name(rest)?;
        members.push(member);
        rest = after;
    }
    Ok((GroupNames { group, members }, rest))
}

/// An invitation to a group: its names and the signed welcome roster.
///
/// # Errors
/// As [`encode_group_names`].
pub fn group_invite(names: &GroupNames, welcome: &[u8]) -> Result<Vec<u8>, BodyError> {
    let mut out = vec![STRUCTURE, GROUP_INVITE];
    out.extend_from_slice(&encode_group_names(names)?);
    out.extend_from_slice(welcome);
    Ok(out)
}

/// A sender key's distribution message (it holds a chain key: wiped on drop).
pub fn group_key(distribution: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(2 + distribution.len()));
    out.extend_from_slice(&[STRUCTURE, GROUP_KEY]);
    out.extend_from_slice(distribution);
    out
}

/// Reads a body.
///
/// # Errors
/// [`BodyError`] for anything that is not exactly one of the forms above.
pub fn decode(bytes: &[u8]) -> Result<Body, BodyError> {
    match bytes {
        [STRUCTURE, FILE, rest @ ..] => {
            let (blob, pointer) = rest
                .split_first_chunk::<BLOB_ID_LEN>()
                .ok_or(BodyError::Truncated)?;
            Ok(Body::File {
                blob: *blob,
                pointer: AttachmentPointer::from_bytes(pointer).map_err(BodyError::Pointer)?,
            })
        }
        [STRUCTURE, MASKED_FIELD, rest @ ..] => Ok(Body::MaskedField(
            MaskedField::from_bytes(rest).map_err(BodyError::MaskedField)?,
        )),
        [STRUCTURE, GROUP_INVITE, rest @ ..] => {
            let (names, welcome) = decode_group_names(rest)?;
            if welcome.is_empty() {
                return Err(BodyError::Truncated);
            }
            Ok(Body::GroupInvite {
                names,
                welcome: welcome.to_vec(),
            })
        }
        [STRUCTURE, GROUP_KEY, rest @ ..] if !rest.is_empty() => {
            Ok(Body::GroupKey(Zeroizing::new(rest.to_vec())))
        }
        [STRUCTURE, GROUP_KEY] => Err(BodyError::Truncated),
        [STRUCTURE, kind, ..] => Err(BodyError::UnknownKind(*kind)),
        [STRUCTURE] => Err(BodyError::Truncated),
        _ => String::from_utf8(bytes.to_vec())
            .map(Body::Text)
            .map_err(|_| BodyError::NotUtf8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(count: usize) -> GroupNames {
        GroupNames {
            group: "card-support".into(),
            members: (0..count).map(|i| format!("member{i}")).collect(),
        }
    }

    #[test]
    fn group_names_round_trip_up_to_the_limit_and_no_further() {
        let at_limit = names(MAX_GROUP_NAMES);
        let bytes = group_invite(&at_limit, b"roster").unwrap();
        match decode(&bytes).unwrap() {
            Body::GroupInvite { names, welcome } => {
                assert_eq!(names, at_limit);
                assert_eq!(welcome, b"roster");
            }
            _ => panic!("not an invitation"),
        }
        assert!(matches!(
            group_invite(&names(MAX_GROUP_NAMES + 1), b"roster"),
            Err(BodyError::GroupNames)
        ));
        // A crafted invitation that claims one member more is refused on decode too.
        let mut crafted = encode_group_names(&at_limit).unwrap();
        let count_at = 1 + at_limit.group.len();
        crafted[count_at] += 1;
        crafted.extend_from_slice(&[7]);
        crafted.extend_from_slice(b"extra77");
        assert!(matches!(
            decode_group_names(&crafted),
            Err(BodyError::GroupNames)
        ));
    }

    #[test]
    fn bad_group_bodies_are_refused_not_shown() {
        let ok = group_invite(&names(2), b"roster").unwrap();
        // Every truncation of the names fails; none panics.
        for cut in 2..ok.len() - b"roster".len() {
            assert!(decode(&ok[..cut]).is_err(), "cut at {cut}");
        }
        // A name with a look-alike character is refused.
        let mut bad = names(1);
        bad.members[0] = "dаna".into(); // Cyrillic a
        assert!(group_invite(&bad, b"roster").is_err());
        assert!(matches!(decode(&[0, GROUP_KEY]), Err(BodyError::Truncated)));
        assert!(matches!(
            decode(&group_key(b"key")).unwrap(),
            Body::GroupKey(k) if k.as_slice() == b"key"
        ));
    }
}
