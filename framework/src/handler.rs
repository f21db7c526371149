//! Plain functions as handlers: any `Fn` of up to 9 extractors whose result
//! is [`IntoReply`](crate::reply::IntoReply).

use std::marker::PhantomData;
use std::sync::Arc;

use crate::extract::{FromRequest, FromRequestParts, RequestParts, Requirements};
use crate::reply::{IntoReply, IntoResponse, Reply};

/// A function the framework can call for a request. Implemented for every
/// `Fn(A1, ..., An) -> R` (n ≤ 9) where `A1..An-1` read the head, `An` may
/// read the body, and `R: IntoReply`.
///
/// The `Args` parameter only tells the implementations apart; it is
/// inferred.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler function",
    note = "a handler takes up to 9 extractors and returns a reply (`impl IntoResponse`, or `Deferred`); only its last argument may read the body (`Json`, `Form`, `String`, `Vec<u8>`)",
    note = "a closure or function that captures state must be `Clone + Send + Sync + 'static`"
)]
pub trait HandlerFn<Args>: Clone + Send + Sync + 'static {
    /// Whether the body must be read before the call.
    const NEEDS_BODY: bool;

    /// Extracts the arguments and calls the function.
    fn call(&self, parts: &mut RequestParts, body: Vec<u8>) -> Reply;

    /// What its extractors need from the app (checked at build time).
    fn requirements(needs: &mut Requirements) {
        let _ = needs;
    }
}

impl<F, R> HandlerFn<()> for F
where
    F: Fn() -> R + Clone + Send + Sync + 'static,
    R: IntoReply,
{
    const NEEDS_BODY: bool = false;

    fn call(&self, _parts: &mut RequestParts, _body: Vec<u8>) -> Reply {
        self().into_reply()
    }
}

macro_rules! handler_fn {
    ($($head:ident),* ; $last:ident) => {
        #[allow(non_snake_case, unused_mut)]
        impl<F, R, M, $($head,)* $last> HandlerFn<(M, $($head,)* $last)> for F
        where
            F: Fn($($head,)* $last) -> R + Clone + Send + Sync + 'static,
            R: IntoReply,
            $($head: FromRequestParts,)*
            $last: FromRequest<M>,
        {
            const NEEDS_BODY: bool = $last::NEEDS_BODY;

            fn requirements(needs: &mut Requirements) {
                $($head::requirements(needs);)*
                <$last as FromRequest<M>>::requirements(needs);
            }

            fn call(&self, parts: &mut RequestParts, body: Vec<u8>) -> Reply {
                $(
                    let $head = match $head::from_request_parts(parts) {
                        Ok(v) => v,
                        Err(rejection) => return Reply::Now(rejection.into_response()),
                    };
                )*
                let $last = match $last::from_request(parts, body) {
                    Ok(v) => v,
                    Err(rejection) => return Reply::Now(rejection.into_response()),
                };
                self($($head,)* $last).into_reply()
            }
        }
    };
}

handler_fn!(; A1);
handler_fn!(A1; A2);
handler_fn!(A1, A2; A3);
handler_fn!(A1, A2, A3; A4);
handler_fn!(A1, A2, A3, A4; A5);
handler_fn!(A1, A2, A3, A4, A5; A6);
handler_fn!(A1, A2, A3, A4, A5, A6; A7);
handler_fn!(A1, A2, A3, A4, A5, A6, A7; A8);
handler_fn!(A1, A2, A3, A4, A5, A6, A7, A8; A9);

/// A handler with its argument types erased, as the route table stores it.
pub(crate) trait Endpoint: Send + Sync {
    fn needs_body(&self) -> bool;
    fn requirements(&self, needs: &mut Requirements);
    fn call(&self, parts: &mut RequestParts, body: Vec<u8>) -> Reply;
}

struct Erased<H, Args> {
    handler: H,
    _args: PhantomData<fn() -> Args>,
}

impl<H: HandlerFn<Args>, Args: 'static> Endpoint for Erased<H, Args> {
    fn needs_body(&self) -> bool {
        H::NEEDS_BODY
    }

    fn requirements(&self, needs: &mut Requirements) {
        H::requirements(needs)
    }

    fn call(&self, parts: &mut RequestParts, body: Vec<u8>) -> Reply {
        self.handler.call(parts, body)
    }
}

pub(crate) fn erase<H: HandlerFn<Args>, Args: 'static>(handler: H) -> Arc<dyn Endpoint> {
    Arc::new(Erased {
        handler,
        _args: PhantomData,
    })
}
