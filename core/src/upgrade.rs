//! Connection upgrades: after a `101 Switching Protocols` the engine hands
//! the connection to a [`Protocol`], a state machine that stays on the same
//! event loop, driven by the same [`Next`] readiness and woken by the same
//! [`Control`](crate::Control) as the request that upgraded it.
//!
//! A handler answers an upgrade request (one with `Connection: upgrade`
//! and `Upgrade: <protocol>`) by setting status 101 and its own `Upgrade`
//! and `Connection: upgrade` headers, and ending the response
//! ([`Next::end`]). The engine writes the head, then asks the handler for
//! the protocol with [`Handler::on_upgrade`](crate::Handler::on_upgrade).
//! From then on the engine manages no HTTP on the connection: the protocol
//! reads and writes raw bytes through [`Upgraded`], starting with any
//! bytes the client sent right after its head.
//!
//! ```
//! use std::io::{Read, Write};
//! use turnstile_core::upgrade::{Protocol, Upgraded};
//! use turnstile_core::{Control, Handler, Next, Request, ResponseHead, StatusCode};
//!
//! /// Echoes every byte back, after an upgrade to "echo".
//! struct Echo;
//!
//! impl Protocol for Echo {
//!     fn on_readable(&mut self, conn: &mut Upgraded<'_>) -> Next {
//!         let mut buf = [0u8; 4096];
//!         loop {
//!             match conn.read(&mut buf) {
//!                 Ok(0) => return Next::end(), // the peer is done
//!                 Ok(n) => {
//!                     if conn.write_all(&buf[..n]).is_err() {
//!                         return Next::remove();
//!                     }
//!                 }
//!                 Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Next::read(),
//!                 Err(_) => return Next::remove(),
//!             }
//!         }
//!     }
//! }
//!
//! struct Upgrader;
//!
//! impl Handler for Upgrader {
//!     fn on_request(&mut self, request: Request) -> Next {
//!         Next::write()
//!     }
//!     fn on_response(&mut self, response: &mut ResponseHead) -> Next {
//!         response.set_status(StatusCode::SWITCHING_PROTOCOLS);
//!         let headers = response.headers_mut();
//!         headers.set("upgrade", "echo").unwrap();
//!         headers.set("connection", "upgrade").unwrap();
//!         Next::end()
//!     }
//!     fn on_upgrade(&mut self) -> Option<Box<dyn Protocol>> {
//!         Some(Box::new(Echo))
//!     }
//! }
//! # let _ = |_: Control| Upgrader;
//! ```
//!
//! The engine refuses a 101 to a request that did not ask to upgrade
//! (HTTP/1.1 with a `Connection: upgrade` token) with `500`, and keeps
//! refusing `CONNECT` with `501`.

use std::io;

use crate::io::Io;
use crate::{Error, Next};

/// A protocol running on an upgraded connection.
///
/// Like a [`Handler`](crate::Handler), it answers every event with a
/// [`Next`]: [`Next::read`] to hear when bytes arrive, [`Next::write`] to
/// hear when there is room to send, [`Next::read_and_write`] for both,
/// [`Next::wait`] to sleep until a [`Control`](crate::Control) wakes it,
/// [`Next::end`] to close gracefully (what was written is sent first) and
/// [`Next::remove`] to drop the connection at once. A timeout on the
/// `Next` calls [`on_error`](Protocol::on_error) with
/// [`Error::Timeout`]. It starts as if it had answered
/// `Next::read_and_write()`.
///
/// The protocol keeps the upgrading request's [`Control`](crate::Control):
/// a `ready` sent through it before the switch may still arrive after it,
/// and then says what the protocol is called for next, like any other.
pub trait Protocol {
    /// Bytes can be read (a read returning `Ok(0)` means the peer closed
    /// its side).
    fn on_readable(&mut self, conn: &mut Upgraded<'_>) -> Next;

    /// There is room to write. The default asks to read.
    fn on_writable(&mut self, conn: &mut Upgraded<'_>) -> Next {
        let _ = conn;
        Next::read()
    }

    /// A timeout, the peer going away ([`Error::Closed`]), or the server
    /// draining ([`Error::ShuttingDown`]: end soon, the grace deadline
    /// closes the connection). The default drops the connection.
    fn on_error(&mut self, error: Error) -> Next {
        log::debug!("upgraded connection ends on error: {error}");
        Next::remove()
    }

    /// A [`Control::wake`](crate::Control::wake) arrived (another thread
    /// queued something to send, say): what next. The default asks for
    /// both directions.
    fn on_wake(&mut self) -> Next {
        Next::read_and_write()
    }

    /// The connection is finished with; called once, just before drop.
    fn on_done(&mut self) {}
}

/// The upgraded connection as a protocol sees it during a callback: an
/// [`io::Read`] and [`io::Write`] that answer `WouldBlock` when the socket
/// has nothing or no room (return [`Next::read`] or [`Next::write`] to be
/// called again when it has).
///
/// Writes are buffered up to the server's write high-water mark and sent at
/// the end of the callback's turn, so small writes in one callback leave in
/// one packet; [`flush`](io::Write::flush) sends earlier.
pub struct Upgraded<'a> {
    pub(crate) io: &'a mut Io,
    pub(crate) high_water: usize,
    /// Bytes read or written during this callback.
    pub(crate) moved: usize,
}

impl Upgraded<'_> {
    /// Bytes written but not yet handed to the transport (TLS may hold up
    /// to 64 KiB more of records).
    pub fn pending(&self) -> usize {
        self.io.write_buf.len()
    }

    /// Whether the connection is TLS.
    pub fn is_secure(&self) -> bool {
        self.io.transport.is_tls()
    }
}

impl io::Read for Upgraded<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if !self.io.read_buf.is_empty() {
            let bytes = self.io.read_buf.bytes();
            let n = bytes.len().min(out.len());
            out[..n].copy_from_slice(&bytes[..n]);
            self.io.read_buf.consume(n);
            self.moved += n;
            return Ok(n);
        }
        if self.io.peer_eof {
            return Ok(0);
        }
        if !self.io.readable {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.io.read_direct(out)?;
        self.moved += n;
        Ok(n)
    }
}

impl io::Write for Upgraded<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.io.write_buf.len() >= self.high_water {
            self.io.flush()?;
            if self.io.write_buf.len() >= self.high_water {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        let n = data.len().min(self.high_water - self.io.write_buf.len());
        self.io.write_buf.extend(&data[..n]);
        self.moved += n;
        Ok(n)
    }

    /// Sends what is buffered; `WouldBlock` if the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        if self.io.flush()? {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

impl<'a> std::fmt::Debug for Upgraded<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgraded").finish_non_exhaustive()
    }
}
