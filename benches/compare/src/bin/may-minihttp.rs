//! may_minihttp (TechEmpower's top Rust entry) with one coroutine worker,
//! routing by path as its TechEmpower entry does. Plain HTTP only. It uses
//! the system allocator and serde_json here, as every other server in the
//! run does (its TechEmpower entry uses mimalloc and yarte).

use std::io;

use may_minihttp::{HttpServer, HttpService, Request, Response};

#[derive(Clone)]
struct Bench;

impl HttpService for Bench {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        match req.path() {
            "/plaintext" => {
                rsp.header("Content-Type: text/plain").body("Hello, World!");
            }
            "/json" => {
                rsp.header("Content-Type: application/json");
                let message = turnstile_compare::Message { message: "Hello, World!" };
                serde_json::to_writer(bytes::BufMut::writer(rsp.body_mut()), &message)?;
            }
            _ => {
                rsp.status_code(404, "Not Found");
            }
        }
        Ok(())
    }
}

fn main() -> io::Result<()> {
    may::config().set_workers(1);
    // may binds by address only; take a free port first when PORT=0.
    let addr = std::net::TcpListener::bind(turnstile_compare::addr())?.local_addr()?;
    let server = HttpServer(Bench).start(addr)?;
    turnstile_compare::announce(addr);
    let _ = server.join();
    Ok(())
}
