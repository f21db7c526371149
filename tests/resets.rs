//! Clients that reset their connection at every stage of a request: the
//! server drops each one, leaks no descriptor and no waiting exchange, and
//! goes on serving. Alone in its binary so the descriptor count is the
//! server's.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use turnstile_core::Next;
use turnstile_suite::raw::{connect, exchange};

/// Connections reset at each stage.
const EACH: usize = 20;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Closes with RST instead of FIN: `SO_LINGER` with a zero timeout.
fn reset(stream: TcpStream) {
    let socket = socket2::Socket::from(stream);
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    drop(socket);
}

#[test]
fn resets_at_every_stage_leak_nothing() {
    let (server, waiting) = support::start(|s| s.workers(1));
    let addr = server.local_addr();
    assert_eq!(
        exchange(addr, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .status,
        200
    );
    let baseline = open_fds();

    let body_head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
    let stages: [(&str, Vec<u8>); 8] = [
        ("connected", Vec::new()),
        ("request line", b"GET /hel".to_vec()),
        ("header", b"GET /hello HTTP/1.1\r\nHost:".to_vec()),
        ("before the body", body_head.to_vec()),
        (
            "inside the body",
            [&body_head[..], &[b'x'; 50_000][..]].concat(),
        ),
        (
            "response unread",
            b"GET /big-chunked HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "pipeline unread",
            b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3),
        ),
        (
            "waiting handler",
            b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
    ];
    for (stage, bytes) in &stages {
        for _ in 0..EACH {
            let before = waiting.lock().unwrap().len();
            let mut s = connect(addr).unwrap();
            s.write_all(bytes).unwrap();
            if *stage == "waiting handler" {
                // Reset only once the handler is waiting.
                let deadline = Instant::now() + Duration::from_secs(5);
                while waiting.lock().unwrap().len() == before {
                    assert!(Instant::now() < deadline, "the /wait handler never ran");
                    std::thread::yield_now();
                }
            }
            reset(s);
        }
    }
    // Halfway through reading a large response.
    for _ in 0..EACH {
        let mut s = connect(addr).unwrap();
        s.write_all(b"GET /big-chunked HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut some = [0u8; 4096];
        s.read_exact(&mut some).unwrap();
        reset(s);
    }

    // Still serving, on the one worker.
    let res = exchange(addr, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(res.text(), "Hello, World!");
    // Every reset connection is closed on the server's side, waiting
    // handlers included, without anyone readying them.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open = open_fds();
        if open <= baseline {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} descriptors still open after the resets",
            open - baseline
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // And their exchanges are gone: a late Control finds nothing.
    let controls = std::mem::take(&mut *waiting.lock().unwrap());
    assert_eq!(controls.len(), EACH);
    for control in controls {
        assert!(control.ready(Next::write()).is_err());
    }
    server.shutdown(Duration::from_secs(1));
    server.join();
}
