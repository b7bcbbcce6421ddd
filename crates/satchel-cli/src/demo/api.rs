//! The demo's routes: the home page, its form posts, and the JSON API (the devices page
//! is in `devices.rs`), with what their handlers share: errors, flashes, form tokens.

use std::time::Duration;

use axum::extract::{Extension, Form};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel::{
    Expiry, Flash, SessionError, SessionErrorKind, StoreErrorKind, Timestamp, FLASH_KEY,
};
use satchel_axum::Session;
use serde::Deserialize;
use serde_json::json;

use super::device::{self, Client};
use super::directory::Directory;
use super::{devices, page};

pub(super) fn router(directory: Directory) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/devices", get(devices::page))
        .route("/devices/revoke", post(devices::revoke))
        .route("/devices/revoke-others", post(devices::revoke_others))
        .route("/login", post(form_login))
        .route("/logout", post(form_logout))
        .route("/counter", post(form_counter))
        .route("/api/whoami", get(whoami))
        .route("/api/counter", post(counter))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/sessions", get(sessions))
        .route("/api/sessions/revoke-others", post(revoke_others))
        .layer(Extension(directory))
}

pub(super) type Result<T> = std::result::Result<T, Error>;

/// Handler errors: session failures keep their status; bad input is a 400; a form whose
/// CSRF token is not the session's is a 403.
pub(super) enum Error {
    Session(SessionError),
    BadRequest(&'static str),
    StaleForm,
}

impl From<SessionError> for Error {
    fn from(err: SessionError) -> Self {
        Error::Session(err)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Session(err) if err.store_kind() == Some(StoreErrorKind::Unsupported) => (
                StatusCode::NOT_IMPLEMENTED,
                Json(json!({"error": "this store cannot list sessions (cookie: sessions live only in browsers' sealed cookies; nothing server-side can enumerate them)"})),
            )
                .into_response(),
            Error::Session(err) => satchel_axum::Error(err).into_response(),
            Error::BadRequest(why) => {
                (StatusCode::BAD_REQUEST, Json(json!({"error": why}))).into_response()
            }
            Error::StaleForm => (
                StatusCode::FORBIDDEN,
                "This form has expired or was not sent by this site: reload the page and try again.",
            )
                .into_response(),
        }
    }
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    /// The "remember me" box: present (any value) when ticked.
    #[serde(default)]
    remember: Option<String>,
    /// The page's CSRF token (absent from the API and from pages rendered without a
    /// session).
    #[serde(default)]
    csrf: Option<String>,
}

/// The fields of the forms that carry nothing but their CSRF token.
#[derive(Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    pub(super) csrf: Option<String>,
}

/// How many flash messages the demo keeps for the next page view: a client that logs in
/// over and over without ever viewing the page must not grow its session without bound
/// (past the 64 KiB data limit every request would fail).
const MAX_FLASHES: usize = 5;

/// Adds a flash message, keeping only the latest [`MAX_FLASHES`]; unless the flash list
/// holds something else (a shared session's other app may use the key): then the message
/// is dropped and the list left to its owner.
pub(super) async fn flash(session: &Session, level: &str, message: &str) -> Result<()> {
    let mut list: Vec<Flash> = match session.get(FLASH_KEY).await {
        Ok(list) => list.unwrap_or_default(),
        Err(err) if err.kind() == SessionErrorKind::Deserialize => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    list.push(Flash {
        level: level.to_owned(),
        message: message.to_owned(),
    });
    let excess = list.len().saturating_sub(MAX_FLASHES);
    list.drain(..excess);
    session.insert(FLASH_KEY, &list)?;
    Ok(())
}

/// What a form's CSRF token says about the session the form was rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FormCheck {
    /// The token is the session's (or neither has one): go ahead.
    Valid,
    /// The form carries a token but the request has no session any more: it was signed
    /// out meanwhile (revoked from another device, logged out in another tab, expired).
    /// Nothing is left to protect and nothing is done; the visitor is told.
    Ended,
}

/// The form's CSRF token must be the session's. A form rendered when the visitor had no
/// session carries none, and is accepted while the session still has none: the session
/// layer's `Origin` / `Sec-Fetch-Site` check is what stops a cross-site post then. A
/// token for a session that no longer exists is [`FormCheck::Ended`]; any other mismatch
/// is a 403.
pub(super) async fn check_form_token(
    session: &Session,
    submitted: Option<&str>,
) -> Result<FormCheck> {
    if let Some(token) = submitted {
        if session.verify_csrf_token(token).await? {
            return Ok(FormCheck::Valid);
        }
    }
    let issued = session.csrf_token_issued().await?;
    match (submitted, issued) {
        (None, false) => Ok(FormCheck::Valid),
        (Some(_), false) if session.owner().await?.is_none() => Ok(FormCheck::Ended),
        _ => Err(Error::StaleForm),
    }
}

/// The answer to a form of a session that has ended: a flash saying so, back home.
pub(super) async fn session_ended(session: &Session) -> Result<Redirect> {
    flash(
        session,
        "warning",
        "You were signed out on this device (from another device, by logging out \
         elsewhere, or because the session expired). Nothing was done; log in again.",
    )
    .await?;
    Ok(Redirect::to("/"))
}

/// Demo user names: 1–64 letters, digits, `-`, `_` or `.` (no password: it is a demo).
fn valid_user(user: &str) -> bool {
    (1..=64).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A session value the demo reads: absent when missing, and absent too (with a warning
/// flash) when it holds another type. A session shared with a Node app may hold anything
/// under any key (`"n": "x"`, `1e308`); that is the other app's data, not a server error.
async fn read_or_absent<T: serde::de::DeserializeOwned>(
    session: &Session,
    key: &str,
) -> Result<Option<T>> {
    match session.get(key).await {
        Ok(value) => Ok(value),
        Err(err) if err.kind() == SessionErrorKind::Deserialize => {
            tracing::info!(
                key,
                "session value of an unexpected type; treated as absent"
            );
            let warning = format!(
                "The stored value of {key:?} was not what this demo expects; it was ignored."
            );
            flash(session, "warning", &warning).await?;
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// The counter: 0 when absent or not a whole number.
async fn read_counter(session: &Session) -> Result<i64> {
    Ok(read_or_absent(session, "n").await?.unwrap_or(0))
}

/// The pending flashes; none (and the list left alone) when the flash key holds another
/// type.
pub(super) async fn take_flashes(session: &Session) -> Result<Vec<satchel::Flash>> {
    match session.take_flashes().await {
        Err(err) if err.kind() == SessionErrorKind::Deserialize => {
            tracing::info!("flash list of an unexpected type; ignored");
            Ok(Vec::new())
        }
        other => Ok(other?),
    }
}

async fn index(session: Session) -> Result<Html<String>> {
    let now = Timestamp::now();
    let user = session.owner().await?;
    if user.is_some() {
        device::note_visit(&session, now).await?;
    }
    let n = read_counter(&session).await?;
    let flashes = take_flashes(&session).await?;
    // Only for a visitor who has a session: viewing the page creates none.
    let token = session.csrf_token_if_session().await?;
    let meta = session.meta().await?;
    Ok(Html(page::render(&page::Home {
        user: user.as_deref(),
        n,
        flashes: &flashes,
        csrf: token.as_deref(),
        meta: meta.as_ref(),
        now,
    })))
}

/// How long a "remember me" login lasts unused, and at most.
const REMEMBER_IDLE: Duration = Duration::from_secs(7 * 24 * 3600);
const REMEMBER_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// Logs `user` in on this device: a new id bound to the user, the device noted in the
/// session, and a persistent cookie if `remember` (a browser-session one otherwise, also
/// when this browser was remembered before).
fn log_in(session: &Session, client: &Client, user: &str, remember: bool) -> Result<()> {
    session.login(user)?;
    session.set_expiry(if remember {
        Expiry::Persistent {
            idle: REMEMBER_IDLE,
            absolute: REMEMBER_FOR,
        }
    } else {
        Expiry::BrowserSession
    })?;
    device::record_login(session, client, Timestamp::now())?;
    Ok(())
}

async fn form_login(
    session: Session,
    client: Client,
    Form(form): Form<LoginForm>,
) -> Result<Redirect> {
    // A form of a session that ended meanwhile logs in like one rendered without a
    // session: there is nothing of a session to protect.
    check_form_token(&session, form.csrf.as_deref()).await?;
    let user = form.user.trim();
    if !valid_user(user) {
        flash(
            &session,
            "error",
            "User names are 1-64 letters, digits, '-', '_' or '.'",
        )
        .await?;
        return Ok(Redirect::to("/"));
    }
    let remember = form.remember.is_some();
    log_in(&session, &client, user, remember)?;
    let welcome = if remember {
        format!(
            "Welcome, {user}! This device remembers you for {} (or {} unused).",
            super::html::span(REMEMBER_FOR),
            super::html::span(REMEMBER_IDLE)
        )
    } else {
        format!("Welcome, {user}! You stay signed in until you close the browser.")
    };
    flash(&session, "info", &welcome).await?;
    Ok(Redirect::to("/"))
}

async fn form_logout(session: Session, Form(form): Form<TokenForm>) -> Result<Redirect> {
    if check_form_token(&session, form.csrf.as_deref()).await? == FormCheck::Ended {
        return session_ended(&session).await;
    }
    session.logout();
    flash(&session, "info", "You have been logged out.").await?;
    Ok(Redirect::to("/"))
}

async fn form_counter(session: Session, Form(form): Form<TokenForm>) -> Result<Redirect> {
    if check_form_token(&session, form.csrf.as_deref()).await? == FormCheck::Ended {
        return session_ended(&session).await;
    }
    let n = increment(&session).await?;
    flash(&session, "info", &format!("Counted: {n}.")).await?;
    Ok(Redirect::to("/"))
}

async fn whoami(session: Session) -> Result<Json<serde_json::Value>> {
    let user = session.owner().await?;
    let n = read_counter(&session).await?;
    Ok(Json(json!({"user": user, "n": n})))
}

/// How often an increment re-reads and retries when a concurrent request changed `n`.
const INCREMENT_ATTEMPTS: usize = 3;

/// Read-increment-write with an explicit save, so a conflict is retried here instead of
/// surfacing as a 409; after the last attempt the conflict is the answer.
async fn increment(session: &Session) -> Result<i64> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let n = read_counter(session).await?.saturating_add(1);
        session.insert("n", &n)?;
        match session.save().await {
            Ok(()) => return Ok(n),
            Err(err)
                if err.kind() == SessionErrorKind::Conflict && attempt < INCREMENT_ATTEMPTS =>
            {
                continue
            }
            Err(err) => return Err(err.into()),
        }
    }
}

async fn counter(session: Session) -> Result<Json<serde_json::Value>> {
    let n = increment(&session).await?;
    Ok(Json(json!({"n": n})))
}

async fn login(
    session: Session,
    client: Client,
    Form(form): Form<LoginForm>,
) -> Result<Json<serde_json::Value>> {
    let user = form.user.trim();
    if !valid_user(user) {
        return Err(Error::BadRequest(
            "user must be 1-64 letters, digits, '-', '_' or '.'",
        ));
    }
    log_in(&session, &client, user, form.remember.is_some())?;
    Ok(Json(json!({"user": user})))
}

async fn logout(session: Session) -> Json<serde_json::Value> {
    session.logout();
    Json(json!({"user": null}))
}

async fn sessions(session: Session) -> Result<Response> {
    if session.owner().await?.is_none() {
        return Ok((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "log in first"})),
        )
            .into_response());
    }
    // Deadlines only, never ids or store keys: nothing here can be replayed.
    let list: Vec<_> = session
        .owner_sessions()
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "created_at_ms": s.created_at.as_millis(),
                "idle_expires_at_ms": s.idle_deadline.as_millis(),
                "absolute_expires_at_ms": s.absolute_deadline.as_millis(),
                "current": s.current,
            })
        })
        .collect();
    Ok(Json(json!({"sessions": list})).into_response())
}

/// "Log out everywhere else" is sensitive (SEC-20): it needs a login at most this old.
const REVOKE_NEEDS_LOGIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Whether the session's login is complete and at most [`REVOKE_NEEDS_LOGIN_WITHIN`] old
/// (the form route's check; the JSON route below answers the typed refusal itself).
pub(super) async fn login_is_recent(session: &Session) -> Result<bool> {
    use satchel::auth::{AuthError, Authenticated};
    match Authenticated::from_session(session).await {
        Ok(auth) => Ok(auth.requires_recent_auth(REVOKE_NEEDS_LOGIN_WITHIN).is_ok()),
        Err(AuthError::Session(err)) => Err(err.into()),
        Err(AuthError::Rejected(_)) => Ok(false),
    }
}

async fn revoke_others(session: Session) -> Result<Response> {
    use satchel::auth::{AuthError, Authenticated};
    let auth = match Authenticated::from_session(&session).await {
        Ok(auth) => auth,
        Err(AuthError::Session(err)) => return Err(err.into()),
        Err(AuthError::Rejected(_)) => {
            return Ok((
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "log in first"})),
            )
                .into_response())
        }
    };
    if let Err(refused) = auth.requires_recent_auth(REVOKE_NEEDS_LOGIN_WITHIN) {
        // The demo has no passwords: logging in again is its "confirm your password".
        let status = StatusCode::from_u16(refused.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        return Ok((
            status,
            Json(json!({"error": "confirm who you are: log in again", "reauthenticate": true})),
        )
            .into_response());
    }
    let revoked = devices::log_out_everywhere_else(&session).await?;
    Ok(Json(json!({"revoked": revoked})).into_response())
}
