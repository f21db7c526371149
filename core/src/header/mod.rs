//! Header fields: the [`Headers`] map, the [`Header`] trait for typed access,
//! and the common typed headers.
//!
//! `Headers` keeps every field in one byte buffer plus a small index, so a
//! connection reuses the same two allocations for every request and response
//! it handles. Names compare case-insensitively; values are bytes (HTTP allows
//! `obs-text`), with [`Headers::get`] as the `&str` view most code wants.

pub(crate) mod common;
mod http_date;
pub(crate) mod typed;

pub use common::{
    Accept, Allow, CacheControl, Connection, ContentLength, ContentType, Cookie, Date, ETag,
    EntityTag, Expect, Host, IfNoneMatch, Location, MediaRange, Server, SetCookie,
    TransferEncoding, UserAgent,
};
pub use http_date::HttpDate;
pub use typed::{Header, InvalidHeader, ListItems};

use std::fmt;
use std::io::Write as _;

/// A collection of header fields in arrival (or insertion) order.
///
/// ```
/// use turnstile_core::header::{ContentLength, Headers};
///
/// let mut headers = Headers::new();
/// headers.append("Content-Type", "text/plain").unwrap();
/// headers.set_typed(&ContentLength(13));
/// assert_eq!(headers.get("content-type"), Some("text/plain"));
/// assert_eq!(headers.typed::<ContentLength>().unwrap(), Some(ContentLength(13)));
/// assert!(headers.append("Bad Name", "x").is_err());
/// ```
#[derive(Clone, Default)]
pub struct Headers {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

#[derive(Clone, Copy)]
struct Entry {
    name_start: u32,
    name_len: u32,
    value_start: u32,
    value_len: u32,
}

impl Headers {
    /// An empty collection.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Number of fields (a name given twice counts twice).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// At least the bytes the fields take on the wire (`name: value\r\n`
    /// each): exact for a map built field by field, more for one indexed
    /// inside a request head, whose buffer also holds the request line.
    pub(crate) fn wire_len(&self) -> usize {
        self.bytes.len() + 4 * self.entries.len()
    }

    /// Bytes reserved for names and values (for pooling decisions).
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.bytes.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    /// Removes every field, keeping the allocations.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
    }

    /// The first value of `name` as text; `None` if absent or not UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of `name` as bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        let entry = self
            .entries
            .iter()
            .find(|e| name_of(&self.bytes, e).eq_ignore_ascii_case(name.as_bytes()))?;
        Some(value_of(&self.bytes, entry))
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> Values<'a> {
        Values {
            headers: self,
            name,
            index: 0,
        }
    }

    /// Whether a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name).is_some()
    }

    /// Every field as `(name, value)`, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            headers: self,
            index: 0,
        }
    }

    /// Adds a field, keeping any others of the same name.
    ///
    /// Fails if the name is not a token or the value holds CR, LF or NUL, so
    /// a caller can never split a response head.
    pub fn append(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), InvalidHeader> {
        let value = value.as_ref();
        validate_name(name)?;
        validate_value(name, value)?;
        self.push_unchecked(name.as_bytes(), value);
        Ok(())
    }

    /// Replaces every field named `name` with one field.
    pub fn set(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), InvalidHeader> {
        let value = value.as_ref();
        validate_name(name)?;
        validate_value(name, value)?;
        self.remove(name);
        self.push_unchecked(name.as_bytes(), value);
        Ok(())
    }

    /// Removes every field named `name`; returns how many there were.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.entries.len();
        let bytes = &self.bytes;
        self.entries
            .retain(|e| !name_of(bytes, e).eq_ignore_ascii_case(name.as_bytes()));
        before - self.entries.len()
    }

    /// Parses the typed header `H` from every field of its name.
    ///
    /// `Ok(None)` when absent, `Err` when present but malformed.
    pub fn typed<H: Header>(&self) -> Result<Option<H>, InvalidHeader> {
        let mut values = self.get_all(H::NAME).peekable();
        if values.peek().is_none() {
            return Ok(None);
        }
        H::parse(&mut values).map(Some)
    }

    /// Replaces every field of `H`'s name with the formatted `header`.
    pub fn set_typed<H: Header>(&mut self, header: &H) {
        self.remove(H::NAME);
        self.append_typed(header);
    }

    /// Adds the formatted `header`, keeping others of its name (for
    /// `Set-Cookie`, which is never combined).
    pub fn append_typed<H: Header>(&mut self, header: &H) {
        let name_start = self.bytes.len();
        self.bytes.extend_from_slice(H::NAME.as_bytes());
        let value_start = self.bytes.len();
        // Writing into a Vec cannot fail; a formatting error from the header
        // itself leaves an empty value rather than a torn one.
        if write!(self.bytes, "{}", typed::Formatted(header)).is_err() {
            self.bytes.truncate(value_start);
        }
        // A typed header's own formatting must not be able to split the head.
        let value = &self.bytes[value_start..];
        if value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
            log::error!("typed header {} formatted a line break; dropped", H::NAME);
            self.bytes.truncate(name_start);
            return;
        }
        self.entries.push(Entry {
            name_start: name_start as u32,
            name_len: H::NAME.len() as u32,
            value_start: value_start as u32,
            value_len: (self.bytes.len() - value_start) as u32,
        });
    }

    /// Adds a field whose name and value were already validated (by the head
    /// parser or a caller holding constants).
    pub(crate) fn push_unchecked(&mut self, name: &[u8], value: &[u8]) {
        let name_start = self.bytes.len();
        self.bytes.extend_from_slice(name);
        let value_start = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.entries.push(Entry {
            name_start: name_start as u32,
            name_len: name.len() as u32,
            value_start: value_start as u32,
            value_len: value.len() as u32,
        });
    }

    /// Starts over from a request head: its bytes are copied once, and
    /// [`Headers::push_head_field`] then indexes fields inside them.
    pub(crate) fn start_from_head(&mut self, head: &[u8]) {
        self.bytes.clear();
        self.entries.clear();
        self.bytes.extend_from_slice(head);
    }

    /// Adds the field whose name and value are the given slices of the head
    /// passed to [`Headers::start_from_head`] (a parser's output over that
    /// same buffer), without copying them.
    pub(crate) fn push_head_field(&mut self, head: &[u8], name: &[u8], value: &[u8]) {
        let start = head.as_ptr() as usize;
        let name_start = name.as_ptr() as usize - start;
        let value_start = if value.is_empty() {
            name_start
        } else {
            value.as_ptr() as usize - start
        };
        debug_assert!(name_start + name.len() <= self.bytes.len());
        debug_assert!(value_start + value.len() <= self.bytes.len());
        self.entries.push(Entry {
            name_start: name_start as u32,
            name_len: name.len() as u32,
            value_start: value_start as u32,
            value_len: value.len() as u32,
        });
    }

    /// Appends every field of `other`, in order (both sides were validated
    /// when their fields were added, so nothing is checked again).
    pub fn append_all(&mut self, other: &Headers) {
        for (name, value) in other.raw_iter() {
            self.push_unchecked(name, value);
        }
    }

    /// Raw field access for the head writer, without the UTF-8 check.
    pub(crate) fn raw_iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(move |e| (name_of(&self.bytes, e), value_of(&self.bytes, e)))
    }
}

fn name_of<'a>(bytes: &'a [u8], e: &Entry) -> &'a [u8] {
    &bytes[e.name_start as usize..(e.name_start + e.name_len) as usize]
}

fn value_of<'a>(bytes: &'a [u8], e: &Entry) -> &'a [u8] {
    &bytes[e.value_start as usize..(e.value_start + e.value_len) as usize]
}

fn validate_name(name: &str) -> Result<(), InvalidHeader> {
    if name.is_empty() || !name.bytes().all(crate::h1::is_token_byte) {
        return Err(InvalidHeader::new(name, "name is not a token"));
    }
    Ok(())
}

/// Bytes a field value may not hold: controls other than tab, and DEL.
static VALUE_FORBIDDEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b != b'\t' as usize;
        b += 1;
    }
    table[0x7f] = true;
    table
};

fn validate_value(name: &str, value: &[u8]) -> Result<(), InvalidHeader> {
    if may_hold_control(value) && value.iter().any(|&b| VALUE_FORBIDDEN[b as usize]) {
        return Err(InvalidHeader::new(name, "value holds a control character"));
    }
    Ok(())
}

/// Whether `value` may hold a control byte (below 0x20, or DEL): eight
/// bytes per step, so the common clean value costs a few instructions per
/// word instead of a table load per byte. A tab also answers yes; the
/// exact check then decides.
fn may_hold_control(value: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut words = value.chunks_exact(8);
    for word in words.by_ref() {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        // A byte below 0x20 with its high bit clear, or a byte equal to
        // 0x7f, sets that byte's high bit here.
        let below_space = w.wrapping_sub(ONES * 0x20) & !w;
        let del = w ^ (ONES * 0x7f);
        let is_del = del.wrapping_sub(ONES) & !del;
        if (below_space | is_del) & HIGHS != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&b| b < 0x20 || b == 0x7f)
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.raw_iter()
                    .map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

/// The values of one header name, in order. See [`Headers::get_all`].
pub struct Values<'a> {
    headers: &'a Headers,
    name: &'a str,
    index: usize,
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let bytes = &self.headers.bytes;
        while let Some(e) = self.headers.entries.get(self.index) {
            self.index += 1;
            if name_of(bytes, e).eq_ignore_ascii_case(self.name.as_bytes()) {
                return Some(value_of(bytes, e));
            }
        }
        None
    }
}

/// Every field of a [`Headers`], as `(name, value)`. See [`Headers::iter`].
pub struct Iter<'a> {
    headers: &'a Headers,
    index: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<(&'a str, &'a [u8])> {
        let e = self.headers.entries.get(self.index)?;
        self.index += 1;
        let bytes = &self.headers.bytes;
        // Names are validated tokens, hence ASCII.
        let name = std::str::from_utf8(name_of(bytes, e)).unwrap_or("");
        Some((name, value_of(bytes, e)))
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> std::fmt::Debug for Iter<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<'a> std::fmt::Debug for Values<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Values").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_scan_finds_every_control_byte_and_no_other() {
        // Every byte value at every position of values of 1 to 24 bytes,
        // on clean fillers including high (obs-text) bytes.
        for filler in [b'a', 0x80, 0xff, b' '] {
            for len in 1..=24 {
                for at in 0..len {
                    for b in 0..=255u8 {
                        let mut value = vec![filler; len];
                        value[at] = b;
                        let exact = value.iter().any(|&b| b < 0x20 || b == 0x7f);
                        assert_eq!(may_hold_control(&value), exact, "{value:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn case_insensitive_lookup_in_order() {
        let mut h = Headers::new();
        h.append("Accept", "text/html").unwrap();
        h.append("X-A", "1").unwrap();
        h.append("accept", "application/json").unwrap();
        assert_eq!(h.get("ACCEPT"), Some("text/html"));
        let all: Vec<&[u8]> = h.get_all("accept").collect();
        assert_eq!(all, [&b"text/html"[..], b"application/json"]);
        assert_eq!(h.len(), 3);
        assert_eq!(h.remove("Accept"), 2);
        assert_eq!(h.iter().collect::<Vec<_>>(), [("X-A", &b"1"[..])]);
    }

    #[test]
    fn set_replaces_and_refuses_head_splitting() {
        let mut h = Headers::new();
        h.append("x-one", "a").unwrap();
        h.append("x-one", "b").unwrap();
        h.set("X-One", "c").unwrap();
        assert_eq!(h.get_all("x-one").count(), 1);
        assert_eq!(h.get("x-one"), Some("c"));
        assert!(h.set("x-evil", "a\r\nSet-Cookie: b").is_err());
        assert!(h.append("x-evil", "a\nb").is_err());
        assert!(h.append("x:evil", "a").is_err());
        assert!(h.append("", "a").is_err());
        assert!(h.append("x-tab", "a\tb").is_ok());
    }

    #[test]
    fn non_utf8_values_are_bytes_only() {
        let mut h = Headers::new();
        h.append("x-latin1", [0xe9u8]).unwrap();
        assert_eq!(h.get("x-latin1"), None);
        assert_eq!(h.get_bytes("x-latin1"), Some(&[0xe9u8][..]));
    }

    #[test]
    fn clear_keeps_capacity() {
        let mut h = Headers::new();
        h.append("a", "b").unwrap();
        let cap = h.bytes.capacity();
        h.clear();
        assert!(h.is_empty());
        assert_eq!(h.bytes.capacity(), cap);
    }
}
