//! # Exercise 7: work that outlives a client who gave up
//!
//! **Goal:** stop work nobody waits for any more, the way Go code watches `ctx.Done()`.
//!
//! `GET /report?ms=N` streams a report of N lines, one per millisecond, *as it is built*:
//! a task builds the lines and sends each into a channel, and the response body reads the
//! channel. (The spawn is needed here: the handler returns the response at once, and the
//! body is read after the handler is gone.) When a client gives up (closes the
//! connection), hyper drops the response body, and the channel's receiver with it.
//!
//! Run `cargo run -p exercises -- check 7`: the reports of clients who left are still
//! being built, line by line, for nobody. Stop the work when nobody reads it any more
//! (the TODO). A patient client must still get every line, as it is built.

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
    // TODO: this task goes on building the report after its client has left.
    tokio::spawn(async move {
        for step in 0..steps {
            let line = line(step).await;
            let _ = lines.send(line).await;
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
