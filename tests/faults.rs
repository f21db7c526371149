//! Faults: handlers and middleware that panic at every stage, graceful
//! shutdown under load, and a worker at its file-descriptor limit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use turnstile::extract::{FromRequestParts, Rejection, RequestParts};
use turnstile::middleware::{Before, Middleware};
use turnstile::{App, Defer, IntoResponse};
use turnstile_core::{
    Control, Decoder, Encoder, Error, Handler, Next, Outcome, Request, ResponseHead, Server,
};
use turnstile_suite::program::{example_path, Program};
use turnstile_suite::raw::{connect, exchange, ResponseReader};

/// A raw handler that panics in the callback its path names.
struct Panicker {
    stage: String,
    writes: usize,
}

impl Panicker {
    fn at(&self, stage: &str) {
        if self.stage == stage {
            panic!("panic in {stage}, on purpose");
        }
    }
}

impl Handler for Panicker {
    fn on_request(&mut self, request: Request) -> Next {
        self.stage = request.path().trim_start_matches('/').to_owned();
        self.at("request");
        match self.stage.as_str() {
            "readable" | "bad-body-done" => Next::read(),
            "error" => Next::wait().timeout(Duration::from_millis(10)),
            _ => Next::write(),
        }
    }

    fn on_request_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let mut buf = [0u8; 64];
        let _ = decoder.read(&mut buf);
        self.at("readable");
        Next::write()
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        self.at("response");
        // The late panic comes once well over the write buffer's high-water
        // mark has gone out.
        let length = if self.stage == "writable-later" {
            1_000_000
        } else {
            10_000
        };
        response.set_content_length(length);
        Next::write()
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        self.writes += 1;
        self.at("writable");
        if self.writes == 2 {
            self.at("writable-buffered");
        }
        if self.writes > 100 {
            self.at("writable-later");
        }
        let piece = [b'x'; 1000];
        loop {
            match encoder.write(&piece) {
                Ok(_) if encoder.remaining() == Some(0) => return Next::end(),
                Ok(_) if self.stage.starts_with("writable-") => return Next::write(),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Next::write(),
                Err(_) => return Next::remove(),
            }
        }
    }

    fn on_error(&mut self, _: Error) -> Next {
        self.at("error");
        if self.stage == "bad-body-done" {
            return Next::remove();
        }
        Next::write()
    }

    fn on_done(&mut self, _: Outcome) {
        self.at("done");
        self.at("bad-body-done");
    }
}

fn panicker(_: Control) -> Panicker {
    Panicker {
        stage: String::new(),
        writes: 0,
    }
}

/// What a client saw: a complete response, or bytes cut short by a close.
fn outcome(addr: SocketAddr, request: &[u8]) -> Result<(u16, usize), Vec<u8>> {
    let mut stream = connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut reader = ResponseReader::new(stream);
    match reader.read_response(false) {
        Ok(res) => Ok((res.status, res.body.len())),
        Err(_) => {
            let mut rest = Vec::new();
            let _ = reader.get_mut().read_to_end(&mut rest);
            Err(rest)
        }
    }
}

#[test]
fn raw_handler_panics_at_every_stage() {
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .serve(panicker)
        .unwrap();
    let addr = server.local_addr();
    // `writable-buffered` panics after writing body bytes that are still in
    // the buffer: they can still be dropped for a 500.
    for stage in [
        "request",
        "readable",
        "response",
        "writable",
        "writable-buffered",
        "error",
    ] {
        let request = format!("POST /{stage} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
        // Nothing of the response was sent yet: a clean 500.
        assert_eq!(
            outcome(addr, request.as_bytes()),
            Ok((500, "internal server error\n".len())),
            "{stage}"
        );
    }
    // Part of the body is out: the only honest answer is to cut the
    // connection, so the client sees a truncated body, never a whole one.
    let torn = outcome(addr, b"GET /writable-later HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        torn.is_err(),
        "a truncated response looked complete: {torn:?}"
    );
    // After the response is complete, a panic in on_done loses nothing.
    assert_eq!(
        outcome(addr, b"GET /done HTTP/1.1\r\nHost: x\r\n\r\n"),
        Ok((200, 10_000))
    );
    // A malformed body ends the exchange on the engine's own path (the
    // handler gives up, the engine answers 400): a panic in on_done there
    // costs this request only, not the worker and its other connections.
    let bystander = connect(addr).unwrap();
    assert_eq!(
        outcome(
            addr,
            b"POST /bad-body-done HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        ),
        Ok((400, "invalid chunk size\n".len()))
    );
    let mut bystander = ResponseReader::new(bystander);
    bystander
        .get_mut()
        .write_all(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(bystander.read_response(false).unwrap().status, 200);
    // The one worker survived all of it.
    assert_eq!(
        outcome(addr, b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n"),
        Ok((200, 10_000))
    );
    server.shutdown(Duration::from_secs(1));
    server.join();
}

/// Middleware that panics in the step its request asks for.
struct PanicStep;

impl Middleware for PanicStep {
    fn before(&self, parts: &mut RequestParts) -> Before {
        if parts.path() == "/before" {
            panic!("middleware before, on purpose");
        }
        Before::Continue
    }

    fn after(&self, parts: &RequestParts, _: &mut turnstile::Response) {
        if parts.path() == "/after" {
            panic!("middleware after, on purpose");
        }
    }
}

struct PanickyExtractor;

impl FromRequestParts for PanickyExtractor {
    fn from_request_parts(_: &mut RequestParts) -> Result<Self, Rejection> {
        panic!("extractor, on purpose")
    }
}

struct PanickyReply;

impl IntoResponse for PanickyReply {
    fn into_response(self) -> turnstile::Response {
        panic!("into_response, on purpose")
    }
}

#[test]
fn framework_panics_at_every_stage_answer_500() {
    let app = App::new()
        .wrap(PanicStep)
        .get("/before", || "never")
        .get("/after", || "never")
        .get("/extractor", |_: PanickyExtractor| "never")
        .get("/handler", || -> &'static str {
            panic!("handler, on purpose")
        })
        .get("/reply", || PanickyReply)
        .get("/job", |defer: Defer| {
            defer.spawn(|| -> &'static str { panic!("pool job, on purpose") })
        })
        .get("/thread", |defer: Defer| {
            let later = defer.later();
            std::thread::spawn(move || {
                let _holds = defer;
                panic!("thread holding the Defer, on purpose");
            });
            later
        })
        .get("/ok", || "ok");
    let server = app
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap();
    let addr = server.local_addr();
    for path in [
        "/before",
        "/after",
        "/extractor",
        "/handler",
        "/reply",
        "/job",
        "/thread",
    ] {
        let res = exchange(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{path}: no answer: {e}"));
        assert_eq!(res.status, 500, "{path}");
        let ok = exchange(addr, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(ok.text(), "ok", "after {path}");
    }
    server.shutdown(Duration::from_secs(1));
    server.join();
}

/// A handler that answers after `delay`, from another thread.
struct Slow {
    control: Control,
    started: Arc<AtomicUsize>,
}

impl Handler for Slow {
    fn on_request(&mut self, request: Request) -> Next {
        if request.path() != "/slow" {
            return Next::write();
        }
        self.started.fetch_add(1, Ordering::SeqCst);
        let control = self.control.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let _ = control.ready(Next::write());
        });
        Next::wait()
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        response.set_content_length(2);
        Next::write()
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        match encoder.write_all(b"ok") {
            Ok(_) => Next::end(),
            Err(_) => Next::remove(),
        }
    }
}

#[test]
fn graceful_shutdown_under_load_answers_in_flight_and_refuses_cleanly() {
    let started = Arc::new(AtomicUsize::new(0));
    let counter = started.clone();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .workers(2)
        .serve(move |control| Slow {
            control,
            started: counter.clone(),
        })
        .unwrap();
    let addr = server.local_addr();

    // Slow requests in flight when the shutdown starts.
    const IN_FLIGHT: usize = 24;
    let slow: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
                ResponseReader::new(s).read_response(false)
            })
        })
        .collect();
    // Hammering keep-alive clients, pipelining bursts of four.
    let stop = Arc::new(AtomicBool::new(false));
    let partial = Arc::new(Mutex::new(Vec::new()));
    let answered = Arc::new(AtomicUsize::new(0));
    let hammers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, partial, answered) = (stop.clone(), partial.clone(), answered.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let Ok(mut s) = TcpStream::connect(addr) else {
                        continue; // refused: the listener is gone
                    };
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let burst = b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n".repeat(4);
                    if s.write_all(&burst).is_err() {
                        continue;
                    }
                    let mut reader = ResponseReader::new(s);
                    for _ in 0..4 {
                        match reader.read_response(false) {
                            Ok(res) if res.status == 200 && res.text() == "ok" => {
                                answered.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(res) => partial.lock().unwrap().push(format!("{res:?}")),
                            Err(_) => {
                                // Closed: it must be between responses.
                                let mut rest = Vec::new();
                                let _ = reader.get_mut().read_to_end(&mut rest);
                                if !rest.is_empty() {
                                    partial
                                        .lock()
                                        .unwrap()
                                        .push(String::from_utf8_lossy(&rest).into_owned());
                                }
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(10);
    while started.load(Ordering::SeqCst) < IN_FLIGHT || answered.load(Ordering::Relaxed) < 200 {
        assert!(Instant::now() < deadline, "load never started");
        std::thread::yield_now();
    }
    server.shutdown(Duration::from_secs(5));
    // Every slow request that was in flight is answered in full.
    for client in slow {
        let res = client.join().unwrap().expect("in-flight request answered");
        assert_eq!((res.status, res.text().as_str()), (200, "ok"));
        assert_eq!(res.header("connection"), Some("close"));
    }
    stop.store(true, Ordering::Relaxed);
    for hammer in hammers {
        hammer.join().unwrap();
    }
    let partial = partial.lock().unwrap();
    assert!(
        partial.is_empty(),
        "partial answers at shutdown: {partial:?}"
    );
    server.join();
    // The listener is closed: a new connection is refused.
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn a_worker_at_its_descriptor_limit_keeps_serving_and_recovers() {
    // The hello example with 40 descriptors: what it holds at start plus
    // a few dozen connections.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 40 && exec \"$0\"")
        .arg(example_path("hello"))
        .env("WORKERS", "1");
    let hello = Program::spawn(command);
    let addr = hello.addr();
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    // Open far more connections than descriptors; the kernel's backlog
    // holds the ones the server cannot accept.
    let mut held = Vec::new();
    for _ in 0..60 {
        held.push(TcpStream::connect(addr).unwrap());
    }
    // The ones it accepted are served; the rest wait. The kernel hands
    // connections over in order, so after the first that waits, all do.
    let mut served = Vec::new();
    let mut waiting = Vec::new();
    for mut s in held {
        s.write_all(request).unwrap();
        if !waiting.is_empty() {
            waiting.push(ResponseReader::new(s));
            continue;
        }
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut reader = ResponseReader::new(s);
        match reader.read_response(false) {
            Ok(res) => {
                assert_eq!(res.text(), "Hello, World!");
                served.push(reader);
            }
            Err(_) => waiting.push(reader),
        }
    }
    assert!(!served.is_empty(), "nothing was served");
    assert!(!waiting.is_empty(), "the limit was never reached");

    // At the limit, the worker does not spin on accept.
    let before = hello.cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let spent = hello.cpu_ticks() - before;
    assert!(
        spent < 30,
        "the server used {spent} ticks in a second at the limit"
    );

    // The accepted connections keep working.
    for reader in served.iter_mut().take(5) {
        reader.get_mut().write_all(request).unwrap();
        assert_eq!(reader.read_response(false).unwrap().text(), "Hello, World!");
    }
    // Descriptors come free: the waiting connections are taken in and
    // answered (their requests were sent long ago).
    let waiting_count = waiting.len();
    drop(served);
    for mut reader in waiting {
        reader
            .get_mut()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let res = reader
            .read_response(false)
            .expect("a waiting connection is served");
        assert_eq!(res.text(), "Hello, World!");
    }
    assert!(waiting_count > 0);
}
