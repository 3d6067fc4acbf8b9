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
//! # How this one leaks: LEAK(L4)
//! Dropping a tokio `JoinHandle` does not stop its task: it *detaches* it. The heartbeat
//! loop has no exit of its own, so once the handler drops the handle nothing can end it.
//! It beats every 100 ms for as long as the server runs: one task per request, and a
//! little CPU each.

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
    // LEAK(L4): the JoinHandle is dropped at once; the loop never ends by itself.
    tokio::spawn(beat(state.clone()));

    Ok(nums::answer(nums::partial_sum(&nums.0))?.to_string())
}
// ANCHOR_END: heartbeat_handler
