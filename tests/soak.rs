//! Soak: a bounded mix of normal, pipelined, slow, resetting and malformed
//! clients against the framework tour and the todo app, run as programs,
//! for `SOAK_SECS` seconds (default 120; `scripts/soak` runs 30 minutes).
//! Every good request must be answered correctly, every malformed one
//! refused cleanly, no todo write may be lost, and each server must end
//! with the descriptors it started with and a bounded RSS growth.

use std::io::{Read, Write};

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use turnstile_suite::program::Program;

use turnstile_suite::raw::{connect, ResponseReader};

/// Starts example `name` as the soak runs it.
fn start(name: &str, env: &[(&str, &str)]) -> Program {
    let mut all = vec![
        ("WORKERS", "2"),
        // Slow attackers are cut off within the run.
        ("HEADER_TIMEOUT_MS", "2000"),
    ];
    all.extend_from_slice(env);
    Program::start(name, &all)
}

/// Tallies shared by the client threads.
#[derive(Default)]
struct Tally {
    good: AtomicU64,
    refused: AtomicU64,
    cut: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 20 {
            failures.push(what);
        }
    }
}

/// One good request: what to send and what must come back.
struct Good {
    request: &'static [u8],
    status: u16,
    body_contains: &'static str,
}

const TOUR: &[Good] = &[
    Good { request: b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", status: 200, body_contains: "Hello, World!" },
    Good { request: b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n", status: 200, body_contains: "\"message\"" },
    Good { request: b"GET /api/users/1 HTTP/1.1\r\nHost: x\r\n\r\n", status: 200, body_contains: "admin" },
    Good { request: b"GET /api/search?q=soak&limit=2 HTTP/1.1\r\nHost: x\r\n\r\n", status: 200, body_contains: "soak result 2" },
    Good { request: b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\n\r\nuser=ann", status: 200, body_contains: "welcome, ann" },
    Good { request: b"GET /stream/50 HTTP/1.1\r\nHost: x\r\n\r\n", status: 200, body_contains: "line 50 of 50" },
    Good { request: b"GET /api/users/999999 HTTP/1.1\r\nHost: x\r\n\r\n", status: 404, body_contains: "" },
];

const TODO: &[Good] = &[
    Good {
        request: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        status: 200,
        body_contains: "<html",
    },
    Good {
        request: b"GET /static/app.js HTTP/1.1\r\nHost: x\r\n\r\n",
        status: 200,
        body_contains: "",
    },
    Good {
        request: b"GET /api/todos/1 HTTP/1.1\r\nHost: x\r\n\r\n",
        status: 200,
        body_contains: "\"id\":1",
    },
];

/// Malformed requests: each must get a 4xx answer (then a close), never a
/// 5xx, a hang or silence.
const MALFORMED: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /\x01 HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    b"POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"name\":]",
];

fn check(tally: &Tally, good: &Good, answer: std::io::Result<turnstile_suite::raw::RawResponse>) {
    match answer {
        Ok(res) if res.status == good.status && res.text().contains(good.body_contains) => {
            tally.good.fetch_add(1, Ordering::Relaxed);
        }
        Ok(res) => tally.fail(format!(
            "{:?}: got {} {:?}",
            String::from_utf8_lossy(good.request),
            res.status,
            res.text()
        )),
        Err(e) => tally.fail(format!("{:?}: {e}", String::from_utf8_lossy(good.request))),
    }
}

/// Runs the client mix against `addr` until `stop`.
fn load(
    addr: SocketAddr,
    goods: &'static [Good],
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    // Keep-alive clients, one request at a time.
    for seed in 0..2 {
        let (stop, tally) = (stop.clone(), tally.clone());
        threads.push(std::thread::spawn(move || {
            let mut turn = seed;
            while !stop.load(Ordering::Relaxed) {
                let Ok(stream) = connect(addr) else {
                    tally.fail("connect failed".into());
                    continue;
                };
                let mut reader = ResponseReader::new(stream);
                for _ in 0..50 {
                    let good = &goods[turn % goods.len()];
                    turn += 1;
                    if reader.get_mut().write_all(good.request).is_err() {
                        tally.fail("write failed".into());
                        break;
                    }
                    check(&tally, good, reader.read_response(false));
                }
            }
        }));
    }
    // Pipelined bursts of every good request.
    {
        let (stop, tally) = (stop.clone(), tally.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut stream) = connect(addr) else {
                    continue;
                };
                let burst: Vec<u8> = goods
                    .iter()
                    .flat_map(|g| g.request.iter().copied())
                    .collect();
                if stream.write_all(&burst).is_err() {
                    tally.fail("pipelined write failed".into());
                    continue;
                }
                let mut reader = ResponseReader::new(stream);
                for good in goods {
                    check(&tally, good, reader.read_response(false));
                }
            }
        }));
    }
    // Slow clients: drip a good request a few bytes at a time; and
    // stallers that never finish and must be cut off.
    {
        let (stop, tally) = (stop.clone(), tally.clone());
        threads.push(std::thread::spawn(move || {
            let mut turn = 0;
            let mut stallers: Vec<(TcpStream, Instant)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let good = &goods[turn % goods.len()];
                turn += 1;
                let Ok(mut stream) = connect(addr) else {
                    continue;
                };
                for piece in good.request.chunks(3) {
                    if stream.write_all(piece).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                check(
                    &tally,
                    good,
                    ResponseReader::new(stream).read_response(false),
                );
                if stallers.len() < 20 {
                    if let Ok(mut s) = connect(addr) {
                        let _ = s.write_all(b"GET /plaintext HTTP/1.1\r\nHo");
                        stallers.push((s, Instant::now()));
                    }
                }
                stallers.retain_mut(|(s, since)| {
                    if since.elapsed() < Duration::from_secs(3) {
                        return true;
                    }
                    // Past the head timeout: cut off with a 408 and a close.
                    let mut out = Vec::new();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let _ = s.read_to_end(&mut out);
                    if out.starts_with(b"HTTP/1.1 408") {
                        tally.cut.fetch_add(1, Ordering::Relaxed);
                    } else {
                        tally.fail(format!(
                            "a stalled head got {:?}",
                            String::from_utf8_lossy(&out)
                        ));
                    }
                    false
                });
            }
        }));
    }
    // Resetting and malformed clients.
    {
        let (stop, tally) = (stop.clone(), tally.clone());
        threads.push(std::thread::spawn(move || {
            let mut turn = 0usize;
            while !stop.load(Ordering::Relaxed) {
                turn += 1;
                let Ok(mut stream) = connect(addr) else {
                    continue;
                };
                if turn.is_multiple_of(2) {
                    let request = goods[turn % goods.len()].request;
                    let _ = stream.write_all(&request[..(turn % request.len()).max(1)]);
                    let socket = socket2::Socket::from(stream);
                    let _ = socket.set_linger(Some(Duration::ZERO));
                    continue;
                }
                let bad = MALFORMED[(turn / 2) % MALFORMED.len()];
                let _ = stream.write_all(bad);
                // One answer; the engine closes after it, the app's own 400
                // (bad JSON) may keep the connection.
                match ResponseReader::new(stream).read_response(false) {
                    Ok(res) if (400..500).contains(&res.status) => {
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        tally.fail(format!(
                            "malformed {:?} got {other:?}",
                            String::from_utf8_lossy(bad)
                        ));
                    }
                }
            }
        }));
    }
    threads
}

fn json_request(method: &str, path: &str, body: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// Writes todos until `stop`; returns the ids it was told were stored,
/// with their titles.
fn todo_writer(
    addr: SocketAddr,
    writer: usize,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Vec<(u64, String)> {
    let mut stored = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = connect(addr) else { continue };
        let mut reader = ResponseReader::new(stream);
        for _ in 0..20 {
            n += 1;
            let title = format!("soak {writer}-{n}");
            let request = json_request("POST", "/api/todos", &format!("{{\"title\":\"{title}\"}}"));
            if reader.get_mut().write_all(&request).is_err() {
                tally.fail("todo write failed".into());
                break;
            }
            match reader.read_response(false) {
                Ok(res) if res.status == 201 => {
                    let todo: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
                    stored.push((todo["id"].as_u64().unwrap(), title));
                    tally.good.fetch_add(1, Ordering::Relaxed);
                }
                other => tally.fail(format!("todo create: {other:?}")),
            }
        }
    }
    stored
}

fn soak_secs() -> u64 {
    std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120)
}

#[test]
fn soak_framework_tour_and_todo() {
    let secs = soak_secs();
    let db = std::env::temp_dir().join(format!("turnstile-soak-{}.db", std::process::id()));
    remove_database(&db);
    let tour = start("framework_tour", &[]);
    let todo = start("todo", &[("DATABASE", db.to_str().unwrap())]);
    // Todo 1 exists for the read mix.
    let mut first = ResponseReader::new(connect(todo.addr()).unwrap());
    first
        .get_mut()
        .write_all(&json_request("POST", "/api/todos", "{\"title\":\"first\"}"))
        .unwrap();
    assert_eq!(first.read_response(false).unwrap().status, 201);
    drop(first);

    let baseline = [tour.fds(), todo.fds()];
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut threads = load(tour.addr(), TOUR, stop.clone(), tally.clone());
    threads.extend(load(todo.addr(), TODO, stop.clone(), tally.clone()));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (stop, tally, addr) = (stop.clone(), tally.clone(), todo.addr());
            std::thread::spawn(move || todo_writer(addr, w, stop, tally))
        })
        .collect();

    // Warm up for a tenth of the run, then watch RSS.
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(secs.div_ceil(10)));
    let warm = [tour.status_kib("VmRSS:"), todo.status_kib("VmRSS:")];
    let mut peak = warm;
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        peak = [
            peak[0].max(tour.status_kib("VmRSS:")),
            peak[1].max(todo.status_kib("VmRSS:")),
        ];
        eprintln!(
            "soak {:>4}s: good {} refused {} cut {} failures {} rss {:?} KiB",
            started.elapsed().as_secs(),
            tally.good.load(Ordering::Relaxed),
            tally.refused.load(Ordering::Relaxed),
            tally.cut.load(Ordering::Relaxed),
            tally.failures.lock().unwrap().len(),
            peak
        );
    }
    stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    let stored: Vec<(u64, String)> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();

    let failures = tally.failures.lock().unwrap();
    assert!(failures.is_empty(), "failed good requests: {failures:#?}");
    assert!(
        tally.good.load(Ordering::Relaxed) > 1000,
        "too little load to mean anything"
    );
    assert!(tally.refused.load(Ordering::Relaxed) > 0 && tally.cut.load(Ordering::Relaxed) > 0);

    // Zero lost todo writes: every stored id reads back with its title.
    assert!(!stored.is_empty());
    // Pipelined 64 at a time: a 30-minute run stores millions.
    let mut reader = ResponseReader::new(connect(todo.addr()).unwrap());
    for batch in stored.chunks(64) {
        let requests: String = batch
            .iter()
            .map(|(id, _)| format!("GET /api/todos/{id} HTTP/1.1\r\nHost: x\r\n\r\n"))
            .collect();
        reader.get_mut().write_all(requests.as_bytes()).unwrap();
        for (id, title) in batch {
            let res = reader.read_response(false).unwrap();
            assert_eq!(res.status, 200, "todo {id} was acknowledged but is missing");
            let todo: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
            assert_eq!(todo["id"].as_u64(), Some(*id));
            assert_eq!(todo["title"].as_str(), Some(title.as_str()));
        }
    }
    drop(reader);

    // Every connection closes: the descriptors return to the baseline.
    let deadline = Instant::now() + Duration::from_secs(15);
    while tour.fds() > baseline[0] || todo.fds() > baseline[1] {
        assert!(
            Instant::now() < deadline,
            "descriptors leaked: tour {} -> {}, todo {} -> {}",
            baseline[0],
            tour.fds(),
            baseline[1],
            todo.fds()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // RSS after warm-up grows within a small bound (pools and caches
    // settle early; a per-request leak grows without end).
    for (i, name) in ["framework_tour", "todo"].iter().enumerate() {
        let growth = peak[i].saturating_sub(warm[i]);
        eprintln!("{name}: RSS warm {} KiB, peak {} KiB", warm[i], peak[i]);
        assert!(
            growth < 16 * 1024,
            "{name}: RSS grew by {growth} KiB after warm-up"
        );
    }
    // The database's write-ahead log is checkpointed and reused, not grown
    // without end (it grew by a gigabyte a minute once).
    let wal = std::fs::metadata(format!("{}-wal", db.display())).map_or(0, |m| m.len());
    eprintln!("todo: WAL {} KiB", wal / 1024);
    assert!(wal < 64 << 20, "the todo WAL grew to {wal} bytes");
    remove_database(&db);
}

fn remove_database(db: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
