//! Cross-origin resource sharing.

use std::time::Duration;

use turnstile_core::{Method, StatusCode};

use super::{Before, Middleware};
use crate::extract::RequestParts;
use crate::reply::Response;

/// CORS: answers preflight requests and marks responses for allowed
/// origins.
///
/// ```
/// use turnstile::middleware::Cors;
///
/// let any = Cors::permissive();
/// let strict = Cors::new()
///     .allow_origin("https://app.example")
///     .allow_methods(&["GET", "POST"])
///     .allow_headers(&["content-type"]);
/// ```
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Option<Vec<String>>,
    methods: String,
    headers: String,
    max_age: Option<Duration>,
}

impl Default for Cors {
    fn default() -> Cors {
        Cors::new()
    }
}

impl Cors {
    /// No origin allowed until [`allow_origin`](Self::allow_origin); the
    /// simple methods and headers.
    pub fn new() -> Cors {
        Cors {
            origins: Some(Vec::new()),
            methods: "GET, HEAD, POST".into(),
            headers: "content-type".into(),
            max_age: Some(Duration::from_secs(600)),
        }
    }

    /// Any origin, every common method, any requested header.
    pub fn permissive() -> Cors {
        Cors {
            origins: None,
            methods: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS".into(),
            headers: "*".into(),
            max_age: Some(Duration::from_secs(600)),
        }
    }

    /// Allows `origin` (such as `https://app.example`).
    pub fn allow_origin(mut self, origin: &str) -> Cors {
        if let Some(origins) = &mut self.origins {
            origins.push(origin.to_owned());
        }
        self
    }

    /// The methods preflight answers allow.
    pub fn allow_methods(mut self, methods: &[&str]) -> Cors {
        self.methods = methods.join(", ");
        self
    }

    /// The request headers preflight answers allow.
    pub fn allow_headers(mut self, headers: &[&str]) -> Cors {
        self.headers = headers.join(", ");
        self
    }

    /// How long browsers may cache a preflight answer.
    pub fn max_age(mut self, max_age: Duration) -> Cors {
        self.max_age = Some(max_age);
        self
    }

    fn allowed<'a>(&self, origin: &'a str) -> Option<&'a str> {
        match &self.origins {
            None => Some("*"),
            Some(list) => list.iter().any(|o| o == origin).then_some(origin),
        }
    }

    fn mark(&self, origin: &str, response: &mut Response) {
        let headers = response.headers_mut();
        let _ = headers.set("access-control-allow-origin", origin);
        if origin != "*" {
            let _ = headers.append("vary", "origin");
        }
    }
}

impl Middleware for Cors {
    fn before(&self, parts: &mut RequestParts) -> Before {
        let preflight = parts.method() == Method::Options
            && parts.headers().contains("access-control-request-method");
        if !preflight {
            return Before::Continue;
        }
        let Some(origin) = parts.headers().get("origin") else {
            return Before::Continue;
        };
        let mut response = Response::new(StatusCode::NO_CONTENT);
        if let Some(allowed) = self.allowed(origin) {
            let allowed = allowed.to_owned();
            self.mark(&allowed, &mut response);
            let headers = response.headers_mut();
            let _ = headers.set("access-control-allow-methods", &self.methods);
            let requested = parts
                .headers()
                .get("access-control-request-headers")
                .unwrap_or("");
            let allow_headers = if self.headers == "*" {
                requested
            } else {
                &self.headers
            };
            if !allow_headers.is_empty() {
                let _ = headers.set("access-control-allow-headers", allow_headers);
            }
            if let Some(age) = self.max_age {
                let _ = headers.set("access-control-max-age", age.as_secs().to_string());
            }
        }
        Before::Respond(response)
    }

    fn after(&self, parts: &RequestParts, response: &mut Response) {
        if response.headers().contains("access-control-allow-origin") {
            return;
        }
        if let Some(allowed) = parts.headers().get("origin").and_then(|o| self.allowed(o)) {
            let allowed = allowed.to_owned();
            self.mark(&allowed, response);
        }
    }
}
