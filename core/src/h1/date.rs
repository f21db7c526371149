//! The `Date` value, formatted at most once a second per worker.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::header::HttpDate;

/// `date: ` + 29 bytes + CRLF.
pub(crate) const DATE_LINE_LEN: usize = 6 + 29 + 2;

/// The date, and the whole header line a response head copies at once.
pub(crate) struct DateCache {
    line: [u8; DATE_LINE_LEN],
    next_refresh: Instant,
}

impl DateCache {
    pub(crate) fn new(now: Instant) -> DateCache {
        let mut cache = DateCache {
            line: *b"date: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
            next_refresh: now,
        };
        cache.refresh(now);
        cache
    }

    /// Re-formats the date if the second changed since the last time.
    pub(crate) fn refresh(&mut self, now: Instant) {
        if now < self.next_refresh {
            return;
        }
        let wall = SystemTime::now();
        self.line[6..35].copy_from_slice(&HttpDate::from(wall).to_bytes());
        let into_second = wall
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.next_refresh = now + Duration::from_nanos(u64::from(1_000_000_000 - into_second));
    }

    /// The date value alone.
    pub(crate) fn bytes(&self) -> &[u8; 29] {
        self.line[6..35].try_into().expect("29 bytes")
    }

    /// `date: <value>\r\n`.
    pub(crate) fn line(&self) -> &[u8; DATE_LINE_LEN] {
        &self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_a_parsable_date_and_refreshes_lazily() {
        let now = Instant::now();
        let mut cache = DateCache::new(now);
        let text = std::str::from_utf8(cache.bytes()).unwrap().to_owned();
        assert!(text.parse::<HttpDate>().is_ok(), "{text}");
        let next = cache.next_refresh;
        assert!(next > now && next <= now + Duration::from_secs(1));
        cache.refresh(now);
        assert_eq!(cache.next_refresh, next);
    }
}
