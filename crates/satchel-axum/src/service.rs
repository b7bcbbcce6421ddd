//! [`SessionService`]: the per-request work of [`crate::SessionLayer`], a translation between
//! `http` types and the satchel engine.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{CACHE_CONTROL, COOKIE, RETRY_AFTER, SET_COOKIE, VARY};
use http::{HeaderValue, Request, Response, StatusCode};
use satchel::http_support::{varies_on_cookie, ErrorStatuses, NO_STORE, VARY_COOKIE};
use satchel::Engine;
use tower_service::Service;

/// The service [`crate::SessionLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    pub(crate) inner: S,
    pub(crate) engine: Engine,
    pub(crate) statuses: ErrorStatuses,
}

/// The future of [`SessionService`].
pub type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let session = self.engine.begin(
            req.headers()
                .get_all(COOKIE)
                .iter()
                .map(HeaderValue::as_bytes),
        );
        req.extensions_mut().insert(session.clone());
        // The clone that was driven to readiness serves this request (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let engine = self.engine.clone();
        let statuses = self.statuses;
        Box::pin(async move {
            let mut res = inner.call(req).await?;
            let mut finish = engine.finish(&session, res.status().as_u16()).await;
            if let Some(err) = &finish.error {
                // Fail closed: the handler's response never goes out, and nothing
                // internal does either.
                let reply = statuses.reply(err);
                res = Response::new(ResBody::default());
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
                    Err(_) => {
                        tracing::error!(target: "satchel", "invalid Set-Cookie value dropped")
                    }
                }
            }
            if finish.no_store {
                headers.insert(CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
            }
            if finish.vary_cookie
                && !varies_on_cookie(headers.get_all(VARY).iter().map(HeaderValue::as_bytes))
            {
                headers.append(VARY, HeaderValue::from_static(VARY_COOKIE));
            }
            Ok(res)
        })
    }
}
