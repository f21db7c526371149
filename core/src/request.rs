//! The request head a handler receives.
//!
//! A `Request` owns its target text and header fields, so a handler may keep
//! it or send it to another thread. Its two buffers come from a small
//! per-thread pool and go back to it on drop, so a server that handles one
//! request after another reuses the same memory instead of allocating.

use std::cell::RefCell;
use std::mem::ManuallyDrop;
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
    /// Boxed, and the box pooled: a request is handed from the parser to
    /// the handler and on (into the framework's request parts), and each
    /// move of a 180-byte head was a copy per request; a pointer moves for
    /// free. Taken out only by `Drop`, which gives it back to the pool.
    data: ManuallyDrop<Box<RequestData>>,
}

/// What a [`Request`] holds.
pub(crate) struct RequestData {
    method: Method,
    version: Version,
    target: RequestTarget,
    headers: Headers,
    remote_addr: Option<SocketAddr>,
    received: Option<std::time::Instant>,
    secure: bool,
}

/// How many spare request boxes a thread keeps.
const POOL_MAX: usize = 64;
/// Buffers larger than this are freed instead of pooled.
const POOL_MAX_BYTES: usize = 64 * 1024;

thread_local! {
    // Boxes, not values: the point is to hand out the same allocation again.
    #[allow(clippy::vec_box)]
    static POOL: RefCell<Vec<Box<RequestData>>> = const { RefCell::new(Vec::new()) };
}

/// A request box from this thread's pool (its target text and header map
/// empty but with their room), or a new one.
pub(crate) fn pooled_data() -> Box<RequestData> {
    POOL.try_with(|pool| pool.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

impl Default for RequestData {
    fn default() -> RequestData {
        RequestData {
            method: Method::Get,
            version: Version::default(),
            target: RequestTarget::default(),
            headers: Headers::default(),
            remote_addr: None,
            received: None,
            secure: false,
        }
    }
}

impl RequestData {
    /// The target's text buffer and the header map, to be filled by the
    /// parser and given back through [`Request::from_parts`].
    pub(crate) fn take_buffers(&mut self) -> (String, Headers) {
        (
            std::mem::take(&mut self.target).into_storage(),
            std::mem::take(&mut self.headers),
        )
    }
}

impl Request {
    pub(crate) fn from_parts(
        mut data: Box<RequestData>,
        method: Method,
        version: Version,
        target: RequestTarget,
        headers: Headers,
        remote_addr: Option<SocketAddr>,
    ) -> Request {
        data.method = method;
        data.version = version;
        data.target = target;
        data.headers = headers;
        data.remote_addr = remote_addr;
        data.received = None;
        data.secure = false;
        Request {
            data: ManuallyDrop::new(data),
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
        self.data.method
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.data.version
    }

    /// The request target with its parts.
    pub fn target(&self) -> &RequestTarget {
        &self.data.target
    }

    /// The path of the target, still percent-encoded.
    pub fn path(&self) -> &str {
        self.data.target.path()
    }

    /// The query of the target, if any, still percent-encoded.
    pub fn query(&self) -> Option<&str> {
        self.data.target.query()
    }

    /// The header fields, in arrival order.
    pub fn headers(&self) -> &Headers {
        &self.data.headers
    }

    /// A typed header: `Ok(None)` when absent, `Err` when malformed.
    pub fn header<H: Header>(&self) -> Result<Option<H>, InvalidHeader> {
        self.data.headers.typed()
    }

    /// When the engine finished reading the head (its loop's clock, so no
    /// extra clock read per request); `None` for heads parsed by hand.
    pub fn received(&self) -> Option<std::time::Instant> {
        self.data.received
    }

    /// Stamps what the engine knows beyond the head: when it arrived, and
    /// whether over TLS.
    pub(crate) fn set_arrival(&mut self, at: std::time::Instant, secure: bool) {
        self.data.received = Some(at);
        self.data.secure = secure;
    }

    /// The address of the peer, for TCP connections (`None` on a Unix
    /// socket).
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.data.remote_addr
    }

    /// Whether the request arrived over TLS (an `https://` request).
    pub fn is_secure(&self) -> bool {
        self.data.secure
    }
}

/// A copy of the head (it allocates: the engine's own requests reuse
/// pooled buffers, copies do not).
impl Clone for Request {
    fn clone(&self) -> Request {
        let data = &self.data;
        Request {
            data: ManuallyDrop::new(Box::new(RequestData {
                method: data.method,
                version: data.version,
                target: data.target.clone(),
                headers: data.headers.clone(),
                remote_addr: data.remote_addr,
                received: data.received,
                secure: data.secure,
            })),
        }
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        // SAFETY: `data` is taken here, once, and the request is not used
        // after its drop.
        let mut data = unsafe { ManuallyDrop::take(&mut self.data) };
        if data.target.capacity() > POOL_MAX_BYTES || data.headers.capacity_bytes() > POOL_MAX_BYTES
        {
            return;
        }
        data.target.clear();
        data.headers.clear();
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_MAX {
                pool.push(data);
            }
        });
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.data.method)
            .field("target", &self.data.target)
            .field("version", &self.data.version)
            .field("headers", &self.data.headers)
            .field("remote_addr", &self.data.remote_addr)
            .finish()
    }
}
