//! `GET /range` — the blog's "looping on a channel", fixed.
//!
//! Each request still starts a consumer task that adds up whatever arrives on its feed
//! (`while let Some(x) = rx.recv().await`).
//!
//! # The fix: FIX(L3)
//!
//! No clone of the feed's sender is kept anywhere: the handler's sender is the only one,
//! and it is dropped as soon as the numbers are sent (the inner block). `recv()` then
//! returns `None`, the loop ends, and the consumer *returns* the total, which the handler
//! reads from its `JoinHandle`. If the client leaves mid-way, the handler's future is
//! dropped with the sender in it, and the loop ends just the same.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::AppState;
use crate::nums::{self, Nums};
use leak_probe::TraceExt as _;

/// How long the handler waits for the consumer's total.
pub const RANGE_TIMEOUT: Duration = Duration::from_secs(1);

// ANCHOR: range_consumer
/// The consumer: adds up the feed until it closes, and returns the total.
async fn consume(mut feed: mpsc::Receiver<i64>) -> i128 {
    let mut total = 0;
    // FIX(L3): ends when the handler's sender, the only one, is dropped.
    while let Some(x) = feed.recv().traced().await {
        total += i128::from(x);
    }
    total
}
// ANCHOR_END: range_consumer

// ANCHOR: range_handler
/// `GET /range?nums=...`: answers the sum, computed by a per-request consumer.
pub async fn handler(State(state): State<AppState>, nums: Nums) -> Response {
    let (feed, rx) = mpsc::channel(16);
    let consumer = state.shared.tasks.spawn(consume(rx));

    // FIX(L3): the sender's whole life is this block; no clone escapes it.
    {
        let feed = feed;
        for x in nums.0 {
            // Fails only if the consumer is gone, and then there is nothing to feed.
            if feed.send(x).await.is_err() {
                break;
            }
        }
    }
    // The feed is closed: the loop ends and the task returns its total.
    match tokio::time::timeout(RANGE_TIMEOUT, consumer).await {
        Ok(Ok(total)) => match nums::answer(total) {
            Ok(total) => total.to_string().into_response(),
            Err(bad) => bad.into_response(),
        },
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("consumer failed: {e}\n"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            format!("the sum did not finish within {RANGE_TIMEOUT:?}\n"),
        )
            .into_response(),
    }
}
// ANCHOR_END: range_handler
