//! The [`Server`]: binding, worker threads, limits and timeouts, and the
//! [`ServerHandle`] that stops it.
//!
//! Each worker thread runs its own `mio::Poll` over its own listening socket
//! (`SO_REUSEPORT`, so the kernel spreads connections across workers) and
//! owns every connection it accepts: nothing is shared between workers but
//! the stop signal.

pub(crate) mod config;
pub(crate) mod context;
mod listener;
pub(crate) mod timer;
pub(crate) mod worker;

use config::{Config, StopSignal};

pub use listener::{ListenAddr, Listener};

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::control::LoopShared;
use crate::HandlerFactory;

/// An HTTP/1.1 server under construction: where to listen and its limits.
///
/// Defaults are safe for the open internet: 10 s for a head to arrive, 30 s
/// idle between requests and 30 s without body progress, 16 KiB heads, 8 KiB
/// targets, 100 header fields, 10,000 connections.
///
/// ```no_run
/// use std::time::Duration;
/// use turnstile_core::{Control, Next, Request, ResponseHead, Server};
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
/// let server = Server::bind("127.0.0.1:0")?
///     .workers(2)
///     .head_timeout(Duration::from_secs(5))
///     .server_name("turnstile")
///     .serve(|_: Control| NoContent)?;
/// println!("listening on http://{}", server.local_addr());
/// server.shutdown(Duration::from_secs(1));
/// server.join();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    listeners: Vec<Listener>,
    config: Config,
}

impl Server {
    /// A server on `listener`; [`listen`](Server::listen) adds more.
    pub fn new(listener: Listener) -> Server {
        Server {
            listeners: vec![listener],
            config: Config::default(),
        }
    }

    /// Binds TCP `addr` (the first address it resolves to). Port 0 picks a
    /// free port; [`ServerHandle::local_addr`] tells which.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server::new(Listener::tcp(addr)?))
    }

    /// Binds TCP `addr` and serves HTTPS on it.
    pub fn bind_tls(addr: impl ToSocketAddrs, tls: crate::tls::TlsConfig) -> io::Result<Server> {
        Ok(Server::new(Listener::tcp(addr)?.tls(tls)))
    }

    /// Binds a Unix socket at `path` (see [`Listener::unix`]).
    #[cfg(unix)]
    pub fn bind_unix(path: impl AsRef<Path>) -> io::Result<Server> {
        Ok(Server::new(Listener::unix(path)?))
    }

    /// Serves on a TCP listener the caller already bound; workers share it.
    pub fn from_listener(listener: StdTcpListener) -> io::Result<Server> {
        Ok(Server::new(Listener::from_tcp(listener)?))
    }

    /// Adds a listener: every worker serves all of them.
    pub fn listen(mut self, listener: Listener) -> Server {
        self.listeners.push(listener);
        self
    }

    /// Worker threads, each with its own event loop (default: the number of
    /// cores; at least 1).
    pub fn workers(mut self, workers: usize) -> Server {
        self.config.workers = workers.max(1);
        self
    }

    /// Whether connections may carry more than one request (default true).
    pub fn keep_alive(mut self, on: bool) -> Server {
        self.config.keep_alive = on;
        self
    }

    /// Time for a whole head to arrive, from its first byte (or from accept
    /// for a new connection); past it the client gets `408` (default 10 s).
    pub fn head_timeout(mut self, timeout: Duration) -> Server {
        self.config.head_timeout = timeout;
        self
    }

    /// Time an idle keep-alive connection is kept open (default 30 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Server {
        self.config.idle_timeout = timeout;
        self
    }

    /// Time a read or write of a body may go without progress when the
    /// handler's `Next` sets no timeout (default 30 s).
    pub fn body_timeout(mut self, timeout: Duration) -> Server {
        self.config.body_timeout = timeout;
        self
    }

    /// Bytes per second a request body must average once it has been
    /// arriving for the body timeout (default 1 KiB/s; 0 disables), so a
    /// client dripping a byte now and then cannot hold a connection.
    pub fn min_body_rate(mut self, bytes_per_second: u64) -> Server {
        self.config.min_body_rate = bytes_per_second;
        self
    }

    /// Most bytes in a request head (default 16 KiB); more gets `431`.
    pub fn max_head_bytes(mut self, bytes: usize) -> Server {
        self.config.limits.max_head_bytes = bytes.max(64);
        self
    }

    /// Most bytes in a request target (default 8 KiB); more gets `414`.
    pub fn max_target_bytes(mut self, bytes: usize) -> Server {
        self.config.limits.max_target_bytes = bytes.max(16);
        self
    }

    /// Most header fields in a request (default 100); more gets `431`.
    pub fn max_headers(mut self, count: usize) -> Server {
        self.config.limits.max_headers = count.max(1);
        self
    }

    /// Most open connections (default 10,000), split evenly between workers.
    /// At the limit a worker stops accepting until one closes; new clients
    /// wait in the kernel's backlog.
    pub fn max_connections(mut self, count: usize) -> Server {
        self.config.max_connections = count.max(1);
        self
    }

    /// A `Server` header for responses that set none (default: none).
    pub fn server_name(mut self, name: &str) -> Server {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) || b == b'\t');
        self.config.server_line = valid.then(|| format!("server: {name}\r\n").into_bytes());
        self
    }

    /// Starts the workers with a clone of `factory` each and returns at once.
    pub fn serve<F>(self, factory: F) -> io::Result<ServerHandle>
    where
        F: HandlerFactory + Clone + Send + 'static,
    {
        let config = Arc::new(self.config);
        let mut addrs = Vec::with_capacity(self.listeners.len());
        let mut socket_files = Vec::new();
        // One socket per listener per worker.
        let mut sockets: Vec<Vec<listener::WorkerListener>> =
            (0..config.workers).map(|_| Vec::new()).collect();
        for listener in self.listeners {
            addrs.push(listener.local_addr()?);
            socket_files.extend(listener.bound_path());
            for (worker, socket) in listener
                .for_workers(config.workers)?
                .into_iter()
                .enumerate()
            {
                sockets[worker].push(socket);
            }
        }
        let stop = Arc::new(StopSignal::default());
        let per_worker = config.max_connections.div_ceil(config.workers).max(1);
        let mut loops = Vec::new();
        let mut workers = Vec::new();
        for listeners in sockets {
            let worker = worker::WorkerSetup::new(
                listeners,
                factory.clone(),
                config.clone(),
                stop.clone(),
                per_worker,
            )?;
            loops.push(worker.loop_shared());
            workers.push(worker);
        }
        let mut threads = Vec::new();
        for (i, worker) in workers.into_iter().enumerate() {
            let thread = std::thread::Builder::new()
                .name(format!("turnstile-worker-{i}"))
                .spawn(move || worker.run());
            match thread {
                Ok(t) => threads.push(t),
                Err(e) => {
                    stop.request(Duration::ZERO);
                    for l in &loops {
                        l.wake();
                    }
                    return Err(e);
                }
            }
        }
        for addr in &addrs {
            log::info!("serving on {addr} with {} workers", threads.len());
        }
        Ok(ServerHandle {
            addrs,
            socket_files,
            loops,
            stop,
            threads,
        })
    }
}

/// A running server: its address, and how to stop it and wait for it.
///
/// Dropping the handle stops the server at once and waits for its workers.
pub struct ServerHandle {
    addrs: Vec<ListenAddr>,
    /// Unix socket files this server created, removed when it stops.
    socket_files: Vec<PathBuf>,
    loops: Vec<Arc<LoopShared>>,
    stop: Arc<StopSignal>,
    threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The first TCP address the server listens on (with the real port
    /// when bound to port 0).
    ///
    /// # Panics
    ///
    /// When the server has no TCP listener (only Unix sockets): use
    /// [`addrs`](Self::addrs) there.
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs
            .iter()
            .find_map(|a| match a {
                ListenAddr::Tcp { addr, .. } => Some(*addr),
                ListenAddr::Unix { .. } => None,
            })
            .expect("local_addr: this server has no TCP listener; use addrs()")
    }

    /// Every address the server listens on, in the order they were added.
    pub fn addrs(&self) -> &[ListenAddr] {
        &self.addrs
    }

    /// Stops gracefully and returns at once: workers stop accepting, close
    /// idle connections, let requests in flight finish (with
    /// `Connection: close`) for up to `grace`, then drop whatever is left.
    pub fn shutdown(&self, grace: Duration) {
        self.stop.request(grace);
        for l in &self.loops {
            l.wake();
        }
    }

    /// Waits until every worker has stopped (after [`shutdown`](Self::shutdown),
    /// or for ever).
    pub fn join(mut self) {
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                log::error!("a worker thread panicked");
            }
        }
        self.remove_socket_files();
    }

    fn remove_socket_files(&mut self) {
        for path in self.socket_files.drain(..) {
            if let Err(e) = std::fs::remove_file(&path) {
                log::debug!("could not remove {}: {e}", path.display());
            }
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.shutdown(Duration::ZERO);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.remove_socket_files();
    }
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}
