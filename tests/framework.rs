//! The framework through its test client (no socket), point by point.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use turnstile::extract::{Form, Path, Query, RequestHead, RequestParts, State, TypedHeader};
use turnstile::header::UserAgent;
use turnstile::middleware::{Before, Cors, Middleware, RequestId, RequestIdMiddleware, Timeout};
use turnstile::test::TestClient;
use turnstile::{
    App, Defer, Deferred, IntoResponse, Json, Method, Redirect, Response, RouteSettings, StatusCode,
};

fn client(app: App) -> TestClient {
    TestClient::new(app).expect("app builds")
}

#[test]
fn routes_match_by_pattern_kind() {
    let app = App::new()
        .get("/", || "root")
        .get("/users/new", || "new user form")
        .get("/users/:id", |Path(id): Path<String>| format!("user {id}"))
        .get("/posts/{id:[0-9]+}", |Path(id): Path<u32>| {
            format!("post {id}")
        })
        .get("/posts/{slug:[a-z-]+}", |Path(slug): Path<String>| {
            format!("slug {slug}")
        })
        .get("/files/*path", |Path(path): Path<String>| {
            format!("file {path}")
        });
    let c = client(app);
    for (target, body) in [
        ("/", "root"),
        ("/users/new", "new user form"),
        ("/users/42", "user 42"),
        ("/users/a%20b", "user a b"),
        ("/posts/7", "post 7"),
        ("/posts/hello-world", "slug hello-world"),
        ("/files/a/b/c.txt", "file a/b/c.txt"),
    ] {
        let res = c.get(target);
        assert_eq!(res.status(), StatusCode::OK, "{target}");
        assert_eq!(res.text(), body, "{target}");
    }
    assert_eq!(c.get("/posts/UPPER").status(), StatusCode::NOT_FOUND);
    assert_eq!(
        c.get("/users/42/").status(),
        StatusCode::NOT_FOUND,
        "trailing slash is significant"
    );
    let missing = c.get("/nowhere");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.header("content-type"), Some("application/json"));
}

#[test]
fn method_rules_405_head_and_options() {
    let app = App::new()
        .get("/thing", || "got")
        .post("/thing", || (StatusCode::CREATED, "made"))
        .route(&[Method::Put, Method::Patch], "/thing", || "changed");
    let c = client(app);
    let res = c.delete("/thing");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        res.header("allow"),
        Some("GET, POST, PUT, PATCH, HEAD, OPTIONS")
    );
    let head = c.request("HEAD", "/thing").send();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.header("content-length"), Some("3"));
    assert!(head.body().is_empty());
    let options = c.request("OPTIONS", "/thing").send();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        options.header("allow"),
        Some("GET, POST, PUT, PATCH, HEAD, OPTIONS")
    );
    assert_eq!(c.request("PATCH", "/thing").send().text(), "changed");
    assert_eq!(c.post("/thing", "").status(), StatusCode::CREATED);
}

#[test]
fn build_errors_name_the_routes() {
    let conflicting = App::new().get("/a/:id", || "").get("/a/:name/b", || "");
    let err = TestClient::new(conflicting).expect_err("conflict refused");
    let text = err.to_string();
    assert!(
        text.contains("/a/:name/b") && text.contains("/a/:id"),
        "{text}"
    );

    let twice = App::new().get("/x", || "").get("/x", || "");
    assert!(TestClient::new(twice)
        .err()
        .unwrap()
        .to_string()
        .contains("GET is already routed"));

    let invalid = App::new().get("no-slash", || "").get("/{id:[}", || "");
    let err = TestClient::new(invalid).err().unwrap();
    assert_eq!(err.errors().len(), 2, "{err}");
}

#[test]
fn a_state_nobody_gave_is_a_build_error_naming_the_type_and_route() {
    struct Db;
    struct Cache;
    fn reads_db(_: State<Db>, _: Option<State<Cache>>) -> &'static str {
        "ok"
    }
    fn reads_cache(_: Path<u32>, cache: State<Cache>) -> String {
        let _ = cache;
        "ok".into()
    }
    let missing = App::new()
        .get("/db", reads_db)
        .get("/cache/:id", reads_cache);
    let err = TestClient::new(missing).expect_err("missing state refused");
    let text = err.to_string();
    assert_eq!(err.errors().len(), 2, "{text}");
    assert!(text.contains("\"/db\"") && text.contains("State<framework::a_state_nobody_gave_is_a_build_error_naming_the_type_and_route::Db>"), "{text}");
    assert!(
        text.contains("\"/cache/:id\"") && text.contains("Cache"),
        "{text}"
    );
    // An optional state is not required; state given to a nested app counts.
    let fine = App::new()
        .get("/db", reads_db)
        .nest(
            "/inner",
            App::new().state(Cache).get("/cache/:id", reads_cache),
        )
        .state(Db);
    assert_eq!(client(fine).get("/inner/cache/7").text(), "ok");
}

#[test]
fn extensions_from_middleware_reach_handlers() {
    #[derive(Clone)]
    struct User(String);
    struct Auth;
    impl Middleware for Auth {
        fn before(&self, parts: &mut RequestParts) -> Before {
            if let Some(name) = parts.request().headers().get("x-user").map(str::to_owned) {
                parts.extensions_mut().insert(User(name));
            }
            Before::Continue
        }
    }
    fn me(
        turnstile::extract::Extension(User(name)): turnstile::extract::Extension<User>,
    ) -> String {
        name
    }
    let client = client(App::new().wrap(Auth).get("/me", me));
    let named = client.request("GET", "/me").header("x-user", "ada").send();
    assert_eq!(named.text(), "ada");
    // Nobody attached one: the server's fault, a 500 that says so.
    let anonymous = client.get("/me");
    assert_eq!(anonymous.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(anonymous.text().contains("request extension missing"));
}

#[test]
fn raw_routes_keep_middleware_state_params_and_logging() {
    use std::io::Write as _;
    use turnstile::core::{Encoder, Handler, Next, Request as CoreRequest, ResponseHead};
    use turnstile::middleware::Finished;

    /// Writes its text; the head says 201.
    struct Text(String);
    impl Handler for Text {
        fn on_request(&mut self, _: CoreRequest) -> Next {
            Next::write()
        }
        fn on_response(&mut self, res: &mut ResponseHead) -> Next {
            res.set_status(StatusCode::CREATED);
            res.set_content_length(self.0.len() as u64);
            Next::write()
        }
        fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
            match encoder.write(self.0.as_bytes()) {
                Ok(n) if n == self.0.len() => Next::end(),
                _ => Next::remove(),
            }
        }
    }

    #[derive(Clone)]
    struct Tenant(&'static str);
    struct Prefix(&'static str);
    /// Path, status, body bytes, complete.
    type Ended = (String, u16, Option<u64>, bool);
    #[derive(Default, Clone)]
    struct Seen(Arc<Mutex<Vec<Ended>>>);
    impl Middleware for Seen {
        fn before(&self, parts: &mut RequestParts) -> Before {
            parts.extensions_mut().insert(Tenant("acme"));
            Before::Continue
        }
        fn after(&self, _: &RequestParts, response: &mut Response) {
            response.headers_mut().set("x-seen", "yes").unwrap();
        }
        fn done(&self, parts: &RequestParts, finished: &Finished) {
            self.0.lock().unwrap().push((
                parts.request().path().to_owned(),
                finished.status.map_or(0, |s| s.as_u16()),
                finished.body_bytes,
                finished.complete,
            ));
        }
    }
    let seen = Seen::default();
    let app = App::new()
        .state(Prefix("hello"))
        .wrap(seen.clone())
        .wrap(RequestIdMiddleware::new())
        .raw("/plain", |_: turnstile::core::Control| {
            Text("plain raw".into())
        })
        .raw_with("/greet/:name", |cx: turnstile::RawContext<'_>| {
            let prefix = cx.state::<Prefix>().map_or("?", |p| p.0);
            let tenant = cx.extension::<Tenant>().map_or("?", |t| t.0);
            Text(format!(
                "{prefix} {} from {tenant}",
                cx.param("name").unwrap_or_default()
            ))
        });
    let client = client(app);
    let plain = client.get("/plain");
    assert_eq!(plain.status(), StatusCode::CREATED);
    assert_eq!(plain.text(), "plain raw");
    assert_eq!(plain.header("x-seen"), Some("yes"));
    assert!(
        plain.header("x-request-id").is_some(),
        "the RequestId after step missed the raw route"
    );
    let greet = client.get("/greet/ada");
    assert_eq!(greet.text(), "hello ada from acme");
    assert_eq!(greet.header("x-seen"), Some("yes"));
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("/plain".to_owned(), 201, None, true),
            ("/greet/ada".to_owned(), 201, None, true)
        ]
    );
}

#[test]
fn rejections_name_the_query_parameter_and_json_path_at_fault() {
    #[derive(Deserialize)]
    struct Page {
        #[allow(dead_code)]
        page: u32,
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        price: u32,
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Order {
        items: Vec<Item>,
    }
    let c = client(
        App::new()
            .get("/list", |_: Query<Page>| "ok")
            .post("/orders", |_: Json<Order>| "ok")
            .post("/form", |_: Form<Page>| "ok"),
    );
    let field = |r: turnstile::test::TestResponse| {
        let body: serde_json::Value = serde_json::from_str(&r.text()).unwrap_or_default();
        (
            r.status().as_u16(),
            body["field"].as_str().unwrap_or("").to_owned(),
        )
    };
    assert_eq!(field(c.get("/list?page=abc")), (400, "page".to_owned()));
    assert_eq!(field(c.get("/list")), (400, "page".to_owned()));
    let order = |json: &str| {
        c.request("POST", "/orders")
            .header("content-type", "application/json")
            .body(json.to_owned())
            .send()
    };
    let wrong =
        r#"{"items":[{"name":"a","price":1},{"name":"b","price":2},{"name":"c","price":"x"}]}"#;
    assert_eq!(field(order(wrong)), (422, "items[2].price".to_owned()));
    let missing = r#"{"items":[{"name":"a"}]}"#;
    assert_eq!(field(order(missing)), (422, "items[0].price".to_owned()));
    assert_eq!(
        field(order(r#"{"items":[]} trailing"#)),
        (400, "body".to_owned())
    );
    assert_eq!(field(order(r#"{"items":[]}"#)).0, 200);
    let form = c
        .request("POST", "/form")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("page=-1")
        .send();
    assert_eq!(field(form), (422, "page".to_owned()));
}

#[test]
fn fallbacks_answer_unmatched_paths_in_their_scope_with_its_middleware() {
    struct Tag(&'static str);
    impl Middleware for Tag {
        fn after(&self, _: &RequestParts, response: &mut Response) {
            response.headers_mut().append("x-scope", self.0).unwrap();
        }
    }
    let admin = App::new().wrap(Tag("admin")).get("/stats", || "stats");
    let api = App::new()
        .wrap(Tag("api"))
        .get("/users", || "users")
        .fallback(|| (StatusCode::NOT_FOUND, "no such API call"));
    let app = App::new()
        .wrap(Tag("root"))
        .get("/files/*path", || "a file")
        .nest("/api", api)
        .nest("/admin", admin)
        .fallback(|| (StatusCode::NOT_FOUND, "no such page"));
    let c = client(app);
    // The root's fallback, with the root's middleware.
    let page = c.get("/nope");
    assert_eq!(
        (page.status(), page.text().as_str()),
        (StatusCode::NOT_FOUND, "no such page")
    );
    assert_eq!(page.header("x-scope"), Some("root"));
    // The API's own fallback, with the API's middleware (root's too).
    let api_miss = c.get("/api/nope/deeper");
    assert_eq!(api_miss.text(), "no such API call");
    assert_eq!(
        api_miss.headers().get_all("x-scope").collect::<Vec<_>>(),
        [&b"api"[..], b"root"]
    );
    // A nested app without a fallback: the JSON 404, but with its scope's
    // middleware.
    let admin_miss = c.get("/admin/nope");
    assert_eq!(admin_miss.status(), StatusCode::NOT_FOUND);
    assert!(admin_miss.text().contains("not found"));
    assert_eq!(
        admin_miss.headers().get_all("x-scope").collect::<Vec<_>>(),
        [&b"admin"[..], b"root"]
    );
    // Routes still win, and an outer catch-all keeps its own paths.
    assert_eq!(c.get("/api/users").text(), "users");
    assert_eq!(c.get("/files/a/b.txt").text(), "a file");
    assert_eq!(c.get("/apiary").text(), "no such page");
}

#[test]
fn the_app_renders_every_error_answer_its_way() {
    let app = App::new()
        .get("/item", || "item")
        .get("/secret", || StatusCode::FORBIDDEN)
        .post("/json", |Json(v): Json<serde_json::Value>| Json(v))
        .render_errors(|error: &turnstile::extract::Rejection| {
            Response::text(format!(
                "E{} {} [{}]",
                error.status().as_u16(),
                error.message(),
                error.field().unwrap_or("")
            ))
        });
    let c = client(app);
    let not_allowed = c.request("DELETE", "/item").send();
    assert_eq!(not_allowed.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(not_allowed.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(not_allowed.text(), "E405 method not allowed []");
    assert_eq!(
        not_allowed.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let forbidden = c.get("/secret");
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert!(
        forbidden.text().starts_with("E403 "),
        "{}",
        forbidden.text()
    );
    let bad = c
        .request("POST", "/json")
        .header("content-type", "text/plain")
        .body("{}")
        .send();
    assert_eq!(
        bad.text(),
        "E415 expected Content-Type: application/json [content-type]"
    );
}

#[test]
fn a_root_catch_all_does_not_swallow_a_nested_scope() {
    let app = App::new()
        .get("/*rest", || "site")
        .nest("/api", App::new().get("/users", || "users"));
    let c = client(app);
    assert_eq!(c.get("/anything/here").text(), "site");
    assert_eq!(c.get("/api/users").text(), "users");
    let miss = c.get("/api/unknown");
    assert_eq!(miss.status(), StatusCode::NOT_FOUND);
    assert!(miss.text().contains("not found"), "{}", miss.text());
}

#[test]
fn nested_apps_prefix_routes_and_scope_middleware() {
    struct Tag(&'static str);
    impl Middleware for Tag {
        fn after(&self, _: &RequestParts, res: &mut Response) {
            let _ = res.headers_mut().append("x-tag", self.0);
        }
    }
    let api = App::new()
        .wrap(Tag("api"))
        .get("/", || "api root")
        .get("/items/:id", |Path(id): Path<u32>| format!("item {id}"));
    let app = App::new()
        .wrap(Tag("outer"))
        .get("/", || "home")
        .nest("/api", api);
    let c = client(app);
    let res = c.get("/api/items/3");
    assert_eq!(res.text(), "item 3");
    let tags: Vec<&[u8]> = res.headers().get_all("x-tag").collect();
    assert_eq!(tags, [&b"api"[..], b"outer"], "inner after runs first");
    assert_eq!(c.get("/api").text(), "api root");
    let home = c.get("/");
    assert_eq!(home.headers().get_all("x-tag").count(), 1);
}

#[derive(Deserialize, Serialize, Debug, PartialEq)]
struct NewTodo {
    title: String,
    done: Option<bool>,
}

#[test]
fn json_in_and_out_with_precise_errors() {
    let app = App::new().post("/todos", |Json(t): Json<NewTodo>| {
        (StatusCode::CREATED, Json(t))
    });
    let c = client(app);
    let ok = c
        .request("POST", "/todos")
        .json(&NewTodo {
            title: "milk".into(),
            done: None,
        })
        .send();
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_eq!(ok.json::<NewTodo>().title, "milk");
    assert_eq!(ok.header("content-type"), Some("application/json"));

    let wrong_type = c
        .request("POST", "/todos")
        .header("content-type", "text/plain")
        .body("{}")
        .send();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        wrong_type.json::<serde_json::Value>()["field"],
        "content-type"
    );

    let syntax = c
        .request("POST", "/todos")
        .header("content-type", "application/json")
        .body("{\"title\":")
        .send();
    assert_eq!(syntax.status(), StatusCode::BAD_REQUEST);
    assert!(syntax.json::<serde_json::Value>()["error"]
        .as_str()
        .unwrap()
        .contains("invalid JSON"));

    let shape = c
        .request("POST", "/todos")
        .header("content-type", "application/json")
        .body("{\"done\":true}")
        .send();
    assert_eq!(shape.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(shape.json::<serde_json::Value>()["field"], "title");

    let types = c
        .request("POST", "/todos")
        .header("content-type", "application/json")
        .body("{\"title\":5}")
        .send();
    assert_eq!(types.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[test]
fn path_query_form_header_and_head_extractors() {
    #[derive(Deserialize)]
    struct Paging {
        limit: Option<u32>,
        done: Option<bool>,
    }
    #[derive(Deserialize)]
    struct Login {
        user: String,
    }
    let app = App::new()
        .get("/a/:x/:y", |Path((x, y)): Path<(u32, String)>| {
            format!("{x}/{y}")
        })
        .get("/list", |Query(p): Query<Paging>| {
            format!("{:?} {:?}", p.limit, p.done)
        })
        .post("/login", |Form(l): Form<Login>| format!("hi {}", l.user))
        .get("/ua", |ua: Option<TypedHeader<UserAgent>>| match ua {
            Some(TypedHeader(UserAgent(ua))) => ua,
            None => "none".into(),
        })
        .get("/head", |m: Method, head: RequestHead| {
            format!("{m} {} {:?}", head.path, head.query)
        })
        .post("/raw", |body: Vec<u8>| body.len().to_string())
        .post("/text", |body: String| body.to_uppercase());
    let c = client(app);
    assert_eq!(c.get("/a/1/two").text(), "1/two");
    let bad = c.get("/a/x/two");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(bad.json::<serde_json::Value>()["field"], "x");
    assert_eq!(
        c.get("/list?limit=5&done=true").text(),
        "Some(5) Some(true)"
    );
    assert_eq!(c.get("/list").text(), "None None");
    assert_eq!(c.get("/list?limit=lots").status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        c.request("POST", "/login")
            .form(&[("user", "ann")])
            .send()
            .text(),
        "hi ann"
    );
    assert_eq!(
        c.post("/login", "user=ann").status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        c.request("GET", "/ua")
            .header("user-agent", "probe/1")
            .send()
            .text(),
        "probe/1"
    );
    assert_eq!(c.get("/ua").text(), "none");
    assert_eq!(c.get("/head?q=1").text(), "GET /head Some(\"q=1\")");
    assert_eq!(c.post("/raw", vec![0u8; 1000]).text(), "1000");
    assert_eq!(c.post("/text", "abc").text(), "ABC");
    assert_eq!(
        c.post("/text", vec![0xff, 0xfe]).status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn state_is_shared_and_mutable_behind_atomics() {
    struct Hits(AtomicUsize);
    let app = App::new()
        .state(Hits(AtomicUsize::new(0)))
        .get("/hit", |hits: State<Hits>| {
            (hits.0.fetch_add(1, Ordering::SeqCst) + 1).to_string()
        });
    let c = client(app);
    assert_eq!(c.get("/hit").text(), "1");
    assert_eq!(c.get("/hit").text(), "2");
    // A state never given is refused when the app is built
    // (a_state_nobody_gave_is_a_build_error_naming_the_type_and_route).
}

#[test]
fn bodies_are_limited_and_only_read_when_needed() {
    let app = App::new()
        .body_limit(16)
        .post("/small", |body: Vec<u8>| body.len().to_string())
        .post("/ignores", || "did not read")
        .route_with(
            &[Method::Post],
            "/big",
            |body: Vec<u8>| body.len().to_string(),
            RouteSettings::default().body_limit(1 << 20),
        );
    let c = client(app);
    assert_eq!(c.post("/small", vec![1u8; 16]).text(), "16");
    let res = c.post("/small", vec![1u8; 17]);
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A chunked body gives no length up front: it is cut off while read.
    let chunked = c.raw(
        b"POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n5\r\nmore!\r\n0\r\n\r\n",
    );
    assert!(
        chunked.starts_with(b"HTTP/1.1 413 "),
        "{}",
        String::from_utf8_lossy(&chunked)
    );
    assert_eq!(c.post("/ignores", vec![1u8; 1000]).text(), "did not read");
    assert_eq!(c.post("/big", vec![1u8; 100_000]).text(), "100000");
}

#[test]
fn every_reply_form() {
    #[derive(Serialize)]
    struct Out {
        ok: bool,
    }
    let app = App::new()
        .get("/str", || "static")
        .get("/string", || String::from("owned"))
        .get("/bytes", || vec![1u8, 2, 3])
        .get("/json", || Json(Out { ok: true }))
        .get("/status", || StatusCode::ACCEPTED)
        .get("/teapot", || StatusCode::from_u16(418).unwrap())
        .get("/pair", || (StatusCode::CREATED, "made"))
        .get("/triple", || {
            (
                StatusCode::OK,
                [("x-one", "1"), ("content-type", "text/csv")],
                "a,b",
            )
        })
        .get("/result-ok", || -> Result<&'static str, StatusCode> {
            Ok("fine")
        })
        .get(
            "/result-err",
            || -> Result<&'static str, (StatusCode, String)> {
                Err((StatusCode::CONFLICT, "taken".into()))
            },
        )
        .get("/none", || None::<String>)
        .get("/redirect", || Redirect::to("/str"))
        .get("/builder", || {
            let mut r = Response::text("built");
            r.set_status(StatusCode::PARTIAL_CONTENT);
            r.with_header("x-built", "yes")
        })
        .get("/unit", || ());
    let c = client(app);
    let check = |path: &str, status: u16, ct: Option<&str>, body: &[u8]| {
        let res = c.get(path);
        assert_eq!(res.status().as_u16(), status, "{path}");
        assert_eq!(res.header("content-type"), ct, "{path}");
        assert_eq!(res.body(), body, "{path}");
    };
    check("/str", 200, Some("text/plain; charset=utf-8"), b"static");
    check("/string", 200, Some("text/plain; charset=utf-8"), b"owned");
    check("/bytes", 200, Some("application/octet-stream"), &[1, 2, 3]);
    check("/json", 200, Some("application/json"), br#"{"ok":true}"#);
    check("/status", 202, None, b"");
    check("/pair", 201, Some("text/plain; charset=utf-8"), b"made");
    check("/triple", 200, Some("text/csv"), b"a,b");
    check(
        "/result-ok",
        200,
        Some("text/plain; charset=utf-8"),
        b"fine",
    );
    check(
        "/result-err",
        409,
        Some("text/plain; charset=utf-8"),
        b"taken",
    );
    check("/unit", 204, None, b"");
    assert_eq!(
        c.get("/teapot").json::<serde_json::Value>()["error"],
        "error 418"
    );
    assert_eq!(c.get("/none").status(), StatusCode::NOT_FOUND);
    assert_eq!(c.get("/triple").header("x-one"), Some("1"));
    let redirect = c.get("/redirect");
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    assert_eq!(redirect.header("location"), Some("/str"));
    let built = c.get("/builder");
    assert_eq!(
        (built.status().as_u16(), built.header("x-built")),
        (206, Some("yes"))
    );
}

#[test]
fn deferred_replies_from_threads_and_the_pool() {
    let app = App::new()
        .get("/pool", |defer: Defer| defer.spawn(|| Json(vec![1, 2, 3])))
        .get(
            "/thread/:ms",
            |Path(ms): Path<u64>, defer: Defer| -> Deferred {
                let later = defer.later();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(ms));
                    defer.complete(format!("after {ms}"));
                });
                later
            },
        )
        .get("/t/:ms", |Path(ms): Path<u64>| ms.to_string())
        .get("/dropped", |defer: Defer| {
            let later = defer.later();
            drop(defer);
            later
        })
        .get("/panics", |defer: Defer| {
            defer.spawn(|| -> &'static str { panic!("in the pool, on purpose") })
        })
        .route_with(
            &[Method::Get],
            "/slow",
            |defer: Defer| {
                let later = defer.later();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(500));
                    defer.complete("too late");
                });
                later
            },
            RouteSettings::default().timeout(Duration::from_millis(50)),
        );
    let c = client(app);
    assert_eq!(c.get("/pool").text(), "[1,2,3]");
    assert_eq!(c.get("/thread/30").text(), "after 30");
    assert_eq!(c.get("/t/5").text(), "5");
    assert_eq!(
        c.get("/dropped").status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(c.get("/panics").status(), StatusCode::INTERNAL_SERVER_ERROR);
    let slow = c.get("/slow");
    assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[test]
fn middleware_runs_in_order_answers_early_and_waits() {
    struct Trace(&'static str, Arc<Mutex<Vec<String>>>);
    impl Middleware for Trace {
        fn before(&self, _: &mut RequestParts) -> Before {
            self.1.lock().unwrap().push(format!("before {}", self.0));
            Before::Continue
        }
        fn after(&self, _: &RequestParts, _: &mut Response) {
            self.1.lock().unwrap().push(format!("after {}", self.0));
        }
    }
    struct Gate;
    impl Middleware for Gate {
        fn before(&self, parts: &mut RequestParts) -> Before {
            match parts.headers().get("x-gate") {
                Some("closed") => {
                    Before::Respond((StatusCode::FORBIDDEN, "gate closed").into_response())
                }
                Some("slow") => {
                    let defer = parts.defer();
                    let later = defer.later();
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(20));
                        defer.resume();
                    });
                    Before::Wait(later)
                }
                Some("slow-no") => {
                    let defer = parts.defer();
                    let later = defer.later();
                    std::thread::spawn(move || {
                        defer.complete((StatusCode::UNAUTHORIZED, "checked, no"))
                    });
                    Before::Wait(later)
                }
                _ => Before::Continue,
            }
        }
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let app = App::new()
        .wrap(Trace("a", log.clone()))
        .wrap(Trace("b", log.clone()))
        .wrap(Gate)
        .get("/", || "passed");
    let c = client(app);
    assert_eq!(c.get("/").text(), "passed");
    assert_eq!(
        *log.lock().unwrap(),
        ["before a", "before b", "after b", "after a"]
    );
    log.lock().unwrap().clear();
    let closed = c.request("GET", "/").header("x-gate", "closed").send();
    assert_eq!(
        (closed.status(), closed.text()),
        (StatusCode::FORBIDDEN, "gate closed".into())
    );
    assert_eq!(
        *log.lock().unwrap(),
        ["before a", "before b", "after b", "after a"]
    );
    assert_eq!(
        c.request("GET", "/").header("x-gate", "slow").send().text(),
        "passed"
    );
    assert_eq!(
        c.request("GET", "/")
            .header("x-gate", "slow-no")
            .send()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn shipped_middleware() {
    let app = App::new()
        .wrap(RequestIdMiddleware::new())
        .wrap(
            Cors::new()
                .allow_origin("https://app.example")
                .allow_methods(&["GET", "POST"]),
        )
        .wrap(Timeout(Duration::from_millis(50)))
        .get("/id", |id: RequestId| id.0)
        .get("/never", |defer: Defer| {
            let later = defer.later();
            std::mem::forget(defer); // never answers
            later
        });
    let c = client(app);
    let res = c.get("/id");
    let id = res.header("x-request-id").unwrap().to_owned();
    assert_eq!(res.text(), id);
    assert_eq!(id.len(), 16);
    let given = c
        .request("GET", "/id")
        .header("x-request-id", "abc-123")
        .send();
    assert_eq!(given.text(), "abc-123");
    let evil = c
        .request("GET", "/id")
        .header("x-request-id", "a b<script>")
        .send();
    assert_ne!(evil.text(), "a b<script>");

    let preflight = c
        .request("OPTIONS", "/id")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .send();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET, POST")
    );
    let simple = c
        .request("GET", "/id")
        .header("origin", "https://app.example")
        .send();
    assert_eq!(
        simple.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let stranger = c
        .request("GET", "/id")
        .header("origin", "https://evil.example")
        .send();
    assert_eq!(stranger.header("access-control-allow-origin"), None);

    assert_eq!(c.get("/never").status(), StatusCode::SERVICE_UNAVAILABLE);

    // CORS on a nested scope also answers the automatic OPTIONS of its paths.
    let api = App::new()
        .wrap(Cors::permissive())
        .post("/items", || "made");
    let c = client(App::new().get("/", || "home").nest("/api", api));
    let preflight = c
        .request("OPTIONS", "/api/items")
        .header("origin", "https://anywhere.example")
        .header("access-control-request-method", "POST")
        .send();
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    let home = c
        .request("GET", "/")
        .header("origin", "https://anywhere.example")
        .send();
    assert_eq!(
        home.header("access-control-allow-origin"),
        None,
        "CORS is scoped to /api"
    );
}

#[test]
fn panics_answer_500_and_the_app_goes_on() {
    struct PanicsAfter;
    impl Middleware for PanicsAfter {
        fn after(&self, parts: &RequestParts, _: &mut Response) {
            if parts.path() == "/mw-panic" {
                panic!("middleware bug, on purpose");
            }
        }
    }
    let app = App::new()
        .wrap(PanicsAfter)
        .get("/panic", || -> &'static str {
            panic!("handler bug, on purpose")
        })
        .get("/mw-panic", || "never seen")
        .get("/ok", || "ok");
    let c = client(app);
    assert_eq!(c.get("/panic").status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        c.get("/mw-panic").status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(c.get("/ok").text(), "ok");
}

#[test]
fn a_full_blocking_pool_answers_503() {
    let app = App::new().blocking_pool(1, 1).get("/work", |defer: Defer| {
        defer.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            "done"
        })
    });
    let c = Arc::new(client(app));
    let running: Vec<_> = (0..2)
        .map(|i| {
            let c = c.clone();
            std::thread::sleep(Duration::from_millis(30 * i));
            std::thread::spawn(move || c.get("/work").text())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(60));
    let refused = c.get("/work");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    for r in running {
        assert_eq!(r.join().unwrap(), "done");
    }
}

#[test]
fn traversal_shapes_are_refused_before_routing() {
    let app = App::new()
        .get("/files/*rest", |Path(rest): Path<String>| rest)
        .get("/a/:x", |Path(x): Path<String>| x);
    let c = client(app);
    for path in [
        "/files/../../etc/passwd",
        "/files/a/%2e%2e/x",
        "/files/%2E%2E",
        "/files/./a",
        "/a/..",
        "/a/%2e",
        "/files/..%2fetc",
        "/files/a%5c..%5cb",
        "/files/a%00b",
    ] {
        let res = c.get(path);
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            res.text()
        );
    }
    // Dots that are not whole segments are ordinary names.
    assert_eq!(c.get("/files/app.min.js").text(), "app.min.js");
    assert_eq!(c.get("/files/.hidden/a..b/...").text(), ".hidden/a..b/...");
    assert_eq!(c.get("/a/%2e%2ex").text(), "..x");
}

#[test]
fn options_asterisk_asks_about_the_server() {
    let c = client(App::new().get("/", || "home"));
    let out = String::from_utf8(c.raw(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")).unwrap();
    assert!(out.starts_with("HTTP/1.1 204 No Content\r\n"), "{out}");
    let out = String::from_utf8(c.raw(b"GET * HTTP/1.1\r\nHost: x\r\n\r\n")).unwrap();
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
}
