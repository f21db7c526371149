//! What every comparison server shares: the port contract and the bodies.

use std::net::SocketAddr;

/// `GET /plaintext` answers this, `text/plain`.
pub const PLAINTEXT: &[u8] = b"Hello, World!";

/// `GET /json` serializes this per request.
#[derive(serde::Serialize)]
pub struct Message {
    /// Always "Hello, World!".
    pub message: &'static str,
}

/// `127.0.0.1:$PORT` (default 3000, 0 = any free port).
pub fn addr() -> SocketAddr {
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The one line drivers wait for (`https://` when serving TLS).
pub fn announce(addr: SocketAddr) {
    use std::io::Write;
    let scheme = if tls_files().is_some() { "https" } else { "http" };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {scheme}://{addr}");
    let _ = out.flush();
}

/// `TLS_CERT` and `TLS_KEY` (PEM files), when both are set: serve HTTPS.
pub fn tls_files() -> Option<(String, String)> {
    Some((std::env::var("TLS_CERT").ok()?, std::env::var("TLS_KEY").ok()?))
}

/// The peers' TLS settings: rustls with ring, TLS 1.2 and 1.3, ALPN
/// http/1.1, as Turnstile's.
pub fn rustls_config(cert: &str, key: &str) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("certificate file")
        .collect::<Result<_, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(key).expect("key file");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    std::sync::Arc::new(config)
}
