//! Dumps in a row on a runtime with many tasks neither hang nor fail. (A dump wakes every
//! task it traced, so the run queues are long right after one; tokio's dump spins for
//! ever if it starts then. `report::current` waits for short queues first.)

use std::time::Duration;

use leak_probe::report::{self, ReportOptions};

/// These tests run one at a time: each keeps both cores busy, and tokio's dump gives up
/// its rendezvous of workers after 250 ms, which starved workers can miss (the dump then
/// never completes, and leak-probe's timeout answers instead). That is tokio's limit,
/// not what these tests are about.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Ten full reports in a row over 20k tasks finish, each with every task counted.
#[test]
fn dumps_in_a_row_do_not_hang() {
    let _serial = serial();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        let runtime = leak_probe::runtime::build(builder).unwrap();
        runtime.block_on(async {
            for _ in 0..20_000 {
                tokio::spawn(async { tokio::time::sleep(Duration::from_secs(3600)).await });
            }
            let mut reported = Vec::new();
            for _ in 0..10 {
                let report = report::current(&ReportOptions::default()).await.unwrap();
                reported.push(report.reported_tasks);
            }
            let _ = done.send(reported);
        });
        runtime.shutdown_background();
    });
    let reported = finished
        .recv_timeout(Duration::from_secs(120))
        .expect("ten reports in a row finish (a hung dump spins for ever)");
    if leak_probe::runtime::HAS_REGISTRY {
        assert!(reported.iter().all(|&n| n >= 20_000), "{reported:?}");
    }
}

/// Dumps while thousands of tasks keep waking (their run queues are long all the time)
/// end: either with traces, or, if the queues never get short, by saying so. Never a hang.
#[test]
fn dumps_while_tasks_keep_waking_do_not_hang() {
    let _serial = serial();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        let runtime = leak_probe::runtime::build(builder).unwrap();
        runtime.block_on(async {
            for _ in 0..5_000 {
                tokio::spawn(async {
                    loop {
                        tokio::task::yield_now().await;
                    }
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut notes = Vec::new();
            for _ in 0..5 {
                let report = report::current(&ReportOptions::default()).await.unwrap();
                notes.push((report.traces_captured, report.traces_note));
            }
            let _ = done.send(notes);
        });
        runtime.shutdown_background();
    });
    let notes = finished
        .recv_timeout(Duration::from_secs(120))
        .expect("five reports finish (a hung dump spins for ever)");
    for (captured, note) in &notes {
        let refused = note.as_deref().is_some_and(|n| n.contains("run queues"));
        assert!(
            *captured || refused || !leak_probe::runtime::HAS_TASK_DUMPS,
            "either traces, or the reason none were taken: {note:?}"
        );
    }
}

/// One dump at a time: a second report asked for while a dump runs is refused (the
/// `/_stack` route answers it with 429), and the slot is free again afterwards.
#[test]
fn a_second_dump_while_one_runs_is_refused() {
    let _serial = serial();
    if !leak_probe::runtime::HAS_TASK_DUMPS {
        return; // Without dumps there is nothing to refuse.
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    let runtime = leak_probe::runtime::build(builder).unwrap();
    runtime.block_on(async {
        for _ in 0..5_000 {
            tokio::spawn(async { tokio::time::sleep(Duration::from_secs(3600)).await });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let opts = ReportOptions::default();
        let (first, second) = tokio::join!(report::current(&opts), report::current(&opts));
        assert!(first.is_ok(), "the first dump runs");
        assert_eq!(second.unwrap_err(), report::DumpError::Busy);
        assert!(
            report::current(&opts).await.is_ok(),
            "the slot is free again"
        );
    });
    runtime.shutdown_background();
}
