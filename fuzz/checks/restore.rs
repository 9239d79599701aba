//! `restore`: encrypted state import ([`Device::from_encrypted`], [`Session::from_encrypted`],
//! [`GroupSession::from_encrypted`]) on arbitrary bytes, on genuine blobs with edits, and on
//! arbitrary or edited snapshot contents sealed under the right key (the blob format of
//! SPEC.md §11 is rebuilt here, so the fuzzer reaches the snapshot decoder and its invariant
//! checks past the AEAD).
//!
//! Input: mode byte, `mode % 6`:
//! - 0: the rest is a blob, restored as each type (and peeked);
//! - 1: the next byte picks a genuine blob, the rest are edits; restored as each type;
//! - 2: the next byte picks a type, the rest is the current format's plaintext (binding,
//!   then snapshot), sealed validly as the current format version (`STATE_FORMAT_VERSION`);
//! - 3: the next byte picks a type, the rest are edits to its genuine current-format
//!   plaintext, sealed validly;
//! - 4: as 2, sealed as format version 1 (no binding: the plaintext is the snapshot);
//! - 5: as 3, with edits to the genuine version 1 plaintext of the frozen fixtures in
//!   `tests/fixtures/state_v1/` (migration from version 1).
//!
//! Properties: a blob whose bytes are not genuine never restores; a validly sealed plaintext
//! is refused only as `Corrupt`, `LimitExceeded` or `WrongObject` (an edited label); whatever
//! restores re-exports to a snapshot that restores to an equal state and re-exports to the
//! same bytes (a fixed point; a genuine current-format snapshot re-exports to exactly itself), is
//! restored again when the app expects exactly its own ids and is refused as `WrongObject`
//! under another label; restored state works (encrypt, decrypt, prekeys) without panicking.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use hushwire::group::GroupSession;
use hushwire::persist::{BlobLabel, Expected, STATE_FORMAT_VERSION, StateType, peek_blob};
use hushwire::{Device, RestoreError, Session, StorageKey};
use rand_core::SeedableRng;
use sha2::Sha256;

use super::{NOW, mutate};

const KEY: [u8; 32] = [0x4b; 32];
const GENERATION: u64 = 5;
const TYPES: [StateType; 3] = [
    StateType::Account,
    StateType::Session,
    StateType::GroupSession,
];

pub(crate) struct RestoreFixture {
    /// Per type (in [`TYPES`] order): the genuine blob and its format 2 plaintext (binding,
    /// then snapshot).
    pub(crate) blobs: Vec<Vec<u8>>,
    pub(crate) plaintexts: Vec<Vec<u8>>,
    /// Per type: the version 1 plaintext of the frozen fixture (snapshot only).
    pub(crate) v1_plaintexts: Vec<Vec<u8>>,
}

/// The frozen version 1 fixtures (SPEC.md §11.4), under their storage key `0x5A * 32`.
const V1_FIXTURES: [&[u8]; 3] = [
    include_bytes!("../../tests/fixtures/state_v1/account.bin"),
    include_bytes!("../../tests/fixtures/state_v1/session_bob.bin"),
    include_bytes!("../../tests/fixtures/state_v1/group_member.bin"),
];
const V1_FIXTURE_KEY: [u8; 32] = [0x5a; 32];

pub(crate) fn fixture() -> &'static RestoreFixture {
    static FIXTURE: OnceLock<RestoreFixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn storage_key() -> StorageKey {
    StorageKey::from_bytes(KEY)
}

fn blob_key_of(storage_key: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(None, storage_key)
        .expand(b"hushwire/v1/state-key", &mut out)
        .expect("hkdf");
    out
}

fn blob_key() -> [u8; 32] {
    blob_key_of(&KEY)
}

const HEADER_LEN: usize = 4 + 2 + 1 + 8;

/// SPEC.md §11: `"HWST" || version u16 || type u8 || generation u64 || nonce || ct || tag`,
/// the 15-byte header as associated data.
fn seal_blob(state_type: StateType, version: u16, generation: u64, plaintext: &[u8]) -> Vec<u8> {
    let mut out = b"HWST".to_vec();
    out.extend_from_slice(&version.to_be_bytes());
    out.push(state_type.tag());
    out.extend_from_slice(&generation.to_be_bytes());
    let nonce = [7u8; 12];
    out.extend_from_slice(&nonce);
    let cipher = ChaCha20Poly1305::new(&blob_key().into());
    let mut buf = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::from(nonce),
            &out[..HEADER_LEN],
            buf.as_mut_slice().into(),
        )
        .expect("seal");
    out.extend_from_slice(&buf);
    out.extend_from_slice(&tag);
    out
}

fn open_blob(blob: &[u8]) -> Vec<u8> {
    open_blob_with(&blob_key(), blob)
}

fn open_blob_with(blob_key: &[u8; 32], blob: &[u8]) -> Vec<u8> {
    let (header, rest) = blob.split_at(HEADER_LEN);
    let (nonce, sealed) = rest.split_at(12);
    let (body, tag) = sealed.split_at(sealed.len() - 16);
    let cipher = ChaCha20Poly1305::new(&(*blob_key).into());
    let mut buf = body.to_vec();
    cipher
        .decrypt_inout_detached(
            &Nonce::try_from(nonce).expect("nonce"),
            header,
            buf.as_mut_slice().into(),
            &Tag::try_from(tag).expect("tag"),
        )
        .expect("our own blob opens");
    buf
}

/// A restored object of one of the three types.
enum Restored {
    /// An account blob, restored as the device it may hold (the superset: peers, reset
    /// logs and identity book are parsed too).
    Account(Box<Device>),
    Session(Box<Session>),
    Group(Box<GroupSession>),
}

fn restore(
    state_type: StateType,
    blob: &[u8],
    min_generation: u64,
) -> Result<Restored, RestoreError> {
    restore_expecting(state_type, blob, min_generation, &Expected::any())
}

fn restore_expecting(
    state_type: StateType,
    blob: &[u8],
    min_generation: u64,
    expected: &Expected,
) -> Result<Restored, RestoreError> {
    let key = storage_key();
    Ok(match state_type {
        StateType::Account => Restored::Account(Box::new(Device::from_encrypted(
            blob,
            &key,
            min_generation,
            expected,
        )?)),
        StateType::Session => Restored::Session(Box::new(Session::from_encrypted(
            blob,
            &key,
            min_generation,
            expected,
        )?)),
        _ => Restored::Group(Box::new(GroupSession::from_encrypted(
            blob,
            &key,
            min_generation,
            expected,
        )?)),
    })
}

/// Exactly the ids a restored object is bound to (SPEC.md §11.7).
fn own_ids(restored: &Restored) -> Expected {
    match restored {
        Restored::Account(a) => Expected::identity(a.identity_key()),
        Restored::Session(s) => Expected::peer(s.remote_identity())
            .with_identity(s.local_identity())
            .with_session_id(&s.session_id()),
        Restored::Group(g) => Expected::group(g.group_id().as_bytes()),
    }
}

/// Re-exports under the fixture key with a fixed nonce source.
fn export(restored: &Restored) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let key = storage_key();
    match restored {
        Restored::Account(a) => a.to_encrypted(&key, GENERATION, &mut rng),
        Restored::Session(s) => s.to_encrypted(&key, GENERATION, &mut rng),
        Restored::Group(g) => g.to_encrypted(&key, GENERATION, &mut rng),
    }
}

fn build() -> RestoreFixture {
    let mut rng = ChaCha20Rng::seed_from_u64(super::SEED ^ 0x7e57);
    let key = storage_key();
    let account = &super::inbound_fixture().account;
    let session = &super::session_fixture().bob;
    let group = &super::group::fixture().session;
    let blobs = vec![
        account.to_encrypted(&key, GENERATION, &mut rng),
        session.to_encrypted(&key, GENERATION, &mut rng),
        group.to_encrypted(&key, GENERATION, &mut rng),
    ];
    let plaintexts = blobs.iter().map(|b| open_blob(b)).collect();
    let v1_key = blob_key_of(&V1_FIXTURE_KEY);
    let v1_plaintexts = V1_FIXTURES
        .iter()
        .map(|b| open_blob_with(&v1_key, b))
        .collect();
    RestoreFixture {
        blobs,
        plaintexts,
        v1_plaintexts,
    }
}

/// Uses a restored object: nothing may panic.
fn exercise(restored: &Restored) {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    match restored {
        Restored::Account(a) => {
            let mut d = (**a).clone();
            for peer in d.peers() {
                let _ = d.encrypt_for(&peer, b"after restore", &mut rng);
            }
            let a = d.account_mut();
            let _ = a.published_prekeys();
            let _ = a.one_time_prekey_counts();
            let _ = a.maintenance_events(NOW);
            let _ = a.prekeys_due_for_rotation(NOW);
            if let Some(m) = super::inbound_fixture().messages.first() {
                let _ = a.create_inbound_session(&m.bytes, NOW);
            }
            let _ = a.generate_one_time_prekeys(1, 1, NOW, &mut rng);
        }
        Restored::Session(s) => {
            let mut s = (**s).clone();
            for m in &super::session_fixture().to_bob {
                let _ = s.decrypt(&m.bytes);
            }
            let _ = s.encrypt(b"after restore", &mut rng);
        }
        Restored::Group(g) => {
            let mut g = (**g).clone();
            for m in &super::group::fixture().inputs {
                let _ = g.decrypt(&m.bytes, NOW);
            }
            let _ = g.encrypt(b"after restore", &mut rng);
        }
    }
}

/// Whatever restored is a fixed point of export → restore → export, and is bound to its own
/// ids and to no label.
fn check_restored(state_type: StateType, restored: &Restored) {
    let exported = export(restored);
    let p1 = open_blob(&exported);
    let again = restore(
        state_type,
        &seal_blob(state_type, STATE_FORMAT_VERSION, GENERATION, &p1),
        0,
    )
    .expect("a re-exported state restores");
    assert!(
        restore_expecting(state_type, &exported, 0, &own_ids(restored)).is_ok(),
        "a re-exported state is not bound to its own ids"
    );
    let label = BlobLabel::new(b"another slot").expect("short label");
    assert_eq!(
        restore_expecting(
            state_type,
            &exported,
            0,
            &own_ids(restored).with_label(&label)
        )
        .err(),
        Some(RestoreError::WrongObject { field: "label" })
    );
    match (restored, &again) {
        (Restored::Session(a), Restored::Session(b)) => assert!(a == b, "session changed"),
        (Restored::Group(a), Restored::Group(b)) => assert!(a == b, "group session changed"),
        _ => {}
    }
    let p2 = open_blob(&export(&again));
    assert_eq!(p1, p2, "export is not a fixed point");
    exercise(restored);
}

pub(crate) fn check_restore(data: &[u8]) {
    let fixture = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 6 {
        0 | 1 => {
            let blob = if mode % 6 == 0 {
                let _ = peek_blob(rest);
                rest.to_vec()
            } else {
                let Some((&pick, edits)) = rest.split_first() else {
                    return;
                };
                mutate(&fixture.blobs[usize::from(pick) % TYPES.len()], edits)
            };
            for (i, state_type) in TYPES.into_iter().enumerate() {
                match restore(state_type, &blob, 0) {
                    Ok(restored) => {
                        // Raw bytes may be a blob an older build of the fixture sealed under
                        // the same key; an edited genuine blob must never restore.
                        if mode % 6 == 1 {
                            assert_eq!(blob, fixture.blobs[i], "an edited blob restores");
                        }
                        check_restored(state_type, &restored);
                        assert!(matches!(
                            restore(state_type, &blob, GENERATION + 1),
                            Err(RestoreError::RolledBack { .. })
                        ));
                    }
                    Err(e) => {
                        assert!(
                            blob != fixture.blobs[i],
                            "genuine {state_type:?} blob refused: {e:?}"
                        );
                        if let Err(peeked) = peek_blob(&blob) {
                            assert_eq!(peeked, e);
                        }
                    }
                }
            }
        }
        _ => {
            let Some((&pick, rest)) = rest.split_first() else {
                return;
            };
            let i = usize::from(pick) % TYPES.len();
            let state_type = TYPES[i];
            let (version, genuine) = if mode % 6 < 4 {
                (STATE_FORMAT_VERSION, &fixture.plaintexts[i])
            } else {
                (1, &fixture.v1_plaintexts[i])
            };
            let plaintext = if mode % 2 == 0 {
                rest.to_vec()
            } else {
                mutate(genuine, rest)
            };
            match restore(
                state_type,
                &seal_blob(state_type, version, GENERATION, &plaintext),
                0,
            ) {
                Ok(restored) => {
                    if version == STATE_FORMAT_VERSION && plaintext == *genuine {
                        assert_eq!(open_blob(&export(&restored)), plaintext);
                    }
                    check_restored(state_type, &restored);
                }
                Err(e) => {
                    assert!(
                        matches!(
                            e,
                            RestoreError::Corrupt
                                | RestoreError::LimitExceeded { .. }
                                | RestoreError::WrongObject { field: "label" }
                        ),
                        "{state_type:?} version {version}: {e:?}"
                    );
                    assert!(
                        plaintext != *genuine,
                        "genuine {state_type:?} version {version} snapshot refused"
                    );
                }
            }
        }
    }
}

pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let fixture = fixture();
    let mut out = Vec::new();
    for (i, name) in ["account", "session", "group"].into_iter().enumerate() {
        let pick = u8::try_from(i).expect("three types");
        let mut raw = vec![0u8];
        raw.extend_from_slice(&fixture.blobs[i]);
        out.push((format!("blob-{name}"), raw));
        out.push((format!("blob-{name}-none"), vec![1, pick]));
        out.push((format!("blob-{name}-flip"), vec![1, pick, 0, 0, 30, 0x01]));
        let mut plain = vec![2u8, pick];
        plain.extend_from_slice(&fixture.plaintexts[i]);
        out.push((format!("snapshot-{name}"), plain));
        out.push((format!("snapshot-{name}-none"), vec![3, pick]));
        out.push((
            format!("snapshot-{name}-flip"),
            vec![3, pick, 0, 0, 3, 0x01],
        ));
        let mut v1 = vec![4u8, pick];
        v1.extend_from_slice(&fixture.v1_plaintexts[i]);
        out.push((format!("snapshot-v1-{name}"), v1));
        out.push((format!("snapshot-v1-{name}-none"), vec![5, pick]));
        out.push((
            format!("snapshot-v1-{name}-flip"),
            vec![5, pick, 0, 0, 3, 0x01],
        ));
    }
    out
}
