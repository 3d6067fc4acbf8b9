//! `GET /range` — the blog's "looping on a channel".
//!
//! ```go
//! go func() {
//!     for range ch { }
//! }()
//! ```
//!
//! Each request starts a consumer task that adds up whatever arrives on its feed
//! (`while let Some(x) = rx.recv().await`). The handler feeds it the numbers and answers
//! their total.
//!
//! # The fix: FIX(L3)
//! No clone of the feed's sender is kept anywhere: the handler's sender is the only one,
//! and it is dropped as soon as the numbers are sent (the inner block). `recv()` then
//! returns `None`, the loop ends, and the consumer *returns* the total, which the handler
//! reads from its `JoinHandle`, within [`RANGE_TIMEOUT`]. If the client leaves mid-way,
//! the handler's future is dropped with the sender in it, and the loop ends just the
//! same.

use axum::extract::State;
use leak_probe::TraceExt as _;
use scenarios::Reject;
use scenarios::nums::{self, Nums};
use tokio::sync::mpsc;

use crate::AppState;

// FIX(L3): the consumer returns its total; the handler waits for it with a deadline.
use std::time::Duration;

/// FIX(L3): how long the handler waits for the consumer's total.
pub const RANGE_TIMEOUT: Duration = Duration::from_secs(1);

// ANCHOR: range_consumer
/// The consumer: adds up the feed until it closes.
async fn consume(
    mut feed: mpsc::Receiver<i64>,
    // FIX(L3): no side channel: the total is the return value.
) -> i128 {
    let mut total = 0;
    // FIX(L3): ends when the handler's sender, the only one, is dropped.
    while let Some(x) = feed.recv().traced().await {
        // FIX(L3): summed up here, and returned once the feed closes.
        total += i128::from(x);
    }
    total // FIX(L3): the consumer's result, read by the handler.
}
// ANCHOR_END: range_consumer

// ANCHOR: range_handler
/// `GET /range?nums=...`: answers the sum, computed by a per-request consumer.
pub async fn handler(State(state): State<AppState>, nums: Nums) -> Result<String, Reject> {
    let (feed, rx) = mpsc::channel(16);
    // FIX(L3): the consumer is tracked (FIX(L8)), and the sender's whole life is this
    // block: no clone escapes it.
    let consumer = state.shared.tasks.spawn(consume(rx));
    {
        let feed = feed;
        for x in nums.0 {
            // Fails only if the consumer is gone, and then there is nothing to feed.
            if feed.send(x).await.is_err() {
                break;
            }
        }
    }
    // FIX(L3): the feed is closed, the loop ends, and the task returns its total.
    match tokio::time::timeout(RANGE_TIMEOUT, consumer).await {
        Ok(Ok(total)) => Ok(nums::answer(total)?.to_string()),
        Ok(Err(e)) => Err(Reject::Failed(format!("the consumer failed: {e}"))),
        Err(_) => Err(Reject::Timeout(format!(
            "the sum did not finish within {RANGE_TIMEOUT:?}"
        ))),
    }
}
// ANCHOR_END: range_handler
