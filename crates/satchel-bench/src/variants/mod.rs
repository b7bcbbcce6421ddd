//! The server setups being compared. One module per variant, listed in [`all`].
//!
//! Every variant serves the same three routes (see [`Route`]) with bodies of the same shape:
//! `POST /seed` (write `n = 0`, which issues a fresh session cookie), `POST /write` (read `n`,
//! default 0, write `n + 1`, answer `{"n":<new>}`) and `GET /read` (answer `{"n":<n>}`).

use crate::redis_keys::RedisKeys;
use crate::server::{RunningServer, ServerOptions};

pub mod actix_session_cookie;
pub mod actix_session_redis;
pub mod bare_actix;
pub mod bare_axum;
pub mod satchel_actix_cookie;
pub mod satchel_actix_memory;
pub mod satchel_actix_redis;
pub mod satchel_actix_redis_near;
pub mod satchel_memory;
pub mod satchel_postgres;
pub mod satchel_redis;
pub mod satchel_redis_near;
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
    /// Where the variant keeps its sessions on the Redis at `$SATCHEL_REDIS_URL`, for a Redis
    /// variant (None for the others): the benchmark deletes its old keys there before seeding
    /// and reports Redis's CPU and memory for it.
    pub redis: Option<RedisKeys>,
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
        satchel_redis_near::WARM,
        satchel_redis_near::COLD,
        tower_sessions_redis::VARIANT,
        satchel_postgres::VARIANT,
        tower_sessions_postgres::VARIANT,
        bare_actix::VARIANT,
        satchel_actix_memory::VARIANT,
        actix_session_cookie::VARIANT,
        satchel_actix_cookie::VARIANT,
        actix_session_redis::VARIANT,
        satchel_actix_redis::VARIANT,
        satchel_actix_redis_near::VARIANT,
    ]
}

/// Whether this variant keeps its sessions in the Redis at `$SATCHEL_REDIS_URL`: selecting any
/// of them adds Redis's own CPU and memory, and `redis-benchmark`'s GET/SET on that Redis as
/// the reference, to the report.
pub fn uses_redis(v: &Variant) -> bool {
    v.redis.is_some()
}

/// The `--variants` name that selects every Redis variant.
pub const REDIS_GROUP: &str = "redis";

/// The name of the baseline variant that ratios are computed against.
pub const BASELINE: &str = bare_axum::VARIANT.name;

/// Look variants up by name (comma-separated list as given on the command line);
/// [`REDIS_GROUP`] stands for every Redis variant. Each variant is returned once.
pub fn select(names: &str) -> anyhow::Result<Vec<Variant>> {
    let all = all();
    let mut out = Vec::new();
    for n in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if n == REDIS_GROUP {
            out.extend(all.iter().filter(|v| uses_redis(v)).copied());
            continue;
        }
        let v = all.iter().find(|v| v.name == n).copied().ok_or_else(|| {
            let known: Vec<_> = all.iter().map(|v| v.name).collect();
            anyhow::anyhow!(
                "unknown variant {n:?}; known: {}, or {REDIS_GROUP} for all Redis variants",
                known.join(", ")
            )
        })?;
        out.push(v);
    }
    // Each variant once, in the order first named.
    let mut seen = std::collections::HashSet::new();
    out.retain(|v| seen.insert(v.name));
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_group_selects_every_redis_variant_once() {
        let v = select("satchel-redis, redis").expect("known names");
        let names: Vec<&str> = v.iter().map(|v| v.name).collect();
        let redis: Vec<&str> = all()
            .into_iter()
            .filter(uses_redis)
            .map(|v| v.name)
            .collect();
        assert_eq!(names[0], "satchel-redis");
        assert_eq!(names.len(), redis.len(), "{names:?}");
        assert!(redis.iter().all(|n| names.contains(n)), "{names:?}");
        assert!(select("nope").is_err());
    }

    #[test]
    fn redis_key_spaces_do_not_overlap() {
        // A cleanup of one variant must never delete another's keys: no prefix of one Redis
        // variant (in the same database) starts another's, and a whole-database variant is
        // alone in its database.
        let spaces: Vec<(&str, RedisKeys)> = all()
            .into_iter()
            .filter_map(|v| Some((v.name, v.redis?)))
            .collect();
        for (a, ka) in &spaces {
            for (b, kb) in &spaces {
                if a != b && ka.db == kb.db {
                    assert!(
                        !kb.prefix.starts_with(ka.prefix),
                        "{a}'s cleanup would delete {b}'s keys"
                    );
                }
            }
            if ka.prefix.is_empty() {
                assert!(
                    ka.db.is_some(),
                    "{a} would clean up the URL's whole database"
                );
                assert_ne!(
                    ka.db,
                    Some(crate::redis_ref::DB),
                    "{a} shares redis-benchmark's database"
                );
            }
        }
    }
}
