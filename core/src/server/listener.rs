//! Where a server listens: TCP or Unix sockets, bound here or inherited
//! (from the caller, or from systemd's socket activation), plain or TLS.
//!
//! A [`Listener`] is made once; [`Server::serve`](super::Server::serve)
//! gives every worker its own socket for it. A TCP address bound here gets
//! one socket per worker (`SO_REUSEPORT`, so the kernel spreads
//! connections); a socket that was handed over is shared by every worker.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::tls::TlsConfig;
use crate::transport::{Socket, TlsStream, Transport};

/// A listening socket for a [`Server`](super::Server), with its TLS
/// settings if it serves HTTPS.
///
/// ```no_run
/// use turnstile_core::server::Listener;
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
/// // One server, two listeners: TCP for the balancer, a Unix socket for
/// // local tools. Every worker serves both.
/// let server = Server::new(Listener::tcp("127.0.0.1:3000")?)
///     .listen(Listener::unix("/tmp/app.sock")?)
///     .serve(|_: Control| NoContent)?;
/// for addr in server.addrs() {
///     println!("listening on {addr}");
/// }
/// server.join();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Listener {
    socket: ListenSocket,
    tls: Option<TlsConfig>,
}

enum ListenSocket {
    /// Bound here with `SO_REUSEPORT`: each worker binds its own socket to
    /// the address; the first is bound already, so errors and the port are
    /// known early.
    TcpReusePort {
        addr: SocketAddr,
        first: StdTcpListener,
    },
    /// Made by the caller or inherited: workers share clones of it.
    Tcp(StdTcpListener),
    #[cfg(unix)]
    Unix {
        listener: StdUnixListener,
        /// The socket file we created, removed again when the server stops.
        bound_path: Option<PathBuf>,
    },
}

/// A listener's address, as [`ServerHandle::addrs`](super::ServerHandle::addrs)
/// reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address, plain or TLS.
    Tcp {
        /// The bound address (with the real port when bound to port 0).
        addr: SocketAddr,
        /// The listener serves HTTPS.
        tls: bool,
    },
    /// A Unix socket (its path, when it has one).
    Unix {
        /// The socket's path.
        path: Option<PathBuf>,
        /// The listener serves TLS over the socket.
        tls: bool,
    },
}

impl fmt::Display for ListenAddr {
    /// `http://127.0.0.1:3000`, `https://...`, or `unix:/path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp { addr, tls } => {
                write!(f, "{}://{addr}", if *tls { "https" } else { "http" })
            }
            ListenAddr::Unix { path, .. } => match path {
                Some(path) => write!(f, "unix:{}", path.display()),
                None => f.write_str("unix:(unnamed)"),
            },
        }
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

impl Listener {
    /// Binds a TCP address (the first it resolves to). Port 0 picks a free
    /// port.
    pub fn tcp(addr: impl ToSocketAddrs) -> io::Result<Listener> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))?;
        let first = reuse_port_listener(addr)?;
        let addr = first.local_addr()?;
        Ok(Listener::plain(ListenSocket::TcpReusePort { addr, first }))
    }

    /// Binds a Unix socket at `path`. A stale socket file left by a process
    /// that is gone is replaced; a live one (something answers on it) is
    /// an `AddrInUse` error. The file is removed when the server stops.
    #[cfg(unix)]
    pub fn unix(path: impl AsRef<Path>) -> io::Result<Listener> {
        use std::os::unix::fs::FileTypeExt;
        let path = path.as_ref();
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if meta.file_type().is_socket() {
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("{} is served by another process", path.display()),
                    ));
                }
                std::fs::remove_file(path)?;
            }
        }
        let listener = StdUnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(Listener::plain(ListenSocket::Unix {
            listener,
            bound_path: Some(path.to_owned()),
        }))
    }

    /// Serves on a TCP listener the caller already bound.
    pub fn from_tcp(listener: StdTcpListener) -> io::Result<Listener> {
        listener.set_nonblocking(true)?;
        Ok(Listener::plain(ListenSocket::Tcp(listener)))
    }

    /// Serves on a Unix listener the caller already bound (its file is left
    /// alone when the server stops).
    #[cfg(unix)]
    pub fn from_unix(listener: StdUnixListener) -> io::Result<Listener> {
        listener.set_nonblocking(true)?;
        Ok(Listener::plain(ListenSocket::Unix {
            listener,
            bound_path: None,
        }))
    }

    /// The listening sockets a supervisor passed by socket activation
    /// (`LISTEN_FDS` sockets from descriptor 3 on, when `LISTEN_PID` names
    /// this process, as systemd sets them), TCP or Unix, in order.
    /// `Ok(None)` when they are not set or meant for another process; they
    /// can be taken once per process.
    #[cfg(unix)]
    pub fn from_systemd() -> io::Result<Option<Vec<Listener>>> {
        static TAKEN: AtomicBool = AtomicBool::new(false);
        let Some(count) = std::env::var_os("LISTEN_FDS") else {
            return Ok(None);
        };
        let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
        // Without our pid in LISTEN_PID the descriptors are not provably
        // ours (a parent that exec'd us without clearing them): leave them,
        // as sd_listen_fds does.
        let ours = std::env::var_os("LISTEN_PID")
            .and_then(|pid| pid.to_string_lossy().trim().parse::<u32>().ok())
            == Some(std::process::id());
        if !ours {
            return Ok(None);
        }
        let count: i32 = count
            .to_string_lossy()
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=1024).contains(n))
            .ok_or_else(|| invalid(format!("LISTEN_FDS={count:?} is not a count of sockets")))?;
        if TAKEN.swap(true, Ordering::AcqRel) {
            return Err(invalid(
                "the LISTEN_FDS sockets were already taken by this process".into(),
            ));
        }
        (0..count)
            .map(|i| inherited_listener(SD_LISTEN_FDS_START + i))
            .collect::<io::Result<Vec<_>>>()
            .map(Some)
    }

    /// Serves HTTPS (TLS over this socket) with `config`.
    pub fn tls(mut self, config: TlsConfig) -> Listener {
        self.tls = Some(config);
        self
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<ListenAddr> {
        let tls = self.tls.is_some();
        Ok(match &self.socket {
            ListenSocket::TcpReusePort { addr, .. } => ListenAddr::Tcp { addr: *addr, tls },
            ListenSocket::Tcp(l) => ListenAddr::Tcp {
                addr: l.local_addr()?,
                tls,
            },
            #[cfg(unix)]
            ListenSocket::Unix { listener, .. } => ListenAddr::Unix {
                path: listener.local_addr()?.as_pathname().map(Path::to_path_buf),
                tls,
            },
        })
    }

    fn plain(socket: ListenSocket) -> Listener {
        Listener { socket, tls: None }
    }

    /// The socket file to remove when the server stops.
    pub(crate) fn bound_path(&self) -> Option<PathBuf> {
        match &self.socket {
            #[cfg(unix)]
            ListenSocket::Unix { bound_path, .. } => bound_path.clone(),
            _ => None,
        }
    }

    /// One socket per worker.
    pub(crate) fn for_workers(self, workers: usize) -> io::Result<Vec<WorkerListener>> {
        let tls = self.tls.map(|c| c.server);
        let sockets: Vec<WorkerSocket> = match self.socket {
            ListenSocket::TcpReusePort { addr, first } => {
                let mut sockets = vec![WorkerSocket::Tcp(mio::net::TcpListener::from_std(first))];
                for _ in 1..workers {
                    sockets.push(WorkerSocket::Tcp(mio::net::TcpListener::from_std(
                        reuse_port_listener(addr)?,
                    )));
                }
                sockets
            }
            ListenSocket::Tcp(listener) => (0..workers)
                .map(|_| {
                    let clone = listener.try_clone()?;
                    Ok(WorkerSocket::Tcp(mio::net::TcpListener::from_std(clone)))
                })
                .collect::<io::Result<_>>()?,
            #[cfg(unix)]
            ListenSocket::Unix { listener, .. } => (0..workers)
                .map(|_| {
                    let clone = listener.try_clone()?;
                    Ok(WorkerSocket::Unix(mio::net::UnixListener::from_std(clone)))
                })
                .collect::<io::Result<_>>()?,
        };
        Ok(sockets
            .into_iter()
            .map(|socket| WorkerListener {
                socket,
                tls: tls.clone(),
            })
            .collect())
    }
}

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
#[cfg(unix)]
const SD_LISTEN_FDS_START: i32 = 3;

/// Adopts an inherited listening socket.
#[cfg(unix)]
fn inherited_listener(fd: i32) -> io::Result<Listener> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
    // SAFETY: socket activation hands this process the descriptors from 3
    // to 3 + LISTEN_FDS - 1 (checked above: LISTEN_PID names this process,
    // and they are taken once), open and owned by nobody else in it; from
    // here the OwnedFd owns and eventually closes it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let socket = socket2::Socket::from(fd);
    let raw = std::os::fd::AsRawFd::as_raw_fd(&socket);
    let addr = socket
        .local_addr()
        .map_err(|e| invalid(format!("inherited descriptor {raw} is not a socket: {e}")))?;
    // A connected socket (systemd's Accept=yes) would make accept fail for
    // ever: only listening stream sockets are served.
    if socket.r#type()? != socket2::Type::STREAM || !socket.is_listener()? {
        return Err(invalid(format!(
            "inherited descriptor {raw} is not a listening stream socket"
        )));
    }
    // Not handed on to programs this one starts.
    socket.set_cloexec(true)?;
    socket.set_nonblocking(true)?;
    if addr.as_socket().is_some() {
        Listener::from_tcp(StdTcpListener::from(socket))
    } else if addr.is_unix() {
        Listener::from_unix(StdUnixListener::from(OwnedFd::from(socket)))
    } else {
        Err(invalid(format!(
            "inherited descriptor {raw} is neither TCP nor a Unix socket"
        )))
    }
}

/// A listening socket with `SO_REUSEPORT`, so each worker can have one.
fn reuse_port_listener(addr: SocketAddr) -> io::Result<StdTcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// One worker's socket for a listener.
pub(crate) struct WorkerListener {
    pub(crate) socket: WorkerSocket,
    tls: Option<Arc<rustls::ServerConfig>>,
}

pub(crate) enum WorkerSocket {
    Tcp(mio::net::TcpListener),
    #[cfg(unix)]
    Unix(mio::net::UnixListener),
}

impl WorkerSocket {
    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            WorkerSocket::Tcp(l) => l,
            #[cfg(unix)]
            WorkerSocket::Unix(l) => l,
        }
    }
}

impl WorkerListener {
    /// Takes one pending connection: its transport (TLS set up when the
    /// listener serves it) and the peer's address (TCP only).
    pub(crate) fn accept(&self) -> io::Result<(Transport, Option<SocketAddr>)> {
        let (socket, addr) = match &self.socket {
            WorkerSocket::Tcp(listener) => {
                let (stream, addr) = listener.accept()?;
                if let Err(e) = stream.set_nodelay(true) {
                    log::debug!("set_nodelay failed: {e}");
                }
                (Socket::Tcp(stream), Some(addr))
            }
            #[cfg(unix)]
            WorkerSocket::Unix(listener) => (Socket::Unix(listener.accept()?.0), None),
        };
        let transport = match &self.tls {
            None => match socket {
                Socket::Tcp(s) => Transport::Tcp(s),
                #[cfg(unix)]
                Socket::Unix(s) => Transport::Unix(s),
                Socket::Memory(m) => Transport::Memory(m),
            },
            Some(config) => {
                let session = rustls::ServerConnection::new(config.clone())
                    .map_err(|e| io::Error::other(format!("TLS session not created: {e}")))?;
                Transport::Tls(Box::new(TlsStream::server(socket, session)))
            }
        };
        Ok((transport, addr))
    }
}
