//! axum 0.8's WebSocket (tokio-tungstenite) echo at `/ws/echo`, on a
//! current-thread tokio runtime.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

async fn echo(ws: WebSocketUpgrade) -> impl IntoResponse {
    ws.on_upgrade(|mut socket: WebSocket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            match message {
                Message::Text(_) | Message::Binary(_) => {
                    if socket.send(message).await.is_err() {
                        break;
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let app = Router::new().route("/ws/echo", get(echo));
    let listener = tokio::net::TcpListener::bind(turnstile_compare::addr()).await?;
    turnstile_compare::announce(listener.local_addr()?);
    axum::serve(listener, app).await
}
