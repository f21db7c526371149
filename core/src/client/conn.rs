//! One client connection's state machine: connect, write the request, read
//! the response, then go back to the pool or close.
//!
//! ```text
//! Connecting ──▶ Head ──▶ Sending ──▶ AwaitingHead ──▶ Receiving ──▶ Idle (pool) / closed
//!                  │ no body ───────────────▲   (1xx skipped)
//!                  └─ Expect: 100-continue ─▶ AwaitingContinue ─▶ Sending
//! ```

use std::io::{self, Read as _, Write as _};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ClientConfig, RequestHandler, RequestHead};
use crate::control::ConnShared;
use crate::h1::decode::BodyDecoder;
use crate::h1::encode::BodyEncoder;
use crate::h1::response::{parse_response, ResponseFraming};
use crate::header::Headers;
use crate::io::Io;
use crate::next::Interest;
use crate::transport::Transport;
use crate::{Decoder, Encoder, Error, Method, Next, Outcome};

/// How long a request with `Expect: 100-continue` waits for the interim
/// answer before sending its body anyway.
const CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// What the client loop should do with the connection after a turn.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Keep,
    /// The exchange finished and the connection can serve another.
    Idle,
    /// The exchange failed before anything arrived on a reused connection:
    /// send the request again on a fresh one.
    Retry,
    Close,
}

/// A request waiting for its connection.
pub(crate) struct Job {
    pub(crate) handler: Box<dyn RequestHandler>,
    pub(crate) head: RequestHead,
    /// `host[:port]` as written: the `Host` header.
    pub(crate) authority: String,
    /// `scheme://host:port`: the pool key.
    pub(crate) origin: String,
    /// The connection speaks TLS.
    pub(crate) https: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Connections tried so far (a retry on a fresh one is allowed once).
    pub(crate) attempts: u8,
    /// The exchange id its `Control` was made with.
    pub(crate) exchange: u64,
}

pub(crate) struct ClientConn {
    pub(crate) io: Io,
    pub(crate) id: u64,
    pub(crate) slot: usize,
    /// The origin it serves (the pool key).
    pub(crate) origin: String,
    shared: Arc<ConnShared>,
    state: State,
    /// Exchanges completed on this connection.
    served: u32,
    /// When the connection was opened: the connect timeout covers the TLS
    /// handshake too.
    opened: Instant,
    since: Instant,
    pub(crate) deadline: Option<Instant>,
    pub(crate) scheduled: Option<Instant>,
    trailers: Headers,
}

enum State {
    Connecting(Option<Job>),
    Active(Box<Exchange>),
    Idle,
    Dead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Sending,
    AwaitingContinue { until: Instant },
    AwaitingHead,
    Receiving,
}

struct Exchange {
    job: Job,
    id: u64,
    next: Next,
    phase: Phase,
    encoder: BodyEncoder,
    decoder: BodyDecoder,
    body_error: Option<&'static str>,
    end_reported: bool,
    keep_alive: bool,
    /// The request body was not sent in full (a final answer came first).
    body_skipped: bool,
    /// Any response byte arrived.
    answered: bool,
    /// The request has a body (so it cannot simply be sent again).
    with_body: bool,
}

fn guard(callback: impl FnOnce() -> Next) -> Next {
    catch_unwind(AssertUnwindSafe(callback)).unwrap_or_else(|_| {
        log::error!("a client handler panicked; its request is dropped");
        Next::remove()
    })
}

impl ClientConn {
    pub(crate) fn connecting(
        transport: Transport,
        id: u64,
        slot: usize,
        shared: Arc<ConnShared>,
        job: Job,
        config: &ClientConfig,
        now: Instant,
    ) -> ClientConn {
        ClientConn {
            io: Io::new(transport, false),
            id,
            slot,
            origin: job.origin.clone(),
            shared,
            state: State::Connecting(Some(job)),
            served: 0,
            opened: now,
            since: now,
            deadline: Some(now + config.connect_timeout),
            scheduled: None,
            trailers: Headers::new(),
        }
    }

    pub(crate) fn on_event(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.io.on_event(readable, writable, read_closed);
    }

    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle) && !self.io.peer_eof
    }

    pub(crate) fn exchange_id(&self) -> Option<u64> {
        match &self.state {
            State::Active(ex) => Some(ex.id),
            _ => None,
        }
    }

    /// A `Control` for exchange `exchange` on this connection.
    pub(crate) fn control(&self, exchange: u64) -> crate::Control {
        crate::Control::new(self.shared.clone(), self.slot, exchange)
    }

    /// Starts `job` on this connection.
    pub(crate) fn assign(&mut self, job: Job, now: Instant) {
        let exchange = job.exchange;
        self.shared.current.store(exchange, Ordering::Release);
        self.since = now;
        self.state = State::Active(Box::new(Exchange {
            job,
            id: exchange,
            next: Next::write(),
            phase: Phase::Head,
            encoder: BodyEncoder::Done,
            decoder: BodyDecoder::Done,
            body_error: None,
            end_reported: false,
            keep_alive: true,
            body_skipped: false,
            answered: false,
            with_body: false,
        }));
    }

    pub(crate) fn wake(&mut self, next: Next, now: Instant) {
        if let State::Active(ex) = &mut self.state {
            ex.next = next;
            self.since = now;
        }
    }

    /// Takes back the job of a request that has to be sent again.
    pub(crate) fn take_job(&mut self) -> Option<Job> {
        match std::mem::replace(&mut self.state, State::Dead) {
            State::Active(ex) => Some(ex.job),
            State::Connecting(job) => job,
            _ => None,
        }
    }

    /// The poller reported a socket error (a refused connect, a reset).
    pub(crate) fn on_socket_error(&mut self) -> Flow {
        let error = match self.io.transport.tcp().map(|s| s.take_error()) {
            Some(Ok(Some(e))) => e,
            Some(Ok(None)) | None => io::ErrorKind::ConnectionReset.into(),
            Some(Err(e)) => e,
        };
        if self.can_retry() {
            return Flow::Retry;
        }
        self.fail(Error::Io(error));
        Flow::Close
    }

    /// Tells the handler, if any, that its exchange failed, and ends it.
    pub(crate) fn fail(&mut self, error: Error) {
        match std::mem::replace(&mut self.state, State::Dead) {
            State::Active(mut ex) => {
                let _ = guard(|| ex.job.handler.on_error(error));
                guard(|| {
                    ex.job.handler.on_done(Outcome::Aborted);
                    Next::end()
                });
            }
            State::Connecting(Some(mut job)) => {
                let _ = guard(|| job.handler.on_error(error));
                guard(|| {
                    job.handler.on_done(Outcome::Aborted);
                    Next::end()
                });
            }
            _ => {}
        }
        self.shared.current.store(0, Ordering::Release);
    }

    /// The deadline passed.
    pub(crate) fn on_timeout(&mut self, config: &ClientConfig, now: Instant) -> Flow {
        self.deadline = None;
        match &mut self.state {
            State::Connecting(_) => {
                self.fail(Error::Timeout);
                Flow::Close
            }
            State::Active(ex) => {
                if let Phase::AwaitingContinue { .. } = ex.phase {
                    // No interim answer: send the body anyway.
                    ex.phase = Phase::Sending;
                    return self.drive(config, now);
                }
                let next = guard(|| ex.job.handler.on_error(Error::Timeout));
                ex.next = next;
                self.since = now;
                if next.interest == Interest::Remove {
                    self.fail_quietly();
                    return Flow::Close;
                }
                self.drive(config, now)
            }
            State::Idle | State::Dead => Flow::Close,
        }
    }

    /// Ends a handler that already heard about its error.
    fn fail_quietly(&mut self) {
        if let State::Active(mut ex) = std::mem::replace(&mut self.state, State::Dead) {
            guard(|| {
                ex.job.handler.on_done(Outcome::Aborted);
                Next::end()
            });
        }
        self.shared.current.store(0, Ordering::Release);
    }

    pub(crate) fn drive(&mut self, config: &ClientConfig, now: Instant) -> Flow {
        let flow = match self.run(config, now) {
            Ok(flow) => flow,
            Err(e) => {
                if self.can_retry() {
                    Flow::Retry
                } else {
                    self.fail(Error::Io(e));
                    Flow::Close
                }
            }
        };
        self.deadline = self.deadline_for(config);
        flow
    }

    /// A reused connection that died before any answer: the server closed
    /// it while idle, so the request never reached it.
    fn can_retry(&self) -> bool {
        match &self.state {
            State::Active(ex) => {
                self.served > 0
                    && !ex.answered
                    && ex.job.attempts < 2
                    && matches!(ex.phase, Phase::AwaitingHead | Phase::Head)
                    && !ex.with_body
                    && !matches!(ex.job.head.method, Method::Post | Method::Patch)
            }
            _ => false,
        }
    }

    fn run(&mut self, config: &ClientConfig, now: Instant) -> io::Result<Flow> {
        for _ in 0..256 {
            let progressed = match &mut self.state {
                State::Dead => return Ok(Flow::Close),
                State::Connecting(job) => {
                    if !self.io.writable {
                        return Ok(Flow::Keep);
                    }
                    if let Some(socket) = self.io.transport.tcp() {
                        if let Some(e) = socket.take_error()? {
                            return Err(e);
                        }
                        match socket.peer_addr() {
                            Ok(_) => {}
                            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                                self.io.writable = false;
                                return Ok(Flow::Keep);
                            }
                            Err(e) => return Err(e),
                        }
                        let _ = socket.set_nodelay(true);
                    }
                    let job = job
                        .take()
                        .ok_or_else(|| io::Error::other("connection without a job"))?;
                    self.assign(job, now);
                    true
                }
                State::Idle => {
                    // An idle connection only reads to notice the server
                    // closing it (or sending something it should not).
                    let mut scratch = [0u8; 512];
                    loop {
                        match self.io.transport.read(&mut scratch) {
                            Ok(0) => return Ok(Flow::Close),
                            Ok(_) => return Ok(Flow::Close),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                self.io.readable = false;
                                self.io.flush()?;
                                return Ok(Flow::Idle);
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => return Ok(Flow::Close),
                        }
                    }
                }
                State::Active(_) => self.step(config, now)?,
            };
            if let State::Active(ex) = &self.state {
                if ex.next.interest == Interest::Remove {
                    self.fail_quietly();
                    return Ok(Flow::Close);
                }
            }
            if matches!(self.state, State::Idle) {
                self.flush()?;
                return Ok(Flow::Idle);
            }
            if !progressed {
                break;
            }
        }
        self.flush()?;
        Ok(Flow::Keep)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.io.flush().map(drop)
    }

    fn fill(&mut self, config: &ClientConfig) -> io::Result<bool> {
        self.io.fill(8192, config.max_head_bytes + 1)
    }

    /// One step of the active exchange; returns whether anything happened.
    fn step(&mut self, config: &ClientConfig, now: Instant) -> io::Result<bool> {
        let State::Active(ex) = &mut self.state else {
            return Ok(false);
        };
        if ex.next.interest == Interest::Woken {
            ex.next = guard(|| ex.job.handler.on_wake());
            self.since = now;
            return Ok(true);
        }
        if let (Some(why), false) = (ex.body_error, ex.end_reported) {
            ex.end_reported = true;
            ex.keep_alive = false;
            ex.next = guard(|| ex.job.handler.on_error(Error::BadBody(why)));
            return Ok(true);
        }
        match ex.phase {
            Phase::Head => {
                let next = guard(|| ex.job.handler.on_request(&mut ex.job.head));
                if next.interest == Interest::Remove {
                    ex.next = next;
                    return Ok(true);
                }
                let with_body = matches!(next.interest, Interest::Write | Interest::ReadWrite);
                ex.with_body = with_body;
                ex.encoder = write_request_head(
                    self.io.write_buf.vec(),
                    &ex.job.head,
                    &ex.job.authority,
                    with_body,
                );
                let expects = with_body
                    && ex
                        .job
                        .head
                        .headers
                        .get("expect")
                        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
                ex.phase = if !with_body {
                    Phase::AwaitingHead
                } else if expects {
                    Phase::AwaitingContinue {
                        until: now + CONTINUE_WAIT,
                    }
                } else {
                    Phase::Sending
                };
                ex.next = next;
                self.since = now;
                Ok(true)
            }
            Phase::Sending => {
                if ex.next.interest == Interest::End {
                    if let Err(missing) = ex.encoder.finish(self.io.write_buf.vec()) {
                        log::error!(
                            "request body ended {missing} bytes short of its Content-Length"
                        );
                        ex.keep_alive = false;
                        ex.next = Next::remove();
                        return Ok(true);
                    }
                    ex.phase = Phase::AwaitingHead;
                    return Ok(true);
                }
                if !matches!(ex.next.interest, Interest::Write | Interest::ReadWrite) {
                    return Ok(false); // waiting for a Control
                }
                if self.io.write_buf.len() >= config.write_high_water {
                    self.io.flush()?;
                    if self.io.write_buf.len() >= config.write_high_water {
                        return Ok(false);
                    }
                }
                let mut encoder = Encoder {
                    io: &mut self.io,
                    body: &mut ex.encoder,
                    high_water: config.write_high_water,
                    used: false,
                };
                let next = guard(|| ex.job.handler.on_request_writable(&mut encoder));
                let used = encoder.used;
                ex.next = next;
                self.since = now;
                Ok(used || next.interest != Interest::Write)
            }
            Phase::AwaitingContinue { until } => {
                if now >= until {
                    ex.phase = Phase::Sending;
                    return Ok(true);
                }
                self.read_head(config, now, true)
            }
            Phase::AwaitingHead => self.read_head(config, now, false),
            Phase::Receiving => {
                match ex.next.interest {
                    Interest::End => {
                        self.finish();
                        return Ok(true);
                    }
                    // A late wake-up asking to write means "go on" here.
                    Interest::Read | Interest::ReadWrite | Interest::Write => {}
                    _ => return Ok(false),
                }
                let ready = !ex.end_reported
                    && (ex.decoder.is_done()
                        || !self.io.read_buf.is_empty()
                        || self.io.readable
                        || self.io.peer_eof
                        || ex.body_error.is_some());
                if !ready {
                    return Ok(false);
                }
                let mut decoder = Decoder {
                    io: &mut self.io,
                    body: &mut ex.decoder,
                    trailers: &mut self.trailers,
                    error: &mut ex.body_error,
                    buf_size: 8192,
                    used: false,
                    reported_end: false,
                    delivered: 0,
                };
                let next = guard(|| ex.job.handler.on_response_readable(&mut decoder));
                let used = decoder.used;
                ex.end_reported |= decoder.reported_end && ex.body_error.is_none();
                ex.next = next;
                self.since = now;
                Ok(used || next.interest != Interest::Read)
            }
        }
    }

    /// Reads and handles a response head (skipping interim ones).
    fn read_head(
        &mut self,
        config: &ClientConfig,
        now: Instant,
        awaiting_continue: bool,
    ) -> io::Result<bool> {
        loop {
            let State::Active(ex) = &mut self.state else {
                return Ok(false);
            };
            if !self.io.read_buf.is_empty() {
                ex.answered = true;
                let head_request = ex.job.head.method == Method::Head;
                match parse_response(
                    self.io.read_buf.bytes(),
                    config.max_head_bytes,
                    config.max_headers,
                    head_request,
                ) {
                    Ok(Some(parsed)) => {
                        self.io.read_buf.consume(parsed.len);
                        let status = parsed.head.status();
                        if status.is_informational() {
                            if status == crate::StatusCode::SWITCHING_PROTOCOLS {
                                ex.keep_alive = false;
                                ex.body_error = Some("protocol upgrades are not supported");
                                return Ok(true);
                            }
                            if awaiting_continue && status == crate::StatusCode::CONTINUE {
                                ex.phase = Phase::Sending;
                                return Ok(true);
                            }
                            continue;
                        }
                        if awaiting_continue {
                            // A final answer before the body: the body stays
                            // unsent, so the connection cannot be reused.
                            ex.body_skipped = true;
                        }
                        ex.keep_alive = parsed.keep_alive && !ex.body_skipped;
                        ex.decoder = match parsed.framing {
                            ResponseFraming::None => BodyDecoder::Done,
                            ResponseFraming::Length(n) => BodyDecoder::length(n),
                            ResponseFraming::Chunked => BodyDecoder::chunked(),
                            ResponseFraming::Eof => BodyDecoder::Eof,
                        };
                        ex.phase = Phase::Receiving;
                        ex.next = guard(|| ex.job.handler.on_response(parsed.head));
                        self.since = now;
                        return Ok(true);
                    }
                    Ok(None) => {}
                    Err(why) => {
                        ex.keep_alive = false;
                        ex.phase = Phase::Receiving;
                        ex.decoder = BodyDecoder::Done;
                        let next = guard(|| ex.job.handler.on_error(Error::BadResponse(why)));
                        ex.end_reported = true;
                        ex.next = if next.interest == Interest::Remove {
                            next
                        } else {
                            Next::end()
                        };
                        return Ok(true);
                    }
                }
            }
            if self.io.peer_eof {
                if self.can_retry() {
                    return Err(io::ErrorKind::ConnectionAborted.into());
                }
                let State::Active(ex) = &mut self.state else {
                    return Ok(false);
                };
                ex.keep_alive = false;
                ex.phase = Phase::Receiving;
                ex.decoder = BodyDecoder::Done;
                ex.end_reported = true;
                let why = if self.io.read_buf.is_empty() {
                    Error::Closed
                } else {
                    Error::BadResponse("response head cut short")
                };
                let next = guard(|| ex.job.handler.on_error(why));
                ex.next = if next.interest == Interest::Remove {
                    next
                } else {
                    Next::end()
                };
                return Ok(true);
            }
            if !self.fill(config)? {
                return Ok(false);
            }
        }
    }

    /// The handler ended the exchange: back to the pool or closed.
    fn finish(&mut self) {
        let State::Active(mut ex) = std::mem::replace(&mut self.state, State::Idle) else {
            return;
        };
        let body_complete = ex.decoder.is_done() || {
            // Skip what is already buffered of an unread body.
            let used = ex.decoder.discard(self.io.read_buf.bytes()).unwrap_or(0);
            self.io.read_buf.consume(used);
            ex.decoder.is_done()
        };
        let reusable = ex.keep_alive
            && body_complete
            && ex.body_error.is_none()
            && self.io.read_buf.is_empty();
        guard(|| {
            ex.job.handler.on_done(Outcome::Completed);
            Next::end()
        });
        self.shared.current.store(0, Ordering::Release);
        self.served += 1;
        if !reusable {
            self.state = State::Dead;
        }
    }

    fn deadline_for(&self, config: &ClientConfig) -> Option<Instant> {
        match &self.state {
            State::Connecting(_) => Some(self.since + config.connect_timeout),
            State::Active(_) if self.io.transport.is_handshaking() => {
                Some(self.opened + config.connect_timeout)
            }
            State::Active(ex) => {
                if let Phase::AwaitingContinue { until } = ex.phase {
                    return Some(until);
                }
                let default = match (ex.phase, ex.next.interest) {
                    // Waiting for the server's answer.
                    (Phase::AwaitingHead, _) => Some(config.read_timeout),
                    (_, Interest::Wait | Interest::End | Interest::Remove | Interest::Panicked) => {
                        None
                    }
                    _ => Some(config.read_timeout),
                };
                ex.next.timeout.or(default).map(|t| self.since + t)
            }
            State::Idle => Some(self.since + config.idle_timeout),
            State::Dead => None,
        }
    }

    /// Marks the connection idle from now (for the idle timeout).
    pub(crate) fn rest(&mut self, now: Instant, config: &ClientConfig) {
        self.since = now;
        self.deadline = self.deadline_for(config);
    }
}

/// Writes the request head; returns how the body will be framed.
fn write_request_head(
    out: &mut Vec<u8>,
    head: &RequestHead,
    authority: &str,
    with_body: bool,
) -> BodyEncoder {
    let _ = write!(out, "{} {} HTTP/1.1\r\n", head.method.as_str(), head.target);
    let mut length = None;
    let mut chunked = false;
    for (name, value) in head.headers.raw_iter() {
        if name.eq_ignore_ascii_case(b"content-length") {
            length = crate::header::common::parse_content_length(value);
            continue;
        }
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            continue;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !head.headers.contains("host") {
        let _ = write!(out, "host: {authority}\r\n");
    }
    let encoder = match (with_body, length) {
        (_, Some(n)) => {
            let _ = write!(out, "content-length: {n}\r\n");
            if with_body {
                BodyEncoder::Length(n)
            } else {
                BodyEncoder::Done
            }
        }
        (true, None) => {
            chunked = true;
            BodyEncoder::Chunked
        }
        (false, None) => {
            if matches!(head.method, Method::Post | Method::Put | Method::Patch) {
                out.extend_from_slice(b"content-length: 0\r\n");
            }
            BodyEncoder::Done
        }
    };
    if chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
    encoder
}
