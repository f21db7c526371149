//! A WebSocket connection on the event loop: the [`Protocol`] that reads
//! frames, answers pings and the closing handshake, keeps idle sockets
//! alive, and writes what the app and other threads send, within a budget.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::deflate::Deflater;
use super::sender::{close_chunk, Chunk, SendError, WsSender};
use super::{
    close_code, write_message, write_message_with, CloseFrame, Deflate, DeflateConfig, Message,
    MessageReader, ProtocolError, Role,
};
use crate::upgrade::{Protocol, Upgraded};
use crate::{Control, Error, Next};

/// What a WebSocket's application does: hears the socket open, each
/// message, and the close. Runs on the socket's event loop: keep each call
/// short, and hand slow work to another thread with a [`WsSender`].
pub trait WsHandler: Send + 'static {
    /// The socket is open. Keep `socket.sender()` to send from elsewhere.
    fn on_open(&mut self, socket: &mut Socket<'_>) {
        let _ = socket;
    }

    /// A text or binary message arrived.
    fn on_message(&mut self, socket: &mut Socket<'_>, message: Message);

    /// The socket closed: the peer's close frame, the one this end sent
    /// for a protocol error, or `None` when the connection just ended.
    /// Called once.
    fn on_close(&mut self, close: Option<&CloseFrame>) {
        let _ = close;
    }
}

/// Limits and timers of a WebSocket.
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// Messages over this many bytes are refused with 1009.
    pub max_message: usize,
    /// Bytes queued for the client beyond which sends are refused with
    /// [`SendError::Full`] and the socket stops reading.
    pub send_budget: usize,
    /// A ping goes out after this long without hearing from the client.
    pub ping_interval: Option<Duration>,
    /// The client must answer a ping (or send anything) within this.
    pub pong_timeout: Duration,
    /// How long a closing handshake may wait for the client's close.
    pub close_timeout: Duration,
    /// `permessage-deflate`, when the client offers it: off by default
    /// (a compressor with context takeover keeps about 300 KiB per socket).
    /// The framework's `WebSocketUpgrade` negotiates it from this; on core
    /// alone, call [`Handshake::negotiate_deflate`](super::Handshake::negotiate_deflate)
    /// and [`WebSocket::with_deflate`].
    /// Messages sent through [`Socket::send`] are compressed; those queued
    /// by a [`WsSender`] or a group go as they were encoded, uncompressed,
    /// which the extension allows.
    pub deflate: Option<DeflateConfig>,
}

impl Default for WsConfig {
    fn default() -> WsConfig {
        WsConfig {
            max_message: 16 << 20,
            send_budget: 1 << 20,
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(5),
            deflate: None,
        }
    }
}

/// The socket as the application sees it during a callback.
pub struct Socket<'a> {
    out: &'a mut OutQueue,
    deflater: Option<&'a mut Deflater>,
    sender: &'a WsSender,
    close: &'a mut Option<(u16, String)>,
    budget: usize,
    /// Our close frame is queued already: nothing may follow it.
    closing: bool,
}

impl Socket<'_> {
    /// Queues `message` for this socket. Refused when its send budget is
    /// spent (the client reads too slowly) or it is closing. A `Close`
    /// message closes as [`close`](Socket::close) does; a ping or pong
    /// payload is cut to the 125 bytes a control frame holds.
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        if self.closing || self.close.is_some() {
            return Err(SendError::Closed);
        }
        if let Message::Close(frame) = message {
            let (code, reason) =
                frame.map_or((close_code::NORMAL, String::new()), |f| (f.code, f.reason));
            *self.close = Some((code, reason));
            return Ok(());
        }
        if self.out.bytes >= self.budget {
            return Err(SendError::Full);
        }
        let mut out = Vec::new();
        write_message_with(&mut out, &message, None, self.deflater.as_deref_mut());
        self.out.push(Chunk::Own(out));
        Ok(())
    }

    /// Closes the socket with `code` and `reason` once what is queued is
    /// sent.
    pub fn close(&mut self, code: u16, reason: &str) {
        if self.close.is_none() {
            *self.close = Some((code, reason.to_owned()));
        }
    }

    /// A handle to send to this socket from any thread.
    pub fn sender(&self) -> WsSender {
        self.sender.clone()
    }

    /// Bytes queued for the client and not yet written.
    pub fn queued(&self) -> usize {
        self.out.bytes
    }
}

impl fmt::Debug for Socket<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("queued", &self.out.bytes)
            .finish()
    }
}

/// Bytes waiting to be written, in the order they go out.
#[derive(Default)]
struct OutQueue {
    chunks: VecDeque<Chunk>,
    /// How much of the front chunk is written.
    front: usize,
    bytes: usize,
}

impl OutQueue {
    fn push(&mut self, chunk: Chunk) {
        self.bytes += chunk.bytes().len();
        self.chunks.push_back(chunk);
    }

    /// Writes into `conn` until it is empty or the connection is full.
    fn write_to(&mut self, conn: &mut Upgraded<'_>) -> io::Result<()> {
        while let Some(chunk) = self.chunks.front() {
            let bytes = &chunk.bytes()[self.front..];
            match conn.write(bytes) {
                Ok(n) => {
                    self.front += n;
                    self.bytes -= n;
                    if self.front == chunk.bytes().len() {
                        self.chunks.pop_front();
                        self.front = 0;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    /// Our close frame is queued or sent; waiting for the client's.
    Closing {
        since: Instant,
    },
    /// Finished: write what is queued, then close the connection.
    Done,
}

/// Reads at most this much per callback, so that one busy socket does not
/// hold up its loop.
const READ_PER_TURN: usize = 256 * 1024;

/// A WebSocket connection: the [`Protocol`] a handler returns from
/// [`on_upgrade`](crate::Handler::on_upgrade) after answering a valid
/// handshake with `101`.
pub struct WebSocket<H: WsHandler> {
    handler: H,
    config: WsConfig,
    reader: MessageReader,
    /// The start of a frame header a read cut (at most 13 bytes).
    carry: Vec<u8>,
    out: OutQueue,
    deflater: Option<Deflater>,
    sender: WsSender,
    phase: Phase,
    opened: bool,
    close_told: bool,
    last_heard: Instant,
    ping_sent: Option<Instant>,
}

impl<H: WsHandler> WebSocket<H> {
    /// A server-side socket for `handler`, woken through `control` (the
    /// upgrading request's).
    pub fn new(handler: H, control: Control, config: WsConfig) -> WebSocket<H> {
        WebSocket {
            handler,
            reader: MessageReader::new(Role::Server, config.max_message),
            sender: WsSender::new(control, config.send_budget),
            config,
            carry: Vec::new(),
            out: OutQueue::default(),
            deflater: None,
            phase: Phase::Open,
            opened: false,
            close_told: false,
            last_heard: Instant::now(),
            ping_sent: None,
        }
    }

    /// Speaks `permessage-deflate` as `agreed` in the handshake (see
    /// [`Handshake::negotiate_deflate`](super::Handshake::negotiate_deflate)).
    pub fn with_deflate(mut self, agreed: Option<Deflate>) -> Self {
        if let Some(agreed) = agreed {
            self.reader =
                MessageReader::new(Role::Server, self.config.max_message).with_deflate(&agreed);
            self.deflater = Some(Deflater::server(&agreed));
        }
        self
    }

    /// Runs `f` with the handler and a [`Socket`]; a panic closes with 1011.
    fn with_socket(&mut self, f: impl FnOnce(&mut H, &mut Socket<'_>)) {
        let mut close = None;
        let mut socket = Socket {
            out: &mut self.out,
            deflater: self.deflater.as_mut(),
            sender: &self.sender,
            close: &mut close,
            budget: self.config.send_budget,
            closing: self.phase != Phase::Open,
        };
        let handler = &mut self.handler;
        if catch_unwind(AssertUnwindSafe(|| f(handler, &mut socket))).is_err() {
            log::error!("a WebSocket handler panicked; closing with 1011");
            close = Some((close_code::INTERNAL_ERROR, "internal error".to_owned()));
        }
        if let Some((code, reason)) = close {
            self.start_close(code, &reason);
        }
    }

    fn open(&mut self) {
        // A drain may have closed the socket before its first turn: then
        // it never opens for the app.
        if !self.opened && self.phase == Phase::Open {
            self.opened = true;
            self.last_heard = Instant::now();
            self.with_socket(|h, s| h.on_open(s));
        }
    }

    fn tell_close(&mut self, close: Option<&CloseFrame>) {
        if !self.close_told {
            self.close_told = true;
            let handler = &mut self.handler;
            if catch_unwind(AssertUnwindSafe(|| handler.on_close(close))).is_err() {
                log::error!("a WebSocket handler panicked in on_close");
            }
        }
        self.refuse_senders();
    }

    /// Senders are refused from now on, and what they queued is dropped.
    fn refuse_senders(&self) {
        let mut pending = self.sender.shared().lock();
        pending.closed = true;
        pending.chunks.clear();
        pending.bytes = 0;
    }

    /// Sends our close frame (once) and waits for the client's.
    fn start_close(&mut self, code: u16, reason: &str) {
        if self.phase == Phase::Open {
            self.out.push(close_chunk(code, reason));
            self.phase = Phase::Closing {
                since: Instant::now(),
            };
            self.refuse_senders();
        }
    }

    /// The client broke the protocol: say why in a close frame and end.
    fn fail(&mut self, error: ProtocolError) {
        log::debug!("WebSocket protocol error: {error}");
        if self.phase == Phase::Open {
            self.out.push(close_chunk(error.code, error.reason));
        }
        self.phase = Phase::Done;
        let close = CloseFrame {
            code: error.code,
            reason: error.reason.to_owned(),
        };
        self.tell_close(Some(&close));
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Text(_) | Message::Binary(_) => {
                if self.phase == Phase::Open {
                    self.with_socket(|h, s| h.on_message(s, message));
                }
            }
            Message::Ping(payload) => {
                if self.phase == Phase::Open {
                    let mut out = Vec::new();
                    write_message(&mut out, &Message::Pong(payload), None);
                    self.out.push(Chunk::Own(out));
                }
            }
            // Answers our ping, or an unsolicited one: either shows life.
            Message::Pong(_) => self.ping_sent = None,
            Message::Close(frame) => {
                if self.phase == Phase::Open {
                    // Echo the code (RFC 6455 §5.5.1).
                    let mut out = Vec::new();
                    let echo = frame.as_ref().map(|f| CloseFrame {
                        code: f.code,
                        reason: String::new(),
                    });
                    write_message(&mut out, &Message::Close(echo), None);
                    self.out.push(Chunk::Own(out));
                }
                self.phase = Phase::Done;
                self.tell_close(frame.as_ref());
            }
        }
    }

    /// Reads and handles what arrived, within the send budget.
    fn read_from(&mut self, conn: &mut Upgraded<'_>) -> io::Result<bool> {
        let mut stack = [0u8; 16 * 1024];
        let mut read = 0;
        while self.phase != Phase::Done && self.out.bytes < self.config.send_budget {
            if read >= READ_PER_TURN {
                return Ok(true);
            }
            let carried = self.carry.len();
            stack[..carried].copy_from_slice(&self.carry);
            let n = match conn.read(&mut stack[carried..]) {
                Ok(0) => {
                    // The client went away without a closing handshake.
                    self.phase = Phase::Done;
                    self.tell_close(None);
                    return Ok(false);
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            };
            read += n;
            self.carry.clear();
            self.last_heard = Instant::now();
            self.ping_sent = None;
            let mut data = &mut stack[..carried + n];
            while !data.is_empty() && self.phase != Phase::Done {
                match self.reader.read(data) {
                    Ok((used, message)) => {
                        data = &mut data[used..];
                        match message {
                            Some(message) => self.handle(message),
                            None if used == 0 => break,
                            None => {}
                        }
                    }
                    Err(error) => {
                        self.fail(error);
                        return Ok(false);
                    }
                }
            }
            // What is left is the start of a header.
            self.carry.extend_from_slice(data);
        }
        Ok(false)
    }

    /// Moves what other threads queued into the write queue, while the
    /// budget lasts; applies a close they asked for. Returns whether some
    /// is left (senders do not wake the loop again while it is not empty).
    fn take_pending(&mut self) -> bool {
        let mut pending = self.sender.shared().lock();
        while self.out.bytes < self.config.send_budget {
            let Some(chunk) = pending.chunks.pop_front() else {
                break;
            };
            pending.bytes -= chunk.bytes().len();
            if self.phase == Phase::Open {
                self.out.push(chunk);
            }
        }
        // A close asked for by a sender follows what it queued before.
        let left = !pending.chunks.is_empty();
        let close = if left { None } else { pending.close.take() };
        drop(pending);
        if let Some((code, reason)) = close {
            self.start_close(code, &reason);
        }
        left
    }

    /// One turn: read (if asked), take what others queued, write, and say
    /// what next.
    fn turn(&mut self, conn: &mut Upgraded<'_>, read: bool) -> Next {
        self.open();
        let mut more = false;
        if read {
            match self.read_from(conn) {
                Ok(again) => more = again,
                Err(e) => {
                    log::debug!("WebSocket read failed: {e}");
                    self.tell_close(None);
                    return Next::remove();
                }
            }
        }
        // Bounded: a sender refilling as fast as the socket drains must not
        // hold the loop.
        for _ in 0..16 {
            let left = self.take_pending();
            if let Err(e) = self.out.write_to(conn) {
                log::debug!("WebSocket write failed: {e}");
                self.tell_close(None);
                return Next::remove();
            }
            // Stop when the connection is full (a writable turn comes) or
            // nothing is left to take.
            if !left || !self.out.chunks.is_empty() {
                break;
            }
        }
        if more {
            return self.keeping_timer(Next::read_and_write());
        }
        self.next()
    }

    fn next(&self) -> Next {
        let now = Instant::now();
        match self.phase {
            Phase::Done if self.out.chunks.is_empty() => Next::end(),
            // A client that does not read cannot hold a finished socket.
            Phase::Done => Next::write().timeout(self.config.close_timeout),
            Phase::Closing { since } => {
                let left = self.config.close_timeout.saturating_sub(now - since);
                let next = if self.out.chunks.is_empty() {
                    Next::read()
                } else {
                    Next::read_and_write()
                };
                next.timeout(left.max(Duration::from_millis(1)))
            }
            Phase::Open => {
                let next = if self.out.bytes >= self.config.send_budget {
                    // The client is not reading: neither do we.
                    Next::write()
                } else if self.out.chunks.is_empty() {
                    Next::read()
                } else {
                    Next::read_and_write()
                };
                match self.timer_due() {
                    Some(due) => next.timeout(
                        due.saturating_duration_since(now)
                            .max(Duration::from_millis(1)),
                    ),
                    None => next,
                }
            }
        }
    }

    /// `interest` with the timeout `next` would set (a wake-up must not
    /// drop the keep-alive timer or a closing deadline).
    fn keeping_timer(&self, interest: Next) -> Next {
        match self.next().timeout_duration() {
            Some(t) => interest.timeout(t),
            None => interest,
        }
    }

    /// When the keep-alive timer fires: the pong deadline, or the next ping.
    fn timer_due(&self) -> Option<Instant> {
        match self.ping_sent {
            Some(sent) => Some(sent + self.config.pong_timeout),
            None => self.config.ping_interval.map(|i| self.last_heard + i),
        }
    }

    fn on_timer(&mut self) -> Next {
        match self.phase {
            // The client did not answer our close in time: what is
            // written still goes out.
            Phase::Closing { .. } => {
                self.phase = Phase::Done;
                self.tell_close(None);
                Next::end()
            }
            // It does not even take our last bytes: drop it.
            Phase::Done => {
                self.tell_close(None);
                Next::remove()
            }
            Phase::Open => {
                let now = Instant::now();
                match self.timer_due() {
                    Some(due) if due <= now => {}
                    // Early (the timer counts from the last callback).
                    _ => return self.next(),
                }
                if self.ping_sent.is_some() {
                    log::debug!("WebSocket client did not answer a ping; closing");
                    self.tell_close(None);
                    return Next::remove();
                }
                let mut out = Vec::new();
                write_message(&mut out, &Message::Ping(Vec::new()), None);
                self.out.push(Chunk::Own(out));
                self.ping_sent = Some(now);
                Next::read_and_write().timeout(self.config.pong_timeout)
            }
        }
    }
}

impl<H: WsHandler> Protocol for WebSocket<H> {
    fn on_readable(&mut self, conn: &mut Upgraded<'_>) -> Next {
        self.turn(conn, true)
    }

    fn on_writable(&mut self, conn: &mut Upgraded<'_>) -> Next {
        let read = self.phase != Phase::Done;
        self.turn(conn, read)
    }

    fn on_error(&mut self, error: Error) -> Next {
        match error {
            Error::Timeout => self.on_timer(),
            Error::ShuttingDown => {
                self.start_close(close_code::GOING_AWAY, "server shutting down");
                Next::read_and_write().timeout(self.config.close_timeout)
            }
            other => {
                log::debug!("WebSocket ends: {other}");
                self.tell_close(None);
                Next::remove()
            }
        }
    }

    fn on_wake(&mut self) -> Next {
        if self.phase == Phase::Done {
            return self.next();
        }
        self.keeping_timer(Next::read_and_write())
    }

    fn on_done(&mut self) {
        self.tell_close(None);
    }
}

impl<H: WsHandler> fmt::Debug for WebSocket<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("phase", &self.phase)
            .field("queued", &self.out.bytes)
            .finish_non_exhaustive()
    }
}
