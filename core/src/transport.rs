//! What a connection runs over.

use std::io;
use std::net::{Shutdown, SocketAddr};

/// A non-blocking byte stream the engine can register with `mio`: TCP, or a
/// Unix socket.
pub trait Transport: io::Read + io::Write + mio::event::Source + 'static {
    /// Closes the sending half, so the peer reads end-of-stream.
    fn shutdown_write(&self) -> io::Result<()>;

    /// The peer's address, for TCP.
    fn remote_addr(&self) -> Option<SocketAddr>;
}

impl Transport for mio::net::TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.peer_addr().ok()
    }
}

#[cfg(unix)]
impl Transport for mio::net::UnixStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }
}
