//! The worker's timers: one min-heap of `(deadline, slot, connection id)`.
//!
//! A connection keeps its real deadline itself and queues an entry only when
//! the deadline moves earlier than the entry it already has; when an entry
//! fires early the worker re-queues it at the real deadline. So a busy
//! keep-alive connection, whose idle deadline keeps moving later, costs no
//! heap operation per request.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl Timers {
    /// Makes sure a timer fires for the connection at or before `deadline`.
    pub(crate) fn schedule(
        &mut self,
        slot: usize,
        id: u64,
        deadline: Option<Instant>,
        scheduled: &mut Option<Instant>,
    ) {
        if let Some(deadline) = deadline {
            if scheduled.is_none_or(|s| deadline < s) {
                self.heap.push(Reverse((deadline, slot, id)));
                *scheduled = Some(deadline);
            }
        }
    }

    /// The earliest queued entry.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Pops an entry due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Drops entries `keep` rejects (stale ones), when the heap has grown.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(Instant, usize, u64) -> bool) {
        self.heap
            .retain(|Reverse((at, slot, id))| keep(*at, *slot, *id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn queues_only_when_deadline_moves_earlier() {
        let now = Instant::now();
        let mut timers = Timers::default();
        let mut scheduled = None;
        timers.schedule(1, 7, Some(now + Duration::from_secs(60)), &mut scheduled);
        timers.schedule(1, 7, Some(now + Duration::from_secs(61)), &mut scheduled);
        assert_eq!(timers.len(), 1);
        timers.schedule(1, 7, Some(now + Duration::from_secs(1)), &mut scheduled);
        assert_eq!(timers.len(), 2);
        assert_eq!(timers.next_deadline(), Some(now + Duration::from_secs(1)));
        assert_eq!(timers.pop_due(now), None);
        let due = timers.pop_due(now + Duration::from_secs(2)).unwrap();
        assert_eq!(due, (now + Duration::from_secs(1), 1, 7));
    }
}
