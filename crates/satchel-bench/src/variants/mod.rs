//! The server setups being compared. One module per variant, listed in [`all`].
//!
//! Every variant serves the same three routes (see [`Route`]) with bodies of the same shape:
//! `POST /seed` (write `n = 0`, which issues a fresh session cookie), `POST /write` (read `n`,
//! default 0, write `n + 1`, answer `{"n":<new>}`) and `GET /read` (answer `{"n":<n>}`).

use crate::server::{RunningServer, ServerOptions};

pub mod actix_session_cookie;
pub mod actix_session_redis;
pub mod bare_actix;
pub mod bare_axum;
pub mod satchel_actix_cookie;
pub mod satchel_actix_memory;
pub mod satchel_actix_redis;
pub mod satchel_memory;
pub mod satchel_postgres;
pub mod satchel_redis;
pub mod tower_sessions_memory;
pub mod tower_sessions_postgres;
pub mod tower_sessions_redis;

/// One server setup under test.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// Short name used in flags and the table (`bare-axum`, `satchel-memory`, ...).
    pub name: &'static str,
    /// One line for the report: framework, session library, store, notable settings.
    pub summary: &'static str,
    /// Whether `/seed` issues a session cookie. A variant without sessions (the floor) is sent
    /// synthetic cookies of the same size, so every variant parses the same request bytes.
    pub sessions: bool,
    /// Start the server on its own thread and return a handle (address, thread id, shutdown).
    pub spawn: fn(&ServerOptions) -> anyhow::Result<RunningServer>,
}

impl Variant {
    /// Start this variant's server.
    pub fn start(&self, opts: &ServerOptions) -> anyhow::Result<RunningServer> {
        (self.spawn)(opts)
    }
}

/// Every variant, in table order. The first is the baseline the ratios refer to.
pub fn all() -> Vec<Variant> {
    vec![
        bare_axum::VARIANT,
        satchel_memory::VARIANT,
        tower_sessions_memory::VARIANT,
        satchel_redis::VARIANT,
        tower_sessions_redis::VARIANT,
        satchel_postgres::VARIANT,
        tower_sessions_postgres::VARIANT,
        bare_actix::VARIANT,
        satchel_actix_memory::VARIANT,
        actix_session_cookie::VARIANT,
        satchel_actix_cookie::VARIANT,
        actix_session_redis::VARIANT,
        satchel_actix_redis::VARIANT,
    ]
}

/// The variants whose store is the Redis at `$SATCHEL_REDIS_URL`: selecting any of them adds
/// `redis-benchmark`'s GET/SET on that Redis to the report, as the reference.
pub const REDIS: [&str; 4] = [
    satchel_redis::VARIANT.name,
    tower_sessions_redis::VARIANT.name,
    actix_session_redis::VARIANT.name,
    satchel_actix_redis::VARIANT.name,
];

/// Whether this variant keeps its sessions in the Redis at `$SATCHEL_REDIS_URL`.
pub fn uses_redis(v: &Variant) -> bool {
    REDIS.contains(&v.name)
}

/// The name of the baseline variant that ratios are computed against.
pub const BASELINE: &str = bare_axum::VARIANT.name;

/// Look variants up by name (comma-separated list as given on the command line).
pub fn select(names: &str) -> anyhow::Result<Vec<Variant>> {
    let all = all();
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            all.iter().find(|v| v.name == n).copied().ok_or_else(|| {
                let known: Vec<_> = all.iter().map(|v| v.name).collect();
                anyhow::anyhow!("unknown variant {n:?}; known: {}", known.join(", "))
            })
        })
        .collect()
}

/// A measured route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// `POST /write`: load the session, increment `n`, save.
    Write,
    /// `GET /read`: load the session, read `n`.
    Read,
}

impl Route {
    /// Routes measured, in table order.
    pub const ALL: [Route; 2] = [Route::Write, Route::Read];

    /// HTTP method.
    pub fn method(self) -> hyper::Method {
        match self {
            Route::Write => hyper::Method::POST,
            Route::Read => hyper::Method::GET,
        }
    }

    /// Request path.
    pub fn path(self) -> &'static str {
        match self {
            Route::Write => "/write",
            Route::Read => "/read",
        }
    }

    /// Label for the table (`POST /write`).
    pub fn label(self) -> &'static str {
        match self {
            Route::Write => "POST /write",
            Route::Read => "GET /read",
        }
    }
}
