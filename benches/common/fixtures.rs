//! hushwire scenarios shared by the benches of this crate and by the vodozemac comparison
//! (`benches/compare`, which includes this file by path): established sessions, a two-member
//! group, a sealed-sender deployment. Only hushwire's public API is used here.

#![allow(dead_code)]

use chacha20::ChaCha20Rng;
use hushwire::certificate::SenderCertificateInfo;
use hushwire::group::{AuthenticatedSender, GroupRole, GroupSession};
use hushwire::{
    Account, IdentityKey, IdentityKeyPair, IssuerKeyPair, SenderCertificate, ServerCertificate,
    Session, Timestamp, TrustStore, Validity,
};
use rand_core::SeedableRng;

/// The clock of every scenario.
pub(crate) const NOW: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

/// Plaintext sizes of the same-chain scenarios.
pub(crate) const SIZES: [usize; 4] = [32, 256, 4096, 65536];

/// A human label for a byte count: `32B`, `4KiB`.
pub(crate) fn size_label(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

/// A seeded RNG (benchmarks are deterministic up to timing).
pub(crate) fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Bob's account with one one-time X25519 and one one-time ML-KEM prekey, and the bundle
/// the server would hand out for it (wire form).
pub(crate) fn responder(rng: &mut ChaCha20Rng) -> (Account, Vec<u8>) {
    let mut bob = Account::new(NOW, rng);
    bob.generate_one_time_prekeys(1, 1, NOW, rng).unwrap();
    let bundle = bob.published_prekeys().take_bundle().to_bytes();
    (bob, bundle)
}

/// A full session setup: Bob publishes, Alice builds the session and encrypts the first
/// message, Bob builds his side and decrypts it. Returns both sessions.
pub(crate) fn setup(alice: &Account, rng: &mut ChaCha20Rng) -> (Session, Session) {
    let (mut bob, bundle) = responder(rng);
    let bundle = hushwire::PreKeyBundle::from_bytes(&bundle).unwrap();
    let mut a = alice.create_outbound_session(&bundle, rng).unwrap();
    let first = a.encrypt(b"hello", rng).unwrap();
    let b = bob.create_inbound_session(&first, NOW).unwrap().session;
    (a, b)
}

/// An established session (one message each way), Alice's side first, and the RNG.
pub(crate) fn established(seed: u64) -> (ChaCha20Rng, Session, Session) {
    let mut rng = rng(seed);
    let alice = Account::new(NOW, &mut rng);
    let (mut a, mut b) = setup(&alice, &mut rng);
    let reply = b.encrypt(b"hi", &mut rng).unwrap();
    let _ = a.decrypt(&reply).unwrap();
    (rng, a, b)
}

/// A two-member group in which both members hold each other's sender key.
pub(crate) struct GroupPair {
    pub(crate) alice_id: IdentityKeyPair,
    pub(crate) alice: GroupSession,
    pub(crate) bob_id: IdentityKeyPair,
    pub(crate) bob: GroupSession,
}

/// Group setup as two members do it: Alice creates the group with Bob, Bob joins from the
/// welcome, each accepts the other's sender-key distribution.
pub(crate) fn group_setup(
    alice_id: &IdentityKeyPair,
    bob_id: &IdentityKeyPair,
    rng: &mut ChaCha20Rng,
) -> (GroupSession, GroupSession) {
    let created =
        GroupSession::create(alice_id, &[(*bob_id.public(), GroupRole::Member)], rng).unwrap();
    let joined =
        GroupSession::join(bob_id, &created.welcome.bytes, alice_id.public(), rng).unwrap();
    let mut alice = created.session;
    let mut bob = joined.session;
    // Carried by hand: the 1:1 sessions that would authenticate them are not part of this.
    bob.receive_distribution(
        AuthenticatedSender::assume_authenticated(*alice_id.public()),
        &created.distribution.bytes,
    )
    .unwrap();
    alice
        .receive_distribution(
            AuthenticatedSender::assume_authenticated(*bob_id.public()),
            &joined.distribution.bytes,
        )
        .unwrap();
    (alice, bob)
}

impl GroupPair {
    pub(crate) fn new(rng: &mut ChaCha20Rng) -> Self {
        let alice_id = IdentityKeyPair::generate(rng);
        let bob_id = IdentityKeyPair::generate(rng);
        let (alice, bob) = group_setup(&alice_id, &bob_id, rng);
        GroupPair {
            alice_id,
            alice,
            bob_id,
            bob,
        }
    }
}

/// A server operator for sealed sender: a trust root, a server key it certifies, the trust
/// store clients ship with.
pub(crate) struct Deployment {
    pub(crate) root: IssuerKeyPair,
    pub(crate) server: IssuerKeyPair,
    pub(crate) server_cert: ServerCertificate,
    pub(crate) trust: TrustStore,
}

impl Deployment {
    pub(crate) fn new(rng: &mut ChaCha20Rng) -> Self {
        let root = IssuerKeyPair::generate(rng);
        let server = IssuerKeyPair::generate(rng);
        let server_cert = ServerCertificate::issue(
            &root,
            1,
            7,
            &server.public(),
            Validity::new(Timestamp::from_unix_secs(0), NOW.plus_secs(365 * 86_400)).unwrap(),
        );
        let mut trust = TrustStore::new();
        trust.add_root(1, root.public()).unwrap();
        Deployment {
            root,
            server,
            server_cert,
            trust,
        }
    }

    /// A sender certificate for `key`, valid around [`NOW`].
    pub(crate) fn certify(&self, key: &IdentityKey) -> SenderCertificate {
        SenderCertificate::issue(
            &self.server,
            &self.server_cert,
            SenderCertificateInfo {
                serial: 1,
                user_id: b"user-1".to_vec(),
                device_id: 1,
                identity_key: *key,
                validity: Validity::new(
                    Timestamp::from_unix_secs(NOW.as_unix_secs() - 3_600),
                    NOW.plus_secs(86_400),
                )
                .unwrap(),
            },
        )
        .unwrap()
    }
}
