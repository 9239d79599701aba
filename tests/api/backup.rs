//! Key backup and recovery (SPEC.md §18): a supervisor backs up his group and verification
//! state, loses his laptop and restores on a new one; the storage provider tries to inject,
//! drop, reorder, alter and roll back entries; the user mistypes the key; limits at and past
//! their edges.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common;

use crate::common::{NOW, rng};
use chacha20::ChaCha20Rng;
use ed25519_dalek::{Signer, SigningKey};
use hushwire::backup::{
    self, Argon2Params, BackupError, BackupItem, BackupOptions, BackupPublicKey, BackupWriter,
    ENTRY_OVERHEAD, MAX_BACKUP_DEVICES, MAX_ENTRY_PAYLOAD_LEN, RecoveryKey, WrappedRecoveryKey,
};
use hushwire::group::{AuthenticatedSender, GroupRole, GroupSession};
use hushwire::verify::{UserId, VerificationState};
use hushwire::{Device, ErrorKind, IdentityKeyPair, PeerError};
use proptest::prelude::*;

/// The supervisor, an agent (Bob), their 1:1 sessions and a group of the two.
struct World {
    rng: ChaCha20Rng,
    sup: Device,
    bob: Device,
    sup_group: GroupSession,
    bob_group: GroupSession,
}

fn world(seed: u64) -> World {
    let mut rng = rng(seed);
    let mut sup = Device::new(NOW, &mut rng);
    let mut bob = Device::new(NOW, &mut rng);
    bob.account_mut()
        .generate_one_time_prekeys(5, 5, NOW, &mut rng)
        .unwrap();
    // A 1:1 session, both ways.
    let bundle = bob.account().published_prekeys().take_bundle();
    let _ = sup.start_session(&bundle, &mut rng).unwrap();
    let first = sup
        .encrypt_for(bob.identity_key(), b"hi Bob", &mut rng)
        .unwrap();
    let sup_key = *sup.identity_key();
    let _ = bob.decrypt_from(&sup_key, &first, NOW).unwrap();
    // Bob is a verified contact of the supervisor.
    let bob_user = UserId::new(b"bob").unwrap();
    let bob_key = *bob.identity_key();
    sup.record_identity(&bob_user, &bob_key, NOW).unwrap();
    sup.mark_verified(&bob_user, &bob_key, NOW).unwrap();
    // A group of the two.
    let created = GroupSession::create(
        sup.account().identity_key_pair(),
        &[(bob_key, GroupRole::Member)],
        &mut rng,
    )
    .unwrap();
    let joined = GroupSession::join(
        bob.account().identity_key_pair(),
        &created.welcome.bytes,
        &sup_key,
        &mut rng,
    )
    .unwrap();
    let mut sup_group = created.session;
    let mut bob_group = joined.session;
    bob_group
        .receive_distribution(
            AuthenticatedSender::assume_authenticated(sup_key),
            &created.distribution.bytes,
        )
        .unwrap();
    sup_group
        .receive_distribution(
            AuthenticatedSender::assume_authenticated(bob_key),
            &joined.distribution.bytes,
        )
        .unwrap();
    let m = bob_group.encrypt(b"queue is long today", &mut rng).unwrap();
    let _ = sup_group.decrypt(&m, NOW).unwrap();
    World {
        rng,
        sup,
        bob,
        sup_group,
        bob_group,
    }
}

/// A backup of the world's supervisor: writer, entries, latest manifest.
struct Made {
    key: RecoveryKey,
    writer: BackupWriter,
    entries: Vec<Vec<u8>>,
    manifest: Vec<u8>,
}

impl Made {
    fn bytes(&self) -> Vec<u8> {
        backup::encode_backup(None, &self.manifest, &self.entries).unwrap()
    }

    fn append(&mut self, items: &[BackupItem<'_>], rng: &mut ChaCha20Rng) {
        let out = self.writer.append(items, NOW, rng).unwrap();
        self.entries.extend(out.entries);
        self.manifest = out.manifest;
    }
}

fn make(w: &mut World, options: BackupOptions) -> Made {
    let key = RecoveryKey::generate(&mut w.rng);
    let (mut writer, _) = BackupWriter::create(&key, None, NOW, &mut w.rng);
    let mut out = writer
        .append_device(&w.sup, &options, NOW, &mut w.rng)
        .unwrap();
    let group = writer
        .append(&[BackupItem::GroupSession(&w.sup_group)], NOW, &mut w.rng)
        .unwrap();
    out.entries.extend(group.entries);
    Made {
        key,
        writer,
        entries: out.entries,
        manifest: group.manifest,
    }
}

#[test]
fn round_trip_restores_groups_and_identity_book_but_no_identity_by_default() {
    let mut w = world(1);
    let made = make(&mut w, BackupOptions::default());
    let restored = backup::restore(&made.key, &made.bytes(), 0).unwrap();
    assert_eq!(restored.counter, 2);
    assert_eq!(restored.groups, vec![w.sup_group.clone()]);
    assert!(restored.identity.is_none());
    assert_eq!(restored.identity_record_count(), 1);
    assert_eq!(restored.sessions_to_restart, vec![*w.bob.identity_key()]);

    let fresh = IdentityKeyPair::generate(&mut w.rng);
    let account = restored.to_device(fresh.clone(), NOW, &mut w.rng);
    assert_eq!(account.identity_key(), fresh.public());
    assert!(matches!(
        account.verification_state(&UserId::new(b"bob").unwrap()),
        Some(VerificationState::Verified { .. })
    ));
}

#[test]
fn identity_key_is_restored_only_when_opted_in() {
    let mut w = world(2);
    let made = make(&mut w, BackupOptions::with_identity_key());
    let restored = backup::restore(&made.key, &made.bytes(), 0).unwrap();
    let identity = restored.identity.as_ref().unwrap();
    assert_eq!(identity.public(), w.sup.identity_key());
}

/// The demo's story: the supervisor's laptop is lost; on the new one he types the recovery
/// key, reads the group's new messages at once, and starts fresh 1:1 sessions.
#[test]
fn after_restore_new_group_messages_decrypt_and_no_ratchet_session_is_resurrected() {
    let mut w = world(3);
    let made = make(&mut w, BackupOptions::with_identity_key());
    let shown = made.key.to_display();
    let stored = made.bytes();
    drop(made);

    // Meanwhile Bob writes to the group and to the supervisor's old session.
    let group_message = w.bob_group.encrypt(b"where are you?", &mut w.rng).unwrap();
    let sup_key = *w.sup.identity_key();
    let old_session_message = w.bob.encrypt_for(&sup_key, b"ping", &mut w.rng).unwrap();

    let typed = RecoveryKey::from_display(&shown).unwrap();
    let restored = backup::restore(&typed, &stored, 0).unwrap();
    let mut groups = restored.groups.clone();
    let read = groups[0].decrypt(&group_message, NOW).unwrap();
    assert_eq!(read.plaintext, b"where are you?");

    let mut account = restored.to_device(IdentityKeyPair::generate(&mut w.rng), NOW, &mut w.rng);
    assert_eq!(account.identity_key(), &sup_key);
    assert!(account.peers().is_empty(), "no 1:1 session was restored");
    let bob_key = *w.bob.identity_key();
    assert_eq!(restored.sessions_to_restart, vec![bob_key]);
    assert!(matches!(
        account.decrypt_from(&bob_key, &old_session_message, NOW),
        Err(PeerError::UnknownPeer)
    ));

    // A fresh session with Bob works at once.
    let bundle = w.bob.account().published_prekeys().take_bundle();
    let _ = account.start_session(&bundle, &mut w.rng).unwrap();
    let hello = account
        .encrypt_for(&bob_key, b"back on a new laptop", &mut w.rng)
        .unwrap();
    let got = w.bob.decrypt_from(&sup_key, &hello, NOW).unwrap();
    assert_eq!(got.plaintext, b"back on a new laptop");
}

#[test]
fn every_flipped_byte_anywhere_is_refused() {
    let mut w = world(4);
    let mut rng = rng(40);
    let key = RecoveryKey::generate(&mut rng);
    let wrapped =
        WrappedRecoveryKey::wrap(&key, b"pass", Argon2Params::new(8, 1, 1).unwrap(), &mut rng)
            .unwrap();
    let (mut writer, _) = BackupWriter::create(&key, Some(&wrapped), NOW, &mut rng);
    let out = writer
        .append(
            &[BackupItem::AppData {
                id: [7; 32],
                bytes: b"device list: laptop, phone",
            }],
            NOW,
            &mut w.rng,
        )
        .unwrap();
    let stored = backup::encode_backup(Some(&wrapped), &out.manifest, &out.entries).unwrap();
    backup::restore(&key, &stored, 0).unwrap();
    for i in 0..stored.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = stored.clone();
            b[i] ^= bit;
            assert!(
                backup::restore(&key, &b, 0).is_err(),
                "flipping bit {bit:#x} of byte {i} went unnoticed"
            );
        }
    }
}

#[test]
fn an_entry_injected_with_only_the_public_key_is_refused() {
    let mut w = world(5);
    let made = make(&mut w, BackupOptions::default());
    // The storage provider has the public key (a device could have leaked it).
    let public = BackupPublicKey::from_bytes(&made.writer.public_key().to_bytes()).unwrap();
    let n = made.entries.len() as u64;
    let evil = BackupItem::AppData {
        id: [0; 32],
        bytes: b"trust mallory",
    };

    // Appended after the genuine entries, under the genuine manifest.
    let injected = public.seal(&evil, n, &mut w.rng).unwrap();
    let mut entries = made.entries.clone();
    entries.push(injected.clone());
    let stored = backup::encode_backup(None, &made.manifest, &entries).unwrap();
    assert_eq!(
        backup::restore(&made.key, &stored, 0).unwrap_err(),
        BackupError::EntryUnlisted { seq: n }
    );

    // In place of a genuine entry, with its sequence number.
    let mut entries = made.entries.clone();
    entries[1] = public.seal(&evil, 1, &mut w.rng).unwrap();
    let stored = backup::encode_backup(None, &made.manifest, &entries).unwrap();
    assert_eq!(
        backup::restore(&made.key, &stored, 0).unwrap_err(),
        BackupError::EntryTampered { seq: 1 }
    );

    // Listed in a manifest re-signed by the provider's own key.
    let forged = forge_manifest(&made.manifest, &injected);
    let mut entries = made.entries.clone();
    entries.push(injected);
    let stored = backup::encode_backup(None, &forged, &entries).unwrap();
    let err = backup::restore(&made.key, &stored, 0).unwrap_err();
    assert_eq!(err, BackupError::UnknownSigner);
    assert_eq!(err.kind(), ErrorKind::Tampered);

    // The same manifest keeping a genuine signer name and signature.
    let mut relabeled = forged.clone();
    let len = relabeled.len();
    relabeled[len - 96..].copy_from_slice(&made.manifest[made.manifest.len() - 96..]);
    let stored = backup::encode_backup(None, &relabeled, &entries).unwrap();
    assert_eq!(
        backup::restore(&made.key, &stored, 0).unwrap_err(),
        BackupError::BadSignature
    );
}

/// Adds a record for `entry` to `manifest` (SPEC.md §18.5.1) and signs it with a key of the
/// attacker's.
fn forge_manifest(manifest: &[u8], entry: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let body = &manifest[..manifest.len() - 96];
    let devices = usize::from(body[2 + 32 + 8 + 32 + 8 + 32]);
    let count_at = 2 + 32 + 8 + 32 + 8 + 32 + 1 + devices * 104;
    let count = u32::from_be_bytes(body[count_at..count_at + 4].try_into().unwrap());
    let mut out = body[..count_at].to_vec();
    out.extend_from_slice(&(count + 1).to_be_bytes());
    out.extend_from_slice(&body[count_at + 4..]);
    out.push(entry[2 + 32]);
    out.extend_from_slice(&entry[2 + 32 + 1..2 + 32 + 1 + 32]);
    let mut h = Sha256::new();
    h.update(b"hushwire/v1/backup/entry-digest");
    h.update(entry);
    out.extend_from_slice(&h.finalize());
    let attacker = SigningKey::from_bytes(&[66; 32]);
    out.extend_from_slice(attacker.verifying_key().as_bytes());
    let mut message = b"hushwire/v1/sig/backup-manifest".to_vec();
    message.extend_from_slice(&out);
    out.extend_from_slice(&attacker.sign(&message).to_bytes());
    out
}

#[test]
fn dropped_and_reordered_entries_are_refused() {
    let mut w = world(6);
    let made = make(&mut w, BackupOptions::default());
    assert_eq!(made.entries.len(), 2);

    let stored = backup::encode_backup(None, &made.manifest, &made.entries[..1]).unwrap();
    assert_eq!(
        backup::restore(&made.key, &stored, 0).unwrap_err(),
        BackupError::EntryMissing { seq: 1 }
    );
    let stored = backup::encode_backup(None, &made.manifest, &made.entries[1..]).unwrap();
    assert_eq!(
        backup::restore(&made.key, &stored, 0).unwrap_err(),
        BackupError::EntryOutOfOrder {
            position: 0,
            seq: 1
        }
    );
    let swapped = vec![made.entries[1].clone(), made.entries[0].clone()];
    let stored = backup::encode_backup(None, &made.manifest, &swapped).unwrap();
    assert_eq!(
        backup::restore(&made.key, &stored, 0).unwrap_err(),
        BackupError::EntryOutOfOrder {
            position: 0,
            seq: 1
        }
    );
}

#[test]
fn a_rolled_back_manifest_is_detected() {
    let mut w = world(7);
    let mut made = make(&mut w, BackupOptions::default());
    let old = made.bytes();
    let old_manifest = made.manifest.clone();
    let mut rng = rng(70);
    made.append(
        &[BackupItem::AppData {
            id: [1; 32],
            bytes: b"newer",
        }],
        &mut rng,
    );
    let newest = made.writer.counter();
    assert_eq!(newest, 3);
    // The app remembered the counter: the older backup is refused.
    assert_eq!(
        backup::restore(&made.key, &old, newest).unwrap_err(),
        BackupError::RolledBack {
            found: 2,
            minimum: 3
        }
    );
    assert_eq!(
        backup::restore(&made.key, &made.bytes(), newest)
            .unwrap()
            .counter,
        3
    );
    // The newer entries under the older manifest: unlisted.
    let mixed = backup::encode_backup(None, &old_manifest, &made.entries).unwrap();
    assert_eq!(
        backup::restore(&made.key, &mixed, 0).unwrap_err(),
        BackupError::EntryUnlisted { seq: 2 }
    );
    // A writer never moves back.
    assert_eq!(
        made.writer.accept_manifest(&old_manifest).unwrap_err(),
        BackupError::RolledBack {
            found: 2,
            minimum: 4
        }
    );
}

#[test]
fn a_mistyped_recovery_key_is_caught_and_another_key_is_told_apart() {
    let mut w = world(8);
    let made = make(&mut w, BackupOptions::default());
    let shown = made.key.to_display();
    let mut typo: Vec<char> = shown.chars().collect();
    typo[7] = if typo[7] == 'X' { 'Y' } else { 'X' };
    let typo: String = typo.into_iter().collect();
    let err = RecoveryKey::from_display(&typo).unwrap_err();
    assert_eq!(err, BackupError::RecoveryKeyMistyped);
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // Lower case, spaces instead of dashes, O for 0 and L for 1 are all accepted.
    let relaxed = shown
        .to_lowercase()
        .replace('-', " ")
        .replace('0', "o")
        .replace('1', "l");
    assert_eq!(RecoveryKey::from_display(&relaxed).unwrap(), made.key);

    let other = RecoveryKey::generate(&mut w.rng);
    assert_eq!(
        backup::restore(&other, &made.bytes(), 0).unwrap_err(),
        BackupError::WrongRecoveryKey
    );
}

#[test]
fn a_passphrase_opens_the_wrapped_key_and_nothing_else_does() {
    let mut rng = rng(9);
    let key = RecoveryKey::generate(&mut rng);
    let params = Argon2Params::new(32, 1, 1).unwrap();
    let wrapped = WrappedRecoveryKey::wrap(&key, b"blue harbour 42", params, &mut rng).unwrap();
    let (_, manifest) = BackupWriter::create(&key, Some(&wrapped), NOW, &mut rng);
    let stored = backup::encode_backup(Some(&wrapped), &manifest, &[]).unwrap();

    let unwrapped = backup::unwrap_recovery_key(&stored, b"blue harbour 42").unwrap();
    assert_eq!(unwrapped, key);
    assert_eq!(backup::restore(&unwrapped, &stored, 0).unwrap().counter, 0);
    assert_eq!(
        backup::unwrap_recovery_key(&stored, b"blue harbour 43").unwrap_err(),
        BackupError::WrongPassphrase
    );
    // Without the wrap the backup no longer matches its manifest; and has no passphrase.
    let bare = backup::encode_backup(None, &manifest, &[]).unwrap();
    assert_eq!(
        backup::unwrap_recovery_key(&bare, b"blue harbour 42").unwrap_err(),
        BackupError::NotPassphraseProtected
    );
    assert_eq!(
        backup::restore(&key, &bare, 0).unwrap_err(),
        BackupError::WrappedKeyMismatch
    );
    // Another wrap of the same key (say, the provider's guess at a weaker one) is refused.
    let other = WrappedRecoveryKey::wrap(&key, b"123456", params, &mut rng).unwrap();
    let swapped = backup::encode_backup(Some(&other), &manifest, &[]).unwrap();
    assert_eq!(
        backup::restore(&key, &swapped, 0).unwrap_err(),
        BackupError::WrappedKeyMismatch
    );
}

#[test]
fn a_second_device_appends_after_enrolment_and_forks_are_refused() {
    let mut w = world(10);
    let mut made = make(&mut w, BackupOptions::default());
    let (mut phone, manifest) =
        BackupWriter::enroll(&made.key, &made.manifest, NOW, &mut w.rng).unwrap();
    made.manifest = manifest;
    made.writer.accept_manifest(&made.manifest).unwrap();
    assert_eq!(made.writer.counter(), phone.counter());

    // Both append from the same manifest: the second to publish must not overwrite.
    let laptop = made
        .writer
        .append(
            &[BackupItem::AppData {
                id: [1; 32],
                bytes: b"laptop",
            }],
            NOW,
            &mut w.rng,
        )
        .unwrap();
    let from_phone = phone
        .append(
            &[BackupItem::AppData {
                id: [2; 32],
                bytes: b"phone",
            }],
            NOW,
            &mut w.rng,
        )
        .unwrap();
    assert_eq!(
        phone.accept_manifest(&laptop.manifest).unwrap_err(),
        BackupError::ManifestForked
    );
    let mut entries = made.entries.clone();
    entries.extend(from_phone.entries);
    let stored = backup::encode_backup(None, &from_phone.manifest, &entries).unwrap();
    let restored = backup::restore(&made.key, &stored, 0).unwrap();
    assert_eq!(restored.app_data.len(), 1);
    assert_eq!(&restored.app_data[0].1[..], b"phone");

    // A writer rebuilt from its stored parts carries on.
    let seed = phone.dangerous_device_seed();
    let resumed =
        BackupWriter::resume(phone.public_key().clone(), &seed, phone.manifest()).unwrap();
    assert_eq!(resumed.counter(), phone.counter());
    let stranger = [5u8; 32];
    assert_eq!(
        BackupWriter::resume(phone.public_key().clone(), &stranger, phone.manifest()).unwrap_err(),
        BackupError::UnknownSigner
    );
}

#[test]
fn devices_are_bounded_at_the_limit() {
    let mut rng = rng(11);
    let key = RecoveryKey::generate(&mut rng);
    let (_, mut manifest) = BackupWriter::create(&key, None, NOW, &mut rng);
    for _ in 1..MAX_BACKUP_DEVICES {
        manifest = BackupWriter::enroll(&key, &manifest, NOW, &mut rng)
            .unwrap()
            .1;
    }
    assert_eq!(
        BackupWriter::enroll(&key, &manifest, NOW, &mut rng).unwrap_err(),
        BackupError::BackupFull {
            max: MAX_BACKUP_DEVICES
        }
    );
    let stored = backup::encode_backup(None, &manifest, &[]).unwrap();
    backup::restore(&key, &stored, 0).unwrap();
}

#[test]
fn entry_payloads_are_bounded_at_the_limit() {
    let mut rng = rng(12);
    let key = RecoveryKey::generate(&mut rng);
    let (mut writer, _) = BackupWriter::create(&key, None, NOW, &mut rng);
    let big = vec![0xa5u8; MAX_ENTRY_PAYLOAD_LEN];
    let before = writer.counter();
    assert_eq!(
        writer
            .append(
                &[
                    BackupItem::AppData {
                        id: [1; 32],
                        bytes: &big[..MAX_ENTRY_PAYLOAD_LEN - 1],
                    },
                    BackupItem::AppData {
                        id: [2; 32],
                        bytes: &[big.as_slice(), &[0]].concat(),
                    }
                ],
                NOW,
                &mut rng
            )
            .unwrap_err(),
        BackupError::PayloadTooLarge {
            len: MAX_ENTRY_PAYLOAD_LEN + 1,
            max: MAX_ENTRY_PAYLOAD_LEN
        }
    );
    assert_eq!(writer.counter(), before, "a failed append changes nothing");
    let out = writer
        .append(
            &[BackupItem::AppData {
                id: [1; 32],
                bytes: &big,
            }],
            NOW,
            &mut rng,
        )
        .unwrap();
    assert_eq!(out.entries[0].len(), ENTRY_OVERHEAD + MAX_ENTRY_PAYLOAD_LEN);
    let stored = backup::encode_backup(None, &out.manifest, &out.entries).unwrap();
    let restored = backup::restore(&key, &stored, 0).unwrap();
    assert_eq!(restored.app_data[0].1.len(), MAX_ENTRY_PAYLOAD_LEN);
}

#[test]
fn debug_output_shows_no_secrets() {
    let mut w = world(13);
    let made = make(&mut w, BackupOptions::with_identity_key());
    let restored = backup::restore(&made.key, &made.bytes(), 0).unwrap();
    let shown = made.key.to_display();
    for text in [
        format!("{:?}", made.key),
        format!("{:?}", made.writer),
        format!("{restored:?}"),
    ] {
        assert!(!text.contains(&shown[..10]), "{text}");
        assert!(!text.contains("a5a5"), "{text}");
    }
    assert_eq!(format!("{:?}", made.key), "RecoveryKey(..)");
}

proptest! {
    #![proptest_config(crate::common::proptest_config(16))]

    /// Any sequence of app records restores to the latest record of each id.
    #[test]
    fn the_latest_entry_of_each_id_is_restored(
        records in proptest::collection::vec((0u8..4, proptest::collection::vec(any::<u8>(), 0..64)), 0..8),
        seed in any::<u64>(),
    ) {
        let mut rng = rng(seed);
        let key = RecoveryKey::generate(&mut rng);
        let (mut writer, mut manifest) = BackupWriter::create(&key, None, NOW, &mut rng);
        let mut entries = Vec::new();
        let mut expected = std::collections::BTreeMap::new();
        for (id, bytes) in &records {
            let out = writer
                .append(&[BackupItem::AppData { id: [*id; 32], bytes }], NOW, &mut rng)
                .unwrap();
            entries.extend(out.entries);
            manifest = out.manifest;
            expected.insert([*id; 32], bytes.clone());
        }
        let stored = backup::encode_backup(None, &manifest, &entries).unwrap();
        let restored = backup::restore(&key, &stored, 0).unwrap();
        let got: std::collections::BTreeMap<[u8; 32], Vec<u8>> = restored
            .app_data
            .iter()
            .map(|(id, b)| (*id, b.to_vec()))
            .collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(restored.counter, records.len() as u64);
    }
}

// ---------------------------------------------------------------------------------------
// Vectors (SPEC.md §18.9): tests/vectors/backup/backup.json.
// ---------------------------------------------------------------------------------------

use crate::common::vector_file;
use crate::common::vector_json;

mod vectors {
    use super::*;
    use hkdf::Hkdf;
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};

    use super::vector_file::{canonical_text, check_vector_file, json_file_names};
    use super::vector_json::{outcome_json, type_byte};

    fn hkdf32(key: &[u8], info: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(None, key)
            .expand(info, &mut out)
            .unwrap();
        out
    }

    fn sha(label: &[u8], bytes: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(label);
        h.update(bytes);
        hex::encode(h.finalize())
    }

    fn restored_json(r: &Result<backup::RestoredBackup, BackupError>) -> Value {
        let Ok(r) = r else {
            return outcome_json(r);
        };
        json!({
            "counter": r.counter,
            "written_at": r.written_at.as_unix_secs(),
            "identity": r.identity.as_ref().map(|i| hex::encode(i.public().as_bytes())),
            "groups": r.groups.iter().map(|g| json!({
                "group_id": hex::encode(g.group_id().as_bytes()),
                "epoch": g.epoch(),
                "members": g.roster().members().len(),
                "own": hex::encode(g.own_identity().as_bytes()),
            })).collect::<Vec<_>>(),
            "identity_records": r.identity_record_count(),
            "app_data": r.app_data.iter().map(|(id, b)| json!({
                "id": hex::encode(id),
                "bytes": hex::encode(&b[..]),
            })).collect::<Vec<_>>(),
            "sessions_to_restart": r.sessions_to_restart.iter()
                .map(|k| hex::encode(k.as_bytes())).collect::<Vec<_>>(),
        })
    }

    /// Splits a stored backup without a wrap into its manifest and entries (SPEC.md §18.6).
    fn split(stored: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
        assert_eq!(stored[2], 1);
        let mut at = 3 + 78;
        let take = |at: &mut usize| {
            let len = u32::from_be_bytes(stored[*at..*at + 4].try_into().unwrap()) as usize;
            *at += 4;
            let out = stored[*at..*at + len].to_vec();
            *at += len;
            out
        };
        let manifest = take(&mut at);
        let count = u32::from_be_bytes(stored[at..at + 4].try_into().unwrap());
        at += 4;
        let entries = (0..count).map(|_| take(&mut at)).collect();
        assert_eq!(at, stored.len());
        (manifest, entries)
    }

    fn build() -> Value {
        let mut w = world(100);
        let mut rng = rng(101);
        let key = RecoveryKey::generate(&mut rng);
        let key_bytes = key.dangerous_to_bytes();
        let shown = key.to_display();
        let public = key.public_key().to_bytes();
        // Independent reference: the backup id and recovery signing key from hkdf/ed25519.
        let backup_id = hkdf32(&key_bytes[..], b"hushwire/v1/backup/id");
        let rs = SigningKey::from_bytes(&hkdf32(&key_bytes[..], b"hushwire/v1/backup/signing-key"))
            .verifying_key()
            .to_bytes();
        assert_eq!(&public[..2], &[1, 0x81]);
        assert_eq!(&public[2..34], &backup_id);
        assert_eq!(&public[34..66], &rs);
        assert_eq!(key.backup_id(), backup_id);

        let compact: Vec<char> = shown.chars().filter(|&c| c != '-').collect();
        let edit = |i: usize, c: char| {
            let mut v = compact.clone();
            v[i] = c;
            v.into_iter().collect::<String>()
        };
        let swap = |i: usize| {
            let mut v = compact.clone();
            v.swap(i, i + 1);
            v.into_iter().collect::<String>()
        };
        let other = |c: char| if c == 'Z' { 'Y' } else { 'Z' };
        let mut mistyped: Vec<String> = vec![
            edit(0, other(compact[0])),
            edit(30, other(compact[30])),
            edit(54, other(compact[54])),
            edit(10, 'U'),
            compact[..54].iter().collect(),
        ];
        // An adjacent swap of two different characters, where one exists early on.
        if let Some(i) = (0..20).find(|&i| compact[i] != compact[i + 1]) {
            mistyped.push(swap(i));
        }
        let mistyped_json: Vec<Value> = mistyped
            .iter()
            .map(|text| {
                json!({ "display": text, "result": outcome_json(&RecoveryKey::from_display(text)) })
            })
            .collect();

        let params = Argon2Params::new(8, 1, 1).unwrap();
        let passphrase = "correct horse battery staple";
        let wrapped =
            WrappedRecoveryKey::wrap(&key, passphrase.as_bytes(), params, &mut rng).unwrap();
        assert_eq!(wrapped.unwrap(passphrase.as_bytes()).unwrap(), key);

        let (mut laptop, _) = BackupWriter::create(&key, Some(&wrapped), NOW, &mut rng);
        let (mut phone, m) = BackupWriter::enroll(&key, laptop.manifest(), NOW, &mut rng).unwrap();
        laptop.accept_manifest(&m).unwrap();
        let mut entries = Vec::new();
        let a = laptop
            .append(
                &[
                    BackupItem::IdentityBook(&w.sup),
                    BackupItem::GroupSession(&w.sup_group),
                    BackupItem::AppData {
                        id: [0xd1; 32],
                        bytes: b"devices: laptop",
                    },
                ],
                NOW,
                &mut rng,
            )
            .unwrap();
        entries.extend(a.entries);
        phone.accept_manifest(&a.manifest).unwrap();
        let b = phone
            .append(
                &[BackupItem::AppData {
                    id: [0xd1; 32],
                    bytes: b"devices: laptop, phone",
                }],
                common::NOW,
                &mut w.rng,
            )
            .unwrap();
        entries.extend(b.entries);
        let manifest = b.manifest;
        let stored = backup::encode_backup(Some(&wrapped), &manifest, &entries).unwrap();
        let restored = backup::restore(&key, &stored, 0);
        assert!(restored.is_ok());

        let (m2, e2) = split(&stored);
        assert_eq!(m2, manifest);
        assert_eq!(e2, entries);
        let enc = |wrap: bool, m: &[u8], e: &[Vec<u8>]| {
            backup::encode_backup(wrap.then_some(&wrapped), m, e).unwrap()
        };
        let mut rejections: Vec<(&str, Vec<u8>, u64)> = vec![
            ("last entry dropped", enc(true, &manifest, &entries[..3]), 0),
            (
                "first entry dropped",
                enc(true, &manifest, &entries[1..]),
                0,
            ),
            (
                "entries 1 and 2 swapped",
                enc(
                    true,
                    &manifest,
                    &[
                        entries[0].clone(),
                        entries[2].clone(),
                        entries[1].clone(),
                        entries[3].clone(),
                    ],
                ),
                0,
            ),
            (
                "older manifest with the newer entries",
                enc(true, &a.manifest, &entries),
                0,
            ),
            (
                "older manifest and its entries, newest counter known",
                enc(true, &a.manifest, &entries[..3]),
                3,
            ),
            ("wrap removed", enc(false, &manifest, &entries), 0),
        ];
        let injected = BackupPublicKey::from_bytes(&public)
            .unwrap()
            .seal(
                &BackupItem::AppData {
                    id: [0xd1; 32],
                    bytes: b"devices: mallory",
                },
                4,
                &mut rng,
            )
            .unwrap();
        let mut with_injected = entries.clone();
        with_injected.push(injected);
        rejections.push((
            "entry sealed to the public key appended",
            enc(true, &manifest, &with_injected),
            0,
        ));
        let mut flips: Vec<(String, usize)> = Vec::new();
        let manifest_at = 3 + 78 + 4;
        let entry0_at = manifest_at + manifest.len() + 4 + 4;
        for (what, offset) in [
            ("wrap salt", 3 + 14),
            ("manifest counter", manifest_at + 2 + 32 + 7),
            (
                "manifest record digest",
                manifest_at + manifest.len() - 96 - 1,
            ),
            ("manifest signature", manifest_at + manifest.len() - 1),
            ("entry 0 sequence number", entry0_at + 67 + 7),
            ("entry 0 ciphertext", entry0_at + entries[0].len() - 20),
        ] {
            flips.push((what.to_owned(), offset));
        }
        let mut rejection_json: Vec<Value> = rejections
            .iter()
            .map(|(what, bytes, min)| {
                json!({
                    "what": what,
                    "backup": hex::encode(bytes),
                    "min_counter": min,
                    "result": outcome_json(&backup::restore(&key, bytes, *min).map(|_| ())),
                })
            })
            .collect();
        for (what, offset) in &flips {
            let mut b = stored.clone();
            b[*offset] ^= 1;
            rejection_json.push(json!({
                "what": format!("{what}: bit 0 of byte {offset} flipped"),
                "flip_byte": offset,
                "min_counter": 0,
                "result": outcome_json(&backup::restore(&key, &b, 0).map(|_| ())),
            }));
        }
        let wrong = RecoveryKey::dangerous_from_bytes([0x42; 32]);
        rejection_json.push(json!({
            "what": "another recovery key (32 bytes of 0x42)",
            "recovery_key": hex::encode([0x42u8; 32]),
            "min_counter": 0,
            "result": outcome_json(&backup::restore(&wrong, &stored, 0).map(|_| ())),
        }));
        for r in &rejection_json {
            assert_ne!(r["result"], json!("ok"), "{}", r["what"]);
        }
        let digests: Vec<String> = entries
            .iter()
            .map(|e| sha(b"hushwire/v1/backup/entry-digest", e))
            .collect();
        // The digests the manifest lists are the reference's.
        for (i, d) in digests.iter().enumerate() {
            let at = manifest.len() - 96 - 65 * (entries.len() - i) + 33;
            assert_eq!(hex::encode(&manifest[at..at + 32]), *d);
        }
        json!({
            "description": "Key backup and recovery, SPEC.md §18.9.",
            "type_bytes": {
                "wrapped_recovery_key": type_byte(0x80),
                "backup_public_key": type_byte(0x81),
                "entry": type_byte(0x82),
                "manifest": type_byte(0x83),
                "backup": type_byte(0x84),
            },
            "recovery_key": {
                "key": hex::encode(&key_bytes[..]),
                "display": &*shown,
                "backup_id": hex::encode(backup_id),
                "recovery_signing_public": hex::encode(rs),
                "public_key": hex::encode(&public),
            },
            "mistyped": mistyped_json,
            "wrap": {
                "memory_kib": 8,
                "iterations": 1,
                "lanes": 1,
                "passphrase": passphrase,
                "bytes": hex::encode(wrapped.to_bytes()),
                "wrong_passphrase": outcome_json(&wrapped.unwrap(b"correct horse battery stapler").map(|_| ())),
            },
            "backup": {
                "bytes": hex::encode(&stored),
                "manifest_hash": sha(b"hushwire/v1/backup/manifest-hash", &manifest),
                "entry_digests": digests,
                "restored": restored_json(&restored),
            },
            "rejections": rejection_json,
        })
    }

    #[test]
    fn backup_vectors() {
        let doc = build();
        check_vector_file("backup", "backup", &canonical_text(&doc));
        assert_eq!(json_file_names("backup"), vec!["backup.json".to_owned()]);
    }
}
