//! Limits that keep one bad client, or one bad handler, from taking the server down.
//!
//! fixed-server is the one people copy, so every request is bounded:
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

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
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
    /// Longest a request may run (the longest route, `/abandon?ms=60000`, fits).
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

/// Wraps `router` in every limit above.
pub fn harden(router: Router, limits: Limits) -> Router {
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
