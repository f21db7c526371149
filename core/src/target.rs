//! The request target: what the request line names (RFC 9112 §3.2).

use std::fmt;

/// Which of the four request-target forms a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`: the usual form.
    Origin,
    /// `http://host:port/path?query`: sent to proxies, and allowed anywhere.
    Absolute,
    /// `host:port`: only with `CONNECT`.
    Authority,
    /// `*`: only with `OPTIONS`, about the server as a whole.
    Asterisk,
}

/// The request target, kept as sent, with its parts located once.
///
/// ```
/// use turnstile_core::{Request, TargetForm};
///
/// let req = Request::parse(b"GET http://example.com/a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap();
/// let target = req.target();
/// assert_eq!(target.form(), TargetForm::Absolute);
/// assert_eq!(target.authority(), Some("example.com"));
/// assert_eq!(target.path(), "/a/b");
/// assert_eq!(target.query(), Some("x=1"));
/// ```
#[derive(Clone, Default)]
pub struct RequestTarget {
    raw: String,
    form: Form,
    scheme_end: u32,
    authority: (u32, u32),
    path: (u32, u32),
    query_start: Option<u32>,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Form {
    #[default]
    Origin,
    Absolute,
    Authority,
    Asterisk,
}

/// Why a request target was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TargetError {
    /// Not one of the four forms, or a form the method does not allow.
    Malformed(&'static str),
}

impl RequestTarget {
    /// Locates the parts of `raw` (already checked for allowed bytes by the
    /// head parser), reusing `storage` for the text.
    pub(crate) fn parse(
        raw: &str,
        is_connect: bool,
        is_options: bool,
        mut storage: String,
    ) -> Result<RequestTarget, TargetError> {
        storage.clear();
        storage.push_str(raw);
        let mut t = RequestTarget {
            raw: storage,
            ..RequestTarget::default()
        };
        let len = raw.len() as u32;
        // One pass for both: targets are short, and two memchr calls cost
        // more than a byte loop over a few dozen bytes.
        let mut first_question = None;
        for (i, &b) in raw.as_bytes().iter().enumerate() {
            if b == b'#' {
                return Err(TargetError::Malformed("fragment in request target"));
            }
            if b == b'?' && first_question.is_none() {
                first_question = Some(i);
            }
        }
        if is_connect {
            if raw.starts_with('/') || raw.contains('/') || !raw.contains(':') {
                return Err(TargetError::Malformed("CONNECT needs host:port"));
            }
            t.form = Form::Authority;
            t.authority = (0, len);
            return Ok(t);
        }
        if raw == "*" {
            if !is_options {
                return Err(TargetError::Malformed("'*' is only for OPTIONS"));
            }
            t.form = Form::Asterisk;
            t.path = (0, 1);
            return Ok(t);
        }
        let path_start = if raw.starts_with('/') {
            t.form = Form::Origin;
            0
        } else {
            let scheme_end = raw.find("://").ok_or(TargetError::Malformed(
                "target is not a path or an absolute URI",
            ))?;
            let scheme = &raw[..scheme_end];
            let mut chars = scheme.bytes();
            if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
            {
                return Err(TargetError::Malformed("bad URI scheme"));
            }
            let auth_start = scheme_end + 3;
            let auth_end = raw[auth_start..]
                .find(['/', '?'])
                .map_or(raw.len(), |i| auth_start + i);
            if auth_end == auth_start {
                return Err(TargetError::Malformed("absolute URI without a host"));
            }
            t.form = Form::Absolute;
            t.scheme_end = scheme_end as u32;
            t.authority = (auth_start as u32, auth_end as u32);
            auth_end
        };
        let query = first_question.filter(|&q| q >= path_start);
        t.path = (path_start as u32, query.unwrap_or(raw.len()) as u32);
        t.query_start = query.map(|q| q as u32 + 1);
        Ok(t)
    }

    pub(crate) fn into_storage(self) -> String {
        self.raw
    }

    /// Empties it for reuse, keeping the text buffer's room.
    pub(crate) fn clear(&mut self) {
        let mut raw = std::mem::take(&mut self.raw);
        raw.clear();
        *self = RequestTarget {
            raw,
            ..RequestTarget::default()
        };
    }

    /// The room of its text buffer.
    pub(crate) fn capacity(&self) -> usize {
        self.raw.capacity()
    }

    /// The target exactly as sent.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Which form it is in.
    pub fn form(&self) -> TargetForm {
        match self.form {
            Form::Origin => TargetForm::Origin,
            Form::Absolute => TargetForm::Absolute,
            Form::Authority => TargetForm::Authority,
            Form::Asterisk => TargetForm::Asterisk,
        }
    }

    /// The path, still percent-encoded: `/` for an absolute URI without one,
    /// `*` for the asterisk form, empty for the authority form.
    pub fn path(&self) -> &str {
        let (start, end) = self.path;
        if self.form == Form::Absolute && start == end {
            return "/";
        }
        &self.raw[start as usize..end as usize]
    }

    /// The query after `?`, if any (possibly empty), still percent-encoded.
    pub fn query(&self) -> Option<&str> {
        self.query_start.map(|q| &self.raw[q as usize..])
    }

    /// The scheme of an absolute target, such as `http`.
    pub fn scheme(&self) -> Option<&str> {
        (self.form == Form::Absolute).then(|| &self.raw[..self.scheme_end as usize])
    }

    /// The authority of an absolute or authority-form target.
    pub fn authority(&self) -> Option<&str> {
        matches!(self.form, Form::Absolute | Form::Authority)
            .then(|| &self.raw[self.authority.0 as usize..self.authority.1 as usize])
    }
}

impl fmt::Display for RequestTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for RequestTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.raw, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<RequestTarget, TargetError> {
        RequestTarget::parse(raw, false, false, String::new())
    }

    #[test]
    fn origin_form() {
        let t = parse("/a/b?c=d&e").unwrap();
        assert_eq!(t.form(), TargetForm::Origin);
        assert_eq!((t.path(), t.query()), ("/a/b", Some("c=d&e")));
        let t = parse("/?").unwrap();
        assert_eq!((t.path(), t.query()), ("/", Some("")));
        assert_eq!(parse("/x").unwrap().query(), None);
    }

    #[test]
    fn absolute_form() {
        let t = parse("https://h:8443").unwrap();
        assert_eq!(t.scheme(), Some("https"));
        assert_eq!(t.authority(), Some("h:8443"));
        assert_eq!(t.path(), "/");
        let t = parse("http://h?q").unwrap();
        assert_eq!((t.path(), t.query()), ("/", Some("q")));
        assert!(parse("http:///x").is_err());
        assert!(parse("1http://h/").is_err());
    }

    #[test]
    fn authority_and_asterisk_forms_need_their_methods() {
        let t = RequestTarget::parse("h:443", true, false, String::new()).unwrap();
        assert_eq!(t.form(), TargetForm::Authority);
        assert_eq!(t.authority(), Some("h:443"));
        assert!(RequestTarget::parse("/x", true, false, String::new()).is_err());
        assert!(parse("*").is_err());
        let t = RequestTarget::parse("*", false, true, String::new()).unwrap();
        assert_eq!((t.form(), t.path()), (TargetForm::Asterisk, "*"));
    }

    #[test]
    fn refuses_other_shapes() {
        for bad in ["a/b", "", "/a#frag", "h:80"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
