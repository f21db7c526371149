//! [`Control`]: how another thread wakes a waiting request.
//!
//! Each worker loop owns a wake-up queue and a `mio::Waker`. A `Control`
//! pushes `(slot, exchange, Next)` onto its loop's queue and wakes the loop,
//! which applies the `Next` only if that slot still holds the same exchange:
//! a `Control` that outlived its request can never steer whatever connection
//! or request took its place.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::Next;

/// A wake-up for one exchange, queued for its loop.
#[derive(Debug)]
pub(crate) struct Wakeup {
    pub(crate) slot: usize,
    pub(crate) exchange: u64,
    pub(crate) next: Next,
}

/// What every `Control` of one worker loop shares.
pub(crate) struct LoopShared {
    queue: Mutex<Vec<Wakeup>>,
    waker: mio::Waker,
    stopped: AtomicBool,
}

impl LoopShared {
    pub(crate) fn new(waker: mio::Waker) -> LoopShared {
        LoopShared {
            queue: Mutex::new(Vec::new()),
            waker,
            stopped: AtomicBool::new(false),
        }
    }

    /// Moves the queued wake-ups into `out` (which the loop reuses).
    pub(crate) fn drain_into(&self, out: &mut Vec<Wakeup>) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *queue, out);
    }

    /// Wakes the loop without a request (shutdown).
    pub(crate) fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            log::error!("could not wake worker loop: {e}");
        }
    }

    pub(crate) fn mark_stopped(&self) {
        self.stopped.store(true, Ordering::Release);
    }
}

/// What the `Control`s of one connection share with it: which exchange it is
/// serving now (0 between requests).
pub(crate) struct ConnShared {
    pub(crate) current: AtomicU64,
    pub(crate) shared: Arc<LoopShared>,
}

/// A handle to one request, given to its handler by the factory. Clone it,
/// send it to another thread, and call [`ready`](Control::ready) to tell a
/// waiting handler what to do next.
///
/// ```no_run
/// use std::time::Duration;
/// use turnstile_core::{Control, Next};
///
/// fn look_up_later(control: Control) {
///     std::thread::spawn(move || {
///         std::thread::sleep(Duration::from_millis(10)); // the slow part
///         if control.ready(Next::write()).is_err() {
///             // The request is gone (the client left, or it timed out).
///         }
///     });
/// }
/// ```
#[derive(Clone)]
pub struct Control {
    conn: Arc<ConnShared>,
    slot: usize,
    exchange: u64,
}

impl Control {
    pub(crate) fn new(conn: Arc<ConnShared>, slot: usize, exchange: u64) -> Control {
        Control {
            conn,
            slot,
            exchange,
        }
    }

    /// Tells the request's loop what the handler wants next, and wakes it.
    /// Callable from any thread.
    ///
    /// Refused with [`ControlError::Gone`] when the request already finished
    /// (its slot may be serving another request by now), and with
    /// [`ControlError::Stopped`] when the server stopped. A request that
    /// finishes while the wake-up is in flight ignores it.
    pub fn ready(&self, next: Next) -> Result<(), ControlError> {
        let shared = &self.conn.shared;
        if shared.stopped.load(Ordering::Acquire) {
            return Err(ControlError::Stopped);
        }
        if !self.is_current() {
            return Err(ControlError::Gone);
        }
        let was_empty = {
            let mut queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.push(Wakeup {
                slot: self.slot,
                exchange: self.exchange,
                next,
            });
            queue.len() == 1
        };
        // One wake-up per batch: the loop drains the whole queue each time.
        if was_empty {
            shared.waker.wake().map_err(|_| ControlError::Stopped)?;
        }
        Ok(())
    }

    /// Wakes the request's loop and asks the handler what it wants next:
    /// the engine calls [`Handler::on_wake`](crate::Handler::on_wake) (or the
    /// upgraded protocol's, or the client handler's). For a thread that has
    /// news (an answer is ready, data arrived) but leaves the decision to
    /// the handler. Refused as [`ready`](Control::ready) is.
    pub fn wake(&self) -> Result<(), ControlError> {
        self.ready(Next::woken())
    }

    /// Whether the request is still being served.
    pub fn is_current(&self) -> bool {
        self.conn.current.load(Ordering::Acquire) == self.exchange
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("slot", &self.slot)
            .field("exchange", &self.exchange)
            .finish()
    }
}

/// Why [`Control::ready`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// The request already finished or was aborted.
    Gone,
    /// The server stopped.
    Stopped,
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Gone => f.write_str("the request is already finished"),
            ControlError::Stopped => f.write_str("the server has stopped"),
        }
    }
}

impl std::error::Error for ControlError {}
