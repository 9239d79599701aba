// The binding's tests, written once and run in both engines: under Node by node.test.mjs (the
// `nodejs` package) and in headless Chromium by browser.html (the `web` package). Each case
// takes the package's exports as `hw`. No test framework: plain checks that throw.

const enc = new TextEncoder();
const dec = new TextDecoder();
const NOW = 1_800_000_000; // a fixed clock, unix seconds
const DAY = 86_400;

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Runs `f`, which must throw a HushwireError whose code matches `code` (a string or a
 *  RegExp); returns the error. */
function throwsCode(f, code, what) {
  let error;
  try {
    f();
  } catch (e) {
    error = e;
  }
  check(error !== undefined, `${what}: expected a throw with code ${code}`);
  check(error.name === "HushwireError", `${what}: name is ${error.name} (${error.message})`);
  const ok = code instanceof RegExp ? code.test(error.code) : error.code === code;
  check(ok, `${what}: code is ${error.code}, expected ${code} (${error.message})`);
  check(typeof error.kind === "string" && error.kind.length > 0, `${what}: a kind`);
  return error;
}

/** A visitor and an operator with a session each way, after one message and one reply. */
function pair(hw) {
  const visitor = new hw.Account(NOW);
  const operator = new hw.Account(NOW);
  operator.generateOneTimePrekeys(2, 2, NOW);
  const bundle = operator.publishedBundles()[0];
  const toOperator = visitor.createOutboundSession(bundle);
  const first = toOperator.encrypt(enc.encode("hello, is my order shipped?"));
  const inbound = operator.createInboundSession(first, NOW);
  check(dec.decode(inbound.plaintext) === "hello, is my order shipped?", "first message");
  const toVisitor = inbound.intoSession();
  const reply = toVisitor.encrypt(enc.encode("yes, this morning"));
  check(dec.decode(toOperator.decrypt(reply)) === "yes, this morning", "reply");
  return { visitor, operator, toOperator, toVisitor };
}

/** A messaging service's root and server key, and sender certificates for devices. */
function service(hw) {
  const root = new hw.Issuer();
  const server = new hw.Issuer();
  const serverCert = root.issueServerCertificate(1, 7, server.publicKey, NOW - DAY, NOW + 30 * DAY);
  const trust = new hw.TrustStore();
  trust.addRoot(1, root.publicKey);
  let serial = 0;
  const certify = (name, account) =>
    server.issueSenderCertificate(serverCert, ++serial, name, 1, account.identityKey, NOW - DAY, NOW + DAY);
  return { root, trust, certify };
}

/** An organization (root, organization key) certifying an operator device. */
function organization(hw, name) {
  const root = new hw.Issuer();
  const key = new hw.Issuer();
  const keyCert = root.issueServerCertificate(3, 1, key.publicKey, NOW - DAY, NOW + 365 * DAY);
  const certify = (account, notBefore = NOW - DAY, expiresAt = NOW + 6 * DAY) =>
    key.issueIdentityCertificate(keyCert, 42, name, "Dana", "Customer support", account.identityKey, notBefore, expiresAt);
  return { root, certify };
}

export const cases = [
  ["a visitor identity is 32 random bytes", (hw) => {
    const a = new hw.Account();
    const b = new hw.Account();
    check(a.identityKey instanceof Uint8Array && a.identityKey.length === 32, "32 bytes");
    check(!equalBytes(a.identityKey, b.identityKey), "two identities differ");
  }],

  ["a session round trip, both ways, same session id", (hw) => {
    const { toOperator, toVisitor, visitor, operator } = pair(hw);
    check(equalBytes(toOperator.sessionId, toVisitor.sessionId), "same session id");
    check(equalBytes(toOperator.remoteIdentity, operator.identityKey), "remote identity");
    check(equalBytes(toVisitor.remoteIdentity, visitor.identityKey), "remote identity back");
    check(toOperator.hasReceivedMessage, "the visitor has the reply");
    for (let i = 0; i < 5; i++) {
      const m = toOperator.encrypt(enc.encode(`message ${i}`));
      check(dec.decode(toVisitor.decrypt(m)) === `message ${i}`, `message ${i}`);
    }
  }],

  ["a tampered message throws decrypt.* and changes nothing", (hw) => {
    const { toOperator, toVisitor } = pair(hw);
    const m = toOperator.encrypt(enc.encode("the real one"));
    const bad = m.slice();
    bad[bad.length - 1] ^= 1;
    const e = throwsCode(() => toVisitor.decrypt(bad), /^decrypt\./, "tampered");
    check(e.kind === "tampered", `kind ${e.kind}`);
    check(dec.decode(toVisitor.decrypt(m)) === "the real one", "the genuine message still decrypts");
    const replay = throwsCode(() => toVisitor.decrypt(m), "decrypt.duplicate", "replayed");
    check(replay.kind === "replay", `kind ${replay.kind}`);
  }],

  ["a malformed bundle and a wrong-length key throw typed errors", (hw) => {
    const visitor = new hw.Account(NOW);
    throwsCode(() => visitor.createOutboundSession(new Uint8Array([1, 2, 3])), /^decode\./, "bundle");
    throwsCode(() => hw.verifyOperator(new Uint8Array(10), new Uint8Array(31), new hw.OrganizationRoots()),
      "decode.invalid_field", "31-byte key");
    throwsCode(() => visitor.exportState(new Uint8Array(32), -1), "config.out_of_range", "generation -1");
    throwsCode(() => visitor.exportState(new Uint8Array(16), 1), "decode.invalid_field", "short storage key");
  }],

  ["session state exports and imports as bytes, bound to its peer", (hw) => {
    const { toOperator, toVisitor, operator, visitor } = pair(hw);
    const key = crypto.getRandomValues(new Uint8Array(32));
    const blob = toOperator.exportState(key, 5);
    check(blob instanceof Uint8Array && blob.length > 100, "a blob");
    const back = hw.Session.importState(blob, key, 5, operator.identityKey);
    const m = back.encrypt(enc.encode("after a reload"));
    check(dec.decode(toVisitor.decrypt(m)) === "after a reload", "the restored session works");
    const wrongKey = crypto.getRandomValues(new Uint8Array(32));
    const e = throwsCode(() => hw.Session.importState(blob, wrongKey, 0, operator.identityKey), /^restore\./, "wrong key");
    check(e.kind === "tampered", `kind ${e.kind}`);
    throwsCode(() => hw.Session.importState(blob, key, 0, visitor.identityKey), "restore.wrong_object", "another peer");
    throwsCode(() => hw.Session.importState(blob, key, 6, operator.identityKey), "restore.rolled_back", "rolled back");
  }],

  ["account state exports and imports, keeping the identity", (hw) => {
    const account = new hw.Account(NOW);
    const key = crypto.getRandomValues(new Uint8Array(32));
    const back = hw.Account.importState(account.exportState(key, 1), key, 1);
    check(equalBytes(back.identityKey, account.identityKey), "same identity");
    const truncated = account.exportState(key, 1).slice(0, 20);
    throwsCode(() => hw.Account.importState(truncated, key, 0), /^restore\./, "truncated");
  }],

  ["an operator verified by organization certificate", (hw) => {
    const { toOperator, operator, visitor } = pair(hw);
    const acme = organization(hw, "Acme Bank");
    const roots = new hw.OrganizationRoots();
    roots.pin(3, acme.root.publicKey, "Acme Bank");
    const cert = acme.certify(operator);
    const who = hw.verifyOperator(cert, toOperator.remoteIdentity, roots, NOW);
    check(who.organization === "Acme Bank" && who.operatorName === "Dana", "names");
    check(who.role === "Customer support" && who.rootId === 3, "role, root");
    check(who.toString() === "verified as Acme Bank, Dana, Customer support", who.toString());
    check(who.validUntil === NOW + 6 * DAY, "valid until");
    throwsCode(() => hw.verifyOperator(cert, visitor.identityKey, roots, NOW), "verify.operator_key_mismatch", "other key");
    throwsCode(() => hw.verifyOperator(cert, operator.identityKey, roots, NOW + 7 * DAY), "verify.expired", "expired");
    throwsCode(() => hw.verifyOperator(cert, operator.identityKey, new hw.OrganizationRoots(), NOW),
      "verify.foreign_organization", "not pinned");
    const other = organization(hw, "Acme Bank");
    throwsCode(() => hw.verifyOperator(other.certify(operator), operator.identityKey, roots, NOW), "verify.forged", "another root key");
  }],

  ["sealed envelopes carry a session both ways", (hw) => {
    const visitor = new hw.Account(NOW);
    const operator = new hw.Account(NOW);
    operator.generateOneTimePrekeys(1, 1, NOW);
    const svc = service(hw);
    const session = visitor.createOutboundSession(operator.publishedBundles()[0]);
    const envelope = visitor.seal(svc.certify("visitor-1", visitor), operator.identityKey,
      session.encrypt(enc.encode("sealed hello")), 1, NOW);
    const opened = operator.openSealed(envelope, svc.trust, NOW);
    check(opened.senderName === "visitor-1" && opened.contentType === 1, "sender, type");
    check(equalBytes(opened.senderIdentity, visitor.identityKey) && opened.sentAt === NOW, "identity, time");
    const inbound = opened.createInboundSession(operator, NOW);
    check(dec.decode(inbound.plaintext) === "sealed hello", "plaintext");
    const back = inbound.intoSession();
    const reply = operator.seal(svc.certify("dana", operator), visitor.identityKey,
      back.encrypt(enc.encode("sealed reply")), 1, NOW);
    check(dec.decode(visitor.openSealed(reply, svc.trust, NOW).decrypt(session)) === "sealed reply", "reply");
    const e = throwsCode(() => operator.openSealed(envelope, new hw.TrustStore(), NOW), /^open\./, "untrusted root");
    check(e.kind === "untrusted", `kind ${e.kind}`);
    throwsCode(() => visitor.openSealed(envelope, svc.trust, NOW), "open.not_for_us", "not for us");
  }],

  ["a group of three: create, join, distribute, send", (hw) => {
    const [a, b, c] = [new hw.Account(NOW), new hw.Account(NOW), new hw.Account(NOW)];
    const sessions = (x, y) => {
      y.generateOneTimePrekeys(1, 1, NOW);
      const xy = x.createOutboundSession(y.publishedBundles()[0]);
      const yx = y.createInboundSession(xy.encrypt(enc.encode("hi")), NOW).intoSession();
      return [xy, yx];
    };
    const [ab, ba] = sessions(a, b);
    const [ac, ca] = sessions(a, c);
    const created = hw.GroupSession.create(a, [b.identityKey, c.identityKey]);
    const welcome = created.welcome;
    const aDistribution = created.distribution;
    const ga = created.intoSession();
    check(ga.members.length === 3 && ga.epoch === 0, "roster");
    const joinedB = hw.GroupSession.join(b, welcome, a.identityKey);
    const bDistribution = joinedB.distribution;
    const gb = joinedB.intoSession();
    const gc = hw.GroupSession.join(c, welcome, a.identityKey).intoSession();
    gb.receiveDistribution(ba, aDistribution);
    gc.receiveDistribution(ca, aDistribution);
    ga.receiveDistribution(ab, bDistribution);
    check(equalBytes(ga.groupId, gb.groupId), "same group");
    const m = ga.encrypt(enc.encode("to everyone"));
    for (const g of [gb, gc]) {
      const read = g.decrypt(m, NOW);
      check(dec.decode(read.plaintext) === "to everyone" && equalBytes(read.sender, a.identityKey), "group message");
    }
    throwsCode(() => gb.decrypt(m, NOW), "group.duplicate", "twice");
    check(dec.decode(ga.decrypt(gb.encrypt(enc.encode("from b")), NOW).plaintext) === "from b", "b to a");
    throwsCode(() => hw.GroupSession.join(b, welcome, c.identityKey), "roster.inviter_mismatch", "wrong inviter");
    const key = crypto.getRandomValues(new Uint8Array(32));
    const restored = hw.GroupSession.importState(gc.exportState(key, 1), key, 1, gc.groupId);
    check(dec.decode(restored.decrypt(ga.encrypt(enc.encode("again")), NOW).plaintext) === "again", "restored");
    void ac;
  }],

  ["masking before encryption, checking after", (hw) => {
    const masker = new hw.Masker({ phone: "keepLast4" });
    const text = "Karte 5555-5555-5555-4444 und IBAN DE89 3704 0044 0532 0130 00 — danke ✓";
    const masked = masker.mask(text);
    check(masked.changed, "changed");
    check(masked.text.startsWith("Karte ••••-••••-••••-4444 und IBAN •••• ••••"), masked.text);
    const kinds = masked.spans.map((s) => s.kind);
    check(kinds.join(",") === "card,iban", kinds.join(","));
    const card = masked.spans[0];
    check(text.slice(card.start, card.end) === "5555-5555-5555-4444", "UTF-16 offsets in the original");
    check(masked.text.slice(card.maskedStart, card.maskedEnd) === "••••-••••-••••-4444", "offsets in the masked text");
    masker.check(masked.text);
    throwsCode(() => masker.check(text), "mask_check.unmasked", "unmasked card");
    check(!masker.mask("nothing to see").changed, "nothing");
    throwsCode(() => new hw.Masker({ card: "sometimes" }), "decode.invalid_field", "unknown policy");
  }],

  ["attachments: encrypt, decrypt, and refuse a tampered object", (hw) => {
    const file = new Uint8Array(100_000).map((_, i) => i % 251);
    const sent = hw.encryptAttachment(file, "application/pdf", "invoice.pdf");
    const pointer = sent.pointer;
    const object = sent.object;
    check(object.length > file.length, "padded");
    const info = hw.attachmentInfo(pointer);
    check(info.fileName === "invoice.pdf" && info.contentType === "application/pdf", "names");
    check(info.size === file.length && info.objectSize === object.length, "sizes");
    check(equalBytes(hw.decryptAttachment(pointer, object), file), "round trip");
    const bad = object.slice();
    bad[5000] ^= 1;
    throwsCode(() => hw.decryptAttachment(pointer, bad), "attachment.digest_mismatch", "tampered");
    throwsCode(() => hw.attachmentInfo(new Uint8Array(3)), /^attachment\./, "bad pointer");
  }],

  ["a relay sign-in signature is 64 bytes and fresh per challenge", (hw) => {
    const a = new hw.Account(NOW);
    const s1 = a.signRelayChallenge(new Uint8Array(32).fill(1));
    const s2 = a.signRelayChallenge(new Uint8Array(32).fill(2));
    check(s1.length === 64 && !equalBytes(s1, s2), "signatures");
  }],
];

/** Runs every case; returns { passed, failed, results: [{ name, ok, error }] }. */
export function runAll(hw) {
  const results = [];
  for (const [name, run] of cases) {
    try {
      run(hw);
      results.push({ name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, error: `${e && e.stack ? e.stack : e}` });
    }
  }
  const passed = results.filter((r) => r.ok).length;
  return { passed, failed: results.length - passed, results };
}
