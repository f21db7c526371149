//! [`Context`]: what every connection of a worker may use during a turn
//! (settings, the loop's clock and date, pooled buffers).

use std::sync::Arc;
use std::time::Instant;

use super::config::Config;
use crate::h1::date::DateCache;

/// What every connection of this worker may use during a turn.
pub(crate) struct Context {
    pub(crate) config: Arc<Config>,
    /// The time the loop woke, for every deadline set in this turn.
    pub(crate) now: Instant,
    pub(crate) date: DateCache,
    pub(crate) read_pool: Vec<Vec<u8>>,
    pub(crate) write_pool: Vec<Vec<u8>>,
    pub(crate) next_exchange: u64,
    pub(crate) shutting_down: bool,
}

impl Context {
    pub(crate) fn new(config: Arc<Config>, now: Instant) -> Context {
        Context {
            config,
            now,
            date: DateCache::new(now),
            read_pool: Vec::new(),
            write_pool: Vec::new(),
            next_exchange: 0,
            shutting_down: false,
        }
    }
}
