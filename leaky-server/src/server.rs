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

/// How the debug routes are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    /// Serve the debug routes on a non-loopback address too.
    pub expose_debug: bool,
    /// Allow `/_stack?trace=tokio` (tokio's task dump, on a quiet runtime only).
    pub tokio_dump: bool,
}

/// Serves until `shutdown` resolves and in-flight requests are done. The debug routes
/// are served on a loopback address only (see [`serve_with`]).
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, shutdown, Config::default()).await
}

// ANCHOR: serve
/// [`serve`] with an explicit [`Config`].
pub async fn serve_with(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    config: Config,
) -> io::Result<()> {
    let debug = leak_probe::http::DebugConfig::for_addr(
        listener.local_addr()?,
        config.expose_debug,
        config.tokio_dump,
    );
    let app = app_with(AppState::new(), debug);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
// ANCHOR_END: serve
