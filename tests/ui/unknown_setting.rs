use turnstile::get;

#[get("/x", body_limt = 10)]
fn x() -> &'static str {
    "typo"
}

fn main() {}
