use turnstile::route;

#[route(GET, FETCH, path = "/x")]
fn fetch() -> &'static str {
    "no such method"
}

fn main() {}
