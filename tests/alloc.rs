//! Heap allocations per request on a warm connection, counted for the whole
//! process while a client sends requests one at a time and pipelined: none
//! on the raw core's plain response, at most two on the framework's /json.
//! Over TLS the client is another process (Python), so only the server's
//! allocations count: rustls's own record buffers are all there is.
//!
//! Runs without libtest (`harness = false`) so no other thread allocates
//! while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use turnstile_core::{Control, Encoder, Handler, Next, Request, ResponseHead, Server};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; it only
// counts allocations on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed through unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Hello;

impl Handler for Hello {
    fn on_request(&mut self, _: Request) -> Next {
        Next::write()
    }
    fn on_response(&mut self, res: &mut ResponseHead) -> Next {
        res.headers_mut().set("content-type", "text/plain").unwrap();
        res.set_content_length(13);
        Next::write()
    }
    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        match encoder.write(b"Hello, World!") {
            Ok(13) => Next::end(),
            _ => Next::remove(),
        }
    }
}

/// The TechEmpower JSON body, serialized per request.
#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

/// Sends `depth` copies of `request` per write, `rounds` times, reading
/// every response into a fixed buffer (no allocation on this side either).
fn drive(stream: &mut TcpStream, batch: &[u8], depth: usize, rounds: usize) -> io::Result<()> {
    let mut buf = [0u8; 64 * 1024];
    for _ in 0..rounds {
        stream.write_all(&batch[..batch.len() / 16 * depth])?;
        let mut seen = 0;
        while seen < depth {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            seen += buf[..n]
                .windows(13)
                .filter(|w| w == b"Hello, World!")
                .count();
        }
    }
    Ok(())
}

/// Heap allocations per request on a warm connection to `addr`.
fn per_request(addr: std::net::SocketAddr, request: &[u8], depth: usize) -> io::Result<f64> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let batch = request.repeat(16);
    drive(&mut stream, &batch, depth, 200)?; // warm up pools and buffers
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    drive(&mut stream, &batch, depth, 1000)?;
    let allocations = ALLOCATIONS.load(Ordering::SeqCst) - before;
    Ok(allocations as f64 / (depth * 1000) as f64)
}

/// Heap allocations per request on a warm TLS connection to `port`, the
/// client being a Python process (it warms up, says so, waits for the go,
/// then sends 1,000 rounds of `depth` pipelined requests).
fn per_tls_request(port: u16, ca_file: &std::path::Path, depth: usize) -> io::Result<f64> {
    const CLIENT: &str = r#"
import socket, ssl, sys
port, depth = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context(cafile=sys.argv[3])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
batch = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n" * depth
def rounds(n):
    for _ in range(n):
        s.sendall(batch)
        got = b""
        while got.count(b"Hello, World!") < depth:
            data = s.recv(65536)
            if not data:
                sys.exit("closed")
            got += data
rounds(200)
print("warm", flush=True)
sys.stdin.readline()
rounds(1000)
print("done", flush=True)
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(CLIENT)
        .arg(port.to_string())
        .arg(depth.to_string())
        .arg(ca_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = io::BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    io::BufRead::read_line(&mut stdout, &mut line)?;
    if line.trim() != "warm" {
        return Err(io::Error::other(format!("client said {line:?}")));
    }
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    stdin.write_all(b"go\n")?;
    line.clear();
    io::BufRead::read_line(&mut stdout, &mut line)?;
    let allocations = ALLOCATIONS.load(Ordering::SeqCst) - before;
    if line.trim() != "done" {
        return Err(io::Error::other(format!("client said {line:?}")));
    }
    let _ = child.wait();
    Ok(allocations as f64 / (depth * 1000) as f64)
}

fn main() -> io::Result<()> {
    let raw = Server::bind("127.0.0.1:0")?
        .workers(1)
        .serve(|_: Control| Hello)?;
    let app = turnstile::App::new()
        .get("/plaintext", || "Hello, World!")
        .get("/json", || {
            turnstile::Json(Message {
                message: "Hello, World!",
            })
        });
    let framework = app.serve_on(Server::bind("127.0.0.1:0")?.workers(1))?;

    let plaintext: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
    let json: &[u8] = b"GET /json HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
    // (what, server, request, pipelining depth, most allocations allowed per request)
    let cases = [
        (
            "raw core /plaintext, one at a time",
            raw.local_addr(),
            plaintext,
            1,
            0.0,
        ),
        (
            "raw core /plaintext, pipelined 16 deep",
            raw.local_addr(),
            plaintext,
            16,
            0.0,
        ),
        (
            "framework /plaintext, one at a time",
            framework.local_addr(),
            plaintext,
            1,
            0.0,
        ),
        (
            "framework /json, one at a time",
            framework.local_addr(),
            json,
            1,
            2.0,
        ),
        (
            "framework /json, pipelined 16 deep",
            framework.local_addr(),
            json,
            16,
            2.0,
        ),
    ];
    let ca = turnstile_suite::tls::TestCa::new("alloc");
    let cert = ca.issue("server", &["localhost"]);
    let tls = Server::bind_tls("127.0.0.1:0", cert.server_config())?
        .workers(1)
        .serve(|_: Control| Hello)?;
    // rustls allocates a buffer per record sealed and per record opened:
    // one request and one response each, or one per pipelined batch (with
    // room for the odd request split across two records).
    let tls_cases = [
        ("raw core over TLS, one at a time", 1, 2.1),
        ("raw core over TLS, pipelined 16 deep", 16, 0.25),
    ];
    let mut failures = 0;
    let mut judge = |name: &str, measured: f64, allowed: f64| {
        let verdict = if measured <= allowed {
            "ok"
        } else {
            "TOO MANY"
        };
        println!("{name}: {measured:.2} allocations per request (at most {allowed}) {verdict}");
        if measured > allowed {
            failures += 1;
        }
    };
    for (name, depth, allowed) in tls_cases {
        let measured = per_tls_request(tls.local_addr().port(), &ca.ca_file(), depth)?;
        judge(name, measured, allowed);
    }
    for (name, addr, request, depth, allowed) in cases {
        let measured = per_request(addr, request, depth)?;
        judge(name, measured, allowed);
    }
    for server in [raw, framework, tls] {
        server.shutdown(std::time::Duration::ZERO);
        server.join();
    }
    println!(
        "{} passed, {failures} failed",
        cases.len() + tls_cases.len() - failures
    );
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}
