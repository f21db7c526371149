//! The blocking layer: the sync server under many clients and slow ones,
//! and 100 MiB streamed both ways with bounded memory.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use turnstile_core::sync::{self, Client, Request, Response};
use turnstile_core::{Method, Server, ServerHandle};
use turnstile_suite::raw::{connect, exchange};

/// A reader of `len` bytes of a fixed pattern, without holding them.
struct Pattern {
    len: u64,
    at: u64,
}

impl Read for Pattern {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = (out.len() as u64).min(self.len - self.at) as usize;
        for (i, byte) in out[..n].iter_mut().enumerate() {
            *byte = ((self.at + i as u64) % 251) as u8;
        }
        self.at += n as u64;
        Ok(n)
    }
}

fn serve(threads: usize, queue: usize) -> ServerHandle {
    let server = Server::bind("127.0.0.1:0").unwrap().workers(2);
    sync::Server::on(server)
        .threads(threads)
        .queue(queue)
        .serve(|mut request: Request, mut response: Response| {
            match (request.method(), request.path()) {
                (Method::Post, "/sum") => {
                    let (mut bytes, mut sum) = (0u64, 0u64);
                    let mut chunk = vec![0u8; 64 * 1024];
                    loop {
                        match request.read(&mut chunk) {
                            Ok(0) => break,
                            Ok(n) => {
                                bytes += n as u64;
                                sum += chunk[..n].iter().map(|b| u64::from(*b)).sum::<u64>();
                            }
                            Err(_) => return,
                        }
                    }
                    let _ = write!(response, "{bytes} {sum}");
                }
                (Method::Get, path) if path.starts_with("/stream/") => {
                    let len: u64 = path["/stream/".len()..].parse().unwrap_or(0);
                    let _ = io::copy(&mut Pattern { len, at: 0 }, &mut response);
                }
                (Method::Get, "/sleep") => {
                    std::thread::sleep(Duration::from_millis(200));
                    let _ = response.write_all(b"slept");
                }
                (Method::Get, "/panic") => panic!("a blocking handler bug, on purpose"),
                _ => {
                    response.set_content_length(13);
                    let _ = response.write_all(b"Hello, World!");
                }
            }
        })
        .unwrap()
}

#[test]
fn five_hundred_concurrent_clients_on_four_threads() {
    let server = serve(4, 1024);
    let addr = server.local_addr();
    let answered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..500)
        .map(|_| {
            let answered = answered.clone();
            std::thread::spawn(move || {
                let res = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                assert_eq!(res.text(), "Hello, World!");
                answered.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(answered.load(Ordering::SeqCst), 500);
}

#[test]
fn a_slow_head_holds_no_thread() {
    // One thread only: if dripping heads took it, nothing else would run.
    let server = serve(1, 64);
    let addr = server.local_addr();
    let mut slow: Vec<_> = (0..20)
        .map(|_| {
            let mut s = connect(addr).unwrap();
            s.write_all(b"POST /sum HTTP/1.1\r\nHost: x\r\nContent-Le")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let res = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(res.text(), "Hello, World!");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    for s in &mut slow {
        let _ = s.write_all(b"ngth: 3\r\n\r\nabc");
    }
    for s in slow {
        let res = turnstile_suite::raw::ResponseReader::new(s)
            .read_response(false)
            .unwrap();
        assert_eq!(res.text(), format!("3 {}", 97 + 98 + 99));
    }
}

#[test]
fn overload_panics_and_client_errors() {
    let server = serve(1, 1);
    let addr = server.local_addr();
    let res = exchange(addr, b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(res.status, 500);
    // One sleeping, one queued: the third is refused at once.
    let a = std::thread::spawn(move || {
        exchange(addr, b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n").unwrap()
    });
    std::thread::sleep(Duration::from_millis(50));
    let b = std::thread::spawn(move || {
        exchange(addr, b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n").unwrap()
    });
    std::thread::sleep(Duration::from_millis(50));
    let refused = exchange(addr, b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(refused.status, 503);
    assert_eq!(a.join().unwrap().text(), "slept");
    assert_eq!(b.join().unwrap().text(), "slept");
    assert_eq!(
        exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .status,
        200
    );
}

#[test]
fn sync_client_basics_and_errors() {
    let server = serve(2, 16);
    let base = format!("http://{}", server.local_addr());
    let client = Client::new().unwrap();
    let response = client.get(&format!("{base}/")).unwrap();
    assert_eq!(response.headers().get("content-length"), Some("13"));
    assert_eq!(response.text().unwrap(), "Hello, World!");
    let response = client
        .post(&format!("{base}/sum"))
        .body(b"abc".to_vec())
        .send()
        .unwrap();
    assert_eq!(response.text().unwrap(), "3 294");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(client.get(&format!("http://{closed}/")).is_err());
    assert!(client.get("ftp://nowhere/").is_err());
}
