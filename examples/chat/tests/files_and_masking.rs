//! The relay's blob store and the peers' files and masking, over loopback TLS in-process.
//!
//! - upload in parts, download by id and range, every refusal as the error code a peer
//!   prints: parts out of order or past the length, a short upload or another SHA-256, ranges
//!   outside the blob or above `MAX_BLOB_READ`, unknown and unfinished blobs;
//! - the size limit and the per-device quota at and one past their edges, refused before
//!   anything is stored;
//! - expiry: an expired blob is not served, the sweep deletes it and frees the quota; an
//!   upload not finished in time is dropped;
//! - a file sent by one peer arrives byte-identical at the other; the relay's blob holds no
//!   plaintext; a flipped bit in a chunk is refused by hushwire with `ChunkTampered`;
//! - a masked message: the operator reads the masked form and a secure field, the vault the
//!   number, which matches the operator's copy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/postgres.rs"]
mod postgres;

use hushwire_examples as transport;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chacha20::ChaCha20Rng;
use hushwire::Timestamp;
use hushwire::attachment::AttachmentError;
use hushwire::mask::Masker;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};
use tokio::time::sleep;

use transport::chat::{Incoming, Peer};
use transport::client::{ClientError, RelayClient};
use transport::frame::ErrorCode;
use transport::relay::blobs::{MAX_BLOB_PART, MAX_BLOB_READ, MAX_OPEN_UPLOADS};
use transport::relay::{self, RelayConfig, RelayHandle};

const WAIT: Duration = Duration::from_secs(5);

fn now() -> Timestamp {
    Timestamp::from_unix_secs(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "hushwire-files-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(dir: &TempDir) -> RelayConfig {
    let mut config = RelayConfig::new(([127, 0, 0, 1], 0).into(), dir.0.clone());
    config.store = postgres::transport_store(&dir.0);
    config.log = std::env::var_os("HUSHWIRE_RELAY_LOG").is_some();
    config.frames_per_sec = 20_000;
    config.burst = 20_000;
    config
}

/// A registered peer, signed in and receiving.
async fn registered(name: &str, addr: SocketAddr, rng: &mut ChaCha20Rng) -> (Peer, RelayClient) {
    let mut peer = Peer::new(name, now(), rng).unwrap();
    let link = peer.link(WAIT, false);
    let mut client = peer.connect(addr, &link, false, now()).await.unwrap();
    client.receive().await.unwrap();
    peer.register(&mut client, now(), rng).await.unwrap();
    (peer, client)
}

/// Bytes that do not repeat.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(&Sha256::digest(
            [seed.to_be_bytes(), i.to_be_bytes()].concat(),
        ));
        i += 1;
    }
    out.truncate(len);
    out
}

fn refused<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ErrorCode {
    match result {
        Err(ClientError::Relay(code)) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Uploads `data` as one blob in parts of `part` bytes.
async fn upload(client: &mut RelayClient, data: &[u8], part: usize) -> [u8; 16] {
    let id = client
        .blob_begin(u64::try_from(data.len()).unwrap())
        .await
        .unwrap();
    let mut offset = 0u64;
    for piece in data.chunks(part) {
        client.blob_put(id, offset, piece.to_vec()).await.unwrap();
        offset += u64::try_from(piece.len()).unwrap();
    }
    client
        .blob_end(id, Sha256::digest(data).into())
        .await
        .unwrap();
    id
}

async fn download(client: &mut RelayClient, id: [u8; 16], len: usize, step: u32) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < len {
        let want = u32::try_from(len - out.len()).unwrap().min(step);
        let offset = u64::try_from(out.len()).unwrap();
        out.extend(client.blob_get(id, offset, want).await.unwrap());
    }
    out
}

async fn start(dir: &TempDir, adjust: impl FnOnce(&mut RelayConfig)) -> RelayHandle {
    let mut config = config(dir);
    adjust(&mut config);
    relay::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_in_parts_download_by_id_and_range() {
    let dir = TempDir::new("ranges");
    let relay = start(&dir, |_| {}).await;
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (_alice, mut alice) = registered("alice", relay.addr(), &mut rng).await;
    let (_bob, mut bob) = registered("bob", relay.addr(), &mut rng).await;

    // Parts of every size up to the limit; another device downloads with the id.
    let data = bytes(2 * MAX_BLOB_PART + 12_345, 1);
    let id = upload(&mut alice, &data, MAX_BLOB_PART).await;
    assert_eq!(
        download(&mut bob, id, data.len(), MAX_BLOB_READ).await,
        data
    );
    assert_eq!(download(&mut bob, id, data.len(), 100_003).await, data);
    // Ranges across part boundaries, and the last byte.
    for (start, len) in [
        (0usize, 1u32),
        (MAX_BLOB_PART - 7, 20),
        (MAX_BLOB_PART, MAX_BLOB_READ),
        (data.len() - 1, 1),
    ] {
        let got = bob
            .blob_get(id, u64::try_from(start).unwrap(), len)
            .await
            .unwrap();
        assert_eq!(got, data[start..start + usize::try_from(len).unwrap()]);
    }
    // What the relay stores is what was uploaded.
    assert_eq!(relay.blob(&id).unwrap().unwrap(), data);

    let len = u64::try_from(data.len()).unwrap();
    // Past the end, empty, above the read limit.
    assert_eq!(refused(bob.blob_get(id, len, 1).await), ErrorCode::BadRange);
    assert_eq!(
        refused(bob.blob_get(id, len - 1, 2).await),
        ErrorCode::BadRange
    );
    assert_eq!(
        refused(bob.blob_get(id, u64::MAX, 1).await),
        ErrorCode::BadRange
    );
    assert_eq!(refused(bob.blob_get(id, 0, 0).await), ErrorCode::BadRange);
    assert_eq!(
        refused(bob.blob_get(id, 0, MAX_BLOB_READ + 1).await),
        ErrorCode::BlobTooLarge
    );
    assert_eq!(
        refused(bob.blob_get([7; 16], 0, 1).await),
        ErrorCode::NoSuchBlob
    );

    // Upload errors: out of order, past the length, too large a part, another device's
    // upload, not yet finished, short, another digest. The connection stays usable.
    let id = alice.blob_begin(1_000).await.unwrap();
    assert_eq!(
        refused(alice.blob_put(id, 1, vec![1; 10]).await),
        ErrorCode::BadRange
    );
    assert_eq!(
        refused(alice.blob_put(id, 0, vec![1; 1_001]).await),
        ErrorCode::BadRange
    );
    alice.blob_put(id, 0, vec![1; 600]).await.unwrap();
    assert_eq!(
        refused(alice.blob_put(id, 0, vec![1; 10]).await),
        ErrorCode::BadRange,
        "a part again"
    );
    assert_eq!(
        refused(bob.blob_put(id, 600, vec![1; 10]).await),
        ErrorCode::NoSuchBlob,
        "only the uploader's connection appends"
    );
    assert_eq!(refused(bob.blob_get(id, 0, 1).await), ErrorCode::NoSuchBlob);
    assert_eq!(
        refused(alice.blob_end(id, Sha256::digest([1u8; 600]).into()).await),
        ErrorCode::BadRange,
        "short of its length"
    );
    assert_eq!(relay.blob(&id).unwrap(), None, "a failed upload is deleted");
    let big = alice
        .blob_begin(u64::try_from(MAX_BLOB_PART).unwrap() + 1)
        .await
        .unwrap();
    assert_eq!(
        refused(alice.blob_put(big, 0, vec![0; MAX_BLOB_PART + 1]).await),
        ErrorCode::BlobTooLarge
    );
    alice
        .blob_put(big, 0, vec![0; MAX_BLOB_PART])
        .await
        .unwrap();
    alice
        .blob_put(big, u64::try_from(MAX_BLOB_PART).unwrap(), vec![0])
        .await
        .unwrap();
    assert_eq!(
        refused(alice.blob_end(big, [0; 32]).await),
        ErrorCode::BadRange,
        "another SHA-256"
    );
    assert_eq!(relay.blob(&big).unwrap(), None);
    assert_eq!(refused(alice.blob_begin(0).await), ErrorCode::BadRange);
    alice.ping().await.unwrap();

    // Ids are random: no two alike, none sequential.
    let mut ids = HashSet::new();
    for _ in 0..20 {
        ids.insert(upload(&mut alice, b"x", 1).await);
    }
    assert_eq!(ids.len(), 20);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_limit_and_quota_refuse_before_storing() {
    const MAX: u64 = 100_000;
    const QUOTA: u64 = 250_000;
    let dir = TempDir::new("quota");
    let relay = start(&dir, |c| {
        c.blobs.max_len = MAX;
        c.blobs.quota = QUOTA;
    })
    .await;
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let (_alice, mut alice) = registered("alice", relay.addr(), &mut rng).await;
    let (_bob, mut bob) = registered("bob", relay.addr(), &mut rng).await;

    assert_eq!(
        refused(alice.blob_begin(MAX + 1).await),
        ErrorCode::BlobTooLarge
    );
    assert_eq!(relay.blob_count().unwrap(), 0, "nothing stored");
    upload(&mut alice, &bytes(100_000, 2), 50_000).await;
    // Unfinished uploads count against the quota too; the last one fills it exactly.
    alice.blob_begin(MAX).await.unwrap();
    alice.blob_begin(QUOTA - 2 * MAX).await.unwrap();
    assert_eq!(
        refused(alice.blob_begin(1).await),
        ErrorCode::QuotaExceeded,
        "one byte past the quota"
    );
    assert_eq!(relay.blob_count().unwrap(), 3);
    // The quota is per device.
    upload(&mut bob, &bytes(MAX.try_into().unwrap(), 3), 100_000).await;
    // At most MAX_OPEN_UPLOADS at once per connection.
    for _ in 0..MAX_OPEN_UPLOADS {
        bob.blob_begin(1).await.unwrap();
    }
    assert_eq!(refused(bob.blob_begin(1).await), ErrorCode::Full);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_blobs_are_not_served_and_are_swept() {
    let dir = TempDir::new("expiry");
    let relay = start(&dir, |c| {
        c.blobs.ttl = Duration::from_millis(400);
        c.blobs.upload_ttl = Duration::from_millis(400);
        c.blobs.quota = 10_000;
        c.blobs.max_len = 10_000;
        // The sweeper runs at start only here; the test sweeps by hand.
        c.blobs.sweep_interval = Duration::from_secs(3_600);
    })
    .await;
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (_alice, mut alice) = registered("alice", relay.addr(), &mut rng).await;
    let data = bytes(10_000, 4);
    let id = upload(&mut alice, &data, 4_096).await;
    assert_eq!(alice.blob_get(id, 0, 10_000).await.unwrap(), data);
    let stalled = alice.blob_begin(1).await;
    assert_eq!(
        refused(stalled),
        ErrorCode::QuotaExceeded,
        "the quota is used"
    );
    sleep(Duration::from_millis(600)).await;
    assert_eq!(
        refused(alice.blob_get(id, 0, 1).await),
        ErrorCode::NoSuchBlob,
        "expired, not swept yet"
    );
    assert_eq!(relay.blob_count().unwrap(), 1);
    assert_eq!(relay.sweep_blobs().unwrap(), 1);
    assert_eq!(relay.blob_count().unwrap(), 0);
    assert_eq!(relay.blob(&id).unwrap(), None);

    // The quota is free again; an upload left unfinished past its time is dropped.
    let slow = alice.blob_begin(10_000).await.unwrap();
    alice.blob_put(slow, 0, vec![5; 100]).await.unwrap();
    sleep(Duration::from_millis(600)).await;
    assert_eq!(
        refused(alice.blob_put(slow, 100, vec![5; 100]).await),
        ErrorCode::NoSuchBlob
    );
    // Expired blobs of the device go when it begins another upload.
    alice.blob_begin(10_000).await.unwrap();
    assert_eq!(relay.blob(&slow).unwrap(), None);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_round_trips_and_a_tampered_chunk_is_refused() {
    let dir = TempDir::new("file");
    let relay = start(&dir, |_| {}).await;
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let (mut dana, mut dana_client) = registered("dana", relay.addr(), &mut rng).await;
    let (mut customer, mut customer_client) = registered("customer", relay.addr(), &mut rng).await;

    let invoice = bytes(700_001, 5);
    let mut progress = Vec::new();
    let sent = dana
        .send_file(
            &mut dana_client,
            "customer",
            &mut invoice.as_slice(),
            u64::try_from(invoice.len()).unwrap(),
            "invoice-4471.pdf",
            &mut |done, total| progress.push((done, total)),
            &mut rng,
        )
        .await
        .unwrap();
    assert_eq!(progress.last(), Some(&(sent.object_len, sent.object_len)));
    assert!(
        progress.len() >= 2,
        "progress after every part: {progress:?}"
    );
    let stored = relay.blob(&sent.blob).unwrap().unwrap();
    assert_eq!(u64::try_from(stored.len()).unwrap(), sent.object_len);
    assert_eq!(
        <[u8; 32]>::from(Sha256::digest(&stored)),
        sent.object_sha256
    );
    assert!(
        !stored.windows(32).any(|w| w == &invoice[1_000..1_032]),
        "the relay stores ciphertext"
    );

    let delivery = customer_client.next_delivery(WAIT).await.unwrap().unwrap();
    let Incoming::File { blob, pointer, .. } = customer.open(&delivery.envelope, now()) else {
        panic!("not a file");
    };
    customer_client.ack(delivery.id).await.unwrap();
    assert_eq!(blob, sent.blob);
    assert_eq!(pointer.file_name(), "invoice-4471.pdf");
    assert_eq!(pointer.content_type(), "application/pdf");
    let mut file = Vec::new();
    customer
        .fetch_file(
            &mut customer_client,
            blob,
            &pointer,
            &mut file,
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(file, invoice, "byte-identical");

    // One flipped bit in chunk 3: refused there. The download range holding it releases
    // nothing (a push into the decryptor is all or nothing).
    let at = pointer.chunk_range(3).unwrap().start + 17;
    assert!(relay.dangerous_flip_blob_bit(&blob, at).unwrap());
    let mut file = Vec::new();
    let error = customer
        .fetch_file(
            &mut customer_client,
            blob,
            &pointer,
            &mut file,
            &mut |_, _| {},
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.downcast_ref::<AttachmentError>(),
        Some(&AttachmentError::ChunkTampered { index: 3 })
    );
    assert!(file.is_empty(), "nothing of the tampered range released");
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masked_card_number_reaches_the_vault_and_only_its_mask_the_operator() {
    let dir = TempDir::new("mask");
    let relay = start(&dir, |_| {}).await;
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let (mut customer, mut customer_client) = registered("customer", relay.addr(), &mut rng).await;
    let (mut dana, mut dana_client) = registered("dana", relay.addr(), &mut rng).await;
    let (mut vault, mut vault_client) = registered("vault", relay.addr(), &mut rng).await;

    let text = "Charge it to 4242 4242 4242 4242 please";
    let done = customer
        .send_masked(
            &mut customer_client,
            "dana",
            text,
            &Masker::new(),
            Some("vault"),
            &mut rng,
        )
        .await
        .unwrap();
    assert_eq!(
        done.masked.text(),
        "Charge it to •••• •••• •••• 4242 please"
    );
    assert_eq!(done.vaulted.len(), 1);
    // The relay holds three envelopes (vault, text, secure field), none with the number.
    let stored = relay.stored(100).unwrap();
    assert_eq!(stored.len(), 3);
    for e in &stored {
        assert!(!e.envelope.windows(4).any(|w| w == b"4242"));
    }

    let mut read = Vec::new();
    for _ in 0..2 {
        let d = dana_client.next_delivery(WAIT).await.unwrap().unwrap();
        read.push(dana.open(&d.envelope, now()));
        dana_client.ack(d.id).await.unwrap();
    }
    let [
        Incoming::Text { text: shown, .. },
        Incoming::MaskedField { field, .. },
    ] = &read[..]
    else {
        panic!("dana expected the masked text and a secure field");
    };
    assert_eq!(shown, "Charge it to •••• •••• •••• 4242 please");
    assert_eq!(field.masked(), "•••• •••• •••• 4242");

    let d = vault_client.next_delivery(WAIT).await.unwrap().unwrap();
    let Incoming::Vaulted { from, result } = vault.open(&d.envelope, now()) else {
        panic!("the vault expected a secure field");
    };
    let value = result.unwrap();
    assert_eq!(from, "customer");
    assert_eq!(value.dangerous_value(), "4242 4242 4242 4242");
    value.verify(field).unwrap();
    relay.shutdown().await;
}
