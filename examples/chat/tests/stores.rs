//! The relay's stores (`examples/chat/src/relay/store.rs`), in-process on loopback, each test
//! on SQLite and, when `HUSHWIRE_TEST_POSTGRES` names a server, on PostgreSQL too (see
//! `common/postgres.rs`; without it the PostgreSQL half prints a notice and is skipped):
//!
//! - erasure on request deletes the device's queue, prekeys and envelope KEM key,
//!   registration, blobs and its name's backup, says how many of each went, touches nobody
//!   else's, and a second request finds nothing;
//! - hybrid sealed envelopes end to end: the relay stores a device's envelope KEM key as
//!   published and hands it out; a sender seals hybrid (type `0x33`, 1,092 bytes more) to a
//!   peer that published one and classical (`0x30`) to one that did not, as the relay stores
//!   and forwards them; a relay withholding the key downgrades senders to classical envelopes,
//!   which a recipient refusing them rejects with `ClassicalRefused`, its state unchanged;
//!   a sender that fetched the key before keeps sealing hybrid to it for
//!   `ENVELOPE_KEY_KEEP_SECS` when the relay stops handing it out;
//! - the metrics endpoint serves the Prometheus text format: connections, queue depth,
//!   deliveries, refusals by reason, rate-limit hits, erasures, and no name, key or content;
//! - several devices (hushwire SPEC.md §19): a laptop linked to alice's phone through the
//!   relay (QR payload, SAS on both screens) joins her user; the relay stores her signed
//!   device list, refuses a replayed older one and one signed by another user key, and queues
//!   bob's message once per device, so both of alice's devices read it; after alice removes
//!   the laptop, bob's next message goes to the phone only;
//! - a `--store` URL parses to SQLite or PostgreSQL, and no log or `Debug` shows its password;
//! - (PostgreSQL) two relay nodes on one database: an envelope sent through node A reaches a
//!   recipient receiving on node B through the notification alone (polling switched off), and
//!   an envelope acknowledged on B is gone for A.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/support.rs"]
mod support;

use hushwire_examples as transport;

use std::net::SocketAddr;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use hushwire::persist::StorageKey;
use hushwire::{Device, ErrorKind, OpenError, TrustStore};
use support::{TempDir, now};
use transport::chat::{Incoming, Peer};
use transport::client::{ClientError, RelayClient};
use transport::frame::{ErasedCounts, ErrorCode, MAX_ENVELOPE_KEY_LEN};
use transport::relay::metrics::MAX_SCRAPE_REQUEST;
use transport::relay::store::StoreUrl;
use transport::relay::{self, RelayConfig, RelayHandle};

const WAIT: Duration = Duration::from_secs(5);

/// The stores a test runs on: SQLite always, PostgreSQL (a fresh database) if there is a
/// server.
fn stores(test: &str) -> Vec<(&'static str, Option<StoreUrl>)> {
    let mut stores = vec![("sqlite", None)];
    if let Some(server) = postgres::server(test) {
        stores.push((
            "postgres",
            Some(StoreUrl::Postgres(postgres::fresh_database(&server))),
        ));
    }
    stores
}

fn config(dir: &TempDir, store: Option<StoreUrl>) -> RelayConfig {
    let mut config = RelayConfig::new(([127, 0, 0, 1], 0).into(), dir.0.clone());
    config.store = store;
    config.log = std::env::var_os("HUSHWIRE_RELAY_LOG").is_some();
    config.frames_per_sec = 20_000;
    config.burst = 20_000;
    config
}

async fn connect(peer: &mut Peer, addr: SocketAddr, registered: bool) -> RelayClient {
    let link = peer.link(WAIT, false);
    peer.connect(addr, &link, registered, now()).await.unwrap()
}

/// A registered peer (name, prekeys, certificate), signed in, not receiving.
async fn registered(name: &str, addr: SocketAddr, rng: &mut ChaCha20Rng) -> (Peer, RelayClient) {
    let mut peer = Peer::new(name, now(), rng).unwrap();
    let mut client = connect(&mut peer, addr, false).await;
    peer.register(&mut client, now(), rng).await.unwrap();
    (peer, client)
}

/// The next text delivered to `peer`, opened and acknowledged.
async fn next_text(peer: &mut Peer, client: &mut RelayClient, wait: Duration) -> Option<String> {
    let delivery = client.next_delivery(wait).await.unwrap()?;
    let text = match peer.open(&delivery.envelope, now()) {
        Incoming::Text { text, .. } => text,
        _ => panic!("{}: not a text", peer.name),
    };
    client.ack(delivery.id).await.unwrap();
    Some(text)
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_deletes_everything_held_for_the_device_and_says_what() {
    for (store_name, store) in stores("erasure_deletes_everything_held_for_the_device") {
        let dir = TempDir::new("stores-erase");
        let relay = relay::start(config(&dir, store)).await.unwrap();
        let addr = relay.addr();
        let mut rng = ChaCha20Rng::seed_from_u64(28);
        let (mut alice, mut alice_client) = registered("alice", addr, &mut rng).await;
        let (mut bob, mut bob_client) = registered("bob", addr, &mut rng).await;

        // Held for alice: 3 queued envelopes, her prekeys, her name, a blob, a backup.
        for i in 0..3 {
            bob.send_text(
                &mut bob_client,
                "alice",
                &format!("hello {i}"),
                now(),
                &mut rng,
            )
            .await
            .unwrap();
        }
        let bytes = vec![7u8; 1_000];
        let blob = alice_client.blob_begin(1_000).await.unwrap();
        alice_client.blob_put(blob, 0, bytes.clone()).await.unwrap();
        alice_client
            .blob_end(blob, Sha256::digest(&bytes).into())
            .await
            .unwrap();
        alice_client.put_backup(vec![9; 100]).await.unwrap();
        // And for bob: a message from alice, his backup.
        alice
            .send_text(&mut alice_client, "bob", "for bob", now(), &mut rng)
            .await
            .unwrap();
        bob_client.put_backup(vec![8; 100]).await.unwrap();
        assert_eq!(relay.queued().unwrap(), 4, "{store_name}");
        let alice_id = alice.device.identity_key().to_bytes();
        assert!(relay.envelope_key_of(&alice_id).unwrap().is_some());

        let erased = alice_client.erase().await.unwrap();
        assert_eq!(erased.queue, 3, "{store_name}: {erased:?}");
        assert_eq!(erased.devices, 1, "{store_name}: {erased:?}");
        assert_eq!(erased.blobs, 1, "{store_name}: {erased:?}");
        assert_eq!(erased.backups, 1, "{store_name}: {erased:?}");
        // A signed prekey, a last-resort ML-KEM prekey, the one-time ones published, and the
        // envelope KEM key (counted with the prekeys).
        assert!(erased.prekeys >= 4, "{store_name}: {erased:?}");
        assert_eq!(
            relay.envelope_key_of(&alice_id).unwrap(),
            None,
            "{store_name}"
        );
        assert_eq!(
            bob_client.fetch_envelope_key(alice_id).await.unwrap(),
            None,
            "{store_name}"
        );

        // Nothing of alice's is left, as anyone sees it...
        assert!(matches!(
            bob_client.lookup("alice").await,
            Err(ClientError::Relay(ErrorCode::UnknownName))
        ));
        assert!(matches!(
            bob_client.blob_get(blob, 0, 10).await,
            Err(ClientError::Relay(ErrorCode::NoSuchBlob))
        ));
        assert!(matches!(
            alice_client.get_backup().await,
            Err(ClientError::Relay(ErrorCode::Invalid))
        ));
        // ...and as the operator does.
        assert_eq!(relay.backup_of("alice").unwrap(), None, "{store_name}");
        assert_eq!(relay.blob(&blob).unwrap(), None, "{store_name}");
        assert_eq!(relay.blob_count().unwrap(), 0, "{store_name}");
        assert_eq!(
            relay.queued().unwrap(),
            1,
            "{store_name}: bob's message stays"
        );
        // Bob keeps everything of his.
        assert_eq!(relay.backup_of("bob").unwrap(), Some(vec![8; 100]));
        bob_client.receive().await.unwrap();
        assert_eq!(
            next_text(&mut bob, &mut bob_client, WAIT).await.as_deref(),
            Some("for bob")
        );

        // Asked again: nothing more to delete.
        assert_eq!(
            alice_client.erase().await.unwrap(),
            ErasedCounts::default(),
            "{store_name}"
        );
        // The name is free again.
        alice_client.register("alice").await.unwrap();
        relay.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------------

/// Sealed-envelope type bytes (SPEC.md §13.2, §13.8.3).
const CLASSICAL: u8 = 0x30;
const HYBRID: u8 = 0x33;

/// A registered peer whose account never turned hybrid envelopes on (an older client): it
/// publishes no envelope key.
async fn registered_classical(
    name: &str,
    addr: SocketAddr,
    rng: &mut ChaCha20Rng,
) -> (Peer, RelayClient) {
    let mut peer = Peer::from_parts(name, Device::new(now(), rng), None, None);
    let mut client = connect(&mut peer, addr, false).await;
    peer.register(&mut client, now(), rng).await.unwrap();
    (peer, client)
}

/// The envelope the relay stored under `id`.
fn stored(relay: &RelayHandle, id: u64) -> Vec<u8> {
    let stored = relay.stored(1_000).unwrap();
    stored.into_iter().find(|e| e.id == id).unwrap().envelope
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_envelopes_to_peers_with_a_published_key_classical_to_the_others() {
    for (store_name, store) in stores("hybrid_envelopes_to_peers_with_a_published_key") {
        let dir = TempDir::new("stores-hybrid");
        let relay = relay::start(config(&dir, store)).await.unwrap();
        let addr = relay.addr();
        let mut rng = ChaCha20Rng::seed_from_u64(36);
        let (mut alice, mut alice_client) = registered("alice", addr, &mut rng).await;
        let (mut bob, mut bob_client) = registered_classical("bob", addr, &mut rng).await;
        let (mut carol, mut carol_client) = registered("carol", addr, &mut rng).await;

        // The relay keeps alice's key byte for byte and hands it out; bob published none.
        let alice_id = alice.device.identity_key().to_bytes();
        let published = alice.device.account().envelope_key().unwrap().encode();
        assert_eq!(published.len(), hushwire::sealed::ENVELOPE_KEY_LEN);
        assert_eq!(
            relay.envelope_key_of(&alice_id).unwrap().as_deref(),
            Some(&published[..]),
            "{store_name}"
        );
        assert_eq!(
            carol_client.fetch_envelope_key(alice_id).await.unwrap(),
            Some(published.clone())
        );
        let bob_id = bob.device.identity_key().to_bytes();
        assert_eq!(relay.envelope_key_of(&bob_id).unwrap(), None);
        assert_eq!(carol_client.fetch_envelope_key(bob_id).await.unwrap(), None);

        // The same first message to each: hybrid to alice, classical to bob.
        let to_alice = carol
            .send_text(&mut carol_client, "alice", "same text", now(), &mut rng)
            .await
            .unwrap();
        let to_bob = carol
            .send_text(&mut carol_client, "bob", "same text", now(), &mut rng)
            .await
            .unwrap();
        let at_relay_alice = stored(&relay, to_alice.relay_id);
        let at_relay_bob = stored(&relay, to_bob.relay_id);
        assert_eq!(at_relay_alice[1], HYBRID, "{store_name}");
        assert_eq!(at_relay_bob[1], CLASSICAL, "{store_name}");
        assert_eq!(at_relay_alice.len(), at_relay_bob.len() + 1_092);

        // Forwarded as stored, and each recipient reads its message.
        for (peer, client, envelope) in [
            (&mut alice, &mut alice_client, &at_relay_alice),
            (&mut bob, &mut bob_client, &at_relay_bob),
        ] {
            client.receive().await.unwrap();
            let delivery = client.next_delivery(WAIT).await.unwrap().unwrap();
            assert_eq!(&delivery.envelope, envelope, "{store_name}");
            match peer.open(&delivery.envelope, now()) {
                Incoming::Text { text, .. } => assert_eq!(text, "same text"),
                _ => panic!("{store_name}: {} did not read its message", peer.name),
            }
            client.ack(delivery.id).await.unwrap();
        }
        // Bob, an older client, seals hybrid to alice too: the choice is the recipient's.
        let from_bob = bob
            .send_text(&mut bob_client, "alice", "from bob", now(), &mut rng)
            .await
            .unwrap();
        assert_eq!(from_bob.envelope[1], HYBRID);

        // The relay's size limit, at and past its edge: a refusal keeps the stored key.
        let carol_id = carol.device.identity_key().to_bytes();
        let carol_key = relay.envelope_key_of(&carol_id).unwrap();
        assert!(matches!(
            carol_client
                .publish_envelope_key(vec![7; MAX_ENVELOPE_KEY_LEN + 1])
                .await,
            Err(ClientError::Relay(ErrorCode::Invalid))
        ));
        assert_eq!(relay.envelope_key_of(&carol_id).unwrap(), carol_key);
        carol_client
            .publish_envelope_key(vec![7; MAX_ENVELOPE_KEY_LEN])
            .await
            .unwrap();
        // Opaque to the relay; a sender refuses what is not carol's signed key, sealing nothing.
        let queued = relay.queued().unwrap();
        let refused = alice
            .send_text(&mut alice_client, "carol", "not sealed", now(), &mut rng)
            .await
            .err()
            .unwrap();
        assert!(refused.to_string().contains("envelope key"), "{refused}");
        assert_eq!(relay.queued().unwrap(), queued, "{store_name}");
        relay.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_withholding_envelope_keys_gets_classical_envelopes_refused() {
    for (store_name, store) in stores("a_relay_withholding_envelope_keys") {
        let dir = TempDir::new("stores-withhold");
        let mut config = config(&dir, store);
        config.serve_envelope_keys = false;
        let relay = relay::start(config).await.unwrap();
        let addr = relay.addr();
        let mut rng = ChaCha20Rng::seed_from_u64(37);
        let (mut alice, mut alice_client) = registered("alice", addr, &mut rng).await;
        let (mut carol, mut carol_client) = registered("carol", addr, &mut rng).await;
        assert!(
            alice
                .device
                .account_mut()
                .set_refuse_classical_envelopes(true)
        );

        // Stored, but not handed out: carol sees no key and seals classically.
        let alice_id = alice.device.identity_key().to_bytes();
        assert!(relay.envelope_key_of(&alice_id).unwrap().is_some());
        assert_eq!(
            carol_client.fetch_envelope_key(alice_id).await.unwrap(),
            None
        );
        let sent = carol
            .send_text(&mut carol_client, "alice", "downgraded", now(), &mut rng)
            .await
            .unwrap();
        assert_eq!(stored(&relay, sent.relay_id)[1], CLASSICAL, "{store_name}");

        alice_client.receive().await.unwrap();
        let delivery = alice_client.next_delivery(WAIT).await.unwrap().unwrap();
        // The typed error, before any cryptography (no trust store needed to get it).
        let refused = alice
            .device
            .open_sealed(&delivery.envelope, &TrustStore::new(), now())
            .unwrap_err();
        assert!(
            matches!(refused, OpenError::ClassicalRefused),
            "{refused:?}"
        );
        assert_eq!(refused.kind(), ErrorKind::Untrusted);
        // Through the chat glue: rejected, and the device exactly as it was.
        let key = StorageKey::from_bytes([3; 32]);
        let snapshot =
            |device: &Device| device.to_encrypted(&key, 1, &mut ChaCha20Rng::seed_from_u64(1));
        let _ = alice.device.take_changes();
        let before = snapshot(&alice.device);
        match alice.open(&delivery.envelope, now()) {
            Incoming::Rejected(reason) => assert!(reason.contains("classical"), "{reason}"),
            _ => panic!("{store_name}: a refused classical envelope was read"),
        }
        assert_eq!(snapshot(&alice.device), before, "{store_name}");
        assert!(alice.device.take_changes().is_empty(), "{store_name}");
        relay.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_keeps_a_fetched_envelope_key_when_the_relay_stops_serving_it() {
    for (store_name, store) in stores("a_sender_keeps_a_fetched_envelope_key") {
        let dir = TempDir::new("stores-keep-key");
        let relay = relay::start(config(&dir, store.clone())).await.unwrap();
        let addr = relay.addr();
        let mut rng = ChaCha20Rng::seed_from_u64(38);
        let (_alice, alice_client) = registered("alice", addr, &mut rng).await;
        let (mut carol, carol_client) = registered("carol", addr, &mut rng).await;
        let mut carol_client = Some(carol_client);
        let first = carol
            .send_text(
                carol_client.as_mut().unwrap(),
                "alice",
                "1",
                now(),
                &mut rng,
            )
            .await
            .unwrap();
        assert_eq!(first.envelope[1], HYBRID, "{store_name}");
        drop((alice_client, carol_client.take()));
        relay.shutdown().await;

        // The same store and identity, now withholding envelope keys.
        let mut withholding = config(&dir, store);
        withholding.serve_envelope_keys = false;
        withholding.listen = addr;
        let relay = relay::start(withholding).await.unwrap();
        let mut client = connect(&mut carol, addr, true).await;
        let day = 24 * 3_600;
        // Past the refresh, within the keep period: carol asks, gets nothing, stays hybrid.
        let later = now().plus_secs(transport::chat::ENVELOPE_KEY_REFRESH_SECS + day);
        let sent = carol
            .send_text(&mut client, "alice", "2", later, &mut rng)
            .await
            .unwrap();
        assert_eq!(stored(&relay, sent.relay_id)[1], HYBRID, "{store_name}");
        // Past the keep period the key may be gone on the recipient too: classical.
        let much_later = now().plus_secs(transport::chat::ENVELOPE_KEY_KEEP_SECS + day);
        let sent = carol
            .send_text(&mut client, "alice", "3", much_later, &mut rng)
            .await
            .unwrap();
        assert_eq!(stored(&relay, sent.relay_id)[1], CLASSICAL, "{store_name}");
        relay.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------------

/// `GET path` on `addr`; returns the status line and the body.
async fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: relay\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// The value of the sample `name` (with its labels, as printed) in a scrape.
fn sample(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .parse()
        .unwrap()
}

async fn scrape(relay: &RelayHandle) -> String {
    let (status, body) = http_get(relay.metrics_addr().unwrap(), "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_connections_queue_deliveries_refusals_and_rate_limits() {
    for (store_name, store) in stores("metrics_count_connections_queue_deliveries") {
        let dir = TempDir::new("stores-metrics");
        let mut config = config(&dir, store);
        config.metrics = Some(([127, 0, 0, 1], 0).into());
        config.frames_per_sec = 20;
        config.burst = 40;
        let relay = relay::start(config).await.unwrap();
        let addr = relay.addr();
        let mut rng = ChaCha20Rng::seed_from_u64(29);
        let (mut alice, mut alice_client) = registered("alice", addr, &mut rng).await;
        let (mut bob, mut bob_client) = registered("bob", addr, &mut rng).await;

        let body = scrape(&relay).await;
        assert_eq!(
            sample(&body, "hushwire_relay_connections"),
            2,
            "{store_name}"
        );
        assert_eq!(sample(&body, "hushwire_relay_queue_depth"), 0);

        for i in 0..3 {
            alice
                .send_text(
                    &mut alice_client,
                    "bob",
                    &format!("secret {i}"),
                    now(),
                    &mut rng,
                )
                .await
                .unwrap();
        }
        let body = scrape(&relay).await;
        assert_eq!(
            sample(&body, "hushwire_relay_queue_depth"),
            3,
            "{store_name}"
        );
        assert_eq!(sample(&body, "hushwire_relay_envelopes_accepted_total"), 3);
        assert_eq!(sample(&body, "hushwire_relay_deliveries_total"), 0);

        bob_client.receive().await.unwrap();
        for _ in 0..3 {
            next_text(&mut bob, &mut bob_client, WAIT).await.unwrap();
        }
        // Refusals by reason: an unknown name, then a too large backup.
        assert!(bob_client.lookup("carol").await.is_err());
        assert!(bob_client.put_backup(vec![0; 600 * 1024]).await.is_err());
        // A burst past the bucket: some frames wait for tokens.
        for _ in 0..60 {
            alice_client.ping().await.unwrap();
        }
        let bob_key = hex::encode(alice_client.lookup("bob").await.unwrap());
        drop(alice_client);

        let mut body = scrape(&relay).await;
        for _ in 0..100 {
            if sample(&body, "hushwire_relay_queue_depth") == 0
                && sample(&body, "hushwire_relay_connections") == 1
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            body = scrape(&relay).await;
        }
        assert_eq!(
            sample(&body, "hushwire_relay_queue_depth"),
            0,
            "{store_name}"
        );
        assert_eq!(sample(&body, "hushwire_relay_connections"), 1);
        assert_eq!(sample(&body, "hushwire_relay_sign_ins_total"), 2);
        assert_eq!(sample(&body, "hushwire_relay_deliveries_total"), 3);
        let rejected = |reason: &str| {
            sample(
                &body,
                &format!("hushwire_relay_rejections_total{{reason=\"{reason}\"}}"),
            )
        };
        assert_eq!(rejected("UnknownName"), 1);
        assert_eq!(rejected("BackupTooLarge"), 1);
        assert_eq!(rejected("Unauthorized"), 0);
        assert!(sample(&body, "hushwire_relay_rate_limited_total") > 0);
        assert_eq!(sample(&body, "hushwire_relay_erasures_total"), 0);
        // Every line is a comment or `name{fixed labels} number`; nothing a user chose.
        for line in body.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<u64>().is_ok(), "{line}");
            assert!(name.starts_with("hushwire_relay_"), "{line}");
        }
        for secret in ["alice", "bob", "carol", "secret"] {
            assert!(
                !body.contains(secret),
                "{store_name}: {secret} in the metrics"
            );
        }
        assert!(
            !body.contains(&bob_key[..16]),
            "an identity key in the metrics"
        );
        // Anything but /metrics is not found.
        let (status, _) = http_get(relay.metrics_addr().unwrap(), "/").await;
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        // A request without an end is read up to MAX_SCRAPE_REQUEST bytes and answered
        // (not waited on until the timeout).
        let mut stream = TcpStream::connect(relay.metrics_addr().unwrap())
            .await
            .unwrap();
        let mut request = b"GET /metrics ".to_vec();
        request.resize(MAX_SCRAPE_REQUEST, b'x');
        stream.write_all(&request).await.unwrap();
        let mut response = String::new();
        tokio::time::timeout(WAIT, stream.read_to_string(&mut response))
            .await
            .unwrap()
            .unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        relay.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_deliver_across_nodes_by_notification() {
    let Some(server) = postgres::server("two_nodes_on_one_database_deliver_across_nodes") else {
        return;
    };
    let store = StoreUrl::Postgres(postgres::fresh_database(&server));
    let dir = TempDir::new("stores-two-nodes");
    let node = |store: &StoreUrl| {
        let mut config = config(&dir, Some(store.clone()));
        // No polling: only the notification can wake the other node.
        config.poll_interval = Duration::from_secs(3_600);
        config
    };
    let a = relay::start(node(&store)).await.unwrap();
    // The second node shares the first's identity (same data directory).
    let b = relay::start(node(&store)).await.unwrap();
    assert_eq!(a.root(), b.root());
    let mut rng = ChaCha20Rng::seed_from_u64(30);
    let (mut alice, mut alice_client) = registered("alice", a.addr(), &mut rng).await;
    let (mut bob, mut bob_client) = registered("bob", b.addr(), &mut rng).await;
    bob_client.receive().await.unwrap();

    for i in 0..5 {
        let text = format!("across {i}");
        alice
            .send_text(&mut alice_client, "bob", &text, now(), &mut rng)
            .await
            .unwrap();
        assert_eq!(
            next_text(&mut bob, &mut bob_client, WAIT).await.as_deref(),
            Some(text.as_str()),
            "node B was not woken for an envelope queued through node A"
        );
    }
    // Acknowledged on B, gone for A: the queue is shared.
    for _ in 0..100 {
        if a.queued().unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a.queued().unwrap(), 0);

    // Bob moves to node A: nothing is delivered twice, the next message arrives.
    drop(bob_client);
    let mut bob_client = connect(&mut bob, a.addr(), true).await;
    bob_client.receive().await.unwrap();
    assert_eq!(bob_client.welcome().queued, 0);
    alice
        .send_text(&mut alice_client, "bob", "on A now", now(), &mut rng)
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut bob, &mut bob_client, WAIT).await.as_deref(),
        Some("on A now")
    );
    a.shutdown().await;
    b.shutdown().await;
}

// ---------------------------------------------------------------------------------------------

#[test]
fn store_urls_parse_and_never_show_a_password() {
    assert_eq!(
        StoreUrl::parse("sqlite:/var/lib/relay/relay.sqlite"),
        Ok(StoreUrl::Sqlite("/var/lib/relay/relay.sqlite".into()))
    );
    let url = "postgres://relay:hunter2@db.internal:5432/relay";
    let parsed = StoreUrl::parse(url).unwrap();
    assert_eq!(parsed, StoreUrl::Postgres(url.into()));
    assert_eq!(
        parsed.to_string(),
        "postgres://relay@db.internal:5432/relay"
    );
    assert!(!format!("{parsed:?}").contains("hunter2"));
    let mut config = RelayConfig::new(([127, 0, 0, 1], 0).into(), "data".into());
    config.store = Some(parsed);
    assert!(!format!("{config:?}").contains("hunter2"));
    let in_query = StoreUrl::parse("postgres://relay@localhost/relay?password=hunter2").unwrap();
    assert!(!in_query.to_string().contains("hunter2"));
    assert!(StoreUrl::parse("postgresql://relay@localhost/relay").is_ok());
    for bad in [
        "",
        "sqlite:",
        "mysql://x",
        "relay.sqlite",
        "postgres://relay@host:notaport/x",
    ] {
        assert!(StoreUrl::parse(bad).is_err(), "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_laptop_reads_what_is_sent_to_its_user_and_the_relay_keeps_the_list() {
    for (store_name, store) in stores("a_linked_laptop_reads_what_is_sent_to_its_user") {
        let dir = TempDir::new("stores-link");
        let relay = relay::start(config(&dir, store)).await.unwrap();
        let addr = relay.addr();
        let mut rng = ChaCha20Rng::seed_from_u64(91);
        let mut laptop_rng = ChaCha20Rng::seed_from_u64(92);
        let (mut phone, mut phone_client) = registered("alice", addr, &mut rng).await;
        let (mut bob, mut bob_client) = registered("bob", addr, &mut rng).await;
        // Bob wrote to alice before she had a second device.
        bob.send_text(&mut bob_client, "alice", "hi", now(), &mut rng)
            .await
            .unwrap();
        phone_client.receive().await.unwrap();
        assert_eq!(
            next_text(&mut phone, &mut phone_client, WAIT)
                .await
                .as_deref(),
            Some("hi")
        );
        let v0 = phone.device.own_device_list().cloned();
        assert!(v0.is_none());

        let mut laptop = Peer::new("laptop", now(), &mut laptop_rng).unwrap();
        let mut laptop_client = connect(&mut laptop, addr, false).await;
        let (offer, payload) = phone
            .offer_link(&mut phone_client, now(), &mut rng)
            .await
            .unwrap();
        let v1 = phone.device.own_device_list().unwrap().to_bytes();
        let (mut on_phone, mut on_laptop) = (String::new(), String::new());
        let (linked, joined) = tokio::join!(
            phone.link_new_device(
                &mut phone_client,
                offer,
                |sas| {
                    on_phone = sas.emoji.clone();
                    true
                },
                Duration::from_secs(20),
                &mut rng,
            ),
            laptop.join_user(
                &mut laptop_client,
                &payload,
                |sas| {
                    on_laptop = sas.emoji.clone();
                    true
                },
                Duration::from_secs(20),
                &mut laptop_rng,
            ),
        );
        let (linked, joined) = (linked.unwrap(), joined.unwrap());
        assert_eq!(on_phone, on_laptop, "{store_name}");
        assert!(!on_phone.is_empty());
        assert_eq!((linked.list_version, linked.devices), (2, 2));
        assert_eq!(joined.list_version, 2);
        assert_eq!(laptop.name, "alice");
        assert_eq!(
            laptop.device.own_device_list(),
            phone.device.own_device_list()
        );

        // The relay serves the list; it refuses the replayed v1 and a list of another user key.
        let served = bob_client.get_device_list("alice").await.unwrap().unwrap();
        assert_eq!(&served, phone.device.own_device_list().unwrap().as_bytes());
        assert!(matches!(
            phone_client.put_device_list(v1).await,
            Err(ClientError::Relay(ErrorCode::StaleDeviceList))
        ));
        let mut mallory = Device::new(now(), &mut rng);
        let forged = mallory
            .create_user(
                &hushwire::UserId::try_from("alice").unwrap(),
                1,
                now(),
                &mut rng,
            )
            .unwrap();
        assert!(matches!(
            bob_client.put_device_list(forged.to_bytes()).await,
            Err(ClientError::Relay(
                ErrorCode::Invalid | ErrorCode::StaleDeviceList
            ))
        ));
        assert_eq!(
            bob_client.get_device_list("alice").await.unwrap().unwrap(),
            served
        );

        // Bob's message: one envelope per device, and both devices read it.
        let sent = bob
            .send_text(
                &mut bob_client,
                "alice",
                "your parcel is here",
                now(),
                &mut rng,
            )
            .await
            .unwrap();
        assert_eq!(sent.copies.len(), 1, "{store_name}");
        let to: Vec<_> = std::iter::once(&sent)
            .chain(&sent.copies)
            .map(|s| s.to)
            .collect();
        assert!(to.contains(phone.device.identity_key()));
        assert!(to.contains(laptop.device.identity_key()));
        assert_ne!(sent.envelope, sent.copies[0].envelope);
        assert_eq!(
            next_text(&mut phone, &mut phone_client, WAIT)
                .await
                .as_deref(),
            Some("your parcel is here")
        );
        assert_eq!(
            next_text(&mut laptop, &mut laptop_client, WAIT)
                .await
                .as_deref(),
            Some("your parcel is here")
        );
        // The laptop writes to bob under alice's name; bob sees no identity change.
        laptop
            .send_text(&mut laptop_client, "bob", "thanks!", now(), &mut rng)
            .await
            .unwrap();
        bob_client.receive().await.unwrap();
        let delivery = bob_client.next_delivery(WAIT).await.unwrap().unwrap();
        match bob.open(&delivery.envelope, now()) {
            Incoming::Text {
                from, text, events, ..
            } => {
                assert_eq!((from.as_str(), text.as_str()), ("alice", "thanks!"));
                assert!(events.is_empty(), "{events:?}");
            }
            _ => panic!("bob did not read the laptop's message"),
        }

        // Alice removes the laptop: bob's next message goes to the phone only.
        let version = phone
            .remove_device(&mut phone_client, 2, now())
            .await
            .unwrap();
        assert_eq!(version, 3);
        let sent = bob
            .send_text(&mut bob_client, "alice", "one device now", now(), &mut rng)
            .await
            .unwrap();
        assert!(sent.copies.is_empty());
        assert_eq!(&sent.to, phone.device.identity_key());
        relay.shutdown().await;
    }
}
