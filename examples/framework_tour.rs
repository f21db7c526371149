//! A tour of the framework, one small route per feature.
//!
//! ```text
//! PORT=3000 cargo run --release --example framework_tour
//! curl http://127.0.0.1:3000/users/1
//! curl -d '{"name":"ann"}' -H 'content-type: application/json' http://127.0.0.1:3000/users
//! curl 'http://127.0.0.1:3000/search?q=rust&limit=2'
//! curl -d 'user=ann&password=x' http://127.0.0.1:3000/login
//! curl http://127.0.0.1:3000/counter
//! curl http://127.0.0.1:3000/slow/200
//! curl http://127.0.0.1:3000/primes/100000
//! curl http://127.0.0.1:3000/stream/5
//! curl 'http://127.0.0.1:3000/export.csv?rows=1000000' | tail -1
//! curl -N 'http://127.0.0.1:3000/events?count=5&every_ms=200'
//! ```
//!
//! `/export.csv` streams rows from a producer on the blocking pool as the
//! client takes them; `/events` is a text/event-stream fed by a thread
//! through an `EventSender` (it stops when the client leaves, and says
//! goodbye when the server drains). `/stream/:n` is the same kind of thing
//! written as a raw engine handler, for comparison.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use turnstile::core::{Control, Encoder, Handler, Next, Request, ResponseHead};
use turnstile::extract::{Form, Path, Query, State};
use turnstile::middleware::{Cors, Logger, RequestId, RequestIdMiddleware, Timeout};
use turnstile::sse::{Event, Sse};
use turnstile::{App, Defer, Deferred, Json, Method, Response, RouteSettings, StatusCode};

#[derive(Clone, Serialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
}

/// The "database": a map behind a mutex, shared as state.
struct Users {
    next_id: AtomicU64,
    by_id: Mutex<BTreeMap<u64, User>>,
}

struct Counter(AtomicU64);

fn get_user(Path(id): Path<u64>, users: State<Users>) -> Option<Json<User>> {
    let users = users.by_id.lock().unwrap_or_else(|e| e.into_inner());
    users.get(&id).cloned().map(Json)
}

fn create_user(
    users: State<Users>,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), (StatusCode, Json<serde_json::Value>)> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > 100 {
        let error =
            serde_json::json!({"error": "name must be 1 to 100 characters", "field": "name"});
        return Err((StatusCode::UNPROCESSABLE_ENTITY, Json(error)));
    }
    let id = users.next_id.fetch_add(1, Ordering::Relaxed);
    let user = User {
        id,
        name: name.to_owned(),
    };
    users
        .by_id
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, user.clone());
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Deserialize)]
struct Search {
    q: String,
    limit: Option<usize>,
}

fn search(Query(search): Query<Search>) -> Json<Vec<String>> {
    let limit = search.limit.unwrap_or(3).min(10);
    Json(
        (1..=limit)
            .map(|i| format!("{} result {i}", search.q))
            .collect(),
    )
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

fn login(id: RequestId, Form(login): Form<Login>) -> String {
    format!("welcome, {} (request {})", login.user, id.0)
}

fn count(counter: State<Counter>) -> String {
    (counter.0.fetch_add(1, Ordering::Relaxed) + 1).to_string()
}

/// Answers from another thread after `ms` milliseconds.
fn slow(Path(ms): Path<u64>, defer: Defer) -> Result<Deferred, StatusCode> {
    if ms > 10_000 {
        return Err(StatusCode::BAD_REQUEST);
    }
    let later = defer.later();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        defer.complete(format!("answered after {ms} ms"));
    });
    Ok(later)
}

/// Blocking work on the built-in pool: count primes below `n`.
fn primes(Path(n): Path<u32>, defer: Defer) -> Deferred {
    defer.spawn(move || {
        let n = n.min(5_000_000) as usize;
        let mut sieve = vec![true; n.max(2)];
        let mut count = 0;
        for i in 2..n {
            if sieve[i] {
                count += 1;
                let mut j = i * i;
                while j < n {
                    sieve[j] = false;
                    j += i;
                }
            }
        }
        Json(serde_json::json!({ "below": n, "primes": count }))
    })
}

/// A raw core handler: streams `n` lines, one chunk each, as the socket
/// takes them.
struct Stream {
    lines: u32,
    sent: u32,
    pending: Vec<u8>,
}

impl Handler for Stream {
    fn on_request(&mut self, request: Request) -> Next {
        self.lines = request
            .path()
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(3)
            .min(100_000);
        Next::write()
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        let _ = response
            .headers_mut()
            .set("content-type", "text/plain; charset=utf-8");
        Next::write()
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        loop {
            if self.pending.is_empty() {
                if self.sent == self.lines {
                    return Next::end();
                }
                self.sent += 1;
                self.pending = format!("line {} of {}\n", self.sent, self.lines).into_bytes();
            }
            match encoder.write(&self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::write(),
                Err(_) => return Next::remove(),
            }
        }
    }
}

#[derive(Deserialize)]
struct Export {
    rows: Option<u64>,
}

/// A CSV of `rows` rows (default 10,000, at most 10 million), produced on
/// the blocking pool while the client downloads it.
fn export_csv(Query(export): Query<Export>) -> Response {
    let rows = export.rows.unwrap_or(10_000).min(10_000_000);
    Response::stream(move |tx| {
        tx.send(b"id,name,score\n".to_vec())?;
        let mut batch = String::with_capacity(16 * 1024);
        for id in 1..=rows {
            batch.push_str(&format!("{id},user {id},{}\n", id * 7919 % 1000));
            if batch.len() >= 16 * 1024 {
                tx.send(std::mem::take(&mut batch))?;
            }
        }
        tx.send(batch)?;
        Ok(())
    })
    .with_header("content-type", "text/csv; charset=utf-8")
    .with_header("content-disposition", "attachment; filename=\"export.csv\"")
}

#[derive(Deserialize)]
struct Ticks {
    count: Option<u64>,
    every_ms: Option<u64>,
}

/// `count` server-sent events (default 10), one every `every_ms` (default
/// 1000), from a thread of its own.
fn events(Query(ticks): Query<Ticks>) -> Response {
    let count = ticks.count.unwrap_or(10).min(100_000);
    let every = Duration::from_millis(ticks.every_ms.unwrap_or(1000).clamp(10, 60_000));
    let (response, events) = Sse::channel();
    std::thread::spawn(move || {
        for id in 1..=count {
            if events.is_draining() {
                let _ = events.send(&Event::data("the server is restarting").event("bye"));
                return;
            }
            let tick = Event::data(id.to_string()).event("tick").id(id.to_string());
            if events.send(&tick).is_err() {
                return; // the client left
            }
            std::thread::sleep(every);
        }
    });
    response
}

fn app() -> App {
    let api = App::new()
        .wrap(Cors::permissive())
        .get("/users/:id", get_user)
        .post("/users", create_user)
        .get("/search", search);
    App::new()
        .state(Users {
            next_id: AtomicU64::new(2),
            by_id: Mutex::new(BTreeMap::from([(
                1,
                User {
                    id: 1,
                    name: "admin".into(),
                },
            )])),
        })
        .state(Counter(AtomicU64::new(0)))
        .wrap(Logger)
        .wrap(RequestIdMiddleware::new())
        .get("/", || "Hello, World!")
        .get("/plaintext", || "Hello, World!")
        .get("/json", || {
            Json(serde_json::json!({"message": "Hello, World!"}))
        })
        .get("/users/:id", get_user)
        .post("/users", create_user)
        .get("/search", search)
        .post("/login", login)
        .get("/counter", count)
        .route_with(
            &[Method::Get],
            "/slow/:ms",
            slow,
            RouteSettings::default().wrap(Timeout(Duration::from_secs(5))),
        )
        .get("/primes/:n", primes)
        .get("/panic", || -> &'static str {
            panic!("this route panics on purpose")
        })
        .get("/export.csv", export_csv)
        .get("/events", events)
        .raw("/stream/:n", |_: Control| Stream {
            lines: 0,
            sent: 0,
            pending: Vec::new(),
        })
        .nest("/api", api)
}

fn main() -> io::Result<()> {
    turnstile_suite::init_logging();
    turnstile_suite::ExampleConfig::from_env().serve_app(app())
}
