//! The HTTP/1.1 client: the mirror of the server. A [`Handler`] per request
//! fills in the outgoing head and body and receives the response through
//! [`Next`] and [`Control`], exactly as on the server side.
//!
//! A [`Client`] owns one event-loop thread with a keep-alive pool per host
//! and a resolver thread, so a DNS lookup never blocks the loop. Redirects
//! are left to the caller.
//!
//! ```no_run
//! use turnstile_core::client::{Client, Handler, RequestHead, ResponseHead};
//! use turnstile_core::{Control, Next};
//!
//! struct Status(std::sync::mpsc::Sender<u16>);
//!
//! impl Handler for Status {
//!     fn on_request(&mut self, _: &mut RequestHead) -> Next { Next::end() }
//!     fn on_response(&mut self, response: ResponseHead) -> Next {
//!         let _ = self.0.send(response.status().as_u16());
//!         Next::end()
//!     }
//! }
//!
//! let client = Client::new()?;
//! let (tx, rx) = std::sync::mpsc::channel();
//! client.request("http://127.0.0.1:3000/", move |_: Control| Status(tx)).unwrap();
//! println!("status {}", rx.recv().unwrap());
//! # Ok::<(), std::io::Error>(())
//! ```

mod conn;
mod handler;
mod url;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::transport::{Socket, TlsStream, Transport};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

pub use crate::ResponseHead;
pub use handler::{Handler, RequestHead};
pub use url::{InvalidUrl, Url};

use crate::control::{ConnShared, LoopShared, Wakeup};
use crate::server::timer::Timers;
use crate::{Control, Error, Next};
use conn::{ClientConn, Flow, Job};

const WAKER: Token = Token(usize::MAX - 1);

/// Client limits and timeouts.
#[derive(Clone, Debug)]
pub(crate) struct ClientConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_idle_per_host: usize,
    pub(crate) max_head_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) write_high_water: usize,
    /// Roots trusted beside the Mozilla store (a private CA, a test
    /// certificate).
    pub(crate) extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_idle_per_host: 8,
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            write_high_water: 64 * 1024,
            extra_roots: Vec::new(),
        }
    }
}

/// Settings for a [`Client`].
#[derive(Default, Debug, Clone)]
pub struct ClientBuilder {
    config: ClientConfig,
}

impl ClientBuilder {
    /// Trusts the certificates in `pem` as roots for `https://`, beside
    /// the built-in Mozilla root store: for a private CA, or a
    /// self-signed test certificate.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, crate::tls::TlsError> {
        self.config
            .extra_roots
            .extend(crate::tls::pem_certificates(pem)?);
        Ok(self)
    }

    /// Time to establish a connection, TLS handshake included (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Time a read or write may go without progress when the handler's
    /// `Next` sets no timeout (default 30 s).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.config.read_timeout = timeout;
        self
    }

    /// How long an idle pooled connection is kept (default 60 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Most idle connections kept per host (default 8; 0 disables reuse).
    pub fn max_idle_per_host(mut self, count: usize) -> Self {
        self.config.max_idle_per_host = count;
        self
    }

    /// Most bytes in a response head (default 64 KiB).
    pub fn max_head_bytes(mut self, bytes: usize) -> Self {
        self.config.max_head_bytes = bytes.max(64);
        self
    }

    /// Starts the client's loop.
    pub fn build(self) -> io::Result<Client> {
        Client::start(self.config)
    }
}

/// Why a request could not be started.
#[derive(Debug)]
pub enum RequestError {
    /// The URL is not an `http://` URL the client can use.
    Url(InvalidUrl),
    /// The client's loop has stopped.
    Stopped,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Url(e) => write!(f, "{e}"),
            RequestError::Stopped => f.write_str("the client has stopped"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Work handed to the loop.
enum Command {
    Start(Job),
    Resolved(Job, io::Result<SocketAddr>),
}

struct Inner {
    commands: Mutex<Vec<Command>>,
    shared: Arc<LoopShared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.mark_stopped();
        self.shared.wake();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

/// An HTTP/1.1 client with its own event loop. Cloning shares the loop;
/// it stops when the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// A client with the default settings.
    pub fn new() -> io::Result<Client> {
        ClientBuilder::default().build()
    }

    /// Settings for a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    fn start(config: ClientConfig) -> io::Result<Client> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let shared = Arc::new(LoopShared::new(waker));
        let inner = Arc::new(Inner {
            commands: Mutex::new(Vec::new()),
            shared: shared.clone(),
            thread: Mutex::new(None),
        });
        let weak = Arc::downgrade(&inner);
        let (resolve_tx, resolve_rx) = mpsc::channel::<(Job, String, u16)>();
        let resolver_inner = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("turnstile-client-resolver".into())
            .spawn(move || resolve_loop(resolve_rx, resolver_inner))?;
        let thread = std::thread::Builder::new()
            .name("turnstile-client".into())
            .spawn(move || {
                let mut client_loop = ClientLoop {
                    poll,
                    config,
                    conns: Slab::new(),
                    idle: HashMap::new(),
                    timers: Timers::default(),
                    shared,
                    commands: weak,
                    resolver: resolve_tx,
                    next_conn_id: 0,
                    next_exchange: 0,
                    wakeups: Vec::new(),
                    tls: None,
                };
                client_loop.run();
            })?;
        *inner.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread);
        Ok(Client { inner })
    }

    /// Sends a request to `url` (`http://host[:port]/path?query`): `make`
    /// gets the request's [`Control`] and returns its handler.
    pub fn request<H, F>(&self, url: &str, make: F) -> Result<(), RequestError>
    where
        H: Handler + 'static,
        F: FnOnce(Control) -> H + Send + 'static,
    {
        let url = Url::parse(url).map_err(RequestError::Url)?;
        let job = Job {
            handler: Box::new(Deferred::new(make)),
            head: RequestHead::new(url.target().to_owned()),
            authority: url.authority().to_owned(),
            origin: url.origin(),
            https: url.is_https(),
            host: url.host().to_owned(),
            port: url.port(),
            attempts: 0,
            exchange: 0,
        };
        self.inner
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Command::Start(job));
        self.inner.shared.wake();
        Ok(())
    }
}

/// A handler made once its request gets a connection (and so a `Control`).
struct Deferred<H, F> {
    make: Option<F>,
    handler: Option<H>,
}

impl<H, F> Deferred<H, F> {
    fn new(make: F) -> Self {
        Deferred {
            make: Some(make),
            handler: None,
        }
    }
}

/// A request's handler as the loop holds it: made once the request has a
/// `Control` (when its connection is chosen).
pub(crate) trait RequestHandler: Handler {
    /// Makes the handler with `control`; later calls do nothing.
    fn bind_control(&mut self, control: Control);
}

impl<H: Handler, F: FnOnce(Control) -> H + Send> RequestHandler for Deferred<H, F> {
    fn bind_control(&mut self, control: Control) {
        if let Some(make) = self.make.take() {
            self.handler = Some(make(control));
        }
    }
}

macro_rules! forward {
    ($self:ident, $default:expr, |$h:ident| $call:expr) => {
        match &mut $self.handler {
            Some($h) => $call,
            None => $default,
        }
    };
}

impl<H: Handler, F: FnOnce(Control) -> H + Send> Handler for Deferred<H, F> {
    fn on_request(&mut self, request: &mut RequestHead) -> Next {
        forward!(self, Next::remove(), |h| h.on_request(request))
    }
    fn on_request_writable(&mut self, encoder: &mut crate::Encoder<'_>) -> Next {
        forward!(self, Next::remove(), |h| h.on_request_writable(encoder))
    }
    fn on_response(&mut self, response: ResponseHead) -> Next {
        forward!(self, Next::remove(), |h| h.on_response(response))
    }
    fn on_response_readable(&mut self, decoder: &mut crate::Decoder<'_>) -> Next {
        forward!(self, Next::remove(), |h| h.on_response_readable(decoder))
    }
    fn on_error(&mut self, error: Error) -> Next {
        forward!(self, Next::remove(), |h| h.on_error(error))
    }
    fn on_done(&mut self, outcome: crate::Outcome) {
        forward!(self, (), |h| h.on_done(outcome))
    }
    fn on_wake(&mut self) -> Next {
        forward!(self, Next::remove(), |h| h.on_wake())
    }
}

fn resolve_loop(jobs: mpsc::Receiver<(Job, String, u16)>, inner: std::sync::Weak<Inner>) {
    while let Ok((job, host, port)) = jobs.recv() {
        let result = (host.as_str(), port)
            .to_socket_addrs()
            .and_then(|mut addrs| {
                addrs.next().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"))
                })
            });
        let Some(inner) = inner.upgrade() else {
            return;
        };
        inner
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Command::Resolved(job, result));
        inner.shared.wake();
    }
}

struct ClientLoop {
    poll: Poll,
    config: ClientConfig,
    conns: Slab<ClientConn>,
    /// Idle connections by origin, most recently used last.
    idle: HashMap<String, Vec<usize>>,
    timers: Timers,
    shared: Arc<LoopShared>,
    commands: std::sync::Weak<Inner>,
    resolver: mpsc::Sender<(Job, String, u16)>,
    next_conn_id: u64,
    next_exchange: u64,
    wakeups: Vec<Wakeup>,
    /// Made on the first `https://` request.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl ClientLoop {
    fn run(&mut self) {
        let mut events = Events::with_capacity(256);
        let mut commands = Vec::new();
        loop {
            let timeout = self.timers.next_deadline().map(|at| {
                at.saturating_duration_since(Instant::now()) + Duration::from_micros(999)
            });
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("client poll failed: {e}");
                    break;
                }
            }
            let now = Instant::now();
            let mut woken = false;
            for event in events.iter() {
                match event.token() {
                    WAKER => woken = true,
                    Token(slot) => {
                        let Some(conn) = self.conns.get_mut(slot) else {
                            continue;
                        };
                        if event.is_error() {
                            let flow = conn.on_socket_error();
                            self.after_turn(slot, flow, now);
                            continue;
                        }
                        conn.on_event(
                            event.is_readable(),
                            event.is_writable(),
                            event.is_read_closed(),
                        );
                        self.drive(slot, now);
                    }
                }
            }
            if woken {
                let Some(inner) = self.commands.upgrade() else {
                    break; // every Client handle is gone
                };
                std::mem::swap(
                    &mut commands,
                    &mut *inner.commands.lock().unwrap_or_else(|e| e.into_inner()),
                );
                drop(inner);
                for command in commands.drain(..) {
                    match command {
                        Command::Start(job) => self.start(job, now),
                        Command::Resolved(job, Ok(addr)) => self.connect(job, addr, now),
                        Command::Resolved(job, Err(e)) => self.fail_job(job, Error::Io(e)),
                    }
                }
                self.shared.drain_into(&mut self.wakeups);
                let mut wakeups = std::mem::take(&mut self.wakeups);
                for wakeup in wakeups.drain(..) {
                    if let Some(conn) = self.conns.get_mut(wakeup.slot) {
                        if conn.exchange_id() == Some(wakeup.exchange) {
                            conn.wake(wakeup.next, now);
                            self.drive(wakeup.slot, now);
                        }
                    }
                }
                self.wakeups = wakeups;
            }
            while let Some((at, slot, id)) = self.timers.pop_due(now) {
                let Some(conn) = self.conns.get_mut(slot) else {
                    continue;
                };
                if conn.id != id {
                    continue;
                }
                if conn.scheduled == Some(at) {
                    conn.scheduled = None;
                }
                match conn.deadline {
                    Some(deadline) if deadline <= now => {
                        let flow = conn.on_timeout(&self.config, now);
                        self.after_turn(slot, flow, now);
                    }
                    deadline => self
                        .timers
                        .schedule(slot, id, deadline, &mut conn.scheduled),
                }
            }
        }
        for mut conn in self.conns.drain() {
            conn.fail(Error::Closed);
        }
    }

    /// Tells a request that never got a connection why.
    fn fail_job(&self, mut job: Job, error: Error) {
        let detached = Arc::new(ConnShared {
            current: AtomicU64::new(0),
            shared: self.shared.clone(),
        });
        // An exchange id no connection will ever serve: `ready` says Gone.
        job.handler
            .bind_control(Control::new(detached, usize::MAX, u64::MAX));
        let _ = job.handler.on_error(error);
        job.handler.on_done(crate::Outcome::Aborted);
    }

    fn start(&mut self, mut job: Job, now: Instant) {
        // Reuse an idle connection to the same host if one is still open.
        while let Some(slot) = self.idle.get_mut(&job.origin).and_then(Vec::pop) {
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            if !conn.is_idle() {
                continue;
            }
            self.next_exchange += 1;
            job.exchange = self.next_exchange;
            job.handler.bind_control(conn.control(job.exchange));
            conn.assign(job, now);
            self.drive(slot, now);
            return;
        }
        self.start_fresh(job, now);
    }

    /// Starts `job` on a new connection, resolving its host off the loop
    /// when it is a name.
    fn start_fresh(&mut self, job: Job, now: Instant) {
        match job.host.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                let addr = SocketAddr::new(ip, job.port);
                self.connect(job, addr, now);
            }
            Err(_) => {
                let (host, port) = (job.host.clone(), job.port);
                if let Err(mpsc::SendError((job, _, _))) = self.resolver.send((job, host, port)) {
                    self.fail_job(job, Error::Io(io::Error::other("resolver stopped")));
                }
            }
        }
    }

    fn connect(&mut self, mut job: Job, addr: SocketAddr, now: Instant) {
        job.attempts += 1;
        let mut stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => return self.fail_job(job, Error::Io(e)),
        };
        let entry = self.conns.vacant_entry();
        let slot = entry.key();
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return self.fail_job(job, Error::Io(e));
        }
        self.next_conn_id += 1;
        self.next_exchange += 1;
        job.exchange = self.next_exchange;
        let shared = Arc::new(ConnShared {
            current: AtomicU64::new(job.exchange),
            shared: self.shared.clone(),
        });
        job.handler
            .bind_control(Control::new(shared.clone(), slot, job.exchange));
        let transport = if job.https {
            let extra_roots = &self.config.extra_roots;
            let tls = self
                .tls
                .get_or_insert_with(|| crate::tls::client_config(extra_roots));
            let name = match rustls::pki_types::ServerName::try_from(job.host.clone()) {
                Ok(name) => name,
                Err(e) => {
                    let e = io::Error::new(io::ErrorKind::InvalidInput, e);
                    return self.fail_job(job, Error::Io(e));
                }
            };
            match rustls::ClientConnection::new(tls.clone(), name) {
                Ok(session) => {
                    Transport::Tls(Box::new(TlsStream::client(Socket::Tcp(stream), session)))
                }
                Err(e) => return self.fail_job(job, Error::Io(io::Error::other(e))),
            }
        } else {
            Transport::Tcp(stream)
        };
        let mut conn = ClientConn::connecting(
            transport,
            self.next_conn_id,
            slot,
            shared,
            job,
            &self.config,
            now,
        );
        self.timers
            .schedule(slot, conn.id, conn.deadline, &mut conn.scheduled);
        entry.insert(conn);
    }

    fn drive(&mut self, slot: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let flow = conn.drive(&self.config, now);
        self.after_turn(slot, flow, now);
    }

    fn after_turn(&mut self, slot: usize, flow: Flow, now: Instant) {
        match flow {
            Flow::Keep => {
                if let Some(conn) = self.conns.get_mut(slot) {
                    self.timers
                        .schedule(slot, conn.id, conn.deadline, &mut conn.scheduled);
                }
            }
            Flow::Idle => {
                let Some(conn) = self.conns.get_mut(slot) else {
                    return;
                };
                let list = self.idle.entry(conn.origin.clone()).or_default();
                if !list.contains(&slot) {
                    if list.len() >= self.config.max_idle_per_host {
                        self.close(slot);
                        return;
                    }
                    list.push(slot);
                    conn.rest(now, &self.config);
                }
                self.timers
                    .schedule(slot, conn.id, conn.deadline, &mut conn.scheduled);
            }
            Flow::Retry => self.retry(slot, now),
            Flow::Close => self.close(slot),
        }
    }

    /// Sends the request of a connection that died unanswered again on a
    /// fresh connection (once), or fails it.
    fn retry(&mut self, slot: usize, now: Instant) {
        let Some(mut conn) = self.conns.try_remove(slot) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.io.transport);
        self.forget_idle(&conn.origin, slot);
        match conn.take_job() {
            Some(job) if job.attempts < 2 => {
                log::debug!(
                    "retrying a request on a fresh connection to {}",
                    job.authority
                );
                self.start_fresh(job, now);
            }
            Some(job) => self.fail_job(job, Error::Closed),
            None => {}
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut conn) = self.conns.try_remove(slot) {
            let _ = self.poll.registry().deregister(&mut conn.io.transport);
            self.forget_idle(&conn.origin, slot);
            conn.fail(Error::Closed);
        }
    }

    fn forget_idle(&mut self, origin: &str, slot: usize) {
        if let Some(list) = self.idle.get_mut(origin) {
            list.retain(|s| *s != slot);
            if list.is_empty() {
                self.idle.remove(origin);
            }
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}
