//! [`SessionService`]: the per-request work of [`crate::SessionLayer`], a translation between
//! `http` types and the satchel engine.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{Entry, CACHE_CONTROL, COOKIE, HOST, ORIGIN, RETRY_AFTER, SET_COOKIE, VARY};
use http::{HeaderValue, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use satchel::csrf::{CsrfCheck, CsrfRequest, REFUSED_STATUS};
use satchel::http_support::{varies_on_cookie, ErrorStatuses, NO_STORE, VARY_COOKIE};
use satchel::{Engine, Finish, Session};
use tower_service::Service;

/// The service [`crate::SessionLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    pub(crate) inner: S,
    pub(crate) engine: Engine,
    pub(crate) statuses: ErrorStatuses,
    pub(crate) csrf: Option<Arc<CsrfCheck>>,
}

/// Whether the request passes `check` (the method and the three headers it looks at).
fn csrf_allows<B>(check: &CsrfCheck, req: &Request<B>) -> bool {
    let headers = req.headers();
    let host = headers
        .get(HOST)
        .map(HeaderValue::as_bytes)
        .or_else(|| req.uri().authority().map(|a| a.as_str().as_bytes()));
    check.allows(&CsrfRequest {
        method: req.method().as_str(),
        host,
        origin: headers.get(ORIGIN).map(HeaderValue::as_bytes),
        sec_fetch_site: headers.get("sec-fetch-site").map(HeaderValue::as_bytes),
    })
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if let Some(check) = &self.csrf {
            if !csrf_allows(check, &req) {
                // No handler, no session, no store call, no cookie.
                return ResponseFuture {
                    inner: None,
                    step: Step::Refused,
                };
            }
        }
        let session = self.engine.begin(
            req.headers()
                .get_all(COOKIE)
                .iter()
                .map(HeaderValue::as_bytes),
        );
        req.extensions_mut().insert(session.clone());
        // The inner service is called right here, the way it was driven to readiness; the
        // future below needs only its response, so no clone of the inner service is made.
        ResponseFuture {
            inner: Some(self.inner.call(req)),
            step: Step::Handler {
                session,
                engine: self.engine.clone(),
                statuses: self.statuses,
            },
        }
    }
}

/// The engine's end of a request, owned so the response future can hold it.
type Finishing = Pin<Box<dyn Future<Output = Finish> + Send>>;

enum Step<B> {
    /// The handler runs.
    Handler {
        session: Session,
        engine: Engine,
        statuses: ErrorStatuses,
    },
    /// The handler answered; the session is being saved.
    Saving {
        response: Response<B>,
        statuses: ErrorStatuses,
        finishing: Finishing,
    },
    /// The cross-site request check refused the request; the inner service is not called.
    Refused,
    /// The response went out.
    Done,
}

pin_project! {
    /// The future of [`SessionService`]: the inner service's future, then the save.
    pub struct ResponseFuture<F, B> {
        #[pin]
        inner: Option<F>,
        step: Step<B>,
    }
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let step = match self.step {
            Step::Handler { .. } => "handler",
            Step::Saving { .. } => "saving",
            Step::Refused => "refused",
            Step::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("step", &step)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            // The step is taken out and put back when still pending, so each value moves
            // on to the next step without a clone.
            match std::mem::replace(this.step, Step::Done) {
                Step::Handler {
                    session,
                    engine,
                    statuses,
                } => {
                    let Some(inner) = this.inner.as_mut().as_pin_mut() else {
                        unreachable!("a handler step always has its inner future");
                    };
                    let response = match inner.poll(cx) {
                        Poll::Pending => {
                            *this.step = Step::Handler {
                                session,
                                engine,
                                statuses,
                            };
                            return Poll::Pending;
                        }
                        // An inner error has no response to add to; the session is not
                        // saved, as for any request that did not complete.
                        Poll::Ready(result) => result?,
                    };
                    let status = response.status().as_u16();
                    // An in-process store saves on the spot; any other gets a future.
                    if let Some(finish) = engine.finish_now(&session, status) {
                        return Poll::Ready(Ok(respond(response, finish, statuses)));
                    }
                    *this.step = Step::Saving {
                        response,
                        statuses,
                        finishing: Box::pin(async move { engine.finish(&session, status).await }),
                    };
                }
                Step::Saving {
                    response,
                    statuses,
                    mut finishing,
                } => {
                    let Poll::Ready(finish) = finishing.as_mut().poll(cx) else {
                        *this.step = Step::Saving {
                            response,
                            statuses,
                            finishing,
                        };
                        return Poll::Pending;
                    };
                    return Poll::Ready(Ok(respond(response, finish, statuses)));
                }
                Step::Refused => return Poll::Ready(Ok(refused())),
                Step::Done => panic!("ResponseFuture polled after completion"),
            }
        }
    }
}

/// The response to a request the cross-site check refused: `403`, an empty body, and the
/// cache headers any response of the layer's error path carries.
fn refused<B: Default>() -> Response<B> {
    let mut res = Response::new(B::default());
    *res.status_mut() = StatusCode::from_u16(REFUSED_STATUS).unwrap_or(StatusCode::FORBIDDEN);
    let headers = res.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    headers.insert(VARY, HeaderValue::from_static(VARY_COOKIE));
    res
}

/// The handler's response with what the engine says it must carry, or the error response
/// that replaces it when the session failed.
fn respond<B: Default>(
    mut res: Response<B>,
    mut finish: Finish,
    statuses: ErrorStatuses,
) -> Response<B> {
    if let Some(err) = &finish.error {
        // Fail closed: the handler's response never goes out, and nothing internal does
        // either.
        let reply = statuses.reply(err);
        res = Response::new(B::default());
        *res.status_mut() =
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(secs) = reply.retry_after {
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static(secs));
        }
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    }
    let headers = res.headers_mut();
    let extra = std::mem::take(&mut finish.extra_set_cookies);
    for cookie in finish.set_cookie.take().into_iter().chain(extra) {
        match HeaderValue::try_from(cookie) {
            Ok(value) => {
                headers.append(SET_COOKIE, value);
            }
            // Unreachable with a validated config; never send a broken header.
            Err(_) => tracing::error!(target: "satchel", "invalid Set-Cookie value dropped"),
        }
    }
    if finish.no_store {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    }
    if finish.vary_cookie {
        // One lookup of `Vary` for both the check and the append.
        match headers.entry(VARY) {
            Entry::Vacant(vacant) => {
                vacant.insert(HeaderValue::from_static(VARY_COOKIE));
            }
            Entry::Occupied(mut vary) => {
                if !varies_on_cookie(vary.iter().map(HeaderValue::as_bytes)) {
                    vary.append(HeaderValue::from_static(VARY_COOKIE));
                }
            }
        }
    }
    res
}
