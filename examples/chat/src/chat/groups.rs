//! Groups for the example chat: hushwire's sender-key groups (SPEC.md §14) carried over the
//! peers' 1:1 sessions and sealed envelopes.
//!
//! - **Create**: the creator makes a [`GroupSession`] for the named members, then sends each
//!   member, over their 1:1 session, an invitation (the group's name, the members' names,
//!   the signed genesis roster) and its sender key (the distribution message).
//! - **Join**: a member who reads an invitation joins (the roster must be signed by the
//!   member who sent it) and queues its own sender key for every other member:
//!   [`Peer::send_group_keys`] sends what is queued. The member names are the inviter's word
//!   (hushwire checks the roster's keys, not names): a wrong name only sends envelopes to
//!   someone who holds no sender key, and a group message is read only if its sender key is
//!   the envelope sender's.
//! - **Send**: a group text is encrypted once with the sender key and sealed (content type
//!   [`ContentType::GROUP`]) to each member's *current* identity, looked up by name on the
//!   relay, so a member who restored from a backup on a new device still gets it.
//! - **Read**: the group message is decrypted with the group session the envelope names; the
//!   group's sender must be the envelope's sender.
//! - **Backup**: [`Peer::append_backup`] appends the account's identity book, each group
//!   session and each group's names; [`Peer::apply_backup`] makes a device the restored one.

use std::collections::BTreeMap;

use hushwire::backup::{Appended, BackupItem, BackupOptions, BackupWriter, RestoredBackup};
use hushwire::group::{AuthenticatedSender, GroupId, GroupRole, GroupSession, peek};
use hushwire::sealed::ContentType;
use hushwire::{BackupError, IdentityKey, IdentityKeyPair, Timestamp, UserId, VerificationState};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::{BoxError, Incoming, ONE_TIME_PREKEYS, Peer, Sent};
use crate::body::{self, GroupNames};
use crate::client::RelayClient;

/// A group as the example keeps it: its names and this device's session.
pub struct ChatGroup {
    /// The group's name and every member's name (this device's included).
    pub names: GroupNames,
    pub session: GroupSession,
}

impl ChatGroup {
    /// The members other than `own`.
    fn others<'a>(&'a self, own: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.names
            .members
            .iter()
            .map(String::as_str)
            .filter(move |m| *m != own)
    }
}

/// Someone a restored device must start a fresh 1:1 session with.
#[derive(Clone, Debug)]
pub struct RestartPeer {
    /// The name the restored identity book records for the key (if any).
    pub name: Option<String>,
    pub identity: IdentityKey,
    /// Whether the restored identity book has this key verified.
    pub verified: bool,
}

/// What a restore brought back, for the person restoring.
#[derive(Clone, Debug)]
pub struct RestoreReport {
    /// The manifest counter (pass it as the minimum next time).
    pub counter: u64,
    pub written_at: Timestamp,
    /// The groups restored, by name.
    pub groups: Vec<String>,
    /// Whether the identity key was in the backup (the device keeps its identity).
    pub identity_restored: bool,
    /// Every peer whose 1:1 session restarts (none was restored, by design).
    pub restart: Vec<RestartPeer>,
}

impl Peer {
    /// The group named `name`, if this device is in it.
    pub fn group(&self, name: &str) -> Option<&ChatGroup> {
        self.groups.get(name)
    }

    /// The names of the groups this device is in.
    pub fn group_names(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }

    fn group_by_id(&mut self, id: &GroupId) -> Option<&mut ChatGroup> {
        self.groups
            .values_mut()
            .find(|g| g.session.group_id() == *id)
    }

    /// Creates the group `name` with the named members and this device as its admin, and
    /// sends each member the invitation and this device's sender key over their 1:1 session.
    ///
    /// # Errors
    /// A bad or duplicate name, an unknown member, a refused roster, or a failed send (the
    /// group is kept only if every invitation went out).
    pub async fn create_group<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        name: &str,
        members: &[&str],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Vec<Sent>, BoxError> {
        if self.groups.contains_key(name) {
            return Err(format!("you are already in a group named `{name}`").into());
        }
        let mut names = GroupNames {
            group: name.to_owned(),
            members: vec![self.name.clone()],
        };
        let mut roster = Vec::with_capacity(members.len());
        for member in members {
            let (key, _) = self.resolve(client, member, now).await?;
            roster.push((key, GroupRole::Member));
            names.members.push((*member).to_owned());
        }
        // Checks the names before anything is sent.
        body::encode_group_names(&names)?;
        let created =
            GroupSession::create(self.device.account().identity_key_pair(), &roster, rng)?;
        let mut sent = Vec::new();
        for member in members {
            let invite = body::group_invite(&names, &created.welcome.bytes)?;
            sent.push(self.send_body(client, member, &invite, now, rng).await?);
            let key = body::group_key(&created.distribution.bytes);
            sent.push(self.send_body(client, member, &key, now, rng).await?);
        }
        self.groups.insert(
            name.to_owned(),
            ChatGroup {
                names,
                session: created.session,
            },
        );
        Ok(sent)
    }

    /// Sends the sender keys queued since joining groups (one message per member).
    ///
    /// # Errors
    /// A failed send: what was not sent stays queued.
    pub async fn send_group_keys<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Vec<Sent>, BoxError> {
        let mut sent = Vec::new();
        while let Some((to, bytes)) = self.pending_keys.first() {
            let (to, message) = (to.clone(), body::group_key(bytes));
            sent.push(self.send_body(client, &to, &message, now, rng).await?);
            self.pending_keys.remove(0);
        }
        Ok(sent)
    }

    /// Encrypts `text` once for the group `group` and seals it to each other member's current
    /// identity.
    ///
    /// # Errors
    /// No such group, a group send refused (removed, too long), an unknown member, a failed
    /// seal or send.
    pub async fn send_group_text<R: CryptoRng + ?Sized>(
        &mut self,
        client: &mut RelayClient,
        group: &str,
        text: &str,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Vec<Sent>, BoxError> {
        let own = self.name.clone();
        let chat = self
            .groups
            .get_mut(group)
            .ok_or_else(|| format!("you are in no group named `{group}`"))?;
        let message = chat.session.encrypt(text.as_bytes(), rng)?;
        let others: Vec<String> = chat.others(&own).map(str::to_owned).collect();
        let mut sent = Vec::with_capacity(others.len());
        for member in others {
            let (key, _) = self.resolve(client, &member, now).await?;
            let envelope_key = self.envelope_key_for(client, &key, now).await?;
            let envelope = self.seal(
                &key,
                envelope_key.as_ref(),
                ContentType::GROUP,
                &message,
                now,
                rng,
            )?;
            let relay_id = client.send(envelope.clone()).await?;
            sent.push(Sent {
                relay_id,
                envelope,
                to: key,
                copies: Vec::new(),
            });
        }
        Ok(sent)
    }

    /// Joins a group from an invitation read on the 1:1 session with `from` (already
    /// authenticated by it), and queues this device's sender key for the other members.
    pub(super) fn join_group<R: CryptoRng + ?Sized>(
        &mut self,
        from: &str,
        sender: &IdentityKey,
        names: GroupNames,
        welcome: &[u8],
        rng: &mut R,
    ) -> Incoming {
        if !names.members.contains(&self.name) || !names.members.iter().any(|m| m == from) {
            return Incoming::Rejected(format!(
                "a group invitation from `{from}` that does not name both of you"
            ));
        }
        if self.groups.contains_key(&names.group) {
            return Incoming::Rejected(format!(
                "a second invitation to a group named `{}` from `{from}`",
                names.group
            ));
        }
        let joined = match GroupSession::join(
            self.device.account().identity_key_pair(),
            welcome,
            sender,
            rng,
        ) {
            Ok(joined) => joined,
            Err(e) => {
                return Incoming::Rejected(format!("group invitation from `{from}`: {e}"));
            }
        };
        let chat = ChatGroup {
            names,
            session: joined.session,
        };
        for member in chat.others(&self.name) {
            self.pending_keys.push((
                member.to_owned(),
                Zeroizing::new(joined.distribution.bytes.to_vec()),
            ));
        }
        let group = chat.names.group.clone();
        let members = chat.names.members.clone();
        self.groups.insert(group.clone(), chat);
        Incoming::GroupJoined {
            group,
            from: from.to_owned(),
            members,
        }
    }

    /// Accepts a member's sender key read on the 1:1 session with `from`.
    pub(super) fn accept_group_key(
        &mut self,
        from: &str,
        sender: &IdentityKey,
        distribution: &[u8],
    ) -> Incoming {
        let group = match peek(distribution) {
            Ok((_, id)) => self.group_by_id(&id),
            Err(_) => None,
        };
        let Some(group) = group else {
            return Incoming::Rejected(format!("a sender key from `{from}` for no group of ours"));
        };
        match group.session.receive_distribution(
            AuthenticatedSender::assume_authenticated(*sender),
            distribution,
        ) {
            Ok(_) => Incoming::GroupKey {
                group: group.names.group.clone(),
                from: from.to_owned(),
            },
            Err(e) => Incoming::Rejected(format!("sender key from `{from}` refused: {e}")),
        }
    }

    /// Reads a group message sealed to this device by `from`.
    pub(super) fn read_group_message(
        &mut self,
        from: String,
        sender: IdentityKey,
        message: &[u8],
        now: Timestamp,
    ) -> Incoming {
        let group = match peek(message) {
            Ok((_, id)) => self.group_by_id(&id),
            Err(_) => None,
        };
        let Some(group) = group else {
            return Incoming::Rejected(format!(
                "a group message from `{from}` for no group of ours"
            ));
        };
        // Decrypt works on a copy and commits only what it accepts; a message signed by
        // another member than the envelope's sender is refused without changing the session.
        let mut copy = group.session.clone();
        let read = match copy.decrypt(message, now) {
            Ok(read) => read,
            Err(e) => return Incoming::Rejected(format!("group message from `{from}`: {e}")),
        };
        if read.sender != sender {
            return Incoming::Rejected(format!(
                "a group message from `{from}` signed by another member"
            ));
        }
        let Ok(text) = String::from_utf8(read.plaintext) else {
            return Incoming::Rejected(format!("a group message from `{from}` that is not UTF-8"));
        };
        group.session = copy;
        Incoming::GroupText {
            group: group.names.group.clone(),
            from,
            identity: sender,
            text,
        }
    }

    /// Appends this device's state to a backup: the identity book, each group session and
    /// each group's names (and the identity key if `options` say so). Never 1:1 sessions.
    ///
    /// # Errors
    /// As [`BackupWriter::append`]; the writer is unchanged on error.
    pub fn append_backup<R: CryptoRng + ?Sized>(
        &self,
        writer: &mut BackupWriter,
        options: &BackupOptions,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Appended, BackupError> {
        let names: Vec<([u8; 32], Vec<u8>)> = self
            .groups
            .values()
            .filter_map(|g| {
                body::encode_group_names(&g.names)
                    .ok()
                    .map(|bytes| (*g.session.group_id().as_bytes(), bytes))
            })
            .collect();
        let mut items = vec![BackupItem::IdentityBook(&self.device)];
        if options.include_identity_key {
            items.push(BackupItem::IdentityKey(
                self.device.account().identity_key_pair(),
            ));
        }
        for group in self.groups.values() {
            items.push(BackupItem::GroupSession(&group.session));
        }
        for (id, bytes) in &names {
            items.push(BackupItem::AppData { id: *id, bytes });
        }
        writer.append(&items, now, rng)
    }

    /// Makes this device the restored one: its account becomes the backed-up identity (or
    /// keeps this device's identity if none was backed up) with fresh prekeys (publish them)
    /// and the restored identity book; its groups are the restored groups whose names were
    /// backed up. No 1:1 session is restored: the report lists who to restart one with
    /// ([`Peer::request_reset`]). The relay pins stay. If the identity was restored, sign in
    /// again with it.
    ///
    /// # Errors
    /// Generating prekeys failed; nothing changed then.
    pub fn apply_backup<R: CryptoRng + ?Sized>(
        &mut self,
        restored: RestoredBackup,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<RestoreReport, BoxError> {
        let fallback: IdentityKeyPair = self.device.account().identity_key_pair().clone();
        let mut account = restored.to_device(fallback, now, rng);
        // Envelope KEM keys are not in a backup: a new one, published with the prekeys.
        account.account_mut().enable_hybrid_envelopes(now, rng);
        account.account_mut().generate_one_time_prekeys(
            ONE_TIME_PREKEYS,
            ONE_TIME_PREKEYS,
            now,
            rng,
        )?;
        self.device = account;
        self.groups.clear();
        self.pending_keys.clear();
        let peer = self;
        let names: BTreeMap<[u8; 32], GroupNames> = restored
            .app_data
            .iter()
            .filter_map(|(id, bytes)| {
                body::decode_group_names(bytes)
                    .ok()
                    .filter(|(_, rest)| rest.is_empty())
                    .map(|(names, _)| (*id, names))
            })
            .collect();
        let mut groups = Vec::new();
        let identity_restored = restored.identity.is_some();
        let (counter, written_at) = (restored.counter, restored.written_at);
        let restart_keys = restored.sessions_to_restart.clone();
        for session in restored.groups {
            if let Some(names) = names.get(session.group_id().as_bytes()) {
                groups.push(names.group.clone());
                peer.groups.insert(
                    names.group.clone(),
                    ChatGroup {
                        names: names.clone(),
                        session,
                    },
                );
            }
        }
        let restart = restart_keys
            .into_iter()
            .map(|identity| {
                let user: Option<UserId> = peer
                    .device
                    .users_with_identity(&identity)
                    .into_iter()
                    .next();
                let verified = user.as_ref().is_some_and(|u| {
                    matches!(
                        peer.device.verification_state(u),
                        Some(VerificationState::Verified { .. })
                    )
                });
                RestartPeer {
                    name: user.map(|u| String::from_utf8_lossy(u.as_bytes()).into_owned()),
                    identity,
                    verified,
                }
            })
            .collect();
        Ok(RestoreReport {
            counter,
            written_at,
            groups,
            identity_restored,
            restart,
        })
    }
}
