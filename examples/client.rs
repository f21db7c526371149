//! Fetches a URL with the async client and streams the body to stdout.
//!
//! ```text
//! cargo run --example client -- http://127.0.0.1:3000/
//! cargo run --example client -- https://example.com/
//! CA_FILE=cert.pem cargo run --example client -- https://localhost:3000/
//! ```
//!
//! `https://` servers are verified against the Mozilla root store, plus the
//! certificates in the PEM file `CA_FILE` when it is set (a private CA, or a
//! self-signed certificate for local testing).
//!
//! The status line goes to stderr; the exit code is 0 for a 2xx or 3xx
//! answer and 1 for anything else (an error status, a refused connection, a
//! malformed or cut response, a timeout).

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use turnstile_core::client::{Client, Handler, RequestHead, ResponseHead};
use turnstile_core::{Control, Decoder, Error, Next};

struct Fetch {
    done: mpsc::Sender<Result<u16, String>>,
    status: u16,
}

impl Handler for Fetch {
    fn on_request(&mut self, request: &mut RequestHead) -> Next {
        let _ = request
            .headers_mut()
            .set("user-agent", "turnstile-client-example");
        Next::end()
    }

    fn on_response(&mut self, response: ResponseHead) -> Next {
        self.status = response.status().as_u16();
        eprintln!("{:?} {}", response.version(), response.status());
        Next::read()
    }

    fn on_response_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let mut chunk = [0u8; 16 * 1024];
        let mut out = io::stdout().lock();
        loop {
            match decoder.read(&mut chunk) {
                Ok(0) => {
                    let _ = out.flush();
                    let _ = self.done.send(Ok(self.status));
                    return Next::end();
                }
                Ok(n) => {
                    if out.write_all(&chunk[..n]).is_err() {
                        let _ = self.done.send(Err("stdout closed".into()));
                        return Next::remove();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::read(),
                Err(e) => {
                    let _ = self.done.send(Err(format!("body failed: {e}")));
                    return Next::remove();
                }
            }
        }
    }

    fn on_error(&mut self, error: Error) -> Next {
        let _ = self.done.send(Err(error.to_string()));
        Next::remove()
    }
}

fn main() -> ExitCode {
    turnstile_suite::init_logging();
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: client http[s]://host[:port]/path");
        return ExitCode::from(2);
    };
    let mut builder = Client::builder();
    if let Some(path) = std::env::var_os("CA_FILE") {
        let added = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|pem| {
                builder
                    .add_root_certificate_pem(&pem)
                    .map_err(|e| e.to_string())
            });
        builder = match added {
            Ok(b) => b,
            Err(e) => {
                eprintln!("CA_FILE {}: {e}", path.to_string_lossy());
                return ExitCode::from(2);
            }
        };
    }
    let client = match builder
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (done, result) = mpsc::channel();
    if let Err(e) = client.request(&url, move |_: Control| Fetch { done, status: 0 }) {
        eprintln!("client: {e}");
        return ExitCode::from(2);
    }
    match result.recv() {
        Ok(Ok(status)) if status < 400 => ExitCode::SUCCESS,
        Ok(Ok(_)) => ExitCode::FAILURE,
        Ok(Err(e)) => {
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("client: the request was dropped");
            ExitCode::FAILURE
        }
    }
}
