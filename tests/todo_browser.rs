//! The todo page in a real headless Chromium, driven through ChromeDriver's
//! WebDriver API with Turnstile's own blocking client: add a todo through
//! the form, toggle it, and check through the API that the change is
//! stored. A screenshot of the page is left in `target/todo-screenshot.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test` installs
//! them when missing).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use turnstile_suite::program::Program;

use serde_json::{json, Value};
use turnstile_core::sync::Client;
use turnstile_core::Method;

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_todo(database: &Path) -> (Program, SocketAddr) {
    let todo = Program::start(
        "todo",
        &[("DATABASE", database.to_str().expect("UTF-8 path"))],
    );
    let addr = todo.addr();
    (todo, addr)
}

/// A WebDriver session over the blocking client.
struct Session {
    client: Client,
    base: String,
    id: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Session {
    fn call(client: &Client, method: Method, url: &str, body: Option<Value>) -> Value {
        let mut request = client.request(method, url);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string().into_bytes());
        }
        let response = request.send().unwrap_or_else(|e| panic!("{url}: {e}"));
        let text = response.text().unwrap();
        let value: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"));
        if value["value"]["error"].is_string() {
            panic!("{url}: {}", value["value"]);
        }
        value["value"].clone()
    }

    fn post(&self, path: &str, body: Value) -> Value {
        Session::call(
            &self.client,
            Method::Post,
            &format!("{}/session/{}{path}", self.base, self.id),
            Some(body),
        )
    }

    fn get(&self, path: &str) -> Value {
        Session::call(
            &self.client,
            Method::Get,
            &format!("{}/session/{}{path}", self.base, self.id),
            None,
        )
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        self.post("/elements", json!({"using": "css selector", "value": css}))
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
            .collect()
    }

    /// The first element matching `css`, waiting up to 5 s for it.
    fn wait_for(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(e) = self.find_all(css).into_iter().next() {
                return e;
            }
            assert!(Instant::now() < deadline, "{css} never appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Decodes standard base64 (the screenshot), ignoring anything else.
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

#[test]
fn add_and_toggle_a_todo_in_chromium() {
    assert!(
        Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists(),
        "chromium and chromium-driver are needed: run the README's test command"
    );
    let work = std::env::temp_dir().join(format!("turnstile-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let (_todo, addr) = start_todo(&work.join("todo.db"));

    let driver_port = free_port();
    let _driver = Process(
        Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = Client::new().unwrap();
    let base = format!("http://127.0.0.1:{driver_port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(&format!("{base}/status")).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = work.join("profile");
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
    let created = Session::call(
        &client,
        Method::Post,
        &format!("{base}/session"),
        Some(capabilities),
    );
    let session = Session {
        client: client.clone(),
        base: base.clone(),
        id: created["sessionId"].as_str().unwrap().to_owned(),
    };

    session.post("/url", json!({"url": format!("http://{addr}/")}));
    let title = session.wait_for("#title");
    session.post(
        &format!("/element/{title}/value"),
        json!({"text": "water the plants"}),
    );
    let add = session.wait_for("#add");
    session.post(&format!("/element/{add}/click"), json!({}));
    let toggle = session.wait_for("#todos li .toggle");
    let text = session.get(&format!(
        "/element/{}/text",
        session.wait_for("#todos li .title")
    ));
    assert_eq!(text, "water the plants");
    session.post(&format!("/element/{toggle}/click"), json!({}));

    // The change is stored: ask the API, not the page.
    let api = format!("http://{addr}/api/todos");
    let deadline = Instant::now() + Duration::from_secs(5);
    let stored = loop {
        let todos: Value =
            serde_json::from_str(&client.get(&api).unwrap().text().unwrap()).unwrap();
        if todos[0]["done"] == true {
            break todos;
        }
        assert!(
            Instant::now() < deadline,
            "the toggle never reached the database: {todos}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        stored,
        json!([{"id": 1, "title": "water the plants", "done": true}])
    );
    session.wait_for("#todos li.done");

    let png = base64_decode(session.get("/screenshot").as_str().unwrap());
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    // target/<profile>/deps/<this test> → target/todo-screenshot.png
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target directory")
        .join("todo-screenshot.png");
    std::fs::write(&target, png).unwrap();

    Session::call(
        &client,
        Method::Delete,
        &format!("{base}/session/{}", session.id),
        None,
    );
    let _ = std::fs::remove_dir_all(&work);
}
