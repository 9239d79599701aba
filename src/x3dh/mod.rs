//! The hybrid (X25519 + ML-KEM-768) key agreement that starts a session (SPEC.md §4).

mod bundle;
mod error;

pub use error::HandshakeError;

pub use bundle::{
    BUNDLE_LEN_WITHOUT_ONE_TIME, KemPreKeyPublic, OneTimePreKeyPublic, PreKeyBundle,
    SignedPreKeyPublic,
};

use rand_core::CryptoRng;
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};

use crate::kdf::{AgreedKeys, Transcript, pqxdh};
use crate::keys::{
    IdentityKey, IdentityKeyPair, KEM_CIPHERTEXT_LEN, KemPreKey, OneTimePreKey, SignedPreKey,
    dh_checked, kem_encapsulate,
};
use crate::wire::PreKeyFields;

/// What the initiator gets from the key agreement.
pub(crate) struct Initiated {
    pub(crate) keys: AgreedKeys,
    pub(crate) fields: PreKeyFields,
}

/// The initiator's side: verify the bundle, do DH1..DH4 and one encapsulation, derive keys.
pub(crate) fn initiate<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    rng: &mut R,
) -> Result<Initiated, HandshakeError> {
    bundle.verify()?;
    if bundle.identity_key == *identity.public() {
        return Err(HandshakeError::OwnIdentity);
    }
    let spk = XPublicKey::from(bundle.signed_prekey.key);
    let base = StaticSecret::random_from_rng(rng);
    let base_public = XPublicKey::from(&base).to_bytes();

    let dh1 = dh_checked(identity.dh_secret(), &spk).ok_or(HandshakeError::NonContributory)?;
    let dh2 = bundle
        .identity_key
        .dh_with(&base)
        .ok_or(HandshakeError::NonContributory)?;
    let dh3 = dh_checked(&base, &spk).ok_or(HandshakeError::NonContributory)?;
    let dh4 = match &bundle.one_time_prekey {
        Some(otk) => Some(
            dh_checked(&base, &XPublicKey::from(otk.key)).ok_or(HandshakeError::NonContributory)?,
        ),
        None => None,
    };
    let (kem_ciphertext, kem_secret) = kem_encapsulate(&bundle.kem_prekey.key, rng)?;

    let mut dhs = vec![&dh1, &dh2, &dh3];
    if let Some(dh4) = dh4.as_ref() {
        dhs.push(dh4);
    }
    let transcript = Transcript {
        initiator_identity: identity.public().as_bytes(),
        responder_identity: bundle.identity_key.as_bytes(),
        base_key: &base_public,
        signed_prekey: &bundle.signed_prekey.key,
        one_time_prekey: bundle.one_time_prekey.as_ref().map(|k| &k.key),
        kem_public_key: bundle.kem_prekey.key.as_slice(),
        kem_ciphertext: &kem_ciphertext,
    };
    let keys = pqxdh(&dhs, &kem_secret, &transcript);
    Ok(Initiated {
        keys,
        fields: PreKeyFields {
            identity_key: identity.public().to_bytes(),
            base_key: base_public,
            signed_prekey_id: bundle.signed_prekey.id,
            one_time_prekey_id: bundle.one_time_prekey.as_ref().map(|k| k.id),
            kem_prekey_id: bundle.kem_prekey.id,
            kem_ciphertext: Box::new(kem_ciphertext),
        },
    })
}

/// The responder's side: rebuild the same keys from its own secrets and the prekey message.
pub(crate) fn respond(
    identity: &IdentityKeyPair,
    their_identity: &IdentityKey,
    base_key: &[u8; 32],
    signed_prekey: &SignedPreKey,
    one_time_prekey: Option<&OneTimePreKey>,
    kem_prekey: &KemPreKey,
    kem_ciphertext: &[u8; KEM_CIPHERTEXT_LEN],
) -> Result<AgreedKeys, HandshakeError> {
    let base = XPublicKey::from(*base_key);
    let dh1 = their_identity
        .dh_with(&signed_prekey.secret)
        .ok_or(HandshakeError::NonContributory)?;
    let dh2 = dh_checked(identity.dh_secret(), &base).ok_or(HandshakeError::NonContributory)?;
    let dh3 = dh_checked(&signed_prekey.secret, &base).ok_or(HandshakeError::NonContributory)?;
    let dh4 = match one_time_prekey {
        Some(otk) => Some(dh_checked(&otk.secret, &base).ok_or(HandshakeError::NonContributory)?),
        None => None,
    };
    let kem_secret = kem_prekey.pair.decapsulate(kem_ciphertext);
    let mut dhs = vec![&dh1, &dh2, &dh3];
    if let Some(dh4) = dh4.as_ref() {
        dhs.push(dh4);
    }
    let transcript = Transcript {
        initiator_identity: their_identity.as_bytes(),
        responder_identity: identity.public().as_bytes(),
        base_key,
        signed_prekey: &signed_prekey.public,
        one_time_prekey: one_time_prekey.map(|k| &k.public),
        kem_public_key: kem_prekey.pair.public().as_slice(),
        kem_ciphertext: kem_ciphertext.as_slice(),
    };
    Ok(pqxdh(&dhs, &kem_secret, &transcript))
}
