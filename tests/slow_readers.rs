//! Slow readers of large responses are backpressured: a handler writing a
//! 16 MiB body to a client that does not read is told to wait, and the
//! server holds a bounded buffer per connection, not the body. Alone in its
//! binary so the process's RSS is the server's.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use turnstile_core::{Control, Encoder, Handler, Next, Request, ResponseHead, Server};
use turnstile_suite::raw::{connect, exchange};

const BODY: u64 = 16 * 1024 * 1024;
const READERS: usize = 100;

/// Streams `BODY` bytes of a pattern, or a short hello.
struct Stream {
    big: bool,
    sent: u64,
    blocked_once: bool,
    blocked: Arc<AtomicUsize>,
}

impl Handler for Stream {
    fn on_request(&mut self, request: Request) -> Next {
        self.big = request.path() == "/big";
        Next::write()
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        response.set_content_length(if self.big { BODY } else { 5 });
        Next::write()
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        if !self.big {
            return match encoder.write_all(b"hello") {
                Ok(()) => Next::end(),
                Err(_) => Next::remove(),
            };
        }
        let piece = [b'z'; 8192];
        while self.sent < BODY {
            let n = piece.len().min((BODY - self.sent) as usize);
            match encoder.write(&piece[..n]) {
                Ok(written) => self.sent += written as u64,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if !self.blocked_once {
                        self.blocked_once = true;
                        self.blocked.fetch_add(1, Ordering::SeqCst);
                    }
                    return Next::write();
                }
                Err(_) => return Next::remove(),
            }
        }
        Next::end()
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn slow_readers_of_large_responses_are_backpressured() {
    let blocked = Arc::new(AtomicUsize::new(0));
    let counter = blocked.clone();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .workers(2)
        .serve(move |_: Control| Stream {
            big: false,
            sent: 0,
            blocked_once: false,
            blocked: counter.clone(),
        })
        .unwrap();
    let addr = server.local_addr();
    assert_eq!(
        exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .text(),
        "hello"
    );
    let before = rss_kib();

    // A hundred clients ask for 16 MiB each and read nothing.
    let mut stalled = Vec::new();
    for _ in 0..READERS {
        let mut s = connect(addr).unwrap();
        s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        stalled.push(s);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while blocked.load(Ordering::SeqCst) < READERS {
        assert!(
            Instant::now() < deadline,
            "not every writer was backpressured"
        );
        std::thread::yield_now();
    }
    let during = rss_kib();
    eprintln!("RSS before {before} KiB, with {READERS} stalled readers {during} KiB");
    // 1.6 GiB of bodies are waiting to be written; the server may hold a
    // write buffer per connection (64 KiB high-water mark) and no more.
    assert!(
        during.saturating_sub(before) < 32 * 1024,
        "RSS grew by {} KiB for {READERS} stalled readers",
        during - before
    );

    // Ordinary clients are answered meanwhile.
    let started = Instant::now();
    assert_eq!(
        exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .text(),
        "hello"
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // A stalled reader that starts reading gets every byte.
    let mut reader = stalled.pop().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        reader.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let mut total = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    while total < BODY {
        let n = reader.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {total} bytes");
        assert!(buf[..n].iter().all(|&b| b == b'z'));
        total += n as u64;
    }
    assert_eq!(total, BODY);
    drop(stalled);
    server.shutdown(Duration::from_millis(200));
    server.join();
}
