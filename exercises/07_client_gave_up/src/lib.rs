//! # Exercise 7: work that outlives a client who gave up
//!
//! **Goal:** stop work nobody waits for any more, the way Go's `context` does.
//!
//! `GET /report?ms=N` builds a report in N steps of 1 ms each, in a spawned task, and
//! answers it. When a client gives up (closes the connection), hyper *drops* the
//! handler's future: what the handler owns is cancelled; what it spawned is not.
//!
//! Run `cargo run -p exercises -- check 7`: the reports of clients who left are still
//! being built. Cancel the work when the handler goes away (the TODO). axum has no
//! request-scoped token; you can make one.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use tokio::sync::oneshot;

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
    // TODO: this task goes on building the report after its client has left.
    tokio::spawn(async move {
        let _ = tx.send(build(steps).await);
    });
    rx.await.unwrap_or_default()
}
