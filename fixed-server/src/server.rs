//! Serving the app on a listener, and stopping within a deadline.
//!
//! `serve` takes an already-bound listener (tests bind `127.0.0.1:0`) and a future that
//! resolves when it is time to stop (`main` passes Ctrl-C/SIGTERM). Shutdown then goes:
//!
//! 1. **Stop accepting.** Open connections finish their in-flight request and close.
//! 2. **Drain**, for at most [`Config::shutdown_timeout`]: requests finish normally.
//! 3. **Cancel** what is still running at the deadline: the root token is cancelled, so
//!    every request answers `503` at once and every task started for a request stops.
//! 4. **Wait for tracked tasks** (each spawn goes through the server's `TaskTracker`), for
//!    at most [`CANCEL_GRACE`] more. Then `serve` returns and nothing the server started is
//!    left running.
//!
//! Plain `axum::serve(..).with_graceful_shutdown(..)` does only step 1 and an unbounded
//! step 2: one stuck handler hangs it forever (that is what leaky-server does).

use std::future::{Future, IntoFuture};
use std::io;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{AppState, app_with};

/// How long cancelled work gets to wind down after the deadline.
pub const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// How the server stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How long in-flight requests may go on after the shutdown signal.
    pub shutdown_timeout: Duration,
    /// Serve the debug routes on a non-loopback address too.
    pub expose_debug: bool,
    /// Allow `/_stack?trace=tokio` (tokio's task dump, on a quiet runtime only).
    pub tokio_dump: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            shutdown_timeout: Duration::from_secs(5),
            expose_debug: false,
            tokio_dump: false,
        }
    }
}

/// What a shutdown did, for the log line and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Whether in-flight requests all finished before the deadline.
    pub drained: bool,
    /// Tasks still tracked when the deadline passed (cancelled).
    pub cancelled_tasks: usize,
    /// Tasks still tracked after the grace period (should be 0).
    pub left_running: usize,
    /// Requests in flight when the signal came.
    pub requests_in_flight: usize,
    /// Of those, requests cancelled (503) at the deadline.
    pub requests_cancelled: usize,
    /// From the shutdown signal to the end.
    pub took: Duration,
}

/// Serves with the default [`Config`] until `shutdown` resolves, then shuts down as the
/// module docs describe.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, shutdown, Config::default())
        .await
        .map(|_| ())
}

// ANCHOR: serve
/// [`serve`] with an explicit [`Config`]; returns what the shutdown did.
pub async fn serve_with(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    config: Config,
) -> io::Result<ShutdownReport> {
    let state = AppState::new();
    let counters = state.clone();
    let debug = leak_probe::http::DebugConfig::for_addr(
        listener.local_addr()?,
        config.expose_debug,
        config.tokio_dump,
    );
    let root = state.shutdown_token();
    let tasks = state.tasks();

    // Step 1 is axum's graceful shutdown, triggered by `stop_accepting`.
    let stop_accepting = CancellationToken::new();
    let server = axum::serve(listener, app_with(state, debug))
        .with_graceful_shutdown(stop_accepting.clone().cancelled_owned())
        .into_future();
    let mut server = std::pin::pin!(server);

    tokio::select! {
        result = &mut server => return result.map(|()| ShutdownReport {
            drained: true,
            cancelled_tasks: 0,
            left_running: 0,
            requests_in_flight: 0,
            requests_cancelled: 0,
            took: Duration::ZERO,
        }),
        () = shutdown => {}
    }
    let started = Instant::now();
    let in_flight = counters.requests_in_flight();
    stop_accepting.cancel();

    // Step 2: drain, until the deadline.
    let drained = match tokio::time::timeout(config.shutdown_timeout, &mut server).await {
        Ok(result) => {
            result?;
            true
        }
        Err(_) => false,
    };

    // Step 3: cancel what is left. Requests answer 503 and their connections close.
    let cancelled_tasks = tasks.len();
    root.cancel();
    if !drained {
        let _ = tokio::time::timeout(CANCEL_GRACE, &mut server).await;
    }

    // Step 4: wait for every tracked task.
    tasks.close();
    let _ = tokio::time::timeout(CANCEL_GRACE, tasks.wait()).await;
    let report = ShutdownReport {
        drained,
        cancelled_tasks: if drained { 0 } else { cancelled_tasks },
        left_running: tasks.len(),
        requests_in_flight: in_flight,
        requests_cancelled: counters.requests_cancelled(),
        took: started.elapsed(),
    };
    eprintln!(
        "fixed-server: shutdown in {} ms: {} request(s) in flight at the signal, {} drained, {} cancelled (503) at the deadline; {} task(s) cancelled, {} left running",
        report.took.as_millis(),
        report.requests_in_flight,
        report
            .requests_in_flight
            .saturating_sub(report.requests_cancelled),
        report.requests_cancelled,
        report.cancelled_tasks,
        report.left_running
    );
    Ok(report)
}
// ANCHOR_END: serve
