//! Waking waiting requests from other threads, timeouts, and stale controls.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use turnstile_core::{ControlError, Next};
use turnstile_suite::raw::{connect, exchange, ResponseReader};

fn wait_for_controls(waiting: &support::Waiting, count: usize) -> Vec<turnstile_core::Control> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        {
            let mut w = waiting.lock().unwrap();
            if w.len() >= count {
                return w.drain(..).collect();
            }
        }
        assert!(Instant::now() < deadline, "requests never arrived");
        std::thread::yield_now();
    }
}

#[test]
fn wake_asks_the_handler_what_next() {
    let (server, waiting) = support::start(|s| s);
    let mut stream = connect(server.local_addr()).unwrap();
    stream
        .write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let control = wait_for_controls(&waiting, 1).pop().unwrap();
    let helper = std::thread::spawn(move || control.wake());
    assert_eq!(helper.join().unwrap(), Ok(()));
    let res = ResponseReader::new(stream).read_response(false).unwrap();
    assert_eq!(res.text(), "asked by on_wake");
}

#[test]
fn control_from_another_thread_resumes_the_request() {
    let (server, waiting) = support::start(|s| s);
    let mut stream = connect(server.local_addr()).unwrap();
    stream
        .write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let control = wait_for_controls(&waiting, 1).pop().unwrap();
    assert!(control.is_current());
    let helper = std::thread::spawn(move || control.ready(Next::write()));
    assert_eq!(helper.join().unwrap(), Ok(()));
    let res = ResponseReader::new(stream).read_response(false).unwrap();
    assert_eq!(res.text(), "woken");
}

#[test]
fn a_stale_control_is_refused_and_touches_nothing() {
    let (server, waiting) = support::start(|s| s.workers(1));
    let mut reader = ResponseReader::new(connect(server.local_addr()).unwrap());
    reader
        .get_mut()
        .write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let first = wait_for_controls(&waiting, 1).pop().unwrap();
    first.ready(Next::write()).unwrap();
    assert_eq!(reader.read_response(false).unwrap().text(), "woken");

    // The same connection (same slot) now waits in a second request.
    reader
        .get_mut()
        .write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let second = wait_for_controls(&waiting, 1).pop().unwrap();
    assert!(!first.is_current());
    assert_eq!(first.ready(Next::write()), Err(ControlError::Gone));
    assert_eq!(first.ready(Next::remove()), Err(ControlError::Gone));
    // The second request is still waiting: nothing answered it.
    reader
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(reader.read_response(false).is_err());
    reader
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    second.ready(Next::write()).unwrap();
    assert_eq!(reader.read_response(false).unwrap().text(), "woken");
}

#[test]
fn many_waiting_requests_woken_from_many_threads() {
    let (server, waiting) = support::start(|s| s);
    let addr = server.local_addr();
    let clients: Vec<_> = (0..50)
        .map(|_| {
            std::thread::spawn(move || {
                exchange(addr, b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n").unwrap()
            })
        })
        .collect();
    let controls = wait_for_controls(&waiting, 50);
    let wakers: Vec<_> = controls
        .into_iter()
        .map(|c| std::thread::spawn(move || c.ready(Next::write())))
        .collect();
    for w in wakers {
        assert_eq!(w.join().unwrap(), Ok(()));
    }
    for c in clients {
        assert_eq!(c.join().unwrap().text(), "woken");
    }
}

#[test]
fn an_expired_wait_calls_on_error_with_timeout() {
    let (server, _) = support::start(|s| s);
    let started = Instant::now();
    let res = exchange(
        server.local_addr(),
        b"GET /wait-timeout HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    assert_eq!(res.status, 504);
    assert_eq!(res.text(), "timed out");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(90) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[test]
fn controls_after_shutdown_say_stopped() {
    let (server, waiting) = support::start(|s| s);
    let mut stream = connect(server.local_addr()).unwrap();
    stream
        .write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let control = wait_for_controls(&waiting, 1).pop().unwrap();
    server.shutdown(Duration::ZERO);
    server.join();
    assert!(matches!(
        control.ready(Next::write()),
        Err(ControlError::Stopped | ControlError::Gone)
    ));
}
