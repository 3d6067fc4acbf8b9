//! Serving the app on a listener, and stopping.
//!
//! [`serve_with`] takes an already-bound listener (so tests and `main` run the same code)
//! and a future that resolves when it is time to stop (`main` passes Ctrl-C or SIGTERM),
//! and returns what the shutdown did: a [`ShutdownReport`], which `main` prints.
//!
//! # The fix: FIX(L7) and FIX(L8)
//! Connections are accepted by our own loop ([`crate::conn`]), each with a deadline for
//! its request head and one for idling between requests (L7). Every task the server
//! spawns is tracked by its `TaskTracker`, every connection by another, and shutdown goes
//! in four bounded steps (L8): **stop accepting** (idle connections close, busy ones after
//! their response); **drain** for at most [`Config::shutdown_timeout`]: requests finish
//! and tracked tasks end (every accepted save is written; a connection part way through a
//! request head may finish it and be served); **cancel** what is still running at the
//! deadline: the root token is cancelled, so every request answers `503` at once, every
//! task started for a request stops and every connection without a request closes;
//! **wait** [`CANCEL_GRACE`] more for them to wind down. Then `serve` returns, and the report says what each step did.

use std::future::Future;
use std::io;
use std::time::Instant;

use leak_probe::http::DebugConfig;
use scenarios::ShutdownReport;
use tokio::net::TcpListener;

use crate::{AppState, app_with};

/// FIX(L8): how long cancelled work gets to wind down after the deadline.
pub const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How the server runs and stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    /// How the debug routes are served.
    pub debug: DebugConfig,
    /// FIX(L7): how long a connection may take for a request head, and idle between
    /// requests (`--header-timeout`, `--idle-timeout`).
    pub deadlines: crate::conn::Deadlines,
    /// FIX(L8): how long shutdown drains before it cancels (`--shutdown-timeout`).
    pub shutdown_timeout: ShutdownTimeout,
}

/// FIX(L8): the drain deadline, 5 s unless set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownTimeout(pub std::time::Duration);

impl Default for ShutdownTimeout {
    fn default() -> Self {
        ShutdownTimeout(std::time::Duration::from_secs(5))
    }
}

/// Serves with the default [`Config`] until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<ShutdownReport> {
    serve_with(listener, shutdown, Config::default()).await
}

// ANCHOR: serve
/// [`serve`] with an explicit [`Config`].
pub async fn serve_with(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    config: Config,
) -> io::Result<ShutdownReport> {
    let state = AppState::new();
    let app = app_with(state.clone(), config.debug);
    // FIX(L7, L8): our own accept loop: connections with deadlines, each on a tracked task.
    let (connections, tasks) = (tokio_util::task::TaskTracker::new(), state.tasks());
    let stop_accepting = tokio_util::sync::CancellationToken::new();
    let deadlines = config.deadlines;
    let accepting = crate::conn::accept(
        listener,
        app,
        deadlines,
        connections.clone(),
        stop_accepting.clone(),
        state.shutdown_token(),
    );
    tokio::select! {
        () = accepting => {}
        () = shutdown => {}
    }
    let (started, requests_in_flight) = (Instant::now(), state.requests_in_flight());
    // FIX(L8), step 1: stop accepting; connections finish their request and close.
    stop_accepting.cancel();
    connections.close();
    tasks.close();
    let everything = async {
        connections.wait().await;
        tasks.wait().await;
    };
    // Step 2: drain, until the deadline.
    let drained = tokio::time::timeout(config.shutdown_timeout.0, everything)
        .await
        .is_ok();
    // Step 3: cancel what is left. Requests answer 503, the work they started stops.
    state.shutdown_token().cancel();
    // Step 4: wait a little for the cancelled to wind down.
    let everything = async {
        connections.wait().await;
        tasks.wait().await;
    };
    let _ = tokio::time::timeout(CANCEL_GRACE, everything).await;
    let (saves_accepted, saves_written) = state.saves();
    Ok(ShutdownReport {
        took: started.elapsed(),
        requests_in_flight,
        requests_cancelled: state.requests_cancelled(), // FIX(L8): at the deadline.
        drained,
        saves_accepted,
        saves_written,
        tasks_left_running: Some(tasks.len() + connections.len()), // FIX(L8): tracked.
    })
}
// ANCHOR_END: serve
