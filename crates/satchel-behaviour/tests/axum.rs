//! The behaviour suite against `satchel-axum`: the routes as an axum `Router` behind
//! `SessionLayer`, served by `axum::serve` on the test's runtime.

use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel_axum::{AuthRejected, Authenticated, Error, Session, SessionLayer};
use satchel_behaviour::{Integration, Served, Spec};
use serde_json::{json, Value};

struct Axum;

impl Integration for Axum {
    fn serve(spec: Spec) -> Served {
        let mut app = routes(spec.pause);
        if let Some(engine) = spec.engine {
            let status = |code| StatusCode::from_u16(code).expect("status");
            let layer = SessionLayer::from_engine(engine)
                .store_error_status(status(spec.statuses.store))
                .conflict_status(status(spec.statuses.conflict));
            app = app.layer(match spec.csrf {
                Some(check) => layer.csrf(check),
                None => layer.without_csrf_check(),
            });
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        let task = tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Served {
            addr,
            guard: Box::new(AbortOnDrop(task)),
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn routes(pause: Duration) -> Router {
    Router::new()
        .route("/read", get(read))
        .route(
            "/write",
            post(move |session: Session| async move {
                let n: i64 = session.get("n").await?.unwrap_or(0);
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                session.insert("n", &(n + 1))?;
                Ok::<_, Error>(Json(json!({ "n": n + 1 })))
            }),
        )
        .route("/plain", get(|| async { "no session here" }))
        .route("/write-then-fail", post(write_then_fail))
        .route("/write-big", post(write_big))
        .route("/vary", get(vary))
        .route("/vary-cookie", get(vary_cookie))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/whoami", get(whoami))
        .route("/login-as/{user}", post(login_as))
        .route("/login-pending/{user}", post(login_pending))
        .route("/second-factor", post(second_factor))
        .route("/me", get(me))
        .route("/sensitive", post(sensitive))
        .route("/reauth", post(reauth))
}

async fn login_pending(session: Session, Path(user): Path<String>) -> Result<Json<Value>, Error> {
    session.login_pending(user.as_str(), "totp")?;
    Ok(Json(json!({ "pending": user })))
}

async fn second_factor(session: Session) -> Result<Json<Value>, Error> {
    Ok(Json(json!({ "owner": session.complete_login().await? })))
}

async fn me(auth: Authenticated) -> Json<Value> {
    Json(json!({ "owner": auth.owner() }))
}

async fn sensitive(auth: Authenticated) -> Result<&'static str, axum::response::Response> {
    use axum::response::IntoResponse as _;
    match auth.requires_recent_auth(satchel_behaviour::RECENT_AUTH) {
        Ok(()) => Ok("done"),
        // The typed refusal becomes the application's own page.
        Err(AuthRejected::Refused(r))
            if r.kind() == satchel::auth::AuthRejectionKind::ReauthenticationRequired =>
        {
            let status = StatusCode::from_u16(r.status()).expect("status");
            Err((status, "confirm your password").into_response())
        }
        Err(other) => Err(other.into_response()),
    }
}

async fn reauth(auth: Authenticated) -> Result<&'static str, Error> {
    auth.reauthenticated()?;
    Ok("ok")
}

async fn read(session: Session) -> Result<Json<Value>, Error> {
    let n: i64 = session.get("n").await?.unwrap_or(0);
    Ok(Json(json!({ "n": n })))
}

async fn write_then_fail(session: Session) -> Result<(StatusCode, &'static str), Error> {
    session.insert("n", &1000)?;
    Ok((StatusCode::INTERNAL_SERVER_ERROR, "handler failed"))
}

async fn vary(
    session: Session,
) -> Result<([(&'static str, &'static str); 1], &'static str), Error> {
    let _ = session.get::<i64>("n").await?;
    Ok(([("vary", "Accept-Encoding")], "ok"))
}

async fn vary_cookie(
    session: Session,
) -> Result<([(&'static str, &'static str); 1], &'static str), Error> {
    let _ = session.get::<i64>("n").await?;
    Ok(([("vary", "Origin, cookie")], "ok"))
}

async fn login(session: Session) -> Result<Json<Value>, Error> {
    session.login("alice")?;
    Ok(Json(json!({ "owner": "alice" })))
}

async fn login_as(session: Session, Path(user): Path<String>) -> Result<Json<Value>, Error> {
    session.login(user.as_str())?;
    let n: i64 = session.get("n").await?.unwrap_or(0);
    Ok(Json(json!({ "owner": user, "n": n })))
}

async fn write_big(session: Session) -> Result<&'static str, Error> {
    session.insert("big", &"x".repeat(satchel_behaviour::BIG_VALUE_LEN))?;
    Ok("big")
}

async fn logout(session: Session) -> &'static str {
    session.logout();
    "bye"
}

async fn whoami(session: Session) -> Result<Json<Value>, Error> {
    Ok(Json(json!({ "owner": session.owner().await? })))
}

satchel_behaviour::behaviour_tests!(Axum);

/// The shared-cookie race (10 clients × 10 increments: final `n` == number of `200`s) on
/// every server-side store, through axum. Each test uses its own table (SQL, dropped after)
/// or key prefix (Redis, expiring by TTL).
mod stores {
    use satchel::{Engine, SessionStore};
    use satchel_behaviour::{insecure_config, shared_cookie_race};
    use satchel_sql::{SqlOptions, SqlStore};

    use super::Axum;

    /// The URL in `var`; under `CI=true` a missing service fails the test, it never skips.
    fn service_url(var: &str) -> Option<String> {
        match std::env::var(var) {
            Ok(url) if !url.is_empty() => Some(url),
            _ if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("{var} is not set: run `eval \"$(scripts/services start)\"` or scripts/test")
            }
            _ => {
                eprintln!("\n!!!!!!!!!! SKIPPED: {var} is not set (run scripts/test)\n");
                None
            }
        }
    }

    fn unique_table() -> String {
        format!("satchel_race_{:016x}", rand::random::<u64>())
    }

    async fn race_on<S: SessionStore>(store: S) {
        shared_cookie_race::<Axum>(Engine::new(store, insecure_config())).await;
    }

    async fn sql_race(url: &str) {
        let table = unique_table();
        let options = SqlOptions::default()
            .with_table(&table)
            .expect("table name");
        let store = SqlStore::connect(url, options).await.expect("connect");
        store.migrate().await.expect("migrate");
        race_on(store).await;
        if !url.starts_with("sqlite") {
            drop_tables(url, &table).await;
        }
    }

    async fn drop_tables(url: &str, table: &str) {
        use sqlx::Connection as _;
        let statements = [
            format!("DROP TABLE IF EXISTS {table}"),
            format!("DROP TABLE IF EXISTS {table}_migrations"),
            format!("DROP TABLE IF EXISTS {table}_forwards"),
            format!("DROP TABLE IF EXISTS {table}_forwards_migrations"),
        ];
        if url.starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .expect("connect for cleanup");
            for sql in &statements {
                sqlx::query(sql).execute(&mut conn).await.expect("drop");
            }
        } else {
            let mut conn = sqlx::MySqlConnection::connect(url)
                .await
                .expect("connect for cleanup");
            for sql in &statements {
                sqlx::query(sql).execute(&mut conn).await.expect("drop");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_file_shared_cookie_race() {
        let dir = std::env::temp_dir().join(unique_table());
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.join("race.sqlite").display());
        sql_race(&url).await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_shared_cookie_race() {
        if let Some(url) = service_url("SATCHEL_POSTGRES_URL") {
            sql_race(&url).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn redis_shared_cookie_race() {
        if let Some(url) = service_url("SATCHEL_REDIS_URL") {
            let prefix = format!("{}:", unique_table());
            let config = satchel_redis::RedisConfig::with_prefix(prefix);
            let store = satchel_redis::RedisStore::connect(&url, config)
                .await
                .expect("connect");
            race_on(store).await; // keys expire by TTL
        }
    }

    /// The same with the Redis near cache on: its cached bases never lose an increment.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn redis_near_cache_shared_cookie_race() {
        if let Some(url) = service_url("SATCHEL_REDIS_URL") {
            let prefix = format!("{}:", unique_table());
            let config = satchel_redis::RedisConfig {
                near_cache: Some(satchel_redis::NearCacheConfig::default()),
                ..satchel_redis::RedisConfig::with_prefix(prefix)
            };
            let store = satchel_redis::RedisStore::connect(&url, config)
                .await
                .expect("connect");
            race_on(store).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn redis_cluster_shared_cookie_race() {
        if let Some(url) = service_url("SATCHEL_REDIS_CLUSTER_URL") {
            let prefix = format!("{}:", unique_table());
            let config = satchel_redis::RedisConfig::with_prefix(prefix);
            let store = satchel_redis::RedisStore::connect(&url, config)
                .await
                .expect("connect");
            race_on(store).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn mysql_shared_cookie_race() {
        if let Some(url) = service_url("SATCHEL_MYSQL_URL") {
            sql_race(&url).await;
        }
    }
}
