//! The response head a handler fills in.

use crate::header::{ContentLength, Header, Headers};
use crate::StatusCode;

/// The response head: status and header fields. The engine adds `Date`,
/// `Server` (when configured), the framing headers and `Connection` as
/// needed; a handler sets the rest.
///
/// Setting `Content-Length` makes the body that length; without it the body
/// is chunked (HTTP/1.1) or ends with the connection (HTTP/1.0).
///
/// ```
/// use turnstile_core::{header::ContentType, Response, StatusCode};
///
/// let mut res = Response::new();
/// res.set_status(StatusCode::CREATED);
/// res.set_header(&ContentType::json());
/// res.set_content_length(2);
/// assert_eq!(res.status(), StatusCode::CREATED);
/// assert_eq!(res.content_length(), Some(2));
/// ```
#[derive(Debug, Default, Clone)]
pub struct Response {
    status: StatusCode,
    headers: Headers,
    /// Set through `set_content_length`: kept as a number, so the head
    /// writer neither formats nor parses it twice.
    content_length: Option<u64>,
}

impl Response {
    /// `200 OK` with no fields.
    pub fn new() -> Response {
        Response::default()
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
