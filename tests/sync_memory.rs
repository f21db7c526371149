//! 100 MiB through the sync client and the sync server, each way, with
//! the process's peak RSS bounded. Alone in its test binary, so no other
//! test's threads or buffers count against the bound.

use std::io::{self, Read, Write};

use turnstile_core::sync::{self, Client, Request, Response};
use turnstile_core::{Method, Server, StatusCode};

/// A reader of `len` bytes of a fixed pattern, without holding them.
struct Pattern {
    len: u64,
    at: u64,
}

impl Read for Pattern {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = (out.len() as u64).min(self.len - self.at) as usize;
        for (i, byte) in out[..n].iter_mut().enumerate() {
            *byte = ((self.at + i as u64) % 251) as u8;
        }
        self.at += n as u64;
        Ok(n)
    }
}

fn pattern_sum(len: u64) -> u64 {
    (0..len).map(|i| i % 251).sum()
}

fn serve() -> turnstile_core::ServerHandle {
    let server = Server::bind("127.0.0.1:0").unwrap().workers(2);
    sync::Server::on(server)
        .threads(4)
        .serve(|mut request: Request, mut response: Response| {
            match (request.method(), request.path()) {
                (Method::Post, "/sum") => {
                    let (mut bytes, mut sum) = (0u64, 0u64);
                    let mut chunk = vec![0u8; 64 * 1024];
                    loop {
                        match request.read(&mut chunk) {
                            Ok(0) => break,
                            Ok(n) => {
                                bytes += n as u64;
                                sum += chunk[..n].iter().map(|b| u64::from(*b)).sum::<u64>();
                            }
                            Err(_) => return,
                        }
                    }
                    let _ = write!(response, "{bytes} {sum}");
                }
                (_, path) => {
                    let len: u64 = path.trim_start_matches("/stream/").parse().unwrap_or(0);
                    let _ = io::copy(&mut Pattern { len, at: 0 }, &mut response);
                }
            }
        })
        .unwrap()
}

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn one_hundred_mib_each_way_in_bounded_memory() {
    const LEN: u64 = 100 * 1024 * 1024;
    let server = serve();
    let base = format!("http://{}", server.local_addr());
    let client = Client::new().unwrap();
    let before = rss_kib("VmRSS:");

    // Upload through the sync client into the sync server.
    let response = client
        .post(&format!("{base}/sum"))
        .body_reader(Pattern { len: LEN, at: 0 }, None)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().unwrap(),
        format!("{LEN} {}", pattern_sum(LEN))
    );

    // Download from the sync server through the sync client.
    let mut response = client.get(&format!("{base}/stream/{LEN}")).unwrap();
    let (mut bytes, mut sum) = (0u64, 0u64);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = response.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        bytes += n as u64;
        sum += chunk[..n].iter().map(|b| u64::from(*b)).sum::<u64>();
    }
    assert_eq!((bytes, sum), (LEN, pattern_sum(LEN)));

    let after = rss_kib("VmRSS:");
    let peak = rss_kib("VmHWM:");
    eprintln!("RSS before {before} KiB, peak {peak} KiB, after {after} KiB");
    // Holding either body would add 100 MiB; the queues hold 64 KiB each.
    assert!(
        peak.saturating_sub(before) < 16 * 1024,
        "RSS grew from {before} KiB to a peak of {peak} KiB (now {after} KiB)"
    );
}
