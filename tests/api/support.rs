//! Live-chat support conversations (SPEC.md §20) as a widget, a dispatcher and operators use
//! them: a visitor without an account, operators shown with their certified names, assignment,
//! handover and a visitor who logs in mid-chat.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use hushwire::persist::Expected;
use hushwire::support::{
    AssignmentOp, DEFAULT_VISITOR_TTL_SECS, MAX_VISITOR_TTL_SECS, MIN_VISITOR_TTL_SECS,
    SupportConversation, SupportError, SupportEvent, VisitorConfig, VisitorIdentity, VisitorStatus,
};
use hushwire::{Account, ConfigError, StorageKey};

use crate::common::support::{DANA, ELI, SAM, Scene, VISITOR};
use crate::common::{NOW, rng};

#[test]
fn a_visitor_chats_with_a_certified_operator_and_lists_the_readers() {
    let mut s = Scene::new(2001);
    assert_eq!(s.readers(), ["unverified visitor"]);
    let dana = s.cert(DANA);
    let d = s.dispatch(AssignmentOp::Assign(dana));
    let (roots, now) = (s.tenant.roots.clone(), s.now);
    let mut rng = rng(1);
    let mut probe = s.conv(VISITOR).clone();
    let update = probe
        .apply_change(&d.change, &roots, now, &mut rng)
        .unwrap();
    assert_eq!(
        update.added[0].to_string(),
        "Acme Bank \u{b7} Dana Smith \u{b7} Card support"
    );
    s.deliver(&d);
    assert_eq!(
        s.readers(),
        [
            "unverified visitor",
            "Acme Bank \u{b7} Dana Smith \u{b7} Card support (assigned)"
        ]
    );
    assert_eq!(
        s.conv(DANA).visitor_status().to_string(),
        "unverified visitor"
    );
    assert_eq!(*s.conv(DANA).visitor_status(), VisitorStatus::Unverified);

    let m = s.say(VISITOR, b"my card was charged twice");
    let read = s.read(DANA, &m).unwrap();
    assert_eq!(read.plaintext, b"my card was charged twice");
    assert!(read.from_visitor);
    let m = s.say(DANA, b"let me look");
    let read = s.read(VISITOR, &m).unwrap();
    assert_eq!(read.plaintext, b"let me look");
    assert!(!read.from_visitor);
    assert_eq!(s.conv(VISITOR).version(), 1);
    assert_eq!(s.conv(DANA).version(), 1);
}

#[test]
fn handover_to_a_colleague_with_a_supervisor_watching() {
    let mut s = Scene::new(2002);
    let (dana, eli, sam) = (s.cert(DANA), s.cert(ELI), s.cert(SAM));
    s.change(AssignmentOp::Assign(dana));
    s.change(AssignmentOp::AddSupervisor(sam));
    let mut expected = [
        "Acme Bank \u{b7} Dana Smith \u{b7} Card support (assigned)".to_owned(),
        "Acme Bank \u{b7} Sam Lee \u{b7} Supervisor (supervisor)".to_owned(),
    ];
    expected.sort();
    let readers = readers_sorted(&mut s);
    assert_eq!(readers[0], "unverified visitor");
    assert_eq!(readers[1..], expected[..]);
    let from = s.key(DANA);
    s.change(AssignmentOp::Reassign { from, to: eli });
    let readers = s.readers();
    assert_eq!(readers.len(), 3);
    assert!(readers.contains(&"Acme Bank \u{b7} Eli Jones \u{b7} Card support (assigned)".into()));
    assert!(readers.contains(&"Acme Bank \u{b7} Sam Lee \u{b7} Supervisor (supervisor)".into()));
    assert!(!readers.iter().any(|r| r.contains("Dana")));
    assert!(!s.conv(DANA).is_reader());

    let m = s.say(VISITOR, b"thanks Eli");
    assert_eq!(s.read(ELI, &m).unwrap().plaintext, b"thanks Eli");
    assert_eq!(s.read(SAM, &m).unwrap().plaintext, b"thanks Eli");
    let m = s.say(ELI, b"you're welcome");
    assert_eq!(s.read(VISITOR, &m).unwrap().plaintext, b"you're welcome");
    assert_eq!(s.read(SAM, &m).unwrap().plaintext, b"you're welcome");

    s.change(AssignmentOp::Close);
    assert!(s.conv(VISITOR).is_closed());
    assert_eq!(s.readers(), ["unverified visitor"]);
    let mut rng = rng(3);
    assert_eq!(
        s.conv(VISITOR).encrypt(b"hello?", NOW, &mut rng),
        Err(SupportError::Closed)
    );
}

fn readers_sorted(s: &mut Scene) -> Vec<String> {
    let mut r = s.readers();
    r[1..].sort();
    r
}

/// Key operations per reassignment (a figure of issue P14): with a visitor, an assigned
/// operator and a supervisor, handing over to a new operator costs one change and one welcome
/// signed by the dispatcher, three fresh sender keys (the visitor's and the supervisor's
/// rotations, the new operator's first key) and six distribution messages over 1:1 sessions.
/// Deterministic; printed with `--nocapture`.
#[test]
fn key_operations_per_reassignment() {
    let mut s = Scene::new(2003);
    let (dana, eli, sam) = (s.cert(DANA), s.cert(ELI), s.cert(SAM));
    s.change(AssignmentOp::Assign(dana));
    s.change(AssignmentOp::AddSupervisor(sam));
    let before = s.distributions_sent;
    let keys_before: Vec<Option<u32>> = [VISITOR, SAM]
        .iter()
        .map(|p| s.conv(*p).group().sender_key_id())
        .collect();
    let from = s.key(DANA);
    let d = s.change_kept(AssignmentOp::Reassign { from, to: eli });
    let distributions = s.distributions_sent - before;
    let rotated = [VISITOR, SAM]
        .iter()
        .zip(keys_before)
        .filter(|(p, k)| s.conv(**p).group().sender_key_id() != *k)
        .count();
    let fresh_keys = rotated + 1; // the new operator's first sender key
    let signatures = 1 + usize::from(d.welcome.is_some());
    println!(
        "reassignment (visitor + assigned + supervisor -> new assigned): {signatures} dispatcher \
         signatures, {fresh_keys} fresh sender keys, {distributions} distribution messages, \
         change {} bytes, welcome {} bytes",
        d.change.len(),
        d.welcome.as_ref().map_or(0, Vec::len)
    );
    assert_eq!((signatures, fresh_keys, distributions), (2, 3, 6));
    assert_eq!(
        (d.change.len(), d.welcome.as_ref().map_or(0, Vec::len)),
        (715, 1018)
    );
}

#[test]
fn a_visitor_who_logs_in_is_shown_verified_and_later_uses_the_account() {
    let mut s = Scene::new(2004);
    let dana = s.cert(DANA);
    s.change(AssignmentOp::Assign(dana));
    let mut rng = rng(4);
    let alice = Account::new(NOW, &mut rng);
    let id = s.conv(VISITOR).id();
    let statement = s
        .visitor
        .link_account(alice.identity_key_pair(), "alice@example.com", id, NOW)
        .unwrap();
    let m = s.say(VISITOR, statement.as_bytes());
    let carried = s.read(DANA, &m).unwrap().plaintext;
    let event = s.conv(DANA).apply_link(&carried, NOW.plus_secs(5)).unwrap();
    assert_eq!(
        event,
        SupportEvent::VisitorVerified {
            user_id: "alice@example.com".into(),
            account_key: *alice.identity_key()
        }
    );
    assert_eq!(
        s.conv(DANA).visitor_status().to_string(),
        "visitor verified as alice@example.com"
    );
    assert_eq!(
        SupportConversation::open(&s.visitor, NOW, &mut rng).map(|_| ()),
        Err(SupportError::VisitorLinked)
    );
    let later = SupportConversation::open_as_account(&alice, &mut rng).unwrap();
    assert_eq!(later.visitor(), alice.identity_key());
}

/// The visitor's state size (a figure of issue P14): the encrypted blob a widget keeps in
/// browser storage. Deterministic; printed with `--nocapture`.
#[test]
fn visitor_state_is_small_and_restores() {
    let mut rng = rng(5);
    let visitor = VisitorIdentity::new(VisitorConfig::default(), NOW, &mut rng);
    let key = StorageKey::from_bytes([7; 32]);
    let blob = visitor.to_encrypted(&key, 1, &mut rng);
    println!("visitor state blob: {} bytes", blob.len());
    assert_eq!(blob[6], 0x08, "state type tag");
    // Deterministic: fixed-size keys and seeds (SPEC.md §20.6).
    assert_eq!(blob.len(), 386);
    let back = VisitorIdentity::from_encrypted(
        &blob,
        &key,
        1,
        &Expected::identity(visitor.identity_key()),
    )
    .unwrap();
    assert_eq!(back.identity_key(), visitor.identity_key());
    assert_eq!(back.expires_at(), NOW.plus_secs(DEFAULT_VISITOR_TTL_SECS));
    assert_eq!(back.published_prekeys(), visitor.published_prekeys());
}

#[test]
fn visitor_ttl_is_configurable_within_hard_limits() {
    for ok in [MIN_VISITOR_TTL_SECS, 3600, MAX_VISITOR_TTL_SECS] {
        assert_eq!(VisitorConfig::with_ttl_secs(ok).unwrap().ttl_secs(), ok);
    }
    for bad in [0, MIN_VISITOR_TTL_SECS - 1, MAX_VISITOR_TTL_SECS + 1] {
        assert_eq!(
            VisitorConfig::with_ttl_secs(bad),
            Err(ConfigError::OutOfRange {
                name: "visitor ttl",
                value: bad,
                min: MIN_VISITOR_TTL_SECS,
                max: MAX_VISITOR_TTL_SECS
            })
        );
    }
    assert_eq!(VisitorConfig::default().ttl_secs(), 24 * 3600);
    let mut rng = rng(6);
    let v = VisitorIdentity::new(VisitorConfig::with_ttl_secs(600).unwrap(), NOW, &mut rng);
    assert!(v.check_alive(NOW.plus_secs(599)).is_ok());
    assert_eq!(
        v.check_alive(NOW.plus_secs(600)),
        Err(SupportError::VisitorExpired {
            expired_at: NOW.plus_secs(600)
        })
    );
}

/// README.md's live-chat example is the doctest of `src/support/mod.rs`.
#[test]
fn readme_live_chat_example_is_the_module_doctest() {
    let readme = include_str!("../../README.md");
    let module = include_str!("../../src/support/mod.rs");
    let block = |lines: Vec<&str>, fence: &str| -> Vec<String> {
        let start = (0..lines.len() - 1)
            .find(|&i| {
                lines[i].trim() == fence && lines[i + 1].starts_with("use hushwire::support")
            })
            .unwrap()
            + 1;
        let end = start
            + lines[start..]
                .iter()
                .position(|l| l.trim() == "```")
                .unwrap();
        lines[start..end]
            .iter()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| (*l).to_owned())
            .collect()
    };
    let doc: Vec<&str> = module
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    assert_eq!(
        block(readme.lines().collect(), "```rust,ignore"),
        block(doc, "```"),
        "README.md's live-chat example differs from src/support/mod.rs's doctest"
    );
}

#[test]
fn operators_per_conversation_at_and_past_the_limit() {
    use hushwire::support::{AssignmentRoster, MAX_CONVERSATION_OPERATORS};
    let s = Scene::new(2005);
    let mut rng = rng(7);
    let mut roster = AssignmentRoster::genesis(s.roster.conversation_id(), s.key(VISITOR));
    for i in 0..=MAX_CONVERSATION_OPERATORS {
        let key = Account::new(NOW, &mut rng);
        let cert = s.tenant.certify(
            key.identity_key(),
            "Op",
            "Card support",
            100 + i as u64,
            crate::common::support::week(),
        );
        let signed =
            s.tenant
                .dispatcher
                .sign_change(&roster, AssignmentOp::AddSupervisor(cert), &mut rng);
        if i < MAX_CONVERSATION_OPERATORS {
            roster = signed.unwrap().roster;
        } else {
            assert_eq!(
                signed.map(|_| ()),
                Err(SupportError::TooManyOperators {
                    max: MAX_CONVERSATION_OPERATORS
                })
            );
        }
    }
    assert_eq!(roster.operators().len(), MAX_CONVERSATION_OPERATORS);
    // The largest roster of this scene's texts stays under the encoded limit.
    let welcome = s.tenant.dispatcher.welcome(&roster);
    assert!(welcome.len() <= hushwire::support::MAX_SUPPORT_ROSTER_LEN);
}

#[test]
fn link_user_id_at_and_past_its_limit() {
    use hushwire::IdentityKeyPair;
    use hushwire::group::GroupId;
    use hushwire::support::{LinkStatement, MAX_LINK_STATEMENT_LEN, MAX_LINK_USER_ID_LEN};
    let mut rng = rng(8);
    let (a, v) = (
        IdentityKeyPair::generate(&mut rng),
        IdentityKeyPair::generate(&mut rng),
    );
    let id = GroupId::from_bytes([1; 32]);
    let at = LinkStatement::sign(&a, &v, &"u".repeat(MAX_LINK_USER_ID_LEN), id, NOW).unwrap();
    assert_eq!(at.as_bytes().len(), MAX_LINK_STATEMENT_LEN);
    assert_eq!(LinkStatement::from_bytes(at.as_bytes()).unwrap(), at);
    for bad in [
        "u".repeat(MAX_LINK_USER_ID_LEN + 1),
        String::new(),
        "a\nb".into(),
    ] {
        assert_eq!(
            LinkStatement::sign(&a, &v, &bad, id, NOW).map(|_| ()),
            Err(SupportError::InvalidText { field: "user_id" })
        );
    }
    assert_eq!(
        LinkStatement::sign(&a, &a, "u", id, NOW).map(|_| ()),
        Err(SupportError::LinkMismatch)
    );
}
