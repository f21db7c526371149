//! The URLs the client takes: `http://` or `https://`, then
//! `host[:port][/path][?query]`.

use std::fmt;

/// A parsed `http://` or `https://` URL.
///
/// ```
/// use turnstile_core::client::Url;
///
/// let url = Url::parse("http://example.com:8080/a/b?c=d").unwrap();
/// assert_eq!(url.host(), "example.com");
/// assert_eq!(url.port(), 8080);
/// assert_eq!(url.target(), "/a/b?c=d");
/// assert_eq!(Url::parse("http://[::1]").unwrap().target(), "/");
/// let secure = Url::parse("https://example.com/").unwrap();
/// assert!(secure.is_https());
/// assert_eq!(secure.port(), 443);
/// assert!(Url::parse("ftp://example.com/").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    https: bool,
    host: String,
    port: u16,
    /// `host[:port]` as written, for the `Host` header.
    authority: String,
    target: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUrl(&'static str);

impl fmt::Display for InvalidUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid URL: {}", self.0)
    }
}

impl std::error::Error for InvalidUrl {}

impl InvalidUrl {
    pub(crate) fn new(why: &'static str) -> InvalidUrl {
        InvalidUrl(why)
    }
}

impl Url {
    /// Parses `http[s]://host[:port][/path][?query]` (no fragments, no
    /// credentials).
    pub fn parse(text: &str) -> Result<Url, InvalidUrl> {
        let (https, rest) = if let Some(rest) = text.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(InvalidUrl("expected http://host/path or https://host/path"));
        };
        let rest = rest.split('#').next().unwrap_or("");
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.is_empty() {
            return Err(InvalidUrl("no host"));
        }
        if authority.contains('@') {
            return Err(InvalidUrl("credentials in URLs are not supported"));
        }
        if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(InvalidUrl("spaces or control characters in the path"));
        }
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                let port = authority[i + 1..]
                    .parse::<u16>()
                    .map_err(|_| InvalidUrl("bad port"))?;
                (&authority[..i], port)
            }
            _ => (authority, if https { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.bytes().any(|b| b <= b' ' || b == b'/' || b == 0x7f) {
            return Err(InvalidUrl("bad host"));
        }
        let target = if target.is_empty() {
            "/".to_owned()
        } else if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_owned()
        };
        Ok(Url {
            https,
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            target,
        })
    }

    /// The host name or address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the URL is `https://`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The port (80, or 443 for `https`, when not given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host[:port]` as written.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The request target: path and query.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// `scheme://host:port`: connections are reused between requests with
    /// the same origin only.
    pub(crate) fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}
