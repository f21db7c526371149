//! Serving one connection in memory, without a socket: the same connection
//! state machine, timers and `Control` wake-ups as a server, fed with bytes
//! by the caller. For test clients and fuzzing.
//!
//! ```
//! use turnstile_core::local::LocalConnection;
//! use turnstile_core::{Control, Handler, Next, Request, ResponseHead};
//!
//! struct NoContent;
//! impl Handler for NoContent {
//!     fn on_request(&mut self, _: Request) -> Next { Next::write() }
//!     fn on_response(&mut self, res: &mut ResponseHead) -> Next {
//!         res.set_status(turnstile_core::StatusCode::NO_CONTENT);
//!         Next::end()
//!     }
//! }
//!
//! let mut conn = LocalConnection::new(|_: Control| NoContent).unwrap();
//! conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
//! let done = conn.run_until(|out| out.ends_with(b"\r\n\r\n"), std::time::Duration::from_secs(5)).unwrap();
//! assert!(done);
//! assert!(conn.output().starts_with(b"HTTP/1.1 204 No Content\r\n"));
//! ```

use std::io;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use crate::conn::{Conn, Flow};
use crate::control::{ConnShared, LoopShared, Wakeup};
use crate::memory::MemoryTransport;
use crate::server::config::Config;
use crate::server::context::Context;
use crate::transport::{Socket, TlsStream, Transport};
use crate::HandlerFactory;

const WAKER: Token = Token(0);

/// One in-memory connection and the loop pieces it needs.
pub struct LocalConnection<F: HandlerFactory> {
    conn: Option<Conn<F::Handler>>,
    output: Vec<u8>,
    factory: F,
    cx: Context,
    poll: Poll,
    events: Events,
    shared: Arc<LoopShared>,
    wakeups: Vec<Wakeup>,
    /// Readiness edges not yet reported (new input, input closed): like
    /// epoll in edge-triggered mode, the connection hears of new bytes once.
    edge: (bool, bool),
}

impl<F: HandlerFactory> LocalConnection<F> {
    /// A connection with the server's default limits and timeouts.
    pub fn new(factory: F) -> io::Result<LocalConnection<F>> {
        LocalConnection::over(factory, Transport::Memory(MemoryTransport::default()))
    }

    /// A connection as a TLS listener with `tls` would serve it: what the
    /// caller sends is TLS records, and so is the output.
    pub fn with_tls(factory: F, tls: &crate::tls::TlsConfig) -> io::Result<LocalConnection<F>> {
        let session = rustls::ServerConnection::new(tls.server.clone())
            .map_err(|e| io::Error::other(format!("TLS session not created: {e}")))?;
        let stream = TlsStream::server(Socket::Memory(MemoryTransport::default()), session);
        LocalConnection::over(factory, Transport::Tls(Box::new(stream)))
    }

    fn over(factory: F, transport: Transport) -> io::Result<LocalConnection<F>> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let shared = Arc::new(LoopShared::new(waker));
        let now = Instant::now();
        let conn_shared = Arc::new(ConnShared {
            current: AtomicU64::new(0),
            shared: shared.clone(),
        });
        Ok(LocalConnection {
            conn: Some(Conn::new(transport, 1, 0, None, conn_shared, now)),
            output: Vec::new(),
            factory,
            cx: Context::new(Arc::new(Config::default()), now),
            poll,
            events: Events::with_capacity(8),
            shared,
            wakeups: Vec::new(),
            edge: (true, false),
        })
    }

    /// Hands `bytes` to the connection and lets it work on them.
    pub fn send(&mut self, bytes: &[u8]) {
        if let Some(conn) = &mut self.conn {
            memory(conn).input.extend_from_slice(bytes);
            self.edge.0 = true;
        }
        self.turn();
    }

    /// The peer closes its sending half.
    pub fn close_input(&mut self) {
        if let Some(conn) = &mut self.conn {
            memory(conn).input_closed = true;
            self.edge.1 = true;
        }
        self.turn();
    }

    /// Everything the connection wrote so far.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Takes what the connection wrote so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Whether the connection closed.
    pub fn is_closed(&self) -> bool {
        self.conn.is_none()
    }

    /// Runs the connection (its timers, and wake-ups from `Control`s on
    /// other threads) until `done` says the output is complete, the
    /// connection closes, or `limit` passes. Returns whether `done` held.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&[u8]) -> bool,
        limit: Duration,
    ) -> io::Result<bool> {
        let give_up = Instant::now() + limit;
        loop {
            self.turn();
            if done(&self.output) {
                return Ok(true);
            }
            let Some(conn) = &self.conn else {
                return Ok(false);
            };
            let now = Instant::now();
            if now >= give_up {
                return Ok(false);
            }
            let until = conn.deadline.map_or(give_up, |d| d.min(give_up));
            let wait = until.saturating_duration_since(now) + Duration::from_micros(500);
            match self.poll.poll(&mut self.events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            self.cx.now = Instant::now();
            self.cx.date.refresh(self.cx.now);
            self.shared.drain_into(&mut self.wakeups);
            let mut flow = Flow::Keep;
            if let Some(conn) = &mut self.conn {
                for wakeup in self.wakeups.drain(..) {
                    if conn.exchange_id() == Some(wakeup.exchange) {
                        conn.wake(wakeup.next, self.cx.now);
                    }
                }
                if conn.deadline.is_some_and(|d| d <= self.cx.now) {
                    flow = conn.on_timeout(&mut self.cx, &mut self.factory);
                }
            }
            self.settle(flow);
        }
    }

    /// Drives the connection until it waits.
    fn turn(&mut self) {
        for _ in 0..1024 {
            let Some(conn) = &mut self.conn else {
                return;
            };
            self.cx.now = Instant::now();
            let (readable, closed) = std::mem::take(&mut self.edge);
            conn.on_event(readable, true, closed);
            conn.prepare_write_buffer(&mut self.cx);
            let flow = conn.drive(&mut self.cx, &mut self.factory);
            let again = flow == Flow::Again;
            self.settle(flow);
            if !again {
                return;
            }
        }
    }

    /// Collects output and drops a closed connection.
    fn settle(&mut self, flow: Flow) {
        if let Some(conn) = &mut self.conn {
            self.output.append(&mut memory(conn).output);
            if flow == Flow::Close {
                if let Some(mut conn) = self.conn.take() {
                    conn.abort();
                    self.output.append(&mut memory(&mut conn).output);
                }
            }
        }
    }
}

impl<F: HandlerFactory> Drop for LocalConnection<F> {
    fn drop(&mut self) {
        self.shared.mark_stopped();
        if let Some(mut conn) = self.conn.take() {
            conn.abort();
        }
    }
}

/// The memory pipe under a local connection.
fn memory<H: crate::Handler>(conn: &mut Conn<H>) -> &mut MemoryTransport {
    conn.transport_mut()
        .memory()
        .expect("a local connection runs over memory")
}

impl<F: HandlerFactory> std::fmt::Debug for LocalConnection<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalConnection").finish_non_exhaustive()
    }
}
