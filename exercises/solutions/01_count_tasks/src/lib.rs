//! # Exercise 1: count live tasks — solution
//!
//! `/_count` reads `Handle::current().metrics().num_alive_tasks()`: one atomic load, and
//! per runtime (so tests running side by side each see only their own tasks).
//!
//! The leak was a "print on exit" hook spawned per request: every greeting left a task
//! waiting for Ctrl-C. A process-wide hook belongs in `main`, spawned once; a request
//! only bumps the counter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::Query;
use axum::routing::get;

/// Visits so far (`main` would print it once, on Ctrl-C).
static VISITS: AtomicU64 = AtomicU64::new(0);

/// The server's routes.
pub fn app() -> Router {
    Router::new()
        .route("/hello", get(hello))
        .route("/_count", get(count))
}

/// Visits counted so far.
pub fn visits() -> u64 {
    VISITS.load(Ordering::Relaxed)
}

/// `GET /_count`: live tasks of this runtime, a bare integer.
async fn count() -> String {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
        .to_string()
}

/// `GET /hello?name=ferris` answers `hello, ferris!`.
async fn hello(Query(query): Query<HashMap<String, String>>) -> String {
    let name = query
        .get("name")
        .map_or("stranger", String::as_str)
        .to_owned();
    VISITS.fetch_add(1, Ordering::Relaxed);
    format!("hello, {name}!")
}
