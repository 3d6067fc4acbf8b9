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
//!
//! # What it costs
//!
//! Every request pays for these, so they are composed as concrete tower services around
//! the whole router, boxed once (the router's fallback), and the checks of [`Guard`] are
//! one hand-written service: no allocation per request, one semaphore permit, and a timer
//! only for a request that waits (the request timeout starts at its first wait, so a
//! request answered at once never touches the timer wheel). Layered one by one with
//! `Router::layer` and `from_fn`, the same limits cost dozens of heap allocations per
//! request; the `layers` bench counts them.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service, ServiceBuilder};

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

/// Wraps `app` (a router, or a router already wrapped in more layers) in every limit
/// above, counting requests in `in_flight`.
pub fn harden<S>(app: S, limits: Limits, in_flight: &InFlight) -> Router
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    // Outermost first. The guard holds the timeout, so waiting for a slot of the
    // concurrency limit counts towards it.
    let limited = ServiceBuilder::new()
        .layer(GuardLayer {
            in_flight: in_flight.clone(),
            timeout: limits.request_timeout,
        })
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent,
        ))
        .service(app);
    // One boxed route for everything: the limits wrap the whole router, debug routes too.
    Router::new().fallback_service(limited)
}

/// The per-request checks, in one service: URI and body size, the request timeout, the
/// in-flight count, panics.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    in_flight: InFlight,
    timeout: Duration,
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            in_flight: self.in_flight.clone(),
            timeout: self.timeout,
        }
    }
}

/// See [`GuardLayer`].
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    in_flight: InFlight,
    timeout: Duration,
}

impl<S> Service<Request> for Guard<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Guarded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let counted = Counted::enter(&self.in_flight);
        if let Some(refused) = refuse(&req) {
            return Guarded::Refused {
                response: Some(refused),
                _counted: counted,
            };
        }
        // A body of unknown length is read through a limit; one of known length was
        // checked above. (Requests without a body, all of ours, are passed as they are.)
        let req = match http_body::Body::size_hint(req.body()).exact() {
            Some(_) => req,
            None => req.map(|body| Body::new(http_body_util::Limited::new(body, MAX_BODY_BYTES))),
        };
        Guarded::Running {
            inner: self.inner.call(req),
            timeout: self.timeout,
            timer: None,
            _counted: counted,
        }
    }
}

/// A `414` or `413` for a request over the limits, or `None`.
fn refuse(req: &Request) -> Option<Response> {
    let len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > MAX_URI_BYTES {
        return Some(
            (
                StatusCode::URI_TOO_LONG,
                format!("the URI is {len} bytes long; at most {MAX_URI_BYTES} are accepted\n"),
            )
                .into_response(),
        );
    }
    let declared = http_body::Body::size_hint(req.body()).exact();
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Some(
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is too large; at most {MAX_BODY_BYTES} bytes are accepted\n"),
            )
                .into_response(),
        );
    }
    None
}

/// Counts a request as in flight for as long as it lives (answered, failed or dropped).
#[derive(Debug)]
pub struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn enter(in_flight: &InFlight) -> Counted {
        in_flight.0.fetch_add(1, Ordering::Relaxed);
        Counted(Arc::clone(&in_flight.0))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pin_project_lite::pin_project! {
    /// A request under [`Guard`].
    #[project = GuardedProj]
    pub enum Guarded<F> {
        /// Refused before it ran.
        Refused { response: Option<Response>, _counted: Counted },
        /// Running; a panic while polling it becomes a `500`, and it times out `timeout`
        /// after it first waits. (The timer is armed only then: a request answered on its
        /// first poll never touches the timer wheel.)
        Running {
            #[pin] inner: F,
            timeout: Duration,
            #[pin] timer: Option<tokio::time::Sleep>,
            _counted: Counted,
        },
    }
}

impl<F> Future for Guarded<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GuardedProj::Refused { response, .. } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            GuardedProj::Running {
                inner,
                timeout,
                mut timer,
                ..
            } => {
                // The handler's future is dropped with this one after a panic, like
                // tower-http's `CatchPanic`: nothing of it runs again.
                match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                    Ok(Poll::Ready(output)) => return Poll::Ready(output),
                    Ok(Poll::Pending) => {}
                    Err(_) => {
                        return Poll::Ready(Ok((
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal error: the handler panicked\n",
                        )
                            .into_response()));
                    }
                }
                if timer.is_none() {
                    timer.set(Some(tokio::time::sleep(*timeout)));
                }
                let expired = timer
                    .as_pin_mut()
                    .is_some_and(|sleep| sleep.poll(cx).is_ready());
                if expired {
                    // Dropping this future drops the handler's: whatever it owned is
                    // cancelled (its request token with it).
                    return Poll::Ready(Ok(StatusCode::REQUEST_TIMEOUT.into_response()));
                }
                Poll::Pending
            }
        }
    }
}
