//! [`App`]: routes, state and middleware, compiled once into the engine's
//! handler factory.

use std::any::{Any, TypeId};
use std::fmt;
use std::io;
use std::net::ToSocketAddrs;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use turnstile_core::{
    Control, Handler as CoreHandler, HandlerFactory, Method, Server, ServerHandle,
};

use crate::engine::AppHandler;
use crate::extract::Rejection;
use crate::handler::{erase, HandlerFn};
use crate::middleware::Middleware;
use crate::raw::{RawContext, RawRoute, RawWith};
use crate::reply::Response;
use crate::router::{RouteError, Router};
use crate::state::AppState;
use crate::table::{AppShared, CompiledRoute, CompiledScope, ErrorRenderer, MethodTable, Target};
use turnstile_core::sync::ThreadPool;

/// Default most bytes of a request body a handler may read.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A web application: routes to handlers, shared state, and middleware.
///
/// ```no_run
/// use turnstile::{App, Json};
/// use turnstile::extract::Path;
///
/// let app = App::new()
///     .get("/", || "Hello, World!")
///     .get("/users/:id", |Path(id): Path<u64>| Json(serde_json::json!({ "id": id })));
/// let server = app.serve("127.0.0.1:3000")?;
/// println!("listening on http://{}", server.local_addr());
/// server.join();
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Routes are checked when the app is built ([`App::into_factory`],
/// [`App::serve`]):
/// an invalid pattern, two patterns that clash, or the same method twice on
/// one path is an error naming the routes, never a panic later.
pub struct App {
    routes: Vec<RouteDef>,
    middleware: Vec<Arc<dyn Middleware>>,
    states: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    nested: Vec<(String, App)>,
    /// Answers paths under this app that no route of it matches.
    fallback: Option<Target>,
    /// Renders error answers (root app only).
    render_errors: Option<ErrorRenderer>,
    body_limit: usize,
    blocking_threads: usize,
    blocking_queue: usize,
    /// Most `Response::stream` producers running at once (`None`: half the
    /// blocking threads).
    stream_producers: Option<usize>,
}

struct RouteDef {
    methods: Vec<Method>,
    pattern: String,
    target: Target,
    settings: RouteSettings,
}

/// Per-route settings, given through [`App::route_with`].
#[derive(Default, Clone)]
pub struct RouteSettings {
    body_limit: Option<usize>,
    timeout: Option<Duration>,
    middleware: Vec<Arc<dyn Middleware>>,
}

impl RouteSettings {
    /// Most body bytes this route reads (default: the app's).
    pub fn body_limit(mut self, bytes: usize) -> RouteSettings {
        self.body_limit = Some(bytes);
        self
    }

    /// How long the route may wait for a deferred answer or its body before
    /// answering `503`.
    pub fn timeout(mut self, timeout: Duration) -> RouteSettings {
        self.timeout = Some(timeout);
        self
    }

    /// Middleware for this route only, inside the app's.
    pub fn wrap(mut self, middleware: impl Middleware) -> RouteSettings {
        self.middleware.push(Arc::new(middleware));
        self
    }
}

impl Default for App {
    fn default() -> App {
        App::new()
    }
}

impl App {
    /// An app with no routes.
    pub fn new() -> App {
        App {
            routes: Vec::new(),
            middleware: Vec::new(),
            states: Vec::new(),
            nested: Vec::new(),
            fallback: None,
            render_errors: None,
            body_limit: DEFAULT_BODY_LIMIT,
            blocking_threads: 16,
            blocking_queue: 1024,
            stream_producers: None,
        }
    }

    /// Renders every error answer (a failed extractor, `404`, `405`, `413`,
    /// a timeout's `503`, a panic's `500`, a handler returning a bare
    /// status) the app's way instead of the default JSON
    /// `{"error": ..., "field": ...}`. The status and headers (such as
    /// `Allow`) stay; the body and content type come from `render`.
    /// Only the root app's renderer applies.
    ///
    /// ```
    /// use turnstile::extract::{Query, Rejection};
    /// use turnstile::{App, Response, StatusCode};
    /// use turnstile::test::TestClient;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Page { page: u32 }
    ///
    /// let app = App::new()
    ///     .get("/list", |Query(p): Query<Page>| format!("page {}", p.page))
    ///     .render_errors(|error: &Rejection| {
    ///         let field = error.field().unwrap_or("-");
    ///         Response::html(format!("<p>{} ({field})</p>", error.message()))
    ///     });
    /// let client = TestClient::new(app).unwrap();
    /// let bad = client.get("/list?page=x");
    /// assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    /// assert!(bad.text().starts_with("<p>invalid query string"));
    /// assert!(bad.text().ends_with("(page)</p>"));
    /// assert_eq!(client.get("/nope").text(), "<p>not found (-)</p>");
    /// ```
    pub fn render_errors<F>(mut self, render: F) -> App
    where
        F: Fn(&Rejection) -> Response + Send + Sync + 'static,
    {
        self.render_errors = Some(Arc::new(render));
        self
    }

    /// Answers requests for paths under this app that none of its routes
    /// match (any method), instead of the default `404` JSON. It runs with
    /// this app's middleware; in a nested app, paths under the nest prefix
    /// stay in the nested app (its fallback or its `404`, its middleware),
    /// even where an outer catch-all route would match them.
    ///
    /// ```
    /// use turnstile::{App, Method, StatusCode};
    /// use turnstile::test::TestClient;
    ///
    /// let api = App::new()
    ///     .get("/users", || "users")
    ///     .fallback(|method: Method| (StatusCode::NOT_FOUND, format!("no such API call ({method})")));
    /// let app = App::new()
    ///     .get("/*page", || "the site's page")
    ///     .nest("/api", api);
    /// let client = TestClient::new(app).unwrap();
    /// assert_eq!(client.get("/about").text(), "the site's page");
    /// assert_eq!(client.get("/api/users").text(), "users");
    /// // The root catch-all does not swallow the API's unknown paths.
    /// let missing = client.get("/api/nope");
    /// assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    /// assert_eq!(missing.text(), "no such API call (GET)");
    /// ```
    pub fn fallback<H: HandlerFn<A>, A: 'static>(mut self, handler: H) -> App {
        self.fallback = Some(Target::Function(erase(handler)));
        self
    }

    /// Shares `value` with every handler, as the extractor `State<T>`.
    /// Mutable state goes behind a `Mutex` or atomics.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> App {
        let id = TypeId::of::<T>();
        self.states.retain(|(t, _)| *t != id);
        self.states.push((id, Arc::new(value)));
        self
    }

    /// Adds middleware around every route of this app (and of apps nested
    /// in it), after the middleware added before.
    pub fn wrap(mut self, middleware: impl Middleware) -> App {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Most body bytes a handler reads, unless its route says otherwise
    /// (default 1 MiB); larger bodies get `413`.
    pub fn body_limit(mut self, bytes: usize) -> App {
        self.body_limit = bytes;
        self
    }

    /// Threads of the blocking pool behind `Defer::spawn` (default 16), and
    /// how many tasks may queue for them (default 1024) before `503`.
    pub fn blocking_pool(mut self, threads: usize, queue: usize) -> App {
        self.blocking_threads = threads;
        self.blocking_queue = queue;
        self
    }

    /// Most `Response::stream` producers running at once (default: half
    /// the blocking pool's threads). Each holds a pool thread for as long
    /// as its client takes; past the limit a streaming reply is answered
    /// `503` at once, instead of a `200` whose body waits behind other
    /// streams, and the rest of the pool stays free for `Defer::spawn`.
    pub fn stream_producers(mut self, count: usize) -> App {
        self.stream_producers = Some(count.max(1));
        self
    }

    /// `GET` (and so `HEAD`) `pattern`.
    pub fn get<H: HandlerFn<A>, A: 'static>(self, pattern: &str, handler: H) -> App {
        self.route(&[Method::Get], pattern, handler)
    }

    /// `POST` `pattern`.
    pub fn post<H: HandlerFn<A>, A: 'static>(self, pattern: &str, handler: H) -> App {
        self.route(&[Method::Post], pattern, handler)
    }

    /// `PUT` `pattern`.
    pub fn put<H: HandlerFn<A>, A: 'static>(self, pattern: &str, handler: H) -> App {
        self.route(&[Method::Put], pattern, handler)
    }

    /// `PATCH` `pattern`.
    pub fn patch<H: HandlerFn<A>, A: 'static>(self, pattern: &str, handler: H) -> App {
        self.route(&[Method::Patch], pattern, handler)
    }

    /// `DELETE` `pattern`.
    pub fn delete<H: HandlerFn<A>, A: 'static>(self, pattern: &str, handler: H) -> App {
        self.route(&[Method::Delete], pattern, handler)
    }

    /// Any of `methods` on `pattern`.
    pub fn route<H: HandlerFn<A>, A: 'static>(
        self,
        methods: &[Method],
        pattern: &str,
        handler: H,
    ) -> App {
        self.route_with(methods, pattern, handler, RouteSettings::default())
    }

    /// A route with its own body limit, timeout or middleware.
    ///
    /// ```
    /// use std::time::Duration;
    /// use turnstile::{App, Method, RouteSettings};
    ///
    /// let app = App::new().route_with(
    ///     &[Method::Post],
    ///     "/upload",
    ///     |body: Vec<u8>| body.len().to_string(),
    ///     RouteSettings::default().body_limit(16 << 20).timeout(Duration::from_secs(60)),
    /// );
    /// # let _ = app;
    /// ```
    pub fn route_with<H: HandlerFn<A>, A: 'static>(
        mut self,
        methods: &[Method],
        pattern: &str,
        handler: H,
        settings: RouteSettings,
    ) -> App {
        self.routes.push(RouteDef {
            methods: methods.to_vec(),
            pattern: pattern.to_owned(),
            target: Target::Function(erase(handler)),
            settings,
        });
        self
    }

    /// Serves the directory of `dir` under `prefix` (`GET` and `HEAD`):
    /// `/static/app.js` is `<root>/app.js`, `/static` redirects to
    /// `/static/`, which answers `<root>/index.html`. See [`files`](crate::files)
    /// for the rules (validators, ranges, precompressed siblings, safety).
    ///
    /// ```no_run
    /// use turnstile::App;
    ///
    /// App::new().files("/static", "./public").serve("127.0.0.1:3000")?.join();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn files(mut self, prefix: &str, dir: impl Into<crate::files::ServeDir>) -> App {
        let prefix = prefix.trim_end_matches('/');
        let endpoint = Arc::new(crate::files::DirEndpoint(dir.into()));
        let catch_all = format!("{prefix}/*{}", crate::files::DIR_PARAM);
        let mut patterns = vec![catch_all];
        if !prefix.is_empty() {
            patterns.push(prefix.to_owned());
        }
        for pattern in patterns {
            self.routes.push(RouteDef {
                methods: vec![Method::Get],
                pattern,
                target: Target::Function(endpoint.clone()),
                settings: RouteSettings::default(),
            });
        }
        self
    }

    /// Serves one file at `pattern` (`GET` and `HEAD`), with the same
    /// rules as [`files`](App::files).
    pub fn file(mut self, pattern: &str, file: impl Into<crate::files::ServeFile>) -> App {
        self.routes.push(RouteDef {
            methods: vec![Method::Get],
            pattern: pattern.to_owned(),
            target: Target::Function(Arc::new(crate::files::FileEndpoint(file.into()))),
            settings: RouteSettings::default(),
        });
        self
    }

    /// Serves `pattern` (every method) with a core handler factory
    /// (`|control: Control| handler`), for full control of the exchange:
    /// bodies in and out at the engine's level, protocol upgrades.
    ///
    /// The framework still applies: `before` middleware runs on the head
    /// first (and may answer instead), `after` middleware sees and changes
    /// the head the handler sets (CORS, request ids), `done` hooks run when
    /// it is over (so `Logger` logs it), and a panic is a `500`. To reach
    /// route parameters, state, extensions or the blocking pool, use
    /// [`App::raw_with`]. Most streaming needs no raw route at all:
    /// [`Response::stream`](crate::Response::stream).
    ///
    /// The same route runs on a server (any listener) and in the test
    /// client.
    pub fn raw<F>(mut self, pattern: &str, factory: F) -> App
    where
        F: HandlerFactory + Send + 'static,
        F::Handler: 'static,
    {
        self.routes.push(RouteDef {
            methods: Vec::new(),
            pattern: pattern.to_owned(),
            target: Target::Raw(Arc::new(RawRoute {
                factory: Mutex::new(factory),
            })),
            settings: RouteSettings::default(),
        });
        self
    }

    /// Like [`App::raw`], with the handler made from a [`RawContext`]:
    /// route parameters, state, extensions and the pool.
    ///
    /// ```
    /// use turnstile::{App, RawContext};
    /// use turnstile::core::{Encoder, Handler, Next, Request, ResponseHead};
    /// use std::io::Write;
    ///
    /// struct Greeting(String);
    /// impl Handler for Greeting {
    ///     fn on_request(&mut self, _: Request) -> Next { Next::write() }
    ///     fn on_response(&mut self, res: &mut ResponseHead) -> Next {
    ///         res.set_content_length(self.0.len() as u64);
    ///         Next::write()
    ///     }
    ///     fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
    ///         match encoder.write(self.0.as_bytes()) {
    ///             Ok(n) if n == self.0.len() => Next::end(),
    ///             _ => Next::remove(),
    ///         }
    ///     }
    /// }
    ///
    /// let app = App::new().raw_with("/hello/:name", |cx: RawContext<'_>| {
    ///     Greeting(format!("hello {}", cx.param("name").unwrap_or_default()))
    /// });
    /// let client = turnstile::test::TestClient::new(app).unwrap();
    /// assert_eq!(client.get("/hello/ada").text(), "hello ada");
    /// ```
    pub fn raw_with<F, H>(mut self, pattern: &str, factory: F) -> App
    where
        F: FnMut(RawContext<'_>) -> H + Send + 'static,
        H: CoreHandler + 'static,
    {
        self.routes.push(RouteDef {
            methods: Vec::new(),
            pattern: pattern.to_owned(),
            target: Target::Raw(Arc::new(RawWith {
                factory: Mutex::new(factory),
            })),
            settings: RouteSettings::default(),
        });
        self
    }

    /// Mounts `app` under `prefix`: its routes, state and middleware (which
    /// wraps only its own routes, inside this app's).
    pub fn nest(mut self, prefix: &str, app: App) -> App {
        self.nested
            .push((prefix.trim_end_matches('/').to_owned(), app));
        self
    }

    /// Compiles the route table and middleware chains into the handler
    /// factory a core [`Server`] runs.
    pub fn into_factory(mut self) -> Result<AppFactory, BuildError> {
        let pool = Arc::new(ThreadPool::named(
            "turnstile-blocking",
            self.blocking_threads,
            self.blocking_queue,
        ));
        let body_limit = self.body_limit;
        let producers = self
            .stream_producers
            .unwrap_or(self.blocking_threads / 2)
            .clamp(1, self.blocking_threads.max(1));
        let global: Arc<[Arc<dyn Middleware>]> = self.middleware.clone().into();
        let render_errors = self.render_errors.take();
        let mut flat = Vec::new();
        let mut states = Vec::new();
        let mut scopes = Vec::new();
        self.flatten("", &[], &mut flat, &mut states, &mut scopes);
        let mut router: Router<MethodTable> = Router::new();
        let mut routes: Vec<CompiledRoute> = Vec::new();
        let mut errors = Vec::new();
        for route in flat {
            let names = match crate::router::param_names(&route.pattern) {
                Ok(names) => names,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let slot = match router.slot(&route.pattern) {
                Ok(slot) => slot,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if let Target::Function(endpoint) = &route.target {
                let mut needs = crate::extract::Requirements::default();
                endpoint.requirements(&mut needs);
                for (id, name) in needs.states {
                    if !states.iter().any(|(t, _)| *t == id) {
                        errors.push(RouteError {
                            pattern: route.pattern.clone(),
                            conflicts_with: None,
                            reason: format!(
                                "its handler takes State<{name}>, but the app holds no {name} (add it with App::state)"
                            ),
                        });
                    }
                }
            }
            let table = slot.get_or_insert_with(MethodTable::default);
            routes.push(CompiledRoute {
                target: route.target,
                chain: route.chain.into(),
                body_limit: route.body_limit.unwrap_or(body_limit),
                timeout: route.timeout,
                names: names.into(),
                scope: route.scope,
            });
            if let Err(e) = table.add(&route.pattern, &route.methods, routes.len() - 1) {
                errors.push(e);
            }
        }
        let mut compiled_scopes = Vec::with_capacity(scopes.len());
        for (index, scope) in scopes.into_iter().enumerate() {
            let chain: Arc<[Arc<dyn Middleware>]> = scope.chain.into();
            let fallback = scope.fallback.map(|target| {
                if let Target::Function(endpoint) = &target {
                    let mut needs = crate::extract::Requirements::default();
                    endpoint.requirements(&mut needs);
                    for (id, name) in needs.states {
                        if !states.iter().any(|(t, _)| *t == id) {
                            errors.push(RouteError {
                                pattern: format!("{}/*", scope.prefix),
                                conflicts_with: None,
                                reason: format!(
                                    "its fallback takes State<{name}>, but the app holds no {name} (add it with App::state)"
                                ),
                            });
                        }
                    }
                }
                routes.push(CompiledRoute {
                    target,
                    chain: chain.clone(),
                    body_limit: scope.body_limit,
                    timeout: None,
                    names: Arc::from(Vec::new()),
                    scope: index,
                });
                routes.len() - 1
            });
            compiled_scopes.push(CompiledScope {
                prefix: scope.prefix,
                chain,
                fallback,
            });
        }
        if !errors.is_empty() {
            return Err(BuildError { errors });
        }
        Ok(AppFactory {
            shared: Arc::new(AppShared {
                router,
                routes,
                state: Arc::new(AppState::new(states, pool, producers)),
                global,
                body_limit,
                scopes: compiled_scopes,
                render_errors,
            }),
        })
    }

    fn flatten(
        self,
        prefix: &str,
        outer: &[Arc<dyn Middleware>],
        out: &mut Vec<FlatRoute>,
        states: &mut Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
        scopes: &mut Vec<FlatScope>,
    ) {
        let mut chain = outer.to_vec();
        chain.extend(self.middleware.iter().cloned());
        let scope = scopes.len();
        scopes.push(FlatScope {
            prefix: prefix.to_owned(),
            chain: chain.clone(),
            fallback: self.fallback,
            body_limit: self.body_limit,
        });
        for (id, value) in self.states {
            states.retain(|(t, _)| *t != id);
            states.push((id, value));
        }
        for route in self.routes {
            let pattern = join(prefix, &route.pattern);
            let mut route_chain = chain.clone();
            route_chain.extend(route.settings.middleware.iter().cloned());
            let timeout = route_chain
                .iter()
                .filter_map(|m| m.timeout())
                .chain(route.settings.timeout)
                .min();
            out.push(FlatRoute {
                methods: route.methods,
                pattern,
                target: route.target,
                chain: route_chain,
                body_limit: route.settings.body_limit.or(Some(self.body_limit)),
                timeout,
                scope,
            });
        }
        for (sub_prefix, app) in self.nested {
            let prefix = format!("{prefix}{sub_prefix}");
            app.flatten(&prefix, &chain, out, states, scopes);
        }
    }

    /// Builds the app and serves it on `addr` with the server's defaults.
    pub fn serve(self, addr: impl ToSocketAddrs) -> io::Result<ServerHandle> {
        self.serve_on(Server::bind(addr)?)
    }

    /// Builds the app and serves it on a configured core [`Server`].
    pub fn serve_on(self, server: Server) -> io::Result<ServerHandle> {
        let factory = self
            .into_factory()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        server.serve(factory)
    }
}

fn join(prefix: &str, pattern: &str) -> String {
    if prefix.is_empty() {
        pattern.to_owned()
    } else if pattern == "/" {
        prefix.to_owned()
    } else {
        format!("{prefix}{pattern}")
    }
}

struct FlatRoute {
    methods: Vec<Method>,
    pattern: String,
    target: Target,
    chain: Vec<Arc<dyn Middleware>>,
    body_limit: Option<usize>,
    timeout: Option<Duration>,
    /// The app (scope) it was declared in.
    scope: usize,
}

/// An app or nested app, flattened: where it is mounted, its middleware and
/// its fallback.
struct FlatScope {
    prefix: String,
    chain: Vec<Arc<dyn Middleware>>,
    fallback: Option<Target>,
    body_limit: usize,
}

/// Routes that refused to build.
#[derive(Debug, Clone)]
pub struct BuildError {
    errors: Vec<RouteError>,
}

impl BuildError {
    /// Every problem found.
    pub fn errors(&self) -> &[RouteError] {
        &self.errors
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

/// A built app: the core handler factory the server runs.
#[derive(Clone)]
pub struct AppFactory {
    pub(crate) shared: Arc<AppShared>,
}

impl HandlerFactory for AppFactory {
    type Handler = AppHandler;

    fn create(&mut self, control: Control) -> AppHandler {
        AppHandler::new(self.shared.clone(), control)
    }
}

impl std::fmt::Debug for AppFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppFactory").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RouteSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteSettings").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}
