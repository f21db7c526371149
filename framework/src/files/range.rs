//! `Range: bytes=...` (RFC 9110 §14.1.2), resolved against a file's length.
//! Sans-I/O, so it is tested as a table and fuzzed.

/// One satisfiable range: `start..=end`, both within the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive, as `Content-Range` writes it).
    pub end: u64,
}

impl ByteRange {
    /// How many bytes it covers.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Never: a range covers at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// What a `Range` header asks of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No usable range (absent, another unit, malformed, or too many
    /// parts): the whole file, `200`.
    Whole,
    /// These ranges, in order, none overlapping or adjacent: `206`.
    Partial(Vec<ByteRange>),
    /// No range overlaps the file: `416` with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Most ranges served in one answer; a header asking for more is answered
/// with the whole file (RFC 9110 §14.2 lets a server ignore such a header,
/// and many tiny ranges cost more framing than content).
pub const MAX_RANGES: usize = 32;

/// Resolves `header` (a `Range` value) against a file of `len` bytes.
///
/// Overlapping or adjacent ranges are merged and the set is sorted (RFC 9110
/// §14.2 allows both), so an answer is never larger than the file plus its
/// part headers, whatever the request.
///
/// ```
/// use turnstile::files::range::{resolve, ByteRange, RangeAnswer};
///
/// assert_eq!(resolve("bytes=0-99", 1000), RangeAnswer::Partial(vec![ByteRange { start: 0, end: 99 }]));
/// assert_eq!(resolve("bytes=-100", 1000), RangeAnswer::Partial(vec![ByteRange { start: 900, end: 999 }]));
/// assert_eq!(resolve("bytes=2000-", 1000), RangeAnswer::Unsatisfiable);
/// assert_eq!(resolve("lines=1-2", 1000), RangeAnswer::Whole);
/// ```
pub fn resolve(header: &str, len: u64) -> RangeAnswer {
    let Some((unit, set)) = header.split_once('=') else {
        return RangeAnswer::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeAnswer::Whole;
    }
    let mut ranges = Vec::new();
    let mut specs = 0;
    for spec in set.split(',') {
        let spec = spec.trim_matches([' ', '\t']);
        if spec.is_empty() {
            // The list rule allows empty elements.
            continue;
        }
        specs += 1;
        if specs > MAX_RANGES {
            return RangeAnswer::Whole;
        }
        let Some((first, last)) = spec.split_once('-') else {
            return RangeAnswer::Whole;
        };
        let range = if first.is_empty() {
            // suffix-range: the last `n` bytes.
            let Some(n) = parse_digits(last) else {
                return RangeAnswer::Whole;
            };
            (n > 0 && len > 0).then(|| ByteRange {
                start: len.saturating_sub(n),
                end: len - 1,
            })
        } else {
            let Some(start) = parse_digits(first) else {
                return RangeAnswer::Whole;
            };
            let end = if last.is_empty() {
                None
            } else {
                match parse_digits(last) {
                    Some(end) if end >= start => Some(end),
                    // last-pos before first-pos: the header is invalid.
                    _ => return RangeAnswer::Whole,
                }
            };
            (start < len).then(|| ByteRange {
                start,
                end: end.map_or(len - 1, |e| e.min(len - 1)),
            })
        };
        ranges.extend(range);
    }
    if specs == 0 {
        return RangeAnswer::Whole;
    }
    if ranges.is_empty() {
        return RangeAnswer::Unsatisfiable;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end.saturating_add(1) => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    RangeAnswer::Partial(merged)
}

/// `1*DIGIT`, without overflow.
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn the_spec_as_a_table() {
        use RangeAnswer::*;
        let len = 10_000;
        let cases: Vec<(&str, RangeAnswer)> = vec![
            // RFC 9110 §14.1.2's examples.
            ("bytes=0-499", Partial(vec![r(0, 499)])),
            ("bytes=500-999", Partial(vec![r(500, 999)])),
            ("bytes=-500", Partial(vec![r(9500, 9999)])),
            ("bytes=9500-", Partial(vec![r(9500, 9999)])),
            ("bytes=0-0,-1", Partial(vec![r(0, 0), r(9999, 9999)])),
            ("bytes=500-600,601-999", Partial(vec![r(500, 999)])),
            ("bytes=500-700,601-999", Partial(vec![r(500, 999)])),
            // Shapes.
            ("BYTES=0-1", Partial(vec![r(0, 1)])),
            ("bytes=0-1, 5-6", Partial(vec![r(0, 1), r(5, 6)])),
            ("bytes=5-6,0-1", Partial(vec![r(0, 1), r(5, 6)])),
            ("bytes=0-1,,5-6,", Partial(vec![r(0, 1), r(5, 6)])),
            ("bytes=0-99999", Partial(vec![r(0, 9999)])),
            ("bytes=-99999", Partial(vec![r(0, 9999)])),
            ("bytes=0-0,0-0,0-0", Partial(vec![r(0, 0)])),
            ("bytes=9999-", Partial(vec![r(9999, 9999)])),
            // Not satisfiable.
            ("bytes=10000-", Unsatisfiable),
            ("bytes=10000-20000", Unsatisfiable),
            ("bytes=-0", Unsatisfiable),
            ("bytes=10000-,-0", Unsatisfiable),
            ("bytes=10000-, 0-1", Partial(vec![r(0, 1)])),
            // Ignored: the whole file.
            ("", Whole),
            ("bytes", Whole),
            ("bytes=", Whole),
            ("bytes=,", Whole),
            ("items=0-1", Whole),
            ("bytes=1-0", Whole),
            ("bytes=a-b", Whole),
            ("bytes=0-1x", Whole),
            ("bytes=+1-2", Whole),
            ("bytes= -", Whole),
            ("bytes=0--1", Whole),
            ("bytes=18446744073709551616-", Whole),
            ("bytes=0-18446744073709551615", Partial(vec![r(0, 9999)])),
        ];
        for (header, want) in cases {
            assert_eq!(resolve(header, len), want, "{header:?}");
        }
    }

    #[test]
    fn an_empty_file_satisfies_nothing() {
        assert_eq!(resolve("bytes=0-", 0), RangeAnswer::Unsatisfiable);
        assert_eq!(resolve("bytes=-5", 0), RangeAnswer::Unsatisfiable);
    }

    #[test]
    fn too_many_ranges_get_the_whole_file() {
        let many: Vec<String> = (0..=MAX_RANGES as u64)
            .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
            .collect();
        assert_eq!(
            resolve(&format!("bytes={}", many.join(",")), 1 << 20),
            RangeAnswer::Whole
        );
        let enough = &many[..MAX_RANGES];
        match resolve(&format!("bytes={}", enough.join(",")), 1 << 20) {
            RangeAnswer::Partial(ranges) => assert_eq!(ranges.len(), MAX_RANGES),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn answers_never_exceed_the_file() {
        // Overlaps in any order merge: what is sent is at most the file.
        let header = "bytes=0-,0-,-10000,5-9000,100-200";
        match resolve(header, 10_000) {
            RangeAnswer::Partial(ranges) => {
                assert_eq!(ranges, vec![r(0, 9999)]);
            }
            other => panic!("{other:?}"),
        }
    }
}
