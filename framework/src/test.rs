//! [`TestClient`]: requests to an [`App`] in process, through the engine's
//! own connection state machine, without a socket.
//!
//! ```
//! use turnstile::test::TestClient;
//! use turnstile::{App, Json, StatusCode};
//!
//! let app = App::new().post("/echo", |Json(v): Json<serde_json::Value>| Json(v));
//! let client = TestClient::new(app).unwrap();
//! let res = client.request("POST", "/echo").json(&serde_json::json!({"a": 1})).send();
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.json::<serde_json::Value>()["a"], 1);
//! assert_eq!(client.post("/echo", "x").status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
//! ```

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use turnstile_core::header::Headers;
use turnstile_core::local::LocalConnection;
use turnstile_core::StatusCode;

use crate::app::{App, AppFactory, BuildError};

/// How long one test request may take before the client gives up.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// Sends requests to an app in process.
pub struct TestClient {
    factory: AppFactory,
}

impl TestClient {
    /// Builds `app` for testing.
    pub fn new(app: App) -> Result<TestClient, BuildError> {
        Ok(TestClient {
            factory: app.into_factory()?,
        })
    }

    /// A request to build: `client.request("PUT", "/x").header(..).body(..).send()`.
    pub fn request(&self, method: &str, target: &str) -> TestRequest<'_> {
        TestRequest {
            client: self,
            method: method.to_owned(),
            target: target.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET target`.
    pub fn get(&self, target: &str) -> TestResponse {
        self.request("GET", target).send()
    }

    /// `POST target` with a raw body (no content type).
    pub fn post(&self, target: &str, body: impl Into<Vec<u8>>) -> TestResponse {
        self.request("POST", target).body(body).send()
    }

    /// `DELETE target`.
    pub fn delete(&self, target: &str) -> TestResponse {
        self.request("DELETE", target).send()
    }

    /// Sends raw request bytes on a fresh in-memory connection (closing its
    /// input afterwards) and returns every byte the server wrote. For tests
    /// of exact framing.
    pub fn raw(&self, bytes: &[u8]) -> Vec<u8> {
        let Ok(mut conn) = LocalConnection::new(self.factory.clone()) else {
            return Vec::new();
        };
        conn.send(bytes);
        conn.close_input();
        let _ = conn.run_until(|_| false, Duration::from_millis(200));
        conn.take_output()
    }
}

/// A request being built. See [`TestClient::request`].
pub struct TestRequest<'a> {
    client: &'a TestClient,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl TestRequest<'_> {
    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.header("content-type", "application/json").body(body)
    }

    /// An urlencoded form body.
    pub fn form<T: Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_urlencoded::to_string(value).unwrap_or_default();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// Sends it and waits for the whole response (deferred answers
    /// included, up to 30 s).
    pub fn send(self) -> TestResponse {
        let mut head = format!("{} {} HTTP/1.1\r\nhost: test\r\n", self.method, self.target);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("content-length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        let head_request = self.method.eq_ignore_ascii_case("HEAD");
        let mut conn = match LocalConnection::new(self.client.factory.clone()) {
            Ok(c) => c,
            Err(e) => return TestResponse::failed(&format!("no local connection: {e}")),
        };
        conn.send(&bytes);
        let complete = conn.run_until(|out| parse(out, head_request).is_some(), REQUEST_LIMIT);
        match (complete, parse(conn.output(), head_request)) {
            (_, Some(response)) => response,
            (Ok(false), None) => TestResponse::failed("no complete response"),
            (Err(e), None) => TestResponse::failed(&format!("connection failed: {e}")),
            (Ok(true), None) => TestResponse::failed("unparsable response"),
        }
    }
}

/// A response as the test client received it.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: Headers,
    body: Vec<u8>,
}

impl TestResponse {
    fn failed(why: &str) -> TestResponse {
        TestResponse {
            status: StatusCode::from_u16(599).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: Headers::new(),
            body: format!("test client: {why}").into_bytes(),
        }
    }

    /// The status (`599` if no complete response arrived).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// A header's first value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// Every header field.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it does not parse, which
    /// is what a test wants.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!("response is not the JSON expected ({e}): {}", self.text()),
        }
    }
}

/// Parses one complete response from the start of `out`.
fn parse(out: &[u8], head_request: bool) -> Option<TestResponse> {
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&out[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let status = StatusCode::from_u16(code)?;
    if status.is_informational() {
        return parse(&out[head_end + 4..], head_request);
    }
    let mut headers = Headers::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(name.trim(), value.trim()).ok()?;
    }
    let rest = &out[head_end + 4..];
    let body = if head_request || status.forbids_body() {
        Vec::new()
    } else if let Some(len) = headers.get("content-length") {
        let len: usize = len.parse().ok()?;
        rest.get(..len)?.to_vec()
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else {
        return None; // close-delimited: not used by the framework
    };
    Some(TestResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return data.windows(2).any(|w| w == b"\r\n").then_some(body);
        }
        body.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

impl<'a> std::fmt::Debug for TestRequest<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRequest").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").finish_non_exhaustive()
    }
}
