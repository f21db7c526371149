//! The GitHub REST API route table shared by the route benchmarks.

/// The table as `METHOD pattern` lines.
pub const ROUTES: &str = include_str!("../github_routes.txt");

/// A concrete path for a pattern: every parameter gets a plausible value.
pub fn sample_path(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| {
            if let Some(name) = segment.strip_prefix(':') {
                match name {
                    "owner" | "user" | "org" => "rust-lang".to_owned(),
                    "repo" => "rust".to_owned(),
                    "number" | "id" => "1234".to_owned(),
                    _ => format!("{name}-value"),
                }
            } else if segment.starts_with('*') {
                "src/lib/mod.rs".to_owned()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `:name` → `{name}`, `*rest` → `{*rest}`: matchit's syntax.
pub fn matchit_pattern(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| {
            if let Some(name) = segment.strip_prefix(':') {
                format!("{{{name}}}")
            } else if let Some(name) = segment.strip_prefix('*') {
                format!("{{*{name}}}")
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The table's distinct patterns, sorted.
pub fn patterns() -> Vec<&'static str> {
    let mut patterns: Vec<&str> = ROUTES
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .collect();
    patterns.sort();
    patterns.dedup();
    patterns
}
