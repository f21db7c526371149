//! Live updates: every change to the todos is announced on an event stream
//! (`GET /api/events`) that the page follows, so that a todo added in one
//! tab, or by curl, shows up in every open page.
//!
//! An event says what changed (`{"change":"created","id":3}`), named
//! `change`, with an id counting changes since the process started; the
//! page does not patch its list from it, it fetches the list again, so a
//! missed or coalesced event costs nothing but a refresh. A slow page that
//! has events queued already misses the new one for the same reason. The
//! stream ends when the server drains; the page's `EventSource` reconnects
//! (after `retry`, one second) and refreshes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use turnstile::sse::{Event, EventSender, Sse};
use turnstile::Response;

/// What happened to a todo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A todo was added.
    Created(i64),
    /// A todo's title or state changed.
    Updated(i64),
    /// A todo was deleted.
    Deleted(i64),
}

/// How long a page waits before reconnecting to a stream that ended.
pub const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The subscribers and the change counter.
#[derive(Debug, Default)]
pub struct Changes {
    subscribers: Mutex<Vec<EventSender>>,
    count: AtomicU64,
}

impl Changes {
    /// No subscribers yet.
    pub fn new() -> Changes {
        Changes::default()
    }

    /// An event stream that hears of every change from now on. Its first
    /// event (`hello`) sets the reconnect delay and says the stream is up.
    pub fn subscribe(&self) -> Response {
        let (response, events) = Sse::channel();
        events.end_on_drain();
        let hello = Event::data(self.count.load(Ordering::Relaxed).to_string())
            .event("hello")
            .retry(RECONNECT_AFTER);
        if events.try_send(&hello).is_ok() {
            let mut subscribers = self.lock();
            // Pages that left since the last change go now, so reloads
            // without changes do not pile up.
            subscribers.retain(|events| !events.is_closed());
            subscribers.push(events);
        }
        response
    }

    /// Tells every subscriber about `change`; streams whose client left
    /// are forgotten.
    pub fn publish(&self, change: Change) {
        let (kind, id) = match change {
            Change::Created(id) => ("created", id),
            Change::Updated(id) => ("updated", id),
            Change::Deleted(id) => ("deleted", id),
        };
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let event = Event::data(format!(r#"{{"change":"{kind}","id":{id}}}"#))
            .event("change")
            .id(count.to_string());
        // A full stream has a change queued already, which makes its page
        // refresh anyway: missing this one loses nothing.
        self.lock().retain(|events| {
            let _ = events.try_send(&event);
            !events.is_closed()
        });
    }

    /// How many streams are open (as of the last change).
    pub fn subscribers(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<EventSender>> {
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }
}
