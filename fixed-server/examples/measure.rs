//! Measures what the foundation's closing figures need, in one run (release build):
//!
//! * the spawn registry's cost per spawn (instrumented vs plain runtime, alternated);
//! * RSS per leaked task in leaky-server (`/sum`, in-process) at 10k and 100k leaks;
//! * `/_stack` time at 10k and 100k leaked tasks, with and without the task dump, and
//!   the worst `/_count` latency seen while it runs.
//!
//! ```text
//! cargo run --release -p fixed-server --example measure
//! ```

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn runtime(instrumented: bool) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    if instrumented {
        leak_probe::runtime::build(b).unwrap()
    } else {
        b.enable_all().build().unwrap()
    }
}

/// ns per `spawn` + completion of an empty task, 200k tasks in batches of 1000.
fn spawn_cost(instrumented: bool) -> f64 {
    let rt = runtime(instrumented);
    rt.block_on(async {
        let n = 200_000;
        let started = Instant::now();
        for _ in 0..n / 1000 {
            let handles: Vec<_> = (0..1000).map(|_| tokio::spawn(async {})).collect();
            for h in handles {
                h.await.unwrap();
            }
        }
        started.elapsed().as_nanos() as f64 / n as f64
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn get(app: &Router, path: &str) -> String {
    let response = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(response.into_body(), 1 << 30)
        .await
        .unwrap();
    String::from_utf8_lossy(&body).into_owned()
}

/// Leaks `n` more tasks through leaky-server's `/sum` (in-process, 64 at a time).
async fn leak(app: &Router, n: usize) {
    let mut done = 0;
    while done < n {
        let batch = (n - done).min(64);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let app = app.clone();
            set.spawn(async move { get(&app, "/sum").await });
        }
        set.join_all().await;
        done += batch;
    }
}

/// Times `path` while a task reads `/_count` every millisecond; returns (time, worst
/// `/_count` latency).
async fn timed_with_count_probe(app: &Router, path: &str) -> (Duration, Duration, usize) {
    let stop = tokio_util::sync::CancellationToken::new();
    let probe = {
        let app = app.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            while !stop.is_cancelled() {
                let started = Instant::now();
                get(&app, "/_count").await;
                worst = worst.max(started.elapsed());
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            worst
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let started = Instant::now();
    let body = get(app, path).await;
    let took = started.elapsed();
    stop.cancel();
    (took, probe.await.unwrap(), body.len())
}

fn main() {
    println!("== spawn registry cost (200k empty tasks, 2 workers, 5 alternating rounds)");
    let (mut plain, mut instrumented) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        plain.push(spawn_cost(false));
        instrumented.push(spawn_cost(true));
    }
    let (p, i) = (median(plain), median(instrumented));
    println!(
        "plain {p:.0} ns/task, instrumented {i:.0} ns/task: +{:.0} ns per spawn ({:.2}x)",
        i - p,
        i / p
    );

    // `--no-registry`: the same leak on a runtime without spawn hooks, to see what the
    // registry's entries cost in memory.
    let instrumented = !std::env::args().any(|a| a == "--no-registry");
    let rt = runtime(instrumented);
    rt.block_on(async {
        let app = leaky_server::app(leaky_server::AppState::new());
        get(&app, "/_count").await;
        // Warm the allocator and the first trace symbolization.
        leak(&app, 1000).await;
        get(&app, "/_stack").await;
        let base_tasks = leak_probe::live_tasks();
        let base_rss = rss_bytes();
        for target in [10_000usize, 100_000] {
            let have = leak_probe::live_tasks() - base_tasks;
            leak(&app, target - have).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let leaked = leak_probe::live_tasks() - base_tasks;
            let rss = rss_bytes();
            println!(
                "\n== {target} leaked /sum tasks (live tasks: {})",
                leak_probe::live_tasks()
            );
            println!(
                "RSS {:.1} MB -> {:.1} MB: {:.0} bytes per leaked task (registry entry included)",
                base_rss as f64 / 1e6,
                rss as f64 / 1e6,
                (rss - base_rss) as f64 / leaked as f64
            );
            for path in ["/_stack?trace=0", "/_stack", "/_tasks"] {
                let (took, worst, bytes) = timed_with_count_probe(&app, path).await;
                println!(
                    "GET {path:<16} {:>7.1} ms, {:>6} bytes; worst /_count meanwhile {:.1} ms",
                    took.as_secs_f64() * 1e3,
                    bytes,
                    worst.as_secs_f64() * 1e3
                );
            }
            let report = get(&app, "/_stack").await;
            if let Some(line) = report.lines().find(|l| l.starts_with("runtime paused")) {
                println!("  ({line})");
            }
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
}
