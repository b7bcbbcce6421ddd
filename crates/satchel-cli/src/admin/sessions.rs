//! `satchel sessions ls | show | revoke`: look at and revoke sessions in any store.
//!
//! Sessions are named by a reference (REF): a prefix of the hex store key, i.e. of the
//! SHA-256 of the session id. `ls` prints 12 characters; any unambiguous prefix works.
//! A reference is useless as a cookie; the id itself is never shown (stores never see it).

use std::process::ExitCode;

use satchel::admin::{is_reference, SessionSummary};
use satchel::{StoreKey, Timestamp};
use serde_json::json;

use super::exit::{self, Failure};
use super::open::{self, AdminStore, StoreArgs};
use super::output;

/// How many candidates a reference is resolved to at most: enough to say how ambiguous
/// it is without listing the store.
pub(crate) const CANDIDATES: usize = 100;

/// `satchel sessions` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum SessionsCommand {
    /// List live sessions, newest first.
    #[command(after_help = exit::HELP)]
    Ls(LsArgs),
    /// Show one session: owner, times, and the names and sizes of its keys (never values).
    #[command(after_help = exit::HELP)]
    Show(ShowArgs),
    /// Revoke one session, or every session of an owner (optionally but one).
    #[command(after_help = exit::HELP)]
    Revoke(RevokeArgs),
}

/// `satchel sessions ls` options.
#[derive(Debug, clap::Args)]
pub(crate) struct LsArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only this owner's sessions (through the store's owner index: no scan).
    #[arg(long, value_name = "USER")]
    owner: Option<String>,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: usize,
    /// JSON for scripts instead of a table.
    #[arg(long)]
    json: bool,
}

/// `satchel sessions show` options.
#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The session's reference (a prefix of its store key, as `ls` prints).
    #[arg(value_name = "REF")]
    reference: String,
    /// JSON for scripts.
    #[arg(long)]
    json: bool,
}

/// `satchel sessions revoke` options.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["reference", "owner"])))]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The session to revoke.
    #[arg(value_name = "REF")]
    reference: Option<String>,
    /// Revoke every session of this owner instead ("log out everywhere").
    #[arg(long, value_name = "USER", conflicts_with = "reference")]
    owner: Option<String>,
    /// With --owner: keep this session ("log out my other devices").
    #[arg(long, value_name = "REF", requires = "owner")]
    except: Option<String>,
    /// JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: SessionsCommand) -> ExitCode {
    match command {
        SessionsCommand::Ls(args) => open::run(&args.store, "sessions ls", |store| {
            ls(store, args.owner, args.limit, args.json)
        }),
        SessionsCommand::Show(args) => open::run(&args.store, "sessions show", |store| {
            show(store, args.reference, args.json)
        }),
        SessionsCommand::Revoke(args) => open::run(&args.store, "sessions revoke", |store| {
            revoke(store, args.reference, args.owner, args.except, args.json)
        }),
    }
}

/// A summary as JSON (times in ms since the epoch and as RFC 3339).
pub(crate) fn summary_json(s: &SessionSummary) -> serde_json::Value {
    json!({
        "ref": output::reference(s),
        "owner": s.owner,
        "created_at_ms": s.created_at.as_millis(),
        "created_at": output::time(s.created_at),
        "idle_deadline_ms": s.idle_deadline.as_millis(),
        "absolute_deadline_ms": s.absolute_deadline.as_millis(),
        "expires_at": output::time(s.expires_at()),
        "persistent": s.persistent,
    })
}

async fn ls(
    store: AdminStore,
    owner: Option<String>,
    limit: usize,
    json: bool,
) -> Result<(), Failure> {
    let now = Timestamp::now();
    let bar = output::progress("sessions read", json);
    let listed = store.list(owner.as_deref(), now, &|n| bar.inc(n)).await;
    bar.finish();
    let mut sessions = listed?;
    // Newest first; the key breaks ties so the order is stable.
    sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.key.cmp(&b.key)));
    let total = sessions.len();
    sessions.truncate(limit);
    if json {
        output::json(&json!({
            "total": total,
            "sessions": sessions.iter().map(summary_json).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                output::reference(s),
                s.owner.as_deref().map_or("-".to_owned(), output::printable),
                output::time(s.created_at),
                output::relative(s.expires_at(), now),
                output::relative(s.absolute_deadline, now),
                if s.persistent { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    output::table(
        &["REF", "OWNER", "CREATED", "EXPIRES", "ABSOLUTE", "REMEMBER"],
        &rows,
    );
    if total > sessions.len() {
        println!(
            "({} of {total} live sessions shown; --limit N for more)",
            sessions.len()
        );
    } else {
        println!("({total} live session(s))");
    }
    Ok(())
}

/// The one live session `reference` names, or why not.
pub(crate) async fn resolve_one(
    store: &AdminStore,
    reference: &str,
    now: Timestamp,
) -> Result<StoreKey, Failure> {
    let lower = reference.to_ascii_lowercase();
    if !is_reference(&lower) {
        return Err(Failure::Usage(format!(
            "{reference:?} is not a session reference (1 to 64 hex digits, as `satchel sessions ls` prints)"
        )));
    }
    let mut found = store.resolve(&lower, now, CANDIDATES).await?;
    match found.len() {
        0 => Err(Failure::NotFound(reference.to_owned())),
        1 => Ok(found.remove(0)),
        count => Err(Failure::Ambiguous {
            reference: reference.to_owned(),
            count,
        }),
    }
}

async fn show(store: AdminStore, reference: String, json: bool) -> Result<(), Failure> {
    let now = Timestamp::now();
    let key = resolve_one(&store, &reference, now).await?;
    // Through the store's own load (and decoder): what a request would see.
    let Some(record) = store.load(&key, now).await? else {
        return Err(Failure::NotFound(reference));
    };
    let m = &record.meta;
    let keys: Vec<(String, usize)> = record
        .data
        .iter()
        .map(|(k, v)| (k.clone(), v.get().len()))
        .collect();
    if json {
        output::json(&json!({
            "ref": key.short(),
            "owner": m.owner,
            "created_at_ms": m.created_at.as_millis(),
            "created_at": output::time(m.created_at),
            "idle_timeout_s": m.idle_timeout.as_secs(),
            "idle_deadline_ms": m.idle_deadline.as_millis(),
            "idle_deadline": output::time(m.idle_deadline),
            "absolute_deadline_ms": m.absolute_deadline.as_millis(),
            "absolute_deadline": output::time(m.absolute_deadline),
            "persistent": m.persistent,
            "keys": keys.iter().map(|(k, n)| json!({"name": k, "bytes": n})).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    let owner = m
        .owner
        .as_deref()
        .map_or("- (anonymous)".to_owned(), output::printable);
    println!("ref               {}", key.short());
    println!("store             {}", store.kind());
    println!("owner             {owner}");
    println!(
        "created           {} ({})",
        output::time(m.created_at),
        output::relative(m.created_at, now)
    );
    println!("idle timeout      {}", output::compact(m.idle_timeout));
    println!(
        "idle deadline     {} ({})",
        output::time(m.idle_deadline),
        output::relative(m.idle_deadline, now)
    );
    println!(
        "absolute deadline {} ({})",
        output::time(m.absolute_deadline),
        output::relative(m.absolute_deadline, now)
    );
    println!(
        "remember me       {}",
        if m.persistent { "yes" } else { "no" }
    );
    if keys.is_empty() {
        println!("keys              (none)");
    } else {
        let list: Vec<String> = keys
            .iter()
            .map(|(k, n)| format!("{} ({n} B)", output::printable(k)))
            .collect();
        println!("keys              {}", list.join(", "));
    }
    Ok(())
}

async fn revoke(
    store: AdminStore,
    reference: Option<String>,
    owner: Option<String>,
    except: Option<String>,
    json: bool,
) -> Result<(), Failure> {
    let now = Timestamp::now();
    if let Some(owner) = owner {
        let keep = match &except {
            Some(r) => Some(resolve_one(&store, r, now).await?),
            None => None,
        };
        let revoked = store.revoke_owner(&owner, keep.as_ref()).await?;
        if json {
            output::json(&json!({
                "owner": owner,
                "revoked": revoked,
                "kept": keep.map(|k| k.short()),
            }));
        } else {
            let kept = keep.map_or(String::new(), |k| format!(", kept {}", k.short()));
            println!(
                "revoked {revoked} session(s) of {}{kept}",
                output::printable(&owner)
            );
        }
        return Ok(());
    }
    let Some(reference) = reference else {
        return Err(Failure::Usage("give REF or --owner USER".to_owned()));
    };
    let key = resolve_one(&store, &reference, now).await?;
    // The store's own delete keeps its owner index consistent.
    store.delete(&key).await?;
    if json {
        output::json(&json!({ "revoked": [key.short()] }));
    } else {
        println!("revoked {}", key.short());
    }
    Ok(())
}
