//! Extractors: typed arguments of handler functions.
//!
//! ```
//! use serde::Deserialize;
//! use turnstile::extract::{Path, Query, State};
//! use turnstile::{App, Json};
//!
//! #[derive(Deserialize)]
//! struct Page { page: Option<u32> }
//!
//! struct Greeting {
//!     word: &'static str,
//! }
//!
//! fn list(Path(user): Path<String>, Query(page): Query<Page>, greeting: State<Greeting>) -> String {
//!     format!("{} {user}, page {}", greeting.word, page.page.unwrap_or(1))
//! }
//!
//! let app = App::new().state(Greeting { word: "hello" }).get("/users/:user/items", list);
//! let client = turnstile::test::TestClient::new(app).unwrap();
//! assert_eq!(client.get("/users/ann/items?page=2").text(), "hello ann, page 2");
//! ```
//!
//! Every argument but the last implements [`FromRequestParts`] (it reads
//! the head); the last may instead consume the body ([`Json`], [`Form`],
//! `Vec<u8>`, `String`). The body is read only for handlers whose last
//! argument needs it, and never beyond the route's body limit (`413`).
//!
//! An extractor that fails answers for the handler, with a precise status
//! and a JSON body saying which part failed and why:
//! `{"error": "invalid JSON: expected value at line 1 column 1", "field": "body"}`.
//!
//! | extractor | reads | fails with |
//! |---|---|---|
//! | [`Path<T>`] | route parameters (struct by name, tuple in order, or one value) | `400` |
//! | [`Query<T>`] | the query string | `400` |
//! | [`TypedHeader<H>`] | one typed header (`Option<TypedHeader<H>>` when optional) | `400` |
//! | [`State<T>`] | state given to [`App::state`](crate::App::state) | `500` (not registered) |
//! | [`Json<T>`] | a JSON body | `415` wrong type, `400` bad syntax, `422` wrong shape |
//! | [`Form<T>`] | an urlencoded body | `415`, `422` |
//! | `Vec<u8>`, `String` | the raw body | `400` (not UTF-8, for `String`) |
//! | [`Extension<T>`] | what a `before` middleware attached | `500` (not attached) |
//! | `Method`, [`RequestHead`] | the request head | never |
//! | [`Defer`](crate::Defer) | the means to answer later | never |
//! | `Option<T>`, `Result<T, Rejection>` | `T`, without failing the request | never |
//!
//! A `State<T>` the app was never given is refused when the app is built,
//! naming the route and the type. `App::render_errors` renders failures
//! (and every other error answer) your way instead of the JSON above.
//!
//! # Writing an extractor
//!
//! An extractor is a type that implements [`FromRequestParts`] (it reads
//! the head) or [`FromRequest`] (it reads the body; only the last argument
//! may). Refuse with a [`Rejection`]: a status, a message, and the field
//! at fault, and the client gets the same precise answer as from the
//! built-in ones.
//!
//! ```
//! use turnstile::extract::{FromRequest, FromRequestParts, Rejection, RequestParts};
//! use turnstile::test::TestClient;
//! use turnstile::{App, StatusCode};
//!
//! /// The caller, from a bearer token.
//! struct User(String);
//!
//! impl FromRequestParts for User {
//!     fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
//!         let header = parts.request().headers().get("authorization");
//!         match header.and_then(|h| h.strip_prefix("Bearer ")) {
//!             Some(token) if !token.is_empty() => Ok(User(token.to_owned())),
//!             _ => Err(Rejection::new(StatusCode::UNAUTHORIZED, "a bearer token is required")
//!                 .with_field("authorization")),
//!         }
//!     }
//! }
//!
//! /// A body of comma-separated numbers.
//! struct Numbers(Vec<i64>);
//!
//! impl FromRequest for Numbers {
//!     // Ask the engine for the body (up to the route's body limit).
//!     const NEEDS_BODY: bool = true;
//!
//!     fn from_request(_: &mut RequestParts, body: Vec<u8>) -> Result<Self, Rejection> {
//!         let text = String::from_utf8(body)
//!             .map_err(|_| Rejection::new(StatusCode::BAD_REQUEST, "not UTF-8").with_field("body"))?;
//!         text.split(',')
//!             .map(|n| n.trim().parse::<i64>())
//!             .collect::<Result<Vec<_>, _>>()
//!             .map(Numbers)
//!             .map_err(|e| Rejection::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).with_field("body"))
//!     }
//! }
//!
//! fn sum(User(name): User, Numbers(numbers): Numbers) -> String {
//!     format!("{name}: {}", numbers.iter().sum::<i64>())
//! }
//!
//! let client = TestClient::new(App::new().post("/sum", sum)).unwrap();
//! let ok = client.request("POST", "/sum").header("authorization", "Bearer ada").body("1, 2, 3").send();
//! assert_eq!(ok.text(), "ada: 6");
//! let anonymous = client.post("/sum", "1");
//! assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
//! assert!(anonymous.text().contains(r#""field":"authorization""#));
//! ```
//!
//! Rules worth knowing:
//!
//! - An extractor runs once per request, in argument order; the first that
//!   fails answers, and later ones do not run.
//! - [`RequestParts`] gives the head, route parameters, state, extensions
//!   and the request's `Control`; keep extraction quick (it runs on the
//!   event loop) and leave slow work to the handler and
//!   [`Defer::spawn`](crate::Defer::spawn).
//! - What the extractor needs from the app can be checked when it is built:
//!   implement [`FromRequestParts::requirements`] (as `State<T>` does).
//! - Use `Option<YourExtractor>` for "if present": its failures become
//!   `None`.

mod path;

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use turnstile_core::header::{ContentType, Header, Headers};
use turnstile_core::{Control, Method, Request, StatusCode};

use crate::reply::{error_response, IntoResponse, Response};
use crate::router::Captures;
use crate::state::AppState;
pub use crate::Json;
pub use path::Path;

/// The request as extractors see it: the head, route parameters, app state,
/// and values middleware attached.
pub struct RequestParts {
    pub(crate) request: Request,
    pub(crate) captures: Captures,
    /// The route's parameter names; none for a route without parameters
    /// (most of them), which then costs no reference count per request.
    pub(crate) names: Option<Arc<[Arc<str>]>>,
    pub(crate) app: Arc<AppState>,
    pub(crate) control: Control,
    pub(crate) extensions: Extensions,
    /// A `Defer` was handed out for this request.
    pub(crate) defer: Option<crate::completion::DeferSlotRef>,
    pub(crate) started: std::time::Instant,
}

impl RequestParts {
    /// The request head.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.request.method()
    }

    /// The path, still percent-encoded.
    pub fn path(&self) -> &str {
        self.request.path()
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        self.request.headers()
    }

    /// A route parameter by name, percent-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// A route parameter by name as it came, still percent-encoded.
    pub(crate) fn raw_param(&self, name: &str) -> Option<&str> {
        self.raw_params().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every route parameter as `(name, value as it came)`, in pattern order.
    fn raw_params(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let path = self.request.path();
        self.names
            .as_deref()
            .unwrap_or_default()
            .iter()
            .zip(self.captures.iter())
            .map(move |(n, (s, e))| (&**n, path.get(s..e).unwrap_or("")))
    }

    /// Every route parameter as `(name, decoded value)`, in pattern order.
    /// A value that does not decode to UTF-8 comes out lossily.
    pub fn params(&self) -> impl Iterator<Item = (&str, String)> + '_ {
        self.raw_params().map(|(n, raw)| {
            let value = percent_encoding::percent_decode_str(raw)
                .decode_utf8_lossy()
                .into_owned();
            (n, value)
        })
    }

    /// Values middleware attached to this request.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Values attached to this request, to change.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// When the request's head was parsed.
    pub fn started(&self) -> std::time::Instant {
        self.started
    }

    /// A [`Defer`](crate::Defer) for this request, for middleware that
    /// waits: return `Before::Wait(defer.later())`, then `resume()` or
    /// `complete(reply)` it from any thread.
    pub fn defer(&mut self) -> crate::Defer {
        match <crate::Defer as FromRequestParts>::from_request_parts(self) {
            Ok(defer) => defer,
            Err(_) => unreachable!("taking a Defer cannot fail"),
        }
    }

    /// State registered with [`App::state`](crate::App::state).
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.app.state::<T>()
    }
}

/// A small type map for values attached to one request (a request id,
/// an authenticated user, ...).
#[derive(Default)]
pub struct Extensions {
    values: Vec<(TypeId, Box<dyn Any + Send>)>,
}

impl Extensions {
    /// Attaches `value`, replacing one of the same type.
    pub fn insert<T: Send + 'static>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        self.values.retain(|(t, _)| *t != id);
        self.values.push((id, Box::new(value)));
    }

    /// The attached value of type `T`.
    pub fn get<T: Send + 'static>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.values
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, v)| v.downcast_ref())
    }
}

/// Why an extractor refused a request: a status and a message naming the
/// part at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    status: StatusCode,
    message: String,
    field: Option<String>,
    /// Fields the answer needs (`Sec-WebSocket-Version` on a 426, say).
    headers: Vec<(&'static str, String)>,
}

impl Rejection {
    /// A rejection with `status` and a message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            message: message.into(),
            field: None,
            headers: Vec::new(),
        }
    }

    /// Adds a header field to the answer.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Rejection {
        self.headers.push((name, value.into()));
        self
    }

    /// Names the part or field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Rejection {
        self.field = Some(field.into());
        self
    }

    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The part or field at fault.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for Rejection {}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = error_response(self.status, &self.message, self.field.as_deref());
        for (name, value) in &self.headers {
            response = response.with_header(name, value);
        }
        response
    }
}

/// A value taken from the request head.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an extractor that reads the request head",
    label = "not an extractor",
    note = "every handler argument but the last implements `FromRequestParts`: Path, Query, TypedHeader, State, Extension, Method, RequestHead, Defer, Option<T>, Result<T, Rejection>, or a type of your own",
    note = "a body extractor (Json, Form, String, Vec<u8>) can only be the last argument"
)]
pub trait FromRequestParts: Sized {
    /// Extracts it, or says why not.
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection>;

    /// What it needs from the app, checked when the app is built (so a
    /// `State<T>` that was never given is a build error, not a `500`). The
    /// default needs nothing.
    fn requirements(needs: &mut Requirements) {
        let _ = needs;
    }
}

/// What a handler's extractors need from the [`App`](crate::App), collected
/// when the app is built.
#[derive(Debug, Default)]
pub struct Requirements {
    pub(crate) states: Vec<(TypeId, &'static str)>,
}

impl Requirements {
    /// The app must hold state of type `T` ([`App::state`](crate::App::state)).
    pub fn state<T: 'static>(&mut self) {
        self.states
            .push((TypeId::of::<T>(), std::any::type_name::<T>()));
    }
}

/// Markers telling the two kinds of [`FromRequest`] apart.
pub mod marker {
    /// Extracted from the head.
    #[derive(Debug)]
    pub enum ViaParts {}
    /// Extracted from the body.
    #[derive(Debug)]
    pub enum ViaBody {}
}

/// A value taken from the whole request, body included; only the last
/// argument of a handler may be one. Every [`FromRequestParts`] is one too.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an extractor",
    label = "not an extractor",
    note = "a handler's last argument reads the body (Json, Form, String, Vec<u8>) or the head (any `FromRequestParts`: Path, Query, State, ...)"
)]
pub trait FromRequest<M = marker::ViaBody>: Sized {
    /// Whether the body must be read first.
    const NEEDS_BODY: bool;

    /// Extracts it from the head and the body (empty unless `NEEDS_BODY`).
    fn from_request(parts: &mut RequestParts, body: Vec<u8>) -> Result<Self, Rejection>;

    /// What it needs from the app; see [`FromRequestParts::requirements`].
    fn requirements(needs: &mut Requirements) {
        let _ = needs;
    }
}

impl<T: FromRequestParts> FromRequest<marker::ViaParts> for T {
    const NEEDS_BODY: bool = false;

    fn from_request(parts: &mut RequestParts, _body: Vec<u8>) -> Result<Self, Rejection> {
        T::from_request_parts(parts)
    }

    fn requirements(needs: &mut Requirements) {
        T::requirements(needs)
    }
}

impl<T: FromRequestParts> FromRequestParts for Option<T> {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        Ok(T::from_request_parts(parts).ok())
    }
}

impl<T: FromRequestParts> FromRequestParts for Result<T, Rejection> {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        Ok(T::from_request_parts(parts))
    }
}

impl FromRequestParts for Method {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        Ok(parts.request.method())
    }
}

/// A copy of the request head: method, target, version and headers.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target as sent.
    pub target: String,
    /// The path, percent-encoded.
    pub path: String,
    /// The query, if any.
    pub query: Option<String>,
    /// The header fields.
    pub headers: Headers,
    /// The peer's address.
    pub remote_addr: Option<std::net::SocketAddr>,
}

impl FromRequestParts for RequestHead {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        let r = &parts.request;
        Ok(RequestHead {
            method: r.method(),
            target: r.target().as_str().to_owned(),
            path: r.path().to_owned(),
            query: r.query().map(str::to_owned),
            headers: r.headers().clone(),
            remote_addr: r.remote_addr(),
        })
    }
}

/// The query string, deserialized (`serde_urlencoded`). A missing query
/// deserializes like an empty one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts for Query<T> {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        let query = parts.request.query().unwrap_or("");
        from_urlencoded(query.as_bytes())
            .map(Query)
            .map_err(|(field, e)| {
                Rejection::new(
                    StatusCode::BAD_REQUEST,
                    format!("invalid query string: {e}"),
                )
                .with_field(field.unwrap_or_else(|| "query".to_owned()))
            })
    }
}

/// A typed header of the request, such as `TypedHeader<UserAgent>` (any
/// type implementing the [`Header`](crate::header::Header) trait). Use
/// `Option<TypedHeader<H>>` when it may be absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedHeader<H>(pub H);

impl<H: Header> FromRequestParts for TypedHeader<H> {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        match parts.request.headers().typed::<H>() {
            Ok(Some(h)) => Ok(TypedHeader(h)),
            Ok(None) => Err(Rejection::new(
                StatusCode::BAD_REQUEST,
                format!("missing header {}", H::NAME),
            )
            .with_field(H::NAME)),
            Err(e) => {
                Err(Rejection::new(StatusCode::BAD_REQUEST, e.to_string()).with_field(H::NAME))
            }
        }
    }
}

/// Shared state given to [`App::state`](crate::App::state), used through
/// `Deref` (`state.field`, `state.method()`).
pub struct State<T>(Arc<T>);

impl<T> State<T> {
    /// The shared pointer, to keep or send to another thread.
    pub fn arc(&self) -> Arc<T> {
        self.0.clone()
    }
}

impl<T> std::ops::Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        State(self.0.clone())
    }
}

impl<T: Send + Sync + 'static> FromRequestParts for State<T> {
    fn requirements(needs: &mut Requirements) {
        needs.state::<T>();
    }

    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        parts.app.state::<T>().map(State).ok_or_else(|| {
            log::error!(
                "no state of type {} was given to the App",
                std::any::type_name::<T>()
            );
            Rejection::new(StatusCode::INTERNAL_SERVER_ERROR, "server state missing")
        })
    }
}

/// A value a middleware's `before` step attached to this request
/// (`parts.extensions_mut().insert(value)`), cloned out for the handler.
///
/// ```
/// use turnstile::extract::{Extension, RequestParts};
/// use turnstile::middleware::{Before, Middleware};
/// use turnstile::test::TestClient;
/// use turnstile::App;
///
/// #[derive(Clone)]
/// struct User(String);
///
/// struct Auth;
/// impl Middleware for Auth {
///     fn before(&self, parts: &mut RequestParts) -> Before {
///         let name = parts.request().headers().get("x-user").unwrap_or("anonymous").to_owned();
///         parts.extensions_mut().insert(User(name));
///         Before::Continue
///     }
/// }
///
/// fn me(Extension(User(name)): Extension<User>) -> String {
///     name
/// }
///
/// let client = TestClient::new(App::new().wrap(Auth).get("/me", me)).unwrap();
/// assert_eq!(client.request("GET", "/me").header("x-user", "ada").send().text(), "ada");
/// assert_eq!(client.get("/me").text(), "anonymous");
/// ```
///
/// A route whose middleware attached no `T` is a server bug, not the
/// client's: it answers `500` and logs the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extension<T>(pub T);

impl<T: Clone + Send + 'static> FromRequestParts for Extension<T> {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        parts.extensions.get::<T>().cloned().map(Extension).ok_or_else(|| {
            log::error!(
                "no extension of type {} was attached to the request (a middleware should insert it)",
                std::any::type_name::<T>()
            );
            Rejection::new(StatusCode::INTERNAL_SERVER_ERROR, "request extension missing")
        })
    }
}

fn content_type_is(parts: &RequestParts, check: impl Fn(&ContentType) -> bool) -> bool {
    matches!(parts.request.headers().typed::<ContentType>(), Ok(Some(ct)) if check(&ct))
}

impl<T: DeserializeOwned> FromRequest for Json<T> {
    const NEEDS_BODY: bool = true;

    fn from_request(parts: &mut RequestParts, body: Vec<u8>) -> Result<Self, Rejection> {
        let is_json = content_type_is(parts, |ct| {
            let essence = ct.essence();
            essence == "application/json" || essence.ends_with("+json")
        });
        if !is_json {
            return Err(Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected Content-Type: application/json",
            )
            .with_field("content-type"));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&body);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            use serde_json::error::Category;
            let path = e.path().to_string();
            let e = e.into_inner();
            match e.classify() {
                Category::Data => {
                    let message = e.to_string();
                    let field = field_path(&path, data_error_field(&message));
                    Rejection::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("JSON does not fit: {message}"),
                    )
                    .with_field(field.unwrap_or_else(|| "body".to_owned()))
                }
                _ => Rejection::new(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}"))
                    .with_field("body"),
            }
        })?;
        // Trailing bytes after the value are malformed JSON too.
        deserializer.end().map_err(|e| {
            Rejection::new(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")).with_field("body")
        })?;
        Ok(Json(value))
    }
}

/// The field serde names in "missing field `title`" and the like (the
/// path stops at the object that lacks it).
fn data_error_field(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    let field = &message[start..end];
    message
        .starts_with("missing field")
        .then_some(field)
        .or_else(|| message.starts_with("unknown field").then_some(field))
}

/// `items[2].price` from the path serde walked (`.` is the root) and the
/// field a message names below it.
fn field_path(path: &str, named: Option<&str>) -> Option<String> {
    let path = (path != "." && !path.is_empty()).then_some(path);
    match (path, named) {
        (Some(path), Some(named)) if !path.ends_with(named) => Some(format!("{path}.{named}")),
        (Some(path), _) => Some(path.to_owned()),
        (None, named) => named.map(str::to_owned),
    }
}

/// `application/x-www-form-urlencoded` pairs (a query or a form body) into
/// `T`; on failure, the field at fault (when serde got to one) and why.
fn from_urlencoded<T: DeserializeOwned>(
    input: &[u8],
) -> Result<T, (Option<String>, serde_urlencoded::de::Error)> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(input));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let e = e.into_inner();
        (field_path(&path, data_error_field(&e.to_string())), e)
    })
}

/// An `application/x-www-form-urlencoded` body, deserialized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Form<T> {
    const NEEDS_BODY: bool = true;

    fn from_request(parts: &mut RequestParts, body: Vec<u8>) -> Result<Self, Rejection> {
        if !content_type_is(parts, |ct| ct.is("application/x-www-form-urlencoded")) {
            return Err(Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected Content-Type: application/x-www-form-urlencoded",
            )
            .with_field("content-type"));
        }
        from_urlencoded(&body).map(Form).map_err(|(field, e)| {
            Rejection::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid form: {e}"),
            )
            .with_field(field.unwrap_or_else(|| "body".to_owned()))
        })
    }
}

impl FromRequest for Vec<u8> {
    const NEEDS_BODY: bool = true;

    fn from_request(_: &mut RequestParts, body: Vec<u8>) -> Result<Self, Rejection> {
        Ok(body)
    }
}

impl FromRequest for String {
    const NEEDS_BODY: bool = true;

    fn from_request(_: &mut RequestParts, body: Vec<u8>) -> Result<Self, Rejection> {
        String::from_utf8(body).map_err(|_| {
            Rejection::new(StatusCode::BAD_REQUEST, "body is not valid UTF-8").with_field("body")
        })
    }
}

impl<T> std::fmt::Debug for State<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extensions").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RequestParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestParts").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_data_errors_name_the_field() {
        assert_eq!(
            data_error_field("missing field `title` at line 1 column 2"),
            Some("title")
        );
        assert_eq!(data_error_field("invalid type: string"), None);
    }
}
