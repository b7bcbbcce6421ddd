//! A real server on a loopback port and a minimal HTTP client for the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use satchel_axum::{Error, Session, SessionLayer};
use serde_json::{json, Value};

/// The test routes: read `n`, increment `n` (with an optional pause between read and
/// write, to widen race windows), a route that never touches the session, one that writes
/// and then fails with 500.
pub fn app(layer: SessionLayer, pause: Duration) -> Router {
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
                Ok::<_, Error>(Json(json!({"n": n + 1})))
            }),
        )
        .route("/plain", get(|| async { "no session here" }))
        .route(
            "/write-then-fail",
            post(|session: Session| async move {
                session.insert("n", &1000)?;
                Ok::<_, Error>((StatusCode::INTERNAL_SERVER_ERROR, "handler failed"))
            }),
        )
        .route(
            "/vary",
            get(|session: Session| async move {
                let _ = session.get::<i64>("n").await?;
                Ok::<_, Error>(([("vary", "Accept-Encoding")], "ok"))
            }),
        )
        .layer(layer)
}

async fn read(session: Session) -> Result<Json<Value>, Error> {
    let n: i64 = session.get("n").await?.unwrap_or(0);
    Ok(Json(json!({"n": n})))
}

/// Serves `app` on an ephemeral loopback port until the test's runtime ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    addr
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The `name=value` part of the Set-Cookie header, if any.
    pub fn cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A keep-alive HTTP/1.1 client.
#[derive(Clone)]
pub struct Http {
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    base: String,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Self {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}"),
        }
    }

    pub async fn send(&self, method: Method, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let req = req.body(Full::new(Bytes::new())).expect("request");
        let res = self.client.request(req).await.expect("request failed");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}
