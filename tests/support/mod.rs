//! A probe server for the black-box tests: raw `Handler`s with one route
//! per behaviour under test.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use turnstile_core::{
    Control, Decoder, Encoder, Error, Handler, Method, Next, Request, ResponseHead, Server,
    ServerHandle, StatusCode,
};

/// Controls of `/wait` requests, for the test to ready from its thread.
pub type Waiting = Arc<Mutex<Vec<Control>>>;

pub struct Probe {
    control: Control,
    waiting: Waiting,
    route: &'static str,
    status: StatusCode,
    body: Vec<u8>,
    written: usize,
    chunks: Vec<&'static [u8]>,
    read_buf: Vec<u8>,
    trailer: Option<String>,
}

impl Probe {
    fn text(&mut self, status: StatusCode, text: &str) -> Next {
        self.status = status;
        self.body = text.as_bytes().to_vec();
        Next::write()
    }
}

impl Handler for Probe {
    fn on_wake(&mut self) -> Next {
        if self.route == "wait" {
            self.route = "wait-wake";
            return Next::write();
        }
        Next::wait()
    }

    fn on_request(&mut self, request: Request) -> Next {
        let path = request.path().to_owned();
        match (request.method(), path.as_str()) {
            (Method::Get | Method::Head, "/hello") => {
                self.route = "hello";
                self.text(StatusCode::OK, "Hello, World!")
            }
            (Method::Get | Method::Head, "/big-chunked") => {
                // Pieces that leave the write buffer a few bytes short of
                // full, where chunk framing must still fit.
                self.route = "big-chunked";
                self.body = (0..300_000u32).map(|i| (i % 251) as u8).collect();
                Next::write()
            }
            (Method::Get | Method::Head, "/chunked") => {
                self.route = "chunked";
                self.chunks = vec![b"abc", b"def"];
                Next::write()
            }
            (_, "/echo") => {
                self.route = "echo";
                Next::read()
            }
            (_, "/ignore-body") => {
                self.route = "ignore";
                self.text(StatusCode::OK, "ignored")
            }
            (_, "/no-content") => {
                self.route = "no-content";
                self.status = StatusCode::NO_CONTENT;
                Next::end()
            }
            (_, "/wait") => {
                self.route = "wait";
                self.waiting.lock().unwrap().push(self.control.clone());
                Next::wait()
            }
            (_, "/wait-timeout") => {
                self.route = "wait-timeout";
                Next::wait().timeout(Duration::from_millis(100))
            }
            (_, "/remove") => Next::remove(),
            (_, "/panic") => panic!("a handler bug, on purpose"),
            (_, "/panic-late") => {
                self.route = "panic-late";
                self.text(StatusCode::OK, "never finished")
            }
            (_, "/path") => {
                let text = format!(
                    "{} {} {:?} {:?}",
                    request.method(),
                    request.path(),
                    request.query(),
                    request.version()
                );
                self.text(StatusCode::OK, &text)
            }
            _ => self.text(StatusCode::NOT_FOUND, "not found"),
        }
    }

    fn on_request_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let mut chunk = [0u8; 4096];
        loop {
            match decoder.read(&mut chunk) {
                Ok(0) => {
                    self.trailer = decoder.trailers().get("x-trailer").map(str::to_owned);
                    self.body = std::mem::take(&mut self.read_buf);
                    return Next::write();
                }
                Ok(n) => self.read_buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::read(),
                Err(_) => return Next::remove(),
            }
        }
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        response.set_status(self.status);
        if let Some(t) = &self.trailer {
            response.headers_mut().set("x-got-trailer", t).unwrap();
        }
        if self.route == "chunked" || self.route == "big-chunked" {
            return Next::write();
        }
        if self.route == "wait" {
            self.body = b"woken".to_vec();
        }
        if self.route == "wait-wake" {
            self.body = b"asked by on_wake".to_vec();
        }
        if self.route == "wait-timeout" {
            response.set_status(StatusCode::GATEWAY_TIMEOUT);
            self.body = b"timed out".to_vec();
        }
        response.set_content_length(self.body.len() as u64);
        Next::write()
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        if self.route == "panic-late" {
            panic!("a handler bug after the head, on purpose");
        }
        if self.route == "chunked" {
            while let Some(chunk) = self.chunks.first_mut() {
                match encoder.write(chunk) {
                    Ok(n) if n == chunk.len() => {
                        self.chunks.remove(0);
                    }
                    Ok(n) => *chunk = &chunk[n..],
                    Err(_) => return Next::write(),
                }
            }
            return Next::end();
        }
        let piece = if self.route == "big-chunked" {
            7000
        } else {
            usize::MAX
        };
        while self.written < self.body.len() {
            let end = self.body.len().min(self.written.saturating_add(piece));
            match encoder.write(&self.body[self.written..end]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::write(),
                Err(_) => return Next::remove(),
            }
        }
        Next::end()
    }

    fn on_error(&mut self, error: Error) -> Next {
        match error {
            Error::Timeout if self.route == "wait-timeout" => Next::write(),
            _ => Next::remove(),
        }
    }
}

/// A probe server on a free loopback port.
pub fn start(configure: impl FnOnce(Server) -> Server) -> (ServerHandle, Waiting) {
    serve_probe(configure(Server::bind("127.0.0.1:0").unwrap().workers(2)))
}

/// The probe on a server set up by the caller (its listeners, TLS).
pub fn serve_probe(server: Server) -> (ServerHandle, Waiting) {
    let waiting: Waiting = Arc::default();
    let shared = waiting.clone();
    let handle = server
        .serve(move |control: Control| Probe {
            control,
            waiting: shared.clone(),
            route: "",
            status: StatusCode::OK,
            body: Vec::new(),
            written: 0,
            chunks: Vec::new(),
            read_buf: Vec::new(),
            trailer: None,
        })
        .unwrap();
    (handle, waiting)
}

pub fn addr(handle: &ServerHandle) -> SocketAddr {
    handle.local_addr()
}

/// Sends raw bytes and reads everything until the server closes.
pub fn send_and_read_all(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = turnstile_suite::raw::connect(addr).unwrap();
    stream.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}
