//! The bridge between a blocking thread and the event loop for one
//! exchange: bounded byte queues both ways, the head, and the `Control`
//! that wakes the loop. The blocking side waits on a condition variable;
//! the loop side never blocks.

use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::{Control, Next};

/// Bytes each direction may hold before the writer waits.
pub(crate) const PIPE_CAPACITY: usize = 64 * 1024;

/// How long a blocking reader or writer waits without any progress before
/// it gives up (the loop side has its own timeouts; this only guards
/// against a loop that is gone).
const STALL_LIMIT: Duration = Duration::from_secs(300);

/// One direction of bytes: a buffer with a read cursor, so both ends move
/// whole slices (no per-byte work, even in debug builds).
#[derive(Default)]
pub(crate) struct Pipe {
    buf: Vec<u8>,
    start: usize,
    /// The writer finished.
    pub(crate) done: bool,
    /// The reader wants bytes (so the loop should read the socket).
    pub(crate) wanted: bool,
}

impl Pipe {
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn room(&self) -> usize {
        PIPE_CAPACITY.saturating_sub(self.len())
    }

    /// Appends `data` (callers respect `room`).
    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The bytes waiting, oldest first.
    pub(crate) fn front(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Drops `n` bytes from the front.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Moves up to `out.len()` bytes out.
    pub(crate) fn take_into(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len());
        out[..n].copy_from_slice(&self.front()[..n]);
        self.consume(n);
        n
    }
}

/// State shared by the two sides, under one lock.
pub(crate) struct Shared<H> {
    /// Bytes toward the blocking side (a request body on the server, a
    /// response body on the client).
    pub(crate) incoming: Pipe,
    /// Bytes toward the loop.
    pub(crate) outgoing: Pipe,
    /// The head the blocking side produced (server) or received (client).
    pub(crate) head: Option<H>,
    /// The head was handed over.
    pub(crate) head_taken: bool,
    /// The exchange is over for the loop side (finished or failed); the
    /// blocking side's reads and writes fail from now on.
    pub(crate) closed: Option<io::ErrorKind>,
    /// Something the incoming side failed with (a malformed body).
    pub(crate) incoming_error: Option<String>,
    /// The exchange's `Control`, once the loop made it (client side).
    pub(crate) control: Option<Control>,
}

impl<H> Default for Shared<H> {
    fn default() -> Shared<H> {
        Shared {
            incoming: Pipe::default(),
            outgoing: Pipe::default(),
            head: None,
            head_taken: false,
            closed: None,
            incoming_error: None,
            control: None,
        }
    }
}

pub(crate) struct Bridge<H> {
    state: Mutex<Shared<H>>,
    changed: Condvar,
}

impl<H> Bridge<H> {
    pub(crate) fn new() -> Bridge<H> {
        Bridge {
            state: Mutex::new(Shared::default()),
            changed: Condvar::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared<H>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the blocking side after a change.
    pub(crate) fn notify(&self) {
        self.changed.notify_all();
    }

    /// Waits for a change (bounded, so a vanished loop cannot hang a thread).
    pub(crate) fn wait<'a>(
        &self,
        guard: MutexGuard<'a, Shared<H>>,
    ) -> io::Result<MutexGuard<'a, Shared<H>>> {
        let (guard, timeout) = self
            .changed
            .wait_timeout(guard, STALL_LIMIT)
            .unwrap_or_else(|e| e.into_inner());
        if timeout.timed_out() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection stalled",
            ));
        }
        Ok(guard)
    }
}

/// Tells the loop what the exchange needs after a change on the blocking
/// side. A request that is gone is not an error here: the next read or
/// write reports it.
pub(crate) fn wake(control: &Control, next: Next) {
    if let Err(e) = control.ready(next) {
        log::debug!("blocking side outlived its request: {e}");
    }
}

/// The interest a loop-side handler has, given the shared state: read when
/// the blocking side wants bytes and there is room, write when there is
/// something to send.
pub(crate) fn interest(read: bool, write: bool) -> Next {
    match (read, write) {
        (true, true) => Next::read_and_write(),
        (true, false) => Next::read(),
        (false, true) => Next::write(),
        (false, false) => Next::wait(),
    }
}
