//! `SqlRevocations` on PostgreSQL (`SATCHEL_POSTGRES_URL`), MariaDB (`SATCHEL_MYSQL_URL`)
//! and SQLite (a scratch file): the revocation conformance checks, idempotent migrations,
//! a logout and a revoked device that survive rebuilding the engine (a restart), and the
//! bounded cleanup. Each test uses tables of its own, dropped afterwards.
#![cfg(all(feature = "postgres", feature = "sqlite", feature = "mysql"))]

mod common;

use std::time::Duration;

use satchel::sealed::{CookieSealer, OpenError, Opened, Revocations};
use satchel::{Engine, SessionConfig, SessionId, Stateless, StoreError, Timestamp};
use satchel_sql::{SqlOptions, SqlRevocations};

/// Where a backend's test tables live, and how to drop them afterwards.
struct Place {
    url: String,
    table: String,
}

impl Place {
    fn sqlite() -> Place {
        let name = common::unique_name();
        let path = std::env::temp_dir().join(format!("{name}.sqlite"));
        Place {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            table: name,
        }
    }

    fn service(var: &str) -> Option<Place> {
        common::service_url(var).map(|url| Place {
            url,
            table: common::unique_name(),
        })
    }

    fn options(&self) -> SqlOptions {
        SqlOptions::default()
            .with_table(&self.table)
            .expect("valid name")
            .with_max_connections(4)
            .with_acquire_timeout(Duration::from_secs(10))
    }

    async fn open(&self) -> SqlRevocations {
        let rev = SqlRevocations::connect(&self.url, self.options())
            .await
            .expect("connect");
        let report = rev.migrate().await.expect("migrate");
        assert_eq!(report.version, 1);
        rev
    }

    async fn drop_tables(&self, rev: &SqlRevocations) {
        let _ = rev; // the tables share the connection's database
        let quote = if self.url.starts_with("mysql") {
            '`'
        } else {
            '"'
        };
        let tables = [
            format!("{quote}{}_revocations{quote}", self.table),
            format!("{quote}{}_revocations_migrations{quote}", self.table),
        ];
        if self.url.starts_with("sqlite") {
            let path = self.url.trim_start_matches("sqlite://");
            let path = path.split('?').next().unwrap_or(path);
            let _ = std::fs::remove_file(path);
            return;
        }
        let url = self.url.clone();
        common::block_on_thread(async move {
            use sqlx::Connection as _;
            for t in tables {
                let sql = format!("DROP TABLE IF EXISTS {t}");
                if url.starts_with("postgres") {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                        let _ = sqlx::Executor::execute(&mut c, sql.as_str()).await;
                    }
                } else if let Ok(mut c) = sqlx::MySqlConnection::connect(&url).await {
                    let _ = sqlx::Executor::execute(&mut c, sql.as_str()).await;
                }
            }
        });
    }
}

fn places() -> Vec<Place> {
    let mut all = vec![Place::sqlite()];
    all.extend(Place::service("SATCHEL_POSTGRES_URL"));
    all.extend(Place::service("SATCHEL_MYSQL_URL"));
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_passes_the_revocation_conformance_checks() {
    for place in places() {
        let rev = place.open().await;
        satchel::revocations_conformance::run(&rev).await;
        let again = rev.migrate().await.expect("migrate again");
        assert!(again.applied.is_empty(), "{}: idempotent", place.url);
        place.drop_tables(&rev).await;
    }
}

/// A stand-in sealer (no cryptography: these tests are about revocation): hex plaintext.
struct Hex;

impl CookieSealer for Hex {
    fn seal(&self, _name: &str, plaintext: &[u8]) -> Result<String, StoreError> {
        Ok(plaintext.iter().map(|b| format!("{b:02x}")).collect())
    }

    fn open(&self, _name: &str, sealed: &str) -> Result<Opened, OpenError> {
        if !sealed.len().is_multiple_of(2) {
            return Err(OpenError::Malformed);
        }
        let plaintext = sealed
            .as_bytes()
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|s| u8::from_str_radix(s, 16).ok())
                    .ok_or(OpenError::Malformed)
            })
            .collect::<Result<Vec<u8>, _>>()?;
        Ok(Opened {
            plaintext,
            stale_key: false,
        })
    }
}

fn engine(rev: SqlRevocations) -> Engine {
    Engine::stateless(
        Stateless::new(Hex).revocations(rev),
        SessionConfig::default(),
    )
}

fn cookie_of(finish: &satchel::Finish) -> String {
    let line = finish.set_cookie.as_deref().expect("a cookie");
    line.split(';').next().expect("pair").to_owned()
}

async fn owner_of(engine: &Engine, cookie: &str) -> Option<String> {
    let s = engine.begin([cookie.as_bytes()]);
    let owner = s.owner().await.expect("read");
    engine.finish(&s, 200).await;
    owner
}

async fn login(engine: &Engine, owner: &str) -> String {
    let s = engine.begin(None);
    s.login(owner).expect("login");
    cookie_of(&engine.finish(&s, 200).await)
}

/// Issue 19 item 3 on SQL: log out, restart (a new pool and engine on the same tables),
/// the old cookie is refused; so is a revoked device; the kept device works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_survive_a_restart_on_every_backend() {
    for place in places() {
        let before = engine(place.open().await);
        let gone = login(&before, "lin").await;
        let phone = login(&before, "mo").await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let laptop = login(&before, "mo").await;
        let s = before.begin([gone.as_bytes()]);
        s.logout();
        assert!(before.finish(&s, 200).await.error.is_none());
        let s = before.begin([laptop.as_bytes()]);
        s.revoke_other_sessions().await.expect("revoke");
        let laptop = cookie_of(&before.finish(&s, 200).await);
        drop(before);

        let rev = place.open().await;
        let after = engine(rev.clone());
        assert_eq!(
            owner_of(&after, &gone).await,
            None,
            "{}: logged out",
            place.url
        );
        assert_eq!(
            owner_of(&after, &phone).await,
            None,
            "{}: revoked",
            place.url
        );
        assert_eq!(owner_of(&after, &laptop).await.as_deref(), Some("mo"));
        place.drop_tables(&rev).await;
    }
}

/// Dead entries go in bounded batches, and only dead ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_deletes_only_dead_entries_in_bounded_batches() {
    for place in places() {
        let rev = place.open().await;
        let now = Timestamp::now();
        let soon = now.saturating_add(Duration::from_secs(60));
        let later = now.saturating_add(Duration::from_secs(3_600));
        let live = SessionId::generate().store_key();
        for _ in 0..5 {
            rev.revoke_session(&SessionId::generate().store_key(), soon, now)
                .await
                .expect("revoke");
        }
        rev.revoke_session(&live, later, now).await.expect("revoke");
        let past = now.saturating_add(Duration::from_secs(61));
        assert_eq!(rev.purge_expired(past, 3).await.expect("purge"), 3);
        assert_eq!(rev.purge_expired(past, 3).await.expect("purge"), 2);
        assert_eq!(rev.purge_expired(past, 3).await.expect("purge"), 0);
        assert!(rev
            .is_revoked(&live, None, now, past)
            .await
            .expect("lookup"));
        place.drop_tables(&rev).await;
    }
}
