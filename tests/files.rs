//! Static files over real sockets: content types, validators and
//! preconditions, ranges (single, multipart, unsatisfiable, If-Range),
//! precompressed siblings by Accept-Encoding, directories, HEAD, traversal
//! attempts in several encodings, symlinks out of the root, a large file
//! streamed with bounded memory, a file truncated while served, and curl.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use turnstile::files::{ServeDir, ServeFile};
use turnstile::negotiate::Coding;
use turnstile::App;
use turnstile_core::{Server, ServerHandle};
use turnstile_suite::raw::{connect, exchange, RawResponse};

struct Site {
    root: PathBuf,
    handle: Option<ServerHandle>,
    addr: SocketAddr,
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown(std::time::Duration::from_secs(5));
            handle.join();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn site(name: &str) -> Site {
    let base = std::env::temp_dir().join(format!("turnstile-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("public");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>").unwrap();
    std::fs::write(root.join("app.js"), "console.log('plain')").unwrap();
    std::fs::write(root.join("app.js.br"), "BROTLI").unwrap();
    std::fs::write(root.join("app.js.gz"), "GZIP").unwrap();
    std::fs::write(root.join("data.bin"), content(10_000)).unwrap();
    std::fs::write(root.join("a b.txt"), "spaced").unwrap();
    std::fs::write(root.join(".env"), "SECRET=1").unwrap();
    std::fs::write(base.join("outside.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(base.join("outside.txt"), root.join("escape.txt")).unwrap();
    std::os::unix::fs::symlink(root.join("app.js"), root.join("inside-link.js")).unwrap();
    std::fs::create_dir_all(base.join("secret-dir")).unwrap();
    std::fs::write(base.join("secret-dir/index.html"), "outside").unwrap();
    std::os::unix::fs::symlink(base.join("secret-dir"), root.join("outdir")).unwrap();
    let app = App::new()
        .files(
            "/static",
            ServeDir::new(&root)
                .precompressed(&[Coding::Brotli, Coding::Gzip])
                .cache_control("public, max-age=60"),
        )
        .file("/favicon.ico", ServeFile::new(root.join("data.bin")))
        .get("/", || "api");
    let handle = app
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap();
    let addr = handle.local_addr();
    Site {
        root: base,
        handle: Some(handle),
        addr,
    }
}

fn get(site: &Site, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    request(site, "GET", path, headers)
}

fn request(site: &Site, method: &str, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut text = format!("{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    exchange(site.addr, text.as_bytes()).unwrap()
}

#[test]
fn files_with_types_validators_and_directories() {
    let site = site("basics");
    let r = get(&site, "/static/app.js", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "console.log('plain')");
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    assert_eq!(r.header("vary"), Some("accept-encoding"));
    assert!(r.header("etag").is_some_and(|e| e.starts_with('"')));
    assert!(r
        .header("last-modified")
        .is_some_and(|d| d.ends_with("GMT")));

    assert_eq!(get(&site, "/static/a%20b.txt", &[]).text(), "spaced");
    assert_eq!(get(&site, "/static/", &[]).text(), "<h1>home</h1>");
    assert_eq!(get(&site, "/static/docs/", &[]).text(), "<h1>docs</h1>");
    let r = get(&site, "/static/docs?x=1", &[]);
    assert_eq!(
        (r.status, r.header("location")),
        (301, Some("/static/docs/?x=1"))
    );
    let r = get(&site, "/static", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/static/")));
    assert_eq!(get(&site, "/static/missing.txt", &[]).status, 404);
    assert_eq!(get(&site, "/favicon.ico", &[]).body, content(10_000));
    assert_eq!(get(&site, "/", &[]).text(), "api");

    // HEAD: the same head, no body (read to the close, so a body sent by
    // mistake would show).
    let (head, rest) = raw(
        &site,
        "HEAD /static/data.bin HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length: 10000\r\n"), "{head}");
    assert!(rest.is_empty(), "{} bytes after a HEAD answer", rest.len());
    // A file name with a slash after it is not a directory.
    assert_eq!(get(&site, "/static/app.js/", &[]).status, 404);
    // Other methods are not files' business.
    assert_eq!(
        request(&site, "POST", "/static/app.js", &[("content-length", "0")]).status,
        405
    );
}

#[test]
fn preconditions() {
    let site = site("conditions");
    let first = get(&site, "/static/data.bin", &[]);
    let etag = first.header("etag").unwrap().to_owned();
    let date = first.header("last-modified").unwrap().to_owned();

    let (head, rest) = raw(
        &site,
        &format!("GET /static/data.bin HTTP/1.1\r\nhost: x\r\nif-none-match: {etag}\r\nconnection: close\r\n\r\n"),
    );
    assert!(head.starts_with("http/1.1 304"), "{head}");
    assert!(head.contains(&format!("etag: {etag}\r\n")), "{head}");
    assert!(
        head.contains("cache-control: public, max-age=60\r\n"),
        "{head}"
    );
    // No body, and no length but the one a 200 would have.
    assert!(rest.is_empty());
    assert!(
        !head.contains("content-length") || head.contains("content-length: 10000\r\n"),
        "{head}"
    );
    // A list split over two lines is one list.
    let r = get(
        &site,
        "/static/data.bin",
        &[("if-match", "\"other\""), ("if-match", &etag)],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        get(&site, "/static/data.bin", &[("if-modified-since", &date)]).status,
        304
    );
    assert_eq!(
        get(
            &site,
            "/static/data.bin",
            &[("if-none-match", "\"other\""), ("if-modified-since", &date)]
        )
        .status,
        200
    );
    assert_eq!(
        get(&site, "/static/data.bin", &[("if-match", "\"other\"")]).status,
        412
    );
    assert_eq!(
        get(&site, "/static/data.bin", &[("if-match", &etag)]).status,
        200
    );
    assert_eq!(
        get(
            &site,
            "/static/data.bin",
            &[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]
        )
        .status,
        412
    );
}

#[test]
fn ranges() {
    let site = site("ranges");
    let data = content(10_000);
    let r = get(&site, "/static/data.bin", &[("range", "bytes=100-199")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 100-199/10000"));
    assert_eq!(r.body, &data[100..200]);
    let r = get(&site, "/static/data.bin", &[("range", "bytes=-10")]);
    assert_eq!(r.body, &data[9990..]);

    let r = get(
        &site,
        "/static/data.bin",
        &[("range", "bytes=0-1,5000-5002")],
    );
    assert_eq!(r.status, 206);
    let ct = r.header("content-type").unwrap();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect(ct);
    let part = |start: usize, end: usize| {
        let mut bytes = format!(
            "--{boundary}\r\ncontent-type: application/octet-stream\r\ncontent-range: bytes {start}-{end}/10000\r\n\r\n"
        )
        .into_bytes();
        bytes.extend_from_slice(&data[start..=end]);
        bytes
    };
    let mut want = part(0, 1);
    want.extend_from_slice(b"\r\n");
    want.extend_from_slice(&part(5000, 5002));
    want.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(r.body, want);
    assert_eq!(
        r.header("content-length"),
        Some(want.len().to_string().as_str())
    );

    let r = get(&site, "/static/data.bin", &[("range", "bytes=20000-")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */10000"));
    assert_eq!(r.header("cache-control"), None);
    // An error about a precompressed variant is not itself compressed.
    let r = get(
        &site,
        "/static/app.js",
        &[("range", "bytes=999-"), ("accept-encoding", "br")],
    );
    assert_eq!((r.status, r.header("content-encoding")), (416, None));
    assert!(r
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));

    // If-Range: a stale tag gets the whole file.
    let etag = get(&site, "/static/data.bin", &[])
        .header("etag")
        .unwrap()
        .to_owned();
    let r = get(
        &site,
        "/static/data.bin",
        &[("range", "bytes=0-9"), ("if-range", &etag)],
    );
    assert_eq!((r.status, r.body.len()), (206, 10));
    let r = get(
        &site,
        "/static/data.bin",
        &[("range", "bytes=0-9"), ("if-range", "\"stale\"")],
    );
    assert_eq!((r.status, r.body.len()), (200, 10_000));
    // A malformed Range is ignored.
    assert_eq!(
        get(&site, "/static/data.bin", &[("range", "bytes=9-1")]).status,
        200
    );
}

#[test]
fn precompressed_siblings_by_accept_encoding() {
    let site = site("precompressed");
    let r = get(&site, "/static/app.js", &[("accept-encoding", "gzip, br")]);
    assert_eq!(
        (r.text().as_str(), r.header("content-encoding")),
        ("BROTLI", Some("br"))
    );
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let r = get(
        &site,
        "/static/app.js",
        &[("accept-encoding", "gzip;q=1, br;q=0.5")],
    );
    assert_eq!(
        (r.text().as_str(), r.header("content-encoding")),
        ("GZIP", Some("gzip"))
    );
    let r = get(&site, "/static/app.js", &[("accept-encoding", "deflate")]);
    assert_eq!(
        (r.text().as_str(), r.header("content-encoding")),
        ("console.log('plain')", None)
    );
    let r = get(&site, "/static/app.js", &[]);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(
        get(
            &site,
            "/static/app.js",
            &[("accept-encoding", "identity;q=0")]
        )
        .status,
        406
    );
    // Each variant has its own tag.
    let br = get(&site, "/static/app.js", &[("accept-encoding", "br")])
        .header("etag")
        .unwrap()
        .to_owned();
    let plain = get(&site, "/static/app.js", &[])
        .header("etag")
        .unwrap()
        .to_owned();
    assert_ne!(br, plain);
    // A file without siblings is sent as it is.
    let r = get(
        &site,
        "/static/data.bin",
        &[("accept-encoding", "br, gzip")],
    );
    assert_eq!((r.status, r.header("content-encoding")), (200, None));
}

#[test]
fn nothing_outside_the_root_and_nothing_hidden() {
    let site = site("traversal");
    for path in [
        "/static/../outside.txt",
        "/static/%2e%2e/outside.txt",
        "/static/%2E%2E%2Foutside.txt",
        "/static/..%2foutside.txt",
        "/static/..%5coutside.txt",
        "/static/.%2e/outside.txt",
        "/static/docs/../../outside.txt",
        "/static/%00",
        "/static/app.js%00.png",
    ] {
        let r = get(&site, path, &[]);
        assert!(matches!(r.status, 400 | 404), "{path}: {}", r.status);
        assert!(!r.text().contains("outside"), "{path}");
    }
    for path in [
        "/static/.env",
        "/static/%2eenv",
        "/static/escape.txt",
        "/static/docs%2findex.html",
    ] {
        let r = get(&site, path, &[]);
        assert_eq!(r.status, 404, "{path}");
        assert!(
            !r.text().contains("SECRET") && !r.text().contains("outside"),
            "{path}"
        );
    }
    // A directory outside, through a symlink, is not even redirected to.
    assert_eq!(get(&site, "/static/outdir", &[]).status, 404);
    assert_eq!(get(&site, "/static/outdir/", &[]).status, 404);
    // A FIFO is never opened (opening it would wait for a writer, on the
    // event loop): 404 at once, and the server goes on.
    let fifo = site.root.join("public/pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut stream = connect(site.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /static/pipe HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let r = turnstile_suite::raw::ResponseReader::new(stream)
        .read_response(false)
        .unwrap();
    assert_eq!(r.status, 404);
    // A symlink that stays inside is fine.
    assert_eq!(
        get(&site, "/static/inside-link.js", &[]).text(),
        "console.log('plain')"
    );
    // Mounted at the root: `//docs` is redirected to `/docs/`, never to
    // `//docs/` (a browser reads that as another host).
    let at_root = App::new().files("/", ServeDir::new(site.root.join("public")));
    let handle = at_root
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap();
    let r = exchange(
        handle.local_addr(),
        b"GET //docs HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!((r.status, r.header("location")), (301, Some("/docs/")));
    let r = exchange(
        handle.local_addr(),
        b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.text(), "<h1>home</h1>");
    handle.shutdown(std::time::Duration::from_secs(5));
    handle.join();
    // A device is not a file.
    let dev = App::new().files("/dev", ServeDir::new("/dev"));
    let handle = dev
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap();
    let r = exchange(
        handle.local_addr(),
        b"GET /dev/null HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.status, 404);
    handle.shutdown(std::time::Duration::from_secs(5));
    handle.join();
}

#[test]
fn a_large_sparse_file_streams_in_bounded_memory() {
    let site = site("large");
    let size: u64 = if std::env::var_os("CI").is_some() {
        256 << 20
    } else {
        1 << 30
    };
    let path = site.root.join("public/big.bin");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(size).unwrap();
    let rss_before = rss_kib();
    let mut stream = connect(site.addr).unwrap();
    stream
        .write_all(b"GET /static/big.bin HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    // Counted as it arrives: the client keeps nothing (it runs in this
    // process too, and the RSS measured is the server's).
    let (head, body_bytes, all_zero) = read_counting(&mut stream);
    assert!(head.contains(&format!("content-length: {size}")), "{head}");
    assert_eq!(body_bytes, size);
    assert!(all_zero);
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(
        grown < 10 * 1024,
        "RSS grew by {grown} KiB serving {size} bytes"
    );
}

/// Reads a response to the close (or a reset), keeping only its head:
/// the head, how many body bytes came, and whether they were all zero.
fn read_counting(stream: &mut std::net::TcpStream) -> (String, u64, bool) {
    use std::io::Read;
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    let mut body = 0u64;
    let mut zero = true;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        if body == 0 && !head.ends_with(b"\r\n\r\n") {
            head.extend_from_slice(chunk);
            match head.windows(4).position(|w| w == b"\r\n\r\n") {
                Some(end) => {
                    let extra = head.len() - (end + 4);
                    chunk = &buf[n - extra..n];
                    head.truncate(end + 4);
                }
                None => continue,
            }
        }
        body += chunk.len() as u64;
        zero &= chunk.iter().all(|&b| b == 0);
    }
    (
        String::from_utf8_lossy(&head).to_ascii_lowercase(),
        body,
        zero,
    )
}

#[test]
fn a_file_truncated_while_served_closes_the_connection() {
    let site = site("truncated");
    let path = site.root.join("public/shrinking.bin");
    // Larger than loopback's socket buffers can hold at once.
    const SIZE: u64 = 64 << 20;
    std::fs::File::create(&path).unwrap().set_len(SIZE).unwrap();
    let mut stream = connect(site.addr).unwrap();
    stream
        .write_all(b"GET /static/shrinking.bin HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    // Read a little, so the answer is under way, then cut the file.
    let mut first = [0u8; 4096];
    std::io::Read::read_exact(&mut stream, &mut first).unwrap();
    assert!(String::from_utf8_lossy(&first).contains(&format!("content-length: {SIZE}")));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let mut got = first.len() as u64;
    let mut buf = vec![0u8; 256 * 1024];
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    loop {
        match std::io::Read::read(&mut stream, &mut buf) {
            Ok(0) => break,
            Ok(n) => got += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the connection was neither finished nor closed: {e}"),
        }
    }
    // The connection was closed before the promised length (and not kept
    // alive for another request, which would have hung this loop).
    assert!(got < SIZE, "got {got} bytes");
}

#[test]
fn curl_downloads_ranges_and_conditionals() {
    if Command::new("curl").arg("--version").output().is_err() {
        panic!("curl is needed (scripts/test installs it)");
    }
    let site = site("curl");
    let url = format!("http://{}/static/data.bin", site.addr);
    let out = Command::new("curl")
        .args(["-s", "-r", "10-19", &url])
        .output()
        .unwrap();
    assert_eq!(out.stdout, &content(10_000)[10..20]);
    let stamp = site.root.join("public/data.bin");
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-z",
            stamp.to_str().unwrap(),
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "304");
    let js = format!("http://{}/static/app.js", site.addr);
    let out = Command::new("curl")
        .args(["-s", "-H", "accept-encoding: br", "-D", "-", &js])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(text.contains("content-encoding: br"), "{text}");
}

/// Sends `request` and reads to the close: the head as text, and every
/// byte after it.
fn raw(site: &Site, request: &str) -> (String, Vec<u8>) {
    use std::io::Read;
    let mut stream = connect(site.addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let rest = all.split_off(end);
    (String::from_utf8_lossy(&all).to_ascii_lowercase(), rest)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
