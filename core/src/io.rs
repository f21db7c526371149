//! The I/O layer both connection roles share: the transport, the read and
//! write buffers, and what edge-triggered readiness told us.
//!
//! A server connection and a client connection differ in what a head means
//! and what comes next, not in how bytes move; that lives here once (as
//! hyper's `proto/h1/io.rs` serves both of its roles). The readiness hints
//! `readable` and `writable` remember what the poller reported until a read
//! or write answers `WouldBlock`.

use std::io::{self, Read as _};

use crate::buffer::{ReadBuf, WriteBuf};
use crate::transport::Transport;

pub(crate) struct Io {
    pub(crate) transport: Transport,
    pub(crate) read_buf: ReadBuf,
    pub(crate) write_buf: WriteBuf,
    /// The socket may hold unread bytes.
    pub(crate) readable: bool,
    /// The socket may take more bytes.
    pub(crate) writable: bool,
    /// A read returned end-of-stream.
    pub(crate) peer_eof: bool,
    /// The poller reported the peer's FIN: a short read no longer means the
    /// socket is drained (no further edge will announce the end-of-stream).
    pub(crate) fin_seen: bool,
    /// The transport's closing words (TLS `close_notify`) are queued.
    close_queued: bool,
}

impl Io {
    pub(crate) fn new(transport: Transport, writable: bool) -> Io {
        Io {
            transport,
            read_buf: ReadBuf::default(),
            write_buf: WriteBuf::default(),
            readable: false,
            writable,
            peer_eof: false,
            fin_seen: false,
            close_queued: false,
        }
    }

    /// Records what the poller reported.
    pub(crate) fn on_event(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.fin_seen |= read_closed;
        self.readable |= readable || read_closed;
        self.writable |= writable;
        if self.transport.is_handshaking() {
            // A handshake blocked one direction on the other: either edge
            // may unblock both.
            self.readable |= writable;
            self.writable |= readable;
        }
    }

    /// After a read that `filled` its room or not: whether the socket may
    /// still hold more (edge-triggered readiness announces only new bytes,
    /// so a short read from a plain socket means it drained).
    fn after_read(&mut self, filled: bool) {
        self.readable = filled || self.fin_seen || self.transport.may_hold_more();
    }

    /// Reads once into the read buffer, growing it up to `limit` from
    /// `initial`. Returns whether anything happened (bytes or the end of the
    /// stream); `false` when there is nothing to read now.
    pub(crate) fn fill(&mut self, initial: usize, limit: usize) -> io::Result<bool> {
        if !self.readable || self.peer_eof {
            return Ok(false);
        }
        match self
            .read_buf
            .read_from(&mut self.transport, initial, limit.max(initial))
        {
            Ok((0, _)) => {
                self.peer_eof = true;
                Ok(true)
            }
            Ok((_, filled)) => {
                self.after_read(filled);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Reads straight into `out`, past the buffer (a plain-length body).
    /// `Ok(0)` is end-of-stream; `WouldBlock` clears the readable hint.
    pub(crate) fn read_direct(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.transport.read(out) {
                Ok(0) => {
                    self.peer_eof = true;
                    return Ok(0);
                }
                Ok(n) => {
                    self.after_read(n == out.len());
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Err(e);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes the buffer, then whatever the transport holds, as far as the
    /// socket takes them. Returns whether everything is out.
    pub(crate) fn flush(&mut self) -> io::Result<bool> {
        if !self.writable {
            return Ok(self.is_flushed());
        }
        if !self.write_buf.is_empty() && !self.write_buf.flush_to(&mut self.transport)? {
            self.writable = false;
            return Ok(false);
        }
        if !self.transport.flush_pending()? {
            self.writable = false;
            return Ok(false);
        }
        Ok(true)
    }

    /// Nothing waits to be written, in the buffer or in the transport.
    pub(crate) fn is_flushed(&self) -> bool {
        self.write_buf.is_empty() && !self.transport.has_pending_output()
    }

    /// Closes our sending half once everything is out (TLS: after
    /// `close_notify`). Returns whether it is closed; `false` means bytes
    /// are still waiting for the socket.
    pub(crate) fn close_write(&mut self) -> io::Result<bool> {
        if !self.flush()? {
            return Ok(false);
        }
        if !self.close_queued {
            // Only after the last bytes went into the transport: TLS
            // sends nothing after its `close_notify`.
            self.close_queued = true;
            self.transport.queue_close();
            if !self.flush()? {
                return Ok(false);
            }
        }
        self.transport.shutdown_write()?;
        Ok(true)
    }

    /// Reads and drops whatever the peer still sends after we closed our
    /// half. Returns whether the peer is done (end-of-stream or an error);
    /// `false` means it would block.
    pub(crate) fn drain_input(&mut self) -> bool {
        let mut scratch = [0u8; 4096];
        loop {
            match self.transport.read(&mut scratch) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }
}
