//! The behaviour suite against `satchel-axum`: the routes as an axum `Router` behind
//! `SessionLayer`, served by `axum::serve` on the test's runtime.

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use satchel_axum::{Error, Session, SessionLayer};
use satchel_behaviour::{Integration, Served, Spec};
use serde_json::{json, Value};

struct Axum;

impl Integration for Axum {
    fn serve(spec: Spec) -> Served {
        let mut app = routes(spec.pause);
        if let Some(engine) = spec.engine {
            let status = |code| StatusCode::from_u16(code).expect("status");
            app = app.layer(
                SessionLayer::from_engine(engine)
                    .store_error_status(status(spec.statuses.store))
                    .conflict_status(status(spec.statuses.conflict)),
            );
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
        .route("/vary", get(vary))
        .route("/vary-cookie", get(vary_cookie))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/whoami", get(whoami))
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

async fn logout(session: Session) -> &'static str {
    session.logout();
    "bye"
}

async fn whoami(session: Session) -> Result<Json<Value>, Error> {
    Ok(Json(json!({ "owner": session.owner().await? })))
}

satchel_behaviour::behaviour_tests!(Axum);
