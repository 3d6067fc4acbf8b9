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

use crate::{AppState, app_with};

/// Serves until `shutdown` resolves and in-flight requests are done. The debug routes
/// are served on a loopback address only (see [`serve_with`]).
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, shutdown, false).await
}

// ANCHOR: serve
/// [`serve`]; `expose_debug` serves the debug routes on any address, not only loopback.
pub async fn serve_with(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    expose_debug: bool,
) -> io::Result<()> {
    let debug = leak_probe::http::DebugAccess::for_addr(listener.local_addr()?, expose_debug);
    let app = app_with(AppState::new(), debug);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
// ANCHOR_END: serve
