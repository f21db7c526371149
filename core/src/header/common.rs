//! The typed headers most programs need.

use std::fmt;

use super::typed::{single, trim, Header, InvalidHeader, ListItems};
use super::HttpDate;
use crate::Method;

fn utf8<'a>(name: &'static str, bytes: &'a [u8]) -> Result<&'a str, InvalidHeader> {
    std::str::from_utf8(bytes).map_err(|_| InvalidHeader::new(name, "not valid UTF-8"))
}

/// Headers whose value is one free-form text.
macro_rules! text_header {
    ($(#[$doc:meta])* $ty:ident, $name:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $ty(pub String);

        impl Header for $ty {
            const NAME: &'static str = $name;

            fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
                single(Self::NAME, values).map(|v| $ty(v.to_owned()))
            }

            fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_header!(
    /// `Server`: the software answering, such as `turnstile`.
    Server,
    "server"
);
text_header!(
    /// `User-Agent`: the software asking.
    UserAgent,
    "user-agent"
);
text_header!(
    /// `Location`: where a redirect or a created resource points.
    Location,
    "location"
);
text_header!(
    /// `Set-Cookie`: one cookie, such as `id=a3f; Path=/; HttpOnly`. Never
    /// combined: add several with [`Headers::append_typed`](super::Headers::append_typed).
    SetCookie,
    "set-cookie"
);

/// `Content-Length`: the body's size in bytes.
///
/// Every field line must hold the same plain decimal number; signs, lists of
/// differing values and overflow are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentLength(pub u64);

/// Parses a Content-Length value strictly: 1 to 19 ASCII digits.
pub(crate) fn parse_content_length(value: &[u8]) -> Option<u64> {
    let value = trim(value);
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

impl Header for ContentLength {
    const NAME: &'static str = "content-length";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        let mut length = None;
        for value in values {
            let n = parse_content_length(value)
                .ok_or_else(|| InvalidHeader::new(Self::NAME, "not a decimal length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(InvalidHeader::new(Self::NAME, "differing lengths"));
            }
            length = Some(n);
        }
        length
            .map(ContentLength)
            .ok_or_else(|| InvalidHeader::new(Self::NAME, "empty"))
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `Content-Type`: the media type of the body, with parameters.
///
/// ```
/// use turnstile_core::header::ContentType;
///
/// let ct = ContentType("Application/JSON; charset=utf-8".into());
/// assert_eq!(ct.essence(), "application/json");
/// assert_eq!(ct.param("charset"), Some("utf-8"));
/// assert!(ContentType::json().is("application/json"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentType(pub String);

impl ContentType {
    /// `text/plain; charset=utf-8`
    pub fn text() -> ContentType {
        ContentType("text/plain; charset=utf-8".into())
    }
    /// `text/html; charset=utf-8`
    pub fn html() -> ContentType {
        ContentType("text/html; charset=utf-8".into())
    }
    /// `application/json`
    pub fn json() -> ContentType {
        ContentType("application/json".into())
    }
    /// `application/x-www-form-urlencoded`
    pub fn form() -> ContentType {
        ContentType("application/x-www-form-urlencoded".into())
    }
    /// `application/octet-stream`
    pub fn octet_stream() -> ContentType {
        ContentType("application/octet-stream".into())
    }

    /// `type/subtype`, lowercase, without parameters.
    pub fn essence(&self) -> String {
        self.0
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    /// Whether the essence is `essence` (case-insensitive).
    pub fn is(&self, essence: &str) -> bool {
        self.0
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case(essence)
    }

    /// A parameter's value (name case-insensitive, quotes removed).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.0.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().trim_matches('"'))
        })
    }
}

impl Header for ContentType {
    const NAME: &'static str = "content-type";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        let v = single(Self::NAME, values)?;
        if !v.contains('/') {
            return Err(InvalidHeader::new(Self::NAME, "not a media type"));
        }
        Ok(ContentType(v.to_owned()))
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `Transfer-Encoding`: the codings applied, lowercase, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferEncoding(pub Vec<String>);

impl TransferEncoding {
    /// `chunked` alone.
    pub fn chunked() -> TransferEncoding {
        TransferEncoding(vec!["chunked".into()])
    }

    /// Whether `chunked` is the last coding (the only framing HTTP/1.1 reads).
    pub fn is_chunked(&self) -> bool {
        self.0.last().is_some_and(|c| c == "chunked")
    }
}

impl Header for TransferEncoding {
    const NAME: &'static str = "transfer-encoding";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        let codings = ListItems::new(values)
            .map(|c| utf8(Self::NAME, c).map(str::to_ascii_lowercase))
            .collect::<Result<Vec<_>, _>>()?;
        if codings.is_empty() {
            return Err(InvalidHeader::new(Self::NAME, "empty"));
        }
        Ok(TransferEncoding(codings))
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// `Connection`: connection options, lowercase, such as `close`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection(pub Vec<String>);

impl Connection {
    /// `close`
    pub fn close() -> Connection {
        Connection(vec!["close".into()])
    }
    /// `keep-alive`
    pub fn keep_alive() -> Connection {
        Connection(vec!["keep-alive".into()])
    }
    /// Whether the option `token` is listed (case-insensitive).
    pub fn has(&self, token: &str) -> bool {
        self.0.iter().any(|t| t.eq_ignore_ascii_case(token))
    }
}

impl Header for Connection {
    const NAME: &'static str = "connection";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        ListItems::new(values)
            .map(|c| utf8(Self::NAME, c).map(str::to_ascii_lowercase))
            .collect::<Result<Vec<_>, _>>()
            .map(Connection)
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// `Host`: the authority the request is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// Host name or address (IPv6 in brackets).
    pub host: String,
    /// The port, when given.
    pub port: Option<u16>,
}

impl Header for Host {
    const NAME: &'static str = "host";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        let v = single(Self::NAME, values)?;
        let bad = || InvalidHeader::new(Self::NAME, "not host[:port]");
        let (host, port) = match v.rfind(':') {
            Some(i) if !v[i..].contains(']') => {
                let port = v[i + 1..].parse::<u16>().map_err(|_| bad())?;
                (&v[..i], Some(port))
            }
            _ => (v, None),
        };
        if host.is_empty()
            || host
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b == b'/' || b == b'@' || b.is_ascii_control())
        {
            return Err(bad());
        }
        Ok(Host {
            host: host.to_owned(),
            port,
        })
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{}", self.host, port),
            None => f.write_str(&self.host),
        }
    }
}

/// `Date`: when the message was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub HttpDate);

impl Header for Date {
    const NAME: &'static str = "date";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        single(Self::NAME, values)?
            .parse()
            .map(Date)
            .map_err(|_| InvalidHeader::new(Self::NAME, "not an HTTP date"))
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// `Allow`: the methods a resource supports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allow(pub Vec<Method>);

impl Header for Allow {
    const NAME: &'static str = "allow";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        ListItems::new(values)
            .map(|m| {
                Method::from_bytes(m).ok_or_else(|| InvalidHeader::new(Self::NAME, "not a method"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Allow)
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(m.as_str())?;
        }
        Ok(())
    }
}

/// `Expect`: only `100-continue` is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// `100-continue`: the client waits for `100 Continue` before the body.
    Continue,
}

impl Header for Expect {
    const NAME: &'static str = "expect";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        if single(Self::NAME, values)?.eq_ignore_ascii_case("100-continue") {
            Ok(Expect::Continue)
        } else {
            Err(InvalidHeader::new(
                Self::NAME,
                "only 100-continue is supported",
            ))
        }
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("100-continue")
    }
}

/// One element of `Accept`: a media range and its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRange {
    /// `type/subtype`, lowercase; `*` allowed as in `text/*` or `*/*`.
    pub range: String,
    /// The weight `q` in thousandths (1000 when absent).
    pub quality: u16,
}

impl MediaRange {
    /// Whether this range covers `essence` (such as `application/json`).
    pub fn matches(&self, essence: &str) -> bool {
        let (t, s) = essence.split_once('/').unwrap_or((essence, ""));
        match self.range.split_once('/') {
            Some(("*", "*")) => true,
            Some((rt, "*")) => rt.eq_ignore_ascii_case(t),
            Some((rt, rs)) => rt.eq_ignore_ascii_case(t) && rs.eq_ignore_ascii_case(s),
            None => false,
        }
    }
}

/// `Accept`: the media types the client takes, with weights.
///
/// ```
/// use turnstile_core::header::{Accept, Header, Headers};
///
/// let mut h = Headers::new();
/// h.append("accept", "text/html;q=0.5, application/json").unwrap();
/// let accept = h.typed::<Accept>().unwrap().unwrap();
/// assert!(accept.accepts("application/json"));
/// assert_eq!(accept.0[0].quality, 500);
/// assert!(!accept.accepts("image/png"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accept(pub Vec<MediaRange>);

impl Accept {
    /// Whether some range with a non-zero weight covers `essence`.
    pub fn accepts(&self, essence: &str) -> bool {
        self.0.iter().any(|r| r.quality > 0 && r.matches(essence))
    }
}

fn parse_quality(q: &str) -> Option<u16> {
    let q = q.trim();
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_val = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_val),
        "1" if frac_val == 0 => Some(1000),
        _ => None,
    }
}

impl Header for Accept {
    const NAME: &'static str = "accept";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        let mut ranges = Vec::new();
        for item in ListItems::new(values) {
            let item = utf8(Self::NAME, item)?;
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            if !range.contains('/') {
                return Err(InvalidHeader::new(Self::NAME, "not a media range"));
            }
            let mut quality = 1000;
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("q") {
                        quality = parse_quality(v)
                            .ok_or_else(|| InvalidHeader::new(Self::NAME, "bad q value"))?;
                    }
                }
            }
            ranges.push(MediaRange { range, quality });
        }
        Ok(Accept(ranges))
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(&r.range)?;
            if r.quality != 1000 {
                write!(f, ";q=0.{:03}", r.quality)?;
            }
        }
        Ok(())
    }
}

/// `Cache-Control`: directives such as `no-cache` or `max-age=60`, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheControl(pub Vec<String>);

impl CacheControl {
    /// `max-age=N` for a response cached `N` seconds.
    pub fn max_age(seconds: u64) -> CacheControl {
        CacheControl(vec![format!("max-age={seconds}")])
    }
    /// `no-store`.
    pub fn no_store() -> CacheControl {
        CacheControl(vec!["no-store".into()])
    }
    /// Whether the directive `name` is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.directive(name).is_some()
    }
    /// The value of directive `name`: `Some("")` for a bare directive.
    pub fn directive(&self, name: &str) -> Option<&str> {
        self.0.iter().find_map(|d| {
            let (k, v) = d.split_once('=').unwrap_or((d, ""));
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().trim_matches('"'))
        })
    }
}

impl Header for CacheControl {
    const NAME: &'static str = "cache-control";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        ListItems::new(values)
            .map(|d| utf8(Self::NAME, d).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()
            .map(CacheControl)
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// An entity tag: `"v1"` (strong) or `W/"v1"` (weak).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityTag {
    /// Whether it is a weak validator.
    pub weak: bool,
    /// The opaque tag, without quotes.
    pub tag: String,
}

impl EntityTag {
    /// A strong tag.
    pub fn strong(tag: impl Into<String>) -> EntityTag {
        EntityTag {
            weak: false,
            tag: tag.into(),
        }
    }

    /// Weak comparison (RFC 9110 §8.8.3.2): tags equal, weakness ignored.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.tag == other.tag
    }

    fn parse(bytes: &[u8]) -> Option<EntityTag> {
        let (weak, rest) = match bytes.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, bytes),
        };
        let inner = rest.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        if inner.iter().any(|&b| b == b'"' || b < 0x21 || b == 0x7f) {
            return None;
        }
        Some(EntityTag {
            weak,
            tag: String::from_utf8(inner.to_vec()).ok()?,
        })
    }
}

impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.tag)
    }
}

/// `ETag`: the validator of the representation sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ETag(pub EntityTag);

impl Header for ETag {
    const NAME: &'static str = "etag";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        let v = single(Self::NAME, values)?;
        EntityTag::parse(v.as_bytes())
            .map(ETag)
            .ok_or_else(|| InvalidHeader::new(Self::NAME, "not an entity tag"))
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// `If-None-Match`: `*` or a list of entity tags.
///
/// ```
/// use turnstile_core::header::{EntityTag, Headers, IfNoneMatch};
///
/// let mut h = Headers::new();
/// h.append("if-none-match", r#"W/"a", "b""#).unwrap();
/// let inm = h.typed::<IfNoneMatch>().unwrap().unwrap();
/// assert!(inm.matches(&EntityTag::strong("a")));
/// assert!(!inm.matches(&EntityTag::strong("c")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfNoneMatch {
    /// `*`: any current representation.
    Any,
    /// The listed tags.
    Tags(Vec<EntityTag>),
}

impl IfNoneMatch {
    /// Whether `etag` matches by weak comparison (so a GET answers `304`).
    pub fn matches(&self, etag: &EntityTag) -> bool {
        match self {
            IfNoneMatch::Any => true,
            IfNoneMatch::Tags(tags) => tags.iter().any(|t| t.weak_eq(etag)),
        }
    }
}

impl Header for IfNoneMatch {
    const NAME: &'static str = "if-none-match";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        let mut tags = Vec::new();
        for item in ListItems::new(values) {
            if item == b"*" {
                return Ok(IfNoneMatch::Any);
            }
            tags.push(
                EntityTag::parse(item)
                    .ok_or_else(|| InvalidHeader::new(Self::NAME, "not an entity tag"))?,
            );
        }
        Ok(IfNoneMatch::Tags(tags))
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfNoneMatch::Any => f.write_str("*"),
            IfNoneMatch::Tags(tags) => {
                for (i, t) in tags.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    fmt::Display::fmt(t, f)?;
                }
                Ok(())
            }
        }
    }
}

/// `Cookie`: the name/value pairs a client sends back, in order.
///
/// ```
/// use turnstile_core::header::{Cookie, Headers};
///
/// let mut h = Headers::new();
/// h.append("cookie", "id=a3f; theme=dark").unwrap();
/// let cookie = h.typed::<Cookie>().unwrap().unwrap();
/// assert_eq!(cookie.get("theme"), Some("dark"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie(pub Vec<(String, String)>);

impl Cookie {
    /// The first cookie named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Header for Cookie {
    const NAME: &'static str = "cookie";

    fn parse<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Result<Self, InvalidHeader> {
        let mut pairs = Vec::new();
        for line in values {
            for pair in utf8(Self::NAME, line)?.split(';') {
                let pair = pair.trim();
                if pair.is_empty() {
                    continue;
                }
                let (name, value) = pair
                    .split_once('=')
                    .ok_or_else(|| InvalidHeader::new(Self::NAME, "pair without '='"))?;
                pairs.push((
                    name.trim().to_owned(),
                    value.trim().trim_matches('"').to_owned(),
                ));
            }
        }
        Ok(Cookie(pairs))
    }

    fn fmt_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (n, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{n}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Headers;

    fn headers(lines: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in lines {
            h.append(n, v).unwrap();
        }
        h
    }

    #[test]
    fn content_length_is_strict() {
        let ok = headers(&[("content-length", "42"), ("Content-Length", "42")]);
        assert_eq!(
            ok.typed::<ContentLength>().unwrap(),
            Some(ContentLength(42))
        );
        for bad in [
            "+42",
            "-1",
            "4 2",
            "42, 43",
            "0x10",
            "",
            "99999999999999999999",
        ] {
            let h = headers(&[("content-length", bad)]);
            assert!(h.typed::<ContentLength>().is_err(), "{bad:?}");
        }
        let differing = headers(&[("content-length", "1"), ("content-length", "2")]);
        assert!(differing.typed::<ContentLength>().is_err());
        assert_eq!(Headers::new().typed::<ContentLength>().unwrap(), None);
    }

    #[test]
    fn list_headers_span_lines() {
        let h = headers(&[
            ("transfer-encoding", "gzip"),
            ("transfer-encoding", "Chunked"),
        ]);
        let te = h.typed::<TransferEncoding>().unwrap().unwrap();
        assert_eq!(te.0, ["gzip", "chunked"]);
        assert!(te.is_chunked());
        let c = headers(&[("connection", "Keep-Alive, Upgrade")]);
        assert!(c.typed::<Connection>().unwrap().unwrap().has("upgrade"));
        let allow = headers(&[("allow", "GET, HEAD")]);
        assert_eq!(
            allow.typed::<Allow>().unwrap().unwrap().0,
            [Method::Get, Method::Head]
        );
    }

    #[test]
    fn host_forms() {
        let host = |v: &str| headers(&[("host", v)]).typed::<Host>();
        assert_eq!(
            host("example.com:8080").unwrap().unwrap(),
            Host {
                host: "example.com".into(),
                port: Some(8080)
            }
        );
        assert_eq!(host("[::1]").unwrap().unwrap().port, None);
        assert_eq!(host("[::1]:80").unwrap().unwrap().port, Some(80));
        assert!(host("a b").is_err());
        assert!(host("a:99999").is_err());
        assert!(headers(&[("host", "a"), ("host", "b")])
            .typed::<Host>()
            .is_err());
    }

    #[test]
    fn typed_round_trips() {
        let mut h = Headers::new();
        h.set_typed(&ETag(EntityTag {
            weak: true,
            tag: "x1".into(),
        }));
        h.set_typed(&CacheControl::max_age(60));
        h.set_typed(&Expect::Continue);
        h.set_typed(&Accept(vec![MediaRange {
            range: "text/html".into(),
            quality: 500,
        }]));
        assert_eq!(h.get("etag"), Some("W/\"x1\""));
        assert_eq!(h.get("accept"), Some("text/html;q=0.500"));
        assert_eq!(h.typed::<Accept>().unwrap().unwrap().0[0].quality, 500);
        assert_eq!(
            h.typed::<CacheControl>()
                .unwrap()
                .unwrap()
                .directive("max-age"),
            Some("60")
        );
        assert_eq!(h.typed::<Expect>().unwrap(), Some(Expect::Continue));
        let mut cookies = Headers::new();
        cookies.append_typed(&SetCookie("a=1".into()));
        cookies.append_typed(&SetCookie("b=2".into()));
        assert_eq!(cookies.get_all("set-cookie").count(), 2);
    }

    #[test]
    fn typed_formatting_cannot_split_the_head() {
        let mut h = Headers::new();
        h.set_typed(&Location("/a\r\nSet-Cookie: evil=1".into()));
        assert!(h.is_empty());
    }
}
