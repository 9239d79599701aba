//! The PostgreSQL store (tokio-postgres): one database shared by several relay nodes.
//!
//! - **Connections**: a small pool of [`POOL_SIZE`] connections per node, each reconnected
//!   when it breaks; plus one connection that `LISTEN`s on [`CHANNEL`].
//! - **Wake-up across nodes**: queueing an envelope runs `pg_notify(CHANNEL, recipient)` in the
//!   same statement, so the notification goes out when the envelope is committed; every node
//!   wakes the recipient's receiving connection, if it has it. After the listening connection
//!   (re)connects, and every [`POLL_INTERVAL`], a node wakes all its receiving connections
//!   (the fallback for notifications missed while it was not listening).
//! - **Exactly once per device**: a prekey or an envelope is taken in a transaction that locks
//!   its row (`FOR UPDATE SKIP LOCKED` for one-time prekeys: two nodes never hand out the same
//!   one); an acknowledgment deletes the envelope from the shared queue.
//! - **Limits**: the queue limit and the blob quota hold per device across nodes: the blob
//!   quota under a per-owner advisory lock, the queue limit as a count before the insert (two
//!   nodes racing may pass it by one each).
//!
//! The notification carries the recipient's identity key in hex: the relay's database and
//! its nodes know it anyway (it is the queue's key); it never reaches a client or a metric.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hushwire::{IdentityKey, KemPreKeyKind, PreKeyBundle};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard, mpsc, watch};
use tokio::time::sleep;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, Config, GenericClient, NoTls, Transaction};

use super::{Enqueued, R, Registration, assemble_bundle, count32};
use crate::frame::{BLOB_ID_LEN, ErasedCounts};
use crate::relay::{MAX_STORED_ONE_TIME, RelayError, StoredEnvelope, unix_secs_i64};

/// Connections each node keeps to the database for requests.
pub const POOL_SIZE: usize = 8;
/// How often a node looks for envelopes whose notification it missed.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// The notification channel for new envelopes.
pub const CHANNEL: &str = "hushwire_queue";
/// How long a node waits before reconnecting its listening connection.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// What the listener asks the relay to wake.
pub(crate) enum Wake {
    /// The receiving connection of this device, if this node has it.
    Device([u8; 32]),
    /// Every receiving connection (after a reconnect, or on the poll timer).
    All,
}

pub(crate) struct PgStore {
    config: Config,
    pool: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

/// A pooled connection, held for one operation.
type Pooled<'a> = MappedMutexGuard<'a, Client>;

async fn connect(config: &Config) -> R<Client> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away; the pool reconnects.
        let _ = connection.await;
    });
    Ok(client)
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS devices (
        identity BYTEA PRIMARY KEY,
        name TEXT NOT NULL,
        registered_at BIGINT NOT NULL);
    -- Names are ASCII (frame::valid_name) and compared without case: `Bob` is `bob`.
    CREATE UNIQUE INDEX IF NOT EXISTS devices_by_name ON devices (lower(name));
    CREATE TABLE IF NOT EXISTS signed_prekeys (
        identity BYTEA PRIMARY KEY,
        id BIGINT NOT NULL,
        key BYTEA NOT NULL,
        signature BYTEA NOT NULL);
    CREATE TABLE IF NOT EXISTS last_resort_kem_prekeys (
        identity BYTEA PRIMARY KEY,
        id BIGINT NOT NULL,
        key BYTEA NOT NULL,
        signature BYTEA NOT NULL);
    -- One-time keys stay (without their key) once handed out, so that publishing the same key
    -- again cannot make the relay hand it out a second time.
    CREATE TABLE IF NOT EXISTS one_time_prekeys (
        identity BYTEA NOT NULL,
        id BIGINT NOT NULL,
        key BYTEA,
        PRIMARY KEY (identity, id));
    CREATE TABLE IF NOT EXISTS one_time_kem_prekeys (
        identity BYTEA NOT NULL,
        id BIGINT NOT NULL,
        key BYTEA,
        signature BYTEA,
        PRIMARY KEY (identity, id));
    -- The device's signed envelope KEM key (hushwire type 0x36), opaque bytes.
    CREATE TABLE IF NOT EXISTS envelope_keys (
        identity BYTEA PRIMARY KEY,
        key BYTEA NOT NULL);
    CREATE TABLE IF NOT EXISTS queue (
        id BIGSERIAL PRIMARY KEY,
        recipient BYTEA NOT NULL,
        envelope BYTEA NOT NULL,
        received_at BIGINT NOT NULL);
    CREATE INDEX IF NOT EXISTS queue_by_recipient ON queue (recipient, id);
    CREATE TABLE IF NOT EXISTS blobs (
        id BYTEA PRIMARY KEY,
        owner BYTEA NOT NULL,
        len BIGINT NOT NULL,
        received BIGINT NOT NULL,
        sha256 BYTEA,
        expires_at BIGINT NOT NULL);
    CREATE INDEX IF NOT EXISTS blobs_by_owner ON blobs (owner);
    CREATE INDEX IF NOT EXISTS blobs_by_expiry ON blobs (expires_at);
    CREATE TABLE IF NOT EXISTS blob_parts (
        blob BYTEA NOT NULL,
        part_offset BIGINT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (blob, part_offset));
    -- Keyed by the lower-case name.
    CREATE TABLE IF NOT EXISTS backups (
        name TEXT PRIMARY KEY,
        backup BYTEA NOT NULL,
        stored_at BIGINT NOT NULL);
    -- Users' signed device lists (hushwire type 0x54), keyed by the lower-case name, and the
    -- devices each carries live.
    CREATE TABLE IF NOT EXISTS device_lists (
        name TEXT PRIMARY KEY,
        version BIGINT NOT NULL,
        list BYTEA NOT NULL);
    CREATE TABLE IF NOT EXISTS listed_devices (
        identity BYTEA PRIMARY KEY,
        name TEXT NOT NULL);";

/// The advisory lock under which nodes starting together create the tables one at a time.
const SCHEMA_LOCK: i64 = 0x6877_7265_6c61_7931;

fn i64_of(n: u64) -> R<i64> {
    i64::try_from(n).map_err(|_| RelayError::Corrupt("number out of range"))
}

fn u64_of(n: i64) -> R<u64> {
    u64::try_from(n).map_err(|_| RelayError::Corrupt("negative number"))
}

fn u32_of(n: i64) -> R<u32> {
    u32::try_from(n).map_err(|_| RelayError::Corrupt("key id"))
}

fn key32(bytes: Vec<u8>, what: &'static str) -> R<[u8; 32]> {
    bytes.try_into().map_err(|_| RelayError::Corrupt(what))
}

/// Serializes the operations on one owner's blobs (their quota) across nodes.
async fn lock_owner(tx: &Transaction<'_>, owner: &[u8; 32]) -> R<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(encode($1, 'hex'), 0))",
        &[&owner.as_slice()],
    )
    .await?;
    Ok(())
}

async fn current_name(db: &impl GenericClient, device: &[u8; 32]) -> R<Option<String>> {
    let row = db
        .query_opt(
            "SELECT name FROM devices WHERE identity = $1",
            &[&device.as_slice()],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

impl PgStore {
    /// Connects and creates the tables if they are missing.
    pub(crate) async fn open(url: &str) -> R<PgStore> {
        let config: Config = url.parse()?;
        let mut first = connect(&config).await?;
        let tx = first.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await?;
        tx.batch_execute(SCHEMA).await?;
        tx.commit().await?;
        let mut pool = vec![Mutex::new(Some(first))];
        pool.resize_with(POOL_SIZE, || Mutex::new(None));
        Ok(PgStore {
            config,
            pool,
            next: AtomicUsize::new(0),
        })
    }

    /// A free pooled connection if there is one, else the next in turn; (re)connected if
    /// it is missing or broken.
    async fn db(&self) -> R<Pooled<'_>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.pool.len().max(1);
        let free = (0..n)
            .filter_map(|i| self.pool.get((start + i) % n))
            .find_map(|slot| slot.try_lock().ok());
        let mut slot: MutexGuard<'_, Option<Client>> = match free {
            Some(slot) => slot,
            None => {
                self.pool
                    .get(start % n)
                    .ok_or(RelayError::Corrupt("pool"))?
                    .lock()
                    .await
            }
        };
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = Some(connect(&self.config).await?);
        }
        MutexGuard::try_map(slot, Option::as_mut).map_err(|_| RelayError::Corrupt("pool"))
    }

    /// Listens for new envelopes until `stop`, reconnecting when the connection breaks, and
    /// hands each recipient (and a catch-up after each connect) to `wake`.
    pub(crate) async fn listen(
        url: String,
        wake: mpsc::UnboundedSender<Wake>,
        mut stop: watch::Receiver<bool>,
        log: impl Fn(&str) + Send + 'static,
    ) {
        let Ok(config) = url.parse::<Config>() else {
            return;
        };
        loop {
            let listened = tokio::select! {
                _ = stop.changed() => return,
                listened = listen_once(&config, &wake) => listened,
            };
            if let Err(e) = listened {
                log(&format!(
                    "store: listening for new envelopes failed ({e}); polling until it reconnects"
                ));
            }
            if wake.is_closed() {
                return;
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = sleep(RECONNECT_DELAY) => {}
            }
        }
    }

    pub(crate) async fn name_of(&self, device: &[u8; 32]) -> R<Option<String>> {
        current_name(&*self.db().await?, device).await
    }

    pub(crate) async fn identity_of(&self, name: &str) -> R<Option<[u8; 32]>> {
        let row = self
            .db()
            .await?
            .query_opt(
                "SELECT identity FROM devices WHERE lower(name) = lower($1)",
                &[&name],
            )
            .await?;
        row.map(|r| key32(r.try_get(0)?, "identity")).transpose()
    }

    pub(crate) async fn register(
        &self,
        device: &[u8; 32],
        name: &str,
        replace: bool,
    ) -> R<Registration> {
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        let owner: Option<Vec<u8>> = tx
            .query_opt(
                "SELECT identity FROM devices WHERE lower(name) = lower($1) FOR UPDATE",
                &[&name],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let moved = match owner {
            Some(owner) if owner == device => false,
            Some(_) if !replace => return Ok(Registration::Taken),
            Some(owner) => {
                for table in ["devices", "queue"].into_iter().chain(PREKEY_TABLES) {
                    let column = if table == "queue" {
                        "recipient"
                    } else {
                        "identity"
                    };
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE {column} = $1"),
                        &[&owner.as_slice()],
                    )
                    .await?;
                }
                true
            }
            None => false,
        };
        let inserted = tx
            .execute(
                "INSERT INTO devices (identity, name, registered_at) VALUES ($1, $2, $3)
                 ON CONFLICT (identity) DO UPDATE SET name = excluded.name",
                &[&device.as_slice(), &name, &unix_secs_i64()],
            )
            .await;
        match inserted {
            // Another node registered the name meanwhile.
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(Registration::Taken),
            Err(e) => Err(e.into()),
            Ok(_) => {
                tx.commit().await?;
                Ok(Registration::Done { moved })
            }
        }
    }

    pub(crate) async fn publish(&self, device: &[u8; 32], bundle: &PreKeyBundle) -> R<bool> {
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        let key = device.as_slice();
        let spk = &bundle.signed_prekey;
        tx.execute(
            "INSERT INTO signed_prekeys (identity, id, key, signature) VALUES ($1, $2, $3, $4)
             ON CONFLICT (identity) DO UPDATE SET id = excluded.id, key = excluded.key,
                 signature = excluded.signature",
            &[
                &key,
                &i64::from(spk.id),
                &spk.key.as_slice(),
                &spk.signature.as_slice(),
            ],
        )
        .await?;
        let kem = &bundle.kem_prekey;
        let kem_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
            &key,
            &i64::from(kem.id),
            &kem.key.as_slice(),
            &kem.signature.as_slice(),
        ];
        if kem.kind == KemPreKeyKind::LastResort {
            tx.execute(
                "INSERT INTO last_resort_kem_prekeys (identity, id, key, signature)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (identity) DO UPDATE SET id = excluded.id, key = excluded.key,
                     signature = excluded.signature",
                &kem_params,
            )
            .await?;
        } else {
            if unused(&tx, "one_time_kem_prekeys", device).await? >= MAX_STORED_ONE_TIME {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO one_time_kem_prekeys (identity, id, key, signature)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &kem_params,
            )
            .await?;
        }
        if let Some(otk) = &bundle.one_time_prekey {
            if unused(&tx, "one_time_prekeys", device).await? >= MAX_STORED_ONE_TIME {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO one_time_prekeys (identity, id, key) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&key, &i64::from(otk.id), &otk.key.as_slice()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn put_envelope_key(&self, device: &[u8; 32], key: &[u8]) -> R<()> {
        self.db()
            .await?
            .execute(
                "INSERT INTO envelope_keys (identity, key) VALUES ($1, $2)
                 ON CONFLICT (identity) DO UPDATE SET key = excluded.key",
                &[&device.as_slice(), &key],
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn envelope_key(&self, device: &[u8; 32]) -> R<Option<Vec<u8>>> {
        let row = self
            .db()
            .await?
            .query_opt(
                "SELECT key FROM envelope_keys WHERE identity = $1",
                &[&device.as_slice()],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    pub(crate) async fn take_bundle(&self, identity_key: IdentityKey) -> R<Option<PreKeyBundle>> {
        let device = identity_key.to_bytes();
        let key = device.as_slice();
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        let Some(signed) = tx
            .query_opt(
                "SELECT id, key, signature FROM signed_prekeys WHERE identity = $1",
                &[&key],
            )
            .await?
        else {
            return Ok(None);
        };
        let signed = (
            u32_of(signed.try_get(0)?)?,
            signed.try_get(1)?,
            signed.try_get(2)?,
        );
        let otk = tx
            .query_opt(
                "SELECT id, key FROM one_time_prekeys WHERE identity = $1 AND key IS NOT NULL
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[&key],
            )
            .await?;
        let otk = match otk {
            Some(row) => {
                let id: i64 = row.try_get(0)?;
                tx.execute(
                    "UPDATE one_time_prekeys SET key = NULL WHERE identity = $1 AND id = $2",
                    &[&key, &id],
                )
                .await?;
                Some((u32_of(id)?, row.try_get(1)?))
            }
            None => None,
        };
        let one_time_kem = tx
            .query_opt(
                "SELECT id, key, signature FROM one_time_kem_prekeys
                 WHERE identity = $1 AND key IS NOT NULL ORDER BY id LIMIT 1
                 FOR UPDATE SKIP LOCKED",
                &[&key],
            )
            .await?;
        let (row, kind) = match one_time_kem {
            Some(row) => {
                let id: i64 = row.try_get(0)?;
                tx.execute(
                    "UPDATE one_time_kem_prekeys SET key = NULL, signature = NULL
                     WHERE identity = $1 AND id = $2",
                    &[&key, &id],
                )
                .await?;
                (row, KemPreKeyKind::OneTime)
            }
            None => {
                let last = tx
                    .query_opt(
                        "SELECT id, key, signature FROM last_resort_kem_prekeys
                         WHERE identity = $1",
                        &[&key],
                    )
                    .await?;
                let Some(row) = last else {
                    return Ok(None);
                };
                (row, KemPreKeyKind::LastResort)
            }
        };
        let kem = (
            u32_of(row.try_get(0)?)?,
            kind,
            row.try_get(1)?,
            row.try_get(2)?,
        );
        let bundle = assemble_bundle(identity_key, signed, otk, kem);
        if bundle.is_some() {
            tx.commit().await?;
        }
        Ok(bundle)
    }

    pub(crate) async fn enqueue(
        &self,
        recipient: &[u8; 32],
        envelope: &[u8],
        max_queue: u32,
        any_recipient: bool,
    ) -> R<Enqueued> {
        let db = self.db().await?;
        let key = recipient.as_slice();
        let row = db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM devices WHERE identity = $1)
                        OR EXISTS (SELECT 1 FROM listed_devices WHERE identity = $1),
                        (SELECT COUNT(*) FROM queue WHERE recipient = $1)",
                &[&key],
            )
            .await?;
        let (known, queued): (bool, i64) = (row.try_get(0)?, row.try_get(1)?);
        if !known && !any_recipient {
            return Ok(Enqueued::UnknownRecipient);
        }
        if queued >= i64::from(max_queue) {
            return Ok(Enqueued::Full);
        }
        let row = db
            .query_one(
                "WITH q AS (INSERT INTO queue (recipient, envelope, received_at)
                            VALUES ($1, $2, $3) RETURNING id)
                 SELECT id, pg_notify($4, $5) FROM q",
                &[
                    &key,
                    &envelope,
                    &unix_secs_i64(),
                    &CHANNEL,
                    &hex::encode(recipient),
                ],
            )
            .await?;
        Ok(Enqueued::Id(u64_of(row.try_get(0)?)?))
    }

    pub(crate) async fn ack(&self, device: &[u8; 32], id: u64) -> R<()> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(());
        };
        self.db()
            .await?
            .execute(
                "DELETE FROM queue WHERE id = $1 AND recipient = $2",
                &[&id, &device.as_slice()],
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn next_batch(
        &self,
        device: &[u8; 32],
        _after: u64,
        in_flight: &[u64],
        n: usize,
    ) -> R<Vec<(u64, Vec<u8>)>> {
        let exclude: Vec<i64> = in_flight
            .iter()
            .filter_map(|&id| i64::try_from(id).ok())
            .collect();
        let limit = i64::try_from(n).unwrap_or(16);
        let rows = self
            .db()
            .await?
            .query(
                "SELECT id, envelope FROM queue WHERE recipient = $1 AND NOT (id = ANY($2))
                 ORDER BY id LIMIT $3",
                &[&device.as_slice(), &exclude, &limit],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((u64_of(r.try_get(0)?)?, r.try_get(1)?)))
            .collect()
    }

    pub(crate) async fn queued_for(&self, device: &[u8; 32]) -> R<u64> {
        let row = self
            .db()
            .await?
            .query_one(
                "SELECT COUNT(*) FROM queue WHERE recipient = $1",
                &[&device.as_slice()],
            )
            .await?;
        u64_of(row.try_get(0)?)
    }

    pub(crate) async fn queued_total(&self) -> R<u64> {
        let row = self
            .db()
            .await?
            .query_one("SELECT COUNT(*) FROM queue", &[])
            .await?;
        u64_of(row.try_get(0)?)
    }

    pub(crate) async fn stored(&self, limit: u32) -> R<Vec<StoredEnvelope>> {
        let rows = self
            .db()
            .await?
            .query(
                "SELECT id, recipient, envelope FROM queue ORDER BY id LIMIT $1",
                &[&i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredEnvelope {
                    id: u64_of(r.try_get(0)?)?,
                    recipient: key32(r.try_get(1)?, "recipient")?,
                    envelope: r.try_get(2)?,
                })
            })
            .collect()
    }

    pub(crate) async fn blob_reserve(
        &self,
        owner: &[u8; 32],
        id: &[u8; BLOB_ID_LEN],
        len: u64,
        quota: u64,
        now: i64,
        expires_at: i64,
    ) -> R<bool> {
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        lock_owner(&tx, owner).await?;
        delete_expired(&tx, Some(owner), now).await?;
        let row = tx
            .query_one(
                "SELECT COALESCE(SUM(len), 0)::BIGINT FROM blobs WHERE owner = $1",
                &[&owner.as_slice()],
            )
            .await?;
        let used = u64_of(row.try_get(0)?)?;
        if used.saturating_add(len) > quota {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO blobs (id, owner, len, received, sha256, expires_at)
             VALUES ($1, $2, $3, 0, NULL, $4)",
            &[
                &id.as_slice(),
                &owner.as_slice(),
                &i64_of(len)?,
                &expires_at,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn blob_upload_len(
        &self,
        owner: &[u8; 32],
        id: &[u8; BLOB_ID_LEN],
        now: i64,
    ) -> R<Option<u64>> {
        let row = self
            .db()
            .await?
            .query_opt(
                "SELECT len FROM blobs
                 WHERE id = $1 AND owner = $2 AND sha256 IS NULL AND expires_at > $3",
                &[&id.as_slice(), &owner.as_slice(), &now],
            )
            .await?;
        row.map(|r| u64_of(r.try_get(0)?)).transpose()
    }

    pub(crate) async fn blob_append(
        &self,
        id: &[u8; BLOB_ID_LEN],
        offset: u64,
        data: &[u8],
        end: u64,
    ) -> R<()> {
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        tx.execute(
            "INSERT INTO blob_parts (blob, part_offset, data) VALUES ($1, $2, $3)",
            &[&id.as_slice(), &i64_of(offset)?, &data],
        )
        .await?;
        tx.execute(
            "UPDATE blobs SET received = $2 WHERE id = $1",
            &[&id.as_slice(), &i64_of(end)?],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn blob_finish(
        &self,
        id: &[u8; BLOB_ID_LEN],
        sha256: &[u8; 32],
        expires_at: i64,
    ) -> R<()> {
        self.db()
            .await?
            .execute(
                "UPDATE blobs SET sha256 = $2, expires_at = $3 WHERE id = $1",
                &[&id.as_slice(), &sha256.as_slice(), &expires_at],
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn blob_delete(&self, id: &[u8; BLOB_ID_LEN]) -> R<()> {
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        tx.execute("DELETE FROM blob_parts WHERE blob = $1", &[&id.as_slice()])
            .await?;
        tx.execute("DELETE FROM blobs WHERE id = $1", &[&id.as_slice()])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn blob_finished_len(
        &self,
        id: &[u8; BLOB_ID_LEN],
        now: i64,
    ) -> R<Option<u64>> {
        let row = self
            .db()
            .await?
            .query_opt(
                "SELECT len FROM blobs WHERE id = $1 AND sha256 IS NOT NULL AND expires_at > $2",
                &[&id.as_slice(), &now],
            )
            .await?;
        row.map(|r| u64_of(r.try_get(0)?)).transpose()
    }

    pub(crate) async fn blob_read(
        &self,
        id: &[u8; BLOB_ID_LEN],
        start: u64,
        end: u64,
    ) -> R<Option<Vec<u8>>> {
        read_range(&*self.db().await?, id, start, end).await
    }

    pub(crate) async fn sweep_blobs(&self, now: i64) -> R<usize> {
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        let n = delete_expired(&tx, None, now).await?;
        tx.commit().await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(crate) async fn blob_stored(&self, id: &[u8; BLOB_ID_LEN]) -> R<Option<Vec<u8>>> {
        let db = self.db().await?;
        let row = db
            .query_opt(
                "SELECT received FROM blobs WHERE id = $1",
                &[&id.as_slice()],
            )
            .await?;
        match row.map(|r| u64_of(r.try_get(0)?)).transpose()? {
            None => Ok(None),
            Some(0) => Ok(Some(Vec::new())),
            Some(len) => read_range(&*db, id, 0, len).await,
        }
    }

    pub(crate) async fn blob_count(&self) -> R<u64> {
        let row = self
            .db()
            .await?
            .query_one("SELECT COUNT(*) FROM blobs", &[])
            .await?;
        u64_of(row.try_get(0)?)
    }

    pub(crate) async fn flip_blob_bit(&self, id: &[u8; BLOB_ID_LEN], offset: u64) -> R<bool> {
        let Ok(at) = i64::try_from(offset) else {
            return Ok(false);
        };
        let db = self.db().await?;
        let part = db
            .query_opt(
                "SELECT part_offset, data FROM blob_parts WHERE blob = $1 AND part_offset <= $2
                 ORDER BY part_offset DESC LIMIT 1",
                &[&id.as_slice(), &at],
            )
            .await?;
        let Some(part) = part else {
            return Ok(false);
        };
        let (part_offset, mut data): (i64, Vec<u8>) = (part.try_get(0)?, part.try_get(1)?);
        let index = usize::try_from(at - part_offset).unwrap_or(usize::MAX);
        let Some(byte) = data.get_mut(index) else {
            return Ok(false);
        };
        *byte ^= 0x01;
        db.execute(
            "UPDATE blob_parts SET data = $3 WHERE blob = $1 AND part_offset = $2",
            &[&id.as_slice(), &part_offset, &data],
        )
        .await?;
        Ok(true)
    }

    pub(crate) async fn put_backup(&self, device: &[u8; 32], backup: &[u8]) -> R<Option<String>> {
        let db = self.db().await?;
        let Some(name) = current_name(&*db, device).await? else {
            return Ok(None);
        };
        db.execute(
            "INSERT INTO backups (name, backup, stored_at) VALUES (lower($1), $2, $3)
             ON CONFLICT (name) DO UPDATE SET backup = excluded.backup,
                 stored_at = excluded.stored_at",
            &[&name, &backup, &unix_secs_i64()],
        )
        .await?;
        Ok(Some(name))
    }

    pub(crate) async fn get_backup(&self, device: &[u8; 32]) -> R<Option<Option<Vec<u8>>>> {
        let db = self.db().await?;
        let Some(name) = current_name(&*db, device).await? else {
            return Ok(None);
        };
        Ok(Some(backup_of(&*db, &name).await?))
    }

    /// Stores `list` (version `version`) as `name`'s device list if it is newer than the one
    /// stored, and makes `devices` (its live devices) the devices listed under `name`;
    /// `false` if a list of this or a higher version is stored.
    pub(crate) async fn put_device_list(
        &self,
        name: &str,
        version: u64,
        list: &[u8],
        devices: &[[u8; 32]],
    ) -> R<bool> {
        let version = i64_of(version)?;
        let name = name.to_lowercase();
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        // Serializes publications of one user's list across nodes.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('device-list:' || $1, 0))",
            &[&name],
        )
        .await?;
        let stored = tx
            .query_opt("SELECT version FROM device_lists WHERE name = $1", &[&name])
            .await?;
        if let Some(row) = stored {
            let stored: i64 = row.try_get(0)?;
            if stored >= version {
                return Ok(false);
            }
        }
        tx.execute(
            "INSERT INTO device_lists (name, version, list) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version, list = excluded.list",
            &[&name, &version, &list],
        )
        .await?;
        tx.execute("DELETE FROM listed_devices WHERE name = $1", &[&name])
            .await?;
        for device in devices {
            tx.execute(
                "INSERT INTO listed_devices (identity, name) VALUES ($1, $2)
                 ON CONFLICT (identity) DO UPDATE SET name = excluded.name",
                &[&device.as_slice(), &name],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The device list stored under `name`.
    pub(crate) async fn device_list(&self, name: &str) -> R<Option<Vec<u8>>> {
        let row = self
            .db()
            .await?
            .query_opt(
                "SELECT list FROM device_lists WHERE name = lower($1)",
                &[&name],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// The user whose stored list carries `device` live.
    pub(crate) async fn listed_user_of(&self, device: &[u8; 32]) -> R<Option<String>> {
        let row = self
            .db()
            .await?
            .query_opt(
                "SELECT name FROM listed_devices WHERE identity = $1",
                &[&device.as_slice()],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    pub(crate) async fn backup_of(&self, name: &str) -> R<Option<Vec<u8>>> {
        backup_of(&*self.db().await?, name).await
    }

    pub(crate) async fn erase(&self, device: &[u8; 32]) -> R<ErasedCounts> {
        let mut db = self.db().await?;
        let tx = db.transaction().await?;
        lock_owner(&tx, device).await?;
        let key = device.as_slice();
        let name = current_name(&tx, device).await?;
        let queue = tx
            .execute("DELETE FROM queue WHERE recipient = $1", &[&key])
            .await?;
        let mut prekeys = 0;
        for table in PREKEY_TABLES {
            prekeys += tx
                .execute(&format!("DELETE FROM {table} WHERE identity = $1"), &[&key])
                .await?;
        }
        let devices = tx
            .execute("DELETE FROM devices WHERE identity = $1", &[&key])
            .await?;
        tx.execute(
            "DELETE FROM blob_parts WHERE blob IN (SELECT id FROM blobs WHERE owner = $1)",
            &[&key],
        )
        .await?;
        let blobs = tx
            .execute("DELETE FROM blobs WHERE owner = $1", &[&key])
            .await?;
        let backups = match &name {
            Some(name) => {
                tx.execute("DELETE FROM backups WHERE name = lower($1)", &[name])
                    .await?
            }
            None => 0,
        };
        tx.commit().await?;
        Ok(ErasedCounts {
            queue: count32(queue),
            prekeys: count32(prekeys),
            devices: count32(devices),
            blobs: count32(blobs),
            backups: count32(backups),
        })
    }
}

/// The tables holding a device's prekeys, and its envelope KEM key (deleted and counted with
/// them).
const PREKEY_TABLES: [&str; 5] = [
    "signed_prekeys",
    "last_resort_kem_prekeys",
    "one_time_prekeys",
    "one_time_kem_prekeys",
    "envelope_keys",
];

/// Unused one-time prekeys of `device` in `table`.
async fn unused(tx: &Transaction<'_>, table: &str, device: &[u8; 32]) -> R<i64> {
    let row = tx
        .query_one(
            &format!("SELECT COUNT(*) FROM {table} WHERE identity = $1 AND key IS NOT NULL"),
            &[&device.as_slice()],
        )
        .await?;
    Ok(row.try_get(0)?)
}

async fn backup_of(db: &impl GenericClient, name: &str) -> R<Option<Vec<u8>>> {
    let row = db
        .query_opt(
            "SELECT backup FROM backups WHERE name = lower($1)",
            &[&name],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Deletes every blob expired by `now`, with its parts; `owner` limits it to one device's.
async fn delete_expired(tx: &Transaction<'_>, owner: Option<&[u8; 32]>, now: i64) -> R<u64> {
    let owner = owner.map(|o| o.to_vec());
    tx.execute(
        "DELETE FROM blob_parts WHERE blob IN
             (SELECT id FROM blobs WHERE expires_at <= $1 AND ($2::BYTEA IS NULL OR owner = $2))",
        &[&now, &owner],
    )
    .await?;
    Ok(tx
        .execute(
            "DELETE FROM blobs WHERE expires_at <= $1 AND ($2::BYTEA IS NULL OR owner = $2)",
            &[&now, &owner],
        )
        .await?)
}

async fn read_range(
    db: &impl GenericClient,
    id: &[u8; BLOB_ID_LEN],
    start: u64,
    end: u64,
) -> R<Option<Vec<u8>>> {
    let (Ok(start_i), Ok(end_i)) = (i64::try_from(start), i64::try_from(end)) else {
        return Ok(None);
    };
    let first: Option<i64> = db
        .query_one(
            "SELECT MAX(part_offset) FROM blob_parts WHERE blob = $1 AND part_offset <= $2",
            &[&id.as_slice(), &start_i],
        )
        .await?
        .try_get(0)?;
    let Some(first) = first else {
        return Ok(None);
    };
    let rows = db
        .query(
            "SELECT part_offset, data FROM blob_parts
             WHERE blob = $1 AND part_offset >= $2 AND part_offset < $3 ORDER BY part_offset",
            &[&id.as_slice(), &first, &end_i],
        )
        .await?;
    let parts = rows
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<R<Vec<(i64, Vec<u8>)>>>()?;
    Ok(crate::relay::blobs::assemble_range(parts, start, end))
}

/// One listening connection: `LISTEN`, a catch-up wake, then every notification until the
/// connection ends.
async fn listen_once(config: &Config, wake: &mpsc::UnboundedSender<Wake>) -> R<()> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut notifications) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(n.payload().to_owned()).is_err() {
                        return None;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Some(e),
                None => return None,
            }
        }
    });
    let listened = client.batch_execute(&format!("LISTEN {CHANNEL}")).await;
    if let Err(e) = listened {
        driver.abort();
        return Err(e.into());
    }
    // Anything queued while this node was not listening.
    let _ = wake.send(Wake::All);
    while let Some(payload) = notifications.recv().await {
        let device = hex::decode(payload)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok());
        if let Some(device) = device
            && wake.send(Wake::Device(device)).is_err()
        {
            break;
        }
    }
    drop(client);
    match driver.await {
        Ok(Some(e)) => Err(e.into()),
        _ => Err(RelayError::Corrupt("listening connection closed")),
    }
}
