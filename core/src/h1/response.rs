//! Response heads, for the client: from bytes to a head plus the framing
//! of the body that follows, refusing ambiguous shapes.

use crate::header::common::parse_content_length;
use crate::header::typed::trim;
use crate::header::{Headers, ListItems};
use crate::ResponseHead;
use crate::{StatusCode, Version};

/// How the response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseFraming {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    Length(u64),
    Chunked,
    /// Until the server closes.
    Eof,
}

pub(crate) struct ParsedResponse {
    pub(crate) head: ResponseHead,
    pub(crate) framing: ResponseFraming,
    /// The connection may carry another request afterwards.
    pub(crate) keep_alive: bool,
    /// Bytes of the buffer the head took.
    pub(crate) len: usize,
}

const STACK_HEADERS: usize = 100;

/// Parses the response head at the start of `buf`; `Ok(None)` when more
/// bytes are needed.
pub(crate) fn parse_response(
    buf: &[u8],
    max_head_bytes: usize,
    max_headers: usize,
    head_request: bool,
) -> Result<Option<ParsedResponse>, &'static str> {
    if max_headers <= STACK_HEADERS {
        let mut headers = [httparse::EMPTY_HEADER; STACK_HEADERS];
        parse_with(
            buf,
            max_head_bytes,
            head_request,
            &mut headers[..max_headers],
        )
    } else {
        let mut headers = vec![httparse::EMPTY_HEADER; max_headers];
        parse_with(buf, max_head_bytes, head_request, &mut headers)
    }
}

fn parse_with<'b>(
    buf: &'b [u8],
    max_head_bytes: usize,
    head_request: bool,
    headers: &mut [httparse::Header<'b>],
) -> Result<Option<ParsedResponse>, &'static str> {
    let mut parsed = httparse::Response::new(headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            if buf.len() > max_head_bytes {
                return Err("response head too large");
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err("too many response header fields"),
        Err(httparse::Error::Status | httparse::Error::Version) => {
            return Err("malformed status line")
        }
        Err(_) => return Err("malformed response head"),
    };
    if len > max_head_bytes {
        return Err("response head too large");
    }
    let version = match parsed.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err("unsupported HTTP version"),
    };
    let status = parsed
        .code
        .and_then(StatusCode::from_u16)
        .ok_or("malformed status code")?;
    let mut fields = Headers::new();
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut chunked_last = false;
    let mut close = false;
    let mut keep_alive_token = false;
    for field in parsed.headers.iter() {
        let value = trim(field.value);
        fields.push_unchecked(field.name.as_bytes(), value);
        if field.name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(value).ok_or("malformed Content-Length")?;
            if content_length.is_some_and(|c| c != n) {
                return Err("differing Content-Length values");
            }
            content_length = Some(n);
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            chunked_last = ListItems::new(std::iter::once(value))
                .last()
                .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
        } else if field.name.eq_ignore_ascii_case("connection") {
            for token in ListItems::new(std::iter::once(value)) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    if transfer_encoding && content_length.is_some() {
        return Err("both Content-Length and Transfer-Encoding");
    }
    let framing = if head_request || status.forbids_body() {
        ResponseFraming::None
    } else if transfer_encoding {
        if chunked_last {
            ResponseFraming::Chunked
        } else {
            ResponseFraming::Eof
        }
    } else {
        match content_length {
            Some(n) => ResponseFraming::Length(n),
            None => ResponseFraming::Eof,
        }
    };
    let keep_alive = framing != ResponseFraming::Eof
        && match version {
            Version::Http11 => !close,
            Version::Http10 => keep_alive_token && !close,
        };
    Ok(Some(ParsedResponse {
        head: ResponseHead::received(status, version, fields),
        framing,
        keep_alive,
        len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<ParsedResponse>, &'static str> {
        parse_response(bytes, 16 * 1024, 100, false)
    }

    #[test]
    fn framing_decisions() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.framing, r.keep_alive, r.len),
            (ResponseFraming::Length(5), true, 38)
        );
        let r = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.framing, ResponseFraming::Chunked);
        let r = parse(b"HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((r.framing, r.keep_alive), (ResponseFraming::Eof, false));
        let r = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!r.keep_alive);
        let r = parse(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(r.keep_alive);
        let r = parse(b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.framing, ResponseFraming::None);
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            1024,
            10,
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.framing, ResponseFraming::None);
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
    }

    #[test]
    fn refuses_malformed_heads() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/2 200 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTX/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let huge = format!("HTTP/1.1 200 OK\r\nX: {}\r\n", "a".repeat(20_000));
        assert!(parse(huge.as_bytes()).is_err());
    }
}
