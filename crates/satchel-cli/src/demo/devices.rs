//! The "your devices" routes: the page, signing out one device, and "log out everywhere
//! else". Plain forms with the session's CSRF token, answered with 303 to the page.

use axum::extract::{Extension, Form};
use axum::response::{Html, Redirect};
use satchel::{StoreErrorKind, Timestamp};
use satchel_axum::Session;
use serde::Deserialize;

use super::api::{
    check_form_token, flash, session_ended, take_flashes, FormCheck, Result, TokenForm,
};
use super::device;
use super::devices_page::{self, DevicesPage, Listing};
use super::directory::{Directory, NO_INDEX};

/// "Log out everywhere else", for the form and the JSON API alike: every other session of
/// this session's owner ends, this one stays. How many ended (0 for sealed cookies, which
/// cannot be counted).
///
/// The one place a step-up check belongs (e.g. "signed in within the last 10 minutes"
/// before ending other sessions): both routes come through here.
pub(super) async fn log_out_everywhere_else(session: &Session) -> Result<u64> {
    Ok(session.revoke_other_sessions().await?)
}

/// `GET /devices`.
pub(super) async fn page(
    session: Session,
    Extension(directory): Extension<Directory>,
) -> Result<Html<String>> {
    let now = Timestamp::now();
    let Some(user) = session.owner().await? else {
        // Viewing it creates no session; a pending flash ("you were signed out") shows.
        let flashes = take_flashes(&session).await?;
        return Ok(Html(devices_page::render_logged_out(&flashes)));
    };
    let this_device = device::note_visit(&session, now).await?;
    let flashes = take_flashes(&session).await?;
    let token = session.csrf_token_if_session().await?;
    let meta = session.meta().await?;
    let listed;
    let listing = match &directory {
        Directory::Unlisted(why) => Listing::Unlisted(why),
        Directory::Indexed(index) => match index.devices(&user).await {
            Ok(devices) => {
                listed = devices;
                Listing::Devices(&listed)
            }
            Err(err) if err.kind() == StoreErrorKind::Unsupported => Listing::Unlisted(NO_INDEX),
            Err(err) => return Err(satchel::SessionError::from(err).into()),
        },
    };
    Ok(Html(devices_page::render(&DevicesPage {
        user: &user,
        flashes: &flashes,
        csrf: token.as_deref(),
        this_device: this_device.as_ref(),
        this_meta: meta.as_ref(),
        listing,
        now,
    })))
}

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    #[serde(default)]
    csrf: Option<String>,
    /// The device's handle, as the page printed it.
    #[serde(default)]
    device: String,
}

/// `POST /devices/revoke`: signs out one other device of this user.
pub(super) async fn revoke(
    session: Session,
    Extension(directory): Extension<Directory>,
    Form(form): Form<RevokeForm>,
) -> Result<Redirect> {
    if check_form_token(&session, form.csrf.as_deref()).await? == FormCheck::Ended {
        return session_ended(&session).await;
    }
    let Some(user) = session.owner().await? else {
        flash(&session, "error", "Log in first.").await?;
        return Ok(Redirect::to("/"));
    };
    let this = device::current(&session).await?;
    if this.is_some_and(|d| d.handle == form.device) {
        flash(
            &session,
            "warning",
            "That is this device: use \"Log out\" to sign it out.",
        )
        .await?;
        return Ok(Redirect::to("/devices"));
    }
    let index = match &directory {
        Directory::Indexed(index) => index,
        Directory::Unlisted(why) => {
            flash(&session, "error", why).await?;
            return Ok(Redirect::to("/devices"));
        }
    };
    match index.revoke(&user, &form.device).await {
        Ok(Some(gone)) => {
            let message = format!("Signed out {} ({}).", gone.label(), gone.ip);
            flash(&session, "info", &message).await?;
        }
        Ok(None) => {
            flash(&session, "warning", "That device was already signed out.").await?;
        }
        Err(err) if err.kind() == StoreErrorKind::Unsupported => {
            flash(&session, "error", NO_INDEX).await?;
        }
        Err(err) => return Err(satchel::SessionError::from(err).into()),
    }
    Ok(Redirect::to("/devices"))
}

/// `POST /devices/revoke-others`: "log out everywhere else".
pub(super) async fn revoke_others(
    session: Session,
    Extension(directory): Extension<Directory>,
    Form(form): Form<TokenForm>,
) -> Result<Redirect> {
    if check_form_token(&session, form.csrf.as_deref()).await? == FormCheck::Ended {
        return session_ended(&session).await;
    }
    if session.owner().await?.is_none() {
        flash(&session, "error", "Log in first.").await?;
        return Ok(Redirect::to("/"));
    }
    if !super::api::login_is_recent(&session).await? {
        // The demo has no passwords: logging in again is its "confirm your password".
        flash(
            &session,
            "error",
            "Signing out your other devices needs a recent login: log in again first.",
        )
        .await?;
        return Ok(Redirect::to("/"));
    }
    match log_out_everywhere_else(&session).await {
        Ok(n) => {
            let message = match (&directory, n) {
                (Directory::Unlisted(_), _) => {
                    "Signed out everywhere else: every older cookie of yours is refused now."
                        .to_owned()
                }
                (Directory::Indexed(_), 0) => "There were no other devices to sign out.".to_owned(),
                (Directory::Indexed(_), 1) => "Signed out 1 other device.".to_owned(),
                (Directory::Indexed(_), n) => format!("Signed out {n} other devices."),
            };
            flash(&session, "info", &message).await?;
        }
        Err(super::api::Error::Session(err))
            if err.store_kind() == Some(StoreErrorKind::Unsupported) =>
        {
            flash(&session, "error", NO_INDEX).await?;
        }
        Err(err) => return Err(err),
    }
    Ok(Redirect::to("/devices"))
}
