//! # leaky-server: the blog's leaky concurrent-sum server, in tokio
//!
//! Every route below leaks **exactly one task per request** (for `/abandon`: per request
//! whose client gives up), each through a different, real Rust mechanism. Its twin,
//! `fixed-server`, has the same files with each leak fixed; `diff -r leaky-server/src
//! fixed-server/src` shows only the leaks and their fixes, tagged `LEAK(Ln)` here and
//! `FIX(Ln)` there.
//!
//! | route | file | leak |
//! |---|---|---|
//! | `GET /sum` | [`sum`] | L1: a sum task blocked forever on its send |
//! | `GET /select` | [`select`] | L2: a `select!` loop whose only live branch never fires |
//! | `GET /range` | [`range`] | L3: `while let Some(x) = rx.recv()` with a sender kept alive |
//! | `GET /heartbeat` | [`heartbeat`] | L4: a `loop { sleep }` whose handle was dropped |
//! | `GET /upstream` | [`upstream`] | L5: an upstream call with no timeout |
//! | `GET /abandon?ms=N` | [`abandon`] | L6: work that outlives a client who gave up |
//!
//! Plus the debug routes of `leak-probe`: `/_count`, `/_stack`, `/_tasks`, `/metrics`.
//!
//! Run it, and watch it leak (two terminals):
//!
//! ```text
//! $ cargo run -p leaky-server
//! $ curl 127.0.0.1:8001/_count; curl 127.0.0.1:8001/sum; curl 127.0.0.1:8001/_count
//! ```

pub mod abandon;
pub mod heartbeat;
pub mod nums;
pub mod range;
pub mod select;
pub mod server;
pub mod sum;
pub mod upstream;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use tokio::sync::{mpsc, watch};

pub use server::{Config, serve, serve_with};

/// State shared by every request: cheap to clone, one `Arc` inside.
#[derive(Clone, Default)]
pub struct AppState {
    shared: Arc<Shared>,
}

/// What lives as long as the server. Every field is owned here and dropped only when the
/// router (and so the server) is dropped.
#[derive(Default)]
struct Shared {
    /// Config generation, bumped by a reload (this demo never reloads). `/select` workers
    /// watch it. The sender lives here for the server's whole life, so a receiver's
    /// `changed()` never reports "closed" while the server runs.
    config: watch::Sender<u64>,
    /// LEAK(L3): a clone of every `/range` feed's sender, "so that an admin action could
    /// push corrections into running sums". Nothing ever removes one.
    feeds: Mutex<Vec<mpsc::Sender<i64>>>,
    /// Heartbeats sent by `/heartbeat` tasks, in total.
    beats: AtomicU64,
    /// The upstream service `/upstream` calls (it never answers).
    upstream: upstream::Upstream,
}

impl AppState {
    /// Fresh state for one server.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The server's routes, debug routes included. Tests drive this with `oneshot`; `serve`
/// runs it on a listener.
pub fn app(state: AppState) -> Router {
    app_with(state, leak_probe::http::DebugConfig::default())
}

/// [`app`], with the debug routes configured (see `leak_probe::http::DebugConfig`).
pub fn app_with(state: AppState, debug: leak_probe::http::DebugConfig) -> Router {
    let routes = Router::new()
        .route("/sum", get(sum::handler))
        .route("/select", get(select::handler))
        .route("/range", get(range::handler))
        .route("/heartbeat", get(heartbeat::handler))
        .route("/upstream", get(upstream::handler))
        .route("/abandon", get(abandon::handler))
        .with_state(state);
    leak_probe::http::instrument_with(routes, debug)
}
