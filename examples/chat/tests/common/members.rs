//! Peers that come and go, as the many-client transport tests drive them (`transport.rs`'s
//! churn test, `processes.rs`'s two-node test): each text read is recorded with who read it,
//! so a test can tell lost from read twice.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;

use chacha20::ChaCha20Rng;
use hushwire_examples::chat::{Incoming, Peer};
use hushwire_examples::client::RelayClient;
use rand_core::Rng;

use super::support::now;

pub(crate) struct Member {
    pub(crate) peer: Peer,
    pub(crate) client: Option<RelayClient>,
}

pub(crate) fn pick(rng: &mut ChaCha20Rng, n: usize) -> usize {
    usize::try_from(rng.next_u32()).unwrap() % n
}

/// Reads every delivery already arrived for `m` (no waiting), recording each text; returns
/// how many deliveries the library refused as duplicates (redelivered after a reconnect).
/// A lost connection leaves `m.client` empty.
pub(crate) async fn take_ready(
    m: &mut Member,
    index: usize,
    got: &mut HashMap<String, Vec<(usize, String)>>,
) -> usize {
    let mut duplicates = 0;
    let Some(client) = m.client.as_mut() else {
        return duplicates;
    };
    for _ in 0..10_000 {
        match client.try_delivery() {
            Ok(Some(delivery)) => {
                match m.peer.open(&delivery.envelope, now()) {
                    Incoming::Text { from, text, .. } => {
                        got.entry(text).or_default().push((index, from));
                    }
                    Incoming::Duplicate => duplicates += 1,
                    Incoming::Rejected(reason) => panic!("{}: {reason}", m.peer.name),
                    _ => panic!("unexpected message kind"),
                }
                if client.ack(delivery.id).await.is_err() {
                    m.client = None;
                    return duplicates;
                }
            }
            Ok(None) => return duplicates,
            Err(_) => {
                m.client = None;
                return duplicates;
            }
        }
    }
    duplicates
}
