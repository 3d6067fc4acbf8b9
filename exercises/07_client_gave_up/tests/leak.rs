//! The leak test of exercise 7 (the exercise and its solution run this same file).

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use leak_probe::LeakCheck;
use tower::ServiceExt;

/// Clients who wait get their report; clients who leave leave no work behind.
#[test]
fn work_stops_when_the_client_leaves() {
    LeakCheck::new()
        .settle(Duration::from_millis(300))
        .run(|| async {
            let app = exercise::app();
            let request = |ms: u64| {
                Request::get(format!("/report?ms={ms}"))
                    .body(Body::empty())
                    .unwrap()
            };

            let response = app.clone().oneshot(request(5)).await.unwrap();
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            assert_eq!(
                body.split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count(),
                5
            );

            // Three clients who give up after 20 ms on a 5 s report: hyper drops the handler.
            for _ in 0..3 {
                let gave_up = tokio::time::timeout(
                    Duration::from_millis(20),
                    app.clone().oneshot(request(5000)),
                )
                .await;
                assert!(gave_up.is_err());
            }
        });
}
