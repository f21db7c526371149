//! Errors a handler hears about through `on_error`.

use std::{fmt, io};

/// Why the engine interrupted a handler.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The timeout of the last [`Next`](crate::Next) expired before anything
    /// happened.
    Timeout,
    /// The request body broke its framing (a bad chunk size, a body cut short);
    /// the connection will not be reused.
    BadBody(&'static str),
    /// The peer closed or reset the connection before the exchange finished.
    Closed,
    /// A response the client could not accept (a malformed status line,
    /// both Content-Length and Transfer-Encoding, an oversized head, ...).
    BadResponse(&'static str),
    /// The transport failed.
    Io(io::Error),
    /// The server is shutting down gracefully: finish soon; at the grace
    /// deadline the connection is closed. Told to upgraded connections
    /// (a WebSocket says goodbye with 1001 here).
    ShuttingDown,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout => f.write_str("timed out"),
            Error::BadBody(why) => write!(f, "malformed request body: {why}"),
            Error::Closed => f.write_str("connection closed by peer"),
            Error::BadResponse(why) => write!(f, "malformed response: {why}"),
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::ShuttingDown => f.write_str("the server is shutting down"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}
