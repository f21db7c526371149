//! The floor: a minimal mio loop that answers every request with a canned
//! response (Date refreshed once a second), with no parsing beyond finding
//! the end of each head. Nothing real can be faster.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);

fn response(path_json: bool, date: &str) -> Vec<u8> {
    let (ct, body) = if path_json {
        ("application/json", serde_json::to_vec(&turnstile_compare::Message { message: "Hello, World!" }).unwrap())
    } else {
        ("text/plain", turnstile_compare::PLAINTEXT.to_vec())
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nDate: {date}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

fn main() -> std::io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(turnstile_compare::addr())?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    turnstile_compare::announce(listener.local_addr()?);
    let mut conns: HashMap<usize, (TcpStream, Vec<u8>)> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::with_capacity(1024);
    let mut date_at = Instant::now();
    let canned = |date: &str| (response(false, date), response(true, date));
    let (mut plain, mut json) = canned(&httpdate::fmt_http_date(SystemTime::now()));
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        poll.poll(&mut events, Some(Duration::from_secs(1)))?;
        if date_at.elapsed() >= Duration::from_secs(1) {
            (plain, json) = canned(&httpdate::fmt_http_date(SystemTime::now()));
            date_at = Instant::now();
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    stream.set_nodelay(true)?;
                    next += 1;
                    poll.registry().register(&mut stream, Token(next), Interest::READABLE)?;
                    conns.insert(next, (stream, Vec::new()));
                }
                continue;
            }
            let key = event.token().0;
            let mut close = false;
            if let Some((stream, pending)) = conns.get_mut(&key) {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) => {
                            close = true;
                            break;
                        }
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => {
                            close = true;
                            break;
                        }
                    }
                }
                out.clear();
                while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                    let canned = if pending.starts_with(b"GET /json") { &json } else { &plain };
                    out.extend_from_slice(canned);
                    pending.drain(..end + 4);
                }
                if !out.is_empty() && stream.write_all(&out).is_err() {
                    close = true;
                }
            }
            if close {
                if let Some((mut stream, _)) = conns.remove(&key) {
                    let _ = poll.registry().deregister(&mut stream);
                }
            }
        }
    }
}
