//! The demo's multi-device chapter: the customer links a laptop to her phone (a QR code and a
//! short string compared on both screens, hushwire SPEC.md §19.11), Dana replies, and both
//! devices read the reply. The relay stores the customer's signed device list and queues one
//! sealed envelope per device: it never sees a "message to a user".

use chacha20::ChaCha20Rng;
use rand_core::{Rng as _, SeedableRng};

use super::{CUSTOMER, DemoResult, OPERATOR, Person, Stage, WAIT, aside, note, row, section};
use hushwire_examples::chat::{Incoming, LinkSas, Peer};
use hushwire_examples::unix_now;

/// How long the link may take in the demo.
const LINK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) async fn chapter(
    stage: &mut Stage,
    customer: &mut Person,
    dana: &mut Person,
    addr: std::net::SocketAddr,
) -> DemoResult<()> {
    section("multi-device: the customer's laptop");
    let mut seed = [0u8; 32];
    stage.rng.fill_bytes(&mut seed);
    let mut laptop_rng = ChaCha20Rng::from_seed(seed);
    let mut laptop = Peer::new("new-laptop", unix_now(), &mut laptop_rng)?;
    let link = laptop.link(WAIT, false);
    let mut laptop_client = laptop.connect(addr, &link, false, unix_now()).await?;

    let (phone, phone_client) = customer.client()?;
    let (offer, payload) = phone
        .offer_link(phone_client, unix_now(), &mut stage.rng)
        .await?;
    aside(&format!(
        "the phone shows a QR code ({} bytes: user, user key, phone's key, a fresh nonce); the laptop scans it",
        payload.to_bytes().len()
    ));
    let (mut on_phone, mut on_laptop) = (String::new(), String::new());
    let (linked, joined) = tokio::join!(
        phone.link_new_device(
            phone_client,
            offer,
            |sas: &LinkSas| {
                on_phone = sas.emoji.clone();
                true
            },
            LINK_WAIT,
            &mut stage.rng,
        ),
        laptop.join_user(
            &mut laptop_client,
            &payload,
            |sas: &LinkSas| {
                on_laptop = sas.emoji.clone();
                true
            },
            LINK_WAIT,
            &mut laptop_rng,
        ),
    );
    let (linked, _joined) = (linked?, joined?);
    row("", &format!("phone shows  {on_phone}"));
    row("", &format!("laptop shows {on_laptop}"));
    if on_phone != on_laptop {
        return Err("the two screens show different strings".into());
    }
    note(&format!(
        "they match: the phone signs device list v{} ({} devices) and the relay stores it",
        linked.list_version, linked.devices
    ));
    let mut laptop = Person {
        peer: laptop,
        client: Some(laptop_client),
    };
    laptop
        .client
        .as_mut()
        .ok_or("the laptop is offline")?
        .receive()
        .await?;

    // Dana answers the customer: one envelope per device of the customer's signed list.
    let text = "Your refund is on its way; you'll get an email too.";
    let (peer, client) = dana.client()?;
    let sent = peer
        .send_text(client, CUSTOMER, text, unix_now(), &mut stage.rng)
        .await?;
    stage.plaintexts.push(text.to_owned());
    let phone_key = *customer.peer.device.identity_key();
    let mut per_device = 0;
    for s in std::iter::once(&sent).chain(&sent.copies) {
        // The customer's device 1 (phone) and 2 (laptop): one queue each.
        let to = if s.to == phone_key {
            "customer:1"
        } else {
            "customer:2"
        };
        stage.show_stored(s.relay_id, to, &format!("{OPERATOR} sends"))?;
        per_device += 1;
    }
    stage.receive(customer).await?;
    row("", "  ↳ on her phone");
    match stage.receive(&mut laptop).await? {
        Incoming::Text { text: read, .. } if read == text => {}
        _ => return Err("the laptop did not read Dana's reply".into()),
    }
    row("", "  ↳ on her laptop");
    note(&format!(
        "the relay queued {per_device} envelopes, one per device, each sealed to that device's \
         key: it never sees a message \"to the customer\""
    ));
    if let Some(client) = laptop.client.take() {
        client.close().await;
    }
    Ok(())
}
