//! Request bodies in: Content-Length, chunked and read-to-end framing, and
//! the [`Decoder`] a handler reads them through.
//!
//! [`BodyDecoder`] is pure: it turns framed bytes into body bytes and keeps
//! its place between calls, so a body may arrive split at any byte.

use std::io;

use crate::header::Headers;
use crate::io::Io;

/// Chunk extensions and trailer lines longer than this are refused.
const MAX_LINE: usize = 4096;
/// Trailer sections larger than this are refused.
const MAX_TRAILERS: usize = 16 * 1024;

/// Where a body's framing stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyDecoder {
    /// `remaining` bytes to go.
    Length(u64),
    /// Inside a chunked body.
    Chunked(Chunked),
    /// The body runs until the peer closes (responses only: the client
    /// half reads these).
    #[allow(dead_code)]
    Eof,
    /// The body is complete.
    Done,
}

/// The chunked decoder's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunked {
    state: ChunkState,
    /// Size digits or data bytes left, depending on the state.
    size: u64,
    digits: u8,
    /// Bytes of the current extension or trailer line.
    line: usize,
    /// Bytes of trailer section so far.
    trailer_bytes: usize,
    /// The trailer line being collected.
    trailer_line: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size,
    /// Whitespace after the size, before `;` or CR.
    SizeSpace,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
}

/// A framing error in a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyError(pub(crate) &'static str);

impl BodyDecoder {
    pub(crate) fn length(n: u64) -> BodyDecoder {
        if n == 0 {
            BodyDecoder::Done
        } else {
            BodyDecoder::Length(n)
        }
    }

    pub(crate) fn chunked() -> BodyDecoder {
        BodyDecoder::Chunked(Chunked {
            state: ChunkState::Size,
            size: 0,
            digits: 0,
            line: 0,
            trailer_bytes: 0,
            trailer_line: Vec::new(),
        })
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self, BodyDecoder::Done)
    }

    /// Decodes from `input` into `out`: returns `(consumed, produced)`.
    /// Stops when `out` is full, `input` is used up, or the body ends.
    /// Trailer fields are added to `trailers`.
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        trailers: &mut Headers,
    ) -> Result<(usize, usize), BodyError> {
        match self {
            BodyDecoder::Done => Ok((0, 0)),
            BodyDecoder::Eof => {
                let n = input.len().min(out.len());
                out[..n].copy_from_slice(&input[..n]);
                Ok((n, n))
            }
            BodyDecoder::Length(remaining) => {
                let n = (input.len().min(out.len()) as u64).min(*remaining) as usize;
                out[..n].copy_from_slice(&input[..n]);
                *remaining -= n as u64;
                if *remaining == 0 {
                    *self = BodyDecoder::Done;
                }
                Ok((n, n))
            }
            BodyDecoder::Chunked(c) => {
                let result = c.decode(input, out, trailers)?;
                if c.state == ChunkState::EndLf && c.size == 1 {
                    *self = BodyDecoder::Done;
                }
                Ok(result)
            }
        }
    }

    /// Skips body bytes from `input` without keeping them: returns consumed.
    pub(crate) fn discard(&mut self, input: &[u8]) -> Result<usize, BodyError> {
        let mut scratch = [0u8; 1024];
        let mut trailers = Headers::new();
        let mut consumed = 0;
        while consumed < input.len() && !self.is_done() {
            let (c, _) = self.decode(&input[consumed..], &mut scratch, &mut trailers)?;
            if c == 0 {
                break;
            }
            consumed += c;
        }
        Ok(consumed)
    }
}

fn hex_value(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    }
}

impl Chunked {
    fn decode(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        trailers: &mut Headers,
    ) -> Result<(usize, usize), BodyError> {
        use ChunkState::*;
        let mut i = 0;
        let mut produced = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                Size => match hex_value(b) {
                    Some(v) => {
                        if self.digits == 16 {
                            return Err(BodyError("chunk size too large"));
                        }
                        self.size = self.size << 4 | v;
                        self.digits += 1;
                    }
                    None if self.digits == 0 => return Err(BodyError("invalid chunk size")),
                    None => match b {
                        b'\r' => self.state = SizeLf,
                        b';' => {
                            self.state = Extension;
                            self.line = 0;
                        }
                        b' ' | b'\t' => self.state = SizeSpace,
                        _ => return Err(BodyError("invalid chunk size")),
                    },
                },
                SizeSpace => match b {
                    b' ' | b'\t' => {}
                    b';' => {
                        self.state = Extension;
                        self.line = 0;
                    }
                    b'\r' => self.state = SizeLf,
                    _ => return Err(BodyError("invalid chunk size line")),
                },
                Extension => {
                    if b == b'\r' {
                        self.state = SizeLf;
                    } else if b == b'\n' || (b < 0x20 && b != b'\t') || b == 0x7f {
                        return Err(BodyError("invalid byte in chunk extension"));
                    } else {
                        self.line += 1;
                        if self.line > MAX_LINE {
                            return Err(BodyError("chunk extension too long"));
                        }
                    }
                }
                SizeLf => {
                    if b != b'\n' {
                        return Err(BodyError("chunk size line not ended by CRLF"));
                    }
                    if self.size == 0 {
                        self.state = TrailerStart;
                    } else {
                        self.state = Data;
                    }
                }
                Data => {
                    if produced == out.len() {
                        break;
                    }
                    let n = ((input.len() - i).min(out.len() - produced) as u64).min(self.size)
                        as usize;
                    out[produced..produced + n].copy_from_slice(&input[i..i + n]);
                    produced += n;
                    self.size -= n as u64;
                    i += n;
                    if self.size == 0 {
                        self.state = DataCr;
                    }
                    continue;
                }
                DataCr => {
                    if b != b'\r' {
                        return Err(BodyError("chunk data not followed by CRLF"));
                    }
                    self.state = DataLf;
                }
                DataLf => {
                    if b != b'\n' {
                        return Err(BodyError("chunk data not followed by CRLF"));
                    }
                    self.state = Size;
                    self.digits = 0;
                    self.size = 0;
                }
                TrailerStart => {
                    if b == b'\r' {
                        self.state = EndLf;
                        self.size = 0;
                    } else {
                        self.state = Trailer;
                        self.trailer_line.clear();
                        self.trailer_line.push(b);
                        self.count_trailer_byte()?;
                    }
                }
                Trailer => {
                    if b == b'\r' {
                        self.state = TrailerLf;
                    } else {
                        self.trailer_line.push(b);
                        self.count_trailer_byte()?;
                        if self.trailer_line.len() > MAX_LINE {
                            return Err(BodyError("trailer line too long"));
                        }
                    }
                }
                TrailerLf => {
                    if b != b'\n' {
                        return Err(BodyError("trailer line not ended by CRLF"));
                    }
                    self.add_trailer(trailers)?;
                    self.state = TrailerStart;
                }
                EndLf => {
                    if b != b'\n' {
                        return Err(BodyError("chunked body not ended by CRLF"));
                    }
                    // `size == 1` marks the end for the caller.
                    self.size = 1;
                    return Ok((i + 1, produced));
                }
            }
            i += 1;
        }
        Ok((i, produced))
    }

    fn count_trailer_byte(&mut self) -> Result<(), BodyError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > MAX_TRAILERS {
            return Err(BodyError("trailer section too large"));
        }
        Ok(())
    }

    fn add_trailer(&mut self, trailers: &mut Headers) -> Result<(), BodyError> {
        let line = &self.trailer_line;
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(BodyError("trailer line without ':'"))?;
        let name =
            std::str::from_utf8(&line[..colon]).map_err(|_| BodyError("invalid trailer name"))?;
        let value = crate::header::typed::trim(&line[colon + 1..]);
        trailers
            .append(name, value)
            .map_err(|_| BodyError("invalid trailer field"))
    }
}

/// The request body as an [`io::Read`].
///
/// A read returns body bytes, `Ok(0)` once the body is complete, or
/// `WouldBlock` when none have arrived yet: return [`Next::read`](crate::Next::read)
/// and the engine calls again when more are here. A body cut short by the
/// peer reads as `UnexpectedEof`; bad chunk framing as `InvalidData`.
pub struct Decoder<'a> {
    pub(crate) io: &'a mut Io,
    pub(crate) body: &'a mut BodyDecoder,
    pub(crate) trailers: &'a mut Headers,
    /// A framing error seen while decoding, for the engine.
    pub(crate) error: &'a mut Option<&'static str>,
    pub(crate) buf_size: usize,
    /// The handler called `read` (so it made progress or learned it cannot).
    pub(crate) used: bool,
    /// A read returned end-of-body or an error.
    pub(crate) reported_end: bool,
    /// Body bytes handed to the handler during this call.
    pub(crate) delivered: u64,
}

impl Decoder<'_> {
    /// Whether the whole body has been read.
    pub fn is_eof(&self) -> bool {
        self.body.is_done()
    }

    /// Trailer fields of a chunked body, complete once [`is_eof`](Self::is_eof).
    pub fn trailers(&self) -> &Headers {
        self.trailers
    }

    fn fail(&mut self, why: &'static str) -> io::Error {
        *self.error = Some(why);
        io::Error::new(io::ErrorKind::InvalidData, why)
    }
}

impl io::Read for Decoder<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.used = true;
        let result = self.read_body(out);
        if let Ok(n) = result {
            self.delivered += n as u64;
        }
        match &result {
            Ok(0) if !out.is_empty() => self.reported_end = true,
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => self.reported_end = true,
            _ => {}
        }
        result
    }
}

impl Decoder<'_> {
    fn read_body(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(why) = *self.error {
            return Err(io::Error::new(io::ErrorKind::InvalidData, why));
        }
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.body.is_done() {
                return Ok(0);
            }
            if !self.io.read_buf.is_empty() {
                let (consumed, produced) =
                    match self
                        .body
                        .decode(self.io.read_buf.bytes(), out, self.trailers)
                    {
                        Ok(r) => r,
                        Err(BodyError(why)) => return Err(self.fail(why)),
                    };
                self.io.read_buf.consume(consumed);
                if produced > 0 || self.body.is_done() {
                    return Ok(produced);
                }
                continue;
            }
            if self.io.peer_eof {
                if matches!(self.body, BodyDecoder::Eof) {
                    *self.body = BodyDecoder::Done;
                    return Ok(0);
                }
                *self.error = Some("body cut short by the peer");
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if !self.io.readable {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            // A plain-length body goes straight into the caller's buffer.
            if let BodyDecoder::Length(remaining) = self.body {
                let n = (out.len() as u64).min(*remaining) as usize;
                match self.io.read_direct(&mut out[..n]) {
                    Ok(0) => {}
                    Ok(read) => {
                        *remaining -= read as u64;
                        if *remaining == 0 {
                            *self.body = BodyDecoder::Done;
                        }
                        return Ok(read);
                    }
                    Err(e) => return Err(e),
                }
                continue;
            }
            if !self.io.fill(self.buf_size, self.buf_size)? {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
    }
}

impl<'a> std::fmt::Debug for Decoder<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `split` bytes into an output buffer
    /// of `out_size`, as a socket might deliver it.
    fn decode_split(
        mut decoder: BodyDecoder,
        input: &[u8],
        split: usize,
        out_size: usize,
    ) -> Result<(Vec<u8>, usize, Headers), BodyError> {
        let mut body = Vec::new();
        let mut trailers = Headers::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut out = vec![0u8; out_size];
        while !decoder.is_done() {
            if pending.is_empty() || fed < input.len() {
                let end = (fed + split).min(input.len());
                pending.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            let (consumed, produced) = decoder.decode(&pending, &mut out, &mut trailers)?;
            body.extend_from_slice(&out[..produced]);
            pending.drain(..consumed);
            if consumed == 0 && produced == 0 && fed == input.len() {
                break;
            }
        }
        let leftover = pending.len() + (input.len() - fed);
        Ok((body, leftover, trailers))
    }

    const CHUNKED: &[u8] =
        b"5\r\nhello\r\n7;name=val;q=\"x\"\r\n, world\r\n0\r\nExpires: never\r\nX-Sum: 42\r\n\r\nNEXT";

    #[test]
    fn chunked_at_every_split_and_output_size() {
        for split in 1..=CHUNKED.len() {
            for out_size in [1, 2, 5, 64] {
                let (body, leftover, trailers) =
                    decode_split(BodyDecoder::chunked(), CHUNKED, split, out_size).unwrap();
                assert_eq!(body, b"hello, world", "split {split} out {out_size}");
                assert_eq!(leftover, 4, "the next request stays unread");
                assert_eq!(trailers.get("x-sum"), Some("42"));
                assert_eq!(trailers.get("expires"), Some("never"));
            }
        }
    }

    #[test]
    fn chunked_accepts_uppercase_hex_and_size_whitespace() {
        let (body, _, _) = decode_split(
            BodyDecoder::chunked(),
            b"A \t;ext\r\n0123456789\r\n0\r\n\r\n",
            3,
            8,
        )
        .unwrap();
        assert_eq!(body, b"0123456789");
    }

    #[test]
    fn chunked_refuses_bad_shapes() {
        let cases: &[&[u8]] = &[
            b"\r\n",                      // no size
            b"g\r\n",                     // not hex
            b"-1\r\n",                    // sign
            b"0x5\r\nhello\r\n0\r\n\r\n", // prefix
            b"5\nhello\r\n0\r\n\r\n",     // bare LF
            b"5\r\nhelloX\r\n0\r\n\r\n",  // data longer than size
            b"5\r\nhello\n0\r\n\r\n",     // bare LF after data
            b"10000000000000000\r\n",     // 17 digits: overflow
            b"5 5\r\nhello\r\n",          // space inside size
            b"5;a\x00b\r\nhello\r\n",     // control byte in extension
            b"0\r\nno-colon\r\n\r\n",     // malformed trailer
            b"0\r\nbad name: x\r\n\r\n",  // trailer name not a token
            b"0\r\n\r\r",                 // bad final CRLF
        ];
        for case in cases {
            let r = decode_split(BodyDecoder::chunked(), case, 1, 16);
            assert!(r.is_err(), "accepted {:?}", String::from_utf8_lossy(case));
        }
    }

    #[test]
    fn chunked_limits_extensions_and_trailers() {
        let mut long_ext = b"1;".to_vec();
        long_ext.extend(std::iter::repeat_n(b'a', MAX_LINE + 1));
        assert!(decode_split(BodyDecoder::chunked(), &long_ext, 100, 16).is_err());
        let mut many_trailers = b"0\r\n".to_vec();
        for i in 0..2000 {
            many_trailers.extend(format!("x-{i}: aaaaaaaa\r\n").as_bytes());
        }
        assert!(decode_split(BodyDecoder::chunked(), &many_trailers, 512, 16).is_err());
    }

    #[test]
    fn max_chunk_size_fits() {
        let mut d = BodyDecoder::chunked();
        let mut out = [0u8; 4];
        let (c, p) = d
            .decode(b"ffffffffffffffff\r\nabcd", &mut out, &mut Headers::new())
            .unwrap();
        assert_eq!((c, p), (22, 4));
    }

    #[test]
    fn length_stops_at_the_end() {
        for split in 1..8 {
            let (body, leftover, _) =
                decode_split(BodyDecoder::length(5), b"helloGET /", split, 3).unwrap();
            assert_eq!(body, b"hello");
            assert_eq!(leftover, 5);
        }
        assert!(BodyDecoder::length(0).is_done());
    }

    #[test]
    fn discard_skips_framing() {
        let mut d = BodyDecoder::chunked();
        let used = d.discard(CHUNKED).unwrap();
        assert!(d.is_done());
        assert_eq!(&CHUNKED[used..], b"NEXT");
    }
}
