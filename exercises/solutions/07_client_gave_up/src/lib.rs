//! # Exercise 7: work that outlives a client who gave up — solution
//!
//! The handler makes a `CancellationToken` for its request and holds its `DropGuard`.
//! The handler's future is dropped when the client leaves, the guard with it, which
//! cancels the token; the work runs under `run_until_cancelled`, so it stops at its next
//! `.await`. (fixed-server does this once for every route, in a middleware.)

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// The server's routes.
pub fn app() -> Router {
    Router::new().route("/report", get(report))
}

/// Builds a report of `steps` lines, one per millisecond.
async fn build(steps: u64) -> String {
    let mut report = String::new();
    for step in 0..steps {
        tokio::time::sleep(Duration::from_millis(1)).await;
        report.push_str(&format!("line {step}\n"));
    }
    report
}

/// `GET /report?ms=N`: a report of N lines.
async fn report(Query(query): Query<HashMap<String, u64>>) -> String {
    let steps = query.get("ms").copied().unwrap_or(10);
    let (tx, rx) = oneshot::channel();
    let token = CancellationToken::new();
    // Cancels `token` when this handler ends or is dropped: when the request ends.
    let _request_scope = token.clone().drop_guard();
    tokio::spawn(async move {
        if let Some(report) = token.run_until_cancelled(build(steps)).await {
            let _ = tx.send(report);
        }
    });
    rx.await.unwrap_or_default()
}
