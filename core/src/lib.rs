//! # turnstile-core
//!
//! Turnstile's engine: an HTTP/1.1 server that drives every request as a
//! small state machine over [`mio`], with no futures, no executor and no
//! boxed callbacks. A [`Handler`] receives events (the head arrived, body
//! bytes are here, the response can be written) and answers each with a
//! [`Next`] saying what it wants next. A [`Control`] lets another thread wake
//! a request that is waiting.
//!
//! ```no_run
//! use std::io::Write;
//! use turnstile_core::{Control, Encoder, Handler, Next, Request, ResponseHead, Server};
//!
//! struct Hello;
//!
//! impl Handler for Hello {
//!     fn on_request(&mut self, _request: Request) -> Next {
//!         Next::write()
//!     }
//!     fn on_response(&mut self, response: &mut ResponseHead) -> Next {
//!         response.set_content_length(13);
//!         Next::write()
//!     }
//!     fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
//!         match encoder.write(b"Hello, World!") {
//!             Ok(_) => Next::end(),
//!             Err(_) => Next::remove(),
//!         }
//!     }
//! }
//!
//! let server = Server::bind("127.0.0.1:3000")?.serve(|_: Control| Hello)?;
//! println!("listening on http://{}", server.local_addr());
//! server.join();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Map
//!
//! - [`handler`]: [`Handler`], [`HandlerFactory`], [`Next`]; what a request
//!   handler is and how it says what it wants.
//! - [`control`]: [`Control`], waking a waiting request from any thread.
//! - [`server`]: [`Server`], the builder with its limits and timeouts, and
//!   the [`ServerHandle`] for the bound address, shutdown and join.
//! - `conn`: the per-connection state machine, every transition in one
//!   place.
//! - [`client`]: the client mirror of the server, with its own loop,
//!   keep-alive pool and resolver.
//! - [`sync`]: the blocking server and client on top of the engine.
//! - [`h1`]: heads and bodies on the wire ([`Decoder`], [`Encoder`]).
//! - [`header`]: [`Headers`](header::Headers), the [`Header`](header::Header)
//!   trait and the common typed headers.
//! - [`local`]: one connection in memory, without a socket, for test
//!   clients and fuzzing.
//! - [`tls`]: certificates for HTTPS listeners ([`TlsConfig`](tls::TlsConfig))
//!   and the roots the client trusts.
//! - [`upgrade`]: a [`Protocol`](upgrade::Protocol) taking over a
//!   connection after `101 Switching Protocols`, on the same event loop.
//! - [`ws`]: WebSocket (RFC 6455) without I/O: handshake keys, frames, and
//!   the [`MessageReader`](ws::MessageReader) that enforces the protocol.
//! - `io` and `transport`: the I/O layer both connection roles share, over
//!   TCP, Unix sockets, TLS or memory.
//! - [`Request`], [`ResponseHead`], [`Method`], [`StatusCode`], [`Version`],
//!   [`RequestTarget`]: the vocabulary of a message.

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod buffer;
pub mod client;
mod conn;
pub mod control;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod h1;
pub mod handler;
pub mod header;
mod io;
pub mod local;
mod memory;
mod method;
mod next;
mod request;
mod response;
pub mod server;
mod status;
pub mod sync;
mod target;
pub mod tls;
mod transport;
pub mod upgrade;
mod version;
pub mod ws;

pub use control::{Control, ControlError};
pub use error::Error;
pub use h1::{Decoder, Encoder};
pub use handler::{Handler, HandlerFactory, Outcome};
pub use method::{ExtensionMethod, InvalidMethod, Method};
pub use next::Next;
pub use request::Request;
pub use response::ResponseHead;
pub use server::{Server, ServerHandle};
pub use status::StatusCode;
pub use target::{RequestTarget, TargetForm};
pub use version::Version;
