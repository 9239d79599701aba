//! Secret key bytes must not outlive their use in freed heap memory (SPEC.md §9.1, "Erasure of
//! secrets"). A growing store of skipped message keys once left its old buffers to the
//! allocator unwiped: keys of messages still unread could be read back from freed memory.
//!
//! This test file installs a quarantining global allocator: while quarantine is on, freed
//! blocks are listed and kept (never handed back, so never reused or overwritten), and at the
//! end their contents are searched for the secrets the session held. The secrets are taken from
//! the session's own encrypted exports, decrypted here as SPEC.md §11 describes.
//!
//! `unsafe` is needed for a global allocator and for reading freed blocks. It stays in this
//! file, which is a test and not part of the library (the library forbids `unsafe`).
#![allow(
    unsafe_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use hkdf::Hkdf;
use hushwire::StorageKey;
use sha2::Sha256;
use zeroize::Zeroizing;

use common::{Accounts, establish, rng};
use hushwire::IdentityKeyPair;
use hushwire::group::{GroupRole, GroupSession};

/// Most freed blocks the quarantine lists; frees past it go back to the system (and the test
/// fails, since it could not see them).
const SLOTS: usize = 1 << 20;

/// A global allocator that, while [`QUARANTINE`] is on, keeps freed blocks out of reuse and
/// lists them in [`FREED`].
struct Quarantine;

static QUARANTINE: AtomicBool = AtomicBool::new(false);
static FREED_COUNT: AtomicUsize = AtomicUsize::new(0);
static FREED_PTR: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static FREED_LEN: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

// SAFETY: every block comes from `System` and is either returned to it with the layout it was
// allocated with, or never returned (quarantined), which only leaks it.
unsafe impl GlobalAlloc for Quarantine {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if QUARANTINE.load(Ordering::SeqCst) {
            let slot = FREED_COUNT.fetch_add(1, Ordering::SeqCst);
            if slot < SLOTS {
                FREED_PTR[slot].store(ptr as usize, Ordering::SeqCst);
                FREED_LEN[slot].store(layout.size(), Ordering::SeqCst);
                return;
            }
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    // `realloc` keeps its default (allocate, copy, `dealloc`), so a block left behind by a
    // growing buffer is quarantined like any other.
}

#[global_allocator]
static ALLOCATOR: Quarantine = Quarantine;

/// One test at a time uses the quarantine.
static SERIAL: Mutex<()> = Mutex::new(());

/// Turns quarantine on; returns the first slot this test's frees go to.
fn quarantine_on() -> usize {
    let first = FREED_COUNT.load(Ordering::SeqCst);
    QUARANTINE.store(true, Ordering::SeqCst);
    first
}

/// Calls `f` on the contents of every block quarantined from slot `first` on, as they were
/// when freed.
fn for_each_freed_block(first: usize, mut f: impl FnMut(&[u8])) {
    let count = FREED_COUNT.load(Ordering::SeqCst);
    assert!(count <= SLOTS, "{count} frees: raise SLOTS");
    for slot in first..count {
        let ptr = FREED_PTR[slot].load(Ordering::SeqCst) as *const u8;
        let len = FREED_LEN[slot].load(Ordering::SeqCst);
        if len == 0 {
            continue;
        }
        // SAFETY: the block was allocated with `len` bytes and never returned to the
        // system, so it is still readable; nothing writes to it any more.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
        f(bytes);
    }
}

const STORAGE_KEY: [u8; 32] = [0x5a; 32];

fn storage_key() -> StorageKey {
    StorageKey::from_bytes(STORAGE_KEY)
}

/// The plaintext of an exported blob (SPEC.md §11.1): the snapshot holding every key the
/// session had at that moment. Run with quarantine off, into wiped buffers, so that this
/// test's own copies are neither scanned nor left behind for a later allocation to inherit.
fn blob_plaintext(blob: &[u8]) -> Zeroizing<Vec<u8>> {
    let was = QUARANTINE.swap(false, Ordering::SeqCst);
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, &STORAGE_KEY)
        .expand(b"hushwire/v1/state-key", key.as_mut())
        .unwrap();
    let (header, rest) = blob.split_at(15);
    let (nonce, sealed) = rest.split_at(12);
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    let mut plain = Zeroizing::new(ciphertext.to_vec());
    ChaCha20Poly1305::new(&(*key).into())
        .decrypt_inout_detached(
            nonce.try_into().unwrap(),
            header,
            plain.as_mut_slice().into(),
            tag.try_into().unwrap(),
        )
        .unwrap();
    QUARANTINE.store(was, Ordering::SeqCst);
    plain
}

/// Every 32-byte window of `bytes`.
fn windows(bytes: &[u8]) -> impl Iterator<Item = [u8; 32]> + '_ {
    bytes.windows(32).map(|w| w.try_into().unwrap())
}

#[test]
fn skipped_message_keys_are_not_left_in_freed_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut r = rng(80);
    let mut accounts = Accounts::new(&mut r);
    let mut pair = establish(&mut accounts, rng(81));
    // Room for every export's windows, reserved before quarantine so it never grows (a
    // buffer it left behind would hold key bytes).
    let mut exported: Vec<Zeroizing<Vec<u8>>> = Vec::with_capacity(4);
    let export = |session: &hushwire::Session, seed: u64| {
        blob_plaintext(&session.to_encrypted(&storage_key(), 1, &mut rng(seed)))
    };

    let first_slot = quarantine_on();
    // 199 messages skipped at once: the store is built from nothing.
    let first: Vec<Vec<u8>> = (0..200)
        .map(|i| pair.alice.encrypt(&[i as u8; 40], &mut pair.rng).unwrap())
        .collect();
    assert_eq!(
        pair.bob.decrypt(&first[199]).unwrap().plaintext,
        [199u8; 40]
    );
    exported.push(export(&pair.bob, 1));
    // Every other one read, oldest first: keys taken from the middle of the store.
    for m in first.iter().take(199).step_by(2) {
        let _ = pair.bob.decrypt(m).unwrap();
    }
    // 99 more skipped: the store grows while it holds keys.
    let second: Vec<Vec<u8>> = (0..100)
        .map(|i| pair.alice.encrypt(&[i as u8; 40], &mut pair.rng).unwrap())
        .collect();
    let _ = pair.bob.decrypt(&second[99]).unwrap();
    exported.push(export(&pair.bob, 2));
    // The rest, newest first.
    for m in first.iter().take(199).skip(1).step_by(2).rev() {
        let _ = pair.bob.decrypt(m).unwrap();
    }
    for m in second.iter().take(99).rev() {
        let _ = pair.bob.decrypt(m).unwrap();
    }
    // 50 more on this chain that Bob reads only after a ratchet turn: they are finished into
    // a past chain's store, and the list of past chains grows.
    let late: Vec<Vec<u8>> = (0..50)
        .map(|i| pair.alice.encrypt(&[i as u8; 40], &mut pair.rng).unwrap())
        .collect();
    let reply = pair.bob.encrypt(b"reply", &mut pair.rng).unwrap();
    let _ = pair.alice.decrypt(&reply).unwrap();
    let next: Vec<Vec<u8>> = (0..10)
        .map(|i| pair.alice.encrypt(&[i as u8; 40], &mut pair.rng).unwrap())
        .collect();
    let _ = pair.bob.decrypt(&next[9]).unwrap();
    exported.push(export(&pair.bob, 3));
    for m in late.iter().chain(next.iter().take(9)) {
        let _ = pair.bob.decrypt(m).unwrap();
    }
    let after = export(&pair.bob, 4);
    drop(pair);
    QUARANTINE.store(false, Ordering::SeqCst);

    assert_no_secret_in_freed_blocks(&exported, &after, first_slot);
}

/// Checks that no window of the secrets the exports held, and the final export `after` no
/// longer holds, is in a block freed since slot `first_slot`.
fn assert_no_secret_in_freed_blocks(
    exported: &[Zeroizing<Vec<u8>>],
    after: &[u8],
    first_slot: usize,
) {
    // The secrets: what the exports held that the final export no longer does (skipped
    // message keys, chain keys and ratchet secrets since replaced), as 32-byte windows
    // neither half of which the final export still holds (so a window that straddles a public
    // value kept to the end, such as a peer's ratchet key, is not taken for a secret).
    let remaining: HashSet<&[u8]> = after.windows(16).collect();
    let skipped_keys = 199 + 99;
    let secrets: HashSet<[u8; 32]> = exported
        .iter()
        .flat_map(|p| windows(p))
        .filter(|w| {
            let (a, b) = w.split_at(16);
            !remaining.contains(a)
                && !remaining.contains(b)
                && w.iter().filter(|&&b| b == 0).count() < 8
        })
        .collect();
    assert!(
        secrets.len() > skipped_keys * 32,
        "{} secret windows",
        secrets.len()
    );

    let (mut blocks, mut bytes, mut found) = (0usize, 0usize, 0usize);
    let mut leaking_block_sizes = Vec::new();
    for_each_freed_block(first_slot, |block| {
        blocks += 1;
        bytes += block.len();
        let hits = windows(block).filter(|w| secrets.contains(w)).count();
        if hits > 0 {
            leaking_block_sizes.push(block.len());
        }
        found += hits;
    });
    assert!(blocks > 500, "only {blocks} freed blocks seen");
    assert_eq!(
        found,
        0,
        "{found} windows of secret key bytes found in {} of {blocks} freed blocks ({bytes} \
         bytes); sizes of the leaking blocks: {leaking_block_sizes:?}",
        leaking_block_sizes.len()
    );
}

/// The time the group calls are made at.
const GROUP_NOW: hushwire::Timestamp = hushwire::Timestamp::from_unix_secs(1_700_000_000);

#[test]
fn skipped_group_message_keys_are_not_left_in_freed_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut r = rng(90);
    let alice_id = IdentityKeyPair::generate(&mut r);
    let bob_id = IdentityKeyPair::generate(&mut r);
    let created =
        GroupSession::create(&alice_id, &[(*bob_id.public(), GroupRole::Member)], &mut r).unwrap();
    let joined =
        GroupSession::join(&bob_id, &created.welcome.bytes, alice_id.public(), &mut r).unwrap();
    let mut alice = created.session;
    let mut bob = joined.session;
    bob.receive_distribution(
        hushwire::group::AuthenticatedSender::assume_authenticated(*alice_id.public()),
        &created.distribution.bytes,
    )
    .unwrap();
    let mut exported: Vec<Zeroizing<Vec<u8>>> = Vec::with_capacity(4);
    let export = |session: &GroupSession, seed: u64| {
        blob_plaintext(&session.to_encrypted(&storage_key(), 1, &mut rng(seed)))
    };

    let first_slot = quarantine_on();
    let first: Vec<Vec<u8>> = (0..200)
        .map(|i| alice.encrypt(&[i as u8; 40], &mut r).unwrap())
        .collect();
    assert_eq!(
        bob.decrypt(&first[199], GROUP_NOW).unwrap().plaintext,
        [199u8; 40]
    );
    exported.push(export(&bob, 1));
    for m in first.iter().take(199).step_by(2) {
        let _ = bob.decrypt(m, GROUP_NOW).unwrap();
    }
    let second: Vec<Vec<u8>> = (0..100)
        .map(|i| alice.encrypt(&[i as u8; 40], &mut r).unwrap())
        .collect();
    let _ = bob.decrypt(&second[99], GROUP_NOW).unwrap();
    exported.push(export(&bob, 2));
    for m in first.iter().take(199).skip(1).step_by(2).rev() {
        let _ = bob.decrypt(m, GROUP_NOW).unwrap();
    }
    for m in second.iter().take(99).rev() {
        let _ = bob.decrypt(m, GROUP_NOW).unwrap();
    }
    let after = export(&bob, 3);
    drop((alice, bob));
    QUARANTINE.store(false, Ordering::SeqCst);
    assert_no_secret_in_freed_blocks(&exported, &after, first_slot);
}
