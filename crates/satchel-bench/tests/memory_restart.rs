//! SEC-44: an app on `MemoryStore` restarted. Every old cookie then meets a store that
//! never saw it: the request goes on anonymously (a fresh session when it writes, under a
//! new id, never the old one adopted), never someone else's session, never an error.

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use satchel::MemoryStore;
use satchel_bench::client::Conn;
use satchel_bench::faults::app;

async fn req(
    addr: std::net::SocketAddr,
    method: Method,
    path: &str,
    cookie: Option<&HeaderValue>,
) -> satchel_bench::client::Reply {
    let mut conn = Conn::connect(addr).await.expect("connect");
    conn.request(method, path, cookie).await.expect("answer")
}

fn cookie(r: &satchel_bench::client::Reply) -> HeaderValue {
    HeaderValue::from_str(r.cookie.as_deref().expect("Set-Cookie")).expect("cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_cookies_get_a_fresh_anonymous_session_after_a_restart() {
    let first = app::spawn(|| async { Ok(MemoryStore::new()) }, None).expect("app");
    let mut old = Vec::new();
    for user in ["alice", "bob", "carol"] {
        let r = req(
            first.addr(),
            Method::POST,
            &format!("/login?u={user}"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let c = cookie(&r);
        assert_eq!(
            req(first.addr(), Method::POST, "/inc", Some(&c))
                .await
                .status,
            StatusCode::OK
        );
        old.push(c);
    }
    drop(first);

    // The restarted app, with someone already logged in on it.
    let second = app::spawn(|| async { Ok(MemoryStore::new()) }, None).expect("app");
    let addr = second.addr();
    let dave = req(addr, Method::POST, "/login?u=dave", None).await;
    assert_eq!(dave.status, StatusCode::OK);

    for c in &old {
        // Reads and owner-only writes: anonymous, no error, no session created.
        let r = req(addr, Method::GET, "/n", Some(c)).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "an old cookie must be anonymous"
        );
        let r = req(addr, Method::POST, "/inc", Some(c)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        // An anonymous write: a fresh session under a new id, counting from 1.
        let r = req(addr, Method::POST, "/anon", Some(c)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.n(), Some(1), "a fresh session, not a resurrected one");
        let fresh = cookie(&r);
        assert_ne!(&fresh, c, "the old id must not be adopted");
        // Never someone else's: the fresh session has no owner.
        assert_eq!(
            req(addr, Method::GET, "/n", Some(&fresh)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}
