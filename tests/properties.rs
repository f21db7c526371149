//! Properties of the wire layer, checked on generated inputs: however a
//! valid request stream is split, the server answers the same, in order;
//! a chunked body decodes to what was encoded whatever the pieces; and what
//! the encoder writes parses back to the body the handler wrote.

use proptest::prelude::*;

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

use checks::{answers, digest, digest_line, run_connection};
use turnstile_core::fuzzing;
use turnstile_core::{Control, Encoder, Handler, Next, Request, ResponseHead};

#[derive(Debug, Clone)]
enum Framing {
    /// No body and no framing header.
    None,
    Length,
    /// Chunk sizes (the body is cut by them, the rest in one chunk), with
    /// or without extensions and trailers.
    Chunked(Vec<usize>, bool),
}

#[derive(Debug, Clone)]
struct GenRequest {
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    framing: Framing,
}

fn chunked_body(body: &[u8], sizes: &[usize], decorate: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut sizes = sizes.iter();
    while !rest.is_empty() {
        let n = sizes.next().map_or(rest.len(), |&s| s.clamp(1, rest.len()));
        out.extend_from_slice(format!("{n:x}").as_bytes());
        if decorate {
            out.extend_from_slice(b" ;name=\"v\"");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n");
    if decorate {
        out.extend_from_slice(b"X-Sum: 1\r\nX-Other: two words\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

impl GenRequest {
    fn bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: example\r\n",
            self.method, self.path
        );
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = match &self.framing {
            Framing::None => Vec::new(),
            Framing::Length => {
                out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
                self.body.clone()
            }
            Framing::Chunked(sizes, decorate) => {
                out.push_str("Transfer-Encoding: chunked\r\n");
                chunked_body(&self.body, sizes, *decorate)
            }
        };
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&body);
        bytes
    }
}

fn request() -> impl Strategy<Value = GenRequest> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        "(/[a-z0-9._~-]{1,6}){0,3}/?(chunked)?",
        prop::collection::vec(("x-[a-z]{1,8}", "[!-~]([ -~]{0,16}[!-~])?"), 0..4),
        prop::collection::vec(any::<u8>(), 0..600),
        prop_oneof![Just(0u8), Just(1u8), Just(2u8),],
        prop::collection::vec(1usize..200, 0..6),
        any::<bool>(),
    )
        .prop_map(|(method, path, headers, body, framing, sizes, decorate)| {
            let path = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            let path = if path.starts_with('/') {
                path
            } else {
                format!("/{path}")
            };
            let framing = match framing {
                0 if body.is_empty() => Framing::None,
                0 | 1 => Framing::Length,
                _ => Framing::Chunked(sizes, decorate),
            };
            GenRequest {
                method,
                path,
                headers,
                body,
                framing,
            }
        })
}

/// Piece lengths that cover `len` bytes in at most `cuts.len() + 1` pieces.
fn pieces(len: usize, cuts: &[prop::sample::Index]) -> Vec<usize> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(len + 1)).collect();
    points.sort_unstable();
    let mut last = 0;
    points
        .into_iter()
        .map(|p| {
            let piece = p - last;
            last = p;
            piece
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Pipelined requests split anywhere: one answer per request, in order,
    /// each naming its own path and body, the same as in one piece.
    #[test]
    fn requests_split_anywhere_answer_in_order(
        requests in prop::collection::vec(request(), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..24),
    ) {
        let stream: Vec<u8> = requests.iter().flat_map(GenRequest::bytes).collect();
        let split = answers(&run_connection(digest, &pieces(stream.len(), &cuts), &stream));
        let whole = answers(&run_connection(digest, &[], &stream));
        prop_assert_eq!(&split, &whole);
        prop_assert_eq!(split.len(), requests.len());
        for (answer, request) in split.iter().zip(&requests) {
            prop_assert_eq!(answer.status, 200);
            prop_assert_eq!(
                String::from_utf8_lossy(&answer.body),
                digest_line(&request.path, &request.body)
            );
            prop_assert_eq!(
                answer.head.contains("transfer-encoding: chunked"),
                request.path.ends_with("/chunked")
            );
        }
    }

    /// A chunked body in any pieces, read through any room, decodes to the
    /// body and trailers that were encoded, and takes exactly its bytes.
    #[test]
    fn chunked_bodies_decode_whatever_the_pieces(
        body in prop::collection::vec(any::<u8>(), 0..2000),
        sizes in prop::collection::vec(1usize..700, 0..8),
        decorate in any::<bool>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..32),
        room in 1usize..300,
        next_message in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut encoded = chunked_body(&body, &sizes, decorate);
        let length = encoded.len();
        encoded.extend_from_slice(&next_message);
        let decoded = fuzzing::decode_chunked(&encoded, &pieces(encoded.len(), &cuts), room)
            .expect("valid chunked body refused");
        prop_assert!(decoded.complete);
        prop_assert_eq!(decoded.consumed, length);
        prop_assert_eq!(&decoded.body, &body);
        let trailers: Vec<(String, Vec<u8>)> = if decorate {
            vec![
                ("X-Sum".into(), b"1".to_vec()),
                ("X-Other".into(), b"two words".to_vec()),
            ]
        } else {
            Vec::new()
        };
        prop_assert_eq!(decoded.trailers, trailers);
    }

    /// Whatever a handler writes through the encoder, in whatever pieces,
    /// with or without a declared length, parses back to the same body.
    #[test]
    fn encoder_output_parses_back(
        body in prop::collection::vec(any::<u8>(), 0..70_000),
        writes in prop::collection::vec(1usize..9000, 1..12),
        declared in any::<bool>(),
        keep_alive_probe in any::<bool>(),
    ) {
        let handler_body = body.clone();
        let handler_writes = writes.clone();
        let factory = move |_: Control| Writer {
            body: handler_body.clone(),
            writes: handler_writes.clone(),
            declared,
            sent: 0,
            turn: 0,
        };
        let mut input = b"GET /w HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        if keep_alive_probe {
            // A second request proves the framing left the stream in step.
            input.extend_from_slice(b"GET /w HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        let output = answers(&run_connection(factory, &[], &input));
        prop_assert_eq!(output.len(), if keep_alive_probe { 2 } else { 1 });
        for answer in &output {
            prop_assert_eq!(answer.status, 200);
            prop_assert_eq!(answer.head.contains("transfer-encoding: chunked"), !declared);
            prop_assert!(answer.body == body, "body differs: {} vs {} bytes", answer.body.len(), body.len());
        }
    }
}

/// Writes `body` in pieces of the given sizes, cycling through them.
struct Writer {
    body: Vec<u8>,
    writes: Vec<usize>,
    declared: bool,
    sent: usize,
    turn: usize,
}

impl Handler for Writer {
    fn on_request(&mut self, _: Request) -> Next {
        Next::write()
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        if self.declared {
            response.set_content_length(self.body.len() as u64);
        }
        Next::write()
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        while self.sent < self.body.len() {
            let piece = self.writes[self.turn % self.writes.len()];
            let end = (self.sent + piece).min(self.body.len());
            match std::io::Write::write(encoder, &self.body[self.sent..end]) {
                Ok(n) => {
                    self.sent += n;
                    self.turn += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Next::write(),
                Err(_) => return Next::remove(),
            }
        }
        Next::end()
    }
}
