//! What a login does to the session's data (issue 19, item 8): an anonymous visitor's data
//! survives (a cart), a re-login as the same owner keeps it, a login as a different owner
//! starts from empty data (as Django's `login` does), and [`LoginData`] changes that.

mod common;

use common::{j, Browser, Env};
use satchel::{LoginData, SessionConfig};

fn env_with(policy: LoginData) -> Env {
    Env::with_config(
        SessionConfig::builder()
            .login_data(policy)
            .build()
            .expect("config"),
    )
}

/// Logs `browser` in as `owner` without reading first (a blind login), and returns what
/// the new owner then sees under `n` in the next request.
async fn blind_login(env: &Env, browser: &mut Browser, owner: &str) -> Option<i64> {
    let session = browser.begin(&env.engine);
    session.login(owner).expect("login");
    let done = browser.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    read_n(env, browser).await
}

async fn read_n(env: &Env, browser: &mut Browser) -> Option<i64> {
    let session = browser.begin(&env.engine);
    let n = session.get::<i64>("n").await.expect("get");
    browser.finish(&env.engine, &session, 200).await;
    n
}

/// The default: an anonymous visitor's data survives the login, a re-login as the same
/// owner keeps it, a login as another owner clears it; the record is bound to the new owner
/// either way.
#[tokio::test]
async fn default_keeps_anonymous_and_same_owner_data_and_clears_another_owners() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    assert_eq!(
        blind_login(&env, &mut browser, "bob").await,
        Some(1),
        "cart kept"
    );
    assert_eq!(
        blind_login(&env, &mut browser, "bob").await,
        Some(1),
        "same owner"
    );
    assert_eq!(
        blind_login(&env, &mut browser, "carol").await,
        None,
        "bob's n became carol's n"
    );
    let record = env.record(browser.id().expect("id")).await.expect("record");
    assert_eq!(record.meta.owner.as_deref(), Some("carol"));
    assert!(
        record.data.keys().all(|k| k == satchel::auth::AUTH_KEY),
        "{:?}",
        record.data.keys().collect::<Vec<_>>()
    );
}

/// A handler that reads, logs in as another owner and writes (a "welcome" flash): the
/// reads after the login see none of the previous owner's data, the writes of the request
/// are kept, the previous owner's keys are gone.
#[tokio::test]
async fn reads_after_a_login_as_another_owner_see_empty_data() {
    let env = Env::new();
    let mut browser = env
        .logged_in("bob", &[("n", j(5)), ("secret", j("bob's"))])
        .await;
    let session = browser.begin(&env.engine);
    assert_eq!(session.get::<i64>("n").await.expect("get"), Some(5));
    session.login("carol").expect("login");
    assert_eq!(session.get::<i64>("n").await.expect("get"), None);
    session
        .flash("info", "Welcome, carol!")
        .await
        .expect("flash");
    let flashes = session.take_flashes().await.expect("flashes");
    assert_eq!(flashes.len(), 1, "only this request's flash");
    session.insert("n", &1).expect("insert");
    let done = browser.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    let record = env.record(browser.id().expect("id")).await.expect("record");
    let keys: Vec<_> = record.data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [satchel::auth::AUTH_KEY, "n"],
        "the login's auth state and n"
    );
    assert_eq!(record.data["n"].get(), "1");
}

/// A blind login as another owner: the pending writes of the request are kept, the stored
/// data of the previous owner is not (the engine loads the record once to learn its owner).
#[tokio::test]
async fn blind_login_as_another_owner_keeps_only_this_requests_writes() {
    let env = Env::new();
    let mut browser = env.logged_in("bob", &[("n", j(5))]).await;
    let session = browser.begin(&env.engine);
    session.insert("theme", &"dark").expect("insert");
    session.login("carol").expect("login");
    let done = browser.finish(&env.engine, &session, 200).await;
    assert!(done.error.is_none(), "{:?}", done.error);
    let counts = env.counts();
    assert_eq!((counts.load, counts.rotate), (1, 1), "{counts:?}");
    let record = env.record(browser.id().expect("id")).await.expect("record");
    let keys: Vec<_> = record.data.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [satchel::auth::AUTH_KEY, "theme"],
        "the login's auth state and theme"
    );
    assert_eq!(record.meta.owner.as_deref(), Some("carol"));
}

/// An anonymous visitor's blind login needs that one load too, and keeps the data.
#[tokio::test]
async fn anonymous_blind_login_keeps_the_cart() {
    let env = Env::new();
    let mut browser = env.browser_with(&[("cart", j([1, 2]))]).await;
    let session = browser.begin(&env.engine);
    session.login("dave").expect("login");
    browser.finish(&env.engine, &session, 200).await;
    let record = env.record(browser.id().expect("id")).await.expect("record");
    assert_eq!(record.data["cart"].get(), "[1,2]");
}

/// `LoginData::Keep`: the old behaviour, data always carried over (and no extra load).
#[tokio::test]
async fn keep_policy_carries_data_across_owners() {
    let env = env_with(LoginData::Keep);
    let mut browser = env.logged_in("bob", &[("n", j(5))]).await;
    assert_eq!(blind_login(&env, &mut browser, "carol").await, Some(5));
    let session = browser.begin(&env.engine);
    session.login("dave").expect("login");
    browser.finish(&env.engine, &session, 200).await;
    let counts = env.counts();
    assert_eq!(
        counts.load, 1,
        "only the read in blind_login loads: {counts:?}"
    );
}

/// `LoginData::Clear`: every login starts from empty data, even an anonymous visitor's.
#[tokio::test]
async fn clear_policy_drops_data_on_every_login() {
    let env = env_with(LoginData::Clear);
    let mut browser = env.browser_with(&[("n", j(1))]).await;
    assert_eq!(blind_login(&env, &mut browser, "bob").await, None);
    let session = browser.begin(&env.engine);
    session.insert("n", &2).expect("insert");
    browser.finish(&env.engine, &session, 200).await;
    assert_eq!(blind_login(&env, &mut browser, "bob").await, None);
}
