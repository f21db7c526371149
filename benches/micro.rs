//! Micro benchmarks (criterion) of the pieces on every request's path:
//! head parsing and serialization, chunked decoding, route lookup on the
//! GitHub API table next to `matchit`, and JSON extraction in the
//! framework next to taking the body as bytes.
//!
//! ```text
//! cargo bench --bench micro               # everything
//! cargo bench --bench micro -- route      # one group
//! ```
//!
//! Figures move with the machine; compare the pairs within one run.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use turnstile::extract::Json;
use turnstile::App;
use turnstile_core::fuzzing::{self, HeadLimits};
use turnstile_core::local::LocalConnection;
use turnstile_core::ResponseHead;

mod github;

const SMALL_HEAD: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// What a browser sends for a page: a dozen fields, ~500 bytes.
const BROWSER_HEAD: &[u8] = b"GET /api/todos?done=false&limit=20 HTTP/1.1\r\n\
Host: localhost:3000\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36\r\n\
Accept: application/json, text/plain, */*\r\n\
Accept-Language: en-GB,en;q=0.9\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Referer: http://localhost:3000/\r\n\
Connection: keep-alive\r\n\
Sec-Fetch-Dest: empty\r\n\
Sec-Fetch-Mode: cors\r\n\
Sec-Fetch-Site: same-origin\r\n\
If-None-Match: \"3f2a9c\"\r\n\
Cookie: session=8b1c6f0e2d4a4c7e9f1a; theme=dark\r\n\r\n";

fn head_parsing(c: &mut Criterion) {
    let limits = HeadLimits::default();
    let mut group = c.benchmark_group("head_parse");
    for (name, head) in [("small", SMALL_HEAD), ("browser", BROWSER_HEAD)] {
        assert!(matches!(fuzzing::parse_request(head, &limits), Ok(Some(_))));
        group.throughput(Throughput::Bytes(head.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| fuzzing::parse_request(black_box(head), &limits))
        });
    }
    group.finish();
}

fn head_serialization(c: &mut Criterion) {
    let mut group = c.benchmark_group("head_serialize");
    let mut plain = ResponseHead::new();
    plain.set_content_length(13);
    plain
        .headers_mut()
        .set("content-type", "text/plain")
        .unwrap();
    let mut rich = ResponseHead::new();
    rich.set_content_length(2048);
    for (name, value) in [
        ("content-type", "application/json"),
        ("etag", "\"3f2a9c\""),
        ("cache-control", "no-cache"),
        ("x-request-id", "0000000000001f4a"),
        ("access-control-allow-origin", "*"),
        ("vary", "origin"),
    ] {
        rich.headers_mut().append(name, value).unwrap();
    }
    let mut out = Vec::with_capacity(1024);
    for (name, response) in [("plain", &plain), ("six_fields", &rich)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                fuzzing::write_head(&mut out, black_box(response));
                out.len()
            })
        });
    }
    group.finish();
}

/// A body of `len` bytes in chunks of `chunk` bytes, with its terminator.
fn chunked(len: usize, chunk: usize) -> Vec<u8> {
    let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn chunked_decoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("chunked_decode");
    for (name, chunk, pieces) in [
        ("64KiB_in_1KiB_chunks", 1024, &[][..]),
        ("64KiB_in_16B_chunks", 16, &[][..]),
        ("64KiB_arriving_in_1500B_pieces", 1024, &[1500; 64][..]),
    ] {
        let input = chunked(64 * 1024, chunk);
        let decoded = fuzzing::decode_chunked(&input, pieces, 16 * 1024).unwrap();
        assert!(decoded.complete && decoded.body.len() == 64 * 1024);
        group.throughput(Throughput::Bytes(64 * 1024));
        group.bench_function(name, |b| {
            b.iter(|| fuzzing::decode_chunked(black_box(&input), pieces, 16 * 1024))
        });
    }
    group.finish();
}

fn route_lookup(c: &mut Criterion) {
    let patterns = github::patterns();
    let mut ours = turnstile::router::Router::new();
    let mut theirs = matchit::Router::new();
    for (i, pattern) in patterns.iter().enumerate() {
        ours.insert(pattern, i).unwrap();
        theirs.insert(github::matchit_pattern(pattern), i).unwrap();
    }
    let paths: Vec<String> = patterns.iter().map(|p| github::sample_path(p)).collect();
    let mut group = c.benchmark_group("route_lookup_github_table");
    // One iteration looks up every path of the table once.
    group.throughput(Throughput::Elements(paths.len() as u64));
    group.bench_function("turnstile", |b| {
        b.iter(|| {
            paths
                .iter()
                .filter_map(|p| ours.at(black_box(p)).map(|m| *m.value()))
                .sum::<usize>()
        })
    });
    group.bench_function("matchit", |b| {
        b.iter(|| {
            paths
                .iter()
                .filter_map(|p| theirs.at(black_box(p)).ok().map(|m| *m.value))
                .sum::<usize>()
        })
    });
    group.finish();
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Order {
    id: u64,
    customer: String,
    items: Vec<Item>,
    paid: bool,
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Item {
    sku: String,
    quantity: u32,
    price_cents: u64,
}

fn json_extraction(c: &mut Criterion) {
    let app = App::new()
        .post("/json", |Json(order): Json<Order>| {
            order.items.len().to_string()
        })
        .post("/bytes", |body: Vec<u8>| body.len().to_string());
    let factory = app.into_factory().unwrap();
    let order = Order {
        id: 42,
        customer: "Ada Lovelace".into(),
        items: (0..4)
            .map(|i| Item {
                sku: format!("SKU-{i:05}"),
                quantity: i + 1,
                price_cents: 1999,
            })
            .collect(),
        paid: true,
    };
    let body = serde_json::to_vec(&order).unwrap();
    let request = |path: &str| {
        let mut r = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(&body);
        r
    };
    let mut group = c.benchmark_group("framework_body");
    group.throughput(Throughput::Bytes(body.len() as u64));
    for (name, path, answer) in [("json_extract", "/json", "4"), ("bytes_body", "/bytes", "")] {
        let request = request(path);
        let mut conn = LocalConnection::new(factory.clone()).unwrap();
        conn.send(&request);
        let first = String::from_utf8(conn.take_output()).unwrap();
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(first.ends_with(answer), "{first}");
        group.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |()| {
                    conn.send(black_box(&request));
                    conn.take_output().len()
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = micro;
    config = config();
    targets = head_parsing, head_serialization, chunked_decoding, route_lookup, json_extraction
}
criterion_main!(micro);
