"""The two-party flow of ffi/tests/flow.c, through the Python binding: accounts, a bundle, the
first message, the ratchet both ways, sealed envelopes, a group, persistence, roster changes,
attachments, masking, safety numbers, business identities, relay challenges, error paths;
account-held sessions and resets, user identities, short authentication strings, key backup,
secure fields."""

import pytest

import hushwire
from hushwire import (
    Account,
    AttachmentDecryptor,
    AttachmentEncryptor,
    Group,
    HushwireError,
    InvalidArgumentError,
    InvalidInputError,
    Issuer,
    MalformedError,
    OrganizationRoots,
    ReplayError,
    Session,
    TamperedError,
    TrustStore,
    UnknownSessionError,
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
    assert caught.value.fields == {}
    assert caught.value.code.startswith("decrypt.")
    assert caught.value.status == 11
    wire[-1] ^= 1
    assert a2b.decrypt(bytes(wire)) == b"tamper with me"
    with pytest.raises(ReplayError) as caught:
        a2b.decrypt(bytes(wire))
    assert caught.value.kind == "replay"
    assert caught.value.code == "decrypt.duplicate"
    assert isinstance(caught.value.fields["counter"], int)
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


def _file(n):
    return bytes(i * 7 % 251 for i in range(n))


def test_attachment_one_shot_and_tampered():
    invoice = _file(100_000)
    obj, pointer = hushwire.attachment_encrypt(invoice, "application/pdf", "invoice-1042.pdf")
    info = hushwire.attachment_pointer_info(pointer)
    assert info == (len(invoice), len(obj), "application/pdf", "invoice-1042.pdf")
    assert hushwire.attachment_decrypt(pointer, obj) == invoice
    hushwire.attachment_verify_digest(pointer, obj)
    with pytest.raises(TamperedError) as caught:
        hushwire.attachment_verify_digest(pointer, obj[:-1])
    assert caught.value.code == "attachment.truncated"
    tampered = bytearray(obj)
    tampered[500] ^= 1
    with pytest.raises(TamperedError) as caught:
        hushwire.attachment_decrypt(pointer, bytes(tampered))
    assert caught.value.code.startswith("attachment.")
    with pytest.raises(InvalidInputError):
        hushwire.attachment_encrypt(b"x", file_name="../etc/passwd")
    with pytest.raises(InvalidArgumentError):
        hushwire.attachment_encrypt(b"x", content_type=b"\xff")
    with pytest.raises(MalformedError):
        hushwire.attachment_pointer_info(b"junk")


def test_attachment_streamed_in_pieces():
    data = _file(150_000)
    with AttachmentEncryptor.create() as enc:
        obj = enc.push(data[:70_000]) + enc.push(data[70_000:])
        tail, pointer = enc.finish("video/mp4", "clip.mp4")
        obj += tail
        with pytest.raises(InvalidInputError) as caught:
            enc.push(b"late")
        assert caught.value.code == "attachment.finished"
    assert hushwire.attachment_pointer_info(pointer).file_name == "clip.mp4"

    with AttachmentDecryptor.create(pointer) as dec:
        bad = bytearray(obj[:80_000])
        bad[1_000] ^= 0x80
        with pytest.raises(TamperedError) as caught:
            dec.push(bytes(bad))
        assert caught.value.code == "attachment.chunk_tampered"
        assert dec.position == 0
        plain = dec.push(obj[:80_000])
        with pytest.raises(TamperedError):
            dec.finish()
        plain += dec.push(obj[80_000:])
        dec.finish()
    assert plain == data


def test_masking_and_the_receivers_check():
    masked = hushwire.mask("my card is 4242 4242 4242 4242, thanks")
    assert masked.changed
    assert "4242 4242" not in masked.text and masked.text.endswith("4242, thanks")
    hushwire.mask_check(masked.text)
    with pytest.raises(InvalidInputError) as caught:
        hushwire.mask_check("card 4242424242424242")
    assert caught.value.code == "mask_check.unmasked"
    assert hushwire.mask("nothing to hide") == ("nothing to hide", False)
    with pytest.raises(InvalidArgumentError):
        hushwire.mask(b"4\xc02")


def test_safety_number_and_qr(pair):
    alice, bob, _, _ = pair
    a, b = "alice@example.com", "bob@example.com"
    on_alice = hushwire.safety_number(a, alice.identity_key, b, bob.identity_key)
    on_bob = hushwire.safety_number(b, bob.identity_key, a, alice.identity_key)
    assert on_alice == on_bob and len(on_alice) == 60 and on_alice.isdigit()
    shown_by_bob = hushwire.safety_number_qr(b, bob.identity_key, a, alice.identity_key)
    hushwire.verify_scanned_safety_number(a, alice.identity_key, b, bob.identity_key, shown_by_bob)
    with pytest.raises(TamperedError) as caught:
        hushwire.verify_scanned_safety_number(
            a, alice.identity_key, b, alice.identity_key, shown_by_bob
        )
    assert caught.value.code == "verify.other_pair"


def test_operator_business_identity(pair):
    alice, bob, a2b, _ = pair
    with Issuer.generate() as root, Issuer.generate() as org_key, \
            OrganizationRoots.create() as roots:
        key_cert = hushwire.server_certificate(root, 1, 5, org_key.public_key, 0, NOW + 365 * DAY)
        cert = hushwire.identity_certificate(
            org_key, key_cert, 9, "Acme Bank", "Dana Smith", "Card support",
            bob.identity_key, NOW, NOW + 7 * DAY,
        )
        with pytest.raises(UntrustedError) as caught:
            hushwire.verify_operator(cert, a2b.remote_identity, roots, NOW + 60)
        assert caught.value.code == "verify.foreign_organization"
        roots.pin(1, root.public_key, "Acme Bank")
        who = hushwire.verify_operator(cert, a2b.remote_identity, roots, NOW + 60)
        assert str(who) == "verified as Acme Bank, Dana Smith, Card support"
        assert (who.organization, who.operator_name, who.role) == (
            "Acme Bank", "Dana Smith", "Card support"
        )
        assert who.valid_until == NOW + 7 * DAY
        with pytest.raises(TamperedError):
            hushwire.verify_operator(cert, alice.identity_key, roots, NOW + 60)
        with pytest.raises(UntrustedError):
            hushwire.verify_operator(cert, bob.identity_key, roots, NOW + 8 * DAY)
        roots.revoke_certificate(1, 5, 9)
        with pytest.raises(UntrustedError) as caught:
            hushwire.verify_operator(cert, bob.identity_key, roots, NOW + 60)
        assert caught.value.code == "verify.revoked"
        assert roots.unpin(1) and not roots.unpin(1)


def test_relay_challenge(pair):
    alice, bob, _, _ = pair
    challenge = b"relay.example.com 0123456789abcdef"
    signature = alice.sign_relay_challenge(challenge)
    assert len(signature) == 64
    assert hushwire.relay_challenge_verify(alice.identity_key, challenge, signature)
    assert not hushwire.relay_challenge_verify(bob.identity_key, challenge, signature)


def test_roster_changes(pair):
    alice, bob, a2b, b2a = pair
    alice_group, welcome, alice_dist = Group.create(alice, [bob.identity_key])
    with alice_group, Account.create(NOW) as carol:
        bob_group, bob_dist = Group.join(bob, b2a.decrypt(a2b.encrypt(welcome)), alice.identity_key)
        with bob_group:
            bob_group.receive_distribution(b2a, b2a.decrypt(a2b.encrypt(alice_dist)))
            alice_group.receive_distribution(a2b, a2b.decrypt(b2a.encrypt(bob_dist)))
            with pytest.raises(TamperedError) as caught:
                bob_group.add_member(bob, carol.identity_key)
            assert caught.value.code == "roster.not_admin"

            change, carol_welcome, dist = alice_group.add_member(alice, carol.identity_key)
            assert change and carol_welcome and dist
            assert bob_group.apply_roster_change(bob, change, NOW)
            with pytest.raises(ReplayError):
                bob_group.apply_roster_change(bob, change, NOW)
            carol_group, _ = Group.join(carol, carol_welcome, alice.identity_key)
            with carol_group:
                change, dist = alice_group.remove_member(alice, carol.identity_key, NOW)
                bob_group.apply_roster_change(bob, change, NOW)
                carol_group.apply_roster_change(carol, change, NOW)
                assert not carol_group.is_member
            assert sorted(bob_group.members()) == sorted(
                [(alice.identity_key, True), (bob.identity_key, False)]
            )
            assert alice_group.epoch >= 2 and alice_group.is_member
            bob_group.receive_distribution(b2a, b2a.decrypt(a2b.encrypt(dist)))
            message = alice_group.encrypt(b"Carol has left")
            assert bob_group.decrypt(message, NOW) == (alice.identity_key, b"Carol has left")

            with pytest.raises(InvalidInputError) as caught:
                alice_group.leave(alice)
            assert caught.value.code == "roster.last_admin"
            bob_group.apply_roster_change(bob, alice_group.set_role(alice, bob.identity_key, True),
                                          NOW)
            fresh = alice_group.rotate_sender_key(alice)
            bob_group.receive_distribution(b2a, b2a.decrypt(a2b.encrypt(fresh)))
            assert bob_group.decrypt(alice_group.encrypt(b"new key"), NOW)[1] == b"new key"
            alice_group.apply_roster_change(alice, bob_group.leave(bob), NOW)


# ─── account-held sessions, resets, identities, SAS, backup ──────────────────────────────────


def test_account_held_sessions_and_a_reset():
    with Account.create(NOW) as ann, Account.create(NOW) as ben:
        ben.generate_one_time_prekeys(2, 2, NOW)
        a, b = ann.identity_key, ben.identity_key
        started, events = ann.start_session(ben.prekey_bundle())
        assert events == []
        got = ben.decrypt_from(a, ann.encrypt_for(b, b"hello Ben"), NOW)
        assert got.plaintext == b"hello Ben" and got.session_id == started
        assert "event.session_established" in got.events
        assert ann.decrypt_from(b, ben.encrypt_for(a, b"hi"), NOW).plaintext == b"hi"
        assert ann.peers() == [b] and ann.sessions_with(b) == [started]

        wire = bytearray(ben.encrypt_for(a, b"real"))
        wire[-1] ^= 1
        with pytest.raises(TamperedError) as e:
            ann.decrypt_from(b, bytes(wire), NOW)
        assert e.value.reset_reason == hushwire.RESET_NONE
        assert e.value.code == "peer.decrypt"
        assert e.value.fields["error"]["kind"] == "tampered"
        assert e.value.fields["error"]["code"].startswith("decrypt.")
        assert ann.decrypt_from(b, ben.encrypt_for(a, b"on"), NOW).plaintext == b"on"

        assert ben.forget_peer(a)
        with pytest.raises(UnknownSessionError) as e:
            ben.decrypt_from(a, ann.encrypt_for(b, b"there?"), NOW)
        assert e.value.code == "peer.unknown_peer"
        assert e.value.reset_reason == hushwire.RESET_NO_SESSION
        request = ben.reset_request(a, e.value.reset_reason, NOW - 60, NOW)
        with pytest.raises(hushwire.LimitExceededError) as limited:
            ben.reset_request(a, hushwire.RESET_NO_SESSION, NOW, NOW + 1)
        assert limited.value.code == "reset.rate_limited"
        assert limited.value.fields["retry_after_secs"] > 0
        info = hushwire.reset_request_info(request)
        assert info == (b, hushwire.RESET_NO_SESSION, NOW - 60)
        answered = ann.answer_reset(request, ben.prekey_bundle(), NOW + 5)
        assert answered.resend_since == NOW - 60
        assert answered.events == ["event.session_reset"]
        with pytest.raises(ReplayError):
            ann.answer_reset(request, ben.prekey_bundle(), NOW + 6)
        got = ben.decrypt_from(a, ann.encrypt_for(b, b"again"), NOW)
        assert got.plaintext == b"again" and got.session_id == answered.session_id
        assert "event.session_reset" in got.events


def test_a_changed_verified_key_is_refused_until_accepted():
    with Account.create(NOW) as ann, Account.create(NOW) as ben, Account.create(NOW) as new:
        user = "ben@example.com"
        assert ann.verification_state(user) == (hushwire.VERIFICATION_UNKNOWN, None)
        assert ann.record_identity(user, ben.identity_key, NOW) == []
        ann.mark_verified(user, ben.identity_key, NOW)
        assert ann.verification_state(user) == (hushwire.VERIFICATION_VERIFIED, ben.identity_key)
        assert ann.record_identity(user, new.identity_key, NOW) == ["event.identity_changed"]
        with pytest.raises(UntrustedError) as e:
            ann.encrypt_for(new.identity_key, b"x")
        assert e.value.code == "peer.identity_changed"
        with pytest.raises(InvalidInputError):
            ann.mark_verified(user, ben.identity_key, NOW)
        assert ann.is_identity_blocked(new.identity_key)
        ann.accept_identity_change(user, new.identity_key)
        assert not ann.is_identity_blocked(new.identity_key)
        assert ann.verification_state(user)[0] == hushwire.VERIFICATION_UNVERIFIED
        ann.mark_verified(user, new.identity_key, NOW)
        assert ann.clear_verification(user)
        assert ann.verification_state(user)[0] == hushwire.VERIFICATION_UNVERIFIED
        assert ann.clear_verification(user, forget=True)
        assert ann.verification_state(user) == (hushwire.VERIFICATION_UNKNOWN, None)


def test_sas_on_sessions_and_on_account_held_ones(pair):
    alice, bob, a2b, b2a = pair
    with pytest.raises(InvalidInputError) as e:
        hushwire.Sas.start(NOW, session=a2b)
    assert e.value.code == "verify.session_not_established"
    assert a2b.decrypt(b2a.encrypt(b"hello")) == b"hello"
    starter, start = hushwire.Sas.start(NOW, session=a2b)
    accepter, accept = hushwire.Sas.accept(b2a.decrypt(a2b.encrypt(start)), NOW, session=b2a)
    reveal = starter.receive_accept(accept, NOW, session=a2b)
    wrong = bytearray(reveal)
    wrong[-1] ^= 1
    with pytest.raises(TamperedError):
        accepter.receive_reveal(bytes(wrong), NOW, session=b2a)
    assert not accepter.is_ready
    accepter.receive_reveal(reveal, NOW, session=b2a)
    with starter, accepter:
        assert starter.emoji == accepter.emoji and len(starter.emoji) == 7
        assert starter.decimal == accepter.decimal and len(starter.decimal.split()) == 3
        assert starter.emoji_text == accepter.emoji_text
        assert starter.remote_identity == bob.identity_key
        assert accepter.remote_identity == alice.identity_key

    with Account.create(NOW) as ann, Account.create(NOW) as ben:
        a, b = ann.identity_key, ben.identity_key
        ann.start_session(ben.prekey_bundle())
        ben.decrypt_from(a, ann.encrypt_for(b, b"hi"), NOW)
        ann.decrypt_from(b, ben.encrypt_for(a, b"hello"), NOW)
        s1, start = hushwire.Sas.start(NOW, account=ann, peer=b)
        s2, accept = hushwire.Sas.accept(start, NOW, account=ben, peer=a)
        s2.receive_reveal(s1.receive_accept(accept, NOW, account=ann, peer=b), NOW,
                          account=ben, peer=a)
        with s1, s2:
            assert s1.decimal == s2.decimal
            ann.mark_verified("ben", s1.remote_identity, NOW)


def test_key_backup_and_restore(pair):
    alice, bob, a2b, b2a = pair
    group, welcome, dist = Group.create(alice, [bob.identity_key])
    with hushwire.RecoveryKey.generate() as key:
        shown = key.to_display()
        assert len(shown) == 65
        writer, _first = hushwire.BackupWriter.create(key, NOW)
        entries = b""
        appended = writer.append_group(group, NOW)
        entries += appended.entries
        appended = writer.append_account(alice, True, NOW)
        entries += appended.entries
        appended = writer.append_app_data(b"\x07" * 32, b"device list", NOW)
        entries += appended.entries
        assert (writer.counter, writer.entry_count) == (3, 4)
        assert writer.manifest == appended.manifest
        stored = hushwire.backup_encode(appended.manifest, entries)
        with pytest.raises(InvalidArgumentError):
            hushwire.backup_encode(appended.manifest, entries[:-1])

        typo = ("8" if shown[0] == "7" else "7") + shown[1:]
        with pytest.raises(InvalidInputError) as e:
            hushwire.RecoveryKey.from_display(typo)
        assert e.value.code == "backup.recovery_key_mistyped"
        with hushwire.RecoveryKey.from_display(shown.lower()) as typed:
            with pytest.raises(ReplayError):
                hushwire.backup_restore(typed, stored, 4)
            altered = bytearray(stored)
            altered[-40] ^= 1
            with pytest.raises(TamperedError):
                hushwire.backup_restore(typed, bytes(altered), 0)
            with hushwire.backup_restore(typed, stored, 3) as restored:
                assert (restored.counter, restored.written_at) == (3, NOW)
                assert restored.has_identity
                assert restored.sessions_to_restart == [bob.identity_key]
                assert restored.app_data() == [(b"\x07" * 32, b"device list")]
                groups = restored.groups()
                assert [g.group_id for g in groups] == [group.group_id]
                for g in groups:
                    g.close()
                with restored.to_account(NOW) as device:
                    assert device.identity_key == alice.identity_key
        with hushwire.RecoveryKey.generate() as other:
            with pytest.raises(TamperedError) as e:
                hushwire.backup_restore(other, stored, 0)
            assert e.value.code == "backup.wrong_recovery_key"

        public, seed = writer.export()
        with hushwire.BackupWriter.resume(public, seed, writer.manifest) as resumed:
            newer = resumed.append_app_data(b"\x07" * 32, b"v2", NOW).manifest
        writer.accept_manifest(newer)
        assert writer.counter == 4
        second, _ = hushwire.BackupWriter.enroll(key, newer, NOW)
        second.close()
        writer.close()
    group.close()


def test_secure_field_to_a_vault(pair):
    alice, bob, _, _ = pair
    with Issuer.generate() as root, Issuer.generate() as server, TrustStore.create() as trust:
        server_cert = hushwire.server_certificate(
            root, 1, 7, server.public_key, 0, NOW + 365 * DAY
        )
        cert = hushwire.sender_certificate(
            server, server_cert, 1, b"alice@example.com", 1, alice.identity_key, 0, NOW + DAY
        )
        trust.add_root(1, root.public_key)
        card = "4242 4242 4242 4242"
        field = hushwire.secure_field_seal(
            alice, cert, bob.identity_key, hushwire.KIND_CARD, hushwire.POLICY_KEEP_LAST4, card,
            NOW,
        )
        info = hushwire.masked_field_info(field.masked_field)
        assert info.masked == " ".join(["\u2022" * 4] * 3 + ["4242"])
        assert (info.kind, info.policy) == (hushwire.KIND_CARD, hushwire.POLICY_KEEP_LAST4)
        with pytest.raises(InvalidArgumentError):
            hushwire.secure_field_seal(alice, cert, bob.identity_key, 0x10, 1, card, NOW)
        with pytest.raises(InvalidInputError) as e:
            hushwire.secure_field_seal(alice, cert, bob.identity_key, 1, 1, "", NOW)
        assert e.value.code == "secure_field.empty_value"
        with hushwire.VaultedField.open(bob, trust, field.envelope, NOW) as vaulted:
            vaulted.verify(field.masked_field)
            altered = bytearray(field.masked_field)
            altered[10] ^= 1
            with pytest.raises(TamperedError) as e:
                vaulted.verify(bytes(altered))
            assert e.value.code == "secure_field.mismatch"
            assert vaulted.value() == (card, info.reference, hushwire.KIND_CARD,
                                       alice.identity_key)


def test_passphrase_wrapped_recovery_key_and_maintenance_events():
    with hushwire.RecoveryKey.generate() as key:
        with pytest.raises(hushwire.LimitExceededError):
            key.wrap("pass", 1, 1, 1)
        wrapped = key.wrap("correct horse", 8, 1, 1)
        writer, manifest = hushwire.BackupWriter.create(key, NOW, wrapped)
        with writer:
            stored = hushwire.backup_encode(manifest, b"", wrapped)
        with pytest.raises(TamperedError):
            hushwire.backup_unwrap_recovery_key(stored, "wrong")
        with hushwire.backup_unwrap_recovery_key(stored, "correct horse") as opened:
            assert opened.to_display() == key.to_display()
            hushwire.backup_restore(opened, stored).close()
    with Account.create(NOW) as account:
        assert account.maintenance_events(NOW) == ["event.one_time_prekeys_low"]
        assert "event.prekey_rotation_due" in account.maintenance_events(NOW + 365 * DAY)


def test_mask_find_session_limits_and_an_identity_book_applied():
    text = "n\u00ba card 4242 4242 4242 4242, thanks"
    (found,) = hushwire.mask_find(text)
    assert (found.kind, found.policy) == (hushwire.KIND_CARD, hushwire.POLICY_KEEP_LAST4)
    assert text[found.start : found.end] == "4242 4242 4242 4242"
    assert hushwire.mask_find("hello") == []
    with Account.create(NOW) as account, Account.create(NOW) as other:
        with pytest.raises(InvalidInputError):
            account.set_session_config(0, 1, 1, 1)
        account.set_session_config(500, 1000, 5, 4)
        assert account.session_config() == (500, 1000, 5, 4)
        account.mark_verified("bob", other.identity_key, NOW)
        with hushwire.RecoveryKey.generate() as key:
            writer, _ = hushwire.BackupWriter.create(key, NOW)
            with writer:
                appended = writer.append_account(account, False, NOW)
            stored = hushwire.backup_encode(appended.manifest, appended.entries)
            with hushwire.backup_restore(key, stored) as restored, Account.create(NOW) as fresh:
                restored.apply_identity_book(fresh)
                assert fresh.verification_state("bob")[0] == hushwire.VERIFICATION_VERIFIED


def test_attachment_range_and_thumbnail():
    data = bytes(i * 7 % 251 for i in range(300_000))
    obj, pointer = hushwire.attachment_encrypt(data)
    start, end = hushwire.attachment_object_range(pointer, 100_000, 200_123)
    part = hushwire.attachment_decrypt_range(pointer, 100_000, 200_123, obj[start:end])
    assert part == data[100_000:200_123]
    altered = bytearray(obj[start:end])
    altered[100] ^= 1
    with pytest.raises(TamperedError):
        hushwire.attachment_decrypt_range(pointer, 100_000, 200_123, bytes(altered))
    assert hushwire.attachment_thumbnail(pointer) == b""
    with_thumb = hushwire.attachment_set_thumbnail(pointer, b"tiny jpeg")
    assert hushwire.attachment_thumbnail(with_thumb) == b"tiny jpeg"
    assert hushwire.attachment_decrypt(with_thumb, obj) == data


def test_labelled_blobs_restore_only_into_their_slot(pair):
    alice, bob, a2b, b2a = pair
    key = bytes([5]) * 32
    blob = hushwire.session_to_encrypted_labeled(b2a, key, b"session/alice/phone", 7)
    assert hushwire.blob_info(blob)[:2] == (2, 7)
    with pytest.raises(TamperedError) as e:
        hushwire.session_from_encrypted_labeled(blob, key, b"other", 0, alice.identity_key)
    assert e.value.code == "restore.wrong_object"
    with hushwire.session_from_encrypted_labeled(
        blob, key, b"session/alice/phone", 7, alice.identity_key
    ) as copy:
        assert copy.session_id == b2a.session_id
    ablob = hushwire.account_to_encrypted_labeled(bob, key, b"account", 1)
    with hushwire.account_from_encrypted_labeled(ablob, key, b"account") as again:
        assert again.identity_key == bob.identity_key
    group, _, _ = Group.create(alice, [bob.identity_key])
    with group:
        gblob = hushwire.group_to_encrypted_labeled(group, key, b"group/1", 1)
        with hushwire.group_from_encrypted_labeled(gblob, key, b"group/1", 1, group.group_id) as g:
            assert g.group_id == group.group_id
        with pytest.raises(TamperedError):
            hushwire.group_from_encrypted_labeled(gblob, key, b"group/2")


def test_a_configured_masker():
    text = "card 4242 4242 4242 4242, mail dana@example.com"
    email = hushwire.mask_find(text)[1]
    assert (email.kind, email.policy) == (hushwire.KIND_EMAIL, hushwire.POLICY_FLAG_ONLY)
    with hushwire.Masker.create(hushwire.POLICY_KEEP_FIRST6_LAST4, 0,
                                hushwire.POLICY_MASK_ALL) as pci:
        masked = pci.mask(text)
        assert masked.changed and "4242 42" in masked.text and "dana@" not in masked.text
        pci.check(masked.text)
        with pytest.raises(InvalidInputError):
            pci.check(text)
        assert [f.policy for f in pci.find(text)] == [
            hushwire.POLICY_KEEP_FIRST6_LAST4, hushwire.POLICY_MASK_ALL
        ]
    with pytest.raises(InvalidArgumentError):
        hushwire.Masker.create(9)


def test_small_chunks_one_at_a_time():
    data = bytes(i * 7 % 251 for i in range(20_000))
    with pytest.raises(InvalidInputError):
        AttachmentEncryptor.create(30)
    with AttachmentEncryptor.create(12) as enc:
        obj = enc.push(data)
        tail, pointer = enc.finish()
        obj += tail
    start, end, chunks = hushwire.attachment_chunk_range(pointer, 1)
    assert chunks >= 5
    assert hushwire.attachment_decrypt_chunk(pointer, 1, obj[start:end]) == data[4096:8192]
    with pytest.raises(TamperedError):
        hushwire.attachment_decrypt_chunk(pointer, 2, obj[start:end])


def test_sealed_envelopes_straight_into_sessions(pair):
    alice, bob, a2b, b2a = pair
    with Issuer.generate() as root, Issuer.generate() as server, TrustStore.create() as trust:
        server_cert = hushwire.server_certificate(
            root, 1, 7, server.public_key, 0, NOW + 365 * DAY
        )
        cert = hushwire.sender_certificate(
            server, server_cert, 1, b"alice@example.com", 1, alice.identity_key, 0, NOW + DAY
        )
        trust.add_root(1, root.public_key)
        envelope = hushwire.seal(alice, cert, bob.identity_key, a2b.encrypt(b"one call"), NOW)
        with pytest.raises(InvalidInputError):
            hushwire.session_open_and_decrypt(bob, a2b, trust, envelope, NOW)
        assert hushwire.session_open_and_decrypt(bob, b2a, trust, envelope, NOW) == (
            b"one call", alice.identity_key
        )
        with Account.create(NOW) as ann:
            ann_cert = hushwire.sender_certificate(
                server, server_cert, 2, b"ann", 1, ann.identity_key, 0, NOW + DAY
            )
            ann.start_session(bob.prekey_bundle())
            sealed = hushwire.seal(ann, ann_cert, bob.identity_key,
                                   ann.encrypt_for(bob.identity_key, b"hi Bob"), NOW)
            got = hushwire.account_open_and_decrypt(bob, trust, sealed, NOW)
            assert (got.plaintext, got.sender) == (b"hi Bob", ann.identity_key)
            assert "event.session_established" in got.events
            bob.forget_peer(ann.identity_key)
            again = hushwire.seal(ann, ann_cert, bob.identity_key,
                                  ann.encrypt_for(bob.identity_key, b"lost"), NOW)
            with pytest.raises(HushwireError) as e:
                hushwire.account_open_and_decrypt(bob, trust, again, NOW)
            assert e.value.reset_reason == hushwire.RESET_NO_SESSION
            assert e.value.sender == ann.identity_key


def test_multi_recipient_envelopes(pair):
    alice, bob, _, _ = pair
    with Issuer.generate() as root, Issuer.generate() as server, TrustStore.create() as trust, \
            Account.create(NOW) as carol:
        server_cert = hushwire.server_certificate(
            root, 1, 7, server.public_key, 0, NOW + 365 * DAY
        )
        cert = hushwire.sender_certificate(
            server, server_cert, 1, b"alice@example.com", 1, alice.identity_key, 0, NOW + DAY
        )
        trust.add_root(1, root.public_key)
        keys = [bob.identity_key, carol.identity_key]
        multi = hushwire.seal_multi(alice, cert, keys, b"to all", NOW, 0x80)
        for account in (bob, carol):
            envelope, listed = hushwire.multi_recipient_envelope(multi, account.identity_key)
            assert listed == keys
            assert hushwire.open_envelope(account, trust, envelope, NOW).message == b"to all"
        with pytest.raises(InvalidInputError):
            hushwire.seal_multi(alice, cert, [bob.identity_key] * 2, b"x", NOW)
        with pytest.raises(InvalidArgumentError):
            hushwire.multi_recipient_envelope(multi, alice.identity_key)
