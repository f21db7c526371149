//! Static files: [`ServeDir`] (a directory under a route prefix) and
//! [`ServeFile`] (one file), for `GET` and `HEAD`.
//!
//! ```no_run
//! use turnstile::files::{ServeDir, ServeFile};
//! use turnstile::negotiate::Coding;
//! use turnstile::App;
//!
//! let app = App::new()
//!     .files("/static", ServeDir::new("./public")
//!         .precompressed(&[Coding::Brotli, Coding::Gzip])
//!         .cache_control("public, max-age=3600"))
//!     .file("/favicon.ico", ServeFile::new("./public/favicon.ico"));
//! ```
//!
//! What a request gets:
//!
//! - `Content-Type` from the extension (`mime_guess`), with
//!   `charset=utf-8` on text; `Accept-Ranges: bytes`; a strong `ETag`
//!   (length, modification time, inode) and `Last-Modified`.
//! - Preconditions in RFC 9110 §13.2.2's order: `If-Match` and
//!   `If-Unmodified-Since` (`412`), `If-None-Match` and `If-Modified-Since`
//!   (`304`), then `If-Range`.
//! - Ranges (RFC 9110 §14): one range is a `206` with `Content-Range`,
//!   several a `206` `multipart/byteranges` (overlapping ones merged, at
//!   most [`range::MAX_RANGES`], else the whole file); none satisfiable is
//!   a `416` with `Content-Range: bytes */<len>`.
//! - With [`ServeDir::precompressed`], a sibling `app.js.br` / `.zst` /
//!   `.gz` is sent for `app.js` when the client's `Accept-Encoding` takes
//!   it (q-values honoured, the server's order breaking ties), with
//!   `Content-Encoding`, its own `ETag`, and `Vary: Accept-Encoding`.
//! - A directory answers its `index.html`; `/dir` is redirected to `/dir/`.
//!   There are no listings.
//!
//! Safety: a path is decoded segment by segment and a segment that is `.`
//! or `..`, holds a `/`, `\` or NUL once decoded, or starts with `.`
//! (hidden files, unless [`ServeDir::hidden`]) is a `404`, as is anything
//! that is not a regular file (devices, FIFOs, sockets) and a file whose
//! real path, after symlinks, leaves the root (unless
//! [`ServeDir::follow_symlinks`]; on Linux the real path is read from the
//! opened file, elsewhere the path is resolved before the open). Every
//! refusal is the same `404`, so an answer never tells what exists.
//!
//! Costs: metadata and `open` run inline on the event loop (a few
//! microseconds from the page cache); the body is read in 64 KiB pieces
//! as the client takes them ([`FileBody`](crate::reply::Body::File)), so a
//! 1 GiB download holds 64 KiB. A file replaced by a rename while it is
//! served keeps being served whole from the open file; one truncated in
//! place closes the connection instead of sending a short body.

pub mod conditional;
pub mod range;

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use turnstile_core::header::Headers;
use turnstile_core::{Method, StatusCode};

use crate::extract::RequestParts;
use crate::handler::Endpoint;
use crate::negotiate::{self, Choice, Coding};
use crate::reply::{Body, Reply, Response};
use conditional::{Precondition, Validators};
use range::RangeAnswer;

pub use crate::file_body::FileBody;

/// How files are served: shared by [`ServeDir`] and [`ServeFile`].
#[derive(Clone, Debug, Default)]
struct Options {
    precompressed: Vec<Coding>,
    cache_control: Option<String>,
    hidden: bool,
    follow_symlinks: bool,
}

/// A directory served under a route prefix (see the [module](self)).
#[derive(Clone, Debug)]
pub struct ServeDir {
    root: PathBuf,
    index: Option<String>,
    options: Options,
}

impl ServeDir {
    /// Serves the files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> ServeDir {
        ServeDir {
            root: root.into(),
            index: Some("index.html".into()),
            options: Options::default(),
        }
    }

    /// The file a directory answers with (default `index.html`); `None`
    /// answers directories `404`.
    pub fn index(mut self, name: Option<&str>) -> ServeDir {
        self.index = name.map(str::to_owned);
        self
    }

    /// Looks for precompressed siblings in these codings (`app.js.br`,
    /// `app.js.zst`, `app.js.gz`), the first preferred on a tie of the
    /// client's q-values. Off by default: each coding a client accepts
    /// costs a metadata call when its sibling is missing.
    pub fn precompressed(mut self, codings: &[Coding]) -> ServeDir {
        self.options.precompressed = codings.to_vec();
        self
    }

    /// A `Cache-Control` value for every file (e.g. `public, max-age=31536000,
    /// immutable` for names that carry a content hash).
    pub fn cache_control(mut self, value: &str) -> ServeDir {
        self.options.cache_control = Some(value.to_owned());
        self
    }

    /// Serves names starting with `.` too (default: `404`).
    pub fn hidden(mut self, allow: bool) -> ServeDir {
        self.options.hidden = allow;
        self
    }

    /// Serves files whose real path leaves the root through a symlink
    /// (default: `404`).
    pub fn follow_symlinks(mut self, allow: bool) -> ServeDir {
        self.options.follow_symlinks = allow;
        self
    }

    /// The answer to `GET`/`HEAD` of `relative` (the still-encoded rest of
    /// the path under the prefix); `request_path` is the whole path, for
    /// the redirect of a directory to its slash form.
    fn answer(
        &self,
        relative: &str,
        request_path: &str,
        query: Option<&str>,
        headers: &Headers,
        method: Method,
    ) -> Response {
        let Some(path) = self.resolve(relative) else {
            return not_found();
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            return not_found();
        };
        // The root's real path, now: a root that is a symlink switched at
        // a deploy (`/srv/current -> releases/42`) is followed at once.
        let Ok(real_root) = std::fs::canonicalize(&self.root) else {
            log::warn!("static files: root {} is not readable", self.root.display());
            return not_found();
        };
        if !meta.is_dir() {
            // `/app.js/` names a directory that is not there.
            if relative.ends_with('/') {
                return not_found();
            }
            return serve_file(&path, Some(&real_root), &self.options, headers, method);
        }
        if !self.options.follow_symlinks
            && !std::fs::canonicalize(&path).is_ok_and(|real| real.starts_with(&real_root))
        {
            // A directory outside the root gets the same 404 as anything
            // else there, not a redirect that says it exists.
            return not_found();
        }
        if !request_path.ends_with('/') {
            // One leading slash: `//host/x` would send a browser elsewhere.
            let mut location = format!("/{}/", request_path.trim_start_matches('/'));
            if let Some(q) = query {
                location.push('?');
                location.push_str(q);
            }
            return Response::new(StatusCode::MOVED_PERMANENTLY).with_header("location", location);
        }
        let Some(index) = &self.index else {
            return not_found();
        };
        serve_file(
            &path.join(index),
            Some(&real_root),
            &self.options,
            headers,
            method,
        )
    }

    /// The file path for `relative`, or `None` for a segment that may not
    /// be served.
    fn resolve(&self, relative: &str) -> Option<PathBuf> {
        let mut path = self.root.clone();
        for segment in relative.split('/') {
            if segment.is_empty() {
                continue;
            }
            let decoded: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
            let forbidden = decoded == b"."
                || decoded == b".."
                || decoded.iter().any(|&b| b == b'/' || b == b'\\' || b == 0)
                || (decoded.first() == Some(&b'.') && !self.options.hidden);
            if forbidden {
                return None;
            }
            path.push(OsStr::from_bytes(&decoded));
        }
        Some(path)
    }
}

impl From<&str> for ServeDir {
    fn from(root: &str) -> ServeDir {
        ServeDir::new(root)
    }
}

impl From<PathBuf> for ServeDir {
    fn from(root: PathBuf) -> ServeDir {
        ServeDir::new(root)
    }
}

/// One file served at a route (see the [module](self)).
#[derive(Clone, Debug)]
pub struct ServeFile {
    path: PathBuf,
    options: Options,
}

impl ServeFile {
    /// Serves the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> ServeFile {
        ServeFile {
            path: path.into(),
            options: Options {
                // One named file: its symlinks are the app's own choice.
                follow_symlinks: true,
                hidden: true,
                ..Options::default()
            },
        }
    }

    /// As [`ServeDir::precompressed`].
    pub fn precompressed(mut self, codings: &[Coding]) -> ServeFile {
        self.options.precompressed = codings.to_vec();
        self
    }

    /// As [`ServeDir::cache_control`].
    pub fn cache_control(mut self, value: &str) -> ServeFile {
        self.options.cache_control = Some(value.to_owned());
        self
    }
}

impl From<&str> for ServeFile {
    fn from(path: &str) -> ServeFile {
        ServeFile::new(path)
    }
}

/// Mounted by [`App::files`](crate::App::files): the rest of the path is
/// the catch-all parameter `path`.
pub(crate) struct DirEndpoint(pub(crate) ServeDir);

impl Endpoint for DirEndpoint {
    fn needs_body(&self) -> bool {
        false
    }

    fn requirements(&self, _: &mut crate::extract::Requirements) {}

    fn call(&self, parts: &mut RequestParts, _body: Vec<u8>) -> Reply {
        let relative = parts.raw_param(DIR_PARAM).unwrap_or("");
        let request = parts.request();
        Reply::Now(self.0.answer(
            relative,
            request.path(),
            request.query(),
            request.headers(),
            request.method(),
        ))
    }
}

/// The catch-all parameter [`App::files`](crate::App::files) mounts with.
pub(crate) const DIR_PARAM: &str = "turnstile_file_path";

/// Mounted by [`App::file`](crate::App::file).
pub(crate) struct FileEndpoint(pub(crate) ServeFile);

impl Endpoint for FileEndpoint {
    fn needs_body(&self) -> bool {
        false
    }

    fn requirements(&self, _: &mut crate::extract::Requirements) {}

    fn call(&self, parts: &mut RequestParts, _body: Vec<u8>) -> Reply {
        let request = parts.request();
        let meta_is_file = std::fs::metadata(&self.0.path).is_ok_and(|m| m.is_file());
        if !meta_is_file {
            return Reply::Now(not_found());
        }
        Reply::Now(serve_file(
            &self.0.path,
            None,
            &self.0.options,
            request.headers(),
            request.method(),
        ))
    }
}

fn not_found() -> Response {
    crate::reply::error_response(StatusCode::NOT_FOUND, "not found", None)
}

/// An open regular file inside the root, with its metadata.
fn open_inside(
    path: &Path,
    real_root: Option<&Path>,
    options: &Options,
) -> Option<(File, Metadata)> {
    // Only a regular file is opened: opening a FIFO waits for a writer
    // (on the event loop), and some devices act when opened. The check is
    // repeated on the open file; a swap between the two by someone who
    // can write under the root is the remaining window.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    if let (Some(root), false) = (real_root, options.follow_symlinks) {
        // The path the open file really has: checked after the open, so a
        // symlink swapped in between is caught too.
        let real = real_path(&file, path)?;
        if !real.starts_with(root) {
            log::debug!("static files: {} leaves the root; refused", path.display());
            return None;
        }
        if !options.hidden {
            let inside = real.strip_prefix(root).ok()?;
            if inside
                .components()
                .any(|c| c.as_os_str().as_bytes().first() == Some(&b'.'))
            {
                return None;
            }
        }
    }
    Some((file, meta))
}

fn real_path(file: &File, path: &Path) -> Option<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if let Ok(real) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
            return Some(real);
        }
    }
    let _ = file;
    std::fs::canonicalize(path).ok()
}

/// The answer for the regular file at `path`.
fn serve_file(
    path: &Path,
    real_root: Option<&Path>,
    options: &Options,
    headers: &Headers,
    method: Method,
) -> Response {
    let Some((plain, plain_meta)) = open_inside(path, real_root, options) else {
        return not_found();
    };
    let content_type = content_type_of(path);
    // The representation: a precompressed sibling the client takes, or
    // the file itself.
    let mut chosen: Option<(File, Metadata, Coding)> = None;
    if !options.precompressed.is_empty() {
        let accept = conditional::list_value(headers, "accept-encoding");
        let accept = accept.as_deref();
        let mut candidates = options.precompressed.clone();
        loop {
            match negotiate::choose(accept, &candidates) {
                Choice::Coded(coding) => {
                    let mut name = path.as_os_str().to_owned();
                    name.push(".");
                    name.push(coding.extension());
                    if let Some((file, meta)) = open_inside(Path::new(&name), real_root, options) {
                        chosen = Some((file, meta, coding));
                        break;
                    }
                    candidates.retain(|c| *c != coding);
                }
                Choice::Identity => break,
                Choice::NotAcceptable => {
                    return crate::reply::error_response(
                        StatusCode::NOT_ACCEPTABLE,
                        "no acceptable content coding",
                        None,
                    )
                    .with_header("vary", "accept-encoding");
                }
            }
        }
    }
    let (file, meta, coding) = match chosen {
        Some((file, meta, coding)) => (file, meta, Some(coding)),
        None => (plain, plain_meta, None),
    };
    let len = meta.len();
    let suffix = coding.map_or(String::new(), |c| format!("-{}", c.extension()));
    let validators = Validators::of_file(len, meta.modified().ok(), meta.ino(), &suffix);

    // What every answer about this file carries, errors included.
    let mut response = Response::new(StatusCode::OK).with_header("etag", &validators.etag);
    if let Some(date) = validators.last_modified() {
        response = response.with_header("last-modified", date);
    }
    if !options.precompressed.is_empty() {
        response = response.with_header("vary", "accept-encoding");
    }
    let safe = matches!(method, Method::Get | Method::Head);
    let ranges_apply = match conditional::evaluate(headers, &validators, safe) {
        Precondition::NotModified => {
            response.set_status(StatusCode::NOT_MODIFIED);
            if let Some(cache) = &options.cache_control {
                response = response.with_header("cache-control", cache);
            }
            return response;
        }
        Precondition::Failed => {
            return with_headers_of(
                crate::reply::error_response(
                    StatusCode::PRECONDITION_FAILED,
                    "precondition failed",
                    None,
                ),
                &response,
            );
        }
        Precondition::Proceed { ranges } => ranges,
    };
    let range = headers
        .get("range")
        .filter(|_| ranges_apply && method == Method::Get);
    let ranges = match range.map_or(RangeAnswer::Whole, |value| range::resolve(value, len)) {
        RangeAnswer::Whole => Vec::new(),
        RangeAnswer::Partial(ranges) => ranges,
        RangeAnswer::Unsatisfiable => {
            // Not the file's content: no coding, and nothing a cache keeps.
            return with_headers_of(
                crate::reply::error_response(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range not satisfiable",
                    None,
                ),
                &response,
            )
            .with_header("content-range", format!("bytes */{len}"));
        }
    };
    response = response.with_header("accept-ranges", "bytes");
    if let Some(cache) = &options.cache_control {
        response = response.with_header("cache-control", cache);
    }
    if let Some(coding) = coding {
        response = response.with_header("content-encoding", coding.token());
    }
    match ranges.as_slice() {
        [] => {
            response.set_content_type(content_type);
            response.set_body(Body::File(Box::new(FileBody::range(file, 0, len))));
        }
        [r] => {
            response.set_status(StatusCode::PARTIAL_CONTENT);
            response.set_content_type(content_type);
            response = response.with_header(
                "content-range",
                format!("bytes {}-{}/{len}", r.start, r.end),
            );
            response.set_body(Body::File(Box::new(FileBody::range(
                file,
                r.start,
                r.len(),
            ))));
        }
        ranges => {
            let boundary = boundary(&validators.etag);
            let mut body = FileBody::empty(file);
            for (i, r) in ranges.iter().enumerate() {
                let lead = if i == 0 { "" } else { "\r\n" };
                body.push_bytes(
                    format!(
                        "{lead}--{boundary}\r\ncontent-type: {content_type}\r\ncontent-range: bytes {}-{}/{len}\r\n\r\n",
                        r.start, r.end
                    )
                    .into_bytes(),
                );
                body.push_range(r.start, r.len());
            }
            body.push_bytes(format!("\r\n--{boundary}--\r\n").into_bytes());
            response.set_status(StatusCode::PARTIAL_CONTENT);
            response.set_content_type(format!("multipart/byteranges; boundary={boundary}"));
            response.set_body(Body::File(Box::new(body)));
        }
    }
    response
}

/// `error` with the validators of the file's answer `file` (and its `Vary`).
fn with_headers_of(mut error: Response, file: &Response) -> Response {
    error.headers_mut().append_all(file.headers());
    error
}

/// A multipart boundary no file is likely to hold: 128 bits from the
/// process's random hashing keys, mixed with the file's tag.
fn boundary(etag: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let keys = std::collections::hash_map::RandomState::new();
    let mut a = keys.build_hasher();
    a.write(etag.as_bytes());
    let mut b = keys.build_hasher();
    b.write_u64(a.finish());
    format!("turnstile-{:016x}{:016x}", a.finish(), b.finish())
}

/// `Content-Type` for `path` by its extension; text gets `charset=utf-8`.
fn content_type_of(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(mime.subtype().as_str(), "javascript" | "json" | "xml")
        || mime.suffix().is_some_and(|s| s == "xml" || s == "json");
    if textual && mime.get_param("charset").is_none() {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for (name, want) in [
            ("a.html", "text/html; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("a.js", "text/javascript; charset=utf-8"),
            ("a.json", "application/json; charset=utf-8"),
            ("a.svg", "image/svg+xml; charset=utf-8"),
            ("a.png", "image/png"),
            ("a.wasm", "application/wasm"),
            ("noext", "application/octet-stream"),
        ] {
            assert_eq!(content_type_of(Path::new(name)), want, "{name}");
        }
    }

    #[test]
    fn unsafe_segments_resolve_to_nothing() {
        let dir = ServeDir::new("/srv");
        for bad in [
            "..",
            "a/../b",
            "%2e%2e",
            "a%2fb",
            "a%5cb",
            "a%00",
            ".env",
            "a/.git/config",
            ".",
        ] {
            assert_eq!(dir.resolve(bad), None, "{bad}");
        }
        assert_eq!(
            dir.resolve("a//b/c%20d.txt"),
            Some(PathBuf::from("/srv/a/b/c d.txt"))
        );
        assert_eq!(dir.resolve(""), Some(PathBuf::from("/srv")));
        assert_eq!(
            ServeDir::new("/srv").hidden(true).resolve(".well-known/x"),
            Some(PathBuf::from("/srv/.well-known/x"))
        );
    }
}
