//! `GET /select` — the blog's "blocked on a for-select", fixed.
//!
//! Each request still starts a worker task that loops in `tokio::select!` over the
//! request's jobs and the server's config.
//!
//! # The fix: FIX(L2)
//!
//! The loop gets a branch that really ends it: the request's cancellation token
//! ([`crate::scope`]). The token is cancelled when the request ends, however it ends, so
//! the worker lives exactly as long as its request.
//!
//! (Handling `None` from `jobs.recv()` with a `break` would fix this particular loop too.
//! The token is the general fix: it also ends a worker that is busy, or waiting on
//! something that never closes, and it is how shutdown reaches every worker at once.)

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use axum::extract::State;

use crate::AppState;
use crate::nums::{self, BadRequest, Nums};
use crate::scope::RequestToken;
use leak_probe::TraceExt as _;

/// One unit of work for a worker, with the channel for its answer.
struct Job {
    nums: Nums,
    reply: oneshot::Sender<i128>,
}

// ANCHOR: select_worker
/// The per-request worker: answers jobs, and notices config reloads, until cancelled.
async fn worker(
    mut jobs: mpsc::Receiver<Job>,
    mut config: watch::Receiver<u64>,
    cancel: CancellationToken,
) {
    config.borrow_and_update();
    loop {
        tokio::select! {
            // FIX(L2): the request is over; so is this worker.
            () = cancel.cancelled() => break,
            // Disabled (not ended) once the handler's sender is gone.
            Some(job) = jobs.recv() => {
                let _ = job.reply.send(nums::partial_sum(&job.nums.0));
            }
            // Pending for as long as the server's config sender lives: forever.
            Ok(()) = config.changed().traced() => {
                // A real worker would re-read its settings here.
                config.borrow_and_update();
            }
            // Runs only when *every* branch is disabled; `cancelled()` never is.
            else => break,
        }
    }
}
// ANCHOR_END: select_worker

// ANCHOR: select_handler
/// `GET /select?nums=...`: answers the sum, computed by a per-request worker.
pub async fn handler(
    State(state): State<AppState>,
    RequestToken(cancel): RequestToken,
    nums: Nums,
) -> Result<String, BadRequest> {
    let (jobs, rx) = mpsc::channel(1);
    // FIX(L2): the worker ends when the request's token is cancelled.
    state
        .shared
        .tasks
        .spawn(worker(rx, state.shared.config.subscribe(), cancel));

    let (reply, answer) = oneshot::channel();
    // The worker lives until this request ends, so neither step can fail.
    let _ = jobs.send(Job { nums, reply }).await;
    let sum = answer.await.unwrap_or_default();
    Ok(nums::answer(sum)?.to_string())
}
// ANCHOR_END: select_handler
