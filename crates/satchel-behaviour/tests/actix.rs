//! The behaviour suite against `satchel-actix`: the routes as an actix-web `App` behind
//! `SessionMiddleware`, served by `HttpServer` (two workers) on its own actix system thread.

use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpResponse, HttpServer};
use satchel_actix::{AuthRejected, Authenticated, Error, Session, SessionMiddleware};
use satchel_behaviour::{Integration, Served, Spec};
use serde_json::json;

struct Actix;

impl Integration for Actix {
    fn serve(spec: Spec) -> Served {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let pause = spec.pause;
                let server = match spec.engine {
                    Some(engine) => {
                        let status = |code| StatusCode::from_u16(code).expect("status");
                        let sessions = SessionMiddleware::from_engine(engine)
                            .store_error_status(status(spec.statuses.store))
                            .conflict_status(status(spec.statuses.conflict));
                        let sessions = match spec.csrf {
                            Some(check) => sessions.csrf(check),
                            None => sessions.without_csrf_check(),
                        };
                        HttpServer::new(move || {
                            App::new()
                                .wrap(sessions.clone())
                                .configure(|cfg| routes(cfg, pause))
                        })
                        .workers(2)
                        .disable_signals()
                        .listen(listener)
                        .expect("listen")
                        .run()
                    }
                    None => HttpServer::new(move || App::new().configure(|cfg| routes(cfg, pause)))
                        .workers(2)
                        .disable_signals()
                        .listen(listener)
                        .expect("listen")
                        .run(),
                };
                tx.send(server.handle()).expect("handle");
                server.await.expect("serve");
            });
        });
        let handle = rx.recv().expect("server started");
        Served {
            addr,
            guard: Box::new(StopOnDrop(handle, Some(thread))),
        }
    }
}

struct StopOnDrop(ServerHandle, Option<std::thread::JoinHandle<()>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // Sends the stop command at once; the future only waits for it.
        drop(self.0.stop(false));
        if let Some(thread) = self.1.take() {
            let _ = thread.join();
        }
    }
}

fn routes(cfg: &mut web::ServiceConfig, pause: Duration) {
    cfg.route("/read", web::get().to(read))
        .route(
            "/write",
            web::post().to(move |session: Session| async move {
                let n: i64 = session.get("n").await?.unwrap_or(0);
                if !pause.is_zero() {
                    actix_web::rt::time::sleep(pause).await;
                }
                session.insert("n", &(n + 1))?;
                Ok::<_, Error>(HttpResponse::Ok().json(json!({ "n": n + 1 })))
            }),
        )
        .route("/plain", web::get().to(|| async { "no session here" }))
        .route("/write-then-fail", web::post().to(write_then_fail))
        .route("/write-big", web::post().to(write_big))
        .route("/vary", web::get().to(vary))
        .route("/vary-cookie", web::get().to(vary_cookie))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/whoami", web::get().to(whoami))
        .route("/login-as/{user}", web::post().to(login_as))
        .route("/login-pending/{user}", web::post().to(login_pending))
        .route("/second-factor", web::post().to(second_factor))
        .route("/me", web::get().to(me))
        .route("/sensitive", web::post().to(sensitive))
        .route("/reauth", web::post().to(reauth));
}

async fn read(session: Session) -> Result<HttpResponse, Error> {
    let n: i64 = session.get("n").await?.unwrap_or(0);
    Ok(HttpResponse::Ok().json(json!({ "n": n })))
}

async fn write_then_fail(session: Session) -> Result<HttpResponse, Error> {
    session.insert("n", &1000)?;
    Ok(HttpResponse::InternalServerError().body("handler failed"))
}

async fn vary(session: Session) -> Result<HttpResponse, Error> {
    let _ = session.get::<i64>("n").await?;
    Ok(HttpResponse::Ok()
        .insert_header(("vary", "Accept-Encoding"))
        .body("ok"))
}

async fn vary_cookie(session: Session) -> Result<HttpResponse, Error> {
    let _ = session.get::<i64>("n").await?;
    Ok(HttpResponse::Ok()
        .insert_header(("vary", "Origin, cookie"))
        .body("ok"))
}

async fn login(session: Session) -> Result<HttpResponse, Error> {
    session.login("alice")?;
    Ok(HttpResponse::Ok().json(json!({ "owner": "alice" })))
}

async fn login_as(session: Session, user: web::Path<String>) -> Result<HttpResponse, Error> {
    let user = user.into_inner();
    session.login(user.as_str())?;
    let n: i64 = session.get("n").await?.unwrap_or(0);
    Ok(HttpResponse::Ok().json(json!({ "owner": user, "n": n })))
}

async fn write_big(session: Session) -> Result<&'static str, Error> {
    session.insert("big", &"x".repeat(satchel_behaviour::BIG_VALUE_LEN))?;
    Ok("big")
}

async fn logout(session: Session) -> &'static str {
    session.logout();
    "bye"
}

async fn whoami(session: Session) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(json!({ "owner": session.owner().await? })))
}

async fn login_pending(session: Session, user: web::Path<String>) -> Result<HttpResponse, Error> {
    let user = user.into_inner();
    session.login_pending(user.as_str(), "totp")?;
    Ok(HttpResponse::Ok().json(json!({ "pending": user })))
}

async fn second_factor(session: Session) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(json!({ "owner": session.complete_login().await? })))
}

async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "owner": auth.owner() }))
}

async fn sensitive(auth: Authenticated) -> Result<&'static str, actix_web::Error> {
    match auth.requires_recent_auth(satchel_behaviour::RECENT_AUTH) {
        Ok(()) => Ok("done"),
        // The typed refusal becomes the application's own page.
        Err(AuthRejected::Refused(r))
            if r.kind() == satchel::auth::AuthRejectionKind::ReauthenticationRequired =>
        {
            let status = StatusCode::from_u16(r.status()).expect("status");
            Err(actix_web::error::InternalError::from_response(
                "reauthenticate",
                HttpResponse::build(status).body("confirm your password"),
            )
            .into())
        }
        Err(other) => Err(other.into()),
    }
}

async fn reauth(auth: Authenticated) -> Result<&'static str, Error> {
    auth.reauthenticated()?;
    Ok("ok")
}

satchel_behaviour::behaviour_tests!(Actix);
