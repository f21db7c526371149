//! The examples' pages in real headless Chromium: the todo page (add and
//! toggle through the form, stored; live across two browsers, and again
//! after the server restarts) and the chat page (a message typed in one
//! browser appears in the other over WebSocket; the tick counter follows
//! the event stream). A screenshot of the todo page is left in
//! `target/todo-screenshot.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test` installs
//! them when missing).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use turnstile_core::sync::Client;
use turnstile_suite::program::Program;
use turnstile_suite::webdriver::{Driver, Session};

/// A fresh working directory for one test; removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new(name: &str) -> WorkDir {
        let dir = std::env::temp_dir().join(format!("turnstile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        WorkDir(dir)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start_todo(database: &Path, port: u16) -> Program {
    Program::start(
        "todo",
        &[
            ("DATABASE", database.to_str().expect("UTF-8 path")),
            ("PORT", &port.to_string()),
        ],
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn todos(client: &Client, addr: SocketAddr) -> Value {
    let text = client
        .get(&format!("http://{addr}/api/todos"))
        .unwrap()
        .text()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Adds a todo through the API, as curl would.
fn add_through_the_api(client: &Client, addr: SocketAddr, title: &str) {
    let response = client
        .request(
            turnstile_core::Method::Post,
            &format!("http://{addr}/api/todos"),
        )
        .header("content-type", "application/json")
        .body(json!({ "title": title }).to_string().into_bytes())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

/// Adds a todo through the page's form.
fn add_through_the_form(page: &Session, title: &str) {
    let input = page.wait_for("#title");
    page.type_into(&input, title);
    page.click_on("#add");
}

#[test]
fn add_and_toggle_a_todo_in_chromium() {
    let work = WorkDir::new("browser-todo");
    let todo = start_todo(&work.0.join("todo.db"), 0);
    let addr = todo.addr();
    let mut driver = Driver::start(&work.0);
    let page = driver.session();

    page.open(&format!("http://{addr}/"));
    add_through_the_form(&page, "water the plants");
    page.wait_for_text("#todos li .title", "water the plants");
    page.click_on("#todos li .toggle");

    // The change is stored: ask the API, not the page.
    let client = Client::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let stored = loop {
        let todos = todos(&client, addr);
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
    page.wait_for("#todos li.done");

    let png = page.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    // target/<profile>/deps/<this test> → target/todo-screenshot.png
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target directory")
        .join("todo-screenshot.png");
    std::fs::write(&target, png).unwrap();
}

/// Waits until `page` lists a todo titled `title`; how long it took.
fn time_until_listed(page: &Session, title: &str, since: Instant) -> Duration {
    page.wait_for_text("#todos li .title", title);
    let took = since.elapsed();
    eprintln!("{title:?} listed after {took:?}");
    took
}

#[test]
fn todo_pages_see_each_others_changes_and_reconnect_after_a_restart() {
    let work = WorkDir::new("browser-live");
    let database = work.0.join("todo.db");
    let port = free_port();
    let todo = start_todo(&database, port);
    let addr = todo.addr();
    let client = Client::new().unwrap();
    let mut driver = Driver::start(&work.0);
    let (one, two) = (driver.session(), driver.session());
    for page in [&one, &two] {
        page.open(&format!("http://{addr}/"));
        page.wait_for("#live.on");
    }

    // A todo added in one browser appears in the other.
    add_through_the_form(&one, "from the first browser");
    two.wait_for_text("#todos li .title", "from the first browser");

    // A change made outside any page (curl, another instance) reaches both
    // within a second. The bound includes WebDriver's polling, so the page
    // itself is faster.
    let since = Instant::now();
    add_through_the_api(&client, addr, "from the api");
    for page in [&one, &two] {
        let took = time_until_listed(page, "from the api", since);
        assert!(took < Duration::from_secs(1), "a change took {took:?}");
    }

    // The server restarts: the pages notice, reconnect by themselves, and
    // hear of changes again.
    drop(todo);
    for page in [&one, &two] {
        page.wait_for("#live.off");
    }
    let todo = start_todo(&database, port);
    for page in [&one, &two] {
        page.wait_for("#live.on");
    }
    let since = Instant::now();
    add_through_the_api(&client, todo.addr(), "after the restart");
    for page in [&one, &two] {
        let took = time_until_listed(page, "after the restart", since);
        assert!(took < Duration::from_secs(1), "a change took {took:?}");
    }
    assert_eq!(
        one.texts("#todos li .title").len(),
        3,
        "nothing doubled or lost"
    );
}

#[test]
fn chat_messages_cross_browsers_and_ticks_count_up() {
    let work = WorkDir::new("browser-chat");
    let chat = Program::start("chat", &[("TICK_MS", "100")]);
    let addr = chat.addr();
    let mut driver = Driver::start(&work.0);
    let (alice, bob) = (driver.session(), driver.session());
    for page in [&alice, &bob] {
        page.open(&format!("http://{addr}/"));
        page.wait_for_text("#status", "connected");
    }

    let input = alice.wait_for("#text");
    alice.type_into(&input, "hello from alice\u{E007}");
    bob.wait_for_text("#log p", "hello from alice");
    alice.wait_for_text("#log p.me", "hello from alice");
    let input = bob.wait_for("#text");
    bob.type_into(&input, "hi alice\u{E007}");
    alice.wait_for_text("#log p", "hi alice");

    // The tick counter follows the event stream.
    let ticks = |page: &Session| page.texts("#ticks").first()?.parse::<u64>().ok();
    for page in [&alice, &bob] {
        let first = page.wait_until("a first tick", ticks);
        page.wait_until("a later tick", |p| ticks(p).filter(|&n| n > first));
    }
}
