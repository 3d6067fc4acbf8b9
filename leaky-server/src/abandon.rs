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
//! # How this one leaks: LEAK(L6)
//! When a client gives up, hyper drops the handler's future: whatever the handler *owns*
//! is cancelled, whatever it *spawned* is not. So the worker goes on with work nobody
//! will read, for the full `N` ms. Then it waits for the acknowledgement, on a
//! [`Notify`]. Unlike a channel, a `Notify` has no sender to drop, so nothing ever tells
//! the worker that the handler is gone: it waits for ever. One task per request whose
//! client gave up. (Clients who wait for their answer leak nothing.)

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
    // LEAK(L6): nothing that says the request is over.
) {
    // LEAK(L6): every step runs to its end, whether anyone still waits or not.
    // The work itself.
    tokio::time::sleep(Duration::from_millis(ms)).traced().await;
    // Step 1: the result. Fails quietly if the handler is gone.
    let _ = result.send(ms);
    // Step 2. LEAK(L6): waits for an acknowledgement that a vanished handler never sends.
    handover.acknowledged.notified().traced().await;
    // (Clean-up would go here.)
}
// ANCHOR_END: abandon_work

// ANCHOR: abandon_handler
/// `GET /abandon?ms=N`: does `N` ms of work and answers `worked N ms`.
pub async fn handler(
    State(_state): State<AppState>,
    // LEAK(L6): the request's end is not handed to the work (nor the state's tracker).
    WorkMs(ms): WorkMs,
) -> String {
    let handover = Arc::new(Handover::default());
    let (tx, rx) = oneshot::channel();
    // LEAK(L6): detached; nothing ends it if this handler is dropped.
    tokio::spawn(work(ms, tx, Arc::clone(&handover)));

    // A client who gives up makes hyper drop this future right here.
    let worked = rx.await.unwrap_or_default();
    // `notify_one` stores a permit if the worker is not waiting yet: no lost wake-up.
    handover.acknowledged.notify_one();
    format!("worked {worked} ms\n")
}
// ANCHOR_END: abandon_handler
