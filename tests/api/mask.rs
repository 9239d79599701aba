//! Masking as an app uses it (SPEC.md §17): the customer's device masks before encrypting
//! and seals the card number to a payment vault; the operator sees only the masked form; the
//! vault checks the operator's copy; a receiver refuses unmasked card data from an old
//! client. And every limit and decoding error of the secure-field structures, at and past
//! its edge.

#![cfg(feature = "mask")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common;

use chacha20::ChaCha20Rng;
use hushwire::certificate::SenderCertificateInfo;
use hushwire::mask::{
    MAX_MASKED_FIELD_LEN, MAX_SECURE_FIELD_MASKED_LEN, MAX_SECURE_FIELD_VALUE_LEN,
    MAX_VAULTED_FIELD_LEN, MaskCheckError, MaskedField, Masker, Policy, SECURE_FIELD_CONTENT_TYPE,
    SecureField, SecureFieldError, SensitiveKind, VaultedField,
};
use hushwire::wire::RatchetMessage;
use hushwire::{
    ContentType, DecodeError, ErrorKind, IdentityKeyPair, IssuerKeyPair, Metadata, OpenError,
    SealError, SenderCertificate, ServerCertificate, Timestamp, TrustStore, Validity, sealed,
};
use rand_core::{Rng, SeedableRng};

use crate::common::{NOW, rng};

/// A chat deployment with a payment vault: the customer's identity and certificate, the
/// vault's identity, and the trust store the vault validates certificates with.
struct Deployment {
    customer: IdentityKeyPair,
    certificate: SenderCertificate,
    vault: IdentityKeyPair,
    trust: TrustStore,
    rng: ChaCha20Rng,
}

fn deployment(seed: u64) -> Deployment {
    let mut rng = rng(seed);
    let root = IssuerKeyPair::generate(&mut rng);
    let server = IssuerKeyPair::generate(&mut rng);
    let validity = Validity::new(Timestamp::from_unix_secs(0), NOW.plus_secs(86_400)).unwrap();
    let server_cert = ServerCertificate::issue(&root, 1, 1, &server.public(), validity);
    let mut trust = TrustStore::new();
    trust.add_root(1, root.public()).unwrap();
    let customer = IdentityKeyPair::generate(&mut rng);
    let certificate = SenderCertificate::issue(
        &server,
        &server_cert,
        SenderCertificateInfo {
            serial: 9,
            user_id: b"customer-42".to_vec(),
            device_id: 1,
            identity_key: *customer.public(),
            validity,
        },
    )
    .unwrap();
    let vault = IdentityKeyPair::generate(&mut rng);
    Deployment {
        customer,
        certificate,
        vault,
        trust,
        rng,
    }
}

impl Deployment {
    fn seal(&mut self, kind: SensitiveKind, policy: Policy, value: &str) -> SecureField {
        SecureField::seal(
            &self.customer,
            &self.certificate,
            self.vault.public(),
            kind,
            policy,
            value,
            NOW,
            &mut self.rng,
        )
        .unwrap()
    }

    fn open(&self, envelope: &[u8]) -> Result<VaultedField, SecureFieldError> {
        VaultedField::open(&self.vault, envelope, &self.trust, NOW)
    }

    /// Seals `message` to the vault with content type `content_type` (not a secure field).
    fn seal_raw(&mut self, content_type: ContentType, message: &[u8]) -> Vec<u8> {
        sealed::seal(
            &self.customer,
            &self.certificate,
            self.vault.public(),
            &Metadata::new(content_type, NOW),
            message,
            &mut self.rng,
        )
        .unwrap()
    }
}

/// The customer types a card number; the operator reads `•••• •••• •••• 4242`, the vault
/// reads the number, and the operator's copy checks out at the vault.
#[test]
fn card_goes_to_the_vault_and_the_operator_sees_it_masked() {
    let mut d = deployment(1);
    let typed = "Hi! My card is 4242 4242 4242 4242, exp 12/27.";

    // Customer's device: mask before encrypting; seal each card to the vault.
    let masked = Masker::new().mask(typed);
    assert_eq!(
        masked.text(),
        "Hi! My card is •••• •••• •••• 4242, exp 12/27."
    );
    let span = &masked.spans()[0];
    let value = &typed[span.original()];
    let field = d.seal(span.kind(), span.policy(), value);
    let operator_copy = field.masked_field().to_bytes();

    // What the operator gets (inside the end-to-end message): no digit of the card other
    // than the last four, in the text or in the copy.
    assert!(!masked.text().contains("4242 4242"));
    let decoded = MaskedField::from_bytes(&operator_copy).unwrap();
    assert_eq!(decoded, *field.masked_field());
    assert_eq!(decoded.masked(), masked.masked_form(span));
    assert_eq!(decoded.kind(), SensitiveKind::CARD);
    assert_eq!(decoded.policy(), Policy::KeepLast4);
    assert!(!contains(&operator_copy, b"4242 4242"));
    assert!(!contains(&operator_copy, b"42424242"));

    // The relay sees only the sealed envelope: the number is not in it.
    assert!(!contains(field.envelope(), value.as_bytes()));

    // The vault opens it and checks the copy the operator hands in.
    let vaulted = d.open(field.envelope()).unwrap();
    assert_eq!(vaulted.dangerous_value(), "4242 4242 4242 4242");
    assert_eq!(vaulted.kind(), SensitiveKind::CARD);
    assert_eq!(vaulted.reference(), decoded.reference());
    assert_eq!(vaulted.sender().identity_key(), d.customer.public());
    assert_eq!(vaulted.sender().user_id(), b"customer-42");
    assert_eq!(vaulted.verify(&decoded), Ok(()));

    // Debug output names no secret.
    let debug = format!("{vaulted:?}");
    assert!(
        !debug.contains("4242 4242") && debug.contains("value_len: 19"),
        "{debug}"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn every_kind_and_masking_policy_round_trips() {
    let mut d = deployment(2);
    let custom = SensitiveKind::custom(0x80).unwrap();
    for (kind, value) in [
        (SensitiveKind::CARD, "378282246310005"),
        (SensitiveKind::IBAN, "GB82 WEST 1234 5698 7654 32"),
        (SensitiveKind::EMAIL, "ana@example.com"),
        (SensitiveKind::PHONE, "+44 20 7946 0958"),
        (custom, "Ausweis L01X00T47"),
    ] {
        for policy in [Policy::KeepLast4, Policy::KeepFirst6Last4, Policy::MaskAll] {
            let field = d.seal(kind, policy, value);
            assert_eq!(field.masked_field().masked(), policy.mask(value));
            let copy = MaskedField::from_bytes(&field.masked_field().to_bytes()).unwrap();
            let vaulted = d.open(field.envelope()).unwrap();
            assert_eq!(vaulted.dangerous_value(), value);
            assert_eq!((vaulted.kind(), vaulted.policy()), (kind, policy));
            assert_eq!(vaulted.verify(&copy), Ok(()));
        }
    }
}

#[test]
fn the_commitment_hides_the_value() {
    // The same value sealed twice: different references and commitments (fresh blinding),
    // so equal copies reveal nothing, and each copy only verifies against its own value.
    let mut d = deployment(3);
    let a = d.seal(SensitiveKind::CARD, Policy::KeepLast4, "4111111111111111");
    let b = d.seal(SensitiveKind::CARD, Policy::KeepLast4, "4111111111111111");
    assert_eq!(a.masked_field().masked(), b.masked_field().masked());
    assert_ne!(a.masked_field().reference(), b.masked_field().reference());
    assert_ne!(a.masked_field().commitment(), b.masked_field().commitment());
    let vaulted_a = d.open(a.envelope()).unwrap();
    assert_eq!(vaulted_a.verify(a.masked_field()), Ok(()));
    assert_eq!(
        vaulted_a.verify(b.masked_field()),
        Err(SecureFieldError::Mismatch)
    );
}

#[test]
fn an_altered_operator_copy_is_refused() {
    let mut d = deployment(4);
    let field = d.seal(
        SensitiveKind::CARD,
        Policy::KeepLast4,
        "5555 5555 5555 4444",
    );
    let vaulted = d.open(field.envelope()).unwrap();
    let genuine = field.masked_field().to_bytes();
    let edit = |at: usize, value: u8| {
        let mut bytes = genuine.clone();
        bytes[at] = value;
        MaskedField::from_bytes(&bytes).unwrap()
    };
    let masked_at = genuine.len() - 4;
    for (what, copy) in [
        ("kind", edit(2, 0x02)),
        ("policy", edit(3, 0x03)),
        ("reference", edit(4, genuine[4] ^ 1)),
        ("commitment", edit(51, genuine[51] ^ 0x80)),
        // "•••• •••• •••• 4444" shown as "•••• •••• •••• 4443".
        ("masked form", edit(genuine.len() - 1, b'3')),
        ("masked digit", edit(masked_at, b'5')),
    ] {
        assert_eq!(
            vaulted.verify(&copy),
            Err(SecureFieldError::Mismatch),
            "{what}"
        );
    }
    assert_eq!(SecureFieldError::Mismatch.kind(), ErrorKind::Tampered);
}

#[test]
fn sealing_refuses_bad_inputs_before_drawing_randomness() {
    let mut d = deployment(5);
    let other = IdentityKeyPair::generate(&mut d.rng);
    let max = "7".repeat(MAX_SECURE_FIELD_VALUE_LEN);
    let over = "7".repeat(MAX_SECURE_FIELD_VALUE_LEN + 1);
    for (sender, policy, value, expected) in [
        (
            &d.customer,
            Policy::KeepLast4,
            "",
            SecureFieldError::EmptyValue,
        ),
        (
            &d.customer,
            Policy::KeepLast4,
            over.as_str(),
            SecureFieldError::ValueTooLong {
                len: MAX_SECURE_FIELD_VALUE_LEN + 1,
                max: MAX_SECURE_FIELD_VALUE_LEN,
            },
        ),
        (
            &d.customer,
            Policy::FlagOnly,
            "4242",
            SecureFieldError::FlagOnlyPolicy,
        ),
        (
            &other,
            Policy::KeepLast4,
            "4242",
            SecureFieldError::Seal(SealError::CertificateMismatch),
        ),
    ] {
        let before = d.rng.get_word_pos();
        let result = SecureField::seal(
            sender,
            &d.certificate,
            d.vault.public(),
            SensitiveKind::CARD,
            policy,
            value,
            NOW,
            &mut d.rng,
        );
        assert_eq!(result.unwrap_err(), expected);
        assert_eq!(d.rng.get_word_pos(), before, "{expected:?}");
    }
    assert_eq!(
        SecureFieldError::ValueTooLong { len: 1, max: 0 }.kind(),
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        SecureFieldError::FlagOnlyPolicy.kind(),
        ErrorKind::InvalidInput
    );

    // At the limit: 256 bytes seal, and the masked form is within its own limit.
    let field = d.seal(SensitiveKind::CARD, Policy::MaskAll, &max);
    assert_eq!(
        field.masked_field().masked().len(),
        MAX_SECURE_FIELD_MASKED_LEN
    );
    assert_eq!(field.masked_field().to_bytes().len(), MAX_MASKED_FIELD_LEN);
    let vaulted = d.open(field.envelope()).unwrap();
    assert_eq!(vaulted.dangerous_value(), max);
    assert_eq!(vaulted.verify(field.masked_field()), Ok(()));
}

/// A well-formed masked field with a masked form of `len` bytes.
fn masked_field_bytes(masked_len: u16, masked: &[u8]) -> Vec<u8> {
    let mut out = vec![0x01, 0x70, 0x01, 0x01];
    out.extend_from_slice(&[0xAA; 16]);
    out.extend_from_slice(&[0xBB; 32]);
    out.extend_from_slice(&masked_len.to_be_bytes());
    out.extend_from_slice(masked);
    out
}

#[test]
fn masked_field_decoding_is_strict() {
    let max = "a".repeat(MAX_SECURE_FIELD_MASKED_LEN);
    let at_limit = masked_field_bytes(768, max.as_bytes());
    assert_eq!(at_limit.len(), MAX_MASKED_FIELD_LEN);
    let decoded = MaskedField::from_bytes(&at_limit).unwrap();
    assert_eq!(decoded.masked(), max);
    assert_eq!(decoded.to_bytes(), at_limit);
    assert_eq!(MaskedField::try_from(&at_limit[..]), Ok(decoded));

    let over = format!("{max}a");
    let good = masked_field_bytes(6, "••".as_bytes());
    assert!(MaskedField::from_bytes(&good).is_ok());
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        ("empty", vec![], DecodeError::Truncated { needed: 1 }),
        (
            "over the limit",
            masked_field_bytes(769, over.as_bytes()),
            DecodeError::TooLarge {
                len: MAX_MASKED_FIELD_LEN + 1,
                max: MAX_MASKED_FIELD_LEN,
            },
        ),
        (
            "masked_len 769",
            masked_field_bytes(769, b"a"),
            DecodeError::InvalidField {
                field: "masked_len",
            },
        ),
        (
            "truncated reference",
            good[..10].to_vec(),
            DecodeError::Truncated { needed: 10 },
        ),
    ];
    // Version, type, kind, policy, empty masked form, bad UTF-8, truncation and trailing
    // bytes are checked with the vectors (`tests/vector_tests/mask.rs`, `rejections`).
    for (what, bytes, expected) in cases {
        assert_eq!(MaskedField::from_bytes(&bytes), Err(expected), "{what}");
    }

    // The secure-field types are known to every decoder: another decoder reports them as
    // the wrong type, not an unknown one.
    assert_eq!(
        RatchetMessage::decode(&good),
        Err(DecodeError::WrongType {
            expected: 0x01,
            found: 0x70
        })
    );
}

/// A vaulted value (type `0x71`) built by hand.
fn vaulted_bytes(value_len: u16, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x01, 0x71, 0x01, 0x01];
    out.extend_from_slice(&[0xAA; 16]);
    out.extend_from_slice(&[0xBB; 32]);
    out.extend_from_slice(&value_len.to_be_bytes());
    out.extend_from_slice(value);
    out
}

#[test]
fn the_vault_refuses_what_is_not_a_secure_field() {
    let mut d = deployment(6);

    // A 256-byte value built by hand opens; 257 bytes is over the limit.
    let max = vec![b'9'; MAX_SECURE_FIELD_VALUE_LEN];
    let envelope = d.seal_raw(SECURE_FIELD_CONTENT_TYPE, &vaulted_bytes(256, &max));
    let vaulted = d.open(&envelope).unwrap();
    assert_eq!(vaulted.dangerous_value().len(), MAX_SECURE_FIELD_VALUE_LEN);
    assert_eq!(vaulted.reference(), &[0xAA; 16]);

    let over = vec![b'9'; MAX_SECURE_FIELD_VALUE_LEN + 1];
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        (
            "over the limit",
            vaulted_bytes(257, &over),
            DecodeError::TooLarge {
                len: MAX_VAULTED_FIELD_LEN + 1,
                max: MAX_VAULTED_FIELD_LEN,
            },
        ),
        (
            "operator copy inside",
            masked_field_bytes(1, b"x"),
            DecodeError::WrongType {
                expected: 0x71,
                found: 0x70,
            },
        ),
        (
            "value_len 0",
            vaulted_bytes(0, b""),
            DecodeError::InvalidField { field: "value_len" },
        ),
        (
            "not UTF-8",
            vaulted_bytes(1, &[0xFF]),
            DecodeError::InvalidField { field: "value" },
        ),
        (
            "trailing byte",
            [vaulted_bytes(1, b"1").as_slice(), &[0]].concat(),
            DecodeError::TrailingBytes { count: 1 },
        ),
    ];
    for (what, content, expected) in cases {
        let envelope = d.seal_raw(SECURE_FIELD_CONTENT_TYPE, &content);
        assert_eq!(
            d.open(&envelope),
            Err(SecureFieldError::Malformed(expected)),
            "{what}"
        );
    }

    // Another content type: a chat message sealed to the vault is not a secure field.
    let envelope = d.seal_raw(ContentType::SESSION, &vaulted_bytes(1, b"1"));
    assert_eq!(
        d.open(&envelope),
        Err(SecureFieldError::NotSecureField {
            content_type: ContentType::SESSION
        })
    );

    // An envelope for someone else, and a tampered one.
    let field = d.seal(SensitiveKind::CARD, Policy::KeepLast4, "4242424242424242");
    let stranger = IdentityKeyPair::generate(&mut d.rng);
    assert_eq!(
        VaultedField::open(&stranger, field.envelope(), &d.trust, NOW),
        Err(SecureFieldError::Open(OpenError::NotForUs))
    );
    let mut tampered = field.envelope().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        d.open(&tampered),
        Err(SecureFieldError::Open(OpenError::Tampered))
    );
    let err = hushwire::Error::from(d.open(&tampered).unwrap_err());
    assert_eq!(err.kind(), ErrorKind::Tampered);
}

/// A receiver (operator app or transcript store) runs the same detectors on decrypted text
/// and refuses to keep unmasked card data, even from an old client that did not mask.
#[test]
fn the_receiver_refuses_unmasked_card_data_from_an_old_client() {
    let mut pair = common::pair(7);
    let masker = Masker::new();

    // An old client sends the number in clear (end-to-end encrypted, but unmasked).
    let sent = pair
        .alice
        .encrypt(b"card 4111-1111-1111-1111 thanks", &mut pair.rng)
        .unwrap();
    let read = pair.bob.decrypt(&sent).unwrap();
    let text = std::str::from_utf8(&read.plaintext).unwrap();
    let refused = masker.check(text).unwrap_err();
    assert_eq!(
        refused,
        MaskCheckError::Unmasked {
            kind: SensitiveKind::CARD,
            start: 5,
            end: 24
        }
    );
    assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        hushwire::Error::from(refused).kind(),
        ErrorKind::InvalidInput
    );
    // What the store keeps instead.
    let stored = masker.mask(text);
    assert_eq!(stored.text(), "card ••••-••••-••••-1111 thanks");
    assert_eq!(masker.check(stored.text()), Ok(()));

    // A current client masks before encrypting: the receiver's check passes.
    let typed = "IBAN DE89 3704 0044 0532 0130 00, mail ana@example.com";
    let sent = pair
        .alice
        .encrypt(masker.mask(typed).text().as_bytes(), &mut pair.rng)
        .unwrap();
    let read = pair.bob.decrypt(&sent).unwrap();
    let text = std::str::from_utf8(&read.plaintext).unwrap();
    assert_eq!(
        text,
        "IBAN •••• •••• •••• •••• ••30 00, mail ana@example.com"
    );
    // The address is flag-only by default: reported, allowed.
    assert_eq!(masker.check(text), Ok(()));
    assert_eq!(masker.find(text).len(), 1);
}

#[test]
fn rng_draw_order_is_reference_then_blinding() {
    // SPEC.md §17.5.5: 16 bytes of reference, then 32 of blinding, then the envelope's.
    let mut d = deployment(8);
    let mut copy = ChaCha20Rng::from_seed(d.rng.get_seed());
    copy.set_word_pos(d.rng.get_word_pos());
    let field = d.seal(SensitiveKind::CARD, Policy::KeepLast4, "4242424242424242");
    let mut reference = [0u8; 16];
    copy.fill_bytes(&mut reference);
    assert_eq!(field.masked_field().reference(), &reference);
}
