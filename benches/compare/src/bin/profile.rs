//! Runs one hushwire scenario many times, for a profiler (timing is the benches' job):
//!
//! ```sh
//! cargo build --release --manifest-path benches/compare/Cargo.toml --bin profile
//! valgrind --tool=callgrind target/release/profile round_trip_64KiB 200
//! perf record -g target/release/profile setup_full 2000
//! ```
//!
//! The scenario's setup runs before the loop; the loop holds only the measured operation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../common/fixtures.rs"]
mod fixtures;
#[path = "../../../common/floor.rs"]
mod floor;

use std::hint::black_box;

use hushwire::sealed;
use hushwire::{Account, ContentType, IdentityKey, IdentityKeyPair, Metadata, Session, StorageKey};

use fixtures::{Deployment, GroupPair, NOW, established, rng};

const SCENARIOS: &[&str] = &[
    "round_trip_256B",
    "round_trip_64KiB",
    "floor_round_trip_256B",
    "floor_round_trip_64KiB",
    "encrypt_64KiB",
    "ping_pong",
    "vodozemac_ping_pong",
    "out_of_order_1000",
    "setup_full",
    "group_encrypt",
    "group_decrypt",
    "sealed_seal",
    "sealed_open",
    "seal_multi_100",
    "session_export",
    "session_import",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(scenario), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse().ok())) else {
        eprintln!(
            "usage: profile SCENARIO ITERATIONS\nscenarios: {}",
            SCENARIOS.join(" ")
        );
        std::process::exit(2);
    };
    let n: usize = n;
    match scenario.as_str() {
        "round_trip_256B" | "round_trip_64KiB" | "encrypt_64KiB" => {
            let size = if scenario.ends_with("256B") {
                256
            } else {
                65536
            };
            let (mut rng, mut a, mut b) = established(1);
            let plaintext = vec![0x42u8; size];
            for _ in 0..n {
                let m = a.encrypt(black_box(&plaintext), &mut rng).unwrap();
                if scenario.starts_with("round_trip") {
                    let _ = black_box(b.decrypt(&m).unwrap());
                }
            }
        }
        "floor_round_trip_256B" | "floor_round_trip_64KiB" => {
            let size = if scenario.ends_with("256B") {
                256
            } else {
                65536
            };
            let mut rng = rng(1);
            let chain = floor::ChainFloor::new();
            let mut body = vec![0x42u8; size];
            for _ in 0..n {
                chain.round_trip(&mut rng, black_box(&mut body));
            }
        }
        "ping_pong" => {
            let (mut rng, mut a, mut b) = established(2);
            for _ in 0..n {
                let m = a.encrypt(b"ping", &mut rng).unwrap();
                let _ = black_box(b.decrypt(&m).unwrap());
                let m = b.encrypt(b"pong", &mut rng).unwrap();
                let _ = black_box(a.decrypt(&m).unwrap());
            }
        }
        "vodozemac_ping_pong" => {
            use vodozemac::olm::{Account as VzAccount, OlmMessage, SessionConfig};
            let alice = VzAccount::new();
            let mut bob = VzAccount::new();
            bob.generate_one_time_keys(1);
            let one_time = *bob.one_time_keys().values().next().unwrap();
            let mut a = alice
                .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), one_time)
                .unwrap();
            let OlmMessage::PreKey(first) = a.encrypt(b"hello").unwrap() else {
                panic!("the first message is a pre-key message")
            };
            let mut b = bob
                .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &first)
                .unwrap()
                .session;
            for _ in 0..n {
                let m = b.encrypt(b"pong").unwrap();
                let _ = black_box(a.decrypt(&m).unwrap());
                let m = a.encrypt(b"ping").unwrap();
                let _ = black_box(b.decrypt(&m).unwrap());
            }
        }
        "out_of_order_1000" => {
            for _ in 0..n {
                let (mut rng, mut a, mut b) = established(3);
                let msgs: Vec<Vec<u8>> = (0..1000)
                    .map(|_| a.encrypt(&[0u8; 32], &mut rng).unwrap())
                    .collect();
                for m in msgs.iter().rev() {
                    let _ = black_box(b.decrypt(m).unwrap());
                }
            }
        }
        "setup_full" => {
            let mut rng = rng(4);
            let alice = Account::new(NOW, &mut rng);
            for _ in 0..n {
                let _ = black_box(fixtures::setup(&alice, &mut rng));
            }
        }
        "group_encrypt" | "group_decrypt" => {
            let mut rng = rng(5);
            let mut pair = GroupPair::new(&mut rng);
            for _ in 0..n {
                let m = pair.alice.encrypt(&[0x42u8; 256], &mut rng).unwrap();
                if scenario == "group_decrypt" {
                    let _ = black_box(pair.bob.decrypt(&m, NOW).unwrap());
                }
            }
        }
        "sealed_seal" | "sealed_open" | "seal_multi_100" => {
            let mut rng = rng(6);
            let deployment = Deployment::new(&mut rng);
            let sender = IdentityKeyPair::generate(&mut rng);
            let recipient = IdentityKeyPair::generate(&mut rng);
            let certificate = deployment.certify(sender.public());
            let metadata = Metadata::new(ContentType::SESSION, NOW);
            let message = vec![7u8; 354];
            let recipients: Vec<IdentityKey> = (0..100)
                .map(|_| *IdentityKeyPair::generate(&mut rng).public())
                .collect();
            let envelope = sealed::seal(
                &sender,
                &certificate,
                recipient.public(),
                &metadata,
                &message,
                &mut rng,
            )
            .unwrap();
            for _ in 0..n {
                match scenario.as_str() {
                    "sealed_seal" => black_box(
                        sealed::seal(
                            &sender,
                            &certificate,
                            recipient.public(),
                            &metadata,
                            &message,
                            &mut rng,
                        )
                        .unwrap(),
                    ),
                    "sealed_open" => {
                        let _ = black_box(
                            sealed::open(&recipient, &envelope, &deployment.trust, NOW).unwrap(),
                        );
                        continue;
                    }
                    _ => black_box(
                        sealed::seal_multi(
                            &sender,
                            &certificate,
                            &recipients,
                            &metadata,
                            &message,
                            &mut rng,
                        )
                        .unwrap(),
                    ),
                };
            }
        }
        "session_export" | "session_import" => {
            let (mut rng, a, _b) = established(7);
            let key = StorageKey::from_bytes([9u8; 32]);
            let blob = a.to_encrypted(&key, 1, &mut rng);
            for _ in 0..n {
                if scenario == "session_export" {
                    let _ = black_box(a.to_encrypted(&key, 1, &mut rng));
                } else {
                    let _ = black_box(Session::from_encrypted(&blob, &key, 0, &hushwire::persist::Expected::any()).unwrap());
                }
            }
        }
        other => {
            eprintln!("unknown scenario {other}; one of: {}", SCENARIOS.join(" "));
            std::process::exit(2);
        }
    }
}
