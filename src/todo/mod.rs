//! The todo service: a JSON API and a small web page over SQLite, the
//! project's proof that the framework does real work. `examples/todo.rs`
//! serves it; the tests drive it in process and over sockets.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | the web page (HTML, CSS and JavaScript under `/static/`) |
//! | `GET /api/todos?limit=&offset=&done=` | the list, with an `ETag` |
//! | `POST /api/todos` `{"title": .., "done"?: ..}` | `201` and the new todo |
//! | `GET /api/todos/:id` | one todo, with an `ETag` (`304` on `If-None-Match`) |
//! | `PATCH /api/todos/:id` `{"title"?: .., "done"?: ..}` | the changed todo |
//! | `DELETE /api/todos/:id` | `204` |
//! | `GET /api/events` | Server-Sent Events: a `change` event per change (see [`live`]) |
//!
//! Errors are JSON `{"error": .., "field": ..}`: `400` malformed JSON, `415`
//! wrong content type, `422` empty or over-long title, `404` missing id,
//! `413` body over 16 KiB.

pub mod db;
pub mod live;

use std::sync::Arc;
use std::sync::OnceLock;

use serde::Deserialize;
use turnstile::extract::{Path, Query, Rejection, State, TypedHeader};
use turnstile::header::{EntityTag, IfNoneMatch};
use turnstile::middleware::{Cors, Logger, RequestIdMiddleware};
use turnstile::{
    App, Defer, Deferred, IntoResponse, Json, Method, Response, RouteSettings, StatusCode,
};

pub use db::{Db, Todo};
pub use live::{Change, Changes};

/// Longest title accepted, in characters.
pub const MAX_TITLE: usize = 200;
/// Largest request body the API reads.
pub const MAX_BODY: usize = 16 * 1024;
/// Most todos one list answer holds.
pub const MAX_LIMIT: u32 = 500;

/// The whole app over `db`.
pub fn app(db: Db) -> App {
    let api = App::new()
        .wrap(Cors::permissive())
        .get("/todos", list)
        .route_with(
            &[Method::Post],
            "/todos",
            create,
            RouteSettings::default().body_limit(MAX_BODY),
        )
        .get("/todos/{id:[0-9]+}", show)
        .route_with(
            &[Method::Patch],
            "/todos/{id:[0-9]+}",
            update,
            RouteSettings::default().body_limit(MAX_BODY),
        )
        .delete("/todos/{id:[0-9]+}", remove)
        .get("/events", |changes: State<Changes>| changes.subscribe());
    App::new()
        .state(db)
        .state(Changes::new())
        .wrap(Logger)
        .wrap(RequestIdMiddleware::new())
        .get("/", page)
        .get("/static/app.js", script)
        .get("/static/app.css", style)
        .nest("/api", api)
}

fn error(status: StatusCode, message: &str, field: &str) -> Response {
    Rejection::new(status, message)
        .with_field(field)
        .into_response()
}

fn storage_failed(e: rusqlite::Error) -> Response {
    log::error!("database error: {e}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "storage failed",
        "storage",
    )
}

/// FNV-1a over the bytes, as a strong entity tag.
fn etag_of(bytes: &[u8]) -> EntityTag {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    EntityTag::strong(format!("{hash:016x}"))
}

/// A JSON answer with an `ETag`, or `304` when the client has it already.
fn tagged_json<T: serde::Serialize>(value: &T, known: Option<&IfNoneMatch>) -> Response {
    let response = Response::json(value);
    let tag = etag_of(response.body());
    if known.is_some_and(|k| k.matches(&tag)) {
        return Response::new(StatusCode::NOT_MODIFIED).with_typed(&turnstile::header::ETag(tag));
    }
    response.with_typed(&turnstile::header::ETag(tag))
}

/// Checks a title: trimmed, not empty, not too long.
fn valid_title(title: &str) -> Result<String, Response> {
    let title = title.trim();
    if title.is_empty() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "title must not be empty",
            "title",
        ));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("title must be at most {MAX_TITLE} characters"),
            "title",
        ));
    }
    Ok(title.to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    offset: Option<u32>,
    done: Option<bool>,
}

fn list(
    db: State<Db>,
    known: Option<TypedHeader<IfNoneMatch>>,
    defer: Defer,
    Query(query): Query<ListQuery>,
) -> Result<Deferred, Response> {
    let limit = query.limit.unwrap_or(50);
    if limit > MAX_LIMIT {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("limit must be at most {MAX_LIMIT}"),
            "limit",
        ));
    }
    let db: Arc<Db> = db.arc();
    Ok(defer.spawn(
        move || match db.list(query.done, limit, query.offset.unwrap_or(0)) {
            Ok(todos) => tagged_json(&todos, known.as_ref().map(|h| &h.0)),
            Err(e) => storage_failed(e),
        },
    ))
}

fn show(
    db: State<Db>,
    Path(id): Path<i64>,
    known: Option<TypedHeader<IfNoneMatch>>,
    defer: Defer,
) -> Deferred {
    let db = db.arc();
    defer.spawn(move || match db.get(id) {
        Ok(Some(todo)) => tagged_json(&todo, known.as_ref().map(|h| &h.0)),
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no todo {id}"), "id"),
        Err(e) => storage_failed(e),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTodo {
    title: String,
    done: Option<bool>,
}

fn create(
    db: State<Db>,
    changes: State<Changes>,
    defer: Defer,
    Json(new): Json<NewTodo>,
) -> Result<Deferred, Response> {
    let title = valid_title(&new.title)?;
    let (db, changes) = (db.arc(), changes.arc());
    Ok(
        defer.spawn(move || match db.create(&title, new.done.unwrap_or(false)) {
            Ok(todo) => {
                changes.publish(Change::Created(todo.id));
                let location = format!("/api/todos/{}", todo.id);
                (StatusCode::CREATED, [("location", location)], Json(todo)).into_response()
            }
            Err(e) => storage_failed(e),
        }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TodoPatch {
    title: Option<String>,
    done: Option<bool>,
}

fn update(
    db: State<Db>,
    changes: State<Changes>,
    Path(id): Path<i64>,
    defer: Defer,
    Json(change): Json<TodoPatch>,
) -> Result<Deferred, Response> {
    if change.title.is_none() && change.done.is_none() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing to change: give title or done",
            "body",
        ));
    }
    let title = change.title.as_deref().map(valid_title).transpose()?;
    let (db, changes) = (db.arc(), changes.arc());
    Ok(
        defer.spawn(move || match db.update(id, title.as_deref(), change.done) {
            Ok(Some(todo)) => {
                changes.publish(Change::Updated(id));
                Json(todo).into_response()
            }
            Ok(None) => error(StatusCode::NOT_FOUND, &format!("no todo {id}"), "id"),
            Err(e) => storage_failed(e),
        }),
    )
}

fn remove(db: State<Db>, changes: State<Changes>, Path(id): Path<i64>, defer: Defer) -> Deferred {
    let (db, changes) = (db.arc(), changes.arc());
    defer.spawn(move || match db.delete(id) {
        Ok(true) => {
            changes.publish(Change::Deleted(id));
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, &format!("no todo {id}"), "id"),
        Err(e) => storage_failed(e),
    })
}

/// A static file with its type and a content-hash `ETag`; browsers
/// revalidate (`no-cache`) and get `304` when nothing changed.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    tag: OnceLock<EntityTag>,
}

impl Asset {
    const fn new(body: &'static str, content_type: &'static str) -> Asset {
        Asset {
            body,
            content_type,
            tag: OnceLock::new(),
        }
    }

    fn serve(&'static self, known: Option<TypedHeader<IfNoneMatch>>) -> Response {
        let tag = self
            .tag
            .get_or_init(|| etag_of(self.body.as_bytes()))
            .clone();
        let response = if known.is_some_and(|k| k.0.matches(&tag)) {
            Response::new(StatusCode::NOT_MODIFIED)
        } else {
            Response::text(self.body).with_content_type(self.content_type)
        };
        response
            .with_typed(&turnstile::header::ETag(tag))
            .with_header("cache-control", "no-cache")
    }
}

static PAGE: Asset = Asset::new(
    include_str!("static/index.html"),
    "text/html; charset=utf-8",
);
static SCRIPT: Asset = Asset::new(
    include_str!("static/app.js"),
    "text/javascript; charset=utf-8",
);
static STYLE: Asset = Asset::new(include_str!("static/app.css"), "text/css; charset=utf-8");

fn page(known: Option<TypedHeader<IfNoneMatch>>) -> Response {
    PAGE.serve(known)
}

fn script(known: Option<TypedHeader<IfNoneMatch>>) -> Response {
    SCRIPT.serve(known)
}

fn style(known: Option<TypedHeader<IfNoneMatch>>) -> Response {
    STYLE.serve(known)
}
