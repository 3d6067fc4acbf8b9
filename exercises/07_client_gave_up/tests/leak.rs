//! The leak test of exercise 7 (the exercise and its solution run this same file).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use leak_probe::LeakCheck;
use tower::ServiceExt;

fn request(ms: u64) -> Request<Body> {
    Request::get(format!("/report?ms={ms}"))
        .body(Body::empty())
        .unwrap()
}

/// A patient client gets every line, the first long before the last; clients who leave
/// leave no work behind.
#[test]
fn work_stops_when_the_client_leaves() {
    LeakCheck::new()
        .check_threads()
        .settle(Duration::from_millis(300))
        .run(|| async {
            let app = exercise::app();

            // A patient client: 1000 lines, streamed as they are built.
            let started = Instant::now();
            let mut body = app
                .clone()
                .oneshot(request(1000))
                .await
                .unwrap()
                .into_body();
            let first = body.frame().await.expect("a first line").unwrap();
            let first_after = started.elapsed();
            let mut report = first.into_data().unwrap().to_vec();
            while let Some(frame) = body.frame().await {
                report.extend_from_slice(&frame.unwrap().into_data().unwrap());
            }
            let report = String::from_utf8(report).unwrap();
            assert_eq!(
                report.lines().count(),
                1000,
                "every line reaches the client"
            );
            assert_eq!(report.lines().last(), Some("line 999"));
            assert!(
                first_after * 4 < started.elapsed(),
                "the report is streamed: first line after {first_after:?}, all after {:?}",
                started.elapsed()
            );

            // Three clients who read the first line of a 5 s report, then leave.
            for _ in 0..3 {
                let mut body = app
                    .clone()
                    .oneshot(request(5000))
                    .await
                    .unwrap()
                    .into_body();
                body.frame().await.expect("a first line").unwrap();
                drop(body);
            }
        });
}
