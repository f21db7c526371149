//! Responses out: the head serializer that decides body framing, and the
//! [`Encoder`] a handler writes the body through.
//!
//! Everything is appended to the connection's write buffer; the connection
//! flushes it with as few writes as it can (pipelined responses together).

use std::io::{self, Write as _};

use crate::h1::date::DATE_LINE_LEN;
use crate::header::common::parse_content_length;
use crate::header::ListItems;
use crate::io::Io;
use crate::{ResponseHead, StatusCode, Version};

/// How the response body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyEncoder {
    /// `remaining` bytes of a declared Content-Length.
    Length(u64),
    /// Chunked: each write is one chunk.
    Chunked,
    /// Until the connection closes (HTTP/1.0 without a length).
    Eof,
    /// No body goes out (HEAD, 1xx, 204, 304): writes are accepted and
    /// dropped, so one handler serves GET and HEAD alike.
    Discard,
    /// The body was finished.
    Done,
}

/// What the connection knows when the head is written.
pub(crate) struct HeadContext<'a> {
    /// The request was HEAD.
    pub(crate) head_request: bool,
    pub(crate) request_version: Version,
    /// Both sides allow another request on this connection so far.
    pub(crate) keep_alive: bool,
    /// The handler returned `end()` from `on_response`: no body follows.
    pub(crate) no_body: bool,
    /// The cached `date: ...\r\n` line.
    pub(crate) date_line: &'a [u8; DATE_LINE_LEN],
    /// The `server: ...\r\n` line to add when the handler set no `Server`.
    pub(crate) server_line: Option<&'a [u8]>,
}

/// The framing a written head chose.
pub(crate) struct HeadOutcome {
    pub(crate) encoder: BodyEncoder,
    /// The connection can be reused after this response.
    pub(crate) keep_alive: bool,
}

/// Appends the response head to `out` and decides the body framing.
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    res: &ResponseHead,
    cx: &HeadContext<'_>,
) -> HeadOutcome {
    let status = res.status();
    let mut content_length: Option<u64> = res.content_length_set();
    let mut bad_length = false;
    let mut chunked_set = false;
    let mut te_set = false;
    let mut has_date = false;
    let mut has_server = false;
    let mut close_set = false;
    for (name, value) in res.headers().raw_iter() {
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                match parse_content_length(value) {
                    Some(n) if content_length.is_none_or(|c| c == n) => content_length = Some(n),
                    _ => bad_length = true,
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                te_set = true;
                chunked_set = ListItems::new(std::iter::once(value))
                    .last()
                    .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
            }
            4 if name.eq_ignore_ascii_case(b"date") => has_date = true,
            6 if name.eq_ignore_ascii_case(b"server") => has_server = true,
            10 if name.eq_ignore_ascii_case(b"connection") => {
                close_set |= ListItems::new(std::iter::once(value))
                    .any(|t| t.eq_ignore_ascii_case(b"close"));
            }
            _ => {}
        }
    }
    if bad_length {
        log::error!("response Content-Length is malformed or repeated; dropped it");
        content_length = None;
    }
    let switching = status == StatusCode::SWITCHING_PROTOCOLS;
    // After a 101 the connection speaks another protocol: never HTTP again.
    let mut keep_alive = cx.keep_alive && !close_set && !switching;
    let http11 = cx.request_version == Version::Http11;

    // What framing headers go out, and how the body is written.
    let mut write_length: Option<u64> = None;
    let mut write_chunked = false;
    // Content-Length always goes out as computed here; Transfer-Encoding
    // only where the handler's own value frames the body.
    let mut keep_transfer_encoding = false;
    let encoder = if status.forbids_body() {
        // 304 may repeat the length a GET would have; 1xx and 204 never.
        if status == StatusCode::NOT_MODIFIED {
            write_length = content_length;
        }
        BodyEncoder::Discard
    } else if let Some(n) = content_length.filter(|_| !te_set) {
        write_length = Some(n);
        if cx.head_request {
            BodyEncoder::Discard
        } else {
            BodyEncoder::Length(n)
        }
    } else if cx.no_body && !te_set {
        write_length = Some(0);
        if cx.head_request {
            BodyEncoder::Discard
        } else {
            BodyEncoder::Length(0)
        }
    } else if http11 {
        if te_set && !chunked_set {
            // A coding the handler applied itself, not chunked last: the
            // body can only end with the connection.
            keep_alive = false;
            keep_transfer_encoding = true;
            if cx.head_request {
                BodyEncoder::Discard
            } else {
                BodyEncoder::Eof
            }
        } else {
            write_chunked = !te_set;
            keep_transfer_encoding = te_set;
            if cx.head_request {
                BodyEncoder::Discard
            } else {
                BodyEncoder::Chunked
            }
        }
    } else {
        keep_alive = false;
        if cx.head_request {
            BodyEncoder::Discard
        } else {
            BodyEncoder::Eof
        }
    };

    // One reservation for the whole head: every append below then only
    // copies.
    out.reserve(res.headers().wire_len() + cx.server_line.map_or(0, <[u8]>::len) + HEAD_ROOM);
    match status.status_line() {
        Some(line) => out.extend_from_slice(line),
        None => {
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(&status.digits());
            out.extend_from_slice(b" \r\n");
        }
    }
    for (name, value) in res.headers().raw_iter() {
        if (name.len() == 14 && name.eq_ignore_ascii_case(b"content-length"))
            || (name.len() == 17
                && !keep_transfer_encoding
                && name.eq_ignore_ascii_case(b"transfer-encoding"))
        {
            continue;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(n) = write_length {
        if status != StatusCode::NO_CONTENT && !status.is_informational() {
            push_content_length(out, n);
        }
    }
    if write_chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if !has_date {
        out.extend_from_slice(cx.date_line);
    }
    if let (false, Some(line)) = (has_server, cx.server_line) {
        out.extend_from_slice(line);
    }
    if !keep_alive && !close_set && !switching {
        out.extend_from_slice(b"connection: close\r\n");
    } else if keep_alive && !http11 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    HeadOutcome {
        encoder,
        keep_alive,
    }
}

/// Bytes a head needs beyond its header fields and server name: status
/// line, framing, date and connection lines.
const HEAD_ROOM: usize = 192;

/// Appends `content-length: <n>\r\n` as one copy: the line is built on the
/// stack, digits from the right.
fn push_content_length(out: &mut Vec<u8>, mut n: u64) {
    const PREFIX: &[u8] = b"content-length: ";
    let mut line = [0u8; PREFIX.len() + 20 + 2];
    let mut at = line.len() - 2;
    line[at..].copy_from_slice(b"\r\n");
    loop {
        at -= 1;
        line[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    at -= PREFIX.len();
    line[at..at + PREFIX.len()].copy_from_slice(PREFIX);
    out.extend_from_slice(&line[at..]);
}

/// Bytes a chunk's size line and CRLF may take.
const FRAMING_ROOM: usize = 32;

/// `100 Continue`, sent before reading a body the client is holding back.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Appends a complete error response that closes the connection.
pub(crate) fn write_error(out: &mut Vec<u8>, status: StatusCode, reason: &str, date: &[u8; 29]) {
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\ndate: ",
        status.as_u16(),
        status.reason(),
        reason.len() + 1
    );
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(reason.as_bytes());
    out.push(b'\n');
}

impl BodyEncoder {
    /// Appends up to `room` bytes of `data` with framing; returns how many
    /// body bytes were taken.
    pub(crate) fn encode(
        &mut self,
        out: &mut Vec<u8>,
        data: &[u8],
        room: usize,
    ) -> io::Result<usize> {
        match self {
            BodyEncoder::Discard => Ok(data.len()),
            BodyEncoder::Done => Err(io::Error::other("response body already ended")),
            BodyEncoder::Length(remaining) => {
                if *remaining == 0 && !data.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "body longer than its Content-Length",
                    ));
                }
                let n = (data.len().min(room) as u64).min(*remaining) as usize;
                out.extend_from_slice(&data[..n]);
                *remaining -= n as u64;
                Ok(n)
            }
            BodyEncoder::Eof => {
                let n = data.len().min(room);
                out.extend_from_slice(&data[..n]);
                Ok(n)
            }
            BodyEncoder::Chunked => {
                // An empty chunk would end the body.
                let n = data.len().min(room.saturating_sub(FRAMING_ROOM));
                if n == 0 {
                    return Ok(0);
                }
                let _ = write!(out, "{n:x}\r\n");
                out.extend_from_slice(&data[..n]);
                out.extend_from_slice(b"\r\n");
                Ok(n)
            }
        }
    }

    /// Appends the end of the body. `Err` if a declared length was not met,
    /// in which case the connection must close.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), u64> {
        let result = match *self {
            BodyEncoder::Chunked => {
                out.extend_from_slice(b"0\r\n\r\n");
                Ok(())
            }
            BodyEncoder::Length(remaining) if remaining > 0 => Err(remaining),
            _ => Ok(()),
        };
        *self = BodyEncoder::Done;
        result
    }
}

/// The response body as an [`io::Write`].
///
/// Bytes are framed as the head decided (Content-Length, chunked, or until
/// close) and buffered; when the buffer is full and the peer is not reading,
/// a write returns `WouldBlock`: return [`Next::write`](crate::Next::write)
/// and the engine calls again when there is room. For HEAD requests and
/// bodiless statuses, writes are accepted and dropped.
pub struct Encoder<'a> {
    pub(crate) io: &'a mut Io,
    pub(crate) body: &'a mut BodyEncoder,
    /// Buffer this much before writing to the socket.
    pub(crate) high_water: usize,
    /// The handler wrote or flushed (so it made progress or learned it cannot).
    pub(crate) used: bool,
}

impl Encoder<'_> {
    /// Whether the body is being discarded (HEAD request, 204, 304).
    pub fn is_discarding(&self) -> bool {
        *self.body == BodyEncoder::Discard
    }

    /// Body bytes still owed under a declared Content-Length.
    pub fn remaining(&self) -> Option<u64> {
        match *self.body {
            BodyEncoder::Length(n) => Some(n),
            _ => None,
        }
    }
}

impl io::Write for Encoder<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.used = true;
        if data.is_empty() || *self.body == BodyEncoder::Discard {
            return Ok(data.len());
        }
        // Room for a chunk's framing too, so a write never fails for lack
        // of space the socket could have made.
        let buf = &self.io.write_buf;
        if buf.len() + FRAMING_ROOM >= self.high_water {
            self.io.flush()?;
            if self.io.write_buf.len() + FRAMING_ROOM >= self.high_water {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        let room = self.high_water - self.io.write_buf.len();
        let n = self.body.encode(self.io.write_buf.vec(), data, room)?;
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Writes the buffered bytes to the socket; `WouldBlock` if it is full.
    fn flush(&mut self) -> io::Result<()> {
        self.used = true;
        if self.io.flush()? {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

impl<'a> std::fmt::Debug for Encoder<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{ContentLength, TransferEncoding};

    const DATE: &[u8; 29] = b"Sun, 06 Nov 1994 08:49:37 GMT";
    const DATE_LINE: &[u8; DATE_LINE_LEN] = b"date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";

    fn cx(version: Version, head: bool, no_body: bool) -> HeadContext<'static> {
        HeadContext {
            head_request: head,
            request_version: version,
            keep_alive: true,
            no_body,
            date_line: DATE_LINE,
            server_line: Some(b"server: turnstile\r\n"),
        }
    }

    fn head(res: &ResponseHead, cx: &HeadContext<'_>) -> (String, HeadOutcome) {
        let mut out = Vec::new();
        let outcome = write_head(&mut out, res, cx);
        (String::from_utf8(out).unwrap(), outcome)
    }

    #[test]
    fn content_length_when_set() {
        let mut res = ResponseHead::new();
        res.set_content_length(13);
        let (text, o) = head(&res, &cx(Version::Http11, false, false));
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\ncontent-length: 13\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: turnstile\r\n\r\n"
        );
        assert_eq!(o.encoder, BodyEncoder::Length(13));
        assert!(o.keep_alive);
    }

    #[test]
    fn chunked_on_11_close_delimited_on_10() {
        let res = ResponseHead::new();
        let (text, o) = head(&res, &cx(Version::Http11, false, false));
        assert!(text.contains("transfer-encoding: chunked\r\n"));
        assert_eq!(o.encoder, BodyEncoder::Chunked);
        let (text, o) = head(&res, &cx(Version::Http10, false, false));
        assert!(!text.contains("transfer-encoding"));
        assert!(text.contains("connection: close\r\n"));
        assert_eq!((o.encoder, o.keep_alive), (BodyEncoder::Eof, false));
    }

    #[test]
    fn keep_alive_on_10_with_length() {
        let mut res = ResponseHead::new();
        res.set_content_length(2);
        let (text, o) = head(&res, &cx(Version::Http10, false, false));
        assert!(text.contains("connection: keep-alive\r\n"));
        assert!(o.keep_alive);
    }

    #[test]
    fn head_requests_keep_the_get_headers_but_no_body() {
        let mut res = ResponseHead::new();
        res.set_content_length(13);
        let (text, o) = head(&res, &cx(Version::Http11, true, false));
        assert!(text.contains("content-length: 13\r\n"));
        assert_eq!(o.encoder, BodyEncoder::Discard);
        let (text, o) = head(&ResponseHead::new(), &cx(Version::Http11, true, false));
        assert!(text.contains("transfer-encoding: chunked\r\n"));
        assert_eq!(o.encoder, BodyEncoder::Discard);
    }

    #[test]
    fn no_body_statuses_drop_framing() {
        let mut res = ResponseHead::new();
        res.set_status(StatusCode::NO_CONTENT);
        res.set_content_length(5);
        let (text, o) = head(&res, &cx(Version::Http11, false, false));
        assert!(!text.contains("content-length"), "{text}");
        assert!(!text.contains("transfer-encoding"));
        assert_eq!(o.encoder, BodyEncoder::Discard);
        res.set_status(StatusCode::NOT_MODIFIED);
        let (text, _) = head(&res, &cx(Version::Http11, false, false));
        assert!(text.contains("content-length: 5\r\n"));
    }

    #[test]
    fn end_without_length_is_empty_body() {
        let (text, o) = head(&ResponseHead::new(), &cx(Version::Http11, false, true));
        assert!(text.contains("content-length: 0\r\n"));
        assert_eq!(o.encoder, BodyEncoder::Length(0));
    }

    #[test]
    fn handler_connection_close_and_te() {
        let mut res = ResponseHead::new();
        res.headers_mut().set("Connection", "close").unwrap();
        res.set_header(&TransferEncoding::chunked());
        res.set_header(&ContentLength(3));
        let (text, o) = head(&res, &cx(Version::Http11, false, false));
        assert_eq!(text.matches("onnection: close").count(), 1);
        assert!(!o.keep_alive);
        assert!(
            !text.contains("content-length"),
            "CL never goes with TE: {text}"
        );
        assert_eq!(o.encoder, BodyEncoder::Chunked);
    }

    #[test]
    fn content_length_lines() {
        for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
            let mut out = b"x".to_vec();
            push_content_length(&mut out, n);
            assert_eq!(out, format!("xcontent-length: {n}\r\n").as_bytes());
        }
    }

    #[test]
    fn a_length_set_twice_differently_is_dropped() {
        let mut res = ResponseHead::new();
        res.set_content_length(3);
        res.headers_mut().append("content-length", "4").unwrap();
        let (text, o) = head(&res, &cx(Version::Http11, false, false));
        assert!(!text.contains("content-length"), "{text}");
        assert_eq!(o.encoder, BodyEncoder::Chunked);
    }

    #[test]
    fn encoders_frame_bytes() {
        let mut out = Vec::new();
        let mut chunked = BodyEncoder::Chunked;
        assert_eq!(chunked.encode(&mut out, b"hello", 100).unwrap(), 5);
        assert_eq!(chunked.encode(&mut out, b"", 100).unwrap(), 0);
        chunked.finish(&mut out).unwrap();
        assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");

        let mut out = Vec::new();
        let mut length = BodyEncoder::Length(3);
        assert_eq!(length.encode(&mut out, b"abcdef", 100).unwrap(), 3);
        assert!(length.encode(&mut out, b"g", 100).is_err());
        assert_eq!(out, b"abc");
        let mut short = BodyEncoder::Length(3);
        assert_eq!(short.finish(&mut Vec::new()), Err(3));
    }

    #[test]
    fn error_responses_close() {
        let mut out = Vec::new();
        write_error(&mut out, StatusCode::BAD_REQUEST, "missing Host", DATE);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(text.contains("connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nmissing Host\n"));
        assert!(text.contains("content-length: 13\r\n"));
    }
}
