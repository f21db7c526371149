//! Frames on the wire (RFC 6455 §5.2): the header, masking, and writing.

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// The next piece of a fragmented message.
    Continuation,
    /// (The first piece of) a text message.
    Text,
    /// (The first piece of) a binary message.
    Binary,
    /// The closing handshake.
    Close,
    /// A ping, answered by a pong with the same payload.
    Ping,
    /// A pong.
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong: never fragmented, at most 125 bytes.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A frame's header, as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The last frame of its message.
    pub fin: bool,
    /// RSV1 (set by permessage-deflate on a compressed message's first frame).
    pub rsv1: bool,
    /// What it carries.
    pub opcode: OpCode,
    /// The client's masking key, if masked.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub len: u64,
}

/// Why a header was refused; each is a protocol error (close code 1002).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadFrame(pub &'static str);

impl FrameHeader {
    /// Reads a header from the start of `buf`: `Ok(None)` until all of it
    /// is there, else the header and how many bytes it took.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, BadFrame> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        // RSV2 and RSV3 belong to no extension this crate speaks.
        if b0 & 0x30 != 0 {
            return Err(BadFrame("reserved bits set without an extension"));
        }
        let opcode = OpCode::from_bits(b0 & 0x0f).ok_or(BadFrame("reserved opcode"))?;
        let fin = b0 & 0x80 != 0;
        let rsv1 = b0 & 0x40 != 0;
        let masked = b1 & 0x80 != 0;
        let (len, mut at) = match b1 & 0x7f {
            126 => {
                let Some(bytes) = buf.get(2..4) else {
                    return Ok(None);
                };
                let len = u16::from_be_bytes([bytes[0], bytes[1]]) as u64;
                if len < 126 {
                    return Err(BadFrame("length not in its shortest form"));
                }
                (len, 4)
            }
            127 => {
                let Some(bytes) = buf.get(2..10) else {
                    return Ok(None);
                };
                let mut word = [0u8; 8];
                word.copy_from_slice(bytes);
                let len = u64::from_be_bytes(word);
                if len >> 63 != 0 {
                    return Err(BadFrame("length with its top bit set"));
                }
                if len <= u16::MAX as u64 {
                    return Err(BadFrame("length not in its shortest form"));
                }
                (len, 10)
            }
            short => (short as u64, 2),
        };
        if opcode.is_control() {
            if !fin {
                return Err(BadFrame("fragmented control frame"));
            }
            if len > 125 {
                return Err(BadFrame("control frame over 125 bytes"));
            }
        }
        let mask = if masked {
            let Some(bytes) = buf.get(at..at + 4) else {
                return Ok(None);
            };
            at += 4;
            Some([bytes[0], bytes[1], bytes[2], bytes[3]])
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin,
                rsv1,
                opcode,
                mask,
                len,
            },
            at,
        )))
    }
}

/// XORs `data` with `mask`, `offset` bytes into the payload (masking and
/// unmasking are the same). Eight bytes at a time: payloads can be large.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = [0u8; 4];
    for (i, k) in key.iter_mut().enumerate() {
        *k = mask[(offset + i) % 4];
    }
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Appends a frame's header to `out`: `fin`, `opcode`, the payload length,
/// and the masking key a client must send (`None` from a server).
pub fn write_header(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: OpCode,
    len: usize,
    mask: Option<[u8; 4]>,
) {
    write_header_with(out, fin, false, opcode, len, mask);
}

/// As [`write_header`], with RSV1 (a message compressed by
/// permessage-deflate).
pub(crate) fn write_header_with(
    out: &mut Vec<u8>,
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    len: usize,
    mask: Option<[u8; 4]>,
) {
    let b0 = (fin as u8) << 7 | (rsv1 as u8) << 6 | opcode.bits();
    let masked = (mask.is_some() as u8) << 7;
    if len < 126 {
        out.extend_from_slice(&[b0, masked | len as u8]);
    } else if len <= u16::MAX as usize {
        out.extend_from_slice(&[b0, masked | 126]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[b0, masked | 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(mask) = mask {
        out.extend_from_slice(&mask);
    }
}

/// Appends a whole frame: header, then `payload` (masked when `mask` is set).
pub fn write_frame(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    write_header(out, fin, opcode, payload.len(), mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(&mut out[start..], mask, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_at_every_length_form() {
        for len in [0usize, 1, 125, 126, 65_535, 65_536, 1 << 24] {
            for mask in [None, Some([1, 2, 3, 4])] {
                for (fin, opcode) in [
                    (true, OpCode::Text),
                    (false, OpCode::Binary),
                    (true, OpCode::Continuation),
                ] {
                    let mut out = Vec::new();
                    write_header(&mut out, fin, opcode, len, mask);
                    let (header, used) = FrameHeader::parse(&out).unwrap().unwrap();
                    assert_eq!(used, out.len());
                    assert_eq!(
                        header,
                        FrameHeader {
                            fin,
                            rsv1: false,
                            opcode,
                            mask,
                            len: len as u64
                        }
                    );
                    // Any shorter prefix asks for more.
                    for cut in 0..out.len() {
                        assert_eq!(
                            FrameHeader::parse(&out[..cut]),
                            Ok(None),
                            "len {len} cut {cut}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_what_the_rfc_forbids() {
        let refused = |bytes: &[u8]| FrameHeader::parse(bytes).unwrap_err().0;
        // RSV1 is the extension's to judge (permessage-deflate uses it).
        assert!(
            FrameHeader::parse(&[0x81 | 0x40, 0x80, 0, 0, 0, 0])
                .unwrap()
                .unwrap()
                .0
                .rsv1
        );
        assert!(refused(&[0x81 | 0x20, 0x80]).contains("reserved bits"));
        assert!(refused(&[0x81 | 0x10, 0x80]).contains("reserved bits"));
        assert!(refused(&[0x83, 0x80]).contains("opcode"));
        assert!(refused(&[0x8B, 0x80]).contains("opcode"));
        assert!(refused(&[0x09, 0x80]).contains("fragmented control"));
        assert!(refused(&[0x89, 0xfe, 0, 126]).contains("over 125"));
        assert!(refused(&[0x82, 0xfe, 0, 125]).contains("shortest"));
        assert!(refused(&[0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff]).contains("shortest"));
        assert!(refused(&[0x82, 0xff, 0x80, 0, 0, 0, 0, 1, 0, 0]).contains("top bit"));
    }

    #[test]
    fn masking_matches_the_bytewise_definition_at_every_offset() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for offset in 0..8 {
            for len in [0, 1, 7, 8, 9, 63, 1000] {
                let mut fast = data[..len].to_vec();
                apply_mask(&mut fast, mask, offset);
                let slow: Vec<u8> = data[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ mask[(offset + i) % 4])
                    .collect();
                assert_eq!(fast, slow, "offset {offset} len {len}");
            }
        }
        // The RFC's example: a masked "Hello".
        let mut out = Vec::new();
        write_frame(&mut out, true, OpCode::Text, b"Hello", Some(mask));
        assert_eq!(
            out,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
    }
}
