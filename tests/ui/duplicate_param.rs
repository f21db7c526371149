use turnstile::get;

#[get("/users/:id/friends/:id")]
fn friend() -> &'static str {
    "two ids"
}

fn main() {}
