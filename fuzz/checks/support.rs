//! `support`: every decoder of live-chat support conversations (SPEC.md §20) — signed roster
//! `0x25`, roster changes `0x26`–`0x2A`, dispatcher certificate `0x43`, link statement `0x58` —
//! and the operations that take them: `apply_change` (visitor's side), `join` (a new
//! operator), `apply_link` (operator's side).
//!
//! Input: a mode byte; bit 0 clear: the rest is raw bytes; set: the next byte picks one of the
//! fixture's genuine structures and the rest are 4-byte edits ([`super::mutate`]).
//!
//! Properties: no panic; a decoded dispatcher certificate or link statement re-encodes to the
//! input; an operation succeeds only on the genuine structure it was made for (signatures are
//! unforgeable), and every refusal leaves the conversation exactly as it was.

use std::sync::OnceLock;

use chacha20::ChaCha20Rng;
use hushwire::support::{
    AssignmentOp, AssignmentRoster, Dispatcher, DispatcherCertificate, DispatcherInfo,
    LinkStatement, SupportConversation, VisitorConfig, VisitorIdentity,
};
use hushwire::verify::{IdentityCertificate, OperatorInfo, OrganizationRoots};
use hushwire::{IdentityKeyPair, IssuerKeyPair, ServerCertificate, Timestamp, Validity};
use rand_core::SeedableRng;

use super::{NOW, raw_or_edited};

/// A genuine structure of the fixture.
pub(crate) struct Genuine {
    pub(crate) name: &'static str,
    pub(crate) bytes: Vec<u8>,
}

pub(crate) struct SupportFixture {
    roots: OrganizationRoots,
    /// The visitor's conversation at version 1 (Dana assigned).
    visitor_conv: SupportConversation,
    /// Dana's conversation at version 1.
    dana_conv: SupportConversation,
    sam: IdentityKeyPair,
    change: Vec<u8>,
    welcome: Vec<u8>,
    dispatcher_cert: Vec<u8>,
    link: Vec<u8>,
    pub(crate) genuine: Vec<Genuine>,
}

pub(crate) fn fixture() -> &'static SupportFixture {
    static FIXTURE: OnceLock<SupportFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0x5350_5054);
        let week = Validity::new(NOW, NOW.plus_secs(7 * 24 * 3600)).unwrap();
        let root = IssuerKeyPair::generate(&mut rng);
        let org_key = IssuerKeyPair::generate(&mut rng);
        let org_cert = ServerCertificate::issue(
            &root,
            1,
            1,
            &org_key.public(),
            Validity::new(Timestamp::from_unix_secs(0), NOW.plus_secs(365 * 24 * 3600)).unwrap(),
        );
        let mut roots = OrganizationRoots::new();
        roots.pin(1, root.public(), "Acme Bank").unwrap();
        let dkey = IdentityKeyPair::generate(&mut rng);
        let dcert = DispatcherCertificate::issue(
            &org_key,
            &org_cert,
            DispatcherInfo {
                serial: 1,
                organization: "Acme Bank".into(),
                name: "Card desk".into(),
                dispatcher_key: *dkey.public(),
                validity: week,
            },
        )
        .unwrap();
        let dispatcher = Dispatcher::new(dkey, dcert.clone()).unwrap();
        let certify = |key: &IdentityKeyPair, name: &str, serial: u64| {
            IdentityCertificate::issue(
                &org_key,
                &org_cert,
                OperatorInfo {
                    serial,
                    organization: "Acme Bank".into(),
                    operator_name: name.into(),
                    role: "Card support".into(),
                    identity_key: *key.public(),
                    validity: week,
                },
            )
            .unwrap()
        };
        let dana = IdentityKeyPair::generate(&mut rng);
        let sam = IdentityKeyPair::generate(&mut rng);
        let mut visitor = VisitorIdentity::new(VisitorConfig::default(), NOW, &mut rng);
        let mut visitor_conv = SupportConversation::open(&visitor, NOW, &mut rng).unwrap();
        let r0 = AssignmentRoster::genesis(visitor_conv.id(), *visitor.identity_key());
        let one = dispatcher
            .sign_change(
                &r0,
                AssignmentOp::Assign(certify(&dana, "Dana Smith", 2)),
                &mut rng,
            )
            .unwrap();
        let _ = visitor_conv
            .apply_change(&one.change, &roots, NOW, &mut rng)
            .unwrap();
        let dana_conv =
            SupportConversation::join(&dana, one.welcome.as_ref().unwrap(), &roots, NOW, &mut rng)
                .unwrap()
                .conversation;
        let two = dispatcher
            .sign_change(
                &one.roster,
                AssignmentOp::AddSupervisor(certify(&sam, "Sam Lee", 3)),
                &mut rng,
            )
            .unwrap();
        let account = IdentityKeyPair::generate(&mut rng);
        let link = visitor
            .link_account(&account, "alice", visitor_conv.id(), NOW)
            .unwrap()
            .as_bytes()
            .to_vec();
        let welcome = two.welcome.clone().unwrap();
        let remove = dispatcher
            .sign_change(&one.roster, AssignmentOp::Remove(*dana.public()), &mut rng)
            .unwrap()
            .change;
        let close = dispatcher
            .sign_change(&one.roster, AssignmentOp::Close, &mut rng)
            .unwrap()
            .change;
        let genuine = vec![
            Genuine {
                name: "change-add-supervisor",
                bytes: two.change.clone(),
            },
            Genuine {
                name: "welcome",
                bytes: welcome.clone(),
            },
            Genuine {
                name: "dispatcher-certificate",
                bytes: dcert.as_bytes().to_vec(),
            },
            Genuine {
                name: "link",
                bytes: link.clone(),
            },
            Genuine {
                name: "change-remove",
                bytes: remove,
            },
            Genuine {
                name: "change-close",
                bytes: close,
            },
        ];
        SupportFixture {
            roots,
            visitor_conv,
            dana_conv,
            sam,
            change: two.change,
            welcome,
            dispatcher_cert: dcert.as_bytes().to_vec(),
            link,
            genuine,
        }
    })
}

/// The check of the `support` fuzz target.
pub(crate) fn check_support(data: &[u8]) {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some(bytes) = raw_or_edited(mode, rest, &f.genuine, |g| &g.bytes) else {
        return;
    };
    let genuine = f.genuine.iter().find(|g| g.bytes == bytes);
    let _ = hushwire::support::decode_any(&bytes);
    let mut rng = ChaCha20Rng::seed_from_u64(1);

    if let Ok(cert) = DispatcherCertificate::from_bytes(&bytes) {
        assert_eq!(cert.as_bytes(), &bytes[..]);
        if cert.verify(&f.roots, NOW).is_ok() {
            assert_eq!(
                bytes, f.dispatcher_cert,
                "a forged dispatcher certificate verifies"
            );
        }
    }
    if let Ok(link) = LinkStatement::from_bytes(&bytes) {
        assert_eq!(link.as_bytes(), &bytes[..]);
    }

    let mut conv = f.visitor_conv.clone();
    match conv.apply_change(&bytes, &f.roots, NOW, &mut rng) {
        Ok(_) => assert!(
            genuine.is_some_and(|g| g.name.starts_with("change-")),
            "an edited change applies"
        ),
        Err(_) => assert!(
            conv == f.visitor_conv,
            "a refused change changed the conversation"
        ),
    }
    if let Ok(joined) = SupportConversation::join(&f.sam, &bytes, &f.roots, NOW, &mut rng) {
        assert_eq!(bytes, f.welcome, "an edited welcome joins");
        assert_eq!(joined.conversation.version(), 2);
    }
    let mut dana = f.dana_conv.clone();
    match dana.apply_link(&bytes, NOW) {
        Ok(_) => assert_eq!(bytes, f.link, "an edited link statement is accepted"),
        Err(_) => assert!(
            dana == f.dana_conv,
            "a refused link changed the conversation"
        ),
    }
    let _ = &f.change;
}

/// The seed corpus: each genuine structure raw, unedited and with one flipped bit.
pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, g) in fixture().genuine.iter().enumerate() {
        let mut raw = vec![0u8];
        raw.extend_from_slice(&g.bytes);
        out.push((format!("raw-{}", g.name), raw));
        let pick = u8::try_from(i).expect("few structures");
        out.push((format!("mutate-{}-none", g.name), vec![1, pick]));
        let last = u16::try_from(g.bytes.len() - 1).expect("short structure");
        let [hi, lo] = last.to_be_bytes();
        out.push((
            format!("mutate-{}-flips", g.name),
            vec![1, pick, 0, 0, 40, 0x01, 0, hi, lo, 0x80],
        ));
        out.push((
            format!("mutate-{}-truncate", g.name),
            vec![1, pick, 1, 0, 100, 0],
        ));
    }
    out
}
