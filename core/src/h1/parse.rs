//! Request heads: from bytes to a [`Request`] plus the framing decisions the
//! connection needs, refusing every ambiguous shape instead of guessing.
//!
//! `httparse` does the tokenizing (method, target bytes, header names and
//! values); this module adds the HTTP semantics that decide how a body is
//! framed and whether the connection can be trusted with another request.

use std::fmt;
use std::mem::MaybeUninit;
use std::net::SocketAddr;

use crate::header::common::parse_content_length;
use crate::header::typed::trim;
use crate::request::pooled_data;
use crate::target::TargetError;
use crate::{Method, Request, RequestTarget, StatusCode, Version};

/// Limits on a request head. Exceeding them gets `431` (`414` for the
/// request line alone).
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits {
    /// Most bytes in a head, request line included (default 16 KiB).
    pub max_head_bytes: usize,
    /// Most bytes in the request target (default 8 KiB).
    pub max_target_bytes: usize,
    /// Most header fields (default 100).
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> HeadLimits {
        HeadLimits {
            max_head_bytes: 16 * 1024,
            max_target_bytes: 8 * 1024,
            max_headers: 100,
        }
    }
}

/// A request head the server refuses: the status to answer and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    status: StatusCode,
    reason: &'static str,
}

impl ParseError {
    pub(crate) const fn new(status: StatusCode, reason: &'static str) -> ParseError {
        ParseError { status, reason }
    }

    const fn bad(reason: &'static str) -> ParseError {
        ParseError::new(StatusCode::BAD_REQUEST, reason)
    }

    pub(crate) const fn incomplete() -> ParseError {
        ParseError::bad("incomplete head")
    }

    /// The status the server answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// A short explanation, sent as the response body.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// How the request body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    Length(u64),
    Chunked,
}

/// A parsed head and what the connection must know about it.
pub(crate) struct RequestHead {
    pub(crate) framing: BodyFraming,
    /// The client allows the connection to be reused after this exchange.
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue` on HTTP/1.1.
    pub(crate) expect_continue: bool,
    /// The client offers to switch protocols (`Connection: upgrade` on
    /// HTTP/1.1), so a `101` may answer it.
    pub(crate) upgrade: bool,
    /// Bytes of the buffer the head took.
    pub(crate) len: usize,
}

/// Fields are scanned for on the stack up to this count; more uses the heap.
const STACK_HEADERS: usize = 100;

/// Parses the head at the start of `buf`.
///
/// `Ok(None)` means more bytes are needed (and the limits were not yet
/// exceeded); the caller re-parses when a line end arrives.
pub(crate) fn parse_request(
    buf: &[u8],
    limits: &HeadLimits,
    remote_addr: Option<SocketAddr>,
) -> Result<Option<(Request, RequestHead)>, ParseError> {
    if limits.max_headers <= STACK_HEADERS {
        let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); STACK_HEADERS];
        parse_with(buf, limits, remote_addr, &mut headers[..limits.max_headers])
    } else {
        let mut headers = vec![MaybeUninit::<httparse::Header<'_>>::uninit(); limits.max_headers];
        parse_with(buf, limits, remote_addr, &mut headers)
    }
}

fn parse_with<'b>(
    buf: &'b [u8],
    limits: &HeadLimits,
    remote_addr: Option<SocketAddr>,
    headers: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Option<(Request, RequestHead)>, ParseError> {
    let mut parsed = httparse::Request::new(&mut []);
    let status = match parsed.parse_with_uninit_headers(buf, headers) {
        Ok(status) => status,
        // httparse refuses `HTTP/0` or `HTTP/2` as soon as it sees the
        // digit; wait for the line end so the answer (400 or 505) does not
        // depend on where the bytes were split.
        Err(httparse::Error::Version)
            if buf.len() <= limits.max_head_bytes && version_may_complete(buf) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(refusal(e, buf, limits)),
    };
    let len = match status {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => {
            check_partial(buf, limits)?;
            return Ok(None);
        }
    };
    if len > limits.max_head_bytes {
        return Err(too_large(buf, limits));
    }
    let method_token = parsed.method.unwrap_or_default();
    let method = Method::from_bytes(method_token.as_bytes()).ok_or(ParseError::new(
        StatusCode::NOT_IMPLEMENTED,
        "method not implemented",
    ))?;
    if method == Method::Connect {
        // A 2xx answer to CONNECT turns the connection into a tunnel, which
        // this server does not offer: refuse before any handler can answer.
        return Err(ParseError::new(
            StatusCode::NOT_IMPLEMENTED,
            "CONNECT is not supported",
        ));
    }
    let version = match parsed.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => {
            return Err(ParseError::new(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "unsupported HTTP version",
            ))
        }
    };
    let raw_target = parsed.path.unwrap_or_default();
    if raw_target.len() > limits.max_target_bytes {
        return Err(ParseError::new(
            StatusCode::URI_TOO_LONG,
            "request target too long",
        ));
    }
    let mut data = pooled_data();
    let (target_storage, mut fields) = data.take_buffers();
    let target = RequestTarget::parse(
        raw_target,
        method == Method::Connect,
        method == Method::Options,
        target_storage,
    )
    .map_err(|TargetError::Malformed(why)| ParseError::bad(why))?;

    let mut content_length: Option<u64> = None;
    let mut transfer_codings = TransferCodings::default();
    let mut hosts = 0;
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    let mut connection_upgrade = false;
    let mut expect_continue = false;
    // The head is copied once; fields are indexed inside the copy.
    let head = &buf[..len];
    fields.start_from_head(head);
    for field in parsed.headers.iter() {
        let name = field.name;
        let value = trim(field.value);
        fields.push_head_field(head, name.as_bytes(), value);
        if name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() {
                return Err(ParseError::bad("repeated Content-Length"));
            }
            content_length = Some(
                parse_content_length(value).ok_or(ParseError::bad("malformed Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_codings.add(value);
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if value.is_empty() && version == Version::Http11 && target.authority().is_none() {
                // An empty Host is allowed only for URIs without authority;
                // an origin-form request to us always has one.
                return Err(ParseError::bad("empty Host"));
            }
            if !is_host_value(value) {
                return Err(ParseError::bad("invalid Host"));
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in crate::header::ListItems::new(std::iter::once(value)) {
                if token.eq_ignore_ascii_case(b"close") {
                    connection_close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    connection_keep_alive = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    connection_upgrade = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if value.eq_ignore_ascii_case(b"100-continue") {
                expect_continue = version == Version::Http11;
            } else {
                return Err(ParseError::new(
                    StatusCode::EXPECTATION_FAILED,
                    "unsupported expectation",
                ));
            }
        }
    }
    if hosts > 1 {
        return Err(ParseError::bad("more than one Host"));
    }
    if hosts == 0 && version == Version::Http11 {
        return Err(ParseError::bad("missing Host"));
    }
    let framing = match (transfer_codings.framing(), content_length) {
        (None, length) => BodyFraming::Length(length.unwrap_or(0)),
        (Some(_), Some(_)) => {
            return Err(ParseError::bad("both Content-Length and Transfer-Encoding"))
        }
        (Some(_), None) if version == Version::Http10 => {
            return Err(ParseError::bad("Transfer-Encoding on HTTP/1.0"))
        }
        (Some(framing), None) => framing?,
    };
    let keep_alive = match version {
        Version::Http11 => !connection_close,
        Version::Http10 => connection_keep_alive && !connection_close,
    };
    let request = Request::from_parts(data, method, version, target, fields, remote_addr);
    Ok(Some((
        request,
        RequestHead {
            framing,
            keep_alive,
            expect_continue,
            upgrade: connection_upgrade && version == Version::Http11,
            len,
        },
    )))
}

/// What the Transfer-Encoding fields say, over every line.
#[derive(Clone, Copy, Debug, Default)]
struct TransferCodings {
    present: bool,
    items: u32,
    chunked: u32,
    last_is_chunked: bool,
    other: bool,
    malformed: bool,
}

impl TransferCodings {
    fn add(&mut self, value: &[u8]) {
        self.present = true;
        for coding in crate::header::ListItems::new(std::iter::once(value)) {
            self.items += 1;
            self.last_is_chunked = coding.eq_ignore_ascii_case(b"chunked");
            if self.last_is_chunked {
                self.chunked += 1;
            } else {
                self.other = true;
                // A coding may carry parameters (`gzip;q=1` is not valid here,
                // but `x;a=b` is a legal transfer-extension): check the name.
                let name = coding.split(|&b| b == b';').next().unwrap_or_default();
                if name.is_empty() || !trim(name).iter().all(|&b| crate::h1::is_token_byte(b)) {
                    self.malformed = true;
                }
            }
        }
    }

    /// Chunked framing, or the refusal; `None` when there was no field.
    fn framing(&self) -> Option<Result<BodyFraming, ParseError>> {
        if !self.present {
            return None;
        }
        Some(if self.items == 0 || self.malformed {
            Err(ParseError::bad("malformed Transfer-Encoding"))
        } else if self.chunked > 1 {
            Err(ParseError::bad("chunked applied more than once"))
        } else if !self.last_is_chunked {
            Err(ParseError::bad("chunked is not the final transfer coding"))
        } else if self.other {
            Err(ParseError::new(
                StatusCode::NOT_IMPLEMENTED,
                "unsupported transfer coding",
            ))
        } else {
            Ok(BodyFraming::Chunked)
        })
    }
}

fn refusal(e: httparse::Error, buf: &[u8], limits: &HeadLimits) -> ParseError {
    use httparse::Error as E;
    match e {
        E::TooManyHeaders => ParseError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "too many header fields",
        ),
        E::HeaderName => {
            ParseError::bad("invalid header name (or whitespace before ':', or obs-fold)")
        }
        E::HeaderValue => ParseError::bad("invalid byte in header value"),
        E::Token => ParseError::bad("invalid method token"),
        E::Version => {
            if buf.len() > limits.max_head_bytes {
                too_large(buf, limits)
            } else if names_a_version(buf) {
                ParseError::new(
                    StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                    "unsupported HTTP version",
                )
            } else {
                ParseError::bad("malformed request line")
            }
        }
        E::NewLine => ParseError::bad("invalid line ending"),
        E::Status => ParseError::bad("invalid request line"),
    }
}

/// Whether `value` can be a Host field: `uri-host [ ":" port ]` (RFC 9112
/// §3.2), a server MUST refuse anything else. Checked by byte class: a
/// registered name (unreserved, sub-delims, percent escapes), an IP literal
/// in brackets, and a port of digits.
fn is_host_value(value: &[u8]) -> bool {
    let port = if value.first() == Some(&b'[') {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &value[1..close];
        if literal.is_empty()
            || !literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'))
        {
            return false;
        }
        &value[close + 1..]
    } else {
        // The name runs to the first byte that cannot be in one: the
        // port's colon, or a byte that makes the value invalid.
        let end = value
            .iter()
            .position(|&b| !REG_NAME[b as usize])
            .unwrap_or(value.len());
        &value[end..]
    };
    match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// Bytes of a registered name: unreserved, sub-delims and `%` escapes.
static REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8,
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'%' |
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=');
        b += 1;
    }
    table
};

/// Whether `buf` holds an unfinished request line whose version so far
/// could still become a well-formed `HTTP/d.d`.
fn version_may_complete(buf: &[u8]) -> bool {
    if buf.contains(&b'\n') {
        return false;
    }
    let line = buf.strip_suffix(b"\r").unwrap_or(buf);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(_), Some(_), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let shape = b"HTTP/0.0";
    version.len() <= shape.len()
        && version.iter().zip(shape).all(|(&b, &s)| {
            if s == b'0' {
                b.is_ascii_digit()
            } else {
                b == s
            }
        })
}

/// Whether the request line ends in a well-formed `HTTP/d.d` that is simply
/// not one we speak (`505`), rather than being malformed (`400`).
fn names_a_version(buf: &[u8]) -> bool {
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let line = buf[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&buf[..line_end]);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(_), Some(_), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    matches!(version, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

/// An unfinished head may not grow past the limits.
fn check_partial(buf: &[u8], limits: &HeadLimits) -> Result<(), ParseError> {
    let line_end = buf.iter().position(|&b| b == b'\n');
    if line_end.is_none() && buf.len() > limits.max_target_bytes + 32 {
        return Err(ParseError::new(
            StatusCode::URI_TOO_LONG,
            "request target too long",
        ));
    }
    if buf.len() > limits.max_head_bytes {
        return Err(too_large(buf, limits));
    }
    Ok(())
}

fn too_large(buf: &[u8], limits: &HeadLimits) -> ParseError {
    let line_len = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if line_len > limits.max_target_bytes {
        ParseError::new(StatusCode::URI_TOO_LONG, "request target too long")
    } else {
        ParseError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request head too large",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(buf: &[u8]) -> Option<u16> {
        match parse_request(buf, &HeadLimits::default(), None) {
            Ok(Some(_)) => Some(200),
            Ok(None) => None,
            Err(e) => Some(e.status().as_u16()),
        }
    }

    /// Found by the `connection` fuzz target: `HTTP/0.1` split after the
    /// `0` was refused as a malformed line (400), in one piece as an
    /// unsupported version (505).
    #[test]
    fn a_version_is_judged_on_the_whole_line_whatever_the_split() {
        for head in [
            &b"GET / HTTP/0.1\r\nHost: x\r\n\r\n"[..],
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/0.x\r\n\r\n",
            b"GET / HTTP/3\r\n\r\n",
        ] {
            let whole = status_of(head);
            assert!(whole.is_some());
            for cut in 1..head.len() {
                match status_of(&head[..cut]) {
                    None => {}
                    Some(early) => assert_eq!(Some(early), whole, "cut at {cut}"),
                }
            }
        }
        assert_eq!(status_of(b"GET / HTTP/2.0\r\n\r\n"), Some(505));
        assert_eq!(status_of(b"GET / HTTP/0.x\r\n\r\n"), Some(400));
        assert_eq!(
            status_of(b"GET / HTTX/1.1"),
            Some(400),
            "garbage is refused at once"
        );
    }

    #[test]
    fn host_must_be_a_host_and_port() {
        let status =
            |host: &str| status_of(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        let good = [
            "x",
            "example.com",
            "example.com:8080",
            "example.com:",
            "127.0.0.1:3000",
            "[::1]",
            "[::1]:443",
            "a-b_c~d",
            "xn--bcher-kva.example",
        ];
        for host in good {
            assert_eq!(status(host), Some(200), "{host}");
        }
        let bad = [
            "a b",
            "a/b",
            "a?b",
            "a#b",
            "user@host",
            "host:port",
            "host:80:80x",
            "[::1",
            "[]",
            "a\"b",
            "<x>",
        ];
        for host in bad {
            assert_eq!(status(host), Some(400), "{host}");
        }
    }
}
