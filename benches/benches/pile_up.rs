//! Bench 2: does a leak slow each request, or only eat memory?
//!
//! leaky-server's sum latency (L1) (in-process) after 0, 10k and 100k leaked tasks. Two
//! kinds of leak pile up differently:
//!
//! * **parked** (the sum route's own leak, L1): a task waiting on a `Notify` costs memory, and no
//!   CPU: the scheduler never looks at it again;
//! * **ticking** (`/heartbeat`'s leak): a task that wakes every 100 ms costs CPU on every
//!   tick, for ever. 10k of them are 100k wake-ups a second.
//!
//! Each bench id names the live task count when its measurement started.

use std::time::Duration;

use benches::{get, load_in_process, runtime, size, wait_for_live_tasks};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use scenarios::Tag;

fn parked(c: &mut Criterion) {
    let rt = runtime(true);
    let app = leaky_server::app(leaky_server::AppState::new());
    let mut group = c.benchmark_group("pile-up/parked (leaky L1 after N leaked L1 tasks)");
    for target in [0, size(10_000, 100), size(100_000, 1000)] {
        let live = rt.block_on(async {
            // The benches before leaked some too (one task per iteration): top up.
            let have = leak_probe::live_tasks();
            load_in_process(&app, Tag::L1.route(), target.saturating_sub(have)).await;
            wait_for_live_tasks(target).await
        });
        group.bench_function(BenchmarkId::new("sum", format!("{live} live tasks")), |b| {
            b.to_async(&rt).iter(|| async {
                let (status, _) = get(&app, Tag::L1.route()).await;
                assert_eq!(status, 200);
            });
        });
    }
    group.finish();
}

fn ticking(c: &mut Criterion) {
    let mut group = c.benchmark_group("pile-up/ticking (leaky L1 after N leaked L4 heartbeats)");
    for target in [0, size(1_000, 10), size(10_000, 100)] {
        // A fresh runtime per size: ticking leaks cannot be taken back.
        let rt = runtime(true);
        let app = leaky_server::app(leaky_server::AppState::new());
        let live = rt.block_on(async {
            load_in_process(&app, Tag::L4.route(), target).await;
            wait_for_live_tasks(target).await
        });
        group.bench_function(
            BenchmarkId::new("sum", format!("{live} ticking tasks")),
            |b| {
                b.to_async(&rt).iter(|| async {
                    let (status, _) = get(&app, Tag::L1.route()).await;
                    assert_eq!(status, 200);
                });
            },
        );
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! {
    name = benches;
    config = config();
    targets = parked, ticking
}
criterion_main!(benches);
