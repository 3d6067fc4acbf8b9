//! Helpers shared by the criterion benches (`benches/*.rs`) and the side-by-side report
//! (`src/bin/report.rs`).
//!
//! ```text
//! cargo bench -p benches                                # criterion, each bench measured
//! cargo test -p benches --benches                       # each bench once (smoke test)
//! cargo run --release -p benches --bin report            # the side-by-side report
//! ```

pub mod layers;
pub mod marks;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// Whether criterion is measuring (`cargo bench`) rather than smoke-testing
/// (`cargo test`, which runs each bench once). Smoke tests use smaller sizes.
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// `full` when measuring, `smoke` when smoke-testing.
pub fn size(full: usize, smoke: usize) -> usize {
    if full_run() { full } else { smoke }
}

/// A 2-worker multi-thread runtime, with leak-probe's spawn hooks or without.
pub fn runtime(instrumented: bool) -> Runtime {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    if instrumented {
        leak_probe::runtime::build(builder).expect("a runtime")
    } else {
        builder.enable_all().build().expect("a runtime")
    }
}

/// GET `path` from `app` in-process; answers the body. Panics on a non-2xx/5xx mismatch
/// only through the caller's checks.
pub async fn get(app: &Router, path: &str) -> (u16, Vec<u8>) {
    let response = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).expect("a request"))
        .await
        .expect("routers are infallible");
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .expect("a body");
    (status, body.to_vec())
}

/// Sends `n` requests to `path` in-process, 64 at a time (leaky routes leak `n` tasks).
pub async fn load_in_process(app: &Router, path: &str, n: usize) {
    let mut done = 0;
    while done < n {
        let batch = (n - done).min(64);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let (app, path) = (app.clone(), path.to_owned());
            set.spawn(async move { get(&app, &path).await });
        }
        set.join_all().await;
        done += batch;
    }
}

/// Spawns `n` tasks that wait for ever (or until the runtime goes), like leaked ones.
pub fn spawn_idle(n: usize) {
    for _ in 0..n {
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
        });
    }
}

/// Waits until the runtime's live task count is at least `n` (or 10 s pass).
pub async fn wait_for_live_tasks(n: usize) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let live = leak_probe::live_tasks();
        if live >= n || tokio::time::Instant::now() > deadline {
            return live;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
