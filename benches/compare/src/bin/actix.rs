//! actix-web 4 with one worker; HTTPS through rustls with
//! `TLS_CERT`/`TLS_KEY`.

use actix_web::{get, web, App, HttpResponse, HttpServer, Responder};

#[get("/plaintext")]
async fn plaintext() -> impl Responder {
    HttpResponse::Ok()
        .insert_header(("server", "actix"))
        .content_type("text/plain")
        .body(turnstile_compare::PLAINTEXT)
}

#[get("/json")]
async fn json() -> impl Responder {
    HttpResponse::Ok()
        .insert_header(("server", "actix"))
        .json(turnstile_compare::Message { message: "Hello, World!" })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let server = HttpServer::new(|| App::new().service(plaintext).service(json).app_data(web::PayloadConfig::default()))
        .workers(1);
    let server = match turnstile_compare::tls_files() {
        Some((cert, key)) => server.bind_rustls_0_23(
            turnstile_compare::addr(),
            std::sync::Arc::unwrap_or_clone(turnstile_compare::rustls_config(&cert, &key)),
        )?,
        None => server.bind(turnstile_compare::addr())?,
    };
    let addr = server.addrs()[0];
    turnstile_compare::announce(addr);
    server.run().await
}
