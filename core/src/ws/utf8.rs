//! UTF-8 checked as it arrives, so that a text message with a bad byte is
//! refused at that byte (RFC 6455 §8.1), not after megabytes more.

/// An incremental UTF-8 check over the pieces of one message.
#[derive(Clone, Debug, Default)]
pub struct Utf8Stream {
    /// The start of a sequence the last piece cut (at most 3 bytes).
    partial: [u8; 4],
    partial_len: u8,
}

/// The bytes can never be valid UTF-8, whatever follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Stream {
    /// Checks the next piece. Fails as soon as a byte makes the text
    /// invalid; a sequence cut at the end of `piece` waits for the next.
    pub fn feed(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        // Finish a cut sequence first, a byte at a time (at most three).
        while self.partial_len > 0 {
            let Some((&b, rest)) = piece.split_first() else {
                return Ok(());
            };
            self.partial[self.partial_len as usize] = b;
            self.partial_len += 1;
            piece = rest;
            match std::str::from_utf8(&self.partial[..self.partial_len as usize]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {}
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(e) => match e.error_len() {
                Some(_) => Err(InvalidUtf8),
                // A valid start of a sequence the piece ends inside.
                None => {
                    let tail = &piece[e.valid_up_to()..];
                    self.partial[..tail.len()].copy_from_slice(tail);
                    self.partial_len = tail.len() as u8;
                    Ok(())
                }
            },
        }
    }

    /// Whether the message may end here (no sequence left unfinished).
    pub fn is_complete(&self) -> bool {
        self.partial_len == 0
    }

    /// Forgets everything, for the next message.
    pub fn reset(&mut self) {
        self.partial_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeding every split of `bytes` gives the same verdict as checking
    /// it whole, and a bad byte fails at the piece that holds it.
    fn agrees_with_std(bytes: &[u8]) {
        let whole = std::str::from_utf8(bytes);
        for split in 0..=bytes.len() {
            let mut s = Utf8Stream::default();
            let first = s.feed(&bytes[..split]);
            let verdict = first.and_then(|_| s.feed(&bytes[split..]));
            match whole {
                Ok(_) => assert!(verdict.is_ok() && s.is_complete(), "{bytes:x?} at {split}"),
                Err(e) if e.error_len().is_none() => {
                    assert!(verdict.is_ok() && !s.is_complete(), "{bytes:x?} at {split}")
                }
                Err(e) => {
                    assert_eq!(verdict, Err(InvalidUtf8), "{bytes:x?} at {split}");
                    // Fail fast: the first piece fails if it holds the bad byte.
                    if split > e.valid_up_to() + e.error_len().unwrap_or(0) {
                        assert_eq!(first, Err(InvalidUtf8), "{bytes:x?} at {split}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_split_agrees_with_a_whole_check() {
        let cases: &[&[u8]] = &[
            "κόσμε".as_bytes(),
            "a€b𝄞c".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // surrogate
            b"\xf4\x90\x80\x80",                                               // above U+10FFFF
            b"\xc0\xaf",                                                       // overlong
            b"\xe0\x80\xaf",
            b"\xf0\x9f\x98",       // cut at the end
            b"ab\xf0\x9f\x98\x80", // complete
            b"\x80",
            b"\xff",
        ];
        for case in cases {
            agrees_with_std(case);
        }
    }

    #[test]
    fn every_two_byte_prefix_is_judged_like_std() {
        // Exhaustive over two-byte inputs, fed a byte at a time.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                agrees_with_std(&[a, b]);
            }
        }
    }
}
