//! The request timeout's sweeper, alone in its test binary: it counts the process's
//! threads by name, so no other test may run a server beside it.

mod common;

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::{call, get_req};
use leak_probe::LeakCheck;
use scenarios::harden::{InFlight, Limits, harden};

/// The request timeout needs no timer per request: one sweeper thread watches every
/// request that waits, it ends once none does, and it adds no task to the server's count.
#[test]
fn one_sweeper_watches_all_waiting_requests_and_ends_with_them() {
    /// Threads of this process named like the sweeper (Linux: from /proc).
    fn sweepers() -> usize {
        let Ok(threads) = std::fs::read_dir("/proc/self/task") else {
            return 0;
        };
        threads
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
            .filter(|name| name.trim() == scenarios::harden::SWEEPER_THREAD)
            .count()
    }
    LeakCheck::new().run(|| async {
        let (release, released) = tokio::sync::watch::channel(false);
        let (entered, mut inside) = tokio::sync::mpsc::channel::<()>(64);
        let app = harden(
            Router::new().route(
                "/wait",
                get(move || async move {
                    let _ = entered.send(()).await;
                    let _ = released.clone().wait_for(|go| *go).await;
                    "done"
                }),
            ),
            Limits::default(),
            &InFlight::default(),
        );
        let before = leak_probe::live_tasks();
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { call(&app, get_req("/wait")).await })
            })
            .collect();
        for _ in 0..50 {
            inside.recv().await.unwrap();
        }
        assert_eq!(
            leak_probe::live_tasks(),
            before + 50,
            "the 50 callers, no more"
        );
        if cfg!(target_os = "linux") {
            assert_eq!(sweepers(), 1, "one sweeper for the 50 waiting requests");
        }
        release.send(true).unwrap();
        for call in calls {
            assert_eq!(call.await.unwrap(), (StatusCode::OK, "done".into()));
        }
        // The sweeper ends at its next tick (a tenth of a second) that finds nobody.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while sweepers() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(sweepers(), 0, "the sweeper ended");
    });
}
