//! Byte layouts of history handover (SPEC.md §20.8.1–§20.8.4): the range, the header the
//! bundle, the share and the notice have in common, the bundle's entries.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::{
    HistoryEntry, HistoryRange, MAX_HISTORY_BUNDLE_LEN, MAX_HISTORY_ENTRIES, MAX_HISTORY_ENTRY_LEN,
    RangeBy,
};
use crate::attachment::{AttachmentPointer, POINTER_BASE_LEN};
use crate::error::DecodeError;
use crate::keys::IdentityKey;
use crate::time::Timestamp;
use crate::wire::{
    Reader, TYPE_HISTORY_BUNDLE, TYPE_HISTORY_NOTICE, TYPE_HISTORY_SHARE, WIRE_VERSION,
    expect_header,
};

/// Bytes of an encoded range: kind (1), start (8), end (8).
pub const HISTORY_RANGE_LEN: usize = 17;
/// Bytes of the header common to the bundle, the share and the notice, version and type
/// included: conversation id, exporter, recipient, range, entry count.
pub const HISTORY_HEADER_LEN: usize = 2 + 32 + 32 + 32 + HISTORY_RANGE_LEN + 4;
/// Bytes an entry takes in a bundle besides its body: index, time, sender, body length.
pub const HISTORY_ENTRY_FIXED_LEN: usize = 8 + 8 + 32 + 4;
/// Length of a history share (type `0x2B`): the header and a 120-byte attachment pointer.
pub const HISTORY_SHARE_LEN: usize = HISTORY_HEADER_LEN + POINTER_BASE_LEN;
/// Length of a history notice (type `0x2C`): the header and the bundle object's SHA-256.
pub const HISTORY_NOTICE_LEN: usize = HISTORY_HEADER_LEN + 32;
/// The shortest bundle: the header and one entry with an empty body.
pub const MIN_HISTORY_BUNDLE_LEN: usize = HISTORY_HEADER_LEN + HISTORY_ENTRY_FIXED_LEN;

const RANGE_BY_INDEX: u8 = 0x01;
const RANGE_BY_TIME: u8 = 0x02;

/// What the bundle, the share and the notice all name, and must agree on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) conversation_id: [u8; 32],
    pub(crate) exporter: IdentityKey,
    pub(crate) recipient: IdentityKey,
    pub(crate) range: HistoryRange,
    pub(crate) entry_count: u32,
}

impl Header {
    fn encode(&self, type_byte: u8, out: &mut Vec<u8>) {
        out.extend_from_slice(&[WIRE_VERSION, type_byte]);
        out.extend_from_slice(&self.conversation_id);
        out.extend_from_slice(self.exporter.as_bytes());
        out.extend_from_slice(self.recipient.as_bytes());
        out.push(match self.range.by {
            RangeBy::Index => RANGE_BY_INDEX,
            RangeBy::Time => RANGE_BY_TIME,
        });
        out.extend_from_slice(&self.range.start.to_be_bytes());
        out.extend_from_slice(&self.range.end.to_be_bytes());
        out.extend_from_slice(&self.entry_count.to_be_bytes());
    }

    /// Reads the header after its version and type.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let conversation_id = r.array::<32>()?;
        let exporter = read_key(r, "exporter")?;
        let recipient = read_key(r, "recipient")?;
        let by = match r.u8()? {
            RANGE_BY_INDEX => RangeBy::Index,
            RANGE_BY_TIME => RangeBy::Time,
            _ => {
                return Err(DecodeError::InvalidField {
                    field: "range_kind",
                });
            }
        };
        let start = read_u64(r)?;
        let end = read_u64(r)?;
        if start >= end {
            return Err(DecodeError::InvalidField { field: "range_end" });
        }
        let entry_count = r.u32()?;
        if entry_count == 0 || u64::from(entry_count) > MAX_HISTORY_ENTRIES {
            return Err(DecodeError::InvalidField {
                field: "entry_count",
            });
        }
        Ok(Header {
            conversation_id,
            exporter,
            recipient,
            range: HistoryRange { by, start, end },
            entry_count,
        })
    }
}

fn read_u64(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
    Ok(u64::from_be_bytes(r.array::<8>()?))
}

fn read_key(r: &mut Reader<'_>, field: &'static str) -> Result<IdentityKey, DecodeError> {
    IdentityKey::from_bytes(r.array_ref::<32>()?).map_err(|_| DecodeError::InvalidField { field })
}

/// The bundle plaintext (type `0x61`, SPEC.md §20.8.2).
pub(crate) fn encode_bundle(header: &Header, entries: &[&HistoryEntry]) -> Zeroizing<Vec<u8>> {
    let len = bundle_len(entries.iter().copied());
    let mut out = Zeroizing::new(Vec::with_capacity(usize::try_from(len).unwrap_or(0)));
    header.encode(TYPE_HISTORY_BUNDLE, &mut out);
    for entry in entries {
        out.extend_from_slice(&entry.index.to_be_bytes());
        out.extend_from_slice(&entry.sent_at.as_unix_secs().to_be_bytes());
        out.extend_from_slice(entry.sender.as_bytes());
        // The export checked every body against MAX_HISTORY_ENTRY_LEN (< 2^32).
        out.extend_from_slice(
            &u32::try_from(entry.body.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(&entry.body);
    }
    out
}

/// The length [`encode_bundle`] gives for these entries.
pub(crate) fn bundle_len<'a>(entries: impl Iterator<Item = &'a HistoryEntry>) -> u64 {
    entries.fold(u64::try_from(HISTORY_HEADER_LEN).unwrap_or(0), |n, e| {
        n.saturating_add(u64::try_from(HISTORY_ENTRY_FIXED_LEN + e.body.len()).unwrap_or(u64::MAX))
    })
}

/// Decodes a bundle plaintext strictly (SPEC.md §20.8.2). Order and range of the entries are
/// checked by the caller against the share.
pub(crate) fn decode_bundle(bytes: &[u8]) -> Result<(Header, Vec<HistoryEntry>), DecodeError> {
    let mut r = Reader::new(bytes);
    let max = usize::try_from(MAX_HISTORY_BUNDLE_LEN).unwrap_or(usize::MAX);
    expect_header(&mut r, bytes.len(), TYPE_HISTORY_BUNDLE, max)?;
    let header = Header::decode(&mut r)?;
    let mut entries = Vec::with_capacity(
        usize::try_from(header.entry_count)
            .unwrap_or(0)
            .min(r.rest_len() / HISTORY_ENTRY_FIXED_LEN),
    );
    // A conversation has few authors: each distinct sender key is checked once (the identity
    // key checks of §2.3 dominate the open otherwise).
    let mut checked: BTreeMap<[u8; 32], IdentityKey> = BTreeMap::new();
    for _ in 0..header.entry_count {
        let index = read_u64(&mut r)?;
        let sent_at = Timestamp::from_unix_secs(read_u64(&mut r)?);
        let sender_bytes = r.array::<32>()?;
        let sender = match checked.get(&sender_bytes) {
            Some(key) => *key,
            None => {
                let key = IdentityKey::from_bytes(&sender_bytes)
                    .map_err(|_| DecodeError::InvalidField { field: "sender" })?;
                checked.insert(sender_bytes, key);
                key
            }
        };
        let len = r.u32()?;
        if u64::from(len) > MAX_HISTORY_ENTRY_LEN {
            return Err(DecodeError::InvalidField { field: "body_len" });
        }
        let body = r.take(usize::try_from(len).unwrap_or(usize::MAX))?;
        entries.push(HistoryEntry {
            index,
            sent_at,
            sender,
            body: Zeroizing::new(body.to_vec()),
        });
    }
    r.finish()?;
    Ok((header, entries))
}

/// The share (type `0x2B`, SPEC.md §20.8.3): header and pointer.
pub(crate) fn encode_share(header: &Header, pointer: &AttachmentPointer) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(HISTORY_SHARE_LEN));
    header.encode(TYPE_HISTORY_SHARE, &mut out);
    out.extend_from_slice(&pointer.to_bytes());
    out
}

pub(crate) fn decode_share(bytes: &[u8]) -> Result<(Header, AttachmentPointer), DecodeError> {
    let mut r = Reader::new(bytes);
    expect_header(&mut r, bytes.len(), TYPE_HISTORY_SHARE, HISTORY_SHARE_LEN)?;
    let header = Header::decode(&mut r)?;
    let pointer = AttachmentPointer::from_bytes(r.take(POINTER_BASE_LEN)?)
        .map_err(|_| DecodeError::InvalidField { field: "pointer" })?;
    let len = pointer.plaintext_len();
    let min = u64::try_from(MIN_HISTORY_BUNDLE_LEN).unwrap_or(0);
    if len < min || len > MAX_HISTORY_BUNDLE_LEN {
        return Err(DecodeError::InvalidField {
            field: "plaintext_len",
        });
    }
    r.finish()?;
    Ok((header, pointer))
}

/// The notice (type `0x2C`, SPEC.md §20.8.4): header and the object's SHA-256.
pub(crate) fn encode_notice(header: &Header, object_sha256: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HISTORY_NOTICE_LEN);
    header.encode(TYPE_HISTORY_NOTICE, &mut out);
    out.extend_from_slice(object_sha256);
    out
}

pub(crate) fn decode_notice(bytes: &[u8]) -> Result<(Header, [u8; 32]), DecodeError> {
    let mut r = Reader::new(bytes);
    expect_header(&mut r, bytes.len(), TYPE_HISTORY_NOTICE, HISTORY_NOTICE_LEN)?;
    let header = Header::decode(&mut r)?;
    let digest = r.array::<32>()?;
    r.finish()?;
    Ok((header, digest))
}
