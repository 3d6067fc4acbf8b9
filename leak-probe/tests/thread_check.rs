//! `LeakCheck::check_threads` and the failure record. The checks run in a child process
//! of this test binary (the ignored test below): the thread check counts the whole
//! process's threads, and the record is named by an environment variable, so nothing may
//! run beside them.

use std::time::Duration;

use leak_probe::LeakCheck;

#[test]
fn threads_left_running_fail_the_check_and_failures_are_recorded() {
    let record = std::env::temp_dir().join(format!("leak-probe-failures-{}", std::process::id()));
    let _ = std::fs::remove_file(&record);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "checks_in_a_process_of_their_own",
            "--test-threads=1",
        ])
        .env("LEAK_PROBE_FAILURES", &record)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran"
    );

    let lines = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), 2, "one line per failed check: {lines:?}");
    assert_eq!(lines[0], "leak check failed: 1 OS thread(s) left running");
    assert!(
        lines[1].starts_with("leak check failed: 1 task(s) at "),
        "{}",
        lines[1]
    );
    if leak_probe::runtime::HAS_REGISTRY {
        assert!(
            lines[1].contains("leak-probe/tests/thread_check.rs:"),
            "the spawn site: {}",
            lines[1]
        );
    }
    let _ = std::fs::remove_file(&record);
}

#[test]
#[ignore = "run by the test above, in a process of its own"]
fn checks_in_a_process_of_their_own() {
    // Work hidden in an OS thread: the task count sees nothing.
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let result = LeakCheck::new()
        .settle(Duration::from_millis(200))
        .check_threads()
        .try_run(|| async move {
            std::thread::spawn(move || {
                let _ = stopped.recv();
            });
        });
    let leak = result.expect_err("a thread left running fails the check");
    let message = leak.to_string();
    assert!(
        message.starts_with("leak check failed: 1 OS thread(s) started by the test body"),
        "{message}"
    );
    assert!(
        message.contains("std::thread::spawn or spawn_blocking"),
        "{message}"
    );
    drop(stop);

    // Without `check_threads` the same body passes: the blind spot the option closes.
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    LeakCheck::new()
        .settle(Duration::from_millis(200))
        .run(|| async move {
            std::thread::spawn(move || {
                let _ = stopped.recv();
            });
        });
    drop(stop);
    std::thread::sleep(Duration::from_millis(100));

    // A thread that ends within the settle window is fine.
    LeakCheck::new()
        .settle(Duration::from_millis(500))
        .check_threads()
        .run(|| async {
            std::thread::spawn(|| std::thread::sleep(Duration::from_millis(20)));
        });

    // A task leak is recorded with its spawn site.
    let leak = LeakCheck::new()
        .settle(Duration::from_millis(100))
        .try_run(|| async {
            tokio::spawn(std::future::pending::<()>());
        })
        .unwrap_err();
    assert_eq!(leak.leaked(), 1);
}
