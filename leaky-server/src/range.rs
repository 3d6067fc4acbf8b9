//! `GET /range` — the blog's "looping on a channel".
//!
//! ```go
//! go func() {
//!     for range ch { }
//! }()
//! ```
//!
//! Each request starts a consumer task that adds up whatever arrives on its feed
//! (`while let Some(x) = rx.recv().await`) and publishes the running total. The handler
//! feeds it the numbers and waits until the total covers all of them.
//!
//! # How this one leaks: LEAK(L3)
//!
//! `rx.recv()` returns `None` only once *every* sender is gone. The handler's sender is
//! dropped when it returns, but a clone was put in the server's shared `feeds` list, and
//! nothing ever takes it out. So the loop waits for a next number that never comes: one
//! task per request (and one `Sender` in the list, too).

use axum::extract::State;
use tokio::sync::{mpsc, watch};

use crate::AppState;
use crate::nums::{self, BadRequest, Nums};
use leak_probe::TraceExt as _;

/// Running state of one feed: how many numbers arrived, and their sum so far.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    items: usize,
    total: i128,
}

// ANCHOR: range_consumer
/// The consumer: adds up the feed until it closes.
async fn consume(mut feed: mpsc::Receiver<i64>, progress: watch::Sender<Progress>) {
    let mut now = Progress::default();
    // LEAK(L3): ends only when every sender of `feed` is dropped.
    while let Some(x) = feed.recv().traced().await {
        now.items += 1;
        now.total += i128::from(x);
        progress.send_replace(now);
    }
}
// ANCHOR_END: range_consumer

// ANCHOR: range_handler
/// `GET /range?nums=...`: answers the sum, computed by a per-request consumer.
pub async fn handler(State(state): State<AppState>, nums: Nums) -> Result<String, BadRequest> {
    let (feed, rx) = mpsc::channel(16);
    let (progress, mut seen) = watch::channel(Progress::default());
    tokio::spawn(consume(rx, progress));

    // LEAK(L3): a clone of the feed kept in shared state, "for later". Never removed.
    state
        .shared
        .feeds
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(feed.clone());

    let n = nums.0.len();
    for x in nums.0 {
        // The consumer is alive (it cannot end), so sending cannot fail.
        let _ = feed.send(x).await;
    }
    // The loop never ends, so its total can't be its return value: wait for the
    // running total to cover every number instead.
    let total = match seen.wait_for(|p| p.items == n).await {
        Ok(p) => p.total,
        Err(_) => 0,
    };
    Ok(nums::answer(total)?.to_string())
}
// ANCHOR_END: range_handler
