//! Starting, loading and stopping a server.

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use turnstile_core::Next;
use turnstile_suite::raw::{connect, exchange, ResponseReader};

#[test]
fn graceful_shutdown_finishes_the_request_in_flight() {
    let (server, waiting) = support::start(|s| s);
    let addr = server.local_addr();
    let mut busy = connect(addr).unwrap();
    busy.write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut idle = connect(addr).unwrap();
    idle.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut idle = ResponseReader::new(idle);
    assert_eq!(idle.read_response(false).unwrap().status, 200);

    let deadline = Instant::now() + Duration::from_secs(5);
    let control = loop {
        if let Some(c) = waiting.lock().unwrap().pop() {
            break c;
        }
        assert!(Instant::now() < deadline);
        std::thread::yield_now();
    };
    server.shutdown(Duration::from_secs(5));
    // The idle keep-alive connection is closed.
    assert!(idle.read_to_close().unwrap().is_empty());
    // New connections are refused (or closed unanswered).
    match std::net::TcpStream::connect(addr) {
        Err(_) => {}
        Ok(mut s) => {
            let _ = s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
        }
    }
    // The request in flight still gets its answer, with Connection: close.
    control.ready(Next::write()).unwrap();
    let res = ResponseReader::new(busy).read_response(false).unwrap();
    assert_eq!(res.text(), "woken");
    assert_eq!(res.header("connection"), Some("close"));
    server.join();
}

#[test]
fn shutdown_deadline_drops_what_is_left() {
    let (server, _) = support::start(|s| s);
    let mut busy = connect(server.local_addr()).unwrap();
    busy.write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Let the request arrive, then give it no grace.
    let res = exchange(
        server.local_addr(),
        b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    assert_eq!(res.status, 200);
    let started = Instant::now();
    server.shutdown(Duration::from_millis(100));
    server.join();
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut out = Vec::new();
    let _ = busy.read_to_end(&mut out);
    assert!(out.is_empty());
}

#[test]
fn a_thousand_concurrent_connections() {
    let (server, _) = support::start(|s| s);
    let addr = server.local_addr();
    // Open them all first, then send on each, then read each answer.
    let mut streams: Vec<_> = (0..1000).map(|_| connect(addr).unwrap()).collect();
    for s in &mut streams {
        s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
    }
    for s in streams {
        let res = ResponseReader::new(s).read_response(false).unwrap();
        assert_eq!(res.text(), "Hello, World!");
    }
}

#[test]
fn max_connections_backpressures_accept() {
    let (server, waiting) = support::start(|s| s.workers(1).max_connections(2));
    let addr = server.local_addr();
    let mut a = connect(addr).unwrap();
    let mut b = connect(addr).unwrap();
    a.write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    b.write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while waiting.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline);
        std::thread::yield_now();
    }
    // A third connection waits in the backlog, unanswered.
    let mut c = connect(addr).unwrap();
    c.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(c.read(&mut byte).is_err(), "served past the limit");
    // One finishes and closes: the third is accepted and answered.
    for control in waiting.lock().unwrap().drain(..) {
        control.ready(Next::write()).unwrap();
    }
    drop(a);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let res = ResponseReader::new(c).read_response(false).unwrap();
    assert_eq!(res.text(), "Hello, World!");
    drop(b);
}

#[test]
fn a_panicking_handler_answers_500_and_the_worker_lives() {
    let (server, _) = support::start(|s| s.workers(1));
    let addr = server.local_addr();
    for _ in 0..3 {
        let res = exchange(addr, b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(res.status, 500);
        // A panic after the head was written can only close the connection.
        let mut late = connect(addr).unwrap();
        late.write_all(b"GET /panic-late HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = late.read_to_end(&mut out);
        assert!(!String::from_utf8_lossy(&out).contains("never finished"));
    }
    let res = exchange(addr, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(res.text(), "Hello, World!");
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let (server, _) = support::start(|s| {
        s.idle_timeout(Duration::from_millis(300))
            .head_timeout(Duration::from_secs(5))
    });
    let stream = connect(server.local_addr()).unwrap();
    let mut reader = ResponseReader::new(stream);
    reader
        .get_mut()
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(reader.read_response(false).unwrap().status, 200);
    // Kept alive, then idle: closed quietly (no 408 between requests).
    let started = Instant::now();
    let rest = reader.read_to_close().unwrap();
    let waited = started.elapsed();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "closed after {waited:?}"
    );
}
