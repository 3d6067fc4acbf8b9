//! # Exercise 1: count live tasks
//!
//! **Goal:** see a leak the way the blog does, with a `/_count` endpoint, then fix it.
//!
//! This tiny server greets visitors on `GET /hello?name=...`. The blog's first tool is an
//! endpoint that answers how many goroutines are alive; tokio's equivalent is the live
//! task count of the runtime.
//!
//! 1. Add `GET /_count`, answering the runtime's live task count as a bare integer
//!    (TODO 1).
//! 2. Run `cargo run -p exercises -- check 1`. The leak check fails: tasks are still
//!    alive after ten greetings. Its message says how many, and where they were spawned.
//! 3. Fix `/hello` so that a greeting leaves no task behind (TODO 2), and check again.
//!
//! Run the server by hand if you like, and watch the count grow with `curl`: the test
//! shows how (`exercise::app()` is the whole server).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::Query;
use axum::routing::get;

/// Visits so far. (Printing them when the process stops is the job of a hook that `main`
/// would spawn once, at start-up; this crate has no `main`.)
static VISITS: AtomicU64 = AtomicU64::new(0);

/// The server's routes.
pub fn app() -> Router {
    Router::new().route("/hello", get(hello))
    // TODO 1: add `GET /_count`, answering the number of live tasks of the current tokio
    // runtime as a bare integer, like the blog's `runtime.NumGoroutine()` handler.
}

/// Visits counted so far.
pub fn visits() -> u64 {
    VISITS.load(Ordering::Relaxed)
}

/// `GET /hello?name=ferris` answers `hello, ferris!`.
async fn hello(Query(query): Query<HashMap<String, String>>) -> String {
    let name = query
        .get("name")
        .map_or("stranger", String::as_str)
        .to_owned();
    VISITS.fetch_add(1, Ordering::Relaxed);

    // Print the visit count when the server is stopped with Ctrl-C.
    // TODO 2: this runs for *every request*: each one leaves a task waiting for Ctrl-C. A
    // process-wide hook is spawned once, at start-up, not per request; a request only
    // counts its visit.
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            println!("{} visits", visits());
        }
    });

    format!("hello, {name}!")
}
