//! # fixed-server: the same server with every leak fixed
//!
//! File for file the twin of `leaky-server`: the same routes, the same answers (except
//! `/sum`, which now uses both halves), and none of the leaks, also when a client
//! disconnects mid-request. Each fix is tagged `FIX(Ln)` at the spot where leaky-server
//! has `LEAK(Ln)`; `diff -r leaky-server/src fixed-server/src` shows them all.
//!
//! | route | file | fix |
//! |---|---|---|
//! | `GET /sum` | [`sum`] | F1: the handler owns the receivers and reads both, with a timeout |
//! | `GET /select` | [`select`] | F2: the loop also waits on the request's cancellation token |
//! | `GET /range` | [`range`] | F3: no sender outlives the handler, so the loop ends |
//! | `GET /heartbeat` | [`heartbeat`] | F4: the heartbeat is aborted when its handle is dropped |
//! | `GET /upstream` | [`upstream`] | F5: the call itself is bounded by a timeout |
//! | `GET /abandon?ms=N` | [`abandon`] | F6: the work stops when the request's token is cancelled |
//!
//! Two pieces of structure make the fixes hold together:
//!
//! * **Every request has a cancellation token** ([`scope`]), a child of the server's root
//!   token. It is cancelled when the request ends *for any reason*: answered, timed out,
//!   or dropped because the client went away. Work started for a request watches it.
//! * **Every spawned task is tracked** by the server's `TaskTracker`, so shutdown can wait
//!   for them (with a deadline; see [`server`]).
//!
//! ```text
//! $ cargo run -p fixed-server                      # listens on 127.0.0.1:8002
//! $ curl 127.0.0.1:8002/_count; curl 127.0.0.1:8002/sum; curl 127.0.0.1:8002/_count
//! ```

pub mod abandon;
pub mod harden;
pub mod heartbeat;
pub mod nums;
pub mod range;
pub mod scope;
pub mod select;
pub mod server;
pub mod sum;
pub mod upstream;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;
use axum::routing::get;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use server::{Config, ShutdownReport, serve, serve_with};

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
    // FIX(L3): no list of feed senders here; a feed's sender lives only in its handler.
    /// Heartbeats sent by `/heartbeat` tasks, in total.
    beats: AtomicU64,
    /// The upstream service `/upstream` calls (it never answers).
    upstream: upstream::Upstream,
    /// The root of every request's token ([`scope`]). Cancelled at the shutdown deadline,
    /// which cancels every request and all work they started.
    shutdown: CancellationToken,
    /// Every task the server spawns. Shutdown closes it and waits until it is empty.
    tasks: TaskTracker,
    /// Requests being handled right now (for the shutdown log).
    in_flight: std::sync::atomic::AtomicUsize,
    /// Requests answered 503 because shutdown cancelled them.
    cancelled: std::sync::atomic::AtomicUsize,
}

impl AppState {
    /// Fresh state for one server.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token that cancels everything this server does.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    /// The tracker that owns every task this server spawns.
    pub fn tasks(&self) -> TaskTracker {
        self.shared.tasks.clone()
    }

    /// Requests being handled right now.
    pub fn requests_in_flight(&self) -> usize {
        self.shared
            .in_flight
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests cancelled by shutdown so far.
    pub fn requests_cancelled(&self) -> usize {
        self.shared
            .cancelled
            .load(std::sync::atomic::Ordering::Relaxed)
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
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            scope::request_scope,
        ))
        .with_state(state);
    // Every request, debug routes included, is bounded by the limits of `harden`.
    harden::harden(
        leak_probe::http::instrument_with(routes, debug),
        harden::Limits::default(),
    )
}
