//! Limits that keep one bad client, or one bad handler, from taking a server down.
//!
//! Both servers run every request under them. They are not leak fixes, so they are the
//! same on both sides, and comparing the two servers measures the fixes alone:
//!
//! | limit | answer |
//! |---|---|
//! | a request running longer than [`Limits::request_timeout`] | `408 Request Timeout` (its future is dropped: whatever it owned is cancelled, and its request token with it) |
//! | more than [`Limits::max_concurrent`] requests at once | the rest wait for a slot (and time out like any request) |
//! | a URI (path + query) longer than [`MAX_URI_BYTES`] | `414 URI Too Long` |
//! | a body larger than [`MAX_BODY_BYTES`] | `413 Payload Too Large` |
//! | a handler that panics | `500 Internal Server Error`; the server goes on |
//!
//! (None of the routes reads a body; the limit is there for the day one does.)
//!
//! The outermost layer also counts the requests in flight ([`InFlight`]), for the line
//! each server prints when it shuts down.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// Longest URI accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The limits applied to every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest a request may run (the longest work a request may ask for, 60 s, fits).
    pub request_timeout: Duration,
    /// Requests handled at once.
    pub max_concurrent: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(65),
            max_concurrent: 1024,
        }
    }
}

/// Requests being handled right now, shared by the counting layer and whoever reports.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Requests in flight now.
    pub fn now(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counts a request as in flight for as long as it lives (answered, failed or dropped).
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn count_in_flight(State(in_flight): State<InFlight>, req: Request, next: Next) -> Response {
    in_flight.0.fetch_add(1, Ordering::Relaxed);
    let _counted = Counted(Arc::clone(&in_flight.0));
    next.run(req).await
}

/// Wraps `router` in every limit above, counting requests in `in_flight`.
pub fn harden(router: Router, limits: Limits, in_flight: &InFlight) -> Router {
    router
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::from_fn(limit_uri))
        .layer(GlobalConcurrencyLimitLayer::new(limits.max_concurrent))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: the handler panicked\n",
            )
                .into_response()
        }))
        .layer(middleware::from_fn_with_state(
            in_flight.clone(),
            count_in_flight,
        ))
}

async fn limit_uri(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > MAX_URI_BYTES {
        return (
            StatusCode::URI_TOO_LONG,
            format!("the URI is {len} bytes long; at most {MAX_URI_BYTES} are accepted\n"),
        )
            .into_response();
    }
    next.run(req).await
}
