//! `GET /upstream` — a call to a service that never answers, fixed.
//!
//! The handler calls an upstream service and gives up after [`UPSTREAM_TIMEOUT`] with a
//! `504 Gateway Timeout`. The upstream here is simulated and never answers, like a remote
//! host that accepted the connection and went silent (reqwest, like Go's `http.Client`,
//! has *no* timeout by default).
//!
//! # The fix: FIX(L5)
//!
//! The timeout wraps *the call itself*, in the handler, with no task in between. When
//! it fires, `tokio::time::timeout` drops the call's future, which cancels the call: there
//! is nothing left waiting on the upstream. (With a real HTTP client, also set the
//! client's own timeout, e.g. `reqwest::ClientBuilder::timeout`.)

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use tokio::sync::Notify;

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
    // FIX(L5): the call itself is bounded, and cancelled (dropped) when time is up.
    match tokio::time::timeout(UPSTREAM_TIMEOUT, state.shared.upstream.call().traced()).await {
        Ok(answer) => (StatusCode::OK, answer),
        Err(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            format!("upstream did not answer within {UPSTREAM_TIMEOUT:?}\n"),
        ),
    }
}
// ANCHOR_END: upstream_handler
