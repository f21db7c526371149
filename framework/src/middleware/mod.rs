//! Middleware: steps around every handler of a scope.
//!
//! A [`Middleware`] has a `before` step, which may let the request go on,
//! answer it early, or wait (through a [`Defer`](crate::Defer)), and an
//! `after` step, which may edit the response. Steps run in the order the
//! middleware was added (`before` first to last, `after` last to first),
//! composed once when the app is built. App-wide middleware wraps every
//! route; a nested app's wraps only its own routes, inside the outer ones.
//!
//! ```
//! use turnstile::middleware::{Before, Middleware};
//! use turnstile::extract::RequestParts;
//! use turnstile::{App, IntoResponse, Response, StatusCode};
//!
//! /// Refuses requests without an API key.
//! struct RequireKey;
//!
//! impl Middleware for RequireKey {
//!     fn before(&self, parts: &mut RequestParts) -> Before {
//!         match parts.headers().get("x-api-key") {
//!             Some("secret") => Before::Continue,
//!             _ => Before::Respond(StatusCode::UNAUTHORIZED.into_response()),
//!         }
//!     }
//! }
//!
//! let app = App::new().wrap(RequireKey).get("/", || "in");
//! let client = turnstile::test::TestClient::new(app).unwrap();
//! assert_eq!(client.get("/").status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(client.request("GET", "/").header("x-api-key", "secret").send().text(), "in");
//! ```

mod cors;
mod logger;
mod request_id;
mod timeout;

use std::time::Duration;

pub use cors::Cors;
pub use logger::Logger;
pub use request_id::{RequestId, RequestIdMiddleware};
pub use timeout::Timeout;

use crate::defer::Deferred;
use crate::extract::RequestParts;
use crate::reply::Response;

/// What a `before` step decided.
pub enum Before {
    /// Go on to the next step and the handler.
    Continue,
    /// Answer now; the handler is not called.
    Respond(Response),
    /// Wait for the `Defer` this came from: `resume()` goes on,
    /// `complete(reply)` answers.
    Wait(Deferred),
}

/// A step around handlers. Both steps default to doing nothing.
pub trait Middleware: Send + Sync + 'static {
    /// Runs before the handler (and before its body is read).
    fn before(&self, parts: &mut RequestParts) -> Before {
        let _ = parts;
        Before::Continue
    }

    /// Runs after the handler, on its response (or an earlier answer).
    fn after(&self, parts: &RequestParts, response: &mut Response) {
        let _ = (parts, response);
    }

    /// A limit on how long the request may wait for a deferred answer (or
    /// its body); the shortest in a chain applies, and expiry answers `503`.
    fn timeout(&self) -> Option<Duration> {
        None
    }

    /// Runs when the response is over: its last byte went out (a stream's
    /// too), or it was cut (the client left, a producer failed). For
    /// whatever must see the whole exchange, such as a log line.
    fn done(&self, parts: &RequestParts, finished: &Finished) {
        let _ = (parts, finished);
    }
}

/// How a response ended, for [`Middleware::done`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// The status sent; `None` when the exchange ended before a head went
    /// out (the client left while the request waited, a malformed body).
    pub status: Option<turnstile_core::StatusCode>,
    /// Body bytes handed to the connection (`None` for a raw route, whose
    /// handler writes through the engine directly).
    pub body_bytes: Option<u64>,
    /// Whether the whole response went out (false: cut short).
    pub complete: bool,
}

impl std::fmt::Debug for Before {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Before").finish_non_exhaustive()
    }
}
