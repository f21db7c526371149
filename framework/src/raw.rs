//! Raw routes: a core [`Handler`](turnstile_core::Handler) as one route of
//! an app, made per request by a factory, with what it can reach of the
//! framework ([`RawContext`]).

use std::fmt;
use std::sync::{Arc, Mutex};

use turnstile_core::sync::ThreadPool;
use turnstile_core::{Control, Handler as CoreHandler, HandlerFactory};

use crate::extract::RequestParts;

/// A raw route's factory, shared by every worker.
pub(crate) trait RawFactory: Send + Sync {
    fn create(&self, cx: RawContext<'_>) -> Box<dyn CoreHandler>;
}

/// What a raw route's handler can reach of the framework when it is made
/// (see [`App::raw_with`]): the request's `Control`, route parameters,
/// state, what `before` middleware attached, and the blocking pool.
pub struct RawContext<'a> {
    pub(crate) parts: &'a RequestParts,
}

impl RawContext<'_> {
    /// The request's `Control`, to wake the handler from another thread.
    pub fn control(&self) -> Control {
        self.parts.control.clone()
    }

    /// The request head.
    pub fn request(&self) -> &turnstile_core::Request {
        self.parts.request()
    }

    /// A route parameter, percent-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        self.parts.param(name)
    }

    /// State given with [`App::state`].
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.parts.app.state::<T>()
    }

    /// A value a `before` middleware attached, cloned.
    pub fn extension<T: Clone + Send + 'static>(&self) -> Option<T> {
        self.parts.extensions().get::<T>().cloned()
    }

    /// The app's blocking pool, for work that must not run on the loop.
    pub fn pool(&self) -> Arc<ThreadPool> {
        self.parts.app.pool.clone()
    }
}

impl fmt::Debug for RawContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawContext")
            .field("path", &self.parts.request().path())
            .finish_non_exhaustive()
    }
}

/// A core factory (`FnMut(Control) -> H`) as a raw route.
pub(crate) struct RawRoute<F> {
    pub(crate) factory: Mutex<F>,
}

impl<F> RawFactory for RawRoute<F>
where
    F: HandlerFactory + Send,
    F::Handler: 'static,
{
    fn create(&self, cx: RawContext<'_>) -> Box<dyn CoreHandler> {
        let mut factory = self.factory.lock().unwrap_or_else(|e| e.into_inner());
        Box::new(factory.create(cx.control()))
    }
}

/// A `FnMut(RawContext) -> H` as a raw route.
pub(crate) struct RawWith<F> {
    pub(crate) factory: Mutex<F>,
}

impl<F, H> RawFactory for RawWith<F>
where
    F: FnMut(RawContext<'_>) -> H + Send,
    H: CoreHandler + 'static,
{
    fn create(&self, cx: RawContext<'_>) -> Box<dyn CoreHandler> {
        let mut factory = self.factory.lock().unwrap_or_else(|e| e.into_inner());
        Box::new((*factory)(cx))
    }
}
