//! The request head a handler receives.
//!
//! A `Request` owns its target text and header fields, so a handler may keep
//! it or send it to another thread. Its two buffers come from a small
//! per-thread pool and go back to it on drop, so a server that handles one
//! request after another reuses the same memory instead of allocating.

use std::cell::RefCell;
use std::net::SocketAddr;

use crate::header::{Header, Headers, InvalidHeader};
use crate::{Method, RequestTarget, Version};

/// A request head: method, target, version, header fields and the peer's
/// address. Fields are private: changing them would change nothing on the
/// wire, so there is nothing to set.
///
/// ```
/// use turnstile_core::{Method, Request, Version};
///
/// let req = Request::parse(b"GET /hello?name=you HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n").unwrap();
/// assert_eq!(req.method(), Method::Get);
/// assert_eq!(req.path(), "/hello");
/// assert_eq!(req.query(), Some("name=you"));
/// assert_eq!(req.version(), Version::Http11);
/// assert_eq!(req.headers().get("accept"), Some("*/*"));
/// ```
pub struct Request {
    method: Method,
    version: Version,
    target: RequestTarget,
    headers: Headers,
    remote_addr: Option<SocketAddr>,
    received: Option<std::time::Instant>,
    secure: bool,
}

/// How many spare request buffers a thread keeps.
const POOL_MAX: usize = 64;
/// Buffers larger than this are freed instead of pooled.
const POOL_MAX_BYTES: usize = 64 * 1024;

thread_local! {
    static POOL: RefCell<Vec<(String, Headers)>> = const { RefCell::new(Vec::new()) };
}

/// Takes a target string and a header map from this thread's pool.
pub(crate) fn pooled_parts() -> (String, Headers) {
    POOL.try_with(|pool| pool.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

impl Request {
    pub(crate) fn from_parts(
        method: Method,
        version: Version,
        target: RequestTarget,
        headers: Headers,
        remote_addr: Option<SocketAddr>,
    ) -> Request {
        Request {
            method,
            version,
            target,
            headers,
            remote_addr,
            received: None,
            secure: false,
        }
    }

    /// Parses one complete request head with the server's default limits;
    /// for tests and tools. A server parses heads itself.
    pub fn parse(head: &[u8]) -> Result<Request, crate::h1::ParseError> {
        let limits = crate::h1::HeadLimits::default();
        match crate::h1::parse_request(head, &limits, None)? {
            Some((request, _)) => Ok(request),
            None => Err(crate::h1::ParseError::incomplete()),
        }
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The request target with its parts.
    pub fn target(&self) -> &RequestTarget {
        &self.target
    }

    /// The path of the target, still percent-encoded.
    pub fn path(&self) -> &str {
        self.target.path()
    }

    /// The query of the target, if any, still percent-encoded.
    pub fn query(&self) -> Option<&str> {
        self.target.query()
    }

    /// The header fields, in arrival order.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// A typed header: `Ok(None)` when absent, `Err` when malformed.
    pub fn header<H: Header>(&self) -> Result<Option<H>, InvalidHeader> {
        self.headers.typed()
    }

    /// When the engine finished reading the head (its loop's clock, so no
    /// extra clock read per request); `None` for heads parsed by hand.
    pub fn received(&self) -> Option<std::time::Instant> {
        self.received
    }

    /// Stamps what the engine knows beyond the head: when it arrived, and
    /// whether over TLS.
    pub(crate) fn set_arrival(&mut self, at: std::time::Instant, secure: bool) {
        self.received = Some(at);
        self.secure = secure;
    }

    /// The address of the peer, for TCP connections (`None` on a Unix
    /// socket).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// Whether the request arrived over TLS (an `https://` request).
    pub fn is_secure(&self) -> bool {
        self.secure
    }
}

/// A copy of the head (it allocates: the engine's own requests reuse
/// pooled buffers, copies do not).
impl Clone for Request {
    fn clone(&self) -> Request {
        Request {
            method: self.method,
            version: self.version,
            target: self.target.clone(),
            headers: self.headers.clone(),
            remote_addr: self.remote_addr,
            received: self.received,
            secure: self.secure,
        }
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        let target = std::mem::take(&mut self.target).into_storage();
        let mut headers = std::mem::take(&mut self.headers);
        if target.capacity() > POOL_MAX_BYTES || headers.capacity_bytes() > POOL_MAX_BYTES {
            return;
        }
        headers.clear();
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_MAX {
                pool.push((target, headers));
            }
        });
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("version", &self.version)
            .field("headers", &self.headers)
            .field("remote_addr", &self.remote_addr)
            .finish()
    }
}
