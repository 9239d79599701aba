//! History handover in a support conversation (SPEC.md §20.8): a supervisor brought into a
//! conversation reads nothing from before until an operator chooses to share a range; the
//! share travels over their real 1:1 session, the bundle through a store, the notice through
//! the conversation to the visitor. Each refusal leaves every state as it was.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use hushwire::group::{AuthenticatedSender, GroupError};
use hushwire::history::{
    self, HistoryEntry, HistoryError, HistoryNotice, HistoryRange, HistoryShare,
    MAX_HISTORY_ENTRIES, RangeBy,
};
use hushwire::{ErrorKind, Timestamp};

use crate::common::history_desk::Desk;
use crate::common::{NOW, NOW_SECS};

#[test]
fn a_supervisor_reads_nothing_before_a_share_then_exactly_the_range() {
    let mut desk = Desk::new(1);
    desk.chat(40);
    let produced = desk.add_eli();
    // Nothing the roster change produced is (or contains) a history share.
    for bytes in &produced {
        assert_ne!(bytes.get(1), Some(&0x2B));
        assert!(HistoryShare::from_bytes(bytes).is_err());
    }
    // Eli reads nothing from before he joined.
    let eli_g = desk.eli_g.as_mut().unwrap();
    for (i, old) in desk.stored.iter().enumerate() {
        let err = eli_g.decrypt(old, NOW).unwrap_err();
        assert!(
            matches!(err, GroupError::BeforeSenderKey { .. }),
            "message {i}: {err:?}"
        );
    }
    // Dana shares messages 10..30 with Eli.
    let (share_bytes, object, notice) = desk.export(HistoryRange::indices(10, 30).unwrap());
    let share = HistoryShare::from_bytes(&share_bytes).unwrap();
    assert_eq!(share.range().by(), RangeBy::Index);
    assert_eq!(share.entry_count(), 20);
    let from = AuthenticatedSender::from(&desk.eli_from_dana);
    let bundle = share
        .open(desk.eli_g.as_ref().unwrap(), &from, &object)
        .unwrap();
    assert_eq!(bundle.entries(), &desk.transcript[10..30]);
    assert_eq!(bundle.entries()[0].body(), b"message 10");

    // The notice goes into the conversation; the visitor's client shows it.
    let wire = desk.dana_g.encrypt(&notice, &mut desk.rng).unwrap();
    let read = desk.visitor_g.decrypt(&wire, NOW).unwrap();
    let shared = HistoryNotice::from_bytes(&read.plaintext)
        .unwrap()
        .check(&desk.visitor_g, &read.sender)
        .unwrap();
    assert_eq!(shared.exporter(), &desk.dana_key());
    assert_eq!(shared.recipient(), &desk.eli_key());
    assert_eq!(shared.entry_count(), 20);
    assert_eq!(shared.object_sha256(), share.object_sha256());
}

#[test]
fn one_day_of_history_by_time() {
    let mut desk = Desk::new(2);
    // 40 messages a minute apart; "the last 10 minutes" at message 39.
    desk.chat(40);
    desk.add_eli();
    let now = NOW_SECS + 60 * 39;
    let range = HistoryRange::time(
        Timestamp::from_unix_secs(now - 600),
        Timestamp::from_unix_secs(now + 1),
    )
    .unwrap();
    let (share_bytes, object, _) = desk.export(range);
    let share = HistoryShare::from_bytes(&share_bytes).unwrap();
    let from = AuthenticatedSender::from(&desk.eli_from_dana);
    let bundle = share
        .open(desk.eli_g.as_ref().unwrap(), &from, &object)
        .unwrap();
    // Messages 29..=39 were sent in [now - 600, now].
    assert_eq!(bundle.entries(), &desk.transcript[29..40]);
}

#[test]
fn only_current_members_export_and_receive() {
    let mut desk = Desk::new(3);
    desk.chat(6);
    // Eli is not yet a member: no export to him.
    let err = history::export_history(
        &desk.dana_g,
        &desk.eli_key(),
        HistoryRange::indices(0, 6).unwrap(),
        &desk.transcript,
        &mut desk.rng,
    )
    .unwrap_err();
    assert_eq!(
        err,
        HistoryError::RecipientNotMember {
            recipient: desk.eli_key().to_bytes()
        }
    );
    assert_eq!(err.kind(), ErrorKind::Untrusted);
    desk.add_eli();
    // Dana removes the visitor (the conversation is closed for her): the visitor's session is
    // no longer a member and cannot export.
    let update = desk
        .dana_g
        .remove_member(
            desk.dana.identity_key_pair(),
            desk.visitor_key(),
            NOW,
            &mut desk.rng,
        )
        .unwrap();
    let _ = desk
        .visitor_g
        .apply_roster_change(
            desk.visitor.identity_key_pair(),
            &update.change.unwrap().bytes,
            NOW,
            &mut desk.rng,
        )
        .unwrap();
    assert!(!desk.visitor_g.is_member());
    let err = history::export_history(
        &desk.visitor_g,
        &desk.dana_key(),
        HistoryRange::indices(0, 6).unwrap(),
        &desk.transcript,
        &mut desk.rng,
    )
    .unwrap_err();
    assert_eq!(err, HistoryError::NotMember);
}

#[test]
fn the_largest_bundle_by_count_round_trips() {
    let mut desk = Desk::new(4);
    desk.chat(2);
    desk.add_eli();
    let t: Vec<HistoryEntry> = (0..MAX_HISTORY_ENTRIES)
        .map(|i| HistoryEntry::new(i, NOW, desk.visitor_key(), b"x"))
        .collect();
    let export = history::export_history(
        &desk.dana_g,
        &desk.eli_key(),
        HistoryRange::indices(0, u64::MAX).unwrap(),
        &t,
        &mut desk.rng,
    )
    .unwrap();
    let share = HistoryShare::from_bytes(&export.share).unwrap();
    let bundle = share
        .open(
            desk.eli_g.as_ref().unwrap(),
            &AuthenticatedSender::assume_authenticated(desk.dana_key()),
            &export.object,
        )
        .unwrap();
    assert_eq!(bundle.into_entries(), t);
}
