//! Server-Sent Events: a `text/event-stream` reply fed by an
//! [`EventSender`] from any thread, with comment keep-alives while it is
//! idle. Built on the streaming replies: HTTP/1.1 sends it chunked,
//! HTTP/1.0 to the close; a client that leaves is noticed at once and its
//! sender's next send fails (so the producer stops).
//!
//! ```
//! use turnstile::sse::{Event, LastEventId, Sse};
//! use turnstile::{App, Response};
//!
//! fn ticks(LastEventId(last): LastEventId) -> Response {
//!     let start = last.and_then(|id| id.parse::<u64>().ok()).unwrap_or(0) + 1;
//!     let (response, events) = Sse::channel();
//!     std::thread::spawn(move || {
//!         for id in start..start + 3 {
//!             let event = Event::data(id.to_string()).event("tick").id(id.to_string());
//!             if events.send(&event).is_err() {
//!                 return; // the client left
//!             }
//!         }
//!     });
//!     response
//! }
//!
//! let client = turnstile::test::TestClient::new(App::new().get("/ticks", ticks)).unwrap();
//! let text = client.get("/ticks").text();
//! assert!(text.starts_with("event: tick\nid: 1\ndata: 1\n\n"), "{text}");
//! ```

use std::fmt;
use std::time::Duration;

use crate::extract::{FromRequestParts, Rejection, RequestParts};
use crate::reply::{Body, Response};
use crate::stream::{BodySender, Closed, TrySendError, DEFAULT_STREAM_CAPACITY};

/// How long an event stream may stay silent before a comment line goes out
/// (proxies close connections idle for a minute or so).
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One event: its `data` (any text; lines become `data:` lines), and the
/// optional `event` name, `id` and `retry` delay; or a comment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    data: Option<String>,
    event: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    comment: Option<String>,
}

impl Event {
    /// An event carrying `data`.
    pub fn data(data: impl Into<String>) -> Event {
        Event {
            data: Some(data.into()),
            ..Event::default()
        }
    }

    /// A comment line (clients ignore it).
    pub fn comment(text: impl Into<String>) -> Event {
        Event {
            comment: Some(text.into()),
            ..Event::default()
        }
    }

    /// Names the event (the browser's `addEventListener(name, ..)`).
    pub fn event(mut self, name: impl Into<String>) -> Event {
        self.event = Some(name.into());
        self
    }

    /// Sets its id, which a reconnecting client sends back as
    /// `Last-Event-ID`.
    pub fn id(mut self, id: impl Into<String>) -> Event {
        self.id = Some(id.into());
        self
    }

    /// Tells the client how long to wait before reconnecting.
    pub fn retry(mut self, after: Duration) -> Event {
        self.retry = Some(after);
        self
    }

    /// The event on the wire. Line breaks in data become separate `data:`
    /// lines; in a name, id or comment (where they would end the field)
    /// they are replaced by spaces, and a NUL in an id (which makes
    /// browsers ignore it) is dropped.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        let single_line = |s: &str| s.replace(['\r', '\n'], " ");
        if let Some(comment) = &self.comment {
            for line in lines(comment) {
                out.push_str(": ");
                out.push_str(line);
                out.push('\n');
            }
        }
        if let Some(event) = &self.event {
            out.push_str("event: ");
            out.push_str(&single_line(event));
            out.push('\n');
        }
        if let Some(id) = &self.id {
            out.push_str("id: ");
            out.push_str(&single_line(id).replace('\0', ""));
            out.push('\n');
        }
        if let Some(retry) = self.retry {
            out.push_str(&format!("retry: {}\n", retry.as_millis()));
        }
        if let Some(data) = &self.data {
            for line in lines(data) {
                out.push_str("data: ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push('\n');
        out.into_bytes()
    }
}

/// Lines split at `\r\n`, `\r` or `\n`, as event streams define them; an
/// empty text is one empty line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find(['\r', '\n']) {
            Some(i) => {
                let skip = if text[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&text[i + skip..]);
                Some(&text[..i])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// Feeds an event stream from any thread: cloneable, `Send`. The stream
/// ends when every sender is dropped.
#[derive(Clone, Debug)]
pub struct EventSender {
    body: BodySender,
}

impl EventSender {
    /// Sends `event`, waiting while the client is slow (the buffer is
    /// full). `Err` once the client is gone: stop producing.
    pub fn send(&self, event: &Event) -> Result<(), Closed> {
        self.body.send(event.encode())
    }

    /// Sends `event` if there is room now; a slow client misses it.
    pub fn try_send(&self, event: &Event) -> Result<(), TrySendError> {
        self.body.try_send(event.encode())
    }

    /// Whether the client is gone.
    pub fn is_closed(&self) -> bool {
        self.body.is_closed()
    }

    /// Whether the server drains: say goodbye and drop the sender.
    pub fn is_draining(&self) -> bool {
        self.body.is_draining()
    }

    /// Ends the stream by itself when the server drains, so a feed that
    /// only speaks when something happens does not hold the client until
    /// the grace deadline; the browser's `EventSource` reconnects (to
    /// another instance, or to this one once it is back).
    pub fn end_on_drain(&self) {
        self.body.end_on_drain();
    }
}

/// The event-stream reply.
#[derive(Debug)]
pub struct Sse;

impl Sse {
    /// `200 OK`, `text/event-stream`, fed by the returned sender, with a
    /// comment every [`DEFAULT_KEEP_ALIVE`] of silence.
    pub fn channel() -> (Response, EventSender) {
        Sse::channel_with(Some(DEFAULT_KEEP_ALIVE), DEFAULT_STREAM_CAPACITY)
    }

    /// As [`channel`](Sse::channel), with the keep-alive interval (`None`
    /// for none) and the bytes buffered for a slow client.
    pub fn channel_with(keep_alive: Option<Duration>, capacity: usize) -> (Response, EventSender) {
        let (response, body) = Response::channel(capacity);
        if let (Some(every), Body::Stream(stream)) = (keep_alive, response.body_ref()) {
            stream.channel.set_keep_alive(every, b":\n\n");
        }
        let response = response
            .with_header("content-type", "text/event-stream")
            .with_header("cache-control", "no-cache")
            // nginx would otherwise hold events back in its buffer.
            .with_header("x-accel-buffering", "no");
        (response, EventSender { body })
    }
}

/// The `Last-Event-ID` a reconnecting client sends: the id of the last
/// event it got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl FromRequestParts for LastEventId {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        Ok(LastEventId(
            parts
                .request
                .headers()
                .get("last-event-id")
                .map(str::to_owned),
        ))
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.encode()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_encoded_like_the_spec() {
        let e = Event::data("one\ntwo\r\nthree\rfour")
            .event("up\ndate")
            .id("7\0")
            .retry(Duration::from_millis(1500));
        assert_eq!(
            String::from_utf8(e.encode()).unwrap(),
            "event: up date\nid: 7\nretry: 1500\ndata: one\ndata: two\ndata: three\ndata: four\n\n"
        );
        assert_eq!(Event::data("").encode(), b"data: \n\n");
        assert_eq!(Event::comment("hi\nthere").encode(), b": hi\n: there\n\n");
    }
}
