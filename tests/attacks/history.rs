//! Attacks on history handover (SPEC.md §20.8.8): a relay or a member that tries to get
//! history without an explicit export, or to make a recipient accept a bundle other than the
//! one shared. Each refusal is typed and changes nothing (the checks hold no state; the group
//! sessions they read are compared before and after).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use hushwire::attachment::AttachmentError;
use hushwire::group::{AuthenticatedSender, GroupRole, GroupSession};
use hushwire::history::{self, HistoryError, HistoryRange, HistoryShare};
use hushwire::{DecodeError, ErrorKind};

use crate::common::NOW;
use crate::common::history_desk::Desk;

/// A desk with 30 messages, Eli added, and Dana's export of messages 5..15 to Eli.
fn shared(seed: u64) -> (Desk, HistoryShare, Vec<u8>) {
    let mut desk = Desk::new(seed);
    desk.chat(30);
    desk.add_eli();
    let (share, object, _) = desk.export(HistoryRange::indices(5, 15).unwrap());
    (desk, HistoryShare::from_bytes(&share).unwrap(), object)
}

fn snapshot(g: &GroupSession) -> (u64, Vec<u8>) {
    (
        g.epoch(),
        g.roster()
            .members()
            .iter()
            .flat_map(|m| m.identity().to_bytes())
            .collect(),
    )
}

#[test]
fn a_relay_driven_membership_change_exports_nothing() {
    let mut desk = Desk::new(11);
    desk.chat(12);
    // The relay replays and reorders everything the addition produced, to everyone; nothing
    // of it is a share, and no call but export_history builds one.
    let produced = desk.add_eli();
    let eli = desk.eli_key();
    for bytes in &produced {
        assert!(HistoryShare::from_bytes(bytes).is_err());
        // Fed to Eli's group session as if it were a message or a distribution: refused,
        // and Eli still reads nothing from before.
        let g = desk.eli_g.as_mut().unwrap();
        let _ = g.decrypt(bytes, NOW);
        let _ = g.receive_distribution(AuthenticatedSender::assume_authenticated(eli), bytes);
    }
    let g = desk.eli_g.as_mut().unwrap();
    for old in &desk.stored {
        assert!(g.decrypt(old, NOW).is_err());
    }
    // A second, relay-replayed welcome makes a fresh session: it too starts from now.
    let _ = GroupSession::join(
        desk.eli.identity_key_pair(),
        &produced[1],
        desk.dana.identity_key(),
        &mut desk.rng,
    );
    for old in &desk.stored {
        assert!(desk.eli_g.as_mut().unwrap().decrypt(old, NOW).is_err());
    }
}

#[test]
fn a_share_forwarded_to_another_member_is_refused() {
    let (desk, share, object) = shared(12);
    // The relay hands Eli's share to the visitor (a member): not hers.
    let before = snapshot(&desk.visitor_g);
    let from = AuthenticatedSender::assume_authenticated(desk.dana_key());
    assert_eq!(
        share.open(&desk.visitor_g, &from, &object).unwrap_err(),
        HistoryError::NotForUs
    );
    assert_eq!(snapshot(&desk.visitor_g), before);
}

#[test]
fn a_share_relayed_by_someone_else_is_refused() {
    let (desk, share, object) = shared(13);
    // Eli receives Dana's share over his session with the visitor (she forwarded it).
    let from = AuthenticatedSender::assume_authenticated(desk.visitor_key());
    let err = share
        .open(desk.eli_g.as_ref().unwrap(), &from, &object)
        .unwrap_err();
    assert_eq!(err, HistoryError::SenderMismatch);
    assert_eq!(err.kind(), ErrorKind::Tampered);
}

#[test]
fn a_tampered_truncated_or_extended_bundle_is_refused() {
    let (desk, share, object) = shared(14);
    let eli_g = desk.eli_g.as_ref().unwrap();
    let before = snapshot(eli_g);
    let from = AuthenticatedSender::from(&desk.eli_from_dana);
    let len = u64::try_from(object.len()).unwrap();
    for i in [0, 5, 37, 38, 100, object.len() / 2, object.len() - 1] {
        let mut t = object.clone();
        t[i] ^= 0x80;
        assert_eq!(
            share.open(eli_g, &from, &t).unwrap_err(),
            HistoryError::Attachment(AttachmentError::DigestMismatch),
            "byte {i}"
        );
    }
    for cut in [0, 38, object.len() - 16, object.len() - 1] {
        assert_eq!(
            share.open(eli_g, &from, &object[..cut]).unwrap_err(),
            HistoryError::Attachment(AttachmentError::Truncated {
                len: u64::try_from(cut).unwrap(),
                expected: len
            })
        );
    }
    let mut longer = object.clone();
    longer.push(0);
    assert_eq!(
        share.open(eli_g, &from, &longer).unwrap_err(),
        HistoryError::Attachment(AttachmentError::TrailingData {
            len: len + 1,
            expected: len
        })
    );
    // A share edited in flight (the 1:1 session would refuse it; here it reaches the decoder):
    // its range widened, so the pointer is the same but the bundle's header is not.
    let mut edited = share.to_bytes().to_vec();
    edited[114] = 16; // end 15 -> 16
    let edited = HistoryShare::from_bytes(&edited).unwrap();
    assert_eq!(
        edited.open(eli_g, &from, &object).unwrap_err(),
        HistoryError::BundleMismatch
    );
    // Its key changed: the object's chunks do not open.
    let mut rekeyed = share.to_bytes().to_vec();
    rekeyed[119 + 4] ^= 1;
    let rekeyed = HistoryShare::from_bytes(&rekeyed).unwrap();
    assert!(matches!(
        rekeyed.open(eli_g, &from, &object).unwrap_err(),
        HistoryError::Attachment(AttachmentError::ChunkTampered { index: 0 })
    ));
    assert_eq!(snapshot(eli_g), before);
}

#[test]
fn a_bundle_of_another_conversation_is_refused() {
    let (mut desk, share, object) = shared(15);
    // A second conversation with the same three people.
    let created = GroupSession::create(
        desk.dana.identity_key_pair(),
        &[
            (desk.eli_key(), GroupRole::Member),
            (desk.visitor_key(), GroupRole::Member),
        ],
        &mut desk.rng,
    )
    .unwrap();
    let eli_other = GroupSession::join(
        desk.eli.identity_key_pair(),
        &created.welcome.bytes,
        desk.dana.identity_key(),
        &mut desk.rng,
    )
    .unwrap()
    .session;
    let from = AuthenticatedSender::from(&desk.eli_from_dana);
    assert_eq!(
        share.open(&eli_other, &from, &object).unwrap_err(),
        HistoryError::WrongConversation
    );
    // The other conversation's export, its share's conversation id rewritten to this one's:
    // the bundle inside still names the other conversation.
    let other = history::export_history(
        &created.session,
        &desk.eli_key(),
        HistoryRange::indices(5, 15).unwrap(),
        &desk.transcript,
        &mut desk.rng,
    )
    .unwrap();
    let mut moved = other.share.to_vec();
    moved[2..34].copy_from_slice(share.conversation_id());
    let moved = HistoryShare::from_bytes(&moved).unwrap();
    assert_eq!(
        moved
            .open(desk.eli_g.as_ref().unwrap(), &from, &other.object)
            .unwrap_err(),
        HistoryError::BundleMismatch
    );
    // And this share with the other conversation's object: another digest.
    assert_eq!(
        share
            .open(desk.eli_g.as_ref().unwrap(), &from, &other.object)
            .unwrap_err(),
        HistoryError::Attachment(AttachmentError::DigestMismatch)
    );
}

#[test]
fn a_removed_operator_can_neither_export_nor_open() {
    let (mut desk, share, object) = shared(16);
    let update = desk
        .dana_g
        .remove_member(
            desk.dana.identity_key_pair(),
            desk.eli_key(),
            NOW,
            &mut desk.rng,
        )
        .unwrap();
    let mut eli_g = desk.eli_g.take().unwrap();
    let _ = eli_g
        .apply_roster_change(
            desk.eli.identity_key_pair(),
            &update.change.unwrap().bytes,
            NOW,
            &mut desk.rng,
        )
        .unwrap();
    let from = AuthenticatedSender::from(&desk.eli_from_dana);
    assert_eq!(
        share.open(&eli_g, &from, &object).unwrap_err(),
        HistoryError::NotMember
    );
    assert_eq!(
        history::export_history(
            &eli_g,
            &desk.dana_key(),
            HistoryRange::indices(0, 5).unwrap(),
            &desk.transcript,
            &mut desk.rng,
        )
        .unwrap_err(),
        HistoryError::NotMember
    );
    // And Dana can no longer share with him.
    assert!(matches!(
        history::export_history(
            &desk.dana_g,
            &desk.eli_key(),
            HistoryRange::indices(0, 5).unwrap(),
            &desk.transcript,
            &mut desk.rng,
        )
        .unwrap_err(),
        HistoryError::RecipientNotMember { .. }
    ));
}

#[test]
fn garbage_in_place_of_a_share_is_malformed() {
    for bytes in [&[][..], &[1], &[1, 0x2B], &[1, 0x60, 0, 0], &[0xff; 239]] {
        assert!(matches!(
            HistoryShare::from_bytes(bytes).unwrap_err(),
            HistoryError::Malformed(
                DecodeError::Truncated { .. }
                    | DecodeError::UnknownVersion(_)
                    | DecodeError::WrongType { .. }
            )
        ));
    }
}
