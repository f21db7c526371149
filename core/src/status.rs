//! ResponseHead status codes.

use std::fmt;

/// An HTTP status code (100 to 999).
///
/// Constants name the common codes; any other code in range is built with
/// [`StatusCode::from_u16`].
///
/// ```
/// use turnstile_core::StatusCode;
///
/// assert_eq!(StatusCode::NOT_FOUND.as_u16(), 404);
/// assert_eq!(StatusCode::NOT_FOUND.reason(), "Not Found");
/// assert_eq!(StatusCode::from_u16(299).unwrap().reason(), "");
/// assert!(StatusCode::from_u16(1000).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusCode(u16);

macro_rules! status_codes {
    ($( $(#[$doc:meta])* ($num:expr, $name:ident, $reason:expr); )+) => {
        impl StatusCode {
            $( $(#[$doc])* pub const $name: StatusCode = StatusCode($num); )+

            /// The canonical reason phrase, or `""` for an unregistered code.
            pub fn reason(&self) -> &'static str {
                match self.0 {
                    $( $num => $reason, )+
                    _ => "",
                }
            }

            /// `HTTP/1.1 <code> <reason>\r\n` for a registered code, written
            /// with one copy by the head writer.
            pub(crate) fn status_line(&self) -> Option<&'static [u8]> {
                match self.0 {
                    $( $num => Some(concat!("HTTP/1.1 ", stringify!($num), " ", $reason, "\r\n").as_bytes()), )+
                    _ => None,
                }
            }
        }
    };
}

status_codes! {
    /// 100 Continue
    (100, CONTINUE, "Continue");
    /// 101 Switching Protocols
    (101, SWITCHING_PROTOCOLS, "Switching Protocols");
    /// 200 OK
    (200, OK, "OK");
    /// 201 Created
    (201, CREATED, "Created");
    /// 202 Accepted
    (202, ACCEPTED, "Accepted");
    /// 204 No Content
    (204, NO_CONTENT, "No Content");
    /// 206 Partial Content
    (206, PARTIAL_CONTENT, "Partial Content");
    /// 301 Moved Permanently
    (301, MOVED_PERMANENTLY, "Moved Permanently");
    /// 302 Found
    (302, FOUND, "Found");
    /// 303 See Other
    (303, SEE_OTHER, "See Other");
    /// 304 Not Modified
    (304, NOT_MODIFIED, "Not Modified");
    /// 307 Temporary Redirect
    (307, TEMPORARY_REDIRECT, "Temporary Redirect");
    /// 308 Permanent Redirect
    (308, PERMANENT_REDIRECT, "Permanent Redirect");
    /// 400 Bad Request
    (400, BAD_REQUEST, "Bad Request");
    /// 401 Unauthorized
    (401, UNAUTHORIZED, "Unauthorized");
    /// 403 Forbidden
    (403, FORBIDDEN, "Forbidden");
    /// 404 Not Found
    (404, NOT_FOUND, "Not Found");
    /// 405 Method Not Allowed
    (405, METHOD_NOT_ALLOWED, "Method Not Allowed");
    /// 406 Not Acceptable
    (406, NOT_ACCEPTABLE, "Not Acceptable");
    /// 408 Request Timeout
    (408, REQUEST_TIMEOUT, "Request Timeout");
    /// 409 Conflict
    (409, CONFLICT, "Conflict");
    /// 410 Gone
    (410, GONE, "Gone");
    /// 411 Length Required
    (411, LENGTH_REQUIRED, "Length Required");
    /// 412 Precondition Failed
    (412, PRECONDITION_FAILED, "Precondition Failed");
    /// 413 Content Too Large
    (413, PAYLOAD_TOO_LARGE, "Content Too Large");
    /// 414 URI Too Long
    (414, URI_TOO_LONG, "URI Too Long");
    /// 415 Unsupported Media Type
    (415, UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type");
    /// 416 Range Not Satisfiable
    (416, RANGE_NOT_SATISFIABLE, "Range Not Satisfiable");
    /// 417 Expectation Failed
    (417, EXPECTATION_FAILED, "Expectation Failed");
    /// 422 Unprocessable Content
    (422, UNPROCESSABLE_ENTITY, "Unprocessable Content");
    /// 426 Upgrade Required
    (426, UPGRADE_REQUIRED, "Upgrade Required");
    /// 429 Too Many Requests
    (429, TOO_MANY_REQUESTS, "Too Many Requests");
    /// 431 Request Header Fields Too Large
    (431, REQUEST_HEADER_FIELDS_TOO_LARGE, "Request Header Fields Too Large");
    /// 500 Internal Server Error
    (500, INTERNAL_SERVER_ERROR, "Internal Server Error");
    /// 501 Not Implemented
    (501, NOT_IMPLEMENTED, "Not Implemented");
    /// 502 Bad Gateway
    (502, BAD_GATEWAY, "Bad Gateway");
    /// 503 Service Unavailable
    (503, SERVICE_UNAVAILABLE, "Service Unavailable");
    /// 504 Gateway Timeout
    (504, GATEWAY_TIMEOUT, "Gateway Timeout");
    /// 505 HTTP Version Not Supported
    (505, HTTP_VERSION_NOT_SUPPORTED, "HTTP Version Not Supported");
}

impl StatusCode {
    /// A status code from its number; `None` outside 100..=999.
    pub const fn from_u16(code: u16) -> Option<StatusCode> {
        if code >= 100 && code <= 999 {
            Some(StatusCode(code))
        } else {
            None
        }
    }

    /// The number, such as `404`.
    pub const fn as_u16(&self) -> u16 {
        self.0
    }

    /// 1xx: interim, never the final answer.
    pub const fn is_informational(&self) -> bool {
        self.0 < 200
    }

    /// 2xx.
    pub const fn is_success(&self) -> bool {
        self.0 >= 200 && self.0 < 300
    }

    /// 3xx.
    pub const fn is_redirection(&self) -> bool {
        self.0 >= 300 && self.0 < 400
    }

    /// 4xx.
    pub const fn is_client_error(&self) -> bool {
        self.0 >= 400 && self.0 < 500
    }

    /// 5xx and above.
    pub const fn is_server_error(&self) -> bool {
        self.0 >= 500
    }

    /// Whether a response with this status never carries a body
    /// (1xx, 204 and 304).
    pub const fn forbids_body(&self) -> bool {
        self.0 < 200 || self.0 == 204 || self.0 == 304
    }

    /// The three ASCII digits.
    pub(crate) fn digits(&self) -> [u8; 3] {
        let n = self.0;
        [
            b'0' + (n / 100) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        ]
    }
}

impl Default for StatusCode {
    fn default() -> StatusCode {
        StatusCode::OK
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.reason())
    }
}

impl fmt::Debug for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_digits() {
        assert!(StatusCode::CONTINUE.is_informational());
        assert!(StatusCode::NO_CONTENT.forbids_body());
        assert!(StatusCode::NOT_MODIFIED.forbids_body());
        assert!(!StatusCode::OK.forbids_body());
        assert!(StatusCode::BAD_REQUEST.is_client_error());
        assert!(StatusCode::BAD_GATEWAY.is_server_error());
        assert_eq!(&StatusCode::from_u16(503).unwrap().digits(), b"503");
        assert_eq!(StatusCode::from_u16(99), None);
        assert_eq!(StatusCode::OK.to_string(), "200 OK");
    }
}
