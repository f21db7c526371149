//! One connection's state machine: every transition of a server connection
//! is in this file.
//!
//! ```text
//!            bytes            head parsed               Next::end()
//!   Head ───────────▶ Head ─────────────▶ Exchange ─────────────────▶ Head (keep-alive)
//!    │  (idle/partial)  │ bad head: 4xx       │  read / write / wait        │
//!    │                  ▼                     │  Next::remove(): close      ▼
//!    └── timeout ──▶ Closing ◀────────────────┴───────── no keep-alive ── Closing
//!                 (flush, shut down writes, linger to drain, close)
//!                                         │ 101 + on_upgrade()
//!                                         ▼
//!                                      Upgraded ── Next::end() ──▶ Closing
//! ```
//!
//! The connection reads only when it needs bytes (a head, or a body the
//! handler asked for), writes everything into one buffer and flushes it when
//! it runs out of work, so pipelined responses leave in one write. The
//! readiness hints `readable` and `writable` remember what edge-triggered
//! `mio` told us until a read or write returns `WouldBlock`.

use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::buffer::WriteBuf;
use crate::control::ConnShared;
use crate::h1::decode::BodyDecoder;
use crate::h1::encode::{self, BodyEncoder, HeadContext};
use crate::h1::parse::BodyFraming;
use crate::header::Headers;
use crate::io::Io;
use crate::next::Interest;
use crate::server::context::Context;
use crate::transport::Transport;
use crate::upgrade::{self, Protocol};
use crate::{
    Control, Decoder, Encoder, Error, Handler, HandlerFactory, Method, Next, Outcome, ResponseHead,
    StatusCode, Version,
};

/// Most handler callbacks in one turn before other connections get theirs.
const CALLS_PER_TURN: u32 = 64;

/// Unread request bodies up to this size are skipped to keep the
/// connection; larger ones close it.
const MAX_DISCARD: u64 = 256 * 1024;

/// What the worker should do with the connection after a turn.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep it; it is waiting for an event, a wake-up or a timer.
    Keep,
    /// It used its turn with work left: drive it again soon.
    Again,
    /// Close and remove it.
    Close,
}

pub(crate) struct Conn<H> {
    io: Io,
    /// Unique per worker, so timers of a closed connection never fire on the
    /// next one in its slot.
    pub(crate) id: u64,
    slot: usize,
    remote_addr: Option<SocketAddr>,
    shared: Arc<ConnShared>,
    state: State<H>,
    /// Requests served so far (the first head gets the head timeout from
    /// accept; later ones the idle timeout).
    served: u64,
    /// The rest of a body its handler did not read, skipped before the next
    /// head.
    discard: Option<BodyDecoder>,
    /// Bytes of unread body still worth skipping to keep the connection; a
    /// chunked body has no length to judge up front.
    discard_budget: u64,
    response: ResponseHead,
    trailers: Headers,
    /// When the current state started waiting; deadlines count from here.
    since: Instant,
    /// When the timer should fire for this connection.
    pub(crate) deadline: Option<Instant>,
    /// The earliest timer entry queued for it.
    pub(crate) scheduled: Option<Instant>,
}

enum State<H> {
    /// Waiting for a request head: idle when the buffer is empty.
    Head { partial_since: Option<Instant> },
    /// A handler owns the request.
    Exchange(Exchange<H>),
    /// After `101 Switching Protocols`: a protocol owns the connection.
    Upgraded(Upgraded),
    /// Flushing what is written, then closing gracefully.
    Closing { write_shut: bool },
    /// Aborted: close now, without flushing or lingering.
    Dead,
}

/// A protocol running on the connection after an upgrade.
struct Upgraded {
    protocol: Box<dyn Protocol>,
    /// The upgrading exchange's id: its `Control` keeps waking the protocol.
    id: u64,
    next: Next,
}

struct Exchange<H> {
    handler: H,
    id: u64,
    next: Next,
    head_request: bool,
    version: Version,
    body: BodyDecoder,
    body_error: Option<&'static str>,
    body_error_reported: bool,
    body_end_reported: bool,
    /// `100 Continue` is owed before the first body read.
    expect_continue: bool,
    /// The client offered an upgrade, so a 101 may answer it.
    upgrade_offered: bool,
    /// A 101 head went out: the connection goes to a protocol at the end.
    switching: bool,
    /// The client allows reuse (its headers and version).
    keep_alive: bool,
    /// Set once the head is serialized.
    encoder: Option<BodyEncoder>,
    /// Where the head starts in the outgoing stream: a panic before any of
    /// it was sent can still be answered 500.
    head_mark: u64,
    /// When the handler first asked for the body, and how much of it has
    /// arrived since: a body must keep up a minimum average rate.
    body_started: Option<Instant>,
    body_bytes: u64,
    /// The handler was told the peer left while it waited.
    hangup_reported: bool,
}

/// Runs one handler callback; a panic becomes [`Next::panicked`], so one
/// broken request never takes the worker and its other connections down.
fn guard(callback: impl FnOnce() -> Next) -> Next {
    match catch_unwind(AssertUnwindSafe(callback)) {
        Ok(next) => next,
        Err(_) => {
            log::error!("a handler panicked; its request is answered 500 or closed");
            Next::panicked()
        }
    }
}

/// Ends an exchange: the handler hears how (under the guard, so a panic in
/// `on_done` costs only this request), and its `Control` is retired so a
/// late wake-up cannot reach the next request on the connection.
fn retire<H: Handler>(handler: &mut H, shared: &ConnShared, outcome: Outcome) {
    guard(|| {
        handler.on_done(outcome);
        Next::end()
    });
    shared.current.store(0, Ordering::Release);
}

/// Ends an upgraded connection's protocol, and with it the upgrading
/// exchange's `Control`.
fn retire_protocol(up: &mut Upgraded, shared: &ConnShared) {
    guard(|| {
        up.protocol.on_done();
        Next::end()
    });
    shared.current.store(0, Ordering::Release);
}

impl<H: Handler> Conn<H> {
    pub(crate) fn new(
        transport: Transport,
        id: u64,
        slot: usize,
        remote_addr: Option<SocketAddr>,
        shared: Arc<ConnShared>,
        now: Instant,
    ) -> Conn<H> {
        Conn {
            io: Io::new(transport, true),
            id,
            slot,
            remote_addr,
            shared,
            state: State::Head {
                partial_since: None,
            },
            served: 0,
            discard: None,
            discard_budget: 0,
            response: ResponseHead::new(),
            trailers: Headers::new(),
            since: now,
            deadline: None,
            scheduled: None,
        }
    }

    pub(crate) fn transport_mut(&mut self) -> &mut Transport {
        &mut self.io.transport
    }

    /// Records what the poller reported.
    pub(crate) fn on_event(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.io.on_event(readable, writable, read_closed);
    }

    /// The id of the exchange a handler is serving, if any.
    pub(crate) fn exchange_id(&self) -> Option<u64> {
        match &self.state {
            State::Exchange(ex) => Some(ex.id),
            State::Upgraded(up) => Some(up.id),
            _ => None,
        }
    }

    /// Whether only the lingering close is left (nothing more to send).
    pub(crate) fn is_lingering(&self) -> bool {
        matches!(self.state, State::Closing { write_shut: true })
    }

    /// A `Control` asked for `next`.
    pub(crate) fn wake(&mut self, next: Next, now: Instant) {
        match &mut self.state {
            State::Exchange(ex) => ex.next = next,
            State::Upgraded(up) => up.next = next,
            _ => return,
        }
        self.since = now;
    }

    /// Applies the server-wide shutdown: no more requests on this connection.
    pub(crate) fn begin_shutdown(&mut self, now: Instant) {
        if let State::Upgraded(up) = &mut self.state {
            up.next = guard(|| up.protocol.on_error(Error::ShuttingDown));
            self.since = now;
            return;
        }
        if let State::Exchange(ex) = &mut self.state {
            let told = catch_unwind(AssertUnwindSafe(|| ex.handler.on_shutdown()))
                .unwrap_or_else(|_| Some(Next::panicked()));
            if let Some(next) = told {
                ex.next = next;
                self.since = now;
            }
            return;
        }
        if let State::Head {
            partial_since: None,
        } = self.state
        {
            if self.io.read_buf.is_empty() && self.discard.is_none() {
                self.since = now;
                self.state = State::Closing { write_shut: false };
            }
        }
    }

    /// The deadline passed: answer for the state the connection is in.
    pub(crate) fn on_timeout<F>(&mut self, cx: &mut Context, factory: &mut F) -> Flow
    where
        F: HandlerFactory<Handler = H>,
    {
        self.deadline = None;
        match &mut self.state {
            State::Head { partial_since } => {
                if partial_since.is_some() {
                    log::debug!("head timeout from {:?}", self.remote_addr);
                    self.fail(
                        StatusCode::REQUEST_TIMEOUT,
                        "request head not received in time",
                        cx,
                    );
                    self.drive(cx, factory)
                } else {
                    Flow::Close
                }
            }
            State::Exchange(ex) => {
                ex.next = guard(|| ex.handler.on_error(Error::Timeout));
                self.since = cx.now;
                self.drive(cx, factory)
            }
            State::Upgraded(up) => {
                up.next = guard(|| up.protocol.on_error(Error::Timeout));
                self.since = cx.now;
                self.drive(cx, factory)
            }
            State::Closing { .. } | State::Dead => Flow::Close,
        }
    }

    /// The peer reset or hung up: abort whatever runs.
    pub(crate) fn on_hangup(&mut self) {
        self.tell(Error::Closed);
        self.abort();
    }

    /// Tells whoever owns the connection about `error` (what it answers
    /// no longer matters: the connection goes).
    fn tell(&mut self, error: Error) {
        match &mut self.state {
            State::Exchange(ex) => {
                let _ = guard(|| ex.handler.on_error(error));
            }
            State::Upgraded(up) => {
                let _ = guard(|| up.protocol.on_error(error));
            }
            _ => {}
        }
    }

    /// Drops the handler, if any, telling it the exchange was abandoned.
    pub(crate) fn abort(&mut self) {
        match &mut self.state {
            State::Exchange(ex) => retire(&mut ex.handler, &self.shared, Outcome::Aborted),
            State::Upgraded(up) => retire_protocol(up, &self.shared),
            _ => {}
        }
        self.state = State::Dead;
    }

    /// Runs the state machine until it has to wait.
    pub(crate) fn drive<F>(&mut self, cx: &mut Context, factory: &mut F) -> Flow
    where
        F: HandlerFactory<Handler = H>,
    {
        let flow = match self.run(cx, factory) {
            Ok(flow) => flow,
            Err(e) => {
                log::debug!("connection {:?} failed: {e}", self.remote_addr);
                self.tell(Error::Io(e));
                self.abort();
                Flow::Close
            }
        };
        if flow != Flow::Close {
            self.deadline = self.deadline_for(cx);
            self.release_buffers(cx);
        }
        flow
    }

    fn run<F>(&mut self, cx: &mut Context, factory: &mut F) -> io::Result<Flow>
    where
        F: HandlerFactory<Handler = H>,
    {
        let mut calls = 0;
        loop {
            if calls >= CALLS_PER_TURN {
                self.flush()?;
                return Ok(Flow::Again);
            }
            let progressed = match self.state {
                State::Head { .. } => self.step_head(cx, factory)?,
                State::Exchange(_) => {
                    calls += 1;
                    self.step_exchange(cx)?
                }
                State::Upgraded(_) => {
                    calls += 1;
                    self.step_upgraded(cx)?
                }
                State::Closing { .. } => return self.step_closing(cx),
                State::Dead => return Ok(Flow::Close),
            };
            if !progressed {
                break;
            }
        }
        self.flush()?;
        Ok(Flow::Keep)
    }

    /// Writes out as much as the socket takes.
    fn flush(&mut self) -> io::Result<()> {
        self.io.flush().map(drop)
    }

    /// Reads once into the buffer (taking pooled storage first); returns
    /// false if nothing could be read.
    fn fill(&mut self, cx: &mut Context, limit: usize) -> io::Result<bool> {
        if !self.io.read_buf.has_storage() && self.io.readable && !self.io.peer_eof {
            if let Some(storage) = cx.read_pool.pop() {
                self.io.read_buf.give_storage(storage);
            }
        }
        self.io.fill(cx.config.read_buf_size, limit)
    }

    /// Between requests: skip an unread body, then parse the next head.
    fn step_head<F>(&mut self, cx: &mut Context, factory: &mut F) -> io::Result<bool>
    where
        F: HandlerFactory<Handler = H>,
    {
        if let Some(body) = &mut self.discard {
            match body.discard(self.io.read_buf.bytes()) {
                Ok(n) if n as u64 > self.discard_budget => {
                    log::debug!("unread body over {MAX_DISCARD} bytes; closing");
                    self.since = cx.now;
                    self.state = State::Closing { write_shut: false };
                    return Ok(true);
                }
                Ok(n) => {
                    self.discard_budget -= n as u64;
                    self.io.read_buf.consume(n);
                }
                Err(e) => {
                    log::debug!("unread body was malformed: {}", e.0);
                    self.since = cx.now;
                    self.state = State::Closing { write_shut: false };
                    return Ok(true);
                }
            }
            if body.is_done() {
                self.discard = None;
            } else {
                if self.io.peer_eof {
                    self.since = cx.now;
                    self.state = State::Closing { write_shut: false };
                    return Ok(true);
                }
                let size = cx.config.read_buf_size;
                return self.fill(cx, size);
            }
        }
        if !self.io.read_buf.is_empty() {
            let parsed = crate::h1::parse_request(
                self.io.read_buf.bytes(),
                &cx.config.limits,
                self.remote_addr,
            );
            match parsed {
                Ok(Some((mut request, head))) => {
                    self.io.read_buf.consume(head.len);
                    request.set_arrival(cx.now, self.io.transport.is_tls());
                    self.start_exchange(request, head, cx, factory);
                    return Ok(true);
                }
                Ok(None) => {}
                Err(e) => {
                    log::debug!("refused head from {:?}: {e}", self.remote_addr);
                    self.fail(e.status(), e.reason(), cx);
                    return Ok(true);
                }
            }
        }
        if self.io.peer_eof {
            // End of stream between requests, or inside a head: nothing more
            // will come to answer.
            self.since = cx.now;
            self.state = State::Closing { write_shut: false };
            return Ok(true);
        }
        // Pipelined responses the peer is not reading: stop taking requests
        // until it does.
        if self.io.write_buf.len() >= cx.config.write_high_water {
            self.flush()?;
            if self.io.write_buf.len() >= cx.config.write_high_water {
                return Ok(false);
            }
        }
        let was_empty = self.io.read_buf.is_empty();
        let limit = cx.config.limits.max_head_bytes + 1;
        loop {
            let before = self.io.read_buf.len();
            if !self.fill(cx, limit)? {
                return Ok(false);
            }
            if was_empty && !self.io.read_buf.is_empty() {
                self.state = State::Head {
                    partial_since: Some(cx.now),
                };
            }
            // A head can only complete at a line end: skip re-parsing
            // otherwise, so a peer dripping bytes costs no more than it
            // sends. The first bytes are always parsed, so garbage (a TLS
            // hello) is refused at once.
            let new = &self.io.read_buf.bytes()[before.min(self.io.read_buf.len())..];
            if was_empty
                || self.io.peer_eof
                || new.contains(&b'\n')
                || self.io.read_buf.len() >= limit
            {
                return Ok(true);
            }
            // Nothing to parse yet, but the socket may hold more: readiness
            // is edge-triggered, so read on until it says it would block.
        }
    }

    /// Writes an error response and closes after it.
    fn fail(&mut self, status: StatusCode, reason: &str, cx: &Context) {
        encode::write_error(self.io.write_buf.vec(), status, reason, cx.date.bytes());
        self.since = cx.now;
        self.state = State::Closing { write_shut: false };
    }

    fn start_exchange<F>(
        &mut self,
        request: crate::Request,
        head: crate::h1::RequestHead,
        cx: &mut Context,
        factory: &mut F,
    ) where
        F: HandlerFactory<Handler = H>,
    {
        cx.next_exchange += 1;
        let id = cx.next_exchange;
        self.shared.current.store(id, Ordering::Release);
        self.served += 1;
        self.since = cx.now;
        let control = Control::new(self.shared.clone(), self.slot, id);
        let Ok(handler) = catch_unwind(AssertUnwindSafe(|| factory.create(control))) else {
            log::error!("a handler factory panicked; answering 500");
            self.shared.current.store(0, Ordering::Release);
            self.fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error",
                cx,
            );
            return;
        };
        let head_request = request.method() == Method::Head;
        let version = request.version();
        let body = match head.framing {
            BodyFraming::Length(n) => BodyDecoder::length(n),
            BodyFraming::Chunked => BodyDecoder::chunked(),
        };
        // The exchange is built around the handler first and the head given
        // to it there: a handler is hundreds of bytes, and every move of it
        // is a copy per request.
        self.state = State::Exchange(Exchange {
            handler,
            id,
            next: Next::wait(),
            head_request,
            version,
            body,
            body_error: None,
            body_error_reported: false,
            body_end_reported: false,
            expect_continue: head.expect_continue,
            upgrade_offered: head.upgrade,
            switching: false,
            keep_alive: head.keep_alive && cx.config.keep_alive && !cx.shutting_down,
            encoder: None,
            head_mark: 0,
            body_started: None,
            body_bytes: 0,
            hangup_reported: false,
        });
        if let State::Exchange(ex) = &mut self.state {
            ex.next = guard(|| ex.handler.on_request(request));
        }
    }

    /// One handler callback, if its wish can be served now. Returns whether
    /// anything happened.
    fn step_exchange(&mut self, cx: &mut Context) -> io::Result<bool> {
        let State::Exchange(ex) = &mut self.state else {
            return Ok(false);
        };
        // A malformed body is reported once, whatever the handler waits for.
        if let (Some(why), false) = (ex.body_error, ex.body_error_reported) {
            ex.body_error_reported = true;
            ex.keep_alive = false;
            let next = guard(|| ex.handler.on_error(Error::BadBody(why)));
            if next.interest == Interest::Remove && ex.encoder.is_none() {
                retire(&mut ex.handler, &self.shared, Outcome::Aborted);
                self.fail(StatusCode::BAD_REQUEST, why, cx);
                return Ok(true);
            }
            ex.next = next;
            self.since = cx.now;
            return Ok(true);
        }
        let interest = ex.next.interest;
        match interest {
            // The peer closed its side while a started response waits for
            // more (a client leaving a stream): say so now, not at the next
            // write, which may be minutes away.
            Interest::Wait
                if self.io.fin_seen
                    && ex.encoder.is_some()
                    && ex.body.is_done()
                    && !ex.hangup_reported =>
            {
                ex.hangup_reported = true;
                ex.keep_alive = false;
                ex.next = guard(|| ex.handler.on_error(Error::Closed));
                self.since = cx.now;
                Ok(true)
            }
            Interest::Wait => Ok(false),
            Interest::Woken => {
                ex.next = guard(|| ex.handler.on_wake());
                self.since = cx.now;
                Ok(true)
            }
            Interest::Remove => {
                if ex.encoder.is_some() {
                    // A response cut after its head: the client must see
                    // it broken, not complete (a close-delimited body ends
                    // at a plain close).
                    self.io.transport.reset_on_close();
                }
                self.abort();
                Ok(true)
            }
            Interest::Panicked => {
                // Answer 500 if nothing went out yet (dropping a head still
                // in the buffer); otherwise the response is torn and only a
                // close tells the client.
                let unanswered = ex.encoder.is_none() || self.io.write_buf.rewind_to(ex.head_mark);
                retire(&mut ex.handler, &self.shared, Outcome::Aborted);
                if unanswered {
                    self.state = State::Dead;
                    self.fail(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal server error",
                        cx,
                    );
                } else {
                    self.state = State::Dead;
                }
                Ok(true)
            }
            Interest::End => {
                self.finish_exchange(cx);
                Ok(true)
            }
            Interest::Read => self.call_readable(cx),
            Interest::Write => self.call_writable(cx),
            Interest::ReadWrite => {
                let read = self.call_readable(cx)?;
                let still_both = matches!(
                    &self.state,
                    State::Exchange(ex) if ex.next.interest == Interest::ReadWrite
                );
                let wrote = if still_both {
                    self.call_writable(cx)?
                } else {
                    false
                };
                Ok(read || wrote)
            }
        }
    }

    fn call_readable(&mut self, cx: &mut Context) -> io::Result<bool> {
        let State::Exchange(ex) = &mut self.state else {
            return Ok(false);
        };
        if ex.expect_continue {
            // The client holds its body back until it hears this.
            ex.expect_continue = false;
            if ex.encoder.is_none() && !ex.body.is_done() {
                self.io.write_buf.extend(encode::CONTINUE);
                self.io.flush()?;
            }
        }
        if ex.body_started.is_none() && !ex.body.is_done() {
            ex.body_started = Some(cx.now);
        }
        let body_ready = !ex.body_end_reported
            && (ex.body.is_done()
                || !self.io.read_buf.is_empty()
                || self.io.readable
                || self.io.peer_eof
                || ex.body_error.is_some());
        if !body_ready {
            return Ok(false);
        }
        let mut decoder = Decoder {
            io: &mut self.io,
            body: &mut ex.body,
            trailers: &mut self.trailers,
            error: &mut ex.body_error,
            buf_size: cx.config.read_buf_size,
            used: false,
            reported_end: false,
            delivered: 0,
        };
        let next = guard(|| ex.handler.on_request_readable(&mut decoder));
        let used = decoder.used;
        ex.body_end_reported |= decoder.reported_end;
        ex.body_bytes += decoder.delivered;
        ex.next = next;
        self.since = cx.now;
        Ok(used || next.interest != Interest::Read)
    }

    fn call_writable(&mut self, cx: &mut Context) -> io::Result<bool> {
        let State::Exchange(ex) = &mut self.state else {
            return Ok(false);
        };
        let Some(encoder) = &mut ex.encoder else {
            // First write: the head.
            self.response.reset();
            let next = guard(|| ex.handler.on_response(&mut self.response));
            if next.interest == Interest::Panicked {
                ex.next = next;
                return Ok(true);
            }
            if ex.expect_continue && !ex.body.is_done() {
                // The client may still be holding its body back: the
                // connection cannot be trusted with another request.
                ex.keep_alive = false;
            }
            ex.write_head(
                &mut self.io.write_buf,
                &self.response,
                next.interest == Interest::End,
                cx,
            );
            ex.next = next;
            self.since = cx.now;
            return Ok(true);
        };
        if self.io.write_buf.len() >= cx.config.write_high_water {
            self.io.flush()?;
            if self.io.write_buf.len() >= cx.config.write_high_water {
                return Ok(false);
            }
        }
        let mut encoder = Encoder {
            io: &mut self.io,
            body: encoder,
            high_water: cx.config.write_high_water,
            used: false,
        };
        let next = guard(|| ex.handler.on_response_writable(&mut encoder));
        let used = encoder.used;
        ex.next = next;
        self.since = cx.now;
        Ok(used || next.interest != Interest::Write)
    }

    /// `Next::end()`: complete the response and get ready for the next head.
    fn finish_exchange(&mut self, cx: &mut Context) {
        // Worked on in place: the exchange (with its handler) can be large,
        // and moving it out would copy it on every request.
        let State::Exchange(ex) = &mut self.state else {
            return;
        };
        if ex.encoder.is_none() {
            // Ended before the head: the handler still sets status and
            // headers, and the response has no body.
            self.response.reset();
            match guard(|| ex.handler.on_response(&mut self.response)).interest {
                Interest::Remove => {
                    retire(&mut ex.handler, &self.shared, Outcome::Aborted);
                    self.state = State::Dead;
                    return;
                }
                Interest::Panicked => {
                    retire(&mut ex.handler, &self.shared, Outcome::Aborted);
                    self.response.reset();
                    self.fail(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal server error",
                        cx,
                    );
                    return;
                }
                _ => {}
            }
            ex.write_head(&mut self.io.write_buf, &self.response, true, cx);
        }
        let mut keep_alive = ex.keep_alive && !cx.shutting_down;
        if let Some(encoder) = &mut ex.encoder {
            if let Err(missing) = encoder.finish(self.io.write_buf.vec()) {
                log::error!(
                    "handler ended a response {missing} bytes short of its Content-Length; closing"
                );
                keep_alive = false;
            }
        }
        if ex.switching {
            self.switch_protocols(cx);
            return;
        }
        retire(&mut ex.handler, &self.shared, Outcome::Completed);
        self.trailers.clear();
        if ex.body_error.is_some() {
            keep_alive = false;
        } else if !ex.body.is_done() {
            match &ex.body {
                BodyDecoder::Length(n) if *n > MAX_DISCARD => keep_alive = false,
                _ if ex.expect_continue => keep_alive = false,
                _ => {
                    self.discard = Some(std::mem::replace(&mut ex.body, BodyDecoder::Done));
                    self.discard_budget = MAX_DISCARD;
                }
            }
        }
        self.since = cx.now;
        self.state = if keep_alive {
            State::Head {
                partial_since: None,
            }
        } else {
            State::Closing { write_shut: false }
        };
    }

    /// After a 101 went out: the handler hands the connection to its
    /// protocol, which keeps the exchange's `Control`.
    fn switch_protocols(&mut self, cx: &mut Context) {
        let State::Exchange(ex) = &mut self.state else {
            return;
        };
        // Bytes of an unread request body would be taken for the new
        // protocol's: only a request read to its end may switch.
        let protocol = if ex.body.is_done() && ex.body_error.is_none() {
            catch_unwind(AssertUnwindSafe(|| ex.handler.on_upgrade())).unwrap_or_else(|_| {
                log::error!("a handler panicked in on_upgrade; closing");
                None
            })
        } else {
            log::warn!("a 101 answered a request whose body was not read; closing");
            None
        };
        guard(|| {
            ex.handler.on_done(Outcome::Completed);
            Next::end()
        });
        let id = ex.id;
        self.trailers.clear();
        self.since = cx.now;
        self.state = match protocol {
            Some(mut protocol) => {
                // A drain that began while the exchange ran is news to the
                // protocol too.
                let next = if cx.shutting_down {
                    guard(|| protocol.on_error(Error::ShuttingDown))
                } else {
                    Next::read_and_write()
                };
                State::Upgraded(Upgraded { protocol, id, next })
            }
            None => {
                self.shared.current.store(0, Ordering::Release);
                State::Closing { write_shut: false }
            }
        };
    }

    /// One protocol callback on an upgraded connection, if its wish can be
    /// served now. Returns whether anything happened.
    fn step_upgraded(&mut self, cx: &mut Context) -> io::Result<bool> {
        let State::Upgraded(up) = &mut self.state else {
            return Ok(false);
        };
        match up.next.interest {
            Interest::Wait => Ok(false),
            Interest::Woken => {
                up.next = guard(|| up.protocol.on_wake());
                self.since = cx.now;
                Ok(true)
            }
            Interest::Remove | Interest::Panicked => {
                self.abort();
                Ok(true)
            }
            Interest::End => {
                retire_protocol(up, &self.shared);
                self.since = cx.now;
                self.state = State::Closing { write_shut: false };
                Ok(true)
            }
            Interest::Read => self.call_protocol(cx, true),
            Interest::Write => self.call_protocol(cx, false),
            Interest::ReadWrite => {
                let read = self.call_protocol(cx, true)?;
                let still_both = matches!(
                    &self.state,
                    State::Upgraded(up) if up.next.interest == Interest::ReadWrite
                );
                let wrote = still_both && self.call_protocol(cx, false)?;
                Ok(read || wrote)
            }
        }
    }

    /// Calls the protocol's `on_readable` (or `on_writable`) when the
    /// connection has bytes (or room).
    fn call_protocol(&mut self, cx: &mut Context, readable: bool) -> io::Result<bool> {
        let State::Upgraded(up) = &mut self.state else {
            return Ok(false);
        };
        let high_water = cx.config.write_high_water;
        let ready = if readable {
            !self.io.read_buf.is_empty() || self.io.readable || self.io.peer_eof
        } else {
            if self.io.write_buf.len() >= high_water {
                self.io.flush()?;
            }
            self.io.write_buf.len() < high_water
        };
        if !ready {
            return Ok(false);
        }
        let before = up.next.interest;
        // The protocol may write in either callback (an echo answers a
        // read): lend it a pooled buffer, given back when it goes idle.
        if !self.io.write_buf.has_storage() {
            if let Some(storage) = cx.write_pool.pop() {
                self.io.write_buf.give_storage(storage);
            }
        }
        let mut conn = upgrade::Upgraded {
            io: &mut self.io,
            high_water,
            moved: 0,
        };
        let next = if readable {
            guard(|| up.protocol.on_readable(&mut conn))
        } else {
            guard(|| up.protocol.on_writable(&mut conn))
        };
        let moved = conn.moved;
        up.next = next;
        self.since = cx.now;
        Ok(moved > 0 || next.interest != before)
    }

    /// Flush, shut down our side, drain what the peer still sends, close.
    fn step_closing(&mut self, cx: &mut Context) -> io::Result<Flow> {
        if let State::Closing { write_shut: false } = self.state {
            match self.io.close_write() {
                Ok(true) => {}
                Ok(false) => return Ok(Flow::Keep),
                Err(_) => return Ok(Flow::Close),
            }
            self.state = State::Closing { write_shut: true };
            self.since = cx.now;
            if self.io.peer_eof {
                return Ok(Flow::Close);
            }
        }
        // Lingering: unread bytes at close would make the kernel send a
        // reset, which can destroy the response before the peer reads it.
        Ok(if self.io.drain_input() {
            Flow::Close
        } else {
            Flow::Keep
        })
    }

    fn deadline_for(&self, cx: &Context) -> Option<Instant> {
        let config = &cx.config;
        match &self.state {
            State::Head { partial_since } => Some(match partial_since {
                Some(start) => *start + config.head_timeout,
                None if self.served == 0 => self.since + config.head_timeout,
                None => self.since + config.idle_timeout,
            }),
            State::Exchange(ex) => {
                let default = match ex.next.interest {
                    Interest::Read | Interest::Write | Interest::ReadWrite => {
                        Some(config.body_timeout)
                    }
                    _ => None,
                };
                let deadline = ex.next.timeout.or(default).map(|t| self.since + t);
                // A body dripped in just fast enough to beat the timeout
                // between reads must still average the minimum rate.
                match (ex.body_started, ex.next.timeout, ex.next.interest) {
                    (Some(started), None, Interest::Read | Interest::ReadWrite)
                        if !ex.body.is_done() && config.min_body_rate > 0 =>
                    {
                        let earned = Duration::from_secs_f64(
                            ex.body_bytes as f64 / config.min_body_rate as f64,
                        );
                        let rate_deadline = started + config.body_timeout.max(earned);
                        deadline.map(|d| d.min(rate_deadline))
                    }
                    _ => deadline,
                }
            }
            // A protocol sets its own timeouts (a WebSocket may idle for
            // hours between pings).
            State::Upgraded(up) => up.next.timeout.map(|t| self.since + t),
            State::Closing { write_shut: false } => Some(self.since + config.body_timeout),
            State::Closing { write_shut: true } => Some(self.since + config.linger_timeout),
            State::Dead => None,
        }
    }

    /// Lends idle buffers back to the worker, so an idle connection (a
    /// keep-alive one between requests, an upgraded one between messages)
    /// holds none.
    fn release_buffers(&mut self, cx: &mut Context) {
        if !matches!(self.state, State::Head { .. } | State::Upgraded(_)) || self.discard.is_some()
        {
            return;
        }
        if let Some(storage) = self.io.read_buf.take_storage() {
            if cx.read_pool.len() < cx.config.buffer_pool {
                cx.read_pool.push(storage);
            }
        }
        if let Some(storage) = self.io.write_buf.take_storage() {
            if cx.write_pool.len() < cx.config.buffer_pool {
                cx.write_pool.push(storage);
            }
        }
    }

    /// Takes a pooled write buffer before a response is serialized.
    pub(crate) fn prepare_write_buffer(&mut self, cx: &mut Context) {
        if !self.io.write_buf.has_storage() {
            if let Some(storage) = cx.write_pool.pop() {
                self.io.write_buf.give_storage(storage);
            }
        }
    }
}

impl<H> Exchange<H> {
    /// Serializes the response head, which fixes the body's framing and
    /// whether the connection stays open.
    fn write_head(
        &mut self,
        buf: &mut WriteBuf,
        response: &ResponseHead,
        no_body: bool,
        cx: &Context,
    ) {
        self.head_mark = buf.mark();
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if !self.upgrade_offered {
                // A protocol switch the client never offered would leave it
                // reading bytes it cannot parse.
                log::error!("a handler answered 101 to a request without Connection: upgrade; answering 500");
                encode::write_error(
                    buf.vec(),
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal server error",
                    cx.date.bytes(),
                );
                self.encoder = Some(BodyEncoder::Discard);
                self.keep_alive = false;
                return;
            }
            self.switching = true;
        }
        let outcome = encode::write_head(
            buf.vec(),
            response,
            &HeadContext {
                head_request: self.head_request,
                request_version: self.version,
                keep_alive: self.keep_alive && !cx.shutting_down,
                no_body,
                date_line: cx.date.line(),
                server_line: cx.config.server_line.as_deref(),
            },
        );
        self.encoder = Some(outcome.encoder);
        self.keep_alive = outcome.keep_alive;
    }
}

impl<H> Drop for Conn<H> {
    fn drop(&mut self) {
        self.shared.current.store(0, Ordering::Release);
    }
}
