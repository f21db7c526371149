//! A Turnstile framework app: two routes, one worker.

use turnstile::{App, Json};

fn main() -> std::io::Result<()> {
    let app = App::new()
        .get("/plaintext", || "Hello, World!")
        .get("/json", || Json(turnstile_compare::Message { message: "Hello, World!" }));
    let server = turnstile_core::Server::bind(turnstile_compare::addr())?
        .workers(1)
        .server_name("turnstile");
    let handle = app.serve_on(server)?;
    turnstile_compare::announce(handle.local_addr());
    handle.join();
    Ok(())
}
