// Figures for the binding under Node (compare with the native criterion benches of the same
// operations: `cargo bench --bench session -- round_trip/hushwire/256` and
// `cargo bench --bench setup -- hushwire`). Not a test: prints medians, asserts nothing.
//
//   node wasm/bench.mjs        # after wasm/build.sh
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const hw = createRequire(import.meta.url)(
  process.env.HUSHWIRE_WASM_NODE_PKG ?? path.join(here, "../target/wasm-pkg/node"),
);

/** Median time of one call of `f`, in microseconds, over `rounds` batches of `batch` calls. */
function median(f, { batch, rounds = 15 }) {
  for (let i = 0; i < batch; i++) f(); // warm-up
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) f();
    times.push(Number(process.hrtime.bigint() - t0) / 1000 / batch);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const show = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`);

// Same-chain round trip, 256 B: one side encrypts, the other decrypts, no ratchet turn.
const alice = new hw.Account();
const bob = new hw.Account();
bob.generateOneTimePrekeys(1, 1);
const ab = alice.createOutboundSession(bob.publishedBundles()[0]);
const inbound = bob.createInboundSession(ab.encrypt(new Uint8Array([1])));
const ba = inbound.intoSession();
ab.decrypt(ba.encrypt(new Uint8Array([2])));
const message = new Uint8Array(256).fill(0x42);
const roundTrip = median(() => ba.decrypt(ab.encrypt(message)), { batch: 200 });

// Full session setup: the responder publishes (account, one one-time prekey of each kind,
// bundle), the initiator builds the session and encrypts, the responder accepts it.
const hello = new TextEncoder().encode("hello");
const setup = median(() => {
  const responder = new hw.Account();
  responder.generateOneTimePrekeys(1, 1);
  const bundle = responder.publishedBundles()[0];
  const session = alice.createOutboundSession(bundle);
  const first = session.encrypt(hello);
  responder.createInboundSession(first).intoSession().free();
  session.free();
  responder.free();
}, { batch: 10 });

const identity = median(() => new hw.Account().free(), { batch: 20 });

console.log(`node ${process.version}, hushwire-wasm (wasm32, release)`);
console.log(`round_trip_256B_us ${roundTrip.toFixed(2)}   # same-chain 256 B round trip: ${show(roundTrip)}`);
console.log(`session_setup_us ${setup.toFixed(1)}   # full PQ session setup: ${show(setup)}`);
console.log(`new_account_us ${identity.toFixed(1)}   # a visitor identity: ${show(identity)}`);
