//! `GET /abandon?ms=N` — work that outlives a client who gave up.
//!
//! Go's answer to this case is `context.Context`: the request's context is cancelled when
//! the client goes away, and work started for the request watches it.
//!
//! Each request hands `N` ms of work (default 1000) to a task, waits for the result and
//! answers. The hand-over has two steps: the worker sends the result, then waits for the
//! handler to acknowledge it before it cleans up (think: a temporary file it may delete
//! only once the response is committed).
//!
//! # The fix: FIX(L6)
//! The work runs under a child of the request's cancellation token ([`crate::scope`]),
//! through `CancellationToken::run_until_cancelled`. When the client gives up, hyper drops
//! the handler, the request scope's `DropGuard` cancels the token, and the work stops at
//! its next `.await`: no wasted work, and no hand-over left waiting. The task is also
//! tracked by the server's `TaskTracker`, so shutdown waits for it (FIX(L8)). (An owned
//! `JoinSet` would do it too: dropping the set aborts its tasks. The token is better when
//! the work should see the cancellation and clean up.)

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use leak_probe::TraceExt as _;
use scenarios::nums::WorkMs;
use tokio::sync::{Notify, oneshot};

use crate::AppState;

/// The hand-over between one request and its worker.
#[derive(Default)]
struct Handover {
    /// Notified by the handler once it has the result.
    acknowledged: Notify,
}

// ANCHOR: abandon_work
/// The worker: `ms` of work, then the two-step hand-over.
async fn work(
    ms: u64,
    result: oneshot::Sender<u64>,
    handover: Arc<Handover>,
    // FIX(L6): cancelled when the request ends.
    cancel: tokio_util::sync::CancellationToken,
) {
    // FIX(L6): every step below stops as soon as the request's token is cancelled.
    let steps = async move {
        // The work itself.
        tokio::time::sleep(Duration::from_millis(ms)).traced().await;
        // Step 1: the result.
        let _ = result.send(ms);
        // Step 2: the acknowledgement. If the handler is gone, the token is cancelled.
        handover.acknowledged.notified().traced().await;
        // (Clean-up would go here.)
    };
    let _ = cancel.run_until_cancelled(steps).await;
}
// ANCHOR_END: abandon_work

// ANCHOR: abandon_handler
/// `GET /abandon?ms=N`: does `N` ms of work and answers `worked N ms`.
pub async fn handler(
    State(state): State<AppState>,
    // FIX(L6): the request's cancellation token, cancelled when the request ends.
    crate::scope::RequestToken(cancel): crate::scope::RequestToken,
    WorkMs(ms): WorkMs,
) -> String {
    let handover = Arc::new(Handover::default());
    let (tx, rx) = oneshot::channel();
    // FIX(L6): tracked (FIX(L8)), and cancelled with the request (a child token:
    // cancelling the work never cancels the request).
    let work = work(ms, tx, Arc::clone(&handover), cancel.child_token());
    state.shared.tasks.spawn(work);

    // A client who gives up makes hyper drop this future right here.
    let worked = rx.await.unwrap_or_default();
    // `notify_one` stores a permit if the worker is not waiting yet: no lost wake-up.
    handover.acknowledged.notify_one();
    format!("worked {worked} ms\n")
}
// ANCHOR_END: abandon_handler
