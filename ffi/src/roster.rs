//! Group roster changes (`GroupSession::add_member`, `remove_member`, `set_role`, `leave`,
//! `apply_roster_change`) and sender-key rotation: an admin adds or removes a member or
//! changes a role, any member may leave; every other member applies the signed change. Each
//! call hands back the messages the app must send, as buffers that are empty when there is
//! nothing to send.

use hushwire::group::{GroupRole, Outgoing, RosterUpdate};

use crate::boundary::{Out, call, handle, input, key32, lock};
use crate::{hw_account, hw_bytes, hw_error, hw_group, hw_status, identity_key, rng, time};

/// The bytes of one of an update's messages, or an empty buffer when there is none.
fn outgoing(o: &mut Option<Outgoing>) -> hw_bytes {
    match o {
        Some(o) => hw_bytes::from_vec(std::mem::take(&mut *o.bytes)),
        None => hw_bytes::EMPTY,
    }
}

/// Hands the update's messages to the outputs that were asked for.
fn write_update(
    mut update: RosterUpdate,
    change: Option<Out<hw_bytes>>,
    welcome: Option<Out<hw_bytes>>,
    distribution: Option<Out<hw_bytes>>,
) {
    if let Some(out) = change {
        out.write(outgoing(&mut update.change));
    }
    if let Some(out) = welcome {
        out.write(outgoing(&mut update.welcome));
    }
    if let Some(out) = distribution {
        out.write(outgoing(&mut update.distribution));
    }
}

/// Adds the member with the 32-byte identity key `member` (as an admin if `admin` is not 0)
/// to the group; the account must be an admin of it. Send `change` to every previous member
/// (each applies it with `hw_group_apply_roster_change`), and `welcome` then `distribution`
/// to the new member over its 1:1 session (it joins with `hw_group_join`, naming the account
/// as inviter). Unchanged on error (`HW_TAMPERED` with code `roster.not_admin`,
/// `HW_INVALID_INPUT` with `roster.already_member`, ...).
///
/// # Safety
/// `account` is an account handle, `group` a group handle; `member` points to 32 readable
/// bytes; `change`, `welcome` and `distribution` to writable `hw_bytes`; `err` is NULL or
/// points to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_group_add_member(
    account: *const hw_account,
    group: *mut hw_group,
    member: *const u8,
    admin: u8,
    change: *mut hw_bytes,
    welcome: *mut hw_bytes,
    distribution: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let group = handle(group, "group")?;
        let member = identity_key(key32(member, "member")?)?;
        let role = if admin != 0 {
            GroupRole::Admin
        } else {
            GroupRole::Member
        };
        let change = Out::new(change, "change")?;
        let welcome = Out::new(welcome, "welcome")?;
        let distribution = Out::new(distribution, "distribution")?;
        let mut rng = rng::for_call()?;
        // Lock order: account before group.
        let account = lock(&account.0)?;
        let update = lock(&group.0)?.add_member(
            account.account().identity_key_pair(),
            member,
            role,
            &mut rng,
        )?;
        write_update(update, Some(change), Some(welcome), Some(distribution));
        Ok(())
    })
}

/// Removes the member with the 32-byte identity key `member` (the account must be an admin)
/// and rotates the account's sender key. Send `change` to every member of the previous
/// roster (the removed one included, so it learns it was removed) and `distribution` (the
/// fresh sender key) to every remaining member over their 1:1 sessions. `now` opens the
/// grace window for messages sent on the others' keys before the removal. Unchanged on
/// error.
///
/// # Safety
/// `account` is an account handle, `group` a group handle; `member` points to 32 readable
/// bytes; `change` and `distribution` to writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_group_remove_member(
    account: *const hw_account,
    group: *mut hw_group,
    member: *const u8,
    now: u64,
    change: *mut hw_bytes,
    distribution: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let group = handle(group, "group")?;
        let member = identity_key(key32(member, "member")?)?;
        let change = Out::new(change, "change")?;
        let distribution = Out::new(distribution, "distribution")?;
        let mut rng = rng::for_call()?;
        // Lock order: account before group.
        let account = lock(&account.0)?;
        let update = lock(&group.0)?.remove_member(
            account.account().identity_key_pair(),
            member,
            time(now),
            &mut rng,
        )?;
        write_update(update, Some(change), None, Some(distribution));
        Ok(())
    })
}

/// Applies a roster `change` received from an admin (`hw_group_add_member`,
/// `hw_group_remove_member`). Send `distribution`, when not empty, over the 1:1 sessions:
/// after an addition, to the new member; after a removal, to every remaining member. If the
/// account was the one removed, every key of the group is erased here. Unchanged on error
/// (`HW_TAMPERED` for a bad signature, `HW_REPLAY` for a change already applied, ...).
///
/// # Safety
/// `account` is an account handle, `group` a group handle; `change` points to `change_len`
/// readable bytes; `distribution` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_group_apply_roster_change(
    account: *const hw_account,
    group: *mut hw_group,
    change: *const u8,
    change_len: usize,
    now: u64,
    distribution: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let group = handle(group, "group")?;
        let change = input(change, change_len, "change")?;
        let distribution = Out::new(distribution, "distribution")?;
        let mut rng = rng::for_call()?;
        // Lock order: account before group.
        let account = lock(&account.0)?;
        let update = lock(&group.0)?.apply_roster_change(
            account.account().identity_key_pair(),
            change,
            time(now),
            &mut rng,
        )?;
        write_update(update, None, None, Some(distribution));
        Ok(())
    })
}

/// Changes the role of the member with the 32-byte identity key `member` to admin (`admin`
/// not 0) or member (the account must be an admin). Send `change` to every other member.
/// Unchanged on error (`HW_INVALID_INPUT` with code `roster.last_admin` when it would leave
/// the group without an admin, ...).
///
/// # Safety
/// `account` is an account handle, `group` a group handle; `member` points to 32 readable
/// bytes; `change` to a writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_group_set_role(
    account: *const hw_account,
    group: *mut hw_group,
    member: *const u8,
    admin: u8,
    change: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let group = handle(group, "group")?;
        let member = identity_key(key32(member, "member")?)?;
        let role = if admin != 0 {
            GroupRole::Admin
        } else {
            GroupRole::Member
        };
        let change = Out::new(change, "change")?;
        let mut rng = rng::for_call()?;
        // Lock order: account before group.
        let account = lock(&account.0)?;
        let update = lock(&group.0)?.set_role(
            account.account().identity_key_pair(),
            member,
            role,
            &mut rng,
        )?;
        write_update(update, Some(change), None, None);
        Ok(())
    })
}

/// Leaves the group: signs the account's own removal and erases every key of the group
/// here (the handle can still be freed, and refuses to encrypt). Send `change` to the other
/// members, who then rotate their sender keys. `HW_INVALID_INPUT` with code
/// `roster.last_admin` if the account is the only admin (promote someone first); unchanged
/// on error.
///
/// # Safety
/// `account` is an account handle, `group` a group handle; `change` points to a writable
/// `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_group_leave(
    account: *const hw_account,
    group: *mut hw_group,
    change: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let group = handle(group, "group")?;
        let change = Out::new(change, "change")?;
        let mut rng = rng::for_call()?;
        // Lock order: account before group.
        let account = lock(&account.0)?;
        let update = lock(&group.0)?.leave(account.account().identity_key_pair(), &mut rng)?;
        write_update(update, Some(change), None, None);
        Ok(())
    })
}

/// Starts a new sender key for the account in this group; its distribution message goes to
/// `distribution`, for every other member over their 1:1 sessions. Use it periodically or
/// when the chain is exhausted (removals rotate by themselves). Unchanged on error.
///
/// # Safety
/// `account` is an account handle, `group` a group handle; `distribution` points to a
/// writable `hw_bytes`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_group_rotate_sender_key(
    account: *const hw_account,
    group: *mut hw_group,
    distribution: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let account = handle(account, "account")?;
        let group = handle(group, "group")?;
        let distribution = Out::new(distribution, "distribution")?;
        let mut rng = rng::for_call()?;
        // Lock order: account before group.
        let account = lock(&account.0)?;
        let mut outgoing =
            lock(&group.0)?.rotate_sender_key(account.account().identity_key_pair(), &mut rng)?;
        distribution.write(hw_bytes::from_vec(std::mem::take(&mut *outgoing.bytes)));
        Ok(())
    })
}

/// Bytes of one record of `hw_group_members`.
pub const HW_GROUP_MEMBER_LEN: usize = 33;

/// Writes the current roster to `out`, in roster order: a record of `HW_GROUP_MEMBER_LEN`
/// (33) bytes per member, the 32-byte identity key then its role (1 for an admin, 0 for a
/// member). These are who can read what is sent now.
///
/// # Safety
/// `group` is a group handle; `out` points to a writable `hw_bytes`; `err` is NULL or points
/// to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_group_members(
    group: *const hw_group,
    out: *mut hw_bytes,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let group = handle(group, "group")?;
        let out = Out::new(out, "out")?;
        let group = lock(&group.0)?;
        let members = group.roster().members();
        let mut records = Vec::with_capacity(members.len() * HW_GROUP_MEMBER_LEN);
        for member in members {
            records.extend_from_slice(member.identity().as_bytes());
            records.push(u8::from(member.role() == GroupRole::Admin));
        }
        out.write(hw_bytes::from_vec(records));
        Ok(())
    })
}

/// Writes the group's roster epoch (it grows with every roster change) to `epoch` and 1 to
/// `is_member` if the account is still a member (not removed, not left), else 0, each when
/// not NULL.
///
/// # Safety
/// `group` is a group handle; `epoch` is NULL or points to a writable `uint64_t`,
/// `is_member` NULL or to a writable `uint8_t`; `err` as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hw_group_epoch(
    group: *const hw_group,
    epoch: *mut u64,
    is_member: *mut u8,
    err: *mut *mut hw_error,
) -> hw_status {
    call(err, || {
        let group = handle(group, "group")?;
        let group = lock(&group.0)?;
        if let Some(out) = Out::optional(epoch) {
            out.write(group.epoch());
        }
        if let Some(out) = Out::optional(is_member) {
            out.write(u8::from(group.is_member()));
        }
        Ok(())
    })
}
