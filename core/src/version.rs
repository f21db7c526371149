//! The protocol version of a request.

use std::fmt;

/// The HTTP version of a message. Only HTTP/1.0 and HTTP/1.1 reach a handler;
/// any other version is refused with `505` before that.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// HTTP/1.0: close-delimited by default, keep-alive on request.
    Http10,
    /// HTTP/1.1: persistent by default, chunked bodies.
    #[default]
    Http11,
}

impl Version {
    /// `"HTTP/1.0"` or `"HTTP/1.1"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
