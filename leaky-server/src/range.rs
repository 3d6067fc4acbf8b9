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
//! # How this one leaks: LEAK(L3)
//! `rx.recv()` returns `None` only once *every* sender is gone. The handler's sender is
//! dropped when it returns, but a clone was put in the server's shared `feeds` list, "so
//! that an admin action could push corrections into running sums", and nothing ever takes
//! it out. So the loop waits for a next number that never comes: one task per request
//! (and one `Sender` in the list, too). Because the loop never ends, its total cannot be
//! its return value: the consumer publishes a running total, and the handler waits until
//! it covers every number it sent.

use axum::extract::State;
use leak_probe::TraceExt as _;
use scenarios::Reject;
use scenarios::nums::{self, Nums};
use tokio::sync::mpsc;

use crate::AppState;

// LEAK(L3): a running total, since the consumer never returns one.
use tokio::sync::watch;

/// LEAK(L3): how far a feed got: numbers received, and their sum so far.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    items: usize,
    total: i128,
}

// ANCHOR: range_consumer
/// The consumer: adds up the feed until it closes.
async fn consume(
    mut feed: mpsc::Receiver<i64>,
    // LEAK(L3): where the running total goes.
    progress: watch::Sender<Progress>,
) {
    let mut now = Progress::default();
    // LEAK(L3): ends only when every sender of `feed` is dropped.
    while let Some(x) = feed.recv().traced().await {
        // LEAK(L3): published as it goes; this loop has no end to return a total at.
        now.items += 1;
        now.total += i128::from(x);
        progress.send_replace(now);
    }
}
// ANCHOR_END: range_consumer

// ANCHOR: range_handler
/// `GET /range?nums=...`: answers the sum, computed by a per-request consumer.
pub async fn handler(State(state): State<AppState>, nums: Nums) -> Result<String, Reject> {
    let (feed, rx) = mpsc::channel(16);
    // LEAK(L3): a detached consumer, and a clone of its feed kept in shared state, "for
    // later". Never removed.
    let (progress, mut seen) = watch::channel(Progress::default());
    tokio::spawn(consume(rx, progress));
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
    // LEAK(L3): the loop never ends, so wait for the running total to cover every number.
    let total = match seen.wait_for(|p| p.items == n).await {
        Ok(p) => p.total,
        Err(_) => 0,
    };
    Ok(nums::answer(total)?.to_string())
}
// ANCHOR_END: range_handler
