//! # turnstile
//!
//! A web microframework on Turnstile's state-machine HTTP/1.1 engine.

#![deny(missing_docs)]

pub mod router;
