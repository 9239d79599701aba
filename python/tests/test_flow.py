"""The two-party flow of ffi/tests/flow.c, through the Python binding: accounts, a bundle, the
first message, the ratchet both ways, sealed envelopes, a group, persistence, error paths."""

import pytest

import hushwire
from hushwire import (
    Account,
    Group,
    HushwireError,
    Issuer,
    MalformedError,
    ReplayError,
    Session,
    TamperedError,
    TrustStore,
    UntrustedError,
)

NOW = 1_700_000_000
DAY = 86_400


@pytest.fixture
def pair():
    """Alice and Bob, and a session each way (Bob's from Alice's first message)."""
    with Account.create(NOW) as alice, Account.create(NOW) as bob:
        bob.generate_one_time_prekeys(3, 3, NOW)
        a2b = alice.create_outbound_session(bob.prekey_bundle())
        first = a2b.encrypt(b"hi Bob")
        b2a, plaintext = bob.create_inbound_session(first, NOW)
        assert plaintext == b"hi Bob"
        with a2b, b2a:
            yield alice, bob, a2b, b2a


def test_abi_version_matches():
    assert hushwire._lib.hw_abi_version() == hushwire.ABI_VERSION


def test_ratchet_both_ways(pair):
    alice, bob, a2b, b2a = pair
    assert a2b.session_id == b2a.session_id
    assert b2a.remote_identity == alice.identity_key
    assert a2b.remote_identity == bob.identity_key
    for i in range(3):
        assert a2b.decrypt(b2a.encrypt(b"reply %d" % i)) == b"reply %d" % i
        assert b2a.decrypt(a2b.encrypt(b"thanks %d" % i)) == b"thanks %d" % i
    assert b2a.decrypt(a2b.encrypt(b"")) == b""


def test_tampered_message_raises_and_the_session_goes_on(pair):
    _, _, a2b, b2a = pair
    wire = bytearray(b2a.encrypt(b"tamper with me"))
    wire[-1] ^= 1
    with pytest.raises(TamperedError) as caught:
        a2b.decrypt(bytes(wire))
    assert caught.value.kind == "tampered"
    assert caught.value.code.startswith("decrypt.")
    assert caught.value.status == 11
    wire[-1] ^= 1
    assert a2b.decrypt(bytes(wire)) == b"tamper with me"
    with pytest.raises(ReplayError) as caught:
        a2b.decrypt(bytes(wire))
    assert caught.value.kind == "replay"
    assert b2a.decrypt(a2b.encrypt(b"still talking")) == b"still talking"


def test_malformed_bundle_and_replayed_first_message(pair):
    alice, _, _, _ = pair
    with pytest.raises(MalformedError) as caught:
        alice.create_outbound_session(b"\x01\x02\x03")
    assert isinstance(caught.value, HushwireError)
    assert caught.value.code.startswith("decode.")


def test_closed_handles_refuse_use(pair):
    _, _, a2b, _ = pair
    s = Session.from_encrypted(a2b.to_encrypted(bytes(32), 1), bytes(32))
    with s:
        assert s.session_id == a2b.session_id
    with pytest.raises(ValueError):
        s.encrypt(b"after close")
    s.close()  # idempotent


def test_sealed_envelope(pair):
    alice, bob, a2b, b2a = pair
    with Issuer.generate() as root, Issuer.generate() as server, TrustStore.create() as trust:
        server_cert = hushwire.server_certificate(
            root, 1, 7, server.public_key, 0, NOW + 365 * DAY
        )
        cert = hushwire.sender_certificate(
            server, server_cert, 1, b"alice@example.com", 1, alice.identity_key, 0, NOW + DAY
        )
        trust.add_root(1, root.public_key)
        wire = a2b.encrypt(b"sealed hello")
        envelope = hushwire.seal(alice, cert, bob.identity_key, wire, NOW)
        assert hushwire.envelope_recipient(envelope) == bob.identity_key
        opened = hushwire.open_envelope(bob, trust, envelope, NOW + 5)
        assert opened.sender == alice.identity_key
        assert opened.content_type == hushwire.CONTENT_SESSION
        assert opened.sent_at == NOW
        assert b2a.decrypt(opened.message) == b"sealed hello"

        tampered = bytearray(envelope)
        tampered[len(tampered) // 2] ^= 0x40
        with pytest.raises(TamperedError):
            hushwire.open_envelope(bob, trust, bytes(tampered), NOW)
        with pytest.raises(UntrustedError) as caught:
            hushwire.open_envelope(bob, trust, envelope, NOW + 2 * DAY)
        assert caught.value.code == "open.certificate"


def test_group_and_persistence(pair):
    alice, bob, a2b, b2a = pair
    alice_group, welcome, alice_dist = Group.create(alice, [bob.identity_key])
    with alice_group:
        bob_group, bob_dist = Group.join(bob, b2a.decrypt(a2b.encrypt(welcome)), alice.identity_key)
        with bob_group:
            bob_group.receive_distribution(b2a, b2a.decrypt(a2b.encrypt(alice_dist)))
            alice_group.receive_distribution(a2b, a2b.decrypt(b2a.encrypt(bob_dist)))
            assert alice_group.group_id == bob_group.group_id
            message = alice_group.encrypt(b"how can I help?")
            assert bob_group.decrypt(message, NOW) == (alice.identity_key, b"how can I help?")
            with pytest.raises(ReplayError):
                bob_group.decrypt(message, NOW)

            key = bytes(range(32))
            account_blob = bob.to_encrypted(key, 1)
            session_blob = b2a.to_encrypted(key, 1)
            group_blob = bob_group.to_encrypted(key, 1)
            gid = bob_group.group_id

        with pytest.raises(TamperedError) as caught:
            Account.from_encrypted(account_blob, bytes(32))
        assert caught.value.code == "restore.authentication"
        with pytest.raises(ReplayError) as caught:
            Account.from_encrypted(account_blob, key, min_generation=2)
        assert caught.value.code == "restore.rolled_back"
        with pytest.raises(TamperedError) as caught:
            Session.from_encrypted(session_blob, key, 1, expected_peer=bob.identity_key)
        assert caught.value.code == "restore.wrong_object"

        with Account.from_encrypted(account_blob, key, 1) as bob2, Session.from_encrypted(
            session_blob, key, 1, expected_peer=alice.identity_key
        ) as b2a2, Group.from_encrypted(group_blob, key, 1, expected_group=gid) as group2:
            assert bob2.identity_key == bob.identity_key
            assert b2a2.decrypt(a2b.encrypt(b"are you back?")) == b"are you back?"
            assert a2b.decrypt(b2a2.encrypt(b"restored")) == b"restored"
            sender, text = group2.decrypt(alice_group.encrypt(b"group after restore"), NOW)
            assert (sender, text) == (alice.identity_key, b"group after restore")


def test_prekey_maintenance():
    with Account.create(NOW) as bob:
        assert bob.one_time_prekey_counts() == (0, 0)
        bob.generate_one_time_prekeys(4, 2, NOW)
        assert bob.one_time_prekey_counts() == (4, 2)
        assert not bob.prekeys_due_for_rotation(NOW)
        assert bob.prekeys_due_for_rotation(NOW + 365 * DAY)
        bundle = bob.prekey_bundle()
        bob.rotate_prekeys(NOW + 365 * DAY)
        assert not bob.prekeys_due_for_rotation(NOW + 365 * DAY)
        assert bob.prekey_bundle() != bundle


def test_wrong_key_length_is_a_value_error(pair):
    _, _, a2b, _ = pair
    with pytest.raises(ValueError):
        a2b.to_encrypted(b"short", 1)
