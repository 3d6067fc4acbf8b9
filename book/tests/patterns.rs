//! The patterns of the chapters "Don't spawn first" and "Choosing a fix", each proved by a
//! leak check. The book includes them by anchor.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use leak_probe::LeakCheck;
use tokio::task::JoinSet;

async fn half_sum(s: &[i64]) -> i64 {
    tokio::task::yield_now().await;
    s.iter().sum()
}

// ANCHOR: join
/// The blog's concurrent sum with no task at all: two futures, run concurrently by
/// `join!`, owned by this function. Nothing can outlive it, and there is no channel.
async fn sum_concurrent(s: &[i64]) -> i64 {
    let (x, y) = tokio::join!(half_sum(&s[..s.len() / 2]), half_sum(&s[s.len() / 2..]));
    x + y
}
// ANCHOR_END: join

#[test]
fn join_runs_both_halves_and_leaves_nothing() {
    LeakCheck::new().run(|| async {
        for _ in 0..50 {
            assert_eq!(sum_concurrent(&[7, 2, 8, -9, 4, 0]).await, 12);
        }
        assert_eq!(leak_probe::live_tasks(), 0, "join! spawns nothing");
    });
}

async fn mirror(index: usize, ms: u64) -> usize {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    index
}

// ANCHOR: select_first
/// First reply wins, structured: `select!` polls both futures and drops the loser the
/// moment the winner is ready. The slow mirror's request is cancelled, not left waiting.
async fn first_reply() -> usize {
    tokio::select! {
        i = mirror(0, 5) => i,
        i = mirror(1, 60_000) => i,
    }
}
// ANCHOR_END: select_first

#[test]
fn select_drops_the_loser() {
    LeakCheck::new().run(|| async {
        assert_eq!(first_reply().await, 0);
    });
}

async fn probe(host: u64) -> Result<u64, String> {
    tokio::time::sleep(Duration::from_millis(host)).await;
    if host == 13 {
        Err(format!("host {host} is down"))
    } else {
        Ok(host)
    }
}

// ANCHOR: try_join
/// Every probe at once; the first error is the answer, and returning it drops (cancels)
/// every probe still running.
async fn all_up(hosts: &[u64]) -> Result<Vec<u64>, String> {
    futures_util::future::try_join_all(hosts.iter().map(|&h| probe(h))).await
}
// ANCHOR_END: try_join

#[test]
fn try_join_cancels_the_rest_on_the_first_error() {
    LeakCheck::new().run(|| async {
        assert_eq!(all_up(&[1, 2]).await, Ok(vec![1, 2]));
        let started = Instant::now();
        assert_eq!(all_up(&[13, 60_000]).await, Err("host 13 is down".into()));
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

// ANCHOR: futures_unordered
/// Many requests at once, handled as they finish; at most the first `n` answers are
/// kept, and returning drops the rest of the set: nothing outlives the call.
async fn first_answers(n: usize, delays: &[u64]) -> Vec<u64> {
    let mut pending: FuturesUnordered<_> = delays.iter().map(|&ms| probe(ms)).collect();
    let mut answers = Vec::new();
    while let Some(answer) = pending.next().await {
        answers.extend(answer.ok());
        if answers.len() == n {
            break;
        }
    }
    answers
}
// ANCHOR_END: futures_unordered

#[test]
fn futures_unordered_drops_what_was_not_needed() {
    LeakCheck::new().run(|| async {
        assert_eq!(first_answers(2, &[30, 1, 60_000, 2]).await, vec![1, 2]);
    });
}

// ANCHOR: joinset_scope
/// When work must run in parallel on several threads (CPU-heavy parts), spawn it into a
/// `JoinSet` owned by the caller: the set is the scope. Returning, or being dropped by a
/// caller who gave up, aborts whatever is still running in it.
async fn checksums(parts: Vec<Vec<u8>>) -> u64 {
    let mut scope = JoinSet::new();
    for part in parts {
        scope.spawn(async move { part.iter().map(|&b| u64::from(b)).sum::<u64>() });
    }
    let mut total = 0;
    while let Some(sum) = scope.join_next().await {
        total += sum.expect("a checksum does not panic");
    }
    total
}
// ANCHOR_END: joinset_scope

#[test]
fn a_joinset_is_a_scope() {
    LeakCheck::new().run(|| async {
        assert_eq!(
            checksums(vec![vec![1, 2], vec![3], vec![4, 5, 6]]).await,
            21
        );
        // A caller who gives up: the set, and its tasks, go with the dropped future.
        let slow = async {
            let mut scope = JoinSet::new();
            scope.spawn(tokio::time::sleep(Duration::from_secs(60)));
            scope.join_next().await
        };
        assert!(
            tokio::time::timeout(Duration::from_millis(10), slow)
                .await
                .is_err()
        );
    });
}

// ANCHOR: abort_at_await
/// `abort()` takes effect when the task next reaches an `.await`: a task that computes
/// without one keeps running until it does.
async fn abort_waits_for_an_await() -> (bool, bool) {
    let stop_spinning = Arc::new(AtomicBool::new(false));
    let spinning = Arc::clone(&stop_spinning);
    let task = tokio::spawn(async move {
        // No `.await` in this loop: nothing can interrupt it.
        while !spinning.load(Ordering::Relaxed) {
            std::hint::spin_loop();
        }
        tokio::task::yield_now().await; // the first `.await`: here the abort lands
        unreachable!("aborted before this line");
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    task.abort();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let still_running = !task.is_finished();
    stop_spinning.store(true, Ordering::Relaxed);
    let cancelled = task.await.is_err_and(|e| e.is_cancelled());
    (still_running, cancelled)
}
// ANCHOR_END: abort_at_await

#[test]
fn abort_lands_at_the_next_await() {
    let (still_running, cancelled) = LeakCheck::new().run(abort_waits_for_an_await);
    assert!(
        still_running,
        "an abort does not interrupt code between awaits"
    );
    assert!(cancelled, "it lands at the next await");
}

// ANCHOR: cancel_safety
/// Cancel safety: a future dropped at an `.await` loses what it held. This reader
/// collects a message in pieces; when the timeout drops it mid-message, the pieces it
/// had taken from the channel are gone with it.
async fn read_message(pieces: &mut tokio::sync::mpsc::Receiver<&'static str>) -> String {
    let mut message = String::new();
    while let Some(piece) = pieces.recv().await {
        message.push_str(piece);
        if piece.ends_with('.') {
            break;
        }
    }
    message
}
// ANCHOR_END: cancel_safety

#[test]
fn a_dropped_reader_loses_what_it_held() {
    LeakCheck::new().run(|| async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        tx.send("hello, ").await.unwrap();
        // The end of the message comes late: the timeout drops the reader mid-message.
        let first = tokio::time::timeout(Duration::from_millis(20), read_message(&mut rx)).await;
        assert!(first.is_err());
        tx.send("world.").await.unwrap();
        // "hello, " was taken from the channel by the dropped reader, and is lost.
        assert_eq!(read_message(&mut rx).await, "world.");
    });
}

// ANCHOR: blind_spot
/// `spawn_blocking` work is invisible to the task count: the leak check passes while
/// the blocking closure still runs. `check_threads` sees the thread it runs on.
fn blocking_work_outlives_the_check(check_threads: bool) -> bool {
    let stop = Arc::new(AtomicBool::new(false));
    let still_working = Arc::clone(&stop);
    let mut check = LeakCheck::new().settle(Duration::from_millis(200));
    if check_threads {
        check = check.check_threads();
    }
    let result = check.try_run(|| async move {
        // Fire and forget: the handle is dropped, the closure goes on.
        drop(tokio::task::spawn_blocking(move || {
            while !still_working.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }));
    });
    stop.store(true, Ordering::Relaxed);
    result.is_ok()
}
// ANCHOR_END: blind_spot

/// The blind spot, and the thread check that closes it. (It counts the process's threads,
/// so it runs in a child process of this test binary, alone.)
#[test]
fn spawn_blocking_is_invisible_to_the_task_count() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "blind_spot_alone",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by spawn_blocking_is_invisible_to_the_task_count, in a process of its own"]
fn blind_spot_alone() {
    assert!(
        blocking_work_outlives_the_check(false),
        "the task count does not see it"
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !blocking_work_outlives_the_check(true),
        "the thread check does"
    );
}

/// A counter the timeout example below uses.
static CALLS: AtomicU64 = AtomicU64::new(0);

async fn upstream() -> u64 {
    CALLS.fetch_add(1, Ordering::Relaxed);
    std::future::pending().await
}

// ANCHOR: timeout_call
/// Bound the call itself: when the timeout fires, the call's future is dropped, and with
/// it everything it was waiting on. No task, nothing left behind.
async fn price() -> Option<u64> {
    tokio::time::timeout(Duration::from_millis(50), upstream())
        .await
        .ok()
}
// ANCHOR_END: timeout_call

#[test]
fn a_timeout_around_the_call_leaves_nothing() {
    LeakCheck::new().run(|| async {
        assert_eq!(price().await, None);
        assert_eq!(CALLS.load(Ordering::Relaxed), 1);
    });
}
