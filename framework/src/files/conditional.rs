//! Validators and preconditions (RFC 9110 §8.8, §13): a file's strong
//! `ETag` and `Last-Modified`, and what `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since` and `If-Range` make of a request,
//! evaluated in the order §13.2.2 sets.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use turnstile_core::header::Headers;

/// A representation's validators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validators {
    /// Strong entity tag, quoted (`"…"`).
    pub etag: String,
    /// Last modification, whole seconds (what `Last-Modified` can carry).
    pub modified: Option<SystemTime>,
}

impl Validators {
    /// Validators of a file from its length, modification time and inode
    /// (nginx uses the first two; the inode tells a file replaced by
    /// another of the same size and time apart, at the price of tags that
    /// differ between copies of a site). Strong: a change that keeps all
    /// three goes unseen, which a write in place within the same
    /// nanosecond could do. A modification time in the future is taken as
    /// now (RFC 9110 §8.8.2.1).
    pub fn of_file(len: u64, modified: Option<SystemTime>, inode: u64, suffix: &str) -> Validators {
        let modified = modified.map(|m| m.min(SystemTime::now()));
        let nanos = modified
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Validators {
            etag: format!("\"{len:x}-{nanos:x}-{inode:x}{suffix}\""),
            modified: modified.map(whole_seconds),
        }
    }

    /// The `Last-Modified` value.
    pub fn last_modified(&self) -> Option<String> {
        self.modified.map(httpdate::fmt_http_date)
    }
}

/// What the preconditions decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Go on and answer normally; `ranges` says whether a `Range` header
    /// may be honoured (`If-Range` matched or was absent).
    Proceed {
        /// A `Range` header applies.
        ranges: bool,
    },
    /// `304 Not Modified`.
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates the request's preconditions against `validators`, for a
/// `GET` or `HEAD` (`safe`) or another method.
pub fn evaluate(headers: &Headers, validators: &Validators, safe: bool) -> Precondition {
    // 1. If-Match, else 2. If-Unmodified-Since.
    if let Some(value) = list_value(headers, "if-match") {
        if !list_matches(&value, &validators.etag, true) {
            return Precondition::Failed;
        }
    } else if let Some(since) = headers.get("if-unmodified-since").and_then(parse_date) {
        // Without a modification time the header is ignored (§13.1.4).
        if validators.modified.is_some_and(|m| m > since) {
            return Precondition::Failed;
        }
    }
    // 3. If-None-Match, else 4. If-Modified-Since (GET and HEAD only).
    if let Some(value) = list_value(headers, "if-none-match") {
        if list_matches(&value, &validators.etag, false) {
            return if safe {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if safe {
        if let Some(since) = headers.get("if-modified-since").and_then(parse_date) {
            if validators.modified.is_some_and(|m| m <= since) {
                return Precondition::NotModified;
            }
        }
    }
    // 5. If-Range: the ranges apply only to the representation the client
    // has part of.
    let ranges = match headers.get("if-range") {
        None => true,
        Some(value) => {
            let value = value.trim();
            if value.starts_with('"') {
                // A strong comparison: a weak tag never matches.
                value == validators.etag
            } else {
                // A date matches only exactly (and a date is a weak
                // validator unless it is well before now; ours comes from
                // the file itself, which is what every server uses).
                parse_date(value).is_some_and(|d| validators.modified == Some(d))
            }
        }
    };
    Precondition::Proceed { ranges }
}

/// Whether the entity-tag list `value` (or `*`) matches `etag`; `strong`
/// refuses weak tags (`W/"…"`).
fn list_matches(value: &str, etag: &str, strong: bool) -> bool {
    if value.trim() == "*" {
        return true;
    }
    let ours = etag.strip_prefix("W/").unwrap_or(etag);
    value.split(',').any(|tag| {
        let tag = tag.trim();
        match tag.strip_prefix("W/") {
            Some(weak) => !strong && weak == ours,
            None => tag == ours,
        }
    })
}

/// Every field line of a list header `name`, joined as one list (a list
/// may be split over several lines); bytes that are not UTF-8 come out as
/// replacement characters, which match no tag.
pub(crate) fn list_value<'a>(headers: &'a Headers, name: &'a str) -> Option<Cow<'a, str>> {
    let mut values = headers.get_all(name);
    let first = values.next()?;
    let mut joined = String::from_utf8_lossy(first);
    for more in values {
        let text = joined.to_mut();
        text.push_str(", ");
        text.push_str(&String::from_utf8_lossy(more));
    }
    Some(joined)
}

fn parse_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validators() -> Validators {
        Validators {
            etag: "\"abc\"".into(),
            // Sun, 06 Nov 1994 08:49:37 GMT
            modified: Some(UNIX_EPOCH + Duration::from_secs(784_111_777)),
        }
    }

    fn check(pairs: &[(&str, &str)], safe: bool) -> Precondition {
        let mut headers = Headers::new();
        for (name, value) in pairs {
            headers.append(name, value).unwrap();
        }
        evaluate(&headers, &validators(), safe)
    }

    const BEFORE: &str = "Sat, 05 Nov 1994 08:49:37 GMT";
    const SAME: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const AFTER: &str = "Mon, 07 Nov 1994 08:49:37 GMT";

    #[test]
    fn the_order_of_rfc_9110_13_2_2() {
        use Precondition::*;
        let go = Proceed { ranges: true };
        type Case<'a> = (Vec<(&'a str, &'a str)>, bool, Precondition);
        let cases: Vec<Case> = vec![
            (vec![], true, go),
            // If-Match: strong comparison; `*` matches any file.
            (vec![("if-match", "\"abc\"")], true, go),
            (vec![("if-match", "\"x\", \"abc\"")], true, go),
            (vec![("if-match", "*")], true, go),
            (vec![("if-match", "W/\"abc\"")], true, Failed),
            (vec![("if-match", "\"x\"")], true, Failed),
            (
                vec![("if-match", "\"x\""), ("if-match", "\"abc\"")],
                true,
                go,
            ),
            (
                vec![("if-none-match", "\"x\""), ("if-none-match", "\"abc\"")],
                true,
                NotModified,
            ),
            // If-Unmodified-Since only without If-Match.
            (vec![("if-unmodified-since", SAME)], true, go),
            (vec![("if-unmodified-since", AFTER)], true, go),
            (vec![("if-unmodified-since", BEFORE)], true, Failed),
            (
                vec![("if-match", "\"abc\""), ("if-unmodified-since", BEFORE)],
                true,
                go,
            ),
            (vec![("if-unmodified-since", "not a date")], true, go),
            // If-None-Match: weak comparison; 304 for GET/HEAD, 412 otherwise.
            (vec![("if-none-match", "\"abc\"")], true, NotModified),
            (vec![("if-none-match", "W/\"abc\"")], true, NotModified),
            (vec![("if-none-match", "*")], true, NotModified),
            (vec![("if-none-match", "\"abc\"")], false, Failed),
            (vec![("if-none-match", "\"x\"")], true, go),
            // If-Modified-Since only without If-None-Match, only for GET/HEAD.
            (vec![("if-modified-since", SAME)], true, NotModified),
            (vec![("if-modified-since", AFTER)], true, NotModified),
            (vec![("if-modified-since", BEFORE)], true, go),
            (vec![("if-modified-since", SAME)], false, go),
            (
                vec![("if-none-match", "\"x\""), ("if-modified-since", SAME)],
                true,
                go,
            ),
            (vec![("if-modified-since", "yesterday")], true, go),
            // If-Match fails before If-None-Match is looked at.
            (
                vec![("if-match", "\"x\""), ("if-none-match", "\"abc\"")],
                true,
                Failed,
            ),
            // If-Range.
            (vec![("if-range", "\"abc\"")], true, go),
            (vec![("if-range", "\"x\"")], true, Proceed { ranges: false }),
            (
                vec![("if-range", "W/\"abc\"")],
                true,
                Proceed { ranges: false },
            ),
            (vec![("if-range", SAME)], true, go),
            (vec![("if-range", AFTER)], true, Proceed { ranges: false }),
            (
                vec![("if-range", "garbage")],
                true,
                Proceed { ranges: false },
            ),
        ];
        for (pairs, safe, want) in cases {
            assert_eq!(check(&pairs, safe), want, "{pairs:?} safe={safe}");
        }
    }

    #[test]
    fn obsolete_date_forms_are_read() {
        for date in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(
                check(&[("if-modified-since", date)], true),
                Precondition::NotModified,
                "{date}"
            );
        }
    }

    #[test]
    fn file_validators_change_with_the_file() {
        let at = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let a = Validators::of_file(10, Some(at), 7, "");
        assert_eq!(a.etag, Validators::of_file(10, Some(at), 7, "").etag);
        assert_ne!(a.etag, Validators::of_file(11, Some(at), 7, "").etag);
        assert_ne!(
            a.etag,
            Validators::of_file(10, Some(at + Duration::from_nanos(1)), 7, "").etag
        );
        assert_ne!(a.etag, Validators::of_file(10, Some(at), 8, "").etag);
        assert_ne!(a.etag, Validators::of_file(10, Some(at), 7, "-br").etag);
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"'));
        assert_eq!(
            a.last_modified().as_deref(),
            Some("Tue, 14 Nov 2023 22:13:20 GMT")
        );
        // A time in the future (or past year 9999, which httpdate cannot
        // write) is taken as now.
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        let now = Validators::of_file(1, Some(far), 1, "");
        assert!(now.modified.unwrap() <= SystemTime::now());
        assert!(now.last_modified().is_some());
    }
}
