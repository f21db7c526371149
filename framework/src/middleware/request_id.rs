//! Request ids.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Before, Middleware};
use crate::extract::{FromRequestParts, Rejection, RequestParts};
use crate::reply::Response;

/// The id of the current request, readable by handlers as an extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl FromRequestParts for RequestId {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        Ok(parts
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(String::new())))
    }
}

/// Gives every request an id: the client's `X-Request-Id` when it is short
/// and plain, a new one otherwise; echoes it in the response.
#[derive(Debug, Default)]
pub struct RequestIdMiddleware {
    counter: AtomicU64,
}

impl RequestIdMiddleware {
    /// A generator starting from a per-process seed.
    pub fn new() -> RequestIdMiddleware {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ (u64::from(std::process::id()) << 40);
        RequestIdMiddleware {
            counter: AtomicU64::new(seed),
        }
    }
}

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

impl Middleware for RequestIdMiddleware {
    fn before(&self, parts: &mut RequestParts) -> Before {
        let id = match parts.headers().get("x-request-id") {
            Some(id) if acceptable(id) => id.to_owned(),
            _ => {
                let n = self.counter.fetch_add(1, Ordering::Relaxed);
                // Spread consecutive ids so they do not look sequential.
                format!("{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            }
        };
        parts.extensions_mut().insert(RequestId(id));
        Before::Continue
    }

    fn after(&self, parts: &RequestParts, response: &mut Response) {
        if let Some(RequestId(id)) = parts.extensions().get::<RequestId>() {
            let _ = response.headers_mut().set("x-request-id", id);
        }
    }
}
