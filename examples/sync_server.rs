//! A blocking server: plain `Read`/`Write` handlers on a thread pool, over
//! the async engine.
//!
//! - `GET /` answers `Hello, World!`;
//! - `POST /upload` reads the body with `Read` and answers its byte count
//!   and FNV-1a checksum: `{"bytes":N,"fnv1a":"<16 hex digits>"}`.
//!
//! ```text
//! PORT=3000 THREADS=8 cargo run --release --example sync_server
//! curl --data-binary @some.file http://127.0.0.1:3000/upload
//! ```

use std::io::{self, Read, Write};

use turnstile_core::sync::{self, Request, Response};
use turnstile_core::{Method, StatusCode};

/// FNV-1a, 64 bits: a checksum anyone can recompute in a few lines.
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn handle(mut request: Request, mut response: Response) {
    let result = match (request.method(), request.path()) {
        (Method::Get | Method::Head, "/") => {
            response.set_content_length(13);
            response.write_all(b"Hello, World!")
        }
        (Method::Post, "/upload") => {
            let mut chunk = vec![0u8; 64 * 1024];
            let (mut bytes, mut hash) = (0u64, FNV_OFFSET);
            let outcome = loop {
                match request.read(&mut chunk) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        bytes += n as u64;
                        hash = fnv1a(hash, &chunk[..n]);
                    }
                    Err(e) => break Err(e),
                }
            };
            match outcome {
                Ok(()) => {
                    let body = format!("{{\"bytes\":{bytes},\"fnv1a\":\"{hash:016x}\"}}\n");
                    let _ = response
                        .headers_mut()
                        .set("content-type", "application/json");
                    response.set_content_length(body.len() as u64);
                    response.write_all(body.as_bytes())
                }
                Err(e) => {
                    log::debug!("upload failed: {e}");
                    response.set_status(StatusCode::BAD_REQUEST);
                    response.write_all(b"upload failed\n")
                }
            }
        }
        _ => {
            response.set_status(StatusCode::NOT_FOUND);
            response.write_all(b"not found\n")
        }
    };
    if let Err(e) = result {
        log::debug!("response failed: {e}");
    }
}

fn main() -> io::Result<()> {
    turnstile_suite::init_logging();
    let config = turnstile_suite::ExampleConfig::from_env();
    let threads = std::env::var("THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(16);
    let server = config.server()?;
    let handle = sync::Server::on(server).threads(threads).serve(handle)?;
    turnstile_suite::announce(handle.addrs());
    handle.join();
    Ok(())
}
