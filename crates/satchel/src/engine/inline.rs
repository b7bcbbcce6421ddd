//! [`Engine::finish_now`]: the end of a request without a future, for stores that answer
//! in process.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::{Engine, Finish};
use crate::backend::Backend;
use crate::error::{SessionError, StoreError, StoreErrorKind};
use crate::session::Session;

impl Engine {
    /// [`Engine::finish`] run to completion on the spot when nothing it calls can wait: the
    /// engine's store is the built-in [`crate::MemoryStore`], or it is stateless without a
    /// revocation store. `None` for every other store: await [`Engine::finish`] instead.
    ///
    /// Integrations call it first so the common request needs no boxed future for its
    /// save; the result is exactly what `finish` would have returned.
    pub fn finish_now(&self, session: &Session, status: u16) -> Option<Finish> {
        if !self.completes_inline() {
            return None;
        }
        let mut finish = pin!(self.finish(session, status));
        match finish
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(finish) => Some(finish),
            // Unreachable: on these stores no `.await` inside `finish` ever waits. Were that
            // to change, the request fails closed instead of dropping a save half done.
            Poll::Pending => {
                debug_assert!(false, "an in-process store's save did not complete");
                tracing::error!(target: "satchel", "an in-process store's save did not complete; answering with an error");
                Some(Finish::failed(SessionError::store(StoreError::msg(
                    StoreErrorKind::Backend,
                    "the in-process store did not complete",
                ))))
            }
        }
    }

    /// Whether every store call of this engine completes without waiting.
    fn completes_inline(&self) -> bool {
        match &self.0.store {
            Backend::Memory(_) => true,
            Backend::Sealed(stateless) => stateless.revocations.is_none(),
            Backend::Dyn(_) => false,
        }
    }
}

impl Finish {
    /// What a request whose save failed with `error` must answer: the error response,
    /// no cookie.
    fn failed(error: SessionError) -> Self {
        Finish {
            set_cookie: None,
            extra_set_cookies: Vec::new(),
            no_store: true,
            vary_cookie: true,
            error: Some(error),
        }
    }
}
