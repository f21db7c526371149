use turnstile::extract::Path;
use turnstile::get;

#[get("/users/:user/posts/:post")]
fn one_for_two(Path(id): Path<u64>) -> String {
    id.to_string()
}

#[get("/users/:user")]
fn two_for_one(Path((a, b)): Path<(u32, u32)>) -> String {
    format!("{a}{b}")
}

fn main() {}
