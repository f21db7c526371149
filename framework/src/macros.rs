//! Support for the route attributes and `routes![]` (`turnstile-macros`).
//!
//! ```
//! use turnstile::extract::Path;
//! use turnstile::{get, post, routes, App, Json};
//!
//! #[get("/users/:id")]
//! fn show(Path(id): Path<u64>) -> String {
//!     format!("user {id}")
//! }
//!
//! #[post("/users", body_limit = 4096)]
//! fn create(Json(user): Json<serde_json::Value>) -> Json<serde_json::Value> {
//!     Json(user)
//! }
//!
//! // Still a plain function:
//! assert_eq!(show(Path(7)), "user 7");
//!
//! let app = App::new().mount(routes![show, create]);
//! let client = turnstile::test::TestClient::new(app).unwrap();
//! assert_eq!(client.get("/users/7").text(), "user 7");
//! ```
//!
//! Everything the attributes do is possible by hand: `#[get("/p")] fn f`
//! mounts as `app.route_with(&[Method::Get], "/p", f, settings)`.
//!
//! `routes![]` with [`App::mount`] is the one way to mount them: an
//! `app!`-style macro would hide the builder (state, middleware, nesting)
//! without being able to check anything more.
//!
//! ## Compile-time checks
//!
//! | mistake | where the error points |
//! |---|---|
//! | path syntax (`"users"`, `"/a//b"`, `"/{id"`, `"/*rest/x"`) | the path literal |
//! | invalid regex in `{name:re}` | the path literal |
//! | a parameter named twice | the path literal |
//! | `Path<(A, B)>` or `Path<u64>` not fitting the pattern's parameters | the `Path` type |
//! | a method other than the nine standard ones in `#[route]` | the method |
//! | an unknown setting (`body_limt = ..`) | the setting |
//! | two routes in one `routes![]` with a common method and equivalent patterns | the later route |
//!
//! Conflicts the compiler cannot see (across several `routes![]`, or two
//! names for one parameter position) are still refused when the app is
//! built, naming both routes.

use crate::extract::{FromRequest, FromRequestParts};
use crate::reply::IntoReply;
use crate::App;

/// Compile-time check the route attributes and `#[handler]` emit for each
/// argument but the last, spanned on its type.
#[doc(hidden)]
pub const fn head_extractor<T: FromRequestParts>() {}

/// The check for a handler's last argument (it may read the body).
#[doc(hidden)]
pub const fn last_extractor<M, T: FromRequest<M>>() {}

/// The check for a handler's return type.
#[doc(hidden)]
pub const fn reply<T: IntoReply>() {}

/// A route made by a route attribute: the function's hidden twin type.
pub trait Route {
    /// The methods, as written.
    const METHODS: &'static [&'static str];
    /// The path pattern, as written.
    const PATTERN: &'static str;
    /// Adds the route to `app`.
    fn mount(app: App) -> App;
}

/// Routes made by route attributes, from `routes![...]`, for [`App::mount`].
pub struct Routes {
    mounts: Vec<fn(App) -> App>,
}

impl Routes {
    /// Routes from their mount functions (what `routes![]` expands to).
    pub fn new(mounts: Vec<fn(App) -> App>) -> Routes {
        Routes { mounts }
    }

    pub(crate) fn mount_all(self, mut app: App) -> App {
        for mount in self.mounts {
            app = mount(app);
        }
        app
    }
}

/// Fails const evaluation when `pattern` shares a method with an earlier
/// route and their patterns are equivalent (the same statics, parameters
/// and constraints in the same places, whatever the parameter names).
pub const fn check_route(earlier: &[(&[&str], &str)], methods: &[&str], pattern: &str) {
    let mut i = 0;
    while i < earlier.len() {
        let (other_methods, other_pattern) = earlier[i];
        if share_method(other_methods, methods)
            && equivalent(other_pattern.as_bytes(), pattern.as_bytes())
        {
            panic!("this route has a method and an equivalent pattern of an earlier route in routes![]");
        }
        i += 1;
    }
}

const fn bytes_eq(
    a: &[u8],
    a_start: usize,
    a_end: usize,
    b: &[u8],
    b_start: usize,
    b_end: usize,
) -> bool {
    if a_end - a_start != b_end - b_start {
        return false;
    }
    let mut i = 0;
    while i < a_end - a_start {
        if a[a_start + i] != b[b_start + i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn share_method(a: &[&str], b: &[&str]) -> bool {
    let mut i = 0;
    while i < a.len() {
        let mut j = 0;
        while j < b.len() {
            let (x, y) = (a[i].as_bytes(), b[j].as_bytes());
            // GET routes also answer HEAD.
            let head_get = (bytes_eq(x, 0, x.len(), b"HEAD", 0, 4)
                && bytes_eq(y, 0, y.len(), b"GET", 0, 3))
                || (bytes_eq(x, 0, x.len(), b"GET", 0, 3)
                    && bytes_eq(y, 0, y.len(), b"HEAD", 0, 4));
            if bytes_eq(x, 0, x.len(), y, 0, y.len()) || head_get {
                return true;
            }
            j += 1;
        }
        i += 1;
    }
    false
}

/// The end of the segment starting at `start` ('/' outside braces).
const fn segment_end(p: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < p.len() {
        match p[i] {
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b'/' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    i
}

/// What a segment is, for equivalence: static text, a free parameter, a
/// constrained parameter (with its constraint's range), or a catch-all.
const fn kind(p: &[u8], start: usize, end: usize) -> (u8, usize, usize) {
    if start == end {
        return (0, start, end);
    }
    match p[start] {
        b':' => (1, 0, 0),
        b'*' => (3, 0, 0),
        b'{' => {
            let mut i = start + 1;
            while i < end {
                if p[i] == b':' {
                    return (2, i + 1, end - 1);
                }
                i += 1;
            }
            (1, 0, 0)
        }
        _ => (0, start, end),
    }
}

const fn equivalent(a: &[u8], b: &[u8]) -> bool {
    let (mut i, mut j) = (0, 0);
    loop {
        if i >= a.len() || j >= b.len() {
            return i >= a.len() && j >= b.len();
        }
        // Skip the '/' that starts each segment.
        i += 1;
        j += 1;
        let (a_end, b_end) = (segment_end(a, i), segment_end(b, j));
        let (ka, a_s, a_e) = kind(a, i, a_end);
        let (kb, b_s, b_e) = kind(b, j, b_end);
        if ka != kb {
            return false;
        }
        if (ka == 0 || ka == 2) && !bytes_eq(a, a_s, a_e, b, b_s, b_e) {
            return false;
        }
        if ka == 3 {
            return true;
        }
        i = a_end;
        j = b_end;
    }
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes").finish_non_exhaustive()
    }
}

/// Mounting attributed routes: here, beside [`Routes`], so the builder
/// needs nothing of the macros.
impl App {
    /// Adds the routes of `routes![...]` (functions with route attributes).
    pub fn mount(self, routes: Routes) -> App {
        routes.mount_all(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalence_ignores_parameter_names_only() {
        assert!(equivalent(b"/users/:id", b"/users/:name"));
        assert!(equivalent(b"/users/{id}", b"/users/:name"));
        assert!(equivalent(b"/a/{id:[0-9]+}/b", b"/a/{n:[0-9]+}/b"));
        assert!(!equivalent(b"/a/{id:[0-9]+}", b"/a/{id:[a-z]+}"));
        assert!(!equivalent(b"/users/:id", b"/users/new"));
        assert!(!equivalent(b"/users", b"/users/"));
        assert!(!equivalent(b"/users/:id", b"/users/:id/posts"));
        assert!(equivalent(b"/files/*a", b"/files/*b"));
        assert!(equivalent(b"/", b"/"));
        assert!(share_method(&["GET"], &["HEAD", "POST"]));
        assert!(!share_method(&["GET"], &["POST"]));
    }
}
