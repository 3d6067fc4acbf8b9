//! tokio's own task dump (`/_stack?trace=tokio`, the leak check's traces) in a row on a
//! runtime with many tasks neither hangs nor fails. (A dump wakes every task it traced, so
//! the run queues are long right after one; tokio's dump spins for ever if it starts
//! then. leak-probe waits for a quiet runtime first, and refuses on a busy one.)

use std::time::Duration;

use leak_probe::report::{self, ReportError, ReportOptions, TraceSource};

fn tokio_dump() -> ReportOptions {
    ReportOptions {
        source: TraceSource::TokioDump,
        ..ReportOptions::default()
    }
}

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
                let report = report::current(&tokio_dump()).await.unwrap();
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

/// Dumps asked for while thousands of tasks keep waking (their run queues are long all
/// the time) are refused with the reason, at once. Never a hang.
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
            let mut refusals = Vec::new();
            for _ in 0..5 {
                refusals.push(
                    report::current(&tokio_dump())
                        .await
                        .map(|r| r.traces_captured),
                );
            }
            let _ = done.send(refusals);
        });
        runtime.shutdown_background();
    });
    let refusals = finished
        .recv_timeout(Duration::from_secs(120))
        .expect("five reports finish (a hung dump spins for ever)");
    for refusal in &refusals {
        match refusal {
            Err(ReportError::RuntimeBusy(why)) => assert!(why.starts_with("runtime busy"), "{why}"),
            // Without task dumps there is nothing to refuse: a report without traces.
            Ok(false) if !leak_probe::runtime::HAS_TASK_DUMPS => {}
            other => panic!("a busy runtime is never dumped: {other:?}"),
        }
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
        let opts = tokio_dump();
        let (first, second) = tokio::join!(report::current(&opts), report::current(&opts));
        assert!(first.unwrap().traces_captured, "the first dump runs");
        assert_eq!(second.unwrap_err(), ReportError::Busy);
        assert!(
            report::current(&opts).await.is_ok(),
            "the slot is free again"
        );
    });
    runtime.shutdown_background();
}
