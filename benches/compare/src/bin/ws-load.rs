//! WebSocket echo load: `CONNECTIONS` sockets (default 64) to
//! `127.0.0.1:$PORT/ws/echo`, each with one `SIZE`-byte binary message
//! (default 64) in flight at a time, for `DURATION` seconds (default 5);
//! prints `round_trips <n> seconds <s>`. One thread on a mio loop, so the
//! client costs the same whichever server it drives; a round trip counts
//! when the echo's bytes (header and payload) are all in.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Conn {
    stream: TcpStream,
    /// Still reading the handshake's answer.
    head: Option<Vec<u8>>,
    /// How much of the current outgoing frame is written.
    written: usize,
    /// Echo bytes received for the current round trip.
    got: usize,
    /// A frame is out (or going out) and its echo is not all in.
    in_flight: bool,
}

fn main() {
    let port = env("PORT", 3000) as u16;
    let connections = env("CONNECTIONS", 64) as usize;
    let size = env("SIZE", 64) as usize;
    let duration = Duration::from_secs(env("DURATION", 5));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x82];
    match size {
        0..=125 => frame.push(0x80 | size as u8),
        126..=65535 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(size as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(size as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend((0..size).map(|i| (i as u8) ^ mask[i % 4]));
    let echo_len = size
        + match size {
            0..=125 => 2,
            126..=65535 => 4,
            _ => 10,
        };
    let handshake = format!(
        "GET /ws/echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );

    let mut poll = Poll::new().expect("poll");
    let mut conns = Vec::with_capacity(connections);
    for i in 0..connections {
        let std_stream = std::net::TcpStream::connect(addr).expect("connect");
        std_stream.set_nodelay(true).expect("nodelay");
        std_stream.set_nonblocking(true).expect("nonblocking");
        let mut stream = TcpStream::from_std(std_stream);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE | Interest::WRITABLE)
            .expect("register");
        conns.push(Conn { stream, head: Some(Vec::new()), written: 0, got: 0, in_flight: false });
    }
    for conn in &mut conns {
        // A few hundred bytes into an empty socket buffer: written at once.
        conn.stream.write_all(handshake.as_bytes()).expect("handshake");
    }

    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 256 * 1024];
    let mut round_trips = 0u64;
    let mut start = None;
    let mut open = 0;
    let give_up = Instant::now() + duration + Duration::from_secs(10);
    loop {
        let now = Instant::now();
        if start.is_some_and(|s: Instant| now - s >= duration) || now > give_up {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100))).expect("poll");
        for event in events.iter() {
            let conn = &mut conns[event.token().0];
            // Read everything there is.
            loop {
                match conn.stream.read(&mut buf) {
                    Ok(0) => panic!("the server closed a connection"),
                    Ok(n) => {
                        let mut data = &buf[..n];
                        if let Some(head) = &mut conn.head {
                            head.extend_from_slice(data);
                            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                                continue;
                            };
                            assert!(head.starts_with(b"HTTP/1.1 101"), "not upgraded");
                            let extra = head.len() - (end + 4);
                            conn.got += extra;
                            conn.head = None;
                            data = &[];
                            open += 1;
                            if open == connections {
                                start = Some(Instant::now());
                            }
                        }
                        conn.got += data.len();
                        if conn.in_flight && conn.got >= echo_len {
                            conn.got -= echo_len;
                            conn.in_flight = false;
                            if start.is_some() {
                                round_trips += 1;
                            }
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            // Then send the next message once the last one's echo is in.
            if conn.head.is_none() {
                if !conn.in_flight {
                    conn.in_flight = true;
                    conn.written = 0;
                }
                while conn.written < frame.len() {
                    match conn.stream.write(&frame[conn.written..]) {
                        Ok(n) => conn.written += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }
    }
    let seconds = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    assert!(open == connections, "only {open} of {connections} sockets opened");
    println!("round_trips {round_trips} seconds {seconds:.3}");
}
