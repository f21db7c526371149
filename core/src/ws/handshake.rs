//! The opening handshake's arithmetic (RFC 6455 §4): checking a client's
//! `Sec-WebSocket-Key` and computing the `Sec-WebSocket-Accept` that
//! proves the server read it.

use std::fmt;

use super::{Deflate, DeflateConfig};
use crate::header::{Headers, ListItems};
use crate::{Method, Request, ResponseHead, StatusCode, Version};

/// A valid opening handshake from a client (RFC 6455 §4.2.1), ready to be
/// answered.
///
/// ```
/// use turnstile_core::ws::Handshake;
/// use turnstile_core::{Request, ResponseHead, StatusCode};
///
/// let request = Request::parse(
///     b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///       Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///       Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n",
/// )
/// .unwrap();
/// let handshake = Handshake::from_request(&request).unwrap();
/// assert!(handshake.offers_protocol("chat"));
/// let mut head = ResponseHead::new();
/// handshake.accept(&mut head, Some("chat"));
/// assert_eq!(head.status(), StatusCode::SWITCHING_PROTOCOLS);
/// assert_eq!(head.headers().get("sec-websocket-accept"), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
/// ```
#[derive(Clone, Debug)]
pub struct Handshake {
    accept: String,
    protocols: Vec<String>,
    origin: Option<String>,
    extensions: Vec<String>,
}

/// Why a request is not a WebSocket handshake this server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// Another version of the protocol (or none): answer `426 Upgrade
    /// Required` with `Sec-WebSocket-Version: 13`.
    Version,
    /// Not a well-formed handshake: answer `400`.
    Malformed(&'static str),
}

impl HandshakeError {
    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            HandshakeError::Version => StatusCode::UPGRADE_REQUIRED,
            HandshakeError::Malformed(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// Sets the status and, for a version mismatch, the version this
    /// server speaks.
    pub fn write_to(&self, head: &mut ResponseHead) {
        head.set_status(self.status());
        if *self == HandshakeError::Version {
            let _ = head.headers_mut().set("sec-websocket-version", "13");
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Version => f.write_str("WebSocket version 13 is required"),
            HandshakeError::Malformed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for HandshakeError {}

fn has_token(headers: &Headers, name: &str, token: &[u8]) -> bool {
    ListItems::new(headers.get_all(name)).any(|item| item.eq_ignore_ascii_case(token))
}

impl Handshake {
    /// Checks `request` as an opening handshake.
    pub fn from_request(request: &Request) -> Result<Handshake, HandshakeError> {
        let headers = request.headers();
        if request.method() != Method::Get {
            return Err(HandshakeError::Malformed("a WebSocket handshake is a GET"));
        }
        if request.version() != Version::Http11 {
            return Err(HandshakeError::Malformed(
                "a WebSocket handshake needs HTTP/1.1",
            ));
        }
        if !has_token(headers, "upgrade", b"websocket") {
            return Err(HandshakeError::Malformed("no Upgrade: websocket"));
        }
        if !has_token(headers, "connection", b"upgrade") {
            return Err(HandshakeError::Malformed("no Connection: upgrade"));
        }
        let mut versions = headers.get_all("sec-websocket-version");
        match (versions.next(), versions.next()) {
            (Some(b"13"), None) => {}
            _ => return Err(HandshakeError::Version),
        }
        let mut keys = headers.get_all("sec-websocket-key");
        let key = match (keys.next(), keys.next()) {
            (Some(key), None) if is_valid_key(key) => key,
            _ => {
                return Err(HandshakeError::Malformed(
                    "missing or malformed Sec-WebSocket-Key",
                ))
            }
        };
        let protocols = ListItems::new(headers.get_all("sec-websocket-protocol"))
            .filter_map(|p| std::str::from_utf8(p).ok())
            .map(str::to_owned)
            .collect();
        Ok(Handshake {
            accept: accept_key(key),
            protocols,
            origin: headers.get("origin").map(str::to_owned),
            extensions: headers
                .get_all("sec-websocket-extensions")
                .filter_map(|v| std::str::from_utf8(v).ok())
                .map(str::to_owned)
                .collect(),
        })
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// Whether the client offers subprotocol `name`.
    pub fn offers_protocol(&self, name: &str) -> bool {
        self.protocols.iter().any(|p| p == name)
    }

    /// The page's origin, as the browser sent it (check it against the
    /// sites allowed to connect: browsers let any page open a WebSocket
    /// to any server, cookies included).
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The `Sec-WebSocket-Extensions` values the client sent.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// `permessage-deflate`, if the client offers it in a form `config`
    /// can honour: put its [`response_header`](Deflate::response_header)
    /// in the `101` and give it to [`WebSocket::with_deflate`](super::WebSocket::with_deflate).
    pub fn negotiate_deflate(&self, config: &DeflateConfig) -> Option<Deflate> {
        Deflate::negotiate(self.extensions.iter().map(String::as_str), config)
    }

    /// Writes the `101` answer, choosing `protocol` (one the client
    /// offered, or none).
    pub fn accept(&self, head: &mut ResponseHead, protocol: Option<&str>) {
        head.set_status(StatusCode::SWITCHING_PROTOCOLS);
        self.accept_headers(head.headers_mut(), protocol);
    }

    /// The header fields of the `101` answer (for a reply built elsewhere).
    pub fn accept_headers(&self, headers: &mut Headers, protocol: Option<&str>) {
        let _ = headers.set("upgrade", "websocket");
        let _ = headers.set("connection", "upgrade");
        let _ = headers.set("sec-websocket-accept", &self.accept);
        if let Some(protocol) = protocol.filter(|p| self.offers_protocol(p)) {
            let _ = headers.set("sec-websocket-protocol", protocol);
        }
    }
}

/// The GUID the RFC appends to the key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Whether `key` is what a client must send: the base64 of 16 bytes
/// (24 characters ending in `==`).
pub fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22].iter().all(|&b| base64_value(b).is_some())
        // 16 bytes leave 4 bits in the last character: they must be zero.
        && base64_value(key[21]).is_some_and(|v| v & 0x0f == 0)
}

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
///
/// ```
/// // The example of RFC 6455 §1.3.
/// assert_eq!(
///     turnstile_core::ws::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::default();
    sha.update(key);
    sha.update(GUID);
    base64(&sha.finish())
}

/// The `Sec-WebSocket-Key` a client sends, made from 16 random bytes.
pub fn client_key(seed: [u8; 16]) -> String {
    base64(&seed)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// SHA-1 (FIPS 180-4), which the handshake requires. Not for anything
/// that needs collision resistance: here it only proves the server read
/// the key.
#[derive(Clone)]
struct Sha1 {
    state: [u32; 5],
    block: [u8; 64],
    filled: usize,
    length: u64,
}

impl Default for Sha1 {
    fn default() -> Sha1 {
        Sha1 {
            state: [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0],
            block: [0; 64],
            filled: 0,
            length: 0,
        }
    }
}

impl Sha1 {
    fn update(&mut self, mut data: &[u8]) {
        self.length += data.len() as u64;
        while !data.is_empty() {
            let n = (64 - self.filled).min(data.len());
            self.block[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == 64 {
                let block = self.block;
                self.compress(&block);
                self.filled = 0;
            }
        }
    }

    fn finish(mut self) -> [u8; 20] {
        let bits = self.length * 8;
        self.update(&[0x80]);
        while self.filled != 56 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        let mut out = [0u8; 20];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    fn compress(&mut self, block: &[u8; 64]) {
        let mut w = [0u32; 80];
        for (i, chunk) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = self.state;
        for (i, &word) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (s, v) in self.state.iter_mut().zip([a, b, c, d, e]) {
            *s = s.wrapping_add(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn sha1(data: &[u8]) -> String {
        let mut s = Sha1::default();
        s.update(data);
        hex(&s.finish())
    }

    #[test]
    fn sha1_matches_the_standard_vectors() {
        assert_eq!(sha1(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            sha1(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        // A million 'a's, fed unevenly, crosses every block boundary case.
        let mut s = Sha1::default();
        let data = vec![b'a'; 1_000_000];
        for piece in data.chunks(997) {
            s.update(piece);
        }
        assert_eq!(hex(&s.finish()), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    }

    #[test]
    fn base64_pads_like_the_rfc() {
        for (raw, encoded) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw), encoded);
        }
    }

    #[test]
    fn keys_must_be_sixteen_bytes_of_base64() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_key(client_key([0xff; 16]).as_bytes()));
        for bad in [
            &b""[..],
            b"dGhlIHNhbXBsZSBub25jZQ=",   // short
            b"dGhlIHNhbXBsZSBub25jZQ===", // long
            b"dGhlIHNhbXBsZSBub25jZQ!=",  // not base64
            b"dGhlIHNhbXBsZSBub25jZR==",  // bits beyond 16 bytes
            b"dGhlIHNhbXBsZSBub25jZQAA",  // not 16 bytes
            b"dGhl IHNhbXBsZSBub25jZQ=",  // a space inside
        ] {
            assert!(!is_valid_key(bad), "{}", String::from_utf8_lossy(bad));
        }
    }
}
