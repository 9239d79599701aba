//! `device_list`: `DeviceList::decode` (type `0x54`, SPEC.md §19.2) and acceptance of a list
//! against a held one (`DeviceList::check_successor`, `Device::accept_device_list`, §19.4).
//!
//! Input: a mode byte. Bit 1 clear: bit 0 picks raw bytes (clear) or one of the fixture's
//! genuine lists with 4-byte edits (set, see [`super::mutate`]); the bytes are decoded and
//! offered to Bob, who holds Alice's list `held`. Bit 1 set: the rest describes a successor
//! that the check signs with Alice's user key (version byte, device count, then per device
//! key index, device id, incarnation; tombstone count, then per tombstone device id and
//! incarnation), so that the §19.4 rules are reached with validly signed lists.
//!
//! Properties: no panic; a list that decodes re-encodes to exactly the input, fields at their
//! SPEC.md offsets, and (signatures being unforgeable) is one of the fixture's genuine lists;
//! a list is accepted exactly when §19.4 (or first-use of another user key) allows it; every
//! rejection leaves Bob's user-devices record, identity book and held list unchanged.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::device::{DeviceEntry, DeviceList, Tombstone, UserSigningKey};
use hushwire::{Device, IdentityKeyPair, StorageKey, Timestamp, UserId};
use rand_core::SeedableRng;

use super::{NOW, raw_or_edited};

/// Device identity keys the structured mode picks from.
const DEVICE_KEYS: usize = 6;

/// A genuine list and whether Bob, holding `held`, accepts it.
pub(crate) struct GenuineList {
    pub(crate) name: &'static str,
    pub(crate) bytes: Vec<u8>,
    pub(crate) accepted: bool,
}

pub(crate) struct DeviceListFixture {
    user: UserSigningKey,
    alice: UserId,
    keys: Vec<IdentityKeyPair>,
    held: DeviceList,
    bob: Device,
    pub(crate) lists: Vec<GenuineList>,
}

fn at(secs: u64) -> Timestamp {
    NOW.plus_secs(secs)
}

fn entry(
    f: &(UserSigningKey, UserId, Vec<IdentityKeyPair>),
    key: usize,
    id: u32,
    inc: u32,
) -> DeviceEntry {
    DeviceEntry::sign(&f.2[key], &f.1, f.0.public(), id, inc)
}

pub(crate) fn fixture() -> &'static DeviceListFixture {
    static FIXTURE: OnceLock<DeviceListFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys: Vec<IdentityKeyPair> = (0..DEVICE_KEYS)
            .map(|i| IdentityKeyPair::dangerous_from_seed(&[0x20 + u8::try_from(i).unwrap(); 32]))
            .collect();
        let alice = UserId::new(b"alice").unwrap();
        let user = UserSigningKey::dangerous_from_seed(&[0x11; 32]);
        let f = (user, alice.clone(), keys);
        let sign = |version: u64, devices: Vec<DeviceEntry>, tombstones: Vec<Tombstone>| {
            DeviceList::sign(&f.0, &f.1, version, at(version), devices, tombstones).unwrap()
        };
        let gone = |id: u32, inc: u32| Tombstone::new(id, inc, at(2));

        let one = sign(1, vec![entry(&f, 0, 1, 1)], vec![]);
        let several = sign(
            2,
            vec![entry(&f, 0, 1, 1), entry(&f, 1, 2, 1), entry(&f, 2, 3, 1)],
            vec![],
        );
        // Device 2 removed, device 4 added.
        let held = sign(
            3,
            vec![entry(&f, 0, 1, 1), entry(&f, 2, 3, 1), entry(&f, 3, 4, 1)],
            vec![gone(2, 1)],
        );
        // Device 3 reinstalled (new key, incarnation 2), device 4 removed.
        let successor = sign(
            4,
            vec![entry(&f, 0, 1, 1), entry(&f, 4, 3, 2)],
            vec![gone(2, 1), gone(3, 1), gone(4, 1)],
        );
        let dropped = sign(
            4,
            vec![entry(&f, 0, 1, 1), entry(&f, 3, 4, 1)],
            vec![gone(2, 1)],
        );
        let resurrected = sign(
            4,
            vec![
                entry(&f, 0, 1, 1),
                entry(&f, 1, 2, 1),
                entry(&f, 2, 3, 1),
                entry(&f, 3, 4, 1),
            ],
            vec![],
        );
        // Another user key claiming Alice (an identity change, accepted as one while Bob has
        // not verified her), and another user's list.
        let impostor_key = UserSigningKey::dangerous_from_seed(&[0x12; 32]);
        let impostor_entry = DeviceEntry::sign(&f.2[5], &alice, impostor_key.public(), 1, 1);
        let impostor = DeviceList::sign(
            &impostor_key,
            &alice,
            9,
            at(9),
            vec![impostor_entry],
            vec![],
        )
        .unwrap();
        let carol_key = UserSigningKey::dangerous_from_seed(&[0x13; 32]);
        let carol = UserId::new(b"carol").unwrap();
        let carol_entry = DeviceEntry::sign(&f.2[5], &carol, carol_key.public(), 1, 1);
        let carols =
            DeviceList::sign(&carol_key, &carol, 5, at(5), vec![carol_entry], vec![]).unwrap();

        let mut bob = Device::new(NOW, &mut ChaCha20Rng::seed_from_u64(0xb0b));
        bob.accept_device_list(&alice, held.as_bytes(), NOW)
            .expect("first list");
        let lists = [
            ("one-device", &one, false),
            ("several", &several, false),
            ("held-with-tombstone", &held, false),
            ("successor", &successor, true),
            ("dropped-without-tombstone", &dropped, false),
            ("resurrected", &resurrected, false),
            ("impostor", &impostor, true),
            ("other-user", &carols, false),
        ]
        .into_iter()
        .map(|(name, list, accepted)| GenuineList {
            name,
            bytes: list.to_bytes(),
            accepted,
        })
        .collect();
        let (user, alice, keys) = f;
        DeviceListFixture {
            user,
            alice,
            keys,
            held,
            bob,
            lists,
        }
    })
}

/// Bob's state that a rejected list must not change: the user-devices record and the
/// identity book (sealed with a fixed generator, so equal bytes mean equal state) and the
/// list held for Alice.
fn state(bob: &Device, alice: &UserId) -> (Vec<u8>, Vec<u8>, Option<Vec<u8>>) {
    let key = StorageKey::from_bytes([9; 32]);
    (
        bob.user_devices_to_encrypted(&key, 1, &mut ChaCha20Rng::seed_from_u64(0)),
        bob.identity_book_to_encrypted(&key, 1, &mut ChaCha20Rng::seed_from_u64(0)),
        bob.device_list(alice).map(DeviceList::to_bytes),
    )
}

/// SPEC.md §19.4 rules 3-5 (same user and key are given here): whether a holder of `held`
/// accepts `next`.
fn successor_allowed(held: &DeviceList, next: &DeviceList) -> bool {
    next.version() > held.version()
        && held.devices().iter().all(|h| {
            next.devices().iter().any(|n| {
                n.device_id() == h.device_id()
                    && (n.incarnation() > h.incarnation()
                        || (n.incarnation() == h.incarnation()
                            && n.identity_key() == h.identity_key()))
            }) || next
                .tombstones()
                .iter()
                .any(|t| t.device_id() == h.device_id() && t.incarnation() >= h.incarnation())
        })
        && held.tombstones().iter().all(|t| {
            !next
                .devices()
                .iter()
                .any(|n| n.device_id() == t.device_id() && n.incarnation() <= t.incarnation())
        })
}

/// The layout of SPEC.md §19.2.1, rebuilt from the decoded fields (signatures excepted).
fn assert_layout(list: &DeviceList, bytes: &[u8]) {
    assert_eq!(&bytes[..2], &[hushwire::WIRE_VERSION, 0x54]);
    assert_eq!(&bytes[2..34], list.user_key().as_bytes());
    let id = list.user_id().as_bytes();
    assert_eq!(usize::from(bytes[34]), id.len());
    let mut at = 35;
    assert_eq!(&bytes[at..at + id.len()], id);
    at += id.len();
    assert_eq!(bytes[at..at + 8], list.version().to_be_bytes());
    assert_eq!(
        bytes[at + 8..at + 16],
        list.timestamp().as_unix_secs().to_be_bytes()
    );
    at += 16;
    assert_eq!(usize::from(bytes[at]), list.devices().len());
    at += 1;
    for d in list.devices() {
        assert_eq!(bytes[at..at + 4], d.device_id().to_be_bytes());
        assert_eq!(bytes[at + 4..at + 8], d.incarnation().to_be_bytes());
        assert_eq!(&bytes[at + 8..at + 40], d.identity_key().as_bytes());
        at += hushwire::device::DEVICE_ENTRY_LEN;
    }
    assert_eq!(usize::from(bytes[at]), list.tombstones().len());
    at += 1;
    for t in list.tombstones() {
        assert_eq!(bytes[at..at + 4], t.device_id().to_be_bytes());
        assert_eq!(bytes[at + 4..at + 8], t.incarnation().to_be_bytes());
        assert_eq!(
            bytes[at + 8..at + 16],
            t.removed_at().as_unix_secs().to_be_bytes()
        );
        at += hushwire::device::TOMBSTONE_LEN;
    }
    assert_eq!(bytes.len(), at + 64);
    assert!(bytes.len() <= hushwire::device::MAX_DEVICE_LIST_LEN);
}

/// Offers `bytes` to a copy of Bob; returns whether he accepted. A rejection changes nothing;
/// an acceptance makes the list the one held.
fn offer(fixture: &DeviceListFixture, bytes: &[u8]) -> bool {
    let mut bob = fixture.bob.clone();
    let before = state(&bob, &fixture.alice);
    match bob.accept_device_list(&fixture.alice, bytes, NOW) {
        Ok(_) => {
            assert_eq!(
                bob.device_list(&fixture.alice).map(DeviceList::as_bytes),
                Some(bytes)
            );
            true
        }
        Err(e) => {
            assert!(!e.code().is_empty());
            assert_eq!(state(&bob, &fixture.alice), before, "{e:?} changed Bob");
            false
        }
    }
}

/// A successor described by `rest`, signed with Alice's user key; `None` if the description
/// breaks the structural rules (then only "no panic" is checked).
fn structured(fixture: &DeviceListFixture, rest: &[u8]) -> Option<DeviceList> {
    let mut bytes = rest.iter().copied();
    let version = u64::from(bytes.next()? % 8);
    let mut devices = Vec::new();
    for _ in 0..bytes.next()? % 8 {
        let key = usize::from(bytes.next()?) % DEVICE_KEYS;
        let id = u32::from(bytes.next()? % 8);
        let inc = u32::from(bytes.next()? % 4);
        devices.push(DeviceEntry::sign(
            &fixture.keys[key],
            &fixture.alice,
            fixture.user.public(),
            id,
            inc,
        ));
    }
    let mut tombstones = Vec::new();
    for _ in 0..bytes.next().unwrap_or(0) % 8 {
        let id = u32::from(bytes.next()? % 8);
        let inc = u32::from(bytes.next()? % 4);
        tombstones.push(Tombstone::new(id, inc, at(1)));
    }
    DeviceList::sign(
        &fixture.user,
        &fixture.alice,
        version,
        at(version),
        devices,
        tombstones,
    )
    .ok()
}

pub(crate) fn check_device_list(data: &[u8]) {
    let fixture = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 2 != 0 {
        let Some(next) = structured(fixture, rest) else {
            return;
        };
        assert_eq!(DeviceList::decode(next.as_bytes()).as_ref(), Ok(&next));
        assert_layout(&next, next.as_bytes());
        let allowed = successor_allowed(&fixture.held, &next);
        assert_eq!(fixture.held.check_successor(&next).is_ok(), allowed);
        assert_eq!(offer(fixture, next.as_bytes()), allowed, "{next:?}");
        return;
    }
    let Some(bytes) = raw_or_edited(mode, rest, &fixture.lists, |g| &g.bytes) else {
        return;
    };
    let genuine = fixture.lists.iter().find(|g| g.bytes == bytes);
    match DeviceList::decode(&bytes) {
        Ok(list) => {
            let g = genuine.expect("a forged or edited device list decodes");
            assert_eq!(list.to_bytes(), bytes);
            assert_eq!(DeviceList::decode(&list.to_bytes()).as_ref(), Ok(&list));
            assert_layout(&list, &bytes);
            assert_eq!(
                fixture.held.check_successor(&list).is_ok(),
                g.name == "successor",
                "{}",
                g.name
            );
        }
        Err(_) => assert!(genuine.is_none(), "a genuine list fails to decode"),
    }
    let accepted = offer(fixture, &bytes);
    assert_eq!(accepted, genuine.is_some_and(|g| g.accepted));
}

pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, g) in fixture().lists.iter().enumerate() {
        let mut raw = vec![0u8];
        raw.extend_from_slice(&g.bytes);
        out.push((format!("raw-{}", g.name), raw));
        let pick = u8::try_from(i).expect("few lists");
        out.push((format!("mutate-{}-none", g.name), vec![1, pick]));
        // One flipped bit in the list version, one in the user signature.
        let last = u16::try_from(g.bytes.len() - 1).expect("short list");
        let [hi, lo] = last.to_be_bytes();
        out.push((
            format!("mutate-{}-flips", g.name),
            vec![1, pick, 0, 0, 47, 0x01, 0, hi, lo, 0x80],
        ));
    }
    // Signed successors: a reinstall of device 3 with device 4 tombstoned (accepted), and
    // device 2 live again at its tombstoned incarnation (refused).
    out.push((
        "signed-reinstall".into(),
        vec![2, 4, 2, 0, 1, 1, 4, 3, 2, 3, 2, 1, 3, 1, 4, 1],
    ));
    out.push((
        "signed-resurrected".into(),
        vec![2, 5, 4, 0, 1, 1, 1, 2, 1, 2, 3, 1, 3, 4, 1, 0],
    ));
    out
}
