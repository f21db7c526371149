//! Route patterns: `/users/:id`, `/files/*path`, `/posts/{id:[0-9]+}`.
//!
//! A pattern is a `/`-separated list of segments. Each segment is either
//! static text, a named parameter (`:name` or `{name}`), a parameter with a
//! regex constraint (`{name:regex}`, matched against the whole segment), or a
//! catch-all (`*name`, last only, matching the rest of the path).

use std::fmt;
use std::sync::Arc;

use regex::Regex;

/// Most parameters one pattern may name.
pub const MAX_PARAMS: usize = 16;

/// One segment of a parsed pattern.
#[derive(Clone, Debug)]
pub(crate) enum Segment {
    Static(String),
    Param(ParamSpec),
    CatchAll(Arc<str>),
}

/// A parameter segment, with its optional constraint.
#[derive(Clone, Debug)]
pub(crate) struct ParamSpec {
    pub(crate) name: Arc<str>,
    /// The constraint as written (for conflict checks and messages).
    pub(crate) source: Option<String>,
    pub(crate) regex: Option<Regex>,
}

impl ParamSpec {
    pub(crate) fn matches(&self, value: &str) -> bool {
        !value.is_empty() && self.regex.as_ref().is_none_or(|r| r.is_match(value))
    }
}

/// A pattern the router could not accept, naming what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid route pattern {:?}: {}",
            self.pattern, self.reason
        )
    }
}

impl std::error::Error for PatternError {}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a pattern into segments; the names of its parameters come out in
/// order.
pub(crate) fn parse(pattern: &str) -> Result<Vec<Segment>, PatternError> {
    let fail = |reason: String| PatternError {
        pattern: pattern.to_owned(),
        reason,
    };
    let Some(rest) = pattern.strip_prefix('/') else {
        return Err(fail("a pattern starts with '/'".into()));
    };
    let raw_segments = split_segments(rest).map_err(fail)?;
    let count = raw_segments.len();
    let mut segments = Vec::with_capacity(count);
    let mut names: Vec<&str> = Vec::new();
    for (i, raw) in raw_segments.into_iter().enumerate() {
        let last = i + 1 == count;
        if raw.is_empty() && !last {
            return Err(fail("empty segment ('//')".into()));
        }
        let (name, segment) = if let Some(name) = raw.strip_prefix(':') {
            let spec = ParamSpec {
                name: name.into(),
                source: None,
                regex: None,
            };
            (Some(name), Segment::Param(spec))
        } else if let Some(name) = raw.strip_prefix('*') {
            if !last {
                return Err(fail(format!(
                    "catch-all '*{name}' must be the last segment"
                )));
            }
            (Some(name), Segment::CatchAll(name.into()))
        } else if let Some(inner) = raw.strip_prefix('{') {
            let Some(inner) = inner.strip_suffix('}') else {
                return Err(fail(format!(
                    "segment {raw:?} opens '{{' without closing it"
                )));
            };
            let (name, constraint) = match inner.split_once(':') {
                Some((name, re)) => (name, Some(re)),
                None => (inner, None),
            };
            let regex =
                match constraint {
                    Some("") => return Err(fail(format!("parameter '{name}' has an empty regex"))),
                    Some(re) => Some(Regex::new(&format!("^(?:{re})$")).map_err(|e| {
                        fail(format!("parameter '{name}' has an invalid regex: {e}"))
                    })?),
                    None => None,
                };
            let spec = ParamSpec {
                name: name.into(),
                source: constraint.map(str::to_owned),
                regex,
            };
            (Some(name), Segment::Param(spec))
        } else {
            if raw.contains(['{', '}']) {
                return Err(fail(format!(
                    "segment {raw:?}: a parameter takes the whole segment"
                )));
            }
            (None, Segment::Static(decode_static(raw).map_err(fail)?))
        };
        if let Some(name) = name {
            if !is_name(name) {
                return Err(fail(format!(
                    "parameter name {name:?} is not an identifier"
                )));
            }
            if names.contains(&name) {
                return Err(fail(format!("parameter '{name}' appears twice")));
            }
            names.push(name);
            if names.len() > MAX_PARAMS {
                return Err(fail(format!("more than {MAX_PARAMS} parameters")));
            }
        }
        segments.push(segment);
    }
    Ok(segments)
}

/// Splits on '/' outside braces, so a regex may contain '/'.
fn split_segments(rest: &str) -> Result<Vec<&str>, String> {
    let mut segments = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "'}' without '{'".to_owned())?
            }
            '/' if depth == 0 => {
                segments.push(&rest[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("'{' without '}'".into());
    }
    segments.push(&rest[start..]);
    Ok(segments)
}

/// Static segments are written decoded; a literal `%` must be a valid escape.
fn decode_static(raw: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("segment {raw:?} is not valid UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(pattern: &str) -> Vec<String> {
        parse(pattern)
            .unwrap()
            .into_iter()
            .map(|s| match s {
                Segment::Static(s) => format!("s:{s}"),
                Segment::Param(p) => format!("p:{}:{:?}", p.name, p.source),
                Segment::CatchAll(n) => format!("*:{n}"),
            })
            .collect()
    }

    #[test]
    fn parses_every_kind_of_segment() {
        assert_eq!(kinds("/"), ["s:"]);
        assert_eq!(kinds("/users/:id"), ["s:users", "p:id:None"]);
        assert_eq!(kinds("/users/{id}/"), ["s:users", "p:id:None", "s:"]);
        assert_eq!(
            kinds("/posts/{id:[0-9]+}"),
            ["s:posts", "p:id:Some(\"[0-9]+\")"]
        );
        assert_eq!(kinds("/a/{x:a/b|c}"), ["s:a", "p:x:Some(\"a/b|c\")"]);
        assert_eq!(kinds("/{zip:[0-9]{5}}"), ["p:zip:Some(\"[0-9]{5}\")"]);
        assert_eq!(kinds("/files/*path"), ["s:files", "*:path"]);
        assert_eq!(kinds("/caf%C3%A9"), ["s:café"]);
    }

    #[test]
    fn refuses_bad_patterns_with_reasons() {
        let cases = [
            ("users", "starts with '/'"),
            ("/a//b", "empty segment"),
            ("/*rest/x", "last segment"),
            ("/{id", "without"),
            ("/id}", "without"),
            ("/{id:[0-9+}", "invalid regex"),
            ("/{id:}", "empty regex"),
            ("/:1x", "not an identifier"),
            ("/:", "not an identifier"),
            ("/:id/:id", "appears twice"),
            ("/:id/*id", "appears twice"),
            ("/a{id}", "whole segment"),
        ];
        for (pattern, reason) in cases {
            let err = parse(pattern).unwrap_err();
            assert!(err.reason.contains(reason), "{pattern}: {}", err.reason);
            assert_eq!(err.pattern, pattern);
        }
    }

    #[test]
    fn constraints_are_anchored() {
        let Segment::Param(p) = parse("/{id:[0-9]+}").unwrap().remove(0) else {
            panic!()
        };
        assert!(p.matches("123"));
        assert!(!p.matches("12a"));
        assert!(!p.matches("a12"));
        assert!(!p.matches(""));
    }
}
