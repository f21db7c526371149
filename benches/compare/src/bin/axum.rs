//! axum 0.8 on a current-thread tokio runtime.

use axum::http::header::{HeaderValue, SERVER};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};

async fn plaintext() -> impl IntoResponse {
    ([(SERVER, HeaderValue::from_static("axum"))], "Hello, World!")
}

async fn json() -> impl IntoResponse {
    (
        [(SERVER, HeaderValue::from_static("axum"))],
        Json(turnstile_compare::Message { message: "Hello, World!" }),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let app = Router::new().route("/plaintext", get(plaintext)).route("/json", get(json));
    let listener = tokio::net::TcpListener::bind(turnstile_compare::addr()).await?;
    turnstile_compare::announce(listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
