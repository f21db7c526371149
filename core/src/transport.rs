//! What a connection runs over: TCP, a Unix socket, TLS over either, or
//! memory (the test client and fuzzing).
//!
//! One enum, so the engine's calls stay static and users never name a
//! transport type. Everything here is non-blocking: reads and writes return
//! `WouldBlock` when the socket is not ready, and the connection waits for
//! the next readiness edge.
//!
//! TLS is sans-I/O (`rustls`): the stream feeds rustls the ciphertext it
//! reads and writes out what rustls wants to send. A TLS stream can be
//! blocked on the other direction (a handshake read needs a write first, a
//! write during the handshake needs the peer's next flight), which is why
//! [`Transport::is_handshaking`] exists: the I/O layer retries both
//! directions on any edge while it holds.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::event::Source;
use mio::net::TcpStream;
#[cfg(unix)]
use mio::net::UnixStream;

use crate::memory::MemoryTransport;

/// The byte stream under a connection.
pub(crate) enum Transport {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    /// Boxed: a rustls connection is large, and plain streams should not
    /// pay for its size.
    Tls(Box<TlsStream>),
    Memory(MemoryTransport),
}

/// A socket under TLS.
pub(crate) enum Socket {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    /// TLS in memory: the local connection and the TLS fuzz target.
    Memory(MemoryTransport),
}

impl Transport {
    /// Closes the sending half, so the peer reads end-of-stream.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(s) => s.shutdown(Shutdown::Write),
            #[cfg(unix)]
            Transport::Unix(s) => s.shutdown(Shutdown::Write),
            Transport::Tls(s) => s.socket.shutdown_write(),
            Transport::Memory(_) => Ok(()),
        }
    }

    /// Queues whatever must be said before the sending half closes (TLS's
    /// `close_notify`).
    pub(crate) fn queue_close(&mut self) {
        if let Transport::Tls(s) = self {
            s.tls.send_close_notify();
        }
    }

    /// Writes out bytes the transport itself still holds (TLS records).
    /// Returns whether none are left; `WouldBlock` is not an error here.
    pub(crate) fn flush_pending(&mut self) -> io::Result<bool> {
        match self {
            Transport::Tls(s) => s.write_records(),
            _ => Ok(true),
        }
    }

    /// Whether the transport holds bytes not yet written to the socket.
    pub(crate) fn has_pending_output(&self) -> bool {
        match self {
            Transport::Tls(s) => s.tls.wants_write(),
            _ => false,
        }
    }

    /// Whether a short read may still have left bytes behind: TLS returns
    /// plaintext as soon as it has some, so only a `WouldBlock` from the
    /// socket proves it drained.
    pub(crate) fn may_hold_more(&self) -> bool {
        match self {
            Transport::Tls(s) => !s.socket_drained || !s.tls.wants_read(),
            _ => false,
        }
    }

    /// A TLS handshake is under way: reads may need writes and the reverse.
    pub(crate) fn is_handshaking(&self) -> bool {
        match self {
            Transport::Tls(s) => s.tls.is_handshaking(),
            _ => false,
        }
    }

    /// Makes the coming close a reset (RST): for a response cut mid-body,
    /// so a peer reading to the close (HTTP/1.0, or a body with no length)
    /// cannot take the truncated body for a complete one.
    pub(crate) fn reset_on_close(&self) {
        if let Some(tcp) = self.tcp() {
            let socket = socket2::SockRef::from(tcp);
            if let Err(e) = socket.set_linger(Some(std::time::Duration::ZERO)) {
                log::debug!("could not arm a reset on close: {e}");
            }
        }
    }

    /// The TCP socket under this transport, if any.
    pub(crate) fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Transport::Tcp(s) => Some(s),
            Transport::Tls(s) => match &s.socket {
                Socket::Tcp(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// The memory pipe, for the local connection (under TLS too).
    pub(crate) fn memory(&mut self) -> Option<&mut MemoryTransport> {
        match self {
            Transport::Memory(m) => Some(m),
            Transport::Tls(s) => match &mut s.socket {
                Socket::Memory(m) => Some(m),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether this is TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Transport::Unix(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
            Transport::Memory(m) => m.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Transport::Unix(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
            Transport::Memory(m) => m.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write_vectored(bufs),
            #[cfg(unix)]
            Transport::Unix(s) => s.write_vectored(bufs),
            Transport::Tls(s) => s.write_vectored(bufs),
            Transport::Memory(m) => m.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport {
    /// What the poller watches: the socket itself, or the one under TLS;
    /// nothing for a memory pipe.
    fn source(&mut self) -> Option<&mut dyn Source> {
        match self {
            Transport::Tcp(s) => Some(s),
            #[cfg(unix)]
            Transport::Unix(s) => Some(s),
            Transport::Tls(s) => s.socket.source(),
            Transport::Memory(_) => None,
        }
    }
}

impl Source for Transport {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.source()
            .map_or(Ok(()), |s| s.register(registry, token, interests))
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.source()
            .map_or(Ok(()), |s| s.reregister(registry, token, interests))
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        self.source().map_or(Ok(()), |s| s.deregister(registry))
    }
}

impl Socket {
    fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.shutdown(Shutdown::Write),
            #[cfg(unix)]
            Socket::Unix(s) => s.shutdown(Shutdown::Write),
            Socket::Memory(_) => Ok(()),
        }
    }

    /// What the poller watches (memory has nothing to watch).
    fn source(&mut self) -> Option<&mut dyn Source> {
        match self {
            Socket::Tcp(s) => Some(s),
            #[cfg(unix)]
            Socket::Unix(s) => Some(s),
            Socket::Memory(_) => None,
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Socket::Unix(s) => s.read(buf),
            Socket::Memory(m) => m.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Socket::Unix(s) => s.write(buf),
            Socket::Memory(m) => m.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write_vectored(bufs),
            #[cfg(unix)]
            Socket::Unix(s) => s.write_vectored(bufs),
            Socket::Memory(m) => m.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Most TLS bytes (records waiting for the socket, or plaintext written
/// before the handshake finished) held per connection: past it a write
/// answers `WouldBlock`, so a peer that does not read backs up into the
/// handler, not into memory.
const TLS_BUFFER_LIMIT: usize = 64 * 1024;

/// A socket with a rustls session over it.
pub(crate) struct TlsStream {
    socket: Socket,
    tls: rustls::Connection,
    /// The last socket read answered `WouldBlock` (the edge is spent).
    socket_drained: bool,
    /// A TCP end-of-stream without `close_notify` reads as an error (the
    /// client role, where a close-delimited body could be truncated by an
    /// attacker) rather than as end-of-stream (the server role, where
    /// framing is always explicit).
    strict_eof: bool,
}

impl TlsStream {
    pub(crate) fn server(socket: Socket, tls: rustls::ServerConnection) -> TlsStream {
        TlsStream::new(socket, rustls::Connection::Server(tls), false)
    }

    pub(crate) fn client(socket: Socket, tls: rustls::ClientConnection) -> TlsStream {
        TlsStream::new(socket, rustls::Connection::Client(tls), true)
    }

    fn new(socket: Socket, mut tls: rustls::Connection, strict_eof: bool) -> TlsStream {
        tls.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        TlsStream {
            socket,
            tls,
            socket_drained: false,
            strict_eof,
        }
    }

    /// Writes queued records until none are left or the socket is full.
    fn write_records(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.socket) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads ciphertext from the socket and processes it.
    fn read_records(&mut self) -> io::Result<Records> {
        let mut socket = ShortReads {
            socket: &mut self.socket,
            short: false,
        };
        match self.tls.read_tls(&mut socket) {
            Ok(0) => return Ok(Records::End),
            // A read shorter than the room rustls offered drained the
            // socket (as for plain TCP): no second read just to see EAGAIN.
            Ok(_) => self.socket_drained = socket.short,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.socket_drained = true;
                return Ok(Records::Drained);
            }
            // rustls's own backpressure: plaintext is waiting to be read.
            Err(e) if e.kind() == io::ErrorKind::Other && !self.tls.wants_read() => {
                return Ok(Records::Drained)
            }
            Err(e) => return Err(e),
        }
        if let Err(e) = self.tls.process_new_packets() {
            // Send the alert rustls queued, then give up on the connection.
            let _ = self.write_records();
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        // Handshake flights, session tickets, key updates.
        self.write_records()?;
        Ok(Records::Read)
    }
}

/// The socket as rustls reads it, noting whether a read came back short.
struct ShortReads<'a> {
    socket: &'a mut Socket,
    short: bool,
}

impl Read for ShortReads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.socket.read(buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

/// What one read from a TLS socket came to.
#[derive(PartialEq, Eq)]
enum Records {
    /// Records were read and processed.
    Read,
    /// Nothing now (or rustls holds plaintext enough).
    Drained,
    /// The socket reached end-of-stream.
    End,
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !self.strict_eof => {
                    return Ok(0)
                }
                Err(e) => return Err(e),
            }
            match self.read_records()? {
                Records::Drained => return Err(io::ErrorKind::WouldBlock.into()),
                // The reader now reports the end (clean or not).
                Records::Read | Records::End => {}
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Older records go first, which also keeps what rustls holds bounded.
        self.write_records()?;
        let mut accepted = self.tls.writer().write(buf)?;
        if accepted == 0 && self.tls.is_handshaking() {
            // Plaintext waits for the handshake: move it on if the peer's
            // next flight is here.
            while self.read_records()? == Records::Read {}
            accepted = self.tls.writer().write(buf)?;
        }
        self.write_records()?;
        if accepted == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(accepted)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
