//! A small notes API written with the route attributes.
//!
//! ```text
//! PORT=3000 cargo run --release --example macros
//! curl -d '{"text":"buy milk"}' -H 'content-type: application/json' http://127.0.0.1:3000/notes
//! curl http://127.0.0.1:3000/notes
//! curl http://127.0.0.1:3000/notes/1
//! curl -X DELETE http://127.0.0.1:3000/notes/1
//! ```

use std::collections::BTreeMap;
use std::io;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use turnstile::extract::{Path, Query, State};
use turnstile::middleware::Logger;
use turnstile::{delete, get, post, routes, App, Json, StatusCode};

#[derive(Clone, Serialize)]
struct Note {
    id: u64,
    text: String,
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

#[derive(Deserialize)]
struct Listing {
    limit: Option<usize>,
}

#[derive(Default)]
struct Notes {
    next_id: u64,
    by_id: BTreeMap<u64, Note>,
}

type Store = Mutex<Notes>;

fn lock(store: &Store) -> std::sync::MutexGuard<'_, Notes> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

#[get("/")]
fn index() -> &'static str {
    "notes API: GET/POST /notes, GET/DELETE /notes/:id\n"
}

#[get("/notes")]
fn list(store: State<Store>, Query(listing): Query<Listing>) -> Json<Vec<Note>> {
    let limit = listing.limit.unwrap_or(50).min(500);
    Json(lock(&store).by_id.values().take(limit).cloned().collect())
}

#[get("/notes/{id:[0-9]+}")]
fn show(store: State<Store>, Path(id): Path<u64>) -> Option<Json<Note>> {
    lock(&store).by_id.get(&id).cloned().map(Json)
}

#[post("/notes", body_limit = 16 * 1024)]
fn create(
    store: State<Store>,
    Json(new): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), (StatusCode, &'static str)> {
    if new.text.trim().is_empty() {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, "text must not be empty"));
    }
    let mut notes = lock(&store);
    notes.next_id += 1;
    let note = Note {
        id: notes.next_id,
        text: new.text,
    };
    notes.by_id.insert(note.id, note.clone());
    Ok((StatusCode::CREATED, Json(note)))
}

#[delete("/notes/{id:[0-9]+}")]
fn remove(store: State<Store>, Path(id): Path<u64>) -> StatusCode {
    match lock(&store).by_id.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

fn main() -> io::Result<()> {
    turnstile_suite::init_logging();
    let config = turnstile_suite::ExampleConfig::from_env();
    let app = App::new()
        .state(Store::default())
        .wrap(Logger)
        .mount(routes![index, list, show, create, remove]);
    config.serve_app(app)
}
