//! The blocking server: `handle(&self, Request, Response)` with `io::Read`
//! and `io::Write` bodies, run on a bounded thread pool over the async
//! engine.
//!
//! The engine reads every head itself, so a slow client never holds a
//! thread while its head arrives; only a complete head takes a thread.
//! Body bytes then flow through 64 KiB queues both ways, with the request's
//! `Control` waking the loop, so a slow reader or writer is backpressured
//! rather than buffered.
//!
//! The cost against the async API: one pool thread per request in flight,
//! a lock and a condition variable per body chunk, and a few allocations
//! per request (the bridge and its queues). Use it where blocking code is
//! the simplest thing (a database driver, a file system walk); write a
//! `Handler` for the hot paths.

use std::io;
use std::net::ToSocketAddrs;
use std::sync::Arc;

use super::bridge::{self, Bridge, Shared};
use super::pool::ThreadPool;
use crate::header::{Header, Headers};
use crate::{
    Control, Decoder, Encoder, Error, HandlerFactory, Next, Outcome, Request as Head,
    ResponseHead as CoreResponse, ServerHandle, StatusCode,
};

/// What a blocking handler does with one request.
pub trait Handler: Send + Sync + 'static {
    /// Handles `request`, answering through `response` (which sends an empty
    /// `200` if nothing was written when it drops).
    fn handle(&self, request: Request, response: Response);
}

impl<F: Fn(Request, Response) + Send + Sync + 'static> Handler for F {
    fn handle(&self, request: Request, response: Response) {
        self(request, response)
    }
}

type ResponseHead = (StatusCode, Headers);

/// The request: its head, and its body as [`io::Read`].
pub struct Request {
    head: Head,
    bridge: Arc<Bridge<ResponseHead>>,
    control: Control,
}

impl std::ops::Deref for Request {
    type Target = Head;
    fn deref(&self) -> &Head {
        &self.head
    }
}

impl io::Read for Request {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let mut state = self.bridge.lock();
        loop {
            if !state.incoming.is_empty() {
                let was_full = state.incoming.room() == 0;
                let n = state.incoming.take_into(out);
                if was_full {
                    // The loop stopped reading for lack of room.
                    bridge::wake(&self.control, loop_interest(&state));
                }
                return Ok(n);
            }
            if let Some(e) = &state.incoming_error {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e.clone()));
            }
            if state.incoming.done {
                return Ok(0);
            }
            if let Some(kind) = state.closed {
                return Err(kind.into());
            }
            if !state.incoming.wanted {
                state.incoming.wanted = true;
                bridge::wake(&self.control, loop_interest(&state));
            }
            state = self.bridge.wait(state)?;
        }
    }
}

/// The response: status and headers, then the body as [`io::Write`]. The
/// head goes out with the first write (or when the response drops).
pub struct Response {
    status: StatusCode,
    headers: Headers,
    head_sent: bool,
    finished: bool,
    bridge: Arc<Bridge<ResponseHead>>,
    control: Control,
}

impl Response {
    /// The status (default `200`).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Sets the status, before the first write.
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// The header fields, to change before the first write.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// Sets a typed header.
    pub fn set_header<H: Header>(&mut self, header: &H) {
        self.headers.set_typed(header);
    }

    /// Sets `Content-Length` (otherwise the body is chunked).
    pub fn set_content_length(&mut self, length: u64) {
        self.headers
            .set_typed(&crate::header::ContentLength(length));
    }

    fn send_head(&mut self) -> io::Result<()> {
        if self.head_sent {
            return Ok(());
        }
        self.head_sent = true;
        let mut state = self.bridge.lock();
        if let Some(kind) = state.closed {
            return Err(kind.into());
        }
        state.head = Some((self.status, std::mem::take(&mut self.headers)));
        bridge::wake(&self.control, loop_interest(&state));
        Ok(())
    }

    /// Ends the body; further writes fail.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        self.send_head()?;
        self.finished = true;
        let mut state = self.bridge.lock();
        state.outgoing.done = true;
        bridge::wake(&self.control, loop_interest(&state));
        Ok(())
    }
}

impl io::Write for Response {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.finished {
            return Err(io::Error::other("response already finished"));
        }
        if data.is_empty() {
            return Ok(0);
        }
        self.send_head()?;
        let mut state = self.bridge.lock();
        loop {
            if let Some(kind) = state.closed {
                return Err(kind.into());
            }
            let room = state.outgoing.room();
            if room > 0 {
                let was_empty = state.outgoing.is_empty();
                let n = room.min(data.len());
                state.outgoing.push(&data[..n]);
                if was_empty {
                    bridge::wake(&self.control, loop_interest(&state));
                }
                return Ok(n);
            }
            state = self.bridge.wait(state)?;
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_head()
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.head_sent {
            log::error!("a blocking handler panicked; answering 500");
            self.status = StatusCode::INTERNAL_SERVER_ERROR;
            self.headers.clear();
            self.set_content_length(0);
        }
        if let Err(e) = self.finish() {
            log::debug!("response could not finish: {e}");
        }
    }
}

/// What the loop side should do next, from the shared state.
fn loop_interest(state: &Shared<ResponseHead>) -> Next {
    if state.head_taken && state.outgoing.done && state.outgoing.is_empty() {
        return Next::end();
    }
    let read = state.incoming.wanted && !state.incoming.done && state.incoming.room() > 0;
    let write = state.head.is_some() || (state.head_taken && !state.outgoing.is_empty());
    bridge::interest(read, write)
}

/// The loop side of one blocking request.
pub struct SyncHandler<H> {
    handler: Arc<H>,
    pool: Arc<ThreadPool>,
    control: Control,
    bridge: Arc<Bridge<ResponseHead>>,
    /// The pool was full: answer 503 here.
    busy: bool,
}

const BUSY: &[u8] = b"server busy\n";

impl<H: Handler> crate::Handler for SyncHandler<H> {
    fn on_request(&mut self, head: Head) -> Next {
        let request = Request {
            head,
            bridge: self.bridge.clone(),
            control: self.control.clone(),
        };
        let response = Response {
            status: StatusCode::OK,
            headers: Headers::new(),
            head_sent: false,
            finished: false,
            bridge: self.bridge.clone(),
            control: self.control.clone(),
        };
        let handler = self.handler.clone();
        // A panic is caught by the pool; the response, dropped while
        // unwinding, answers 500 if nothing was sent yet.
        let job = move || handler.handle(request, response);
        if self.pool.execute(job).is_err() {
            log::warn!("blocking pool is full; answering 503");
            self.busy = true;
            return Next::write();
        }
        loop_interest(&self.bridge.lock())
    }

    fn on_request_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let mut state = self.bridge.lock();
        let mut chunk = [0u8; 16 * 1024];
        while state.incoming.room() > 0 && !state.incoming.done {
            let want = state.incoming.room().min(chunk.len());
            match io::Read::read(decoder, &mut chunk[..want]) {
                Ok(0) => state.incoming.done = true,
                Ok(n) => state.incoming.push(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    state.incoming_error = Some(e.to_string());
                    state.incoming.done = true;
                }
            }
        }
        self.bridge.notify();
        loop_interest(&state)
    }

    fn on_response(&mut self, response: &mut CoreResponse) -> Next {
        if self.busy {
            response.set_status(StatusCode::SERVICE_UNAVAILABLE);
            response.set_content_length(BUSY.len() as u64);
            return Next::write();
        }
        let mut state = self.bridge.lock();
        if let Some((status, headers)) = state.head.take() {
            response.set_status(status);
            for (name, value) in headers.raw_iter() {
                response.headers_mut().push_unchecked(name, value);
            }
            state.head_taken = true;
        }
        self.bridge.notify();
        loop_interest(&state)
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        if self.busy {
            return match io::Write::write(encoder, BUSY) {
                Ok(n) if n == BUSY.len() => Next::end(),
                _ => Next::remove(),
            };
        }
        let mut state = self.bridge.lock();
        let mut progressed = false;
        while !state.outgoing.is_empty() {
            match io::Write::write(encoder, state.outgoing.front()) {
                Ok(n) => {
                    state.outgoing.consume(n);
                    progressed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    state.closed = Some(e.kind());
                    self.bridge.notify();
                    return Next::remove();
                }
            }
        }
        if progressed {
            self.bridge.notify();
        }
        match loop_interest(&state) {
            // Writing stalled on the socket: come back when it drains.
            next if !state.outgoing.is_empty() => {
                if next == Next::read() {
                    Next::read_and_write()
                } else {
                    Next::write()
                }
            }
            next => next,
        }
    }

    fn on_error(&mut self, error: Error) -> Next {
        log::debug!("blocking request failed: {error}");
        let mut state = self.bridge.lock();
        state.closed = Some(io::ErrorKind::ConnectionAborted);
        self.bridge.notify();
        Next::remove()
    }

    fn on_done(&mut self, outcome: Outcome) {
        let mut state = self.bridge.lock();
        if state.closed.is_none() {
            state.closed = Some(match outcome {
                Outcome::Completed => io::ErrorKind::BrokenPipe,
                Outcome::Aborted => io::ErrorKind::ConnectionAborted,
            });
        }
        self.bridge.notify();
    }
}

/// Makes a [`SyncHandler`] per request; what the blocking server runs.
pub struct SyncFactory<H> {
    handler: Arc<H>,
    pool: Arc<ThreadPool>,
}

impl<H> Clone for SyncFactory<H> {
    fn clone(&self) -> Self {
        SyncFactory {
            handler: self.handler.clone(),
            pool: self.pool.clone(),
        }
    }
}

impl<H: Handler> HandlerFactory for SyncFactory<H> {
    type Handler = SyncHandler<H>;

    fn create(&mut self, control: Control) -> SyncHandler<H> {
        SyncHandler {
            handler: self.handler.clone(),
            pool: self.pool.clone(),
            control,
            bridge: Arc::new(Bridge::new()),
            busy: false,
        }
    }
}

/// A blocking server: a core [`Server`](crate::Server) whose requests run
/// on a thread pool.
///
/// ```no_run
/// use std::io::{Read, Write};
/// use turnstile_core::sync;
///
/// let server = sync::Server::bind("127.0.0.1:3000")?
///     .threads(8)
///     .serve(|mut request: sync::Request, mut response: sync::Response| {
///         let mut body = Vec::new();
///         let _ = request.read_to_end(&mut body);
///         let _ = write!(response, "{} bytes", body.len());
///     })?;
/// server.join();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    server: crate::Server,
    threads: usize,
    queue: usize,
}

impl Server {
    /// Binds `addr` with the engine's defaults.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server::on(crate::Server::bind(addr)?))
    }

    /// Runs on a configured core server (limits, timeouts, workers).
    pub fn on(server: crate::Server) -> Server {
        Server {
            server,
            threads: 16,
            queue: 1024,
        }
    }

    /// Threads handling requests (default 16).
    pub fn threads(mut self, threads: usize) -> Server {
        self.threads = threads;
        self
    }

    /// Requests that may wait for a thread (default 1024); beyond it the
    /// engine answers `503` at once.
    pub fn queue(mut self, queue: usize) -> Server {
        self.queue = queue;
        self
    }

    /// Starts serving with `handler`.
    pub fn serve<H: Handler>(self, handler: H) -> io::Result<ServerHandle> {
        let factory = SyncFactory {
            handler: Arc::new(handler),
            pool: Arc::new(ThreadPool::named(
                "turnstile-sync",
                self.threads,
                self.queue,
            )),
        };
        self.server.serve(factory)
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl<H> std::fmt::Debug for SyncFactory<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncFactory").finish_non_exhaustive()
    }
}

impl<H> std::fmt::Debug for SyncHandler<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHandler").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request").finish_non_exhaustive()
    }
}
