//! `satchel purge --store URL`: deletes now what has expired and the store does not remove
//! by itself. SQL stores: expired rows, in bounded batches (for deployments that turn the
//! stores' own cleanup task off). Redis expires session values by itself (TTL): purge
//! removes dead entries from the owner indexes. Not applicable to `memory:` and `cookie:`.

use std::process::ExitCode;

use satchel::Timestamp;
use serde_json::json;

use super::exit::{self, Failure};
use super::open::{self, AdminStore, StoreArgs};
use super::output;

/// `satchel purge` options.
#[derive(Debug, clap::Args)]
#[command(after_help = exit::HELP)]
pub(crate) struct PurgeArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// SQL stores: rows deleted per statement.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) batch: usize,
    /// JSON for scripts.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn purge(args: &PurgeArgs) -> ExitCode {
    let (batch, json) = (args.batch.max(1), args.json);
    open::run(&args.store, "purge", |store| run(store, batch, json))
}

async fn run(store: AdminStore, batch: usize, json: bool) -> Result<(), Failure> {
    let what = match store {
        AdminStore::Redis(_) => "owner index(es) checked",
        AdminStore::Sql(_) => "expired sessions deleted",
    };
    let bar = output::progress(what, json);
    let purged = store.purge(Timestamp::now(), batch, &|n| bar.inc(n)).await;
    bar.finish();
    let report = purged?;
    if json {
        output::json(&json!({
            "store": store.kind(),
            "sessions": report.sessions,
            "index_entries": report.index_entries,
        }));
        return Ok(());
    }
    match store {
        AdminStore::Sql(_) => println!("deleted {} expired session(s)", report.sessions),
        AdminStore::Redis(_) => println!(
            "Redis expires sessions by itself; removed {} dead owner-index entr{}",
            report.index_entries,
            if report.index_entries == 1 {
                "y"
            } else {
                "ies"
            }
        ),
    }
    Ok(())
}
