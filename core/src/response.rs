//! [`ResponseHead`]: the status line and header fields of a response, as a
//! server handler fills them in and as a client handler receives them.

use crate::header::{ContentLength, Header, Headers, InvalidHeader};
use crate::{StatusCode, Version};

/// A response head: status and header fields.
///
/// A server [`Handler`](crate::Handler) fills one in
/// [`on_response`](crate::Handler::on_response): the engine adds `Date`,
/// `Server` (when configured), the framing headers and `Connection` as
/// needed; the handler sets the rest. Setting a content length makes the
/// body that length; without it the body is chunked (HTTP/1.1) or ends
/// with the connection (HTTP/1.0). A client
/// [`Handler`](crate::client::Handler) receives one as it arrived.
///
/// ```
/// use turnstile_core::{header::ContentType, ResponseHead, StatusCode};
///
/// let mut res = ResponseHead::new();
/// res.set_status(StatusCode::CREATED);
/// res.set_header(&ContentType::json());
/// res.set_content_length(2);
/// assert_eq!(res.status(), StatusCode::CREATED);
/// assert_eq!(res.content_length(), Some(2));
/// ```
#[derive(Debug, Default, Clone)]
pub struct ResponseHead {
    status: StatusCode,
    version: Version,
    headers: Headers,
    /// Set through `set_content_length`: kept as a number, so the head
    /// writer neither formats nor parses it twice.
    content_length: Option<u64>,
}

impl ResponseHead {
    /// `200 OK` with no fields.
    pub fn new() -> ResponseHead {
        ResponseHead::default()
    }

    /// A head as a client received it.
    pub(crate) fn received(status: StatusCode, version: Version, headers: Headers) -> ResponseHead {
        ResponseHead {
            status,
            version,
            headers,
            content_length: None,
        }
    }

    /// The protocol version: what the server spoke, for a received head;
    /// HTTP/1.1 for one being written (the engine answers 1.1 always).
    pub fn version(&self) -> Version {
        self.version
    }

    /// A typed header: `Ok(None)` when absent.
    pub fn header<H: Header>(&self) -> Result<Option<H>, InvalidHeader> {
        self.headers.typed()
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Sets the status.
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to change.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// Sets a typed header, replacing others of its name.
    pub fn set_header<H: Header>(&mut self, header: &H) {
        self.headers.set_typed(header);
    }

    /// Sets `Content-Length` (replacing any such field).
    pub fn set_content_length(&mut self, length: u64) {
        if !self.headers.is_empty() {
            self.headers.remove(ContentLength::NAME);
        }
        self.content_length = Some(length);
    }

    /// The `Content-Length` set, as a number or as a field.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length.or_else(|| {
            self.headers
                .typed::<ContentLength>()
                .ok()
                .flatten()
                .map(|ContentLength(n)| n)
        })
    }

    /// The length given to `set_content_length`, if any.
    pub(crate) fn content_length_set(&self) -> Option<u64> {
        self.content_length
    }

    /// Back to `200 OK` with no fields, keeping the allocations.
    pub(crate) fn reset(&mut self) {
        self.status = StatusCode::OK;
        self.headers.clear();
        self.content_length = None;
    }
}
