//! The examples, started as programs and driven from outside with real
//! clients: curl and Python's http.client.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use turnstile_suite::program::Program;

fn start(name: &str) -> Program {
    Program::start(name, &[("WORKERS", "2")])
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs")
}

#[test]
fn hello_answers_curl_with_keep_alive() {
    assert!(
        have("curl"),
        "curl is needed: run the README's test command"
    );
    let server = start("hello");
    let url = format!("http://{}/", server.addr());
    // Three URLs on one curl: the connection is reused.
    let out = curl(&["-v", &url, &url, &url]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello, World!".repeat(3)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(log.matches("Connected to").count(), 1, "{log}");
    assert!(
        log.contains("Re-using existing connection") || log.contains("Reusing existing"),
        "{log}"
    );
    let head = curl(&["-I", &url]);
    let head = String::from_utf8_lossy(&head.stdout);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("content-length: 13"));
    assert!(head.contains("server: turnstile"));
}

#[test]
fn hello_and_echo_with_python_http_client() {
    assert!(have("python3"), "python3 is needed");
    let hello = start("hello");
    let echo = start("echo");
    let script = format!(
        r#"
import http.client
c = http.client.HTTPConnection("127.0.0.1", {hello_port}, timeout=10)
for _ in range(5):
    c.request("GET", "/anything")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"Hello, World!", r.status
c.request("HEAD", "/")
r = c.getresponse()
assert r.getheader("Content-Length") == "13" and r.read() == b""
e = http.client.HTTPConnection("127.0.0.1", {echo_port}, timeout=10)
body = bytes(range(256)) * 4096
e.request("POST", "/echo", body=body)
r = e.getresponse()
assert r.status == 200 and r.read() == body
def chunks():
    for i in range(100):
        yield bytes([i]) * 1000
e.request("POST", "/echo", body=chunks(), encode_chunked=True)
r = e.getresponse()
assert r.getheader("Transfer-Encoding") == "chunked"
assert r.read() == b"".join(chunks())
e.request("GET", "/delay/50")
r = e.getresponse()
assert r.status == 200 and r.read() == b"waited 50 ms\n"
print("ok")
"#,
        hello_port = hello.addr().port(),
        echo_port = echo.addr().port()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn echo_streams_large_bodies_back_through_curl() {
    assert!(
        have("curl"),
        "curl is needed: run the README's test command"
    );
    let server = start("echo");
    let dir = std::env::temp_dir().join(format!("turnstile-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.bin");
    let data: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::File::create(&input)
        .unwrap()
        .write_all(&data)
        .unwrap();
    let url = format!("http://{}/echo", server.addr());
    let at_input = format!("@{}", input.display());
    for extra in [&[][..], &["-H", "Transfer-Encoding: chunked"][..]] {
        let mut args = vec!["--data-binary", &at_input, &url];
        args.extend_from_slice(extra);
        let out = curl(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == data, "echoed body differs ({extra:?})");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn echo_delay_timeout_and_not_found() {
    assert!(
        have("curl"),
        "curl is needed: run the README's test command"
    );
    let server = start("echo");
    let base = format!("http://{}", server.addr());
    let started = Instant::now();
    let out = curl(&[&format!("{base}/delay/200")]);
    let took = started.elapsed();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "waited 200 ms\n");
    assert!(took >= Duration::from_millis(190), "{took:?}");

    let out = curl(&["-w", "%{http_code}", &format!("{base}/timeout/100")]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "timed out after 100 ms\n408"
    );

    let out = curl(&[
        "-w",
        "%{http_code}",
        "-o",
        "/dev/null",
        &format!("{base}/nope"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
    let out = curl(&[
        "-w",
        "%{http_code}",
        "-o",
        "/dev/null",
        &format!("{base}/delay/abc"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");
}

#[test]
fn framework_tour_over_real_sockets() {
    assert!(
        have("curl"),
        "curl is needed: run the README's test command"
    );
    let server = start("framework_tour");
    let base = format!("http://{}", server.addr());
    let get = |path: &str| {
        let out = curl(&["-w", "\n%{http_code}", &format!("{base}{path}")]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(get("/users/1"), "{\"id\":1,\"name\":\"admin\"}\n200");
    assert_eq!(get("/users/999"), "{\"error\":\"not found\"}\n404");
    assert_eq!(get("/users/abc").lines().last(), Some("400"));
    assert_eq!(get("/search?q=x&limit=1"), "[\"x result 1\"]\n200");
    assert_eq!(get("/slow/50"), "answered after 50 ms\n200");
    assert_eq!(get("/primes/1000"), "{\"below\":1000,\"primes\":168}\n200");
    assert_eq!(get("/stream/2"), "line 1 of 2\nline 2 of 2\n\n200");
    // A panicking route answers 500 and the server keeps serving.
    for _ in 0..4 {
        assert!(get("/panic").ends_with("500"));
    }
    assert_eq!(get("/"), "Hello, World!\n200");

    // JSON in, with curl's Expect: 100-continue on a large body.
    let big_name = "n".repeat(2000);
    let body = format!("{{\"name\":\"{big_name}\"}}");
    let out = curl(&[
        "-w",
        "\n%{http_code}",
        "-H",
        "content-type: application/json",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &body,
        &format!("{base}/users"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("422"), "{text}");
    let out = curl(&[
        "-w",
        "\n%{http_code}",
        "-H",
        "content-type: application/json",
        "-d",
        "{\"name\":\"bob\"}",
        &format!("{base}/users"),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("201"));

    // Bodies over the 1 MiB default limit are refused up front.
    let mut stream = turnstile_suite::raw::connect(server.addr()).unwrap();
    stream
        .write_all(b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n")
        .unwrap();
    let res = turnstile_suite::raw::ResponseReader::new(stream)
        .read_response(false)
        .unwrap();
    assert_eq!(res.status, 413);

    // Pipelined requests through the framework answer in order.
    let mut stream = turnstile_suite::raw::connect(server.addr()).unwrap();
    stream
        .write_all(b"GET /users/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /counter HTTP/1.1\r\nHost: x\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reader = turnstile_suite::raw::ResponseReader::new(stream);
    assert!(reader
        .read_response(false)
        .unwrap()
        .text()
        .contains("admin"));
    assert!(reader
        .read_response(false)
        .unwrap()
        .text()
        .parse::<u64>()
        .is_ok());
    assert_eq!(reader.read_response(false).unwrap().text(), "Hello, World!");
}

#[test]
fn macros_example_serves_its_api() {
    assert!(
        have("curl"),
        "curl is needed: run the README's test command"
    );
    let server = start("macros");
    let base = format!("http://{}", server.addr());
    let run = |args: &[&str]| {
        let mut all = vec!["-w", "\n%{http_code}"];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&curl(&all).stdout).into_owned()
    };
    let notes = format!("{base}/notes");
    let created = run(&[
        "-H",
        "content-type: application/json",
        "-d",
        "{\"text\":\"buy milk\"}",
        &notes,
    ]);
    assert_eq!(created, "{\"id\":1,\"text\":\"buy milk\"}\n201");
    assert_eq!(run(&[&notes]), "[{\"id\":1,\"text\":\"buy milk\"}]\n200");
    assert_eq!(
        run(&[&format!("{base}/notes/1")]),
        "{\"id\":1,\"text\":\"buy milk\"}\n200"
    );
    assert!(run(&[&format!("{base}/notes/abc")]).ends_with("404"));
    let empty = run(&[
        "-H",
        "content-type: application/json",
        "-d",
        "{\"text\":\" \"}",
        &notes,
    ]);
    assert!(empty.ends_with("422"), "{empty}");
    assert!(run(&["-X", "DELETE", &format!("{base}/notes/1")]).ends_with("204"));
    assert!(run(&["-X", "DELETE", &format!("{base}/notes/1")]).ends_with("404"));
}

#[test]
fn sync_server_counts_uploads_from_curl() {
    assert!(
        have("curl"),
        "curl is needed: run the README's test command"
    );
    let server = start("sync_server");
    let base = format!("http://{}", server.addr());
    let out = curl(&[&format!("{base}/")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, World!");
    let dir = std::env::temp_dir().join(format!("turnstile-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("upload.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&input, &data).unwrap();
    let expected = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let at_input = format!("@{}", input.display());
    for extra in [&[][..], &["-H", "Transfer-Encoding: chunked"][..]] {
        let mut args = vec![
            "--data-binary",
            &at_input,
            "-H",
            "content-type: application/octet-stream",
        ];
        args.extend_from_slice(extra);
        let url = format!("{base}/upload");
        args.push(&url);
        let out = curl(&args);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{{\"bytes\":3000000,\"fnv1a\":\"{expected:016x}\"}}\n")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
