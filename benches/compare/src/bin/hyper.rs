//! hyper 1.x on a current-thread tokio runtime, TCP_NODELAY; HTTPS through
//! tokio-rustls with `TLS_CERT`/`TLS_KEY`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, DATE, SERVER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (ct, body) = if req.uri().path() == "/json" {
        let body = serde_json::to_vec(&turnstile_compare::Message { message: "Hello, World!" }).unwrap();
        ("application/json", Bytes::from(body))
    } else {
        ("text/plain", Bytes::from_static(turnstile_compare::PLAINTEXT))
    };
    let mut res = Response::new(Full::new(body));
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    headers.insert(SERVER, HeaderValue::from_static("hyper"));
    headers.insert(DATE, HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())).unwrap());
    Ok(res)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(turnstile_compare::addr()).await?;
    let tls = turnstile_compare::tls_files()
        .map(|(cert, key)| tokio_rustls::TlsAcceptor::from(turnstile_compare::rustls_config(&cert, &key)));
    turnstile_compare::announce(listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let tls = tls.clone();
        tokio::task::spawn(async move {
            let builder = http1::Builder::new().pipeline_flush(true).clone();
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder.serve_connection(TokioIo::new(stream), service_fn(handle)).await;
                    }
                }
                None => {
                    let _ = builder.serve_connection(TokioIo::new(stream), service_fn(handle)).await;
                }
            }
        });
    }
}
