//! leak-probe in a service of your own: the whole wiring, in one file.
//!
//! ```text
//! cargo run -p leak-probe --example my_service            # serves 127.0.0.1:8080
//! curl 127.0.0.1:8080/hello; curl 127.0.0.1:8080/_count; curl 127.0.0.1:8080/_stack
//! ```
//!
//! `cargo test` builds this example, and the book's chapter "Using leak-probe in your own
//! service" includes it by anchor.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use leak_probe::http::DebugConfig;

// ANCHOR: runtime
/// `#[tokio::main]` cannot install runtime hooks, so build the runtime by hand: the same
/// multi-thread runtime, plus leak-probe's spawn/terminate hooks (with
/// `--cfg tokio_unstable`; without it, a plain runtime and a count-only `/_stack`).
fn main() -> std::io::Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    let runtime = leak_probe::runtime::build(builder)?;
    runtime.block_on(serve())
}
// ANCHOR_END: runtime

// ANCHOR: routes
/// Your routes, then `instrument_with`: it adds `/_count`, `/_stack`, `/_tasks` and
/// `/metrics`, and counts every request by route and status. The debug routes reveal
/// source paths: they are served on a loopback address only (elsewhere, only `/metrics`),
/// and tokio's own stop-the-world dump stays off.
fn app(addr: SocketAddr) -> Router {
    let app = Router::new().route("/hello", get(|| async { "hello\n" }));
    let debug = DebugConfig::for_addr(addr, /* expose */ false, /* tokio_dump */ false);
    leak_probe::http::instrument_with(app, debug)
}
// ANCHOR_END: routes

async fn serve() -> std::io::Result<()> {
    let addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("my_service listening on http://{addr}");
    axum::serve(listener, app(addr))
        .with_graceful_shutdown(leak_probe::signal::shutdown())
        .await
}
