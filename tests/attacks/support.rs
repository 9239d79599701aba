//! Attacks on live-chat support conversations (SPEC.md §20): a relay that adds or substitutes
//! operators, stale certificates, a reassigned-away operator, a substituted visitor, an
//! expired visitor identity and forged link statements. After every rejection the state is
//! exactly as it was.

use hushwire::IdentityKeyPair;
use hushwire::group::GroupError;
use hushwire::support::{
    AssignmentOp, Dispatcher, LinkStatement, SupportConversation, SupportError, VisitorConfig,
    VisitorIdentity,
};
use hushwire::verify::VerifyError;
use hushwire::{Account, IssuerKeyPair, ServerCertificate, Timestamp, Validity};

use crate::common::support::{DANA, DAY, ELI, SAM, Scene, Tenant, VISITOR, week};
use crate::common::{NOW, rng};

/// Applies `change` to a copy of `party`'s conversation, checks the error and that the
/// conversation did not change.
fn refused(s: &mut Scene, party: usize, change: &[u8], expected: SupportError) {
    let (roots, now) = (s.tenant.roots.clone(), s.now);
    let before = s.conv(party).clone();
    let mut rng = rng(99);
    assert_eq!(
        s.conv(party)
            .apply_change(change, &roots, now, &mut rng)
            .map(|_| ()),
        Err(expected)
    );
    assert!(*s.conv(party) == before, "state changed after a rejection");
}

#[test]
fn a_relay_added_operator_is_rejected() {
    let mut s = Scene::new(3001);
    let dana = s.cert(DANA);
    s.change(AssignmentOp::Assign(dana));

    // 1. The relay runs its own "dispatcher" under its own root: not the pinned organization.
    let mut rng = rng(1);
    let relay_root = IssuerKeyPair::generate(&mut rng);
    let relay_org = IssuerKeyPair::generate(&mut rng);
    let relay_org_cert = ServerCertificate::issue(
        &relay_root,
        7,
        1,
        &relay_org.public(),
        Validity::new(Timestamp::from_unix_secs(0), NOW.plus_secs(DAY)).unwrap(),
    );
    let relay_key = IdentityKeyPair::generate(&mut rng);
    let relay_dispatcher = Dispatcher::new(
        relay_key.clone(),
        Tenant::dispatcher_certificate(&relay_org, &relay_org_cert, &relay_key, 1, week()),
    )
    .unwrap();
    let mallory = Account::new(NOW, &mut rng);
    let mallory_cert = s.tenant.certify(
        mallory.identity_key(),
        "Mallory",
        "Card support",
        66,
        week(),
    );
    let forged = relay_dispatcher
        .sign_change(
            &s.roster,
            AssignmentOp::AddSupervisor(mallory_cert.clone()),
            &mut rng,
        )
        .unwrap();
    for p in [VISITOR, DANA] {
        refused(
            &mut s,
            p,
            &forged.change,
            SupportError::DispatcherNotCertified(VerifyError::ForeignOrganization { root_id: 7 }),
        );
    }

    // 2. The relay edits a genuine change to name its own operator: the signature fails.
    let genuine = s.dispatch(AssignmentOp::AddSupervisor(s.cert(SAM)));
    let mut edited = genuine.change.clone();
    let at = edited
        .windows(32)
        .position(|w| w == s.key(SAM).as_bytes())
        .unwrap();
    edited[at] ^= 1;
    let err = {
        let (roots, now) = (s.tenant.roots.clone(), s.now);
        let mut c = s.conv(VISITOR).clone();
        c.apply_change(&edited, &roots, now, &mut rng).map(|_| ())
    };
    assert!(
        matches!(
            err,
            Err(SupportError::BadSignature | SupportError::Malformed(_))
        ),
        "{err:?}"
    );
    let mut resigned = genuine.change.clone();
    let n = resigned.len();
    resigned[n - 1] ^= 0x80;
    refused(&mut s, VISITOR, &resigned, SupportError::BadSignature);

    // 3. A group-layer roster change (type 0x23) is not a support change.
    let mut group_change = genuine.change.clone();
    group_change[1] = 0x23;
    refused(
        &mut s,
        VISITOR,
        &group_change,
        SupportError::Malformed(hushwire::DecodeError::WrongType {
            expected: 0x26,
            found: 0x23,
        }),
    );

    // 4. A sender key from a device the roster does not list is refused.
    let mut mallory_conv = SupportConversation::open_as_account(&mallory, &mut rng).unwrap();
    let _ = &mut mallory_conv;
    let before = s.conv(VISITOR).clone();
    let fake = hushwire::group::AuthenticatedSender::assume_authenticated(*mallory.identity_key());
    let dist = s.conv(DANA).group().clone();
    let _ = dist;
    let joined_elsewhere = SupportConversation::join(
        mallory.identity_key_pair(),
        &s.tenant.dispatcher.welcome(&s.roster),
        &s.tenant.roots.clone(),
        NOW,
        &mut rng,
    );
    assert_eq!(joined_elsewhere.map(|_| ()), Err(SupportError::NotInRoster));
    let bogus = vec![1u8, 0x24];
    assert!(s.conv(VISITOR).receive_distribution(fake, &bogus).is_err());
    assert!(*s.conv(VISITOR) == before);

    // The genuine change still applies after all of that.
    s.deliver(&genuine);
    assert_eq!(s.readers().len(), 3);
}

#[test]
fn a_sender_key_from_an_unlisted_device_is_refused() {
    let mut s = Scene::new(3002);
    let dana = s.cert(DANA);
    s.change(AssignmentOp::Assign(dana));
    // Eli is certified but not assigned; he builds a distribution for this conversation by
    // joining a roster the dispatcher never sent anyone (the relay cannot sign one).
    let eli = s.cert(ELI);
    let mut probe_roster = s.roster.clone();
    let d = s
        .tenant
        .dispatcher
        .sign_change(&probe_roster, AssignmentOp::Assign(eli), &mut rng(2))
        .unwrap();
    probe_roster = d.roster.clone();
    let eli_key = s.operators[ELI - 1].account.identity_key_pair().clone();
    let joined = SupportConversation::join(
        &eli_key,
        d.welcome.as_ref().unwrap(),
        &s.tenant.roots.clone(),
        NOW,
        &mut rng(3),
    )
    .unwrap();
    let _ = probe_roster;
    let before = s.conv(VISITOR).clone();
    let from = hushwire::group::AuthenticatedSender::assume_authenticated(*eli_key.public());
    // Refused whichever check meets it first: the epoch it names is ahead of ours, and Eli
    // is not in our roster.
    let err = s
        .conv(VISITOR)
        .receive_distribution(from, &joined.distribution.bytes)
        .unwrap_err();
    assert!(
        matches!(
            err,
            SupportError::Group(GroupError::UnknownSender | GroupError::FutureEpoch { .. })
        ),
        "{err:?}"
    );
    assert!(*s.conv(VISITOR) == before);
}

#[test]
fn expired_or_revoked_operator_certificates_are_rejected() {
    let mut s = Scene::new(3003);
    let dana = s.cert(DANA);
    s.change(AssignmentOp::Assign(dana));
    let eli_key = s.key(ELI);

    // Expired.
    let expired = s.tenant.certify(
        &eli_key,
        "Eli Jones",
        "Card support",
        40,
        Validity::new(
            Timestamp::from_unix_secs(NOW.as_unix_secs() - 3 * DAY),
            Timestamp::from_unix_secs(NOW.as_unix_secs() - DAY),
        )
        .unwrap(),
    );
    let d = s.dispatch(AssignmentOp::AddSupervisor(expired));
    refused(
        &mut s,
        VISITOR,
        &d.change,
        SupportError::OperatorNotCertified(VerifyError::Expired {
            expires_at: Timestamp::from_unix_secs(NOW.as_unix_secs() - DAY),
        }),
    );

    // Revoked by serial.
    let revoked = s
        .tenant
        .certify(&eli_key, "Eli Jones", "Card support", 41, week());
    s.tenant.roots.revoke_certificate(1, 1, 41).unwrap();
    let d = s.dispatch(AssignmentOp::AddSupervisor(revoked.clone()));
    refused(
        &mut s,
        VISITOR,
        &d.change,
        SupportError::OperatorNotCertified(VerifyError::Revoked),
    );
    refused(
        &mut s,
        DANA,
        &d.change,
        SupportError::OperatorNotCertified(VerifyError::Revoked),
    );

    // A substituted key: the relay hands out another device's bundle with Dana's certificate.
    let mut rng = rng(4);
    let mallory = Account::new(NOW, &mut rng);
    let bundle = mallory.published_prekeys().take_bundle();
    assert_eq!(
        s.visitor
            .connect_operator(
                &bundle,
                s.cert(DANA).as_bytes(),
                &s.tenant.roots,
                NOW,
                &mut rng
            )
            .map(|_| ()),
        Err(SupportError::OperatorNotCertified(
            VerifyError::OperatorKeyMismatch
        ))
    );

    // The dispatcher's own certificate expired.
    let old = Tenant::dispatcher_certificate(
        &s.tenant.org_key,
        &s.tenant.org_cert,
        &s.tenant.dispatcher_key,
        2,
        Validity::new(
            Timestamp::from_unix_secs(NOW.as_unix_secs() - 3 * DAY),
            Timestamp::from_unix_secs(NOW.as_unix_secs() - 1),
        )
        .unwrap(),
    );
    let stale = Dispatcher::new(s.tenant.dispatcher_key.clone(), old).unwrap();
    let d = stale
        .sign_change(
            &s.roster,
            AssignmentOp::AddSupervisor(s.cert(SAM)),
            &mut rng,
        )
        .unwrap();
    refused(
        &mut s,
        VISITOR,
        &d.change,
        SupportError::DispatcherNotCertified(VerifyError::Expired {
            expires_at: Timestamp::from_unix_secs(NOW.as_unix_secs() - 1),
        }),
    );

    // A reader listed earlier whose certificate was revoked since is shown as such.
    s.tenant.roots.revoke_certificate(1, 1, 11).unwrap();
    let readers = s.readers();
    assert!(
        readers[1].starts_with("operator no longer certified (assigned)"),
        "{readers:?}"
    );
}

#[test]
fn a_reassigned_away_operator_cannot_decrypt() {
    let mut s = Scene::new(3004);
    let (dana, eli, sam) = (s.cert(DANA), s.cert(ELI), s.cert(SAM));
    s.change(AssignmentOp::Assign(dana));
    s.change(AssignmentOp::AddSupervisor(sam));
    let m = s.say(VISITOR, b"before the handover");
    // Dana keeps a copy that never applies the reassignment (a modified client).
    let mut dana_copy = s.conv(DANA).clone();
    assert_eq!(
        dana_copy.decrypt(&m, NOW).unwrap().plaintext,
        b"before the handover"
    );
    let from = s.key(DANA);
    s.change(AssignmentOp::Reassign { from, to: eli });
    assert!(!s.conv(DANA).is_reader());

    for sender in [VISITOR, ELI, SAM] {
        let m = s.say(sender, b"after the handover");
        let before = dana_copy.clone();
        let err = dana_copy.decrypt(&m, NOW).unwrap_err();
        assert!(
            matches!(
                err,
                SupportError::Group(
                    GroupError::UnknownSenderKey { .. }
                        | GroupError::UnknownSender
                        | GroupError::FutureEpoch { .. }
                )
            ),
            "{err:?}"
        );
        assert!(dana_copy == before);
        assert_eq!(
            s.read(DANA, &m).map(|_| ()),
            Err(SupportError::Group(GroupError::Removed))
        );
        for reader in [VISITOR, ELI, SAM] {
            if reader != sender {
                assert_eq!(s.read(reader, &m).unwrap().plaintext, b"after the handover");
            }
        }
    }
}

#[test]
fn a_visitor_key_change_raises_an_alarm() {
    let mut s = Scene::new(3005);
    let dana = s.cert(DANA);
    s.change(AssignmentOp::Assign(dana));
    let mut rng = rng(5);
    // The relay substitutes another visitor: a session from another key.
    let impostor = VisitorIdentity::new(VisitorConfig::default(), NOW, &mut rng);
    let genuine = *s.visitor.identity_key();
    assert_eq!(
        s.conv(DANA).check_visitor(impostor.identity_key()),
        Err(SupportError::VisitorKeyChanged {
            expected: genuine.to_bytes(),
            found: impostor.identity_key().to_bytes()
        })
    );
    assert!(s.conv(DANA).check_visitor(&genuine).is_ok());
    let session = s.sessions.get(&(DANA, VISITOR)).cloned().unwrap();
    assert!(s.conv(DANA).check_visitor_session(&session).is_ok());
    // A link statement from the impostor's key.
    let mut impostor = impostor;
    let alice = Account::new(NOW, &mut rng);
    let id = s.conv(DANA).id();
    let st = impostor
        .link_account(alice.identity_key_pair(), "alice", id, NOW)
        .unwrap();
    let before = s.conv(DANA).clone();
    let err = s.conv(DANA).apply_link(st.as_bytes(), NOW).unwrap_err();
    assert_eq!(
        err,
        SupportError::VisitorKeyChanged {
            expected: genuine.to_bytes(),
            found: impostor.identity_key().to_bytes()
        }
    );
    assert_eq!(err.code(), "support.visitor_key_changed");
    assert!(*s.conv(DANA) == before);
}

#[test]
fn an_expired_visitor_identity_refuses_to_encrypt() {
    let mut s = Scene::new(3006);
    let dana = s.cert(DANA);
    s.change(AssignmentOp::Assign(dana));
    let expiry = s.visitor.expires_at();
    assert_eq!(expiry, NOW.plus_secs(24 * 3600));
    let mut rng = rng(6);
    let just_before = Timestamp::from_unix_secs(expiry.as_unix_secs() - 1);
    let mut probe = s.conv(VISITOR).clone();
    assert!(probe.encrypt(b"still here", just_before, &mut rng).is_ok());

    let expired = SupportError::VisitorExpired { expired_at: expiry };
    let before = s.conv(VISITOR).clone();
    assert_eq!(
        s.conv(VISITOR).encrypt(b"too late", expiry, &mut rng),
        Err(expired)
    );
    assert!(*s.conv(VISITOR) == before);
    let mut session = s.sessions.get(&(VISITOR, DANA)).cloned().unwrap();
    let session_before = session.clone();
    assert_eq!(
        s.visitor
            .encrypt(&mut session, b"too late", expiry, &mut rng),
        Err(expired)
    );
    assert!(session == session_before);
    let bundle = s.operators[ELI - 1]
        .account
        .published_prekeys()
        .take_bundle();
    assert_eq!(
        s.visitor
            .connect_operator(
                &bundle,
                s.cert(ELI).as_bytes(),
                &s.tenant.roots,
                expiry,
                &mut rng
            )
            .map(|_| ()),
        Err(expired)
    );
    assert_eq!(
        SupportConversation::open(&s.visitor, expiry, &mut rng).map(|_| ()),
        Err(expired)
    );
    assert!(expired.to_string().contains("expired"));
    assert_eq!(expired.code(), "support.visitor_expired");
}

#[test]
fn a_forged_link_statement_is_rejected() {
    let mut s = Scene::new(3007);
    let dana = s.cert(DANA);
    s.change(AssignmentOp::Assign(dana));
    let mut rng = rng(7);
    let alice = Account::new(NOW, &mut rng);
    let id = s.conv(DANA).id();
    let genuine = s
        .visitor
        .clone()
        .link_account(alice.identity_key_pair(), "alice", id, NOW)
        .unwrap();
    let before = s.conv(DANA).clone();
    // Every flipped bit of either signature.
    let n = genuine.as_bytes().len();
    for i in (n - 128) * 8..n * 8 {
        let mut bad = genuine.as_bytes().to_vec();
        bad[i / 8] ^= 1 << (i % 8);
        assert_eq!(
            s.conv(DANA).apply_link(&bad, NOW),
            Err(SupportError::LinkForged),
            "bit {i}"
        );
    }
    // The user id edited after signing.
    let mut renamed = genuine.as_bytes().to_vec();
    let at = n - 128 - 5;
    renamed[at] = b'm';
    assert_eq!(
        s.conv(DANA).apply_link(&renamed, NOW),
        Err(SupportError::LinkForged)
    );
    // Signed by the account but not counter-signed by the visitor key (a thief of the
    // account cannot claim this visitor): the counter-signature made by another key.
    let thief = IdentityKeyPair::generate(&mut rng);
    let other = LinkStatement::sign(alice.identity_key_pair(), &thief, "alice", id, NOW).unwrap();
    let mut spliced = other.as_bytes().to_vec();
    spliced[34..66].copy_from_slice(s.visitor.identity_key().as_bytes());
    assert_eq!(
        s.conv(DANA).apply_link(&spliced, NOW),
        Err(SupportError::LinkForged)
    );
    // Another conversation; a stale statement; one from the future.
    let elsewhere = s
        .visitor
        .clone()
        .link_account(
            alice.identity_key_pair(),
            "alice",
            hushwire::group::GroupId::from_bytes([9; 32]),
            NOW,
        )
        .unwrap();
    assert_eq!(
        s.conv(DANA).apply_link(elsewhere.as_bytes(), NOW),
        Err(SupportError::LinkMismatch)
    );
    assert_eq!(
        s.conv(DANA)
            .apply_link(genuine.as_bytes(), NOW.plus_secs(24 * 3600 + 1)),
        Err(SupportError::LinkStale { issued_at: NOW })
    );
    assert_eq!(
        s.conv(DANA).apply_link(
            genuine.as_bytes(),
            Timestamp::from_unix_secs(NOW.as_unix_secs() - 301)
        ),
        Err(SupportError::LinkStale { issued_at: NOW })
    );
    assert!(*s.conv(DANA) == before);
    // The genuine one is accepted.
    assert!(s.conv(DANA).apply_link(genuine.as_bytes(), NOW).is_ok());
}

#[test]
fn replayed_skipped_and_forked_changes_are_refused() {
    let mut s = Scene::new(3008);
    let dana = s.cert(DANA);
    let first = s.change_kept(AssignmentOp::Assign(dana));
    refused(
        &mut s,
        VISITOR,
        &first.change,
        SupportError::StaleVersion {
            current: 1,
            found: 1,
        },
    );
    // Skipped: the dispatcher signs version 3 on a roster the visitor never saw at 2.
    let two = s
        .tenant
        .dispatcher
        .sign_change(
            &s.roster,
            AssignmentOp::AddSupervisor(s.cert(SAM)),
            &mut rng(8),
        )
        .unwrap();
    let three = s
        .tenant
        .dispatcher
        .sign_change(&two.roster, AssignmentOp::Remove(s.key(SAM)), &mut rng(8))
        .unwrap();
    refused(
        &mut s,
        VISITOR,
        &three.change,
        SupportError::SkippedVersion {
            current: 1,
            found: 3,
        },
    );
    // Forked: a version 2 built on another version 1.
    let genesis =
        hushwire::support::AssignmentRoster::genesis(s.conv(VISITOR).id(), s.key(VISITOR));
    let other_one = s
        .tenant
        .dispatcher
        .sign_change(&genesis, AssignmentOp::Assign(s.cert(ELI)), &mut rng(8))
        .unwrap();
    let fork = s
        .tenant
        .dispatcher
        .sign_change(
            &other_one.roster,
            AssignmentOp::AddSupervisor(s.cert(SAM)),
            &mut rng(8),
        )
        .unwrap();
    refused(
        &mut s,
        VISITOR,
        &fork.change,
        SupportError::ForkedVersion { version: 2 },
    );
    // Another conversation.
    let mut other = Scene::new(3009);
    let foreign = other.dispatch(AssignmentOp::Assign(other.cert(DANA)));
    refused(
        &mut s,
        VISITOR,
        &foreign.change,
        SupportError::WrongConversation,
    );
    // The genuine next change applies.
    s.deliver(&two);
    assert_eq!(s.conv(VISITOR).version(), 2);
}

#[test]
fn truncated_and_oversized_structures_are_malformed() {
    let mut s = Scene::new(3010);
    let d = s.dispatch(AssignmentOp::Assign(s.cert(DANA)));
    for cut in [0, 1, 2, 40, d.change.len() - 1] {
        let err = {
            let (roots, now) = (s.tenant.roots.clone(), s.now);
            let mut c = s.conv(VISITOR).clone();
            c.apply_change(&d.change[..cut], &roots, now, &mut rng(10))
                .map(|_| ())
        };
        assert!(
            matches!(err, Err(SupportError::Malformed(_))),
            "{cut}: {err:?}"
        );
    }
    let mut long = d.change.clone();
    long.push(0);
    refused(
        &mut s,
        VISITOR,
        &long,
        SupportError::Malformed(hushwire::DecodeError::TrailingBytes { count: 1 }),
    );
    let welcome = d.welcome.unwrap();
    let dana = s.operators[DANA - 1].account.identity_key_pair().clone();
    let mut w = welcome.clone();
    w.push(0);
    assert!(matches!(
        SupportConversation::join(&dana, &w, &s.tenant.roots, NOW, &mut rng(10)).map(|_| ()),
        Err(SupportError::Malformed(_))
    ));
    let n = welcome.len();
    let mut w = welcome.clone();
    w[n - 1] ^= 1;
    assert_eq!(
        SupportConversation::join(&dana, &w, &s.tenant.roots, NOW, &mut rng(10)).map(|_| ()),
        Err(SupportError::BadSignature)
    );
}
