//! `--store URL`: which session store to use.
//!
//! Recognised schemes are listed up front so a typo gets a helpful error rather than a
//! silent fallback to memory.

use std::fmt;

use crate::redact_url::redact_url;

/// The demo's default store: an SQLite file in the current directory (created if missing),
/// so sessions survive a restart of the demo.
pub(crate) const DEFAULT_STORE: &str = "sqlite://satchel-demo.sqlite?mode=rwc";

/// A parsed `--store` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreUrl {
    /// `memory:` — the embedded MemoryStore, optionally `memory:?max_sessions=N`.
    Memory { max_sessions: Option<usize> },
    /// `sqlite:…`, `postgres://…` / `postgresql://…`, `mysql://…` / `mariadb://…`: a
    /// satchel-sql store; the URL goes to sqlx as given.
    Sql(String),
    /// `redis://…` (one server), `redis+cluster://host:port,host:port` (a Cluster) or
    /// `redis+sentinel://host:port,host:port/service` (via Sentinel): a satchel-redis store.
    Redis(String),
    /// `cookie:` — no store: sessions sealed into the cookie (satchel-cookie), with
    /// in-memory revocation; the master secret comes from `SATCHEL_SECRET`.
    Cookie,
}

impl StoreUrl {
    /// The URL with every credential replaced by `***` (see [`redact_url`]), for
    /// messages and logs.
    pub(crate) fn redacted(&self) -> String {
        match self {
            StoreUrl::Memory { .. } => "memory:".to_owned(),
            StoreUrl::Sql(url) => redact_url(url),
            StoreUrl::Redis(url) => redact_url(url),
            StoreUrl::Cookie => "cookie:".to_owned(),
        }
    }
}

/// Why a `--store` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreUrlError {
    /// No `scheme:` at all.
    NoScheme,
    /// A scheme satchel does not know.
    UnknownScheme(String),
    /// A scheme planned for satchel but not built into this version.
    NotYetAvailable(&'static str),
    /// A known scheme with a malformed remainder.
    Malformed(&'static str),
}

impl fmt::Display for StoreUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrlError::NoScheme => f.write_str("not a store URL (expected e.g. memory:)"),
            StoreUrlError::UnknownScheme(s) => write!(
                f,
                "unknown store scheme {s:?} (known: memory:, sqlite:, postgres:, mysql:, redis:, redis+cluster:, redis+sentinel:, cookie:)"
            ),
            StoreUrlError::NotYetAvailable(s) => {
                write!(f, "the {s} store is not available in this version yet (use memory:)")
            }
            StoreUrlError::Malformed(why) => write!(f, "malformed store URL: {why}"),
        }
    }
}

impl std::error::Error for StoreUrlError {}

impl StoreUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, StoreUrlError> {
        let (scheme, rest) = url.split_once(':').ok_or(StoreUrlError::NoScheme)?;
        match scheme.to_ascii_lowercase().as_str() {
            "memory" => parse_memory(rest),
            "sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb" => parse_sql(url),
            "redis" | "redis+cluster" | "redis+sentinel" => parse_redis(url),
            "rediss" => Err(StoreUrlError::NotYetAvailable("Redis over TLS")),
            "cookie" => match rest {
                "" | "//" => Ok(StoreUrl::Cookie),
                _ => Err(StoreUrlError::Malformed(
                    "cookie: takes no options (the secret comes from SATCHEL_SECRET)",
                )),
            },
            "" => Err(StoreUrlError::NoScheme),
            other => Err(StoreUrlError::UnknownScheme(other.to_owned())),
        }
    }
}

fn parse_redis(url: &str) -> Result<StoreUrl, StoreUrlError> {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    if rest.is_empty() {
        return Err(StoreUrlError::Malformed(
            "expected redis://host:port, redis+cluster://host:port,host:port or redis+sentinel://host:port/service",
        ));
    }
    Ok(StoreUrl::Redis(url.to_owned()))
}

fn parse_sql(url: &str) -> Result<StoreUrl, StoreUrlError> {
    let (scheme, rest) = url.split_once(':').unwrap_or((url, ""));
    let network = !scheme.eq_ignore_ascii_case("sqlite");
    if network && !rest.starts_with("//") {
        return Err(StoreUrlError::Malformed(
            "expected postgres://user@host/database or mysql://user@host/database",
        ));
    }
    if rest.is_empty() || rest == "//" {
        return Err(StoreUrlError::Malformed(
            "expected sqlite://path/to/file.sqlite?mode=rwc or sqlite::memory:",
        ));
    }
    satchel_sql::SqlStore::check_url(url)
        .map_err(|_| StoreUrlError::Malformed("this satchel was built without that SQL backend"))?;
    Ok(StoreUrl::Sql(url.to_owned()))
}

fn parse_memory(rest: &str) -> Result<StoreUrl, StoreUrlError> {
    let query = match rest {
        "" | "//" => return Ok(StoreUrl::Memory { max_sessions: None }),
        _ => rest
            .strip_prefix('?')
            .or_else(|| rest.strip_prefix("//?"))
            .ok_or(StoreUrlError::Malformed(
                "memory: takes no path; options go after '?'",
            ))?,
    };
    let mut max_sessions = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("max_sessions", n)) => {
                let n: usize = n.parse().map_err(|_| {
                    StoreUrlError::Malformed("max_sessions must be a positive integer")
                })?;
                if n == 0 {
                    return Err(StoreUrlError::Malformed(
                        "max_sessions must be a positive integer",
                    ));
                }
                max_sessions = Some(n);
            }
            _ => {
                return Err(StoreUrlError::Malformed(
                    "unknown memory: option (known: max_sessions)",
                ))
            }
        }
    }
    Ok(StoreUrl::Memory { max_sessions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_memory_forms() {
        assert_eq!(
            StoreUrl::parse("memory:"),
            Ok(StoreUrl::Memory { max_sessions: None })
        );
        assert_eq!(
            StoreUrl::parse("memory://"),
            Ok(StoreUrl::Memory { max_sessions: None })
        );
        assert_eq!(
            StoreUrl::parse("memory:?max_sessions=10"),
            Ok(StoreUrl::Memory {
                max_sessions: Some(10)
            })
        );
    }

    #[test]
    fn rejects_bad_urls_clearly() {
        assert_eq!(StoreUrl::parse("memory"), Err(StoreUrlError::NoScheme));
        assert_eq!(
            StoreUrl::parse("nosuch:x"),
            Err(StoreUrlError::UnknownScheme("nosuch".into()))
        );
        assert!(matches!(
            StoreUrl::parse("memory:?max_sessions=0"),
            Err(StoreUrlError::Malformed(_))
        ));
        assert!(matches!(
            StoreUrl::parse("memory:?x=1"),
            Err(StoreUrlError::Malformed(_))
        ));
        assert!(matches!(
            StoreUrl::parse("memory:/tmp"),
            Err(StoreUrlError::Malformed(_))
        ));
        assert_eq!(
            StoreUrl::parse("redis://127.0.0.1"),
            Ok(StoreUrl::Redis("redis://127.0.0.1".into()))
        );
        assert_eq!(
            StoreUrl::parse("redis+cluster://127.0.0.1:17000,127.0.0.1:17001"),
            Ok(StoreUrl::Redis(
                "redis+cluster://127.0.0.1:17000,127.0.0.1:17001".into()
            ))
        );
        assert!(matches!(
            StoreUrl::parse("redis:"),
            Err(StoreUrlError::Malformed(_))
        ));
        assert_eq!(
            StoreUrl::parse("redis+sentinel://127.0.0.1:17200/mymaster"),
            Ok(StoreUrl::Redis(
                "redis+sentinel://127.0.0.1:17200/mymaster".into()
            ))
        );
        assert!(matches!(
            StoreUrl::parse("postgres:nohost"),
            Err(StoreUrlError::Malformed(_))
        ));
        assert!(matches!(
            StoreUrl::parse("sqlite:"),
            Err(StoreUrlError::Malformed(_))
        ));
        assert_eq!(StoreUrl::parse("cookie:"), Ok(StoreUrl::Cookie));
        assert!(matches!(
            StoreUrl::parse("cookie:secret"),
            Err(StoreUrlError::Malformed(_))
        ));
    }

    #[test]
    fn parses_sql_urls() {
        for url in [
            DEFAULT_STORE,
            "sqlite::memory:",
            "sqlite:///tmp/x.sqlite",
            "postgres://app@127.0.0.1:5432/app",
            "postgresql://app@db/app?sslmode=disable",
            "mysql://root@127.0.0.1:3306/test",
            "mariadb://root@127.0.0.1/test",
        ] {
            assert_eq!(StoreUrl::parse(url), Ok(StoreUrl::Sql(url.into())), "{url}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        let url = StoreUrl::Sql("postgres://app:s3cret@db:5432/app?x=1".into());
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/app?x=1");
        let url = StoreUrl::Sql("mysql://root@db/test".into());
        assert_eq!(url.redacted(), "mysql://root@db/test");
        assert_eq!(
            StoreUrl::Sql(DEFAULT_STORE.into()).redacted(),
            DEFAULT_STORE
        );
        // Issue 19 item 7: query-string passwords too.
        let url = StoreUrl::Sql("postgres://postgres@127.0.0.1/test?password=hunter2".into());
        assert_eq!(
            url.redacted(),
            "postgres://postgres@127.0.0.1/test?password=***"
        );
    }
}
