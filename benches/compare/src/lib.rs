//! What every comparison server shares: the port contract and the bodies.

use std::net::SocketAddr;

/// `GET /plaintext` answers this, `text/plain`.
pub const PLAINTEXT: &[u8] = b"Hello, World!";

/// `GET /json` serializes this per request.
#[derive(serde::Serialize)]
pub struct Message {
    /// Always "Hello, World!".
    pub message: &'static str,
}

/// `127.0.0.1:$PORT` (default 3000, 0 = any free port).
pub fn addr() -> SocketAddr {
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The one line drivers wait for.
pub fn announce(addr: SocketAddr) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on http://{addr}");
    let _ = out.flush();
}
