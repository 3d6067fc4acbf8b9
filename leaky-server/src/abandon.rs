//! `GET /abandon?ms=N` — work that outlives a client who gave up.
//!
//! Go's answer to this case is `context.Context`: the request's context is cancelled when
//! the client goes away, and work started for the request watches it.
//!
//! Each request hands `N` ms of work (default 1000) to a task, waits for the result and
//! answers. The hand-over has two steps: the worker sends the result, then waits for the
//! handler to acknowledge it before it cleans up (think: a temporary file it may delete
//! only once the response is committed).
//!
//! # How this one leaks: LEAK(L6)
//!
//! When a client gives up, hyper drops the handler's future: whatever the handler *owns*
//! is cancelled, whatever it *spawned* is not. So the worker goes on with work nobody
//! will read, for the full `N` ms. Then it waits for the acknowledgement, on a
//! [`Notify`]. Unlike a channel, a `Notify` has no sender to drop, so nothing ever tells
//! the worker that the handler is gone: it waits forever. One task per request whose client
//! gave up. (Clients who wait for their answer leak nothing.)

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::nums::{BadRequest, form_pairs};
use leak_probe::TraceExt as _;

/// Work per request when `ms` is not given.
pub const DEFAULT_MS: u64 = 1000;
/// The longest work a request may ask for.
pub const MAX_MS: u64 = 60_000;

/// `?ms=N`: milliseconds of work, `0..=MAX_MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkMs(pub u64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for WorkMs {
    type Rejection = BadRequest;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let mut ms = None;
        for (key, value) in form_pairs(parts.uri.query().unwrap_or(""))? {
            match (key.as_str(), ms) {
                ("ms", None) => match value.parse::<u64>() {
                    Ok(n) if n <= MAX_MS => ms = Some(n),
                    _ => {
                        return Err(BadRequest(format!(
                            "ms must be a whole number of milliseconds from 0 to {MAX_MS}"
                        )));
                    }
                },
                ("ms", Some(_)) => return Err(BadRequest("ms is given twice".into())),
                _ => {
                    return Err(BadRequest(
                        "unknown query parameter: this route takes ms=N".into(),
                    ));
                }
            }
        }
        Ok(WorkMs(ms.unwrap_or(DEFAULT_MS)))
    }
}

/// The hand-over between one request and its worker.
#[derive(Default)]
struct Handover {
    /// Notified by the handler once it has the result.
    acknowledged: Notify,
}

// ANCHOR: abandon_work
/// The worker: `ms` of work, then the two-step hand-over.
async fn work(ms: u64, result: oneshot::Sender<u64>, handover: Arc<Handover>) {
    // The work itself. Runs to the end even when nobody is waiting any more.
    tokio::time::sleep(Duration::from_millis(ms)).traced().await;
    // Step 1: the result. Fails quietly if the handler is gone.
    let _ = result.send(ms);
    // Step 2. LEAK(L6): waits for an acknowledgement that a vanished handler never sends.
    handover.acknowledged.notified().traced().await;
    // (Clean-up would go here.)
}
// ANCHOR_END: abandon_work

// ANCHOR: abandon_handler
/// `GET /abandon?ms=N`: does `N` ms of work and answers `worked N ms`.
pub async fn handler(WorkMs(ms): WorkMs) -> String {
    let handover = Arc::new(Handover::default());
    let (tx, rx) = oneshot::channel();
    // LEAK(L6): detached; nothing ends it if this handler is dropped.
    tokio::spawn(work(ms, tx, Arc::clone(&handover)));

    // A client who gives up makes hyper drop this future right here.
    let worked = rx.await.unwrap_or_default();
    // `notify_one` stores a permit if the worker is not waiting yet: no lost wake-up.
    handover.acknowledged.notify_one();
    format!("worked {worked} ms\n")
}
// ANCHOR_END: abandon_handler
