use turnstile::extract::Path;
use turnstile::{get, post, routes, App};

#[get("/users/:id")]
fn by_id(Path(id): Path<u64>) -> String {
    id.to_string()
}

#[post("/users/:id")]
fn update(Path(id): Path<u64>) -> String {
    id.to_string()
}

#[get("/users/:name")]
fn by_name(Path(name): Path<String>) -> String {
    name
}

fn main() {
    let _ = App::new().mount(routes![by_id, update, by_name]);
}
