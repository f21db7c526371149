//! A Turnstile WebSocket echo at `/ws/echo` (the framework's
//! `WebSocketUpgrade`), one worker.

use turnstile::ws::{Message, Socket, WebSocketUpgrade, WsHandler};
use turnstile::App;

struct Echo;

impl WsHandler for Echo {
    fn on_message(&mut self, socket: &mut Socket<'_>, message: Message) {
        let _ = socket.send(message);
    }
}

fn main() -> std::io::Result<()> {
    let app = App::new().get("/ws/echo", |ws: WebSocketUpgrade| ws.accept(Echo));
    let server = turnstile_core::Server::bind(turnstile_compare::addr())?.workers(1);
    let handle = app.serve_on(server)?;
    turnstile_compare::announce(handle.local_addr());
    handle.join();
    Ok(())
}
