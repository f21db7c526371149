//! xitca-web with one worker thread, its default HTTP/1 settings. Plain
//! HTTP only.

use xitca_web::{
    handler::{handler_service, json::Json},
    route::get,
    App,
};

fn main() -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind(turnstile_compare::addr())?;
    let addr = listener.local_addr()?;
    let server = App::new()
        .at("/plaintext", get(handler_service(async || "Hello, World!")))
        .at(
            "/json",
            get(handler_service(async || Json(turnstile_compare::Message { message: "Hello, World!" }))),
        )
        .serve()
        .worker_threads(1)
        .disable_signal()
        .listen(listener)?
        .run();
    turnstile_compare::announce(addr);
    server.wait()
}
