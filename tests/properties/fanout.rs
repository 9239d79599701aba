//! Property (SPEC.md §19.5, §19.7): over random schedules of linking, removing and
//! reinstalling Bob's devices, fan-outs from Alice, losses and reordering of envelopes, and
//! replays: nothing is ever encrypted to a device outside the current list Alice holds for
//! Bob; every envelope delivered to a listed device decrypts exactly once, whatever the order;
//! envelopes to a device removed since they were sent still decrypt on it; and messages a
//! removed device sent before its removal read at Alice within the removal window.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::{Device, DeviceRef, FanOutError, IdentityKey, StorageKey, UserId};
use proptest::prelude::*;

use crate::common::{NOW, proptest_config, rng};

/// Most device slots Bob's schedule uses (live and removed).
const MAX_SLOTS: usize = 6;

#[derive(Clone, Debug)]
enum Op {
    /// Bob links a new device.
    Add,
    /// Bob removes the device of this slot (if live and not his first).
    Remove(usize),
    /// The device of this slot is reinstalled (new key, next incarnation).
    Reinstall(usize),
    /// Alice fans a message out to Bob.
    Send,
    /// The device of this slot sends Alice a 1:1 message.
    Write(usize),
    /// The network delivers the envelope at this index of the queue (reordering).
    Deliver(usize),
    /// The network loses the envelope at this index.
    Drop(usize),
    /// An envelope already delivered is delivered again.
    Replay(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Add),
        1 => (0..MAX_SLOTS).prop_map(Op::Remove),
        1 => (0..MAX_SLOTS).prop_map(Op::Reinstall),
        4 => Just(Op::Send),
        1 => (0..MAX_SLOTS).prop_map(Op::Write),
        4 => (0..16usize).prop_map(Op::Deliver),
        1 => (0..16usize).prop_map(Op::Drop),
        1 => (0..16usize).prop_map(Op::Replay),
    ]
}

struct Slot {
    device: Device,
    device_id: u32,
    live: bool,
}

struct Envelope {
    to: IdentityKey,
    bytes: Vec<u8>,
    plaintext: Vec<u8>,
}

fn bob() -> UserId {
    UserId::try_from("bob").unwrap()
}

fn new_device(rng: &mut ChaCha20Rng) -> Device {
    let mut d = Device::new(NOW, rng);
    d.account_mut()
        .generate_one_time_prekeys(4, 4, NOW, rng)
        .unwrap();
    d
}

fn record(d: &Device, peer: &IdentityKey) -> Option<Vec<u8>> {
    d.peer_record_to_encrypted(peer, &StorageKey::from_bytes([1; 32]), 1, &mut rng(0))
}

struct World {
    rng: ChaCha20Rng,
    alice: Device,
    slots: Vec<Slot>,
    next_id: u32,
    queue: Vec<Envelope>,
    delivered: Vec<Envelope>,
    /// 1:1 messages from Bob's devices to Alice, not yet read.
    to_alice: Vec<(IdentityKey, Vec<u8>, Vec<u8>)>,
    sent: u32,
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = rng(seed);
        let mut alice = new_device(&mut rng);
        let mut first = new_device(&mut rng);
        let list = first.create_user(&bob(), 1, NOW, &mut rng).unwrap();
        alice
            .accept_device_list(&bob(), list.as_bytes(), NOW)
            .unwrap();
        let mut world = World {
            rng,
            alice,
            slots: vec![Slot {
                device: first,
                device_id: 1,
                live: true,
            }],
            next_id: 2,
            queue: Vec::new(),
            delivered: Vec::new(),
            to_alice: Vec::new(),
            sent: 0,
        };
        world.connect(0);
        world
    }

    /// Alice starts a session with the device of `slot`.
    fn connect(&mut self, slot: usize) {
        let bundle = self.slots[slot]
            .device
            .account()
            .published_prekeys()
            .take_bundle();
        let _ = self.alice.start_session(&bundle, &mut self.rng).unwrap();
    }

    /// Alice accepts Bob's current list (published by his first device).
    fn publish(&mut self) {
        let list = self.slots[0].device.own_device_list().unwrap().clone();
        self.alice
            .accept_device_list(&bob(), list.as_bytes(), NOW)
            .unwrap();
        for s in self.slots.iter_mut().skip(1).filter(|s| s.live) {
            if s.device.own_user_id().is_none() {
                s.device.join_user(list.as_bytes(), NOW).unwrap();
            } else {
                s.device
                    .accept_device_list(&bob(), list.as_bytes(), NOW)
                    .unwrap();
            }
        }
    }

    fn link(&mut self, device: Device, device_id: u32, incarnation: u32) {
        let user_key = *self.slots[0].device.user_key().unwrap();
        let entry = device.device_entry(&bob(), &user_key, device_id, incarnation);
        self.slots[0].device.add_own_device(entry, NOW).unwrap();
        self.slots.push(Slot {
            device,
            device_id,
            live: true,
        });
        self.publish();
        let slot = self.slots.len() - 1;
        self.connect(slot);
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Add if self.slots.len() < MAX_SLOTS => {
                let device = new_device(&mut self.rng);
                let id = self.next_id;
                self.next_id += 1;
                self.link(device, id, 1);
            }
            Op::Remove(i) if i > 0 && i < self.slots.len() && self.slots[i].live => {
                let id = self.slots[i].device_id;
                self.slots[0].device.remove_own_device(id, NOW).unwrap();
                self.slots[i].live = false;
                self.publish();
            }
            Op::Reinstall(i)
                if i > 0
                    && i < self.slots.len()
                    && self.slots[i].live
                    && self.slots.len() < MAX_SLOTS =>
            {
                let id = self.slots[i].device_id;
                let list = self.slots[0].device.own_device_list().unwrap();
                let incarnation = list.device(id).unwrap().incarnation() + 1;
                self.slots[i].live = false;
                let device = new_device(&mut self.rng);
                self.link(device, id, incarnation);
            }
            Op::Send => {
                self.sent += 1;
                let text = format!("message {}", self.sent).into_bytes();
                let fan_out = self.alice.fan_out(&[bob()], &text, &mut self.rng).unwrap();
                let held = self.alice.device_list(&bob()).unwrap();
                // Nothing outside the current list; every listed device reached.
                for part in fan_out.parts() {
                    let entry = held
                        .device_with_key(&part.device.identity_key)
                        .expect("encrypted to a device outside the current list");
                    assert_eq!(entry.device_id(), part.device.device_id);
                    assert!(!self.alice.is_device_removed(&part.device.identity_key));
                }
                assert_eq!(fan_out.parts().len(), held.devices().len());
                assert!(fan_out.skipped().is_empty());
                for (address, bytes) in fan_out.envelopes() {
                    self.queue.push(Envelope {
                        to: address.identity_key,
                        bytes,
                        plaintext: text.clone(),
                    });
                }
            }
            Op::Write(i) if i < self.slots.len() && self.slots[i].live => {
                let text = format!("from slot {i}").into_bytes();
                let alice = *self.alice.identity_key();
                if let Ok(bytes) = self.slots[i]
                    .device
                    .encrypt_for(&alice, &text, &mut self.rng)
                {
                    let from = *self.slots[i].device.identity_key();
                    self.to_alice.push((from, bytes, text));
                }
            }
            Op::Deliver(i) if !self.queue.is_empty() => {
                let envelope = self.queue.remove(i % self.queue.len());
                self.deliver(&envelope);
                self.delivered.push(envelope);
            }
            Op::Drop(i) if !self.queue.is_empty() => {
                let _ = self.queue.remove(i % self.queue.len());
            }
            Op::Replay(i) if !self.delivered.is_empty() => {
                let envelope = &self.delivered[i % self.delivered.len()];
                let alice = *self.alice.identity_key();
                let slot = self
                    .slots
                    .iter_mut()
                    .find(|s| *s.device.identity_key() == envelope.to)
                    .unwrap();
                let before = record(&slot.device, &alice);
                assert!(matches!(
                    slot.device.decrypt_fan_out(&alice, &envelope.bytes, NOW),
                    Err(FanOutError::Peer(_))
                ));
                assert_eq!(record(&slot.device, &alice), before);
            }
            _ => {}
        }
    }

    /// Delivers one envelope: it decrypts on its device, live or removed since.
    fn deliver(&mut self, envelope: &Envelope) {
        let alice = *self.alice.identity_key();
        let slot = self
            .slots
            .iter_mut()
            .find(|s| *s.device.identity_key() == envelope.to)
            .unwrap();
        let read = slot
            .device
            .decrypt_fan_out(&alice, &envelope.bytes, NOW)
            .unwrap();
        assert_eq!(read.plaintext, envelope.plaintext);
    }
}

proptest! {
    #![proptest_config(proptest_config(48))]

    #[test]
    fn fan_out_follows_the_current_list_and_each_envelope_reads_once(
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..28),
    ) {
        let mut world = World::new(seed);
        for op in &ops {
            world.apply(op);
        }
        // Everything still in flight arrives, in order: each decrypts once.
        while !world.queue.is_empty() {
            let envelope = world.queue.remove(0);
            world.deliver(&envelope);
        }
        // Bob's devices' 1:1 messages read at Alice, removed senders included (within the
        // window), in reverse order.
        let later = NOW.plus_secs(world.alice.removed_device_window() - 1);
        while let Some((from, bytes, text)) = world.to_alice.pop() {
            let read = world.alice.decrypt_from(&from, &bytes, later).unwrap();
            prop_assert_eq!(read.plaintext, text);
        }
        // Past the window, removed devices' sessions are gone.
        let past = NOW.plus_secs(world.alice.removed_device_window());
        let expired = world.alice.expire_removed_devices(past);
        for slot in world.slots.iter().filter(|s| !s.live) {
            prop_assert!(expired.contains(slot.device.identity_key()));
            prop_assert!(world.alice.sessions_with(slot.device.identity_key()).is_empty());
        }
        let _ = DeviceRef::new(bob(), 1, 1);
    }
}
