//! `backup`: the backup decoder and restore (SPEC.md §18) on arbitrary bytes and on a genuine
//! stored backup with edits; the passphrase wrap, public key and display decoders.
//!
//! Input: mode byte, `mode % 3`:
//! - 0: the rest is a stored backup, restored under the fixture's recovery key (and decoded
//!   as a wrap, a public key and a typed recovery key);
//! - 1: the rest are edits (see [`mutate`]) to the genuine stored backup, restored;
//! - 2: the rest are edits to the genuine backup, whose wrap is then opened with the
//!   fixture's passphrase.
//!
//! Properties: no panic; a stored backup restores only if its bytes are exactly the genuine
//! ones (no injected, dropped, reordered, altered or rolled-back entry restores), and then to
//! the fixture's content; a wrap opens only to the fixture's recovery key; whatever decodes as
//! a wrap or a public key re-encodes to exactly the input.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::backup::{
    self, Argon2Params, BackupItem, BackupPublicKey, BackupWriter, RecoveryKey, WrappedRecoveryKey,
};
use rand_core::SeedableRng;

use super::{NOW, mutate};

const PASSPHRASE: &[u8] = b"fuzz passphrase";

struct Fixture {
    key: RecoveryKey,
    stored: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0xb4c6);
        let key = RecoveryKey::generate(&mut rng);
        let params = Argon2Params::new(8, 1, 1).expect("test parameters");
        let wrapped = WrappedRecoveryKey::wrap(&key, PASSPHRASE, params, &mut rng).expect("wrap");
        let (mut writer, _) = BackupWriter::create(&key, Some(&wrapped), NOW, &mut rng);
        let mut entries = Vec::new();
        let mut manifest = Vec::new();
        for (id, bytes) in [(1u8, &b"one"[..]), (2, b"two"), (1, b"three")] {
            let out = writer
                .append(
                    &[BackupItem::AppData {
                        id: [id; 32],
                        bytes,
                    }],
                    NOW,
                    &mut rng,
                )
                .expect("append");
            entries.extend(out.entries);
            manifest = out.manifest;
        }
        let stored = backup::encode_backup(Some(&wrapped), &manifest, &entries).expect("encode");
        Fixture { key, stored }
    })
}

pub(crate) fn check_backup(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    match mode % 3 {
        0 => {
            if backup::restore(&f.key, rest, 0).is_ok() {
                assert_eq!(rest, f.stored.as_slice(), "a forged backup restored");
            }
            if let Ok(w) = WrappedRecoveryKey::from_bytes(rest) {
                assert_eq!(w.to_bytes(), rest);
            }
            if let Ok(p) = BackupPublicKey::from_bytes(rest) {
                assert_eq!(p.to_bytes(), rest);
            }
            let _ = RecoveryKey::from_display(&String::from_utf8_lossy(rest));
        }
        1 => {
            let edited = mutate(&f.stored, rest);
            match backup::restore(&f.key, &edited, 0) {
                Ok(r) => {
                    assert_eq!(edited, f.stored, "an edited backup restored");
                    assert_eq!(r.counter, 3);
                    assert_eq!(r.app_data.len(), 2);
                }
                Err(e) => assert!(!e.code().is_empty()),
            }
        }
        _ => {
            let edited = mutate(&f.stored, rest);
            if let Ok(key) = backup::unwrap_recovery_key(&edited, PASSPHRASE) {
                assert_eq!(key, f.key, "a wrap opened to another key");
            }
        }
    }
}

/// Seeds: the genuine backup itself (mode 0), and edits of each kind at the start of the
/// manifest, in an entry and at the end (modes 1 and 2).
pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let f = fixture();
    let mut genuine = vec![0u8];
    genuine.extend_from_slice(&f.stored);
    let mut out = vec![("genuine".to_owned(), genuine)];
    let len = u16::try_from(f.stored.len().min(usize::from(u16::MAX))).unwrap_or(u16::MAX);
    for (name, pos) in [
        ("wrap", 20u16),
        ("manifest", 100),
        ("entry", 600),
        ("end", len - 1),
    ] {
        for op in 0u8..4 {
            let [hi, lo] = pos.to_be_bytes();
            out.push((format!("{name}-op{op}"), vec![1, op, hi, lo, 0x01]));
        }
    }
    out.push(("unwrap-genuine".to_owned(), vec![2]));
    out.push(("unwrap-salt".to_owned(), vec![2, 0, 0, 20, 0x80]));
    out
}
