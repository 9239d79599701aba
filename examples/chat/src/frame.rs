//! The relay protocol's frames: a 4-byte big-endian length, then a body of at most
//! [`MAX_FRAME_LEN`] bytes that starts with a tag byte.
//!
//! This module uses only `std` (no tokio, no hushwire), so the fuzz target
//! `fuzz/fuzz_targets/relay_frame.rs` includes it as it is. Decoding is strict: every body has
//! exactly one encoding, so `decode` then `encode` gives back the same bytes, and no input
//! makes it panic.
//!
//! ```text
//! frame      = length(4, big endian, 1..=MAX_FRAME_LEN) body(length)
//! body       = tag(1) fields
//! relay → client                          client → relay
//! 0x01 Challenge  nonce(32)               0x81 Auth          identity(32) signature(64)
//! 0x02 Welcome    root_id(4) root(32)     0x82 Register      name(rest, UTF-8, 1..=64 bytes)
//!                 queued(4)               0x83 PublishBundle bundle(rest)
//! 0x03 Ok                                 0x84 FetchBundle   identity(32)
//! 0x04 Error      code(1)                 0x85 Lookup        name(rest)
//! 0x05 Bundle     bundle(rest)            0x86 GetCertificate
//! 0x06 Identity   identity(32)            0x87 Send          envelope(rest)
//! 0x07 Certificate certificate(rest)      0x88 Ack           id(8)
//! 0x08 Deliver    id(8) envelope(rest)    0x89 Ping
//! 0x09 Accepted   id(8)                  0x8A Receive
//! 0x0A Pong                               0x8B Reregister    name(rest)
//! 0x0B Notice     code(1)                 0x8C BlobBegin     len(8)
//! 0x0C BlobId     id(16)                  0x8D BlobPut       id(16) offset(8) data(rest)
//! 0x0D BlobData   data(rest)              0x8E BlobEnd       id(16) sha256(32)
//! 0x0E Backup     backup(rest)            0x8F BlobGet       id(16) offset(8) len(4)
//! 0x0F Erased     queue(4) prekeys(4)     0x90 PutBackup     backup(rest)
//!                 devices(4) blobs(4)     0x91 GetBackup
//!                 backups(4)              0x92 Erase
//! 0x10 EnvelopeKey key(rest)              0x93 PublishEnvelopeKey key(rest, ≤ 1,286 B)
//! 0x11 DeviceList list(rest)               0x94 FetchEnvelopeKey   identity(32)
//!                                         0xA0 PutDeviceList list(rest, ≤ 4,597 B)
//!                                         0xA1 GetDeviceList name(rest)
//!                                         0xA2 SendDirect    to(32) message(rest)
//! ```
//!
//! **Users with several devices** (hushwire SPEC.md §19). `PutDeviceList` stores a user's
//! signed device list (hushwire's type `0x54`), under the list's user id, which must be a valid
//! name: the relay decodes it with every signature and refuses (`Error(Invalid)`) a list that
//! does not carry the sending device live, or — when none is stored yet — whose name is
//! registered to a device the list does not carry; a later list must be a valid successor of
//! the stored one (same user key, higher version, devices leave only with a tombstone:
//! `Error(StaleDeviceList)` otherwise). `GetDeviceList` is answered by `DeviceList`, or
//! `Error(NoDeviceList)`. The relay serves lists, it never vouches for them: each client checks
//! the signatures and the successor rules itself. A device carried live by a stored list is a
//! device of that user on this relay: it signs in with its own key, gets sender certificates
//! naming the user, publishes prekeys, and has its own queue (envelopes are queued per
//! device, never per user). `SendDirect` queues `message` for the device `to` whether or not
//! it is registered: it carries the linking run (hushwire SPEC.md §19.11) before the new
//! device is listed and so before it has a sender certificate to seal with; it is delivered
//! as a `Deliver` whose envelope is [`DIRECT_MARK`] `from(32) message`, `from` being the
//! sender's signed-in identity key (the 1:1 session inside authenticates it end to end).
//!
//! `PublishEnvelopeKey` stores the device's signed envelope KEM key (hushwire's type `0x36`
//! item, SPEC.md §13.8.1) beside its prekeys, replacing the one stored; the relay treats it
//! as opaque bytes of at most [`MAX_ENVELOPE_KEY_LEN`] (`Error(Invalid)` above, or from a
//! device that registered no name). `FetchEnvelopeKey` is answered by `EnvelopeKey`, or
//! `Error(NoEnvelopeKey)`: a sender seals hybrid envelopes to a key it fetched, classical ones
//! otherwise, and checks the key's owner and signature itself. They are frames of their own so
//! that `PublishBundle`/`Bundle` keep their layout and clients that predate them keep working
//! (a new client on a relay that predates them is disconnected at its first `FetchEnvelopeKey`,
//! an unknown tag). `Erase` deletes the stored key and counts it under `prekeys`.
//!
//! The `Blob*` frames are the relay's blob store (`relay::blobs`): an encrypted attachment
//! object is uploaded in parts (`BlobBegin` reserves its length against the uploader's quota
//! and returns a random id, `BlobPut` appends the next part, `BlobEnd` checks the SHA-256 and
//! makes it downloadable) and downloaded by id and range (`BlobGet`, answered by `BlobData`).
//!
//! `PutBackup` and `GetBackup` keep one opaque backup per registered name (`relay`'s
//! `backups` table): the encrypted key backup of hushwire's `backup` module, which only the
//! user's recovery key opens. `PutBackup` replaces the stored one in one step (answered by
//! `Ok`, or `Error(BackupTooLarge)` above [`MAX_STORED_BACKUP_LEN`]); `GetBackup` is answered
//! by `Backup`, or `Error(NoBackup)`. Both act on the name the signed-in device holds now: a
//! device that holds no name, or another name, cannot read or replace it.
//!
//! `Erase` is erasure on request (a right to be forgotten): the relay deletes everything it
//! holds for the signed-in device and the name it holds — its queue, prekeys and envelope KEM
//! key, device registration, blobs and the name's backup — and answers `Erased` with how many
//! items of each kind went (rows: one per envelope, prekey or envelope key, registration,
//! blob, backup). Sending it
//! again is answered with zeros.
//!
//! Before the client signed in, the only frame the relay accepts is `Auth`, and no frame may
//! be longer than [`MAX_SIGN_IN_FRAME_LEN`]. `Notice` is the relay speaking unprompted (why it
//! closes a connection, or that deliveries moved to another connection); `Error` answers a
//! request.
//!
//! `rest` fields run to the end of the body and must not be empty.

use std::fmt;

/// Largest frame body: room for the largest sealed envelope (about 260 KiB) with margin.
pub const MAX_FRAME_LEN: usize = 1 << 20;
/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;
/// Largest frame body a relay reads before the client signed in: an `Auth` frame (97 bytes)
/// with a little room. A longer length prefix closes the connection before anything is
/// allocated for it.
pub const MAX_SIGN_IN_FRAME_LEN: usize = 128;
/// Longest user name a relay registers, in UTF-8 bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Bytes of a blob id (random, drawn by the relay: knowing the id is what lets a device
/// download a blob).
pub const BLOB_ID_LEN: usize = 16;
/// Most bytes of the backup a relay keeps per name (`PutBackup`): a hushwire key backup of a
/// device in a few hundred conversations and groups, appended to for a long while, with room.
/// Below [`MAX_FRAME_LEN`], so one frame carries it.
pub const MAX_STORED_BACKUP_LEN: usize = 512 * 1024;
/// Most bytes of the envelope KEM key a relay stores per device (`PublishEnvelopeKey`): the
/// exact length of hushwire's published envelope key, `hushwire::sealed::ENVELOPE_KEY_LEN`
/// (this module uses only `std`; `relay` checks the two agree at compile time).
pub const MAX_ENVELOPE_KEY_LEN: usize = 1_286;
/// Most bytes of a device list a relay stores (`PutDeviceList`): hushwire's
/// `MAX_DEVICE_LIST_LEN` (`relay` checks the two agree at compile time).
pub const MAX_DEVICE_LIST_LEN: usize = 4_597;
/// First byte of a delivered envelope that came by `SendDirect`: `0xD1 from(32) message`.
/// No hushwire structure starts with it (they start with their version, `0x01`).
pub const DIRECT_MARK: u8 = 0xD1;

const _: () = assert!(MAX_STORED_BACKUP_LEN + 1 < MAX_FRAME_LEN);

/// Why the relay refused a request. Sent as one byte; the connection stays open unless the
/// code says otherwise (see [`ErrorCode::closes_connection`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The frame is not allowed here (for example before authentication). Closes.
    BadRequest,
    /// The challenge signature did not verify. Closes.
    Unauthorized,
    /// No device with that identity key is registered with this relay.
    UnknownRecipient,
    /// The name is registered to another device.
    NameTaken,
    /// No device registered that name.
    UnknownName,
    /// The device has not published prekeys (or they are all gone).
    NoBundle,
    /// The bundle, envelope, envelope key or name is malformed, too large or not for this
    /// device.
    Invalid,
    /// The recipient's queue (or the device's prekey store) is full.
    Full,
    /// The relay failed (its database); try again later.
    Internal,
    /// Another connection of the same device asked for the deliveries: they go there now.
    /// The connection stays open for requests.
    Replaced,
    /// The relay is shutting down (a restart, usually). Closes.
    ShuttingDown,
    /// The client did not sign in within the relay's sign-in deadline. Closes.
    SignInTimeout,
    /// The relay has no room for another connection now; try again later. Closes.
    Busy,
    /// Too many connections from this address are still signing in. Closes.
    TooManyFromAddress,
    /// This relay speaks TLS only (the client connected with plain TCP). Closes.
    TlsRequired,
    /// The connection sent nothing for the idle timeout. Closes.
    Idle,
    /// The deliveries are back on this connection (the session that took them over ended).
    Receiving,
    /// The blob is larger than the relay stores, or a part or range larger than a frame
    /// carries.
    BlobTooLarge,
    /// The upload would take the device over its blob quota (until some of its blobs expire).
    QuotaExceeded,
    /// No blob with that id: never created, expired, or not completely uploaded yet.
    NoSuchBlob,
    /// A part not at the end of the upload so far, past the announced length, or a range
    /// outside the blob; or an upload that ended short of its length or with another SHA-256.
    BadRange,
    /// The backup is larger than [`MAX_STORED_BACKUP_LEN`]: nothing was stored, the previous
    /// backup stays.
    BackupTooLarge,
    /// The relay holds no backup for this device's name.
    NoBackup,
    /// The device published no envelope KEM key (hybrid envelopes off, or an older client):
    /// seal classical envelopes to it.
    NoEnvelopeKey,
    /// The relay holds no device list for that name.
    NoDeviceList,
    /// The device list is not a successor of the one stored (an older or equal version, a
    /// device dropped without a tombstone, another user key).
    StaleDeviceList,
}

impl ErrorCode {
    const ALL: [ErrorCode; 26] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::UnknownRecipient,
        ErrorCode::NameTaken,
        ErrorCode::UnknownName,
        ErrorCode::NoBundle,
        ErrorCode::Invalid,
        ErrorCode::Full,
        ErrorCode::Internal,
        ErrorCode::Replaced,
        ErrorCode::ShuttingDown,
        ErrorCode::SignInTimeout,
        ErrorCode::Busy,
        ErrorCode::TooManyFromAddress,
        ErrorCode::TlsRequired,
        ErrorCode::Idle,
        ErrorCode::Receiving,
        ErrorCode::BlobTooLarge,
        ErrorCode::QuotaExceeded,
        ErrorCode::NoSuchBlob,
        ErrorCode::BadRange,
        ErrorCode::BackupTooLarge,
        ErrorCode::NoBackup,
        ErrorCode::NoEnvelopeKey,
        ErrorCode::NoDeviceList,
        ErrorCode::StaleDeviceList,
    ];

    pub fn to_byte(self) -> u8 {
        match self {
            ErrorCode::BadRequest => 1,
            ErrorCode::Unauthorized => 2,
            ErrorCode::UnknownRecipient => 3,
            ErrorCode::NameTaken => 4,
            ErrorCode::UnknownName => 5,
            ErrorCode::NoBundle => 6,
            ErrorCode::Invalid => 7,
            ErrorCode::Full => 8,
            ErrorCode::Internal => 9,
            ErrorCode::Replaced => 10,
            ErrorCode::ShuttingDown => 11,
            ErrorCode::SignInTimeout => 12,
            ErrorCode::Busy => 13,
            ErrorCode::TooManyFromAddress => 14,
            ErrorCode::TlsRequired => 15,
            ErrorCode::Idle => 16,
            ErrorCode::Receiving => 17,
            ErrorCode::BlobTooLarge => 18,
            ErrorCode::QuotaExceeded => 19,
            ErrorCode::NoSuchBlob => 20,
            ErrorCode::BadRange => 21,
            ErrorCode::BackupTooLarge => 22,
            ErrorCode::NoBackup => 23,
            ErrorCode::NoEnvelopeKey => 24,
            ErrorCode::NoDeviceList => 25,
            ErrorCode::StaleDeviceList => 26,
        }
    }

    pub fn from_byte(byte: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.to_byte() == byte)
    }

    /// Whether the relay closes the connection after sending this error.
    pub fn closes_connection(self) -> bool {
        matches!(
            self,
            ErrorCode::BadRequest
                | ErrorCode::Unauthorized
                | ErrorCode::ShuttingDown
                | ErrorCode::SignInTimeout
                | ErrorCode::Busy
                | ErrorCode::TooManyFromAddress
                | ErrorCode::TlsRequired
                | ErrorCode::Idle
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorCode::BadRequest => "request not allowed here",
            ErrorCode::Unauthorized => "authentication failed",
            ErrorCode::UnknownRecipient => "no such device on this relay",
            ErrorCode::NameTaken => "name already registered by another device",
            ErrorCode::UnknownName => "no device registered that name",
            ErrorCode::NoBundle => "the device has no prekeys on the relay",
            ErrorCode::Invalid => "malformed or foreign data",
            ErrorCode::Full => "queue or prekey store full",
            ErrorCode::Internal => "relay storage failure",
            ErrorCode::Replaced => {
                "another session of this device (a second `chat` or `recv`) now receives the messages"
            }
            ErrorCode::ShuttingDown => "the relay is shutting down (restarting?)",
            ErrorCode::SignInTimeout => "no sign-in within the relay's deadline",
            ErrorCode::Busy => "the relay is full; try again shortly",
            ErrorCode::TooManyFromAddress => "too many connections from your address are signing in",
            ErrorCode::TlsRequired => "this relay speaks TLS only (drop --insecure)",
            ErrorCode::Idle => "idle for too long",
            ErrorCode::Receiving => "messages arrive in this session again",
            ErrorCode::BlobTooLarge => "the file is larger than the relay stores",
            ErrorCode::QuotaExceeded => {
                "your storage quota on the relay is used up (files expire after a while)"
            }
            ErrorCode::NoSuchBlob => "the relay has no such file (expired, or never uploaded)",
            ErrorCode::BadRange => "upload or download outside the file's bytes, or corrupted",
            ErrorCode::BackupTooLarge => "the backup is larger than the relay keeps",
            ErrorCode::NoBackup => "the relay holds no backup for this name",
            ErrorCode::NoEnvelopeKey => "the device published no envelope key",
            ErrorCode::NoDeviceList => "the relay holds no device list for that name",
            ErrorCode::StaleDeviceList => {
                "the device list is not newer than, or not a successor of, the stored one"
            }
        })
    }
}

/// One frame body.
#[derive(Clone, PartialEq, Eq)]
pub enum Frame {
    Challenge {
        nonce: [u8; 32],
    },
    Welcome {
        root_id: u32,
        root: [u8; 32],
        queued: u32,
    },
    Ok,
    Error(ErrorCode),
    Bundle(Vec<u8>),
    Identity([u8; 32]),
    Certificate(Vec<u8>),
    Deliver {
        id: u64,
        envelope: Vec<u8>,
    },
    Accepted {
        id: u64,
    },
    Pong,
    Notice(ErrorCode),
    Auth {
        identity: [u8; 32],
        signature: [u8; 64],
    },
    Register(String),
    PublishBundle(Vec<u8>),
    FetchBundle([u8; 32]),
    Lookup(String),
    GetCertificate,
    Send(Vec<u8>),
    Ack {
        id: u64,
    },
    Ping,
    Receive,
    Reregister(String),
    BlobId([u8; BLOB_ID_LEN]),
    BlobData(Vec<u8>),
    BlobBegin {
        len: u64,
    },
    BlobPut {
        id: [u8; BLOB_ID_LEN],
        offset: u64,
        data: Vec<u8>,
    },
    BlobEnd {
        id: [u8; BLOB_ID_LEN],
        sha256: [u8; 32],
    },
    BlobGet {
        id: [u8; BLOB_ID_LEN],
        offset: u64,
        len: u32,
    },
    Backup(Vec<u8>),
    PutBackup(Vec<u8>),
    GetBackup,
    /// Erasure on request: delete everything held for this device and its name.
    Erase,
    /// What an `Erase` deleted.
    Erased(ErasedCounts),
    /// A device's published envelope KEM key (hushwire type `0x36`), as stored.
    EnvelopeKey(Vec<u8>),
    /// Stores this device's envelope KEM key, replacing the one stored.
    PublishEnvelopeKey(Vec<u8>),
    /// Asks for the envelope KEM key of the device with this identity key.
    FetchEnvelopeKey([u8; 32]),
    /// A user's signed device list, as stored.
    DeviceList(Vec<u8>),
    /// Stores a user's signed device list.
    PutDeviceList(Vec<u8>),
    /// Asks for the device list stored under this name.
    GetDeviceList(String),
    /// Queues a message for a device, registered or not (the linking run).
    SendDirect {
        to: [u8; 32],
        message: Vec<u8>,
    },
}

/// What the relay deleted on an `Erase` request, per kind of item (rows of its store).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErasedCounts {
    /// Queued envelopes for the device.
    pub queue: u32,
    /// Prekeys the device published (signed, last-resort and one-time, used ones included),
    /// and its envelope KEM key (0 or 1): counted here so that the frame keeps its layout.
    pub prekeys: u32,
    /// Device registrations (the name → device entry; 0 or 1 on this relay).
    pub devices: u32,
    /// Blobs the device uploaded (finished or not).
    pub blobs: u32,
    /// Backups kept for the device's name (0 or 1).
    pub backups: u32,
}

impl ErasedCounts {
    /// Bytes of the encoded counts.
    pub const LEN: usize = 20;

    fn to_bytes(self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        let fields = [
            self.queue,
            self.prekeys,
            self.devices,
            self.blobs,
            self.backups,
        ];
        for (chunk, n) in out.chunks_exact_mut(4).zip(fields) {
            chunk.copy_from_slice(&n.to_be_bytes());
        }
        out
    }

    fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        let [
            q0,
            q1,
            q2,
            q3,
            p0,
            p1,
            p2,
            p3,
            d0,
            d1,
            d2,
            d3,
            b0,
            b1,
            b2,
            b3,
            k0,
            k1,
            k2,
            k3,
        ] = bytes;
        ErasedCounts {
            queue: u32::from_be_bytes([q0, q1, q2, q3]),
            prekeys: u32::from_be_bytes([p0, p1, p2, p3]),
            devices: u32::from_be_bytes([d0, d1, d2, d3]),
            blobs: u32::from_be_bytes([b0, b1, b2, b3]),
            backups: u32::from_be_bytes([k0, k1, k2, k3]),
        }
    }

    /// The sum over every kind.
    pub fn total(&self) -> u64 {
        [
            self.queue,
            self.prekeys,
            self.devices,
            self.blobs,
            self.backups,
        ]
        .iter()
        .map(|&n| u64::from(n))
        .sum()
    }
}

/// Shows tags and lengths only: frames carry keys and ciphertext, which logs never show.
impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Error(code) => write!(f, "Error({code:?})"),
            Frame::Notice(code) => write!(f, "Notice({code:?})"),
            Frame::Deliver { id, envelope } => write!(f, "Deliver(#{id}, {} B)", envelope.len()),
            Frame::Accepted { id } => write!(f, "Accepted(#{id})"),
            Frame::Ack { id } => write!(f, "Ack(#{id})"),
            Frame::Bundle(b) | Frame::PublishBundle(b) => {
                write!(f, "{}({} B)", self.name(), b.len())
            }
            Frame::Certificate(b) | Frame::Send(b) => write!(f, "{}({} B)", self.name(), b.len()),
            Frame::SendDirect { message, .. } => write!(f, "SendDirect({} B)", message.len()),
            Frame::Register(n)
            | Frame::Lookup(n)
            | Frame::Reregister(n)
            | Frame::GetDeviceList(n) => {
                write!(f, "{}({} B)", self.name(), n.len())
            }
            Frame::BlobData(b)
            | Frame::Backup(b)
            | Frame::PutBackup(b)
            | Frame::EnvelopeKey(b)
            | Frame::PublishEnvelopeKey(b)
            | Frame::DeviceList(b)
            | Frame::PutDeviceList(b) => {
                write!(f, "{}({} B)", self.name(), b.len())
            }
            Frame::BlobBegin { len } => write!(f, "BlobBegin({len} B)"),
            Frame::BlobPut { offset, data, .. } => {
                write!(f, "BlobPut(@{offset}, {} B)", data.len())
            }
            Frame::BlobGet { offset, len, .. } => write!(f, "BlobGet(@{offset}, {len} B)"),
            _ => f.write_str(self.name()),
        }
    }
}

/// Why bytes are not a frame. Any of these closes the connection that sent them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix is 0 or above [`MAX_FRAME_LEN`].
    BadLength(u32),
    /// The tag byte is not a known frame.
    UnknownTag(u8),
    /// The body is shorter or longer than its frame needs.
    WrongSize { tag: u8, len: usize },
    /// A field's value is invalid (error code, name).
    BadField(&'static str),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BadLength(len) => {
                write!(f, "frame length {len} outside 1..={MAX_FRAME_LEN}")
            }
            FrameError::UnknownTag(tag) => write!(f, "unknown frame tag {tag:#04x}"),
            FrameError::WrongSize { tag, len } => {
                write!(f, "frame {tag:#04x} with a body of {len} bytes")
            }
            FrameError::BadField(field) => write!(f, "invalid field `{field}`"),
        }
    }
}

impl std::error::Error for FrameError {}

const T_CHALLENGE: u8 = 0x01;
const T_WELCOME: u8 = 0x02;
const T_OK: u8 = 0x03;
const T_ERROR: u8 = 0x04;
const T_BUNDLE: u8 = 0x05;
const T_IDENTITY: u8 = 0x06;
const T_CERTIFICATE: u8 = 0x07;
const T_DELIVER: u8 = 0x08;
const T_ACCEPTED: u8 = 0x09;
const T_PONG: u8 = 0x0A;
const T_NOTICE: u8 = 0x0B;
const T_BLOB_ID: u8 = 0x0C;
const T_BLOB_DATA: u8 = 0x0D;
const T_BACKUP: u8 = 0x0E;
const T_ERASED: u8 = 0x0F;
const T_ENVELOPE_KEY: u8 = 0x10;
const T_DEVICE_LIST: u8 = 0x11;
const T_AUTH: u8 = 0x81;
const T_REGISTER: u8 = 0x82;
const T_PUBLISH_BUNDLE: u8 = 0x83;
const T_FETCH_BUNDLE: u8 = 0x84;
const T_LOOKUP: u8 = 0x85;
const T_GET_CERTIFICATE: u8 = 0x86;
const T_SEND: u8 = 0x87;
const T_ACK: u8 = 0x88;
const T_PING: u8 = 0x89;
const T_RECEIVE: u8 = 0x8A;
const T_REREGISTER: u8 = 0x8B;
const T_BLOB_BEGIN: u8 = 0x8C;
const T_BLOB_PUT: u8 = 0x8D;
const T_BLOB_END: u8 = 0x8E;
const T_BLOB_GET: u8 = 0x8F;
const T_PUT_BACKUP: u8 = 0x90;
const T_GET_BACKUP: u8 = 0x91;
const T_ERASE: u8 = 0x92;
const T_PUBLISH_ENVELOPE_KEY: u8 = 0x93;
const T_FETCH_ENVELOPE_KEY: u8 = 0x94;
const T_PUT_DEVICE_LIST: u8 = 0xA0;
const T_GET_DEVICE_LIST: u8 = 0xA1;
const T_SEND_DIRECT: u8 = 0xA2;

/// Parses a length prefix.
///
/// # Errors
/// [`FrameError::BadLength`] for 0 or more than [`MAX_FRAME_LEN`].
pub fn body_len(header: [u8; HEADER_LEN]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header);
    match usize::try_from(len) {
        Ok(n) if (1..=MAX_FRAME_LEN).contains(&n) => Ok(n),
        _ => Err(FrameError::BadLength(len)),
    }
}

/// Whether `name` may be registered: 1..=[`MAX_NAME_LEN`] bytes of ASCII letters, digits and
/// `.-_@`. (Narrow on purpose: names are shown to users, so no look-alike characters.)
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_@".contains(&b))
}

fn array<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

fn name(bytes: &[u8]) -> Result<String, FrameError> {
    match std::str::from_utf8(bytes) {
        Ok(s) if valid_name(s) => Ok(s.to_owned()),
        _ => Err(FrameError::BadField("name")),
    }
}

fn rest(bytes: &[u8]) -> Option<Vec<u8>> {
    (!bytes.is_empty()).then(|| bytes.to_vec())
}

impl Frame {
    fn name(&self) -> &'static str {
        match self {
            Frame::Challenge { .. } => "Challenge",
            Frame::Welcome { .. } => "Welcome",
            Frame::Ok => "Ok",
            Frame::Error(_) => "Error",
            Frame::Bundle(_) => "Bundle",
            Frame::Identity(_) => "Identity",
            Frame::Certificate(_) => "Certificate",
            Frame::Deliver { .. } => "Deliver",
            Frame::Accepted { .. } => "Accepted",
            Frame::Pong => "Pong",
            Frame::Notice(_) => "Notice",
            Frame::Auth { .. } => "Auth",
            Frame::Register(_) => "Register",
            Frame::PublishBundle(_) => "PublishBundle",
            Frame::FetchBundle(_) => "FetchBundle",
            Frame::Lookup(_) => "Lookup",
            Frame::GetCertificate => "GetCertificate",
            Frame::Send(_) => "Send",
            Frame::Ack { .. } => "Ack",
            Frame::Ping => "Ping",
            Frame::Receive => "Receive",
            Frame::Reregister(_) => "Reregister",
            Frame::BlobId(_) => "BlobId",
            Frame::BlobData(_) => "BlobData",
            Frame::BlobBegin { .. } => "BlobBegin",
            Frame::BlobPut { .. } => "BlobPut",
            Frame::BlobEnd { .. } => "BlobEnd",
            Frame::BlobGet { .. } => "BlobGet",
            Frame::Backup(_) => "Backup",
            Frame::PutBackup(_) => "PutBackup",
            Frame::GetBackup => "GetBackup",
            Frame::Erase => "Erase",
            Frame::Erased(_) => "Erased",
            Frame::EnvelopeKey(_) => "EnvelopeKey",
            Frame::PublishEnvelopeKey(_) => "PublishEnvelopeKey",
            Frame::FetchEnvelopeKey(_) => "FetchEnvelopeKey",
            Frame::DeviceList(_) => "DeviceList",
            Frame::PutDeviceList(_) => "PutDeviceList",
            Frame::GetDeviceList(_) => "GetDeviceList",
            Frame::SendDirect { .. } => "SendDirect",
        }
    }

    /// Decodes one frame body (without its length prefix).
    ///
    /// # Errors
    /// [`FrameError`] for an empty or oversized body, an unknown tag, a wrong size or an
    /// invalid field. Never panics.
    pub fn decode(body: &[u8]) -> Result<Frame, FrameError> {
        let Some((&tag, fields)) = body.split_first() else {
            return Err(FrameError::BadLength(0));
        };
        if body.len() > MAX_FRAME_LEN {
            return Err(FrameError::BadLength(
                u32::try_from(body.len()).unwrap_or(u32::MAX),
            ));
        }
        let wrong = FrameError::WrongSize {
            tag,
            len: body.len(),
        };
        let frame = match tag {
            T_CHALLENGE => Frame::Challenge {
                nonce: array(fields).ok_or(wrong)?,
            },
            T_WELCOME => {
                let f: [u8; 40] = array(fields).ok_or(wrong)?;
                let (id, rest) = f.split_at(4);
                let (root, queued) = rest.split_at(32);
                Frame::Welcome {
                    root_id: u32::from_be_bytes(array(id).ok_or(wrong)?),
                    root: array(root).ok_or(wrong)?,
                    queued: u32::from_be_bytes(array(queued).ok_or(wrong)?),
                }
            }
            T_OK if fields.is_empty() => Frame::Ok,
            T_ERROR => {
                let [code]: [u8; 1] = array(fields).ok_or(wrong)?;
                Frame::Error(ErrorCode::from_byte(code).ok_or(FrameError::BadField("code"))?)
            }
            T_BUNDLE => Frame::Bundle(rest(fields).ok_or(wrong)?),
            T_IDENTITY => Frame::Identity(array(fields).ok_or(wrong)?),
            T_CERTIFICATE => Frame::Certificate(rest(fields).ok_or(wrong)?),
            T_DELIVER => {
                if fields.len() <= 8 {
                    return Err(wrong);
                }
                let (id, envelope) = fields.split_at(8);
                Frame::Deliver {
                    id: u64::from_be_bytes(array(id).ok_or(wrong)?),
                    envelope: envelope.to_vec(),
                }
            }
            T_ACCEPTED => Frame::Accepted {
                id: u64::from_be_bytes(array(fields).ok_or(wrong)?),
            },
            T_PONG if fields.is_empty() => Frame::Pong,
            T_NOTICE => {
                let [code]: [u8; 1] = array(fields).ok_or(wrong)?;
                Frame::Notice(ErrorCode::from_byte(code).ok_or(FrameError::BadField("code"))?)
            }
            T_AUTH => {
                let f: [u8; 96] = array(fields).ok_or(wrong)?;
                let (identity, signature) = f.split_at(32);
                Frame::Auth {
                    identity: array(identity).ok_or(wrong)?,
                    signature: array(signature).ok_or(wrong)?,
                }
            }
            T_REGISTER => Frame::Register(name(fields)?),
            T_PUBLISH_BUNDLE => Frame::PublishBundle(rest(fields).ok_or(wrong)?),
            T_FETCH_BUNDLE => Frame::FetchBundle(array(fields).ok_or(wrong)?),
            T_LOOKUP => Frame::Lookup(name(fields)?),
            T_GET_CERTIFICATE if fields.is_empty() => Frame::GetCertificate,
            T_SEND => Frame::Send(rest(fields).ok_or(wrong)?),
            T_ACK => Frame::Ack {
                id: u64::from_be_bytes(array(fields).ok_or(wrong)?),
            },
            T_PING if fields.is_empty() => Frame::Ping,
            T_RECEIVE if fields.is_empty() => Frame::Receive,
            T_REREGISTER => Frame::Reregister(name(fields)?),
            T_BLOB_ID => Frame::BlobId(array(fields).ok_or(wrong)?),
            T_BLOB_DATA => Frame::BlobData(rest(fields).ok_or(wrong)?),
            T_BLOB_BEGIN => Frame::BlobBegin {
                len: u64::from_be_bytes(array(fields).ok_or(wrong)?),
            },
            T_BLOB_PUT => {
                let (id, rest_fields) = fields.split_first_chunk::<BLOB_ID_LEN>().ok_or(wrong)?;
                let (offset, data) = rest_fields.split_first_chunk::<8>().ok_or(wrong)?;
                Frame::BlobPut {
                    id: *id,
                    offset: u64::from_be_bytes(*offset),
                    data: rest(data).ok_or(wrong)?,
                }
            }
            T_BLOB_END => {
                let f: [u8; BLOB_ID_LEN + 32] = array(fields).ok_or(wrong)?;
                let (id, sha256) = f.split_at(BLOB_ID_LEN);
                Frame::BlobEnd {
                    id: array(id).ok_or(wrong)?,
                    sha256: array(sha256).ok_or(wrong)?,
                }
            }
            T_BLOB_GET => {
                let f: [u8; BLOB_ID_LEN + 12] = array(fields).ok_or(wrong)?;
                let (id, rest_fields) = f.split_at(BLOB_ID_LEN);
                let (offset, len) = rest_fields.split_at(8);
                Frame::BlobGet {
                    id: array(id).ok_or(wrong)?,
                    offset: u64::from_be_bytes(array(offset).ok_or(wrong)?),
                    len: u32::from_be_bytes(array(len).ok_or(wrong)?),
                }
            }
            T_BACKUP => Frame::Backup(rest(fields).ok_or(wrong)?),
            T_PUT_BACKUP => Frame::PutBackup(rest(fields).ok_or(wrong)?),
            T_GET_BACKUP if fields.is_empty() => Frame::GetBackup,
            T_ERASE if fields.is_empty() => Frame::Erase,
            T_ERASED => Frame::Erased(ErasedCounts::from_bytes(array(fields).ok_or(wrong)?)),
            T_ENVELOPE_KEY => Frame::EnvelopeKey(rest(fields).ok_or(wrong)?),
            T_PUBLISH_ENVELOPE_KEY => Frame::PublishEnvelopeKey(rest(fields).ok_or(wrong)?),
            T_FETCH_ENVELOPE_KEY => Frame::FetchEnvelopeKey(array(fields).ok_or(wrong)?),
            T_DEVICE_LIST => Frame::DeviceList(rest(fields).ok_or(wrong)?),
            T_PUT_DEVICE_LIST => Frame::PutDeviceList(rest(fields).ok_or(wrong)?),
            T_GET_DEVICE_LIST => Frame::GetDeviceList(name(fields)?),
            T_SEND_DIRECT => {
                let (to, message) = fields.split_first_chunk::<32>().ok_or(wrong)?;
                Frame::SendDirect {
                    to: *to,
                    message: rest(message).ok_or(wrong)?,
                }
            }
            T_OK | T_PONG | T_GET_CERTIFICATE | T_PING | T_RECEIVE | T_GET_BACKUP | T_ERASE => {
                return Err(wrong);
            }
            other => return Err(FrameError::UnknownTag(other)),
        };
        Ok(frame)
    }

    /// The body (tag and fields), without the length prefix.
    pub fn encode_body(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Frame::Challenge { nonce } => {
                out.push(T_CHALLENGE);
                out.extend_from_slice(nonce);
            }
            Frame::Welcome {
                root_id,
                root,
                queued,
            } => {
                out.push(T_WELCOME);
                out.extend_from_slice(&root_id.to_be_bytes());
                out.extend_from_slice(root);
                out.extend_from_slice(&queued.to_be_bytes());
            }
            Frame::Ok => out.push(T_OK),
            Frame::Error(code) => out.extend_from_slice(&[T_ERROR, code.to_byte()]),
            Frame::Bundle(b) => {
                out.push(T_BUNDLE);
                out.extend_from_slice(b);
            }
            Frame::Identity(key) => {
                out.push(T_IDENTITY);
                out.extend_from_slice(key);
            }
            Frame::Certificate(c) => {
                out.push(T_CERTIFICATE);
                out.extend_from_slice(c);
            }
            Frame::Deliver { id, envelope } => {
                out.push(T_DELIVER);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(envelope);
            }
            Frame::Accepted { id } => {
                out.push(T_ACCEPTED);
                out.extend_from_slice(&id.to_be_bytes());
            }
            Frame::Pong => out.push(T_PONG),
            Frame::Notice(code) => out.extend_from_slice(&[T_NOTICE, code.to_byte()]),
            Frame::Auth {
                identity,
                signature,
            } => {
                out.push(T_AUTH);
                out.extend_from_slice(identity);
                out.extend_from_slice(signature);
            }
            Frame::Register(n) => {
                out.push(T_REGISTER);
                out.extend_from_slice(n.as_bytes());
            }
            Frame::PublishBundle(b) => {
                out.push(T_PUBLISH_BUNDLE);
                out.extend_from_slice(b);
            }
            Frame::FetchBundle(key) => {
                out.push(T_FETCH_BUNDLE);
                out.extend_from_slice(key);
            }
            Frame::Lookup(n) => {
                out.push(T_LOOKUP);
                out.extend_from_slice(n.as_bytes());
            }
            Frame::GetCertificate => out.push(T_GET_CERTIFICATE),
            Frame::Send(e) => {
                out.push(T_SEND);
                out.extend_from_slice(e);
            }
            Frame::Ack { id } => {
                out.push(T_ACK);
                out.extend_from_slice(&id.to_be_bytes());
            }
            Frame::Ping => out.push(T_PING),
            Frame::Receive => out.push(T_RECEIVE),
            Frame::Reregister(n) => {
                out.push(T_REREGISTER);
                out.extend_from_slice(n.as_bytes());
            }
            Frame::BlobId(id) => {
                out.push(T_BLOB_ID);
                out.extend_from_slice(id);
            }
            Frame::BlobData(data) => {
                out.push(T_BLOB_DATA);
                out.extend_from_slice(data);
            }
            Frame::BlobBegin { len } => {
                out.push(T_BLOB_BEGIN);
                out.extend_from_slice(&len.to_be_bytes());
            }
            Frame::BlobPut { id, offset, data } => {
                out.push(T_BLOB_PUT);
                out.extend_from_slice(id);
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(data);
            }
            Frame::BlobEnd { id, sha256 } => {
                out.push(T_BLOB_END);
                out.extend_from_slice(id);
                out.extend_from_slice(sha256);
            }
            Frame::BlobGet { id, offset, len } => {
                out.push(T_BLOB_GET);
                out.extend_from_slice(id);
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
            }
            Frame::Backup(b) => {
                out.push(T_BACKUP);
                out.extend_from_slice(b);
            }
            Frame::PutBackup(b) => {
                out.push(T_PUT_BACKUP);
                out.extend_from_slice(b);
            }
            Frame::GetBackup => out.push(T_GET_BACKUP),
            Frame::Erase => out.push(T_ERASE),
            Frame::Erased(counts) => {
                out.push(T_ERASED);
                out.extend_from_slice(&counts.to_bytes());
            }
            Frame::EnvelopeKey(key) => {
                out.push(T_ENVELOPE_KEY);
                out.extend_from_slice(key);
            }
            Frame::PublishEnvelopeKey(key) => {
                out.push(T_PUBLISH_ENVELOPE_KEY);
                out.extend_from_slice(key);
            }
            Frame::FetchEnvelopeKey(identity) => {
                out.push(T_FETCH_ENVELOPE_KEY);
                out.extend_from_slice(identity);
            }
            Frame::DeviceList(list) => {
                out.push(T_DEVICE_LIST);
                out.extend_from_slice(list);
            }
            Frame::PutDeviceList(list) => {
                out.push(T_PUT_DEVICE_LIST);
                out.extend_from_slice(list);
            }
            Frame::GetDeviceList(n) => {
                out.push(T_GET_DEVICE_LIST);
                out.extend_from_slice(n.as_bytes());
            }
            Frame::SendDirect { to, message } => {
                out.push(T_SEND_DIRECT);
                out.extend_from_slice(to);
                out.extend_from_slice(message);
            }
        }
        out
    }

    /// The whole frame: length prefix and body.
    ///
    /// # Errors
    /// [`FrameError::BadLength`] if the body is longer than [`MAX_FRAME_LEN`] (an envelope or
    /// bundle too large to send).
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let body = self.encode_body();
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        if body.len() > MAX_FRAME_LEN {
            return Err(FrameError::BadLength(len));
        }
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// Splits the first whole frame off `buf`: `Ok(None)` if more bytes are needed, else the
/// frame and how many bytes it used (header and body). A synchronous parser for any byte
/// stream; the relay reads frames the same way with [`body_len`] and [`Frame::decode`].
///
/// # Errors
/// [`FrameError`] as soon as the bytes cannot start a valid frame.
pub fn split_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let header: [u8; HEADER_LEN] = array(header).ok_or(FrameError::BadLength(0))?;
    let len = body_len(header)?;
    let Some(body) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
        return Ok(None);
    };
    Ok(Some((Frame::decode(body)?, HEADER_LEN + len)))
}
