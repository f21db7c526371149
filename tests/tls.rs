//! HTTPS end to end. The examples over TLS, driven by curl, openssl and
//! Python as users drive them; the engine's TLS behaviour (version floor,
//! SNI, garbage and plain HTTP on a TLS port, slow handshakes, many
//! connections, pipelining, `Control` wake-ups, backpressure, graceful
//! shutdown) over raw bytes; the client against Python's TLS server and
//! ours. Certificates come from a CA made for the run.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use turnstile_core::client::Client;
use turnstile_core::tls::TlsConfig;
use turnstile_core::Server;
use turnstile_suite::program::{Announced, Program};
use turnstile_suite::raw::{connect, ResponseReader};
use turnstile_suite::tls::{tls_connect, TestCa, TestCert};

fn tls_env(cert: &TestCert) -> Vec<(&'static str, String)> {
    vec![
        ("TLS_CERT", cert.chain_file.display().to_string()),
        ("TLS_KEY", cert.key_file.display().to_string()),
    ]
}

fn start_tls(name: &str, cert: &TestCert, extra: &[(&str, &str)]) -> Program {
    let env = tls_env(cert);
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    let program = Program::start(name, &all);
    assert!(
        matches!(program.announced(), Announced::Https(_)),
        "{name} announced {:?}",
        program.announced()
    );
    program
}

/// Runs `command`, returning stdout; panics with stderr when it fails.
fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn examples_serve_https_to_curl_with_keep_alive() {
    let ca = TestCa::new("curl");
    let cert = ca.issue("server", &["localhost", "127.0.0.1"]);
    for (name, path, expect, extra) in [
        ("hello", "/", "Hello, World!", &[][..]),
        ("echo", "/delay/20", "waited 20 ms", &[][..]),
        (
            "framework_tour",
            "/json",
            r#"{"message":"Hello, World!"}"#,
            &[][..],
        ),
        ("todo", "/api/todos", "[]", &[("DATABASE", ":memory:")][..]),
    ] {
        let program = start_tls(name, &cert, extra);
        let url = format!("https://127.0.0.1:{}{path}", program.addr().port());
        // Two requests on one command: the second must reuse the TLS
        // connection (no new connect).
        let out = run(Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(ca.ca_file())
            .args([
                "-w",
                "\n%{http_code} %{num_connects} %{ssl_verify_result}\n",
            ])
            .args([&url, &url]));
        let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines,
            [expect, "200 1 0", expect, "200 0 0"],
            "{name}: {out}"
        );
    }
}

#[test]
fn curl_uploads_and_downloads_16_mib_through_the_echo_example() {
    let ca = TestCa::new("curl-echo");
    let cert = ca.issue("server", &["127.0.0.1"]);
    let program = start_tls("echo", &cert, &[]);
    let body: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let file = ca.dir().join("body.bin");
    std::fs::write(&file, &body).unwrap();
    let url = format!("https://127.0.0.1:{}/echo", program.addr().port());
    // Content-Length, then chunked with `Expect: 100-continue`: the body
    // streams both ways through the TLS layer with backpressure.
    for extra in [
        &[][..],
        &[
            "-H",
            "Transfer-Encoding: chunked",
            "-H",
            "Expect: 100-continue",
        ][..],
    ] {
        let out = Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(ca.ca_file())
            .arg("--data-binary")
            .arg(format!("@{}", file.display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout.len(), body.len(), "{extra:?}");
        assert!(out.stdout == body, "echoed bytes differ ({extra:?})");
    }
}

#[test]
fn openssl_s_client_talks_tls_1_2_and_1_3_and_tls_1_1_is_refused() {
    let ca = TestCa::new("openssl");
    let cert = ca.issue("server", &["localhost", "127.0.0.1"]);
    let program = start_tls("hello", &cert, &[]);
    let connect_to = format!("127.0.0.1:{}", program.addr().port());
    let s_client = |args: &[&str], input: &[u8]| {
        let mut child = Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &connect_to,
                "-servername",
                "localhost",
            ])
            .arg("-CAfile")
            .arg(ca.ca_file())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl runs");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let request = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    for (version, flag) in [("TLSv1.3", "-tls1_3"), ("TLSv1.2", "-tls1_2")] {
        let out = s_client(&[flag, "-ign_eof", "-alpn", "http/1.1"], request);
        assert!(
            out.contains(&format!("Protocol  : {version}"))
                || out.contains(&format!("New, {version}")),
            "{out}"
        );
        assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
        assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
        assert!(out.contains("Hello, World!"), "{out}");
        assert!(out.contains("ALPN protocol: http/1.1"), "{out}");
    }
    // A client that offers only TLS 1.1 (its own floor lowered so it
    // really offers it) gets no session.
    let out = s_client(&["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], b"");
    assert!(out.contains("alert"), "TLS 1.1 was not refused: {out}");
    assert!(!out.contains("HTTP/1.1"), "{out}");
    assert!(
        out.contains("Cipher is (NONE)") || out.contains("Cipher    : 0000"),
        "{out}"
    );
}

#[test]
fn python_http_client_over_tls_keeps_the_connection() {
    let ca = TestCa::new("python");
    let cert = ca.issue("server", &["localhost", "127.0.0.1"]);
    let program = start_tls("framework_tour", &cert, &[]);
    let script = r#"
import http.client, json, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.set_alpn_protocols(["http/1.1"])
conn = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[2]), context=ctx)
conn.request("GET", "/plaintext")
r = conn.getresponse(); body = r.read()
assert r.status == 200 and body == b"Hello, World!", (r.status, body)
sock = conn.sock
conn.request("POST", "/users", body=json.dumps({"name": "ada"}), headers={"content-type": "application/json"})
r = conn.getresponse(); body = r.read()
assert json.loads(body)["name"] == "ada", body
assert conn.sock is sock, "the connection was not kept"
print(r.status, sock.version(), sock.selected_alpn_protocol(), len(body))
"#;
    let out = run(Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(ca.ca_file())
        .arg(program.addr().port().to_string()));
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fields[..3], ["201", "TLSv1.3", "http/1.1"], "{out}");
}

#[test]
fn sni_picks_the_certificate_for_the_name_asked() {
    let ca = TestCa::new("sni");
    let default = ca.issue("default", &["localhost"]);
    let a = ca.issue("a", &["a.test"]);
    let b = ca.issue("b", &["b.test"]);
    let tls = TlsConfig::builder()
        .certificate(default.chain_pem.as_bytes(), default.key_pem.as_bytes())
        .unwrap()
        .sni_certificate("a.test", a.chain_pem.as_bytes(), a.key_pem.as_bytes())
        .unwrap()
        .sni_certificate("B.Test", b.chain_pem.as_bytes(), b.key_pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let (server, _) =
        support::serve_probe(Server::bind_tls("127.0.0.1:0", tls).unwrap().workers(1));
    let addr = server.local_addr();
    for (name, cert) in [("a.test", &a), ("b.test", &b), ("localhost", &default)] {
        let mut stream = tls_connect(addr, name, ca.client_config()).unwrap();
        let presented = stream.conn.peer_certificates().unwrap()[0].clone();
        assert!(presented == cert.der, "{name} got another certificate");
        stream
            .write_all(format!("GET /hello HTTP/1.1\r\nHost: {name}\r\n\r\n").as_bytes())
            .unwrap();
        let response = ResponseReader::new(stream).read_response(false).unwrap();
        assert_eq!(response.text(), "Hello, World!");
    }
    // A name nobody registered gets the default, which it cannot verify.
    let err = tls_connect(addr, "c.test", ca.client_config()).err();
    assert!(
        err.is_some(),
        "c.test verified against the default certificate"
    );
}

/// A server on a TLS listener with the probe's routes, and its CA.
fn probe_tls(
    configure: impl FnOnce(Server) -> Server,
) -> (turnstile_core::ServerHandle, support::Waiting, TestCa) {
    let ca = TestCa::new("probe");
    let cert = ca.issue("server", &["localhost"]);
    let server = configure(
        Server::bind_tls("127.0.0.1:0", cert.server_config())
            .unwrap()
            .workers(1),
    );
    let (handle, waiting) = support::serve_probe(server);
    (handle, waiting, ca)
}

#[test]
fn plain_http_and_garbage_on_a_tls_port_are_closed_without_disturbing_others() {
    let (server, _, ca) = probe_tls(|s| s);
    let addr = server.local_addr();
    // A TLS client in the middle of its keep-alive connection.
    let mut bystander = tls_connect(addr, "localhost", ca.client_config()).unwrap();
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0x01][..],
        &[0u8; 600][..],
        &b"\x16\x03\x03\x00\x05hello"[..],
    ] {
        let mut stream = connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(junk);
        let mut out = Vec::new();
        let started = Instant::now();
        let _ = stream.read_to_end(&mut out);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "not closed: {junk:?}"
        );
        assert!(
            !out.starts_with(b"HTTP/"),
            "answered in plain text: {out:?}"
        );
    }
    bystander
        .write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let response = ResponseReader::new(bystander).read_response(false).unwrap();
    assert_eq!(response.text(), "Hello, World!");
}

#[test]
fn a_slow_or_silent_handshake_is_cut_off_at_the_head_timeout() {
    let (server, _, ca) = probe_tls(|s| s.head_timeout(Duration::from_millis(300)));
    let addr = server.local_addr();
    // Silent after connecting; and a ClientHello dripped a byte at a time.
    let mut silent = connect(addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut drip = connect(addr).unwrap();
    drip.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    for byte in [
        0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ]
    .iter()
    .cycle()
    .take(100)
    {
        if drip.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        let mut one = [0u8; 1];
        match drip.read(&mut one) {
            Ok(0) => {
                closed = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    let drip_time = started.elapsed();
    assert!(closed, "a dripped handshake was never cut off");
    assert!(drip_time < Duration::from_secs(3), "{drip_time:?}");
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(4));
    // A prompt client is unaffected.
    let mut prompt = tls_connect(addr, "localhost", ca.client_config()).unwrap();
    prompt
        .write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(
        ResponseReader::new(prompt)
            .read_response(false)
            .unwrap()
            .status,
        200
    );
}

#[test]
fn pipelined_requests_and_control_wake_ups_work_over_tls() {
    let (server, waiting, ca) = probe_tls(|s| s);
    let addr = server.local_addr();
    let mut stream = tls_connect(addr, "localhost", ca.client_config()).unwrap();
    let mut batch = Vec::new();
    for i in 0..16 {
        batch.extend_from_slice(format!("GET /path?n={i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    batch.extend_from_slice(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    batch.extend_from_slice(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(&batch).unwrap();
    let mut reader = ResponseReader::new(stream);
    for i in 0..16 {
        let response = reader.read_response(false).unwrap();
        assert!(
            response.text().contains(&format!("n={i}")),
            "{}",
            response.text()
        );
    }
    assert_eq!(reader.read_response(false).unwrap().text(), "abc");
    // The waiting request is woken from this thread through its Control.
    let deadline = Instant::now() + Duration::from_secs(5);
    let control = loop {
        if let Some(c) = waiting.lock().unwrap().pop() {
            break c;
        }
        assert!(Instant::now() < deadline, "the request never waited");
        std::thread::sleep(Duration::from_millis(5));
    };
    control.ready(turnstile_core::Next::write()).unwrap();
    assert_eq!(reader.read_response(false).unwrap().text(), "woken");
}

#[test]
fn a_thousand_concurrent_tls_connections_are_served() {
    let (server, _, ca) = probe_tls(|s| s.workers(2));
    let addr = server.local_addr();
    let config = ca.client_config();
    let count = 1000;
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        streams.push(tls_connect(addr, "localhost", config.clone()).unwrap());
    }
    for stream in &mut streams {
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
    }
    for stream in streams {
        let response = ResponseReader::new(stream).read_response(false).unwrap();
        assert_eq!(response.text(), "Hello, World!");
    }
}

#[test]
fn a_client_that_does_not_read_holds_back_the_server_not_its_memory() {
    let ca = TestCa::new("backpressure");
    let cert = ca.issue("server", &["localhost"]);
    let program = start_tls("framework_tour", &cert, &[("WORKERS", "1")]);
    let addr = program.addr();
    let baseline = program.status_kib("VmRSS:");
    // 20 clients each ask for a ~2.2 MB stream and read none of it.
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut s = tls_connect(addr, "localhost", ca.client_config()).unwrap();
        s.write_all(b"GET /stream/100000 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        stalled.push(s);
    }
    // Let the server write until every socket is full.
    let mut last = 0;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(40));
        let now = program.status_kib("VmRSS:");
        if now == last {
            break;
        }
        last = now;
    }
    let grown = program.status_kib("VmRSS:").saturating_sub(baseline);
    assert!(
        grown < 16 * 1024,
        "RSS grew {grown} KiB for 20 stalled TLS readers"
    );
    // Each reader resumes and gets every line.
    for s in stalled {
        let mut reader = ResponseReader::new(s);
        let response = reader.read_response(false).unwrap();
        let text = response.text();
        assert!(
            text.ends_with("line 100000 of 100000\n"),
            "{}",
            &text[text.len().saturating_sub(60)..]
        );
    }
}

#[test]
fn graceful_shutdown_over_tls_answers_then_closes_cleanly() {
    let (server, waiting, ca) = probe_tls(|s| s);
    let addr = server.local_addr();
    let mut stream = tls_connect(addr, "localhost", ca.client_config()).unwrap();
    stream
        .write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let control = loop {
        if let Some(c) = waiting.lock().unwrap().pop() {
            break c;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    };
    server.shutdown(Duration::from_secs(5));
    control.ready(turnstile_core::Next::write()).unwrap();
    let mut reader = ResponseReader::new(stream);
    let response = reader.read_response(false).unwrap();
    assert_eq!(response.text(), "woken");
    assert_eq!(response.header("connection"), Some("close"));
    // The server ends the session with close_notify: a clean end, not a
    // truncation (rustls reports a bare TCP close as UnexpectedEof).
    let mut rest = Vec::new();
    let end = reader.get_mut().read_to_end(&mut rest);
    assert!(end.is_ok(), "no close_notify: {end:?}");
    assert!(rest.is_empty());
    server.join();
}

#[test]
fn the_client_fetches_https_from_python_and_from_our_server() {
    let ca = TestCa::new("client");
    let cert = ca.issue("server", &["localhost", "127.0.0.1"]);
    let www = ca.dir().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let page: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(www.join("page.txt"), &page).unwrap();
    // Python's http.server, wrapped in TLS: HTTP/1.0, close-delimited.
    let script = r#"
import functools, http.server, ssl, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
    let mut python = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&cert.chain_file)
        .arg(&cert.key_file)
        .arg(&www)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(python.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let python_port: u16 = line.trim().parse().unwrap();
    let ours = start_tls("hello", &cert, &[]);

    let trusting = turnstile_core::sync::Client::with(
        Client::builder()
            .add_root_certificate_pem(ca.ca_pem().as_bytes())
            .unwrap()
            .build()
            .unwrap(),
    );
    let fetch = |client: &turnstile_core::sync::Client, url: &str| {
        let mut response = client.get(url)?;
        let mut body = String::new();
        response.read_to_string(&mut body)?;
        Ok::<_, std::io::Error>((response.status().as_u16(), body))
    };
    let from_python = fetch(
        &trusting,
        &format!("https://localhost:{python_port}/page.txt"),
    );
    assert_eq!(from_python.unwrap(), (200, page.clone()));
    for _ in 0..3 {
        let from_ours = fetch(
            &trusting,
            &format!("https://127.0.0.1:{}/", ours.addr().port()),
        );
        assert_eq!(from_ours.unwrap(), (200, "Hello, World!".to_owned()));
    }
    // Without the test CA, the server is not trusted.
    let plain = turnstile_core::sync::Client::new().unwrap();
    let refused = fetch(&plain, &format!("https://localhost:{python_port}/page.txt"));
    let err = refused.expect_err("an unknown issuer was trusted");
    assert!(err.to_string().contains("certificate"), "{err}");
    let _ = python.kill();
    let _ = python.wait();
}
