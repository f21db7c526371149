//! [`AppState`]: what every handler of an app reaches besides its request:
//! the values given with `App::state`, and the blocking pool.

use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use turnstile_core::sync::ThreadPool;

/// The app's state values, by type, and its blocking pool.
pub(crate) struct AppState {
    states: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    pub(crate) pool: Arc<ThreadPool>,
    /// Stream producers running, and how many may.
    producers: Arc<AtomicUsize>,
    max_producers: usize,
}

/// A stream producer's place; given back when it ends (or never starts).
pub(crate) struct ProducerSlot(Arc<AtomicUsize>);

impl Drop for ProducerSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl AppState {
    pub(crate) fn new(
        states: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
        pool: Arc<ThreadPool>,
        max_producers: usize,
    ) -> AppState {
        AppState {
            states,
            pool,
            producers: Arc::new(AtomicUsize::new(0)),
            max_producers,
        }
    }

    /// A place for one more stream producer, if the limit allows.
    pub(crate) fn producer_slot(&self) -> Option<ProducerSlot> {
        let mut running = self.producers.load(Ordering::Acquire);
        loop {
            if running >= self.max_producers {
                return None;
            }
            match self.producers.compare_exchange_weak(
                running,
                running + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(ProducerSlot(self.producers.clone())),
                Err(now) => running = now,
            }
        }
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
