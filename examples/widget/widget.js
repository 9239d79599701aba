// A minimal support-chat widget on hushwire-wasm: the visitor's browser holds the keys, the
// relay (examples/chat, through its WebSocket endpoint) only forwards sealed envelopes.
//
// Query parameters: relay (ws:// URL of the relay's WebSocket endpoint, default
// ws://127.0.0.1:7071/), operator (the operator's name on the relay, default "operator"),
// name (the visitor's name, default a random one).
//
// What a real widget would add: keep the account and session in IndexedDB
// (account.exportState / Account.importState under a storage key it keeps apart), pin the
// relay's root at first use, and verify the operator's organization certificate
// (hw.verifyOperator) before showing a name.
import init, * as hw from "./pkg/hushwire_wasm.js";

const params = new URLSearchParams(location.search);
const relayUrl = params.get("relay") ?? "ws://127.0.0.1:7071/";
const operatorName = params.get("operator") ?? "operator";
const visitorName = params.get("name") ?? `visitor-${Math.random().toString(36).slice(2, 10)}`;

const $ = (id) => document.getElementById(id);
const status = (text) => ($("status").textContent = text);
function show(kind, text) {
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = text;
  $("log").append(li);
}

// The relay protocol (examples/chat/src/frame.rs): frames of a 4-byte big-endian length and
// a body that starts with a tag byte.
const MAX_FRAME_LEN = 1 << 20;
const T = {
  challenge: 0x01, welcome: 0x02, ok: 0x03, error: 0x04, bundle: 0x05, identity: 0x06,
  certificate: 0x07, deliver: 0x08, accepted: 0x09, notice: 0x0b,
  auth: 0x81, register: 0x82, fetchBundle: 0x84, lookup: 0x85, getCertificate: 0x86,
  send: 0x87, ack: 0x88, receive: 0x8a,
};
const utf8 = (s) => new TextEncoder().encode(s);
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

class Relay {
  constructor(url, onDeliver) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = "arraybuffer";
    this.buffer = new Uint8Array(0);
    this.answers = [];
    this.waiting = [];
    this.onDeliver = onDeliver;
    this.ws.onmessage = (event) => this.receive(new Uint8Array(event.data));
    this.ws.onclose = () => {
      status("disconnected");
      for (const w of this.waiting.splice(0)) w.reject(new Error("the relay closed the connection"));
    };
  }

  opened() {
    return new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(new Error(`cannot reach ${relayUrl}`));
    });
  }

  receive(bytes) {
    this.buffer = concat(this.buffer, bytes);
    while (this.buffer.length >= 4) {
      const len = new DataView(this.buffer.buffer, this.buffer.byteOffset).getUint32(0);
      if (len === 0 || len > MAX_FRAME_LEN) { this.ws.close(); return; }
      if (this.buffer.length < 4 + len) return;
      const body = this.buffer.slice(4, 4 + len);
      this.buffer = this.buffer.slice(4 + len);
      if (body[0] === T.deliver) this.onDeliver(body.slice(1, 9), body.slice(9));
      else if (body[0] === T.notice) show("info", `relay notice ${body[1]}`);
      else if (this.waiting.length > 0) this.waiting.shift().resolve(body);
      else this.answers.push(body);
    }
  }

  send(tag, payload = new Uint8Array(0)) {
    const frame = new Uint8Array(5 + payload.length);
    new DataView(frame.buffer).setUint32(0, 1 + payload.length);
    frame[4] = tag;
    frame.set(payload, 5);
    this.ws.send(frame);
  }

  /** The next answer, which must carry `tag`; its fields. */
  async expect(tag) {
    const body = this.answers.length > 0
      ? this.answers.shift()
      : await new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (body[0] === T.error) throw new Error(`the relay refused: error code ${body[1]}`);
    if (body[0] !== tag) throw new Error(`unexpected relay frame ${body[0]}`);
    return body.slice(1);
  }

  request(tag, payload, answer) {
    this.send(tag, payload);
    return this.expect(answer);
  }
}

async function main() {
  await init();
  const t0 = performance.now();
  const account = new hw.Account(); // the visitor's identity, made in this browser
  const identityMs = performance.now() - t0;
  const masker = new hw.Masker();
  const trust = new hw.TrustStore();
  let session;
  let operatorKey;

  status(`connecting to ${relayUrl}…`);
  const relay = new Relay(relayUrl, (id, envelope) => {
    try {
      const opened = account.openSealed(envelope, trust);
      const text = new TextDecoder().decode(opened.decrypt(session));
      show("them", `${opened.senderName}: ${text}`);
      window.__widget.received.push(text);
    } catch (e) {
      show("info", `a message could not be read (${e.code ?? e.message})`);
    }
    relay.send(T.ack, id);
  });
  await relay.opened();

  // Sign in: the relay's nonce, signed by the identity key (no TLS binding on plain ws://).
  const nonce = await relay.expect(T.challenge);
  relay.send(T.auth, concat(account.identityKey, account.signRelayChallenge(nonce)));
  const welcome = await relay.expect(T.welcome);
  const rootId = new DataView(welcome.buffer, welcome.byteOffset).getUint32(0);
  trust.addRoot(rootId, welcome.slice(4, 36));

  await relay.request(T.register, utf8(visitorName), T.ok);
  const certificate = await relay.request(T.getCertificate, undefined, T.certificate);
  operatorKey = await relay.request(T.lookup, utf8(operatorName), T.identity);
  const bundle = await relay.request(T.fetchBundle, operatorKey, T.bundle);
  session = account.createOutboundSession(bundle);
  await relay.request(T.receive, undefined, T.ok);

  status(`connected as ${visitorName}; identity made in ${identityMs.toFixed(1)} ms`);
  show("info", `Chatting with ${operatorName}. Card numbers and IBANs are masked before they leave this page.`);
  $("text").disabled = $("button").disabled = false;
  $("send").onsubmit = async (event) => {
    event.preventDefault();
    const text = $("text").value.trim();
    if (text === "") return;
    $("text").value = "";
    const masked = masker.mask(text).text;
    const envelope = account.seal(certificate, operatorKey, session.encrypt(utf8(masked)));
    await relay.request(T.send, envelope, T.accepted);
    show("me", masked);
    window.__widget.sent.push(masked);
  };
  window.__widget.ready = true;
}

window.__widget = { ready: false, sent: [], received: [], error: null };
main().catch((e) => {
  window.__widget.error = `${e.code ?? ""} ${e.message}`;
  status(`error: ${e.message}`);
});
