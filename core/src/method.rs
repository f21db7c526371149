//! The request method.
//!
//! The nine methods of RFC 9110 plus `PATCH` are variants of their own; any
//! other valid token is kept inline (no allocation) as an extension method.

use std::fmt;

/// Longest extension method kept; longer method tokens are answered `501`.
const EXTENSION_MAX: usize = 23;

/// An HTTP request method.
///
/// ```
/// use turnstile_core::Method;
///
/// let m = Method::from_bytes(b"PATCH").unwrap();
/// assert_eq!(m, Method::Patch);
/// assert_eq!(Method::from_bytes(b"PURGE").unwrap().as_str(), "PURGE");
/// assert!(Method::from_bytes(b"BAD METHOD").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
    /// Any other method token, such as `PURGE` or `PROPFIND`.
    Extension(ExtensionMethod),
}

/// A method token that is not one of the standard methods, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtensionMethod {
    len: u8,
    bytes: [u8; EXTENSION_MAX],
}

impl ExtensionMethod {
    /// The method token.
    pub fn as_str(&self) -> &str {
        // Only token bytes (ASCII) are ever stored.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl Method {
    /// Parses a method token; `None` if it is not a valid token or longer
    /// than 23 bytes.
    pub fn from_bytes(token: &[u8]) -> Option<Method> {
        Some(match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => {
                if token.is_empty()
                    || token.len() > EXTENSION_MAX
                    || !token.iter().all(|&b| crate::h1::is_token_byte(b))
                {
                    return None;
                }
                let mut bytes = [0; EXTENSION_MAX];
                bytes[..token.len()].copy_from_slice(token);
                Method::Extension(ExtensionMethod {
                    len: token.len() as u8,
                    bytes,
                })
            }
        })
    }

    /// The method token, such as `"GET"`.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Extension(ext) => ext.as_str(),
        }
    }

    /// Whether the method is safe in the sense of RFC 9110 (read-only).
    pub fn is_safe(&self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Options | Method::Trace
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Method {
    type Err = InvalidMethod;
    fn from_str(s: &str) -> Result<Method, InvalidMethod> {
        Method::from_bytes(s.as_bytes()).ok_or(InvalidMethod)
    }
}

/// The text was not a method token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidMethod;

impl fmt::Display for InvalidMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid method token")
    }
}

impl std::error::Error for InvalidMethod {}

impl std::fmt::Debug for ExtensionMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtensionMethod").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_extension_methods() {
        for name in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ] {
            let m: Method = name.parse().unwrap();
            assert!(!matches!(m, Method::Extension(_)), "{name}");
            assert_eq!(m.as_str(), name);
        }
        let purge: Method = "PURGE".parse().unwrap();
        assert!(matches!(purge, Method::Extension(_)));
        assert_eq!(purge.to_string(), "PURGE");
        // Methods are case-sensitive: `get` is an extension, not GET.
        assert_ne!("get".parse::<Method>().unwrap(), Method::Get);
    }

    #[test]
    fn refuses_non_tokens_and_long_tokens() {
        assert!(Method::from_bytes(b"").is_none());
        assert!(Method::from_bytes(b"GE T").is_none());
        assert!(Method::from_bytes(b"GET\r").is_none());
        assert!(Method::from_bytes(&[b'A'; 24]).is_none());
        assert!(Method::from_bytes(&[b'A'; 23]).is_some());
    }
}
