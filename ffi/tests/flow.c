/*
 * Two parties through the C ABI: accounts, a prekey bundle, the first message, the ratchet
 * both ways, sealed envelopes, a group, a persistence round trip, roster changes, an
 * attachment streamed in pieces, masking, safety numbers, an operator's business identity, a
 * relay challenge, and error paths (a tampered message returns HW_TAMPERED and the session
 * still works; a tampered attachment chunk is refused and the decryptor still works; NULL
 * arguments; replays; wrong storage keys); sessions held by the account with a lost session
 * recovered through a reset request, user identities, short authentication strings on both
 * kinds of session, a key backup restored on a new device, and a secure field checked by a
 * payment vault. Every handle and buffer is freed: run under ASan/UBSan and valgrind.
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

/* Whether `text` occurs in `b` (memmem is not standard C). */
static int contains(const hw_bytes *b, const char *text) {
    size_t n = strlen(text);
    for (size_t i = 0; n <= b->len && i <= b->len - n; i++) {
        if (memcmp(b->data + i, text, n) == 0) {
            return 1;
        }
    }
    return 0;
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

/* Appends `b` to the growing buffer `*acc` of `*acc_len` bytes (realloc'd), then frees `b`. */
static void append(uint8_t **acc, size_t *acc_len, hw_bytes *b) {
    if (b->len > 0) {
        uint8_t *grown = realloc(*acc, *acc_len + b->len);
        if (grown == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        memcpy(grown + *acc_len, b->data, b->len);
        *acc = grown;
        *acc_len += b->len;
    }
    hw_bytes_free(b);
}

/* An attachment streamed through the encryptor in two pushes, decrypted by the streaming
 * decryptor in two pieces (the first with a chunk byte flipped once: refused, then accepted),
 * and by the one-shot call. */
static void attachment_round_trip(void) {
    const size_t len = 150000, split = 70000;
    uint8_t *file = malloc(len);
    if (file == NULL) {
        exit(1);
    }
    for (size_t i = 0; i < len; i++) {
        file[i] = (uint8_t)(i * 7 % 251);
    }
    hw_attachment_encryptor *enc = NULL;
    hw_bytes piece = {0}, pointer = {0};
    uint8_t *object = NULL;
    size_t object_len = 0;
    MUST(hw_attachment_encryptor_new(&enc, ERR));
    MUST(hw_attachment_encryptor_push(enc, file, split, &piece, ERR));
    append(&object, &object_len, &piece);
    MUST(hw_attachment_encryptor_push(enc, file + split, len - split, &piece, ERR));
    append(&object, &object_len, &piece);
    const char *type = "video/mp4", *name = "clip.mp4";
    MUST(hw_attachment_encryptor_finish(enc, (const uint8_t *)type, strlen(type),
                                        (const uint8_t *)name, strlen(name), &piece, &pointer,
                                        ERR));
    append(&object, &object_len, &piece);
    /* Finished: a further push is refused with its own code. */
    {
        hw_error *err = NULL;
        CHECK(hw_attachment_encryptor_push(enc, file, 1, &piece, &err) == HW_INVALID_INPUT);
        CHECK(strcmp(hw_error_code(err), "attachment.finished") == 0);
        CHECK(piece.data == NULL);
        hw_error_free(err);
    }
    hw_attachment_encryptor_free(enc);

    uint64_t plaintext_len = 0, stored_len = 0;
    hw_bytes got_name = {0};
    MUST(hw_attachment_pointer_info(pointer.data, pointer.len, &plaintext_len, &stored_len, NULL,
                                    &got_name, ERR));
    CHECK(plaintext_len == len);
    CHECK(stored_len == object_len);
    CHECK(bytes_eq(&got_name, name));
    hw_bytes_free(&got_name);

    hw_attachment_decryptor *dec = NULL;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    const size_t first = 80000;
    uint64_t position = 1;
    MUST(hw_attachment_decryptor_new(pointer.data, pointer.len, &dec, ERR));
    {
        hw_error *err = NULL;
        object[1000] ^= 0x80; /* inside chunk 0 */
        CHECK(hw_attachment_decryptor_push(dec, object, first, &piece, &err) == HW_TAMPERED);
        CHECK(strcmp(hw_error_code(err), "attachment.chunk_tampered") == 0);
        CHECK(piece.data == NULL);
        hw_error_free(err);
        object[1000] ^= 0x80;
        MUST(hw_attachment_decryptor_position(dec, &position, ERR));
        CHECK(position == 0);
    }
    MUST(hw_attachment_decryptor_push(dec, object, first, &piece, ERR));
    append(&plain, &plain_len, &piece);
    /* Not complete yet: finishing is refused, and the decryptor goes on. */
    CHECK(hw_attachment_decryptor_finish(dec, NULL) == HW_TAMPERED);
    MUST(hw_attachment_decryptor_push(dec, object + first, object_len - first, &piece, ERR));
    append(&plain, &plain_len, &piece);
    MUST(hw_attachment_decryptor_finish(dec, ERR));
    CHECK(plain_len == len && memcmp(plain, file, len) == 0);
    hw_attachment_decryptor_free(dec);

    hw_bytes whole = {0};
    MUST(hw_attachment_verify_digest(pointer.data, pointer.len, object, object_len, ERR));
    CHECK(hw_attachment_verify_digest(pointer.data, pointer.len, object, object_len - 1, NULL) ==
          HW_TAMPERED);
    MUST(hw_attachment_decrypt(pointer.data, pointer.len, object, object_len, &whole, ERR));
    CHECK(whole.len == len && memcmp(whole.data, file, len) == 0);
    hw_bytes_free(&whole);
    /* Random access: a range decrypts from the chunks that hold it; a thumbnail rides in
     * the pointer. */
    {
        uint64_t from = 0, to = 0;
        hw_bytes part = {0}, with = {0}, thumb = {0};
        MUST(hw_attachment_object_range(pointer.data, pointer.len, 70000, 140000, &from, &to,
                                        ERR));
        CHECK(from < to && to <= object_len);
        MUST(hw_attachment_decrypt_range(pointer.data, pointer.len, 70000, 140000,
                                         object + from, (size_t)(to - from), &part, ERR));
        CHECK(part.len == 70000 && memcmp(part.data, file + 70000, 70000) == 0);
        hw_bytes_free(&part);
        CHECK(hw_attachment_decrypt_range(pointer.data, pointer.len, 70000, 140000,
                                          object + from, (size_t)(to - from) - 1, &part,
                                          NULL) == HW_INVALID_INPUT);
        MUST(hw_attachment_pointer_set_thumbnail(pointer.data, pointer.len,
                                                 (const uint8_t *)"thumb", 5, &with, ERR));
        MUST(hw_attachment_pointer_thumbnail(with.data, with.len, &thumb, ERR));
        CHECK(bytes_eq(&thumb, "thumb"));
        hw_bytes_free(&thumb);
        hw_bytes_free(&with);
        /* One chunk alone (chunk 1 holds file bytes 65536 ..< 131072). */
        uint64_t chunks = 0;
        MUST(hw_attachment_chunk_range(pointer.data, pointer.len, 1, &from, &to, &chunks, ERR));
        CHECK(chunks >= 3);
        MUST(hw_attachment_decrypt_chunk(pointer.data, pointer.len, 1, object + from,
                                         (size_t)(to - from), &part, ERR));
        CHECK(part.len == 65536 && memcmp(part.data, file + 65536, 65536) == 0);
        hw_bytes_free(&part);
        /* Chunk 0's bytes read as chunk 1: refused. */
        uint64_t from0 = 0, to0 = 0;
        MUST(hw_attachment_chunk_range(pointer.data, pointer.len, 0, &from0, &to0, NULL, ERR));
        CHECK(hw_attachment_decrypt_chunk(pointer.data, pointer.len, 1, object + from0,
                                          (size_t)(to0 - from0), &part, NULL) == HW_TAMPERED);
        /* An encryptor with 4 KiB chunks (finer random access). */
        hw_attachment_encryptor *small = NULL;
        CHECK(hw_attachment_encryptor_new_with_chunk_size(30, &small, NULL) == HW_INVALID_INPUT);
        MUST(hw_attachment_encryptor_new_with_chunk_size(12, &small, ERR));
        hw_attachment_encryptor_free(small);
    }
    object[object_len / 2] ^= 0x01;
    CHECK(hw_attachment_decrypt(pointer.data, pointer.len, object, object_len, &whole, NULL) ==
          HW_TAMPERED);
    CHECK(whole.data == NULL);

    hw_bytes_free(&pointer);
    free(plain);
    free(object);
    free(file);
}

/* Runs a call expected to fail: checks its status and its error's code, and returns the
 * error's reset reason. */
#define FAILS_WITH(status, code, call)                                                   \
    do {                                                                                 \
        hw_error *fails_err_ = NULL;                                                     \
        hw_status fails_status_ = (call);                                                \
        CHECK(fails_status_ == (status));                                                \
        CHECK(fails_err_ != NULL && strcmp(hw_error_code(fails_err_), (code)) == 0);     \
        last_reset_reason = hw_error_reset_reason(fails_err_);                           \
        hw_error_free(fails_err_);                                                       \
    } while (0)
/* FAILS_WITH's error out-parameter. */
#define FERR (&fails_err_)
static uint8_t last_reset_reason = 0;

/* Account-held sessions: a conversation, a lost session and its reset, identities. */
static void account_sessions_and_reset(void) {
    hw_account *ann = NULL, *ben = NULL;
    uint8_t ann_id[32], ben_id[32], started[32], id[32], requester[32];
    hw_bytes bundle = {0}, wire = {0}, out = {0}, events = {0}, list = {0}, request = {0};
    MUST(hw_account_new(NOW, &ann, ERR));
    MUST(hw_account_new(NOW, &ben, ERR));
    MUST(hw_account_identity_key(ann, &ann_id, ERR));
    MUST(hw_account_identity_key(ben, &ben_id, ERR));
    uint32_t max_jump = 0;
    FAILS_WITH(HW_INVALID_INPUT, "config.out_of_range",
               hw_account_set_session_config(ann, 0, 1, 1, 1, FERR));
    MUST(hw_account_set_session_config(ann, 500, 1000, 5, 4, ERR));
    MUST(hw_account_session_config(ann, &max_jump, NULL, NULL, NULL, ERR));
    CHECK(max_jump == 500);
    MUST(hw_account_maintenance_events(ben, NOW, &events, ERR));
    CHECK(bytes_eq(&events, "event.one_time_prekeys_low"));
    hw_bytes_free(&events);
    MUST(hw_account_generate_one_time_prekeys(ben, 2, 2, NOW, ERR));

    MUST(hw_account_prekey_bundle(ben, &bundle, ERR));
    MUST(hw_account_start_session(ann, bundle.data, bundle.len, &started, &events, ERR));
    CHECK(events.len == 0);
    hw_bytes_free(&events);
    hw_bytes_free(&bundle);
    const char *text = "hello Ben";
    MUST(hw_account_encrypt_for(ann, ben_id, (const uint8_t *)text, strlen(text), &wire, ERR));
    MUST(hw_account_decrypt_from(ben, ann_id, wire.data, wire.len, NOW, &out, &id, &events,
                                 ERR));
    CHECK(bytes_eq(&out, text));
    CHECK(memcmp(id, started, 32) == 0);
    CHECK(contains(&events, "event.session_established"));
    hw_bytes_free(&events);
    hw_bytes_free(&out);
    /* The same message again: refused, no reason to reset. */
    FAILS_WITH(HW_REPLAY, "peer.decrypt",
               hw_account_decrypt_from(ben, ann_id, wire.data, wire.len, NOW, &out, NULL, NULL,
                                       FERR));
    CHECK(last_reset_reason == HW_RESET_NONE);
    hw_bytes_free(&wire);
    MUST(hw_account_encrypt_for(ben, ann_id, (const uint8_t *)"hi", 2, &wire, ERR));
    MUST(hw_account_decrypt_from(ann, ben_id, wire.data, wire.len, NOW, &out, NULL, NULL, ERR));
    CHECK(bytes_eq(&out, "hi"));
    hw_bytes_free(&out);
    hw_bytes_free(&wire);
    MUST(hw_account_peers(ann, &list, ERR));
    CHECK(list.len == 32 && memcmp(list.data, ben_id, 32) == 0);
    hw_bytes_free(&list);
    MUST(hw_account_sessions_with(ann, ben_id, &list, ERR));
    CHECK(list.len == 32 && memcmp(list.data, started, 32) == 0);
    hw_bytes_free(&list);
    FAILS_WITH(HW_UNKNOWN_SESSION, "peer.unknown_peer",
               hw_account_encrypt_for(ann, ann_id, (const uint8_t *)"x", 1, &wire, FERR));

    /* Ben loses his sessions: Ann's next message leads into a reset. */
    uint8_t forgotten = 0, reason = 0;
    uint64_t since = 0, resend = 0;
    MUST(hw_account_forget_peer(ben, ann_id, &forgotten, ERR));
    CHECK(forgotten == 1);
    MUST(hw_account_encrypt_for(ann, ben_id, (const uint8_t *)"there?", 6, &wire, ERR));
    FAILS_WITH(HW_UNKNOWN_SESSION, "peer.unknown_peer",
               hw_account_decrypt_from(ben, ann_id, wire.data, wire.len, NOW, &out, NULL, NULL,
                                       FERR));
    CHECK(last_reset_reason == HW_RESET_NO_SESSION);
    hw_bytes_free(&wire);
    MUST(hw_account_reset_request(ben, ann_id, last_reset_reason, NOW - 60, NOW, &request,
                                  ERR));
    FAILS_WITH(HW_LIMIT_EXCEEDED, "reset.rate_limited",
               hw_account_reset_request(ben, ann_id, HW_RESET_NO_SESSION, NOW, NOW + 1, &wire,
                                        FERR));
    MUST(hw_reset_request_info(request.data, request.len, &requester, &reason, &since, ERR));
    CHECK(memcmp(requester, ben_id, 32) == 0 && reason == HW_RESET_NO_SESSION);
    CHECK(since == NOW - 60);
    MUST(hw_account_prekey_bundle(ben, &bundle, ERR));
    request.data[request.len - 1] ^= 1;
    FAILS_WITH(HW_TAMPERED, "reset.bad_signature",
               hw_account_answer_reset(ann, request.data, request.len, bundle.data, bundle.len,
                                       NOW + 5, NULL, NULL, NULL, FERR));
    request.data[request.len - 1] ^= 1;
    MUST(hw_account_answer_reset(ann, request.data, request.len, bundle.data, bundle.len,
                                 NOW + 5, &id, &resend, &events, ERR));
    CHECK(resend == NOW - 60);
    CHECK(bytes_eq(&events, "event.session_reset"));
    hw_bytes_free(&events);
    FAILS_WITH(HW_REPLAY, "reset.stale",
               hw_account_answer_reset(ann, request.data, request.len, bundle.data, bundle.len,
                                       NOW + 6, NULL, NULL, NULL, FERR));
    hw_bytes_free(&bundle);
    hw_bytes_free(&request);
    MUST(hw_account_encrypt_for(ann, ben_id, (const uint8_t *)"again", 5, &wire, ERR));
    MUST(hw_account_decrypt_from(ben, ann_id, wire.data, wire.len, NOW, &out, &started, &events,
                                 ERR));
    CHECK(bytes_eq(&out, "again"));
    CHECK(memcmp(started, id, 32) == 0);
    CHECK(contains(&events, "event.session_reset"));
    hw_bytes_free(&events);
    hw_bytes_free(&out);
    hw_bytes_free(&wire);

    /* A short authentication string on the account-held sessions, then Ann marks Ben's key
     * verified; a changed key is refused until accepted. */
    {
        hw_sas *a = NULL, *b = NULL;
        hw_bytes start = {0}, accept = {0}, reveal = {0}, da = {0}, db = {0};
        uint8_t remote[32], state = 0, key[32];
        MUST(hw_account_encrypt_for(ben, ann_id, (const uint8_t *)"ok", 2, &wire, ERR));
        MUST(hw_account_decrypt_from(ann, ben_id, wire.data, wire.len, NOW, &out, NULL, NULL,
                                     ERR));
        hw_bytes_free(&out);
        hw_bytes_free(&wire);
        MUST(hw_sas_start(NULL, ann, ben_id, NOW, &a, &start, ERR));
        MUST(hw_sas_accept(NULL, ben, ann_id, start.data, start.len, NOW, &b, &accept, ERR));
        MUST(hw_sas_receive_accept(a, NULL, ann, ben_id, accept.data, accept.len, NOW, &reveal,
                                   ERR));
        MUST(hw_sas_receive_reveal(b, NULL, ben, ann_id, reveal.data, reveal.len, NOW, ERR));
        MUST(hw_sas_decimal(a, &da, ERR));
        MUST(hw_sas_decimal(b, &db, ERR));
        CHECK(da.len == db.len && memcmp(da.data, db.data, da.len) == 0);
        MUST(hw_sas_remote_identity(a, &remote, ERR));
        CHECK(memcmp(remote, ben_id, 32) == 0);
        const char *user = "ben@example.com";
        MUST(hw_account_record_identity(ann, (const uint8_t *)user, strlen(user), remote, NOW,
                                        NULL, ERR));
        MUST(hw_account_mark_verified(ann, (const uint8_t *)user, strlen(user), remote, NOW,
                                      ERR));
        MUST(hw_account_verification_state(ann, (const uint8_t *)user, strlen(user), &state,
                                           &key, ERR));
        CHECK(state == 2 && memcmp(key, ben_id, 32) == 0);
        /* The user shows up with a fresh key. */
        hw_account *other = NULL;
        uint8_t other_id[32];
        MUST(hw_account_new(NOW, &other, ERR));
        MUST(hw_account_identity_key(other, &other_id, ERR));
        MUST(hw_account_record_identity(ann, (const uint8_t *)user, strlen(user), other_id, NOW,
                                        &events, ERR));
        CHECK(bytes_eq(&events, "event.identity_changed"));
        hw_bytes_free(&events);
        FAILS_WITH(HW_UNTRUSTED, "peer.identity_changed",
                   hw_account_encrypt_for(ann, other_id, (const uint8_t *)"x", 1, &wire, FERR));
        uint8_t blocked = 0, dropped = 0;
        MUST(hw_account_is_identity_blocked(ann, other_id, &blocked, ERR));
        CHECK(blocked == 1);
        MUST(hw_account_accept_identity_change(ann, (const uint8_t *)user, strlen(user),
                                               other_id, ERR));
        MUST(hw_account_is_identity_blocked(ann, other_id, &blocked, ERR));
        CHECK(blocked == 0);
        MUST(hw_account_clear_verification(ann, (const uint8_t *)"nobody", 6, 1, &dropped, ERR));
        CHECK(dropped == 0);
        MUST(hw_account_verification_state(ann, (const uint8_t *)user, strlen(user), &state,
                                           NULL, ERR));
        CHECK(state == 1);
        hw_account_free(other);
        hw_bytes_free(&start);
        hw_bytes_free(&accept);
        hw_bytes_free(&reveal);
        hw_bytes_free(&da);
        hw_bytes_free(&db);
        hw_sas_free(a);
        hw_sas_free(b);
    }
    hw_account_free(ann);
    hw_account_free(ben);
}

/* A short authentication string on two hw_sessions: a wrong reveal is refused, the run
 * goes on, and both sides show the same emoji. */
static void sas_on_sessions(hw_session *a2b, hw_session *b2a) {
    hw_sas *starter = NULL, *accepter = NULL;
    hw_bytes start = {0}, accept = {0}, reveal = {0}, text = {0};
    uint8_t ea[7], eb[7], ready = 1;
    MUST(hw_sas_start(a2b, NULL, NULL, NOW, &starter, &start, ERR));
    hw_bytes got = carry(a2b, b2a, &start);
    MUST(hw_sas_accept(b2a, NULL, NULL, got.data, got.len, NOW, &accepter, &accept, ERR));
    hw_bytes_free(&got);
    got = carry(b2a, a2b, &accept);
    FAILS_WITH(HW_INVALID_ARGUMENT, "ffi.invalid_argument",
               hw_sas_emoji(starter, &ea, FERR));
    MUST(hw_sas_receive_accept(starter, a2b, NULL, NULL, got.data, got.len, NOW, &reveal, ERR));
    hw_bytes_free(&got);
    reveal.data[reveal.len - 1] ^= 1;
    FAILS_WITH(HW_TAMPERED, "verify.sas_commitment_mismatch",
               hw_sas_receive_reveal(accepter, b2a, NULL, NULL, reveal.data, reveal.len, NOW,
                                     FERR));
    MUST(hw_sas_is_ready(accepter, &ready, ERR));
    CHECK(ready == 0);
    reveal.data[reveal.len - 1] ^= 1;
    MUST(hw_sas_receive_reveal(accepter, b2a, NULL, NULL, reveal.data, reveal.len, NOW, ERR));
    MUST(hw_sas_emoji(starter, &ea, ERR));
    MUST(hw_sas_emoji(accepter, &eb, ERR));
    CHECK(memcmp(ea, eb, 7) == 0);
    MUST(hw_sas_emoji_text(accepter, &text, ERR));
    CHECK(contains(&text, ", "));
    hw_bytes_free(&text);
    hw_bytes_free(&start);
    hw_bytes_free(&accept);
    hw_bytes_free(&reveal);
    hw_sas_free(starter);
    hw_sas_free(accepter);
}

/* Bob backs up his account (with the identity key) and his group; a new device restores
 * them with the typed recovery key and reads the group's next message at once. */
static void backup_round_trip(hw_account *bob, hw_group *bob_group, hw_group *alice_group,
                              const uint8_t *bob_id) {
    hw_recovery_key *key = NULL, *typed = NULL;
    hw_backup_writer *writer = NULL;
    hw_restored_backup *restored = NULL;
    hw_bytes shown = {0}, manifest = {0}, entries = {0}, stored = {0}, restart = {0};
    uint8_t *list = NULL;
    size_t list_len = 0, groups = 0;
    uint64_t counter = 0;
    uint8_t has_identity = 0, restored_id[32];

    MUST(hw_recovery_key_generate(&key, ERR));
    MUST(hw_recovery_key_to_display(key, &shown, ERR));
    CHECK(shown.len == 65);
    /* The user also chose a passphrase (the smallest Argon2id parameters: tests only). */
    const char *pass = "correct horse battery staple";
    hw_bytes wrapped = {0};
    MUST(hw_recovery_key_wrap(key, (const uint8_t *)pass, strlen(pass), 8, 1, 1, &wrapped, ERR));
    MUST(hw_backup_writer_create(key, wrapped.data, wrapped.len, NOW, &writer, &manifest, ERR));
    hw_bytes_free(&manifest);
    MUST(hw_backup_writer_append_account(writer, bob, 1, NOW, &entries, &manifest, ERR));
    append(&list, &list_len, &entries);
    hw_bytes_free(&manifest);
    MUST(hw_backup_writer_append_group(writer, bob_group, NOW, &entries, &manifest, ERR));
    append(&list, &list_len, &entries);
    MUST(hw_backup_writer_counter(writer, &counter, NULL, ERR));
    CHECK(counter == 2);
    MUST(hw_backup_encode(wrapped.data, wrapped.len, manifest.data, manifest.len, list, list_len,
                          &stored, ERR));
    FAILS_WITH(HW_INVALID_ARGUMENT, "ffi.invalid_argument",
               hw_backup_encode(wrapped.data, wrapped.len, manifest.data, manifest.len, list,
                                list_len - 1, &entries, FERR));
    {
        hw_recovery_key *opened = NULL;
        hw_bytes shown_again = {0};
        FAILS_WITH(HW_TAMPERED, "backup.wrong_passphrase",
                   hw_backup_unwrap_recovery_key(stored.data, stored.len,
                                                 (const uint8_t *)"wrong", 5, &opened, FERR));
        MUST(hw_backup_unwrap_recovery_key(stored.data, stored.len, (const uint8_t *)pass,
                                           strlen(pass), &opened, ERR));
        MUST(hw_recovery_key_to_display(opened, &shown_again, ERR));
        CHECK(shown_again.len == shown.len &&
              memcmp(shown_again.data, shown.data, shown.len) == 0);
        hw_bytes_free(&shown_again);
        hw_recovery_key_free(opened);
    }

    /* The user types the key back in, with a typo first. */
    uint8_t c = shown.data[0];
    shown.data[0] = (uint8_t)(c == '7' ? '8' : '7');
    FAILS_WITH(HW_INVALID_INPUT, "backup.recovery_key_mistyped",
               hw_recovery_key_from_display(shown.data, shown.len, &typed, FERR));
    shown.data[0] = c;
    MUST(hw_recovery_key_from_display(shown.data, shown.len, &typed, ERR));
    FAILS_WITH(HW_REPLAY, "backup.rolled_back",
               hw_backup_restore(typed, stored.data, stored.len, 3, &restored, FERR));
    stored.data[stored.len - 40] ^= 1;
    CHECK(hw_backup_restore(typed, stored.data, stored.len, 0, &restored, NULL) ==
          HW_TAMPERED);
    stored.data[stored.len - 40] ^= 1;
    MUST(hw_backup_restore(typed, stored.data, stored.len, 2, &restored, ERR));
    MUST(hw_restored_backup_group_count(restored, &groups, ERR));
    CHECK(groups == 1);
    MUST(hw_restored_backup_has_identity(restored, &has_identity, ERR));
    CHECK(has_identity == 1);
    MUST(hw_restored_backup_sessions_to_restart(restored, &restart, ERR));
    CHECK(restart.len >= 32 && restart.len % 32 == 0);
    hw_bytes_free(&restart);
    hw_account *device = NULL;
    hw_group *group = NULL;
    MUST(hw_restored_backup_to_account(restored, NOW, &device, ERR));
    MUST(hw_account_identity_key(device, &restored_id, ERR));
    CHECK(memcmp(restored_id, bob_id, 32) == 0);
    MUST(hw_restored_backup_group(restored, 0, &group, ERR));
    {
        hw_account *existing = NULL;
        MUST(hw_account_new(NOW, &existing, ERR));
        MUST(hw_restored_backup_apply_identity_book(restored, existing, ERR));
        hw_account_free(existing);
    }

    /* The group's next message decrypts on the restored device at once. */
    const char *text = "after the backup";
    hw_bytes msg = {0}, out = {0};
    MUST(hw_group_encrypt(alice_group, (const uint8_t *)text, strlen(text), &msg, ERR));
    MUST(hw_group_decrypt(group, msg.data, msg.len, NOW, &out, NULL, ERR));
    CHECK(bytes_eq(&out, text));
    hw_bytes_free(&out);
    hw_bytes_free(&msg);

    hw_group_free(group);
    hw_account_free(device);
    hw_restored_backup_free(restored);
    hw_backup_writer_free(writer);
    hw_recovery_key_free(typed);
    hw_recovery_key_free(key);
    hw_bytes_free(&shown);
    hw_bytes_free(&wrapped);
    hw_bytes_free(&manifest);
    hw_bytes_free(&stored);
    free(list);
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
        /* The SPEC.md §8.4 JSON object: code, kind and typed fields. */
        CHECK(hw_error_json(err) != NULL);
        CHECK(strncmp(hw_error_json(err), "{\"code\":", 8) == 0);
        CHECK(strstr(hw_error_json(err), "\"kind\":\"tampered\"") != NULL);
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
        CHECK(strstr(hw_error_json(err), "\"fields\":{\"counter\":") != NULL);
        hw_error_free(err);
        err = NULL;
        hw_bytes_free(&wire);
        send_and_read(a2b, b2a, "still talking");

        /* NULL handle, NULL buffer with a length, NULL output: their own status. */
        CHECK(hw_session_encrypt(NULL, (const uint8_t *)"x", 1, &wire, NULL) == HW_NULL_ARGUMENT);
        CHECK(hw_session_encrypt(a2b, NULL, 1, &wire, NULL) == HW_NULL_ARGUMENT);
        CHECK(hw_session_encrypt(a2b, (const uint8_t *)"x", 1, NULL, &err) == HW_NULL_ARGUMENT);
        CHECK(strcmp(hw_error_code(err), "ffi.null_argument") == 0);
        CHECK(strncmp(hw_error_json(err), "{\"code\":\"ffi.null_argument\",", 28) == 0);
        CHECK(strstr(hw_error_json(err), "\"fields\":{}") != NULL);
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
        CHECK(strcmp(hw_error_json(NULL), "") == 0);
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
        /* One message sealed for several recipients (here Bob twice is refused; Bob alone
         * is fine); the relay cuts Bob's envelope. */
        {
            hw_bytes multi = {0}, cut = {0};
            uint8_t twice[64];
            memcpy(twice, bob_id, 32);
            memcpy(twice + 32, bob_id, 32);
            FAILS_WITH(HW_INVALID_INPUT, "seal.duplicate_recipient",
                       hw_seal_multi(alice, alice_cert.data, alice_cert.len, twice, 2, 0x80, NOW,
                                     0, (const uint8_t *)"all", 3, &multi, FERR));
            MUST(hw_seal_multi(alice, alice_cert.data, alice_cert.len, bob_id, 1, 0x80, NOW, 0,
                               (const uint8_t *)"all", 3, &multi, ERR));
            MUST(hw_multi_recipient_envelope(multi.data, multi.len, bob_id, &cut, NULL, ERR));
            MUST(hw_open(bob, trust, cut.data, cut.len, NOW, &out, NULL, NULL, NULL, ERR));
            CHECK(bytes_eq(&out, "all"));
            hw_bytes_free(&out);
            hw_bytes_free(&cut);
            hw_bytes_free(&multi);
        }
        /* In one call: open, check the session is the sender's, decrypt. */
        {
            hw_bytes wire2 = {0}, env2 = {0};
            uint8_t from[32];
            MUST(hw_session_encrypt(a2b, (const uint8_t *)"one call", 8, &wire2, ERR));
            MUST(hw_seal(alice, alice_cert.data, alice_cert.len, bob_id, 1, NOW, 0, wire2.data,
                         wire2.len, &env2, ERR));
            FAILS_WITH(HW_INVALID_INPUT, "sealed_session.wrong_session",
                       hw_session_open_and_decrypt(bob, a2b, trust, env2.data, env2.len, NOW,
                                                   &out, NULL, FERR));
            MUST(hw_session_open_and_decrypt(bob, b2a, trust, env2.data, env2.len, NOW, &out,
                                             &from, ERR));
            CHECK(bytes_eq(&out, "one call") && memcmp(from, alice_id, 32) == 0);
            hw_bytes_free(&out);
            hw_bytes_free(&wire2);
            hw_bytes_free(&env2);
        }

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

        /* A secure field: Alice seals her card number to Bob as the payment vault; the
         * operator's copy shows only the masked form, and the vault checks it. */
        {
            const char *card = "4242 4242 4242 4242";
            hw_bytes field = {0}, sealed = {0}, masked = {0}, value = {0};
            uint8_t kind = 0, policy = 0, reference[16], vault_ref[16], from[32];
            hw_vaulted_field *vaulted = NULL;
            MUST(hw_secure_field_seal(alice, alice_cert.data, alice_cert.len, bob_id,
                                      HW_KIND_CARD, HW_POLICY_KEEP_LAST4, (const uint8_t *)card,
                                      strlen(card), NOW, &field, &sealed, ERR));
            MUST(hw_masked_field_info(field.data, field.len, &masked, &kind, &policy,
                                      &reference, ERR));
            CHECK(bytes_eq(&masked, "\u2022\u2022\u2022\u2022 \u2022\u2022\u2022\u2022 "
                                    "\u2022\u2022\u2022\u2022 4242"));
            CHECK(kind == HW_KIND_CARD && policy == HW_POLICY_KEEP_LAST4);
            FAILS_WITH(HW_INVALID_INPUT, "secure_field.empty_value",
                       hw_secure_field_seal(alice, alice_cert.data, alice_cert.len, bob_id,
                                            HW_KIND_CARD, HW_POLICY_KEEP_LAST4, NULL, 0, NOW,
                                            &value, &value, FERR));
            MUST(hw_vaulted_field_open(bob, trust, sealed.data, sealed.len, NOW, &vaulted, ERR));
            MUST(hw_vaulted_field_verify(vaulted, field.data, field.len, ERR));
            field.data[10] ^= 1;
            FAILS_WITH(HW_TAMPERED, "secure_field.mismatch",
                       hw_vaulted_field_verify(vaulted, field.data, field.len, FERR));
            MUST(hw_vaulted_field_value(vaulted, &value, &vault_ref, NULL, &from, ERR));
            CHECK(bytes_eq(&value, card));
            CHECK(memcmp(vault_ref, reference, 16) == 0 && memcmp(from, alice_id, 32) == 0);
            hw_vaulted_field_free(vaulted);
            hw_bytes_free(&value);
            hw_bytes_free(&masked);
            hw_bytes_free(&field);
            hw_bytes_free(&sealed);
        }

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

        /* A labelled blob restores only into its slot; its header is readable. */
        const char *slot = "session/alice/phone";
        uint8_t tag = 0;
        uint64_t generation = 0;
        hw_session *copy = NULL;
        MUST(hw_session_to_encrypted_labeled(b2a, key, (const uint8_t *)slot, strlen(slot), 4,
                                             &session_blob, ERR));
        MUST(hw_blob_info(session_blob.data, session_blob.len, &tag, &generation, NULL, ERR));
        CHECK(tag == 2 && generation == 4);
        FAILS_WITH(HW_TAMPERED, "restore.wrong_object",
                   hw_session_from_encrypted_labeled(session_blob.data, session_blob.len, key, 4,
                                                     alice_id, (const uint8_t *)"other", 5,
                                                     &copy, FERR));
        MUST(hw_session_from_encrypted_labeled(session_blob.data, session_blob.len, key, 4,
                                               alice_id, (const uint8_t *)slot, strlen(slot),
                                               &copy, ERR));
        hw_session_free(copy);
        hw_bytes_free(&session_blob);
    }

    /* ── roster changes: Alice adds Carol, then removes her ──────────────────────────── */
    {
        hw_account *carol = NULL;
        hw_group *carol_group = NULL;
        uint8_t carol_id[32];
        hw_bytes change = {0}, welcome = {0}, dist = {0}, bob_dist = {0}, carol_dist = {0};
        MUST(hw_account_new(NOW, &carol, ERR));
        MUST(hw_account_identity_key(carol, &carol_id, ERR));
        /* Bob is no admin. */
        CHECK(hw_group_add_member(bob, bob_group, carol_id, 0, &change, &welcome, &dist, NULL) ==
              HW_TAMPERED);
        CHECK(change.data == NULL);
        MUST(hw_group_add_member(alice, alice_group, carol_id, 0, &change, &welcome, &dist, ERR));
        CHECK(change.len > 0 && welcome.len > 0 && dist.len > 0);
        MUST(hw_group_apply_roster_change(bob, bob_group, change.data, change.len, NOW, &bob_dist,
                                          ERR));
        CHECK(hw_group_apply_roster_change(bob, bob_group, change.data, change.len, NOW,
                                           &carol_dist, NULL) == HW_REPLAY);
        MUST(hw_group_join(carol, welcome.data, welcome.len, alice_id, &carol_group, &carol_dist,
                           ERR));
        hw_bytes_free(&change);
        hw_bytes_free(&welcome);
        hw_bytes_free(&dist);
        hw_bytes_free(&bob_dist);
        hw_bytes_free(&carol_dist);

        MUST(hw_group_remove_member(alice, alice_group, carol_id, NOW, &change, &dist, ERR));
        CHECK(change.len > 0 && dist.len > 0);
        MUST(hw_group_apply_roster_change(bob, bob_group, change.data, change.len, NOW, &bob_dist,
                                          ERR));
        MUST(hw_group_apply_roster_change(carol, carol_group, change.data, change.len, NOW,
                                          &carol_dist, ERR));
        /* Alice's fresh sender key reaches Bob over their session; he reads her again. */
        hw_bytes got = carry(a2b, b2a, &dist);
        MUST(hw_group_receive_distribution(bob_group, b2a, got.data, got.len, ERR));
        hw_bytes_free(&got);
        hw_bytes msg = {0}, out = {0};
        const char *text = "Carol has left";
        MUST(hw_group_encrypt(alice_group, (const uint8_t *)text, strlen(text), &msg, ERR));
        MUST(hw_group_decrypt(bob_group, msg.data, msg.len, NOW, &out, NULL, ERR));
        CHECK(bytes_eq(&out, text));
        hw_bytes_free(&out);
        hw_bytes_free(&msg);
        /* A periodic rotation of Alice's sender key. */
        hw_bytes rotated = {0};
        MUST(hw_group_rotate_sender_key(alice, alice_group, &rotated, ERR));
        got = carry(a2b, b2a, &rotated);
        MUST(hw_group_receive_distribution(bob_group, b2a, got.data, got.len, ERR));
        hw_bytes_free(&got);
        hw_bytes_free(&rotated);
        text = "on a fresh key";
        MUST(hw_group_encrypt(alice_group, (const uint8_t *)text, strlen(text), &msg, ERR));
        MUST(hw_group_decrypt(bob_group, msg.data, msg.len, NOW, &out, NULL, ERR));
        CHECK(bytes_eq(&out, text));
        hw_bytes_free(&out);
        hw_bytes_free(&msg);
        /* The roster after Carol left: Alice (admin) and Bob (member), both still in. */
        hw_bytes roster = {0};
        uint64_t epoch = 0;
        uint8_t in_group = 0;
        MUST(hw_group_members(bob_group, &roster, ERR));
        CHECK(roster.len == 2 * HW_GROUP_MEMBER_LEN);
        for (size_t i = 0; i + HW_GROUP_MEMBER_LEN <= roster.len; i += HW_GROUP_MEMBER_LEN) {
            const uint8_t *m = roster.data + i;
            CHECK((memcmp(m, alice_id, 32) == 0 && m[32] == 1) ||
                  (memcmp(m, bob_id, 32) == 0 && m[32] == 0));
        }
        hw_bytes_free(&roster);
        MUST(hw_group_epoch(alice_group, &epoch, &in_group, ERR));
        CHECK(epoch >= 2 && in_group == 1);
        MUST(hw_group_epoch(carol_group, NULL, &in_group, ERR));
        CHECK(in_group == 0);
        hw_bytes_free(&change);
        hw_bytes_free(&dist);
        hw_bytes_free(&bob_dist);
        hw_bytes_free(&carol_dist);
        hw_group_free(carol_group);
        hw_account_free(carol);
    }

    /* ── an attachment ───────────────────────────────────────────────────────────────── */
    attachment_round_trip();

    /* ── masking ─────────────────────────────────────────────────────────────────────── */
    {
        const char *text = "my card is 4242 4242 4242 4242, thanks";
        hw_bytes masked = {0};
        uint8_t changed = 0;
        hw_error *err = NULL;
        MUST(hw_mask_text((const uint8_t *)text, strlen(text), &masked, &changed, ERR));
        CHECK(changed == 1);
        CHECK(masked.len > 0 && !contains(&masked, "4242 4242"));
        CHECK(contains(&masked, "4242"));
        MUST(hw_mask_check(masked.data, masked.len, ERR));
        CHECK(hw_mask_check((const uint8_t *)text, strlen(text), &err) == HW_INVALID_INPUT);
        CHECK(strcmp(hw_error_code(err), "mask_check.unmasked") == 0);
        hw_error_free(err);
        const uint8_t not_utf8[3] = {'4', 0xC0, '2'};
        CHECK(hw_mask_text(not_utf8, sizeof not_utf8, &masked, NULL, NULL) == HW_INVALID_ARGUMENT);
        hw_bytes_free(&masked);
        /* Where the card is, to send it as a secure field instead. */
        hw_bytes found = {0};
        MUST(hw_mask_find((const uint8_t *)text, strlen(text), &found, ERR));
        CHECK(found.len == HW_MASK_FINDING_LEN);
        if (found.len == HW_MASK_FINDING_LEN) {
            uint32_t start = (uint32_t)found.data[2] << 24 | (uint32_t)found.data[3] << 16 |
                             (uint32_t)found.data[4] << 8 | found.data[5];
            uint32_t end = (uint32_t)found.data[6] << 24 | (uint32_t)found.data[7] << 16 |
                           (uint32_t)found.data[8] << 8 | found.data[9];
            CHECK(found.data[0] == HW_KIND_CARD && found.data[1] == HW_POLICY_KEEP_LAST4);
            CHECK(end - start == 19 && memcmp(text + start, "4242 4242 4242 4242", 19) == 0);
        }
        hw_bytes_free(&found);
        /* A masker of the app's own: the first six and last four digits, as PCI DSS allows. */
        hw_masker *pci = NULL;
        MUST(hw_masker_new(HW_POLICY_KEEP_FIRST6_LAST4, HW_POLICY_KEEP_LAST4, 0, 0, &pci, ERR));
        MUST(hw_masker_mask(pci, (const uint8_t *)text, strlen(text), &masked, NULL, ERR));
        CHECK(contains(&masked, "4242 42"));
        MUST(hw_masker_check(pci, masked.data, masked.len, ERR));
        hw_bytes_free(&masked);
        MUST(hw_masker_find(pci, (const uint8_t *)text, strlen(text), &found, ERR));
        CHECK(found.len == HW_MASK_FINDING_LEN && found.data[1] == HW_POLICY_KEEP_FIRST6_LAST4);
        hw_bytes_free(&found);
        CHECK(hw_masker_new(9, 0, 0, 0, &pci, NULL) == HW_INVALID_ARGUMENT);
        hw_masker_free(pci);
    }

    /* ── safety numbers ──────────────────────────────────────────────────────────────── */
    {
        const char *a = "alice@example.com", *b = "bob@example.com";
        hw_bytes on_alice = {0}, on_bob = {0}, qr = {0};
        MUST(hw_safety_number((const uint8_t *)a, strlen(a), alice_id, (const uint8_t *)b,
                              strlen(b), bob_id, &on_alice, ERR));
        MUST(hw_safety_number((const uint8_t *)b, strlen(b), bob_id, (const uint8_t *)a,
                              strlen(a), alice_id, &on_bob, ERR));
        CHECK(on_alice.len == 60);
        CHECK(on_alice.len == on_bob.len && memcmp(on_alice.data, on_bob.data, 60) == 0);
        /* Alice scans Bob's screen; with the wrong key for Bob it is another pair. */
        MUST(hw_safety_number_qr((const uint8_t *)b, strlen(b), bob_id, (const uint8_t *)a,
                                 strlen(a), alice_id, &qr, ERR));
        MUST(hw_safety_number_verify_scanned((const uint8_t *)a, strlen(a), alice_id,
                                             (const uint8_t *)b, strlen(b), bob_id, qr.data,
                                             qr.len, ERR));
        CHECK(hw_safety_number_verify_scanned((const uint8_t *)a, strlen(a), alice_id,
                                              (const uint8_t *)b, strlen(b), alice_id, qr.data,
                                              qr.len, NULL) == HW_TAMPERED);
        hw_bytes_free(&on_alice);
        hw_bytes_free(&on_bob);
        hw_bytes_free(&qr);
    }

    /* ── an operator's business identity, and a relay challenge ──────────────────────── */
    {
        hw_issuer *root = NULL, *org_key = NULL;
        hw_organization_roots *roots = NULL;
        uint8_t root_key[32], org_public[32];
        hw_bytes key_cert = {0}, cert = {0}, display = {0}, role = {0};
        uint64_t valid_until = 0;
        const char *org = "Acme Bank", *name = "Dana Smith", *job = "Card support";
        MUST(hw_issuer_new(&root, ERR));
        MUST(hw_issuer_new(&org_key, ERR));
        MUST(hw_issuer_public_key(root, &root_key, ERR));
        MUST(hw_issuer_public_key(org_key, &org_public, ERR));
        MUST(hw_server_certificate_issue(root, 1, 5, org_public, 0, NOW + 365 * DAY, &key_cert,
                                         ERR));
        /* Bob is the operator: his device's identity key is certified. */
        MUST(hw_identity_certificate_issue(org_key, key_cert.data, key_cert.len, 9,
                                           (const uint8_t *)org, strlen(org),
                                           (const uint8_t *)name, strlen(name),
                                           (const uint8_t *)job, strlen(job), bob_id, NOW,
                                           NOW + 7 * DAY, &cert, ERR));
        MUST(hw_organization_roots_new(&roots, ERR));
        CHECK(hw_verify_operator(cert.data, cert.len, bob_id, roots, NOW + 60, &display, NULL,
                                 NULL, NULL, NULL, NULL) == HW_UNTRUSTED);
        MUST(hw_organization_roots_pin(roots, 1, root_key, (const uint8_t *)org, strlen(org),
                                       ERR));
        /* Alice checks the session's remote identity. */
        MUST(hw_session_remote_identity(a2b, &id_a, ERR));
        MUST(hw_verify_operator(cert.data, cert.len, id_a, roots, NOW + 60, &display, NULL, NULL,
                                &role, &valid_until, ERR));
        CHECK(bytes_eq(&display, "verified as Acme Bank, Dana Smith, Card support"));
        CHECK(bytes_eq(&role, job));
        CHECK(valid_until == NOW + 7 * DAY);
        hw_bytes_free(&display);
        hw_bytes_free(&role);
        /* Another key, or after expiry: refused. */
        CHECK(hw_verify_operator(cert.data, cert.len, alice_id, roots, NOW + 60, &display, NULL,
                                 NULL, NULL, NULL, NULL) == HW_TAMPERED);
        CHECK(hw_verify_operator(cert.data, cert.len, bob_id, roots, NOW + 8 * DAY, &display,
                                 NULL, NULL, NULL, NULL, NULL) == HW_UNTRUSTED);
        CHECK(display.data == NULL);

        const char *challenge = "relay.example.com 8f1d2c3b4a596877";
        uint8_t signature[64], valid = 0;
        MUST(hw_account_sign_relay_challenge(bob, (const uint8_t *)challenge, strlen(challenge),
                                             &signature, ERR));
        MUST(hw_relay_challenge_verify(bob_id, (const uint8_t *)challenge, strlen(challenge),
                                       signature, &valid, ERR));
        CHECK(valid == 1);
        MUST(hw_relay_challenge_verify(alice_id, (const uint8_t *)challenge, strlen(challenge),
                                       signature, &valid, ERR));
        CHECK(valid == 0);

        hw_bytes_free(&key_cert);
        hw_bytes_free(&cert);
        hw_organization_roots_free(roots);
        hw_issuer_free(root);
        hw_issuer_free(org_key);
    }

    /* ── account-held sessions and a reset; short authentication strings; a backup ───── */
    account_sessions_and_reset();
    sas_on_sessions(a2b, b2a);
    backup_round_trip(bob, bob_group, alice_group, bob_id);

    hw_group_free(alice_group);
    hw_group_free(bob_group);
    hw_session_free(a2b);
    hw_session_free(b2a);
    hw_account_free(alice);
    hw_account_free(bob);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
