//! The todo service: a JSON API and a web page on SQLite.
//!
//! ```text
//! cargo run --release --example todo        # then open http://127.0.0.1:3000/
//! DATABASE=:memory: PORT=0 cargo run --example todo
//! ```
//!
//! `DATABASE` names the SQLite file (default `todo.db` in the working
//! directory; `:memory:` keeps nothing).

use std::io;

use turnstile_suite::todo;

fn main() -> io::Result<()> {
    turnstile_suite::init_logging();
    let config = turnstile_suite::ExampleConfig::from_env();
    let path = std::env::var("DATABASE").unwrap_or_else(|_| "todo.db".to_owned());
    let db = todo::Db::open(&path, 4)
        .map_err(|e| io::Error::other(format!("cannot open database {path:?}: {e}")))?;
    config.serve_app(todo::app(db))
}
