//! WebSocket routes: the [`WebSocketUpgrade`] extractor checks the opening
//! handshake, and [`accept`](WebSocketUpgrade::accept) answers `101` with
//! a [`WsHandler`] that then runs on the connection's event loop (no
//! thread per socket). Route parameters, state and middleware apply to the
//! upgrade request like to any other.
//!
//! ```
//! use turnstile::ws::{Message, Socket, WebSocketUpgrade, WsHandler};
//! use turnstile::App;
//!
//! /// Sends every message back.
//! struct Echo;
//!
//! impl WsHandler for Echo {
//!     fn on_message(&mut self, socket: &mut Socket<'_>, message: Message) {
//!         let _ = socket.send(message);
//!     }
//! }
//!
//! let app = App::new().get("/ws/echo", |ws: WebSocketUpgrade| ws.accept(Echo));
//! # let _ = app;
//! ```
//!
//! Other threads send through a [`WsSender`] (`socket.sender()`, cloneable
//! and `Send`), and to many sockets at once through a [`WsGroup`], which
//! encodes a message once for all of them. Each socket has a send budget
//! ([`WsConfig::send_budget`]): past it, sends are refused with
//! [`SendError::Full`] and the socket stops reading, so a client that does
//! not read costs bounded memory.
//!
//! Browsers let any page open a WebSocket to any server, with the user's
//! cookies: by default a handshake whose `Origin` names another host than
//! its `Host` is refused with `403` (as gorilla/websocket does).
//! [`allow_origin`](WebSocketUpgrade::allow_origin) sets the app's own
//! rule.

use std::fmt;
use std::sync::Arc;

use turnstile_core::ws::Handshake;
pub use turnstile_core::ws::{
    close_code, CloseFrame, DeflateConfig, Message, Prepared, SendError, Socket, WsConfig, WsGroup,
    WsHandler, WsSender,
};
use turnstile_core::StatusCode;

use crate::extract::{FromRequestParts, Rejection, RequestParts};
use crate::reply::{Body, IntoResponse, Response, UpgradeBody};

/// An app's rule for which origins may open a socket.
type OriginCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A checked WebSocket opening handshake, to answer with
/// [`accept`](WebSocketUpgrade::accept). Refuses a request that is not a
/// valid handshake: `426` with `Sec-WebSocket-Version: 13` for another
/// version, `400` for anything else malformed.
pub struct WebSocketUpgrade {
    handshake: Handshake,
    host: Option<String>,
    protocol: Option<String>,
    config: WsConfig,
    origin_allowed: Option<OriginCheck>,
}

impl FromRequestParts for WebSocketUpgrade {
    fn from_request_parts(parts: &mut RequestParts) -> Result<Self, Rejection> {
        let handshake = Handshake::from_request(&parts.request).map_err(|e| {
            let rejection = Rejection::new(e.status(), e.to_string());
            if e.status() == StatusCode::UPGRADE_REQUIRED {
                rejection.with_header("sec-websocket-version", "13")
            } else {
                rejection
            }
        })?;
        Ok(WebSocketUpgrade {
            handshake,
            host: parts.request.headers().get("host").map(str::to_owned),
            protocol: None,
            config: WsConfig::default(),
            origin_allowed: None,
        })
    }
}

impl WebSocketUpgrade {
    /// The subprotocols the client offers, in its order of preference.
    pub fn protocols(&self) -> &[String] {
        self.handshake.protocols()
    }

    /// Chooses `name` as the subprotocol, if the client offered it (the
    /// answer names none otherwise).
    pub fn protocol(mut self, name: &str) -> WebSocketUpgrade {
        if self.handshake.offers_protocol(name) {
            self.protocol = Some(name.to_owned());
        }
        self
    }

    /// The page's origin, if a browser sent one.
    pub fn origin(&self) -> Option<&str> {
        self.handshake.origin()
    }

    /// Sets which origins may connect (replacing the same-host default).
    /// Handshakes without an `Origin` (not from a browser) are accepted.
    pub fn allow_origin(
        mut self,
        allowed: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> WebSocketUpgrade {
        self.origin_allowed = Some(Arc::new(allowed));
        self
    }

    /// Refuses messages over `bytes` with close code 1009 (default 16 MiB).
    pub fn max_message(mut self, bytes: usize) -> WebSocketUpgrade {
        self.config.max_message = bytes;
        self
    }

    /// Sets every limit and timer at once.
    pub fn config(mut self, config: WsConfig) -> WebSocketUpgrade {
        self.config = config;
        self
    }

    /// Whether the handshake's origin may connect.
    fn origin_ok(&self) -> bool {
        let Some(origin) = self.handshake.origin() else {
            return true;
        };
        match &self.origin_allowed {
            Some(allowed) => allowed(origin),
            None => self
                .host
                .as_deref()
                .is_some_and(|host| same_host(origin, host)),
        }
    }

    /// Compresses messages with `permessage-deflate` when the client offers
    /// it (browsers do), as `config` allows; see
    /// [`WsConfig::deflate`] for what it costs.
    pub fn deflate(mut self, config: DeflateConfig) -> WebSocketUpgrade {
        self.config.deflate = Some(config);
        self
    }

    /// Answers `101 Switching Protocols`; `handler` then runs the socket.
    /// A refused origin answers `403` instead.
    pub fn accept<H: WsHandler>(self, handler: H) -> Response {
        if !self.origin_ok() {
            log::debug!(
                "WebSocket handshake from origin {:?} refused",
                self.handshake.origin()
            );
            return Rejection::new(StatusCode::FORBIDDEN, "origin not allowed").into_response();
        }
        let mut response = Response::new(StatusCode::SWITCHING_PROTOCOLS);
        self.handshake
            .accept_headers(response.headers_mut(), self.protocol.as_deref());
        let deflate = self
            .config
            .deflate
            .as_ref()
            .and_then(|config| self.handshake.negotiate_deflate(config));
        if let Some(agreed) = &deflate {
            let _ = response
                .headers_mut()
                .set("sec-websocket-extensions", agreed.response_header());
        }
        let config = self.config;
        response.set_body(Body::Upgrade(UpgradeBody::new(Box::new(move |control| {
            Box::new(
                turnstile_core::ws::WebSocket::new(handler, control, config).with_deflate(deflate),
            )
        }))));
        response
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the server at `host`
/// (a Host field), a scheme's default port written or not.
fn same_host(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => "",
    };
    let bare = |a: &str| -> String {
        let a = a.to_ascii_lowercase();
        match a.strip_suffix(default) {
            Some(stripped) if !default.is_empty() => stripped.to_owned(),
            _ => a,
        }
    };
    bare(authority) == bare(host)
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("protocols", &self.handshake.protocols())
            .field("origin", &self.handshake.origin())
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::same_host;

    #[test]
    fn origins_match_their_host_with_or_without_the_default_port() {
        assert!(same_host("http://example.com", "example.com"));
        assert!(same_host("http://example.com:80", "EXAMPLE.com"));
        assert!(same_host("https://example.com", "example.com:443"));
        assert!(same_host("http://127.0.0.1:3000", "127.0.0.1:3000"));
        assert!(!same_host("http://127.0.0.1:3001", "127.0.0.1:3000"));
        assert!(!same_host("https://example.com", "example.com:80"));
        assert!(!same_host("https://evil.example", "example.com"));
        assert!(!same_host("null", "example.com"));
    }
}
