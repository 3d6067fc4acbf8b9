//! `GET /select` — the blog's "blocked on a for-select".
//!
//! ```go
//! for {
//!     select {
//!     case <-c:
//!         // process here
//!     }
//! }
//! ```
//!
//! Each request starts a worker task that loops in `tokio::select!` over two channels:
//! the request's jobs, and the server's config (to pick up a reload while it works). The
//! handler sends one job, reads the answer, and returns.
//!
//! # The fix: FIX(L2)
//! The loop gets a branch that really ends it: the request's cancellation token
//! ([`crate::scope`]). The token is cancelled when the request ends, however it ends, so
//! the worker lives exactly as long as its request. (Handling `None` from `jobs.recv()`
//! with a `break` would fix this particular loop too. The token is the general fix: it
//! also ends a worker that is busy, or waiting on something that never closes, and it is
//! how shutdown reaches every worker at once.)

use axum::extract::State;
use leak_probe::TraceExt as _;
use scenarios::Reject;
use scenarios::nums::{self, Nums};
use tokio::sync::{mpsc, oneshot, watch};

use crate::AppState;

/// One unit of work for a worker, with the channel for its answer.
struct Job {
    nums: Nums,
    reply: oneshot::Sender<i128>,
}

// ANCHOR: select_worker
/// The per-request worker: answers jobs, and notices config reloads.
async fn worker(
    mut jobs: mpsc::Receiver<Job>,
    mut config: watch::Receiver<u64>,
    // FIX(L2): cancelled when the request ends.
    cancel: tokio_util::sync::CancellationToken,
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
            // FIX(L2): runs only when *every* branch is disabled; `cancelled()` never is,
            // so it is the token that ends this loop.
            else => break,
        }
    }
}
// ANCHOR_END: select_worker

// ANCHOR: select_handler
/// `GET /select?nums=...`: answers the sum, computed by a per-request worker.
pub async fn handler(
    State(state): State<AppState>,
    // FIX(L2): the request's cancellation token, cancelled when the request ends.
    crate::scope::RequestToken(cancel): crate::scope::RequestToken,
    nums: Nums,
) -> Result<String, Reject> {
    let (jobs, rx) = mpsc::channel(1);
    // FIX(L2): the worker ends when the request's token is cancelled (tracked: FIX(L8)).
    let config = state.shared.config.subscribe();
    state.shared.tasks.spawn(worker(rx, config, cancel));

    let (reply, answer) = oneshot::channel();
    // The worker is alive while this request runs, so neither step can fail.
    let _ = jobs.send(Job { nums, reply }).await;
    let sum = answer.await.unwrap_or_default();
    Ok(nums::answer(sum)?.to_string())
}
// ANCHOR_END: select_handler
