//! Fixed test vectors of sensitive-data masking (`tests/vectors/mask/*.json`, SPEC.md §17.7).
//!
//! - `masking.json`: masker configurations and texts, with the masked text (written by hand
//!   here for every case) and the spans the library reports.
//! - `secure_fields.json`: secure fields sealed from a seeded RNG. The commitment, both
//!   encodings and the masked forms are recomputed here from SPEC.md §17.3–§17.5 with `sha2`
//!   only; the envelope is opened with the vault's key and its content compared with the
//!   reference encoding. Rejections of malformed operator copies are written by hand.
//!
//! Set `HUSHWIRE_REGENERATE_VECTORS=1` to rewrite the files instead of comparing.

#![cfg(feature = "mask")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chacha20::ChaCha20Rng;
use hushwire::certificate::SenderCertificateInfo;
use hushwire::mask::{MaskedField, Masker, Policy, SecureField, SensitiveKind, VaultedField};
use hushwire::{
    DecodeError, IdentityKeyPair, IssuerKeyPair, SenderCertificate, ServerCertificate, Timestamp,
    TrustStore, Validity, sealed,
};
use rand_core::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::vector_file;

use vector_file::{canonical_text, check_vector_file, json_file_names};

use crate::common::vector_json;

use crate::common::NOW_SECS as NOW;
const LABEL_SECURE_FIELD_COMMITMENT: &[u8] = b"hushwire/v1/secure-field-commitment";

fn hx(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::KeepLast4 => "keep_last_4",
        Policy::KeepFirst6Last4 => "keep_first_6_last_4",
        Policy::MaskAll => "mask_all",
        Policy::FlagOnly => "flag_only",
        _ => unreachable!(),
    }
}

fn policy_byte(policy: Policy) -> u8 {
    match policy {
        Policy::KeepLast4 => 1,
        Policy::KeepFirst6Last4 => 2,
        Policy::MaskAll => 3,
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------------------------
// masking.json

/// A configuration: the policy of the IBAN, card, e-mail and phone detectors (`None`: off).
type Config = [Option<Policy>; 4];

const DEFAULT: Config = [
    Some(Policy::KeepLast4),
    Some(Policy::KeepLast4),
    Some(Policy::FlagOnly),
    None,
];
const ALL: Config = [
    Some(Policy::KeepLast4),
    Some(Policy::KeepLast4),
    Some(Policy::MaskAll),
    Some(Policy::KeepLast4),
];
const PCI: Config = [
    Some(Policy::KeepFirst6Last4),
    Some(Policy::KeepFirst6Last4),
    Some(Policy::MaskAll),
    Some(Policy::MaskAll),
];

fn masker(config: &Config) -> Masker {
    let mut b = Masker::builder();
    for (kind, policy) in [
        SensitiveKind::IBAN,
        SensitiveKind::CARD,
        SensitiveKind::EMAIL,
        SensitiveKind::PHONE,
    ]
    .into_iter()
    .zip(config)
    {
        b = match (kind, policy) {
            (kind, None) => b.without(kind),
            (SensitiveKind::IBAN, Some(p)) => b.iban(*p),
            (SensitiveKind::CARD, Some(p)) => b.card(*p),
            (SensitiveKind::EMAIL, Some(p)) => b.email(*p),
            (_, Some(p)) => b.phone(*p),
        };
    }
    b.build()
}

fn config_json(config: &Config) -> Value {
    let name = |p: &Option<Policy>| p.map_or(Value::Null, |p| json!(policy_name(p)));
    json!({
        "iban": name(&config[0]),
        "card": name(&config[1]),
        "email": name(&config[2]),
        "phone": name(&config[3]),
    })
}

/// (configuration, what the case shows, text, the masked text expected, written by hand).
fn masking_cases() -> Vec<(Config, &'static str, &'static str, &'static str)> {
    vec![
        (
            DEFAULT,
            "card, spaces",
            "card 4242 4242 4242 4242 ok",
            "card •••• •••• •••• 4242 ok",
        ),
        (
            DEFAULT,
            "card, dashes",
            "4111-1111-1111-1111",
            "••••-••••-••••-1111",
        ),
        (
            DEFAULT,
            "card, contiguous",
            "pay 5555555555554444.",
            "pay ••••••••••••4444.",
        ),
        (
            DEFAULT,
            "card, no-break spaces",
            "4242\u{a0}4242\u{a0}4242\u{a0}4242",
            "••••\u{a0}••••\u{a0}••••\u{a0}4242",
        ),
        (
            DEFAULT,
            "American Express 4-6-5",
            "3782 822463 10005",
            "•••• •••••• •0005",
        ),
        (
            DEFAULT,
            "Diners Club 4-6-4",
            "3622 720627 1667",
            "•••• •••••• 1667",
        ),
        (
            DEFAULT,
            "19 digits 4-4-4-4-3",
            "6205 5000 0000 0000 004",
            "•••• •••• •••• •••0 004",
        ),
        (
            DEFAULT,
            "13-digit Visa 4-4-4-1",
            "4222 2222 2222 2",
            "•••• •••• •222 2",
        ),
        (
            DEFAULT,
            "card and security code",
            "4242 4242 4242 4242 123",
            "•••• •••• •••• 4242 123",
        ),
        (
            DEFAULT,
            "two cards in one run",
            "4242424242424242 5555555555554444",
            "••••••••••••4242 ••••••••••••4444",
        ),
        (
            DEFAULT,
            "text around, no spaces",
            "カード4242424242424242です",
            "カード••••••••••••4242です",
        ),
        (
            DEFAULT,
            "Luhn fails",
            "order 4242424242424241",
            "order 4242424242424241",
        ),
        (
            DEFAULT,
            "no issuer prefix",
            "id 1234567812345670",
            "id 1234567812345670",
        ),
        (DEFAULT, "after +", "+4242424242424242", "+4242424242424242"),
        (
            DEFAULT,
            "in a URL",
            "https://x.example/o/4242424242424242",
            "https://x.example/o/4242424242424242",
        ),
        (
            DEFAULT,
            "glued to a word",
            "ref4242424242424242",
            "ref4242424242424242",
        ),
        (
            DEFAULT,
            "hyphenated identifier",
            "id-4242424242424242",
            "id-4242424242424242",
        ),
        (
            DEFAULT,
            "long digit run",
            "4242424242424242424242",
            "4242424242424242424242",
        ),
        (
            DEFAULT,
            "run not starting with a card",
            "1234 4242 4242 4242 4242",
            "1234 4242 4242 4242 4242",
        ),
        (
            DEFAULT,
            "already masked",
            "•••• •••• •••• 4242",
            "•••• •••• •••• 4242",
        ),
        (
            DEFAULT,
            "IBAN, printed",
            "IBAN: DE89 3704 0044 0532 0130 00.",
            "IBAN: •••• •••• •••• •••• ••30 00.",
        ),
        (
            DEFAULT,
            "IBAN, electronic, lower case",
            "gb82west12345698765432",
            "••••••••••••••••••5432",
        ),
        (
            DEFAULT,
            "IBAN, bad check",
            "DE88 3704 0044 0532 0130 00",
            "DE88 3704 0044 0532 0130 00",
        ),
        (
            DEFAULT,
            "IBAN, wrong length",
            "DE89 3704 0044 0532 0130 0012",
            "DE89 3704 0044 0532 0130 0012",
        ),
        (
            DEFAULT,
            "e-mail is flagged only",
            "mail ana.lima@example.com",
            "mail ana.lima@example.com",
        ),
        (
            DEFAULT,
            "phone is off",
            "+44 20 7946 0958",
            "+44 20 7946 0958",
        ),
        (
            ALL,
            "every detector",
            "DE89370400440532013000 / 4242424242424242 / a.b@example.org / +1 (415) 555-2671",
            "••••••••••••••••••3000 / ••••••••••••4242 / •.•@•••••••.••• / +• (•••) •••-2671",
        ),
        (ALL, "phone, trunk 0", "030 12345678", "••• ••••5678"),
        (ALL, "phone, plain digits", "4155552671", "4155552671"),
        (
            ALL,
            "phone, date and time",
            "2024-05-01 12:30",
            "2024-05-01 12:30",
        ),
        (
            ALL,
            "address glued to a card is cut",
            "4242 4242 4242 4242-ana@example.com",
            "•••• •••• •••• 4242-•••@•••••••.•••",
        ),
        (
            PCI,
            "keep first 6 and last 4",
            "4242 4242 4242 4242 / DE89370400440532013000",
            "4242 42•• •••• 4242 / DE8937••••••••••••3000",
        ),
        (
            PCI,
            "e-mail mask all",
            "x_y@sub.example.io",
            "•_•@•••.•••••••.••",
        ),
    ]
}

fn masking_vectors() -> Value {
    let mut cases = Vec::new();
    for (config, name, text, expected) in masking_cases() {
        let masker = masker(&config);
        let masked = masker.mask(text);
        assert_eq!(masked.text(), expected, "{name}");
        assert_eq!(
            masker.mask(masked.text()).text(),
            expected,
            "{name}: idempotent"
        );
        let spans: Vec<Value> = masked
            .spans()
            .iter()
            .map(|s| {
                json!({
                    "kind": s.kind().to_byte(),
                    "policy": policy_name(s.policy()),
                    "original": [s.original().start, s.original().end],
                    "masked": [s.masked().start, s.masked().end],
                })
            })
            .collect();
        cases.push(json!({
            "name": name,
            "config": config_json(&config),
            "text": text,
            "masked": expected,
            "spans": spans,
        }));
    }
    json!({
        "description": "Masker configurations (policy per built-in detector, null = off; detectors run \
                        iban, card, email, phone) and texts, with the masked text and the spans: \
                        kind byte, policy, byte ranges in the original and in the masked text \
                        (SPEC.md §17.2-§17.4). Masking the masked text again gives it unchanged.",
        "cases": cases,
    })
}

// ---------------------------------------------------------------------------------------------
// secure_fields.json: the reference.

fn ref_mask(policy: Policy, value: &str) -> String {
    let significant = value.chars().filter(|c| c.is_alphanumeric()).count();
    let (first, last) = match policy {
        Policy::KeepLast4 => (0, 4),
        Policy::KeepFirst6Last4 => (6, 4),
        _ => (0, 0),
    };
    let (first, last) = if significant <= first + last {
        (0, 0)
    } else {
        (first, last)
    };
    let mut i = 0;
    value
        .chars()
        .map(|c| {
            if !c.is_alphanumeric() {
                return c;
            }
            let keep = i < first || i >= significant - last;
            i += 1;
            if keep { c } else { '\u{2022}' }
        })
        .collect()
}

fn ref_commitment(
    kind: u8,
    policy: u8,
    reference: &[u8],
    blinding: &[u8],
    value: &[u8],
) -> Vec<u8> {
    let len = u16::try_from(value.len()).unwrap().to_be_bytes();
    Sha256::digest(
        [
            LABEL_SECURE_FIELD_COMMITMENT,
            &[kind, policy],
            reference,
            blinding,
            &len,
            value,
        ]
        .concat(),
    )
    .to_vec()
}

fn ref_structure(
    ty: u8,
    kind: u8,
    policy: u8,
    reference: &[u8],
    secret: &[u8],
    text: &[u8],
) -> Vec<u8> {
    let len = u16::try_from(text.len()).unwrap().to_be_bytes();
    [&[1, ty, kind, policy][..], reference, secret, &len, text].concat()
}

fn secure_field_vectors() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(17);
    let now = Timestamp::from_unix_secs(NOW);
    let root = IssuerKeyPair::generate(&mut rng);
    let server = IssuerKeyPair::generate(&mut rng);
    let validity = Validity::new(
        Timestamp::from_unix_secs(NOW - 3_600),
        now.plus_secs(86_400),
    )
    .unwrap();
    let server_cert = ServerCertificate::issue(&root, 1, 7, &server.public(), validity);
    let mut trust = TrustStore::new();
    trust.add_root(1, root.public()).unwrap();
    let customer = IdentityKeyPair::generate(&mut rng);
    let vault = IdentityKeyPair::generate(&mut rng);
    let certificate = SenderCertificate::issue(
        &server,
        &server_cert,
        SenderCertificateInfo {
            serial: 42,
            user_id: b"customer-1".to_vec(),
            device_id: 1,
            identity_key: *customer.public(),
            validity,
        },
    )
    .unwrap();

    let custom = SensitiveKind::custom(0x81).unwrap();
    let mut fields = Vec::new();
    for (kind, policy, value) in [
        (
            SensitiveKind::CARD,
            Policy::KeepLast4,
            "4242 4242 4242 4242",
        ),
        (
            SensitiveKind::CARD,
            Policy::KeepFirst6Last4,
            "378282246310005",
        ),
        (
            SensitiveKind::IBAN,
            Policy::KeepLast4,
            "FR14 2004 1010 0505 0001 3M02 606",
        ),
        (SensitiveKind::EMAIL, Policy::MaskAll, "ana@example.com"),
        (SensitiveKind::PHONE, Policy::KeepLast4, "+44 20 7946 0958"),
        (custom, Policy::MaskAll, "Zoë-12"),
    ] {
        // The draws, replayed from the same position: reference (16), blinding (32).
        let mut replay = ChaCha20Rng::from_seed(rng.get_seed());
        replay.set_word_pos(rng.get_word_pos());
        let mut reference = [0u8; 16];
        let mut blinding = [0u8; 32];
        replay.fill_bytes(&mut reference);
        replay.fill_bytes(&mut blinding);

        let field = SecureField::seal(
            &customer,
            &certificate,
            vault.public(),
            kind,
            policy,
            value,
            now,
            &mut rng,
        )
        .unwrap();
        let (kb, pb) = (kind.to_byte(), policy_byte(policy));
        let masked = ref_mask(policy, value);
        let commitment = ref_commitment(kb, pb, &reference, &blinding, value.as_bytes());
        let operator_copy = ref_structure(0x70, kb, pb, &reference, &commitment, masked.as_bytes());
        let vaulted = ref_structure(0x71, kb, pb, &reference, &blinding, value.as_bytes());

        assert_eq!(field.masked_field().to_bytes(), operator_copy, "{value}");
        let opened = sealed::open(&vault, field.envelope(), &trust, now).unwrap();
        assert_eq!(opened.metadata().content_type().to_byte(), 0x03);
        assert_eq!(opened.message(), vaulted.as_slice(), "{value}");
        let vaulted_field = VaultedField::open(&vault, field.envelope(), &trust, now).unwrap();
        assert_eq!(vaulted_field.verify(field.masked_field()), Ok(()));

        fields.push(json!({
            "kind": kb,
            "policy": policy_name(policy),
            "value": value,
            "reference": hx(&reference),
            "blinding": hx(&blinding),
            "masked": masked,
            "commitment": hx(&commitment),
            "masked_field": hx(&operator_copy),
            "vaulted_value": hx(&vaulted),
            "envelope": hx(field.envelope()),
        }));
    }

    // Malformed operator copies, each with the error written by hand.
    let good =
        MaskedField::from_bytes(&hex::decode(fields[0]["masked_field"].as_str().unwrap()).unwrap())
            .unwrap()
            .to_bytes();
    let edited = |at: usize, value: u8| {
        let mut b = good.clone();
        b[at] = value;
        b
    };
    let mut rejections = Vec::new();
    for (name, bytes, expected) in [
        ("version 2", edited(0, 2), DecodeError::UnknownVersion(2)),
        (
            "type 0x71",
            edited(1, 0x71),
            DecodeError::WrongType {
                expected: 0x70,
                found: 0x71,
            },
        ),
        ("type 0x7f", edited(1, 0x7f), DecodeError::UnknownType(0x7f)),
        (
            "kind 0x05",
            edited(2, 0x05),
            DecodeError::InvalidField { field: "kind" },
        ),
        (
            "policy 0x04",
            edited(3, 0x04),
            DecodeError::InvalidField { field: "policy" },
        ),
        (
            "masked_len 0",
            [&good[..52], &[0, 0]].concat(),
            DecodeError::InvalidField {
                field: "masked_len",
            },
        ),
        (
            "masked form cut",
            good[..good.len() - 1].to_vec(),
            DecodeError::Truncated { needed: 1 },
        ),
        (
            "masked form not UTF-8",
            [&good[..52], &[0, 1, 0xFF]].concat(),
            DecodeError::InvalidField { field: "masked" },
        ),
        (
            "trailing byte",
            [&good[..], &[0]].concat(),
            DecodeError::TrailingBytes { count: 1 },
        ),
    ] {
        assert_eq!(MaskedField::from_bytes(&bytes), Err(expected), "{name}");
        rejections.push(json!({
            "name": name,
            "masked_field": hx(&bytes),
            "error": vector_json::error_json(expected),
        }));
    }

    json!({
        "description": "Secure fields (SPEC.md §17.5): the customer seals each value to the vault at \
                        `now`; reference and blinding are the first 16 and next 32 bytes drawn, then \
                        the sealed envelope draws its ephemeral secret. commitment = SHA-256(label || \
                        kind || policy || reference || blinding || u16be(len(value)) || value). The \
                        envelope opens with the vault's seed to content type 0x03 and the message \
                        `vaulted_value`.",
        "rng": "chacha20::ChaCha20Rng::seed_from_u64(17): root issuer, server issuer, customer, vault \
                (one 32-byte draw each, the Ed25519 seed), then each field in order",
        "now": NOW,
        "label": hx(LABEL_SECURE_FIELD_COMMITMENT),
        "customer_seed": hx(&*customer.dangerous_to_seed()),
        "customer_identity": hx(customer.public().as_bytes()),
        "vault_seed": hx(&*vault.dangerous_to_seed()),
        "vault_identity": hx(vault.public().as_bytes()),
        "trust_root": hx(root.public().as_bytes()),
        "sender_certificate": hx(certificate.as_bytes()),
        "fields": fields,
        "rejections": rejections,
    })
}

#[test]
fn masking() {
    check_vector_file("mask", "masking", &canonical_text(&masking_vectors()));
}

#[test]
fn secure_fields() {
    check_vector_file(
        "mask",
        "secure_fields",
        &canonical_text(&secure_field_vectors()),
    );
}

#[test]
fn every_vector_file_is_checked() {
    assert_eq!(
        json_file_names("mask"),
        ["masking.json", "secure_fields.json"]
    );
}
