//! [`AppState`]: what every handler of an app reaches besides its request:
//! the values given with `App::state`, and the blocking pool.

use std::any::{Any, TypeId};
use std::sync::Arc;

use turnstile_core::sync::ThreadPool;

/// The app's state values, by type, and its blocking pool.
pub(crate) struct AppState {
    states: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    pub(crate) pool: Arc<ThreadPool>,
}

impl AppState {
    pub(crate) fn new(
        states: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
        pool: Arc<ThreadPool>,
    ) -> AppState {
        AppState { states, pool }
    }

    /// The value of type `T`, if the app was given one.
    pub(crate) fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let id = TypeId::of::<T>();
        self.states
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, v)| v.clone().downcast::<T>().ok())
    }
}
