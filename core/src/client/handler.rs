//! The client's handler: the mirror of the server's, with the request going
//! out and the response coming in.

use crate::header::{Header, Headers};
use crate::{Decoder, Encoder, Error, Method, Next, Outcome, ResponseHead};

/// One request's state machine on the client side.
///
/// 1. [`on_request`](Handler::on_request) fills in the outgoing head;
///    return [`Next::write`] to send a body, [`Next::end`] for none.
/// 2. [`on_request_writable`](Handler::on_request_writable) while the body
///    goes out (`Next::end()` finishes it).
/// 3. [`on_response`](Handler::on_response) with the response head; return
///    [`Next::read`] for the body, [`Next::end`] to drop it.
/// 4. [`on_response_readable`](Handler::on_response_readable) as body bytes
///    arrive (a read of `0` means the body ended).
///
/// ```
/// use std::io::Read;
/// use turnstile_core::client::{Handler, RequestHead, ResponseHead};
/// use turnstile_core::{Decoder, Next};
///
/// /// Collects a response body.
/// struct Fetch { status: u16, body: Vec<u8> }
///
/// impl Handler for Fetch {
///     fn on_request(&mut self, _request: &mut RequestHead) -> Next {
///         Next::end() // a GET: no body
///     }
///     fn on_response(&mut self, response: ResponseHead) -> Next {
///         self.status = response.status().as_u16();
///         Next::read()
///     }
///     fn on_response_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
///         let mut chunk = [0u8; 4096];
///         loop {
///             match decoder.read(&mut chunk) {
///                 Ok(0) => return Next::end(),
///                 Ok(n) => self.body.extend_from_slice(&chunk[..n]),
///                 Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Next::read(),
///                 Err(_) => return Next::remove(),
///             }
///         }
///     }
/// }
/// ```
pub trait Handler: Send {
    /// Fill in the request head (method and target come from the URL and
    /// default to `GET`). Return [`Next::write`] to send a body.
    fn on_request(&mut self, request: &mut RequestHead) -> Next;

    /// The body can take more bytes. The default sends none.
    fn on_request_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        let _ = encoder;
        Next::end()
    }

    /// The response head arrived. Return [`Next::read`] for the body.
    fn on_response(&mut self, response: ResponseHead) -> Next;

    /// Body bytes can be read. The default drops the body.
    fn on_response_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let _ = decoder;
        Next::end()
    }

    /// Something went wrong: connecting, a timeout, a malformed or cut
    /// response. The default gives up.
    fn on_error(&mut self, error: Error) -> Next {
        log::debug!("client request failed: {error}");
        Next::remove()
    }

    /// The client is done with this handler.
    fn on_done(&mut self, outcome: Outcome) {
        let _ = outcome;
    }

    /// A [`Control::wake`](crate::Control::wake) arrived: say what next.
    /// The default keeps waiting.
    fn on_wake(&mut self) -> Next {
        Next::wait()
    }
}

/// The outgoing request head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub(crate) method: Method,
    pub(crate) target: String,
    pub(crate) headers: Headers,
}

impl RequestHead {
    pub(crate) fn new(target: String) -> RequestHead {
        RequestHead {
            method: Method::Get,
            target,
            headers: Headers::new(),
        }
    }

    /// The method (default `GET`).
    pub fn method(&self) -> Method {
        self.method
    }

    /// Sets the method.
    pub fn set_method(&mut self, method: Method) {
        self.method = method;
    }

    /// The request target (path and query), from the URL.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The header fields (`Host` is added from the URL when absent).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to change.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// Sets a typed header.
    pub fn set_header<H: Header>(&mut self, header: &H) {
        self.headers.set_typed(header);
    }

    /// Sets `Content-Length` (otherwise a body is sent chunked).
    pub fn set_content_length(&mut self, length: u64) {
        self.headers
            .set_typed(&crate::header::ContentLength(length));
    }
}
