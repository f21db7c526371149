use turnstile::get;

#[get("users/:id")]
fn user() -> &'static str {
    "no leading slash"
}

fn main() {}
