//! Serving the app on a listener, and stopping.
//!
//! `serve` takes an already-bound listener (tests bind `127.0.0.1:0`) and a future that
//! resolves when it is time to stop (`main` passes Ctrl-C/SIGTERM).
//!
//! On shutdown the server stops accepting connections and waits for in-flight requests,
//! with no limit. That is what `axum::serve` does out of the box, and one stuck handler
//! would hang it forever; fixed-server bounds it. Leaked tasks are not waited for: they
//! are dropped with the runtime when `main` returns.

use std::future::Future;
use std::io;

use tokio::net::TcpListener;

use crate::{AppState, app};

// ANCHOR: serve
/// Serves until `shutdown` resolves and in-flight requests are done.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = app(AppState::new());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
// ANCHOR_END: serve
