//! What every worker reads: the server's settings ([`Config`]) and the
//! request to stop ([`StopSignal`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::h1::HeadLimits;

/// Settings every worker reads.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) keep_alive: bool,
    pub(crate) head_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) body_timeout: Duration,
    /// Bytes per second a request body must average once it has been
    /// arriving for `body_timeout` (0 disables the check).
    pub(crate) min_body_rate: u64,
    pub(crate) linger_timeout: Duration,
    pub(crate) limits: HeadLimits,
    pub(crate) max_connections: usize,
    /// `server: <name>\r\n`, whole: one copy per response.
    pub(crate) server_line: Option<Vec<u8>>,
    pub(crate) read_buf_size: usize,
    pub(crate) write_high_water: usize,
    pub(crate) buffer_pool: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            keep_alive: true,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            min_body_rate: 1024,
            linger_timeout: Duration::from_secs(2),
            limits: HeadLimits::default(),
            max_connections: 10_000,
            server_line: None,
            read_buf_size: 8 * 1024,
            write_high_water: 64 * 1024,
            buffer_pool: 256,
        }
    }
}

/// The request to stop, shared by the handle and the workers.
#[derive(Default)]
pub(crate) struct StopSignal {
    requested: AtomicBool,
    deadline: Mutex<Option<Instant>>,
}

impl StopSignal {
    pub(crate) fn request(&self, grace: Duration) {
        let mut deadline = self.deadline.lock().unwrap_or_else(|e| e.into_inner());
        let new = Instant::now() + grace;
        // A second, shorter request shortens the grace; never lengthens it.
        if deadline.is_none_or(|d| new < d) {
            *deadline = Some(new);
        }
        self.requested.store(true, Ordering::Release);
    }

    /// The deadline, once a stop was requested.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if !self.requested.load(Ordering::Acquire) {
            return None;
        }
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner())
    }
}
