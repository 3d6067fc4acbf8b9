//! The leak test of exercise 1 (the exercise and its solution run this same file).

use axum::body::Body;
use axum::http::Request;
use leak_probe::LeakCheck;
use std::time::Duration;
use tower::ServiceExt;

async fn get(app: &axum::Router, path: &str) -> String {
    let response = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    String::from_utf8_lossy(&body).into_owned()
}

/// Ten greetings leave no task behind, and `/_count` tells the live task count.
#[test]
fn greetings_leave_no_task_behind() {
    let (before, after) = LeakCheck::new()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let app = exercise::app();
            let before = get(&app, "/_count").await;
            for _ in 0..10 {
                assert_eq!(get(&app, "/hello?name=ferris").await, "hello, ferris!");
            }
            let after = get(&app, "/_count").await;
            (before, after)
        });
    // Reached once nothing leaks: did `/_count` tell the truth?
    assert_eq!(
        before, "0",
        "GET /_count should answer the live task count, a bare integer"
    );
    assert_eq!(
        after, "0",
        "GET /_count should answer the live task count, a bare integer"
    );
    assert!(exercise::visits() >= 10);
}
