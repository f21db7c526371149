//! The segment tree: one node per path segment, static children sorted for
//! binary search, parameter children tried in order, a catch-all last.
//! A lookup walks the path once, backtracking only where a static branch
//! dead-ends and a parameter could still match.

use std::borrow::Cow;
use std::sync::Arc;

use super::pattern::{ParamSpec, Segment, MAX_PARAMS};

pub(crate) struct Node<T> {
    statics: Vec<(String, Node<T>)>,
    /// `static_key` of each static child, in the same order: a lookup
    /// compares one word per child and calls `memcmp` only on a hit.
    static_keys: Vec<u64>,
    params: Vec<(ParamSpec, Node<T>)>,
    catch_all: Option<CatchAll<T>>,
    leaf: Option<Leaf<T>>,
    /// The first pattern that passed through this node's parameter or
    /// catch-all child, for conflict messages.
    origin: String,
}

struct CatchAll<T> {
    name: Arc<str>,
    leaf: Leaf<T>,
}

/// What a complete pattern leads to.
pub(crate) struct Leaf<T> {
    pub(crate) pattern: String,
    pub(crate) names: Vec<Arc<str>>,
    pub(crate) value: Option<T>,
}

/// The byte ranges of parameter values in the path, in pattern order.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Captures {
    ranges: [(u32, u32); MAX_PARAMS],
    len: u8,
}

impl Captures {
    fn push(&mut self, start: usize, end: usize) {
        self.ranges[self.len as usize] = (start as u32, end as u32);
        self.len += 1;
    }

    fn pop(&mut self) {
        self.len -= 1;
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.ranges[..self.len as usize]
            .iter()
            .map(|&(s, e)| (s as usize, e as usize))
    }
}

impl<T> Default for Node<T> {
    fn default() -> Node<T> {
        Node {
            statics: Vec::new(),
            static_keys: Vec::new(),
            params: Vec::new(),
            catch_all: None,
            leaf: None,
            origin: String::new(),
        }
    }
}

/// Two patterns that cannot live in one table.
#[derive(Debug)]
pub(crate) struct Conflict {
    pub(crate) existing: String,
    pub(crate) reason: String,
}

impl<T> Node<T> {
    /// The leaf for `segments`, created if needed.
    pub(crate) fn leaf_for(
        &mut self,
        pattern: &str,
        segments: Vec<Segment>,
    ) -> Result<&mut Leaf<T>, Conflict> {
        let mut names = Vec::new();
        let mut node = self;
        for segment in segments {
            match segment {
                Segment::Static(text) => {
                    let i = match node.statics.binary_search_by(|(s, _)| by_length(s, &text)) {
                        Ok(i) => i,
                        Err(i) => {
                            node.static_keys.insert(i, static_key(text.as_bytes()));
                            node.statics.insert(i, (text, Node::default()));
                            i
                        }
                    };
                    node = &mut node.statics[i].1;
                }
                Segment::Param(spec) => {
                    names.push(spec.name.clone());
                    let existing = node
                        .params
                        .iter()
                        .position(|(s, _)| s.source == spec.source);
                    let i = match existing {
                        Some(i) => {
                            let (have, child) = &node.params[i];
                            if have.name != spec.name {
                                return Err(Conflict {
                                    existing: child.origin.clone(),
                                    reason: format!(
                                        "parameter '{}' where '{}' is already defined",
                                        spec.name, have.name
                                    ),
                                });
                            }
                            i
                        }
                        None => {
                            let child = Node {
                                origin: pattern.to_owned(),
                                ..Node::default()
                            };
                            // Constrained parameters are tried before a free one.
                            let at = if spec.regex.is_some() {
                                node.params
                                    .iter()
                                    .position(|(s, _)| s.regex.is_none())
                                    .unwrap_or(node.params.len())
                            } else {
                                node.params.len()
                            };
                            node.params.insert(at, (spec, child));
                            at
                        }
                    };
                    node = &mut node.params[i].1;
                }
                Segment::CatchAll(name) => {
                    names.push(name.clone());
                    if let Some(existing) = &node.catch_all {
                        if existing.name != name {
                            return Err(Conflict {
                                existing: existing.leaf.pattern.clone(),
                                reason: format!(
                                    "catch-all '*{name}' where '*{}' is already defined",
                                    existing.name
                                ),
                            });
                        }
                    }
                    let catch_all = node.catch_all.get_or_insert_with(|| CatchAll {
                        name,
                        leaf: Leaf {
                            pattern: pattern.to_owned(),
                            names: Vec::new(),
                            value: None,
                        },
                    });
                    catch_all.leaf.names = names;
                    return Ok(&mut catch_all.leaf);
                }
            }
        }
        let leaf = node.leaf.get_or_insert_with(|| Leaf {
            pattern: pattern.to_owned(),
            names: Vec::new(),
            value: None,
        });
        leaf.names = names;
        Ok(leaf)
    }

    /// Finds the leaf for `path` (which starts with '/'), filling `captures`.
    pub(crate) fn find<'a>(&'a self, path: &str, captures: &mut Captures) -> Option<&'a Leaf<T>> {
        let rest = path.strip_prefix('/')?;
        self.find_from(path, Some((rest, 1)), captures)
    }

    fn find_from<'a>(
        &'a self,
        path: &str,
        rest: Option<(&str, usize)>,
        captures: &mut Captures,
    ) -> Option<&'a Leaf<T>> {
        let Some((rest, offset)) = rest else {
            return self.leaf.as_ref().filter(|l| l.value.is_some());
        };
        // One pass finds the segment's end and whether it has escapes.
        // Segments are short: a plain loop beats memchr's setup.
        let bytes = rest.as_bytes();
        let mut end = 0;
        let mut escaped = false;
        // The static key's first seven bytes, gathered on the way.
        let mut key = 0u64;
        while end < bytes.len() && bytes[end] != b'/' {
            let b = bytes[end];
            escaped |= b == b'%';
            if end < 7 {
                key |= (b as u64) << (48 - 8 * end);
            }
            end += 1;
        }
        let (segment, tail) = if end < bytes.len() {
            (&rest[..end], Some((&rest[end + 1..], offset + end + 1)))
        } else {
            (rest, None)
        };
        let decoded = if escaped {
            let decoded = decode_segment(segment)?;
            key = static_key(decoded.as_bytes());
            decoded
        } else {
            key |= (end.min(255) as u64) << 56;
            Cow::Borrowed(segment)
        };
        if let Some(child) = self.static_child(&decoded, key) {
            if let Some(leaf) = child.find_from(path, tail, captures) {
                return Some(leaf);
            }
        }
        for (spec, child) in &self.params {
            if spec.matches(&decoded) && (captures.len as usize) < MAX_PARAMS {
                captures.push(offset, offset + segment.len());
                if let Some(leaf) = child.find_from(path, tail, captures) {
                    return Some(leaf);
                }
                captures.pop();
            }
        }
        if let Some(catch_all) = &self.catch_all {
            if catch_all.leaf.value.is_some() && (captures.len as usize) < MAX_PARAMS {
                captures.push(offset, path.len());
                return Some(&catch_all.leaf);
            }
        }
        None
    }
}

impl<T> Node<T> {
    /// The static child named `segment` (whose `static_key` is `key`).
    /// Narrow nodes compare one word per child; wide ones, sorted by length
    /// then bytes, are searched by halves.
    fn static_child(&self, segment: &str, key: u64) -> Option<&Node<T>> {
        if self.statics.len() <= 64 {
            for (i, &k) in self.static_keys.iter().enumerate() {
                if k == key {
                    let (name, child) = &self.statics[i];
                    // Lengths and first seven bytes are equal already.
                    if segment.len() <= 7 || name.as_bytes()[7..] == segment.as_bytes()[7..] {
                        return Some(child);
                    }
                }
            }
            None
        } else {
            self.statics
                .binary_search_by(|(s, _)| by_length(s, segment))
                .ok()
                .map(|i| &self.statics[i].1)
        }
    }
}

/// A segment's length (saturated at 255) and its first seven bytes packed
/// into one word.
fn static_key(segment: &[u8]) -> u64 {
    let mut key = (segment.len().min(255) as u64) << 56;
    for (i, &b) in segment.iter().take(7).enumerate() {
        key |= (b as u64) << (48 - 8 * i);
    }
    key
}

/// The order of static children: shorter first, then bytewise.
fn by_length(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The segment percent-decoded, borrowing when there is nothing to decode;
/// `None` when it decodes to invalid UTF-8 (no route can match it).
fn decode_segment(segment: &str) -> Option<Cow<'_, str>> {
    if !segment.contains('%') {
        return Some(Cow::Borrowed(segment));
    }
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|d| Cow::Owned(d.into_owned()))
}
