//! `--store URL`: which session store to use.
//!
//! Recognised schemes are listed up front so a typo gets a helpful error rather than a
//! silent fallback to memory.

use std::fmt;

/// A parsed `--store` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreUrl {
    /// `memory:` — the embedded MemoryStore, optionally `memory:?max_sessions=N`.
    Memory { max_sessions: Option<usize> },
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
            "sqlite" => Err(StoreUrlError::NotYetAvailable("SQLite")),
            "postgres" | "postgresql" => Err(StoreUrlError::NotYetAvailable("PostgreSQL")),
            "mysql" | "mariadb" => Err(StoreUrlError::NotYetAvailable("MySQL")),
            "redis" | "rediss" | "redis+cluster" | "redis+sentinel" => {
                Err(StoreUrlError::NotYetAvailable("Redis"))
            }
            "cookie" => Err(StoreUrlError::NotYetAvailable("cookie")),
            "" => Err(StoreUrlError::NoScheme),
            other => Err(StoreUrlError::UnknownScheme(other.to_owned())),
        }
    }
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
            Err(StoreUrlError::NotYetAvailable("Redis"))
        );
    }
}
