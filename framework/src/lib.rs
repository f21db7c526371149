//! # turnstile
//!
//! A web microframework on Turnstile's state-machine HTTP/1.1 engine. Write
//! plain functions with typed extractors; the framework compiles the route
//! table and middleware chain into one engine handler.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use turnstile::extract::{Path, State};
//! use turnstile::middleware::Logger;
//! use turnstile::{App, Json, StatusCode};
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! #[derive(Deserialize)]
//! struct NewUser { name: String }
//!
//! #[derive(Serialize)]
//! struct User { id: u64, name: String }
//!
//! struct Ids {
//!     next: AtomicU64,
//! }
//!
//! fn create(ids: State<Ids>, Json(new): Json<NewUser>) -> (StatusCode, Json<User>) {
//!     let id = ids.next.fetch_add(1, Ordering::Relaxed);
//!     (StatusCode::CREATED, Json(User { id, name: new.name }))
//! }
//!
//! fn show(Path(id): Path<u64>) -> Json<User> {
//!     Json(User { id, name: "someone".into() })
//! }
//!
//! let app = App::new()
//!     .state(Ids { next: AtomicU64::new(1) })
//!     .wrap(Logger)
//!     .get("/", || "Hello, World!")
//!     .get("/users/:id", show)
//!     .post("/users", create);
//!
//! // In tests, without a socket:
//! let client = turnstile::test::TestClient::new(app).unwrap();
//! let res = client.request("POST", "/users").json(&serde_json::json!({"name": "ann"})).send();
//! assert_eq!(res.status(), StatusCode::CREATED);
//! assert_eq!(res.text(), r#"{"id":1,"name":"ann"}"#);
//! // In production: app.serve("127.0.0.1:3000")?.join();
//! ```
//!
//! ## Map
//!
//! - [`App`]: routes (`get`, `post`, ..., `route_with`, `nest`, `raw`),
//!   `state`, `wrap`, `serve`.
//! - [`router`]: the route table and its rules (patterns, precedence,
//!   percent-decoding, trailing slashes).
//! - [`extract`]: typed handler arguments and their failure answers.
//! - [`reply`]: [`IntoResponse`] and the [`Response`] builder.
//! - [`Defer`]: answering later from another thread or the blocking pool.
//! - [`files`]: static files ([`files::ServeDir`], [`files::ServeFile`]),
//!   mounted with [`App::files`] and [`App::file`].
//! - [`negotiate`]: `Accept-Encoding` negotiation.
//! - [`middleware`]: the [`Middleware`](middleware::Middleware) trait and
//!   `Logger`, `RequestIdMiddleware`, `Cors`, `Timeout`.
//! - [`test`]: [`TestClient`](test::TestClient), requests without a socket.
//! - [`macros`]: `#[get("/p")]` and friends, `routes![]`, checked at
//!   compile time.
//!
//! A panic in a handler or middleware answers `500` for that request only;
//! the worker goes on serving.

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod app;
mod completion;
mod defer;
mod engine;
pub mod extract;
mod file_body;
pub mod files;
mod handler;
pub mod macros;
pub mod middleware;
pub mod negotiate;
mod raw;
pub mod reply;
pub mod router;
pub mod sse;
mod state;
pub mod stream;
mod table;
pub mod test;
pub mod ws;

pub use app::{App, AppFactory, BuildError, RouteSettings, DEFAULT_BODY_LIMIT};
pub use defer::{Defer, Deferred};
pub use engine::AppHandler;
pub use handler::HandlerFn;
pub use raw::RawContext;
pub use reply::{Html, IntoReply, IntoResponse, Json, Redirect, Reply, Response};
pub use turnstile_core::{header, Method, StatusCode};
pub use turnstile_macros::{delete, get, handler, head, options, patch, post, put, route, routes};

/// The engine underneath, for raw routes and server settings.
pub use turnstile_core as core;
