//! Turnstile's raw core: one `Handler` for both routes, one worker.

use std::io::Write;

use turnstile_core::{Control, Encoder, Handler, Next, Request, ResponseHead, Server};

enum Route {
    Plain,
    Json,
}

struct Bench {
    route: Route,
    /// The JSON body, serialized on the stack: a handler is made per
    /// request, and a `Vec` here would be an allocation each time.
    body: [u8; 64],
    body_len: usize,
}

impl Handler for Bench {
    fn on_request(&mut self, request: Request) -> Next {
        self.route = if request.path() == "/json" { Route::Json } else { Route::Plain };
        Next::write()
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        let headers = response.headers_mut();
        match self.route {
            Route::Plain => {
                let _ = headers.set("content-type", "text/plain");
                response.set_content_length(turnstile_compare::PLAINTEXT.len() as u64);
            }
            Route::Json => {
                let _ = headers.set("content-type", "application/json");
                let mut cursor = std::io::Cursor::new(&mut self.body[..]);
                let _ = serde_json::to_writer(&mut cursor, &turnstile_compare::Message { message: "Hello, World!" });
                self.body_len = cursor.position() as usize;
                response.set_content_length(self.body_len as u64);
            }
        }
        Next::write()
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        let body = match self.route {
            Route::Plain => turnstile_compare::PLAINTEXT,
            Route::Json => &self.body[..self.body_len],
        };
        match encoder.write(body) {
            Ok(n) if n == body.len() => Next::end(),
            _ => Next::remove(),
        }
    }
}

fn main() -> std::io::Result<()> {
    let server = match turnstile_compare::tls_files() {
        Some((cert, key)) => Server::bind_tls(
            turnstile_compare::addr(),
            turnstile_core::tls::TlsConfig::from_pem_files(cert, key)?,
        )?,
        None => Server::bind(turnstile_compare::addr())?,
    }
        .workers(1)
        .server_name("turnstile")
        .serve(|_: Control| Bench {
            route: Route::Plain,
            body: [0; 64],
            body_len: 0,
        })?;
    turnstile_compare::announce(server.local_addr());
    server.join();
    Ok(())
}
