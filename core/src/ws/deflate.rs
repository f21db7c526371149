//! `permessage-deflate` (RFC 7692): the negotiation of its parameters in
//! the handshake, and the compression of whole messages.
//!
//! Each compressed message is one raw DEFLATE stream piece ended by a sync
//! flush, without its final `00 00 ff ff`, and marked with RSV1 on its
//! first frame. With context takeover (the default) the window carries over
//! from one message to the next, which is what makes small similar messages
//! (chat lines, JSON updates) compress well, at the price of keeping a
//! compressor (about 256 KiB at a 15-bit window) and a decompressor (about
//! 40 KiB) per socket; both are made on first use.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{close_code, ProtocolError};

/// What the server accepts of `permessage-deflate`; off unless set in
/// [`WsConfig::deflate`](super::WsConfig::deflate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Compression level, 0–9 (default 6, zlib's).
    pub level: u32,
    /// Forget the window after each message we send: the compressor's
    /// memory is freed between messages (and a new one made per message),
    /// at the price of worse compression of similar messages.
    pub server_no_context_takeover: bool,
    /// Ask the client to forget its window after each message.
    pub client_no_context_takeover: bool,
    /// The largest window (9–15 bits) our compressor uses; a client may ask
    /// for a smaller one.
    pub server_max_window_bits: u8,
    /// Messages smaller than this go uncompressed (deflate's framing costs
    /// more than it saves on a few bytes).
    pub min_size: usize,
}

impl Default for DeflateConfig {
    fn default() -> DeflateConfig {
        DeflateConfig {
            level: 6,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            min_size: 32,
        }
    }
}

/// The parameters both ends agreed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deflate {
    level: u32,
    min_size: usize,
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: u8,
    /// The offer named `server_max_window_bits`: the answer must too.
    server_bits_offered: bool,
    /// `Some` when the client offered `client_max_window_bits` (we always
    /// inflate with a full window, so we never lower it).
    client_max_window_bits: Option<u8>,
}

/// One offer's parameters, as the client wrote them.
#[derive(Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: Option<Option<u8>>,
}

impl Offer {
    /// Parses `; name[=value]` parameters; `None` for anything RFC 7692
    /// does not allow (an unknown or repeated parameter, a bad value),
    /// which declines the offer.
    fn parse<'a>(params: impl Iterator<Item = &'a str>) -> Option<Offer> {
        let mut offer = Offer::default();
        let mut seen = [false; 4];
        for param in params {
            let (name, value) = match param.split_once('=') {
                Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
                None => (param.trim(), None),
            };
            let bits = |value: Option<&str>| -> Option<u8> {
                let value = value?;
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                value.parse().ok().filter(|b| (8..=15).contains(b))
            };
            let slot = match name.to_ascii_lowercase().as_str() {
                "server_no_context_takeover" if value.is_none() => {
                    offer.server_no_context_takeover = true;
                    0
                }
                "client_no_context_takeover" if value.is_none() => {
                    offer.client_no_context_takeover = true;
                    1
                }
                "server_max_window_bits" => {
                    offer.server_max_window_bits = Some(bits(value)?);
                    2
                }
                "client_max_window_bits" => {
                    offer.client_max_window_bits = Some(match value {
                        None => None,
                        value => Some(bits(value)?),
                    });
                    3
                }
                _ => return None,
            };
            if std::mem::replace(&mut seen[slot], true) {
                return None;
            }
        }
        Some(offer)
    }
}

impl Deflate {
    /// Picks the first `permessage-deflate` offer in the client's
    /// `Sec-WebSocket-Extensions` values that `config` can honour.
    ///
    /// ```
    /// use turnstile_core::ws::{Deflate, DeflateConfig};
    ///
    /// let offers = ["permessage-deflate; client_max_window_bits"];
    /// let agreed = Deflate::negotiate(offers, &DeflateConfig::default()).unwrap();
    /// assert_eq!(agreed.response_header(), "permessage-deflate; client_max_window_bits=15");
    /// // A window of 8 bits is more than zlib can promise: declined.
    /// let small = ["permessage-deflate; server_max_window_bits=8"];
    /// assert!(Deflate::negotiate(small, &DeflateConfig::default()).is_none());
    /// ```
    pub fn negotiate<'a>(
        values: impl IntoIterator<Item = &'a str>,
        config: &DeflateConfig,
    ) -> Option<Deflate> {
        let own_bits = config.server_max_window_bits.clamp(9, 15);
        values
            .into_iter()
            .flat_map(|value| value.split(','))
            .filter_map(|extension| {
                let mut parts = extension.split(';');
                let name = parts.next()?.trim();
                if !name.eq_ignore_ascii_case("permessage-deflate") {
                    return None;
                }
                Offer::parse(parts)
            })
            .find_map(|offer| {
                let server_max_window_bits = match offer.server_max_window_bits {
                    // zlib cannot keep to an 8-bit window.
                    Some(8) => return None,
                    Some(asked) => asked.min(own_bits),
                    None => own_bits,
                };
                Some(Deflate {
                    level: config.level.min(9),
                    min_size: config.min_size,
                    server_no_context_takeover: offer.server_no_context_takeover
                        || config.server_no_context_takeover,
                    client_no_context_takeover: offer.client_no_context_takeover
                        || config.client_no_context_takeover,
                    server_max_window_bits,
                    server_bits_offered: offer.server_max_window_bits.is_some(),
                    client_max_window_bits: offer.client_max_window_bits.map(|b| b.unwrap_or(15)),
                })
            })
    }

    /// The `Sec-WebSocket-Extensions` value of the `101` answer.
    pub fn response_header(&self) -> String {
        let mut value = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            value.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            value.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 || self.server_bits_offered {
            value.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if let Some(bits) = self.client_max_window_bits {
            value.push_str(&format!("; client_max_window_bits={bits}"));
        }
        value
    }

    /// A client's agreement, read from the server's answer to our plain
    /// offer (`permessage-deflate; client_max_window_bits`): `None` when
    /// the answer asks for something we did not offer or cannot do.
    pub(crate) fn from_answer(value: &str) -> Option<Deflate> {
        let mut parts = value.split(';');
        if !parts
            .next()?
            .trim()
            .eq_ignore_ascii_case("permessage-deflate")
        {
            return None;
        }
        let answer = Offer::parse(parts)?;
        Some(Deflate {
            level: 6,
            min_size: 32,
            // Seen from the client: "server" is the peer, "client" is us.
            server_no_context_takeover: answer.server_no_context_takeover,
            client_no_context_takeover: answer.client_no_context_takeover,
            server_max_window_bits: answer.server_max_window_bits.unwrap_or(15),
            server_bits_offered: answer.server_max_window_bits.is_some(),
            client_max_window_bits: match answer.client_max_window_bits {
                Some(None) => return None,
                Some(Some(8)) => return None,
                Some(Some(bits)) => Some(bits),
                None => None,
            },
        })
    }
}

/// The compressing half, for the end that sends.
#[derive(Debug)]
pub(crate) struct Deflater {
    compress: Option<Compress>,
    level: u32,
    window_bits: u8,
    no_context_takeover: bool,
    min_size: usize,
}

impl Deflater {
    /// The server's compressor.
    pub(crate) fn server(agreed: &Deflate) -> Deflater {
        Deflater {
            compress: None,
            level: agreed.level,
            window_bits: agreed.server_max_window_bits.max(9),
            no_context_takeover: agreed.server_no_context_takeover,
            min_size: agreed.min_size,
        }
    }

    /// The client's compressor.
    pub(crate) fn client(agreed: &Deflate) -> Deflater {
        Deflater {
            compress: None,
            level: agreed.level,
            window_bits: agreed.client_max_window_bits.unwrap_or(15).max(9),
            no_context_takeover: agreed.client_no_context_takeover,
            min_size: agreed.min_size,
        }
    }

    /// Whether a payload this long is worth compressing.
    pub(crate) fn wants(&self, len: usize) -> bool {
        len >= self.min_size
    }

    /// Appends `payload` compressed to `out`.
    pub(crate) fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let (level, bits) = (self.level, self.window_bits);
        let compress = self.compress.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        let start_in = compress.total_in();
        let start = out.len();
        loop {
            out.reserve(payload.len() / 2 + 64);
            let consumed = (compress.total_in() - start_in) as usize;
            // Fails only on a misused stream; stop rather than spin.
            if compress
                .compress_vec(&payload[consumed..], out, FlushCompress::Sync)
                .is_err()
            {
                log::error!("permessage-deflate: the compressor failed");
                break;
            }
            let consumed = (compress.total_in() - start_in) as usize;
            // A sync flush is complete once it stops short of the space.
            if consumed == payload.len() && out.len() < out.capacity() {
                break;
            }
        }
        if out[start..].ends_with(&[0, 0, 0xff, 0xff]) {
            out.truncate(out.len() - 4);
        }
        if self.no_context_takeover {
            // Dropped rather than reset: its memory goes back between messages.
            self.compress = None;
        }
    }
}

/// The decompressing half, for the end that receives.
#[derive(Debug)]
pub(crate) struct Inflater {
    decompress: Option<Decompress>,
    no_context_takeover: bool,
    /// The message's DEFLATE stream ended (a final block): the rest of it
    /// is ignored and the next message starts a new stream.
    ended: bool,
}

impl Inflater {
    /// The server's decompressor (for the client's messages).
    pub(crate) fn server(agreed: &Deflate) -> Inflater {
        Inflater {
            decompress: None,
            no_context_takeover: agreed.client_no_context_takeover,
            ended: false,
        }
    }

    /// The client's decompressor (for the server's messages).
    pub(crate) fn client(agreed: &Deflate) -> Inflater {
        Inflater {
            decompress: None,
            no_context_takeover: agreed.server_no_context_takeover,
            ended: false,
        }
    }

    /// Inflates one frame's worth of a compressed message onto `out`,
    /// refusing to let `out` grow past `limit`; `last` on the message's
    /// final frame (which ends the flushed stream piece).
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        let decompress = self
            .decompress
            .get_or_insert_with(|| Decompress::new(false));
        if !self.ended {
            self.ended = feed(decompress, input, out, limit)?;
        }
        if last {
            if !self.ended {
                feed(decompress, &[0, 0, 0xff, 0xff], out, limit)?;
            }
            if self.no_context_takeover {
                self.decompress = None;
            } else if self.ended {
                decompress.reset(false);
            }
            self.ended = false;
        }
        Ok(())
    }
}

/// Inflates `input` onto `out` (at most `limit` bytes in all): `true` when
/// the stream ended with a final block.
fn feed(
    decompress: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, ProtocolError> {
    let too_big = ProtocolError {
        code: close_code::MESSAGE_TOO_BIG,
        reason: "message over the size limit",
    };
    let start_in = decompress.total_in();
    loop {
        if out.len() > limit {
            return Err(too_big);
        }
        if out.len() == out.capacity() {
            // One byte past the limit tells "exactly the limit" from "over".
            let room = out.len().max(input.len() * 2).max(4096);
            out.reserve_exact(room.min(limit.saturating_add(1) - out.len()));
        }
        let consumed = (decompress.total_in() - start_in) as usize;
        let before_out = out.len();
        let status = decompress
            .decompress_vec(&input[consumed..], out, FlushDecompress::Sync)
            .map_err(|_| ProtocolError {
                code: close_code::INVALID_PAYLOAD,
                reason: "compressed data that does not inflate",
            })?;
        if out.len() > limit {
            return Err(too_big);
        }
        if status == Status::StreamEnd {
            // The sender ended its stream with a final block (RFC 7692
            // §7.2.3.4): the next message starts a new one.
            return Ok(true);
        }
        let taken = (decompress.total_in() - start_in) as usize;
        if out.len() < out.capacity() {
            if taken == input.len() {
                return Ok(false);
            }
            if taken == consumed && out.len() == before_out {
                return Err(ProtocolError {
                    code: close_code::INVALID_PAYLOAD,
                    reason: "compressed data that does not inflate",
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{write_message_with, Message, MessageReader, Role};
    use super::*;

    fn agreed(offer: &str) -> Option<Deflate> {
        Deflate::negotiate([offer], &DeflateConfig::default())
    }

    #[test]
    fn negotiation_takes_the_first_offer_it_can_honour() {
        let table: &[(&str, Option<&str>)] = &[
            ("permessage-deflate", Some("permessage-deflate")),
            (
                "permessage-deflate; client_max_window_bits",
                Some("permessage-deflate; client_max_window_bits=15"),
            ),
            (
                "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
                Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"),
            ),
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            ),
            (
                "permessage-deflate; server_max_window_bits=15",
                Some("permessage-deflate; server_max_window_bits=15"),
            ),
            (
                "permessage-deflate; server_max_window_bits=\"11\"",
                Some("permessage-deflate; server_max_window_bits=11"),
            ),
            // Declined: zlib's smallest window, unknown or repeated or
            // malformed parameters, other extensions.
            ("permessage-deflate; server_max_window_bits=8", None),
            ("permessage-deflate; server_max_window_bits", None),
            ("permessage-deflate; server_max_window_bits=16", None),
            ("permessage-deflate; client_max_window_bits=7", None),
            ("permessage-deflate; server_no_context_takeover=1", None),
            ("permessage-deflate; mystery", None),
            (
                "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                None,
            ),
            ("x-webkit-deflate-frame", None),
            (
                "permessage-deflate; server_max_window_bits=8, permessage-deflate",
                Some("permessage-deflate"),
            ),
        ];
        for (offer, want) in table {
            let got = agreed(offer).map(|d| d.response_header());
            assert_eq!(got.as_deref(), *want, "{offer}");
        }
        let config = DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        assert_eq!(
            Deflate::negotiate(["permessage-deflate"], &config)
                .unwrap()
                .response_header(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10"
        );
    }

    fn server_reader() -> MessageReader {
        MessageReader::new(Role::Client, 1 << 20)
            .with_deflate(&agreed("permessage-deflate").unwrap())
    }

    fn read_all(reader: &mut MessageReader, wire: &[u8]) -> Vec<Message> {
        let mut wire = wire.to_vec();
        let mut at = 0;
        let mut messages = Vec::new();
        while at < wire.len() {
            let (used, message) = reader.read(&mut wire[at..]).unwrap();
            at += used;
            messages.extend(message);
            assert!(used > 0 || at == wire.len());
        }
        messages
    }

    fn read_until_error(reader: &mut MessageReader, wire: &mut [u8]) -> ProtocolError {
        let mut at = 0;
        loop {
            match reader.read(&mut wire[at..]) {
                Ok((used, _)) => {
                    assert!(used > 0, "the input ran out without an error");
                    at += used;
                }
                Err(error) => return error,
            }
        }
    }

    #[test]
    fn the_examples_of_rfc_7692_inflate_to_hello() {
        let hello = || Message::Text("Hello".into());
        // §7.2.3.1 one frame; §7.2.3.2 the same again, sharing the window.
        let mut reader = server_reader();
        assert_eq!(
            read_all(
                &mut reader,
                &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
            ),
            [hello()]
        );
        let mut reader = server_reader();
        let wire = [
            &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00][..],
            &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00],
        ]
        .concat();
        assert_eq!(read_all(&mut reader, &wire), [hello(), hello()]);
        // §7.2.3.1 fragmented; §7.2.3.3 a stored block; §7.2.3.4 BFINAL.
        let wire = [
            &[
                0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
            ][..],
            &[
                0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ],
            &[0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        ]
        .concat();
        let mut reader = server_reader();
        assert_eq!(
            read_all(&mut reader, &wire),
            [hello(), hello(), hello(), hello()]
        );
    }

    #[test]
    fn messages_round_trip_with_and_without_context_takeover() {
        for offer in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
        ] {
            let deal = agreed(offer).unwrap();
            let mut sender = Deflater::server(&deal);
            let mut reader = MessageReader::new(Role::Client, 1 << 20).with_deflate(&deal);
            let line = r#"{"user":"alice","text":"hello, everybody in the room"}"#;
            let messages = [
                Message::Text(line.into()),
                Message::Text(line.into()),
                // A period short enough for a 9-bit window's reach.
                Message::Binary((0..100_000u32).map(|i| (i * 7 % 101) as u8).collect()),
                Message::Text("short".into()),
                Message::Text(String::new()),
            ];
            let mut wire = Vec::new();
            let mut sizes = Vec::new();
            for message in &messages {
                let before = wire.len();
                write_message_with(&mut wire, message, None, Some(&mut sender));
                sizes.push(wire.len() - before);
            }
            assert_eq!(read_all(&mut reader, &wire), messages, "{offer}");
            assert!(sizes[2] < 100_000 / 3, "compressed: {sizes:?}");
            if !offer.contains("no_context") {
                assert!(
                    sizes[1] < sizes[0] / 2,
                    "the window carries over: {sizes:?}"
                );
            }
            assert_eq!(
                wire[sizes[..3].iter().sum::<usize>()] & 0x40,
                0,
                "short goes plain"
            );
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused_at_the_limit_and_bad_data_with_1007() {
        let deal = agreed("permessage-deflate").unwrap();
        let mut sender = Deflater::server(&deal);
        let mut wire = Vec::new();
        write_message_with(
            &mut wire,
            &Message::Binary(vec![0; 4 << 20]),
            None,
            Some(&mut sender),
        );
        assert!(wire.len() < 64 * 1024, "zeros compress: {}", wire.len());
        let mut reader = server_reader();
        let error = reader.read(&mut wire).unwrap_err();
        assert_eq!(error.code, 1009, "{error}");

        // Exactly the limit is fine.
        let mut reader = MessageReader::new(Role::Client, 4096).with_deflate(&deal);
        let mut wire = Vec::new();
        write_message_with(
            &mut wire,
            &Message::Binary(vec![1; 4096]),
            None,
            Some(&mut Deflater::server(&deal)),
        );
        assert_eq!(
            read_all(&mut reader, &wire),
            [Message::Binary(vec![1; 4096])]
        );
        // Blocks that inflate to nothing cannot keep a message open: the
        // compressed bytes are bounded too (an empty stored block is
        // `00 00 00 ff ff`).
        let mut reader = MessageReader::new(Role::Client, 1024).with_deflate(&deal);
        let mut endless = vec![0x42, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff];
        for _ in 0..1000 {
            endless.extend_from_slice(&[0x00, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff]);
        }
        let error = read_until_error(&mut reader, &mut endless);
        assert_eq!(error.code, 1009, "{error}");

        let mut reader = server_reader();
        let mut garbage = vec![0xc1, 0x04, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(reader.read(&mut garbage).unwrap_err().code, 1007);
        // Compressed text that inflates to bad UTF-8.
        let mut bad_text = Vec::new();
        let mut fresh = Deflater::server(&deal);
        write_message_with(
            &mut bad_text,
            &Message::Binary([b"valid start ".repeat(4), vec![0xff, 0xfe]].concat()),
            None,
            Some(&mut fresh),
        );
        bad_text[0] = 0xc1; // say it is text
        assert_eq!(server_reader().read(&mut bad_text).unwrap_err().code, 1007);
    }

    #[test]
    fn rsv1_needs_the_extension_and_a_first_data_frame() {
        let mut plain = MessageReader::new(Role::Client, 1024);
        let mut frame = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(plain.read(&mut frame).unwrap_err().code, 1002);
        let mut continuation = [0x41, 0x01, 0xf2, 0xc0, 0x01, 0x48];
        assert_eq!(
            server_reader().read(&mut continuation).unwrap_err().code,
            1002
        );
        let mut ping = [0xc9, 0x00];
        assert_eq!(server_reader().read(&mut ping).unwrap_err().code, 1002);
    }
}
