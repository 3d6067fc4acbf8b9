//! The leak check's own tests: it catches every leak pattern the servers show, names the
//! spawn site, and stays quiet on clean code, HTTP connections that are still closing
//! included.

use std::sync::Arc;
use std::time::Duration;

use leak_probe::LeakCheck;
use tokio::sync::{Notify, mpsc, oneshot, watch};

/// A short settle window: leaks are forever, so waiting longer proves nothing more.
fn check() -> LeakCheck {
    LeakCheck::new().settle(Duration::from_millis(300))
}

/// Asserts that `result` is a leak of exactly `n` tasks, all spawned in this file.
#[track_caller]
fn assert_leak<T: std::fmt::Debug>(result: Result<T, leak_probe::Leak>, n: usize) -> String {
    let leak = result.expect_err("the leak check should have failed");
    let text = leak.to_string();
    assert_eq!(leak.leaked(), n, "{text}");
    if leak_probe::runtime::HAS_REGISTRY {
        let report = leak.report();
        assert_eq!(report.reported_tasks, n, "{text}");
        for group in &report.groups {
            assert!(
                group
                    .spawned_at
                    .starts_with("leak-probe/tests/leak_check.rs:"),
                "spawn site should point into this test file: {text}"
            );
        }
    }
    text
}

/// A full bounded channel whose receiver is alive but never read blocks its sender forever.
#[test]
fn catches_a_send_that_nobody_receives() {
    let text = assert_leak(
        check().try_run(|| async {
            let (tx, rx) = mpsc::channel::<u32>(1);
            tx.send(1).await.unwrap(); // the buffer is full now
            tokio::spawn(async move {
                let _ = tx.send(2).await;
            });
            rx // the receiver outlives the body: returned, never read
        }),
        1,
    );
    if leak_probe::runtime::HAS_TASK_DUMPS {
        assert!(
            text.contains("Sender<T>::send"),
            "trace should show the send: {text}"
        );
    }
}

/// A `select!` loop whose live branch waits on a sender that is kept alive elsewhere.
#[test]
fn catches_a_for_select_with_no_exit() {
    assert_leak(
        check().try_run(|| async {
            let (config, mut rx) = watch::channel(0u64);
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        Ok(()) = rx.changed() => {}
                        else => break,
                    }
                }
            });
            config // the sender outlives the body
        }),
        1,
    );
}

/// `while let Some(x) = rx.recv().await` with a sender clone kept alive.
#[test]
fn catches_a_receive_loop_whose_sender_lives_on() {
    assert_leak(
        check().try_run(|| async {
            let (tx, mut rx) = mpsc::channel::<u32>(8);
            tokio::spawn(async move { while rx.recv().await.is_some() {} });
            tx.send(1).await.unwrap();
            tx // a clone kept "for later"
        }),
        1,
    );
}

/// leaktest's own example: a sleep loop with its handle dropped.
#[test]
fn catches_a_sleep_loop() {
    let text = assert_leak(
        check().try_run(|| async {
            tokio::spawn(async {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            });
        }),
        1,
    );
    if leak_probe::runtime::HAS_TASK_DUMPS {
        assert!(
            text.contains("Sleep"),
            "trace should show the sleep: {text}"
        );
    }
}

/// A call with no timeout to something that never answers.
#[test]
fn catches_a_call_without_a_timeout() {
    assert_leak(
        check().try_run(|| async {
            let upstream = Arc::new(Notify::new());
            let (tx, rx) = oneshot::channel::<()>();
            let call = Arc::clone(&upstream);
            tokio::spawn(async move {
                call.notified().await;
                let _ = tx.send(());
            });
            // The caller gives up; the call does not.
            let _ = tokio::time::timeout(Duration::from_millis(20), rx).await;
            upstream
        }),
        1,
    );
}

/// Work spawned for a caller that went away, stuck on a hand-over afterwards.
#[test]
fn catches_work_that_outlives_its_caller() {
    assert_leak(
        check().try_run(|| async {
            let acknowledged = Arc::new(Notify::new());
            let ack = Arc::clone(&acknowledged);
            let caller = tokio::spawn(async move {
                let (tx, rx) = oneshot::channel();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = tx.send(());
                    ack.notified().await;
                });
                let _ = rx.await;
            });
            tokio::time::sleep(Duration::from_millis(5)).await; // the work has started
            caller.abort(); // the client gives up
            let _ = caller.await;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }),
        1,
    );
}

/// `notify_waiters()` before anyone waits stores no permit: the wake-up is lost.
#[test]
fn catches_a_lost_notify_wakeup() {
    assert_leak(
        check().try_run(|| async {
            let ready = Arc::new(Notify::new());
            ready.notify_waiters(); // nobody is waiting yet: lost
            let waiter = Arc::clone(&ready);
            tokio::spawn(async move { waiter.notified().await });
            ready
        }),
        1,
    );
}

/// Several leaks from two sites come out as two groups with their counts.
#[test]
fn groups_leaks_by_spawn_site_with_counts() {
    let leak = check()
        .try_run(|| async {
            for _ in 0..5 {
                tokio::spawn(std::future::pending::<()>());
            }
            for _ in 0..2 {
                tokio::spawn(async { tokio::time::sleep(Duration::from_secs(3600)).await });
            }
        })
        .unwrap_err();
    assert_eq!(leak.leaked(), 7);
    if leak_probe::runtime::HAS_REGISTRY {
        let counts: Vec<usize> = leak.report().groups.iter().map(|g| g.count).collect();
        assert_eq!(counts, vec![5, 2], "{leak}");
        let text = leak.to_string();
        assert!(text.contains("5 task(s) [age"), "{text}");
        assert!(text.contains("2 task(s) [age"), "{text}");
    }
}

/// Clean code passes: joined tasks, a JoinSet, aborted tasks, a closed channel.
#[test]
fn passes_clean_code() {
    check().run(|| async {
        tokio::spawn(async { 1 }).await.unwrap();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..10 {
            set.spawn(async move { i });
        }
        while set.join_next().await.is_some() {}
        let sleeper = tokio::spawn(tokio::time::sleep(Duration::from_secs(3600)));
        sleeper.abort();
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        tx.send(1).await.unwrap();
        // `tx` dropped: the loop ends, a moment after the body returns. Settling covers it.
    });
}

/// An HTTP server and client that were just used: connection tasks on both sides close
/// asynchronously after the body returns. That is no leak.
#[test]
fn passes_http_connections_that_are_still_closing() {
    check().settle(Duration::from_secs(3)).run(|| async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        // Keep-alive connections: the client pools them, the server keeps a task each.
        let client = reqwest::Client::new();
        for _ in 0..20 {
            let body = client.get(format!("http://{addr}/")).send().await.unwrap();
            assert_eq!(body.text().await.unwrap(), "ok");
        }
        drop(client);
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    });
}

/// An ignore rule by spawn site lets known background work outlive the body.
#[test]
fn ignores_tasks_by_spawn_site() {
    if !leak_probe::runtime::HAS_REGISTRY {
        return; // Ignore rules need spawn sites (tokio_unstable).
    }
    let line = line!() + 4;
    check()
        .ignore_spawn_site(format!("tests/leak_check.rs:{line}"))
        .run(|| async {
            tokio::spawn(std::future::pending::<()>()); // known background work
        });
    // ...but only that site.
    let leak = check()
        .ignore_spawn_site("tests/leak_check.rs:1")
        .try_run(|| async {
            tokio::spawn(std::future::pending::<()>());
        })
        .unwrap_err();
    assert_eq!(leak.leaked(), 1);
}

/// `expect_leaked(n)` fails on fewer and on more than `n`.
#[test]
fn expect_leaked_is_exact() {
    let spawn = |n: usize| {
        move || async move {
            for _ in 0..n {
                tokio::spawn(std::future::pending::<()>());
            }
        }
    };
    check().expect_leaked(3).run(spawn(3));
    assert_eq!(
        check()
            .expect_leaked(3)
            .try_run(spawn(2))
            .unwrap_err()
            .leaked(),
        2
    );
    assert_eq!(
        check()
            .expect_leaked(3)
            .try_run(spawn(4))
            .unwrap_err()
            .leaked(),
        4
    );
}

/// On a current-thread runtime the check catches the leak and names the site, and never
/// takes a task dump (which could panic there, tokio#8391), even with a task that wakes
/// itself.
#[test]
fn catches_leaks_on_the_current_thread_runtime() {
    let leak = check()
        .current_thread()
        .try_run(|| async {
            tokio::spawn(async {
                loop {
                    tokio::task::yield_now().await; // wakes itself
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        })
        .unwrap_err();
    assert_eq!(leak.leaked(), 1);
    let text = leak.to_string();
    if leak_probe::runtime::HAS_REGISTRY {
        assert!(
            text.contains("spawned at leak-probe/tests/leak_check.rs:"),
            "{text}"
        );
        assert!(text.contains("tokio#8391"), "{text}");
    }
    check().current_thread().run(|| async {
        tokio::spawn(async {}).await.unwrap();
    });
}

/// Checks on parallel threads see only their own tasks: counts are per runtime.
#[test]
fn parallel_checks_do_not_see_each_other() {
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                check().try_run(|| async move {
                    // Every check spawns plenty; only the odd ones leak, one task each.
                    for _ in 0..50 {
                        tokio::spawn(tokio::time::sleep(Duration::from_millis(5)));
                    }
                    if i % 2 == 1 {
                        tokio::spawn(std::future::pending::<()>());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                })
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let result = t.join().unwrap();
        if i % 2 == 1 {
            assert_eq!(result.unwrap_err().leaked(), 1, "check {i}");
        } else {
            result
                .unwrap_or_else(|leak| panic!("check {i} saw a leak that is not its own: {leak}"));
        }
    }
}
