//! The debug routes stay safe on a loaded server (issue 15): `/_stack` asked again and
//! again while 200 clients hammer the server answers every time, within a bound, and the
//! server is still serving afterwards.
//!
//! Before the fix, `/_stack` took a tokio task dump by default. Under load the workers'
//! run queues refill between leak-probe's "are the queues short?" check and the dump, and
//! tokio 1.54's dump then spins for ever in `Shared::steal_all`: the whole runtime hangs at
//! 100 % CPU and answers nothing, `/_count` included. This test hung within a few dumps.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;

/// How long any debug route may take to answer under load.
const BOUND: Duration = Duration::from_secs(5);

/// A server like the blog's: `/work` spawns two tasks and waits for both; `/leak` leaks one
/// parked task per request (so dumps have many tasks to trace). On an instrumented
/// 2-worker runtime of its own thread, with the tokio dump allowed on request.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        let runtime = leak_probe::runtime::build(builder).unwrap();
        runtime.block_on(async move {
            let app = Router::new()
                .route(
                    "/work",
                    get(|| async {
                        let a = tokio::spawn(async { 7 + 2 + 8 });
                        let b = tokio::spawn(async { -9 + 4 });
                        (a.await.unwrap() + b.await.unwrap()).to_string()
                    }),
                )
                .route(
                    "/leak",
                    get(|| async {
                        tokio::spawn(std::future::pending::<()>());
                        "leaked one"
                    }),
                );
            let config = leak_probe::http::DebugConfig {
                tokio_dump: true,
                ..leak_probe::http::DebugConfig::default()
            };
            let app = leak_probe::http::instrument_with(app, config);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            // Runs until the test process ends (or hangs, which is what this test catches:
            // the test's own thread never waits on this one).
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// One GET with a deadline: `Ok((status, body, took))`, or why it failed.
async fn get_within(
    client: &reqwest::Client,
    url: &str,
    bound: Duration,
) -> Result<(u16, String, Duration), String> {
    let started = Instant::now();
    let request = async {
        let response = client.get(url).send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, body))
    };
    match tokio::time::timeout(bound, request).await {
        Ok(Ok((status, body))) => Ok((status, body, started.elapsed())),
        Ok(Err(e)) => Err(format!("{url}: {e}")),
        Err(_) => Err(format!("{url}: no answer within {bound:?}")),
    }
}

/// Keeps `connections` clients sending `/work` until `stop` is set (or 60 s at most),
/// counting answers.
fn start_load(
    addr: SocketAddr,
    connections: usize,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let client = reqwest::Client::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut clients = tokio::task::JoinSet::new();
            for _ in 0..connections {
                let (client, stop, answered) = (client.clone(), stop.clone(), answered.clone());
                let url = format!("http://{addr}/work");
                clients.spawn(async move {
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        let request = client.get(&url).send();
                        if let Ok(Ok(_)) = tokio::time::timeout(BOUND, request).await {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            while clients.join_next().await.is_some() {}
        });
    });
}

/// Ten `/_stack` requests under the load of 200 clients each answer within the bound
/// (200, or an error status with a one-line reason), `/_count` answers during and after,
/// and `/work` is served afterwards: a debug route never takes the server down.
#[test]
fn stack_under_load_always_answers_and_the_server_survives() {
    let addr = start_server();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let failures = runtime.block_on(async {
        // 5 000 parked tasks first: every dump has something to trace.
        for _ in 0..5_000 {
            get_within(&client, &format!("{base}/leak"), BOUND)
                .await
                .unwrap();
        }
        start_load(addr, 200, Arc::clone(&stop), Arc::clone(&answered));
        // Wait until the load really runs.
        let started = Instant::now();
        while answered.load(Ordering::Relaxed) < 2_000
            && started.elapsed() < Duration::from_secs(20)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut failures = Vec::new();
        for i in 0..10 {
            // The default report, and tokio's dump asked for explicitly (allowed on this
            // server), alternately.
            let path = if i % 2 == 0 {
                "/_stack"
            } else {
                "/_stack?trace=tokio"
            };
            match get_within(&client, &format!("{base}{path}"), BOUND).await {
                Ok((200, body, _)) if path == "/_stack" && leak_probe::runtime::HAS_REGISTRY => {
                    assert!(body.contains("runtime not paused"), "{body}");
                    assert!(body.contains("5000 task(s)"), "the leaked tasks: {body}");
                }
                // Without tokio_unstable: the count, and what is missing.
                Ok((200, body, _)) if path == "/_stack" => {
                    assert!(body.contains("no tokio_unstable"), "{body}");
                }
                Ok((200, body, _)) => assert!(body.contains("task(s)"), "{path}: {body}"),
                Ok((status, body, _)) => {
                    // Only tokio's dump may be refused: 503 with a one-line reason.
                    assert_eq!((path, status), ("/_stack?trace=tokio", 503), "{body}");
                    assert_eq!(body.trim().lines().count(), 1, "{body}");
                    assert!(body.starts_with("runtime busy"), "{body}");
                }
                Err(e) => failures.push(e),
            }
            if let Err(e) = get_within(&client, &format!("{base}/_count"), BOUND).await {
                failures.push(e);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for path in ["/_count", "/work"] {
            match get_within(&client, &format!("{base}{path}"), Duration::from_secs(2)).await {
                Ok((200, _, _)) => {}
                Ok((status, body, _)) => failures.push(format!("{path}: {status} {body}")),
                Err(e) => failures.push(e),
            }
        }
        failures
    });
    assert!(
        failures.is_empty(),
        "the server must answer every request within {BOUND:?}:\n{}",
        failures.join("\n")
    );
    assert!(answered.load(Ordering::Relaxed) > 2_000, "the load ran");
}
