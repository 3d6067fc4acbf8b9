//! `GET /upstream` — a call to a service that never answers.
//!
//! The handler calls an upstream service and gives up after
//! [`TIMEOUT`](scenarios::upstream::TIMEOUT) with a `504 Gateway Timeout`. The upstream
//! is simulated ([`scenarios::upstream::Upstream`]) and never answers, like a remote host
//! that accepted the connection and went silent (reqwest, like Go's `http.Client`, has
//! *no* timeout by default).
//!
//! # The fix: FIX(L5)
//! The timeout wraps *the call itself*, in the handler, with no task in between. When
//! it fires, `tokio::time::timeout` drops the call's future, which cancels the call: there
//! is nothing left waiting on the upstream. (With a real HTTP client, also set the
//! client's own timeout, e.g. `reqwest::ClientBuilder::timeout`.)

use axum::extract::State;
use leak_probe::TraceExt as _;
use scenarios::Reject;
use scenarios::upstream::TIMEOUT;

use crate::AppState;

// ANCHOR: upstream_handler
/// `GET /upstream`: `504` after [`TIMEOUT`] (the upstream never answers).
pub async fn handler(State(state): State<AppState>) -> Result<String, Reject> {
    // FIX(L5): the call itself is bounded, and cancelled (dropped) when time is up.
    let call = state.shared.upstream.call();
    match tokio::time::timeout(TIMEOUT, call.traced()).await {
        Ok(answer) => Ok(answer),
        // FIX(L5): when the handler gives up, so does the call: it was its future.
        _ => Err(Reject::Timeout(format!(
            "upstream did not answer within {TIMEOUT:?}"
        ))),
    }
}
// ANCHOR_END: upstream_handler
