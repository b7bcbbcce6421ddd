//! Moving users from a Node session format to satchel's own, one request at a time,
//! without logging them out.
//!
//! Run two engines for a while: the **legacy** one reads the Node cookie and records (for
//! Express: [`ExpressIds`](crate::ExpressIds) over
//! [`ConnectRedisStore`](crate::ConnectRedisStore), cookie `connect.sid`), the **native**
//! one is an ordinary satchel engine (its own cookie name, any store, hashed keys). On
//! each request, begin both, call [`adopt`], and finish both:
//!
//! ```no_run
//! # async fn handler(legacy: satchel::Engine, native: satchel::Engine, cookies: &[&[u8]]) -> Result<(), satchel::SessionError> {
//! let old = legacy.begin(cookies.iter().copied());
//! let new = native.begin(cookies.iter().copied());
//! satchel_connect::migrate::adopt(&old, &new, &["cart", "n"]).await?;
//! // … the handler uses `new` only …
//! let old_done = legacy.finish(&old, 200).await; // deletes the Node record, clears connect.sid
//! let new_done = native.finish(&new, 200).await; // stores the native session, sets its cookie
//! // send every Set-Cookie of both
//! # let _ = (old_done, new_done); Ok(()) }
//! ```
//!
//! The first request of a logged-in Node user moves the listed keys and the login into a
//! fresh native session (a new id, as every login gets) and ends the Node session; every
//! later request finds a native owner and does nothing (no store call for the legacy
//! engine at all: it has no cookie left). Users who were not logged in keep whatever they
//! had in the Node session until it expires; nothing is adopted for them.
//!
//! Adopting ends the Node session for the Node app too, so migrate once the Node routes
//! are gone (while both apps still serve users, share sessions live instead).

use satchel::{Session, SessionError};

/// Moves a logged-in user from `legacy` to `native` within one request: when `native`
/// has no owner and `legacy` has one, copies the `keys` that `legacy` holds into `native`,
/// logs `native` in as that owner (rotating its id) and logs `legacy` out (its record is
/// deleted and its cookie cleared when the legacy engine finishes). Returns whether it
/// did.
///
/// `keys` names what to carry over: a satchel `Session` cannot list its keys, and naming
/// them keeps Node-only leftovers behind. The owner needs no entry (with
/// [`ConnectRedisOptions::owner_key`](crate::ConnectRedisOptions::owner_key) it is the
/// login itself).
///
/// # Errors
/// A failed load of either session (the request should fail, as any store error does);
/// nothing is changed then.
pub async fn adopt(
    legacy: &Session,
    native: &Session,
    keys: &[&str],
) -> Result<bool, SessionError> {
    if native.owner().await?.is_some() {
        return Ok(false);
    }
    let Some(owner) = legacy.owner().await? else {
        return Ok(false);
    };
    let mut carried = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(value) = legacy.get_value(key).await? {
            carried.push((*key, value));
        }
    }
    for (key, value) in carried {
        native.insert_value(key, value)?;
    }
    native.login(owner)?;
    legacy.logout();
    Ok(true)
}
