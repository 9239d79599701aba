//! History handover in a support conversation, by choice (SPEC.md §20.8).
//!
//! A member who joins a conversation (an operator taking over, a supervisor brought in) gets
//! nothing from before: group sender keys are handed over at their current position
//! ([`crate::group`]). A *current* member may choose to share a part of the transcript with
//! another current member by calling [`export_history`]: the core builds a *bundle* of exactly
//! the entries of the requested [`HistoryRange`] (the app passes the transcript it holds; the
//! core stores nothing), encrypts it as an attachment object ([`crate::attachment`], a fresh
//! key per bundle), and returns three things for the app to move:
//!
//! ```text
//!  exporter (Dana)                       relay                          recipient (Eli)
//!  export_history(range, transcript)
//!   object  ---- upload ---------------> stored ciphertext ---- fetch --> HistoryShare::open
//!   share   ---- Session::encrypt (1:1) ------------------------------->  (checks range and
//!   notice  ---- GroupSession::encrypt (the conversation) ----> visitor:   conversation binding)
//!                                                     HistoryNotice::check -> "history shared
//!                                                                           with Eli Jones"
//! ```
//!
//! - The bundle, the share and the notice all name the conversation, the exporter, the
//!   recipient, the range and the entry count; the receiver opens the bundle only if it is
//!   exactly the one its share names, for this conversation, from the member the 1:1 session
//!   authenticated, and every entry lies in the range ([`HistoryShare::open`]). Anything else
//!   is refused with a [`HistoryError`], and nothing changes (the functions hold no state).
//! - Nothing but an explicit call exports: no roster change, no relay message, no join makes
//!   the core build a share.
//!
//! ```
//! use hushwire::group::{AuthenticatedSender, GroupRole, GroupSession};
//! use hushwire::history::{self, HistoryEntry, HistoryNotice, HistoryRange, HistoryShare};
//! use hushwire::{IdentityKeyPair, Timestamp};
//! use rand_core::SeedableRng;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rng = chacha20::ChaCha20Rng::seed_from_u64(3);
//! let (dana, eli, visitor) = (
//!     IdentityKeyPair::generate(&mut rng),
//!     IdentityKeyPair::generate(&mut rng),
//!     IdentityKeyPair::generate(&mut rng),
//! );
//! let members = [(*eli.public(), GroupRole::Member), (*visitor.public(), GroupRole::Member)];
//! let created = GroupSession::create(&dana, &members, &mut rng)?;
//! let dana_view = created.session;
//! let eli_view = GroupSession::join(&eli, &created.welcome.bytes, dana.public(), &mut rng)?.session;
//!
//! // Dana's app holds the transcript; she shares messages 1 and 2 with Eli.
//! let at = Timestamp::from_unix_secs(1_700_000_000);
//! let transcript: Vec<HistoryEntry> = (0..4)
//!     .map(|i| HistoryEntry::new(i, at.plus_secs(i * 60), *visitor.public(), b"my card is blocked"))
//!     .collect();
//! let export = history::export_history(
//!     &dana_view,
//!     eli.public(),
//!     HistoryRange::indices(1, 3)?,
//!     &transcript,
//!     &mut rng,
//! )?;
//! // The app uploads `export.object`, sends `export.share` to Eli over their 1:1 session
//! // and `export.notice` into the conversation.
//! let share = HistoryShare::from_bytes(&export.share)?;
//! let from_dana = AuthenticatedSender::assume_authenticated(*dana.public()); // from the session
//! let bundle = share.open(&eli_view, &from_dana, &export.object)?;
//! assert_eq!(bundle.entries().iter().map(|e| e.index()).collect::<Vec<_>>(), [1, 2]);
//!
//! // Every member's client shows the notice as a transcript event.
//! let shared = HistoryNotice::from_bytes(&export.notice)?.check(&eli_view, dana.public())?;
//! assert_eq!(shared.recipient(), eli.public());
//! # Ok(())
//! # }
//! ```

mod error;
mod wire;

use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub use error::HistoryError;
pub use wire::{
    HISTORY_ENTRY_FIXED_LEN, HISTORY_HEADER_LEN, HISTORY_NOTICE_LEN, HISTORY_RANGE_LEN,
    HISTORY_SHARE_LEN, MIN_HISTORY_BUNDLE_LEN,
};

use crate::attachment::{self, AttachmentPointer};
use crate::group::{AuthenticatedSender, GroupSession};
use crate::keys::IdentityKey;
use crate::time::Timestamp;
use wire::Header;

/// Most entries one bundle holds.
pub const MAX_HISTORY_ENTRIES: u64 = 10_000;

/// Longest body of one entry: a message's longest plaintext ([`crate::MAX_PLAINTEXT_LEN`], 256 KiB).
pub const MAX_HISTORY_ENTRY_LEN: u64 = 256 * 1024;

/// Largest bundle plaintext, bytes (16 MiB): what the receiver decrypts in memory.
pub const MAX_HISTORY_BUNDLE_LEN: u64 = 16 * 1024 * 1024;

/// Who may export and open history in a conversation: its id and its current members, as
/// this device sees them. [`GroupSession`] implements it (the conversation id is the group
/// id; a member is current while it is in the roster, and this device while it was not
/// removed); a support conversation built on a group implements it the same way.
pub trait HistoryMembers {
    /// The conversation's 32-byte id.
    fn conversation_id(&self) -> [u8; 32];
    /// This device's identity in the conversation.
    fn own_identity(&self) -> &IdentityKey;
    /// Whether `who` is a current member, as this device sees the conversation now.
    fn is_current_member(&self, who: &IdentityKey) -> bool;
}

impl HistoryMembers for GroupSession {
    fn conversation_id(&self) -> [u8; 32] {
        *self.group_id().as_bytes()
    }

    fn own_identity(&self) -> &IdentityKey {
        GroupSession::own_identity(self)
    }

    fn is_current_member(&self, who: &IdentityKey) -> bool {
        let in_roster = self.roster().member(who).is_some();
        if who == GroupSession::own_identity(self) {
            in_roster && self.is_member()
        } else {
            in_roster
        }
    }
}

/// What a range counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RangeBy {
    /// The entries' transcript indices.
    Index,
    /// The entries' times, in seconds since the Unix epoch.
    Time,
}

/// The part of a transcript to share: the entries whose index (or time) `k` has
/// `start <= k < end` (SPEC.md §20.8.1). Never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HistoryRange {
    by: RangeBy,
    start: u64,
    end: u64,
}

impl HistoryRange {
    /// The entries with index `start <= index < end`.
    ///
    /// # Errors
    /// [`HistoryError::InvalidRange`] unless `start < end`.
    pub fn indices(start: u64, end: u64) -> Result<Self, HistoryError> {
        Self::new(RangeBy::Index, start, end)
    }

    /// The entries sent at `start <= sent_at < end` ("the last day": `now - 86,400 .. now + 1`).
    ///
    /// # Errors
    /// [`HistoryError::InvalidRange`] unless `start < end`.
    pub fn time(start: Timestamp, end: Timestamp) -> Result<Self, HistoryError> {
        Self::new(RangeBy::Time, start.as_unix_secs(), end.as_unix_secs())
    }

    fn new(by: RangeBy, start: u64, end: u64) -> Result<Self, HistoryError> {
        if start < end {
            Ok(HistoryRange { by, start, end })
        } else {
            Err(HistoryError::InvalidRange { start, end })
        }
    }

    /// What the range counts in.
    pub fn by(&self) -> RangeBy {
        self.by
    }

    /// The first index (or second) in the range.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The first index (or second) after the range.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Whether `entry` lies in the range.
    pub fn contains(&self, entry: &HistoryEntry) -> bool {
        let k = match self.by {
            RangeBy::Index => entry.index,
            RangeBy::Time => entry.sent_at.as_unix_secs(),
        };
        self.start <= k && k < self.end
    }
}

/// One transcript entry as the app holds it: its index in the app's transcript of the
/// conversation (strictly increasing), when it was sent, who sent it, and its body (the
/// app's message encoding). The body is zeroized on drop; `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    index: u64,
    sent_at: Timestamp,
    sender: IdentityKey,
    body: Zeroizing<Vec<u8>>,
}

impl HistoryEntry {
    /// An entry.
    pub fn new(index: u64, sent_at: Timestamp, sender: IdentityKey, body: &[u8]) -> Self {
        HistoryEntry {
            index,
            sent_at,
            sender,
            body: Zeroizing::new(body.to_vec()),
        }
    }

    /// The entry's index in the transcript.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// When it was sent.
    pub fn sent_at(&self) -> Timestamp {
        self.sent_at
    }

    /// Who sent it (as the exporter's transcript says).
    pub fn sender(&self) -> &IdentityKey {
        &self.sender
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

impl fmt::Debug for HistoryEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryEntry")
            .field("index", &self.index)
            .field("sent_at", &self.sent_at.as_unix_secs())
            .field("sender", &self.sender)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// What [`export_history`] gives the app to move.
#[non_exhaustive]
pub struct HistoryExport {
    /// The encrypted bundle: upload it where the recipient can fetch it (the relay's
    /// attachment store, a CDN). It reveals only a padding bucket of the bundle's length.
    pub object: Vec<u8>,
    /// The history share (type `0x2B`, holds the bundle's key): send it to the recipient over
    /// the 1:1 session, never in the clear. Zeroized on drop.
    pub share: Zeroizing<Vec<u8>>,
    /// The history notice (type `0x2C`): send it into the conversation
    /// ([`GroupSession::encrypt`]) so that every member's client shows the handover.
    pub notice: Vec<u8>,
    /// Entries in the bundle.
    pub entry_count: u32,
    /// Bytes of the bundle plaintext.
    pub bundle_len: u64,
}

impl fmt::Debug for HistoryExport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryExport")
            .field("object_len", &self.object.len())
            .field("entry_count", &self.entry_count)
            .field("bundle_len", &self.bundle_len)
            .finish_non_exhaustive()
    }
}

/// Builds a history bundle of exactly the entries of `transcript` inside `range`, for the
/// current member `recipient` of `conversation` (SPEC.md §20.8.5). Only an explicit call
/// exports; the core never does it on its own.
///
/// `transcript` is what the app holds of the conversation, in strictly increasing index
/// order (it may hold more than the range; only the entries inside it go into the bundle).
/// Randomness: the bundle's attachment key and salt (SPEC.md §16.3).
///
/// # Errors
/// In this order: [`HistoryError::NotMember`] if this device is not a current member,
/// [`HistoryError::OwnIdentity`], [`HistoryError::RecipientNotMember`],
/// [`HistoryError::TranscriptOutOfOrder`], [`HistoryError::EntryTooLarge`] for an entry in
/// the range above [`MAX_HISTORY_ENTRY_LEN`], [`HistoryError::NothingInRange`],
/// [`HistoryError::TooManyEntries`], [`HistoryError::BundleTooLarge`]. Nothing is built on
/// error.
pub fn export_history<R: CryptoRng + ?Sized>(
    conversation: &impl HistoryMembers,
    recipient: &IdentityKey,
    range: HistoryRange,
    transcript: &[HistoryEntry],
    rng: &mut R,
) -> Result<HistoryExport, HistoryError> {
    let exporter = *conversation.own_identity();
    if !conversation.is_current_member(&exporter) {
        return Err(HistoryError::NotMember);
    }
    if *recipient == exporter {
        return Err(HistoryError::OwnIdentity);
    }
    if !conversation.is_current_member(recipient) {
        return Err(HistoryError::RecipientNotMember {
            recipient: recipient.to_bytes(),
        });
    }
    let mut previous: Option<u64> = None;
    for (position, entry) in transcript.iter().enumerate() {
        if previous.is_some_and(|p| entry.index <= p) {
            return Err(HistoryError::TranscriptOutOfOrder { position });
        }
        previous = Some(entry.index);
    }
    let mut selected: Vec<&HistoryEntry> = Vec::new();
    for entry in transcript.iter().filter(|e| range.contains(e)) {
        let len = u64::try_from(entry.body.len()).unwrap_or(u64::MAX);
        if len > MAX_HISTORY_ENTRY_LEN {
            return Err(HistoryError::EntryTooLarge {
                index: entry.index,
                len,
                max: MAX_HISTORY_ENTRY_LEN,
            });
        }
        selected.push(entry);
    }
    let count = u64::try_from(selected.len()).unwrap_or(u64::MAX);
    if count == 0 {
        return Err(HistoryError::NothingInRange);
    }
    if count > MAX_HISTORY_ENTRIES {
        return Err(HistoryError::TooManyEntries {
            count,
            max: MAX_HISTORY_ENTRIES,
        });
    }
    let bundle_len = wire::bundle_len(selected.iter().copied());
    if bundle_len > MAX_HISTORY_BUNDLE_LEN {
        return Err(HistoryError::BundleTooLarge {
            len: bundle_len,
            max: MAX_HISTORY_BUNDLE_LEN,
        });
    }
    let header = Header {
        conversation_id: conversation.conversation_id(),
        exporter,
        recipient: *recipient,
        range,
        // At most MAX_HISTORY_ENTRIES (< 2^32), checked above.
        entry_count: u32::try_from(count).unwrap_or(u32::MAX),
    };
    let plaintext = wire::encode_bundle(&header, &selected);
    let (object, pointer) = attachment::encrypt(&plaintext, rng)?;
    let share = wire::encode_share(&header, &pointer);
    let notice = wire::encode_notice(&header, pointer.ciphertext_sha256());
    Ok(HistoryExport {
        object,
        share,
        notice,
        entry_count: header.entry_count,
        bundle_len,
    })
}

/// A decoded history share: what the recipient needs to fetch, check and open a bundle.
/// It holds the bundle's key: `Debug` shows only the header.
#[derive(Clone, PartialEq, Eq)]
pub struct HistoryShare {
    header: Header,
    pointer: AttachmentPointer,
}

impl HistoryShare {
    /// Decodes a share (type `0x2B`) strictly (SPEC.md §20.8.3).
    ///
    /// # Errors
    /// [`HistoryError::Malformed`] with the first deviation from the layout.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HistoryError> {
        let (header, pointer) = wire::decode_share(bytes).map_err(HistoryError::Malformed)?;
        Ok(HistoryShare { header, pointer })
    }

    /// The encoding; it holds the bundle's key, so it is zeroized on drop.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        wire::encode_share(&self.header, &self.pointer)
    }

    /// The conversation's id.
    pub fn conversation_id(&self) -> &[u8; 32] {
        &self.header.conversation_id
    }

    /// Who exported the history.
    pub fn exporter(&self) -> &IdentityKey {
        &self.header.exporter
    }

    /// Who the history is for.
    pub fn recipient(&self) -> &IdentityKey {
        &self.header.recipient
    }

    /// The range shared.
    pub fn range(&self) -> HistoryRange {
        self.header.range
    }

    /// Entries in the bundle.
    pub fn entry_count(&self) -> u32 {
        self.header.entry_count
    }

    /// The stored object's length: what to fetch.
    pub fn object_len(&self) -> u64 {
        self.pointer.ciphertext_len()
    }

    /// The stored object's SHA-256 (its storage key, and what the notice names).
    pub fn object_sha256(&self) -> &[u8; 32] {
        self.pointer.ciphertext_sha256()
    }

    /// Checks the share against `conversation` and the channel that delivered it, then the
    /// object, and returns exactly the shared entries (SPEC.md §20.8.6).
    ///
    /// `from` is the peer of the 1:1 session that decrypted the share.
    ///
    /// # Errors
    /// In this order: [`HistoryError::NotMember`], [`HistoryError::WrongConversation`],
    /// [`HistoryError::NotForUs`], [`HistoryError::SenderMismatch`],
    /// [`HistoryError::ExporterNotMember`], [`HistoryError::Attachment`] (the object's length
    /// and digest, then each chunk), [`HistoryError::BundleMalformed`],
    /// [`HistoryError::BundleMismatch`], then per entry [`HistoryError::EntriesOutOfOrder`]
    /// and [`HistoryError::EntryOutsideRange`]. Holds no state: nothing changes on error.
    pub fn open(
        &self,
        conversation: &impl HistoryMembers,
        from: &AuthenticatedSender,
        object: &[u8],
    ) -> Result<HistoryBundle, HistoryError> {
        let own = *conversation.own_identity();
        if !conversation.is_current_member(&own) {
            return Err(HistoryError::NotMember);
        }
        if !bool::from(
            self.header
                .conversation_id
                .ct_eq(&conversation.conversation_id()),
        ) {
            return Err(HistoryError::WrongConversation);
        }
        if self.header.recipient != own {
            return Err(HistoryError::NotForUs);
        }
        if self.header.exporter != *from.identity() {
            return Err(HistoryError::SenderMismatch);
        }
        if !conversation.is_current_member(&self.header.exporter) {
            return Err(HistoryError::ExporterNotMember {
                exporter: self.header.exporter.to_bytes(),
            });
        }
        self.pointer.verify_digest(object)?;
        let plaintext = Zeroizing::new(attachment::decrypt(&self.pointer, object)?);
        let (header, entries) =
            wire::decode_bundle(&plaintext).map_err(HistoryError::BundleMalformed)?;
        if header != self.header {
            return Err(HistoryError::BundleMismatch);
        }
        let mut previous: Option<u64> = None;
        for (position, entry) in entries.iter().enumerate() {
            if previous.is_some_and(|p| entry.index <= p) {
                return Err(HistoryError::EntriesOutOfOrder {
                    position: u64::try_from(position).unwrap_or(u64::MAX),
                });
            }
            if !header.range.contains(entry) {
                return Err(HistoryError::EntryOutsideRange { index: entry.index });
            }
            previous = Some(entry.index);
        }
        Ok(HistoryBundle { header, entries })
    }
}

impl fmt::Debug for HistoryShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryShare")
            .field("exporter", &self.header.exporter)
            .field("recipient", &self.header.recipient)
            .field("range", &self.header.range)
            .field("entry_count", &self.header.entry_count)
            .finish_non_exhaustive()
    }
}

/// An opened bundle: exactly the entries of the shared range, as the exporter held them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryBundle {
    header: Header,
    entries: Vec<HistoryEntry>,
}

impl HistoryBundle {
    /// Who exported it.
    pub fn exporter(&self) -> &IdentityKey {
        &self.header.exporter
    }

    /// The range it covers.
    pub fn range(&self) -> HistoryRange {
        self.header.range
    }

    /// The entries, in index order.
    pub fn entries(&self) -> &[HistoryEntry] {
        &self.entries
    }

    /// The entries, taken out.
    pub fn into_entries(self) -> Vec<HistoryEntry> {
        self.entries
    }
}

/// A decoded history notice: a member shared history with another. Every member's client
/// shows it as a transcript event after [`check`](Self::check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryNotice {
    header: Header,
    object_sha256: [u8; 32],
}

impl HistoryNotice {
    /// Decodes a notice (type `0x2C`) strictly (SPEC.md §20.8.4).
    ///
    /// # Errors
    /// [`HistoryError::Malformed`] with the first deviation from the layout.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HistoryError> {
        let (header, object_sha256) =
            wire::decode_notice(bytes).map_err(HistoryError::Malformed)?;
        Ok(HistoryNotice {
            header,
            object_sha256,
        })
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        wire::encode_notice(&self.header, &self.object_sha256)
    }

    /// Checks the notice against `conversation` and the member the group message came from
    /// (`sender`, as [`GroupSession::decrypt`] authenticated it), and returns the event to
    /// show (SPEC.md §20.8.6).
    ///
    /// # Errors
    /// In this order: [`HistoryError::WrongConversation`], [`HistoryError::SenderMismatch`]
    /// (the group message's sender is not the exporter), [`HistoryError::ExporterNotMember`],
    /// [`HistoryError::RecipientNotMember`] (show it as an alarm: history was shared with
    /// someone who cannot read the conversation).
    pub fn check(
        &self,
        conversation: &impl HistoryMembers,
        sender: &IdentityKey,
    ) -> Result<HistoryShared, HistoryError> {
        if !bool::from(
            self.header
                .conversation_id
                .ct_eq(&conversation.conversation_id()),
        ) {
            return Err(HistoryError::WrongConversation);
        }
        if self.header.exporter != *sender {
            return Err(HistoryError::SenderMismatch);
        }
        if !conversation.is_current_member(&self.header.exporter) {
            return Err(HistoryError::ExporterNotMember {
                exporter: self.header.exporter.to_bytes(),
            });
        }
        if !conversation.is_current_member(&self.header.recipient) {
            return Err(HistoryError::RecipientNotMember {
                recipient: self.header.recipient.to_bytes(),
            });
        }
        Ok(HistoryShared {
            exporter: self.header.exporter,
            recipient: self.header.recipient,
            range: self.header.range,
            entry_count: self.header.entry_count,
            object_sha256: self.object_sha256,
        })
    }
}

/// The transcript event of a checked notice: "Dana shared history with Eli Jones". The app
/// names both from the conversation's verified roster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryShared {
    exporter: IdentityKey,
    recipient: IdentityKey,
    range: HistoryRange,
    entry_count: u32,
    object_sha256: [u8; 32],
}

impl HistoryShared {
    /// Who shared.
    pub fn exporter(&self) -> &IdentityKey {
        &self.exporter
    }

    /// With whom.
    pub fn recipient(&self) -> &IdentityKey {
        &self.recipient
    }

    /// Which range.
    pub fn range(&self) -> HistoryRange {
        self.range
    }

    /// How many entries.
    pub fn entry_count(&self) -> u32 {
        self.entry_count
    }

    /// The bundle object's SHA-256 (the same as in the recipient's share).
    pub fn object_sha256(&self) -> &[u8; 32] {
        &self.object_sha256
    }
}

#[cfg(test)]
mod tests;
