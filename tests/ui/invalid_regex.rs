use turnstile::get;

#[get("/posts/{id:[0-9+}")]
fn post() -> &'static str {
    "unclosed class"
}

fn main() {}
