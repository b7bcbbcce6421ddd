//! Argument parsing and dispatch: one module per subcommand, this file only routes.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::store_url::{StoreUrl, DEFAULT_STORE};

#[derive(Debug, Parser)]
#[command(
    name = "satchel",
    version,
    about = "Web sessions for Rust: demo app and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the demo web app on the session layer.
    Demo(DemoArgs),
    /// Create or upgrade an SQL store's session table (idempotent).
    Migrate(crate::admin::SqlArgs),
    /// Delete now what has expired and the store does not remove by itself (SQL: rows, in
    /// bounded batches; Redis: dead owner-index entries).
    #[command(after_help = crate::admin::EXIT_CODES)]
    Purge(crate::admin::PurgeArgs),
    /// List, show and revoke sessions in a store (any store but memory: and cookie:).
    #[command(subcommand)]
    Sessions(crate::admin::SessionsCommand),
    /// Live sessions, top owners, sessions expiring soon, store round-trip latency.
    #[command(after_help = crate::admin::EXIT_CODES)]
    Stats(crate::admin::StatsArgs),
}

/// `satchel demo` options.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Where sessions live: an SQLite file in the current directory by default (survives
    /// restarts; the table is created on start), `memory:` (lost on restart),
    /// `sqlite://FILE?mode=rwc`, `postgres://USER@HOST/DB`, `mysql://USER@HOST/DB`,
    /// `redis://HOST:PORT`, `redis+cluster://H:P,H:P`, `redis+sentinel://H:P/SERVICE`, or
    /// `cookie:` (sealed cookies, secret from SATCHEL_SECRET).
    #[arg(long, default_value = DEFAULT_STORE)]
    pub(crate) store: String,
    /// The cookie's `Secure` attribute. `auto`: off when listening on a loopback address
    /// over plain HTTP (local development), on otherwise.
    #[arg(long, value_enum, default_value_t = SecureCookies::Auto)]
    pub(crate) secure_cookies: SecureCookies,
    /// Share sessions with a Node app: `express` serves the demo in express-session +
    /// connect-redis format (needs `--secret` and a `redis://` store; the session keys
    /// `user` and `n` are Express's `req.session.user` and `req.session.n`).
    #[arg(long, value_enum)]
    pub(crate) compat: Option<Compat>,
    /// express-session secret; repeat for rotation (the first signs, all verify).
    #[arg(long = "secret", value_name = "SECRET")]
    pub(crate) secrets: Vec<String>,
    /// Koa's app.keys (keygrip), comma-separated (the first signs): `--compat koa` and
    /// `--compat koa-generic`.
    #[arg(long, value_delimiter = ',', value_name = "K1,K2")]
    pub(crate) keys: Vec<String>,
}

/// Which Node session format `--compat` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Compat {
    /// express-session cookies (`connect.sid`, signed) + connect-redis records.
    Express,
    /// koa-session cookie mode (`koa.sess` + `koa.sess.sig`, keygrip).
    Koa,
    /// koa-generic-session + koa-redis (`koa.sid` + `koa.sid.sig`, records
    /// `koa:sess:<sid>`; needs `--keys` and a `redis://` store).
    KoaGeneric,
}

/// Whether the demo's cookie carries `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SecureCookies {
    Auto,
    On,
    Off,
}

/// Exit code for bad usage (unknown or malformed arguments), as clap uses.
pub(crate) const USAGE: u8 = 2;

pub(crate) fn run() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::Demo(args) => {
            let store = match StoreUrl::parse(&args.store) {
                Ok(store) => store,
                Err(err) => {
                    let shown = crate::redact_url::redact_url(&args.store);
                    eprintln!("satchel: --store {shown:?}: {err}");
                    return ExitCode::from(USAGE);
                }
            };
            if let Err(why) = crate::demo::check_compat(&args, &store) {
                eprintln!("satchel demo: {why}");
                return ExitCode::from(USAGE);
            }
            crate::weak_secrets::warn_about_interop_secrets(&args);
            match crate::demo::run(args, store) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("satchel demo: {err:#}");
                    // A weak SATCHEL_SECRET is the operator's input, like a bad argument.
                    if crate::weak_secrets::is_weak_secret(&err) {
                        ExitCode::from(USAGE)
                    } else {
                        ExitCode::FAILURE
                    }
                }
            }
        }
        Command::Migrate(args) => crate::admin::migrate(&args),
        Command::Purge(args) => crate::admin::purge(&args),
        Command::Sessions(command) => crate::admin::sessions(command),
        Command::Stats(args) => crate::admin::stats(args),
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SATCHEL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
