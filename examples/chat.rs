//! Real-time on the event loop: a WebSocket echo, a chat room, and a page.
//!
//! ```text
//! PORT=3000 cargo run --release --example chat
//! # then open http://127.0.0.1:3000/ in two browser tabs
//! python3 -m websockets ws://127.0.0.1:3000/ws/echo
//! curl -N http://127.0.0.1:3000/events
//! ```
//!
//! - `GET /ws/echo`: every text and binary message comes back unchanged.
//! - `GET /ws/chat`: each text message goes to every other client.
//! - `GET /events`: Server-Sent Events, an event `tick` every `TICK_MS`
//!   milliseconds (default 1000) with `id` and data counting up from 1; a
//!   client reconnecting with `Last-Event-ID: n` continues at `n + 1`.
//! - `GET /`: a page with a chat box and a live tick counter.
//!
//! `WS_MAX_MESSAGE` (bytes) sets the largest message taken (default 16 MiB);
//! larger ones close the socket with 1009. Both sockets take up
//! `permessage-deflate` when the client offers it (browsers do): the echo
//! compresses what it sends back; the room's broadcast is encoded once for
//! everybody, so it goes uncompressed. Each socket runs on its worker's
//! event loop: an open socket costs memory, not a thread.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use turnstile::extract::State;
use turnstile::middleware::Logger;
use turnstile::sse::{Event, EventSender, LastEventId, Sse};
use turnstile::ws::{
    DeflateConfig, Message, Socket, WebSocketUpgrade, WsGroup, WsHandler, WsSender,
};
use turnstile::{App, Html, Response};

/// Sends every message back.
struct Echo;

impl WsHandler for Echo {
    fn on_message(&mut self, socket: &mut Socket<'_>, message: Message) {
        if socket.send(message).is_err() {
            log::debug!("echo dropped: the client does not read");
        }
    }
}

/// One member of the room: joins on open, leaves on close, and passes its
/// text messages to everyone else.
struct Member {
    room: WsGroup,
    me: Option<WsSender>,
}

impl WsHandler for Member {
    fn on_open(&mut self, socket: &mut Socket<'_>) {
        let me = socket.sender();
        self.room.join(me.clone());
        self.me = Some(me);
    }

    fn on_message(&mut self, _socket: &mut Socket<'_>, message: Message) {
        if let Message::Text(_) = message {
            self.room.broadcast_except(&message, self.me.as_ref());
        }
    }

    fn on_close(&mut self, _close: Option<&turnstile::ws::CloseFrame>) {
        if let Some(me) = &self.me {
            self.room.leave(me);
        }
    }
}

/// The event streams' subscribers, each with the next id it gets. One
/// thread ticks for all of them: a subscriber costs a buffer, not a thread.
#[derive(Clone, Default)]
struct Ticker {
    subscribers: Arc<Mutex<Vec<(EventSender, u64)>>>,
}

impl Ticker {
    fn start(every: Duration) -> Ticker {
        let ticker = Ticker::default();
        let subscribers = ticker.subscribers.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(every);
            let mut list = subscribers.lock().unwrap_or_else(|e| e.into_inner());
            list.retain_mut(|(events, next)| {
                if events.is_draining() {
                    let _ = events.try_send(&Event::data("the server is restarting").event("bye"));
                    return false; // dropping the sender ends the stream
                }
                let event = Event::data(next.to_string())
                    .event("tick")
                    .id(next.to_string());
                match events.try_send(&event) {
                    Ok(()) => {
                        *next += 1;
                        true
                    }
                    // A slow client misses a tick; a gone one leaves.
                    Err(_) => !events.is_closed(),
                }
            });
        });
        ticker
    }

    fn subscribe(&self, last: Option<String>) -> Response {
        let next = last.and_then(|id| id.parse::<u64>().ok()).unwrap_or(0) + 1;
        let (response, events) = Sse::channel();
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((events, next));
        response
    }
}

fn tick_every() -> Duration {
    let ms = std::env::var("TICK_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000u64);
    Duration::from_millis(ms.max(1))
}

fn max_message() -> usize {
    std::env::var("WS_MAX_MESSAGE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16 << 20)
}

fn app() -> App {
    let limit = max_message();
    App::new()
        .wrap(Logger)
        .state(WsGroup::new())
        .state(Ticker::start(tick_every()))
        .get("/", || Html(PAGE))
        .get(
            "/events",
            |ticker: State<Ticker>, LastEventId(last): LastEventId| ticker.subscribe(last),
        )
        .get("/ws/echo", move |ws: WebSocketUpgrade| {
            ws.max_message(limit)
                .deflate(DeflateConfig::default())
                .accept(Echo)
        })
        .get(
            "/ws/chat",
            move |ws: WebSocketUpgrade, room: State<WsGroup>| {
                let room = WsGroup::clone(&room);
                ws.max_message(limit)
                    .deflate(DeflateConfig::default())
                    .accept(Member { room, me: None })
            },
        )
}

fn main() -> io::Result<()> {
    turnstile_suite::init_logging();
    turnstile_suite::ExampleConfig::from_env().serve_app(app())
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>Turnstile chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; }
  #log { border: 1px solid #ccc; height: 20rem; overflow-y: auto; padding: .5rem; }
  #log p { margin: .2rem 0; }
  .me { color: #555; }
</style>
<h1>Chat</h1>
<p>ticks: <span id="ticks">–</span></p>
<div id="log"></div>
<form id="say"><input id="text" autocomplete="off" autofocus> <button>Send</button></form>
<p id="status">connecting…</p>
<script>
const log = document.getElementById("log");
const status = document.getElementById("status");
function line(text, cls) {
  const p = document.createElement("p");
  p.textContent = text;
  if (cls) p.className = cls;
  log.append(p);
  log.scrollTop = log.scrollHeight;
}
let socket;
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/chat`);
  socket.onopen = () => { status.textContent = "connected"; };
  socket.onmessage = (e) => line(e.data);
  socket.onclose = () => {
    status.textContent = "disconnected; reconnecting…";
    setTimeout(connect, 1000);
  };
}
connect();
// EventSource reconnects by itself, sending Last-Event-ID.
const events = new EventSource("/events");
events.addEventListener("tick", (e) => {
  document.getElementById("ticks").textContent = e.data;
});
document.getElementById("say").onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  if (input.value && socket.readyState === WebSocket.OPEN) {
    socket.send(input.value);
    line(input.value, "me");
    input.value = "";
  }
};
</script>
"#;
