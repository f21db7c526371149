//! WebSocket (RFC 6455): the opening handshake's keys, frames, and a
//! [`MessageReader`] that turns received bytes into messages while
//! enforcing every rule of the protocol, all without I/O; then the server
//! side on the event loop ([`WebSocket`], a protocol an upgraded connection
//! switches to, see [`upgrade`](crate::upgrade)) and a blocking client
//! ([`WsClient`]).
//!
//! ```
//! use turnstile_core::ws::{write_message, Message, MessageReader, Role};
//!
//! // A client's masked "hi", read by a server.
//! let mut wire = Vec::new();
//! write_message(&mut wire, &Message::Text("hi".into()), Some([1, 2, 3, 4]));
//! let mut reader = MessageReader::new(Role::Server, 1 << 20);
//! let (used, message) = reader.read(&mut wire).unwrap();
//! assert_eq!(used, wire.len());
//! assert_eq!(message, Some(Message::Text("hi".into())));
//! ```

mod client;
mod deflate;
mod frame;
mod handshake;
mod sender;
mod socket;
mod utf8;

pub use client::{ConnectError, WsClient, WsClientBuilder};
pub use deflate::{Deflate, DeflateConfig};
pub use frame::{apply_mask, write_frame, write_header, BadFrame, FrameHeader, OpCode};
pub use handshake::{accept_key, client_key, is_valid_key, Handshake, HandshakeError};
pub use sender::{Prepared, SendError, WsGroup, WsSender};
pub use socket::{Socket, WebSocket, WsConfig, WsHandler};
pub use utf8::{InvalidUtf8, Utf8Stream};

use std::fmt;

use deflate::{Deflater, Inflater};

/// Which end of the connection this is: a server reads masked frames and
/// sends unmasked ones, a client the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The end that accepted the connection.
    Server,
    /// The end that opened it.
    Client,
}

/// A whole message, or a control frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Binary(Vec<u8>),
    /// A ping: answer with a pong carrying the same bytes.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The closing handshake, with the peer's code and reason if it gave one.
    Close(Option<CloseFrame>),
}

/// The code and reason of a close frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// Why (RFC 6455 §7.4): 1000 normal, 1001 going away, ...
    pub code: u16,
    /// A few words for people, UTF-8, at most 123 bytes.
    pub reason: String,
}

/// Close codes this crate sends.
pub mod close_code {
    /// The purpose was fulfilled.
    pub const NORMAL: u16 = 1000;
    /// The server goes down or the page goes away.
    pub const GOING_AWAY: u16 = 1001;
    /// A protocol rule was broken.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A message of a kind the endpoint does not take.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Text that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A policy was violated.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A message over the size limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The server met a condition it cannot serve through.
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// Whether a peer may send `code` in a close frame: the codes RFC 6455
/// defines for use on the wire, and the ranges for libraries (3000–3999)
/// and applications (4000–4999).
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

/// The peer broke the protocol: close with `code` and say `reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// The close code to send: 1002, 1007 or 1009.
    pub code: u16,
    /// What was wrong.
    pub reason: &'static str,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (close code {})", self.reason, self.code)
    }
}

impl std::error::Error for ProtocolError {}

fn protocol(reason: &'static str) -> ProtocolError {
    ProtocolError {
        code: close_code::PROTOCOL_ERROR,
        reason,
    }
}

/// Turns received bytes into messages, checking every rule as the bytes
/// arrive: masking by role, opcodes, control frames, fragmentation, the
/// size limit (as soon as a frame's header announces too much) and UTF-8
/// (at the first bad byte).
#[derive(Debug)]
pub struct MessageReader {
    role: Role,
    max_message: usize,
    /// The frame being read, and how much of its payload is in.
    frame: Option<FrameHeader>,
    frame_read: u64,
    /// The data message being put together (its kind, then its bytes).
    kind: Option<OpCode>,
    message: Vec<u8>,
    utf8: Utf8Stream,
    /// The payload of a control frame, which may come in pieces.
    control: Vec<u8>,
    /// permessage-deflate, when negotiated.
    inflater: Option<Inflater>,
    /// The message being read is compressed, and how many compressed bytes
    /// it has had (bounded like a plain message's, so that blocks which
    /// inflate to nothing cannot keep a message open for ever).
    compressed: bool,
    compressed_in: u64,
}

impl MessageReader {
    /// A reader for `role` refusing messages over `max_message` bytes.
    pub fn new(role: Role, max_message: usize) -> MessageReader {
        MessageReader {
            role,
            max_message,
            frame: None,
            frame_read: 0,
            kind: None,
            message: Vec::new(),
            utf8: Utf8Stream::default(),
            control: Vec::new(),
            inflater: None,
            compressed: false,
            compressed_in: 0,
        }
    }

    /// Reads messages compressed by `permessage-deflate` (RSV1) too, as
    /// `agreed` in the handshake.
    pub fn with_deflate(mut self, agreed: &Deflate) -> MessageReader {
        self.inflater = Some(match self.role {
            Role::Server => Inflater::server(agreed),
            Role::Client => Inflater::client(agreed),
        });
        self
    }

    /// Bytes of the message being put together: what a slow sender of a
    /// large message costs the reader.
    pub fn buffered(&self) -> usize {
        self.message.capacity() + self.control.capacity()
    }

    /// Reads from the start of `buf` (unmasking it in place) up to the end
    /// of the next message: how many bytes it used, and the message if one
    /// ended. Call again with the rest while it uses bytes.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<(usize, Option<Message>), ProtocolError> {
        let mut used = 0;
        loop {
            let frame = match self.frame {
                Some(frame) => frame,
                None => match FrameHeader::parse(&buf[used..]) {
                    Ok(Some((frame, len))) => {
                        self.begin(&frame)?;
                        used += len;
                        self.frame = Some(frame);
                        self.frame_read = 0;
                        frame
                    }
                    Ok(None) => return Ok((used, None)),
                    Err(BadFrame(reason)) => return Err(protocol(reason)),
                },
            };
            let left = frame.len - self.frame_read;
            let take = (buf.len() - used).min(usize::try_from(left).unwrap_or(usize::MAX));
            let piece = &mut buf[used..used + take];
            if let Some(mask) = frame.mask {
                apply_mask(piece, mask, (self.frame_read % 4) as usize);
            }
            if frame.opcode.is_control() {
                self.control.extend_from_slice(piece);
            } else if self.compressed {
                self.compressed_in += take as u64;
                self.inflate(piece, false)?;
            } else {
                if self.kind == Some(OpCode::Text) && self.utf8.feed(piece).is_err() {
                    return Err(invalid_utf8());
                }
                self.message.extend_from_slice(piece);
            }
            used += take;
            self.frame_read += take as u64;
            if self.frame_read < frame.len {
                return Ok((used, None));
            }
            self.frame = None;
            if let Some(message) = self.end_frame(&frame)? {
                return Ok((used, Some(message)));
            }
        }
    }

    /// Checks a frame's header against the role, the message in progress
    /// and the size limit, before any of its payload is read.
    fn begin(&mut self, frame: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, frame.mask.is_some()) {
            (Role::Server, false) => return Err(protocol("unmasked frame from a client")),
            (Role::Client, true) => return Err(protocol("masked frame from a server")),
            _ => {}
        }
        if frame.rsv1 {
            if self.inflater.is_none() {
                return Err(protocol("reserved bits set without an extension"));
            }
            if !matches!(frame.opcode, OpCode::Text | OpCode::Binary) {
                return Err(protocol("RSV1 on a continuation or control frame"));
            }
        }
        match frame.opcode {
            OpCode::Continuation if self.kind.is_none() => {
                return Err(protocol("continuation frame without a message"))
            }
            OpCode::Text | OpCode::Binary if self.kind.is_some() => {
                return Err(protocol("a new message inside a fragmented one"))
            }
            OpCode::Text | OpCode::Binary => {
                self.kind = Some(frame.opcode);
                self.utf8.reset();
                self.compressed = frame.rsv1;
                self.compressed_in = 0;
            }
            _ => {}
        }
        // Compressed bytes may be a little longer than what they inflate to
        // (incompressible data); the inflated size is checked as it grows.
        let room = if self.compressed {
            let bound = self
                .max_message
                .saturating_add(self.max_message / 16)
                .saturating_add(1024);
            (bound as u64).saturating_sub(self.compressed_in)
        } else {
            (self.max_message - self.message.len()) as u64
        };
        if !frame.opcode.is_control() && frame.len > room {
            return Err(ProtocolError {
                code: close_code::MESSAGE_TOO_BIG,
                reason: "message over the size limit",
            });
        }
        Ok(())
    }

    /// A frame's payload is all in: the message it ends, if any.
    fn end_frame(&mut self, frame: &FrameHeader) -> Result<Option<Message>, ProtocolError> {
        let message = match frame.opcode {
            OpCode::Ping => Message::Ping(std::mem::take(&mut self.control)),
            OpCode::Pong => Message::Pong(std::mem::take(&mut self.control)),
            OpCode::Close => Message::Close(parse_close(&std::mem::take(&mut self.control))?),
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if self.compressed && frame.fin {
                    self.inflate(&[], true)?;
                }
                if !frame.fin {
                    return Ok(None);
                }
                self.compressed = false;
                let bytes = std::mem::take(&mut self.message);
                match self.kind.take() {
                    Some(OpCode::Text) => {
                        if !self.utf8.is_complete() {
                            return Err(invalid_utf8());
                        }
                        Message::Text(String::from_utf8(bytes).map_err(|_| invalid_utf8())?)
                    }
                    _ => Message::Binary(bytes),
                }
            }
        };
        Ok(Some(message))
    }
}

impl MessageReader {
    /// Inflates compressed bytes as they arrive onto the message (`last`
    /// at its end), checking new text at once: nothing compressed is kept,
    /// and a bad byte fails as soon as it inflates.
    fn inflate(&mut self, compressed: &[u8], last: bool) -> Result<(), ProtocolError> {
        let Some(inflater) = &mut self.inflater else {
            return Ok(());
        };
        let start = self.message.len();
        inflater.inflate(compressed, last, &mut self.message, self.max_message)?;
        if self.kind == Some(OpCode::Text) && self.utf8.feed(&self.message[start..]).is_err() {
            return Err(invalid_utf8());
        }
        Ok(())
    }
}

/// Appends `message` as one frame, compressed by `deflater` when it is a
/// data message worth compressing.
pub(crate) fn write_message_with(
    out: &mut Vec<u8>,
    message: &Message,
    mask: Option<[u8; 4]>,
    deflater: Option<&mut Deflater>,
) {
    let (opcode, payload) = match message {
        Message::Text(text) => (OpCode::Text, text.as_bytes()),
        Message::Binary(bytes) => (OpCode::Binary, bytes.as_slice()),
        _ => return write_message(out, message, mask),
    };
    match deflater {
        Some(deflater) if deflater.wants(payload.len()) => {
            let mut compressed = Vec::new();
            deflater.compress(payload, &mut compressed);
            frame::write_header_with(out, true, true, opcode, compressed.len(), mask);
            let start = out.len();
            out.extend_from_slice(&compressed);
            if let Some(mask) = mask {
                apply_mask(&mut out[start..], mask, 0);
            }
        }
        _ => write_frame(out, true, opcode, payload, mask),
    }
}

fn invalid_utf8() -> ProtocolError {
    ProtocolError {
        code: close_code::INVALID_PAYLOAD,
        reason: "text that is not UTF-8",
    }
}

fn parse_close(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
    match payload {
        [] => Ok(None),
        [_] => Err(protocol("close frame with a one-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(protocol("close code not allowed on the wire"));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| invalid_utf8())?;
            Ok(Some(CloseFrame {
                code,
                reason: reason.to_owned(),
            }))
        }
    }
}

/// Appends `message` as one frame, masked with `mask` (a client must mask,
/// a server must not). A ping or pong payload is cut to the 125 bytes a
/// control frame holds.
pub fn write_message(out: &mut Vec<u8>, message: &Message, mask: Option<[u8; 4]>) {
    let control = |bytes: &[u8]| bytes.len().min(125);
    let (opcode, payload): (OpCode, &[u8]) = match message {
        Message::Text(text) => (OpCode::Text, text.as_bytes()),
        Message::Binary(bytes) => (OpCode::Binary, bytes),
        Message::Ping(bytes) => (OpCode::Ping, &bytes[..control(bytes)]),
        Message::Pong(bytes) => (OpCode::Pong, &bytes[..control(bytes)]),
        Message::Close(None) => (OpCode::Close, &[]),
        Message::Close(Some(close)) => {
            write_close(out, close.code, &close.reason, mask);
            return;
        }
    };
    write_frame(out, true, opcode, payload, mask);
}

/// Appends a close frame with `code` and as much of `reason` as fits in
/// the 123 bytes a control frame leaves (cut at a character boundary).
pub fn write_close(out: &mut Vec<u8>, code: u16, reason: &str, mask: Option<[u8; 4]>) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = Vec::with_capacity(2 + end);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    write_frame(out, true, OpCode::Close, &payload, mask);
}

#[cfg(test)]
mod tests;
