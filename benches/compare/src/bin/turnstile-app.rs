//! A Turnstile framework app: two routes, one worker; HTTPS with
//! `TLS_CERT`/`TLS_KEY`.

use turnstile::{App, Json};

fn main() -> std::io::Result<()> {
    let app = App::new()
        .get("/plaintext", || "Hello, World!")
        .get("/json", || Json(turnstile_compare::Message { message: "Hello, World!" }));
    let server = match turnstile_compare::tls_files() {
        Some((cert, key)) => turnstile_core::Server::bind_tls(
            turnstile_compare::addr(),
            turnstile_core::tls::TlsConfig::from_pem_files(cert, key)?,
        )?,
        None => turnstile_core::Server::bind(turnstile_compare::addr())?,
    }
    .workers(1)
    .server_name("turnstile");
    let handle = app.serve_on(server)?;
    turnstile_compare::announce(handle.local_addr());
    handle.join();
    Ok(())
}
