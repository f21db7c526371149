//! The [`Header`] trait and the helpers typed headers share.

use std::fmt;

/// A header with a typed value: its name, how to parse it from the field
/// values, and how to format it back.
///
/// ```
/// use std::fmt;
/// use turnstile_core::header::{Header, Headers, InvalidHeader};
///
/// /// `X-Request-Count: 3`
/// #[derive(Debug, PartialEq)]
/// struct RequestCount(u32);
///
/// impl Header for RequestCount {
///     const NAME: &'static str = "x-request-count";
///
///     fn parse<'a, I: Iterator<Item = &'a [u8]>>(mut values: I) -> Result<Self, InvalidHeader> {
///         let value = values.next().unwrap_or_default();
///         std::str::from_utf8(value)
///             .ok()
///             .and_then(|v| v.trim().parse().ok())
///             .map(RequestCount)
///             .ok_or_else(|| InvalidHeader::new(Self::NAME, "not a number"))
///     }
///
///     fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         write!(f, "{}", self.0)
///     }
/// }
///
/// let mut headers = Headers::new();
/// headers.set_typed(&RequestCount(3));
/// assert_eq!(headers.get("X-Request-Count"), Some("3"));
/// assert_eq!(headers.typed::<RequestCount>().unwrap(), Some(RequestCount(3)));
/// ```
pub trait Header: Sized {
    /// The field name, lowercase.
    const NAME: &'static str;

    /// Parses the value from every field line of this name, in order.
    /// Called only when at least one line is present.
    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader>;

    /// Writes the field value (without the name).
    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// Adapts a [`Header`] to [`fmt::Display`] for formatting its value.
pub(crate) struct Formatted<'a, H>(pub(crate) &'a H);

impl<H: Header> fmt::Display for Formatted<'_, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_value(f)
    }
}

/// A header field that could not be used: a bad name or value given to
/// [`Headers`](super::Headers), or a typed header that did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHeader {
    name: String,
    reason: &'static str,
}

impl InvalidHeader {
    /// A new error about the field `name`.
    pub fn new(name: &str, reason: &'static str) -> InvalidHeader {
        InvalidHeader {
            name: name.to_owned(),
            reason,
        }
    }

    /// The field name concerned.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why it was refused.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid header {}: {}", self.name, self.reason)
    }
}

impl std::error::Error for InvalidHeader {}

/// The elements of a comma-separated list header (RFC 9110 §5.6.1) spread
/// over any number of field lines: trimmed, empty elements skipped, commas
/// inside quoted strings kept.
///
/// ```
/// use turnstile_core::header::ListItems;
///
/// let lines: [&[u8]; 2] = [b"gzip, , br", br#""a,b", c"#];
/// let items: Vec<&[u8]> = ListItems::new(lines.into_iter()).collect();
/// assert_eq!(items, [&b"gzip"[..], b"br", br#""a,b""#, b"c"]);
/// ```
pub struct ListItems<'a, I> {
    lines: I,
    current: &'a [u8],
}

impl<'a, I: Iterator<Item = &'a [u8]>> ListItems<'a, I> {
    /// Items of every line from `lines`.
    pub fn new(lines: I) -> ListItems<'a, I> {
        ListItems {
            lines,
            current: &[],
        }
    }
}

impl<'a, I: Iterator<Item = &'a [u8]>> Iterator for ListItems<'a, I> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.current.is_empty() {
                self.current = self.lines.next()?;
                continue;
            }
            let mut in_quotes = false;
            let mut escaped = false;
            let mut end = self.current.len();
            for (i, &b) in self.current.iter().enumerate() {
                if escaped {
                    escaped = false;
                } else if in_quotes && b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_quotes = !in_quotes;
                } else if b == b',' && !in_quotes {
                    end = i;
                    break;
                }
            }
            let item = trim(&self.current[..end]);
            self.current = self.current.get(end + 1..).unwrap_or(&[]);
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Trims optional whitespace (SP and HTAB) from both ends.
pub(crate) fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// The single value of a header that must appear once; `Err` when repeated.
pub(crate) fn single<'a, I: Iterator<Item = &'a [u8]>>(
    name: &'static str,
    mut values: I,
) -> Result<&'a str, InvalidHeader> {
    let first = values.next().unwrap_or_default();
    if values.next().is_some() {
        return Err(InvalidHeader::new(name, "given more than once"));
    }
    std::str::from_utf8(trim(first)).map_err(|_| InvalidHeader::new(name, "not valid UTF-8"))
}

impl<'a, I> std::fmt::Debug for ListItems<'a, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListItems").finish_non_exhaustive()
    }
}
