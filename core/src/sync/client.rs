//! The blocking client: `get`, `post`, bodies from bytes or any `Read`,
//! responses with an `io::Read` body; connections reused through the async
//! client's pool.

use std::io::{self, Read};
use std::sync::Arc;

use super::bridge::{self, Bridge, Shared};
use crate::client::{self as async_client, RequestHead, ResponseHead};
use crate::header::{Header, Headers};
use crate::{Control, Decoder, Encoder, Error, Method, Next, Outcome, StatusCode};

/// A blocking HTTP/1.1 client over the async client's loop and pool.
///
/// ```no_run
/// use std::io::Read;
/// use turnstile_core::sync::Client;
///
/// let client = Client::new()?;
/// let mut response = client.get("http://127.0.0.1:3000/")?;
/// let mut body = String::new();
/// response.read_to_string(&mut body)?;
/// println!("{} {body}", response.status());
/// let created = client.post("http://127.0.0.1:3000/items").header("content-type", "application/json").body(br#"{"a":1}"#.to_vec()).send()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    client: async_client::Client,
}

enum Body {
    None,
    Bytes(Vec<u8>),
    Reader(Box<dyn Read + Send>, Option<u64>),
}

/// A request being built. See [`Client::request`].
pub struct RequestBuilder<'a> {
    client: &'a Client,
    method: Method,
    url: String,
    headers: Headers,
    body: Body,
}

impl Client {
    /// A client with the default settings.
    pub fn new() -> io::Result<Client> {
        Ok(Client {
            client: async_client::Client::new()?,
        })
    }

    /// A blocking face on an async client (sharing its pool).
    pub fn with(client: async_client::Client) -> Client {
        Client { client }
    }

    /// A request to build and send.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            method,
            url: url.to_owned(),
            headers: Headers::new(),
            body: Body::None,
        }
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> io::Result<Response> {
        self.request(Method::Get, url).send()
    }

    /// `POST url`, to add a body to.
    pub fn post(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::Post, url)
    }
}

impl RequestBuilder<'_> {
    /// Adds a header field (invalid ones are refused at `send`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Err(e) = self.headers.append(name, value) {
            log::error!("dropped request header: {e}");
        }
        self
    }

    /// Sets a typed header.
    pub fn typed<H: Header>(mut self, header: &H) -> Self {
        self.headers.set_typed(header);
        self
    }

    /// A body from bytes (sent with `Content-Length`).
    pub fn body(mut self, bytes: Vec<u8>) -> Self {
        self.body = Body::Bytes(bytes);
        self
    }

    /// A body streamed from `reader`: with `Content-Length` when `length` is
    /// given, chunked otherwise.
    pub fn body_reader(mut self, reader: impl Read + Send + 'static, length: Option<u64>) -> Self {
        self.body = Body::Reader(Box::new(reader), length);
        self
    }

    /// Sends the request, streaming its body, and waits for the response
    /// head. The body is read from the returned [`Response`].
    pub fn send(self) -> io::Result<Response> {
        let bridge: Arc<Bridge<ResponseHead>> = Arc::new(Bridge::new());
        let (reader, length) = match self.body {
            Body::None => (None, None),
            Body::Bytes(bytes) => {
                let length = Some(bytes.len() as u64);
                (
                    Some(Box::new(io::Cursor::new(bytes)) as Box<dyn Read + Send>),
                    length,
                )
            }
            Body::Reader(reader, length) => (Some(reader), length),
        };
        let handler_bridge = bridge.clone();
        let method = self.method;
        let headers = self.headers;
        let has_body = reader.is_some();
        self.client
            .client
            .request(&self.url, move |control: Control| {
                handler_bridge.lock().control = Some(control);
                Blocking {
                    bridge: handler_bridge,
                    method,
                    headers: Some(headers),
                    length,
                    has_body,
                }
            })
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        if let Some(mut reader) = reader {
            pump(&bridge, &mut *reader)?;
        }
        let mut state = bridge.lock();
        loop {
            if let Some(head) = state.head.take() {
                state.head_taken = true;
                drop(state);
                return Ok(Response { head, bridge });
            }
            if let Some(e) = &state.incoming_error {
                return Err(io::Error::other(e.clone()));
            }
            if let Some(kind) = state.closed {
                return Err(kind.into());
            }
            state = bridge.wait(state)?;
        }
    }
}

/// Feeds the request body into the bridge, waiting for room.
fn pump(bridge: &Bridge<ResponseHead>, reader: &mut dyn Read) -> io::Result<()> {
    let mut chunk = vec![0u8; 32 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // The request cannot be completed: abort it.
                let mut state = bridge.lock();
                state.closed = Some(e.kind());
                if let Some(control) = &state.control {
                    bridge::wake(control, Next::remove());
                }
                return Err(e);
            }
        };
        let mut state = bridge.lock();
        if n == 0 {
            state.outgoing.done = true;
            wake_loop(&state);
            return Ok(());
        }
        let mut sent = 0;
        while sent < n {
            if state.closed.is_some() || state.head.is_some() || state.head_taken {
                // The server answered (or the exchange ended) before the
                // whole body went out; the rest is not wanted.
                return Ok(());
            }
            let room = state.outgoing.room();
            if room == 0 {
                state = bridge.wait(state)?;
                continue;
            }
            let take = room.min(n - sent);
            let was_empty = state.outgoing.is_empty();
            state.outgoing.push(&chunk[sent..sent + take]);
            sent += take;
            if was_empty {
                wake_loop(&state);
            }
        }
    }
}

/// Wakes the loop with what the exchange needs now.
fn wake_loop(state: &Shared<ResponseHead>) {
    if let Some(control) = &state.control {
        let next = if state.head.is_some() || state.head_taken {
            Next::read()
        } else {
            Next::write()
        };
        bridge::wake(control, next);
    }
}

/// The response: status and headers, and the body as [`io::Read`].
pub struct Response {
    head: ResponseHead,
    bridge: Arc<Bridge<ResponseHead>>,
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.head.status()
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        self.head.headers()
    }

    /// The whole body as text (lossy), for small responses.
    pub fn text(mut self) -> io::Result<String> {
        let mut body = Vec::new();
        self.read_to_end(&mut body)?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

impl Read for Response {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let mut state = self.bridge.lock();
        loop {
            if !state.incoming.is_empty() {
                let was_full = state.incoming.room() == 0;
                let n = state.incoming.take_into(out);
                if was_full {
                    if let Some(control) = &state.control {
                        bridge::wake(control, Next::read());
                    }
                }
                return Ok(n);
            }
            if let Some(e) = &state.incoming_error {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e.clone()));
            }
            if state.incoming.done {
                return Ok(0);
            }
            if let Some(kind) = state.closed {
                return Err(kind.into());
            }
            state = self.bridge.wait(state)?;
        }
    }
}

/// The loop side of one blocking request.
struct Blocking {
    bridge: Arc<Bridge<ResponseHead>>,
    method: Method,
    headers: Option<Headers>,
    length: Option<u64>,
    has_body: bool,
}

impl async_client::Handler for Blocking {
    fn on_request(&mut self, request: &mut RequestHead) -> Next {
        request.set_method(self.method);
        if let Some(headers) = self.headers.take() {
            for (name, value) in headers.raw_iter() {
                request.headers_mut().push_unchecked(name, value);
            }
        }
        if !self.has_body {
            return Next::end();
        }
        if let Some(length) = self.length {
            request.set_content_length(length);
        }
        Next::write()
    }

    fn on_request_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        let mut state = self.bridge.lock();
        let mut progressed = false;
        while !state.outgoing.is_empty() {
            match io::Write::write(encoder, state.outgoing.front()) {
                Ok(n) => {
                    state.outgoing.consume(n);
                    progressed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::write(),
                Err(e) => {
                    state.closed = Some(e.kind());
                    self.bridge.notify();
                    return Next::remove();
                }
            }
        }
        if progressed {
            self.bridge.notify();
        }
        if state.outgoing.done {
            Next::end()
        } else {
            Next::wait()
        }
    }

    fn on_response(&mut self, response: ResponseHead) -> Next {
        let mut state = self.bridge.lock();
        state.head = Some(response);
        self.bridge.notify();
        Next::read()
    }

    fn on_response_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let mut state = self.bridge.lock();
        let mut chunk = [0u8; 16 * 1024];
        while state.incoming.room() > 0 && !state.incoming.done {
            let want = state.incoming.room().min(chunk.len());
            match io::Read::read(decoder, &mut chunk[..want]) {
                Ok(0) => state.incoming.done = true,
                Ok(n) => state.incoming.push(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    state.incoming_error = Some(e.to_string());
                    state.incoming.done = true;
                }
            }
        }
        self.bridge.notify();
        if state.incoming.done {
            Next::end()
        } else if state.incoming.room() == 0 {
            Next::wait() // the reader frees room and wakes the loop
        } else {
            Next::read()
        }
    }

    fn on_error(&mut self, error: Error) -> Next {
        let mut state = self.bridge.lock();
        if state.incoming_error.is_none() {
            state.incoming_error = Some(error.to_string());
        }
        state.closed.get_or_insert(io::ErrorKind::ConnectionAborted);
        self.bridge.notify();
        Next::remove()
    }

    fn on_done(&mut self, outcome: Outcome) {
        let mut state = self.bridge.lock();
        if outcome == Outcome::Aborted {
            state.closed.get_or_insert(io::ErrorKind::ConnectionAborted);
        }
        self.bridge.notify();
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response").finish_non_exhaustive()
    }
}

impl<'a> std::fmt::Debug for RequestBuilder<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBuilder").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}
