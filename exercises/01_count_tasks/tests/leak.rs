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

/// Ten greetings leave no task behind, and `/_count` tells the live task count: it
/// follows tasks that come and go.
#[test]
fn greetings_leave_no_task_behind() {
    let counts = LeakCheck::new()
        .check_threads()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let app = exercise::app();
            let before = get(&app, "/_count").await;
            for _ in 0..10 {
                assert_eq!(get(&app, "/hello?name=ferris").await, "hello, ferris!");
            }
            let after = get(&app, "/_count").await;
            // Three tasks that wait until told to stop: the count must see them...
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let waiting: Vec<_> = (0..3)
                .map(|_| {
                    let mut stopped = stopped.clone();
                    tokio::spawn(async move {
                        let _ = stopped.wait_for(|&stop| stop).await;
                    })
                })
                .collect();
            let with_three = get(&app, "/_count").await;
            // ... and see them go.
            stop.send_replace(true);
            for task in waiting {
                task.await.unwrap();
            }
            let without = get(&app, "/_count").await;
            [before, after, with_three, without]
        });
    // Reached once nothing leaks: did `/_count` tell the truth?
    assert_eq!(
        counts,
        ["0", "0", "3", "0"].map(String::from),
        "GET /_count should answer the runtime's live task count, a bare integer \
         (read before the greetings, after them, with three tasks waiting, after they ended)"
    );
    assert!(
        exercise::visits() >= 10,
        "every greeting is still counted as a visit"
    );
}
