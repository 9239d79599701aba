//! Every domain-separation label of the protocol: HKDF infos, signature contexts, MAC and
//! hash prefixes (SPEC.md §1.3.2). A label is part of the wire: changing one changes every
//! vector that uses it.
//!
//! They live in one place so that a new one is checked against all the others: the test
//! below keeps them pairwise distinct and prefix-free, so no input built for one purpose can
//! be read as another's.

// attachment/header

/// HKDF info of the per-file stream key and nonce prefix (SPEC.md §16.3).
pub(crate) const LABEL_ATTACHMENT_STREAM: &[u8] = b"hushwire/v1/attachment/stream";

// backup/entry

/// HKDF info prefix of an entry's key.
pub(crate) const LABEL_BACKUP_ENTRY_KEY: &[u8] = b"hushwire/v1/backup/entry-key";
/// SHA-256 prefix of an entry's digest, as the manifest lists it.
pub(crate) const LABEL_BACKUP_ENTRY_DIGEST: &[u8] = b"hushwire/v1/backup/entry-digest";

// backup/manifest

/// Signature context of a device certificate (made by the recovery signing key).
pub(crate) const LABEL_SIG_BACKUP_DEVICE: &[u8] = b"hushwire/v1/sig/backup-device";
/// Signature context of a manifest.
pub(crate) const LABEL_SIG_BACKUP_MANIFEST: &[u8] = b"hushwire/v1/sig/backup-manifest";
/// SHA-256 prefix of a manifest's hash (the next manifest's `previous`).
pub(crate) const LABEL_BACKUP_MANIFEST_HASH: &[u8] = b"hushwire/v1/backup/manifest-hash";
/// SHA-256 prefix of the digest of the passphrase-wrapped recovery key a manifest names.
pub(crate) const LABEL_BACKUP_WRAP_DIGEST: &[u8] = b"hushwire/v1/backup/wrapped-key-digest";

// backup/recovery_key

/// HKDF info of the backup id.
pub(crate) const LABEL_BACKUP_ID: &[u8] = b"hushwire/v1/backup/id";
/// HKDF info of the backup encryption key pair (X25519 secret, then ML-KEM-768 seed).
pub(crate) const LABEL_BACKUP_ENCRYPTION_KEY: &[u8] = b"hushwire/v1/backup/encryption-key";
/// HKDF info of the recovery signing key's Ed25519 seed.
pub(crate) const LABEL_BACKUP_SIGNING_KEY: &[u8] = b"hushwire/v1/backup/signing-key";
/// SHA-256 prefix of the recovery key's display check.
pub(crate) const LABEL_RECOVERY_KEY_CHECK: &[u8] = b"hushwire/v1/backup/recovery-key-check";

// certificate

/// Signature context of a server certificate (signed by a trust root).
pub(crate) const LABEL_SIG_SERVER_CERTIFICATE: &[u8] = b"hushwire/v1/sig/server-certificate";
/// Signature context of a sender certificate (signed by a server key).
pub(crate) const LABEL_SIG_SENDER_CERTIFICATE: &[u8] = b"hushwire/v1/sig/sender-certificate";

// group/kdf

/// Signature context of a group message (signed by the sender key).
pub(crate) const LABEL_SIG_GROUP_MESSAGE: &[u8] = b"hushwire/v1/sig/group-message";
/// Signature context of a version-1 distribution message, signed by the identity key: only
/// verified (on messages from older peers), never signed with.
pub(crate) const LABEL_SIG_DISTRIBUTION: &[u8] = b"hushwire/v1/sig/group-distribution";
/// Signature context of a roster (welcome), signed by an admin's identity key.
pub(crate) const LABEL_SIG_ROSTER: &[u8] = b"hushwire/v1/sig/group-roster-snapshot";
/// Signature context of a roster change, signed by an admin's identity key.
pub(crate) const LABEL_SIG_ROSTER_CHANGE: &[u8] = b"hushwire/v1/sig/group-roster-change";
/// Hash context of the roster hash that chains epochs.
pub(crate) const LABEL_ROSTER_HASH: &[u8] = b"hushwire/v1/group/roster-hash";

// kdf

/// Signature context for an X25519 signed prekey.
pub(crate) const LABEL_SIG_SIGNED_PREKEY: &[u8] = b"hushwire/v1/sig/signed-prekey";
/// Signature context for an ML-KEM-768 prekey.
pub(crate) const LABEL_SIG_KEM_PREKEY: &[u8] = b"hushwire/v1/sig/kem-prekey";
/// HKDF info prefix of the hybrid key agreement.
pub(crate) const LABEL_PQXDH: &[u8] = b"hushwire/v1/pqxdh";
/// HKDF info of the root-chain step.
pub(crate) const LABEL_ROOT: &[u8] = b"hushwire/v1/ratchet/root";
/// HKDF info prefix of a version-2 root step, which may mix an ML-KEM secret (SPEC.md §5.9.2).
pub(crate) const LABEL_PQ_ROOT: &[u8] = b"hushwire/v1/pq-ratchet/root";

// keys/identity

/// Signature context of a relay authentication challenge: see
/// [`IdentityKeyPair::sign_relay_challenge`]. No other hushwire signature label is a prefix of
/// it or has it as a prefix, so such a signature is never valid as any other signature.
pub(crate) const LABEL_SIG_RELAY_CHALLENGE: &[u8] = b"hushwire/v1/sig/relay-challenge";

// mask/secure_field

/// Prefix of a secure field's commitment hash. Kept, and checked, without the `mask` feature
/// too: the label stays taken whatever the build.
#[cfg_attr(not(feature = "mask"), allow(dead_code))]
pub(crate) const LABEL_SECURE_FIELD_COMMITMENT: &[u8] = b"hushwire/v1/secure-field-commitment";

// persist

/// HKDF info deriving the blob key from the app's storage key.
pub(crate) const LABEL_STATE_KEY: &[u8] = b"hushwire/v1/state-key";

// reset

/// HKDF info of the reset-request MAC key, derived from the two identities' static-static
/// X25519 agreement: only the two devices can compute it, and either could have, so a request
/// authenticates the requester to the target without being proof to anyone else.
pub(crate) const LABEL_RESET_MAC: &[u8] = b"hushwire/v1/reset-request-mac";

// sealed/kdf

/// HKDF info label of the ephemeral stage of a sealed envelope.
pub(crate) const LABEL_SEALED_EPHEMERAL: &[u8] = b"hushwire/v1/sealed/ephemeral";
/// HKDF info label of the static stage of a sealed envelope.
pub(crate) const LABEL_SEALED_STATIC: &[u8] = b"hushwire/v1/sealed/static";
/// HKDF info label deriving the ephemeral secret and body key of a multi-recipient message.
pub(crate) const LABEL_MULTI_KEYS: &[u8] = b"hushwire/v1/sealed/multi/keys";
/// HKDF info label of the per-recipient key wrap of a multi-recipient message.
pub(crate) const LABEL_MULTI_WRAP: &[u8] = b"hushwire/v1/sealed/multi/wrap";
/// HKDF info label of the per-recipient sender authentication tag.
pub(crate) const LABEL_MULTI_AUTH: &[u8] = b"hushwire/v1/sealed/multi/auth";

// verify/business

/// Signature context of an identity certificate (signed by an organization key).
pub(crate) const LABEL_SIG_IDENTITY_CERTIFICATE: &[u8] = b"hushwire/v1/sig/identity-certificate";

// verify/safety

/// Hash prefix of a fingerprint.
pub(crate) const LABEL_SAFETY_NUMBER: &[u8] = b"hushwire/v1/safety-number";

// verify/sas

/// HKDF info prefix of a session's verification key (derived from its tag key).
pub(crate) const LABEL_VERIFICATION_KEY: &[u8] = b"hushwire/v1/verification-key";

// verify/sas_exchange

/// SHA-256 prefix of the starter's commitment.
pub(crate) const LABEL_SAS_COMMITMENT: &[u8] = b"hushwire/v1/verification/sas-commitment";
/// HKDF info prefix of the SAS bytes of a run.
pub(crate) const LABEL_SAS_BYTES: &[u8] = b"hushwire/v1/verification/sas-bytes";

// sealed/hybrid (post-quantum envelopes, SPEC.md §13.8)

/// Signature context of a published envelope KEM key (signed by the identity key).
pub(crate) const LABEL_SIG_ENVELOPE_KEY: &[u8] = b"hushwire/v1/sig/envelope-kem-key";
/// HKDF info prefix of the hybrid (X25519 + ML-KEM-768) stage of a single-recipient envelope.
pub(crate) const LABEL_SEALED_HYBRID: &[u8] = b"hushwire/v1/sealed/hybrid/ephemeral";
/// HKDF info prefix of the hybrid per-recipient key wrap of a multi-recipient message.
pub(crate) const LABEL_MULTI_HYBRID_WRAP: &[u8] = b"hushwire/v1/sealed/hybrid/multi-wrap";
/// HKDF info prefix of the per-recipient sender tag of a hybrid multi-recipient message.
pub(crate) const LABEL_MULTI_HYBRID_AUTH: &[u8] = b"hushwire/v1/sealed/hybrid/multi-auth";
// device/device_list, device/fan_out

/// Signature context of a user's device list (made by the user signing key, SPEC.md §19.2).
pub(crate) const LABEL_SIG_DEVICE_LIST: &[u8] = b"hushwire/v1/sig/device-list";
/// Signature context of a device's counter-signature of its own list entry (SPEC.md §19.2).
pub(crate) const LABEL_SIG_DEVICE_ENTRY: &[u8] = b"hushwire/v1/sig/device-entry";
/// SHA-256 prefix of the short device-list hash every fan-out carries (SPEC.md §19.2.4).
pub(crate) const LABEL_DEVICE_LIST_HASH: &[u8] = b"hushwire/v1/multi-device/list-hash";
/// SHA-256 prefix of the new device's link confirmation (SPEC.md §19.11.4).
pub(crate) const LABEL_LINK_CONFIRM: &[u8] = b"hushwire/v1/multi-device/link-confirm";
/// HKDF info of a fan-out's body key, from its message key (SPEC.md §19.5.2).
pub(crate) const LABEL_FANOUT_BODY: &[u8] = b"hushwire/v1/multi-device/fanout-body";

// support (live-chat support conversations, SPEC.md §20)

/// Signature context of a dispatcher certificate (signed by an organization key).
pub(crate) const LABEL_SIG_DISPATCHER_CERTIFICATE: &[u8] =
    b"hushwire/v1/sig/dispatcher-certificate";
/// Signature context of a support assignment roster (signed by a dispatcher key).
pub(crate) const LABEL_SIG_SUPPORT_ROSTER: &[u8] = b"hushwire/v1/sig/support-roster";
/// Signature context of a support roster change (signed by a dispatcher key).
pub(crate) const LABEL_SIG_SUPPORT_CHANGE: &[u8] = b"hushwire/v1/sig/support-change";
/// SHA-256 prefix of a support assignment roster's hash.
pub(crate) const LABEL_SUPPORT_ROSTER_HASH: &[u8] = b"hushwire/v1/support/roster-hash";
/// Signature context of a link statement, by the visitor's account identity key.
pub(crate) const LABEL_SIG_LINK_ACCOUNT: &[u8] = b"hushwire/v1/sig/visitor-link-account";
/// Signature context of a link statement's counter-signature, by the ephemeral visitor key.
pub(crate) const LABEL_SIG_LINK_VISITOR: &[u8] = b"hushwire/v1/sig/visitor-link-visitor";

/// Every label above with its name, for the tests.
#[cfg(test)]
const ALL: &[(&str, &[u8])] = &[
    ("LABEL_ATTACHMENT_STREAM", LABEL_ATTACHMENT_STREAM),
    ("LABEL_BACKUP_ENTRY_KEY", LABEL_BACKUP_ENTRY_KEY),
    ("LABEL_BACKUP_ENTRY_DIGEST", LABEL_BACKUP_ENTRY_DIGEST),
    ("LABEL_SIG_BACKUP_DEVICE", LABEL_SIG_BACKUP_DEVICE),
    ("LABEL_SIG_BACKUP_MANIFEST", LABEL_SIG_BACKUP_MANIFEST),
    ("LABEL_BACKUP_MANIFEST_HASH", LABEL_BACKUP_MANIFEST_HASH),
    ("LABEL_BACKUP_WRAP_DIGEST", LABEL_BACKUP_WRAP_DIGEST),
    ("LABEL_BACKUP_ID", LABEL_BACKUP_ID),
    ("LABEL_BACKUP_ENCRYPTION_KEY", LABEL_BACKUP_ENCRYPTION_KEY),
    ("LABEL_BACKUP_SIGNING_KEY", LABEL_BACKUP_SIGNING_KEY),
    ("LABEL_RECOVERY_KEY_CHECK", LABEL_RECOVERY_KEY_CHECK),
    ("LABEL_SIG_SERVER_CERTIFICATE", LABEL_SIG_SERVER_CERTIFICATE),
    ("LABEL_SIG_SENDER_CERTIFICATE", LABEL_SIG_SENDER_CERTIFICATE),
    ("LABEL_SIG_GROUP_MESSAGE", LABEL_SIG_GROUP_MESSAGE),
    ("LABEL_SIG_DISTRIBUTION", LABEL_SIG_DISTRIBUTION),
    ("LABEL_SIG_ROSTER", LABEL_SIG_ROSTER),
    ("LABEL_SIG_ROSTER_CHANGE", LABEL_SIG_ROSTER_CHANGE),
    ("LABEL_ROSTER_HASH", LABEL_ROSTER_HASH),
    ("LABEL_SIG_SIGNED_PREKEY", LABEL_SIG_SIGNED_PREKEY),
    ("LABEL_SIG_KEM_PREKEY", LABEL_SIG_KEM_PREKEY),
    ("LABEL_PQXDH", LABEL_PQXDH),
    ("LABEL_ROOT", LABEL_ROOT),
    ("LABEL_PQ_ROOT", LABEL_PQ_ROOT),
    ("LABEL_SIG_RELAY_CHALLENGE", LABEL_SIG_RELAY_CHALLENGE),
    (
        "LABEL_SECURE_FIELD_COMMITMENT",
        LABEL_SECURE_FIELD_COMMITMENT,
    ),
    ("LABEL_STATE_KEY", LABEL_STATE_KEY),
    ("LABEL_RESET_MAC", LABEL_RESET_MAC),
    ("LABEL_SEALED_EPHEMERAL", LABEL_SEALED_EPHEMERAL),
    ("LABEL_SEALED_STATIC", LABEL_SEALED_STATIC),
    ("LABEL_MULTI_KEYS", LABEL_MULTI_KEYS),
    ("LABEL_MULTI_WRAP", LABEL_MULTI_WRAP),
    ("LABEL_MULTI_AUTH", LABEL_MULTI_AUTH),
    (
        "LABEL_SIG_IDENTITY_CERTIFICATE",
        LABEL_SIG_IDENTITY_CERTIFICATE,
    ),
    ("LABEL_SAFETY_NUMBER", LABEL_SAFETY_NUMBER),
    ("LABEL_VERIFICATION_KEY", LABEL_VERIFICATION_KEY),
    ("LABEL_SAS_COMMITMENT", LABEL_SAS_COMMITMENT),
    ("LABEL_SAS_BYTES", LABEL_SAS_BYTES),
    ("LABEL_SIG_ENVELOPE_KEY", LABEL_SIG_ENVELOPE_KEY),
    ("LABEL_SEALED_HYBRID", LABEL_SEALED_HYBRID),
    ("LABEL_MULTI_HYBRID_WRAP", LABEL_MULTI_HYBRID_WRAP),
    ("LABEL_MULTI_HYBRID_AUTH", LABEL_MULTI_HYBRID_AUTH),
    ("LABEL_SIG_DEVICE_LIST", LABEL_SIG_DEVICE_LIST),
    (
        "LABEL_SIG_DISPATCHER_CERTIFICATE",
        LABEL_SIG_DISPATCHER_CERTIFICATE,
    ),
    ("LABEL_SIG_SUPPORT_ROSTER", LABEL_SIG_SUPPORT_ROSTER),
    ("LABEL_SIG_SUPPORT_CHANGE", LABEL_SIG_SUPPORT_CHANGE),
    ("LABEL_SUPPORT_ROSTER_HASH", LABEL_SUPPORT_ROSTER_HASH),
    ("LABEL_SIG_LINK_ACCOUNT", LABEL_SIG_LINK_ACCOUNT),
    ("LABEL_SIG_LINK_VISITOR", LABEL_SIG_LINK_VISITOR),
    ("LABEL_SIG_DEVICE_ENTRY", LABEL_SIG_DEVICE_ENTRY),
    ("LABEL_DEVICE_LIST_HASH", LABEL_DEVICE_LIST_HASH),
    ("LABEL_LINK_CONFIRM", LABEL_LINK_CONFIRM),
    ("LABEL_FANOUT_BODY", LABEL_FANOUT_BODY),
];

/// Labels no code uses any more, or reserved, that no new label may collide with: a
/// signature or hash made under one must never verify under a label of today.
#[cfg(test)]
const RETIRED: &[&[u8]] = &[
    // The withdrawn SAS derivation (SPEC.md §15.4.4).
    b"hushwire/v1/sas",
    // The reset request's signature context of the first reset drafts; resets are MACed
    // (LABEL_RESET_MAC) and never signed, but the name stays taken.
    b"hushwire/v1/sig/reset-request",
    // The future capability advertisement (SPEC.md §1.4, item 5).
    b"hushwire/v1/sig/capabilities",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// No two labels are equal and none is a prefix of another (retired ones included): every
    /// signed, hashed or derived input is bound to exactly one purpose. No exception is
    /// needed today; one would have to be argued here (different primitives or key spaces).
    #[test]
    fn labels_are_distinct_and_prefix_free() {
        let labels: Vec<&[u8]> = ALL
            .iter()
            .map(|(_, l)| *l)
            .chain(RETIRED.iter().copied())
            .collect();
        for (i, a) in labels.iter().enumerate() {
            assert!(
                a.starts_with(b"hushwire/v1/"),
                "{:?}",
                String::from_utf8_lossy(a)
            );
            for (j, b) in labels.iter().enumerate() {
                if i != j {
                    assert!(
                        !b.starts_with(a),
                        "{:?} is a prefix of {:?}",
                        String::from_utf8_lossy(a),
                        String::from_utf8_lossy(b)
                    );
                }
            }
        }
    }

    /// SPEC.md §1.3.2 lists exactly these labels, by name and bytes.
    #[test]
    fn spec_lists_every_label() {
        let spec = include_str!("../SPEC.md");
        let start = spec.find("#### 1.3.2 Labels").expect("SPEC.md has §1.3.2");
        let end = start + spec[start..].find("\n### ").expect("§1.3.2 ends");
        let mut listed: Vec<(String, Vec<u8>)> = spec[start..end]
            .lines()
            .filter_map(|l| l.strip_prefix("| `LABEL_"))
            .filter_map(|l| {
                let name = format!("LABEL_{}", l.split('`').next()?);
                let bytes = l.split("| `\"").nth(1)?.split("\"`").next()?;
                Some((name, bytes.as_bytes().to_vec()))
            })
            .collect();
        let mut ours: Vec<(String, Vec<u8>)> = ALL
            .iter()
            .map(|(n, l)| ((*n).to_owned(), l.to_vec()))
            .collect();
        listed.sort();
        ours.sort();
        assert_eq!(listed, ours);
    }
}
