//! Headless Chromium for the browser tests, driven through ChromeDriver's
//! WebDriver API with Turnstile's own blocking client: open a page, find
//! elements by CSS selector, type, click, read text, and wait (bounded) for
//! the page to show something.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test` installs
//! them when missing).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use turnstile_core::sync::Client;
use turnstile_core::Method;

/// How long [`Session::wait_for`] and friends wait before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running ChromeDriver; it and its browsers stop on drop.
pub struct Driver {
    process: Child,
    client: Client,
    base: String,
    work: PathBuf,
    profiles: usize,
}

impl Driver {
    /// Starts ChromeDriver on a free port, keeping browser profiles under
    /// `work`; waits (bounded) until it answers.
    ///
    /// # Panics
    ///
    /// When Chromium or ChromeDriver is missing or does not start.
    pub fn start(work: &Path) -> Driver {
        assert!(
            Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists(),
            "chromium and chromium-driver are needed: run the README's test command"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let process = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            process,
            client: Client::new().expect("a client"),
            base: format!("http://127.0.0.1:{port}"),
            work: work.to_owned(),
            profiles: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while driver
            .client
            .get(&format!("{}/status", driver.base))
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    /// A new browser with an empty profile of its own (its own cookies,
    /// cache and connections).
    pub fn session(&mut self) -> Session {
        self.profiles += 1;
        let profile = self.work.join(format!("profile-{}", self.profiles));
        // Without the background-networking flags Chromium tries Google's
        // hosts at every start, which this closed network refuses.
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=900,700",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let created = call(
            &self.client,
            Method::Post,
            &format!("{}/session", self.base),
            Some(capabilities),
        );
        Session {
            client: self.client.clone(),
            url: format!(
                "{}/session/{}",
                self.base,
                created["sessionId"].as_str().expect("a session id")
            ),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// One WebDriver call; panics with the driver's message on an error.
fn call(client: &Client, method: Method, url: &str, body: Option<Value>) -> Value {
    try_call(client, method, url, body).unwrap_or_else(|error| panic!("{url}: {error}"))
}

/// One WebDriver call; `Err` with the driver's error (`"error"`,
/// `"message"`) when it refused.
fn try_call(
    client: &Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, Value> {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes());
    }
    let response = request.send().unwrap_or_else(|e| panic!("{url}: {e}"));
    let text = response.text().expect("a text answer");
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"));
    if value["value"]["error"].is_string() {
        return Err(value["value"].clone());
    }
    Ok(value["value"].clone())
}

/// One browser; closed on drop.
pub struct Session {
    client: Client,
    url: String,
}

impl Session {
    fn post(&self, path: &str, body: Value) -> Value {
        call(
            &self.client,
            Method::Post,
            &format!("{}{path}", self.url),
            Some(body),
        )
    }

    fn get(&self, path: &str) -> Value {
        call(
            &self.client,
            Method::Get,
            &format!("{}{path}", self.url),
            None,
        )
    }

    /// Loads `url` (returns once the page has loaded).
    pub fn open(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
    }

    /// Every element matching `css`, as WebDriver references.
    pub fn find_all(&self, css: &str) -> Vec<String> {
        self.post("/elements", json!({"using": "css selector", "value": css}))
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
            .collect()
    }

    /// The first element matching `css`, waiting up to [`PATIENCE`].
    pub fn wait_for(&self, css: &str) -> String {
        self.wait_until(css, |session| session.find_all(css).into_iter().next())
    }

    /// The text of every element matching `css`, read in one step (a
    /// live page may replace its elements between two WebDriver calls).
    pub fn texts(&self, css: &str) -> Vec<String> {
        let script =
            "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent)";
        self.post("/execute/sync", json!({"script": script, "args": [css]}))
            .as_array()
            .map(|texts| {
                texts
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits up to [`PATIENCE`] for an element matching `css` whose text
    /// contains `text`; returns that text.
    pub fn wait_for_text(&self, css: &str, text: &str) -> String {
        self.wait_until(&format!("{css} containing {text:?}"), |session| {
            session.texts(css).into_iter().find(|t| t.contains(text))
        })
    }

    /// Clicks the first element matching `css`, finding it again if the
    /// page replaced it meanwhile; waits up to [`PATIENCE`] for one.
    pub fn click_on(&self, css: &str) {
        self.wait_until(&format!("a clickable {css}"), |session| {
            let element = session.find_all(css).into_iter().next()?;
            let url = format!("{}/element/{element}/click", session.url);
            match try_call(&session.client, Method::Post, &url, Some(json!({}))) {
                Ok(_) => Some(()),
                Err(error) if error["error"] == "stale element reference" => None,
                Err(error) => panic!("{url}: {error}"),
            }
        });
    }

    /// Polls `found` every 50 ms until it gives something, up to
    /// [`PATIENCE`]; `what` names it in the failure.
    pub fn wait_until<T>(&self, what: &str, mut found: impl FnMut(&Session) -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(value) = found(self) {
                return value;
            }
            assert!(Instant::now() < deadline, "{what} never appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// An element's visible text.
    pub fn text(&self, element: &str) -> String {
        self.get(&format!("/element/{element}/text"))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Types `text` into an element.
    pub fn type_into(&self, element: &str, text: &str) {
        self.post(
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        );
    }

    /// Clicks an element.
    pub fn click(&self, element: &str) {
        self.post(&format!("/element/{element}/click"), json!({}));
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        base64_decode(self.get("/screenshot").as_str().unwrap_or_default())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.client.request(Method::Delete, &self.url).send();
    }
}

/// Decodes standard base64 (a screenshot), ignoring anything else.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
