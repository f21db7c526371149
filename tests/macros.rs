//! Routes made with the attributes behave exactly like their builder
//! equivalents.

use std::time::Duration;

use serde::Deserialize;
use turnstile::extract::{Path, Query};
use turnstile::middleware::Timeout;
use turnstile::test::{TestClient, TestResponse};
use turnstile::{
    delete, get, head, options, patch, post, put, route, routes, App, Defer, Deferred, Json,
    Method, RouteSettings, StatusCode,
};

#[derive(Deserialize)]
struct Paging {
    limit: Option<u32>,
}

#[get("/users/:id")]
fn show(Path(id): Path<u64>) -> String {
    format!("user {id}")
}

#[get("/users")]
fn list(Query(paging): Query<Paging>) -> Json<Vec<u32>> {
    Json((1..=paging.limit.unwrap_or(2)).collect())
}

#[post("/users", body_limit = 32)]
fn create(Json(v): Json<serde_json::Value>) -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::CREATED, Json(v))
}

#[put("/users/:id")]
fn replace(Path(id): Path<u64>, body: String) -> String {
    format!("{id}={body}")
}

#[patch("/users/{id:[0-9]+}/name")]
fn rename(Path(id): Path<u64>) -> String {
    format!("renamed {id}")
}

#[delete("/users/:id")]
fn remove(Path(_id): Path<u64>) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[head("/ping")]
fn ping_head() -> StatusCode {
    StatusCode::OK
}

#[options("/ping")]
fn ping_options() -> (StatusCode, [(&'static str, &'static str); 1], &'static str) {
    (StatusCode::OK, [("allow", "HEAD, OPTIONS")], "")
}

#[route(GET, POST, path = "/both")]
fn both(method: Method) -> String {
    method.to_string()
}

#[get("/slow", timeout_ms = 30, wrap = Timeout(Duration::from_secs(10)))]
fn slow(defer: Defer) -> Deferred {
    let later = defer.later();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        defer.complete("late");
    });
    later
}

fn with_macros() -> App {
    App::new().mount(routes![
        show,
        list,
        create,
        replace,
        rename,
        remove,
        ping_head,
        ping_options,
        both,
        slow
    ])
}

fn by_hand() -> App {
    App::new()
        .get("/users/:id", show)
        .get("/users", list)
        .route_with(
            &[Method::Post],
            "/users",
            create,
            RouteSettings::default().body_limit(32),
        )
        .put("/users/:id", replace)
        .patch("/users/{id:[0-9]+}/name", rename)
        .delete("/users/:id", remove)
        .route(&[Method::Head], "/ping", ping_head)
        .route(&[Method::Options], "/ping", ping_options)
        .route(&[Method::Get, Method::Post], "/both", both)
        .route_with(
            &[Method::Get],
            "/slow",
            slow,
            RouteSettings::default()
                .timeout(Duration::from_millis(30))
                .wrap(Timeout(Duration::from_secs(10))),
        )
}

fn summary(res: &TestResponse) -> (u16, Option<String>, Option<String>, String) {
    (
        res.status().as_u16(),
        res.header("content-type").map(str::to_owned),
        res.header("allow").map(str::to_owned),
        res.text(),
    )
}

#[test]
fn macro_routes_answer_like_builder_routes() {
    let a = TestClient::new(with_macros()).unwrap();
    let b = TestClient::new(by_hand()).unwrap();
    let requests: Vec<(&str, &str, &str)> = vec![
        ("GET", "/users/7", ""),
        ("GET", "/users/x", ""),
        ("GET", "/users?limit=3", ""),
        ("POST", "/users", r#"{"name":"ann"}"#),
        (
            "POST",
            "/users",
            r#"{"name":"a name far too long for the limit"}"#,
        ),
        ("PUT", "/users/3", "body"),
        ("PATCH", "/users/3/name", ""),
        ("PATCH", "/users/x/name", ""),
        ("DELETE", "/users/3", ""),
        ("HEAD", "/ping", ""),
        ("OPTIONS", "/ping", ""),
        ("GET", "/ping", ""),
        ("GET", "/both", ""),
        ("POST", "/both", ""),
        ("DELETE", "/both", ""),
        ("GET", "/slow", ""),
        ("GET", "/missing", ""),
    ];
    for (method, target, body) in requests {
        let send = |c: &TestClient| {
            let mut r = c.request(method, target);
            if !body.is_empty() {
                r = r.header("content-type", "application/json").body(body);
            }
            r.send()
        };
        let (x, y) = (send(&a), send(&b));
        assert_eq!(summary(&x), summary(&y), "{method} {target}");
    }
    // And they are what they should be.
    assert_eq!(a.get("/users/7").text(), "user 7");
    assert_eq!(a.get("/slow").status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.request("POST", "/both").send().text(), "POST");
    assert_eq!(show(Path(1)), "user 1", "the function is still a function");
}

#[test]
fn conflicts_between_mounted_routes_are_still_build_errors() {
    #[get("/a/:id")]
    fn one(Path(id): Path<u32>) -> String {
        id.to_string()
    }
    #[get("/a/:name/b")]
    fn two(Path(name): Path<String>) -> String {
        name
    }
    // Different shapes pass the compile-time check; the router still
    // refuses two names for one position when the app is built.
    let err = TestClient::new(App::new().mount(routes![one, two]))
        .err()
        .unwrap();
    assert!(err.to_string().contains("/a/:name/b"), "{err}");
}
