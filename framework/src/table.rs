//! The compiled app: what the engine reads for every request. The route
//! table (patterns to routes by method), each route's handler, middleware
//! chain and limits, the scopes of nested apps with their fallbacks, and
//! the error renderer. Built once by [`App::into_factory`](crate::App::into_factory),
//! shared by every worker, never changed after.

use std::sync::Arc;
use std::time::Duration;

use turnstile_core::Method;

use crate::extract::Rejection;
use crate::handler::Endpoint;
use crate::middleware::Middleware;
use crate::raw::RawFactory;
use crate::reply::Response;
use crate::router::{RouteError, Router};
use crate::state::AppState;

/// What a route runs.
#[derive(Clone)]
pub(crate) enum Target {
    Function(Arc<dyn Endpoint>),
    Raw(Arc<dyn RawFactory>),
}

/// A scope the engine answers unmatched paths in.
pub(crate) struct CompiledScope {
    /// Where it is mounted (`""` for the root app).
    pub(crate) prefix: String,
    pub(crate) chain: Arc<[Arc<dyn Middleware>]>,
    /// Its fallback route, by index into [`AppShared::routes`].
    pub(crate) fallback: Option<RouteId>,
}

/// A route's place in [`AppShared::routes`]: a request holds its route by
/// index, with no reference count to take and give back.
pub(crate) type RouteId = usize;

/// One compiled route: its handler and everything around it.
pub(crate) struct CompiledRoute {
    pub(crate) target: Target,
    pub(crate) chain: Arc<[Arc<dyn Middleware>]>,
    pub(crate) body_limit: usize,
    pub(crate) timeout: Option<Duration>,
    pub(crate) names: Arc<[Arc<str>]>,
    /// The scope (app or nested app) it belongs to.
    pub(crate) scope: usize,
}

/// The routes of one path, by method.
#[derive(Default)]
pub(crate) struct MethodTable {
    entries: Vec<(Method, RouteId)>,
    any: Option<RouteId>,
    /// The `Allow` value, kept current as methods are added.
    pub(crate) allow: String,
}

/// What a request's method finds on its path.
pub(crate) enum Found {
    Route(RouteId),
    /// No route for the method: `405`, with `Allow`.
    NotAllowed,
    /// `OPTIONS` without a route of its own: answered with `Allow`.
    Options,
}

impl MethodTable {
    pub(crate) fn add(
        &mut self,
        pattern: &str,
        methods: &[Method],
        route: RouteId,
    ) -> Result<(), RouteError> {
        let clash = |m: &str| RouteError {
            pattern: pattern.to_owned(),
            conflicts_with: Some(pattern.to_owned()),
            reason: format!("{m} is already routed on this path"),
        };
        if methods.is_empty() {
            if self.any.is_some() || !self.entries.is_empty() {
                return Err(clash("a raw route or another method"));
            }
            self.any = Some(route);
        } else {
            if self.any.is_some() {
                return Err(clash("a raw route"));
            }
            for m in methods {
                if self.entries.iter().any(|(have, _)| have == m) {
                    return Err(clash(m.as_str()));
                }
                self.entries.push((*m, route));
            }
        }
        let mut allow: Vec<&str> = self.entries.iter().map(|(m, _)| m.as_str()).collect();
        if self.entries.iter().any(|(m, _)| *m == Method::Get) && !allow.contains(&"HEAD") {
            allow.push("HEAD");
        }
        if !allow.contains(&"OPTIONS") {
            allow.push("OPTIONS");
        }
        self.allow = allow.join(", ");
        Ok(())
    }

    /// The middleware of the path's scope, for answers no route gives
    /// (405, OPTIONS): the chain of its first route.
    pub(crate) fn scope_chain(
        &self,
        routes: &[CompiledRoute],
    ) -> Option<Arc<[Arc<dyn Middleware>]>> {
        let first = self.entries.first().map(|(_, r)| *r).or(self.any)?;
        routes.get(first).map(|r| r.chain.clone())
    }

    pub(crate) fn find(&self, method: Method) -> Found {
        if let Some(any) = self.any {
            return Found::Route(any);
        }
        if let Some((_, route)) = self.entries.iter().find(|(m, _)| *m == method) {
            return Found::Route(*route);
        }
        if method == Method::Head {
            if let Some((_, route)) = self.entries.iter().find(|(m, _)| *m == Method::Get) {
                return Found::Route(*route);
            }
        }
        if method == Method::Options {
            return Found::Options;
        }
        Found::NotAllowed
    }
}

/// Everything every request of an app shares.
pub(crate) struct AppShared {
    pub(crate) router: Router<MethodTable>,
    /// Every route (fallbacks too); tables and requests name them by index.
    pub(crate) routes: Vec<CompiledRoute>,
    /// State values and the blocking pool, which extractors reach too.
    pub(crate) state: Arc<AppState>,
    /// The app-wide middleware, for answers no route gives (404, 405, OPTIONS).
    pub(crate) global: Arc<[Arc<dyn Middleware>]>,
    pub(crate) body_limit: usize,
    /// The root app first, then nested apps in the order they were nested.
    pub(crate) scopes: Vec<CompiledScope>,
    pub(crate) render_errors: Option<ErrorRenderer>,
}

/// Renders error answers the app's way.
pub(crate) type ErrorRenderer = Arc<dyn Fn(&Rejection) -> Response + Send + Sync>;

impl AppShared {
    /// The innermost scope whose prefix contains `path`.
    pub(crate) fn scope_of(&self, path: &str) -> usize {
        let mut best = 0;
        let mut best_len = 0;
        for (i, scope) in self.scopes.iter().enumerate().skip(1) {
            let prefix = scope.prefix.as_str();
            let inside = path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if inside && prefix.len() > best_len {
                best = i;
                best_len = prefix.len();
            }
        }
        best
    }
}
