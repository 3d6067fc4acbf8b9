//! # leak-probe: count, find and catch leaked tokio tasks
//!
//! The blog post this workspace re-tells finds goroutine leaks in three steps. This crate
//! gives each step to tokio services, and to tests:
//!
//! 1. **Show the leak** — [`live_tasks`] and `GET /_count`: the runtime's live task count
//!    (the blog's `runtime.NumGoroutine()`), read before and after a load test.
//! 2. **Find its origin** — `GET /_stack` / `GET /_tasks`: live tasks grouped by *spawn site*
//!    and *await point*, with counts and ages ([`report`]). Spawn sites, ages and parents
//!    come from a [`registry`] fed by the runtime's spawn hooks ([`runtime::build`]); the
//!    line each task waits at from awaits marked with [`TraceExt::traced`]
//!    ([`await_point`]). Neither ever pauses the runtime; tokio's own task dump is there
//!    on request, for a quiet runtime.
//! 3. **Catch it early** — [`LeakCheck`]: wrap a test body; it fails, at the test's line,
//!    if tasks outlive it.
//!
//! Plus `GET /metrics` ([`metrics`]) so a fleet's leaks show up in Prometheus, and live
//! views of the same registry: `GET /_leaks` names the spawn sites whose tasks keep piling
//! up ([`leaks`]), `GET /_ui` is a page of it all, `/_stack?format=pprof` feeds
//! `go tool pprof` ([`report::pprof`]), and [`labels`] say on whose behalf a task runs.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! fn main() -> std::io::Result<()> {
//!     // Hooks can't be set through #[tokio::main]: build the runtime by hand.
//!     let runtime = leak_probe::runtime::build(tokio::runtime::Builder::new_multi_thread())?;
//!     runtime.block_on(async {
//!         let app = Router::new().route("/", get(|| async { "hello" }));
//!         let app = leak_probe::http::instrument(app); // + /_count /_stack /_tasks /metrics
//!         let listener = tokio::net::TcpListener::bind("127.0.0.1:8001").await?;
//!         axum::serve(listener, app).await
//!     })
//! }
//! ```
//!
//! Spawn sites, traces and ignore rules need `--cfg tokio_unstable` (this workspace's
//! `.cargo/config.toml` sets it); without it the count and the leak check still work.

pub mod await_point;
pub mod check;
pub mod http;
pub mod labels;
pub mod leaks;
pub mod metrics;
pub mod registry;
pub mod report;
pub mod runtime;
pub mod signal;

pub use await_point::TraceExt;
pub use check::{Baseline, Leak, LeakCheck};

/// Live tasks of the current runtime: what `/_count` answers.
///
/// One relaxed atomic load. Counts only this runtime's tasks: not `spawn_blocking` work,
/// not `spawn_local` tasks, not the `block_on` future, not other runtimes.
///
/// # Panics
///
/// Outside a tokio runtime, like `Handle::current()`.
pub fn live_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}
