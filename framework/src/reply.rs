//! Replies: the [`Response`] a handler builds or returns, and
//! [`IntoResponse`] for everything a handler may return.
//!
//! ```
//! use turnstile::{IntoResponse, Json, Response, StatusCode};
//!
//! let text = "Hello".into_response();
//! assert_eq!(text.content_type(), Some("text/plain; charset=utf-8"));
//!
//! let created = (StatusCode::CREATED, Json(serde_json::json!({"id": 1}))).into_response();
//! assert_eq!(created.status(), StatusCode::CREATED);
//! assert_eq!(created.body(), br#"{"id":1}"#);
//!
//! let missing: Option<&str> = None;
//! assert_eq!(missing.into_response().status(), StatusCode::NOT_FOUND);
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use turnstile_core::header::{Header, Headers, InvalidHeader};
use turnstile_core::StatusCode;

use crate::stream::{BodySender, Channel, Receiver, DEFAULT_STREAM_CAPACITY};

/// The content type of text replies.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// The content type of JSON replies.
pub const JSON: &str = "application/json";
/// The content type of HTML replies.
pub const HTML: &str = "text/html; charset=utf-8";

/// A complete response: status, headers and body.
#[derive(Clone, Default)]
pub struct Response {
    status: StatusCode,
    content_type: Option<Cow<'static, str>>,
    headers: Headers,
    body: Body,
    /// What went wrong, for an error answer the app may render its own way
    /// ([`App::render_errors`](crate::App::render_errors)).
    pub(crate) error: Option<Box<ErrorInfo>>,
}

/// The message and field of an error answer.
#[derive(Clone, Debug)]
pub(crate) struct ErrorInfo {
    pub(crate) message: String,
    pub(crate) field: Option<String>,
}

/// A response body: bytes in memory, or a stream fed while it is sent.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// Bytes known at compile time.
    Static(&'static [u8]),
    /// Bytes made for this response.
    Owned(Vec<u8>),
    /// A body fed while it is sent (see [`stream`](crate::stream)).
    Stream(StreamBody),
    /// Parts of a file, read as they are sent, with a known length (see
    /// [`files`](crate::files)).
    File(Box<crate::file_body::FileBody>),
    /// No body: after this `101` answer, a protocol takes the connection
    /// over (see [`ws`](crate::ws)).
    Upgrade(UpgradeBody),
}

/// What takes the connection over after a `101`: made on the connection's
/// loop with the request's `Control`, once the answer is out.
#[derive(Clone)]
pub struct UpgradeBody {
    pub(crate) make: Arc<Mutex<Option<MakeProtocol>>>,
}

/// Makes the protocol for an upgraded connection.
pub(crate) type MakeProtocol =
    Box<dyn FnOnce(turnstile_core::Control) -> Box<dyn turnstile_core::upgrade::Protocol> + Send>;

impl UpgradeBody {
    pub(crate) fn new(make: MakeProtocol) -> UpgradeBody {
        UpgradeBody {
            make: Arc::new(Mutex::new(Some(make))),
        }
    }

    pub(crate) fn take(&self) -> Option<MakeProtocol> {
        self.make.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl fmt::Debug for UpgradeBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradeBody").finish_non_exhaustive()
    }
}

/// A streaming body: the channel, and the producer to start on the
/// blocking pool when sending begins (if any).
#[derive(Clone)]
pub struct StreamBody {
    pub(crate) channel: Arc<Receiver>,
    pub(crate) producer: Arc<Mutex<Option<Producer>>>,
}

/// A producer waiting to run (it owns the channel's sender).
pub(crate) type Producer = Box<dyn FnOnce() + Send>;

impl fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamBody").finish_non_exhaustive()
    }
}

impl Body {
    /// The bytes in memory (none for a stream).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Empty | Body::Stream(_) | Body::Upgrade(_) | Body::File(_) => &[],
            Body::Static(b) => b,
            Body::Owned(b) => b,
        }
    }

    /// Whether the body is a stream (its length is not known up front).
    pub fn is_stream(&self) -> bool {
        matches!(self, Body::Stream(_))
    }
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            ..Response::default()
        }
    }

    /// `200 OK` with a text body.
    pub fn text(body: impl Into<Cow<'static, str>>) -> Response {
        let body = match body.into() {
            Cow::Borrowed(s) => Body::Static(s.as_bytes()),
            Cow::Owned(s) => Body::Owned(s.into_bytes()),
        };
        Response {
            content_type: Some(Cow::Borrowed(TEXT)),
            body,
            ..Response::default()
        }
    }

    /// `200 OK` with `value` as JSON; `500` if it does not serialize.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(bytes) => Response {
                content_type: Some(Cow::Borrowed(JSON)),
                body: Body::Owned(bytes),
                ..Response::default()
            },
            Err(e) => {
                log::error!("reply did not serialize to JSON: {e}");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "reply could not be serialized",
                    None,
                )
            }
        }
    }

    /// `200 OK` with an HTML body.
    pub fn html(body: impl Into<Cow<'static, str>>) -> Response {
        Response::text(body).with_content_type(HTML)
    }

    /// `200 OK` with bytes and a content type.
    pub fn bytes(content_type: impl Into<Cow<'static, str>>, body: Vec<u8>) -> Response {
        Response {
            content_type: Some(content_type.into()),
            body: Body::Owned(body),
            ..Response::default()
        }
    }

    /// `200 OK` with a body `producer` writes while it is sent: it runs on
    /// the app's blocking pool once the head is on its way (see
    /// [`stream`](crate::stream)). `send` waits while the client is slow and
    /// fails once it is gone (`?` turns that into an `io::Error` and
    /// stops); an `Err` from the producer (or a panic) cuts the response,
    /// so the client sees it incomplete.
    ///
    /// The producer holds one thread of the blocking pool for as long as
    /// the stream lasts; at most [`App::stream_producers`](crate::App::stream_producers)
    /// run at once (then `503`). For many long-lived streams (event feeds)
    /// use [`Response::channel`] with threads of your own.
    pub fn stream<F>(producer: F) -> Response
    where
        F: FnOnce(BodySender) -> std::io::Result<()> + Send + 'static,
    {
        let (channel, tx) = Channel::new(DEFAULT_STREAM_CAPACITY);
        let producer: Producer = Box::new(move || {
            // Kept until the producer's verdict: its own sender dropping
            // inside must not end the body before an error can cut it.
            let keep = tx.clone();
            match producer(tx) {
                Ok(()) => keep.finish(),
                Err(e) if keep.is_closed() => {
                    log::debug!("a response stream's producer stopped: {e}");
                }
                Err(e) => {
                    log::warn!("a response stream's producer failed: {e}; cutting the response");
                    keep.abort();
                }
            }
        });
        let body = StreamBody {
            channel: Arc::new(Receiver(channel)),
            producer: Arc::new(Mutex::new(Some(producer))),
        };
        Response {
            body: Body::Stream(body),
            ..Response::default()
        }
    }

    /// `200 OK` with a body fed through the returned [`BodySender`] from any
    /// thread (at most `capacity` bytes buffered; [`DEFAULT_STREAM_CAPACITY`]
    /// is a good start). The body ends when every sender is dropped.
    ///
    /// ```
    /// use turnstile::{App, Response};
    ///
    /// fn ticks() -> Response {
    ///     let (response, tx) = Response::channel(turnstile::stream::DEFAULT_STREAM_CAPACITY);
    ///     std::thread::spawn(move || {
    ///         for i in 0..3 {
    ///             if tx.send(format!("tick {i}\n")).is_err() {
    ///                 return; // the client left
    ///             }
    ///         }
    ///     });
    ///     response.with_header("content-type", "text/plain")
    /// }
    ///
    /// let client = turnstile::test::TestClient::new(App::new().get("/ticks", ticks)).unwrap();
    /// assert_eq!(client.get("/ticks").text(), "tick 0\ntick 1\ntick 2\n");
    /// ```
    pub fn channel(capacity: usize) -> (Response, BodySender) {
        let (channel, sender) = Channel::new(capacity);
        let body = StreamBody {
            channel: Arc::new(Receiver(channel)),
            producer: Arc::new(Mutex::new(None)),
        };
        let response = Response {
            body: Body::Stream(body),
            ..Response::default()
        };
        (response, sender)
    }

    /// `200 OK` with a body copied from `reader` on the app's blocking
    /// pool, 16 KiB at a time, as the client takes it. A read error cuts
    /// the response.
    pub fn reader<R: std::io::Read + Send + 'static>(mut reader: R) -> Response {
        Response::stream(move |tx| {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => tx.send(buf[..n].to_vec())?,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        })
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Sets the status.
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// With another status.
    pub fn with_status(mut self, status: StatusCode) -> Response {
        self.status = status;
        self
    }

    /// The `Content-Type`, if set.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// Sets the `Content-Type`.
    pub fn set_content_type(&mut self, content_type: impl Into<Cow<'static, str>>) {
        self.content_type = Some(content_type.into());
    }

    /// With a `Content-Type`.
    pub fn with_content_type(mut self, content_type: impl Into<Cow<'static, str>>) -> Response {
        self.set_content_type(content_type);
        self
    }

    /// Other header fields (the engine adds `Content-Length`, `Date` and
    /// the framing headers).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Other header fields, to change.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// With a header field added. Invalid names or values are logged and
    /// dropped (they could split the head).
    pub fn with_header(mut self, name: &str, value: impl AsRef<[u8]>) -> Response {
        if let Err(e) = self.headers.append(name, value) {
            log::error!("dropped a response header: {e}");
        }
        self
    }

    /// Sets a typed header, replacing others of its name.
    pub fn set_header<H: Header>(&mut self, header: &H) {
        if H::NAME == "content-type" {
            let mut scratch = Headers::new();
            scratch.set_typed(header);
            if let Some(v) = scratch.get("content-type") {
                self.content_type = Some(Cow::Owned(v.to_owned()));
            }
            return;
        }
        self.headers.set_typed(header);
    }

    /// With a typed header.
    pub fn with_typed<H: Header>(mut self, header: &H) -> Response {
        self.set_header(header);
        self
    }

    /// Sets a raw header field, replacing others of its name.
    pub fn set_raw_header(
        &mut self,
        name: &str,
        value: impl AsRef<[u8]>,
    ) -> Result<(), InvalidHeader> {
        if name.eq_ignore_ascii_case("content-type") {
            let value = std::str::from_utf8(value.as_ref())
                .map_err(|_| InvalidHeader::new(name, "not UTF-8"))?;
            let mut check = Headers::new();
            check.set(name, value)?;
            self.content_type = Some(Cow::Owned(value.to_owned()));
            return Ok(());
        }
        self.headers.set(name, value)
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        self.body.as_bytes()
    }

    /// The body as it is held (bytes, a stream, an upgrade).
    pub fn body_ref(&self) -> &Body {
        &self.body
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: Body) {
        self.body = body;
    }

    pub(crate) fn take_body(&mut self) -> Body {
        std::mem::take(&mut self.body)
    }

    /// Takes the body, content type and headers of `rendered` (an app's
    /// rendering of this error answer), keeping this status and headers.
    pub(crate) fn adopt_rendering(&mut self, rendered: Response) {
        self.content_type = rendered.content_type;
        self.body = rendered.body;
        self.headers.append_all(&rendered.headers);
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(self.body()))
            .finish()
    }
}

/// `{"error": message}` (with `"field"` when one part is to blame).
pub(crate) fn error_response(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        error: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<&'a str>,
    }
    let body = serde_json::to_vec(&ErrorBody {
        error: message,
        field,
    })
    .unwrap_or_else(|_| br#"{"error":"internal error"}"#.to_vec());
    Response {
        status,
        content_type: Some(Cow::Borrowed(JSON)),
        body: Body::Owned(body),
        error: Some(Box::new(ErrorInfo {
            message: message.to_owned(),
            field: field.map(str::to_owned),
        })),
        ..Response::default()
    }
}

/// What a handler answers: a response now, or one that comes later through
/// the [`Defer`](crate::Defer) it took.
#[derive(Debug)]
pub enum Reply {
    /// The response, ready to send.
    Now(Response),
    /// The answer comes through the handler's `Defer`.
    Later(crate::Deferred),
}

/// Anything a handler may return: every [`IntoResponse`], and
/// [`Deferred`](crate::Deferred) (alone or as the `Ok` of a `Result` whose
/// error is a response) for an answer that comes through a `Defer`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a reply",
    label = "not a reply",
    note = "a handler returns something that implements `IntoResponse`: &'static str, String, Vec<u8>, Json<T>, Html<T>, Redirect, Response, StatusCode, (StatusCode, T), Option<T>, Result<T, E> (both sides replies), or a type of your own; or `Deferred` (or `Result<Deferred, E>`) when it answers through a `Defer`"
)]
pub trait IntoReply {
    /// The reply it stands for.
    fn into_reply(self) -> Reply;
}

impl<T: IntoResponse> IntoReply for T {
    fn into_reply(self) -> Reply {
        Reply::Now(self.into_response())
    }
}

/// A response: what a handler answers now, what `Defer::complete` and
/// middleware send.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a response",
    label = "not a response",
    note = "responses are &'static str, String, Vec<u8>, Json<T>, Html<T>, Redirect, Response, StatusCode, (StatusCode, T), Option<T>, Result<T, E> (both sides responses), or a type of your own"
)]
pub trait IntoResponse {
    /// The response it stands for.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(StatusCode::NO_CONTENT)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Response::bytes("application/octet-stream", self)
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        Response {
            content_type: Some(Cow::Borrowed("application/octet-stream")),
            body: Body::Static(self),
            ..Response::default()
        }
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        if self.is_client_error() || self.is_server_error() {
            let message = match self.reason() {
                "" => format!("error {}", self.as_u16()),
                reason => reason.to_ascii_lowercase(),
            };
            return error_response(self, &message, None);
        }
        Response::new(self)
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        self.1.into_response().with_status(self.0)
    }
}

/// `(status, headers, body)`: headers as name/value pairs.
impl<T: IntoResponse, N: AsRef<str>, V: AsRef<[u8]>, const K: usize> IntoResponse
    for (StatusCode, [(N, V); K], T)
{
    fn into_response(self) -> Response {
        let mut res = self.2.into_response().with_status(self.0);
        for (name, value) in self.1 {
            if let Err(e) = res.set_raw_header(name.as_ref(), value) {
                log::error!("dropped a response header: {e}");
            }
        }
        res
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(t) => t.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// `None` answers `404 Not Found`.
impl<T: IntoResponse> IntoResponse for Option<T> {
    fn into_response(self) -> Response {
        match self {
            Some(t) => t.into_response(),
            None => error_response(StatusCode::NOT_FOUND, "not found", None),
        }
    }
}

/// A JSON body, in (as an extractor) or out (as a reply).
///
/// As a reply it serializes with `serde_json` and sets
/// `Content-Type: application/json`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        Response::json(&self.0)
    }
}

/// Plain HTML.
#[derive(Clone, Debug)]
pub struct Html<T>(pub T);

impl<T: Into<Cow<'static, str>>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        Response::html(self.0)
    }
}

/// A redirect: `303 See Other` by default.
///
/// ```
/// use turnstile::{IntoResponse, Redirect, StatusCode};
///
/// let r = Redirect::to("/login").into_response();
/// assert_eq!(r.status(), StatusCode::SEE_OTHER);
/// assert_eq!(r.headers().get("location"), Some("/login"));
/// ```
#[derive(Clone, Debug)]
pub struct Redirect {
    status: StatusCode,
    location: String,
}

impl Redirect {
    /// `303 See Other`: fetch `location` with GET.
    pub fn to(location: impl Into<String>) -> Redirect {
        Redirect {
            status: StatusCode::SEE_OTHER,
            location: location.into(),
        }
    }

    /// `307 Temporary Redirect`: repeat the same request at `location`.
    pub fn temporary(location: impl Into<String>) -> Redirect {
        Redirect {
            status: StatusCode::TEMPORARY_REDIRECT,
            location: location.into(),
        }
    }

    /// `308 Permanent Redirect`.
    pub fn permanent(location: impl Into<String>) -> Redirect {
        Redirect {
            status: StatusCode::PERMANENT_REDIRECT,
            location: location.into(),
        }
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        let mut res = Response::new(self.status);
        if let Err(e) = res.headers_mut().set("location", &self.location) {
            log::error!("redirect location refused: {e}");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "bad redirect location",
                None,
            );
        }
        res
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body").finish_non_exhaustive()
    }
}
