//! FIX(L2, L6, L8): a cancellation token per request, the piece axum does not give you.
//!
//! Go hands every handler `r.Context()`, cancelled when the client goes away. axum has no
//! such thing, but it has the mechanism: when a client disconnects, hyper *drops* the
//! request's future. So this middleware creates a token for the request and holds a
//! `DropGuard` for it while the request runs. However the request ends (answered,
//! failed, or dropped mid-way), the guard is dropped and the token is cancelled.
//!
//! The scope also watches for shutdown (FIX(L8)): when the server's shutdown token is
//! cancelled at the deadline, a request still running answers `503 Service Unavailable`,
//! its future is dropped, and its token is cancelled with it. A request served by
//! [`crate::conn`] learns it from its connection ([`CONNECTION`]): the connection's task
//! watches the token once for all its requests, and a request reads one flag when it is
//! polled. (Watching a `CancellationToken` takes its mutex on every poll; a watch per
//! request would be several locks per request.)
//!
//! It is a hand-written tower service rather than `axum::middleware::from_fn`: every
//! request pays for it, and this one allocates only the token.
//!
//! Handlers get the token with the [`RequestToken`] extractor and hand it (or a child of
//! it) to any work they start (FIX(L2), FIX(L6)).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tokio_util::sync::{CancellationToken, DropGuard, WaitForCancellationFutureOwned};

use crate::AppState;

/// The current request's cancellation token.
#[derive(Debug, Clone)]
pub struct RequestToken(pub CancellationToken);

impl<S: Send + Sync> FromRequestParts<S> for RequestToken {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Outside the middleware (a handler mounted elsewhere) there is no request scope;
        // a fresh token still works, it is just never cancelled by a disconnect.
        Ok(parts
            .extensions
            .get::<RequestToken>()
            .cloned()
            .unwrap_or_else(|| RequestToken(CancellationToken::new())))
    }
}

tokio::task_local! {
    /// FIX(L8): whether the server shut down the connection whose task serves this
    /// request. Set by [`crate::conn`], which watches the server's shutdown token for
    /// the connection; requests read it when they are polled.
    pub static CONNECTION: std::cell::Cell<bool>;
}

// ANCHOR: request_scope
/// Runs every request inside its own cancellation scope (a tower layer).
#[derive(Clone)]
pub struct RequestScopeLayer(AppState);

impl RequestScopeLayer {
    /// Scopes for the requests of the server whose state is `state`.
    pub fn new(state: AppState) -> Self {
        RequestScopeLayer(state)
    }
}

impl<S> tower::Layer<S> for RequestScopeLayer {
    type Service = RequestScope<S>;

    fn layer(&self, inner: S) -> RequestScope<S> {
        RequestScope {
            inner,
            state: self.0.clone(),
        }
    }
}

/// See [`RequestScopeLayer`].
#[derive(Clone)]
pub struct RequestScope<S> {
    inner: S,
    state: AppState,
}

impl<S> tower::Service<Request> for RequestScope<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Scoped<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let token = CancellationToken::new();
        req.extensions_mut().insert(RequestToken(token.clone()));
        // Shutdown reaches the request through its connection (`CONNECTION`); a request
        // that came some other way (a test's `oneshot`) watches the server's token itself.
        let shutdown = match CONNECTION.try_with(|_| ()) {
            Ok(()) => None,
            Err(_) => Some(self.state.shared.shutdown.clone().cancelled_owned()),
        };
        Scoped {
            shutdown,
            inner: self.inner.call(req),
            // Cancels `token` when the request ends, however it ends (answered, failed,
            // or dropped because the client went away).
            _guard: token.drop_guard(),
            state: self.state.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request in its scope.
    pub struct Scoped<F> {
        // `None`: served by `crate::conn`, which tells it through `CONNECTION`.
        #[pin]
        shutdown: Option<WaitForCancellationFutureOwned>,
        #[pin]
        inner: F,
        _guard: DropGuard,
        state: AppState,
    }
}

impl<F> Future for Scoped<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Checked first: a request cancelled by shutdown answers 503, even if its handler
        // could also finish (with a cancelled result) in the same instant.
        let shut_down = match this.shutdown.as_pin_mut() {
            Some(shutdown) => shutdown.poll(cx).is_ready(),
            None => CONNECTION.try_with(std::cell::Cell::get).unwrap_or(false),
        };
        if shut_down {
            this.state.shared.cancelled.fetch_add(1, Ordering::Relaxed);
            return Poll::Ready(Ok((
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down and cancelled this request\n",
            )
                .into_response()));
        }
        this.inner.poll(cx)
    }
}
// ANCHOR_END: request_scope
