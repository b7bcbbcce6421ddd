//! The satchel side of the live tests: the Node apps' routes, written against satchel,
//! served in-process on a loopback port: with `ExpressIds` + `ConnectRedisStore` (the
//! Express app's sessions), with `CookieSessionCookies` (Express's cookie-session), with
//! `KoaCookies` (koa-session cookie mode) or with `KoaIds` + `KoaRedisStore` (koa-session
//! with koa-redis).

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel::{Engine, SessionConfig, Stateless};
use satchel_axum::{Error, Session, SessionLayer};
use satchel_connect::cookie_session::CookieSessionCookies;
use satchel_connect::keygrip::Keygrip;
use satchel_connect::koa::{KoaCookies, KoaIds, KoaRedisOptions, KoaRedisStore};
use satchel_connect::koa_generic::{KoaGenericIds, KoaGenericRedisOptions, KoaGenericRedisStore};
use satchel_connect::{ConnectRedisOptions, ConnectRedisStore, ExpressIds};
use serde_json::json;

/// `POST /login?user=NAME`: a new id bound to `NAME` (Express: `regenerate`, then
/// `req.session.user = NAME`).
async fn login(
    session: Session,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, Error> {
    let Some(user) = q.get("user").filter(|u| !u.is_empty()) else {
        return Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "user query parameter required"})),
        )
            .into_response());
    };
    session.login(user.clone())?;
    Ok(Json(json!({ "user": user })).into_response())
}

/// `POST /incr`: `n += 1` (from 0), as the Express route does.
async fn incr(session: Session) -> Result<Json<serde_json::Value>, Error> {
    let n: i64 = session.get("n").await?.unwrap_or(0);
    session.insert("n", &(n + 1))?;
    Ok(Json(json!({ "n": n + 1 })))
}

/// `GET /whoami`: `{user, n}` for a logged-in session, else 401.
async fn whoami(session: Session) -> Result<Response, Error> {
    let Some(user) = session.owner().await? else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "not logged in"})),
        )
            .into_response());
    };
    let n: i64 = session.get("n").await?.unwrap_or(0);
    Ok(Json(json!({ "user": user, "n": n })).into_response())
}

/// `POST /logout`: ends the session server-side and clears the cookie.
async fn logout(session: Session) -> Json<serde_json::Value> {
    session.logout();
    Json(json!({ "ok": true }))
}

/// Serves the app on `127.0.0.1:<free port>`, sharing the Express app's secrets, Redis
/// and key prefix; returns the port. The server lives as long as the test's runtime.
pub async fn start(secrets: &[&str], redis_url: &str, prefix: &str) -> u16 {
    let store = ConnectRedisStore::connect(redis_url, ConnectRedisOptions::with_prefix(prefix))
        .await
        .expect("connect to Redis");
    let config = SessionConfig::builder()
        .cookie_name("connect.sid")
        .dangerous_insecure_cookies() // plain HTTP on loopback, as the Express app serves
        .build()
        .expect("config");
    let ids = ExpressIds::new(secrets.iter().map(|s| (*s).to_owned()).collect()).expect("secrets");
    serve(Engine::with_id_format(store, config, ids)).await
}

/// Serves the app with koa-session cookies (`koa.sess` + `koa.sess.sig`) signed with
/// `keys`; returns the port.
pub async fn start_koa(keys: &[&str]) -> u16 {
    let config = SessionConfig::builder()
        .cookie_name("koa.sess")
        .dangerous_insecure_cookies()
        .build()
        .expect("config");
    let sealer = KoaCookies::new(Keygrip::new(keys.iter().copied()).expect("keys"));
    serve(Engine::stateless(Stateless::new(sealer), config)).await
}

/// Serves the app with koa-session external-store cookies (`koa.sess` = a UUID signed in
/// `koa.sess.sig` with `keys`) over koa-redis's records at `redis_url`; returns the port.
pub async fn start_koa_redis(keys: &[&str], redis_url: &str) -> u16 {
    let store = KoaRedisStore::connect(redis_url, KoaRedisOptions::default())
        .await
        .expect("connect to Redis");
    let config = SessionConfig::builder()
        .cookie_name("koa.sess")
        .dangerous_insecure_cookies()
        .build()
        .expect("config");
    let ids = KoaIds::new(Keygrip::new(keys.iter().copied()).expect("keys"));
    serve(Engine::with_id_format(store, config, ids)).await
}

/// Serves the app with koa-generic-session cookies (`koa.sid` = the sid, signed in
/// `koa.sid.sig` with `keys`) over koa-redis's records under `prefix`, idle timeout one
/// hour (the Koa app's `cookie.maxAge`); returns the port.
pub async fn start_koa_generic(keys: &[&str], redis_url: &str, prefix: &str) -> u16 {
    let store =
        KoaGenericRedisStore::connect(redis_url, KoaGenericRedisOptions::with_prefix(prefix))
            .await
            .expect("connect to Redis");
    let config = SessionConfig::builder()
        .cookie_name("koa.sid")
        .idle_timeout(std::time::Duration::from_secs(3600))
        .dangerous_insecure_cookies()
        .build()
        .expect("config");
    let ids = KoaGenericIds::new(Keygrip::new(keys.iter().copied()).expect("keys"));
    serve(Engine::with_id_format(store, config, ids)).await
}

/// The Express cookie-session app's `maxAge` (`cookie-session-app.mjs`'s default).
pub const COOKIE_SESSION_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Serves the app with cookie-session cookies (`session` + `session.sig`) signed with
/// `keys`, each opened cookie valid for [`COOKIE_SESSION_MAX_AGE`]; returns the port.
pub async fn start_cookie_session(keys: &[&str]) -> u16 {
    let config = SessionConfig::builder()
        .cookie_name("session")
        .idle_timeout(COOKIE_SESSION_MAX_AGE)
        .dangerous_insecure_cookies()
        .build()
        .expect("config");
    let keys = Keygrip::new(keys.iter().copied()).expect("keys");
    let sealer = CookieSessionCookies::new(keys, COOKIE_SESSION_MAX_AGE);
    serve(Engine::stateless(Stateless::new(sealer), config)).await
}

async fn serve(engine: Engine) -> u16 {
    let app = Router::new()
        .route("/login", post(login))
        .route("/incr", post(incr))
        .route("/whoami", get(whoami))
        .route("/logout", post(logout))
        .layer(SessionLayer::from_engine(engine));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}
