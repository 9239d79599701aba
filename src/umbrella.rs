//! The umbrella [`Error`]: any hushwire error, at the top of the module graph.
//!
//! It names every operation's error (`#[from]`), so nothing inside the library imports it;
//! apps use it through `hushwire::Error` to write `?` across operations.

use thiserror::Error;

use crate::error::{ConfigError, DecodeError, ErrorKind, KeyError};
use crate::persist::RestoreError;
use crate::ratchet::{DecryptError, EncryptError};
use crate::x3dh::HandshakeError;

/// Any hushwire error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`DecodeError`].
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// See [`KeyError`].
    #[error(transparent)]
    Key(#[from] KeyError),
    /// See [`EncryptError`].
    #[error(transparent)]
    Encrypt(#[from] EncryptError),
    /// See [`DecryptError`].
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// See [`HandshakeError`].
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// See [`ConfigError`].
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// See [`RestoreError`].
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// See [`crate::PeerError`].
    #[error(transparent)]
    Peer(#[from] crate::PeerError),
    /// See [`crate::ResetError`].
    #[error(transparent)]
    Reset(#[from] crate::ResetError),
    /// See [`crate::CertificateError`].
    #[error(transparent)]
    Certificate(#[from] crate::CertificateError),
    /// See [`crate::SealError`].
    #[error(transparent)]
    Seal(#[from] crate::SealError),
    /// See [`crate::OpenError`].
    #[error(transparent)]
    Open(#[from] crate::OpenError),
    /// See [`crate::SealedSessionError`].
    #[error(transparent)]
    SealedSession(#[from] crate::SealedSessionError),
    /// See [`crate::group::GroupError`].
    #[error(transparent)]
    Group(#[from] crate::group::GroupError),
    /// See [`crate::group::RosterError`].
    #[error(transparent)]
    Roster(#[from] crate::group::RosterError),
    /// See [`crate::device::DeviceListError`].
    #[error(transparent)]
    DeviceList(#[from] crate::device::DeviceListError),
    /// See [`crate::device::LinkError`].
    #[error(transparent)]
    Link(#[from] crate::device::LinkError),
    /// See [`crate::device::FanOutError`].
    #[error(transparent)]
    FanOut(#[from] crate::device::FanOutError),
    /// See [`crate::verify::VerifyError`].
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    /// See [`crate::support::SupportError`].
    #[error(transparent)]
    Support(#[from] crate::support::SupportError),
    /// See [`crate::attachment::AttachmentError`].
    #[error(transparent)]
    Attachment(#[from] crate::attachment::AttachmentError),
    /// See [`crate::backup::BackupError`].
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    /// See [`crate::history::HistoryError`].
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
    /// See [`crate::mask::MaskCheckError`].
    #[cfg(feature = "mask")]
    #[error(transparent)]
    MaskCheck(#[from] crate::mask::MaskCheckError),
    /// See [`crate::mask::SecureFieldError`].
    #[cfg(feature = "mask")]
    #[error(transparent)]
    SecureField(#[from] crate::mask::SecureFieldError),
}

impl Error {
    /// The stable, language-neutral code of the error inside (SPEC.md §8.4): every code names
    /// its family, so `Error::from(e).code() == e.code()` for every error `e`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Decode(e) => e.code(),
            Error::Key(e) => e.code(),
            Error::Encrypt(e) => e.code(),
            Error::Decrypt(e) => e.code(),
            Error::Handshake(e) => e.code(),
            Error::Config(e) => e.code(),
            Error::Restore(e) => e.code(),
            Error::Peer(e) => e.code(),
            Error::Reset(e) => e.code(),
            Error::Certificate(e) => e.code(),
            Error::Seal(e) => e.code(),
            Error::Open(e) => e.code(),
            Error::SealedSession(e) => e.code(),
            Error::Group(e) => e.code(),
            Error::Roster(e) => e.code(),
            Error::DeviceList(e) => e.code(),
            Error::Link(e) => e.code(),
            Error::FanOut(e) => e.code(),
            Error::Verify(e) => e.code(),
            Error::Support(e) => e.code(),
            Error::Attachment(e) => e.code(),
            Error::Backup(e) => e.code(),
            Error::History(e) => e.code(),
            #[cfg(feature = "mask")]
            Error::MaskCheck(e) => e.code(),
            #[cfg(feature = "mask")]
            Error::SecureField(e) => e.code(),
        }
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Decode(e) => e.kind(),
            Error::Key(_) => ErrorKind::Tampered,
            Error::Encrypt(e) => e.kind(),
            Error::Decrypt(e) => e.kind(),
            Error::Handshake(e) => e.kind(),
            Error::Config(e) => e.kind(),
            Error::Restore(e) => e.kind(),
            Error::Peer(e) => e.kind(),
            Error::Reset(e) => e.kind(),
            Error::Certificate(e) => e.kind(),
            Error::Seal(e) => e.kind(),
            Error::Open(e) => e.kind(),
            Error::SealedSession(e) => e.kind(),
            Error::Group(e) => e.kind(),
            Error::Roster(e) => e.kind(),
            Error::DeviceList(e) => e.kind(),
            Error::Link(e) => e.kind(),
            Error::FanOut(e) => e.kind(),
            Error::Verify(e) => e.kind(),
            Error::Support(e) => e.kind(),
            Error::Attachment(e) => e.kind(),
            Error::Backup(e) => e.kind(),
            Error::History(e) => e.kind(),
            #[cfg(feature = "mask")]
            Error::MaskCheck(e) => e.kind(),
            #[cfg(feature = "mask")]
            Error::SecureField(e) => e.kind(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attachment::AttachmentError;
    use crate::certificate::{CertificateError, CertificateKind};
    use crate::error::SignedKeyKind;
    use crate::event::Event;
    use crate::group::{GroupError, GroupEvent, GroupRole, RosterError};
    use crate::keys::IdentityKeyPair;
    use crate::sealed::padding::PaddingError;
    use crate::sealed::{ContentType, OpenError, SealError};
    use crate::session::SessionId;
    use crate::time::Timestamp;
    use crate::verify::{UserId, VerifyError};
    use crate::{PeerError, ResetError, SealedSessionError};
    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// Every code of the crate, in SPEC.md §8.4 order. A renamed code breaks bindings and
    /// vectors: change this list only for a new variant (and add it to SPEC.md §8.4).
    const CODES: &[&str] = &[
        "decode.truncated",
        "decode.trailing_bytes",
        "decode.unknown_version",
        "decode.unknown_type",
        "decode.wrong_type",
        "decode.too_large",
        "decode.invalid_field",
        "key.invalid_identity_key",
        "key.invalid_kem_key",
        "key.invalid_signature",
        "encrypt.plaintext_too_large",
        "encrypt.chain_exhausted",
        "encrypt.invalid_kem_key",
        "decrypt.malformed",
        "decrypt.undecryptable",
        "decrypt.tampered",
        "decrypt.other_session",
        "decrypt.duplicate",
        "decrypt.key_expired",
        "decrypt.too_far_ahead",
        "decrypt.invalid_counter",
        "decrypt.non_contributory",
        "decrypt.state_behind",
        "decrypt.peer_state_forked",
        "decrypt.chain_forgotten",
        "decrypt.kem_part_missing",
        "decrypt.kem_part_unexpected",
        "decrypt.session_version_mismatch",
        "handshake.malformed",
        "handshake.key",
        "handshake.non_contributory",
        "handshake.unknown_signed_prekey",
        "handshake.unknown_one_time_prekey",
        "handshake.one_time_prekey_reused",
        "handshake.unknown_kem_prekey",
        "handshake.kem_prekey_reused",
        "handshake.replayed_initial_message",
        "handshake.replay_records_full",
        "handshake.too_many_peers",
        "handshake.own_identity",
        "handshake.peer_not_loaded",
        "handshake.first_message",
        "config.out_of_range",
        "config.ids_exhausted",
        "restore.truncated",
        "restore.not_state_blob",
        "restore.unknown_version",
        "restore.wrong_type",
        "restore.authentication",
        "restore.corrupt",
        "restore.rolled_back",
        "restore.limit_exceeded",
        "restore.wrong_object",
        "restore.device_state",
        "peer.unknown_peer",
        "peer.no_matching_session",
        "peer.no_answered_session",
        "peer.sender_mismatch",
        "peer.identity_changed",
        "peer.not_loaded",
        "peer.device_removed",
        "peer.encrypt",
        "peer.decrypt",
        "peer.handshake",
        "reset.malformed",
        "reset.bad_signature",
        "reset.not_for_us",
        "reset.stale",
        "reset.rate_limited",
        "reset.bundle_mismatch",
        "reset.handshake",
        "certificate.malformed",
        "certificate.unknown_root",
        "certificate.bad_signature",
        "certificate.expired",
        "certificate.not_yet_valid",
        "certificate.server_key_revoked",
        "certificate.certificate_revoked",
        "certificate.invalid_key",
        "certificate.invalid_validity",
        "certificate.user_id_length",
        "certificate.issuer_mismatch",
        "certificate.duplicate_root",
        "certificate.trust_store_full",
        "seal.message_too_large",
        "seal.certificate_mismatch",
        "seal.no_recipients",
        "seal.too_many_recipients",
        "seal.duplicate_recipient",
        "seal.non_contributory",
        "seal.bad_envelope_key",
        "seal.envelope_key_mismatch",
        "open.malformed",
        "open.not_for_us",
        "open.non_contributory",
        "open.tampered",
        "open.bad_padding",
        "open.malformed_content",
        "open.sender_not_authenticated",
        "open.self_send",
        "open.certificate",
        "open.unknown_envelope_key",
        "open.classical_refused",
        "padding.missing_marker",
        "padding.wrong_length",
        "sealed_session.not_session_content",
        "sealed_session.wrong_session",
        "sealed_session.sender_mismatch",
        "sealed_session.decrypt",
        "sealed_session.handshake",
        "sealed_session.peer",
        "group.malformed",
        "group.wrong_group",
        "group.removed",
        "group.own_message",
        "group.unknown_sender",
        "group.unknown_sender_key",
        "group.sender_mismatch",
        "group.bad_signature",
        "group.tampered",
        "group.invalid_epoch",
        "group.sender_key_retired",
        "group.stale_sender_key",
        "group.duplicate_distribution",
        "group.future_epoch",
        "group.old_epoch_refused",
        "group.duplicate",
        "group.key_evicted",
        "group.before_sender_key",
        "group.too_far_ahead",
        "group.plaintext_too_large",
        "group.chain_exhausted",
        "group.wrong_identity",
        "roster.malformed",
        "roster.wrong_group",
        "roster.bad_signature",
        "roster.not_admin",
        "roster.skipped_epoch",
        "roster.forked_epoch",
        "roster.stale_epoch",
        "roster.duplicate_change",
        "roster.too_many_members",
        "roster.already_member",
        "roster.not_a_member",
        "roster.last_admin",
        "roster.inviter_mismatch",
        "roster.not_in_roster",
        "roster.removed",
        "roster.epoch_exhausted",
        "roster.wrong_identity",
        "verify.malformed",
        "verify.safety_number_version",
        "verify.other_pair",
        "verify.swapped",
        "verify.user_id_length",
        "verify.session_not_established",
        "verify.sas_other_run",
        "verify.sas_other_session",
        "verify.sas_commitment_mismatch",
        "verify.sas_expired",
        "verify.unknown_user",
        "verify.identity_mismatch",
        "verify.own_identity",
        "verify.too_many_identities",
        "verify.text_length",
        "verify.invalid_text",
        "verify.issuer_mismatch",
        "verify.lifetime_too_long",
        "verify.forged",
        "verify.foreign_organization",
        "verify.organization_mismatch",
        "verify.expired",
        "verify.not_yet_valid",
        "verify.revoked",
        "verify.operator_key_mismatch",
        "verify.certificate",
        "attachment.malformed",
        "attachment.invalid_chunk_size",
        "attachment.too_large",
        "attachment.field_too_long",
        "attachment.invalid_text",
        "attachment.finished",
        "attachment.header_mismatch",
        "attachment.chunk_tampered",
        "attachment.chunk_reordered",
        "attachment.chunk_duplicated",
        "attachment.truncated",
        "attachment.missing_final_chunk",
        "attachment.trailing_data",
        "attachment.invalid_padding",
        "attachment.length_mismatch",
        "attachment.digest_mismatch",
        "attachment.chunk_out_of_range",
        "attachment.range_out_of_bounds",
        "attachment.ciphertext_length",
        "backup.malformed",
        "backup.recovery_key_format",
        "backup.recovery_key_mistyped",
        "backup.wrong_recovery_key",
        "backup.wrong_passphrase",
        "backup.not_passphrase_protected",
        "backup.kdf_params_out_of_range",
        "backup.bad_signature",
        "backup.unknown_signer",
        "backup.rolled_back",
        "backup.entry_missing",
        "backup.entry_unlisted",
        "backup.entry_out_of_order",
        "backup.wrapped_key_mismatch",
        "backup.entry_tampered",
        "backup.entry_content",
        "backup.manifest_forked",
        "backup.backup_full",
        "backup.payload_too_large",
        "backup.invalid_public_key",
        "mask_check.unmasked",
        "secure_field.empty_value",
        "secure_field.value_too_long",
        "secure_field.flag_only_policy",
        "secure_field.seal",
        "secure_field.open",
        "secure_field.not_secure_field",
        "secure_field.malformed",
        "secure_field.mismatch",
        "device_list.malformed",
        "device_list.bad_signature",
        "device_list.bad_counter_signature",
        "device_list.device_count",
        "device_list.too_many_tombstones",
        "device_list.duplicate",
        "device_list.other_user",
        "device_list.user_key_changed",
        "device_list.not_newer",
        "device_list.dropped_without_tombstone",
        "device_list.resurrected",
        "device_list.no_list",
        "device_list.unknown_device",
        "device_list.identity_changed",
        "device_list.device_id_taken",
        "device_list.exhausted",
        "device_list.identity",
        "fanout.malformed",
        "fanout.plaintext_too_large",
        "fanout.too_many_devices",
        "fanout.no_recipients",
        "fanout.peer",
        "fanout.tampered",
        "fanout.not_in_manifest",
        "fanout.not_recipient",
        "fanout.unvouched",
        "fanout.already_included",
        "fanout.device_list",
        "link.malformed",
        "link.out_of_order",
        "link.expired",
        "link.wrong_nonce",
        "link.wrong_peer",
        "link.entry_mismatch",
        "link.other_run",
        "link.bad_confirm",
        "link.list_mismatch",
        "link.bundle_mismatch",
        "link.already_linked",
        "link.no_user_key",
        "link.no_session",
        "link.sas",
        "link.list",
        "link.session",
        "history.malformed",
        "history.bundle_malformed",
        "history.attachment",
        "history.not_member",
        "history.recipient_not_member",
        "history.own_identity",
        "history.invalid_range",
        "history.transcript_out_of_order",
        "history.nothing_in_range",
        "history.too_many_entries",
        "history.entry_too_large",
        "history.bundle_too_large",
        "history.not_for_us",
        "history.wrong_conversation",
        "history.sender_mismatch",
        "history.exporter_not_member",
        "history.bundle_mismatch",
        "history.entry_outside_range",
        "history.entries_out_of_order",
        "support.malformed",
        "support.visitor_expired",
        "support.visitor_linked",
        "support.visitor_key_changed",
        "support.operator_not_certified",
        "support.dispatcher_not_certified",
        "support.bad_signature",
        "support.wrong_conversation",
        "support.stale_version",
        "support.skipped_version",
        "support.forked_version",
        "support.version_exhausted",
        "support.already_assigned",
        "support.not_assigned",
        "support.too_many_operators",
        "support.closed",
        "support.not_in_roster",
        "support.link_forged",
        "support.link_mismatch",
        "support.link_stale",
        "support.already_linked",
        "support.invalid_text",
        "support.lifetime_too_long",
        "event.one_time_prekey_consumed",
        "event.kem_prekey_consumed",
        "event.last_resort_kem_prekey_used",
        "event.one_time_prekeys_low",
        "event.skipped_keys_evicted",
        "event.session_established",
        "event.active_session_changed",
        "event.session_reset",
        "event.prekey_rotation_due",
        "event.skipped_keys_expired",
        "event.identity_changed",
        "event.peer_evicted",
        "group_event.member_added",
        "group_event.member_removed",
        "group_event.role_changed",
        "group_event.removed_from_group",
        "group_event.sender_key_rotated",
        "group_event.sender_key_received",
        "group_event.skipped_keys_evicted",
        "group_event.old_epoch_message",
        "support_event.operator_added",
        "support_event.operator_removed",
        "support_event.closed",
        "support_event.removed_from_conversation",
        "support_event.sender_key_rotated",
        "support_event.visitor_verified",
    ];

    /// The code of one value of every error variant and event of the crate, in SPEC.md §8.4
    /// order: each variant maps to its own code.
    fn every_code() -> Vec<&'static str> {
        let d = DecodeError::Truncated { needed: 1 };
        let decode = [
            d,
            DecodeError::TrailingBytes { count: 1 },
            DecodeError::UnknownVersion(2),
            DecodeError::UnknownType(0x7f),
            DecodeError::WrongType {
                expected: 1,
                found: 2,
            },
            DecodeError::TooLarge { len: 2, max: 1 },
            DecodeError::InvalidField { field: "f" },
        ];
        let key = [
            KeyError::InvalidIdentityKey,
            KeyError::InvalidKemKey,
            KeyError::InvalidSignature(SignedKeyKind::SignedPreKey),
        ];
        let encrypt = [
            EncryptError::PlaintextTooLarge { len: 2, max: 1 },
            EncryptError::ChainExhausted,
            EncryptError::InvalidKemKey,
        ];
        let decrypt = [
            DecryptError::Malformed(d),
            DecryptError::Undecryptable,
            DecryptError::Tampered,
            DecryptError::OtherSession,
            DecryptError::Duplicate { counter: 0 },
            DecryptError::KeyExpired { counter: 0 },
            DecryptError::TooFarAhead { gap: 2, max: 1 },
            DecryptError::InvalidCounter,
            DecryptError::NonContributory,
            DecryptError::StateBehind {
                their_epoch: 2,
                our_epoch: 1,
            },
            DecryptError::PeerStateForked,
            DecryptError::ChainForgotten,
            DecryptError::KemPartMissing,
            DecryptError::KemPartUnexpected,
            DecryptError::SessionVersionMismatch {
                session: 2,
                message: 1,
            },
        ];
        let handshake = [
            HandshakeError::Malformed(d),
            HandshakeError::Key(KeyError::InvalidKemKey),
            HandshakeError::NonContributory,
            HandshakeError::UnknownSignedPreKey(1),
            HandshakeError::UnknownOneTimePreKey(1),
            HandshakeError::OneTimePreKeyReused(1),
            HandshakeError::UnknownKemPreKey(1),
            HandshakeError::KemPreKeyReused(1),
            HandshakeError::ReplayedInitialMessage,
            HandshakeError::ReplayRecordsFull,
            HandshakeError::TooManyPeers { limit: 1 },
            HandshakeError::OwnIdentity,
            HandshakeError::PeerNotLoaded,
            HandshakeError::FirstMessage(DecryptError::Tampered),
        ];
        let config = [
            ConfigError::OutOfRange {
                name: "n",
                value: 0,
                min: 1,
                max: 2,
            },
            ConfigError::IdsExhausted { name: "n" },
        ];
        let restore = [
            RestoreError::Truncated,
            RestoreError::NotStateBlob,
            RestoreError::UnknownVersion(2),
            RestoreError::WrongType {
                expected: 1,
                found: 2,
            },
            RestoreError::Authentication,
            RestoreError::Corrupt,
            RestoreError::RolledBack {
                found: 1,
                minimum: 2,
            },
            RestoreError::LimitExceeded {
                limit: "members",
                max: 1,
            },
            RestoreError::WrongObject { field: "peer" },
            RestoreError::DeviceState,
        ];
        let peer = [
            PeerError::UnknownPeer,
            PeerError::NoMatchingSession,
            PeerError::NoAnsweredSession,
            PeerError::SenderMismatch,
            PeerError::IdentityChanged,
            PeerError::NotLoaded,
            PeerError::DeviceRemoved,
            PeerError::Encrypt(EncryptError::ChainExhausted),
            PeerError::Decrypt(DecryptError::Tampered),
            PeerError::Handshake(HandshakeError::OwnIdentity),
        ];
        let reset = [
            ResetError::Malformed(d),
            ResetError::BadSignature,
            ResetError::NotForUs,
            ResetError::Stale,
            ResetError::RateLimited {
                retry_after_secs: 1,
            },
            ResetError::BundleMismatch,
            ResetError::Handshake(HandshakeError::OwnIdentity),
        ];
        let t = Timestamp::from_unix_secs(1);
        let k = CertificateKind::Sender;
        let certificate = [
            CertificateError::Malformed(d),
            CertificateError::UnknownRoot { root_id: 1 },
            CertificateError::BadSignature(k),
            CertificateError::Expired {
                kind: k,
                expires_at: t,
            },
            CertificateError::NotYetValid {
                kind: k,
                not_before: t,
            },
            CertificateError::ServerKeyRevoked { key_id: 1 },
            CertificateError::CertificateRevoked {
                kind: k,
                server_key_id: 1,
                serial: 1,
            },
            CertificateError::InvalidKey,
            CertificateError::InvalidValidity,
            CertificateError::UserIdLength { len: 0, max: 1 },
            CertificateError::IssuerMismatch,
            CertificateError::DuplicateRoot { root_id: 1 },
            CertificateError::TrustStoreFull { max: 1 },
        ];
        let seal = [
            SealError::MessageTooLarge { len: 2, max: 1 },
            SealError::CertificateMismatch,
            SealError::NoRecipients,
            SealError::TooManyRecipients { count: 2, max: 1 },
            SealError::DuplicateRecipient { index: 1 },
            SealError::NonContributory,
            SealError::BadEnvelopeKey { index: 0 },
            SealError::EnvelopeKeyMismatch,
        ];
        let open = [
            OpenError::Malformed(d),
            OpenError::NotForUs,
            OpenError::NonContributory,
            OpenError::Tampered,
            OpenError::BadPadding(PaddingError::MissingMarker),
            OpenError::MalformedContent(d),
            OpenError::SenderNotAuthenticated,
            OpenError::SelfSend,
            OpenError::Certificate(CertificateError::InvalidKey),
            OpenError::UnknownEnvelopeKey { key_id: 1 },
            OpenError::ClassicalRefused,
        ];
        let padding = [
            PaddingError::MissingMarker,
            PaddingError::WrongLength {
                len: 1,
                expected: 2,
            },
        ];
        let sealed_session = [
            SealedSessionError::NotSessionContent {
                content_type: ContentType::GROUP,
            },
            SealedSessionError::WrongSession,
            SealedSessionError::SenderMismatch,
            SealedSessionError::Decrypt(DecryptError::Tampered),
            SealedSessionError::Handshake(HandshakeError::OwnIdentity),
            SealedSessionError::Peer(PeerError::UnknownPeer),
        ];
        let group = [
            GroupError::Malformed(d),
            GroupError::WrongGroup,
            GroupError::Removed,
            GroupError::OwnMessage,
            GroupError::UnknownSender,
            GroupError::UnknownSenderKey { key_id: 1 },
            GroupError::SenderMismatch,
            GroupError::BadSignature,
            GroupError::Tampered,
            GroupError::InvalidEpoch,
            GroupError::SenderKeyRetired { key_id: 1 },
            GroupError::StaleSenderKey { key_id: 1 },
            GroupError::DuplicateDistribution { key_id: 1 },
            GroupError::FutureEpoch {
                message_epoch: 2,
                our_epoch: 1,
            },
            GroupError::OldEpochRefused {
                key_id: 1,
                rekey_epoch: 2,
            },
            GroupError::Duplicate { index: 1 },
            GroupError::KeyEvicted { index: 1 },
            GroupError::BeforeSenderKey { index: 1, first: 2 },
            GroupError::TooFarAhead { gap: 2, max: 1 },
            GroupError::PlaintextTooLarge { len: 2, max: 1 },
            GroupError::ChainExhausted,
            GroupError::WrongIdentity,
        ];
        let roster = [
            RosterError::Malformed(d),
            RosterError::WrongGroup,
            RosterError::BadSignature,
            RosterError::NotAdmin { signer: [0; 32] },
            RosterError::SkippedEpoch {
                current: 1,
                found: 3,
            },
            RosterError::ForkedEpoch { epoch: 1 },
            RosterError::StaleEpoch {
                current: 2,
                found: 1,
            },
            RosterError::DuplicateChange { epoch: 1 },
            RosterError::TooManyMembers { max: 1 },
            RosterError::AlreadyMember { member: [0; 32] },
            RosterError::NotAMember { member: [0; 32] },
            RosterError::LastAdmin,
            RosterError::InviterMismatch,
            RosterError::NotInRoster,
            RosterError::Removed,
            RosterError::EpochExhausted,
            RosterError::WrongIdentity,
        ];
        let verify = [
            VerifyError::Malformed(d),
            VerifyError::SafetyNumberVersion { ours: 1, theirs: 2 },
            VerifyError::OtherPair,
            VerifyError::Swapped,
            VerifyError::UserIdLength { len: 0, max: 1 },
            VerifyError::SessionNotEstablished,
            VerifyError::SasOtherRun,
            VerifyError::SasOtherSession,
            VerifyError::SasCommitmentMismatch,
            VerifyError::SasExpired {
                expired_at: Timestamp::from_unix_secs(0),
            },
            VerifyError::UnknownUser,
            VerifyError::IdentityMismatch,
            VerifyError::OwnIdentity,
            VerifyError::TooManyIdentities { max: 1 },
            VerifyError::TextLength {
                field: "f",
                len: 0,
                max: 1,
            },
            VerifyError::InvalidText { field: "f" },
            VerifyError::IssuerMismatch,
            VerifyError::LifetimeTooLong {
                lifetime_secs: 2,
                max_secs: 1,
            },
            VerifyError::Forged,
            VerifyError::ForeignOrganization { root_id: 1 },
            VerifyError::OrganizationMismatch { root_id: 1 },
            VerifyError::Expired { expires_at: t },
            VerifyError::NotYetValid { not_before: t },
            VerifyError::Revoked,
            VerifyError::OperatorKeyMismatch,
            VerifyError::Certificate(CertificateError::InvalidKey),
        ];
        let id = SessionId::from_bytes([0; 32]);
        let member = *IdentityKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(1)).public();
        let events = [
            Event::OneTimePreKeyConsumed { id: 1 },
            Event::KemPreKeyConsumed { id: 1 },
            Event::LastResortKemPreKeyUsed { id: 1 },
            Event::OneTimePreKeysLow {
                x25519_remaining: 0,
                kem_remaining: 0,
            },
            Event::SkippedKeysEvicted { count: 1 },
            Event::SessionEstablished { session_id: id },
            Event::ActiveSessionChanged { session_id: id },
            Event::SessionReset { session_id: id },
            Event::PreKeyRotationDue,
            Event::SkippedKeysExpired { count: 1 },
            Event::IdentityChanged {
                user_id: UserId::new(b"u").unwrap(),
                was_verified: true,
            },
            Event::PeerEvicted { peer: member },
        ];
        let group_events = [
            GroupEvent::MemberAdded {
                member,
                role: GroupRole::Member,
                by: member,
                epoch: 1,
            },
            GroupEvent::MemberRemoved {
                member,
                by: member,
                epoch: 1,
            },
            GroupEvent::RoleChanged {
                member,
                role: GroupRole::Admin,
                by: member,
                epoch: 1,
            },
            GroupEvent::RemovedFromGroup {
                by: member,
                epoch: 1,
            },
            GroupEvent::SenderKeyRotated { key_id: 1 },
            GroupEvent::SenderKeyReceived { member, key_id: 1 },
            GroupEvent::SkippedKeysEvicted { count: 1 },
            GroupEvent::OldEpochMessage {
                member,
                key_id: 1,
                message_epoch: 1,
                rekey_epoch: 2,
            },
        ];

        let mut errors: Vec<Error> = Vec::new();
        errors.extend(decode.map(Error::from));
        errors.extend(key.map(Error::from));
        errors.extend(encrypt.map(Error::from));
        errors.extend(decrypt.map(Error::from));
        errors.extend(handshake.map(Error::from));
        errors.extend(config.map(Error::from));
        errors.extend(restore.map(Error::from));
        errors.extend(peer.map(Error::from));
        errors.extend(reset.map(Error::from));
        errors.extend(certificate.map(Error::from));
        errors.extend(seal.map(Error::from));
        errors.extend(open.map(Error::from));
        let mut codes: Vec<&'static str> = errors.iter().map(Error::code).collect();
        // `PaddingError` has no umbrella variant: it reaches callers inside `OpenError`.
        codes.extend(padding.iter().map(PaddingError::code));
        let mut rest: Vec<Error> = Vec::new();
        rest.extend(sealed_session.map(Error::from));
        rest.extend(group.map(Error::from));
        rest.extend(roster.map(Error::from));
        rest.extend(verify.map(Error::from));
        let attachment = [
            AttachmentError::Malformed(DecodeError::Truncated { needed: 1 }),
            AttachmentError::InvalidChunkSize {
                log2: 1,
                min: 1,
                max: 1,
            },
            AttachmentError::TooLarge { len: 1, max: 1 },
            AttachmentError::FieldTooLong {
                field: "f",
                len: 1,
                max: 1,
            },
            AttachmentError::InvalidText { field: "f" },
            AttachmentError::Finished,
            AttachmentError::HeaderMismatch,
            AttachmentError::ChunkTampered { index: 1 },
            AttachmentError::ChunkReordered { index: 1, found: 1 },
            AttachmentError::ChunkDuplicated { index: 1, found: 1 },
            AttachmentError::Truncated {
                len: 1,
                expected: 1,
            },
            AttachmentError::MissingFinalChunk { chunks: 1 },
            AttachmentError::TrailingData {
                len: 1,
                expected: 1,
            },
            AttachmentError::InvalidPadding { index: 1 },
            AttachmentError::LengthMismatch {
                pointer: 1,
                stream: 1,
            },
            AttachmentError::DigestMismatch,
            AttachmentError::ChunkOutOfRange {
                index: 1,
                chunks: 1,
            },
            AttachmentError::RangeOutOfBounds {
                start: 1,
                end: 1,
                len: 1,
            },
            AttachmentError::CiphertextLength {
                len: 1,
                expected: 1,
            },
        ];
        rest.extend(attachment.map(Error::from));
        {
            use crate::backup::BackupError;
            let backup = [
                BackupError::Malformed(DecodeError::Truncated { needed: 1 }),
                BackupError::RecoveryKeyFormat,
                BackupError::RecoveryKeyMistyped,
                BackupError::WrongRecoveryKey,
                BackupError::WrongPassphrase,
                BackupError::NotPassphraseProtected,
                BackupError::KdfParamsOutOfRange {
                    name: "lanes",
                    value: 5,
                    min: 1,
                    max: 4,
                },
                BackupError::BadSignature,
                BackupError::UnknownSigner,
                BackupError::RolledBack {
                    found: 1,
                    minimum: 2,
                },
                BackupError::EntryMissing { seq: 1 },
                BackupError::EntryUnlisted { seq: 1 },
                BackupError::EntryOutOfOrder {
                    position: 1,
                    seq: 2,
                },
                BackupError::WrappedKeyMismatch,
                BackupError::EntryTampered { seq: 1 },
                BackupError::EntryContent(RestoreError::Corrupt),
                BackupError::ManifestForked,
                BackupError::BackupFull { max: 1 },
                BackupError::PayloadTooLarge { len: 2, max: 1 },
                BackupError::InvalidPublicKey,
            ];
            rest.extend(backup.map(Error::from));
        }
        #[cfg(feature = "mask")]
        {
            use crate::mask::{MaskCheckError, SecureFieldError, SensitiveKind};
            rest.push(Error::from(MaskCheckError::Unmasked {
                kind: SensitiveKind::CARD,
                start: 0,
                end: 1,
            }));
            let secure_field = [
                SecureFieldError::EmptyValue,
                SecureFieldError::ValueTooLong { len: 2, max: 1 },
                SecureFieldError::FlagOnlyPolicy,
                SecureFieldError::Seal(SealError::NoRecipients),
                SecureFieldError::Open(OpenError::Tampered),
                SecureFieldError::NotSecureField {
                    content_type: ContentType::SESSION,
                },
                SecureFieldError::Malformed(DecodeError::Truncated { needed: 1 }),
                SecureFieldError::Mismatch,
            ];
            rest.extend(secure_field.map(Error::from));
        }
        {
            use crate::device::DeviceListError as L;
            let device_list = [
                L::Malformed(d),
                L::BadSignature,
                L::BadCounterSignature { device_id: 1 },
                L::DeviceCount { count: 0, max: 1 },
                L::TooManyTombstones { count: 2, max: 1 },
                L::Duplicate { device_id: 1 },
                L::OtherUser,
                L::UserKeyChanged,
                L::NotNewer {
                    held: 2,
                    received: 1,
                },
                L::DroppedWithoutTombstone { device_id: 1 },
                L::Resurrected { device_id: 1 },
                L::NoList,
                L::UnknownDevice { device_id: 1 },
                L::IdentityChanged,
                L::DeviceIdTaken { device_id: 1 },
                L::Exhausted,
                L::Identity(VerifyError::OwnIdentity),
            ];
            rest.extend(device_list.map(Error::from));
            use crate::device::FanOutError as F;
            let fan_out = [
                F::Malformed(d),
                F::PlaintextTooLarge { len: 2, max: 1 },
                F::TooManyDevices { count: 2, max: 1 },
                F::NoRecipients,
                F::Peer(PeerError::UnknownPeer),
                F::Tampered,
                F::NotInManifest { device_id: 1 },
                F::NotRecipient { device_id: 1 },
                F::Unvouched { device_id: 1 },
                F::AlreadyIncluded { device_id: 1 },
                F::DeviceList(L::NoList),
            ];
            rest.extend(fan_out.map(Error::from));
        }
        {
            use crate::device::LinkError as K;
            let link = [
                K::Malformed(d),
                K::OutOfOrder {
                    expected: 0x56,
                    found: 0x57,
                },
                K::Expired {
                    expired_at: Timestamp::from_unix_secs(1),
                },
                K::WrongNonce,
                K::WrongPeer,
                K::EntryMismatch,
                K::OtherRun,
                K::BadConfirm,
                K::ListMismatch,
                K::BundleMismatch,
                K::AlreadyLinked,
                K::NoUserKey,
                K::NoSession,
                K::Sas(VerifyError::OwnIdentity),
                K::List(crate::device::DeviceListError::NoList),
                K::Session(crate::x3dh::HandshakeError::OwnIdentity),
            ];
            rest.extend(link.map(Error::from));
        }
        {
            use crate::history::HistoryError as H;
            let key = [1u8; 32];
            let history = [
                H::Malformed(d),
                H::BundleMalformed(d),
                H::Attachment(AttachmentError::DigestMismatch),
                H::NotMember,
                H::RecipientNotMember { recipient: key },
                H::OwnIdentity,
                H::InvalidRange { start: 1, end: 1 },
                H::TranscriptOutOfOrder { position: 1 },
                H::NothingInRange,
                H::TooManyEntries { count: 2, max: 1 },
                H::EntryTooLarge {
                    index: 1,
                    len: 2,
                    max: 1,
                },
                H::BundleTooLarge { len: 2, max: 1 },
                H::NotForUs,
                H::WrongConversation,
                H::SenderMismatch,
                H::ExporterNotMember { exporter: key },
                H::BundleMismatch,
                H::EntryOutsideRange { index: 1 },
                H::EntriesOutOfOrder { position: 1 },
            ];
            rest.extend(history.map(Error::from));
        }
        {
            use crate::support::SupportError as S;
            let k = [0u8; 32];
            let support = [
                S::Malformed(d),
                S::VisitorExpired { expired_at: t },
                S::VisitorLinked,
                S::VisitorKeyChanged {
                    expected: k,
                    found: k,
                },
                S::OperatorNotCertified(VerifyError::Revoked),
                S::DispatcherNotCertified(VerifyError::Revoked),
                S::BadSignature,
                S::WrongConversation,
                S::StaleVersion {
                    current: 1,
                    found: 1,
                },
                S::SkippedVersion {
                    current: 1,
                    found: 3,
                },
                S::ForkedVersion { version: 2 },
                S::VersionExhausted,
                S::AlreadyAssigned { operator: k },
                S::NotAssigned { operator: k },
                S::TooManyOperators { max: 1 },
                S::Closed,
                S::NotInRoster,
                S::LinkForged,
                S::LinkMismatch,
                S::LinkStale { issued_at: t },
                S::AlreadyLinked,
                S::InvalidText { field: "f" },
                S::LifetimeTooLong {
                    lifetime_secs: 2,
                    max_secs: 1,
                },
            ];
            rest.extend(support.map(Error::from));
        }
        codes.extend(rest.iter().map(Error::code));
        codes.extend(events.iter().map(Event::code));
        codes.extend(group_events.iter().map(GroupEvent::code));
        {
            use crate::support::SupportEvent as E;
            let operator = crate::support::VerifiedOperator::new(crate::verify::BusinessIdentity {
                organization: "o".into(),
                operator_name: "n".into(),
                role: "r".into(),
                identity_key: member,
                root_id: 1,
                serial: 1,
                valid_until: Timestamp::from_unix_secs(1),
            });
            let support_events = [
                E::OperatorAdded {
                    operator,
                    role: crate::support::AssignmentRole::Assigned,
                    version: 1,
                },
                E::OperatorRemoved {
                    identity_key: member,
                    version: 1,
                },
                E::Closed { version: 1 },
                E::RemovedFromConversation { version: 1 },
                E::SenderKeyRotated { key_id: 1 },
                E::VisitorVerified {
                    user_id: "u".into(),
                    account_key: member,
                },
            ];
            codes.extend(support_events.iter().map(E::code));
        }

        // The umbrella's code is the inner error's, and so is its kind.
        for e in errors.iter().chain(&rest) {
            assert!(e.code().contains('.'), "{e:?}");
        }
        for e in decrypt {
            assert_eq!(Error::from(e).code(), e.code());
        }
        codes
    }

    #[test]
    fn codes_are_unique_and_match_the_fixed_list() {
        let codes = every_code();
        assert_eq!(codes, CODES);
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), codes.len(), "a code is used twice");
        for code in codes {
            let (family, variant) = code.split_once('.').unwrap();
            for part in [family, variant] {
                assert!(
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{code} is not dotted snake_case"
                );
            }
        }
    }

    #[test]
    fn spec_lists_every_code_and_kind() {
        let spec = include_str!("../SPEC.md");
        let start = spec.find("### 8.4 Codes").expect("SPEC.md has §8.4");
        let end = start + spec[start..].find("\n## ").expect("§8.4 ends");
        let section = &spec[start..end];
        let listed: Vec<&str> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .filter(|c| c.contains('.'))
            .collect();
        assert_eq!(listed, CODES, "SPEC.md §8.4 lists other codes");
        for kind in [
            ErrorKind::Malformed,
            ErrorKind::Tampered,
            ErrorKind::UnknownSession,
            ErrorKind::Replay,
            ErrorKind::LimitExceeded,
            ErrorKind::InvalidInput,
            ErrorKind::StateOutOfSync,
            ErrorKind::Untrusted,
        ] {
            let row = format!("| `{kind:?}` | `{}` |", kind.code());
            assert!(spec.contains(&row), "SPEC.md §8.1 lacks {row}");
        }
    }

    /// Every code string in the `code()` methods of the crate's source is in [`CODES`], once:
    /// a new variant's code, or a renamed one, fails here until the list (and SPEC.md §8.4)
    /// has it.
    #[test]
    fn every_code_in_the_source_is_listed() {
        // Every file under src/ (a file's `mod tests` block is skipped below).
        fn rust_files(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let mut sources = Vec::new();
        rust_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut sources,
        );
        let mut found = Vec::new();
        for source in &sources {
            // Only the library code: a test module's list is not a source of codes.
            let code = source.split("#[cfg(test)]\nmod tests {").next().unwrap();
            // Every text between two quotes that is a dotted snake_case word (whatever the
            // quotes' parity: nothing else in the source has that shape).
            let pieces: Vec<&str> = code.split('"').collect();
            for literal in pieces.iter().skip(1).take(pieces.len().saturating_sub(2)) {
                let dotted = literal.split_once('.').is_some_and(|(f, v)| {
                    !f.is_empty()
                        && !v.is_empty()
                        && !v.contains('.')
                        && literal
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
                });
                if dotted {
                    found.push(*literal);
                }
            }
        }
        let mut listed = CODES.to_vec();
        listed.sort_unstable();
        found.sort_unstable();
        assert_eq!(found, listed, "the codes in the source differ from CODES");
    }
}
