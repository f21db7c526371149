//! The checks behind the fuzz targets, one function per target.
//!
//! Each takes the fuzzer's bytes, drives one part of Turnstile with them and
//! panics when a property fails, so libFuzzer reports it. The same file is
//! compiled into the suite's `tests/fuzz_regressions.rs`, which replays the
//! committed seeds and every crash ever found (`fuzz/seeds`,
//! `fuzz/regressions`) on stable Rust in CI.

use std::sync::OnceLock;
use std::time::Duration;

use turnstile_core::fuzzing::{self, HeadLimits};
use turnstile_core::local::LocalConnection;
use turnstile_core::tls::TlsConfig;
use turnstile_core::{Control, Decoder, Encoder, Handler, Next, Request, ResponseHead, StatusCode};

/// Splits the fuzzer's bytes into a list of piece lengths (from the first
/// bytes) and the payload.
fn split_plan(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let count = (count % 16) as usize;
    let count = count.min(rest.len());
    let pieces = rest[..count].iter().map(|&b| b as usize + 1).collect();
    (pieces, &rest[count..])
}

/// `request_head`: the server's head parser and its framing decisions.
pub fn request_head(data: &[u8]) {
    let Some((&mode, buf)) = data.split_first() else {
        return;
    };
    let limits = if mode & 1 == 0 {
        HeadLimits::default()
    } else {
        HeadLimits {
            max_head_bytes: 64 + (mode as usize) * 4,
            max_target_bytes: 16 + mode as usize,
            max_headers: (mode % 8) as usize,
        }
    };
    match fuzzing::parse_request(buf, &limits) {
        Ok(Some(head)) => {
            assert!(head.len <= buf.len(), "head longer than its input");
            assert!(head.len <= limits.max_head_bytes, "head over the limit");
            assert!(
                buf[..head.len].ends_with(b"\n\n") || buf[..head.len].ends_with(b"\n\r\n"),
                "head does not end at a blank line"
            );
            assert!(head.path.starts_with('/') || head.path == "*" || head.path.is_empty());
            // The decision may not depend on what follows the head.
            let again = fuzzing::parse_request(&buf[..head.len], &limits);
            assert_eq!(
                again,
                Ok(Some(head.clone())),
                "bytes after the head changed it"
            );
            // Any shorter prefix is either still incomplete or refused, never
            // a different complete head.
            for cut in [head.len - 1, head.len / 2] {
                if let Ok(Some(other)) = fuzzing::parse_request(&buf[..cut], &limits) {
                    panic!("prefix of {cut} bytes parsed as a head: {other:?}");
                }
            }
        }
        Ok(None) => {
            assert!(
                buf.len() <= limits.max_head_bytes,
                "waiting for more bytes past the head limit"
            );
        }
        Err((status, reason)) => {
            assert!(
                matches!(status, 400 | 414 | 417 | 431 | 501 | 505),
                "unexpected refusal {status} {reason}"
            );
            assert!(!reason.is_empty());
        }
    }
}

/// `chunked`: the chunked decoder fed in arbitrary pieces through arbitrary
/// room gives the same answer as in one piece.
pub fn chunked(data: &[u8]) {
    let Some((&room, data)) = data.split_first() else {
        return;
    };
    let (pieces, body) = split_plan(data);
    let whole = fuzzing::decode_chunked(body, &[], 64 * 1024);
    let split = fuzzing::decode_chunked(body, &pieces, room as usize + 1);
    assert_eq!(whole, split, "result depends on how the input was split");
    if let Ok(decoded) = &whole {
        assert!(decoded.consumed <= body.len());
        assert!(decoded.body.len() <= decoded.consumed);
        if decoded.complete {
            // Whatever follows the body is the next message: it must not
            // change this one.
            let alone = fuzzing::decode_chunked(&body[..decoded.consumed], &[], 64 * 1024);
            assert_eq!(
                alone.as_ref(),
                Ok(decoded),
                "trailing bytes changed the body"
            );
        }
    }
}

/// `response_head`: the client's response head parser.
pub fn response_head(data: &[u8]) {
    let Some((&mode, buf)) = data.split_first() else {
        return;
    };
    let head_request = mode & 1 == 1;
    match fuzzing::parse_response(buf, head_request) {
        Ok(Some(head)) => {
            assert!(head.len <= buf.len());
            assert!((100..=999).contains(&head.status), "status {}", head.status);
            let framings = [
                head.content_length.is_some(),
                head.chunked,
                head.until_close,
            ];
            assert_eq!(framings.iter().filter(|f| **f).count(), 1, "{head:?}");
            if head_request || head.status == 204 || head.status == 304 || head.status < 200 {
                assert_eq!(
                    head.content_length,
                    Some(0),
                    "bodiless response framed: {head:?}"
                );
            }
            if head.until_close {
                assert!(!head.keep_alive, "read-to-close body on a kept connection");
            }
            let again = fuzzing::parse_response(&buf[..head.len], head_request);
            assert_eq!(again, Ok(Some(head.clone())));
        }
        Ok(None) => assert!(buf.len() <= 16 * 1024),
        Err(reason) => assert!(!reason.is_empty()),
    }
}

/// `router`: patterns compiled and looked up. The input is lines: those
/// before an empty line are patterns, the rest paths.
pub fn router(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (patterns, paths) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut router = turnstile::router::Router::new();
    let mut inserted = Vec::new();
    for (i, pattern) in patterns.lines().take(64).enumerate() {
        if pattern.len() > 256 {
            continue;
        }
        if router.insert(pattern, i).is_ok() {
            inserted.push(pattern);
        }
    }
    assert_eq!(router.len(), inserted.len());
    let plain = |p: &str| {
        p.starts_with('/')
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
    };
    for pattern in &inserted {
        if plain(pattern) {
            let found = router.at(pattern);
            assert_eq!(
                found.as_ref().map(|m| m.pattern()),
                Some(*pattern),
                "a static route does not match its own path"
            );
        }
    }
    for path in paths.lines().take(64) {
        if let Some(found) = router.at(path) {
            assert!(
                inserted.contains(&found.pattern()),
                "matched a refused pattern"
            );
            for (name, _value) in found.params() {
                assert!(
                    found.pattern().contains(name),
                    "parameter {name} not in the pattern"
                );
            }
        }
    }
}

/// Feeds `input` to an in-memory connection in `pieces`, closes the input
/// and returns what the server wrote. Panics if the connection is still open
/// once the input is closed and the handler has nothing to wait for.
pub fn run_connection<F>(factory: F, pieces: &[usize], input: &[u8]) -> Vec<u8>
where
    F: turnstile_core::HandlerFactory,
{
    let (mut before, after) = run_connection_open_then_closed(factory, pieces, input);
    before.extend_from_slice(&after);
    before
}

/// Like [`run_connection`], but returns what the server wrote while the
/// client's side was still open, and what it wrote after the close.
pub fn run_connection_open_then_closed<F>(
    factory: F,
    pieces: &[usize],
    input: &[u8],
) -> (Vec<u8>, Vec<u8>)
where
    F: turnstile_core::HandlerFactory,
{
    let mut conn = LocalConnection::new(factory).expect("local connection");
    let mut at = 0;
    for &piece in pieces {
        let end = (at + piece).min(input.len());
        conn.send(&input[at..end]);
        at = end;
    }
    conn.send(&input[at..]);
    let before = conn.take_output();
    conn.close_input();
    let closed = conn
        .run_until(|_| false, Duration::from_secs(2))
        .expect("local loop");
    assert!(!closed);
    assert!(
        conn.is_closed(),
        "connection still open after the client closed"
    );
    (before, conn.take_output())
}

/// The longest prefix of `input` the server has parsed as a head once it
/// has read all of it in `pieces`, where that is known: each piece is one
/// read while everything fits the first read buffer (8 KiB), and past the
/// head limit the server parses at the limit.
fn judged_prefix(pieces: &[usize], input: &[u8]) -> Option<usize> {
    let limit = HeadLimits::default().max_head_bytes;
    if input.len() > limit {
        return Some(limit + 1);
    }
    if input.is_empty() || input.len() >= 8 * 1024 {
        return None;
    }
    let mut judged = 0;
    let mut at = 0usize;
    let ends = pieces.iter().copied().chain(std::iter::once(usize::MAX));
    for piece in ends {
        let end = at.saturating_add(piece).min(input.len());
        if end > at && (at == 0 || input[at..end].contains(&b'\n')) {
            judged = end;
        }
        at = end;
        if at == input.len() {
            break;
        }
    }
    Some(judged)
}

/// One response as the server wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The head, with the `Date` value blanked so runs can be compared.
    pub head: String,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// Reads `output` as a sequence of complete responses; panics on anything
/// else (a malformed head, a truncated body, bytes after the last one).
pub fn answers(output: &[u8]) -> Vec<Answer> {
    let mut answers = Vec::new();
    let mut rest = output;
    while !rest.is_empty() {
        let head = match fuzzing::parse_response(rest, false) {
            Ok(Some(head)) => head,
            other => panic!(
                "server wrote something that is not a response: {other:?} in {:?}",
                String::from_utf8_lossy(rest)
            ),
        };
        let mut text = String::new();
        for line in String::from_utf8_lossy(&rest[..head.len]).split_inclusive('\n') {
            if line.len() > 5 && line[..5].eq_ignore_ascii_case("date:") {
                text.push_str("date: -\r\n");
            } else {
                text.push_str(line);
            }
        }
        rest = &rest[head.len..];
        let body = if head.until_close {
            // Only for an HTTP/1.0 client that cannot take chunks: the body
            // runs to the close, so it is the last answer.
            assert!(head.status >= 200);
            let body = rest.to_vec();
            rest = &[];
            body
        } else if head.chunked {
            let decoded = fuzzing::decode_chunked(rest, &[], 64 * 1024)
                .expect("server wrote a malformed chunked body");
            assert!(decoded.complete, "server wrote a truncated chunked body");
            rest = &rest[decoded.consumed..];
            decoded.body
        } else {
            let n = head.content_length.unwrap_or(0) as usize;
            assert!(n <= rest.len(), "server wrote a truncated body");
            let body = rest[..n].to_vec();
            rest = &rest[n..];
            body
        };
        answers.push(Answer {
            status: head.status,
            head: text,
            body,
        });
    }
    answers
}

/// The line a [`Digest`] handler answers for `path` and `body`.
pub fn digest_line(path: &str, body: &[u8]) -> String {
    let sum = body
        .iter()
        .fold(0u32, |s, &b| s.wrapping_mul(31).wrapping_add(b as u32));
    format!("{path} {} {sum:08x}\n", body.len())
}

/// A raw handler that reads the whole body (up to 64 KiB) and answers with
/// its length and a checksum, chunked when the path ends in `/chunked`.
pub struct Digest {
    path: String,
    body: Vec<u8>,
    answer: Vec<u8>,
    sent: usize,
}

impl Handler for Digest {
    fn on_request(&mut self, request: Request) -> Next {
        self.path = request.path().to_owned();
        Next::read()
    }

    fn on_request_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let mut buf = [0u8; 4096];
        loop {
            match std::io::Read::read(decoder, &mut buf) {
                Ok(0) => return Next::write(),
                Ok(n) if self.body.len() + n > 64 * 1024 => return Next::remove(),
                Ok(n) => self.body.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Next::read(),
                Err(_) => return Next::remove(),
            }
        }
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        let sum = self
            .body
            .iter()
            .fold(0u32, |s, &b| s.wrapping_mul(31).wrapping_add(b as u32));
        self.answer = format!("{} {} {sum:08x}\n", self.path, self.body.len()).into_bytes();
        if !self.path.ends_with("/chunked") {
            response.set_content_length(self.answer.len() as u64);
        }
        Next::write()
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        while self.sent < self.answer.len() {
            match std::io::Write::write(encoder, &self.answer[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Next::write(),
                Err(_) => return Next::remove(),
            }
        }
        Next::end()
    }
}

/// Makes a [`Digest`] handler.
pub fn digest(_: Control) -> Digest {
    Digest {
        path: String::new(),
        body: Vec::new(),
        answer: Vec::new(),
        sent: 0,
    }
}

/// `connection`: the whole server state machine over arbitrary bytes in
/// arbitrary pieces: it answers only with well-formed responses, closes when
/// the client does, and answers the same whatever the pieces.
pub fn connection(data: &[u8]) {
    let (pieces, input) = split_plan(data);
    let whole = run_connection(digest, &[], input);
    let (open, closed) = run_connection_open_then_closed(digest, &pieces, input);
    // A first head the server can already refuse is answered while the
    // client waits (readiness is edge-triggered: a server that stops reading
    // early never hears of the rest). The server judges a head on its first
    // bytes, at each line end and at the size limit: those are the prefixes
    // it must have refused.
    if let Some(judged) = judged_prefix(&pieces, input) {
        if fuzzing::parse_request(&input[..judged], &HeadLimits::default()).is_err() {
            assert!(
                !open.is_empty(),
                "a refused head was answered only after the client closed"
            );
        }
    }
    let split = [open, closed].concat();
    let whole = answers(&whole);
    assert_eq!(
        whole,
        answers(&split),
        "answers depend on how the request bytes were split"
    );
    assert!(
        whole.iter().all(|a| a.status != 500),
        "the engine answered 500"
    );
}

/// Query, form and JSON shapes the `app` target's routes extract.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Search {
    q: String,
    page: Option<u32>,
    tags: Option<String>,
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Item {
    name: String,
    count: i64,
    done: Option<bool>,
}

fn app() -> turnstile::App {
    use turnstile::extract::{Form, Path, Query};
    use turnstile::Json;
    turnstile::App::new()
        .get("/users/{id}", |Path(id): Path<u32>| format!("user {id}"))
        .get(
            "/items/{name}/{n}",
            |Path((name, n)): Path<(String, i16)>| format!("{name} {n}"),
        )
        .get("/search", |Query(s): Query<Search>| s.q)
        .post("/form", |Form(item): Form<Item>| Json(item))
        .post("/json", |Json(item): Json<Item>| Json(item))
        .get("/files/*rest", |Path(rest): Path<String>| rest)
        .body_limit(8 * 1024)
}

/// Request shapes the `app` target fills in, so the fuzzer spends its time
/// in the extractors rather than on finding the routes.
const TEMPLATES: [&str; 6] = [
    "GET /users/{} HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /items/{} HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /search?{} HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\n\r\n{}",
    "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n{}",
    "GET /files/{} HTTP/1.1\r\nHost: x\r\n\r\n",
];

thread_local! {
    static APP: turnstile::AppFactory = app().into_factory().expect("fuzz app builds");
}

/// `app`: the framework's path, query, form and JSON extraction. Bad input
/// must be a 4xx answer, never a 500 (a panic or an engine error).
pub fn app_extract(data: &[u8]) {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    let template = TEMPLATES[which as usize % TEMPLATES.len()];
    let mut request = Vec::new();
    let (before, after) = template.split_once("{}").expect("template hole");
    let before = before.replace("{len}", &payload.len().to_string());
    request.extend_from_slice(before.as_bytes());
    request.extend_from_slice(payload);
    request.extend_from_slice(after.as_bytes());
    let factory = APP.with(|f| f.clone());
    let output = run_connection(factory, &[], &request);
    for answer in answers(&output) {
        if which as usize % TEMPLATES.len() == 5 && answer.status == 200 {
            // The catch-all handed to the handler never walks out of its
            // directory.
            let rest = String::from_utf8_lossy(&answer.body);
            assert!(
                !rest.contains('\0') && !rest.split(['/', '\\']).any(|p| p == "." || p == ".."),
                "a traversal reached the handler: {rest:?}"
            );
        }
        assert!(
            answer.status != StatusCode::INTERNAL_SERVER_ERROR.as_u16(),
            "the app answered 500 to {:?}",
            String::from_utf8_lossy(&request)
        );
    }
}

/// A TLS configuration with a certificate made once per process (no key is
/// ever checked in).
fn fuzz_tls() -> &'static TlsConfig {
    static TLS: OnceLock<TlsConfig> = OnceLock::new();
    TLS.get_or_init(|| {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        TlsConfig::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
            .expect("TLS configuration")
    })
}

/// `tls_connection`: arbitrary bytes to a TLS listener's connection, in
/// pieces, through the engine's TLS layer in memory (handshake and record
/// layer). The engine never panics, never answers in plain text (every
/// byte out is a TLS record: handshake or alert before a session exists),
/// and closes once the client closes.
pub fn tls_connection(data: &[u8]) {
    let (pieces, input) = split_plan(data);
    let mut conn = LocalConnection::with_tls(digest, fuzz_tls()).expect("local connection");
    let mut at = 0;
    for &piece in &pieces {
        let end = (at + piece).min(input.len());
        conn.send(&input[at..end]);
        at = end;
    }
    conn.send(&input[at..]);
    conn.close_input();
    let open = conn
        .run_until(|_| false, Duration::from_secs(2))
        .expect("local loop");
    assert!(!open);
    assert!(
        conn.is_closed(),
        "TLS connection still open after the client closed"
    );
    let output = conn.output();
    let mut rest = output;
    // Walk the records: content types 20-23, version 3.x, a length that
    // fits; nothing else may leave a TLS listener.
    while !rest.is_empty() {
        assert!(rest.len() >= 5, "a torn record header: {rest:?}");
        assert!(
            (20..=23).contains(&rest[0]) && rest[1] == 3,
            "not a TLS record: {:?}",
            &rest[..rest.len().min(16)]
        );
        let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
        assert!(rest.len() >= 5 + len, "a record cut short");
        rest = &rest[5 + len..];
    }
}

/// `websocket`: the frame reader gives the same messages (and the same
/// refusal) however the bytes are split, plain and with permessage-deflate
/// negotiated (compressed frames inflate within the limit, or are refused
/// with the same close code),
/// never a text that is not UTF-8 or a message over its limit; the
/// incremental UTF-8 check agrees with std's whatever the split.
pub fn websocket(data: &[u8]) {
    use turnstile_core::ws::{Deflate, DeflateConfig, Message, MessageReader, Role, Utf8Stream};
    const LIMIT: usize = 4096;

    let (pieces, wire) = split_plan(data);
    let deflate = Deflate::negotiate(["permessage-deflate"], &DeflateConfig::default());
    for compressed in [false, true] {
        let read = |pieces: &[usize]| {
            let mut reader = MessageReader::new(Role::Server, LIMIT);
            if compressed {
                reader = reader.with_deflate(deflate.as_ref().expect("a plain offer is taken"));
            }
            let mut pending: Vec<u8> = Vec::new();
            let mut messages = Vec::new();
            let mut rest = wire;
            let mut plan = pieces.iter().copied().chain(std::iter::repeat(usize::MAX));
            while !rest.is_empty() {
                let n = plan.next().unwrap_or(usize::MAX).min(rest.len());
                pending.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                loop {
                    match reader.read(&mut pending) {
                        Ok((used, message)) => {
                            pending.drain(..used);
                            match message {
                                Some(m) => messages.push(m),
                                None => break,
                            }
                        }
                        Err(e) => return (messages, Some(e)),
                    }
                }
            }
            (messages, None)
        };
        let whole = read(&[]);
        let split = read(&pieces);
        if compressed {
            // Inflated bytes are checked as they come, so bad data and bad
            // text in one piece may be noticed in either order: the close
            // code is the same (1007), the reason may differ.
            let code =
                |r: &(Vec<Message>, Option<turnstile_core::ws::ProtocolError>)| r.1.map(|e| e.code);
            assert_eq!(
                (&whole.0, code(&whole)),
                (&split.0, code(&split)),
                "result depends on how the input was split"
            );
        } else {
            assert_eq!(whole, split, "result depends on how the input was split");
        }
        for message in &whole.0 {
            match message {
                Message::Text(t) => assert!(t.len() <= LIMIT),
                Message::Binary(b) => assert!(b.len() <= LIMIT),
                Message::Ping(p) | Message::Pong(p) => assert!(p.len() <= 125),
                Message::Close(Some(c)) => {
                    assert!(turnstile_core::ws::is_valid_close_code(c.code));
                    assert!(c.reason.len() <= 123);
                }
                Message::Close(None) => {}
            }
        }
    }

    let mut stream = Utf8Stream::default();
    let mut verdict = Ok(());
    let mut rest = wire;
    for n in pieces.iter().copied().chain(std::iter::once(usize::MAX)) {
        let n = n.min(rest.len());
        verdict = verdict.and_then(|_| stream.feed(&rest[..n]));
        rest = &rest[n..];
    }
    match std::str::from_utf8(wire) {
        Ok(_) => assert!(verdict.is_ok() && stream.is_complete()),
        Err(e) if e.error_len().is_none() => assert!(verdict.is_ok() && !stream.is_complete()),
        Err(_) => assert!(verdict.is_err()),
    }
}
