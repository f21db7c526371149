//! Entry points for the fuzz targets in `fuzz/`, their regression replay
//! and the micro benchmarks, compiled only with the `fuzzing` feature.
//!
//! The parsers they reach are crate-private; these thin wrappers expose just
//! enough of each decision (framing, keep-alive, trailers) for a fuzz target
//! to check it against what the bytes say.

use crate::h1::decode::BodyDecoder;
use crate::h1::parse::BodyFraming;
use crate::h1::response::ResponseFraming;
use crate::header::Headers;

pub use crate::h1::HeadLimits;

/// What the server decided about a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadSummary {
    /// Bytes the head took.
    pub len: usize,
    /// `Some(n)` for a Content-Length body (0 when none), `None` for chunked.
    pub content_length: Option<u64>,
    /// The connection may carry another request.
    pub keep_alive: bool,
    /// The request path as the handler would see it.
    pub path: String,
}

/// Parses a request head: `Ok(None)` when more bytes are needed, `Err` with
/// the status the server would answer.
pub fn parse_request(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<HeadSummary>, (u16, &'static str)> {
    match crate::h1::parse_request(buf, limits, None) {
        Ok(None) => Ok(None),
        Ok(Some((request, head))) => Ok(Some(HeadSummary {
            len: head.len,
            content_length: match head.framing {
                BodyFraming::Length(n) => Some(n),
                BodyFraming::Chunked => None,
            },
            keep_alive: head.keep_alive,
            path: request.path().to_owned(),
        })),
        Err(e) => Err((e.status().as_u16(), e.reason())),
    }
}

/// What the client decided about a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseSummary {
    /// Bytes the head took.
    pub len: usize,
    /// The status code.
    pub status: u16,
    /// `Some(n)` for a length-framed body, `None` for the other framings.
    pub content_length: Option<u64>,
    /// The body is chunked.
    pub chunked: bool,
    /// The body runs to the end of the connection.
    pub until_close: bool,
    /// The connection may carry another request.
    pub keep_alive: bool,
}

/// Parses a response head as the client does.
pub fn parse_response(
    buf: &[u8],
    head_request: bool,
) -> Result<Option<ResponseSummary>, &'static str> {
    let parsed = crate::h1::response::parse_response(buf, 16 * 1024, 100, head_request)?;
    Ok(parsed.map(|p| ResponseSummary {
        len: p.len,
        status: p.head.status().as_u16(),
        content_length: match p.framing {
            ResponseFraming::Length(n) => Some(n),
            ResponseFraming::None => Some(0),
            _ => None,
        },
        chunked: p.framing == ResponseFraming::Chunked,
        until_close: p.framing == ResponseFraming::Eof,
        keep_alive: p.keep_alive,
    }))
}

/// A chunked body decoded: the body bytes, the trailer fields, and the
/// bytes of input the body took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The body.
    pub body: Vec<u8>,
    /// Trailer fields as `name: value` lines, in order.
    pub trailers: Vec<(String, Vec<u8>)>,
    /// Input bytes consumed, up to and including the last CRLF.
    pub consumed: usize,
    /// The body ended (as opposed to: the input ran out first).
    pub complete: bool,
}

/// Decodes a chunked body from `input`, handing it to the decoder in the
/// pieces `splits` describes (each a piece length; the rest in one piece)
/// and reading out through a buffer of `out_room` bytes. The result must
/// not depend on `splits` or `out_room`.
pub fn decode_chunked(
    input: &[u8],
    splits: &[usize],
    out_room: usize,
) -> Result<Decoded, &'static str> {
    let mut decoder = BodyDecoder::chunked();
    let mut trailers = Headers::new();
    let mut body = Vec::new();
    let mut out = vec![0u8; out_room.max(1)];
    let mut consumed = 0;
    let mut pieces = splits.iter().copied().chain(std::iter::repeat(usize::MAX));
    while consumed < input.len() && !decoder.is_done() {
        let end = consumed.saturating_add(pieces.next().unwrap_or(usize::MAX).max(1));
        let piece = &input[consumed..end.min(input.len())];
        let mut at = 0;
        loop {
            let (used, produced) = decoder
                .decode(&piece[at..], &mut out, &mut trailers)
                .map_err(|e| e.0)?;
            body.extend_from_slice(&out[..produced]);
            at += used;
            if decoder.is_done() || (used == 0 && produced == 0) {
                break;
            }
        }
        consumed += at;
        if at < piece.len() && !decoder.is_done() {
            // The decoder stopped inside a piece without finishing: it must
            // be waiting for more room, which it always has here.
            return Err("decoder stalled with input and room left");
        }
    }
    Ok(Decoded {
        body,
        trailers: trailers
            .iter()
            .map(|(name, value)| (name.to_owned(), value.to_vec()))
            .collect(),
        consumed,
        complete: decoder.is_done(),
    })
}

/// Serializes `response`'s head as the server would for a GET on a
/// keep-alive HTTP/1.1 connection (for the head-serialization benchmark).
pub fn write_head(out: &mut Vec<u8>, response: &crate::ResponseHead) {
    static DATE_LINE: [u8; crate::h1::date::DATE_LINE_LEN] =
        *b"date: Wed, 25 Nov 2026 12:00:00 GMT\r\n";
    let cx = crate::h1::encode::HeadContext {
        head_request: false,
        request_version: crate::Version::Http11,
        keep_alive: true,
        no_body: false,
        date_line: &DATE_LINE,
        server_line: Some(b"server: turnstile\r\n"),
    };
    crate::h1::encode::write_head(out, response, &cx);
}
