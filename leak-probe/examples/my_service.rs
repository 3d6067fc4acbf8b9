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
/// Your routes, then `instrument_with`: it adds `/_count`, `/_stack`, `/_tasks`,
/// `/_leaks`, `/_ui` and `/metrics`, counts every request by route and status, and labels
/// the tasks each request spawns with its route. The debug routes reveal
/// source paths: they are served on a loopback address only (elsewhere, only `/metrics`),
/// and tokio's own stop-the-world dump stays off.
fn app(addr: SocketAddr) -> Router {
    let app = Router::new().route("/hello", get(|| async { "hello\n" }));
    let debug = DebugConfig::for_addr(addr, /* expose */ false, /* tokio_dump */ false);
    leak_probe::http::instrument_with(app, debug)
}
// ANCHOR_END: routes

// ANCHOR: live
/// Work that no request started gets a label of its own, which the tasks it spawns (and
/// theirs) inherit; and the leak sampler starts with the service, so `/_leaks` and `/_ui`
/// have history when someone first looks.
async fn serve() -> std::io::Result<()> {
    use leak_probe::labels::LabelExt as _;
    leak_probe::leaks::watch();
    tokio::spawn(refresh_cache().labeled("job: refresh cache"));
    // ANCHOR_END: live
    let addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("my_service listening on http://{addr}");
    axum::serve(listener, app(addr))
        .with_graceful_shutdown(leak_probe::signal::shutdown())
        .await
}

/// A background job: refreshes something every minute, for the life of the service.
async fn refresh_cache() {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        // Each refresh is a task of its own; it carries the job's label.
        let _ = tokio::spawn(async { /* fetch, store */ }).await;
    }
}
