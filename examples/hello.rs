//! Alice and Bob in one process, no network: an account each, Bob's prekey bundle, a session,
//! and a message each way. `cargo run --example hello`.
//!
//! What a real app adds around these calls: the bundle goes through your server, the messages
//! through your transport, and the account and sessions are saved (encrypted) after each call
//! that changes them. This is the core layer (`Account` + `Session`); a `hushwire::Device`
//! keeps the sessions per peer for you (`start_session`, `encrypt_for`, `decrypt_from`), which
//! is what the relay, peer and demo in `examples/chat/` use.

use hushwire::{Account, Timestamp};
use rand_core::SeedableRng;

fn main() -> Result<(), hushwire::Error> {
    // An app seeds from the OS (`getrandom`) and reads the clock; fixed values keep this
    // example deterministic. hushwire itself never does either.
    let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
    let now = Timestamp::from_unix_secs(1_700_000_000);

    let alice = Account::new(now, &mut rng);
    let mut bob = Account::new(now, &mut rng);
    bob.generate_one_time_prekeys(1, 1, now, &mut rng)?;
    // Bob publishes his prekeys; Alice's app fetches one bundle from the server.
    let bundle = bob.published_prekeys().take_bundle();

    let mut alice_to_bob = alice.create_outbound_session(&bundle, &mut rng)?;
    let hello = alice_to_bob.encrypt(b"Hello Bob!", &mut rng)?;

    // Bob's side of the session comes out of Alice's first message.
    let inbound = bob.create_inbound_session(&hello, now)?;
    let mut bob_to_alice = inbound.session;
    let text = String::from_utf8_lossy(&inbound.plaintext);
    println!("Bob reads:   {text} ({} bytes on the wire)", hello.len());

    let reply = bob_to_alice.encrypt(b"Hi Alice, got it.", &mut rng)?;
    let read = alice_to_bob.decrypt(&reply)?;
    let text = String::from_utf8_lossy(&read.plaintext);
    println!("Alice reads: {text} ({} bytes on the wire)", reply.len());
    Ok(())
}
