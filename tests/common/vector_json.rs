//! The language-neutral JSON encoding of errors and events in every vector file (SPEC.md
//! §8.4): an error is `{"code", "kind", "fields"}`, an event `{"code", "fields"}`; integers are
//! JSON numbers, type bytes `"0x21"`, keys and ids lowercase hex, times Unix seconds, a wrapped
//! error the field `error`. Codes and kinds come from the library's `code()` methods; the
//! field names and value encodings are written here, once, from SPEC.md §8.4.
//!
//! A module of `tests/common`, used by the vector tests, which use the strict functions
//! (`error_json`, `event_json`, ...: a variant without an encoding here panics, so that a new
//! variant cannot slip into a vector file unencoded), and by the C ABI (`ffi/src/boundary.rs`,
//! for `hw_error_json`), which uses the panic-free `error_json_lenient` (a variant without an
//! encoding gets empty fields `{}`, a name without one `"unknown"`).

#![allow(dead_code, unreachable_pub, clippy::panic)]

use hushwire::attachment::AttachmentError;
use hushwire::backup::BackupError;
use hushwire::certificate::CertificateKind;
use hushwire::device::DeviceListError;
use hushwire::group::{GroupError, GroupEvent, GroupRole, RosterError};
use hushwire::sealed::padding::PaddingError;
use hushwire::verify::VerifyError;
use hushwire::{
    CertificateError, ConfigError, DecodeError, DecryptError, EncryptError, Error, ErrorKind,
    Event, HandshakeError, KeyError, OpenError, PeerError, ResetError, RestoreError, SealError,
    SealedSessionError, SignedKeyKind,
};
use serde_json::{Value, json};
use std::cell::Cell;

thread_local! {
    /// The first variant met without an encoding during the current encoding, if any.
    static MISSING: Cell<Option<String>> = const { Cell::new(None) };
}

/// The fields of a variant without an encoding here: `{}`, noting the variant for `strict`.
fn missing(what: &dyn std::fmt::Debug) -> Value {
    note_missing(what);
    json!({})
}

/// The name of a variant without an encoding here: `"unknown"`, noting the variant.
fn missing_name(what: &dyn std::fmt::Debug) -> &'static str {
    note_missing(what);
    "unknown"
}

fn note_missing(what: &dyn std::fmt::Debug) {
    MISSING.with(|m| {
        let first = m.take().unwrap_or_else(|| format!("{what:?}"));
        m.set(Some(first));
    });
}

/// Runs an encoding and panics if it met a variant without an encoding (the vector tests).
fn strict(encode: impl FnOnce() -> Value) -> Value {
    MISSING.with(Cell::take);
    let value = encode();
    if let Some(what) = MISSING.with(Cell::take) {
        panic!("no vector encoding for {what}: add it to tests/common/vector_json.rs");
    }
    value
}

/// A type byte: `"0x"` and two lowercase hex digits.
pub fn type_byte(b: u8) -> String {
    format!("0x{b:02x}")
}

/// The JSON object of an error (SPEC.md §8.4); panics on a variant without an encoding.
pub fn error_json(error: impl Into<Error>) -> Value {
    let e: Error = error.into();
    strict(|| encode_error(e))
}

/// The JSON object of an error (SPEC.md §8.4), never panicking: a variant without an
/// encoding here gets empty fields `{}` (its code and kind are always the library's).
pub fn error_json_lenient(error: impl Into<Error>) -> Value {
    let e: Error = error.into();
    let value = encode_error(e);
    MISSING.with(Cell::take);
    value
}

fn encode_error(e: Error) -> Value {
    let fields = match e {
        Error::Decode(e) => decode_fields(e),
        Error::Key(e) => key_fields(e),
        Error::Encrypt(e) => encrypt_fields(e),
        Error::Decrypt(e) => decrypt_fields(e),
        Error::Handshake(e) => handshake_fields(e),
        Error::Config(e) => config_fields(e),
        Error::Restore(e) => restore_fields(e),
        Error::Peer(e) => peer_fields(e),
        Error::Reset(e) => reset_fields(e),
        Error::Certificate(e) => certificate_fields(e),
        Error::Seal(e) => seal_fields(e),
        Error::Open(e) => open_fields(e),
        Error::SealedSession(e) => sealed_session_fields(e),
        Error::Group(e) => group_fields(e),
        Error::Roster(e) => roster_fields(e),
        Error::Verify(e) => verify_fields(e),
        Error::Attachment(e) => attachment_fields(e),
        Error::Backup(e) => backup_fields(e),
        Error::DeviceList(e) => device_list_fields(e),
        Error::FanOut(e) => fanout_fields(e),
        #[cfg(feature = "mask")]
        Error::MaskCheck(hushwire::MaskCheckError::Unmasked { kind, start, end }) => {
            json!({ "kind": type_byte(kind.to_byte()), "start": start, "end": end })
        }
        #[cfg(feature = "mask")]
        Error::SecureField(e) => secure_field_fields(e),
        other => missing(&other),
    };
    object(e.code(), e.kind(), fields)
}

/// `"ok"` for a success, the error's object for a failure: the encoding of an expected
/// outcome that may be either.
pub fn outcome_json<T, E: Into<Error> + Copy>(outcome: &Result<T, E>) -> Value {
    match outcome {
        Ok(_) => json!("ok"),
        Err(e) => error_json(*e),
    }
}

/// The JSON object of an event of the 1:1 core and the account (SPEC.md §8.4).
pub fn event_json(event: &Event) -> Value {
    strict(|| encode_event(event))
}

fn encode_event(event: &Event) -> Value {
    let fields = match event {
        Event::OneTimePreKeyConsumed { id }
        | Event::KemPreKeyConsumed { id }
        | Event::LastResortKemPreKeyUsed { id } => json!({ "id": id }),
        Event::OneTimePreKeysLow {
            x25519_remaining,
            kem_remaining,
        } => json!({ "x25519_remaining": x25519_remaining, "kem_remaining": kem_remaining }),
        Event::SkippedKeysEvicted { count } | Event::SkippedKeysExpired { count } => {
            json!({ "count": count })
        }
        Event::SessionEstablished { session_id }
        | Event::ActiveSessionChanged { session_id }
        | Event::SessionReset { session_id } => {
            json!({ "session_id": hex::encode(session_id.as_bytes()) })
        }
        Event::PreKeyRotationDue => json!({}),
        Event::IdentityChanged {
            user_id,
            was_verified,
        } => json!({ "user_id": hex::encode(user_id.as_bytes()), "was_verified": was_verified }),
        Event::PeerEvicted { peer } => json!({ "peer": hex::encode(peer.as_bytes()) }),
        other => missing(&other),
    };
    json!({ "code": event.code(), "fields": fields })
}

/// The JSON objects of a list of events.
pub fn events_json(events: &[Event]) -> Vec<Value> {
    events.iter().map(event_json).collect()
}

/// The JSON object of a group event (SPEC.md §8.4).
pub fn group_event_json(event: &GroupEvent) -> Value {
    strict(|| encode_group_event(event))
}

fn encode_group_event(event: &GroupEvent) -> Value {
    let key = |k: &hushwire::IdentityKey| hex::encode(k.as_bytes());
    let fields = match event {
        GroupEvent::MemberAdded {
            member,
            role,
            by,
            epoch,
        }
        | GroupEvent::RoleChanged {
            member,
            role,
            by,
            epoch,
        } => {
            json!({ "member": key(member), "role": role_name(*role), "by": key(by), "epoch": epoch })
        }
        GroupEvent::MemberRemoved { member, by, epoch } => {
            json!({ "member": key(member), "by": key(by), "epoch": epoch })
        }
        GroupEvent::RemovedFromGroup { by, epoch } => json!({ "by": key(by), "epoch": epoch }),
        GroupEvent::SenderKeyRotated { key_id } => json!({ "key_id": key_id }),
        GroupEvent::SenderKeyReceived { member, key_id } => {
            json!({ "member": key(member), "key_id": key_id })
        }
        GroupEvent::SkippedKeysEvicted { count } => json!({ "count": count }),
        GroupEvent::OldEpochMessage {
            member,
            key_id,
            message_epoch,
            rekey_epoch,
        } => json!({
            "member": key(member),
            "key_id": key_id,
            "message_epoch": message_epoch,
            "rekey_epoch": rekey_epoch,
        }),
        other => missing(&other),
    };
    json!({ "code": event.code(), "fields": fields })
}

/// The JSON objects of a list of group events.
pub fn group_events_json(events: &[GroupEvent]) -> Vec<Value> {
    events.iter().map(group_event_json).collect()
}

fn object(code: &str, kind: ErrorKind, fields: Value) -> Value {
    json!({ "code": code, "kind": kind.code(), "fields": fields })
}

fn nested(error: impl Into<Error>) -> Value {
    json!({ "error": encode_error(error.into()) })
}

fn padding_json(e: PaddingError) -> Value {
    let fields = match e {
        PaddingError::MissingMarker => json!({}),
        PaddingError::WrongLength { len, expected } => json!({ "len": len, "expected": expected }),
        other => missing(&other),
    };
    object(e.code(), e.kind(), fields)
}

fn role_name(role: GroupRole) -> &'static str {
    match role {
        GroupRole::Admin => "admin",
        GroupRole::Member => "member",
        other => missing_name(&other),
    }
}

fn certificate_kind(kind: CertificateKind) -> &'static str {
    match kind {
        CertificateKind::Server => "server",
        CertificateKind::Sender => "sender",
        other => missing_name(&other),
    }
}

fn decode_fields(e: DecodeError) -> Value {
    match e {
        DecodeError::Truncated { needed } => json!({ "needed": needed }),
        DecodeError::TrailingBytes { count } => json!({ "count": count }),
        DecodeError::UnknownVersion(v) => json!({ "version": v }),
        DecodeError::UnknownType(t) => json!({ "type": type_byte(t) }),
        DecodeError::WrongType { expected, found } => {
            json!({ "expected": type_byte(expected), "found": type_byte(found) })
        }
        DecodeError::TooLarge { len, max } => json!({ "len": len, "max": max }),
        DecodeError::InvalidField { field } => json!({ "field": field }),
        other => missing(&other),
    }
}

fn key_fields(e: KeyError) -> Value {
    match e {
        KeyError::InvalidIdentityKey | KeyError::InvalidKemKey => json!({}),
        KeyError::InvalidSignature(kind) => json!({ "key": match kind {
            SignedKeyKind::SignedPreKey => "signed_prekey",
            SignedKeyKind::KemPreKey => "kem_prekey",
            other => missing_name(&other),
        } }),
        other => missing(&other),
    }
}

fn encrypt_fields(e: EncryptError) -> Value {
    match e {
        EncryptError::PlaintextTooLarge { len, max } => json!({ "len": len, "max": max }),
        EncryptError::ChainExhausted => json!({}),
        other => missing(&other),
    }
}

fn decrypt_fields(e: DecryptError) -> Value {
    match e {
        DecryptError::Malformed(inner) => nested(inner),
        DecryptError::Duplicate { counter } | DecryptError::KeyExpired { counter } => {
            json!({ "counter": counter })
        }
        DecryptError::TooFarAhead { gap, max } => json!({ "gap": gap, "max": max }),
        DecryptError::StateBehind {
            their_epoch,
            our_epoch,
        } => json!({ "their_epoch": their_epoch, "our_epoch": our_epoch }),
        DecryptError::Undecryptable
        | DecryptError::Tampered
        | DecryptError::OtherSession
        | DecryptError::InvalidCounter
        | DecryptError::NonContributory
        | DecryptError::PeerStateForked
        | DecryptError::ChainForgotten => json!({}),
        other => missing(&other),
    }
}

fn handshake_fields(e: HandshakeError) -> Value {
    match e {
        HandshakeError::Malformed(inner) => nested(inner),
        HandshakeError::Key(inner) => nested(inner),
        HandshakeError::FirstMessage(inner) => nested(inner),
        HandshakeError::UnknownSignedPreKey(id)
        | HandshakeError::UnknownOneTimePreKey(id)
        | HandshakeError::OneTimePreKeyReused(id)
        | HandshakeError::UnknownKemPreKey(id)
        | HandshakeError::KemPreKeyReused(id) => json!({ "id": id }),
        HandshakeError::TooManyPeers { limit } => json!({ "limit": limit }),
        HandshakeError::NonContributory
        | HandshakeError::ReplayedInitialMessage
        | HandshakeError::ReplayRecordsFull
        | HandshakeError::OwnIdentity
        | HandshakeError::PeerNotLoaded => json!({}),
        other => missing(&other),
    }
}

fn config_fields(e: ConfigError) -> Value {
    match e {
        ConfigError::OutOfRange {
            name,
            value,
            min,
            max,
        } => json!({ "name": name, "value": value, "min": min, "max": max }),
        ConfigError::IdsExhausted { name } => json!({ "name": name }),
        other => missing(&other),
    }
}

fn restore_fields(e: RestoreError) -> Value {
    match e {
        RestoreError::UnknownVersion(v) => json!({ "version": v }),
        RestoreError::WrongType { expected, found } => {
            json!({ "expected": type_byte(expected), "found": type_byte(found) })
        }
        RestoreError::RolledBack { found, minimum } => {
            json!({ "found": found, "minimum": minimum })
        }
        RestoreError::LimitExceeded { limit, max } => json!({ "limit": limit, "max": max }),
        RestoreError::WrongObject { field } => json!({ "field": field }),
        RestoreError::Truncated
        | RestoreError::NotStateBlob
        | RestoreError::Authentication
        | RestoreError::Corrupt => json!({}),
        other => missing(&other),
    }
}

fn peer_fields(e: PeerError) -> Value {
    match e {
        PeerError::Encrypt(inner) => nested(inner),
        PeerError::Decrypt(inner) => nested(inner),
        PeerError::Handshake(inner) => nested(inner),
        PeerError::UnknownPeer
        | PeerError::NoMatchingSession
        | PeerError::NoAnsweredSession
        | PeerError::SenderMismatch
        | PeerError::IdentityChanged
        | PeerError::NotLoaded => json!({}),
        other => missing(&other),
    }
}

fn reset_fields(e: ResetError) -> Value {
    match e {
        ResetError::Malformed(inner) => nested(inner),
        ResetError::Handshake(inner) => nested(inner),
        ResetError::RateLimited { retry_after_secs } => {
            json!({ "retry_after_secs": retry_after_secs })
        }
        ResetError::BadSignature
        | ResetError::NotForUs
        | ResetError::Stale
        | ResetError::BundleMismatch => json!({}),
        other => missing(&other),
    }
}

fn certificate_fields(e: CertificateError) -> Value {
    match e {
        CertificateError::Malformed(inner) => nested(inner),
        CertificateError::UnknownRoot { root_id } | CertificateError::DuplicateRoot { root_id } => {
            json!({ "root_id": root_id })
        }
        CertificateError::BadSignature(kind) => json!({ "kind": certificate_kind(kind) }),
        CertificateError::Expired { kind, expires_at } => json!({
            "kind": certificate_kind(kind),
            "expires_at": expires_at.as_unix_secs(),
        }),
        CertificateError::NotYetValid { kind, not_before } => json!({
            "kind": certificate_kind(kind),
            "not_before": not_before.as_unix_secs(),
        }),
        CertificateError::ServerKeyRevoked { key_id } => json!({ "key_id": key_id }),
        CertificateError::CertificateRevoked {
            kind,
            server_key_id,
            serial,
        } => json!({
            "kind": certificate_kind(kind),
            "server_key_id": server_key_id,
            "serial": serial,
        }),
        CertificateError::UserIdLength { len, max } => json!({ "len": len, "max": max }),
        CertificateError::TrustStoreFull { max } => json!({ "max": max }),
        CertificateError::InvalidKey
        | CertificateError::InvalidValidity
        | CertificateError::IssuerMismatch => json!({}),
        other => missing(&other),
    }
}

fn seal_fields(e: SealError) -> Value {
    match e {
        SealError::MessageTooLarge { len, max } => json!({ "len": len, "max": max }),
        SealError::TooManyRecipients { count, max } => json!({ "count": count, "max": max }),
        SealError::DuplicateRecipient { index } | SealError::BadEnvelopeKey { index } => {
            json!({ "index": index })
        }
        SealError::CertificateMismatch
        | SealError::NoRecipients
        | SealError::NonContributory
        | SealError::EnvelopeKeyMismatch => json!({}),
        other => missing(&other),
    }
}

fn open_fields(e: OpenError) -> Value {
    match e {
        OpenError::Malformed(inner) | OpenError::MalformedContent(inner) => nested(inner),
        OpenError::Certificate(inner) => nested(inner),
        OpenError::BadPadding(inner) => json!({ "error": padding_json(inner) }),
        OpenError::NotForUs
        | OpenError::NonContributory
        | OpenError::Tampered
        | OpenError::SenderNotAuthenticated
        | OpenError::SelfSend
        | OpenError::ClassicalRefused => json!({}),
        OpenError::UnknownEnvelopeKey { key_id } => json!({ "key_id": key_id }),
        other => missing(&other),
    }
}

fn sealed_session_fields(e: SealedSessionError) -> Value {
    match e {
        SealedSessionError::NotSessionContent { content_type } => {
            json!({ "content_type": type_byte(content_type.to_byte()) })
        }
        SealedSessionError::Decrypt(inner) => nested(inner),
        SealedSessionError::Handshake(inner) => nested(inner),
        SealedSessionError::Peer(inner) => nested(inner),
        SealedSessionError::WrongSession | SealedSessionError::SenderMismatch => json!({}),
        other => missing(&other),
    }
}

fn group_fields(e: GroupError) -> Value {
    match e {
        GroupError::Malformed(inner) => nested(inner),
        GroupError::UnknownSenderKey { key_id }
        | GroupError::SenderKeyRetired { key_id }
        | GroupError::StaleSenderKey { key_id }
        | GroupError::DuplicateDistribution { key_id } => json!({ "key_id": key_id }),
        GroupError::FutureEpoch {
            message_epoch,
            our_epoch,
        } => json!({ "message_epoch": message_epoch, "our_epoch": our_epoch }),
        GroupError::OldEpochRefused {
            key_id,
            rekey_epoch,
        } => json!({ "key_id": key_id, "rekey_epoch": rekey_epoch }),
        GroupError::Duplicate { index } | GroupError::KeyEvicted { index } => {
            json!({ "index": index })
        }
        GroupError::BeforeSenderKey { index, first } => json!({ "index": index, "first": first }),
        GroupError::TooFarAhead { gap, max } => json!({ "gap": gap, "max": max }),
        GroupError::PlaintextTooLarge { len, max } => json!({ "len": len, "max": max }),
        GroupError::WrongGroup
        | GroupError::Removed
        | GroupError::OwnMessage
        | GroupError::UnknownSender
        | GroupError::SenderMismatch
        | GroupError::BadSignature
        | GroupError::Tampered
        | GroupError::InvalidEpoch
        | GroupError::ChainExhausted
        | GroupError::WrongIdentity => json!({}),
        other => missing(&other),
    }
}

fn roster_fields(e: RosterError) -> Value {
    match e {
        RosterError::Malformed(inner) => nested(inner),
        RosterError::NotAdmin { signer } => json!({ "signer": hex::encode(signer) }),
        RosterError::SkippedEpoch { current, found }
        | RosterError::StaleEpoch { current, found } => {
            json!({ "current": current, "found": found })
        }
        RosterError::ForkedEpoch { epoch } | RosterError::DuplicateChange { epoch } => {
            json!({ "epoch": epoch })
        }
        RosterError::TooManyMembers { max } => json!({ "max": max }),
        RosterError::AlreadyMember { member } | RosterError::NotAMember { member } => {
            json!({ "member": hex::encode(member) })
        }
        RosterError::WrongGroup
        | RosterError::BadSignature
        | RosterError::LastAdmin
        | RosterError::InviterMismatch
        | RosterError::NotInRoster
        | RosterError::Removed
        | RosterError::EpochExhausted
        | RosterError::WrongIdentity => json!({}),
        other => missing(&other),
    }
}

fn device_list_fields(e: DeviceListError) -> Value {
    match e {
        DeviceListError::Malformed(inner) => nested(inner),
        DeviceListError::Identity(inner) => nested(inner),
        DeviceListError::BadCounterSignature { device_id }
        | DeviceListError::Duplicate { device_id }
        | DeviceListError::DroppedWithoutTombstone { device_id }
        | DeviceListError::Resurrected { device_id }
        | DeviceListError::UnknownDevice { device_id }
        | DeviceListError::DeviceIdTaken { device_id } => json!({ "device_id": device_id }),
        DeviceListError::DeviceCount { count, max }
        | DeviceListError::TooManyTombstones { count, max } => {
            json!({ "count": count, "max": max })
        }
        DeviceListError::NotNewer { held, received } => {
            json!({ "held": held, "received": received })
        }
        DeviceListError::BadSignature
        | DeviceListError::OtherUser
        | DeviceListError::UserKeyChanged
        | DeviceListError::NoList
        | DeviceListError::IdentityChanged
        | DeviceListError::Exhausted => json!({}),
        other => missing(&other),
    }
}

fn fanout_fields(e: hushwire::FanOutError) -> Value {
    use hushwire::FanOutError as F;
    match e {
        F::Malformed(inner) => nested(inner),
        F::Peer(inner) => nested(inner),
        F::DeviceList(inner) => nested(inner),
        F::PlaintextTooLarge { len, max } => json!({ "len": len, "max": max }),
        F::TooManyDevices { count, max } => json!({ "count": count, "max": max }),
        F::NotInManifest { device_id }
        | F::NotRecipient { device_id }
        | F::Unvouched { device_id }
        | F::AlreadyIncluded { device_id } => json!({ "device_id": device_id }),
        F::NoRecipients | F::Tampered => json!({}),
        other => missing(&other),
    }
}

fn verify_fields(e: VerifyError) -> Value {
    match e {
        VerifyError::Malformed(inner) => nested(inner),
        VerifyError::Certificate(inner) => nested(inner),
        VerifyError::SafetyNumberVersion { ours, theirs } => {
            json!({ "ours": ours, "theirs": theirs })
        }
        VerifyError::UserIdLength { len, max } => json!({ "len": len, "max": max }),
        VerifyError::TooManyIdentities { max } => json!({ "max": max }),
        VerifyError::TextLength { field, len, max } => {
            json!({ "field": field, "len": len, "max": max })
        }
        VerifyError::InvalidText { field } => json!({ "field": field }),
        VerifyError::LifetimeTooLong {
            lifetime_secs,
            max_secs,
        } => json!({ "lifetime_secs": lifetime_secs, "max_secs": max_secs }),
        VerifyError::ForeignOrganization { root_id }
        | VerifyError::OrganizationMismatch { root_id } => json!({ "root_id": root_id }),
        VerifyError::Expired { expires_at } => json!({ "expires_at": expires_at.as_unix_secs() }),
        VerifyError::NotYetValid { not_before } => {
            json!({ "not_before": not_before.as_unix_secs() })
        }
        VerifyError::SasExpired { expired_at } => {
            json!({ "expired_at": expired_at.as_unix_secs() })
        }
        VerifyError::OtherPair
        | VerifyError::SasOtherRun
        | VerifyError::SasOtherSession
        | VerifyError::SasCommitmentMismatch
        | VerifyError::Swapped
        | VerifyError::SessionNotEstablished
        | VerifyError::UnknownUser
        | VerifyError::IdentityMismatch
        | VerifyError::OwnIdentity
        | VerifyError::IssuerMismatch
        | VerifyError::Forged
        | VerifyError::Revoked
        | VerifyError::OperatorKeyMismatch => json!({}),
        other => missing(&other),
    }
}

fn backup_fields(e: BackupError) -> Value {
    match e {
        BackupError::Malformed(inner) => nested(inner),
        BackupError::EntryContent(inner) => nested(inner),
        BackupError::KdfParamsOutOfRange {
            name,
            value,
            min,
            max,
        } => json!({ "name": name, "value": value, "min": min, "max": max }),
        BackupError::RolledBack { found, minimum } => {
            json!({ "found": found, "minimum": minimum })
        }
        BackupError::EntryMissing { seq }
        | BackupError::EntryUnlisted { seq }
        | BackupError::EntryTampered { seq } => json!({ "seq": seq }),
        BackupError::EntryOutOfOrder { position, seq } => {
            json!({ "position": position, "seq": seq })
        }
        BackupError::BackupFull { max } => json!({ "max": max }),
        BackupError::PayloadTooLarge { len, max } => json!({ "len": len, "max": max }),
        BackupError::RecoveryKeyFormat
        | BackupError::RecoveryKeyMistyped
        | BackupError::WrongRecoveryKey
        | BackupError::WrongPassphrase
        | BackupError::NotPassphraseProtected
        | BackupError::BadSignature
        | BackupError::UnknownSigner
        | BackupError::ManifestForked
        | BackupError::WrappedKeyMismatch
        | BackupError::InvalidPublicKey => json!({}),
        other => missing(&other),
    }
}

fn attachment_fields(e: AttachmentError) -> Value {
    match e {
        AttachmentError::Malformed(inner) => nested(inner),
        AttachmentError::InvalidChunkSize { log2, min, max } => {
            json!({ "log2": log2, "min": min, "max": max })
        }
        AttachmentError::TooLarge { len, max } => {
            json!({ "len": len, "max": max })
        }
        AttachmentError::FieldTooLong { field, len, max } => {
            json!({ "field": field, "len": len, "max": max })
        }
        AttachmentError::InvalidText { field } => {
            json!({ "field": field })
        }
        AttachmentError::ChunkTampered { index } => {
            json!({ "index": index })
        }
        AttachmentError::ChunkReordered { index, found } => {
            json!({ "index": index, "found": found })
        }
        AttachmentError::ChunkDuplicated { index, found } => {
            json!({ "index": index, "found": found })
        }
        AttachmentError::Truncated { len, expected } => {
            json!({ "len": len, "expected": expected })
        }
        AttachmentError::MissingFinalChunk { chunks } => {
            json!({ "chunks": chunks })
        }
        AttachmentError::TrailingData { len, expected } => {
            json!({ "len": len, "expected": expected })
        }
        AttachmentError::InvalidPadding { index } => {
            json!({ "index": index })
        }
        AttachmentError::LengthMismatch { pointer, stream } => {
            json!({ "pointer": pointer, "stream": stream })
        }
        AttachmentError::ChunkOutOfRange { index, chunks } => {
            json!({ "index": index, "chunks": chunks })
        }
        AttachmentError::RangeOutOfBounds { start, end, len } => {
            json!({ "start": start, "end": end, "len": len })
        }
        AttachmentError::CiphertextLength { len, expected } => {
            json!({ "len": len, "expected": expected })
        }
        AttachmentError::Finished
        | AttachmentError::HeaderMismatch
        | AttachmentError::DigestMismatch => json!({}),
        other => missing(&other),
    }
}

#[cfg(feature = "mask")]
fn secure_field_fields(e: hushwire::SecureFieldError) -> Value {
    use hushwire::SecureFieldError;
    match e {
        SecureFieldError::ValueTooLong { len, max } => json!({ "len": len, "max": max }),
        SecureFieldError::Seal(inner) => nested(inner),
        SecureFieldError::Open(inner) => nested(inner),
        SecureFieldError::Malformed(inner) => nested(inner),
        SecureFieldError::NotSecureField { content_type } => {
            json!({ "content_type": type_byte(content_type.to_byte()) })
        }
        SecureFieldError::EmptyValue
        | SecureFieldError::FlagOnlyPolicy
        | SecureFieldError::Mismatch => json!({}),
        other => missing(&other),
    }
}
