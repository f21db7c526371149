//! Streaming replies: a response body fed while it is being sent, by any
//! thread, through a bounded channel.
//!
//! ```
//! use std::io::Write;
//! use turnstile::{App, Response};
//!
//! // Runs on the app's blocking pool once the head is on its way; each
//! // `send` waits while the client is slow, and fails once it is gone.
//! fn export() -> Response {
//!     Response::stream(|tx| {
//!         tx.send(b"id,name\n")?;
//!         for id in 1..=3 {
//!             tx.send(format!("{id},user {id}\n"))?;
//!         }
//!         Ok(())
//!     })
//!     .with_header("content-type", "text/csv")
//! }
//!
//! let client = turnstile::test::TestClient::new(App::new().get("/export.csv", export)).unwrap();
//! let response = client.get("/export.csv");
//! assert_eq!(response.text(), "id,name\n1,user 1\n2,user 2\n3,user 3\n");
//! assert_eq!(response.header("transfer-encoding"), Some("chunked"));
//! ```
//!
//! Three ways to make one:
//!
//! - [`Response::stream`](crate::Response::stream): a producer closure run on
//!   the app's blocking pool (a database cursor, a file, a computation);
//! - [`Response::channel`](crate::Response::channel): a [`BodySender`] for
//!   any thread you run yourself (a broadcaster feeding many clients);
//! - [`Response::reader`](crate::Response::reader): any `Read`, copied on the
//!   blocking pool.
//!
//! The body goes out chunked on HTTP/1.1 and close-delimited on HTTP/1.0;
//! middleware `after` steps see the head, and [`Middleware::done`]
//! (`Logger` uses it) runs when the last byte went out or the stream was
//! cut. A producer that panics or calls [`BodySender::abort`] cuts the
//! response (the client sees a truncated body, never a complete-looking
//! one).
//!
//! [`Middleware::done`]: crate::middleware::Middleware::done

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use turnstile_core::{Control, Next};

/// Bytes a stream buffers between its producer and the connection by
/// default, past which `send` waits.
pub const DEFAULT_STREAM_CAPACITY: usize = 64 * 1024;

/// The sending side of a streaming body: cloneable, `Send`, usable from any
/// thread. The body ends when the last sender is dropped or
/// [`finish`](BodySender::finish)ed.
pub struct BodySender {
    channel: Arc<Channel>,
}

/// The client is gone (or the response was cut): nothing more will be
/// sent. Returns the bytes that could not go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed(pub Vec<u8>);

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the response stream is closed (the client went away or the stream ended)")
    }
}

impl std::error::Error for Closed {}

impl From<Closed> for std::io::Error {
    fn from(e: Closed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::BrokenPipe, e)
    }
}

/// Why [`BodySender::try_send`] did not take the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrySendError {
    /// The buffer is full: the client reads slower than this producer
    /// writes. The bytes come back.
    Full(Vec<u8>),
    /// The client is gone.
    Closed(Vec<u8>),
}

impl fmt::Display for TrySendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the response stream is full"),
            TrySendError::Closed(_) => f.write_str("the response stream is closed"),
        }
    }
}

impl std::error::Error for TrySendError {}

impl BodySender {
    /// Queues `bytes`, waiting while the buffer is full (the client reads
    /// slowly). `Err(Closed)` once the client is gone: stop producing.
    ///
    /// Before the response starts (while the handler that made it still
    /// runs) nothing waits: bytes are queued, so a handler may send a first
    /// part itself without blocking its event loop.
    pub fn send(&self, bytes: impl Into<Vec<u8>>) -> Result<(), Closed> {
        self.send_until(bytes.into(), None).map_err(|e| match e {
            TrySendError::Full(b) | TrySendError::Closed(b) => Closed(b),
        })
    }

    /// Like [`send`](Self::send), but gives up after `timeout` with
    /// `TrySendError::Full`.
    pub fn send_timeout(
        &self,
        bytes: impl Into<Vec<u8>>,
        timeout: Duration,
    ) -> Result<(), TrySendError> {
        self.send_until(bytes.into(), Some(Instant::now() + timeout))
    }

    /// Queues `bytes` if there is room now, without waiting.
    pub fn try_send(&self, bytes: impl Into<Vec<u8>>) -> Result<(), TrySendError> {
        let bytes = bytes.into();
        let mut state = self.channel.lock();
        if state.closed() {
            return Err(TrySendError::Closed(bytes));
        }
        if !state.has_room() {
            return Err(TrySendError::Full(bytes));
        }
        let wake = state.push(bytes);
        drop(state);
        self.channel.wake(wake);
        Ok(())
    }

    fn send_until(&self, bytes: Vec<u8>, until: Option<Instant>) -> Result<(), TrySendError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut state = self.channel.lock();
        loop {
            if state.closed() {
                return Err(TrySendError::Closed(bytes));
            }
            // Until the response starts nothing takes bytes out, and the
            // sender may be the handler itself, on the event loop: waiting
            // there would hang the worker. Queue instead.
            if state.has_room() || state.control.is_none() {
                break;
            }
            state = match until {
                None => self
                    .channel
                    .room
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(TrySendError::Full(bytes));
                    }
                    self.channel
                        .room
                        .wait_timeout(state, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        let wake = state.push(bytes);
        drop(state);
        self.channel.wake(wake);
        Ok(())
    }

    /// Whether producing more is wasted: the client is gone, the body was
    /// cut, or it ended on a drain.
    pub fn is_closed(&self) -> bool {
        self.channel.lock().closed()
    }

    /// Whether the server is shutting down: end the stream soon (at the
    /// grace deadline the connection is closed).
    pub fn is_draining(&self) -> bool {
        self.channel.lock().draining
    }

    /// Ends the body by itself when the server drains, after what is
    /// queued: for a producer that only sends when something happens (a
    /// feed of changes) and would otherwise hold the connection open until
    /// the grace deadline. Producers still holding a sender learn it from
    /// their next send. The body then ends cleanly, so use it only for
    /// streams that may stop anywhere (events), never for a document that
    /// must arrive whole.
    pub fn end_on_drain(&self) {
        let mut state = self.channel.lock();
        state.end_on_drain = true;
        let wake = if state.draining {
            state.end(false)
        } else {
            None
        };
        drop(state);
        self.channel.wake(wake);
    }

    /// Bytes queued and not yet taken by the connection.
    pub fn buffered(&self) -> usize {
        self.channel.lock().buffered
    }

    /// Ends the body: what was sent goes out, then the end of the stream.
    pub fn finish(self) {
        // Dropping the last sender finishes the body.
    }

    /// Cuts the response: the connection closes without ending the body,
    /// so the client knows it is incomplete.
    pub fn abort(self) {
        let wake = self.channel.lock().end(true);
        self.channel.room.notify_all();
        self.channel.wake(wake);
    }
}

impl Clone for BodySender {
    fn clone(&self) -> BodySender {
        self.channel.lock().senders += 1;
        BodySender {
            channel: self.channel.clone(),
        }
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        let mut state = self.channel.lock();
        state.senders -= 1;
        // A producer (any of them) that panicked did not finish its part:
        // never let a cut body look complete.
        let panicked = std::thread::panicking();
        if state.senders == 0 || panicked {
            let wake = state.end(panicked);
            drop(state);
            self.channel.wake(wake);
        }
    }
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.channel.lock();
        f.debug_struct("BodySender")
            .field("buffered", &state.buffered)
            .field("closed", &state.closed())
            .finish()
    }
}

/// The channel between producers and the connection.
pub(crate) struct Channel {
    state: Mutex<ChannelState>,
    /// Producers waiting for room (or for the client to go).
    room: Condvar,
}

struct ChannelState {
    chunks: VecDeque<Vec<u8>>,
    buffered: usize,
    capacity: usize,
    senders: usize,
    /// No more bytes will come (every sender is done).
    finished: bool,
    /// A sender cut the response.
    aborted: bool,
    /// The connection is done with the body (sent, or the client left).
    gone: bool,
    draining: bool,
    /// The body ends when a drain begins.
    end_on_drain: bool,
    /// The connection waits for bytes; the next push must wake it.
    parked: bool,
    control: Option<Control>,
    /// Bytes the connection sends after this long without any (an event
    /// stream's comment), so that proxies and clients see it alive.
    keep_alive: Option<(Duration, &'static [u8])>,
}

/// The receiving side: when the last holder lets go (the response was sent,
/// dropped unsent, or replaced), producers learn the body is not wanted.
pub(crate) struct Receiver(pub(crate) Arc<Channel>);

impl Drop for Receiver {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl std::ops::Deref for Receiver {
    type Target = Channel;
    fn deref(&self) -> &Channel {
        &self.0
    }
}

/// What the connection should do next with a stream.
pub(crate) enum Pull {
    /// Bytes to write.
    Bytes(Vec<u8>),
    /// Nothing yet: wait for a wake-up.
    Wait,
    /// The body is complete.
    End,
    /// The producer cut the response.
    Abort,
}

impl ChannelState {
    /// Whether sending more is pointless: the client is gone, the body was
    /// cut, or it ended on a drain.
    fn closed(&self) -> bool {
        self.gone || self.aborted || self.finished
    }

    /// Room for one more chunk: under capacity, or nothing buffered (so a
    /// single chunk larger than the capacity still goes).
    fn has_room(&self) -> bool {
        self.buffered < self.capacity || self.chunks.is_empty()
    }

    /// Queues a chunk; returns the control to wake, if the loop waits.
    fn push(&mut self, bytes: Vec<u8>) -> Option<Control> {
        self.buffered += bytes.len();
        self.chunks.push_back(bytes);
        self.unpark()
    }

    fn end(&mut self, aborted: bool) -> Option<Control> {
        self.finished = true;
        self.aborted |= aborted;
        self.unpark()
    }

    fn unpark(&mut self) -> Option<Control> {
        if self.parked {
            self.parked = false;
            self.control.clone()
        } else {
            None
        }
    }
}

impl Channel {
    pub(crate) fn new(capacity: usize) -> (Arc<Channel>, BodySender) {
        let channel = Arc::new(Channel {
            state: Mutex::new(ChannelState {
                chunks: VecDeque::new(),
                buffered: 0,
                capacity: capacity.max(1),
                senders: 1,
                finished: false,
                aborted: false,
                gone: false,
                draining: false,
                end_on_drain: false,
                parked: false,
                control: None,
                keep_alive: None,
            }),
            room: Condvar::new(),
        });
        let sender = BodySender {
            channel: channel.clone(),
        };
        (channel, sender)
    }

    fn lock(&self) -> MutexGuard<'_, ChannelState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self, control: Option<Control>) {
        if let Some(control) = control {
            if control.ready(Next::write()).is_err() {
                // The request is gone already.
                self.close();
            }
        }
    }

    /// Sends `bytes` after `every` without anything else to send.
    pub(crate) fn set_keep_alive(&self, every: Duration, bytes: &'static [u8]) {
        self.lock().keep_alive = Some((every, bytes));
    }

    /// The keep-alive interval and bytes, if any.
    pub(crate) fn keep_alive(&self) -> Option<(Duration, &'static [u8])> {
        self.lock().keep_alive
    }

    /// Whether the connection waits for the producer.
    pub(crate) fn is_parked(&self) -> bool {
        self.lock().parked
    }

    /// The connection starts sending: wake-ups go through `control`.
    pub(crate) fn bind(&self, control: Control) {
        self.lock().control = Some(control);
    }

    /// The next thing to write, or what to do instead.
    pub(crate) fn pull(&self) -> Pull {
        let mut state = self.lock();
        if state.aborted {
            return Pull::Abort;
        }
        if let Some(chunk) = state.chunks.pop_front() {
            state.buffered -= chunk.len();
            drop(state);
            self.room.notify_all();
            return Pull::Bytes(chunk);
        }
        if state.finished {
            return Pull::End;
        }
        state.parked = true;
        Pull::Wait
    }

    /// The connection is done with the body: producers stop.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.gone = true;
        state.chunks.clear();
        state.buffered = 0;
        state.control = None;
        drop(state);
        self.room.notify_all();
    }

    /// The server drains: producers see it through `is_draining`, and a
    /// body that asked to ends here.
    pub(crate) fn drain(&self) {
        let mut state = self.lock();
        state.draining = true;
        let wake = if state.end_on_drain {
            state.end(false)
        } else {
            None
        };
        drop(state);
        // A producer waiting for room learns the body ended.
        self.room.notify_all();
        self.wake(wake);
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulled(channel: &Channel) -> Vec<u8> {
        match channel.pull() {
            Pull::Bytes(bytes) => bytes,
            _ => panic!("expected bytes"),
        }
    }

    #[test]
    fn a_body_that_ends_on_drain_sends_what_was_queued_then_ends() {
        let (channel, sender) = Channel::new(64);
        sender.end_on_drain();
        sender.send("one").unwrap();
        channel.drain();
        assert!(sender.is_draining() && sender.is_closed());
        assert!(
            sender.send("two").is_err(),
            "nothing is taken after the end"
        );
        assert_eq!(pulled(&channel), b"one");
        assert!(matches!(channel.pull(), Pull::End));
    }

    #[test]
    fn asking_during_a_drain_ends_at_once_and_other_bodies_carry_on() {
        let (channel, sender) = Channel::new(64);
        channel.drain();
        sender.send("still wanted").unwrap();
        assert_eq!(pulled(&channel), b"still wanted");
        assert!(
            matches!(channel.pull(), Pull::Wait),
            "no end without asking"
        );
        sender.end_on_drain();
        assert!(matches!(channel.pull(), Pull::End));
    }
}
