//! Every type byte of the wire format (SPEC.md §1.4.1), in one table, so that no two
//! structures can share one and every decoder reports a known type the same way.
//!
//! The modules that encode these structures import their byte from here; the byte ranges are
//! those of SPEC.md (0x0_ sessions, 0x1_ bundles, 0x2_ groups, 0x3_ sealed, 0x4_ certificates,
//! 0x5_ verification, 0x6_ attachments, 0x7_ secure fields, 0x8_ backups, 0x9_ multi-device
//! messaging; the device list is a signed verification structure, `0x54`).

use crate::error::DecodeError;

/// Type byte of a [`super::RatchetMessage`].
pub(crate) const TYPE_RATCHET: u8 = 0x01;
/// Type byte of a [`super::PreKeyMessage`].
pub(crate) const TYPE_PREKEY: u8 = 0x02;
/// Type byte of a [`crate::ResetRequest`].
pub(crate) const TYPE_RESET_REQUEST: u8 = 0x03;
/// Type byte of a version-2 ratchet message, with a KEM part (SPEC.md §5.9.3).
pub(crate) const TYPE_PQ_RATCHET: u8 = 0x04;
/// Type byte of a version-2 prekey message, embedding a type-`0x04` message (SPEC.md §5.9.7).
pub(crate) const TYPE_PQ_PREKEY: u8 = 0x05;
/// Type byte of an encoded [`crate::PreKeyBundle`].
pub(crate) const TYPE_BUNDLE: u8 = 0x10;
/// Type byte of a group message (SPEC.md §14.6.2).
pub(crate) const TYPE_GROUP_MESSAGE: u8 = 0x20;
/// Type byte of a version-1 group sender-key distribution message, signed by the sender's
/// identity key; accepted from older peers, never sent (SPEC.md §14.6.3).
pub(crate) const TYPE_GROUP_DISTRIBUTION: u8 = 0x21;
/// Type byte of a signed group roster, sent as a welcome (SPEC.md §14.6.4).
pub(crate) const TYPE_GROUP_ROSTER: u8 = 0x22;
/// Type byte of a signed group roster change (SPEC.md §14.6.5).
pub(crate) const TYPE_GROUP_ROSTER_CHANGE: u8 = 0x23;
/// Type byte of a version-2 group sender-key distribution message, unsigned: authenticated
/// by the 1:1 channel that carries it (SPEC.md §14.6.3).
pub(crate) const TYPE_GROUP_DISTRIBUTION_V2: u8 = 0x24;
/// Type byte of a single-recipient sealed envelope.
pub(crate) const TYPE_SEALED_ENVELOPE: u8 = 0x30;
/// Type byte of a multi-recipient message (sent to the relay, never to a recipient).
pub(crate) const TYPE_MULTI_RECIPIENT: u8 = 0x31;
/// Type byte of a per-recipient envelope split from a multi-recipient message.
pub(crate) const TYPE_RECIPIENT_ENVELOPE: u8 = 0x32;
/// Type byte of an encoded [`crate::ServerCertificate`].
pub(crate) const TYPE_SERVER_CERTIFICATE: u8 = 0x40;
/// Type byte of an encoded [`crate::SenderCertificate`].
pub(crate) const TYPE_SENDER_CERTIFICATE: u8 = 0x41;
/// Type byte of an encoded [`crate::IdentityCertificate`] (the first of the certificate range
/// `0x42..=0x4F` left for new kinds by [`crate::certificate`]).
pub(crate) const TYPE_IDENTITY_CERTIFICATE: u8 = 0x42;
/// Type byte of the QR payload.
pub(crate) const TYPE_SAFETY_NUMBER_QR: u8 = 0x50;
/// Type byte of a [`crate::verify::SasStart`] (the starter's commitment).
pub(crate) const TYPE_SAS_START: u8 = 0x51;
/// Type byte of a [`crate::verify::SasAccept`] (the accepter's nonce).
pub(crate) const TYPE_SAS_ACCEPT: u8 = 0x52;
/// Type byte of a [`crate::verify::SasReveal`] (the starter's nonce).
pub(crate) const TYPE_SAS_REVEAL: u8 = 0x53;
/// Type byte of an attachment pointer (SPEC.md §16.6.1).
pub(crate) const TYPE_ATTACHMENT_POINTER: u8 = 0x60;
/// Type byte of a secure field's operator copy: masked form and reference (SPEC.md §17.5.2).
/// Defined whatever the features, so every build reports it the same way.
pub(crate) const TYPE_SECURE_FIELD_MASKED: u8 = 0x70;
/// Type byte of a secure field's vaulted value, inside a sealed envelope (SPEC.md §17.5.3).
pub(crate) const TYPE_SECURE_FIELD_VALUE: u8 = 0x71;
/// Type byte of a passphrase-wrapped recovery key (SPEC.md §18.2.3).
pub(crate) const TYPE_WRAPPED_RECOVERY_KEY: u8 = 0x80;
/// Type byte of an encoded backup public key (SPEC.md §18.3).
pub(crate) const TYPE_BACKUP_PUBLIC_KEY: u8 = 0x81;
/// Type byte of a sealed backup entry (SPEC.md §18.4).
pub(crate) const TYPE_BACKUP_ENTRY: u8 = 0x82;
/// Type byte of a signed backup manifest (SPEC.md §18.5).
pub(crate) const TYPE_BACKUP_MANIFEST: u8 = 0x83;
/// Type byte of a whole backup as stored: wrapped key, manifest, entries (SPEC.md §18.6).
pub(crate) const TYPE_BACKUP: u8 = 0x84;
/// Type byte of a hybrid (X25519 + ML-KEM-768) single-recipient sealed envelope.
pub(crate) const TYPE_HYBRID_ENVELOPE: u8 = 0x33;
/// Type byte of a hybrid multi-recipient message (sent to the relay, never to a recipient).
pub(crate) const TYPE_HYBRID_MULTI_RECIPIENT: u8 = 0x34;
/// Type byte of a per-recipient envelope split from a hybrid multi-recipient message.
pub(crate) const TYPE_HYBRID_RECIPIENT_ENVELOPE: u8 = 0x35;
/// Type byte of a published envelope KEM key (SPEC.md §13.8.1).
pub(crate) const TYPE_ENVELOPE_KEY: u8 = 0x36;
/// Type byte of a user's signed device list (SPEC.md §19.2).
pub(crate) const TYPE_DEVICE_LIST: u8 = 0x54;
/// Type byte of a link payload, shown as a QR code by an existing device (SPEC.md §19.11.2).
pub(crate) const TYPE_LINK_PAYLOAD: u8 = 0x55;
/// Type byte of a link request, from the new device (SPEC.md §19.11.3).
pub(crate) const TYPE_LINK_REQUEST: u8 = 0x56;
/// Type byte of a link confirmation, from the new device after its user compared the SAS
/// (SPEC.md §19.11.4).
pub(crate) const TYPE_LINK_CONFIRM: u8 = 0x57;
/// Type byte of a link completion carrying the new list, from the existing device (SPEC.md
/// §19.11.5).
pub(crate) const TYPE_LINK_DONE: u8 = 0x98;
/// Type byte of a fan-out key part, carried inside a 1:1 session message (SPEC.md §19.5.3).
pub(crate) const TYPE_FANOUT_KEY: u8 = 0x90;
/// Type byte of a per-device fan-out envelope, relay to device (SPEC.md §19.5.4).
pub(crate) const TYPE_FANOUT_ENVELOPE: u8 = 0x91;
/// Type byte of a fan-out message, sender to relay (SPEC.md §19.5.5).
pub(crate) const TYPE_FANOUT_MESSAGE: u8 = 0x92;
/// Type byte of the relay's mismatch answer to a fan-out (SPEC.md §19.6.1).
pub(crate) const TYPE_FANOUT_MISMATCH: u8 = 0x93;
/// Type byte of a history share, sent over the 1:1 session to the member who receives the
/// history (SPEC.md §20.8.3).
pub(crate) const TYPE_HISTORY_SHARE: u8 = 0x2B;
/// Type byte of a history notice, sent into the conversation (SPEC.md §20.8.4).
pub(crate) const TYPE_HISTORY_NOTICE: u8 = 0x2C;
/// Type byte of a history bundle's plaintext, inside its attachment object (SPEC.md §20.8.2).
pub(crate) const TYPE_HISTORY_BUNDLE: u8 = 0x61;

/// Type byte of a support conversation's assignment roster, signed by a dispatcher, sent as a
/// welcome to a newly assigned operator (SPEC.md §20.3).
pub(crate) const TYPE_SUPPORT_ROSTER: u8 = 0x25;
/// Type byte of a support roster change: assign an operator (SPEC.md §20.3).
pub(crate) const TYPE_SUPPORT_ASSIGN: u8 = 0x26;
/// Type byte of a support roster change: reassign from one operator to another.
pub(crate) const TYPE_SUPPORT_REASSIGN: u8 = 0x27;
/// Type byte of a support roster change: add a supervisor.
pub(crate) const TYPE_SUPPORT_ADD_SUPERVISOR: u8 = 0x28;
/// Type byte of a support roster change: remove an operator.
pub(crate) const TYPE_SUPPORT_REMOVE: u8 = 0x29;
/// Type byte of a support roster change: close the conversation.
pub(crate) const TYPE_SUPPORT_CLOSE: u8 = 0x2A;
/// Type byte of a dispatcher certificate (SPEC.md §20.2), in the certificate range.
pub(crate) const TYPE_DISPATCHER_CERTIFICATE: u8 = 0x43;
/// Type byte of a visitor's link statement (SPEC.md §20.4).
pub(crate) const TYPE_VISITOR_LINK: u8 = 0x58;
/// Every type byte this build knows, across all decoders (SPEC.md §1.4.1): a structure of
/// another known type is reported as `WrongType`, any other byte as `UnknownType`.
pub(crate) const KNOWN_TYPES: &[u8] = &[
    TYPE_RATCHET,
    TYPE_PREKEY,
    TYPE_RESET_REQUEST,
    TYPE_PQ_RATCHET,
    TYPE_PQ_PREKEY,
    TYPE_BUNDLE,
    TYPE_GROUP_MESSAGE,
    TYPE_GROUP_DISTRIBUTION,
    TYPE_GROUP_ROSTER,
    TYPE_GROUP_ROSTER_CHANGE,
    TYPE_GROUP_DISTRIBUTION_V2,
    TYPE_SEALED_ENVELOPE,
    TYPE_MULTI_RECIPIENT,
    TYPE_RECIPIENT_ENVELOPE,
    TYPE_SERVER_CERTIFICATE,
    TYPE_SENDER_CERTIFICATE,
    TYPE_IDENTITY_CERTIFICATE,
    TYPE_SAFETY_NUMBER_QR,
    TYPE_SAS_START,
    TYPE_SAS_ACCEPT,
    TYPE_SAS_REVEAL,
    TYPE_ATTACHMENT_POINTER,
    TYPE_SECURE_FIELD_MASKED,
    TYPE_SECURE_FIELD_VALUE,
    TYPE_WRAPPED_RECOVERY_KEY,
    TYPE_BACKUP_PUBLIC_KEY,
    TYPE_BACKUP_ENTRY,
    TYPE_BACKUP_MANIFEST,
    TYPE_BACKUP,
    TYPE_HYBRID_ENVELOPE,
    TYPE_HYBRID_MULTI_RECIPIENT,
    TYPE_HYBRID_RECIPIENT_ENVELOPE,
    TYPE_ENVELOPE_KEY,
    TYPE_DEVICE_LIST,
    TYPE_LINK_PAYLOAD,
    TYPE_LINK_REQUEST,
    TYPE_LINK_CONFIRM,
    TYPE_LINK_DONE,
    TYPE_FANOUT_KEY,
    TYPE_FANOUT_ENVELOPE,
    TYPE_FANOUT_MESSAGE,
    TYPE_FANOUT_MISMATCH,
    TYPE_HISTORY_SHARE,
    TYPE_HISTORY_NOTICE,
    TYPE_HISTORY_BUNDLE,
    TYPE_SUPPORT_ROSTER,
    TYPE_SUPPORT_ASSIGN,
    TYPE_SUPPORT_REASSIGN,
    TYPE_SUPPORT_ADD_SUPERVISOR,
    TYPE_SUPPORT_REMOVE,
    TYPE_SUPPORT_CLOSE,
    TYPE_DISPATCHER_CERTIFICATE,
    TYPE_VISITOR_LINK,
];

/// The error for a structure whose type byte `found` is not the `expected` one.
pub(crate) fn type_mismatch(expected: u8, found: u8) -> DecodeError {
    if KNOWN_TYPES.contains(&found) {
        DecodeError::WrongType { expected, found }
    } else {
        DecodeError::UnknownType(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_bytes_are_distinct() {
        let mut sorted = KNOWN_TYPES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            KNOWN_TYPES.len(),
            "two structures share a type byte"
        );
    }
}
