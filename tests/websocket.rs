//! WebSocket (RFC 6455) on the event loop: the handshake and its refusals,
//! every protocol error closed with its code, keep-alive pings, a send
//! budget against clients that do not read, senders on other threads, a
//! drain closing with 1001; over raw sockets where framing matters and with
//! Python's `websockets` client where users would.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use turnstile::core::ws::{
    write_frame, write_header, write_message, Message, MessageReader, OpCode, Role,
};
use turnstile::core::{Server, ServerHandle};
use turnstile::ws::{close_code, DeflateConfig, Socket, WebSocketUpgrade, WsConfig, WsHandler};
use turnstile::App;
use turnstile_suite::raw::connect;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const MASK: Option<[u8; 4]> = Some([0x12, 0x34, 0x56, 0x78]);

/// Sends every message back.
struct Echo;

impl WsHandler for Echo {
    fn on_message(&mut self, socket: &mut Socket<'_>, message: Message) {
        let _ = socket.send(message);
    }
}

/// On open, a thread sends three messages through the socket's sender,
/// then reports whether a send after the client closed is refused.
struct Pusher {
    report: mpsc::Sender<bool>,
}

impl WsHandler for Pusher {
    fn on_open(&mut self, socket: &mut Socket<'_>) {
        let sender = socket.sender();
        let report = self.report.clone();
        std::thread::spawn(move || {
            for i in 1..=3 {
                sender.send(Message::Text(format!("push {i}"))).unwrap();
            }
            let give_up = Instant::now() + Duration::from_secs(10);
            while !sender.is_closed() && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = report.send(sender.send(Message::Text("late".into())).is_err());
        });
    }

    fn on_message(&mut self, _socket: &mut Socket<'_>, _message: Message) {}
}

/// On open, a thread sends 200 messages of 16 KiB as fast as the socket's
/// budget lets it (retrying when full), far past what the budget holds.
struct Flood;

impl WsHandler for Flood {
    fn on_open(&mut self, socket: &mut Socket<'_>) {
        let sender = socket.sender();
        std::thread::spawn(move || {
            for i in 0..200u32 {
                let message = Message::Binary(vec![i as u8; 16 * 1024]);
                let give_up = Instant::now() + Duration::from_secs(20);
                loop {
                    match sender.send(message.clone()) {
                        Ok(()) => break,
                        Err(turnstile::ws::SendError::Full) if Instant::now() < give_up => {
                            std::thread::sleep(Duration::from_millis(1))
                        }
                        Err(_) => return,
                    }
                }
            }
        });
    }

    fn on_message(&mut self, _socket: &mut Socket<'_>, _message: Message) {}
}

/// On open, a thread sends 16 KiB every 2 ms (full or not) until the
/// socket is closed, then reports when that was.
struct Nagger {
    report: mpsc::Sender<Instant>,
}

impl WsHandler for Nagger {
    fn on_open(&mut self, socket: &mut Socket<'_>) {
        let sender = socket.sender();
        let report = self.report.clone();
        std::thread::spawn(move || {
            let give_up = Instant::now() + Duration::from_secs(20);
            while !sender.is_closed() && Instant::now() < give_up {
                let _ = sender.send(Message::Binary(vec![0; 16 * 1024]));
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = report.send(Instant::now());
        });
    }

    fn on_message(&mut self, _socket: &mut Socket<'_>, _message: Message) {}
}

fn serve(report: mpsc::Sender<bool>) -> ServerHandle {
    let quick = WsConfig {
        ping_interval: Some(Duration::from_millis(150)),
        pong_timeout: Duration::from_millis(150),
        ..WsConfig::default()
    };
    let tight = WsConfig {
        send_budget: 64 * 1024,
        ..WsConfig::default()
    };
    App::new()
        .get("/echo", |ws: WebSocketUpgrade| ws.accept(Echo))
        .get("/small", |ws: WebSocketUpgrade| {
            ws.max_message(1000).accept(Echo)
        })
        .get("/quick", move |ws: WebSocketUpgrade| {
            ws.config(quick.clone()).accept(Echo)
        })
        .get("/tight", move |ws: WebSocketUpgrade| {
            ws.config(tight.clone()).accept(Echo)
        })
        .get("/flood", move |ws: WebSocketUpgrade| {
            ws.config(WsConfig {
                send_budget: 64 * 1024,
                ..WsConfig::default()
            })
            .accept(Flood)
        })
        .get("/deflate", |ws: WebSocketUpgrade| {
            ws.deflate(DeflateConfig::default()).accept(Echo)
        })
        .get("/chosen", |ws: WebSocketUpgrade| {
            ws.protocol("superchat").accept(Echo)
        })
        .get("/any-origin", |ws: WebSocketUpgrade| {
            ws.allow_origin(|o| o == "https://trusted.example")
                .accept(Echo)
        })
        .get("/push", move |ws: WebSocketUpgrade| {
            ws.accept(Pusher {
                report: report.clone(),
            })
        })
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap()
}

fn handshake(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A client speaking raw frames, reading with the crate's own reader in
/// the client role (so a masked frame from the server would fail).
struct Client {
    stream: TcpStream,
    reader: MessageReader,
    pending: Vec<u8>,
    head: String,
}

impl Client {
    /// Sends `request` and reads the answer's head.
    fn open(addr: SocketAddr, request: &str) -> Client {
        let mut stream = connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            assert_eq!(stream.read(&mut byte).unwrap(), 1, "{got:?}");
            got.push(byte[0]);
        }
        Client {
            stream,
            reader: MessageReader::new(Role::Client, 64 << 20),
            pending: Vec::new(),
            head: String::from_utf8(got).unwrap().to_lowercase(),
        }
    }

    fn upgraded(addr: SocketAddr, path: &str) -> Client {
        let client = Client::open(addr, &handshake(path, ""));
        assert!(client.head.starts_with("http/1.1 101"), "{}", client.head);
        client
    }

    fn send(&mut self, message: &Message) {
        let mut out = Vec::new();
        write_message(&mut out, message, MASK);
        self.stream.write_all(&out).unwrap();
    }

    fn send_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        let mut out = Vec::new();
        write_frame(&mut out, fin, opcode, payload, MASK);
        self.stream.write_all(&out).unwrap();
    }

    /// The next message, or `None` when the server closed the connection.
    fn recv(&mut self) -> Option<Message> {
        let give_up = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 65536];
        loop {
            let (used, message) = self.reader.read(&mut self.pending).unwrap();
            self.pending.drain(..used);
            if let Some(message) = message {
                return Some(message);
            }
            if used > 0 {
                continue;
            }
            assert!(Instant::now() < give_up, "no message in time");
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// The server's close code, after which it must close the connection.
    fn closed_with(&mut self) -> u16 {
        loop {
            match self.recv() {
                Some(Message::Close(Some(close))) => {
                    assert_eq!(self.recv(), None, "the connection stays open");
                    return close.code;
                }
                Some(Message::Close(None)) => panic!("close without a code"),
                Some(_) => {}
                None => panic!("closed without a close frame"),
            }
        }
    }
}

#[test]
fn handshakes_are_checked_and_answered() {
    let (report, _) = mpsc::channel();
    let server = serve(report);
    let addr = server.local_addr();

    let ok = Client::open(addr, &handshake("/echo", ""));
    assert!(
        ok.head.starts_with("http/1.1 101 switching protocols\r\n"),
        "{}",
        ok.head
    );
    assert!(
        ok.head
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
        "{}",
        ok.head
    );
    assert!(ok.head.contains("upgrade: websocket\r\n"), "{}", ok.head);
    assert!(!ok.head.contains("sec-websocket-protocol"), "{}", ok.head);

    // A wrong or missing version: 426 naming the version spoken.
    for version in ["Sec-WebSocket-Version: 8\r\n", ""] {
        let request = handshake("/echo", "").replace("Sec-WebSocket-Version: 13\r\n", version);
        let refused = Client::open(addr, &request);
        assert!(refused.head.starts_with("http/1.1 426"), "{}", refused.head);
        assert!(
            refused.head.contains("sec-websocket-version: 13\r\n"),
            "{}",
            refused.head
        );
    }
    // Anything else malformed: 400.
    for (from, to) in [
        (format!("Sec-WebSocket-Key: {KEY}\r\n"), String::new()),
        (KEY.to_owned(), "c2hvcnQ=".to_owned()),
        (
            "Upgrade: websocket\r\n".to_owned(),
            "Upgrade: h2c\r\n".to_owned(),
        ),
    ] {
        let refused = Client::open(addr, &handshake("/echo", "").replace(&from, &to));
        assert!(
            refused.head.starts_with("http/1.1 400"),
            "{from}: {}",
            refused.head
        );
    }
    // Subprotocols: the one the route chooses, if offered.
    let chosen = Client::open(
        addr,
        &handshake("/chosen", "Sec-WebSocket-Protocol: chat, superchat\r\n"),
    );
    assert!(
        chosen
            .head
            .contains("sec-websocket-protocol: superchat\r\n"),
        "{}",
        chosen.head
    );
    let not_offered = Client::open(
        addr,
        &handshake("/chosen", "Sec-WebSocket-Protocol: chat\r\n"),
    );
    assert!(
        !not_offered.head.contains("sec-websocket-protocol"),
        "{}",
        not_offered.head
    );
    // Origins: another site is refused by default; a route's rule decides.
    let cross = Client::open(
        addr,
        &handshake("/echo", "Origin: https://evil.example\r\n"),
    );
    assert!(cross.head.starts_with("http/1.1 403"), "{}", cross.head);
    let same = Client::open(addr, &handshake("/echo", "Origin: http://127.0.0.1\r\n"));
    assert!(same.head.starts_with("http/1.1 101"), "{}", same.head);
    let trusted = Client::open(
        addr,
        &handshake("/any-origin", "Origin: https://trusted.example\r\n"),
    );
    assert!(trusted.head.starts_with("http/1.1 101"), "{}", trusted.head);
    let other = Client::open(
        addr,
        &handshake("/any-origin", "Origin: http://127.0.0.1\r\n"),
    );
    assert!(other.head.starts_with("http/1.1 403"), "{}", other.head);
    server.shutdown(Duration::ZERO);
    server.join();
}

#[test]
fn messages_fragments_pings_and_the_closing_handshake() {
    let (report, _) = mpsc::channel();
    let server = serve(report);
    let mut client = Client::upgraded(server.local_addr(), "/echo");
    client.send(&Message::Text("héllo".into()));
    assert_eq!(client.recv(), Some(Message::Text("héllo".into())));
    // A fragmented message with a ping between its pieces: the pong comes
    // first, then the whole message.
    client.send_frame(false, OpCode::Binary, &[1, 2]);
    client.send_frame(true, OpCode::Ping, b"between");
    client.send_frame(true, OpCode::Continuation, &[3]);
    assert_eq!(client.recv(), Some(Message::Pong(b"between".to_vec())));
    assert_eq!(client.recv(), Some(Message::Binary(vec![1, 2, 3])));
    // An unsolicited pong is ignored.
    client.send(&Message::Pong(b"nobody asked".to_vec()));
    client.send(&Message::Text("still here".into()));
    assert_eq!(client.recv(), Some(Message::Text("still here".into())));
    // The close code is echoed, then the server closes the connection.
    let mut close = Vec::new();
    turnstile::core::ws::write_close(&mut close, 4000, "done", MASK);
    client.stream.write_all(&close).unwrap();
    assert_eq!(client.closed_with(), 4000);
    server.shutdown(Duration::ZERO);
    server.join();
}

#[test]
fn permessage_deflate_is_negotiated_only_where_enabled_and_compresses_replies() {
    let (report, _) = mpsc::channel();
    let server = serve(report);
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let plain = Client::open(server.local_addr(), &handshake("/echo", offer));
    assert!(
        !plain.head.contains("sec-websocket-extensions"),
        "{}",
        plain.head
    );
    let mut client = Client::open(server.local_addr(), &handshake("/deflate", offer));
    assert!(
        client.head.contains(
            "sec-websocket-extensions: permessage-deflate; client_max_window_bits=15\r\n"
        ),
        "{}",
        client.head
    );
    // RFC 7692's compressed "Hello" (masked, as from a client) comes back
    // uncompressed: five bytes are not worth compressing.
    let mut hello = vec![0xc1, 0x87, 1, 2, 3, 4];
    let mut payload = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    turnstile::core::ws::apply_mask(&mut payload, [1, 2, 3, 4], 0);
    hello.extend_from_slice(&payload);
    client.stream.write_all(&hello).unwrap();
    let mut head = [0u8; 7];
    client.stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"\x81\x05Hello");
    // A longer plain message comes back compressed: RSV1, fewer bytes.
    client.send(&Message::Text("la ".repeat(100)));
    let mut head = [0u8; 2];
    client.stream.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 0xc1, "FIN, RSV1, text");
    assert!(usize::from(head[1]) < 20, "300 bytes in {}", head[1]);
    server.shutdown(Duration::ZERO);
    server.join();
}

#[test]
fn protocol_errors_close_with_their_codes() {
    let (report, _) = mpsc::channel();
    let server = serve(report);
    let addr = server.local_addr();
    let mut unmasked = Vec::new();
    write_frame(&mut unmasked, true, OpCode::Text, b"x", None);
    let mut reserved = Vec::new();
    write_frame(&mut reserved, true, OpCode::Text, b"x", MASK);
    reserved[0] |= 0x20;
    let mut big_ping = Vec::new();
    write_header(&mut big_ping, true, OpCode::Ping, 126, MASK);
    big_ping.extend_from_slice(&[0; 126]);
    let mut bad_code = Vec::new();
    write_frame(
        &mut bad_code,
        true,
        OpCode::Close,
        &1005u16.to_be_bytes(),
        MASK,
    );
    let mut bad_text = Vec::new();
    write_frame(&mut bad_text, false, OpCode::Text, b"ok\xc0\xaf", MASK);
    let mut stray = Vec::new();
    write_frame(&mut stray, true, OpCode::Continuation, b"x", MASK);
    let mut opcode = Vec::new();
    write_frame(&mut opcode, true, OpCode::Text, b"x", MASK);
    opcode[0] = 0x83;
    for (what, path, wire, code) in [
        ("unmasked", "/echo", unmasked, close_code::PROTOCOL_ERROR),
        (
            "reserved bits",
            "/echo",
            reserved,
            close_code::PROTOCOL_ERROR,
        ),
        (
            "ping over 125",
            "/echo",
            big_ping,
            close_code::PROTOCOL_ERROR,
        ),
        (
            "close code 1005",
            "/echo",
            bad_code,
            close_code::PROTOCOL_ERROR,
        ),
        (
            "continuation alone",
            "/echo",
            stray,
            close_code::PROTOCOL_ERROR,
        ),
        (
            "reserved opcode",
            "/echo",
            opcode,
            close_code::PROTOCOL_ERROR,
        ),
        // Refused at the bad byte, before the message ends.
        ("bad UTF-8", "/echo", bad_text, close_code::INVALID_PAYLOAD),
    ] {
        let mut client = Client::upgraded(addr, path);
        client.stream.write_all(&wire).unwrap();
        assert_eq!(client.closed_with(), code, "{what}");
    }
    // Over the route's limit: refused from the header alone.
    let mut client = Client::upgraded(addr, "/small");
    let mut header = Vec::new();
    write_header(&mut header, true, OpCode::Binary, 1001, MASK);
    client.stream.write_all(&header).unwrap();
    assert_eq!(client.closed_with(), close_code::MESSAGE_TOO_BIG);
    let mut client = Client::upgraded(addr, "/small");
    client.send(&Message::Binary(vec![7; 1000]));
    assert_eq!(client.recv(), Some(Message::Binary(vec![7; 1000])));
    server.shutdown(Duration::ZERO);
    server.join();
}

#[test]
fn idle_sockets_are_pinged_and_silent_ones_closed() {
    let (report, _) = mpsc::channel();
    let server = serve(report);
    let mut client = Client::upgraded(server.local_addr(), "/quick");
    // Answered pings keep the socket open.
    for _ in 0..3 {
        assert_eq!(client.recv(), Some(Message::Ping(Vec::new())));
        client.send(&Message::Pong(Vec::new()));
    }
    // A ping left unanswered closes it.
    assert_eq!(client.recv(), Some(Message::Ping(Vec::new())));
    let started = Instant::now();
    assert_eq!(client.recv(), None);
    assert!(started.elapsed() < Duration::from_secs(5));
    server.shutdown(Duration::ZERO);
    server.join();
}

#[test]
fn a_client_that_does_not_read_costs_bounded_memory() {
    let (report, _) = mpsc::channel();
    let server = serve(report);
    let mut client = Client::upgraded(server.local_addr(), "/tight");
    client.stream.set_nonblocking(true).unwrap();
    let mut frame = Vec::new();
    write_frame(&mut frame, true, OpCode::Binary, &[9; 16 * 1024], MASK);
    // Echoes pile up unread: the server stops reading past its budget, so
    // the client's writes stall well before 64 MiB (the rest is the
    // kernel's socket buffers).
    let mut written = 0usize;
    let mut stalled_since: Option<Instant> = None;
    let mut offset = 0;
    while written < 64 << 20 {
        match client.stream.write(&frame[offset..]) {
            Ok(n) => {
                written += n;
                offset = (offset + n) % frame.len();
                stalled_since = None;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let since = *stalled_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(500) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        written < 40 << 20,
        "the server read {written} bytes it could not answer"
    );
    // Reading again, the echoes flow and the socket still works.
    client.stream.set_nonblocking(false).unwrap();
    assert_eq!(client.recv(), Some(Message::Binary(vec![9; 16 * 1024])));
    server.shutdown(Duration::ZERO);
    server.join();
}

#[test]
fn senders_on_other_threads_wake_the_socket_and_learn_it_closed() {
    let (report, reported) = mpsc::channel();
    let server = serve(report);
    let mut client = Client::upgraded(server.local_addr(), "/push");
    for i in 1..=3 {
        assert_eq!(client.recv(), Some(Message::Text(format!("push {i}"))));
    }
    client.send(&Message::Close(None));
    assert_eq!(client.recv(), Some(Message::Close(None)));
    assert!(
        reported.recv_timeout(Duration::from_secs(10)).unwrap(),
        "a send after the close was taken"
    );
    server.shutdown(Duration::ZERO);
    server.join();
}

#[test]
fn a_sender_past_the_budget_is_never_left_unheard() {
    // Whatever the sender queued beyond the budget is taken as the socket
    // drains, without a wake-up of its own: every message arrives, in order.
    let (report, _) = mpsc::channel();
    let server = serve(report);
    let mut client = Client::upgraded(server.local_addr(), "/flood");
    for i in 0..200u32 {
        assert_eq!(
            client.recv(),
            Some(Message::Binary(vec![i as u8; 16 * 1024])),
            "message {i}"
        );
    }
    server.shutdown(Duration::ZERO);
    server.join();
}

#[test]
fn a_silent_client_that_does_not_read_is_dropped_while_senders_keep_waking_it() {
    // Wake-ups from a sender must not cancel the keep-alive timer: the
    // client neither reads nor answers the ping, so the socket goes.
    let (report, reported) = mpsc::channel();
    let quick = WsConfig {
        // Long enough for the socket buffers to fill first.
        ping_interval: Some(Duration::from_secs(3)),
        pong_timeout: Duration::from_millis(200),
        send_budget: 256 * 1024,
        ..WsConfig::default()
    };
    let server = App::new()
        .get("/nag", move |ws: WebSocketUpgrade| {
            ws.config(quick.clone()).accept(Nagger {
                report: report.clone(),
            })
        })
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap();
    let client = Client::upgraded(server.local_addr(), "/nag");
    let opened = Instant::now();
    let closed = reported.recv_timeout(Duration::from_secs(15)).unwrap();
    assert!(
        closed.duration_since(opened) < Duration::from_secs(10),
        "the socket lived {:?}",
        closed.duration_since(opened)
    );
    drop(client);
    server.shutdown(Duration::ZERO);
    server.join();
}

#[test]
fn a_drain_closes_sockets_with_1001() {
    let (report, _) = mpsc::channel();
    let server = serve(report);
    let mut client = Client::upgraded(server.local_addr(), "/echo");
    client.send(&Message::Text("before".into()));
    assert_eq!(client.recv(), Some(Message::Text("before".into())));
    server.shutdown(Duration::from_secs(5));
    match client.recv() {
        Some(Message::Close(Some(close))) => assert_eq!(close.code, close_code::GOING_AWAY),
        other => panic!("{other:?}"),
    }
    // Our close answers theirs; the server then closes the connection.
    client.send(&Message::Close(None));
    assert_eq!(client.recv(), None);
    server.join();
}

/// Python with the `websockets` package.
fn python() -> Command {
    turnstile_suite::program::python_with("websockets")
}

#[test]
fn python_websockets_client_talks_to_the_server() {
    let (report, _) = mpsc::channel();
    let server = serve(report);
    let script = r#"
import asyncio, sys, websockets
url = sys.argv[1]
async def main():
    async with websockets.connect(url + "/echo", max_size=None) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        for size in (0, 125, 126, 65535, 65536, 16 << 20):
            data = bytes(i % 251 for i in range(size))
            await ws.send(data)
            assert await ws.recv() == data, size
        # Fragmented: the client sends the pieces as continuation frames.
        await ws.send(["frag", "ment", "ed"])
        assert await ws.recv() == "fragmented"
        await (await ws.ping(b"payload"))
        print("echo ok")
    async with websockets.connect(url + "/small") as ws:
        await ws.send(b"x" * 1001)
        try:
            await ws.recv()
        except websockets.ConnectionClosed as e:
            print("too big", e.rcvd.code)
    ws = await websockets.connect(url + "/echo")
    await ws.close(code=4001, reason="bye")
    print("closed", ws.close_code)
    # permessage-deflate, as websockets offers it by default (12-bit
    # windows both ways, context takeover).
    async with websockets.connect(url + "/deflate", max_size=None) as ws:
        print("extensions", [e.name for e in ws.extensions])
        line = '{"user":"alice","text":"hello, everybody"}'
        for _ in range(3):
            await ws.send(line)
            assert await ws.recv() == line
        data = bytes(i % 101 for i in range(1 << 20))
        await ws.send(data)
        assert await ws.recv() == data
        await ws.send([b"frag", b"mented"])
        assert await ws.recv() == b"fragmented"
        await ws.send("")
        assert await ws.recv() == ""
        print("deflate ok")
    async with websockets.connect(url + "/echo") as ws:
        print("plain", [e.name for e in ws.extensions])
asyncio.run(main())
"#;
    let out = python()
        .args(["-c", script])
        .arg(format!("ws://{}", server.local_addr()))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "echo ok\ntoo big 1009\nclosed 4001\nextensions ['permessage-deflate']\n\
         deflate ok\nplain []\n"
    );
    server.shutdown(Duration::ZERO);
    server.join();
}

/// The chat example, driven from outside as its contract says, over plain
/// TCP and over TLS: the echo, the room (a message reaches the others and
/// not its sender), the page, and `WS_MAX_MESSAGE`.
#[test]
fn chat_example_echoes_and_broadcasts_over_ws_and_wss() {
    use turnstile_suite::program::{Announced, Program};
    use turnstile_suite::tls::TestCa;

    let script = r#"
import asyncio, ssl, sys, websockets
url, ca = sys.argv[1], sys.argv[2]
context = None
if url.startswith("wss:"):
    context = ssl.create_default_context(cafile=ca)
async def main():
    async with websockets.connect(url + "/ws/echo", ssl=context, max_size=None) as ws:
        await ws.send("echo me")
        assert await ws.recv() == "echo me"
        await ws.send(b"\x00\xff")
        assert await ws.recv() == b"\x00\xff"
        await ws.send(b"x" * 2049)
        try:
            await ws.recv()
        except websockets.ConnectionClosed as e:
            print("limit", e.rcvd.code)
    rooms = [await websockets.connect(url + "/ws/chat", ssl=context) for _ in range(3)]
    await asyncio.sleep(0.2)  # every member has joined
    await rooms[0].send("hello room")
    for other in rooms[1:]:
        assert await asyncio.wait_for(other.recv(), 5) == "hello room"
    try:
        await asyncio.wait_for(rooms[0].recv(), 0.3)
        print("sender heard itself")
    except asyncio.TimeoutError:
        print("room ok")
    for r in rooms:
        await r.close()
asyncio.run(main())
"#;
    let ca = TestCa::new("chat");
    let cert = ca.issue("chat", &["localhost", "127.0.0.1"]);
    let chain = cert.chain_file.display().to_string();
    let key = cert.key_file.display().to_string();
    for tls in [false, true] {
        let mut env = vec![("WS_MAX_MESSAGE", "2048")];
        if tls {
            env.extend([("TLS_CERT", chain.as_str()), ("TLS_KEY", key.as_str())]);
        }
        let program = Program::start("chat", &env);
        let scheme = match program.announced() {
            Announced::Https(_) => "wss",
            _ => "ws",
        };
        assert_eq!(scheme == "wss", tls, "{:?}", program.announced());
        let out = python()
            .args(["-c", script])
            .arg(format!("{scheme}://127.0.0.1:{}", program.addr().port()))
            .arg(ca.ca_file())
            .output()
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout, "limit 1009\nroom ok\n", "over {scheme}");
    }
    // The page connects to the room.
    let program = Program::start("chat", &[]);
    let page = turnstile_suite::raw::exchange(
        program.addr(),
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/ws/chat"), "{}", page.text());
}

/// Open sockets cost memory, not threads: `IDLE_SOCKETS` (2,000 by
/// default; 10,000 by hand) idle WebSockets on one worker of the chat
/// example, each still answering afterwards; prints the bytes per socket.
#[test]
fn idle_sockets_cost_memory_not_threads() {
    use turnstile_suite::program::Program;

    let count: usize = std::env::var("IDLE_SOCKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let program = Program::start("chat", &[("WORKERS", "1")]);
    let rss_before = program.status_kib("VmRSS");
    let threads_before = program.status_kib("Threads");
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        sockets.push(Client::upgraded(program.addr(), "/ws/echo"));
    }
    // A round trip on the last one: every handshake before it is done.
    let last = sockets.last_mut().unwrap();
    last.send(&Message::Text("last".into()));
    assert_eq!(last.recv(), Some(Message::Text("last".into())));
    let rss_after = program.status_kib("VmRSS");
    let per_socket = (rss_after.saturating_sub(rss_before)) * 1024 / count as u64;
    eprintln!(
        "{count} idle WebSockets: {per_socket} bytes each (RSS {rss_before} -> {rss_after} KiB)"
    );
    assert_eq!(
        program.status_kib("Threads"),
        threads_before,
        "a thread per socket"
    );
    // Idle, a socket holds no buffers (about 2 KiB in all when measured).
    assert!(per_socket < 8 * 1024, "{per_socket} bytes per idle socket");
    for (i, socket) in sockets.iter_mut().enumerate().step_by(count / 10) {
        socket.send(&Message::Binary(vec![i as u8; 3]));
        assert_eq!(socket.recv(), Some(Message::Binary(vec![i as u8; 3])));
    }
}
