//! Streaming replies from ordinary handlers, over real sockets: framing
//! (chunked on HTTP/1.1, to the close on HTTP/1.0), backpressure on the
//! producer, a client leaving noticed while the stream waits, producers
//! that fail, a graceful shutdown the producer hears of, HEAD, `Read`
//! bodies, and middleware seeing the end of the stream.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use turnstile::extract::RequestParts;
use turnstile::middleware::{Finished, Middleware};
use turnstile::stream::BodySender;
use turnstile::{App, Response};
use turnstile_core::{Server, ServerHandle};
use turnstile_suite::raw::{connect, ResponseReader};

/// The CSV line for row `i`.
fn row(i: u64) -> String {
    format!("{i},user {i},{}\n", i * 7 % 1000)
}

/// Records how every response ended.
#[derive(Clone, Default)]
struct Ends(Arc<Mutex<Vec<(String, Finished)>>>);

impl Middleware for Ends {
    fn done(&self, parts: &RequestParts, finished: &Finished) {
        self.0
            .lock()
            .unwrap()
            .push((parts.request().path().to_owned(), *finished));
    }
}

impl Ends {
    fn wait_for(&self, path: &str) -> Finished {
        let give_up = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some((_, f)) = self.0.lock().unwrap().iter().find(|(p, _)| p == path) {
                return *f;
            }
            assert!(Instant::now() < give_up, "{path} never finished");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

struct Fixture {
    server: ServerHandle,
    ends: Ends,
    /// Bytes the `/endless` producer managed to queue.
    produced: Arc<AtomicU64>,
    /// What happened to the `/held` sender: closed noticed, draining seen.
    held: mpsc::Receiver<&'static str>,
}

fn serve() -> Fixture {
    let ends = Ends::default();
    let produced = Arc::new(AtomicU64::new(0));
    let counter = produced.clone();
    let (held_tx, held) = mpsc::channel();
    let held_tx = Arc::new(Mutex::new(held_tx));
    let app = App::new()
        .wrap(ends.clone())
        .get(
            "/csv/:rows",
            |turnstile::extract::Path(rows): turnstile::extract::Path<u64>| {
                Response::stream(move |tx| {
                    for i in 0..rows {
                        tx.send(row(i))?;
                    }
                    Ok(())
                })
                .with_header("content-type", "text/csv")
            },
        )
        .get("/endless", move || {
            let counter = counter.clone();
            Response::stream(move |tx| {
                let block = vec![b'x'; 16 * 1024];
                loop {
                    tx.send(block.clone())?;
                    counter.fetch_add(block.len() as u64, Ordering::SeqCst);
                }
            })
        })
        .get("/fails", || {
            Response::stream(|tx| {
                tx.send(b"partial ".to_vec())?;
                Err(std::io::Error::other("the database went away"))
            })
        })
        .get("/panics", || {
            Response::stream(|tx| {
                tx.send(b"partial ".to_vec())?;
                panic!("a producer bug, on purpose");
            })
        })
        .get("/held", move || {
            // One line now, then nothing until the client leaves or the
            // server drains.
            let (response, tx) = Response::channel(1024);
            let report = held_tx.lock().unwrap().clone();
            std::thread::spawn(move || hold(tx, report));
            response
        })
        .get("/handler-sends", || {
            // The handler itself sends more than the capacity before
            // returning: it must not block its event loop.
            let (response, tx) = Response::channel(16);
            tx.send(vec![b'a'; 64]).unwrap();
            tx.send(vec![b'b'; 64]).unwrap();
            response
        })
        .get("/clone-panics", || {
            Response::stream(|tx| {
                tx.send(b"part one ".to_vec())?;
                let helper = tx.clone();
                let _ = std::thread::spawn(move || {
                    let _keep = helper;
                    panic!("a helper bug, on purpose");
                })
                .join();
                Ok(())
            })
        })
        .get("/reader", || {
            Response::reader(std::io::Cursor::new(
                (0..100_000u64).map(row).collect::<String>(),
            ))
        });
    let server = app
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap();
    Fixture {
        server,
        ends,
        produced,
        held,
    }
}

fn hold(tx: BodySender, report: mpsc::Sender<&'static str>) {
    tx.send(b"first line\n".to_vec()).unwrap();
    let give_up = Instant::now() + Duration::from_secs(10);
    while Instant::now() < give_up {
        if tx.is_closed() {
            let _ = report.send("closed");
            return;
        }
        if tx.is_draining() {
            let _ = tx.send(b"goodbye\n".to_vec());
            let _ = report.send("draining");
            return; // dropping the sender ends the body
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = report.send("neither");
}

fn get(addr: SocketAddr, path: &str, version: &str) -> ResponseReader<std::net::TcpStream> {
    let mut stream = connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(format!("GET {path} {version}\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    ResponseReader::new(stream)
}

#[test]
fn a_streamed_csv_arrives_whole_chunked_and_logged_at_its_end() {
    let f = serve();
    let addr = f.server.local_addr();
    let rows = 200_000;
    let expected: String = (0..rows).map(row).collect();
    let mut reader = get(addr, &format!("/csv/{rows}"), "HTTP/1.1");
    let response = reader.read_response(false).unwrap();
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.header("content-type"), Some("text/csv"));
    assert!(response.header("content-length").is_none());
    assert!(response.text() == expected, "the stream differs");
    let finished = f.ends.wait_for(&format!("/csv/{rows}"));
    assert_eq!(finished.status.map(|s| s.as_u16()), Some(200));
    assert_eq!(finished.body_bytes, Some(expected.len() as u64));
    assert!(finished.complete);
    // The connection is kept for the next request.
    reader
        .get_mut()
        .write_all(b"GET /csv/2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(
        reader.read_response(false).unwrap().text(),
        "0,user 0,0\n1,user 1,7\n"
    );
}

#[test]
fn http_1_0_gets_the_stream_delimited_by_the_close() {
    let f = serve();
    let mut reader = get(f.server.local_addr(), "/csv/1000", "HTTP/1.0");
    let all = reader.read_to_close().unwrap();
    let text = String::from_utf8(all).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(!head.to_lowercase().contains("transfer-encoding"), "{head}");
    assert_eq!(body, (0..1000).map(row).collect::<String>());
}

#[test]
fn a_slow_client_holds_the_producer_back_and_its_leaving_stops_it() {
    let f = serve();
    let addr = f.server.local_addr();
    let mut reader = get(addr, "/endless", "HTTP/1.1");
    // Read a little, then stop reading.
    let mut first = [0u8; 1024];
    reader.get_mut().read_exact(&mut first).unwrap();
    let mut last = 0;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(20));
        let now = f.produced.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        last = now;
    }
    let stalled = f.produced.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        f.produced.load(Ordering::SeqCst),
        stalled,
        "the producer ran on"
    );
    // Socket buffers plus the stream's 64 KiB: nowhere near unbounded.
    assert!(
        stalled < 32 << 20,
        "{stalled} bytes produced for a stalled client"
    );
    // The client leaves: the producer's next send fails, the log says cut.
    drop(reader);
    let finished = f.ends.wait_for("/endless");
    assert!(!finished.complete);
    let settled = f.produced.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    assert!(f.produced.load(Ordering::SeqCst) <= settled + 16 * 1024);
}

#[test]
fn a_client_leaving_a_waiting_stream_is_noticed_at_once() {
    let f = serve();
    let mut reader = get(f.server.local_addr(), "/held", "HTTP/1.1");
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.windows(11).any(|w| w == b"first line\n") {
        let n = reader.get_mut().read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    // The stream now waits for its producer; the client closes.
    let left = Instant::now();
    drop(reader);
    assert_eq!(
        f.held.recv_timeout(Duration::from_secs(5)).unwrap(),
        "closed"
    );
    assert!(
        left.elapsed() < Duration::from_secs(1),
        "{:?}",
        left.elapsed()
    );
    assert!(!f.ends.wait_for("/held").complete);
}

#[test]
fn a_producer_that_fails_or_panics_cuts_the_response() {
    let f = serve();
    for path in ["/fails", "/panics"] {
        let mut reader = get(f.server.local_addr(), path, "HTTP/1.1");
        let outcome = reader.read_response(false);
        assert!(outcome.is_err(), "{path}: a cut stream looked complete");
        let finished = f.ends.wait_for(path);
        assert!(!finished.complete, "{path}");
    }
    // The worker goes on.
    let response = get(f.server.local_addr(), "/csv/1", "HTTP/1.1")
        .read_response(false)
        .unwrap();
    assert_eq!(response.text(), "0,user 0,0\n");
}

#[test]
fn a_graceful_shutdown_lets_the_producer_end_the_stream_cleanly() {
    let f = serve();
    let mut reader = get(f.server.local_addr(), "/held", "HTTP/1.1");
    let mut first = [0u8; 64];
    let _ = reader.get_mut().read(&mut first).unwrap();
    let started = Instant::now();
    f.server.shutdown(Duration::from_secs(10));
    assert_eq!(
        f.held.recv_timeout(Duration::from_secs(5)).unwrap(),
        "draining"
    );
    let mut rest = Vec::new();
    reader.get_mut().read_to_end(&mut rest).unwrap();
    let whole = [&first[..], &rest[..]].concat();
    let text = String::from_utf8_lossy(&whole);
    assert!(text.contains("first line\n"), "{text}");
    assert!(text.contains("goodbye\n"), "{text}");
    assert!(
        text.ends_with("0\r\n\r\n"),
        "the stream was not ended: {text}"
    );
    f.server.join();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn head_and_reader_bodies() {
    let f = serve();
    let addr = f.server.local_addr();
    let mut stream = connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(
            b"HEAD /endless HTTP/1.1\r\nHost: x\r\n\r\nGET /reader HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
    let mut reader = ResponseReader::new(stream);
    let head = reader.read_response(true).unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let body = reader.read_response(false).unwrap();
    assert!(body.text() == (0..100_000u64).map(row).collect::<String>());
    // The HEAD never started its producer.
    assert_eq!(f.produced.load(Ordering::SeqCst), 0);
}

#[test]
fn a_handler_may_send_before_returning_and_a_helper_panic_cuts_the_body() {
    let f = serve();
    let addr = f.server.local_addr();
    let response = get(addr, "/handler-sends", "HTTP/1.1")
        .read_response(false)
        .unwrap();
    assert_eq!(response.body, [vec![b'a'; 64], vec![b'b'; 64]].concat());
    // One of two senders panicked; the producer itself returned Ok: the
    // body is still cut, not complete.
    assert!(get(addr, "/clone-panics", "HTTP/1.1")
        .read_response(false)
        .is_err());
    assert!(!f.ends.wait_for("/clone-panics").complete);
}

#[test]
fn a_cut_close_delimited_body_ends_in_a_reset_not_a_clean_close() {
    let f = serve();
    let mut reader = get(f.server.local_addr(), "/fails", "HTTP/1.0");
    let mut out = Vec::new();
    let end = reader.get_mut().read_to_end(&mut out);
    // HTTP/1.0 reads to the close: a clean FIN would make "partial " look
    // like the whole body.
    assert!(
        end.is_err(),
        "cut body ended cleanly: {:?}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn a_stream_dropped_before_it_started_releases_its_producer() {
    // A deferred reply that comes too late (the route timed out first)
    // carries a channel nobody will read: its sender must learn that.
    let (tx_out, rx_out) = mpsc::channel();
    let tx_out = Arc::new(Mutex::new(tx_out));
    let app = App::new().route_with(
        &[turnstile::Method::Get],
        "/late",
        move |defer: turnstile::Defer| {
            let tx_out = tx_out.lock().unwrap().clone();
            let later = defer.later();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                let (response, tx) = Response::channel(8);
                defer.complete(response);
                // Past the capacity: this would wait for ever if the
                // dropped response did not close the channel.
                let outcome = tx.send(vec![0u8; 64]).and_then(|_| tx.send(vec![0u8; 64]));
                let _ = tx_out.send(outcome.is_err());
            });
            later
        },
        turnstile::RouteSettings::default().timeout(Duration::from_millis(50)),
    );
    let server = app
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap();
    let response = get(server.local_addr(), "/late", "HTTP/1.1")
        .read_response(false)
        .unwrap();
    assert_eq!(response.status, 503);
    assert_eq!(rx_out.recv_timeout(Duration::from_secs(5)), Ok(true));
}

#[test]
fn stream_producers_have_a_limit_and_past_it_the_answer_is_a_prompt_503() {
    let app = App::new()
        .blocking_pool(4, 16)
        .stream_producers(2)
        .get("/endless", || {
            Response::stream(|tx| loop {
                tx.send(vec![b'x'; 16 * 1024])?;
            })
        });
    let server = app
        .serve_on(Server::bind("127.0.0.1:0").unwrap().workers(1))
        .unwrap();
    let addr = server.local_addr();
    // Two clients that never read hold both producers.
    let mut stalled: Vec<_> = (0..2).map(|_| get(addr, "/endless", "HTTP/1.1")).collect();
    for reader in &mut stalled {
        let mut first = [0u8; 64];
        reader.get_mut().read_exact(&mut first).unwrap();
    }
    let started = Instant::now();
    let refused = get(addr, "/endless", "HTTP/1.1")
        .read_response(false)
        .unwrap();
    assert_eq!(refused.status, 503);
    assert!(started.elapsed() < Duration::from_secs(2));
    // One leaves; its producer's next send fails and frees the place.
    drop(stalled.pop());
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let mut reader = get(addr, "/endless", "HTTP/1.1");
        let mut head = [0u8; 15];
        reader.get_mut().read_exact(&mut head).unwrap();
        if &head == b"HTTP/1.1 200 OK" {
            break;
        }
        assert!(Instant::now() < give_up, "the freed place never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
}
