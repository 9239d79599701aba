//! Masking before encryption (hushwire's `mask`, SPEC.md §17): the text a peer sends is
//! masked on its device; with a vault, each masked value goes to the vault in a secure field
//! (a sealed envelope of content type `0x03`) and the recipient gets the masked form and a
//! reference.

use hushwire::mask::{Masked, MaskedField, Masker, SecureField};
use rand_core::CryptoRng;

use super::{BoxError, Peer, Sent};
use crate::body;
use crate::unix_now;

/// What a masked send did.
pub struct MaskedSend {
    /// The text as sent and what was masked in it.
    pub masked: Masked,
    /// The message with the masked text.
    pub sent: Sent,
    /// For each value sealed to the vault: the operator's copy (sent after the text) and the
    /// relay id of the vault's envelope.
    pub vaulted: Vec<(MaskedField, u64)>,
    /// The messages with the operator's copies, in the order of `vaulted`.
    pub fields_sent: Vec<Sent>,
}

impl Peer {
    /// Masks `text` with `masker` and sends the masked text to `to`. With `vault`, every
    /// masked value is first sealed to the vault's identity (one secure-field envelope each,
    /// handed to the relay), and `to` then gets, after the text, the masked field of each (the
    /// masked form, a reference and a commitment, never the value).
    ///
    /// # Errors
    /// An unknown vault, a value hushwire refuses to seal (longer than
    /// `MAX_SECURE_FIELD_VALUE_LEN`), before anything is sent; then the errors of
    /// [`Peer::send_text`].
    #[allow(clippy::too_many_arguments)]
    pub async fn send_masked<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut crate::client::RelayClient,
        to: &str,
        text: &str,
        masker: &Masker,
        vault: Option<&str>,
        rng: &mut R,
    ) -> Result<MaskedSend, BoxError> {
        let masked = masker.mask(text);
        let mut fields = Vec::new();
        if let Some(vault) = vault {
            let now = unix_now();
            let (vault_key, _) = self.resolve(client, vault, now).await?;
            let certificate = self
                .certificate
                .as_ref()
                .ok_or("no sender certificate: sign in as a registered device first")?;
            for span in masked.spans().iter().filter(|s| s.is_masked()) {
                let value = text
                    .get(span.original())
                    .ok_or("a masked span outside the text")?;
                let field = SecureField::seal(
                    self.device.account().identity_key_pair(),
                    certificate,
                    &vault_key,
                    span.kind(),
                    span.policy(),
                    value,
                    now,
                    rng,
                )?;
                fields.push(field.into_parts());
            }
        }
        let mut vaulted = Vec::with_capacity(fields.len());
        for (field, envelope) in fields {
            let relay_id = client.send(envelope).await?;
            vaulted.push((field, relay_id));
        }
        let sent = self
            .send_text(client, to, masked.text(), unix_now(), rng)
            .await?;
        let mut fields_sent = Vec::with_capacity(vaulted.len());
        for (field, _) in &vaulted {
            fields_sent.push(
                self.send_body(client, to, &body::masked_field(field), unix_now(), rng)
                    .await?,
            );
        }
        Ok(MaskedSend {
            masked,
            sent,
            vaulted,
            fields_sent,
        })
    }
}

/// "card number", "IBAN", ... for messages.
pub fn kind_name(kind: hushwire::mask::SensitiveKind) -> &'static str {
    use hushwire::mask::SensitiveKind as K;
    match kind {
        K::CARD => "card number",
        K::IBAN => "IBAN",
        K::EMAIL => "e-mail address",
        K::PHONE => "phone number",
        _ => "sensitive value",
    }
}
