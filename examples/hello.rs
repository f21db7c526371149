//! The smallest Turnstile server: a raw `Handler` answering every request
//! with `200 text/plain Hello, World!`.
//!
//! ```text
//! PORT=3000 WORKERS=2 cargo run --release --example hello
//! curl -i http://127.0.0.1:3000/
//! ```

use std::io::{self, Write};

use turnstile_core::{Control, Encoder, Handler, Next, Request, ResponseHead};

const BODY: &[u8] = b"Hello, World!";

/// Answers every request the same way; one per request, made by the factory.
struct Hello {
    /// Body bytes already handed to the encoder.
    written: usize,
}

impl Handler for Hello {
    fn on_request(&mut self, _request: Request) -> Next {
        Next::write()
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        response
            .headers_mut()
            .set("content-type", "text/plain")
            .expect("a valid header");
        response.set_content_length(BODY.len() as u64);
        Next::write()
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        while self.written < BODY.len() {
            match encoder.write(&BODY[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::write(),
                Err(_) => return Next::remove(),
            }
        }
        Next::end()
    }
}

fn main() -> io::Result<()> {
    turnstile_suite::init_logging();
    let config = turnstile_suite::ExampleConfig::from_env();
    let server = config.server()?;
    let handle = server.serve(|_: Control| Hello { written: 0 })?;
    turnstile_suite::announce(handle.addrs());
    handle.join();
    Ok(())
}
