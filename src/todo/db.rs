//! Storage: SQLite through `rusqlite`, a small pool of connections used
//! only from the framework's blocking pool, never on the event loop.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// One todo as stored and as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Todo {
    /// Its id.
    pub id: i64,
    /// What to do.
    pub title: String,
    /// Whether it is done.
    pub done: bool,
}

/// A fixed pool of SQLite connections to one database.
pub struct Db {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
}

/// How long a caller waits for a free connection before giving up.
const CHECKOUT_LIMIT: Duration = Duration::from_secs(10);

impl Db {
    /// Opens (creating if needed) the database at `path` with `size`
    /// connections; `:memory:` is one in-memory database (one connection,
    /// since each connection to `:memory:` is a database of its own).
    pub fn open(path: &str, size: usize) -> rusqlite::Result<Db> {
        let size = if path == ":memory:" { 1 } else { size.max(1) };
        let mut idle = Vec::with_capacity(size);
        for _ in 0..size {
            let conn = Connection::open(path)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // After a checkpoint resets the WAL, truncate the file back to
            // this size rather than keep its high-water mark on disk.
            conn.pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)?;
            idle.push(conn);
        }
        idle[0].execute_batch(
            "CREATE TABLE IF NOT EXISTS todos (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                title TEXT NOT NULL,
                done INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL DEFAULT (datetime('now'))
            );",
        )?;
        Ok(Db {
            idle: Mutex::new(idle),
            returned: Condvar::new(),
        })
    }

    /// Runs `work` with a connection from the pool.
    pub fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let mut conn = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(conn) = idle.pop() {
                    break conn;
                }
                let (guard, timeout) = self
                    .returned
                    .wait_timeout(idle, CHECKOUT_LIMIT)
                    .unwrap_or_else(|e| e.into_inner());
                idle = guard;
                if timeout.timed_out() && idle.is_empty() {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                        Some("no free database connection".into()),
                    ));
                }
            }
        };
        let result = work(&mut conn);
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        self.returned.notify_one();
        result
    }

    /// Todos in id order, optionally only done or not done.
    pub fn list(&self, done: Option<bool>, limit: u32, offset: u32) -> rusqlite::Result<Vec<Todo>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, title, done FROM todos
                 WHERE (?1 IS NULL OR done = ?1)
                 ORDER BY id LIMIT ?2 OFFSET ?3",
            )?;
            let rows = statement.query_map(params![done, limit, offset], row_to_todo)?;
            rows.collect()
        })
    }

    /// One todo.
    pub fn get(&self, id: i64) -> rusqlite::Result<Option<Todo>> {
        self.with(|conn| {
            conn.prepare_cached("SELECT id, title, done FROM todos WHERE id = ?1")?
                .query_row(params![id], row_to_todo)
                .optional()
        })
    }

    /// Adds a todo.
    pub fn create(&self, title: &str, done: bool) -> rusqlite::Result<Todo> {
        self.with(|conn| {
            let mut insert = conn
                .prepare_cached("INSERT INTO todos (title, done) VALUES (?1, ?2) RETURNING id")?;
            let id = returning(&mut insert, params![title, done], |row| row.get(0))?
                .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            Ok(Todo {
                id,
                title: title.to_owned(),
                done,
            })
        })
    }

    /// Changes a todo's title and/or done flag; `None` if there is none.
    pub fn update(
        &self,
        id: i64,
        title: Option<&str>,
        done: Option<bool>,
    ) -> rusqlite::Result<Option<Todo>> {
        self.with(|conn| {
            let mut update = conn.prepare_cached(
                "UPDATE todos SET title = COALESCE(?2, title), done = COALESCE(?3, done)
                 WHERE id = ?1 RETURNING id, title, done",
            )?;
            returning(&mut update, params![id, title, done], row_to_todo)
        })
    }

    /// Removes a todo; whether there was one.
    pub fn delete(&self, id: i64) -> rusqlite::Result<bool> {
        self.with(|conn| Ok(conn.execute("DELETE FROM todos WHERE id = ?1", params![id])? > 0))
    }

    /// How many todos there are.
    pub fn count(&self) -> rusqlite::Result<i64> {
        self.with(|conn| conn.query_row("SELECT COUNT(*) FROM todos", [], |row| row.get(0)))
    }
}

/// Runs a statement with a `RETURNING` clause and maps its first row.
///
/// The statement is stepped to its end, not just to the row: a write left
/// at its row is committed by the reset that follows, which skips SQLite's
/// automatic WAL checkpoint, and the WAL then grows without bound (seen in
/// the soak test: gigabytes in minutes).
fn returning<T>(
    statement: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut rows = statement.query(params)?;
    let first = match rows.next()? {
        Some(row) => Some(map(row)?),
        None => None,
    };
    while rows.next()?.is_some() {}
    Ok(first)
}

fn row_to_todo(row: &rusqlite::Row<'_>) -> rusqlite::Result<Todo> {
    Ok(Todo {
        id: row.get(0)?,
        title: row.get(1)?,
        done: row.get(2)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the soak test: writes through `RETURNING` never triggered
    /// SQLite's automatic checkpoint, so the WAL grew by gigabytes.
    #[test]
    fn the_wal_stays_bounded_under_writes() {
        let path = std::env::temp_dir().join(format!("turnstile-wal-{}.db", std::process::id()));
        let path = path.to_str().unwrap().to_owned();
        let remove = || {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        };
        remove();
        let db = Db::open(&path, 4).unwrap();
        for i in 0..3000 {
            let todo = db.create(&format!("todo {i}"), false).unwrap();
            db.update(todo.id, None, Some(true)).unwrap();
        }
        let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
        let main = std::fs::metadata(&path).map_or(0, |m| m.len());
        remove();
        // 6,000 writes of ~2 pages each are ~50 MB of WAL unless checkpoints
        // move them into the database file and the WAL is reused.
        assert!(wal < 8 << 20, "WAL is {wal} bytes");
        assert!(
            main > 64 << 10,
            "nothing was checkpointed: database is {main} bytes"
        );
    }
}
