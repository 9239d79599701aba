//! Sender-key groups. The welcome and the distributions go to each member inside that
//! member's pairwise session (`Session.encrypt`); group messages go to everyone as they are.

use hushwire::IdentityKey;
use hushwire::group::{AuthenticatedSender, GroupRole};
use hushwire::persist::Expected;
use wasm_bindgen::prelude::*;

use crate::session::{Account, Session};
use crate::{JsResult, array, identity_key, now, number, rng, storage_key, throw, whole};

/// One member's view of a group.
#[wasm_bindgen]
pub struct GroupSession {
    inner: hushwire::GroupSession,
}

/// A new group: its session, and the welcome and distribution to send to every member.
#[wasm_bindgen]
pub struct GroupCreated {
    session: GroupSession,
    welcome: Vec<u8>,
    distribution: Vec<u8>,
}

#[wasm_bindgen]
impl GroupCreated {
    /// The signed roster: send it to every member (in your session with them).
    #[wasm_bindgen(getter)]
    pub fn welcome(&self) -> Vec<u8> {
        self.welcome.clone()
    }

    /// Your sender key: send it to every member (in your session with them).
    #[wasm_bindgen(getter)]
    pub fn distribution(&self) -> Vec<u8> {
        self.distribution.clone()
    }

    /// The group session (this object is used up).
    #[wasm_bindgen(js_name = intoSession)]
    pub fn into_session(self) -> GroupSession {
        self.session
    }
}

/// A joined group: its session, and your distribution to send to every member.
#[wasm_bindgen]
pub struct GroupJoined {
    session: GroupSession,
    distribution: Vec<u8>,
}

#[wasm_bindgen]
impl GroupJoined {
    /// Your sender key: send it to every member (in your session with them).
    #[wasm_bindgen(getter)]
    pub fn distribution(&self) -> Vec<u8> {
        self.distribution.clone()
    }

    /// The group session (this object is used up).
    #[wasm_bindgen(js_name = intoSession)]
    pub fn into_session(self) -> GroupSession {
        self.session
    }
}

/// A decrypted group message.
#[wasm_bindgen]
pub struct GroupDecrypted {
    sender: IdentityKey,
    plaintext: Vec<u8>,
}

#[wasm_bindgen]
impl GroupDecrypted {
    /// The sender's identity key.
    #[wasm_bindgen(getter)]
    pub fn sender(&self) -> Vec<u8> {
        self.sender.to_bytes().to_vec()
    }

    /// The message.
    #[wasm_bindgen(getter)]
    pub fn plaintext(&self) -> Vec<u8> {
        self.plaintext.clone()
    }
}

#[wasm_bindgen]
impl GroupSession {
    /// Creates a group of `account` (its admin) and `members` (32-byte identity keys, as
    /// plain members).
    ///
    /// # Errors
    /// `roster.*` (duplicate member, too many), `decode.invalid_field` for a bad key.
    pub fn create(account: &Account, members: Vec<js_sys::Uint8Array>) -> JsResult<GroupCreated> {
        let members = members
            .iter()
            .map(|m| Ok((identity_key("member", &m.to_vec())?, GroupRole::Member)))
            .collect::<JsResult<Vec<_>>>()?;
        let created = hushwire::GroupSession::create(
            account.inner.account().identity_key_pair(),
            &members,
            &mut rng()?,
        )
        .map_err(throw)?;
        Ok(GroupCreated {
            session: GroupSession {
                inner: created.session,
            },
            welcome: created.welcome.bytes.to_vec(),
            distribution: created.distribution.bytes.to_vec(),
        })
    }

    /// Joins from a welcome that `inviter` (an admin's identity key) sent.
    ///
    /// # Errors
    /// `roster.*` (bad signature, inviter mismatch, not in the roster).
    pub fn join(account: &Account, welcome: &[u8], inviter: &[u8]) -> JsResult<GroupJoined> {
        let inviter = identity_key("inviter", inviter)?;
        let joined = hushwire::GroupSession::join(
            account.inner.account().identity_key_pair(),
            welcome,
            &inviter,
            &mut rng()?,
        )
        .map_err(throw)?;
        Ok(GroupJoined {
            session: GroupSession {
                inner: joined.session,
            },
            distribution: joined.distribution.bytes.to_vec(),
        })
    }

    /// Takes a member's distribution, which arrived in `from`, your session with that member
    /// (so the sender is authenticated). Unchanged on error.
    ///
    /// # Errors
    /// `group.*` (unknown sender, stale or duplicate key, wrong group).
    #[wasm_bindgen(js_name = receiveDistribution)]
    pub fn receive_distribution(&mut self, from: &Session, distribution: &[u8]) -> JsResult<()> {
        self.inner
            .receive_distribution(AuthenticatedSender::of_session(&from.inner), distribution)
            .map(drop)
            .map_err(throw)
    }

    /// Encrypts a message for the whole group.
    ///
    /// # Errors
    /// `group.removed`, `group.plaintext_too_large`.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> JsResult<Vec<u8>> {
        self.inner.encrypt(plaintext, &mut rng()?).map_err(throw)
    }

    /// Decrypts a member's group message. Unchanged on error.
    ///
    /// # Errors
    /// `group.*` (unknown sender, duplicate, tampered, future epoch).
    pub fn decrypt(&mut self, message: &[u8], now_secs: Option<f64>) -> JsResult<GroupDecrypted> {
        let now = now(now_secs)?;
        let read = self.inner.decrypt(message, now).map_err(throw)?;
        Ok(GroupDecrypted {
            sender: read.sender,
            plaintext: read.plaintext,
        })
    }

    /// The 32-byte group id.
    #[wasm_bindgen(getter, js_name = groupId)]
    pub fn group_id(&self) -> Vec<u8> {
        self.inner.group_id().as_bytes().to_vec()
    }

    /// The roster's epoch.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> f64 {
        number(self.inner.epoch())
    }

    /// The members' identity keys.
    #[wasm_bindgen(getter)]
    pub fn members(&self) -> Vec<js_sys::Uint8Array> {
        self.inner
            .roster()
            .members()
            .iter()
            .map(|m| js_sys::Uint8Array::from(m.identity().as_bytes().as_slice()))
            .collect()
    }

    /// The group session as an encrypted blob; see `Account.exportState`.
    ///
    /// # Errors
    /// As `Account.exportState`.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self, storage_key_bytes: &[u8], generation: f64) -> JsResult<Vec<u8>> {
        let key = storage_key(storage_key_bytes)?;
        let generation = whole("generation", generation)?;
        Ok(self.inner.to_encrypted(&key, generation, &mut rng()?))
    }

    /// Restores the group session of group `groupId` (32 bytes).
    ///
    /// # Errors
    /// `restore.*`, `decode.invalid_field`.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(
        blob: &[u8],
        storage_key_bytes: &[u8],
        min_generation: f64,
        group_id: &[u8],
    ) -> JsResult<GroupSession> {
        let key = storage_key(storage_key_bytes)?;
        let min_generation = whole("min_generation", min_generation)?;
        let group_id = array::<32>("group_id", group_id)?;
        let inner = hushwire::GroupSession::from_encrypted(
            blob,
            &key,
            min_generation,
            &Expected::group(&group_id),
        )
        .map_err(throw)?;
        Ok(GroupSession { inner })
    }
}
