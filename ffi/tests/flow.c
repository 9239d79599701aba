/*
 * Two parties through the C ABI: accounts, a prekey bundle, the first message, the ratchet
 * both ways, sealed envelopes, a group, a persistence round trip, and error paths (a tampered
 * message returns HW_TAMPERED and the session still works; NULL arguments; replays; wrong
 * storage keys). Every handle and buffer is freed: run under ASan/UBSan and valgrind.
 *
 *   cc -Wall -Wextra -Werror -Iffi/include ffi/tests/flow.c -Ltarget/release -lhushwire_ffi
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hushwire.h"

#define NOW 1700000000ULL
#define DAY 86400ULL

static int passed = 0;
static int failed = 0;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (cond) {                                                                      \
            passed++;                                                                    \
        } else {                                                                         \
            failed++;                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

/* A call that must succeed: on failure, print its error and stop (the rest depends on it). */
#define MUST(call)                                                                       \
    do {                                                                                 \
        hw_error *must_err_ = NULL;                                                      \
        hw_status must_status_ = (call);                                                 \
        if (must_status_ != HW_OK) {                                                     \
            fprintf(stderr, "%s:%d: %s failed: status %d, %s: %s\n", __FILE__, __LINE__, \
                    #call, (int)must_status_, hw_error_code(must_err_),                  \
                    hw_error_message(must_err_));                                        \
            hw_error_free(must_err_);                                                    \
            exit(1);                                                                     \
        }                                                                                \
        passed++;                                                                        \
    } while (0)
/* MUST's error out-parameter, for the call inside it. */
#define ERR (&must_err_)

static int bytes_eq(const hw_bytes *b, const char *text) {
    size_t n = strlen(text);
    return b->len == n && (n == 0 || memcmp(b->data, text, n) == 0);
}

/* Encrypts `text` on `from`, decrypts it on `to`, and checks the plaintext. */
static void send_and_read(hw_session *from, hw_session *to, const char *text) {
    hw_bytes wire = {0}, plain = {0};
    MUST(hw_session_encrypt(from, (const uint8_t *)text, strlen(text), &wire, ERR));
    MUST(hw_session_decrypt(to, wire.data, wire.len, &plain, ERR));
    CHECK(bytes_eq(&plain, text));
    hw_bytes_free(&wire);
    hw_bytes_free(&plain);
}

/* Sends `payload` over a 1:1 session and returns what the other side decrypted. */
static hw_bytes carry(hw_session *from, hw_session *to, const hw_bytes *payload) {
    hw_bytes wire = {0}, plain = {0};
    MUST(hw_session_encrypt(from, payload->data, payload->len, &wire, ERR));
    MUST(hw_session_decrypt(to, wire.data, wire.len, &plain, ERR));
    hw_bytes_free(&wire);
    return plain;
}

int main(void) {
    uint8_t alice_id[32], bob_id[32], id_a[32], id_b[32];
    hw_account *alice = NULL, *bob = NULL;
    hw_session *a2b = NULL, *b2a = NULL;

    CHECK(hw_abi_version() == 1);

    /* ── accounts, bundle, first message ─────────────────────────────────────────────── */
    MUST(hw_account_new(NOW, &alice, ERR));
    MUST(hw_account_new(NOW, &bob, ERR));
    MUST(hw_account_identity_key(alice, &alice_id, ERR));
    MUST(hw_account_identity_key(bob, &bob_id, ERR));
    CHECK(memcmp(alice_id, bob_id, 32) != 0);
    MUST(hw_account_generate_one_time_prekeys(bob, 5, 5, NOW, ERR));
    {
        size_t x25519 = 0, kem = 0;
        uint8_t due = 1;
        MUST(hw_account_one_time_prekey_counts(bob, &x25519, &kem, ERR));
        CHECK(x25519 == 5 && kem == 5);
        MUST(hw_account_prekeys_due_for_rotation(bob, NOW, &due, ERR));
        CHECK(due == 0);
        MUST(hw_account_prekeys_due_for_rotation(bob, NOW + 365 * DAY, &due, ERR));
        CHECK(due == 1);
    }

    hw_bytes bundle = {0};
    MUST(hw_account_prekey_bundle(bob, &bundle, ERR));
    MUST(hw_account_create_outbound_session(alice, bundle.data, bundle.len, &a2b, ERR));
    hw_bytes_free(&bundle);
    CHECK(bundle.data == NULL && bundle.len == 0);

    const char *hello = "hi Bob, is my order shipped?";
    hw_bytes first = {0}, plain = {0};
    MUST(hw_session_encrypt(a2b, (const uint8_t *)hello, strlen(hello), &first, ERR));
    MUST(hw_account_create_inbound_session(bob, first.data, first.len, NOW, &b2a, &plain, ERR));
    CHECK(bytes_eq(&plain, hello));
    hw_bytes_free(&plain);

    /* The same prekey message again: a replay, refused, nothing created. */
    {
        hw_session *again = NULL;
        hw_error *err = NULL;
        hw_status s = hw_account_create_inbound_session(bob, first.data, first.len, NOW, &again,
                                                        &plain, &err);
        CHECK(s != HW_OK);
        CHECK(again == NULL);
        CHECK(err != NULL && hw_error_status(err) == s);
        hw_error_free(err);
    }
    hw_bytes_free(&first);

    MUST(hw_session_id(a2b, &id_a, ERR));
    MUST(hw_session_id(b2a, &id_b, ERR));
    CHECK(memcmp(id_a, id_b, 32) == 0);
    MUST(hw_session_remote_identity(b2a, &id_b, ERR));
    CHECK(memcmp(id_b, alice_id, 32) == 0);

    /* ── the ratchet both ways ───────────────────────────────────────────────────────── */
    for (int i = 0; i < 3; i++) {
        send_and_read(b2a, a2b, "yes, it left this morning");
        send_and_read(a2b, b2a, "thanks!");
        send_and_read(a2b, b2a, "and the invoice?");
    }

    /* ── error paths: tampered, replayed, NULL, malformed ────────────────────────────── */
    {
        const char *text = "tamper with me";
        hw_bytes wire = {0}, out = {0};
        hw_error *err = NULL;
        MUST(hw_session_encrypt(b2a, (const uint8_t *)text, strlen(text), &wire, ERR));
        wire.data[wire.len - 1] ^= 0x01;
        hw_status s = hw_session_decrypt(a2b, wire.data, wire.len, &out, &err);
        CHECK(s == HW_TAMPERED);
        CHECK(strcmp(hw_error_kind(err), "tampered") == 0);
        CHECK(strncmp(hw_error_code(err), "decrypt.", 8) == 0);
        CHECK(strlen(hw_error_message(err)) > 0);
        CHECK(out.data == NULL);
        hw_error_free(err);
        err = NULL;
        /* The session still works: the genuine message decrypts, and once only. */
        wire.data[wire.len - 1] ^= 0x01;
        MUST(hw_session_decrypt(a2b, wire.data, wire.len, &out, ERR));
        CHECK(bytes_eq(&out, text));
        hw_bytes_free(&out);
        s = hw_session_decrypt(a2b, wire.data, wire.len, &out, &err);
        CHECK(s == HW_REPLAY);
        CHECK(strcmp(hw_error_kind(err), "replay") == 0);
        hw_error_free(err);
        err = NULL;
        hw_bytes_free(&wire);
        send_and_read(a2b, b2a, "still talking");

        /* NULL handle, NULL buffer with a length, NULL output: their own status. */
        CHECK(hw_session_encrypt(NULL, (const uint8_t *)"x", 1, &wire, NULL) == HW_NULL_ARGUMENT);
        CHECK(hw_session_encrypt(a2b, NULL, 1, &wire, NULL) == HW_NULL_ARGUMENT);
        CHECK(hw_session_encrypt(a2b, (const uint8_t *)"x", 1, NULL, &err) == HW_NULL_ARGUMENT);
        CHECK(strcmp(hw_error_code(err), "ffi.null_argument") == 0);
        hw_error_free(err);
        err = NULL;
        CHECK(hw_account_new(NOW, NULL, NULL) == HW_NULL_ARGUMENT);
        /* Garbage where a bundle goes. */
        hw_session *none = NULL;
        const uint8_t junk[5] = {1, 2, 3, 4, 5};
        CHECK(hw_account_create_outbound_session(alice, junk, sizeof junk, &none, NULL) ==
              HW_MALFORMED);
        CHECK(none == NULL);
        /* Freeing NULL is a no-op. */
        hw_session_free(NULL);
        hw_bytes_free(NULL);
        hw_error_free(NULL);
        CHECK(strcmp(hw_error_code(NULL), "") == 0);
        send_and_read(b2a, a2b, "after the errors");
    }

    /* ── sealed envelopes ────────────────────────────────────────────────────────────── */
    {
        hw_issuer *root = NULL, *server = NULL;
        hw_trust_store *trust = NULL;
        uint8_t root_key[32], server_key[32], sender[32];
        hw_bytes server_cert = {0}, alice_cert = {0};
        MUST(hw_issuer_new(&root, ERR));
        MUST(hw_issuer_new(&server, ERR));
        MUST(hw_issuer_public_key(root, &root_key, ERR));
        MUST(hw_issuer_public_key(server, &server_key, ERR));
        MUST(hw_server_certificate_issue(root, 1, 7, server_key, 0, NOW + 365 * DAY,
                                         &server_cert, ERR));
        const char *user = "alice@example.com";
        MUST(hw_sender_certificate_issue(server, server_cert.data, server_cert.len, 1,
                                         (const uint8_t *)user, strlen(user), 1, alice_id, 0,
                                         NOW + DAY, &alice_cert, ERR));
        MUST(hw_trust_store_new(&trust, ERR));
        MUST(hw_trust_store_add_root(trust, 1, root_key, ERR));

        const char *text = "sealed: the relay does not see who sent this";
        hw_bytes wire = {0}, envelope = {0}, inner = {0}, out = {0};
        uint8_t content_type = 0;
        uint64_t sent_at = 0;
        MUST(hw_session_encrypt(a2b, (const uint8_t *)text, strlen(text), &wire, ERR));
        MUST(hw_seal(alice, alice_cert.data, alice_cert.len, bob_id, 1, NOW, 0, wire.data,
                     wire.len, &envelope, ERR));
        uint8_t routed_to[32];
        MUST(hw_envelope_recipient(envelope.data, envelope.len, &routed_to, ERR));
        CHECK(memcmp(routed_to, bob_id, 32) == 0);
        MUST(hw_open(bob, trust, envelope.data, envelope.len, NOW + 5, &inner, &sender,
                     &content_type, &sent_at, ERR));
        CHECK(memcmp(sender, alice_id, 32) == 0);
        CHECK(content_type == 1);
        CHECK(sent_at == NOW);
        CHECK(inner.len == wire.len && memcmp(inner.data, wire.data, wire.len) == 0);
        MUST(hw_session_decrypt(b2a, inner.data, inner.len, &out, ERR));
        CHECK(bytes_eq(&out, text));
        hw_bytes_free(&inner);
        hw_bytes_free(&out);

        /* A tampered envelope is refused; Alice cannot open Bob's; an expired certificate
         * is not trusted. */
        hw_error *err = NULL;
        envelope.data[envelope.len / 2] ^= 0x40;
        CHECK(hw_open(bob, trust, envelope.data, envelope.len, NOW, &inner, NULL, NULL, NULL,
                      &err) == HW_TAMPERED);
        CHECK(inner.data == NULL);
        hw_error_free(err);
        err = NULL;
        envelope.data[envelope.len / 2] ^= 0x40;
        CHECK(hw_open(alice, trust, envelope.data, envelope.len, NOW, &inner, NULL, NULL, NULL,
                      NULL) != HW_OK);
        CHECK(hw_open(bob, trust, envelope.data, envelope.len, NOW + 2 * DAY, &inner, NULL, NULL,
                      NULL, &err) == HW_UNTRUSTED);
        CHECK(strcmp(hw_error_code(err), "open.certificate") == 0);
        hw_error_free(err);

        hw_bytes_free(&wire);
        hw_bytes_free(&envelope);
        hw_bytes_free(&server_cert);
        hw_bytes_free(&alice_cert);
        hw_trust_store_free(trust);
        hw_issuer_free(root);
        hw_issuer_free(server);
    }

    /* ── a group ─────────────────────────────────────────────────────────────────────── */
    hw_group *alice_group = NULL, *bob_group = NULL;
    {
        hw_bytes welcome = {0}, alice_dist = {0}, bob_dist = {0}, got = {0}, msg = {0}, out = {0};
        uint8_t sender[32], gid_a[32], gid_b[32];
        MUST(hw_group_create(alice, bob_id, 1, &alice_group, &welcome, &alice_dist, ERR));
        got = carry(a2b, b2a, &welcome);
        MUST(hw_group_join(bob, got.data, got.len, alice_id, &bob_group, &bob_dist, ERR));
        hw_bytes_free(&got);
        got = carry(a2b, b2a, &alice_dist);
        MUST(hw_group_receive_distribution(bob_group, b2a, got.data, got.len, ERR));
        hw_bytes_free(&got);
        got = carry(b2a, a2b, &bob_dist);
        MUST(hw_group_receive_distribution(alice_group, a2b, got.data, got.len, ERR));
        hw_bytes_free(&got);
        MUST(hw_group_id(alice_group, &gid_a, ERR));
        MUST(hw_group_id(bob_group, &gid_b, ERR));
        CHECK(memcmp(gid_a, gid_b, 32) == 0);

        const char *text = "how can I help?";
        MUST(hw_group_encrypt(alice_group, (const uint8_t *)text, strlen(text), &msg, ERR));
        MUST(hw_group_decrypt(bob_group, msg.data, msg.len, NOW, &out, &sender, ERR));
        CHECK(bytes_eq(&out, text));
        CHECK(memcmp(sender, alice_id, 32) == 0);
        hw_bytes_free(&out);
        /* Replayed and tampered group messages are refused. */
        CHECK(hw_group_decrypt(bob_group, msg.data, msg.len, NOW, &out, NULL, NULL) == HW_REPLAY);
        msg.data[msg.len - 1] ^= 1;
        CHECK(hw_group_decrypt(bob_group, msg.data, msg.len, NOW, &out, NULL, NULL) ==
              HW_TAMPERED);
        hw_bytes_free(&msg);

        const char *reply = "where is my parcel?";
        MUST(hw_group_encrypt(bob_group, (const uint8_t *)reply, strlen(reply), &msg, ERR));
        MUST(hw_group_decrypt(alice_group, msg.data, msg.len, NOW, &out, NULL, ERR));
        CHECK(bytes_eq(&out, reply));
        hw_bytes_free(&out);
        hw_bytes_free(&msg);
        hw_bytes_free(&welcome);
        hw_bytes_free(&alice_dist);
        hw_bytes_free(&bob_dist);
    }

    /* ── persistence round trip (Bob's account, session and group) ───────────────────── */
    {
        uint8_t key[32], wrong_key[32], gid[32], restored_id[32];
        memset(key, 7, sizeof key);
        memset(wrong_key, 8, sizeof wrong_key);
        hw_bytes account_blob = {0}, session_blob = {0}, group_blob = {0}, msg = {0}, out = {0};
        MUST(hw_account_to_encrypted(bob, key, 1, &account_blob, ERR));
        MUST(hw_session_to_encrypted(b2a, key, 1, &session_blob, ERR));
        MUST(hw_group_to_encrypted(bob_group, key, 1, &group_blob, ERR));
        MUST(hw_group_id(bob_group, &gid, ERR));
        hw_account_free(bob);
        hw_session_free(b2a);
        hw_group_free(bob_group);
        bob = NULL;
        b2a = NULL;
        bob_group = NULL;

        hw_error *err = NULL;
        CHECK(hw_account_from_encrypted(account_blob.data, account_blob.len, wrong_key, 0, &bob,
                                        &err) == HW_TAMPERED);
        CHECK(strcmp(hw_error_code(err), "restore.authentication") == 0);
        CHECK(bob == NULL);
        hw_error_free(err);
        err = NULL;
        CHECK(hw_account_from_encrypted(account_blob.data, account_blob.len, key, 2, &bob, &err) ==
              HW_REPLAY);
        CHECK(strcmp(hw_error_code(err), "restore.rolled_back") == 0);
        hw_error_free(err);
        err = NULL;
        /* Bob's session blob in the slot for another peer (Bob himself) is refused. */
        CHECK(hw_session_from_encrypted(session_blob.data, session_blob.len, key, 1, bob_id, &b2a,
                                        &err) == HW_TAMPERED);
        CHECK(strcmp(hw_error_code(err), "restore.wrong_object") == 0);
        hw_error_free(err);
        err = NULL;

        MUST(hw_account_from_encrypted(account_blob.data, account_blob.len, key, 1, &bob, ERR));
        MUST(hw_session_from_encrypted(session_blob.data, session_blob.len, key, 1, alice_id, &b2a,
                                       ERR));
        MUST(hw_group_from_encrypted(group_blob.data, group_blob.len, key, 1, gid, &bob_group,
                                     ERR));
        MUST(hw_account_identity_key(bob, &restored_id, ERR));
        CHECK(memcmp(restored_id, bob_id, 32) == 0);
        send_and_read(a2b, b2a, "are you back?");
        send_and_read(b2a, a2b, "restored and reading");

        const char *text = "group after restore";
        MUST(hw_group_encrypt(alice_group, (const uint8_t *)text, strlen(text), &msg, ERR));
        MUST(hw_group_decrypt(bob_group, msg.data, msg.len, NOW, &out, NULL, ERR));
        CHECK(bytes_eq(&out, text));
        hw_bytes_free(&out);
        hw_bytes_free(&msg);
        hw_bytes_free(&account_blob);
        hw_bytes_free(&session_blob);
        hw_bytes_free(&group_blob);
    }

    hw_group_free(alice_group);
    hw_group_free(bob_group);
    hw_session_free(a2b);
    hw_session_free(b2a);
    hw_account_free(alice);
    hw_account_free(bob);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
