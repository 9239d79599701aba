//! One person, several devices (hushwire SPEC.md §19): the relay stores each user's signed
//! device list, a sender encrypts to every device the list carries (one sealed envelope per
//! device: the relay queues per device and never learns that they belong together), and a
//! new device is linked by scanning the existing device's QR code and comparing a short
//! authentication string on both screens (SPEC.md §19.11).
//!
//! Linking runs over the relay's direct messages (`SendDirect`, see [`crate::frame`]): the new
//! device is not listed yet, so it has no sender certificate to seal with; the 1:1 session the
//! run opens authenticates every message end to end, and the SAS comparison authenticates the
//! session. The device holding the user key publishes the new list before it hands it to the
//! new device, so the relay knows the new device (and certifies it under the user's name) by
//! the time it joins.

use std::time::Duration;

use hushwire::device::{DeviceListError, LinkOffer, LinkPayload, is_link_message};
use hushwire::verify::ShortAuthString;
use hushwire::{IdentityKey, PreKeyBundle, Timestamp, UserId};
use rand_core::CryptoRng;
use tokio::time::Instant;

use super::{BoxError, Incoming, Peer};
use crate::client::RelayClient;
use crate::frame::DIRECT_MARK;
use crate::unix_now;

/// The string both screens show during a link, as the peer prints it.
pub struct LinkSas {
    /// Seven emoji with their names.
    pub emoji: String,
    /// The same as three four-digit numbers.
    pub decimal: String,
}

impl LinkSas {
    fn of(sas: &ShortAuthString) -> LinkSas {
        let decimal = sas
            .decimal()
            .iter()
            .map(|n| format!("{n:04}"))
            .collect::<Vec<_>>()
            .join(" ");
        LinkSas {
            emoji: sas.emoji_names(),
            decimal,
        }
    }
}

/// A completed link.
pub struct Linked {
    /// The user's list version now.
    pub list_version: u64,
    /// How many devices it carries.
    pub devices: usize,
    /// The string the user compared.
    pub sas: String,
    /// The other device: the new one (on the existing device) or the existing one.
    pub other: IdentityKey,
    /// Deliveries that arrived during the run and are not part of it (already acknowledged):
    /// show them.
    pub other_deliveries: Vec<Incoming>,
}

impl Peer {
    /// Whether the list held for `user` carries `key` live.
    pub(super) fn is_listed_device(&self, user: &UserId, key: &IdentityKey) -> bool {
        self.device
            .device_list(user)
            .is_some_and(|l| l.device_with_key(key).is_some())
    }

    /// The devices to send to for `to`, whose registered device is `key`: fetches the user's
    /// device list from the relay and accepts it (its signatures, the pinned user key and the
    /// successor rules, hushwire §19.4, all checked here: the relay only serves it), then
    /// every device the held list carries; just `key` for a user without a list.
    pub(super) async fn devices_of_user(
        &mut self,
        client: &mut RelayClient,
        to: &str,
        key: &IdentityKey,
        now: Timestamp,
    ) -> Result<Vec<IdentityKey>, BoxError> {
        let user = UserId::new(to.as_bytes())?;
        if let Some(bytes) = client.get_device_list(to).await? {
            match self.device.accept_device_list(&user, &bytes, now) {
                Ok(_) | Err(DeviceListError::NotNewer { .. }) => {}
                Err(e) => return Err(format!("`{to}`'s device list refused: {e}").into()),
            }
        }
        if self.device.device_list(&user).is_none() {
            return Ok(vec![*key]);
        }
        let devices = self.device.devices_of(&user).map_err(|e| match e {
            DeviceListError::IdentityChanged => BoxError::from(format!(
                "`{to}`'s key changed since you verified it: compare safety numbers again"
            )),
            other => BoxError::from(other),
        })?;
        Ok(devices.into_iter().map(|d| d.identity_key).collect())
    }

    /// A direct delivery (`DIRECT_MARK from(32) message`): decrypts it on the session with
    /// `from`; only link-run messages are accepted this way. `None` for any other envelope.
    pub(super) fn open_direct(&mut self, envelope: &[u8], now: Timestamp) -> Option<Incoming> {
        let (&mark, rest) = envelope.split_first()?;
        if mark != DIRECT_MARK {
            return None;
        }
        let Some((from, message)) = rest.split_first_chunk::<32>() else {
            return Some(Incoming::Rejected("short direct message".into()));
        };
        let Ok(from) = IdentityKey::from_bytes(from) else {
            return Some(Incoming::Rejected(
                "direct message from an invalid key".into(),
            ));
        };
        Some(match self.device.decrypt_from(&from, message, now) {
            Ok(read) if is_link_message(&read.plaintext) => Incoming::Link {
                identity: from,
                plaintext: read.plaintext,
            },
            Ok(_) => Incoming::Rejected("a direct message that is not a link message".into()),
            Err(e) => Incoming::Rejected(format!("direct message rejected: {e}")),
        })
    }

    /// Publishes this device's user's current list to the relay.
    pub async fn publish_device_list(&self, client: &mut RelayClient) -> Result<(), BoxError> {
        let list = self
            .device
            .own_device_list()
            .ok_or("this device belongs to no user yet")?;
        client.put_device_list(list.to_bytes()).await?;
        Ok(())
    }

    /// Makes this registered device the first device of its user (named as the peer) if it
    /// is not yet, and publishes list version 1.
    pub async fn ensure_user<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(), BoxError> {
        if self.device.own_user_id().is_none() {
            let user = UserId::new(self.name.as_bytes())?;
            self.device.create_user(&user, 1, now, rng)?;
            self.publish_device_list(client).await?;
        }
        Ok(())
    }

    /// Starts linking a new device: makes this device its user's first device if needed,
    /// and returns the offer with the payload to show as a QR code.
    pub async fn offer_link<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(LinkOffer, LinkPayload), BoxError> {
        self.ensure_user(client, now, rng).await?;
        Ok(self.device.offer_link(None, now, rng)?)
    }

    /// Removes device `device_id` of this device's user: publishes list version + 1 with a
    /// tombstone. Returns the new version.
    pub async fn remove_device(
        &mut self,
        client: &mut RelayClient,
        device_id: u32,
        now: Timestamp,
    ) -> Result<u64, BoxError> {
        let list = self.device.remove_own_device(device_id, now)?;
        client.put_device_list(list.to_bytes()).await?;
        Ok(list.version())
    }

    /// Encrypts `plaintext` on the session with `to` and sends it as a direct message.
    async fn send_link<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        to: &IdentityKey,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<(), BoxError> {
        let message = self.device.encrypt_for(to, plaintext, rng)?;
        client.send_direct(to.to_bytes(), message).await?;
        Ok(())
    }

    /// The next link-run message (from `from`, if given), acknowledging every delivery on
    /// the way; others are kept in `other`.
    async fn next_link_message(
        &mut self,
        client: &mut RelayClient,
        from: Option<&IdentityKey>,
        deadline: Instant,
        other: &mut Vec<Incoming>,
    ) -> Result<(IdentityKey, Vec<u8>), BoxError> {
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let Some(delivery) = client.next_delivery(wait).await? else {
                return Err("the link timed out: no answer from the other device".into());
            };
            let incoming = self.open(&delivery.envelope, unix_now());
            client.ack(delivery.id).await?;
            match incoming {
                Incoming::Link {
                    identity,
                    plaintext,
                } if from.is_none_or(|f| *f == identity) => return Ok((identity, plaintext)),
                Incoming::Duplicate => {}
                incoming => other.push(incoming),
            }
        }
    }

    /// Drives the existing device's side of a link (hushwire §19.11) to the end: waits for
    /// the new device's request, runs the SAS, asks `approve` whether the strings match on
    /// both screens, and once the new device confirmed too, publishes the new list and hands
    /// it to the new device. A refused message (forged, replayed, out of order) is skipped
    /// and the run goes on; a mismatch or timeout ends it with an error and changes no list.
    pub async fn link_new_device<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        offer: LinkOffer,
        mut approve: impl FnMut(&LinkSas) -> bool,
        wait: Duration,
        rng: &mut R,
    ) -> Result<Linked, BoxError> {
        client.receive().await?;
        let deadline = Instant::now() + wait;
        let mut other = Vec::new();
        let mut offer = offer;
        let (linking, new_device) = loop {
            let (from, request) = self
                .next_link_message(client, None, deadline, &mut other)
                .await?;
            match offer.receive_request(&self.device, &from, &request, unix_now(), rng) {
                Ok((linking, start)) => {
                    self.send_link(client, &from, &start, rng).await?;
                    break (linking, from);
                }
                Err((back, _)) => offer = back,
            }
        };
        let mut linking = linking;
        let comparing = loop {
            let (_, accept) = self
                .next_link_message(client, Some(&new_device), deadline, &mut other)
                .await?;
            match linking.receive_accept(&self.device, &new_device, &accept, unix_now()) {
                Ok((comparing, reveal)) => {
                    self.send_link(client, &new_device, &reveal, rng).await?;
                    break comparing;
                }
                Err((back, _)) => linking = back,
            }
        };
        let sas = LinkSas::of(comparing.sas());
        if !approve(&sas) {
            return Err("the strings differ: link cancelled, no device added".into());
        }
        let mut comparing = comparing;
        let confirmed = loop {
            let (_, confirm) = self
                .next_link_message(client, Some(&new_device), deadline, &mut other)
                .await?;
            match comparing.receive_confirm(&new_device, &confirm, unix_now()) {
                Ok(confirmed) => break confirmed,
                Err((back, _)) => comparing = back,
            }
        };
        let approved = confirmed
            .approve(&mut self.device, unix_now())
            .map_err(|(_, e)| e)?;
        client.put_device_list(approved.list.to_bytes()).await?;
        self.send_link(client, &new_device, &approved.message, rng)
            .await?;
        Ok(Linked {
            list_version: approved.list.version(),
            devices: approved.list.devices().len(),
            sas: sas.emoji,
            other: new_device,
            other_deliveries: other,
        })
    }

    /// Drives the new device's side of a link: fetches the existing device's bundle, sends
    /// the request, runs the SAS, asks `approve` whether the strings match, confirms, and
    /// joins the user with the list the existing device hands over. Then this device takes
    /// the user's name, publishes its prekeys and gets its sender certificate.
    pub async fn join_user<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        payload: &LinkPayload,
        mut approve: impl FnMut(&LinkSas) -> bool,
        wait: Duration,
        rng: &mut R,
    ) -> Result<Linked, BoxError> {
        client.receive().await?;
        let deadline = Instant::now() + wait;
        let existing = *payload.existing_identity();
        let bytes = client.fetch_bundle(existing.to_bytes()).await?;
        let bundle = PreKeyBundle::from_bytes(&bytes)?;
        bundle.verify()?;
        let (joining, request) = self
            .device
            .request_link(payload, &bundle, unix_now(), rng)?;
        self.send_link(client, &existing, &request, rng).await?;
        let mut other = Vec::new();
        let mut joining = joining;
        let revealing = loop {
            let (_, start) = self
                .next_link_message(client, Some(&existing), deadline, &mut other)
                .await?;
            match joining.receive_start(&self.device, &existing, &start, unix_now(), rng) {
                Ok((revealing, accept)) => {
                    self.send_link(client, &existing, &accept, rng).await?;
                    break revealing;
                }
                Err((back, _)) => joining = back,
            }
        };
        let mut revealing = revealing;
        let comparing = loop {
            let (_, reveal) = self
                .next_link_message(client, Some(&existing), deadline, &mut other)
                .await?;
            match revealing.receive_reveal(&self.device, &existing, &reveal, unix_now()) {
                Ok(comparing) => break comparing,
                Err((back, _)) => revealing = back,
            }
        };
        let sas = LinkSas::of(comparing.sas());
        if !approve(&sas) {
            return Err("the strings differ: link cancelled, this device joined no user".into());
        }
        let (awaiting, confirm) = comparing.confirm();
        self.send_link(client, &existing, &confirm, rng).await?;
        let mut awaiting = awaiting;
        loop {
            let (_, done) = self
                .next_link_message(client, Some(&existing), deadline, &mut other)
                .await?;
            match awaiting.receive_list(&mut self.device, &existing, &done, unix_now()) {
                Ok(_) => break,
                Err((back, _)) => awaiting = back,
            }
        }
        let list = self
            .device
            .own_device_list()
            .ok_or("joined, but no list is held")?
            .clone();
        self.name = String::from_utf8_lossy(list.user_id().as_bytes()).into_owned();
        self.publish_prekeys(client, unix_now(), rng).await?;
        self.refresh_certificate(client, unix_now()).await?;
        Ok(Linked {
            list_version: list.version(),
            devices: list.devices().len(),
            sas: sas.emoji,
            other: existing,
            other_deliveries: other,
        })
    }
}
