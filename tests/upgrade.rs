//! Connection upgrades: a handler answers `101 Switching Protocols` and a
//! `Protocol` takes over the connection on the same event loop, reading the
//! bytes the client sent right after its head, woken by the request's
//! `Control`, timed out by its `Next`, told of a graceful shutdown; over
//! TCP, TLS and through a framework raw route.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use turnstile::App;
use turnstile_core::upgrade::{Protocol, Upgraded};
use turnstile_core::{
    Control, Error, Handler, Next, Request, ResponseHead, Server, ServerHandle, StatusCode,
};
use turnstile_suite::raw::connect;
use turnstile_suite::tls::{tls_connect, TestCa};

/// After the upgrade: echoes bytes; `!tick` waits for a `Control` wake-up
/// from another thread and then writes `tock`; `!quiet` waits for input
/// with a 100 ms timeout and says `timeout` when it passes; a shutdown is
/// answered with `bye`.
struct Echo {
    control: Control,
    out: Vec<u8>,
    closing: bool,
    /// Waiting quietly for input, with a timeout.
    quiet: bool,
}

impl Echo {
    fn drain(&mut self, conn: &mut Upgraded<'_>) -> Next {
        while !self.out.is_empty() {
            match conn.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::write(),
                Err(_) => return Next::remove(),
            }
        }
        if self.closing {
            Next::end()
        } else if self.quiet {
            // A callback may come with nothing to read: keep the timeout.
            Next::read().timeout(Duration::from_millis(100))
        } else {
            Next::read()
        }
    }
}

impl Protocol for Echo {
    fn on_readable(&mut self, conn: &mut Upgraded<'_>) -> Next {
        let mut buf = [0u8; 8192];
        loop {
            match conn.read(&mut buf) {
                Ok(0) => {
                    self.closing = true;
                    return self.drain(conn);
                }
                Ok(n) => {
                    let text = &buf[..n];
                    if text == b"!tick" {
                        let control = self.control.clone();
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_millis(20));
                            let _ = control.ready(Next::write());
                        });
                        self.out.extend_from_slice(b"tock");
                        return Next::wait();
                    }
                    if text == b"!quiet" {
                        self.quiet = true;
                        return Next::read().timeout(Duration::from_millis(100));
                    }
                    self.quiet = false;
                    self.out.extend_from_slice(text);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return self.drain(conn),
                Err(_) => return Next::remove(),
            }
        }
    }

    fn on_writable(&mut self, conn: &mut Upgraded<'_>) -> Next {
        self.drain(conn)
    }

    fn on_error(&mut self, error: Error) -> Next {
        match error {
            Error::Timeout => {
                self.quiet = false;
                self.out.extend_from_slice(b"timeout");
            }
            Error::ShuttingDown => {
                self.out.extend_from_slice(b"bye");
                self.closing = true;
            }
            _ => return Next::remove(),
        }
        Next::write()
    }
}

/// Answers 101 to `GET /upgrade`, or 200 "plain" otherwise (and 101 on
/// `/force-101` whatever the request offered). `/upgrade-later` waits for
/// a `Control` (kept in `LATER`) before answering 101.
struct Upgrader {
    control: Control,
    upgrade: bool,
}

static LATER: std::sync::Mutex<Vec<Control>> = std::sync::Mutex::new(Vec::new());

impl Handler for Upgrader {
    fn on_request(&mut self, request: Request) -> Next {
        self.upgrade = matches!(request.path(), "/upgrade" | "/force-101" | "/upgrade-later");
        if request.path() == "/upgrade-later" {
            LATER.lock().unwrap().push(self.control.clone());
            return Next::wait();
        }
        Next::write()
    }
    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        if self.upgrade {
            response.set_status(StatusCode::SWITCHING_PROTOCOLS);
            response.headers_mut().set("upgrade", "echo").unwrap();
            response.headers_mut().set("connection", "upgrade").unwrap();
        } else {
            response.set_content_length(5);
            return Next::write();
        }
        Next::end()
    }
    fn on_response_writable(&mut self, encoder: &mut turnstile_core::Encoder<'_>) -> Next {
        let _ = encoder.write(b"plain");
        Next::end()
    }
    fn on_upgrade(&mut self) -> Option<Box<dyn Protocol>> {
        Some(Box::new(Echo {
            control: self.control.clone(),
            out: Vec::new(),
            closing: false,
            quiet: false,
        }))
    }
}

fn upgrader(control: Control) -> Upgrader {
    Upgrader {
        control,
        upgrade: false,
    }
}

const UPGRADE: &[u8] =
    b"GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";

/// Reads until `want` has arrived (or fails after 5 s).
fn read_until<S: Read>(stream: &mut S, got: &mut Vec<u8>, want: &[u8]) {
    let give_up = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    while !got.windows(want.len()).any(|w| w == want) {
        assert!(Instant::now() < give_up, "never got {want:?} in {got:?}");
        match stream.read(&mut buf) {
            Ok(0) => panic!(
                "closed before {want:?}; got {:?}",
                String::from_utf8_lossy(got)
            ),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// The upgrade conversation every transport must hold.
fn converse<S: Read + Write>(mut stream: S) {
    // The first protocol bytes ride with the head, in one write.
    let mut first = UPGRADE.to_vec();
    first.extend_from_slice(b"early");
    stream.write_all(&first).unwrap();
    let mut got = Vec::new();
    read_until(&mut stream, &mut got, b"early");
    let text = String::from_utf8_lossy(&got).to_lowercase();
    assert!(
        text.starts_with("http/1.1 101 switching protocols\r\n"),
        "{text}"
    );
    assert!(text.contains("upgrade: echo\r\n"), "{text}");
    assert!(text.contains("connection: upgrade\r\n"), "{text}");
    assert!(!text.contains("content-length"), "{text}");
    assert!(!text.contains("connection: close"), "{text}");
    assert!(text.ends_with("\r\n\r\nearly"), "{text}");
    // Echo, a Control wake-up, and a timeout.
    for (send, want) in [
        (&b"ping"[..], &b"ping"[..]),
        (b"!tick", b"tock"),
        (b"!quiet", b"timeout"),
        (b"after", b"after"),
    ] {
        stream.write_all(send).unwrap();
        let mut got = Vec::new();
        read_until(&mut stream, &mut got, want);
        assert_eq!(got, want);
    }
}

fn serve_upgrader() -> ServerHandle {
    Server::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .serve(upgrader)
        .unwrap()
}

#[test]
fn a_protocol_takes_over_after_101_on_tcp() {
    let server = serve_upgrader();
    let mut stream = connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    converse(&mut stream);
    // The client closes its side: the protocol ends, the server closes.
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn a_protocol_takes_over_after_101_on_tls() {
    let ca = TestCa::new("upgrade");
    let cert = ca.issue("server", &["localhost"]);
    let server = Server::bind_tls("127.0.0.1:0", cert.server_config())
        .unwrap()
        .workers(1)
        .serve(upgrader)
        .unwrap();
    let stream = tls_connect(server.local_addr(), "localhost", ca.client_config()).unwrap();
    converse(stream);
}

#[test]
fn a_101_the_client_did_not_offer_is_refused_with_500() {
    let server = serve_upgrader();
    for request in [
        &b"GET /force-101 HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /force-101 HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
    ] {
        let mut stream = connect(server.local_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 500 "), "{text}");
        assert!(!text.contains(" 101 "), "{text}");
    }
    // Plain requests on the same server are untouched.
    let mut stream = connect(server.local_addr()).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200 OK") && out.ends_with("plain"),
        "{out}"
    );
}

#[test]
fn a_graceful_shutdown_tells_the_protocol_which_says_goodbye() {
    let server = serve_upgrader();
    let mut stream = connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(UPGRADE).unwrap();
    let mut got = Vec::new();
    read_until(&mut stream, &mut got, b"\r\n\r\n");
    let started = Instant::now();
    server.shutdown(Duration::from_secs(10));
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"bye");
    server.join();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the server waited for its grace deadline instead of the protocol"
    );
}

#[test]
fn a_framework_raw_route_can_upgrade() {
    let server = App::new()
        .get("/", || "framework")
        .raw("/upgrade", upgrader)
        .serve("127.0.0.1:0")
        .unwrap();
    let addr: SocketAddr = server.local_addr();
    let mut stream = connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    converse(&mut stream);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut plain = connect(addr).unwrap();
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        let _ = plain.read_to_string(&mut out);
        let _ = tx.send(out);
    });
    let out = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(out.ends_with("framework"), "{out}");
}

#[test]
fn an_upgrade_that_completes_during_a_shutdown_hears_of_it_at_once() {
    let server = serve_upgrader();
    let mut stream = connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /upgrade-later HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
        .unwrap();
    let give_up = Instant::now() + Duration::from_secs(5);
    let control = loop {
        if let Some(control) = LATER.lock().unwrap().pop() {
            break control;
        }
        assert!(Instant::now() < give_up, "the request never waited");
        std::thread::sleep(Duration::from_millis(5));
    };
    let started = Instant::now();
    server.shutdown(Duration::from_secs(10));
    // The drain has begun; only now does the handler answer 101.
    std::thread::sleep(Duration::from_millis(50));
    control.ready(Next::write()).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 101 "), "{text}");
    assert!(text.ends_with("\r\n\r\nbye"), "{text}");
    server.join();
    assert!(started.elapsed() < Duration::from_secs(5));
}
