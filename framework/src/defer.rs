//! Answering later: [`Defer`], backed by the request's `Control`, and the
//! bounded blocking pool (the engine's `ThreadPool`) behind [`Defer::spawn`].
//!
//! ```
//! use turnstile::{App, Defer, Deferred, Json};
//!
//! fn slow_sum(defer: Defer) -> Deferred {
//!     // Runs on the blocking pool; the event loop never waits for it.
//!     defer.spawn(|| Json((1..=100).sum::<u32>()))
//! }
//!
//! fn from_a_thread(defer: Defer) -> Deferred {
//!     let later = defer.later();
//!     std::thread::spawn(move || defer.complete("done"));
//!     later
//! }
//!
//! let app = App::new().get("/sum", slow_sum).get("/thread", from_a_thread);
//! let client = turnstile::test::TestClient::new(app).unwrap();
//! assert_eq!(client.get("/sum").text(), "5050");
//! assert_eq!(client.get("/thread").text(), "done");
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use turnstile_core::sync::ThreadPool;
use turnstile_core::{Control, StatusCode};

use crate::completion::{Completion, DeferSlot};
use crate::extract::{FromRequestParts, Rejection, RequestParts};
use crate::reply::{error_response, IntoReply, IntoResponse, Reply};

/// The means to answer a request later, from any thread.
///
/// Take it as a handler argument, return [`Defer::later`] (or
/// [`Defer::spawn`]'s result), and complete it when the answer is ready.
/// Dropping it without completing answers `500`; a route timeout answers
/// `503` if it takes too long.
pub struct Defer {
    slot: Arc<DeferSlot>,
    control: Control,
    pool: Arc<ThreadPool>,
    finished: bool,
}

/// The reply of a handler that answers through a [`Defer`].
#[must_use = "return it from the handler, so the framework waits for the Defer"]
pub struct Deferred(());

impl IntoReply for Deferred {
    fn into_reply(self) -> Reply {
        Reply::Later(self)
    }
}

/// `Err` answers at once (a request refused before any work is queued).
impl<E: IntoResponse> IntoReply for Result<Deferred, E> {
    fn into_reply(self) -> Reply {
        match self {
            Ok(later) => Reply::Later(later),
            Err(e) => Reply::Now(e.into_response()),
        }
    }
}

impl FromRequestParts for Defer {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        let slot = Arc::new(DeferSlot::default());
        parts.defer = Some(slot.clone());
        Ok(Defer {
            slot,
            control: parts.control.clone(),
            pool: parts.app.pool.clone(),
            finished: false,
        })
    }
}

impl Defer {
    /// The reply to return from the handler while the answer is pending.
    pub fn later(&self) -> Deferred {
        Deferred(())
    }

    /// Answers with `reply`.
    pub fn complete(mut self, reply: impl IntoResponse) {
        self.finish(Completion::Reply(reply.into_response()));
    }

    /// Lets the middleware chain go on (for middleware that waited).
    pub fn resume(mut self) {
        self.finish(Completion::Resume);
    }

    /// Runs `work` on the app's bounded blocking pool and answers with its
    /// result. A panic in `work` answers `500`; a full pool answers `503`
    /// at once.
    pub fn spawn<F, R>(self, work: F) -> Deferred
    where
        F: FnOnce() -> R + Send + 'static,
        R: IntoResponse,
    {
        let pool = self.pool.clone();
        // The Defer waits in a cell, so a refused job gives it back.
        let cell = Arc::new(Mutex::new(Some(self)));
        let queued = cell.clone();
        let job = move || {
            let Some(defer) = take(&queued) else {
                return;
            };
            let reply = match catch_unwind(AssertUnwindSafe(work)) {
                Ok(r) => r.into_response(),
                Err(_) => {
                    log::error!("a blocking task panicked; answering 500");
                    error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal server error",
                        None,
                    )
                }
            };
            defer.complete(reply);
        };
        if pool.execute(job).is_err() {
            if let Some(defer) = take(&cell) {
                log::warn!("blocking pool is full; answering 503");
                defer.complete(error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server busy",
                    None,
                ));
            }
        }
        Deferred(())
    }

    fn finish(&mut self, completion: Completion) {
        if self.finished {
            return;
        }
        self.finished = true;
        *self
            .slot
            .completion
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(completion);
        // The handler takes the completion from the slot when woken.
        if let Err(e) = self.control.wake() {
            log::debug!("deferred answer arrived too late: {e}");
        }
    }
}

impl Drop for Defer {
    fn drop(&mut self) {
        if !self.finished {
            let reply = error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the deferred answer was dropped",
                None,
            );
            self.finish(Completion::Reply(reply));
        }
    }
}

fn take<T>(cell: &Mutex<Option<T>>) -> Option<T> {
    cell.lock().unwrap_or_else(|e| e.into_inner()).take()
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Defer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Defer").finish_non_exhaustive()
    }
}
