//! A blocking WebSocket client: connect to `ws://` or `wss://`, send and
//! receive messages, close. One thread per connection, on std sockets (and
//! rustls for `wss://`, with the same roots as the HTTP client): for tests,
//! tools and talking to other servers, where a thread is fine. Frames are
//! checked by the same [`MessageReader`] the server uses, in the client's
//! role (unmasked from the server, masked from us).
//!
//! ```no_run
//! use turnstile_core::ws::{Message, WsClient};
//!
//! let mut socket = WsClient::builder().protocol("chat").connect("ws://127.0.0.1:3000/ws/echo")?;
//! socket.send(&Message::Text("hello".into()))?;
//! while let Some(message) = socket.recv()? {
//!     if let Message::Text(text) = message {
//!         println!("{text}");
//!         break;
//!     }
//! }
//! socket.close(None)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};

use super::deflate::Deflater;
use super::{
    accept_key, client_key, close_code, is_valid_close_code, write_close, write_message,
    write_message_with, CloseFrame, Deflate, Message, MessageReader, Role,
};
use crate::client::{InvalidUrl, Url};

/// The largest handshake answer read before giving up.
const MAX_HANDSHAKE: usize = 16 * 1024;

/// The default limit on a received message, as on the server.
const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// Not a `ws://` or `wss://` URL.
    Url(InvalidUrl),
    /// Resolving, connecting, TLS or the handshake's I/O failed.
    Io(io::Error),
    /// The server answered something else than `101` (a refusal such as
    /// `403` or `426`, or a plain page).
    Refused {
        /// Its status code.
        status: u16,
    },
    /// The server's `101` broke the handshake's rules.
    BadHandshake(&'static str),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Url(e) => e.fmt(f),
            ConnectError::Io(e) => write!(f, "WebSocket connection failed: {e}"),
            ConnectError::Refused { status } => {
                write!(f, "the server refused the WebSocket: status {status}")
            }
            ConnectError::BadHandshake(why) => write!(f, "bad WebSocket handshake: {why}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Url(e) => Some(e),
            ConnectError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ConnectError {
    fn from(e: io::Error) -> ConnectError {
        ConnectError::Io(e)
    }
}

/// How to connect: subprotocols, extra headers, roots, limits.
#[derive(Debug, Default)]
pub struct WsClientBuilder {
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    extra_roots: Vec<CertificateDer<'static>>,
    max_message: Option<usize>,
    timeout: Option<Duration>,
    deflate: bool,
}

impl WsClientBuilder {
    /// Offers a subprotocol (`Sec-WebSocket-Protocol`); the server picks
    /// at most one of those offered, in [`WsClient::protocol`].
    pub fn protocol(mut self, name: &str) -> Self {
        self.protocols.push(name.to_owned());
        self
    }

    /// Sends a header with the handshake (`Origin`, `Authorization`, a
    /// cookie).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Trusts the certificates in `pem` for `wss://`, beside the built-in
    /// Mozilla roots.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, crate::tls::TlsError> {
        self.extra_roots.extend(crate::tls::pem_certificates(pem)?);
        Ok(self)
    }

    /// Refuses received messages over `bytes` (closing with 1009); default 16 MiB.
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.max_message = Some(bytes);
        self
    }

    /// Offers `permessage-deflate` (`client_max_window_bits`, context
    /// takeover both ways unless the server says otherwise); if the server
    /// takes it, messages of 32 bytes or more go compressed.
    pub fn deflate(mut self, offer: bool) -> Self {
        self.deflate = offer;
        self
    }

    /// Bounds connecting and the handshake (default: 10 s); afterwards,
    /// reads wait as long as [`WsClient::set_read_timeout`] says.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Opens `url` (`ws://host[:port]/path` or `wss://...`) and completes
    /// the opening handshake.
    pub fn connect(self, url: &str) -> Result<WsClient, ConnectError> {
        let http = if let Some(rest) = url.strip_prefix("ws://") {
            format!("http://{rest}")
        } else if let Some(rest) = url.strip_prefix("wss://") {
            format!("https://{rest}")
        } else {
            return Err(ConnectError::Url(InvalidUrl::new(
                "expected ws://host/path or wss://host/path",
            )));
        };
        let url = Url::parse(&http).map_err(ConnectError::Url)?;
        let timeout = self.timeout.unwrap_or(Duration::from_secs(10));
        let tcp = connect_tcp(&url, timeout)?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(timeout))?;
        tcp.set_write_timeout(Some(timeout))?;
        let stream = if url.is_https() {
            let mut config = (*crate::tls::client_config(&self.extra_roots)).clone();
            // The upgrade is an HTTP/1.1 exchange: say nothing else in ALPN.
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            let name = ServerName::try_from(url.host().to_owned())
                .map_err(|_| ConnectError::Url(InvalidUrl::new("bad host name for TLS")))?;
            let tls = rustls::ClientConnection::new(Arc::new(config), name)
                .map_err(|e| ConnectError::Io(io::Error::other(e)))?;
            Stream::Tls(Box::new(rustls::StreamOwned::new(tls, tcp)))
        } else {
            Stream::Plain(tcp)
        };
        let mut masks = Masks::new();
        let key = client_key(masks.seed());
        let mut request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            url.target(),
            url.authority()
        );
        if !self.protocols.is_empty() {
            request.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                self.protocols.join(", ")
            ));
        }
        if self.deflate {
            request.push_str(
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
            );
        }
        for (name, value) in &self.headers {
            if value.bytes().any(|b| b == b'\r' || b == b'\n') || name.contains([':', '\r', '\n']) {
                return Err(ConnectError::BadHandshake(
                    "a header name or value with a line break or colon",
                ));
            }
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut stream = stream;
        stream.write_all(request.as_bytes())?;
        stream.flush()?;

        let (head_len, buf) = read_head(&mut stream)?;
        let (protocol, deflate) =
            check_answer(&buf[..head_len], &key, &self.protocols, self.deflate)?;
        stream.set_read_timeout(None)?;
        let mut reader = MessageReader::new(
            Role::Client,
            self.max_message.unwrap_or(DEFAULT_MAX_MESSAGE),
        );
        if let Some(agreed) = &deflate {
            reader = reader.with_deflate(agreed);
        }
        Ok(WsClient {
            stream,
            reader,
            deflater: deflate.as_ref().map(Deflater::client),
            pending: buf[head_len..].to_vec(),
            masks,
            protocol,
            state: State::Open,
            out: Vec::new(),
        })
    }
}

fn connect_tcp(url: &Url, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    for addr in (url.host(), url.port()).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Reads up to the end of the response head; its length and every byte
/// read (frames may follow the head in the same read).
fn read_head(stream: &mut Stream) -> Result<(usize, Vec<u8>), ConnectError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok((end + 4, buf));
        }
        if buf.len() > MAX_HANDSHAKE {
            return Err(ConnectError::BadHandshake("the answer's head is too large"));
        }
        match stream.read(&mut chunk)? {
            0 => {
                return Err(ConnectError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed during the handshake",
                )))
            }
            n => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Checks the server's answer to the handshake: the chosen subprotocol,
/// and the compression it took up, if we offered it.
fn check_answer(
    head: &[u8],
    key: &str,
    offered: &[String],
    offered_deflate: bool,
) -> Result<(Option<String>, Option<Deflate>), ConnectError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(ConnectError::BadHandshake("not an HTTP/1.1 answer")),
    }
    let status = response.code.unwrap_or(0);
    if status != 101 {
        return Err(ConnectError::Refused { status });
    }
    let value = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let has_token = |name: &str, token: &str| {
        response
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token("upgrade", "websocket") {
        return Err(ConnectError::BadHandshake("no Upgrade: websocket"));
    }
    if !has_token("connection", "upgrade") {
        return Err(ConnectError::BadHandshake("no Connection: upgrade"));
    }
    if value("sec-websocket-accept") != Some(accept_key(key.as_bytes()).as_str()) {
        return Err(ConnectError::BadHandshake("wrong Sec-WebSocket-Accept"));
    }
    let deflate = match value("sec-websocket-extensions").filter(|v| !v.is_empty()) {
        None => None,
        Some(answer) if offered_deflate => Some(Deflate::from_answer(answer).ok_or(
            ConnectError::BadHandshake("an extension answer we cannot take"),
        )?),
        Some(_) => {
            return Err(ConnectError::BadHandshake(
                "an extension that was not offered",
            ))
        }
    };
    let protocol = match value("sec-websocket-protocol") {
        None => None,
        Some(chosen) if offered.iter().any(|p| p == chosen) => Some(chosen.to_owned()),
        Some(_) => {
            return Err(ConnectError::BadHandshake(
                "a subprotocol that was not offered",
            ))
        }
    };
    Ok((protocol, deflate))
}

/// The connection under the frames.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => &tls.sock,
        }
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => match tls.read(buf) {
                // A peer that closes without close_notify after the
                // closing handshake has said all it had to say.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

/// Masking keys: SipHash under this process's random keys (std's
/// `RandomState`, seeded from the OS) over a counter, so a script that
/// sees earlier frames cannot predict the next mask (RFC 6455 §10.3).
struct Masks {
    keys: std::hash::RandomState,
    counter: u64,
}

impl Masks {
    fn new() -> Masks {
        Masks {
            keys: std::hash::RandomState::new(),
            counter: 0,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.counter += 1;
        let mut hasher = self.keys.build_hasher();
        hasher.write_u64(self.counter);
        hasher.finish()
    }

    fn mask(&mut self) -> [u8; 4] {
        (self.next_u64() as u32).to_ne_bytes()
    }

    fn seed(&mut self) -> [u8; 16] {
        let mut seed = [0u8; 16];
        seed[..8].copy_from_slice(&self.next_u64().to_ne_bytes());
        seed[8..].copy_from_slice(&self.next_u64().to_ne_bytes());
        seed
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// We sent a close frame and wait for the server's.
    Closing,
    /// The closing handshake is over (or the connection broke).
    Closed,
}

/// An open WebSocket connection (client side).
pub struct WsClient {
    stream: Stream,
    reader: MessageReader,
    deflater: Option<Deflater>,
    /// Bytes read and not yet taken by the reader.
    pending: Vec<u8>,
    masks: Masks,
    protocol: Option<String>,
    state: State,
    out: Vec<u8>,
}

impl fmt::Debug for WsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsClient")
            .field("protocol", &self.protocol)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl WsClient {
    /// Connects to `url` with the defaults; see [`builder`](Self::builder).
    pub fn connect(url: &str) -> Result<WsClient, ConnectError> {
        WsClient::builder().connect(url)
    }

    /// Settings for [`connect`](WsClientBuilder::connect).
    pub fn builder() -> WsClientBuilder {
        WsClientBuilder::default()
    }

    /// The subprotocol the server chose.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// How long [`recv`](Self::recv) waits for bytes (`None`: for ever);
    /// past it, `recv` fails with `WouldBlock` or `TimedOut` and may be
    /// called again.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// Sends one message (masked, as a client must). A `Close` starts the
    /// closing handshake, as [`close`](Self::close) does without waiting.
    pub fn send(&mut self, message: &Message) -> io::Result<()> {
        if self.state != State::Open {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the WebSocket is closing or closed",
            ));
        }
        match message {
            Message::Close(Some(frame)) if !is_valid_close_code(frame.code) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a close code an endpoint may send",
                ));
            }
            Message::Close(_) => self.state = State::Closing,
            _ => {}
        }
        self.out.clear();
        let mask = self.masks.mask();
        write_message_with(&mut self.out, message, Some(mask), self.deflater.as_mut());
        self.write_out()
    }

    /// Whether the server took up `permessage-deflate`.
    pub fn is_compressed(&self) -> bool {
        self.deflater.is_some()
    }

    fn write_out(&mut self) -> io::Result<()> {
        let result = self
            .stream
            .write_all(&self.out)
            .and_then(|()| self.stream.flush());
        if result.is_err() {
            self.state = State::Closed;
        }
        result
    }

    /// The next message: text, binary, a ping (already answered with a
    /// pong), a pong, or the server's `Close` (answered, unless we started
    /// the closing). `Ok(None)` once the connection is over. A server that
    /// breaks the protocol gets the matching close code and the error is
    /// returned as `InvalidData` (its inner error is a
    /// [`ProtocolError`](super::ProtocolError)).
    pub fn recv(&mut self) -> io::Result<Option<Message>> {
        loop {
            if self.state == State::Closed {
                return Ok(None);
            }
            while !self.pending.is_empty() {
                let (used, message) = match self.reader.read(&mut self.pending) {
                    Ok(read) => read,
                    Err(error) => {
                        self.fail(error.code, error.reason);
                        return Err(io::Error::new(io::ErrorKind::InvalidData, error));
                    }
                };
                self.pending.drain(..used);
                if let Some(message) = message {
                    self.answer(&message)?;
                    return Ok(Some(message));
                }
                if used == 0 {
                    break;
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    let clean = self.state == State::Closing;
                    self.state = State::Closed;
                    if clean {
                        return Ok(None);
                    }
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection without a closing handshake",
                    ));
                }
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// What a received message asks of us: a pong for a ping; for a close,
    /// our close (echoing the code) and the end of the connection.
    fn answer(&mut self, message: &Message) -> io::Result<()> {
        match message {
            Message::Ping(payload) if self.state == State::Open => {
                self.out.clear();
                let mask = self.masks.mask();
                write_message(&mut self.out, &Message::Pong(payload.clone()), Some(mask));
                self.write_out()
            }
            Message::Close(frame) => {
                if self.state == State::Open {
                    self.out.clear();
                    let mask = self.masks.mask();
                    match frame {
                        Some(frame) => write_close(&mut self.out, frame.code, "", Some(mask)),
                        None => write_message(&mut self.out, &Message::Close(None), Some(mask)),
                    }
                    let _ = self.write_out();
                }
                self.state = State::Closed;
                // The server closes the TCP connection first (RFC 6455
                // §7.1.1); ours goes when the client is dropped.
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Breaks off after a protocol error: our close with `code`, then done.
    fn fail(&mut self, code: u16, reason: &str) {
        if self.state == State::Open {
            self.out.clear();
            let mask = self.masks.mask();
            write_close(&mut self.out, code, reason, Some(mask));
            let _ = self.write_out();
        }
        self.state = State::Closed;
        let _ = self.stream.tcp().shutdown(std::net::Shutdown::Both);
    }

    /// Closes: sends a close frame (`None`: 1000 without a reason), then
    /// reads (and drops) what the server still sends until its close, for
    /// at most five seconds in all (`TimedOut` past that).
    pub fn close(&mut self, frame: Option<CloseFrame>) -> io::Result<()> {
        if self.state == State::Open {
            self.send(&Message::Close(Some(frame.unwrap_or(CloseFrame {
                code: close_code::NORMAL,
                reason: String::new(),
            }))))?;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.state != State::Closed {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                self.state = State::Closed;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the server did not answer the close in time",
                ));
            }
            self.set_read_timeout(Some(left))?;
            if self.recv()?.is_none() {
                break;
            }
        }
        Ok(())
    }
}
