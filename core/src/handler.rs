//! What a request handler is: the [`Handler`] state machine, the
//! [`HandlerFactory`] that makes one per request, and [`Next`], the answer a
//! handler gives after every event.

use crate::{Control, Decoder, Encoder, Error, Next, Request, ResponseHead};

/// A request's state machine. The engine calls it as events happen on the
/// connection; each call returns a [`Next`] saying what the handler wants
/// next.
///
/// The calls follow the exchange:
///
/// 1. [`on_request`](Handler::on_request) with the parsed head;
/// 2. while it asks to read: [`on_request_readable`](Handler::on_request_readable)
///    each time body bytes are available (a read of `0` means the body ended);
/// 3. when it first asks to write: [`on_response`](Handler::on_response) to
///    fill in the status and headers;
/// 4. while it asks to write: [`on_response_writable`](Handler::on_response_writable)
///    each time the body can take more bytes;
/// 5. [`Next::end`] finishes the response; [`on_done`](Handler::on_done) then
///    tells the handler it is being dropped.
///
/// ```
/// use turnstile_core::{Decoder, Encoder, Handler, Next, Request, ResponseHead};
/// use std::io::Write;
///
/// struct Hello;
///
/// impl Handler for Hello {
///     fn on_request(&mut self, _request: Request) -> Next {
///         Next::write()
///     }
///     fn on_response(&mut self, response: &mut ResponseHead) -> Next {
///         response.set_content_length(13);
///         Next::write()
///     }
///     fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
///         match encoder.write(b"Hello, World!") {
///             Ok(_) => Next::end(),
///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Next::write(),
///             Err(_) => Next::remove(),
///         }
///     }
/// }
/// ```
pub trait Handler {
    /// The head has arrived. Return [`Next::read`] to read the body,
    /// [`Next::write`] to answer, or [`Next::wait`] to wait for a
    /// [`Control`].
    fn on_request(&mut self, request: Request) -> Next;

    /// Body bytes can be read from `decoder`. A read returning `Ok(0)` means
    /// the body is complete; `WouldBlock` means none are here yet (return
    /// [`Next::read`] to be called again when some are).
    ///
    /// The default reads nothing and asks to write.
    fn on_request_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let _ = decoder;
        Next::write()
    }

    /// Fill in the response head. Return [`Next::write`] to write a body, or
    /// [`Next::end`] for a response without one.
    fn on_response(&mut self, response: &mut ResponseHead) -> Next;

    /// The body can take more bytes. `WouldBlock` from `encoder` means the
    /// peer is not reading fast enough: return [`Next::write`] to be called
    /// again when it has room.
    ///
    /// The default writes nothing and ends the response.
    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        let _ = encoder;
        Next::end()
    }

    /// Something went wrong: a timeout from the last `Next`, a malformed body,
    /// a closed connection ([`Error::Closed`] also when the peer closes its
    /// side while the handler waits with its response started, as a client
    /// leaving a stream does). Return what to do next; the default aborts
    /// ([`Next::remove`]), and the engine answers `400` itself for a malformed
    /// body when nothing was written yet.
    fn on_error(&mut self, error: Error) -> Next {
        log::debug!("handler aborted on error: {error}");
        Next::remove()
    }

    /// The engine is done with this handler: the response was completed, or
    /// the exchange was abandoned. Called exactly once, just before drop.
    fn on_done(&mut self, outcome: Outcome) {
        let _ = outcome;
    }

    /// A [`Control::wake`] arrived: say what next. The default keeps
    /// waiting.
    fn on_wake(&mut self) -> Next {
        Next::wait()
    }

    /// The server began a graceful shutdown while this exchange runs: a
    /// chance to end a stream or a long wait cleanly before the grace
    /// deadline closes the connection. `None`, the default, carries on as
    /// before; `Some(next)` replaces what the handler waits for.
    fn on_shutdown(&mut self) -> Option<Next> {
        None
    }

    /// The handler answered `101 Switching Protocols` and its head went
    /// out: return the [`Protocol`](crate::upgrade::Protocol) that takes
    /// over the connection (see [`upgrade`](crate::upgrade)). `None`, the
    /// default, closes the connection. Called before
    /// [`on_done`](Handler::on_done).
    fn on_upgrade(&mut self) -> Option<Box<dyn crate::upgrade::Protocol>> {
        None
    }
}

/// How an exchange ended, given to [`Handler::on_done`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The whole response was handed to the connection.
    Completed,
    /// The exchange stopped before the response was complete: the handler
    /// removed it, the peer went away, or the server shut down.
    Aborted,
}

/// Makes one [`Handler`] per request, giving it that request's [`Control`].
///
/// Each worker thread owns a clone of the factory, so a factory needs
/// `Clone + Send` to serve; closures `FnMut(Control) -> H` are factories.
///
/// ```
/// use turnstile_core::{Control, HandlerFactory, Next, Request, ResponseHead};
///
/// struct NoContent;
/// impl turnstile_core::Handler for NoContent {
///     fn on_request(&mut self, _: Request) -> Next { Next::write() }
///     fn on_response(&mut self, res: &mut ResponseHead) -> Next {
///         res.set_status(turnstile_core::StatusCode::NO_CONTENT);
///         Next::end()
///     }
/// }
///
/// fn assert_factory<F: HandlerFactory>(_: F) {}
/// assert_factory(|_control: Control| NoContent);
/// ```
pub trait HandlerFactory {
    /// The handler it makes.
    type Handler: Handler;

    /// A handler for a new request.
    fn create(&mut self, control: Control) -> Self::Handler;
}

impl<F, H> HandlerFactory for F
where
    F: FnMut(Control) -> H,
    H: Handler,
{
    type Handler = H;

    fn create(&mut self, control: Control) -> H {
        self(control)
    }
}

/// A boxed handler is a handler, so routes can hold handlers of different
/// types behind one pointer.
impl<H: Handler + ?Sized> Handler for Box<H> {
    fn on_request(&mut self, request: Request) -> Next {
        (**self).on_request(request)
    }
    fn on_request_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        (**self).on_request_readable(decoder)
    }
    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        (**self).on_response(response)
    }
    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        (**self).on_response_writable(encoder)
    }
    fn on_error(&mut self, error: Error) -> Next {
        (**self).on_error(error)
    }
    fn on_done(&mut self, outcome: Outcome) {
        (**self).on_done(outcome)
    }
    fn on_upgrade(&mut self) -> Option<Box<dyn crate::upgrade::Protocol>> {
        (**self).on_upgrade()
    }
    fn on_shutdown(&mut self) -> Option<Next> {
        (**self).on_shutdown()
    }
    fn on_wake(&mut self) -> Next {
        (**self).on_wake()
    }
}
