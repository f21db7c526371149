//! Route lookup on the GitHub REST API's route table (`github_routes.txt`,
//! 152 patterns), Turnstile's router next to `matchit`, measured in the
//! same run with the rounds interleaved so machine noise hits both.
//!
//! ```text
//! cargo bench --bench routes
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

mod github;

use github::{matchit_pattern, sample_path};

/// Rounds and lookups per round under `cargo bench`; `cargo test` runs
/// the same checks with a token load.
fn load() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") {
        (7, 2_000_000)
    } else {
        (1, 1_000)
    }
}

fn per_lookup(elapsed: Duration, lookups: usize) -> f64 {
    elapsed.as_nanos() as f64 / lookups as f64
}

fn main() {
    let patterns = github::patterns();

    let mut ours = turnstile::router::Router::new();
    let mut theirs = matchit::Router::new();
    for (i, pattern) in patterns.iter().enumerate() {
        ours.insert(pattern, i)
            .expect("turnstile accepts the table");
        theirs
            .insert(matchit_pattern(pattern), i)
            .expect("matchit accepts the table");
    }
    let paths: Vec<String> = patterns.iter().map(|p| sample_path(p)).collect();
    for (i, path) in paths.iter().enumerate() {
        let a = *ours.at(path).expect("turnstile finds every path").value();
        let b = *theirs.at(path).expect("matchit finds every path").value;
        assert_eq!(a, b, "both routers agree on {path}");
        assert_eq!(a, i, "{path} finds its own pattern");
    }

    let (rounds, lookups) = load();
    let mut best_ours = f64::MAX;
    let mut best_theirs = f64::MAX;
    for _ in 0..rounds {
        let started = Instant::now();
        let mut found = 0usize;
        // Whole passes over the table: no division on the measured path.
        for path in paths.iter().cycle().take(lookups) {
            if let Some(m) = ours.at(black_box(path)) {
                found += *m.value();
            }
        }
        black_box(found);
        best_ours = best_ours.min(per_lookup(started.elapsed(), lookups));

        let started = Instant::now();
        let mut found = 0usize;
        for path in paths.iter().cycle().take(lookups) {
            if let Ok(m) = theirs.at(black_box(path)) {
                found += *m.value;
            }
        }
        black_box(found);
        best_theirs = best_theirs.min(per_lookup(started.elapsed(), lookups));
    }
    println!(
        "route lookup, GitHub API ({} patterns, best of {rounds} rounds of {lookups})",
        patterns.len()
    );
    println!("  turnstile  {best_ours:7.1} ns/lookup");
    println!("  matchit    {best_theirs:7.1} ns/lookup");
    println!(
        "  ratio      {:7.2}x matchit's time",
        best_ours / best_theirs
    );
}
