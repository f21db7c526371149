//! Raw `Handler`s showing the engine's features:
//!
//! - `POST /echo` streams the request body back as it arrives, with
//!   backpressure both ways (any size; Content-Length or chunked in);
//! - `GET /delay/<ms>` waits with `Next::wait()` while another thread sleeps
//!   `<ms>` and then calls `control.ready(Next::write())`;
//! - `GET /timeout/<ms>` waits with `Next::wait().timeout(<ms>)` that nobody
//!   readies, and answers `408` from `on_error`;
//! - anything else is `404`.
//!
//! ```text
//! PORT=3000 cargo run --release --example echo
//! curl --data-binary @big.file http://127.0.0.1:3000/echo | cmp - big.file
//! curl http://127.0.0.1:3000/delay/250
//! ```

use std::io::{self, Read, Write};
use std::time::Duration;

use turnstile_core::header::ContentLength;
use turnstile_core::{
    Control, Decoder, Encoder, Error, Handler, Method, Next, Request, ResponseHead, StatusCode,
};

/// Longest wait `/delay` and `/timeout` accept, in milliseconds.
const MAX_WAIT_MS: u64 = 60_000;
/// Bytes of body held between reading and writing.
const ECHO_BUFFER: usize = 64 * 1024;

enum Route {
    Echo(EchoState),
    /// A short fixed answer: status and text.
    Text(StatusCode, String),
    Delay(u64),
    Timeout(u64),
}

struct EchoState {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    length: Option<u64>,
}

impl EchoState {
    fn next(&self) -> Next {
        let buffered = self.end > self.start;
        if self.eof {
            return Next::write();
        }
        match (buffered, self.end < self.buf.len()) {
            (false, _) => Next::read(),
            (true, true) => Next::read_and_write(),
            (true, false) => Next::write(),
        }
    }
}

struct Echo {
    control: Control,
    route: Route,
    body: Vec<u8>,
    written: usize,
}

fn parse_ms(rest: &str) -> Option<u64> {
    rest.parse::<u64>().ok().filter(|ms| *ms <= MAX_WAIT_MS)
}

impl Handler for Echo {
    fn on_request(&mut self, request: Request) -> Next {
        let path = request.path();
        self.route = match (request.method(), path) {
            (Method::Post, "/echo") => match request.header::<ContentLength>() {
                Ok(length) => Route::Echo(EchoState {
                    buf: vec![0; ECHO_BUFFER],
                    start: 0,
                    end: 0,
                    eof: false,
                    length: length.map(|l| l.0),
                }),
                Err(e) => Route::Text(StatusCode::BAD_REQUEST, e.to_string()),
            },
            (Method::Get | Method::Head, p) if p.starts_with("/delay/") => {
                match parse_ms(&p["/delay/".len()..]) {
                    Some(ms) => Route::Delay(ms),
                    None => bad_wait(),
                }
            }
            (Method::Get | Method::Head, p) if p.starts_with("/timeout/") => {
                match parse_ms(&p["/timeout/".len()..]) {
                    Some(ms) => Route::Timeout(ms),
                    None => bad_wait(),
                }
            }
            _ => Route::Text(StatusCode::NOT_FOUND, format!("no route for {path}")),
        };
        match &self.route {
            Route::Echo(state) => state.next(),
            Route::Text(..) => Next::write(),
            Route::Delay(ms) => {
                let control = self.control.clone();
                let ms = *ms;
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(ms));
                    if let Err(e) = control.ready(Next::write()) {
                        log::debug!("delayed request gone: {e}");
                    }
                });
                Next::wait()
            }
            Route::Timeout(ms) => Next::wait().timeout(Duration::from_millis(*ms)),
        }
    }

    fn on_request_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let Route::Echo(state) = &mut self.route else {
            return Next::write();
        };
        if state.start == state.end {
            state.start = 0;
            state.end = 0;
        }
        while state.end < state.buf.len() && !state.eof {
            match decoder.read(&mut state.buf[state.end..]) {
                Ok(0) => state.eof = true,
                Ok(n) => state.end += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    log::debug!("echo body failed: {e}");
                    return Next::remove();
                }
            }
        }
        state.next()
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        match &self.route {
            Route::Echo(state) => {
                if let Some(length) = state.length {
                    response.set_content_length(length);
                }
                response
                    .headers_mut()
                    .set("content-type", "application/octet-stream")
                    .expect("valid header");
                return state.next();
            }
            Route::Text(status, text) => {
                response.set_status(*status);
                self.body = format!("{text}\n").into_bytes();
            }
            Route::Delay(ms) => self.body = format!("waited {ms} ms\n").into_bytes(),
            Route::Timeout(ms) => {
                // Reached only through on_error: nobody readies /timeout.
                response.set_status(StatusCode::REQUEST_TIMEOUT);
                self.body = format!("timed out after {ms} ms\n").into_bytes();
            }
        }
        response
            .headers_mut()
            .set("content-type", "text/plain; charset=utf-8")
            .expect("valid header");
        response.set_content_length(self.body.len() as u64);
        Next::write()
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        if let Route::Echo(state) = &mut self.route {
            while state.start < state.end {
                match encoder.write(&state.buf[state.start..state.end]) {
                    Ok(n) => state.start += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        log::debug!("echo write failed: {e}");
                        return Next::remove();
                    }
                }
            }
            if state.eof && state.start == state.end {
                return Next::end();
            }
            return state.next();
        }
        while self.written < self.body.len() {
            match encoder.write(&self.body[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::write(),
                Err(_) => return Next::remove(),
            }
        }
        Next::end()
    }

    fn on_error(&mut self, error: Error) -> Next {
        match (&self.route, error) {
            (Route::Timeout(_), Error::Timeout) => Next::write(),
            (_, error) => {
                log::debug!("request failed: {error}");
                Next::remove()
            }
        }
    }
}

fn bad_wait() -> Route {
    Route::Text(
        StatusCode::BAD_REQUEST,
        format!("expected a wait in milliseconds, at most {MAX_WAIT_MS}"),
    )
}

fn main() -> io::Result<()> {
    turnstile_suite::init_logging();
    let config = turnstile_suite::ExampleConfig::from_env();
    let server = config.server()?;
    let handle = server.serve(|control: Control| Echo {
        control,
        route: Route::Text(StatusCode::NOT_FOUND, String::new()),
        body: Vec::new(),
        written: 0,
    })?;
    turnstile_suite::announce(handle.addrs());
    handle.join();
    Ok(())
}
