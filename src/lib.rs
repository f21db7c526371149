//! Shared support for Turnstile's examples, black-box tests and benchmarks:
//! the environment contract every example follows, and small raw-socket
//! helpers for tests that need to see exact bytes.
//!
//! Every example listens on `127.0.0.1:$PORT` (`PORT` defaults to 3000, `0`
//! picks a free port), honours `WORKERS` and `HEADER_TIMEOUT_MS`, and prints
//! exactly one line, `listening on http://127.0.0.1:<port>`, once it accepts
//! connections. With `TLS_CERT` and `TLS_KEY` (PEM files) it serves HTTPS
//! and says `listening on https://...`; with `UNIX_SOCKET=<path>` it listens
//! on that Unix socket instead and says `listening on unix:<path>`; with
//! `LISTEN_FDS` set (systemd socket activation) it serves the sockets it
//! inherited.

#![deny(missing_docs)]

pub mod program;
pub mod raw;
pub mod tls;
pub mod todo;
pub mod webdriver;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use turnstile_core::server::{ListenAddr, Listener};
use turnstile_core::tls::TlsConfig;
use turnstile_core::Server;

/// Settings an example reads from its environment.
#[derive(Debug, Clone)]
pub struct ExampleConfig {
    /// `PORT`: default 3000; 0 picks a free port.
    pub port: u16,
    /// `WORKERS`: worker threads; default the number of cores.
    pub workers: Option<usize>,
    /// `HEADER_TIMEOUT_MS`: the head timeout.
    pub header_timeout: Option<Duration>,
    /// `TLS_CERT` and `TLS_KEY`: serve HTTPS with this chain and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `UNIX_SOCKET`: listen on this Unix socket instead of TCP.
    pub unix_socket: Option<PathBuf>,
}

impl ExampleConfig {
    /// Reads the environment; exits with a message when a setting is
    /// malformed (a number that is not one, `TLS_CERT` without `TLS_KEY`).
    pub fn from_env() -> ExampleConfig {
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let tls = match (path("TLS_CERT"), path("TLS_KEY")) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => fail("TLS_CERT and TLS_KEY go together"),
        };
        ExampleConfig {
            port: env_number("PORT").unwrap_or(3000),
            workers: env_number("WORKERS"),
            header_timeout: env_number("HEADER_TIMEOUT_MS").map(Duration::from_millis),
            tls,
            unix_socket: path("UNIX_SOCKET"),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The server the environment asks for: the inherited sockets when
    /// `LISTEN_FDS` is set, else the Unix socket, else `127.0.0.1:PORT`;
    /// TLS on all of them with `TLS_CERT`/`TLS_KEY`; then the worker count
    /// and head timeout.
    pub fn server(&self) -> std::io::Result<Server> {
        let tls = match &self.tls {
            Some((cert, key)) => Some(TlsConfig::from_pem_files(cert, key)?),
            None => None,
        };
        let listeners = match Listener::from_systemd()? {
            Some(inherited) => inherited,
            None => match &self.unix_socket {
                Some(path) => vec![Listener::unix(path)?],
                None => vec![Listener::tcp(self.addr())?],
            },
        };
        let mut listeners = listeners.into_iter().map(|l| match &tls {
            Some(tls) => l.tls(tls.clone()),
            None => l,
        });
        let first = listeners
            .next()
            .ok_or_else(|| std::io::Error::other("no listener"))?;
        let server = listeners.fold(Server::new(first), Server::listen);
        Ok(self.apply(server))
    }

    /// Serves `app` on [`server`](Self::server), announces it, and runs
    /// until the server stops: the whole `main` of a framework example.
    pub fn serve_app(&self, app: turnstile::App) -> std::io::Result<()> {
        let handle = app.serve_on(self.server()?)?;
        announce(handle.addrs());
        handle.join();
        Ok(())
    }

    /// Applies the worker count and head timeout to a server.
    pub fn apply(&self, mut server: Server) -> Server {
        if let Some(workers) = self.workers {
            server = server.workers(workers);
        }
        if let Some(timeout) = self.header_timeout {
            server = server.head_timeout(timeout);
        }
        server.server_name("turnstile")
    }
}

fn fail(why: &str) -> ! {
    eprintln!("{why}");
    std::process::exit(2);
}

fn env_number<N: std::str::FromStr>(name: &str) -> Option<N> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => fail(&format!("{name} must be a number, got {value:?}")),
    }
}

/// Prints the one `listening on` line for the first address (`http://`,
/// `https://` or `unix:`) and flushes it, so a driver reading stdout knows
/// the server accepts connections.
pub fn announce(addrs: &[ListenAddr]) {
    let mut out = std::io::stdout().lock();
    if let Some(first) = addrs.first() {
        let _ = writeln!(out, "listening on {first}");
    }
    let _ = out.flush();
}

/// Logs to stderr through `env_logger`, at `warn` unless `RUST_LOG` says
/// otherwise.
pub fn init_logging() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
}

/// The README's Rust examples, compiled as doctests so they never rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
