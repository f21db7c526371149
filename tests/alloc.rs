//! The raw core answers a plain response without touching the heap once a
//! connection is warm: every allocation in the process is counted while a
//! client sends requests, one at a time and pipelined.
//!
//! Runs without libtest (`harness = false`) so no other thread allocates
//! while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};

use turnstile_core::{Control, Encoder, Handler, Next, Request, Response, Server};

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
    fn on_response(&mut self, res: &mut Response) -> Next {
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

const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";

/// Sends `depth` requests per write, `rounds` times, reading every response
/// into a fixed buffer (no allocation on this side either).
fn drive(stream: &mut TcpStream, batch: &[u8], depth: usize, rounds: usize) -> io::Result<()> {
    let mut buf = [0u8; 64 * 1024];
    for _ in 0..rounds {
        stream.write_all(&batch[..REQUEST.len() * depth])?;
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

fn main() -> io::Result<()> {
    let server = Server::bind("127.0.0.1:0")?
        .workers(1)
        .serve(|_: Control| Hello)?;
    let mut stream = TcpStream::connect(server.local_addr())?;
    stream.set_nodelay(true)?;
    let mut batch = Vec::new();
    for _ in 0..16 {
        batch.extend_from_slice(REQUEST);
    }
    let mut failures = 0;
    for (name, depth) in [("one at a time", 1), ("pipelined 16 deep", 16)] {
        drive(&mut stream, &batch, depth, 200)?; // warm up pools and buffers
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        drive(&mut stream, &batch, depth, 1000)?;
        let allocations = ALLOCATIONS.load(Ordering::SeqCst) - before;
        let requests = depth * 1000;
        if allocations == 0 {
            println!("{name}: 0 allocations for {requests} requests");
        } else {
            println!("{name}: {allocations} allocations for {requests} requests (want 0)");
            failures += 1;
        }
    }
    drop(stream);
    server.shutdown(std::time::Duration::ZERO);
    server.join();
    println!("{} passed, {failures} failed", 2 - failures);
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}
