//! # Exercise 7: work that outlives a client who gave up — solution
//!
//! The builder ignored its send's result, so it went on for every line of the report
//! after the client (and the body, and the receiver) had gone. A sender knows when its
//! receiver is gone: `send` fails, and `Sender::closed()` resolves, even while the task is
//! busy between two sends. That is this task's `ctx.Done()`: the builder races each line
//! against `closed()` and stops at once.
//!
//! (fixed-server's routes get the same signal from a `CancellationToken` per request,
//! cancelled when the handler is dropped; here the handler is long gone while the body
//! streams, so the channel is the request's scope.) Capping the report, or building it
//! before answering, would also "pass" a weaker test: a patient client would get fewer
//! lines, or wait for all of them before the first.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::routing::get;
use http_body::Frame;
use tokio::sync::mpsc;

/// The server's routes.
pub fn app() -> Router {
    Router::new().route("/report", get(report))
}

// SIMULATION (don't change it: the test relies on it)
/// Builds line `step` of a report (a millisecond of work).
async fn line(step: u64) -> String {
    tokio::time::sleep(Duration::from_millis(1)).await;
    format!("line {step}\n")
}
// END SIMULATION

/// `GET /report?ms=N`: a report of N lines, streamed as they are built.
async fn report(Query(query): Query<HashMap<String, u64>>) -> Body {
    let steps = query.get("ms").copied().unwrap_or(10);
    let (lines, to_client) = mpsc::channel(16);
    tokio::spawn(async move {
        for step in 0..steps {
            // Stop as soon as nobody reads: the body, and its receiver, were dropped.
            let line = tokio::select! {
                () = lines.closed() => return,
                line = line(step) => line,
            };
            if lines.send(line).await.is_err() {
                return;
            }
        }
    });
    streamed(to_client)
}

/// Plumbing: a response body that yields the channel's lines as they come, and ends when
/// every sender is gone. Dropping the body drops the receiver.
fn streamed(lines: mpsc::Receiver<String>) -> Body {
    struct Lines(mpsc::Receiver<String>);

    impl http_body::Body for Lines {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            self.0
                .poll_recv(cx)
                .map(|line| line.map(|line| Ok(Frame::data(Bytes::from(line)))))
        }
    }

    Body::new(Lines(lines))
}
