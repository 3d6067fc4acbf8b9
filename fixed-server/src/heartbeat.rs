//! `GET /heartbeat` — the sleep loop of leaktest's own example.
//!
//! ```go
//! go func() {
//!     for {
//!         time.Sleep(time.Second)
//!     }
//! }()
//! ```
//!
//! Each request starts a heartbeat task (think: renewing a lease while the request works),
//! does its work, and answers.
//!
//! # The fix: FIX(L4)
//! The loop still has no exit of its own, and it does not need one: the handler keeps
//! the task's handle in an `AbortOnDropHandle`. When the handler returns, or is dropped
//! because the client left, the handle is dropped and the task is *aborted* at its next
//! `.await`. The heartbeat lives exactly as long as the request. (A `JoinSet` does the
//! same for a group of tasks; a cancellation token does it for tasks that must clean up
//! before they stop.)

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use leak_probe::TraceExt as _;
use scenarios::Reject;
use scenarios::nums::{self, Nums};

use crate::AppState;

/// How often a heartbeat beats.
pub const BEAT_EVERY: Duration = Duration::from_millis(100);

/// Beats until stopped from outside.
async fn beat(state: AppState) {
    let mut every = tokio::time::interval(BEAT_EVERY);
    loop {
        every.tick().traced().await;
        state.shared.beats.fetch_add(1, Ordering::Relaxed);
    }
}

// ANCHOR: heartbeat_handler
/// `GET /heartbeat?nums=...`: answers the sum, with a heartbeat running meanwhile.
pub async fn handler(State(state): State<AppState>, nums: Nums) -> Result<String, Reject> {
    // FIX(L4): aborted when `_heartbeat` is dropped, at the end of this function.
    let beating = state.shared.tasks.spawn(beat(state.clone()));
    let _heartbeat = tokio_util::task::AbortOnDropHandle::new(beating);

    Ok(nums::answer(nums::partial_sum(&nums.0))?.to_string())
}
// ANCHOR_END: heartbeat_handler
