use turnstile::extract::Path;
use turnstile::{get, handler};

struct Config;

#[get("/users/:id")]
fn show(Path(id): Path<u64>, config: Config) -> String {
    let _ = config;
    id.to_string()
}

#[handler]
fn plain(count: u32, Path(id): Path<u64>) -> String {
    format!("{count} {id}")
}

fn main() {}
