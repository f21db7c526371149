//! The blocking layer, built on the async engine: a [`Server`] that runs
//! `handle(&self, Request, Response)` on a thread pool, and a [`Client`]
//! with `get`/`post` and `io::Read` bodies.
//!
//! Both cross between a blocking thread and an event loop through bounded
//! queues and the exchange's `Control`, so memory stays bounded whatever
//! the sizes and speeds on either side.

mod bridge;
mod client;
mod pool;
mod server;

pub use client::{Client, RequestBuilder, Response as ClientResponse};
pub use pool::ThreadPool;
pub use server::{Handler, Request, Response, Server, SyncFactory, SyncHandler};
