//! Opening the store an admin command works on: any store URL the demo accepts; memory
//! and sealed cookies have nothing to administer from outside the process.

use std::process::ExitCode;

use satchel::admin::{Progress, PurgeReport, SessionAdmin, SessionSummary};
use satchel::{Record, SessionStore, StoreError, StoreKey, Timestamp};
use satchel_redis::{RedisConfig, RedisStore};
use satchel_sql::{SqlOptions, SqlStore};

use super::exit;
use crate::store_url::{StoreUrl, DEFAULT_STORE};

/// Which store to administer (shared by `sessions`, `stats` and `purge`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StoreArgs {
    /// The store, as `satchel demo --store` takes it: `sqlite://FILE`, `postgres://…`,
    /// `mysql://…`, `redis://…`, `redis+cluster://H:P,H:P`, `redis+sentinel://H:P/SERVICE`
    /// (`memory:` and `cookie:` have nothing to administer from outside the process).
    #[arg(long, env = "SATCHEL_STORE", default_value = DEFAULT_STORE, hide_env_values = true)]
    pub(crate) store: String,
    /// SQL stores: the session table.
    #[arg(long, default_value = satchel_sql::DEFAULT_TABLE)]
    pub(crate) table: String,
    /// PostgreSQL only: the schema holding the table (default: the search path).
    #[arg(long)]
    pub(crate) schema: Option<String>,
    /// Redis stores: the key prefix the application uses.
    #[arg(long, default_value = "satchel:")]
    pub(crate) prefix: String,
}

/// An open store with admin access.
#[derive(Debug)]
pub(crate) enum AdminStore {
    Redis(RedisStore),
    Sql(SqlStore),
}

/// Forwards one call to the store inside.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AdminStore::Redis($s) => $call,
            AdminStore::Sql($s) => $call,
        }
    };
}

impl AdminStore {
    pub(crate) async fn list(
        &self,
        owner: Option<&str>,
        now: Timestamp,
        progress: Progress<'_>,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        each!(self, s => s.list(owner, now, progress).await)
    }

    pub(crate) async fn resolve(
        &self,
        prefix: &str,
        now: Timestamp,
        max: usize,
    ) -> Result<Vec<StoreKey>, StoreError> {
        each!(self, s => s.resolve(prefix, now, max).await)
    }

    pub(crate) async fn purge(
        &self,
        now: Timestamp,
        batch: usize,
        progress: Progress<'_>,
    ) -> Result<PurgeReport, StoreError> {
        each!(self, s => s.purge(now, batch, progress).await)
    }

    pub(crate) async fn load(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<Record>, StoreError> {
        each!(self, s => s.load(key, now).await)
    }

    /// The store's own delete: the owner index is updated with it.
    pub(crate) async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        each!(self, s => s.delete(key).await)
    }

    /// The store's own owner revocation.
    pub(crate) async fn revoke_owner(
        &self,
        owner: &str,
        keep: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        each!(self, s => s.revoke_owner(owner, keep).await)
    }

    /// What kind of store this is, for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            AdminStore::Redis(_) => "redis",
            AdminStore::Sql(s) => s.backend(),
        }
    }
}

/// Parses the store arguments, refusing (exit code 2) what has nothing to administer.
pub(crate) fn parse(args: &StoreArgs, what: &str) -> Result<StoreUrl, ExitCode> {
    match StoreUrl::parse(&args.store) {
        Ok(url @ (StoreUrl::Sql(_) | StoreUrl::Redis(_))) => Ok(url),
        Ok(StoreUrl::Memory { .. }) => {
            eprintln!(
                "satchel {what}: not applicable to memory: (its sessions live inside the serving process and die with it)"
            );
            Err(ExitCode::from(exit::USAGE))
        }
        Ok(StoreUrl::Cookie) => {
            eprintln!(
                "satchel {what}: not applicable to cookie: (sealed cookies keep sessions in the browsers; revoke them through the revocation list, e.g. log out everywhere)"
            );
            Err(ExitCode::from(exit::USAGE))
        }
        Err(err) => {
            let shown = crate::redact_url::redact_url(&args.store);
            eprintln!("satchel {what}: --store {shown:?}: {err}");
            Err(ExitCode::from(exit::USAGE))
        }
    }
}

/// Connects to the store `url` names (no migrations, no background cleanup).
pub(crate) async fn connect(url: &StoreUrl, args: &StoreArgs) -> Result<AdminStore, anyhow::Error> {
    let shown = url.redacted();
    match url {
        StoreUrl::Sql(raw) => {
            let mut options = SqlOptions::default()
                .with_cleanup(None)
                .with_table(&args.table)?;
            if let Some(schema) = &args.schema {
                options = options.with_schema(schema)?;
            }
            let store = SqlStore::connect(raw, options)
                .await
                .map_err(|e| anyhow::Error::new(e).context(format!("opening {shown}")))?;
            Ok(AdminStore::Sql(store))
        }
        StoreUrl::Redis(raw) => {
            let store = RedisStore::connect(raw, RedisConfig::with_prefix(args.prefix.clone()))
                .await
                .map_err(|e| anyhow::Error::new(e).context(format!("opening {shown}")))?;
            Ok(AdminStore::Redis(store))
        }
        StoreUrl::Memory { .. } | StoreUrl::Cookie => {
            anyhow::bail!("{shown} has nothing to administer")
        }
    }
}

/// Runs `work` on a small runtime with the store open; maps its result to an exit code
/// (errors printed with their whole cause chain).
pub(crate) fn run<F, Fut>(args: &StoreArgs, what: &str, work: F) -> ExitCode
where
    F: FnOnce(AdminStore) -> Fut,
    Fut: std::future::Future<Output = Result<(), exit::Failure>>,
{
    let url = match parse(args, what) {
        Ok(url) => url,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("satchel {what}: starting the async runtime: {err}");
            return ExitCode::from(exit::STORE);
        }
    };
    let result = runtime.block_on(async {
        let store = connect(&url, args).await.map_err(exit::Failure::Store)?;
        work(store).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(what),
    }
}
