//! `restore`: encrypted state import ([`Account::from_encrypted`], [`Session::from_encrypted`],
//! [`GroupSession::from_encrypted`]) on arbitrary bytes, on genuine blobs with edits, and on
//! arbitrary or edited snapshot contents sealed under the right key (the blob format of
//! SPEC.md §11 is rebuilt here, so the fuzzer reaches the snapshot decoder and its invariant
//! checks past the AEAD).
//!
//! Input: mode byte, `mode % 4`:
//! - 0: the rest is a blob, restored as each type (and peeked);
//! - 1: the next byte picks a genuine blob, the rest are edits; restored as each type;
//! - 2: the next byte picks a type, the rest is the snapshot plaintext, sealed validly;
//! - 3: the next byte picks a type, the rest are edits to its genuine snapshot plaintext,
//!   sealed validly.
//!
//! Properties: a blob whose bytes are not genuine never restores; whatever restores re-exports
//! to a snapshot that restores to an equal state and re-exports to the same bytes (a fixed
//! point; a genuine snapshot re-exports to exactly itself); restored state works (encrypt,
//! decrypt, prekeys) without panicking.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use hushwire::group::GroupSession;
use hushwire::persist::{StateType, peek_blob};
use hushwire::{Account, RestoreError, Session, StorageKey};
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
    /// Per type (in [`TYPES`] order): the genuine blob and its plaintext snapshot.
    pub(crate) blobs: Vec<Vec<u8>>,
    pub(crate) plaintexts: Vec<Vec<u8>>,
}

pub(crate) fn fixture() -> &'static RestoreFixture {
    static FIXTURE: OnceLock<RestoreFixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn storage_key() -> StorageKey {
    StorageKey::from_bytes(KEY)
}

fn blob_key() -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(None, &KEY)
        .expand(b"hushwire/v1/state-key", &mut out)
        .expect("hkdf");
    out
}

const HEADER_LEN: usize = 4 + 2 + 1 + 8;

/// SPEC.md §11: `"HWST" || version u16 || type u8 || generation u64 || nonce || ct || tag`,
/// the 15-byte header as associated data.
fn seal_blob(state_type: StateType, generation: u64, plaintext: &[u8]) -> Vec<u8> {
    let mut out = b"HWST".to_vec();
    out.extend_from_slice(&1u16.to_be_bytes());
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
    let (header, rest) = blob.split_at(HEADER_LEN);
    let (nonce, sealed) = rest.split_at(12);
    let (body, tag) = sealed.split_at(sealed.len() - 16);
    let cipher = ChaCha20Poly1305::new(&blob_key().into());
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
    Account(Box<Account>),
    Session(Box<Session>),
    Group(Box<GroupSession>),
}

fn restore(
    state_type: StateType,
    blob: &[u8],
    min_generation: u64,
) -> Result<Restored, RestoreError> {
    let key = storage_key();
    Ok(match state_type {
        StateType::Account => Restored::Account(Box::new(Account::from_encrypted(
            blob,
            &key,
            min_generation,
        )?)),
        StateType::Session => Restored::Session(Box::new(Session::from_encrypted(
            blob,
            &key,
            min_generation,
        )?)),
        _ => Restored::Group(Box::new(GroupSession::from_encrypted(
            blob,
            &key,
            min_generation,
        )?)),
    })
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
    RestoreFixture { blobs, plaintexts }
}

/// Uses a restored object: nothing may panic.
fn exercise(restored: &Restored) {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    match restored {
        Restored::Account(a) => {
            let mut a = (**a).clone();
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
                let _ = g.decrypt(&m.bytes);
            }
            let _ = g.encrypt(b"after restore", &mut rng);
        }
    }
}

/// Whatever restored is a fixed point of export → restore → export.
fn check_restored(state_type: StateType, restored: &Restored) {
    let p1 = open_blob(&export(restored));
    let again = restore(state_type, &seal_blob(state_type, GENERATION, &p1), 0)
        .expect("a re-exported state restores");
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
    match mode % 4 {
        0 | 1 => {
            let blob = if mode % 4 == 0 {
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
                        if mode % 4 == 1 {
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
            let plaintext = if mode % 4 == 2 {
                rest.to_vec()
            } else {
                mutate(&fixture.plaintexts[i], rest)
            };
            match restore(
                state_type,
                &seal_blob(state_type, GENERATION, &plaintext),
                0,
            ) {
                Ok(restored) => {
                    if plaintext == fixture.plaintexts[i] {
                        assert_eq!(open_blob(&export(&restored)), plaintext);
                    }
                    check_restored(state_type, &restored);
                }
                Err(e) => {
                    assert!(
                        matches!(
                            e,
                            RestoreError::Corrupt | RestoreError::LimitExceeded { .. }
                        ),
                        "{state_type:?}: {e:?}"
                    );
                    assert!(
                        plaintext != fixture.plaintexts[i],
                        "genuine {state_type:?} snapshot refused"
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
    }
    out
}
