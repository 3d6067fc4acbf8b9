//! `GET /sum` — the blog's first leak, fixed.
//!
//! The same two sum tasks over the two halves. What changed is *who owns what*.
//!
//! # The fix: FIX(L1)
//!
//! leaky-server kept Go's shape, one `GoChan` value holding both ends of each
//! channel, shared by everyone, so a waiting sender could keep its own receiver alive.
//! Here each channel is split the tokio way: the *task* owns only its sending end, the
//! *handler* owns the receiving ends, and reads **both** (the blog's `x, y := <-c1, <-c2`),
//! within [`SUM_TIMEOUT`].
//!
//! Whatever happens next, no task can outlive the request: a `oneshot` send never waits,
//! and if the handler is gone (timed out, or dropped because the client left) its
//! receivers are dropped with it and the send fails at once.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

use crate::AppState;
use crate::nums::{self, Nums};
use leak_probe::TraceExt as _;

/// How long the handler waits for both halves.
pub const SUM_TIMEOUT: Duration = Duration::from_secs(1);

// ANCHOR: sum_task
/// `func sum(s []int, c chan int)`: adds up one half and sends the result.
async fn sum(nums: Vec<i64>, c: oneshot::Sender<i128>) {
    // FIX(L1): the task owns only the sending end. `send` never waits; if the handler is
    // gone it fails, and the task ends either way.
    let _ = c.send(nums::partial_sum(&nums));
}
// ANCHOR_END: sum_task

// ANCHOR: sum_handler
/// `GET /sum?nums=...`: answers the sum of *both* halves (`12` for the blog's numbers).
pub async fn handler(State(state): State<AppState>, nums: Nums) -> Response {
    let (first, second) = nums.halves();
    let (c1, x) = oneshot::channel();
    let (c2, y) = oneshot::channel();

    // go sum(s[:len(s)/2], c1); go sum(s[len(s)/2:], c2). Tracked, so shutdown sees them.
    state.shared.tasks.spawn(sum(first, c1));
    // FIX(L1): this task's result is read below, and its receiver is owned by this handler.
    state.shared.tasks.spawn(sum(second, c2));

    // x, y := <-c1, <-c2 — both results, within a deadline.
    match tokio::time::timeout(SUM_TIMEOUT, async { (x.await, y.await) })
        .traced()
        .await
    {
        Ok((Ok(x), Ok(y))) => match nums::answer(x + y) {
            Ok(total) => total.to_string().into_response(),
            Err(bad) => bad.into_response(),
        },
        Ok(_) => (StatusCode::INTERNAL_SERVER_ERROR, "a sum task failed\n").into_response(),
        Err(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            format!("the sum did not finish within {SUM_TIMEOUT:?}\n"),
        )
            .into_response(),
    }
}
// ANCHOR_END: sum_handler
