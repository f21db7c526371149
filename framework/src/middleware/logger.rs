//! Request logging.

use super::Middleware;
use crate::extract::RequestParts;
use crate::reply::Response;

/// Logs one line per request through `log` at `info`: method, path,
/// status and duration.
///
/// ```text
/// INFO turnstile::middleware::logger: GET /users/7 200 143µs
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Logger;

impl Middleware for Logger {
    fn after(&self, parts: &RequestParts, response: &mut Response) {
        log::info!(
            "{} {} {} {:?}",
            parts.method(),
            parts.request().target(),
            response.status().as_u16(),
            parts.started().elapsed()
        );
    }
}
