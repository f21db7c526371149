//! A time limit for a scope.

use std::time::Duration;

use super::Middleware;

/// Limits how long requests of its scope may wait for a deferred answer or
/// their body; past it they get `503 Service Unavailable`.
#[derive(Debug, Clone, Copy)]
pub struct Timeout(pub Duration);

impl Middleware for Timeout {
    fn timeout(&self) -> Option<Duration> {
        Some(self.0)
    }
}
