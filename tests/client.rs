//! The async client against our own server, a raw-socket peer sending each
//! malformed response shape, and Python's http.server.

mod support;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use turnstile_core::client::{Client, Handler, RequestHead, ResponseHead};
use turnstile_core::header::Headers;
use turnstile_core::{Control, Decoder, Encoder, Error, Method, Next};

type Outcome = Result<(u16, Headers, Vec<u8>), String>;

/// Sends a request and collects the whole response, or the error.
struct Collect {
    method: Method,
    body: Option<Vec<u8>>,
    chunked: bool,
    sent: usize,
    head: Option<(u16, Headers)>,
    received: Vec<u8>,
    done: mpsc::Sender<Outcome>,
}

impl Handler for Collect {
    fn on_request(&mut self, request: &mut RequestHead) -> Next {
        request.set_method(self.method);
        match &self.body {
            Some(body) => {
                if !self.chunked {
                    request.set_content_length(body.len() as u64);
                }
                Next::write()
            }
            None => Next::end(),
        }
    }

    fn on_request_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        let body = self.body.as_deref().unwrap_or_default();
        while self.sent < body.len() {
            // Small pieces, so chunked bodies have many chunks.
            let end = (self.sent + 7000).min(body.len());
            match encoder.write(&body[self.sent..end]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::write(),
                Err(e) => {
                    let _ = self.done.send(Err(e.to_string()));
                    return Next::remove();
                }
            }
        }
        Next::end()
    }

    fn on_response(&mut self, response: ResponseHead) -> Next {
        self.head = Some((response.status().as_u16(), response.headers().clone()));
        Next::read()
    }

    fn on_response_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let mut chunk = [0u8; 8192];
        loop {
            match decoder.read(&mut chunk) {
                Ok(0) => {
                    let (status, headers) = self.head.take().unwrap_or_default();
                    let _ =
                        self.done
                            .send(Ok((status, headers, std::mem::take(&mut self.received))));
                    return Next::end();
                }
                Ok(n) => self.received.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::read(),
                Err(e) => {
                    let _ = self.done.send(Err(format!("body: {e}")));
                    return Next::remove();
                }
            }
        }
    }

    fn on_error(&mut self, error: Error) -> Next {
        let _ = self.done.send(Err(error.to_string()));
        Next::remove()
    }
}

fn fetch_with(
    client: &Client,
    method: Method,
    url: &str,
    body: Option<Vec<u8>>,
    chunked: bool,
) -> Outcome {
    let (done, result) = mpsc::channel();
    client
        .request(url, move |_: Control| Collect {
            method,
            body,
            chunked,
            sent: 0,
            head: None,
            received: Vec::new(),
            done,
        })
        .map_err(|e| e.to_string())?;
    result
        .recv_timeout(Duration::from_secs(20))
        .map_err(|_| "no outcome in 20 s (hang)".to_owned())?
}

fn get(client: &Client, url: &str) -> Outcome {
    fetch_with(client, Method::Get, url, None, false)
}

#[test]
fn against_our_own_server() {
    let (server, _) = support::start(|s| s);
    let base = format!("http://{}", server.local_addr());
    let client = Client::new().unwrap();
    let (status, headers, body) = get(&client, &format!("{base}/hello")).unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"Hello, World!"[..]));
    assert_eq!(headers.get("content-length"), Some("13"));

    let (_, headers, body) = get(&client, &format!("{base}/chunked")).unwrap();
    assert_eq!(headers.get("transfer-encoding"), Some("chunked"));
    assert_eq!(body, b"abcdef");

    let (status, _, body) =
        fetch_with(&client, Method::Head, &format!("{base}/hello"), None, false).unwrap();
    assert_eq!((status, body.len()), (200, 0));
    let (status, _, body) = get(&client, &format!("{base}/no-content")).unwrap();
    assert_eq!((status, body.len()), (204, 0));

    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    for chunked in [false, true] {
        let (status, _, body) = fetch_with(
            &client,
            Method::Post,
            &format!("{base}/echo"),
            Some(payload.clone()),
            chunked,
        )
        .unwrap();
        assert_eq!(status, 200);
        assert!(body == payload, "echo differs (chunked {chunked})");
    }
    let (status, _, _) = get(&client, &format!("{base}/nothing-here")).unwrap();
    assert_eq!(status, 404);
}

/// A peer that answers every request on a connection with `response` and
/// counts connections.
fn keep_alive_peer(response: &'static [u8]) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    // Read one head; no request here has a body.
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    if reader.get_mut().write_all(response).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, connections)
}

#[test]
fn keep_alive_connections_are_reused() {
    let (addr, connections) = keep_alive_peer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let client = Client::new().unwrap();
    for _ in 0..10 {
        let (status, _, body) = get(&client, &format!("http://{addr}/")).unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one connection for ten requests"
    );

    // No reuse when the pool is off.
    let (addr, connections) = keep_alive_peer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let client = Client::builder().max_idle_per_host(0).build().unwrap();
    for _ in 0..3 {
        get(&client, &format!("http://{addr}/")).unwrap();
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

/// A peer that reads one request head and sends `response`, then closes
/// (or keeps the connection open without a word when `hold` is set).
fn one_shot_peer(response: Vec<u8>, hold: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let _ = stream.write_all(&response);
        if hold {
            std::thread::sleep(Duration::from_secs(3));
        }
    });
    addr
}

#[test]
fn malformed_responses_are_errors_not_hangs() {
    let client = Client::builder()
        .read_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let big_head = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bad status line",
            b"HTTP/1.1 OK\r\n\r\n".to_vec(),
            "malformed",
        ),
        ("not HTTP", b"SSH-2.0-OpenSSH\r\n\r\n".to_vec(), "malformed"),
        (
            "both CL and TE",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            "both",
        ),
        (
            "differing CL",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".to_vec(),
            "Content-Length",
        ),
        ("oversized head", big_head.into_bytes(), "too large"),
        (
            "truncated body",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec(),
            "body",
        ),
        (
            "truncated chunked",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab".to_vec(),
            "body",
        ),
        (
            "bad chunk size",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n".to_vec(),
            "body",
        ),
        (
            "head cut short",
            b"HTTP/1.1 200 OK\r\nContent-Le".to_vec(),
            "cut short",
        ),
        ("closed without a word", Vec::new(), "closed"),
    ];
    for (name, response, expect) in cases {
        let addr = one_shot_peer(response, false);
        let started = Instant::now();
        let outcome = get(&client, &format!("http://{addr}/"));
        let error = outcome.err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(error.contains(expect), "{name}: {error}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
    // A peer that never answers runs into the read timeout.
    let addr = one_shot_peer(Vec::new(), true);
    let error = get(&client, &format!("http://{addr}/")).unwrap_err();
    assert!(error.contains("timed out"), "{error}");
    // A refused connection is reported as such.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let error = get(&client, &format!("http://{closed}/")).unwrap_err();
    assert!(error.to_lowercase().contains("refused"), "{error}");
}

#[test]
fn close_delimited_and_http10_responses() {
    let client = Client::new().unwrap();
    let addr = one_shot_peer(b"HTTP/1.0 200 OK\r\n\r\nuntil the end".to_vec(), false);
    let (status, _, body) = get(&client, &format!("http://{addr}/")).unwrap();
    assert_eq!((status, body.as_slice()), (200, &b"until the end"[..]));
    let addr = one_shot_peer(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx".to_vec(),
        false,
    );
    let (status, _, body) = get(&client, &format!("http://{addr}/")).unwrap();
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"x"[..]),
        "interim answers are skipped"
    );
}

#[test]
fn against_python_http_server() {
    let dir = std::env::temp_dir().join(format!("turnstile-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(dir.join("data.bin"), &data).unwrap();
    let mut python = Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(python.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "Serving HTTP on 127.0.0.1 port 40000 (http://127.0.0.1:40000/) ..."
    let port: u16 = line
        .split_whitespace()
        .skip_while(|w| *w != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let client = Client::new().unwrap();
    let outcome = get(&client, &format!("http://localhost:{port}/data.bin"));
    let missing = get(&client, &format!("http://127.0.0.1:{port}/missing.bin"));
    let _ = python.kill();
    let _ = python.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let (status, headers, body) = outcome.unwrap();
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-length"), Some("200000"));
    assert!(body == data, "file differs");
    assert_eq!(missing.unwrap().0, 404);
}

#[test]
fn expect_continue_from_the_client_side() {
    /// Sends its body only after the server's `100 Continue`.
    struct Careful {
        done: mpsc::Sender<Outcome>,
        body: Vec<u8>,
    }
    impl Handler for Careful {
        fn on_request(&mut self, request: &mut RequestHead) -> Next {
            request.set_method(Method::Post);
            request.set_content_length(5);
            request.headers_mut().set("expect", "100-continue").unwrap();
            Next::write()
        }
        fn on_request_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
            match encoder.write(b"hello") {
                Ok(5) => Next::end(),
                _ => Next::remove(),
            }
        }
        fn on_response(&mut self, _: ResponseHead) -> Next {
            Next::read()
        }
        fn on_response_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
            let mut chunk = [0u8; 64];
            loop {
                match decoder.read(&mut chunk) {
                    Ok(0) => {
                        let _ = self.done.send(Ok((
                            200,
                            Headers::new(),
                            std::mem::take(&mut self.body),
                        )));
                        return Next::end();
                    }
                    Ok(n) => self.body.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::read(),
                    Err(e) => {
                        let _ = self.done.send(Err(e.to_string()));
                        return Next::remove();
                    }
                }
            }
        }
    }
    let (server, _) = support::start(|s| s);
    let client = Client::new().unwrap();
    let (done, result) = mpsc::channel();
    let started = Instant::now();
    client
        .request(&format!("http://{}/echo", server.local_addr()), move |_| {
            Careful {
                done,
                body: Vec::new(),
            }
        })
        .unwrap();
    let (_, _, body) = result
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(body, b"hello");
    // Our server answers 100 at once, so the client never sat out its
    // one-second fallback.
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn controls_drive_client_requests_too() {
    /// Waits before sending its body until another thread says so.
    struct Later {
        control: Control,
        started: bool,
        done: mpsc::Sender<u16>,
    }
    impl Handler for Later {
        fn on_request(&mut self, request: &mut RequestHead) -> Next {
            request.set_method(Method::Post);
            request.set_content_length(5);
            Next::write()
        }
        fn on_request_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
            if !self.started {
                self.started = true;
                let control = self.control.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(30));
                    control.ready(Next::write()).unwrap();
                });
                return Next::wait();
            }
            match encoder.write(b"hello") {
                Ok(5) => Next::end(),
                _ => Next::remove(),
            }
        }
        fn on_response(&mut self, response: ResponseHead) -> Next {
            let _ = self.done.send(response.status().as_u16());
            Next::end()
        }
    }
    let (server, _) = support::start(|s| s);
    let client = Client::new().unwrap();
    let (done, result) = mpsc::channel();
    client
        .request(
            &format!("http://{}/echo", server.local_addr()),
            move |control| Later {
                control,
                started: false,
                done,
            },
        )
        .unwrap();
    assert_eq!(result.recv_timeout(Duration::from_secs(10)).unwrap(), 200);
    // Used here so the peer helper's TcpStream import counts.
    let _ = TcpStream::connect(server.local_addr());
}

#[test]
fn request_and_response_bodies_of_many_sizes() {
    let (server, _) = support::start(|s| s);
    let base = format!("http://{}", server.local_addr());
    let client = Client::builder()
        .read_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for size in [1usize, 7000, 65_500, 70_000, 300_000] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        for chunked in [false, true] {
            let (status, _, body) = fetch_with(
                &client,
                Method::Post,
                &format!("{base}/echo"),
                Some(payload.clone()),
                chunked,
            )
            .unwrap_or_else(|e| panic!("{size} bytes, chunked {chunked}: {e}"));
            assert_eq!(status, 200);
            assert!(
                body == payload,
                "{size} bytes, chunked {chunked}: body differs"
            );
        }
    }
    let (_, headers, body) = get(&client, &format!("{base}/big-chunked")).unwrap();
    assert_eq!(headers.get("transfer-encoding"), Some("chunked"));
    assert_eq!(body.len(), 300_000);
    assert!(body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
}
