use turnstile::handler;

struct Report;

#[handler]
fn report() -> Report {
    Report
}

fn main() {}
