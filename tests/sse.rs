//! Server-Sent Events: the chat example's `/events` read by curl (ids,
//! `Last-Event-ID`), an event stream over HTTP/1.1 (chunked) and HTTP/1.0
//! (to the close), keep-alive comments while idle, and a client leaving
//! noticed at once by the producer.

use std::io::{Read, Write};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use turnstile::core::Server;
use turnstile::sse::{Event, Sse};
use turnstile::App;
use turnstile_suite::program::Program;
use turnstile_suite::raw::connect;

/// Reads from `stream` until `want` has arrived; everything read so far.
fn read_until(stream: &mut impl Read, want: &str) -> String {
    let give_up = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(want) {
        assert!(Instant::now() < give_up, "never got {want:?}: {got:?}");
        match stream.read(&mut buf) {
            Ok(0) => panic!(
                "closed before {want:?}: {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("{e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn chat_example_events_count_up_and_resume_after_last_event_id() {
    let program = Program::start("chat", &[("TICK_MS", "50")]);
    let url = format!("http://127.0.0.1:{}/events", program.addr().port());
    let curl = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sN", "--max-time", "1.5", "-D", "-"])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
    };
    let fresh = curl(&[]);
    assert!(
        fresh.contains("content-type: text/event-stream\n"),
        "{fresh}"
    );
    assert!(fresh.contains("transfer-encoding: chunked\n"), "{fresh}");
    assert!(
        fresh.contains("\n\nevent: tick\nid: 1\ndata: 1\n\nevent: tick\nid: 2\ndata: 2\n\nevent: tick\nid: 3\ndata: 3\n\n"),
        "{fresh}"
    );
    let resumed = curl(&["-H", "Last-Event-ID: 41"]);
    assert!(
        resumed.contains("\n\nevent: tick\nid: 42\ndata: 42\n\nevent: tick\nid: 43\n"),
        "{resumed}"
    );
}

#[test]
fn streams_over_http_1_0_end_with_the_connection() {
    let app = App::new().get("/three", || {
        let (response, events) = Sse::channel();
        std::thread::spawn(move || {
            for i in 1..=3 {
                let _ = events.send(&Event::data(format!("line {i}\nmore")).id(i.to_string()));
            }
        });
        response
    });
    let server = app
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap();
    let mut stream = connect(server.local_addr()).unwrap();
    stream.write_all(b"GET /three HTTP/1.0\r\n\r\n").unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").unwrap();
    let head = head.to_lowercase();
    assert!(
        head.starts_with("http/1.0 200") || head.starts_with("http/1.1 200"),
        "{head}"
    );
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert_eq!(
        body,
        "id: 1\ndata: line 1\ndata: more\n\nid: 2\ndata: line 2\ndata: more\n\nid: 3\ndata: line 3\ndata: more\n\n"
    );
    server.shutdown(Duration::ZERO);
    server.join();
}

#[test]
fn idle_streams_send_comments_and_a_leaving_client_stops_the_producer() {
    let (report, reported) = mpsc::channel();
    let app = App::new().get("/quiet", move || {
        let (response, events) = Sse::channel_with(Some(Duration::from_millis(100)), 1024);
        let report = report.clone();
        std::thread::spawn(move || {
            events.send(&Event::data("hello")).unwrap();
            // Nothing more to say: wait for the client to leave.
            let give_up = Instant::now() + Duration::from_secs(10);
            while !events.is_closed() && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = report.send(Instant::now());
        });
        response
    });
    let server = app
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap();
    let mut stream = connect(server.local_addr()).unwrap();
    stream
        .write_all(b"GET /quiet HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let got = read_until(&mut stream, "data: hello\n\n");
    assert!(!got.contains(":\n\n"), "{got}");
    // Two keep-alive comments (each its own chunk) while nothing happens.
    let got = read_until(&mut stream, "3\r\n:\n\n\r\n");
    let more = read_until(&mut stream, "3\r\n:\n\n\r\n");
    assert!(got.contains(":\n\n") && more.contains(":\n\n"));
    // The client leaves: the producer hears of it at once, not at its
    // next send.
    let left = Instant::now();
    drop(stream);
    let heard = reported.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        heard.duration_since(left) < Duration::from_secs(2),
        "{:?}",
        heard.duration_since(left)
    );
    server.shutdown(Duration::ZERO);
    server.join();
}
