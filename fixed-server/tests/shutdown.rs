//! fixed-server's graceful shutdown: requests that can finish within the deadline do;
//! requests still running at the deadline are cancelled (503); and when `serve` returns,
//! nothing the server started is left running.

use std::time::{Duration, Instant};

use fixed_server::Config;
use leak_probe::LeakCheck;
use tokio::net::TcpListener;

/// Two slow requests in flight at the signal: one finishes in time, one is cancelled.
#[test]
fn graceful_shutdown_drains_then_cancels_within_its_deadline() {
    let deadline = Duration::from_millis(500);
    LeakCheck::new().run(|| async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(fixed_server::serve_with(
            listener,
            async {
                let _ = stopped.await;
            },
            Config {
                shutdown_timeout: deadline,
                ..Config::default()
            },
        ));

        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        // Finishes 300 ms in: within the deadline.
        let quick = tokio::spawn(client.get(format!("{origin}/abandon?ms=300")).send());
        // Would take 10 s: cancelled at the deadline.
        let slow = tokio::spawn(client.get(format!("{origin}/abandon?ms=10000")).send());
        // Many idle tasks the server started (heartbeats end with their requests).
        tokio::time::sleep(Duration::from_millis(50)).await;

        let signalled = Instant::now();
        stop.send(()).unwrap();

        let quick = quick.await.unwrap().unwrap();
        assert_eq!(quick.status(), 200);
        assert_eq!(quick.text().await.unwrap(), "worked 300 ms\n");

        let slow = slow.await.unwrap().unwrap();
        assert_eq!(slow.status(), 503);
        assert_eq!(
            slow.text().await.unwrap(),
            "the server is shutting down and cancelled this request\n"
        );

        let report = server.await.unwrap().unwrap();
        let took = signalled.elapsed();
        assert!(!report.drained, "{report:?}");
        assert_eq!(report.left_running, 0, "{report:?}");
        assert_eq!(report.requests_in_flight, 2, "{report:?}");
        assert_eq!(report.requests_cancelled, 1, "{report:?}");
        assert!(
            took < deadline + Duration::from_millis(400),
            "shutdown took {took:?} for a {deadline:?} deadline"
        );

        // New connections are refused once the server is gone.
        assert!(client.get(format!("{origin}/_count")).send().await.is_err());
        // The LeakCheck around this body proves no task is left.
    });
}

/// With nothing slow in flight, shutdown is immediate and everything drains.
#[test]
fn shutdown_without_slow_requests_drains_at_once() {
    LeakCheck::new().run(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(fixed_server::serve_with(
            listener,
            async {
                let _ = stopped.await;
            },
            Config::default(),
        ));
        let client = reqwest::Client::new();
        for path in ["/sum", "/select", "/range", "/heartbeat"] {
            let answer = client.get(format!("{origin}{path}")).send().await.unwrap();
            assert_eq!(answer.text().await.unwrap(), "12");
        }
        drop(client);
        stop.send(()).unwrap();
        let report = server.await.unwrap().unwrap();
        assert!(report.drained, "{report:?}");
        assert_eq!(report.left_running, 0, "{report:?}");
        assert!(report.took < Duration::from_secs(1), "{report:?}");
    });
}
