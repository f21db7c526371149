//! HTTP/1.1 on the wire: reading request heads ([`parse`]), body framing in
//! ([`decode`]) and out ([`encode`]), and the cached `Date` value ([`date`]).
//!
//! Nothing here touches a socket directly except through the buffers and
//! transports the connection lends it, so every byte shape can be tested
//! without one.

pub(crate) mod date;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod parse;
pub(crate) mod response;

pub use decode::Decoder;
pub use encode::Encoder;
pub(crate) use parse::{parse_request, RequestHead};
pub use parse::{HeadLimits, ParseError};

/// Whether `b` may appear in a token (method, header name), RFC 9110 §5.6.2.
pub(crate) fn is_token_byte(b: u8) -> bool {
    TOKEN[b as usize]
}

/// The token bytes as a table: one load per byte on the header paths.
static TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
            b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z');
        b += 1;
    }
    table
};
