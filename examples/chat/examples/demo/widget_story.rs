//! Chapter "live-chat widget": a website visitor without an account, a dispatcher who assigns
//! Dana, Dana escalating to a supervisor with one day of history shared, and the visitor
//! logging in. It runs in-process against the core (no relay socket): the "relay" column is
//! what a relay would store, ciphertext sizes only. Each step prints who can read the
//! conversation, as the visitor's widget lists it.

use std::error::Error;

use chacha20::ChaCha20Rng;
use hushwire::group::{AuthenticatedSender, Outgoing};
use hushwire::history::{self, HistoryEntry, HistoryNotice, HistoryRange, HistoryShare};
use hushwire::support::{
    AssignmentOp, AssignmentRoster, Dispatched, Dispatcher, DispatcherCertificate, DispatcherInfo,
    SupportConversation, VisitorConfig, VisitorIdentity,
};
use hushwire::verify::{IdentityCertificate, OperatorInfo, OrganizationRoots};
use hushwire::{
    Account, IdentityKey, IdentityKeyPair, IssuerKeyPair, ServerCertificate, Session, Timestamp,
    Validity,
};

type StoryResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const DAY: u64 = 24 * 3_600;
const ORG: &str = "Acme Bank";

/// An operator device: its account, certificate, conversation and 1:1 session with the
/// visitor (and Dana's with the supervisor).
struct Operator {
    account: Account,
    cert: IdentityCertificate,
    conv: Option<SupportConversation>,
}

/// Runs the chapter. `now` is the wall clock; the chat itself spans a day and a half before it.
pub(crate) fn run(rng: &mut ChaCha20Rng, now: Timestamp) -> StoryResult<()> {
    section("live-chat widget: visitor → dispatcher → Dana → supervisor with history → login");
    let start = Timestamp::from_unix_secs(now.as_unix_secs().saturating_sub(DAY + DAY / 2));
    let validity = Validity::new(
        Timestamp::from_unix_secs(start.as_unix_secs().saturating_sub(3_600)),
        now.plus_secs(4 * DAY),
    )?;

    // The tenant: a root key pinned in the widget, an organization key, a dispatcher.
    let root = IssuerKeyPair::generate(rng);
    let org_key = IssuerKeyPair::generate(rng);
    let org_cert = ServerCertificate::issue(&root, 1, 1, &org_key.public(), validity);
    let mut roots = OrganizationRoots::new();
    roots.pin(1, root.public(), ORG)?;
    let dispatcher_key = IdentityKeyPair::generate(rng);
    let dispatcher = Dispatcher::new(
        dispatcher_key.clone(),
        DispatcherCertificate::issue(
            &org_key,
            &org_cert,
            DispatcherInfo {
                serial: 1,
                organization: ORG.into(),
                name: "Card desk".into(),
                dispatcher_key: *dispatcher_key.public(),
                validity,
            },
        )?,
    )?;
    let certify = |account: &Account, serial: u64, name: &str, role: &str| {
        IdentityCertificate::issue(
            &org_key,
            &org_cert,
            OperatorInfo {
                serial,
                organization: ORG.into(),
                operator_name: name.into(),
                role: role.into(),
                identity_key: *account.identity_key(),
                validity,
            },
        )
    };
    let mut dana = {
        let account = Account::new(start, rng);
        let cert = certify(&account, 11, "Dana Smith", "Card support")?;
        Operator {
            account,
            cert,
            conv: None,
        }
    };
    let mut sam = {
        let account = Account::new(start, rng);
        let cert = certify(&account, 13, "Sam Lee", "Supervisor")?;
        Operator {
            account,
            cert,
            conv: None,
        }
    };
    let mut relay = Relay::default();

    // 1. The visitor: no account, an ephemeral identity for 24 h; only public prekeys leave.
    let mut t = start;
    // A 3-day identity: the chat spans a day and a half (the default is 24 h).
    let mut visitor = VisitorIdentity::new(VisitorConfig::with_ttl_secs(3 * DAY)?, t, rng);
    let mut chat = SupportConversation::open(&visitor, t, rng)?;
    note("a visitor opens the widget on acme-bank.example: no account, a 3-day identity");
    readers(&chat, &roots, t);

    // 2. The dispatcher assigns Dana.
    let genesis = AssignmentRoster::genesis(chat.id(), *visitor.identity_key());
    let assigned =
        dispatcher.sign_change(&genesis, AssignmentOp::Assign(dana.cert.clone()), rng)?;
    relay.store(
        "roster change v1 (dispatcher-signed)",
        assigned.change.len(),
    );
    let update = chat.apply_change(&assigned.change, &roots, t, rng)?;
    let dana_conv = join(&dana, &assigned, &roots, t, rng)?;
    dana.conv = Some(dana_conv.0);
    // Their 1:1 session: the visitor checks Dana's certificate, no safety number.
    let bundle = dana.account.published_prekeys().take_bundle();
    let (mut v_to_dana, verified) =
        visitor.connect_operator(&bundle, dana.cert.as_bytes(), &roots, t, rng)?;
    note(&format!(
        "the visitor's widget verified the operator: {verified}"
    ));
    let first = visitor.encrypt(&mut v_to_dana, b"hello", t, rng)?;
    let mut dana_to_v = dana.account.create_inbound_session(&first, t)?.session;
    if let Some(dist) = update.distribution {
        let wire = visitor.encrypt(&mut v_to_dana, &dist.bytes, t, rng)?;
        relay.store("visitor → Dana: sender key (1:1)", wire.len());
        let plain = dana_to_v.decrypt(&wire)?.plaintext;
        let _ = conv(&mut dana)?.receive_distribution(&dana_to_v, &plain)?;
    }
    send_distribution(
        &dana_conv.1,
        &mut dana_to_v,
        &mut v_to_dana,
        &mut chat,
        &mut relay,
        rng,
    )?;
    readers(&chat, &roots, t);

    // The chat: 24 messages over a day and a half; Dana's app keeps the transcript.
    let mut transcript = Vec::new();
    let lines = [
        "my card was declined at the airport",
        "I can see two declined payments, one yesterday and one today",
        "yes, both were me",
        "the card was blocked for a suspected fraud pattern",
    ];
    for i in 0..24u64 {
        t = start.plus_secs(i * (DAY + DAY / 2) / 24);
        let from_visitor = i % 2 == 0;
        let text = lines
            .get(usize::try_from(i).unwrap_or(0) % lines.len())
            .copied()
            .unwrap_or_default();
        let wire = if from_visitor {
            chat.encrypt(text.as_bytes(), t, rng)?
        } else {
            conv(&mut dana)?.encrypt(text.as_bytes(), t, rng)?
        };
        relay.store("conversation message", wire.len());
        let read = if from_visitor {
            conv(&mut dana)?.decrypt(&wire, t)?.plaintext
        } else {
            chat.decrypt(&wire, t)?.plaintext
        };
        let sender = if from_visitor {
            *visitor.identity_key()
        } else {
            *dana.account.identity_key()
        };
        transcript.push(HistoryEntry::new(i, t, sender, &read));
        relay.old_messages.push(wire);
    }
    note(&format!(
        "{} messages exchanged over {:.1} days (last one at {} s)",
        transcript.len(),
        1.5,
        t.as_unix_secs()
    ));

    // 3. Dana escalates: the dispatcher adds the supervisor Sam.
    t = now;
    let escalated = dispatcher.sign_change(
        &assigned.roster,
        AssignmentOp::AddSupervisor(sam.cert.clone()),
        rng,
    )?;
    relay.store(
        "roster change v2 (dispatcher-signed)",
        escalated.change.len(),
    );
    let v_update = chat.apply_change(&escalated.change, &roots, t, rng)?;
    let d_update = conv(&mut dana)?.apply_change(&escalated.change, &roots, t, rng)?;
    let (sam_conv, sam_dist) = join(&sam, &escalated, &roots, t, rng)?;
    sam.conv = Some(sam_conv);
    // Sessions Dana → Sam and visitor → Sam for the sender keys.
    let bundle = sam.account.published_prekeys().take_bundle();
    let mut dana_to_sam = dana.account.create_outbound_session(&bundle, rng)?;
    let first = dana_to_sam.encrypt(b"escalating card case", rng)?;
    let mut sam_from_dana = sam.account.create_inbound_session(&first, t)?.session;
    let bundle = sam.account.published_prekeys().take_bundle();
    let (mut v_to_sam, _) =
        visitor.connect_operator(&bundle, sam.cert.as_bytes(), &roots, t, rng)?;
    let first = visitor.encrypt(&mut v_to_sam, b"hello", t, rng)?;
    let mut sam_to_v = sam.account.create_inbound_session(&first, t)?.session;
    for (dist, from_visitor) in [
        (v_update.distribution, true),
        (d_update.distribution, false),
    ] {
        let Some(dist) = dist else { continue };
        let (wire, plain, session) = if from_visitor {
            let w = visitor.encrypt(&mut v_to_sam, &dist.bytes, t, rng)?;
            let p = sam_to_v.decrypt(&w)?.plaintext;
            (w, p, &sam_to_v)
        } else {
            let w = dana_to_sam.encrypt(&dist.bytes, rng)?;
            let p = sam_from_dana.decrypt(&w)?.plaintext;
            (w, p, &sam_from_dana)
        };
        relay.store("sender key for Sam (1:1)", wire.len());
        let _ = conv(&mut sam)?.receive_distribution(session, &plain)?;
    }
    for recipient in sam_dist.recipients.clone() {
        let wire = if recipient == *visitor.identity_key() {
            let w = sam_to_v.encrypt(&sam_dist.bytes, rng)?;
            let p = v_to_sam.decrypt(&w)?.plaintext;
            let _ = chat.receive_distribution(&v_to_sam, &p)?;
            w
        } else {
            let w = sam_from_dana.encrypt(&sam_dist.bytes, rng)?;
            let p = dana_to_sam.decrypt(&w)?.plaintext;
            let _ = conv(&mut dana)?.receive_distribution(&dana_to_sam, &p)?;
            w
        };
        relay.store("Sam's sender key (1:1)", wire.len());
    }
    let readable = relay
        .old_messages
        .iter()
        .filter(|m| conv(&mut sam).is_ok_and(|c| c.decrypt(m, t).is_ok()))
        .count();
    note(&format!(
        "Sam joined; of the {} earlier messages the relay still holds he can read {readable}",
        relay.old_messages.len()
    ));

    // Dana chooses to share the last day with Sam.
    let range = HistoryRange::time(
        Timestamp::from_unix_secs(t.as_unix_secs().saturating_sub(DAY)),
        t.plus_secs(1),
    )?;
    let export = history::export_history(
        conv(&mut dana)?,
        sam.account.identity_key(),
        range,
        &transcript,
        rng,
    )?;
    relay.store(
        "history bundle object (attachment store)",
        export.object.len(),
    );
    let wire = dana_to_sam.encrypt(&export.share, rng)?;
    relay.store("Dana → Sam: history share (1:1)", wire.len());
    let share_bytes = sam_from_dana.decrypt(&wire)?.plaintext;
    let share = HistoryShare::from_bytes(&share_bytes)?;
    let bundle = share.open(
        conv(&mut sam)?,
        &AuthenticatedSender::from(&sam_from_dana),
        &export.object,
    )?;
    note(&format!(
        "Dana shares one day of history with Sam: {} of {} messages (bundle {} B → object {} B)",
        bundle.entries().len(),
        transcript.len(),
        export.bundle_len,
        export.object.len()
    ));
    let notice = conv(&mut dana)?.encrypt(&export.notice, t, rng)?;
    relay.store("history notice (conversation message)", notice.len());
    let read = chat.decrypt(&notice, t)?;
    let shared = HistoryNotice::from_bytes(&read.plaintext)?.check(&chat, &read.sender)?;
    let name = reader_name(&chat, &roots, t, shared.recipient());
    note(&format!(
        "visitor's transcript: \"Dana Smith shared history with {name}\" ({} messages)",
        shared.entry_count()
    ));
    readers(&chat, &roots, t);

    // 4. The visitor logs in: her account key signs a link statement, the ephemeral key
    // counter-signs it; it goes into the conversation.
    let alice = Account::new(t, rng);
    let statement =
        visitor.link_account(alice.identity_key_pair(), "alice@example.org", chat.id(), t)?;
    let wire = chat.encrypt(statement.as_bytes(), t, rng)?;
    relay.store("link statement (conversation message)", wire.len());
    for op in [&mut dana, &mut sam] {
        let c = conv(op)?;
        let read = c.decrypt(&wire, t)?;
        let _ = c.apply_link(&read.plaintext, t)?;
    }
    let _ = chat.apply_link(statement.as_bytes(), t);
    note(&format!(
        "the visitor logged in; Dana's console now shows: {}",
        conv(&mut dana)?.visitor_status()
    ));
    readers(&chat, &roots, t);
    relay.print();
    Ok(())
}

/// An operator joins from a welcome.
fn join(
    operator: &Operator,
    d: &Dispatched,
    roots: &OrganizationRoots,
    now: Timestamp,
    rng: &mut ChaCha20Rng,
) -> StoryResult<(SupportConversation, Outgoing)> {
    let welcome = d.welcome.as_ref().ok_or("the change adds an operator")?;
    let joined = SupportConversation::join(
        operator.account.identity_key_pair(),
        welcome,
        roots,
        now,
        rng,
    )?;
    Ok((joined.conversation, joined.distribution))
}

/// Dana's sender key to the visitor over their session.
fn send_distribution(
    dist: &Outgoing,
    dana_to_v: &mut Session,
    v_from_dana: &mut Session,
    chat: &mut SupportConversation,
    relay: &mut Relay,
    rng: &mut ChaCha20Rng,
) -> StoryResult<()> {
    let wire = dana_to_v.encrypt(&dist.bytes, rng)?;
    relay.store("Dana → visitor: sender key (1:1)", wire.len());
    let plain = v_from_dana.decrypt(&wire)?.plaintext;
    let _ = chat.receive_distribution(&*v_from_dana, &plain)?;
    Ok(())
}

fn conv(op: &mut Operator) -> StoryResult<&mut SupportConversation> {
    op.conv
        .as_mut()
        .ok_or_else(|| "the operator has no conversation".into())
}

fn reader_name(
    chat: &SupportConversation,
    roots: &OrganizationRoots,
    now: Timestamp,
    key: &IdentityKey,
) -> String {
    chat.readers(roots, now)
        .into_iter()
        .find(|r| match r {
            hushwire::support::ConversationReader::Operator { operator, .. } => {
                operator.identity_key() == key
            }
            _ => false,
        })
        .map_or_else(|| "an unknown member".to_owned(), |r| r.to_string())
}

fn readers(chat: &SupportConversation, roots: &OrganizationRoots, now: Timestamp) {
    note("who can read this conversation (the visitor's widget):");
    for r in chat.readers(roots, now) {
        note(&format!("  · {r}"));
    }
}

/// What a relay would store: descriptions and ciphertext sizes only.
#[derive(Default)]
struct Relay {
    stored: Vec<(&'static str, usize)>,
    old_messages: Vec<Vec<u8>>,
}

impl Relay {
    fn store(&mut self, what: &'static str, len: usize) {
        self.stored.push((what, len));
    }

    fn print(&self) {
        note("what the relay stored in this chapter (ciphertext, sizes only):");
        let mut groups: Vec<(&str, usize, usize)> = Vec::new();
        for (what, len) in &self.stored {
            match groups.iter_mut().find(|g| g.0 == *what) {
                Some(g) => {
                    g.1 += 1;
                    g.2 += len;
                }
                None => groups.push((what, 1, *len)),
            }
        }
        for (what, count, total) in groups {
            note(&format!("  {count:>3} × {what:<44} {total:>7} B"));
        }
    }
}

fn note(text: &str) {
    println!("  {text}");
}

fn section(title: &str) {
    println!(
        "\n── {title} {}",
        "─".repeat(104_usize.saturating_sub(title.chars().count()))
    );
}
