//! Administration commands: `satchel migrate` (SQL stores), and `satchel sessions`,
//! `satchel stats` and `satchel purge` on every store the demo accepts (memory and
//! sealed cookies answer "not applicable", exit code 2). One module per subcommand;
//! `open.rs` connects, `output.rs` prints, `exit.rs` lists the exit codes.

mod exit;
mod migrate;
mod open;
mod output;
mod purge;
mod sessions;
mod stats;

use std::process::ExitCode;

use satchel_sql::{SqlOptions, SqlStore};

use crate::cli::USAGE;
use crate::store_url::StoreUrl;

pub(crate) use exit::HELP as EXIT_CODES;
pub(crate) use migrate::migrate;
pub(crate) use purge::{purge, PurgeArgs};
pub(crate) use sessions::{run as sessions, SessionsCommand};
pub(crate) use stats::{run as stats, StatsArgs};

/// Which SQL store to work on.
#[derive(Debug, clap::Args)]
pub(crate) struct SqlArgs {
    /// The store: `sqlite://FILE?mode=rwc`, `postgres://USER@HOST/DB` or
    /// `mysql://USER@HOST/DB`.
    #[arg(long)]
    pub(crate) store: String,
    /// The session table.
    #[arg(long, default_value = satchel_sql::DEFAULT_TABLE)]
    pub(crate) table: String,
    /// PostgreSQL only: the schema holding the table (default: the search path).
    #[arg(long)]
    pub(crate) schema: Option<String>,
}

/// Parses the arguments into a URL and options, or the exit code for bad usage.
fn parse(args: &SqlArgs, what: &str) -> Result<(String, SqlOptions), ExitCode> {
    let url = match StoreUrl::parse(&args.store) {
        Ok(StoreUrl::Sql(url)) => url,
        Ok(other) => {
            eprintln!(
                "satchel {what}: {} is not a SQL store (nothing to {what}; it expires sessions by itself)",
                other.redacted()
            );
            return Err(ExitCode::from(USAGE));
        }
        Err(err) => {
            let shown = crate::redact_url::redact_url(&args.store);
            eprintln!("satchel {what}: --store {shown:?}: {err}");
            return Err(ExitCode::from(USAGE));
        }
    };
    let mut options = SqlOptions::default().with_cleanup(None);
    let named = options
        .with_table(&args.table)
        .and_then(|o| match &args.schema {
            Some(schema) => o.with_schema(schema),
            None => Ok(o),
        });
    options = match named {
        Ok(o) => o,
        Err(err) => {
            eprintln!("satchel {what}: {err}");
            return Err(ExitCode::from(USAGE));
        }
    };
    Ok((url, options))
}

/// Runs `work` on the store the arguments name, on a small runtime; prints failures.
fn with_store<F, Fut>(args: &SqlArgs, what: &str, work: F) -> ExitCode
where
    F: FnOnce(SqlStore) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let (url, options) = match parse(args, what) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let redacted = StoreUrl::Sql(url.clone()).redacted();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("satchel {what}: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let store = SqlStore::connect(&url, options)
            .await
            .map_err(|e| anyhow::Error::new(e).context(format!("opening {redacted}")))?;
        work(store).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("satchel {what}: {err:#}");
            ExitCode::FAILURE
        }
    }
}
