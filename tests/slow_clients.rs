//! Slow clients: thousands of connections dripping their heads or bodies a
//! byte at a time must not slow ordinary clients down, and must be cut off
//! by the timeouts.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use turnstile_suite::raw::exchange;

/// Connections dripping in this test (the fd limit here allows more; CI
/// keeps it modest).
const SLOW: usize = 2000;

#[test]
fn drips_do_not_slow_others_and_are_cut_off() {
    let (server, _) = support::start(|s| {
        s.head_timeout(Duration::from_millis(1500))
            .body_timeout(Duration::from_millis(1500))
            .max_connections(SLOW + 200)
    });
    let addr = server.local_addr();

    // Half drip a head, half drip a body after a complete head.
    let mut slow: Vec<TcpStream> = Vec::with_capacity(SLOW);
    for i in 0..SLOW {
        let mut s = TcpStream::connect(addr).unwrap();
        if i % 2 == 1 {
            s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
                .unwrap();
        }
        s.set_nonblocking(true).unwrap();
        slow.push(s);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let dripping = stop.clone();
    let dripper = std::thread::spawn(move || {
        let started = Instant::now();
        let mut closed = vec![false; slow.len()];
        // Bounded: a byte per connection every 50 ms, for at most 5 s.
        while !dripping.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(5) {
            for (i, s) in slow.iter_mut().enumerate() {
                if closed[i] {
                    continue;
                }
                let byte: &[u8] = if i % 2 == 0 { b"G" } else { b"x" };
                if s.write(byte).is_err() {
                    closed[i] = true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (slow, closed)
    });

    // Ordinary clients, meanwhile.
    std::thread::sleep(Duration::from_millis(200));
    let mut latencies = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let res = exchange(addr, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(res.text(), "Hello, World!");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    assert!(
        median < Duration::from_millis(50),
        "median {median:?} with {SLOW} slow clients"
    );

    // Past the timeouts, every slow connection has been cut off: a read
    // sees the end of the stream (after a 408 for the unfinished heads).
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::Relaxed);
    let (slow, _) = dripper.join().unwrap();
    let mut cut = 0;
    let mut answered_408 = 0;
    for mut s in slow {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut out = Vec::new();
        match s.read_to_end(&mut out) {
            Ok(_) => cut += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => cut += 1,
            Err(e) => panic!("a slow connection is still open: {e}"),
        }
        if out.starts_with(b"HTTP/1.1 408") {
            answered_408 += 1;
        }
    }
    assert_eq!(cut, SLOW);
    assert!(
        answered_408 >= SLOW / 2 - 10,
        "{answered_408} heads answered 408"
    );
}
