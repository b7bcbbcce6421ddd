//! The `Engine::begin` / `Session` / `Engine::finish` cycle, framework-free: round trips
//! (laziness), anonymous visitors, rotation, logout, flash messages, owner sessions and
//! the data size limit.

mod common;

use std::time::Duration;

use common::{attr, cookie_value, j, scope_attrs, unknown_id, Browser, Counts, Env};
use satchel::{Flash, SameSite, SessionConfig, SessionErrorKind, SessionId, ENCODED_ID_LEN};

fn counts(
    load: usize,
    create: usize,
    apply: usize,
    rotate: usize,
    delete: usize,
    touch: usize,
) -> Counts {
    Counts {
        load,
        create,
        apply,
        rotate,
        delete,
        touch,
    }
}

// ---------------------------------------------------------------------------------------
// Laziness and round trips (DESIGN "What fast means"; SEC-33)
// ---------------------------------------------------------------------------------------

/// A handler that never touches the session costs nothing, even with a valid cookie.
#[tokio::test]
async fn untouched_session_makes_no_store_call_and_sets_no_cookie() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    let before = browser.cookie().map(str::to_owned);

    let session = browser.begin(&env.engine);
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(env.counts(), Counts::default());
    assert_eq!(done.set_cookie, None);
    assert!(!done.no_store && !done.vary_cookie);
    assert!(done.error.is_none());
    assert_eq!(browser.cookie().map(str::to_owned), before);
}

/// A read-only request is exactly one `load` and no write before the touch threshold.
#[tokio::test]
async fn read_only_request_is_one_load_and_no_write_before_touch_threshold() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(7)), ("name", j("ann"))]).await;
    // Default threshold: 10 % of the 30-minute idle timeout = 3 minutes.
    env.clock.advance(Duration::from_secs(2 * 60));

    let session = browser.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), Some(7));
    assert_eq!(
        session.get::<String>("name").await.expect("get").as_deref(),
        Some("ann")
    );
    assert_eq!(session.get::<i64>("missing").await.expect("get"), None);
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(env.counts(), counts(1, 0, 0, 0, 0, 0));
    assert_eq!(done.set_cookie, None);
    assert!(
        done.vary_cookie,
        "a response that read the session depends on the cookie"
    );
    assert!(done.error.is_none());
}

/// Past the touch threshold a read-only request adds exactly one `touch` (no patch, no
/// cookie for a browser-session cookie).
#[tokio::test]
async fn read_only_request_touches_once_past_threshold() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(7))]).await;
    env.clock.advance(Duration::from_secs(3 * 60));

    let session = browser.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), Some(7));
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(env.counts(), counts(1, 0, 0, 0, 0, 1));
    assert_eq!(done.set_cookie, None);
    assert!(done.error.is_none());
}

/// Reading then writing is one `load` and one `apply`; the cookie does not change.
#[tokio::test]
async fn read_then_write_is_one_load_and_one_apply() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1)), ("keep", j(true))]).await;
    let id = browser.id().map(str::to_owned);

    let session = browser.begin(&env.engine);
    let n: i64 = session.get("n").await.expect("get").expect("n is set");
    session.insert("n", &(n + 1)).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(env.counts(), counts(1, 0, 1, 0, 0, 0));
    assert_eq!(
        done.set_cookie, None,
        "same id, browser-session cookie: nothing to set"
    );
    assert!(done.error.is_none());
    assert_eq!(browser.id().map(str::to_owned), id);
    let record = env
        .record(id.as_deref().expect("id"))
        .await
        .expect("record");
    assert_eq!(record.data["n"].get(), "2");
    assert_eq!(record.data["keep"].get(), "true");
}

/// A blind write (insert without any read) on an existing session is one `apply` and no
/// `load`, and merges with the stored keys.
#[tokio::test]
async fn blind_write_on_existing_session_is_one_apply_and_no_load() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("a", j(1))]).await;

    let session = browser.begin(&env.engine);
    session.insert("b", &2).expect("insert");
    session.remove("zzz").expect("remove");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(env.counts(), counts(0, 0, 1, 0, 0, 0));
    assert_eq!(done.set_cookie, None);
    assert!(done.error.is_none());
    let record = env.record(browser.id().expect("id")).await.expect("record");
    assert_eq!(
        record.data.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a", "b"]
    );
}

/// A new visitor who writes gets exactly one `create` and a cookie with a canonical id and
/// the secure default attributes (SEC-1, SEC-7, SEC-8, SEC-38).
#[tokio::test]
async fn first_write_creates_one_session_with_secure_cookie() {
    let env = Env::new();
    let mut browser = Browser::new();

    let session = browser.begin(&env.engine);
    session.insert("cart", &vec![1, 2, 3]).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(env.counts(), counts(0, 1, 0, 0, 0, 0));
    let set = done
        .set_cookie
        .as_deref()
        .expect("Set-Cookie for a new session");
    assert!(set.starts_with("id="), "{set}");
    let id = cookie_value(set);
    assert_eq!(id.len(), ENCODED_ID_LEN);
    assert!(SessionId::parse(id).is_some(), "canonical id");
    for a in ["HttpOnly", "Secure"] {
        assert_eq!(attr(set, a), Some(""), "{set} lacks {a}");
    }
    assert_eq!(attr(set, "SameSite"), Some("Lax"));
    assert_eq!(attr(set, "Path"), Some("/"));
    assert_eq!(attr(set, "Domain"), None);
    assert_eq!(attr(set, "Max-Age"), None);
    assert!(done.no_store && done.vary_cookie);
    assert!(env.has_record(id).await);
    assert_eq!(env.memory.len(), 1);
}

/// An anonymous visitor who reads nothing, or only reads, is never stored and gets no
/// cookie (SEC-33).
#[tokio::test]
async fn anonymous_visitor_reading_nothing_or_only_reading_creates_nothing() {
    let env = Env::new();

    let browser = Browser::new();
    let session = browser.begin(&env.engine);
    let done = env.engine.finish(&session, 200).await;
    assert_eq!(done.set_cookie, None);
    assert!(!done.vary_cookie);

    let session = browser.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), None);
    assert_eq!(session.owner().await.expect("owner"), None);
    assert_eq!(
        session.take_flashes().await.expect("flashes"),
        Vec::<Flash>::new()
    );
    let done = env.engine.finish(&session, 200).await;
    assert_eq!(done.set_cookie, None);
    assert!(done.error.is_none());

    // Removing or clearing on nothing is still nothing.
    let session = browser.begin(&env.engine);
    session.remove("n").expect("remove");
    session.clear().expect("clear");
    let done = env.engine.finish(&session, 200).await;
    assert_eq!(done.set_cookie, None);

    assert_eq!(env.counts(), Counts::default());
    assert_eq!(env.memory.len(), 0);
}

/// SEC-33 (CVE-2015-5143/5963/5964): 1000 requests with random well-formed unknown cookies
/// and 1000 anonymous logouts leave the store empty.
#[tokio::test]
async fn unknown_cookies_and_anonymous_logouts_never_grow_the_store() {
    let env = Env::new();
    for i in 0..1000 {
        let browser = Browser::with_cookie(format!("id={}", unknown_id()));
        let session = browser.begin(&env.engine);
        assert_eq!(session.get::<i64>("n").await.expect("get"), None);
        if i % 2 == 0 {
            session.remove("n").expect("remove");
        }
        let done = env.engine.finish(&session, 200).await;
        assert!(done.error.is_none());
        if let Some(set) = &done.set_cookie {
            assert_eq!(
                cookie_value(set),
                "",
                "only a removal cookie may be sent: {set}"
            );
        }
    }
    for i in 0..1000 {
        // Half without any cookie, half with an unknown one.
        let browser = if i % 2 == 0 {
            Browser::new()
        } else {
            Browser::with_cookie(format!("id={}", unknown_id()))
        };
        let session = browser.begin(&env.engine);
        session.logout();
        let done = env.engine.finish(&session, 200).await;
        assert!(done.error.is_none());
    }
    assert_eq!(env.memory.len(), 0);
    let c = env.counts();
    assert_eq!(
        (c.create, c.apply, c.rotate, c.touch),
        (0, 0, 0, 0),
        "{c:?}"
    );
    assert_eq!(c.load, 1000);
}

// ---------------------------------------------------------------------------------------
// Rotation (SEC-5)
// ---------------------------------------------------------------------------------------

/// SEC-5 / ASVS 3.2.1: login rotates the id, kills the old one, keeps the data, binds the
/// owner, and sets a non-cacheable cookie.
#[tokio::test]
async fn login_rotates_id_keeps_data_binds_owner() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("cart", j([1, 2]))]).await;
    let old = browser.id().expect("pre-login id").to_owned();
    let attacker = browser.clone(); // someone who fixed or captured the pre-login id

    let session = browser.begin(&env.engine);
    assert_eq!(
        session.get::<Vec<i32>>("cart").await.expect("get"),
        Some(vec![1, 2])
    );
    session.login("alice").expect("login");
    assert_eq!(
        session.owner().await.expect("owner").as_deref(),
        Some("alice")
    );
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none(), "{:?}", done.error);
    assert_eq!(env.counts(), counts(1, 0, 0, 1, 0, 0));
    let set = done
        .set_cookie
        .as_deref()
        .expect("login sets the new cookie");
    let new = cookie_value(set);
    assert_eq!(new.len(), ENCODED_ID_LEN);
    assert_ne!(new, old);
    assert!(
        done.no_store,
        "Cache-Control: no-store on a Set-Cookie response"
    );
    assert!(done.vary_cookie);
    assert!(
        !env.has_record(&old).await,
        "the store keeps nothing under the old id"
    );
    assert_eq!(env.memory.len(), 1);

    // The old cookie is now unauthenticated and empty.
    let session = attacker.begin(&env.engine);
    assert_eq!(session.owner().await.expect("owner"), None);
    assert_eq!(session.get::<Vec<i32>>("cart").await.expect("get"), None);
    env.engine.finish(&session, 200).await;

    // The new cookie carries the data and the owner.
    let session = browser.begin(&env.engine);
    assert_eq!(
        session.owner().await.expect("owner").as_deref(),
        Some("alice")
    );
    assert_eq!(
        session.get::<Vec<i32>>("cart").await.expect("get"),
        Some(vec![1, 2])
    );
    env.engine.finish(&session, 200).await;
}

/// SEC-5: a login that never read the session still rotates: one `rotate`, after one
/// `load` that tells the default `LoginData` policy who was logged in before (with
/// `LoginData::Keep` the load is skipped, see `engine_login_data.rs`).
#[tokio::test]
async fn blind_login_rotates() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("theme", j("dark"))]).await;
    let old = browser.id().expect("id").to_owned();

    let session = browser.begin(&env.engine);
    session.login("bob").expect("login");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none());
    assert_eq!(env.counts(), counts(1, 0, 0, 1, 0, 0));
    let new = browser.id().expect("new id").to_owned();
    assert_ne!(new, old);
    assert!(!env.has_record(&old).await);
    let record = env.record(&new).await.expect("record under the new id");
    assert_eq!(record.meta.owner.as_deref(), Some("bob"));
    assert_eq!(record.data["theme"].get(), "\"dark\"");
}

/// ASVS 5 7.2.4: re-authentication inside a live session rotates again.
#[tokio::test]
async fn relogin_rotates_again() {
    let env = Env::new();
    let mut browser = env.logged_in("alice", &[("k", j(1))]).await;
    let first = browser.id().expect("id").to_owned();

    let session = browser.begin(&env.engine);
    assert_eq!(
        session.owner().await.expect("owner").as_deref(),
        Some("alice")
    );
    session.login("alice").expect("login");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none());
    let second = browser.id().expect("id").to_owned();
    assert_ne!(first, second);
    assert!(!env.has_record(&first).await);
    assert!(env.has_record(&second).await);
}

/// SEC-5: `cycle_id` rotates like login but keeps the owner and the data.
#[tokio::test]
async fn cycle_id_rotates_and_keeps_owner() {
    let env = Env::new();
    let mut browser = env.logged_in("alice", &[("role", j("user"))]).await;
    let old = browser.id().expect("id").to_owned();
    let old_browser = browser.clone();

    let session = browser.begin(&env.engine);
    session.insert("role", &"admin").expect("insert");
    session.cycle_id().expect("cycle_id");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none());
    assert_eq!(env.counts(), counts(0, 0, 0, 1, 0, 0));
    assert!(done.no_store && done.vary_cookie);
    let new = browser.id().expect("id").to_owned();
    assert_ne!(new, old);
    assert!(!env.has_record(&old).await);

    let session = browser.begin(&env.engine);
    assert_eq!(
        session.owner().await.expect("owner").as_deref(),
        Some("alice")
    );
    assert_eq!(
        session.get::<String>("role").await.expect("get").as_deref(),
        Some("admin")
    );
    env.engine.finish(&session, 200).await;

    let session = old_browser.begin(&env.engine);
    assert_eq!(session.owner().await.expect("owner"), None);
    assert_eq!(session.get::<String>("role").await.expect("get"), None);
    env.engine.finish(&session, 200).await;
}

/// Logging in as another user rebinds the session: the previous owner no longer lists it.
#[tokio::test]
async fn login_as_another_user_moves_the_owner() {
    let env = Env::new();
    let mut browser = env.logged_in("bob", &[("k", j(1))]).await;
    let old = browser.id().expect("id").to_owned();

    let session = browser.begin(&env.engine);
    session.login("alice").expect("login");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none());
    assert_ne!(browser.id().expect("id"), old);
    assert!(env
        .engine
        .sessions_of("bob")
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        env.engine.sessions_of("alice").await.expect("list").len(),
        1
    );
    let record = env.record(browser.id().expect("id")).await.expect("record");
    assert_eq!(record.meta.owner.as_deref(), Some("alice"));
}

/// A login by a visitor with no session creates one bound to the owner.
#[tokio::test]
async fn login_without_session_creates_owned_session() {
    let env = Env::new();
    let mut browser = Browser::new();
    let session = browser.begin(&env.engine);
    session.login("carol").expect("login");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none());
    assert_eq!(env.counts(), counts(0, 1, 0, 0, 0, 0));
    let id = browser.id().expect("cookie").to_owned();
    let record = env.record(&id).await.expect("record");
    assert_eq!(record.meta.owner.as_deref(), Some("carol"));
    // Only the login's authentication state (SEC-20).
    let keys: Vec<_> = record.data.keys().map(String::as_str).collect();
    assert_eq!(keys, [satchel::auth::AUTH_KEY]);
}

// ---------------------------------------------------------------------------------------
// Logout (SEC-16, SEC-11)
// ---------------------------------------------------------------------------------------

fn scoped_config() -> SessionConfig {
    SessionConfig::builder()
        .cookie_name("sid")
        .path("/app")
        .domain("example.com")
        .same_site(SameSite::Strict)
        .build()
        .expect("valid config")
}

/// SEC-16 / SEC-11: logout deletes the record, the removal cookie mirrors the issued
/// cookie's scope with an empty value and `Max-Age=0`, and the old cookie replays as
/// anonymous.
#[tokio::test]
async fn logout_deletes_record_and_sends_mirrored_removal_cookie() {
    let env = Env::with_config(scoped_config());
    let mut browser = Browser::new();
    let session = browser.begin(&env.engine);
    session.insert("secret", &"s3cr3t").expect("insert");
    session.login("alice").expect("login");
    let issued = browser.finish(&env.engine, &session, 200).await;
    let issued = issued.set_cookie.expect("login cookie");
    assert!(issued.starts_with("sid="), "{issued}");
    let captured = browser.clone();
    let id = browser.id().expect("id").to_owned();
    env.store.reset();

    let session = browser.begin(&env.engine);
    assert_eq!(
        session.owner().await.expect("owner").as_deref(),
        Some("alice")
    );
    session.logout();
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none());
    assert_eq!(env.counts(), counts(1, 0, 0, 0, 1, 0));
    assert!(!env.has_record(&id).await);
    assert_eq!(env.memory.len(), 0);
    let removal = done.set_cookie.expect("removal cookie");
    assert!(removal.starts_with("sid=;"), "empty value: {removal}");
    assert_eq!(attr(&removal, "Max-Age"), Some("0"));
    assert!(
        attr(&removal, "Expires").is_some(),
        "a past Expires too: {removal}"
    );
    assert_eq!(
        scope_attrs(&removal),
        scope_attrs(&issued),
        "{removal} vs {issued}"
    );
    for a in [
        "path=/app",
        "domain=example.com",
        "samesite=Strict",
        "httponly",
        "secure",
    ] {
        assert!(
            scope_attrs(&removal).iter().any(|x| x == a),
            "{removal} lacks {a}"
        );
    }
    assert!(done.no_store && done.vary_cookie);
    assert_eq!(browser.cookie(), None, "the browser dropped the cookie");

    // Replay of the captured cookie (back button, attacker): anonymous.
    let session = captured.begin(&env.engine);
    assert_eq!(session.owner().await.expect("owner"), None);
    assert_eq!(session.get::<String>("secret").await.expect("get"), None);
    let done = env.engine.finish(&session, 200).await;
    assert!(done.error.is_none());
    assert_eq!(env.memory.len(), 0);
}

/// A logout that never read the session still deletes it.
#[tokio::test]
async fn blind_logout_deletes_without_loading() {
    let env = Env::new();
    let mut browser = env.logged_in("alice", &[]).await;
    let id = browser.id().expect("id").to_owned();

    let session = browser.begin(&env.engine);
    session.logout();
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(env.counts(), counts(0, 0, 0, 0, 1, 0));
    assert_eq!(done.set_cookie.as_deref().map(cookie_value), Some(""));
    assert!(!env.has_record(&id).await);
}

/// SEC-16: writing after logout in the same request (a "logged out" flash) creates a
/// brand-new anonymous session with a new id; the old one stays dead.
#[tokio::test]
async fn write_after_logout_starts_a_new_session() {
    let env = Env::new();
    let mut browser = env.logged_in("alice", &[("secret", j(42))]).await;
    let old = browser.id().expect("id").to_owned();

    let session = browser.begin(&env.engine);
    assert_eq!(session.get::<i64>("secret").await.expect("get"), Some(42));
    session.logout();
    assert_eq!(session.get::<i64>("secret").await.expect("get"), None);
    assert_eq!(session.owner().await.expect("owner"), None);
    session
        .flash("info", "You are logged out")
        .await
        .expect("flash");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert!(done.error.is_none(), "{:?}", done.error);
    let set = done.set_cookie.expect("the new session's cookie");
    let new = cookie_value(&set).to_owned();
    assert_eq!(new.len(), ENCODED_ID_LEN);
    assert_ne!(new, old);
    assert!(!env.has_record(&old).await);
    let record = env.record(&new).await.expect("new record");
    assert_eq!(record.meta.owner, None);
    assert_eq!(
        record.data.keys().map(String::as_str).collect::<Vec<_>>(),
        [satchel::FLASH_KEY]
    );

    let session = browser.begin(&env.engine);
    let flashes = session.take_flashes().await.expect("flashes");
    assert_eq!(flashes.len(), 1);
    assert_eq!(flashes[0].message, "You are logged out");
    env.engine.finish(&session, 200).await;
}

/// An anonymous logout (no cookie) costs nothing and sets nothing.
#[tokio::test]
async fn anonymous_logout_is_free() {
    let env = Env::new();
    let browser = Browser::new();
    let session = browser.begin(&env.engine);
    session.logout();
    let done = env.engine.finish(&session, 200).await;
    assert_eq!(env.counts(), Counts::default());
    assert_eq!(done.set_cookie, None);
    assert!(done.error.is_none());
}

// ---------------------------------------------------------------------------------------
// Flash messages
// ---------------------------------------------------------------------------------------

/// A flash set before a redirect is shown by the next request, and only that one.
#[tokio::test]
async fn flash_is_shown_exactly_once() {
    let env = Env::new();
    let mut browser = Browser::new();

    let session = browser.begin(&env.engine);
    session.flash("info", "Saved").await.expect("flash");
    session.flash("warn", "Quota at 90 %").await.expect("flash");
    let done = browser.finish(&env.engine, &session, 303).await;
    assert!(done.error.is_none());
    assert!(browser.cookie().is_some(), "the flash needs a session");
    env.store.reset();

    let session = browser.begin(&env.engine);
    let flashes = session.take_flashes().await.expect("take");
    assert_eq!(
        flashes,
        vec![
            Flash {
                level: "info".into(),
                message: "Saved".into()
            },
            Flash {
                level: "warn".into(),
                message: "Quota at 90 %".into()
            },
        ]
    );
    let done = browser.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none());
    assert_eq!(env.counts(), counts(1, 0, 1, 0, 0, 0));
    env.store.reset();

    let session = browser.begin(&env.engine);
    assert_eq!(
        session.take_flashes().await.expect("take"),
        Vec::<Flash>::new()
    );
    let done = browser.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none());
    assert_eq!(
        env.counts(),
        counts(1, 0, 0, 0, 0, 0),
        "nothing to remove, nothing written"
    );
}

// ---------------------------------------------------------------------------------------
// Owner sessions (SEC-19, ASVS 3.3.3/3.3.4)
// ---------------------------------------------------------------------------------------

/// Three browsers of alice: the list has 3 entries, exactly one current; revoking the
/// others ends 2, leaves the current one and other users alone.
#[tokio::test]
async fn owner_sessions_list_and_revoke_others() {
    let env = Env::new();
    let mut browsers = Vec::new();
    let mut created = Vec::new();
    for i in 0..3 {
        created.push(env.engine.now());
        browsers.push(env.logged_in("alice", &[("device", j(i))]).await);
        env.clock.advance(Duration::from_secs(60));
    }
    let bob = env.logged_in("bob", &[]).await;

    let session = browsers[1].begin(&env.engine);
    let list = session.owner_sessions().await.expect("owner_sessions");
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(list.iter().filter(|s| s.current).count(), 1);
    let current = list.iter().find(|s| s.current).expect("current");
    assert_eq!(current.created_at, created[1]);
    let dbg = format!("{list:?}");
    for b in &browsers {
        assert!(
            !dbg.contains(b.id().expect("id")),
            "the listing exposes no token"
        );
    }

    assert_eq!(session.revoke_other_sessions().await.expect("revoke"), 2);
    let done = env.engine.finish(&session, 200).await;
    assert!(done.error.is_none());

    for (i, b) in browsers.iter().enumerate() {
        let session = b.begin(&env.engine);
        let owner = session.owner().await.expect("owner");
        let device: Option<i32> = session.get("device").await.expect("get");
        if i == 1 {
            assert_eq!((owner.as_deref(), device), (Some("alice"), Some(1)));
            let list = session.owner_sessions().await.expect("list");
            assert_eq!(list.len(), 1);
            assert!(list[0].current);
        } else {
            assert_eq!(
                (owner, device),
                (None, None),
                "browser {i} must be logged out"
            );
        }
        env.engine.finish(&session, 200).await;
    }
    let session = bob.begin(&env.engine);
    assert_eq!(
        session.owner().await.expect("owner").as_deref(),
        Some("bob")
    );
    env.engine.finish(&session, 200).await;
}

/// An anonymous session has no owner sessions and revokes nothing.
#[tokio::test]
async fn anonymous_owner_sessions_are_empty() {
    let env = Env::new();
    let _alice = env.logged_in("alice", &[]).await;
    let browser = env.browser_with(&[("x", j(1))]).await;
    let session = browser.begin(&env.engine);
    assert!(session.owner_sessions().await.expect("list").is_empty());
    assert_eq!(session.revoke_other_sessions().await.expect("revoke"), 0);
    env.engine.finish(&session, 200).await;
    assert_eq!(env.memory.len(), 2);
}

// ---------------------------------------------------------------------------------------
// Size limit (SEC-33)
// ---------------------------------------------------------------------------------------

fn small_config() -> SessionConfig {
    SessionConfig::builder()
        .max_data_bytes(1024)
        .build()
        .expect("valid config")
}

/// One value larger than `max_data_bytes` is refused at `insert`, and nothing is stored.
#[tokio::test]
async fn inserting_more_than_max_data_bytes_is_too_large() {
    let env = Env::with_config(small_config());
    let mut browser = Browser::new();
    let session = browser.begin(&env.engine);
    let err = session
        .insert("blob", &"x".repeat(2000))
        .expect_err("2000 bytes > 1024");
    assert_eq!(err.kind(), SessionErrorKind::TooLarge);
    assert_eq!(err.default_status(), 500);
    let done = browser.finish(&env.engine, &session, 200).await;
    assert_eq!(done.set_cookie, None);
    assert_eq!(env.memory.len(), 0);

    // Just under the limit is fine.
    let session = browser.begin(&env.engine);
    session.insert("blob", &"x".repeat(1000)).expect("fits");
    let done = browser.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none());
    assert_eq!(env.memory.len(), 1);
}

/// Values that fit one by one but not together: a new session is not created.
#[tokio::test]
async fn new_session_over_the_limit_in_total_is_too_large() {
    let env = Env::with_config(small_config());
    let mut browser = Browser::new();
    let session = browser.begin(&env.engine);
    session.insert("a", &"x".repeat(600)).expect("fits alone");
    session.insert("b", &"y".repeat(600)).expect("fits alone");
    let done = browser.finish(&env.engine, &session, 200).await;
    let err = done.error.expect("too large in total");
    assert_eq!(err.kind(), SessionErrorKind::TooLarge);
    assert_eq!(done.set_cookie, None);
    assert_eq!(env.memory.len(), 0);
    assert_eq!(env.counts().create, 0);
}

/// Growing a loaded session past the limit is refused and the stored data is unchanged.
#[tokio::test]
async fn read_then_grow_past_the_limit_is_too_large() {
    let env = Env::with_config(small_config());
    let mut browser = env.browser_with(&[("a", j("x".repeat(600)))]).await;

    let session = browser.begin(&env.engine);
    assert!(session.get::<String>("a").await.expect("get").is_some());
    session.insert("b", &"y".repeat(600)).expect("fits alone");
    let done = browser.finish(&env.engine, &session, 200).await;

    assert_eq!(
        done.error.map(|e| e.kind()),
        Some(SessionErrorKind::TooLarge)
    );
    assert_eq!(env.counts().apply, 0);
    let record = env.record(browser.id().expect("id")).await.expect("record");
    assert_eq!(
        record.data.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a"]
    );
}

/// The per-session cap must also hold for blind writes (no read): otherwise a session can
/// grow without bound one under-limit key at a time (SEC-33 "per-session data size cap").
#[tokio::test]
async fn blind_write_past_the_limit_is_too_large() {
    let env = Env::with_config(small_config());
    let mut browser = env.browser_with(&[("a", j("x".repeat(600)))]).await;

    for key in ["b", "c", "d"] {
        let session = browser.begin(&env.engine);
        session.insert(key, &"y".repeat(600)).expect("fits alone");
        browser.finish(&env.engine, &session, 200).await;
    }

    let record = env.record(browser.id().expect("id")).await.expect("record");
    let size: usize = record
        .data
        .iter()
        .map(|(k, v)| k.len() + v.get().len())
        .sum();
    assert!(size <= 1024, "session holds {size} bytes, limit 1024");
}
