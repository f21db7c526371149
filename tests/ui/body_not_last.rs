use turnstile::extract::Path;
use turnstile::{post, Json};

#[post("/users/:id")]
fn update(Json(body): Json<serde_json::Value>, Path(id): Path<u64>) -> String {
    format!("{id} {body}")
}

fn main() {}
