//! FIX(L2, L6, L8): a cancellation token per request, the piece axum does not give you.
//!
//! Go hands every handler `r.Context()`, cancelled when the client goes away. axum has no
//! such thing, but it has the mechanism: when a client disconnects, hyper *drops* the
//! request's future. So this middleware creates a token for the request and holds a
//! `DropGuard` for it while the request runs. However the request ends (answered,
//! failed, or dropped mid-way), the guard is dropped and the token is cancelled.
//!
//! The token is a child of the server's shutdown token, so cancelling that one (at the
//! shutdown deadline, FIX(L8)) cancels every request too; the middleware then answers
//! `503 Service Unavailable` for a request still running.
//!
//! Handlers get the token with the [`RequestToken`] extractor and hand it (or a child of
//! it) to any work they start (FIX(L2), FIX(L6)).

use std::convert::Infallible;
use std::sync::atomic::Ordering;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

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

// ANCHOR: request_scope
/// Runs a request inside its own cancellation scope.
pub async fn request_scope(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = state.shared.shutdown.child_token();
    req.extensions_mut().insert(RequestToken(token.clone()));
    // Cancels `token` when this future ends or is dropped: the request's end, whatever it is.
    let _guard = token.drop_guard();
    tokio::select! {
        // Checked first: a request cancelled by shutdown answers 503, even if its handler
        // could also finish (with a cancelled result) in the same instant.
        biased;
        () = state.shared.shutdown.cancelled() => {
            state.shared.cancelled.fetch_add(1, Ordering::Relaxed);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down and cancelled this request\n",
            )
                .into_response()
        }
        response = next.run(req) => response,
    }
}
// ANCHOR_END: request_scope
