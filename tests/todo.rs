//! The todo app: its API through the test client, and the example over
//! sockets (restarts, concurrent writers).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use turnstile::test::TestClient;
use turnstile::StatusCode;
use turnstile_suite::program::Program;
use turnstile_suite::raw::{connect, ResponseReader};
use turnstile_suite::todo;

fn client() -> TestClient {
    TestClient::new(todo::app(todo::Db::open(":memory:", 1).unwrap())).unwrap()
}

fn create(c: &TestClient, body: Value) -> turnstile::test::TestResponse {
    c.request("POST", "/api/todos").json(&body).send()
}

#[test]
fn the_api_end_to_end() {
    let c = client();
    let made = create(&c, json!({"title": "  buy milk  "}));
    assert_eq!(made.status(), StatusCode::CREATED);
    assert_eq!(made.header("location"), Some("/api/todos/1"));
    assert_eq!(
        made.json::<Value>(),
        json!({"id": 1, "title": "buy milk", "done": false})
    );
    create(&c, json!({"title": "walk", "done": true}));
    create(&c, json!({"title": "read"}));

    assert_eq!(c.get("/api/todos").json::<Vec<Value>>().len(), 3);
    let done: Vec<Value> = c.get("/api/todos?done=true").json();
    assert_eq!(done, [json!({"id": 2, "title": "walk", "done": true})]);
    let page: Vec<Value> = c.get("/api/todos?limit=1&offset=1").json();
    assert_eq!(page[0]["id"], 2);

    let one = c.get("/api/todos/1");
    let tag = one.header("etag").unwrap().to_owned();
    let again = c
        .request("GET", "/api/todos/1")
        .header("if-none-match", &tag)
        .send();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.body().is_empty());

    let patched = c
        .request("PATCH", "/api/todos/1")
        .json(&json!({"done": true}))
        .send();
    assert_eq!(patched.json::<Value>()["done"], true);
    let changed = c
        .request("GET", "/api/todos/1")
        .header("if-none-match", &tag)
        .send();
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "a change changes the ETag"
    );
    let renamed = c
        .request("PATCH", "/api/todos/1")
        .json(&json!({"title": "oat milk"}))
        .send();
    assert_eq!(
        renamed.json::<Value>(),
        json!({"id": 1, "title": "oat milk", "done": true})
    );

    assert_eq!(c.delete("/api/todos/1").status(), StatusCode::NO_CONTENT);
    assert_eq!(c.delete("/api/todos/1").status(), StatusCode::NOT_FOUND);
    assert_eq!(c.get("/api/todos/1").status(), StatusCode::NOT_FOUND);
    assert_eq!(c.get("/api/todos").json::<Vec<Value>>().len(), 2);
}

#[test]
fn bad_inputs_get_their_codes_and_write_nothing() {
    let c = client();
    create(&c, json!({"title": "keep"}));
    let long = "x".repeat(201);
    let huge = json!({"title": "y".repeat(20_000)});
    /// (method, target, content type, body, status, field at fault)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/todos",
            Some("application/json"),
            b"{\"title\":".to_vec(),
            400,
            "body",
        ),
        (
            "POST",
            "/api/todos",
            Some("application/json"),
            b"not json".to_vec(),
            400,
            "body",
        ),
        (
            "POST",
            "/api/todos",
            Some("text/plain"),
            b"{\"title\":\"x\"}".to_vec(),
            415,
            "content-type",
        ),
        (
            "POST",
            "/api/todos",
            None,
            b"{\"title\":\"x\"}".to_vec(),
            415,
            "content-type",
        ),
        (
            "POST",
            "/api/todos",
            Some("application/json"),
            b"{\"title\":\"\"}".to_vec(),
            422,
            "title",
        ),
        (
            "POST",
            "/api/todos",
            Some("application/json"),
            b"{\"title\":\"   \"}".to_vec(),
            422,
            "title",
        ),
        (
            "POST",
            "/api/todos",
            Some("application/json"),
            format!("{{\"title\":\"{long}\"}}").into_bytes(),
            422,
            "title",
        ),
        (
            "POST",
            "/api/todos",
            Some("application/json"),
            b"{\"done\":true}".to_vec(),
            422,
            "title",
        ),
        (
            "POST",
            "/api/todos",
            Some("application/json"),
            b"{\"title\":5}".to_vec(),
            422,
            "title",
        ),
        (
            "POST",
            "/api/todos",
            Some("application/json"),
            b"{\"title\":\"x\",\"owner\":1}".to_vec(),
            422,
            "owner",
        ),
        (
            "POST",
            "/api/todos",
            Some("application/json"),
            huge.to_string().into_bytes(),
            413,
            "body",
        ),
        (
            "PATCH",
            "/api/todos/1",
            Some("application/json"),
            b"{}".to_vec(),
            422,
            "body",
        ),
        (
            "PATCH",
            "/api/todos/1",
            Some("application/json"),
            b"{\"title\":\"\"}".to_vec(),
            422,
            "title",
        ),
        (
            "PATCH",
            "/api/todos/99",
            Some("application/json"),
            b"{\"done\":true}".to_vec(),
            404,
            "id",
        ),
        ("GET", "/api/todos/99", None, Vec::new(), 404, "id"),
        (
            "GET",
            "/api/todos?limit=501",
            None,
            Vec::new(),
            422,
            "limit",
        ),
        (
            "GET",
            "/api/todos?done=maybe",
            None,
            Vec::new(),
            400,
            "done",
        ),
        (
            "GET",
            "/api/todos?colour=red",
            None,
            Vec::new(),
            400,
            "colour",
        ),
    ];
    for (method, target, content_type, body, status, field) in cases {
        let mut request = c.request(method, target).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let res = request.send();
        assert_eq!(
            res.status().as_u16(),
            status,
            "{method} {target}: {}",
            res.text()
        );
        let problem: Value = res.json();
        assert_eq!(problem["field"], field, "{method} {target}: {problem}");
        assert!(problem["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    assert_eq!(
        c.get("/api/todos").json::<Vec<Value>>(),
        [json!({"id": 1, "title": "keep", "done": false})]
    );
    assert_eq!(c.get("/api/todos/abc").status(), StatusCode::NOT_FOUND);
}

#[test]
fn the_page_and_its_assets() {
    let c = client();
    for (path, content_type, needle) in [
        ("/", "text/html; charset=utf-8", "<form id=\"new-todo\""),
        ("/static/app.js", "text/javascript; charset=utf-8", "fetch("),
        ("/static/app.css", "text/css; charset=utf-8", "#todos"),
    ] {
        let res = c.get(path);
        assert_eq!(res.header("content-type"), Some(content_type), "{path}");
        assert_eq!(res.header("cache-control"), Some("no-cache"), "{path}");
        assert!(res.text().contains(needle), "{path}");
        let tag = res.header("etag").unwrap().to_owned();
        let cached = c.request("GET", path).header("if-none-match", &tag).send();
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
}

/// The todo example on a free port with `database`; killed on drop.
fn run_todo(database: &Path) -> Program {
    Program::start(
        "todo",
        &[("DATABASE", database.to_str().expect("UTF-8 path"))],
    )
}

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("turnstile-todo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("todo.db")
}

fn post_json(
    reader: &mut ResponseReader<std::net::TcpStream>,
    body: &str,
) -> turnstile_suite::raw::RawResponse {
    let request = format!(
        "POST /api/todos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    reader.get_mut().write_all(request.as_bytes()).unwrap();
    reader.read_response(false).unwrap()
}

fn get_all(addr: SocketAddr) -> Vec<Value> {
    let res = turnstile_suite::raw::exchange(
        addr,
        b"GET /api/todos?limit=500 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    serde_json::from_slice(&res.body).unwrap()
}

#[test]
fn data_survives_a_restart() {
    let database = temp_db("restart");
    {
        let server = run_todo(&database);
        let mut reader = ResponseReader::new(connect(server.addr()).unwrap());
        assert_eq!(
            post_json(&mut reader, r#"{"title":"persist me"}"#).status,
            201
        );
    }
    let server = run_todo(&database);
    let todos = get_all(server.addr());
    assert_eq!(
        todos,
        [json!({"id": 1, "title": "persist me", "done": false})]
    );
}

#[test]
fn two_hundred_concurrent_creates_all_land() {
    let database = temp_db("concurrent");
    let server = run_todo(&database);
    let addr = server.addr();
    let writers: Vec<_> = (0..20)
        .map(|w| {
            std::thread::spawn(move || {
                let mut reader = ResponseReader::new(connect(addr).unwrap());
                for i in 0..10 {
                    let res = post_json(
                        &mut reader,
                        &format!(r#"{{"title":"writer {w} item {i}"}}"#),
                    );
                    assert_eq!(res.status, 201, "{}", res.text());
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let todos = get_all(addr);
    assert_eq!(todos.len(), 200);
    let mut titles: Vec<&str> = todos.iter().map(|t| t["title"].as_str().unwrap()).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 200, "no write lost or doubled");
}

/// Reads from `stream` until `want` has arrived (or the stream ends);
/// everything read so far.
fn read_until(stream: &mut std::net::TcpStream, want: &str) -> String {
    use std::io::Read;
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(want) {
        assert!(
            std::time::Instant::now() < give_up,
            "never got {want:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn every_page_hears_of_every_change_and_streams_end_on_a_drain() {
    let app = todo::app(todo::Db::open(":memory:", 2).unwrap());
    let server = app
        .serve_on(turnstile::core::Server::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let addr = server.local_addr();
    let subscribe = || {
        let mut stream = connect(addr).unwrap();
        stream
            .write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let head = read_until(&mut stream, "event: hello");
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        assert!(head.contains("retry: 1000"), "{head}");
        stream
    };
    let mut pages = [subscribe(), subscribe()];

    let mut api = ResponseReader::new(connect(addr).unwrap());
    assert_eq!(post_json(&mut api, r#"{"title":"live"}"#).status, 201);
    let patch = br#"{"done":true}"#;
    let request = [
        b"PATCH /api/todos/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n".as_slice(),
        patch,
        b"DELETE /api/todos/1 HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    .concat();
    api.get_mut().write_all(&request).unwrap();
    assert_eq!(api.read_response(false).unwrap().status, 200);
    assert_eq!(api.read_response(false).unwrap().status, 204);
    for page in &mut pages {
        let events = read_until(page, r#""change":"deleted""#);
        let wanted = [
            "event: change\nid: 1\ndata: {\"change\":\"created\",\"id\":1}\n\n",
            "event: change\nid: 2\ndata: {\"change\":\"updated\",\"id\":1}\n\n",
            "event: change\nid: 3\ndata: {\"change\":\"deleted\",\"id\":1}\n\n",
        ];
        let mut at = 0;
        for want in wanted {
            at += events[at..]
                .find(want)
                .unwrap_or_else(|| panic!("{want:?} in order in {events:?}"));
        }
    }

    // A drain ends the streams cleanly (the last chunk, then the close),
    // long before a 30 s grace would.
    server.shutdown(std::time::Duration::from_secs(30));
    for page in &mut pages {
        let rest = read_until(page, "0\r\n\r\n");
        assert!(rest.ends_with("0\r\n\r\n"), "{rest:?}");
    }
    server.join();
}
