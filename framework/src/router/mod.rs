//! The route table: patterns compiled once into a segment tree, looked up
//! without scanning every route.
//!
//! ```
//! use turnstile::router::Router;
//!
//! let mut router = Router::new();
//! router.insert("/users/:id", "user").unwrap();
//! router.insert("/users/{id:[0-9]+}/posts", "posts").unwrap();
//! router.insert("/files/*path", "file").unwrap();
//!
//! let m = router.at("/users/42").unwrap();
//! assert_eq!(*m.value(), "user");
//! assert_eq!(m.param("id").as_deref(), Some("42"));
//! assert_eq!(router.at("/files/a/b%20c").unwrap().param("path").as_deref(), Some("a/b c"));
//! assert!(router.at("/users/x/posts").is_none());
//! ```
//!
//! ## Rules
//!
//! - Static segments win over parameters, constrained parameters
//!   (`{id:[0-9]+}`) over free ones (`:id`), and a catch-all (`*rest`) comes
//!   last; a lookup backtracks when a more specific branch dead-ends.
//! - Segments are percent-decoded before matching, and parameter values are
//!   given decoded; an encoded slash (`%2F`) stays inside its segment.
//! - A trailing slash is significant: `/users/` and `/users` are different
//!   routes, and each matches only its own spelling.
//! - Regex constraints are anchored: `{id:[0-9]+}` matches a whole segment.
//! - A request path with a `.` or `..` segment (also as `%2e`, or hidden
//!   in an encoded slash: `..%2Fetc`) or an encoded NUL is answered `400`
//!   before routing, so no parameter or catch-all ever carries a
//!   traversal into a handler that maps it to a file.
//! - Two patterns conflict when they would name the same position
//!   differently (`/users/:id` and `/users/:name`), or when the same pattern
//!   is inserted twice; [`Router::insert`] says which.

mod pattern;
mod tree;

use std::borrow::Cow;
use std::fmt;

use pattern::Segment;
pub use pattern::{PatternError, MAX_PARAMS};
pub(crate) use tree::Captures;
use tree::{Leaf, Node};

/// A table from path patterns to values of type `T`.
pub struct Router<T> {
    /// The tree's leaves hold indices into `values`.
    root: Node<usize>,
    values: Vec<Option<T>>,
    /// Patterns of static segments only, by their whole text: a request
    /// path spelled exactly like one is answered without walking the tree
    /// (the tree would find the same leaf: static segments win).
    exact: Vec<(u64, Box<str>, usize)>,
    len: usize,
}

impl<T> Default for Router<T> {
    fn default() -> Router<T> {
        Router {
            root: Node::default(),
            values: Vec::new(),
            exact: Vec::new(),
            len: 0,
        }
    }
}

/// A route the table refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteError {
    /// The pattern being added.
    pub pattern: String,
    /// The pattern already in the table it clashes with, if any.
    pub conflicts_with: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.conflicts_with {
            Some(other) => write!(
                f,
                "route {:?} conflicts with {:?}: {}",
                self.pattern, other, self.reason
            ),
            None => write!(f, "invalid route {:?}: {}", self.pattern, self.reason),
        }
    }
}

impl std::error::Error for RouteError {}

impl From<PatternError> for RouteError {
    fn from(e: PatternError) -> RouteError {
        RouteError {
            pattern: e.pattern,
            conflicts_with: None,
            reason: e.reason,
        }
    }
}

impl<T> Router<T> {
    /// An empty table.
    pub fn new() -> Router<T> {
        Router::default()
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `pattern`; refuses invalid patterns, conflicts and duplicates.
    pub fn insert(&mut self, pattern: &str, value: T) -> Result<(), RouteError> {
        let slot = self.slot(pattern)?;
        if slot.is_some() {
            return Err(RouteError {
                pattern: pattern.to_owned(),
                conflicts_with: Some(pattern.to_owned()),
                reason: "the same pattern is already in the table".into(),
            });
        }
        *slot = Some(value);
        Ok(())
    }

    /// The value slot of `pattern`, created empty if new (for tables that
    /// merge values, such as methods of one path). The caller fills a new
    /// slot: a lookup that reaches an empty one finds nothing there rather
    /// than trying a parameter or catch-all beside it.
    pub(crate) fn slot(&mut self, pattern: &str) -> Result<&mut Option<T>, RouteError> {
        let segments = pattern::parse(pattern)?;
        // Percent escapes are decoded before a tree lookup compares: such a
        // pattern is left to the tree.
        let exact =
            !pattern.contains('%') && segments.iter().all(|s| matches!(s, Segment::Static(_)));
        let leaf = self
            .root
            .leaf_for(pattern, segments)
            .map_err(|c| RouteError {
                pattern: pattern.to_owned(),
                conflicts_with: Some(c.existing),
                reason: c.reason,
            })?;
        let index = match leaf.value {
            Some(index) => index,
            None => {
                let index = self.values.len();
                leaf.value = Some(index);
                self.values.push(None);
                self.len += 1;
                if exact {
                    let entry = (exact_key(pattern), Box::from(pattern), index);
                    let at = self
                        .exact
                        .partition_point(|(k, p, _)| (*k, &**p) < (entry.0, pattern));
                    self.exact.insert(at, entry);
                }
                index
            }
        };
        Ok(&mut self.values[index])
    }

    /// The value of the static pattern spelled exactly `path`.
    fn find_exact(&self, path: &str) -> Option<&T> {
        let key = exact_key(path);
        let start = self.exact.partition_point(|(k, _, _)| *k < key);
        self.exact[start..]
            .iter()
            .take_while(|(k, _, _)| *k == key)
            .find(|(_, p, _)| **p == *path)
            .and_then(|&(_, _, index)| self.values[index].as_ref())
    }

    /// The value a tree leaf points at.
    fn value_of(&self, leaf: &Leaf<usize>) -> Option<&T> {
        leaf.value.and_then(|index| self.values[index].as_ref())
    }

    /// Looks up `path`, leaving its parameters' places in `captures` (the
    /// engine's lookup: nothing is moved per request).
    pub(crate) fn find_into<'r>(&'r self, path: &str, captures: &mut Captures) -> Option<&'r T> {
        if let Some(value) = self.find_exact(path) {
            return Some(value);
        }
        self.value_of(self.root.find(path, captures)?)
    }

    /// Looks up `path` (the path of a request, still percent-encoded).
    pub fn at<'r, 'p>(&'r self, path: &'p str) -> Option<Match<'r, 'p, T>> {
        let mut captures = Captures::default();
        let leaf = self.root.find(path, &mut captures)?;
        Some(Match {
            value: self.value_of(leaf)?,
            leaf,
            path,
            captures,
        })
    }
}

/// A successful lookup: the value and the parameters.
pub struct Match<'r, 'p, T> {
    value: &'r T,
    leaf: &'r Leaf<usize>,
    path: &'p str,
    captures: Captures,
}

impl<'r, 'p, T> Match<'r, 'p, T> {
    /// The value of the matched pattern.
    pub fn value(&self) -> &'r T {
        self.value
    }

    /// The pattern that matched, as written.
    pub fn pattern(&self) -> &'r str {
        &self.leaf.pattern
    }

    /// A parameter's value, percent-decoded (borrowed when nothing needed
    /// decoding). `None` for an unknown name or a value that does not
    /// decode to UTF-8.
    pub fn param(&self, name: &str) -> Option<Cow<'p, str>> {
        self.params().find(|(n, _)| *n == name).and_then(|(_, v)| v)
    }

    /// Every parameter as `(name, decoded value)`, in pattern order.
    pub fn params(&self) -> impl Iterator<Item = (&'r str, Option<Cow<'p, str>>)> + '_ {
        let path = self.path;
        self.leaf
            .names
            .iter()
            .zip(self.captures.iter())
            .map(move |(name, (start, end))| {
                let raw = &path[start..end];
                let value = percent_encoding::percent_decode_str(raw).decode_utf8().ok();
                (&**name, value)
            })
    }
}

/// A whole path's length (saturated at 255) and first seven bytes in one
/// word: most lookups compare one word per candidate.
fn exact_key(path: &str) -> u64 {
    let mut key = (path.len().min(255) as u64) << 56;
    for (i, &b) in path.as_bytes().iter().take(7).enumerate() {
        key |= (b as u64) << (48 - 8 * i);
    }
    key
}

/// `.`, `%` and `\`, as a table: one load per byte on every request.
static TRAVERSAL_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    table[b'.' as usize] = true;
    table[b'%' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Whether `path` (still percent-encoded) has a segment that is, or
/// decodes to something with, a `.` or `..` component (split on `/` and
/// `\`), or an encoded NUL: the shapes of a path traversal.
pub(crate) fn is_unsafe_path(path: &str) -> bool {
    // Most paths have none of the three bytes a traversal needs.
    if !path.bytes().any(|b| TRAVERSAL_BYTE[b as usize]) {
        return false;
    }
    path.split('/').any(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        decoded.contains('\0')
            || decoded
                .split(['/', '\\'])
                .any(|part| part == "." || part == "..")
    })
}

/// The parameter names of `pattern`, in order.
pub(crate) fn param_names(pattern: &str) -> Result<Vec<std::sync::Arc<str>>, RouteError> {
    Ok(pattern::parse(pattern)?
        .into_iter()
        .filter_map(|s| match s {
            pattern::Segment::Param(p) => Some(p.name),
            pattern::Segment::CatchAll(name) => Some(name),
            pattern::Segment::Static(_) => None,
        })
        .collect())
}

impl<'r, 'p, T> std::fmt::Debug for Match<'r, 'p, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Match").finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for Router<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(patterns: &[&'static str]) -> Router<&'static str> {
        let mut r = Router::new();
        for p in patterns {
            r.insert(p, *p).unwrap();
        }
        r
    }

    /// The engine's lookup (exact spellings first) and the tree agree,
    /// also where only the tree can answer: escapes, parameters, a
    /// pattern with an escape in it.
    #[test]
    fn exact_spellings_and_the_tree_agree() {
        let r = table(&[
            "/",
            "/plaintext",
            "/plainte",
            "/users/",
            "/users/:id",
            "/users/me",
            "/a%20b",
            "/files/*rest",
        ]);
        for path in [
            "/",
            "/plaintext",
            "/plainte",
            "/plaintexts",
            "/plain%74ext",
            "/users/",
            "/users/me",
            "/users/m%65",
            "/users/42",
            "/a%20b",
            "/a b",
            "/files/x/y",
            "/nothing",
        ] {
            let mut captures = Captures::default();
            let engine = r.find_into(path, &mut captures).copied();
            let tree = r.at(path).map(|m| *m.value());
            assert_eq!(engine, tree, "{path}");
        }
        assert!(r.find_exact("/plaintext").is_some());
        assert!(r.find_exact("/users/42").is_none());
        assert!(
            r.find_exact("/a%20b").is_none(),
            "escaped patterns are left to the tree"
        );
    }

    /// (path, expected pattern, expected params)
    type Case = (
        &'static str,
        Option<&'static str>,
        &'static [(&'static str, &'static str)],
    );

    #[test]
    fn escapes_match_statics_by_their_decoded_spelling() {
        let r = table(&["/a/b c", "/a/:x", "/p/100%25", "/p/:x", "/q/{n:[0-9]+}"]);
        let found = |path| r.at(path).map(|m| m.pattern());
        assert_eq!(found("/a/b%20c"), Some("/a/b c"));
        assert_eq!(found("/a/b%2"), Some("/a/:x"));
        assert_eq!(found("/a/%62%20c"), Some("/a/b c"));
        // A static name with a `%` of its own, written `%25`.
        assert_eq!(found("/p/100%25"), Some("/p/100%25"));
        assert_eq!(
            found("/p/100%"),
            Some("/p/100%25"),
            "a lone % decodes to itself"
        );
        assert_eq!(found("/p/100"), Some("/p/:x"));
        // Constraints see the decoded value; invalid UTF-8 matches nothing.
        assert_eq!(found("/q/%31%32"), Some("/q/{n:[0-9]+}"));
        assert_eq!(found("/q/%FF"), None);
        assert_eq!(found("/a/%FF"), None);
    }

    #[test]
    fn lookups_follow_the_rules() {
        let r = table(&[
            "/",
            "/users",
            "/users/",
            "/users/new",
            "/users/:id",
            "/users/{id:[0-9]+}/posts",
            "/users/:id/settings",
            "/users/new/settings/x",
            "/files/*path",
            "/{lang:en|fr}/about",
            "/:page/about",
        ]);
        let cases: &[Case] = &[
            ("/", Some("/"), &[]),
            ("/users", Some("/users"), &[]),
            ("/users/", Some("/users/"), &[]),
            ("/users/new", Some("/users/new"), &[]),
            ("/users/42", Some("/users/:id"), &[("id", "42")]),
            (
                "/users/42/posts",
                Some("/users/{id:[0-9]+}/posts"),
                &[("id", "42")],
            ),
            ("/users/abc/posts", None, &[]),
            // A static branch that dead-ends backtracks to the parameter.
            (
                "/users/new/settings",
                Some("/users/:id/settings"),
                &[("id", "new")],
            ),
            ("/users/new/settings/x", Some("/users/new/settings/x"), &[]),
            (
                "/files/a/b/c.txt",
                Some("/files/*path"),
                &[("path", "a/b/c.txt")],
            ),
            ("/files/", Some("/files/*path"), &[("path", "")]),
            ("/en/about", Some("/{lang:en|fr}/about"), &[("lang", "en")]),
            ("/de/about", Some("/:page/about"), &[("page", "de")]),
            ("/users/a%20b", Some("/users/:id"), &[("id", "a b")]),
            ("/users/a%2Fb", Some("/users/:id"), &[("id", "a/b")]),
            ("/us%65rs", Some("/users"), &[]),
            ("/users/%FF", None, &[]),
            ("/nope", None, &[]),
            ("", None, &[]),
            ("//", None, &[]),
        ];
        for (path, pattern, params) in cases {
            let found = r.at(path);
            assert_eq!(found.as_ref().map(|m| *m.value()), *pattern, "{path}");
            if let Some(m) = found {
                let got: Vec<(String, String)> = m
                    .params()
                    .map(|(n, v)| (n.to_owned(), v.unwrap().into_owned()))
                    .collect();
                let want: Vec<(String, String)> = params
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                assert_eq!(got, want, "{path}");
            }
        }
    }

    #[test]
    fn conflicts_name_both_patterns() {
        let mut r = table(&["/users/:id", "/files/*path", "/a/{x:[0-9]+}"]);
        let e = r.insert("/users/:name/x", "").unwrap_err();
        assert_eq!(e.conflicts_with.as_deref(), Some("/users/:id"));
        assert!(e.to_string().contains("'name' where 'id'"), "{e}");
        let e = r.insert("/files/*rest", "").unwrap_err();
        assert_eq!(e.conflicts_with.as_deref(), Some("/files/*path"));
        let e = r.insert("/a/{y:[0-9]+}", "").unwrap_err();
        assert_eq!(e.conflicts_with.as_deref(), Some("/a/{x:[0-9]+}"));
        let e = r.insert("/users/:id", "").unwrap_err();
        assert!(e.reason.contains("already"));
        // Different constraints at one position may coexist.
        r.insert("/a/{y:[a-z]+}", "").unwrap();
        assert!(r.insert("/bad/{", "").is_err());
    }
}
