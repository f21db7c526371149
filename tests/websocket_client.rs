//! The core WebSocket client (`turnstile_core::ws::WsClient`): against the
//! chat example over `ws://` and `wss://`, against Python's `websockets`
//! server (another implementation), and against a raw server that breaks
//! the handshake or the protocol.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;

use turnstile::core::ws::{
    accept_key, write_message, CloseFrame, ConnectError, Message, MessageReader, Role, WsClient,
};
use turnstile_suite::program::{python_with, Announced, Program};
use turnstile_suite::tls::TestCa;

fn text(s: &str) -> Message {
    Message::Text(s.to_owned())
}

/// The next data message, skipping pings and pongs.
fn next_data(client: &mut WsClient) -> Message {
    loop {
        match client.recv().unwrap() {
            Some(Message::Ping(_) | Message::Pong(_)) => {}
            Some(message) => return message,
            None => panic!("the connection ended"),
        }
    }
}

#[test]
fn talks_to_the_chat_example_over_ws_and_wss() {
    let ca = TestCa::new("ws-client");
    let cert = ca.issue("chat", &["localhost", "127.0.0.1"]);
    let chain = cert.chain_file.display().to_string();
    let key = cert.key_file.display().to_string();
    for tls in [false, true] {
        let mut env = vec![];
        if tls {
            env.extend([("TLS_CERT", chain.as_str()), ("TLS_KEY", key.as_str())]);
        }
        let program = Program::start("chat", &env);
        let scheme = match program.announced() {
            Announced::Https(_) => "wss",
            _ => "ws",
        };
        let base = format!("{scheme}://localhost:{}", program.addr().port());
        let connect = |path: &str| {
            WsClient::builder()
                .add_root_certificate_pem(ca.ca_pem().as_bytes())
                .unwrap()
                .connect(&format!("{base}{path}"))
                .unwrap_or_else(|e| panic!("{base}{path}: {e}"))
        };

        let mut echo = connect("/ws/echo");
        echo.send(&text("hello")).unwrap();
        assert_eq!(next_data(&mut echo), text("hello"));

        // Compressed both ways (that the server sets RSV1 is checked over
        // raw frames in tests/websocket.rs), the window carried over.
        let mut compressed = WsClient::builder()
            .add_root_certificate_pem(ca.ca_pem().as_bytes())
            .unwrap()
            .deflate(true)
            .connect(&format!("{base}/ws/echo"))
            .unwrap();
        assert!(compressed.is_compressed());
        for size in [0, 10, 1000, 300_000] {
            let line: String = "compress me ".repeat(size / 12 + 1);
            compressed.send(&text(&line)).unwrap();
            assert_eq!(next_data(&mut compressed), text(&line));
            let noise: Vec<u8> = (0..size as u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect();
            compressed.send(&Message::Binary(noise.clone())).unwrap();
            assert_eq!(next_data(&mut compressed), Message::Binary(noise));
        }
        compressed.close(None).unwrap();
        for size in [0, 125, 126, 65_535, 65_536, 4 << 20] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            echo.send(&Message::Binary(data.clone())).unwrap();
            assert_eq!(next_data(&mut echo), Message::Binary(data), "{size} bytes");
        }
        echo.send(&Message::Ping(b"are you there".to_vec()))
            .unwrap();
        assert_eq!(
            echo.recv().unwrap(),
            Some(Message::Pong(b"are you there".to_vec()))
        );
        // The closing handshake: the server echoes our code, then the end.
        echo.send(&Message::Close(Some(CloseFrame {
            code: 4000,
            reason: "done".into(),
        })))
        .unwrap();
        match echo.recv().unwrap() {
            Some(Message::Close(Some(frame))) => assert_eq!(frame.code, 4000),
            other => panic!("expected the echoed close, got {other:?}"),
        }
        assert_eq!(echo.recv().unwrap(), None);
        assert!(echo.send(&text("late")).is_err(), "nothing after the close");

        // The room: two members, one speaks, the other hears.
        let mut alice = connect("/ws/chat");
        let mut bob = connect("/ws/chat");
        // Joining is not announced: send until bob has joined for sure.
        let mut heard = None;
        for attempt in 0..50 {
            alice.send(&text(&format!("hi {attempt}"))).unwrap();
            bob.set_read_timeout(Some(std::time::Duration::from_millis(100)))
                .unwrap();
            if let Ok(Some(message)) = bob.recv() {
                heard = Some(message);
                break;
            }
        }
        assert!(
            matches!(heard, Some(Message::Text(ref t)) if t.starts_with("hi ")),
            "{heard:?}"
        );
        alice.close(None).unwrap();
        bob.close(None).unwrap();

        // A page from another site is refused by the origin check.
        let refused = WsClient::builder()
            .add_root_certificate_pem(ca.ca_pem().as_bytes())
            .unwrap()
            .header("Origin", "https://evil.example")
            .connect(&format!("{base}/ws/echo"));
        assert!(
            matches!(refused, Err(ConnectError::Refused { status: 403 })),
            "{refused:?}"
        );
        // A path that is not a WebSocket answers a page, not a 101.
        let page = WsClient::builder()
            .add_root_certificate_pem(ca.ca_pem().as_bytes())
            .unwrap()
            .connect(&format!("{base}/"));
        assert!(
            matches!(page, Err(ConnectError::Refused { status: 200 })),
            "{page:?}"
        );
    }
}

#[test]
fn talks_to_python_websockets_server() {
    // Echoes, offers subprotocol "chat", and after "bye" closes with 4001.
    let script = r#"
import asyncio, websockets
async def handler(ws, *path):
    async for message in ws:
        if message == "extensions?":
            await ws.send(",".join(e.name for e in ws.extensions))
            continue
        if message == "bye":
            await ws.close(code=4001, reason="asked to")
            return
        await ws.send(message)
async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=["chat"], max_size=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(60)
asyncio.run(main())
"#;
    let mut python = python_with("websockets")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(python.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("the server's port");

    let mut client = WsClient::builder()
        .protocol("superchat")
        .protocol("chat")
        .deflate(true)
        .connect(&format!("ws://127.0.0.1:{port}/"))
        .unwrap();
    assert_eq!(client.protocol(), Some("chat"));
    assert!(client.is_compressed());
    client.send(&text("extensions?")).unwrap();
    assert_eq!(next_data(&mut client), text("permessage-deflate"));
    let line = r#"{"user":"alice","text":"hello, everybody"}"#;
    for _ in 0..3 {
        client.send(&text(line)).unwrap();
        assert_eq!(next_data(&mut client), text(line));
    }
    client.send(&text("ünïcode ✓")).unwrap();
    assert_eq!(next_data(&mut client), text("ünïcode ✓"));
    let big = vec![7u8; 1 << 20];
    client.send(&Message::Binary(big.clone())).unwrap();
    assert_eq!(next_data(&mut client), Message::Binary(big));
    client.send(&text("bye")).unwrap();
    match client.recv().unwrap() {
        Some(Message::Close(Some(frame))) => {
            assert_eq!((frame.code, frame.reason.as_str()), (4001, "asked to"))
        }
        other => panic!("expected the server's close, got {other:?}"),
    }
    assert_eq!(client.recv().unwrap(), None);
    let _ = python.kill();
    let _ = python.wait();
}

/// A one-connection server that answers the handshake with `answer(key)`
/// and then writes `after`; returns what the client sent after its head.
fn raw_server(
    answer: impl Fn(&str) -> String + Send + 'static,
    after: Vec<u8>,
) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_owned();
        stream.write_all(answer(&key).as_bytes()).unwrap();
        stream.write_all(&after).unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        rest
    });
    (port, thread)
}

fn switching(key: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    )
}

#[test]
fn a_server_that_breaks_the_handshake_or_the_protocol_is_refused() {
    let (port, server) = raw_server(
        |_| {
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n"
                .to_owned()
        },
        Vec::new(),
    );
    let wrong_key = WsClient::connect(&format!("ws://127.0.0.1:{port}/"));
    assert!(
        matches!(
            wrong_key,
            Err(ConnectError::BadHandshake("wrong Sec-WebSocket-Accept"))
        ),
        "{wrong_key:?}"
    );
    drop(wrong_key);
    server.join().unwrap();

    let (port, server) = raw_server(
        |key| switching(key).replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: other\r\n\r\n"),
        Vec::new(),
    );
    let chosen = WsClient::builder()
        .protocol("chat")
        .connect(&format!("ws://127.0.0.1:{port}/"));
    assert!(
        matches!(
            chosen,
            Err(ConnectError::BadHandshake(
                "a subprotocol that was not offered"
            ))
        ),
        "{chosen:?}"
    );
    drop(chosen);
    server.join().unwrap();

    // A server must not mask its frames: the client closes with 1002.
    let mut masked = Vec::new();
    write_message(&mut masked, &text("masked"), Some([1, 2, 3, 4]));
    let (port, server) = raw_server(switching, masked);
    let mut client = WsClient::connect(&format!("ws://127.0.0.1:{port}/")).unwrap();
    let error = client.recv().unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    let sent = server.join().unwrap();
    let mut reader = MessageReader::new(Role::Server, 1 << 20);
    let mut sent = sent;
    match reader.read(&mut sent).unwrap().1 {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, 1002),
        other => panic!("expected a close with 1002, got {other:?}"),
    }

    assert!(matches!(
        WsClient::connect("http://127.0.0.1/"),
        Err(ConnectError::Url(_))
    ));
}
