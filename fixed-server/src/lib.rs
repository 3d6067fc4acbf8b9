//! # fixed-server: the same server, with each leak fixed at its FIX(Ln) tag
//!
//! Each scenario of [`scenarios::SCENARIOS`] with a route has a module here; the two
//! scenarios without one, slow connections (L7) and shutdown (L8), live in [`server`].
//! leaky-server and fixed-server have the same modules, file for file: `diff -r
//! leaky-server/src fixed-server/src` shows the leaks and their fixes, every hunk of it
//! tagged `LEAK(Ln)` on one side and `FIX(Ln)` on the other. What both servers share and
//! is neither a leak nor a fix (parsing, request limits, flags) lives in the `scenarios`
//! crate. `cargo run -p load-client -- scenarios` lists the scenarios.
//!
//! Plus the debug routes of `leak-probe`: `/_count`, `/_stack`, `/_tasks`, `/metrics`.
//!
//! ```text
//! $ cargo run -p leaky-server       # 127.0.0.1:8001 (fixed-server: 127.0.0.1:8002)
//! $ curl 127.0.0.1:8001/_count      # in a second terminal, before and after some load
//! ```

pub mod abandon;
pub mod heartbeat;
pub mod range;
pub mod save;
pub mod select;
pub mod server;
pub mod sum;
pub mod upstream;
// FIX(L7): connections with deadlines.
pub mod conn;
// FIX(L2, L6, L8): a cancellation token per request, a child of the server's.
pub mod scope;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;
use axum::routing::{MethodRouter, get};
use leak_probe::http::DebugConfig;
use scenarios::Tag;
use scenarios::harden::{self, InFlight, Limits};
use scenarios::saves::Saves;
use scenarios::upstream::Upstream;
use tokio::sync::watch;

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
    /// Config generation, bumped by a reload (this demo never reloads). [`select`]
    /// workers watch it. The sender lives here for the server's whole life, so a receiver's
    /// `changed()` never reports "closed" while the server runs.
    config: watch::Sender<u64>,
    /// Heartbeats sent by [`heartbeat`] tasks, in total.
    beats: AtomicU64,
    /// The upstream service [`upstream`] calls (it never answers).
    upstream: Upstream,
    /// What [`save`] accepted and wrote.
    saves: Arc<Saves>,
    /// Requests being handled right now.
    in_flight: InFlight,
    /// FIX(L3): no list of feed senders here; a feed's sender lives only in its handler.
    /// FIX(L8): every task the server spawns. Shutdown closes it and waits until it is
    /// empty, within its deadline.
    tasks: tokio_util::task::TaskTracker,
    /// FIX(L2, L6, L8): the root of every request's token ([`scope`]). Cancelled at the
    /// shutdown deadline, which cancels every request and all work they started.
    shutdown: tokio_util::sync::CancellationToken,
    /// FIX(L8): requests answered `503` because shutdown cancelled them.
    cancelled: std::sync::atomic::AtomicUsize,
}

impl AppState {
    /// Fresh state for one server.
    pub fn new() -> Self {
        Self::default()
    }

    /// Heartbeats sent so far.
    pub fn beats(&self) -> u64 {
        self.shared.beats.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Saves `(accepted, written)` so far.
    pub fn saves(&self) -> (u64, u64) {
        self.shared.saves.counts()
    }

    /// Requests being handled right now.
    pub fn requests_in_flight(&self) -> usize {
        self.shared.in_flight.now()
    }
}

/// FIX(L8): what shutdown reaches into.
impl AppState {
    /// The token that cancels everything this server does.
    pub fn shutdown_token(&self) -> tokio_util::sync::CancellationToken {
        self.shared.shutdown.clone()
    }

    /// The tracker that owns every task this server spawns.
    pub fn tasks(&self) -> tokio_util::task::TaskTracker {
        self.shared.tasks.clone()
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
    app_with(state, DebugConfig::default())
}

/// [`app`], with the debug routes configured (see `leak_probe::http::DebugConfig`).
pub fn app_with(state: AppState, debug: DebugConfig) -> Router {
    let mut routes = Router::new();
    for scenario in &scenarios::SCENARIOS {
        if let (Some(path), Some(handler)) = (scenario.route, handler(scenario.tag)) {
            routes = routes.route(path, handler);
        }
    }
    let routes = routes.with_state(state.clone());
    let routes = leak_probe::http::instrument_with(routes, debug);
    // FIX(L2, L6): every request runs in its own cancellation scope.
    let routes = tower::Layer::layer(&scope::RequestScopeLayer::new(state.clone()), routes);
    // Every request, debug routes included, runs under the limits of `harden`.
    harden::harden(routes, Limits::default(), &state.shared.in_flight)
}

/// The handler of each scenario's route.
fn handler(tag: Tag) -> Option<MethodRouter<AppState>> {
    Some(match tag {
        Tag::L1 => get(sum::handler),
        Tag::L2 => get(select::handler),
        Tag::L3 => get(range::handler),
        Tag::L4 => get(heartbeat::handler),
        Tag::L5 => get(upstream::handler),
        Tag::L6 => get(abandon::handler),
        Tag::L7 => return None,
        Tag::L8 => get(save::handler),
    })
}
