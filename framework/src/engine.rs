//! [`AppHandler`]: the core `Handler` every framework request runs as.
//!
//! One state machine per request: route lookup, the middleware `before`
//! steps (each may answer or wait), the body (only when the handler's last
//! extractor needs it, under the route's limit), the handler (which may
//! defer its answer to another thread), the `after` steps, and the write.
//! Raw routes hand the request to their own core handler.

use std::io::{self, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use turnstile_core::header::ContentLength;
use turnstile_core::{
    Control, Decoder, Encoder, Error, Handler, Next, Outcome, Request, ResponseHead, StatusCode,
    TargetForm,
};

use crate::completion::Completion;
use crate::extract::{Extensions, Rejection, RequestParts};
use crate::middleware::Finished;
use crate::middleware::{Before, Middleware};
use crate::raw::RawContext;
use crate::reply::{error_response, Body, IntoResponse, Reply, Response, StreamBody};
use crate::router::Captures;
use crate::stream::{Pull, Receiver};
use crate::table::{AppShared, CompiledRoute, Found, RouteId, Target};

/// Where the request stands.
enum Phase {
    Start,
    /// Reading the body for the handler.
    ReadingBody,
    /// The handler deferred its answer.
    WaitingHandler,
    /// Middleware `before` step `i` is waiting.
    WaitingMiddleware(usize),
    /// The answer is ready to be written.
    Replying,
    /// Writing the body.
    Writing,
    /// A raw route's handler owns the request.
    Raw,
}

/// The core handler of an app request. Made by [`AppFactory`](crate::AppFactory).
pub struct AppHandler {
    app: Arc<AppShared>,
    /// Moved into the request's parts when it arrives.
    control: Option<Control>,
    phase: Phase,
    parts: Option<RequestParts>,
    route: Option<RouteId>,
    /// The middleware of a fixed answer's scope (a route brings its own).
    scope_chain: Option<Arc<[Arc<dyn Middleware>]>>,
    /// `after` steps run for middleware `0..after_upto`.
    after_upto: usize,
    body: Vec<u8>,
    reply: Option<Response>,
    out: Body,
    written: usize,
    raw: Option<Box<dyn Handler>>,
    /// A streaming body being sent, and the chunk in hand.
    stream: Option<Arc<Receiver>>,
    /// A drain began (streams that start later hear of it too).
    draining: bool,
    chunk: Vec<u8>,
    /// What `done` hooks hear: the status sent (none if no head went
    /// out), body bytes written, and how many middleware took part.
    status_sent: Option<StatusCode>,
    sent: u64,
    done_upto: usize,
}

impl AppHandler {
    pub(crate) fn new(app: Arc<AppShared>, control: Control) -> AppHandler {
        AppHandler {
            app,
            control: Some(control),
            phase: Phase::Start,
            parts: None,
            route: None,
            scope_chain: None,
            after_upto: 0,
            body: Vec::new(),
            reply: None,
            out: Body::Empty,
            written: 0,
            raw: None,
            stream: None,
            draining: false,
            chunk: Vec::new(),
            status_sent: None,
            sent: 0,
            done_upto: 0,
        }
    }

    /// The middleware this request passes through: its route's, its
    /// scope's for a fixed answer, or the app's.
    fn chain(&self) -> &Arc<[Arc<dyn Middleware>]> {
        chain_of(&self.app, self.route(), self.scope_chain.as_ref())
    }

    /// The request's route, if it has one.
    fn route(&self) -> Option<&CompiledRoute> {
        self.route.and_then(|id| self.app.routes.get(id))
    }

    fn timeout(&self) -> Option<Duration> {
        self.route().and_then(|r| r.timeout)
    }

    fn with_timeout(&self, next: Next) -> Next {
        match self.timeout() {
            Some(t) => next.timeout(t),
            None => next,
        }
    }

    /// Runs `before` steps from `from` on, then the target.
    #[inline]
    fn run_chain(&mut self, from: usize) -> Next {
        if self.chain().len() <= from {
            // Nothing to run (most routes of most apps): no reference
            // counting on the way.
            self.after_upto = self.chain().len();
            return self.run_target();
        }
        // Steps take the parts mutably and may reply: hold the chain by a
        // count of its own meanwhile.
        let chain = self.chain().clone();
        for (i, middleware) in chain.iter().enumerate().skip(from) {
            let Some(parts) = self.parts.as_mut() else {
                return Next::remove();
            };
            match middleware.before(parts) {
                // Every middleware whose `before` ran hears `done`, even
                // if the exchange ends before a reply (the client leaves).
                Before::Continue => self.done_upto = i + 1,
                Before::Respond(response) => return self.reply(response, i),
                Before::Wait(_) => {
                    self.phase = Phase::WaitingMiddleware(i);
                    return self.with_timeout(Next::wait());
                }
            }
        }
        self.after_upto = chain.len();
        self.run_target()
    }

    #[inline]
    fn run_target(&mut self) -> Next {
        let Some(route) = self.route.and_then(|id| self.app.routes.get(id)) else {
            // Without a route, `reply` holds the fixed answer (404, 405,
            // OPTIONS) chosen with the route, given once `before` steps pass.
            let fixed = self
                .reply
                .take()
                .unwrap_or_else(|| error_response(StatusCode::NOT_FOUND, "not found", None));
            return self.reply(fixed, self.after_upto);
        };
        match &route.target {
            Target::Raw(factory) => {
                let Some(parts) = self.parts.as_ref() else {
                    return Next::remove();
                };
                // The parts stay for the `after` and `done` steps; the raw
                // handler gets its own copy of the head.
                let request = parts.request.clone();
                let mut raw = factory.create(RawContext { parts });
                self.done_upto = self.after_upto;
                self.phase = Phase::Raw;
                let next = raw.on_request(request);
                self.raw = Some(raw);
                next
            }
            Target::Function(endpoint) => {
                if !endpoint.needs_body() {
                    return self.call(Vec::new());
                }
                let limit = route.body_limit;
                let declared = self
                    .parts
                    .as_ref()
                    .and_then(|p| p.request.header::<ContentLength>().ok().flatten());
                if declared.is_some_and(|ContentLength(n)| n > limit as u64) {
                    return self.too_large(limit);
                }
                self.phase = Phase::ReadingBody;
                self.with_timeout(Next::read())
            }
        }
    }

    fn too_large(&mut self, limit: usize) -> Next {
        let message = format!("body larger than {limit} bytes");
        let reply = error_response(StatusCode::PAYLOAD_TOO_LARGE, &message, Some("body"));
        self.reply(reply, self.after_upto)
    }

    /// Calls the handler function with the body read so far.
    #[inline]
    fn call(&mut self, body: Vec<u8>) -> Next {
        let route = self.route.and_then(|id| self.app.routes.get(id));
        let (Some(route), Some(parts)) = (route, self.parts.as_mut()) else {
            return Next::remove();
        };
        let Target::Function(endpoint) = &route.target else {
            return Next::remove();
        };
        let reply = match catch_unwind(AssertUnwindSafe(|| endpoint.call(parts, body))) {
            Ok(r) => r,
            Err(_) => {
                log::error!(
                    "handler for {} {} panicked; answering 500",
                    parts.method(),
                    parts.path()
                );
                Reply::Now(error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal server error",
                    None,
                ))
            }
        };
        let response = match reply {
            Reply::Now(response) => response,
            // A `Deferred` can come only from a `Defer`, but from another
            // request's: this request would wait for nothing.
            Reply::Later(_) if parts.defer.is_none() => {
                log::error!("a handler returned Deferred without taking a Defer");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal server error",
                    None,
                )
            }
            Reply::Later(_) => {
                self.phase = Phase::WaitingHandler;
                return self.with_timeout(Next::wait());
            }
        };
        self.reply(response, self.after_upto)
    }

    /// Runs `after` steps of middleware `0..upto` (innermost first) and
    /// gets ready to write.
    #[inline]
    fn reply(&mut self, mut response: Response, upto: usize) -> Next {
        if let Some(parts) = &self.parts {
            let chain = chain_of(&self.app, self.route(), self.scope_chain.as_ref());
            for middleware in chain.iter().take(upto).rev() {
                middleware.after(parts, &mut response);
            }
        }
        self.done_upto = upto;
        self.reply = Some(response);
        self.phase = Phase::Replying;
        Next::write()
    }

    /// A deferred step finished: take its completion.
    fn take_completion(&mut self) -> Option<Completion> {
        self.parts
            .as_ref()
            .and_then(|p| p.defer.as_ref())
            .and_then(|slot| slot.take())
    }

    fn resume(&mut self) -> Next {
        match self.phase {
            Phase::WaitingMiddleware(i) => match self.take_completion() {
                Some(Completion::Resume) => {
                    if let Some(parts) = self.parts.as_mut() {
                        parts.defer = None;
                    }
                    self.run_chain(i + 1)
                }
                Some(Completion::Reply(r)) => self.reply(r, i),
                None => self.with_timeout(Next::wait()),
            },
            Phase::WaitingHandler => match self.take_completion() {
                Some(Completion::Reply(r)) => self.reply(r, self.after_upto),
                Some(Completion::Resume) => {
                    log::error!("a handler's Defer was resumed instead of completed");
                    let reply = error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal server error",
                        None,
                    );
                    self.reply(reply, self.after_upto)
                }
                None => self.with_timeout(Next::wait()),
            },
            _ => Next::write(),
        }
    }

    fn read_body(&mut self, decoder: &mut Decoder<'_>) -> Next {
        let limit = self.route().map_or(self.app.body_limit, |r| r.body_limit);
        let mut chunk = [0u8; 8192];
        loop {
            match decoder.read(&mut chunk) {
                Ok(0) => {
                    let body = std::mem::take(&mut self.body);
                    return self.call(body);
                }
                Ok(n) => {
                    if self.body.len() + n > limit {
                        self.body = Vec::new();
                        return self.too_large(limit);
                    }
                    self.body.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.with_timeout(Next::read());
                }
                // The engine reports a malformed or cut body through
                // on_error next.
                Err(_) => return Next::read(),
            }
        }
    }
}

/// The middleware of a request on its route (`route`), or with a fixed
/// answer in a scope (`scope`), or the app's: a borrow, so that a request
/// pays no reference counting for it.
fn chain_of<'a>(
    app: &'a AppShared,
    route: Option<&'a CompiledRoute>,
    scope: Option<&'a Arc<[Arc<dyn Middleware>]>>,
) -> &'a Arc<[Arc<dyn Middleware>]> {
    match (route, scope) {
        (Some(route), _) => &route.chain,
        (None, Some(scope)) => scope,
        (None, None) => &app.global,
    }
}

/// What the router decided for a request: its route and parameters, or a
/// fixed answer (404, 405, OPTIONS, a refused path) given once the `before`
/// steps of `scope` pass.
struct Routed {
    route: Option<RouteId>,
    scope: Option<Arc<[Arc<dyn Middleware>]>>,
}

impl Routed {
    /// A fixed answer, left in `reply`, given once `scope`'s `before`
    /// steps pass.
    fn fixed(
        reply: &mut Option<Response>,
        answer: Response,
        scope: Option<Arc<[Arc<dyn Middleware>]>>,
    ) -> Routed {
        *reply = Some(answer);
        Routed { route: None, scope }
    }
}

/// Routes `request`: its route (with its parameters' places written into
/// `captures`), or a fixed answer written into `reply`. Written in place:
/// this runs for every request.
fn route_for(
    app: &AppShared,
    request: &Request,
    captures: &mut Captures,
    reply: &mut Option<Response>,
) -> Routed {
    if request.target().form() == TargetForm::Asterisk {
        // `OPTIONS *` asks about the server, not a resource: it is here.
        return Routed::fixed(reply, Response::new(StatusCode::NO_CONTENT), None);
    }
    if crate::router::is_unsafe_path(request.path()) {
        let answer = error_response(
            StatusCode::BAD_REQUEST,
            "the path has a dot segment or an encoded NUL",
            None,
        );
        return Routed::fixed(reply, answer, None);
    }
    let Some(entry) = app.router.find_into(request.path(), captures) else {
        return unmatched(app, request.path(), reply);
    };
    match entry.find(request.method()) {
        Found::Route(id) => {
            // A nested app keeps the paths under its prefix, even where an
            // outer catch-all would match them.
            if app.scopes.len() > 1 {
                let scope = app.routes[id].scope;
                let inner = app.scope_of(request.path());
                let route_prefix = app.scopes[scope].prefix.len();
                if inner != scope && app.scopes[inner].prefix.len() > route_prefix {
                    return unmatched_in(app, inner, reply);
                }
            }
            Routed {
                route: Some(id),
                scope: None,
            }
        }
        Found::NotAllowed => {
            let answer = error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed", None)
                .with_header("allow", &entry.allow);
            Routed::fixed(reply, answer, entry.scope_chain(&app.routes))
        }
        Found::Options => {
            let answer = Response::new(StatusCode::NO_CONTENT).with_header("allow", &entry.allow);
            Routed::fixed(reply, answer, entry.scope_chain(&app.routes))
        }
    }
}

/// No route matches `path`: its scope's fallback, or a `404` with its
/// scope's middleware.
fn unmatched(app: &AppShared, path: &str, reply: &mut Option<Response>) -> Routed {
    let scope = if app.scopes.len() > 1 {
        app.scope_of(path)
    } else {
        0
    };
    unmatched_in(app, scope, reply)
}

fn unmatched_in(app: &AppShared, scope: usize, reply: &mut Option<Response>) -> Routed {
    let not_found = || error_response(StatusCode::NOT_FOUND, "not found", None);
    let Some(scope) = app.scopes.get(scope) else {
        return Routed::fixed(reply, not_found(), None);
    };
    match &scope.fallback {
        Some(fallback) => Routed {
            route: Some(*fallback),
            scope: None,
        },
        None => Routed::fixed(reply, not_found(), Some(scope.chain.clone())),
    }
}

impl AppHandler {
    /// Starts sending a streaming body: wake-ups through this request's
    /// `Control`, the producer (if any) on the blocking pool. No length:
    /// the engine frames it chunked (HTTP/1.1) or to the close (HTTP/1.0).
    fn start_stream(&mut self, stream: StreamBody, response: &mut ResponseHead) -> Next {
        let head = self
            .parts
            .as_ref()
            .is_some_and(|p| p.method() == turnstile_core::Method::Head);
        let producer = stream
            .producer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if head {
            // Nothing of it will be sent: the producer never starts.
            stream.channel.close();
            return Next::write();
        }
        let Some(control) = self.parts.as_ref().map(|p| p.control.clone()) else {
            stream.channel.close();
            return Next::remove();
        };
        stream.channel.bind(control);
        if self.draining {
            stream.channel.drain();
        }
        if let Some(producer) = producer {
            let started = self.app.state.producer_slot().and_then(|slot| {
                let job = move || {
                    let _slot = slot;
                    producer();
                };
                self.app.state.pool.execute(job).ok()
            });
            if started.is_none() {
                stream.channel.close();
                log::warn!("too many streams in progress: a streaming reply is refused with 503");
                response.set_status(StatusCode::SERVICE_UNAVAILABLE);
                response.set_content_length(0);
                self.status_sent = Some(StatusCode::SERVICE_UNAVAILABLE);
                return Next::end();
            }
        }
        self.stream = Some(stream.channel);
        Next::write()
    }

    /// A raw handler set its head: the `after` steps see and change it as
    /// they would a framework reply (CORS, request ids, ...).
    fn after_raw(&mut self, head: &mut ResponseHead) {
        let chain = chain_of(&self.app, self.route(), self.scope_chain.as_ref());
        if let Some(parts) = &self.parts {
            if self.after_upto > 0 {
                let mut view = Response::new(head.status());
                *view.headers_mut() = head.headers().clone();
                for middleware in chain.iter().take(self.after_upto).rev() {
                    middleware.after(parts, &mut view);
                }
                head.set_status(view.status());
                let headers = head.headers_mut();
                *headers = view.headers().clone();
                if let Some(ct) = view.content_type() {
                    let _ = headers.set("content-type", ct);
                }
            }
        }
        self.status_sent = Some(head.status());
    }

    /// Writes what is left of the chunk in hand; `Err` holds what the
    /// engine is told when it cannot all go out now.
    fn write_chunk(&mut self, encoder: &mut Encoder<'_>) -> Result<(), Next> {
        while self.written < self.chunk.len() {
            match encoder.write(&self.chunk[self.written..]) {
                Ok(n) => {
                    self.written += n;
                    self.sent += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(Next::write()),
                Err(e) => {
                    log::debug!("response body write failed: {e}");
                    return Err(Next::remove());
                }
            }
        }
        Ok(())
    }

    /// Writes a file body piece by piece, reading the next piece only when
    /// the last one is out.
    fn write_file(&mut self, encoder: &mut Encoder<'_>) -> Next {
        loop {
            if let Err(next) = self.write_chunk(encoder) {
                return next;
            }
            self.chunk.clear();
            self.written = 0;
            let Body::File(file) = &mut self.out else {
                return Next::end();
            };
            match file.next_piece(&mut self.chunk) {
                Ok(true) => {}
                Ok(false) => return Next::end(),
                Err(e) => {
                    // The length is promised: cut the connection rather
                    // than send a body that does not match it.
                    log::warn!("a file body failed while it was sent: {e}; closing the connection");
                    return Next::remove();
                }
            }
        }
    }

    /// Writes what the producers queued; waits when they have nothing yet.
    fn write_stream(&mut self, encoder: &mut Encoder<'_>) -> Next {
        let Some(stream) = self.stream.clone() else {
            return Next::end();
        };
        loop {
            if let Err(next) = self.write_chunk(encoder) {
                return next;
            }
            match stream.pull() {
                Pull::Bytes(chunk) => {
                    self.chunk = chunk;
                    self.written = 0;
                }
                Pull::Wait => {
                    return match stream.keep_alive() {
                        Some((every, _)) => Next::wait().timeout(every),
                        None => Next::wait(),
                    }
                }
                Pull::End => return Next::end(),
                Pull::Abort => {
                    log::warn!("a response stream was cut by its producer");
                    return Next::remove();
                }
            }
        }
    }
}

impl Handler for AppHandler {
    fn on_request(&mut self, request: Request) -> Next {
        let started = request.received().unwrap_or_else(Instant::now);
        // The parts are made first and routing writes into them: the
        // request, its parameters and the answer are not moved again.
        let Some(control) = self.control.take() else {
            log::error!("a request handler was given a second request");
            return Next::remove();
        };
        let parts = self.parts.insert(RequestParts {
            request,
            captures: Captures::default(),
            names: None,
            app: self.app.state.clone(),
            control,
            extensions: Extensions::default(),
            defer: None,
            started,
        });
        let routed = route_for(
            &self.app,
            &parts.request,
            &mut parts.captures,
            &mut self.reply,
        );
        let route = routed.route.and_then(|id| self.app.routes.get(id));
        if let Some(route) = route.filter(|r| !r.names.is_empty()) {
            parts.names = Some(route.names.clone());
        }
        self.scope_chain = routed.scope;
        self.route = routed.route;
        self.run_chain(0)
    }

    fn on_request_readable(&mut self, decoder: &mut Decoder<'_>) -> Next {
        match self.phase {
            Phase::Raw => match &mut self.raw {
                Some(raw) => raw.on_request_readable(decoder),
                None => Next::remove(),
            },
            Phase::ReadingBody => self.read_body(decoder),
            // Deferred steps come back through `on_wake`.
            Phase::WaitingHandler | Phase::WaitingMiddleware(_) => self.with_timeout(Next::wait()),
            Phase::Start | Phase::Replying | Phase::Writing => Next::write(),
        }
    }

    fn on_response(&mut self, response: &mut ResponseHead) -> Next {
        match self.phase {
            Phase::Raw => {
                let Some(raw) = &mut self.raw else {
                    return Next::remove();
                };
                let next = raw.on_response(response);
                self.after_raw(response);
                return next;
            }
            Phase::WaitingHandler | Phase::WaitingMiddleware(_) => {
                let next = self.resume();
                if !matches!(self.phase, Phase::Replying) {
                    log::error!(
                        "a deferred step woke the response before it had an answer ({next:?})"
                    );
                    let reply = error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal server error",
                        None,
                    );
                    self.reply = Some(reply);
                }
            }
            Phase::Replying => {}
            Phase::Start | Phase::ReadingBody | Phase::Writing => {
                log::error!("response requested before the handler answered");
                self.reply = Some(error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal server error",
                    None,
                ));
            }
        }
        // Read in place: a response is a hundred bytes and this is the hot
        // path.
        let Some(reply) = self.reply.as_mut() else {
            return Next::remove();
        };
        if let Some(error) = reply.error.take() {
            if let Some(render) = &self.app.render_errors {
                let mut rejection = Rejection::new(reply.status(), error.message);
                if let Some(field) = error.field {
                    rejection = rejection.with_field(field);
                }
                let rendered = catch_unwind(AssertUnwindSafe(|| render(&rejection)))
                    .unwrap_or_else(|_| {
                        log::error!("the app's error renderer panicked; answering its default");
                        rejection.clone().into_response()
                    });
                reply.adopt_rendering(rendered);
            }
        }
        response.set_status(reply.status());
        let headers = response.headers_mut();
        if let Some(ct) = reply.content_type() {
            if let Err(e) = headers.append("content-type", ct) {
                log::error!("dropped content type: {e}");
            }
        }
        headers.append_all(reply.headers());
        self.out = reply.take_body();
        self.reply = None;
        self.status_sent = Some(response.status());
        self.phase = Phase::Writing;
        if self.out.is_stream() {
            if let Body::Stream(stream) = std::mem::take(&mut self.out) {
                return self.start_stream(stream, response);
            }
        }
        if let Body::Upgrade(_) = self.out {
            // The protocol is made in `on_upgrade`, once the 101 is out.
            return Next::end();
        }
        if let Body::File(file) = &self.out {
            response.set_content_length(file.len());
            let head = self
                .parts
                .as_ref()
                .is_some_and(|p| p.method() == turnstile_core::Method::Head);
            return if head || file.is_empty() {
                Next::end()
            } else {
                Next::write()
            };
        }
        let length = self.out.as_bytes().len();
        if !response.status().forbids_body() {
            // A 304 may only repeat the length a 200 would have (RFC 9110
            // §8.6): an empty body says nothing of it.
            response.set_content_length(length as u64);
        }
        if length == 0 {
            Next::end()
        } else {
            Next::write()
        }
    }

    fn on_response_writable(&mut self, encoder: &mut Encoder<'_>) -> Next {
        if let Phase::Raw = self.phase {
            return match &mut self.raw {
                Some(raw) => raw.on_response_writable(encoder),
                None => Next::remove(),
            };
        }
        if self.stream.is_some() {
            return self.write_stream(encoder);
        }
        if let Body::File(_) = self.out {
            return self.write_file(encoder);
        }
        let bytes = self.out.as_bytes();
        while self.written < bytes.len() {
            match encoder.write(&bytes[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::write(),
                Err(e) => {
                    log::debug!("response write failed: {e}");
                    return Next::remove();
                }
            }
        }
        self.sent = self.written as u64;
        Next::end()
    }

    fn on_error(&mut self, error: Error) -> Next {
        if let Phase::Raw = self.phase {
            return match &mut self.raw {
                Some(raw) => raw.on_error(error),
                None => Next::remove(),
            };
        }
        match (&self.phase, error) {
            (Phase::Writing, Error::Timeout) if self.stream.is_some() => {
                // A stream idle for its keep-alive interval: send the
                // keep-alive, wait again. (A write timeout, a client not
                // reading, ends it.)
                let stream = self.stream.as_ref().filter(|s| s.is_parked());
                match stream.and_then(|s| s.keep_alive()) {
                    Some((_, bytes)) if self.written >= self.chunk.len() => {
                        self.chunk = bytes.to_vec();
                        self.written = 0;
                        Next::write()
                    }
                    _ => Next::remove(),
                }
            }
            (Phase::Writing, error) if self.stream.is_some() => {
                log::debug!("a response stream ends: {error}");
                Next::remove()
            }
            (
                Phase::ReadingBody | Phase::WaitingHandler | Phase::WaitingMiddleware(_),
                Error::Timeout,
            ) => {
                let upto = match self.phase {
                    Phase::WaitingMiddleware(i) => i,
                    _ => self.after_upto,
                };
                let reply = error_response(StatusCode::SERVICE_UNAVAILABLE, "timed out", None);
                self.reply(reply, upto)
            }
            (_, error) => {
                log::debug!("request aborted: {error}");
                Next::remove()
            }
        }
    }

    fn on_done(&mut self, outcome: Outcome) {
        if let Some(raw) = &mut self.raw {
            raw.on_done(outcome);
        }
        if let Some(stream) = self.stream.take() {
            // The client left or the body is out: producers stop.
            stream.close();
        }
        if let Some(parts) = &self.parts {
            let chain = chain_of(&self.app, self.route(), self.scope_chain.as_ref());
            let finished = Finished {
                status: self.status_sent,
                body_bytes: (!matches!(self.phase, Phase::Raw)).then_some(self.sent),
                complete: outcome == Outcome::Completed,
            };
            for middleware in chain.iter().take(self.done_upto).rev() {
                middleware.done(parts, &finished);
            }
        }
    }

    /// A `Defer` completed (or a raw handler's `Control` woke it).
    fn on_wake(&mut self) -> Next {
        match self.phase {
            Phase::Raw => match &mut self.raw {
                Some(raw) => raw.on_wake(),
                None => Next::remove(),
            },
            Phase::WaitingHandler | Phase::WaitingMiddleware(_) => self.resume(),
            Phase::Writing if self.stream.is_some() => Next::write(),
            // A wake-up with nothing to take: keep waiting for what the
            // exchange waits for.
            Phase::ReadingBody => self.with_timeout(Next::read()),
            Phase::Start | Phase::Replying | Phase::Writing => Next::write(),
        }
    }

    /// A drain began: a stream's producers hear of it; everything else
    /// carries on and is answered.
    fn on_shutdown(&mut self) -> Option<Next> {
        if let Some(raw) = &mut self.raw {
            return raw.on_shutdown();
        }
        self.draining = true;
        if let Some(stream) = &self.stream {
            stream.drain();
        }
        None
    }

    /// A raw route may switch protocols.
    fn on_upgrade(&mut self) -> Option<Box<dyn turnstile_core::upgrade::Protocol>> {
        if let Body::Upgrade(upgrade) = &self.out {
            let control = self.parts.as_ref()?.control.clone();
            return upgrade.take().map(|make| make(control));
        }
        self.raw.as_mut().and_then(|raw| raw.on_upgrade())
    }
}

impl std::fmt::Debug for AppHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppHandler").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    //! The engine's transitions, driven in memory through the test client:
    //! which steps run, in what order, and what each phase answers.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::test::TestClient;
    use crate::App;

    /// Records each step it runs as `name:step`; answers `before` with
    /// `answer` when given.
    struct Recorder {
        name: &'static str,
        log: Arc<Mutex<Vec<String>>>,
        answer: Option<StatusCode>,
    }

    impl Recorder {
        fn new(name: &'static str, log: &Arc<Mutex<Vec<String>>>) -> Recorder {
            Recorder {
                name,
                log: log.clone(),
                answer: None,
            }
        }

        fn push(&self, what: String) {
            self.log
                .lock()
                .unwrap()
                .push(format!("{}:{what}", self.name));
        }
    }

    impl Middleware for Recorder {
        fn before(&self, _: &mut RequestParts) -> Before {
            self.push("before".into());
            match self.answer {
                Some(status) => Before::Respond(Response::new(status)),
                None => Before::Continue,
            }
        }

        fn after(&self, _: &RequestParts, response: &mut Response) {
            self.push(format!("after {}", response.status().as_u16()));
        }

        fn done(&self, _: &RequestParts, finished: &Finished) {
            let status = finished.status.map_or(0, |s| s.as_u16());
            self.push(format!("done {status}"));
        }
    }

    fn taken(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    #[test]
    fn steps_run_outside_in_then_inside_out_and_all_hear_done() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let app = App::new()
            .wrap(Recorder::new("outer", &log))
            .wrap(Recorder::new("inner", &log))
            .get("/", || "hi");
        let client = TestClient::new(app).unwrap();
        assert_eq!(client.get("/").status(), StatusCode::OK);
        assert_eq!(
            taken(&log),
            [
                "outer:before",
                "inner:before",
                "inner:after 200",
                "outer:after 200",
                "inner:done 200",
                "outer:done 200"
            ]
        );
    }

    #[test]
    fn a_before_answer_skips_the_handler_and_the_steps_inside_it() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let called = Arc::new(AtomicUsize::new(0));
        let counter = called.clone();
        let gate = Recorder {
            answer: Some(StatusCode::FORBIDDEN),
            ..Recorder::new("gate", &log)
        };
        let app = App::new()
            .wrap(Recorder::new("outer", &log))
            .wrap(gate)
            .wrap(Recorder::new("inner", &log))
            .get("/", move || {
                counter.fetch_add(1, Ordering::SeqCst);
                "hi"
            });
        let client = TestClient::new(app).unwrap();
        assert_eq!(client.get("/").status(), StatusCode::FORBIDDEN);
        assert_eq!(called.load(Ordering::SeqCst), 0, "the handler never runs");
        // The answering step and those inside it run no `after`; only the
        // steps that passed the request on hear of the answer.
        assert_eq!(
            taken(&log),
            [
                "outer:before",
                "gate:before",
                "outer:after 403",
                "outer:done 403"
            ]
        );
    }

    #[test]
    fn fixed_answers_pass_through_the_app_steps() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let app = App::new()
            .wrap(Recorder::new("app", &log))
            .post("/items", || "made");
        let client = TestClient::new(app).unwrap();

        let wrong_method = client.get("/items");
        assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(wrong_method.header("allow"), Some("POST, OPTIONS"));
        assert_eq!(taken(&log), ["app:before", "app:after 405", "app:done 405"]);

        assert_eq!(client.get("/nothing").status(), StatusCode::NOT_FOUND);
        assert_eq!(taken(&log), ["app:before", "app:after 404", "app:done 404"]);
    }

    #[test]
    fn a_declared_body_over_the_limit_is_refused_before_it_is_read() {
        let called = Arc::new(AtomicUsize::new(0));
        let counter = called.clone();
        let app = App::new().route_with(
            &[turnstile_core::Method::Post],
            "/upload",
            move |body: String| {
                counter.fetch_add(1, Ordering::SeqCst);
                body
            },
            crate::app::RouteSettings::default().body_limit(4),
        );
        let client = TestClient::new(app).unwrap();
        let refused = client.post("/upload", "0123456789");
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(refused.text().contains("4 bytes"), "{}", refused.text());
        assert_eq!(called.load(Ordering::SeqCst), 0);
        assert_eq!(client.post("/upload", "0123").text(), "0123");
    }

    #[test]
    fn a_deferred_answer_without_a_defer_is_a_500_not_a_hang() {
        // A `Deferred` comes only from a `Defer`, but a handler can carry
        // one over from another request's.
        let stash: Arc<Mutex<Option<crate::Deferred>>> = Arc::default();
        let keep = stash.clone();
        let app = App::new()
            .get("/lend", move |defer: crate::Defer| {
                *keep.lock().unwrap() = Some(defer.later());
                defer.spawn(|| "lent")
            })
            .get("/borrow", move || -> Result<crate::Deferred, StatusCode> {
                stash.lock().unwrap().take().ok_or(StatusCode::GONE)
            });
        let client = TestClient::new(app).unwrap();
        assert_eq!(client.get("/lend").text(), "lent");
        assert_eq!(
            client.get("/borrow").status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn a_panicking_handler_answers_500_and_done_hears_it() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let app = App::new()
            .wrap(Recorder::new("app", &log))
            .get("/", || -> &'static str { panic!("handler bug") });
        let client = TestClient::new(app).unwrap();
        assert_eq!(client.get("/").status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(taken(&log), ["app:before", "app:after 500", "app:done 500"]);
        // The app goes on serving.
        assert_eq!(client.get("/").status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
