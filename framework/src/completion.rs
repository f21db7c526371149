//! What a `Defer` hands back to the engine: a [`Completion`], left in a
//! [`DeferSlot`] the request holds.

use std::sync::{Arc, Mutex};

use crate::reply::Response;

/// How a deferred step ended.
pub(crate) enum Completion {
    /// The answer.
    Reply(Response),
    /// Go on with the middleware chain (middleware only).
    Resume,
}

/// Where the other thread leaves its completion.
#[derive(Default)]
pub(crate) struct DeferSlot {
    pub(crate) completion: Mutex<Option<Completion>>,
}

pub(crate) type DeferSlotRef = Arc<DeferSlot>;

impl DeferSlot {
    pub(crate) fn take(&self) -> Option<Completion> {
        self.completion
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}
