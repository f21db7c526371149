//! Shared support for Turnstile's examples, black-box tests and benchmarks.

#![deny(missing_docs)]
