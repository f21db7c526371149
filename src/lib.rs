//! Shared support for Turnstile's examples, black-box tests and benchmarks:
//! the environment contract every example follows, and small raw-socket
//! helpers for tests that need to see exact bytes.
//!
//! Every example listens on `127.0.0.1:$PORT` (`PORT` defaults to 3000, `0`
//! picks a free port), honours `WORKERS` and `HEADER_TIMEOUT_MS`, and prints
//! exactly one line, `listening on http://127.0.0.1:<port>`, once it accepts
//! connections.

#![deny(missing_docs)]

pub mod program;
pub mod raw;
pub mod todo;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

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
}

impl ExampleConfig {
    /// Reads `PORT`, `WORKERS` and `HEADER_TIMEOUT_MS`; exits with a message
    /// when one is set but not a number.
    pub fn from_env() -> ExampleConfig {
        ExampleConfig {
            port: env_number("PORT").unwrap_or(3000),
            workers: env_number("WORKERS"),
            header_timeout: env_number("HEADER_TIMEOUT_MS").map(Duration::from_millis),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
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

fn env_number<N: std::str::FromStr>(name: &str) -> Option<N> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => {
            eprintln!("{name} must be a number, got {value:?}");
            std::process::exit(2);
        }
    }
}

/// Prints the one `listening on` line and flushes it, so a driver reading
/// stdout knows the server accepts connections.
pub fn announce(addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on http://{addr}");
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
