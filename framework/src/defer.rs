//! Answering later: [`Defer`], backed by the request's `Control`, and the
//! bounded blocking pool behind [`Defer::spawn`].
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
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use turnstile_core::{Control, Next, StatusCode};

use crate::extract::{FromRequestParts, Rejection, RequestParts};
use crate::reply::{error_response, IntoResponse, Response};

/// How a deferred step ended.
pub(crate) enum Completion {
    /// The answer.
    Reply(Response),
    /// Go on with the middleware chain (middleware only).
    Resume,
}

/// Where the other thread leaves its completion.
#[derive(Default)]
pub(crate) struct DeferSlot {
    completion: Mutex<Option<Completion>>,
}

pub(crate) type DeferSlotRef = Arc<DeferSlot>;

impl DeferSlot {
    pub(crate) fn take(&self) -> Option<Completion> {
        self.completion
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// The means to answer a request later, from any thread.
///
/// Take it as a handler argument, return [`Defer::later`] (or
/// [`Defer::spawn`]'s result), and complete it when the answer is ready.
/// Dropping it without completing answers `500`; a route timeout answers
/// `503` if it takes too long.
pub struct Defer {
    slot: Arc<DeferSlot>,
    control: Control,
    pool: Arc<BlockingPool>,
    finished: bool,
}

/// The reply of a handler that answers through a [`Defer`].
#[must_use = "return it from the handler, so the framework waits for the Defer"]
pub struct Deferred(());

impl IntoResponse for Deferred {
    fn into_response(self) -> Response {
        Response::deferred()
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
        let job: Job = Box::new(move || {
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
            self.complete(reply);
        });
        if let Err(job) = pool.execute(job) {
            // The job owns the Defer: dropping it unrun would answer 500;
            // a full pool is overload, so say 503 instead.
            log::warn!("blocking pool is full; answering 503");
            drop(job);
        }
        Deferred(())
    }

    fn finish(&mut self, completion: Completion) {
        if self.finished {
            return;
        }
        self.finished = true;
        let next = match completion {
            Completion::Reply(_) => Next::write(),
            Completion::Resume => Next::read(),
        };
        *self
            .slot
            .completion
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(completion);
        if let Err(e) = self.control.ready(next) {
            log::debug!("deferred answer arrived too late: {e}");
        }
    }
}

impl Drop for Defer {
    fn drop(&mut self) {
        if !self.finished {
            let full = self.pool.is_full_marker();
            let (status, message) = if full {
                (StatusCode::SERVICE_UNAVAILABLE, "server busy")
            } else {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the deferred answer was dropped",
                )
            };
            self.finish(Completion::Reply(error_response(status, message, None)));
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed number of threads fed by a bounded queue, started on first use.
pub(crate) struct BlockingPool {
    threads: usize,
    queue: usize,
    sender: OnceLock<Mutex<SyncSender<Job>>>,
}

thread_local! {
    /// Set while a job is being refused, so the Defer it owns answers 503.
    static REFUSING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl BlockingPool {
    pub(crate) fn new(threads: usize, queue: usize) -> BlockingPool {
        BlockingPool {
            threads: threads.max(1),
            queue: queue.max(1),
            sender: OnceLock::new(),
        }
    }

    fn sender(&self) -> &Mutex<SyncSender<Job>> {
        self.sender.get_or_init(|| {
            let (sender, receiver) = sync_channel::<Job>(self.queue);
            let receiver = Arc::new(Mutex::new(receiver));
            for i in 0..self.threads {
                let receiver = receiver.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("turnstile-blocking-{i}"))
                    .spawn(move || run_jobs(&receiver));
                if let Err(e) = spawned {
                    log::error!("could not start a blocking thread: {e}");
                }
            }
            Mutex::new(sender)
        })
    }

    /// Queues `job`; gives it back when the queue is full.
    fn execute(&self, job: Job) -> Result<(), Job> {
        let sender = self.sender().lock().unwrap_or_else(|e| e.into_inner());
        match sender.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                drop(sender);
                REFUSING.with(|r| r.set(true));
                drop(job);
                REFUSING.with(|r| r.set(false));
                Err(Box::new(|| {}))
            }
        }
    }

    fn is_full_marker(&self) -> bool {
        REFUSING.with(|r| r.get())
    }
}

fn run_jobs(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
            receiver.recv()
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // the app is gone
        }
    }
}
