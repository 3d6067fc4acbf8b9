//! `GET /upstream` — a call to a service that never answers.
//!
//! The handler calls an upstream service and gives up after
//! [`TIMEOUT`](scenarios::upstream::TIMEOUT) with a `504 Gateway Timeout`. The upstream
//! is simulated ([`scenarios::upstream::Upstream`]) and never answers, like a remote host
//! that accepted the connection and went silent (reqwest, like Go's `http.Client`, has
//! *no* timeout by default).
//!
//! # How this one leaks: LEAK(L5)
//! The timeout is on the *handler's wait*, not on the call. The call runs in a spawned
//! task; when the handler times out it drops its receiver and answers 504, but the task
//! is still awaiting the upstream, and will be for ever. One task per request.

use axum::extract::State;
use leak_probe::TraceExt as _;
use scenarios::Reject;
use scenarios::upstream::TIMEOUT;

use crate::AppState;

// ANCHOR: upstream_handler
/// `GET /upstream`: `504` after [`TIMEOUT`] (the upstream never answers).
pub async fn handler(State(state): State<AppState>) -> Result<String, Reject> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // LEAK(L5): nothing bounds this call; the task outlives the handler's timeout.
    tokio::spawn(async move {
        let answer = state.shared.upstream.call().traced().await;
        let _ = tx.send(answer);
    });
    match tokio::time::timeout(TIMEOUT, rx).await {
        Ok(Ok(answer)) => Ok(answer),
        // LEAK(L5): the handler gives up; the task it spawned does not.
        _ => Err(Reject::Timeout(format!(
            "upstream did not answer within {TIMEOUT:?}"
        ))),
    }
}
// ANCHOR_END: upstream_handler
