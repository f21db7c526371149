//! Where servers listen: Unix sockets (curl's `--unix-socket`), several
//! listeners on one server (TCP, TLS and Unix at once, every worker serving
//! all), sockets inherited by systemd-style socket activation, and the
//! examples' `UNIX_SOCKET` and `LISTEN_FDS` contract.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use turnstile_core::server::{ListenAddr, Listener};
use turnstile_core::{Control, Encoder, Handler, Next, Request, ResponseHead, Server};
use turnstile_suite::program::{example_path, Announced, Program};
use turnstile_suite::raw::{connect, ResponseReader};
use turnstile_suite::tls::{tls_connect, TestCa};

/// Answers with what the engine knows of the connection.
struct WhoAmI {
    text: String,
}

impl Handler for WhoAmI {
    fn on_request(&mut self, request: Request) -> Next {
        self.text = format!(
            "remote={} secure={}",
            request
                .remote_addr()
                .map_or("none".to_owned(), |a| a.ip().to_string()),
            request.is_secure()
        );
        Next::write()
    }
    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        response.set_content_length(self.text.len() as u64);
        Next::write()
    }
    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        match encoder.write(self.text.as_bytes()) {
            Ok(n) if n == self.text.len() => Next::end(),
            _ => Next::remove(),
        }
    }
}

fn who(_: Control) -> WhoAmI {
    WhoAmI {
        text: String::new(),
    }
}

fn socket_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("turnstile-{name}-{}.sock", std::process::id()))
}

#[test]
fn one_server_serves_tcp_tls_and_unix_listeners_on_every_worker() {
    let ca = TestCa::new("listeners");
    let cert = ca.issue("server", &["localhost"]);
    let path = socket_path("multi");
    let server = Server::new(Listener::tcp("127.0.0.1:0").unwrap())
        .listen(
            Listener::tcp("127.0.0.1:0")
                .unwrap()
                .tls(cert.server_config()),
        )
        .listen(Listener::unix(&path).unwrap())
        .workers(2)
        .serve(who)
        .unwrap();
    let addrs = server.addrs().to_vec();
    let [ListenAddr::Tcp {
        addr: plain,
        tls: false,
    }, ListenAddr::Tcp {
        addr: secure,
        tls: true,
    }, ListenAddr::Unix {
        path: Some(unix), ..
    }] = &addrs[..]
    else {
        panic!("unexpected addresses {addrs:?}");
    };
    assert_eq!(unix, &path);
    assert_eq!(addrs[1].to_string(), format!("https://{secure}"));
    assert_eq!(addrs[2].to_string(), format!("unix:{}", path.display()));
    // Several connections each, so both workers take some.
    for _ in 0..8 {
        let mut tcp = ResponseReader::new(connect(*plain).unwrap());
        tcp.get_mut()
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(
            tcp.read_response(false).unwrap().text(),
            "remote=127.0.0.1 secure=false"
        );
        let mut tls = tls_connect(*secure, "localhost", ca.client_config()).unwrap();
        tls.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(
            ResponseReader::new(tls)
                .read_response(false)
                .unwrap()
                .text(),
            "remote=127.0.0.1 secure=true"
        );
        let mut local = ResponseReader::new(UnixStream::connect(&path).unwrap());
        local
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(
            local.read_response(false).unwrap().text(),
            "remote=none secure=false"
        );
    }
    server.join_after_shutdown();
    assert!(!path.exists(), "the socket file was left behind");
}

trait JoinAfterShutdown {
    fn join_after_shutdown(self);
}

impl JoinAfterShutdown for turnstile_core::ServerHandle {
    fn join_after_shutdown(self) {
        self.shutdown(std::time::Duration::from_secs(1));
        self.join();
    }
}

#[test]
fn a_stale_socket_file_is_replaced_and_a_live_one_is_refused() {
    let path = socket_path("stale");
    // A socket file whose server is gone.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    // A process another test forks at this moment holds a copy of the
    // listener until it execs: wait until nothing answers on the file.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while UnixStream::connect(&path).is_ok() {
        assert!(
            std::time::Instant::now() < give_up,
            "the old listener lives on"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let server = Server::bind_unix(&path).unwrap().serve(who).unwrap();
    // Now it is live: a second server must not steal it.
    let second = Server::bind_unix(&path);
    assert_eq!(
        second.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::AddrInUse)
    );
    let mut local = ResponseReader::new(UnixStream::connect(&path).unwrap());
    local
        .get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(local.read_response(false).unwrap().status, 200);
    server.join_after_shutdown();
}

#[test]
fn examples_listen_on_a_unix_socket_for_curl() {
    for (name, url, expect) in [
        ("hello", "http://localhost/", "Hello, World!"),
        (
            "framework_tour",
            "http://localhost/plaintext",
            "Hello, World!",
        ),
        ("sync_server", "http://localhost/", ""),
    ] {
        let path = socket_path(name);
        let program = Program::start(name, &[("UNIX_SOCKET", path.to_str().unwrap())]);
        assert_eq!(program.announced(), &Announced::Unix(path.clone()));
        let out = Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}", "--unix-socket"])
            .arg(&path)
            .arg(url)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        let (body, code) = out.rsplit_once('\n').unwrap();
        assert_eq!(code, "200", "{name}: {out}");
        assert!(body.contains(expect), "{name}: {out}");
    }
}

/// A supervisor (Python) the way systemd starts a program: `make_socket`
/// leaves a socket in `s`, which goes to descriptor 3 with `LISTEN_FDS=1`
/// and `LISTEN_PID` naming the program, which is then exec'd.
fn supervisor(make_socket: &str, program: &str) -> Command {
    let script = format!(
        r#"
import os, socket, sys
{make_socket}
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[1], [sys.argv[1]])
"#
    );
    let mut command = Command::new("python3");
    command.arg("-c").arg(script).arg(example_path(program));
    command
}

/// Starts example `name` socket-activated on a listening TCP socket the
/// supervisor bound.
fn socket_activated(name: &str, env: &[(&str, &str)]) -> (std::process::Child, String) {
    let listening = r#"
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(128)
sys.stderr.write("bound %d\n" % s.getsockname()[1]); sys.stderr.flush()
"#;
    let mut child = supervisor(listening, name)
        .env("PORT", "1") // must be ignored: the inherited socket wins
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut bound = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut bound)
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = bound.trim().strip_prefix("bound ").unwrap().to_owned();
    assert!(
        line.trim().ends_with(&format!("127.0.0.1:{port}")),
        "announced {line:?}, supervisor bound {port}"
    );
    (child, line.trim().to_owned())
}

#[test]
fn examples_serve_an_inherited_socket_plain_and_tls() {
    let (mut child, line) = socket_activated("hello", &[]);
    let addr = line
        .strip_prefix("listening on http://")
        .unwrap()
        .parse()
        .unwrap();
    let mut reader = ResponseReader::new(connect(addr).unwrap());
    reader
        .get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(reader.read_response(false).unwrap().text(), "Hello, World!");
    let _ = child.kill();
    let _ = child.wait();

    let ca = TestCa::new("activation");
    let cert = ca.issue("server", &["localhost"]);
    let (chain, key) = (
        cert.chain_file.display().to_string(),
        cert.key_file.display().to_string(),
    );
    let (mut child, line) =
        socket_activated("framework_tour", &[("TLS_CERT", &chain), ("TLS_KEY", &key)]);
    let addr = line
        .strip_prefix("listening on https://")
        .unwrap()
        .parse()
        .unwrap();
    let mut tls = tls_connect(addr, "localhost", ca.client_config()).unwrap();
    tls.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(
        ResponseReader::new(tls)
            .read_response(false)
            .unwrap()
            .text(),
        "Hello, World!"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn without_listen_fds_there_is_nothing_to_inherit() {
    // The test process itself was not socket-activated.
    if std::env::var_os("LISTEN_FDS").is_none() {
        assert!(Listener::from_systemd().unwrap().is_none());
    }
}

#[test]
fn an_inherited_socket_that_is_not_listening_is_refused() {
    // systemd's Accept=yes passes a connected socket: serving it would make
    // every accept fail. The example must say so and stop.
    let mut child = supervisor("s, peer = socket.socketpair()", "hello")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a regression would serve the socket instead of exiting.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > give_up {
            let _ = child.kill();
            panic!("the example served a socket that is not listening");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a listening stream socket"), "{stderr}");
    assert!(out.stdout.is_empty(), "announced anyway");
}
