//! `GET /upstream` — a call to a service that never answers.
//!
//! The handler calls an upstream service and gives up after [`UPSTREAM_TIMEOUT`] with a
//! `504 Gateway Timeout`. The upstream here is simulated and never answers, like a remote
//! host that accepted the connection and went silent (reqwest, like Go's `http.Client`,
//! has *no* timeout by default).
//!
//! # How this one leaks: LEAK(L5)
//!
//! The timeout is on the *handler's wait*, not on the call. The call runs in a spawned
//! task; when the handler times out it drops its receiver and answers 504, but the task
//! is still awaiting the upstream, and will be forever. One task per request.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use tokio::sync::{Notify, oneshot};

use crate::AppState;
use leak_probe::TraceExt as _;

/// How long the handler waits for the upstream.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_millis(100);

/// A simulated upstream service that accepts every call and never answers.
#[derive(Debug, Default)]
pub struct Upstream {
    /// Would be notified when an answer arrives. Nothing ever notifies it.
    answered: Notify,
}

impl Upstream {
    /// Calls the upstream. Never returns.
    pub async fn call(&self) -> String {
        self.answered.notified().await;
        "answer".into()
    }
}

// ANCHOR: upstream_handler
/// `GET /upstream`: `504` after [`UPSTREAM_TIMEOUT`] (the upstream never answers).
pub async fn handler(State(state): State<AppState>) -> (StatusCode, String) {
    let (tx, rx) = oneshot::channel();
    // LEAK(L5): nothing bounds this call; the task outlives the handler's timeout.
    tokio::spawn(async move {
        let answer = state.shared.upstream.call().traced().await;
        let _ = tx.send(answer);
    });

    match tokio::time::timeout(UPSTREAM_TIMEOUT, rx).await {
        Ok(Ok(answer)) => (StatusCode::OK, answer),
        _ => (
            StatusCode::GATEWAY_TIMEOUT,
            format!("upstream did not answer within {UPSTREAM_TIMEOUT:?}\n"),
        ),
    }
}
// ANCHOR_END: upstream_handler
