//! Replays the fuzz targets' seeds and every input a fuzzer ever found
//! (`fuzz/seeds/<target>`, `fuzz/regressions/<target>`, and the local
//! `fuzz/corpus/<target>` when a fuzzing run left one) through the same
//! checks libFuzzer runs, on stable Rust.

use std::path::Path;

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["seeds", "regressions", "corpus"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            // A fuzzing run beside this test may merge its corpus away.
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails its check",
                path.display()
            );
            count += 1;
        }
    }
    assert!(count > 0, "{target}: no seeds found");
}

#[test]
fn request_head() {
    replay("request_head", checks::request_head);
}

#[test]
fn chunked() {
    replay("chunked", checks::chunked);
}

#[test]
fn response_head() {
    replay("response_head", checks::response_head);
}

#[test]
fn router() {
    replay("router", checks::router);
}

#[test]
fn connection() {
    replay("connection", checks::connection);
}

#[test]
fn app_extract() {
    replay("app_extract", checks::app_extract);
}

#[test]
fn tls_connection() {
    replay("tls_connection", checks::tls_connection);
}

#[test]
fn websocket() {
    replay("websocket", checks::websocket);
}
