//! Serving the app on a listener, and stopping.
//!
//! [`serve_with`] takes an already-bound listener (so tests and `main` run the same code)
//! and a future that resolves when it is time to stop (`main` passes Ctrl-C or SIGTERM),
//! and returns what the shutdown did: a [`ShutdownReport`], which `main` prints.
//!
//! # How these leak: LEAK(L7) and LEAK(L8)
//! The server is `axum::serve` as it comes. It spawns a task per connection and gives it
//! no deadline: a client that sends half a request head, or finishes a request and then
//! sits there, holds its task and its file descriptor for as long as it likes (L7; a few
//! hundred such clients are a slowloris attack). On shutdown it stops accepting and waits
//! for the requests in flight with no limit: one stuck request and it never returns. It
//! does not know the tasks requests spawned, so it cannot wait for them either: they are
//! dropped with the runtime when `main` returns, mid-work (L8, see [`crate::save`]).

use std::future::Future;
use std::io;
use std::time::Instant;

use leak_probe::http::DebugConfig;
use scenarios::ShutdownReport;
use tokio::net::TcpListener;

use crate::{AppState, app_with};

/// How the server runs and stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    /// How the debug routes are served.
    pub debug: DebugConfig,
    // LEAK(L7): no deadline for a request head, none for an idle connection.
    // LEAK(L8): no deadline for shutdown.
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
    // LEAK(L7, L8): axum's serve, no deadlines. Its graceful shutdown stops accepting and
    // waits for in-flight requests, however long they take; the moment and the requests
    // in flight then are noted for the report.
    let (signalled, at_signal) = tokio::sync::oneshot::channel();
    let counters = state.clone();
    let shutdown = async move {
        shutdown.await;
        let _ = signalled.send((Instant::now(), counters.requests_in_flight()));
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    let (started, requests_in_flight) = at_signal.await.unwrap_or((Instant::now(), 0));
    // LEAK(L8): the tasks requests spawned are not tracked: whatever still runs is dropped
    // with the runtime when `main` returns. The report can only count the saves lost.
    let (saves_accepted, saves_written) = state.saves();
    Ok(ShutdownReport {
        took: started.elapsed(),
        requests_in_flight,
        requests_cancelled: 0, // LEAK(L8): no deadline, so nothing is ever cancelled.
        drained: true,
        saves_accepted,
        saves_written,
        tasks_left_running: None, // LEAK(L8): not tracked, so not known.
    })
}
// ANCHOR_END: serve
