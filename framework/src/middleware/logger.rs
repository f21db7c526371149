//! Request logging.

use super::{Finished, Middleware};
use crate::extract::RequestParts;

/// Logs one line per request through `log` at `info` once the response is
/// over (a stream's at its end): method, target, status, duration, body
/// bytes (when known: not for raw routes), and `cut short` when it did not
/// complete.
///
/// ```text
/// INFO turnstile::middleware::logger: GET /users/7 200 143µs 27B
/// INFO turnstile::middleware::logger: GET /export.csv 200 2.1s 48211B cut short
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Logger;

impl Middleware for Logger {
    fn done(&self, parts: &RequestParts, finished: &Finished) {
        let cut = if finished.complete { "" } else { " cut short" };
        let status = finished
            .status
            .map_or_else(|| "-".to_owned(), |s| s.as_u16().to_string());
        match finished.body_bytes {
            Some(bytes) => log::info!(
                "{} {} {status} {:?} {bytes}B{cut}",
                parts.method(),
                parts.request().target(),
                parts.started().elapsed(),
            ),
            None => log::info!(
                "{} {} {status} {:?}{cut}",
                parts.method(),
                parts.request().target(),
                parts.started().elapsed(),
            ),
        }
    }
}
